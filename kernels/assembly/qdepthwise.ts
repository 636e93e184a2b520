/**
 * int8 depthwise convolution (groups == C == K), WebAssembly SIMD, vectorised
 * across the output width: 8 outputs per int16x8, int32 accumulation.
 *
 * Per channel, the input plane (int8 or uint8) is widened to int16 minus its
 * zero point into a zero-bordered workspace plane (padding is the real value
 * 0), as the f32 depthwise kernel does with floats; stride 2 splits each row
 * into its even and odd columns so every tap is a plain unaligned load. Each
 * tap is i16x8.mul by the broadcast weight (exact: |x - zp| <= 255 and
 * |w| <= 127 give |product| <= 32385 < 2^15) and the products are widened and
 * added into two int32x4 accumulators (XNNPACK's wasmsimd "mul16" qs8 dwconv
 * scheme). The epilogue (qcommon.ts) requantizes to int8 / uint8 or
 * dequantizes to f32 per channel, exactly as reference/quant.ts. Stride >= 3
 * runs a scalar path over the plain plane.
 *
 * Layouts: x NCHW bytes, w C x R x S int8, y N x C x Ho x Wo (bytes or f32).
 */
import { requant1, requant4 } from './qcommon';

// @ts-ignore: decorator
@inline function round8(v: i32): i32 {
  return (v + 7) & ~7;
}

/** int16 elements per workspace row (stride 2: two half rows, even then odd columns). */
function qdw_row_elems(wd: i32, wo: i32, s: i32, stride: i32, pad: i32): i32 {
  const wo8 = round8(wo);
  const real = wd + 2 * pad;
  if (stride == 2) {
    let half = wo8 + (s >> 1) + 8;
    const realHalf = (real + 1) >> 1;
    if (realHalf > half) half = realHalf;
    return 2 * round8(half);
  }
  let need = wo8 + s + 8;
  if (real > need) need = real;
  return round8(need);
}

/** Bytes of the workspace conv_depthwise_q needs: one bordered int16 plane and a 32-byte staging buffer. */
export function qdw_workspace_bytes(h: i32, wd: i32, r: i32, s: i32, stride: i32, pad: i32): i32 {
  const wo = (wd + 2 * pad - s) / stride + 1;
  return ((h + 2 * pad) * qdw_row_elems(wd, wo, s, stride, pad) + 16) * 2 + 32;
}

/** Copies one channel plane (h x wd bytes) as int16 minus zp into the workspace interior (row stride rb bytes). */
function qcopy_plain<T>(src: usize, dst: usize, h: i32, wd: i32, rb: usize, zp: i32): void {
  const zpv = i16x8.splat(<i16>zp);
  for (let ih = 0; ih < h; ih++) {
    let iw = 0;
    for (; iw + 8 <= wd; iw += 8) {
      const v = isSigned<T>() ? v128.load8x8_s(src + <usize>iw) : v128.load8x8_u(src + <usize>iw);
      v128.store(dst + (<usize>iw << 1), i16x8.sub(v, zpv));
    }
    for (; iw < wd; iw++) store<i16>(dst + (<usize>iw << 1), <i16>(<i32>load<T>(src + <usize>iw) - zp));
    src += <usize>wd;
    dst += rb;
  }
}

