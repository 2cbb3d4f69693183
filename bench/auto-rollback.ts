import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HaproxyLab } from '../__tests__/support/haproxy.js';
import { run } from '../src/run.js';
import type { Benchmark } from './index.js';
import { sleep } from '../src/retry.js';
import { ColorLoad } from './support/color-load.js';

/**
 * How fast a failed release is taken out of users' way: the action runs a progressive switch (its
 * own code, in-process) to a green whose release passes its health checks but fails every other
 * request, on a real HAProxy under load. Measured from outside, by the load: from the first failing
 * answer it saw to the first answer from blue after which only blue answered (the last answer from
 * green, failing or not, came before it). The figure is the median over RUNS runs; what the action
 * itself reports (from its failed check to its move back) is printed beside it for comparison.
 */
const RUNS = 5;
const MOVED_BACK = /Traffic was moved back to blue (\d+) ms after the failed check/;

/** From the load's timeline: first failing answer to the first blue answer after the last non-blue one. */
export function backOnOldColorMs(timeline: Array<[number, string]>, old = 'blue'): number | undefined {
  const firstFailure = timeline.find(([, outcome]) => outcome === 'connection' || outcome.startsWith('server'));
  if (!firstFailure) return undefined;
  let lastOther = -1;
  timeline.forEach(([, outcome], i) => {
    if (outcome !== old) lastOther = i;
  });
  const back = timeline[lastOther + 1];
  return back ? back[0] - firstFailure[0] : undefined;
}

/** One run of the action as a runner would start it, its output captured; returns what it printed. */
async function runAction(inputs: Record<string, string>, lab: HaproxyLab): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'bgp-bench-run-'));
  const saved = { output: process.env.GITHUB_OUTPUT, summary: process.env.GITHUB_STEP_SUMMARY, write: process.stdout.write };
  const printed: string[] = [];
  try {
    for (const file of ['output', 'summary']) writeFileSync(join(dir, file), '');
    process.env.GITHUB_OUTPUT = join(dir, 'output');
    process.env.GITHUB_STEP_SUMMARY = join(dir, 'summary');
    process.stdout.write = ((chunk: string | Uint8Array) => printed.push(String(chunk)) > 0) as typeof process.stdout.write;
    await run({ source: (name) => inputs[name] ?? '', env: { GITHUB_SHA: 'bench' }, createProvider: () => lab.provider() });
  } finally {
    process.stdout.write = saved.write;
    process.env.GITHUB_OUTPUT = saved.output;
    process.env.GITHUB_STEP_SUMMARY = saved.summary;
    process.exitCode = undefined;
    rmSync(dir, { recursive: true, force: true });
  }
  return printed.join('');
}

const autoRollback: Benchmark = {
  key: 'auto_rollback_ms',
  description: `Automatic rollback, seen by the load: first failing answer to traffic back on the old color, median of ${RUNS} progressive switches to a faulty green on HAProxy`,
  async run() {
    const lab = new HaproxyLab({ base: 170, live: 'blue', faulty: 'green' });
    const times: number[] = [];
    try {
      await lab.start();
      const inputs = lab.switchInputs({ 'public-url': lab.liveUrl, 'validation-path': '/', 'validation-requests': '20', 'traffic-steps': '20,100', 'step-pause': '30' });
      for (let i = 0; i < RUNS; i++) {
        const load = new ColorLoad(`${lab.liveUrl}/`, 8, { keepTimeline: true });
        const log = await runAction(inputs, lab);
        // A little more load after the run: the answers that show traffic stayed on blue.
        await sleep(200);
        const counts = await load.stop();
        const reported = MOVED_BACK.exec(log)?.[1];
        if (!reported) throw new Error(`run ${i + 1} did not move traffic back by itself:\n${log.slice(-2000)}`);
        const seen = backOnOldColorMs(counts.timeline ?? []);
        if (seen === undefined) throw new Error(`run ${i + 1}: the load saw no failing answer, or never only blue after it (${JSON.stringify(counts.byColor)})`);
        times.push(Math.round(seen));
        console.log(
          `run ${i + 1}: the load saw traffic back on blue ${Math.round(seen)} ms after its first failing answer (the action reports ${reported} ms from its failed check); ${counts.requests} requests, ${counts.failed} failed (all from green: ${counts.failed === (counts.serverErrorsByColor.green ?? 0)})`,
        );
      }
    } finally {
      await lab.stop();
    }
    const sorted = [...times].sort((a, b) => a - b);
    const median = sorted[Math.floor((sorted.length - 1) / 2)] ?? 0;
    console.log(`auto rollback: median ${median} ms, max ${sorted.at(-1)} ms over ${RUNS} runs`);
    return median;
  },
};

export default [autoRollback];
