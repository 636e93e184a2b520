/**
 * conv3x3-winograd-f{4x4,6x6}-f16: fp16 storage of Winograd's transformed
 * tiles (kernels/assembly/winograd.ts conv_winograd_f16), arithmetic in f32
 * (WebAssembly has no fp16 arithmetic).
 *
 * - prepare (untimed): U = G g G^T in f32 (the f32 variant's filter
 *   transform), rounded to half (round to nearest even, f16.ts, bit-identical
 *   to reference/fp16.ts) into the same packed panel layout: U is stored, and
 *   streamed per block of tiles, at 2 bytes per element.
 * - run (timed): the f32 variant's padded copy and input transform; the
 *   block's V rounded to half and stored as halves; each of the alpha^2 GEMMs
 *   widens its U[xi] and V[xi] to f32 and runs the f32 micro-kernel; the f32
 *   output transform. Input and output stay f32.
 *
 * Kernel check (a kernel bug fails it): the same algorithm in float64 on the
 * half-rounded stored operands: U64 = half(G g G^T) and V64 = half(BT d B),
 * both transforms in float64 from the exact rational matrices, then M = sum_c
 * U64 V64 and Y = AT M A in float64 (halfWinogradRef). The kernel differs from
 * it by its f32 arithmetic (the f32 variant's error, under its declared budget,
 * <= 2e-5) and, mostly, by the operands whose f32 transform lies on the other
 * side of a half rounding boundary than the float64 one (one half ulp each):
 * measured relL2 2e-7 .. 1.7e-4 on the awkward shapes of
 * test/precision-kernels.test.ts. Tolerance: relL2 <= KERNEL_CHECK_UNITS x the
 * half unit roundoff 2^-11 (3.9e-4); a U stored one ulp toward zero (what
 * truncation instead of rounding to nearest costs at most) gives 8.9e-4 ..
 * 3.3e-3 there, one U element doubled 3.6e-3 .. 2.5: both fail. The margins
 * are ~2.3x each way: this check catches a kernel bug of the size of a
 * rounding mistake, not a one-ulp slip in a single element.
 * Scheme loss: the output against float64 on the original floats, where
 * budgets and --gate apply (Accuracy.schemeLoss).
 */
import type { AccuracyCheck, ConvShape, ConvVariant, KernelContext, Prepared } from '../../../core/contracts.js';
import { encodeFloat } from '../../../core/contracts.js';
import { GEMM_TILE, type WinogradKernels } from '../../../kernels/index.js';
import { convOutputSize } from '../../../reference/conv.js';
import { convElements } from '../../../reference/cost.js';
import { F16_UNIT_ROUNDOFF, roundF16 } from '../../../reference/fp16.js';
import { DEFAULT_POINTS, defaultPointsKey, cookToom, toF32, toF64 } from '../../../reference/winograd.js';
import { convVariant, disposedTo } from '../variant.js';
import { tileBlock, winogradF4x4, winogradF6x6 } from './winograd.js';

const R = 3;
/** The kernel check's relL2 tolerance, in units of the half unit roundoff 2^-11 (see the module doc). */
export const KERNEL_CHECK_UNITS = 0.8;

export interface HalfWinogradOptions {
  /** Test-only fault injection: alters the stored half U (bits, packed layout) after prepare. */
  corruptU?: (u16: Uint16Array) => void;
}

/**
 * float64 Winograd F(m x m, 3 x 3) with U and V rounded to half (round to nearest even), everything else
 * in float64: the kernel check's reference of conv_winograd_f16 (NKHW output).
 */
