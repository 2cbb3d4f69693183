import * as core from '@actions/core';
import {
  DescribeListenersCommand,
  DescribeLoadBalancersCommand,
  DescribeRulesCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ModifyListenerCommand,
  ModifyRuleCommand,
  type Action,
  type ElasticLoadBalancingV2Client,
  type TargetGroup,
  type TargetGroupStickinessConfig,
  type TargetHealthDescription,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { COLORS, otherColor, type Color } from '../colors.js';
import { UserError } from '../errors.js';
import type { AwsCalls, AwsTiming } from '../aws/clients.js';
import type { BalancerHostState, Host, LiveTraffic, Traffic } from '../providers/types.js';
import { retryBounds, sleepingClock, waitUntil } from '../retry.js';
import type { AwsSettings, HealthSettings } from '../settings.js';

/** Scales a color's instances down after a switch, and calls that off: the ASG inventory. */
export interface ScaleDown {
  scheduleScaleDown(color: Color, delayMs: number): Promise<string>;
  cancelScaleDown(color: Color): Promise<string | undefined>;
}

export interface AlbOptions {
  health: HealthSettings;
  drainTimeoutMs: number;
  /** Target-group stickiness (seconds) on the weighted forward during the steps; 0 or absent: the listener's own. */
  stickySplitSeconds?: number;
  minHealthyHosts?: number;
  /** With `scaleDownDelayMs`: the old color is scaled down that long after a successful switch. */
  scaleDown?: ScaleDown;
  scaleDownDelayMs?: number;
  timing: AwsTiming;
}

interface Weighted {
  arn: string;
  weight: number;
}

/** The target groups a forward action sends to, with their weights (a plain forward weighs 1). */
function forwardTargets(action: Action): Weighted[] {
  const groups = action.ForwardConfig?.TargetGroups;
  if (groups?.length) return groups.map((g) => ({ arn: g.TargetGroupArn ?? '', weight: g.Weight ?? 1 }));
  return action.TargetGroupArn ? [{ arn: action.TargetGroupArn, weight: 1 }] : [];
}

/** `healthy`, or `unhealthy (Target.Timeout)`: the state with AWS's reason code. */
function stateText(d: TargetHealthDescription): string {
  const state = d.TargetHealth?.State ?? 'unknown';
  return d.TargetHealth?.Reason ? `${state} (${d.TargetHealth.Reason})` : state;
}

/**
 * Traffic on an Application Load Balancer: the listener's default action (or one rule) forwards to
 * the blue or the green target group. A switch rewrites that forward to send everything to one
 * group while keeping the other in it at weight 0: the ALB only health-checks target groups a
 * listener uses, so both colors stay checked and a rollback can be verified. The test listener,
 * when given, forwards to the idle color: the preview route.
 */
export class AlbTraffic implements Traffic {
  readonly description: string;
  private arns?: Record<Color, string>;
  private names = new Map<string, string>();
  private preview?: { url: string; color?: Color };
  /** The forward's stickiness before this run's first step set ours: put back when the split ends. */
  private stickinessBefore?: TargetGroupStickinessConfig;

  constructor(
    private readonly client: ElasticLoadBalancingV2Client,
    private readonly calls: AwsCalls,
    private readonly aws: AwsSettings,
    private readonly options: AlbOptions,
  ) {
    this.description = aws.ruleArn ? `ALB rule ${aws.ruleArn.split(':listener-rule/')[1]}` : `ALB listener ${aws.listenerArn.split(':listener/')[1]}`;
  }

  async readLive(): Promise<LiveTraffic> {
    if (this.aws.testListenerArn) await this.readPreview(this.aws.testListenerArn);
    return this.liveOf(await this.actions());
  }

  async moveTo(color: Color, _hosts: Host[]): Promise<string> {
    return this.route(color, 100);
  }

  /** A step of a progressive switch: `percent` of requests to `color`, by the forward's weights. */
  async shiftTo(color: Color, percent: number, _hosts: Host[]): Promise<string> {
    return this.route(color, percent);
  }

  /**
   * The stickiness to write: during a step (below 100%) the ALB's target-group stickiness, so a
   * client keeps the group it was first sent to (one release per page); at 100% (the last step,
   * a move back) the listener's own again, as read before this run's first step.
   */
  private stickinessFor(percent: number, current: TargetGroupStickinessConfig | undefined): TargetGroupStickinessConfig | undefined {
    const seconds = this.options.stickySplitSeconds ?? 0;
    if (percent < 100 && seconds > 0) {
      this.stickinessBefore ??= current ?? { Enabled: false };
      return { Enabled: true, DurationSeconds: seconds };
    }
    const before = this.stickinessBefore ?? current;
    if (percent === 100) this.stickinessBefore = undefined;
    return before;
  }

  previewUrl(color: Color): string | undefined {
    if (!this.preview) return undefined;
    if (this.preview.color !== color) {
      core.warning(
        `The test listener forwards to ${this.preview.color ?? 'neither color'}, not to ${color}: no preview check. A switch points it at the idle color.`,
      );
      return undefined;
    }
    return this.preview.url;
  }

  /**
   * Rewrites the forward to send `percent` to `color` and the rest to the other color (kept in
   * at weight 0 when it gets nothing), after a last look at `color`'s target health; reads it back.
   */
  private async route(color: Color, percent: number): Promise<string> {
    const arns = await this.targetGroups();
    const other = otherColor(color);
    const notes: string[] = [];
    const cancelled = await this.options.scaleDown?.cancelScaleDown(color);
    if (cancelled) notes.push(cancelled);
    const actions = await this.actions();
    const forward = actions.find((a) => a.Type === 'forward');
    // A color already serving part of the traffic (a move back from a failed step) is not held to
    // the guard: it is serving now, and sending traffic back to it is the way out of trouble.
    const serving = (forward?.ForwardConfig?.TargetGroups ?? []).some((g) => g.TargetGroupArn === arns[color] && (g.Weight ?? 1) > 0);
    if (!serving) await this.requireHealthyGroup(color);
    const stickiness = this.stickinessFor(percent, forward?.ForwardConfig?.TargetGroupStickinessConfig);
    const rewritten: Action = {
      Type: 'forward',
      ...(forward?.Order !== undefined && { Order: forward.Order }),
      ForwardConfig: {
        TargetGroups: [
          { TargetGroupArn: arns[color], Weight: percent },
          { TargetGroupArn: arns[other], Weight: 100 - percent },
        ],
        ...(stickiness && { TargetGroupStickinessConfig: stickiness }),
      },
    };
    // Other actions (authenticate-oidc before the forward, say) go back as they were.
    const next = forward
      ? actions.map((a) => (a === forward ? rewritten : a))
      : [...actions.filter((a) => a.Type !== 'fixed-response' && a.Type !== 'redirect'), rewritten];
    await this.writeActions(next);
    await this.confirm(color, percent);
    const [to, from] = [this.names.get(arns[color]), this.names.get(arns[other])];
    notes.push(
      percent === 100
        ? `${this.description} forwards to ${to} (${color}); ${from} stays in at weight 0`
        : `${this.description} sends ${percent}% to ${to} (${color}), ${100 - percent}% to ${from}`,
    );
    if (percent === 100 && this.aws.testListenerArn) {
      await this.pointTestListener(this.aws.testListenerArn, other);
      notes.push(`the test listener forwards to ${other}`);
    }
    return notes.join('; ');
  }

  /**
   * The target health of each host of `color`, polled (health-retries times, health-interval
   * apart) until every host is `healthy`: new targets start `initial` while the ALB's first checks run.
   */
  async balancerHealth(color: Color, hosts: Host[]): Promise<Map<string, BalancerHostState>> {
    const read = async (): Promise<Map<string, BalancerHostState>> => {
      const view = new Map<string, BalancerHostState>();
      for (const d of await this.targetHealth(color)) {
        const id = d.Target?.Id ?? '';
        const state = { up: d.TargetHealth?.State === 'healthy', state: stateText(d) };
        // An instance registered on two ports is only as healthy as its worse registration.
        if (!view.get(id) || view.get(id)?.up) view.set(id, state);
      }
      return view;
    };
    const { value } = await waitUntil(read, (view) => hosts.every((h) => view.get(h.name)?.up), {
      attempts: this.options.health.retries + 1,
      intervalMs: this.options.health.intervalMs,
      clock: sleepingClock(this.options.timing.sleep),
    });
    return value;
  }

  /**
   * Waits for the old group's deregistration delay (bounded by drain-timeout): how long the ALB
   * lets requests in flight on it finish. Then schedules the old color's scale-down, when asked.
   */
  async drain(from: Color): Promise<string> {
    const arns = await this.targetGroups();
    const name = this.names.get(arns[from]);
    const out = await this.calls.call(
      'elasticloadbalancing:DescribeTargetGroupAttributes',
      () => this.client.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: arns[from] })),
      name,
    );
    const delaySeconds = Number(out.Attributes?.find((a) => a.Key === 'deregistration_delay.timeout_seconds')?.Value ?? 300);
    const waitMs = Math.min(delaySeconds * 1000, this.options.drainTimeoutMs);
    await this.options.timing.sleep(waitMs);
    const bounded = waitMs < delaySeconds * 1000 ? `, bounded by drain-timeout ${this.options.drainTimeoutMs / 1000}s` : '';
    const notes = [`waited ${waitMs / 1000}s for ${name} (${from}) to drain (deregistration delay ${delaySeconds}s${bounded})`];
    const { scaleDown, scaleDownDelayMs } = this.options;
    if (scaleDown && scaleDownDelayMs !== undefined) notes.push(await scaleDown.scheduleScaleDown(from, scaleDownDelayMs));
    return notes.join('; ');
  }

  /** Names or ARNs from the inputs, resolved to ARNs once per run. */
  private async targetGroups(): Promise<Record<Color, string>> {
    if (this.arns) return this.arns;
    const given = this.aws.targetGroups;
    const byArn = COLORS.filter((c) => given[c].startsWith('arn:'));
    const byName = COLORS.filter((c) => !given[c].startsWith('arn:'));
    const found: TargetGroup[] = [];
    const inputs = [...byArn, ...byName].map((c) => `${c}-target-group`).join(' / ');
    const fix = `Input ${inputs}: name target groups that exist in ${this.aws.region}.`;
    if (byArn.length) {
      const out = await this.calls.call(
        'elasticloadbalancing:DescribeTargetGroups',
        () => this.client.send(new DescribeTargetGroupsCommand({ TargetGroupArns: byArn.map((c) => given[c]) })),
        byArn.map((c) => given[c]).join(', '),
        fix,
      );
      found.push(...(out.TargetGroups ?? []));
    }
    if (byName.length) {
      const out = await this.calls.call(
        'elasticloadbalancing:DescribeTargetGroups',
        () => this.client.send(new DescribeTargetGroupsCommand({ Names: byName.map((c) => given[c]) })),
        byName.map((c) => given[c]).join(', '),
        fix,
      );
      found.push(...(out.TargetGroups ?? []));
    }
    const arnOf = (color: Color): string => {
      const group = found.find((g) => g.TargetGroupArn === given[color] || g.TargetGroupName === given[color]);
      if (!group?.TargetGroupArn) throw new UserError(`Target group ${given[color]} (${color}) was not found. ${fix}`);
      this.names.set(group.TargetGroupArn, group.TargetGroupName ?? group.TargetGroupArn);
      return group.TargetGroupArn;
    };
    const arns = { blue: arnOf('blue'), green: arnOf('green') };
    if (arns.blue === arns.green)
      throw new UserError(`blue-target-group and green-target-group are the same target group (${this.names.get(arns.blue)}). Give each color its own.`);
    this.arns = arns;
    return arns;
  }

  private async liveOf(actions: Action[]): Promise<LiveTraffic> {
    const forward = actions.find((a) => a.Type === 'forward');
    // A fixed response or a redirect: no app is routed yet.
    if (!forward) return { kind: 'none' };
    const arns = await this.targetGroups();
    const weights: Record<Color, number> = { blue: 0, green: 0 };
    for (const { arn, weight } of forwardTargets(forward)) {
      const color = COLORS.find((c) => arns[c] === arn);
      if (!color) {
        throw new UserError(
          `${this.description} forwards to target group ${arn}, which is neither blue-target-group (${this.names.get(arns.blue)}) nor green-target-group (${this.names.get(arns.green)}). Point it at one of them, or fix those inputs.`,
        );
      }
      weights[color] += weight;
    }
    const total = weights.blue + weights.green;
    if (total === 0) return { kind: 'none' };
    if (weights.blue === 0) return { kind: 'color', color: 'green' };
    if (weights.green === 0) return { kind: 'color', color: 'blue' };
    const blue = Math.round((weights.blue / total) * 100);
    return { kind: 'weighted', weights: { blue, green: 100 - blue } };
  }

  private async actions(): Promise<Action[]> {
    if (this.aws.ruleArn) {
      const ruleArn = this.aws.ruleArn;
      const out = await this.calls.call(
        'elasticloadbalancing:DescribeRules',
        () => this.client.send(new DescribeRulesCommand({ RuleArns: [ruleArn] })),
        ruleArn,
        "Input 'rule-arn': copy the ARN of an existing rule of the listener.",
      );
      return out.Rules?.[0]?.Actions ?? [];
    }
    return (await this.listener(this.aws.listenerArn, 'listener-arn')).DefaultActions ?? [];
  }

  private async writeActions(actions: Action[]): Promise<void> {
    const { ruleArn, listenerArn } = this.aws;
    if (ruleArn) {
      await this.calls.call('elasticloadbalancing:ModifyRule', () => this.client.send(new ModifyRuleCommand({ RuleArn: ruleArn, Actions: actions })), ruleArn);
    } else {
      await this.calls.call(
        'elasticloadbalancing:ModifyListener',
        () => this.client.send(new ModifyListenerCommand({ ListenerArn: listenerArn, DefaultActions: actions })),
        listenerArn,
      );
    }
  }

  /** Reads the forward back until it says `percent` on `color` (the API is eventually consistent), bounded. */
  private async confirm(color: Color, percent: number): Promise<void> {
    const expected = (live: LiveTraffic) =>
      percent === 100 ? live.kind === 'color' && live.color === color : live.kind === 'weighted' && live.weights[color] === percent;
    const { value: live, done } = await waitUntil(async () => this.liveOf(await this.actions()), expected, {
      ...retryBounds(this.options.timing.retry),
      clock: sleepingClock(this.options.timing.sleep),
    });
    if (done) return;
    const reads = live.kind === 'color' ? live.color : live.kind === 'weighted' ? `blue ${live.weights.blue}%, green ${live.weights.green}%` : live.kind;
    throw new UserError(`${this.description} was changed to send ${percent}% to ${color}, but reads back ${reads}. Check it in the EC2 console.`);
  }

  /** The last guard before the move: every target registered in `color`'s group is healthy (or min-healthy-hosts are). */
  private async requireHealthyGroup(color: Color): Promise<void> {
    const targets = (await this.targetHealth(color)).filter((d) => d.TargetHealth?.State !== 'draining');
    const healthy = targets.filter((d) => d.TargetHealth?.State === 'healthy');
    const needed = this.options.minHealthyHosts === undefined ? targets.length : Math.min(this.options.minHealthyHosts, targets.length);
    if (targets.length === 0 || healthy.length < needed) {
      const name = this.names.get((await this.targetGroups())[color]);
      const unhealthy = targets.filter((d) => d.TargetHealth?.State !== 'healthy').map((d) => `${d.Target?.Id} ${stateText(d)}`);
      throw new UserError(
        `Refusing to move traffic to ${color}: ${healthy.length} of ${targets.length} target(s) registered in ${name} are healthy${unhealthy.length ? ` (${unhealthy.join(', ')})` : ''}. Live traffic is untouched.`,
      );
    }
  }

  private async targetHealth(color: Color): Promise<TargetHealthDescription[]> {
    const arn = (await this.targetGroups())[color];
    const out = await this.calls.call(
      'elasticloadbalancing:DescribeTargetHealth',
      () => this.client.send(new DescribeTargetHealthCommand({ TargetGroupArn: arn })),
      this.names.get(arn),
    );
    return out.TargetHealthDescriptions ?? [];
  }

  private async listener(arn: string, input: 'listener-arn' | 'test-listener-arn') {
    const out = await this.calls.call(
      'elasticloadbalancing:DescribeListeners',
      () => this.client.send(new DescribeListenersCommand({ ListenerArns: [arn] })),
      arn,
      `Input '${input}': copy the ARN of an existing listener (aws elbv2 describe-listeners).`,
    );
    const listener = out.Listeners?.[0];
    if (!listener) throw new UserError(`Listener ${arn} was not found. Input '${input}': copy the ARN of an existing listener.`);
    return listener;
  }

  /** The preview URL: the test listener's protocol and port on the load balancer's DNS name. */
  private async readPreview(arn: string): Promise<void> {
    const listener = await this.listener(arn, 'test-listener-arn');
    const preview = await this.liveOf(listener.DefaultActions ?? []);
    const color = preview.kind === 'color' ? preview.color : undefined;
    if (this.preview) {
      this.preview.color = color;
      return;
    }
    const lbArn = listener.LoadBalancerArn ?? '';
    const out = await this.calls.call(
      'elasticloadbalancing:DescribeLoadBalancers',
      () => this.client.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [lbArn] })),
      lbArn,
    );
    const dns = out.LoadBalancers?.[0]?.DNSName;
    const scheme = listener.Protocol === 'HTTPS' ? 'https' : 'http';
    this.preview = dns ? { url: `${scheme}://${dns}:${listener.Port}`, ...(color && { color }) } : undefined;
  }

  private async pointTestListener(arn: string, color: Color): Promise<void> {
    const arns = await this.targetGroups();
    const actions = (await this.listener(arn, 'test-listener-arn')).DefaultActions ?? [];
    const forward: Action = { Type: 'forward', ForwardConfig: { TargetGroups: [{ TargetGroupArn: arns[color], Weight: 1 }] } };
    const next = actions.some((a) => a.Type === 'forward')
      ? actions.map((a) => (a.Type === 'forward' ? { ...forward, ...(a.Order !== undefined && { Order: a.Order }) } : a))
      : [forward];
    await this.calls.call(
      'elasticloadbalancing:ModifyListener',
      () => this.client.send(new ModifyListenerCommand({ ListenerArn: arn, DefaultActions: next })),
      arn,
    );
    if (this.preview) this.preview.color = color;
  }
}