/** Copies one channel plane into the even / odd half rows: padded column q = iw + pad goes to half (q & 1), index q >> 1. */
function qcopy_deinterleave<T>(src: usize, ws: usize, h: i32, wd: i32, pad: i32, rb: usize, ob: usize, zp: i32): void {
  const zpv = i16x8.splat(<i16>zp);
  const evenDst = <usize>(pad & 1) * ob + (<usize>(pad >> 1) << 1);
  const oddDst = <usize>((pad + 1) & 1) * ob + (<usize>((pad + 1) >> 1) << 1);
  for (let ih = 0; ih < h; ih++) {
    const de = ws + evenDst;
    const dod = ws + oddDst;
    let iw = 0;
    for (; iw + 16 <= wd; iw += 16) {
      const raw = v128.load(src + <usize>iw);
      const ev = i8x16.shuffle(raw, raw, 0, 2, 4, 6, 8, 10, 12, 14, 0, 2, 4, 6, 8, 10, 12, 14);
      const od = i8x16.shuffle(raw, raw, 1, 3, 5, 7, 9, 11, 13, 15, 1, 3, 5, 7, 9, 11, 13, 15);
      const o = <usize>(iw >> 1) << 1;
      if (isSigned<T>()) {
        v128.store(de + o, i16x8.sub(i16x8.extend_low_i8x16_s(ev), zpv));
        v128.store(dod + o, i16x8.sub(i16x8.extend_low_i8x16_s(od), zpv));
      } else {
        v128.store(de + o, i16x8.sub(i16x8.extend_low_i8x16_u(ev), zpv));
        v128.store(dod + o, i16x8.sub(i16x8.extend_low_i8x16_u(od), zpv));
      }
    }
    for (; iw < wd; iw++) {
      const v = <i16>(<i32>load<T>(src + <usize>iw) - zp);
      const o = <usize>(iw >> 1) << 1;
      if ((iw & 1) == 0) store<i16>(de + o, v);
      else store<i16>(dod + o, v);
    }
    src += <usize>wd;
    ws += rb;
  }
}

/**
 * Writes 8 outputs (two int32x4 accumulators), or the first cnt of them, at yp
 * (element index into the output plane already applied): mode 0 f32, 1 int8, 2 uint8.
 */
// @ts-ignore: decorator
@inline function qdw_store8(
  lo4: v128, hi4: v128, yp: usize, cnt: i32, mode: i32, sc: f32, mv: v128, lov: v128, hiv: v128, zpv: v128, stage: usize,
): void {
  if (mode == 0) {
    const sv = f32x4.splat(sc);
    const f0 = f32x4.mul(f32x4.convert_i32x4_s(lo4), sv);
    const f1 = f32x4.mul(f32x4.convert_i32x4_s(hi4), sv);
    if (cnt == 8) {
      v128.store(yp, f0);
      v128.store(yp, f1, 16);
    } else {
      v128.store(stage, f0);
      v128.store(stage, f1, 16);
      memory.copy(yp, stage, <usize>cnt << 2);
    }
    return;
  }
  const h = i16x8.narrow_i32x4_s(requant4(lo4, mv, lov, hiv, zpv), requant4(hi4, mv, lov, hiv, zpv));
  const b = mode == 2 ? i8x16.narrow_i16x8_u(h, h) : i8x16.narrow_i16x8_s(h, h);
  if (cnt == 8) {
    v128.store64_lane(yp, b, 0);
  } else {
    v128.store(stage, b);
    memory.copy(yp, stage, <usize>cnt);
  }
}

/**
 * int8 depthwise conv: x (int8 if xUnsigned == 0, else uint8) with zero point
 * zpx, w c x R x S int8, y overwritten (mode 0 f32 dequantized with params[c],
 * 1 / 2 int8 / uint8 requantized with multiplier params[c] and zero point zpy);
 * ws: qdw_workspace_bytes(...) bytes, 16-byte aligned.
 */
export function conv_depthwise_q(
  x: usize, xUnsigned: i32, zpx: i32, w: usize, y: usize, ws: usize, params: usize, mode: i32, zpy: i32,
  n: i32, c: i32, h: i32, wd: i32, r: i32, s: i32, stride: i32, pad: i32,
): void {
  if (xUnsigned != 0) dw_q<u8>(x, zpx, w, y, ws, params, mode, zpy, n, c, h, wd, r, s, stride, pad);
  else dw_q<i8>(x, zpx, w, y, ws, params, mode, zpy, n, c, h, wd, r, s, stride, pad);
}

