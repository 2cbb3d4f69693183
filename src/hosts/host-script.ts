import { readFileSync } from 'node:fs';
import type { Host } from '../providers/types.js';
import type { Settings } from '../settings.js';
import { shellQuote, toShell, type Argv } from './command.js';

/**
 * The Perl host script (host-script.pl) and the pure builders that hand it to a host: as
 * `perl - ARGS` with the script on stdin (SSH), or as one self-contained shell text (AWS SSM
 * SendCommand). Every value travels as one `--name=value` argument, quoted by `toShell` only.
 */

/** How the release's files reach the host. */
export type ReleaseSource =
  /** A gzipped tarball made on the runner; it follows the script on stdin (after `__END__`). SSH only. */
  | { kind: 'upload'; tarball: Buffer }
  /** A shallow fetch of `ref` (branch, tag or commit) from `repository`, on the host. */
  | { kind: 'git'; repository: string; ref: string }
  /** A gzipped tarball already on the host (put there by another step). */
  | { kind: 'archive'; path: string }
  /**
   * A gzipped tarball the host downloads (with curl or wget) and checks against `sha256` (hex): a
   * presigned S3 GET URL. It is a credential while valid: shell text only (SSM), in the environment.
   */
  | { kind: 'url'; url: string; sha256: string };

let scriptText: string | undefined;

/** The host script's text. ncc copies host-script.pl next to the bundle, so this works from dist/ too. */
export function hostScript(): string {
  scriptText ??= readFileSync(new URL('./host-script.pl', import.meta.url), 'utf8');
  return scriptText;
}

/** What the app listens on, on `host`: `app-listen-address` with the app port. */
export function listenAddress(settings: Settings, host: Host): string {
  const { listenAddress: address, appPort } = settings.hostRelease;
  const ip = address === 'host' ? host.address : address;
  return `${ip.includes(':') ? `[${ip}]` : ip}:${appPort}`;
}

function sourceArguments(source: ReleaseSource): string[] {
  switch (source.kind) {
    case 'upload':
      return ['--source=stdin'];
    case 'git':
      return ['--source=git', `--repository=${source.repository}`, `--ref=${source.ref}`];
    case 'archive':
      return ['--source=archive', `--archive=${source.path}`];
    case 'url':
      return ['--source=url', `--sha256=${source.sha256}`];
  }
}

/** The script's arguments for one host and one release: each value is one `--name=value` word. */
export function hostScriptArguments(settings: Settings, host: Host, release: string, source: ReleaseSource): string[] {
  const r = settings.hostRelease;
  const h = settings.health;
  const optional = (name: string, value: string | undefined) => (value ? [`--${name}=${value}`] : []);
  return [
    `--app-dir=${r.appDir}`,
    `--release=${release}`,
    `--color=${host.color}`,
    `--app-name=${settings.appName}`,
    ...sourceArguments(source),
    `--psgi=${r.psgiFile}`,
    ...optional('install-command', r.installCommand),
    ...optional('cpan-mirror', r.cpanMirror),
    ...optional('test-command', r.testCommand),
    ...r.sharedPaths.map((path) => `--shared=${path}`),
    `--restart=${r.restart}`,
    ...optional('restart-command', r.restartCommand),
    `--systemd-unit=${r.systemdUnit}`,
    `--listen=${listenAddress(settings, host)}`,
    `--health-path=${h.path}`,
    `--health-status=${h.expectedStatus}`,
    `--health-retries=${h.retries}`,
    `--health-interval=${h.intervalMs / 1000}`,
    `--health-timeout=${h.timeoutMs / 1000}`,
    `--keep=${r.keepReleases}`,
  ];
}

