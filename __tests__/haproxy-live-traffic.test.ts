import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import type { Host, Provider } from '../src/providers/types.js';
import { sleep } from '../src/retry.js';
import { SERVER_CHECKS } from '../src/traffic/haproxy-config.js';
import type { HaproxyTraffic } from '../src/traffic/haproxy.js';
import { runAction } from './support/action.js';
import { HaproxyLab } from './support/haproxy.js';

/** What a deploy or a switch may do to HAProxy while a color serves traffic. */
const lab = new HaproxyLab({ base: 125, hostsPerColor: 1, live: 'blue' });

beforeAll(async () => {
  await lab.start();
}, 60_000);
afterAll(async () => {
  await lab.stop();
}, 60_000);

/** The lines of one section of the installed haproxy.cfg. */
function installedSection(name: string): string[] {
  const config = readFileSync(lab.configPath, 'utf8');
  const start = config.indexOf(`\n${name}\n`);
  return config.slice(start + name.length + 2).split('\n\n')[0]?.split('\n').map((line) => line.trim()) ?? [];
}

/** Sends GET / through the live route every 100 ms until stopped; returns the statuses seen. */
function watchLiveRoute(): { stop: () => Promise<number[]> } {
  const statuses: number[] = [];
  let watching = true;
  const loop = (async () => {
    while (watching) {
      statuses.push((await lab.answerOf().catch(() => ({ status: 0 }))).status);
      await sleep(100);
    }
  })();
  return {
    stop: async () => {
      watching = false;
      await loop;
      return statuses;
    },
  };
}

describe('a deploy never changes the checks of the color that serves traffic', () => {
  it('a new health-path: the idle color is checked with it, live blue keeps its check, stays UP and answers 200 throughout', async () => {
    const traffic: HaproxyTraffic = lab.traffic({ healthPath: '/ready' });
    // The new release answers /ready; the one live on blue answers only /health (/ready is a 404 there).
    const provider: Provider = {
      ...lab.provider(traffic, { path: '/ready', expectedStatus: 200, timeoutMs: 2000, retries: 10, intervalMs: 500 }),
      releaser: {
        release: async (hosts: Host[], release: string) => {
          for (const host of hosts) {
            await lab.server(host.name).stop();
            await lab.server(host.name).start(release, { ready: true });
          }
          return hosts.map((host) => ({ host, ok: true, durationMs: 1, detail: `release ${release} live on host` }));
        },
      },
    };
    const watch = watchLiveRoute();
    const run = await runAction(lab.switchInputs({ mode: 'deploy', 'health-path': '/ready' }), provider);
    // HAProxy takes a server DOWN after `fall` failed checks, `inter` apart: keep watching that long.
    await sleep(SERVER_CHECKS.interMs * (SERVER_CHECKS.fall + 1));
    const statuses = await watch.stop();

    expect(run.failed).toBe(false);
    expect(new Set(statuses)).toEqual(new Set([200]));
    const blue = (await traffic.showStat()).find((row) => row.pxname === 'bg_blue' && row.svname === '127.0.5.126');
    expect(blue?.status).toBe('UP');
    expect(await lab.answerOf()).toMatchObject({ color: 'blue', status: 200 });
    expect(installedSection('backend bg_green')).toContain('option httpchk GET /ready');
    expect(installedSection('backend bg_blue')).toContain('option httpchk GET /health');
    expect(run.log).toMatch(/blue serves traffic, so it keeps its installed check \(GET \/health expecting 200, port 5000\) until a run releases to it/);
  }, 90_000);
});
