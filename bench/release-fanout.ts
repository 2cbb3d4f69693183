import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toShell } from '../src/hosts/command.js';
import { hostScriptInvocation, readHostScriptReport } from '../src/hosts/host-script.js';
import { HostScriptReleaser, releaseSourceOf } from '../src/hosts/releaser.js';
import { connectSsh } from '../src/hosts/ssh.js';
import { StaticInventory } from '../src/inventory/static.js';
import type { Host, HostOutcome } from '../src/providers/types.js';
import type { Settings } from '../src/settings.js';
import { SshWorld } from '../lab/sshd.js';
import type { Benchmark } from './index.js';
import { quietly } from './support/quietly.js';

/**
 * Release fan-out: wall time of one release (upload, Carton install from the offline mirror,
 * perl -c, flip, Server::Starter restart, probe) to 1 host and to 8 hosts of one color, with the
 * default concurrency. Each host is a real sshd on 127.0.3.31-38 with its own user and app. A
 * ratio near 1 means the hosts really run in parallel; this machine's cores bound it from below,
 * since every "host" shares them. So the 8-host figure stands beside its yardstick: the same host
 * script with the same release, on the same 8 hosts, through the plain OpenSSH client, 8 at once
 * (what `xargs -P 8 ssh …` does), with the same host key checking (known_hosts, strict).
 * `vs_baseline` = ours / baseline: 1 means the orchestration costs nothing over plain ssh.
 */
const HOSTS = 8;
const ROUNDS = 2;

/**
 * The yardstick: one `ssh` per host, all at once, each running the host script exactly as the
 * releaser sends it (`perl -` with the script and the release tarball on stdin).
 */
async function releaseWithOpenSsh(world: SshWorld, settings: Settings, hosts: Host[]): Promise<void> {
  const knownHosts = join(world.dir, 'bench_known_hosts');
  writeFileSync(knownHosts, `${world.knownHosts}\n`);
  const source = await releaseSourceOf(settings.hostRelease.source);
  const runs = hosts.map((host) => {
    const { argv, stdin } = hostScriptInvocation(settings, host, settings.release, source);
    const ssh = [
      '-T',
      '-o',
      'BatchMode=yes',
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      `UserKnownHostsFile=${knownHosts}`,
      '-o',
      'IdentitiesOnly=yes',
      '-i',
      join(world.dir, 'runner_key'),
      '-p',
      String(host.port ?? 22),
      `${host.user}@${host.address}`,
      toShell(argv),
    ];
    return new Promise<void>((resolve, reject) => {
      const child = spawn('ssh', ssh, { stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
      child.stderr.on('data', (chunk: Buffer) => out.push(chunk));
      child.on('error', reject);
      child.on('close', (code) => {
        const report = readHostScriptReport(Buffer.concat(out).toString('utf8'), code ?? 255);
        if (report.ok) resolve();
        else reject(new Error(`plain ssh release on ${host.name} failed (exit ${code}): ${report.message}`));
      });
      child.stdin.end(stdin);
    });
  });
  await Promise.all(runs);
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
      const hostsFor = async (settings: Settings, count: number): Promise<Host[]> => {
        if (settings.provider.name !== 'ssh') throw new Error('the world is provider ssh');
        return (await new StaticInventory(settings.provider.hosts, settings).hostsOf('blue')).slice(0, count);
      };
      const releaseTo = async (count: number): Promise<number> => {
        const settings = await settingsFor(`bench-${++counter}`);
        const hosts = await hostsFor(settings, count);
        const releaser = new HostScriptReleaser(settings, (host) => connectSsh({ host: host.address, port: host.port, user: host.user }, settings.ssh));
        const started = performance.now();
        const outcomes: HostOutcome[] = await quietly(() => releaser.release(hosts, settings.release));
        const seconds = (performance.now() - started) / 1000;
        const failed = outcomes.filter((o) => !o.ok);
        if (failed.length > 0) throw new Error(`release failed: ${failed.map((o) => `${o.host.name}: ${o.detail}`).join('; ')}`);
        return seconds;
      };
      const releaseByOpenSsh = async (): Promise<number> => {
        const settings = await settingsFor(`bench-${++counter}`);
        const hosts = await hostsFor(settings, HOSTS);
        const started = performance.now();
        await releaseWithOpenSsh(world, settings, hosts);
        return (performance.now() - started) / 1000;
      };
      // Every host starts its app once first: the timed rounds are graceful restarts, as in use.
      await releaseTo(HOSTS);
      const one: number[] = [];
      const all: number[] = [];
      const plain: number[] = [];
      // Interleaved, so load from elsewhere on the machine falls on each alike.
      for (let round = 0; round < ROUNDS; round++) {
        one.push(await releaseTo(1));
        all.push(await releaseTo(HOSTS));
        plain.push(await releaseByOpenSsh());
      }
      const hosts1 = Math.min(...one);
      const hosts8 = Math.min(...all);
      const baseline = Math.min(...plain);
      const { concurrency } = (await settingsFor('bench')).hostRelease;
      console.log(
        `1 host: ${hosts1.toFixed(2)} s; ${HOSTS} hosts (concurrency ${concurrency}): ${hosts8.toFixed(2)} s; ratio ${(hosts8 / hosts1).toFixed(2)} (best of ${ROUNDS})`,
      );
      console.log(`plain OpenSSH, ${HOSTS} hosts at once: ${baseline.toFixed(2)} s; ours / baseline ${(hosts8 / baseline).toFixed(2)} (best of ${ROUNDS})`);
      return {
        hosts_1_s: round2(hosts1),
        hosts_8_s: round2(hosts8),
        ratio: round2(hosts8 / hosts1),
        baseline_s: round2(baseline),
        vs_baseline: round2(hosts8 / baseline),
      };
    } finally {
      await world.stop();
    }
  },
};

const round2 = (n: number) => Math.round(n * 100) / 100;

export default [fanout];