/** For SSH: run `argv` with `stdin` as its standard input (the script, then an uploaded tarball). */
export function hostScriptInvocation(settings: Settings, host: Host, release: string, source: ReleaseSource): { argv: Argv; stdin: Buffer } {
  if (source.kind === 'url') throw new Error('a download URL travels in the shell text of hostScriptShellCommand (SSM), not over SSH');
  const parts: Buffer[] = [Buffer.from(hostScript())];
  // Perl reads its program from stdin up to __END__; what follows is the script's DATA handle.
  if (source.kind === 'upload') parts.push(Buffer.from('\n__END__\n'), source.tarball);
  return { argv: ['perl', '-', ...hostScriptArguments(settings, host, release, source)], stdin: Buffer.concat(parts) };
}

const HEREDOC_END = 'BLUEGREEN_HOST_SCRIPT_END';

/**
 * For transports that take shell text and no stdin (AWS SSM `AWS-RunShellScript` commands): writes
 * the script to a temporary file through a quoted heredoc (no expansion inside), runs it with the
 * arguments quoted by `toShell`, removes the file, and exits with the script's code.
 */
export function hostScriptShellCommand(settings: Settings, host: Host, release: string, source: ReleaseSource): string {
  if (source.kind === 'upload') throw new Error('an uploaded tarball needs a transport with stdin (SSH); use a git or archive source');
  const script = hostScript();
  if (script.split('\n').includes(HEREDOC_END)) throw new Error(`the host script contains the heredoc delimiter ${HEREDOC_END}`);
  return [
    'script=$(mktemp) || exit 1',
    `cat > "$script" <<'${HEREDOC_END}'`,
    script.replace(/\n?$/, ''),
    HEREDOC_END,
    // In the environment, not on perl's command line, which every user on the instance can read.
    ...(source.kind === 'url' ? [`export BLUEGREEN_RELEASE_URL=${shellQuote(source.url)}`] : []),
    `perl "$script" ${toShell(hostScriptArguments(settings, host, release, source))}`,
    'code=$?',
    'rm -f "$script"',
    'exit $code',
  ].join('\n');
}

/** What one run of the host script did, read from its closing `==>` line and exit code. */
export interface HostScriptReport {
  ok: boolean;
  /** The step that failed (`fetch` … `prune`), or `connect` / `start` when the script never got that far. */
  step?: string;
  /** The closing line's text, or why there was none. */
  message: string;
  /** Failed after the flip and the previous release serves again. */
  restored: boolean;
  /** The last lines of output before the closing line, for the failure's detail. */
  lastLines: string[];
}

const STEP_LINE = /^==> \[\d+\/\d+\] ([\w-]+): /;
const CLOSING_LINE = /^==> (OK|FAILED ([\w-]+)|RESTORED|NOT RESTORED): (.*)$/;
const FAILED_STEP = /^([\w-]+) failed: /;

export function readHostScriptReport(output: string, exitCode: number): HostScriptReport {
  const lines = output.split('\n').map((line) => line.replace(/\r$/, '')).filter((line) => line.trim() !== '');
  let lastStep: string | undefined;
  let closing: RegExpExecArray | undefined;
  let closingIndex = lines.length;
  lines.forEach((line, i) => {
    const step = STEP_LINE.exec(line);
    if (step) lastStep = step[1];
    const match = CLOSING_LINE.exec(line);
    if (match) [closing, closingIndex] = [match, i];
  });
  const lastLines = lines
    .slice(0, closingIndex)
    .filter((line) => !line.startsWith('==> '))
    .slice(-5)
    .map((line) => (line.length > 200 ? `${line.slice(0, 200)}…` : line));
  if (!closing) {
    return { ok: false, step: lastStep ?? 'start', message: `the host script stopped without a result (exit ${exitCode})`, restored: false, lastLines };
  }
  const [, kind, failedStep, message = ''] = closing;
  if (kind === 'OK' && exitCode === 0) return { ok: true, message, restored: false, lastLines };
  const step = failedStep ?? FAILED_STEP.exec(message)?.[1] ?? lastStep;
  return { ok: false, ...(step && { step }), message, restored: kind === 'RESTORED' && exitCode === 2, lastLines };
}
