/**
 * The workflow commands a GitHub runner would act on in a step's log, read as the runner reads
 * them (actions/runner, ActionCommandManager and ActionCommand): the log splits into lines at
 * `\n`, `\r\n` and a lone `\r`; a line is a command when it starts, after leading blanks, with
 * `::name` (ending at a blank or `::`), or when it holds `##[name` anywhere (the older syntax), for
 * a name the runner knows. After `::stop-commands::<token>` nothing is a command until `::<token>::`.
 */
const KNOWN = new Set([
  'add-mask',
  'add-matcher',
  'add-path',
  'debug',
  'echo',
  'endgroup',
  'error',
  'group',
  'internal-set-repo-path',
  'notice',
  'remove-matcher',
  'save-state',
  'set-env',
  'set-output',
  'stop-commands',
  'warning',
]);

export interface WorkflowCommand {
  name: string;
  line: string;
}

function commandName(line: string, known: Set<string>): string | undefined {
  const trimmed = line.trimStart();
  if (trimmed.startsWith('::')) {
    const end = trimmed.indexOf('::', 2);
    if (end > 2) {
      const name = trimmed.slice(2, end).split(' ')[0] ?? '';
      if (known.has(name)) return name;
    }
  }
  const v1 = line.indexOf('##[');
  if (v1 >= 0) {
    const close = line.indexOf(']', v1);
    const name = close > v1 ? (line.slice(v1 + 3, close).split(' ')[0] ?? '') : '';
    if (known.has(name)) return name;
  }
  return undefined;
}

export function workflowCommands(log: string): WorkflowCommand[] {
  const commands: WorkflowCommand[] = [];
  const known = new Set(KNOWN);
  let stopToken: string | undefined;
  for (const line of log.split(/\r\n|\r|\n/)) {
    const name = commandName(line, known);
    if (name === undefined) continue;
    if (stopToken !== undefined) {
      if (name === stopToken) {
        known.delete(stopToken);
        stopToken = undefined;
      }
      continue;
    }
    commands.push({ name, line });
    if (name === 'stop-commands') {
      stopToken = line.trimStart().slice('::stop-commands::'.length);
      known.add(stopToken);
    }
  }
  return commands;
}
