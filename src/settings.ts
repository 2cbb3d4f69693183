import * as core from '@actions/core';
import { isIP } from 'node:net';
import { resolve as resolvePath } from 'node:path';
import { INPUTS, RENAMED_INPUTS, inputSpec, type InputName } from './inputs.js';
import { InputError } from './errors.js';
import { COLORS, type Color } from './colors.js';
import { APP_NAME_PATTERN, LOCK_SUFFIX, appNameClash, appVariables } from './app-variables.js';

export const MODES = ['deploy', 'switch', 'rollback'] as const;
export type Mode = (typeof MODES)[number];
export const PROVIDERS = ['aws', 'digitalocean', 'ssh'] as const;
export type ProviderName = (typeof PROVIDERS)[number];
export const TRAFFIC_KINDS = ['haproxy', 'do-lb', 'alb'] as const;
export type TrafficKind = (typeof TRAFFIC_KINDS)[number];
export const RESTART_METHODS = ['server-starter', 'starman', 'systemd', 'command'] as const;
export type RestartMethod = (typeof RESTART_METHODS)[number];

/** An HAProxy `bind` address: `*:80`, `10.0.0.5:8080`, `[::]:80`. */
const BIND_PATTERN = /^(\*|[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):\d{1,5}$/;

/** A host as the user wrote it: `host`, `host:port`, `user@host:port`, `[::1]:22`. */
export interface HostAddress {
  host: string;
  port?: number;
  user?: string;
}

export interface HealthSettings {
  path: string;
  expectedStatus: number;
  timeoutMs: number;
  retries: number;
  intervalMs: number;
  /**
   * How probes of hosts and of the preview route reach them (`probe-via`): through a TCP connection
   * the SSH jump host opens, or, when absent, directly from the runner. Checks of public-url are always direct.
   */
  probeVia?: 'jump-host';
}

export const PROBE_ROUTES = ['auto', 'direct', 'jump-host'] as const;

export interface ReleaseSettings {
  appDir: string;
  psgiFile: string;
  installCommand?: string;
  cpanMirror?: string;
  testCommand?: string;
  sharedPaths: string[];
  restart: RestartMethod;
  restartCommand?: string;
  systemdUnit: string;
  keepReleases: number;
  concurrency: number;
  appPort: number;
  /** An IP address, or `host`: the address the action reaches each host at. */
  listenAddress: string;
  source: ReleaseSourceSettings;
  timeouts: HostTimeouts;
}

/** The remote steps with a time limit of their own (`host-step-timeouts`). */
export const HOST_STEPS = ['connect', 'fetch', 'install', 'check', 'restart', 'probe'] as const;
export type HostStep = (typeof HOST_STEPS)[number];

export interface HostTimeouts {
  /** The whole host script on one host (`host-timeout`). */
  hostSeconds: number;
  stepSeconds: Record<HostStep, number>;
}

/** Where a release comes from: a directory on the runner, uploaded; or a git fetch on each host. */
export type ReleaseSourceSettings =
  | { kind: 'upload'; path: string; /** `release-exclude` patterns, after the default credential ones. */ exclude: string[] }
  | { kind: 'git'; repository: string; ref: string };

export interface SshSettings {
  user: string;
  port: number;
  privateKey?: string;
  knownHosts?: string;
  skipHostKeyCheck: boolean;
  jumpHost?: HostAddress;
}

export interface TrafficSettings {
  kind: TrafficKind;
  /** undefined: HAProxy runs on the runner itself. */
  haproxyHost?: HostAddress;
  haproxySocket: string;
  haproxyConfig: string;
  /** HAProxy `bind` addresses of the live and the preview frontends: `*:80`, `10.0.0.5:8080`. */
  haproxyBind: string;
  haproxyPreviewBind: string;
  publicUrl?: string;
  previewUrl?: string;
  minHealthyHosts?: number;
  drainTimeoutMs: number;
}

export interface SshProviderSettings {
  name: 'ssh';
  hosts: Record<Color, HostAddress[]>;
}

export interface DigitalOceanSettings {
  name: 'digitalocean';
  token: string;
  apiUrl: string;
  tags: Record<Color, string>;
  address: 'public' | 'private';
  loadBalancerId?: string;
}

export interface AwsSettings {
  name: 'aws';
  region: string;
  listenerArn: string;
  ruleArn?: string;
  testListenerArn?: string;
  targetGroups: Record<Color, string>;
  autoScalingGroups: Record<Color, string>;
  scaleDownDelayMs?: number;
  /** Where the release tarball is uploaded for the instances to download (`release-bucket`), when set. */
  releaseBucket?: ReleaseBucket;
}

/** What counts as a healthy color under real traffic: inputs `validation-*`. */
export interface ValidationCriteria {
  /** How many requests one check sends. */
  requests: number;
  /** Share of them that must answer the expected status, 0..1. */
  minSuccessRatio: number;
  /** The 95th percentile of their latency must stay under this. */
  maxLatencyMs: number;
}

/** An S3 bucket and key prefix for release tarballs. */
export interface ReleaseBucket {
  bucket: string;
  /** Empty, or ends with `/` (added when the input leaves it out). */
  prefix: string;
}

export const HOOK_POINTS = ['before-release', 'after-release', 'before-switch', 'after-switch'] as const;
export type HookPoint = (typeof HOOK_POINTS)[number];

/** A command the user gives for a point of the run: once on the runner, or on each target host. */
export interface Hook {
  point: HookPoint;
  where: 'runner' | 'hosts';
  /** Shell text the user wrote: run by `sh -c`, passed as one quoted argument. */
  command: string;
}

export interface RolloutSettings {
  /** Percent of traffic on the new color at each step; increasing, the last is 100. */
  steps: number[];
  pauseMs: number;
  /** How long a client keeps its color during the steps (ALB target-group stickiness); 0: off. */
  stickySplitSeconds: number;
  validation: ValidationCriteria;
  /** Path the validation requests ask for through the public entry point. */
  validationPath: string;
  /** CloudWatch alarms watched during validation (AWS). */
  alarms: string[];
  rollbackWindowMs: number;
  hooks: Partial<Record<HookPoint, Hook>>;
}

/** Who this run is on GitHub: names the run in the state, the lock and deployments. */
export interface GitHubRun {
  /** `GITHUB_RUN_ID`; empty on a local run. */
  id: string;
  attempt: number;
  job: string;
  /** Link to the run's page, or `local run` outside GitHub Actions. */
  url: string;
}

export interface GitHubSettings {
  /** undefined when there is no token or no repository (a local run): state, lock and deployments are off. */
  token?: string;
  repository?: { owner: string; repo: string };
  apiUrl: string;
  run: GitHubRun;
  /** Commit a deployment points at. */
  ref: string;
  stateVariable: string;
  lockVariable: string;
  strictState: boolean;
  lockTimeoutMs: number;
  lockExpiryMs: number;
  deployment?: { environment: string; url?: string };
}

export interface Settings {
  mode: Mode;
  /** Where the first release goes, when nothing is live yet. */
  initialColor: Color;
  appName: string;
  release: string;
  dryRun: boolean;
  health: HealthSettings;
  hostRelease: ReleaseSettings;
  ssh: SshSettings;
  traffic: TrafficSettings;
  rollout: RolloutSettings;
  provider: SshProviderSettings | DigitalOceanSettings | AwsSettings;
  github: GitHubSettings;
}

/** How an input's raw value is looked up: the runner's `INPUT_*` variables by default. */
export type InputSource = (name: string) => string;

const fromEnvironment: InputSource = (name) => core.getInput(name);

/**
 * Reads every input once, masks secrets, validates, and returns one typed settings object.
 * Throws InputError, naming the input, on the first bad value; nothing remote is touched here.
 */
export function readSettings(source: InputSource = fromEnvironment, env: NodeJS.ProcessEnv = process.env): Settings {
  const inputs = new InputReader(source);
  for (const [old, renamed] of Object.entries(RENAMED_INPUTS)) {
    if (source(old).trim() !== '')
      throw new InputError(old, `was renamed to ${renamed}`, `Write \`${renamed}:\` instead of \`${old}:\` in the step's \`with:\``);
  }
  // Mask every secret that was passed, even one the chosen provider does not use.
  for (const name of Object.keys(INPUTS) as InputName[]) {
    if (inputSpec(name).secret) inputs.text(name);
  }
  const mode = inputs.choice('mode', MODES);
  const providerName = inputs.choice('provider', PROVIDERS);
  const appName = readAppName(inputs);
  const release = releaseId(inputs.text('release') || env.GITHUB_SHA || '');
  const provider = readProvider(inputs, providerName, env);
  if (provider.name !== 'aws' && inputs.optional('release-bucket')) {
    throw new InputError(
      'release-bucket',
      `is set, but provider ${provider.name} streams the release to the hosts over SSH`,
      'Remove release-bucket, or use provider aws',
    );
  }
  if (!(provider.name === 'aws' && provider.releaseBucket) && inputs.optional('release-prefix')) {
    throw new InputError('release-prefix', 'is set without release-bucket', 'Set release-bucket too, or remove release-prefix');
  }

  const settings: Settings = {
    mode,
    initialColor: inputs.choice('initial-color', COLORS),
    appName,
    release,
    dryRun: inputs.bool('dry-run'),
    health: {
      path: inputs.match('health-path', /^\/\S*$/, 'Use an absolute path such as `/health`'),
      expectedStatus: inputs.integer('health-expected-status', 100, 599),
      timeoutMs: inputs.seconds('health-timeout', 0.1, 300),
      retries: inputs.integer('health-retries', 0, 1000),
      intervalMs: inputs.seconds('health-interval', 0, 600),
      ...(readProbeVia(inputs, providerName) === 'jump-host' && { probeVia: 'jump-host' as const }),
    },
    hostRelease: {
      appDir: inputs.text('app-dir') || `/srv/${appName}`,
      psgiFile: inputs.text('psgi-file'),
      installCommand: inputs.optional('install-command'),
      cpanMirror: inputs.optional('cpan-mirror'),
      testCommand: inputs.optional('test-command'),
      sharedPaths: inputs.list('shared-paths'),
      restart: inputs.choice('restart', RESTART_METHODS),
      restartCommand: inputs.optional('restart-command'),
      systemdUnit: inputs.text('systemd-unit') || `${appName}.service`,
      keepReleases: inputs.integer('keep-releases', 1, 100),
      concurrency: inputs.integer('max-parallel-hosts', 1, 256),
      appPort: inputs.integer('app-port', 1, 65535),
      listenAddress: inputs.text('app-listen-address') === 'host' ? 'host' : inputs.ipAddress('app-listen-address'),
      source: readReleaseSource(inputs, env),
      timeouts: { hostSeconds: inputs.integer('host-timeout', 1, 86_400), stepSeconds: readStepTimeouts(inputs) },
    },
    ssh: {
      user: inputs.match('ssh-user', /^[a-z_][a-z0-9_.-]*$/i, 'Use a login name such as `deploy`'),
      port: inputs.integer('ssh-port', 1, 65535),
      privateKey: inputs.optional('ssh-private-key'),
      knownHosts: inputs.optional('ssh-known-hosts'),
      skipHostKeyCheck: inputs.bool('ssh-insecure-skip-host-key-check'),
      jumpHost: inputs.optional('ssh-jump-host') === undefined ? undefined : inputs.host('ssh-jump-host'),
    },
    traffic: {
      kind: readTrafficKind(inputs, providerName),
      haproxyHost: inputs.text('haproxy-host') === 'local' ? undefined : inputs.host('haproxy-host'),
      haproxySocket: inputs.match('haproxy-socket', /^\/\S+$/, 'Use an absolute path on the HAProxy host'),
      haproxyConfig: inputs.match('haproxy-config', /^\/\S+$/, 'Use an absolute path on the HAProxy host'),
      haproxyBind: inputs.match('haproxy-bind', BIND_PATTERN, 'Use `address:port` or `*:port`, for example `*:80`'),
      haproxyPreviewBind: inputs.match('haproxy-preview-bind', BIND_PATTERN, 'Use `address:port` or `*:port`, for example `127.0.0.1:8080`'),
      publicUrl: inputs.url('public-url'),
      previewUrl: inputs.url('preview-url'),
      minHealthyHosts: inputs.optional('min-healthy-hosts') === undefined ? undefined : inputs.integer('min-healthy-hosts', 1, 10_000),
      drainTimeoutMs: inputs.seconds('drain-timeout', 0, 3600),
    },
    rollout: readRollout(inputs, inputs.text('health-path')),
    provider,
    github: readGitHub(inputs, appName, env),
  };
  validateTogether(settings);
  return settings;
}

/** `probe-via` resolved: auto means through the jump host whenever one is set (ssh and digitalocean only). */
function readProbeVia(inputs: InputReader, providerName: (typeof PROVIDERS)[number]): 'direct' | 'jump-host' {
  const via = inputs.choice('probe-via', PROBE_ROUTES);
  const jumpHostSet = inputs.optional('ssh-jump-host') !== undefined;
  if (via === 'jump-host' && (!jumpHostSet || providerName === 'aws')) {
    const why = providerName === 'aws' ? 'needs an SSH jump host, and provider aws does not use SSH' : 'needs ssh-jump-host, which is empty';
    throw new InputError(
      'probe-via',
      `'jump-host' ${why}`,
      providerName === 'aws' ? 'Remove probe-via (or set it to direct)' : 'Set ssh-jump-host to the bastion, or set probe-via to auto or direct',
    );
  }
  if (via === 'auto') return jumpHostSet && providerName !== 'aws' ? 'jump-host' : 'direct';
  return via;
}

function readRollout(inputs: InputReader, healthPath: string): RolloutSettings {
  const stepsText = inputs.text('traffic-steps');
  const steps = stepsText.split(',').map((step) => step.trim().replace(/%$/, ''));
  const numbers = steps.map(Number);
  const valid =
    steps.every((step) => /^\d+$/.test(step)) &&
    numbers.every((n, i) => n >= 1 && n <= 100 && (i === 0 || n > (numbers[i - 1] ?? 0))) &&
    numbers.at(-1) === 100;
  if (!valid) {
    throw new InputError(
      'traffic-steps',
      `'${stepsText}' is not a list of increasing percentages ending at 100`,
      'Use for example `10,50,100`, or `100` to move all traffic at once',
    );
  }
  const hooks: RolloutSettings['hooks'] = {};
  for (const point of HOOK_POINTS) {
    const text = inputs.optional(point);
    if (!text) continue;
    const m = /^(runner|hosts):\s*/.exec(text);
    const command = m ? text.slice(m[0].length).trim() : text;
    if (!command) throw new InputError(point, `'${text}' has no command after '${m?.[1] ?? ''}:'`, `Write \`runner: <command>\` or \`hosts: <command>\``);
    hooks[point] = { point, where: m?.[1] === 'hosts' ? 'hosts' : 'runner', command };
  }
  return {
    steps: numbers,
    pauseMs: inputs.seconds('step-pause', 0, 24 * 3600),
    // 604800 s (7 days): the longest target-group stickiness an ALB forward accepts.
    stickySplitSeconds: inputs.integer('sticky-split-seconds', 0, 604_800),
    validation: {
      requests: inputs.integer('validation-requests', 1, 10_000),
      minSuccessRatio: inputs.percent('validation-success-percent') / 100,
      maxLatencyMs: inputs.seconds('validation-max-latency', 0.001, 600),
    },
    validationPath:
      inputs.optional('validation-path') === undefined
        ? healthPath
        : inputs.match('validation-path', /^\/\S*$/, 'Use an absolute path such as `/` or `/api/status`'),
    alarms: inputs.list('cloudwatch-alarms'),
    rollbackWindowMs: inputs.seconds('rollback-window', 0, 7 * 24 * 3600),
    hooks,
  };
}

function readProvider(inputs: InputReader, name: ProviderName, env: NodeJS.ProcessEnv): Settings['provider'] {
  switch (name) {
    case 'ssh':
      return { name, hosts: { blue: inputs.hosts('blue-hosts'), green: inputs.hosts('green-hosts') } };
    case 'digitalocean': {
      const token = inputs.required(
        'digitalocean-token',
        'Pass a DigitalOcean API token from a secret: `digitalocean-token: ${{ secrets.DIGITALOCEAN_TOKEN }}`',
      );
      return {
        name,
        token,
        apiUrl: inputs.url('digitalocean-api-url') ?? 'https://api.digitalocean.com',
        tags: { blue: inputs.tag('blue-tag'), green: inputs.tag('green-tag') },
        address: inputs.choice('droplet-address', ['private', 'public'] as const),
        loadBalancerId:
          inputs.optional('do-load-balancer-id') === undefined
            ? undefined
            : inputs.match('do-load-balancer-id', /^[0-9a-f-]{36}$/, 'Use the load balancer id (a UUID) from `doctl compute load-balancer list`'),
      };
    }
    case 'aws': {
      const region = inputs.text('aws-region') || env.AWS_REGION || env.AWS_DEFAULT_REGION || '';
      if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)) {
        throw new InputError(
          'aws-region',
          region ? `'${region}' is not an AWS region` : 'no region is set',
          'Set aws-region (for example `eu-west-1`), or AWS_REGION in the environment',
        );
      }
      return {
        name,
        region,
        listenerArn: inputs.arn('listener-arn', 'listener', true),
        ruleArn: inputs.arn('rule-arn', 'listener-rule', false),
        testListenerArn: inputs.arn('test-listener-arn', 'listener', false),
        targetGroups: { blue: inputs.targetGroup('blue-target-group'), green: inputs.targetGroup('green-target-group') },
        autoScalingGroups: {
          blue: inputs.match('blue-asg', /^[\x21-\x7e]{1,255}$/, 'Name the Auto Scaling Group of the blue color'),
          green: inputs.match('green-asg', /^[\x21-\x7e]{1,255}$/, 'Name the Auto Scaling Group of the green color'),
        },
        scaleDownDelayMs: inputs.optional('scale-down-delay') === undefined ? undefined : inputs.seconds('scale-down-delay', 0, 86_400),
        releaseBucket: readReleaseBucket(inputs),
      };
    }
  }
}

