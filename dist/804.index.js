export const id = 804;
export const ids = [804];
export const modules = {

/***/ 5804:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

__webpack_require__.r(__webpack_exports__);
/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   MAX_PRESIGN_SECONDS: () => (/* binding */ MAX_PRESIGN_SECONDS),
/* harmony export */   S3ReleaseArtifact: () => (/* binding */ S3ReleaseArtifact)
/* harmony export */ });
/* harmony import */ var _actions_core__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(4116);
/* harmony import */ var _aws_sdk_client_s3__WEBPACK_IMPORTED_MODULE_6__ = __webpack_require__(3711);
/* harmony import */ var _aws_sdk_s3_request_presigner__WEBPACK_IMPORTED_MODULE_7__ = __webpack_require__(8505);
/* harmony import */ var node_crypto__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(7598);
/* harmony import */ var node_crypto__WEBPACK_IMPORTED_MODULE_1___default = /*#__PURE__*/__webpack_require__.n(node_crypto__WEBPACK_IMPORTED_MODULE_1__);
/* harmony import */ var _log_js__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(5625);
/* harmony import */ var _releaser_js__WEBPACK_IMPORTED_MODULE_3__ = __webpack_require__(9337);
/* harmony import */ var _aws_clients_js__WEBPACK_IMPORTED_MODULE_4__ = __webpack_require__(201);
/* harmony import */ var _aws_errors_js__WEBPACK_IMPORTED_MODULE_5__ = __webpack_require__(9378);








/** SigV4 presigned URLs are valid for 7 days at most. */
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;
/** Added to a URL's validity for the instance's clock running behind the runner's. */
const CLOCK_SKEW_SECONDS = 60;
const statusOf = (error) => error?.$metadata?.httpStatusCode;
/**
 * `release-bucket`: the release packed exactly as for SSH (`releaseTarball`), stored once in S3
 * under `<prefix><app>/<release>/<sha256>.tar.gz` with S3's own SHA-256 checksum, and handed to
 * each batch of instances as a presigned GET URL: instances need curl or wget, not the AWS CLI
 * and no S3 permission. The runner needs s3:PutObject and s3:GetObject on the prefix (GetObject
 * covers HeadObject and is what the presigned URL is signed for).
 */
