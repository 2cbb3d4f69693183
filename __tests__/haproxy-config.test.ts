import { afterAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Color } from '../src/colors.js';
import { UserError } from '../src/errors.js';
import type { Host } from '../src/providers/types.js';
import {
  colorOfBackend,
  installedChecks,
  mapPathFor,
  parseLiveMap,
  renderHaproxyConfig,
  renderLiveMap,
  serverNameOf,
  type HaproxyLayout,
} from '../src/traffic/haproxy-config.js';

const dir = mkdtempSync(join(tmpdir(), 'bgp-haproxy-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const host = (name: string, color: Color, address = name): Host => ({ name, color, address });
const layout: HaproxyLayout = { configPath: join(dir, 'haproxy.cfg'), socketPath: join(dir, 'admin.sock'), bind: '*:80', previewBind: '127.0.0.1:8080' };
const members = {
  hosts: {
    blue: [host('10.0.0.11', 'blue'), host('10.0.0.12', 'blue')],
    green: [host('web-green-1', 'green', '10.0.1.21'), host('[fd00::5]:2222', 'green', 'fd00::5')],
  },
  appPort: 5000,
  healthPath: '/health',
  expectedStatus: 200,
};

/** The lines of one section (`backend bg_blue`), trimmed, without comments. */
function section(config: string, header: string): string[] {
  const lines = config.split('\n');
  const start = lines.indexOf(header);
  expect(start).toBeGreaterThanOrEqual(0);
  const body: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith(' ')) {
      if (line.startsWith('#')) continue;
      break;
    }
    body.push(line.trim());
  }
  return body;
}