function readAppName(inputs: InputReader): string {
  const appName = inputs.text('app-name');
  const clash = appNameClash(appName);
  const fix = 'Use lowercase letters, digits and `-` only, at most 64 characters, for example `shop-api`';
  if (clash) throw new InputError('app-name', clash, fix);
  return inputs.match('app-name', APP_NAME_PATTERN, fix);
}

function readGitHub(inputs: InputReader, appName: string, env: NodeJS.ProcessEnv): GitHubSettings {
  // GitHub's rules for variable names: letters, digits and `_`, no leading digit, no GITHUB_ prefix.
  // The state variable's name with LOCK_SUFFIX is the lock: a name that ends so would be another app's lock.
  const variables = appVariables(
    appName,
    inputs.optional('state-variable') === undefined
      ? undefined
      : inputs.match(
          'state-variable',
          new RegExp(`^(?!GITHUB_)(?!.*${LOCK_SUFFIX}$)[A-Z_][A-Z0-9_]{0,94}$`, 'i'),
          `Use letters, digits and \`_\`, not starting with a digit or \`GITHUB_\` nor ending in \`${LOCK_SUFFIX}\`, for example \`BLUEGREEN_SHOP\``,
        ),
  );
  const [owner, repo] = (env.GITHUB_REPOSITORY ?? '').split('/');
  const server = (env.GITHUB_SERVER_URL || 'https://github.com').replace(/\/+$/, '');
  const runId = env.GITHUB_RUN_ID ?? '';
  const strictState = inputs.bool('strict-state');
  const token = inputs.optional('github-token');
  const repository = owner && repo ? { owner, repo } : undefined;
  if (strictState && !(token && repository)) {
    throw new InputError(
      'strict-state',
      token ? 'is true but GITHUB_REPOSITORY is not set (a local run)' : 'is true but github-token is empty',
      'Pass github-token a token with Variables: read and write, or set strict-state: false',
    );
  }
  const environment = inputs.match('deployment-environment', /^\S(?:[^\r\n]{0,253}\S)?$/, 'Name a GitHub environment, for example `production`');
  return {
    ...(token && { token }),
    ...(repository && { repository }),
    apiUrl: (env.GITHUB_API_URL || 'https://api.github.com').replace(/\/+$/, ''),
    run: {
      id: runId,
      attempt: Number(env.GITHUB_RUN_ATTEMPT) || 1,
      job: env.GITHUB_JOB ?? '',
      url: runId && repository ? `${server}/${owner}/${repo}/actions/runs/${runId}` : 'local run',
    },
    ref: env.GITHUB_SHA || env.GITHUB_REF || '',
    stateVariable: variables.state,
    lockVariable: variables.lock,
    strictState,
    lockTimeoutMs: inputs.seconds('lock-timeout', 0, 6 * 3600),
    lockExpiryMs: inputs.seconds('lock-expiry', 60, 7 * 24 * 3600),
    ...(inputs.bool('github-deployment') && { deployment: { environment, url: inputs.url('environment-url') ?? inputs.url('public-url') } }),
  };
}

