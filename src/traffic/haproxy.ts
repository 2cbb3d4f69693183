import * as core from '@actions/core';
import { otherColor, type Color } from '../colors.js';
import { ConnectionLost, UserError, messageOf, oneLine } from '../errors.js';
import type { Argv, CommandResult, CommandRunner } from '../hosts/command.js';
import { describeLive, liveColor } from '../live-traffic.js';
import type { BalancerHostState, Host, Inventory, LiveTraffic, Traffic } from '../providers/types.js';
import { waitUntil } from '../retry.js';
import type { Settings } from '../settings.js';
import { commandLine, runtime, runtimeWordProblem, socatArgv, socketPathProblem, type MapKey, type RuntimeCommand } from './haproxy-runtime.js';
import { RuntimeSession, isStopping } from './haproxy-session.js';
import {
  MAP_KEYS,
  SERVER_CHECKS,
  backendOf,
  colorOfBackend,
  installedChecks,
  mapPathFor,
  renderHaproxyConfig,
  renderLiveMap,
  serverNameOf,
  type BackendChecks,
  type HaproxyLayout,
} from './haproxy-config.js';

export interface HaproxyOptions extends HaproxyLayout {
  /** For the plan and the summary: `HAProxy on lb1`. */
  description: string;
  appPort: number;
  healthPath: string;
  expectedStatus: number;
  /** Where the preview route goes while nothing is live: the color the first release goes to. */
  initialColor: Color;
  drainTimeoutMs: number;
  /** The preview route as users reach it; derived from the preview bind when not given. */
  previewUrl?: string;
  /** Host name of the HAProxy host, for the derived preview URL; undefined when HAProxy is local. */
  haproxyHost?: string;
  /** How long a reload may take to bring up the new worker. */
  reloadTimeoutMs?: number;
  /** How long newly loaded servers may take to finish their first health check. */
  checkSettleMs?: number;
}

/** One row of `show stat`, by column name. */
export type StatRow = Record<string, string>;

/** No single command (a file write, `haproxy -c`, a runtime API call) may hang a run longer. */
const RUN_TIMEOUT_MS = 30_000;
const POLL_MS = 100;

/** How long HAProxy may take to answer `prompt` on a new session before each command starts socat instead. */
const SESSION_OPEN_TIMEOUT_MS = 5_000;
/** How long a command on the session may wait for its answer (as socat's `-t 10`): HAProxy answers in milliseconds. */
const SESSION_ANSWER_TIMEOUT_MS = 10_000;
/**
 * How many times a run that could not hold a session open (HAProxy restarting, its admin socket
 * briefly missing) tries again, each before a switch: enough for a restart, bounded for an HAProxy
 * whose admin socket never takes a session.
 */
const SESSION_REOPENS = 3;

/** A runtime API command HAProxy did not answer; `reason` is what the connection reported. */
class RuntimeApiError extends UserError {
  constructor(
    message: string,
    readonly reason: string,
  ) {
    super(message);
  }
}

/** The HAProxy host gave the session no channel: a problem of the connection to it, not of the session. */
class NoChannel extends Error {
  constructor(override readonly cause: unknown) {
    super(failureOf(cause));
  }
}

/**
 * Live traffic through an HAProxy the action manages (haproxy-config.ts renders its config).
 *
 * - Switch: `set map` on the admin socket changes the live color for the next request, with no
 *   reload and no connection dropped, and the same choice is written to the map file on disk
 *   (temp file + rename) so a reload or restart keeps it.
 * - Membership: the hosts of both colors are rendered into haproxy.cfg when HAProxy's view is
 *   first needed in a run (balancer health, before verify; and before a switch). Nothing happens
 *   when the rendered file equals the installed one. Otherwise: `haproxy -c`, previous file kept
 *   as `.previous`, new file renamed into place, seamless reload (SIGUSR2 to the master), and on a
 *   failed reload the previous file is put back and the reason reported.
 * - Every command goes through the CommandRunner: the same code runs HAProxy on the runner or on a
 *   load balancer host over SSH.
 */
export class HaproxyTraffic implements Traffic {
  readonly description: string;
  readonly mapPath: string;
  private membersSynced?: Promise<string>;
  private lastLive?: LiveTraffic;
  /** The color traffic left at the last switch, and how many of its sessions were open then. */
  private leftBehind?: { color: Color; open: number };
  /** The runtime API session held open for the run (haproxy-session.ts), opened on first use. */
  private session?: Promise<RuntimeSession | undefined>;
  /** Set when a session could not be opened: each command starts socat, until a switch holds one open again. */
  private perProcess = false;
  /** How many times this run tried again to hold a session open after falling back to socat. */
  private sessionReopens = 0;

  constructor(
    private readonly runner: CommandRunner,
    private readonly inventory: Inventory,
    private readonly options: HaproxyOptions,
  ) {
    this.description = options.description;
    this.mapPath = mapPathFor(options.configPath);
    // The map path goes into runtime API commands and the socket path into socat's address: refused
    // here, naming the input, by the rules haproxy-runtime.ts applies to every command it makes.
    const mapProblem = runtimeWordProblem(this.mapPath);
    if (mapProblem)
      throw new UserError(
        `Input 'haproxy-config': '${options.configPath}' ${mapProblem} in HAProxy's runtime API (the map file ${this.mapPath}). Use a plain path such as /etc/haproxy/haproxy.cfg.`,
      );
    const socketProblem = socketPathProblem(options.socketPath);
    if (socketProblem)
      throw new UserError(`Input 'haproxy-socket': '${options.socketPath}' ${socketProblem}. Use a plain path such as /run/haproxy/admin.sock.`);
  }

