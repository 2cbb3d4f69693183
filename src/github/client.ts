import { getOctokit } from '@actions/github';
import { messageOf } from '../errors.js';
import { retryUntil, type RetryPolicy } from '../retry.js';
import type { GitHubSettings } from '../settings.js';

/** A repository variable as the REST API returns it. */
export interface RepoVariable {
  name: string;
  value: string;
  updated_at?: string;
}

/** A failed GitHub call, with its HTTP status (0: no answer) and what the user should do. */
export class GitHubError extends Error {
  override name = 'GitHubError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }

  /** The token lacks a permission (or is not valid): fixed by the user, not by retrying. */
  get isPermission(): boolean {
    return this.status === 401 || this.status === 403;
  }

  /** No answer, or GitHub's own trouble (an outage page, a secondary rate limit): worth another try. */
  get isTransient(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

/** GitHub's short outages (a 502 from its edge, a 503) pass within seconds: a few tries before giving up. */
export const GITHUB_RETRY: RetryPolicy = { retries: 3, initialDelayMs: 500, maxDelayMs: 4000 };

export type DeploymentState = 'in_progress' | 'success' | 'failure' | 'error' | 'inactive';

/**
 * The few REST calls the action makes on its own repository: repository variables (state and lock)
 * and deployments. Every failure becomes a GitHubError with the status, so callers decide what a
 * 404 (first run), a 409 (name taken) or a 403 (missing permission) means for them.
 */
export class GitHubRepo {
  private readonly octokit: ReturnType<typeof getOctokit>;
  private readonly where: { owner: string; repo: string };

  constructor(token: string, repository: { owner: string; repo: string }, apiUrl: string) {
    this.octokit = getOctokit(token, { baseUrl: apiUrl });
    this.where = repository;
  }

  /** The repository client for these settings, or undefined on a local run or without a token. */
  static fromSettings(github: GitHubSettings): GitHubRepo | undefined {
    return github.token && github.repository ? new GitHubRepo(github.token, github.repository, github.apiUrl) : undefined;
  }

  get fullName(): string {
    return `${this.where.owner}/${this.where.repo}`;
  }

  /** The variable, or undefined when it does not exist. */
  async getVariable(name: string): Promise<RepoVariable | undefined> {
    try {
      const { data } = await this.call(`read variable ${name}`, () => this.octokit.rest.actions.getRepoVariable({ ...this.where, name }));
      return data;
    } catch (error) {
      if (error instanceof GitHubError && error.status === 404) return undefined;
      throw error;
    }
  }

  /**
   * Creates the variable; false when it exists already. Only one of several racing creates of a name
   * succeeds (GitHub answers 409 to the others, or 422 "already exists"), which makes the lock atomic.
   */
  async createVariable(name: string, value: string): Promise<boolean> {
    try {
      await this.call(`create variable ${name}`, () => this.octokit.rest.actions.createRepoVariable({ ...this.where, name, value }));
      return true;
    } catch (error) {
      if (error instanceof GitHubError && error.status === 409) return false;
      // 422 is also GitHub's answer to a bad name: it means "exists" only if the name is there.
      if (error instanceof GitHubError && error.status === 422 && (await this.getVariable(name)) !== undefined) return false;
      throw error;
    }
  }

  async updateVariable(name: string, value: string): Promise<void> {
    await this.call(`update variable ${name}`, () => this.octokit.rest.actions.updateRepoVariable({ ...this.where, name, value }));
  }

  /** Deletes the variable; gone already counts as deleted. */
  async deleteVariable(name: string): Promise<void> {
    try {
      await this.call(`delete variable ${name}`, () => this.octokit.rest.actions.deleteRepoVariable({ ...this.where, name }));
    } catch (error) {
      if (!(error instanceof GitHubError && error.status === 404)) throw error;
    }
  }

  /** Creates a deployment of `ref` to `environment`; returns its id. */
  async createDeployment(deployment: { ref: string; environment: string; description: string; payload: Record<string, unknown> }): Promise<number> {
    const { data } = await this.call(`create a deployment to ${deployment.environment}`, () =>
      this.octokit.rest.repos.createDeployment({
        ...this.where,
        ...deployment,
        // The release is already built and checked by this run: no merge of the default branch, no wait for status checks.
        auto_merge: false,
        required_contexts: [],
        production_environment: true,
      }),
    );
    if (!('id' in data)) throw new GitHubError(202, `GitHub did not create the deployment: ${data.message ?? 'no id returned'}`);
    return data.id;
  }

  /** The ids of the latest deployments to `environment`, newest first (GitHub's order), at most `count`. */
  async recentDeployments(environment: string, count: number): Promise<number[]> {
    const { data } = await this.call(`list the deployments to ${environment}`, () =>
      this.octokit.rest.repos.listDeployments({ ...this.where, environment, per_page: count }),
    );
    return data.map((deployment) => deployment.id);
  }

  /** The state of the deployment's latest status, or undefined when it has none. */
  async deploymentState(id: number): Promise<string | undefined> {
    const { data } = await this.call(`read the statuses of deployment ${id}`, () =>
      this.octokit.rest.repos.listDeploymentStatuses({ ...this.where, deployment_id: id, per_page: 1 }),
    );
    return data[0]?.state;
  }

  async setDeploymentStatus(id: number, status: { state: DeploymentState; description: string; logUrl?: string; environmentUrl?: string }): Promise<void> {
    await this.call(`set the status of deployment ${id}`, () =>
      this.octokit.rest.repos.createDeploymentStatus({
        ...this.where,
        deployment_id: id,
        state: status.state,
        description: status.description.slice(0, 140),
        ...(status.logUrl && { log_url: status.logUrl }),
        ...(status.environmentUrl && { environment_url: status.environmentUrl }),
      }),
    );
  }

  /** One call, retried while GitHub has trouble of its own; any failure becomes a GitHubError. */
  private async call<T>(what: string, request: () => Promise<T>): Promise<T> {
    const attempt = async (): Promise<{ value: T } | { error: GitHubError }> => {
      try {
        return { value: await request() };
      } catch (error) {
        const status = typeof (error as { status?: unknown }).status === 'number' ? (error as { status: number }).status : 0;
        return { error: new GitHubError(status, `GitHub refused to ${what} in ${this.fullName}${status ? ` (HTTP ${status})` : ''}: ${messageOf(error)}`) };
      }
    };
    const { value: outcome } = await retryUntil(GITHUB_RETRY, attempt, (o) => !('error' in o) || !o.error.isTransient);
    if ('error' in outcome) throw outcome.error;
    return outcome.value;
  }
}
