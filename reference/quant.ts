/**
 * int8 quantization, the exact integer convolution and requantization (pure,
 * payload-safe): the reference the int8 kernels must match bit for bit.
 *
 * Rounding rule, everywhere: round half to even (`roundHalfEven`), IEEE's
 * default, what `f32x4.nearest` and the conversions `f32x4.convert_i32x4_s`
 * and f32 multiplication do in WebAssembly, and what numpy.round does. So a
 * value halfway between two integers goes to the even one: 2.5 -> 2, 3.5 -> 4,
 * -2.5 -> -2, -0.5 -> -0 (0).
 *
 * Scales are float32 numbers (what the kernels multiply by).
 * - Weights, symmetric, [-127, 127]: s = f32(max|w| / 127) over the tensor or
 *   per output channel (1 where max|w| = 0); q = clamp(rhe(w / s), -127, 127).
 * - Activations int8 symmetric: s = f32(amax / 127), zero point 0,
 *   q = clamp(rhe(x / s), -128, 127) (values beyond the calibrated amax clip;
 *   -128 is reachable).
 * - Activations uint8 asymmetric over [lo, hi] (lo <= 0 <= hi):
 *   s = f32((hi - lo) / 255), z = clamp(rhe(-lo / s), 0, 255),
 *   q = clamp(rhe(x / s) + z, 0, 255).
 * x / s is computed in float64 from the float32 x and s, then rounded (a
 * division, not a multiplication by 1/s). Dequantization: f32((q - z) * s).
 *
 * Convolution: acc = sum over (c, r, s) of (xq - zx) * wq in int32, exact (no
 * overflow: `int8ReductionLimit`); zero padding is the real value 0, so a
 * padded tap contributes nothing (it stands for xq = zx).
 * - Requantized output (zero point zy, range [qmin, qmax]), per output channel k:
 *   M_k = f32(sx * sw_k / sy) (computed in float64 from the float32 scales,
 *   rounded once), v = f32(f32(acc) * M_k), q = clamp(rhe(v) + zy, qmin, qmax):
 *   the kernels' sequence convert (round to nearest even) -> f32 multiply ->
 *   clamp to [qmin - zy, qmax - zy] -> nearest -> truncate -> + zy.
 * - Dequantized output: D_k = f32(sx * sw_k), y = f32(f32(acc) * D_k).
 */
import type { ConvShape } from '../core/contracts.js';
import { convOutputSize } from './conv.js';

/** Round half to even of a finite number (2.5 -> 2, 3.5 -> 4, -2.5 -> -2). */
export function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f === 0 ? 0 : f; // no -0
  return f % 2 === 0 ? f : f + 1;
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

/** Affine quantization of one tensor: real = (q - zeroPoint) * scale, q in [qmin, qmax]. */
export interface QuantParams {
  /** float32 value. */
  scale: number;
  zeroPoint: number;
  qmin: number;
  qmax: number;
}

/** int8 symmetric activations from a calibrated amax (>= 0): scale amax / 127, zero point 0, [-128, 127]. */
export function int8SymmetricParams(amax: number): QuantParams {
  if (!(amax >= 0) || !Number.isFinite(amax)) throw new RangeError(`int8SymmetricParams: amax must be finite and >= 0, got ${amax}`);
  const scale = amax > 0 ? Math.fround(amax / 127) : 1;
  return { scale: scale > 0 ? scale : 1, zeroPoint: 0, qmin: -128, qmax: 127 };
}

/** uint8 asymmetric activations over [lo, hi], widened to include 0: scale (hi - lo) / 255, zero point rhe(-lo / scale). */
export function uint8AsymmetricParams(lo: number, hi: number): QuantParams {
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || lo > hi) throw new RangeError(`uint8AsymmetricParams: need finite lo <= hi, got [${lo}, ${hi}]`);
  const l = Math.min(lo, 0);
  const h = Math.max(hi, 0);
  let scale = Math.fround((h - l) / 255);
  if (!(scale > 0)) scale = 1;
  const zeroPoint = clamp(roundHalfEven(-l / scale), 0, 255);
  return { scale, zeroPoint, qmin: 0, qmax: 255 };
}

/** q = clamp(rhe(x / scale) + zeroPoint, qmin, qmax), as Int8Array (qmin < 0) or Uint8Array. */
export function quantizeTensor(x: ArrayLike<number>, p: QuantParams): Int8Array | Uint8Array {
  const out = p.qmin < 0 ? new Int8Array(x.length) : new Uint8Array(x.length);
  const { scale, zeroPoint, qmin, qmax } = p;
  for (let i = 0; i < x.length; i++) out[i] = clamp(roundHalfEven(x[i]! / scale) + zeroPoint, qmin, qmax);
  return out;
}

