/**
 * Was the device busy with other work while a run measured? (Pure.)
 *
 * The runner records, with each health snapshot after the first, the CPU
 * time other processes used since the previous one (harness/runner/load.ts):
 * on average in cores, in the worst single case, the hypervisor's steal
 * share and the highest 1-minute load average seen. A run is *contended*
 * when other processes used more than the limit (default: half a core, or
 * 10% of the cores on machines with more than 5) on average or during any
 * one case, or when more than 5% of the CPU time was stolen. Its timings are
 * then indicative only: compare gives them no improved/regressed verdict.
 */
import type { Contention, CpuLoad, Health, RunResults } from '../core/contracts.js';

export type { Contention };

/** Steal share above which a run counts as contended. */
export const STEAL_LIMIT = 0.05;

/** Other processes' CPU, in cores, above which a run on a device with `cores` cores counts as contended. */
export function defaultContentionLimit(cores: number | undefined): number {
  return Math.max(0.5, 0.1 * (cores ?? 1));
}

const cores = (x: number) => `${x.toFixed(x < 10 ? 2 : 1)} core${x === 1 ? '' : 's'}`;

/** Aggregate load records (time-weighted), or null when there are none. */
export function combineLoad(records: readonly CpuLoad[]): CpuLoad | null {
  const rs = records.filter((r) => r.seconds > 0);
  if (rs.length === 0) return null;
  const seconds = rs.reduce((n, r) => n + r.seconds, 0);
  const worst = rs.reduce((a, b) => (b.maxCaseOtherCores > a.maxCaseOtherCores ? b : a));
  const withSteal = rs.filter((r) => r.steal !== null);
  const stealSeconds = withSteal.reduce((n, r) => n + r.seconds, 0);
  return {
    seconds,
    otherCores: rs.reduce((n, r) => n + r.otherCores * r.seconds, 0) / seconds,
    maxCaseOtherCores: worst.maxCaseOtherCores,
    maxCase: worst.maxCase,
    steal: withSteal.length && stealSeconds > 0 ? withSteal.reduce((n, r) => n + (r.steal ?? 0) * r.seconds, 0) / stealSeconds : null,
    maxLoadAvg1: Math.max(...rs.map((r) => r.maxLoadAvg1)),
  };
}

/**
 * The run's contention, or null when its runner recorded no load (older runs,
 * or a runner that died before its last health snapshot). `limit` in cores
 * overrides the default (compare --contention-limit).
 */
export function runContention(run: RunResults, limit?: number): Contention | null {
  return healthContention(run.health, run.probe?.cpu.cores, limit);
}

/** runContention from the health snapshots and the device's core count. */
export function healthContention(health: readonly Health[], coreCount: number | undefined, limit?: number): Contention | null {
  const agg = combineLoad(health.flatMap((h) => (h.cpu ? [h.cpu] : [])));
  if (!agg) return null;
  const lim = limit ?? defaultContentionLimit(coreCount);
  const why: string[] = [];
  if (agg.otherCores > lim) why.push(`other processes used ${cores(agg.otherCores)} on average`);
  if (agg.maxCaseOtherCores > lim) why.push(`${cores(agg.maxCaseOtherCores)} during ${agg.maxCase ?? 'one case'}`);
  if (agg.steal !== null && agg.steal > STEAL_LIMIT) why.push(`the hypervisor stole ${(agg.steal * 100).toFixed(1)}% of the CPU time`);
  const contended = why.length > 0;
  const facts =
    `other processes ${cores(agg.otherCores)} on average, up to ${cores(agg.maxCaseOtherCores)} in one case; ` +
    `load average up to ${agg.maxLoadAvg1.toFixed(1)}${agg.steal !== null ? `; steal ${(agg.steal * 100).toFixed(1)}%` : ''}; limit ${cores(lim)}`;
  return {
    ...agg,
    contended,
    limit: lim,
    reason: contended
      ? `contended: ${why.join(', ')}; load average up to ${agg.maxLoadAvg1.toFixed(1)} during the run (limit ${cores(lim)})`
      : `quiet: ${facts}`,
  };
}
