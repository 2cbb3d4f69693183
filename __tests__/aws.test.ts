import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AwsCalls, SDK_MAX_ATTEMPTS, awsClients, type AwsTiming } from '../src/aws/clients.js';
import { awsError, isRetryable } from '../src/aws/errors.js';
import { hostScript, hostScriptArguments, hostScriptShellCommand } from '../src/hosts/host-script.js';
import { CANCELLED_COLLECT_MS, CANCELLED_POLL_MS, SsmReleaser } from '../src/hosts/ssm.js';
import { Cancellation, WIND_DOWN_MS } from '../src/cancellation.js';
import { releaseTarball } from '../src/hosts/releaser.js';
import { SCALE_DOWN_ACTION } from '../src/inventory/asg.js';
import { createProvider } from '../src/run/provider.js';
import { readSettings } from '../src/settings.js';
import { errorLines, runAction, visibleLog, type ActionRun } from './support/action.js';
import { AwsAccount, LISTENER_ARN, RULE_ARN, TEST_LISTENER_ARN, hostScriptSuccess } from '../lab/aws-account.js';
import { S3Double, signatureOf, stringToSign } from '../lab/s3-double.js';

const REPOSITORY = 'https://github.com/org/shop.git';
const SHA = '0123456789abcdef0123456789abcdef01234567';
const ENV = { GITHUB_SHA: SHA };

