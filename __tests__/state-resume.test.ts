import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { AppState } from '../src/state/model.js';
import { inputsWithToken, runnerEnv, useGitHubApi } from './support/github-api.js';
import { MemoryWorld } from '../lab/memory-provider.js';
import { runAction } from './support/action.js';

const SHA = '0123456789abcdef0123456789abcdef01234567';
const RUN_URL = 'https://github.com/acme/shop/actions/runs/7003';

const { api, url } = useGitHubApi('127.0.3.3');

const env = (attempt: number): NodeJS.ProcessEnv => runnerEnv(url(), { GITHUB_RUN_ID: '7003', GITHUB_RUN_ATTEMPT: String(attempt), GITHUB_SHA: SHA });
const inputs = inputsWithToken({ mode: 'deploy', 'lock-timeout': '0' });
const state = () => api.json('BLUEGREEN_SHOP') as unknown as AppState;

/** Counts the releases a world makes: a resumed run must make none. */
function countReleases(world: MemoryWorld): { calls: number } {
  const counter = { calls: 0 };
  const release = world.releaser.release;
  world.releaser.release = async (hosts, id) => {
    counter.calls++;
    return release(hosts, id);
  };
  return counter;
}

const SKIPPED_ROW = new RegExp(
  `<td>Release</td><td>green</td><td>green-1, green-2</td><td>⏩ skipped</td><td>—</td><td>skipped: completed for release ${SHA} on green by ${RUN_URL} \\(attempt 1\\), which then (failed at health|stopped before it finished); health is checked again before going on</td>`,
);

/**
 * Starts a run in its own process and SIGKILLs it at `stopAt` (see deploy-child.ts): once the
 * release is done and the health check began, or once traffic moved and the validation began.
 * Returns what the child printed about its world at that point.
 */
async function runKilledAt(stopAt: 'health' | 'validate', runInputs: Record<string, string>): Promise<string> {
  const script = fileURLToPath(new URL('./support/deploy-child.ts', import.meta.url));
  // One process (node with tsx's loader, not the tsx launcher, which starts a second one), so the kill is a real one.
  const child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(runInputs), JSON.stringify(env(1)), stopAt], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const marker = new RegExp(`^[A-Z]+ (.*)\\n${stopAt.toUpperCase()}-STARTED$`, 'm');
  let out = '';
  let err = '';
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  try {
    return await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the run did not reach ${stopAt} in 30 s:\n${out}\n${err}`)), 30_000);
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const m = marker.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1] as string);
        }
      });
      child.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the run exited (${code}) before ${stopAt}:\n${out}\n${err}`));
      });
    });
  } finally {
    const exited = new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once('exit', resolve)));
    child.kill('SIGKILL');
    await exited;
  }
}

