import * as core from '@actions/core';
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { InputError, messageOf } from '../errors.js';
import { hostHookArgv } from './hooks.js';
import { formatDuration } from '../log.js';
import type { Host, HostOutcome, Releaser } from '../providers/types.js';
import type { Hook, ReleaseSourceSettings, Settings } from '../settings.js';
import type { Argv, CommandResult, CommandRunner } from './command.js';
import { printHostLines, showHostOutput } from './host-output.js';
import {
  endSessionArgv,
  hostScriptGraceSeconds,
  hostScriptInvocation,
  readHostScriptReport,
  sessionOf,
  type HostScriptReport,
  type ReleaseSource,
} from './host-script.js';
import { releaseFiles, releaseRules } from './release-files.js';

/** Opens a command runner on a host: SSH here; tests and other transports bring their own. */
export type RunnerFactory = (host: Host) => Promise<CommandRunner>;

/**
 * Puts a release on the hosts of a color by running the Perl host script on each, `max-parallel-hosts`
 * hosts at a time. Each host's steps are streamed live with a `[host]` prefix, and its whole output
 * is shown in its own log group after the phase; a host that fails does not stop the others, so every host
 * reports where it stands.
 */
export interface HostScriptReleaserOptions {
  /** Aborted when the run is cancelled: each host script still running is ended on its host. */
  signal?: AbortSignal;
}

/**
 * Time limits: the host script times its own steps and the whole run (`host-timeout`), ending what
 * a step started and keeping or putting back the previous release. The runner bounds the connect
 * (`host-step-timeouts` connect) and, should the script not end by itself (a host that stopped
 * answering, a cancelled run), ends the script's session from a second connection.
 */
export class HostScriptReleaser implements Releaser {
  constructor(
    private readonly settings: Settings,
    private readonly connect: RunnerFactory,
    private readonly options: HostScriptReleaserOptions = {},
  ) {}

  async release(hosts: Host[], release: string): Promise<HostOutcome[]> {
    const source = await releaseSourceOf(this.settings.hostRelease.source);
    return inParallel(hosts, this.settings.hostRelease.concurrency, (host) => this.releaseTo(host, release, source));
  }

  private async releaseTo(host: Host, release: string, source: ReleaseSource): Promise<HostOutcome> {
    const started = performance.now();
    const output: string[] = [];
    const print = (line: string) => {
      output.push(line);
      // Live, inside the phase's group: each step as a host reaches it. The whole output follows
      // in the host's own group once the phase's group has closed.
      if (line.startsWith('==> ') || output.length === 1) printHostLines(host.name, [line]);
    };
    const report = await this.runHostScript(host, release, source, print);
    const durationMs = performance.now() - started;
    const outcome = outcomeOf(host, report, durationMs);
    showHostOutput(
      host.name,
      `${host.name}: ${outcome.ok ? 'released' : `failed at ${report.step ?? 'an unknown step'}${outcome.restored ? ', restored' : ''}`} (${formatDuration(durationMs)})`,
      output,
    );
    return outcome;
  }

  /** A `hosts:` hook: the user's command in the live release directory of each host, `max-parallel-hosts` at a time. */
  async runHook(hosts: Host[], hook: Hook, env: Record<string, string>): Promise<HostOutcome[]> {
    const argv = hostHookArgv(hook, this.settings.hostRelease.appDir, env);
    return inParallel(hosts, this.settings.hostRelease.concurrency, async (host) => {
      const started = performance.now();
      const lines: string[] = [];
      const { code, connectError } = await this.runOn(host, argv, (line) => (lines.push(line), printHostLines(host.name, [line])));
      if (connectError !== undefined) lines.push(connectError);
      const last = lines.slice(-3).join(' | ');
      return { host, ok: code === 0, durationMs: performance.now() - started, detail: code === 0 ? 'exit 0' : `exit ${code}${last ? `: ${last}` : ''}` };
    });
  }

  /** Connects, runs the host script with the release on stdin, and reads its result. */
  private async runHostScript(host: Host, release: string, source: ReleaseSource, print: (line: string) => void): Promise<HostScriptReport> {
    const output: string[] = [];
    const { argv, stdin } = hostScriptInvocation(this.settings, host, release, source);
    const { hostSeconds } = this.settings.hostRelease.timeouts;
    const graceSeconds = hostScriptGraceSeconds(this.settings);
    let session: number | undefined;
    const onLine = (line: string) => {
      session ??= sessionOf(line);
      output.push(line);
      print(line);
    };
    const { code, connectError, stopped } = await this.runOn(host, argv, onLine, { stdin, timeoutMs: (hostSeconds + graceSeconds) * 1000 });
    if (connectError !== undefined) {
      print(`cannot connect: ${connectError}`);
      return { ok: false, step: 'connect', message: connectError, restored: false, lastLines: [] };
    }
    if (stopped) {
      const why =
        stopped === 'timeout' ? `the host script did not end within host-timeout (${hostSeconds} s) and ${graceSeconds} s more` : 'the run was cancelled';
      const ended = session === undefined ? 'it had not started yet' : await this.endSession(host, session);
      print(`${why}: ${ended}`);
      const sofar = readHostScriptReport(output.join('\n'), code);
      return { ok: false, ...(sofar.step && { step: sofar.step }), message: `${why}; ${ended}`, restored: false, lastLines: sofar.lastLines };
    }
    return readHostScriptReport(output.join('\n'), code);
  }