/** f32((q - zeroPoint) * scale). */
export function dequantizeTensor(q: ArrayLike<number>, p: Pick<QuantParams, 'scale' | 'zeroPoint'>): Float32Array {
  const out = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) out[i] = (q[i]! - p.zeroPoint) * p.scale;
  return out;
}

export interface QuantizedWeights {
  /** Symmetric, in [-127, 127], KCRS like the float weights. */
  q: Int8Array;
  /** float32 scale per output channel (all equal for per-tensor). */
  scales: Float32Array;
}

/** Weights symmetric in [-127, 127], scaled by max|w| per tensor or per output channel (k channels). */
export function quantizeWeights(w: ArrayLike<number>, k: number, granularity: 'per-tensor' | 'per-channel'): QuantizedWeights {
  if (!Number.isInteger(k) || k < 1 || w.length % k !== 0) throw new RangeError(`quantizeWeights: ${w.length} weights do not split into ${k} output channels`);
  const per = w.length / k;
  const amax = new Float64Array(k);
  for (let kk = 0; kk < k; kk++) {
    let m = 0;
    for (let j = kk * per; j < (kk + 1) * per; j++) m = Math.max(m, Math.abs(w[j]!));
    if (!Number.isFinite(m)) throw new RangeError(`quantizeWeights: output channel ${kk} holds a non-finite weight`);
    amax[kk] = m;
  }
  if (granularity === 'per-tensor') amax.fill(Math.max(...amax));
  const scales = new Float32Array(k);
  const q = new Int8Array(w.length);
  for (let kk = 0; kk < k; kk++) {
    const s = amax[kk]! > 0 ? Math.fround(amax[kk]! / 127) : 1;
    scales[kk] = s > 0 ? s : 1;
    const sk = scales[kk]!;
    for (let j = kk * per; j < (kk + 1) * per; j++) q[j] = clamp(roundHalfEven(w[j]! / sk), -127, 127);
  }
  return { q, scales };
}

/**
 * The largest reduction length (C/groups * R * S) whose int32 accumulation of
 * (x - zx) * w cannot overflow: |x - zx| <= 255 (uint8) or 128 (int8), |w| <= 127.
 */
export function int8ReductionLimit(activations: 'int8' | 'uint8'): number {
  return Math.floor((2 ** 31 - 1) / ((activations === 'uint8' ? 255 : 128) * 127));
}

/**
 * The exact convolution of quantized tensors: acc[n][k][oh][ow] =
 * sum (xq - xZero) * wq over (c, r, s), int32; zero padding contributes 0.
 * Throws if the reduction could overflow int32.
 */
