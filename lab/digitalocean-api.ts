import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { Droplet, LoadBalancer } from '../src/digitalocean/client.js';
import { JsonDoubleServer, sendJson, type JsonRequest } from './json-double.js';
import { OpenApiContract } from './openapi.js';

/** The part of DigitalOcean's own description we use, kept in the repository by `npm run contracts`. */
const specPath = fileURLToPath(new URL('../contracts/digitalocean/openapi.json', import.meta.url));
let contract: OpenApiContract | undefined;
/** DigitalOcean's own API description: every request the double gets is checked against it. */
export function digitalOceanContract(): OpenApiContract {
  contract ??= new OpenApiContract(JSON.parse(readFileSync(specPath, 'utf8')) as Record<string, unknown>);
  return contract;
}

/** Where the real API lives: its pagination links name it, even when reached through a proxy. */
const PUBLIC_API = 'https://api.digitalocean.com';

/**
 * A stateful stand-in for the DigitalOcean API on loopback: Droplets with tags and addresses, load
 * balancers that take a moment to become active after an update, rate limits on demand, and a
 * token check. Requests that break the official description are refused (422 or 400) and recorded
 * in `violations`, which every test expects to stay empty.
 */
export class DigitalOceanDouble {
  readonly token = 'dop_v1_test_token_0123456789abcdef';
  readonly droplets: Droplet[] = [];
  readonly loadBalancers = new Map<string, LoadBalancer>();
  readonly violations: string[] = [];
  readonly requests: { method: string; url: string; body?: unknown }[] = [];
  /** Answer the next N requests with 429 and this Retry-After (seconds). */
  rateLimited = { remaining: 0, retryAfterSeconds: 1 };
  /** Answer the first request that `matches` accepts with 429 and this Retry-After, once. */
  rateLimitOnce?: { matches: (request: { method: string; url: string }) => boolean; retryAfterSeconds: number };
  /** Answer the next N requests with 503. */
  failing = 0;
  /** GETs a load balancer answers `new` for after an update, before `active`. */
  settleAfterReads = 1;
  /** And how long, at least, it stays `new` after an update. */
  settleAfterMs = 0;
  /** Load balancers still applying an update: reads left and the time they become `active` again. */
  private pending = new Map<string, { reads: number; until: number }>();
  /** Someone else's update lands just before each of the next N PUTs: they find the balancer busy. */
  concurrentUpdates = 0;
  /** Updates refused because the balancer was busy: a client that waits for `active` first sees few. */
  busyRefusals = 0;
  /** Called after every accepted update of a load balancer (the data plane follows its targets). */
  readonly updateListeners: ((lb: LoadBalancer) => void)[] = [];
  private readonly http = new JsonDoubleServer(
    (request, res) => this.handle(request, res),
    { badJson: { id: 'bad_request', message: 'invalid JSON' }, crash: { id: 'server_error', message: 'Unexpected server-side error' } },
    this.violations,
  );
  private nextId = 3_000_000;

  addDroplet(name: string, tag: string, options: { status?: Droplet['status']; privateIp?: string; publicIp?: string } = {}): Droplet {
    const droplet: Droplet = {
      id: this.nextId++,
      name,
      status: options.status ?? 'active',
      tags: [tag],
      networks: {
        v4: [
          ...(options.privateIp ? [{ ip_address: options.privateIp, type: 'private' as const }] : []),
          ...(options.publicIp ? [{ ip_address: options.publicIp, type: 'public' as const }] : []),
        ],
      },
    };
    this.droplets.push(droplet);
    return droplet;
  }

