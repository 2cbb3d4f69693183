import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COLORS, otherColor, type Color } from '../src/colors.js';
import { LocalRunner } from '../src/hosts/command.js';
import { hostScriptShellCommand } from '../src/hosts/host-script.js';
import { sleep } from '../src/retry.js';
import { readSettings } from '../src/settings.js';
import { BACKENDS, MAP_KEYS, backendOf, mapPathFor, renderHaproxyConfig, renderLiveMap } from '../src/traffic/haproxy-config.js';
import { runtime, type MapKey, type RuntimeCommand } from '../src/traffic/haproxy-runtime.js';
import { HaproxyTraffic } from '../src/traffic/haproxy.js';
import { AwsAccount, LISTENER_ARN, TEST_LISTENER_ARN, type GroupModel, type InstanceModel } from './aws-account.js';
import { AwsWire } from './aws-wire.js';
import { S3Double } from './s3-double.js';
import { start as startChild, waitFor, type Child } from './haproxy.js';
import type { Answer } from './local-world.js';
import { APP_PORT, EXAMPLE_APP, SshWorld, type SshHost } from './sshd.js';

/**
 * A local AWS account with real machines behind it, for the AWS end-to-end test, the demo and the
 * bench: the wire double (aws-wire.ts) over the account model, with
 *
 * - instances that are real sshd hosts (SshWorld, on 127.0.43.x), a pool per color: an Auto Scaling
 *   launch takes a free host of its group's color, a termination stops its app and frees it;
 * - `SendCommand` (`AWS-RunShellScript`) that runs the command text on each instance over SSH as the
 *   instance's user, InProgress until it ends, then Success, Failed or TimedOut (executionTimeout);
 * - the load balancer's data plane, a real HAProxy (on `<balancer>:8080` the listener, `:8081` the
 *   test listener) rendered by the action's own HAProxy config: a backend per target group holding
 *   its registered instances, HAProxy's own health checks as the targets' health
 *   (DescribeTargetHealth), and the forward's weights applied through the runtime API (`set map`: the
 *   test listener's color is the map's preview, the forward's share for it the split), so a
 *   `ModifyListener` moves real traffic. Every host of the pool is a server from the start; registering
 *   one takes it out of maintenance (`set server ... state ready`), deregistering puts it back: no reload.
 * - a bare git repository the hosts fetch releases from (`release-repository`), one tag per release;
 * - on demand (`startS3`), an S3 for the S3 artifact (`release-bucket`): the S3 double, reached
 *   as `AWS_ENDPOINT_URL_S3`, each release a directory on the runner (`releaseDirectory`).
 *
 * Everything it starts it stops (`stop`), by pid.
 */

export const BLUE_TARGET_GROUP = 'shop-blue';
export const GREEN_TARGET_GROUP = 'shop-green';
/** The bucket of the world's S3 (`startS3`). */
export const RELEASE_BUCKET = 'shop-releases';
const FAULTY_PSGI = new URL('./faulty-release.psgi', import.meta.url).pathname;

export interface AwsWorldOptions {
  /** First three octets of the hosts (SshWorld) and the first host's last octet. */
  network: string;
  firstOctet: number;
  /** Where HAProxy listens (the listener on :8080, the test listener on :8081), and the AWS API. */
  balancerAddress: string;
  apiAddress: string;
  /** Instances per color at the start (blue InService; green's group at 0 unless given). */
  blue: number;
  green?: number;
  /** Hosts per color in the pool: the most instances a group can launch. */
  poolPerColor: number;
}

export class AwsWorld {
  readonly account = new AwsAccount();
  readonly wire = new AwsWire(this.account);
  readonly dir = mkdtempSync(join(tmpdir(), 'bgp-aws-world-'));
  ssh!: SshWorld;
  /** The listener's URL (HAProxy's live frontend) and the test listener's. */
  listenerUrl = '';
  testListenerUrl = '';
  readonly repository = join(this.dir, 'git', 'shop.git');
  readonly targetGroupArns: Record<Color, string>;
  /** The world's S3, once `startS3` started it. */
  s3?: S3Double;
  private readonly hostOf = new Map<string, SshHost>();
  private haproxy?: Child;
  private haproxyTraffic?: HaproxyTraffic;
  /** The hosts HAProxy has out of maintenance. */
  private applied = new Set<string>();
  private applying: Promise<void> = Promise.resolve();
  private stats = new Map<string, Record<string, string>>();
  private statsTimer?: NodeJS.Timeout;
  private stopped = false;
  private readonly configPath = join(this.dir, 'haproxy', 'haproxy.cfg');
  private readonly socketPath = join(this.dir, 'haproxy', 'admin.sock');
  private balancer = '';

