import * as core from '@actions/core';
import { UserError, messageOf } from '../errors.js';
import { GitHubError, GitHubRepo } from '../github/client.js';
import { GitHubDeployment } from '../github/deployment.js';
import { describeLive, liveColor } from '../live-traffic.js';
import type { Settings } from '../settings.js';
import type { Color } from '../colors.js';
import { DeployLock, LOCK_STATE, LockLostError, type HeldLock, type LockHolder } from '../state/lock.js';
import {
  interruptedMove,
  liveObserved,
  phaseCompleted,
  resumeReason,
  runFinished,
  runStarted,
  type AppState,
  type RunRef,
  type StateChange,
} from '../state/model.js';
import { StateStore } from '../state/store.js';
import type { RunContext, RunPhase } from './context.js';
import type { PhaseRunResult } from './runner.js';

const now = (): string => new Date().toISOString();

/** Modes whose runs change what is live, and so are worth a GitHub deployment. */
const DEPLOYMENT_MODES = new Set(['switch', 'rollback']);

/**
 * What GitHub keeps of a run: the state variable (checkpoints, resume, drift), the deploy lock,
 * and the optional GitHub deployment. None of it may fail a deploy that is otherwise fine: a
 * missing permission or a GitHub outage turns it off with a warning that says how to fix it,
 * unless `strict-state` asks to fail before anything changes.
 */
export class RunRecord {
  /** What the summary should say about state, drift and resume, in plain sentences. */
  readonly notes: string[] = [];
  private store?: StateStore;
  private lock?: DeployLock;
  private deployment?: GitHubDeployment;
  /** The state as this run found it. */
  private recorded?: AppState;
  private readonly run: RunRef;

  private constructor(
    private readonly settings: Settings,
    private readonly github: GitHubRepo | undefined,
  ) {
    this.run = { id: settings.github.run.id, attempt: settings.github.run.attempt, url: settings.github.run.url };
  }

  /**
   * Reads the state, takes the deploy lock (not in a dry run) and records that this run started.
   * Throws only a UserError: the lock is held by another run, or strict state cannot be had.
   */
  static async open(settings: Settings): Promise<RunRecord> {
    const record = new RunRecord(settings, GitHubRepo.fromSettings(settings.github));
    const { github } = settings;
    if (!record.github) {
      core.info(`State, deploy lock and deployments are off: ${github.token ? 'GITHUB_REPOSITORY is not set (a local run)' : 'github-token is empty'}.`);
      return record;
    }
    const store = new StateStore(record.github, github.stateVariable);
    let step = `read the state of ${settings.appName} (repository variable ${github.stateVariable})`;
    try {
      const { state, exists } = await store.read();
      record.recorded = state;
      core.info(
        exists
          ? `State of ${settings.appName} read from the repository variable ${github.stateVariable}.`
          : `No state yet for ${settings.appName}: the repository variable ${github.stateVariable} will be created.`,
      );
      if (settings.dryRun) return record;
      step = `take the deploy lock of ${settings.appName} (repository variable ${github.lockVariable})`;
      const lock = new DeployLock(
        record.github,
        github.lockVariable,
        settings.appName,
        { run: record.run, job: github.run.job, mode: settings.mode, release: settings.release },
        { timeoutMs: github.lockTimeoutMs, expiryMs: github.lockExpiryMs },
      );
      record.lock = lock;
      await lock.acquire();
      // For the post step: if this process is killed outright, it deletes this very lock.
      if (lock.holder) core.saveState(LOCK_STATE, JSON.stringify({ variable: lock.variable, nonce: lock.holder.nonce, run: record.run } satisfies HeldLock));
      record.store = store;
      step = `record the start of this run in the repository variable ${github.stateVariable}`;
      await store.update(runStarted(record.run, settings.mode, settings.release, now(), settings.mode === 'deploy' ? github.ref : undefined));
    } catch (error) {
      if (error instanceof UserError) throw error;
      record.store = undefined;
      // A token without the permission is the documented warn-and-go-on path (a 404 on a write is
      // GitHub hiding the variables API from such a token). Anything else (an outage that outlasted
      // the retries) means the lock or the state is unknown: a run must not go on without them.
      if (error instanceof GitHubError && (error.isPermission || error.status === 404)) {
        await record.off(error, true);
      } else {
        await record.close();
        throw new UserError(`Could not ${step}: ${messageOf(error)}. Nothing was changed; re-run when GitHub answers again.`);
      }
    }
    return record;
  }

