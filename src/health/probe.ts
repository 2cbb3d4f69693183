import * as http from 'node:http';
import * as https from 'node:https';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { UserError } from '../errors.js';
import type { HealthSettings } from '../settings.js';
import type { ProbeResult, ProbeTransport } from '../providers/types.js';
import { retryUntil } from '../retry.js';

export interface ProbeOptions {
  headers?: Record<string, string>;
  /** Absent: the runner connects to the URL's host itself. */
  via?: ProbeTransport;
  /**
   * Aborted when the run is cancelled: the probe in flight and the waits between retries end at
   * once, and probeUntilHealthy rejects with WaitAbortedError (the cancel's reason).
   */
  signal?: AbortSignal;
}

const BODY_BYTES = 512;

/** One HTTP GET, never throwing: failures come back as a result. */
export async function probeOnce(url: string, health: HealthSettings, options: ProbeOptions = {}): Promise<ProbeResult> {
  try {
    const { status, body } = await get(new URL(url), health.timeoutMs, options);
    const ok = status === health.expectedStatus;
    return { url, ok, status, attempts: 1, body, ...(!ok && { error: `answered ${status}, expected ${health.expectedStatus}` }) };
  } catch (error) {
    return { url, ok: false, attempts: 1, error: describeProbeError(error, health.timeoutMs, options.via) };
  }
}

/** Probes until healthy or the retries are spent, waiting `interval` and backing off up to 4x. */
export async function probeUntilHealthy(url: string, health: HealthSettings, options: ProbeOptions = {}): Promise<ProbeResult> {
  const policy = { retries: health.retries, initialDelayMs: health.intervalMs, maxDelayMs: health.intervalMs * 4 };
  const { value, attempts } = await retryUntil(
    policy,
    () => probeOnce(url, health, options),
    (r) => r.ok,
    undefined,
    options.signal,
  );
  return { ...value, attempts };
}

/**
 * The GET itself, the same whichever way the bytes travel: only the connection differs (a socket
 * the runner opens, or a forwarded stream, wrapped in TLS for https). Redirects are not followed:
 * a health path that redirects answers with its own status. The timeout covers connect and body.
 */
function get(url: URL, timeoutMs: number, { headers = {}, via, signal: cancelled }: ProbeOptions): Promise<{ status: number; body: string }> {
  const secure = url.protocol === 'https:';
  if (!secure && url.protocol !== 'http:') return Promise.reject(new Error(`cannot probe a ${url.protocol} URL; use http:// or https://`));
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(url.port || (secure ? 443 : 80));
  return new Promise((resolve, reject) => {
    const signal = cancelled ? AbortSignal.any([AbortSignal.timeout(timeoutMs), cancelled]) : AbortSignal.timeout(timeoutMs);
    // Once timed out, whatever error the connection ends with (a forwarded channel closes without
    // one: "socket hang up") is the timeout.
    const fail = (error: unknown) => reject(signal.aborted ? signal.reason : error);
    const request = (secure ? https : http).request(
      {
        host,
        port,
        path: `${url.pathname}${url.search}`,
        method: 'GET',
        headers: { ...headers, connection: 'close' },
        signal,
        // No agent: a fresh connection per probe. (With `agent: false`, Node would make an agent
        // of its own, which ignores `createConnection`.)
        ...(via ? { createConnection: forwardedConnection(via, host, port, secure ? url.hostname : undefined) } : { agent: false }),
      },
      (response) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        response.on('data', (chunk: Buffer) => {
          if (kept < BODY_BYTES) chunks.push(chunk);
          kept += chunk.length;
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8').slice(0, BODY_BYTES) }));
        response.on('error', fail);
      },
    );
    request.on('error', fail);
    request.end();
  });
}

type CreateConnection = NonNullable<http.RequestOptions['createConnection']>;

/** `createConnection` for http.request: the transport's stream, made to look enough like a socket. */
function forwardedConnection(via: ProbeTransport, host: string, port: number, tlsServerName: string | undefined): CreateConnection {
  return ((_options: unknown, done: (error: Error | null, socket?: Duplex) => void) => {
    via.connect(host, port).then(
      (stream) => {
        if (tlsServerName !== undefined) {
          done(null, tlsConnect({ socket: stream, servername: tlsServerName }));
          return;
        }
        // http.ClientRequest calls these socket methods; a forwarded channel has no TCP options to set.
        const socketLike = stream as Duplex & Record<string, unknown>;
        for (const name of ['setKeepAlive', 'setNoDelay', 'setTimeout', 'ref', 'unref']) socketLike[name] ??= () => stream;
        done(null, stream);
      },
      (error: unknown) => {
        // Could not even log in to the jump host: that message already names it and the fix.
        if (error instanceof UserError) return done(error);
        const reason = (error instanceof Error ? error.message : String(error)).replace(/^\(SSH\) /, '').replace(/\.$/, '');
        done(
          new ForwardError(
            `${via.description} could not open a connection to ${host}:${port}: ${reason}. Check that ${host}:${port} is reachable from there and that its sshd allows forwarding to it (AllowTcpForwarding, PermitOpen), or set probe-via: direct`,
          ),
        );
      },
    );
    return undefined;
  }) as unknown as CreateConnection;
}

function describeProbeError(error: unknown, timeoutMs: number, via: ProbeTransport | undefined): string {
  // The timeout's reason is a DOMException, not always an `instanceof Error` (in another realm).
  const { name, code } = (error ?? {}) as { name?: string; code?: string };
  if (name === 'TimeoutError' || name === 'AbortError') {
    return `no answer within ${timeoutMs / 1000}s${via ? ` (through ${via.description})` : ''}`;
  }
  if (error instanceof ForwardError || error instanceof UserError) return error.message;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ECONNRESET') return 'connection reset';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `the host name does not resolve (${code})`;
  const message = error instanceof Error ? error.message : String(error);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}

/** A transport could not open its stream: the message says which transport, to where, and why. */
export class ForwardError extends Error {
  override name = 'ForwardError';
}
