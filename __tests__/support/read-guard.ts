/**
 * Jest setup file: reading a file beside the repository (under its parent directory, outside the
 * repository) throws. A user's clone has nothing beside it, so a test that reads such a file passes
 * here and fails there; this makes it fail here too. System locations (/tmp, /etc, /usr, /proc, node's
 * own files) stay readable, unless they hold the repository itself, where they count as "beside" it.
 *
 * It patches node's fs object in place (jest hands every test the real one) before the test file
 * imports it, so a test's `import { readFileSync } from 'node:fs'` gets the guarded function, and so
 * does every module the test loads: src/, the local world in lab/, bench/support/.
 */
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPOSITORY = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const BESIDE = dirname(REPOSITORY);
const SYSTEM = [
  '/tmp',
  tmpdir(),
  '/etc',
  '/usr',
  '/proc',
  '/sys',
  '/dev',
  '/var',
  '/run',
  '/lib',
  '/lib64',
  '/bin',
  '/sbin',
  '/opt',
  dirname(dirname(process.execPath)),
];

const within = (path: string, dir: string) => {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
};

/** Why reading the path is refused, or undefined when it may be read. */
export function refusal(path: string): string | undefined {
  const absolute = resolve(path);
  if (!within(absolute, BESIDE) || within(absolute, REPOSITORY)) return undefined;
  // A system directory at or below the parent (a clone in /tmp, or at /) stays readable.
  if (SYSTEM.some((dir) => within(dir, BESIDE) && within(absolute, dir))) return undefined;
  return `read-guard: ${absolute} is outside the repository ${REPOSITORY}: a fresh clone has nothing beside it, so keep the file in the repository (with its license) and read it there`;
}

function pathOf(target: unknown): string | undefined {
  if (typeof target === 'string') return target;
  if (Buffer.isBuffer(target)) return target.toString();
  if (target instanceof URL || (target && typeof target === 'object' && (target as URL).protocol === 'file:' && typeof (target as URL).href === 'string')) {
    return fileURLToPath(target as URL);
  }
  return undefined; // a file descriptor or handle: the open was checked
}

const GUARDED = Symbol.for('bluegreen-perl.read-guard');
type Patchable = Record<string, unknown>;

function guard(owner: Patchable, names: string[], asPromise: boolean): void {
  for (const name of names) {
    const original = owner[name] as ((...args: unknown[]) => unknown) & { [GUARDED]?: true };
    if (typeof original !== 'function' || original[GUARDED]) continue;
    const guarded = Object.assign(
      function (this: unknown, ...args: unknown[]) {
        const path = pathOf(args[0]);
        const reason = path === undefined ? undefined : refusal(path);
        if (reason) {
          const error = Object.assign(new Error(reason), { code: 'EREADGUARD', path });
          if (asPromise) return Promise.reject(error);
          throw error;
        }
        return original.apply(this, args);
      },
      { [GUARDED]: true as const },
    );
    owner[name] = guarded;
  }
}

const fs = createRequire(import.meta.url)('node:fs') as Patchable & { promises: Patchable };
guard(
  fs,
  [
    'readFileSync',
    'readFile',
    'openSync',
    'open',
    'createReadStream',
    'readdirSync',
    'readdir',
    'opendirSync',
    'opendir',
    'copyFileSync',
    'copyFile',
    'cpSync',
    'cp',
  ],
  false,
);
guard(fs.promises, ['readFile', 'open', 'readdir', 'opendir', 'copyFile', 'cp'], true);