describe('the rendered haproxy.cfg', () => {
  const config = renderHaproxyConfig(layout, members);
  const mapPath = join(dir, 'haproxy.live.map');

  it('runs master-worker with an admin socket that hands listeners to a reloading worker', () => {
    expect(section(config, 'global')).toEqual([
      'master-worker',
      `stats socket ${layout.socketPath} mode 600 level admin expose-fd listeners`,
      'stats timeout 30s',
    ]);
  });

  it('keeps server-side connections short, so pooled connections cannot pin Starman workers', () => {
    expect(section(config, 'defaults')).toContain('option http-server-close');
  });

  it('picks the live backend from the map file, and the preview backend from the same file on its own bind', () => {
    expect(mapPathFor(layout.configPath)).toBe(mapPath);
    expect(section(config, 'frontend live')).toEqual([
      'bind *:80',
      `http-request set-var(txn.bluegreen_split) str(split),map(${mapPath},0)`,
      'acl bluegreen_splitting var(txn.bluegreen_split) -m int gt 0',
      'acl bluegreen_pinned req.cook(bg_color) -m str bg_blue bg_green',
      'http-request set-var(txn.bluegreen_pinned) bool(1) if bluegreen_pinned',
      'use_backend bg_blue if bluegreen_splitting { req.cook(bg_color) -m str bg_blue }',
      'use_backend bg_green if bluegreen_splitting { req.cook(bg_color) -m str bg_green }',
      `use_backend %[str(preview),map(${mapPath},bg_none)] if { rand(100),sub(txn.bluegreen_split) lt 0 }`,
      `use_backend %[str(live),map(${mapPath},bg_none)]`,
      'http-response add-header Set-Cookie "bg_color=%[be_name]; Path=/; HttpOnly; SameSite=Lax" if { var(txn.bluegreen_split) -m int gt 0 } !{ var(txn.bluegreen_pinned) -m bool } { be_name -m str bg_blue bg_green }',
    ]);
    expect(section(config, 'frontend preview')).toEqual(['bind 127.0.0.1:8080', `use_backend %[str(preview),map(${mapPath},bg_none)]`]);
  });

  it('has one backend per color with an HTTP health check and a server per host', () => {
    expect(section(config, 'backend bg_blue')).toEqual([
      'balance roundrobin',
      'option httpchk GET /health',
      'http-check expect status 200',
      'default-server check inter 2s fall 2 rise 2',
      'server 10.0.0.11 10.0.0.11:5000',
      'server 10.0.0.12 10.0.0.12:5000',
    ]);
    expect(section(config, 'backend bg_green').slice(-2)).toEqual(['server web-green-1 10.0.1.21:5000', 'server _fd00::5_:2222 [fd00::5]:5000']);
  });

  it('answers 503 while nothing is live', () => {
    expect(section(config, 'backend bg_none')).toEqual(['http-request return status 503 content-type text/plain string "No color is live yet."']);
  });

  it('is accepted by haproxy -c, with its map file', () => {
    writeFileSync(layout.configPath, config);
    writeFileSync(mapPath, renderLiveMap('blue', 'green'));
    expect(execFileSync('haproxy', ['-c', '-f', layout.configPath], { encoding: 'utf8' })).toMatch(/Configuration file is valid/);
  });

  it('uses the health path and expected status of the inputs', () => {
    const custom = renderHaproxyConfig(layout, { ...members, healthPath: '/status/ready', expectedStatus: 204 });
    expect(section(custom, 'backend bg_green')).toEqual(expect.arrayContaining(['option httpchk GET /status/ready', 'http-check expect status 204']));
  });

  it('keeps the installed checks and port of a color that serves traffic, read back from the installed file', () => {
    const installed = renderHaproxyConfig(layout, members);
    expect(installedChecks(installed)).toEqual({
      blue: { healthPath: '/health', expectedStatus: 200, appPort: 5000 },
      green: { healthPath: '/health', expectedStatus: 200, appPort: 5000 },
    });
    const next = renderHaproxyConfig(layout, {
      ...members,
      healthPath: '/ready',
      expectedStatus: 204,
      appPort: 5001,
      kept: { blue: installedChecks(installed).blue },
    });
    expect(section(next, 'backend bg_blue')).toEqual(
      expect.arrayContaining(['option httpchk GET /health', 'http-check expect status 200', 'server 10.0.0.11 10.0.0.11:5000']),
    );
    expect(section(next, 'backend bg_green')).toEqual(
      expect.arrayContaining(['option httpchk GET /ready', 'http-check expect status 204', 'server _fd00::5_:2222 [fd00::5]:5001']),
    );
    expect(installedChecks(next).green).toEqual({ healthPath: '/ready', expectedStatus: 204, appPort: 5001 });
    expect(installedChecks('global\n  master-worker\n')).toEqual({});
  });

  it('refuses a value that would change the meaning of the config, naming the input', () => {
    expect(() => renderHaproxyConfig({ ...layout, bind: '*:80 ssl' }, members)).toThrow(
      new UserError("haproxy-bind '*:80 ssl' cannot be written into haproxy.cfg: use no spaces, quotes, `#`, `$` or `\\`."),
    );
    expect(() => renderHaproxyConfig(layout, { ...members, healthPath: '/health#x' })).toThrow(/^health-path '\/health#x'/);
  });

  it('refuses two hosts of a color that would get the same server name', () => {
    const clash = { ...members, hosts: { blue: [host('a b', 'blue', '10.0.0.1'), host('a_b', 'blue', '10.0.0.2')], green: [] } };
    expect(() => renderHaproxyConfig(layout, clash)).toThrow('Hosts a b and a_b of the blue color get the same HAProxy server name a_b. List each host once.');
  });
});

describe('the live map file', () => {
  it('says which backend is live and which is previewed, and reads back', () => {
    const text = renderLiveMap('green', 'blue');
    expect(text.split('\n').filter((line) => !line.startsWith('#'))).toEqual(['live bg_green', 'preview bg_blue', 'split 0', '']);
    expect(parseLiveMap(text)).toEqual(
      new Map([
        ['live', 'bg_green'],
        ['preview', 'bg_blue'],
        ['split', '0'],
      ]),
    );
    expect(parseLiveMap(renderLiveMap('green', 'blue', 10)).get('split')).toBe('10');
    expect(parseLiveMap(renderLiveMap(undefined, 'blue')).get('live')).toBe('bg_none');
  });

  it('maps backends back to colors, and refuses a backend that is not ours', () => {
    expect(colorOfBackend('bg_blue')).toBe('blue');
    expect(colorOfBackend('bg_none')).toBeUndefined();
    expect(() => colorOfBackend('legacy')).toThrow("HAProxy's live map points at backend 'legacy', which is neither bg_blue nor bg_green.");
  });

  it('names servers so that show stat maps back to hosts', () => {
    expect(serverNameOf(host('10.0.0.11:2222', 'blue'))).toBe('10.0.0.11:2222');
    expect(serverNameOf(host('[::1]:22', 'blue'))).toBe('_::1_:22');
  });
});