export function halfWinogradRef(shape: ConvShape, x: ArrayLike<number>, w: ArrayLike<number>, m: number): Float64Array {
  const t = toF64(cookToom(m, R, DEFAULT_POINTS[defaultPointsKey(m, R)]!));
  const a = t.alpha;
  const a2 = a * a;
  const { n, c, h, w: wd, k, pad } = shape;
  const { ho, wo } = convOutputSize(shape);
  const G = t.G.data,
    BT = t.BT.data,
    AT = t.AT.data;
  // U[k][c][xi] = half(G g G^T).
  const U = new Float64Array(k * c * a2);
  const gg = new Float64Array(a * R);
  for (let kk = 0; kk < k; kk++) {
    for (let cc = 0; cc < c; cc++) {
      const g = (kk * c + cc) * R * R;
      for (let i = 0; i < a; i++)
        for (let j = 0; j < R; j++) {
          let s = 0;
          for (let l = 0; l < R; l++) s += G[i * R + l]! * Number(w[g + l * R + j]);
          gg[i * R + j] = s;
        }
      const base = (kk * c + cc) * a2;
      for (let i = 0; i < a; i++)
        for (let j = 0; j < a; j++) {
          let s = 0;
          for (let l = 0; l < R; l++) s += gg[i * R + l]! * G[j * R + l]!;
          U[base + i * a + j] = roundF16(s);
        }
    }
  }
  const y = new Float64Array(n * k * ho * wo);
  const d = new Float64Array(a2);
  const e = new Float64Array(a2);
  const V = new Float64Array(c * a2);
  const M = new Float64Array(a2);
  const am = new Float64Array(m * a);
  for (let img = 0; img < n; img++) {
    for (let ty = 0; ty * m < ho; ty++) {
      for (let tx = 0; tx * m < wo; tx++) {
        for (let cc = 0; cc < c; cc++) {
          for (let i = 0; i < a; i++)
            for (let j = 0; j < a; j++) {
              const r = ty * m + i - pad,
                q = tx * m + j - pad;
              d[i * a + j] = r >= 0 && r < h && q >= 0 && q < wd ? Number(x[((img * c + cc) * h + r) * wd + q]) : 0;
            }
          for (let i = 0; i < a; i++)
            for (let j = 0; j < a; j++) {
              let s = 0;
              for (let l = 0; l < a; l++) s += BT[i * a + l]! * d[l * a + j]!;
              e[i * a + j] = s;
            }
          for (let i = 0; i < a; i++)
            for (let j = 0; j < a; j++) {
              let s = 0;
              for (let l = 0; l < a; l++) s += e[i * a + l]! * BT[j * a + l]!;
              V[cc * a2 + i * a + j] = roundF16(s);
            }
        }
        for (let kk = 0; kk < k; kk++) {
          M.fill(0);
          for (let cc = 0; cc < c; cc++) {
            const ub = (kk * c + cc) * a2,
              vb = cc * a2;
            for (let xi = 0; xi < a2; xi++) M[xi] = M[xi]! + U[ub + xi]! * V[vb + xi]!;
          }
          for (let i = 0; i < m; i++)
            for (let j = 0; j < a; j++) {
              let s = 0;
              for (let l = 0; l < a; l++) s += AT[i * a + l]! * M[l * a + j]!;
              am[i * a + j] = s;
            }
          for (let i = 0; i < m && ty * m + i < ho; i++) {
            for (let j = 0; j < m && tx * m + j < wo; j++) {
              let s = 0;
              for (let l = 0; l < a; l++) s += am[i * a + l]! * AT[j * a + l]!;
              y[((img * k + kk) * ho + ty * m + i) * wo + tx * m + j] = s;
            }
          }
        }
      }
    }
  }
  return y;
}

/** The kernel check: relL2 of the output against halfWinogradRef, at most `limit`. */
export function halfWinogradCheck(got: ArrayLike<number>, ref: Float64Array, limit: number): AccuracyCheck {
  let num = 0,
    den = 0;
  for (let i = 0; i < ref.length; i++) {
    const diff = Number(got[i]) - ref[i]!;
    num += diff * diff;
    den += ref[i]! * ref[i]!;
  }
  const rel = got.length !== ref.length ? Infinity : den > 0 ? Math.sqrt(num / den) : Math.sqrt(num);
  const ok = rel <= limit;
  return {
    name: 'kernel: error norm',
    ok,
    value: encodeFloat(rel),
    limit,
    detail:
      `relL2 ${Number.isFinite(rel) ? rel.toExponential(2) : String(rel)} vs ${limit.toExponential(2)} against the same Winograd ` +
      'algorithm in float64 on the half-rounded U and V',
  };
}

