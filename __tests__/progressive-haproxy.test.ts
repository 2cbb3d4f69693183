import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { ColorLoad } from '../bench/support/color-load.js';
import { mapPathFor } from '../src/traffic/haproxy-config.js';
import { errorLines, runAction } from './support/action.js';
import { HaproxyLab } from '../lab/haproxy.js';

/**
 * A progressive switch on a real HAProxy in front of real Starman servers, under a steady load
 * that knows which color answered each request: a healthy green goes through every step; a green
 * that passes its health checks but fails every other real request is caught at the first step
 * and traffic goes back to blue.
 */
const healthy = new HaproxyLab({ base: 60, live: 'blue' });
const broken = new HaproxyLab({ base: 80, live: 'blue', faulty: 'green' });
beforeAll(async () => {
  await Promise.all([healthy.start(), broken.start()]);
}, 60_000);
afterAll(async () => {
  await Promise.all([healthy.stop(), broken.stop()]);
});

const inputsFor = (lab: HaproxyLab, extra: Record<string, string>) =>
  lab.switchInputs({ 'public-url': lab.liveUrl, 'validation-path': '/', 'validation-requests': '40', 'validation-success-percent': '95', ...extra });

describe('progressive switch on a real HAProxy', () => {
  it('takes a healthy green through every step, each step splitting live requests between the colors', async () => {
    const load = new ColorLoad(`${healthy.liveUrl}/`, 8);
    const run = await runAction(inputsFor(healthy, { 'traffic-steps': '25,50,100', 'step-pause': '1.5' }), healthy.provider());
    const counts = await load.stop();
    expect(errorLines(run.log)).toEqual([]);
    expect(run.outputs).toMatchObject({ result: 'success', 'live-color': 'green', 'previous-color': 'blue' });
    expect(run.summary).toMatch(
      /<td>Shift 25% of traffic<\/td><td>green<\/td><td>HAProxy on the runner<\/td><td>✅ ok<\/td><td>[^<]+<\/td><td>25% of requests to green, 75% to blue \(set map, no reload\); \d+ validation round\(s\) passed, last: \d+\/40 ok, p95 \d+ ms<\/td>/,
    );
    expect(run.summary).toMatch(/<td>Shift 50% of traffic<\/td><td>green<\/td><td>HAProxy on the runner<\/td><td>✅ ok<\/td>/);
    // The load saw both colors during the steps and not one failed request.
    expect(counts.failed).toBe(0);
    expect(counts.byColor.blue).toBeGreaterThan(0);
    expect(counts.byColor.green).toBeGreaterThan(0);
    expect(readFileSync(mapPathFor(healthy.configPath), 'utf8')).toContain('live bg_green\npreview bg_blue\nsplit 0\n');
  });

  it('catches a green that fails a share of its requests at the first step and sends all traffic back to blue', async () => {
    const load = new ColorLoad(`${broken.liveUrl}/`, 8);
    const run = await runAction(inputsFor(broken, { 'traffic-steps': '20,100', 'step-pause': '30' }), broken.provider());
    // Steady load on blue after the move back: nothing fails there.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const counts = await load.stop();

    expect(run.outputs).toMatchObject({ result: 'failure', 'live-color': 'blue', 'target-color': 'green' });
    const errors = errorLines(run.log);
    expect(errors).toContainEqual(
      expect.stringMatching(
        /^::error title=Validation failed on green::http:\/\/127\.0\.5\.80:8080\/: \d+ of 40 requests succeeded \(\d+\.\d%, at least 95\.0% needed; most failures: answered 500, expected 200\)$/,
      ),
    );
    expect(errors.at(-1)).toMatch(/^::error::Validation failed: .* Traffic was moved back to blue \d+ ms after the failed check\.$/);
    expect(run.summary).toContain('<td>Move traffic</td><td>green</td><td>HAProxy on the runner</td><td>⏭️ not run</td>');
    expect(await broken.traffic().readLive()).toEqual({ kind: 'color', color: 'blue' });
    // Every failed request is one of the broken green's own answers during the 20% step.
    expect(counts.connectionErrors).toBe(0);
    expect(counts.serverErrorsByColor.blue ?? 0).toBe(0);
    expect(counts.failed).toBe(counts.serverErrorsByColor.green ?? 0);
    expect(counts.failed).toBeLessThan(counts.requests * 0.2);
    // It was caught long before the 30 s pause ended.
    expect(run.summary).toMatch(/<td>Shift 20% of traffic<\/td><td>green<\/td><td>HAProxy on the runner<\/td><td>❌ failed<\/td><td>(\d+ ms|[0-9.]+ s)<\/td>/);
  });
});
