import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HaproxyLab } from '../lab/haproxy.js';
import { run } from '../src/run/run.js';
import type { Benchmark } from './index.js';
import { sleep } from '../src/retry.js';
import { ColorLoad } from './support/color-load.js';

/**
 * How fast a failed release is taken out of users' way: the action runs a progressive switch (its
 * own code, in-process) to a green whose release passes its health checks but fails every other
 * request, on a real HAProxy under load. Measured from outside, by the load: from the first failing
 * answer it saw to the first answer from blue after which only blue answered (the last answer from
 * green, failing or not, came before it). The figures are the median and max over RUNS runs; what the action
 * itself reports (from its failed check to its move back) is printed beside it for comparison. A run
 * in which no request of the load got a failing answer (the step was over first) is counted apart.
 */
const RUNS = 5;
const MOVED_BACK = /Traffic was moved back to blue (\d+) ms after the failed check/;

/**
 * From the load's timeline: first failing answer to the first `old` answer after the last other one;
 * or that the load saw no failing answer (the faulty step was over before it reached anyone), or
 * that traffic never came back to `old` for good.
 */
export function backOnOldColor(timeline: Array<[number, string]>, old = 'blue'): { ms: number } | 'no failure seen' | 'never back' {
  const firstFailure = timeline.find(([, outcome]) => outcome === 'connection' || outcome.startsWith('server'));
  if (!firstFailure) return 'no failure seen';
  let lastOther = -1;
  timeline.forEach(([, outcome], i) => {
    if (outcome !== old) lastOther = i;
  });
  const back = timeline[lastOther + 1];
  return back ? { ms: back[0] - firstFailure[0] } : 'never back';
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
    let unseen = 0;
    try {
      await lab.start();
      const inputs = lab.switchInputs({
        'public-url': lab.liveUrl,
        'validation-path': '/',
        'validation-requests': '20',
        'traffic-steps': '20,100',
        'step-pause': '30',
      });
      for (let i = 0; i < RUNS; i++) {
        const load = new ColorLoad(`${lab.liveUrl}/`, 8, { keepTimeline: true });
        const log = await runAction(inputs, lab);
        // A little more load after the run: the answers that show traffic stayed on blue.
        await sleep(200);
        const counts = await load.stop();
        const reported = MOVED_BACK.exec(log)?.[1];
        if (!reported) throw new Error(`run ${i + 1} did not move traffic back by itself:\n${log.slice(-2000)}`);
        const seen = backOnOldColor(counts.timeline ?? []);
        const tally = `${counts.requests} requests, ${counts.failed} failed (all from green: ${counts.failed === (counts.serverErrorsByColor.green ?? 0)}); the action reports ${reported} ms from its failed check to the move back`;
        if (seen === 'never back') throw new Error(`run ${i + 1}: the load never saw only blue again (${JSON.stringify(counts.byColor)})`);
        if (seen === 'no failure seen') {
          // The faulty step ended before any request of the load reached a failing answer.
          unseen++;
          console.log(`run ${i + 1}: the load saw no failing answer; ${tally}`);
          continue;
        }
        times.push(Math.round(seen.ms));
        console.log(`run ${i + 1}: the load saw traffic back on blue ${Math.round(seen.ms)} ms after its first failing answer; ${tally}`);
      }
    } finally {
      await lab.stop();
    }
    const sorted = [...times].sort((a, b) => a - b);
    const median = sorted[Math.floor((sorted.length - 1) / 2)] ?? null;
    console.log(
      `auto rollback, seen by the load: median ${median} ms, max ${sorted.at(-1)} ms over the ${times.length} of ${RUNS} runs where it saw a failing answer`,
    );
    return { p50: median, max: sorted.at(-1) ?? null, runs: RUNS, runs_no_failure_seen: unseen };
  },
};

export default [autoRollback];
