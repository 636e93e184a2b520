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
 * The worst-case bound is sound for every summation order and every input, and
 * therefore loose: at conv5_1's n = 4608 it allows errors of about 0.2% of the
 * output, so a kernel that scales its output by 1 + 1e-4 or rounds its weights
 * to bfloat16 passes it. Two probabilistic checks on the whole output tighten it
 * (probabilisticToleranceCheck, below; the derivation, step by step, is in
 * docs/accuracy.md).
 *
 * Model (Higham & Mary 2019, "A new approach to probabilistic rounding error
 * analysis", SIAM J. Sci. Comput. 41(5), Model 2.1): every rounding
 * fl(a op b) = (a op b)(1 + delta) has a delta that is a random variable with
 * mean zero and |delta| <= u, independent of all the others. Then for one
 * output, computed as any summation tree of its n products (with or without
 * FMA), the error is e_i = L_i + R_i with
 *   L_i = sum_k c_ik delta_k, the first-order term: each delta_k of a product
 *         multiplies that product, each delta_k of an addition the exact partial
 *         sum below it, so sum_k c_ik^2 <= |p|^2 + (n - 1) a_i^2 <= n a_i^2,
 *         a_i = absBound_i = sum_j |x_j w_j|;
 *   |R_i| <= rho_n a_i, rho_n = (1 + u)^n - 1 - n u (the higher-order terms)
 *         + gamma_n at u = 2^-53 (the float64 reference's own error), plus the
 *         underflow allowance n * 2^-149.
 * Outputs do not share roundings, so the L_i are independent, each sub-Gaussian
 * with variance proxy u^2 n a_i^2 (Hoeffding's lemma). Two consequences, each
 * with failure probability at most P (PROBABILISTIC_FAILURE, 1e-9 per check):
 * 1. norm (Hsu, Kakade & Zhang 2012, tail of a quadratic form of a sub-Gaussian
 *    vector; t = ln(1/P)):
 *      ||L||^2 <= u^2 n (S2 + 2 sqrt(t S4) + 2 t M2),
 *    S2 = sum a_i^2, S4 = sum a_i^4, M2 = max a_i^2; so ||y - ref|| is at most
 *    that square root + rho_n sqrt(S2) + n 2^-149 sqrt(N): about u sqrt(n) ||a||,
 *    the aggregate of Higham and Mary's lambda sqrt(n) u sum|x*w| with the
 *    lambda of one element replaced by ~1 + O(sqrt(t / N)) for N outputs.
 *    It is checked as relL2 = ||y - ref|| / ||ref|| <= that / ||ref||.
 * 2. bias: the rounding errors have mean zero whatever the data, so the error
 *    has no component along the result. beta = <y - ref, ref> / <ref, ref> (the
 *    systematic relative error: the least-squares scale of the error along ref)
 *    obeys, by Hoeffding's inequality with lambda = sqrt(2 ln(2/P)),
 *      |beta| <= (lambda u sqrt(n sum ref_i^2 a_i^2) + sum |ref_i| (rho_n a_i + n 2^-149)) / ||ref||^2,
 *    about lambda u n / sqrt(N) relative (7e-7 at vgg16.conv3_2): a kernel that
 *    scales, truncates or drops a term correlated with the output shows here
 *    long before its error reaches the worst-case bound.
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
  /** Which metric `limit` is in (matches Accuracy.tolerance.metric in core/contracts.ts). */
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
    throw new Error(`exactToleranceCheck: lengths differ (output ${y.length}, reference ${len}, absBound ${absBound.length})`);
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
export function approximateToleranceCheck(metrics: ErrorMetrics, maxRelL2: number, source?: string): ToleranceResult {
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

/** Failure probability of each probabilistic check on one output (a false `inaccurate` at most this often). */
export const PROBABILISTIC_FAILURE = 1e-9;

export interface ProbabilisticCheck {
  ok: boolean;
  /** The measured statistic: relL2 for the norm check, |beta| for the bias check (Infinity if y is not finite). */
  value: number;
  /** Its limit at the stated confidence. */
  limit: number;
}

export interface ProbabilisticResult {
  ok: boolean;
  /** ||y - ref|| / ||ref|| against the aggregate bound, expressed as a relative L2 error. */
  norm: ProbabilisticCheck;
  /** |<y - ref, ref>| / <ref, ref>: the systematic relative error along the result. */
  bias: ProbabilisticCheck;
  /** The signed beta (positive: the output is scaled up). */
  beta: number;
  /** 1 - failure probability of each check. */
  confidence: number;
  /** Where the limits come from, for the report. */
  source: string;
}

/**
 * The norm and systematic-error statistics of an output against their bounds
 * (absolute: the bound on ||y - ref|| and on |<y - ref, ref>|), from the sums
 * ref2 = <ref, ref>, err2 = <e, e>, dot = <e, ref>. Shared by
 * probabilisticToleranceCheck and reference/fp16-check.ts.
 */
export function aggregateChecks(s: { normBound: number; biasBound: number; ref2: number; err2: number; dot: number; finite: boolean }): {
  norm: ProbabilisticCheck;
  bias: ProbabilisticCheck;
  beta: number;
} {
  const refNorm = Math.sqrt(s.ref2);
  // An all-zero reference: relL2 is 0/0 or x/0; compare absolute norms then (limit in the same units).
  const normValue = !s.finite ? Infinity : refNorm > 0 ? Math.sqrt(s.err2) / refNorm : Math.sqrt(s.err2);
  const normLimit = refNorm > 0 ? s.normBound / refNorm : s.normBound;
  const beta = !s.finite ? NaN : s.ref2 > 0 ? s.dot / s.ref2 : 0;
  const biasLimit = s.ref2 > 0 ? s.biasBound / s.ref2 : Infinity;
  const biasValue = Number.isNaN(beta) ? Infinity : Math.abs(beta);
  return {
    norm: { ok: normValue <= normLimit, value: normValue, limit: normLimit },
    bias: { ok: biasValue <= biasLimit, value: biasValue, limit: biasLimit },
    beta,
  };
}

/**
 * The two probabilistic checks of an exact fp32 algorithm's whole output (see
 * the module doc and docs/accuracy.md): the L2 norm of the error and its
 * component along the result, each against a bound that holds with
 * probability >= 1 - failureProbability under Higham and Mary's model of
 * independent, mean-zero rounding errors, for any summation order. Complements
 * exactToleranceCheck (which stays: it is sound without the model). A
 * non-finite y fails both. Throws on length mismatch.
 */
export function probabilisticToleranceCheck(
  y: ArrayLike<number>,
  ref: ArrayLike<number>,
  absBound: ArrayLike<number>,
  n: number,
  opts: { u?: number; failureProbability?: number } = {},
): ProbabilisticResult {
  const u = opts.u ?? F32_UNIT_ROUNDOFF;
  const pf = opts.failureProbability ?? PROBABILISTIC_FAILURE;
  const len = ref.length;
  if (y.length !== len || absBound.length !== len) {
    throw new Error(`probabilisticToleranceCheck: lengths differ (output ${y.length}, reference ${len}, absBound ${absBound.length})`);
  }
  if (!(pf > 0 && pf < 1)) throw new Error(`probabilisticToleranceCheck: failureProbability must be in (0, 1), got ${pf}`);
  gamma(n, u); // validates n and u (n*u < 1)
  // Higher-order remainder (1+u)^n - 1 - n u, plus the float64 reference's own worst-case error (gamma_n at 2^-53).
  const rho = Math.expm1(n * Math.log1p(u)) - n * u + gamma(n, 2 ** -53);
  const floor = n * F32_MIN_SUBNORMAL;
  let s2 = 0;
  let s4 = 0;
  let m2 = 0;
  let ref2 = 0;
  let refA2 = 0;
  let refRest = 0;
  let err2 = 0;
  let dot = 0;
  let finite = true;
  for (let i = 0; i < len; i++) {
    const a = absBound[i]!;
    const r = ref[i]!;
    const yi = +y[i]!;
    if (!Number.isFinite(yi)) finite = false;
    const a2 = a * a;
    s2 += a2;
    s4 += a2 * a2;
    if (a2 > m2) m2 = a2;
    ref2 += r * r;
    refA2 += r * r * a2;
    refRest += Math.abs(r) * (rho * a + floor);
    const e = yi - r;
    err2 += e * e;
    dot += e * r;
  }
  const t = Math.log(1 / pf);
  const lambda = Math.sqrt(2 * Math.log(2 / pf));
  const normBound = u * Math.sqrt(n * (s2 + 2 * Math.sqrt(t * s4) + 2 * t * m2)) + rho * Math.sqrt(s2) + floor * Math.sqrt(len);
  const { norm, bias, beta } = aggregateChecks({ normBound, biasBound: lambda * u * Math.sqrt(n * refA2) + refRest, ref2, err2, dot, finite });
  return {
    ok: norm.ok && bias.ok,
    norm,
    bias,
    beta,
    confidence: 1 - pf,
    source: `probabilistic (Higham & Mary model, P(false alarm) <= ${pf} per check), n=${n}, u=${formatU(u)}`,
  };
}