class S3ReleaseArtifact {
    client;
    calls;
    bucket;
    appName;
    releasePath;
    /** One upload per release id for the whole run, however many batches follow. */
    uploads = new Map();
    constructor(client, calls, bucket, appName, releasePath) {
        this.client = client;
        this.calls = calls;
        this.bucket = bucket;
        this.appName = appName;
        this.releasePath = releasePath;
    }
    /**
     * The SDK's standard endpoint settings apply (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_S3`): for an
     * IP address endpoint it addresses buckets by path by itself, and on AWS by virtual host.
     */
    static forRegion(region, calls, bucket, appName, releasePath) {
        return new S3ReleaseArtifact(new _aws_sdk_client_s3__WEBPACK_IMPORTED_MODULE_6__/* .S3Client */ .YxF({ region, maxAttempts: _aws_clients_js__WEBPACK_IMPORTED_MODULE_4__/* .SDK_MAX_ATTEMPTS */ .D3, retryMode: 'adaptive' }), calls, bucket, appName, releasePath);
    }
    async sourceFor(release, validForMs) {
        let upload = this.uploads.get(release);
        if (!upload)
            this.uploads.set(release, (upload = this.upload(release)));
        const { key, sha256 } = await upload;
        const expiresIn = Math.min(MAX_PRESIGN_SECONDS, Math.ceil(validForMs / 1000) + CLOCK_SKEW_SECONDS);
        const url = await this.calls.call('s3:GetObject', () => (0,_aws_sdk_s3_request_presigner__WEBPACK_IMPORTED_MODULE_7__/* .getSignedUrl */ .A)(this.client, new _aws_sdk_client_s3__WEBPACK_IMPORTED_MODULE_6__/* .GetObjectCommand */ .jLs({ Bucket: this.bucket.bucket, Key: key }), { expiresIn }), this.where(key));
        // A bearer credential until it expires: masked in every log line, and kept out of state and summaries.
        _actions_core__WEBPACK_IMPORTED_MODULE_0__/* .setSecret */ .Pq(url);
        _actions_core__WEBPACK_IMPORTED_MODULE_0__/* .info */ .pq(`Instances download ${this.where(key)} through a presigned URL valid for ${(0,_log_js__WEBPACK_IMPORTED_MODULE_2__/* .formatDuration */ .a3)(expiresIn * 1000)}`);
        return { kind: 'url', url, sha256 };
    }
    close() {
        this.client.destroy();
    }
    /** The key for this content: a second deploy of the same files finds it and uploads nothing. */
    keyFor(release, sha256) {
        // Any UTF-8 is a valid key; these characters keep it one readable path segment.
        const segment = release.replace(/[^A-Za-z0-9._-]/g, '_');
        return `${this.bucket.prefix}${this.appName}/${segment}/${sha256}.tar.gz`;
    }
    where(key) {
        return `s3://${this.bucket.bucket}/${key}`;
    }
    async upload(release) {
        const tarball = await (0,_releaser_js__WEBPACK_IMPORTED_MODULE_3__/* .releaseTarball */ .Mf)(this.releasePath);
        const digest = (0,node_crypto__WEBPACK_IMPORTED_MODULE_1__.createHash)('sha256').update(tarball).digest();
        const [sha256, checksum] = [digest.toString('hex'), digest.toString('base64')];
        const key = this.keyFor(release, sha256);
        const found = await this.storedChecksum(key);
        if (found === checksum) {
            _actions_core__WEBPACK_IMPORTED_MODULE_0__/* .info */ .pq(`${this.where(key)} already holds this release (same SHA-256 ${sha256.slice(0, 12)}…): not uploading it again`);
            return { key, sha256 };
        }
        _actions_core__WEBPACK_IMPORTED_MODULE_0__/* .info */ .pq(`Uploading release ${release} (${tarball.length} bytes, SHA-256 ${sha256.slice(0, 12)}…) to ${this.where(key)}${found === 'absent' || found === 'unknown' ? '' : ' (the object there has another checksum: replacing it)'}`);
        // S3 checks the body against ChecksumSHA256 and refuses a corrupted upload; HeadObject reports it back.
        await this.calls.call('s3:PutObject', () => this.client.send(new _aws_sdk_client_s3__WEBPACK_IMPORTED_MODULE_6__/* .PutObjectCommand */ .wKZ({ Bucket: this.bucket.bucket, Key: key, Body: tarball, ChecksumSHA256: checksum, ContentType: 'application/gzip' })), this.where(key));
        // Without s3:ListBucket, S3 answers a HeadObject of a missing object 403, like a denied one:
        // after the upload the object exists, so a 403 now means the URL for the instances would be denied.
        if (found === 'unknown' && (await this.storedChecksum(key)) === 'unknown') {
            throw (0,_aws_errors_js__WEBPACK_IMPORTED_MODULE_5__/* .awsError */ .es)('s3:GetObject', {
                name: 'AccessDenied',
                message: 'HeadObject of the object just uploaded is forbidden, so a presigned URL would be too',
                $metadata: { httpStatusCode: 403 },
            }, { resource: this.where(key) });
        }
        return { key, sha256 };
    }
    /** The object's SHA-256 checksum (base64) as S3 stored it; `absent`; or `unknown` when S3 answers 403. */
    storedChecksum(key) {
        return this.calls.call('s3:GetObject', async () => {
            try {
                return ((await this.client.send(new _aws_sdk_client_s3__WEBPACK_IMPORTED_MODULE_6__/* .HeadObjectCommand */ .l81({ Bucket: this.bucket.bucket, Key: key, ChecksumMode: 'ENABLED' }))).ChecksumSHA256 ?? 'no checksum');
            }
            catch (error) {
                const status = statusOf(error);
                if (status === 404)
                    return 'absent';
                if (status === 403)
                    return 'unknown';
                throw error;
            }
        }, this.where(key));
    }
}


/***/ })

};

//# sourceMappingURL=804.index.js.map