import { otherColor, type Color } from '../colors.js';
import { liveColor } from '../live-traffic.js';
import type { PhaseId } from '../phase-ids.js';
import type { Host, LiveTraffic, Provider } from '../providers/types.js';
import type { Settings } from '../settings.js';
import type { Phase } from './runner.js';

/** What the phases of one run share: filled in as they go, read by the report. */
export interface RunContext {
  settings: Settings;
  provider: Provider;
  /** Live traffic when the run started, as the load balancer says. */
  liveBefore?: LiveTraffic;
  /** Live traffic after the traffic phases, read back from the load balancer. */
  liveAfter?: LiveTraffic;
  /** The color this run releases to or moves traffic to. */
  target?: Color;
  hosts: Partial<Record<Color, Host[]>>;
  previewUrl?: string;
  /** Set when a failed validation moved traffic back by itself. */
  movedBack?: Color;
  /** From the failed check to traffic back on the old color, when that happened. */
  autoRollbackMs?: number;
  /** The color an interrupted earlier attempt of this switch or rollback moved traffic to (from state). */
  interruptedMoveTo?: Color;
  /** This run continues that attempt: traffic already moved, so it validates instead of moving again. */
  resumedMove?: boolean;
  /** True once the job is cancelled: a progressive step stops holding its share and ends. */
  cancelled?: () => boolean;
  /** Aborted once the job is cancelled: probes end at once. */
  aborted?: AbortSignal;
  /** The color the state variable records as live, when state is on and records one. */
  recordedLive?: Color;
  /** The release the state variable records on each color, when state is on. */
  recordedReleases?: Partial<Record<Color, string>>;
}

/**
 * The color traffic moves away from: the one live before or, when a progressive switch stopped
 * halfway, the other color than the one this run moves to (where a failed validation sends it back).
 */
export function fromColor(c: RunContext): Color | undefined {
  const live = c.liveBefore;
  if (live?.kind === 'weighted') return c.target && otherColor(c.target);
  return liveColor(live);
}

/** A phase of a run of this action. */
export type RunPhase = Phase<RunContext, PhaseId>;

export const hostNames = (hosts: Host[] | undefined): string => (hosts?.length ? hosts.map((h) => h.name).join(', ') : '');

/** The hosts of the target color; when it is not known (a dry run), the hosts of either color it may be. */
export function targetHostNames(c: RunContext): string {
  if (c.target) return hostNames(c.hosts[c.target]);
  const either = (['blue', 'green'] as const).filter((color) => c.hosts[color]?.length).map((color) => `${color}: ${hostNames(c.hosts[color])}`);
  return either.length ? `one color of ${either.join('; ')}` : '';
}

/** The hosts of the target color, once the inventory phase found them. */
export function targetHosts(context: RunContext): Host[] {
  const hosts = context.target ? context.hosts[context.target] : undefined;
  if (!context.target || !hosts) throw new Error('target hosts read before the inventory phase');
  return hosts;
}
