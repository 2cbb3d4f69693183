import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Color } from '../src/colors.js';
import type { Mode } from '../src/settings.js';
import { mapPathFor, renderHaproxyConfig, renderLiveMap } from '../src/traffic/haproxy-config.js';
import { DigitalOceanDouble } from './digitalocean-api.js';
import { start, waitFor, type Child } from './haproxy.js';
import { APP_PORT, SshWorld, type SshHost } from './sshd.js';

/**
 * A whole blue/green world on loopback, for the end-to-end tests and the demo: two real sshd hosts
 * per color (SshWorld) that the action releases examples/app to (Carton from the offline mirror,
 * Server::Starter + Starman on each host's own address), and a real HAProxy on the runner in front
 * of them that the action manages (`haproxy-host: local`; config, map file and admin socket in this
 * world's temp dir). With `provider: digitalocean` the hosts are also Droplets of the DigitalOcean
 * API double, tagged `env:blue` / `env:green`, whose private addresses are the sshd hosts; they all
 * take one `ssh-user`, as Droplets do (SshWorld's `sharedUser`).
 */
export interface LocalWorldOptions {
  provider: 'ssh' | 'digitalocean';
  /** Hosts on <network>.<firstOctet> …: two blue hosts, then two green. */
  firstOctet: number;
  network?: string;
  /** Where HAProxy listens: live traffic on :8080, the preview route on :8081. */
  haproxyAddress: string;
  /** Where the DigitalOcean API double listens (provider digitalocean). */
  apiAddress?: string;
  appName?: string;
}

/** What answered one request: the color and release the example app reports, or `none`. */
export interface Answer {
  status: number;
  color: string;
  release: string;
  error?: string;
}

export const INITIAL_COLOR: Color = 'blue';

export class LocalWorld {
  readonly dir = mkdtempSync(join(tmpdir(), 'bgp-world-'));
  readonly configPath = join(this.dir, 'haproxy.cfg');
  readonly socketPath = join(this.dir, 'admin.sock');
  readonly publicUrl: string;
  readonly previewUrl: string;
  readonly appName: string;
  ssh?: SshWorld;
  api?: DigitalOceanDouble;
  private apiUrl = '';
  private haproxy?: Child;

  private constructor(readonly options: LocalWorldOptions) {
    this.publicUrl = `http://${options.haproxyAddress}:8080`;
    this.previewUrl = `http://${options.haproxyAddress}:8081`;
    this.appName = options.appName ?? 'shop';
  }

  /** Builds the world; on any failure, what was already started is stopped again. */
  static async start(options: LocalWorldOptions): Promise<LocalWorld> {
    const world = new LocalWorld(options);
    try {
      await world.build();
    } catch (error) {
      await world.stop();
      throw error;
    }
    return world;
  }

  private async build(): Promise<void> {
    const { provider, firstOctet, network, apiAddress } = this.options;
    this.ssh = await SshWorld.start({ firstOctet, network, hostsPerColor: { blue: 2, green: 2 }, sharedUser: provider === 'digitalocean' });
    if (provider === 'digitalocean') {
      this.api = new DigitalOceanDouble();
      this.apiUrl = await this.api.start(apiAddress ?? '127.0.0.1');
      for (const color of ['blue', 'green'] as const) {
        this.ssh.hostsOf(color).forEach((host, i) => this.api?.addDroplet(`${this.appName}-${color}-${i + 1}`, `env:${color}`, { privateIp: host.address }));
      }
    }
    await this.startHaproxy();
  }

