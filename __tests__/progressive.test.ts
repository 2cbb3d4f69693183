import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Color } from '../src/colors.js';
import { MemoryWorld, memoryWorldInputs } from '../lab/memory-provider.js';
import { errorLines, runAction } from './support/action.js';

const SHA = '0123456789abcdef0123456789abcdef01234567';
const inputs = (extra: Record<string, string> = {}) => memoryWorldInputs({ mode: 'switch', ...extra });

/**
 * The public entry point of a memory world, on loopback: each request goes to the color the world's
 * traffic gives it (in proportion to the weights, deterministically), and a broken green answers
 * 500 to half of its requests.
 */
let world: MemoryWorld;
let greenBroken = false;
const served: Record<Color, number> = { blue: 0, green: 0 };
let failedOutsideGreen = 0;
let server: Server;
let publicUrl: string;
let counter = 0;
function colorFor(): Color {
  const live = world.live;
  if (live.kind === 'color') return live.color;
  if (live.kind === 'weighted') return counter++ % 100 < live.weights.green ? 'green' : 'blue';
  return 'blue';
}
beforeAll(async () => {
  server = createServer((_req, res) => {
    const color = colorFor();
    served[color]++;
    const fail = color === 'green' && greenBroken && served.green % 2 === 0;
    res.statusCode = fail ? 500 : 200;
    if (res.statusCode !== 200 && color !== 'green') failedOutsideGreen++;
    res.end(color);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  publicUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

const fresh = (): MemoryWorld => {
  world = new MemoryWorld();
  greenBroken = false;
  counter = 0;
  served.blue = served.green = 0;
  return world;
};

describe('progressive switch', () => {
  it('goes through every step, each a phase validated during its pause, and ends with the new color live', async () => {
    fresh();
    const result = await runAction(inputs({ 'public-url': publicUrl, 'traffic-steps': '10,50,100', 'step-pause': '0.2', 'validation-requests': '10' }), world);
    expect(result.failed).toBe(false);
    expect(world.trafficLog).toEqual(['green 10%', 'green 50%', 'green 100%']);
    expect(world.live).toEqual({ kind: 'color', color: 'green' });
    for (const step of ['Shift 10% of traffic (green)', 'Shift 50% of traffic (green)', 'Move traffic (green)', 'Validate after the move (green)']) {
      expect(result.log.replaceAll('%25', '%')).toContain(`::group::${step}\n`);
    }
    expect(result.summary).toMatch(
      /<td>Shift 10% of traffic<\/td><td>green<\/td><td>memory balancer<\/td><td>✅ ok<\/td><td>[^<]+<\/td><td>10% on green; \d+ validation round\(s\) passed, last: 10\/10 ok, p95 \d+ ms<\/td>/,
    );
    expect(served.green).toBeGreaterThan(0);
    expect(result.outputs).toMatchObject({ 'live-color': 'green', 'previous-color': 'blue', result: 'success' });
  });

  it('catches a green that fails a share of its requests at the first step and moves all traffic back to blue', async () => {
    fresh();
    greenBroken = true;
    failedOutsideGreen = 0;
    const result = await runAction(
      inputs({ 'public-url': publicUrl, 'traffic-steps': '20,100', 'step-pause': '5', 'validation-requests': '40', 'validation-success-percent': '99' }),
      world,
    );
    expect(result.failed).toBe(true);
    expect(world.trafficLog).toEqual(['green 20%', 'blue 100%']);
    expect(world.live).toEqual({ kind: 'color', color: 'blue' });
    expect(failedOutsideGreen).toBe(0);
    const errors = errorLines(result.log);
    expect(errors).toContainEqual(
      expect.stringMatching(
        /^::error title=Validation failed on green::http:\/\/127\.0\.0\.1:\d+\/health: 3\d of 40 requests succeeded \(\d+\.\d%, at least 99\.0% needed; most failures: answered 500, expected 200\)$/,
      ),
    );
    expect(errors.at(-1)).toMatch(/^::error::Validation failed: .* Traffic was moved back to blue \d+ ms after the failed check\.$/);
    expect(result.summary).toMatch(/<td>Shift 20% of traffic<\/td><td>green<\/td><td>memory balancer<\/td><td>❌ failed<\/td>/);
    expect(result.summary).toContain('<td>Move traffic</td><td>green</td><td>memory balancer</td><td>⏭️ not run</td>');
    expect(result.outputs).toMatchObject({ 'live-color': 'blue', result: 'failure' });
  });

  it('moves all at once, and says so, on a balancer without weights', async () => {
    fresh();
    const unweighted = world as unknown as { traffic: Partial<MemoryWorld['traffic']> };
    delete unweighted.traffic.shiftTo;
    const result = await runAction(inputs({ 'public-url': publicUrl, 'traffic-steps': '10,50,100' }), world);
    expect(result.failed).toBe(false);
    expect(world.trafficLog).toEqual(['green 100%']);
    expect(result.summary).toContain('traffic on green (all at once: memory balancer has no weights, so traffic-steps were not applied)');
  });

  it('rolls back when an alarm fires during validation, and records the automatic rollback', async () => {
    fresh();
    let firing: string[] = [];
    world.alarms = { firing: async () => firing };
    const shift = world.traffic.shiftTo;
    world.traffic.shiftTo = async (color, percent) => {
      firing = ['alarm shop-5xx is ALARM: Threshold Crossed: 12 5xx in 1 minute'];
      return shift(color, percent);
    };
    const result = await runAction(inputs({ 'public-url': publicUrl, 'traffic-steps': '10,100', 'step-pause': '1' }), world);
    expect(result.failed).toBe(true);
    expect(world.live).toEqual({ kind: 'color', color: 'blue' });
    expect(errorLines(result.log).at(-1)).toMatch(
      /^::error::Validation failed: alarm shop-5xx is ALARM: Threshold Crossed: 12 5xx in 1 minute\. Traffic was moved back to blue \d+ ms after the failed check\.$/,
    );
  });

  it('finishes a progressive switch that stopped halfway, or undoes it, and refuses to deploy meanwhile', async () => {
    fresh();
    world.live = { kind: 'weighted', weights: { blue: 90, green: 10 } };
    const resumed = await runAction(inputs({ 'public-url': publicUrl, 'traffic-steps': '10,50,100', 'step-pause': '0' }), world);
    expect(resumed.failed).toBe(false);
    expect(world.trafficLog).toEqual(['green 50%', 'green 100%']);
    expect(resumed.summary).toContain('green already had 10% when this run started (a progressive switch stopped halfway): step passed');
    expect(resumed.outputs).toMatchObject({ 'live-color': 'green', 'target-color': 'green' });

    fresh();
    world.live = { kind: 'weighted', weights: { blue: 90, green: 10 } };
    const deploy = await runAction(inputs({ mode: 'deploy' }), world);
    expect(errorLines(deploy.log).at(-1)).toBe(
      '::error::Traffic is split (blue 90%, green 10%): a progressive switch stopped halfway, so both colors serve requests and neither is idle to deploy to. Run mode: switch to finish it or mode: rollback to undo it, then deploy.',
    );
    const undone = await runAction(inputs({ mode: 'rollback', 'public-url': publicUrl }), world);
    expect(undone.failed).toBe(false);
    expect(world.trafficLog).toEqual(['blue 100%']);
  });

  it('moves traffic back when a check cannot run at all, rather than leaving it split', async () => {
    fresh();
    world.alarms = {
      firing: async () => {
        throw new Error(
          "CloudWatch has no alarm named shop-5XX-typo in this region. Input 'cloudwatch-alarms': check the names (they are case-sensitive) and aws-region.",
        );
      },
    };
    const result = await runAction(inputs({ 'public-url': publicUrl, 'traffic-steps': '10,100', 'step-pause': '1' }), world);
    expect(result.failed).toBe(true);
    expect(world.trafficLog).toEqual(['green 10%', 'blue 100%']);
    expect(errorLines(result.log).at(-1)).toMatch(
      /^::error::Validation failed: validation could not run: CloudWatch has no alarm named shop-5XX-typo .* Traffic was moved back to blue \d+ ms after the failed check\.$/,
    );
  });

  it('moves a rollback all at once, whatever the steps', async () => {
    fresh();
    world.live = { kind: 'color', color: 'green' };
    const result = await runAction(inputs({ mode: 'rollback', 'public-url': publicUrl, 'traffic-steps': '10,50,100' }), world);
    expect(result.failed).toBe(false);
    expect(world.trafficLog).toEqual(['blue 100%']);
  });
});

describe('hooks', () => {
  it('runs a runner hook before the switch with the run in its environment, and a host hook after it on each new host', async () => {
    fresh();
    const dir = mkdtempSync(join(tmpdir(), 'bgp-hooks-'));
    try {
      const out = join(dir, 'migrate.log');
      const result = await runAction(
        inputs({
          'before-switch': `runner: echo "expand $BLUEGREEN_APP $BLUEGREEN_COLOR $BLUEGREEN_LIVE_COLOR $BLUEGREEN_RELEASE" > '${out}'`,
          'after-switch': 'hosts: carton exec script/migrate contract',
        }),
        world,
      );
      expect(result.failed).toBe(false);
      expect(readFileSync(out, 'utf8')).toBe(`expand shop green blue ${SHA}\n`);
      expect(world.hookRuns).toEqual([
        `green-1: carton exec script/migrate contract (green ${SHA})`,
        `green-2: carton exec script/migrate contract (green ${SHA})`,
      ]);
      expect(result.log).toContain('::group::Hook before-switch (green)\n');
      expect(result.log).toContain('::group::Hook after-switch (green)\n');
      expect(result.log.indexOf('::group::Hook before-switch')).toBeLessThan(result.log.indexOf('::group::Move traffic'));
      expect(result.log.indexOf('::group::Hook after-switch')).toBeGreaterThan(result.log.indexOf('::group::Validate after the move'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails the run before traffic moves when the before-switch hook fails', async () => {
    fresh();
    const result = await runAction(inputs({ 'before-switch': 'echo "migration: table locked" >&2; exit 3' }), world);
    expect(result.failed).toBe(true);
    expect(world.moves).toEqual([]);
    expect(errorLines(result.log).at(-1)).toBe(
      '::error::The before-switch hook failed on the runner (exit 3): migration: table locked. Live traffic is untouched (blue).',
    );
  });

  it('fails a deploy on the host whose before-release hook fails, before releasing anything', async () => {
    fresh();
    world.failingHook.add('green-2');
    const result = await runAction(inputs({ mode: 'deploy', 'before-release': 'hosts: ./bin/stop-cron' }), world);
    expect(result.failed).toBe(true);
    expect(world.releases.get('green-1')).toBe('r0');
    expect(errorLines(result.log).at(-1)).toBe(
      '::error::The before-release hook failed on 1 of 2 host(s): green-2: exit 1: migration failed. Live traffic is untouched (blue).',
    );
  });
});

describe('progressive and hook inputs', () => {
  it.each([
    [
      { 'traffic-steps': '50,10,100', 'public-url': 'http://127.0.0.1:1' },
      "::error::Input 'traffic-steps': '50,10,100' is not a list of increasing percentages ending at 100. Use for example `10,50,100`, or `100` to move all traffic at once",
    ],
    [
      { 'traffic-steps': '10,50' },
      "::error::Input 'traffic-steps': '10,50' is not a list of increasing percentages ending at 100. Use for example `10,50,100`, or `100` to move all traffic at once",
    ],
    [
      { 'traffic-steps': '10,100' },
      "::error::Input 'traffic-steps': '10,100' moves traffic in steps, but nothing would validate them. Set public-url (and on AWS optionally cloudwatch-alarms), or use `traffic-steps: 100`",
    ],
    [
      { 'cloudwatch-alarms': 'shop-5xx' },
      "::error::Input 'cloudwatch-alarms': lists CloudWatch alarms, which provider ssh cannot read. Remove cloudwatch-alarms, or use provider aws",
    ],
    [
      { 'validation-success-percent': '120' },
      "::error::Input 'validation-success-percent': '120' is not a percentage from 0 to 100. Set validation-success-percent to a number such as 99",
    ],
    [{ 'after-switch': 'hosts:' }, "::error::Input 'after-switch': 'hosts:' has no command after 'hosts:'. Write `runner: <command>` or `hosts: <command>`"],
  ])('rejects %p with one line naming the input, touching nothing', async (extra, error) => {
    fresh();
    const result = await runAction(inputs(extra), world);
    expect(result.failed).toBe(true);
    expect(world.trafficLog).toEqual([]);
    expect(errorLines(result.log)).toEqual([error]);
  });
});
