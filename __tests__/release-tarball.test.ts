import { afterAll, describe, expect, it, jest } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { releaseTarball } from '../src/hosts/releaser.js';
import { readSettings } from '../src/settings.js';

const scratch = mkdtempSync(join(tmpdir(), 'bgp-tarball-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A workspace after a checkout and the steps a workflow often runs before a deploy. */
function workspace(files: Record<string, string>): string {
  const dir = mkdtempSync(join(scratch, 'ws-'));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

/** Packs the workspace as a deploy does, and lists and unpacks the tarball with tar, as a host does. */
async function pack(dir: string, exclude: string[] = []): Promise<{ names: string[]; unpacked: string; log: string }> {
  const printed: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (printed.push(String(chunk)), true));
  let tarball: Buffer;
  try {
    tarball = await releaseTarball(dir, exclude);
  } finally {
    spy.mockRestore();
  }
  const file = `${dir}.tar.gz`;
  writeFileSync(file, tarball);
  const names = execFileSync('tar', ['-tzf', file], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .map((name) => name.replace(/^\.\//, '').replace(/\/$/, ''))
    .filter((name) => name !== '.' && name !== '');
  const unpacked = `${dir}.out`;
  mkdirSync(unpacked);
  execFileSync('tar', ['--no-same-owner', '-xzf', file, '-C', unpacked]);
  return { names: names.sort(), unpacked, log: printed.join('') };
}

const APP = {
  'app.psgi': 'sub { [200, [], ["ok"]] }\n',
  'lib/Shop.pm': 'package Shop; 1;\n',
  cpanfile: "requires 'Plack';\n",
  'public/app.js': 'console.log(1)\n',
};

describe('the release tarball', () => {
  it('leaves out the credential files earlier steps leave in a workspace, and keeps the app whole', async () => {
    const dir = workspace({
      ...APP,
      '.git/config': '[core]\n',
      'local/lib/perl5/Foo.pm': '1;\n',
      '.git-credentials': 'https://x-access-token:ghs_secret@github.com\n',
      '.netrc': 'machine github.com login x password ghs_secret\n',
      '.npmrc': '//registry.npmjs.org/:_authToken=npm_secret\n',
      '.pypirc': '[pypi]\npassword = pypi-secret\n',
      '.env': 'DATABASE_URL=postgres://u:secret@db/shop\n',
      'config/.env': 'SECRET=1\n',
      'gha-creds-1a2b3c.json': '{"type":"external_account"}\n',
      '.aws/credentials': '[default]\naws_secret_access_key=secret\n',
      '.ssh/id_ed25519': 'PRIVATE\n',
      id_rsa: 'PRIVATE\n',
      'id_rsa.pub': 'ssh-rsa AAAA\n',
      'config/server.pem': 'PRIVATE\n',
      'config/server.key': 'PRIVATE\n',
      'config/app.yml': 'name: shop\n',
      'lib/local/Keep.pm': '1;\n',
      'docs/.git': 'not the top .git\n',
    });
    symlinkSync('lib/Shop.pm', join(dir, 'Shop.pm'));
    const { names, unpacked, log } = await pack(dir);
    expect(names).toEqual([
      'Shop.pm',
      'app.psgi',
      'config',
      'config/app.yml',
      'cpanfile',
      'docs',
      'docs/.git',
      'lib',
      'lib/Shop.pm',
      'lib/local',
      'lib/local/Keep.pm',
      'public',
      'public/app.js',
    ]);
    expect(readFileSync(join(unpacked, 'app.psgi'), 'utf8')).toBe(APP['app.psgi']);
    expect(execFileSync('readlink', [join(unpacked, 'Shop.pm')], { encoding: 'utf8' }).trim()).toBe('lib/Shop.pm');
    expect(log).toContain(
      'Left out of the release (credential files and release-exclude): .aws/, .env, .git-credentials, .netrc, .npmrc, .pypirc, .ssh/, config/.env, config/server.key, config/server.pem, gha-creds-1a2b3c.json, id_rsa, id_rsa.pub\n',
    );
    expect(log).not.toContain('secret');
  });

  it('takes more patterns from release-exclude, and keeps a default one back with !pattern', async () => {
    const dir = workspace({
      ...APP,
      'config/ca.pem': 'PUBLIC CA\n',
      'config/server.pem': 'PRIVATE\n',
      'tmp/cache/a': 'x\n',
      'notes.md': 'x\n',
      'assets/src/big.psd': 'x\n',
      '.npmrc': 'engine-strict=true\n',
    });
    const { names } = await pack(dir, ['!config/ca.pem', 'tmp/', '*.md', 'assets/**/*.psd', '!.npmrc']);
    expect(names).toEqual([
      '.npmrc',
      'app.psgi',
      'assets',
      'assets/src',
      'config',
      'config/ca.pem',
      'cpanfile',
      'lib',
      'lib/Shop.pm',
      'public',
      'public/app.js',
    ]);
  });

  it('packs names with spaces and newlines intact', async () => {
    const dir = workspace({ ...APP, 'public/a b.txt': '1\n', 'public/line\nbreak.txt': '2\n' });
    const { unpacked } = await pack(dir);
    expect(readFileSync(join(unpacked, 'public/a b.txt'), 'utf8')).toBe('1\n');
    expect(readFileSync(join(unpacked, 'public/line\nbreak.txt'), 'utf8')).toBe('2\n');
  });
});

describe('the release-exclude input', () => {
  const base = { mode: 'deploy', provider: 'ssh', 'app-name': 'shop', 'blue-hosts': '10.0.0.11', 'green-hosts': '10.0.0.21' };
  const read = (extra: Record<string, string>) => () =>
    readSettings((name) => ({ ...base, ...extra })[name as keyof typeof base] ?? '', { GITHUB_SHA: 'abc', GITHUB_WORKSPACE: '/w' });

  it('is read one pattern per line or comma-separated', () => {
    expect(read({ 'release-exclude': 'tmp/\n*.md, !config/ca.pem' })().hostRelease.source).toEqual({
      kind: 'upload',
      path: '/w',
      exclude: ['tmp/', '*.md', '!config/ca.pem'],
    });
  });

  it('refuses an empty pattern, and a list given with a git release', () => {
    expect(read({ 'release-exclude': '!' })).toThrow("Input 'release-exclude': '!' is not a pattern. Write one file name, path or glob per line");
    expect(read({ 'release-exclude': '*.md', 'release-repository': 'git@github.com:acme/shop.git', 'release-ref': 'main' })).toThrow(
      "Input 'release-exclude': applies to a release uploaded from release-path, but release-repository is set (each host fetches with git). Remove release-exclude, or release-repository to upload release-path",
    );
  });
});
