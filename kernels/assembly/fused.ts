/**
 * Fused convolutions (WebAssembly SIMD): the memory side of the roofline (issue 15, docs/fusion.md).
 *
 * 1. conv_epi_f32: the im2col + packed GEMM of gemm.ts with an epilogue applied to each MR x NR output tile
 *    right after the micro-kernel stored it on the last reduction slice (the tile is in L1): per output
 *    channel bias, optional residual add, then ReLU / ReLU6. Order per element: ((acc + bias) + residual),
 *    then the activation: the order the separate passes of graph.wasm use (scale_shift_f32 with scale 0,
 *    add_f32, relu_f32 / relu6_f32), so fused and unfused outputs are bit-identical. The output may be
 *    written with a row stride (ldy) and the residual has its own (ldr): the dw+pw block writes a band of
 *    columns of its output.
 * 2. dwpw_f32: depthwise 3x3 (pad 1, stride 1 or 2) + bias + activation, then pointwise 1x1 GEMM + bias
 *    + activation (a MobileNet v1 block), computed band by band: a band of output rows of the depthwise
 *    layer (all channels) is produced into a buffer sized for the cache and consumed at once by the
 *    pointwise GEMM, so the depthwise output never goes to memory whole. Each band's input rows are copied
 *    into a zero-bordered buffer and depthwise.ts runs on it with pad 0: the same arithmetic as the layer
 *    kernel with pad 1 (bit-identical, tested).
 *
 * All pointers are byte offsets into the shared memory; the weights are packed by simd.wasm's pack_weights.
 */
import { MR, NR, KC, NC, MC, macro_kernel, im2col_pack } from './gemm';
import { conv_depthwise_f32, depthwise_workspace_floats } from './depthwise';

// @ts-ignore: decorator
@inline function imin(a: i32, b: i32): i32 {
  return a < b ? a : b;
}

/** The activation: 0 none, 1 ReLU, 2 ReLU6. */
// @ts-ignore: decorator
@inline function act4(v: v128, act: i32): v128 {
  if (act == 0) return v;
  const m = f32x4.max(v, f32x4.splat(0));
  return act == 2 ? f32x4.min(m, f32x4.splat(6)) : m;
}

// @ts-ignore: decorator
@inline function act1(v: f32, act: i32): f32 {
  if (act == 0) return v;
  const m = max<f32>(v, 0);
  return act == 2 ? min<f32>(m, 6) : m;
}

/**
 * The epilogue on mr x nr elements at c (row stride ldc bytes): rows are output channels ch0.., bias[ch]
 * (bias 0: none), then + residual (res 0: none; row stride ldr bytes), then the activation.
 */
function epilogue(c: usize, ldc: usize, mr: i32, nr: i32, bias: usize, ch0: i32, res: usize, ldr: usize, act: i32): void {
  for (let i = 0; i < mr; i++) {
    const row = c + <usize>i * ldc;
    const rrow = res + <usize>i * ldr;
    const bv: f32 = bias ? load<f32>(bias + (<usize>(ch0 + i) << 2)) : 0;
    const b4 = f32x4.splat(bv);
    let j = 0;
    for (; j + 4 <= nr; j += 4) {
      const o = <usize>j << 2;
      let v = v128.load(row + o);
      if (bias) v = f32x4.add(v, b4);
      if (res) v = f32x4.add(v, v128.load(rrow + o));
      v128.store(row + o, act4(v, act));
    }
    for (; j < nr; j++) {
      const o = <usize>j << 2;
      let v = load<f32>(row + o);
      if (bias) v = v + bv;
      if (res) v = v + load<f32>(rrow + o);
      store<f32>(row + o, act1(v, act));
    }
  }
}

/**
 * macro_kernel of gemm.ts one NR-column panel at a time, plus, on the reduction's last slice, the epilogue on
 * that mc x NR strip right after the micro-kernels stored it (MC * NR floats: in L1).
 */
