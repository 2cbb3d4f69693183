import { writeFileSync } from 'node:fs';
import type { Color } from '../src/colors.js';
import { HaproxyLab } from '../__tests__/support/haproxy.js';
import type { Benchmark } from './index.js';
import { describeFlips, flipUnderLoad } from './support/color-load.js';

/**
 * The HAProxy switch under load, against the obvious alternative. Both run the same lab (a real
 * HAProxy 2.6 in front of two Starman servers per color, on 127.0.5.x) and the same load, flipping
 * the live color FLIPS times:
 * - switch: HaproxyTraffic.moveTo, i.e. `set map` on the admin socket plus the map file on disk;
 * - naive: what the action replaces: rewrite haproxy.cfg to send the frontend to the other backend,
 *   then a seamless reload (SIGUSR2 to the master of `haproxy -W`, what `systemctl reload haproxy`
 *   does): the master starts a new worker on the same listening sockets, the old one finishes its
 *   connections. The flip returns once the signal is sent, as `systemctl reload` would.
 */
const FLIPS = 20;
const CONNECTIONS = 32;
const SETTLE_MS = 300;

async function inLab<T>(base: number, body: (lab: HaproxyLab) => Promise<T>): Promise<T> {
  const lab = new HaproxyLab({ base, live: 'blue', workers: 4 });
  try {
    await lab.start();
    return await body(lab);
  } finally {
    await lab.stop();
  }
}

/** FLIPS flips of the lab's live color under the same load, starting with green. */
function flipsUnderLoad(lab: HaproxyLab, flip: (to: Color) => Promise<void>): ReturnType<typeof flipUnderLoad> {
  return flipUnderLoad({ url: `${lab.liveUrl}/`, connections: CONNECTIONS, flips: FLIPS, first: 'green', settleMs: SETTLE_MS, flip });
}

const ours: Benchmark = {
  key: 'switch',
  description: `HAProxy switch (set map + map file), ${FLIPS} flips under ${CONNECTIONS} keep-alive connections`,
  run: () =>
    inLab(110, async (lab) => {
      const traffic = lab.traffic();
      // As in a run: the verify phase reads HAProxy's view (and syncs its members) before the switch.
      await traffic.balancerHealth('green', lab.hosts.green);
      const figures = await flipsUnderLoad(lab, async (to: Color) => {
        await traffic.moveTo(to, lab.hosts[to]);
      });
      console.log(describeFlips('switch', figures));
      return { ...figures };
    }),
};

const naive: Benchmark = {
  key: 'naive',
  description: `Naive switch (rewrite haproxy.cfg, seamless reload of HAProxy), ${FLIPS} flips under ${CONNECTIONS} keep-alive connections`,
  run: () =>
    inLab(150, async (lab) => {
      const figures = await flipsUnderLoad(lab, async (to: Color) => {
        // The config names the live backend itself; a reload is what makes HAProxy read it.
        const rendered = lab.renderConfig();
        const config = rendered.replace(/^ {2}use_backend %\[str\(live\),map\([^)]*\)\]$/m, `  use_backend bg_${to}`);
        if (config === rendered) throw new Error('the live use_backend line of the rendered config was not found');
        writeFileSync(lab.configPath, config);
        process.kill(lab.masterPid, 'SIGUSR2');
      });
      console.log(describeFlips('naive', figures));
      return { ...figures };
    }),
};

export default [ours, naive];
