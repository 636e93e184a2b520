/**
 * Depthwise convolution (groups == C == K), WebAssembly SIMD, vectorised
 * across the output width: 4 outputs per f32x4.
 *
 * Per channel the input plane is first copied into a zero-bordered workspace
 * plane (pad rows/columns of zeros around it, width rounded up so the last,
 * partial vector's loads stay inside), so every output vector is computed the
 * same way with no bounds checks: the borders cost one extra read+write of the
 * plane (in L1/L2) instead of a scalar edge path. The zero border is written
 * once per call; every channel overwrites only the interior.
 *
 * Paths: 3x3 stride 1 and 3x3 stride 2 with the 9 weights held in registers
 * (MobileNet's depthwise layers), a general R x S path for stride 1 and 2
 * (stride 2 takes the even lanes of two loads with one shuffle), and a scalar
 * path for strides >= 3.
 *
 * Layouts: x NCHW, w C x 1 x R x S, y N x C x Ho x Wo. Byte pointers.
 */

// @ts-ignore: decorator
@inline function padded_width(wd: i32, wo: i32, s: i32, stride: i32, pad: i32): i32 {
  const wo4 = (wo + 3) & ~3;
  // Columns read by the last vector: (wo4 - 1) * stride + s - 1, plus up to 4 for stride-2 pairs of loads.
  let need = wo4 * stride + s + 4;
  const real = wd + 2 * pad;
  if (real > need) need = real;
  return (need + 3) & ~3;
}

/** Floats of the workspace conv_depthwise_f32 needs (one zero-bordered plane + a 4-float tail buffer). */
export function depthwise_workspace_floats(h: i32, wd: i32, r: i32, s: i32, stride: i32, pad: i32): i32 {
  const ho = (h + 2 * pad - r) / stride + 1;
  const wo = (wd + 2 * pad - s) / stride + 1;
  const pw = padded_width(wd, wo, s, stride, pad);
  const ph = h + 2 * pad;
  return ph * pw + 4;
}

