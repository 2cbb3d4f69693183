import * as core from '@actions/core';
import type { Color } from '../colors.js';
import { ConnectionLost, messageOf } from '../errors.js';
import { formatDuration, inPhaseGroup } from '../log.js';
import type { PhaseResult, PhaseRow } from '../report/summary.js';
import { sleep, WaitAbortedError } from '../retry.js';

export interface Phase<C, Id extends string = string> {
  /** Short id, as recorded in state: `release`, `switch` (see PhaseId). */
  id: Id;
  /** What the log group and the summary call it. */
  title: string;
  color(context: C): Color | undefined;
  /** The hosts it touches, for the table (known once earlier phases ran). */
  hosts(context: C): string;
  /** Only reads: runs in a dry run too, where a failure shows as unknown instead of failing. */
  readOnly?: boolean;
  /**
   * Moves traffic (or may move it back): after a cancel it runs to its end (and ends early on its
   * own), since a move cut short could leave no color, or an unvalidated split, live. Ending early
   * with WaitAbortedError says it left traffic where it was: the phase is then cancelled, not failed.
   */
  movesTraffic?: boolean;
  /** The one phase that moves all traffic to the target color: once it ran, the run reads live traffic back. */
  switchesTraffic?: boolean;
  /** The health check that clears the move: a rerun that finds the move already made skips it, and the move. */
  checksBeforeMove?: boolean;
  /** Does the work; returns a detail line for the summary. Throws to fail the run. */
  run(context: C): Promise<string>;
  /** What it would do, for a dry run. */
  plan(context: C): string;
}

export interface PhaseRunOptions<C = unknown, Id extends string = string> {
  dryRun: boolean;
  /**
   * Called after each phase that completed (or was skipped as completed earlier): the state
   * checkpoint. When it throws (the deploy lock was lost), no later phase starts.
   */
  onPhaseDone?: (row: PhaseRow, phase: Phase<C, Id>) => Promise<void>;
  /**
   * The job's cancel: once requested no phase starts, and a running phase that does not move
   * traffic is given `windDownMs` to end, then left (its row says so).
   */
  cancellation?: { reason: string | undefined; cancelled: Promise<void>; windDownMs: number };
  /** Why a phase need not run (an earlier run completed it: resume), or undefined to run it. */
  skip?: (phase: Phase<C, Id>, context: C) => string | undefined;
}

export interface PhaseRunResult {
  rows: PhaseRow[];
  /** The phase that failed and why; later phases are `not run`. */
  failure?: { phase: string; title: string; message: string; error: unknown };
  /** Why the run stopped starting phases without a failure: `cancelled (SIGINT)`; later phases are `not run`. */
  stopped?: string;
}

/**
 * Runs phases in order, each in its own collapsible log group with its color and time. A failing
 * phase stops the run; every phase yields a row for the job summary, run or not.
 */
