import * as core from '@actions/core';
import { performance } from 'node:perf_hooks';
import { otherColor, type Color } from '../colors.js';
import { UserError } from '../errors.js';
import type { DigitalOceanClient, LoadBalancer } from '../digitalocean/client.js';
import type { DropletTagInventory } from '../inventory/do-tags.js';
import { probeUntilHealthy } from '../health/probe.js';
import type { Host, LiveTraffic, Traffic } from '../providers/types.js';
import { sleep, throwIfAborted, WaitAbortedError } from '../retry.js';
import type { DigitalOceanSettings, HealthSettings } from '../settings.js';

/**
 * Traffic on a DigitalOcean Load Balancer: the live color is the tag (or the Droplets) it points at.
 * It has no weights, and it sends a newly attached Droplet no request until that Droplet passed
 * `healthy_threshold` health checks, `check_interval_seconds` apart; its API shows no per-Droplet
 * health to wait on. So a switch never retargets in one step (that answers 503 for the whole
 * warm-up): it attaches the new color's Droplets beside the live ones, waits the balancer's own
 * healthy window plus one interval, probes `public-url`, and only then detaches the old color.
 * Each update is sent once the balancer is `active` (see DigitalOceanClient.pointLoadBalancer).
 */
export class DoLoadBalancerTraffic implements Traffic {
  readonly description: string;
  /** What the balancer pointed at when this run's first move began: where a cancelled warm-up goes back to. */
  private startedOn?: Target;

  constructor(
    private readonly client: DigitalOceanClient,
    private readonly digitalocean: DigitalOceanSettings & { loadBalancerId: string },
    private readonly inventory: DropletTagInventory,
    private readonly health: HealthSettings,
    /** Probed through the balancer while both colors are attached, before the old one leaves. */
    private readonly publicUrl?: string,
    /**
     * The job's cancel: it ends every wait and probe of a move under way at once. An update already
     * sent is made; a warm-up beside the live color is ended by going back to where this run began.
     */
    private readonly cancelled?: AbortSignal,
  ) {
    this.description = `DigitalOcean Load Balancer ${digitalocean.loadBalancerId}`;
  }

  async readLive(): Promise<LiveTraffic> {
    // A read made after the cancel (to report where traffic is) runs to its end.
    return this.colorOf(await this.client.loadBalancer(this.digitalocean.loadBalancerId, this.cancelFor()));
  }

  /**
   * The cancel, for work starting now: it ends that work's waits and reads when the job is
   * cancelled while it runs; work ordered after the cancel (reporting where traffic is, a move that
   * settles traffic on one color) gets none and runs to its end.
   */
  private cancelFor(): AbortSignal | undefined {
    return this.cancelled?.aborted ? undefined : this.cancelled;
  }