function readTrafficKind(inputs: InputReader, provider: ProviderName): TrafficKind {
  const fallback: TrafficKind = provider === 'aws' ? 'alb' : 'haproxy';
  const kind = inputs.optional('traffic') === undefined ? fallback : inputs.choice('traffic', TRAFFIC_KINDS);
  const allowed: Record<ProviderName, TrafficKind[]> = { aws: ['alb'], digitalocean: ['haproxy', 'do-lb'], ssh: ['haproxy'] };
  if (!allowed[provider].includes(kind)) {
    throw new InputError('traffic', `'${kind}' does not work with provider ${provider}`, `Use ${allowed[provider].map((k) => `\`${k}\``).join(' or ')}`);
  }
  return kind;
}

/** Rules that tie several inputs together. */
function validateTogether(settings: Settings): void {
  const { provider, traffic, hostRelease, ssh } = settings;
  if (provider.name === 'ssh') {
    for (const color of ['blue', 'green'] as const) {
      if (provider.hosts[color].length === 0) {
        throw new InputError(
          `${color}-hosts`,
          `provider ssh needs the hosts of the ${color} color`,
          `List them, for example \`${color}-hosts: 10.0.0.${color === 'blue' ? 11 : 21}\``,
        );
      }
    }
    refuseSharedHosts(provider.hosts, ssh.port);
  }
  if (traffic.kind === 'do-lb' && provider.name === 'digitalocean' && !provider.loadBalancerId) {
    throw new InputError('do-load-balancer-id', 'traffic do-lb needs the load balancer to switch', 'Set do-load-balancer-id to its id');
  }
  if (hostRelease.restart === 'command' && !hostRelease.restartCommand) {
    throw new InputError('restart-command', 'restart is `command` but no command is given', 'Set restart-command, or pick another restart method');
  }
  if (ssh.skipHostKeyCheck && ssh.knownHosts) {
    throw new InputError(
      'ssh-insecure-skip-host-key-check',
      'is true while ssh-known-hosts is set',
      'Remove one of them: keep ssh-known-hosts to verify host keys',
    );
  }
  if (provider.name === 'aws' && provider.releaseBucket && hostRelease.source.kind === 'git') {
    throw new InputError(
      'release-bucket',
      'is set together with release-repository',
      'Keep one: release-bucket ships release-path through S3, release-repository has each instance fetch the release with git',
    );
  }
  const { rollout } = settings;
  if (rollout.alarms.length > 0 && provider.name !== 'aws') {
    throw new InputError(
      'cloudwatch-alarms',
      `lists CloudWatch alarms, which provider ${provider.name} cannot read`,
      'Remove cloudwatch-alarms, or use provider aws',
    );
  }
  if (rollout.steps.length > 1 && !traffic.publicUrl && rollout.alarms.length === 0) {
    throw new InputError(
      'traffic-steps',
      `'${rollout.steps.join(',')}' moves traffic in steps, but nothing would validate them`,
      'Set public-url (and on AWS optionally cloudwatch-alarms), or use `traffic-steps: 100`',
    );
  }
}

