import { HostScriptReleaser } from '../src/hosts/releaser.js';
import { connectSsh } from '../src/hosts/ssh.js';
import { StaticInventory } from '../src/inventory/static.js';
import type { HostOutcome } from '../src/providers/types.js';
import { SshWorld } from '../__tests__/support/sshd.js';
import type { Benchmark } from './index.js';

/**
 * Release fan-out: wall time of one release (upload, Carton install from the offline mirror,
 * perl -c, flip, Server::Starter restart, probe) to 1 host and to 8 hosts of one color, with the
 * default concurrency. Each host is a real sshd on 127.0.3.31-38 with its own user and app. A
 * ratio near 1 means the hosts really run in parallel; this machine's cores bound it from below,
 * since every "host" shares them.
 */
const HOSTS = 8;
const ROUNDS = 2;

/** Runs `work` with the action's log (every host's lines) kept off the bench output. */
async function quietly<T>(work: () => Promise<T>): Promise<T> {
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (() => true) as typeof process.stdout.write;
  try {
    return await work();
  } finally {
    process.stdout.write = write;
  }
}

const fanout: Benchmark = {
  key: 'release',
  description: `Release fan-out over SSH: 1 host and ${HOSTS} hosts of one color, default concurrency`,
  async run() {
    const world = await SshWorld.start({ firstOctet: 31, hostsPerColor: { blue: HOSTS, green: 0 } });
    try {
      let counter = 0;
      // Green is never released to here; the ssh provider still wants a host listed for it.
      const settingsFor = (release: string) => quietly(async () => world.settings({ release, 'green-hosts': '127.0.3.39:2222' }));
      const releaseTo = async (count: number): Promise<number> => {
        const settings = await settingsFor(`bench-${++counter}`);
        if (settings.provider.name !== 'ssh') throw new Error('the world is provider ssh');
        const hosts = (await new StaticInventory(settings.provider.hosts, settings).hostsOf('blue')).slice(0, count);
        const releaser = new HostScriptReleaser(settings, (host) => connectSsh({ host: host.address, port: host.port, user: host.user }, settings.ssh));
        const started = performance.now();
        const outcomes: HostOutcome[] = await quietly(() => releaser.release(hosts, settings.release));
        const seconds = (performance.now() - started) / 1000;
        const failed = outcomes.filter((o) => !o.ok);
        if (failed.length > 0) throw new Error(`release failed: ${failed.map((o) => `${o.host.name}: ${o.detail}`).join('; ')}`);
        return seconds;
      };
      // Every host starts its app once first: the timed rounds are graceful restarts, as in use.
      await releaseTo(HOSTS);
      const one: number[] = [];
      const all: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        one.push(await releaseTo(1));
        all.push(await releaseTo(HOSTS));
      }
      const hosts1 = Math.min(...one);
      const hosts8 = Math.min(...all);
      const { concurrency } = (await settingsFor('bench')).hostRelease;
      console.log(`1 host: ${hosts1.toFixed(2)} s; ${HOSTS} hosts (concurrency ${concurrency}): ${hosts8.toFixed(2)} s; ratio ${(hosts8 / hosts1).toFixed(2)} (best of ${ROUNDS})`);
      return { hosts_1_s: round2(hosts1), hosts_8_s: round2(hosts8), ratio: round2(hosts8 / hosts1) };
    } finally {
      await world.stop();
    }
  },
};

const round2 = (n: number) => Math.round(n * 100) / 100;

export default [fanout];
