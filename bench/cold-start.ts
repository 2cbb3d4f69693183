import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DigitalOceanDouble } from '../lab/digitalocean-api.js';
import type { Benchmark } from './index.js';

/**
 * Cold start: wall time and peak memory of a dry run of the bundle, started the way a runner
 * starts it (`node dist/index.js`, inputs in INPUT_* variables), once per provider, beside the
 * yardstick of `node -e 0` timed the same way in the same run. The bundle is built fresh from src/
 * into a temporary directory first, so the figures are those of the code in the tree.
 * - ssh: static hosts on 127.0.47.x with nothing listening (a dry run reads no host);
 * - digitalocean: the DigitalOcean API double on 127.0.47.1, one Droplet per color;
 * - aws: the SDK's endpoint (AWS_ENDPOINT_URL) is a stub on 127.0.47.2 that denies every call, so
 *   the dry run loads the SDK, signs and sends its first call and stops at its first clear failure.
 * Each figure (wall ms, peak RSS MiB) is the median over RUNS starts.
 * `aws_sdk_loaded` says, per provider, whether its dry run needs the bundle's AWS SDK chunks: each
 * runs once more from a copy of the bundle without them.
 * With BENCH_COLD_START_BEFORE=<a bundle directory> (an older build, say of the commit before a
 * change), that bundle's ssh dry run is measured in the same run too, as `ssh_before`.
 */
const RUNS = 5;
const REPO = fileURLToPath(new URL('..', import.meta.url));
const TIME = '/usr/bin/time';
const SHA = 'fedcba9876543210fedcba9876543210fedcba98';

interface Start {
  ms: number;
  /** Peak resident set, MiB (from /usr/bin/time), when it is installed. */
  rssMiB?: number;
  status: number | null;
  stdout: string;
}

/** One start of `node args`, timed from spawn to exit; `env` is its whole environment. */
function start(args: string[], env: NodeJS.ProcessEnv, scratch: string): Promise<Start> {
  const rssFile = join(scratch, 'rss');
  const withTime = existsSync(TIME);
  const [command, argv] = withTime ? [TIME, ['-f', '%M', '-o', rssFile, process.execPath, ...args]] : [process.execPath, args];
  return new Promise((resolve, reject) => {
    const began = performance.now();
    const child = spawn(command, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => out.push(chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      const ms = performance.now() - began;
      const kib = withTime ? Number(readFileSync(rssFile, 'utf8').trim().split('\n').at(-1)) : NaN;
      resolve({ ms, status, stdout: Buffer.concat(out).toString('utf8'), ...(Number.isFinite(kib) && { rssMiB: kib / 1024 }) });
    });
  });
}

/** The environment a runner gives the action, with `inputs` as INPUT_* variables. */
function runnerEnv(scratch: string, inputs: Record<string, string>, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  for (const file of ['summary', 'output']) writeFileSync(join(scratch, file), '');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    GITHUB_ACTIONS: 'true',
    GITHUB_SHA: SHA,
    GITHUB_REPOSITORY: 'acme/shop',
    GITHUB_RUN_ID: '42',
    GITHUB_WORKSPACE: scratch,
    RUNNER_TEMP: scratch,
    GITHUB_STEP_SUMMARY: join(scratch, 'summary'),
    GITHUB_OUTPUT: join(scratch, 'output'),
    ...extra,
  };
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase()}`] = value;
  return env;
}

/** An AWS endpoint that denies every call, as IAM would without the permission (a query-API error). */
async function denyingAwsEndpoint(host: string): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(403, { 'content-type': 'text/xml' });
      res.end(
        '<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>cold-start bench: denied</Message></Error><RequestId>bench</RequestId></ErrorResponse>',
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('the AWS stub has no port');
  return { url: `http://${host}:${address.port}`, server };
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)] ?? NaN;
const round = (n: number | undefined): number | undefined => (n === undefined || Number.isNaN(n) ? undefined : Math.round(n));

