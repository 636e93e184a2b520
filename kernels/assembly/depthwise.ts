/**
 * Depthwise convolution (groups == C == K), WebAssembly SIMD, vectorised
 * across the output width: 4 outputs per f32x4.
 *
 * Per channel the input plane is first copied into a zero-bordered workspace
 * plane (pad rows/columns of zeros around it, width rounded up so the last,
 * partial vector's loads stay inside), so every output vector is computed the
 * same way with no bounds checks: the borders cost one read+write of the
 * plane (L1-resident, ~15% of the 3x3 time) instead of a scalar edge path.
 * The zero border is written once per call; every channel overwrites only the
 * interior. For stride 2 the copy also de-interleaves each row into its even
 * and odd columns (two half-width planes side by side), so a stride-2 tap is
 * a plain unaligned load instead of two loads and a shuffle.
 *
 * Paths:
 *   3x3 stride 1: 9 weights in registers, 2 output rows per pass (4 input
 *                 rows: each loaded vector feeds both rows' accumulators);
 *   3x3 stride 2: 9 weights in registers, even/odd planes;
 *   R x S, stride 1 or 2: 4 output vectors (16 outputs) per pass share each
 *                 broadcast weight;
 *   stride >= 3:  scalar.
 * Each output sums its taps in (r, s) order, like the reference.
 *
 * Layouts: x NCHW, w C x 1 x R x S, y N x C x Ho x Wo. Byte pointers.
 * The copies and compute paths are exported for hdepthwise.ts (fp16 storage).
 */
import { f16_to_f32, f32_to_f16, h2f, h2f_lo } from './f16';

// @ts-ignore: decorator
@inline function round4(v: i32): i32 {
  return (v + 3) & ~3;
}

/**
 * Floats per row of the bordered workspace. Stride 2: two half planes (even,
 * odd columns) of `half` floats each; otherwise one row of the padded width.
 * Wide enough for the loads of the last (partial) output vector.
 */
// @ts-ignore: decorator
@inline export function ws_row_floats(wd: i32, wo: i32, s: i32, stride: i32, pad: i32): i32 {
  const wo4 = round4(wo);
  const real = wd + 2 * pad;
  if (stride == 2) {
    // Tap (ks) of output column ow reads half-plane index ow + ks/2.
    let half = wo4 + (s >> 1) + 4;
    const realHalf = (real + 1) >> 1;
    if (realHalf > half) half = realHalf;
    return 2 * round4(half);
  }
  let need = (wo4 - 1) * stride + s + 4;
  if (real > need) need = real;
  return round4(need);
}

/** Floats of the workspace conv_depthwise_f32 needs (one zero-bordered input plane). */
export function depthwise_workspace_floats(h: i32, wd: i32, r: i32, s: i32, stride: i32, pad: i32): i32 {
  const wo = (wd + 2 * pad - s) / stride + 1;
  return (h + 2 * pad) * ws_row_floats(wd, wo, s, stride, pad) + 4;
}

