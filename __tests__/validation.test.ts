import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { judge, percentile, validateUrl } from '../src/health/validation.js';

const health = { path: '/health', expectedStatus: 200, timeoutMs: 2000, retries: 0, intervalMs: 0 };

describe('validation under traffic', () => {
  it('judges success ratio and p95 latency against the criteria, with the figures in the problem', () => {
    const outcomes = [...Array(18).fill({ ok: true, latencyMs: 10 }), { ok: false, latencyMs: 5 }, { ok: true, latencyMs: 900 }];
    expect(judge(outcomes, { requests: 20, minSuccessRatio: 0.9, maxLatencyMs: 1000 })).toMatchObject({ ok: true, succeeded: 19, latencyP95Ms: 10 });
    expect(judge(outcomes, { requests: 20, minSuccessRatio: 0.99, maxLatencyMs: 5 })).toEqual({
      ok: false,
      requests: 20,
      succeeded: 19,
      successRatio: 0.95,
      latencyP95Ms: 10,
      problem: '19 of 20 requests succeeded (95.0%, at least 99.0% needed); p95 latency 10 ms is over 5 ms',
    });
    expect(percentile([5, 1, 3, 2, 4], 50)).toBe(3);
    expect(percentile([], 95)).toBe(0);
  });

  describe('against a real HTTP server', () => {
    let server: Server;
    let url: string;
    let count = 0;
    beforeAll(async () => {
      // Every fourth request fails, as a color with a bad worker would.
      server = createServer((_req, res) => {
        count++;
        res.statusCode = count % 4 === 0 ? 500 : 200;
        res.end();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`;
    });
    afterAll(async () => {
      await new Promise((resolve) => server.close(resolve));
    });

    it('sends the requested number of probes and catches a 25% error rate', async () => {
      count = 0;
      const result = await validateUrl(url, health, { requests: 40, minSuccessRatio: 0.95, maxLatencyMs: 2000 });
      expect(count).toBe(40);
      expect(result).toMatchObject({ ok: false, requests: 40, succeeded: 30 });
      expect(result.problem).toBe('30 of 40 requests succeeded (75.0%, at least 95.0% needed; most failures: answered 500, expected 200)');
    });
  });
});
