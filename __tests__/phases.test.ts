import { describe, expect, it, jest } from '@jest/globals';
import { formatDuration, showAfterPhase } from '../src/log.js';
import { runPhases, type Phase } from '../src/run/runner.js';
import { UserError } from '../src/errors.js';
import * as core from '@actions/core';

interface Ctx {
  ran: string[];
}

function phase(name: string, behaviour: (c: Ctx) => Promise<string>, readOnly = false): Phase<Ctx> {
  return {
    id: name,
    title: `Phase ${name}`,
    readOnly,
    color: () => 'green',
    hosts: () => 'web1, web2',
    plan: () => `would ${name}`,
    run: async (c) => {
      c.ran.push(name);
      return behaviour(c);
    },
  };
}

async function capture<T>(fn: () => Promise<T>): Promise<{ value: T; log: string }> {
  const printed: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    printed.push(String(chunk));
    return true;
  });
  try {
    return { value: await fn(), log: printed.join('') };
  } finally {
    spy.mockRestore();
  }
}

describe('phase runner', () => {
  it("shows a phase's per-host groups after its own group, never nested inside it", async () => {
    const ctx: Ctx = { ran: [] };
    const release = phase('release', async () => {
      core.info('[web1] ==> [1/7] fetch: release r1');
      showAfterPhase('web1: released (1.0 s)', ['==> [1/7] fetch: release r1', '==> OK: r1 serves']);
      showAfterPhase('web2: released (1.2 s)', ['==> OK: r1 serves']);
      return 'r1 on 2 hosts';
    });
    const { log } = await capture(() => runPhases([release], ctx, { dryRun: false }));
    const groups = log.split('\n').filter((line) => line.startsWith('::group::') || line === '::endgroup::');
    expect(groups).toEqual([
      '::group::Phase release (green)',
      '::endgroup::',
      '::group::web1: released (1.0 s)',
      '::endgroup::',
      '::group::web2: released (1.2 s)',
      '::endgroup::',
    ]);
    expect(log).toContain('::group::web1: released (1.0 s)\n==> [1/7] fetch: release r1\n==> OK: r1 serves\n::endgroup::');
  });

  it('runs each phase in a log group named with its color, and times it', async () => {
    const ctx: Ctx = { ran: [] };
    const { value, log } = await capture(() => runPhases([phase('a', async () => 'did a'), phase('b', async () => 'did b')], ctx, { dryRun: false }));
    expect(ctx.ran).toEqual(['a', 'b']);
    expect(log).toContain('::group::Phase a (green)\n');
    expect(log).toMatch(/✔ Phase a: did a \(\d+ ms\)\n::endgroup::/);
    expect(value.failure).toBeUndefined();
    expect(value.rows.map((r) => [r.phase, r.color, r.hosts, r.result, r.detail])).toEqual([
      ['Phase a', 'green', 'web1, web2', 'ok', 'did a'],
      ['Phase b', 'green', 'web1, web2', 'ok', 'did b'],
    ]);
    expect(value.rows.every((r) => r.durationMs >= 0)).toBe(true);
  });

  it('stops at a failing phase, names the failure, and reports later phases as not run', async () => {
    const ctx: Ctx = { ran: [] };
    const checkpoints: string[] = [];
    const { value, log } = await capture(() =>
      runPhases(
        [
          phase('a', async () => 'did a'),
          phase('b', async () => {
            throw new UserError('web2 refused the release');
          }),
          phase('c', async () => 'did c'),
        ],
        ctx,
        { dryRun: false, onPhaseDone: async (row) => void checkpoints.push(row.phase) },
      ),
    );
    expect(ctx.ran).toEqual(['a', 'b']);
    expect(checkpoints).toEqual(['Phase a']);
    expect(value.failure).toMatchObject({ phase: 'b', title: 'Phase b', message: 'web2 refused the release' });
    expect(value.rows.map((r) => r.result)).toEqual(['ok', 'failed', 'not run']);
    expect(value.rows[2]?.detail).toBe('not run: Phase b failed');
    expect(log).toMatch(/✖ Phase b failed after \d+ ms: web2 refused the release/);
  });

  it('in a dry run, runs only read-only phases, shows what failed to read as unknown, and plans the rest', async () => {
    const ctx: Ctx = { ran: [] };
    const { value } = await capture(() =>
      runPhases(
        [
          phase(
            'read',
            async () => {
              throw new Error('connect ECONNREFUSED 127.0.0.1:9999');
            },
            true,
          ),
          phase('find', async () => 'found 2', true),
          phase('change', async () => 'changed'),
        ],
        ctx,
        { dryRun: true },
      ),
    );
    expect(ctx.ran).toEqual(['read', 'find']);
    expect(value.failure).toBeUndefined();
    expect(value.rows.map((r) => [r.result, r.detail])).toEqual([
      ['unknown', 'unknown: connect ECONNREFUSED 127.0.0.1:9999'],
      ['ok', 'found 2'],
      ['planned', 'would change'],
    ]);
  });

  it('formats durations for people', () => {
    expect(formatDuration(12.4)).toBe('12 ms');
    expect(formatDuration(1530)).toBe('1.5 s');
    expect(formatDuration(125_000)).toBe('2 min 5 s');
  });
});
