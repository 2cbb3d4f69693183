import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  closeSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Color } from '../src/colors.js';
import { readSettings, type Settings, type SshSettings } from '../src/settings.js';
import { buildCpanMirror } from './cpan-mirror.js';
import { childrenOf, stopChild } from './processes.js';

/**
 * Real hosts for the SSH release tests, the end-to-end tests, the demo and the fan-out benchmark:
 * one OpenSSH server per host, each on its own loopback address with its own host key. By default
 * each host logs in one unix user made for it whose home (mode 700, where the app lives) the other
 * hosts' users cannot enter. With `sharedUser`, every host logs in the same user, as Droplets found
 * by tag all take one `ssh-user`; each host's sshd then runs in a mount namespace of its own where
 * that user's home is the host's own directory, so each host still has an app directory of its own,
 * as separate machines would. The app each host runs listens on that host's own address. Needs
 * root: it creates users (and mount namespaces).
 */
export interface SshHost {
  color: Color;
  address: string;
  port: number;
  /** The unix user this host's sshd lets in; the app runs as this user. */
  user: string;
  /** The user's home as the host sees it. */
  home: string;
  /** The same directory as the runner sees it: differs from `home` with `sharedUser`. */
  homeOnRunner: string;
  /** The host's `known_hosts` line. */
  knownHostsLine: string;
  /** As `blue-hosts` / `green-hosts` list it. */
  spec: string;
}

export interface SshWorldOptions {
  /** Loopback addresses <network>.<first> … in order: blue hosts, then green hosts. */
  firstOctet: number;
  hostsPerColor: Record<Color, number>;
  port?: number;
  /** The first three octets of the hosts' addresses; default 127.0.3. */
  network?: string;
  /** One unix user on every host, each host's sshd in its own mount namespace (see SshWorld). */
  sharedUser?: boolean;
  /** sshd's LogLevel; DEBUG1 also logs each forwarded connection's target (a bastion's). Default VERBOSE. */
  logLevel?: 'VERBOSE' | 'DEBUG1';
}

export const APP_PORT = 5080;
export const EXAMPLE_APP = new URL('../examples/app/', import.meta.url).pathname;

export class SshWorld {
  readonly hosts: SshHost[] = [];
  /** The runner's private key (OpenSSH format), authorized on every host. */
  privateKey = '';
  mirrorUrl = '';
  private mirrorDir = '';
  private readonly sshds: ChildProcess[] = [];
  /** Each host's listening sshd, by address. */
  private readonly sshdOf = new Map<string, ChildProcess>();
  private readonly tag = randomBytes(3).toString('hex');
  private shared?: Account;

  private constructor(readonly dir: string) {}

  static async start(options: SshWorldOptions): Promise<SshWorld> {
    if (process.getuid?.() !== 0) throw new Error('the SSH world creates unix users: run the tests as root (CI does)');
    // World-traversable, so each host's user reaches its home below it; the homes themselves are 700.
    const world = new SshWorld(mkdtempSync(join(tmpdir(), 'bgp-ssh-')));
    chmodSync(world.dir, 0o711);
    try {
      await world.build(options);
    } catch (error) {
      await world.stop();
      throw error;
    }
    return world;
  }

