import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ColorLoad, now } from '../bench/support/color-load.js';
import type { AppState } from '../src/state/model.js';
import { GitHubApiDouble } from '../lab/github-api.js';
import { LocalWorld, type Answer } from '../lab/local-world.js';
import { parseOutputFile, runnerEnvironment } from '../lab/runner-files.js';

// A cancelled job, as the Actions runner cancels it: the bundle runs as a child process with the
// runner's files and INPUT_* variables, against the GitHub API double (state, lock) and a local
// world (real sshd hosts, Starman, HAProxy). The runner sends SIGINT on cancel (then SIGTERM and a
// kill); the action stops starting phases, settles traffic on one color, records `cancelled`,
// releases the lock and says where traffic is. A main step killed outright leaves its lock to the
// post step. After each, a new run starts at once and finds one live color and a matching state.

const root = fileURLToPath(new URL('..', import.meta.url));
const MAIN = join(root, 'dist', 'index.js');
const POST = join(root, 'dist', 'post', 'index.js');
const LOCK = 'BLUEGREEN_SHOP_LOCK';

interface StepRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  log: string;
  outputs: Record<string, string>;
  summary: string;
  /** What the step saved with core.saveState, as the runner hands it to the post step. */
  saved: Record<string, string>;
}

/** A running step: its log so far, a wait for a line, and its end. */
interface RunningStep {
  pid: number;
  kill(signal: NodeJS.Signals): void;
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  done: Promise<StepRun>;
}

