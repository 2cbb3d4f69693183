import { isDeepStrictEqual } from 'node:util';
import { GitHubError, type GitHubRepo } from '../github/client.js';
import { parseState, serializeState, type AppState, type StateChange } from './model.js';

/** Rounds of read, change, write before giving up on a variable that keeps changing under us. */
const MAX_ROUNDS = 4;

/**
 * The app's state in one repository variable. The variables API has no compare-and-swap, so each
 * change is a loop: read the current value, apply the (idempotent) change, write it if it changed
 * anything, and read again until the change holds. A concurrent writer's change survives as long
 * as it is applied the same way; the deploy lock makes concurrent writers rare in the first place.
 */
export class StateStore {
  constructor(
    private readonly github: GitHubRepo,
    readonly variable: string,
  ) {}

  /** The stored state; the empty state when the variable does not exist yet (the first run). */
  async read(): Promise<{ state: AppState; exists: boolean }> {
    const variable = await this.github.getVariable(this.variable);
    return { state: parseState(variable?.value), exists: variable !== undefined };
  }

  /** Applies `change` so that it holds in the stored value; returns the state that was stored. */
  async update(change: StateChange): Promise<AppState> {
    for (let round = 0; round <= MAX_ROUNDS; round++) {
      const { state, exists } = await this.read();
      const next = change(state);
      if (exists && isDeepStrictEqual(next, state)) return state;
      if (round === MAX_ROUNDS) break;
      try {
        if (exists) await this.github.updateVariable(this.variable, serializeState(next));
        else await this.github.createVariable(this.variable, serializeState(next));
      } catch (error) {
        // Another writer created the variable between our read and our create: read it and go again.
        if (!(error instanceof GitHubError && (error.status === 409 || error.status === 404))) throw error;
      }
    }
    throw new GitHubError(409, `the repository variable ${this.variable} kept changing while this run wrote it: another run is writing the same app's state`);
  }
}