  private constructor(private readonly options: AwsWorldOptions) {
    this.targetGroupArns = { blue: this.account.addTargetGroup(BLUE_TARGET_GROUP, 1), green: this.account.addTargetGroup(GREEN_TARGET_GROUP, 1) };
  }

  static async start(options: AwsWorldOptions): Promise<AwsWorld> {
    const world = new AwsWorld(options);
    try {
      await world.build();
    } catch (error) {
      await world.stop();
      throw error;
    }
    return world;
  }

  private async build(): Promise<void> {
    const { network, firstOctet, balancerAddress, apiAddress, poolPerColor } = this.options;
    chmodSync(this.dir, 0o755);
    this.ssh = await SshWorld.start({ firstOctet, hostsPerColor: { blue: poolPerColor, green: poolPerColor }, network });
    writeFileSync(join(this.dir, 'runner_key'), this.ssh.privateKey, { mode: 0o600 });
    writeFileSync(join(this.dir, 'known_hosts'), `${this.ssh.knownHosts}\n`);
    for (const host of this.ssh.hosts) {
      // The repository belongs to the runner's user: git on the host must agree to read it.
      writeFileSync(join(host.homeOnRunner, '.gitconfig'), '[safe]\n\tdirectory = *\n');
      execFileSync('chown', [`${host.user}:${host.user}`, join(host.homeOnRunner, '.gitconfig')]);
    }
    this.initRepository();

    this.balancer = balancerAddress;
    this.listenerUrl = `http://${this.balancer}:8080`;
    this.testListenerUrl = `http://${this.balancer}:8081`;
    this.account.loadBalancer.dnsName = this.balancer;
    this.account.hooks = {
      launched: (instance, group) => this.launched(instance, group),
      terminated: (instance) => this.terminated(instance),
      changed: () => this.follow(),
      targetHealth: (arn, instance) => this.targetHealth(arn, instance),
      execute: (instance, text, timeoutSeconds) => this.execute(instance, text, timeoutSeconds),
    };
    this.account.addListener(LISTENER_ARN, 8080, this.account.forward([this.targetGroupArns.blue, 1]));
    this.account.addListener(TEST_LISTENER_ARN, 8081, this.account.forward([this.targetGroupArns.green, 1]));
    this.account.addGroup('shop-blue', {
      desired: this.options.blue,
      min: 0,
      max: poolPerColor,
      targetGroup: this.targetGroupArns.blue,
      launchesServing: false,
    });
    this.account.addGroup('shop-green', {
      desired: this.options.green ?? 0,
      min: 0,
      max: poolPerColor,
      targetGroup: this.targetGroupArns.green,
      launchesServing: false,
    });
    for (const group of this.account.groups.values()) group.bootPolls = 1;

    await this.wire.start({ host: apiAddress });
    mkdirSync(join(this.dir, 'haproxy'), { recursive: true });
    this.applied = this.registered();
    writeFileSync(this.configPath, this.renderConfig());
    writeFileSync(mapPathFor(this.configPath), this.renderMap().text);
    this.haproxy = startChild('haproxy', 'haproxy', ['-W', '-f', this.configPath], join(this.dir, 'haproxy', 'haproxy.log'));
    this.haproxyTraffic = new HaproxyTraffic(
      new LocalRunner(),
      { hostsOf: async () => [] },
      {
        description: 'the AWS world balancer',
        configPath: this.configPath,
        socketPath: this.socketPath,
        bind: `${this.balancer}:8080`,
        previewBind: `${this.balancer}:8081`,
        appPort: APP_PORT,
        healthPath: '/health',
        expectedStatus: 200,
        initialColor: 'blue',
        drainTimeoutMs: 1000,
      },
    );
    const traffic = this.haproxyTraffic;
    await waitFor(
      'HAProxy of the AWS world',
      async () => existsSync(this.socketPath) && (await traffic.command(runtime.showInfo())).includes('Pid:'),
      this.haproxy,
    );
    this.statsTimer = setInterval(() => void this.readStats(), 250);
  }