/** The fp16-storage Winograd F(m x m, 3 x 3) variant (m = 4 or 6: the default points' tiles). */
export function halfWinogradVariant(m: 4 | 6, options: HalfWinogradOptions = {}): ConvVariant {
  const base = m === 4 ? winogradF4x4 : winogradF6x6;
  const name = `conv3x3-winograd-f${m}x${m}-f16`;
  const alpha = m + R - 1;
  const tf = toF32(cookToom(m, R, DEFAULT_POINTS[defaultPointsKey(m, R)]!));
  const limit = KERNEL_CHECK_UNITS * F16_UNIT_ROUNDOFF;
  const uBytes = (s: ConvShape) => alpha * alpha * Math.ceil(s.k / GEMM_TILE.mr) * GEMM_TILE.mr * s.c * 2;
  return convVariant({
    name,
    algorithm: 'winograd-fp16',
    description:
      `fp16 storage, Winograd F(${m}x${m},3x3): transformed weights U (made in prepare) and input tiles V stored as IEEE half, ` +
      `widened to f32 in each of the ${alpha * alpha} batched GEMMs; arithmetic in f32, input and output f32.`,
    needs: { wasmSimd: true },
    cannot: (shape) => {
      const a = base.applies(shape);
      return a === true ? null : a;
    },
    // Input and output at f32; the weights as the half U the kernel streams (alpha^2 / 9 times the weights).
    bytes: (s) => {
      const e = convElements(s);
      return (e.input + e.output) * 4 + uBytes(s);
    },
    executedFlops: (s) => base.executedFlops!(s),
    info: () => ({
      scheme: 'fp16',
      stored: 'U and V as half, arithmetic f32',
      rounding: 'round half to even (reference/fp16.ts)',
      kernelCheck: `relL2 <= ${limit.toExponential(2)} vs float64 Winograd on half-rounded U and V`,
    }),
    accuracy: { kind: 'scheme', scheme: { kind: 'fp16-storage' } },
    prepare(ctx: KernelContext, shape: ConvShape, x: Float32Array, w: Float32Array): Prepared {
      const kern = ctx.kernels;
      kern.requireSimd(name);
      const wg: WinogradKernels | null = kern.winograd;
      if (wg === null) throw new Error(`${name} needs winograd.wasm (WebAssembly SIMD): not loaded`);
      const { n, c, h, w: wd, k, pad } = shape;
      const { ho, wo } = convOutputSize(shape);
      const pb = tileBlock(shape, m);
      const mark = kern.mark();
      const uFloats = wg.winograd_packed_u_floats(k, c, alpha);
      const u16 = kern.allocBytes(uFloats * 2);
      const rawMark = kern.mark();
      const u32 = kern.alloc(uFloats);
      const wRaw = kern.allocCopy(w);
      const g = kern.allocCopy(tf.G.data);
      const scratch = kern.alloc(alpha * R);
      wg.winograd_filter_transform(wRaw.ptr, g.ptr, u32.ptr, scratch.ptr, k, c, m, alpha);
      wg.f32_to_f16(u32.ptr, u16.ptr, uFloats);
      kern.release(rawMark);
      if (options.corruptU) options.corruptU(new Uint16Array(kern.memory.buffer as ArrayBuffer, u16.ptr, uFloats));
      const bt = kern.allocCopy(tf.BT.data);
      const at = kern.allocCopy(tf.AT.data);
      const wsFloats = wg.winograd_workspace_floats(n, c, h, wd, k, pad, m, alpha, pb);
      const ws = kern.alloc(wsFloats);
      const hsBytes = wg.winograd_f16_scratch_bytes(k, c, alpha, pb);
      const hs = kern.allocBytes(hsBytes);
      const special = wg.winograd_prepare(bt.ptr, at.ptr, m, alpha, ws.ptr, 1) === 1;
      const xb = kern.allocCopy(x);
      const yb = kern.alloc(n * k * ho * wo);
      const conv = wg.conv_winograd_f16;
      let ref: Float64Array | undefined;
      const output = () => Float32Array.from(yb.view());
      return disposedTo(kern, mark, {
        run(): void {
          if (conv(xb.ptr, u16.ptr, yb.ptr, ws.ptr, hs.ptr, n, c, h, wd, k, pad, m, alpha, pb) < 0) {
            throw new Error(`${name}: the kernel's workspace was not prepared for F(${m}x${m}) (winograd_prepare)`);
          }
        },
        output,
        kernelCheck: () => [halfWinogradCheck(output(), (ref ??= halfWinogradRef(shape, x, w, m)), limit)],
        preparedBytes: uFloats * 2,
        prepareNote:
          `filter transform U = G g G^T in f32, stored as half (${uFloats * 2} bytes, packed as ${alpha * alpha} ` +
          `${GEMM_TILE.mr}-row panel matrices); ${special ? 'specialised' : 'generic'} transforms; ${pb} tiles per block; ` +
          `half scratch ${hsBytes} bytes (one widened U[xi], the block's V as halves)`,
      });
    },
  });
}

/** Winograd F(4x4, 3x3) with fp16-stored U and V. */
export const winogradF4x4F16: ConvVariant = halfWinogradVariant(4);
/** Winograd F(6x6, 3x3) with fp16-stored U and V. */
export const winogradF6x6F16: ConvVariant = halfWinogradVariant(6);