function dw_q<T>(
  x: usize, zpx: i32, w: usize, y: usize, ws: usize, params: usize, mode: i32, zpy: i32,
  n: i32, c: i32, h: i32, wd: i32, r: i32, s: i32, stride: i32, pad: i32,
): void {
  const ho = (h + 2 * pad - r) / stride + 1;
  const wo = (wd + 2 * pad - s) / stride + 1;
  const rowE = qdw_row_elems(wd, wo, s, stride, pad);
  const rb = <usize>rowE << 1;
  const ob = rb >> 1;
  const planeBytes = <usize>((h + 2 * pad) * rowE + 16) << 1;
  const stage = ws + planeBytes;
  memory.fill(ws, 0, planeBytes);
  const esize: i32 = mode == 0 ? 4 : 1;
  const qmin: i32 = mode == 2 ? 0 : -128;
  const qmax: i32 = mode == 2 ? 255 : 127;
  const lo: f32 = <f32>(qmin - zpy);
  const hi: f32 = <f32>(qmax - zpy);
  const lov = f32x4.splat(lo);
  const hiv = f32x4.splat(hi);
  const zpv = i32x4.splat(zpy);
  const rs = r * s;
  for (let img = 0; img < n; img++) {
    for (let ch = 0; ch < c; ch++) {
      const xc = x + <usize>((img * c + ch) * h * wd);
      const wc = w + <usize>(ch * rs);
      const yc = y + <usize>((img * c + ch) * ho * wo * esize);
      const prm = load<f32>(params + (<usize>ch << 2));
      const mv = f32x4.splat(prm);
      if (stride == 2) qcopy_deinterleave<T>(xc, ws + <usize>pad * rb, h, wd, pad, rb, ob, zpx);
      else qcopy_plain<T>(xc, ws + <usize>pad * rb + (<usize>pad << 1), h, wd, rb, zpx);
      if (stride > 2) {
        for (let oh = 0; oh < ho; oh++) {
          for (let ow = 0; ow < wo; ow++) {
            let acc: i32 = 0;
            for (let kr = 0; kr < r; kr++) {
              const px = ws + <usize>(oh * stride + kr) * rb + (<usize>(ow * stride) << 1);
              for (let ks = 0; ks < s; ks++) acc += <i32>load<i8>(wc + <usize>(kr * s + ks)) * <i32>load<i16>(px + (<usize>ks << 1));
            }
            const yp = yc + <usize>((oh * wo + ow) * esize);
            if (mode == 0) store<f32>(yp, <f32>acc * prm);
            else if (mode == 2) store<u8>(yp, <u8>requant1(acc, prm, lo, hi, zpy));
            else store<i8>(yp, <i8>requant1(acc, prm, lo, hi, zpy));
          }
        }
        continue;
      }
      const rowStep = rb * <usize>stride;
      for (let oh = 0; oh < ho; oh++) {
        const row = ws + <usize>oh * rowStep;
        for (let ow = 0; ow < wo; ow += 8) {
          let a0 = i32x4.splat(0);
          let a1 = i32x4.splat(0);
          let pr = row + (<usize>ow << 1);
          let wp = wc;
          for (let kr = 0; kr < r; kr++) {
            for (let ks = 0; ks < s; ks++) {
              const px = stride == 1 ? pr + (<usize>ks << 1) : pr + <usize>(ks & 1) * ob + (<usize>(ks >> 1) << 1);
              const prod = i16x8.mul(v128.load(px), i16x8.splat(<i16>load<i8>(wp)));
              a0 = i32x4.add(a0, i32x4.extend_low_i16x8_s(prod));
              a1 = i32x4.add(a1, i32x4.extend_high_i16x8_s(prod));
              wp++;
            }
            pr += rb;
          }
          const cnt = wo - ow < 8 ? wo - ow : 8;
          qdw_store8(a0, a1, yc + <usize>((oh * wo + ow) * esize), cnt, mode, prm, mv, lov, hiv, zpv, stage);
        }
      }
    }
  }
}
