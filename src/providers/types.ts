import type { Duplex } from 'node:stream';
import type { Color } from '../colors.js';
import type { Hook } from '../settings.js';

export interface ProbeResult {
  url: string;
  ok: boolean;
  /** HTTP status of the last attempt, when one answered. */
  status?: number;
  /** Why the last attempt failed: a connection error, a timeout, or an unexpected status. */
  error?: string;
  attempts: number;
  /** First bytes of the last answer's body: apps report their release and color there. */
  body?: string;
}

/**
 * How a probe reaches the URL's host and port when the runner cannot open the TCP connection
 * itself: a stream forwarded by the SSH jump host (`probe-via`). Without one, a probe connects directly.
 */
export interface ProbeTransport {
  /** For errors: `the jump host bastion.example.com`. */
  readonly description: string;
  /** A byte stream to `host:port`, opened from the other end; rejects with the reason it could not. */
  connect(host: string, port: number): Promise<Duplex>;
}

/** One server of a color, however the provider found it. */
export interface Host {
  /** Stable name for logs, annotations and the summary: an address, a Droplet name, an instance id. */
  name: string;
  color: Color;
  /** Where the runner reaches the host (SSH) or the provider's handle for it (an instance id). */
  address: string;
  port?: number;
  user?: string;
  /** URL of the app's health path on this host, probed from the runner (directly or through the jump host). */
  healthUrl?: string;
}

/** Which color serves traffic, as the load balancer itself says. */
export type LiveTraffic =
  | { kind: 'color'; color: Color }
  /** Nothing is routed yet: the first deploy of an app. */
  | { kind: 'none' }
  /** Split between both colors: a progressive switch stopped halfway. Percentages. */
  | { kind: 'weighted'; weights: Record<Color, number> }
  /** Could not be read (dry run only): the reason says why. */
  | { kind: 'unknown'; reason: string };

export interface HostOutcome {
  host: Host;
  ok: boolean;
  durationMs: number;
  /** What happened, or for a failure: the step that failed and its last output. */
  detail: string;
  /** For a failed release: whether the host was put back on its previous release. */
  restored?: boolean;
}

export interface HostHealth {
  host: Host;
  ok: boolean;
  /** The load balancer's own view (HAProxy UP/DOWN, ALB target health), when it has one. */
  balancerState?: string;
  probe?: ProbeResult;
}

/** Finds the hosts of a color. */
export interface Inventory {
  hostsOf(color: Color): Promise<Host[]>;
  /**
   * Makes sure `color` has hosts to release to or roll back to: for an Auto Scaling Group scaled
   * down, scale it to `reference`'s size and wait until its instances are in service. Inventories
   * of fixed hosts leave it out. Returns a detail line.
   */
  ensureCapacity?(color: Color, reference: Color | undefined): Promise<string>;
}

/** Puts a release on hosts, all of one color. */
export interface Releaser {
  release(hosts: Host[], release: string): Promise<HostOutcome[]>;
  /**
   * Runs a user's hook command on each host (see src/hosts/hooks.ts `hostHookArgv`), in the live release
   * directory, with `env` set. Transports that cannot run commands on hosts leave it out.
   */
  runHook?(hosts: Host[], hook: Hook, env: Record<string, string>): Promise<HostOutcome[]>;
}

/** Reads and moves live traffic. */
export interface Traffic {
  /** Where traffic is switched, for the plan and the summary: "HAProxy on lb1", "ALB listener …". */
  readonly description: string;
  readLive(): Promise<LiveTraffic>;
  /** Sends all traffic to `color`, whose `hosts` passed their health checks; returns a detail line. */
  moveTo(color: Color, hosts: Host[]): Promise<string>;
  /** URL that reaches `color` without touching live traffic, when there is one. */
  previewUrl(color: Color): string | undefined;
  /**
   * The balancer's own view of each host of `color` (HAProxy UP/DOWN, ALB target health), keyed by
   * host name; a host it does not list is not in service. Balancers without one leave it out.
   */
  balancerHealth?(color: Color, hosts: Host[]): Promise<Map<string, BalancerHostState>>;
  /**
   * Splits traffic: `percent` of new requests to `color` (whose `hosts` passed their health checks),
   * the rest to the other color. Balancers without weights leave it out: their switch is all at once.
   */
  shiftTo?(color: Color, percent: number, hosts: Host[]): Promise<string>;
  /**
   * After traffic left `from`: waits (bounded by the drain timeout) until its in-flight requests
   * finished, and says how many were open when the move completed. Returns a detail line.
   */
  drain?(from: Color): Promise<string>;
}

export interface BalancerHostState {
  /** Whether the balancer sends (or would send) requests to this host. */
  up: boolean;
  /** The balancer's word for it: `UP`, `DOWN 1/3`, `healthy`, `unhealthy (Target.Timeout)`. */
  state: string;
}

/** Tells whether hosts are healthy: the balancer's view and a direct probe. */
export interface HealthReader {
  check(hosts: Host[]): Promise<HostHealth[]>;
}

/** Signals outside HTTP that a color misbehaves: CloudWatch alarms on AWS. */
export interface AlarmWatch {
  /** What is firing now, one line each (`alarm shop-5xx is ALARM: Threshold Crossed ...`); empty when all is well. */
  firing(): Promise<string[]>;
}

export interface Provider {
  inventory: Inventory;
  releaser: Releaser;
  traffic: Traffic;
  health: HealthReader;
  /** How probes of hosts and of the preview route connect when the runner cannot reach them (`probe-via`). */
  probeVia?: ProbeTransport;
  alarms?: AlarmWatch;
  /** Closes connections the provider opened. */
  close(): Promise<void>;
}