  // --- releases --------------------------------------------------------------------------------

  /** The bare repository with tag `r1`: examples/app as it is. */
  private initRepository(): void {
    const work = join(this.dir, 'git', 'work');
    mkdirSync(work, { recursive: true });
    execFileSync('git', ['init', '--quiet', '--bare', this.repository]);
    cpSync(EXAMPLE_APP, work, { recursive: true });
    const git = (...args: string[]) =>
      execFileSync('git', ['-C', work, '-c', 'user.name=bluegreen tests', '-c', 'user.email=tests@example.invalid', ...args], { stdio: 'pipe' });
    git('init', '--quiet');
    git('add', '-A');
    git('commit', '--quiet', '-m', 'r1');
    git('tag', 'r1');
    git('push', '--quiet', this.repository, 'HEAD:refs/heads/main', 'r1');
    execFileSync('chmod', ['-R', 'a+rX', join(this.dir, 'git')]);
  }

  /**
   * A new release tagged `tag`: an empty commit; or, `faulty`, one whose app.psgi passes every health
   * check and answers every other request with a 500 naming its color (faulty-release.psgi wrapping
   * the real app, kept as inner.psgi). The file keeps its name: a hot restart serves the new app.psgi.
   */
  addRelease(tag: string, { faulty = false } = {}): void {
    const work = join(this.dir, 'git', 'work');
    const git = (...args: string[]) =>
      execFileSync('git', ['-C', work, '-c', 'user.name=bluegreen tests', '-c', 'user.email=tests@example.invalid', ...args], { stdio: 'pipe' });
    if (faulty) {
      // Every real request fails (not every other one): a validation round cannot miss it by luck.
      const faultyPsgi = readFileSync(FAULTY_PSGI, 'utf8').replace(' || ++$requests % 2', '').replace('"$root/app.psgi"', '"$root/inner.psgi"');
      if (faultyPsgi.includes('$requests % 2') || !faultyPsgi.includes('inner.psgi'))
        throw new Error('faulty-release.psgi changed: update AwsWorld.addRelease');
      git('mv', 'app.psgi', 'inner.psgi');
      writeFileSync(join(work, 'app.psgi'), faultyPsgi);
      git('add', 'app.psgi');
    }
    git('commit', '--quiet', '--allow-empty', '-m', tag);
    git('tag', tag);
    git('push', '--quiet', this.repository, 'HEAD:refs/heads/main', tag);
    if (faulty) {
      git('rm', '--quiet', 'app.psgi');
      git('mv', 'inner.psgi', 'app.psgi');
      git('commit', '--quiet', '-m', `after ${tag}`);
    }
    execFileSync('chmod', ['-R', 'a+rX', join(this.dir, 'git')]);
  }

  /**
   * Release `tag` (see `addRelease`) as a directory on the runner, the `release-path` an S3 deploy
   * packs and uploads: the tagged tree as `git archive` gives it, made once (same files, same tarball).
   */
  releaseDirectory(tag: string): string {
    const path = join(this.dir, 'releases', tag);
    if (existsSync(path)) return path;
    mkdirSync(path, { recursive: true });
    const archive = join(this.dir, 'releases', `${tag}.tar`);
    execFileSync('git', ['--git-dir', this.repository, 'archive', '--output', archive, tag]);
    execFileSync('tar', ['-x', '-f', archive, '-C', path]);
    rmSync(archive);
    return path;
  }

  /**
   * The inputs that ship release `tag` through S3 rather than git (after `startS3`): the runner
   * uploads `releaseDirectory(tag)` to the world's bucket, the instances download it.
   */
  s3Inputs(tag: string): Record<string, string> {
    if (!this.s3) throw new Error('the world has no S3: call startS3 first');
    return {
      'release-bucket': RELEASE_BUCKET,
      'release-prefix': 'releases/',
      'release-repository': '',
      'release-ref': '',
      'release-path': this.releaseDirectory(tag),
      release: tag,
    };
  }

