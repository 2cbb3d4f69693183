import { describe, expect, it } from '@jest/globals';
import { readFileSync, readdirSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The layering of src/, read from its import lines (static, `export … from`, side-effect and
 * dynamic `import()`, `import type` too: a type is a dependency of the design as much as a value).
 * The orchestration wing, src/run/, sits on top: only main.ts and post.ts, the entry points, may
 * import from it. Below it, the top-level folders and files of src/ form no cycle, so each layer
 * can be read, tested and replaced without the ones above it.
 */

const SRC = fileURLToPath(new URL('../src', import.meta.url));
const ENTRY_POINTS = new Set(['main.ts', 'post.ts']);
const RUN_WING = 'run/';

/** Every .ts file under src/, by its path relative to src/ with `/` separators. */
function readSources(dir = SRC): Map<string, string> {
  const files = new Map<string, string>();
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) for (const [name, text] of readSources(path)) files.set(name, text);
    else if (entry.name.endsWith('.ts')) files.set(relative(SRC, path).split(sep).join('/'), readFileSync(path, 'utf8'));
  }
  return files;
}

interface Import {
  from: string;
  to: string;
}

/** The relative imports of each file, resolved to the file (`.js` in a specifier is the `.ts` source). */
function importsOf(files: Map<string, string>): Import[] {
  const imports: Import[] = [];
  const pattern = /^\s*(?:import|export)\b[^;]*?\bfrom\s+['"](\.[^'"]+)['"]|^\s*import\s+['"](\.[^'"]+)['"]|\bimport\(\s*['"](\.[^'"]+)['"]\s*\)/gm;
  for (const [from, text] of files) {
    for (const match of text.matchAll(pattern)) {
      const specifier = match[1] ?? match[2] ?? match[3] ?? '';
      const to = posix.normalize(posix.join(posix.dirname(from), specifier)).replace(/\.js$/, '.ts');
      imports.push({ from, to });
    }
  }
  return imports;
}

/** A top-level folder (`traffic/`) or a top-level file (`settings.ts`) of src/. */
function unitOf(file: string): string {
  const slash = file.indexOf('/');
  return slash === -1 ? file : file.slice(0, slash + 1);
}

/** Files outside src/run/ (other than the entry points) that import from it. */
function upwardImports(imports: Import[]): string[] {
  return imports.filter((i) => unitOf(i.to) === RUN_WING && unitOf(i.from) !== RUN_WING && !ENTRY_POINTS.has(i.from)).map((i) => `${i.from} -> ${i.to}`);
}

/** Each cycle between top-level units, as `a -> b -> a` with one import line that makes each step. */
function unitCycles(imports: Import[]): string[] {
  const edges = new Map<string, Map<string, Import>>();
  for (const i of imports) {
    const [a, b] = [unitOf(i.from), unitOf(i.to)];
    if (a === b) continue;
    if (!edges.has(a)) edges.set(a, new Map());
    if (!edges.get(a)?.has(b)) edges.get(a)?.set(b, i);
  }
  const cycles: string[] = [];
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (unit: string): void => {
    if (done.has(unit)) return;
    const at = path.indexOf(unit);
    if (at !== -1) {
      const loop = [...path.slice(at), unit];
      const steps = loop.slice(1).map((to, n) => {
        const via = edges.get(loop[n] ?? '')?.get(to);
        return via ? `${via.from} -> ${via.to}` : to;
      });
      cycles.push(`${loop.join(' -> ')} (${steps.join('; ')})`);
      return;
    }
    path.push(unit);
    for (const next of edges.get(unit)?.keys() ?? []) visit(next);
    path.pop();
    done.add(unit);
  };
  for (const unit of [...edges.keys()].sort()) visit(unit);
  return cycles;
}

describe('layers of src/', () => {
  const files = readSources();
  const imports = importsOf(files);

  it('reads the imports it judges: the entry point reaches the run wing, which reaches the lower layers', () => {
    expect(files.size).toBeGreaterThan(40);
    expect(imports).toContainEqual({ from: 'main.ts', to: 'run/run.ts' });
    expect(imports).toContainEqual({ from: 'run/run.ts', to: 'run/checkpoints.ts' });
    // A dynamic import, as the provider wiring loads a provider's SDK only when it is used.
    expect(imports).toContainEqual({ from: 'run/provider.ts', to: 'run/aws-provider.ts' });
    // Every import resolves to a file of src/: a specifier the resolution got wrong would hide an edge.
    expect(imports.filter((i) => !files.has(i.to))).toEqual([]);
  });

  it('nothing below src/run/ imports from it (only main.ts and post.ts do)', () => {
    expect(upwardImports(imports)).toEqual([]);
  });

  it('the top-level folders and files of src/ import each other without a cycle', () => {
    expect(unitCycles(imports)).toEqual([]);
  });

  it('would catch an upward import and a cycle between folders', () => {
    const planted = new Map(files);
    planted.set('traffic/planted.ts', "import { runPhases } from '../run/runner.js';\nimport type { Settings } from '../settings.js';\n");
    planted.set('settings-planted.ts', "export { probeOnce } from './health/probe.js';\n");
    planted.set('health/planted.ts', "const later = () => import('../settings-planted.js');\n");
    const plantedImports = importsOf(planted);
    expect(upwardImports(plantedImports)).toEqual(['traffic/planted.ts -> run/runner.ts']);
    expect(unitCycles(plantedImports).join('\n')).toContain('health/planted.ts -> settings-planted.ts');
  });
});
