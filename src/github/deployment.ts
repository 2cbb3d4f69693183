import type { Color } from '../colors.js';
import type { GitHubRepo } from './client.js';

export interface DeploymentTarget {
  environment: string;
  /** The live app, shown on the environment page. */
  url?: string;
  ref: string;
  logUrl: string;
}

/** How many earlier deployments of the environment a successful one looks through to mark inactive. */
const SUPERSEDED_LOOKBACK = 30;

/**
 * A GitHub deployment for one switch or rollback: created `in_progress` before traffic moves and
 * marked `success` or `failure` at the end, so the environment page shows which color and release
 * are live. A production deployment is not inactivated by GitHub when a newer one succeeds
 * (`auto_inactive` applies to non-production environments only), so a success marks the earlier
 * successful deployments of the environment `inactive` itself: one active deployment, the live one.
 */
export class GitHubDeployment {
  private constructor(
    private readonly github: GitHubRepo,
    private readonly target: DeploymentTarget,
    readonly id: number,
  ) {}

  static async start(
    github: GitHubRepo,
    target: DeploymentTarget,
    what: { color?: Color; release: string; mode: string; appName: string },
  ): Promise<GitHubDeployment> {
    const description = `${what.mode} ${what.appName} to ${what.color ?? 'the idle color'} (release ${what.release})`;
    const id = await github.createDeployment({
      ref: target.ref,
      environment: target.environment,
      description: description.slice(0, 140),
      payload: { app: what.appName, color: what.color ?? null, release: what.release, mode: what.mode },
    });
    const deployment = new GitHubDeployment(github, target, id);
    await github.setDeploymentStatus(id, { state: 'in_progress', description, logUrl: target.logUrl });
    return deployment;
  }

  /** Marks it `success` or `failure`; `live` (the color now live) goes into the inactive statuses of the ones it supersedes. */
  async finish(ok: boolean, description: string, live?: string): Promise<void> {
    await this.github.setDeploymentStatus(this.id, {
      state: ok ? 'success' : 'failure',
      description,
      logUrl: this.target.logUrl,
      ...(ok && this.target.url && { environmentUrl: this.target.url }),
    });
    if (!ok) return;
    for (const id of await this.github.recentDeployments(this.target.environment, SUPERSEDED_LOOKBACK)) {
      if (id === this.id || (await this.github.deploymentState(id)) !== 'success') continue;
      await this.github.setDeploymentStatus(id, {
        state: 'inactive',
        description: `superseded by deployment ${this.id}${live ? ` (${live} is live)` : ''}`,
        logUrl: this.target.logUrl,
      });
    }
  }
}
