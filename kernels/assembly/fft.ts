/**
 * Tiled FFT convolution for 3x3, stride-1 layers (WebAssembly SIMD), as in
 * NNPACK: overlap-save tiles of T x T inputs (T = 8 or 16, stride T-2 between
 * tiles) give (T-2) x (T-2) outputs each.
 *
 * Why overlap-save: the product X * conj(W) of the 2D DFTs of a T x T input
 * tile and of the zero-padded 3x3 filter is the DFT of the *circular*
 * cross-correlation c[i][j] = sum_{u,v<3} x[(i+u)%T][(j+v)%T] w[u][v]; for
 * i, j <= T-3 no index wraps, so those (T-2)^2 values are the convolution's
 * outputs (the two wrapped rows and columns are discarded). Overlap-add would
 * need the output tiles summed across their borders (scattered adds);
 * overlap-save writes every output once. Cross-correlation (what conv layers
 * compute) is handled by conjugating the filter spectrum (done in prepare).
 *
 * Vector layout: every transform works on f32x4 values whose 4 lanes are 4
 * independent tiles -- 4 input channels of one tile position in the input
 * transform, 4 output channels in the output transform -- so the FFT code is
 * plain straight-line arithmetic on v128, no shuffles. A complex vector is 32
 * bytes: re (f32x4) at +0, im (f32x4) at +16.
 *
 * Pipeline of conv_fft_f32 (the timed run):
 *  0. interleave: x (NCHW) -> xi [n][C/4][Hp][Wp][4 channels] with zero
 *     borders (the caller zeroes xi once; only the interior is written), so
 *     tile loads are plain v128 loads with no bounds checks.
 *  1. input transform: 2D real FFT of each T x T tile, 4 channels at a time,
 *     into xt [slot][tile][C/4][re4, im4] (lanes = channels).
 *  2. channel reduction, per frequency slot: a complex GEMM
 *     Y[k][tile] = sum_c X[c][tile] * W'[k][c], W' = conj(FFT(w)) / T^2
 *     (prepared): 4 output channels x 1 tile per micro-kernel, 8 accumulators
 *     whose lanes are partial sums over channels (4 channels per f32x4 step),
 *     reduced at the end by a transpose-add into one vector of 4 output
 *     channels, stored to yt [K/4][tile][slot][re4, im4] (lanes = out channels).
 *  3. output transform: inverse 2D real FFT of each (4 output channels, tile),
 *     the valid (T-2)^2 outputs scattered to y (NKHW) through 4x4 transposes.
 *
 * 2D real FFT of a T x T tile (forward; the inverse mirrors it):
 *  - rows, two at a time: z = row_a + i*row_b, one complex FFT of length T,
 *    then the two half spectra A[k], B[k] (k = 0..T/2) are separated with
 *    A = (Z[k] + conj Z[T-k]) / 2, B = -i (Z[k] - conj Z[T-k]) / 2;
 *  - columns k = 1..T/2-1: complex FFT of length T;
 *  - columns 0 and T/2 are real (the row spectra's DC and Nyquist terms):
 *    packed as one complex column, one FFT, separated the same way.
 *  So a 2D real FFT costs T complex FFTs of length T plus the separations.
 * Complex FFT: radix 2, decimation in frequency (natural order in,
 * bit-reversed out) for the forward transform and decimation in time
 * (bit-reversed in, natural out) for the inverse, so no permutation pass is
 * needed. Length 8 is an unrolled codelet held in registers (twiddles 1, -i
 * free, the two odd 8th roots 2 add + 2 mul); length 16 is one radix-2 stage
 * through memory (twiddles from the plan, 1 and -i special-cased) plus two
 * 8-point codelets.
 *
 * Packed spectrum ("slots"): a real T x T signal has T*T/2 complex degrees of
 * freedom. Of the T x (T/2+1) half spectrum X[u][v], columns v = 0 and T/2 are
 * Hermitian in u, so they are kept for u = 1..T/2-1 only, and their 4 real
 * values X[0][0], X[T/2][0], X[0][T/2], X[T/2][T/2] are paired into 2 slots:
 *   slot 0: (X[0][0],  X[T/2][0])   real pair (re, im fields)
 *   slot 1: (X[0][T/2], X[T/2][T/2]) real pair
 *   slot 2 + 2(u-1):     X[u][0],   u = 1..T/2-1
 *   slot 2 + 2(u-1) + 1: X[u][T/2], u = 1..T/2-1
 *   slot T + (v-1)*T + u: X[u][v],  v = 1..T/2-1, u = 0..T-1
 * Real-pair slots multiply lane-wise (re*re, im*im); the others are complex.
 * This saves 20% (T=8) / 11% (T=16) of the reduction against T x (T/2+1).
 *
 * Plan (filled by the JS side in prepare; T*8 + T floats):
 *   [0, T/2) complex vectors:   forward twiddles e^{-2 pi i j / T} (splatted)
 *   [T/2, T) complex vectors:   inverse twiddles e^{+2 pi i j / T}
 *   then T i32:                 bit reversal of 0..T-1 in log2(T) bits
 * Workspace (fft_workspace_floats): the column buffer R ((T/2+1) columns of T
 * complex vectors), a row buffer B (T complex vectors) and an output tile
 * (T x T real vectors).
 *
 * The inverse transforms are unnormalised (scaled by T^2); the prepared
 * filter spectrum carries the 1/T^2. All pointers are byte offsets.
 */

// @ts-ignore: decorator
@inline function imin(a: i32, b: i32): i32 {
  return a < b ? a : b;
}