  /** A load balancer pointing at `target`; `attributes` replace the defaults (e.g. a faster health check). */
  addLoadBalancer(id: string, target: { tag: string } | { droplet_ids: number[] }, attributes: Partial<LoadBalancer> = {}): LoadBalancer {
    const lb: LoadBalancer = {
      id,
      name: 'shop-lb',
      status: 'active',
      region: { slug: 'ams3' },
      size_unit: 1,
      forwarding_rules: [{ entry_protocol: 'http', entry_port: 80, target_protocol: 'http', target_port: 5000, certificate_id: '', tls_passthrough: false }],
      // A fast health check (DigitalOcean's own default is 3 checks, 10 s apart): a switch waits for it.
      health_check: {
        protocol: 'http',
        port: 5000,
        path: '/health',
        check_interval_seconds: 1,
        response_timeout_seconds: 1,
        healthy_threshold: 1,
        unhealthy_threshold: 3,
      },
      sticky_sessions: { type: 'none' },
      redirect_http_to_https: false,
      enable_proxy_protocol: false,
      enable_backend_keepalive: false,
      http_idle_timeout_seconds: 60,
      vpc_uuid: 'c33931f2-a26a-4e61-b85c-4e95a2ec431b',
      tag: '',
      droplet_ids: [],
      ...attributes,
      ...target,
    };
    // As the API reads back a balancer that works by tag: the Droplets carrying the tag.
    if ('tag' in target) lb.droplet_ids = this.droplets.filter((d) => d.tags.includes(target.tag)).map((d) => d.id);
    this.loadBalancers.set(id, lb);
    return lb;
  }

  /**
   * The load balancer starts applying a change of its own (someone edited it in the console, a
   * certificate renewed): `new` for the next `reads` GETs and at least `ms`, refusing updates meanwhile.
   */
  makeBusy(id: string, busy: { reads?: number; ms?: number }): void {
    this.pending.set(id, { reads: busy.reads ?? 0, until: Date.now() + (busy.ms ?? 0) });
  }

  /** Whether the load balancer is still applying an update (answers `new`, refuses updates). */
  isBusy(id: string): boolean {
    const pending = this.pending.get(id);
    return pending !== undefined && (pending.reads > 0 || Date.now() < pending.until);
  }

  async start(host = '127.0.4.1'): Promise<string> {
    return this.http.start(host);
  }

  async stop(): Promise<void> {
    await this.http.stop();
  }

  private async handle({ method, url, body, headers }: JsonRequest, res: ServerResponse): Promise<void> {
    this.requests.push({ method, url: url.pathname + url.search, ...(body !== undefined && { body }) });

    const problems = digitalOceanContract().check({ method, path: url.pathname, query: url.searchParams, headers, body });
    if (problems.length > 0) {
      this.violations.push(...problems);
      return send(res, 422, { id: 'unprocessable_entity', message: problems.join('; ') });
    }
    if (headers.authorization !== `Bearer ${this.token}`) {
      return send(res, 401, { id: 'unauthorized', message: 'Unable to authenticate you' });
    }
    const once = this.rateLimitOnce;
    if (once?.matches({ method, url: url.pathname + url.search })) {
      this.rateLimitOnce = undefined;
      res.setHeader('Retry-After', String(once.retryAfterSeconds));
      return send(res, 429, { id: 'too_many_requests', message: 'API Rate limit exceeded.' });
    }
    if (this.rateLimited.remaining > 0) {
      this.rateLimited.remaining--;
      res.setHeader('Retry-After', String(this.rateLimited.retryAfterSeconds));
      return send(res, 429, { id: 'too_many_requests', message: 'API Rate limit exceeded.' });
    }
    if (this.failing > 0) {
      this.failing--;
      return send(res, 503, { id: 'service_unavailable', message: 'Service Unavailable' });
    }

    if (method === 'GET' && url.pathname === '/v2/droplets') return this.listDroplets(url, res);
    const lbMatch = /^\/v2\/load_balancers\/([^/]+)$/.exec(url.pathname);
    const lb = lbMatch ? this.loadBalancers.get(decodeURIComponent(lbMatch[1] as string)) : undefined;
    if (lbMatch && !lb) return send(res, 404, { id: 'not_found', message: 'The resource you were accessing could not be found.' });
    if (lb && method === 'GET') {
      const busy = this.isBusy(lb.id);
      const pending = this.pending.get(lb.id);
      if (pending && pending.reads > 0) pending.reads--;
      return send(res, 200, { load_balancer: { ...lb, status: busy ? 'new' : lb.status } });
    }
    if (lb && method === 'PUT') {
      if (this.concurrentUpdates > 0) {
        this.concurrentUpdates--;
        this.makeBusy(lb.id, { reads: this.settleAfterReads, ms: this.settleAfterMs });
      }
      // As DigitalOcean answers an update while the balancer still applies the previous one.
      if (this.isBusy(lb.id)) {
        this.busyRefusals++;
        return send(res, 403, { id: 'forbidden', message: "Load Balancer can't be updated while it processes previous actions" });
      }
      return this.updateLoadBalancer(lb, body as Record<string, unknown>, res);
    }
    this.violations.push(`${method} ${url.pathname}: the double does not model this call`);
    return send(res, 404, { id: 'not_found', message: 'The resource you were accessing could not be found.' });
  }

