import { describe, expect, it, jest } from '@jest/globals';
import { PassThrough, type Duplex } from 'node:stream';
import { ConnectionLost } from '../src/errors.js';
import { LocalRunner, type Argv, type CommandRunner } from '../src/hosts/command.js';
import { ConnectOnFirstUse } from '../src/hosts/lazy-runner.js';
import { createProvider, runnerForHaproxyHost } from '../src/run/provider.js';
import { readSettings } from '../src/settings.js';
import { HaproxyTraffic } from '../src/traffic/haproxy.js';

function settingsWith(extra: Record<string, string> = {}) {
  const inputs: Record<string, string> = {
    mode: 'switch',
    provider: 'ssh',
    'app-name': 'shop',
    'blue-hosts': '10.0.0.11',
    'green-hosts': '10.0.0.21',
    ...extra,
  };
  return readSettings((name) => inputs[name] ?? '', { GITHUB_SHA: 'abc123' });
}

describe('HAProxy in the provider', () => {
  it('switches through HAProxy on the runner by default, with the default socket, config and binds', async () => {
    const settings = settingsWith();
    expect(settings.traffic).toMatchObject({
      haproxySocket: '/run/haproxy/admin.sock',
      haproxyConfig: '/etc/haproxy/haproxy.cfg',
      haproxyBind: '*:80',
      haproxyPreviewBind: '*:8080',
    });
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

  it('opens a held-open command (the runtime API session) over a new connection when the held one dropped before it started', async () => {
    const opened: string[] = [];
    let connects = 0;
    const connection = (n: number, lost?: ConnectionLost): CommandRunner => ({
      description: `connection ${n}`,
      run: async () => ({ code: 0, stdout: '', stderr: '' }),
      open: async (argv: Argv): Promise<Duplex> => {
        if (lost) throw lost;
        opened.push(`${argv[0]} over connection ${n}`);
        return new PassThrough();
      },
      close: async () => undefined,
    });
    const dropped = new ConnectionLost('The SSH connection to lb was lost (Keepalive timeout) before socat could start there, so nothing of it ran', false);
    const runner = new ConnectOnFirstUse('lb', async () => (++connects === 1 ? connection(1, dropped) : connection(connects)));
    const printed: string[] = [];
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => printed.push(String(chunk)) > 0);
    try {
      await runner.open(['socat', 'stdio', 'unix-connect:/run/haproxy/admin.sock']);
    } finally {
      jest.restoreAllMocks();
    }
    expect(opened).toEqual(['socat over connection 2']);
    expect(printed).toEqual([`${dropped.message}; connected to lb again and ran it over the new connection.\n`]);
  });

  it('does not open a held-open command again when the connection dropped while it ran, nor when connecting again fails', async () => {
    const started = new ConnectionLost('The SSH connection to lb was lost (reset) while socat ran there, so whether it finished is not known', true);
    let connects = 0;
    const failing = (lost: ConnectionLost): CommandRunner => ({
      description: 'lb',
      run: async () => ({ code: 0, stdout: '', stderr: '' }),
      open: async () => Promise.reject(lost),
      close: async () => undefined,
    });
    const once = new ConnectOnFirstUse('lb', async () => (connects++, failing(started)));
    await expect(once.open(['socat'])).rejects.toBe(started);
    expect(connects).toBe(1);

    const notStarted = new ConnectionLost(
      'The SSH connection to lb was lost (the connection closed) before socat could start there, so nothing of it ran',
      false,
    );
    let attempts = 0;
    const gone = new ConnectOnFirstUse('lb', async () => {
      if (++attempts > 1) throw new Error('Cannot connect to lb over SSH: connection refused');
      return failing(notStarted);
    });
    await expect(gone.open(['socat'])).rejects.toThrow(`${notStarted.message}; connecting again failed: Cannot connect to lb over SSH: connection refused`);
  });
});
