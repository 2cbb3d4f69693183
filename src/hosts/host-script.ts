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
    `--timeout=${r.timeouts.hostSeconds}`,
    ...SCRIPT_STEPS.map((step) => `--step-timeout=${step}=${r.timeouts.stepSeconds[step]}`),
  ];
}

/** The steps the host script times itself (`connect` is the runner's). */
const SCRIPT_STEPS = ['fetch', 'install', 'check', 'restart', 'probe'] as const;

/**
 * How long the runner waits for the host script beyond `host-timeout` before ending it itself: the
 * script stops at host-timeout on its own, then may put the previous release back (a restart and a
 * probe, each within its limit).
 */
export function hostScriptGraceSeconds(settings: Settings): number {
  const { restart, probe } = settings.hostRelease.timeouts.stepSeconds;
  return restart + probe + 30;
}

/** The line the host script prints first: the session (and process group) it leads. */
const SESSION_LINE = /^==> session (\d+)$/;

export function sessionOf(line: string): number | undefined {
  const match = SESSION_LINE.exec(line);
  return match ? Number(match[1]) : undefined;
}

/**
 * Ends a host script's session from a second connection: TERM to every process in it (the script
 * then fails its step and puts the previous release back), KILL to what is left after 15 s. Only
 * when the session's leader is still the host script (it renames itself), or gone (Linux does not
 * reuse an id while a session or group of that id exists). Prints `ended` or what is left.
 */
const END_SESSION = String.raw`
use strict; use warnings; use Time::HiRes qw(sleep);
my $sid = shift;
sub members {
  my @pids;
  for my $stat (glob '/proc/[0-9]*/stat') {
    open my $fh, '<', $stat or next;
    my $line = <$fh>;
    next unless defined $line && $line =~ s/^.*\)\s*//s;
    push @pids, $stat =~ m{^/proc/(\d+)/} if (split ' ', $line)[3] == $sid;
  }
  return @pids;
}
if (open my $fh, '<', "/proc/$sid/cmdline") {
  my $cmdline = do { local $/; <$fh> };
  if (defined $cmdline && $cmdline !~ /^bluegreen-perl host script/) { print "session $sid is not a host script: left alone\n"; exit 0 }
}
for my $signal ('TERM', 'KILL') {
  my @pids = members() or last;
  kill $signal, @pids;
  for (1 .. 150) { last unless members(); sleep 0.1 }
}
my @left = members();
print @left ? "still running: @left\n" : "ended\n";
exit(@left ? 1 : 0);
`;

export function endSessionArgv(session: number): Argv {
  return ['perl', '-e', END_SESSION, String(session)];
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

/** At most this much of the host script's output goes back through SSM, which keeps only the first 24,000 characters. */
export const SSM_OUTPUT_TAIL = 16_000;

/** The line the SSM shell text prints last: where the whole log stays on the instance. */
const LOG_LINE = /^==> full log on this instance: (.+)$/m;

/**
 * For transports that take shell text and no stdin (AWS SSM `AWS-RunShellScript` commands): writes
 * the script to a temporary file through a quoted heredoc (no expansion inside), runs it with the
 * arguments quoted by `toShell`, and exits with the script's code. The whole output goes to a log
 * file that stays on the instance; only its last SSM_OUTPUT_TAIL bytes are printed, so the closing
 * `==>` line always reaches SSM (which keeps the first 24,000 characters and drops the rest),
 * followed by one short line saying where the log is.
 */
export function hostScriptShellCommand(settings: Settings, host: Host, release: string, source: ReleaseSource): string {
  if (source.kind === 'upload') throw new Error('an uploaded tarball needs a transport with stdin (SSH); use a git or archive source');
  const script = hostScript();
  if (script.split('\n').includes(HEREDOC_END)) throw new Error(`the host script contains the heredoc delimiter ${HEREDOC_END}`);
  return [
    'script=$(mktemp) || exit 1',
    'log=$(mktemp "${TMPDIR:-/var/tmp}/bluegreen-perl-host-script.XXXXXX") || exit 1',
    `cat > "$script" <<'${HEREDOC_END}'`,
    script.replace(/\n?$/, ''),
    HEREDOC_END,
    // In the environment, not on perl's command line, which every user on the instance can read.
    ...(source.kind === 'url' ? [`export BLUEGREEN_RELEASE_URL=${shellQuote(source.url)}`] : []),
    `perl "$script" ${toShell(hostScriptArguments(settings, host, release, source))} > "$log" 2>&1`,
    'code=$?',
    'rm -f "$script"',
    `size=$(wc -c < "$log")`,
    `[ "$size" -gt ${SSM_OUTPUT_TAIL} ] && echo "(the first $((size - ${SSM_OUTPUT_TAIL})) bytes of the output are left out here)"`,
    `tail -c ${SSM_OUTPUT_TAIL} "$log"`,
    'echo "==> full log on this instance: $log"',
    'exit $code',
  ].join('\n');
}

/** Where the SSM shell text left the whole log on the instance, when it said so. */
export function hostLogPath(output: string): string | undefined {
  return LOG_LINE.exec(output)?.[1]?.trim();
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
  const lines = output
    .split('\n')
    .map((line) => line.replace(/\r$/, ''))
    .filter((line) => line.trim() !== '');
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
