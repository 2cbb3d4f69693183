import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ColorLoad, type LoadCounts } from '../bench/support/color-load.js';
import type { Color } from '../src/colors.js';
import type { Mode } from '../src/settings.js';
import { errorLines, runAction, type ActionRun } from './support/action.js';
import { LocalWorld, type Answer, type LocalWorldOptions } from '../lab/local-world.js';

// The whole product, end to end, for each provider that runs on hosts over SSH: the action's entry
// point with the runner's files (outputs, job summary) against real sshd hosts (2 per color) that it
// releases examples/app to, a real HAProxy on loopback that it manages, and for digitalocean the API
// double listing the Droplets whose addresses are those hosts. Each step checks what a user sees:
// outputs, the job summary, and which color and release answer at the public URL; a steady
// keep-alive load through the public URL sees no failed request across the switches and rollbacks.

const WORLDS: LocalWorldOptions[] = [
  { provider: 'ssh', firstOctet: 51, haproxyAddress: '127.0.5.200' },
  { provider: 'digitalocean', firstOctet: 55, haproxyAddress: '127.0.5.201', apiAddress: '127.0.4.2' },
];

/** The cells of the summary's row for `phase`: color, hosts, result, time, detail. */
function phaseRow(summary: string, phase: string): string[] | undefined {
  const row = summary.split('</tr>').find((tr) => tr.includes(`<td>${phase}</td>`));
  return row ? [...row.matchAll(/<td>(.*?)<\/td>/g)].map((m) => m[1] as string).slice(1) : undefined;
}

/** The summary's "Live before | Target | Live after" row. */
function liveRow(summary: string): string[] {
  const table = summary.split('<th>Live before</th>')[1] ?? '';
  return [...table.split('</table>')[0]!.matchAll(/<td>(.*?)<\/td>/g)].map((m) => m[1] as string);
}

