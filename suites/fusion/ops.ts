/**
 * Fused vs unfused pairs on the kernels (issue 15, docs/fusion.md): each `prepare*` allocates the tensors and
 * weights in the kernels' arena once and returns the two ways of computing the same graph, so a measurement
 * interleaves them and a test compares them.
 *
 * - conv + bias (+ residual) + ReLU / ReLU6: fused = fusion.conv_epi_f32 (the epilogue on each output tile);
 *   unfused = simd.conv_im2col_gemm_f32, then graph.wasm's passes (bias, add, relu): bit-identical.
 * - conv + batch norm (+ ReLU): fused = the conv with the BN folded into weights and bias (reference/bn-fold.ts)
 *   and the epilogue; unfused = the conv, then a per-channel scale-and-shift pass, then ReLU: not bit-identical.
 * - depthwise 3x3 + pointwise 1x1 (MobileNet v1 block, BN folded: bias + ReLU after each): fused =
 *   fusion.dwpw_f32 in bands of `rows` output rows; unfused = simd.conv_depthwise_f32 over the whole image,
 *   bias and ReLU passes, simd.conv_im2col_gemm_f32, bias and ReLU passes: bit-identical.
 * Payload-safe (no host-only imports).
 */
import type { F32Buffer, Kernels } from '../../kernels/index.js';
import { batchNormAffine, foldBatchNorm, type BatchNormParams } from '../../reference/bn-fold.js';

export type Activation = 'none' | 'relu' | 'relu6';
export const ACT_CODE: Record<Activation, number> = { none: 0, relu: 1, relu6: 2 };

/** A conv layer with its epilogue: NCHW input of one image. */
export interface ConvEpiSpec {
  c: number;
  h: number;
  w: number;
  k: number;
  r: number;
  stride: number;
  pad: number;
  act: Activation;
  residual: boolean;
}

export interface PreparedPair {
  /** The input buffer (and the residual's, when there is one): fill them before running. */
  x: F32Buffer;
  res: F32Buffer | null;
  fused(): void;
  unfused(): void;
  /** The outputs of the last fused() and unfused(). */
  yFused: F32Buffer;
  yUnfused: F32Buffer;
}

const need = <T>(m: T | null, who: string, why: string | undefined): T => {
  if (m === null) throw new Error(`${who} needs WebAssembly SIMD: ${why ?? 'not loaded'}`);
  return m;
};

export function convOut(h: number, r: number, stride: number, pad: number): number {
  const o = Math.floor((h + 2 * pad - r) / stride) + 1;
  if (o < 1) throw new Error(`a ${r}x${r} window with pad ${pad} does not fit a size-${h} input`);
  return o;
}

function checkLen(who: string, what: string, got: number, want: number): void {
  if (got !== want) throw new Error(`${who}: ${what} has ${got} floats, the layer needs ${want}`);
}

/** Runs the unfused element-wise passes on y (K planes of `inner`): bias, residual add, activation. */
function epiloguePasses(kern: Kernels, y: F32Buffer, k: number, inner: number, bias: F32Buffer | null, res: F32Buffer | null, act: Activation): void {
  const g = need(kern.graph, 'the unfused epilogue', kern.simdUnavailable);
  if (bias) g.scale_shift_f32(y.ptr, y.ptr, 0, bias.ptr, 1, k, inner, 0);
  if (res) g.add_f32(y.ptr, res.ptr, y.ptr, k * inner);
  if (act === 'relu') g.relu_f32(y.ptr, y.ptr, k * inner);
  else if (act === 'relu6') g.relu6_f32(y.ptr, y.ptr, k * inner);
}

/** Packs weights (K x C x R x R, groups 1) for the GEMM. */
function packed(kern: Kernels, w: ArrayLike<number>, k: number, kd: number, groups = 1): F32Buffer {
  const simd = kern.requireSimd('packing conv weights');
  const wb = kern.allocCopy(w);
  const wp = kern.alloc(simd.gemm_packed_a_floats(k, kd, groups));
  simd.pack_weights(wb.ptr, wp.ptr, k, kd, groups);
  return wp;
}

