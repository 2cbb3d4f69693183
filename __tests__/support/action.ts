import { afterAll, jest } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as core from '@actions/core';
import { run, type RunDependencies } from '../../src/run/run.js';
import type { Provider } from '../../src/providers/types.js';
import { parseOutputFile } from '../../lab/runner-files.js';

export interface ActionRun {
  outputs: Record<string, string>;
  /** The job summary file, as the runner would show it. */
  summary: string;
  /** Everything the action printed: log lines and workflow commands. */
  log: string;
  failed: boolean;
}

export { parseOutputFile } from '../../lab/runner-files.js';

/**
 * Runs the action in-process as a runner would (step summary and output files, `INPUT_*` values),
 * with the given provider in place of the real one.
 */
// @actions/core remembers the summary file's path after its first write, so one pair of files
// serves every run in a test file, emptied before each run.
const dir = mkdtempSync(join(tmpdir(), 'bgp-run-'));
const summaryFile = join(dir, 'summary.md');
const outputFile = join(dir, 'output.txt');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

export async function runAction(
  inputs: Record<string, string>,
  provider?: Provider,
  env: NodeJS.ProcessEnv = {},
  extra: Pick<RunDependencies, 'cancellation'> = {},
): Promise<ActionRun> {
  writeFileSync(summaryFile, '');
  writeFileSync(outputFile, '');
  const saved = { summary: process.env.GITHUB_STEP_SUMMARY, output: process.env.GITHUB_OUTPUT };
  process.env.GITHUB_STEP_SUMMARY = summaryFile;
  process.env.GITHUB_OUTPUT = outputFile;
  const printed: string[] = [];
  const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    printed.push(String(chunk));
    return true;
  });
  try {
    await run({
      source: (name) => inputs[name] ?? '',
      env: { GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567', ...env },
      ...(provider && { createProvider: () => provider }),
      ...extra,
    });
    return {
      outputs: parseOutputFile(readFileSync(outputFile, 'utf8')),
      summary: readFileSync(summaryFile, 'utf8'),
      log: printed.join(''),
      failed: process.exitCode === core.ExitCode.Failure,
    };
  } finally {
    write.mockRestore();
    process.exitCode = undefined;
    process.env.GITHUB_STEP_SUMMARY = saved.summary;
    process.env.GITHUB_OUTPUT = saved.output;
  }
}

/** The log as a person reads it: the runner hides `::add-mask::` commands and masks their values. */
export function visibleLog(log: string): string {
  return log
    .split('\n')
    .filter((line) => !line.startsWith('::add-mask::'))
    .join('\n');
}

/** The `::error` lines the action printed (the annotations and the failure), with the runner's escaping undone. */
export function errorLines(log: string): string[] {
  const unescape = (text: string) => text.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%3A/g, ':').replace(/%2C/g, ',').replace(/%25/g, '%');
  return log
    .split('\n')
    .filter((line) => line.startsWith('::error'))
    .map((line) => {
      const m = /^::error( [^:]*)?::(.*)$/.exec(line);
      return m ? `::error${unescape(m[1] ?? '')}::${unescape(m[2] ?? '')}` : line;
    });
}