// @ts-ignore: decorator
@inline function rev(plan: usize, t: i32, i: i32): i32 {
  return load<i32>(plan + (<usize>t << 5) + (<usize>i << 2));
}

/** Floats of the plan for tile size t (twiddles + bit-reversal table). */
export function fft_plan_floats(t: i32): i32 {
  return t * 8 + t;
}

/** Floats of the workspace for tile size t: R, B and one output tile. */
export function fft_workspace_floats(t: i32): i32 {
  return ((t >> 1) + 1) * t * 8 + t * 8 + t * t * 4;
}

/**
 * One radix-2 decimation-in-frequency stage of span 2m over n complex vectors
 * at buf (forward twiddles tw, index step `step`: the twiddle of butterfly j
 * is e^{-2 pi i j / 2m} = tw[j * step]). Twiddles 1 and -i cost no multiply.
 */
function dif_stage(buf: usize, n: i32, m: i32, tw: usize, step: i32): void {
  const end = buf + (<usize>n << 5);
  const span = <usize>m << 5;
  const block = span << 1;
  const half = m >> 1;
  for (let j = 0; j < m; j++) {
    const off = <usize>j << 5;
    if (j == 0) {
      for (let a = buf; a < end; a += block) {
        const b = a + span;
        const ar = v128.load(a), ai = v128.load(a, 16);
        const br = v128.load(b), bi = v128.load(b, 16);
        v128.store(a, f32x4.add(ar, br));
        v128.store(a, f32x4.add(ai, bi), 16);
        v128.store(b, f32x4.sub(ar, br));
        v128.store(b, f32x4.sub(ai, bi), 16);
      }
    } else if (j == half) {
      // twiddle -i: (dr + i di) * -i = di - i dr
      for (let a = buf + off; a < end; a += block) {
        const b = a + span;
        const ar = v128.load(a), ai = v128.load(a, 16);
        const br = v128.load(b), bi = v128.load(b, 16);
        v128.store(a, f32x4.add(ar, br));
        v128.store(a, f32x4.add(ai, bi), 16);
        v128.store(b, f32x4.sub(ai, bi));
        v128.store(b, f32x4.sub(br, ar), 16);
      }
    } else {
      const w = tw + (<usize>(j * step) << 5);
      const wr = v128.load(w), wi = v128.load(w, 16);
      for (let a = buf + off; a < end; a += block) {
        const b = a + span;
        const ar = v128.load(a), ai = v128.load(a, 16);
        const br = v128.load(b), bi = v128.load(b, 16);
        v128.store(a, f32x4.add(ar, br));
        v128.store(a, f32x4.add(ai, bi), 16);
        const dr = f32x4.sub(ar, br), di = f32x4.sub(ai, bi);
        v128.store(b, f32x4.sub(f32x4.mul(dr, wr), f32x4.mul(di, wi)));
        v128.store(b, f32x4.add(f32x4.mul(dr, wi), f32x4.mul(di, wr)), 16);
      }
    }
  }
}

/**
 * One radix-2 decimation-in-time stage of span 2m (inverse twiddles twi:
 * e^{+2 pi i j / 2m} = twi[j * step]); twiddles 1 and +i cost no multiply.
 */
function dit_stage(buf: usize, n: i32, m: i32, twi: usize, step: i32): void {
  const end = buf + (<usize>n << 5);
  const span = <usize>m << 5;
  const block = span << 1;
  const half = m >> 1;
  for (let j = 0; j < m; j++) {
    const off = <usize>j << 5;
    if (j == 0) {
      for (let a = buf; a < end; a += block) {
        const b = a + span;
        const ar = v128.load(a), ai = v128.load(a, 16);
        const br = v128.load(b), bi = v128.load(b, 16);
        v128.store(a, f32x4.add(ar, br));
        v128.store(a, f32x4.add(ai, bi), 16);
        v128.store(b, f32x4.sub(ar, br));
        v128.store(b, f32x4.sub(ai, bi), 16);
      }
    } else if (j == half) {
      // twiddle +i: t = b * i = -bi + i br
      for (let a = buf + off; a < end; a += block) {
        const b = a + span;
        const ar = v128.load(a), ai = v128.load(a, 16);
        const br = v128.load(b), bi = v128.load(b, 16);
        v128.store(a, f32x4.sub(ar, bi));
        v128.store(a, f32x4.add(ai, br), 16);
        v128.store(b, f32x4.add(ar, bi));
        v128.store(b, f32x4.sub(ai, br), 16);
      }
    } else {
      const w = twi + (<usize>(j * step) << 5);
      const wr = v128.load(w), wi = v128.load(w, 16);
      for (let a = buf + off; a < end; a += block) {
        const b = a + span;
        const ar = v128.load(a), ai = v128.load(a, 16);
        const br = v128.load(b), bi = v128.load(b, 16);
        const tr = f32x4.sub(f32x4.mul(br, wr), f32x4.mul(bi, wi));
        const ti = f32x4.add(f32x4.mul(br, wi), f32x4.mul(bi, wr));
        v128.store(a, f32x4.add(ar, tr));
        v128.store(a, f32x4.add(ai, ti), 16);
        v128.store(b, f32x4.sub(ar, tr));
        v128.store(b, f32x4.sub(ai, ti), 16);
      }
    }
  }
}

/** sqrt(1/2) in f32: the real and imaginary magnitude of the 8th roots of unity. */
const SQRT_HALF: f32 = 0.70710678118654752;

