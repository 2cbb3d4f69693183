import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small Amazon S3 over HTTP, on loopback, for the three calls the release artifact makes
 * (PutObject, HeadObject, GetObject), path-style (`/<bucket>/<key>`, as the SDK addresses an IP
 * endpoint). Objects live in memory. Every request must be signed with AWS Signature Version 4 by
 * a known key, in the Authorization header or as a presigned query, and is verified as S3 does it
 * (S3 API reference, "Authenticating Requests (AWS Signature Version 4)"): the canonical request
 * (S3 encodes the path once), the string to sign and the signing key, the payload hash in
 * x-amz-content-sha256, a 15-minute window for header-signed requests, X-Amz-Expires (at most 7
 * days) for presigned ones. Refusals are S3's XML errors (SignatureDoesNotMatch, AccessDenied
 * "Request has expired", InvalidAccessKeyId, RequestTimeTooSkewed, ...); a HEAD gets the status only.
 */

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** Temporary credentials (an assumed role, OIDC): every request must carry this token. */
  sessionToken?: string;
}

export interface S3DoubleOptions {
  /** A loopback address of the test's own range. */
  host: string;
  region: string;
  buckets: string[];
  credentials: S3Credentials;
}

export interface StoredObject {
  body: Buffer;
  contentType: string;
  /** base64, as x-amz-checksum-sha256 carries it, when the upload gave one. */
  checksumSha256?: string;
  lastModified: Date;
}

/** One request as S3 saw it: how it was signed and how it was answered. */
export interface S3Request {
  method: string;
  bucket: string;
  key: string;
  auth: 'header' | 'query' | 'none';
  status: number;
  code?: string;
}

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/** SigV4's URI encoding: every byte but the unreserved characters as %XY (upper case); `/` kept in paths. */
export function awsUriEncode(value: string, keepSlash = false): string {
  let out = '';
  for (const ch of value) {
    if (UNRESERVED.test(ch) || (keepSlash && ch === '/')) out += ch;
    else for (const byte of Buffer.from(ch, 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

const sha256Hex = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string): Buffer => createHmac('sha256', key).update(data, 'utf8').digest();

export interface SignedParts {
  method: string;
  /** The path as sent (percent-encoded). */
  rawPath: string;
  /** The query pairs as sent, decoded; the signature itself left out. */
  query: [string, string][];
  headers: Record<string, string | string[] | undefined>;
  signedHeaders: string[];
  payloadHash: string;
  amzDate: string;
  scope: string;
}

/** The canonical request and the string to sign, exactly as S3 computes them. */
export function stringToSign(parts: SignedParts): { canonicalRequest: string; stringToSign: string } {
  // S3 encodes the path once (other services twice), and does not normalize `.` or `//`.
  const canonicalUri = parts.rawPath
    .split('/')
    .map((segment) => awsUriEncode(decodeURIComponent(segment)))
    .join('/');
  const canonicalQuery = parts.query
    .map(([k, v]) => [awsUriEncode(k), awsUriEncode(v)] as const)
    .sort(([ka, va], [kb, vb]) => (ka < kb ? -1 : ka > kb ? 1 : va < vb ? -1 : va > vb ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const headerValue = (name: string): string => {
    const value = parts.headers[name];
    return (Array.isArray(value) ? value.join(',') : (value ?? '')).trim().replace(/\s+/g, ' ');
  };
  const canonicalHeaders = parts.signedHeaders.map((name) => `${name}:${headerValue(name)}\n`).join('');
  const canonicalRequest = [parts.method, canonicalUri, canonicalQuery, canonicalHeaders, parts.signedHeaders.join(';'), parts.payloadHash].join('\n');
  return { canonicalRequest, stringToSign: ['AWS4-HMAC-SHA256', parts.amzDate, parts.scope, sha256Hex(canonicalRequest)].join('\n') };
}

/** The signature for a string to sign: HMAC over the key derived from the secret, date, region and service. */
export function signatureOf(secretAccessKey: string, scope: string, toSign: string): string {
  const [date = '', region = '', service = ''] = scope.split('/');
  const key = hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, date), region), service), 'aws4_request');
  return createHmac('sha256', key).update(toSign, 'utf8').digest('hex');
}

/** `20130524T000000Z` -> epoch ms, or NaN. */
export function parseAmzDate(value: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  return m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])) : NaN;
}

