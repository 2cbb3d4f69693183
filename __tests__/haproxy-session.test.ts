import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { chmodSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { connectSsh } from '../src/hosts/ssh.js';
import { LocalRunner, type Argv, type CommandResult, type RunOptions } from '../src/hosts/command.js';
import { mapPathFor } from '../src/traffic/haproxy-config.js';
import { HaproxyLab, RemoteShellRunner } from '../lab/haproxy.js';
import { SshWorld } from '../lab/sshd.js';

/**
 * The runtime API session a run holds open to a real HAProxy: switches go over it with no process
 * started; when it cannot be opened each command starts socat, and the log says so; a session
 * HAProxy ended, or that a reload left with the old worker, is replaced.
 */
const lab = new HaproxyLab({ base: 202, live: 'blue' });
/** A real sshd in front of the lab's HAProxy, as a load balancer host reached with haproxy-host. */
let world: SshWorld | undefined;
beforeAll(async () => {
  await lab.start();
  world = await SshWorld.start({ firstOctet: 10, hostsPerColor: { blue: 1, green: 0 }, network: '127.0.49' });
}, 60_000);
afterAll(async () => {
  await world?.stop();
  await lab.stop();
}, 60_000);

/** The runner's own commands on this machine, counted: every one starts a process. */
class CountingRunner extends LocalRunner {
  started: string[] = [];
  override run(argv: Argv, options?: RunOptions): Promise<CommandResult> {
    this.started.push(argv.join(' '));
    return super.run(argv, options);
  }
}

/** What the action printed with core.info while `body` ran. */
async function logOf(body: () => Promise<unknown>): Promise<string> {
  const lines: string[] = [];
  const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (lines.push(String(chunk)), true));
  try {
    await body();
  } finally {
    write.mockRestore();
  }
  return lines.join('');
}

const liveLineOfMapFile = () =>
  readFileSync(mapPathFor(lab.configPath), 'utf8')
    .split('\n')
    .find((line) => line.startsWith('live '));

async function colorsServing(count = 6): Promise<Set<string>> {
  const colors = new Set<string>();
  for (let i = 0; i < count; i++) colors.add((await lab.answerOf()).color);
  return colors;
}

describe('one runtime API session per run', () => {
  it('switches over the session with no process started, the map file saved first', async () => {
    const runner = new CountingRunner();
    const traffic = lab.traffic({}, runner);
    try {
      // As in a run: the verify phase syncs HAProxy's members and reads its view before the switch.
      await traffic.balancerHealth('green', lab.hosts.green);
      runner.started = [];
      expect(await traffic.moveTo('green', lab.hosts.green)).toMatch(/^green is live .*, was blue$/);
      expect(runner.started).toEqual([]);
      expect(await colorsServing()).toEqual(new Set(['green']));
      expect(liveLineOfMapFile()).toBe('live bg_green');
      await traffic.moveTo('blue', lab.hosts.blue);
      expect(runner.started).toEqual([]);
      expect(await colorsServing()).toEqual(new Set(['blue']));
    } finally {
      await traffic.close();
    }
  }, 60_000);

  it('holds socat open in prompt mode when HAProxy is reached through a remote shell', async () => {
    const traffic = lab.traffic({}, new RemoteShellRunner());
    try {
      const log = await logOf(async () => {
        await traffic.moveTo('green', lab.hosts.green);
        await traffic.moveTo('blue', lab.hosts.blue);
      });
      expect(log).not.toContain('could not hold a runtime API session open');
      expect(await colorsServing()).toEqual(new Set(['blue']));
      expect(liveLineOfMapFile()).toBe('live bg_blue');
    } finally {
      await traffic.close();
    }
  }, 60_000);

  it('falls back to one socat per command when the admin socket refuses the session, and says so', async () => {
    const runner = new CountingRunner();
    const traffic = lab.traffic({}, runner);
    try {
      await lab.stopHaproxy();
      let refused = '';
      const log = await logOf(async () => {
        refused = await traffic.readLive().then(
          () => 'read',
          (error: unknown) => String(error),
        );
      });
      expect(log).toMatch(
        /HAProxy: could not hold a runtime API session open on \S+admin\.sock on local \(connect ECONNREFUSED \S+admin\.sock\); each command starts socat instead until a switch holds a session open again \(at most 3 more tries\)\./,
      );
      expect(refused).toMatch(/did not answer `show map`: .*Connection refused/);
      // socat's own timestamp and pid are left out of the one line.
      expect(refused).not.toMatch(/socat\[\d+\]/);
      await lab.startHaproxy();
      runner.started = [];
      expect(await traffic.readLive()).toEqual({ kind: 'color', color: 'blue' });
      expect(runner.started.some((command) => command.startsWith('socat'))).toBe(true);
      // The switch holds a session open again (haproxy-session-reopen.test.ts).
      await traffic.moveTo('green', lab.hosts.green);
      expect(await colorsServing()).toEqual(new Set(['green']));
      await traffic.moveTo('blue', lab.hosts.blue);
      expect(await colorsServing()).toEqual(new Set(['blue']));
    } finally {
      await traffic.close();
    }
  }, 60_000);

  it('replaces a session HAProxy ended (a restart) and one a reload left with the old worker', async () => {
    const runner = new CountingRunner();
    const traffic = lab.traffic({}, runner);
    try {
      await traffic.moveTo('green', lab.hosts.green);
      await lab.stopHaproxy();
      await lab.startHaproxy();
      runner.started = [];
      const log = await logOf(() => traffic.moveTo('blue', lab.hosts.blue));
      expect(log).toMatch(/HAProxy: the runtime API session ended \(HAProxy closed the session\); opening another\./);
      expect(runner.started).toEqual([]);
      expect(await colorsServing()).toEqual(new Set(['blue']));

      // A seamless reload: the held session still reaches the old worker, which now routes nothing.
      const worker = await lab.workerPid();
      process.kill(lab.masterPid, 'SIGUSR2');
      await lab.waitForNewWorker(worker);
      await traffic.moveTo('green', lab.hosts.green);
      expect(runner.started).toEqual([]);
      expect(await colorsServing()).toEqual(new Set(['green']));
      expect(await lab.traffic().readLive()).toEqual({ kind: 'color', color: 'green' });
    } finally {
      await traffic.close();
    }
  }, 60_000);

  it('holds one SSH channel to socat open on a real sshd, and switches over it', async () => {
    const host = world?.hosts[0];
    if (!world || !host) throw new Error('no sshd host');
    // The SSH user reaches the admin socket and writes the map file, as on a load balancer host.
    chmodSync(dirname(lab.configPath), 0o777);
    chmodSync(lab.socketPath, 0o666);
    chmodSync(mapPathFor(lab.configPath), 0o666);
    const runner = await connectSsh({ host: host.address, port: host.port, user: host.user }, world.ssh);
    const traffic = lab.traffic({}, runner);
    try {
      const log = await logOf(async () => {
        await traffic.moveTo('green', lab.hosts.green);
        await traffic.moveTo('blue', lab.hosts.blue);
      });
      expect(log).not.toContain('could not hold a runtime API session open');
      expect(await colorsServing()).toEqual(new Set(['blue']));
      expect(liveLineOfMapFile()).toBe('live bg_blue');
    } finally {
      await traffic.close();
    }
  }, 60_000);
});
