import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { ColorLoad } from '../bench/support/color-load.js';
import { LocalRunner, type Argv, type CommandResult, type CommandRunner, type RunOptions } from '../src/hosts/command.js';
import type { AppState } from '../src/state/model.js';
import { mapPathFor } from '../src/traffic/haproxy-config.js';
import { errorLines, runAction } from './support/action.js';
import { inputsWithToken, runnerEnv, useGitHubApi } from './support/github-api.js';
import { HaproxyLab } from '../lab/haproxy.js';

/**
 * HAProxy dies (kill -9 of the master and every worker) at points through a switch run, and
 * starts again from its files (the same config and map file) as systemd's Restart= would. After
 * each, the same switch run again must end with one live color on which the map file, HAProxy's
 * own runtime map and the recorded state agree. Then a membership change that HAProxy refuses
 * (haproxy -c, or the reload) must leave the config and live traffic as they were.
 */
const lab = new HaproxyLab({ base: 175, live: 'blue' });
const { api, url } = useGitHubApi('127.0.28.2');
const state = () => api.json('BLUEGREEN_SHOP') as unknown as AppState;
let runId = 7200;
const env = (attempt: number): NodeJS.ProcessEnv => runnerEnv(url(), { GITHUB_RUN_ID: String(runId), GITHUB_RUN_ATTEMPT: String(attempt) });
const inputs = () => inputsWithToken(lab.switchInputs({ 'lock-timeout': '0', 'public-url': lab.liveUrl }));

beforeAll(async () => {
  await lab.start();
}, 60_000);
afterAll(async () => {
  await lab.stop();
});

type KillPoint = 'before set map' | 'after the map file is written' | 'after set map';

/**
 * The switch's commands as the action runs them on this machine (Node's own connection to the
 * admin socket and its own file writes, passed on to a LocalRunner), with HAProxy killed at `point`
 * and gone before the switch goes on: when the switch, having read HAProxy, goes to write the map
 * file for green (nothing is written yet); right after that file was renamed into place, before
 * `set map`; or after HAProxy answered `set map`, before the run reads it back. Every other command
 * runs untouched.
 */
class KillHaproxyDuringSwitch implements CommandRunner {
  readonly description = 'the runner';
  private readonly local = new LocalRunner();
  private killed = false;

  constructor(private readonly point: KillPoint) {}

  run(argv: Argv, options?: RunOptions): Promise<CommandResult> {
    return this.local.run(argv, options);
  }

  async writeFile(path: string, content: string): Promise<void> {
    const switching = path === mapPathFor(lab.configPath) && /^live bg_green$/m.test(content);
    if (switching && this.point === 'before set map') await this.kill();
    await this.local.writeFile(path, content);
    if (switching && this.point === 'after the map file is written') await this.kill();
  }

  /** The runtime API session; for 'after set map', the first command written after `set map` finds HAProxy killed. */
  async connectSocket(path: string): Promise<Duplex> {
    const socket = (await this.local.connectSocket(path)) as Socket;
    if (this.point !== 'after set map') return socket;
    let setMapSent = false;
    const session = new Duplex({
      read: () => undefined,
      write: (chunk: Buffer, _encoding, done) => {
        const command = String(chunk);
        const killFirst = setMapSent && !command.startsWith('set map ');
        setMapSent ||= command.startsWith('set map ');
        (killFirst ? this.kill() : Promise.resolve()).then(() => (socket.destroyed ? done() : socket.write(chunk, () => done())), done);
      },
      destroy: (error, done) => (socket.destroy(), done(error)),
    });
    socket.on('data', (chunk: Buffer) => session.push(chunk));
    socket.on('end', () => session.push(null));
    socket.on('close', () => session.destroy());
    socket.on('error', (error) => session.destroy(error));
    // As Node's socket: an idle session does not keep the test's process alive.
    return Object.assign(session, { ref: () => socket.ref(), unref: () => socket.unref() });
  }

  private async kill(): Promise<void> {
    if (this.killed) return;
    this.killed = true;
    await lab.killHaproxy();
  }

  async close(): Promise<void> {}
}

/** The live color as the map file, HAProxy's runtime map, requests through HAProxy, and the state each tell it. */
async function liveEverywhere(): Promise<{ file?: string; haproxy?: string; answers: string; state?: string }> {
  const live = await lab.read((traffic) => traffic.readLive());
  return {
    file: /^live bg_(\w+)$/m.exec(readFileSync(mapPathFor(lab.configPath), 'utf8'))?.[1],
    haproxy: live.kind === 'color' ? live.color : live.kind,
    answers: (await lab.answerOf()).color,
    state: state().live,
  };
}

/** Each test starts from blue live (moved there directly, as an operator would), HAProxy running its files. */
async function blueLive(): Promise<void> {
  await lab.read(async (traffic) => {
    const live = await traffic.readLive();
    if (live.kind !== 'color' || live.color !== 'blue') await traffic.moveTo('blue', lab.hosts.blue);
  });
}