  /**
   * HAProxy as an operator sets it up once on a load balancer, before the action's first run: in
   * master-worker mode (`haproxy -W`, as Debian's unit runs it) with an admin socket, from the
   * config the action itself renders, with no servers yet, and nothing live. The action reads the
   * live color from it, adds the servers of both colors from the inventory and reloads it.
   */
  private async startHaproxy(): Promise<void> {
    const layout = {
      configPath: this.configPath,
      socketPath: this.socketPath,
      bind: `${this.options.haproxyAddress}:8080`,
      previewBind: `${this.options.haproxyAddress}:8081`,
    };
    writeFileSync(
      this.configPath,
      renderHaproxyConfig(layout, { hosts: { blue: [], green: [] }, appPort: APP_PORT, healthPath: '/health', expectedStatus: 200 }),
    );
    writeFileSync(mapPathFor(this.configPath), renderLiveMap(undefined, INITIAL_COLOR));
    this.haproxy = start('haproxy', 'haproxy', ['-W', '-f', this.configPath], join(this.dir, 'haproxy.log'));
    // Nothing is live yet: the live frontend answers 503 once a worker runs.
    await waitFor('HAProxy', async () => existsSync(this.socketPath) && (await this.whoAnswers()).status === 503, this.haproxy);
  }

  private get world(): SshWorld {
    if (!this.ssh) throw new Error('the world is not started');
    return this.ssh;
  }

  hostsOf(color: Color): SshHost[] {
    return this.world.hostsOf(color);
  }

  /** The action's inputs for a run of `mode` in this world, as a workflow step would pass them. */
  inputs(mode: Mode, release: string, extra: Record<string, string> = {}): Record<string, string> {
    const world = this.world;
    const hosts: Record<string, string> =
      this.options.provider === 'ssh'
        ? {}
        : {
            provider: 'digitalocean',
            'blue-hosts': '',
            'green-hosts': '',
            'digitalocean-token': this.api?.token ?? '',
            'digitalocean-api-url': this.apiUrl,
            'ssh-user': world.sharedUser ?? '',
            'ssh-port': '2222',
          };
    return {
      ...world.inputs(),
      ...hosts,
      mode,
      release,
      'app-name': this.appName,
      'initial-color': INITIAL_COLOR,
      traffic: 'haproxy',
      'haproxy-host': 'local',
      'haproxy-config': this.configPath,
      'haproxy-socket': this.socketPath,
      'haproxy-bind': `${this.options.haproxyAddress}:8080`,
      'haproxy-preview-bind': `${this.options.haproxyAddress}:8081`,
      'public-url': this.publicUrl,
      'drain-timeout': '10',
      ...extra,
    };
  }

  /** Which color and release answer a GET / at `url` (the public URL unless told), on a connection of its own. */
  whoAnswers(url: string = this.publicUrl): Promise<Answer> {
    return new Promise((resolve) => {
      const request = httpGet(`${url}/`, { agent: false, timeout: 5000 }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', (error) => resolve({ status: 0, color: 'none', release: 'none', error: error.message }));
        response.on('end', () => {
          const status = response.statusCode ?? 0;
          const body = Buffer.concat(chunks).toString();
          try {
            const app = JSON.parse(body) as { color?: string; release?: string };
            resolve({ status, color: app.color ?? 'none', release: app.release ?? 'none' });
          } catch {
            resolve({ status, color: 'none', release: 'none', error: body.trim().slice(0, 200) });
          }
        });
      });
      request.on('timeout', () => request.destroy(new Error('timed out')));
      request.on('error', (error) => resolve({ status: 0, color: 'none', release: 'none', error: error.message }));
    });
  }

  /** Stops the app on every host of `color` (by its pid files): that color has no healthy host left. */
  async stopAppsOf(color: Color): Promise<void> {
    for (const host of this.hostsOf(color)) await this.world.stopAppOn(host);
  }

  /** Stops HAProxy, the API double, the hosts (apps, sshds, users) and removes every file. Safe to call twice. */
  async stop(): Promise<void> {
    await this.haproxy?.stop();
    await this.api?.stop();
    await this.ssh?.stop();
    this.haproxy = undefined;
    this.api = undefined;
    this.ssh = undefined;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** One line for a log or the demo: who served a request at the public URL. */
export function describeAnswer(url: string, answer: Answer): string {
  if (answer.status === 200) return `GET ${url}/ -> 200 from ${answer.color} (release ${answer.release})`;
  return `GET ${url}/ -> ${answer.status || 'no answer'}${answer.error ? `: ${answer.error}` : ''}`;
}
