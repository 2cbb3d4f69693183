import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MemoryWorld, memoryWorldInputs } from '../lab/memory-provider.js';
import { errorLines, runAction } from './support/action.js';

const SHA = '0123456789abcdef0123456789abcdef01234567';
const inputs = memoryWorldInputs;

const releasesOf = (world: MemoryWorld, color: 'blue' | 'green') => world.hosts[color].map((h) => world.releases.get(h.name));

let server: Server;
let publicUrl: string;
let publicStatus = 200;
beforeAll(async () => {
  // The public entry point and the preview routes of the world, on loopback.
  server = createServer((req, res) => {
    res.statusCode = req.url?.startsWith('/green/') || req.url?.startsWith('/blue/') ? 200 : publicStatus;
    res.end('shop');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  publicUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

describe('deploy', () => {
  it('releases to the idle color, proves it healthy, leaves live traffic alone, and reports it', async () => {
    const world = new MemoryWorld();
    world.previewBase = publicUrl;
    const result = await runAction(inputs({ mode: 'deploy' }), world);

    expect(result.failed).toBe(false);
    expect(releasesOf(world, 'green')).toEqual([SHA, SHA]);
    expect(releasesOf(world, 'blue')).toEqual(['r0', 'r0']);
    expect(world.moves).toEqual([]);
    expect(world.closed).toBe(true);
    expect(result.outputs).toEqual({
      'live-color': 'blue',
      'previous-color': 'blue',
      'target-color': 'green',
      release: SHA,
      'preview-url': `${publicUrl}/green`,
      result: 'success',
    });
    for (const group of ['Read live traffic', 'Find hosts (green)', 'Release (green)', 'Check health (green)', 'Check preview route (green)']) {
      expect(result.log).toContain(`::group::${group}\n`);
    }
  });

  it('writes a job summary with mode, provider, live color before and after, release, phases and next steps', async () => {
    const world = new MemoryWorld();
    world.previewBase = publicUrl;
    const { summary } = await runAction(inputs({ mode: 'deploy' }), world);
    expect(summary).toContain('<h2>bluegreen-perl deploy of shop: ✅ succeeded</h2>');
    expect(summary).toContain('<tr><td>deploy</td><td>ssh</td><td>memory balancer</td><td><code>0123456789abcdef0123456789abcdef01234567</code></td></tr>');
    expect(summary).toContain('<tr><th>Live before</th><th>Target</th><th>Live after</th></tr><tr><td>blue</td><td>green</td><td>blue</td></tr>');
    expect(summary).toContain('<tr><th>Phase</th><th>Color</th><th>Hosts</th><th>Result</th><th>Time</th><th>Detail</th></tr>');
    expect(summary).toMatch(
      /<tr><td>Release<\/td><td>green<\/td><td>green-1, green-2<\/td><td>✅ ok<\/td><td>\d+ ms<\/td><td>release 0123456789abcdef0123456789abcdef01234567 on 2 host\(s\)<\/td><\/tr>/,
    );
    expect(summary).toContain('Approve the switch job (<code>mode: switch</code>) to send traffic to green.');
    expect(summary).toContain(`Preview it at ${publicUrl}/green.`);
    expect(summary).toMatch(
      /<td>Check preview route<\/td><td>green<\/td><td>memory balancer<\/td><td>✅ ok<\/td><td>\d+ ms<\/td><td>http:\/\/127\.0\.0\.1:\d+\/green\/health answered 200<\/td>/,
    );
  });

  it('fails when a host fails its release: names host and step, leaves traffic, reports later phases not run', async () => {
    const world = new MemoryWorld();
    world.failingRelease.set('green-2', 'step install: carton install exited 1');
    const result = await runAction(inputs({ mode: 'deploy' }), world);

    expect(result.failed).toBe(true);
    expect(world.moves).toEqual([]);
    const [failure] = errorLines(result.log);
    expect(failure).toBe(
      `::error::Release ${SHA} failed on 1 of 2 green host(s): green-2: step install: carton install exited 1 (restored to its previous release). Live traffic is untouched (blue).`,
    );
    expect(result.outputs).toMatchObject({ 'live-color': 'blue', 'target-color': 'green', result: 'failure', release: SHA });
    expect(result.summary).toContain('❌ failed');
    expect(result.summary).toMatch(
      /<td>Check health<\/td><td>green<\/td><td>green-1, green-2<\/td><td>⏭️ not run<\/td><td>—<\/td><td>not run: Release failed<\/td>/,
    );
    expect(result.summary).toContain('Live traffic is on blue (unchanged).');
  });

  it('refuses to deploy while traffic is split between colors', async () => {
    const world = new MemoryWorld();
    world.live = { kind: 'weighted', weights: { blue: 90, green: 10 } };
    const result = await runAction(inputs({ mode: 'deploy' }), world);
    expect(result.failed).toBe(true);
    expect(errorLines(result.log)[0]).toMatch(/Traffic is split \(blue 90%, green 10%\).*mode: switch to finish it or mode: rollback to undo it/);
    expect(releasesOf(world, 'green')).toEqual(['r0', 'r0']);
  });

  it('sends the first release to the initial color when nothing is live yet', async () => {
    const world = new MemoryWorld();
    world.live = { kind: 'none' };
    const result = await runAction(inputs({ mode: 'deploy', 'initial-color': 'green' }), world);
    expect(result.outputs['target-color']).toBe('green');
    expect(result.outputs['previous-color']).toBe('none');
    expect(releasesOf(world, 'green')).toEqual([SHA, SHA]);
  });
});

describe('switch', () => {
  it('moves traffic to the healthy idle color and validates it through the public URL', async () => {
    publicStatus = 200;
    const world = new MemoryWorld();
    const result = await runAction(inputs({ mode: 'switch', 'public-url': publicUrl }), world);
    expect(result.failed).toBe(false);
    expect(world.live).toEqual({ kind: 'color', color: 'green' });
    expect(result.outputs).toMatchObject({ 'live-color': 'green', 'previous-color': 'blue', 'target-color': 'green', result: 'success' });
    expect(result.summary).toContain('<tr><td>blue</td><td>green</td><td>green</td></tr>');
    expect(result.summary).toContain('run the workflow with <code>mode: rollback</code> to send traffic back to blue');
  });

  it('refuses a color with an unhealthy host: no move, an annotation naming host and URL', async () => {
    const world = new MemoryWorld();
    world.unhealthy.add('green-2');
    const result = await runAction(inputs({ mode: 'switch' }), world);
    expect(result.failed).toBe(true);
    expect(world.moves).toEqual([]);
    const errors = errorLines(result.log);
    expect(errors).toContain(
      '::error title=Health check failed: green-2 http://green-2.internal:5000/health::green-2 (green) is unhealthy after 3 attempt(s): load balancer: DOWN; probe: connection refused',
    );
    expect(errors.at(-1)).toBe(
      '::error::Refusing to switch to green: 1 of 2 green host(s) healthy, 2 needed. Unhealthy: green-2 (balancer: DOWN; probe: connection refused).',
    );
    expect(result.outputs).toMatchObject({ 'live-color': 'blue', result: 'failure' });
  });

  it('switches with some hosts unhealthy when min-healthy-hosts allows it', async () => {
    const world = new MemoryWorld();
    world.unhealthy.add('green-2');
    const result = await runAction(inputs({ mode: 'switch', 'min-healthy-hosts': '1' }), world);
    expect(result.failed).toBe(false);
    expect(world.live).toEqual({ kind: 'color', color: 'green' });
  });

  it('moves traffic back by itself when validation after the move fails', async () => {
    publicStatus = 503;
    const world = new MemoryWorld();
    const result = await runAction(inputs({ mode: 'switch', 'public-url': publicUrl, 'health-retries': '1', 'health-interval': '0' }), world);
    expect(result.failed).toBe(true);
    expect(world.moves).toEqual(['green', 'blue']);
    expect(world.live).toEqual({ kind: 'color', color: 'blue' });
    expect(errorLines(result.log).at(-1)).toEqual(
      expect.stringMatching(
        new RegExp(
          `^::error::Validation failed: ${publicUrl}/health: 0 of 20 requests succeeded \\(0\\.0%, at least 99\\.0% needed; most failures: answered 503, expected 200\\)\\. Traffic was moved back to blue \\d+ ms after the failed check\\.$`,
        ),
      ),
    );
    expect(result.outputs).toMatchObject({ 'live-color': 'blue', 'target-color': 'green', result: 'failure' });
    expect(result.summary).toContain('Traffic is back on blue. Look at green before switching again.');
  });

  it('fails and moves back when the balancer does not report the new color after the move', async () => {
    const world = new MemoryWorld();
    world.moveIgnored = true;
    const result = await runAction(inputs({ mode: 'switch' }), world);
    expect(result.failed).toBe(true);
    expect(errorLines(result.log).at(-1)).toMatch(
      /^::error::Validation failed: the load balancer reports blue live, not green\. Traffic was moved back to blue \d+ ms after the failed check\.$/,
    );
  });
});

describe('rollback', () => {
  it('sends traffic back to the previous color', async () => {
    const world = new MemoryWorld();
    world.live = { kind: 'color', color: 'green' };
    const result = await runAction(inputs({ mode: 'rollback' }), world);
    expect(result.failed).toBe(false);
    expect(world.live).toEqual({ kind: 'color', color: 'blue' });
    expect(result.outputs).toMatchObject({ 'live-color': 'blue', 'previous-color': 'green', 'target-color': 'blue' });
  });

  it('is refused with a clear message when the previous color has no healthy hosts', async () => {
    const world = new MemoryWorld();
    world.live = { kind: 'color', color: 'green' };
    world.unhealthy.add('blue-1').add('blue-2');
    const result = await runAction(inputs({ mode: 'rollback', 'min-healthy-hosts': '1' }), world);
    expect(result.failed).toBe(true);
    expect(world.moves).toEqual([]);
    expect(errorLines(result.log).at(-1)).toMatch(/^::error::Cannot roll back to blue: 0 of 2 blue host\(s\) healthy/);
  });

  it('is refused when nothing was ever live', async () => {
    const world = new MemoryWorld();
    world.live = { kind: 'none' };
    const result = await runAction(inputs({ mode: 'rollback' }), world);
    expect(errorLines(result.log).at(-1)).toBe('::error::Nothing is live yet, so there is no previous color to roll back to. Deploy and switch first.');
  });
});

describe('dry run and errors', () => {
  it('prints the plan and changes nothing', async () => {
    const world = new MemoryWorld();
    const result = await runAction(inputs({ mode: 'switch', 'dry-run': 'true' }), world);
    expect(result.failed).toBe(false);
    expect(world.moves).toEqual([]);
    expect(result.log).toContain('[plan] Move traffic (green): move live traffic from blue to green');
    expect(result.outputs.result).toBe('planned');
    expect(result.summary).toContain('📝 dry run (nothing changed)');
    expect(result.summary).toMatch(/<td>Check health before moving traffic<\/td><td>green<\/td><td>green-1, green-2<\/td><td>📝 planned<\/td>/);
  });

  it('fails on bad input with one line, before any provider exists, and still sets outputs', async () => {
    let created = false;
    const world = new MemoryWorld();
    const result = await runAction(
      { mode: 'deploy', provider: 'nowhere', 'app-name': 'shop' },
      new Proxy(world, { get: (t, p) => ((created = true), Reflect.get(t, p)) }),
    );
    expect(created).toBe(false);
    expect(errorLines(result.log)).toEqual(["::error::Input 'provider': 'nowhere' is not one of aws, digitalocean, ssh. Set provider to one of them"]);
    expect(result.outputs).toMatchObject({ result: 'failure', 'live-color': 'unknown' });
    expect(result.summary).toBe('');
  });

  it('shows an internal error as one line, with its stack only in the debug log', async () => {
    const world = new MemoryWorld();
    world.traffic.readLive = async () => {
      throw new TypeError("Cannot read properties of undefined (reading 'color')");
    };
    const result = await runAction(inputs({ mode: 'switch' }), world);
    expect(result.failed).toBe(true);
    expect(errorLines(result.log).at(-1)).toBe(
      "::error::Internal error: Cannot read properties of undefined (reading 'color'). Re-run with debug logging on to see where, and report it.",
    );
    expect(result.log).toMatch(/::debug::TypeError: Cannot read properties of undefined[^\n]*%0A {4}at /);
  });
});

describe("annotations within GitHub's limits (10 error annotations per step, 4,096 characters each)", () => {
  it('annotates at most 8 unhealthy hosts, then one line for the rest, so the failure line is kept', async () => {
    const world = new MemoryWorld(12);
    for (const host of world.hosts.green) world.unhealthy.add(host.name);
    const result = await runAction(inputs({ mode: 'deploy' }), world);
    const errors = errorLines(result.log);
    expect(errors).toHaveLength(10);
    expect(errors.slice(0, 8)).toEqual(
      world.hosts.green
        .slice(0, 8)
        .map(
          (h) =>
            `::error title=Health check failed: ${h.name} ${h.healthUrl}::${h.name} (green) is unhealthy after 3 attempt(s): load balancer: DOWN; probe: connection refused`,
        ),
    );
    expect(errors[8]).toBe(
      '::error title=Health check failed on 4 more host(s)::and 4 more unhealthy host(s): green-9 (green), green-10 (green), green-11 (green), green-12 (green)',
    );
    expect(errors[9]).toMatch(
      /^::error::Release 0123456789abcdef0123456789abcdef01234567 is not healthy on green: 0 of 12 green host\(s\) healthy, 12 needed\. Unhealthy: green-1 \(/,
    );
  });

  it('keeps the failure line last and within the 10 when unhealthy hosts and a failed validation both annotate', async () => {
    publicStatus = 503;
    const world = new MemoryWorld(12);
    for (const host of world.hosts.green.slice(1)) world.unhealthy.add(host.name);
    const result = await runAction(
      inputs({ mode: 'switch', 'min-healthy-hosts': '1', 'public-url': publicUrl, 'health-retries': '1', 'health-interval': '0' }),
      world,
    );
    expect(world.live).toEqual({ kind: 'color', color: 'blue' });
    const errors = errorLines(result.log);
    expect(errors.length).toBeLessThanOrEqual(10);
    expect(errors[8]).toMatch(
      /^::error title=Health check failed on 3 more host\(s\)::and 3 more unhealthy host\(s\): green-10 \(green\), green-11 \(green\), green-12 \(green\)$/,
    );
    expect(errors.at(-1)).toMatch(/^::error::Validation failed: .* Traffic was moved back to blue \d+ ms after the failed check\.$/);
    // The validation's own annotation found no room; its text is in the log and in the failure line.
    expect(result.log).toMatch(/\nError \(Validation failed on green\): http:\/\/127\.0\.0\.1:\d+\/health: 0 of 20 requests succeeded/);
  });

  it('clips a failure line longer than 4,096 characters, with the whole text in the log', async () => {
    const world = new MemoryWorld(12);
    for (const host of world.hosts.green)
      world.failingRelease.set(host.name, `step install: ${'carton install exited 1: cannot find Some::Module in the mirror. '.repeat(8)}`);
    const result = await runAction(inputs({ mode: 'deploy' }), world);
    const [failure] = errorLines(result.log);
    expect(failure).toMatch(/^::error::Release \S+ failed on 12 of 12 green host\(s\): green-1: step install: .* … \(\d+ more characters in the log\)$/);
    expect((failure ?? '').length - '::error::'.length).toBeLessThan(4096);
    expect(result.log).toMatch(
      /\nFailure in full: Release \S+ failed on 12 of 12 green host\(s\): .*green-12: step install: .*Live traffic is untouched \(blue\)\.\n/,
    );
  });
});
