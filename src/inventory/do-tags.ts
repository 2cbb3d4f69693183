import * as core from '@actions/core';
import type { Color } from '../colors.js';
import { UserError } from '../errors.js';
import type { DigitalOceanClient, Droplet } from '../digitalocean/client.js';
import type { Host, Inventory } from '../providers/types.js';
import type { DigitalOceanSettings, Settings } from '../settings.js';
import { healthUrlOf } from './static.js';

/** The hosts of a color are the active Droplets carrying its tag (`env:blue`, `env:green`). */
export class DropletTagInventory implements Inventory {
  /** Droplet ids of each color, as last listed: the DigitalOcean Load Balancer is pointed at them. */
  readonly dropletIds = new Map<Color, number[]>();

  constructor(
    /** Shared with the DigitalOcean Load Balancer traffic switch. */
    readonly client: DigitalOceanClient,
    private readonly digitalocean: DigitalOceanSettings,
    private readonly settings: Settings,
    /** The job's cancel: ends a listing (and its retry waits) at once. */
    private readonly cancelled?: AbortSignal,
  ) {}

  async hostsOf(color: Color): Promise<Host[]> {
    const tag = this.digitalocean.tags[color];
    const droplets = await this.client.dropletsByTag(tag, this.cancelled);
    const active = droplets.filter((d) => d.status === 'active');
    for (const skipped of droplets.filter((d) => d.status !== 'active')) {
      core.warning(`Droplet ${skipped.name} (${skipped.id}) carries ${tag} but is ${skipped.status}: skipped.`);
    }
    if (active.length === 0) {
      throw new UserError(
        droplets.length === 0
          ? `No Droplet carries the tag ${tag} (${color}). Tag the ${color} Droplets, or set ${color}-tag.`
          : `None of the ${droplets.length} Droplet(s) tagged ${tag} (${color}) is active.`,
      );
    }
    this.dropletIds.set(
      color,
      active.map((d) => d.id),
    );
    return active.map((droplet) => this.hostOf(droplet, color));
  }

  private hostOf(droplet: Droplet, color: Color): Host {
    const kind = this.digitalocean.address;
    const address = droplet.networks.v4.find((n) => n.type === kind)?.ip_address;
    if (!address) {
      throw new UserError(
        `Droplet ${droplet.name} (${droplet.id}) has no ${kind} IPv4 address. Input 'droplet-address': use ${kind === 'private' ? 'public' : 'private'}, or give the Droplet a ${kind} address.`,
      );
    }
    return {
      name: droplet.name,
      color,
      address,
      port: this.settings.ssh.port,
      user: this.settings.ssh.user,
      healthUrl: healthUrlOf(address, this.settings),
    };
  }
}
