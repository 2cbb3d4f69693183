import { createServer, get as httpGet, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LoadBalancer } from '../src/digitalocean/client.js';
import type { DigitalOceanDouble } from './digitalocean-api.js';

interface HealthCheck {
  port: number;
  path: string;
  check_interval_seconds: number;
  response_timeout_seconds: number;
  healthy_threshold: number;
  unhealthy_threshold: number;
}

/** What the balancer knows of one attached Droplet: its address and its health-check record. */
interface Target {
  dropletId: number;
  address: string;
  healthy: boolean;
  passes: number;
  failures: number;
  timer: NodeJS.Timeout;
}

/**
 * The data plane of one load balancer of the DigitalOcean double: a real HTTP proxy on loopback that
 * forwards each request to a healthy attached Droplet (its private address, the forwarding rule's
 * target port), round robin, one backend connection per request (`enable_backend_keepalive: false`).
 *
 * It health-checks every attached Droplet in real time, as DigitalOcean does: an HTTP GET of the
 * health check's port and path every `check_interval_seconds`, first one interval after the Droplet
 * was attached. A newly attached Droplet gets no request until `healthy_threshold` checks passed in
 * a row; `unhealthy_threshold` failures in a row take it out again. A detached Droplet gets no new
 * request at once (requests already sent to it finish). With no healthy Droplet it answers 503, as
 * the real balancer does. Droplets attached when the data plane starts count as healthy: the
 * balancer has been checking them for a long time.
 *
 * It follows the double's load balancer: every accepted update (PUT) is applied when it is accepted.
 */
export class DoLbDataPlane {
  private server?: Server;
  private readonly targets = new Map<number, Target>();
  private nextTarget = 0;
  private readonly follow = () => this.reconcile(false);

  constructor(
    private readonly api: DigitalOceanDouble,
    private readonly loadBalancerId: string,
  ) {}

  /** Starts proxying on `host` (any free port); returns the balancer's public URL. */
  async start(host: string, port = 0): Promise<string> {
    this.reconcile(true);
    this.api.updateListeners.push(this.follow);
    const server = createServer((req, res) => this.forward(req, res));
    this.server = server;
    await new Promise<void>((resolve) => server.listen(port, host, resolve));
    return `http://${host}:${(server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    const listeners = this.api.updateListeners;
    if (listeners.includes(this.follow)) listeners.splice(listeners.indexOf(this.follow), 1);
    for (const target of this.targets.values()) clearInterval(target.timer);
    this.targets.clear();
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The Droplets that get requests now. */
  healthyDropletIds(): number[] {
    return [...this.targets.values()].filter((t) => t.healthy).map((t) => t.dropletId);
  }

  private get loadBalancer(): LoadBalancer {
    const lb = this.api.loadBalancers.get(this.loadBalancerId);
    if (!lb) throw new Error(`the double has no load balancer ${this.loadBalancerId}`);
    return lb;
  }

  private get healthCheck(): HealthCheck {
    return this.loadBalancer.health_check as HealthCheck;
  }

  /** Starts checking newly attached Droplets, stops checking detached ones. */
  private reconcile(initial: boolean): void {
    const attached = new Set(this.loadBalancer.droplet_ids ?? []);
    for (const [dropletId, target] of this.targets) {
      if (!attached.has(dropletId)) {
        clearInterval(target.timer);
        this.targets.delete(dropletId);
      }
    }
    for (const dropletId of attached) {
      if (this.targets.has(dropletId)) continue;
      const droplet = this.api.droplets.find((d) => d.id === dropletId);
      const address = droplet?.networks.v4.find((n) => n.type === 'private')?.ip_address;
      if (!address) continue;
      const target: Target = {
        dropletId,
        address,
        healthy: initial,
        passes: 0,
        failures: 0,
        timer: setInterval(() => void this.check(target), this.healthCheck.check_interval_seconds * 1000),
      };
      this.targets.set(dropletId, target);
    }
  }

  private async check(target: Target): Promise<void> {
    const { port, path, response_timeout_seconds: timeout, healthy_threshold, unhealthy_threshold } = this.healthCheck;
    const status = await statusOf(`http://${target.address}:${port}${path}`, timeout * 1000);
    const passed = status >= 200 && status < 400;
    if (this.targets.get(target.dropletId) !== target) return; // detached meanwhile
    if (passed) {
      target.failures = 0;
      target.passes++;
      if (target.passes >= healthy_threshold) target.healthy = true;
    } else {
      target.passes = 0;
      target.failures++;
      if (target.failures >= unhealthy_threshold) target.healthy = false;
    }
  }

  private forward(req: IncomingMessage, res: ServerResponse): void {
    const attached = new Set(this.loadBalancer.droplet_ids ?? []);
    const healthy = [...this.targets.values()].filter((t) => t.healthy && attached.has(t.dropletId));
    if (healthy.length === 0) {
      req.resume();
      res.writeHead(503, { 'content-type': 'text/html' });
      res.end('<html><body><h1>503 Service Unavailable</h1>No server is available to handle this request.</body></html>\n');
      return;
    }
    const target = healthy[this.nextTarget++ % healthy.length] as Target;
    const rule = (this.loadBalancer.forwarding_rules as { target_port: number }[])[0];
    const upstream = httpRequest(
      { host: target.address, port: rule?.target_port, method: req.method, path: req.url, headers: { ...req.headers, connection: 'close' }, agent: false },
      (answer) => {
        // The backend's `connection: close` is about that hop: the client's connection stays open.
        const { connection: _connection, 'keep-alive': _keepAlive, ...headers } = answer.headers;
        res.writeHead(answer.statusCode ?? 502, headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (res.headersSent) res.destroy();
      else {
        res.writeHead(503, { 'content-type': 'text/plain' });
        res.end('backend failed\n');
      }
    });
    req.pipe(upstream);
  }
}

/**
 * The status of one GET on a connection of its own, 0 when none came within `timeoutMs`: a pooled
 * keep-alive connection would hold one of Starman's workers between checks.
 */
function statusOf(url: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve) => {
    const request = httpGet(url, { agent: false, headers: { connection: 'close' }, timeout: timeoutMs }, (answer) => {
      answer.resume();
      answer.on('end', () => resolve(answer.statusCode ?? 0));
      answer.on('error', () => resolve(0));
    });
    request.on('timeout', () => request.destroy(new Error('timed out')));
    request.on('error', () => resolve(0));
  });
}
