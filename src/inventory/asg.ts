import * as core from '@actions/core';
import {
  DeleteScheduledActionCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeScheduledActionsCommand,
  PutScheduledUpdateGroupActionCommand,
  UpdateAutoScalingGroupCommand,
  type AutoScalingClient,
  type AutoScalingGroup,
} from '@aws-sdk/client-auto-scaling';
import type { Color } from '../colors.js';
import { UserError } from '../errors.js';
import { pollPolicy, type AwsCalls, type AwsTiming } from '../aws/clients.js';
import type { Host, Inventory } from '../providers/types.js';
import type { AwsSettings } from '../settings.js';
import { waitUntil } from '../retry.js';

/** The scheduled action that scales the old color down after `scale-down-delay`: one per group, by name. */
export const SCALE_DOWN_ACTION = 'bluegreen-perl-scale-down';

const inService = (group: AutoScalingGroup) => (group.Instances ?? []).filter((i) => i.LifecycleState === 'InService');

/**
 * The hosts of a color are the `InService` instances of its Auto Scaling Group, named by instance
 * id (the handle SSM and the target group know them by). Also sizes the groups: scales the idle
 * color up to the live color's size before a release or a rollback, and scales the old color down
 * after a switch, later, through a scheduled action.
 */
export class AsgInventory implements Inventory {
  constructor(
    private readonly client: AutoScalingClient,
    private readonly calls: AwsCalls,
    private readonly aws: Pick<AwsSettings, 'autoScalingGroups'>,
    private readonly timing: AwsTiming,
  ) {}

  async hostsOf(color: Color): Promise<Host[]> {
    const group = await this.describe(color);
    const ready = inService(group);
    for (const skipped of (group.Instances ?? []).filter((i) => i.LifecycleState !== 'InService')) {
      core.info(`Instance ${skipped.InstanceId} of ${group.AutoScalingGroupName} is ${skipped.LifecycleState}: skipped.`);
    }
    if (ready.length === 0) {
      throw new UserError(
        `Auto Scaling Group ${group.AutoScalingGroupName} (${color}) has no InService instance (desired capacity ${group.DesiredCapacity ?? 0}). A deploy or a rollback scales it up to the live color's size; for a switch, deploy to it first.`,
      );
    }
    return ready.map((instance) => ({ name: instance.InstanceId ?? '', color, address: instance.InstanceId ?? '' }));
  }