/**
 * 8-point forward complex FFT codelet (decimation in frequency, unrolled, in
 * registers): 8 complex vectors at buf, natural order in, bit-reversed out.
 * Twiddles 1, -i (free) and e^{-i pi/4}, e^{-3i pi/4} (2 add + 2 mul each):
 * 52 adds + 4 muls = 56 flops per lane.
 */
function fft8_dif(buf: usize): void {
  const c = f32x4.splat(SQRT_HALF);
  const nc = f32x4.splat(-SQRT_HALF);
  const x0r = v128.load(buf), x0i = v128.load(buf, 16);
  const x1r = v128.load(buf, 32), x1i = v128.load(buf, 48);
  const x2r = v128.load(buf, 64), x2i = v128.load(buf, 80);
  const x3r = v128.load(buf, 96), x3i = v128.load(buf, 112);
  const x4r = v128.load(buf, 128), x4i = v128.load(buf, 144);
  const x5r = v128.load(buf, 160), x5i = v128.load(buf, 176);
  const x6r = v128.load(buf, 192), x6i = v128.load(buf, 208);
  const x7r = v128.load(buf, 224), x7i = v128.load(buf, 240);
  // Stage 1: (j, j+4), twiddles 1, e^{-i pi/4} = c(1 - i), -i, e^{-3i pi/4} = -c(1 + i).
  const a0r = f32x4.add(x0r, x4r), a0i = f32x4.add(x0i, x4i);
  const a1r = f32x4.add(x1r, x5r), a1i = f32x4.add(x1i, x5i);
  const a2r = f32x4.add(x2r, x6r), a2i = f32x4.add(x2i, x6i);
  const a3r = f32x4.add(x3r, x7r), a3i = f32x4.add(x3i, x7i);
  const b0r = f32x4.sub(x0r, x4r), b0i = f32x4.sub(x0i, x4i);
  const d1r = f32x4.sub(x1r, x5r), d1i = f32x4.sub(x1i, x5i);
  const b1r = f32x4.mul(c, f32x4.add(d1r, d1i)), b1i = f32x4.mul(c, f32x4.sub(d1i, d1r));
  const b2r = f32x4.sub(x2i, x6i), b2i = f32x4.sub(x6r, x2r);
  const d3r = f32x4.sub(x3r, x7r), d3i = f32x4.sub(x3i, x7i);
  const b3r = f32x4.mul(c, f32x4.sub(d3i, d3r)), b3i = f32x4.mul(nc, f32x4.add(d3r, d3i));
  // Stages 2 and 3 on the first half (a): outputs 0..3.
  {
    const e0r = f32x4.add(a0r, a2r), e0i = f32x4.add(a0i, a2i);
    const e2r = f32x4.sub(a0r, a2r), e2i = f32x4.sub(a0i, a2i);
    const e1r = f32x4.add(a1r, a3r), e1i = f32x4.add(a1i, a3i);
    const e3r = f32x4.sub(a1i, a3i), e3i = f32x4.sub(a3r, a1r);
    v128.store(buf, f32x4.add(e0r, e1r)); v128.store(buf, f32x4.add(e0i, e1i), 16);
    v128.store(buf, f32x4.sub(e0r, e1r), 32); v128.store(buf, f32x4.sub(e0i, e1i), 48);
    v128.store(buf, f32x4.add(e2r, e3r), 64); v128.store(buf, f32x4.add(e2i, e3i), 80);
    v128.store(buf, f32x4.sub(e2r, e3r), 96); v128.store(buf, f32x4.sub(e2i, e3i), 112);
  }
  // Second half (b): outputs 4..7.
  {
    const e0r = f32x4.add(b0r, b2r), e0i = f32x4.add(b0i, b2i);
    const e2r = f32x4.sub(b0r, b2r), e2i = f32x4.sub(b0i, b2i);
    const e1r = f32x4.add(b1r, b3r), e1i = f32x4.add(b1i, b3i);
    const e3r = f32x4.sub(b1i, b3i), e3i = f32x4.sub(b3r, b1r);
    v128.store(buf, f32x4.add(e0r, e1r), 128); v128.store(buf, f32x4.add(e0i, e1i), 144);
    v128.store(buf, f32x4.sub(e0r, e1r), 160); v128.store(buf, f32x4.sub(e0i, e1i), 176);
    v128.store(buf, f32x4.add(e2r, e3r), 192); v128.store(buf, f32x4.add(e2i, e3i), 208);
    v128.store(buf, f32x4.sub(e2r, e3r), 224); v128.store(buf, f32x4.sub(e2i, e3i), 240);
  }
}

/**
 * 8-point unnormalised inverse complex FFT codelet (decimation in time,
 * unrolled): bit-reversed order in, natural order out; 56 flops per lane.
 */
