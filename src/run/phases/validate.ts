import { describeLive, liveColor } from '../../live-traffic.js';
import type { RunPhase } from '../context.js';
import { moveBack, watch } from '../move-back.js';

export const validate: RunPhase = {
  id: 'validate',
  title: 'Validate after the move',
  movesTraffic: true,
  color: (c) => c.target,
  hosts: (c) => c.settings.traffic.publicUrl ?? c.provider.traffic.description,
  plan: (c) =>
    `read the live color back${c.settings.traffic.publicUrl ? `, send ${c.settings.rollout.validation.requests} request(s) to ${c.settings.traffic.publicUrl}` : ''}${c.settings.rollout.alarms.length ? ', read the alarms' : ''}; move traffic back on failure`,
  async run(c) {
    const target = c.target;
    if (!target) throw new Error('validate before locate');
    c.liveAfter = await c.provider.traffic.readLive();
    if (liveColor(c.liveAfter) !== target) await moveBack(c, `the load balancer reports ${describeLive(c.liveAfter)} live, not ${target}`, performance.now());
    const rounds = await watch(c, 0);
    return `${target} is live; ${rounds}`;
  },
};
