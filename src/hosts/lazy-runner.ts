import * as core from '@actions/core';
import type { Duplex } from 'node:stream';
import { ConnectionLost, messageOf } from '../errors.js';
import type { Argv, CommandResult, CommandRunner, RunOptions } from './command.js';

/**
 * A runner that connects on its first command: a provider is built before the plan runs, and a
 * dry run (or a mode that never reaches this host) opens no connection. One connection is shared
 * by every later command; a failed first connect is reported to each command that needed it.
 *
 * The connection lives for the whole run (through a progressive switch's pauses), so it may drop
 * between commands. A command that meets a dropped connection before it started connects again,
 * once, and runs over the new connection; one that was cut while it ran is reported, not repeated,
 * since whether it took effect is unknown.
 */
export class ConnectOnFirstUse implements CommandRunner {
  private connection?: Promise<CommandRunner>;

  constructor(
    readonly description: string,
    private readonly connect: () => Promise<CommandRunner>,
  ) {}

  run(argv: Argv, options?: RunOptions): Promise<CommandResult> {
    return this.onConnection((runner) => runner.run(argv, options));
  }

  /** A held-open command (HAProxy's runtime API session): a dropped connection is connected again as for `run`. */
  open(argv: Argv): Promise<Duplex> {
    return this.onConnection((runner) => {
      if (!runner.open) throw new Error(`${this.description} cannot hold a command open`);
      return runner.open(argv);
    });
  }

  private async onConnection<T>(use: (runner: CommandRunner) => Promise<T>): Promise<T> {
    this.connection ??= this.connect();
    const current = this.connection;
    try {
      return await use(await current);
    } catch (error) {
      if (!(error instanceof ConnectionLost) || error.commandStarted) throw error;
      return this.reconnectAnd(current, error, use);
    }
  }

  private async reconnectAnd<T>(dropped: Promise<CommandRunner>, lost: ConnectionLost, use: (runner: CommandRunner) => Promise<T>): Promise<T> {
    // Commands running side by side may all meet the drop: the first one reconnects for them all.
    if (this.connection === dropped) {
      this.connection = this.connect();
      await (await dropped).close().catch(() => undefined);
    }
    const next = (this.connection ??= this.connect());
    let runner: CommandRunner;
    try {
      runner = await next;
    } catch (error) {
      // Not kept: a later command (the move back after a failed validation) tries again.
      if (this.connection === next) this.connection = undefined;
      throw new ConnectionLost(`${lost.message}; connecting again failed: ${messageOf(error)}`, false);
    }
    core.info(`${lost.message}; connected to ${this.description} again and ran it over the new connection.`);
    return use(runner);
  }

  async close(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    // A connection that never came up has nothing to close.
    await (await connection?.catch(() => undefined))?.close();
  }
}
