import { AwsParts } from '../aws/provider.js';
import type { AwsTiming } from '../aws/clients.js';
import { DigitalOceanClient } from '../digitalocean/client.js';
import { BalancerAndProbeHealth } from '../health/combined.js';
import { DirectProbeHealth } from '../health/direct.js';
import { HostScriptReleaser } from '../hosts/releaser.js';
import { LocalRunner, type CommandRunner } from '../hosts/command.js';
import { ConnectOnFirstUse } from '../hosts/lazy-runner.js';
import { JumpHostTunnel, connectSsh } from '../hosts/ssh.js';
import { DropletTagInventory } from '../inventory/do-tags.js';
import { StaticInventory } from '../inventory/static.js';
import { formatHost, type Settings } from '../settings.js';
import { DoLoadBalancerTraffic } from '../traffic/do-lb.js';
import { HaproxyTraffic, haproxyOptionsOf } from '../traffic/haproxy.js';
import type { Inventory, Provider, Releaser, Traffic } from './types.js';

/**
 * Builds the provider for the settings by composing an inventory, a releaser, a traffic switch and
 * a health reader: AWS = ASG inventory + SSM release + ALB traffic; DigitalOcean = tag inventory +
 * SSH release + HAProxy or DO load balancer; ssh = static inventory + SSH release + HAProxy.
 */
export function createProvider(settings: Settings, awsTiming?: AwsTiming): Provider {
  // The AWS parts share one set of SDK clients, so they are built together.
  const aws = settings.provider.name === 'aws' ? new AwsParts(settings, settings.provider, awsTiming) : undefined;
  const inventory = aws?.inventory ?? inventoryFor(settings);
  const traffic = aws?.traffic ?? trafficFor(settings, inventory);
  // Private hosts behind a bastion: their health URLs and the preview route are probed through it.
  const jumpHost = settings.ssh.jumpHost;
  const probeVia = settings.health.probeVia === 'jump-host' && jumpHost ? new JumpHostTunnel(jumpHost, settings.ssh) : undefined;
  return {
    inventory,
    releaser: aws?.releaser ?? releaserFor(settings),
    traffic,
    health: new BalancerAndProbeHealth(traffic, new DirectProbeHealth(settings.health, probeVia)),
    ...(probeVia && { probeVia }),
    ...(aws?.alarms && { alarms: aws.alarms }),
    close: async () => {
      await probeVia?.close();
      await aws?.close();
      if (traffic instanceof HaproxyTraffic) await traffic.close();
    },
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
      throw new Error('provider aws is composed by AwsParts');
  }
}

function releaserFor(settings: Settings): Releaser {
  return new HostScriptReleaser(settings, (host) => connectSsh({ host: host.address, port: host.port, user: host.user }, settings.ssh));
}

/** Traffic for ssh and digitalocean (AWS brings its own): HAProxy, or a DigitalOcean Load Balancer. */
function trafficFor(settings: Settings, inventory: Inventory): Traffic {
  const { provider } = settings;
  if (settings.traffic.kind === 'haproxy') return new HaproxyTraffic(runnerForHaproxyHost(settings), inventory, haproxyOptionsOf(settings, `HAProxy on ${settings.traffic.haproxyHost?.host ?? 'the runner'}`));
  // The settings allow do-lb only with provider digitalocean and a load balancer id.
  if (settings.traffic.kind !== 'do-lb' || provider.name !== 'digitalocean' || !provider.loadBalancerId || !(inventory instanceof DropletTagInventory)) {
    throw new Error(`no traffic switch for traffic ${settings.traffic.kind} with provider ${provider.name}`);
  }
  return new DoLoadBalancerTraffic(inventory.client, { ...provider, loadBalancerId: provider.loadBalancerId }, inventory, settings.health, settings.traffic.publicUrl);
}

/** Where HAProxy commands run: on the runner, or on haproxy-host over SSH (connected on first use). */
export function runnerForHaproxyHost(settings: Settings): CommandRunner {
  const host = settings.traffic.haproxyHost;
  if (!host) return new LocalRunner();
  return new ConnectOnFirstUse(formatHost(host), () => connectSsh({ host: host.host, port: host.port, user: host.user }, settings.ssh));
}