  /**
   * Which color HAProxy routes to, from its own runtime map. Only a complete answer counts: an empty
   * one (a worker that does not answer), the master CLI's "Unknown command", or anything else that
   * is not our map is refused, never read as "nothing live" (that would send a deploy to the live
   * hosts). HAProxy without our map is "nothing live" only when it routes to no server at all (a
   * stock config before the first run); with servers it runs a config we cannot read, so refuse.
   */
  async readLive(): Promise<LiveTraffic> {
    const snapshot = await this.snapshot();
    if (snapshot.map === undefined) await this.refuseForeignConfig(snapshot.stats);
    return this.liveOf(snapshot.map);
  }

  /** HAProxy does not know our map: fine while it routes to no server, else it runs a config we cannot read. */
  private async refuseForeignConfig(stats: StatRow[]): Promise<void> {
    const servers = stats.filter((row) => row.svname !== 'FRONTEND' && row.svname !== 'BACKEND').map((row) => `${row.pxname}/${row.svname}`);
    if (servers.length === 0) return;
    // The maps it does use: a config rendered for another haproxy-config path shows up here.
    const maps = [...(await this.command(runtime.showMaps())).matchAll(/^\d+ \((.+?)\) pattern loaded from file/gm)].map((m) => m[1]);
    const shown = servers.length > 5 ? `${servers.slice(0, 5).join(', ')} and ${servers.length - 5} more` : servers.join(', ');
    throw new UserError(
      `HAProxy on ${this.runner.description} does not know the map ${this.mapPath} (from haproxy-config ${this.options.configPath}) but routes to servers (${shown}), so which color is live cannot be told. ${maps.length ? `It uses ${maps.join(', ')}: set haproxy-config to the config beside it` : 'Set haproxy-config to the file HAProxy runs'}. Nothing was changed.`,
    );
  }

  private liveOf(entries: Map<string, string> | undefined): LiveTraffic {
    // A running HAProxy without our map and without servers (checked by readLive): nothing is live yet.
    const color = liveKeyColor(entries);
    const preview = entries?.get(MAP_KEYS.preview);
    const previewColor = preview === undefined ? undefined : colorOfBackend(preview);
    const split = Number(entries?.get(MAP_KEYS.split) ?? 0);
    if (color && previewColor && previewColor !== color && split > 0 && split < 100) {
      this.lastLive = { kind: 'weighted', weights: { [color]: 100 - split, [previewColor]: split } as Record<Color, number> };
    } else {
      this.lastLive = color ? { kind: 'color', color } : { kind: 'none' };
    }
    return this.lastLive;
  }

  async moveTo(color: Color, hosts: Host[]): Promise<string> {
    if (hosts.length === 0) throw new UserError(`No ${color} hosts to move traffic to.`);
    await this.syncMembersOnce();
    const switched = await this.routeTo(color, { live: color, preview: otherColor(color), split: 0 });
    const from = liveKeyColor(switched.before.map);
    const after = await this.snapshot();
    const now = this.liveOf(after.map);
    if (liveColor(now) !== color) {
      throw new UserError(
        `HAProxy still reports ${liveColor(now) ?? 'nothing'} live after set map ${MAP_KEYS.live} ${backendOf(color)}. Check ${this.mapPath} on ${this.runner.description}.`,
      );
    }
    this.leftBehind = from && from !== color ? { color: from, open: sessionsIn(after.stats, from) } : undefined;
    return `${color} is live through ${this.options.description} (set map, no reload; saved in ${this.mapPath})${from && from !== color ? `, was ${from}` : ''}`;
  }

  /**
   * A step of a progressive switch: `percent` of live requests go to `color` (the preview color),
   * the rest stay on the live color; through the map's `split` key, with no reload, saved on disk.
   */
  async shiftTo(color: Color, percent: number, hosts: Host[]): Promise<string> {
    if (hosts.length === 0) throw new UserError(`No ${color} hosts to send traffic to.`);
    await this.syncMembersOnce();
    const live = liveKeyColor(await this.showMap());
    if (!live || live === color)
      throw new UserError(
        `A progressive step sends part of the traffic from the live color to the other one, but ${live ?? 'nothing'} is live in ${this.description}.`,
      );
    const shifted = await this.routeTo(color, { live, preview: color, split: percent });
    const now = this.liveOf((await this.snapshot()).map);
    if (now.kind !== 'weighted' || now.weights[color] !== percent) {
      throw new UserError(
        `HAProxy does not report ${percent}% on ${color} after set map ${MAP_KEYS.split} ${percent}. Check ${this.mapPath} on ${this.runner.description}.`,
      );
    }
    const before = this.liveOf(shifted.before.map);
    return `${percent}% of requests to ${color}, ${100 - percent}% to ${live} (set map, no reload)${before.kind === 'weighted' ? `, was ${before.weights[color]}%` : ''}`;
  }

