import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { SSMClient } from '@aws-sdk/client-ssm';
import { retry, retryBounds, sleep, sleepingClock, type Clock, type RetryPolicy } from '../retry.js';
import type { AwsSettings } from '../settings.js';
import { awsError, isRetryable } from './errors.js';

/** The three AWS services the provider talks to, in one region. */
export interface AwsClients {
  elb: ElasticLoadBalancingV2Client;
  autoScaling: AutoScalingClient;
  ssm: SSMClient;
}

/**
 * The SDK's own retries stay on, in `adaptive` mode: it spaces requests out client-side when the
 * service throttles, and retries a few times quickly. `AwsCalls` adds the longer waits on top, for
 * throttling that outlasts those few attempts (a busy account during a fleet-wide release).
 */
export const SDK_MAX_ATTEMPTS = 3;

/** How long one HTTP request to AWS may take: to connect, and to be answered. */
export interface AwsHttpLimits {
  connectionTimeoutMs: number;
  requestTimeoutMs: number;
}

/**
 * The SDK's default HTTP handler has no connection timeout, and its request timeout only logs a
 * warning unless told to throw: an endpoint that stops answering (a dropped VPC endpoint, a
 * network partition) would hold the job until GitHub's 6-hour limit, holding the deploy lock. A
 * request that times out is retried like any network error, so a run gives up after
 * SDK_MAX_ATTEMPTS attempts times AwsCalls' retries. AWS's control-plane calls answer in well under
 * a second; 30 s leaves room for a slow region.
 */
export const AWS_HTTP_LIMITS: AwsHttpLimits = { connectionTimeoutMs: 5000, requestTimeoutMs: 30_000 };

/** The configuration every AWS client of the action is built with. */
export function awsClientConfig(region: string, limits: AwsHttpLimits = AWS_HTTP_LIMITS) {
  return {
    region,
    maxAttempts: SDK_MAX_ATTEMPTS,
    retryMode: 'adaptive',
    requestHandler: { connectionTimeout: limits.connectionTimeoutMs, requestTimeout: limits.requestTimeoutMs, throwOnRequestTimeout: true },
  };
}

/**
 * Clients for `settings.region` (the input, else `AWS_REGION` / `AWS_DEFAULT_REGION`, resolved by
 * the settings). No credentials are passed: the SDK's standard chain finds them, so the
 * environment that `aws-actions/configure-aws-credentials` (OIDC or keys) leaves behind just works.
 */
export function awsClients(settings: Pick<AwsSettings, 'region'>): AwsClients {
  const config = awsClientConfig(settings.region);
  return {
    elb: new ElasticLoadBalancingV2Client(config),
    autoScaling: new AutoScalingClient(config),
    ssm: new SSMClient(config),
  };
}

export function closeClients(clients: AwsClients): void {
  clients.elb.destroy();
  clients.autoScaling.destroy();
  clients.ssm.destroy();
}

/** How long the AWS parts wait, and how: tests pass a `sleep` that does not wait. */
export interface AwsTiming {
  /** Retries of a throttled or failing call, after the SDK's own. */
  retry: RetryPolicy;
  /** First wait between polls (SSM invocations, ASG instances); grows to `maxPollMs`. */
  pollMs: number;
  maxPollMs: number;
  /** How long new Auto Scaling instances get to be `InService`. */
  capacityTimeoutMs: number;
  /** A cap on how long a release may run on an instance (SSM `executionTimeout`), and then report; by default host-timeout and its grace. */
  commandTimeoutMs?: number;
  /** Resolves after `ms`, or as soon as `signal` aborts (a cancelled run must not sleep through its wind-down). */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export const DEFAULT_AWS_TIMING: AwsTiming = {
  retry: { retries: 5, initialDelayMs: 1000, maxDelayMs: 20_000 },
  pollMs: 2000,
  maxPollMs: 15_000,
  capacityTimeoutMs: 15 * 60_000,
  sleep,
};

/**
 * How the AWS parts poll, for `waitUntil`: every `pollMs`, doubling up to `maxPollMs`, on a clock
 * that counts the time slept through `timing.sleep` (so a limit is the time the polls waited).
 */
export function pollPolicy(timing: AwsTiming): { intervalMs: number; backoff: { maxMs: number }; clock: Clock } {
  return { intervalMs: timing.pollMs, backoff: { maxMs: timing.maxPollMs }, clock: sleepingClock(timing.sleep) };
}

/**
 * Every AWS call goes through `call`: retried with backoff while AWS throttles or fails
 * transiently, and turned into one line naming the call (and for a denial, the permission to grant).
 */
export class AwsCalls {
  constructor(private readonly timing: AwsTiming) {}

  /**
   * `action` is the IAM action of the call (`elasticloadbalancing:ModifyListener`: the name a denial
   * needs); `resource` what it acts on; `notFound` the fix when that resource does not exist.
   */
  async call<T>(action: string, send: () => Promise<T>, resource?: string, notFound?: string): Promise<T> {
    let attempts = 0;
    try {
      return await retry(
        () => {
          attempts++;
          return send();
        },
        { ...retryBounds(this.timing.retry), retryable: isRetryable, clock: sleepingClock(this.timing.sleep) },
      );
    } catch (error) {
      throw awsError(action, error, { resource, notFound, attempts });
    }
  }
}