function ifft8_dit(buf: usize): void {
  const c = f32x4.splat(SQRT_HALF);
  const nc = f32x4.splat(-SQRT_HALF);
  // Stages 1 and 2 on each half: positions 0..3 give E[0..3], 4..7 give O[0..3].
  let e0r: v128, e0i: v128, e1r: v128, e1i: v128, e2r: v128, e2i: v128, e3r: v128, e3i: v128;
  {
    const y0r = v128.load(buf), y0i = v128.load(buf, 16);
    const y1r = v128.load(buf, 32), y1i = v128.load(buf, 48);
    const y2r = v128.load(buf, 64), y2i = v128.load(buf, 80);
    const y3r = v128.load(buf, 96), y3i = v128.load(buf, 112);
    const p0r = f32x4.add(y0r, y1r), p0i = f32x4.add(y0i, y1i);
    const p1r = f32x4.sub(y0r, y1r), p1i = f32x4.sub(y0i, y1i);
    const p2r = f32x4.add(y2r, y3r), p2i = f32x4.add(y2i, y3i);
    const p3r = f32x4.sub(y2r, y3r), p3i = f32x4.sub(y2i, y3i);
    e0r = f32x4.add(p0r, p2r); e0i = f32x4.add(p0i, p2i);
    e2r = f32x4.sub(p0r, p2r); e2i = f32x4.sub(p0i, p2i);
    // twiddle +i on p3: t = (-p3i, p3r)
    e1r = f32x4.sub(p1r, p3i); e1i = f32x4.add(p1i, p3r);
    e3r = f32x4.add(p1r, p3i); e3i = f32x4.sub(p1i, p3r);
  }
  let o0r: v128, o0i: v128, o1r: v128, o1i: v128, o2r: v128, o2i: v128, o3r: v128, o3i: v128;
  {
    const y0r = v128.load(buf, 128), y0i = v128.load(buf, 144);
    const y1r = v128.load(buf, 160), y1i = v128.load(buf, 176);
    const y2r = v128.load(buf, 192), y2i = v128.load(buf, 208);
    const y3r = v128.load(buf, 224), y3i = v128.load(buf, 240);
    const p0r = f32x4.add(y0r, y1r), p0i = f32x4.add(y0i, y1i);
    const p1r = f32x4.sub(y0r, y1r), p1i = f32x4.sub(y0i, y1i);
    const p2r = f32x4.add(y2r, y3r), p2i = f32x4.add(y2i, y3i);
    const p3r = f32x4.sub(y2r, y3r), p3i = f32x4.sub(y2i, y3i);
    o0r = f32x4.add(p0r, p2r); o0i = f32x4.add(p0i, p2i);
    o2r = f32x4.sub(p0r, p2r); o2i = f32x4.sub(p0i, p2i);
    o1r = f32x4.sub(p1r, p3i); o1i = f32x4.add(p1i, p3r);
    o3r = f32x4.add(p1r, p3i); o3i = f32x4.sub(p1i, p3r);
  }
  // Stage 3: y[j] = E[j] + w^j O[j], y[j+4] = E[j] - w^j O[j], w = e^{+i pi/4}.
  // j = 1: O * c(1 + i) = c(or - oi) + i c(or + oi); j = 2: O * i; j = 3: O * c(-1 + i) = -c(or + oi) + i c(or - oi).
  const t1r = f32x4.mul(c, f32x4.sub(o1r, o1i)), t1i = f32x4.mul(c, f32x4.add(o1r, o1i));
  const t3r = f32x4.mul(nc, f32x4.add(o3r, o3i)), t3i = f32x4.mul(c, f32x4.sub(o3r, o3i));
  v128.store(buf, f32x4.add(e0r, o0r)); v128.store(buf, f32x4.add(e0i, o0i), 16);
  v128.store(buf, f32x4.add(e1r, t1r), 32); v128.store(buf, f32x4.add(e1i, t1i), 48);
  v128.store(buf, f32x4.sub(e2r, o2i), 64); v128.store(buf, f32x4.add(e2i, o2r), 80);
  v128.store(buf, f32x4.add(e3r, t3r), 96); v128.store(buf, f32x4.add(e3i, t3i), 112);
  v128.store(buf, f32x4.sub(e0r, o0r), 128); v128.store(buf, f32x4.sub(e0i, o0i), 144);
  v128.store(buf, f32x4.sub(e1r, t1r), 160); v128.store(buf, f32x4.sub(e1i, t1i), 176);
  v128.store(buf, f32x4.add(e2r, o2i), 192); v128.store(buf, f32x4.sub(e2i, o2r), 208);
  v128.store(buf, f32x4.sub(e3r, t3r), 224); v128.store(buf, f32x4.sub(e3i, t3i), 240);
}

/**
 * Forward complex FFT of t (8 or 16) vectors at buf, natural order in,
 * bit-reversed out: the 8-point codelet, or for 16 one radix-2 DIF stage
 * (twiddles from the plan) followed by the codelet on each half.
 */
function cfft_fwd(buf: usize, t: i32, plan: usize): void {
  if (t == 16) {
    dif_stage(buf, 16, 8, plan, 1);
    fft8_dif(buf);
    fft8_dif(buf + 256);
  } else {
    fft8_dif(buf);
  }
}

/** Unnormalised inverse complex FFT of t (8 or 16) vectors, bit-reversed in, natural out. */
function cfft_inv(buf: usize, t: i32, plan: usize): void {
  if (t == 16) {
    ifft8_dit(buf);
    ifft8_dit(buf + 256);
    dit_stage(buf, 16, 8, plan + (8 << 5), 1);
  } else {
    ifft8_dit(buf);
  }
}

/**
 * One complex FFT of length t (8 or 16, the plan's tile size) on t complex
 * vectors at buf: forward (inverse = 0; output bit-reversed) or unnormalised
 * inverse (inverse = 1; input bit-reversed). Exported for the tests of the codelets.
 */
export function fft_complex_f32x4(buf: usize, t: i32, plan: usize, inverse: i32): void {
  if (inverse != 0) cfft_inv(buf, t, plan);
  else cfft_fwd(buf, t, plan);
}

/**
 * Forward 2D real FFT of a t x t tile of real vectors (src: row r, column j at
 * src + r*rowStride + j*16) into the packed spectrum: slot s at
 * out + s*slotStride (re, then im 16 bytes later). ws: fft_workspace_floats(t).
 */
