/**
 * Seeded, platform-independent random inputs (pure, payload-safe).
 *
 * Generator: sfc32 (Chris Doty-Humphrey's Small Fast Chaotic PRNG, 128-bit
 * state) seeded by splitmix32 from the integer seed, with 15 warm-up outputs
 * discarded. Only 32-bit integer ops (Math.imul, >>> 0) and correctly rounded
 * IEEE double arithmetic are used: no Math.random, and no Math.log/exp/sin/cos
 * (whose last bits may differ between V8 versions) -- the logarithm needed by
 * the normal and Student-t samplers is computed by `detLog` below. The same
 * seed gives the same bytes on every platform and Node version.
 */
import type { ConvShape, Distribution } from '../core/contracts.js';
import { convOutputSize } from './conv.js';

export interface Rng {
  /** Uniform in [0, 1), 32 random bits. */
  next(): number;
  /** Standard normal (Marsaglia polar method). */
  normal(): number;
}

const TWO_POW_32 = 4294967296;

/** Folds an integer seed (any safe integer, negative allowed) to 32 bits. */
function foldSeed(seed: number): number {
  if (!Number.isSafeInteger(seed)) throw new Error(`makeRng: seed must be a safe integer, got ${seed}`);
  const lo = seed >>> 0;
  const hi = Math.floor(seed / TWO_POW_32) >>> 0;
  return (lo ^ Math.imul(hi, 0x9e3779b1)) >>> 0;
}

/** A seeded PRNG; see the module doc. */
export function makeRng(seed: number): Rng {
  let sm = foldSeed(seed);
  const splitmix32 = (): number => {
    sm = (sm + 0x9e3779b9) | 0;
    let z = sm;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix32();
  let b = splitmix32();
  let c = splitmix32();
  let d = 1;
  const u32 = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 15; i++) u32();

  let spare = 0;
  let hasSpare = false;
  return {
    next: () => u32() / TWO_POW_32,
    normal: () => {
      if (hasSpare) {
        hasSpare = false;
        return spare;
      }
      for (;;) {
        // u, v uniform in (-1, 1), never exactly 0 (offset by half a step)
        const u = ((u32() + 0.5) / TWO_POW_32) * 2 - 1;
        const v = ((u32() + 0.5) / TWO_POW_32) * 2 - 1;
        const q = u * u + v * v;
        if (q >= 1) continue;
        const f = Math.sqrt((-2 * detLog(q)) / q);
        spare = v * f;
        hasSpare = true;
        return u * f;
      }
    },
  };
}

const LN2_HI = 6.9314718036912381649e-1; // fdlibm's split of ln 2: LN2_HI has trailing zero bits
const LN2_LO = 1.90821492927058770002e-10;
const SQRT2 = Math.SQRT2;
const logView = new DataView(new ArrayBuffer(8));

/**
 * Natural logarithm of a positive finite x using only + - * / and bit
 * manipulation, so the result is the same on every IEEE-754 platform and
 * JavaScript engine (error within a few ulp of Math.log). x = 2^e * m with m in
 * [sqrt(1/2), sqrt(2)); ln m = 2 atanh(z), z = (m-1)/(m+1), |z| < 0.1716, by its
 * odd series to z^27. Throws for x <= 0 or non-finite x.
 */
export function detLog(x: number): number {
  if (!(x > 0) || !Number.isFinite(x)) throw new Error(`detLog: argument must be positive and finite, got ${x}`);
  let e = 0;
  if (x < 2.2250738585072014e-308) {
    x *= 18014398509481984; // 2^54: make subnormals normal
    e = -54;
  }
  logView.setFloat64(0, x, true);
  const hiWord = logView.getUint32(4, true);
  e += ((hiWord >>> 20) & 0x7ff) - 1023;
  // mantissa with exponent forced to 0: m in [1, 2)
  logView.setUint32(4, (hiWord & 0x000fffff) | 0x3ff00000, true);
  let m = logView.getFloat64(0, true);
  if (m > SQRT2) {
    m *= 0.5;
    e += 1;
  }
  const z = (m - 1) / (m + 1);
  const z2 = z * z;
  // 1 + z2/3 + z2^2/5 + ... + z2^13/27, Horner
  let p = 1 / 27;
  for (let k = 25; k >= 1; k -= 2) p = p * z2 + 1 / k;
  return e * LN2_HI + (e * LN2_LO + 2 * z * p);
}

