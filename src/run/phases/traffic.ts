import * as core from '@actions/core';
import type { Color } from '../../colors.js';
import { messageOf } from '../../errors.js';
import { describeLive, liveColor } from '../../live-traffic.js';
import { SWITCH_PHASE } from '../../phase-ids.js';
import { fromColor, targetHosts, type RunContext, type RunPhase } from '../context.js';
import { watch } from '../move-back.js';

export const moveTraffic: RunPhase = {
  id: SWITCH_PHASE,
  title: 'Move traffic',
  movesTraffic: true,
  switchesTraffic: true,
  color: (c) => c.target,
  hosts: (c) => c.provider.traffic.description,
  plan: (c) => `move live traffic from ${describeLive(c.liveBefore)} to ${c.target ?? 'the other color'}`,
  async run(c) {
    const target = c.target;
    if (!target) throw new Error('switch before locate');
    const detail = await moveOrReadBack(c, target);
    const unweighted = c.settings.mode === 'switch' && c.settings.rollout.steps.length > 1 && !c.provider.traffic.shiftTo;
    return unweighted ? `${detail} (all at once: ${c.provider.traffic.description} has no weights, so traffic-steps were not applied)` : detail;
  },
};

/**
 * Moves all traffic to `target`. A move that failed may still have taken effect (the answer was
 * lost, a check after it failed): the live color is read back, and when `target` is live the move
 * counts (the run validates it and records it; reported as a failure, a rerun would read `target`
 * as the old color and move traffic straight back). Otherwise the error stands, with what is live.
 */
async function moveOrReadBack(c: RunContext, target: Color): Promise<string> {
  try {
    return await c.provider.traffic.moveTo(target, targetHosts(c));
  } catch (error) {
    const now = await c.provider.traffic.readLive().catch(() => undefined);
    if (liveColor(now) !== target) throw error;
    const detail = `${target} is live (read back from ${c.provider.traffic.description}), though the move reported: ${messageOf(error)}`;
    core.warning(detail, { title: `The move to ${target} took effect despite an error` });
    return detail;
  }
}

/** One step of a progressive switch: a share of traffic on the new color, held and watched for the pause. */
export function shiftStep(percent: number): RunPhase {
  return {
    id: `step-${percent}`,
    title: `Shift ${percent}% of traffic`,
    movesTraffic: true,
    color: (c) => c.target,
    hosts: (c) => c.provider.traffic.description,
    plan: (c) =>
      `send ${percent}% of requests to ${c.target ?? 'the new color'}, validate for ${c.settings.rollout.pauseMs / 1000}s, move all back on a failed check`,
    async run(c) {
      const target = c.target;
      const shiftTo = c.provider.traffic.shiftTo?.bind(c.provider.traffic);
      if (!target || !shiftTo) throw new Error('shift step without a target or weights');
      if (!fromColor(c)) return 'nothing was live: the first switch moves all traffic at once';
      const already = c.liveBefore?.kind === 'weighted' ? c.liveBefore.weights[target] : 0;
      if (already >= percent) return `${target} already had ${already}% when this run started (a progressive switch stopped halfway): step passed`;
      const detail = await shiftTo(target, percent, targetHosts(c));
      const rounds = await watch(c, c.settings.rollout.pauseMs);
      return `${detail}; ${rounds}`;
    },
  };
}