describe('resume', () => {
  it('continues a deploy killed between phases: skips the release it completed, checks health again, and records the end', async () => {
    const hostsAfterKill = new Map(JSON.parse(await runKilledAt('health', inputs)) as [string, string][]);
    expect(hostsAfterKill.get('green-1')).toBe(SHA);

    // What the killed run left: its checkpoints up to the release, and its lock.
    expect(state().lastRun).toMatchObject({
      run: { attempt: 1 },
      outcome: 'running',
      completed: ['locate', 'capacity', 'inventory', 'release'],
      target: 'green',
    });
    expect(state().releases).toEqual({ green: SHA });
    expect(api.json('BLUEGREEN_SHOP_LOCK')).toMatchObject({ run: { id: '7003', attempt: 1 } });

    // The rerun (attempt 2) meets the same hosts, which kept what the killed run put on them.
    const world = new MemoryWorld();
    for (const [host, release] of hostsAfterKill) world.releases.set(host, release);
    const releases = countReleases(world);
    const result = await runAction(inputs, world, env(2));

    expect(result.failed).toBe(false);
    expect(releases.calls).toBe(0);
    expect(result.log).toContain('::warning::Taking over the deploy lock of shop: it was left by attempt 1 of this same run, which has ended.');
    expect(result.log).toContain('::group::Check health (green)');
    expect(result.summary).toMatch(SKIPPED_ROW);
    expect(result.summary).toMatch(/<td>Check health<\/td><td>green<\/td><td>green-1, green-2<\/td><td>✅ ok<\/td>/);
    expect(result.summary).toContain(
      `Resumed: Release was skipped, completed for release ${SHA} on green by ${RUN_URL} (attempt 1), which then stopped before it finished; health is checked again before going on.`,
    );
    expect(state().lastRun).toMatchObject({
      run: { attempt: 2 },
      outcome: 'succeeded',
      completed: ['locate', 'capacity', 'inventory', 'release', 'health', 'preview'],
    });
    expect(api.variables.has('BLUEGREEN_SHOP_LOCK')).toBe(false);
  });

  it('re-checks health on a rerun after a failed health check, without releasing again', async () => {
    const world = new MemoryWorld();
    const releases = countReleases(world);
    world.unhealthy.add('green-2');
    const first = await runAction(inputs, world, env(1));
    expect(first.failed).toBe(true);
    expect(state().lastRun).toMatchObject({ outcome: 'failed', failedPhase: 'health', completed: ['locate', 'capacity', 'inventory', 'release'] });

    // Still unhealthy: the rerun skips the release and fails at the same health check.
    const second = await runAction(inputs, world, env(2));
    expect(second.failed).toBe(true);
    expect(second.summary).toMatch(/<td>Check health<\/td><td>green<\/td><td>green-1, green-2<\/td><td>❌ failed<\/td>/);

    world.unhealthy.clear();
    const third = await runAction(inputs, world, env(3));
    expect(third.failed).toBe(false);
    expect(releases.calls).toBe(1);
    expect(third.summary).toContain(`skipped: completed for release ${SHA} on green by ${RUN_URL} (attempt 2), which then failed at health`);
    expect(state().lastRun).toMatchObject({ run: { attempt: 3 }, outcome: 'succeeded' });
  });

  it('releases again when the release, the target color or the outcome differ', async () => {
    const world = new MemoryWorld();
    const releases = countReleases(world);
    world.unhealthy.add('green-2');
    await runAction(inputs, world, env(1));
    world.unhealthy.clear();
    // Another release id: nothing of the failed run applies.
    const other = await runAction({ ...inputs, release: 'v2' }, world, env(2));
    expect(other.failed).toBe(false);
    expect(other.summary).not.toContain('⏩ skipped');
    // The same release again after a success: a deliberate redo, not a resume.
    const again = await runAction({ ...inputs, release: 'v2' }, world, env(3));
    expect(again.summary).not.toContain('⏩ skipped');
    expect(releases.calls).toBe(3);
  });

  it('shows the phases a rerun would skip in a dry run', async () => {
    const world = new MemoryWorld();
    world.unhealthy.add('green-2');
    await runAction(inputs, world, env(1));
    const plan = await runAction({ ...inputs, 'dry-run': 'true' }, world, env(2));
    expect(plan.summary).toMatch(SKIPPED_ROW);
    expect(plan.summary).toMatch(/<td>Check health<\/td><td>green<\/td><td>green-1, green-2<\/td><td>📝 planned<\/td>/);
  });

  it('validates, and does not undo, the move of a switch killed after moving traffic', async () => {
    const switchInputs = { ...inputs, mode: 'switch' };
    const liveAfterKill = JSON.parse(await runKilledAt('validate', switchInputs)) as { color: string };
    expect(liveAfterKill).toEqual({ kind: 'color', color: 'green' });
    expect(state().lastRun).toMatchObject({ mode: 'switch', outcome: 'running', completed: ['locate', 'inventory', 'verify', 'switch'], target: 'green' });

    // The rerun meets green live. Without the record it would "switch" to the idle blue and undo the move.
    const world = new MemoryWorld();
    world.live = { kind: 'color', color: 'green' };
    const result = await runAction(switchInputs, world, env(2));
    expect(result.failed).toBe(false);
    expect(world.moves).toEqual([]);
    expect(world.live).toEqual({ kind: 'color', color: 'green' });
    expect(result.outputs).toMatchObject({ 'live-color': 'green', 'previous-color': 'blue', 'target-color': 'green' });
    expect(result.summary).toMatch(/<td>Move traffic<\/td><td>green<\/td><td>memory balancer<\/td><td>⏩ skipped<\/td>/);
    expect(result.summary).toMatch(/<td>Validate after the move<\/td><td>green<\/td><td>[^<]*<\/td><td>✅ ok<\/td>/);
    expect(state()).toMatchObject({ live: 'green', lastRun: { run: { attempt: 2 }, outcome: 'succeeded' } });
  });

  it('moves traffic back to the color live before an interrupted switch when its validation fails on the rerun', async () => {
    const switchInputs = { ...inputs, mode: 'switch', 'public-url': 'http://127.0.0.1:9' };
    await runKilledAt('validate', switchInputs);
    const world = new MemoryWorld();
    world.live = { kind: 'color', color: 'green' };
    const result = await runAction({ ...switchInputs, 'health-retries': '0', 'health-timeout': '1' }, world, env(2));
    expect(result.failed).toBe(true);
    expect(world.moves).toEqual(['blue']);
    expect(world.live).toEqual({ kind: 'color', color: 'blue' });
    expect(result.outputs).toMatchObject({ 'live-color': 'blue' });
  });
});

