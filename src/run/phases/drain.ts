import { fromColor, type RunPhase } from '../context.js';

export const drain: RunPhase = {
  id: 'drain',
  title: 'Drain the old color',
  color: (c) => fromColor(c),
  hosts: (c) => c.provider.traffic.description,
  plan: (c) => `wait for in-flight requests on ${fromColor(c) ?? 'the old color'} to finish (at most ${c.settings.traffic.drainTimeoutMs / 1000}s)`,
  async run(c) {
    const from = fromColor(c);
    if (!from) return 'nothing was live before: nothing to drain';
    const drainFrom = c.provider.traffic.drain?.bind(c.provider.traffic);
    return drainFrom ? drainFrom(from) : `${c.provider.traffic.description} drains by itself`;
  },
};
