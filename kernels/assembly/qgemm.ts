/**
 * int8 convolution by im2col + packed GEMM (WebAssembly SIMD), int32
 * accumulation, requantized (int8 / uint8) or dequantized (f32) output.
 *
 * Per image and group: C[M x N] = W[M x Kd] * B[Kd x N] with the same roles as
 * gemm.ts (M = K/groups output channels, Kd = C/groups * R * S, N = Ho * Wo),
 * the operands widened to int16 and multiplied with i32x4.dot_i16x8_s, which
 * sums the products of two adjacent int16 lanes into one int32 lane. The
 * reduction is therefore walked in pairs (k, k+1), as XNNPACK's wasmsimd
 * "c2 dot16x2" qs8 GEMMs do:
 *   A (weights, int8 in [-127, 127]) is widened and packed once, in prepare,
 *     as MR-row panels [pair][MR][2] int16: one v128.load32_splat broadcasts
 *     the pair (w[m][k], w[m][k+1]) to all four int32 lanes;
 *   B (im2col of the int8 / uint8 input, minus its zero point, so zero
 *     padding is the real value 0) is packed in the timed run, one KC x NC
 *     block at a time, as NR-column panels [pair][NR][2] int16: two v128 hold
 *     the pairs of 8 output positions;
 *   the MR x NR = 4 x 8 micro-kernel does per pair 2 loads of B, 4 splats of
 *     A and 8 dot + 8 add into 8 int32x4 accumulators (12 registers, as the
 *     f32 kernel).
 * int8 x int8 products and their pair sums need at most 16 + 1 bits and the
 * int32 sums are exact up to int8ReductionLimit (reference/quant.ts): the
 * result equals the exact integer reference bit for bit.
 * -128 (int8 input) and 255 - zero point (uint8) widen exactly; a weight of
 * -128 never occurs (the scheme's range is [-127, 127]) but would be exact too.
 *
 * Blocking: for each NC block of output positions, for each KC slice of the
 * reduction (pack B), for each MC block of rows, the micro-kernel adds into an
 * int32 block of the workspace (MC x NC); after the last slice one epilogue pass
 * turns the block into the output (each output is finished exactly once):
 *   mode 0, dequantize: y = f32(f32(acc) * scale[k]);
 *   mode 1 / 2, requantize to int8 / uint8: v = f32(f32(acc) * mult[k]) clamped
 *     to [qmin - zp, qmax - zp], f32x4.nearest (ties to even), truncated, + zp,
 *     narrowed with saturation (the clamp makes it exact): reference/quant.ts's
 *     requantizeRef, the same operations in the same order.
 * All pointers are byte offsets; the weights in the reference's KCRS order.
 */
import { MR, NR } from './gemm';
import { narrow16, requant1, requant4 } from './qcommon';

const KC: i32 = 512;
const NC: i32 = 256;
const MC: i32 = 256;

// @ts-ignore: decorator
@inline function imin(a: i32, b: i32): i32 {
  return a < b ? a : b;
}

/** The blocking: 0 MR, 1 NR, 2 KC, 3 NC, 4 MC. */
export function qgemm_tile(i: i32): i32 {
  return i == 0 ? MR : i == 1 ? NR : i == 2 ? KC : i == 3 ? NC : MC;
}

/** Bytes of the packed weights: groups x (K/groups rounded up to MR) x (Kd rounded up to even) int16. */
export function qgemm_packed_a_bytes(k: i32, kd: i32, groups: i32): i32 {
  const kg = k / groups;
  const mp = ((kg + MR - 1) / MR) * MR;
  return groups * mp * (kd + (kd & 1)) * 2;
}

/** Bytes of the workspace conv_im2col_qgemm needs: B block, int32 C block, an edge tile, a gather buffer. */
export function qgemm_workspace_bytes(k: i32, groups: i32): i32 {
  const kg = k / groups;
  const rows = imin(((kg + MR - 1) / MR) * MR, MC);
  return KC * NC * 2 + rows * NC * 4 + MR * NR * 4 + 64;
}

