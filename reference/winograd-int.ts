/**
 * Winograd F(m x m, 3 x 3) on quantized tensors: why int8 gets F(2x2) only
 * (pure, payload-safe).
 *
 * The transforms are rational; to stay exact in integers the input transform
 * is scaled by the lcm of BT's denominators (lB) and the filter transform by the
 * lcm of G's (lG), so V' = (lB BT) d (lB BT)^T and U' = (lG G) g (lG G)^T are
 * integers and AT (sum over channels U' . V') A = (lB lG)^2 y exactly. From the
 * exact transforms (cookToom, default points), with |d| <= dMax (128 for int8
 * activations, 255 for uint8 minus its zero point) and |g| <= 127:
 *   |V'_ij| <= rowsum_i(|lB BT|) rowsum_j(|lB BT|) dMax, likewise |U'_ij| with lG G;
 *   the channel sum M_ij = sum_c U'_ij V'_ij is bounded by C max_ij |U'_ij| |V'_ij|.
 * F(2x2): lB = 1, lG = 2, |V'| <= 512 (11 bits with the sign: more than int8,
 * the known trap), |U'| <= 1143 (12 bits): both int16, so the WebAssembly kernel keeps them in
 * int16 and multiplies with i32x4.dot_i16x8_s exactly, and M fits int32 up to
 * C = 3669 (int8) channels; the output transform only adds and subtracts, so
 * wrapping int32 arithmetic still gives 4 y exactly. F(2x2) in int8 is
 * therefore exact: its only cost is int16 instead of int8 operands (which
 * WebAssembly's int8 GEMM uses anyway) and the transforms' arithmetic.
 * F(4x4): |V'| <= 12800 (int16) but lG = 24 makes |U'| <= 73152 (18 bits), and
 * the result 576 y itself exceeds int32 for 3x3 layers past 25 channels: exactness
 * needs int64 or a requantization of U or V, i.e. a scheme loss on top of int8's. F(6x6) is
 * worse (lB = 4, |V'| <= 460800). So int8 variants offer F(2x2) only.
 *
 * `winogradF2x2Int8Domain` computes what keeping V' in 8 bits (the trap) gives
 * instead, so its cost can be measured against the exact integer convolution.
 */
import type { ConvShape } from '../core/contracts.js';
import { convOutputSize } from './conv.js';
import { roundHalfEven } from './quant.js';
import type { Rational } from './rational.js';
import { defaultTransforms } from './winograd.js';

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a < 0n ? -a : a;
}

function lcmOfDenominators(m: Rational[][]): bigint {
  let l = 1n;
  for (const row of m) for (const v of row) l = (l / gcd(l, v.den)) * v.den;
  return l;
}

/** Sum of |entries| of each row of lcm * M (integers). */
function scaledRowSums(m: Rational[][], l: bigint): number[] {
  return m.map((row) => row.reduce((s, v) => s + Math.abs(Number((v.num * l) / v.den)), 0));
}

export interface WinogradIntegerBounds {
  m: number;
  alpha: number;
  /** lcm of BT's and of G's denominators. */
  lB: number;
  lG: number;
  /** Largest |V'| and |U'| (integers) and the bits they need, sign included. */
  maxV: number;
  maxU: number;
  bitsV: number;
  bitsU: number;
  /** Largest channel count for which M = sum_c U' V' fits int32. */
  maxChannelsInt32: number;
  /** (lB lG)^2: the integer result is this multiple of the convolution. */
  resultScale: number;
  /** Whether the transformed tensors fit int16 (WebAssembly's i32x4.dot_i16x8_s operands). */
  int16: boolean;
  /** Why the tile is (not) offered in int8, in a sentence. */
  verdict: string;
}

const bits = (v: number): number => Math.ceil(Math.log2(v + 1)) + 1;

/** The integer bounds of Winograd F(m x m, 3 x 3) on default points for activations within dMax (see the module doc). */
export function winogradIntegerBounds(m: number, dMax = 128, gMax = 127): WinogradIntegerBounds {
  const t = defaultTransforms(m, 3);
  const lB = lcmOfDenominators(t.BT);
  const lG = lcmOfDenominators(t.G);
  const rb = scaledRowSums(t.BT, lB);
  const rg = scaledRowSums(t.G, lG);
  let maxV = 0;
  let maxU = 0;
  let maxProd = 0;
  for (let i = 0; i < t.alpha; i++) {
    for (let j = 0; j < t.alpha; j++) {
      const v = rb[i]! * rb[j]! * dMax;
      const u = rg[i]! * rg[j]! * gMax;
      maxV = Math.max(maxV, v);
      maxU = Math.max(maxU, u);
      maxProd = Math.max(maxProd, u * v);
    }
  }
  const maxChannelsInt32 = Math.floor((2 ** 31 - 1) / maxProd);
  const int16 = maxV <= 32767 && maxU <= 32767;
  const resultScale = Number(lB * lG) ** 2;
  const verdict = int16
    ? `F(${m}x${m}): transformed inputs need ${bits(maxV)} bits and filters ${bits(maxU)}: int16 holds both, and int32 ` +
      `accumulation is exact up to ${maxChannelsInt32} channels, so the integer result is exact (${resultScale} y)`
    : `F(${m}x${m}): transformed inputs need ${bits(maxV)} bits and filters ${bits(maxU)} (int16 holds 16): ` +
      `exactness would need wider operands than int16 and more than int32 accumulation, ` +
      `so it cannot be offered in int8 without requantizing the transformed tensors`;
  return { m, alpha: t.alpha, lB: Number(lB), lG: Number(lG), maxV, maxU, bitsV: bits(maxV), bitsU: bits(maxU), maxChannelsInt32, resultScale, int16, verdict };
}

