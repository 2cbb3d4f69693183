import { afterEach, describe, expect, it } from '@jest/globals';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { probeUntilHealthy } from '../src/health/probe.js';
import { WaitAbortedError } from '../src/retry.js';
import type { HealthSettings } from '../src/settings.js';

// Health probes of a cancelled run end on the cancel, not after their retries: a minute between
// retries and a minute per probe here, so a probe that kept going would outlast the test's timeout.
const PATIENT: HealthSettings = { path: '/health', expectedStatus: 200, timeoutMs: 60_000, retries: 50, intervalMs: 60_000 };

describe('health probes of a cancelled run', () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
    server = undefined;
  });

  /** A loopback app whose answer to each request `answer` decides (undefined: it never answers). */
  async function app(answer: (request: IncomingMessage) => number | undefined): Promise<{ url: string; requests: string[] }> {
    const requests: string[] = [];
    server = createServer((request, response) => {
      requests.push(request.url ?? '');
      const status = answer(request);
      if (status === undefined) return;
      response.statusCode = status;
      response.end('starting');
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`, requests };
  }

  it('stop retrying when the run is cancelled during the wait between two probes', async () => {
    const cancel = new AbortController();
    const { url, requests } = await app(() => {
      setImmediate(() => cancel.abort('cancelled (SIGINT)'));
      return 503;
    });
    await expect(probeUntilHealthy(url, PATIENT, { signal: cancel.signal })).rejects.toEqual(new WaitAbortedError('cancelled (SIGINT)'));
    expect(requests).toEqual(['/health']);
  }, 10_000);

  it('end the probe in flight when the run is cancelled while the app has not answered', async () => {
    const cancel = new AbortController();
    const { url, requests } = await app(() => {
      cancel.abort('cancelled (SIGINT)');
      return undefined;
    });
    await expect(probeUntilHealthy(url, PATIENT, { signal: cancel.signal })).rejects.toEqual(new WaitAbortedError('cancelled (SIGINT)'));
    expect(requests).toEqual(['/health']);
  }, 10_000);
});
