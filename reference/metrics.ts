/**
 * Error metrics of an output against the float64 reference. Pure, payload-safe.
 *
 * All sums are accumulated in float64.
 *
 * Non-finite outputs: if any y[i] is NaN or +-Infinity the output is unusable,
 * and the metrics say so in the failing direction of every comparison a check
 * could make: maxAbs = relL2 = maxRel = Infinity, sqnrDb = -Infinity and
 * cosine = NaN (no meaningful value; `cosine >= t` is then false). A check
 * written as `metric <= limit` therefore never passes a NaN output.
 * Note: JSON has no Infinity/NaN (JSON.stringify writes null) and zod's
 * z.number() rejects them, so a stored result must encode these values.
 *
 * The reference must be finite (it is computed in float64 from finite inputs);
 * a non-finite reference throws.
 */

export interface ErrorMetrics {
  /** max_i |y_i - ref_i| */
  maxAbs: number;
  /** ||y - ref||_2 / ||ref||_2 (0 if both are all zeros, Infinity if only ref is) */
  relL2: number;
  /** max_i |y_i - ref_i| / |ref_i| over elements with |ref_i| > floor (0 if no element qualifies) */
  maxRel: number;
  /** 10*log10(sum ref^2 / sum (y-ref)^2); Infinity when y equals ref exactly */
  sqnrDb: number;
  /** <y, ref> / (||y|| ||ref||); 1 if both are all zeros, 0 if exactly one is */
  cosine: number;
}

/**
 * Computes the error metrics of `y` against `ref`.
 *
 * `opts.relFloor`: elements with |ref_i| <= relFloor are left out of maxRel
 * (relative error near zero is meaningless). Default: 1e-3 * max_i |ref_i|.
 *
 * Throws if the lengths differ or ref holds a non-finite value.
 */
export function errorMetrics(y: ArrayLike<number>, ref: ArrayLike<number>, opts?: { relFloor?: number }): ErrorMetrics {
  const n = ref.length;
  if (y.length !== n) {
    throw new Error(`errorMetrics: output has ${y.length} elements but the reference has ${n}`);
  }
  let maxRef = 0;
  for (let i = 0; i < n; i++) {
    const r = ref[i]!;
    if (!Number.isFinite(r)) {
      throw new Error(`errorMetrics: reference element ${i} is ${r}; the float64 reference must be finite`);
    }
    const a = Math.abs(r);
    if (a > maxRef) maxRef = a;
  }
  const floor = opts?.relFloor ?? 1e-3 * maxRef;
  if (!(floor >= 0)) throw new Error(`errorMetrics: relFloor must be a number >= 0, got ${floor}`);

  let maxAbs = 0;
  let maxRel = 0;
  let sumRef2 = 0;
  let sumY2 = 0;
  let sumErr2 = 0;
  let dot = 0;
  let nonFinite = false;
  for (let i = 0; i < n; i++) {
    const yi = +y[i]!;
    const ri = ref[i]!;
    if (!Number.isFinite(yi)) {
      nonFinite = true;
      break;
    }
    const e = yi - ri;
    const ae = Math.abs(e);
    if (ae > maxAbs) maxAbs = ae;
    const ar = Math.abs(ri);
    if (ar > floor) {
      const rel = ae / ar;
      if (rel > maxRel) maxRel = rel;
    }
    sumRef2 += ri * ri;
    sumY2 += yi * yi;
    sumErr2 += e * e;
    dot += yi * ri;
  }
  if (nonFinite) {
    return { maxAbs: Infinity, relL2: Infinity, maxRel: Infinity, sqnrDb: -Infinity, cosine: NaN };
  }

  let relL2: number;
  let sqnrDb: number;
  if (sumErr2 === 0) {
    relL2 = 0;
    sqnrDb = Infinity;
  } else if (sumRef2 === 0) {
    relL2 = Infinity;
    sqnrDb = -Infinity;
  } else {
    relL2 = Math.sqrt(sumErr2) / Math.sqrt(sumRef2);
    sqnrDb = 10 * Math.log10(sumRef2 / sumErr2);
  }

  let cosine: number;
  if (sumY2 === 0 && sumRef2 === 0) cosine = 1;
  else if (sumY2 === 0 || sumRef2 === 0) cosine = 0;
  else cosine = dot / (Math.sqrt(sumY2) * Math.sqrt(sumRef2));

  return { maxAbs, relL2, maxRel, sqnrDb, cosine };
}