export async function runPhases<C, Id extends string>(phases: Phase<C, Id>[], context: C, options: PhaseRunOptions<C, Id>): Promise<PhaseRunResult> {
  const rows: PhaseRow[] = [];
  let failure: PhaseRunResult['failure'];
  let stopped: string | undefined;
  const checkpoint = async (row: PhaseRow, phase: Phase<C, Id>): Promise<void> => {
    try {
      await options.onPhaseDone?.(row, phase);
    } catch (error) {
      core.info(`✖ ${messageOf(error)}`);
      failure = { phase: phase.id, title: 'Deploy lock', message: messageOf(error), error };
    }
  };
  for (const phase of phases) {
    const row = (result: PhaseResult, durationMs: number, detail: string): PhaseRow => ({
      id: phase.id,
      phase: phase.title,
      color: phase.color(context),
      hosts: phase.hosts(context),
      result,
      durationMs,
      detail,
    });
    if (failure) {
      rows.push(row('not run', 0, `not run: ${failure.title} failed`));
      continue;
    }
    stopped ??= options.cancellation?.reason;
    if (stopped) {
      rows.push(row('not run', 0, `not run: ${stopped}`));
      continue;
    }
    const skipped = options.skip?.(phase, context);
    if (skipped) {
      const skippedRow = row('skipped', 0, `skipped: ${skipped}`);
      core.info(`⏩ ${groupName(phase, context)}: ${skippedRow.detail}`);
      rows.push(skippedRow);
      if (!options.dryRun) await checkpoint(skippedRow, phase);
      continue;
    }
    if (options.dryRun && !phase.readOnly) {
      const planned = row('planned', 0, phase.plan(context));
      core.info(`[plan] ${groupName(phase, context)}: ${planned.detail}`);
      rows.push(planned);
      continue;
    }
    const started = performance.now();
    const done = await inPhaseGroup(groupName(phase, context), async () => {
      try {
        const detail = await windDown(phase, phase.run(context), options.cancellation);
        if (detail === ABANDONED) {
          const elapsed = performance.now() - started;
          stopped = options.cancellation?.reason ?? 'cancelled';
          core.info(`✖ ${phase.title}: ${stopped}; left after a ${formatDuration(options.cancellation?.windDownMs ?? 0)} wind-down`);
          return row('cancelled', elapsed, `${stopped}: left after a ${formatDuration(options.cancellation?.windDownMs ?? 0)} wind-down`);
        }
        const elapsed = performance.now() - started;
        core.info(`✔ ${phase.title}: ${detail} (${formatDuration(elapsed)})`);
        return row('ok', elapsed, detail);
      } catch (error) {
        const elapsed = performance.now() - started;
        if (error instanceof ConnectionLost) error.during(phase.title);
        const message = messageOf(error);
        if (options.dryRun) {
          core.info(`? ${phase.title}: could not be read (${message})`);
          return row('unknown', elapsed, `unknown: ${message}`);
        }
        // Ended by the cancel itself (a release whose host scripts the cancel stopped): cancelled,
        // not failed. A phase that moves traffic and fails after a cancel has failed, unless the
        // cancel ended its waits (WaitAbortedError): it then left traffic where it was.
        const cancelled = options.cancellation?.reason;
        if (cancelled && (!phase.movesTraffic || error instanceof WaitAbortedError)) {
          stopped = cancelled;
          core.info(`✖ ${phase.title}: ${cancelled} after ${formatDuration(elapsed)}: ${message}`);
          return row('cancelled', elapsed, `${cancelled}: ${message}`);
        }
        core.info(`✖ ${phase.title} failed after ${formatDuration(elapsed)}: ${message}`);
        if (error instanceof Error && error.stack) core.debug(error.stack);
        failure = { phase: phase.id, title: phase.title, message, error };
        return row('failed', elapsed, message);
      }
    });
    rows.push(done);
    if (done.result === 'ok') await checkpoint(done, phase);
  }
  return { rows, ...(failure && { failure }), ...(stopped && !failure && { stopped }) };
}

const ABANDONED: unique symbol = Symbol('abandoned');

/**
 * The phase's work, or ABANDONED when the job is cancelled and a phase that does not move traffic
 * has not ended within the wind-down. Its work goes on unobserved until the process ends.
 */
async function windDown<C>(phase: Phase<C>, work: Promise<string>, cancellation: PhaseRunOptions['cancellation']): Promise<string | typeof ABANDONED> {
  if (!cancellation || phase.movesTraffic) return work;
  work.catch(() => undefined); // a failure after it was left is no one's to report
  // The wind-down's timer ends with the work: no timer outlives the phase.
  const settled = new AbortController();
  const abandoned = cancellation.cancelled.then(async (): Promise<typeof ABANDONED> => {
    await sleep(cancellation.windDownMs, settled.signal);
    return ABANDONED;
  });
  const first = Promise.race([work, abandoned]);
  const stop = () => settled.abort();
  work.then(stop, stop);
  return first;
}

function groupName<C>(phase: Phase<C>, context: C): string {
  const color = phase.color(context);
  return color ? `${phase.title} (${color})` : phase.title;
}
