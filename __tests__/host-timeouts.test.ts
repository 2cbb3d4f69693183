import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { get as httpGet } from 'node:http';
import type { Color } from '../src/colors.js';
import { HostScriptReleaser } from '../src/hosts/releaser.js';
import { connectSsh } from '../src/hosts/ssh.js';
import { StaticInventory } from '../src/inventory/static.js';
import type { HostOutcome } from '../src/providers/types.js';
import type { Settings } from '../src/settings.js';
import { APP_PORT, SshWorld, type SshHost } from '../lab/sshd.js';

// Real sshd hosts on 127.0.25.x with real Carton and Server::Starter, as in ssh-release.test.ts.
// `sleep 100000` in install-command stands in for a Carton stuck on a network mirror: it hangs on
// the first blue host only, where `~/install-hangs` exists.
let world: SshWorld;
const HANGING_INSTALL = 'if [ -e "$HOME/install-hangs" ]; then sleep 100000; fi; carton install --deployment';

beforeAll(async () => {
  world = await SshWorld.start({ network: '127.0.25', firstOctet: 11, hostsPerColor: { blue: 2, green: 1 } });
}, 60_000);

afterAll(async () => {
  await world?.stop();
}, 60_000);

/** Releases to every host of `color` with the action's log kept out of the test output. */
async function release(color: Color, id: string, inputs: Record<string, string> = {}, signal?: AbortSignal): Promise<HostOutcome[]> {
  const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    const settings: Settings = world.settings({ release: id, 'install-command': HANGING_INSTALL, ...inputs });
    if (settings.provider.name !== 'ssh') throw new Error('the world is provider ssh');
    const hosts = await new StaticInventory(settings.provider.hosts, settings).hostsOf(color);
    const connect = (host: { address: string; port?: number; user?: string }) =>
      connectSsh({ host: host.address, port: host.port, user: host.user }, settings.ssh);
    return await new HostScriptReleaser(settings, connect, signal ? { signal } : {}).release(hosts, settings.release);
  } finally {
    write.mockRestore();
  }
}

/** The release a host's app answers with, on a connection of its own. */
function servedRelease(host: SshHost): Promise<string> {
  return new Promise((resolve) => {
    const request = httpGet(`http://${host.address}:${APP_PORT}/`, { agent: false, timeout: 5000 }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve((JSON.parse(Buffer.concat(chunks).toString()) as { release: string }).release));
    });
    request.on('timeout', () => request.destroy(new Error('timed out')));
    request.on('error', (error) => resolve(`no answer: ${error.message}`));
  });
}

/** What the host script (or what it started) still runs as the host's user; the app itself does not count. */
function leftOver(host: SshHost): string {
  const found = spawnSync('pgrep', ['-a', '-u', host.user, '-f', 'sleep 100000|bluegreen-perl host script|perl -'], { encoding: 'utf8' });
  return found.stdout.trim();
}

function onHost(host: SshHost, argv: string[]): void {
  const done = spawnSync('runuser', ['-u', host.user, '--', ...argv], { cwd: '/', encoding: 'utf8' });
  if (done.status !== 0) throw new Error(`${argv.join(' ')} failed on ${host.address}: ${done.stderr}`);
}

const blue = () => world.hostsOf('blue');

describe('per-host time limits', () => {
  beforeAll(async () => {
    const outcomes = await release('blue', 't1');
    expect(outcomes.map((o) => o.ok)).toEqual([true, true]);
    onHost(blue()[0]!, ['touch', `${blue()[0]!.home}/install-hangs`]);
  }, 120_000);

  it('fails a hung install at its step limit naming host and step; the previous release still answers, nothing is left running, the other host gets the release', async () => {
    const [hung, fine] = blue();
    const [first, second] = await release('blue', 't2', { 'host-step-timeouts': 'install=3' });
    expect(first).toMatchObject({ ok: false, restored: false, host: { name: `${hung!.address}:${hung!.port}` } });
    expect(first?.detail).toMatch(
      /^install failed: install did not finish within its limit of 3 s \(host-step-timeouts\): stopped; last output: .*sleep 100000.*stopping process group \d+/,
    );
    expect(second).toMatchObject({ ok: true, detail: 'release t2 is live on this host (releases/t2)' });
    expect(await servedRelease(hung!)).toBe('t1');
    expect(await servedRelease(fine!)).toBe('t2');
    expect(leftOver(hung!)).toBe('');
  }, 120_000);

  it('stops a host script at host-timeout whatever step it is in', async () => {
    const [hung] = blue();
    const [first] = await release('blue', 't3', { 'host-timeout': '4' });
    expect(first?.detail).toMatch(/^install failed: install did not finish within the host-timeout of 4 s: stopped; last output: /);
    expect(await servedRelease(hung!)).toBe('t1');
    expect(leftOver(hung!)).toBe('');
  }, 120_000);

  it('ends the host script on the host from a second connection when the run is cancelled', async () => {
    const [hung] = blue();
    const cancel = new AbortController();
    // Cancelled once the install hangs on the host (bounded: 60 s).
    const watch = (async () => {
      for (let i = 0; i < 600 && !/^\d+ sleep 100000$/m.test(leftOver(hung!)); i++) await new Promise((resolve) => setTimeout(resolve, 100));
      cancel.abort();
    })();
    const [first] = await release('blue', 't4', {}, cancel.signal);
    await watch;
    expect(first?.detail).toMatch(/^install failed: the run was cancelled; ended what it ran on the host \(session \d+\): ended; last output: /);
    expect(await servedRelease(hung!)).toBe('t1');
    expect(leftOver(hung!)).toBe('');
  }, 120_000);

  it('puts the previous release back when the probe runs out of time after the flip', async () => {
    const [first, second] = blue();
    onHost(first!, ['rm', `${first!.home}/install-hangs`]);
    // A release whose health check takes 4 s per request: past a probe limit of 3 s.
    const slow = world.appVariant('slow-health', (dir) => {
      const psgi = readFileSync(join(dir, 'app.psgi'), 'utf8');
      const slowed = psgi.replace("if ($env->{PATH_INFO} eq '/health') {", "if ($env->{PATH_INFO} eq '/health') {\n    sleep 4;");
      expect(slowed).not.toBe(psgi);
      writeFileSync(join(dir, 'app.psgi'), slowed);
    });
    const before = [await servedRelease(first!), await servedRelease(second!)];
    const outcomes = await release('blue', 't5', { 'release-path': slow, 'host-step-timeouts': 'probe=3' });
    expect(outcomes.map((o) => o.restored)).toEqual([true, true]);
    outcomes.forEach((outcome, i) => {
      expect(outcome.detail).toMatch(
        new RegExp(`^probe failed: probe did not finish within its limit of 3 s \\(host-step-timeouts\\): stopped; releases/${before[i]} is live again`),
      );
    });
    expect([await servedRelease(first!), await servedRelease(second!)]).toEqual(before);
    expect(leftOver(first!)).toBe('');
  }, 120_000);
});
