import type { Color } from '../colors.js';
import type { Host, Inventory } from '../providers/types.js';
import { formatHost, type HostAddress, type Settings } from '../settings.js';

/** The URL of the app's health path on a host, probed directly from the runner. */
export function healthUrlOf(address: string, settings: Settings): string {
  const host = address.includes(':') ? `[${address}]` : address;
  return `http://${host}:${settings.hostRelease.appPort}${settings.health.path}`;
}

export function hostFromAddress(address: HostAddress, color: Color, settings: Settings): Host {
  return {
    name: formatHost({ host: address.host, port: address.port }),
    color,
    address: address.host,
    port: address.port ?? settings.ssh.port,
    user: address.user ?? settings.ssh.user,
    healthUrl: healthUrlOf(address.host, settings),
  };
}

/** Hosts listed in the inputs (`blue-hosts`, `green-hosts`): for teams on plain servers. */
export class StaticInventory implements Inventory {
  constructor(
    private readonly lists: Record<Color, HostAddress[]>,
    private readonly settings: Settings,
  ) {}

  async hostsOf(color: Color): Promise<Host[]> {
    return this.lists[color].map((address) => hostFromAddress(address, color, this.settings));
  }
}