/** Waits nothing, but remembers what the AWS parts asked to wait: backoff, polls, drain. */
function fastTiming(): { timing: AwsTiming; slept: number[] } {
  const slept: number[] = [];
  const timing: AwsTiming = {
    retry: { retries: 3, initialDelayMs: 100, maxDelayMs: 400 },
    pollMs: 50,
    maxPollMs: 200,
    capacityTimeoutMs: 2000,
    commandTimeoutMs: 2000,
    sleep: async (ms) => {
      slept.push(ms);
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
  return { timing, slept };
}

let preview: Server;
let previewPort: number;
let account: AwsAccount;
let clock: ReturnType<typeof fastTiming>;

beforeAll(async () => {
  // The test listener's port on the load balancer's address (loopback here): the preview route.
  preview = createServer((req, res) => {
    res.statusCode = req.url === '/health' ? 200 : 404;
    res.end('ok');
  });
  await new Promise<void>((resolve) => preview.listen(0, '127.0.0.1', resolve));
  previewPort = (preview.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise((resolve) => preview.close(resolve));
});

/** Blue live behind the listener with 2 instances; green scaled to 0; the test listener on green. */
function world(options: { blue?: number; green?: number } = {}): AwsAccount {
  const a = new AwsAccount();
  const blue = a.addTargetGroup('shop-blue', 20);
  const green = a.addTargetGroup('shop-green', 20);
  a.addListener(LISTENER_ARN, 80, a.forward([blue, 1]));
  a.addListener(TEST_LISTENER_ARN, previewPort, a.forward([green, 1]));
  a.addGroup('shop-blue', { desired: options.blue ?? 2, min: options.blue ?? 2, max: 200, targetGroup: blue });
  a.addGroup('shop-green', { desired: options.green ?? 0, min: 0, max: 200, targetGroup: green });
  return a;
}

function inputsFor(mode: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    mode,
    provider: 'aws',
    'app-name': 'shop',
    'aws-region': 'eu-west-1',
    'listener-arn': LISTENER_ARN,
    'test-listener-arn': TEST_LISTENER_ARN,
    'blue-target-group': 'shop-blue',
    'green-target-group': 'shop-green',
    'blue-asg': 'shop-blue',
    'green-asg': 'shop-green',
    'release-repository': REPOSITORY,
    release: 'v1.2.3',
    'health-retries': '5',
    'health-interval': '0.01',
    ...extra,
  };
}

/** Runs the action as the runner would, with the real AWS provider over the account model. */
async function act(mode: string, extra: Record<string, string> = {}): Promise<ActionRun> {
  const inputs = inputsFor(mode, extra);
  const settings = readSettings((name) => inputs[name] ?? '', ENV);
  return runAction(inputs, await createProvider(settings, clock.timing), ENV);
}

const failure = (run: ActionRun): string => errorLines(run.log).at(-1) ?? '';

beforeEach(() => {
  clock = fastTiming();
});
afterEach(() => {
  account?.restore();
});

describe('AWS errors', () => {
  const error = (name: string, status: number, extra: object = {}) =>
    Object.assign(new Error('it went wrong'), { name, $metadata: { httpStatusCode: status }, ...extra });

  it('retries throttling, 5xx and dropped connections, not client errors', () => {
    expect(
      [
        error('Throttling', 400),
        error('ThrottlingException', 400),
        error('InternalFailure', 500),
        error('ServiceUnavailable', 503),
        error('x', 0, { code: 'ECONNRESET' }),
      ].map(isRetryable),
    ).toEqual([true, true, true, true, true]);
    expect([error('ValidationError', 400), error('AccessDenied', 403)].map(isRetryable)).toEqual([false, false]);
  });

  it('points missing or expired credentials at the credentials step', () => {
    expect(awsError('autoscaling:DescribeAutoScalingGroups', error('CredentialsProviderError', 0), { resource: 'shop-blue' }).message).toBe(
      'AWS autoscaling:DescribeAutoScalingGroups on shop-blue failed: no valid AWS credentials (CredentialsProviderError: it went wrong). Run aws-actions/configure-aws-credentials before this step, or check the role it assumes.',
    );
    expect(awsError('ssm:SendCommand', error('ExpiredTokenException', 400)).message).toMatch(/no valid AWS credentials \(ExpiredTokenException/);
  });
});

describe('AWS SDK clients', () => {
  it('use the region from the settings, the standard credential chain, and adaptive retries', async () => {
    const clients = awsClients({ region: 'eu-west-1' });
    for (const client of [clients.elb, clients.autoScaling, clients.ssm]) {
      expect(await client.config.region()).toBe('eu-west-1');
      expect(await client.config.maxAttempts()).toBe(SDK_MAX_ATTEMPTS);
      const strategy = await client.config.retryStrategy();
      expect(strategy).toMatchObject({ mode: 'adaptive' });
    }
  });
});

describe('provider aws, run as the action against a model of the account', () => {
  beforeEach(() => {
    account = world().install();
  });

  it('deploys to green (scaling it up, releasing through SSM, previewing), then switches and schedules blue to scale down', async () => {
    const deployed = await act('deploy');
    expect(errorLines(deployed.log)).toEqual([]);
    expect(deployed.outputs).toMatchObject({
      result: 'success',
      'target-color': 'green',
      'live-color': 'blue',
      'preview-url': `http://127.0.0.1:${previewPort}`,
    });
    const green = account.instancesOf('shop-green');
    expect(green.map((i) => i.lifecycle)).toEqual(['InService', 'InService']);
    expect(account.groups.get('shop-green')).toMatchObject({ desired: 2, min: 2 });
    expect(green.every((i) => i.ran.length === 1)).toBe(true);
    expect(account.callsOf('ssm:SendCommand').map((c) => c.InstanceIds)).toEqual([green.map((i) => i.id)]);
    expect(account.weightsOf(LISTENER_ARN)).toEqual({ 'shop-blue': 1 });
    expect(deployed.summary).toContain(green.map((i) => i.id).join(', '));

    const switched = await act('switch', { 'scale-down-delay': '600' });
    expect(errorLines(switched.log)).toEqual([]);
    expect(switched.outputs).toMatchObject({ result: 'success', 'previous-color': 'blue', 'live-color': 'green' });
    // Blue stays in the forward at weight 0, so the ALB keeps checking it for a rollback.
    expect(account.weightsOf(LISTENER_ARN)).toEqual({ 'shop-green': 100, 'shop-blue': 0 });
    expect(account.weightsOf(TEST_LISTENER_ARN)).toEqual({ 'shop-blue': 1 });
    // The deregistration delay of blue (20s) is shorter than drain-timeout (30s): that is the wait.
    expect(clock.slept).toContain(20_000);
    const scaleDown = account.groups.get('shop-blue')?.scheduled.get(SCALE_DOWN_ACTION);
    expect(scaleDown).toMatchObject({ min: 0, desired: 0 });
    expect((scaleDown?.startTime.getTime() ?? 0) - Date.now()).toBeGreaterThan(590_000);
    expect(account.instancesOf('shop-blue')).toHaveLength(2);
  });

  it('fails the release naming the instance and its last output when the host script fails there, and leaves traffic alone', async () => {
    account.restore();
    account = world({ green: 2 }).install();
    const [, broken] = account.instancesOf('shop-green');
    if (!broken) throw new Error('world without green instances');
    broken.run = () => ({
      exitCode: 1,
      output: [
        '==> [3/7] install: carton install --deployment',
        "Can't locate Dancer2.pm in @INC (you may need to install the Dancer2 module)",
        '==> FAILED install: carton install exited 1',
      ].join('\n'),
    });
    const run = await act('deploy');
    expect(run.failed).toBe(true);
    expect(failure(run)).toContain(
      `Release v1.2.3 failed on 1 of 2 green host(s): ${broken.id}: step install: carton install exited 1; last output: Can't locate Dancer2.pm in @INC`,
    );
    expect(account.weightsOf(LISTENER_ARN)).toEqual({ 'shop-blue': 1 });
  });

  it('refuses to switch to a color with a target that never becomes healthy, with an annotation, and leaves the listener alone', async () => {
    account.restore();
    account = world({ green: 2 }).install();
    const [, sick] = account.instancesOf('shop-green');
    if (!sick) throw new Error('world without green instances');
    sick.broken = true;
    const run = await act('switch', { 'health-retries': '3' });
    expect(run.failed).toBe(true);
    expect(errorLines(run.log)).toContain(
      `::error title=Health check failed: ${sick.id} ${sick.id}::${sick.id} (green) is unhealthy: load balancer: unhealthy (Target.ResponseCodeMismatch)`,
    );
    expect(failure(run)).toMatch(/Refusing to switch to green: 1 of 2 green host\(s\) healthy/);
    expect(account.callsOf('elasticloadbalancing:ModifyListener')).toEqual([]);
    expect(account.weightsOf(LISTENER_ARN)).toEqual({ 'shop-blue': 1 });
  });

  it('waits out throttling with backoff and then succeeds', async () => {
    account.throttle('elasticloadbalancing:DescribeListeners', 2);
    account.throttle('autoscaling:DescribeAutoScalingGroups', 1);
    account.throttle('ssm:SendCommand', 1);
    const run = await act('deploy');
    expect(errorLines(run.log)).toEqual([]);
    expect(run.outputs.result).toBe('success');
    // The throttled calls were made again: the first call of each was refused, then answered.
    expect(account.callsOf('ssm:SendCommand')).toHaveLength(2);
    expect(clock.slept.slice(0, 2)).toEqual([100, 200]);
  });

  it('fails with one line naming the call when AWS keeps throttling', async () => {
    account.throttle('elasticloadbalancing:DescribeListeners', 10);
    const run = await act('switch');
    expect(failure(run)).toBe(
      `::error::AWS kept throttling elasticloadbalancing:DescribeListeners on ${TEST_LISTENER_ARN} after 4 attempts (Throttling: Rate exceeded). Re-run later, or ask AWS for a higher API rate limit.`,
    );
  });

  it('sends the release to more than 50 instances in batches of at most 50 and collects every one', async () => {
    account.restore();
    account = world({ blue: 120 }).install();
    const run = await act('deploy', { 'max-parallel-hosts': '30' });
    expect(errorLines(run.log)).toEqual([]);
    expect(run.outputs.result).toBe('success');
    const green = account.instancesOf('shop-green');
    expect(green).toHaveLength(120);
    const sends = account.callsOf('ssm:SendCommand');
    expect(sends.map((c) => (c.InstanceIds as string[]).length)).toEqual([50, 50, 20]);
    expect(new Set(sends.flatMap((c) => c.InstanceIds as string[]))).toEqual(new Set(green.map((i) => i.id)));
    expect(sends.map((c) => c.MaxConcurrency)).toEqual(['10', '10', '10']);
    expect(green.every((i) => i.ran.length === 1)).toBe(true);
  });

  it('names the call and the permission to grant when AWS denies it', async () => {
    account.restore();
    account = world({ green: 2 }).install();
    account.deny('elasticloadbalancing:ModifyListener');
    const run = await act('switch');
    expect(failure(run)).toBe(
      `::error::AWS denied elasticloadbalancing:ModifyListener on ${LISTENER_ARN} (AccessDenied: User: arn:aws:sts::123456789012:assumed-role/bluegreen-deploy/GitHubActions is not authorized to perform: elasticloadbalancing:ModifyListener because no identity-based policy allows the elasticloadbalancing:ModifyListener action). Grant the role elasticloadbalancing:ModifyListener (see the IAM policy in the README).`,
    );
    expect(account.weightsOf(LISTENER_ARN)).toEqual({ 'shop-blue': 1 });
  });

  it('names the SSM permission too (a JSON API: AccessDeniedException)', async () => {
    account.deny('ssm:SendCommand');
    const run = await act('deploy');
    expect(failure(run)).toMatch(/^::error::AWS denied ssm:SendCommand \(AccessDeniedException: .*\)\. Grant the role ssm:SendCommand /);
  });

  it('reports a listener already split between the colors as weighted, and changes nothing', async () => {
    const [blue, green] = [...account.targetGroups.keys()] as [string, string];
    account.addListener(LISTENER_ARN, 80, account.forward([blue, 50], [green, 50]));
    const run = await act('deploy');
    expect(failure(run)).toBe(
      '::error::Traffic is split (blue 50%, green 50%): a progressive switch stopped halfway, evenly, so which color it was moving to cannot be told. Move all traffic to one color on the load balancer, then run again.',
    );
    expect(account.callsOf('autoscaling:UpdateAutoScalingGroup')).toEqual([]);
    expect(account.callsOf('ssm:SendCommand')).toEqual([]);
    expect(account.weightsOf(LISTENER_ARN)).toEqual({ 'shop-blue': 50, 'shop-green': 50 });
  });

  it('rolls back to blue after its scale-down ran, scaling it back up first', async () => {
    expect((await act('deploy')).outputs.result).toBe('success');
    expect((await act('switch', { 'scale-down-delay': '600' })).outputs.result).toBe('success');
    // The rollback window (default 3600 s) outlasts the 600 s delay: blue keeps its size until it ends.
    account.runScheduledActions(new Date(Date.now() + 601_000));
    expect(account.instancesOf('shop-blue')).toHaveLength(2);
    account.runScheduledActions(new Date(Date.now() + 3_601_000));
    expect(account.instancesOf('shop-blue')).toEqual([]);

    const run = await act('rollback');
    expect(errorLines(run.log)).toEqual([]);
    expect(run.outputs).toMatchObject({ result: 'success', 'live-color': 'blue', 'previous-color': 'green' });
    expect(account.groups.get('shop-blue')).toMatchObject({ desired: 2, min: 2 });
    expect(account.instancesOf('shop-blue').map((i) => i.lifecycle)).toEqual(['InService', 'InService']);
    expect(account.weightsOf(LISTENER_ARN)).toEqual({ 'shop-blue': 100, 'shop-green': 0 });
  });

  it('calls off the pending scale-down when traffic goes back within the delay', async () => {
    expect((await act('deploy')).outputs.result).toBe('success');
    expect((await act('switch', { 'scale-down-delay': '600' })).outputs.result).toBe('success');
    const run = await act('rollback');
    expect(run.outputs).toMatchObject({ result: 'success', 'live-color': 'blue' });
    expect(account.groups.get('shop-blue')?.scheduled.size).toBe(0);
    account.runScheduledActions(new Date(Date.now() + 601_000));
    expect(account.instancesOf('shop-blue')).toHaveLength(2);
  });

  it('moves traffic in weighted steps when traffic-steps asks for a progressive switch', async () => {
    account.restore();
    account = world({ green: 2 }).install();
    const run = await act('switch', {
      'traffic-steps': '10,50,100',
      'step-pause': '0',
      'public-url': `http://127.0.0.1:${previewPort}`,
      'validation-requests': '3',
    });
    expect(errorLines(run.log)).toEqual([]);
    expect(run.outputs).toMatchObject({ result: 'success', 'live-color': 'green' });
    const weights = account
      .callsOf('elasticloadbalancing:ModifyListener')
      .filter((c) => c.ListenerArn === LISTENER_ARN)
      .map((c) =>
        ((c.DefaultActions as { ForwardConfig: { TargetGroups: { Weight: number }[] } }[])[0]?.ForwardConfig.TargetGroups ?? []).map((g) => g.Weight),
      );
    expect(weights).toEqual([
      [10, 90],
      [50, 50],
      [100, 0],
    ]);
  });

  it("keeps clients on their target group during the steps (sticky-split-seconds), and puts the listener's stickiness back after", async () => {
    account.restore();
    account = world({ green: 2 }).install();
    const [blue] = [...account.targetGroups.keys()] as [string];
    const own = { Enabled: true, DurationSeconds: 120 };
    account.addListener(LISTENER_ARN, 80, [
      { Type: 'forward', ForwardConfig: { TargetGroups: [{ TargetGroupArn: blue, Weight: 1 }], TargetGroupStickinessConfig: own } },
    ]);
    const stickinessOfWrites = () =>
      account
        .callsOf('elasticloadbalancing:ModifyListener')
        .filter((c) => c.ListenerArn === LISTENER_ARN)
        .map((c) => (c.DefaultActions as { ForwardConfig: { TargetGroupStickinessConfig?: unknown } }[])[0]?.ForwardConfig.TargetGroupStickinessConfig);
    const run = await act('switch', {
      'traffic-steps': '10,50,100',
      'step-pause': '0',
      'public-url': `http://127.0.0.1:${previewPort}`,
      'validation-requests': '3',
      'sticky-split-seconds': '900',
    });
    expect(errorLines(run.log)).toEqual([]);
    expect(stickinessOfWrites()).toEqual([{ Enabled: true, DurationSeconds: 900 }, { Enabled: true, DurationSeconds: 900 }, own]);

    // A move back from a failed step also puts it back; 0 leaves the listener's own during the steps.
    account.alarms.set('shop-blue-5xx', { firesWhileServing: 'shop-blue', listener: LISTENER_ARN });
    const back = await act('switch', { 'traffic-steps': '20,100', 'step-pause': '0', 'cloudwatch-alarms': 'shop-blue-5xx' });
    expect(back.outputs).toMatchObject({ result: 'failure', 'live-color': 'green' });
    expect(stickinessOfWrites().slice(3)).toEqual([{ Enabled: true, DurationSeconds: 3600 }, own]);
    account.alarms.delete('shop-blue-5xx');
    await act('switch', {
      'traffic-steps': '20,100',
      'step-pause': '0',
      'public-url': `http://127.0.0.1:${previewPort}`,
      'validation-requests': '3',
      'sticky-split-seconds': '0',
    });
    expect(stickinessOfWrites().slice(5)).toEqual([own, own]);
  });

  it('moves all traffic back to blue when a CloudWatch alarm fires at the first step, and says which', async () => {
    account.restore();
    account = world({ green: 2 }).install();
    account.alarms.set('shop-green-5xx', { firesWhileServing: 'shop-green', listener: LISTENER_ARN });
    account.alarms.set('shop-latency', { state: 'OK', reason: 'Threshold Crossed: no datapoints above 1' });
    const run = await act('switch', { 'traffic-steps': '10,50,100', 'step-pause': '0', 'cloudwatch-alarms': 'shop-latency, shop-green-5xx' });
    expect(run.outputs).toMatchObject({ result: 'failure', 'live-color': 'blue' });
    expect(account.weightsOf(LISTENER_ARN)).toEqual({ 'shop-blue': 100, 'shop-green': 0 });
    // Each write lists the color it moves to first: green at 10%, then blue back at 100%.
    const weights = account
      .callsOf('elasticloadbalancing:ModifyListener')
      .filter((c) => c.ListenerArn === LISTENER_ARN)
      .map((c) =>
        ((c.DefaultActions as { ForwardConfig: { TargetGroups: { Weight: number }[] } }[])[0]?.ForwardConfig.TargetGroups ?? []).map((g) => g.Weight),
      );
    expect(weights).toEqual([
      [10, 90],
      [100, 0],
    ]);
    expect(failure(run)).toMatch(
      /^::error::Validation failed: alarm shop-green-5xx is ALARM: Threshold Crossed: HTTPCode_Target_5XX_Count of shop-green above 5\. Traffic was moved back to blue \d+ ms after the failed check\.$/,
    );
  });

  it('switches a listener rule instead of the default action when rule-arn is given', async () => {
    account.restore();
    account = world({ green: 2 }).install();
    const [blue] = [...account.targetGroups.keys()] as [string];
    account.addRule(RULE_ARN, LISTENER_ARN, account.forward([blue, 1]));
    const run = await act('switch', { 'rule-arn': RULE_ARN });
    expect(errorLines(run.log)).toEqual([]);
    expect(account.weightsOf(RULE_ARN)).toEqual({ 'shop-green': 100, 'shop-blue': 0 });
    expect(account.weightsOf(LISTENER_ARN)).toEqual({ 'shop-blue': 1 });
  });

  it('fails instances the SSM agent does not manage before sending anything, naming the prerequisite', async () => {
    account.restore();
    account = world({ green: 2 }).install();
    const [lost] = account.instancesOf('shop-green');
    if (!lost) throw new Error('world without green instances');
    lost.ssm = 'unmanaged';
    const run = await act('deploy');
    expect(failure(run)).toContain(
      `${lost.id}: not reachable through SSM: not a managed instance (is the SSM agent running, and does its instance profile allow AmazonSSMManagedInstanceCore?)`,
    );
    expect(account.callsOf('ssm:SendCommand').map((c) => c.InstanceIds)).toEqual([
      account
        .instancesOf('shop-green')
        .filter((i) => i !== lost)
        .map((i) => i.id),
    ]);
  });

  it('fails the release of an instance whose command never finishes, once the command timeout passed', async () => {
    account.restore();
    account = world({ green: 2 }).install();
    const [stuck] = account.instancesOf('shop-green');
    if (!stuck) throw new Error('world without green instances');
    stuck.hangs = true;
    const run = await act('deploy');
    expect(failure(run)).toMatch(
      new RegExp(`failed on 1 of 2 green host\\(s\\): ${stuck.id}: SSM command [0-9a-f-]+ did not finish in 2s \\(last status InProgress\\)`),
    );
  });

  it('fails the capacity phase, naming the group and its pending instances, when launches never come in service', async () => {
    const green = account.groups.get('shop-green');
    if (!green) throw new Error('world without green');
    green.bootPolls = Infinity;
    const run = await act('deploy');
    expect(failure(run)).toMatch(
      /Auto Scaling Group shop-green \(green\) has 0 of 2 instance\(s\) InService after 2s \(i-\w+ Pending, i-\w+ Pending\)\. See why in its activity history: aws autoscaling describe-scaling-activities --auto-scaling-group-name shop-green/,
    );
    expect(account.callsOf('ssm:SendCommand')).toEqual([]);
  });

  it('cannot prove the idle color healthy while no listener uses its target group (the ALB does not check it)', async () => {
    account.listeners.delete(TEST_LISTENER_ARN);
    const run = await act('deploy', { 'test-listener-arn': '' });
    expect(failure(run)).toMatch(/is not healthy on green: 0 of 2 green host\(s\) healthy.*balancer: unused \(Target\.NotInUse\)/);
  });

  it('runs a hosts: hook through SSM on every instance, quoted, and fails naming the instance and its output', async () => {
    account.restore();
    account = world({ green: 2 }).install();
    const [, failing] = account.instancesOf('shop-green');
    if (!failing) throw new Error('world without green instances');
    failing.run = (text) => (text.includes('bin/migrate') ? { exitCode: 1, output: 'DBI connect failed: timeout' } : hostScriptSuccess());
    const run = await act('deploy', { 'after-release': "hosts: ./bin/migrate --to 'latest'" });
    expect(account.instancesOf('shop-green').map((i) => i.ran.length)).toEqual([2, 2]);
    expect(failure(run)).toContain(`The after-release hook failed on 1 of 2 host(s): ${failing.id}: exit 1: DBI connect failed: timeout.`);
    // A shell given the document's text hands the hook to `env` as the same words the user wrote.
    const text = (account.callsOf('ssm:SendCommand').at(-1)?.Parameters as Record<string, string[]>).commands?.[0] ?? '';
    const dir = mkdtempSync(join(tmpdir(), 'bgp-hook-'));
    try {
      writeFileSync(join(dir, 'env'), `#!/bin/sh\nprintf '%s\\0' "$@" > "${dir}/argv"\n`);
      chmodSync(join(dir, 'env'), 0o755);
      execFileSync('sh', ['-c', text], { env: { PATH: `${dir}:/usr/bin:/bin` } });
      const argv = readFileSync(join(dir, 'argv'), 'utf8').split('\0').slice(0, -1);
      expect(argv.slice(-5)).toEqual(['sh', '-c', 'cd -- "$0" && exec sh -c "$1"', '/srv/shop/current', "./bin/migrate --to 'latest'"]);
      expect(argv).toContain('BLUEGREEN_RELEASE=v1.2.3');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gives each SSM command host-timeout and its grace as executionTimeout, and cancels the commands still running when the run is cancelled', async () => {
    account.restore();
    account = world({ green: 2 }).install();
    const instances = account.instancesOf('shop-green');
    for (const instance of instances) instance.hangs = true;
    const inputs = inputsFor('deploy', { 'host-timeout': '600', 'host-step-timeouts': 'restart=60,probe=30' });
    const settings = readSettings((name) => inputs[name] ?? '', ENV);
    const cancel = new AbortController();
    // No cap from the test's timing: the settings decide. The run is cancelled while the hosts work.
    const { commandTimeoutMs: _cap, ...uncapped } = clock.timing;
    const timing: AwsTiming = { ...uncapped, sleep: async (ms) => (cancel.abort(), clock.timing.sleep(ms)) };
    const releaser = new SsmReleaser(awsClients({ region: 'eu-west-1' }).ssm, new AwsCalls(timing), settings, timing, undefined, cancel.signal);
    const outcomes = await releaser.release(
      instances.map((i) => ({ name: i.id, color: 'green' as const, address: i.id })),
      'v1.2.3',
    );
    const [send] = account.callsOf('ssm:SendCommand');
    expect((send?.Parameters as Record<string, string[]>).executionTimeout).toEqual([String(600 + 60 + 30 + 30)]);
    expect(account.callsOf('ssm:CancelCommand')).toEqual([expect.objectContaining({ CommandId: expect.any(String) })]);
    expect(outcomes.map((o) => [o.ok, o.detail])).toEqual(instances.map(() => [false, 'SSM Cancelled']));
  });

  it('cancels the SSM commands as soon as the run is cancelled, in the middle of a poll wait, and the release phase ends cancelled', async () => {
    account.restore();
    account = world({ green: 2 }).install();
    for (const instance of account.instancesOf('shop-green')) instance.hangs = true;
    const cancellation = new Cancellation();
    // Virtual time: a sleep passes its whole time unless its signal wakes it first. The job is
    // cancelled while the release waits out its first 15 s poll wait.
    let now = 0;
    let abort: { at: number; calls: number } | undefined;
    const sleeps: { at: number; ms: number; woken: boolean; afterCancel: boolean }[] = [];
    const timing: AwsTiming = {
      ...clock.timing,
      pollMs: 15_000,
      maxPollMs: 15_000,
      commandTimeoutMs: 600_000,
      sleep: (ms, signal) =>
        new Promise<void>((resolve) => {
          const entry = { at: now, ms, woken: false, afterCancel: cancellation.requested };
          sleeps.push(entry);
          let over = false;
          const end = (woken: boolean) => {
            if (over) return;
            over = true;
            entry.woken = woken;
            if (!woken) now += ms;
            resolve();
          };
          if (signal?.aborted) return end(true);
          signal?.addEventListener('abort', () => end(true), { once: true });
          if (!cancellation.requested && account.callsOf('ssm:SendCommand').length > 0) {
            setImmediate(() => {
              abort = { at: now, calls: account.calls.length };
              cancellation.cancel('SIGINT');
            });
          }
          setImmediate(() => setImmediate(() => end(false)));
        }),
    };
    const inputs = inputsFor('deploy');
    const settings = readSettings((name) => inputs[name] ?? '', ENV);
    const run = await runAction(inputs, await createProvider(settings, timing, cancellation.aborted), ENV, { cancellation });
    // The very next call after the abort cancels the command, with no time slept in between.
    expect(abort).toBeDefined();
    expect(account.calls.slice(abort?.calls).map((c) => c.action)[0]).toBe('ssm:CancelCommand');
    expect(sleeps.find((s) => s.afterCancel)?.at).toBe(abort?.at);
    expect(account.callsOf('ssm:CancelCommand')).toEqual([{ CommandId: expect.any(String) }]);
    // The poll wait it landed in was cut short; the statuses came in with short polls, within the wind-down.
    const cut = sleeps.filter((s) => s.woken);
    expect(cut.map((s) => s.ms)).toEqual([15_000]);
    const collecting = sleeps.filter((s) => s.afterCancel);
    expect(collecting.length).toBeGreaterThan(0);
    expect(collecting.every((s) => s.ms === CANCELLED_POLL_MS)).toBe(true);
    expect(now - (abort?.at ?? 0)).toBeLessThanOrEqual(CANCELLED_COLLECT_MS);
    expect(CANCELLED_COLLECT_MS).toBeLessThan(WIND_DOWN_MS);
    // Both instances report SSM's Cancelled; the release phase ends cancelled, not failed, and traffic stays on blue.
    expect(visibleLog(run.log)).toMatch(/✖ Release[^\n]*: cancelled \(SIGINT\)[^\n]*SSM Cancelled/);
    expect(run.failed).toBe(true);
    expect(run.summary).toMatch(/cancelled/);
    expect(account.callsOf('elasticloadbalancing:ModifyListener')).toEqual([]);
  });

  it('names the input when a target group does not exist', async () => {
    const run = await act('switch', { 'green-target-group': 'shop-grene' });
    expect(failure(run)).toMatch(
      /^::error::shop-blue, shop-grene was not found by elasticloadbalancing:DescribeTargetGroups \(TargetGroupNotFoundException: One or more target groups not found\)\. Input blue-target-group \/ green-target-group: name target groups that exist in eu-west-1\.$/,
    );
  });

  it('refuses a deploy without release-repository or release-bucket: SSM cannot upload from the runner', async () => {
    const run = await act('deploy', { 'release-repository': '' });
    expect(failure(run)).toBe(
      "::error::Input 'release-repository': is empty, but provider aws releases through SSM Run Command, which cannot upload the release from the runner. Set release-bucket (the runner uploads release-path to S3 once), or release-repository (and release-ref) so each instance fetches the release with git",
    );
    expect(account.callsOf('ssm:SendCommand')).toEqual([]);
  });
});

describe('the SSM document', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'bgp-ssm-'));
    account = world({ blue: 1, green: 1 }).install();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('runs exactly the shared host script with the release parameters, quoted: a shell hands them to perl unchanged', async () => {
    // Shell metacharacters in what the user typed must reach the script as data.
    const release = `v1 $(touch ${dir}/pwned) 'x' "y" \`id\``;
    const extra = { release, 'release-ref': 'main; rm -rf /', 'app-dir': '/srv/shop app' };
    const run = await act('deploy', extra);
    expect(errorLines(run.log)).toEqual([]);
    const [send] = account.callsOf('ssm:SendCommand');
    const [instance] = account.instancesOf('shop-green');
    if (!send || !instance) throw new Error('nothing was sent');
    const inputs = inputsFor('deploy', extra);
    const settings = readSettings((name) => inputs[name] ?? '', ENV);
    const host = { name: instance.id, color: 'green' as const, address: instance.ip };
    const source = { kind: 'git' as const, repository: REPOSITORY, ref: 'main; rm -rf /' };
    expect(send).toMatchObject({ DocumentName: 'AWS-RunShellScript', InstanceIds: [instance.id] });
    expect((send.Parameters as Record<string, string[]>).commands).toEqual([hostScriptShellCommand(settings, host, release, source)]);

    // Run that text in a shell with a `perl` that records what it was given.
    const text = (send.Parameters as Record<string, string[]>).commands?.[0] ?? '';
    writeFileSync(join(dir, 'perl'), `#!/bin/sh\ncp "$1" "${dir}/script"\nshift\nprintf '%s\\0' "$@" > "${dir}/argv"\n`);
    chmodSync(join(dir, 'perl'), 0o755);
    execFileSync('sh', ['-c', text], { env: { PATH: `${dir}:/usr/bin:/bin` } });
    const argv = readFileSync(join(dir, 'argv'), 'utf8').split('\0').slice(0, -1);
    expect(argv).toEqual(hostScriptArguments(settings, host, release, source));
    expect(argv).toContain(`--release=${release}`);
    expect(readFileSync(join(dir, 'script'), 'utf8')).toBe(hostScript().replace(/\n?$/, '\n'));
    expect(() => readFileSync(join(dir, 'pwned'))).toThrow();
  });

  /** Each green instance runs the document's real shell text, with a `perl` that prints `lines` noisy lines and then `closing`. */
  function noisyHostScript(lines: number, closing: string, exitCode: number): void {
    const noise = 'Building Some-Dist-1.0 ... compiling lib/Some/Module.xs: a long line of compiler output';
    writeFileSync(
      join(dir, 'perl'),
      `#!/bin/sh\ni=0\nwhile [ $i -lt ${lines} ]; do echo "$i ${noise}"; i=$((i+1)); done\necho '${closing}'\nexit ${exitCode}\n`,
    );
    chmodSync(join(dir, 'perl'), 0o755);
    for (const instance of account.instancesOf('shop-green')) {
      instance.run = (text) => {
        const ran = spawnSync('sh', ['-c', text], { env: { PATH: `${dir}:/usr/bin:/bin`, TMPDIR: dir }, encoding: 'utf8' });
        return { exitCode: ran.status ?? 1, output: ran.stdout + ran.stderr };
      };
    }
  }
  const keptLogs = () => readdirSync(dir).filter((name) => name.startsWith('bluegreen-perl-host-script.'));

  it('reads a good release from its closing line when the host script printed more than SSM keeps', async () => {
    noisyHostScript(500, '==> OK: release v1.2.3 is live on this host (releases/v1.2.3)', 0);
    const run = await act('deploy');
    expect(errorLines(run.log)).toEqual([]);
    // The whole output stays on the instance; SSM got its end, closing line included.
    const [log] = keptLogs();
    expect(readFileSync(join(dir, log!), 'utf8').length).toBeGreaterThan(40_000);
    expect(readFileSync(join(dir, log!), 'utf8')).toMatch(/^0 Building/);
  });

  it('names the failed step and where the whole log is when a long host script fails', async () => {
    noisyHostScript(500, '==> FAILED install: carton install --deployment failed (exit 1)', 1);
    const run = await act('deploy');
    const [log] = keptLogs();
    expect(failure(run)).toContain(`: step install: carton install --deployment failed (exit 1); last output: `);
    expect(failure(run)).toContain(`; full log on the instance: ${join(dir, log!)}`);
  });
});

describe('provider aws with release-bucket: the release through S3', () => {
  const CREDENTIALS = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
  const ENV_NAMES = ['AWS_ENDPOINT_URL', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE'] as const;
  const savedEnv = Object.fromEntries(ENV_NAMES.map((name) => [name, process.env[name]]));
  let s3: S3Double;
  let app: string;
  let tarball: Buffer;

  beforeAll(async () => {
    s3 = await S3Double.start({ host: '127.0.41.1', region: 'eu-west-1', buckets: ['shop-releases'], credentials: CREDENTIALS });
    // The SDK's standard settings, as aws-actions/configure-aws-credentials and a local endpoint leave them.
    Object.assign(process.env, { AWS_ENDPOINT_URL: s3.url, AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey });
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;
    app = mkdtempSync(join(tmpdir(), 'bgp-s3-app-'));
    writeFileSync(join(app, 'app.psgi'), 'sub { [200, [], ["ok"]] }\n');
    writeFileSync(join(app, 'cpanfile'), "requires 'Plack';\n");
    tarball = await releaseTarball(app);
  });
  afterAll(async () => {
    await s3?.stop();
    for (const name of ENV_NAMES) {
      if (savedEnv[name] === undefined) delete process.env[name];
      else process.env[name] = savedEnv[name];
    }
    rmSync(app, { recursive: true, force: true });
  });
  beforeEach(() => {
    s3.objects.clear();
    s3.requests.length = 0;
    s3.clockOffsetMs = 0;
    s3.listBucket = true;
    s3.denied.clear();
  });

  const bucketInputs = (extra: Record<string, string> = {}) => ({
    'release-repository': '',
    'release-path': app,
    'release-bucket': 'shop-releases',
    'release-prefix': 'releases',
    ...extra,
  });
  const expectedSha = (): string => createHash('sha256').update(tarball).digest('hex');
  const urlIn = (text: string): string => /^export BLUEGREEN_RELEASE_URL=(?:'([^']*)'|(\S+))$/m.exec(text)?.slice(1).find(Boolean) ?? '';
  const textsSent = (): string[] => account.callsOf('ssm:SendCommand').map((send) => (send.Parameters as Record<string, string[]>).commands?.[0] ?? '');

  it('uploads the tarball to S3 with its SHA-256 checksum, and each instance gets a masked presigned URL and the SHA-256 to check', async () => {
    account = world().install();
    const run = await act('deploy', bucketInputs());
    expect(errorLines(run.log)).toEqual([]);
    const green = account.instancesOf('shop-green');
    const key = `releases/shop/v1.2.3/${expectedSha()}.tar.gz`;
    expect(s3.requests.filter((r) => r.method === 'PUT').map((r) => [r.key, r.auth, r.status])).toEqual([[key, 'header', 200]]);
    expect(s3.object('shop-releases', key)?.body.equals(tarball)).toBe(true);
    expect(s3.object('shop-releases', key)?.checksumSha256).toBe(createHash('sha256').update(tarball).digest('base64'));
    expect(s3.authFailures).toEqual([]);
    const texts = textsSent();
    expect(texts.length).toBeGreaterThanOrEqual(1);
    const url = urlIn(texts[0] ?? '');
    expect(url).toMatch(new RegExp(`^${s3.url}/shop-releases/releases/shop/v1\\.2\\.3/${expectedSha()}\\.tar\\.gz\\?.*X-Amz-Signature=`));
    expect(texts.every((text) => text.includes(`--sha256=${expectedSha()}`) && text.includes('--source=url'))).toBe(true);
    // Valid for the batch: the command timeout and a last poll, and a minute for clocks.
    expect(new URL(url).searchParams.get('X-Amz-Expires')).toBe(String(Math.ceil(((clock.timing.commandTimeoutMs ?? 0) + clock.timing.maxPollMs) / 1000) + 60));
    expect(green.length).toBeGreaterThan(0);
    // Masked, and nowhere else in the log or the summary.
    // A workflow command escapes `%` as `%25`; the runner unescapes it before masking.
    expect(run.log).toContain(`::add-mask::${url.replace(/%/g, '%25')}`);
    expect(visibleLog(run.log)).not.toContain('X-Amz-Signature');
    expect(run.summary).not.toContain('X-Amz-Signature');
    expect(visibleLog(run.log)).toContain(`Uploading release v1.2.3 (${tarball.length} bytes`);
    // What an instance does with it: a plain GET, no AWS credentials.
    const got = await fetch(url);
    expect(got.status).toBe(200);
    expect(
      createHash('sha256')
        .update(Buffer.from(await got.arrayBuffer()))
        .digest('hex'),
    ).toBe(expectedSha());
  });

  it('sends one upload for more instances than one SendCommand takes', async () => {
    account = world({ green: 60 }).install();
    const run = await act('deploy', bucketInputs());
    expect(errorLines(run.log)).toEqual([]);
    expect(account.callsOf('ssm:SendCommand').map((send) => (send.InstanceIds as string[]).length)).toEqual([50, 10]);
    expect(s3.requests.filter((r) => r.method === 'PUT')).toHaveLength(1);
    const [first, second] = textsSent().map(urlIn);
    expect(first).toBe(second);
  });

  it('does not upload the same content again on a second deploy, and says so', async () => {
    account = world({ green: 2 }).install();
    expect(errorLines((await act('deploy', bucketInputs())).log)).toEqual([]);
    const again = await act('deploy', bucketInputs());
    expect(errorLines(again.log)).toEqual([]);
    expect(s3.requests.filter((r) => r.method === 'PUT')).toHaveLength(1);
    expect(visibleLog(again.log)).toContain(
      `s3://shop-releases/releases/shop/v1.2.3/${expectedSha()}.tar.gz already holds this release (same SHA-256 ${expectedSha().slice(0, 12)}…): not uploading it again`,
    );
    expect(s3.requests.map((r) => `${r.method} ${r.status}`)).toEqual(['HEAD 404', 'PUT 200', 'HEAD 200']);
  });

  it('uploads without s3:ListBucket (a missing object then answers 403), and names s3:GetObject when the instances could not download', async () => {
    account = world({ green: 1 }).install();
    s3.listBucket = false;
    const run = await act('deploy', bucketInputs());
    expect(errorLines(run.log)).toEqual([]);
    expect(s3.requests.map((r) => `${r.method} ${r.status}`)).toEqual(['HEAD 403', 'PUT 200', 'HEAD 200']);

    s3.objects.clear();
    s3.denied.add('s3:GetObject');
    const denied = await act('deploy', bucketInputs());
    expect(denied.failed).toBe(true);
    expect(failure(denied)).toContain(`AWS denied s3:GetObject on s3://shop-releases/releases/shop/v1.2.3/${expectedSha()}.tar.gz (AccessDenied`);
    expect(failure(denied)).toContain('Grant the role s3:GetObject');
  });

  it('fails with the permission to grant when S3 refuses the upload, before any instance is touched', async () => {
    account = world({ green: 1 }).install();
    s3.denied.add('s3:PutObject');
    const run = await act('deploy', bucketInputs());
    expect(run.failed).toBe(true);
    expect(failure(run)).toContain(
      `AWS denied s3:PutObject on s3://shop-releases/releases/shop/v1.2.3/${expectedSha()}.tar.gz (AccessDenied: Access Denied). Grant the role s3:PutObject`,
    );
    expect(account.callsOf('ssm:SendCommand')).toEqual([]);
  });

  it('turns a request S3 cannot verify (a wrong secret key) into one line about the credentials', async () => {
    account = world({ green: 1 }).install();
    process.env.AWS_SECRET_ACCESS_KEY = 'not-the-secret';
    try {
      const run = await act('deploy', bucketInputs());
      expect(run.failed).toBe(true);
      expect(failure(run)).toMatch(
        /AWS s3:PutObject on s3:\/\/shop-releases\/\S+ failed: no valid AWS credentials \(SignatureDoesNotMatch: The request signature we calculated does not match the signature you provided\. Check your key and signing method\.\)\. Run aws-actions\/configure-aws-credentials/,
      );
    } finally {
      process.env.AWS_SECRET_ACCESS_KEY = CREDENTIALS.secretAccessKey;
    }
    expect(s3.requests.map((r) => `${r.method} ${r.status} ${r.code}`)).toEqual(['HEAD 403 SignatureDoesNotMatch', 'PUT 403 SignatureDoesNotMatch']);
    expect(account.callsOf('ssm:SendCommand')).toEqual([]);
  });

  it('refuses an expired presigned URL and a tampered signature with S3 errors', async () => {
    account = world({ green: 1 }).install();
    expect(errorLines((await act('deploy', bucketInputs())).log)).toEqual([]);
    const url = new URL(urlIn(textsSent()[0] ?? ''));
    const tampered = new URL(url);
    tampered.searchParams.set('X-Amz-Signature', '0'.repeat(64));
    const forged = await fetch(tampered);
    expect(forged.status).toBe(403);
    expect(await forged.text()).toMatch(
      /<Error><Code>SignatureDoesNotMatch<\/Code><Message>The request signature we calculated does not match the signature you provided\. Check your key and signing method\.<\/Message>/,
    );
    s3.clockOffsetMs = (Number(url.searchParams.get('X-Amz-Expires')) + 1) * 1000;
    const late = await fetch(url);
    expect(late.status).toBe(403);
    expect(await late.text()).toMatch(/<Error><Code>AccessDenied<\/Code><Message>Request has expired<\/Message><X-Amz-Expires>\d+<\/X-Amz-Expires>/);
  });

  it('reads release-bucket and release-prefix, with one clear line for a bad value', async () => {
    const read = (extra: Record<string, string>) => {
      const inputs = { ...inputsFor('deploy', bucketInputs()), ...extra };
      return readSettings((name) => inputs[name] ?? '', ENV);
    };
    const provider = read({}).provider;
    expect(provider.name === 'aws' && provider.releaseBucket).toEqual({ bucket: 'shop-releases', prefix: 'releases/' });
    expect(() => read({ 'release-bucket': 's3://shop-releases' })).toThrow(
      /^Input 'release-bucket': 's3:\/\/shop-releases' is not valid\. Give the bucket name only/,
    );
    expect(() => read({ 'release-prefix': '/releases' })).toThrow(/^Input 'release-prefix': '\/releases' cannot start an S3 key/);
    expect(() => read({ 'release-repository': REPOSITORY })).toThrow(/^Input 'release-bucket': is set together with release-repository/);
    expect(() => read({ 'release-bucket': '' })).toThrow(
      /^Input 'release-prefix': is set without release-bucket\. Set release-bucket too, or remove release-prefix$/,
    );
    expect(() =>
      readSettings(
        (name) =>
          ({ mode: 'deploy', provider: 'ssh', 'app-name': 'shop', 'blue-hosts': '10.0.0.1', 'green-hosts': '10.0.0.2', 'release-bucket': 'shop-releases' })[
            name
          ] ?? '',
        ENV,
      ),
    ).toThrow(/^Input 'release-bucket': is set, but provider ssh streams the release/);
  });
});

describe('the S3 double', () => {
  // The examples of the S3 API reference ("Signature Calculations for the Authorization Header",
  // "Authenticating Requests: Using Query Parameters"): the double computes AWS's own signatures.
  const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
  const SCOPE = '20130524/us-east-1/s3/aws4_request';
  const EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

  it("signs S3's documented GET Object example to the documented signature", () => {
    const { stringToSign: toSign } = stringToSign({
      method: 'GET',
      rawPath: '/test.txt',
      query: [],
      headers: { host: 'examplebucket.s3.amazonaws.com', range: 'bytes=0-9', 'x-amz-content-sha256': EMPTY, 'x-amz-date': '20130524T000000Z' },
      signedHeaders: ['host', 'range', 'x-amz-content-sha256', 'x-amz-date'],
      payloadHash: EMPTY,
      amzDate: '20130524T000000Z',
      scope: SCOPE,
    });
    expect(signatureOf(SECRET, SCOPE, toSign)).toBe('f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41');
  });

  it("signs S3's documented presigned URL example to the documented signature", () => {
    const query: [string, string][] = [
      ['X-Amz-Algorithm', 'AWS4-HMAC-SHA256'],
      ['X-Amz-Credential', `AKIAIOSFODNN7EXAMPLE/${SCOPE}`],
      ['X-Amz-Date', '20130524T000000Z'],
      ['X-Amz-Expires', '86400'],
      ['X-Amz-SignedHeaders', 'host'],
    ];
    const { stringToSign: toSign } = stringToSign({
      method: 'GET',
      rawPath: '/test.txt',
      query,
      headers: { host: 'examplebucket.s3.amazonaws.com' },
      signedHeaders: ['host'],
      payloadHash: 'UNSIGNED-PAYLOAD',
      amzDate: '20130524T000000Z',
      scope: SCOPE,
    });
    expect(signatureOf(SECRET, SCOPE, toSign)).toBe('aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404');
  });
});
