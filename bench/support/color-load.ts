import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { Color } from '../../src/colors.js';
import { sleep } from '../../src/retry.js';

/**
 * Steady HTTP load that knows which color answered each request (the example app reports it), so a
 * benchmark can tell when a switch took effect. Keep-alive connections, like browsers and API
 * clients behind a load balancer; a failed request is counted and its connection waits
 * `FAILURE_PAUSE_MS` before the next one, so a refused port does not turn into a busy loop.
 * The requests run in a worker thread (color-load-worker.mjs), apart from the code that switches.
 */
const FAILURE_PAUSE_MS = 10;
const REQUEST_TIMEOUT_MS = 10_000;

export interface LoadCounts {
  requests: number;
  /** Connection errors (refused, reset, timed out) and 5xx answers. */
  failed: number;
  connectionErrors: number;
  serverErrors: number;
  /** Answers by color: the successful ones. */
  byColor: Record<string, number>;
  /** 5xx answers whose body named the color that gave them. */
  serverErrorsByColor: Record<string, number>;
  /**
   * Every answer in the order they came, when the load was asked to keep them: when it arrived (a
   * `now()` time) and what it was: a color, `connection`, `server` or `server:<color>` (a 5xx).
   */
  timeline?: Array<[number, string]>;
}

type WorkerMessage = { type: 'seen'; id: number; at: number } | { type: 'counts'; counts: LoadCounts };

/** Now, as epoch milliseconds with sub-millisecond precision: comparable across threads. */
export const now = (): number => performance.timeOrigin + performance.now();

export class ColorLoad {
  private readonly worker: Worker;
  private readonly seen = new Map<number, (at: number) => void>();
  private nextId = 0;
  private counts?: Promise<LoadCounts>;

  /** Starts `connections` request loops against `url` at once; `keepTimeline` keeps every answer (see LoadCounts). */
  constructor(url: string, connections: number, { keepTimeline = false }: { keepTimeline?: boolean } = {}) {
    this.worker = new Worker(new URL('./color-load-worker.mjs', import.meta.url), {
      workerData: { url, connections, failurePauseMs: FAILURE_PAUSE_MS, requestTimeoutMs: REQUEST_TIMEOUT_MS, keepTimeline },
    });
    this.worker.on('message', (message: WorkerMessage) => {
      if (message.type === 'seen') this.seen.get(message.id)?.(message.at);
    });
  }

  /** Stops the loops after their current request; the counts of the whole run. */
  stop(): Promise<LoadCounts> {
    this.counts ??= new Promise<LoadCounts>((resolve) => {
      this.worker.on('message', (message: WorkerMessage) => {
        if (message.type === 'counts') resolve(message.counts);
      });
      this.worker.postMessage({ type: 'stop' });
    }).finally(() => this.worker.terminate());
    return this.counts;
  }

  /**
   * Milliseconds from `since` (a `now()` time) to the first answer from `color` that arrived after
   * it; undefined when none came within `timeoutMs`.
   */
  async latencyTo(color: Color, since: number, timeoutMs = 30_000): Promise<number | undefined> {
    const id = this.nextId++;
    let timer: NodeJS.Timeout | undefined;
    const at = await Promise.race([
      new Promise<number>((resolve) => {
        this.seen.set(id, resolve);
        this.worker.postMessage({ type: 'watch', id, color, since });
      }),
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs))),
    ]);
    clearTimeout(timer);
    this.seen.delete(id);
    return at === undefined ? undefined : at - since;
  }
}

export interface FlipFigures {
  flips: number;
  requests: number;
  failed: number;
  connection_errors: number;
  server_errors: number;
  /** From the call that moves traffic to the first answer from the new color. */
  latency_ms_p50: number | null;
  latency_ms_max: number | null;
  /** Flips after which the new color never answered (within 30 s). */
  flips_never_seen: number;
}

/**
 * Flips traffic between the colors `flips` times under `load`, timing each flip from the call of
 * `flip` to the first answer from the new color, with `settleMs` of steady load between flips.
 */
export async function flipUnderLoad(options: {
  url: string;
  connections: number;
  flips: number;
  first: Color;
  settleMs: number;
  flip: (to: Color) => Promise<void>;
}): Promise<FlipFigures> {
  const load = new ColorLoad(options.url, options.connections);
  const latencies: number[] = [];
  let neverSeen = 0;
  let counts: LoadCounts | undefined;
  try {
    await sleep(options.settleMs);
    let to = options.first;
    for (let i = 0; i < options.flips; i++) {
      const since = now();
      const seen = load.latencyTo(to, since);
      await options.flip(to);
      const latency = await seen;
      if (latency === undefined) neverSeen++;
      else latencies.push(latency);
      await sleep(options.settleMs);
      to = to === 'blue' ? 'green' : 'blue';
    }
  } finally {
    counts = await load.stop();
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  const round = (ms: number | undefined) => (ms === undefined ? null : Math.round(ms * 10) / 10);
  return {
    flips: options.flips,
    requests: counts.requests,
    failed: counts.failed,
    connection_errors: counts.connectionErrors,
    server_errors: counts.serverErrors,
    latency_ms_p50: round(sorted[Math.floor((sorted.length - 1) / 2)]),
    latency_ms_max: round(sorted.at(-1)),
    flips_never_seen: neverSeen,
  };
}

/** One readable line per approach. */
export function describeFlips(name: string, f: FlipFigures): string {
  const latency = f.latency_ms_p50 === null ? 'new color never answered' : `switch latency p50 ${f.latency_ms_p50} ms, max ${f.latency_ms_max} ms`;
  return `${name}: ${f.flips} flips, ${f.requests} requests, ${f.failed} failed (${f.connection_errors} connection errors, ${f.server_errors} 5xx); ${latency}${f.flips_never_seen ? `; ${f.flips_never_seen} flip(s) never seen` : ''}`;
}
