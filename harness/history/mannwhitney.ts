/**
 * Two-sample statistics for comparing raw timing samples (pure functions).
 *
 * - mannWhitney: the Mann-Whitney U (Wilcoxon rank-sum) test, two-sided.
 *   Exact null distribution when both samples have no ties and
 *   n1 + n2 <= EXACT_MAX_N; otherwise the normal approximation with the tie
 *   correction of the variance and a continuity correction of 0.5 (the same
 *   as R's `wilcox.test(x, y, exact = FALSE, correct = TRUE)`).
 * - shiftCi: the Hodges-Lehmann estimate of the shift between two samples and
 *   its distribution-free confidence interval (Moses 1965; Bauer 1972): the
 *   order statistics of all n1*n2 pairwise differences y_j - x_i at the ranks
 *   given by the U distribution's quantiles. Applied to log(samples) it gives
 *   the ratio of the two distributions' scales (see compare.ts).
 */

/** Largest n1 + n2 for which the exact U distribution is used (when there are no ties). */
export const EXACT_MAX_N = 50;

// ---------------------------------------------------------------------------
// Normal distribution
// ---------------------------------------------------------------------------

/**
 * Complementary error function, Chebyshev fit (Numerical Recipes `erfcc`):
 * fractional error below 1.2e-7 everywhere.
 */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** P(Z > z) for a standard normal Z. */
export function normalUpperTail(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

/**
 * Quantile of the standard normal distribution (Acklam's rational
 * approximation, relative error below 1.2e-9).
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) {
    if (p === 0) return -Infinity;
    if (p === 1) return Infinity;
    throw new Error(`normalQuantile: p must be in [0, 1], got ${p}`);
  }
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const pl = 0.02425;
  const A = (i: number) => a[i]!;
  const B = (i: number) => b[i]!;
  const C = (i: number) => c[i]!;
  const D = (i: number) => d[i]!;
  if (p < pl) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((C(0) * q + C(1)) * q + C(2)) * q + C(3)) * q + C(4)) * q + C(5)) / ((((D(0) * q + D(1)) * q + D(2)) * q + D(3)) * q + 1);
  }
  if (p > 1 - pl) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    return -(((((C(0) * q + C(1)) * q + C(2)) * q + C(3)) * q + C(4)) * q + C(5)) / ((((D(0) * q + D(1)) * q + D(2)) * q + D(3)) * q + 1);
  }
  const q = p - 0.5;
  const r = q * q;
  return ((((((A(0) * r + A(1)) * r + A(2)) * r + A(3)) * r + A(4)) * r + A(5)) * q) / (((((B(0) * r + B(1)) * r + B(2)) * r + B(3)) * r + B(4)) * r + 1);
}

// ---------------------------------------------------------------------------
// Mann-Whitney U
// ---------------------------------------------------------------------------

export interface MannWhitney {
  n1: number;
  n2: number;
  /** U of the second sample: the number of pairs (x_i, y_j) with y_j > x_i, ties counting 1/2. */
  u: number;
  /** Two-sided p-value. */
  p: number;
  method: 'exact' | 'normal';
  /** Standardised statistic of the normal approximation (with continuity correction); 0 for exact. */
  z: number;
  ties: boolean;
}

/** Midranks (1-based) of the values, ties sharing their average rank; also the tie-group sizes. */
function midranks(values: readonly number[]): { ranks: Float64Array; tieSizes: number[] } {
  const idx = values.map((_, i) => i).sort((i, j) => values[i]! - values[j]!);
  const ranks = new Float64Array(values.length);
  const tieSizes: number[] = [];
  for (let s = 0; s < idx.length;) {
    let e = s + 1;
    while (e < idx.length && values[idx[e]!] === values[idx[s]!]) e++;
    const avg = (s + 1 + e) / 2;
    for (let k = s; k < e; k++) ranks[idx[k]!] = avg;
    if (e - s > 1) tieSizes.push(e - s);
    s = e;
  }
  return { ranks, tieSizes };
}

/**
 * Null distribution of U for sample sizes (m, n) without ties: counts[u] for
 * u = 0..m*n (the number of the C(m+n, m) rank assignments giving U = u).
 */
export function exactUCounts(m: number, n: number): Float64Array {
  const key = `${m},${n}`;
  const cached = exactCache.get(key);
  if (cached) return cached;
  // ways[j][s]: ways to pick j of the ranks seen so far with rank sum s (0/1 knapsack, updated in place from the top).
  const N = m + n;
  const maxSum = (N * (N + 1)) / 2;
  const ways: Float64Array[] = Array.from({ length: m + 1 }, () => new Float64Array(maxSum + 1));
  ways[0]![0] = 1;
  for (let r = 1; r <= N; r++) {
    for (let j = Math.min(m, r); j >= 1; j--) {
      const prev = ways[j - 1]!;
      const cur = ways[j]!;
      for (let s = maxSum; s >= r; s--) cur[s]! += prev[s - r]!;
    }
  }
  const minSum = (m * (m + 1)) / 2;
  const counts = new Float64Array(m * n + 1);
  for (let u = 0; u <= m * n; u++) counts[u] = ways[m]![u + minSum] ?? 0;
  if (exactCache.size > 256) exactCache.clear();
  exactCache.set(key, counts);
  return counts;
}

const exactCache = new Map<string, Float64Array>();

