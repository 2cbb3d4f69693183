import { afterAll, describe, expect, it } from '@jest/globals';
import { cpSync, mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inputsWithToken, runnerEnv, useGitHubApi } from './support/github-api.js';
import { EXAMPLE_APP_DIR, MemoryWorld } from '../lab/memory-provider.js';
import { errorLines, runAction } from './support/action.js';

const { api, url } = useGitHubApi('127.0.21.1');
const scratch = mkdtempSync(join(tmpdir(), 'bgp-preflight-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let count = 0;
/** A workspace as a job would have it: empty (no checkout step), or holding the example app without some files. */
function workspace(options: { app?: boolean; without?: string[]; gitOnly?: boolean } = {}): string {
  const dir = join(scratch, `ws-${++count}`);
  mkdirSync(dir);
  if (options.gitOnly) mkdirSync(join(dir, '.git'));
  if (options.app) cpSync(EXAMPLE_APP_DIR, dir, { recursive: true });
  for (const file of options.without ?? []) unlinkSync(join(dir, file));
  return dir;
}

/** A deploy from `dir` as the workspace (release-path `.`), with state and lock on. */
async function deployFrom(dir: string, extra: Record<string, string> = {}) {
  const world = new MemoryWorld();
  const result = await runAction(inputsWithToken({ mode: 'deploy', 'release-path': '.', ...extra }), world, runnerEnv(url(), { GITHUB_WORKSPACE: dir }));
  return { world, result };
}

/** Nothing changed: no request to GitHub (no state read, no lock), no release on any host, no traffic move. */
function expectNothingTouched(world: MemoryWorld): void {
  expect(api.requests).toEqual([]);
  expect([...world.releases.values()]).toEqual(['r0', 'r0', 'r0', 'r0']);
  expect(world.moves).toEqual([]);
}

describe('preflight of a release from the runner, before state, lock or any host', () => {
  it.each([
    [
      'an empty workspace (no checkout step)',
      {},
      {},
      /^::error::Input 'release-path': '.*\/ws-\d+' is empty, so there is no release to upload\. Add an `actions\/checkout` step before this one/,
    ],
    ['a workspace with only .git', { gitOnly: true }, {}, /is empty, so there is no release to upload\. Add an `actions\/checkout` step/],
    [
      'a release without its psgi-file',
      { app: true, without: ['app.psgi'] },
      {},
      /^::error::Input 'psgi-file': 'app\.psgi' is not in the release directory .*\. Add an `actions\/checkout` step before this one .*or set psgi-file/,
    ],
    [
      'a psgi-file the release does not have',
      { app: true },
      { 'psgi-file': 'bin/app.psgi' },
      /^::error::Input 'psgi-file': 'bin\/app\.psgi' is not in the release directory/,
    ],
    [
      'a snapshot without its cpanfile (default install: carton --deployment)',
      { app: true, without: ['cpanfile'] },
      {},
      /^::error::Input 'release-path': '.*' has no cpanfile, which carton install --deployment needs\. Add an `actions\/checkout` step before this one .*; commit cpanfile with the app$/,
    ],
    [
      'carton install --deployment without cpanfile.snapshot',
      { app: true, without: ['cpanfile.snapshot'] },
      { 'install-command': 'carton install --deployment' },
      /has no cpanfile\.snapshot, which carton install --deployment needs\. Add an `actions\/checkout` step.*, or change install-command$/,
    ],
    [
      'cpanm --installdeps without a cpanfile',
      { app: true, without: ['cpanfile', 'cpanfile.snapshot'] },
      { 'install-command': 'cpanm --installdeps -L local .' },
      /has no cpanfile, which cpanm --installdeps needs/,
    ],
  ])('refuses %s in one line naming actions/checkout, and changes nothing', async (_case, layout, extra, message) => {
    const { world, result } = await deployFrom(workspace(layout), extra);
    expect(result.failed).toBe(true);
    const errors = errorLines(result.log);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(message);
    expect(errors[0]).toContain('actions/checkout');
    expectNothingTouched(world);
    expect(result.outputs.result).toBe('failure');
  });

  it('refuses a release-path that does not exist', async () => {
    const { world, result } = await deployFrom(workspace(), { 'release-path': 'app' });
    expect(errorLines(result.log)).toEqual([
      expect.stringMatching(/^::error::Input 'release-path': '.*\/ws-\d+\/app' is not a directory on the runner\. Add an `actions\/checkout` step/),
    ]);
    expectNothingTouched(world);
  });

  it('lets a checked-out app through, and one without dependencies to install', async () => {
    const app = await deployFrom(workspace({ app: true }));
    expect(errorLines(app.result.log)).toEqual([]);
    const plain = workspace();
    writeFileSync(join(plain, 'app.psgi'), 'sub { [200, [], ["ok"]] }\n');
    const noDeps = await deployFrom(plain);
    expect(errorLines(noDeps.result.log)).toEqual([]);
    expect(noDeps.world.releases.get('green-1')).toBe('0123456789abcdef0123456789abcdef01234567');
  });

  it('does not look at the runner for a switch, nor for a release fetched with git', async () => {
    const switched = await deployFrom(workspace(), { mode: 'switch' });
    expect(errorLines(switched.result.log)).toEqual([]);
    const git = await deployFrom(workspace(), { 'release-repository': 'git@github.com:acme/shop.git', 'release-ref': 'main' });
    expect(errorLines(git.result.log)).toEqual([]);
  });
});
