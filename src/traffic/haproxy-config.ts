import { COLORS, type Color } from '../colors.js';
import { UserError } from '../errors.js';
import type { Host } from '../providers/types.js';

/**
 * The haproxy.cfg the action manages, rendered from the inventory. Pure: no I/O here, so the text
 * is unit-tested and the executor (haproxy.ts) only moves files and talks to HAProxy.
 *
 * How the live color is chosen: the live frontend's `use_backend` looks up the key `live` in a map
 * file; the preview frontend looks up `preview`. A switch changes the map at runtime (`set map`,
 * no reload) and writes the same two lines to the map file, which HAProxy reads at every start and
 * reload, so the live color survives both.
 */

/** Backend of each color, and the one used while nothing is live (it answers 503). */
export const BACKENDS = { blue: 'bg_blue', green: 'bg_green', none: 'bg_none' } as const;
/**
 * Keys of the map file. `split` is the percentage of live requests sent to the preview color
 * instead: 0 except during the steps of a progressive switch (`traffic-steps`).
 */
export const MAP_KEYS = { live: 'live', preview: 'preview', split: 'split' } as const;
/**
 * The cookie that keeps a client on one color during a progressive switch: HAProxy sets it to the
 * backend that answered a client without one, and while the split lasts a request carrying it goes
 * to that backend, so a page and its assets come from one release. When the split ends (split 0:
 * the last step, or a move back) it is ignored and everyone follows the live key.
 */
export const STICKY_COOKIE = 'bg_color';

/** HAProxy's health checks of every server: every `inter` ms; `rise` good ones bring a DOWN server UP, `fall` bad ones take it DOWN. */
export const SERVER_CHECKS = { interMs: 2000, rise: 2, fall: 2 } as const;

export interface HaproxyLayout {
  /** The haproxy.cfg the action writes. */
  configPath: string;
  /** Admin socket (runtime API); `expose-fd listeners` on it makes reloads seamless. */
  socketPath: string;
  bind: string;
  previewBind: string;
}

/** How HAProxy checks the servers of a backend, and the port it sends requests to. */
export interface BackendChecks {
  appPort: number;
  healthPath: string;
  expectedStatus: number;
}

export interface HaproxyMembers extends BackendChecks {
  hosts: Record<Color, Host[]>;
  /**
   * Checks to keep for a color instead of this run's (`installedChecks`): the color that serves
   * traffic keeps what it was checked with, so a new `health-path` cannot mark it DOWN.
   */
  kept?: Partial<Record<Color, BackendChecks>>;
}

/** The map file sits beside the config: `/etc/haproxy/haproxy.cfg` -> `/etc/haproxy/haproxy.live.map`. */
export function mapPathFor(configPath: string): string {
  return `${configPath.replace(/\.cfg$/, '')}.live.map`;
}

export function backendOf(color: Color): string {
  return BACKENDS[color];
}

/** The color a backend name stands for; undefined for `bg_none`; an error for anything else. */
export function colorOfBackend(backend: string): Color | undefined {
  if (backend === BACKENDS.none) return undefined;
  const color = COLORS.find((c) => BACKENDS[c] === backend);
  if (!color) throw new UserError(`HAProxy's live map points at backend '${backend}', which is neither ${BACKENDS.blue} nor ${BACKENDS.green}.`);
  return color;
}

/**
 * A host's server name in HAProxy: its inventory name, with characters HAProxy does not allow in
 * identifiers replaced by `_` (`[::1]:22` -> `_::1_:22`). `show stat` reports it, and
 * balancer health maps it back to the host through this same function.
 */
export function serverNameOf(host: Host): string {
  return host.name.replace(/[^A-Za-z0-9._:-]/g, '_');
}

/** `address:port` as HAProxy reads it; IPv6 addresses in brackets. */
function serverAddress(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/**
 * A value spliced into the config as one word: HAProxy would read a space as the next argument,
 * `#` as a comment and quotes or `\` as quoting, so those are refused rather than escaped.
 */
function word(value: string, what: string): string {
  if (!/^[\x21-\x7e]+$/.test(value) || /[#"'\\$]/.test(value)) {
    throw new UserError(`${what} '${value}' cannot be written into haproxy.cfg: use no spaces, quotes, \`#\`, \`$\` or \`\\\`.`);
  }
  return value;
}

/** The map file's text: which backend the live and the preview frontends use, and the split between them. */
export function renderLiveMap(live: Color | undefined, preview: Color, split = 0): string {
  return [
    '# Written by bluegreen-perl; HAProxy reads it at start and reload. Switch with the action (set map + this file), not by hand.',
    `${MAP_KEYS.live} ${live ? backendOf(live) : BACKENDS.none}`,
    `${MAP_KEYS.preview} ${backendOf(preview)}`,
    `${MAP_KEYS.split} ${split}`,
    '',
  ].join('\n');
}

/** Reads a map file back: key -> value. Comments and blank lines are skipped. */
export function parseLiveMap(text: string): Map<string, string> {
  const entries = new Map<string, string>();
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value && !key.startsWith('#')) entries.set(key, value);
  }
  return entries;
}

