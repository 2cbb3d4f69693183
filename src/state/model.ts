import { isColor, type Color } from '../colors.js';
import { RELEASE_PHASE, SWITCH_PHASE, type PhaseId } from '../phase-ids.js';
import type { Mode } from '../settings.js';

/** A run as the state names it: enough to link to it and to tell two runs apart. */
export interface RunRef {
  id: string;
  attempt: number;
  url: string;
}

/** How far the latest non-dry run of the app got. */
export interface LastRun {
  run: RunRef;
  mode: Mode;
  release: string;
  /** The commit the run was for (GITHUB_SHA): what a deploy puts on the color, with its release. */
  commit?: string;
  target?: Color;
  /**
   * Phase ids completed, in order (`locate`, `inventory`, `release`, ...): PhaseId values, but read
   * as plain strings, since a state written by another version may name a phase this one lacks.
   */
  completed: string[];
  /** `cancelled`: the job was cancelled and ended cleanly (state written, lock released). */
  outcome: 'running' | 'failed' | 'succeeded' | 'cancelled';
  /** The id of the phase that failed, when it failed (a PhaseId, read as a string like `completed`). */
  failedPhase?: string;
  at: string;
}

export interface Switch {
  at: string;
  from: Color | 'none';
  to: Color;
  release?: string;
  /**
   * `switch`, `rollback`, `auto-rollback` (a failed validation moved traffic back by itself), or
   * `outside` for a change seen on the load balancer but not made by this action.
   */
  by: Mode | 'auto-rollback' | 'outside';
  runUrl: string;
}

/** What the state variable holds: what the action did, never more authoritative than the load balancer. */
export interface AppState {
  version: 1;
  live?: Color;
  previous?: Color;
  releases: Partial<Record<Color, string>>;
  /** The commit each color's release was deployed from: the `ref` of a GitHub deployment that makes it live. */
  commits?: Partial<Record<Color, string>>;
  lastRun?: LastRun;
  /** Most recent first, at most HISTORY_LIMIT. */
  history: Switch[];
}

export const HISTORY_LIMIT = 10;

export const emptyState = (): AppState => ({ version: 1, releases: {}, history: [] });

/**
 * Reads a stored value leniently: a value written by hand or by an older version becomes the empty
 * state plus whatever fields are recognisable, never an exception.
 */
export function parseState(text: string | undefined): AppState {
  const state = emptyState();
  if (!text) return state;
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return state;
  }
  if (typeof raw !== 'object' || raw === null) return state;
  const color = (value: unknown): Color | undefined => (typeof value === 'string' && isColor(value) ? value : undefined);
  const live = color(raw.live);
  const previous = color(raw.previous);
  if (live) state.live = live;
  if (previous) state.previous = previous;
  const releases = (raw.releases ?? {}) as Record<string, unknown>;
  const commits = (raw.commits ?? {}) as Record<string, unknown>;
  for (const c of ['blue', 'green'] as const) {
    if (typeof releases[c] === 'string') state.releases[c] = releases[c];
    if (typeof commits[c] === 'string') state.commits = { ...state.commits, [c]: commits[c] };
  }
  const last = raw.lastRun as LastRun | undefined;
  if (last && typeof last === 'object' && typeof last.release === 'string' && Array.isArray(last.completed) && last.run && typeof last.run.id === 'string') {
    state.lastRun = last;
  }
  if (Array.isArray(raw.history)) state.history = (raw.history as Switch[]).filter((s) => s && color(s.to)).slice(0, HISTORY_LIMIT);
  return state;
}

export const serializeState = (state: AppState): string => JSON.stringify(state);

/**
 * A change to the state. Every change is idempotent (applying it twice equals applying it once):
 * the store re-applies it on top of a concurrent writer's value until it holds.
 */
export type StateChange = (state: AppState) => AppState;

// A JSON round trip, like the stored value itself (structuredClone would build objects of another realm under jest's vm).
const clone = (state: AppState): AppState => JSON.parse(JSON.stringify(state)) as AppState;

/** The run starts: it becomes the last run, with nothing completed yet. */
export function runStarted(run: RunRef, mode: Mode, release: string, at: string, commit?: string): StateChange {
  return (state) => {
    const next = clone(state);
    if (next.lastRun?.run.id === run.id && next.lastRun.run.attempt === run.attempt && next.lastRun.mode === mode) return next;
    next.lastRun = { run, mode, release, ...(commit && { commit }), completed: [], outcome: 'running', at };
    return next;
  };
}