  previewUrl(color: Color): string | undefined {
    // The preview route reaches the idle color only.
    if (this.lastLive?.kind === 'color' && this.lastLive.color === color) return undefined;
    if (this.options.previewUrl) return this.options.previewUrl;
    const [, address, port] = /^(.*):(\d+)$/.exec(this.options.previewBind) ?? [];
    const listening = !address || address === '*' || address === '0.0.0.0' || address === '[::]' ? undefined : address;
    const host = listening ?? this.options.haproxyHost ?? '127.0.0.1';
    return `http://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`;
  }

  async balancerHealth(color: Color, hosts: Host[]): Promise<Map<string, BalancerHostState>> {
    await this.syncMembersOnce();
    // A server HAProxy marked DOWN while its app was not running (a color's first release) comes
    // UP only after `rise` good checks, `inter` apart: poll for as long as that takes, plus one check.
    const read = async (): Promise<Map<string, BalancerHostState>> => {
      const byServer = new Map((await this.settledServers(color)).map((row) => [row.svname ?? '', row]));
      const view = new Map<string, BalancerHostState>();
      for (const host of hosts) {
        const row = byServer.get(serverNameOf(host));
        if (row) view.set(host.name, { up: isUp(row.status ?? ''), state: describeServer(row) });
      }
      return view;
    };
    const allUp = (view: Map<string, BalancerHostState>) => hosts.every((host) => view.get(host.name)?.up);
    return (await waitUntil(read, allUp, { deadlineMs: SERVER_CHECKS.interMs * (SERVER_CHECKS.rise + 1), intervalMs: POLL_MS * 2 })).value;
  }

  async drain(from: Color): Promise<string> {
    const open = this.leftBehind?.color === from ? this.leftBehind.open : await this.sessionsOn(from);
    if (open === 0) return `0 connection(s) were open on ${from} when the switch completed`;
    // The first check is the count at hand; then HAProxy is asked again every POLL_MS.
    const count = ({ attempt }: { attempt: number }) => (attempt === 0 ? Promise.resolve(open) : this.sessionsOn(from));
    const { value: current, elapsedMs } = await waitUntil(count, (n) => n === 0, { deadlineMs: this.options.drainTimeoutMs, intervalMs: POLL_MS });
    const seconds = (elapsedMs / 1000).toFixed(1);
    if (current === 0) return `${open} connection(s) were open on ${from} when the switch completed; all finished after ${seconds}s`;
    const detail = `${open} connection(s) were open on ${from} when the switch completed; ${current} still open after the drain timeout of ${this.options.drainTimeoutMs / 1000}s (HAProxy lets them finish)`;
    core.warning(detail, { title: `Drain of ${from} timed out` });
    return detail;
  }

  /** Closes the runtime API session and the connection to the HAProxy host, if they were opened. */
  async close(): Promise<void> {
    this.dropSession();
    await this.runner.close();
  }

  /** Renders the config from both colors' hosts and installs it when it changed; once per run. */
  private syncMembersOnce(): Promise<string> {
    this.membersSynced ??= this.ensureMembers().then((detail) => (core.info(`HAProxy: ${detail}`), detail));
    return this.membersSynced;
  }

  /**
   * Makes HAProxy's servers match the inventory: renders haproxy.cfg and, when it differs from the
   * installed file, validates, installs and reloads it. Returns a detail line.
   */
  async ensureMembers(): Promise<string> {
    const [blue, green] = await Promise.all([this.inventory.hostsOf('blue'), this.inventory.hostsOf('green')]);
    const installed = await this.readFile(this.options.configPath);
    const kept = installed === undefined ? {} : await this.servingChecks(installed);
    const { appPort, healthPath, expectedStatus } = this.options;
    const config = renderHaproxyConfig(this.options, { hosts: { blue, green }, appPort, healthPath, expectedStatus, kept });
    const changed = Object.entries(kept)
      .filter(([, checks]) => checks.healthPath !== healthPath || checks.expectedStatus !== expectedStatus || checks.appPort !== appPort)
      .map(
        ([color, checks]) =>
          `; ${color} serves traffic, so it keeps its installed check (GET ${checks.healthPath} expecting ${checks.expectedStatus}, port ${checks.appPort}) until a run releases to it`,
      );
    if (installed === config) return `${this.options.configPath} is up to date (${blue.length} blue, ${green.length} green server(s))${changed.join('')}`;
    await this.installConfig(config, installed);
    return `${this.options.configPath} rendered with ${blue.length} blue and ${green.length} green server(s), validated and reloaded${changed.join('')}`;
  }

  /**
   * The installed checks of the colors HAProxy routes live traffic to (both during a split): this
   * run's health settings are for the color it releases to, and applied to a serving color they
   * could mark every live server DOWN (a new health path the running release does not answer).
   */
  private async servingChecks(installed: string): Promise<Partial<Record<Color, BackendChecks>>> {
    const live = this.liveOf(await this.showMap());
    const serving: Color[] = live.kind === 'color' ? [live.color] : live.kind === 'weighted' ? ['blue', 'green'] : [];
    const checks = installedChecks(installed);
    return Object.fromEntries(serving.flatMap((color) => (checks[color] ? [[color, checks[color]]] : [])));
  }

