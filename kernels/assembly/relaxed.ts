/**
 * int8 convolution by im2col + packed GEMM with the relaxed-SIMD dot product
 * i32x4.relaxed_dot_i8x16_i7x16_add_s (WebAssembly relaxed SIMD; Node 20 needs
 * --experimental-wasm-relaxed-simd). Each int32 lane adds the products of four
 * adjacent int8 pairs to its accumulator: 16 multiply-adds per instruction, no
 * widening to int16 (XNNPACK's "c4 wasmsdot" qs8 GEMMs).
 *
 * The fused instruction and its two-step form (i16x8.relaxed_dot_i8x16_i7x16_s,
 * then extadd_pairwise and add) agree by the specification; both are offered
 * (`fused`), as Node 20's V8 was seen to compute the fused one wrongly (see
 * suites/conv/variants/int8-relaxed.ts), which the kernel check reports.
 *
 * The instruction is exact only when every lane of its second operand ("i7")
 * lies in [0, 127]: a lane with its top bit set may be read as signed or as
 * unsigned (and the intermediate int16 sum may then saturate), as each engine
 * chooses. `order` says which tensor is the second operand: 0 the activations
 * (exact for non-negative int8 activations, e.g. after a ReLU), 1 the weights
 * (exact only for non-negative weights). The variant flags its results
 * non-portable when the data put set top bits in the second operand.
 *
 * Layouts (int8, no widening): A (weights) packed in prepare as MR-row panels
 * [KC slice][row panel][quad][MR][4]; B (im2col of the int8 input, zero point
 * 0) packed in the run as NR-column panels [quad][NR][4], one KC x NC block at
 * a time (the pair interleave of qgemm.ts, by fours); MR x NR = 4 x 8, per quad 2 loads of B, 4 splats of A, 8 dot-adds.
 * Partial sums over KC slices go to qgemm.ts's int32 block; its epilogue
 * requantizes or dequantizes (reference/quant.ts's arithmetic).
 */
import { MR, NR } from './gemm';
import { qepilogue, store_tile_i32 } from './qgemm';

const KC: i32 = 512;
const NC: i32 = 256;
const MC: i32 = 256;

// @ts-ignore: decorator
@inline function imin(a: i32, b: i32): i32 {
  return a < b ? a : b;
}

/** Bytes of the packed int8 weights: groups x (K/groups rounded up to MR) x (Kd rounded up to 4). */
export function rgemm_packed_a_bytes(k: i32, kd: i32, groups: i32): i32 {
  const kg = k / groups;
  return groups * (((kg + MR - 1) / MR) * MR) * ((kd + 3) & ~3);
}

/** Bytes of the workspace conv_im2col_rgemm needs: B block, int32 C block, an edge tile, a gather buffer. */
export function rgemm_workspace_bytes(k: i32, groups: i32): i32 {
  const kg = k / groups;
  const rows = imin(((kg + MR - 1) / MR) * MR, MC);
  return KC * NC + rows * NC * 4 + MR * NR * 4 + 64;
}

/** Packs int8 weights [groups][kg][kd] into MR-row panels of quads [g][slice][panel][quad][MR][4] (zero-padded). */
export function rpack_weights(w: usize, dst: usize, k: i32, kd: i32, groups: i32): void {
  const kg = k / groups;
  const mp = ((kg + MR - 1) / MR) * MR;
  let d = dst;
  for (let g = 0; g < groups; g++) {
    const wg = w + <usize>(g * kg * kd);
    for (let pc = 0; pc < kd; pc += KC) {
      const kc = imin(KC, kd - pc);
      for (let i = 0; i < mp; i += MR) {
        for (let p = 0; p < kc; p += 4) {
          for (let m = 0; m < MR; m++) {
            const row = i + m;
            for (let e = 0; e < 4; e++) {
              store<i8>(d, row < kg && p + e < kc ? load<i8>(wg + <usize>(row * kd + pc + p + e)) : 0);
              d++;
            }
          }
        }
      }
    }
  }
}

/**
 * acc + the dot products of (a, b), b the i7 operand (a and b swapped when `swap`):
 * fused, i32x4.relaxed_dot_i8x16_i7x16_add_s; else i16x8.relaxed_dot_i8x16_i7x16_s,
 * pairwise-widened and added (the same result by the specification).
 */
