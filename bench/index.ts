/**
 * `npm run bench`: timings and throughput, printed as figures (never asserted by tests, where they
 * would flake). Each benchmark prints its own readable lines and returns its figures; the last line
 * of the run is one JSON object with every benchmark's figures under its key, for machines to read.
 *
 * `npm run bench -- switch release` runs only the named benchmarks.
 */
export interface Benchmark {
  /** Key of its figures in the closing JSON line. */
  key: string;
  description: string;
  /** Its figures: an object of them, or a single number. */
  run(): Promise<Record<string, unknown> | number>;
}

// Each benchmark module default-exports a list of Benchmarks; add new ones here.
const modules: Array<() => Promise<{ default: Benchmark[] }>> = [
  () => import('./switch.js'),
  () => import('./release-fanout.js'),
  () => import('./auto-rollback.js'),
  () => import('./cold-start.js'),
  () => import('./aws-switch.js'),
];

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const figures: Record<string, unknown> = {};
  for (const load of modules) {
    for (const bench of (await load()).default) {
      if (only.length > 0 && !only.includes(bench.key)) continue;
      console.log(`\n== ${bench.description}`);
      try {
        Object.assign(figures, { [bench.key]: await bench.run() });
      } catch (error) {
        // One broken benchmark does not cost the others' figures; the run still fails.
        console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
        Object.assign(figures, { [bench.key]: { error: error instanceof Error ? error.message.split('\n')[0] : String(error) } });
        process.exitCode = 1;
      }
    }
  }
  console.log(JSON.stringify(figures));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
