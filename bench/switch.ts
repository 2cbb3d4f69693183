import { execFileSync } from 'node:child_process';
import { chownSync, writeFileSync } from 'node:fs';
import type { Color } from '../src/colors.js';
import { runnerForHaproxyHost } from '../src/run/provider.js';
import { mapPathFor } from '../src/traffic/haproxy-config.js';
import { HaproxyLab, type LabOptions } from '../lab/haproxy.js';
import { SshWorld } from '../lab/sshd.js';
import type { Benchmark } from './index.js';
import { describeFlips, flipUnderLoad } from './support/color-load.js';
import { quietly } from './support/quietly.js';

/**
 * The HAProxy switch under load, against the obvious alternative. Both run the same lab (a real
 * HAProxy 2.6 in front of two Starman servers per color, on 127.0.5.x) and the same load, flipping
 * the live color FLIPS times:
 * - switch: HaproxyTraffic.moveTo, i.e. `set map` on the admin socket plus the map file on disk;
 * - switch_ssh: the same, with HAProxy reached over SSH (`haproxy-host`), as on a load-balancer
 *   Droplet: a real sshd on 127.0.47.1 whose user owns the lab's HAProxy files and admin socket, the
 *   lab itself on 127.0.48.x;
 * - naive: what the action replaces: rewrite haproxy.cfg to send the frontend to the other backend,
 *   then a seamless reload (SIGUSR2 to the master of `haproxy -W`, what `systemctl reload haproxy`
 *   does): the master starts a new worker on the same listening sockets, the old one finishes its
 *   connections. The flip returns once the signal is sent, as `systemctl reload` would.
 */
const FLIPS = 20;
const CONNECTIONS = 32;
const SETTLE_MS = 300;

async function inLab<T>(options: Pick<LabOptions, 'base' | 'network'>, body: (lab: HaproxyLab) => Promise<T>): Promise<T> {
  const lab = new HaproxyLab({ ...options, live: 'blue', workers: 4 });
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
    inLab({ base: 110 }, async (lab) => {
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
    inLab({ base: 150 }, async (lab) => {
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

const overSsh: Benchmark = {
  key: 'switch_ssh',
  description: `HAProxy switch over SSH (haproxy-host on a local sshd), ${FLIPS} flips under ${CONNECTIONS} keep-alive connections`,
  async run() {
    const world = await SshWorld.start({ network: '127.0.47', firstOctet: 1, hostsPerColor: { blue: 1, green: 0 } });
    try {
      const [lb] = world.hosts;
      if (!lb) throw new Error('the SSH world has no host');
      return await inLab({ network: '127.0.48', base: 10 }, async (lab) => {
        // The SSH user runs HAProxy's commands, as the deploy user of a load balancer would: it owns
        // the config directory (the map file is replaced there) and the admin socket.
        const uid = Number(execFileSync('id', ['-u', lb.user], { encoding: 'utf8' }));
        const gid = Number(execFileSync('id', ['-g', lb.user], { encoding: 'utf8' }));
        for (const path of [lab.dir, lab.configPath, mapPathFor(lab.configPath), lab.socketPath]) chownSync(path, uid, gid);
        // As a run builds it from its inputs (the settings read the key and known_hosts of the world).
        const settings = await quietly(async () => world.settings({ 'haproxy-host': lb.spec, 'green-hosts': '127.0.47.9:2222' }));
        const traffic = lab.traffic({}, runnerForHaproxyHost(settings));
        try {
          await traffic.balancerHealth('green', lab.hosts.green);
          const figures = await flipsUnderLoad(lab, async (to: Color) => {
            await traffic.moveTo(to, lab.hosts[to]);
          });
          console.log(describeFlips('switch_ssh', figures));
          return { ...figures };
        } finally {
          await traffic.close();
        }
      });
    } finally {
      await world.stop();
    }
  },
};

export default [ours, naive, overSsh];
