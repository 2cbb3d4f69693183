import type { Color } from '../../colors.js';
import { UserError } from '../../errors.js';
import { fromColor, hostNames, type RunPhase } from '../context.js';

export const capacity: RunPhase = {
  id: 'capacity',
  title: 'Make sure the color has hosts',
  color: (c) => c.target,
  hosts: (c) => c.target ?? '',
  plan: (c) => `scale the ${c.target ?? 'target'} color up to the live color's size when it was scaled down`,
  async run(c) {
    const target = c.target;
    if (!target) throw new Error('capacity before locate');
    const ensure = c.provider.inventory.ensureCapacity?.bind(c.provider.inventory);
    return ensure ? ensure(target, fromColor(c)) : 'fixed hosts: nothing to scale';
  },
};

export const inventory: RunPhase = {
  id: 'inventory',
  title: 'Find hosts',
  readOnly: true,
  color: (c) => c.target,
  hosts: (c) => hostNames(c.target ? c.hosts[c.target] : [...(c.hosts.blue ?? []), ...(c.hosts.green ?? [])]),
  plan: () => 'find the hosts of the target color',
  async run(c) {
    // Without a known target (a dry run that could not read the balancer) list both colors.
    const colors: Color[] = c.target ? [c.target] : ['blue', 'green'];
    for (const color of colors) {
      c.hosts[color] = await c.provider.inventory.hostsOf(color);
      if (c.hosts[color].length === 0 && c.target) {
        throw new UserError(`No hosts found for the ${color} color. Check the inventory inputs of provider ${c.settings.provider.name}.`);
      }
    }
    return colors.map((color) => `${color}: ${c.hosts[color]?.length ?? 0} host(s)`).join('; ');
  },
};