  /** The deploy lock as this run holds it, if it does. */
  get lockHolder(): LockHolder | undefined {
    return this.lock?.holder;
  }

  /**
   * The release a switch or rollback makes live on `color`: the one the state records there; for a
   * switch without a record, the release this job was given (a rollback has none of its own).
   */
  liveRelease(color: Color | undefined): string | undefined {
    return this.releaseOn(color) ?? (this.settings.mode === 'rollback' ? undefined : this.settings.release);
  }

  /** The release the state records on `color`, when state is on and has one. */
  releaseOn(color: Color | undefined): string | undefined {
    return color ? this.recorded?.releases[color] : undefined;
  }

  /** The color the state records as live, when state is on and records one. */
  recordedLive(): Color | undefined {
    return this.recorded?.live;
  }

  /** The color an interrupted earlier attempt of this switch or rollback moved traffic to, if any. */
  interruptedMoveTo(): Color | undefined {
    return interruptedMove(this.recorded?.lastRun, { mode: this.settings.mode, release: this.settings.release, run: this.run });
  }

  /** Why a phase is skipped in this run (resume), or undefined to run it. */
  skipReason(phase: RunPhase, context: RunContext): string | undefined {
    // The move was made: the check that cleared it and the move itself are not repeated.
    if (context.resumedMove && (phase.checksBeforeMove || phase.switchesTraffic)) {
      return `an earlier attempt (${this.recorded?.lastRun?.run.url ?? 'unknown'}) already moved traffic to ${context.target}; it is validated again now`;
    }
    return resumeReason(this.recorded?.lastRun, { mode: this.settings.mode, release: this.settings.release, target: context.target, run: this.run }, phase.id);
  }

  /** The checkpoint after each completed phase; also the drift check and the deployment start. */
  async phaseDone(phase: RunPhase, context: RunContext, skipped: boolean): Promise<void> {
    const changes: StateChange[] = [];
    if (phase.id === 'locate') {
      changes.push(...this.checkDrift(context));
      await this.startDeployment(context);
    }
    if (skipped) this.notes.push(`Resumed: ${phase.title} was skipped, ${this.skipReason(phase, context) ?? 'completed earlier'}.`);
    // A skipped phase stays completed for this release: a third attempt may skip it too.
    changes.push(phaseCompleted(this.run, phase.id, context.target, now()));
    const moved = liveColor(context.liveAfter);
    if (phase.switchesTraffic && context.target) changes.push(liveObserved(context.target, this.settings.mode, this.run.url, now()));
    else if (moved && phase.id === 'validate') changes.push(liveObserved(moved, this.settings.mode, this.run.url, now()));
    await this.write(changes);
    // A lost lock (another run took it over) throws past the guard: no further phase may start.
    await this.guard('renew the deploy lock', async () => this.lock?.renew(), 'Variables: read and write', LockLostError);
  }

  /** Records how the run ended and what is live now, and finishes the deployment. */
  async finish(context: RunContext, result: PhaseRunResult): Promise<void> {
    const live = liveColor(context.liveAfter);
    await this.write([
      runFinished(this.run, result.failure ? 'failed' : result.stopped ? 'cancelled' : 'succeeded', result.failure?.phase, now()),
      ...(live ? [liveObserved(live, context.movedBack === live ? 'auto-rollback' : this.settings.mode, this.run.url, now())] : []),
    ]);
    if (this.deployment) {
      const deployment = this.deployment;
      this.deployment = undefined;
      const release = this.liveRelease(context.target);
      const text = result.failure
        ? `${result.failure.title} failed; live: ${describeLive(context.liveAfter)}`
        : result.stopped
          ? `${result.stopped}; live: ${describeLive(context.liveAfter)}`
          : `${describeLive(context.liveAfter)} is live${release ? ` with release ${release}` : ''}`;
      await this.guard(
        'finish the GitHub deployment',
        () => deployment.finish(!result.failure && !result.stopped, text, describeLive(context.liveAfter)),
        'Deployments: read and write',
      );
    }
  }

  /** Releases the deploy lock; safe to call on every path. */
  async close(): Promise<void> {
    const lock = this.lock;
    this.lock = undefined;
    await this.guard('release the deploy lock', async () => lock?.release());
    if (lock && !lock.holder) core.saveState(LOCK_STATE, '');
  }