  /** Validate, keep the previous file, rename the new one into place, reload; put the previous one back on failure. */
  private async installConfig(config: string, installed: string | undefined): Promise<void> {
    const path = this.options.configPath;
    const candidate = `${path}.new`;
    // The new config names the map file, so it must exist (and say what HAProxy routes to right
    // now) before `haproxy -c` reads it and before reloaded workers load it.
    await this.persistRuntimeMap();
    await this.mustRun(['sh', '-c', 'cat > "$1"', 'sh', candidate], `write ${candidate}`, config);
    // haproxy lives in an sbin directory, which a login over SSH as a plain user has no PATH entry for.
    const haproxy = ['sh', '-c', 'PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin" exec haproxy "$@"', 'haproxy'];
    const check = await this.runner.run([...haproxy, '-c', '-f', candidate], { timeoutMs: RUN_TIMEOUT_MS });
    if (check.code !== 0) {
      await this.runner.run(['rm', '-f', '--', candidate]);
      throw new UserError(
        `The rendered HAProxy config does not validate (haproxy -c): ${haproxyErrors(check)}. ${path} is unchanged and HAProxy keeps running it.`,
      );
    }
    if (installed !== undefined) await this.mustRun(['cp', '-p', '--', path, `${path}.previous`], `keep ${path}.previous`);
    await this.mustRun(['mv', '-f', '--', candidate, path], `install ${path}`);
    try {
      await this.reload();
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      if (installed === undefined) throw new UserError(`HAProxy did not load the new ${path}: ${reason}. There was no previous file to restore.`);
      await this.writeFileAtomically(path, installed);
      let restored = 'HAProxy keeps running the previous config';
      try {
        await this.reload();
        restored = 'HAProxy reloaded it';
      } catch (again) {
        restored = `reloading it failed too (${again instanceof Error ? again.message : String(again)}); HAProxy's running workers are untouched`;
      }
      throw new UserError(`HAProxy did not load the new ${path}: ${reason}. The previous config was restored to ${path}; ${restored}.`);
    }
  }

  /**
   * Seamless reload of a master-worker HAProxy: SIGUSR2 to the master, which starts new workers
   * that take the listening sockets over (`expose-fd listeners`). The master is found as the parent
   * of the worker answering on the admin socket, so no pid file location has to be guessed; the
   * reload counts as done when a new worker answers there.
   */
  async reload(): Promise<void> {
    const worker = await this.workerPid();
    const ps = await this.mustRun(['ps', '-o', 'ppid=', '-p', worker], `find HAProxy's master process`);
    const master = /^\s*(\d+)/.exec(ps.stdout)?.[1];
    const masterName = await this.runner.run(['ps', '-o', 'comm=', '-p', master ?? '0']);
    if (!master || masterName.stdout.trim() !== 'haproxy') {
      throw new UserError(
        `HAProxy on ${this.runner.description} does not run in master-worker mode (worker ${worker} has no haproxy master), so it cannot reload without dropping connections. Start it with \`haproxy -Ws -f ${this.options.configPath}\` (Debian's haproxy.service does).`,
      );
    }
    await this.mustRun(['kill', '-USR2', master], `signal HAProxy's master ${master}`);
    // The first check is the worker at hand; then the socket is asked every POLL_MS.
    const current = ({ attempt }: { attempt: number }) => (attempt === 0 ? Promise.resolve(worker) : this.workerPid().catch(() => worker));
    const replaced = await waitUntil(current, (pid) => pid !== worker, { deadlineMs: this.options.reloadTimeoutMs ?? 15_000, intervalMs: POLL_MS });
    if (replaced.done) return;
    throw new Error(
      `no new worker answered on ${this.options.socketPath} within ${(this.options.reloadTimeoutMs ?? 15_000) / 1000}s (see HAProxy's log, for example journalctl -u haproxy)`,
    );
  }

  /** Rows of `show stat` for the servers of `color`, once none of them waits for its first check. */
  private async settledServers(color: Color): Promise<StatRow[]> {
    const rows = async () => serversOf(await this.showStat(), color);
    return (await waitUntil(rows, (r) => !r.some(awaitsFirstCheck), { deadlineMs: this.options.checkSettleMs ?? 10_000, intervalMs: POLL_MS })).value;
  }

  private async sessionsOn(color: Color): Promise<number> {
    return sessionsIn(await this.showStat(), color);
  }

  private async writeMapFile(live: Color | undefined, preview: Color, split = 0): Promise<void> {
    await this.writeFileAtomically(this.mapPath, renderLiveMap(live, preview, split));
  }

  /** Writes the map file from HAProxy's runtime map (when it has ours), or a first one when there is none. */
  private async persistRuntimeMap(): Promise<void> {
    const runtime = await this.showMap();
    const text = runtime && mapFileText(runtime, this.options.initialColor);
    if (text !== undefined) {
      await this.writeFileAtomically(this.mapPath, text);
    } else if ((await this.readFile(this.mapPath)) === undefined) {
      await this.writeMapFile(undefined, this.options.initialColor);
    }
  }

