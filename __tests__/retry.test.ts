import { describe, expect, it } from '@jest/globals';
import { WaitAbortedError, retry, retryUntil, sleepingClock, systemClock, waitUntil } from '../src/retry.js';

/** A check that answers `values` in turn (the last one from then on), counting its calls. */
function answers<T>(...values: T[]): { check: () => Promise<T>; calls: () => number } {
  let calls = 0;
  return { check: async () => values[Math.min(calls++, values.length - 1)] as T, calls: () => calls };
}

describe('waitUntil: the one wait policy', () => {
  it('checks until done, waiting the interval between checks and not after the last', async () => {
    const clock = sleepingClock();
    const { check, calls } = answers('starting', 'starting', 'ready');
    const outcome = await waitUntil(check, (v) => v === 'ready', { attempts: 10, intervalMs: 250, clock });
    expect(outcome).toEqual({ value: 'ready', done: true, attempts: 3, elapsedMs: 500 });
    expect(calls()).toBe(3);
    expect(clock.slept).toEqual([250, 250]);
  });

  it('stops after its attempts with the last value, not done', async () => {
    const clock = sleepingClock();
    const outcome = await waitUntil(answers(1, 2, 3, 4).check, () => false, { attempts: 3, intervalMs: 100, clock });
    expect(outcome).toMatchObject({ value: 3, done: false, attempts: 3 });
    expect(clock.slept).toEqual([100, 100]);
  });

  it('backs off by doubling the interval up to its cap', async () => {
    const clock = sleepingClock();
    await waitUntil(answers(false).check, (v) => v, { attempts: 6, intervalMs: 100, backoff: { maxMs: 500 }, clock });
    expect(clock.slept).toEqual([100, 200, 400, 500, 500]);
  });

  it('starts no wait once the deadline has passed, counting time on its clock', async () => {
    const clock = sleepingClock();
    const outcome = await waitUntil(answers('busy').check, () => false, { deadlineMs: 1000, intervalMs: 300, clock });
    // Checks at 0, 300, 600, 900 and 1200 ms: the last is past the deadline, so no wait follows it.
    expect(outcome).toMatchObject({ done: false, attempts: 5, elapsedMs: 1200 });
    expect(clock.slept).toEqual([300, 300, 300, 300]);
  });

  it('tells each check its number and the time since the wait began', async () => {
    const clock = sleepingClock();
    const seen: unknown[] = [];
    await waitUntil(
      async (context) => seen.push(context),
      () => false,
      { attempts: 3, intervalMs: 50, clock },
    );
    expect(seen).toEqual([
      { attempt: 0, elapsedMs: 0 },
      { attempt: 1, elapsedMs: 50 },
      { attempt: 2, elapsedMs: 100 },
    ]);
  });

  it('lets the last value choose the next interval, and says each wait before it starts', async () => {
    const clock = sleepingClock();
    const said: string[] = [];
    await waitUntil(answers(3, 1, 0).check, (v) => v === 0, {
      attempts: 5,
      intervalMs: (waits, last) => last * 1000 + waits,
      onWait: (last, waitMs, waits) => said.push(`${last} left, wait ${waitMs} (wait ${waits})`),
      clock,
    });
    expect(clock.slept).toEqual([3000, 1001]);
    expect(said).toEqual(['3 left, wait 3000 (wait 0)', '1 left, wait 1001 (wait 1)']);
  });

  it('ends with the error of a check that throws', async () => {
    const clock = sleepingClock();
    const check = async ({ attempt }: { attempt: number }) => {
      if (attempt === 1) throw new Error('load balancer errored');
      return 'new';
    };
    await expect(waitUntil(check, () => false, { attempts: 5, intervalMs: 10, clock })).rejects.toThrow('load balancer errored');
    expect(clock.slept).toEqual([10]);
  });

  it('refuses an unbounded wait', async () => {
    await expect(
      waitUntil(
        async () => 1,
        () => false,
        { intervalMs: 10, clock: sleepingClock() },
      ),
    ).rejects.toThrow('waitUntil needs attempts or deadlineMs');
  });

  it('ends at once when its signal aborts: before the next check, and during a wait', async () => {
    const aborter = new AbortController();
    const { check, calls } = answers('pending');
    // The system clock's sleep of ten minutes is cut short by the abort.
    const waiting = waitUntil(check, () => false, { attempts: 3, intervalMs: 600_000, signal: aborter.signal, clock: systemClock });
    await new Promise((resolve) => setImmediate(resolve));
    aborter.abort('cancelled (SIGINT)');
    await expect(waiting).rejects.toThrow(new WaitAbortedError('cancelled (SIGINT)'));
    expect(calls()).toBe(1);

    const never = answers('pending');
    await expect(waitUntil(never.check, () => false, { attempts: 3, intervalMs: 1, signal: aborter.signal })).rejects.toBeInstanceOf(WaitAbortedError);
    expect(never.calls()).toBe(0);
  });
});

describe('retry', () => {
  it('repeats a failing call with backoff until it succeeds', async () => {
    const clock = sleepingClock();
    let calls = 0;
    const value = await retry(
      async (n) => {
        calls++;
        if (n < 2) throw new Error(`throttled ${n}`);
        return 'answered';
      },
      { attempts: 5, intervalMs: 100, backoff: { maxMs: 1000 }, clock },
    );
    expect(value).toBe('answered');
    expect(calls).toBe(3);
    expect(clock.slept).toEqual([100, 200]);
  });

  it('rethrows the last failure once the attempts run out', async () => {
    const clock = sleepingClock();
    await expect(retry(async (n) => Promise.reject(new Error(`failure ${n}`)), { attempts: 3, intervalMs: 10, clock })).rejects.toThrow('failure 2');
    expect(clock.slept).toEqual([10, 10]);
  });

  it('does not repeat a failure that is not retryable', async () => {
    const clock = sleepingClock();
    let calls = 0;
    const attempt = async () => {
      calls++;
      throw new TypeError('denied');
    };
    await expect(retry(attempt, { attempts: 3, intervalMs: 10, retryable: (e) => !(e instanceof TypeError), clock })).rejects.toThrow('denied');
    expect(calls).toBe(1);
    expect(clock.slept).toEqual([]);
  });

  it('retries within a deadline, choosing each wait from the error and saying it first', async () => {
    const clock = sleepingClock();
    const said: string[] = [];
    const failing = async (n: number) => Promise.reject(Object.assign(new Error('busy'), { retryAfterMs: 400 + n }));
    await expect(
      retry(failing, {
        deadlineMs: 1000,
        intervalMs: (_n, error) => (error as { retryAfterMs: number }).retryAfterMs,
        onRetry: (error, waitMs) => said.push(`${(error as Error).message}: retrying in ${waitMs}`),
        clock,
      }),
    ).rejects.toThrow('busy');
    expect(clock.slept).toEqual([400, 401, 402]);
    expect(said).toEqual(['busy: retrying in 400', 'busy: retrying in 401', 'busy: retrying in 402']);
  });

  it('retryUntil keeps its RetryPolicy: retries after the first attempt, capped exponential backoff', async () => {
    const clock = sleepingClock();
    const outcome = await retryUntil(
      { retries: 4, initialDelayMs: 100, maxDelayMs: 300 },
      async (n) => n,
      (n) => n === 9,
      clock,
    );
    expect(outcome).toEqual({ value: 4, attempts: 5 });
    expect(clock.slept).toEqual([100, 200, 300, 300]);
  });
});
