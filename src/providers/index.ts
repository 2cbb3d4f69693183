import { UserError } from '../errors.js';
import { DigitalOceanClient } from '../digitalocean/client.js';
import { BalancerAndProbeHealth } from '../health/combined.js';
import { DirectProbeHealth } from '../health/direct.js';
import { DropletTagInventory } from '../inventory/do-tags.js';
import { StaticInventory } from '../inventory/static.js';
import type { Settings } from '../settings.js';
import { DoLoadBalancerTraffic } from '../traffic/do-lb.js';
import type { Inventory, Provider, Releaser, Traffic } from './types.js';

/**
 * Builds the provider for the settings by composing an inventory, a releaser, a traffic switch and
 * a health reader: AWS = ASG inventory + SSM release + ALB traffic; DigitalOcean = tag inventory +
 * SSH release + HAProxy or DO load balancer; ssh = static inventory + SSH release + HAProxy.
 * Parts this version does not have yet fail with a plain message when used, so a dry run still
 * shows the plan.
 */
export function createProvider(settings: Settings): Provider {
  const inventory = inventoryFor(settings);
  const traffic = trafficFor(settings, inventory);
  return {
    inventory,
    releaser: releaserFor(settings),
    traffic,
    health: new BalancerAndProbeHealth(traffic, new DirectProbeHealth(settings.health)),
    close: async () => undefined,
  };
}

function inventoryFor(settings: Settings): Inventory {
  const { provider } = settings;
  switch (provider.name) {
    case 'ssh':
      return new StaticInventory(provider.hosts, settings);
    case 'digitalocean':
      return new DropletTagInventory(new DigitalOceanClient(provider.apiUrl, provider.token), provider, settings);
    case 'aws':
      return { hostsOf: notAvailable('Finding hosts for provider aws') };
  }
}

function releaserFor(_settings: Settings): Releaser {
  return { release: notAvailable('Releasing to hosts') };
}

function trafficFor(settings: Settings, inventory: Inventory): Traffic {
  const { provider } = settings;
  if (settings.traffic.kind === 'do-lb' && provider.name === 'digitalocean' && provider.loadBalancerId && inventory instanceof DropletTagInventory) {
    return new DoLoadBalancerTraffic(inventory.client, { ...provider, loadBalancerId: provider.loadBalancerId }, inventory, settings.health);
  }
  const description = trafficDescription(settings);
  return { description, readLive: notAvailable(`Traffic through ${description}`), moveTo: notAvailable(`Traffic through ${description}`), previewUrl: () => undefined };
}

export function trafficDescription(settings: Settings): string {
  switch (settings.traffic.kind) {
    case 'haproxy':
      return `HAProxy on ${settings.traffic.haproxyHost?.host ?? 'the runner'}`;
    case 'alb':
      return 'ALB listener';
    case 'do-lb':
      return 'DigitalOcean Load Balancer';
  }
}

function notAvailable(what: string) {
  return async (): Promise<never> => {
    throw new UserError(`${what} is not available in this version of bluegreen-perl yet.`);
  };
}
