import { describe, expect, it } from '@jest/globals';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalRunner, type Argv, type CommandResult, type CommandRunner, type RunOptions } from '../src/hosts/command.js';
import type { Host, Provider } from '../src/providers/types.js';
import { sleep } from '../src/retry.js';
import type { AppState } from '../src/state/model.js';
import { SERVER_CHECKS, mapPathFor } from '../src/traffic/haproxy-config.js';
import type { HaproxyTraffic } from '../src/traffic/haproxy.js';
import { errorLines, runAction } from './support/action.js';
import { inputsWithToken, runnerEnv, useGitHubApi } from './support/github-api.js';
import { useHaproxyLab } from './support/haproxy-jest.js';

/** What a deploy or a switch may do to HAProxy while a color serves traffic. */
const lab = useHaproxyLab({ base: 125, hostsPerColor: 1, live: 'blue' });
const { api, url } = useGitHubApi('127.0.5.146');

/** The lines of one section of the installed haproxy.cfg. */
function installedSection(name: string): string[] {
  const config = readFileSync(lab.configPath, 'utf8');
  const start = config.indexOf(`\n${name}\n`);
  return (
    config
      .slice(start + name.length + 2)
      .split('\n\n')[0]
      ?.split('\n')
      .map((line) => line.trim()) ?? []
  );
}

/** Sends GET / through the live route every 100 ms until stopped; returns the statuses seen. */
function watchLiveRoute(): { stop: () => Promise<number[]> } {
  const statuses: number[] = [];
  let watching = true;
  const loop = (async () => {
    while (watching) {
      statuses.push((await lab.answerOf().catch(() => ({ status: 0 }))).status);
      await sleep(100);
    }
  })();
  return {
    stop: async () => {
      watching = false;
      await loop;
      return statuses;
    },
  };
}

describe('a deploy never changes the checks of the color that serves traffic', () => {
  it('a new health-path: the idle color is checked with it, live blue keeps its check, stays UP and answers 200 throughout', async () => {
    const traffic: HaproxyTraffic = lab.traffic({ healthPath: '/ready' });
    // The new release answers /ready; the one live on blue answers only /health (/ready is a 404 there).
    const provider: Provider = {
      ...lab.provider(traffic, { path: '/ready', expectedStatus: 200, timeoutMs: 2000, retries: 10, intervalMs: 500 }),
      releaser: {
        release: async (hosts: Host[], release: string) => {
          for (const host of hosts) {
            await lab.server(host.name).stop();
            await lab.server(host.name).start(release, { ready: true });
          }
          return hosts.map((host) => ({ host, ok: true, durationMs: 1, detail: `release ${release} live on host` }));
        },
      },
    };
    const watch = watchLiveRoute();
    const run = await runAction(lab.switchInputs({ mode: 'deploy', 'health-path': '/ready' }), provider);
    // HAProxy takes a server DOWN after `fall` failed checks, `inter` apart: keep watching that long.
    await sleep(SERVER_CHECKS.interMs * (SERVER_CHECKS.fall + 1));
    const statuses = await watch.stop();

    expect(run.failed).toBe(false);
    expect(new Set(statuses)).toEqual(new Set([200]));
    const blue = (await traffic.showStat()).find((row) => row.pxname === 'bg_blue' && row.svname === '127.0.5.126');
    expect(blue?.status).toBe('UP');
    expect(await lab.answerOf()).toMatchObject({ color: 'blue', status: 200 });
    expect(installedSection('backend bg_green')).toContain('option httpchk GET /ready');
    expect(installedSection('backend bg_blue')).toContain('option httpchk GET /health');
    expect(run.log).toMatch(/blue serves traffic, so it keeps its installed check \(GET \/health expecting 200, port 5000\) until a run releases to it/);
  }, 90_000);
});

/**
 * Commands run on the runner, with `socat` (the admin socket client) replaced by a script that
 * fails when it is sent `set map` (from the `from`th time on): before passing it on (the socket
 * refused the connection), or after (HAProxy switched, the answer was lost).
 */
class FailingSetMap implements CommandRunner {
  readonly description = 'the runner';
  private readonly local = new LocalRunner();
  private readonly shim: string;

  constructor(when: 'refused' | 'answer lost', from = 1) {
    this.shim = join(lab.dir, `socat-${when.replace(' ', '-')}-from-${from}-${Date.now()}`);
    const failure = when === 'refused' ? 'socat[1] E connect(5, AF=1, 108): Connection refused' : 'socat[1] E read(5, 8192): Connection reset by peer';
    const script = [
      '#!/bin/sh',
      'input=$(cat)',
      'n=0',
      'case $input in *"set map"*) n=$(( $(cat "$0.count" 2>/dev/null || echo 0) + 1 )); echo "$n" > "$0.count" ;; esac',
      `if [ "$n" -ge ${from} ]; then`,
      ...(when === 'answer lost' ? ['  printf \'%s\\n\' "$input" | socat "$@" >/dev/null'] : []),
      `  echo '${failure}' >&2; exit 1`,
      'fi',
      'printf \'%s\\n\' "$input" | exec socat "$@"',
      '',
    ];
    writeFileSync(this.shim, script.join('\n'), { mode: 0o755 });
  }

  run(argv: Argv, options?: RunOptions): Promise<CommandResult> {
    return this.local.run(
      argv.map((arg) => (arg === 'socat' ? this.shim : arg)),
      options,
    );
  }

  async close(): Promise<void> {}
}

const liveLineOfMapFile = () =>
  readFileSync(mapPathFor(lab.configPath), 'utf8')
    .split('\n')
    .find((line) => line.startsWith('live '));

