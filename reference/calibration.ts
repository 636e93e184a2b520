/**
 * Calibration: the range an activation tensor is quantized over, chosen from
 * calibration data (pure, payload-safe). Every method is defined exactly here
 * so an independent computation (numpy) gives the same figures; docs/precision.md
 * repeats the definitions.
 *
 * Calibration data are the case's inputs drawn again with another seed
 * (`calibrationSeed`), never the evaluated inputs; the output range (for a
 * requantized output) is calibrated on the float convolution of those inputs.
 *
 * Symmetric (int8 activations) methods give amax (the range is [-amax, amax]);
 * asymmetric (uint8) give [lo, hi] with lo <= 0 <= hi.
 *
 * - minmax: amax = max|x|; [min(x, 0), max(x, 0)].
 * - percentile P (default 99.99): numpy.percentile's default ("linear") rule,
 *   `percentile(a, P)` = a_(i) + (a_(i+1) - a_(i)) * f over the ascending sort
 *   a_(0..n-1), with i + f = (n - 1) * P / 100. Symmetric: amax = percentile(|x|, P);
 *   asymmetric: [min(percentile(x, 100 - P), 0), max(percentile(x, P), 0)].
 * - mse: a histogram of |x| with B bins (default 2048) over [0, max|x|], bin
 *   width d = max|x| / B, value v in bin min(floor(v / d), B - 1); candidates
 *   t_i = i * d for i = 1 .. B; each candidate's squared error is
 *   sum_b count_b * (Q_t(c_b) - c_b)^2 over the bin centres c_b = (b + 1/2) d,
 *   Q_t quantize-then-dequantize with step t / L: L = 127 levels (int8, or uint8
 *   on data with negative values) or 255 (uint8 on non-negative data), the
 *   quantized value clipped at L; the smallest error wins (the first on a tie).
 *   Asymmetric range: [max(min(x), -t), min(max(x), t)] widened to include 0.
 * - entropy (KL), TensorRT's procedure (Migacz, "8-bit Inference with
 *   TensorRT", GTC 2017; as in NVIDIA's pytorch-quantization): the same
 *   histogram; for each i = L .. B (L = 128 target levels, 256 for uint8 on
 *   non-negative data): P = the first i bins with the count of the bins beyond
 *   added to bin i - 1 (the clipped outliers); Q = the first i bins (without the
 *   outliers) merged into L groups of floor(i / L) consecutive bins (the last
 *   group also takes the remaining bins), each group's total spread evenly over
 *   its bins where P is non-zero (0 where P is 0); P and Q normalised to sum 1;
 *   KL(P || Q) = sum over P > 0 of P ln(P / Q) (infinite where Q = 0 < P).
 *   The i with the smallest KL (the first on a tie) gives t = i * d (the upper
 *   edge of the last kept bin). Asymmetric range: as for mse.
 * Data with max|x| = 0 give amax 0 / [0, 0] (the quantizer then uses scale 1).
 */
import type { Calibration } from './quant-scheme.js';
import { roundHalfEven } from './quant.js';

/** The calibration inputs' seed for a case seed: another stream than the evaluated inputs (seed + 0x9e3779b9, mod 2^32). */
export function calibrationSeed(seed: number): number {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`calibrationSeed: seed must be a safe integer, got ${seed}`);
  return (seed + 0x9e3779b9) >>> 0;
}

function checkFinite(x: ArrayLike<number>, who: string): void {
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i]!)) throw new RangeError(`${who}: calibration value ${i} is ${x[i]}; calibration data must be finite`);
  }
  if (x.length === 0) throw new RangeError(`${who}: no calibration data`);
}

