import { describe, expect, it } from '@jest/globals';
import { GitHubRepo } from '../src/github/client.js';
import { StateStore } from '../src/state/store.js';
import { liveObserved, runStarted, type AppState } from '../src/state/model.js';
import { inputsWithToken, runnerEnv, useGitHubApi } from './support/github-api.js';
import { MemoryWorld } from '../lab/memory-provider.js';
import { errorLines, runAction, visibleLog } from './support/action.js';

const SHA = '0123456789abcdef0123456789abcdef01234567';
const RUN_URL = 'https://github.com/acme/shop/actions/runs/7001';

const { api, url } = useGitHubApi('127.0.3.1');
const env = (extra: NodeJS.ProcessEnv = {}) => runnerEnv(url(), extra);

const inputs = (extra: Record<string, string> = {}) => inputsWithToken({ 'app-name': 'shop-api', ...extra });

const state = () => api.json('BLUEGREEN_SHOP_API') as unknown as AppState | undefined;

describe('state in a repository variable', () => {
  it('is created on the first run (404) and records the release, the live color and the run that reached each phase', async () => {
    const world = new MemoryWorld();
    const result = await runAction(inputs({ mode: 'deploy' }), world, env());

    expect(result.failed).toBe(false);
    expect(api.requests.slice(0, 2).map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /repos/acme/shop/actions/variables/BLUEGREEN_SHOP_API',
      'POST /repos/acme/shop/actions/variables',
    ]);
    expect(result.log).toContain('No state yet for shop-api: the repository variable BLUEGREEN_SHOP_API will be created.');
    expect(state()).toMatchObject({
      version: 1,
      live: 'blue',
      releases: { green: SHA },
      lastRun: {
        run: { id: '7001', attempt: 1, url: RUN_URL },
        mode: 'deploy',
        release: SHA,
        target: 'green',
        completed: ['locate', 'capacity', 'inventory', 'release', 'health', 'preview'],
        outcome: 'succeeded',
      },
      // Adopting a color that was live before the first run is no switch.
      history: [],
    });
    // The lock was taken and given back.
    expect(api.variables.has('BLUEGREEN_SHOP_API_LOCK')).toBe(false);
  });

  it('is updated by a switch: live and previous color, and a bounded history of switches', async () => {
    const world = new MemoryWorld();
    await runAction(inputs({ mode: 'deploy' }), world, env());
    for (let i = 0; i < 12; i++) {
      const result = await runAction(
        inputs({ mode: i % 2 === 0 ? 'switch' : 'rollback' }),
        world,
        env({ GITHUB_RUN_ID: String(8000 + i), GITHUB_JOB: 'switch' }),
      );
      expect(result.failed).toBe(false);
    }
    const recorded = state();
    expect(recorded).toMatchObject({ live: 'blue', previous: 'green', releases: { green: SHA } });
    expect(recorded?.history).toHaveLength(10);
    expect(recorded?.history[0]).toMatchObject({ from: 'green', to: 'blue', by: 'rollback', runUrl: 'https://github.com/acme/shop/actions/runs/8011' });
    expect(recorded?.history[1]).toMatchObject({
      from: 'blue',
      to: 'green',
      by: 'switch',
      release: SHA,
      runUrl: 'https://github.com/acme/shop/actions/runs/8010',
    });
    expect(api.requests.some((r) => r.method === 'PATCH' && r.path.endsWith('/BLUEGREEN_SHOP_API'))).toBe(true);
  });

  it('reports the release a rollback brings back from the state, not the commit of the rollback job', async () => {
    const world = new MemoryWorld();
    for (const [mode, release] of [
      ['deploy', 'v1'],
      ['switch', 'v1'],
      ['deploy', 'v2'],
      ['switch', 'v2'],
    ]) {
      expect((await runAction(inputs({ mode: mode as string, release: release as string }), world, env())).failed).toBe(false);
    }
    const rollback = await runAction(inputs({ mode: 'rollback', release: 'v3-not-deployed' }), world, env());
    expect(rollback.outputs).toMatchObject({ 'live-color': 'green', release: 'v1', result: 'success' });
    expect(rollback.summary).toContain('green is live again with release v1.');
  });

  it('uses the name given by state-variable', async () => {
    await runAction(inputs({ mode: 'deploy', 'state-variable': 'shop_state' }), new MemoryWorld(), env());
    expect(api.json('SHOP_STATE')).toMatchObject({ live: 'blue' });
    expect(api.variables.has('BLUEGREEN_SHOP_API')).toBe(false);
  });

  it('records a failed validation and the automatic move back', async () => {
    const world = new MemoryWorld();
    world.moveIgnored = true;
    const result = await runAction(inputs({ mode: 'switch' }), world, env());
    expect(result.failed).toBe(true);
    expect(state()).toMatchObject({
      live: 'blue',
      lastRun: { mode: 'switch', outcome: 'failed', failedPhase: 'validate', completed: ['locate', 'inventory', 'verify', 'switch'] },
    });
    expect(state()?.history.at(0)).toMatchObject({ from: 'green', to: 'blue', by: 'auto-rollback' });
  });
});

