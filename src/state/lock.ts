import * as core from '@actions/core';
import { createHash, randomUUID } from 'node:crypto';
import { UserError } from '../errors.js';
import type { GitHubRepo } from '../github/client.js';
import { systemClock, waitUntil, type Clock } from '../retry.js';
import type { Mode } from '../settings.js';
import type { RunRef } from './model.js';

/** What the lock variable holds: who has it, doing what, since when. */
export interface LockHolder {
  run: RunRef;
  job: string;
  mode: Mode;
  release: string;
  since: string;
  /** Renewed after every phase: a lock not renewed for `lock-expiry` belongs to a dead run. */
  renewed: string;
  /** Tells this holder from any other, even another attempt of the same run. */
  nonce: string;
}

/** The `core.saveState` name under which the main step leaves its lock for the post step. */
export const LOCK_STATE = 'deploy-lock';

/** What the post step needs to delete the lock the main step held, and only that one. */
export interface HeldLock {
  variable: string;
  nonce: string;
  run: RunRef;
}

export interface LockOptions {
  timeoutMs: number;
  expiryMs: number;
  /** Time for the wait on a held lock: the system's unless a test passes its own. */
  clock?: Clock;
}

/** No more polls than this, whatever the timeout: bounded loops. */
const MAX_POLLS = 1000;

function parseHolder(text: string): LockHolder | undefined {
  try {
    const holder = JSON.parse(text) as LockHolder;
    return typeof holder.nonce === 'string' && typeof holder.renewed === 'string' && holder.run && typeof holder.run.url === 'string' ? holder : undefined;
  } catch {
    return undefined;
  }
}

function describeHolder(holder: LockHolder | undefined): string {
  return holder
    ? `${holder.run.url} (job ${holder.job || 'unknown'}, ${holder.mode} of release ${holder.release}) since ${holder.since} (${ago(holder.since)})`
    : 'an unknown run';
}

const ago = (iso: string): string => {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return seconds < 120 ? `${seconds} s ago` : `${Math.round(seconds / 60)} min ago`;
};

/** A claim left this long by a run that died while taking a lock over is itself taken over. */
const CLAIM_EXPIRY_MS = 60_000;
/** Claims on claims, at most this deep: bounded, and two dead claimers in a row is already rare. */
const MAX_CLAIM_DEPTH = 3;

/** Another run holds the lock this run took: it must stop before it changes anything more. */
export class LockLostError extends UserError {
  override name = 'LockLostError';
}

/**
 * The deploy lock of one app: a repository variable that only one run can create (the API refuses a
 * create of an existing name, which makes taking it atomic). A second run polls until the holder
 * deletes it, up to `lock-timeout`, then fails naming the holder. A lock its holder stopped
 * renewing for `lock-expiry` (a cancelled or crashed run), or left by an earlier attempt of this
 * same run, is taken over, through a claim variable named after the stale value: of several runs
 * that judged the same lock stale, only the one that created the claim replaces it.
 */
export class DeployLock {
  private held?: LockHolder;

  constructor(
    private readonly github: GitHubRepo,
    readonly variable: string,
    private readonly appName: string,
    private readonly me: Omit<LockHolder, 'since' | 'renewed' | 'nonce'>,
    private readonly options: LockOptions,
  ) {}

  /** The lock as this run holds it (its nonce ties the post step to this run), if it does. */
  get holder(): LockHolder | undefined {
    return this.held;
  }

  async acquire(): Promise<void> {
    const { clock = systemClock } = this.options;
    const deadline = clock.now() + this.options.timeoutMs;
    const pollMs = Math.min(10_000, Math.max(200, this.options.timeoutMs / 20));
    let announced = '';
    /** One try: taken, or how long to wait before the next (none when the lock was released meanwhile). */
    const attempt = async ({ attempt: poll }: { attempt: number }): Promise<{ taken: boolean; waitMs: number }> => {
      const now = new Date().toISOString();
      const mine: LockHolder = { ...this.me, since: now, renewed: now, nonce: randomUUID() };
      if (await this.github.createVariable(this.variable, JSON.stringify(mine))) {
        this.took(mine);
        return { taken: true, waitMs: 0 };
      }
      const current = await this.github.getVariable(this.variable);
      if (!current) return { taken: false, waitMs: 0 }; // released between our create and our read: try again at once
      if (parseHolder(current.value)?.nonce === mine.nonce) {
        // Our first try created it, but its answer was lost and the retry found it existing.
        this.took(mine);
        return { taken: true, waitMs: 0 };
      }
      const holder = parseHolder(current.value);
      const stale = this.staleReason(holder);
      if (stale) {
        if (await this.takeOver(current.value, mine, stale)) return { taken: true, waitMs: 0 };
        // Another run is taking it over (or it was renewed): look again shortly, within lock-timeout.
        if (clock.now() + pollMs > deadline && poll > 0) {
          throw new UserError(
            `The deploy lock of ${this.appName} is being taken over by another run (${stale}); waited ${Math.round(this.options.timeoutMs / 1000)} s (lock-timeout). Re-run this one when that run is done.`,
          );
        }
        return { taken: false, waitMs: Math.min(pollMs, 1000) };
      }
      const who = describeHolder(holder);
      if (clock.now() + pollMs > deadline) {
        throw new UserError(
          `The deploy lock of ${this.appName} is held by ${who}; waited ${Math.round(this.options.timeoutMs / 1000)} s (lock-timeout). Let that run finish, then re-run this one. A cancelled run's lock expires ${Math.round(this.options.expiryMs / 1000)} s after its last renewal (lock-expiry), or delete the repository variable ${this.variable}.`,
        );
      }
      if (announced !== current.value) core.info(`Waiting for the deploy lock of ${this.appName}, held by ${who}.`);
      announced = current.value;
      return { taken: false, waitMs: pollMs };
    };
    // lock-timeout is kept by the tries themselves (each names what it waited for); MAX_POLLS bounds the rest.
    const { done } = await waitUntil(attempt, (t) => t.taken, { attempts: MAX_POLLS, intervalMs: (_waits, last) => last.waitMs, clock });
    if (done) return;
    throw new UserError(`Gave up on the deploy lock of ${this.appName} after ${MAX_POLLS} attempts; the repository variable ${this.variable} keeps changing.`);
  }