  private async build({
    firstOctet,
    hostsPerColor,
    port = 2222,
    network = '127.0.3',
    sharedUser = false,
    logLevel = 'VERBOSE',
  }: SshWorldOptions): Promise<void> {
    const key = join(this.dir, 'runner_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bluegreen-perl tests', '-f', key]);
    this.privateKey = readFileSync(key, 'utf8');
    const mirror = buildCpanMirror();
    [this.mirrorUrl, this.mirrorDir] = [mirror.url, mirror.dir];
    // sshd refuses to start without its privilege separation directory.
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    const authorizedKey = readFileSync(`${key}.pub`, 'utf8');
    const shared = sharedUser ? this.addUser(`bgp${this.tag}all`) : undefined;
    this.shared = shared;
    let octet = firstOctet;
    for (const color of ['blue', 'green'] as const) {
      for (let i = 1; i <= hostsPerColor[color]; i++) {
        const address = `${network}.${octet++}`;
        const account = shared ?? this.addUser(`bgp${this.tag}${address.split('.').at(-1)}`);
        // The shared user's home on this host: a directory of its own, mounted over the home in the host's namespace.
        const homeOnRunner = shared ? join(this.dir, 'hosts', address) : account.home;
        if (shared) mkdirSync(homeOnRunner, { recursive: true, mode: 0o700 });
        authorize(homeOnRunner, account, authorizedKey);
        this.hosts.push(this.addHost(color, address, port, account, homeOnRunner, logLevel));
      }
    }
    await Promise.all(this.hosts.map((host) => this.startSshd(host)));
  }

  /** A unix user with a home of mode 700 under the world's directory. */
  private addUser(user: string): Account {
    const home = join(this.dir, 'home', user);
    mkdirSync(join(this.dir, 'home'), { recursive: true, mode: 0o711 });
    // `*`, not useradd's locked `!`: with UsePAM off, sshd lets no one into a locked account.
    withRetries(() =>
      execFileSync('useradd', ['--home-dir', home, '--create-home', '--shell', '/bin/sh', '--password', '*', '--user-group', user], { stdio: 'pipe' }),
    );
    chmodSync(home, 0o700);
    const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }));
    const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }));
    return { user, home, uid, gid };
  }

  private addHost(color: Color, address: string, port: number, { user, home }: Account, homeOnRunner: string, logLevel: string): SshHost {
    const etc = join(this.dir, 'sshd', address);
    mkdirSync(etc, { recursive: true, mode: 0o700 });
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', address, '-f', join(etc, 'host_key')]);
    const [type, blob] = readFileSync(join(etc, 'host_key.pub'), 'utf8').split(' ');
    writeFileSync(
      join(etc, 'sshd_config'),
      [
        `ListenAddress ${address}:${port}`,
        `HostKey ${join(etc, 'host_key')}`,
        `PidFile ${join(etc, 'sshd.pid')}`,
        `AllowUsers ${user}`,
        'AuthorizedKeysFile .ssh/authorized_keys',
        'PubkeyAuthentication yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        'PermitRootLogin no',
        'StrictModes yes',
        'AllowTcpForwarding yes',
        'PrintMotd no',
        // Fan-out opens one connection per host at once; the defaults would drop some.
        'MaxStartups 100',
        `LogLevel ${logLevel}`,
        '',
      ].join('\n'),
    );
    return { color, address, port, user, home, homeOnRunner, knownHostsLine: `[${address}]:${port} ${type} ${blob}`, spec: `${user}@${address}:${port}` };
  }

  /** Starts the host's sshd (again, after `stopSshd`), as its service manager would; resolves once it listens. */
  async startSshd(host: SshHost): Promise<void> {
    const etc = join(this.dir, 'sshd', host.address);
    const config = join(etc, 'sshd_config');
    execFileSync('/usr/sbin/sshd', ['-t', '-f', config]);
    const log = openSync(join(etc, 'sshd.log'), 'a');
    const sshd =
      host.homeOnRunner === host.home
        ? spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], { stdio: ['ignore', log, log] })
        : // A private mount namespace: the bind mount is seen by this sshd and the sessions it starts
          // only, and goes away with them. unshare execs (no fork), so the child is the sshd itself.
          spawn(
            'unshare',
            [
              '--mount',
              '--propagation',
              'private',
              '--',
              'sh',
              '-c',
              'mount --bind "$1" "$2" && exec /usr/sbin/sshd -D -e -f "$3"',
              'sh',
              host.homeOnRunner,
              host.home,
              config,
            ],
            {
              stdio: ['ignore', log, log],
            },
          );
    closeSync(log);
    this.sshds.push(sshd);
    this.sshdOf.set(host.address, sshd);
    await waitForPort(host.address, host.port, sshd, () => this.sshdLog(host));
  }

  /**
   * Ends every SSH session open to `host` at once (kill -9 of the sshd processes serving them, the
   * children of its listening sshd), as a crashed or restarted sshd, or a dropped link, leaves a
   * client. Returns how many were ended.
   */
  killSessions(host: SshHost): number {
    const sessions = childrenOf(this.sshdPid(host)).length;
    for (const pid of this.sessionPids(host)) killQuietly(pid, 'SIGKILL');
    return sessions;
  }

  /**
   * Freezes every SSH session open to `host` (SIGSTOP of the sshd processes serving them): the TCP
   * connection stays open and silent, as with a hung host or a link that drops packets, so only
   * keepalives can tell. Returns how many sessions were frozen; `killSessions` ends them.
   */
  freezeSessions(host: SshHost): number {
    for (const pid of this.sessionPids(host)) killQuietly(pid, 'SIGSTOP');
    return childrenOf(this.sshdPid(host)).length;
  }

  /** The pid of the host's listening sshd. */
  sshdPid(host: SshHost): number {
    const pid = this.sshdOf.get(host.address)?.pid;
    if (pid === undefined) throw new Error(`no sshd runs for ${host.address}`);
    return pid;
  }

  /** The sshd processes serving the host's sessions: the listener's children and theirs. */
  private sessionPids(host: SshHost): number[] {
    const monitors = childrenOf(this.sshdPid(host));
    return [...monitors, ...monitors.flatMap(childrenOf)];
  }

  /** Stops the host's sshd and ends its sessions: the host stops answering SSH (connection refused). */
  async stopSshd(host: SshHost): Promise<void> {
    const sshd = this.sshdOf.get(host.address);
    if (!sshd) return;
    this.killSessions(host);
    await stopChild(sshd);
    this.sshdOf.delete(host.address);
  }

  sshdLog(host: SshHost): string {
    return readFileSync(join(this.dir, 'sshd', host.address, 'sshd.log'), 'utf8');
  }

  hostsOf(color: Color): SshHost[] {
    return this.hosts.filter((host) => host.color === color);
  }

  get knownHosts(): string {
    return this.hosts.map((host) => host.knownHostsLine).join('\n');
  }

  /** The action's inputs for this world: provider ssh, the app from examples/app, Carton from the offline mirror. */
  inputs(extra: Record<string, string> = {}): Record<string, string> {
    return {
      mode: 'deploy',
      provider: 'ssh',
      'app-name': 'shop',
      'blue-hosts': this.hostsOf('blue')
        .map((h) => h.spec)
        .join('\n'),
      'green-hosts': this.hostsOf('green')
        .map((h) => h.spec)
        .join('\n'),
      'ssh-private-key': this.privateKey,
      'ssh-known-hosts': this.knownHosts,
      // Relative: inside each host user's own home.
      'app-dir': 'app',
      'app-port': String(APP_PORT),
      'app-listen-address': 'host',
      'cpan-mirror': this.mirrorUrl,
      'release-path': EXAMPLE_APP,
      'health-retries': '3',
      'health-interval': '0.2',
      'health-timeout': '2',
      ...extra,
    };
  }

  /** SSH settings for reaching this world's hosts, as the inputs give them (without reading inputs, which logs masks). */
  get ssh(): SshSettings {
    return { user: this.sharedUser ?? 'deploy', port: 2222, privateKey: this.privateKey, knownHosts: this.knownHosts, skipHostKeyCheck: false };
  }

  /** The one user every host lets in, with `sharedUser`: the `ssh-user` input. */
  get sharedUser(): string | undefined {
    return this.shared?.user;
  }

  settings(extra: Record<string, string> = {}): Settings {
    const inputs = this.inputs(extra);
    return readSettings((name) => inputs[name] ?? '', { GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567' });
  }

  /** A copy of examples/app under this world's directory, changed by `edit`: a release to upload. */
  appVariant(name: string, edit: (dir: string) => void = () => undefined): string {
    const dir = join(this.dir, 'sources', name);
    cpSync(EXAMPLE_APP, dir, { recursive: true });
    edit(dir);
    return dir;
  }

  /** Stops the app a host runs, by its pid files, as a crash or an operator would. */
  async stopAppOn(host: SshHost): Promise<void> {
    await stopApps(host);
  }

  /** Stops the apps (by their pid files), the sshds, removes the users and every file. Safe to call twice. */
  async stop(): Promise<void> {
    for (const host of this.hosts) await stopApps(host);
    for (const sshd of this.sshds) await stopChild(sshd);
    this.sshds.length = 0;
    for (const user of new Set(this.hosts.map((host) => host.user))) {
      // Whatever the user still runs was started through this world's sshd: end it by pid.
      for (const pid of pidsOf(user)) killQuietly(pid, 'SIGKILL');
      withRetries(() => execFileSync('userdel', [user], { stdio: 'pipe' }));
    }
    this.hosts.length = 0;
    rmSync(this.dir, { recursive: true, force: true });
    if (this.mirrorDir) rmSync(this.mirrorDir, { recursive: true, force: true });
  }
}

interface Account {
  user: string;
  home: string;
  uid: number;
  gid: number;
}

/** Lets the runner's key log in as `account`, with `home` as that user's home on the host. */
function authorize(home: string, { uid, gid }: Account, authorizedKey: string): void {
  chownSync(home, uid, gid);
  mkdirSync(join(home, '.ssh'), { mode: 0o700 });
  writeFileSync(join(home, '.ssh', 'authorized_keys'), authorizedKey, { mode: 0o600 });
  chownSync(join(home, '.ssh'), uid, gid);
  chownSync(join(home, '.ssh', 'authorized_keys'), uid, gid);
}

/** Every `start_server.pid` / `starman.pid` under the host's home: the app dirs the tests used. */
async function stopApps(host: SshHost): Promise<void> {
  const pidFiles: string[] = [];
  const walk = (dir: string, depth: number) => {
    if (depth > 6 || !existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory() && !entry.isSymbolicLink() && entry.name !== 'releases' && entry.name !== 'local') walk(path, depth + 1);
      else if (entry.isFile() && /^(start_server|starman)\.pid$/.test(entry.name)) pidFiles.push(path);
    }
  };
  walk(host.homeOnRunner, 0);
  const pids = pidFiles.map((file) => Number(readFileSync(file, 'utf8').trim())).filter((pid) => pid > 0);
  for (const pid of pids) killQuietly(pid, 'SIGTERM');
  await until(() => pids.every((pid) => !alive(pid)), 10_000);
}

function pidsOf(user: string): number[] {
  try {
    return execFileSync('ps', ['-u', user, '-o', 'pid='], { encoding: 'utf8' })
      .split('\n')
      .map(Number)
      .filter((pid) => pid > 0);
  } catch {
    return []; // ps exits 1 when the user runs nothing
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(test: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (test()) return true;
    await sleep(50);
  }
  return test();
}

async function waitForPort(host: string, port: number, process: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (process.exitCode !== null) throw new Error(`sshd on ${host}:${port} exited: ${log()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect({ host, port }, () => (socket.destroy(), resolve(true)));
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    await sleep(50);
  }
  throw new Error(`sshd on ${host}:${port} did not listen within 10 s: ${log()}`);
}

/** useradd and userdel lock /etc/passwd; another process (another test file) may hold it for a moment. */
function withRetries(action: () => void): void {
  for (let attempt = 1; ; attempt++) {
    try {
      action();
      return;
    } catch (error) {
      if (attempt >= 10) throw error;
      execFileSync('sleep', ['0.2']);
    }
  }
}