/**
 * A host in both colors would take a release while it serves live traffic. Hosts are compared as
 * the SSH connection sees them: name lower-cased, `ssh-port` filled in (`10.0.0.1` is
 * `10.0.0.1:22`), the login user left aside.
 */
function refuseSharedHosts(hosts: Record<Color, HostAddress[]>, defaultPort: number): void {
  const key = (h: HostAddress) => `${h.host.toLowerCase()}:${h.port ?? defaultPort}`;
  const seen = new Map<string, { color: Color; address: HostAddress }>();
  for (const color of COLORS) {
    for (const address of hosts[color]) {
      const earlier = seen.get(key(address));
      if (earlier?.color === color)
        throw new InputError(`${color}-hosts`, `lists ${formatHost(earlier.address)} twice (as ${formatHost(address)})`, 'List each host once');
      if (earlier) {
        throw new InputError(
          `${color}-hosts`,
          `lists ${formatHost(address)}, which ${earlier.color}-hosts lists too (as ${formatHost(earlier.address)}): both inputs name one host`,
          `A host belongs to one color: remove it from ${earlier.color}-hosts or ${color}-hosts`,
        );
      }
      seen.set(key(address), { color, address });
    }
  }
}

/** `host-step-timeouts`: `step=seconds` pairs over the defaults; one clear line for any other word. */
function readStepTimeouts(inputs: InputReader): Record<HostStep, number> {
  const parse = (text: string): Partial<Record<HostStep, number>> => {
    const steps: Partial<Record<HostStep, number>> = {};
    for (const pair of text
      .split(/[\n,]/)
      .map((item) => item.trim())
      .filter(Boolean)) {
      const [, step = '', seconds = ''] = /^([^=\s]*)\s*=\s*(.*)$/.exec(pair) ?? [undefined, pair];
      if (!(HOST_STEPS as readonly string[]).includes(step)) {
        throw new InputError(
          'host-step-timeouts',
          `'${pair}' does not name a step`,
          `Write \`step=seconds\` pairs for ${HOST_STEPS.join(', ')}, for example \`install=1200,probe=120\``,
        );
      }
      if (!/^\d+$/.test(seconds) || Number(seconds) < 1 || Number(seconds) > 86_400) {
        throw new InputError(
          'host-step-timeouts',
          `'${pair}' does not give ${step} a whole number of seconds from 1 to 86400`,
          `Write for example \`${step}=${parse(inputSpec('host-step-timeouts').default ?? '')[step as HostStep] ?? 60}\``,
        );
      }
      steps[step as HostStep] = Number(seconds);
    }
    return steps;
  };
  return { ...(parse(inputSpec('host-step-timeouts').default ?? '') as Record<HostStep, number>), ...parse(inputs.text('host-step-timeouts')) };
}

