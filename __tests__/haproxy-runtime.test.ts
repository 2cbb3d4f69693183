import { describe, expect, it } from '@jest/globals';
import { UserError } from '../src/errors.js';
import { LocalRunner } from '../src/hosts/command.js';
import { commandLine, runtime, runtimeWordProblem, socatArgv, socketPathProblem, type MapKey, type ServerState } from '../src/traffic/haproxy-runtime.js';
import { HaproxyTraffic, type HaproxyOptions } from '../src/traffic/haproxy.js';

const MAP = '/etc/haproxy/haproxy.live.map';

describe('HAProxy runtime API commands', () => {
  it('makes each command as the one line HAProxy reads', () => {
    expect(runtime.prompt()).toBe('prompt');
    expect(runtime.showInfo()).toBe('show info');
    expect(runtime.showStat()).toBe('show stat');
    expect(runtime.showMaps()).toBe('show map');
    expect(runtime.showMap(MAP)).toBe(`show map ${MAP}`);
    expect(runtime.setMap(MAP, 'live', 'bg_green')).toBe(`set map ${MAP} live bg_green`);
    expect(runtime.setMap(MAP, 'split', '20')).toBe(`set map ${MAP} split 20`);
    expect(runtime.addMap(MAP, 'preview', 'bg_blue')).toBe(`add map ${MAP} preview bg_blue`);
    expect(runtime.setServerState('bg_blue', '10.0.0.11', 'maint')).toBe('set server bg_blue/10.0.0.11 state maint');
    expect(runtime.setServerState('bg_green', '_::1_:22', 'ready')).toBe('set server bg_green/_::1_:22 state ready');
  });

  it('refuses a word that would start another argument or another command, naming it', () => {
    const another = [
      `${MAP}; shutdown sessions server bg_blue/a`,
      `${MAP}\nshutdown frontend fe_live`,
      '/etc/my haproxy/live.map',
      '/etc/haproxy/live.map\t',
      '/etc/ha\\proxy.map',
      '/etc/#haproxy.map',
      "/etc/'haproxy'.map",
      '',
    ];
    for (const path of another) expect(() => runtime.showMap(path)).toThrow(`runtime API: ${JSON.stringify(path)} `);
    expect(() => runtime.setMap(MAP, 'live', 'bg_green;shutdown')).toThrow('has `;` or `\\`');
    expect(() => runtime.setMap(MAP, 'live', '')).toThrow('is empty');
    expect(() => runtime.setServerState('bg_blue', 'a state ready; disable server bg_green', 'maint')).toThrow('has a space');
    expect(() => runtime.setServerState('bg_blue', 'a/b;', 'maint')).toThrow('has `;`');
  });

  it('takes only the map keys and server states HAProxy is told about', () => {
    expect(() => runtime.setMap(MAP, 'shutdown' as MapKey, 'x')).toThrow("'shutdown' is not a key of the map file (live, preview, split)");
    expect(() => runtime.setServerState('bg_blue', 'a', 'up' as ServerState)).toThrow("'up' is not a server state (ready, drain, maint)");
  });

  it('says why a word cannot go into a command, for the input errors', () => {
    expect(runtimeWordProblem(MAP)).toBeUndefined();
    expect(runtimeWordProblem('/srv/hä/proxy.map')).toBeUndefined();
    expect(runtimeWordProblem('/a b')).toMatch(/^has a space/);
    expect(runtimeWordProblem('/a;b')).toMatch(/^has `;` or `\\`/);
    expect(runtimeWordProblem('/a#b')).toMatch(/^has `#` or a quote/);
  });

  it('gives several commands to one socat process as one line', () => {
    expect(commandLine([runtime.showMap(MAP), runtime.showStat()])).toBe(`show map ${MAP}; show stat\n`);
    expect(() => commandLine([])).toThrow('no command');
  });

  it('reaches the admin socket through socat only by a plain path', () => {
    expect(socatArgv('/run/haproxy/admin.sock')).toEqual(['socat', 'stdio', 'unix-connect:/run/haproxy/admin.sock']);
    expect(socatArgv('/run/haproxy/admin.sock', 10)).toEqual(['socat', '-t', '10', 'stdio', 'unix-connect:/run/haproxy/admin.sock']);
    expect(socketPathProblem('/run/haproxy-2.8/admin@1.sock')).toBeUndefined();
    expect(socketPathProblem('run/admin.sock')).toBe('is not an absolute path');
    // socat would read the rest as address options or another address.
    for (const path of ['/run/admin.sock,unlink-early', '/run/admin.sock!!exec:sh', '/run/a:b.sock', '/run/a b.sock']) {
      expect(socketPathProblem(path)).toMatch(/^has a character other than/);
      expect(() => socatArgv(path)).toThrow('runtime API: the admin socket path');
    }
  });
});

describe('the HAProxy switch checks its paths when built', () => {
  const options = (extra: Partial<HaproxyOptions>): HaproxyOptions => ({
    description: 'HAProxy on the runner',
    configPath: '/etc/haproxy/haproxy.cfg',
    socketPath: '/run/haproxy/admin.sock',
    bind: '*:80',
    previewBind: '*:8080',
    appPort: 5000,
    healthPath: '/health',
    expectedStatus: 200,
    initialColor: 'blue',
    drainTimeoutMs: 1000,
    ...extra,
  });
  const build = (extra: Partial<HaproxyOptions>) => new HaproxyTraffic(new LocalRunner(), { hostsOf: async () => [] }, options(extra));

  it('names the input whose path cannot go into a runtime API command or socat address', () => {
    expect(build({}).mapPath).toBe('/etc/haproxy/haproxy.live.map');
    expect(() => build({ configPath: '/etc/haproxy;x/haproxy.cfg' })).toThrow(UserError);
    expect(() => build({ configPath: '/etc/haproxy;x/haproxy.cfg' })).toThrow(
      "Input 'haproxy-config': '/etc/haproxy;x/haproxy.cfg' has `;` or `\\`, which would start another command or escape one in HAProxy's runtime API (the map file /etc/haproxy;x/haproxy.live.map). Use a plain path such as /etc/haproxy/haproxy.cfg.",
    );
    expect(() => build({ socketPath: '/run/haproxy/admin.sock,fork' })).toThrow(
      "Input 'haproxy-socket': '/run/haproxy/admin.sock,fork' has a character other than letters, digits and `_ . @ + = / -` (socat would read `,` or `:` as part of its address). Use a plain path such as /run/haproxy/admin.sock.",
    );
  });
});
