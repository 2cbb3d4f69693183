import type { HookPoint } from './settings.js';

/**
 * The id of a phase: what the state variable records (`completed`, `failedPhase`) and what a rerun
 * reads back. Never rename one: state written by earlier versions names phases by these ids, and a
 * rerun after an upgrade must still resume from it.
 */
export type PhaseId =
  | 'locate'
  | 'capacity'
  | 'inventory'
  | 'release'
  | 'health'
  | 'preview'
  | 'verify'
  | 'switch'
  | 'validate'
  | 'drain'
  /** A step of a progressive switch: `step-10`. */
  | `step-${number}`
  /** A hook the user gave: `hook-before-switch`. */
  | `hook-${HookPoint}`;

/** The phase that moves all traffic to the target color (`Move traffic`). */
export const SWITCH_PHASE = 'switch' satisfies PhaseId;

/** The phase that puts a release on the target hosts: what a rerun may skip (resume). */
export const RELEASE_PHASE = 'release' satisfies PhaseId;
