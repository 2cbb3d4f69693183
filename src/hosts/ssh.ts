import * as core from '@actions/core';
import { NodeSSH, type Config } from 'node-ssh';
import { Readable, type Duplex } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { ConnectionLost, InputError, UserError } from '../errors.js';
import type { ProbeTransport } from '../providers/types.js';
import type { HostAddress, SshSettings } from '../settings.js';
import { lineSplitter, toShell, type Argv, type CommandResult, type CommandRunner, type RunOptions } from './command.js';
import { fingerprint, hostKeyAlgorithmsFor, keysFor, keyTypeOf, knownHostsName, parseKnownHosts } from './known-hosts.js';
import { endpoint, type Endpoint, type SshTarget } from './ssh-endpoint.js';

export type { SshTarget } from './ssh-endpoint.js';

/** Host key types ssh2 can verify; a known_hosts line of another type (a security key) cannot be used. */
const VERIFIABLE_KEY_TYPES = new Set(['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'ssh-rsa', 'ssh-dss']);

/** How long the TCP connection and the SSH handshake may take before the host counts as unreachable. */
const READY_TIMEOUT_MS = 20_000;

/**
 * A connection kept for a whole run (the HAProxy host's, held through a progressive switch's
 * pauses) sends a keepalive every quarter of the connect limit; three unanswered ones end it, so
 * a dead peer is noticed in about the time a first connect may take, not at the next TCP timeout.
 */
const KEEPALIVE_INTERVAL_MS = READY_TIMEOUT_MS / 4;
const KEEPALIVE_COUNT_MAX = 3;

/**
 * Opens an SSH connection to `target` (through `ssh.jumpHost` when set) and returns a runner for
 * its commands. The host key is checked against `ssh-known-hosts` before any authentication;
 * every failure to connect is a one-line UserError that names the host.
 */
export async function connectSsh(target: SshTarget, ssh: SshSettings): Promise<CommandRunner> {
  const destination = endpoint(target, ssh);
  let jump: NodeSSH | undefined;
  let sock: Readable | undefined;
  if (ssh.jumpHost) {
    const via = endpoint(ssh.jumpHost, ssh);
    jump = await open(via, ssh, undefined, 'the jump host ');
    try {
      // The jump host opens the TCP connection to the target; SSH (and the host key check) runs
      // end to end through it, so the jump host never sees the session.
      sock = (await jump.forwardOut('127.0.0.1', 0, destination.host, destination.port)) as Readable;
    } catch (error) {
      jump.dispose();
      throw new UserError(
        `The jump host ${via.name} could not open a connection to ${destination.name}: ${reasonOf(error)}. Check that ${destination.name} is reachable from the jump host and that its sshd allows TCP forwarding (AllowTcpForwarding).`,
      );
    }
  }
  try {
    const connection = await open(destination, ssh, sock, '');
    return new SshRunner(connection, jump, `${destination.user}@${destination.name}`);
  } catch (error) {
    jump?.dispose();
    throw error;
  }
}

/**
 * TCP connections opened by the jump host, for health probes of addresses only it can reach
 * (`probe-via`). One SSH connection to the jump host is held for the run, opened on first use and
 * shared by every probe (each probe is one forwarded channel on it); reopened if it dropped.
 * Release connections each open their own, closed with their host, so they are not reused here.
 */
export class JumpHostTunnel implements ProbeTransport {
  readonly description: string;
  private connection?: Promise<NodeSSH>;

  constructor(
    private readonly jumpHost: HostAddress,
    private readonly ssh: SshSettings,
  ) {
    this.description = `the jump host ${endpoint(jumpHost, ssh).name}`;
  }

  async connect(host: string, port: number): Promise<Duplex> {
    const jump = await this.open();
    return (await jump.forwardOut('127.0.0.1', 0, host, port)) as Duplex;
  }

  async close(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    (await connection?.catch(() => undefined))?.dispose();
  }

  private open(): Promise<NodeSSH> {
    if (!this.connection) {
      const opening = open(endpoint(this.jumpHost, this.ssh), this.ssh, undefined, 'the jump host ');
      this.connection = opening;
      const forget = () => {
        if (this.connection === opening) this.connection = undefined;
      };
      opening.then(
        // A dropped connection is forgotten (the next probe opens another), never an uncaught 'error' event.
        (jump) => jump.connection?.on('error', forget).once('close', forget),
        forget,
      );
    }
    return this.connection;
  }
}

async function open(to: Endpoint, ssh: SshSettings, sock: Readable | undefined, what: string): Promise<NodeSSH> {
  const check = hostKeyCheck(to, ssh);
  if (check.refusal) throw check.refusal;
  if (!ssh.privateKey && !process.env.SSH_AUTH_SOCK) {
    throw new InputError(
      'ssh-private-key',
      `is empty and no SSH agent is running, so there is no key to log in to ${what}${to.name} with`,
      'Pass the private key from a secret: `ssh-private-key: ${{ secrets.DEPLOY_KEY }}`',
    );
  }
  const config: Config = {
    ...(sock ? { sock } : { host: to.host, port: to.port }),
    username: to.user,
    readyTimeout: READY_TIMEOUT_MS,
    keepaliveInterval: KEEPALIVE_INTERVAL_MS,
    keepaliveCountMax: KEEPALIVE_COUNT_MAX,
    hostVerifier: (key: Buffer) => check.verify(key),
    ...(check.algorithms && { algorithms: { serverHostKey: check.algorithms } }),
    ...(ssh.privateKey ? { privateKey: ssh.privateKey } : process.env.SSH_AUTH_SOCK ? { agent: process.env.SSH_AUTH_SOCK } : {}),
  };
  const connection = new NodeSSH();
  try {
    await connection.connect(config);
    keepEnding(connection);
    // Small writes go out at once: with Nagle's algorithm, a runtime API command sent right after
    // another channel's traffic waits for the server's delayed ACK (40 ms) before it leaves.
    connection.connection?.setNoDelay(true);
    return connection;
  } catch (error) {
    connection.dispose();
    const refusal = check.refused();
    if (refusal) throw refusal;
    throw new UserError(`Cannot connect to ${what}${to.user}@${to.name} over SSH: ${connectionProblem(error, to)}`);
  }
}

/**
 * Why each open connection ended, once it did. node-ssh listens for 'error' only while it connects:
 * a later one (a reset, a keepalive timeout) with no listener would crash the process, even in the
 * moment before a runner takes the connection over (a jump host's, while the target's handshake
 * runs through it). So a listener is kept from 'ready' for the connection's life; a runner reports
 * what it recorded to the next command (`connectionEnded`).
 */
const endings = new WeakMap<NodeSSH, string>();

function keepEnding(connection: NodeSSH): void {
  const client = connection.connection;
  const ended = (reason: string) => {
    if (!endings.has(connection)) endings.set(connection, reason);
  };
  client?.on('error', (error: unknown) => ended(reasonOf(error)));
  client?.on('close', () => ended('the connection closed'));
}

/** Why `connection` ended; undefined while it is open. */
function connectionEnded(connection: NodeSSH | undefined): string | undefined {
  return connection && endings.get(connection);
}

interface HostKeyCheck {
  /** Known before connecting: nothing in ssh-known-hosts can vouch for this host. */
  refusal?: UserError;
  /** Host key algorithms to ask for, so the host presents a key of a type known_hosts has. */
  algorithms?: string[];
  verify(key: Buffer): boolean;
  /** Why the key the host presented was refused, once it was. */
  refused(): UserError | undefined;
}

function hostKeyCheck(to: Endpoint, ssh: SshSettings): HostKeyCheck {
  const name = knownHostsName(to.host, to.port);
  const howToTrust = `Add the line that \`ssh-keyscan -p ${to.port} ${to.host}\` prints (compare its fingerprint with the host's own first) to ssh-known-hosts, or set ssh-insecure-skip-host-key-check: true for throwaway hosts`;
  if (ssh.skipHostKeyCheck) {
    return {
      verify: (key) => {
        core.warning(
          `Host key of ${name} accepted without verification (${keyTypeOf(key)} ${fingerprint(key)}): ssh-insecure-skip-host-key-check is true, so a man in the middle would go unnoticed.`,
        );
        return true;
      },
      refused: () => undefined,
    };
  }
  const { trusted, revoked } = keysFor(parseKnownHosts(ssh.knownHosts ?? ''), to.host, to.port);
  const usable = trusted.filter((line) => VERIFIABLE_KEY_TYPES.has(line.type));
  const refuse = (problem: string) => new InputError('ssh-known-hosts', problem, howToTrust);
  if (usable.length === 0) {
    const problem = !ssh.knownHosts
      ? `is empty, so the host key of ${name} cannot be verified`
      : trusted.length > 0
        ? `lists only ${trusted.map((l) => l.type).join(', ')} keys for ${name}, which cannot be verified here`
        : `has no key for ${name}`;
    return { refusal: refuse(problem), verify: () => false, refused: () => undefined };
  }
  let refusal: UserError | undefined;
  return {
    algorithms: hostKeyAlgorithmsFor([...new Set(usable.map((line) => line.type))]),
    verify(key) {
      const presented = key.toString('base64');
      const id = `${keyTypeOf(key)} key ${fingerprint(key)}`;
      if (revoked.some((line) => line.key === presented)) {
        refusal = refuse(`marks the ${id} of ${name} as @revoked; it presented that key, so nothing was run there`);
      } else if (!usable.some((line) => line.key === presented)) {
        refusal = refuse(`does not list the ${id} that ${name} presented, so nothing was run there (the host was rebuilt, or someone is in the middle)`);
      }
      return refusal === undefined;
    },
    refused: () => refusal,
  };
}

/** An error's message; ssh2's and Node's socket errors included, whichever realm made them. */
function reasonOf(error: unknown): string {
  return typeof error === 'object' && error !== null && 'message' in error ? String(error.message) : String(error);
}

/** A connection failure in words, with what to check. */
function connectionProblem(error: unknown, to: Endpoint): string {
  const { code, level } = (error ?? {}) as { code?: string; level?: string };
  if (level === 'client-authentication')
    return `the host refused the key for user ${to.user}. Check ssh-private-key and ssh-user, and that the public key is in ~${to.user}/.ssh/authorized_keys on the host`;
  if (level === 'client-timeout' || code === 'ETIMEDOUT')
    return `no SSH handshake within ${READY_TIMEOUT_MS / 1000} s. Check that the host is up and that a firewall lets the runner reach port ${to.port}`;
  switch (code) {
    case 'ECONNREFUSED':
      return `connection refused: nothing listens on port ${to.port}. Check that sshd runs there and the port is right (ssh-port, or host:port)`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'no route to the host. Check the address and the network between the runner and the host';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `the name ${to.host} does not resolve. Check the host name`;
    case 'ECONNRESET':
      return "the connection was reset during the handshake. Check that this port is sshd, and the host's MaxStartups";
  }
  return `${reasonOf(error).replace(/\.$/, '')}. Check the host, port and user`;
}

/** Runs commands on one host over an open SSH connection: each argv becomes shell text through `toShell` only. */
export class SshRunner implements CommandRunner {
  /** Why a command found the connection gone, when no 'error' or 'close' said so. */
  private failed?: string;

  constructor(
    private readonly connection: NodeSSH,
    private readonly jump: NodeSSH | undefined,
    readonly description: string,
  ) {}

  /** Why the connection (or the jump host's) ended, once it did; the next command reports it. */
  private get lost(): string | undefined {
    // A jump host's connection that ended takes the target's with it: its reason is the one to give.
    const jumpEnded = connectionEnded(this.jump);
    return (jumpEnded === undefined ? undefined : `the jump host: ${jumpEnded}`) ?? connectionEnded(this.connection) ?? this.failed;
  }

  async run(argv: Argv, options: RunOptions = {}): Promise<CommandResult> {
    if (this.lost !== undefined || !this.connection.isConnected()) throw this.connectionLost(argv, false);
    const out = streamOf((line) => options.onLine?.(line, 'stdout'));
    const err = streamOf((line) => options.onLine?.(line, 'stderr'));
    let timer: NodeJS.Timeout | undefined;
    let stopped: CommandResult['stopped'];
    let onAbort: (() => void) | undefined;
    let giveUp!: () => void;
    // sshd confirms a closed session only once the remote command exited: a stopped run does not wait for that.
    const gaveUp = new Promise<undefined>((resolve) => (giveUp = () => resolve(undefined)));
    let started = false;
    try {
      const running = this.connection.execCommand(toShell(argv), {
        // A Readable of one chunk: a Buffer given as is would be read byte by byte.
        ...(options.stdin !== undefined && { stdin: Readable.from([options.stdin]) }),
        noTrim: true,
        onStdout: out.push,
        onStderr: err.push,
        onChannel: (channel) => {
          started = true;
          // Closing the session hangs up on the remote command, as a dropped connection would.
          const stop = (why: 'timeout' | 'cancelled') => {
            stopped ??= why;
            channel.close();
            giveUp();
          };
          if (options.timeoutMs) timer = setTimeout(() => stop('timeout'), options.timeoutMs);
          if (options.signal?.aborted) stop('cancelled');
          onAbort = () => stop('cancelled');
          options.signal?.addEventListener('abort', onAbort, { once: true });
        },
      });
      running.catch(() => undefined); // once given up on, how it ends does not matter
      const result = await Promise.race([running, gaveUp]);
      const stdout = out.end();
      const stderr = err.end();
      if (stopped || !result)
        return {
          code: 124,
          stdout,
          stderr: `${stderr}${stopped === 'timeout' ? `stopped after ${options.timeoutMs} ms (timeout)` : 'stopped: cancelled'}`,
          stopped,
        };
      // No exit status because the connection went away under the command: its outcome is unknown.
      if (result.code === null && !result.signal && this.lost !== undefined) throw this.connectionLost(argv, true);
      return { code: result.code ?? 128, stdout, stderr: stderr + (result.signal ? `killed by ${result.signal}` : '') };
    } catch (error) {
      if (error instanceof ConnectionLost) throw error;
      if (this.lost !== undefined || !this.connection.isConnected()) {
        this.failed ??= reasonOf(error);
        throw this.connectionLost(argv, started);
      }
      throw new UserError(`SSH to ${this.description} failed while running ${argv[0] ?? 'a command'}: ${reasonOf(error)}`);
    } finally {
      clearTimeout(timer);
      if (onAbort) options.signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * One SSH channel running the command, its stdin and stdout held open (its stderr is dropped). A
   * connection that dropped before the channel opened is a ConnectionLost of a command that did
   * not start, which the caller may run again over a new connection.
   */
  async open(argv: Argv): Promise<Duplex> {
    const client = this.connection.connection;
    if (this.lost !== undefined || !client) throw this.connectionLost(argv, false);
    return new Promise((resolve, reject) => {
      const failed = (error: unknown) =>
        reject(
          this.lost !== undefined || !this.connection.isConnected()
            ? this.connectionLost(argv, false)
            : new UserError(`SSH to ${this.description} could not open a channel for ${argv[0] ?? 'a command'}: ${reasonOf(error)}`),
        );
      try {
        client.exec(toShell(argv), (error: Error | undefined, channel: Duplex & { stderr: Readable }) =>
          error ? failed(error) : (channel.stderr.resume(), resolve(channel)),
        );
      } catch (error) {
        failed(error);
      }
    });
  }

  async close(): Promise<void> {
    this.connection.dispose();
    this.jump?.dispose();
  }

  private connectionLost(argv: Argv, started: boolean): ConnectionLost {
    const what = argv[0] ?? 'a command';
    const outcome = started ? `while ${what} ran there, so whether it finished is not known` : `before ${what} could start there, so nothing of it ran`;
    return new ConnectionLost(`The SSH connection to ${this.description} was lost (${this.lost ?? 'not connected'}) ${outcome}`, started);
  }
}

/** Collects a channel's bytes as text (multi-byte characters split across chunks stay whole) and its lines. */
function streamOf(emit: (line: string) => void): { push: (chunk: Buffer) => void; end: () => string } {
  const decoder = new StringDecoder('utf8');
  const lines = lineSplitter(emit);
  const text: string[] = [];
  const take = (piece: string) => {
    text.push(piece);
    lines.push(piece);
  };
  return {
    push: (chunk) => take(decoder.write(chunk)),
    end: () => {
      take(decoder.end());
      lines.end();
      return text.join('');
    },
  };
}
