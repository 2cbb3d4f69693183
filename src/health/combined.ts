import type { Color } from '../colors.js';
import type { HealthReader, Host, HostHealth, Traffic } from '../providers/types.js';

/**
 * A host is healthy when the balancer says it is in service (where the balancer has a view) and a
 * probe of its health URL passes (from the runner, or through the jump host: `probe-via`). Either one failing is
 * enough to refuse: a host the balancer marks DOWN would drop requests even if it answers us.
 */
export class BalancerAndProbeHealth implements HealthReader {
  constructor(
    private readonly traffic: Traffic,
    private readonly direct: HealthReader,
  ) {}

  async check(hosts: Host[]): Promise<HostHealth[]> {
    const colors = [...new Set(hosts.map((h) => h.color))];
    const views = await Promise.all(
      colors.map(
        async (color: Color) =>
          [
            color,
            await this.traffic.balancerHealth?.(
              color,
              hosts.filter((h) => h.color === color),
            ),
          ] as const,
      ),
    );
    const viewOf = new Map(views);
    const probed = await this.direct.check(hosts.filter((h) => h.healthUrl));
    const probeOf = new Map(probed.map((p) => [p.host.name, p]));
    return hosts.map((host): HostHealth => {
      const view = viewOf.get(host.color);
      const balancer = view ? (view.get(host.name) ?? { up: false, state: 'not in the balancer' }) : undefined;
      const probe = probeOf.get(host.name);
      if (!balancer && !probe) return { host, ok: false, balancerState: 'no balancer view and no health URL for this host' };
      return {
        host,
        ok: (balancer?.up ?? true) && (probe?.ok ?? true),
        ...(balancer && { balancerState: balancer.state }),
        ...(probe?.probe && { probe: probe.probe }),
      };
    });
  }
}