  async moveTo(color: Color, _hosts: Host[]): Promise<string> {
    const id = this.digitalocean.loadBalancerId;
    const signal = this.cancelFor();
    const before = await this.client.activeLoadBalancer(id, signal);
    this.startedOn ??= targetOf(before);
    const incoming = await this.dropletIdsOf(color);
    const attached = await this.attachedTo(before);
    // End where the balancer started: on the color's tag when it works by tag, else on its Droplet ids.
    const final = before.tag ? { tag: this.digitalocean.tags[color] } : { droplet_ids: incoming };
    const describeFinal = 'tag' in final ? `tag ${final.tag}` : `${incoming.length} ${color} Droplet(s)`;
    const missing = incoming.filter((droplet) => !attached.includes(droplet));
    const leaving = attached.filter((droplet) => !incoming.includes(droplet));
    const startedAt = performance.now();
    let detail: string;

    if (leaving.length === 0) {
      // Nothing to keep serving meanwhile (the first switch, or a rerun that already detached).
      if (sameTarget(before, final)) return `load balancer ${before.name} already points at ${describeFinal}`;
      // A cancel before the update is sent ends the move with nothing changed; once sent, it is made.
      await this.client.pointLoadBalancer(id, final, signal);
      detail = `load balancer ${before.name} points at ${describeFinal}`;
      try {
        const settled = await this.settledOn(color, signal);
        if (missing.length > 0) await this.warmUp(settled, color, signal);
        if (missing.length > 0) detail += `; waited ${this.warmUpText(settled)} for its health checks`;
      } catch (error) {
        if (!(error instanceof WaitAbortedError)) throw error;
        detail += `; the update was sent, and the cancel cut short the wait for it to apply and for its health checks`;
      }
    } else {
      // Both colors serve while the new one warms up: the old one leaves only after that window.
      // A cancel before the Droplets are attached ends the move with nothing changed.
      if (missing.length > 0) await this.client.pointLoadBalancer(id, { droplet_ids: [...attached, ...missing] }, signal);
      try {
        const both = await this.client.activeLoadBalancer(id, signal);
        await this.warmUp(both, color, signal);
        await this.probePublicUrl(id, before, color, signal);
        detail = `${color} warmed up beside ${otherColor(color)} for ${this.warmUpText(both)}`;
      } catch (error) {
        if (!(error instanceof WaitAbortedError)) throw error;
        return this.endOverlapOnCancel(id, before, color, error);
      }
      // Warmed up and answering: the move is under way and completes, cancel or not.
      await this.client.pointLoadBalancer(id, final);
      const overlapSeconds = ((performance.now() - startedAt) / 1000).toFixed(1);
      detail = `load balancer ${before.name} points at ${describeFinal}; ${detail}, both colors attached for ${overlapSeconds} s`;
      try {
        await this.settledOn(color, signal);
      } catch (error) {
        if (!(error instanceof WaitAbortedError)) throw error;
        detail += '; the cancel cut short the wait for the update to apply';
      }
    }
    core.info(detail);
    return detail;
  }

  /**
   * The job was cancelled while both colors were attached (the new one warming up): the balancer
   * goes back to what it pointed at when this run's first move began, without waiting for the
   * warm-up, and the move ends with WaitAbortedError (a move back to that color is thereby made).
   */
  private async endOverlapOnCancel(id: string, before: LoadBalancer, color: Color, cancelled: WaitAbortedError): Promise<never> {
    const origin = this.startedOn ?? targetOf(before);
    await this.client.pointLoadBalancer(id, origin);
    const where = 'tag' in origin ? `tag ${origin.tag}` : `Droplets ${origin.droplet_ids.join(', ')}`;
    core.info(
      `${cancelled.message} while ${color} warmed up beside ${otherColor(color)}: load balancer ${before.name} points at ${where} again, as when this run began.`,
    );
    throw new WaitAbortedError(
      `${cancelled.message} while the ${color} Droplets warmed up; load balancer ${before.name} points at ${where} again, as when this run began`,
    );
  }

  /** Waits the balancer's own healthy window plus one check interval: the API shows no per-Droplet health. */
  private async warmUp(lb: LoadBalancer, color: Color, signal?: AbortSignal): Promise<void> {
    const { healthyThreshold, intervalSeconds } = healthCheckOf(lb);
    core.info(
      `Waiting ${this.warmUpText(lb)} for load balancer ${lb.name} to health-check the ${color} Droplets (healthy after ${healthyThreshold} checks, ${intervalSeconds} s apart)`,
    );
    await sleep((healthyThreshold + 1) * intervalSeconds * 1000, signal);
    throwIfAborted(signal);
  }

  private warmUpText(lb: LoadBalancer): string {
    const { healthyThreshold, intervalSeconds } = healthCheckOf(lb);
    return `${(healthyThreshold + 1) * intervalSeconds} s ((${healthyThreshold} + 1) × ${intervalSeconds} s)`;
  }

