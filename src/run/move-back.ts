import { UserError, messageOf } from '../errors.js';
import { validateUrl } from '../health/validation.js';
import { describeLive, liveColor } from '../live-traffic.js';
import { annotateError } from '../report/annotations.js';
import { systemClock, waitUntil, type Clock } from '../retry.js';
import { fromColor, type RunContext } from './context.js';

/**
 * Validation rounds, back to back, for `durationMs` (at least one round): each round sends the
 * validation requests through the public entry point and reads the alarms. The first failed round
 * moves traffic back at once. Returns a detail line with the figures of the last round.
 */
export async function watch(c: RunContext, durationMs: number): Promise<string> {
  let rounds = 0;
  let last = '';
  // The pause between rounds ends early on the cancel; a round under way always finishes.
  const clock: Clock = { now: () => performance.now(), sleep: (ms) => systemClock.sleep(ms, c.aborted) };
  const started = clock.now();
  const round = async ({ attempt }: { attempt: number }): Promise<boolean> => {
    if (attempt > 0 && c.cancelled?.()) return true;
    // The last pause ends with the time: no round starts after it.
    if (attempt > 0 && clock.now() - started >= durationMs) return false;
    // A check that cannot run (an alarm that does not exist, AWS refusing the call) is no pass:
    // traffic must not stay split, or on a color nobody could validate.
    const check = await validationRound(c).catch((error: unknown) => ({ problem: `validation could not run: ${messageOf(error)}`, detail: '' }));
    rounds++;
    if (check.problem) await moveBack(c, check.problem, performance.now());
    last = check.detail;
    // Cut short: the job was cancelled while time was left (a progressive step stops holding its share).
    return (c.cancelled?.() ?? false) && clock.now() - started < durationMs;
  };
  // Rounds back to back until the time is up (at least one), at most 1 s apart.
  const { done: cutShort } = await waitUntil(round, (cut) => cut, {
    deadlineMs: durationMs,
    intervalMs: () => Math.min(1000, Math.max(0, durationMs - (clock.now() - started))),
    clock,
  });
  const passed = `${rounds} validation round(s) passed${last ? `, last: ${last}` : ''}`;
  return cutShort ? `${passed}; pause cut short by the cancel` : passed;
}

/** One validation round: the alarms, and the validation requests through the public entry point. */
async function validationRound(c: RunContext): Promise<{ problem?: string; detail: string }> {
  const { rollout, traffic, health } = c.settings;
  const details: string[] = [];
  const firing = (await c.provider.alarms?.firing()) ?? [];
  if (firing.length > 0) return { problem: firing.join('; '), detail: '' };
  if (c.provider.alarms) details.push(`${rollout.alarms.length} alarm(s) OK`);
  if (traffic.publicUrl) {
    const url = `${traffic.publicUrl}${rollout.validationPath}`;
    const result = await validateUrl(url, health, rollout.validation);
    if (!result.ok) return { problem: `${url}: ${result.problem ?? 'failed'}`, detail: '' };
    details.push(`${result.succeeded}/${result.requests} ok, p95 ${result.latencyP95Ms} ms`);
  }
  return { detail: details.join(', ') };
}

/**
 * A failed validation sends all traffic back to where it was, at once and by itself, annotates what
 * failed with its figures, then fails the run. `failedAt` (a performance.now() time) is when the
 * check failed: the summary reports how long traffic took to get back.
 */
export async function moveBack(c: RunContext, problem: string, failedAt: number): Promise<never> {
  const previous = fromColor(c);
  annotateError(problem, `Validation failed on ${c.target ?? 'the new color'}`);
  if (!previous) throw new UserError(`Validation failed: ${problem}. Nothing was live before, so there is nothing to move back to.`);
  let despite = '';
  try {
    await c.provider.traffic.moveTo(previous, c.hosts[previous] ?? (await c.provider.inventory.hostsOf(previous)));
  } catch (error) {
    // The move back may have taken effect all the same: what is live now is what gets recorded.
    const now = await c.provider.traffic.readLive().catch(() => undefined);
    // Unread, it is unknown: the color validate read before the move back may no longer be live.
    c.liveAfter = now ?? { kind: 'unknown', reason: 'not readable after the failed move back' };
    if (liveColor(now) !== previous)
      throw new UserError(
        `Validation failed: ${problem}. Moving traffic back to ${previous} failed too: ${messageOf(error)}. ${c.provider.traffic.description} reports ${describeLive(now)} live. Check the load balancer now.`,
      );
    despite = ` (${c.provider.traffic.description} reports it live, though the move back reported: ${messageOf(error)})`;
  }
  c.autoRollbackMs = Math.round(performance.now() - failedAt);
  c.liveAfter = await c.provider.traffic.readLive().catch((error: unknown) => ({ kind: 'unknown' as const, reason: messageOf(error) }));
  c.movedBack = previous;
  throw new UserError(`Validation failed: ${problem}. Traffic was moved back to ${previous} ${c.autoRollbackMs} ms after the failed check${despite}.`);
}
