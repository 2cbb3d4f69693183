import * as core from '@actions/core';

/** A duration as the log and the summary show it: `840 ms`, `12.3 s`, `2 min 5 s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${Math.round((ms - minutes * 60_000) / 1000)} s`;
}

/** Log groups a phase asked to show once its own group has closed (GitHub does not nest groups). */
const deferredGroups: { title: string; lines: string[] }[] = [];
let phaseGroupOpen = false;

/**
 * Shows `lines` in a log group of their own right after the running phase's group: how a phase
 * gives each host its own group (the full output of a release on that host) without nesting.
 */
export function showAfterPhase(title: string, lines: string[]): void {
  deferredGroups.push({ title, lines });
  if (!phaseGroupOpen) flushDeferredGroups();
}

/** Runs a phase in its log group (`work` must not throw); the groups it asked for follow it. */
export async function inPhaseGroup<T>(name: string, work: () => Promise<T>): Promise<T> {
  phaseGroupOpen = true;
  const done = await core.group(name, work);
  phaseGroupOpen = false;
  flushDeferredGroups();
  return done;
}

function flushDeferredGroups(): void {
  for (const { title, lines } of deferredGroups.splice(0)) {
    core.startGroup(title);
    for (const line of lines) core.info(line);
    core.endGroup();
  }
}
