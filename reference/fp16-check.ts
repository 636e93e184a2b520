/**
 * The kernel check of an fp16-storage convolution (pure, payload-safe): the
 * exact-algorithm tolerance of reference/tolerance.ts, on the half-rounded
 * inputs, followed by the one rounding of the output to half.
 *
 * The kernel computes y_i = fl16(yhat_i), where yhat_i is an fp32 exact
 * algorithm's result on the half-rounded x and w, whose reference r_i (float64
 * on the same half-rounded values) it meets within b_i = gamma_n a_i + the
 * float64 reference's own gamma_n(2^-53) a_i + n 2^-149 (a_i = sum |x w|).
 * - Per element (sound for every order and input): fl16 is monotone, so
 *   y_i lies in [fl16(r_i - b_i), fl16(r_i + b_i)].
 *   An output whose interval reaches +-Infinity (it may overflow fp16) is
 *   checked this way only.
 * - Error norm and systematic error (Higham & Mary's model, as the exact fp32
 *   checks, with the output's rounding one more independent, mean-zero
 *   rounding): delta_i = y_i - yhat_i has |delta_i| <= c_i = u16 (|r_i| + b_i) + 2^-25
 *   (u16 = 2^-11; 2^-25 is half the subnormal spacing), so each output's
 *   first-order error has variance proxy C_i = u^2 n a_i^2 + c_i^2 and
 *     ||L||^2 <= sum C_i + 2 sqrt(t sum C_i^2) + 2 t max C_i        (t = ln(1/P)),
 *     |<y - r, r>| <= lambda sqrt(sum r_i^2 C_i) + sum |r_i| (rho_n a_i + n 2^-149),
 *   each failing with probability at most P (PROBABILISTIC_FAILURE). The output
 *   rounding dominates: the norm limit is about u16 relative, the systematic one
 *   about lambda u16 / sqrt(N) relative (N outputs), so a kernel that rounds its
 *   output toward zero or scales it by 1 + 1e-3 fails on any real layer.
 */
import { F16_UNIT_ROUNDOFF, roundF16 } from './fp16.js';
import { F32_MIN_SUBNORMAL, F32_UNIT_ROUNDOFF, PROBABILISTIC_FAILURE, aggregateChecks, gamma } from './tolerance.js';

export interface Fp16StorageCheck {
  ok: boolean;
  /** Elements outside their interval [fl16(r - b), fl16(r + b)], and the first one (-1 if none). */
  interval: { ok: boolean; outside: number; first: number; detail: string };
  /** relL2 against the aggregate bound (as a relative L2 error). */
  norm: { ok: boolean; value: number; limit: number };
  /** |<y - r, r>| / <r, r> against its bound. */
  bias: { ok: boolean; value: number; limit: number };
  beta: number;
  source: string;
}

/**
 * Checks an fp16-storage output `y` (the halves' values) against `ref` (float64
 * on the half-rounded inputs) and its `absBound` (sum |x w| per element), n
 * the reduction length. See the module doc. Throws on length mismatch.
 */
export function fp16StorageCheck(
  y: ArrayLike<number>,
  ref: ArrayLike<number>,
  absBound: ArrayLike<number>,
  n: number,
  failureProbability = PROBABILISTIC_FAILURE,
): Fp16StorageCheck {
  const len = ref.length;
  if (y.length !== len || absBound.length !== len) {
    throw new Error(`fp16StorageCheck: lengths differ (output ${y.length}, reference ${len}, absBound ${absBound.length})`);
  }
  const u = F32_UNIT_ROUNDOFF;
  const uh = F16_UNIT_ROUNDOFF;
  const g = gamma(n, u) + gamma(n, 2 ** -53);
  const rho = Math.expm1(n * Math.log1p(u)) - n * u + gamma(n, 2 ** -53);
  const floor = n * F32_MIN_SUBNORMAL;
  let outside = 0;
  let overflow = 0;
  let first = -1;
  let detail = '';
  let sumC = 0;
  let sumC2 = 0;
  let maxC = 0;
  let s2 = 0;
  let ref2 = 0;
  let refC = 0;
  let refRest = 0;
  let err2 = 0;
  let dot = 0;
  let finite = true;
  for (let i = 0; i < len; i++) {
    const a = absBound[i]!;
    const r = ref[i]!;
    const yi = +y[i]!;
    const b = g * a + floor;
    const lo = roundF16(r - b);
    const hi = roundF16(r + b);
    if (!(yi >= lo && yi <= hi)) {
      outside++;
      if (first < 0) {
        first = i;
        detail = `element ${i} is ${yi}, outside [${lo}, ${hi}] (reference ${r}, fp32 bound ${b.toExponential(2)})`;
      }
    } else if (!Number.isFinite(lo) || !Number.isFinite(hi)) {
      // The correct result may be +-Infinity (it overflows fp16): checked per element only.
      overflow++;
      continue;
    }
    if (!Number.isFinite(yi)) finite = false;
    const c = uh * (Math.abs(r) + b) + 2 ** -25;
    const C = u * u * n * a * a + c * c;
    sumC += C;
    sumC2 += C * C;
    if (C > maxC) maxC = C;
    s2 += a * a;
    ref2 += r * r;
    refC += r * r * C;
    refRest += Math.abs(r) * (rho * a + floor);
    const e = yi - r;
    err2 += e * e;
    dot += e * r;
  }
  const t = Math.log(1 / failureProbability);
  const lambda = Math.sqrt(2 * Math.log(2 / failureProbability));
  const normBound = Math.sqrt(sumC + 2 * Math.sqrt(t * sumC2) + 2 * t * maxC) + rho * Math.sqrt(s2) + floor * Math.sqrt(len);
  const { norm, bias, beta } = aggregateChecks({ normBound, biasBound: lambda * Math.sqrt(refC) + refRest, ref2, err2, dot, finite });
  const overflowNote = overflow > 0 ? `; ${overflow} may overflow fp16 (checked per element only)` : '';
  const interval = {
    ok: outside === 0,
    outside,
    first,
    detail:
      (outside === 0 ? `all ${len} outputs inside their interval` : `${outside} of ${len} outputs outside their interval; first: ${detail}`) + overflowNote,
  };
  return {
    ok: interval.ok && norm.ok && bias.ok,
    interval,
    norm,
    bias,
    beta,
    source: `fp32 exact-algorithm tolerance (n=${n}) on the half-rounded inputs, then one rounding to half (u=2^-11); P(false alarm) <= ${failureProbability} per probabilistic check`,
  };
}
