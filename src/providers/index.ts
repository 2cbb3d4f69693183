import { UserError } from '../errors.js';
import { DirectProbeHealth } from '../health/direct.js';
import { StaticInventory } from '../inventory/static.js';
import type { Settings } from '../settings.js';
import type { Provider, Traffic } from './types.js';

/**
 * Builds the provider for the settings by composing an inventory, a releaser, a traffic switch and
 * a health reader. Parts this version does not have yet fail with a plain message when used, so a
 * dry run still shows the plan.
 */
export function createProvider(settings: Settings): Provider {
  const traffic = trafficDescription(settings);
  return {
    inventory:
      settings.provider.name === 'ssh'
        ? new StaticInventory(settings.provider.hosts, settings)
        : { hostsOf: notAvailable(`Finding hosts for provider ${settings.provider.name}`) },
    releaser: { release: notAvailable('Releasing to hosts') },
    traffic: { description: traffic, readLive: notAvailable(`Traffic through ${traffic}`), moveTo: notAvailable(`Traffic through ${traffic}`), previewUrl: () => undefined } satisfies Traffic,
    health: new DirectProbeHealth(settings.health),
    close: async () => undefined,
  };
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