/** numpy.percentile(a, p) with the default linear interpolation, a sorted ascending. */
export function percentileSorted(a: ArrayLike<number>, p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile: ${p} is outside [0, 100]`);
  const n = a.length;
  if (n === 0) throw new RangeError('percentile: no data');
  const pos = ((n - 1) * p) / 100;
  const i = Math.floor(pos);
  const f = pos - i;
  const lo = a[i]!;
  if (i + 1 >= n || f === 0) return lo;
  return lo + (a[i + 1]! - lo) * f;
}

function sortedAbs(x: ArrayLike<number>): Float64Array {
  const a = Float64Array.from(x as ArrayLike<number>, Math.abs);
  return a.sort();
}

function maxAbs(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]!));
  return m;
}

function minMax(x: ArrayLike<number>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/** Histogram of |x| over [0, max|x|] with `bins` bins (see the module doc); width 0 when max|x| = 0. */
export function absHistogram(x: ArrayLike<number>, bins: number): { counts: Float64Array; width: number } {
  const m = maxAbs(x);
  const counts = new Float64Array(bins);
  if (m === 0) {
    counts[0] = x.length;
    return { counts, width: 0 };
  }
  const width = m / bins;
  for (let i = 0; i < x.length; i++) {
    const b = Math.floor(Math.abs(x[i]!) / width);
    counts[b < bins ? b : bins - 1]! += 1;
  }
  return { counts, width };
}

/** The MSE-optimal threshold on a histogram of |x| for a quantizer of `levels` steps over [0, t]. */
export function mseThreshold(counts: Float64Array, width: number, levels: number): number {
  const bins = counts.length;
  if (width === 0) return 0;
  let best = Infinity;
  let bestT = bins * width;
  for (let i = 1; i <= bins; i++) {
    const t = i * width;
    const step = t / levels;
    let err = 0;
    for (let b = 0; b < bins; b++) {
      const cnt = counts[b]!;
      if (cnt === 0) continue;
      const c = (b + 0.5) * width;
      const q = Math.min(roundHalfEven(c / step), levels);
      const e = q * step - c;
      err += cnt * e * e;
    }
    if (err < best) {
      best = err;
      bestT = t;
    }
  }
  return bestT;
}

/** The entropy (KL) threshold on a histogram of |x| for `levels` target levels (see the module doc). */
export function entropyThreshold(counts: Float64Array, width: number, levels: number): number {
  const bins = counts.length;
  if (width === 0) return 0;
  if (bins < levels) throw new RangeError(`entropyThreshold: ${bins} bins are fewer than the ${levels} levels`);
  // Suffix sums: the count beyond bin i - 1.
  const beyond = new Float64Array(bins + 1);
  for (let b = bins - 1; b >= 0; b--) beyond[b] = beyond[b + 1]! + counts[b]!;
  const total = beyond[0]!;
  let best = Infinity;
  let bestI = bins;
  const p = new Float64Array(bins);
  const q = new Float64Array(bins);
  for (let i = levels; i <= bins; i++) {
    for (let b = 0; b < i; b++) p[b] = counts[b]!;
    p[i - 1] = p[i - 1]! + beyond[i]!;
    const merged = Math.floor(i / levels);
    for (let g = 0; g < levels; g++) {
      const start = g * merged;
      const stop = g === levels - 1 ? i : start + merged;
      let sum = 0;
      let nonzero = 0;
      for (let b = start; b < stop; b++) {
        sum += counts[b]!;
        if (p[b]! !== 0) nonzero++;
      }
      for (let b = start; b < stop; b++) q[b] = p[b]! !== 0 ? sum / nonzero : 0;
    }
    // P sums to `total`, Q to the count inside the first i bins.
    const qTotal = total - beyond[i]!;
    let kl = 0;
    for (let b = 0; b < i; b++) {
      const pb = p[b]!;
      if (pb === 0) continue;
      const qb = q[b]!;
      if (qb === 0) {
        kl = Infinity;
        break;
      }
      kl += (pb / total) * Math.log(pb / total / (qb / qTotal));
    }
    if (kl < best) {
      best = kl;
      bestI = i;
    }
  }
  return bestI * width;
}

/** amax for int8 symmetric activations (see the module doc). */
export function calibrateSymmetric(x: ArrayLike<number>, cal: Calibration): number {
  checkFinite(x, `calibrate ${cal.method}`);
  switch (cal.method) {
    case 'minmax':
      return maxAbs(x);
    case 'percentile':
      return percentileSorted(sortedAbs(x), cal.percentile);
    case 'mse': {
      const h = absHistogram(x, cal.bins);
      return mseThreshold(h.counts, h.width, 127);
    }
    case 'entropy': {
      const h = absHistogram(x, cal.bins);
      return entropyThreshold(h.counts, h.width, 128);
    }
  }
}

/** [lo, hi] (lo <= 0 <= hi) for uint8 asymmetric activations (see the module doc). */
export function calibrateAsymmetric(x: ArrayLike<number>, cal: Calibration): [number, number] {
  checkFinite(x, `calibrate ${cal.method}`);
  const [mn, mx] = minMax(x);
  const widen = (lo: number, hi: number): [number, number] => [Math.min(lo, 0), Math.max(hi, 0)];
  switch (cal.method) {
    case 'minmax':
      return widen(mn, mx);
    case 'percentile': {
      const a = Float64Array.from(x as ArrayLike<number>).sort();
      return widen(percentileSorted(a, 100 - cal.percentile), percentileSorted(a, cal.percentile));
    }
    case 'mse':
    case 'entropy': {
      const nonNegative = mn >= 0;
      const h = absHistogram(x, cal.bins);
      const t = cal.method === 'mse' ? mseThreshold(h.counts, h.width, nonNegative ? 255 : 127) : entropyThreshold(h.counts, h.width, nonNegative ? 256 : 128);
      return widen(Math.max(mn, -t), Math.min(mx, t));
    }
  }
}
