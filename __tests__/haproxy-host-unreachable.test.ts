import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { runnerForHaproxyHost } from '../src/run/provider.js';
import { readSettings } from '../src/settings.js';
import type { AppState } from '../src/state/model.js';
import { mapPathFor } from '../src/traffic/haproxy-config.js';
import { errorLines, runAction } from './support/action.js';
import { inputsWithToken, runnerEnv, useGitHubApi } from './support/github-api.js';
import { HaproxyLab } from '../lab/haproxy.js';
import { SshWorld, type SshHost } from '../lab/sshd.js';
import { sleep } from '../src/retry.js';

/**
 * HAProxy on a load balancer host the action reaches over SSH (`haproxy-host`), a real sshd on
 * 127.0.27.1 that logs in the user HAProxy runs as, in front of real Starman servers. The action
 * keeps that one SSH connection for the whole run; here it drops mid-run.
 */
let world: SshWorld;
let lbHost: SshHost;
let lab: HaproxyLab;
const { api, url } = useGitHubApi('127.0.28.1');
const state = () => api.json('BLUEGREEN_SHOP') as unknown as AppState;
const env = (attempt: number): NodeJS.ProcessEnv => runnerEnv(url(), { GITHUB_RUN_ID: '7105', GITHUB_RUN_ATTEMPT: String(attempt) });

beforeAll(async () => {
  world = await SshWorld.start({ firstOctet: 1, hostsPerColor: { blue: 1, green: 0 }, network: '127.0.27' });
  lbHost = world.hosts[0] as SshHost;
  const id = (flag: string) => Number(execFileSync('id', [flag, lbHost.user], { encoding: 'utf8' }));
  lab = new HaproxyLab({ base: 150, live: 'blue', runAs: { uid: id('-u'), gid: id('-g') } });
  await lab.start();
}, 120_000);
afterAll(async () => {
  await lab?.stop();
  await world?.stop();
});

/** A switch run of the action with HAProxy on the LB host over SSH, state in the repository variable. */
function inputs(extra: Record<string, string> = {}): Record<string, string> {
  return inputsWithToken(
    lab.switchInputs({
      'lock-timeout': '0',
      'haproxy-host': lbHost.spec,
      'haproxy-config': lab.configPath,
      'haproxy-socket': lab.socketPath,
      'haproxy-bind': `${lab.address}:8080`,
      'haproxy-preview-bind': `${lab.address}:8081`,
      'app-port': '5000',
      'ssh-private-key': world.privateKey,
      'ssh-known-hosts': world.knownHosts,
      'public-url': lab.liveUrl,
      ...extra,
    }),
  );
}

/** What HAProxy routes live requests to, as its own runtime map says (read on the LB host as root). */
async function liveInHaproxy() {
  return lab.read((traffic) => traffic.readLive());
}

function liveInMapFile(): string | undefined {
  return /^live bg_(\w+)$/m.exec(readFileSync(mapPathFor(lab.configPath), 'utf8'))?.[1];
}

async function until(what: string, test: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await test().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`${what} did not happen within ${timeoutMs / 1000} s`);
}

describe('the SSH connection to the HAProxy host drops during a progressive switch', () => {
  it.each<[string, 'kill' | 'freeze']>([
    ['killed, and its sshd restarted', 'kill'],
    ['frozen (SIGSTOP), so only keepalives can tell', 'freeze'],
  ])(
    'moves traffic back to blue after a failed validation when the session was %s',
    async (_, fault) => {
      expect(await liveInHaproxy()).toEqual({ kind: 'color', color: 'blue' });
      const greenServed = async () =>
        Number((await lab.read((traffic) => traffic.showStat())).find((row) => row.pxname === 'bg_green' && row.svname === 'BACKEND')?.stot ?? 0);
      const servedBefore = await greenServed();
      const running = runAction(
        inputs({ 'traffic-steps': '20,100', 'step-pause': '60', 'validation-path': '/', 'validation-requests': '20', 'validation-success-percent': '95' }),
        undefined,
        env(1),
      );
      try {
        // The step holds 20% on green and its validation requests reach green: the run now waits
        // out its pause, its SSH connection idle.
        await until('the 20% step', async () => (await liveInHaproxy()).kind === 'weighted' && (await greenServed()) > servedBefore);
        if (fault === 'kill') {
          expect(world.killSessions(lbHost)).toBeGreaterThan(0);
          await world.stopSshd(lbHost);
          await world.startSshd(lbHost);
        } else {
          expect(world.freezeSessions(lbHost)).toBeGreaterThan(0);
        }
        // Then green fails: every request sent to it fails, and the next validation round sees it.
        await Promise.all(lab.hosts.green.map((host) => lab.server(host.name).stop()));
      } finally {
        const run = await running;
        await Promise.all(lab.hosts.green.map((host) => lab.server(host.name).start('r1')));
        world.killSessions(lbHost);

        expect(run.outputs).toMatchObject({ result: 'failure', 'live-color': 'blue', 'target-color': 'green' });
        expect(errorLines(run.log).at(-1)).toMatch(/^::error::Validation failed: .* Traffic was moved back to blue \d+ ms after the failed check\.$/);
        // The move back's first command on the HAProxy host opens the runtime API session again (socat).
        expect(run.log).toMatch(
          new RegExp(
            `The SSH connection to ${lbHost.spec} was lost \\([^)]+\\) before socat could start there, so nothing of it ran; connected to ${lbHost.spec} again and ran it over the new connection\\.`,
          ),
        );
        expect(await liveInHaproxy()).toEqual({ kind: 'color', color: 'blue' });
        expect(liveInMapFile()).toBe('blue');
        expect((await lab.answerOf()).color).toBe('blue');
        expect(state().live).toBe('blue');
      }
    },
    120_000,
  );
});

