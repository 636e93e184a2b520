/**
 * int8 Winograd F(2x2, 3x3) with int16 transforms (WebAssembly SIMD), exact.
 *
 * The transformed input V' = BT d B (BT = [1 0 -1 0; 0 1 1 0; 0 -1 1 0;
 * 0 -1 0 1]) of int8 data needs 11 bits with the sign (|V'| <= 4 * 128, or
 * 4 * 255 for uint8 minus its zero point) and the scaled filter transform
 * U' = (2G) g (2G)^T 12 (|U'| <= 9 * 127): both are kept in int16, so the 16 products per
 * tile run on the int8 GEMM's micro-kernel (qgemm.ts: i32x4.dot_i16x8_s over
 * pairs of input channels, int32 accumulation) and are exact; the output
 * transform AT M A (adds and subtracts, wrapping int32: exact because the
 * result fits) gives 4 y, shifted right by 2 (exact) before the epilogue.
 * So the result equals the exact integer convolution bit for bit
 * (reference/winograd-int.ts explains why F(4x4) and F(6x6) cannot be done so).
 *
 * - prepare (JS, untimed): U' per (k, c), packed per xi (16 of them) as the
 *   micro-kernel's int16 MR-row panels over pairs of input channels.
 * - run (timed), per image: the input minus its zero point into a zero-bordered
 *   int16 copy; per block of pb tiles (a multiple of NR): V' of every (tile,
 *   channel) written as NR-column panels per xi; 16 GEMMs M[xi] = U'[xi] V'[xi]
 *   (int32); the output transform and the epilogue per (k, tile), scalar.
 * Stride 1, groups 1, 3x3 only.
 */
import { MR, NR } from './gemm';
import { qmacro_kernel } from './qgemm';
import { requant1 } from './qcommon';

// @ts-ignore: decorator
@inline function imin(a: i32, b: i32): i32 {
  return a < b ? a : b;
}

/** Bytes of the packed U' (16 matrices of K rounded up to MR rows x C rounded up to even int16). */
export function qwinograd_packed_u_bytes(k: i32, c: i32): i32 {
  return 16 * (((k + MR - 1) / MR) * MR) * (c + (c & 1)) * 2;
}

/** Bytes of the workspace conv_qwinograd_f2 needs: the bordered input, V' and M of one block, an edge tile. */
export function qwinograd_workspace_bytes(c: i32, h: i32, wd: i32, k: i32, pad: i32, pb: i32): i32 {
  const ho = h + 2 * pad - 2;
  const wo = wd + 2 * pad - 2;
  const hp = 2 * ((ho + 1) >> 1) + 2;
  const wp = 2 * ((wo + 1) >> 1) + 2;
  const kp = ((k + MR - 1) / MR) * MR;
  return c * hp * wp * 2 + 16 * (c + (c & 1)) * pb * 2 + 16 * kp * pb * 4 + MR * NR * 4 + 64;
}

function qw_input<T>(x: usize, zp: i32, xp: usize, c: i32, h: i32, wd: i32, hp: i32, wp: i32, pad: i32): void {
  memory.fill(xp, 0, <usize>(c * hp * wp * 2));
  for (let ch = 0; ch < c; ch++) {
    let src = x + <usize>(ch * h * wd);
    let dst = xp + <usize>((ch * hp + pad) * wp + pad) * 2;
    for (let ih = 0; ih < h; ih++) {
      for (let iw = 0; iw < wd; iw++) store<i16>(dst + (<usize>iw << 1), <i16>(<i32>load<T>(src + <usize>iw) - zp));
      src += <usize>wd;
      dst += <usize>(wp * 2);
    }
  }
}

