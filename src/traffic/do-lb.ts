import { otherColor, type Color } from '../colors.js';
import { UserError } from '../errors.js';
import type { DigitalOceanClient, LoadBalancer } from '../digitalocean/client.js';
import type { DropletTagInventory } from '../inventory/do-tags.js';
import type { Host, LiveTraffic, Traffic } from '../providers/types.js';
import type { DigitalOceanSettings, HealthSettings } from '../settings.js';

/**
 * Traffic on a DigitalOcean Load Balancer: the live color is the tag (or the Droplets) it points at;
 * a switch points it at the other color's tag. It has no weights, so a switch is all at once.
 * The API reports no per-Droplet health, so health comes from direct probes (the verify phase) and
 * the switch waits for the load balancer to be `active` again with the new target.
 */
export class DoLoadBalancerTraffic implements Traffic {
  readonly description: string;

  constructor(
    private readonly client: DigitalOceanClient,
    private readonly digitalocean: DigitalOceanSettings & { loadBalancerId: string },
    private readonly inventory: DropletTagInventory,
    private readonly health: HealthSettings,
  ) {
    this.description = `DigitalOcean Load Balancer ${digitalocean.loadBalancerId}`;
  }

  async readLive(): Promise<LiveTraffic> {
    return this.colorOf(await this.client.loadBalancer(this.digitalocean.loadBalancerId));
  }

  async moveTo(color: Color, _hosts: Host[]): Promise<string> {
    const id = this.digitalocean.loadBalancerId;
    const current = await this.client.activeLoadBalancer(id);
    // Point at the tag when the balancer already works by tag; else at the Droplet ids just listed.
    const target = current.tag ? { tag: this.digitalocean.tags[color] } : { droplet_ids: await this.dropletIdsOf(color) };
    await this.client.pointLoadBalancer(id, target);
    const settled = await this.client.activeLoadBalancer(id);
    if (!sameColor(this.colorOfSync(settled), color)) {
      throw new UserError(`The load balancer did not settle on ${color} (it points at ${settled.tag ? `tag ${settled.tag}` : `Droplets ${(settled.droplet_ids ?? []).join(', ')}`}). Check it in the DigitalOcean console.`);
    }
    return `load balancer ${current.name} points at ${'tag' in target ? `tag ${target.tag}` : `${target.droplet_ids.length} ${color} Droplet(s)`}`;
  }

  previewUrl(): string | undefined {
    return undefined;
  }

  private async dropletIdsOf(color: Color): Promise<number[]> {
    if (!this.inventory.dropletIds.has(color)) await this.inventory.hostsOf(color);
    return this.inventory.dropletIds.get(color) ?? [];
  }

  private async colorOf(lb: LoadBalancer): Promise<LiveTraffic> {
    if (!lb.tag && lb.droplet_ids?.length) {
      for (const color of ['blue', 'green'] as const) await this.dropletIdsOf(color);
    }
    return this.colorOfSync(lb);
  }

  private colorOfSync(lb: LoadBalancer): LiveTraffic {
    const { tags } = this.digitalocean;
    if (lb.tag) {
      if (lb.tag === tags.blue) return { kind: 'color', color: 'blue' };
      if (lb.tag === tags.green) return { kind: 'color', color: 'green' };
      throw new UserError(`Load balancer ${lb.name} points at tag ${lb.tag}, which is neither ${tags.blue} nor ${tags.green}. Point it at one of them, or set blue-tag / green-tag.`);
    }
    const ids = new Set(lb.droplet_ids ?? []);
    if (ids.size === 0) return { kind: 'none' };
    for (const color of ['blue', 'green'] as const) {
      const mine = this.inventory.dropletIds.get(color) ?? [];
      if (mine.length > 0 && [...ids].every((id) => mine.includes(id))) return { kind: 'color', color };
      if (mine.some((id) => ids.has(id)) && (this.inventory.dropletIds.get(otherColor(color)) ?? []).some((id) => ids.has(id))) {
        throw new UserError(`Load balancer ${lb.name} points at Droplets of both colors. Point it at one color's Droplets (or its tag) first.`);
      }
    }
    throw new UserError(`Load balancer ${lb.name} points at Droplets ${[...ids].join(', ')}, none tagged ${tags.blue} or ${tags.green}.`);
  }
}

function sameColor(live: LiveTraffic, color: Color): boolean {
  return live.kind === 'color' && live.color === color;
}
