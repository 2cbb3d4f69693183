import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopChild } from './processes.js';

/**
 * A private network behind a public bastion, as a GitHub-hosted runner meets it, on one machine:
 * a network namespace the test creates, with only its own loopback, holds the "private" app
 * (an HTTP server on 127.0.50.10 inside it) and the bastion's sshd. The runner reaches that sshd
 * on 127.0.50.1 (its own loopback): each connection there is handed to `sshd -i` started inside
 * the namespace, so the runner's SSH session ends in the namespace while the runner itself has no
 * route into it. The same address on the runner's side answers nothing: a direct probe is refused.
 * Needs root (ip netns). The bastion lets in root with the runner's key, but only to forward
 * (ForceCommand /bin/false, no TTY), and only to the addresses in `permitOpen`.
 */
export interface NetnsBastionOptions {
  /** Where the runner reaches the bastion: an address in 127.0.50.x or 127.0.51.x. */
  address: string;
  port: number;
  /** Where the app listens inside the namespace (its own loopback), `host:port`. */
  app: { host: string; port: number };
  /** `PermitOpen` of the bastion: where it lets forwarded connections go. */
  permitOpen: string[];
}

export class NetnsBastion {
  privateKey = '';
  knownHostsLine = '';
  private server?: Server;
  private app?: ChildProcess;
  private readonly sessions = new Set<ChildProcess>();
  private readonly sockets = new Set<Socket>();
  /** Set by stop(): from then on, output of sessions still ending is dropped. */
  private stopped = false;
  private readonly namespace = `bgp-bastion-${randomBytes(3).toString('hex')}`;
  private namespaceMade = false;

  private constructor(
    readonly dir: string,
    readonly options: NetnsBastionOptions,
  ) {}

  static async start(options: NetnsBastionOptions): Promise<NetnsBastion> {
    if (process.getuid?.() !== 0) throw new Error('the bastion lab creates a network namespace: run the tests as root (CI does)');
    const bastion = new NetnsBastion(mkdtempSync(join(tmpdir(), 'bgp-bastion-')), options);
    try {
      await bastion.build();
    } catch (error) {
      await bastion.stop();
      throw error;
    }
    return bastion;
  }

  /** `[address]:port` as ssh-jump-host takes it (with the user). */
  get spec(): string {
    return `root@${this.options.address}:${this.options.port}`;
  }

  /** What the bastion's sshd logged, every session. */
  get log(): string {
    return readFileSync(join(this.dir, 'sshd.log'), 'utf8');
  }

  /** How many times the runner logged in to the bastion. */
  logins(): number {
    return this.log.split('\n').filter((line) => line.startsWith('Accepted publickey')).length;
  }

  /** The forwarded connections the bastion opened, as `host:port`, in order. */
  forwards(): string[] {
    return [...this.log.matchAll(/server_request_direct_tcpip: originator \S+ port \d+, target (\S+) port (\d+)/g)].map((m) => `${m[1]}:${m[2]}`);
  }

  private async build(): Promise<void> {
    const { address, port, app, permitOpen } = this.options;
    const key = join(this.dir, 'runner_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bluegreen-perl bastion test', '-f', key]);
    this.privateKey = readFileSync(key, 'utf8');
    writeFileSync(join(this.dir, 'authorized_keys'), readFileSync(`${key}.pub`));
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bastion', '-f', join(this.dir, 'host_key')]);
    const [type, blob] = readFileSync(join(this.dir, 'host_key.pub'), 'utf8').split(' ');
    this.knownHostsLine = `[${address}]:${port} ${type} ${blob}`;
    writeFileSync(
      join(this.dir, 'sshd_config'),
      [
        `HostKey ${join(this.dir, 'host_key')}`,
        `AuthorizedKeysFile ${join(this.dir, 'authorized_keys')}`,
        'PermitRootLogin prohibit-password',
        // The key file lives under /tmp (world-writable): only this test's files are involved.
        'StrictModes no',
        'PubkeyAuthentication yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        'AllowTcpForwarding local',
        `PermitOpen ${permitOpen.join(' ')}`,
        'ForceCommand /bin/false',
        'PermitTTY no',
        'PrintMotd no',
        // DEBUG1 logs each forwarded connection's target (server_request_direct_tcpip).
        'LogLevel DEBUG1',
        '',
      ].join('\n'),
    );
    execFileSync('/usr/sbin/sshd', ['-t', '-f', join(this.dir, 'sshd_config')]);
    writeFileSync(join(this.dir, 'sshd.log'), '');
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });

    execFileSync('ip', ['netns', 'add', this.namespace]);
    this.namespaceMade = true;
    this.inNamespace('ip', 'link', 'set', 'lo', 'up');
    this.app = spawn('ip', ['netns', 'exec', this.namespace, process.execPath, '-e', APP_SCRIPT, app.host, String(app.port)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the app in the namespace did not start within 10 s')), 10_000);
      this.app?.stdout?.once('data', () => (clearTimeout(timer), resolve()));
      this.app?.once('exit', (code) => (clearTimeout(timer), reject(new Error(`the app in the namespace exited with ${code}`))));
    });

    this.server = createServer((socket) => this.session(socket));
    await new Promise<void>((resolve, reject) => {
      this.server?.once('error', reject);
      this.server?.listen(port, address, () => resolve());
    });
  }

  /** One SSH connection: `sshd -i` in the namespace speaks over the runner's socket. */
  private session(socket: Socket): void {
    this.sockets.add(socket);
    const sshd = spawn('ip', ['netns', 'exec', this.namespace, '/usr/sbin/sshd', '-i', '-e', '-f', join(this.dir, 'sshd_config')], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.sessions.add(sshd);
    socket.pipe(sshd.stdin);
    sshd.stdout.pipe(socket);
    // What sshd still writes once the bastion is stopped (its dir removed) is dropped: an error
    // thrown from this handler would land in whichever test file runs next in the same worker.
    sshd.stderr.on('data', (chunk: Buffer) => {
      if (!this.stopped) appendFileSync(join(this.dir, 'sshd.log'), chunk);
    });
    sshd.stdin.on('error', () => undefined);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.sockets.delete(socket);
      if (sshd.exitCode === null) sshd.kill('SIGTERM');
    });
    sshd.on('exit', () => {
      this.sessions.delete(sshd);
      socket.end();
    });
  }

  private inNamespace(...argv: string[]): void {
    execFileSync('ip', ['netns', 'exec', this.namespace, ...argv]);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    await Promise.all([...this.sessions, ...(this.app ? [this.app] : [])].map(stopChild));
    if (this.namespaceMade) execFileSync('ip', ['netns', 'del', this.namespace]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * The private app: `/health` answers 200 with where it listens, `/broken` 500, `/hang` never answers.
 * It prints one line once it listens.
 */
const APP_SCRIPT = `
const http = require('node:http');
const [host, port] = process.argv.slice(-2);
http.createServer((request, response) => {
  if (request.url === '/hang') return;
  const status = request.url === '/health' ? 200 : request.url === '/broken' ? 500 : 404;
  response.writeHead(status, { 'content-type': 'text/plain' });
  response.end('private app on ' + host + ':' + port + ' answered ' + status + '\\n');
}).listen(Number(port), host, () => console.log('listening'));
`;
