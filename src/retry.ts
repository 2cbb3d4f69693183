/** One retry policy for every remote call: a bounded number of attempts, with capped exponential backoff. */
export interface RetryPolicy {
  /** Attempts after the first one. */
  retries: number;
  /** Wait before the first retry. */
  initialDelayMs: number;
  /** No wait grows past this. */
  maxDelayMs: number;
}

export function backoffDelay(policy: RetryPolicy, retry: number): number {
  return Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** retry);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Calls `attempt` until it returns a value `done` accepts or the retries run out; returns the last
 * value either way, with the number of attempts made. `attempt` reports failures as values, not throws.
 */
export async function retryUntil<T>(
  policy: RetryPolicy,
  attempt: (n: number) => Promise<T>,
  done: (value: T) => boolean,
): Promise<{ value: T; attempts: number }> {
  for (let n = 0; ; n++) {
    const value = await attempt(n);
    if (done(value) || n >= policy.retries) return { value, attempts: n + 1 };
    await sleep(backoffDelay(policy, n));
  }
}