  /**
   * The switch: refused (nothing changed) unless a server of the target is UP. Returns what HAProxy
   * reported before the switch.
   */
  private async routeTo(target: Color, route: { live: Color; preview: Color; split: number }): Promise<{ before: Snapshot }> {
    await this.reopenSession();
    let routed = await this.tryRoute(target, route);
    if (routed.refused && serversOf(routed.before.stats, target).some(awaitsFirstCheck)) {
      // Servers HAProxy just loaded have not been checked yet: wait for their first check, once.
      await this.settledServers(target);
      routed = await this.tryRoute(target, route);
    }
    if (routed.refused) {
      const states = serversOf(routed.before.stats, target).map((row) => `${row.svname} ${describeServer(row)}`);
      const from = describeLive(this.liveOf(routed.before.map));
      throw new UserError(
        `HAProxy has no ${target} server UP (backend ${backendOf(target)}: ${states.join(', ') || 'no servers'}), so it would answer 503. Live traffic is untouched (${from === 'none' ? 'nothing live' : from}).`,
      );
    }
    return routed;
  }

  /**
   * Routes traffic: the live and preview backends and the split between them, unless no server of
   * `target` is UP. Reads `show map; show stat` (parsed here), writes the map file (temp + rename:
   * the file is never behind what HAProxy routes to), then `set map`. Over the held-open session
   * with a local HAProxy, no process starts between the UP check and `set map`; with a remote one
   * the file write is a command on that host, so the UP check is repeated after it.
   */
  private async tryRoute(target: Color, route: { live: Color; preview: Color; split: number }): Promise<{ before: Snapshot; refused: boolean }> {
    const entries: [MapKey, string][] = [
      [MAP_KEYS.live, backendOf(route.live)],
      [MAP_KEYS.preview, backendOf(route.preview)],
      [MAP_KEYS.split, String(route.split)],
    ];
    const failed = (detail: string) =>
      new UserError(
        `Could not switch HAProxy on ${this.runner.description} to ${target}: ${detail}. Check that HAProxy runs, that input haproxy-socket names its \`stats socket\`, and that ${this.mapPath} is writable.`,
      );
    const reasonOf = (error: unknown) => (error instanceof RuntimeApiError ? error.reason : messageOf(error));
    const before = await this.snapshot().catch((error: unknown) => {
      throw error instanceof RuntimeApiError ? failed(error.reason) : error;
    });
    if (!serversOf(before.stats, target).some(switchable)) return { before, refused: true };
    try {
      await this.writeFileAtomically(this.mapPath, renderLiveMap(route.live, route.preview, route.split));
    } catch (error) {
      // A connection to the HAProxy host lost before the write started: nothing changed, and its own
      // message says so (the phase runner names the step); not a reason to check HAProxy or the file.
      if (error instanceof ConnectionLost && !error.commandStarted) throw error;
      if (error instanceof ConnectionLost) throw new ConnectionLost(`${sentence(error.message)} ${await this.restoreMapFile(before.map)}`, true);
      throw failed(reasonOf(error));
    }
    try {
      if (!this.writesLocally() && !serversOf(await this.showStat(), target).some(switchable)) {
        await this.restoreMapFile(before.map);
        return { before, refused: true };
      }
      const answer = await this.command(...entries.map(([key, value]) => runtime.setMap(this.mapPath, key, value)));
      // An answer means a key was missing from the runtime map (a file trimmed by hand, or written by an older version): set them one by one.
      if (answer.trim() !== '') for (const [key, value] of entries) await this.setMap(key, value);
    } catch (error) {
      // The map file already names the new route; left so, a later reload or restart would route
      // there, unvalidated. Put it back to what HAProxy routes to now.
      const restored = await this.restoreMapFile(before.map);
      if (error instanceof ConnectionLost) throw new ConnectionLost(`${sentence(error.message)} ${restored}`, error.commandStarted);
      const message = error instanceof RuntimeApiError ? failed(error.reason).message : messageOf(error);
      throw new UserError(`${message} ${restored}`);
    }
    return { before, refused: false };
  }

  /**
   * After a failed `set map`: writes the map file from HAProxy's runtime map (what it routes to
   * now, whatever part of the switch took effect), or from what it routed to before the switch
   * when the runtime map cannot be read. Returns a sentence saying which.
   */
  private async restoreMapFile(before: Map<string, string> | undefined): Promise<string> {
    // A map with a backend that is not ours cannot be written back as ours: treat it as unreadable.
    const textOf = (entries: Map<string, string> | undefined) => {
      try {
        return entries && mapFileText(entries);
      } catch {
        return undefined;
      }
    };
    const runtime = await this.showMap().catch(() => undefined);
    const [entries, what] = textOf(runtime)
      ? [runtime, 'to what HAProxy routes to now']
      : [before, 'to what HAProxy routed to before this switch (its runtime map could not be read)'];
    const text = textOf(entries);
    if (!text) return `${this.mapPath} may name the new route: check it before HAProxy reloads.`;
    try {
      await this.writeFileAtomically(this.mapPath, text);
      return `${this.mapPath} was put back ${what} (${MAP_KEYS.live} ${entries?.get(MAP_KEYS.live) ?? ''}).`;
    } catch (error) {
      return `Putting ${this.mapPath} back failed too (${messageOf(error)}): check it before HAProxy reloads.`;
    }
  }

  private async setMap(key: MapKey, value: string): Promise<void> {
    const set = runtime.setMap(this.mapPath, key, value);
    const answer = await this.command(set);
    // `set map` only changes existing keys; a map file someone trimmed by hand lacks one.
    const final = /entry not found/i.test(answer) ? await this.command(runtime.addMap(this.mapPath, key, value)) : answer;
    if (final.trim() !== '') throw new UserError(`HAProxy refused \`${set}\`: ${final.trim()}`);
  }

