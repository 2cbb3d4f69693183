import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ColorLoad, type LoadCounts } from '../bench/support/color-load.js';
import { AutoScalingClient, UpdateAutoScalingGroupCommand } from '@aws-sdk/client-auto-scaling';
import { releaseTarball } from '../src/hosts/releaser.js';
import { sleep } from '../src/retry.js';
import { otherColor, type Color } from '../src/colors.js';
import { LISTENER_ARN, TEST_LISTENER_ARN } from '../lab/aws-account.js';
import { AwsWorld, RELEASE_BUCKET } from '../lab/aws-world.js';
import { parseOutputFile, runnerEnvironment } from '../lab/runner-files.js';

// provider: aws end to end on the wire, under load: the bundle (node dist/index.js, as a runner
// runs it) with ordinary AWS credentials in its environment and AWS_ENDPOINT_URL pointing at the
// local AWS (aws-world.ts): every ELBv2, Auto Scaling, SSM and CloudWatch request goes over HTTP
// to the double and is checked against AWS's models; instances are real sshd hosts the SSM commands
// run on (the host script fetching each release from a bare git repository); the listener is a real
// HAProxy whose weights follow ModifyListener and whose health checks are the target health. A
// steady keep-alive load at the listener counts every failed request.
// Loopback: hosts 127.0.43.10.. (blue pool .10 .11, green pool .12 .13), balancer 127.0.44.1, API 127.0.44.2,
// S3 127.0.44.3.
//
// Both release sources, over the same world: first git (`release-repository`, each instance fetches
// a tag), then the S3 artifact (`release-bucket`: the runner packs release-path and uploads it once to
// the S3 double, reached as AWS_ENDPOINT_URL_S3, which verifies every SigV4 signature; each instance
// downloads it with curl through a presigned URL the command carries).

const BUNDLE = fileURLToPath(new URL('../dist/index.js', import.meta.url));

interface BundleRun {
  code: number | null;
  stdout: string;
  outputs: Record<string, string>;
  summary: string;
  /** What the step saved for its post step (GITHUB_STATE). */
  state: string;
}