export function qconvRef(shape: ConvShape, xq: ArrayLike<number>, xZero: number, wq: ArrayLike<number>): Int32Array {
  const { ho, wo } = convOutputSize(shape);
  const { n, c, h, w: wd, k, r, s, stride, pad, groups } = shape;
  const cg = c / groups;
  const kg = k / groups;
  const kd = cg * r * s;
  if (xq.length !== n * c * h * wd) throw new Error(`qconvRef: x has ${xq.length} elements, the shape needs ${n * c * h * wd}`);
  if (wq.length !== k * kd) throw new Error(`qconvRef: w has ${wq.length} elements, the shape needs ${k * kd}`);
  if (kd > int8ReductionLimit('uint8')) {
    // A bound that holds for either activation type (|x - zx| <= 255).
    let maxAbsX = 0;
    for (let i = 0; i < xq.length; i++) maxAbsX = Math.max(maxAbsX, Math.abs(xq[i]! - xZero));
    if (kd * maxAbsX * 127 > 2 ** 31 - 1) throw new RangeError(`qconvRef: a reduction of ${kd} terms may overflow int32`);
  }
  // Zero-point-corrected input as float64 (exact small integers) for a fast inner loop.
  const X = new Float64Array(xq.length);
  for (let i = 0; i < xq.length; i++) X[i] = xq[i]! - xZero;
  const W = Float64Array.from(wq as ArrayLike<number>);
  const acc = new Int32Array(n * k * ho * wo);
  // Output channels of a group 4 at a time (each x load feeds 4 multiply-adds), the rest one at a time.
  const KB = 4;
  const rows = new Float64Array(KB * wo);
  for (let img = 0; img < n; img++) {
    for (let g = 0; g < groups; g++) {
      for (let kk = 0; kk < kg;) {
        const kb = kg - kk >= KB ? KB : 1;
        const k0 = g * kg + kk;
        for (let oh = 0; oh < ho; oh++) {
          rows.fill(0);
          for (let ci = 0; ci < cg; ci++) {
            const xc = (img * c + g * cg + ci) * h * wd;
            const wc = (k0 * cg + ci) * r * s;
            for (let rr = 0; rr < r; rr++) {
              const ih = oh * stride - pad + rr;
              if (ih < 0 || ih >= h) continue;
              const xrow = xc + ih * wd;
              for (let ss = 0; ss < s; ss++) {
                // Output columns whose input column lies inside the row.
                const off = ss - pad;
                const lo = Math.max(0, Math.ceil(-off / stride));
                const hi = Math.min(wo, Math.floor((wd - 1 - off) / stride) + 1);
                const wi = wc + rr * s + ss;
                const xb = xrow + off;
                if (kb === KB) {
                  const w0 = W[wi]!;
                  const w1 = W[wi + kd]!;
                  const w2 = W[wi + 2 * kd]!;
                  const w3 = W[wi + 3 * kd]!;
                  for (let ow = lo; ow < hi; ow++) {
                    const xv = X[xb + ow * stride]!;
                    rows[ow] = rows[ow]! + xv * w0;
                    rows[wo + ow] = rows[wo + ow]! + xv * w1;
                    rows[2 * wo + ow] = rows[2 * wo + ow]! + xv * w2;
                    rows[3 * wo + ow] = rows[3 * wo + ow]! + xv * w3;
                  }
                } else {
                  const w0 = W[wi]!;
                  for (let ow = lo; ow < hi; ow++) rows[ow] = rows[ow]! + X[xb + ow * stride]! * w0;
                }
              }
            }
          }
          for (let b = 0; b < kb; b++) acc.set(rows.subarray(b * wo, (b + 1) * wo), ((img * k + k0 + b) * ho + oh) * wo);
        }
        kk += kb;
      }
    }
  }
  return acc;
}

/** Requantization multipliers M_k = f32(sx * sw_k / sy). */
export function requantMultipliers(sx: number, sw: ArrayLike<number>, sy: number): Float32Array {
  return Float32Array.from(sw as ArrayLike<number>, (s) => (sx * s) / sy);
}

/** Dequantization scales D_k = f32(sx * sw_k). */
export function dequantScales(sx: number, sw: ArrayLike<number>): Float32Array {
  return Float32Array.from(sw as ArrayLike<number>, (s) => sx * s);
}

/**
 * q = clamp(rhe(f32(f32(acc) * M_k)) + zy, qmin, qmax) for every element of
 * acc (N K P, P = Ho * Wo elements per channel), as Int8Array (qmin < 0) or Uint8Array.
 */
export function requantizeRef(
  acc: Int32Array,
  k: number,
  plane: number,
  multipliers: ArrayLike<number>,
  out: Pick<QuantParams, 'zeroPoint' | 'qmin' | 'qmax'>,
): Int8Array | Uint8Array {
  if (acc.length % (k * plane) !== 0) throw new RangeError(`requantizeRef: ${acc.length} values are not N x ${k} x ${plane}`);
  const y = out.qmin < 0 ? new Int8Array(acc.length) : new Uint8Array(acc.length);
  const lo = out.qmin - out.zeroPoint;
  const hi = out.qmax - out.zeroPoint;
  for (let i = 0; i < acc.length; i++) {
    const kk = Math.floor(i / plane) % k;
    const v = Math.fround(Math.fround(acc[i]!) * multipliers[kk]!);
    y[i] = roundHalfEven(clamp(v, lo, hi)) + out.zeroPoint;
  }
  return y;
}

/** y = f32(f32(acc) * D_k) for every element (N K P). */
export function dequantizeAccRef(acc: Int32Array, k: number, plane: number, scales: ArrayLike<number>): Float32Array {
  if (acc.length % (k * plane) !== 0) throw new RangeError(`dequantizeAccRef: ${acc.length} values are not N x ${k} x ${plane}`);
  const y = new Float32Array(acc.length);
  for (let i = 0; i < acc.length; i++) y[i] = Math.fround(acc[i]!) * scales[Math.floor(i / plane) % k]!;
  return y;
}
