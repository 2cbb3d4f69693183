import * as core from '@actions/core';
import {
  CancelCommandCommand,
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  ListCommandInvocationsCommand,
  SendCommandCommand,
  type GetCommandInvocationCommandOutput,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import { InputError } from '../errors.js';
import { pollPolicy, type AwsCalls, type AwsTiming } from '../aws/clients.js';
import type { Host, HostOutcome, Releaser } from '../providers/types.js';
import type { Hook, Settings } from '../settings.js';
import { hostHookArgv } from './hooks.js';
import { sleepingClock, waitUntil, WaitAbortedError } from '../retry.js';
import { WIND_DOWN_MS } from '../cancellation.js';
import { toShell } from './command.js';
import { showHostOutput } from './host-output.js';
import { formatDuration } from '../log.js';
import { hostLogPath, hostScriptGraceSeconds, hostScriptShellCommand, readHostScriptReport, type ReleaseSource } from './host-script.js';

/** SendCommand takes at most 50 instance ids. */
export const SSM_BATCH = 50;
const FINISHED = new Set(['Success', 'Failed', 'TimedOut', 'Cancelled']);
/**
 * After a cancel, how often and how long the invocations are polled for their `Cancelled` status:
 * within the runner's wind-down, leaving a second of it to report and let go.
 */
export const CANCELLED_POLL_MS = 250;
export const CANCELLED_COLLECT_MS = WIND_DOWN_MS - 1000;

/** Where instances get the release over SSM without an artifact: a git fetch (SSM carries no files). */
export function ssmReleaseSource(settings: Settings): ReleaseSource {
  const source = settings.hostRelease.source;
  if (source.kind === 'upload') {
    throw new InputError(
      'release-repository',
      'is empty, but provider aws releases through SSM Run Command, which cannot upload the release from the runner',
      'Set release-bucket (the runner uploads release-path to S3 once), or release-repository (and release-ref) so each instance fetches the release with git',
    );
  }
  return source;
}

/** A release packed on the runner and stored where instances can download it (S3: `release-bucket`). */
export interface ReleaseArtifact {
  /** Where the host script gets `release` from: a source that works for `validForMs` from now. */
  sourceFor(release: string, validForMs: number): Promise<ReleaseSource>;
  close(): void;
}

interface Sent {
  commandId: string;
  hosts: Host[];
  sentAt: number;
}

/**
 * Releases to EC2 instances through SSM Run Command (`AWS-RunShellScript`): the same Perl host
 * script as over SSH, as one shell text (`hostScriptShellCommand`, quoted by `toShell`). Instances
 * the SSM agent does not report online fail before anything is sent; the rest get the command in
 * batches of 50 ids, and every invocation is polled, with backoff, until it finished.
 */
export class SsmReleaser implements Releaser {
  constructor(
    private readonly client: SSMClient,
    private readonly calls: AwsCalls,
    private readonly settings: Settings,
    private readonly timing: AwsTiming,
    private readonly artifact?: ReleaseArtifact,
    /** Aborted when the run is cancelled: the commands still running are cancelled (CancelCommand). */
    private readonly signal?: AbortSignal,
  ) {}

  /**
   * How long an instance may run the command: host-timeout and the grace the host script may need
   * to put the previous release back (SSM `executionTimeout` ends the command after it).
   */
  private get commandLimitMs(): number {
    const limitMs = (this.settings.hostRelease.timeouts.hostSeconds + hostScriptGraceSeconds(this.settings)) * 1000;
    return Math.min(limitMs, this.timing.commandTimeoutMs ?? limitMs);
  }

  async release(hosts: Host[], release: string): Promise<HostOutcome[]> {
    // A download URL must outlive the batch: an instance may start late (MaxConcurrency) and still report in time.
    const source = this.artifact ? await this.artifact.sourceFor(release, this.commandLimitMs + this.timing.maxPollMs) : ssmReleaseSource(this.settings);
    return this.runOn(hosts, (host) => hostScriptShellCommand(this.settings, host, release, source), `release ${release}`, judgeHostScript);
  }

  /** A `hosts:` hook: the user's command, quoted by `toShell`, in the live release directory. */
  async runHook(hosts: Host[], hook: Hook, env: Record<string, string>): Promise<HostOutcome[]> {
    const text = toShell(hostHookArgv(hook, this.settings.hostRelease.appDir, env));
    return this.runOn(hosts, () => text, `${hook.point} hook`, judgeExitCode);
  }

  /**
   * Runs `textFor(host)` on every host that SSM reaches, as few SendCommands as the texts allow
   * (hosts with the same text share one, 50 ids at most), and collects each host's outcome.
   */
  private async runOn(hosts: Host[], textFor: (host: Host) => string, what: string, judge: Judge): Promise<HostOutcome[]> {
    const { online, offline } = await this.reachable(hosts);
    const outcomes: HostOutcome[] = offline.map(({ host, why }) => ({ host, ok: false, durationMs: 0, detail: `not reachable through SSM: ${why}` }));
    // With app-listen-address `host` each text differs: the script gets the address SSM reports.
    const byText = new Map<string, Host[]>();
    for (const { host, address } of online) {
      const text = textFor({ ...host, address });
      byText.set(text, [...(byText.get(text) ?? []), host]);
    }
    const batches = [...byText].flatMap(([text, group]) => chunks(group, SSM_BATCH).map((batch) => ({ text, batch })));
    const perCommand = Math.max(1, Math.floor(this.settings.hostRelease.concurrency / Math.max(1, batches.length)));
    const sent: Sent[] = [];
    for (const { text, batch } of batches) {
      // Cancelled between two SendCommands: the batches not sent yet stay as they are.
      if (this.signal?.aborted) outcomes.push(...batch.map((host) => ({ host, ok: false, durationMs: 0, detail: 'not started: the run was cancelled' })));
      else sent.push(await this.send(text, batch, what, perCommand));
    }
    outcomes.push(...(await this.collect(sent, judge)));
    const order = new Map(hosts.map((h, i) => [h.name, i]));
    return outcomes.sort((x, y) => (order.get(x.host.name) ?? 0) - (order.get(y.host.name) ?? 0));
  }

  /** Which hosts the SSM agent reports `Online`, with the address it reports (for app-listen-address `host`). */
  private async reachable(hosts: Host[]) {
    const seen = new Map<string, { ping: string; ip?: string }>();
    for (const batch of chunks(hosts, SSM_BATCH)) {
      let nextToken: string | undefined;
      do {
        const out = await this.calls.call('ssm:DescribeInstanceInformation', () =>
          this.client.send(
            new DescribeInstanceInformationCommand({
              Filters: [{ Key: 'InstanceIds', Values: batch.map((h) => h.address) }],
              MaxResults: 50,
              NextToken: nextToken,
            }),
          ),
        );
        for (const info of out.InstanceInformationList ?? [])
          seen.set(info.InstanceId ?? '', { ping: info.PingStatus ?? 'unknown', ...(info.IPAddress && { ip: info.IPAddress }) });
        nextToken = out.NextToken;
      } while (nextToken);
    }
    const online: { host: Host; address: string }[] = [];
    const offline: { host: Host; why: string }[] = [];
    for (const host of hosts) {
      const info = seen.get(host.address);
      if (info?.ping === 'Online') online.push({ host, address: info.ip ?? host.address });
      else
        offline.push({
          host,
          why: info
            ? `its SSM agent is ${info.ping}`
            : 'not a managed instance (is the SSM agent running, and does its instance profile allow AmazonSSMManagedInstanceCore?)',
        });
    }
    return { online, offline };
  }

  private async send(text: string, hosts: Host[], what: string, maxConcurrency: number): Promise<Sent> {
    const executionSeconds = Math.ceil(this.commandLimitMs / 1000);
    const out = await this.calls.call('ssm:SendCommand', () =>
      this.client.send(
        new SendCommandCommand({
          DocumentName: 'AWS-RunShellScript',
          InstanceIds: hosts.map((h) => h.address),
          Parameters: { commands: [text], executionTimeout: [String(executionSeconds)] },
          Comment: `bluegreen-perl ${this.settings.appName} ${what}`.slice(0, 100),
          MaxConcurrency: String(maxConcurrency),
          // Every instance runs and reports: a failure on one is that instance's story, not the batch's.
          MaxErrors: '100%',
        }),
      ),
    );
    const commandId = out.Command?.CommandId;
    if (!commandId) throw new Error('SendCommand returned no command id');
    core.info(`SSM command ${commandId}: ${what} on ${hosts.length} instance(s) (${hosts.map((h) => h.name).join(', ')})`);
    return { commandId, hosts, sentAt: Date.now() };
  }

  /**
   * Polls every command's invocations until each instance finished, or the command timeout passed.
   * A cancel of the run wakes the wait (even in the middle of a poll's backoff, up to maxPollMs),
   * cancels the commands still running at once, and then collects their `Cancelled` statuses with
   * short polls that fit in the runner's wind-down.
   */
  private async collect(sent: Sent[], judge: Judge): Promise<HostOutcome[]> {
    const outcomes: HostOutcome[] = [];
    const last = new Map<string, string>();
    const pending = new Set(sent.flatMap((s) => s.hosts.map((h) => `${s.commandId} ${h.address}`)));
    if (pending.size === 0) return outcomes;
    const running = () => sent.filter((command) => command.hosts.some((h) => pending.has(`${command.commandId} ${h.address}`)));
    const poll = async (): Promise<number> => {
      for (const command of running()) {
        for (const [instanceId, status] of await this.statuses(command.commandId)) {
          const key = `${command.commandId} ${instanceId}`;
          last.set(key, status);
          const host = command.hosts.find((h) => h.address === instanceId);
          if (!host || !pending.has(key) || !FINISHED.has(status)) continue;
          pending.delete(key);
          outcomes.push(await this.outcome(command, host, judge));
        }
      }
      return pending.size;
    };
    const finished = (left: number) => left === 0;
    // An invocation still Pending or InProgress past the command's own timeout will not report.
    let wait: { done: boolean; elapsedMs: number };
    try {
      wait = await waitUntil(poll, finished, {
        deadlineMs: this.commandLimitMs + this.timing.maxPollMs,
        ...pollPolicy(this.timing),
        ...(this.signal && { signal: this.signal }),
      });
    } catch (error) {
      if (!(error instanceof WaitAbortedError)) throw error;
      await this.cancel(running());
      wait = await waitUntil(poll, finished, { deadlineMs: CANCELLED_COLLECT_MS, intervalMs: CANCELLED_POLL_MS, clock: sleepingClock(this.timing.sleep) });
    }
    if (wait.done) return outcomes;
    const waited = `${Math.round(wait.elapsedMs / 1000)}s`;
    for (const command of sent) {
      for (const host of command.hosts.filter((h) => pending.has(`${command.commandId} ${h.address}`))) {
        const status = last.get(`${command.commandId} ${host.address}`) ?? 'not listed yet';
        const detail = this.signal?.aborted
          ? `SSM command ${command.commandId} was cancelled with the run; the instance had not reported it Cancelled ${waited} later (last status ${status})`
          : `SSM command ${command.commandId} did not finish in ${waited} (last status ${status})`;
        outcomes.push({ host, ok: false, durationMs: Date.now() - command.sentAt, detail });
      }
    }
    return outcomes;
  }

  /** Cancels commands on every instance still running them; their invocations then report `Cancelled`. */
  private async cancel(commands: Sent[]): Promise<void> {
    for (const { commandId } of commands) {
      core.info(`The run was cancelled: cancelling SSM command ${commandId} on the instances still running it`);
      await this.calls.call('ssm:CancelCommand', () => this.client.send(new CancelCommandCommand({ CommandId: commandId })));
    }
  }

  private async statuses(commandId: string): Promise<Map<string, string>> {
    const statuses = new Map<string, string>();
    let nextToken: string | undefined;
    do {
      const out = await this.calls.call('ssm:ListCommandInvocations', () =>
        this.client.send(new ListCommandInvocationsCommand({ CommandId: commandId, MaxResults: 50, NextToken: nextToken })),
      );
      for (const invocation of out.CommandInvocations ?? []) statuses.set(invocation.InstanceId ?? '', invocation.Status ?? 'Pending');
      nextToken = out.NextToken;
    } while (nextToken);
    return statuses;
  }

  private async outcome(command: Sent, host: Host, judge: Judge): Promise<HostOutcome> {
    const out = await this.calls.call(
      'ssm:GetCommandInvocation',
      () => this.client.send(new GetCommandInvocationCommand({ CommandId: command.commandId, InstanceId: host.address })),
      host.name,
    );
    const durationMs = Date.now() - command.sentAt;
    const outcome = { host, durationMs, ...judge(out) };
    const output = outputOf(out);
    if (output)
      showHostOutput(host.name, `${host.name}: ${outcome.ok ? 'ok' : 'failed'} (${formatDuration(durationMs)})`, output.replace(/\n$/, '').split('\n'));
    return outcome;
  }
}

/** What one instance's invocation amounts to. */
type Judge = (out: GetCommandInvocationCommandOutput) => Pick<HostOutcome, 'ok' | 'detail' | 'restored'>;

const outputOf = (out: GetCommandInvocationCommandOutput): string =>
  [out.StandardOutputContent ?? '', out.StandardErrorContent ?? ''].filter(Boolean).join('\n');

/** SSM's own word, when it stopped the command (TimedOut, Cancelled) rather than the script failing. */
const ssmStatus = (out: GetCommandInvocationCommandOutput): string =>
  `SSM ${out.Status}${out.StatusDetails && out.StatusDetails !== out.Status ? ` (${out.StatusDetails})` : ''}`;

/**
 * SSM's status, the exit code and the host script's closing line (printed last, and always within
 * the output SSM keeps: see hostScriptShellCommand) say how the release went; never the whole log.
 */
const judgeHostScript: Judge = (out) => {
  const output = outputOf(out);
  const report = readHostScriptReport(output, out.ResponseCode ?? -1);
  if (report.ok && out.Status === 'Success') return { ok: true, detail: report.message };
  const lastLines = report.lastLines.length ? `; last output: ${report.lastLines.join(' | ')}` : '';
  const log = hostLogPath(output);
  const where = log ? `; full log on the instance: ${log}` : '';
  // SSM stopped it (executionTimeout, a cancel): say so, with the step it was in, not "stopped without a result".
  const stoppedBySsm = out.Status === 'TimedOut' || out.Status === 'Cancelled';
  const during = report.step && report.step !== 'start' ? ` during step ${report.step}` : '';
  const what = stoppedBySsm
    ? `${ssmStatus(out)}${during}`
    : out.Status === 'Failed' || report.step !== 'start'
      ? `${report.step ? `step ${report.step}: ` : ''}${report.message}`
      : ssmStatus(out);
  return { ok: false, detail: `${what}${lastLines}${where}`, restored: report.restored };
};

/** A hook passes when its command exits 0. */
const judgeExitCode: Judge = (out) => {
  const code = out.ResponseCode ?? -1;
  const lines = outputOf(out)
    .split('\n')
    .filter((line) => line.trim() !== '')
    .slice(-5);
  const said = lines.length ? `: ${lines.join(' | ')}` : '';
  if (out.Status === 'Success' && code === 0) return { ok: true, detail: 'exit 0' };
  return { ok: false, detail: out.Status === 'Failed' ? `exit ${code}${said}` : `${ssmStatus(out)}${said}` };
};

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