export function renderHaproxyConfig(layout: HaproxyLayout, members: HaproxyMembers): string {
  const mapPath = word(mapPathFor(layout.configPath), 'haproxy-config');
  const lookup = (key: string) => `%[str(${key}),map(${mapPath},${BACKENDS.none})]`;
  const lines = [
    '# Rendered by bluegreen-perl from the inventory of both colors. A run that finds hosts added or',
    '# removed renders it again, checks it with `haproxy -c`, keeps the previous file as .previous and',
    '# reloads HAProxy. The live color is not in this file: it is in the map file named below.',
    'global',
    '  master-worker',
    // expose-fd listeners: a reloading worker takes the listening sockets over, so no connection is refused.
    `  stats socket ${word(layout.socketPath, 'haproxy-socket')} mode 600 level admin expose-fd listeners`,
    '  stats timeout 30s',
    '',
    'defaults',
    '  mode http',
    '  timeout connect 5s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  timeout http-keep-alive 10s',
    // Keep-alive towards the clients only: a pooled server-side connection would pin a Starman worker.
    '  option http-server-close',
    '  option forwardfor',
    // A server that refuses a connection (it just stopped) costs a retry on another server, not an error.
    '  retries 3',
    '  option redispatch 1',
    '',
    'frontend live',
    `  bind ${word(layout.bind, 'haproxy-bind')}`,
    // A progressive switch: `split`% of requests (rand(100) below it) go to the preview color.
    `  http-request set-var(txn.bluegreen_split) str(${MAP_KEYS.split}),map(${mapPath},0)`,
    '  acl bluegreen_splitting var(txn.bluegreen_split) -m int gt 0',
    // During a split a client keeps the color its cookie names; one without gets one with its answer.
    `  acl bluegreen_pinned req.cook(${STICKY_COOKIE}) -m str ${BACKENDS.blue} ${BACKENDS.green}`,
    '  http-request set-var(txn.bluegreen_pinned) bool(1) if bluegreen_pinned',
    ...COLORS.map((color) => `  use_backend ${backendOf(color)} if bluegreen_splitting { req.cook(${STICKY_COOKIE}) -m str ${backendOf(color)} }`),
    `  use_backend ${lookup(MAP_KEYS.preview)} if { rand(100),sub(txn.bluegreen_split) lt 0 }`,
    `  use_backend ${lookup(MAP_KEYS.live)}`,
    `  http-response add-header Set-Cookie "${STICKY_COOKIE}=%[be_name]; Path=/; HttpOnly; SameSite=Lax" if { var(txn.bluegreen_split) -m int gt 0 } !{ var(txn.bluegreen_pinned) -m bool } { be_name -m str ${BACKENDS.blue} ${BACKENDS.green} }`,
    '',
    '# Reaches the idle color without touching live traffic; keep it private.',
    'frontend preview',
    `  bind ${word(layout.previewBind, 'haproxy-preview-bind')}`,
    `  use_backend ${lookup(MAP_KEYS.preview)}`,
    '',
    `backend ${BACKENDS.none}`,
    '  http-request return status 503 content-type text/plain string "No color is live yet."',
  ];
  for (const color of COLORS) {
    const checks = members.kept?.[color] ?? members;
    lines.push(
      '',
      `backend ${backendOf(color)}`,
      '  balance roundrobin',
      `  option httpchk GET ${word(checks.healthPath, 'health-path')}`,
      `  http-check expect status ${checks.expectedStatus}`,
      `  default-server check inter ${SERVER_CHECKS.interMs / 1000}s fall ${SERVER_CHECKS.fall} rise ${SERVER_CHECKS.rise}`,
    );
    const seen = new Map<string, Host>();
    for (const host of members.hosts[color]) {
      const name = serverNameOf(host);
      const other = seen.get(name);
      if (other)
        throw new UserError(`Hosts ${other.name} and ${host.name} of the ${color} color get the same HAProxy server name ${name}. List each host once.`);
      seen.set(name, host);
      lines.push(`  server ${name} ${word(serverAddress(host.address, checks.appPort), `The address of host ${host.name}`)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The checks and port each color's backend has in a config this module rendered: its `option
 * httpchk` path, `http-check expect status` and its servers' port. A color whose backend is
 * missing or not in that form (a config of someone else's) is left out.
 */
export function installedChecks(config: string): Partial<Record<Color, BackendChecks>> {
  const found: Partial<Record<Color, BackendChecks>> = {};
  const sections = config.split(/\n(?=\S)/);
  for (const color of COLORS) {
    const section = sections.find((text) => text.startsWith(`backend ${backendOf(color)}\n`));
    const healthPath = section && /^\s+option httpchk GET (\S+)$/m.exec(section)?.[1];
    const expectedStatus = section && /^\s+http-check expect status (\d+)$/m.exec(section)?.[1];
    const appPort = section && /^\s+server \S+ \S*:(\d+)$/m.exec(section)?.[1];
    if (healthPath && expectedStatus && appPort) found[color] = { healthPath, expectedStatus: Number(expectedStatus), appPort: Number(appPort) };
  }
  return found;
}
