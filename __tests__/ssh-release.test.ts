import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { join } from 'node:path';
import type { Color } from '../src/colors.js';
import { DirectProbeHealth } from '../src/health/direct.js';
import type { CommandRunner } from '../src/hosts/command.js';
import { HostScriptReleaser, inParallel } from '../src/hosts/releaser.js';
import { connectSsh } from '../src/hosts/ssh.js';
import { StaticInventory } from '../src/inventory/static.js';
import type { Host, HostOutcome, Provider } from '../src/providers/types.js';
import type { Settings } from '../src/settings.js';
import { errorLines, runAction } from './support/action.js';
import { APP_PORT, SshWorld, type SshHost } from '../lab/sshd.js';
import { workflowCommands } from './support/workflow-commands.js';

// Two hosts per color, each a real sshd on its own 127.0.3.N with its own user; the app is
// examples/app, installed by real Carton from an offline mirror and served by Server::Starter +
// Starman on the host's own address. One world serves the whole file: releases build on each other.
let world: SshWorld;
const INJECTION = "x'; touch /tmp/owned; echo '";

beforeAll(async () => {
  world = await SshWorld.start({ firstOctet: 11, hostsPerColor: { blue: 2, green: 2 } });
}, 60_000);

afterAll(async () => {
  await world?.stop();
}, 60_000);

function hostsOf(settings: Settings, color: Color): Promise<Host[]> {
  if (settings.provider.name !== 'ssh') throw new Error('the world is provider ssh');
  return new StaticInventory(settings.provider.hosts, settings).hostsOf(color);
}

const sshTo = (settings: Settings) => (host: Host) => connectSsh({ host: host.address, port: host.port, user: host.user }, settings.ssh);

/** Runs `work` with the action's log (core.info, groups, masks) captured instead of printed. */
async function captured<T>(work: () => Promise<T> | T): Promise<{ value: T; log: string }> {
  const printed: string[] = [];
  const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (printed.push(String(chunk)), true));
  try {
    const value = await work();
    return { value, log: printed.join('') };
  } finally {
    write.mockRestore();
  }
}

/** Releases to every host of `color`, as the release phase does. */
async function release(color: Color, id: string, inputs: Record<string, string> = {}, count?: number): Promise<HostOutcome[]> {
  const settings = world.settings({ release: id, ...inputs });
  const hosts = (await hostsOf(settings, color)).slice(0, count);
  return new HostScriptReleaser(settings, sshTo(settings)).release(hosts, settings.release);
}

/** A release whose log is kept out of the test output. */
const quietRelease = async (...args: Parameters<typeof release>) => (await captured(() => release(...args))).value;

/** What the app on a host answers at `/`: its release and color. */
async function served(host: SshHost, port = APP_PORT): Promise<{ release: string; color: string; app: string }> {
  const answer = await getOnce(`http://${host.address}:${port}/`);
  expect(answer).toMatchObject({ status: 200 });
  return JSON.parse(answer.body) as { release: string; color: string; app: string };
}

/** Runs a command on a host over SSH, as that host's user. */
async function onHost(host: SshHost, argv: string[]): Promise<{ code: number; stdout: string }> {
  const runner: CommandRunner = await connectSsh({ host: host.address, port: host.port, user: host.user }, world.ssh);
  try {
    const { code, stdout, stderr } = await runner.run(argv);
    return { code, stdout: stdout + stderr };
  } finally {
    await runner.close();
  }
}

/**
 * One GET on a connection of its own, as HAProxy (`option http-server-close`) sends requests to a
 * backend: a pooled keep-alive connection would instead race the old worker closing it.
 */
function getOnce(url: string): Promise<{ status: number; body: string; error?: string }> {
  return new Promise((resolve) => {
    const request = httpGet(url, { agent: false, timeout: 5000 }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      response.on('error', (error) => resolve({ status: 0, body: '', error: error.message }));
    });
    request.on('timeout', () => request.destroy(new Error('timed out')));
    request.on('error', (error) => resolve({ status: 0, body: '', error: error.message }));
  });
}

const blue = () => world.hostsOf('blue');
const green = () => world.hostsOf('green');

