import * as core from '@actions/core';
import { randomBytes } from 'node:crypto';
import { showAfterPhase } from '../log.js';

/**
 * What a host prints is data, never workflow commands: a host (or a dependency it builds) that
 * prints `::error::`, `::add-mask::` or `##[error]` must not annotate the run, mask text or change
 * the job. Each line carries the host's name in front, and each batch of lines sits between
 * `::stop-commands::<token>` and `::<token>::` with a token the host cannot guess. A carriage
 * return would start a new line for the runner, so it is shown as `\r`.
 */
export function hostLines(hostName: string, lines: readonly string[]): string[] {
  const token = randomBytes(16).toString('hex');
  return [`::stop-commands::${token}`, ...lines.map((line) => `[${hostName}] ${line.replace(/\r/g, '\\r')}`), `::${token}::`];
}

/** A few lines from a host, now (inside the phase's group). */
export function printHostLines(hostName: string, lines: readonly string[]): void {
  // One write: another host's lines cannot land inside this block.
  core.info(hostLines(hostName, lines).join('\n'));
}

/** A host's whole output, in a group of its own after the phase's group. */
export function showHostOutput(hostName: string, title: string, lines: readonly string[]): void {
  showAfterPhase(title, hostLines(hostName, lines));
}
