import type { HealthSettings } from '../settings.js';
import { retryUntil } from '../retry.js';

export interface ProbeResult {
  url: string;
  ok: boolean;
  /** HTTP status of the last attempt, when one answered. */
  status?: number;
  /** Why the last attempt failed: a connection error, a timeout, or an unexpected status. */
  error?: string;
  attempts: number;
  /** First bytes of the last answer's body: apps report their release and color there. */
  body?: string;
}

/** One HTTP GET, never throwing: failures come back as a result. */
export async function probeOnce(url: string, health: HealthSettings, headers: Record<string, string> = {}): Promise<ProbeResult> {
  try {
    const response = await fetch(url, { headers, redirect: 'manual', signal: AbortSignal.timeout(health.timeoutMs) });
    const body = (await response.text()).slice(0, 512);
    const ok = response.status === health.expectedStatus;
    return { url, ok, status: response.status, attempts: 1, body, ...(!ok && { error: `answered ${response.status}, expected ${health.expectedStatus}` }) };
  } catch (error) {
    return { url, ok: false, attempts: 1, error: describeFetchError(error, health.timeoutMs) };
  }
}

/** Probes until healthy or the retries are spent, waiting `interval` and backing off up to 4x. */
export async function probeUntilHealthy(url: string, health: HealthSettings, headers: Record<string, string> = {}): Promise<ProbeResult> {
  const policy = { retries: health.retries, initialDelayMs: health.intervalMs, maxDelayMs: health.intervalMs * 4 };
  const { value, attempts } = await retryUntil(policy, () => probeOnce(url, health, headers), (r) => r.ok);
  return { ...value, attempts };
}

function describeFetchError(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return `no answer within ${timeoutMs / 1000}s`;
  }
  const cause = error instanceof Error ? (error.cause as { code?: string; message?: string } | undefined) : undefined;
  if (cause?.code === 'ECONNREFUSED') return 'connection refused';
  if (cause?.code) return `${cause.code}${cause.message ? `: ${cause.message}` : ''}`;
  return error instanceof Error ? error.message : String(error);
}