describe('a release over SSH to real hosts', () => {
  it('puts a good release on every host of a color: each answers with its release id and color', async () => {
    const { value: runs, log } = await captured(() => Promise.all([release('blue', 'b1'), release('green', 'g1')]));
    for (const outcomes of runs) {
      expect(outcomes.map((o) => [o.host.name, o.ok, o.detail])).toEqual(
        outcomes.map((o) => [o.host.name, true, expect.stringMatching(/^release [bg]1 is live on this host/)]),
      );
    }
    for (const host of blue()) expect(await served(host)).toMatchObject({ app: 'shop', release: 'b1', color: 'blue' });
    for (const host of green()) expect(await served(host)).toMatchObject({ app: 'shop', release: 'g1', color: 'green' });
    // Carton installed the snapshot's Try::Tiny from the mirror into the release itself.
    const [first] = blue();
    expect((await onHost(first!, ['ls', 'app/current/local/lib/perl5/Try/Tiny.pm'])).code).toBe(0);

    // Each host's lines stream live with its prefix, then show whole in the host's own group.
    const [b1, b2] = blue();
    const name = (h: SshHost) => `${h.address}:${h.port}`;
    expect(log).toContain(`[${name(b1!)}] ==> [2/7] install: CPAN dependencies with carton install --deployment`);
    expect(log).toContain(`[${name(b2!)}] ==> OK: release b1 is live on this host`);
    const escaped = name(b1!).replace(/\./g, '\\.');
    expect(log).toMatch(
      new RegExp(
        `::group::${escaped}: released \\([\\d.]+ (s|ms)\\)\\n::stop-commands::[0-9a-f]{32}\\n\\[${escaped}\\] ==> session \\d+\\n\\[${escaped}\\] ==> \\[1/7\\] fetch`,
      ),
    );
  }, 120_000);

  it('runs a hosts: hook in the live release directory of each host, with the run in its environment', async () => {
    const settings = world.settings({ release: 'b1' });
    const hosts = await hostsOf(settings, 'blue');
    const hook = {
      point: 'after-switch' as const,
      where: 'hosts' as const,
      command: 'printf "%s %s %s\\n" "$BLUEGREEN_COLOR" "$BLUEGREEN_RELEASE" "$(basename "$(pwd -P)")" > hook.out',
    };
    const env = { BLUEGREEN_COLOR: 'blue', BLUEGREEN_RELEASE: 'b1' };
    const { value: outcomes } = await captured(() => new HostScriptReleaser(settings, sshTo(settings)).runHook(hosts, hook, env));
    expect(outcomes.map((o) => [o.ok, o.detail])).toEqual(hosts.map(() => [true, 'exit 0']));
    for (const host of blue()) expect((await onHost(host, ['cat', 'app/current/hook.out'])).stdout).toBe('blue b1 b1\n');

    const failing = { ...hook, command: 'echo "migration: table locked" >&2; exit 3' };
    const { value: failed } = await captured(() => new HostScriptReleaser(settings, sshTo(settings)).runHook(hosts, failing, env));
    expect(failed.map((o) => [o.ok, o.detail])).toEqual(hosts.map(() => [false, 'exit 3: migration: table locked']));
  }, 60_000);

  it('keeps each host apart: one host cannot see another host’s app directory', async () => {
    const [b1, b2] = blue();
    const peek = await onHost(b1!, ['ls', join(b2!.home, 'app')]);
    expect(peek.code).not.toBe(0);
    expect(peek.stdout).toMatch(/Permission denied/);
    expect((await onHost(b2!, ['ls', 'app'])).stdout.split('\n')).toEqual(expect.arrayContaining(['current', 'releases', 'run', 'shared']));
  }, 30_000);

  it('restarts in place: the port never refuses a request while the next release takes over', async () => {
    const [b1] = blue();
    const seen: string[] = [];
    const failures: string[] = [];
    let releasing = true;
    const poll = (async () => {
      // Bounded: the release ends the loop, and each request has its own timeout.
      for (let i = 0; releasing && i < 5000; i++) {
        const answer = await getOnce(`http://${b1!.address}:${APP_PORT}/`);
        if (answer.status !== 200) failures.push(answer.error ?? `status ${answer.status}`);
        const id = answer.status === 200 ? (JSON.parse(answer.body) as { release: string }).release : undefined;
        if (id && seen.at(-1) !== id) seen.push(id);
      }
    })();
    const outcomes = await quietRelease('blue', 'b2');
    releasing = false;
    await poll;
    expect(outcomes.every((o) => o.ok)).toBe(true);
    // The listening socket stays open across the restart (Server::Starter holds it for every
    // generation): no request is refused. A request that an old worker had just accepted when told
    // to quit can be reset (a race in Net::Server's child HUP handler); releases go to the idle
    // color, which gets no traffic until the switch, so that race never meets a user's request.
    expect(failures.filter((failure) => !/ECONNRESET|socket hang up/.test(failure))).toEqual([]);
    expect(seen.length).toBeGreaterThanOrEqual(2);
    // While the new workers start, both generations share the listening socket and either answers.
    expect([seen[0], seen.at(-1)]).toEqual(['b1', 'b2']);
    // Once the release returns, the old workers are gone: only b2 answers.
    const after = await Promise.all(Array.from({ length: 20 }, () => getOnce(`http://${b1!.address}:${APP_PORT}/`)));
    expect(new Set(after.map((answer) => (JSON.parse(answer.body) as { release: string }).release))).toEqual(new Set(['b2']));
  }, 120_000);

  it('fails at install when a dependency cannot be installed, and nothing live changes', async () => {
    const source = world.appVariant('missing-dependency', (dir) => {
      writeFileSync(join(dir, 'cpanfile'), `${readFileSync(join(dir, 'cpanfile'), 'utf8')}requires 'Acme::BlueGreen::Missing', '1.0';\n`);
      // Pinned in the snapshot like any dependency, but the mirror does not have it.
      const snapshot = readFileSync(join(dir, 'cpanfile.snapshot'), 'utf8').replace(
        'DISTRIBUTIONS\n',
        'DISTRIBUTIONS\n  Acme-BlueGreen-Missing-1.0\n    pathname: B/BG/BGTEST/Acme-BlueGreen-Missing-1.0.tar.gz\n    provides:\n      Acme::BlueGreen::Missing 1.0\n    requirements:\n      ExtUtils::MakeMaker 0\n',
      );
      writeFileSync(join(dir, 'cpanfile.snapshot'), snapshot);
    });
    const outcomes = await quietRelease('blue', 'b3-deps', { 'release-path': source });
    for (const outcome of outcomes) {
      expect(outcome.ok).toBe(false);
      expect(outcome.restored).toBe(false);
      expect(outcome.detail).toMatch(/^install failed: carton install --deployment failed \(exit \d+\); last output: .*Acme::BlueGreen::Missing/);
    }
    for (const host of blue()) expect(await served(host)).toMatchObject({ release: 'b2', color: 'blue' });
    expect((await onHost(blue()[0]!, ['readlink', 'app/current'])).stdout.trim()).toBe('releases/b2');
  }, 120_000);

  it('fails at check when the app does not compile, and nothing live changes', async () => {
    const source = world.appVariant('syntax-error', (dir) => {
      writeFileSync(join(dir, 'app.psgi'), readFileSync(join(dir, 'app.psgi'), 'utf8').replace('my $app = sub {', 'my $app = sub {{'));
    });
    const outcomes = await quietRelease('blue', 'b4-broken', { 'release-path': source });
    for (const outcome of outcomes) {
      expect(outcome.ok).toBe(false);
      expect(outcome.restored).toBe(false);
      expect(outcome.detail).toMatch(/^check failed: perl -c app\.psgi failed \(exit 255\); last output: .*(syntax error|Missing right curly)/);
    }
    for (const host of blue()) expect(await served(host)).toMatchObject({ release: 'b2' });
  }, 120_000);

  it('restores the previous release on a host whose new release fails its health probe', async () => {
    const source = world.appVariant('unhealthy', (dir) => {
      const psgi = readFileSync(join(dir, 'app.psgi'), 'utf8');
      const unhealthy = psgi.replace(
        `return [200, ['Content-Type' => 'text/plain'], ["ok\\n"]];`,
        `return [503, ['Content-Type' => 'text/plain'], ["database unreachable\\n"]];`,
      );
      expect(unhealthy).not.toBe(psgi);
      writeFileSync(join(dir, 'app.psgi'), unhealthy);
    });
    const outcomes = await quietRelease('blue', 'b5-unhealthy', { 'release-path': source });
    for (const outcome of outcomes) {
      expect(outcome.ok).toBe(false);
      expect(outcome.restored).toBe(true);
      expect(outcome.detail).toMatch(
        /^probe failed: http:\/\/127\.0\.3\.\d+:5080\/health is not healthy after 4 attempts: answered 503, expected 200; releases\/b2 is live again/,
      );
    }
    for (const host of blue()) {
      expect(await served(host)).toMatchObject({ release: 'b2', color: 'blue' });
      expect((await onHost(host, ['readlink', 'app/current'])).stdout.trim()).toBe('releases/b2');
      // The failed releases were removed, so they never push a good one out of the kept releases.
      expect((await onHost(host, ['ls', '-A', 'app/releases'])).stdout.split('\n').filter(Boolean)).toEqual(['b1', 'b2']);
    }
  }, 120_000);

  it('restarts with restart: starman too: HUP to the master, whose new workers serve the new release', async () => {
    const [g1] = green();
    const inputs = { restart: 'starman', 'app-dir': 'app-starman', 'app-port': String(APP_PORT + 2) };
    expect(await quietRelease('green', 's1', inputs, 1)).toMatchObject([{ ok: true }]);
    expect(await served(g1!, APP_PORT + 2)).toMatchObject({ release: 's1', color: 'green' });
    const master = (await onHost(g1!, ['cat', 'app-starman/run/starman.pid'])).stdout.trim();
    expect(await quietRelease('green', 's2', inputs, 1)).toMatchObject([{ ok: true }]);
    expect(await served(g1!, APP_PORT + 2)).toMatchObject({ release: 's2', color: 'green' });
    // The same master, gracefully restarted: not a second server.
    expect((await onHost(g1!, ['cat', 'app-starman/run/starman.pid'])).stdout.trim()).toBe(master);
  }, 120_000);

  it('fails the release phase naming an unreachable host, while the reachable hosts get the release', async () => {
    // Known (its key is listed) but down: nothing listens on its address.
    const [, , downKey] = green()[0]!.knownHostsLine.split(' ');
    const inputs = world.inputs({
      'green-hosts': [...green().map((h) => h.spec), '127.0.3.99:2222'].join('\n'),
      'ssh-known-hosts': `${world.knownHosts}\n[127.0.3.99]:2222 ssh-ed25519 ${downKey}`,
    });
    const { value: settings } = await captured(() => world.settings(inputs));
    const provider: Provider = {
      inventory: new StaticInventory(settings.provider.name === 'ssh' ? settings.provider.hosts : { blue: [], green: [] }, settings),
      releaser: new HostScriptReleaser(settings, sshTo(settings)),
      // Stands in for the load balancer (not under test here): blue is live and stays so.
      traffic: {
        description: 'a balancer with blue live',
        readLive: async () => ({ kind: 'color', color: 'blue' }),
        moveTo: async () => {
          throw new Error('a deploy must not move traffic');
        },
        previewUrl: () => undefined,
      },
      health: new DirectProbeHealth(settings.health),
      close: async () => undefined,
    };
    const run = await runAction({ ...inputs, release: 'g2' }, provider);
    expect(run.failed).toBe(true);
    const [failure] = errorLines(run.log).filter((line) => line.includes('Release g2 failed'));
    expect(failure).toMatch(
      /Release g2 failed on 1 of 3 green host\(s\): 127\.0\.3\.99:2222: connect failed: Cannot connect to deploy@127\.0\.3\.99:2222 over SSH: connection refused: nothing listens on port 2222\..*Live traffic is untouched/,
    );
    for (const host of green()) expect(await served(host)).toMatchObject({ release: 'g2', color: 'green' });
  }, 120_000);

  it('refuses a host whose key is not the one in ssh-known-hosts, before anything runs there', async () => {
    const [g1] = green();
    const impostor = join(world.dir, 'impostor_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', impostor]);
    const [type, blob] = readFileSync(`${impostor}.pub`, 'utf8').split(' ');
    const knownHosts = world.knownHosts.replace(g1!.knownHostsLine, `[${g1!.address}]:${g1!.port} ${type} ${blob}`);
    const sessionsBefore = world.sshdLog(g1!).split('Starting session').length;
    const outcomes = await quietRelease('green', 'g3', { 'ssh-known-hosts': knownHosts });
    const [refused, other] = outcomes;
    expect(refused?.ok).toBe(false);
    expect(refused?.detail).toMatch(
      new RegExp(
        `^connect failed: Input 'ssh-known-hosts': does not list the ssh-ed25519 key SHA256:\\S+ that \\[${g1!.address.replace(/\./g, '\\.')}\\]:2222 presented, so nothing was run there`,
      ),
    );
    expect(other).toMatchObject({ ok: true });
    // No session was opened on the refused host: its sshd saw no login, its app still serves g2.
    expect(world.sshdLog(g1!).split('Starting session').length).toBe(sessionsBefore);
    expect(await served(g1!)).toMatchObject({ release: 'g2' });
  }, 120_000);

  it('refuses a host that ssh-known-hosts does not list, without connecting', async () => {
    const [g1] = green();
    const runner = connectSsh({ host: g1!.address, port: g1!.port, user: g1!.user }, { ...world.ssh, knownHosts: green()[1]!.knownHostsLine });
    await expect(runner).rejects.toThrow(
      `Input 'ssh-known-hosts': has no key for [${g1!.address}]:2222. Add the line that \`ssh-keyscan -p 2222 ${g1!.address}\` prints`,
    );
  });

  it('connects without verification only when told to, with a warning', async () => {
    const [g1] = green();
    const { log } = await captured(async () => {
      const runner = await connectSsh({ host: g1!.address, port: g1!.port, user: g1!.user }, { ...world.ssh, knownHosts: undefined, skipHostKeyCheck: true });
      expect((await runner.run(['whoami'])).stdout.trim()).toBe(g1!.user);
      await runner.close();
    });
    expect(log).toMatch(
      new RegExp(`::warning::Host key of \\[${g1!.address.replace(/\./g, '\\.')}\\]:2222 accepted without verification \\(ssh-ed25519 SHA256:`),
    );
  });

  it('reaches a host through ssh-jump-host, checking both host keys', async () => {
    const [bastion] = blue();
    const [target] = green();
    const jumpHost = { host: bastion!.address, port: bastion!.port, user: bastion!.user };
    const logins = () => world.sshdLog(bastion!).split(`Accepted publickey for ${bastion!.user}`).length;
    const before = logins();
    const runner = await connectSsh({ host: target!.address, port: target!.port, user: target!.user }, { ...world.ssh, jumpHost });
    try {
      expect((await runner.run(['whoami'])).stdout.trim()).toBe(target!.user);
    } finally {
      await runner.close();
    }
    // The runner logged in to the bastion, which opened the connection to the target.
    expect(logins()).toBe(before + 1);
    const unknownBastion = { ...world.ssh, jumpHost, knownHosts: target!.knownHostsLine };
    await expect(connectSsh({ host: target!.address, port: target!.port, user: target!.user }, unknownBastion)).rejects.toThrow(
      `Input 'ssh-known-hosts': has no key for [${bastion!.address}]:2222`,
    );
  });

  it('carries a release id, app directory and release path full of shell syntax to the host as data', async () => {
    rmSync('/tmp/owned', { force: true });
    const source = world.appVariant(INJECTION);
    const inputs = { 'release-path': source, 'app-dir': `apps/${INJECTION}`, 'app-port': String(APP_PORT + 1) };
    // The settings accept the id as it is: every command quotes it, nothing needs to reject it.
    expect((await captured(() => world.settings({ release: INJECTION, ...inputs }))).value).toMatchObject({
      release: INJECTION,
      hostRelease: { appDir: `apps/${INJECTION}` },
    });
    const outcomes = await quietRelease('green', INJECTION, inputs);
    expect(outcomes.map((o) => o.ok)).toEqual([true, true]);
    expect(existsSync('/tmp/owned')).toBe(false);
    for (const host of green()) {
      expect(await served(host, APP_PORT + 1)).toMatchObject({ release: INJECTION, color: 'green' });
      const listed = await onHost(host, ['ls', `apps/${INJECTION}/releases`]);
      expect(listed.stdout.trim()).toBe("x'; touch %2Ftmp%2Fowned; echo '");
      expect((await onHost(host, ['test', '-e', '/tmp/owned'])).code).toBe(1);
    }
  }, 120_000);
});

