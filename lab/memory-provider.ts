import type { Color } from '../src/colors.js';
import { otherColor } from '../src/colors.js';
import type { AlarmWatch, Host, HostHealth, HostOutcome, LiveTraffic, Provider } from '../src/providers/types.js';
import type { Hook } from '../src/settings.js';

/** The example app of the repository, as a checkout would put it in the workspace. */
export const EXAMPLE_APP_DIR = new URL('../examples/app/', import.meta.url).pathname;

/**
 * An in-memory world for orchestration tests: hosts with a release and a health, and a load
 * balancer whose live color changes only through moveTo. It keeps state like the real parts do,
 * so tests assert on the world after a run, not on the calls made.
 */
export class MemoryWorld implements Provider {
  live: LiveTraffic = { kind: 'color', color: 'blue' };
  readonly hosts: Record<Color, Host[]>;
  /** Release each host runs. */
  readonly releases = new Map<string, string>();
  readonly unhealthy = new Set<string>();
  /** Hosts whose release fails, with the step and its message. */
  readonly failingRelease = new Map<string, string>();
  /** Makes the live color read back wrong after a move, as a misbehaving balancer would. */
  moveIgnored = false;
  /** Base of the preview route (`<base>/<color>`); none by default. */
  previewBase: string | undefined;
  readonly moves: Color[] = [];
  /** Every change of traffic, in order: `green 10%`, `green 100%`. */
  readonly trafficLog: string[] = [];
  /** Hook commands run on hosts: `host: command (env)`. */
  readonly hookRuns: string[] = [];
  /** Hosts where a hook command fails. */
  readonly failingHook = new Set<string>();
  /** CloudWatch-like alarms firing now; set to watch alarms at all. */
  alarms?: AlarmWatch;
  closed = false;

  constructor(hostsPerColor = 2) {
    const make = (color: Color): Host[] =>
      Array.from({ length: hostsPerColor }, (_, i) => ({
        name: `${color}-${i + 1}`,
        color,
        address: `${color}-${i + 1}.internal`,
        healthUrl: `http://${color}-${i + 1}.internal:5000/health`,
      }));
    this.hosts = { blue: make('blue'), green: make('green') };
    for (const host of [...this.hosts.blue, ...this.hosts.green]) this.releases.set(host.name, 'r0');
  }

  inventory = { hostsOf: async (color: Color) => this.hosts[color] };

  releaser = {
    runHook: async (hosts: Host[], hook: Hook, env: Record<string, string>): Promise<HostOutcome[]> =>
      hosts.map((host) => {
        this.hookRuns.push(`${host.name}: ${hook.command} (${env.BLUEGREEN_COLOR} ${env.BLUEGREEN_RELEASE})`);
        const ok = !this.failingHook.has(host.name);
        return { host, ok, durationMs: 1, detail: ok ? 'exit 0' : 'exit 1: migration failed' };
      }),
    release: async (hosts: Host[], release: string): Promise<HostOutcome[]> =>
      hosts.map((host) => {
        const failure = this.failingRelease.get(host.name);
        if (failure) return { host, ok: false, durationMs: 5, detail: failure, restored: true };
        this.releases.set(host.name, release);
        return { host, ok: true, durationMs: 5, detail: `release ${release} live on host` };
      }),
  };

  traffic = {
    description: 'memory balancer',
    readLive: async (): Promise<LiveTraffic> => this.live,
    moveTo: async (color: Color): Promise<string> => {
      this.moves.push(color);
      this.trafficLog.push(`${color} 100%`);
      if (!this.moveIgnored) this.live = { kind: 'color', color };
      return `traffic on ${color}`;
    },
    shiftTo: async (color: Color, percent: number): Promise<string> => {
      this.trafficLog.push(`${color} ${percent}%`);
      this.live = { kind: 'weighted', weights: { [color]: percent, [otherColor(color)]: 100 - percent } as Record<Color, number> };
      return `${percent}% on ${color}`;
    },
    previewUrl: (color: Color) => (this.previewBase ? `${this.previewBase}/${color}` : undefined),
  };

  health = {
    check: async (hosts: Host[]): Promise<HostHealth[]> =>
      hosts.map((host) => {
        const ok = !this.unhealthy.has(host.name);
        return {
          host,
          ok,
          ...(!ok && { balancerState: 'DOWN' }),
          probe: { url: host.healthUrl ?? '', ok, attempts: ok ? 1 : 3, ...(ok ? { status: 200 } : { error: 'connection refused' }) },
        };
      }),
  };

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** Inputs of a run against a MemoryWorld: provider ssh with one host per color, no probe retries. */
export function memoryWorldInputs(extra: Record<string, string> = {}): Record<string, string> {
  return {
    provider: 'ssh',
    'app-name': 'shop',
    'blue-hosts': '10.0.0.11',
    'green-hosts': '10.0.0.21',
    'health-retries': '0',
    // A checked-out app, as after actions/checkout: a deploy checks it before anything else.
    'release-path': EXAMPLE_APP_DIR,
    ...extra,
  };
}
