/**
 * Interleaved sampling, the third policy of measuring a case (harness/runner/measure.ts): the variants of
 * one case take turns in rounds (the order rotated each round) so that drift hits all alike; each sample
 * times the calibrated number of runs (more if they ended before minSampleMs) and is kept raw. Runs on the device.
 */
import { Bench, hrtimeNow } from 'tinybench';
import type { RunOptions } from '../../core/contracts.js';
import type { Active } from './check.js';

/** How many samples each variant gets: enough to fill targetMs, within [minSamples, maxSamples]. */
export function sampleCounts(
  timed: readonly Pick<Active, 'reps' | 'perRunMs'>[],
  options: Pick<RunOptions, 'minSampleMs' | 'targetMs' | 'minSamples' | 'maxSamples'>,
): number[] {
  return timed.map((a) => {
    const perSampleMs = Math.max(options.minSampleMs, a.reps * a.perRunMs);
    const n = Math.round(options.targetMs / perSampleMs);
    return Math.min(options.maxSamples, Math.max(options.minSamples, n));
  });
}

/** The order of round `round`: the list rotated by one place per round. */
export function roundOrder<T>(list: readonly T[], round: number): T[] {
  const shift = list.length ? round % list.length : 0;
  return list.slice(shift).concat(list.slice(0, shift));
}

/** Samples to take in this round so that what is left is spread evenly over the remaining rounds. */
export function samplesThisRound(wanted: number, taken: number, round: number, rounds: number): number {
  return Math.ceil((wanted - taken) / (rounds - round));
}

/** Take `k` samples of one variant with tinybench; the error it threw, if any. */
async function sampleVariant(a: Active, k: number, minSampleMs: number): Promise<unknown> {
  // tinybench drives the sampling loop; each sample times `reps` runs (more if they ended before
  // minSampleMs: a sample never lasts less) and is kept raw (ms per run).
  const bench = new Bench({ now: hrtimeNow, time: 0, warmup: false, throws: false, iterations: k });
  const p = a.prepared;
  const record = (d: number, runs: number) => {
    a.samples.push(d / runs);
    a.sampleReps.push(runs);
  };
  let task;
  if (p.runAsync) {
    const runAsync = p.runAsync.bind(p);
    bench.add(a.v.name, async () => {
      const t0 = hrtimeNow();
      let runs = 0;
      for (; runs < a.reps; runs++) await runAsync();
      while (hrtimeNow() - t0 < minSampleMs) {
        await runAsync();
        runs++;
      }
      const d = hrtimeNow() - t0;
      record(d, runs);
      return { overriddenDuration: d };
    });
    [task] = await bench.run();
  } else {
    bench.add(a.v.name, () => {
      const t0 = hrtimeNow();
      let runs = 0;
      for (; runs < a.reps; runs++) p.run();
      while (hrtimeNow() - t0 < minSampleMs) {
        p.run();
        runs++;
      }
      const d = hrtimeNow() - t0;
      record(d, runs);
      return { overriddenDuration: d };
    });
    [task] = bench.runSync();
  }
  return task?.result?.error;
}

/**
 * The interleaved rounds over the variants that passed warm-up. A variant whose run throws is taken out
 * (`failed`) and reported through `onError`; the others carry on.
 */
export async function sampleInterleaved(
  timed: readonly Active[],
  options: RunOptions,
  failed: Set<Active>,
  onError: (a: Active, err: unknown) => void,
  onPhase?: (phase: string, detail?: string) => void,
): Promise<void> {
  const counts = sampleCounts(timed, options);
  const wanted = new Map(timed.map((a, i) => [a, counts[i] ?? 0]));
  for (let round = 0; round < options.rounds; round++) {
    onPhase?.('timing', `round ${round + 1}/${options.rounds}`);
    for (const a of roundOrder(timed, round)) {
      if (failed.has(a)) continue;
      const k = samplesThisRound(wanted.get(a) ?? 0, a.samples.length, round, options.rounds);
      const before = a.samples.length;
      if (k <= 0) {
        a.perRound.push(0);
        continue;
      }
      const err = await sampleVariant(a, k, options.minSampleMs);
      a.perRound.push(a.samples.length - before);
      if (err) {
        failed.add(a);
        onError(a, err);
      }
    }
  }
}