/**
 * `release-bucket` and `release-prefix`. Bucket names as S3 allows them for new buckets (3-63
 * lowercase letters, digits, `-` and `.`); the prefix becomes the start of every key, so it may
 * not start with `/` (a key starting with `/` is legal but reads as an empty folder in the console).
 */
function readReleaseBucket(inputs: InputReader): ReleaseBucket | undefined {
  if (inputs.optional('release-bucket') === undefined) return undefined;
  const bucket = inputs.match(
    'release-bucket',
    /^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
    'Give the bucket name only (3-63 lowercase letters, digits, `-` and `.`), for example `shop-releases`, not an `s3://` URL or an ARN',
  );
  const prefix = inputs.text('release-prefix');
  if (prefix.startsWith('/') || prefix.length > 512 || hasControlCharacter(prefix) || prefix.split('/').some((part) => part === '.' || part === '..')) {
    throw new InputError(
      'release-prefix',
      `'${prefix.slice(0, 40)}' cannot start an S3 key`,
      'Use a relative key prefix such as `releases/` (no leading `/`, no `.` or `..` parts)',
    );
  }
  return { bucket, prefix: prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/` };
}

function readReleaseSource(inputs: InputReader, env: NodeJS.ProcessEnv): ReleaseSourceSettings {
  const repository = inputs.optional('release-repository');
  const exclude = inputs.list('release-exclude');
  if (repository === undefined) {
    const empty = exclude.find((pattern) => pattern.replace(/^!/, '').replace(/^\/+|\/+$/g, '') === '' || hasControlCharacter(pattern));
    if (empty !== undefined)
      throw new InputError(
        'release-exclude',
        `'${empty}' is not a pattern`,
        'Write one file name, path or glob per line, such as `*.pem`, `config/secret.yml` or `!config/ca.pem`',
      );
    return { kind: 'upload', path: resolvePath(env.GITHUB_WORKSPACE || process.cwd(), inputs.text('release-path') || '.'), exclude };
  }
  if (exclude.length > 0) {
    throw new InputError(
      'release-exclude',
      'applies to a release uploaded from release-path, but release-repository is set (each host fetches with git)',
      'Remove release-exclude, or release-repository to upload release-path',
    );
  }
  // Leading `-` would read as an option to git; the host script also ends git's options with `--`.
  if (repository.startsWith('-') || /\s/.test(repository)) {
    throw new InputError(
      'release-repository',
      `'${repository}' is not a git repository URL`,
      'Use a URL such as `https://github.com/org/shop.git` or `git@github.com:org/shop.git`',
    );
  }
  const ref = inputs.text('release-ref') || env.GITHUB_SHA || '';
  if (!ref || ref.startsWith('-') || hasControlCharacter(ref)) {
    throw new InputError(
      'release-ref',
      ref ? `'${ref}' is not a git ref` : 'no ref is given and GITHUB_SHA is not set',
      'Set release-ref to a branch, tag or commit, for example `${{ github.sha }}`',
    );
  }
  return { kind: 'git', repository, ref };
}

