import { otherColor, type Color } from './colors.js';
import { UserError, messageOf } from './errors.js';
import type { Phase } from './phases.js';
import * as core from '@actions/core';
import type { Host, HostHealth, LiveTraffic, Provider, Traffic } from './providers/types.js';
import type { Hook, HookPoint, Mode, Settings } from './settings.js';
import { hookEnvironment, runOnRunner } from './hooks.js';
import { validateUrl } from './health/validation.js';
import { sleep } from './retry.js';
import { probeUntilHealthy } from './health/probe.js';
import { annotateError, annotateUnhealthy } from './report/annotations.js';

/** What the phases of one run share: filled in as they go, read by the report. */
export interface RunContext {
  settings: Settings;
  provider: Provider;
  /** Live traffic when the run started, as the load balancer says. */
  liveBefore?: LiveTraffic;
  /** Live traffic after the traffic phases, read back from the load balancer. */
  liveAfter?: LiveTraffic;
  /** The color this run releases to or moves traffic to. */
  target?: Color;
  hosts: Partial<Record<Color, Host[]>>;
  previewUrl?: string;
  /** Set when a failed validation moved traffic back by itself. */
  movedBack?: Color;
  /** From the failed check to traffic back on the old color, when that happened. */
  autoRollbackMs?: number;
  /** The color an interrupted earlier attempt of this switch or rollback moved traffic to (from state). */
  interruptedMoveTo?: Color;
  /** This run continues that attempt: traffic already moved, so it validates instead of moving again. */
  resumedMove?: boolean;
  /** True once the job is cancelled: a progressive step stops holding its share and ends. */
  cancelled?: () => boolean;
  /** The color the state variable records as live, when state is on and records one. */
  recordedLive?: Color;
  /** The release the state variable records on each color, when state is on. */
  recordedReleases?: Partial<Record<Color, string>>;
}

/**
 * The color traffic moves away from: the one live before or, when a progressive switch stopped
 * halfway, the other color than the one this run moves to (where a failed validation sends it back).
 */
export function fromColor(c: RunContext): Color | undefined {
  const live = c.liveBefore;
  if (live?.kind === 'weighted') return c.target && otherColor(c.target);
  return liveColor(live);
}

type RunPhase = Phase<RunContext>;

export function describeLive(live: LiveTraffic | undefined): string {
  if (!live) return 'unknown';
  switch (live.kind) {
    case 'color':
      return live.color;
    case 'none':
      return 'none';
    case 'weighted':
      return `split (blue ${live.weights.blue}%, green ${live.weights.green}%)`;
    case 'unknown':
      return 'unknown';
  }
}

/** The color traffic is on, when it is on exactly one. */
export function liveColor(live: LiveTraffic | undefined): Color | undefined {
  return live?.kind === 'color' ? live.color : undefined;
}

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
      if (live.weights.blue === live.weights.green) throw new UserError(`${split}, evenly, so which color it was moving to cannot be told. Move all traffic to one color on the load balancer, then run again.`);
      if (mode === 'deploy') throw new UserError(`${split}, so both colors serve requests and neither is idle to deploy to. Run mode: switch to finish it or mode: rollback to undo it, then deploy.`);
      const larger: Color = live.weights.blue > live.weights.green ? 'blue' : 'green';
      return mode === 'rollback' ? larger : otherColor(larger);
    }
    case 'unknown':
      return undefined;
  }
}

const hostNames = (hosts: Host[] | undefined): string => (hosts?.length ? hosts.map((h) => h.name).join(', ') : '');

/** The hosts of the target color; when it is not known (a dry run), the hosts of either color it may be. */
function targetHostNames(c: RunContext): string {
  if (c.target) return hostNames(c.hosts[c.target]);
  const either = (['blue', 'green'] as const).filter((color) => c.hosts[color]?.length).map((color) => `${color}: ${hostNames(c.hosts[color])}`);
  return either.length ? `one color of ${either.join('; ')}` : '';
}

function targetHosts(context: RunContext): Host[] {
  const hosts = context.target ? context.hosts[context.target] : undefined;
  if (!context.target || !hosts) throw new Error('target hosts read before the inventory phase');
  return hosts;
}

