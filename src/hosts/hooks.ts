import type { Argv } from './command.js';
import { LocalRunner, type CommandRunner } from './command.js';
import type { Hook } from '../settings.js';

/** What a hook command sees about the run, as environment variables. */
export function hookEnvironment(run: { appName: string; release: string; target: string; live: string; mode: string }): Record<string, string> {
  return {
    BLUEGREEN_APP: run.appName,
    BLUEGREEN_RELEASE: run.release,
    BLUEGREEN_COLOR: run.target,
    BLUEGREEN_LIVE_COLOR: run.live,
    BLUEGREEN_MODE: run.mode,
  };
}

const envArguments = (env: Record<string, string>): string[] => Object.entries(env).map(([name, value]) => `${name}=${value}`);

/**
 * The hook on a host: `sh -c` runs the user's command in `<app-dir>/current`. The directory and the
 * command travel as positional arguments (`$0`, `$1`), never spliced into shell text, so a path or
 * a variable with metacharacters stays data; only the command itself is shell, as the user meant.
 */
export function hostHookArgv(hook: Hook, appDir: string, env: Record<string, string>): Argv {
  return ['env', ...envArguments(env), 'sh', '-c', 'cd -- "$0" && exec sh -c "$1"', `${appDir}/current`, hook.command];
}

/** The hook on the runner, in the workspace. */
export function runnerHookArgv(hook: Hook, env: Record<string, string>): Argv {
  return ['env', ...envArguments(env), 'sh', '-c', hook.command];
}

/** Runs a hook once on the runner, streaming its output; returns its exit code and last lines. */
export async function runOnRunner(
  hook: Hook,
  env: Record<string, string>,
  log: (line: string) => void,
  runner: CommandRunner = new LocalRunner(),
): Promise<{ code: number; lastLines: string[] }> {
  const lines: string[] = [];
  const result = await runner.run(runnerHookArgv(hook, env), {
    onLine: (line) => {
      log(line);
      lines.push(line);
      if (lines.length > 5) lines.shift();
    },
  });
  return { code: result.code, lastLines: lines };
}