const hasControlCharacter = (value: string): boolean => [...value].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f);

function releaseId(value: string): string {
  if (!value) {
    throw new InputError('release', 'no release id is given and GITHUB_SHA is not set', 'Set release, for example to `${{ github.sha }}`');
  }
  // The id names a directory on each host (with `/` and `%` percent-encoded, so `release/1.2` works):
  // it may hold shell metacharacters, since every command quotes it, but no control character and
  // no leading dot.
  if (value.length > 128 || hasControlCharacter(value) || value.startsWith('.')) {
    throw new InputError(
      'release',
      `'${value.slice(0, 40)}' cannot name a release directory`,
      'Use at most 128 characters without control characters or a leading dot, such as a commit SHA or `v1.2.3`',
    );
  }
  return value;
}

class InputReader {
  constructor(private readonly source: InputSource) {}

  /** The trimmed value, or the input's default when the runner passed nothing. */
  text(name: InputName): string {
    const spec = inputSpec(name);
    const raw = this.source(name);
    const given = raw.trim() !== '' ? raw.trim() : (spec.default ?? '');
    // An unresolved `${{ ... }}` default (a run outside the runner) means no value.
    const value = given.startsWith('${{') ? '' : given;
    if (spec.secret && value) maskSecret(value);
    return value;
  }

