import { UserError } from '../../errors.js';
import { describeLive } from '../../live-traffic.js';
import { RELEASE_PHASE } from '../../phase-ids.js';
import { targetHostNames, targetHosts, type RunPhase } from '../context.js';

export const release: RunPhase = {
  id: RELEASE_PHASE,
  title: 'Release',
  color: (c) => c.target,
  hosts: targetHostNames,
  plan: (c) => `put release ${c.settings.release} on the ${c.target ?? 'idle'} hosts, install CPAN dependencies, restart gracefully`,
  async run(c) {
    const hosts = targetHosts(c);
    const outcomes = await c.provider.releaser.release(hosts, c.settings.release);
    const failed = outcomes.filter((o) => !o.ok);
    if (failed.length > 0) {
      const live = describeLive(c.liveBefore);
      const each = failed.map((o) => `${o.host.name}: ${o.detail}${o.restored ? ' (restored to its previous release)' : ''}`).join('; ');
      throw new UserError(
        `Release ${c.settings.release} failed on ${failed.length} of ${hosts.length} ${c.target} host(s): ${each}. Live traffic is untouched (${live}).`,
      );
    }
    return `release ${c.settings.release} on ${outcomes.length} host(s)`;
  },
};