function macro_kernel_epi(
  mc: i32, nc: i32, kc: i32, ap: usize, bp: usize, c: usize, ldcf: i32, accumulate: bool, tile: usize,
  last: bool, bias: usize, ch0: i32, res: usize, ldrf: i32, act: i32,
): void {
  for (let jr = 0; jr < nc; jr += NR) {
    const nr = imin(NR, nc - jr);
    const cp = c + (<usize>jr << 2);
    macro_kernel(mc, nr, kc, ap, bp + (<usize>(jr * kc) << 2), cp, ldcf, accumulate, tile);
    if (last) epilogue(cp, <usize>ldcf << 2, mc, nr, bias, ch0, res ? res + (<usize>jr << 2) : 0, <usize>ldrf << 2, act);
  }
}

/** Floats of the workspace conv_epi_f32 needs (the same as conv_im2col_gemm_f32's). */
export function conv_epi_workspace_floats(): i32 {
  return KC * NC + MR * NR;
}

/**
 * One image and group: y[kg x (ho*wo)] (row stride ldy floats) = A * im2col(xg), then the epilogue.
 * ag: this group's packed weights; bias at this group's first channel (0: none); res (row stride ldr) or 0.
 */
function conv_epi_group(
  xg: usize, ag: usize, y: usize, ldy: i32, ws: usize,
  h: i32, wd: i32, kg: i32, kd: i32, r: i32, s: i32, stride: i32, pad: i32, ho: i32, wo: i32,
  bias: usize, res: usize, ldr: i32, act: i32,
): void {
  const nn = ho * wo;
  const mp = ((kg + MR - 1) / MR) * MR;
  const tile = ws;
  const bbuf = ws + (<usize>(MR * NR) << 2);
  for (let jc = 0; jc < nn; jc += NC) {
    const nc = imin(NC, nn - jc);
    for (let pc = 0; pc < kd; pc += KC) {
      const kc = imin(KC, kd - pc);
      im2col_pack<f32>(xg, bbuf, h, wd, r, s, stride, pad, wo, pc, kc, jc, nc);
      const last = pc + kc >= kd;
      for (let ic = 0; ic < kg; ic += MC) {
        const mc = imin(MC, kg - ic);
        macro_kernel_epi(
          mc, nc, kc,
          ag + (<usize>(mp * pc + ic * kc) << 2),
          bbuf,
          y + (<usize>(ic * ldy + jc) << 2),
          ldy, pc > 0, tile,
          last, bias, ic, res ? res + (<usize>(ic * ldr + jc) << 2) : 0, ldr, act,
        );
      }
    }
  }
}

/**
 * Convolution with a fused epilogue: x NCHW, wp packed by pack_weights, y NKHW (overwritten), ws:
 * conv_epi_workspace_floats() floats. bias: k floats or 0; res: a tensor shaped like y or 0; act: 0 none,
 * 1 ReLU, 2 ReLU6. y = act(conv(x) + bias + res), in that order.
 */
export function conv_epi_f32(
  x: usize, wp: usize, y: usize, ws: usize,
  n: i32, c: i32, h: i32, wd: i32, k: i32, r: i32, s: i32, stride: i32, pad: i32, groups: i32,
  bias: usize, res: usize, act: i32,
): void {
  const ho = (h + 2 * pad - r) / stride + 1;
  const wo = (wd + 2 * pad - s) / stride + 1;
  const cg = c / groups;
  const kg = k / groups;
  const kd = cg * r * s;
  const nn = ho * wo;
  const mp = ((kg + MR - 1) / MR) * MR;
  for (let img = 0; img < n; img++) {
    for (let g = 0; g < groups; g++) {
      const xg = x + (<usize>((img * c + g * cg) * h * wd) << 2);
      const off = <usize>((img * k + g * kg) * nn) << 2;
      conv_epi_group(
        xg, wp + (<usize>(g * mp * kd) << 2), y + off, nn, ws, h, wd, kg, kd, r, s, stride, pad, ho, wo,
        bias ? bias + (<usize>(g * kg) << 2) : 0, res ? res + off : 0, nn, act,
      );
    }
  }
}

