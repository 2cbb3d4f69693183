// The load loops of ColorLoad (color-load.ts), in a worker thread: the process that switches traffic
// is not the one making requests, as in real life, so a busy client does not slow the switch down
// (or its measurement). Plain JavaScript: worker threads do not go through tsx.
import { Buffer } from 'node:buffer';
import { Agent, get } from 'node:http';
import { setTimeout } from 'node:timers';
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';

const { url, connections, failurePauseMs, requestTimeoutMs, keepTimeline } = workerData;
const agent = new Agent({ keepAlive: true, maxSockets: connections });
const counts = { requests: 0, failed: 0, connectionErrors: 0, serverErrors: 0, byColor: {}, serverErrorsByColor: {}, ...(keepTimeline && { timeline: [] }) };
/** Waiters from the main thread: the first answer from `color` at or after `since` (epoch ms). */
let waiters = [];
let running = true;
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A 5xx body that names its color (the example app's errors do): `server:green`; else `server`. */
function serverError(body) {
  try {
    const color = JSON.parse(body).color;
    return color ? `server:${color}` : 'server';
  } catch {
    return 'server';
  }
}

/** One GET: the color that answered, or `connection` / `server[:color]` for a failure. */
function once() {
  return new Promise((resolve) => {
    const request = get(url, { agent, timeout: requestTimeoutMs }, (response) => {
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.on('error', () => resolve('connection'));
      response.on('end', () => {
        if ((response.statusCode ?? 0) >= 500) return resolve(serverError(Buffer.concat(chunks).toString()));
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString()).color ?? 'unknown');
        } catch {
          resolve('unknown');
        }
      });
    });
    request.on('timeout', () => request.destroy(new Error('timed out')));
    request.on('error', () => resolve('connection'));
  });
}

async function loop() {
  while (running) {
    const outcome = await once();
    const at = now();
    counts.requests++;
    counts.timeline?.push([at, outcome]);
    if (outcome === 'connection' || outcome.startsWith('server')) {
      counts.failed++;
      if (outcome === 'connection') counts.connectionErrors++;
      else counts.serverErrors++;
      const color = outcome.split(':')[1];
      if (color) counts.serverErrorsByColor[color] = (counts.serverErrorsByColor[color] ?? 0) + 1;
      await sleep(failurePauseMs);
      continue;
    }
    counts.byColor[outcome] = (counts.byColor[outcome] ?? 0) + 1;
    const seen = waiters.filter((w) => w.color === outcome && at >= w.since);
    if (seen.length > 0) {
      waiters = waiters.filter((w) => !seen.includes(w));
      for (const w of seen) parentPort.postMessage({ type: 'seen', id: w.id, at });
    }
  }
}

const loops = Array.from({ length: connections }, () => loop());
parentPort.on('message', async (message) => {
  if (message.type === 'watch') waiters.push(message);
  if (message.type === 'stop') {
    running = false;
    await Promise.all(loops);
    agent.destroy();
    parentPort.postMessage({ type: 'counts', counts });
  }
});
