/**
 * The local world (lab/) is part of the product, not a test helper the demo borrows: the demo and
 * the benchmarks load it under plain Node, its README says what each piece is, and none of it
 * reaches the bundle users run.
 */
import { describe, expect, it } from '@jest/globals';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { REPOSITORY } from './support/read-guard.js';

const SPECIFIER = /(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+|new URL\(\s*)'([^'\n]+)'/g;

/** What a source file loads: files of the repository (relative to it) and packages. */
function importsOf(file: string): { files: string[]; packages: string[] } {
  const files: string[] = [];
  const packages: string[] = [];
  for (const [, specifier] of readFileSync(join(REPOSITORY, file), 'utf8').matchAll(SPECIFIER)) {
    if (!specifier) continue;
    if (!specifier.startsWith('.')) {
      packages.push(specifier);
      continue;
    }
    const target = resolve(REPOSITORY, dirname(file), specifier);
    // A `.js` specifier names the `.ts` source beside it (NodeNext); `new URL` may name any file.
    const source = [target.replace(/\.js$/, '.ts'), target].find((path) => /\.(ts|mjs|js)$/.test(path) && existsSync(path));
    if (source) files.push(relative(REPOSITORY, source));
  }
  return { files, packages };
}

/** Every repository file `entries` load, directly or not, with the packages each one imports. */
function loadedFrom(entries: string[]): Map<string, string[]> {
  const loaded = new Map<string, string[]>();
  const pending = [...entries];
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (loaded.has(file)) continue;
    const { files, packages } = importsOf(file);
    loaded.set(file, packages);
    pending.push(...files);
  }
  return loaded;
}

const sourcesIn = (dir: string) =>
  readdirSync(join(REPOSITORY, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.ts$/.test(entry.name))
    .map((entry) => relative(REPOSITORY, join(entry.parentPath, entry.name)));

describe('the local world in lab/', () => {
  it('loads under plain Node: nothing the demo or a benchmark imports reaches jest or __tests__/', () => {
    const loaded = loadedFrom(['scripts/demo.ts', ...sourcesIn('bench')]);
    const files = [...loaded.keys()];
    expect(files).toEqual(expect.arrayContaining(['lab/local-world.ts', 'lab/aws-world.ts', 'lab/haproxy.ts', 'lab/sshd.ts', 'lab/runner-files.ts']));
    expect(files.filter((file) => file.startsWith('__tests__/'))).toEqual([]);
    expect(files.filter((file) => loaded.get(file)?.some((name) => name === 'jest' || name.startsWith('@jest/')))).toEqual([]);
  });

  it('is not part of the action: src/ imports nothing from lab/ or __tests__/', () => {
    const loaded = loadedFrom(['src/main.ts', 'src/post.ts']);
    expect([...loaded.keys()].filter((file) => !file.startsWith('src/'))).toEqual([]);
  });

  it('is not in the bundle: every source of dist/ is from src/ or a package', () => {
    const maps = readdirSync(join(REPOSITORY, 'dist'), { recursive: true, encoding: 'utf8' }).filter((name) => name.endsWith('.js.map'));
    expect(maps).toContain('index.js.map');
    const sources = maps.flatMap((map) => (JSON.parse(readFileSync(join(REPOSITORY, 'dist', map), 'utf8')) as { sources: string[] }).sources);
    // The repository's own files appear as `.././<path>`; webpack's runtime and node's modules otherwise.
    const ownFiles = sources.flatMap((source) => /^(?:\.\.\/)*\.\/(.+)$/.exec(source)?.[1] ?? []);
    expect(ownFiles).toEqual(expect.arrayContaining(['src/main.ts', 'src/post.ts']));
    expect(ownFiles.filter((file) => !file.startsWith('src/') && !file.startsWith('node_modules/'))).toEqual([]);
  });

  it('has a README that names every file in lab/ and only files that are there', () => {
    const readme = readFileSync(join(REPOSITORY, 'lab', 'README.md'), 'utf8');
    const present = readdirSync(join(REPOSITORY, 'lab')).filter((name) => name !== 'README.md');
    const named = new Set([...readme.matchAll(/`([\w.-]+\.(?:ts|psgi))`/g)].map((m) => m[1] as string));
    expect(present.filter((name) => !named.has(name))).toEqual([]);
    // Files of other folders the README names by path (`__tests__/support/action.ts`) are not in this set.
    expect([...named].filter((name) => !present.includes(name))).toEqual([]);
  });
});
