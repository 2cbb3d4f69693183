/**
 * An error the user can fix: shown as one line, without a stack trace. Anything else that is thrown
 * is an internal error, whose stack goes to the debug log.
 */
export class UserError extends Error {
  override name = 'UserError';
}

/**
 * A connection to a host (the HAProxy host over SSH) dropped. `commandStarted` says whether the
 * command that met the drop had begun there: one that had not is safe to run again over a new
 * connection. The phase runner names the step it happened in (`during`), which the transport
 * cannot know.
 */
export class ConnectionLost extends UserError {
  override name = 'ConnectionLost';
  constructor(
    message: string,
    readonly commandStarted: boolean,
  ) {
    super(message);
  }

  /** Puts the step first: `Move traffic: the SSH connection to … was lost …`. */
  during(step: string): void {
    if (!this.message.startsWith(`${step}: `)) this.message = `${step}: ${this.message}`;
  }
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
