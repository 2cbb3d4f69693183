import * as core from '@actions/core';
import type { Color } from '../colors.js';
import { formatDuration } from '../log.js';
import { ensureRunnerFile } from './outputs.js';
import type { Mode } from '../settings.js';

export type PhaseResult = 'ok' | 'failed' | 'not run' | 'planned' | 'unknown' | 'skipped' | 'cancelled';

/** One line of the summary's phase table. */
export interface PhaseRow {
  /** The id of the phase it is of; absent on a row the run adds after the phases (a move back after a cancel). */
  id?: string;
  phase: string;
  color?: Color;
  hosts: string;
  result: PhaseResult;
  durationMs: number;
  detail: string;
}

/** Everything the job summary tells about one run. */
export interface RunReport {
  mode: Mode;
  provider: string;
  appName: string;
  release: string;
  trafficDescription: string;
  dryRun: boolean;
  liveBefore: string;
  liveAfter: string;
  target: string;
  rows: PhaseRow[];
  failure?: { title: string; message: string };
  previewUrl?: string;
  /** Color traffic went back to after a failed validation. */
  movedBack?: string;
  /** State, drift and resume: what the recorded state changed about this run, in sentences. */
  notes?: string[];
  /** Why the job stopped early without a failure: `cancelled (SIGINT)`. */
  cancelled?: string;
}

const RESULT_ICONS: Record<PhaseRow['result'], string> = {
  ok: '✅ ok',
  failed: '❌ failed',
  'not run': '⏭️ not run',
  planned: '📝 planned',
  unknown: '❔ unknown',
  skipped: '⏩ skipped',
  cancelled: '🚫 cancelled',
};

export function outcomeOf(report: RunReport): 'success' | 'failure' | 'planned' | 'cancelled' {
  if (report.failure) return 'failure';
  if (report.cancelled) return 'cancelled';
  return report.dryRun ? 'planned' : 'success';
}

/** What the reader should do now, in plain words. */
export function nextSteps(report: RunReport): string[] {
  const { mode, target, liveBefore, liveAfter } = report;
  if (report.dryRun) {
    return ['Dry run: nothing was changed. Run again without `dry-run: true` to carry out this plan.'];
  }
  if (report.failure) {
    const steps = [`${report.failure.title} failed: ${report.failure.message}`];
    steps.push(
      report.movedBack
        ? `Traffic is back on ${report.movedBack}. Look at ${target} before switching again.`
        : `Live traffic is on ${liveAfter}${liveAfter === liveBefore ? ' (unchanged)' : ''}.`,
    );
    steps.push('Fix the cause above and re-run this job: phases that already completed for this release are checked again, not redone blindly.');
    return steps;
  }
  if (report.cancelled) {
    return [
      `The job was ${report.cancelled}: no phase started after it. Live traffic is on ${liveAfter}${liveAfter === liveBefore ? ' (unchanged)' : ''}.`,
      'The deploy lock was released. Re-run the job to go on: phases that completed are checked again, not redone blindly.',
    ];
  }
  switch (mode) {
    case 'deploy':
      return [
        `Release ${report.release} runs on ${target} and passed its health checks; ${liveAfter === 'none' ? 'nothing is live yet' : `live traffic is still on ${liveAfter}`}.`,
        ...(report.previewUrl ? [`Preview it at ${report.previewUrl}.`] : []),
        `Approve the switch job (\`mode: switch\`) to send traffic to ${target}.`,
      ];
    case 'switch':
      if (liveBefore === 'none') {
        return [
          `${target} is live with release ${report.release}: the first switch, so there is no previous color to roll back to yet.`,
          'Deploy the next release to the idle color, then switch to it.',
        ];
      }
      return [
        `${target} is live with release ${report.release}; ${liveBefore} keeps the previous release.`,
        `If ${target} misbehaves, run the workflow with \`mode: rollback\` to send traffic back to ${liveBefore}.`,
      ];
    case 'rollback':
      return [
        `${target} is live again${report.release ? ` with release ${report.release}` : ''}. ${liveBefore} keeps the release it had, for inspection; deploy a fix to it, then switch.`,
      ];
  }
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** `code` in already escaped text becomes <code>code</code>: the summary's tables are HTML. */
function inlineCode(html: string): string {
  return html.replace(/`([^`]+)`/g, '<code>$1</code>');
}

/** Writes the job summary: what ran, what is live, the phase table, and what to do next. */
export async function writeSummary(report: RunReport): Promise<void> {
  const outcome = outcomeOf(report);
  const headline = {
    success: '✅ succeeded',
    failure: '❌ failed',
    planned: '📝 dry run (nothing changed)',
    cancelled: `🚫 cancelled (traffic on ${escapeHtml(report.liveAfter)})`,
  }[outcome];
  // An empty cell would render as an unclosed <td>: show a dash instead.
  const cell = (text: string) => (text ? inlineCode(escapeHtml(text)) : '—');
  core.summary
    .addHeading(`bluegreen-perl ${report.mode} of ${escapeHtml(report.appName)}: ${headline}`, 2)
    .addTable([
      [
        { data: 'Mode', header: true },
        { data: 'Provider', header: true },
        { data: 'Traffic', header: true },
        { data: 'Release', header: true },
      ],
      [
        cell(report.mode),
        cell(report.provider),
        cell(report.trafficDescription),
        report.release ? `<code>${escapeHtml(report.release)}</code>` : 'not recorded (state is off)',
      ],
    ])
    .addTable([
      [
        { data: 'Live before', header: true },
        { data: 'Target', header: true },
        { data: 'Live after', header: true },
      ],
      [cell(report.liveBefore), cell(report.target), cell(report.liveAfter)],
    ]);
  if (report.notes?.length) core.summary.addHeading('State', 3).addList(report.notes.map(cell));
  core.summary
    .addHeading('Phases', 3)
    .addTable([
      ['Phase', 'Color', 'Hosts', 'Result', 'Time', 'Detail'].map((data) => ({ data, header: true })),
      ...report.rows.map((row) => [
        cell(row.phase),
        cell(row.color ?? ''),
        cell(row.hosts),
        RESULT_ICONS[row.result],
        row.result === 'ok' || row.result === 'failed' || row.result === 'unknown' ? formatDuration(row.durationMs) : '—',
        cell(row.detail),
      ]),
    ])
    .addHeading('What next', 3)
    .addList(nextSteps(report).map(cell));
  if (!process.env.GITHUB_STEP_SUMMARY) {
    core.info('GITHUB_STEP_SUMMARY is not set: the job summary is not written.');
    core.summary.emptyBuffer();
    return;
  }
  ensureRunnerFile('GITHUB_STEP_SUMMARY');
  await core.summary.write();
}
