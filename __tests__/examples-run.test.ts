import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load } from 'js-yaml';
import { mapPathFor, renderHaproxyConfig, renderLiveMap } from '../src/traffic/haproxy-config.js';
import { errorLines } from './support/action.js';
import { DigitalOceanDouble } from '../lab/digitalocean-api.js';
import { GitHubApiDouble } from '../lab/github-api.js';
import { Child, waitFor } from '../lab/haproxy.js';
import { EXAMPLE_APP, SshWorld, type SshHost } from '../lab/sshd.js';
import { WorkflowError, runWorkflow, type JobRun, type WorkflowFixture } from '../lab/workflow-runner.js';

// Every workflow in examples/, run job by job as GitHub would (lab/workflow-runner.ts) against
// the local world: the committed bundle (dist/index.js) is the action step, `actions/checkout`
// fills the job's empty workspace with examples/app, secrets come from a fixture table, and the
// examples' addresses map onto loopback. SSH examples run against real sshd hosts (blue and
// green), a real sshd load balancer host running its own HAProxy that the action manages over SSH,
// and a real sshd bastion for `ssh-jump-host`; DigitalOcean against the API double, with a small
// stand-in for the load balancer's data plane; AWS as far as its first signed request, which a
// local stub denies. Each world is built once and reused by the jobs of every run.
//
// Loopback addresses (this file's own range, 127.0.33.x-127.0.39.x): GitHub API doubles 127.0.33.1-3;
// SSH app hosts 127.0.34.11-14; load balancer host 127.0.35.1 (HAProxy on :8080 live, :8081 preview)
// and bastion 127.0.35.2; Droplets 127.0.36.11-14, DigitalOcean API double 127.0.36.1, its load
// balancer's data plane 127.0.36.2; the AWS stub 127.0.37.1.

const root = fileURLToPath(new URL('..', import.meta.url));
const examplesDir = join(root, 'examples');
const examples = readdirSync(examplesDir)
  .filter((name) => name.endsWith('.yml'))
  .sort();
const example = (name: string) => readFileSync(join(examplesDir, name), 'utf8');

/** Which world runs which example: a new example without one fails the first test. */
const WORLD_OF: Record<string, 'ssh' | 'digitalocean' | 'aws'> = {
  'ssh-deploy-and-switch.yml': 'ssh',
  'ssh-rollback.yml': 'ssh',
  'digitalocean.yml': 'digitalocean',
  'aws-oidc.yml': 'aws',
};

/** Where the examples' users keep their site: what the lab puts in its place. */
const PUBLIC_URL = 'https://shop.example.com';
const LB_ID = '4de7ac8b-495b-4884-9a69-1050c6793cd6';
const SHA = {
  first: '1111111111111111111111111111111111111111',
  second: '2222222222222222222222222222222222222222',
  third: '3333333333333333333333333333333333333333',
};
/** Tokens the GitHub API double knows: a fine-grained token with Variables and Deployments, and the default GITHUB_TOKEN. */
const BLUEGREEN_TOKEN = 'github_pat_full';
const GITHUB_TOKEN = 'ghs_default_token';

/**
 * Inputs the lab sets because its hosts are not the example's site, and only where the example
 * leaves the default: app directory and listen address (four hosts share one machine), the CPAN
 * mirror (no public CPAN here), the API's address, the HAProxy files on the load balancer host.
 */
const SITE_INPUTS = [
  'app-dir',
  'app-listen-address',
  'cpan-mirror',
  'haproxy-config',
  'haproxy-socket',
  'haproxy-bind',
  'haproxy-preview-bind',
  'digitalocean-api-url',
  'ssh-user',
  'ssh-port',
];

/** The example's addresses (whole words) replaced by the lab's, in every input. */
function mapAddresses(inputs: Record<string, string>, addresses: Record<string, string>): Record<string, string> {
  const keys = Object.keys(addresses).sort((a, b) => b.length - a.length);
  const pattern = new RegExp(`(?<![\\w.@-])(${keys.map((key) => key.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|')})(?![\\w.-])`, 'g');
  return Object.fromEntries(Object.entries(inputs).map(([name, value]) => [name, value.replace(pattern, (m) => addresses[m] ?? m)]));
}

