import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE24, versionOf } from './support/node24.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/** `npm run demo` without the package setup (done once per machine): the demo script, its output and exit code. */
function runDemo(env: NodeJS.ProcessEnv, args: string[] = []): Promise<{ code: number | null; output: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', ...args], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    // Bounded: SIGINT lets the demo clean up its world; a second one, later, ends it.
    const stop = setTimeout(() => child.kill('SIGINT'), 400_000);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(stop);
      done({ code, output });
    });
  });
}

describe('the demo, with the bundle on Node 24 (the runtime action.yml declares)', () => {
  it('deploys, switches, deploys, switches and rolls back through the bundle, each answered by the right color', async () => {
    const { code, output } = await runDemo({ BLUEGREEN_NODE: NODE24 });
    expect([code, code === 0 ? '' : output.slice(-4000)]).toEqual([0, '']);
    expect(output).toContain(`running the action's bundle ${root}dist/index.js on node ${versionOf(NODE24)} (${NODE24})`);
    expect(versionOf(NODE24)).toMatch(/^v24\./);
    const answers = [...output.matchAll(/^who answers: (.*)$/gm)].map((m) => m[1]);
    expect(answers).toEqual([
      expect.stringMatching(/^GET http:\/\/127\.0\.7\.1:8080\/ -> 503\b/),
      'GET http://127.0.7.1:8080/ -> 200 from blue (release demo-1)',
      'GET http://127.0.7.1:8080/ -> 200 from blue (release demo-1)',
      'GET http://127.0.7.1:8080/ -> 200 from green (release demo-2)',
      'GET http://127.0.7.1:8080/ -> 200 from blue (release demo-1)',
    ]);
    expect(output).toContain('Done: deploy, switch, deploy, switch and rollback, each through the action itself.');
    expect(output).toContain('Clean.');
  }, 420_000);
});

/** Processes still running whose command line, environment or working directory names `dir`: ones a run that had `dir` as its TMPDIR left behind. */
function processesUsing(dir: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
      const cwd = readlinkSync(`/proc/${pid}/cwd`);
      if (cmdline.includes(dir) || environ.includes(dir) || cwd.startsWith(dir)) found.push(`${pid} ${cmdline}`);
    } catch {
      // ended meanwhile, or a kernel thread
    }
  }
  return found;
}

describe('the AWS demo with releases through S3 (npm run demo -- aws s3)', () => {
  it('deploys to green, switches and rolls back through the bundle on the local AWS, each answered by the right color, and leaves nothing behind', async () => {
    // A temp dir of the demo's own (as /tmp is: everyone may traverse it), so what it leaves is easy to see.
    const temp = mkdtempSync(join(tmpdir(), 'bgp-demo-aws-'));
    chmodSync(temp, 0o1777);
    try {
      const { code, output } = await runDemo({ TMPDIR: temp }, ['aws', 's3']);
      expect([code, code === 0 ? '' : output.slice(-4000)]).toEqual([0, '']);
      expect(output).toContain(`running the action's bundle ${root}dist/index.js on node ${process.version}`);
      const answers = [...output.matchAll(/^(who answers|preview): +(.*)$/gm)].map((m) => `${m[1]}: ${m[2]}`);
      expect(answers).toEqual([
        'who answers: GET http://127.0.46.1:8080/ -> 200 from blue (release r1)',
        'preview: GET http://127.0.46.1:8081/ -> 200 from green (release r2)',
        'who answers: GET http://127.0.46.1:8080/ -> 200 from green (release r2)',
        'who answers: GET http://127.0.46.1:8080/ -> 200 from blue (release r1)',
      ]);
      // The release went through S3: one upload, a download per green instance; AWS's models held.
      expect(output).toMatch(
        /\nDone: deploy, switch and rollback through the action, \d+ AWS API requests, 0 breaking a model, 1 upload to S3 and 2 downloads through presigned URLs\.\n/,
      );
      expect(output).toContain('Clean.');
      // Nothing it started runs on, no temp dir or instance user of its own is left.
      expect(processesUsing(temp)).toEqual([]);
      // tsx-<uid> is tsx's compile cache (it keeps one in every TMPDIR), not the demo's.
      expect(readdirSync(temp).filter((name) => !/^tsx-\d+$/.test(name))).toEqual([]);
      expect(
        readFileSync('/etc/passwd', 'utf8')
          .split('\n')
          .filter((line) => line.includes(temp)),
      ).toEqual([]);
    } finally {
      rmSync(temp, { recursive: true, force: true });
    }
  }, 420_000);
});
