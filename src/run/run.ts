import * as core from '@actions/core';
import type { Cancellation } from '../cancellation.js';
import { UserError, messageOf } from '../errors.js';
import { checkReleaseSource } from '../hosts/preflight.js';
import { describeLive, liveColor } from '../live-traffic.js';
import type { Provider } from '../providers/types.js';
import { annotateError, failRun, resetAnnotations } from '../report/annotations.js';
import { setOutputs, type Outputs } from '../report/outputs.js';
import { outcomeOf, writeSummary, type RunReport } from '../report/summary.js';
import { readSettings, type InputSource, type Settings } from '../settings.js';
import { RunRecord } from './checkpoints.js';
import { fromColor, type RunContext } from './context.js';
import { phasesFor } from './plan.js';
import { createProvider } from './provider.js';
import { runPhases, type PhaseRunResult } from './runner.js';

/** Seams for tests: where inputs come from and which provider serves the settings. */
export interface RunDependencies {
  source?: InputSource;
  env?: NodeJS.ProcessEnv;
  createProvider?: (settings: Settings) => Provider | Promise<Provider>;
  /** The job's cancel (SIGINT/SIGTERM), when the process listens for it. */
  cancellation?: Cancellation;
}

/**
 * The whole action: settings, phases, report. Never throws: every failure ends as one
 * `core.setFailed` line, and the outputs are set on every path.
 */
export async function run(dependencies: RunDependencies = {}): Promise<Outputs> {
  const outputs: Outputs = {
    'live-color': 'unknown',
    'previous-color': 'unknown',
    'target-color': '',
    release: '',
    'preview-url': '',
    result: 'failure',
  };
  let provider: Provider | undefined;
  let record: RunRecord | undefined;
  resetAnnotations();
  try {
    const settings = readSettings(dependencies.source, dependencies.env);
    outputs.release = settings.release;
    // Before state, lock or any host: a release directory without the app (no checkout step) changes nothing.
    checkReleaseSource(settings);
    // State and lock first: a run that must wait for another one, or fail, has touched nothing.
    record = await RunRecord.open(settings);
    provider = await (dependencies.createProvider ?? ((forSettings) => createProvider(forSettings, undefined, dependencies.cancellation?.aborted)))(settings);
    const interruptedMoveTo = record.interruptedMoveTo();
    const { cancellation } = dependencies;
    const recordedLive = record.recordedLive();
    const recordedReleases = {
      ...(record.releaseOn('blue') && { blue: record.releaseOn('blue') }),
      ...(record.releaseOn('green') && { green: record.releaseOn('green') }),
    };
    const context: RunContext = {
      settings,
      provider,
      hosts: {},
      recordedReleases,
      ...(interruptedMoveTo && { interruptedMoveTo }),
      ...(recordedLive && { recordedLive }),
      ...(cancellation && { cancelled: () => cancellation.requested, aborted: cancellation.aborted }),
    };
    if (settings.dryRun) core.info('Dry run: reading what can be read and changing nothing.');

    const checkpoints = record;
    const phases = phasesFor(settings, provider.traffic);
    const result = await runPhases(phases, context, {
      dryRun: settings.dryRun,
      skip: (phase) => checkpoints.skipReason(phase, context),
      onPhaseDone: (row, phase) => checkpoints.phaseDone(phase, context, row.result === 'skipped'),
      ...(cancellation && { cancellation }),
    });
    if (result.stopped && !settings.dryRun) await undoSplit(context, result);
    if (!context.liveAfter) {
      // Traffic moved only if the switch phase ran; read it back so the summary tells the truth.
      const switchPhase = phases.find((phase) => phase.switchesTraffic);
      const switched = result.rows.some((row) => row.id === switchPhase?.id && row.result !== 'not run' && row.result !== 'planned');
      context.liveAfter = switched
        ? await provider.traffic.readLive().catch((e: unknown) => ({ kind: 'unknown' as const, reason: messageOf(e) }))
        : context.liveBefore;
    }
    await record.finish(context, result);
    // A switch or rollback sends traffic to whatever release the color runs: the one the state
    // recorded there, not the commit this job runs for (a rollback has none of its own).
    const release = settings.mode === 'deploy' ? settings.release : (record.liveRelease(context.target) ?? '');
    outputs.release = release;
    const report: RunReport = {
      mode: settings.mode,
      provider: settings.provider.name,
      appName: settings.appName,
      release,
      trafficDescription: provider.traffic.description,
      dryRun: settings.dryRun,
      liveBefore: describeLive(context.liveBefore),
      liveAfter: describeLive(context.liveAfter),
      target: context.target ?? 'unknown',
      rows: result.rows,
      ...(result.failure && { failure: { title: result.failure.title, message: result.failure.message } }),
      ...(context.previewUrl && { previewUrl: context.previewUrl }),
      ...(context.movedBack && { movedBack: context.movedBack }),
      ...(record.notes.length > 0 && { notes: record.notes }),
      ...(result.stopped && { cancelled: result.stopped }),
    };
    Object.assign(outputs, {
      'live-color': liveColor(context.liveAfter) ?? describeLive(context.liveAfter),
      'previous-color': liveColor(context.liveBefore) ?? describeLive(context.liveBefore),
      'target-color': context.target ?? 'unknown',
      'preview-url': context.previewUrl ?? '',
      result: outcomeOf(report),
    });
    await writeSummary(report);
    if (result.failure) fail(result.failure.error);
    else if (result.stopped)
      core.setFailed(
        `The job was ${result.stopped}: no phase started after it; live traffic is on ${report.liveAfter}. The deploy lock is released: re-run the job to go on.`,
      );
  } catch (error) {
    fail(error);
  } finally {
    setOutputs(outputs);
    await record?.close();
    await provider?.close().catch((error: unknown) => core.warning(`Closing connections failed: ${messageOf(error)}`));
  }
  return outputs;
}

/**
 * After a cancel, a traffic split this run made (a progressive switch stopped between steps) goes
 * back to the old color, so exactly one color is live and no unvalidated share stays on the new one.
 */
async function undoSplit(context: RunContext, result: PhaseRunResult): Promise<void> {
  const traffic = context.provider.traffic;
  const live = await traffic.readLive().catch(() => undefined);
  const from = fromColor(context);
  if (live?.kind !== 'weighted' || !from || JSON.stringify(live) === JSON.stringify(context.liveBefore)) return;
  try {
    await traffic.moveTo(from, context.hosts[from] ?? (await context.provider.inventory.hostsOf(from)));
    context.liveAfter = await traffic.readLive();
    core.info(`Cancelled halfway through a progressive switch: moved all traffic back to ${from}.`);
    result.rows.push({
      phase: 'Move traffic back (cancelled)',
      color: from,
      hosts: traffic.description,
      result: 'ok',
      durationMs: 0,
      detail: `the split this run made (${describeLive(live)}) is undone: all traffic on ${from}`,
    });
  } catch (error) {
    annotateError(
      `Cancelled halfway through a progressive switch, and moving traffic back to ${from} failed: ${messageOf(error)}. Traffic is split; move it to one color on the load balancer now.`,
    );
  }
}

function fail(error: unknown): void {
  if (error instanceof UserError) {
    failRun(messageOf(error));
    return;
  }
  if (error instanceof Error && error.stack) core.debug(error.stack);
  failRun(`Internal error: ${messageOf(error)}. Re-run with debug logging on to see where, and report it.`);
}