/** An adapter for the fixture: addresses mapped, then the lab's site inputs, each only where the example kept the default. */
function siteAdapter(addresses: Record<string, string>, site: Record<string, string>, defaults: Record<string, string | undefined>): WorkflowFixture['adapt'] {
  for (const name of Object.keys(site)) expect(SITE_INPUTS).toContain(name);
  return (inputs) => {
    for (const name of Object.keys(site)) {
      if (inputs[name] !== (defaults[name] ?? '')) throw new Error(`the example sets ${name}, which the lab would override`);
    }
    return { ...mapAddresses(inputs, addresses), ...site };
  };
}

/** The action's input defaults, from action.yml as the runner reads it. */
function actionDefaults(): Record<string, string | undefined> {
  const yml = load(readFileSync(join(root, 'action.yml'), 'utf8')) as { inputs: Record<string, { default?: string }> };
  return Object.fromEntries(Object.entries(yml.inputs).map(([name, spec]) => [name, spec.default]));
}

function baseFixture(apiUrl: string, sha: string): Omit<WorkflowFixture, 'secrets'> {
  return {
    github: {
      repository: 'acme/shop',
      sha,
      ref: 'refs/heads/main',
      token: GITHUB_TOKEN,
      runId: String(Number.parseInt(sha.slice(0, 6), 16)),
      apiUrl,
      serverUrl: 'https://github.com',
      eventName: 'push',
    },
    checkoutSource: EXAMPLE_APP,
    action: { uses: 'org/bluegreen-perl@v1', dir: root },
  };
}

const jobOf = (runs: JobRun[], id: string): JobRun => {
  const job = runs.find((run) => run.id === id);
  if (!job) throw new Error(`no job ${id} ran`);
  return job;
};

/** The action step of a job (the one with inputs), and its log's error lines. */
function actionStep(job: JobRun) {
  const step = job.steps.find((s) => s.inputs !== undefined);
  if (!step) throw new Error(`job ${job.id} ran no action step`);
  return { ...step, errors: errorLines(step.log) };
}

/** The log as the job's page shows it: without debug lines (shown only with step debug logging on). */
const visible = (log: string): string =>
  log
    .split('\n')
    .filter((line) => !line.startsWith('::debug::'))
    .join('\n');

/** Fails with the job's log when it did not succeed: the log says why. */
function expectSucceeded(job: JobRun): void {
  const step = job.steps.find((s) => s.status === 'failure');
  expect({
    job: job.id,
    status: job.status,
    log: step
      ? step.log
          .split('\n')
          .filter((line) => line.startsWith('::error') || !line.startsWith('::'))
          .slice(-30)
          .join('\n')
      : '',
  }).toEqual({ job: job.id, status: 'success', log: '' });
}

