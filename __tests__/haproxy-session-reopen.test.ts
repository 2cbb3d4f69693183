import { describe, expect, it, jest } from '@jest/globals';
import { LocalRunner, type Argv, type CommandResult, type RunOptions } from '../src/hosts/command.js';
import { useHaproxyLab } from './support/haproxy-jest.js';

/**
 * A run that met HAProxy mid-restart (its admin socket took no session) falls back to one socat
 * per command; once HAProxy is back, its next switch holds a runtime API session open again, and
 * the log says so once. A run tries that a bounded number of times, then stays on socat.
 */
const lab = useHaproxyLab({ base: 10, network: '127.0.61', live: 'blue' });

/** The runner's own commands on this machine, counted: every one starts a process. */
class CountingRunner extends LocalRunner {
  started: string[] = [];
  override run(argv: Argv, options?: RunOptions): Promise<CommandResult> {
    this.started.push(argv.join(' '));
    return super.run(argv, options);
  }
  get socats(): number {
    return this.started.filter((command) => command.startsWith('socat')).length;
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

const failureOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 'succeeded',
    (error: unknown) => String(error),
  );

async function colorsServing(count = 6): Promise<Set<string>> {
  const colors = new Set<string>();
  for (let i = 0; i < count; i++) colors.add((await lab.answerOf()).color);
  return colors;
}

const HELD_AGAIN = /HAProxy: a runtime API session is held open again on \S+admin\.sock on local; commands go over it instead of socat\./g;

describe('a run that fell back to socat', () => {
  it('holds a session open again at its next switch once HAProxy is back, and says so once', async () => {
    await lab.stopHaproxy();
    const runner = new CountingRunner();
    const traffic = lab.traffic({}, runner);
    const fellBack = await logOf(async () => {
      expect(await failureOf(traffic.readLive())).toMatch(/did not answer `show map`: .*Connection refused/);
    });
    expect(fellBack).toMatch(
      /HAProxy: could not hold a runtime API session open on \S+admin\.sock on local \(connect ECONNREFUSED \S+admin\.sock\); each command starts socat instead until a switch holds a session open again \(at most 3 more tries\)\./,
    );
    await lab.startHaproxy();

    // Until the switch, each command starts socat, and answers as a session does.
    runner.started = [];
    const bySocat = await traffic.readLive();
    const health = await traffic.balancerHealth('green', lab.hosts.green);
    expect(runner.socats).toBeGreaterThan(0);
    expect(bySocat).toEqual(await lab.read((fresh) => fresh.readLive()));
    expect(bySocat).toEqual({ kind: 'color', color: 'blue' });
    expect([...health.values()].map((state) => state.up)).toEqual([true, true]);

    runner.started = [];
    const log = await logOf(async () => {
      await traffic.moveTo('green', lab.hosts.green);
      expect(await colorsServing()).toEqual(new Set(['green']));
      await traffic.moveTo('blue', lab.hosts.blue);
      expect(await colorsServing()).toEqual(new Set(['blue']));
      await traffic.drain('green');
    });
    expect(log.match(HELD_AGAIN)).toHaveLength(1);
    // Both switches and the drain went over the session: no process started.
    expect(runner.started).toEqual([]);
  }, 60_000);

  it('tries again at most 3 times, then switches by socat for the rest of the run, as correctly', async () => {
    await lab.stopHaproxy();
    const runner = new CountingRunner();
    const traffic = lab.traffic({}, runner);
    await logOf(() => failureOf(traffic.readLive()));
    await lab.startHaproxy();
    // The verify phase's view of HAProxy (by socat): HAProxy's members are in sync before the switches.
    await traffic.balancerHealth('green', lab.hosts.green);

    await lab.stopHaproxy();
    const refused = await logOf(async () => {
      for (let i = 0; i < 4; i++)
        expect(await failureOf(traffic.moveTo('green', lab.hosts.green))).toMatch(/Could not switch HAProxy on local to green: .*Connection refused/);
    });
    expect(refused).toMatch(
      /HAProxy: still no runtime API session on \S+admin\.sock on local after 3 more tries \(connect ECONNREFUSED \S+admin\.sock\); each command starts socat for the rest of the run\./,
    );
    await lab.startHaproxy();

    runner.started = [];
    const log = await logOf(async () => {
      await traffic.moveTo('green', lab.hosts.green);
      expect(await colorsServing()).toEqual(new Set(['green']));
      await traffic.moveTo('blue', lab.hosts.blue);
      expect(await colorsServing()).toEqual(new Set(['blue']));
    });
    expect(log).not.toMatch(HELD_AGAIN);
    expect(runner.socats).toBeGreaterThan(0);
    expect(await lab.read((fresh) => fresh.readLive())).toEqual({ kind: 'color', color: 'blue' });
  }, 60_000);
});
