import * as core from '@actions/core';
import { UserError } from '../../errors.js';
import { hookEnvironment, runOnRunner } from '../../hosts/hooks.js';
import { describeLive } from '../../live-traffic.js';
import type { Hook } from '../../settings.js';
import { targetHostNames, targetHosts, type RunContext, type RunPhase } from '../context.js';

/** A hook the user gave, as a phase: on the runner, or on each host of the target color. */
export function hookPhase(hook: Hook): RunPhase {
  return {
    id: `hook-${hook.point}`,
    title: `Hook ${hook.point}`,
    color: (c) => c.target,
    hosts: (c) => (hook.where === 'runner' ? 'runner' : targetHostNames(c)),
    plan: (c) => `run \`${hook.command}\` ${hook.where === 'runner' ? 'on the runner' : `on each ${c.target ?? 'target'} host`}`,
    async run(c) {
      const env = hookEnvironment({
        appName: c.settings.appName,
        release: c.settings.release,
        target: c.target ?? '',
        live: describeLive(c.liveBefore),
        mode: c.settings.mode,
      });
      if (hook.where === 'runner') {
        const result = await runOnRunner(hook, env, (line) => core.info(line));
        if (result.code !== 0)
          throw new UserError(
            `The ${hook.point} hook failed on the runner (exit ${result.code}): ${result.lastLines.join(' | ') || 'no output'}.${trafficNote(c, hook)}`,
          );
        return 'exit 0 on the runner';
      }
      const runHook = c.provider.releaser.runHook?.bind(c.provider.releaser);
      if (!runHook)
        throw new UserError(
          `The ${hook.point} hook asks for \`hosts:\` but provider ${c.settings.provider.name} cannot run commands on hosts. Use \`runner:\`.`,
        );
      const hosts = targetHosts(c);
      const failed = (await runHook(hosts, hook, env)).filter((o) => !o.ok);
      if (failed.length > 0) {
        throw new UserError(
          `The ${hook.point} hook failed on ${failed.length} of ${hosts.length} host(s): ${failed.map((o) => `${o.host.name}: ${o.detail}`).join('; ')}.${trafficNote(c, hook)}`,
        );
      }
      return `exit 0 on ${hosts.length} host(s)`;
    },
  };
}

function trafficNote(c: RunContext, hook: Hook): string {
  return hook.point === 'after-switch'
    ? ` ${c.target} stays live: run mode: rollback to go back.`
    : ` Live traffic is untouched (${describeLive(c.liveBefore)}).`;
}
