/**
 * Tolerance models (pure, payload-safe).
 *
 * Exact algorithms (direct, im2col+GEMM, ...): each output is a sum of n
 * products of fp32 numbers computed in fp32. Whatever the summation order, the
 * standard bound (Higham, Accuracy and Stability of Numerical Algorithms, 3.1)
 * is |y_i - ref_i| <= gamma_n * sum_j |x_j w_j|, gamma_n = n*u / (1 - n*u),
 * u = 2^-24 for fp32, n = reduction length (C/groups * R * S). The reference's
 * own float64 error (~n * 2^-53) is negligible against it. To cover gradual
 * underflow (where the relative model does not hold) each element also gets an
 * absolute allowance of n * 2^-149 (n times the fp32 subnormal spacing); this is
 * also the whole allowance where absBound_i = 0 (then ref_i = 0 exactly).
 *
 * Approximate algorithms (Winograd, FFT, fp16, int8) carry a declared relative
 * L2 budget instead.
 */
import type { ErrorMetrics } from './metrics.js';

/** Unit roundoff of IEEE binary32 (round to nearest). */
export const F32_UNIT_ROUNDOFF = 2 ** -24;

/** Smallest positive fp32 (subnormal) value, the spacing of fp32 numbers near zero. */
export const F32_MIN_SUBNORMAL = 2 ** -149;

export interface ToleranceResult {
  ok: boolean;
  /**
   * Exact check: max_i |y_i - ref_i| / allowance_i (Infinity for a non-finite
   * y_i); approximate check: relL2 / maxRelL2. ok means worstRatio <= 1.
   */
  worstRatio: number;
  /** Element of worstRatio (exact check); -1 for the approximate check. */
  worstIndex: number;
  /**
   * The limit, in the units of `metric`: for the exact check the largest
   * per-element allowance max_i (gamma_n*absBound_i + n*2^-149) (an absolute
   * error), for the approximate check maxRelL2.
   */
  limit: number;
  /** Which metric `limit` is in (matches Accuracy.tolerance.metric in harness/contracts.ts). */
  metric: 'maxAbs' | 'relL2';
  /** Where the tolerance came from, for the report. */
  source: string;
}

/** gamma_n = n*u / (1 - n*u); throws if n*u >= 1 (no bound exists). */
export function gamma(n: number, u: number = F32_UNIT_ROUNDOFF): number {
  if (!Number.isInteger(n) || n < 1) throw new Error(`gamma: reduction length n must be a positive integer, got ${n}`);
  if (!(u > 0 && u < 1)) throw new Error(`gamma: unit roundoff u must be in (0, 1), got ${u}`);
  const nu = n * u;
  if (nu >= 1) throw new Error(`gamma: n*u = ${nu} >= 1, the rounding error bound does not exist for n = ${n}, u = ${u}`);
  return nu / (1 - nu);
}

function formatU(u: number): string {
  const e = Math.log2(u);
  return Number.isInteger(e) ? `2^${e}` : String(u);
}

/**
 * Checks an output of an exact fp32 algorithm element by element against
 * gamma_n * absBound_i (+ the underflow allowance n*2^-149; see the module doc).
 * `absBound` is conv2dRef's sum |x*w| per element, `n` the reduction length.
 * Any non-finite y_i fails. Throws on length mismatch.
 */
export function exactToleranceCheck(
  y: ArrayLike<number>,
  ref: ArrayLike<number>,
  absBound: ArrayLike<number>,
  n: number,
  u: number = F32_UNIT_ROUNDOFF,
): ToleranceResult {
  const len = ref.length;
  if (y.length !== len || absBound.length !== len) {
    throw new Error(
      `exactToleranceCheck: lengths differ (output ${y.length}, reference ${len}, absBound ${absBound.length})`,
    );
  }
  const g = gamma(n, u);
  const floor = n * F32_MIN_SUBNORMAL;
  let worstRatio = 0;
  let worstIndex = len > 0 ? 0 : -1;
  let limit = 0;
  for (let i = 0; i < len; i++) {
    const allowance = g * absBound[i]! + floor;
    if (allowance > limit) limit = allowance;
    const yi = +y[i]!;
    // NaN - x is NaN, and NaN > worstRatio is false: test finiteness explicitly.
    const ratio = Number.isFinite(yi) ? Math.abs(yi - ref[i]!) / allowance : Infinity;
    if (ratio > worstRatio) {
      worstRatio = ratio;
      worstIndex = i;
    }
  }
  return {
    ok: worstRatio <= 1,
    worstRatio,
    worstIndex,
    limit,
    metric: 'maxAbs',
    source: `gamma_n*sum|x*w| per element, n=${n}, u=${formatU(u)}`,
  };
}

/**
 * Checks an approximate algorithm's relative L2 error against its declared
 * budget. A NaN/Infinity relL2 (non-finite output) fails.
 */
export function approximateToleranceCheck(
  metrics: ErrorMetrics,
  maxRelL2: number,
  source?: string,
): ToleranceResult {
  if (!(maxRelL2 > 0) || !Number.isFinite(maxRelL2)) {
    throw new Error(`approximateToleranceCheck: maxRelL2 must be a finite number > 0, got ${maxRelL2}`);
  }
  const ratio = Number.isNaN(metrics.relL2) ? Infinity : metrics.relL2 / maxRelL2;
  return {
    ok: ratio <= 1,
    worstRatio: ratio,
    worstIndex: -1,
    limit: maxRelL2,
    metric: 'relL2',
    source: source ?? `declared budget relL2 <= ${maxRelL2}`,
  };
}