  /** Ends a host script's session (TERM, then KILL) from a connection of its own. */
  private async endSession(host: Host, session: number): Promise<string> {
    const said: string[] = [];
    const { code, connectError } = await this.runOn(host, endSessionArgv(session), (line) => said.push(line), { timeoutMs: 60_000 }, false);
    if (connectError !== undefined) return `could not reach the host to end its session ${session}: ${connectError}`;
    return code === 0
      ? `ended what it ran on the host (session ${session}): ${said.join(' ')}`
      : `could not end its session ${session} on the host (exit ${code}): ${said.join(' | ')}`;
  }

  /**
   * Runs `argv` on a host over a connection of its own, closed after. A connection that cannot be
   * made within the connect limit is reported as `connectError`; one that drops mid-run is exit 255
   * with the reason as the last output line (what the command printed so far tells how far it got).
   */
  private async runOn(
    host: Host,
    argv: Argv,
    onLine: (line: string) => void,
    how: { stdin?: Buffer; timeoutMs?: number } = {},
    cancellable = true,
  ): Promise<{ code: number; connectError?: string; stopped?: CommandResult['stopped'] }> {
    const signal = cancellable ? this.options.signal : undefined;
    if (signal?.aborted) return { code: 255, connectError: 'not started: the run was cancelled' };
    const connectSeconds = this.settings.hostRelease.timeouts.stepSeconds.connect;
    let runner: CommandRunner;
    try {
      runner = await withinTime(this.connect(host), connectSeconds * 1000, `no connection within ${connectSeconds} s (host-step-timeouts connect)`);
    } catch (error) {
      return { code: 255, connectError: messageOf(error) };
    }
    try {
      const result = await runner.run(argv, {
        onLine,
        ...(how.stdin && { stdin: how.stdin }),
        ...(how.timeoutMs && { timeoutMs: how.timeoutMs }),
        ...(signal && { signal }),
      });
      return { code: result.code, ...(result.stopped && { stopped: result.stopped }) };
    } catch (error) {
      onLine(messageOf(error));
      return { code: 255 };
    } finally {
      await runner.close();
    }
  }
}

/** The connection, or `message` once `ms` passed; a connection that comes up later is closed. */
async function withinTime(connecting: Promise<CommandRunner>, ms: number, message: string): Promise<CommandRunner> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)));
  try {
    return await Promise.race([connecting, late]);
  } catch (error) {
    connecting.then((runner) => runner.close()).catch(() => undefined);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

function outcomeOf(host: Host, report: HostScriptReport, durationMs: number): HostOutcome {
  if (report.ok) return { host, ok: true, durationMs, detail: report.message };
  const step = report.step ?? 'start';
  const what = report.message.startsWith(`${step} failed`) ? report.message : `${step} failed: ${report.message}`;
  const last = report.lastLines.length > 0 ? `; last output: ${report.lastLines.join(' | ')}` : '';
  return { host, ok: false, durationMs, detail: `${what}${last}`, restored: report.restored };
}

/** Runs `work` on every item, at most `limit` at a time; results keep the items' order. */
export async function inParallel<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** What the hosts receive: a tarball of `release-path` made once on the runner, or a git fetch on each host. */
export async function releaseSourceOf(source: ReleaseSourceSettings): Promise<ReleaseSource> {
  if (source.kind === 'git') return source;
  return { kind: 'upload', tarball: await releaseTarball(source.path, source.exclude) };
}

/**
 * A gzipped tarball of the directory as it is on the runner, without `.git/`, `local/` and
 * credential files (see releaseFiles). Plain tar rather than `git archive`: a workflow often builds
 * files into the checkout before deploying (assets, a generated config) that a commit does not
 * hold, and release-path need not be a git checkout at all. `local/` is left out because each host
 * installs its own CPAN modules (XS modules are built for the host's perl).
 */
export async function releaseTarball(path: string, exclude: readonly string[] = []): Promise<Buffer> {
  if (!statSync(path, { throwIfNoEntry: false })?.isDirectory()) {
    throw new InputError(
      'release-path',
      `'${path}' is not a directory on the runner`,
      'Check the code out first (actions/checkout), or point release-path at the app directory',
    );
  }
  const { files, leftOut } = releaseFiles(path, releaseRules(exclude));
  if (leftOut.length > 0) core.info(`Left out of the release (credential files and release-exclude): ${leftOut.join(', ')}`);
  const chunks: Buffer[] = [];
  const errors: string[] = [];
  // The list goes to tar NUL-separated, each entry named once (no recursion): any file name works.
  const child = spawn('tar', ['--create', '--gzip', '--file=-', '--directory', path, '--no-recursion', '--null', '--files-from=-'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin.on('error', () => undefined); // tar exiting early is reported by its exit code
  child.stdin.end(['.', ...files.map((file) => `./${file}`)].map((name) => `${name}\0`).join(''));
  child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => errors.push(chunk.toString()));
  const code = await new Promise<number>((resolve) => {
    child.on('error', (error) => (errors.push(error.message), resolve(127)));
    child.on('close', (exit) => resolve(exit ?? 128));
  });
  if (code !== 0) {
    throw new InputError(
      'release-path',
      `could not be packed with tar (exit ${code}: ${errors.join('').trim()})`,
      'Make every file under release-path readable by the runner',
    );
  }
  return Buffer.concat(chunks);
}