  /**
   * Cancels a pending scale-down of `color`, then scales its group up to `reference`'s desired
   * capacity when it is smaller, and waits until that many instances are `InService`.
   */
  async ensureCapacity(color: Color, reference: Color | undefined): Promise<string> {
    const cancelled = await this.cancelScaleDown(color);
    const group = await this.describe(color);
    const name = group.AutoScalingGroupName ?? this.aws.autoScalingGroups[color];
    const live = reference ? await this.describe(reference) : undefined;
    const have = group.DesiredCapacity ?? 0;
    const wanted = Math.max(have, live?.DesiredCapacity ?? 0);
    if (wanted === 0) {
      throw new UserError(
        `Auto Scaling Group ${name} (${color}) is scaled to 0 and ${live ? `the live group ${live.AutoScalingGroupName} is too` : 'nothing is live to take a size from'}. Set its desired capacity (input '${color}-asg' names it).`,
      );
    }
    const notes = cancelled ? [cancelled] : [];
    if (have < wanted && live) {
      // Take the live group's floor too (a scale-down set it to 0), and make room under the ceiling.
      const minSize = Math.min(Math.max(group.MinSize ?? 0, live.MinSize ?? 0), wanted);
      const maxSize = Math.max(group.MaxSize ?? 0, wanted);
      await this.calls.call(
        'autoscaling:UpdateAutoScalingGroup',
        () => this.client.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: name, MinSize: minSize, MaxSize: maxSize, DesiredCapacity: wanted })),
        name,
      );
      notes.push(`scaled ${name} from ${have} to ${wanted} instance(s), the size of ${reference}'s ${live.AutoScalingGroupName}`);
    }
    const ready = await this.waitInService(color, wanted);
    notes.push(`${ready} of ${wanted} instance(s) of ${name} InService`);
    return notes.join('; ');
  }

  /**
   * Scales `color` to zero `delayMs` from now through a scheduled action of its group, so the
   * runner need not wait: during the delay the group keeps its full size, and a rollback needs
   * nothing but the switch. Any later run that releases to or moves traffic to `color` deletes the
   * action first (`cancelScaleDown`); a rollback after it scales the group back up.
   */
  async scheduleScaleDown(color: Color, delayMs: number, now = new Date()): Promise<string> {
    const name = this.aws.autoScalingGroups[color];
    if (delayMs === 0) {
      await this.calls.call(
        'autoscaling:UpdateAutoScalingGroup',
        () => this.client.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: name, MinSize: 0, DesiredCapacity: 0 })),
        name,
      );
      return `scaled ${name} (${color}) down to 0`;
    }
    const at = new Date(now.getTime() + delayMs);
    await this.calls.call(
      'autoscaling:PutScheduledUpdateGroupAction',
      () =>
        this.client.send(
          new PutScheduledUpdateGroupActionCommand({
            AutoScalingGroupName: name,
            ScheduledActionName: SCALE_DOWN_ACTION,
            StartTime: at,
            MinSize: 0,
            DesiredCapacity: 0,
          }),
        ),
      name,
    );
    return `${name} (${color}) scales down to 0 at ${at.toISOString()} (scheduled action ${SCALE_DOWN_ACTION})`;
  }

  /** Deletes the pending scale-down of `color`, if there is one; says so when it did. */
  async cancelScaleDown(color: Color): Promise<string | undefined> {
    const name = this.aws.autoScalingGroups[color];
    const found = await this.calls.call(
      'autoscaling:DescribeScheduledActions',
      () => this.client.send(new DescribeScheduledActionsCommand({ AutoScalingGroupName: name, ScheduledActionNames: [SCALE_DOWN_ACTION] })),
      name,
    );
    if (!found.ScheduledUpdateGroupActions?.length) return undefined;
    await this.calls.call(
      'autoscaling:DeleteScheduledAction',
      () => this.client.send(new DeleteScheduledActionCommand({ AutoScalingGroupName: name, ScheduledActionName: SCALE_DOWN_ACTION })),
      name,
    );
    return `cancelled the pending scale-down of ${name}`;
  }

  private async waitInService(color: Color, wanted: number): Promise<number> {
    const {
      value: group,
      done,
      elapsedMs: waited,
    } = await waitUntil(
      () => this.describe(color),
      (g) => inService(g).length >= wanted,
      {
        deadlineMs: this.timing.capacityTimeoutMs,
        ...pollPolicy(this.timing),
      },
    );
    const ready = inService(group).length;
    if (done) return ready;
    const others = (group.Instances ?? []).filter((i) => i.LifecycleState !== 'InService').map((i) => `${i.InstanceId} ${i.LifecycleState}`);
    throw new UserError(
      `Auto Scaling Group ${group.AutoScalingGroupName} (${color}) has ${ready} of ${wanted} instance(s) InService after ${Math.round(waited / 1000)}s${others.length ? ` (${others.join(', ')})` : ''}. See why in its activity history: aws autoscaling describe-scaling-activities --auto-scaling-group-name ${group.AutoScalingGroupName}`,
    );
  }

  private async describe(color: Color): Promise<AutoScalingGroup> {
    const name = this.aws.autoScalingGroups[color];
    const out = await this.calls.call(
      'autoscaling:DescribeAutoScalingGroups',
      () => this.client.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] })),
      name,
    );
    const group = out.AutoScalingGroups?.[0];
    if (!group)
      throw new UserError(
        `Auto Scaling Group ${name} (${color}) does not exist in this region. Input '${color}-asg': name an existing group, or check aws-region.`,
      );
    return group;
  }
}
