import * as core from '@actions/core';

/**
 * How long a phase that does not move traffic may go on after a cancel (a release finishing its
 * remote step, a health probe). The runner sends SIGTERM 7.5 s after SIGINT and kills 2.5 s later:
 * this leaves time to settle traffic, write the state, release the lock and write the summary.
 */
export const WIND_DOWN_MS = 3000;

/**
 * A cancel of the job, as the Actions runner sends it: SIGINT, then SIGTERM 7.5 s later, then a
 * kill. Once requested, no new phase starts; the phase runner winds the running one down, and the
 * run ends the way a failed one does (state, lock, summary), saying where traffic is.
 */
export class Cancellation {
  readonly windDownMs = WIND_DOWN_MS;
  private signal?: string;
  private readonly aborter = new AbortController();
  /**
   * Aborted on cancel: work on hosts (host scripts over SSH, SSM commands) is ended at once, so
   * nothing keeps running there after the run; a host script that is stopped puts its previous
   * release back.
   */
  readonly aborted: AbortSignal = this.aborter.signal;
  private resolveCancelled!: () => void;
  /** Settles when a cancel is requested (never, on most runs). */
  readonly cancelled = new Promise<void>((resolve) => (this.resolveCancelled = resolve));

  /** Why the run stops, once cancelled: `cancelled (SIGINT)`. */
  get reason(): string | undefined {
    return this.signal && `cancelled (${this.signal})`;
  }

  get requested(): boolean {
    return this.signal !== undefined;
  }

  cancel(signal: string): void {
    if (this.signal) {
      core.info(`${signal} received while winding down: still finishing (state, lock, summary).`);
      return;
    }
    this.signal = signal;
    this.aborter.abort(this.reason);
    core.info(
      `${signal} received: the job was cancelled. No new phase starts; a traffic move under way completes, other work gets ${WIND_DOWN_MS / 1000} s to end.`,
    );
    this.resolveCancelled();
  }

  /** Handles the runner's SIGINT and SIGTERM in this process (the action's entry point only). */
  static listen(): Cancellation {
    const cancellation = new Cancellation();
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => cancellation.cancel(signal));
    return cancellation;
  }
}