/** Stores the first `cnt` (< 4) lanes of v at p. */
// @ts-ignore: decorator
@inline function store_partial(p: usize, v: v128, cnt: i32): void {
  store<f32>(p, f32x4.extract_lane(v, 0));
  if (cnt > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
  if (cnt > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
}

/** Even lanes of the 8 floats at p (p, p+2, p+4, p+6). */
// @ts-ignore: decorator
@inline function evens(p: usize): v128 {
  return v128.shuffle<f32>(v128.load(p), v128.load(p, 16), 0, 2, 4, 6);
}

/** 3x3, stride 1, one output plane from the bordered plane (row stride pwb bytes). */
function dw3x3s1(pp: usize, pwb: usize, wc: usize, yc: usize, ho: i32, wo: i32): void {
  const w00 = v128.load32_splat(wc), w01 = v128.load32_splat(wc, 4), w02 = v128.load32_splat(wc, 8);
  const w10 = v128.load32_splat(wc, 12), w11 = v128.load32_splat(wc, 16), w12 = v128.load32_splat(wc, 20);
  const w20 = v128.load32_splat(wc, 24), w21 = v128.load32_splat(wc, 28), w22 = v128.load32_splat(wc, 32);
  const full = wo & ~3;
  const rem = wo - full;
  let yrow = yc;
  let row = pp;
  for (let oh = 0; oh < ho; oh++) {
    let p0 = row;
    let yp = yrow;
    const yend = yrow + (<usize>full << 2);
    while (yp < yend) {
      const p1 = p0 + pwb;
      const p2 = p1 + pwb;
      let acc = f32x4.mul(w00, v128.load(p0));
      acc = f32x4.add(acc, f32x4.mul(w01, v128.load(p0, 4)));
      acc = f32x4.add(acc, f32x4.mul(w02, v128.load(p0, 8)));
      acc = f32x4.add(acc, f32x4.mul(w10, v128.load(p1)));
      acc = f32x4.add(acc, f32x4.mul(w11, v128.load(p1, 4)));
      acc = f32x4.add(acc, f32x4.mul(w12, v128.load(p1, 8)));
      acc = f32x4.add(acc, f32x4.mul(w20, v128.load(p2)));
      acc = f32x4.add(acc, f32x4.mul(w21, v128.load(p2, 4)));
      acc = f32x4.add(acc, f32x4.mul(w22, v128.load(p2, 8)));
      v128.store(yp, acc);
      p0 += 16;
      yp += 16;
    }
    if (rem > 0) {
      const p1 = p0 + pwb;
      const p2 = p1 + pwb;
      let acc = f32x4.mul(w00, v128.load(p0));
      acc = f32x4.add(acc, f32x4.mul(w01, v128.load(p0, 4)));
      acc = f32x4.add(acc, f32x4.mul(w02, v128.load(p0, 8)));
      acc = f32x4.add(acc, f32x4.mul(w10, v128.load(p1)));
      acc = f32x4.add(acc, f32x4.mul(w11, v128.load(p1, 4)));
      acc = f32x4.add(acc, f32x4.mul(w12, v128.load(p1, 8)));
      acc = f32x4.add(acc, f32x4.mul(w20, v128.load(p2)));
      acc = f32x4.add(acc, f32x4.mul(w21, v128.load(p2, 4)));
      acc = f32x4.add(acc, f32x4.mul(w22, v128.load(p2, 8)));
      store_partial(yp, acc, rem);
    }
    row += pwb;
    yrow += <usize>wo << 2;
  }
}

/** 3x3, stride 2. */
function dw3x3s2(pp: usize, pwb: usize, wc: usize, yc: usize, ho: i32, wo: i32): void {
  const w00 = v128.load32_splat(wc), w01 = v128.load32_splat(wc, 4), w02 = v128.load32_splat(wc, 8);
  const w10 = v128.load32_splat(wc, 12), w11 = v128.load32_splat(wc, 16), w12 = v128.load32_splat(wc, 20);
  const w20 = v128.load32_splat(wc, 24), w21 = v128.load32_splat(wc, 28), w22 = v128.load32_splat(wc, 32);
  const full = wo & ~3;
  const rem = wo - full;
  let yrow = yc;
  let row = pp;
  const pwb2 = pwb << 1;
  for (let oh = 0; oh < ho; oh++) {
    let p0 = row;
    let yp = yrow;
    const yend = yrow + (<usize>full << 2);
    for (;;) {
      const last = yp >= yend;
      if (last && rem == 0) break;
      const p1 = p0 + pwb;
      const p2 = p1 + pwb;
      let a = v128.load(p0), b = v128.load(p0, 16);
      let acc = f32x4.mul(w00, v128.shuffle<f32>(a, b, 0, 2, 4, 6));
      acc = f32x4.add(acc, f32x4.mul(w01, v128.shuffle<f32>(a, b, 1, 3, 5, 7)));
      acc = f32x4.add(acc, f32x4.mul(w02, evens(p0 + 8)));
      a = v128.load(p1); b = v128.load(p1, 16);
      acc = f32x4.add(acc, f32x4.mul(w10, v128.shuffle<f32>(a, b, 0, 2, 4, 6)));
      acc = f32x4.add(acc, f32x4.mul(w11, v128.shuffle<f32>(a, b, 1, 3, 5, 7)));
      acc = f32x4.add(acc, f32x4.mul(w12, evens(p1 + 8)));
      a = v128.load(p2); b = v128.load(p2, 16);
      acc = f32x4.add(acc, f32x4.mul(w20, v128.shuffle<f32>(a, b, 0, 2, 4, 6)));
      acc = f32x4.add(acc, f32x4.mul(w21, v128.shuffle<f32>(a, b, 1, 3, 5, 7)));
      acc = f32x4.add(acc, f32x4.mul(w22, evens(p2 + 8)));
      if (last) {
        store_partial(yp, acc, rem);
        break;
      }
      v128.store(yp, acc);
      p0 += 32;
      yp += 16;
    }
    row += pwb2;
    yrow += <usize>wo << 2;
  }
}

/** Any R x S, stride 1 or 2 (weights broadcast from memory). */
function dw_general(
  pp: usize, pwb: usize, wc: usize, yc: usize, ho: i32, wo: i32, r: i32, s: i32, stride: i32,
): void {
  const full = wo & ~3;
  const rem = wo - full;
  const step = <usize>(16 * stride); // bytes of input per output vector
  let yrow = yc;
  let row = pp;
  const rowStep = pwb * <usize>stride;
  for (let oh = 0; oh < ho; oh++) {
    let p0 = row;
    for (let ow = 0; ow < wo; ow += 4) {
      let acc = f32x4.splat(0);
      let pr = p0;
      let wp = wc;
      for (let kr = 0; kr < r; kr++) {
        let px = pr;
        if (stride == 1) {
          for (let ks = 0; ks < s; ks++) {
            acc = f32x4.add(acc, f32x4.mul(v128.load32_splat(wp), v128.load(px)));
            px += 4;
            wp += 4;
          }
        } else {
          for (let ks = 0; ks < s; ks++) {
            acc = f32x4.add(acc, f32x4.mul(v128.load32_splat(wp), evens(px)));
            px += 4;
            wp += 4;
          }
        }
        pr += pwb;
      }
      const yp = yrow + (<usize>ow << 2);
      if (ow < full) v128.store(yp, acc);
      else store_partial(yp, acc, rem);
      p0 += step;
    }
    row += rowStep;
    yrow += <usize>wo << 2;
  }
}

/** Scalar path for strides >= 3. */
function dw_scalar(
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
 * Depthwise conv: x NCHW (c channels), w c x R x S, y N x c x Ho x Wo; ws: a
 * workspace of depthwise_workspace_floats(...) floats, 16-byte aligned.
 */
export function conv_depthwise_f32(
  x: usize, w: usize, y: usize, ws: usize,
  n: i32, c: i32, h: i32, wd: i32, r: i32, s: i32, stride: i32, pad: i32,
): void {
  const ho = (h + 2 * pad - r) / stride + 1;
  const wo = (wd + 2 * pad - s) / stride + 1;
  const pw = padded_width(wd, wo, s, stride, pad);
  const ph = h + 2 * pad;
  const pwb = <usize>pw << 2;
  // Zero the whole bordered plane once; channels overwrite only the interior.
  memory.fill(ws, 0, <usize>(ph * pw + 4) << 2);
  const interior = ws + <usize>pad * pwb + (<usize>pad << 2);
  const rowBytes = <usize>wd << 2;
  const rowVec = rowBytes & ~(<usize>15);
  const planeIn = <usize>(h * wd) << 2;
  const planeOut = <usize>(ho * wo) << 2;
  const wBytes = <usize>(r * s) << 2;
  let xc = x;
  let yc = y;
  for (let img = 0; img < n; img++) {
    let wc = w;
    for (let ch = 0; ch < c; ch++) {
      // Copy the channel's plane into the bordered workspace.
      let src = xc;
      let dst = interior;
      for (let ih = 0; ih < h; ih++) {
        let i: usize = 0;
        for (; i < rowVec; i += 16) v128.store(dst + i, v128.load(src + i));
        for (; i < rowBytes; i += 4) store<f32>(dst + i, load<f32>(src + i));
        src += rowBytes;
        dst += pwb;
      }
      if (r == 3 && s == 3 && stride == 1) dw3x3s1(ws, pwb, wc, yc, ho, wo);
      else if (r == 3 && s == 3 && stride == 2) dw3x3s2(ws, pwb, wc, yc, ho, wo);
      else if (stride <= 2) dw_general(ws, pwb, wc, yc, ho, wo, r, s, stride);
      else dw_scalar(ws, pwb, wc, yc, ho, wo, r, s, stride);
      xc += planeIn;
      yc += planeOut;
      wc += wBytes;
    }
  }
}
