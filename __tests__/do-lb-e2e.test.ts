import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ColorLoad, type LoadCounts } from '../bench/support/color-load.js';
import type { Color } from '../src/colors.js';
import { DigitalOceanClient } from '../src/digitalocean/client.js';
import { sleep } from '../src/retry.js';
import { errorLines, runAction } from './support/action.js';
import { DigitalOceanDouble } from '../lab/digitalocean-api.js';
import { DoLbDataPlane } from '../lab/do-lb-data-plane.js';
import { AppServer } from '../lab/haproxy.js';

// A DigitalOcean Load Balancer switch under load, end to end: the action's entry point against the
// DigitalOcean API double (every request checked against DigitalOcean's API description) whose load
// balancer has a data plane, a real proxy on loopback that health-checks the attached Droplets in
// real time and gives a newly attached one no request until it passed `healthy_threshold` checks,
// `check_interval_seconds` apart (2 checks, 1 s apart here; DigitalOcean's default is 3 and 10 s).
// The Droplets are real Starman servers running examples/app, two per color, each reporting its
// color. A steady keep-alive load through the balancer counts every failed request.
// Loopback range 127.0.31.x: balancer .1, API .2, blue Droplets .11 .12, green .21 .22.

const LB_ID = '8f2c6a31-5d1e-4b7a-9c3e-2a6f0d4b9e17';
const ADDRESSES: Record<Color, string[]> = { blue: ['127.0.31.11', '127.0.31.12'], green: ['127.0.31.21', '127.0.31.22'] };
const HEALTH_CHECK = {
  protocol: 'http',
  port: 5000,
  path: '/health',
  check_interval_seconds: 1,
  response_timeout_seconds: 1,
  healthy_threshold: 2,
  unhealthy_threshold: 3,
};

/** The detail cell of the summary's row for `phase`. */
function phaseDetail(summary: string, phase: string): string | undefined {
  const row = summary.split('</tr>').find((tr) => tr.includes(`<td>${phase}</td>`));
  return row ? [...row.matchAll(/<td>(.*?)<\/td>/g)].map((m) => m[1] as string).at(-1) : undefined;
}

