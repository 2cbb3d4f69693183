/**
 * The one wait policy: every loop that polls something until it is ready, or repeats a call until
 * it succeeds, goes through `waitUntil` (or `retry`, built on it). Time comes from a `Clock`, so
 * unit tests wait nothing; an AbortSignal ends a wait at once.
 */

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

/** A RetryPolicy as the wait policy's bounds: its attempts, and its interval doubling up to the cap. */
export function retryBounds(policy: RetryPolicy): { attempts: number; intervalMs: number; backoff: { maxMs: number } } {
  return { attempts: policy.retries + 1, intervalMs: policy.initialDelayMs, backoff: { maxMs: policy.maxDelayMs } };
}

/** Where waits get the time and sleep: the system's in the action, one that waits nothing in tests. */
export interface Clock {
  /** Milliseconds; only differences count. */
  now(): number;
  /** Resolves after `ms`, or as soon as `signal` aborts (it never rejects). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const wake = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      signal?.addEventListener('abort', wake, { once: true });
    }),
};

export const sleep = (ms: number, signal?: AbortSignal): Promise<void> => systemClock.sleep(ms, signal);

/**
 * A clock that moves only when it sleeps, each sleep going through `sleeper`: its time is the time
 * slept. With a sleeper that does not wait it is a test clock; the AWS waits use it around their
 * injectable sleep, so their limits count the time they slept, not the time their calls took.
 */
export function sleepingClock(sleeper: (ms: number, signal?: AbortSignal) => Promise<void> = async () => undefined): Clock & { slept: number[] } {
  const slept: number[] = [];
  let time = 0;
  return {
    slept,
    now: () => time,
    sleep: async (ms, signal) => {
      slept.push(ms);
      await sleeper(ms, signal);
      time += ms;
    },
  };
}

/** How long and how often a wait goes on. At least one of `attempts` and `deadlineMs` bounds it. */
export interface WaitPolicy<T> {
  /** Checks at most this many times, the first included. */
  attempts?: number;
  /** No further wait starts once this long has passed since the wait began (measured after each check). */
  deadlineMs?: number;
  /**
   * The wait between two checks: fixed (doubled by `backoff`), or chosen from the number of waits
   * so far and the last value checked.
   */
  intervalMs: number | ((waits: number, last: T) => number);
  /** Each wait doubles the one before, up to `maxMs` (with a fixed `intervalMs`). */
  backoff?: { maxMs: number };
  /** Ends the wait at once, before the next check: `waitUntil` then rejects with `WaitAbortedError`. */
  signal?: AbortSignal;
  clock?: Clock;
  /** Called before each wait: a log line saying why and for how long. */
  onWait?: (last: T, waitMs: number, waits: number) => void;
}

export interface WaitOutcome<T> {
  /** The last value checked. */
  value: T;
  /** Whether it was the one waited for (else the attempts or the time ran out). */
  done: boolean;
  attempts: number;
  /** From the start of the wait to the end of the last check, on the policy's clock. */
  elapsedMs: number;
}

/** A wait ended by its AbortSignal; the message is the signal's reason. */
export class WaitAbortedError extends Error {
  override name = 'WaitAbortedError';
}

/** Where a check stands: its number (0 first) and the time since the wait began. */
export interface CheckContext {
  attempt: number;
  elapsedMs: number;
}

/**
 * Calls `check` until `done` accepts its value, the attempts run out or the deadline passes,
 * waiting between checks as the policy says; returns the last value either way. A check that
 * throws ends the wait with that error.
 */
export async function waitUntil<T>(check: (context: CheckContext) => Promise<T>, done: (value: T) => boolean, policy: WaitPolicy<T>): Promise<WaitOutcome<T>> {
  const { attempts = Infinity, deadlineMs = Infinity, signal, clock = systemClock } = policy;
  if (attempts === Infinity && deadlineMs === Infinity) throw new Error('waitUntil needs attempts or deadlineMs: waits are bounded');
  const started = clock.now();
  for (let attempt = 0; ; attempt++) {
    throwIfAborted(signal);
    const value = await check({ attempt, elapsedMs: clock.now() - started });
    const elapsedMs = clock.now() - started;
    const outcome = { value, attempts: attempt + 1, elapsedMs };
    if (done(value)) return { ...outcome, done: true };
    if (attempt + 1 >= attempts || elapsedMs >= deadlineMs) return { ...outcome, done: false };
    const waitMs = intervalOf(policy, attempt, value);
    policy.onWait?.(value, waitMs, attempt);
    throwIfAborted(signal);
    if (waitMs > 0) await clock.sleep(waitMs, signal);
  }
}

function intervalOf<T>({ intervalMs, backoff }: WaitPolicy<T>, waits: number, last: T): number {
  if (typeof intervalMs === 'function') return intervalMs(waits, last);
  return backoff ? Math.min(backoff.maxMs, intervalMs * 2 ** waits) : intervalMs;
}

/** Throws WaitAbortedError (with the signal's reason) when `signal` is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (!signal?.aborted) return;
  const reason: unknown = signal.reason;
  throw new WaitAbortedError(reason instanceof Error ? reason.message : String(reason ?? 'aborted'));
}

type Attempted<T> = { ok: true; value: T } | { ok: false; error: unknown };

export interface RetryOptions extends Omit<WaitPolicy<unknown>, 'intervalMs' | 'onWait'> {
  intervalMs: number | ((retries: number, error: unknown) => number);
  /** Whether a failure is worth another attempt (default: every one is). */
  retryable?: (error: unknown) => boolean;
  /** Called before each wait, with the error that caused it. */
  onRetry?: (error: unknown, waitMs: number, retries: number) => void;
}

/**
 * Calls `attempt` until it resolves, a failure is not `retryable`, or the policy's attempts or
 * deadline run out; then rethrows the last failure. `attempt` gets its number (0 first).
 */
export async function retry<T>(attempt: (n: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const { retryable = () => true, intervalMs, onRetry, ...policy } = options;
  const errorOf = (last: Attempted<T>): unknown => (last.ok ? undefined : last.error);
  const { value: last } = await waitUntil<Attempted<T>>(
    ({ attempt: n }) =>
      Promise.resolve()
        .then(() => attempt(n))
        .then(
          (value): Attempted<T> => ({ ok: true, value }),
          (error: unknown): Attempted<T> => ({ ok: false, error }),
        ),
    (last) => last.ok || !retryable(last.error),
    {
      ...policy,
      intervalMs: typeof intervalMs === 'function' ? (n, last) => intervalMs(n, errorOf(last)) : intervalMs,
      ...(onRetry && { onWait: (last, waitMs, n) => onRetry(errorOf(last), waitMs, n) }),
    },
  );
  if (last.ok) return last.value;
  throw last.error;
}

/**
 * Calls `attempt` until it returns a value `done` accepts or the retries run out; returns the last
 * value either way, with the number of attempts made. `attempt` reports failures as values, not throws.
 * An aborted `signal` ends it at once with `WaitAbortedError`.
 */
export async function retryUntil<T>(
  policy: RetryPolicy,
  attempt: (n: number) => Promise<T>,
  done: (value: T) => boolean,
  clock?: Clock,
  signal?: AbortSignal,
): Promise<{ value: T; attempts: number }> {
  const { value, attempts } = await waitUntil(({ attempt: n }) => attempt(n), done, {
    ...retryBounds(policy),
    ...(clock && { clock }),
    ...(signal && { signal }),
  });
  return { value, attempts };
}
