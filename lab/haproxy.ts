import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, openSync, closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Duplex } from 'node:stream';
import { join } from 'node:path';
import type { Color } from '../src/colors.js';
import { LocalRunner, toShell, type Argv, type CommandResult, type CommandRunner, type RunOptions } from '../src/hosts/command.js';
import { BalancerAndProbeHealth } from '../src/health/combined.js';
import { DirectProbeHealth } from '../src/health/direct.js';
import type { Host, Inventory, Provider } from '../src/providers/types.js';
import type { HealthSettings } from '../src/settings.js';
import { sleep } from '../src/retry.js';
import { renderHaproxyConfig, renderLiveMap, mapPathFor } from '../src/traffic/haproxy-config.js';
import { runtime } from '../src/traffic/haproxy-runtime.js';
import { HaproxyTraffic, type HaproxyOptions } from '../src/traffic/haproxy.js';
import { EXAMPLE_APP_DIR } from './memory-provider.js';
import { childrenOf } from './processes.js';

/**
 * A load balancer lab on loopback, shared by the HAProxy tests and the switch benchmark: a real
 * HAProxy in master-worker mode with the config the action renders, in front of real Starman
 * servers running examples/app/app.psgi, each reporting its color and release.
 * Everything lives in one temp dir; `stop()` ends every process it started and removes the dir.
 */

const APP_PSGI = new URL('../examples/app/app.psgi', import.meta.url).pathname;
const APP_PORT = 5000;
const FAULTY_PSGI = new URL('./faulty-release.psgi', import.meta.url).pathname;
const READY_PSGI = new URL('./ready-release.psgi', import.meta.url).pathname;

/** A child process of the lab: started by it, stopped by its pid only. */
export class Child {
  constructor(
    readonly name: string,
    readonly process: ChildProcess,
    readonly log: string,
  ) {}

  get running(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null;
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    const exited = new Promise<void>((resolve) => this.process.once('exit', () => resolve()));
    this.process.kill('SIGTERM');
    // SIGKILL only if SIGTERM was not enough within 10 s; the timer must not outlive the process.
    const kill = setTimeout(() => this.process.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(kill);
  }
}

export function start(name: string, command: string, args: string[], log: string, as?: { uid: number; gid: number }): Child {
  const fd = openSync(log, 'a');
  const process = spawn(command, args, { stdio: ['ignore', fd, fd], ...as });
  closeSync(fd);
  return new Child(name, process, log);
}

/** Waits until `ready` says yes, polling; fails naming what did not come up, with its log. */
export async function waitFor(what: string, ready: () => Promise<boolean>, child: Child, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await ready().catch(() => false)) return;
    if (!child.running) break;
    await sleep(50);
  }
  throw new Error(`${what} did not come up: ${readFileSync(child.log, 'utf8').slice(-2000)}`);
}

export class AppServer {
  private child?: Child;

  constructor(
    readonly host: Host,
    private readonly dir: string,
    private readonly workers: number,
  ) {}

  get url(): string {
    return `http://${this.host.address}:${APP_PORT}`;
  }

  /** Starts Starman on the host's address, serving a copy of the example app that knows its color and release. */
  async start(release = 'r1', { faulty = false, ready = false } = {}): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    copyFileSync(APP_PSGI, join(this.dir, 'app.psgi'));
    // A faulty release: healthy to every check, a 500 on every other real request.
    if (faulty) copyFileSync(FAULTY_PSGI, join(this.dir, 'faulty.psgi'));
    // A release that also answers `/ready` (200), which the example app does not (404).
    if (ready) copyFileSync(READY_PSGI, join(this.dir, 'ready.psgi'));
    writeFileSync(join(this.dir, '.bluegreen-release.json'), JSON.stringify({ app: 'shop', release, color: this.host.color }));
    const psgi = join(this.dir, faulty ? 'faulty.psgi' : ready ? 'ready.psgi' : 'app.psgi');
    this.child = start(
      `starman ${this.host.name}`,
      'starman',
      ['--listen', `${this.host.address}:${APP_PORT}`, '--workers', String(this.workers), psgi],
      join(this.dir, 'starman.log'),
    );
    const child = this.child;
    await waitFor(`Starman on ${this.host.name}`, async () => (await fetch(`${this.url}/health`)).ok, child);
  }

  async stop(): Promise<void> {
    await this.child?.stop();
  }
}

