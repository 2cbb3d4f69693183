import { afterAll, afterEach, beforeAll, expect } from '@jest/globals';
import { GitHubApiDouble } from '../../lab/github-api.js';
import { EXAMPLE_APP_DIR } from '../../lab/memory-provider.js';

// The GitHub API double (lab/github-api.ts) as jest uses it. Kept apart from the double because the
// demo and the benchmarks load lab/ under plain Node, where '@jest/globals' has no hooks to give.

/**
 * A double on `host` for the whole test file: started before, stopped after, and after each test
 * checked for requests GitHub would have refused, then emptied.
 */
export function useGitHubApi(host: string): { api: GitHubApiDouble; url: () => string } {
  const api = new GitHubApiDouble();
  let url = '';
  beforeAll(async () => {
    url = await api.start(host);
  });
  afterAll(async () => {
    await api.stop();
  });
  afterEach(() => {
    expect(api.violations).toEqual([]);
    api.variables.clear();
    api.deployments.length = 0;
    api.requests.length = 0;
    api.beforeEach = undefined;
    api.outages.length = 0;
  });
  return { api, url: () => url };
}

/** What the runner puts in the environment of a step of a run in acme/shop, with the API at `apiUrl`. */
export function runnerEnv(apiUrl: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    GITHUB_REPOSITORY: 'acme/shop',
    GITHUB_API_URL: apiUrl,
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_RUN_ID: '7001',
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_JOB: 'deploy',
    ...extra,
  };
}

/** Inputs of a run on the SSH provider with a token that may write variables; the tests add the mode. */
export const inputsWithToken = (extra: Record<string, string> = {}): Record<string, string> => ({
  provider: 'ssh',
  'app-name': 'shop',
  'blue-hosts': '10.0.0.11',
  'green-hosts': '10.0.0.21',
  'health-retries': '0',
  'github-token': 'github_pat_full',
  'release-path': EXAMPLE_APP_DIR,
  ...extra,
});