/**
 * Packs int8 weights [groups][kg][kd] (KCRS) into int16 MR-row panels:
 * [g][KC slice][row panel][pair][MR][2]; rows past kg and the odd tail of the
 * last slice are zero. The panel of (g, slice at pc, row i) starts at element
 * g*mp*kdp + mp*pc + i*kcp, kcp = the slice length rounded up to even.
 */
export function qpack_weights(w: usize, dst: usize, k: i32, kd: i32, groups: i32): void {
  const kg = k / groups;
  const mp = ((kg + MR - 1) / MR) * MR;
  let d = dst;
  for (let g = 0; g < groups; g++) {
    const wg = w + <usize>(g * kg * kd);
    for (let pc = 0; pc < kd; pc += KC) {
      const kc = imin(KC, kd - pc);
      for (let i = 0; i < mp; i += MR) {
        for (let p = 0; p < kc; p += 2) {
          for (let m = 0; m < MR; m++) {
            const row = i + m;
            const src = wg + <usize>(row * kd + pc + p);
            const v0: i32 = row < kg ? <i32>load<i8>(src) : 0;
            const v1: i32 = row < kg && p + 1 < kc ? <i32>load<i8>(src, 1) : 0;
            store<i16>(d, <i16>v0);
            store<i16>(d, <i16>v1, 2);
            d += 4;
          }
        }
      }
    }
  }
}

/**
 * C[MR x NR] (=|+=) Apanel * Bpanel over kp pairs; int32, row stride ldc bytes.
 * a: kp x MR x 2 int16, b: kp x NR x 2 int16.
 */
