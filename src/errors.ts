/**
 * An error the user can fix: shown as one line, without a stack trace. Anything else that is thrown
 * is an internal error, whose stack goes to the debug log.
 */
export class UserError extends Error {
  override name = 'UserError';
}

/** A bad input value: names the input, says what is wrong and what would fix it. */
export class InputError extends UserError {
  override name = 'InputError';
  constructor(
    readonly input: string,
    problem: string,
    fix: string,
  ) {
    super(`Input '${input}': ${problem}. ${fix}`);
  }
}

/** One line, whatever the message holds: annotations and `setFailed` must not wrap. */
export function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

export function messageOf(error: unknown): string {
  return oneLine(error instanceof Error ? error.message : String(error));
}