const locate: RunPhase = {
  name: 'locate',
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

const capacity: RunPhase = {
  name: 'capacity',
  title: 'Make sure the color has hosts',
  color: (c) => c.target,
  hosts: (c) => c.target ?? '',
  plan: (c) => `scale the ${c.target ?? 'target'} color up to the live color's size when it was scaled down`,
  async run(c) {
    const target = c.target;
    if (!target) throw new Error('capacity before locate');
    const ensure = c.provider.inventory.ensureCapacity?.bind(c.provider.inventory);
    return ensure ? ensure(target, fromColor(c)) : 'fixed hosts: nothing to scale';
  },
};

const inventory: RunPhase = {
  name: 'inventory',
  title: 'Find hosts',
  readOnly: true,
  color: (c) => c.target,
  hosts: (c) => hostNames(c.target ? c.hosts[c.target] : [...(c.hosts.blue ?? []), ...(c.hosts.green ?? [])]),
  plan: () => 'find the hosts of the target color',
  async run(c) {
    // Without a known target (a dry run that could not read the balancer) list both colors.
    const colors: Color[] = c.target ? [c.target] : ['blue', 'green'];
    for (const color of colors) {
      c.hosts[color] = await c.provider.inventory.hostsOf(color);
      if (c.hosts[color].length === 0 && c.target) {
        throw new UserError(`No hosts found for the ${color} color. Check the inventory inputs of provider ${c.settings.provider.name}.`);
      }
    }
    return colors.map((color) => `${color}: ${c.hosts[color]?.length ?? 0} host(s)`).join('; ');
  },
};

const release: RunPhase = {
  name: 'release',
  title: 'Release',
  color: (c) => c.target,
  hosts: targetHostNames,
  plan: (c) => `put release ${c.settings.release} on the ${c.target ?? 'idle'} hosts, install CPAN dependencies, restart gracefully`,
  async run(c) {
    const hosts = targetHosts(c);
    const outcomes = await c.provider.releaser.release(hosts, c.settings.release);
    const failed = outcomes.filter((o) => !o.ok);
    if (failed.length > 0) {
      const live = describeLive(c.liveBefore);
      const each = failed.map((o) => `${o.host.name}: ${o.detail}${o.restored ? ' (restored to its previous release)' : ''}`).join('; ');
      throw new UserError(`Release ${c.settings.release} failed on ${failed.length} of ${hosts.length} ${c.target} host(s): ${each}. Live traffic is untouched (${live}).`);
    }
    return `release ${c.settings.release} on ${outcomes.length} host(s)`;
  },
};

/** Why a host is not healthy: the balancer's word and the probe's error, whichever failed. */
function unhealthyReason(h: HostHealth): string {
  const reasons = [h.balancerState && !(h.probe && !h.probe.ok && /^(UP|healthy)\b/.test(h.balancerState)) && `balancer: ${h.balancerState}`, h.probe && !h.probe.ok && `probe: ${h.probe.error}`];
  return reasons.filter(Boolean).join('; ') || 'unhealthy';
}

/** Health of the target hosts: all must pass, or `minHealthy` when given. */
async function requireHealthy(c: RunContext, minHealthy: number | undefined, refusal: string): Promise<HostHealth[]> {
  const hosts = targetHosts(c);
  const report = await c.provider.health.check(hosts);
  const healthy = report.filter((h) => h.ok);
  const needed = minHealthy === undefined ? hosts.length : Math.min(minHealthy, hosts.length);
  const unhealthy = report.filter((h) => !h.ok);
  annotateUnhealthy(unhealthy);
  if (healthy.length < needed || healthy.length === 0) {
    const names = unhealthy.map((h) => `${h.host.name} (${unhealthyReason(h)})`).join(', ');
    throw new UserError(`${refusal}: ${healthy.length} of ${hosts.length} ${c.target} host(s) healthy, ${needed} needed. Unhealthy: ${names}.`);
  }
  return healthy;
}

const health: RunPhase = {
  name: 'health',
  title: 'Check health',
  color: (c) => c.target,
  hosts: targetHostNames,
  plan: (c) => `probe ${c.settings.health.path} on every ${c.target ?? 'idle'} host`,
  async run(c) {
    const healthy = await requireHealthy(c, undefined, `Release ${c.settings.release} is not healthy on ${c.target}`);
    return `${healthy.length} host(s) healthy`;
  },
};

const preview: RunPhase = {
  name: 'preview',
  title: 'Check preview route',
  color: (c) => c.target,
  hosts: (c) => c.provider.traffic.description,
  plan: (c) => `probe ${c.settings.health.path} through the preview route of ${c.target ?? 'the idle color'}`,
  async run(c) {
    const target = c.target;
    if (!target) throw new Error('preview before locate');
    c.previewUrl = c.provider.traffic.previewUrl(target) ?? c.settings.traffic.previewUrl;
    if (!c.previewUrl) return 'no preview route configured (set preview-url to check one)';
    const result = await probeUntilHealthy(`${c.previewUrl}${c.settings.health.path}`, c.settings.health, { ...(c.provider.probeVia && { via: c.provider.probeVia }) });
    if (!result.ok) {
      annotateUnhealthy([{ host: { name: 'preview route', color: target, address: c.previewUrl }, ok: false, probe: result }]);
      throw new UserError(`The preview route ${result.url} is not healthy: ${result.error}. Live traffic is untouched.`);
    }
    return `${result.url} answered ${result.status}`;
  },
};

const verify: RunPhase = {
  name: 'verify',
  title: 'Check health before moving traffic',
  color: (c) => c.target,
  hosts: targetHostNames,
  plan: (c) => `refuse unless the ${c.target ?? 'target'} hosts are healthy in the load balancer and by a direct probe`,
  async run(c) {
    const refusal = c.settings.mode === 'rollback' ? `Cannot roll back to ${c.target}` : `Refusing to switch to ${c.target}`;
    const healthy = await requireHealthy(c, c.settings.traffic.minHealthyHosts, refusal);
    return `${healthy.length} of ${targetHosts(c).length} host(s) healthy`;
  },
};

const moveTraffic: RunPhase = {
  name: 'switch',
  title: 'Move traffic',
  movesTraffic: true,
  color: (c) => c.target,
  hosts: (c) => c.provider.traffic.description,
  plan: (c) => `move live traffic from ${describeLive(c.liveBefore)} to ${c.target ?? 'the other color'}`,
  async run(c) {
    const target = c.target;
    if (!target) throw new Error('switch before locate');
    const detail = await moveOrReadBack(c, target);
    const unweighted = c.settings.mode === 'switch' && c.settings.rollout.steps.length > 1 && !c.provider.traffic.shiftTo;
    return unweighted ? `${detail} (all at once: ${c.provider.traffic.description} has no weights, so traffic-steps were not applied)` : detail;
  },
};

/**
 * Moves all traffic to `target`. A move that failed may still have taken effect (the answer was
 * lost, a check after it failed): the live color is read back, and when `target` is live the move
 * counts (the run validates it and records it; reported as a failure, a rerun would read `target`
 * as the old color and move traffic straight back). Otherwise the error stands, with what is live.
 */
async function moveOrReadBack(c: RunContext, target: Color): Promise<string> {
  try {
    return await c.provider.traffic.moveTo(target, targetHosts(c));
  } catch (error) {
    const now = await c.provider.traffic.readLive().catch(() => undefined);
    if (liveColor(now) !== target) throw error;
    const detail = `${target} is live (read back from ${c.provider.traffic.description}), though the move reported: ${messageOf(error)}`;
    core.warning(detail, { title: `The move to ${target} took effect despite an error` });
    return detail;
  }
}

/** One step of a progressive switch: a share of traffic on the new color, held and watched for the pause. */
function shiftStep(percent: number): RunPhase {
  return {
    name: `step-${percent}`,
    title: `Shift ${percent}% of traffic`,
    movesTraffic: true,
    color: (c) => c.target,
    hosts: (c) => c.provider.traffic.description,
    plan: (c) => `send ${percent}% of requests to ${c.target ?? 'the new color'}, validate for ${c.settings.rollout.pauseMs / 1000}s, move all back on a failed check`,
    async run(c) {
      const target = c.target;
      const shiftTo = c.provider.traffic.shiftTo?.bind(c.provider.traffic);
      if (!target || !shiftTo) throw new Error('shift step without a target or weights');
      if (!fromColor(c)) return 'nothing was live: the first switch moves all traffic at once';
      const already = c.liveBefore?.kind === 'weighted' ? c.liveBefore.weights[target] : 0;
      if (already >= percent) return `${target} already had ${already}% when this run started (a progressive switch stopped halfway): step passed`;
      const detail = await shiftTo(target, percent, targetHosts(c));
      const rounds = await watch(c, c.settings.rollout.pauseMs);
      return `${detail}; ${rounds}`;
    },
  };
}

/**
 * Validation rounds, back to back, for `durationMs` (at least one round): each round sends the
 * validation requests through the public entry point and reads the alarms. The first failed round
 * moves traffic back at once. Returns a detail line with the figures of the last round.
 */
async function watch(c: RunContext, durationMs: number): Promise<string> {
  const started = performance.now();
  let rounds = 0;
  let last = '';
  do {
    // A check that cannot run (an alarm that does not exist, AWS refusing the call) is no pass:
    // traffic must not stay split, or on a color nobody could validate.
    const check = await validationRound(c).catch((error: unknown) => ({ problem: `validation could not run: ${messageOf(error)}`, detail: '' }));
    rounds++;
    if (check.problem) await moveBack(c, check.problem, performance.now());
    last = check.detail;
    const left = durationMs - (performance.now() - started);
    if (left <= 0) break;
    if (c.cancelled?.()) return `${rounds} validation round(s) passed${last ? `, last: ${last}` : ''}; pause cut short by the cancel`;
    await sleep(Math.min(left, 1000));
    if (c.cancelled?.()) return `${rounds} validation round(s) passed${last ? `, last: ${last}` : ''}; pause cut short by the cancel`;
  } while (performance.now() - started < durationMs);
  return `${rounds} validation round(s) passed${last ? `, last: ${last}` : ''}`;
}

/** One validation round: the alarms, and the validation requests through the public entry point. */
async function validationRound(c: RunContext): Promise<{ problem?: string; detail: string }> {
  const { rollout, traffic, health } = c.settings;
  const details: string[] = [];
  const firing = (await c.provider.alarms?.firing()) ?? [];
  if (firing.length > 0) return { problem: firing.join('; '), detail: '' };
  if (c.provider.alarms) details.push(`${rollout.alarms.length} alarm(s) OK`);
  if (traffic.publicUrl) {
    const url = `${traffic.publicUrl}${rollout.validationPath}`;
    const result = await validateUrl(url, health, rollout.validation);
    if (!result.ok) return { problem: `${url}: ${result.problem ?? 'failed'}`, detail: '' };
    details.push(`${result.succeeded}/${result.requests} ok, p95 ${result.latencyP95Ms} ms`);
  }
  return { detail: details.join(', ') };
}

const validate: RunPhase = {
  name: 'validate',
  title: 'Validate after the move',
  movesTraffic: true,
  color: (c) => c.target,
  hosts: (c) => c.settings.traffic.publicUrl ?? c.provider.traffic.description,
  plan: (c) =>
    `read the live color back${c.settings.traffic.publicUrl ? `, send ${c.settings.rollout.validation.requests} request(s) to ${c.settings.traffic.publicUrl}` : ''}${c.settings.rollout.alarms.length ? ', read the alarms' : ''}; move traffic back on failure`,
  async run(c) {
    const target = c.target;
    if (!target) throw new Error('validate before locate');
    c.liveAfter = await c.provider.traffic.readLive();
    if (liveColor(c.liveAfter) !== target) await moveBack(c, `the load balancer reports ${describeLive(c.liveAfter)} live, not ${target}`, performance.now());
    const rounds = await watch(c, 0);
    return `${target} is live; ${rounds}`;
  },
};

const drain: RunPhase = {
  name: 'drain',
  title: 'Drain the old color',
  color: (c) => fromColor(c),
  hosts: (c) => c.provider.traffic.description,
  plan: (c) => `wait for in-flight requests on ${fromColor(c) ?? 'the old color'} to finish (at most ${c.settings.traffic.drainTimeoutMs / 1000}s)`,
  async run(c) {
    const from = fromColor(c);
    if (!from) return 'nothing was live before: nothing to drain';
    const drainFrom = c.provider.traffic.drain?.bind(c.provider.traffic);
    return drainFrom ? drainFrom(from) : `${c.provider.traffic.description} drains by itself`;
  },
};

/**
 * A failed validation sends all traffic back to where it was, at once and by itself, annotates what
 * failed with its figures, then fails the run. `failedAt` (a performance.now() time) is when the
 * check failed: the summary reports how long traffic took to get back.
 */
async function moveBack(c: RunContext, problem: string, failedAt: number): Promise<never> {
  const previous = fromColor(c);
  annotateError(problem, `Validation failed on ${c.target ?? 'the new color'}`);
  if (!previous) throw new UserError(`Validation failed: ${problem}. Nothing was live before, so there is nothing to move back to.`);
  let despite = '';
  try {
    await c.provider.traffic.moveTo(previous, c.hosts[previous] ?? (await c.provider.inventory.hostsOf(previous)));
  } catch (error) {
    // The move back may have taken effect all the same: what is live now is what gets recorded.
    const now = await c.provider.traffic.readLive().catch(() => undefined);
    // Unread, it is unknown: the color validate read before the move back may no longer be live.
    c.liveAfter = now ?? { kind: 'unknown', reason: 'not readable after the failed move back' };
    if (liveColor(now) !== previous) throw new UserError(`Validation failed: ${problem}. Moving traffic back to ${previous} failed too: ${messageOf(error)}. ${c.provider.traffic.description} reports ${describeLive(now)} live. Check the load balancer now.`);
    despite = ` (${c.provider.traffic.description} reports it live, though the move back reported: ${messageOf(error)})`;
  }
  c.autoRollbackMs = Math.round(performance.now() - failedAt);
  c.liveAfter = await c.provider.traffic.readLive().catch((error: unknown) => ({ kind: 'unknown' as const, reason: messageOf(error) }));
  c.movedBack = previous;
  throw new UserError(`Validation failed: ${problem}. Traffic was moved back to ${previous} ${c.autoRollbackMs} ms after the failed check${despite}.`);
}

/** A hook the user gave, as a phase: on the runner, or on each host of the target color. */
function hookPhase(hook: Hook): RunPhase {
  return {
    name: `hook-${hook.point}`,
    title: `Hook ${hook.point}`,
    color: (c) => c.target,
    hosts: (c) => (hook.where === 'runner' ? 'runner' : targetHostNames(c)),
    plan: (c) => `run \`${hook.command}\` ${hook.where === 'runner' ? 'on the runner' : `on each ${c.target ?? 'target'} host`}`,
    async run(c) {
      const env = hookEnvironment({ appName: c.settings.appName, release: c.settings.release, target: c.target ?? '', live: describeLive(c.liveBefore), mode: c.settings.mode });
      if (hook.where === 'runner') {
        const result = await runOnRunner(hook, env, (line) => core.info(line));
        if (result.code !== 0) throw new UserError(`The ${hook.point} hook failed on the runner (exit ${result.code}): ${result.lastLines.join(' | ') || 'no output'}.${trafficNote(c, hook)}`);
        return 'exit 0 on the runner';
      }
      const runHook = c.provider.releaser.runHook?.bind(c.provider.releaser);
      if (!runHook) throw new UserError(`The ${hook.point} hook asks for \`hosts:\` but provider ${c.settings.provider.name} cannot run commands on hosts. Use \`runner:\`.`);
      const hosts = targetHosts(c);
      const failed = (await runHook(hosts, hook, env)).filter((o) => !o.ok);
      if (failed.length > 0) {
        throw new UserError(`The ${hook.point} hook failed on ${failed.length} of ${hosts.length} host(s): ${failed.map((o) => `${o.host.name}: ${o.detail}`).join('; ')}.${trafficNote(c, hook)}`);
      }
      return `exit 0 on ${hosts.length} host(s)`;
    },
  };
}

function trafficNote(c: RunContext, hook: Hook): string {
  return hook.point === 'after-switch' ? ` ${c.target} stays live: run mode: rollback to go back.` : ` Live traffic is untouched (${describeLive(c.liveBefore)}).`;
}

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
