import { UserError } from '../../errors.js';
import { probeUntilHealthy } from '../../health/probe.js';
import type { HostHealth } from '../../providers/types.js';
import { annotateUnhealthy } from '../../report/annotations.js';
import { targetHostNames, targetHosts, type RunContext, type RunPhase } from '../context.js';

/** Why a host is not healthy: the balancer's word and the probe's error, whichever failed. */
function unhealthyReason(h: HostHealth): string {
  const reasons = [
    h.balancerState && !(h.probe && !h.probe.ok && /^(UP|healthy)\b/.test(h.balancerState)) && `balancer: ${h.balancerState}`,
    h.probe && !h.probe.ok && `probe: ${h.probe.error}`,
  ];
  return reasons.filter(Boolean).join('; ') || 'unhealthy';
}

/** Health of the target hosts: all must pass, or `minHealthy` when given. */
async function requireHealthy(c: RunContext, minHealthy: number | undefined, refusal: string): Promise<HostHealth[]> {
  const hosts = targetHosts(c);
  const report = await c.provider.health.check(hosts);
  const healthy = report.filter((h) => h.ok);
  const needed = minHealthy === undefined ? hosts.length : Math.min(minHealthy, hosts.length);
  const unhealthy = report.filter((h) => !h.ok);
  annotateUnhealthy(unhealthy);
  if (healthy.length < needed || healthy.length === 0) {
    const names = unhealthy.map((h) => `${h.host.name} (${unhealthyReason(h)})`).join(', ');
    throw new UserError(`${refusal}: ${healthy.length} of ${hosts.length} ${c.target} host(s) healthy, ${needed} needed. Unhealthy: ${names}.`);
  }
  return healthy;
}

export const health: RunPhase = {
  id: 'health',
  title: 'Check health',
  color: (c) => c.target,
  hosts: targetHostNames,
  plan: (c) => `probe ${c.settings.health.path} on every ${c.target ?? 'idle'} host`,
  async run(c) {
    const healthy = await requireHealthy(c, undefined, `Release ${c.settings.release} is not healthy on ${c.target}`);
    return `${healthy.length} host(s) healthy`;
  },
};

export const preview: RunPhase = {
  id: 'preview',
  title: 'Check preview route',
  color: (c) => c.target,
  hosts: (c) => c.provider.traffic.description,
  plan: (c) => `probe ${c.settings.health.path} through the preview route of ${c.target ?? 'the idle color'}`,
  async run(c) {
    const target = c.target;
    if (!target) throw new Error('preview before locate');
    c.previewUrl = c.provider.traffic.previewUrl(target) ?? c.settings.traffic.previewUrl;
    if (!c.previewUrl) return 'no preview route configured (set preview-url to check one)';
    const result = await probeUntilHealthy(`${c.previewUrl}${c.settings.health.path}`, c.settings.health, {
      ...(c.provider.probeVia && { via: c.provider.probeVia }),
      ...(c.aborted && { signal: c.aborted }),
    });
    if (!result.ok) {
      annotateUnhealthy([{ host: { name: 'preview route', color: target, address: c.previewUrl }, ok: false, probe: result }]);
      throw new UserError(`The preview route ${result.url} is not healthy: ${result.error}. Live traffic is untouched.`);
    }
    return `${result.url} answered ${result.status}`;
  },
};

export const verify: RunPhase = {
  id: 'verify',
  checksBeforeMove: true,
  title: 'Check health before moving traffic',
  color: (c) => c.target,
  hosts: targetHostNames,
  plan: (c) => `refuse unless the ${c.target ?? 'target'} hosts are healthy in the load balancer and by a direct probe`,
  async run(c) {
    const refusal = c.settings.mode === 'rollback' ? `Cannot roll back to ${c.target}` : `Refusing to switch to ${c.target}`;
    const healthy = await requireHealthy(c, c.settings.traffic.minHealthyHosts, refusal);
    return `${healthy.length} of ${targetHosts(c).length} host(s) healthy`;
  },
};