  /** The action's inputs for this world: provider aws, the git source, the app from examples/app on the hosts. */
  inputs(extra: Record<string, string> = {}): Record<string, string> {
    return {
      mode: 'deploy',
      provider: 'aws',
      'app-name': 'shop',
      'aws-region': 'eu-west-1',
      'listener-arn': LISTENER_ARN,
      'test-listener-arn': TEST_LISTENER_ARN,
      'blue-target-group': BLUE_TARGET_GROUP,
      'green-target-group': GREEN_TARGET_GROUP,
      'blue-asg': 'shop-blue',
      'green-asg': 'shop-green',
      'release-repository': this.repository,
      'release-ref': 'r1',
      release: 'r1',
      // Relative: inside each instance user's own home (SSM would run as root; here the host's user).
      'app-dir': 'app',
      'app-port': String(APP_PORT),
      'app-listen-address': 'host',
      'cpan-mirror': this.ssh.mirrorUrl,
      'health-retries': '20',
      'health-interval': '0.5',
      'health-timeout': '2',
      'drain-timeout': '1',
      ...extra,
    };
  }

  /** More environment for the runner step: `startS3` adds the S3 double's URL as `AWS_ENDPOINT_URL_S3`. */
  readonly extraEnv: Record<string, string> = {};

  /**
   * Starts the world's S3 on `address` (the S3 double: SigV4 verified, presigned GETs included),
   * with the world's credentials and the bucket `RELEASE_BUCKET`. The runner step reaches it as
   * `AWS_ENDPOINT_URL_S3`, the SDK's per-service endpoint, which wins over AWS_ENDPOINT_URL for S3
   * only; the instances fetch their presigned URLs from it over loopback.
   */
  async startS3(address: string): Promise<S3Double> {
    const { region, credentials } = this.clientConfig();
    this.s3 = await S3Double.start({ host: address, region, buckets: [RELEASE_BUCKET], credentials });
    this.extraEnv.AWS_ENDPOINT_URL_S3 = this.s3.url;
    return this.s3;
  }

