import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { Provider } from '../src/providers/types.js';
import { sleep } from '../src/retry.js';
import { mapPathFor } from '../src/traffic/haproxy-config.js';
import type { HaproxyTraffic } from '../src/traffic/haproxy.js';
import { errorLines, runAction } from './support/action.js';
import { HaproxyLab, RemoteShellRunner } from '../lab/haproxy.js';
import { useHaproxyLab } from './support/haproxy-jest.js';

const lab = useHaproxyLab({ base: 10, live: 'blue' });

/** The colors that answered `count` requests through the live route. */
async function colorsServing(count = 6, url = lab.liveUrl): Promise<Set<string>> {
  const colors = new Set<string>();
  for (let i = 0; i < count; i++) colors.add((await lab.answerOf(url)).color);
  return colors;
}

function liveLineOfMapFile(): string | undefined {
  return readFileSync(mapPathFor(lab.configPath), 'utf8')
    .split('\n')
    .find((line) => line.startsWith('live '));
}

const providerOf = (traffic: HaproxyTraffic): Provider => lab.provider(traffic);

const switchInputs = lab.switchInputs();

describe('HAProxy traffic switch, with a real HAProxy and Starman servers', () => {
  it('reads the live color from HAProxy itself; the preview route reaches the idle color', async () => {
    const traffic = lab.traffic();
    expect(await traffic.readLive()).toEqual({ kind: 'color', color: 'blue' });
    expect(await colorsServing()).toEqual(new Set(['blue']));
    expect(traffic.previewUrl('blue')).toBeUndefined();
    expect(traffic.previewUrl('green')).toBe(lab.previewUrl);
    expect(await colorsServing(4, lab.previewUrl)).toEqual(new Set(['green']));
  });

  it("reports HAProxy's own UP view of each host of a color", async () => {
    const view = await lab.traffic().balancerHealth(
      'green',
      lab.hosts.green.map((h) => h),
    );
    expect([...view.keys()]).toEqual(['127.0.5.21', '127.0.5.22']);
    for (const state of view.values()) expect(state).toEqual({ up: true, state: expect.stringMatching(/^UP \(L7OK/) });
  });

  it('switches blue -> green without a reload: requests are answered by green, and the choice is on disk', async () => {
    const traffic = lab.traffic();
    const workerBefore = await lab.workerPid();
    const detail = await traffic.moveTo('green', lab.hosts.green);
    expect(detail).toMatch(/^green is live through HAProxy on the runner \(set map, no reload; saved in .*haproxy\.live\.map\), was blue$/);
    expect(await colorsServing()).toEqual(new Set(['green']));
    expect(await colorsServing(4, lab.previewUrl)).toEqual(new Set(['blue']));
    expect(await traffic.readLive()).toEqual({ kind: 'color', color: 'green' });
    expect(liveLineOfMapFile()).toBe('live bg_green');
    // Same worker: the switch did not reload HAProxy.
    expect(await lab.workerPid()).toBe(workerBefore);
  });

  it('keeps the live color through a reload and through a restart of HAProxy', async () => {
    const traffic = lab.traffic();
    expect(await traffic.readLive()).toEqual({ kind: 'color', color: 'green' });
    const workerBefore = await lab.workerPid();
    process.kill(lab.masterPid, 'SIGUSR2');
    await lab.waitForNewWorker(workerBefore);
    expect(await traffic.readLive()).toEqual({ kind: 'color', color: 'green' });
    expect(await colorsServing()).toEqual(new Set(['green']));
    await lab.stopHaproxy();
    await lab.startHaproxy();
    expect(await traffic.readLive()).toEqual({ kind: 'color', color: 'green' });
    expect(await colorsServing()).toEqual(new Set(['green']));
  });

  it('switches green -> blue', async () => {
    const traffic = lab.traffic();
    expect(await traffic.moveTo('blue', lab.hosts.blue)).toMatch(/^blue is live .*, was green$/);
    expect(await colorsServing()).toEqual(new Set(['blue']));
    expect(liveLineOfMapFile()).toBe('live bg_blue');
  });

  it('switches through the action: verify by HAProxy and by probe, move, validate, drain', async () => {
    const run = await runAction(switchInputs, providerOf(lab.traffic()));
    expect(run.failed).toBe(false);
    expect(run.outputs['live-color']).toBe('green');
    expect(run.summary).toMatch(/0 connection\(s\) were open on blue when the switch completed/);
    expect(await colorsServing()).toEqual(new Set(['green']));
  });

  it('refuses to switch to a color with a stopped server: the error and an annotation name it; traffic stays', async () => {
    const stopped = lab.server('127.0.5.12');
    await stopped.stop();
    try {
      await lab.waitForServerState('127.0.5.12', 'DOWN');
      const run = await runAction(switchInputs, providerOf(lab.traffic()));
      expect(run.failed).toBe(true);
      const errors = errorLines(run.log);
      expect(errors.find((line) => line.includes('title=Health check failed: 127.0.5.12'))).toMatch(
        /127\.0\.5\.12 \(blue\) is unhealthy after \d attempt\(s\): load balancer: DOWN \(L4CON: Connection refused\); probe: .+/,
      );
      expect(errors.at(-1)).toMatch(/Refusing to switch to blue: 1 of 2 blue host\(s\) healthy, 2 needed\. Unhealthy: 127\.0\.5\.12 \(balancer: DOWN/);
      expect(await lab.traffic().readLive()).toEqual({ kind: 'color', color: 'green' });
      expect(await colorsServing()).toEqual(new Set(['green']));

      // With min-healthy-hosts: 1 the user accepts one healthy host, and HAProxy sends nothing to the stopped one.
      const lenient = await runAction({ ...switchInputs, 'min-healthy-hosts': '1' }, providerOf(lab.traffic()));
      expect(lenient.failed).toBe(false);
      expect(await colorsServing()).toEqual(new Set(['blue']));
    } finally {
      await stopped.start();
    }
  }, 60_000);

  it('renders the config again when hosts are removed and added, keeps the previous file, and reloads without moving traffic', async () => {
    const traffic = lab.traffic();
    const live = await traffic.readLive();
    const before = readFileSync(lab.configPath, 'utf8');
    const removed = lab.listed.green.pop();
    try {
      expect(await traffic.ensureMembers()).toMatch(/rendered with 2 blue and 1 green server\(s\), validated and reloaded$/);
      expect(readFileSync(`${lab.configPath}.previous`, 'utf8')).toBe(before);
      expect(readFileSync(lab.configPath, 'utf8')).not.toContain('server 127.0.5.22');
      expect((await traffic.showStat()).filter((row) => row.pxname === 'bg_green' && row.svname !== 'BACKEND').map((row) => row.svname)).toEqual([
        '127.0.5.21',
      ]);
      expect(await traffic.readLive()).toEqual(live);
    } finally {
      if (removed) lab.listed.green.push(removed);
    }
    expect(await traffic.ensureMembers()).toMatch(/rendered with 2 blue and 2 green server\(s\)/);
    expect(readFileSync(lab.configPath, 'utf8')).toBe(before);
    expect(await traffic.ensureMembers()).toMatch(/is up to date/);
  });

  it('refuses to move traffic to a backend with no server UP, even when called directly', async () => {
    const live = await lab.traffic().readLive();
    const idle = live.kind === 'color' && live.color === 'blue' ? 'green' : 'blue';
    const listed = lab.listed[idle].splice(0);
    try {
      await expect(lab.traffic().moveTo(idle, lab.hosts[idle])).rejects.toThrow(
        `HAProxy has no ${idle} server UP (backend bg_${idle}: no servers), so it would answer 503. Live traffic is untouched (${live.kind === 'color' ? live.color : ''}).`,
      );
      expect(await lab.traffic().readLive()).toEqual(live);
      expect(liveLineOfMapFile()).toBe(`live bg_${live.kind === 'color' ? live.color : ''}`);
    } finally {
      lab.listed[idle].push(...listed);
      await lab.traffic().ensureMembers();
    }
  });

  it('leaves the running config in place when the new one fails haproxy -c', async () => {
    const traffic = lab.traffic();
    const live = await traffic.readLive();
    const before = readFileSync(lab.configPath, 'utf8');
    lab.listed.green.push({ name: 'green-3', color: 'green', address: 'no-such-host.invalid' });
    try {
      await expect(traffic.ensureMembers()).rejects.toThrow(
        /^The rendered HAProxy config does not validate \(haproxy -c\): .*could not resolve address 'no-such-host\.invalid'.*\. .*haproxy\.cfg is unchanged and HAProxy keeps running it\.$/,
      );
    } finally {
      lab.listed.green.pop();
    }
    expect(readFileSync(lab.configPath, 'utf8')).toBe(before);
    expect(await traffic.readLive()).toEqual(live);
    expect((await colorsServing()).size).toBe(1);
  });

  it('puts the previous config back when HAProxy fails to load the new one, and says so', async () => {
    // Something else holds the port the new config binds: haproxy -c passes, the reload fails.
    const squatter: Server = createServer();
    await new Promise<void>((resolve) => squatter.listen(8082, lab.address, resolve));
    const traffic = lab.traffic({ previewBind: `${lab.address}:8082`, reloadTimeoutMs: 5000 });
    const live = await traffic.readLive();
    const before = readFileSync(lab.configPath, 'utf8');
    try {
      await expect(traffic.ensureMembers()).rejects.toThrow(
        /^HAProxy did not load the new .*haproxy\.cfg: no new worker answered .* within 5s .*\. The previous config was restored to .*haproxy\.cfg; HAProxy reloaded it\.$/,
      );
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
    expect(readFileSync(lab.configPath, 'utf8')).toBe(before);
    expect(await traffic.readLive()).toEqual(live);
    expect(await colorsServing(4, lab.previewUrl)).toEqual(new Set([live.kind === 'color' && live.color === 'blue' ? 'green' : 'blue']));
  }, 60_000);

  it('works the same when every command goes through a remote shell, as over SSH', async () => {
    const traffic = lab.traffic({}, new RemoteShellRunner());
    const live = await traffic.readLive();
    if (live.kind !== 'color') throw new Error('a color should be live');
    const other = live.color === 'blue' ? 'green' : 'blue';
    const removed = lab.listed[other].pop();
    try {
      expect(await traffic.ensureMembers()).toMatch(/validated and reloaded$/);
    } finally {
      if (removed) lab.listed[other].push(removed);
    }
    expect(await traffic.ensureMembers()).toMatch(/validated and reloaded$/);
    expect(await traffic.moveTo(other, lab.hosts[other])).toMatch(new RegExp(`^${other} is live .*, was ${live.color}$`));
    expect(await colorsServing()).toEqual(new Set([other]));
    expect(liveLineOfMapFile()).toBe(`live bg_${other}`);
    expect(await traffic.drain(live.color)).toMatch(/^0 connection\(s\) were open/);
  });

  it('drain reports the requests still open on the old color when the switch completed, and waits for them', async () => {
    const traffic = lab.traffic();
    const live = await traffic.readLive();
    if (live.kind !== 'color') throw new Error('a color should be live');
    const from = live.color;
    const to = from === 'blue' ? 'green' : 'blue';
    // A request whose body is still arriving is in flight on the old color during the switch.
    const url = new URL(lab.liveUrl);
    const slow = request({ host: url.hostname, port: url.port, method: 'POST', path: '/', headers: { 'content-length': '10' } });
    const answered = new Promise<string>((resolve, reject) => {
      slow.on('response', (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve((JSON.parse(Buffer.concat(chunks).toString()) as { color: string }).color));
      });
      slow.on('error', reject);
    });
    slow.write('12345');
    await sleep(300);
    await traffic.moveTo(to, lab.hosts[to]);
    const drained = traffic.drain(from);
    await sleep(300);
    slow.end('67890');
    expect(await answered).toBe(from);
    expect(await drained).toMatch(new RegExp(`^1 connection\\(s\\) were open on ${from} when the switch completed; all finished after \\d+\\.\\ds$`));
    expect(await colorsServing()).toEqual(new Set([to]));
  });
});

describe('the first run against an HAProxy that runs a config of its own', () => {
  const fresh = new HaproxyLab({ base: 40, hostsPerColor: 1 });
  // What a package install leaves: master-worker (systemd's -Ws), the admin socket, no app yet.
  const stock = [
    'global',
    '  master-worker',
    `  stats socket ${fresh.socketPath} mode 600 level admin expose-fd listeners`,
    'defaults',
    '  mode http',
    '  timeout connect 5s',
    '  timeout client 30s',
    '  timeout server 30s',
    'frontend web',
    `  bind ${fresh.address}:8080`,
    '  http-request return status 200 content-type text/plain string "stock page"',
    '',
  ].join('\n');

  beforeAll(async () => {
    await fresh.start(stock);
  }, 60_000);
  afterAll(async () => {
    await fresh.stop();
  }, 60_000);

  it('reads nothing live, installs its config on first need, previews the initial color, then switches to it', async () => {
    const traffic = fresh.traffic();
    expect(await traffic.readLive()).toEqual({ kind: 'none' });
    const view = await traffic.balancerHealth('blue', fresh.hosts.blue);
    expect(view.get('127.0.5.41')).toEqual({ up: true, state: expect.stringMatching(/^UP \(L7OK/) });
    expect(readFileSync(`${fresh.configPath}.previous`, 'utf8')).toBe(stock);
    expect((await fresh.answerOf()).status).toBe(503);
    expect(await fresh.answerOf(fresh.previewUrl)).toMatchObject({ color: 'blue', status: 200 });
    expect(await traffic.moveTo('blue', fresh.hosts.blue)).toBe(
      `blue is live through HAProxy on the runner (set map, no reload; saved in ${mapPathFor(fresh.configPath)})`,
    );
    expect(await fresh.answerOf()).toMatchObject({ color: 'blue', status: 200 });
    expect(await fresh.answerOf(fresh.previewUrl)).toMatchObject({ color: 'green', status: 200 });
  });
});