/** A phase of this run completed; a release phase also records what the color now runs. */
export function phaseCompleted(run: RunRef, phase: PhaseId, target: Color | undefined, at: string): StateChange {
  return (state) => {
    const next = clone(state);
    const last = next.lastRun;
    // Another run took over the record meanwhile: its progress is not ours to edit.
    if (!last || last.run.id !== run.id || last.run.attempt !== run.attempt) return next;
    if (target) last.target = target;
    if (!last.completed.includes(phase)) last.completed.push(phase);
    if (phase === RELEASE_PHASE && target) {
      next.releases[target] = last.release;
      // A release without a known commit leaves none recorded rather than the previous release's.
      const commits = { ...next.commits };
      if (last.commit) commits[target] = last.commit;
      else delete commits[target];
      next.commits = commits;
      if (Object.keys(commits).length === 0) delete next.commits;
    }
    if (last.completed.length > 0) last.at = at;
    return next;
  };
}

/**
 * Live traffic as the load balancer reported it: when it differs from the record, the record
 * follows, and the move enters the history (by this run's mode, or `outside` when the action did
 * not make it).
 */
export function liveObserved(live: Color, by: Switch['by'], runUrl: string, at: string): StateChange {
  return (state) => {
    const next = clone(state);
    if (next.live === live) return next;
    // Adopting an app that was live before this action's first run is no switch.
    if (next.live || by !== 'outside') {
      const entry: Switch = { at, from: next.live ?? 'none', to: live, ...(next.releases[live] && { release: next.releases[live] }), by, runUrl };
      next.history = [entry, ...next.history].slice(0, HISTORY_LIMIT);
    }
    if (next.live) next.previous = next.live;
    next.live = live;
    return next;
  };
}

/** The run ended. */
export function runFinished(run: RunRef, outcome: 'failed' | 'succeeded' | 'cancelled', failedPhase: string | undefined, at: string): StateChange {
  return (state) => {
    const next = clone(state);
    const last = next.lastRun;
    if (!last || last.run.id !== run.id || last.run.attempt !== run.attempt) return next;
    last.outcome = outcome;
    if (failedPhase) last.failedPhase = failedPhase;
    else delete last.failedPhase;
    last.at = at;
    return next;
  };
}

/** Phases whose completion by an earlier run may be trusted: the ones that put something in place. */
const RESUMABLE: ReadonlySet<string> = new Set<PhaseId>([RELEASE_PHASE]);

/**
 * Why `phase` can be skipped in this run, or undefined when it must run: an earlier run of the same
 * mode, for the same release and target color, completed it and then failed or was stopped.
 */
export function resumeReason(
  recorded: LastRun | undefined,
  current: { mode: Mode; release: string; target?: Color; run: RunRef },
  phase: PhaseId,
): string | undefined {
  if (!recorded || !RESUMABLE.has(phase) || recorded.outcome === 'succeeded') return undefined;
  if (recorded.mode !== current.mode || recorded.release !== current.release || !current.target || recorded.target !== current.target) return undefined;
  if (!recorded.completed.includes(phase)) return undefined;
  if (recorded.run.id === current.run.id && recorded.run.attempt === current.run.attempt) return undefined;
  const stopped =
    recorded.outcome === 'failed'
      ? `failed at ${recorded.failedPhase ?? 'a later phase'}`
      : recorded.outcome === 'cancelled'
        ? 'was cancelled'
        : 'stopped before it finished';
  return `completed for release ${current.release} on ${current.target} by ${recorded.run.url} (attempt ${recorded.run.attempt}), which then ${stopped}; health is checked again before going on`;
}

/**
 * The color an earlier attempt of this switch or rollback already moved traffic to before it was
 * stopped (killed, cancelled, or failed after the move without moving back). A rerun must validate
 * that move, not treat the new live color as the old one and move traffic straight back.
 *
 * A move that failed counts too: it may have failed after taking effect (HAProxy killed right
 * after `set map`, or after writing the map file it then restarts from). Only the balancer can
 * tell, so the rerun treats it as moved only when the target is what is live now (see locate).
 */
export function interruptedMove(recorded: LastRun | undefined, current: { mode: Mode; release: string; run: RunRef }): Color | undefined {
  if (!recorded || recorded.outcome === 'succeeded' || current.mode === 'deploy') return undefined;
  const moveStarted = recorded.completed.includes(SWITCH_PHASE) || recorded.failedPhase === SWITCH_PHASE;
  if (recorded.mode !== current.mode || recorded.release !== current.release || !moveStarted) return undefined;
  if (recorded.run.id === current.run.id && recorded.run.attempt === current.run.attempt) return undefined;
  return recorded.target;
}