describe.each(WORLDS)('provider $provider, end to end on real sshd, Starman and HAProxy', (options) => {
  let world: LocalWorld;
  let load: ColorLoad | undefined;

  beforeAll(async () => {
    world = await LocalWorld.start(options);
  }, 120_000);

  afterAll(async () => {
    await load?.stop();
    await world?.stop();
  }, 60_000);

  const names = (color: Color) =>
    world
      .hostsOf(color)
      .map((host, i) => (options.provider === 'ssh' ? `${host.address}:${host.port}` : `shop-${color}-${i + 1}`))
      .join(', ');

  async function action(mode: Mode, release: string): Promise<ActionRun> {
    return runAction(world.inputs(mode, release));
  }

  /** Several requests at the public URL (both hosts of a color, round robin): who answered each. */
  async function publicAnswers(count = 6): Promise<Answer[]> {
    const answers: Answer[] = [];
    for (let i = 0; i < count; i++) answers.push(await world.whoAnswers());
    return answers;
  }

  const served = (color: string, release: string) => ({ status: 200, color, release });

  it('deploys the first release to the initial color while nothing is live: the public URL still answers 503, the preview route reaches it', async () => {
    const run = await action('deploy', 'r1');
    expect(errorLines(run.log)).toEqual([]);
    expect(run.outputs).toEqual({
      'live-color': 'none',
      'previous-color': 'none',
      'target-color': 'blue',
      release: 'r1',
      'preview-url': world.previewUrl,
      result: 'success',
    });
    expect(run.summary).toContain('<h2>bluegreen-perl deploy of shop: ✅ succeeded</h2>');
    expect(liveRow(run.summary)).toEqual(['none', 'blue', 'none']);
    expect(phaseRow(run.summary, 'Release')).toEqual(['blue', names('blue'), '✅ ok', expect.any(String), 'release r1 on 2 host(s)']);
    expect(phaseRow(run.summary, 'Check preview route')?.[4]).toBe(`${world.previewUrl}/health answered 200`);
    expect(run.summary).toContain(`Preview it at ${world.previewUrl}.`);

    expect(await world.whoAnswers()).toMatchObject({ status: 503, color: 'none' });
    expect(await world.whoAnswers(world.previewUrl)).toMatchObject(served('blue', 'r1'));
  }, 180_000);

  it('switches to blue: every request at the public URL is answered by blue with r1', async () => {
    const run = await action('switch', 'r1');
    expect(errorLines(run.log)).toEqual([]);
    expect(run.outputs).toMatchObject({ 'live-color': 'blue', 'previous-color': 'none', 'target-color': 'blue', result: 'success' });
    expect(run.summary).toContain('<h2>bluegreen-perl switch of shop: ✅ succeeded</h2>');
    expect(liveRow(run.summary)).toEqual(['none', 'blue', 'blue']);
    expect(phaseRow(run.summary, 'Move traffic')?.[2]).toBe('✅ ok');
    expect(phaseRow(run.summary, 'Validate after the move')?.[4]).toMatch(/^blue is live; 1 validation round\(s\) passed, last: 20\/20 ok/);

    expect(await publicAnswers()).toEqual(Array(6).fill(served('blue', 'r1')));
  }, 180_000);

  it('under steady load: deploys r2 to green, switches to it, rolls back to blue, with zero failed requests', async () => {
    // Four keep-alive connections hammer the public URL from here on, through every step.
    load = new ColorLoad(world.publicUrl, 4);

    const deployed = await action('deploy', 'r2');
    expect(errorLines(deployed.log)).toEqual([]);
    expect(deployed.outputs).toMatchObject({
      'live-color': 'blue',
      'previous-color': 'blue',
      'target-color': 'green',
      release: 'r2',
      'preview-url': world.previewUrl,
      result: 'success',
    });
    expect(liveRow(deployed.summary)).toEqual(['blue', 'green', 'blue']);
    expect(phaseRow(deployed.summary, 'Release')?.slice(0, 3)).toEqual(['green', names('green'), '✅ ok']);
    // The idle color has the new release; live traffic has not moved.
    expect(await publicAnswers()).toEqual(Array(6).fill(served('blue', 'r1')));
    expect(await world.whoAnswers(world.previewUrl)).toMatchObject(served('green', 'r2'));
    // Each host has an app directory of its own, Droplets too (they all take one ssh-user): the
    // release went to the green hosts only.
    const releasesOn = (color: Color) => world.hostsOf(color).map((host) => readdirSync(join(host.homeOnRunner, 'app', 'releases')));
    expect(releasesOn('blue')).toEqual([['r1'], ['r1']]);
    expect(releasesOn('green')).toEqual([['r2'], ['r2']]);

    const switched = await action('switch', 'r2');
    expect(errorLines(switched.log)).toEqual([]);
    expect(switched.outputs).toMatchObject({ 'live-color': 'green', 'previous-color': 'blue', 'target-color': 'green', result: 'success' });
    expect(liveRow(switched.summary)).toEqual(['blue', 'green', 'green']);
    expect(switched.summary).toContain('If green misbehaves, run the workflow with <code>mode: rollback</code> to send traffic back to blue.');
    expect(await publicAnswers()).toEqual(Array(6).fill(served('green', 'r2')));
    expect(await world.whoAnswers(world.previewUrl)).toMatchObject(served('blue', 'r1'));

    const rolledBack = await action('rollback', 'r2');
    expect(errorLines(rolledBack.log)).toEqual([]);
    expect(rolledBack.outputs).toMatchObject({ 'live-color': 'blue', 'previous-color': 'green', 'target-color': 'blue', result: 'success' });
    expect(rolledBack.summary).toContain('<h2>bluegreen-perl rollback of shop: ✅ succeeded</h2>');
    expect(liveRow(rolledBack.summary)).toEqual(['green', 'blue', 'blue']);
    expect(phaseRow(rolledBack.summary, 'Check health before moving traffic')?.slice(0, 3)).toEqual(['blue', names('blue'), '✅ ok']);
    expect(await publicAnswers()).toEqual(Array(6).fill(served('blue', 'r1')));

    const counts: LoadCounts = await load.stop();
    load = undefined;
    expect({ failed: counts.failed, connectionErrors: counts.connectionErrors, serverErrors: counts.serverErrors }).toEqual({
      failed: 0,
      connectionErrors: 0,
      serverErrors: 0,
    });
    // The load saw both colors: it ran across the switch and the rollback.
    expect(counts.byColor.blue).toBeGreaterThan(0);
    expect(counts.byColor.green).toBeGreaterThan(0);
    // Every DigitalOcean API call the action made was one the official API description allows.
    expect(world.api?.violations ?? []).toEqual([]);
  }, 300_000);

  it('refuses a rollback to green once green has no healthy host, and leaves blue live', async () => {
    // Green is the previous color now; its apps stop (by their pid files), as after a crash.
    await world.stopAppsOf('green');
    const run = await action('rollback', 'r2');
    expect(run.failed).toBe(true);
    expect(run.outputs).toMatchObject({ 'live-color': 'blue', 'previous-color': 'blue', 'target-color': 'green', result: 'failure' });
    const refusal = errorLines(run.log).at(-1);
    expect(refusal).toMatch(/^::error::Cannot roll back to green: 0 of 2 green host\(s\) healthy, 2 needed\. Unhealthy: /);
    expect(run.summary).toContain('<h2>bluegreen-perl rollback of shop: ❌ failed</h2>');
    expect(phaseRow(run.summary, 'Move traffic')?.[2]).toBe('⏭️ not run');
    expect(await publicAnswers()).toEqual(Array(6).fill(served('blue', 'r1')));
  }, 120_000);
});