class S3Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, string> = {},
  ) {
    super(message);
  }
}

const xmlEscape = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const MAX_EXPIRES = 604_800;
const SKEW_MS = 15 * 60_000;

export class S3Double {
  readonly objects = new Map<string, StoredObject>();
  readonly requests: S3Request[] = [];
  /** Added to the double's clock: a test moves time forward to expire a presigned URL. */
  clockOffsetMs = 0;
  /** Without s3:ListBucket, S3 answers a missing key 403 instead of 404. */
  listBucket = true;
  /** IAM actions the caller is denied (`s3:PutObject`, `s3:GetObject`). */
  readonly denied = new Set<string>();
  url = '';
  private server?: Server;

  private constructor(private readonly options: S3DoubleOptions) {}

  static async start(options: S3DoubleOptions): Promise<S3Double> {
    const double = new S3Double(options);
    const server = createServer((req, res) => void double.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, options.host, resolve);
    });
    double.server = server;
    double.url = `http://${options.host}:${(server.address() as AddressInfo).port}`;
    return double;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }

  object(bucket: string, key: string): StoredObject | undefined {
    return this.objects.get(`${bucket}/${key}`);
  }

  /** Requests refused for their signature or their age: tests that expect none check this. */
  get authFailures(): S3Request[] {
    return this.requests.filter((r) =>
      [
        'SignatureDoesNotMatch',
        'InvalidAccessKeyId',
        'InvalidToken',
        'RequestTimeTooSkewed',
        'AuthorizationHeaderMalformed',
        'AuthorizationQueryParametersError',
      ].includes(r.code ?? ''),
    );
  }

  private now(): number {
    return Date.now() + this.clockOffsetMs;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const method = req.method ?? 'GET';
    const [rawPath = '/', rawQuery = ''] = (req.url ?? '/').split(/\?(.*)/s);
    const [, rawBucket = '', ...rawKey] = rawPath.split('/');
    const bucket = decodeURIComponent(rawBucket);
    const key = rawKey.map(decodeURIComponent).join('/');
    const record: S3Request = { method, bucket, key, auth: 'none', status: 200 };
    this.requests.push(record);
    const requestId = randomBytes(8).toString('hex').toUpperCase();
    res.setHeader('x-amz-request-id', requestId);
    res.setHeader('x-amz-id-2', randomBytes(24).toString('base64'));
    try {
      const query =
        rawQuery === ''
          ? []
          : rawQuery.split('&').map((pair): [string, string] => {
              const [k = '', v = ''] = pair.split(/=(.*)/s);
              return [decodeURIComponent(k), decodeURIComponent(v)];
            });
      record.auth = this.authenticate(method, rawPath, query, req.headers, body);
      this.serve(method, bucket, key, req, res, body);
      record.status = res.statusCode;
    } catch (error) {
      const e = error instanceof S3Error ? error : new S3Error(500, 'InternalError', String(error));
      [record.status, record.code] = [e.status, e.code];
      res.statusCode = e.status;
      if (method === 'HEAD') {
        res.end();
        return;
      }
      const fields = { Code: e.code, Message: e.message, ...e.extra, RequestId: requestId, HostId: randomBytes(24).toString('base64') };
      res.setHeader('content-type', 'application/xml');
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?>\n<Error>${Object.entries(fields)
          .map(([name, value]) => `<${name}>${xmlEscape(value)}</${name}>`)
          .join('')}</Error>`,
      );
    }
  }

  /** Verifies the request's SigV4 signature (header or presigned query); returns which it was. */
  private authenticate(method: string, rawPath: string, query: [string, string][], headers: IncomingMessage['headers'], body: Buffer): 'header' | 'query' {
    const q = new Map(query);
    const authorization = headers.authorization;
    let credential: string, signedHeaders: string[], signature: string, amzDate: string, payloadHash: string, auth: 'header' | 'query';
    if (authorization) {
      const m = /^AWS4-HMAC-SHA256 Credential=([^,]+),\s*SignedHeaders=([^,]+),\s*Signature=([0-9a-f]{64})$/.exec(authorization);
      if (!m) throw new S3Error(400, 'AuthorizationHeaderMalformed', 'The authorization header is malformed; the authorization component is malformed.');
      [credential, signedHeaders, signature] = [m[1] ?? '', (m[2] ?? '').split(';'), m[3] ?? ''];
      amzDate = String(headers['x-amz-date'] ?? '');
      payloadHash = String(headers['x-amz-content-sha256'] ?? '');
      if (!payloadHash) throw new S3Error(400, 'InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
      auth = 'header';
    } else if (q.has('X-Amz-Signature')) {
      if (q.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256')
        throw new S3Error(400, 'AuthorizationQueryParametersError', 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
      [credential, signedHeaders, signature, amzDate] = [
        q.get('X-Amz-Credential') ?? '',
        (q.get('X-Amz-SignedHeaders') ?? '').split(';'),
        q.get('X-Amz-Signature') ?? '',
        q.get('X-Amz-Date') ?? '',
      ];
      payloadHash = 'UNSIGNED-PAYLOAD';
      auth = 'query';
    } else {
      throw new S3Error(403, 'AccessDenied', 'Access Denied');
    }
    const [accessKeyId = '', ...scopeParts] = credential.split('/');
    const scope = scopeParts.join('/');
    if (accessKeyId !== this.options.credentials.accessKeyId)
      throw new S3Error(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', { AWSAccessKeyId: accessKeyId });
    // Temporary credentials: the key is unknown without its token, and a wrong token is refused.
    const token = auth === 'header' ? headers['x-amz-security-token'] : q.get('X-Amz-Security-Token');
    const { sessionToken } = this.options.credentials;
    if (sessionToken !== undefined && token === undefined)
      throw new S3Error(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', { AWSAccessKeyId: accessKeyId });
    if (token !== undefined && token !== sessionToken)
      throw new S3Error(400, 'InvalidToken', 'The provided token is malformed or otherwise invalid.', { 'Token-0': String(token) });
    const [date, region, service, terminator] = scopeParts;
    if (region !== this.options.region) {
      throw new S3Error(
        400,
        auth === 'header' ? 'AuthorizationHeaderMalformed' : 'AuthorizationQueryParametersError',
        `The authorization header is malformed; the region '${region}' is wrong; expecting '${this.options.region}'`,
        { Region: this.options.region },
      );
    }
    const signedAt = parseAmzDate(amzDate);
    if (service !== 's3' || terminator !== 'aws4_request' || Number.isNaN(signedAt) || date !== amzDate.slice(0, 8) || !signedHeaders.includes('host')) {
      throw new S3Error(
        400,
        auth === 'header' ? 'AuthorizationHeaderMalformed' : 'AuthorizationQueryParametersError',
        'Error parsing the X-Amz-Credential parameter; the credential scope, date or signed headers are malformed.',
      );
    }
    if (auth === 'query') {
      const expires = Number(q.get('X-Amz-Expires'));
      if (!Number.isInteger(expires) || expires < 0) throw new S3Error(400, 'AuthorizationQueryParametersError', 'X-Amz-Expires should be a number');
      if (expires > MAX_EXPIRES)
        throw new S3Error(400, 'AuthorizationQueryParametersError', 'X-Amz-Expires must be less than a week (in seconds) that is 604800 seconds');
      if (this.now() > signedAt + expires * 1000) {
        throw new S3Error(403, 'AccessDenied', 'Request has expired', {
          'X-Amz-Expires': String(expires),
          Expires: new Date(signedAt + expires * 1000).toISOString(),
          ServerTime: new Date(this.now()).toISOString(),
        });
      }
    } else if (Math.abs(this.now() - signedAt) > SKEW_MS) {
      throw new S3Error(403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.', {
        RequestTime: amzDate,
        ServerTime: new Date(this.now()).toISOString(),
        MaxAllowedSkewMilliseconds: String(SKEW_MS),
      });
    }
    const computed = stringToSign({
      method,
      rawPath,
      query: query.filter(([k]) => k !== 'X-Amz-Signature'),
      headers,
      signedHeaders,
      payloadHash,
      amzDate,
      scope: `${date}/${region}/${service}/${terminator}`,
    });
    const expected = signatureOf(this.options.credentials.secretAccessKey, scope, computed.stringToSign);
    if (expected !== signature) {
      throw new S3Error(
        403,
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
        {
          AWSAccessKeyId: accessKeyId,
          StringToSign: computed.stringToSign,
          SignatureProvided: signature,
          CanonicalRequest: computed.canonicalRequest,
        },
      );
    }
    // A signed payload must be the payload: S3 checks the body against the hash that was signed.
    if (auth === 'header' && /^[0-9a-f]{64}$/.test(payloadHash) && sha256Hex(body) !== payloadHash) {
      throw new S3Error(400, 'XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.", {
        ClientComputedContentSHA256: payloadHash,
        S3ComputedContentSHA256: sha256Hex(body),
      });
    }
    if (payloadHash.startsWith('STREAMING-')) throw new S3Error(501, 'NotImplemented', 'The double does not decode aws-chunked uploads.');
    return auth;
  }

  private serve(method: string, bucket: string, key: string, req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    if (!this.options.buckets.includes(bucket)) throw new S3Error(404, 'NoSuchBucket', 'The specified bucket does not exist', { BucketName: bucket });
    if (!key) throw new S3Error(501, 'NotImplemented', 'The double serves objects only.');
    const id = `${bucket}/${key}`;
    if (method === 'PUT') {
      if (this.denied.has('s3:PutObject')) throw new S3Error(403, 'AccessDenied', 'Access Denied');
      const given = req.headers['x-amz-checksum-sha256'];
      const actual = createHash('sha256').update(body).digest('base64');
      if (typeof given === 'string' && given !== actual) throw new S3Error(400, 'BadDigest', 'The SHA256 you specified did not match the calculated checksum.');
      this.objects.set(id, {
        body,
        contentType: String(req.headers['content-type'] ?? 'binary/octet-stream'),
        lastModified: new Date(this.now()),
        ...(typeof given === 'string' && { checksumSha256: given }),
      });
      res.setHeader('etag', `"${createHash('md5').update(body).digest('hex')}"`);
      if (typeof given === 'string') res.setHeader('x-amz-checksum-sha256', given);
      res.end();
      return;
    }
    if (method !== 'GET' && method !== 'HEAD')
      throw new S3Error(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.', { Method: method, ResourceType: 'OBJECT' });
    if (this.denied.has('s3:GetObject')) throw new S3Error(403, 'AccessDenied', 'Access Denied');
    const object = this.objects.get(id);
    if (!object) {
      if (!this.listBucket) throw new S3Error(403, 'AccessDenied', 'Access Denied');
      throw new S3Error(404, method === 'HEAD' ? 'NotFound' : 'NoSuchKey', 'The specified key does not exist.', { Key: key });
    }
    res.setHeader('content-type', object.contentType);
    res.setHeader('content-length', object.body.length);
    res.setHeader('etag', `"${createHash('md5').update(object.body).digest('hex')}"`);
    res.setHeader('last-modified', object.lastModified.toUTCString());
    res.setHeader('accept-ranges', 'bytes');
    const checksumMode = req.headers['x-amz-checksum-mode'] ?? new URL(req.url ?? '/', 'http://x').searchParams.get('x-amz-checksum-mode');
    if (checksumMode === 'ENABLED' && object.checksumSha256) {
      res.setHeader('x-amz-checksum-sha256', object.checksumSha256);
      res.setHeader('x-amz-checksum-type', 'FULL_OBJECT');
    }
    res.end(method === 'HEAD' ? undefined : object.body);
  }
}