export function fft2d_forward_f32x4(src: usize, rowStride: usize, out: usize, slotStride: usize, t: i32, plan: usize, ws: usize): void {
  const h = t >> 1;
  const colBytes = <usize>t << 5;
  const R = ws;
  const B = ws + <usize>(h + 1) * colBytes;
  const half = f32x4.splat(0.5);
  // Rows, two at a time.
  for (let q = 0; q < h; q++) {
    const ra = src + <usize>(2 * q) * rowStride;
    const rb = ra + rowStride;
    for (let j = 0; j < t; j++) {
      const d = B + (<usize>j << 5);
      v128.store(d, v128.load(ra + (<usize>j << 4)));
      v128.store(d, v128.load(rb + (<usize>j << 4)), 16);
    }
    cfft_fwd(B, t, plan);
    const da = R + (<usize>(2 * q) << 5);
    // k = 0 and k = h: A and B are real (only their re parts are kept).
    {
      const z0 = B + (<usize>rev(plan, t, 0) << 5);
      v128.store(da, v128.load(z0));
      v128.store(da, v128.load(z0, 16), 32);
      const zh = B + (<usize>rev(plan, t, h) << 5);
      const dh = da + <usize>h * colBytes;
      v128.store(dh, v128.load(zh));
      v128.store(dh, v128.load(zh, 16), 32);
    }
    for (let k = 1; k < h; k++) {
      const zk = B + (<usize>rev(plan, t, k) << 5);
      const zm = B + (<usize>rev(plan, t, t - k) << 5);
      const kr = v128.load(zk), ki = v128.load(zk, 16);
      const mr = v128.load(zm), mi = v128.load(zm, 16);
      const d = da + <usize>k * colBytes;
      v128.store(d, f32x4.mul(f32x4.add(kr, mr), half));
      v128.store(d, f32x4.mul(f32x4.sub(ki, mi), half), 16);
      v128.store(d, f32x4.mul(f32x4.add(ki, mi), half), 32);
      v128.store(d, f32x4.mul(f32x4.sub(mr, kr), half), 48);
    }
  }
  // Interior columns v = 1..h-1.
  for (let v = 1; v < h; v++) {
    const col = R + <usize>v * colBytes;
    cfft_fwd(col, t, plan);
    const so = out + <usize>(t + (v - 1) * t) * slotStride;
    for (let p = 0; p < t; p++) {
      const s = col + (<usize>p << 5);
      const d = so + <usize>rev(plan, t, p) * slotStride;
      v128.store(d, v128.load(s));
      v128.store(d, v128.load(s, 16), 16);
    }
  }
  // Columns 0 and h (real) packed as one complex column.
  const c0 = R;
  const ch = R + <usize>h * colBytes;
  for (let r = 0; r < t; r++) {
    const o = <usize>r << 5;
    v128.store(c0 + o, v128.load(ch + o), 16);
  }
  cfft_fwd(c0, t, plan);
  {
    const z0 = c0 + (<usize>rev(plan, t, 0) << 5);
    const zh = c0 + (<usize>rev(plan, t, h) << 5);
    // u = 0 and u = h: both columns real there.
    v128.store(out, v128.load(z0));
    v128.store(out, v128.load(zh), 16);
    v128.store(out + slotStride, v128.load(z0, 16));
    v128.store(out + slotStride, v128.load(zh, 16), 16);
  }
  for (let u = 1; u < h; u++) {
    const zk = c0 + (<usize>rev(plan, t, u) << 5);
    const zm = c0 + (<usize>rev(plan, t, t - u) << 5);
    const kr = v128.load(zk), ki = v128.load(zk, 16);
    const mr = v128.load(zm), mi = v128.load(zm, 16);
    const d0 = out + <usize>(2 + 2 * (u - 1)) * slotStride;
    const d1 = d0 + slotStride;
    v128.store(d0, f32x4.mul(f32x4.add(kr, mr), half));
    v128.store(d0, f32x4.mul(f32x4.sub(ki, mi), half), 16);
    v128.store(d1, f32x4.mul(f32x4.add(ki, mi), half));
    v128.store(d1, f32x4.mul(f32x4.sub(mr, kr), half), 16);
  }
}

/**
 * Unnormalised inverse of fft2d_forward_f32x4 (the result is t*t times the
 * signal): packed spectrum (slot s at inp + s*slotStride) -> the first `rows`
 * rows (even, <= t) of the t x t real tile, written as rows of t vectors at
 * out (row stride t*16 bytes).
 */