/**
 * Runs each command the way sshd does: the quoted command line (`toShell`) handed to `sh -c`. What
 * works through it works over the SSH transport, whose remote side is exactly that.
 */
export class RemoteShellRunner implements CommandRunner {
  readonly description = 'sh -c (as over SSH)';
  private readonly local = new LocalRunner();

  run(argv: Argv, options?: RunOptions): Promise<CommandResult> {
    return this.local.run(['sh', '-c', toShell(argv)], options);
  }

  /** As an SSH channel: the command's stdin and stdout held open (closing the stream ends its stdin). */
  async open(argv: Argv): Promise<Duplex> {
    const child = spawn('sh', ['-c', toShell(argv)], { stdio: ['pipe', 'pipe', 'ignore'] });
    return Duplex.from({ readable: child.stdout, writable: child.stdin });
  }

  async close(): Promise<void> {}
}

export interface LabOptions {
  /** Last octet of the first address: blue hosts get base+1.., green hosts base+11..; HAProxy listens on base. */
  base: number;
  hostsPerColor?: number;
  workers?: number;
  /** Color live when HAProxy starts. */
  live?: Color;
  /** A color whose servers run a faulty release (faulty-release.psgi): healthy to checks, a 500 on every other request. */
  faulty?: Color;
  /**
   * A unix user to run HAProxy as and to own the lab's files: a load balancer host reached over
   * SSH as that user, who may then reload HAProxy and rewrite its config and map file.
   */
  runAs?: { uid: number; gid: number };
  /** The first three octets of every address of the lab; default 127.0.5. */
  network?: string;
}

export class HaproxyLab {
  readonly dir = mkdtempSync(join(tmpdir(), 'bgp-haproxy-'));
  readonly configPath = join(this.dir, 'haproxy.cfg');
  private readonly handedOut = new Set<HaproxyTraffic>();
  readonly socketPath = join(this.dir, 'admin.sock');
  /** The master CLI (`haproxy -S`): a socket that answers `show map` with "Unknown command". */
  readonly masterSocketPath = join(this.dir, 'master.sock');
  readonly address: string;
  readonly liveUrl: string;
  readonly previewUrl: string;
  readonly hosts: Record<Color, Host[]>;
  readonly servers: AppServer[];
  /** What the inventory lists; tests change it to add or remove hosts. */
  readonly listed: Record<Color, Host[]>;
  readonly inventory: Inventory;
  private haproxy?: Child;

  constructor(readonly options: LabOptions) {
    const network = options.network ?? '127.0.5';
    this.address = `${network}.${options.base}`;
    this.liveUrl = `http://${this.address}:8080`;
    this.previewUrl = `http://${this.address}:8081`;
    const count = options.hostsPerColor ?? 2;
    const hostsOf = (color: Color, first: number): Host[] =>
      Array.from({ length: count }, (_, i) => {
        const address = `${network}.${options.base + first + i}`;
        return { name: address, color, address, healthUrl: `http://${address}:${APP_PORT}/health` };
      });
    this.hosts = { blue: hostsOf('blue', 1), green: hostsOf('green', 11) };
    this.listed = { blue: [...this.hosts.blue], green: [...this.hosts.green] };
    this.servers = [...this.hosts.blue, ...this.hosts.green].map((host) => new AppServer(host, join(this.dir, 'app', host.name), options.workers ?? 3));
    this.inventory = { hostsOf: async (color) => this.listed[color] };
  }

