/**
 * Warm-up and calibration, the second policy of measuring a case (harness/runner/measure.ts): how many runs
 * each sample times so that it lasts well above the timer's resolution. Runs on the device.
 */
import { hrtimeNow } from 'tinybench';
import type { Prepared } from '../../core/contracts.js';
import { runOne, type Active } from './check.js';

/** Margin of the calibration: reps are chosen so that the fastest calibrated batch lasts this much over the minimum. */
export const CALIBRATION_MARGIN = 1.2;

/** Time `reps` runs, ms. */
async function batch(p: Prepared, reps: number): Promise<number> {
  const t0 = hrtimeNow();
  if (p.runAsync) for (let i = 0; i < reps; i++) await p.runAsync();
  else for (let i = 0; i < reps; i++) p.run();
  return hrtimeNow() - t0;
}

/**
 * Repetitions per sample, calibrated on the warm code (never from the cold
 * first runs, which are slower and would give too few repetitions): grow a
 * batch until it lasts CALIBRATION_MARGIN x minSampleMs, time it twice more,
 * and size the samples from the fastest of the three. `warmRunMs` is the
 * fastest warm-up run; a kernel that alone lasts long enough needs 1.
 */
export async function calibrate(p: Prepared, warmRunMs: number, minSampleMs: number): Promise<{ reps: number; perRunMs: number }> {
  const goal = CALIBRATION_MARGIN * minSampleMs;
  if (warmRunMs >= goal) return { reps: 1, perRunMs: warmRunMs };
  let reps = Math.max(1, Math.ceil(goal / Math.max(warmRunMs, 1e-6)));
  let ms = await batch(p, reps);
  for (let grow = 0; ms < goal && grow < 20; grow++) {
    reps = Math.ceil(reps * Math.min(1000, Math.max(2, goal / Math.max(ms, 1e-6))));
    ms = await batch(p, reps);
  }
  let perRun = ms / reps;
  for (let i = 0; i < 2; i++) perRun = Math.min(perRun, (await batch(p, reps)) / reps);
  return { reps: Math.max(1, Math.ceil(goal / Math.max(perRun, 1e-9))), perRunMs: perRun };
}

/**
 * Warm a checked variant up (one run, two for fast kernels: the JIT tiers up, caches warm) and calibrate
 * its repetitions per sample on the warm code; sets a.reps, a.perRunMs and a.warmupMs.
 */
export async function warmUpAndCalibrate(a: Active, minSampleMs: number, onPhase?: (phase: string, detail?: string) => void): Promise<void> {
  onPhase?.('warmup', a.v.name);
  const t0 = hrtimeNow();
  await runOne(a.prepared);
  let one = hrtimeNow() - t0;
  if (one < 50) {
    const t1 = hrtimeNow();
    await runOne(a.prepared);
    one = Math.min(one, hrtimeNow() - t1);
  }
  onPhase?.('calibrate', a.v.name);
  const cal = await calibrate(a.prepared, one, minSampleMs);
  a.reps = cal.reps;
  a.perRunMs = cal.perRunMs;
  a.warmupMs = a.firstRunMs + (hrtimeNow() - t0);
}

/** Timer resolution of hrtimeNow, measured: the smallest non-zero step seen. */
export function timerResolutionMs(): number {
  let best = Infinity;
  for (let i = 0; i < 50; i++) {
    const t0 = hrtimeNow();
    let t1 = hrtimeNow();
    while (t1 === t0) t1 = hrtimeNow();
    best = Math.min(best, t1 - t0);
  }
  return best;
}
