/**
 * What a runner hands an action step, without jest: shared by the in-process harness
 * (__tests__/support/action.ts) and the demo, which spawns the bundle as a runner does.
 */

/** Reads the runner's `name<<delimiter` output file into a record. */
export function parseOutputFile(text: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const pattern = /^([\w-]+)<<(\S+)\n([\s\S]*?)\n?\2$/gm;
  for (const m of text.matchAll(pattern)) outputs[m[1] as string] = m[3] as string;
  return outputs;
}

/** A runner's environment for one step: its command files, the workspace, and each input as `INPUT_<NAME>`. */
export function runnerEnvironment(
  inputs: Record<string, string>,
  files: { summaryFile: string; outputFile: string; workspace: string; temp: string },
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    GITHUB_ACTIONS: 'true',
    GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567',
    GITHUB_WORKSPACE: files.workspace,
    RUNNER_TEMP: files.temp,
    GITHUB_STEP_SUMMARY: files.summaryFile,
    GITHUB_OUTPUT: files.outputFile,
  };
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase()}`] = value;
  return env;
}