  /** The runtime map, or undefined when the running config does not use our map file. */
  private async showMap(): Promise<Map<string, string> | undefined> {
    const show = runtime.showMap(this.mapPath);
    return parseShowMap(await this.command(show), this.unreadable(show));
  }

  /** Describes an answer that is not what HAProxy's admin socket gives, as the error to refuse with. */
  private unreadable(command: string): (answer: string) => UserError {
    return (answer) => {
      const said = oneLine(answer).slice(0, 120);
      return new UserError(
        `HAProxy's admin socket ${this.options.socketPath} on ${this.runner.description} gave no readable answer to \`${command}\` (${said ? `it said: ${said}` : 'an empty answer: is its worker stopped or hung?'}), so which color is live cannot be told. Nothing was changed. Check that HAProxy runs and that input haproxy-socket names its \`stats socket ... level admin\`, not the master CLI.`,
      );
    };
  }

  async showStat(): Promise<StatRow[]> {
    return parseShowStat(await this.command(runtime.showStat()));
  }

  /** The runtime map and the stats, read in one call. */
  private async snapshot(): Promise<Snapshot> {
    const commands = [runtime.showMap(this.mapPath), runtime.showStat()];
    return parseSnapshot(await this.command(...commands), this.unreadable(commands.join('; ')));
  }

  private async workerPid(): Promise<string> {
    const pid = /^Pid:\s*(\d+)/m.exec(await this.command(runtime.showInfo()))?.[1];
    if (!pid) throw new UserError(`HAProxy's admin socket ${this.options.socketPath} did not report a process id.`);
    return pid;
  }

  /**
   * Runtime API commands (made by haproxy-runtime.ts), answers as one text, as a one-shot connection gives them.
   * Over the held-open session when there is one: a session that ended (HAProxy's `stats timeout`,
   * a restart) or that a reload left with the old worker is replaced once; when no session can be
   * opened, each call starts socat.
   */
  async command(...commands: RuntimeCommand[]): Promise<string> {
    for (let attempt = 1; ; attempt++) {
      const session = await this.runtimeSession();
      if (!session) return this.commandByProcess(commands);
      try {
        // `show info` first, in the same round trip: a worker a reload replaced says `Stopping: 1`.
        const [info = '', ...answers] = await session.sendAll([runtime.showInfo(), ...commands], SESSION_ANSWER_TIMEOUT_MS);
        if (!isStopping(info)) return answers.join('');
        if (attempt > 1) throw new Error('the worker answering is stopping (a reload replaced it)');
        this.dropSession();
      } catch (error) {
        this.dropSession();
        const reason = failureOf(error);
        if (attempt > 1) throw this.noAnswer(commands, reason);
        core.info(`HAProxy: the runtime API session ended (${reason}); opening another.`);
      }
    }
  }