  private listDroplets(url: URL, res: ServerResponse): void {
    const tag = url.searchParams.get('tag_name');
    const perPage = Number(url.searchParams.get('per_page') ?? 20);
    const page = Number(url.searchParams.get('page') ?? 1);
    const matching = this.droplets.filter((d) => !tag || d.tags.includes(tag));
    const pages = Math.max(1, Math.ceil(matching.length / perPage));
    const link = (n: number) => `${PUBLIC_API}/v2/droplets?page=${n}&per_page=${perPage}${tag ? `&tag_name=${encodeURIComponent(tag)}` : ''}`;
    send(res, 200, {
      droplets: matching.slice((page - 1) * perPage, page * perPage),
      links: { pages: { ...(page > 1 && { first: link(1), prev: link(page - 1) }), ...(page < pages && { next: link(page + 1), last: link(pages) }) } },
      meta: { total: matching.length },
    });
  }

  private updateLoadBalancer(lb: LoadBalancer, body: Record<string, unknown>, res: ServerResponse): void {
    const unknownDroplets = ((body.droplet_ids as number[] | undefined) ?? []).filter((id) => !this.droplets.some((d) => d.id === id));
    if (unknownDroplets.length > 0) return send(res, 422, { id: 'unprocessable_entity', message: `droplet ids not found: ${unknownDroplets.join(', ')}` });
    // A PUT is a full representation: attributes it omits go back to their defaults.
    const updated: LoadBalancer = {
      id: lb.id,
      status: 'active',
      name: String(body.name ?? ''),
      region: { slug: String(body.region) },
      forwarding_rules: body.forwarding_rules as unknown[],
      health_check: body.health_check,
      sticky_sessions: body.sticky_sessions ?? { type: 'none' },
      redirect_http_to_https: body.redirect_http_to_https ?? false,
      enable_proxy_protocol: body.enable_proxy_protocol ?? false,
      enable_backend_keepalive: body.enable_backend_keepalive ?? false,
      http_idle_timeout_seconds: body.http_idle_timeout_seconds ?? 60,
      vpc_uuid: body.vpc_uuid,
      size_unit: body.size_unit ?? 1,
      tag: typeof body.tag === 'string' ? body.tag : '',
      droplet_ids:
        typeof body.tag === 'string'
          ? this.droplets.filter((d) => d.tags.includes(body.tag as string)).map((d) => d.id)
          : ((body.droplet_ids as number[]) ?? []),
    };
    this.loadBalancers.set(lb.id, updated);
    this.makeBusy(lb.id, { reads: this.settleAfterReads, ms: this.settleAfterMs });
    for (const listener of this.updateListeners) listener(updated);
    send(res, 200, { load_balancer: { ...updated, status: 'new' } });
  }
}

/** DigitalOcean sends its rate limit headers on every answer. */
function send(res: ServerResponse, status: number, body: unknown): void {
  sendJson(res, status, body, { 'ratelimit-limit': '5000' });
}
