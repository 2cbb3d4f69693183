/**
 * The demo (`npm run demo`): the whole product on this machine, no cloud account. It builds a
 * local blue/green world (LocalWorld: two real sshd hosts per color on loopback, a real HAProxy in
 * front, the example Perl app in examples/app), then runs the action's own bundle five times, as a
 * runner would (`node dist/index.js` with INPUT_* variables, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY):
 * deploy, switch, deploy the next release, switch, rollback. After each run it prints the job
 * summary the action wrote and which color and release answered a request at the public URL.
 * It removes everything it made (processes, users, temp dirs) on success, failure and Ctrl-C.
 *
 * `npm run demo -- aws` runs the AWS provider instead, on a local AWS (AwsWorld: the AWS API double on
 * the wire, reached through AWS_ENDPOINT_URL, with sshd hosts as the Auto Scaling instances, SSM Run
 * Command run over SSH, and a real HAProxy as the ALB listener): deploy, switch, rollback. Each
 * instance fetches the release with git (`release-repository`); `npm run demo -- aws s3` ships it
 * through S3 instead (`release-bucket`: the runner uploads the release once to a local S3, each
 * instance downloads it with curl through a presigned URL).
 *
 * It runs as `node --import tsx`, one process: tsx's own CLI would kill it outright when Ctrl-C
 * comes while a synchronous command (useradd, ssh-keygen) holds the event loop, skipping the cleanup.
 *
 * BLUEGREEN_BUNDLE: another bundle to run (default dist/index.js); BLUEGREEN_NODE: the node binary
 * that runs it (default: the one running the demo; the tests pass Node 24, the runtime action.yml
 * declares); BLUEGREEN_DEMO_VERBOSE=1: print the action's whole log, not only its phases.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseOutputFile, runnerEnvironment } from '../lab/runner-files.js';
import { AwsWorld } from '../lab/aws-world.js';
import { LocalWorld, describeAnswer } from '../lab/local-world.js';
import type { Mode } from '../src/settings.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const bundle = resolve(process.env.BLUEGREEN_BUNDLE || join(root, 'dist', 'index.js'));
const runtime = resolve(process.env.BLUEGREEN_NODE || process.execPath);
const verbose = process.env.BLUEGREEN_DEMO_VERBOSE === '1';

/** Loopback addresses of the demo's own (no test uses 127.0.7.x): hosts .11-.14, HAProxy on .1. */
const WORLD = { provider: 'ssh', network: '127.0.7', firstOctet: 11, haproxyAddress: '127.0.7.1' } as const;

/** The AWS demo's own addresses: hosts 127.0.45.11-.14, the load balancer 127.0.46.1, the AWS API 127.0.46.2, S3 127.0.46.3. */
const AWS_WORLD = { network: '127.0.45', firstOctet: 11, balancerAddress: '127.0.46.1', apiAddress: '127.0.46.2', blue: 2, poolPerColor: 2 } as const;
const AWS_S3_ADDRESS = '127.0.46.3';

const AWS_STEPS: { mode: Mode; release: string; title: string }[] = [
  { mode: 'deploy', release: 'r2', title: 'deploy release r2: blue serves r1 behind the listener, so r2 goes to green (scaled up from 0)' },
  { mode: 'switch', release: 'r2', title: 'switch: the listener forwards to green' },
  { mode: 'rollback', release: 'r2', title: 'rollback: the listener forwards to blue again' },
];

const STEPS: { mode: Mode; release: string; title: string }[] = [
  { mode: 'deploy', release: 'demo-1', title: 'deploy release demo-1: nothing is live yet, so it goes to blue' },
  { mode: 'switch', release: 'demo-1', title: 'switch: live traffic moves to blue' },
  { mode: 'deploy', release: 'demo-2', title: 'deploy release demo-2 to the idle color, green' },
  { mode: 'switch', release: 'demo-2', title: 'switch: live traffic moves to green' },
  { mode: 'rollback', release: 'demo-2', title: 'rollback: live traffic goes back to blue' },
];