  /**
   * With both colors attached, the balancer must answer at `public-url`; if it does not, the new
   * Droplets are detached again (the old color alone stays, as before the move) and the move fails.
   */
  private async probePublicUrl(id: string, before: LoadBalancer, color: Color, signal?: AbortSignal): Promise<void> {
    if (!this.publicUrl) return;
    const probe = await probeUntilHealthy(`${this.publicUrl}${this.health.path}`, this.health, { ...(signal && { signal }) });
    if (probe.ok) return;
    await this.client.pointLoadBalancer(id, targetOf(before));
    // The detach is sent: a cancel only cuts short the wait to see it applied.
    await this.client.activeLoadBalancer(id, signal).catch((error: unknown) => {
      if (!(error instanceof WaitAbortedError)) throw error;
    });
    throw new UserError(
      `With the ${color} Droplets attached beside the live ones, ${probe.url} ${probe.error ?? 'failed'} after ${probe.attempts} attempt(s); the ${color} Droplets were detached again and traffic stays where it was. Check the load balancer's health check against the ${color} Droplets.`,
    );
  }

  /** Waits for `active` and checks the balancer now points at `color` alone. */
  private async settledOn(color: Color, signal?: AbortSignal): Promise<LoadBalancer> {
    const settled = await this.client.activeLoadBalancer(this.digitalocean.loadBalancerId, signal);
    if (!sameColor(this.colorOfSync(settled), color)) {
      throw new UserError(
        `The load balancer did not settle on ${color} (it points at ${settled.tag ? `tag ${settled.tag}` : `Droplets ${(settled.droplet_ids ?? []).join(', ')}`}). Check it in the DigitalOcean console.`,
      );
    }
    return settled;
  }

  previewUrl(): string | undefined {
    return undefined;
  }

  /** The Droplets the balancer sends to now: as it lists them, or for a tag it lists none for, the tag's. */
  private async attachedTo(lb: LoadBalancer): Promise<number[]> {
    if (lb.droplet_ids?.length || !lb.tag) return lb.droplet_ids ?? [];
    const live = this.colorOfSync(lb);
    return live.kind === 'color' ? this.dropletIdsOf(live.color) : [];
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
      throw new UserError(
        `Load balancer ${lb.name} points at tag ${lb.tag}, which is neither ${tags.blue} nor ${tags.green}. Point it at one of them, or set blue-tag / green-tag.`,
      );
    }
    const ids = new Set(lb.droplet_ids ?? []);
    if (ids.size === 0) return { kind: 'none' };
    const attachedOf = (color: Color) => (this.inventory.dropletIds.get(color) ?? []).filter((id) => ids.has(id)).length;
    const blue = attachedOf('blue');
    const green = attachedOf('green');
    if (blue + green === ids.size) {
      if (green === 0) return { kind: 'color', color: 'blue' };
      if (blue === 0) return { kind: 'color', color: 'green' };
      // Both colors attached (a switch stopped while the new color warmed up beside the old one):
      // the balancer spreads requests over every healthy Droplet, so each color's share is its count.
      const bluePercent = Math.round((100 * blue) / ids.size);
      return { kind: 'weighted', weights: { blue: bluePercent, green: 100 - bluePercent } };
    }
    throw new UserError(`Load balancer ${lb.name} points at Droplets ${[...ids].join(', ')}, none tagged ${tags.blue} or ${tags.green}.`);
  }
}

/** The balancer's health check as it reads back; DigitalOcean's defaults where it leaves a field out. */
function healthCheckOf(lb: LoadBalancer): { healthyThreshold: number; intervalSeconds: number } {
  const check = (lb.health_check ?? {}) as { healthy_threshold?: number; check_interval_seconds?: number };
  return { healthyThreshold: check.healthy_threshold ?? 3, intervalSeconds: check.check_interval_seconds ?? 10 };
}

type Target = { tag: string } | { droplet_ids: number[] };

/** What the balancer points at, as an update would send it. */
function targetOf(lb: LoadBalancer): Target {
  return lb.tag ? { tag: lb.tag } : { droplet_ids: lb.droplet_ids ?? [] };
}

function sameTarget(lb: LoadBalancer, target: Target): boolean {
  if ('tag' in target) return lb.tag === target.tag;
  const ids = lb.droplet_ids ?? [];
  return !lb.tag && ids.length === target.droplet_ids.length && target.droplet_ids.every((droplet) => ids.includes(droplet));
}

function sameColor(live: LiveTraffic, color: Color): boolean {
  return live.kind === 'color' && live.color === color;
}