/**
 * Winograd F(2x2, 3x3) on quantized tensors (stride 1, groups 1, 3x3) with the
 * transformed input kept in 8 bits: V8 = clamp(rhe(V' / 4), -128, 127) (V' is
 * within +-512) and U' exact, then y ~ 4 * AT (sum U' V8) A / 4 (the 1/4 of U'
 * undone). Returns float64 values in accumulator units, to compare with
 * qconvRef's exact result: the accuracy the 8-bit-transform trap costs.
 */
export function winogradF2x2Int8Domain(shape: ConvShape, xq: ArrayLike<number>, xZero: number, wq: ArrayLike<number>): Float64Array {
  const { n, c, h, w: wd, k, r, s, stride, pad, groups } = shape;
  if (r !== 3 || s !== 3 || stride !== 1 || groups !== 1) throw new RangeError('winogradF2x2Int8Domain: needs a 3x3 stride-1 ungrouped conv');
  const { ho, wo } = convOutputSize(shape);
  const th = Math.ceil(ho / 2);
  const tw = Math.ceil(wo / 2);
  // U' = (2G) g (2G)^T per (k, c): 16 integers.
  const G2 = [
    [2, 0, 0],
    [1, 1, 1],
    [1, -1, 1],
    [0, 0, 2],
  ];
  const U = new Float64Array(k * c * 16);
  for (let kk = 0; kk < k; kk++) {
    for (let cc = 0; cc < c; cc++) {
      const g = (kk * c + cc) * 9;
      for (let i = 0; i < 4; i++) {
        for (let j = 0; j < 4; j++) {
          let u = 0;
          for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) u += G2[i]![a]! * wq[g + a * 3 + b]! * G2[j]![b]!;
          U[(kk * c + cc) * 16 + i * 4 + j] = u;
        }
      }
    }
  }
  const y = new Float64Array(n * k * ho * wo);
  const d = new Float64Array(16);
  const V = new Float64Array(c * 16);
  const M = new Float64Array(16);
  const at = (img: number, cc: number, ih: number, iw: number): number =>
    ih < 0 || ih >= h || iw < 0 || iw >= wd ? 0 : xq[((img * c + cc) * h + ih) * wd + iw]! - xZero;
  for (let img = 0; img < n; img++) {
    for (let ty = 0; ty < th; ty++) {
      for (let tx = 0; tx < tw; tx++) {
        for (let cc = 0; cc < c; cc++) {
          for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) d[i * 4 + j] = at(img, cc, 2 * ty - pad + i, 2 * tx - pad + j);
          // V' = BT d B with BT = [[1,0,-1,0],[0,1,1,0],[0,-1,1,0],[0,-1,0,1]].
          const tmp = new Float64Array(16);
          for (let j = 0; j < 4; j++) {
            const d0 = d[j]!,
              d1 = d[4 + j]!,
              d2 = d[8 + j]!,
              d3 = d[12 + j]!;
            tmp[j] = d0 - d2;
            tmp[4 + j] = d1 + d2;
            tmp[8 + j] = d2 - d1;
            tmp[12 + j] = d3 - d1;
          }
          for (let i = 0; i < 4; i++) {
            const t0 = tmp[i * 4]!,
              t1 = tmp[i * 4 + 1]!,
              t2 = tmp[i * 4 + 2]!,
              t3 = tmp[i * 4 + 3]!;
            const v = [t0 - t2, t1 + t2, t2 - t1, t3 - t1];
            for (let j = 0; j < 4; j++) V[cc * 16 + i * 4 + j] = Math.min(127, Math.max(-128, roundHalfEven(v[j]! / 4)));
          }
        }
        for (let kk = 0; kk < k; kk++) {
          M.fill(0);
          for (let cc = 0; cc < c; cc++) {
            const u = (kk * c + cc) * 16;
            for (let e = 0; e < 16; e++) M[e] = M[e]! + U[u + e]! * V[cc * 16 + e]!;
          }
          // Y = AT M A with AT = [[1,1,1,0],[0,1,-1,1]]: V8 ~ V' / 4 and U' = 4 U, so Y ~ y.
          for (let oy = 0; oy < 2; oy++) {
            for (let ox = 0; ox < 2; ox++) {
              const oh = 2 * ty + oy;
              const ow = 2 * tx + ox;
              if (oh >= ho || ow >= wo) continue;
              const rowAt = (i: number) => (ox === 0 ? M[i * 4]! + M[i * 4 + 1]! + M[i * 4 + 2]! : M[i * 4 + 1]! - M[i * 4 + 2]! + M[i * 4 + 3]!);
              const val = oy === 0 ? rowAt(0) + rowAt(1) + rowAt(2) : rowAt(1) - rowAt(2) + rowAt(3);
              y[((img * k + kk) * ho + oh) * wo + ow] = val;
            }
          }
        }
      }
    }
  }
  return y;
}