describe('the idle SSH connection to a frozen HAProxy host', () => {
  it('is ended by keepalives without crashing the run, and the next command connects again', async () => {
    const settings = readSettings((name) => inputs()[name] ?? '', { GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567' });
    const runner = runnerForHaproxyHost(settings);
    try {
      expect((await runner.run(['echo', 'first'])).stdout).toBe('first\n');
      expect(world.freezeSessions(lbHost)).toBeGreaterThan(0);
      // Three unanswered keepalives, a quarter of the 20 s connect limit apart, end the connection
      // while no command runs: its 'error' event must be handled, or this process would crash.
      await sleep(25_000);
      const printed: string[] = [];
      jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => printed.push(String(chunk)) > 0);
      const again = await runner.run(['echo', 'second']);
      expect(again.stdout).toBe('second\n');
      expect(printed).toContainEqual(
        expect.stringMatching(
          /^The SSH connection to .* was lost \(Keepalive timeout\) before echo could start there, so nothing of it ran; connected to .* again and ran it over the new connection\.\n$/,
        ),
      );
    } finally {
      jest.restoreAllMocks();
      world.killSessions(lbHost);
      await runner.close();
    }
  }, 60_000);
});

describe('the HAProxy host becomes unreachable after the release, before the switch', () => {
  it('fails with one line naming the host and the step, leaves traffic on blue, and a rerun completes the switch', async () => {
    expect(await liveInHaproxy()).toEqual({ kind: 'color', color: 'blue' });
    const listener = world.sshdPid(lbHost);
    // The before-switch hook runs on the runner after verify read HAProxy over SSH: it takes the
    // LB host's sshd down, sessions and all, as a crashed host or a cut link would.
    const failed = await runAction(inputs({ 'before-switch': `runner: kill -9 $(pgrep -P ${listener}) ${listener}` }), undefined, env(1));

    expect(failed.outputs).toMatchObject({ result: 'failure', 'target-color': 'green' });
    const errors = errorLines(failed.log);
    expect(errors).toHaveLength(1);
    // The first command of the switch to meet the dropped connection: the runtime API session
    // (socat) or, when the switch's read got through before the drop was seen, the map file's write (sh).
    expect(errors[0]).toMatch(
      new RegExp(
        `^::error::Move traffic: The SSH connection to ${lbHost.user}@127\\.0\\.27\\.1:2222 was lost \\([^)]+\\) before (socat|sh) could start there, so nothing of it ran; connecting again failed: Cannot connect to ${lbHost.user}@127\\.0\\.27\\.1:2222 over SSH: connection refused: nothing listens on port 2222\\. .*$`,
      ),
    );
    expect(failed.summary).toMatch(/<td>Move traffic<\/td><td>green<\/td><td>HAProxy on 127\.0\.27\.1<\/td><td>❌ failed<\/td>/);
    // Traffic never moved.
    expect(await liveInHaproxy()).toEqual({ kind: 'color', color: 'blue' });
    expect(liveInMapFile()).toBe('blue');
    expect((await lab.answerOf()).color).toBe('blue');
    expect(state()).toMatchObject({ live: 'blue', lastRun: { outcome: 'failed', failedPhase: 'switch' } });

    // The host is back; the same switch again completes.
    await world.startSshd(lbHost);
    const rerun = await runAction(inputs(), undefined, env(2));
    expect(errorLines(rerun.log)).toEqual([]);
    expect(rerun.outputs).toMatchObject({ result: 'success', 'live-color': 'green', 'previous-color': 'blue' });
    expect(await liveInHaproxy()).toEqual({ kind: 'color', color: 'green' });
    expect(liveInMapFile()).toBe('green');
    expect((await lab.answerOf()).color).toBe('green');
    expect(state()).toMatchObject({ live: 'green', lastRun: { outcome: 'succeeded' } });
  }, 120_000);
});