  /**
   * Replaces the stale lock `staleValue` with `mine` if this run wins the claim on it. The stale
   * holder itself could still renew or release in the instant between our check and our write;
   * its next renewal then finds the lock lost and stops that run before its next phase.
   */
  private async takeOver(staleValue: string, mine: LockHolder, stale: string): Promise<boolean> {
    const claims: string[] = [];
    try {
      if (!(await this.claim(staleValue, mine, claims, 0))) return false;
      const now = await this.github.getVariable(this.variable);
      if (now?.value !== staleValue) return false; // renewed or released meanwhile: not stale any more
      core.warning(`Taking over the deploy lock of ${this.appName}: ${stale}.`);
      await this.github.updateVariable(this.variable, JSON.stringify(mine));
      this.took(mine);
      return true;
    } finally {
      for (const name of claims.reverse()) await this.github.deleteVariable(name).catch(() => undefined);
    }
  }

  /**
   * Creates the claim on `value`; true when this run created it, or won the claim on a claim whose
   * run died while holding it. Names of claims it is responsible for deleting go to `claims`.
   */
  private async claim(value: string, mine: LockHolder, claims: string[], depth: number): Promise<boolean> {
    const name = `${this.variable}_CLAIM_${createHash('sha256').update(value).digest('hex').slice(0, 16).toUpperCase()}`;
    const claimValue = JSON.stringify({ nonce: mine.nonce, run: mine.run.url, at: new Date().toISOString() });
    if (await this.github.createVariable(name, claimValue)) {
      claims.push(name);
      return true;
    }
    const existing = await this.github.getVariable(name);
    if (!existing || depth + 1 >= MAX_CLAIM_DEPTH) return false;
    const at = Date.parse((JSON.parse(existing.value) as { at?: string } | null)?.at ?? '');
    if (!(Date.now() - at > CLAIM_EXPIRY_MS) && !Number.isNaN(at)) return false; // another run is taking it over right now
    if (!(await this.claim(existing.value, mine, claims, depth + 1))) return false;
    claims.push(name); // the dead claimer's claim is ours to clean up now
    return true;
  }

  private took(mine: LockHolder): void {
    this.held = mine;
    core.info(`Took the deploy lock of ${this.appName} (repository variable ${this.variable}).`);
  }

  /**
   * Marks the lock alive, so a long run is not taken for a dead one. Throws a LockLostError when
   * another run holds it now: this run must not start another phase.
   */
  async renew(): Promise<void> {
    if (!this.held) return;
    const current = await this.github.getVariable(this.variable);
    const holder = parseHolder(current?.value ?? '');
    if (holder?.nonce !== this.held.nonce) {
      this.held = undefined;
      throw new LockLostError(
        `The deploy lock of ${this.appName} was ${holder ? `taken over by ${describeHolder(holder)}` : 'deleted by someone else'}: this run stopped before its next phase so two runs do not change the same app. If phases take longer than lock-expiry (${Math.round(this.options.expiryMs / 1000)} s), raise it.`,
      );
    }
    this.held = { ...this.held, renewed: new Date().toISOString() };
    await this.github.updateVariable(this.variable, JSON.stringify(this.held));
  }

  /**
   * Deletes the lock left by `held` (a main step that was killed outright), if the variable still
   * holds exactly that lock: same nonce, same run and attempt. True when it deleted it.
   */
  static async releaseLeftover(github: GitHubRepo, held: HeldLock): Promise<boolean> {
    const holder = parseHolder((await github.getVariable(held.variable))?.value ?? '');
    if (!holder || holder.nonce !== held.nonce || holder.run.id !== held.run.id || holder.run.attempt !== held.run.attempt) return false;
    await github.deleteVariable(held.variable);
    return true;
  }

  /** Deletes the lock if this run still holds it. */
  async release(): Promise<void> {
    if (!this.held) return;
    const current = await this.github.getVariable(this.variable);
    if (parseHolder(current?.value ?? '')?.nonce === this.held.nonce) {
      await this.github.deleteVariable(this.variable);
      core.info(`Released the deploy lock of ${this.appName}.`);
    }
    this.held = undefined;
  }

  private staleReason(holder: LockHolder | undefined): string | undefined {
    if (!holder) return `the repository variable ${this.variable} does not hold a lock this action wrote`;
    const idle = Date.now() - Date.parse(holder.renewed);
    if (!(idle < this.options.expiryMs))
      return `${holder.run.url} has not renewed it since ${holder.renewed} (lock-expiry is ${Math.round(this.options.expiryMs / 1000)} s)`;
    if (holder.run.id && holder.run.id === this.me.run.id && holder.run.attempt < this.me.run.attempt) {
      return `it was left by attempt ${holder.run.attempt} of this same run, which has ended`;
    }
    return undefined;
  }
}