describe('DigitalOcean Load Balancer switch under load, with the health-check warm-up modeled', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bgp-do-lb-'));
  const api = new DigitalOceanDouble();
  const dataPlane = new DoLbDataPlane(api, LB_ID);
  const apps: AppServer[] = [];
  const ids: Record<Color, number[]> = { blue: [], green: [] };
  let apiUrl = '';
  let publicUrl = '';

  beforeAll(async () => {
    apiUrl = await api.start('127.0.31.2');
    for (const color of ['blue', 'green'] as const) {
      for (const [i, address] of ADDRESSES[color].entries()) {
        const name = `shop-${color}-${i + 1}`;
        const app = new AppServer({ name, color, address }, join(dir, name), 2);
        apps.push(app);
        await app.start(color === 'blue' ? 'r1' : 'r2');
        ids[color].push(api.addDroplet(name, `env:${color}`, { privateIp: address }).id);
      }
    }
    api.addLoadBalancer(LB_ID, { tag: 'env:blue' }, { health_check: HEALTH_CHECK });
    publicUrl = await dataPlane.start('127.0.31.1');
  }, 60_000);

  afterAll(async () => {
    await dataPlane.stop();
    await api.stop();
    for (const app of apps) await app.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  /** Waits (bounded) until the balancer sends requests to every Droplet of `color` and no other. */
  async function servingOnly(color: Color): Promise<void> {
    for (let i = 0; i < 100; i++) {
      const healthy = dataPlane.healthyDropletIds().sort();
      if (JSON.stringify(healthy) === JSON.stringify([...ids[color]].sort())) return;
      await sleep(100);
    }
    throw new Error(`the balancer never served ${color} alone`);
  }

  /** Runs `during` under a steady keep-alive load through the balancer (4 connections); the load's counts. */
  async function underLoad(during: () => Promise<void>): Promise<LoadCounts> {
    const load = new ColorLoad(publicUrl, 4);
    try {
      await sleep(500);
      await during();
      await sleep(300);
    } catch (error) {
      // No request loop may outlive a failed test.
      await load.stop();
      throw error;
    }
    return load.stop();
  }

  const inputs = (mode: string, extra: Record<string, string> = {}) => ({
    mode,
    provider: 'digitalocean',
    'app-name': 'shop',
    traffic: 'do-lb',
    'do-load-balancer-id': LB_ID,
    'digitalocean-token': api.token,
    'digitalocean-api-url': apiUrl,
    'app-port': '5000',
    'health-retries': '2',
    'health-interval': '0.2',
    'public-url': publicUrl,
    ...extra,
  });

  const failures = (counts: LoadCounts) => ({ failed: counts.failed, connectionErrors: counts.connectionErrors, serverErrors: counts.serverErrors });

  it('shows the gap: retargeting the balancer in one step (as the switch did before) answers 503 while the new Droplets warm up', async () => {
    const client = new DigitalOceanClient(apiUrl, api.token);
    const counts = await underLoad(async () => {
      await client.pointLoadBalancer(LB_ID, { tag: 'env:green' });
      await servingOnly('green');
    });
    // Blue left at once; green got nothing until it passed its checks: the balancer had no one to send to.
    expect(counts.serverErrors).toBeGreaterThan(0);
    expect(counts.connectionErrors).toBe(0);
    expect(counts.byColor.blue).toBeGreaterThan(0);
    expect(counts.byColor.green).toBeGreaterThan(0);

    // Back to blue for the next tests, with no load running.
    await client.pointLoadBalancer(LB_ID, { tag: 'env:blue' });
    await client.activeLoadBalancer(LB_ID);
    await servingOnly('blue');
    expect(api.violations).toEqual([]);
  }, 60_000);

  it('switches to green and rolls back to blue under load with zero failed requests; the summary says how long both colors overlapped', async () => {
    const counts = await underLoad(async () => {
      const switched = await runAction(inputs('switch'));
      expect(errorLines(switched.log)).toEqual([]);
      expect(switched.outputs).toMatchObject({ 'previous-color': 'blue', 'live-color': 'green', result: 'success' });
      expect(phaseDetail(switched.summary, 'Move traffic')).toMatch(
        /^load balancer shop-lb points at tag env:green; green warmed up beside blue for 3 s \(\(2 \+ 1\) × 1 s\), both colors attached for \d+\.\d s$/,
      );
      expect(api.loadBalancers.get(LB_ID)).toMatchObject({ tag: 'env:green', droplet_ids: ids.green });
      await servingOnly('green');

      const rolledBack = await runAction(inputs('rollback'));
      expect(errorLines(rolledBack.log)).toEqual([]);
      expect(rolledBack.outputs).toMatchObject({ 'previous-color': 'green', 'live-color': 'blue', result: 'success' });
      expect(phaseDetail(rolledBack.summary, 'Move traffic')).toMatch(
        /^load balancer shop-lb points at tag env:blue; blue warmed up beside green for 3 s \(\(2 \+ 1\) × 1 s\), both colors attached for \d+\.\d s$/,
      );
      await servingOnly('blue');
    });

    expect(failures(counts)).toEqual({ failed: 0, connectionErrors: 0, serverErrors: 0 });
    // The load ran across both moves: both colors answered it.
    expect(counts.byColor.blue).toBeGreaterThan(0);
    expect(counts.byColor.green).toBeGreaterThan(0);
    expect(api.violations).toEqual([]);
  }, 120_000);

  it('moves traffic back to blue by itself after a failed validation on green, under load with zero failed requests', async () => {
    const counts = await underLoad(async () => {
      // Green serves `/` but the validation path is one it answers 404 for.
      const run = await runAction(inputs('switch', { 'validation-path': '/checkout', 'validation-requests': '5' }));
      expect(run.failed).toBe(true);
      expect(errorLines(run.log).at(-1)).toMatch(
        /^::error::Validation failed: .*\/checkout: .*404.*\. Traffic was moved back to blue \d+ ms after the failed check\.$/,
      );
      expect(run.outputs).toMatchObject({ 'live-color': 'blue', result: 'failure' });
      // The move back overlapped the colors too, and said so in the log.
      expect(run.log).toMatch(
        /load balancer shop-lb points at tag env:blue; blue warmed up beside green for 3 s \(\(2 \+ 1\) × 1 s\), both colors attached for \d+\.\d s/,
      );
      expect(api.loadBalancers.get(LB_ID)).toMatchObject({ tag: 'env:blue', droplet_ids: ids.blue });
      await servingOnly('blue');
    });

    expect(failures(counts)).toEqual({ failed: 0, connectionErrors: 0, serverErrors: 0 });
    expect(counts.byColor.green).toBeGreaterThan(0);
    expect(api.violations).toEqual([]);
  }, 120_000);
});