/** The summary's HTML as plain text lines, for a terminal. */
export function summaryAsText(html: string): string {
  return html
    .replace(/<h\d>(.*?)<\/h\d>/g, '\n$1\n')
    .replace(/<\/tr>/g, '\n')
    .replace(/<\/t[dh]>/g, ' | ')
    .replace(/<li>/g, '- ')
    .replace(/<\/li>/g, '\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&#(\d+);/g, (_m, code: string) => String.fromCharCode(Number(code)))
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/**
 * One line of the action's log as a runner's log view shows it: groups as their titles (their
 * contents only with BLUEGREEN_DEMO_VERBOSE=1), annotations as `Error:` / `Warning:`, masks hidden.
 */
function logView(): (line: string) => string | undefined {
  let inGroup = false;
  return (line) => {
    const command = /^::([a-z-]+)( [^:]*)?::(.*)$/.exec(line);
    if (!command) return inGroup && !verbose ? undefined : `    ${line}`;
    const [, name, , text = ''] = command;
    const message = text.replace(/%0A/g, ' ').replace(/%0D/g, '').replace(/%25/g, '%');
    if (name === 'group') {
      inGroup = true;
      return `  ▸ ${message}`;
    }
    if (name === 'endgroup') inGroup = false;
    if (name === 'error') return `  Error: ${message}`;
    if (name === 'warning') return `  Warning: ${message}`;
    return undefined;
  };
}

let interrupted: string | undefined;
let interruptedAt = 0;
let running: ChildProcess | undefined;

/** Runs the bundle once, as a runner runs an action step; resolves with its exit code, outputs and summary. */
async function runStep(
  inputs: Record<string, string>,
  extraEnv: Record<string, string> = {},
): Promise<{ code: number; outputs: Record<string, string>; summary: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'bgp-demo-step-'));
  try {
    const summaryFile = join(dir, 'summary.md');
    const outputFile = join(dir, 'output.txt');
    writeFileSync(summaryFile, '');
    writeFileSync(outputFile, '');
    const env = { ...runnerEnvironment(inputs, { summaryFile, outputFile, workspace: root, temp: dir }), ...extraEnv };
    const child = spawn(runtime, [bundle], { env, cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    running = child;
    const view = logView();
    createInterface({ input: child.stdout }).on('line', (line) => {
      const shown = view(line);
      if (shown !== undefined) console.log(shown);
    });
    const code = await new Promise<number>((done) => child.on('close', (status) => done(status ?? 1)));
    running = undefined;
    return { code, outputs: parseOutputFile(readFileSync(outputFile, 'utf8')), summary: readFileSync(summaryFile, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function checkpoint(): void {
  if (interrupted) throw new Error(`stopped by ${interrupted}`);
}

/**
 * The AWS demo: the local AWS world, blue serving r1, then deploy, switch and rollback through the
 * bundle; the release from git on each instance, or (`source` s3) through S3.
 */
async function awsDemo(version: string, source: 'git' | 's3'): Promise<number> {
  console.log(
    `bluegreen-perl demo (provider aws): building a local AWS on ${AWS_WORLD.network}.x and ${AWS_WORLD.balancerAddress} (an ALB listener on HAProxy, 2 Auto Scaling instances per color as sshd hosts, SSM over SSH)…`,
  );
  let world: AwsWorld | undefined;
  try {
    world = await AwsWorld.start(AWS_WORLD);
    checkpoint();
    console.log('  blue instances get release r1 (as a baked AMI would have it)…');
    await world.bootstrap('blue', 'r1');
    await world.healthy('blue', 60_000);
    checkpoint();
    world.addRelease('r2');
    console.log(`  the AWS API: ${world.wire.url} (AWS_ENDPOINT_URL for the SDK; every request checked against AWS's models)`);
    const s3 = source === 's3' ? await world.startS3(AWS_S3_ADDRESS) : undefined;
    if (s3)
      console.log(`  S3: ${s3.url} (AWS_ENDPOINT_URL_S3; SigV4 checked): the runner uploads each release once, instances download it through a presigned URL`);
    else console.log(`  releases: the git repository ${world.repository}, fetched by each instance (npm run demo -- aws s3 ships them through S3 instead)`);
    console.log(`  the listener: ${world.listenerUrl}; the test listener (preview): ${world.testListenerUrl}`);
    console.log(`  running the action's bundle ${bundle} on node ${version} (${runtime}) for each step, as a runner would\n`);
    let failed = 0;
    for (const [i, step] of AWS_STEPS.entries()) {
      console.log(`\n=== ${i + 1}/${AWS_STEPS.length} ${step.title} ===`);
      const release = s3 ? world.s3Inputs(step.release) : { release: step.release, 'release-ref': step.release };
      const run = await runStep(world.inputs({ mode: step.mode, ...release }), world.env());
      checkpoint();
      console.log(`\n--- job summary ---\n${summaryAsText(run.summary)}\n`);
      console.log(
        `outputs: ${Object.entries(run.outputs)
          .map(([name, value]) => `${name}=${value || '""'}`)
          .join(' ')}`,
      );
      await world.settled();
      console.log(`who answers: ${describeAnswer(world.listenerUrl, await world.whoAnswers())}`);
      if (step.mode === 'deploy') console.log(`preview:     ${describeAnswer(world.testListenerUrl, await world.whoAnswers(world.testListenerUrl))}`);
      if (run.code !== 0) {
        failed++;
        console.log(`\nThe action failed (exit ${run.code}): the demo stops here.`);
        break;
      }
    }
    const violations = world.wire.violations;
    if (violations.length > 0) console.log(`\nRequests that broke AWS's models: ${violations.map((v) => `${v.action}: ${v.message}`).join('; ')}`);
    const refused = s3?.authFailures ?? [];
    if (refused.length > 0) console.log(`\nS3 requests refused for their signature: ${refused.map((r) => `${r.method} ${r.key}: ${r.code}`).join('; ')}`);
    const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
    const uploads = s3
      ? `, ${count(s3.requests.filter((r) => r.method === 'PUT').length, 'upload')} to S3 and ${count(s3.requests.filter((r) => r.auth === 'query').length, 'download')} through presigned URLs`
      : '';
    if (!failed)
      console.log(
        `\nDone: deploy, switch and rollback through the action, ${world.wire.requests.length} AWS API requests, ${violations.length} breaking a model${uploads}.`,
      );
    return failed || violations.length > 0 || refused.length > 0 ? 1 : 0;
  } finally {
    console.log('\nCleaning up: apps, sshd hosts, HAProxy, the AWS double, users and temp dirs…');
    await world?.stop();
    console.log('Clean.');
  }
}

async function main(): Promise<number> {
  const [worldName = 'ssh', source = 'git'] = process.argv.slice(2);
  if (worldName !== 'ssh' && worldName !== 'aws')
    throw new Error(`unknown world '${worldName}': run npm run demo (SSH and HAProxy) or npm run demo -- aws (a local AWS)`);
  if ((worldName === 'ssh' && process.argv.length > 3) || (source !== 'git' && source !== 's3'))
    throw new Error(`unknown release source '${source}': run npm run demo -- aws (git) or npm run demo -- aws s3 (S3)`);
  if (process.getuid?.() !== 0) throw new Error('the demo creates unix users and starts sshd: run it as root (sudo npm run demo)');
  if (!existsSync(bundle)) throw new Error(`no bundle at ${bundle}: run npm run bundle, or point BLUEGREEN_BUNDLE at one`);
  const version = spawnSync(runtime, ['--version'], { encoding: 'utf8', timeout: 10_000 }).stdout?.trim();
  if (!version) throw new Error(`BLUEGREEN_NODE: ${runtime} does not run as node: point it at a node binary, or unset it`);
  if (worldName === 'aws') return awsDemo(version, source);
  console.log(`bluegreen-perl demo: building a local blue/green world on ${WORLD.network}.x (2 sshd hosts per color, HAProxy in front)…`);
  let world: LocalWorld | undefined;
  try {
    world = await LocalWorld.start(WORLD);
    checkpoint();
    const hosts = (color: 'blue' | 'green') =>
      world
        ?.hostsOf(color)
        .map((h) => h.address)
        .join(', ');
    console.log(`  blue hosts: ${hosts('blue')}; green hosts: ${hosts('green')} (sshd on port 2222, the app on port 5080)`);
    console.log(`  HAProxy: live traffic at ${world.publicUrl}, preview route at ${world.previewUrl}`);
    console.log(`  running the action's bundle ${bundle} on node ${version} (${runtime}) for each step, as a runner would\n`);
    let failed = 0;
    for (const [i, step] of STEPS.entries()) {
      console.log(`\n=== ${i + 1}/${STEPS.length} ${step.title} ===`);
      const run = await runStep(world.inputs(step.mode, step.release));
      checkpoint();
      console.log(`\n--- job summary ---\n${summaryAsText(run.summary)}\n`);
      console.log(
        `outputs: ${Object.entries(run.outputs)
          .map(([name, value]) => `${name}=${value || '""'}`)
          .join(' ')}`,
      );
      console.log(`who answers: ${describeAnswer(world.publicUrl, await world.whoAnswers())}`);
      if (step.mode === 'deploy') console.log(`preview:     ${describeAnswer(world.previewUrl, await world.whoAnswers(world.previewUrl))}`);
      if (run.code !== 0) {
        failed++;
        console.log(`\nThe action failed (exit ${run.code}): the demo stops here.`);
        break;
      }
    }
    if (!failed) console.log('\nDone: deploy, switch, deploy, switch and rollback, each through the action itself.');
    return failed ? 1 : 0;
  } finally {
    console.log('\nCleaning up: apps, sshd hosts, HAProxy, users and temp dirs…');
    await world?.stop();
    console.log('Clean.');
  }
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    if (interrupted) {
      // One Ctrl-C can arrive more than once (from the terminal, and relayed by npm): only a later one means "now".
      if (Date.now() - interruptedAt < 2000) return;
      console.error(`\n${signal} again: exiting now; processes and users named bgp* under ${tmpdir()} may be left behind.`);
      process.exit(130);
    }
    // The running step and the world stop first; main's finally removes everything.
    interrupted = signal;
    interruptedAt = Date.now();
    console.error(`\n${signal}: stopping the demo and cleaning up (press Ctrl-C again to exit at once)…`);
    running?.kill('SIGTERM');
  });
}

main().then(
  (code) => process.exit(interrupted ? 130 : code),
  (error: unknown) => {
    // After Ctrl-C, whatever failed did so because the signal stopped it (an sshd, a command).
    console.error(interrupted ? `demo: stopped by ${interrupted}` : `demo: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(interrupted ? 130 : 1);
  },
);
