import type { AwsTiming } from '../aws/clients.js';
import { BalancerAndProbeHealth } from '../health/combined.js';
import { DirectProbeHealth } from '../health/direct.js';
import { HostScriptReleaser } from '../hosts/releaser.js';
import { LocalRunner, type CommandRunner } from '../hosts/command.js';
import { ConnectOnFirstUse } from '../hosts/lazy-runner.js';
import type { JumpHostTunnel, SshTarget } from '../hosts/ssh.js';
import { endpoint } from '../hosts/ssh-endpoint.js';
import type { ProbeTransport } from '../providers/types.js';
import { DropletTagInventory } from '../inventory/do-tags.js';
import { StaticInventory } from '../inventory/static.js';
import { formatHost, type HostAddress, type Settings, type SshSettings } from '../settings.js';
import { DoLoadBalancerTraffic } from '../traffic/do-lb.js';
import { HaproxyTraffic, haproxyOptionsOf } from '../traffic/haproxy.js';
import type { Inventory, Provider, Releaser, Traffic } from '../providers/types.js';

/**
 * Builds the provider for the settings by composing an inventory, a releaser, a traffic switch and
 * a health reader: AWS = ASG inventory + SSM release + ALB traffic; DigitalOcean = tag inventory +
 * SSH release + HAProxy or DO load balancer; ssh = static inventory + SSH release + HAProxy.
 *
 * A provider's SDK is loaded (dynamic `import()`, a chunk of its own in the bundle) only when the
 * settings name that provider, and the SSH client only when a connection is opened: every run
 * starts faster and smaller than one that loads them all (see cold_start_ms in bench/).
 */
export async function createProvider(settings: Settings, awsTiming?: AwsTiming, cancelled?: AbortSignal): Promise<Provider> {
  // The AWS parts share one set of SDK clients, so they are built together.
  const aws =
    settings.provider.name === 'aws' ? new (await import('./aws-provider.js')).AwsParts(settings, settings.provider, awsTiming, cancelled) : undefined;
  const inventory = aws?.inventory ?? (await inventoryFor(settings, cancelled));
  const traffic = aws?.traffic ?? trafficFor(settings, inventory, cancelled);
  // Private hosts behind a bastion: their health URLs and the preview route are probed through it.
  const jumpHost = settings.ssh.jumpHost;
  const probeVia = settings.health.probeVia === 'jump-host' && jumpHost ? jumpHostTunnel(jumpHost, settings.ssh) : undefined;
  return {
    inventory,
    releaser: aws?.releaser ?? releaserFor(settings, cancelled),
    traffic,
    health: new BalancerAndProbeHealth(traffic, new DirectProbeHealth(settings.health, probeVia, cancelled)),
    ...(probeVia && { probeVia }),
    ...(aws?.alarms && { alarms: aws.alarms }),
    close: async () => {
      await probeVia?.close();
      await aws?.close();
      if (traffic instanceof HaproxyTraffic) await traffic.close();
    },
  };
}

async function inventoryFor(settings: Settings, cancelled?: AbortSignal): Promise<Inventory> {
  const { provider } = settings;
  switch (provider.name) {
    case 'ssh':
      return new StaticInventory(provider.hosts, settings);
    case 'digitalocean': {
      const { DigitalOceanClient } = await import('../digitalocean/client.js');
      return new DropletTagInventory(new DigitalOceanClient(provider.apiUrl, provider.token), provider, settings, cancelled);
    }
    case 'aws':
      throw new Error('provider aws is composed by AwsParts');
  }
}

/** Releases over SSH; a cancel of the run ends the host scripts still running (`cancelled`). */
function releaserFor(settings: Settings, cancelled?: AbortSignal): Releaser {
  return new HostScriptReleaser(settings, (host) => connectSsh({ host: host.address, port: host.port, user: host.user }, settings.ssh), {
    ...(cancelled && { signal: cancelled }),
  });
}

/** `JumpHostTunnel` of hosts/ssh.ts, with ssh2 and node-ssh loaded on the first probe, not at start. */
function jumpHostTunnel(jumpHost: HostAddress, ssh: SshSettings): ProbeTransport & { close(): Promise<void> } {
  let tunnel: Promise<JumpHostTunnel> | undefined;
  const load = () => (tunnel ??= import('../hosts/ssh.js').then((loaded) => new loaded.JumpHostTunnel(jumpHost, ssh)));
  return {
    description: `the jump host ${endpoint(jumpHost, ssh).name}`,
    connect: async (host, port) => (await load()).connect(host, port),
    close: async () => (await tunnel)?.close(),
  };
}

/** `connectSsh` of hosts/ssh.ts, with ssh2 and node-ssh loaded on the first connection, not at start. */
async function connectSsh(target: SshTarget, ssh: SshSettings): Promise<CommandRunner> {
  return (await import('../hosts/ssh.js')).connectSsh(target, ssh);
}

/** Traffic for ssh and digitalocean (AWS brings its own): HAProxy, or a DigitalOcean Load Balancer. */
function trafficFor(settings: Settings, inventory: Inventory, cancelled?: AbortSignal): Traffic {
  const { provider } = settings;
  if (settings.traffic.kind === 'haproxy')
    return new HaproxyTraffic(
      runnerForHaproxyHost(settings),
      inventory,
      haproxyOptionsOf(settings, `HAProxy on ${settings.traffic.haproxyHost?.host ?? 'the runner'}`),
    );
  // The settings allow do-lb only with provider digitalocean and a load balancer id.
  if (settings.traffic.kind !== 'do-lb' || provider.name !== 'digitalocean' || !provider.loadBalancerId || !(inventory instanceof DropletTagInventory)) {
    throw new Error(`no traffic switch for traffic ${settings.traffic.kind} with provider ${provider.name}`);
  }
  return new DoLoadBalancerTraffic(
    inventory.client,
    { ...provider, loadBalancerId: provider.loadBalancerId },
    inventory,
    settings.health,
    settings.traffic.publicUrl,
    cancelled,
  );
}

/** Where HAProxy commands run: on the runner, or on haproxy-host over SSH (connected on first use). */
export function runnerForHaproxyHost(settings: Settings): CommandRunner {
  const host = settings.traffic.haproxyHost;
  if (!host) return new LocalRunner();
  return new ConnectOnFirstUse(formatHost(host), () => connectSsh({ host: host.host, port: host.port, user: host.user }, settings.ssh));
}
