import * as core from '@actions/core';
import { oneLine } from '../errors.js';
import type { HostHealth } from '../providers/types.js';

/**
 * GitHub's limits on annotations: it keeps 10 error annotations per step (later ones are dropped)
 * and truncates a message at 4,096 characters. The run's last error, the `setFailed` line, says
 * why the run failed, so one of the 10 is kept for it; per-host annotations stop at 8, then one
 * line counts the rest.
 */
export const MAX_ERROR_ANNOTATIONS = 10;
export const MAX_HOST_ANNOTATIONS = 8;
export const MAX_ANNOTATION_LENGTH = 4000;
const MAX_TITLE_LENGTH = 200;

/** Error annotations made in this step (one process runs one step; tests run many in one process). */
let errorsMade = 0;
let hostErrorsMade = 0;

/** Starts a run's count of error annotations afresh. */
export function resetAnnotations(): void {
  errorsMade = 0;
  hostErrorsMade = 0;
}

/** One line under GitHub's limit; the full text, when clipped, goes to the log first. */
export function clipAnnotation(message: string, limit = MAX_ANNOTATION_LENGTH): string {
  const line = oneLine(message);
  if (line.length <= limit) return line;
  const tail = ` … (${line.length - limit} more characters in the log)`;
  return `${line.slice(0, limit - tail.length)}${tail}`;
}

/**
 * An error annotation that is not the run's failure line. Once the step's budget is spent (all but
 * the one kept for the failure), it is logged as a plain line instead, so the failure stays visible.
 */
export function annotateError(message: string, title?: string): void {
  const line = oneLine(message);
  if (errorsMade >= MAX_ERROR_ANNOTATIONS - 1) {
    core.info(`Error${title ? ` (${title})` : ''}: ${line}`);
    return;
  }
  errorsMade++;
  if (line.length > MAX_ANNOTATION_LENGTH) core.info(`Error in full: ${line}`);
  core.error(clipAnnotation(line), title === undefined ? {} : { title: clipAnnotation(title, MAX_TITLE_LENGTH) });
}

/** The run's failure: the step's last error annotation, always within the budget annotateError keeps. */
export function failRun(message: string): void {
  const line = oneLine(message);
  if (line.length > MAX_ANNOTATION_LENGTH) core.info(`Failure in full: ${line}`);
  core.setFailed(clipAnnotation(line));
}

/**
 * One error annotation per unhealthy host, titled with the host and the URL that failed: at most
 * MAX_HOST_ANNOTATIONS in a run, then one line names the rest (every host is also in the summary
 * and in the failure line).
 */
export function annotateUnhealthy(unhealthy: HostHealth[]): void {
  const shown = unhealthy.slice(0, Math.max(0, MAX_HOST_ANNOTATIONS - hostErrorsMade));
  for (const h of shown) {
    const url = h.probe?.url ?? h.host.healthUrl ?? h.host.address;
    const why = [h.balancerState && `load balancer: ${h.balancerState}`, h.probe?.error && `probe: ${h.probe.error}`].filter(Boolean).join('; ');
    const attempts = h.probe ? ` after ${h.probe.attempts} attempt(s)` : '';
    hostErrorsMade++;
    annotateError(`${h.host.name} (${h.host.color}) is unhealthy${attempts}: ${why || 'no healthy answer'}`, `Health check failed: ${h.host.name} ${url}`);
  }
  const rest = unhealthy.slice(shown.length);
  if (rest.length > 0) {
    annotateError(
      `and ${rest.length} more unhealthy host(s): ${rest.map((h) => `${h.host.name} (${h.host.color})`).join(', ')}`,
      `Health check failed on ${rest.length} more host(s)`,
    );
  }
}
