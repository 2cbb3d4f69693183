import * as core from '@actions/core';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { createHash } from 'node:crypto';
import { formatDuration } from '../log.js';
import type { ReleaseSource } from './host-script.js';
import { releaseTarball } from './releaser.js';
import type { ReleaseArtifact } from './ssm.js';
import type { ReleaseBucket } from '../settings.js';
import { SDK_MAX_ATTEMPTS, type AwsCalls } from '../aws/clients.js';
import { awsError } from '../aws/errors.js';

/** SigV4 presigned URLs are valid for 7 days at most. */
export const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;
/** Added to a URL's validity for the instance's clock running behind the runner's. */
const CLOCK_SKEW_SECONDS = 60;

interface Uploaded {
  key: string;
  /** Hex, as the host script checks it. */
  sha256: string;
}

const statusOf = (error: unknown): number | undefined => (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;

/**
 * `release-bucket`: the release packed exactly as for SSH (`releaseTarball`), stored once in S3
 * under `<prefix><app>/<release>/<sha256>.tar.gz` with S3's own SHA-256 checksum, and handed to
 * each batch of instances as a presigned GET URL: instances need curl or wget, not the AWS CLI
 * and no S3 permission. The runner needs s3:PutObject and s3:GetObject on the prefix (GetObject
 * covers HeadObject and is what the presigned URL is signed for).
 */
export class S3ReleaseArtifact implements ReleaseArtifact {
  /** One upload per release id for the whole run, however many batches follow. */
  private readonly uploads = new Map<string, Promise<Uploaded>>();

  constructor(
    private readonly client: S3Client,
    private readonly calls: AwsCalls,
    private readonly bucket: ReleaseBucket,
    private readonly appName: string,
    private readonly releasePath: string,
  ) {}

  /**
   * The SDK's standard endpoint settings apply (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_S3`): for an
   * IP address endpoint it addresses buckets by path by itself, and on AWS by virtual host.
   */
  static forRegion(region: string, calls: AwsCalls, bucket: ReleaseBucket, appName: string, releasePath: string): S3ReleaseArtifact {
    return new S3ReleaseArtifact(new S3Client({ region, maxAttempts: SDK_MAX_ATTEMPTS, retryMode: 'adaptive' }), calls, bucket, appName, releasePath);
  }

  async sourceFor(release: string, validForMs: number): Promise<ReleaseSource> {
    let upload = this.uploads.get(release);
    if (!upload) this.uploads.set(release, (upload = this.upload(release)));
    const { key, sha256 } = await upload;
    const expiresIn = Math.min(MAX_PRESIGN_SECONDS, Math.ceil(validForMs / 1000) + CLOCK_SKEW_SECONDS);
    const url = await this.calls.call(
      's3:GetObject',
      () => getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket.bucket, Key: key }), { expiresIn }),
      this.where(key),
    );
    // A bearer credential until it expires: masked in every log line, and kept out of state and summaries.
    core.setSecret(url);
    core.info(`Instances download ${this.where(key)} through a presigned URL valid for ${formatDuration(expiresIn * 1000)}`);
    return { kind: 'url', url, sha256 };
  }

  close(): void {
    this.client.destroy();
  }

  /** The key for this content: a second deploy of the same files finds it and uploads nothing. */
  keyFor(release: string, sha256: string): string {
    // Any UTF-8 is a valid key; these characters keep it one readable path segment.
    const segment = release.replace(/[^A-Za-z0-9._-]/g, '_');
    return `${this.bucket.prefix}${this.appName}/${segment}/${sha256}.tar.gz`;
  }

  private where(key: string): string {
    return `s3://${this.bucket.bucket}/${key}`;
  }

  private async upload(release: string): Promise<Uploaded> {
    const tarball = await releaseTarball(this.releasePath);
    const digest = createHash('sha256').update(tarball).digest();
    const [sha256, checksum] = [digest.toString('hex'), digest.toString('base64')];
    const key = this.keyFor(release, sha256);
    const found = await this.storedChecksum(key);
    if (found === checksum) {
      core.info(`${this.where(key)} already holds this release (same SHA-256 ${sha256.slice(0, 12)}…): not uploading it again`);
      return { key, sha256 };
    }
    core.info(
      `Uploading release ${release} (${tarball.length} bytes, SHA-256 ${sha256.slice(0, 12)}…) to ${this.where(key)}${found === 'absent' || found === 'unknown' ? '' : ' (the object there has another checksum: replacing it)'}`,
    );
    // S3 checks the body against ChecksumSHA256 and refuses a corrupted upload; HeadObject reports it back.
    await this.calls.call(
      's3:PutObject',
      () =>
        this.client.send(
          new PutObjectCommand({ Bucket: this.bucket.bucket, Key: key, Body: tarball, ChecksumSHA256: checksum, ContentType: 'application/gzip' }),
        ),
      this.where(key),
    );
    // Without s3:ListBucket, S3 answers a HeadObject of a missing object 403, like a denied one:
    // after the upload the object exists, so a 403 now means the URL for the instances would be denied.
    if (found === 'unknown' && (await this.storedChecksum(key)) === 'unknown') {
      throw awsError(
        's3:GetObject',
        {
          name: 'AccessDenied',
          message: 'HeadObject of the object just uploaded is forbidden, so a presigned URL would be too',
          $metadata: { httpStatusCode: 403 },
        },
        { resource: this.where(key) },
      );
    }
    return { key, sha256 };
  }

  /** The object's SHA-256 checksum (base64) as S3 stored it; `absent`; or `unknown` when S3 answers 403. */
  private storedChecksum(key: string): Promise<string> {
    return this.calls.call(
      's3:GetObject',
      async () => {
        try {
          return (
            (await this.client.send(new HeadObjectCommand({ Bucket: this.bucket.bucket, Key: key, ChecksumMode: 'ENABLED' }))).ChecksumSHA256 ?? 'no checksum'
          );
        } catch (error) {
          const status = statusOf(error);
          if (status === 404) return 'absent';
          if (status === 403) return 'unknown';
          throw error;
        }
      },
      this.where(key),
    );
  }
}
