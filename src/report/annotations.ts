import * as core from '@actions/core';
import type { HostHealth } from '../providers/types.js';

/** One error annotation per unhealthy host, titled with the host and the URL that failed. */
export function annotateUnhealthy(unhealthy: HostHealth[]): void {
  for (const h of unhealthy) {
    const url = h.probe?.url ?? h.host.healthUrl ?? h.host.address;
    const why = [h.balancerState && `load balancer: ${h.balancerState}`, h.probe?.error && `probe: ${h.probe.error}`]
      .filter(Boolean)
      .join('; ');
    const attempts = h.probe ? ` after ${h.probe.attempts} attempt(s)` : '';
    core.error(`${h.host.name} (${h.host.color}) is unhealthy${attempts}: ${why || 'no healthy answer'}`, {
      title: `Health check failed: ${h.host.name} ${url}`,
    });
  }
}