export function qukernel(kp: i32, a: usize, b: usize, c: usize, ldc: usize, accumulate: bool): void {
  let c00 = i32x4.splat(0), c01 = i32x4.splat(0);
  let c10 = i32x4.splat(0), c11 = i32x4.splat(0);
  let c20 = i32x4.splat(0), c21 = i32x4.splat(0);
  let c30 = i32x4.splat(0), c31 = i32x4.splat(0);
  const aEnd = a + (<usize>kp << 4);
  while (a < aEnd) {
    const b0 = v128.load(b);
    const b1 = v128.load(b, 16);
    let av = v128.load32_splat(a);
    c00 = i32x4.add(c00, i32x4.dot_i16x8_s(av, b0));
    c01 = i32x4.add(c01, i32x4.dot_i16x8_s(av, b1));
    av = v128.load32_splat(a, 4);
    c10 = i32x4.add(c10, i32x4.dot_i16x8_s(av, b0));
    c11 = i32x4.add(c11, i32x4.dot_i16x8_s(av, b1));
    av = v128.load32_splat(a, 8);
    c20 = i32x4.add(c20, i32x4.dot_i16x8_s(av, b0));
    c21 = i32x4.add(c21, i32x4.dot_i16x8_s(av, b1));
    av = v128.load32_splat(a, 12);
    c30 = i32x4.add(c30, i32x4.dot_i16x8_s(av, b0));
    c31 = i32x4.add(c31, i32x4.dot_i16x8_s(av, b1));
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

/**
 * C[mc x nc] (int32, row stride ldcb bytes) (=|+=) A block * B block over kcp
 * (even) reduction elements, through qukernel; partial tiles via `tile`.
 */
export function qmacro_kernel(
  mc: i32, nc: i32, kcp: i32, ap: usize, bp: usize, c: usize, ldcb: usize, accumulate: bool, tile: usize,
): void {
  const kp = kcp >> 1;
  for (let jr = 0; jr < nc; jr += NR) {
    const nr = imin(NR, nc - jr);
    const b = bp + <usize>(jr * kcp * 2);
    for (let ir = 0; ir < mc; ir += MR) {
      const mr = imin(MR, mc - ir);
      const a = ap + <usize>(ir * kcp * 2);
      const cp = c + <usize>ir * ldcb + (<usize>jr << 2);
      if (mr == MR && nr == NR) {
        qukernel(kp, a, b, cp, ldcb, accumulate);
      } else {
        qukernel(kp, a, b, tile, <usize>(NR << 2), false);
        store_tile_i32(tile, cp, ldcb, mr, nr, accumulate);
      }
    }
  }
}

/** The first mr x nr int32 of an MR x NR tile copied (or added, when accumulating) into C at cp (row stride ldcb bytes). */
export function store_tile_i32(tile: usize, cp: usize, ldcb: usize, mr: i32, nr: i32, accumulate: bool): void {
  for (let i = 0; i < mr; i++) {
    const crow = cp + <usize>i * ldcb;
    const trow = tile + (<usize>(i * NR) << 2);
    for (let j = 0; j < nr; j++) {
      const o = <usize>j << 2;
      const v = load<i32>(trow + o);
      store<i32>(crow + o, accumulate ? load<i32>(crow + o) + v : v);
    }
  }
}

/**
 * Eight output positions of one im2col row as int16 minus the zero point (0
 * where the tap falls in the padding): positions (oh, ow) onward in row-major
 * output order, `cnt` of them (the rest 0). T: i8 or u8 input.
 */
// @ts-ignore: decorator
@inline function gather8<T>(
  xc: usize, ihBase: i32, iwBase: i32, oh: i32, ow: i32, cnt: i32,
  h: i32, wd: i32, stride: i32, wo: i32, zp: i32, zpv: v128, tmp: usize,
): v128 {
  if (cnt == NR && ow + NR <= wo) {
    const ih = oh * stride + ihBase;
    if (<u32>ih >= <u32>h) return i32x4.splat(0);
    const iw0 = ow * stride + iwBase;
    const row = xc + <usize>(ih * wd);
    if (stride == 1 && iw0 >= 0 && iw0 + NR <= wd) {
      const v = isSigned<T>() ? v128.load8x8_s(row + <usize>iw0) : v128.load8x8_u(row + <usize>iw0);
      return i16x8.sub(v, zpv);
    }
    if (stride == 2 && iw0 >= 0 && iw0 + 2 * NR <= wd) {
      const raw = v128.load(row + <usize>iw0);
      const even = i8x16.shuffle(raw, raw, 0, 2, 4, 6, 8, 10, 12, 14, 0, 2, 4, 6, 8, 10, 12, 14);
      const v = isSigned<T>() ? i16x8.extend_low_i8x16_s(even) : i16x8.extend_low_i8x16_u(even);
      return i16x8.sub(v, zpv);
    }
    for (let t = 0; t < NR; t++) {
      const iw = iw0 + t * stride;
      const v: i32 = <u32>iw < <u32>wd ? <i32>load<T>(row + <usize>iw) - zp : 0;
      store<i16>(tmp + (<usize>t << 1), <i16>v);
    }
    return v128.load(tmp);
  }
  // Crossing output rows, or the partial last panel.
  let oh2 = oh;
  let ow2 = ow;
  for (let t = 0; t < NR; t++) {
    let v: i32 = 0;
    if (t < cnt) {
      const ih = oh2 * stride + ihBase;
      const iw = ow2 * stride + iwBase;
      if (<u32>ih < <u32>h && <u32>iw < <u32>wd) v = <i32>load<T>(xc + <usize>(ih * wd + iw)) - zp;
      ow2++;
      if (ow2 == wo) {
        ow2 = 0;
        oh2++;
      }
    }
    store<i16>(tmp + (<usize>t << 1), <i16>v);
  }
  return v128.load(tmp);
}

/**
 * im2col into the packed int16 B layout: rows [pc, pc+kc) and columns
 * [jc, jc+nc) of the im2col matrix of one image and group (xg: its first
 * input channel, bytes, NCHW), minus the zero point, as NR-column panels
 * [panel][pair][NR][2] (odd tail row and columns past nc zero).
 */
function qim2col_pack<T>(
  xg: usize, dst: usize, h: i32, wd: i32, r: i32, s: i32, stride: i32, pad: i32, wo: i32,
  pc: i32, kc: i32, jc: i32, nc: i32, zp: i32, tmp: usize,
): void {
  const kcp = kc + (kc & 1);
  const zpv = i16x8.splat(<i16>zp);
  const zero = i32x4.splat(0);
  const rs = r * s;
  const hw = h * wd;
  let cc = pc / rs;
  const rem = pc - cc * rs;
  let rr = rem / s;
  let ss = rem - rr * s;
  const oh0 = jc / wo;
  const ow0 = jc - oh0 * wo;
  const panelStride = <usize>(kcp * NR * 2);
  const pointwise = r == 1 && s == 1 && stride == 1 && pad == 0;
  for (let p = 0; p < kcp; p += 2) {
    // Row p: (cc, rr, ss); row p + 1: the next one, if inside the slice.
    const xa = xg + <usize>(cc * hw);
    const iha = rr - pad;
    const iwa = ss - pad;
    ss++;
    if (ss == s) {
      ss = 0;
      rr++;
      if (rr == r) {
        rr = 0;
        cc++;
      }
    }
    const hasB = p + 1 < kc;
    const xb = xg + <usize>(cc * hw);
    const ihb = rr - pad;
    const iwb = ss - pad;
    if (hasB) {
      ss++;
      if (ss == s) {
        ss = 0;
        rr++;
        if (rr == r) {
          rr = 0;
          cc++;
        }
      }
    }
    let d = dst + <usize>(p * NR * 2);
    let oh = oh0;
    let ow = ow0;
    for (let j0 = 0; j0 < nc; j0 += NR) {
      const cnt = imin(NR, nc - j0);
      let va: v128;
      let vb: v128;
      if (pointwise && cnt == NR) {
        const o = <usize>(jc + j0);
        va = isSigned<T>() ? v128.load8x8_s(xa + o) : v128.load8x8_u(xa + o);
        va = i16x8.sub(va, zpv);
        if (hasB) {
          vb = isSigned<T>() ? v128.load8x8_s(xb + o) : v128.load8x8_u(xb + o);
          vb = i16x8.sub(vb, zpv);
        } else {
          vb = zero;
        }
      } else {
        va = gather8<T>(xa, iha, iwa, oh, ow, cnt, h, wd, stride, wo, zp, zpv, tmp);
        vb = hasB ? gather8<T>(xb, ihb, iwb, oh, ow, cnt, h, wd, stride, wo, zp, zpv, tmp) : zero;
      }
      v128.store(d, i16x8.shuffle(va, vb, 0, 8, 1, 9, 2, 10, 3, 11));
      v128.store(d, i16x8.shuffle(va, vb, 4, 12, 5, 13, 6, 14, 7, 15), 16);
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
 * The epilogue: rows x nc int32 accumulators (row stride ldcb bytes) into the
 * output rows at y (row stride ldy elements), row i being output channel k0 + i.
 * mode 0: f32 y = f32(acc) * params[k]; mode 1 / 2: int8 / uint8 requantized
 * with multiplier params[k] and zero point zp (see the module doc).
 */
export function qepilogue(
  cb: usize, ldcb: usize, rows: i32, nc: i32, y: usize, ldy: i32, k0: i32, params: usize, mode: i32, zp: i32,
): void {
  if (mode == 0) {
    for (let i = 0; i < rows; i++) {
      const c = cb + <usize>i * ldcb;
      const yr = y + (<usize>(i * ldy) << 2);
      const sc = load<f32>(params + (<usize>(k0 + i) << 2));
      const sv = f32x4.splat(sc);
      let j = 0;
      for (; j + 4 <= nc; j += 4) {
        const o = <usize>j << 2;
        v128.store(yr + o, f32x4.mul(f32x4.convert_i32x4_s(v128.load(c + o)), sv));
      }
      for (; j < nc; j++) {
        const o = <usize>j << 2;
        store<f32>(yr + o, <f32>load<i32>(c + o) * sc);
      }
    }
    return;
  }
  const unsigned = mode == 2;
  const qmin: i32 = unsigned ? 0 : -128;
  const qmax: i32 = unsigned ? 255 : 127;
  const lo: f32 = <f32>(qmin - zp);
  const hi: f32 = <f32>(qmax - zp);
  const lov = f32x4.splat(lo);
  const hiv = f32x4.splat(hi);
  const zpv = i32x4.splat(zp);
  for (let i = 0; i < rows; i++) {
    const c = cb + <usize>i * ldcb;
    const yr = y + <usize>(i * ldy);
    const m = load<f32>(params + (<usize>(k0 + i) << 2));
    const mv = f32x4.splat(m);
    let j = 0;
    for (; j + 16 <= nc; j += 16) {
      const o = c + (<usize>j << 2);
      const q0 = requant4(v128.load(o), mv, lov, hiv, zpv);
      const q1 = requant4(v128.load(o, 16), mv, lov, hiv, zpv);
      const q2 = requant4(v128.load(o, 32), mv, lov, hiv, zpv);
      const q3 = requant4(v128.load(o, 48), mv, lov, hiv, zpv);
      v128.store(yr + <usize>j, narrow16(q0, q1, q2, q3, unsigned));
    }
    for (; j < nc; j++) {
      const q = requant1(load<i32>(c + (<usize>j << 2)), m, lo, hi, zp);
      if (unsigned) store<u8>(yr + <usize>j, <u8>q);
      else store<i8>(yr + <usize>j, <i8>q);
    }
  }
}

function conv_qgemm<T>(
  x: usize, zpx: i32, wp: usize, y: usize, ws: usize, params: usize, mode: i32, zpy: i32,
  n: i32, c: i32, h: i32, wd: i32, k: i32, r: i32, s: i32, stride: i32, pad: i32, groups: i32,
): void {
  const ho = (h + 2 * pad - r) / stride + 1;
  const wo = (wd + 2 * pad - s) / stride + 1;
  const cg = c / groups;
  const kg = k / groups;
  const kd = cg * r * s;
  const kdp = kd + (kd & 1);
  const nn = ho * wo;
  const mp = ((kg + MR - 1) / MR) * MR;
  const esize: i32 = mode == 0 ? 4 : 1;
  const bbuf = ws;
  const cblock = bbuf + <usize>(KC * NC * 2);
  const rows = imin(mp, MC);
  const tile = cblock + <usize>(rows * NC * 4);
  const tmp = tile + <usize>(MR * NR * 4);
  const ldcb = <usize>(NC * 4);
  for (let img = 0; img < n; img++) {
    for (let g = 0; g < groups; g++) {
      const xg = x + <usize>((img * c + g * cg) * h * wd);
      const ag = wp + <usize>(g * mp * kdp * 2);
      const yg = y + <usize>(((img * k + g * kg) * nn) * esize);
      for (let jc = 0; jc < nn; jc += NC) {
        const nc = imin(NC, nn - jc);
        for (let ic = 0; ic < kg; ic += MC) {
          const mc = imin(MC, kg - ic);
          for (let pc = 0; pc < kd; pc += KC) {
            const kc = imin(KC, kd - pc);
            const kcp = kc + (kc & 1);
            // B is packed again for every MC block of rows (once when K/groups <= MC, as in every suite layer).
            qim2col_pack<T>(xg, bbuf, h, wd, r, s, stride, pad, wo, pc, kc, jc, nc, zpx, tmp);
            qmacro_kernel(mc, nc, kcp, ag + <usize>((mp * pc + ic * kcp) * 2), bbuf, cblock, ldcb, pc > 0, tile);
          }
          qepilogue(cblock, ldcb, mc, nc, yg + <usize>((ic * nn + jc) * esize), nn, g * kg + ic, params, mode, zpy);
        }
      }
    }
  }
}

/**
 * int8 convolution: x NCHW bytes (int8 if xUnsigned == 0, else uint8) with
 * zero point zpx; wp packed by qpack_weights; y N K Ho Wo, f32 (mode 0) or
 * bytes (modes 1, 2), fully overwritten; params f32 per output channel
 * (dequantization scales or requantization multipliers); ws:
 * qgemm_workspace_bytes(k, groups) bytes, 16-byte aligned.
 */
export function conv_im2col_qgemm(
  x: usize, xUnsigned: i32, zpx: i32, wp: usize, y: usize, ws: usize, params: usize, mode: i32, zpy: i32,
  n: i32, c: i32, h: i32, wd: i32, k: i32, r: i32, s: i32, stride: i32, pad: i32, groups: i32,
): void {
  if (xUnsigned != 0) conv_qgemm<u8>(x, zpx, wp, y, ws, params, mode, zpy, n, c, h, wd, k, r, s, stride, pad, groups);
  else conv_qgemm<i8>(x, zpx, wp, y, ws, params, mode, zpy, n, c, h, wd, k, r, s, stride, pad, groups);
}