// @ts-ignore: decorator
@inline function rdot(a: v128, b: v128, acc: v128, swap: bool, fused: bool): v128 {
  if (fused) return swap ? i32x4.relaxed_dot_i8x16_i7x16_add_s(b, a, acc) : i32x4.relaxed_dot_i8x16_i7x16_add_s(a, b, acc);
  const d = swap ? i16x8.relaxed_dot_i8x16_i7x16_s(b, a) : i16x8.relaxed_dot_i8x16_i7x16_s(a, b);
  return i32x4.add(acc, i32x4.extadd_pairwise_i16x8_s(d));
}

// @ts-ignore: decorator
@inline function rukernel_body(kq: i32, a: usize, b: usize, c: usize, ldc: usize, accumulate: bool, swap: bool, fused: bool): void {
  let c00 = i32x4.splat(0), c01 = i32x4.splat(0);
  let c10 = i32x4.splat(0), c11 = i32x4.splat(0);
  let c20 = i32x4.splat(0), c21 = i32x4.splat(0);
  let c30 = i32x4.splat(0), c31 = i32x4.splat(0);
  const aEnd = a + (<usize>kq << 4);
  while (a < aEnd) {
    const b0 = v128.load(b);
    const b1 = v128.load(b, 16);
    let av = v128.load32_splat(a);
    c00 = rdot(av, b0, c00, swap, fused);
    c01 = rdot(av, b1, c01, swap, fused);
    av = v128.load32_splat(a, 4);
    c10 = rdot(av, b0, c10, swap, fused);
    c11 = rdot(av, b1, c11, swap, fused);
    av = v128.load32_splat(a, 8);
    c20 = rdot(av, b0, c20, swap, fused);
    c21 = rdot(av, b1, c21, swap, fused);
    av = v128.load32_splat(a, 12);
    c30 = rdot(av, b0, c30, swap, fused);
    c31 = rdot(av, b1, c31, swap, fused);
    a += 16;
    b += 32;
  }
  let r = c;
  if (accumulate) {
    c00 = i32x4.add(c00, v128.load(r)); c01 = i32x4.add(c01, v128.load(r, 16)); r += ldc;
    c10 = i32x4.add(c10, v128.load(r)); c11 = i32x4.add(c11, v128.load(r, 16)); r += ldc;
    c20 = i32x4.add(c20, v128.load(r)); c21 = i32x4.add(c21, v128.load(r, 16)); r += ldc;
    c30 = i32x4.add(c30, v128.load(r)); c31 = i32x4.add(c31, v128.load(r, 16));
    r = c;
  }
  v128.store(r, c00); v128.store(r, c01, 16); r += ldc;
  v128.store(r, c10); v128.store(r, c11, 16); r += ldc;
  v128.store(r, c20); v128.store(r, c21, 16); r += ldc;
  v128.store(r, c30); v128.store(r, c31, 16);
}

// The micro-kernel per operand order (x7: the activations are the i7 operand) and dot form (f: fused add, s: separate).
function rukernel_x7f(kq: i32, a: usize, b: usize, c: usize, ldc: usize, accumulate: bool): void {
  rukernel_body(kq, a, b, c, ldc, accumulate, false, true);
}
function rukernel_w7f(kq: i32, a: usize, b: usize, c: usize, ldc: usize, accumulate: bool): void {
  rukernel_body(kq, a, b, c, ldc, accumulate, true, true);
}
function rukernel_x7s(kq: i32, a: usize, b: usize, c: usize, ldc: usize, accumulate: bool): void {
  rukernel_body(kq, a, b, c, ldc, accumulate, false, false);
}
function rukernel_w7s(kq: i32, a: usize, b: usize, c: usize, ldc: usize, accumulate: bool): void {
  rukernel_body(kq, a, b, c, ldc, accumulate, true, false);
}

