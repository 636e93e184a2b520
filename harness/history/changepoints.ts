/**
 * Change points in a series' history (pure functions).
 *
 * The values are the per-run medians of one series, in time order. On their
 * logarithm (so a step is a relative change, whatever the kernel's speed), we
 * find the segmentation minimising
 *
 *     sum over segments of  sum (x_i - mean_segment)^2 / sigma^2   +   beta * (number of changes)
 *
 * exactly, with PELT (Killick, Fearnhead and Eckley 2012: optimal partitioning
 * with pruning, linear time in practice), every segment at least `minSegment`
 * points long. sigma is estimated robustly from the first differences
 * (1.4826 * MAD(diff) / sqrt 2), so a step itself does not inflate it, floored
 * at `sigmaFloor`. beta = penalty * ln(n) (the default penalty 3 is the
 * "modified BIC" used by R's changepoint package).
 *
 * Then every change whose relative size, exp(median(after) - median(before)) - 1
 * on the adjacent segments, is below `minRelChange` is removed (the smallest
 * first, merging its two segments), until all remaining changes are at least
 * that large: statistically real but practically irrelevant steps are not shown.
 *
 * Annotations reset the baseline: `detectChangePointsWithBreaks` runs the
 * detection separately on each stretch between two annotations.
 */
import { median } from './mannwhitney.js';

export interface ChangePointOptions {
  /** Fewest points in a segment (default 5). */
  minSegment: number;
  /** Smallest relative change kept (default 0.05 = 5%). */
  minRelChange: number;
  /** beta = penalty * ln(n) (default 3). */
  penalty: number;
  /** Lower bound of sigma on the log scale (default 0.002, i.e. 0.2%). */
  sigmaFloor: number;
}

export const DEFAULT_CHANGEPOINT_OPTIONS: ChangePointOptions = { minSegment: 5, minRelChange: 0.05, penalty: 3, sigmaFloor: 0.002 };

export interface ChangePoint {
  /** Index of the first point of the new segment. */
  index: number;
  /** Median of the segment before and after (in the values' units). */
  before: number;
  after: number;
  /** after / before - 1: positive = slower (for timings). */
  relChange: number;
}

/** Robust sigma of a series from its first differences. */
export function robustSigma(x: readonly number[]): number {
  if (x.length < 3) return 0;
  const d: number[] = [];
  for (let i = 1; i < x.length; i++) d.push(x[i]! - x[i - 1]!);
  const m = median(d);
  const mad = median(d.map((v) => Math.abs(v - m)));
  return (1.4826 * mad) / Math.SQRT2;
}

/**
 * Optimal segmentation of x (already on the scale to segment) by PELT with a
 * Gaussian mean-change cost; returns the start indices of all segments after
 * the first.
 */
export function pelt(x: readonly number[], beta: number, minSegment: number, sigma: number): number[] {
  const n = x.length;
  if (n < 2 * minSegment) return [];
  const s1 = new Float64Array(n + 1);
  const s2 = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) {
    s1[i + 1] = s1[i]! + x[i]!;
    s2[i + 1] = s2[i]! + x[i]! * x[i]!;
  }
  const inv = 1 / (sigma * sigma);
  const cost = (a: number, b: number) => {
    const len = b - a;
    const sum = s1[b]! - s1[a]!;
    return Math.max(0, s2[b]! - s2[a]! - (sum * sum) / len) * inv;
  };
  const F = new Float64Array(n + 1).fill(Infinity);
  const last = new Int32Array(n + 1).fill(-1);
  F[0] = -beta;
  let candidates: number[] = [0];
  for (let t = minSegment; t <= n; t++) {
    let best = Infinity;
    let arg = -1;
    const eligible = candidates.filter((tau) => t - tau >= minSegment);
    for (const tau of eligible) {
      const v = F[tau]! + cost(tau, t) + beta;
      if (v < best) {
        best = v;
        arg = tau;
      }
    }
    F[t] = best;
    last[t] = arg;
    // Prune: a candidate that cannot beat F[t] now never will (the cost is additive, K = 0).
    candidates = candidates.filter((tau) => t - tau < minSegment || F[tau]! + cost(tau, t) <= F[t]!);
    if (t + minSegment <= n && Number.isFinite(F[t]!)) candidates.push(t);
  }
  const cps: number[] = [];
  for (let t = n; t > 0;) {
    const tau = last[t]!;
    if (tau < 0) break;
    if (tau > 0) cps.push(tau);
    t = tau;
  }
  return cps.reverse();
}

function describe(values: readonly number[], cps: readonly number[]): ChangePoint[] {
  const bounds = [0, ...cps, values.length];
  const medians: number[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) medians.push(median(values.slice(bounds[i], bounds[i + 1])));
  return cps.map((index, i) => {
    const before = medians[i]!;
    const after = medians[i + 1]!;
    return { index, before, after, relChange: after / before - 1 };
  });
}

/** Change points of a series of positive values (e.g. per-run median times); see the module doc. */
export function detectChangePoints(values: readonly number[], options: Partial<ChangePointOptions> = {}): ChangePoint[] {
  const o = { ...DEFAULT_CHANGEPOINT_OPTIONS, ...options };
  if (!(Number.isInteger(o.minSegment) && o.minSegment >= 1)) throw new Error(`minSegment must be a positive integer, got ${o.minSegment}`);
  if (!(o.minRelChange >= 0)) throw new Error(`minRelChange must be >= 0, got ${o.minRelChange}`);
  const n = values.length;
  if (n < 2 * o.minSegment) return [];
  for (const v of values) if (!(v > 0 && Number.isFinite(v))) throw new Error(`detectChangePoints: values must be positive and finite, got ${v}`);
  const x = values.map(Math.log);
  const sigma = Math.max(robustSigma(x), o.sigmaFloor);
  let cps = pelt(x, o.penalty * Math.log(n), o.minSegment, sigma);
  // Drop practically irrelevant steps, smallest first.
  for (;;) {
    const described = describe(values, cps);
    let worst = -1;
    let worstSize = Infinity;
    described.forEach((c, i) => {
      const size = Math.abs(Math.log1p(c.relChange));
      if (size < worstSize) {
        worstSize = size;
        worst = i;
      }
    });
    if (worst < 0 || worstSize >= Math.log1p(o.minRelChange) - 1e-12) return described;
    cps = cps.filter((_, i) => i !== worst);
  }
}

/**
 * Change points with baseline resets: `breaks` are indices where a new
 * baseline starts (the first point at or after an annotation); each stretch
 * between breaks is segmented on its own. Returned indices are into `values`.
 */
export function detectChangePointsWithBreaks(values: readonly number[], breaks: readonly number[], options: Partial<ChangePointOptions> = {}): ChangePoint[] {
  const bounds = [...new Set([0, ...breaks.filter((b) => b > 0 && b < values.length), values.length])].sort((a, b) => a - b);
  const out: ChangePoint[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const start = bounds[i]!;
    for (const c of detectChangePoints(values.slice(start, bounds[i + 1]), options)) out.push({ ...c, index: c.index + start });
  }
  return out;
}
