import { describe, expect, it } from '@jest/globals';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Host, Provider } from '../src/providers/types.js';
import { mapPathFor, renderLiveMap } from '../src/traffic/haproxy-config.js';
import { runtime } from '../src/traffic/haproxy-runtime.js';
import type { HaproxyTraffic } from '../src/traffic/haproxy.js';
import { errorLines, runAction } from './support/action.js';
import { inputsWithToken, runnerEnv, useGitHubApi } from './support/github-api.js';
import { useHaproxyLab } from './support/haproxy-jest.js';

/**
 * A deploy goes to the idle color, which it reads from HAProxy. Every answer that is not HAProxy's
 * own word about our map must stop the deploy before any host is touched: read as "nothing live",
 * it would send the release to initial-color (blue here), the LIVE hosts.
 */
const lab = useHaproxyLab({ base: 100, hostsPerColor: 1, live: 'blue' });
const { api, url } = useGitHubApi('127.0.5.124');

/** The lab's parts with a releaser that only records which hosts it was asked to release to. */
function recordingProvider(traffic: HaproxyTraffic): { provider: Provider; released: string[] } {
  const released: string[] = [];
  const provider: Provider = {
    ...lab.provider(traffic),
    releaser: {
      release: async (hosts: Host[], release: string) => {
        released.push(...hosts.map((h) => h.name));
        return hosts.map((host) => ({ host, ok: true, durationMs: 1, detail: `release ${release} live on host` }));
      },
    },
  };
  return { provider, released };
}

const deployInputs = lab.switchInputs({ mode: 'deploy' });

/** Runs a deploy with `traffic` and checks that it stopped at locate with `error`, touching nothing. */
async function expectRefusedDeploy(traffic: HaproxyTraffic, error: RegExp): Promise<void> {
  const config = readFileSync(lab.configPath, 'utf8');
  const map = readFileSync(mapPathFor(lab.configPath), 'utf8');
  const { provider, released } = recordingProvider(traffic);
  const run = await runAction(deployInputs, provider);
  expect(run.failed).toBe(true);
  expect(errorLines(run.log).at(-1)).toMatch(error);
  expect(released).toEqual([]);
  expect(run.outputs['target-color']).toBe('unknown');
  expect(readFileSync(lab.configPath, 'utf8')).toBe(config);
  expect(readFileSync(mapPathFor(lab.configPath), 'utf8')).toBe(map);
}

describe('a deploy refuses when HAProxy does not tell which color is live', () => {
  it('a stopped worker: socat waits, gets an empty answer, and the deploy refuses', async () => {
    const worker = Number(await lab.workerPid());
    process.kill(worker, 'SIGSTOP');
    try {
      await expectRefusedDeploy(
        lab.traffic(),
        /^::error::HAProxy's admin socket .*admin\.sock on .* gave no readable answer to `show map .*haproxy\.live\.map; show stat` \(an empty answer: is its worker stopped or hung\?\), so which color is live cannot be told\. Nothing was changed\. /,
      );
    } finally {
      process.kill(worker, 'SIGCONT');
    }
    expect(await lab.answerOf()).toMatchObject({ color: 'blue', status: 200 });
  }, 60_000);

  it('haproxy-config names another file than the one HAProxy runs: the map is unknown there, and the deploy refuses', async () => {
    await expectRefusedDeploy(
      lab.traffic({ configPath: join(lab.dir, 'shop.cfg') }),
      new RegExp(
        `^::error::HAProxy on .* does not know the map ${lab.dir}/shop\\.live\\.map \\(from haproxy-config ${lab.dir}/shop\\.cfg\\) but routes to servers \\(bg_blue/127\\.0\\.5\\.101, bg_green/127\\.0\\.5\\.111\\), so which color is live cannot be told\\. It uses ${lab.dir}/haproxy\\.live\\.map: set haproxy-config to the config beside it\\. Nothing was changed\\.$`,
      ),
    );
  });

  it('haproxy-socket names the master CLI: "Unknown command" is no map, and the deploy refuses', async () => {
    await expectRefusedDeploy(
      lab.traffic({ socketPath: lab.masterSocketPath }),
      /^::error::HAProxy's admin socket .*master\.sock on .* gave no readable answer to `show map .*` \(it said: Unknown command.*\), so which color is live cannot be told\. Nothing was changed\. Check that HAProxy runs and that input haproxy-socket names its `stats socket \.\.\. level admin`, not the master CLI\.$/,
    );
  });

  it('deploys to the idle color when HAProxy answers', async () => {
    const { provider, released } = recordingProvider(lab.traffic());
    const run = await runAction(deployInputs, provider);
    expect(run.failed).toBe(false);
    expect(released).toEqual(['127.0.5.111']);
    expect(await lab.answerOf()).toMatchObject({ color: 'blue', status: 200 });
  }, 60_000);
});

describe('"nothing live" counts only when HAProxy\'s map and the state agree', () => {
  const stateInputs = { ...inputsWithToken(deployInputs), 'lock-timeout': '0' };
  const env = () => runnerEnv(url(), { GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567' });

  it('refuses when our map says nothing is live but the state records blue live', async () => {
    const traffic = lab.traffic();
    // HAProxy's own map: no color live (as after a first run that never switched).
    writeFileSync(mapPathFor(lab.configPath), renderLiveMap(undefined, 'blue'));
    expect(
      await traffic.command(runtime.setMap(mapPathFor(lab.configPath), 'live', 'bg_none'), runtime.setMap(mapPathFor(lab.configPath), 'preview', 'bg_blue')),
    ).toBe('\n\n');
    try {
      expect(await traffic.readLive()).toEqual({ kind: 'none' });
      api.setVariable('BLUEGREEN_SHOP', JSON.stringify({ version: 1, live: 'blue', releases: { blue: 'r1' }, history: [] }));
      const { provider, released } = recordingProvider(traffic);
      const run = await runAction(stateInputs, provider, env());
      expect(run.failed).toBe(true);
      expect(errorLines(run.log).at(-1)).toBe(
        '::error::HAProxy on the runner reports nothing live, but the state variable BLUEGREEN_SHOP records blue as live, so which hosts are idle cannot be told. Nothing was changed. Check the load balancer; if nothing is live indeed, delete the repository variable BLUEGREEN_SHOP and run again.',
      );
      expect(released).toEqual([]);

      // The state agrees (no live color recorded): the first release goes to initial-color.
      api.setVariable('BLUEGREEN_SHOP', JSON.stringify({ version: 1, releases: {}, history: [] }));
      const agreed = recordingProvider(lab.traffic());
      const first = await runAction(stateInputs, agreed.provider, env());
      expect(first.failed).toBe(false);
      expect(agreed.released).toEqual(['127.0.5.101']);
    } finally {
      writeFileSync(mapPathFor(lab.configPath), renderLiveMap('blue', 'green'));
      await traffic.command(runtime.setMap(mapPathFor(lab.configPath), 'live', 'bg_blue'), runtime.setMap(mapPathFor(lab.configPath), 'preview', 'bg_green'));
    }
    expect(await lab.answerOf()).toMatchObject({ color: 'blue', status: 200 });
  }, 60_000);
});
