/**
 * IEEE 754 binary16 (half precision) and fp16 arithmetic, emulated exactly in
 * float64 (pure, payload-safe).
 *
 * Format: 1 sign bit, 5 exponent bits (bias 15), 10 fraction bits. Normal
 * numbers 2^-14 .. 65504 (0x0400 .. 0x7bff), subnormals k * 2^-24 for
 * k = 1 .. 1023 (0x0001 .. 0x03ff), +-Infinity 0x7c00 / 0xfc00, NaN exponent 31
 * with a non-zero fraction. Unit roundoff u = 2^-11.
 *
 * Conversion to half (`f16Bits`): round to nearest, ties to even (IEEE's
 * default, what every hardware conversion and the SIMD kernels do), from the
 * exact value of the float64 argument (so a float32 converts with one rounding):
 * - |x| >= 65520 (the midpoint between 65504 and 2^16, which ties to the even
 *   2^16) overflows to +-Infinity; Infinity stays Infinity;
 * - below 2^-14 the result is subnormal: x rounded to a multiple of 2^-24
 *   (2^-25 ties to +-0, 3 * 2^-25 to 2 * 2^-24), keeping the sign of zero;
 * - NaN becomes the quiet NaN 0x7e00.
 * Conversion from half (`f16Value`) is exact.
 *
 * fp16 arithmetic, emulated (`convF16ArithRef`): what a device computing in
 * half (ARMv8.2 FP16, GPU half units) returns, every product and every sum
 * rounded to half, in the reference's summation order. A product or a sum of two
 * halves is exact in float64 (22 significant bits; exponents within 2^-48 ..
 * 2^31), so rounding that exact value once to half gives the correctly rounded
 * half operation: the emulation is exact, not approximate. It predicts accuracy
 * only: its speed is that of this JavaScript loop, not of any fp16 hardware.
 */
import type { ConvShape } from '../core/contracts.js';
import { convOutputSize } from './conv.js';

/** Unit roundoff of binary16: 2^-11. */
export const F16_UNIT_ROUNDOFF = 2 ** -11;
/** Largest finite half: 65504. */
export const F16_MAX = 65504;
/** Smallest positive normal half: 2^-14. */
export const F16_MIN_NORMAL = 2 ** -14;
/** Smallest positive subnormal half: 2^-24. */
export const F16_MIN_SUBNORMAL = 2 ** -24;

const view = new DataView(new ArrayBuffer(8));

/** Round half to even of a finite double that is at most 2^52 in magnitude (exact). */
function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f; // exact: v and f share the exponent range
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** The IEEE binary16 bit pattern nearest to x (ties to even); see the module doc. */
export function f16Bits(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a === Infinity) return sign | 0x7c00;
  if (a < F16_MIN_NORMAL) {
    // Subnormal range: a multiple of 2^-24; 1024 * 2^-24 is the smallest normal, whose encoding 0x0400 follows on.
    return sign | roundHalfEven(a * 2 ** 24);
  }
  view.setFloat64(0, a);
  const e = ((view.getUint32(0) >>> 20) & 0x7ff) - 1023; // floor(log2 a), a is a normal double here
  if (e > 15) return sign | 0x7c00;
  // a / 2^(e-10) in [1024, 2048): exact (a power-of-two scaling); 2048 after rounding carries into the exponent,
  // which the encoding absorbs (bits are monotone in the value), and past 0x7bff it is Infinity.
  const q = roundHalfEven(a * 2 ** (10 - e));
  const bits = ((e + 15) << 10) + (q - 1024);
  return sign | (bits >= 0x7c00 ? 0x7c00 : bits);
}

/** The exact value of a binary16 bit pattern (0 .. 0xffff). */
export function f16Value(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const e = (bits >>> 10) & 0x1f;
  const m = bits & 0x3ff;
  if (e === 0) return sign * m * F16_MIN_SUBNORMAL;
  if (e === 31) return m === 0 ? sign * Infinity : NaN;
  return sign * (1024 + m) * 2 ** (e - 25);
}

/** x rounded to the nearest half (ties to even), as a number. */
export function roundF16(x: number): number {
  return f16Value(f16Bits(x));
}

/** Half bit patterns of every element (round to nearest, ties to even). */
export function toF16Bits(a: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = f16Bits(a[i]!);
  return out;
}

/** The values of half bit patterns, as float32 (exact: every half is a float32). */
export function fromF16Bits(h: ArrayLike<number>): Float32Array {
  const out = new Float32Array(h.length);
  for (let i = 0; i < h.length; i++) out[i] = f16Value(h[i]!);
  return out;
}

/** Every element rounded to half, kept as float32. */
export function roundF16Array(a: ArrayLike<number>): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = roundF16(a[i]!);
  return out;
}

export interface F16ArithOptions {
  /**
   * 'f16' (default): every product and every sum rounded to half (a device with
   * fp16 arithmetic units and no wider accumulator). 'f32': the products of two
   * halves are exact in float32 and the sums are rounded to float32 (tensor-core
   * style fp16 inputs with fp32 accumulation); the output is rounded to half in both.
   */
  accumulate?: 'f16' | 'f32';
}

/**
 * A convolution in emulated fp16 arithmetic (see the module doc): x and w are
 * rounded to half first (their storage), then for each output, in the order
 * (c, r, s) of the reference: p = fl(x * w), acc = fl(acc + p), with fl
 * rounding to half (or to float32 under accumulate 'f32'), starting from
 * acc = +0; zero padding contributes nothing (a padded tap is skipped, not
 * added as 0 * w, which would not change acc anyway). The output is rounded to
 * half. Returns float32 values (every half is exact in float32).
 */
export function convF16ArithRef(shape: ConvShape, x: ArrayLike<number>, w: ArrayLike<number>, opts: F16ArithOptions = {}): Float32Array {
  const { ho, wo } = convOutputSize(shape);
  const { n, c, h, w: wd, k, r, s, stride, pad, groups } = shape;
  const cg = c / groups;
  const kg = k / groups;
  if (x.length !== n * c * h * wd) throw new Error(`convF16ArithRef: x has ${x.length} elements, the shape needs ${n * c * h * wd}`);
  if (w.length !== k * cg * r * s) throw new Error(`convF16ArithRef: w has ${w.length} elements, the shape needs ${k * cg * r * s}`);
  const acc32 = opts.accumulate === 'f32';
  const fl = acc32 ? Math.fround : roundF16;
  const xh = roundF16Array(x);
  const wh = roundF16Array(w);
  const y = new Float32Array(n * k * ho * wo);
  for (let img = 0; img < n; img++) {
    for (let kk = 0; kk < k; kk++) {
      const g = Math.floor(kk / kg);
      for (let oh = 0; oh < ho; oh++) {
        for (let ow = 0; ow < wo; ow++) {
          let acc = 0;
          for (let ci = 0; ci < cg; ci++) {
            const xc = (img * c + g * cg + ci) * h * wd;
            const wc = (kk * cg + ci) * r * s;
            for (let rr = 0; rr < r; rr++) {
              const ih = oh * stride - pad + rr;
              if (ih < 0 || ih >= h) continue;
              for (let ss = 0; ss < s; ss++) {
                const iw = ow * stride - pad + ss;
                if (iw < 0 || iw >= wd) continue;
                const p = xh[xc + ih * wd + iw]! * wh[wc + rr * s + ss]!;
                acc = fl(acc + (acc32 ? p : roundF16(p)));
              }
            }
          }
          y[((img * k + kk) * ho + oh) * wo + ow] = roundF16(acc);
        }
      }
    }
  }
  return y;
}
