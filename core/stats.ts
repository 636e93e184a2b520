/**
 * Timing statistics (pure, payload-safe: it runs on the device).
 *
 * - median, mean, min, max;
 * - p90: linearly interpolated quantile (R type 7 / numpy default);
 * - mad: the raw median absolute deviation median_i |x_i - median|, NOT scaled
 *   by 1.4826 to estimate a normal sd;
 * - sd: sample standard deviation (n - 1), 0 when n < 2;
 * - cv = sd / |mean|, 0 when n < 2 (Infinity if mean = 0 and sd > 0);
 * - [ciLow, ciHigh]: distribution-free confidence interval of the median from
 *   order statistics (see medianCiRanks); [min, max] when n is too small to
 *   reach the level (n < 8 at 99%), which then covers less than ciLevel;
 *   ciCoverage is the interval's actual coverage either way;
 * - outliers: indices i with modified z-score 0.6745*|x_i - median| / mad > 3.5
 *   (Iglewicz and Hoaglin); if mad = 0, every x_i further than 1e-12*|median|
 *   from the median. Outliers are flagged, never dropped.
 */
import { mean as ssMean, medianAbsoluteDeviation, quantileSorted, sampleStandardDeviation } from 'simple-statistics';
import type { Stats } from './contracts.js';

/** Modified z-score above which a sample is flagged as an outlier. */
export const OUTLIER_Z = 3.5;

export interface MedianCiRanks {
  /** 1-based rank of the lower bound in the sorted samples. */
  lower: number;
  /** 1-based rank of the upper bound. */
  upper: number;
  /** P(lower <= B < upper), B ~ Bin(n, 1/2): the interval's exact coverage. */
  coverage: number;
  /** false when n is too small: then [1, n] (coverage below the level). */
  reached: boolean;
}

/**
 * Ranks (1-based) of the order statistics [x_(l), x_(u)] forming a
 * distribution-free confidence interval for the median at `level`: the
 * narrowest symmetric pair (u = n + 1 - l) with
 * P(l <= B < u) = 1 - 2 P(B <= l - 1) >= level, B ~ Bin(n, 1/2).
 */
export function medianCiRanks(n: number, level: number): MedianCiRanks {
  if (!Number.isInteger(n) || n < 1) throw new Error(`medianCiRanks: n must be a positive integer, got ${n}`);
  if (!(level > 0 && level < 1)) throw new Error(`medianCiRanks: level must be in (0, 1), got ${level}`);
  const tail = (1 - level) / 2;
  // Walk the Bin(n, 1/2) CDF in log space (2^-n underflows for large n).
  const logHalfN = -n * Math.LN2;
  let logC = 0; // log C(n, j)
  let cdf = 0; // P(B <= j)
  let best = -1; // largest j with P(B <= j) <= tail
  let bestCdf = 0;
  for (let j = 0; j < n / 2; j++) {
    if (j > 0) logC += Math.log((n - j + 1) / j);
    cdf += Math.exp(logC + logHalfN);
    if (cdf > tail) break;
    best = j;
    bestCdf = cdf;
  }
  if (best < 0) return { lower: 1, upper: n, coverage: 1 - 2 * Math.exp(logHalfN), reached: false };
  const lower = best + 1;
  return { lower, upper: n + 1 - lower, coverage: 1 - 2 * bestCdf, reached: true };
}

/** Statistics of raw timing samples (ms per operation); see the module doc. Throws on empty or non-finite input. */
export function computeStatistics(samples: readonly number[], ciLevel = 0.99): Stats {
  const n = samples.length;
  if (n === 0) throw new Error('computeStatistics: no samples (a measurement that took no sample cannot be summarised)');
  for (let i = 0; i < n; i++) {
    const v = samples[i]!;
    if (!Number.isFinite(v)) throw new Error(`computeStatistics: sample ${i} is ${v}; every sample must be a finite number`);
  }
  if (!(ciLevel > 0 && ciLevel < 1)) throw new Error(`computeStatistics: ciLevel must be in (0, 1), got ${ciLevel}`);

  const sorted = [...samples].sort((a, b) => a - b);
  const min = sorted[0]!;
  const max = sorted[n - 1]!;
  const median = quantileSorted(sorted, 0.5);
  const p90 = quantileSorted(sorted, 0.9);
  const mean = ssMean(sorted);
  const mad = medianAbsoluteDeviation(sorted);
  const sd = n < 2 ? 0 : sampleStandardDeviation(sorted);
  const cv = n < 2 || sd === 0 ? 0 : sd / Math.abs(mean);

  const ranks = medianCiRanks(n, ciLevel);
  const ciLow = sorted[ranks.lower - 1]!;
  const ciHigh = sorted[ranks.upper - 1]!;

  const outliers: number[] = [];
  for (let i = 0; i < n; i++) {
    const dev = Math.abs(samples[i]! - median);
    const isOutlier = mad > 0 ? (0.6745 * dev) / mad > OUTLIER_Z : dev > 1e-12 * Math.abs(median);
    if (isOutlier) outliers.push(i);
  }

  return { n, median, ciLow, ciHigh, ciLevel, ciCoverage: ranks.coverage, mean, min, max, p90, mad, sd, cv, outliers };
}

/** True when the coefficient of variation is above the target (or not a number). */
export function isNoisy(stats: Stats, cvTarget: number): boolean {
  return !(stats.cv <= cvTarget);
}
