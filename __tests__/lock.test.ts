import { describe, expect, it } from '@jest/globals';
import { GitHubRepo } from '../src/github/client.js';
import { sleepingClock } from '../src/retry.js';
import { DeployLock } from '../src/state/lock.js';
import { inputsWithToken, runnerEnv, useGitHubApi } from './support/github-api.js';
import { MemoryWorld } from '../lab/memory-provider.js';
import { errorLines, runAction } from './support/action.js';

const { api, url } = useGitHubApi('127.0.3.2');

const LOCK = 'BLUEGREEN_SHOP_LOCK';
const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => runnerEnv(url(), { GITHUB_RUN_ID: '7002', GITHUB_JOB: 'switch', ...extra });
const inputs = (extra: Record<string, string> = {}) => inputsWithToken({ mode: 'switch', ...extra });

/** A lock as another run of this action leaves it. */
function heldBy(runId: string, renewedSecondsAgo: number, attempt = 1): string {
  const at = (s: number) => new Date(Date.now() - s * 1000).toISOString();
  return JSON.stringify({
    run: { id: runId, attempt, url: `https://github.com/acme/shop/actions/runs/${runId}` },
    job: 'deploy',
    mode: 'deploy',
    release: 'v9',
    since: at(renewedSecondsAgo + 30),
    renewed: at(renewedSecondsAgo),
    nonce: `nonce-${runId}`,
  });
}