  /** One runtime API command line through a socat process: the path when no session could be held open. */
  private async commandByProcess(commands: readonly RuntimeCommand[]): Promise<string> {
    // `-t`: the time HAProxy gets to answer after the commands are sent.
    const result = await this.runner.run(socatArgv(this.options.socketPath, SESSION_ANSWER_TIMEOUT_MS / 1000), {
      stdin: commandLine(commands),
      timeoutMs: RUN_TIMEOUT_MS,
    });
    if (result.code !== 0) {
      // socat starts each message with a timestamp and its pid: `2026/01/05 10:00:00 socat[4242] E connect(...): Connection refused`.
      const reason = oneLine(result.stderr.replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d(\.\d+)? socat\[\d+\] [A-Z] /gm, '')) || `exit ${result.code}`;
      throw this.noAnswer(commands, reason);
    }
    return result.stdout;
  }

  /** The error of runtime API commands HAProxy did not answer, over the session or through socat. */
  private noAnswer(commands: readonly RuntimeCommand[], reason: string): RuntimeApiError {
    return new RuntimeApiError(
      `HAProxy's admin socket ${this.options.socketPath} on ${this.runner.description} did not answer \`${verbOf(commands)}\`: ${reason}. Check that HAProxy runs and that input haproxy-socket names its \`stats socket\`.`,
      reason,
    );
  }

  /** The session held open for the run, opened on first use; undefined (said once in the log) when it cannot be. */
  private runtimeSession(): Promise<RuntimeSession | undefined> {
    if (this.perProcess) return Promise.resolve(undefined);
    this.session ??= this.openSession().catch((error: unknown) => {
      this.session = undefined;
      // No channel to the HAProxy host (it is unreachable, and connecting again failed): a socat per
      // command would meet the same, so the command fails with that; a later one tries again.
      if (error instanceof NoChannel) throw error.cause;
      this.perProcess = true;
      // A session that ended and could not be replaced may have used up the tries already.
      const tries = this.canHoldSession() ? SESSION_REOPENS - this.sessionReopens : 0;
      const again = tries > 0 ? ` until a switch holds a session open again (at most ${tries} more tries)` : '';
      core.info(
        `HAProxy: could not hold a runtime API session open on ${this.options.socketPath} on ${this.runner.description} (${failureOf(error)}); each command starts socat instead${again}.`,
      );
      return undefined;
    });
    return this.session;
  }

  /**
   * Before a switch, a run that fell back to one socat per command tries again to hold a session
   * open: a run that met HAProxy mid-restart need not switch slower for the rest of its life. At
   * most SESSION_REOPENS times a run, and never longer than SESSION_OPEN_TIMEOUT_MS, so a switch
   * waits no more than that for it; a try that fails leaves the run on socat, whose answers are
   * the same.
   */
  private async reopenSession(): Promise<void> {
    if (!this.perProcess || this.sessionReopens >= SESSION_REOPENS || !this.canHoldSession()) return;
    const attempt = ++this.sessionReopens;
    const where = `${this.options.socketPath} on ${this.runner.description}`;
    this.perProcess = false;
    this.session = this.openSessionWithin(SESSION_OPEN_TIMEOUT_MS).then(
      (session) => {
        core.info(`HAProxy: a runtime API session is held open again on ${where}; commands go over it instead of socat.`);
        return session;
      },
      (error: unknown) => {
        this.session = undefined;
        this.perProcess = true;
        const reason = failureOf(error instanceof NoChannel ? error.cause : error);
        if (attempt < SESSION_REOPENS) core.debug(`HAProxy: still no runtime API session on ${where} (${reason}); a later switch tries again.`);
        else
          core.info(
            `HAProxy: still no runtime API session on ${where} after ${SESSION_REOPENS} more tries (${reason}); each command starts socat for the rest of the run.`,
          );
        return undefined;
      },
    );
    await this.session;
  }

  /** The runner can hold a conversation open: Node's own socket, or one channel to socat. */
  private canHoldSession(): boolean {
    return this.runner.connectSocket !== undefined || this.runner.open !== undefined;
  }

  /** A session opened within `timeoutMs`, connecting included; one that comes later is closed. */
  private openSessionWithin(timeoutMs: number): Promise<RuntimeSession> {
    const opening = this.openSession();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no session within ${timeoutMs / 1000}s`)), timeoutMs);
    });
    return Promise.race([opening, late])
      .catch((error: unknown) => {
        void opening.then(
          (session) => session.close(),
          () => undefined,
        );
        throw error;
      })
      .finally(() => clearTimeout(timer));
  }

  /**
   * Node's own socket to a local admin socket; one SSH channel to `socat` on a remote host (a lost
   * connection is connected again, once, by the runner, as for any command that had not started).
   */
  private async openSession(): Promise<RuntimeSession> {
    const socket = this.options.socketPath;
    if (this.runner.connectSocket) return RuntimeSession.over(await this.runner.connectSocket(socket), SESSION_OPEN_TIMEOUT_MS);
    if (this.runner.open) {
      const channel = await this.runner.open(socatArgv(socket)).catch((error: unknown) => {
        throw new NoChannel(error);
      });
      return RuntimeSession.over(
        channel,
        SESSION_OPEN_TIMEOUT_MS,
        `socat on ${this.runner.description} ended: HAProxy or the connection to the host closed the session`,
      );
    }
    throw new Error(`commands on ${this.runner.description} cannot be held open`);
  }

  private dropSession(): void {
    const session = this.session;
    this.session = undefined;
    void session?.then((open) => open?.close());
  }

  /** The HAProxy host is this machine: files are written by Node, with no process started. */
  private writesLocally(): boolean {
    return this.runner.writeFile !== undefined;
  }

  private async readFile(path: string): Promise<string | undefined> {
    // Exit 3 for a missing file: cat's own message depends on the host's locale.
    const result = await this.runner.run(['sh', '-c', '[ -e "$1" ] || exit 3; cat -- "$1"', 'sh', path], { timeoutMs: RUN_TIMEOUT_MS });
    if (result.code === 0) return result.stdout;
    if (result.code === 3) return undefined;
    throw new UserError(`Could not read ${path} on ${this.runner.description}: ${oneLine(result.stderr)}`);
  }

  /** Temp file + rename: a reader (or a reload) sees the old file or the new one, never half of one. */
  private async writeFileAtomically(path: string, content: string): Promise<void> {
    if (this.runner.writeFile) {
      try {
        await this.runner.writeFile(path, content);
        return;
      } catch (error) {
        throw new UserError(`Could not write ${path} on ${this.runner.description}: ${messageOf(error)}`);
      }
    }
    await this.mustRun(['sh', '-c', 'cat > "$1" && mv -f -- "$1" "$2"', 'sh', `${path}.bluegreen-tmp`, path], `write ${path}`, content);
  }

  private async mustRun(argv: Argv, what: string, stdin?: string): Promise<CommandResult> {
    const result = await this.runner.run(argv, { timeoutMs: RUN_TIMEOUT_MS, ...(stdin !== undefined && { stdin }) });
    if (result.code !== 0) throw new UserError(`Could not ${what} on ${this.runner.description}: ${oneLine(result.stderr) || `exit ${result.code}`}`);
    return result;
  }
}

interface Snapshot {
  map: Map<string, string> | undefined;
  stats: StatRow[];
}

type Unreadable = (answer: string) => UserError;

/** The map file's text for a runtime map that has the live and preview keys; undefined otherwise. */
function mapFileText(entries: Map<string, string>, previewWhenNone: Color = 'blue'): string | undefined {
  const live = entries.get(MAP_KEYS.live);
  const preview = entries.get(MAP_KEYS.preview);
  if (live === undefined || preview === undefined) return undefined;
  return renderLiveMap(colorOfBackend(live), colorOfBackend(preview) ?? previewWhenNone, Number(entries.get(MAP_KEYS.split) ?? 0));
}

/** The answer to `show map <file>; show stat`: the map's lines come before the stats header. */
function parseSnapshot(answer: string, unreadable: Unreadable): Snapshot {
  const header = answer.search(/^# pxname,/m);
  if (header < 0) throw unreadable(answer);
  return { map: parseShowMap(answer.slice(0, header), unreadable), stats: parseShowStat(answer.slice(header)) };
}

/**
 * `show map <file>` lines are `0x55d0c0a0 live bg_blue`, and HAProxy ends every answer with an
 * empty line (an empty map answers just that); undefined when HAProxy does not know the map. Any
 * other answer (nothing at all, the master CLI's "Unknown command") is unreadable, never "empty".
 */
function parseShowMap(answer: string, unreadable: Unreadable): Map<string, string> | undefined {
  if (/^Unknown map identifier\b.*\n\n$/.test(answer)) return undefined;
  const lines = answer.split('\n');
  const complete = answer === '\n' || answer.endsWith('\n\n');
  const entries = lines.slice(0, -2).map((line) => /^0x[0-9a-f]+ (\S+) (\S+)$/i.exec(line));
  if (!complete || entries.some((entry) => !entry)) throw unreadable(answer);
  return new Map(entries.map((entry) => [entry?.[1] ?? '', entry?.[2] ?? '']));
}

/** `show stat` CSV, one record per line keyed by the header's column names. */
function parseShowStat(answer: string): StatRow[] {
  const [header, ...lines] = answer.split('\n');
  const columns = (header ?? '').replace(/^#\s*/, '').split(',');
  return lines.filter((line) => line.trim() !== '').map((line) => Object.fromEntries(line.split(',').map((value, i) => [columns[i] ?? String(i), value])));
}

function serversOf(stats: StatRow[], color: Color): StatRow[] {
  return stats.filter((row) => row.pxname === backendOf(color) && row.svname !== 'BACKEND');
}

/** Sessions open on a color's backend: its in-flight requests. */
function sessionsIn(stats: StatRow[], color: Color): number {
  return Number(stats.find((row) => row.pxname === backendOf(color) && row.svname === 'BACKEND')?.scur ?? 0);
}

/** The color of the map's `live` key, whatever share a progressive switch sends elsewhere. */
function liveKeyColor(entries: Map<string, string> | undefined): Color | undefined {
  const backend = entries?.get(MAP_KEYS.live);
  return backend === undefined ? undefined : colorOfBackend(backend);
}

/** What a command line asks, for an error: `show map`, `set map`. */
function verbOf(commands: readonly RuntimeCommand[]): string {
  return commands[0]?.split(' ').slice(0, 2).join(' ') ?? '';
}

/** A message as a sentence, to go on with another. */
function sentence(message: string): string {
  return /[.!?]$/.test(message) ? message : `${message}.`;
}

/** An error's message; Node's socket errors included, whichever realm made them. */
function failureOf(error: unknown): string {
  return oneLine(typeof error === 'object' && error !== null && 'message' in error ? String(error.message) : String(error));
}

/** A server a switch may send traffic to: UP, and past its first check. */
function switchable(row: StatRow): boolean {
  return isUp(row.status ?? '') && !awaitsFirstCheck(row);
}

/** A server HAProxy just loaded reports `INI` until its first health check. */
function awaitsFirstCheck(row: StatRow): boolean {
  return row.check_status?.startsWith('INI') ?? false;
}

/** `UP`, and `UP 1/3` (one failed check, still in service); not `DOWN 1/2`, `NOLB`, `MAINT`, `DRAIN`. */
function isUp(status: string): boolean {
  return /^UP\b/.test(status);
}

/** `UP (L7OK)`, `DOWN (L4CON: Connection refused)`. */
function describeServer(row: StatRow): string {
  const check = [row.check_status, row.last_chk].filter((part) => part && part !== '').join(': ');
  return check ? `${row.status} (${check})` : (row.status ?? 'unknown');
}

/** haproxy -c's complaints, without its banner: the `[ALERT]` lines, on one line. */
function haproxyErrors(result: CommandResult): string {
  const text = `${result.stdout}\n${result.stderr}`;
  const alerts = text
    .split('\n')
    .filter((line) => /\[ALERT\]/.test(line))
    .map((line) => line.replace(/^\[ALERT\]\s*(\(\d+\)\s*)?:\s*/, ''));
  return oneLine((alerts.length ? alerts : [text]).join(' ')) || `exit ${result.code}`;
}

/** The HAProxy switch's options from the action's settings. */
export function haproxyOptionsOf(settings: Settings, description: string): HaproxyOptions {
  const { traffic } = settings;
  return {
    description,
    configPath: traffic.haproxyConfig,
    socketPath: traffic.haproxySocket,
    bind: traffic.haproxyBind,
    previewBind: traffic.haproxyPreviewBind,
    appPort: settings.hostRelease.appPort,
    healthPath: settings.health.path,
    expectedStatus: settings.health.expectedStatus,
    initialColor: settings.initialColor,
    drainTimeoutMs: traffic.drainTimeoutMs,
    ...(traffic.previewUrl && { previewUrl: traffic.previewUrl }),
    ...(traffic.haproxyHost && { haproxyHost: traffic.haproxyHost.host }),
  };
}
