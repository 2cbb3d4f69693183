import * as core from '@actions/core';
import { UserError, messageOf } from './errors.js';
import { describeLive, liveColor, phasesFor, type RunContext } from './plan.js';
import { runPhases } from './phases.js';
import { createProvider } from './providers/index.js';
import type { Provider } from './providers/types.js';
import { setOutputs, type Outputs } from './report/outputs.js';
import { outcomeOf, writeSummary, type RunReport } from './report/summary.js';
import { readSettings, type InputSource, type Settings } from './settings.js';
import { RunRecord } from './state/run-record.js';

/** Seams for tests: where inputs come from and which provider serves the settings. */
export interface RunDependencies {
  source?: InputSource;
  env?: NodeJS.ProcessEnv;
  createProvider?: (settings: Settings) => Provider | Promise<Provider>;
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
  try {
    const settings = readSettings(dependencies.source, dependencies.env);
    outputs.release = settings.release;
    // State and lock first: a run that must wait for another one, or fail, has touched nothing.
    record = await RunRecord.open(settings);
    provider = await (dependencies.createProvider ?? createProvider)(settings);
    const interruptedMoveTo = record.interruptedMoveTo();
    const context: RunContext = { settings, provider, hosts: {}, ...(interruptedMoveTo && { interruptedMoveTo }) };
    if (settings.dryRun) core.info('Dry run: reading what can be read and changing nothing.');

    const checkpoints = record;
    const result = await runPhases(phasesFor(settings, provider.traffic), context, {
      dryRun: settings.dryRun,
      skip: (phase) => checkpoints.skipReason(phase, context),
      onPhaseDone: (row, phase) => checkpoints.phaseDone(phase, context, row.result === 'skipped'),
    });
    if (!context.liveAfter) {
      // Traffic moved only if the switch phase ran; read it back so the summary tells the truth.
      const switched = result.rows.some((row) => row.phase === 'Move traffic' && row.result !== 'not run' && row.result !== 'planned');
      context.liveAfter = switched ? await provider.traffic.readLive().catch((e: unknown) => ({ kind: 'unknown' as const, reason: messageOf(e) })) : context.liveBefore;
    }
    await record.finish(context, result);
    // A switch or rollback sends traffic to whatever release the color runs: the one the state
    // recorded there, not the commit this job runs for (a rollback has none of its own).
    const release = settings.mode === 'deploy' ? settings.release : (record.releaseOn(context.target) ?? (settings.mode === 'rollback' ? '' : settings.release));
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
  } catch (error) {
    fail(error);
  } finally {
    setOutputs(outputs);
    await record?.close();
    await provider?.close().catch((error: unknown) => core.warning(`Closing connections failed: ${messageOf(error)}`));
  }
  return outputs;
}

function fail(error: unknown): void {
  if (error instanceof UserError) {
    core.setFailed(messageOf(error));
    return;
  }
  if (error instanceof Error && error.stack) core.debug(error.stack);
  core.setFailed(`Internal error: ${messageOf(error)}. Re-run with debug logging on to see where, and report it.`);
}