  server(name: string): AppServer {
    const server = this.servers.find((s) => s.host.name === name);
    if (!server) throw new Error(`no app server ${name} in the lab`);
    return server;
  }

  haproxyOptions(overrides: Partial<HaproxyOptions> = {}): HaproxyOptions {
    return {
      description: 'HAProxy on the runner',
      configPath: this.configPath,
      socketPath: this.socketPath,
      bind: `${this.address}:8080`,
      previewBind: `${this.address}:8081`,
      appPort: APP_PORT,
      healthPath: '/health',
      expectedStatus: 200,
      initialColor: 'blue',
      drainTimeoutMs: 10_000,
      ...overrides,
    };
  }

  /** Inputs of a `mode: switch` run of the action against the lab's hosts, plus `extra`. */
  switchInputs(extra: Record<string, string> = {}): Record<string, string> {
    return {
      mode: 'switch',
      provider: 'ssh',
      'app-name': 'shop',
      'blue-hosts': this.hosts.blue.map((h) => h.name).join(','),
      'green-hosts': this.hosts.green.map((h) => h.name).join(','),
      'health-retries': '2',
      'health-interval': '0.2',
      'drain-timeout': '5',
      // What a deploy uploads (the preflight checks it); the lab's releasers stand in for the hosts.
      'release-path': EXAMPLE_APP_DIR,
      ...extra,
    };
  }

  /** The lab's real parts as the action composes them for HAProxy; hosts get no release (a switch does not release). */
  provider(
    traffic: HaproxyTraffic = this.traffic(),
    health: HealthSettings = { path: '/health', expectedStatus: 200, timeoutMs: 2000, retries: 2, intervalMs: 200 },
  ): Provider {
    return {
      inventory: this.inventory,
      releaser: { release: async () => [] },
      traffic,
      health: new BalancerAndProbeHealth(traffic, new DirectProbeHealth(health)),
      // As the action's provider: the run's runtime API session ends with the run.
      close: () => traffic.close(),
    };
  }

  /** The traffic switch under test, as the action builds it for a local HAProxy (or with another runner). */
  traffic(overrides: Partial<HaproxyOptions> = {}, runner: CommandRunner = new LocalRunner()): HaproxyTraffic {
    const traffic = new HaproxyTraffic(runner, this.inventory, this.haproxyOptions(overrides));
    this.handedOut.add(traffic);
    return traffic;
  }

  /**
   * Closes the runtime API sessions of every traffic object `traffic()` handed out: HAProxy takes 10
   * connections on its stats socket (`stats maxconn`), so sessions left open by earlier tests would
   * keep a later run's own from opening. The jest hook calls it after each test.
   */
  async closeHandedOut(): Promise<void> {
    const all = [...this.handedOut];
    this.handedOut.clear();
    await Promise.all(all.map((traffic) => traffic.close()));
  }

  /**
   * Looks at HAProxy once, as an operator would, closing the runtime API session after: HAProxy
   * accepts 10 connections on its stats socket (`stats maxconn`), so sessions left open by polling
   * would keep the action's own from opening.
   */
  async read<T>(look: (traffic: HaproxyTraffic) => Promise<T>): Promise<T> {
    const traffic = this.traffic();
    try {
      return await look(traffic);
    } finally {
      await traffic.close();
    }
  }

  /**
   * Starts the app servers, writes the rendered config and the map file, and starts HAProxy; or,
   * given `config`, HAProxy with that config instead (as installed before the action's first run).
   */
  async start(config?: string): Promise<void> {
    await Promise.all(this.servers.map((s) => s.start('r1', { faulty: s.host.color === this.options.faulty })));
    if (config === undefined) {
      const live = this.options.live ?? 'blue';
      writeFileSync(this.configPath, this.renderConfig());
      writeFileSync(mapPathFor(this.configPath), renderLiveMap(live, live === 'blue' ? 'green' : 'blue'));
    } else {
      writeFileSync(this.configPath, config);
    }
    await this.startHaproxy();
  }

