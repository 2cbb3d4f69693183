import { describe, expect, it } from '@jest/globals';
import { LocalRunner, type CommandRunner } from '../src/hosts/command.js';
import { ConnectOnFirstUse } from '../src/hosts/lazy-runner.js';
import { createProvider, runnerForHaproxyHost } from '../src/run/provider.js';
import { readSettings } from '../src/settings.js';
import { HaproxyTraffic } from '../src/traffic/haproxy.js';

function settingsWith(extra: Record<string, string> = {}) {
  const inputs: Record<string, string> = { mode: 'switch', provider: 'ssh', 'app-name': 'shop', 'blue-hosts': '10.0.0.11', 'green-hosts': '10.0.0.21', ...extra };
  return readSettings((name) => inputs[name] ?? '', { GITHUB_SHA: 'abc123' });
}

describe('HAProxy in the provider', () => {
  it('switches through HAProxy on the runner by default, with the default socket, config and binds', async () => {
    const settings = settingsWith();
    expect(settings.traffic).toMatchObject({ haproxySocket: '/run/haproxy/admin.sock', haproxyConfig: '/etc/haproxy/haproxy.cfg', haproxyBind: '*:80', haproxyPreviewBind: '*:8080' });
    const traffic = (await createProvider(settings)).traffic;
    expect(traffic).toBeInstanceOf(HaproxyTraffic);
    expect(traffic.description).toBe('HAProxy on the runner');
    expect((traffic as HaproxyTraffic).mapPath).toBe('/etc/haproxy/haproxy.live.map');
    expect(runnerForHaproxyHost(settings)).toBeInstanceOf(LocalRunner);
  });

  it('reaches a haproxy-host over SSH, connecting only when a command runs', async () => {
    const settings = settingsWith({ 'haproxy-host': 'lb@10.0.0.5:2222' });
    const runner = runnerForHaproxyHost(settings);
    expect(runner).toBeInstanceOf(ConnectOnFirstUse);
    expect(runner.description).toBe('lb@10.0.0.5:2222');
    expect((await createProvider(settings)).traffic.description).toBe('HAProxy on 10.0.0.5');
    // Nothing was connected, so there is nothing to close.
    await runner.close();
  });

  it('derives the preview URL from the preview bind, unless preview-url says where users reach it', async () => {
    const remote = (await createProvider(settingsWith({ 'haproxy-host': 'lb@10.0.0.5' }))).traffic;
    expect(remote.previewUrl('green')).toBe('http://10.0.0.5:8080');
    const bound = (await createProvider(settingsWith({ 'haproxy-preview-bind': '10.1.0.5:8443' }))).traffic;
    expect(bound.previewUrl('green')).toBe('http://10.1.0.5:8443');
    const given = (await createProvider(settingsWith({ 'preview-url': 'https://preview.example.com/' }))).traffic;
    expect(given.previewUrl('green')).toBe('https://preview.example.com');
  });

  it('names the input when a bind is not address:port', () => {
    expect(() => settingsWith({ 'haproxy-bind': '80' })).toThrow("Input 'haproxy-bind': '80' is not valid. Use `address:port` or `*:port`, for example `*:80`");
  });
});

describe('a runner that connects on first use', () => {
  it('connects once for concurrent commands and closes that one connection', async () => {
    let connects = 0;
    let closed = 0;
    const local = new LocalRunner();
    const connected: CommandRunner = { description: 'fake', run: (argv, options) => local.run(argv, options), close: async () => void closed++ };
    const runner = new ConnectOnFirstUse('lb', async () => (connects++, connected));
    const results = await Promise.all([runner.run(['echo', 'a']), runner.run(['echo', 'b'])]);
    expect(results.map((r) => r.stdout)).toEqual(['a\n', 'b\n']);
    expect(connects).toBe(1);
    await runner.close();
    expect(closed).toBe(1);
  });

  it('reports a failed connection to the command that needed it, and closes cleanly after', async () => {
    const runner = new ConnectOnFirstUse('lb', async () => {
      throw new Error('Could not connect to lb@10.0.0.5:22: connection refused');
    });
    await expect(runner.run(['true'])).rejects.toThrow('Could not connect to lb@10.0.0.5:22: connection refused');
    await runner.close();
  });
});
