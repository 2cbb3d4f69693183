import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DescribeListenersCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { CloudWatchAlarms } from '../src/aws/alarms.js';
import { AWS_HTTP_LIMITS, AwsCalls, DEFAULT_AWS_TIMING, SDK_MAX_ATTEMPTS, awsClientConfig, awsClients } from '../src/aws/clients.js';
import { isRetryable } from '../src/aws/errors.js';

/** What the SDK's HTTP handler was built with (resolved when it first sends, or here). */
const handlerConfig = (client: { config: { requestHandler: unknown } }) =>
  (client.config.requestHandler as { configProvider: Promise<Record<string, unknown>> }).configProvider;

// An AWS endpoint that takes requests and never answers, as a black-holed VPC endpoint would.
let server: Server;
let endpoint: string;
const held: ServerResponse[] = [];
let received = 0;
beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    received++;
    req.resume();
    held.push(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.21.2', resolve));
  endpoint = `http://127.0.21.2:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const res of held) res.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('AWS SDK clients: timeouts and bounded retries', () => {
  it('every client has a connection timeout, a request timeout that throws, and a bounded number of attempts', async () => {
    const clients = awsClients({ region: 'eu-west-1' });
    const cloudWatch = (CloudWatchAlarms.forRegion(['a'], 'eu-west-1', new AwsCalls(DEFAULT_AWS_TIMING)) as unknown as { client: ElasticLoadBalancingV2Client })
      .client;
    for (const client of [clients.elb, clients.autoScaling, clients.ssm, cloudWatch]) {
      expect(await handlerConfig(client)).toMatchObject({ connectionTimeout: 5000, requestTimeout: 30_000, throwOnRequestTimeout: true });
      expect(await client.config.maxAttempts()).toBe(SDK_MAX_ATTEMPTS);
      client.destroy();
    }
    expect(AWS_HTTP_LIMITS).toEqual({ connectionTimeoutMs: 5000, requestTimeoutMs: 30_000 });
  });

  it('gives up on an endpoint that never answers after SDK_MAX_ATTEMPTS attempts per call, with a retryable timeout error', async () => {
    const client = new ElasticLoadBalancingV2Client({
      ...awsClientConfig('eu-west-1', { connectionTimeoutMs: 1000, requestTimeoutMs: 200 }),
      endpoint,
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-a-secret' },
    });
    received = 0;
    const error = await client.send(new DescribeListenersCommand({ LoadBalancerArn: 'arn' })).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'TimeoutError' });
    expect(isRetryable(error)).toBe(true);
    expect(received).toBe(SDK_MAX_ATTEMPTS);

    // With the action's own retries on top: still a bounded number of requests, then one line.
    received = 0;
    const calls = new AwsCalls({ ...DEFAULT_AWS_TIMING, retry: { retries: 1, initialDelayMs: 1, maxDelayMs: 1 }, sleep: async () => undefined });
    await expect(
      calls.call('elasticloadbalancing:DescribeListeners', () => client.send(new DescribeListenersCommand({ LoadBalancerArn: 'arn' }))),
    ).rejects.toThrow(
      /^AWS elasticloadbalancing:DescribeListeners failed after 2 attempts: TimeoutError: @smithy\/node-http-handler - \[ERROR\] a request has exceeded the configured 200 ms requestTimeout\.$/,
    );
    expect(received).toBe(2 * SDK_MAX_ATTEMPTS);
    client.destroy();
  }, 30_000);
});