describe('a rerun of the same release id', () => {
  // An app directory of its own, so earlier tests' releases do not matter here.
  const inputs = {
    'app-dir': 'app-rerun',
    'app-port': String(APP_PORT + 3),
    'install-command': 'test ! -e "$HOME/install-breaks" && carton install --deployment',
  };
  const generation = async (host: SshHost) => (await onHost(host, ['cat', 'app-rerun/run/start_server.status'])).stdout.trim();

  it('completes a partly failed release: hosts that have it live keep it untouched, the others install it', async () => {
    const [b1, b2] = blue();
    // The install breaks on the second host only: the release is live on the first and not on the second.
    expect((await onHost(b2!, ['touch', 'install-breaks'])).code).toBe(0);
    const first = await quietRelease('blue', 'r1', inputs);
    expect(first.map((o) => o.ok)).toEqual([true, false]);
    expect(first[1]?.detail).toMatch(/^install failed: install-command failed \(exit 1\)/);
    const before = await generation(b1!);

    expect((await onHost(b2!, ['rm', 'install-breaks'])).code).toBe(0);
    const rerun = await quietRelease('blue', 'r1', inputs);
    expect(rerun.map((o) => [o.ok, o.detail])).toEqual([
      [true, 'release r1 is live on this host (releases/r1), unchanged: same content, healthy, not restarted'],
      [true, 'release r1 is live on this host (releases/r1)'],
    ]);
    // Not restarted: the same Server::Starter generation serves on the first host.
    expect(await generation(b1!)).toBe(before);
    for (const host of [b1!, b2!]) expect(await served(host, APP_PORT + 3)).toMatchObject({ release: 'r1', color: 'blue' });
  }, 180_000);

  it('refuses the same id with other content while it is live, naming both digests, and the live release keeps serving', async () => {
    const changed = world.appVariant('r1-changed', (dir) => writeFileSync(join(dir, 'extra.txt'), 'changed\n'));
    const outcomes = await quietRelease('blue', 'r1', { ...inputs, 'release-path': changed });
    for (const outcome of outcomes) {
      expect(outcome.ok).toBe(false);
      expect(outcome.detail).toMatch(
        /^fetch failed: release r1 is live on this host with other content \(live: sha256:[0-9a-f]{64}, this run: sha256:[0-9a-f]{64}\): give changed content a new release id/,
      );
      const [, live, mine] = /live: (sha256:\w+), this run: (sha256:\w+)/.exec(outcome.detail) ?? [];
      expect(live).not.toBe(mine);
    }
    for (const host of blue()) {
      expect(await served(host, APP_PORT + 3)).toMatchObject({ release: 'r1' });
      expect((await onHost(host, ['ls', '-A', 'app-rerun/releases'])).stdout.split('\n').filter(Boolean)).toEqual(['r1']);
    }
  }, 120_000);

  it('installs again a release directory that a stopped run left half-installed', async () => {
    const [b1] = blue();
    // What a run killed during the install of an older version left: files, no record, no local/.
    expect((await onHost(b1!, ['sh', '-c', 'mkdir -p app-rerun/releases/r2 && echo "half a file" > app-rerun/releases/r2/app.psgi'])).code).toBe(0);
    const outcomes = await quietRelease('blue', 'r2', inputs, 1);
    expect(outcomes.map((o) => [o.ok, o.detail])).toEqual([[true, 'release r2 is live on this host (releases/r2)']]);
    expect(await served(b1!, APP_PORT + 3)).toMatchObject({ release: 'r2' });
  }, 120_000);
});

