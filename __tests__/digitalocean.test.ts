import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Cancellation } from '../src/cancellation.js';
import { DigitalOceanClient } from '../src/digitalocean/client.js';
import { UserError } from '../src/errors.js';
import { DropletTagInventory } from '../src/inventory/do-tags.js';
import { readSettings, type DigitalOceanSettings, type Settings } from '../src/settings.js';
import { DoLoadBalancerTraffic } from '../src/traffic/do-lb.js';
import { DigitalOceanDouble, digitalOceanContract } from '../lab/digitalocean-api.js';
import { errorLines, runAction, visibleLog } from './support/action.js';
import { runnerEnv, useGitHubApi } from './support/github-api.js';

const LB_ID = '4de7ac8b-495b-4884-9a69-1050c6793cd6';
const fastRetry = { retries: 3, initialDelayMs: 10, maxDelayMs: 40 };
const fastSettle = { initialDelayMs: 10, maxDelayMs: 40, timeoutMs: 300 };

function settingsFor(apiUrl: string, extra: Record<string, string> = {}) {
  const inputs: Record<string, string> = {
    mode: 'switch',
    provider: 'digitalocean',
    'app-name': 'shop',
    'digitalocean-token': 'dop_v1_test_token_0123456789abcdef',
    'digitalocean-api-url': apiUrl,
    ...extra,
  };
  return readSettings((name) => inputs[name] ?? '', { GITHUB_SHA: 'abc123' });
}

function digitalOcean(settings: Settings): DigitalOceanSettings {
  if (settings.provider.name !== 'digitalocean') throw new Error('not a digitalocean setting');
  return settings.provider;
}

describe('the DigitalOcean contract', () => {
  const contract = digitalOceanContract();
  const auth = { authorization: 'Bearer dop_v1_x' };

  it('accepts a Droplet listing by tag with 200 per page', () => {
    expect(contract.check({ method: 'GET', path: '/v2/droplets', query: new URLSearchParams('tag_name=env:blue&per_page=200'), headers: auth })).toEqual([]);
  });

  it('refuses per_page above 200, a missing token, and an unknown query parameter', () => {
    expect(contract.check({ method: 'GET', path: '/v2/droplets', query: new URLSearchParams('per_page=201'), headers: auth })).toEqual([
      'GET /v2/droplets: query parameter per_page=201 must be <= 200',
    ]);
    expect(contract.check({ method: 'GET', path: '/v2/droplets', query: new URLSearchParams(), headers: {} })).toEqual([
      'GET /v2/droplets: missing or malformed Authorization header',
    ]);
    expect(contract.check({ method: 'GET', path: '/v2/droplets', query: new URLSearchParams('tag=env:blue'), headers: auth })).toEqual([
      'GET /v2/droplets: unknown query parameter tag',
    ]);
  });

  it('refuses a load balancer update without forwarding rules, or with both a tag and Droplet ids', () => {
    const path = `/v2/load_balancers/${LB_ID}`;
    const rules = [{ entry_protocol: 'http', entry_port: 80, target_protocol: 'http', target_port: 5000 }];
    expect(
      contract.check({
        method: 'PUT',
        path,
        query: new URLSearchParams(),
        headers: auth,
        body: { name: 'lb', region: 'ams3', tag: 'env:green', forwarding_rules: rules },
      }),
    ).toEqual([]);
    expect(
      contract.check({ method: 'PUT', path, query: new URLSearchParams(), headers: auth, body: { name: 'lb', region: 'ams3', tag: 'env:green' } }).join(),
    ).toMatch(/forwarding_rules/);
    expect(
      contract
        .check({
          method: 'PUT',
          path,
          query: new URLSearchParams(),
          headers: auth,
          body: { name: 'lb', region: 'ams3', tag: 'env:green', droplet_ids: [1], forwarding_rules: rules },
        })
        .join(),
    ).toMatch(/must match exactly one schema in oneOf/);
  });
});