/**
 * Conv inputs from a seed:
 *
 * x (NCHW), by `dist`:
 * - 'uniform(-1,1)': uniform in [-1, 1);
 * - 'uniform(0,1)': uniform in [0, 1);
 * - 'activation': post-ReLU-like, max(0, t) with t a Student-t variate with 4
 *   degrees of freedom (t = g / sqrt(chi2_4 / 4), chi2_4 = -2 ln(U1 U2)): 50%
 *   exact zeros in expectation, and a heavy positive tail (P(x > a) ~ a^-4; the
 *   largest of 10^6 values is typically 20-40).
 * x draws from makeRng(seed).
 *
 * w (KCRS), like a trained layer (He initialisation with spread): for each
 * output channel k a scale s_k uniform in [0.5, 1.5), then
 * w = normal * sqrt(2 / fanIn) * s_k, fanIn = C/groups * R * S, in KCRS order.
 * w draws from a second stream, makeRng(seed ^ 0x5bd1e995), so it does not depend
 * on the distribution of x.
 *
 * All values are rounded to fp32. Same seed and shape -> identical bytes.
 */
export function makeConvInputs(s: ConvShape, seed: number, dist: Distribution): { x: Float32Array; w: Float32Array } {
  convOutputSize(s); // validates the shape
  const cg = s.c / s.groups;
  const fanIn = cg * s.r * s.s;
  const x = new Float32Array(s.n * s.c * s.h * s.w);
  const w = new Float32Array(s.k * fanIn);
  fillDistribution(x, makeRng(seed), dist);
  const rw = makeRng((foldSeed(seed) ^ 0x5bd1e995) >>> 0);
  fillHe(w, s.k, fanIn, rw);
  return { x, w };
}

/**
 * Fill `x` with draws from `rng` by `dist` (the input distributions of
 * makeConvInputs, in the same order of draws), rounded to fp32.
 */
export function fillDistribution(x: Float32Array, rng: Rng, dist: Distribution): void {
  switch (dist) {
    case 'uniform(-1,1)':
      for (let i = 0; i < x.length; i++) x[i] = rng.next() * 2 - 1;
      break;
    case 'uniform(0,1)':
      for (let i = 0; i < x.length; i++) x[i] = rng.next();
      break;
    case 'activation':
      for (let i = 0; i < x.length; i++) {
        const g = rng.normal();
        const u1 = 1 - rng.next(); // (0, 1]
        const u2 = 1 - rng.next();
        const prod = u1 * u2;
        // prod = 1 only if both draws were 0 (probability 2^-64): chi2 = 0 -> treat t as 0
        const chi2 = prod < 1 ? -2 * detLog(prod) : 0;
        const t = chi2 > 0 ? g / Math.sqrt(chi2 / 4) : 0;
        x[i] = t > 0 ? t : 0;
      }
      break;
    default: {
      const never: never = dist;
      throw new Error(`fillDistribution: unknown distribution ${String(never)}`);
    }
  }
}

/**
 * He-normal weights with spread, like a trained layer: for each of the `k`
 * output channels (the leading axis of `w`, k blocks of w.length / k values) a
 * scale s_k uniform in [0.5, 1.5), then w = normal * sqrt(2 / fanIn) * s_k.
 * The k scales are drawn first, then the normals in order.
 */
export function fillHe(w: Float32Array, k: number, fanIn: number, rng: Rng): void {
  if (!(Number.isInteger(k) && k > 0 && w.length % k === 0)) {
    throw new Error(`fillHe: ${w.length} values cannot be split into ${k} output channels`);
  }
  if (!(fanIn > 0)) throw new Error(`fillHe: fanIn must be positive, got ${fanIn}`);
  const per = w.length / k;
  const std = Math.sqrt(2 / fanIn);
  const scales = new Float64Array(k);
  for (let i = 0; i < k; i++) scales[i] = 0.5 + rng.next();
  for (let i = 0; i < k; i++) {
    const sk = std * scales[i]!;
    const base = i * per;
    for (let j = 0; j < per; j++) w[base + j] = rng.normal() * sk;
  }
}