/** Stores the first `cnt` (1..3) lanes of v at p. */
// @ts-ignore: decorator
@inline function store_partial(p: usize, v: v128, cnt: i32): void {
  store<f32>(p, f32x4.extract_lane(v, 0));
  if (cnt > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
  if (cnt > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
}

/** 3x3, stride 1: one output plane from the bordered plane pp (row stride pwb bytes). */
export function dw3x3s1(pp: usize, pwb: usize, wc: usize, yc: usize, ho: i32, wo: i32): void {
  const w00 = v128.load32_splat(wc), w01 = v128.load32_splat(wc, 4), w02 = v128.load32_splat(wc, 8);
  const w10 = v128.load32_splat(wc, 12), w11 = v128.load32_splat(wc, 16), w12 = v128.load32_splat(wc, 20);
  const w20 = v128.load32_splat(wc, 24), w21 = v128.load32_splat(wc, 28), w22 = v128.load32_splat(wc, 32);
  const rem = wo & 3;
  const fullBytes = <usize>(wo & ~3) << 2;
  const ywb = <usize>wo << 2;
  let yrow = yc;
  let row = pp;
  let oh = 0;
  // Two output rows per pass: input rows q0..q3; row q1 and q2 feed both.
  for (; oh + 2 <= ho; oh += 2) {
    let p = row;
    let yp = yrow;
    const yend = yrow + fullBytes;
    for (;;) {
      const last = yp >= yend;
      if (last && rem == 0) break;
      const q1 = p + pwb;
      const q2 = q1 + pwb;
      const q3 = q2 + pwb;
      let x = v128.load(p);
      let a0 = f32x4.mul(w00, x);
      x = v128.load(p, 4);
      a0 = f32x4.add(a0, f32x4.mul(w01, x));
      x = v128.load(p, 8);
      a0 = f32x4.add(a0, f32x4.mul(w02, x));
      x = v128.load(q1);
      a0 = f32x4.add(a0, f32x4.mul(w10, x));
      let a1 = f32x4.mul(w00, x);
      x = v128.load(q1, 4);
      a0 = f32x4.add(a0, f32x4.mul(w11, x));
      a1 = f32x4.add(a1, f32x4.mul(w01, x));
      x = v128.load(q1, 8);
      a0 = f32x4.add(a0, f32x4.mul(w12, x));
      a1 = f32x4.add(a1, f32x4.mul(w02, x));
      x = v128.load(q2);
      a0 = f32x4.add(a0, f32x4.mul(w20, x));
      a1 = f32x4.add(a1, f32x4.mul(w10, x));
      x = v128.load(q2, 4);
      a0 = f32x4.add(a0, f32x4.mul(w21, x));
      a1 = f32x4.add(a1, f32x4.mul(w11, x));
      x = v128.load(q2, 8);
      a0 = f32x4.add(a0, f32x4.mul(w22, x));
      a1 = f32x4.add(a1, f32x4.mul(w12, x));
      x = v128.load(q3);
      a1 = f32x4.add(a1, f32x4.mul(w20, x));
      x = v128.load(q3, 4);
      a1 = f32x4.add(a1, f32x4.mul(w21, x));
      x = v128.load(q3, 8);
      a1 = f32x4.add(a1, f32x4.mul(w22, x));
      if (last) {
        store_partial(yp, a0, rem);
        store_partial(yp + ywb, a1, rem);
        break;
      }
      v128.store(yp, a0);
      v128.store(yp + ywb, a1);
      p += 16;
      yp += 16;
    }
    row += pwb << 1;
    yrow += ywb << 1;
  }
  // Odd last row.
  if (oh < ho) {
    let p = row;
    let yp = yrow;
    const yend = yrow + fullBytes;
    for (;;) {
      const last = yp >= yend;
      if (last && rem == 0) break;
      const q1 = p + pwb;
      const q2 = q1 + pwb;
      let a = f32x4.mul(w00, v128.load(p));
      a = f32x4.add(a, f32x4.mul(w01, v128.load(p, 4)));
      a = f32x4.add(a, f32x4.mul(w02, v128.load(p, 8)));
      a = f32x4.add(a, f32x4.mul(w10, v128.load(q1)));
      a = f32x4.add(a, f32x4.mul(w11, v128.load(q1, 4)));
      a = f32x4.add(a, f32x4.mul(w12, v128.load(q1, 8)));
      a = f32x4.add(a, f32x4.mul(w20, v128.load(q2)));
      a = f32x4.add(a, f32x4.mul(w21, v128.load(q2, 4)));
      a = f32x4.add(a, f32x4.mul(w22, v128.load(q2, 8)));
      if (last) {
        store_partial(yp, a, rem);
        break;
      }
      v128.store(yp, a);
      p += 16;
      yp += 16;
    }
  }
}

/**
 * 3x3, stride 2, from the even/odd planes: row stride rb bytes, the odd half
 * `ob` bytes after the even half. Taps: s=0 even[ow], s=1 odd[ow], s=2 even[ow+1].
 */
export function dw3x3s2(pp: usize, rb: usize, ob: usize, wc: usize, yc: usize, ho: i32, wo: i32): void {
  const w00 = v128.load32_splat(wc), w01 = v128.load32_splat(wc, 4), w02 = v128.load32_splat(wc, 8);
  const w10 = v128.load32_splat(wc, 12), w11 = v128.load32_splat(wc, 16), w12 = v128.load32_splat(wc, 20);
  const w20 = v128.load32_splat(wc, 24), w21 = v128.load32_splat(wc, 28), w22 = v128.load32_splat(wc, 32);
  const rem = wo & 3;
  const fullBytes = <usize>(wo & ~3) << 2;
  const ywb = <usize>wo << 2;
  let yrow = yc;
  let row = pp;
  for (let oh = 0; oh < ho; oh++) {
    let p = row;
    let yp = yrow;
    const yend = yrow + fullBytes;
    for (;;) {
      const last = yp >= yend;
      if (last && rem == 0) break;
      const q1 = p + rb;
      const q2 = q1 + rb;
      let a = f32x4.mul(w00, v128.load(p));
      a = f32x4.add(a, f32x4.mul(w01, v128.load(p + ob)));
      a = f32x4.add(a, f32x4.mul(w02, v128.load(p, 4)));
      a = f32x4.add(a, f32x4.mul(w10, v128.load(q1)));
      a = f32x4.add(a, f32x4.mul(w11, v128.load(q1 + ob)));
      a = f32x4.add(a, f32x4.mul(w12, v128.load(q1, 4)));
      a = f32x4.add(a, f32x4.mul(w20, v128.load(q2)));
      a = f32x4.add(a, f32x4.mul(w21, v128.load(q2 + ob)));
      a = f32x4.add(a, f32x4.mul(w22, v128.load(q2, 4)));
      if (last) {
        store_partial(yp, a, rem);
        break;
      }
      v128.store(yp, a);
      p += 16;
      yp += 16;
    }
    row += rb << 1;
    yrow += ywb;
  }
}

/**
 * Any R x S, stride 1 (plain plane) or 2 (even/odd planes, odd half `ob`
 * bytes into each row). rb: bytes per workspace row. Blocks of 4 output
 * vectors share each broadcast weight; then single vectors.
 */
export function dw_general(
  pp: usize, rb: usize, ob: usize, wc: usize, yc: usize, ho: i32, wo: i32, r: i32, s: i32, stride: i32,
): void {
  const ywb = <usize>wo << 2;
  const rowStep = rb * <usize>stride;
  let yrow = yc;
  let row = pp;
  for (let oh = 0; oh < ho; oh++) {
    let ow = 0;
    // 16 outputs at a time.
    for (; ow + 16 <= wo; ow += 16) {
      const base = row + (<usize>ow << 2);
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
      let wp = wc;
      let pr = base;
      for (let kr = 0; kr < r; kr++) {
        for (let ks = 0; ks < s; ks++) {
          const px = stride == 1 ? pr + (<usize>ks << 2) : pr + <usize>(ks & 1) * ob + (<usize>(ks >> 1) << 2);
          const wv = v128.load32_splat(wp);
          a0 = f32x4.add(a0, f32x4.mul(wv, v128.load(px)));
          a1 = f32x4.add(a1, f32x4.mul(wv, v128.load(px, 16)));
          a2 = f32x4.add(a2, f32x4.mul(wv, v128.load(px, 32)));
          a3 = f32x4.add(a3, f32x4.mul(wv, v128.load(px, 48)));
          wp += 4;
        }
        pr += rb;
      }
      const yp = yrow + (<usize>ow << 2);
      v128.store(yp, a0);
      v128.store(yp, a1, 16);
      v128.store(yp, a2, 32);
      v128.store(yp, a3, 48);
    }
    // The rest, 4 at a time (the last vector partial).
    for (; ow < wo; ow += 4) {
      const base = row + (<usize>ow << 2);
      let a = f32x4.splat(0);
      let wp = wc;
      let pr = base;
      for (let kr = 0; kr < r; kr++) {
        for (let ks = 0; ks < s; ks++) {
          const px = stride == 1 ? pr + (<usize>ks << 2) : pr + <usize>(ks & 1) * ob + (<usize>(ks >> 1) << 2);
          a = f32x4.add(a, f32x4.mul(v128.load32_splat(wp), v128.load(px)));
          wp += 4;
        }
        pr += rb;
      }
      const yp = yrow + (<usize>ow << 2);
      if (ow + 4 <= wo) v128.store(yp, a);
      else store_partial(yp, a, wo - ow);
    }
    row += rowStep;
    yrow += ywb;
  }
}

/** Stride >= 3, scalar, from the plain bordered plane. */
export function dw_scalar(
  pp: usize, pwb: usize, wc: usize, yc: usize, ho: i32, wo: i32, r: i32, s: i32, stride: i32,
): void {
  for (let oh = 0; oh < ho; oh++) {
    for (let ow = 0; ow < wo; ow++) {
      let acc: f32 = 0;
      for (let kr = 0; kr < r; kr++) {
        const px = pp + <usize>(oh * stride + kr) * pwb + (<usize>(ow * stride) << 2);
        for (let ks = 0; ks < s; ks++) {
          acc += load<f32>(wc + (<usize>(kr * s + ks) << 2)) * load<f32>(px + (<usize>ks << 2));
        }
      }
      store<f32>(yc + (<usize>(oh * wo + ow) << 2), acc);
    }
  }
}

/**
 * Copies one channel plane (h x wd at src) into the workspace interior at dst
 * (row stride rb bytes) as f32. T: the input's element type, f32, or u16 holding
 * IEEE halves (fp16 storage: hdepthwise.ts), converted here.
 */
export function copy_plain<T>(src: usize, dst: usize, h: i32, wd: i32, rb: usize): void {
  if (sizeof<T>() == 2) {
    for (let ih = 0; ih < h; ih++) {
      f16_to_f32(src, dst, wd);
      src += <usize>wd << 1;
      dst += rb;
    }
    return;
  }
  const rowBytes = <usize>wd << 2;
  const rowVec = rowBytes & ~(<usize>15);
  for (let ih = 0; ih < h; ih++) {
    let i: usize = 0;
    for (; i < rowVec; i += 16) v128.store(dst + i, v128.load(src + i));
    for (; i < rowBytes; i += 4) store<f32>(dst + i, load<f32>(src + i));
    src += rowBytes;
    dst += rb;
  }
}

/**
 * Copies one channel plane into the even/odd workspace rows: padded column
 * c = iw + pad goes to half (c & 1), index c >> 1. ws: the workspace row of
 * input row 0 (after the top border), ob: bytes to the odd half.
 */
export function copy_deinterleave<T>(src: usize, ws: usize, h: i32, wd: i32, pad: i32, rb: usize, ob: usize): void {
  const XS: usize = sizeof<T>() == 4 ? 2 : 1;
  const rowBytes = <usize>wd << XS;
  // x columns 0, 2, 4 ... land in half (pad & 1), the odd ones in the other half.
  const evenDst = <usize>(pad & 1) * ob + (<usize>(pad >> 1) << 2);
  const oddDst = <usize>((pad + 1) & 1) * ob + (<usize>((pad + 1) >> 1) << 2);
  const pairs = wd & ~7; // columns copied 8 at a time
  for (let ih = 0; ih < h; ih++) {
    const de = ws + evenDst;
    const dod = ws + oddDst;
    let iw = 0;
    for (; iw < pairs; iw += 8) {
      const o = <usize>(iw >> 1) << 2;
      if (sizeof<T>() == 2) {
        const v = v128.load(src + (<usize>iw << 1));
        v128.store(de + o, h2f_lo(i16x8.shuffle(v, v, 0, 2, 4, 6, 0, 2, 4, 6)));
        v128.store(dod + o, h2f_lo(i16x8.shuffle(v, v, 1, 3, 5, 7, 1, 3, 5, 7)));
      } else {
        const a = v128.load(src + (<usize>iw << 2));
        const b = v128.load(src + (<usize>iw << 2), 16);
        v128.store(de + o, v128.shuffle<f32>(a, b, 0, 2, 4, 6));
        v128.store(dod + o, v128.shuffle<f32>(a, b, 1, 3, 5, 7));
      }
    }
    for (; iw < wd; iw++) {
      const v: f32 = sizeof<T>() == 2 ? h2f(load<u16>(src + (<usize>iw << 1))) : load<f32>(src + (<usize>iw << 2));
      const o = <usize>(iw >> 1) << 2;
      if ((iw & 1) == 0) store<f32>(de + o, v);
      else store<f32>(dod + o, v);
    }
    src += rowBytes;
    ws += rb;
  }
}

/**
 * Depthwise conv: x NCHW (c channels), w c x R x S, y N x c x Ho x Wo
 * (overwritten); ws: a workspace of depthwise_workspace_floats(...) floats,
 * 16-byte aligned.
 */
export function conv_depthwise_f32(
  x: usize, w: usize, y: usize, ws: usize,
  n: i32, c: i32, h: i32, wd: i32, r: i32, s: i32, stride: i32, pad: i32,
): void {
  conv_depthwise<f32>(x, w, y, ws, n, c, h, wd, r, s, stride, pad);
}

/**
 * Floats of the workspace conv_depthwise<u16> needs: the bordered plane, an f32
 * output plane and the channel's weights in f32.
 */
export function depthwise_f16_workspace_floats(h: i32, wd: i32, r: i32, s: i32, stride: i32, pad: i32): i32 {
  const ho = (h + 2 * pad - r) / stride + 1;
  const wo = (wd + 2 * pad - s) / stride + 1;
  return depthwise_workspace_floats(h, wd, r, s, stride, pad) + ((ho * wo + 3) & ~3) + ((r * s + 3) & ~3);
}

/**
 * The depthwise convolution for input, weights and output of element type T:
 * f32, or u16 holding IEEE halves (fp16 storage): then each channel's weights
 * are converted to f32, its plane to f32 while it is copied into the bordered
 * workspace, the f32 paths compute the channel's output plane into the
 * workspace, and the plane is rounded to halves (nearest, ties to even) into y.
 */
export function conv_depthwise<T>(
  x: usize, w: usize, y: usize, ws: usize,
  n: i32, c: i32, h: i32, wd: i32, r: i32, s: i32, stride: i32, pad: i32,
): void {
  const ES: usize = sizeof<T>() == 4 ? 2 : 1;
  const ho = (h + 2 * pad - r) / stride + 1;
  const wo = (wd + 2 * pad - s) / stride + 1;
  const rowFloats = ws_row_floats(wd, wo, s, stride, pad);
  const rb = <usize>rowFloats << 2;
  const ob = rb >> 1; // stride 2: the odd half starts half-way into each row
  // Zero the whole bordered plane once; channels overwrite only the interior.
  const planeFloats = (h + 2 * pad) * rowFloats + 4;
  memory.fill(ws, 0, <usize>planeFloats << 2);
  const top = ws + <usize>pad * rb; // workspace row of input row 0
  const planeIn = <usize>(h * wd) << ES;
  const planeOut = <usize>(ho * wo) << ES;
  const wBytes = <usize>(r * s) << ES;
  // fp16: the f32 output plane and weights of one channel.
  const yplane = ws + (<usize>planeFloats << 2);
  const wf = yplane + (<usize>((ho * wo + 3) & ~3) << 2);
  let xc = x;
  let yc = y;
  for (let img = 0; img < n; img++) {
    let wc = w;
    for (let ch = 0; ch < c; ch++) {
      let wk = wc;
      let yk = yc;
      if (sizeof<T>() == 2) {
        f16_to_f32(wc, wf, r * s);
        wk = wf;
        yk = yplane;
      }
      if (stride == 2) {
        copy_deinterleave<T>(xc, top, h, wd, pad, rb, ob);
        if (r == 3 && s == 3) dw3x3s2(ws, rb, ob, wk, yk, ho, wo);
        else dw_general(ws, rb, ob, wk, yk, ho, wo, r, s, 2);
      } else {
        copy_plain<T>(xc, top + (<usize>pad << 2), h, wd, rb);
        if (stride == 1) {
          if (r == 3 && s == 3) dw3x3s1(ws, rb, wk, yk, ho, wo);
          else dw_general(ws, rb, 0, wk, yk, ho, wo, r, s, 1);
        } else {
          dw_scalar(ws, rb, wk, yk, ho, wo, r, s, stride);
        }
      }
      if (sizeof<T>() == 2) f32_to_f16(yplane, yc, ho * wo);
      xc += planeIn;
      yc += planeOut;
      wc += wBytes;
    }
  }
}