const stateInputs = (extra: Record<string, string>) => inputsWithToken({ ...lab.switchInputs(), 'lock-timeout': '0', ...extra });
const env = () => runnerEnv(url(), { GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567' });
const state = () => api.json('BLUEGREEN_SHOP') as unknown as AppState;

describe('a move that fails half way', () => {
  it('set map refused after the map file was written: the file goes back to what HAProxy routes, so a reload keeps blue', async () => {
    const traffic = lab.traffic({}, new FailingSetMap('refused'));
    const failed = await traffic.moveTo('green', lab.hosts.green).then(
      () => 'moved',
      (error: unknown) => (error instanceof Error ? error.message : String(error)),
    );
    expect(liveLineOfMapFile()).toBe('live bg_blue');
    const worker = await lab.workerPid();
    process.kill(lab.masterPid, 'SIGUSR2');
    await lab.waitForNewWorker(worker);
    expect(await lab.traffic().readLive()).toEqual({ kind: 'color', color: 'blue' });
    expect(await lab.answerOf()).toMatchObject({ color: 'blue', status: 200 });
    expect(failed).toMatch(
      /^Could not switch HAProxy on the runner to green: socat\[1\] E connect\(5, AF=1, 108\): Connection refused\. .* \S+haproxy\.live\.map was put back to what HAProxy routes to now \(live bg_blue\)\.$/,
    );
  }, 60_000);

  it('a rollback whose move took effect but reported an error: read back, validated and recorded as live', async () => {
    api.setVariable('BLUEGREEN_SHOP', JSON.stringify({ version: 1, live: 'blue', previous: 'green', releases: { blue: 'r2', green: 'r1' }, history: [] }));
    const traffic = lab.traffic({}, new FailingSetMap('answer lost'));
    const run = await runAction(stateInputs({ mode: 'rollback' }), lab.provider(traffic), env());
    expect(run.failed).toBe(false);
    expect(run.log).toMatch(
      /::warning title=The move to green took effect despite an error::green is live \(read back from HAProxy on the runner\), though the move reported: Could not switch HAProxy on the runner to green: socat\[1\] E read\(5, 8192\): Connection reset by peer\./,
    );
    expect(await lab.answerOf()).toMatchObject({ color: 'green', status: 200 });
    expect(liveLineOfMapFile()).toBe('live bg_green');
    // Recorded as done: a rerun of this job would not read green as the old color and move traffic back.
    expect(state()).toMatchObject({ live: 'green', previous: 'blue', lastRun: { mode: 'rollback', target: 'green', outcome: 'succeeded' } });
    expect(state().lastRun?.completed).toEqual(expect.arrayContaining(['switch', 'validate']));
    expect(state().history[0]).toMatchObject({ from: 'blue', to: 'green', by: 'rollback' });
  }, 60_000);

  it('the automatic move back took effect but reported an error: recorded as an auto-rollback', async () => {
    api.setVariable('BLUEGREEN_SHOP', JSON.stringify({ version: 1, live: 'green', previous: 'blue', releases: { blue: 'r2', green: 'r1' }, history: [] }));
    // The move to blue goes through; the move back loses HAProxy's answer.
    const traffic = lab.traffic({}, new FailingSetMap('answer lost', 2));
    // Blue's release answers /ready with a 404: validation through the public URL fails after the move.
    const run = await runAction(
      stateInputs({ mode: 'switch', release: 'r2', 'public-url': lab.liveUrl, 'validation-path': '/ready' }),
      lab.provider(traffic),
      env(),
    );
    expect(run.failed).toBe(true);
    expect(errorLines(run.log).at(-1)).toMatch(
      /^::error::Validation failed: .*\. Traffic was moved back to green \d+ ms after the failed check \(HAProxy on the runner reports it live, though the move back reported: Could not switch HAProxy on the runner to green: socat\[1\] E read\(5, 8192\): Connection reset by peer\. .*\)\.$/,
    );
    expect(await lab.answerOf()).toMatchObject({ color: 'green', status: 200 });
    expect(liveLineOfMapFile()).toBe('live bg_green');
    expect(state()).toMatchObject({ live: 'green', previous: 'blue' });
    expect(state().history.slice(0, 2)).toEqual([
      expect.objectContaining({ from: 'blue', to: 'green', by: 'auto-rollback' }),
      expect.objectContaining({ from: 'green', to: 'blue', by: 'switch' }),
    ]);
  }, 60_000);
});

describe('a switch goes live only with the release it was asked for', () => {
  it('refuses when the state records another release on the target color, naming both', async () => {
    api.setVariable('BLUEGREEN_SHOP', JSON.stringify({ version: 1, live: 'green', previous: 'blue', releases: { blue: 'r2', green: 'r1' }, history: [] }));
    const run = await runAction(stateInputs({ mode: 'switch', release: 'r3' }), lab.provider(lab.traffic()), env());
    expect(run.failed).toBe(true);
    expect(errorLines(run.log).at(-1)).toBe(
      '::error::This switch is for release r3, but the state variable BLUEGREEN_SHOP records release r2 on blue, so switching would send traffic to r2. Nothing was changed. Deploy r3 to blue first (mode: deploy), or switch with release: r2 if that is the one to go live.',
    );
    expect(await lab.answerOf()).toMatchObject({ color: 'green', status: 200 });
    expect(state().live).toBe('green');

    const asked = await runAction(stateInputs({ mode: 'switch', release: 'r2' }), lab.provider(lab.traffic()), env());
    expect(asked.failed).toBe(false);
    expect(await lab.answerOf()).toMatchObject({ color: 'blue', status: 200 });
  }, 60_000);
});