  renderConfig(): string {
    const options = this.haproxyOptions();
    return renderHaproxyConfig(options, { hosts: this.listed, appPort: APP_PORT, healthPath: options.healthPath, expectedStatus: options.expectedStatus });
  }

  /** `haproxy -W`: master-worker, in the foreground so the lab owns the master's pid. */
  async startHaproxy(): Promise<void> {
    const owner = this.options.runAs;
    if (owner) for (const path of [this.dir, this.configPath, mapPathFor(this.configPath)]) chownSync(path, owner.uid, owner.gid);
    this.haproxy = start('haproxy', 'haproxy', ['-W', '-S', this.masterSocketPath, '-f', this.configPath], join(this.dir, 'haproxy.log'), owner);
    // Asked only once the admin socket exists: a traffic object that finds no socket holds no
    // runtime session (it falls back to one socat per command until a switch opens one again).
    const traffic = this.traffic();
    try {
      await waitFor('HAProxy', async () => existsSync(this.socketPath) && (await traffic.command(runtime.showInfo())).includes('Pid:'), this.haproxy);
    } finally {
      await traffic.close();
    }
  }

  async stopHaproxy(): Promise<void> {
    await this.haproxy?.stop();
  }

  /**
   * kill -9 of HAProxy's master and every worker at once, as a crash or the OOM killer would:
   * nothing is flushed or cleaned up. `startHaproxy()` then starts it again from its files (the
   * same config and map file), as systemd's Restart= would.
   */
  async killHaproxy(): Promise<void> {
    const master = this.haproxy;
    if (!master?.running) throw new Error('HAProxy is not running');
    const exited = new Promise<void>((resolve) => master.process.once('exit', () => resolve()));
    const pids = [this.masterPid, ...childrenOf(this.masterPid)];
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    await exited;
    // Workers exit on their own signal, not with the master: wait until each is gone.
    for (let i = 0; i < 100 && pids.some(isAlive); i++) await sleep(50);
  }

  /** The pid of HAProxy's master, to signal it as an operator (or systemd's ExecReload) would. */
  get masterPid(): number {
    const pid = this.haproxy?.process.pid;
    if (pid === undefined) throw new Error('HAProxy is not started');
    return pid;
  }

  /** The pid of the worker answering on the admin socket. */
  async workerPid(): Promise<string> {
    const pid = /^Pid: (\d+)$/m.exec(await this.read((traffic) => traffic.command(runtime.showInfo())))?.[1];
    if (!pid) throw new Error('HAProxy did not report its pid');
    return pid;
  }

  /** Waits until a reload replaced worker `before` with a new one. */
  async waitForNewWorker(before: string): Promise<void> {
    for (let i = 0; i < 200; i++) {
      if ((await this.workerPid().catch(() => before)) !== before) return;
      await sleep(50);
    }
    throw new Error('HAProxy did not start a new worker within 10 s');
  }

  /** Waits until HAProxy's own health checks see `server` as `state` (`UP`, `DOWN`). */
  async waitForServerState(server: string, state: string): Promise<void> {
    const seen = await this.read(async (traffic) => {
      for (let i = 0; i < 200; i++) {
        if ((await traffic.showStat()).find((r) => r.svname === server)?.status === state) return true;
        await sleep(100);
      }
      return false;
    });
    if (seen) return;
    throw new Error(`HAProxy did not see ${server} ${state} within 20 s`);
  }

  /** The color and release that answer a GET / through `url`. */
  async answerOf(url: string = this.liveUrl): Promise<{ color: string; release: string; status: number }> {
    const response = await fetch(`${url}/`, { signal: AbortSignal.timeout(5000) });
    const text = await response.text();
    const body = response.ok ? (JSON.parse(text) as { color: string; release: string }) : { color: 'none', release: 'none' };
    return { ...body, status: response.status };
  }

  async stop(): Promise<void> {
    await this.closeHandedOut();
    await this.stopHaproxy();
    await Promise.all(this.servers.map((s) => s.stop()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