/** Two-sided Mann-Whitney U test of x against y (see the module doc). */
export function mannWhitney(x: readonly number[], y: readonly number[]): MannWhitney {
  const n1 = x.length;
  const n2 = y.length;
  if (n1 === 0 || n2 === 0) throw new Error(`mannWhitney: both samples need values (got ${n1} and ${n2})`);
  for (const v of [...x, ...y]) if (!Number.isFinite(v)) throw new Error(`mannWhitney: samples must be finite numbers, got ${v}`);
  const { ranks, tieSizes } = midranks([...x, ...y]);
  let r2 = 0;
  for (let j = 0; j < n2; j++) r2 += ranks[n1 + j]!;
  const u = r2 - (n2 * (n2 + 1)) / 2;
  const ties = tieSizes.length > 0;
  const mu = (n1 * n2) / 2;
  if (!ties && n1 + n2 <= EXACT_MAX_N) {
    const counts = exactUCounts(n2, n1);
    const total = counts.reduce((a, b) => a + b, 0);
    let lower = 0;
    let upper = 0;
    for (let k = 0; k <= n1 * n2; k++) {
      if (k <= u) lower += counts[k]!;
      if (k >= u) upper += counts[k]!;
    }
    const p = Math.min(1, (2 * Math.min(lower, upper)) / total);
    return { n1, n2, u, p, method: 'exact', z: 0, ties };
  }
  const N = n1 + n2;
  const tieTerm = tieSizes.reduce((acc, t) => acc + (t * t * t - t), 0);
  const variance = ((n1 * n2) / 12) * (N + 1 - tieTerm / (N * (N - 1)));
  if (!(variance > 0)) return { n1, n2, u, p: 1, method: 'normal', z: 0, ties };
  const diff = u - mu;
  const z = (diff - Math.sign(diff) * Math.min(0.5, Math.abs(diff))) / Math.sqrt(variance);
  const p = Math.min(1, 2 * normalUpperTail(Math.abs(z)));
  return { n1, n2, u, p, method: 'normal', z, ties };
}

// ---------------------------------------------------------------------------
// Hodges-Lehmann shift and its confidence interval
// ---------------------------------------------------------------------------

export interface ShiftCi {
  /** Hodges-Lehmann estimate: the median of all y_j - x_i. */
  estimate: number;
  low: number;
  high: number;
  /** The level asked for. */
  level: number;
  /** false when the samples are too small to reach the level: low/high are then the extreme differences. */
  reached: boolean;
  /** 1-based ranks of low and high among the n1*n2 sorted differences. */
  ranks: [number, number];
}

/** Median of sorted values. */
function medianSorted(s: Float64Array | readonly number[]): number {
  const n = s.length;
  const mid = n >> 1;
  return n % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * Hodges-Lehmann shift of y relative to x with a distribution-free
 * confidence interval at `level` (see the module doc). The rank k of the
 * lower bound is the largest with P(U <= k - 1) <= (1 - level) / 2: exact
 * quantiles without ties and for n1 + n2 <= EXACT_MAX_N, else the normal
 * approximation k = floor(n1 n2 / 2 - z sqrt(var U)) with the tie-corrected variance.
 */
export function shiftCi(x: readonly number[], y: readonly number[], level: number): ShiftCi {
  const n1 = x.length;
  const n2 = y.length;
  if (n1 === 0 || n2 === 0) throw new Error(`shiftCi: both samples need values (got ${n1} and ${n2})`);
  if (!(level > 0 && level < 1)) throw new Error(`shiftCi: level must be in (0, 1), got ${level}`);
  const mn = n1 * n2;
  const d = new Float64Array(mn);
  let k = 0;
  for (let j = 0; j < n2; j++) for (let i = 0; i < n1; i++) d[k++] = y[j]! - x[i]!;
  d.sort();
  const tail = (1 - level) / 2;
  const { tieSizes } = midranks([...x, ...y]);
  let lowRank: number;
  if (tieSizes.length === 0 && n1 + n2 <= EXACT_MAX_N) {
    const counts = exactUCounts(n2, n1);
    const total = counts.reduce((a, b) => a + b, 0);
    let cdf = 0;
    lowRank = 0;
    for (let u = 0; u <= mn; u++) {
      cdf += counts[u]! / total;
      if (cdf > tail) break;
      lowRank = u + 1;
    }
  } else {
    const N = n1 + n2;
    const tieTerm = tieSizes.reduce((acc, t) => acc + (t * t * t - t), 0);
    const sd = Math.sqrt(((n1 * n2) / 12) * (N + 1 - tieTerm / (N * (N - 1))));
    lowRank = Math.floor(mn / 2 - normalQuantile(1 - tail) * sd);
  }
  const estimate = medianSorted(d);
  if (lowRank < 1) return { estimate, low: d[0]!, high: d[mn - 1]!, level, reached: false, ranks: [1, mn] };
  const highRank = mn + 1 - lowRank;
  return { estimate, low: d[lowRank - 1]!, high: d[highRank - 1]!, level, reached: true, ranks: [lowRank, highRank] };
}

/** Linearly interpolated quantile (R type 7, as core/stats.ts) of unsorted values; NaN when empty. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const h = (s.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(s.length - 1, lo + 1);
  return s[lo]! + (h - lo) * (s[hi]! - s[lo]!);
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  return medianSorted([...values].sort((a, b) => a - b));
}
