import type { HookPoint, Settings } from '../settings.js';
import type { Traffic } from '../providers/types.js';
import type { RunPhase } from './context.js';
import { hookPhase } from './phases/hooks.js';
import { health, preview, verify } from './phases/health.js';
import { capacity, inventory } from './phases/inventory.js';
import { locate } from './phases/locate.js';
import { release } from './phases/release.js';
import { moveTraffic, shiftStep } from './phases/traffic.js';
import { drain } from './phases/drain.js';
import { validate } from './phases/validate.js';

/** The phases of a run, in order: the mode's, with the user's hooks and the progressive steps. */
export function phasesFor(settings: Settings, traffic: Traffic): RunPhase[] {
  const hook = (point: HookPoint): RunPhase[] => {
    const given = settings.rollout.hooks[point];
    return given ? [hookPhase(given)] : [];
  };
  switch (settings.mode) {
    case 'deploy':
      return [locate, capacity, inventory, ...hook('before-release'), release, ...hook('after-release'), health, preview];
    case 'switch': {
      const steps = traffic.shiftTo ? settings.rollout.steps.slice(0, -1).map(shiftStep) : [];
      return [locate, inventory, verify, ...hook('before-switch'), ...steps, moveTraffic, validate, ...hook('after-switch'), drain];
    }
    case 'rollback':
      return [locate, capacity, inventory, verify, moveTraffic, validate, drain];
  }
}