  private checkDrift(context: RunContext): StateChange[] {
    const recorded = this.recorded?.live;
    const truth = liveColor(context.liveBefore);
    if (recorded && context.liveBefore && context.liveBefore.kind !== 'unknown' && truth !== recorded) {
      this.notes.push(
        `Drift: the state variable ${this.settings.github.stateVariable} records ${recorded} as live, but ${context.provider.traffic.description} says ${describeLive(context.liveBefore)}. Something outside this action changed it; this run acted on the load balancer's answer${this.store ? ' and corrected the record' : ''}.`,
      );
      core.warning(this.notes.at(-1) ?? '');
    }
    return truth ? [liveObserved(truth, 'outside', this.run.url, now())] : [];
  }

  private async startDeployment(context: RunContext): Promise<void> {
    const { github } = this.settings;
    if (!github.deployment || !this.github || this.settings.dryRun || !DEPLOYMENT_MODES.has(this.settings.mode)) return;
    if (!github.ref) {
      core.info('No GitHub deployment: GITHUB_SHA is not set.');
      return;
    }
    const repo = this.github;
    // The deployment is of what goes live: the release on the target color and the commit it was
    // deployed from, as the state recorded them; this job's own commit only when none is recorded.
    const color = context.target;
    const ref = (color && this.recorded?.commits?.[color]) || github.ref;
    const target = { environment: github.deployment.environment, ref, logUrl: github.run.url, ...(github.deployment.url && { url: github.deployment.url }) };
    await this.guard(
      `create a GitHub deployment to ${target.environment}`,
      async () => {
        this.deployment = await GitHubDeployment.start(repo, target, {
          color,
          release: this.liveRelease(color) ?? 'not recorded',
          mode: this.settings.mode,
          appName: this.settings.appName,
        });
      },
      'Deployments: read and write',
    );
  }

  private async write(changes: StateChange[]): Promise<void> {
    const store = this.store;
    if (!store || changes.length === 0) return;
    await this.guard(`write the repository variable ${store.variable}`, () => store.update((state) => changes.reduce((s, change) => change(s), state)));
  }

  /** Runs a bookkeeping call; a failure becomes a warning (and turns state off) instead of failing the run. */
  private async guard(
    what: string,
    call: () => Promise<unknown>,
    permission = 'Variables: read and write',
    fatal?: new (...args: never[]) => Error,
  ): Promise<void> {
    try {
      await call();
    } catch (error) {
      if (fatal && error instanceof fatal) throw error;
      core.warning(`Could not ${what}: ${messageOf(error)}${error instanceof GitHubError && error.isPermission ? `. ${permissionFix(permission)}` : ''}`);
      if (permission === 'Variables: read and write' && error instanceof GitHubError && error.isPermission) await this.off(error, false);
    }
  }

  /** Stops using state and lock for the rest of the run, saying why once. */
  private async off(error: unknown, atStart: boolean): Promise<void> {
    const variable = this.settings.github.stateVariable;
    const rejected = error instanceof GitHubError && error.status === 401;
    const why = rejected
      ? `GitHub does not accept the github-token (${messageOf(error)}); pass a valid token.`
      : error instanceof GitHubError && error.isPermission
        ? `the github-token cannot read and write the repository variable ${variable}. ${permissionFix('Variables: read and write')}`
        : `the repository variable ${variable} could not be used: ${messageOf(error)}.`;
    this.store = undefined;
    const lock = this.lock;
    this.lock = undefined;
    await lock?.release().catch(() => undefined);
    if (atStart && this.settings.github.strictState) {
      throw new UserError(`State is required (strict-state: true) but ${why} Nothing was changed.`);
    }
    const note = `State and deploy lock are off for this run: ${why} Going on with the load balancer as the only truth: a rerun starts from the first phase, and nothing stops a concurrent run (add a \`concurrency:\` group to the workflow).`;
    if (atStart) core.warning(note);
    this.notes.push(note);
  }
}

function permissionFix(permission: string): string {
  const how = permission.startsWith('Variables')
    ? 'the default GITHUB_TOKEN cannot have it, so pass github-token a fine-grained personal access token or a GitHub App token'
    : 'grant it to github-token, or `permissions: deployments: write` for the default GITHUB_TOKEN';
  return `The token needs the repository permission "${permission}": ${how}.`;
}