describe('what hosts print', () => {
  it('is shown as data: a host printing workflow commands annotates nothing, masks nothing', async () => {
    const [g1] = green();
    // As a dependency's build could print them; `\r` starts a new line for the runner.
    const install = `echo '::error::x'; echo '::add-mask::hunter2'; echo 'built ##[warning]y'; printf 'b\\r::notice::z\\n'; carton install --deployment`;
    const inputs = { 'app-dir': 'app-output', 'app-port': String(APP_PORT + 4), 'install-command': install };
    const { value: outcomes, log } = await captured(() => release('green', 'o1', inputs, 1));
    expect(outcomes.map((o) => o.ok)).toEqual([true]);
    // (The settings mask the SSH key: those masks are the action's own.)
    const injected = workflowCommands(log).filter((c) => ['error', 'warning', 'notice'].includes(c.name) || c.line.includes('hunter2'));
    expect(injected).toEqual([]);
    // Still in the log, with the host's name in front.
    expect(log).toContain(`[${g1!.address}:${g1!.port}] ::error::x`);
  }, 120_000);
});

describe('the max-parallel-hosts limit', () => {
  it('releases to at most `max-parallel-hosts` hosts at once, and reports them in the order given', async () => {
    let running = 0;
    let most = 0;
    const results = await inParallel([5, 1, 4, 2, 3, 1, 2], 3, async (ms) => {
      most = Math.max(most, ++running);
      await new Promise((resolve) => setTimeout(resolve, ms * 5));
      running--;
      return ms * 10;
    });
    expect(most).toBe(3);
    expect(results).toEqual([50, 10, 40, 20, 30, 10, 20]);
  });
});