/** GET / at `url`: the color and release the example app reports. */
function whoAnswers(url: string): Promise<{ status: number; color?: string; release?: string }> {
  return new Promise((resolve) => {
    const req = httpRequest(`${url}/`, { agent: false, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString()) as { color: string; release: string };
          resolve({ status: res.statusCode ?? 0, color: body.color, release: body.release });
        } catch {
          resolve({ status: res.statusCode ?? 0 });
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', () => resolve({ status: 0 }));
    req.end();
  });
}

/** Deployments of one job: the one GitHub makes for its environment (unless `deployment: false`) and the action's own. */
function deploymentsOf(job: JobRun, madeByAction: number): number {
  return (job.environment?.deployment ? 1 : 0) + madeByAction;
}

/** Counts the action's GitHub deployments per job, from the API double. */
function deploymentCounter(api: GitHubApiDouble) {
  const counts = new Map<string, number>();
  let before = 0;
  let current = '';
  const settle = () => {
    if (current) counts.set(current, api.deployments.length - before);
  };
  return {
    beforeJob: (job: string) => {
      settle();
      current = job;
      before = api.deployments.length;
    },
    of: (job: string) => {
      settle();
      current = '';
      return counts.get(job) ?? 0;
    },
  };
}

it('runs every example in a world of its kind', () => {
  expect(Object.keys(WORLD_OF).sort()).toEqual(examples);
});

describe('the workflow runner refuses what it does not model, so an example cannot pass by accident', () => {
  // Nothing here reaches a world: each workflow is refused before its first step runs.
  const fixture: WorkflowFixture = { ...baseFixture('http://127.0.33.9', SHA.first), secrets: { DEPLOY_KEY: 'k', SSH_KNOWN_HOSTS: 'h', BLUEGREEN_TOKEN } };
  const refused = async (text: string): Promise<string> => {
    const error = await runWorkflow(text, fixture).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(WorkflowError);
    return (error as Error).message;
  };
  const deploy = example('ssh-deploy-and-switch.yml');

  it.each([
    [
      'an older major of actions/checkout',
      deploy.replace('actions/checkout@v6', 'actions/checkout@v4'),
      'the runner does not know `uses: actions/checkout@v4`',
    ],
    [
      'an older major of configure-aws-credentials',
      example('aws-oidc.yml').replace(/configure-aws-credentials@v6/g, 'configure-aws-credentials@v4'),
      'the runner does not know `uses: aws-actions/configure-aws-credentials@v4`',
    ],
    [
      'OIDC without id-token: write',
      example('aws-oidc.yml').replace(/\n {2}id-token: write[^\n]*/, ''),
      'assuming a role through OIDC needs `permissions: id-token: write`',
    ],
    [
      'a run: step',
      deploy.replace('      - uses: actions/checkout@v6\n', '      - uses: actions/checkout@v6\n      - run: make\n'),
      'job deploy step 2: the runner does not model `run`',
    ],
    [
      'a step condition',
      deploy.replace('      - id: deploy\n', "      - id: deploy\n        if: github.ref == 'refs/heads/main'\n"),
      'the runner does not model `if`',
    ],
    [
      'an expression beyond a context path',
      deploy.replace('${{ secrets.DEPLOY_KEY }}', "${{ secrets.DEPLOY_KEY || 'none' }}"),
      "does not evaluate `${{ secrets.DEPLOY_KEY || 'none' }}`",
    ],
    ['a secret missing from the fixture table', deploy.replace('secrets.DEPLOY_KEY', 'secrets.OTHER_KEY'), 'the fixture table has no secret OTHER_KEY'],
    [
      'an input the action does not have',
      deploy.replace('          mode: deploy\n', '          mode: deploy\n          hosts: 10.0.0.11\n'),
      'org/bluegreen-perl@v1 has no input hosts',
    ],
    ['a needs on a job that does not exist', deploy.replace('needs: deploy', 'needs: build'), 'job switch needs build, which does not exist'],
  ])('%s', async (_what, text, message) => {
    expect(text).not.toBe(deploy);
    expect(await refused(text)).toContain(message);
  });
});

describe('the SSH examples, on real sshd hosts, a load balancer host with HAProxy and a bastion', () => {
  let hosts: SshWorld;
  let site: SshWorld;
  let haproxy: Child | undefined;
  const github = new GitHubApiDouble();
  let apiUrl = '';
  let lb: SshHost;
  let bastion: SshHost;
  const lbAddress = '127.0.35.1';
  const publicUrl = `http://${lbAddress}:8080`;

  beforeAll(async () => {
    apiUrl = await github.start('127.0.33.1');
    hosts = await SshWorld.start({ network: '127.0.34', firstOctet: 11, hostsPerColor: { blue: 2, green: 2 } });
    // The load balancer host and the bastion: sshd hosts of their own, which let in the runner's key too.
    // DEBUG1: the bastion's log names the target of every connection it opens for the runner.
    site = await SshWorld.start({ network: '127.0.35', firstOctet: 1, hostsPerColor: { blue: 2, green: 0 }, logLevel: 'DEBUG1' });
    [lb, bastion] = site.hosts as [SshHost, SshHost];
    const runnerKey = readFileSync(join(hosts.dir, 'runner_key.pub'), 'utf8');
    for (const host of site.hosts) appendFileSync(join(host.homeOnRunner, '.ssh', 'authorized_keys'), runnerKey);
    haproxy = await startHaproxyOn(lb, lbAddress);
  }, 180_000);

  afterAll(async () => {
    await haproxy?.stop();
    await site?.stop();
    await hosts?.stop();
    await github.stop();
  }, 120_000);

  const lbFiles = () => join(lb.homeOnRunner, 'haproxy');
  const bastionLogins = () =>
    site
      .sshdLog(bastion)
      .split('\n')
      .filter((line) => line.startsWith('Accepted publickey')).length;
  /** Every connection the bastion opened for the runner, as `address:port`, in order. */
  const bastionForwards = () =>
    [...site.sshdLog(bastion).matchAll(/server_request_direct_tcpip: originator \S+ port \d+, target (\S+) port (\d+)/g)].map((m) => `${m[1]}:${m[2]}`);

  function fixture(sha: string, extra: Partial<WorkflowFixture> = {}): WorkflowFixture & { deployments: ReturnType<typeof deploymentCounter> } {
    const [blue1, blue2] = hosts.hostsOf('blue') as [SshHost, SshHost];
    const [green1, green2] = hosts.hostsOf('green') as [SshHost, SshHost];
    const addresses = {
      '10.0.0.11': blue1.spec,
      '10.0.0.12': blue2.spec,
      '10.0.0.21': green1.spec,
      '10.0.0.22': green2.spec,
      'lb@10.0.0.5': lb.spec,
      'deploy@bastion.example.com': bastion.spec,
      [PUBLIC_URL]: publicUrl,
    };
    const deployments = deploymentCounter(github);
    return {
      ...baseFixture(apiUrl, sha),
      secrets: { DEPLOY_KEY: hosts.privateKey, SSH_KNOWN_HOSTS: [hosts.knownHosts, site.knownHosts].join('\n'), BLUEGREEN_TOKEN },
      adapt: siteAdapter(
        addresses,
        {
          'app-dir': 'app',
          'app-listen-address': 'host',
          'cpan-mirror': hosts.mirrorUrl,
          'haproxy-config': join(lbFiles(), 'haproxy.cfg'),
          'haproxy-socket': join(lbFiles(), 'admin.sock'),
          'haproxy-bind': `${lbAddress}:8080`,
          'haproxy-preview-bind': `${lbAddress}:8081`,
        },
        actionDefaults(),
      ),
      beforeJob: deployments.beforeJob,
      deployments,
      ...extra,
    };
  }

  /** Runs ssh-deploy-and-switch.yml as a push of `sha` and checks what its jobs did. */
  async function release(sha: string, color: 'blue' | 'green') {
    const run = fixture(sha);
    const jobs = await runWorkflow(example('ssh-deploy-and-switch.yml'), run);
    expect(jobs.map((job) => job.id)).toEqual(['deploy', 'switch']);
    const [deploy, switched] = [jobOf(jobs, 'deploy'), jobOf(jobs, 'switch')];
    expectSucceeded(deploy);
    expectSucceeded(switched);
    // The job's outputs reach the next job through needs.
    expect(deploy.outputs).toEqual({ 'target-color': color, release: sha });
    // The checkout filled the workspace: the hosts got the app (its tests too).
    expect(actionStep(deploy).summary).toContain(`release ${sha} on 2 host(s)`);
    // The switch waited for the environment, which records the run's one deployment.
    expect(switched.environment).toEqual({ name: 'production', url: PUBLIC_URL, deployment: true });
    expect([deploymentsOf(deploy, run.deployments.of('deploy')), deploymentsOf(switched, run.deployments.of('switch'))]).toEqual([0, 1]);
    expect(actionStep(switched).outputs).toMatchObject({ 'live-color': color, 'target-color': color, result: 'success' });
    for (let i = 0; i < 4; i++) expect(await whoAnswers(publicUrl)).toEqual({ status: 200, color, release: sha });
  }

  it('ssh-deploy-and-switch.yml: a push deploys the checked-out app through the bastion and the switch makes it live', async () => {
    const logins = bastionLogins();
    const forwards = bastionForwards().length;
    await release(SHA.first, 'blue');
    // Each host (and the load balancer host) was reached through the bastion: one login there per connection.
    expect(bastionLogins()).toBeGreaterThanOrEqual(logins + 3);
    // The health probes went through it too (probe-via auto): the blue hosts' app port and the preview
    // route on the load balancer host, besides SSH to every host. public-url is probed from the runner.
    const opened = new Set(bastionForwards().slice(forwards));
    const [blue1, blue2] = hosts.hostsOf('blue') as [SshHost, SshHost];
    expect([...opened].filter((target) => !target.endsWith(':2222')).sort()).toEqual([`${blue1.address}:5000`, `${blue2.address}:5000`, `${lbAddress}:8081`]);
  }, 300_000);

  it('ssh-deploy-and-switch.yml: the next push goes to the idle color and moves traffic there', async () => {
    await release(SHA.second, 'green');
    // A new HAProxy config went to the load balancer host over SSH, with the servers of both colors.
    expect(readFileSync(join(lbFiles(), 'haproxy.cfg'), 'utf8')).toMatch(/server \S+ 127\.0\.34\.11:5000[\s\S]*server \S+ 127\.0\.34\.14:5000/);
  }, 300_000);

  it('ssh-rollback.yml: a dry run changes nothing; a rollback from a self-hosted runner sends traffic back, recorded as one deployment', async () => {
    const dryRun = fixture(SHA.third, { inputs: { 'dry-run': 'true' }, github: { ...baseFixture(apiUrl, SHA.third).github, eventName: 'workflow_dispatch' } });
    const [planned] = await runWorkflow(example('ssh-rollback.yml'), dryRun);
    expectSucceeded(planned as JobRun);
    expect(actionStep(planned as JobRun).outputs).toMatchObject({ result: 'planned' });
    expect(await whoAnswers(publicUrl)).toEqual({ status: 200, color: 'green', release: SHA.second });

    const run = fixture(SHA.third, { github: { ...baseFixture(apiUrl, SHA.third).github, eventName: 'workflow_dispatch' } });
    const logins = bastionLogins();
    const jobs = await runWorkflow(example('ssh-rollback.yml'), run);
    const rollback = jobOf(jobs, 'rollback');
    // The self-hosted runner reaches the hosts directly.
    expect(bastionLogins()).toBe(logins);
    expectSucceeded(rollback);
    expect(actionStep(rollback).inputs?.['ssh-jump-host']).toBe('');
    expect(actionStep(rollback).outputs).toMatchObject({ 'live-color': 'blue', 'previous-color': 'green', result: 'success' });
    // No deployment from the environment (`deployment: false`); the action records the rollback once.
    expect(rollback.environment).toEqual({ name: 'production', url: PUBLIC_URL, deployment: false });
    expect(deploymentsOf(rollback, run.deployments.of('rollback'))).toBe(1);
    expect(github.deployments.at(-1)).toMatchObject({ environment: 'production' });
    for (let i = 0; i < 4; i++) expect(await whoAnswers(publicUrl)).toEqual({ status: 200, color: 'blue', release: SHA.first });
    expect(github.violations).toEqual([]);
  }, 300_000);

  it('ssh-deploy-and-switch.yml without its checkout step: the deploy fails, the switch does not run, live traffic stays', async () => {
    const text = example('ssh-deploy-and-switch.yml');
    const withoutCheckout = text.replace(/\n {6}# The release is the checked-out app[^\n]*\n {6}- uses: actions\/checkout@v6\n/, '\n');
    expect(withoutCheckout).not.toContain('actions/checkout');
    const jobs = await runWorkflow(withoutCheckout, fixture(SHA.third));
    const deploy = jobOf(jobs, 'deploy');
    expect(deploy.status).toBe('failure');
    expect(jobOf(jobs, 'switch').status).toBe('skipped');
    // One line says why (the preflight names actions/checkout before any host is touched), and no stack trace.
    const step = actionStep(deploy);
    expect(step.errors.at(-1)).toMatch(/actions\/checkout/);
    expect(visible(step.log)).not.toMatch(/\bat .*\.(js|ts):\d+/);
    expect(step.outputs).toMatchObject({ result: 'failure' });
    for (let i = 0; i < 4; i++) expect(await whoAnswers(publicUrl)).toEqual({ status: 200, color: 'blue', release: SHA.first });
  }, 300_000);
});

/**
 * HAProxy on the load balancer host as its operator runs it: master-worker, as that host's user
 * (who logs in over SSH, so the action can write its config, use the admin socket and signal the
 * master for a reload), from the config the action renders, with nothing live yet.
 */
async function startHaproxyOn(lb: SshHost, address: string): Promise<Child> {
  const dir = join(lb.homeOnRunner, 'haproxy');
  const uid = Number(execFileSync('id', ['-u', lb.user], { encoding: 'utf8' }));
  const gid = Number(execFileSync('id', ['-g', lb.user], { encoding: 'utf8' }));
  mkdirSync(dir, { mode: 0o700 });
  const configPath = join(dir, 'haproxy.cfg');
  const socketPath = join(dir, 'admin.sock');
  writeFileSync(
    configPath,
    renderHaproxyConfig(
      { configPath, socketPath, bind: `${address}:8080`, previewBind: `${address}:8081` },
      { hosts: { blue: [], green: [] }, appPort: 5000, healthPath: '/health', expectedStatus: 200 },
    ),
  );
  writeFileSync(mapPathFor(configPath), renderLiveMap(undefined, 'blue'));
  for (const path of [dir, configPath, mapPathFor(configPath)]) chownSync(path, uid, gid);
  const log = join(lb.homeOnRunner, '..', `${lb.user}-haproxy.log`);
  const fd = openSync(log, 'a');
  const child = new Child(
    'HAProxy on the load balancer host',
    spawn('haproxy', ['-W', '-f', configPath], { uid, gid, cwd: dir, stdio: ['ignore', fd, fd] }),
    log,
  );
  closeSync(fd);
  await waitFor('HAProxy on the load balancer host', async () => existsSync(socketPath) && (await whoAnswers(`http://${address}:8080`)).status === 503, child);
  return child;
}

describe('the DigitalOcean example, against the API double, Droplets on real sshd hosts and the load balancer', () => {
  let droplets: SshWorld;
  const digitalocean = new DigitalOceanDouble();
  const github = new GitHubApiDouble();
  let doUrl = '';
  let apiUrl = '';
  let dataPlane: Server | undefined;
  const publicUrl = 'http://127.0.36.2:8080';

  beforeAll(async () => {
    apiUrl = await github.start('127.0.33.2');
    doUrl = await digitalocean.start('127.0.36.1');
    // Droplets all take one ssh-user; their public addresses are the sshd hosts.
    droplets = await SshWorld.start({ network: '127.0.36', firstOctet: 11, hostsPerColor: { blue: 2, green: 2 }, sharedUser: true });
    for (const color of ['blue', 'green'] as const) {
      droplets.hostsOf(color).forEach((host, i) =>
        digitalocean.addDroplet(`shop-${color}-${i + 1}`, `env:${color}`, {
          publicIp: host.address,
          privateIp: `10.110.0.${host.address.split('.').at(-1)}`,
        }),
      );
    }
    // The load balancer exists, pointing at no Droplet yet: nothing is live.
    digitalocean.addLoadBalancer(LB_ID, { droplet_ids: [] });
    dataPlane = await startLoadBalancerDataPlane(digitalocean, '127.0.36.2', 8080);
  }, 180_000);

  afterAll(async () => {
    await new Promise((resolve) => (dataPlane ? dataPlane.close(resolve) : resolve(undefined)));
    await droplets?.stop();
    await digitalocean.stop();
    await github.stop();
  }, 120_000);

  it('digitalocean.yml: a push deploys the checked-out app to the tagged Droplets and the switch points the load balancer at them', async () => {
    const deployments = deploymentCounter(github);
    const fixture: WorkflowFixture = {
      ...baseFixture(apiUrl, SHA.first),
      secrets: { DIGITALOCEAN_TOKEN: digitalocean.token, DEPLOY_KEY: droplets.privateKey, SSH_KNOWN_HOSTS: droplets.knownHosts, BLUEGREEN_TOKEN },
      adapt: siteAdapter(
        { [PUBLIC_URL]: publicUrl },
        {
          'digitalocean-api-url': doUrl,
          'ssh-user': droplets.sharedUser ?? '',
          'ssh-port': '2222',
          'app-dir': 'app',
          'app-listen-address': 'host',
          'cpan-mirror': droplets.mirrorUrl,
        },
        actionDefaults(),
      ),
      beforeJob: deployments.beforeJob,
    };
    const jobs = await runWorkflow(example('digitalocean.yml'), fixture);
    const [deploy, switched] = [jobOf(jobs, 'deploy'), jobOf(jobs, 'switch')];
    expectSucceeded(deploy);
    expectSucceeded(switched);
    expect(actionStep(deploy).outputs).toMatchObject({ 'target-color': 'blue', release: SHA.first, result: 'success' });
    expect(actionStep(switched).outputs).toMatchObject({ 'live-color': 'blue', result: 'success' });
    expect(switched.environment).toEqual({ name: 'production', url: PUBLIC_URL, deployment: true });
    expect([deploymentsOf(deploy, deployments.of('deploy')), deploymentsOf(switched, deployments.of('switch'))]).toEqual([0, 1]);
    const blueIds = digitalocean.droplets.filter((d) => d.tags.includes('env:blue')).map((d) => d.id);
    expect(digitalocean.loadBalancers.get(LB_ID)?.droplet_ids).toEqual(blueIds);
    for (let i = 0; i < 4; i++) expect(await whoAnswers(publicUrl)).toEqual({ status: 200, color: 'blue', release: SHA.first });
    expect(digitalocean.violations).toEqual([]);
    expect(github.violations).toEqual([]);
  }, 300_000);
});

/**
 * What the DigitalOcean Load Balancer does with requests, which the API double does not: forwards
 * each to a Droplet it points at (by tag or by id, round robin), at the public address and the
 * forwarding rule's target port; 503 when it points at none.
 */
async function startLoadBalancerDataPlane(api: DigitalOceanDouble, host: string, port: number): Promise<Server> {
  let next = 0;
  const server = createServer((req: IncomingMessage, res) => {
    const lb = api.loadBalancers.get(LB_ID);
    const targets = api.droplets.filter((d) => (lb?.tag ? d.tags.includes(lb.tag) : (lb?.droplet_ids ?? []).includes(d.id)));
    const droplet = targets[next++ % Math.max(1, targets.length)];
    const address = droplet?.networks.v4.find((n) => n.type === 'public')?.ip_address;
    const targetPort = (lb?.forwarding_rules as { target_port: number }[] | undefined)?.[0]?.target_port ?? 80;
    if (!address) {
      res.writeHead(503).end('no backend\n');
      return;
    }
    const upstream = httpRequest({ host: address, port: targetPort, path: req.url, method: req.method, headers: req.headers, agent: false }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end('backend error\n'));
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return server;
}

describe('the AWS example, as far as its first signed request', () => {
  const github = new GitHubApiDouble();
  let apiUrl = '';
  let stub: Server | undefined;
  const requests: { target: string; authorization: string }[] = [];

  beforeAll(async () => {
    apiUrl = await github.start('127.0.33.3');
    stub = await startDenyingAws('127.0.37.1', 8443, requests);
  });

  afterAll(async () => {
    await new Promise((resolve) => (stub ? stub.close(resolve) : resolve(undefined)));
    await github.stop();
  });

  const fixture = (extra: Partial<WorkflowFixture> = {}): WorkflowFixture => ({
    ...baseFixture(apiUrl, SHA.first),
    secrets: { BLUEGREEN_TOKEN },
    // The SDK's standard endpoint override: every AWS service at the stub.
    env: { AWS_ENDPOINT_URL: 'http://127.0.37.1:8443' },
    ...extra,
  });

  /** The job failed at its first AWS call, which was signed with the role's credentials, with one line naming the call and the permission. */
  function expectDeniedAtFirstCall(job: JobRun): void {
    expect(job.status).toBe('failure');
    const step = actionStep(job);
    // Every request reached the stub signed with the credentials the role gave (SigV4, the region from the workflow's env).
    expect(requests.length).toBeGreaterThan(0);
    for (const { authorization } of requests)
      expect(authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=ASIAEXAMPLEEXAMPLE00\/\d{8}\/eu-west-1\/[a-z]+\/aws4_request, /);
    // The failure is one line naming a call that was denied and the permission to grant.
    const failure =
      /^::error::AWS denied ([a-z]+:[A-Za-z]+)(?: on \S+)? \((AccessDenied|AccessDeniedException): User: arn:aws:sts::123456789012:assumed-role\/bluegreen-deploy\/GitHubActions is not authorized to perform: \1\)\. Grant the role \1 \(see the IAM policy in the README\)\.$/.exec(
        step.errors.at(-1) ?? '',
      );
    expect({ failure: step.errors.at(-1), matches: failure !== null }).toEqual({ failure: step.errors.at(-1), matches: true });
    expect(requests.map((r) => r.target)).toContain(failure?.[1]);
    expect(visible(step.log)).not.toMatch(/\bat .*\.(js|ts):\d+/);
  }

  it('aws-oidc.yml deploy: credentials from the OIDC role, the release fetched over SSH, denied at the first AWS call', async () => {
    requests.length = 0;
    const jobs = await runWorkflow(example('aws-oidc.yml'), fixture());
    const deploy = jobOf(jobs, 'deploy');
    expectDeniedAtFirstCall(deploy);
    expect(actionStep(deploy).inputs).toMatchObject({
      'release-repository': 'git@github.com:acme/shop.git',
      'test-listener-arn': expect.stringMatching(/^arn:aws:elasticloadbalancing:/),
    });
    expect(jobOf(jobs, 'switch').status).toBe('skipped');
  });

  it('aws-oidc.yml switch (run on its own): keeps the test listener, denied at the first AWS call', async () => {
    requests.length = 0;
    const jobs = await runWorkflow(example('aws-oidc.yml'), fixture({ only: ['switch'], needs: { deploy: {} } }));
    const switched = jobOf(jobs, 'switch');
    expect(switched.environment).toEqual({ name: 'production', url: PUBLIC_URL, deployment: true });
    expect(actionStep(switched).inputs?.['github-deployment']).toBe('false');
    expect(actionStep(switched).inputs?.['test-listener-arn']).toMatch(/^arn:aws:elasticloadbalancing:/);
    expectDeniedAtFirstCall(switched);
    expect(github.violations).toEqual([]);
  });
});

/** A stand-in for every AWS endpoint that denies each request, in the protocol it came in (query XML or JSON). */
async function startDenyingAws(host: string, port: number, requests: { target: string; authorization: string }[]): Promise<Server> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      const signingService = /\/\d{8}\/[a-z0-9-]+\/([a-z0-9-]+)\/aws4_request/.exec(req.headers.authorization ?? '')?.[1] ?? 'unknown';
      const jsonTarget = String(req.headers['x-amz-target'] ?? '');
      const operation = jsonTarget ? (jsonTarget.split('.').at(-1) ?? '') : (new URLSearchParams(body).get('Action') ?? '');
      const iamPrefix = signingService === 'ssm' ? 'ssm' : signingService === 'autoscaling' ? 'autoscaling' : 'elasticloadbalancing';
      const target = `${iamPrefix}:${operation}`;
      requests.push({ target, authorization: req.headers.authorization ?? '' });
      const message = `User: arn:aws:sts::123456789012:assumed-role/bluegreen-deploy/GitHubActions is not authorized to perform: ${target}`;
      if (jsonTarget) {
        res
          .writeHead(400, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-query-error': 'AccessDenied;Sender' })
          .end(JSON.stringify({ __type: 'AccessDeniedException', message }));
        return;
      }
      res
        .writeHead(403, { 'content-type': 'text/xml' })
        .end(
          `<ErrorResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>${message}</Message></Error><RequestId>00000000-0000-4000-8000-000000000000</RequestId></ErrorResponse>`,
        );
    });
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return server;
}
