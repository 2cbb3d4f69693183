import type { Duplex } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { runtime, type RuntimeCommand } from './haproxy-runtime.js';

/**
 * One held-open conversation with HAProxy's runtime API in prompt mode: after `prompt`, HAProxy
 * keeps the connection open and ends each answer with the prompt `> `, so a run sends every
 * command over one connection instead of starting a process (or opening an SSH channel) per
 * command. The stream is Node's own socket to the admin socket, or the stdin/stdout of `socat`
 * on the HAProxy host over one SSH channel.
 *
 * HAProxy closes an idle session after its `stats timeout`, and a reload leaves this session with
 * the old worker; the caller asks `show info` with each batch (see `isStopping`) and reopens a dead session. A
 * session whose far end stops answering (a frozen host) ends at the first answer that does not come
 * in time, so no command waits longer than its timeout.
 */
export class RuntimeSession {
  private buffer = '';
  private readonly decoder = new StringDecoder('utf8');
  private readonly waiting: { resolve: (answer: string) => void; reject: (error: Error) => void }[] = [];
  private ended?: string;

  private constructor(
    private readonly stream: Duplex & { ref?: () => unknown; unref?: () => unknown },
    /** Why the session ended when its stream closes: who may have closed it. */
    closedBy: string,
  ) {
    stream.on('data', (chunk: Buffer | string) => this.take(typeof chunk === 'string' ? chunk : this.decoder.write(chunk)));
    stream.on('error', (error: Error) => this.end(error.message));
    stream.on('close', () => this.end(closedBy));
    stream.on('end', () => this.end(closedBy));
  }

  /**
   * Puts a stream in prompt mode: Node's own socket to a local admin socket, or the stdin/stdout of
   * socat on the HAProxy host. `closedBy` says why the session ends when the stream closes.
   */
  static async over(stream: Duplex, timeoutMs: number, closedBy = 'HAProxy closed the session'): Promise<RuntimeSession> {
    const session = new RuntimeSession(stream, closedBy);
    const answer = await session.send(runtime.prompt(), timeoutMs);
    if (answer.trim() !== '') {
      session.close();
      throw new Error(`\`prompt\` was answered with ${JSON.stringify(answer.trim().slice(0, 80))}`);
    }
    return session;
  }

  get open(): boolean {
    return this.ended === undefined;
  }

  /**
   * Sends one command (made by haproxy-runtime.ts: one line, no `;`) and returns its answer as a
   * one-shot connection would give it, without the prompt. A timeout ends the session.
   */
  send(command: RuntimeCommand, timeoutMs: number): Promise<string> {
    if (this.ended !== undefined) return Promise.reject(new Error(this.ended));
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.end(`no answer to \`${command.split(' ')[0]}\` within ${timeoutMs / 1000}s`);
      }, timeoutMs);
      const done = () => clearTimeout(timer);
      this.waiting.push({ resolve: (answer) => (done(), resolve(answer)), reject: (error) => (done(), reject(error)) });
      this.idle(false);
      this.stream.write(`${command}\n`);
    });
  }

  /** Several commands, sent together; their answers in order. */
  sendAll(commands: readonly RuntimeCommand[], timeoutMs: number): Promise<string[]> {
    return Promise.all(commands.map((command) => this.send(command, timeoutMs)));
  }

  close(): void {
    this.end('the session was closed');
    this.stream.destroy();
  }

  private take(text: string): void {
    this.buffer += text;
    // Each answer ends with an empty line, then the prompt: `...\n\n> ` (an empty answer: `\n> `).
    for (let at = this.buffer.indexOf('\n> '); at >= 0 && this.waiting.length > 0; at = this.buffer.indexOf('\n> ')) {
      const answer = this.buffer.slice(0, at + 1);
      this.buffer = this.buffer.slice(at + 3);
      this.waiting.shift()?.resolve(answer);
    }
    if (this.waiting.length === 0) this.idle(true);
  }

  /** An idle local socket must not keep the process alive: a run ends by closing it, a test may not. */
  private idle(idle: boolean): void {
    if (idle) this.stream.unref?.();
    else this.stream.ref?.();
  }

  private end(reason: string): void {
    if (this.ended !== undefined) return;
    this.ended = reason;
    for (const waiter of this.waiting.splice(0)) waiter.reject(new Error(reason));
    this.idle(true);
    this.stream.destroy();
  }
}

/** `show info` says `Stopping: 1` in a worker a reload replaced: its map is no longer the one that routes. */
export function isStopping(showInfoAnswer: string): boolean {
  return /^Stopping: 1$/m.test(showInfoAnswer);
}