/** The bundle as a runner runs it, asynchronously: the double answers from this process meanwhile. */
async function runBundle(inputs: Record<string, string>, env: Record<string, string>): Promise<BundleRun> {
  const dir = mkdtempSync(join(tmpdir(), 'bgp-aws-run-'));
  const files = { summaryFile: join(dir, 'summary.md'), outputFile: join(dir, 'output.txt'), workspace: dir, temp: dir };
  const stateFile = join(dir, 'state.txt');
  for (const file of [files.summaryFile, files.outputFile, stateFile]) writeFileSync(file, '');
  try {
    const child = spawn(process.execPath, [BUNDLE], {
      env: { ...runnerEnvironment(inputs, files), GITHUB_STATE: stateFile, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    return {
      code,
      stdout,
      outputs: parseOutputFile(readFileSync(files.outputFile, 'utf8')),
      summary: readFileSync(files.summaryFile, 'utf8'),
      state: readFileSync(stateFile, 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const errorsOf = (run: BundleRun) => run.stdout.split('\n').filter((line) => line.startsWith('::error'));

describe('provider aws on the wire, under load, through the bundle', () => {
  let world: AwsWorld;

  beforeAll(async () => {
    if (!existsSync(BUNDLE)) throw new Error('dist/index.js is missing: run npm run bundle');
    world = await AwsWorld.start({ network: '127.0.43', firstOctet: 10, balancerAddress: '127.0.44.1', apiAddress: '127.0.44.2', blue: 2, poolPerColor: 2 });
    await world.bootstrap('blue', 'r1');
    await world.healthy('blue', 60_000);
    await world.startS3('127.0.44.3');
  }, 300_000);

  afterAll(async () => {
    await world?.stop();
  }, 60_000);

  const failures = (counts: LoadCounts) => ({ failed: counts.failed, connectionErrors: counts.connectionErrors, serverErrors: counts.serverErrors });

  it("deploys, switches, deploys, catches a failing progressive switch and moves back, rolls back, and scales the idle group in: no failed request but the failing step's, no request breaking the models", async () => {
    const load = new ColorLoad(world.listenerUrl, 4);
    const act = async (mode: string, extra: Record<string, string> = {}) => runBundle(world.inputs({ mode, ...extra }), world.env());
    const steps: { what: string; run: BundleRun }[] = [];
    try {
      await sleep(500);
      world.addRelease('r2');
      const deployed = await act('deploy', { 'release-ref': 'r2', release: 'r2' });
      steps.push({ what: 'deploy r2', run: deployed });
      expect([errorsOf(deployed), deployed.code]).toEqual([[], 0]);
      expect(deployed.outputs).toMatchObject({ result: 'success', 'target-color': 'green', 'live-color': 'blue', 'preview-url': world.testListenerUrl });
      expect(world.account.instancesOf('shop-green').map((i) => i.lifecycle)).toEqual(['InService', 'InService']);
      const preview = (await (await fetch(`${world.testListenerUrl}/`)).json()) as { color: string; release: string };
      expect(preview).toMatchObject({ color: 'green', release: 'r2' });

      const switched = await act('switch');
      steps.push({ what: 'switch', run: switched });
      expect([errorsOf(switched), switched.outputs['live-color']]).toEqual([[], 'green']);
      expect(world.account.weightsOf(LISTENER_ARN)).toEqual({ 'shop-green': 100, 'shop-blue': 0 });
      await world.settled();
      expect(((await (await fetch(`${world.listenerUrl}/`)).json()) as { color: string }).color).toBe('green');

      world.addRelease('r3', { faulty: true });
      const faulty = await act('deploy', { 'release-ref': 'r3', release: 'r3' });
      steps.push({ what: 'deploy r3 (faulty)', run: faulty });
      expect([errorsOf(faulty), faulty.outputs['target-color']]).toEqual([[], 'blue']);

      const stepped = await act('switch', {
        'traffic-steps': '10,50,100',
        'step-pause': '2',
        'public-url': world.listenerUrl,
        'validation-path': '/',
        'validation-requests': '50',
      });
      steps.push({ what: 'progressive switch to the faulty blue', run: stepped });
      expect(stepped.outputs).toMatchObject({ result: 'failure', 'live-color': 'green' });
      expect(errorsOf(stepped).at(-1)).toMatch(/^::error::Validation failed: .*Traffic was moved back to green \d+ ms after the failed check\.$/);
      expect(world.account.weightsOf(LISTENER_ARN)).toEqual({ 'shop-green': 100, 'shop-blue': 0 });

      world.addRelease('r4');
      const fixed = await act('deploy', { 'release-ref': 'r4', release: 'r4' });
      steps.push({ what: 'deploy r4', run: fixed });
      expect([errorsOf(fixed), fixed.outputs['target-color']]).toEqual([[], 'blue']);
      const again = await act('switch');
      steps.push({ what: 'switch to blue', run: again });
      expect([errorsOf(again), again.outputs['live-color']]).toEqual([[], 'blue']);

      const back = await act('rollback');
      steps.push({ what: 'rollback', run: back });
      expect([errorsOf(back), back.outputs['live-color']]).toEqual([[], 'green']);
      expect(world.account.weightsOf(LISTENER_ARN)).toEqual({ 'shop-green': 100, 'shop-blue': 0 });
      expect(world.account.weightsOf(TEST_LISTENER_ARN)).toEqual({ 'shop-blue': 1 });

      // Auto Scaling removes instances: the idle blue group scaled to 0 over the wire leaves the
      // target group, HAProxy puts its servers in maintenance, and the live green is untouched.
      const autoScaling = new AutoScalingClient({ ...world.clientConfig() });
      await autoScaling.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: 'shop-blue', MinSize: 0, DesiredCapacity: 0 }));
      autoScaling.destroy();
      await world.settled();
      await sleep(600);
      expect(world.account.instancesOf('shop-blue')).toEqual([]);
      expect(Object.values(world.serverStates('blue'))).toEqual(['MAINT', 'MAINT']);
      expect(await world.whoAnswers()).toMatchObject({ status: 200, color: 'green' });
      await sleep(500);
    } catch (error) {
      await load.stop();
      const last = steps.at(-1);
      throw new Error(`${String(error)}\nlast step ${last?.what}:\n${last?.run.stdout.slice(-4000)}`);
    }
    const counts = await load.stop();
    // Only the faulty release failed requests, and only while its step was exposed.
    expect(Object.keys(counts.serverErrorsByColor)).toEqual(counts.serverErrors > 0 ? ['blue'] : []);
    expect({ ...failures(counts), serverErrors: 0, failed: counts.failed - counts.serverErrors }).toEqual({ failed: 0, connectionErrors: 0, serverErrors: 0 });
    expect(counts.requests).toBeGreaterThan(100);
    expect(counts.byColor.green).toBeGreaterThan(0);
    expect(world.wire.violations).toEqual([]);
  }, 900_000);

  // After the git segment (green live with r2, the blue group scaled in to 0), release r5 goes
  // through S3 to the idle color's instances, launched anew: the seed's way, instances download a tarball.
  it('ships a release through S3: one upload, reused by a rerun, each instance downloading it through a presigned URL that no log, state or summary shows; switch and rollback with no failed request', async () => {
    const s3 = world.s3;
    if (!s3) throw new Error('the world has no S3');
    const load = new ColorLoad(world.listenerUrl, 4);
    const act = async (mode: string, extra: Record<string, string> = {}) => runBundle(world.inputs({ mode, ...extra }), world.env());
    const steps: { what: string; run: BundleRun }[] = [];
    const requestsOf = (from: number) => s3.requests.slice(from).map((r) => `${r.method} ${r.key} ${r.auth} ${r.status}`);
    const live = await world.whoAnswers();
    expect(live).toMatchObject({ status: 200, color: expect.stringMatching(/^(blue|green)$/) });
    const target = otherColor(live.color as Color);
    try {
      await sleep(500);
      world.addRelease('r5');
      const before = s3.requests.length;
      const deployed = await act('deploy', world.s3Inputs('r5'));
      steps.push({ what: 'deploy r5 through S3', run: deployed });
      expect([errorsOf(deployed), deployed.code]).toEqual([[], 0]);
      expect(deployed.outputs).toMatchObject({ result: 'success', 'target-color': target, 'live-color': live.color });
      expect(world.account.instancesOf(`shop-${target}`).map((i) => i.lifecycle)).toEqual(['InService', 'InService']);
      // The object is the release packed from release-path, keyed by its SHA-256, and uploaded once
      // (header-signed); each instance fetched it once with the presigned URL (query-signed).
      const [key] = [...s3.objects.keys()]
        .filter((id) => id.startsWith(`${RELEASE_BUCKET}/releases/shop/r5/`))
        .map((id) => id.slice(RELEASE_BUCKET.length + 1));
      const object = key === undefined ? undefined : s3.object(RELEASE_BUCKET, key);
      expect(object?.body.equals(await releaseTarball(world.releaseDirectory('r5')))).toBe(true);
      expect(key).toBe(
        `releases/shop/r5/${createHash('sha256')
          .update(object?.body ?? '')
          .digest('hex')}.tar.gz`,
      );
      expect(requestsOf(before)).toEqual([`HEAD ${key} header 404`, `PUT ${key} header 200`, `GET ${key} query 200`, `GET ${key} query 200`]);
      expect(await world.whoAnswers(world.testListenerUrl)).toMatchObject({ status: 200, color: target, release: 'r5' });

      // A rerun of the same deploy (same files): S3 already holds the object, nothing is uploaded.
      const rerunFrom = s3.requests.length;
      const rerun = await act('deploy', world.s3Inputs('r5'));
      steps.push({ what: 'deploy r5 through S3 again', run: rerun });
      expect([errorsOf(rerun), rerun.outputs['target-color']]).toEqual([[], target]);
      expect(rerun.stdout).toContain(`s3://${RELEASE_BUCKET}/${key} already holds this release`);
      expect(requestsOf(rerunFrom)).toEqual([`HEAD ${key} header 200`, `GET ${key} query 200`, `GET ${key} query 200`]);

      const switched = await act('switch');
      steps.push({ what: `switch to ${target}`, run: switched });
      expect([errorsOf(switched), switched.outputs['live-color']]).toEqual([[], target]);
      expect(world.account.weightsOf(LISTENER_ARN)).toEqual({ [`shop-${target}`]: 100, [`shop-${live.color}`]: 0 });
      await world.settled();
      expect(await world.whoAnswers()).toMatchObject({ status: 200, color: target, release: 'r5' });

      const back = await act('rollback');
      steps.push({ what: 'rollback', run: back });
      expect([errorsOf(back), back.outputs['live-color']]).toEqual([[], live.color]);
      await world.settled();
      expect(await world.whoAnswers()).toEqual(live);
      await sleep(500);
    } catch (error) {
      await load.stop();
      const last = steps.at(-1);
      throw new Error(`${String(error)}\nlast step ${last?.what}:\n${last?.run.stdout.slice(-4000)}`);
    }
    const counts = await load.stop();
    expect(failures(counts)).toEqual({ failed: 0, connectionErrors: 0, serverErrors: 0 });
    expect(counts.byColor[target]).toBeGreaterThan(0);
    // The presigned URL is a credential: the deploys asked the runner to mask it, and it shows
    // nowhere else (log lines, the summary, the outputs, the state saved for the post step).
    for (const { what, run } of steps.slice(0, 2))
      expect([what, run.stdout.split('\n').some((line) => line.startsWith('::add-mask::') && line.includes('X-Amz-Signature='))]).toEqual([what, true]);
    const shown = steps.map(({ what, run }) => ({
      what,
      where: [
        run.stdout
          .split('\n')
          .filter((line) => !line.startsWith('::add-mask::'))
          .join('\n'),
        run.summary,
        JSON.stringify(run.outputs),
        run.state,
      ].filter((text) => /X-Amz-(Signature|Credential)/.test(text)).length,
    }));
    expect(shown).toEqual(steps.map(({ what }) => ({ what, where: 0 })));
    expect(s3.authFailures).toEqual([]);
    expect(world.wire.violations).toEqual([]);
  }, 600_000);
});