function conv_qw<T>(
  x: usize, zpx: i32, u: usize, y: usize, ws: usize, params: usize, mode: i32, zpy: i32,
  n: i32, c: i32, h: i32, wd: i32, k: i32, pad: i32, pb: i32,
): void {
  const ho = h + 2 * pad - 2;
  const wo = wd + 2 * pad - 2;
  const th = (ho + 1) >> 1;
  const tw = (wo + 1) >> 1;
  const hp = 2 * th + 2;
  const wp = 2 * tw + 2;
  const cp = c + (c & 1);
  const kp = ((k + MR - 1) / MR) * MR;
  const xpad = ws;
  const vbuf = xpad + <usize>(c * hp * wp * 2);
  const vxi = <usize>(cp * pb * 2); // bytes of one xi's V' block
  const mbuf = vbuf + 16 * vxi;
  const mxi = <usize>(kp * pb * 4); // bytes of one xi's M block
  const tile = mbuf + 16 * mxi;
  const uxi = <usize>(kp * cp * 2);
  const esize: i32 = mode == 0 ? 4 : 1;
  const qmin: i32 = mode == 2 ? 0 : -128;
  const qmax: i32 = mode == 2 ? 255 : 127;
  const lo: f32 = <f32>(qmin - zpy);
  const hi: f32 = <f32>(qmax - zpy);
  const tiles = th * tw;
  const rowB = <usize>(wp * 2);
  const planeB = <usize>(hp * wp * 2);
  for (let img = 0; img < n; img++) {
    qw_input<T>(x + <usize>(img * c * h * wd), zpx, xpad, c, h, wd, hp, wp, pad);
    const yimg = y + <usize>(img * k * ho * wo * esize);
    for (let t0 = 0; t0 < tiles; t0 += pb) {
      const nt = imin(pb, tiles - t0);
      const ntp = ((nt + NR - 1) / NR) * NR;
      // V' for every (tile, channel) of the block: element (xi, panel, cpair, lane, c & 1).
      if (ntp > nt || (c & 1) != 0) memory.fill(vbuf, 0, 16 * vxi);
      for (let t = 0; t < nt; t++) {
        const tt = t0 + t;
        const ty = tt / tw;
        const tx = tt - ty * tw;
        const lane = <usize>(((t / NR) * cp * NR + (t % NR) * 2) * 2);
        let p = xpad + <usize>(2 * ty) * rowB + (<usize>(2 * tx) << 1);
        for (let ch = 0; ch < c; ch++) {
          const q0 = p, q1 = p + rowB, q2 = q1 + rowB, q3 = q2 + rowB;
          const d00 = <i32>load<i16>(q0), d01 = <i32>load<i16>(q0, 2), d02 = <i32>load<i16>(q0, 4), d03 = <i32>load<i16>(q0, 6);
          const d10 = <i32>load<i16>(q1), d11 = <i32>load<i16>(q1, 2), d12 = <i32>load<i16>(q1, 4), d13 = <i32>load<i16>(q1, 6);
          const d20 = <i32>load<i16>(q2), d21 = <i32>load<i16>(q2, 2), d22 = <i32>load<i16>(q2, 4), d23 = <i32>load<i16>(q2, 6);
          const d30 = <i32>load<i16>(q3), d31 = <i32>load<i16>(q3, 2), d32 = <i32>load<i16>(q3, 4), d33 = <i32>load<i16>(q3, 6);
          // Rows: BT d.
          const r00 = d00 - d20, r01 = d01 - d21, r02 = d02 - d22, r03 = d03 - d23;
          const r10 = d10 + d20, r11 = d11 + d21, r12 = d12 + d22, r13 = d13 + d23;
          const r20 = d20 - d10, r21 = d21 - d11, r22 = d22 - d12, r23 = d23 - d13;
          const r30 = d30 - d10, r31 = d31 - d11, r32 = d32 - d12, r33 = d33 - d13;
          const o = vbuf + lane + <usize>(((ch >> 1) * NR * 2 + (ch & 1)) * 2);
          // Columns: (BT d) B; xi = 4 i + j.
          store<i16>(o, <i16>(r00 - r02)); store<i16>(o + vxi, <i16>(r01 + r02));
          store<i16>(o + 2 * vxi, <i16>(r02 - r01)); store<i16>(o + 3 * vxi, <i16>(r03 - r01));
          store<i16>(o + 4 * vxi, <i16>(r10 - r12)); store<i16>(o + 5 * vxi, <i16>(r11 + r12));
          store<i16>(o + 6 * vxi, <i16>(r12 - r11)); store<i16>(o + 7 * vxi, <i16>(r13 - r11));
          store<i16>(o + 8 * vxi, <i16>(r20 - r22)); store<i16>(o + 9 * vxi, <i16>(r21 + r22));
          store<i16>(o + 10 * vxi, <i16>(r22 - r21)); store<i16>(o + 11 * vxi, <i16>(r23 - r21));
          store<i16>(o + 12 * vxi, <i16>(r30 - r32)); store<i16>(o + 13 * vxi, <i16>(r31 + r32));
          store<i16>(o + 14 * vxi, <i16>(r32 - r31)); store<i16>(o + 15 * vxi, <i16>(r33 - r31));
          p += planeB;
        }
      }
      // M[xi] = U'[xi] V'[xi]: K x ntp int32, row stride ntp.
      for (let xi = 0; xi < 16; xi++) {
        qmacro_kernel(k, ntp, cp, u + <usize>xi * uxi, vbuf + <usize>xi * vxi, mbuf + <usize>xi * mxi, <usize>(ntp * 4), false, tile);
      }
      // Output transform AT M A (AT = [1 1 1 0; 0 1 -1 1]) = 4 y, then the epilogue.
      for (let kk = 0; kk < k; kk++) {
        const prm = load<f32>(params + (<usize>kk << 2));
        const yk = yimg + <usize>(kk * ho * wo * esize);
        for (let t = 0; t < nt; t++) {
          const tt = t0 + t;
          const ty = tt / tw;
          const tx = tt - ty * tw;
          const mp = mbuf + (<usize>(kk * ntp + t) << 2);
          const m0 = load<i32>(mp), m1 = load<i32>(mp + mxi), m2 = load<i32>(mp + 2 * mxi), m3 = load<i32>(mp + 3 * mxi);
          const m4 = load<i32>(mp + 4 * mxi), m5 = load<i32>(mp + 5 * mxi), m6 = load<i32>(mp + 6 * mxi), m7 = load<i32>(mp + 7 * mxi);
          const m8 = load<i32>(mp + 8 * mxi), m9 = load<i32>(mp + 9 * mxi), m10 = load<i32>(mp + 10 * mxi), m11 = load<i32>(mp + 11 * mxi);
          const m12 = load<i32>(mp + 12 * mxi), m13 = load<i32>(mp + 13 * mxi), m14 = load<i32>(mp + 14 * mxi), m15 = load<i32>(mp + 15 * mxi);
          // Rows: AT M.
          const a0 = m0 + m4 + m8, a1 = m1 + m5 + m9, a2 = m2 + m6 + m10, a3 = m3 + m7 + m11;
          const b0 = m4 - m8 + m12, b1 = m5 - m9 + m13, b2 = m6 - m10 + m14, b3 = m7 - m11 + m15;
          const v00 = (a0 + a1 + a2) >> 2, v01 = (a1 - a2 + a3) >> 2;
          const v10 = (b0 + b1 + b2) >> 2, v11 = (b1 - b2 + b3) >> 2;
          const oh = 2 * ty;
          const ow = 2 * tx;
          const more = ow + 1 < wo;
          qw_store(yk, oh * wo + ow, v00, mode, prm, lo, hi, zpy);
          if (more) qw_store(yk, oh * wo + ow + 1, v01, mode, prm, lo, hi, zpy);
          if (oh + 1 < ho) {
            qw_store(yk, (oh + 1) * wo + ow, v10, mode, prm, lo, hi, zpy);
            if (more) qw_store(yk, (oh + 1) * wo + ow + 1, v11, mode, prm, lo, hi, zpy);
          }
        }
      }
    }
  }
}

