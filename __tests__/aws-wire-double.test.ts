import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { DescribeTargetHealthCommand, ElasticLoadBalancingV2Client, ModifyListenerCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { SSMClient, SendCommandCommand } from '@aws-sdk/client-ssm';
import type { AwsTiming } from '../src/aws/clients.js';
import { createProvider } from '../src/run/provider.js';
import { readSettings } from '../src/settings.js';
import { errorLines, runAction, type ActionRun } from './support/action.js';
import { AwsAccount, LISTENER_ARN, RULE_ARN, TEST_LISTENER_ARN } from '../lab/aws-account.js';
import { AwsWire } from '../lab/aws-wire.js';

/**
 * The action's real AWS SDK clients against the account model on the wire (aws-wire.ts): every
 * request is serialized, signed and sent over HTTP to loopback, decoded by its service's protocol and
 * checked against AWS's model. The flows the model tests (aws.test.ts) prove in-process, here on the wire.
 */

const SHA = '0123456789abcdef0123456789abcdef01234567';
const ENV = { GITHUB_SHA: SHA };

const timing: AwsTiming = {
  retry: { retries: 3, initialDelayMs: 10, maxDelayMs: 40 },
  pollMs: 5,
  maxPollMs: 20,
  capacityTimeoutMs: 5000,
  commandTimeoutMs: 5000,
  sleep: async () => {
    await new Promise((resolve) => setImmediate(resolve));
  },
};

let wire: AwsWire;
const saved: Record<string, string | undefined> = {};

function world(options: { blue?: number; green?: number } = {}): AwsAccount {
  const a = new AwsAccount();
  const blue = a.addTargetGroup('shop-blue', 20);
  const green = a.addTargetGroup('shop-green', 20);
  a.addListener(LISTENER_ARN, 80, a.forward([blue, 1]));
  a.addListener(TEST_LISTENER_ARN, 8080, a.forward([green, 1]));
  a.addRule(RULE_ARN, LISTENER_ARN, a.forward([blue, 1]));
  a.addGroup('shop-blue', { desired: options.blue ?? 2, min: options.blue ?? 2, max: 10, targetGroup: blue });
  a.addGroup('shop-green', { desired: options.green ?? 0, min: 0, max: 10, targetGroup: green });
  return a;
}

async function act(mode: string, extra: Record<string, string> = {}): Promise<ActionRun> {
  const inputs: Record<string, string> = {
    mode,
    provider: 'aws',
    'app-name': 'shop',
    'aws-region': 'eu-west-1',
    'listener-arn': LISTENER_ARN,
    'blue-target-group': 'shop-blue',
    'green-target-group': 'shop-green',
    'blue-asg': 'shop-blue',
    'green-asg': 'shop-green',
    'release-repository': 'https://github.com/org/shop.git',
    release: 'v1.2.3',
    'health-retries': '5',
    'health-interval': '0.01',
    ...extra,
  };
  const settings = readSettings((name) => inputs[name] ?? '', ENV);
  return runAction(inputs, await createProvider(settings, timing), ENV);
}

const weightsOf = (account: AwsAccount) => account.weightsOf(LISTENER_ARN);

beforeAll(() => {
  for (const key of ['AWS_ENDPOINT_URL', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION', 'AWS_PROFILE']) saved[key] = process.env[key];
  delete process.env.AWS_PROFILE;
});
afterAll(() => {
  for (const [key, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
});
/** The double on 127.0.43.1, over `account`; the SDK clients the action makes find it through the environment. */
async function restart(account: AwsAccount): Promise<void> {
  await wire?.stop();
  wire = await new AwsWire(account).start({ host: '127.0.43.1' });
  Object.assign(process.env, wire.env());
}

beforeEach(async () => {
  await restart(world({ green: 2 }));
});
afterEach(async () => {
  await wire.stop();
});

describe('the AWS double on the wire', () => {
  it('serves a deploy, a switch, a progressive switch and a rollback to the real SDK clients with no request breaking the models', async () => {
    await restart(world());
    const account = wire.account;
    const deployed = await act('deploy');
    expect(errorLines(deployed.log)).toEqual([]);
    expect(deployed.outputs).toMatchObject({ result: 'success', 'target-color': 'green', 'live-color': 'blue' });
    expect(account.instancesOf('shop-green').map((i) => [i.lifecycle, i.ran.length])).toEqual([
      ['InService', 1],
      ['InService', 1],
    ]);

    const switched = await act('switch', { 'scale-down-delay': '600', 'drain-timeout': '0' });
    expect(errorLines(switched.log)).toEqual([]);
    expect(weightsOf(account)).toEqual({ 'shop-green': 100, 'shop-blue': 0 });
    expect(account.groups.get('shop-blue')?.scheduled.size).toBe(1);

    const back = await act('rollback', { 'drain-timeout': '0' });
    expect(errorLines(back.log)).toEqual([]);
    expect(weightsOf(account)).toEqual({ 'shop-blue': 100, 'shop-green': 0 });

    account.alarms.set('shop-latency', { state: 'OK', reason: 'Threshold Crossed: no datapoints above 1' });
    const stepped = await act('switch', { 'traffic-steps': '10,50,100', 'step-pause': '0', 'drain-timeout': '0', 'cloudwatch-alarms': 'shop-latency' });
    expect(errorLines(stepped.log)).toEqual([]);
    const weights = account
      .callsOf('elasticloadbalancing:ModifyListener')
      .map((c) =>
        ((c.DefaultActions as { ForwardConfig: { TargetGroups: { Weight: number }[] } }[])[0]?.ForwardConfig.TargetGroups ?? []).map((g) => g.Weight),
      );
    expect(weights).toEqual([
      [100, 0],
      [100, 0],
      [10, 90],
      [50, 50],
      [100, 0],
    ]);

    expect(wire.violations).toEqual([]);
    // Every service was reached over its own protocol.
    const services = new Set(wire.requests.map((r) => r.action.split(':')[0]));
    expect([...services].sort()).toEqual(['autoscaling', 'cloudwatch', 'elasticloadbalancing', 'ssm']);
    expect(wire.requests.every((r) => r.status === 200)).toBe(true);
  });

  it('answers CloudWatch (JSON 1.0, query-compatible) and moves traffic back when an alarm fires', async () => {
    wire.account.alarms.set('shop-green-5xx', { firesWhileServing: 'shop-green', listener: LISTENER_ARN });
    const run = await act('switch', { 'traffic-steps': '10,100', 'step-pause': '0', 'cloudwatch-alarms': 'shop-green-5xx', 'drain-timeout': '0' });
    expect(run.outputs).toMatchObject({ result: 'failure', 'live-color': 'blue' });
    expect(errorLines(run.log).at(-1)).toMatch(/Validation failed: alarm shop-green-5xx is ALARM/);
    expect(weightsOf(wire.account)).toEqual({ 'shop-blue': 100, 'shop-green': 0 });
    expect(wire.requests.some((r) => r.action === 'cloudwatch:DescribeAlarms' && r.status === 200)).toBe(true);
    expect(wire.violations).toEqual([]);
  });

  it('switches a listener rule (ModifyRule) on the wire', async () => {
    const run = await act('switch', { 'rule-arn': RULE_ARN, 'drain-timeout': '0' });
    expect(errorLines(run.log)).toEqual([]);
    expect(wire.account.weightsOf(RULE_ARN)).toEqual({ 'shop-green': 100, 'shop-blue': 0 });
    expect(wire.violations).toEqual([]);
  });

  it('refuses a request that breaks the model as AWS does (400 ValidationError) and records it', async () => {
    const elb = new ElasticLoadBalancingV2Client({ maxAttempts: 1 });
    const missing = await elb
      .send(new DescribeTargetHealthCommand({} as never))
      .catch((error: unknown) => error as { name: string; message: string; $metadata: { httpStatusCode: number } });
    expect(missing).toMatchObject({ name: 'ValidationError', $metadata: { httpStatusCode: 400 } });
    expect((missing as { message: string }).message).toBe(
      "1 validation error detected: Value null at 'targetGroupArn' failed to satisfy constraint: Member must not be null",
    );
    const badType = await elb
      .send(new ModifyListenerCommand({ ListenerArn: LISTENER_ARN, DefaultActions: [{ Type: 'forwards' as never }] }))
      .catch((error: unknown) => error as { name: string; message: string });
    expect(badType).toMatchObject({
      name: 'ValidationError',
      message: expect.stringContaining("at 'defaultActions.1.member.type' failed to satisfy constraint: Member must satisfy enum value set: [forward, "),
    });
    elb.destroy();
    const ssm = new SSMClient({ maxAttempts: 1 });
    const tooLong = await ssm
      .send(new SendCommandCommand({ DocumentName: 'AWS-RunShellScript', InstanceIds: ['i-00000000000000001'], Comment: 'x'.repeat(101), MaxConcurrency: '0' }))
      .catch((error: unknown) => error as { name: string; message: string });
    expect(tooLong).toMatchObject({
      name: 'ValidationException',
      message: expect.stringMatching(
        /^2 validation errors detected: Value 'x+' at 'comment' failed to satisfy constraint: Member must have length less than or equal to 100; Value '0' at 'maxConcurrency'/,
      ),
    });
    ssm.destroy();
    expect(wire.violations.map((v) => v.action)).toEqual([
      'elasticloadbalancing:DescribeTargetHealth',
      'elasticloadbalancing:ModifyListener',
      'ssm:SendCommand',
    ]);
    expect(weightsOf(wire.account)).toEqual({ 'shop-blue': 1 });
  });

  it('reports an offline SSM agent and a command that ran out of time as SSM does (ConnectionLost, TimedOut)', async () => {
    const [offline, slow] = wire.account.instancesOf('shop-green');
    if (!offline || !slow) throw new Error('world without green instances');
    offline.ssm = 'ConnectionLost';
    wire.account.hooks.execute = async () => ({ exitCode: -1, output: '==> [1/7] fetch: git fetch', timedOut: true });
    const run = await act('deploy');
    expect(run.failed).toBe(true);
    const failure = errorLines(run.log).at(-1) ?? '';
    expect(failure).toContain(`${offline.id}: not reachable through SSM: its SSM agent is ConnectionLost`);
    expect(failure).toContain(`${slow.id}: SSM TimedOut (Execution Timed Out) during step fetch.`);
    expect(wire.account.callsOf('ssm:SendCommand').map((c) => c.InstanceIds)).toEqual([[slow.id]]);
    expect(wire.violations).toEqual([]);
  });

  it('throttles an operation when asked (400 Throttling): the action waits it out', async () => {
    wire.account.throttle('elasticloadbalancing:ModifyListener', 1);
    wire.account.throttle('ssm:ListCommandInvocations', 1);
    const run = await act('deploy');
    expect(errorLines(run.log)).toEqual([]);
    const switched = await act('switch', { 'drain-timeout': '0' });
    expect(errorLines(switched.log)).toEqual([]);
    expect(wire.requests.filter((r) => r.action === 'elasticloadbalancing:ModifyListener').map((r) => r.status)).toEqual([400, 200]);
    expect(wire.violations).toEqual([]);
  });

  it('denies an operation when asked (AccessDenied): one line naming the permission to grant, and nothing moved', async () => {
    wire.account.deny('elasticloadbalancing:ModifyListener');
    const run = await act('switch', { 'drain-timeout': '0' });
    expect(run.failed).toBe(true);
    expect(errorLines(run.log).at(-1)).toMatch(
      /^::error::AWS denied elasticloadbalancing:ModifyListener on arn:aws:elasticloadbalancing:.* \(AccessDenied: User: .* is not authorized to perform: elasticloadbalancing:ModifyListener .*\)\. Grant the role elasticloadbalancing:ModifyListener \(see the IAM policy in the README\)\.$/,
    );
    expect(weightsOf(wire.account)).toEqual({ 'shop-blue': 1 });
    wire.account.deny('ssm:SendCommand');
    const deploy = await act('deploy');
    expect(errorLines(deploy.log).at(-1)).toMatch(/AWS denied ssm:SendCommand .*\(AccessDeniedException: /);
  });
});
