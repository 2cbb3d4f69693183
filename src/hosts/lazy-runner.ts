import type { Duplex } from 'node:stream';
import type { Argv, CommandResult, CommandRunner, RunOptions } from './command.js';

/**
 * A runner that connects on its first command: a provider is built before the plan runs, and a
 * dry run (or a mode that never reaches this host) opens no connection. One connection is shared
 * by every later command; a failed connect is reported to each command that needed it.
 */
export class ConnectOnFirstUse implements CommandRunner {
  private connection?: Promise<CommandRunner>;

  constructor(
    readonly description: string,
    private readonly connect: () => Promise<CommandRunner>,
  ) {}

  async run(argv: Argv, options?: RunOptions): Promise<CommandResult> {
    this.connection ??= this.connect();
    return (await this.connection).run(argv, options);
  }

  async open(argv: Argv): Promise<Duplex> {
    this.connection ??= this.connect();
    const runner = await this.connection;
    if (!runner.open) throw new Error(`${this.description} cannot hold a command open`);
    return runner.open(argv);
  }

  async close(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    // A connection that never came up has nothing to close.
    await (await connection?.catch(() => undefined))?.close();
  }
}