// @ts-ignore: decorator
@inline function qw_store(yk: usize, i: i32, acc: i32, mode: i32, prm: f32, lo: f32, hi: f32, zp: i32): void {
  if (mode == 0) store<f32>(yk + (<usize>i << 2), <f32>acc * prm);
  else if (mode == 2) store<u8>(yk + <usize>i, <u8>requant1(acc, prm, lo, hi, zp));
  else store<i8>(yk + <usize>i, <i8>requant1(acc, prm, lo, hi, zp));
}

/**
 * int8 Winograd F(2x2, 3x3), stride 1, groups 1: x NCHW bytes (uint8 if
 * xUnsigned) with zero point zpx; u: U' packed (see the module doc); y N K Ho Wo
 * overwritten (mode 0 f32, 1 int8, 2 uint8, with params per output channel and
 * zero point zpy); pb tiles per block, a multiple of NR; ws:
 * qwinograd_workspace_bytes(...) bytes, 16-byte aligned.
 */
export function conv_qwinograd_f2(
  x: usize, xUnsigned: i32, zpx: i32, u: usize, y: usize, ws: usize, params: usize, mode: i32, zpy: i32,
  n: i32, c: i32, h: i32, wd: i32, k: i32, pad: i32, pb: i32,
): void {
  if (xUnsigned != 0) conv_qw<u8>(x, zpx, u, y, ws, params, mode, zpy, n, c, h, wd, k, pad, pb);
  else conv_qw<i8>(x, zpx, u, y, ws, params, mode, zpy, n, c, h, wd, k, pad, pb);
}