  /** SDK client settings that reach the world's AWS from this process (the credentials and endpoint of `env()`). */
  clientConfig(): { region: string; endpoint: string; credentials: { accessKeyId: string; secretAccessKey: string } } {
    const env = this.wire.env();
    return {
      region: env.AWS_REGION as string,
      endpoint: this.wire.url,
      credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID as string, secretAccessKey: env.AWS_SECRET_ACCESS_KEY as string },
    };
  }

  /** The environment a runner step (the bundle, the demo) reaches the world's AWS with. */
  env(): Record<string, string> {
    return { ...this.wire.env(), ...this.extraEnv };
  }

  /**
   * Brings the instances of `color` up with release `ref` without the action (what a baked AMI or a
   * first release by hand would leave), by the host script the action sends through SSM.
   */
  async bootstrap(color: Color, ref = 'r1'): Promise<void> {
    const inputs = this.inputs({ 'release-ref': ref, release: ref });
    const settings = readSettings((name) => inputs[name] ?? '', { GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567' });
    const instances = this.account.instancesOf(`shop-${color}`);
    const results = await Promise.all(
      instances.map((instance) =>
        this.execute(
          instance,
          hostScriptShellCommand(settings, { name: instance.id, color, address: instance.ip }, ref, { kind: 'git', repository: this.repository, ref }),
          600,
        ),
      ),
    );
    const failed = results.map((r, i) => ({ ...r, id: instances[i]?.id })).filter((r) => r.exitCode !== 0);
    if (failed.length > 0) throw new Error(`bootstrap of ${color} failed: ${failed.map((f) => `${f.id}: ${f.output.slice(-1500)}`).join('\n')}`);
  }

  /** Waits (bounded) until HAProxy sees every registered target of `color` UP. */
  async healthy(color: Color, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const group = this.account.targetGroups.get(this.targetGroupArns[color]);
      const states = (group?.targets ?? []).map((t) => this.stats.get(`${backendOf(color)}/${this.hostOf.get(t.id)?.address}`)?.status ?? 'none');
      if (states.length > 0 && states.every((s) => s.startsWith('UP'))) return;
      if (Date.now() > deadline) throw new Error(`HAProxy never saw every ${color} target UP: ${states.join(', ')}`);
      await sleep(200);
    }
  }

  /** HAProxy's status (`UP`, `DOWN`, `MAINT`...) of each pool host of `color`, by address, as last read. */
  serverStates(color: Color): Record<string, string> {
    return Object.fromEntries(this.ssh.hostsOf(color).map((h) => [h.address, this.stats.get(`${backendOf(color)}/${h.address}`)?.status ?? 'none']));
  }

  /** Until every change the account made is applied to HAProxy. */
  async settled(): Promise<void> {
    await this.applying;
  }

  /** Who answers a GET / at `url` (the listener by default): the color and release the example app reports. */
  async whoAnswers(url: string = this.listenerUrl): Promise<Answer> {
    try {
      const response = await fetch(`${url}/`, { signal: AbortSignal.timeout(5000) });
      const text = await response.text();
      if (response.status !== 200) return { status: response.status, color: 'none', release: 'none' };
      const body = JSON.parse(text) as { color: string; release: string };
      return { status: 200, color: body.color, release: body.release };
    } catch (error) {
      return { status: 0, color: 'none', release: 'none', error: (error as Error).message };
    }
  }

  hostOfInstance(id: string): SshHost | undefined {
    return this.hostOf.get(id);
  }

  // --- the instances -------------------------------------------------------------------------------

  private launched(instance: InstanceModel, group: GroupModel): void {
    const color = COLORS.find((c) => group.name === `shop-${c}`) as Color;
    const used = new Set([...this.hostOf.values()].map((h) => h.address));
    const host = this.ssh.hostsOf(color).find((h) => !used.has(h.address));
    // No free host: the launch never comes up, as when a zone has no capacity.
    if (!host) {
      instance.pendingPolls = Number.POSITIVE_INFINITY;
      return;
    }
    instance.ip = host.address;
    this.hostOf.set(instance.id, host);
  }

  private terminated(instance: InstanceModel): void {
    const host = this.hostOf.get(instance.id);
    this.hostOf.delete(instance.id);
    // As an ALB does: out of the target group (HAProxy maintenance) first, then the machine goes.
    this.follow();
    if (host) this.applying = this.applying.then(() => this.ssh.stopAppOn(host)).catch(() => undefined);
  }

  /** The text through `sh -c` as the instance's user, over SSH: what the SSM agent does, as root, on an instance. */
  private execute(instance: InstanceModel, text: string, timeoutSeconds: number): Promise<{ exitCode: number; output: string; timedOut?: boolean }> {
    const host = this.hostOf.get(instance.id);
    if (!host) return Promise.resolve({ exitCode: 1, output: 'the instance has no host' });
    return new Promise((resolve) => {
      const child = spawn(
        'ssh',
        [
          '-i',
          join(this.dir, 'runner_key'),
          '-p',
          String(host.port),
          '-o',
          `UserKnownHostsFile=${join(this.dir, 'known_hosts')}`,
          '-o',
          'StrictHostKeyChecking=yes',
          '-o',
          'BatchMode=yes',
          '-o',
          'ConnectTimeout=10',
          `${host.user}@${host.address}`,
          text,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let output = '';
      let timedOut = false;
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, timeoutSeconds * 1000);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ exitCode: code ?? -1, output, ...(timedOut && { timedOut }) });
      });
    });
  }

  // --- the data plane ------------------------------------------------------------------------------

  /**
   * The config, once: every host of a color's pool is a server of its target group's backend, named
   * by its address; a host not registered in the group starts `disabled` (maintenance: no traffic, no
   * checks). Registration later is `set server ... state ready|maint` on the admin socket: no reload,
   * which would close the load's idle keep-alive connections.
   */
  private renderConfig(): string {
    const hosts = Object.fromEntries(
      COLORS.map((color) => [color, this.ssh.hostsOf(color).map((h) => ({ name: h.address, color, address: h.address }))]),
    ) as Record<Color, { name: string; color: Color; address: string }[]>;
    const rendered = renderHaproxyConfig(
      { configPath: this.configPath, socketPath: this.socketPath, bind: `${this.balancer}:8080`, previewBind: `${this.balancer}:8081` },
      { hosts, appPort: APP_PORT, healthPath: '/health', expectedStatus: 200 },
    );
    const registered = this.registered();
    return rendered.replace(/^( {2}server (\S+) \S+)$/gm, (line: string, _all: string, name: string) => (registered.has(name) ? line : `${line} disabled`));
  }

  /** The addresses of the hosts registered in either target group now. */
  private registered(): Set<string> {
    const out = new Set<string>();
    for (const color of COLORS) {
      for (const target of this.account.targetGroups.get(this.targetGroupArns[color])?.targets ?? []) {
        const host = this.hostOf.get(target.id);
        if (host) out.add(host.address);
      }
    }
    return out;
  }

  /** The listener's forward as the map: the test listener's color is the preview, the forward's share of it the split. */
  private renderMap(): { text: string; entries: [MapKey, string][] } {
    const colorOf = (arn: string | undefined) => COLORS.find((c) => this.targetGroupArns[c] === arn);
    const weights: Record<Color, number> = { blue: 0, green: 0 };
    const forward = this.account.listeners.get(LISTENER_ARN)?.actions.find((a) => a.Type === 'forward');
    for (const g of forward?.ForwardConfig?.TargetGroups ?? (forward?.TargetGroupArn ? [{ TargetGroupArn: forward.TargetGroupArn, Weight: 1 }] : [])) {
      const color = colorOf(g.TargetGroupArn);
      if (color) weights[color] += g.Weight ?? 1;
    }
    const testForward = this.account.listeners.get(TEST_LISTENER_ARN)?.actions.find((a) => a.Type === 'forward');
    const preview =
      colorOf(testForward?.ForwardConfig?.TargetGroups?.find((g) => (g.Weight ?? 1) > 0)?.TargetGroupArn ?? testForward?.TargetGroupArn) ?? 'green';
    const total = weights.blue + weights.green;
    let live: Color | undefined = otherColor(preview);
    let split = total === 0 ? 0 : Math.round((weights[preview] * 100) / total);
    if (total === 0) live = undefined;
    else if (split === 100) [live, split] = [preview, 0];
    const entries: [MapKey, string][] = [
      [MAP_KEYS.live, live ? backendOf(live) : BACKENDS.none],
      [MAP_KEYS.preview, backendOf(preview)],
      [MAP_KEYS.split, String(split)],
    ];
    return { text: renderLiveMap(live, preview, split), entries };
  }

  /** Applies the account's state to HAProxy, one change after another. */
  private follow(): void {
    if (!this.haproxy) return;
    this.applying = this.applying
      .then(() => this.apply())
      .catch((error: unknown) => {
        console.error(`AWS world: applying a change to HAProxy failed: ${String(error)}`);
      });
  }

  private async apply(): Promise<void> {
    if (this.stopped || !this.haproxy || !this.haproxyTraffic) return;
    const map = this.renderMap();
    writeFileSync(mapPathFor(this.configPath), map.text);
    const registered = this.registered();
    const commands: RuntimeCommand[] = map.entries.map(([key, value]) => runtime.setMap(mapPathFor(this.configPath), key, value));
    for (const host of this.ssh.hosts) {
      const want = registered.has(host.address);
      if (want !== this.applied.has(host.address)) commands.push(runtime.setServerState(backendOf(host.color), host.address, want ? 'ready' : 'maint'));
    }
    this.applied = registered;
    await this.haproxyTraffic.command(...commands);
  }

  private async readStats(): Promise<void> {
    try {
      const rows = (await this.haproxyTraffic?.showStat()) ?? [];
      this.stats = new Map(rows.map((row) => [`${row.pxname}/${row.svname}`, row]));
    } catch {
      // The admin socket did not answer this time: keep the last view.
    }
  }

  /** HAProxy's view of one target as the ALB reports target health. */
  private targetHealth(arn: string, instance: InstanceModel): { State: string; Reason?: string; Description?: string } | undefined {
    const color = COLORS.find((c) => this.targetGroupArns[c] === arn);
    const host = this.hostOf.get(instance.id);
    const row = color && host ? this.stats.get(`${backendOf(color)}/${host.address}`) : undefined;
    if (!row || row.check_status === 'INI' || row.status === 'no check' || row.status === 'MAINT') return undefined;
    if (row.status?.startsWith('UP')) return { State: 'healthy' };
    if (row.check_status === 'L7STS')
      return { State: 'unhealthy', Reason: 'Target.ResponseCodeMismatch', Description: `Health checks failed with these codes: [${row.check_code}]` };
    if (row.check_status?.endsWith('TOUT')) return { State: 'unhealthy', Reason: 'Target.Timeout', Description: 'Request timed out' };
    return { State: 'unhealthy', Reason: 'Target.FailedHealthChecks', Description: 'Health checks failed' };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.statsTimer);
    await this.applying.catch(() => undefined);
    await this.haproxy?.stop();
    await this.wire.stop();
    await this.s3?.stop();
    await this.ssh?.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
