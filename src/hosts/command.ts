import { spawn } from 'node:child_process';
import { rename, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * Remote and local commands are data: argv arrays, turned into shell text in exactly one place
 * (`toShell`), so nothing a user types reaches a shell unquoted.
 */
export type Argv = readonly string[];

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
  /** The runner stopped waiting: `timeoutMs` passed, or `signal` aborted. The command may still run where it was. */
  stopped?: 'timeout' | 'cancelled';
}

export interface RunOptions {
  /** Sent to the command's standard input (a script, a file's new content, the host script and a tarball). */
  stdin?: string | Buffer;
  /** The command is stopped after this long and reported as failed. */
  timeoutMs?: number;
  /** Each complete output line, as it arrives: for streaming into a host's log group. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Stops waiting for the command when aborted (a cancelled run), as `timeoutMs` does. */
  signal?: AbortSignal;
}

/** Runs commands on one machine: the runner itself, or a host over SSH. */
export interface CommandRunner {
  /** Where commands run, for logs and errors: `local`, `deploy@10.0.0.11:22`. */
  readonly description: string;
  run(argv: Argv, options?: RunOptions): Promise<CommandResult>;
  /**
   * Starts a command and keeps its stdin and stdout open as one stream, for a conversation with one
   * process (HAProxy's runtime API through socat). Optional: without it, one process per command.
   */
  open?(argv: Argv): Promise<Duplex>;
  /**
   * Only where commands run on this machine: Node's own connection to a Unix socket (HAProxy's
   * admin socket), with no process started. A runner that wraps another passes it on, so what it
   * wraps (a test's fault injector) sees the conversation.
   */
  connectSocket?(path: string): Promise<Duplex>;
  /** Only where commands run on this machine: writes a file by Node, temp file + rename, with no process started. */
  writeFile?(path: string, content: string): Promise<void>;
  close(): Promise<void>;
}

/** POSIX single-quoting: the one way an argument becomes shell text. */
export function shellQuote(arg: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function toShell(argv: Argv): string {
  if (argv.length === 0) throw new Error('empty command');
  return argv.map(shellQuote).join(' ');
}

/** Splits a chunked stream into lines for `onLine`, keeping a partial line until it completes. */
export function lineSplitter(emit: (line: string) => void): { push(chunk: string): void; end(): void } {
  let pending = '';
  return {
    push(chunk) {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) emit(line.replace(/\r$/, ''));
    },
    end() {
      if (pending) emit(pending);
      pending = '';
    },
  };
}

/** Commands on the runner itself, with no shell in between. */
export class LocalRunner implements CommandRunner {
  readonly description = 'local';

  run(argv: Argv, options: RunOptions = {}): Promise<CommandResult> {
    const [command, ...args] = argv;
    if (!command) return Promise.reject(new Error('empty command'));
    return new Promise((resolve) => {
      const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], ...(options.timeoutMs && { timeout: options.timeoutMs }) });
      const out: string[] = [];
      const err: string[] = [];
      const stdoutLines = lineSplitter((line) => options.onLine?.(line, 'stdout'));
      const stderrLines = lineSplitter((line) => options.onLine?.(line, 'stderr'));
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out.push(chunk), stdoutLines.push(chunk)));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err.push(chunk), stderrLines.push(chunk)));
      child.on('error', (error) => resolve({ code: 127, stdout: out.join(''), stderr: `${err.join('')}${error.message}` }));
      child.on('close', (code, signal) => {
        stdoutLines.end();
        stderrLines.end();
        resolve({ code: code ?? 128, stdout: out.join(''), stderr: err.join('') + (signal ? `killed by ${signal}` : '') });
      });
      child.stdin.on('error', () => undefined);
      child.stdin.end(options.stdin ?? '');
    });
  }

  /** A connected socket; it does not keep the process alive while unref'd (the caller does that when idle). */
  connectSocket(path: string): Promise<Duplex> {
    const socket = connect(path);
    return new Promise((resolve, reject) => {
      socket.once('connect', () => (socket.removeListener('error', reject), resolve(socket)));
      socket.once('error', reject);
    });
  }

  /** A reader (or a reload) sees the old file or the new one, never half of one. */
  async writeFile(path: string, content: string): Promise<void> {
    await writeFile(`${path}.bluegreen-tmp`, content);
    await rename(`${path}.bluegreen-tmp`, path);
  }

  async close(): Promise<void> {}
}