/**
 * The state variable lives in users' repositories across upgrades of the action: a rerun after an
 * upgrade must resume from what the earlier version recorded, phases named by their ids. These
 * values are written out as text, as version 0.1.0 stored them, not built with this version's
 * code: a renamed phase id fails here.
 */
describe('state written by an earlier version', () => {
  const EARLIER_URL = 'https://github.com/acme/shop/actions/runs/6999';
  const earlierRun = `"run":{"id":"6999","attempt":1,"url":"${EARLIER_URL}"}`;

  it('resumes a deploy that failed at health: skips the release it recorded', async () => {
    api.setVariable(
      'BLUEGREEN_SHOP',
      `{"version":1,"live":"blue","releases":{"green":"${SHA}"},"commits":{"green":"${SHA}"},"lastRun":{${earlierRun},"mode":"deploy","release":"${SHA}","commit":"${SHA}","completed":["locate","capacity","inventory","release"],"outcome":"failed","target":"green","failedPhase":"health","at":"2026-11-30T10:00:00.000Z"},"history":[]}`,
    );
    const world = new MemoryWorld();
    const releases = countReleases(world);
    const result = await runAction(inputs, world, env(1));
    expect(result.failed).toBe(false);
    expect(releases.calls).toBe(0);
    expect(result.summary).toContain(
      `skipped: completed for release ${SHA} on green by ${EARLIER_URL} (attempt 1), which then failed at health; health is checked again before going on`,
    );
    expect(state().lastRun).toMatchObject({
      run: { id: '7003' },
      outcome: 'succeeded',
      completed: ['locate', 'capacity', 'inventory', 'release', 'health', 'preview'],
    });
  });

  it('validates, and does not undo, the move of a switch that stopped after moving traffic', async () => {
    api.setVariable(
      'BLUEGREEN_SHOP',
      `{"version":1,"live":"green","previous":"blue","releases":{"green":"${SHA}"},"lastRun":{${earlierRun},"mode":"switch","release":"${SHA}","completed":["locate","inventory","verify","switch"],"outcome":"running","target":"green","at":"2026-11-30T10:00:00.000Z"},"history":[{"at":"2026-11-30T10:00:00.000Z","from":"blue","to":"green","release":"${SHA}","by":"switch","runUrl":"${EARLIER_URL}"}]}`,
    );
    const world = new MemoryWorld();
    world.live = { kind: 'color', color: 'green' };
    const result = await runAction({ ...inputs, mode: 'switch' }, world, env(1));
    expect(result.failed).toBe(false);
    expect(world.moves).toEqual([]);
    expect(result.summary).toMatch(/<td>Check health before moving traffic<\/td><td>green<\/td><td>[^<]*<\/td><td>⏩ skipped<\/td>/);
    expect(result.summary).toMatch(/<td>Move traffic<\/td><td>green<\/td><td>memory balancer<\/td><td>⏩ skipped<\/td>/);
    expect(result.summary).toMatch(/<td>Validate after the move<\/td><td>green<\/td><td>[^<]*<\/td><td>✅ ok<\/td>/);
    expect(state()).toMatchObject({ live: 'green', lastRun: { run: { id: '7003' }, mode: 'switch', outcome: 'succeeded' } });
  });

  it('treats a switch that failed at the move, with the move taken effect, as moved', async () => {
    api.setVariable(
      'BLUEGREEN_SHOP',
      `{"version":1,"live":"blue","releases":{"green":"${SHA}"},"lastRun":{${earlierRun},"mode":"switch","release":"${SHA}","completed":["locate","inventory","verify"],"outcome":"failed","target":"green","failedPhase":"switch","at":"2026-11-30T10:00:00.000Z"},"history":[]}`,
    );
    const world = new MemoryWorld();
    world.live = { kind: 'color', color: 'green' };
    const result = await runAction({ ...inputs, mode: 'switch' }, world, env(1));
    expect(result.failed).toBe(false);
    expect(world.moves).toEqual([]);
    expect(result.outputs).toMatchObject({ 'live-color': 'green', 'previous-color': 'blue', 'target-color': 'green' });
  });
});