describe('HAProxy killed during a switch and restarted from its files', () => {
  it.each<[KillPoint, RegExp]>([
    [
      'before set map',
      /<td>Read live traffic<\/td><td>—<\/td><td>HAProxy on the runner<\/td><td>✅ ok<\/td><td>[^<]+<\/td><td>live: blue; switching to green<\/td>/,
    ],
    // HAProxy is gone before `set map` is sent: the run puts the map file back to what HAProxy
    // routed, so HAProxy restarts on blue and the rerun switches.
    [
      'after the map file is written',
      /<td>Read live traffic<\/td><td>—<\/td><td>HAProxy on the runner<\/td><td>✅ ok<\/td><td>[^<]+<\/td><td>live: blue; switching to green<\/td>/,
    ],
    // `set map` took effect, then HAProxy died: it restarts from the map file on green, and the
    // rerun validates that move instead of undoing it.
    [
      'after set map',
      /<td>Read live traffic<\/td>.*<td>live: green, moved there by an earlier attempt of this switch that stopped before validating; validating it now<\/td>/,
    ],
  ])(
    '%s: a rerun of the switch ends with green live in the map file, in HAProxy and in the state',
    async (point, found) => {
      await blueLive();
      runId++;

      const killed = await runAction(inputs(), lab.provider(lab.traffic({}, new KillHaproxyDuringSwitch(point))), env(1));
      expect(killed.outputs).toMatchObject({ result: 'failure', 'target-color': 'green' });
      expect(errorLines(killed.log).at(-1)).toMatch(/^::error::(Could not switch HAProxy|HAProxy's admin socket) .*$/);
      expect(killed.summary).toMatch(/<td>Move traffic<\/td><td>green<\/td><td>HAProxy on the runner<\/td><td>❌ failed<\/td>/);
      // What HAProxy will start from: what it routed when it died (the run put back a file it had already written).
      expect(/^live bg_(\w+)$/m.exec(readFileSync(mapPathFor(lab.configPath), 'utf8'))?.[1]).toBe(point === 'after set map' ? 'green' : 'blue');

      // systemd starts it again: the same config, the same map file.
      await lab.startHaproxy();
      const rerun = await runAction(inputs(), lab.provider(), env(2));
      expect(errorLines(rerun.log)).toEqual([]);
      expect(rerun.outputs).toMatchObject({ result: 'success', 'live-color': 'green', 'previous-color': 'blue', 'target-color': 'green' });
      expect(rerun.summary).toMatch(found);
      expect(await liveEverywhere()).toEqual({ file: 'green', haproxy: 'green', answers: 'green', state: 'green' });
    },
    60_000,
  );
});

describe('HAProxy refusing a membership change during a switch', () => {
  it('leaves the config and traffic as they were when the new server list fails haproxy -c', async () => {
    await blueLive();
    const config = readFileSync(lab.configPath, 'utf8');
    const map = readFileSync(mapPathFor(lab.configPath), 'utf8');
    const load = new ColorLoad(`${lab.liveUrl}/`, 4);
    lab.listed.green.push({ name: 'green-3', color: 'green', address: 'no-such-host.invalid' });
    let run;
    try {
      run = await runAction(inputs(), lab.provider(), env(1));
    } finally {
      lab.listed.green.pop();
    }
    const counts = await load.stop();
    expect(run.outputs).toMatchObject({ result: 'failure', 'live-color': 'blue' });
    expect(errorLines(run.log).at(-1)).toMatch(
      /^::error::The rendered HAProxy config does not validate \(haproxy -c\): .*no-such-host\.invalid.*\. .*haproxy\.cfg is unchanged and HAProxy keeps running it\.$/,
    );
    expect(readFileSync(lab.configPath, 'utf8')).toBe(config);
    expect(readFileSync(mapPathFor(lab.configPath), 'utf8')).toBe(map);
    expect(counts.failed).toBe(0);
    expect(Object.keys(counts.byColor)).toEqual(['blue']);
  });

  it('puts the previous config back when the reload fails; live requests stay on blue', async () => {
    await blueLive();
    const config = readFileSync(lab.configPath, 'utf8');
    const map = readFileSync(mapPathFor(lab.configPath), 'utf8');
    // A new green server: the config changes; something else holds the port the new config binds for
    // the preview route, so haproxy -c passes and the new worker cannot start.
    const squatter = await import('node:net').then(({ createServer }) => createServer());
    await new Promise<void>((resolve) => squatter.listen(8082, lab.address, resolve));
    const load = new ColorLoad(`${lab.liveUrl}/`, 4);
    let run;
    try {
      run = await runAction(inputs(), lab.provider(lab.traffic({ previewBind: `${lab.address}:8082`, reloadTimeoutMs: 5000 })), env(1));
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
    const counts = await load.stop();

    expect(run.outputs).toMatchObject({ result: 'failure', 'live-color': 'blue' });
    expect(errorLines(run.log).at(-1)).toMatch(
      /^::error::HAProxy did not load the new .*haproxy\.cfg: no new worker answered .*\. The previous config was restored to .*haproxy\.cfg; HAProxy reloaded it\.$/,
    );
    expect(readFileSync(lab.configPath, 'utf8')).toBe(config);
    expect(readFileSync(mapPathFor(lab.configPath), 'utf8')).toBe(map);
    expect(await lab.read((traffic) => traffic.readLive())).toEqual({ kind: 'color', color: 'blue' });
    // Blue answered every request that was answered. HAProxy pauses its listeners while a new worker
    // starts and resumes them when it fails, so a connection may be refused in that moment (about
    // one in ten thousand here); a load balancer answering 5xx or another color would be a fault.
    expect(counts.serverErrors).toBe(0);
    expect(Object.keys(counts.byColor)).toEqual(['blue']);
  }, 60_000);
});