describe('a cancelled job (the bundle, as a runner starts and stops it)', () => {
  const api = new GitHubApiDouble();
  let apiUrl = '';
  let world: LocalWorld;
  let load: ColorLoad | undefined;
  let runId = 9100;
  const dirs: string[] = [];

  beforeAll(async () => {
    apiUrl = await api.start('127.0.23.1');
    world = await LocalWorld.start({ provider: 'ssh', network: '127.0.23', firstOctet: 11, haproxyAddress: '127.0.23.200' });
  }, 180_000);

  afterAll(async () => {
    await load?.stop();
    await world?.stop();
    await api.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  /** Starts `node <script>` as the runner starts a step of run `id`, with the given inputs and saved state. */
  function startStep(script: string, inputs: Record<string, string>, id: number, saved: Record<string, string> = {}): RunningStep {
    const dir = mkdtempSync(join(tmpdir(), 'bgp-cancel-'));
    dirs.push(dir);
    const files = { summaryFile: join(dir, 'summary.md'), outputFile: join(dir, 'output.txt'), stateFile: join(dir, 'state.txt') };
    for (const file of Object.values(files)) writeFileSync(file, '');
    const env: NodeJS.ProcessEnv = {
      ...runnerEnvironment(
        { ...inputs, 'github-token': 'github_pat_full' },
        { summaryFile: files.summaryFile, outputFile: files.outputFile, workspace: root, temp: dir },
      ),
      GITHUB_STATE: files.stateFile,
      GITHUB_REPOSITORY: 'acme/shop',
      GITHUB_API_URL: apiUrl,
      GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_RUN_ID: String(id),
      GITHUB_RUN_ATTEMPT: '1',
      GITHUB_JOB: inputs.mode ?? 'deploy',
    };
    for (const [name, value] of Object.entries(saved)) env[`STATE_${name}`] = value;
    const child = spawn(process.execPath, [script], { env, cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line);
      for (const waiter of waiters.filter((w) => w.pattern.test(line))) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    });
    const done = new Promise<StepRun>((resolve) =>
      child.on('close', (code, signal) =>
        resolve({
          code,
          signal,
          log: lines.join('\n') + stderr,
          outputs: parseOutputFile(readFileSync(files.outputFile, 'utf8')),
          summary: readFileSync(files.summaryFile, 'utf8'),
          saved: parseOutputFile(readFileSync(files.stateFile, 'utf8')),
        }),
      ),
    );
    return {
      pid: child.pid ?? 0,
      kill: (signal) => child.kill(signal),
      waitForLine: (pattern, timeoutMs = 120_000) =>
        new Promise<string>((resolve, reject) => {
          const seen = lines.find((line) => pattern.test(line));
          if (seen) return resolve(seen);
          const timer = setTimeout(() => reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms:\n${lines.join('\n')}`)), timeoutMs);
          waiters.push({ pattern, resolve: (line) => (clearTimeout(timer), resolve(line)) });
          void done.then(() => {
            clearTimeout(timer);
            reject(new Error(`the step ended without a line matching ${pattern}:\n${lines.join('\n')}${stderr}`));
          });
        }),
      done,
    };
  }

  /** One whole run of the action in a new workflow run. */
  const action = async (mode: string, release: string, extra: Record<string, string> = {}): Promise<StepRun> =>
    startStep(MAIN, world.inputs(mode as 'deploy', release, extra), runId++).done;

  const state = () => api.json('BLUEGREEN_SHOP') as unknown as AppState | undefined;
  const errors = (log: string) => log.split('\n').filter((line) => line.startsWith('::error::'));

  async function publicAnswers(count = 6): Promise<Answer[]> {
    const answers: Answer[] = [];
    for (let i = 0; i < count; i++) answers.push(await world.whoAnswers());
    return answers;
  }
  const served = (color: string, release: string) => ({ status: 200, color, release });

  /** What a new run finds: it starts at once (lock-timeout 0: it would fail on a held lock), reads one live color, and the state agrees. */
  async function newRunFinds(color: string, mode: string, release: string, extra: Record<string, string> = {}): Promise<StepRun> {
    expect(api.variables.has(LOCK)).toBe(false);
    expect(state()?.live).toBe(color);
    const run = await action(mode, release, { 'lock-timeout': '0', ...extra });
    expect(errors(run.log)).toEqual([]);
    expect(run.log).not.toContain('Waiting for the deploy lock');
    expect(run.log).toMatch(new RegExp(`live: ${color}\\b`));
    expect(run.outputs.result).toBe('success');
    return run;
  }

  it('sets the scene: r1 deployed to blue and switched live', async () => {
    for (const [mode, release] of [
      ['deploy', 'r1'],
      ['switch', 'r1'],
    ] as const) {
      const run = await action(mode, release);
      expect(errors(run.log)).toEqual([]);
      expect(run.code).toBe(0);
    }
    expect(await publicAnswers()).toEqual(Array(6).fill(served('blue', 'r1')));
    expect(state()?.live).toBe('blue');
  }, 300_000);

  it('SIGINT mid-release: no phase starts after it, the state says cancelled, the lock is released, the summary says where traffic is', async () => {
    const step = startStep(MAIN, world.inputs('deploy', 'r2'), runId++);
    await step.waitForLine(/^::group::Release \(green\)/);
    step.kill('SIGINT');
    const run = await step.done;

    expect(run.code).toBe(1);
    expect(run.outputs).toMatchObject({ result: 'cancelled', 'live-color': 'blue', 'target-color': 'green' });
    expect(errors(run.log)).toEqual([
      '::error::The job was cancelled (SIGINT): no phase started after it; live traffic is on blue. The deploy lock is released: re-run the job to go on.',
    ]);
    expect(run.summary).toContain('<h2>bluegreen-perl deploy of shop: 🚫 cancelled (traffic on blue)</h2>');
    expect(run.summary).toContain('Live traffic is on blue (unchanged).');
    expect(run.summary).toMatch(/<td>Check health<\/td><td>green<\/td><td>[^<]*<\/td><td>⏭️ not run<\/td><td>—<\/td><td>not run: cancelled \(SIGINT\)<\/td>/);
    expect(state()?.lastRun).toMatchObject({ mode: 'deploy', release: 'r2', outcome: 'cancelled' });
    expect(api.variables.has(LOCK)).toBe(false);
    expect(await publicAnswers()).toEqual(Array(6).fill(served('blue', 'r1')));

    // The post step finds nothing to do: the main step released its own lock.
    const post = await startStep(POST, world.inputs('deploy', 'r2'), runId - 1, run.saved).done;
    expect(post.code).toBe(0);
    expect(post.log).not.toContain('::warning::');

    const rerun = await newRunFinds('blue', 'deploy', 'r2');
    expect(rerun.outputs).toMatchObject({ 'target-color': 'green', release: 'r2' });
    expect(await world.whoAnswers(world.previewUrl)).toMatchObject(served('green', 'r2'));
  }, 300_000);

  it('SIGINT mid-progressive-switch under load: the split this run made goes back to blue, zero failed requests, and the next switch runs at once', async () => {
    load = new ColorLoad(world.publicUrl, 4);
    const step = startStep(MAIN, world.inputs('switch', 'r2', { 'traffic-steps': '25,100', 'step-pause': '60' }), runId++);
    await step.waitForLine(/^::group::Shift 25%25 of traffic \(green\)/);
    // The load sees green: a quarter of the requests go there now.
    expect(await load.latencyTo('green', now())).toBeDefined();
    step.kill('SIGINT');
    const run = await step.done;

    expect(run.outputs).toMatchObject({ result: 'cancelled', 'live-color': 'blue' });
    expect(run.summary).toContain('🚫 cancelled (traffic on blue)');
    expect(run.summary).toContain('the split this run made (split (blue 75%, green 25%)) is undone: all traffic on blue');
    expect(run.summary).toMatch(/<td>Move traffic<\/td><td>green<\/td><td>[^<]*<\/td><td>⏭️ not run<\/td>/);
    expect(await publicAnswers()).toEqual(Array(6).fill(served('blue', 'r1')));
    expect(state()?.lastRun).toMatchObject({ mode: 'switch', outcome: 'cancelled' });

    await newRunFinds('blue', 'switch', 'r2');
    expect(await publicAnswers()).toEqual(Array(6).fill(served('green', 'r2')));
    const counts = await load.stop();
    load = undefined;
    expect({ failed: counts.failed, connectionErrors: counts.connectionErrors, serverErrors: counts.serverErrors }).toEqual({
      failed: 0,
      connectionErrors: 0,
      serverErrors: 0,
    });
    expect(counts.byColor.green).toBeGreaterThan(0);
    expect(counts.byColor.blue).toBeGreaterThan(0);
  }, 300_000);

  it('SIGKILL mid-switch: the post step deletes the lock the killed step held, and the next run starts at once', async () => {
    // Back to blue, which runs r1: a switch names the release it makes live.
    const id = runId++;
    const step = startStep(MAIN, world.inputs('switch', 'r1'), id);
    await step.waitForLine(/^::group::Validate after the move \(blue\)/);
    step.kill('SIGKILL');
    const run = await step.done;
    expect(run.signal).toBe('SIGKILL');
    // Killed outright: the lock is still there, and would hold the next run for lock-expiry.
    expect(api.json(LOCK)).toMatchObject({ run: { id: String(id) } });
    const blocked = await action('switch', 'r1', { 'lock-timeout': '0' });
    expect(errors(blocked.log)).toEqual([expect.stringContaining(`The deploy lock of shop is held by https://github.com/acme/shop/actions/runs/${id} `)]);

    const post = await startStep(POST, world.inputs('switch', 'r1'), id, run.saved).done;
    expect(post.code).toBe(0);
    expect(post.log).toContain(`::warning::The main step ended without releasing its deploy lock (it was killed): deleted the repository variable ${LOCK}`);
    expect(api.variables.has(LOCK)).toBe(false);

    // Blue took the traffic before the kill, and the state recorded it.
    expect(await publicAnswers()).toEqual(Array(6).fill(served('blue', 'r1')));
    await newRunFinds('blue', 'rollback', 'r2');
    expect(await publicAnswers()).toEqual(Array(6).fill(served('green', 'r2')));
    expect(api.violations).toEqual([]);
  }, 300_000);
});