export function fft2d_inverse_f32x4(inp: usize, slotStride: usize, out: usize, rows: i32, t: i32, plan: usize, ws: usize): void {
  const h = t >> 1;
  const colBytes = <usize>t << 5;
  const R = ws;
  const B = ws + <usize>(h + 1) * colBytes;
  // Interior columns v = 1..h-1.
  for (let v = 1; v < h; v++) {
    const col = R + <usize>v * colBytes;
    const so = inp + <usize>(t + (v - 1) * t) * slotStride;
    for (let u = 0; u < t; u++) {
      const s = so + <usize>u * slotStride;
      const d = col + (<usize>rev(plan, t, u) << 5);
      v128.store(d, v128.load(s));
      v128.store(d, v128.load(s, 16), 16);
    }
    cfft_inv(col, t, plan);
  }
  // Columns 0 and h: Z[u] = Y[u][0] + i Y[u][h], extended by Hermitian symmetry.
  const c0 = R;
  {
    const p0 = inp, p1 = inp + slotStride;
    const d0 = c0 + (<usize>rev(plan, t, 0) << 5);
    v128.store(d0, v128.load(p0));
    v128.store(d0, v128.load(p1), 16);
    const dh = c0 + (<usize>rev(plan, t, h) << 5);
    v128.store(dh, v128.load(p0, 16));
    v128.store(dh, v128.load(p1, 16), 16);
  }
  for (let u = 1; u < h; u++) {
    const s0 = inp + <usize>(2 + 2 * (u - 1)) * slotStride;
    const s1 = s0 + slotStride;
    const y0r = v128.load(s0), y0i = v128.load(s0, 16);
    const y1r = v128.load(s1), y1i = v128.load(s1, 16);
    const dk = c0 + (<usize>rev(plan, t, u) << 5);
    const dm = c0 + (<usize>rev(plan, t, t - u) << 5);
    v128.store(dk, f32x4.sub(y0r, y1i));
    v128.store(dk, f32x4.add(y0i, y1r), 16);
    v128.store(dm, f32x4.add(y0r, y1i));
    v128.store(dm, f32x4.sub(y1r, y0i), 16);
  }
  cfft_inv(c0, t, plan);
  // Rows, two at a time: Z[k] = A[k] + i B[k], extended by Hermitian symmetry.
  const rowBytes = <usize>t << 4;
  for (let q = 0; q < rows; q += 2) {
    const ra = <usize>q << 5;
    {
      const za = c0 + ra;
      const d0 = B + (<usize>rev(plan, t, 0) << 5);
      v128.store(d0, v128.load(za));
      v128.store(d0, v128.load(za, 32), 16);
      const dh = B + (<usize>rev(plan, t, h) << 5);
      v128.store(dh, v128.load(za, 16));
      v128.store(dh, v128.load(za, 48), 16);
    }
    for (let k = 1; k < h; k++) {
      const s = R + <usize>k * colBytes + ra;
      const ar = v128.load(s), ai = v128.load(s, 16);
      const br = v128.load(s, 32), bi = v128.load(s, 48);
      const dk = B + (<usize>rev(plan, t, k) << 5);
      const dm = B + (<usize>rev(plan, t, t - k) << 5);
      v128.store(dk, f32x4.sub(ar, bi));
      v128.store(dk, f32x4.add(ai, br), 16);
      v128.store(dm, f32x4.add(ar, bi));
      v128.store(dm, f32x4.sub(br, ai), 16);
    }
    cfft_inv(B, t, plan);
    const oa = out + <usize>q * rowBytes;
    const ob = oa + rowBytes;
    for (let j = 0; j < t; j++) {
      const s = B + (<usize>j << 5);
      v128.store(oa + (<usize>j << 4), v128.load(s));
      v128.store(ob + (<usize>j << 4), v128.load(s, 16));
    }
  }
}

/**
 * Transpose-add: the 4 lanes of each of a, b, c, d summed, as one vector
 * [sum a, sum b, sum c, sum d].
 */
// @ts-ignore: decorator
@inline function hsum4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = f32x4.add(v128.shuffle<f32>(a, b, 0, 4, 1, 5), v128.shuffle<f32>(a, b, 2, 6, 3, 7));
  const cd = f32x4.add(v128.shuffle<f32>(c, d, 0, 4, 1, 5), v128.shuffle<f32>(c, d, 2, 6, 3, 7));
  return f32x4.add(v128.shuffle<f32>(ab, cd, 0, 1, 4, 5), v128.shuffle<f32>(ab, cd, 2, 3, 6, 7));
}

/**
 * Complex micro-kernel: for 4 output channels and one tile of one frequency
 * slot, y[kk] = sum over c of x[c] * w[kk][c]. x: C/4 complex vectors (lanes =
 * channels), w: C/4 groups of 4 complex vectors (one per output channel),
 * xEnd: x + C/4 * 32. Stores re (lanes = the 4 output channels) at y, im at y+16.
 * Each complex product is formed first and then added (acc += xr*wr - xi*wi):
 * one add per step on each accumulator's dependency chain; chaining both
 * terms into the accumulator ((acc + xr*wr) - xi*wi) measured 30 instead of
 * 36 GFLOP/s (Zen 4, Node 20). Live values: 8 accumulators, x, one w pair
 * and two products (14 of the 15 xmm registers V8 allocates on x64).
 */
function dot4_complex(x: usize, xEnd: usize, w: usize, y: usize): void {
  let r0 = f32x4.splat(0), i0 = f32x4.splat(0);
  let r1 = f32x4.splat(0), i1 = f32x4.splat(0);
  let r2 = f32x4.splat(0), i2 = f32x4.splat(0);
  let r3 = f32x4.splat(0), i3 = f32x4.splat(0);
  while (x < xEnd) {
    const xr = v128.load(x), xi = v128.load(x, 16);
    let wr = v128.load(w), wi = v128.load(w, 16);
    r0 = f32x4.add(r0, f32x4.sub(f32x4.mul(xr, wr), f32x4.mul(xi, wi)));
    i0 = f32x4.add(i0, f32x4.add(f32x4.mul(xr, wi), f32x4.mul(xi, wr)));
    wr = v128.load(w, 32); wi = v128.load(w, 48);
    r1 = f32x4.add(r1, f32x4.sub(f32x4.mul(xr, wr), f32x4.mul(xi, wi)));
    i1 = f32x4.add(i1, f32x4.add(f32x4.mul(xr, wi), f32x4.mul(xi, wr)));
    wr = v128.load(w, 64); wi = v128.load(w, 80);
    r2 = f32x4.add(r2, f32x4.sub(f32x4.mul(xr, wr), f32x4.mul(xi, wi)));
    i2 = f32x4.add(i2, f32x4.add(f32x4.mul(xr, wi), f32x4.mul(xi, wr)));
    wr = v128.load(w, 96); wi = v128.load(w, 112);
    r3 = f32x4.add(r3, f32x4.sub(f32x4.mul(xr, wr), f32x4.mul(xi, wi)));
    i3 = f32x4.add(i3, f32x4.add(f32x4.mul(xr, wi), f32x4.mul(xi, wr)));
    x += 32;
    w += 128;
  }
  v128.store(y, hsum4(r0, r1, r2, r3));
  v128.store(y, hsum4(i0, i1, i2, i3), 16);
}