describe('DigitalOcean inventory and load balancer, against the double', () => {
  let api: DigitalOceanDouble;
  let apiUrl: string;

  beforeAll(async () => {
    api = new DigitalOceanDouble();
    apiUrl = await api.start();
  });
  afterEach(() => {
    expect(api.violations).toEqual([]);
    api.violations.length = 0;
    api.requests.length = 0;
    api.droplets.length = 0;
  });
  afterAll(async () => {
    await api.stop();
  });

  const client = () => new DigitalOceanClient(apiUrl, api.token, { retry: fastRetry, settle: fastSettle });

  function doLbTraffic(): DoLoadBalancerTraffic {
    const settings = settingsFor(apiUrl, { traffic: 'do-lb', 'do-load-balancer-id': LB_ID, 'health-interval': '0.01' });
    const inventory = new DropletTagInventory(client(), digitalOcean(settings), settings);
    return new DoLoadBalancerTraffic(client(), { ...digitalOcean(settings), loadBalancerId: LB_ID }, inventory, settings.health);
  }

  it('pages through 260 Droplets of a color with at most 200 a page, following links.pages.next', async () => {
    for (let i = 1; i <= 260; i++) api.addDroplet(`green-${i}`, 'env:green', { privateIp: `10.1.${Math.floor(i / 250)}.${i % 250}` });
    api.addDroplet('blue-1', 'env:blue', { privateIp: '10.0.0.1' });
    const settings = settingsFor(apiUrl);
    const inventory = new DropletTagInventory(client(), digitalOcean(settings), settings);
    const hosts = await inventory.hostsOf('green');
    expect(hosts).toHaveLength(260);
    expect(new Set(hosts.map((h) => h.name)).size).toBe(260);
    expect(hosts[0]).toMatchObject({ name: 'green-1', color: 'green', address: '10.1.0.1', healthUrl: 'http://10.1.0.1:5000/health' });
    expect(api.requests.map((r) => r.url)).toEqual(['/v2/droplets?tag_name=env%3Agreen&per_page=200', '/v2/droplets?page=2&per_page=200&tag_name=env%3Agreen']);
  });

  it('waits out a 429 with Retry-After and then succeeds', async () => {
    api.addDroplet('blue-1', 'env:blue', { privateIp: '10.0.0.1' });
    api.rateLimited = { remaining: 1, retryAfterSeconds: 1 };
    const started = Date.now();
    const droplets = await client().dropletsByTag('env:blue');
    expect(droplets.map((d) => d.name)).toEqual(['blue-1']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(api.requests).toHaveLength(2);
  });

  it('retries 5xx answers with backoff', async () => {
    api.addDroplet('blue-1', 'env:blue', { privateIp: '10.0.0.1' });
    api.failing = 2;
    expect((await client().dropletsByTag('env:blue')).map((d) => d.name)).toEqual(['blue-1']);
    expect(api.requests).toHaveLength(3);
  });

  it('names the token input when the token is refused', async () => {
    const refused = new DigitalOceanClient(apiUrl, 'dop_v1_wrong', { retry: fastRetry });
    await expect(refused.dropletsByTag('env:blue')).rejects.toThrow(
      new UserError(
        "DigitalOcean refused the token while listing Droplets tagged env:blue (401 unauthorized: Unable to authenticate you). Input 'digitalocean-token': pass a valid API token from a secret.",
      ),
    );
  });

  it('skips Droplets that are not active with a warning, and fails when none is left', async () => {
    api.addDroplet('blue-1', 'env:blue', { privateIp: '10.0.0.1' });
    api.addDroplet('blue-2', 'env:blue', { privateIp: '10.0.0.2', status: 'off' });
    const settings = settingsFor(apiUrl);
    const inventory = new DropletTagInventory(client(), digitalOcean(settings), settings);
    const printed: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (printed.push(String(chunk)), true));
    try {
      expect((await inventory.hostsOf('blue')).map((h) => h.name)).toEqual(['blue-1']);
      api.droplets[0]!.status = 'archive';
      await expect(inventory.hostsOf('blue')).rejects.toThrow('None of the 2 Droplet(s) tagged env:blue (blue) is active.');
    } finally {
      spy.mockRestore();
    }
    expect(printed.join('')).toContain('::warning::Droplet blue-2 (');
  });

  it('uses public addresses when asked, and names the input when a Droplet lacks one', async () => {
    api.addDroplet('blue-1', 'env:blue', { privateIp: '10.0.0.1', publicIp: '203.0.113.7' });
    api.addDroplet('blue-2', 'env:blue', { privateIp: '10.0.0.2' });
    const settings = settingsFor(apiUrl, { 'droplet-address': 'public' });
    const inventory = new DropletTagInventory(client(), digitalOcean(settings), settings);
    await expect(inventory.hostsOf('blue')).rejects.toThrow(/Droplet blue-2 \(\d+\) has no public IPv4 address\. Input 'droplet-address'/);
  });

  it('switches the load balancer to the other tag with a full, valid update body, and waits for it to settle', async () => {
    api.addDroplet('blue-1', 'env:blue', { privateIp: '10.0.0.1' });
    api.addDroplet('green-1', 'env:green', { privateIp: '10.0.1.1' });
    api.addLoadBalancer(LB_ID, { tag: 'env:blue' });
    api.settleAfterReads = 2;
    const settings = settingsFor(apiUrl, { traffic: 'do-lb', 'do-load-balancer-id': LB_ID, 'health-interval': '0.01' });
    const inventory = new DropletTagInventory(client(), digitalOcean(settings), settings);
    const traffic = new DoLoadBalancerTraffic(client(), { ...digitalOcean(settings), loadBalancerId: LB_ID }, inventory, settings.health);

    expect(await traffic.readLive()).toEqual({ kind: 'color', color: 'blue' });
    expect(await traffic.moveTo('green', [])).toMatch(
      /^load balancer shop-lb points at tag env:green; green warmed up beside blue for 2 s \(\(1 \+ 1\) × 1 s\), both colors attached for \d+\.\d s$/,
    );
    expect(await traffic.readLive()).toEqual({ kind: 'color', color: 'green' });
    const puts = api.requests.filter((r) => r.method === 'PUT');
    // First green is attached beside blue (by Droplet ids: a balancer has one tag), then blue leaves
    // as the balancer goes back to working by tag. Everything the balancer had is sent back each
    // time: DigitalOcean resets what a PUT omits.
    const full = {
      name: 'shop-lb',
      region: 'ams3',
      forwarding_rules: [{ entry_port: 80, target_port: 5000 }],
      health_check: { path: '/health' },
      vpc_uuid: 'c33931f2-a26a-4e61-b85c-4e95a2ec431b',
    };
    expect(puts.map((r) => r.body)).toMatchObject([
      { ...full, droplet_ids: api.droplets.map((d) => d.id) },
      { ...full, tag: 'env:green' },
    ]);
    expect(api.loadBalancers.get(LB_ID)?.health_check).toMatchObject({ path: '/health' });
  });

  it('switches a load balancer that works by Droplet ids to the Droplets of the other color', async () => {
    const blue = api.addDroplet('blue-1', 'env:blue', { privateIp: '10.0.0.1' });
    const green = api.addDroplet('green-1', 'env:green', { privateIp: '10.0.1.1' });
    api.addLoadBalancer(LB_ID, { droplet_ids: [blue.id] });
    const settings = settingsFor(apiUrl, { traffic: 'do-lb', 'do-load-balancer-id': LB_ID, 'health-interval': '0.01' });
    const inventory = new DropletTagInventory(client(), digitalOcean(settings), settings);
    const traffic = new DoLoadBalancerTraffic(client(), { ...digitalOcean(settings), loadBalancerId: LB_ID }, inventory, settings.health);
    expect(await traffic.readLive()).toEqual({ kind: 'color', color: 'blue' });
    await traffic.moveTo('green', []);
    expect(api.loadBalancers.get(LB_ID)?.droplet_ids).toEqual([green.id]);
    expect(await traffic.readLive()).toEqual({ kind: 'color', color: 'green' });
  });

  it('reads a load balancer with Droplets of both colors attached (a switch stopped mid-overlap) as a split by Droplet count', async () => {
    const blue = api.addDroplet('blue-1', 'env:blue', { privateIp: '10.0.0.1' });
    const green = [api.addDroplet('green-1', 'env:green', { privateIp: '10.0.1.1' }), api.addDroplet('green-2', 'env:green', { privateIp: '10.0.1.2' })];
    api.addLoadBalancer(LB_ID, { droplet_ids: [blue.id, ...green.map((d) => d.id)] });
    expect(await doLbTraffic().readLive()).toEqual({ kind: 'weighted', weights: { blue: 33, green: 67 } });
  });

  it('detaches the new color again, and fails in one line, when public-url does not answer with both colors attached', async () => {
    api.addDroplet('blue-1', 'env:blue', { privateIp: '10.0.0.1' });
    api.addDroplet('green-1', 'env:green', { privateIp: '10.0.1.1' });
    api.addLoadBalancer(LB_ID, { tag: 'env:blue' });
    const publicEntry = createServer((_req, res) => {
      res.statusCode = 503;
      res.end();
    });
    await new Promise<void>((resolve) => publicEntry.listen(0, '127.0.31.4', resolve));
    try {
      const url = `http://127.0.31.4:${(publicEntry.address() as AddressInfo).port}`;
      const settings = settingsFor(apiUrl, {
        traffic: 'do-lb',
        'do-load-balancer-id': LB_ID,
        'health-interval': '0.01',
        'health-retries': '1',
        'public-url': url,
      });
      const inventory = new DropletTagInventory(client(), digitalOcean(settings), settings);
      const traffic = new DoLoadBalancerTraffic(
        client(),
        { ...digitalOcean(settings), loadBalancerId: LB_ID },
        inventory,
        settings.health,
        settings.traffic.publicUrl,
      );
      await expect(traffic.moveTo('green', [])).rejects.toThrow(
        new UserError(
          `With the green Droplets attached beside the live ones, ${url}/health answered 503, expected 200 after 2 attempt(s); the green Droplets were detached again and traffic stays where it was. Check the load balancer's health check against the green Droplets.`,
        ),
      );
      expect(api.requests.filter((r) => r.method === 'PUT').map((r) => (r.body as { tag?: string }).tag ?? 'droplet_ids')).toEqual(['droplet_ids', 'env:blue']);
      expect(await traffic.readLive()).toEqual({ kind: 'color', color: 'blue' });
    } finally {
      await new Promise((resolve) => publicEntry.close(resolve));
    }
  });

  it('waits until a load balancer busy with an earlier update is active before it sends the switch', async () => {
    api.addDroplet('blue-1', 'env:blue', { privateIp: '10.0.0.1' });
    api.addDroplet('green-1', 'env:green', { privateIp: '10.0.1.1' });
    api.addLoadBalancer(LB_ID, { tag: 'env:blue' });
    api.busyRefusals = 0;
    const traffic = doLbTraffic();
    expect(await traffic.readLive()).toEqual({ kind: 'color', color: 'blue' });
    // Someone changed the balancer in the console: it answers `new` for three more reads.
    api.makeBusy(LB_ID, { reads: 3 });
    await traffic.moveTo('green', []);
    expect(api.loadBalancers.get(LB_ID)?.tag).toBe('env:green');
    // No update was sent while it was busy: DigitalOcean would have refused it.
    expect(api.busyRefusals).toBe(0);
  });

  it('sends the switch again when DigitalOcean refuses it as busy (an update landed between the read and the PUT)', async () => {
    api.addDroplet('blue-1', 'env:blue', { privateIp: '10.0.0.1' });
    api.addDroplet('green-1', 'env:green', { privateIp: '10.0.1.1' });
    api.addLoadBalancer(LB_ID, { tag: 'env:blue' });
    api.busyRefusals = 0;
    api.concurrentUpdates = 1;
    await doLbTraffic().moveTo('green', []);
    expect(api.busyRefusals).toBe(1);
    // The refused attach is sent again, then the detach.
    expect(api.requests.filter((r) => r.method === 'PUT').map((r) => (r.body as { tag?: string }).tag ?? 'droplet_ids')).toEqual([
      'droplet_ids',
      'droplet_ids',
      'env:green',
    ]);
    expect(api.loadBalancers.get(LB_ID)?.tag).toBe('env:green');
  });

  it('gives up with one line naming the balancer when it stays busy past the settle limit', async () => {
    api.addDroplet('blue-1', 'env:blue', { privateIp: '10.0.0.1' });
    api.addDroplet('green-1', 'env:green', { privateIp: '10.0.1.1' });
    api.addLoadBalancer(LB_ID, { tag: 'env:blue' });
    api.makeBusy(LB_ID, { ms: 60_000 });
    try {
      await expect(doLbTraffic().moveTo('green', [])).rejects.toThrow(
        new UserError(
          `Load balancer shop-lb (${LB_ID}) was still being updated (status new) after 0.3 s. Check it in the DigitalOcean console, then run again.`,
        ),
      );
      expect(api.requests.some((r) => r.method === 'PUT')).toBe(false);
      expect(api.loadBalancers.get(LB_ID)?.tag).toBe('env:blue');
    } finally {
      api.makeBusy(LB_ID, {});
    }
  });
});

