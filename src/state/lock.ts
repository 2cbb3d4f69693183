import * as core from '@actions/core';
import { randomUUID } from 'node:crypto';
import { UserError } from '../errors.js';
import { GitHubError, type GitHubRepo } from '../github/client.js';
import { sleep } from '../retry.js';
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

export interface LockOptions {
  timeoutMs: number;
  expiryMs: number;
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

const ago = (iso: string): string => {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return seconds < 120 ? `${seconds} s ago` : `${Math.round(seconds / 60)} min ago`;
};

/**
 * The deploy lock of one app: a repository variable that only one run can create (the API answers
 * 409 to a create of an existing name, which makes taking it atomic). A second run polls until the
 * holder deletes it, up to `lock-timeout`, then fails naming the holder. A lock its holder stopped
 * renewing for `lock-expiry` (a cancelled or crashed run), or left by an earlier attempt of this
 * same run, is taken over.
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

  async acquire(): Promise<void> {
    const deadline = Date.now() + this.options.timeoutMs;
    const pollMs = Math.min(10_000, Math.max(200, this.options.timeoutMs / 20));
    let announced = '';
    for (let poll = 0; poll < MAX_POLLS; poll++) {
      const now = new Date().toISOString();
      const mine: LockHolder = { ...this.me, since: now, renewed: now, nonce: randomUUID() };
      try {
        await this.github.createVariable(this.variable, JSON.stringify(mine));
        this.held = mine;
        core.info(`Took the deploy lock of ${this.appName} (repository variable ${this.variable}).`);
        return;
      } catch (error) {
        if (!(error instanceof GitHubError && error.status === 409)) throw error;
      }
      const current = await this.github.getVariable(this.variable);
      if (!current) continue; // released between our create and our read: try again at once
      const holder = parseHolder(current.value);
      const stale = this.staleReason(holder);
      if (stale) {
        // Delete only what we judged stale: if it changed meanwhile, a live run took it.
        const again = await this.github.getVariable(this.variable);
        if (again?.value === current.value) {
          core.warning(`Taking over the deploy lock of ${this.appName}: ${stale}.`);
          await this.github.deleteVariable(this.variable);
        }
        continue;
      }
      const who = holder ? `${holder.run.url} (job ${holder.job || 'unknown'}, ${holder.mode} of release ${holder.release}) since ${holder.since} (${ago(holder.since)})` : 'an unknown run';
      if (Date.now() + pollMs > deadline) {
        throw new UserError(
          `The deploy lock of ${this.appName} is held by ${who}; waited ${Math.round(this.options.timeoutMs / 1000)} s (lock-timeout). Let that run finish, then re-run this one. A cancelled run's lock expires ${Math.round(this.options.expiryMs / 1000)} s after its last renewal (lock-expiry), or delete the repository variable ${this.variable}.`,
        );
      }
      if (announced !== current.value) core.info(`Waiting for the deploy lock of ${this.appName}, held by ${who}.`);
      announced = current.value;
      await sleep(pollMs);
    }
    throw new UserError(`Gave up on the deploy lock of ${this.appName} after ${MAX_POLLS} attempts; the repository variable ${this.variable} keeps changing.`);
  }

  /** Marks the lock alive, so a long run is not taken for a dead one. Best effort. */
  async renew(): Promise<void> {
    if (!this.held) return;
    const current = await this.github.getVariable(this.variable);
    if (parseHolder(current?.value ?? '')?.nonce !== this.held.nonce) {
      core.warning(`The deploy lock of ${this.appName} is no longer held by this run (it was taken over as expired): raise lock-expiry if phases take longer.`);
      this.held = undefined;
      return;
    }
    this.held = { ...this.held, renewed: new Date().toISOString() };
    await this.github.updateVariable(this.variable, JSON.stringify(this.held));
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
    if (!(idle < this.options.expiryMs)) return `${holder.run.url} has not renewed it since ${holder.renewed} (lock-expiry is ${Math.round(this.options.expiryMs / 1000)} s)`;
    if (holder.run.id && holder.run.id === this.me.run.id && holder.run.attempt < this.me.run.attempt) {
      return `it was left by attempt ${holder.run.attempt} of this same run, which has ended`;
    }
    return undefined;
  }
}
