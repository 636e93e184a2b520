/**
 * fp16-storage convolution by im2col + packed GEMM: input, weights and output
 * stored as IEEE half (u16), arithmetic in f32 (WebAssembly has no fp16
 * arithmetic), so the memory traffic of every tensor is halved.
 *
 * The f32 kernel (gemm.ts) with the conversions at the edges of its blocking:
 * - A (weights): packed once, in prepare, into gemm.ts's MR-row panels as
 *   halves (hpack_weights); in the run each MC x KC block is converted to f32
 *   into the workspace before the micro-kernels use it (one conversion per
 *   weight per NC block of outputs);
 * - B: gemm.ts's im2col_pack reading halves (im2col_pack<u16>), converting as
 *   it packs the f32 panels;
 * - C: the same 4x8 f32x4 micro-kernel (mul + add) accumulates into an f32
 *   block (K/groups x NC) across the KC slices; after the last slice the block
 *   is rounded to half (nearest, ties to even) into the output.
 * Every product and sum is the f32 kernel's, on the half-rounded inputs: the
 * result is what an exact fp32 algorithm gives on those inputs, rounded once to
 * half. Conversions: f16.ts.
 */
import { KC, MC, MR, NC, NR, im2col_pack, macro_kernel, pack_panels } from './gemm';
import { f16_to_f32, f32_to_f16 } from './f16';

// @ts-ignore: decorator
@inline function imin(a: i32, b: i32): i32 {
  return a < b ? a : b;
}

/** Bytes of the packed half weights: groups x (K/groups rounded up to MR) x Kd halves. */
export function hgemm_packed_a_bytes(k: i32, kd: i32, groups: i32): i32 {
  const kg = k / groups;
  return groups * (((kg + MR - 1) / MR) * MR) * kd * 2;
}

/** Bytes of the workspace conv_im2col_hgemm needs: f32 A block, B block and C block, an edge tile. */
export function hgemm_workspace_bytes(k: i32, groups: i32): i32 {
  const kg = k / groups;
  const rows = imin(((kg + MR - 1) / MR) * MR, MC);
  return (rows * KC + KC * NC + rows * NC + MR * NR) * 4;
}

/** Packs half weights [groups][kg][kd] into gemm.ts's MR-row panel layout (pack_weights), as halves. */
export function hpack_weights(w: usize, dst: usize, k: i32, kd: i32, groups: i32): void {
  pack_panels<u16>(w, dst, k, kd, groups);
}

/** rows x nc f32 (row stride ldc floats) rounded to halves into y (row stride ldy halves). */
function block_to_f16(c: usize, ldc: i32, rows: i32, nc: i32, y: usize, ldy: i32): void {
  for (let i = 0; i < rows; i++) f32_to_f16(c + (<usize>(i * ldc) << 2), y + (<usize>(i * ldy) << 1), nc);
}

/**
 * fp16-storage convolution: x NCHW halves, wp packed by hpack_weights, y
 * N K Ho Wo halves (fully overwritten); ws: hgemm_workspace_bytes(k, groups)
 * bytes, 16-byte aligned.
 */
export function conv_im2col_hgemm(
  x: usize, wp: usize, y: usize, ws: usize,
  n: i32, c: i32, h: i32, wd: i32, k: i32, r: i32, s: i32, stride: i32, pad: i32, groups: i32,
): void {
  const ho = (h + 2 * pad - r) / stride + 1;
  const wo = (wd + 2 * pad - s) / stride + 1;
  const cg = c / groups;
  const kg = k / groups;
  const kd = cg * r * s;
  const nn = ho * wo;
  const mp = ((kg + MR - 1) / MR) * MR;
  const rows = imin(mp, MC);
  const ablk = ws;
  const bbuf = ablk + (<usize>(rows * KC) << 2);
  const cblk = bbuf + (<usize>(KC * NC) << 2);
  const tile = cblk + (<usize>(rows * NC) << 2);
  for (let img = 0; img < n; img++) {
    for (let g = 0; g < groups; g++) {
      const xg = x + (<usize>((img * c + g * cg) * h * wd) << 1);
      const yg = y + (<usize>((img * k + g * kg) * nn) << 1);
      const ag = wp + (<usize>(g * mp * kd) << 1);
      for (let jc = 0; jc < nn; jc += NC) {
        const nc = imin(NC, nn - jc);
        for (let ic = 0; ic < kg; ic += MC) {
          const mc = imin(MC, kg - ic);
          const mcp = ((mc + MR - 1) / MR) * MR;
          for (let pc = 0; pc < kd; pc += KC) {
            const kc = imin(KC, kd - pc);
            im2col_pack<u16>(xg, bbuf, h, wd, r, s, stride, pad, wo, pc, kc, jc, nc);
            // The block's panels are contiguous in the packed layout: rows [ic, ic + mcp) of slice pc.
            f16_to_f32(ag + (<usize>(mp * pc + ic * kc) << 1), ablk, mcp * kc);
            macro_kernel(mc, nc, kc, ablk, bbuf, cblk, NC, pc > 0, tile);
          }
          block_to_f16(cblk, NC, mc, nc, yg + (<usize>(ic * nn + jc) << 1), nn);
        }
      }
    }
  }
}
