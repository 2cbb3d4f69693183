import type { HealthSettings } from '../settings.js';
import type { HealthReader, Host, HostHealth, ProbeTransport } from '../providers/types.js';
import { probeUntilHealthy } from './probe.js';

/**
 * Health read by probing each host's health URL from the runner, all hosts at once: connecting
 * directly, or through `via` (the SSH jump host) when the hosts are only reachable from there.
 */
export class DirectProbeHealth implements HealthReader {
  constructor(
    private readonly health: HealthSettings,
    private readonly via?: ProbeTransport,
    /** Aborted when the run is cancelled: the probes end at once. */
    private readonly signal?: AbortSignal,
  ) {}

  async check(hosts: Host[]): Promise<HostHealth[]> {
    return Promise.all(
      hosts.map(async (host): Promise<HostHealth> => {
        if (!host.healthUrl) return { host, ok: false, balancerState: 'no health URL known for this host' };
        const probe = await probeUntilHealthy(host.healthUrl, this.health, { ...(this.via && { via: this.via }), ...(this.signal && { signal: this.signal }) });
        return { host, ok: probe.ok, probe };
      }),
    );
  }
}