  optional(name: InputName): string | undefined {
    return this.text(name) || undefined;
  }

  required(name: InputName, fix: string): string {
    const value = this.text(name);
    if (!value) throw new InputError(name, 'is required here but empty', fix);
    return value;
  }

  choice<T extends string>(name: InputName, options: readonly T[]): T {
    const value = this.text(name);
    if (!value) throw new InputError(name, 'is required', `Set it to one of ${options.join(', ')}`);
    if (!(options as readonly string[]).includes(value)) {
      throw new InputError(name, `'${value}' is not one of ${options.join(', ')}`, `Set ${name} to one of them`);
    }
    return value as T;
  }

  match(name: InputName, pattern: RegExp, fix: string): string {
    const value = this.text(name);
    if (!pattern.test(value)) {
      throw new InputError(name, value ? `'${value}' is not valid` : 'is required', fix);
    }
    return value;
  }

  bool(name: InputName): boolean {
    const value = this.text(name).toLowerCase();
    if (['true', 'yes', '1'].includes(value)) return true;
    if (['false', 'no', '0', ''].includes(value)) return false;
    throw new InputError(name, `'${value}' is not a boolean`, 'Use true or false');
  }

  integer(name: InputName, min: number, max: number): number {
    const value = this.text(name);
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      throw new InputError(name, `'${value}' is not a whole number from ${min} to ${max}`, `Set ${name} to a number such as ${inputSpec(name).default || min}`);
    }
    return Number(value);
  }

  /** A percentage from 0 to 100, fractions allowed. */
  percent(name: InputName): number {
    const value = this.text(name).replace(/%$/, '');
    if (!/^\d+(\.\d+)?$/.test(value) || Number(value) > 100) {
      throw new InputError(
        name,
        `'${this.text(name)}' is not a percentage from 0 to 100`,
        `Set ${name} to a number such as ${inputSpec(name).default || '99'}`,
      );
    }
    return Number(value);
  }

  /** A number of seconds (fractions allowed), returned in milliseconds. */
  seconds(name: InputName, min: number, max: number): number {
    const value = this.text(name).replace(/s$/, '');
    if (!/^\d+(\.\d+)?$/.test(value) || Number(value) < min || Number(value) > max) {
      throw new InputError(
        name,
        `'${this.text(name)}' is not a number of seconds from ${min} to ${max}`,
        `Set ${name} to seconds, for example ${inputSpec(name).default || '30'}`,
      );
    }
    return Math.round(Number(value) * 1000);
  }

  list(name: InputName): string[] {
    return this.text(name)
      .split(/[\n,]/)
      .map((item) => item.trim())
      .filter((item) => item !== '' && !item.startsWith('#'));
  }

  url(name: InputName): string | undefined {
    const value = this.optional(name);
    if (value === undefined) return undefined;
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      throw new InputError(name, `'${value}' is not a URL`, 'Use a full URL such as `https://example.com`');
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new InputError(name, `'${value}' is not an http(s) URL`, 'Use a URL that starts with https:// or http://');
    }
    return value.replace(/\/+$/, '');
  }

  ipAddress(name: InputName): string {
    const value = this.text(name);
    if (!isIP(value)) throw new InputError(name, value ? `'${value}' is not an IP address` : 'is required', 'Use an IP address such as `0.0.0.0`, or `host`');
    return value;
  }

  host(name: InputName): HostAddress {
    return parseHost(this.text(name), name);
  }

  hosts(name: InputName): HostAddress[] {
    const hosts = this.list(name).map((item) => parseHost(item, name));
    const seen = new Set<string>();
    for (const h of hosts) {
      const key = `${h.host}:${h.port ?? ''}`;
      if (seen.has(key)) throw new InputError(name, `lists ${h.host} twice`, 'List each host once');
      seen.add(key);
    }
    return hosts;
  }

  tag(name: InputName): string {
    // DigitalOcean tag names: letters, numbers, colons, dashes and underscores, at most 255.
    return this.match(name, /^[A-Za-z0-9:_-]{1,255}$/, 'Use a DigitalOcean tag name (letters, digits, `:`, `-`, `_`), for example `env:blue`');
  }

  arn(name: InputName, resource: 'listener' | 'listener-rule', required: boolean): string {
    const value = this.text(name);
    if (!value && !required) return '';
    const pattern = new RegExp(
      `^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\\d{12}:${resource}/app/[^/]+/[0-9a-f]+/[0-9a-f]+${resource === 'listener-rule' ? '/[0-9a-f]+' : ''}$`,
    );
    if (!pattern.test(value)) {
      throw new InputError(
        name,
        value ? `'${value}' is not an application load balancer ${resource} ARN` : 'is required with provider aws',
        `Copy the ${resource} ARN from the EC2 console or \`aws elbv2 describe-${resource === 'listener' ? 'listeners' : 'rules'}\``,
      );
    }
    return value;
  }

  targetGroup(name: InputName): string {
    const value = this.text(name);
    const isArn = /^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:targetgroup\/[A-Za-z0-9-]{1,32}\/[0-9a-f]+$/.test(value);
    const isName = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$/.test(value);
    if (!isArn && !isName) {
      throw new InputError(
        name,
        value ? `'${value}' is neither a target group name nor a target group ARN` : 'is required with provider aws',
        'Give the target group name (up to 32 letters, digits and hyphens) or its ARN',
      );
    }
    return value;
  }
}

