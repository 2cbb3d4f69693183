import type { Argv } from '../hosts/command.js';
import { MAP_KEYS } from './haproxy-config.js';

/**
 * HAProxy's runtime API (the admin socket) takes one line per command: it splits the line into
 * words at spaces and tabs, reads `\` as an escape, and ends a command at `;` or at the end of the
 * line. A path or value spliced in with any of those would become another argument, or another
 * command (`set map ...; shutdown sessions server ...`). So runtime commands are made here only,
 * each by a typed constructor that checks every word it splices in, as src/hosts/command.ts makes
 * shell commands from argv: nothing typed by a user (the map path from haproxy-config, a server's
 * name from a host) reaches the socket unchecked. The inputs are checked with the same rules when
 * the switch is built (`runtimeWordProblem`, `socketPathProblem`), so a user sees which input to fix.
 */
export type RuntimeCommand = string & { readonly __runtimeCommand: true };

/** A key of the map file the live and preview frontends look up. */
export type MapKey = (typeof MAP_KEYS)[keyof typeof MAP_KEYS];

/** A server's administrative state, as `set server <backend>/<server> state` takes it. */
export type ServerState = 'ready' | 'drain' | 'maint';

const SERVER_STATES: readonly ServerState[] = ['ready', 'drain', 'maint'];

export const runtime = {
  /** Prompt mode: the connection stays open and every answer ends with `> `. */
  prompt: (): RuntimeCommand => command('prompt'),
  /** The answering process: `Pid:`, and `Stopping: 1` in a worker a reload replaced. */
  showInfo: (): RuntimeCommand => command('show info'),
  /** Every frontend, backend and server as CSV. */
  showStat: (): RuntimeCommand => command('show stat'),
  /** The maps HAProxy loaded, with the files they came from. */
  showMaps: (): RuntimeCommand => command('show map'),
  /** The entries of one map, by the file it was loaded from. */
  showMap: (mapPath: string): RuntimeCommand => command('show map', mapPath),
  /** Changes an existing entry of a map, for the next request; answers `entry not found` for a missing key. */
  setMap: (mapPath: string, key: MapKey, value: string): RuntimeCommand => command('set map', mapPath, mapKey(key), value),
  /** Adds an entry to a map (a key a map file trimmed by hand lacks). */
  addMap: (mapPath: string, key: MapKey, value: string): RuntimeCommand => command('add map', mapPath, mapKey(key), value),
  /** Puts a server in or out of service without a reload. */
  setServerState: (backend: string, server: string, state: ServerState): RuntimeCommand => {
    if (!SERVER_STATES.includes(state)) throw new Error(`runtime API: '${String(state)}' is not a server state (${SERVER_STATES.join(', ')})`);
    return command('set server', `${word(backend)}/${word(server)}`, 'state', state);
  },
};

/** Why `value` cannot be one word of a runtime API command; undefined when it can. */
export function runtimeWordProblem(value: string): string | undefined {
  if (value === '') return 'is empty';
  // eslint-disable-next-line no-control-regex
  if (/[\s\x00-\x1f\x7f]/.test(value)) return 'has a space or a control character, which would start another argument';
  if (/[;\\]/.test(value)) return 'has `;` or `\\`, which would start another command or escape one';
  if (/[#'"]/.test(value)) return 'has `#` or a quote';
  return undefined;
}

/**
 * Why `path` cannot be the admin socket in socat's `unix-connect:<path>` address; undefined when it
 * can. socat reads `,` as the start of an address option and `:` and `!!` as separators, so only
 * plain path characters are taken.
 */
export function socketPathProblem(path: string): string | undefined {
  if (!path.startsWith('/')) return 'is not an absolute path';
  if (/[^A-Za-z0-9_.@+=/-]/.test(path))
    return 'has a character other than letters, digits and `_ . @ + = / -` (socat would read `,` or `:` as part of its address)';
  return undefined;
}

/**
 * socat between its stdin/stdout and the admin socket. `answerSeconds`: how long HAProxy may take
 * to answer after stdin ends (one process per command); without it, socat stays for a held-open
 * session until its stdin closes.
 */
export function socatArgv(socketPath: string, answerSeconds?: number): Argv {
  const problem = socketPathProblem(socketPath);
  if (problem) throw new Error(`runtime API: the admin socket path ${JSON.stringify(socketPath)} ${problem}`);
  return ['socat', ...(answerSeconds === undefined ? [] : ['-t', String(answerSeconds)]), 'stdio', `unix-connect:${socketPath}`];
}

/** Several commands for one process, as a one-shot connection takes them. */
export function commandLine(commands: readonly RuntimeCommand[]): string {
  if (commands.length === 0) throw new Error('runtime API: no command');
  return `${commands.join('; ')}\n`;
}

function command(verb: string, ...words: string[]): RuntimeCommand {
  return [verb, ...words.map(word)].join(' ') as RuntimeCommand;
}

function word(value: string): string {
  const problem = runtimeWordProblem(value);
  if (problem) throw new Error(`runtime API: ${JSON.stringify(value)} ${problem}`);
  return value;
}

function mapKey(key: MapKey): MapKey {
  if (!Object.values(MAP_KEYS).includes(key))
    throw new Error(`runtime API: '${String(key)}' is not a key of the map file (${Object.values(MAP_KEYS).join(', ')})`);
  return key;
}