function rmacro_kernel(
  mc: i32, nc: i32, kcq: i32, ap: usize, bp: usize, c: usize, ldcb: usize, accumulate: bool, tile: usize, order: i32, fused: i32,
): void {
  const kq = kcq >> 2;
  for (let jr = 0; jr < nc; jr += NR) {
    const nr = imin(NR, nc - jr);
    const b = bp + <usize>(jr * kcq);
    for (let ir = 0; ir < mc; ir += MR) {
      const mr = imin(MR, mc - ir);
      const a = ap + <usize>(ir * kcq);
      const cp = c + <usize>ir * ldcb + (<usize>jr << 2);
      const full = mr == MR && nr == NR;
      const dst = full ? cp : tile;
      const ld = full ? ldcb : <usize>(NR << 2);
      const acc = full && accumulate;
      if (fused != 0) {
        if (order == 0) rukernel_x7f(kq, a, b, dst, ld, acc);
        else rukernel_w7f(kq, a, b, dst, ld, acc);
      } else if (order == 0) {
        rukernel_x7s(kq, a, b, dst, ld, acc);
      } else {
        rukernel_w7s(kq, a, b, dst, ld, acc);
      }
      if (!full) store_tile_i32(tile, cp, ldcb, mr, nr, accumulate);
    }
  }
}

/**
 * Eight bytes of one im2col row (tap (ihBase, iwBase)) for output positions
 * (oh, ow) onward, `cnt` of them, in the low half of a v128 (0 in the padding
 * and past cnt).
 */
// @ts-ignore: decorator
@inline function gather8b(
  xc: usize, ihBase: i32, iwBase: i32, oh: i32, ow: i32, cnt: i32, h: i32, wd: i32, stride: i32, wo: i32, tmp: usize,
): v128 {
  if (cnt == NR && ow + NR <= wo) {
    const ih = oh * stride + ihBase;
    if (<u32>ih >= <u32>h) return i32x4.splat(0);
    const iw0 = ow * stride + iwBase;
    const row = xc + <usize>(ih * wd);
    if (stride == 1 && iw0 >= 0 && iw0 + NR <= wd) return v128.load64_zero(row + <usize>iw0);
    for (let t = 0; t < NR; t++) {
      const iw = iw0 + t * stride;
      store<i8>(tmp + <usize>t, <u32>iw < <u32>wd ? load<i8>(row + <usize>iw) : 0);
    }
    return v128.load64_zero(tmp);
  }
  let oh2 = oh;
  let ow2 = ow;
  for (let t = 0; t < NR; t++) {
    let v: i8 = 0;
    if (t < cnt) {
      const ih = oh2 * stride + ihBase;
      const iw = ow2 * stride + iwBase;
      if (<u32>ih < <u32>h && <u32>iw < <u32>wd) v = load<i8>(xc + <usize>(ih * wd + iw));
      ow2++;
      if (ow2 == wo) {
        ow2 = 0;
        oh2++;
      }
    }
    store<i8>(tmp + <usize>t, v);
  }
  return v128.load64_zero(tmp);
}

/**
 * im2col into the packed int8 B layout: rows [pc, pc+kc), columns [jc, jc+nc)
 * of one image and group, as NR-column panels [quad][NR][4] (rows past kc and
 * columns past nc zero): four rows of 8 output positions at a time, interleaved
 * with two byte and two 16-bit shuffles.
 */
