import * as core from '@actions/core';
import { closeSync, openSync } from 'node:fs';
import type { OutputName } from '../inputs.js';

export type Outputs = Record<OutputName, string>;

export function setOutputs(outputs: Outputs): void {
  ensureRunnerFile('GITHUB_OUTPUT');
  for (const [name, value] of Object.entries(outputs)) core.setOutput(name, value);
}

/**
 * The runner creates its command files before a step starts; when the action runs by hand with
 * the variable set to a path that does not exist yet, create it rather than lose the outputs.
 */
export function ensureRunnerFile(variable: 'GITHUB_OUTPUT' | 'GITHUB_STEP_SUMMARY'): void {
  const path = process.env[variable];
  if (path) closeSync(openSync(path, 'a'));
}
