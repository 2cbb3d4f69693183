import { otherColor, type Color } from '../../colors.js';
import { UserError } from '../../errors.js';
import { describeLive, liveColor } from '../../live-traffic.js';
import type { LiveTraffic } from '../../providers/types.js';
import type { Mode } from '../../settings.js';
import type { RunPhase } from '../context.js';

/** Where this run goes, given what is live: deploy and switch go to the idle color, rollback to the previous one. */
export function targetOf(mode: Mode, live: LiveTraffic, initialColor: Color): Color | undefined {
  switch (live.kind) {
    case 'color':
      return otherColor(live.color);
    case 'none':
      if (mode === 'rollback') {
        throw new UserError('Nothing is live yet, so there is no previous color to roll back to. Deploy and switch first.');
      }
      return initialColor;
    case 'weighted': {
      // A progressive switch stopped halfway: the color with the larger share is the one it left.
      const split = `Traffic is split (blue ${live.weights.blue}%, green ${live.weights.green}%): a progressive switch stopped halfway`;
      if (live.weights.blue === live.weights.green)
        throw new UserError(
          `${split}, evenly, so which color it was moving to cannot be told. Move all traffic to one color on the load balancer, then run again.`,
        );
      if (mode === 'deploy')
        throw new UserError(
          `${split}, so both colors serve requests and neither is idle to deploy to. Run mode: switch to finish it or mode: rollback to undo it, then deploy.`,
        );
      const larger: Color = live.weights.blue > live.weights.green ? 'blue' : 'green';
      return mode === 'rollback' ? larger : otherColor(larger);
    }
    case 'unknown':
      return undefined;
  }
}

export const locate: RunPhase = {
  id: 'locate',
  title: 'Read live traffic',
  readOnly: true,
  color: () => undefined,
  hosts: (c) => c.provider.traffic.description,
  plan: () => 'read which color is live',
  async run(c) {
    c.liveBefore = await c.provider.traffic.readLive();
    const live = liveColor(c.liveBefore);
    if (live && live === c.interruptedMoveTo) {
      // An earlier attempt moved traffic and was stopped before it validated: what was live before
      // it is the other color, and moving "to the idle color" now would silently undo its move.
      c.resumedMove = true;
      c.target = live;
      c.liveBefore = { kind: 'color', color: otherColor(live) };
      return `live: ${live}, moved there by an earlier attempt of this ${c.settings.mode} that stopped before validating; validating it now`;
    }
    if (c.liveBefore.kind === 'none' && c.recordedLive) {
      // "Nothing live" sends a deploy to initial-color: only when the balancer and the record agree.
      throw new UserError(
        `${c.provider.traffic.description} reports nothing live, but the state variable ${c.settings.github.stateVariable} records ${c.recordedLive} as live, so which hosts are idle cannot be told. Nothing was changed. Check the load balancer; if nothing is live indeed, delete the repository variable ${c.settings.github.stateVariable} and run again.`,
      );
    }
    c.target = targetOf(c.settings.mode, c.liveBefore, c.settings.initialColor);
    const onTarget = c.target && c.recordedReleases?.[c.target];
    if (c.settings.mode === 'switch' && onTarget && onTarget !== c.settings.release) {
      // A switch sends users to whatever the idle color runs: it must be the release this run was asked for.
      throw new UserError(
        `This switch is for release ${c.settings.release}, but the state variable ${c.settings.github.stateVariable} records release ${onTarget} on ${c.target}, so switching would send traffic to ${onTarget}. Nothing was changed. Deploy ${c.settings.release} to ${c.target} first (mode: deploy), or switch with release: ${onTarget} if that is the one to go live.`,
      );
    }
    const verb = { deploy: 'deploying to', switch: 'switching to', rollback: 'rolling back to' }[c.settings.mode];
    return `live: ${describeLive(c.liveBefore)}; ${verb} ${c.target ?? 'unknown'}`;
  },
};