const HOST_PATTERN =
  /^(?:(?<user>[a-z_][a-z0-9_.-]*)@)?(?:\[(?<ipv6>[0-9a-fA-F:.]+)\]|(?<name>[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?))(?::(?<port>\d{1,5}))?$/i;

export function parseHost(text: string, input: string): HostAddress {
  const m = HOST_PATTERN.exec(text.trim());
  const port = m?.groups?.port === undefined ? undefined : Number(m.groups.port);
  if (!m || (port !== undefined && (port < 1 || port > 65535))) {
    throw new InputError(input, `'${text}' is not a host`, 'Write each host as `host`, `host:port` or `user@host:port` (IPv6 as `[::1]:22`)');
  }
  const host = m.groups?.ipv6 ?? m.groups?.name ?? '';
  return { host, ...(port !== undefined && { port }), ...(m.groups?.user && { user: m.groups.user }) };
}

export function formatHost(address: HostAddress): string {
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return `${address.user ? `${address.user}@` : ''}${host}${address.port ? `:${address.port}` : ''}`;
}

/**
 * Masks a secret in every later log line. The runner matches masks line by line, so a multi-line
 * value (a private key) is also masked one line at a time.
 */
export function maskSecret(value: string): void {
  core.setSecret(value);
  for (const line of value.split(/\r?\n/)) {
    if (line.trim().length >= 4) core.setSecret(line.trim());
  }
}