describe('deploy lock', () => {
  it('makes a second run fail after lock-timeout, naming the run that holds it and since when, having changed nothing', async () => {
    api.setVariable(LOCK, heldBy('6000', 5));
    const world = new MemoryWorld();
    const result = await runAction(inputs({ 'lock-timeout': '1' }), world, env());

    expect(result.failed).toBe(true);
    expect(world.moves).toEqual([]);
    const [error] = errorLines(result.log);
    expect(error).toMatch(
      /^::error::The deploy lock of shop is held by https:\/\/github\.com\/acme\/shop\/actions\/runs\/6000 \(job deploy, deploy of release v9\) since \d{4}-\d\d-\d\dT[\d:.]+Z \(3\d s ago\); waited 1 s \(lock-timeout\)\. Let that run finish, then re-run this one\./,
    );
    expect(result.log).toContain('Waiting for the deploy lock of shop, held by https://github.com/acme/shop/actions/runs/6000');
    // Still the holder's.
    expect(api.json(LOCK)).toMatchObject({ nonce: 'nonce-6000' });
    // No checkpoint was written by the run that did not get the lock.
    expect(api.variables.has('BLUEGREEN_SHOP')).toBe(false);
  });

  it('waits for the holder to release it, then runs', async () => {
    api.setVariable(LOCK, heldBy('6000', 5));
    const released = setTimeout(() => api.variables.delete(LOCK), 400);
    try {
      const world = new MemoryWorld();
      const result = await runAction(inputs({ 'lock-timeout': '10' }), world, env());
      expect(result.failed).toBe(false);
      expect(world.live).toEqual({ kind: 'color', color: 'green' });
      expect(result.log).toContain('Waiting for the deploy lock of shop, held by https://github.com/acme/shop/actions/runs/6000');
      expect(result.log).toContain('Took the deploy lock of shop (repository variable BLUEGREEN_SHOP_LOCK).');
      expect(api.variables.has(LOCK)).toBe(false);
    } finally {
      clearTimeout(released);
    }
  });

  it('takes over a lock its run stopped renewing for lock-expiry (a cancelled run)', async () => {
    api.setVariable(LOCK, heldBy('6000', 2 * 3600));
    const world = new MemoryWorld();
    const result = await runAction(inputs({ 'lock-timeout': '0' }), world, env());
    expect(result.failed).toBe(false);
    expect(result.log).toMatch(
      /::warning::Taking over the deploy lock of shop: https:\/\/github\.com\/acme\/shop\/actions\/runs\/6000 has not renewed it since [^ ]+ \(lock-expiry is 3600 s\)\./,
    );
    expect(world.live).toEqual({ kind: 'color', color: 'green' });
  });

  it('takes over the lock left by an earlier attempt of the same run (a rerun after a crash)', async () => {
    api.setVariable(LOCK, heldBy('7002', 5, 1));
    const result = await runAction(inputs({ 'lock-timeout': '0' }), new MemoryWorld(), env({ GITHUB_RUN_ATTEMPT: '2' }));
    expect(result.failed).toBe(false);
    expect(result.log).toContain('::warning::Taking over the deploy lock of shop: it was left by attempt 1 of this same run, which has ended.');
  });

  it('is renewed after each phase and released when the run fails', async () => {
    const world = new MemoryWorld();
    world.unhealthy.add('green-1');
    const result = await runAction(inputs(), world, env());
    expect(result.failed).toBe(true);
    expect(api.variables.has(LOCK)).toBe(false);
    const lockWrites = api.requests.filter((r) => r.path.endsWith(`/${LOCK}`) || (r.body as { name?: string } | undefined)?.name === LOCK).map((r) => r.method);
    // Taken, renewed after the two phases that completed, checked and deleted.
    expect(lockWrites.filter((m) => m !== 'GET')).toEqual(['POST', 'PATCH', 'PATCH', 'DELETE']);
  });

  it('is not taken by a dry run', async () => {
    api.setVariable(LOCK, heldBy('6000', 5));
    const result = await runAction(inputs({ 'dry-run': 'true', 'lock-timeout': '0' }), new MemoryWorld(), env());
    expect(result.failed).toBe(false);
    expect(api.requests.filter((r) => r.method !== 'GET')).toEqual([]);
  });

  it('waits out a long lock-timeout on its own clock: polls timeout/20 apart, and fails before a poll would end past it', async () => {
    api.setVariable(LOCK, heldBy('6000', 5));
    const github = new GitHubRepo('github_pat_full', { owner: 'acme', repo: 'shop' }, url());
    const clock = sleepingClock();
    const lock = new DeployLock(
      github,
      LOCK,
      'shop',
      { run: { id: '103', attempt: 1, url: 'https://github.com/acme/shop/actions/runs/103' }, job: 'switch', mode: 'switch', release: 'v1' },
      { timeoutMs: 600_000, expiryMs: 3_600_000, clock },
    );
    await expect(lock.acquire()).rejects.toThrow(
      /^The deploy lock of shop is held by https:\/\/github\.com\/acme\/shop\/actions\/runs\/6000 .*; waited 600 s \(lock-timeout\)\./,
    );
    // Ten minutes of waiting, none of it real: 10 s polls (the cap of timeout/20), the last one ending at the timeout.
    expect(clock.slept).toEqual(Array.from({ length: 60 }, () => 10_000));
    expect(api.json(LOCK)).toMatchObject({ nonce: 'nonce-6000' });
  });

  it('lets exactly one of two runs racing for it win; the other names the winner', async () => {
    const github = new GitHubRepo('github_pat_full', { owner: 'acme', repo: 'shop' }, url());
    const lock = (runId: string) =>
      new DeployLock(
        github,
        LOCK,
        'shop',
        { run: { id: runId, attempt: 1, url: `https://github.com/acme/shop/actions/runs/${runId}` }, job: 'switch', mode: 'switch', release: 'v1' },
        { timeoutMs: 0, expiryMs: 3_600_000 },
      );
    const [a, b] = [lock('101'), lock('102')];
    const outcomes = await Promise.allSettled([a.acquire(), b.acquire()]);

    expect(outcomes.map((o) => o.status).sort()).toEqual(['fulfilled', 'rejected']);
    const winner = outcomes[0]?.status === 'fulfilled' ? '101' : '102';
    const loser = winner === '101' ? b : a;
    const rejection = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(String(rejection?.reason)).toContain(`held by https://github.com/acme/shop/actions/runs/${winner} (job switch, switch of release v1)`);
    expect(api.requests.filter((r) => r.method === 'POST')).toHaveLength(2);

    await (winner === '101' ? a : b).release();
    await loser.acquire();
    expect(api.json(LOCK)).toMatchObject({ run: { id: winner === '101' ? '102' : '101' } });
    await loser.release();
  });

  it('does not fail open: a 502 while reading the holder is retried, and the holder is still waited for', async () => {
    api.setVariable(LOCK, heldBy('6000', 5));
    api.failNext(1, 502, (r) => r.method === 'GET' && r.path.endsWith(`/${LOCK}`));
    const world = new MemoryWorld();
    const result = await runAction(inputs({ 'lock-timeout': '1' }), world, env());

    expect(result.failed).toBe(true);
    expect(world.moves).toEqual([]);
    expect(errorLines(result.log)).toEqual([
      expect.stringMatching(/^::error::The deploy lock of shop is held by https:\/\/github\.com\/acme\/shop\/actions\/runs\/6000 /),
    ]);
    expect(result.log).not.toContain('State and deploy lock are off');
    expect(api.json(LOCK)).toMatchObject({ nonce: 'nonce-6000' });
  });

  it('stops the run before anything changes when the state or the lock cannot be read, in one line', async () => {
    api.failNext(1000, 502, (r) => r.path.includes('/actions/variables'));
    const world = new MemoryWorld();
    const result = await runAction(inputs(), world, env());

    expect(result.failed).toBe(true);
    expect(world.moves).toEqual([]);
    expect(errorLines(result.log)).toEqual([
      expect.stringMatching(
        /^::error::Could not read the state of shop \(repository variable BLUEGREEN_SHOP\): GitHub refused to read variable BLUEGREEN_SHOP in acme\/shop \(HTTP 502\)[^\n]*Nothing was changed; re-run when GitHub answers again\.$/,
      ),
    ]);
    expect(result.log).not.toContain('::warning::');
  });

  it('lets exactly one of two runs take over a stale lock, however their calls interleave', async () => {
    api.setVariable(LOCK, heldBy('6000', 2 * 3600));
    const lockReads = () => api.requests.filter((r) => r.method === 'GET' && r.path.endsWith(`/${LOCK}`)).length;
    const until = async (ready: () => boolean) => {
      for (let i = 0; i < 100 && !ready(); i++) await new Promise((resolve) => setTimeout(resolve, 20));
    };
    let deletes = 0;
    // The worst interleaving for each way of taking over: both runs have judged the lock stale before
    // either one writes, and the second delete (of a check-then-delete) lands after the first run took it.
    api.beforeEach = async (r) => {
      const name = (r.body as { name?: string } | undefined)?.name ?? '';
      if (r.method === 'POST' && name.startsWith(`${LOCK}_`)) await until(() => lockReads() >= 2);
      if (r.method === 'DELETE' && r.path.endsWith(`/${LOCK}`)) {
        await until(() => lockReads() >= 4);
        if (++deletes === 2) await until(() => api.json(LOCK)?.nonce !== 'nonce-6000' && api.variables.has(LOCK));
      }
    };
    const github = new GitHubRepo('github_pat_full', { owner: 'acme', repo: 'shop' }, url());
    const lock = (runId: string) =>
      new DeployLock(
        github,
        LOCK,
        'shop',
        { run: { id: runId, attempt: 1, url: `https://github.com/acme/shop/actions/runs/${runId}` }, job: 'switch', mode: 'switch', release: 'v1' },
        { timeoutMs: 0, expiryMs: 3_600_000 },
      );
    const [a, b] = [lock('101'), lock('102')];
    const outcomes = await Promise.allSettled([a.acquire(), b.acquire()]);
    api.beforeEach = undefined;

    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    const winner = outcomes[0]?.status === 'fulfilled' ? a : b;
    expect(api.json(LOCK)).toMatchObject({ run: { id: winner === a ? '101' : '102' } });
    // The claim that decided it is gone again: only the lock is left.
    expect([...api.variables.keys()]).toEqual([LOCK]);
    await winner.renew();
    await winner.release();
    expect(api.variables.size).toBe(0);
  });

  it('stops the run before its next phase when another run took the lock over', async () => {
    let renewals = 0;
    api.beforeEach = (r) => {
      if (r.method === 'PATCH' && r.path.endsWith(`/${LOCK}`)) renewals++;
      // After the first renewal, another run takes the lock over (it judged this one dead).
      if (renewals === 1 && r.method === 'GET' && r.path.endsWith(`/${LOCK}`) && api.json(LOCK)?.nonce !== 'nonce-6100')
        api.setVariable(LOCK, heldBy('6100', 0));
    };
    const world = new MemoryWorld();
    const result = await runAction(inputs(), world, env());

    expect(result.failed).toBe(true);
    expect(world.moves).toEqual([]);
    expect(errorLines(result.log)).toEqual([
      expect.stringMatching(
        /^::error::The deploy lock of shop was taken over by https:\/\/github\.com\/acme\/shop\/actions\/runs\/6100 \(job deploy, deploy of release v9\) since \S+ \(\d+ s ago\): this run stopped before its next phase[^\n]*/,
      ),
    ]);
    expect(result.summary).toContain('not run');
    // The other run's lock is left alone.
    expect(api.json(LOCK)).toMatchObject({ nonce: 'nonce-6100' });
  });
});
