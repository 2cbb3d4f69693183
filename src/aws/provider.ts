import { SsmReleaser } from '../hosts/ssm.js';
import { AsgInventory } from '../inventory/asg.js';
import type { AwsSettings, Settings } from '../settings.js';
import { AlbTraffic } from '../traffic/alb.js';
import { CloudWatchAlarms } from './alarms.js';
import { AwsCalls, DEFAULT_AWS_TIMING, awsClients, closeClients, type AwsClients, type AwsTiming } from './clients.js';

/**
 * The AWS provider's parts over one set of clients: ASG inventory + SSM release + ALB traffic.
 * The inventory also scales the old color down after a switch, so the traffic holds it for that.
 */
export class AwsParts {
  readonly clients: AwsClients;
  /** The one retry and error policy, for any other AWS part (CloudWatch alarms). */
  readonly calls: AwsCalls;
  readonly inventory: AsgInventory;
  readonly releaser: SsmReleaser;
  readonly traffic: AlbTraffic;
  /** The CloudWatch alarms validation watches (`cloudwatch-alarms`), when any are named. */
  readonly alarms?: CloudWatchAlarms;

  constructor(settings: Settings, aws: AwsSettings, timing: AwsTiming = DEFAULT_AWS_TIMING) {
    this.clients = awsClients(aws);
    this.calls = new AwsCalls(timing);
    const calls = this.calls;
    this.inventory = new AsgInventory(this.clients.autoScaling, calls, aws, timing);
    this.releaser = new SsmReleaser(this.clients.ssm, calls, settings, timing);
    this.traffic = new AlbTraffic(this.clients.elb, calls, aws, {
      health: settings.health,
      drainTimeoutMs: settings.traffic.drainTimeoutMs,
      stickySplitSeconds: settings.rollout.stickySplitSeconds,
      ...(settings.traffic.minHealthyHosts !== undefined && { minHealthyHosts: settings.traffic.minHealthyHosts }),
      scaleDown: this.inventory,
      // Never inside the rollback window: until it ends, a rollback must be a single traffic move.
      ...(aws.scaleDownDelayMs !== undefined && { scaleDownDelayMs: Math.max(aws.scaleDownDelayMs, settings.rollout.rollbackWindowMs) }),
      timing,
    });
    if (settings.rollout.alarms.length > 0) this.alarms = CloudWatchAlarms.forRegion(settings.rollout.alarms, aws.region, calls);
  }

  close(): void {
    closeClients(this.clients);
    this.alarms?.close();
  }
}
