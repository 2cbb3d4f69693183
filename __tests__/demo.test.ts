import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { NODE24, versionOf } from './support/node24.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/** `npm run demo` without the package setup (done once per machine): the demo script, its output and exit code. */
function runDemo(env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
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