/** Real-pair micro-kernel (slots 0 and 1): re and im fields multiply lane-wise. */
function dot4_pair(x: usize, xEnd: usize, w: usize, y: usize): void {
  let r0 = f32x4.splat(0), i0 = f32x4.splat(0);
  let r1 = f32x4.splat(0), i1 = f32x4.splat(0);
  let r2 = f32x4.splat(0), i2 = f32x4.splat(0);
  let r3 = f32x4.splat(0), i3 = f32x4.splat(0);
  while (x < xEnd) {
    const xr = v128.load(x), xi = v128.load(x, 16);
    r0 = f32x4.add(r0, f32x4.mul(xr, v128.load(w)));
    i0 = f32x4.add(i0, f32x4.mul(xi, v128.load(w, 16)));
    r1 = f32x4.add(r1, f32x4.mul(xr, v128.load(w, 32)));
    i1 = f32x4.add(i1, f32x4.mul(xi, v128.load(w, 48)));
    r2 = f32x4.add(r2, f32x4.mul(xr, v128.load(w, 64)));
    i2 = f32x4.add(i2, f32x4.mul(xi, v128.load(w, 80)));
    r3 = f32x4.add(r3, f32x4.mul(xr, v128.load(w, 96)));
    i3 = f32x4.add(i3, f32x4.mul(xi, v128.load(w, 112)));
    x += 32;
    w += 128;
  }
  v128.store(y, hsum4(r0, r1, r2, r3));
  v128.store(y, hsum4(i0, i1, i2, i3), 16);
}

/**
 * The channel reduction for all slots: xt [slot][tile][C/4] complex vectors,
 * wt [slot][K/4][C/4][4] complex vectors, yt [K/4][tile][slot] complex vectors
 * (lanes = 4 output channels). For each slot the prepared weights of 4 output
 * channels (4*C*8 bytes) stay in L1 while all tiles stream past.
 */
export function fft_reduce_f32x4(xt: usize, wt: usize, yt: usize, slots: i32, k4: i32, c4: i32, nt: i32): void {
  const xRow = <usize>c4 << 5;
  const wGroup = <usize>c4 << 7;
  const yStep = <usize>slots << 5;
  for (let s = 0; s < slots; s++) {
    const xs = xt + <usize>s * <usize>nt * xRow;
    const wsl = wt + <usize>s * <usize>k4 * wGroup;
    for (let kg = 0; kg < k4; kg++) {
      const w = wsl + <usize>kg * wGroup;
      let y = yt + ((<usize>kg * <usize>nt * <usize>slots + <usize>s) << 5);
      let x = xs;
      const xEnd = xs + <usize>nt * xRow;
      if (s < 2) {
        while (x < xEnd) {
          dot4_pair(x, x + xRow, w, y);
          x += xRow;
          y += yStep;
        }
      } else {
        while (x < xEnd) {
          dot4_complex(x, x + xRow, w, y);
          x += xRow;
          y += yStep;
        }
      }
    }
  }
}

/**
 * x (NCHW) -> the interior of xi [n][C/4][hp][wp][4] at offset (pad, pad);
 * lanes of channels >= c are not written (the caller keeps xi zeroed).
 */
function interleave(x: usize, xi: usize, n: i32, c: i32, h: i32, wd: i32, pad: i32, hp: i32, wp: i32): void {
  const c4 = (c + 3) >> 2;
  const plane = <usize>(h * wd) << 2;
  for (let img = 0; img < n; img++) {
    for (let cg = 0; cg < c4; cg++) {
      const lanes = imin(4, c - 4 * cg);
      const xc = x + <usize>(img * c + 4 * cg) * plane;
      const xg = xi + (<usize>((img * c4 + cg) * hp) * <usize>wp << 4);
      for (let yy = 0; yy < h; yy++) {
        const s = xc + (<usize>(yy * wd) << 2);
        const d = xg + (<usize>((yy + pad) * wp + pad) << 4);
        let xx = 0;
        if (lanes == 4) {
          for (; xx + 4 <= wd; xx += 4) {
            const o = <usize>xx << 2;
            const a = v128.load(s + o);
            const b = v128.load(s + plane + o);
            const cc = v128.load(s + 2 * plane + o);
            const dd = v128.load(s + 3 * plane + o);
            const t0 = v128.shuffle<f32>(a, b, 0, 4, 1, 5);
            const t1 = v128.shuffle<f32>(a, b, 2, 6, 3, 7);
            const t2 = v128.shuffle<f32>(cc, dd, 0, 4, 1, 5);
            const t3 = v128.shuffle<f32>(cc, dd, 2, 6, 3, 7);
            const q = d + (<usize>xx << 4);
            v128.store(q, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
            v128.store(q, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7), 16);
            v128.store(q, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5), 32);
            v128.store(q, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7), 48);
          }
        }
        for (; xx < wd; xx++) {
          const o = <usize>xx << 2;
          const q = d + (<usize>xx << 4);
          for (let l = 0; l < lanes; l++) store<f32>(q + (<usize>l << 2), load<f32>(s + <usize>l * plane + o));
        }
      }
    }
  }
}