function rim2col_pack(
  xg: usize, dst: usize, h: i32, wd: i32, r: i32, s: i32, stride: i32, pad: i32, wo: i32,
  pc: i32, kc: i32, jc: i32, nc: i32, tmp: usize,
): void {
  const kcq = (kc + 3) & ~3;
  const rs = r * s;
  const hw = h * wd;
  const panelStride = <usize>(kcq * NR);
  const oh0 = jc / wo;
  const ow0 = jc - oh0 * wo;
  const zero = i32x4.splat(0);
  for (let p = 0; p < kcq; p += 4) {
    let d = dst + <usize>(p * NR);
    let oh = oh0;
    let ow = ow0;
    for (let j0 = 0; j0 < nc; j0 += NR) {
      const cnt = imin(NR, nc - j0);
      let r0 = zero, r1 = zero, r2 = zero, r3 = zero;
      for (let e = 0; e < 4; e++) {
        const row = pc + p + e;
        if (p + e >= kc) break;
        const cc = row / rs;
        const rem = row - cc * rs;
        const rr = rem / s;
        const ss = rem - rr * s;
        const v = gather8b(xg + <usize>(cc * hw), rr - pad, ss - pad, oh, ow, cnt, h, wd, stride, wo, tmp);
        if (e == 0) r0 = v;
        else if (e == 1) r1 = v;
        else if (e == 2) r2 = v;
        else r3 = v;
      }
      const r01 = i8x16.shuffle(r0, r1, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
      const r23 = i8x16.shuffle(r2, r3, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
      v128.store(d, i16x8.shuffle(r01, r23, 0, 8, 1, 9, 2, 10, 3, 11));
      v128.store(d, i16x8.shuffle(r01, r23, 4, 12, 5, 13, 6, 14, 7, 15), 16);
      ow += cnt;
      while (ow >= wo) {
        ow -= wo;
        oh++;
      }
      d += panelStride;
    }
  }
}

/**
 * int8 convolution with the relaxed dot product: x NCHW int8 (zero point 0),
 * wp packed by rpack_weights, y overwritten (mode 0 f32 with params[k] scales,
 * 1 / 2 int8 / uint8 requantized with multipliers params[k] and zero point
 * zpy), order 0 (activations as the i7 operand) or 1 (weights), fused 1
 * (i32x4.relaxed_dot_i8x16_i7x16_add_s) or 0 (i16x8.relaxed_dot_i8x16_i7x16_s +
 * extadd_pairwise + add); ws:
 * rgemm_workspace_bytes(k, groups) bytes, 16-byte aligned.
 */
export function conv_im2col_rgemm(
  x: usize, wp: usize, y: usize, ws: usize, params: usize, mode: i32, zpy: i32, order: i32, fused: i32,
  n: i32, c: i32, h: i32, wd: i32, k: i32, r: i32, s: i32, stride: i32, pad: i32, groups: i32,
): void {
  const ho = (h + 2 * pad - r) / stride + 1;
  const wo = (wd + 2 * pad - s) / stride + 1;
  const cg = c / groups;
  const kg = k / groups;
  const kd = cg * r * s;
  const kdq = (kd + 3) & ~3;
  const nn = ho * wo;
  const mp = ((kg + MR - 1) / MR) * MR;
  const esize: i32 = mode == 0 ? 4 : 1;
  const bbuf = ws;
  const cblock = bbuf + <usize>(KC * NC);
  const rows = imin(mp, MC);
  const tile = cblock + <usize>(rows * NC * 4);
  const tmp = tile + <usize>(MR * NR * 4);
  const ldcb = <usize>(NC * 4);
  for (let img = 0; img < n; img++) {
    for (let g = 0; g < groups; g++) {
      const xg = x + <usize>((img * c + g * cg) * h * wd);
      const ag = wp + <usize>(g * mp * kdq);
      const yg = y + <usize>(((img * k + g * kg) * nn) * esize);
      for (let jc = 0; jc < nn; jc += NC) {
        const nc = imin(NC, nn - jc);
        for (let ic = 0; ic < kg; ic += MC) {
          const mc = imin(MC, kg - ic);
          for (let pc = 0; pc < kd; pc += KC) {
            const kc = imin(KC, kd - pc);
            const kcq = (kc + 3) & ~3;
            rim2col_pack(xg, bbuf, h, wd, r, s, stride, pad, wo, pc, kc, jc, nc, tmp);
            rmacro_kernel(mc, nc, kcq, ag + <usize>(mp * pc + ic * kcq), bbuf, cblock, ldcb, pc > 0, tile, order, fused);
          }
          qepilogue(cblock, ldcb, mc, nc, yg + <usize>((ic * nn + jc) * esize), nn, g * kg + ic, params, mode, zpy);
        }
      }
    }
  }
}

/**
 * One relaxed dot product on the 16-byte vectors at a, b, c, to see what this
 * engine computes: fused 1: out (4 x int32) = i32x4.relaxed_dot_i8x16_i7x16_add_s(a, b, c);
 * fused 0: out (8 x int16) = i16x8.relaxed_dot_i8x16_i7x16_s(a, b).
 */
export function relaxed_dot_probe(a: usize, b: usize, c: usize, out: usize, fused: i32): void {
  const va = v128.load(a);
  const vb = v128.load(b);
  v128.store(out, fused != 0 ? i32x4.relaxed_dot_i8x16_i7x16_add_s(va, vb, v128.load(c)) : i16x8.relaxed_dot_i8x16_i7x16_s(va, vb));
}
