import { randomUUID } from 'node:crypto';
import { mockClient } from 'aws-sdk-client-mock';
import { CloudWatchClient, CloudWatchServiceException, DescribeAlarmsCommand, type MetricAlarm } from '@aws-sdk/client-cloudwatch';
import {
  AutoScalingClient,
  AutoScalingServiceException,
  DeleteScheduledActionCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeScheduledActionsCommand,
  PutScheduledUpdateGroupActionCommand,
  UpdateAutoScalingGroupCommand,
  type AutoScalingGroup,
} from '@aws-sdk/client-auto-scaling';
import {
  DescribeListenersCommand,
  DescribeLoadBalancersCommand,
  DescribeRulesCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  ElasticLoadBalancingV2ServiceException,
  ListenerNotFoundException,
  ModifyListenerCommand,
  ModifyRuleCommand,
  RuleNotFoundException,
  TargetGroupNotFoundException,
  type Action,
  type TargetHealthDescription,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import {
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  InvalidInstanceId,
  InvocationDoesNotExist,
  ListCommandInvocationsCommand,
  CancelCommandCommand,
  SSMClient,
  SSMServiceException,
  SendCommandCommand,
} from '@aws-sdk/client-ssm';

/**
 * A small stateful model of one AWS account, behind `aws-sdk-client-mock`: an ALB with listeners,
 * rules and target groups (targets whose health follows the instances), Auto Scaling Groups whose
 * instances go Pending -> InService over polls, and SSM commands whose invocations go Pending ->
 * InProgress -> Success/Failed over polls. Errors have the SDK's shapes: modeled exception classes
 * where the SDK has them, else a service exception with the wire error code as `name`.
 */

export const ACCOUNT_ID = '123456789012';
export const REGION = 'eu-west-1';
const ELB_ARN = `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT_ID}`;
export const LOAD_BALANCER_ARN = `${ELB_ARN}:loadbalancer/app/shop/50dc6c495c0c9188`;
export const LISTENER_ARN = `${ELB_ARN}:listener/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2`;
export const TEST_LISTENER_ARN = `${ELB_ARN}:listener/app/shop/50dc6c495c0c9188/0467ef3c8400ae65`;
export const RULE_ARN = `${ELB_ARN}:listener-rule/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee`;
export const targetGroupArn = (name: string): string => `${ELB_ARN}:targetgroup/${name}/${Buffer.from(name).toString('hex').slice(0, 16).padEnd(16, '0')}`;
const ROLE = `arn:aws:sts::${ACCOUNT_ID}:assumed-role/bluegreen-deploy/GitHubActions`;

export interface InstanceModel {
  id: string;
  group: string;
  ip: string;
  lifecycle: 'Pending' | 'InService';
  /** DescribeAutoScalingGroups polls left before a Pending instance is InService. */
  pendingPolls: number;
  /** The app answers the target group's health check. */
  serving: boolean;
  /** The app never answers healthy, whatever is released. */
  broken: boolean;
  /** `Online`, `ConnectionLost`, or `unmanaged` (no SSM agent or no instance profile). */
  ssm: 'Online' | 'ConnectionLost' | 'unmanaged';
  /** Its SSM invocations never finish (a host script stuck on a lock, say). */
  hangs: boolean;
  /** What the host script prints and exits with on this instance. */
  run: (commandText: string) => { exitCode: number; output: string };
  /** Commands run here, in order. */
  ran: string[];
}

export interface GroupModel {
  name: string;
  min: number;
  max: number;
  desired: number;
  targetGroups: string[];
  /** Instances it launches serve the app from boot (a baked AMI or user data), before any release. */
  launchesServing: boolean;
  /** Polls a launch stays Pending; Infinity for launches that never come up (no capacity in the zone). */
  bootPolls: number;
  scheduled: Map<string, { startTime: Date; min?: number; desired?: number }>;
}

interface TargetModel {
  id: string;
  port: number;
  /** Health checks run since registration: the first ones report `initial`. */
  checks: number;
}

interface TargetGroupModel {
  arn: string;
  name: string;
  deregistrationDelay: number;
  targets: TargetModel[];
}

interface CommandModel {
  id: string;
  text: string;
  instanceIds: string[];
  input: Record<string, unknown>;
  listed: number;
  invocations: Map<
    string,
    { status: 'Pending' | 'InProgress' | 'Success' | 'Failed' | 'Cancelling' | 'Cancelled' | 'TimedOut'; exitCode?: number; output?: string }
  >;
}

/** A succeeding host script's output, as host-script.pl prints it. */
export function hostScriptSuccess(): { exitCode: number; output: string } {
  return {
    exitCode: 0,
    output: ['==> [1/7] fetch: git fetch', 'Fetched.', '==> [7/7] prune: keep 5', '==> OK: release is live on this host (releases/r1)'].join('\n'),
  };
}

type Handler = (input: Record<string, unknown>) => unknown;

/**
 * What a world with real machines (aws-world.ts) puts behind the model: launches bound to real
 * hosts, target health from a real load balancer's checks, commands really run. Without them the
 * model answers from its own fields (`serving`, `broken`, `run`), a step per poll.
 */
export interface AccountHooks {
  /** An instance was launched into `group` (its `ip` and `ssm` may be set here). */
  launched?(instance: InstanceModel, group: GroupModel): void;
  terminated?(instance: InstanceModel): void;
  /** Targets were registered or deregistered, or a listener's or rule's actions changed. */
  changed?(): void;
  /** A registered target's health while a listener uses its group; undefined: not checked yet (`initial`). */
  targetHealth?(targetGroupArn: string, instance: InstanceModel): { State: string; Reason?: string; Description?: string } | undefined;
  /** Runs an `AWS-RunShellScript` text on the instance; `timedOut` when `executionTimeout` seconds passed first. */
  execute?(instance: InstanceModel, text: string, timeoutSeconds: number): Promise<{ exitCode: number; output: string; timedOut?: boolean }>;
}

function validation(service: 'elb' | 'asg' | 'ssm', message: string): Error {
  const meta = { $metadata: { httpStatusCode: 400 }, $fault: 'client' as const, message };
  if (service === 'ssm') return new SSMServiceException({ name: 'ValidationException', ...meta });
  if (service === 'asg') return new AutoScalingServiceException({ name: 'ValidationError', ...meta });
  return new ElasticLoadBalancingV2ServiceException({ name: 'ValidationError', ...meta });
}

const clone = <T>(value: T): T => structuredClone(value);

/** SSM's StatusDetails beside a Status: the same word, except the spelled-out ones. */
const statusDetails = (status: string): string => ({ InProgress: 'In Progress', TimedOut: 'Execution Timed Out' })[status] ?? status;

export class AwsAccount {
  readonly loadBalancer = { arn: LOAD_BALANCER_ARN, dnsName: '127.0.0.1' };
  readonly listeners = new Map<string, { port: number; protocol: string; actions: Action[] }>();
  readonly rules = new Map<string, { listener: string; actions: Action[] }>();
  readonly targetGroups = new Map<string, TargetGroupModel>();
  readonly groups = new Map<string, GroupModel>();
  readonly instances = new Map<string, InstanceModel>();
  readonly commands: CommandModel[] = [];
  /** Every call that reached the account, as its IAM action, with its input. */
  readonly calls: { action: string; input: Record<string, unknown> }[] = [];
  /** CloudWatch alarms: a fixed state, or one that fires while a target group gets traffic. */
  readonly alarms = new Map<string, { state: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA'; reason: string } | { firesWhileServing: string; listener: string }>();
  private readonly denied = new Set<string>();
  private readonly throttled = new Map<string, number>();
  private instanceCount = 0;
  hooks: AccountHooks = {};
  private stubs: { restore(): void }[] = [];

  // --- building the world -------------------------------------------------------------------

  addTargetGroup(name: string, deregistrationDelay = 300): string {
    const arn = targetGroupArn(name);
    this.targetGroups.set(arn, { arn, name, deregistrationDelay, targets: [] });
    return arn;
  }

  addListener(arn: string, port: number, actions: Action[]): void {
    this.listeners.set(arn, { port, protocol: 'HTTP', actions: clone(actions) });
  }

  addRule(arn: string, listener: string, actions: Action[]): void {
    this.rules.set(arn, { listener, actions: clone(actions) });
  }

  /** An Auto Scaling Group with `desired` instances already InService and registered. */
  addGroup(name: string, options: { desired: number; min?: number; max?: number; targetGroup: string; launchesServing?: boolean }): GroupModel {
    const group: GroupModel = {
      name,
      min: options.min ?? 0,
      max: options.max ?? Math.max(options.desired, 4),
      desired: options.desired,
      targetGroups: [options.targetGroup],
      launchesServing: options.launchesServing ?? true,
      bootPolls: 2,
      scheduled: new Map(),
    };
    this.groups.set(name, group);
    for (let i = 0; i < options.desired; i++) {
      const instance = this.launch(group);
      instance.lifecycle = 'InService';
      instance.pendingPolls = 0;
      instance.serving = true;
      this.register(instance);
    }
    return group;
  }

  instancesOf(group: string): InstanceModel[] {
    return [...this.instances.values()].filter((i) => i.group === group);
  }

  forward(...groups: [arn: string, weight: number][]): Action[] {
    return [{ Type: 'forward', ForwardConfig: { TargetGroups: groups.map(([arn, weight]) => ({ TargetGroupArn: arn, Weight: weight })) } }];
  }

  /** The weight each target group gets in a listener's (or rule's) forward, by name. */
  weightsOf(arn: string): Record<string, number> {
    const actions = this.listeners.get(arn)?.actions ?? this.rules.get(arn)?.actions ?? [];
    const forward = actions.find((a) => a.Type === 'forward');
    const out: Record<string, number> = {};
    for (const g of forward?.ForwardConfig?.TargetGroups ?? []) out[this.targetGroups.get(g.TargetGroupArn ?? '')?.name ?? '?'] = g.Weight ?? 1;
    return out;
  }

  /** Every call of `action` fails with AccessDenied, as for a role whose policy lacks it. */
  deny(action: string): void {
    this.denied.add(action);
  }

  /** The next `times` calls of `action` are throttled. */
  throttle(action: string, times: number): void {
    this.throttled.set(action, times);
  }

  callsOf(action: string): Record<string, unknown>[] {
    return this.calls.filter((c) => c.action === action).map((c) => c.input);
  }

  /** Time passes: the scheduled actions due by `at` run, and are gone (they are one-time). */
  runScheduledActions(at: Date): void {
    for (const group of this.groups.values()) {
      for (const [name, action] of group.scheduled) {
        if (action.startTime > at) continue;
        if (action.min !== undefined) group.min = action.min;
        if (action.desired !== undefined) group.desired = action.desired;
        group.scheduled.delete(name);
        this.reconcile(group);
      }
    }
  }

  // --- the mocks -------------------------------------------------------------------------------

  /** Routes the SDK clients to this account until `restore`. */
  install(): this {
    const elb = mockClient(ElasticLoadBalancingV2Client);
    const asg = mockClient(AutoScalingClient);
    const ssm = mockClient(SSMClient);
    const cloudWatch = mockClient(CloudWatchClient);
    const unknown = () => {
      throw new Error('the AWS account model does not implement this call');
    };
    elb.onAnyCommand().callsFake(unknown);
    asg.onAnyCommand().callsFake(unknown);
    ssm.onAnyCommand().callsFake(unknown);
    cloudWatch.onAnyCommand().callsFake(unknown);
    const on = (client: { on(command: never): { callsFake(fake: (input: Record<string, unknown>) => unknown): unknown } }, command: unknown, action: string) =>
      client.on(command as never).callsFake(async (input) => this.answer(action, input));
    on(cloudWatch, DescribeAlarmsCommand, 'cloudwatch:DescribeAlarms');
    on(elb, DescribeListenersCommand, 'elasticloadbalancing:DescribeListeners');
    on(elb, DescribeRulesCommand, 'elasticloadbalancing:DescribeRules');
    on(elb, ModifyListenerCommand, 'elasticloadbalancing:ModifyListener');
    on(elb, ModifyRuleCommand, 'elasticloadbalancing:ModifyRule');
    on(elb, DescribeTargetGroupsCommand, 'elasticloadbalancing:DescribeTargetGroups');
    on(elb, DescribeTargetHealthCommand, 'elasticloadbalancing:DescribeTargetHealth');
    on(elb, DescribeTargetGroupAttributesCommand, 'elasticloadbalancing:DescribeTargetGroupAttributes');
    on(elb, DescribeLoadBalancersCommand, 'elasticloadbalancing:DescribeLoadBalancers');
    on(asg, DescribeAutoScalingGroupsCommand, 'autoscaling:DescribeAutoScalingGroups');
    on(asg, UpdateAutoScalingGroupCommand, 'autoscaling:UpdateAutoScalingGroup');
    on(asg, DescribeScheduledActionsCommand, 'autoscaling:DescribeScheduledActions');
    on(asg, PutScheduledUpdateGroupActionCommand, 'autoscaling:PutScheduledUpdateGroupAction');
    on(asg, DeleteScheduledActionCommand, 'autoscaling:DeleteScheduledAction');
    on(ssm, DescribeInstanceInformationCommand, 'ssm:DescribeInstanceInformation');
    on(ssm, SendCommandCommand, 'ssm:SendCommand');
    on(ssm, ListCommandInvocationsCommand, 'ssm:ListCommandInvocations');
    on(ssm, GetCommandInvocationCommand, 'ssm:GetCommandInvocation');
    on(ssm, CancelCommandCommand, 'ssm:CancelCommand');
    this.stubs = [elb, asg, ssm, cloudWatch];
    return this;
  }

  restore(): void {
    for (const stub of this.stubs) stub.restore();
    this.stubs = [];
  }

  /** The model's answer to one call, by IAM action: what the mocks and the wire double (aws-wire.ts) both serve. */
  private readonly handlers: Record<string, Handler> = {
    'cloudwatch:DescribeAlarms': (i) => this.describeAlarms(i),
    'elasticloadbalancing:DescribeListeners': (i) => this.describeListeners(i),
    'elasticloadbalancing:DescribeRules': (i) => this.describeRules(i),
    'elasticloadbalancing:ModifyListener': (i) => this.modifyListener(i),
    'elasticloadbalancing:ModifyRule': (i) => this.modifyRule(i),
    'elasticloadbalancing:DescribeTargetGroups': (i) => this.describeTargetGroups(i),
    'elasticloadbalancing:DescribeTargetHealth': (i) => this.describeTargetHealth(i),
    'elasticloadbalancing:DescribeTargetGroupAttributes': (i) => this.describeTargetGroupAttributes(i),
    'elasticloadbalancing:DescribeLoadBalancers': (i) => this.describeLoadBalancers(i),
    'autoscaling:DescribeAutoScalingGroups': (i) => this.describeGroups(i),
    'autoscaling:UpdateAutoScalingGroup': (i) => this.updateGroup(i),
    'autoscaling:DescribeScheduledActions': (i) => this.describeScheduled(i),
    'autoscaling:PutScheduledUpdateGroupAction': (i) => this.putScheduled(i),
    'autoscaling:DeleteScheduledAction': (i) => this.deleteScheduled(i),
    'ssm:DescribeInstanceInformation': (i) => this.describeInstanceInformation(i),
    'ssm:SendCommand': (i) => this.sendCommand(i),
    'ssm:ListCommandInvocations': (i) => this.listInvocations(i),
    'ssm:GetCommandInvocation': (i) => this.getInvocation(i),
    'ssm:CancelCommand': (i) => this.cancelCommand(i),
  };

  /** Whether the model answers `action` (`elasticloadbalancing:ModifyListener`). */
  answers(action: string): boolean {
    return action in this.handlers;
  }

  /**
   * One call of `action`: recorded, then throttled or denied when asked, else answered by the model.
   * Failures are thrown with the SDK's shapes (`name` is the wire error code or the modeled exception).
   */
  answer(action: string, input: Record<string, unknown>): unknown {
    const handler = this.handlers[action];
    if (!handler) throw new Error(`the AWS account model does not implement ${action}`);
    return this.handle(action, input, handler);
  }

  private handle(action: string, input: Record<string, unknown>, handler: Handler): unknown {
    this.calls.push({ action, input: clone(input) });
    const service = action.startsWith('ssm:') ? 'ssm' : action.startsWith('autoscaling:') ? 'asg' : action.startsWith('cloudwatch:') ? 'cloudwatch' : 'elb';
    const query = service !== 'ssm';
    const left = this.throttled.get(action) ?? 0;
    if (left > 0) {
      this.throttled.set(action, left - 1);
      const meta = { $metadata: { httpStatusCode: 400 }, $fault: 'client' as const, message: 'Rate exceeded' };
      if (service === 'ssm') throw new SSMServiceException({ name: 'ThrottlingException', ...meta });
      if (service === 'asg') throw new AutoScalingServiceException({ name: 'Throttling', ...meta });
      if (service === 'cloudwatch') throw new CloudWatchServiceException({ name: 'Throttling', ...meta });
      throw new ElasticLoadBalancingV2ServiceException({ name: 'Throttling', ...meta });
    }
    if (this.denied.has(action)) {
      const message = `User: ${ROLE} is not authorized to perform: ${action} because no identity-based policy allows the ${action} action`;
      const meta = { $metadata: { httpStatusCode: query ? 403 : 400 }, $fault: 'client' as const, message };
      if (service === 'ssm') throw new SSMServiceException({ name: 'AccessDeniedException', ...meta });
      if (service === 'asg') throw new AutoScalingServiceException({ name: 'AccessDenied', ...meta });
      if (service === 'cloudwatch') throw new CloudWatchServiceException({ name: 'AccessDenied', ...meta });
      throw new ElasticLoadBalancingV2ServiceException({ name: 'AccessDenied', ...meta });
    }
    return clone(handler(input));
  }

  // --- CloudWatch ------------------------------------------------------------------------------

  /** As CloudWatch answers: names it does not know are left out; at most 100 names per call. */
  private describeAlarms(input: Record<string, unknown>): { MetricAlarms: MetricAlarm[] } {
    const names = (input.AlarmNames as string[] | undefined) ?? [];
    if (names.length > 100)
      throw new CloudWatchServiceException({
        name: 'ValidationError',
        $fault: 'client',
        $metadata: { httpStatusCode: 400 },
        message: 'The collection AlarmNames must not have a size greater than 100.',
      });
    const MetricAlarms = names.flatMap((name): MetricAlarm[] => {
      const alarm = this.alarms.get(name);
      if (!alarm) return [];
      if ('state' in alarm) return [{ AlarmName: name, StateValue: alarm.state, StateReason: alarm.reason }];
      const serving = (this.weightsOf(alarm.listener)[alarm.firesWhileServing] ?? 0) > 0;
      return [
        {
          AlarmName: name,
          StateValue: serving ? 'ALARM' : 'OK',
          StateReason: serving
            ? `Threshold Crossed: HTTPCode_Target_5XX_Count of ${alarm.firesWhileServing} above 5`
            : 'Threshold Crossed: no datapoints above 5',
        },
      ];
    });
    return { MetricAlarms };
  }

  // --- Elastic Load Balancing ------------------------------------------------------------------

  /** Forward actions read back as the ALB writes them: a single group also as TargetGroupArn, stickiness spelled out. */
  private described(actions: Action[]): Action[] {
    return actions.map((a) => {
      if (a.Type !== 'forward') return a;
      const groups = a.ForwardConfig?.TargetGroups ?? [{ TargetGroupArn: a.TargetGroupArn, Weight: 1 }];
      return {
        ...a,
        ...(groups.length === 1 && { TargetGroupArn: groups[0]?.TargetGroupArn }),
        ForwardConfig: { TargetGroups: groups, TargetGroupStickinessConfig: a.ForwardConfig?.TargetGroupStickinessConfig ?? { Enabled: false } },
      };
    });
  }

  private checkActions(actions: unknown): Action[] {
    if (!Array.isArray(actions) || actions.length === 0) throw validation('elb', 'At least one action must be specified');
    for (const a of actions as Action[]) {
      if (a.Type !== 'forward') continue;
      const groups = a.ForwardConfig?.TargetGroups ?? [];
      if (a.TargetGroupArn && groups.length > 1)
        throw validation('elb', 'You cannot specify a target group ARN together with a forward config of more than one target group');
      for (const g of groups.length ? groups : [{ TargetGroupArn: a.TargetGroupArn, Weight: 1 }]) {
        if (!this.targetGroups.has(g.TargetGroupArn ?? ''))
          throw new TargetGroupNotFoundException({ message: `Target group '${g.TargetGroupArn}' not found`, $metadata: { httpStatusCode: 400 } });
        if (g.Weight !== undefined && (g.Weight < 0 || g.Weight > 999)) throw validation('elb', 'Target group weight must be between 0 and 999');
      }
      // TargetGroupStickinessConfig: DurationSeconds (1 to 604800) is required when stickiness is enabled.
      const sticky = a.ForwardConfig?.TargetGroupStickinessConfig;
      if (sticky?.Enabled && (sticky.DurationSeconds === undefined || sticky.DurationSeconds < 1 || sticky.DurationSeconds > 604_800)) {
        throw validation('elb', 'Target group stickiness duration must be between 1 and 604800 seconds');
      }
    }
    return actions as Action[];
  }

  private listenerOf(arn: unknown) {
    const listener = this.listeners.get(String(arn));
    if (!listener) throw new ListenerNotFoundException({ message: 'One or more listeners not found', $metadata: { httpStatusCode: 400 } });
    return listener;
  }

  private describeListeners(input: Record<string, unknown>) {
    const arns = input.ListenerArns as string[];
    return {
      Listeners: arns.map((arn) => {
        const l = this.listenerOf(arn);
        return { ListenerArn: arn, LoadBalancerArn: this.loadBalancer.arn, Port: l.port, Protocol: l.protocol, DefaultActions: this.described(l.actions) };
      }),
    };
  }

  private describeRules(input: Record<string, unknown>) {
    return {
      Rules: (input.RuleArns as string[]).map((arn) => {
        const rule = this.rules.get(arn);
        if (!rule) throw new RuleNotFoundException({ message: 'One or more rules not found', $metadata: { httpStatusCode: 400 } });
        return {
          RuleArn: arn,
          Priority: '10',
          IsDefault: false,
          Conditions: [{ Field: 'path-pattern', Values: ['/*'] }],
          Actions: this.described(rule.actions),
        };
      }),
    };
  }

  private modifyListener(input: Record<string, unknown>) {
    const listener = this.listenerOf(input.ListenerArn);
    listener.actions = clone(this.checkActions(input.DefaultActions));
    this.hooks.changed?.();
    return this.describeListeners({ ListenerArns: [input.ListenerArn] });
  }

  private modifyRule(input: Record<string, unknown>) {
    const rule = this.rules.get(String(input.RuleArn));
    if (!rule) throw new RuleNotFoundException({ message: 'One or more rules not found', $metadata: { httpStatusCode: 400 } });
    rule.actions = clone(this.checkActions(input.Actions));
    this.hooks.changed?.();
    return this.describeRules({ RuleArns: [input.RuleArn] });
  }

  private describeTargetGroups(input: Record<string, unknown>) {
    const names = input.Names as string[] | undefined;
    const arns = input.TargetGroupArns as string[] | undefined;
    const found = [...this.targetGroups.values()].filter((g) => names?.includes(g.name) || arns?.includes(g.arn));
    if (found.length !== (names ?? arns ?? []).length)
      throw new TargetGroupNotFoundException({ message: 'One or more target groups not found', $metadata: { httpStatusCode: 400 } });
    return {
      TargetGroups: found.map((g) => ({
        TargetGroupArn: g.arn,
        TargetGroupName: g.name,
        Protocol: 'HTTP',
        Port: 5000,
        TargetType: 'instance',
        LoadBalancerArns: [this.loadBalancer.arn],
      })),
    };
  }

  private groupOf(arn: unknown): TargetGroupModel {
    const group = this.targetGroups.get(String(arn));
    if (!group) throw new TargetGroupNotFoundException({ message: `Target groups '${String(arn)}' not found`, $metadata: { httpStatusCode: 400 } });
    return group;
  }

  /** The ALB health-checks a target group only while a listener or rule forwards to it (at any weight). */
  private inUse(arn: string): boolean {
    const all = [...[...this.listeners.values()].map((l) => l.actions), ...[...this.rules.values()].map((r) => r.actions)].flat();
    return all.some((a) => a.Type === 'forward' && (a.TargetGroupArn === arn || (a.ForwardConfig?.TargetGroups ?? []).some((g) => g.TargetGroupArn === arn)));
  }

  private describeTargetHealth(input: Record<string, unknown>) {
    const group = this.groupOf(input.TargetGroupArn);
    const inUse = this.inUse(group.arn);
    const descriptions: TargetHealthDescription[] = group.targets.map((t) => {
      const instance = this.instances.get(t.id);
      let health: { State: string; Reason?: string; Description?: string };
      if (!inUse)
        health = { State: 'unused', Reason: 'Target.NotInUse', Description: 'Target group is not configured to receive traffic from the load balancer' };
      else if (this.hooks.targetHealth && instance)
        health = this.hooks.targetHealth(group.arn, instance) ?? {
          State: 'initial',
          Reason: 'Elb.RegistrationInProgress',
          Description: 'Target registration is in progress',
        };
      else if (++t.checks < 2) health = { State: 'initial', Reason: 'Elb.RegistrationInProgress', Description: 'Target registration is in progress' };
      else if (instance?.serving && !instance.broken) health = { State: 'healthy' };
      else if (instance?.broken)
        health = { State: 'unhealthy', Reason: 'Target.ResponseCodeMismatch', Description: 'Health checks failed with these codes: [500]' };
      else health = { State: 'unhealthy', Reason: 'Target.FailedHealthChecks', Description: 'Health checks failed' };
      return { Target: { Id: t.id, Port: t.port }, HealthCheckPort: String(t.port), TargetHealth: health as TargetHealthDescription['TargetHealth'] };
    });
    return { TargetHealthDescriptions: descriptions };
  }

  private describeTargetGroupAttributes(input: Record<string, unknown>) {
    const group = this.groupOf(input.TargetGroupArn);
    return {
      Attributes: [
        { Key: 'stickiness.enabled', Value: 'false' },
        { Key: 'deregistration_delay.timeout_seconds', Value: String(group.deregistrationDelay) },
      ],
    };
  }

  private describeLoadBalancers(input: Record<string, unknown>) {
    const arns = input.LoadBalancerArns as string[];
    if (!arns.every((a) => a === this.loadBalancer.arn))
      throw new ElasticLoadBalancingV2ServiceException({
        name: 'LoadBalancerNotFound',
        $fault: 'client',
        $metadata: { httpStatusCode: 400 },
        message: 'One or more load balancers not found',
      });
    return {
      LoadBalancers: [
        {
          LoadBalancerArn: this.loadBalancer.arn,
          DNSName: this.loadBalancer.dnsName,
          Type: 'application',
          Scheme: 'internet-facing',
          State: { Code: 'active' },
        },
      ],
    };
  }

  // --- Auto Scaling -------------------------------------------------------------------------------

  private launch(group: GroupModel): InstanceModel {
    const n = ++this.instanceCount;
    const instance: InstanceModel = {
      id: `i-${n.toString(16).padStart(17, '0')}`,
      group: group.name,
      ip: `10.0.${Math.floor(n / 250)}.${n % 250}`,
      lifecycle: 'Pending',
      pendingPolls: group.bootPolls,
      serving: group.launchesServing,
      broken: false,
      ssm: 'Online',
      hangs: false,
      run: () => hostScriptSuccess(),
      ran: [],
    };
    this.instances.set(instance.id, instance);
    this.hooks.launched?.(instance, group);
    return instance;
  }

  private register(instance: InstanceModel): void {
    const group = this.groups.get(instance.group);
    for (const arn of group?.targetGroups ?? []) this.targetGroups.get(arn)?.targets.push({ id: instance.id, port: 5000, checks: 0 });
    this.hooks.changed?.();
  }

  /** Launches or terminates instances until the group has `desired` (termination is immediate here). */
  private reconcile(group: GroupModel): void {
    const mine = this.instancesOf(group.name);
    for (let i = mine.length; i < group.desired; i++) this.launch(group);
    for (const extra of mine.slice(group.desired)) {
      this.instances.delete(extra.id);
      for (const arn of group.targetGroups) {
        const tg = this.targetGroups.get(arn);
        if (tg) tg.targets = tg.targets.filter((t) => t.id !== extra.id);
      }
      this.hooks.terminated?.(extra);
    }
    if (mine.length > group.desired) this.hooks.changed?.();
  }

  private describeGroups(input: Record<string, unknown>) {
    const groups = [...this.groups.values()].filter((g) => (input.AutoScalingGroupNames as string[]).includes(g.name));
    const out: AutoScalingGroup[] = groups.map((group) => {
      // Each look at a group moves its launches along: Pending for a couple of polls, then InService and registered.
      for (const instance of this.instancesOf(group.name).filter((i) => i.lifecycle === 'Pending')) {
        if (--instance.pendingPolls > 0) continue;
        instance.lifecycle = 'InService';
        this.register(instance);
      }
      return {
        AutoScalingGroupName: group.name,
        MinSize: group.min,
        MaxSize: group.max,
        DesiredCapacity: group.desired,
        DefaultCooldown: 300,
        AvailabilityZones: [`${REGION}a`, `${REGION}b`],
        HealthCheckType: 'ELB',
        CreatedTime: new Date('2024-01-01T00:00:00Z'),
        TargetGroupARNs: group.targetGroups,
        Instances: this.instancesOf(group.name).map((i) => ({
          InstanceId: i.id,
          LifecycleState: i.lifecycle,
          HealthStatus: 'Healthy',
          AvailabilityZone: `${REGION}a`,
          ProtectedFromScaleIn: false,
        })),
      };
    });
    return { AutoScalingGroups: out };
  }

  private asg(name: unknown): GroupModel {
    const group = this.groups.get(String(name));
    if (!group) throw validation('asg', `AutoScalingGroup name not found - AutoScalingGroup '${String(name)}' not found`);
    return group;
  }

  private updateGroup(input: Record<string, unknown>) {
    const group = this.asg(input.AutoScalingGroupName);
    const min = (input.MinSize as number | undefined) ?? group.min;
    const max = (input.MaxSize as number | undefined) ?? group.max;
    const desired = (input.DesiredCapacity as number | undefined) ?? group.desired;
    if (min > max) throw validation('asg', `Max bound, ${max}, must be greater than or equal to min bound, ${min}`);
    if (desired < min || desired > max)
      throw validation('asg', `Desired capacity:${desired} must be between the specified min size:${min} and max size:${max}`);
    Object.assign(group, { min, max, desired });
    this.reconcile(group);
    return {};
  }

  private describeScheduled(input: Record<string, unknown>) {
    const group = this.asg(input.AutoScalingGroupName);
    const names = input.ScheduledActionNames as string[] | undefined;
    return {
      ScheduledUpdateGroupActions: [...group.scheduled]
        .filter(([name]) => !names || names.includes(name))
        .map(([name, a]) => ({
          AutoScalingGroupName: group.name,
          ScheduledActionName: name,
          StartTime: a.startTime,
          Time: a.startTime,
          MinSize: a.min,
          DesiredCapacity: a.desired,
        })),
    };
  }

  private putScheduled(input: Record<string, unknown>) {
    const group = this.asg(input.AutoScalingGroupName);
    const startTime = input.StartTime as Date;
    if (!(startTime instanceof Date) || startTime.getTime() <= Date.now()) throw validation('asg', 'Given start time is in the past');
    group.scheduled.set(String(input.ScheduledActionName), {
      startTime,
      min: input.MinSize as number | undefined,
      desired: input.DesiredCapacity as number | undefined,
    });
    return {};
  }

  private deleteScheduled(input: Record<string, unknown>) {
    const group = this.asg(input.AutoScalingGroupName);
    if (!group.scheduled.delete(String(input.ScheduledActionName))) throw validation('asg', 'Scheduled action name not found');
    return {};
  }

  // --- Systems Manager -------------------------------------------------------------------------------

  private page<T>(items: T[], input: Record<string, unknown>, max = 50): { items: T[]; NextToken?: string } {
    const size = Math.min(Number(input.MaxResults ?? max), max);
    const start = Number(input.NextToken ?? 0);
    const next = start + size < items.length ? String(start + size) : undefined;
    return { items: items.slice(start, start + size), ...(next && { NextToken: next }) };
  }

  private describeInstanceInformation(input: Record<string, unknown>) {
    const filters = (input.Filters as { Key: string; Values: string[] }[] | undefined) ?? [];
    const ids = filters.find((f) => f.Key === 'InstanceIds')?.Values;
    if (ids && ids.length > 50) throw validation('ssm', 'InstanceIds filter accepts at most 50 values');
    const managed = [...this.instances.values()].filter((i) => i.ssm !== 'unmanaged' && (!ids || ids.includes(i.id)));
    const { items, NextToken } = this.page(managed, input);
    return {
      InstanceInformationList: items.map((i) => ({
        InstanceId: i.id,
        PingStatus: i.ssm,
        IPAddress: i.ip,
        PlatformType: 'Linux',
        AgentVersion: '3.3.0.0',
        ResourceType: 'EC2Instance',
      })),
      ...(NextToken && { NextToken }),
    };
  }

  private sendCommand(input: Record<string, unknown>) {
    if (input.DocumentName !== 'AWS-RunShellScript')
      throw new SSMServiceException({ name: 'InvalidDocument', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: 'Document not found' });
    const ids = (input.InstanceIds as string[] | undefined) ?? [];
    if (ids.length === 0 || ids.length > 50) {
      throw validation(
        'ssm',
        `1 validation error detected: Value '[${ids.length} ids]' at 'instanceIds' failed to satisfy constraint: Member must have length less than or equal to 50`,
      );
    }
    const params = input.Parameters as Record<string, string[]> | undefined;
    const commands = params?.commands;
    if (!commands?.length)
      throw new SSMServiceException({
        name: 'InvalidParameters',
        $fault: 'client',
        $metadata: { httpStatusCode: 400 },
        message: 'Parameter "commands" is required',
      });
    for (const id of ids) {
      if (this.instances.get(id)?.ssm !== 'Online')
        throw new InvalidInstanceId({ message: `Instances [[${id}]] not in a valid state for account ${ACCOUNT_ID}`, $metadata: { httpStatusCode: 400 } });
    }
    const command: CommandModel = {
      id: randomUUID(),
      text: commands.join('\n'),
      instanceIds: ids,
      input: clone(input),
      listed: 0,
      invocations: new Map(ids.map((id) => [id, { status: 'Pending' }])),
    };
    this.commands.push(command);
    const execute = this.hooks.execute;
    if (execute) {
      // A real run: InProgress at once, finished when the instance's shell says so.
      const timeoutSeconds = Number(params?.executionTimeout?.[0] ?? 3600);
      for (const [id, invocation] of command.invocations) {
        const instance = this.instances.get(id) as InstanceModel;
        invocation.status = 'InProgress';
        instance.ran.push(command.text);
        void execute(instance, command.text, timeoutSeconds).then(
          (result) =>
            Object.assign(invocation, {
              status: result.timedOut ? 'TimedOut' : result.exitCode === 0 ? 'Success' : 'Failed',
              exitCode: result.timedOut ? -1 : result.exitCode,
              output: result.output,
            }),
          (error: unknown) => Object.assign(invocation, { status: 'Failed', exitCode: -1, output: String(error) }),
        );
      }
    }
    return { Command: { CommandId: command.id, DocumentName: 'AWS-RunShellScript', InstanceIds: ids, Status: 'Pending', TargetCount: ids.length } };
  }

  /** Each listing moves every invocation one step: Pending -> InProgress -> Success or Failed (the run happens then). */
  private listInvocations(input: Record<string, unknown>) {
    const command = this.commands.find((c) => c.id === input.CommandId);
    if (!command)
      throw new SSMServiceException({ name: 'InvalidCommandId', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: 'Invalid command id' });
    // Right after SendCommand the invocations are not listed yet (eventual consistency).
    if (command.listed++ === 0) return { CommandInvocations: [] };
    if (!input.NextToken && !this.hooks.execute) {
      for (const [id, invocation] of command.invocations) {
        if (invocation.status === 'Pending') invocation.status = 'InProgress';
        else if (invocation.status === 'InProgress' && !this.instances.get(id)?.hangs) {
          const instance = this.instances.get(id);
          const result = instance ? instance.run(command.text) : { exitCode: 1, output: 'instance terminated' };
          instance?.ran.push(command.text);
          if (instance && result.exitCode === 0) instance.serving = true;
          Object.assign(invocation, { status: result.exitCode === 0 ? 'Success' : 'Failed', exitCode: result.exitCode, output: result.output });
        }
      }
    }
    const { items, NextToken } = this.page([...command.invocations], input);
    const listed = items.map(([id, inv]) => ({
      CommandId: command.id,
      InstanceId: id,
      Status: inv.status,
      StatusDetails: statusDetails(inv.status),
      DocumentName: 'AWS-RunShellScript',
    }));
    for (const [, invocation] of items) if (invocation.status === 'Cancelling') invocation.status = 'Cancelled';
    return { CommandInvocations: listed, ...(NextToken && { NextToken }) };
  }

  /** Invocations not finished yet end as Cancelled (the agent stops the command on the instance). */
  private cancelCommand(input: Record<string, unknown>) {
    const command = this.commands.find((c) => c.id === input.CommandId);
    if (!command)
      throw new SSMServiceException({ name: 'InvalidCommandId', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: 'Invalid command id' });
    for (const [id, invocation] of command.invocations) {
      if ((input.InstanceIds as string[] | undefined)?.includes(id) === false) continue;
      // As SSM does: `Cancelling` at first, `Cancelled` once the agent stopped it (here: after one listing).
      if (invocation.status === 'Pending' || invocation.status === 'InProgress') Object.assign(invocation, { status: 'Cancelling', exitCode: -1, output: '' });
    }
    return {};
  }

  private getInvocation(input: Record<string, unknown>) {
    const command = this.commands.find((c) => c.id === input.CommandId);
    const invocation = command?.invocations.get(String(input.InstanceId));
    if (!command || !invocation || command.listed < 2) throw new InvocationDoesNotExist({ message: '', $metadata: { httpStatusCode: 400 } });
    // SSM keeps the first 24,000 characters of standard output.
    const output = (invocation.output ?? '').slice(0, 24_000);
    return {
      CommandId: command.id,
      InstanceId: input.InstanceId,
      Status: invocation.status,
      StatusDetails: statusDetails(invocation.status),
      ResponseCode: invocation.exitCode ?? -1,
      StandardOutputContent: output,
      StandardErrorContent: '',
    };
  }
}
