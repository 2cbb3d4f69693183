import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirectProbeHealth } from '../src/health/direct.js';
import { probeUntilHealthy } from '../src/health/probe.js';
import { createProvider } from '../src/run/provider.js';
import type { Host, Provider } from '../src/providers/types.js';
import { readSettings, type Settings } from '../src/settings.js';
import { NetnsBastion } from '../lab/netns-bastion.js';

// A private host behind a bastion, as a GitHub-hosted runner meets one: the app (127.0.50.10:5080)
// and the bastion's sshd live in a network namespace this test creates; the runner reaches only the
// bastion (127.0.50.1:2222, see lab/netns-bastion.ts). The bastion permits forwarding to the app
// and to 127.0.50.11:5080, where nothing listens.
const APP = { host: '127.0.50.10', port: 5080 };
const NOTHING_THERE = '127.0.50.11:5080';
const FORBIDDEN = '127.0.50.12:5080';

/** A private key the bastion does not know. */
function otherKey(): string {
  const dir = mkdtempSync(join(tmpdir(), 'bgp-probe-via-'));
  try {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'key')]);
    return readFileSync(join(dir, 'key'), 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function settingsOf(inputs: Record<string, string>): Settings {
  const all: Record<string, string> = {
    mode: 'deploy',
    provider: 'ssh',
    'app-name': 'shop',
    release: 'r1',
    'blue-hosts': `deploy@${APP.host}`,
    'green-hosts': 'deploy@127.0.50.20',
    'app-port': String(APP.port),
    'ssh-private-key': 'unused',
    ...inputs,
  };
  return readSettings((name) => all[name] ?? '', {});
}

describe('probe-via: which way health probes go', () => {
  it('auto goes through the jump host when ssh-jump-host is set, directly otherwise', () => {
    expect(settingsOf({ 'ssh-jump-host': 'bastion.example.com' }).health.probeVia).toBe('jump-host');
    expect(settingsOf({}).health.probeVia).toBeUndefined();
    expect(settingsOf({ 'ssh-jump-host': 'bastion.example.com', 'probe-via': 'direct' }).health.probeVia).toBeUndefined();
    expect(settingsOf({ 'ssh-jump-host': 'bastion.example.com', 'probe-via': 'jump-host' }).health.probeVia).toBe('jump-host');
  });

  it('jump-host without a jump host is refused in one line naming the input and the fix', () => {
    expect(() => settingsOf({ 'probe-via': 'jump-host' })).toThrow(
      /^Input 'probe-via': 'jump-host' needs ssh-jump-host, which is empty\. Set ssh-jump-host to the bastion, or set probe-via to auto or direct/,
    );
    expect(() => settingsOf({ 'probe-via': 'sometimes' })).toThrow(/probe-via.*'sometimes' is not one of auto, direct, jump-host/);
  });
});

describe('health probes through a real sshd bastion to a host the runner cannot reach', () => {
  let bastion: NetnsBastion;
  let provider: Provider;
  let settings: Settings;
  const host: Host = { name: APP.host, color: 'blue', address: APP.host, healthUrl: `http://${APP.host}:${APP.port}/health` };

  beforeAll(async () => {
    bastion = await NetnsBastion.start({ address: '127.0.50.1', port: 2222, app: APP, permitOpen: [`${APP.host}:${APP.port}`, NOTHING_THERE] });
    settings = settingsOf({
      'ssh-jump-host': bastion.spec,
      'ssh-private-key': bastion.privateKey,
      'ssh-known-hosts': bastion.knownHostsLine,
      'health-timeout': '1',
      'health-retries': '2',
      'health-interval': '0.1',
    });
    provider = await createProvider(settings);
  }, 30_000);

  afterAll(async () => {
    await provider?.close();
    await bastion?.stop();
  }, 30_000);

  it('a direct probe from the runner finds nothing there: the host is private', async () => {
    const direct = await new DirectProbeHealth(settings.health).check([host]);
    expect(direct[0]).toMatchObject({ ok: false, probe: { error: 'connection refused', attempts: 3 } });
  });

  it('the same probe through the jump host reaches the app, and the bastion opened the connection', async () => {
    const before = bastion.forwards().length;
    const [health] = await new DirectProbeHealth(settings.health, provider.probeVia).check([host]);
    expect(health).toMatchObject({ ok: true, probe: { status: 200, attempts: 1, body: `private app on ${APP.host}:${APP.port} answered 200\n` } });
    expect(bastion.forwards().slice(before)).toEqual([`${APP.host}:${APP.port}`]);
  });

  it('an unexpected status, a timeout and a refused connection read as they do for direct probes, with the retries', async () => {
    const via = { via: provider.probeVia! };
    const broken = await probeUntilHealthy(`http://${APP.host}:${APP.port}/broken`, settings.health, via);
    expect(broken).toMatchObject({ ok: false, status: 500, attempts: 3, error: 'answered 500, expected 200' });
    const hanging = await probeUntilHealthy(`http://${APP.host}:${APP.port}/hang`, { ...settings.health, retries: 0 }, via);
    expect(hanging).toMatchObject({ ok: false, attempts: 1, error: 'no answer within 1s (through the jump host 127.0.50.1:2222)' });
    const nothing = await probeUntilHealthy(`http://${NOTHING_THERE}/health`, { ...settings.health, retries: 0 }, via);
    expect(nothing.ok).toBe(false);
    expect(nothing.error).toMatch(
      /^the jump host 127\.0\.50\.1:2222 could not open a connection to 127\.0\.50\.11:5080: Channel open failure: Connection refused\. Check that .* \(AllowTcpForwarding, PermitOpen\), or set probe-via: direct$/,
    );
    const forbidden = await probeUntilHealthy(`http://${FORBIDDEN}/health`, { ...settings.health, retries: 0 }, via);
    expect(forbidden.error).toMatch(
      /^the jump host 127\.0\.50\.1:2222 could not open a connection to 127\.0\.50\.12:5080: Channel open failure: open failed\. Check that /,
    );
  });

  it('every probe of the run shares one login on the bastion; after close the next probe logs in again', async () => {
    const logins = bastion.logins();
    const many = await new DirectProbeHealth(settings.health, provider.probeVia).check([host, { ...host, name: 'again' }, { ...host, name: 'and again' }]);
    expect(many.map((h) => h.ok)).toEqual([true, true, true]);
    // Earlier probes of this run already logged in once; these three added no login.
    expect(bastion.logins()).toBe(logins);
    expect(logins).toBe(1);
    await provider.close();
    const [again] = await new DirectProbeHealth(settings.health, provider.probeVia).check([host]);
    expect(again?.ok).toBe(true);
    expect(bastion.logins()).toBe(2);
  });

  it('a jump host that refuses the runner fails the probe with why, as an SSH connection would', async () => {
    const stranger = await createProvider(
      settingsOf({ 'ssh-jump-host': bastion.spec, 'ssh-private-key': otherKey(), 'ssh-known-hosts': bastion.knownHostsLine, 'health-retries': '0' }),
    );
    const [health] = await new DirectProbeHealth({ ...settings.health, retries: 0 }, stranger.probeVia).check([host]);
    await stranger.close();
    expect(health?.ok).toBe(false);
    expect(health?.probe?.error).toMatch(/^Cannot connect to the jump host root@127\.0\.50\.1:2222 over SSH: the host refused the key for user root\./);
  });

  it('probe-via direct leaves probes on the runner even with a jump host', async () => {
    const direct = await createProvider(settingsOf({ 'ssh-jump-host': bastion.spec, 'probe-via': 'direct' }));
    expect(direct.probeVia).toBeUndefined();
    await direct.close();
  });
});