/**
 * Writes rows x cols of an output tile (rows of t vectors, lanes = `lanes`
 * output channels, at tile) to y at yp (the first channel's top-left output;
 * row stride wo floats, channel plane `plane` bytes).
 */
function scatter(tile: usize, t: i32, yp: usize, wo: i32, plane: usize, rows: i32, cols: i32, lanes: i32): void {
  const rowBytes = <usize>t << 4;
  for (let i = 0; i < rows; i++) {
    const s = tile + <usize>i * rowBytes;
    const d = yp + (<usize>(i * wo) << 2);
    let j = 0;
    if (lanes == 4) {
      for (; j + 4 <= cols; j += 4) {
        const q = s + (<usize>j << 4);
        const a = v128.load(q), b = v128.load(q, 16), c = v128.load(q, 32), e = v128.load(q, 48);
        const t0 = v128.shuffle<f32>(a, b, 0, 4, 1, 5);
        const t1 = v128.shuffle<f32>(a, b, 2, 6, 3, 7);
        const t2 = v128.shuffle<f32>(c, e, 0, 4, 1, 5);
        const t3 = v128.shuffle<f32>(c, e, 2, 6, 3, 7);
        const o = d + (<usize>j << 2);
        v128.store(o, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
        v128.store(o + plane, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7));
        v128.store(o + 2 * plane, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5));
        v128.store(o + 3 * plane, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7));
      }
    }
    for (; j < cols; j++) {
      const q = s + (<usize>j << 4);
      const o = d + (<usize>j << 2);
      for (let l = 0; l < lanes; l++) store<f32>(o + <usize>l * plane, load<f32>(q + (<usize>l << 2)));
    }
  }
}

/**
 * 3x3, stride-1 convolution by tiled FFT (overlap-save, tile t = 8 or 16).
 * x: NCHW input; y: NKHW output (fully overwritten); the others are buffers
 * the caller allocates (floats; o = t-2, tiles = ceil(Ho/o) x ceil(Wo/o),
 * nt = n * tiles, c4 = ceil(c/4), k4 = ceil(k/4), slots = t*t/2):
 *   xi: n*c4*hp*wp*4 with hp = tilesY*o + 2, wp = tilesX*o + 2, zeroed once
 *       (only its interior is written here);
 *   xt: slots*nt*c4*8;   wt: slots*k4*c4*32 (prepared: conj(FFT(w)) / t^2);
 *   yt: k4*nt*slots*8;   plan: fft_plan_floats(t);   ws: fft_workspace_floats(t).
 */
export function conv_fft_f32(
  x: usize, y: usize, xi: usize, xt: usize, wt: usize, yt: usize, plan: usize, ws: usize,
  n: i32, c: i32, h: i32, wd: i32, k: i32, pad: i32, t: i32,
): void {
  const o = t - 2;
  const ho = h + 2 * pad - 2;
  const wo = wd + 2 * pad - 2;
  const tilesY = (ho + o - 1) / o;
  const tilesX = (wo + o - 1) / o;
  const hp = tilesY * o + 2;
  const wp = tilesX * o + 2;
  const c4 = (c + 3) >> 2;
  const k4 = (k + 3) >> 2;
  const slots = (t * t) >> 1;
  const nt = n * tilesY * tilesX;

  interleave(x, xi, n, c, h, wd, pad, hp, wp);

  // Input transform: every (image, tile, 4 channels); channel groups innermost so
  // that consecutive transforms fill adjacent 32-byte halves of each slot's cache lines.
  const xRow = <usize>c4 << 5;
  const xSlot = <usize>nt * xRow;
  const rowStride = <usize>wp << 4;
  const planeStride = <usize>hp * rowStride;
  for (let img = 0; img < n; img++) {
    for (let ty = 0; ty < tilesY; ty++) {
      for (let tx = 0; tx < tilesX; tx++) {
        const tt = (img * tilesY + ty) * tilesX + tx;
        let src = xi + <usize>(img * c4) * planeStride + <usize>(ty * o) * rowStride + (<usize>(tx * o) << 4);
        let dst = xt + <usize>tt * xRow;
        for (let cg = 0; cg < c4; cg++) {
          fft2d_forward_f32x4(src, rowStride, dst, xSlot, t, plan, ws);
          src += planeStride;
          dst += 32;
        }
      }
    }
  }

  fft_reduce_f32x4(xt, wt, yt, slots, k4, c4, nt);

  // Output transform: every (image, 4 output channels, tile).
  const tile = ws + (<usize>fft_workspace_floats(t) << 2) - (<usize>(t * t) << 4);
  const plane = <usize>(ho * wo) << 2;
  for (let img = 0; img < n; img++) {
    for (let kg = 0; kg < k4; kg++) {
      const lanes = imin(4, k - 4 * kg);
      for (let ty = 0; ty < tilesY; ty++) {
        const rows = imin(o, ho - ty * o);
        for (let tx = 0; tx < tilesX; tx++) {
          const tt = (img * tilesY + ty) * tilesX + tx;
          fft2d_inverse_f32x4(yt + (<usize>(kg * nt + tt) * <usize>slots << 5), 32, tile, o, t, plan, ws);
          const cols = imin(o, wo - tx * o);
          const yp = y + <usize>(img * k + 4 * kg) * plane + (<usize>((ty * o) * wo + tx * o) << 2);
          scatter(tile, t, yp, wo, plane, rows, cols, lanes);
        }
      }
    }
  }
}