/** Rounds a float count up to 16 floats (64 bytes). */
// @ts-ignore: decorator
@inline function r4(v: i32): i32 {
  return (v + 15) & ~15;
}

/** Input rows a band of `rows` depthwise output rows needs (3x3, pad 1), border included. */
// @ts-ignore: decorator
@inline function band_in_rows(rows: i32, stride: i32): i32 {
  return (rows - 1) * stride + 3;
}

/** Floats of the workspace dwpw_f32 needs for bands of `rows` output rows. */
export function dwpw_workspace_floats(c: i32, h: i32, wd: i32, stride: i32, rows: i32): i32 {
  const wo = (wd - 1) / stride + 1;
  const hin = band_in_rows(rows, stride);
  const bandIn = c * hin * (wd + 2);
  const bandOut = c * rows * wo;
  const dws = depthwise_workspace_floats(hin, wd + 2, 3, 3, stride, 0);
  return r4(bandIn) + r4(bandOut) + r4(dws) + conv_epi_workspace_floats();
}

/**
 * MobileNet v1 block, fused: x C x H x W (one image); dw: C x 3 x 3 depthwise weights, dwBias (C floats or 0),
 * dwAct; pw: K x C pointwise weights packed by pack_weights (groups 1), pwBias (K or 0), pwAct; y K x Ho x Wo.
 * `rows` output rows per band (the last band may be smaller; rows >= Ho: one band, i.e. the layers one after
 * the other with the same kernels); ws: dwpw_workspace_floats(c, h, wd, stride, rows) floats.
 */
export function dwpw_f32(
  x: usize, dw: usize, dwBias: usize, dwAct: i32, pw: usize, pwBias: usize, pwAct: i32, y: usize, ws: usize,
  c: i32, h: i32, wd: i32, k: i32, stride: i32, rows: i32,
): void {
  const ho = (h - 1) / stride + 1;
  const wo = (wd - 1) / stride + 1;
  if (rows > ho) rows = ho;
  const hin = band_in_rows(rows, stride);
  const wp2 = wd + 2;
  const bandIn = ws;
  const bandOut = bandIn + (<usize>r4(c * hin * wp2) << 2);
  const dws = bandOut + (<usize>r4(c * rows * wo) << 2);
  const gws = dws + (<usize>r4(depthwise_workspace_floats(hin, wp2, 3, 3, stride, 0)) << 2);
  const nn = ho * wo;
  for (let r0 = 0; r0 < ho; r0 += rows) {
    const rb = imin(rows, ho - r0);
    const inRows = band_in_rows(rb, stride);
    const top = r0 * stride - 1; // the band's first input row (global; -1 is the top border)
    const plane = <usize>(inRows * wp2) << 2;
    // The band's input with a zero border: rows outside the image and columns -1 and wd are zero.
    for (let ch = 0; ch < c; ch++) {
      const dst = bandIn + <usize>ch * plane;
      const src = x + (<usize>(ch * h * wd) << 2);
      for (let i = 0; i < inRows; i++) {
        const gr = top + i;
        const d = dst + (<usize>(i * wp2) << 2);
        if (<u32>gr >= <u32>h) {
          memory.fill(d, 0, <usize>wp2 << 2);
        } else {
          store<f32>(d, 0);
          memory.copy(d + 4, src + (<usize>(gr * wd) << 2), <usize>wd << 2);
          store<f32>(d + (<usize>(wd + 1) << 2), 0);
        }
      }
    }
    conv_depthwise_f32(bandIn, dw, bandOut, dws, 1, c, inRows, wp2, 3, 3, stride, 0);
    const bn = rb * wo;
    if (dwBias || dwAct) epilogue(bandOut, <usize>bn << 2, c, bn, dwBias, 0, 0, 0, dwAct);
    // Pointwise GEMM on the band (a 1 x 1 conv of the rb x wo band), written into columns [r0*wo, ..) of y.
    conv_epi_group(bandOut, pw, y + (<usize>(r0 * wo) << 2), nn, gws, rb, wo, k, c, 1, 1, 1, 0, rb, wo, pwBias, 0, 0, pwAct);
  }
}