/** conv + bias (+ residual) + activation: weights K x C x R x R, bias K. */
export function prepareConvEpi(kern: Kernels, s: ConvEpiSpec, w: ArrayLike<number>, b: ArrayLike<number>): PreparedPair {
  const who = `conv+bias${s.residual ? '+add' : ''}+${s.act}`;
  const simd = kern.requireSimd(who);
  const fusion = need(kern.fusion, who, kern.simdUnavailable);
  const kd = s.c * s.r * s.r;
  checkLen(who, 'the weights', w.length, s.k * kd);
  checkLen(who, 'the bias', b.length, s.k);
  const ho = convOut(s.h, s.r, s.stride, s.pad);
  const wo = convOut(s.w, s.r, s.stride, s.pad);
  const wp = packed(kern, w, s.k, kd);
  const bias = kern.allocCopy(b);
  const x = kern.alloc(s.c * s.h * s.w);
  const res = s.residual ? kern.alloc(s.k * ho * wo) : null;
  const yFused = kern.alloc(s.k * ho * wo);
  const yUnfused = kern.alloc(s.k * ho * wo);
  const ws = kern.alloc(Math.max(fusion.conv_epi_workspace_floats(), simd.conv_im2col_gemm_workspace_floats()));
  const act = ACT_CODE[s.act];
  return {
    x,
    res,
    yFused,
    yUnfused,
    fused: () => fusion.conv_epi_f32(x.ptr, wp.ptr, yFused.ptr, ws.ptr, 1, s.c, s.h, s.w, s.k, s.r, s.r, s.stride, s.pad, 1, bias.ptr, res ? res.ptr : 0, act),
    unfused: () => {
      simd.conv_im2col_gemm_f32(x.ptr, wp.ptr, yUnfused.ptr, ws.ptr, 1, s.c, s.h, s.w, s.k, s.r, s.r, s.stride, s.pad, 1);
      epiloguePasses(kern, yUnfused, s.k, ho * wo, bias, res, s.act);
    },
  };
}

/** conv (no bias) + batch norm + activation: fused = BN folded into the weights and a bias; unfused = a separate BN pass. */
export function prepareConvBn(kern: Kernels, s: Omit<ConvEpiSpec, 'residual'>, w: ArrayLike<number>, bn: BatchNormParams): PreparedPair {
  const who = `conv+bn+${s.act}`;
  const simd = kern.requireSimd(who);
  const fusion = need(kern.fusion, who, kern.simdUnavailable);
  const graph = need(kern.graph, who, kern.simdUnavailable);
  const kd = s.c * s.r * s.r;
  checkLen(who, 'the weights', w.length, s.k * kd);
  const ho = convOut(s.h, s.r, s.stride, s.pad);
  const wo = convOut(s.w, s.r, s.stride, s.pad);
  const folded = foldBatchNorm(w, undefined, s.k, bn);
  const { a, t } = batchNormAffine(s.k, bn);
  const wpFolded = packed(kern, folded.w, s.k, kd);
  const bFolded = kern.allocCopy(folded.b);
  const wp = packed(kern, w, s.k, kd);
  const scale = kern.allocCopy(a);
  const shift = kern.allocCopy(t);
  const x = kern.alloc(s.c * s.h * s.w);
  const yFused = kern.alloc(s.k * ho * wo);
  const yUnfused = kern.alloc(s.k * ho * wo);
  const ws = kern.alloc(Math.max(fusion.conv_epi_workspace_floats(), simd.conv_im2col_gemm_workspace_floats()));
  const act = ACT_CODE[s.act];
  return {
    x,
    res: null,
    yFused,
    yUnfused,
    fused: () => fusion.conv_epi_f32(x.ptr, wpFolded.ptr, yFused.ptr, ws.ptr, 1, s.c, s.h, s.w, s.k, s.r, s.r, s.stride, s.pad, 1, bFolded.ptr, 0, act),
    unfused: () => {
      simd.conv_im2col_gemm_f32(x.ptr, wp.ptr, yUnfused.ptr, ws.ptr, 1, s.c, s.h, s.w, s.k, s.r, s.r, s.stride, s.pad, 1);
      graph.scale_shift_f32(yUnfused.ptr, yUnfused.ptr, scale.ptr, shift.ptr, 1, s.k, ho * wo, 1);
      epiloguePasses(kern, yUnfused, s.k, ho * wo, null, null, s.act);
    },
  };
}

