import type { HealthSettings, ValidationCriteria } from '../settings.js';
import { probeOnce } from './probe.js';

export interface ValidationResult {
  ok: boolean;
  requests: number;
  succeeded: number;
  successRatio: number;
  latencyP95Ms: number;
  /** Why it failed, with the figures, for the annotation and the error. */
  problem?: string;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

/** Judges a batch of probe outcomes against the criteria. Pure, for the tests and for reuse. */
export function judge(outcomes: { ok: boolean; latencyMs: number; error?: string }[], criteria: ValidationCriteria): ValidationResult {
  const succeeded = outcomes.filter((o) => o.ok).length;
  const successRatio = outcomes.length ? succeeded / outcomes.length : 0;
  const latencyP95Ms = Math.round(
    percentile(
      outcomes.map((o) => o.latencyMs),
      95,
    ),
  );
  const problems: string[] = [];
  if (successRatio < criteria.minSuccessRatio) {
    problems.push(
      `${succeeded} of ${outcomes.length} requests succeeded (${(successRatio * 100).toFixed(1)}%, at least ${(criteria.minSuccessRatio * 100).toFixed(1)}% needed${mostCommon(outcomes.map((o) => o.error))})`,
    );
  }
  if (latencyP95Ms > criteria.maxLatencyMs) {
    problems.push(`p95 latency ${latencyP95Ms} ms is over ${criteria.maxLatencyMs} ms`);
  }
  return {
    ok: problems.length === 0,
    requests: outcomes.length,
    succeeded,
    successRatio,
    latencyP95Ms,
    ...(problems.length && { problem: problems.join('; ') }),
  };
}

/** `; most failures: <error>` for the error seen most often, so the figures come with a cause. */
function mostCommon(errors: (string | undefined)[]): string {
  const counts = new Map<string, number>();
  for (const error of errors) if (error) counts.set(error, (counts.get(error) ?? 0) + 1);
  const [top] = [...counts].sort((a, b) => b[1] - a[1]);
  return top ? `; most failures: ${top[0]}` : '';
}

/** Sends `criteria.requests` GETs to the URL, a few at a time, and judges them. */
export async function validateUrl(url: string, health: HealthSettings, criteria: ValidationCriteria): Promise<ValidationResult> {
  const outcomes: { ok: boolean; latencyMs: number; error?: string }[] = [];
  const concurrency = 4;
  let sent = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, criteria.requests) }, async () => {
      while (sent < criteria.requests) {
        sent++;
        const started = performance.now();
        const result = await probeOnce(url, health);
        outcomes.push({ ok: result.ok, latencyMs: performance.now() - started, ...(result.error && { error: result.error }) });
      }
    }),
  );
  return judge(outcomes, criteria);
}
