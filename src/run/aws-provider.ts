import type { ReleaseSource } from '../hosts/host-script.js';
import { SsmReleaser, type ReleaseArtifact } from '../hosts/ssm.js';
import { AsgInventory } from '../inventory/asg.js';
import type { AwsSettings, Settings } from '../settings.js';
import { AlbTraffic } from '../traffic/alb.js';
import { CloudWatchAlarms } from '../aws/alarms.js';
import { AwsCalls, DEFAULT_AWS_TIMING, awsClients, closeClients, type AwsClients, type AwsTiming } from '../aws/clients.js';

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
  /** The release in S3 (`release-bucket`), when instances download it rather than fetch it with git. */
  readonly artifact?: ReleaseArtifact;

  constructor(settings: Settings, aws: AwsSettings, timing: AwsTiming = DEFAULT_AWS_TIMING, cancelled?: AbortSignal) {
    this.clients = awsClients(aws);
    this.calls = new AwsCalls(timing);
    const calls = this.calls;
    this.inventory = new AsgInventory(this.clients.autoScaling, calls, aws, timing);
    this.artifact = s3Artifact(settings, aws, calls);
    this.releaser = new SsmReleaser(this.clients.ssm, calls, settings, timing, this.artifact, cancelled);
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
    this.artifact?.close();
  }
}

/**
 * With `release-bucket`, the S3 artifact, its code (and the S3 SDK) loaded on first use: a run
 * without it, and a dry run or a switch with it, never load them.
 */
function s3Artifact(settings: Settings, aws: AwsSettings, calls: AwsCalls): ReleaseArtifact | undefined {
  const bucket = aws.releaseBucket;
  const source = settings.hostRelease.source;
  if (!bucket || source.kind !== 'upload') return undefined;
  let loaded: Promise<ReleaseArtifact> | undefined;
  return {
    async sourceFor(release: string, validForMs: number): Promise<ReleaseSource> {
      loaded ??= import('../hosts/s3-artifact.js').then(({ S3ReleaseArtifact }) =>
        S3ReleaseArtifact.forRegion(aws.region, calls, bucket, settings.appName, source.path),
      );
      return (await loaded).sourceFor(release, validForMs);
    },
    close() {
      void loaded?.then(
        (artifact) => artifact.close(),
        () => undefined,
      );
    },
  };
}