/** A MobileNet v1 block (BN folded): depthwise 3x3 pad 1 (stride 1 or 2) + bias + act, pointwise 1x1 + bias + act. */
export interface DwPwSpec {
  c: number;
  h: number;
  w: number;
  k: number;
  stride: 1 | 2;
  act: Activation;
  /** Depthwise output rows per band (fused); >= the output height: one band. */
  rows: number;
}

export interface DwPwWeights {
  dw: ArrayLike<number>;
  dwBias: ArrayLike<number>;
  pw: ArrayLike<number>;
  pwBias: ArrayLike<number>;
}

/**
 * The band height whose working set (the band's bordered input, its depthwise output and the pointwise output
 * band) fits `cacheBytes`, at least one row.
 */
export function bandRows(s: Omit<DwPwSpec, 'rows'>, cacheBytes: number): number {
  const wo = convOut(s.w, 3, s.stride, 1);
  const ho = convOut(s.h, 3, s.stride, 1);
  const perRow = 4 * (s.c * s.stride * (s.w + 2) + s.c * wo + s.k * wo);
  return Math.max(1, Math.min(ho, Math.floor(cacheBytes / perRow)));
}

export function prepareDwPw(kern: Kernels, s: DwPwSpec, wts: DwPwWeights): PreparedPair & { setRows(rows: number): void } {
  const who = 'depthwise+pointwise';
  const simd = kern.requireSimd(who);
  const fusion = need(kern.fusion, who, kern.simdUnavailable);
  checkLen(who, 'the depthwise weights', wts.dw.length, s.c * 9);
  checkLen(who, 'the depthwise bias', wts.dwBias.length, s.c);
  checkLen(who, 'the pointwise weights', wts.pw.length, s.k * s.c);
  checkLen(who, 'the pointwise bias', wts.pwBias.length, s.k);
  if (!(Number.isInteger(s.rows) && s.rows >= 1)) throw new Error(`${who}: rows per band must be a positive integer, got ${s.rows}`);
  const ho = convOut(s.h, 3, s.stride, 1);
  const wo = convOut(s.w, 3, s.stride, 1);
  const dw = kern.allocCopy(wts.dw);
  const dwBias = kern.allocCopy(wts.dwBias);
  const pw = packed(kern, wts.pw, s.k, s.c);
  const pwBias = kern.allocCopy(wts.pwBias);
  const x = kern.alloc(s.c * s.h * s.w);
  const mid = kern.alloc(s.c * ho * wo);
  const yFused = kern.alloc(s.k * ho * wo);
  const yUnfused = kern.alloc(s.k * ho * wo);
  const dws = kern.alloc(simd.depthwise_workspace_floats(s.h, s.w, 3, 3, s.stride, 1));
  const gws = kern.alloc(simd.conv_im2col_gemm_workspace_floats());
  // The fused workspace for the tallest band (one band of the whole output).
  const fws = kern.alloc(fusion.dwpw_workspace_floats(s.c, s.h, s.w, s.stride, ho));
  let rows = s.rows;
  const act = ACT_CODE[s.act];
  return {
    x,
    res: null,
    yFused,
    yUnfused,
    setRows(r: number) {
      if (!(Number.isInteger(r) && r >= 1)) throw new Error(`${who}: rows per band must be a positive integer, got ${r}`);
      rows = r;
    },
    fused: () => fusion.dwpw_f32(x.ptr, dw.ptr, dwBias.ptr, act, pw.ptr, pwBias.ptr, act, yFused.ptr, fws.ptr, s.c, s.h, s.w, s.k, s.stride, rows),
    unfused: () => {
      simd.conv_depthwise_f32(x.ptr, dw.ptr, mid.ptr, dws.ptr, 1, s.c, s.h, s.w, 3, 3, s.stride, 1);
      epiloguePasses(kern, mid, s.c, ho * wo, dwBias, null, s.act);
      simd.conv_im2col_gemm_f32(mid.ptr, pw.ptr, yUnfused.ptr, gws.ptr, 1, s.c, ho, wo, s.k, 1, 1, 1, 0, 1);
      epiloguePasses(kern, yUnfused, s.k, ho * wo, pwBias, null, s.act);
    },
  };
}