describe('provider digitalocean with traffic do-lb, run as the action', () => {
  // State and the deploy lock, for the cancelled runs.
  const github = useGitHubApi('127.0.4.5');
  let api: DigitalOceanDouble;
  let apiUrl: string;
  let apps: Server[];
  let appPort: number;
  const healthy = new Map<string, boolean>();

  beforeAll(async () => {
    api = new DigitalOceanDouble();
    apiUrl = await api.start();
    // One tiny app per Droplet address on loopback, answering /health.
    apps = [];
    appPort = 0;
    for (const ip of ['127.0.4.11', '127.0.4.12', '127.0.4.21', '127.0.4.22']) {
      healthy.set(ip, true);
      const server = createServer((_req, res) => {
        res.statusCode = healthy.get(ip) ? 200 : 503;
        res.end(ip);
      });
      await new Promise<void>((resolve) => server.listen(appPort, ip, resolve));
      appPort = (server.address() as AddressInfo).port;
      apps.push(server);
    }
  });
  afterAll(async () => {
    await api.stop();
    await Promise.all(apps.map((s) => new Promise((resolve) => s.close(resolve))));
  });

  function world() {
    api.droplets.length = 0;
    api.requests.length = 0;
    api.addDroplet('shop-blue-1', 'env:blue', { privateIp: '127.0.4.11' });
    api.addDroplet('shop-blue-2', 'env:blue', { privateIp: '127.0.4.12' });
    api.addDroplet('shop-green-1', 'env:green', { privateIp: '127.0.4.21' });
    api.addDroplet('shop-green-2', 'env:green', { privateIp: '127.0.4.22' });
    api.addLoadBalancer(LB_ID, { tag: 'env:blue' });
  }

  const inputs = (mode: string) => ({
    mode,
    provider: 'digitalocean',
    'app-name': 'shop',
    traffic: 'do-lb',
    'do-load-balancer-id': LB_ID,
    'digitalocean-token': api.token,
    'digitalocean-api-url': apiUrl,
    'app-port': String(appPort),
    'health-retries': '1',
    'health-interval': '0.05',
  });

  it('switches to green and rolls back to blue, reading the live color from the load balancer', async () => {
    world();
    const switched = await runAction(inputs('switch'));
    expect(errorLines(switched.log)).toEqual([]);
    expect(switched.outputs).toMatchObject({ 'previous-color': 'blue', 'live-color': 'green', result: 'success' });
    expect(api.loadBalancers.get(LB_ID)?.tag).toBe('env:green');
    expect(switched.summary).toContain('<td>shop-green-1, shop-green-2</td>');
    expect(visibleLog(switched.log)).not.toContain(api.token);

    const rolledBack = await runAction(inputs('rollback'));
    expect(rolledBack.outputs).toMatchObject({ 'previous-color': 'green', 'live-color': 'blue', result: 'success' });
    expect(api.loadBalancers.get(LB_ID)?.tag).toBe('env:blue');
    expect(api.violations).toEqual([]);
  });

  it('refuses to switch to green while a green Droplet is unhealthy, and leaves the load balancer alone', async () => {
    world();
    healthy.set('127.0.4.22', false);
    try {
      const run = await runAction(inputs('switch'));
      expect(run.failed).toBe(true);
      expect(errorLines(run.log)).toContain(
        `::error title=Health check failed: shop-green-2 http://127.0.4.22:${appPort}/health::shop-green-2 (green) is unhealthy after 2 attempt(s): probe: answered 503, expected 200`,
      );
      expect(api.loadBalancers.get(LB_ID)?.tag).toBe('env:blue');
      expect(api.requests.some((r) => r.method === 'PUT')).toBe(false);
    } finally {
      healthy.set('127.0.4.22', true);
    }
  });

  it('switches, and moves back after a failed validation, through a load balancer that is busy with other updates each time', async () => {
    world();
    api.busyRefusals = 0;
    // The public entry point fails validation; as it answers, another update starts on the balancer
    // (a console edit, a certificate renewal), so the automatic move back meets a busy balancer too.
    const publicEntry = createServer((req, res) => {
      if (req.url === '/health') return res.end('ok');
      api.makeBusy(LB_ID, { reads: 2 });
      res.statusCode = 500;
      res.end('broken');
    });
    await new Promise<void>((resolve) => publicEntry.listen(0, '127.0.31.3', resolve));
    try {
      api.makeBusy(LB_ID, { reads: 2 });
      const run = await runAction({
        ...inputs('switch'),
        'public-url': `http://127.0.31.3:${(publicEntry.address() as AddressInfo).port}`,
        'validation-path': '/checkout',
        'validation-requests': '2',
      });
      expect(run.failed).toBe(true);
      expect(errorLines(run.log).at(-1)).toMatch(
        /^::error::Validation failed: .*answered 500.*\. Traffic was moved back to blue \d+ ms after the failed check\.$/,
      );
      expect(run.outputs).toMatchObject({ 'live-color': 'blue', result: 'failure' });
      expect(api.loadBalancers.get(LB_ID)?.tag).toBe('env:blue');
      // Each update of both moves (attach beside, then detach) was sent once, after the balancer was
      // active again: none was refused.
      expect(api.requests.filter((r) => r.method === 'PUT').map((r) => (r.body as { tag?: string }).tag ?? 'droplet_ids')).toEqual([
        'droplet_ids',
        'env:green',
        'droplet_ids',
        'env:blue',
      ]);
      expect(api.busyRefusals).toBe(0);
      expect(api.violations).toEqual([]);
    } finally {
      await new Promise((resolve) => publicEntry.close(resolve));
    }
  });

  /**
   * A switch with state and the deploy lock, cancelled (SIGINT, as the runner cancels a job) once
   * `cancelWhen` holds. The load balancer's health check is DigitalOcean's slowest (10 checks,
   * 300 s apart): a warm-up the run waited out would outlast the test, so the run ending at all
   * shows the cancel cut the wait short (no timing is asserted).
   */
  async function cancelledSwitch(cancelWhen: () => boolean, { slowHealthCheck = true } = {}) {
    world();
    if (slowHealthCheck)
      api.addLoadBalancer(
        LB_ID,
        { tag: 'env:blue' },
        { health_check: { protocol: 'http', port: 5000, path: '/health', check_interval_seconds: 300, healthy_threshold: 10 } },
      );
    const cancellation = new Cancellation();
    let cancelledAt = 0;
    const watcher = setInterval(() => {
      if (cancelledAt || !cancelWhen()) return;
      cancelledAt = performance.now();
      cancellation.cancel('SIGINT');
    }, 5);
    try {
      const run = await runAction({ ...inputs('switch'), 'github-token': 'github_pat_full' }, undefined, runnerEnv(github.url(), { GITHUB_JOB: 'switch' }), {
        cancellation,
      });
      return { run, cancelled: cancelledAt > 0 };
    } finally {
      clearInterval(watcher);
    }
  }
  const puts = () => api.requests.filter((r) => r.method === 'PUT').map((r) => (r.body as { tag?: string }).tag ?? 'droplet_ids');
  const loadBalancerGets = () => api.requests.filter((r) => r.method === 'GET' && r.url.includes('/v2/load_balancers/')).length;

  it('cancelled while green warms up beside blue: detaches green again at once, ends cancelled with blue live, and releases the lock', async () => {
    // Cancelled once the green Droplets are attached beside the blue ones and the balancer applied
    // that (it is active at its next read): the warm-up wait has begun.
    api.settleAfterReads = 0;
    const attachedAt = () => api.requests.findIndex((r) => r.method === 'PUT');
    const { run, cancelled } = await cancelledSwitch(
      () => attachedAt() >= 0 && api.requests.slice(attachedAt()).some((r) => r.method === 'GET' && r.url.includes('/v2/load_balancers/')),
    ).finally(() => (api.settleAfterReads = 1));
    expect(cancelled).toBe(true);
    expect(visibleLog(run.log)).toContain('Waiting 3300 s ((10 + 1) × 300 s) for load balancer shop-lb to health-check the green Droplets');
    expect(run.outputs).toMatchObject({ 'previous-color': 'blue', 'live-color': 'blue', result: 'cancelled' });
    expect(run.summary).toMatch(
      /<td>Move traffic<\/td>.*cancelled \(SIGINT\)[^<]*while the green Droplets warmed up; load balancer shop-lb points at tag env:blue again/s,
    );
    expect(errorLines(run.log).at(-1)).toBe(
      '::error::The job was cancelled (SIGINT): no phase started after it; live traffic is on blue. The deploy lock is released: re-run the job to go on.',
    );
    // Attached beside blue, then back on blue's tag: blue alone, as before the run.
    expect(puts()).toEqual(['droplet_ids', 'env:blue']);
    expect(api.loadBalancers.get(LB_ID)).toMatchObject({
      tag: 'env:blue',
      droplet_ids: api.droplets.filter((d) => d.tags.includes('env:blue')).map((d) => d.id),
    });
    expect(github.api.variables.has('BLUEGREEN_SHOP_LOCK')).toBe(false);
    expect(github.api.json('BLUEGREEN_SHOP')).toMatchObject({ live: 'blue' });
    expect(api.violations).toEqual([]);
  });

  it('cancelled once the update that detaches blue was sent: the move completes, and the run ends cancelled with green live', async () => {
    // The balancer's fast health check: green warms up, then the detach of blue is sent and the job is cancelled.
    const { run, cancelled } = await cancelledSwitch(() => puts().length === 2, { slowHealthCheck: false });
    expect(cancelled).toBe(true);
    expect(puts()).toEqual(['droplet_ids', 'env:green']);
    expect(run.outputs).toMatchObject({ 'previous-color': 'blue', 'live-color': 'green', result: 'cancelled' });
    expect(run.summary).toMatch(/<td>Move traffic<\/td>.*points at tag env:green; green warmed up beside blue/s);
    expect(run.summary).toMatch(/<td>Validate after the move<\/td>.*not run: cancelled \(SIGINT\)/s);
    expect(errorLines(run.log).at(-1)).toBe(
      '::error::The job was cancelled (SIGINT): no phase started after it; live traffic is on green. The deploy lock is released: re-run the job to go on.',
    );
    expect(api.loadBalancers.get(LB_ID)?.tag).toBe('env:green');
    expect(github.api.variables.has('BLUEGREEN_SHOP_LOCK')).toBe(false);
    expect(github.api.json('BLUEGREEN_SHOP')).toMatchObject({ live: 'green' });
  });

  it('cancelled while it waits for a busy load balancer to be active: ends cancelled and sends no update', async () => {
    world();
    // Someone else's update keeps the balancer busy; the job is cancelled while the switch waits for it.
    let busyFrom = 0;
    const { run, cancelled } = await cancelledSwitch(() => {
      if (!busyFrom && api.requests.some((r) => r.url.includes('tag_name=env%3Agreen'))) {
        api.makeBusy(LB_ID, { reads: 1000 });
        busyFrom = loadBalancerGets();
      }
      return busyFrom > 0 && loadBalancerGets() > busyFrom + 2;
    });
    expect(cancelled).toBe(true);
    expect(run.outputs).toMatchObject({ 'previous-color': 'blue', 'live-color': 'blue', result: 'cancelled' });
    expect(run.summary).toMatch(/<td>Move traffic<\/td>.*cancelled \(SIGINT\)/s);
    expect(puts()).toEqual([]);
    expect(api.loadBalancers.get(LB_ID)?.tag).toBe('env:blue');
    expect(github.api.variables.has('BLUEGREEN_SHOP_LOCK')).toBe(false);
    api.makeBusy(LB_ID, { reads: 0 });
  });

  it.each([
    // Cancelled before the run read where traffic is: it says so (unknown) rather than guess.
    ['reading the load balancer', (url: string) => url.startsWith('/v2/load_balancers/'), 'unknown'],
    ['listing Droplets', (url: string) => url.startsWith('/v2/droplets?tag_name='), 'blue'],
  ])('cancelled while %s waits out a rate limit: ends cancelled, nothing changed', async (_what, limited, liveColor) => {
    world();
    // The run's first such request is answered 429 with a 10-minute Retry-After: a run that waited
    // it out would outlast the test.
    api.rateLimitOnce = { matches: ({ method, url }) => method === 'GET' && limited(url), retryAfterSeconds: 600 };
    const { run, cancelled } = await cancelledSwitch(() => api.rateLimitOnce === undefined);
    expect(cancelled).toBe(true);
    expect(run.outputs).toMatchObject({ 'live-color': liveColor, result: 'cancelled' });
    expect(puts()).toEqual([]);
    expect(api.loadBalancers.get(LB_ID)?.tag).toBe('env:blue');
    expect(github.api.variables.has('BLUEGREEN_SHOP_LOCK')).toBe(false);
  });

  it('fails with one line naming the token input when the token is wrong', async () => {
    world();
    const run = await runAction({ ...inputs('switch'), 'digitalocean-token': 'dop_v1_revoked' });
    expect(errorLines(run.log).at(-1)).toBe(
      `::error::DigitalOcean refused the token while reading load balancer ${LB_ID} (401 unauthorized: Unable to authenticate you). Input 'digitalocean-token': pass a valid API token from a secret.`,
    );
    expect(visibleLog(run.log)).not.toContain('dop_v1_revoked');
  });
});