const coldStart: Benchmark = {
  key: 'cold_start_ms',
  description: `Cold start: dry run of the fresh bundle per provider beside node -e 0, median of ${RUNS} starts`,
  async run() {
    const scratch = mkdtempSync(join(tmpdir(), 'bgp-bench-cold-'));
    const doApi = new DigitalOceanDouble();
    let aws: { url: string; server: Server } | undefined;
    try {
      const bundleDir = join(scratch, 'dist');
      await new Promise<void>((resolve, reject) => {
        const child = spawn('bash', ['scripts/bundle.sh', bundleDir], { cwd: REPO, stdio: 'ignore' });
        child.on('error', reject);
        child.on('close', (status) => (status === 0 ? resolve() : reject(new Error(`scripts/bundle.sh exited ${status}`))));
      });
      const chunks = readdirSync(bundleDir).filter((name) => name.endsWith('.js'));
      const doUrl = await doApi.start('127.0.47.1');
      doApi.addDroplet('shop-blue-1', 'shop-blue', { privateIp: '127.0.47.21' });
      doApi.addDroplet('shop-green-1', 'shop-green', { privateIp: '127.0.47.22' });
      aws = await denyingAwsEndpoint('127.0.47.2');
      const bundle = join(bundleDir, 'index.js');
      // The checked-out app, as a job's checkout step leaves it: the preflight looks for its app.psgi.
      const common = { mode: 'deploy', 'app-name': 'shop', 'dry-run': 'true', 'release-path': join(REPO, 'examples', 'app') };
      const cases: Array<{ name: string; args: string[]; inputs?: Record<string, string>; env?: NodeJS.ProcessEnv; expect: RegExp }> = [
        { name: 'node_e0', args: ['-e', '0'], expect: /^$/ },
        {
          name: 'ssh',
          args: [bundle],
          inputs: { ...common, provider: 'ssh', 'blue-hosts': '127.0.47.11', 'green-hosts': '127.0.47.12' },
          expect: /result<<[\s\S]*planned/,
        },
        {
          name: 'digitalocean',
          args: [bundle],
          inputs: {
            ...common,
            provider: 'digitalocean',
            'digitalocean-token': doApi.token,
            'digitalocean-api-url': doUrl,
            'blue-tag': 'shop-blue',
            'green-tag': 'shop-green',
          },
          expect: /result<<[\s\S]*planned/,
        },
        {
          name: 'aws',
          args: [bundle],
          inputs: {
            ...common,
            provider: 'aws',
            'aws-region': 'eu-west-1',
            'listener-arn': 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2',
            'blue-target-group': 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/shop-blue/73686f702d626c75',
            'green-target-group': 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/shop-green/73686f702d677265',
            'blue-asg': 'shop-blue',
            'green-asg': 'shop-green',
          },
          env: {
            AWS_ENDPOINT_URL: aws.url,
            AWS_ACCESS_KEY_ID: 'AKIABENCHCOLDSTART00',
            AWS_SECRET_ACCESS_KEY: 'bench-cold-start-secret',
            AWS_EC2_METADATA_DISABLED: 'true',
          },
          expect: /AWS denied/,
        },
      ];
      const before = process.env.BENCH_COLD_START_BEFORE;
      if (before) cases.push({ ...cases[1]!, name: 'ssh_before', args: [join(before, 'index.js')] });
      const starts: Record<string, Start[]> = Object.fromEntries(cases.map((c) => [c.name, []]));
      // Interleaved, so a burst of load from elsewhere on the machine falls on every case alike.
      for (let i = 0; i < RUNS; i++) {
        for (const c of cases) {
          const env = c.inputs ? runnerEnv(scratch, c.inputs, c.env) : { PATH: process.env.PATH };
          const result = await start(c.args, env, scratch);
          const seen = c.inputs ? readFileSync(join(scratch, 'output'), 'utf8') + result.stdout : result.stdout;
          if (!c.expect.test(seen))
            throw new Error(`the ${c.name} start did not end as expected (${String(c.expect)}), exit ${result.status}:\n${result.stdout.slice(-1500)}`);
          starts[c.name]?.push(result);
        }
      }
      const figures: Record<string, unknown> = { bundle_js_files: chunks.length };
      for (const c of cases) {
        const runs = starts[c.name] ?? [];
        const ms = round(median(runs.map((r) => r.ms)));
        const rss = round(median(runs.map((r) => r.rssMiB ?? NaN)));
        figures[c.name] = ms;
        if (rss !== undefined) figures[`${c.name}_rss_mib`] = rss;
        console.log(`${c.name.padEnd(13)} ${String(ms).padStart(5)} ms${rss === undefined ? '' : `  peak RSS ${rss} MiB`}`);
      }
      console.log(`(bundle: ${chunks.length} .js file(s); figures are medians of ${RUNS} starts)`);
      // Which dry runs load the AWS SDK: they fail to find its chunks in a bundle without them.
      const withoutSdk = join(scratch, 'dist-without-aws-sdk');
      cpSync(bundleDir, withoutSdk, { recursive: true });
      const sdkChunks = chunks.filter((name) => name !== 'index.js' && readFileSync(join(bundleDir, name), 'utf8').includes('@aws-sdk/'));
      for (const name of sdkChunks) rmSync(join(withoutSdk, name));
      const loaded: Record<string, boolean> = {};
      for (const c of cases.filter((c) => ['ssh', 'digitalocean', 'aws'].includes(c.name))) {
        const result = await start([join(withoutSdk, 'index.js')], runnerEnv(scratch, c.inputs ?? {}, c.env), scratch);
        loaded[c.name] = /Cannot find module|ERR_MODULE_NOT_FOUND/.test(result.stdout);
      }
      console.log(
        `AWS SDK (${sdkChunks.length} chunk(s)) loaded by the dry run of: ${
          Object.keys(loaded)
            .filter((name) => loaded[name])
            .join(', ') || 'none'
        }`,
      );
      figures.aws_sdk_loaded = loaded;
      return figures;
    } finally {
      aws?.server.close();
      await doApi.stop();
      rmSync(scratch, { recursive: true, force: true });
    }
  },
};

export default [coldStart];
