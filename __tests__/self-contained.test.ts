/**
 * A fresh clone has nothing beside it: no test, lab, script or benchmark may read a file outside the
 * repository. Two checks: a scan of the sources for paths that leave the repository, and the jest
 * read guard (support/read-guard.ts, a setup file) that makes such a read throw while tests run.
 */
import { describe, expect, it } from '@jest/globals';
import { createReadStream, readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPOSITORY, refusal } from './support/read-guard.js';

const SCANNED = ['src', '__tests__', 'lab', 'scripts', 'bench'];
/** The directory the project copies its contracts from, as seen from the repository root. */
const SIBLING_SOURCE = ['..', 'shared'].join('/');
const SYSTEM_ROOTS = ['/tmp', '/etc', '/usr', '/proc', '/sys', '/dev', '/var', '/run', '/lib', '/bin', '/sbin', '/opt'];
const READERS = 'readFileSync|readFile|existsSync|createReadStream|readdirSync|readdir|openSync|open|statSync|stat|copyFileSync|cpSync|opendir|opendirSync';
const LITERAL = String.raw`'([^'\n]*)'|"([^"\n]*)"|` + '`([^`$\\n]*)`';

function sourceFiles(dir: string): string[] {
  return readdirSync(join(REPOSITORY, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.(ts|mjs|js|cjs|sh|pl|psgi)$/.test(entry.name))
    .map((entry) => relative(REPOSITORY, join(entry.parentPath, entry.name)));
}

const outside = (absolute: string) => {
  const rel = relative(REPOSITORY, absolute);
  return rel === '..' || rel.startsWith('../') || isAbsolute(rel);
};
const system = (absolute: string) => SYSTEM_ROOTS.some((root) => absolute === root || absolute.startsWith(`${root}/`));

/**
 * Places in a source file (path relative to the repository) that name a path outside it: the
 * sibling source directory anywhere; a module specifier, `new URL(…, import.meta.url)` or
 * `join/resolve(import.meta.dirname, …)` that climbs out of the repository; a file read with a
 * literal path outside it (relative paths resolve from the repository root, where npm runs).
 */
export function pathsLeavingRepository(file: string, text: string): string[] {
  const found: string[] = [];
  const here = dirname(join(REPOSITORY, file));
  const report = (index: number, what: string) => found.push(`${file}:${text.slice(0, index).split('\n').length}: ${what}`);
  const literal = (m: RegExpExecArray, from: number) => m[from] ?? m[from + 1] ?? m[from + 2] ?? '';

  for (let index = text.indexOf(SIBLING_SOURCE); index >= 0; index = text.indexOf(SIBLING_SOURCE, index + 1)) {
    report(index, `names ${SIBLING_SOURCE}, which a clone does not have`);
  }
  const specifiers = new RegExp(String.raw`(?:\bfrom\s+|\bimport\s*\(\s*|\brequire\s*\(\s*|new URL\(\s*)(?:${LITERAL})`, 'g');
  for (let m; (m = specifiers.exec(text));) {
    const target = literal(m, 1);
    if (target.startsWith('.') && outside(resolve(here, target))) report(m.index, `${target} leaves the repository`);
  }
  const joins = new RegExp(String.raw`\b(?:join|resolve)\(\s*(?:import\.meta\.dirname|__dirname)((?:\s*,\s*(?:${LITERAL}))+)`, 'g');
  for (let m; (m = joins.exec(text));) {
    const parts = [...(m[1] as string).matchAll(new RegExp(LITERAL, 'g'))].map((p) => p[1] ?? p[2] ?? p[3] ?? '');
    if (outside(resolve(here, ...parts))) report(m.index, `${parts.join('/')} from the file's directory leaves the repository`);
  }
  const reads = new RegExp(String.raw`\b(?:${READERS})\(\s*(?:${LITERAL})`, 'g');
  for (let m; (m = reads.exec(text));) {
    const target = literal(m, 1);
    const absolute = resolve(REPOSITORY, target);
    // The guard's rule beside the repository (a clone under /tmp still may not read its siblings); elsewhere only system files.
    if (target !== '' && outside(absolute) && (refusal(absolute) !== undefined || !system(absolute)))
      report(m.index, `reads ${target}, outside the repository`);
  }
  return found;
}

describe('the repository is self-contained', () => {
  it('has no source in src, __tests__, lab, scripts or bench that reads a path outside the repository', () => {
    const files = SCANNED.flatMap(sourceFiles);
    expect(files).toEqual(
      expect.arrayContaining(['src/main.ts', '__tests__/self-contained.test.ts', 'lab/haproxy.ts', 'lab/faulty-release.psgi', 'scripts/contracts.ts']),
    );
    expect(files.flatMap((file) => pathsLeavingRepository(file, readFileSync(join(REPOSITORY, file), 'utf8')))).toEqual([]);
  });

  it('the scan finds each way a path can leave the repository', () => {
    // Built from parts, so the scan of this very file does not find them.
    const [up, far, climb] = ['../', '/work/elsewhere/fixture.txt', "'..', ".repeat(3)];
    const sources = [
      `const spec = readFileSync('${up}${SIBLING_SOURCE.slice(3)}/openapi/x.json');`,
      `const spec = new URL('${up.repeat(3)}elsewhere/x.json', import.meta.url);`,
      `import data from '${up.repeat(3)}elsewhere/data.js';`,
      `const dir = join(import.meta.dirname, ${climb}'elsewhere');`,
      `const text = readFileSync('${far}', 'utf8');`,
    ];
    expect(sources.map((source) => pathsLeavingRepository('__tests__/support/x.ts', source).length)).toEqual([2, 1, 1, 1, 1]);
    // Inside the repository, or a system file: fine.
    const fine = [
      `new URL('${up.repeat(2)}contracts/a.json', import.meta.url)`,
      `readFileSync('/etc/hostname')`,
      `from '${up}src/run.js'`,
      `join(import.meta.dirname, '..', 'x')`,
    ];
    expect(fine.flatMap((source) => pathsLeavingRepository('__tests__/support/x.ts', source))).toEqual([]);
  });

  describe('the read guard (a jest setup file)', () => {
    const beside = join(dirname(REPOSITORY), 'not-in-the-repository', 'fixture.json');

    it('makes every way of reading a file beside the repository throw, naming the path', async () => {
      expect(() => readFileSync(beside)).toThrow(/read-guard: .*not-in-the-repository\/fixture\.json is outside the repository/);
      expect(() => readFileSync(join(REPOSITORY, ...SIBLING_SOURCE.split('/'), 'x.json'))).toThrow(/outside the repository/);
      expect(() => readdirSync(dirname(REPOSITORY))).toThrow(/outside the repository/);
      expect(() => createReadStream(beside)).toThrow(/outside the repository/);
      await expect(readFile(new URL(`file://${beside}`))).rejects.toThrow(/outside the repository/);
      expect(refusal(beside)).toMatch(/keep the file in the repository/);
    });

    it('lets tests read the repository and the system', () => {
      expect(readFileSync(join(REPOSITORY, 'package.json'), 'utf8')).toContain('"name": "bluegreen-perl"');
      expect(readFileSync(fileURLToPath(new URL('../contracts/digitalocean/LICENSE', import.meta.url)), 'utf8')).toContain('Apache License');
      expect(readFileSync('/etc/passwd', 'utf8')).toContain('root:');
      expect(refusal(process.execPath)).toBeUndefined();
    });
  });
});
