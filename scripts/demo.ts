/**
 * The demo: runs the action's own bundle as a runner would, on loopback hosts, and prints the job
 * summary it wrote. This version shows the plan of a deploy (a dry run); the full local
 * blue/green world (real sshd, Starman, HAProxy) comes with the ssh provider.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bundle = fileURLToPath(new URL('../dist/index.js', import.meta.url));

/** The summary's HTML as plain text lines, for a terminal. */
export function summaryAsText(html: string): string {
  return html
    .replace(/<h\d>(.*?)<\/h\d>/g, '\n$1\n')
    .replace(/<\/tr>/g, '\n')
    .replace(/<\/t[dh]>/g, ' | ')
    .replace(/<li>/g, '- ')
    .replace(/<[^>]+>/g, '')
    .replace(/&#(\d+);/g, (_m, code: string) => String.fromCharCode(Number(code)))
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

function runStep(name: string, inputs: Record<string, string>): number {
  const dir = mkdtempSync(join(tmpdir(), 'bgp-demo-'));
  const summary = join(dir, 'summary.md');
  const outputs = join(dir, 'outputs.txt');
  writeFileSync(summary, '');
  writeFileSync(outputs, '');
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, GITHUB_SHA: 'demo-release-1', GITHUB_STEP_SUMMARY: summary, GITHUB_OUTPUT: outputs };
  for (const [key, value] of Object.entries(inputs)) env[`INPUT_${key.toUpperCase()}`] = value;
  console.log(`\n=== ${name} ===`);
  const child = spawnSync(process.execPath, [bundle], { env, stdio: 'inherit', timeout: 300_000 });
  console.log(`\n--- job summary ---\n${summaryAsText(readFileSync(summary, 'utf8'))}`);
  rmSync(dir, { recursive: true, force: true });
  return child.status ?? 1;
}

const status = runStep('deploy (dry run)', {
  mode: 'deploy',
  provider: 'ssh',
  'app-name': 'demo',
  'dry-run': 'true',
  'blue-hosts': '127.0.0.11',
  'green-hosts': '127.0.0.21',
});
process.exit(status);