describe('a token that cannot write variables', () => {
  it('warns naming the missing permission and deploys with the load balancer as truth', async () => {
    const world = new MemoryWorld();
    const result = await runAction(inputs({ mode: 'deploy', 'github-token': 'ghs_default_token' }), world, env());

    expect(result.failed).toBe(false);
    expect(world.hosts.green.map((h) => world.releases.get(h.name))).toEqual([SHA, SHA]);
    const warnings = result.log.split('\n').filter((line) => line.startsWith('::warning::'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('the github-token cannot read and write the repository variable BLUEGREEN_SHOP_API');
    expect(warnings[0]).toContain('The token needs the repository permission "Variables: read and write"');
    expect(warnings[0]).toContain('the default GITHUB_TOKEN cannot have it');
    expect(result.summary).toContain('<h3>State</h3>');
    expect(result.summary).toContain('State and deploy lock are off for this run');
    expect(api.variables.size).toBe(0);
  });

  it('warns the same way for a token that can only read, after reading the state', async () => {
    api.setVariable('BLUEGREEN_SHOP_API', JSON.stringify({ version: 1, live: 'blue', releases: {}, history: [] }));
    const result = await runAction(inputs({ mode: 'deploy', 'github-token': 'github_pat_read_only' }), new MemoryWorld(), env());
    expect(result.failed).toBe(false);
    expect(result.log).toMatch(/::warning::State and deploy lock are off for this run: the github-token cannot read and write/);
    expect(api.json('BLUEGREEN_SHOP_API')).toEqual({ version: 1, live: 'blue', releases: {}, history: [] });
  });

  it('fails before changing anything with strict-state: true', async () => {
    const world = new MemoryWorld();
    const result = await runAction(inputs({ mode: 'deploy', 'github-token': 'ghs_default_token', 'strict-state': 'true' }), world, env());
    expect(result.failed).toBe(true);
    expect(errorLines(result.log)).toEqual([
      '::error::State is required (strict-state: true) but the github-token cannot read and write the repository variable BLUEGREEN_SHOP_API. The token needs the repository permission "Variables: read and write": the default GITHUB_TOKEN cannot have it, so pass github-token a fine-grained personal access token or a GitHub App token. Nothing was changed.',
    ]);
    expect(world.releases.get('green-1')).toBe('r0');
  });

  it('warns on a token GitHub does not know (401), naming the input', async () => {
    const result = await runAction(inputs({ mode: 'deploy', 'github-token': 'github_pat_revoked' }), new MemoryWorld(), env());
    expect(result.failed).toBe(false);
    expect(result.log).toMatch(
      /::warning::State and deploy lock are off for this run: GitHub does not accept the github-token \(GitHub refused to read variable BLUEGREEN_SHOP_API in acme\/shop \(HTTP 401\): Bad credentials[^)]*\); pass a valid token\./,
    );
    expect(visibleLog(result.log)).not.toContain('github_pat_revoked');
  });
});

describe('without GitHub', () => {
  it('turns state off with one info line on a local run', async () => {
    const result = await runAction(inputs({ mode: 'deploy' }), new MemoryWorld());
    expect(result.failed).toBe(false);
    expect(result.log).toContain('State, deploy lock and deployments are off: GITHUB_REPOSITORY is not set (a local run).\n');
    expect(result.log).not.toContain('::warning::');
    expect(api.requests).toEqual([]);
  });
});

describe('drift', () => {
  it('says so when the record and the load balancer disagree, acts on the load balancer, and corrects the record', async () => {
    api.setVariable('BLUEGREEN_SHOP_API', JSON.stringify({ version: 1, live: 'green', previous: 'blue', releases: { green: 'v1', blue: 'v0' }, history: [] }));
    const world = new MemoryWorld();
    const result = await runAction(inputs({ mode: 'deploy' }), world, env());

    expect(result.failed).toBe(false);
    // The balancer says blue is live, so the release went to green, as the record would have forbidden.
    expect(result.outputs['target-color']).toBe('green');
    expect(world.hosts.green.map((h) => world.releases.get(h.name))).toEqual([SHA, SHA]);
    expect(result.summary).toContain(
      'Drift: the state variable BLUEGREEN_SHOP_API records green as live, but memory balancer says blue. Something outside this action changed it; this run acted on the load balancer&#39;s answer and corrected the record.',
    );
    expect(result.log).toContain('::warning::Drift: the state variable BLUEGREEN_SHOP_API records green as live');
    expect(state()).toMatchObject({ live: 'blue', previous: 'green', history: [{ from: 'green', to: 'blue', by: 'outside', release: 'v0' }] });
  });

  it('shows drift in a dry run too, without writing anything', async () => {
    api.setVariable('BLUEGREEN_SHOP_API', JSON.stringify({ version: 1, live: 'green', releases: {}, history: [] }));
    const result = await runAction(inputs({ mode: 'switch', 'dry-run': 'true' }), new MemoryWorld(), env());
    expect(result.summary).toContain('Drift: the state variable BLUEGREEN_SHOP_API records green as live, but memory balancer says blue.');
    expect(api.requests.filter((r) => r.method !== 'GET')).toEqual([]);
  });
});

describe('concurrent writers', () => {
  it('keeps both changes when two runs update the state at the same moment', async () => {
    const github = new GitHubRepo('github_pat_full', { owner: 'acme', repo: 'shop' }, url());
    const a = new StateStore(github, 'BLUEGREEN_SHOP_API');
    const b = new StateStore(github, 'BLUEGREEN_SHOP_API');
    await a.update(liveObserved('blue', 'outside', 'run-0', '2024-01-01T00:00:00Z'));
    // Both read before either writes: without re-reading, the second PATCH would erase the first.
    const [stateA, stateB] = await Promise.all([
      a.update(liveObserved('green', 'switch', 'https://github.com/acme/shop/actions/runs/1', '2024-01-01T00:01:00Z')),
      b.update(runStarted({ id: '2', attempt: 1, url: 'https://github.com/acme/shop/actions/runs/2' }, 'deploy', 'v2', '2024-01-01T00:01:00Z')),
    ]);
    const patches = api.requests.filter((r) => r.method === 'PATCH');
    expect(patches.length).toBeGreaterThanOrEqual(3);
    const final = state();
    expect(final).toMatchObject({ live: 'green', previous: 'blue', lastRun: { run: { id: '2' }, release: 'v2', outcome: 'running' } });
    expect(final?.history).toHaveLength(1);
    expect([stateA, stateB]).toContainEqual(final);
  });

  it('creates the variable once when two first runs race to create it', async () => {
    const github = new GitHubRepo('github_pat_full', { owner: 'acme', repo: 'shop' }, url());
    const store = () => new StateStore(github, 'BLUEGREEN_SHOP_API');
    await Promise.all([
      store().update(liveObserved('blue', 'switch', 'run-1', '2024-01-01T00:00:00Z')),
      store().update(runStarted({ id: '2', attempt: 1, url: 'run-2' }, 'deploy', 'v2', '2024-01-01T00:00:00Z')),
    ]);
    const creates = api.requests.filter((r) => r.method === 'POST');
    expect(creates).toHaveLength(2);
    expect(state()).toMatchObject({ live: 'blue', lastRun: { release: 'v2' } });
  });
});

describe('GitHub deployments', () => {
  it('records a switch as a deployment of the environment, in progress then successful, with the live URL', async () => {
    const world = new MemoryWorld();
    const result = await runAction(
      inputs({ mode: 'switch', 'github-deployment': 'true', 'deployment-environment': 'production', 'environment-url': 'https://shop.example.com' }),
      world,
      env({ GITHUB_SHA: SHA }),
    );
    expect(result.failed).toBe(false);
    expect(api.deployments).toEqual([
      {
        id: expect.any(Number),
        ref: SHA,
        environment: 'production',
        description: `switch shop-api to green (release ${SHA})`,
        payload: { app: 'shop-api', color: 'green', release: SHA, mode: 'switch' },
        statuses: [
          { state: 'in_progress', description: `switch shop-api to green (release ${SHA})`, log_url: RUN_URL },
          { state: 'success', description: `green is live with release ${SHA}`, environment_url: 'https://shop.example.com', log_url: RUN_URL },
        ],
      },
    ]);
  });

  it('marks the deployment failed when the switch fails', async () => {
    const world = new MemoryWorld();
    world.unhealthy.add('green-1');
    await runAction(inputs({ mode: 'switch', 'github-deployment': 'true' }), world, env());
    expect(api.deployments[0]?.statuses.map((s) => s.state)).toEqual(['in_progress', 'failure']);
    expect(api.deployments[0]?.statuses[1]?.description).toBe('Check health before moving traffic failed; live: blue');
  });

  it('names the release live on the target color and its commit: a rollback deploys what it brings back, not its own commit', async () => {
    const world = new MemoryWorld();
    const sha = (n: number) => String(n).repeat(40);
    for (const [mode, release, commit] of [
      ['deploy', 'v1', sha(1)],
      ['switch', 'v1', sha(1)],
      ['deploy', 'v2', sha(2)],
      ['switch', 'v2', sha(2)],
    ] as const) {
      expect((await runAction(inputs({ mode, release, 'github-deployment': 'true' }), world, env({ GITHUB_SHA: commit }))).failed).toBe(false);
    }
    const rollback = await runAction(inputs({ mode: 'rollback', release: 'v9-dispatch', 'github-deployment': 'true' }), world, env({ GITHUB_SHA: sha(3) }));
    expect(rollback.failed).toBe(false);
    expect(state()).toMatchObject({ releases: { green: 'v1', blue: 'v2' }, commits: { green: sha(1), blue: sha(2) } });
    expect(api.deployments.at(-1)).toMatchObject({
      ref: sha(1),
      description: 'rollback shop-api to green (release v1)',
      payload: { app: 'shop-api', color: 'green', release: 'v1', mode: 'rollback' },
    });
    expect(api.deployments.at(-1)?.statuses.at(-1)).toMatchObject({ state: 'success', description: 'green is live with release v1' });
    expect(api.deployments.map((d) => d.ref)).toEqual([sha(1), sha(2), sha(1)]);
  });

  it('marks the earlier successful deployments of the environment inactive once a new one succeeds, and leaves failed ones alone', async () => {
    const world = new MemoryWorld();
    const deploymentInputs = (mode: string) => inputs({ mode, 'github-deployment': 'true', 'deployment-environment': 'production' });
    expect((await runAction(deploymentInputs('switch'), world, env())).failed).toBe(false);
    world.unhealthy.add('blue-1');
    expect((await runAction(deploymentInputs('switch'), world, env())).failed).toBe(true);
    world.unhealthy.clear();
    expect((await runAction(deploymentInputs('switch'), world, env())).failed).toBe(false);
    expect(api.deployments.map((d) => d.statuses.map((s) => s.state))).toEqual([
      ['in_progress', 'success', 'inactive'],
      ['in_progress', 'failure'],
      ['in_progress', 'success'],
    ]);
    expect(api.deployments[0]?.statuses.at(-1)?.description).toBe(`superseded by deployment ${api.deployments[2]?.id} (blue is live)`);
  });

  it('creates none for a deploy, which changes nothing live', async () => {
    await runAction(inputs({ mode: 'deploy', 'github-deployment': 'true' }), new MemoryWorld(), env());
    expect(api.deployments).toEqual([]);
  });

  it('warns naming the Deployments permission when the token lacks it, and switches anyway', async () => {
    const world = new MemoryWorld();
    const result = await runAction(inputs({ mode: 'switch', 'github-deployment': 'true', 'github-token': 'github_pat_read_only' }), world, env());
    expect(result.failed).toBe(false);
    expect(world.live).toEqual({ kind: 'color', color: 'green' });
    expect(result.log).toContain('The token needs the repository permission "Deployments: read and write"');
  });
});

describe('state settings and stored values', () => {
  it('derives the variable name from the app name, and refuses a name GitHub would refuse', async () => {
    const { readSettings } = await import('../src/settings.js');
    const { appVariables } = await import('../src/app-variables.js');
    expect(appVariables('shop-api-v2')).toEqual({ state: 'BLUEGREEN_SHOP_API_V2', lock: 'BLUEGREEN_SHOP_API_V2_LOCK' });
    const settings = (extra: Record<string, string>) => () => readSettings((name) => ({ mode: 'deploy', ...inputs(extra) })[name] ?? '', { GITHUB_SHA: SHA });
    expect(settings({})().github).toMatchObject({
      stateVariable: 'BLUEGREEN_SHOP_API',
      lockVariable: 'BLUEGREEN_SHOP_API_LOCK',
      lockTimeoutMs: 300_000,
      lockExpiryMs: 3_600_000,
      strictState: false,
    });
    expect(settings({ 'state-variable': 'GITHUB_STATE' })).toThrow(
      "Input 'state-variable': 'GITHUB_STATE' is not valid. Use letters, digits and `_`, not starting with a digit or `GITHUB_` nor ending in `_LOCK`, for example `BLUEGREEN_SHOP`",
    );
    expect(settings({ 'lock-timeout': 'soon' })).toThrow("Input 'lock-timeout': 'soon' is not a number of seconds from 0 to 21600");
    expect(settings({ 'strict-state': 'true', 'github-token': '' })).toThrow("Input 'strict-state': is true but github-token is empty");
  });

  it('reads a value written by hand or by another tool as far as it makes sense, never failing on it', async () => {
    const { parseState } = await import('../src/state/model.js');
    expect(parseState('not json')).toEqual({ version: 1, releases: {}, history: [] });
    expect(parseState('{"live":"purple","releases":{"blue":"v1","green":7},"history":[{"to":"green"},{"to":"red"}]}')).toEqual({
      version: 1,
      releases: { blue: 'v1' },
      history: [{ to: 'green' }],
    });
  });
});
