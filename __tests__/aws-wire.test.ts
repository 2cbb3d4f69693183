import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ColorLoad, type LoadCounts } from '../bench/support/color-load.js';
import { AutoScalingClient, UpdateAutoScalingGroupCommand } from '@aws-sdk/client-auto-scaling';
import { sleep } from '../src/retry.js';
import { LISTENER_ARN, TEST_LISTENER_ARN } from '../lab/aws-account.js';
import { AwsWorld } from '../lab/aws-world.js';
import { parseOutputFile, runnerEnvironment } from '../lab/runner-files.js';

// provider: aws end to end on the wire, under load: the bundle (node dist/index.js, as a runner
// runs it) with ordinary AWS credentials in its environment and AWS_ENDPOINT_URL pointing at the
// local AWS (aws-world.ts): every ELBv2, Auto Scaling, SSM and CloudWatch request goes over HTTP
// to the double and is checked against AWS's models; instances are real sshd hosts the SSM commands
// run on (the host script fetching each release from a bare git repository); the listener is a real
// HAProxy whose weights follow ModifyListener and whose health checks are the target health. A
// steady keep-alive load at the listener counts every failed request.
// Loopback: hosts 127.0.43.10.. (blue pool .10 .11, green pool .12 .13), balancer 127.0.44.1, API 127.0.44.2.
//
// Release sources: git (`release-repository`) here. The S3 artifact (`release-bucket`, branch i-s3)
// joins as a second run over the same world: its S3 double's URL in `world.extraEnv.AWS_ENDPOINT_URL_S3`,
// its inputs through `world.inputs({ 'release-bucket': ..., 'release-repository': '' })`.

const BUNDLE = fileURLToPath(new URL('../dist/index.js', import.meta.url));

interface BundleRun {
  code: number | null;
  stdout: string;
  outputs: Record<string, string>;
  summary: string;
}

/** The bundle as a runner runs it, asynchronously: the double answers from this process meanwhile. */
async function runBundle(inputs: Record<string, string>, env: Record<string, string>): Promise<BundleRun> {
  const dir = mkdtempSync(join(tmpdir(), 'bgp-aws-run-'));
  const files = { summaryFile: join(dir, 'summary.md'), outputFile: join(dir, 'output.txt'), workspace: dir, temp: dir };
  writeFileSync(files.summaryFile, '');
  writeFileSync(files.outputFile, '');
  try {
    const child = spawn(process.execPath, [BUNDLE], { env: { ...runnerEnvironment(inputs, files), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    return { code, stdout, outputs: parseOutputFile(readFileSync(files.outputFile, 'utf8')), summary: readFileSync(files.summaryFile, 'utf8') };
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
  }, 300_000);

  afterAll(async () => {
    await world?.stop();
  }, 60_000);

  const failures = (counts: LoadCounts) => ({ failed: counts.failed, connectionErrors: counts.connectionErrors, serverErrors: counts.serverErrors });

  it('deploys, switches, deploys, catches a failing progressive switch and moves back, rolls back, and scales the idle group in: no failed request but the failing step\'s, no request breaking the models', async () => {
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

      const stepped = await act('switch', { 'traffic-steps': '10,50,100', 'step-pause': '2', 'public-url': world.listenerUrl, 'validation-path': '/', 'validation-requests': '50' });
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
});
