/**
 * Scalar ceiling kernels (no SIMD, so they load on every engine): the scalar
 * f32 multiply-add peak and scalar copy / triad bandwidth loops.
 */

/**
 * Scalar f32 peak, Empirical-Roofline-Toolkit style: 12 independent chains,
 * each step `acc = acc * m + c` (one f32.mul then one f32.add: 2 FLOPs).
 * Per iteration: 12 mul + 12 add = 24 FLOPs. The chains depend on themselves,
 * so nothing is loop-invariant; with m just below 1 and c small the values
 * converge to c/(1-m) and never become subnormal, infinite or NaN.
 * Returns the sum of the accumulators so the loop cannot be removed.
 */
export function peak_f32(iters: i32, m: f32, c: f32): f32 {
  let a0: f32 = 0, a1: f32 = 1, a2: f32 = 2, a3: f32 = 3, a4: f32 = 4, a5: f32 = 5;
  let a6: f32 = 6, a7: f32 = 7, a8: f32 = 8, a9: f32 = 9, a10: f32 = 10, a11: f32 = 11;
  for (let i = 0; i < iters; i++) {
    a0 = a0 * m + c; a1 = a1 * m + c; a2 = a2 * m + c; a3 = a3 * m + c;
    a4 = a4 * m + c; a5 = a5 * m + c; a6 = a6 * m + c; a7 = a7 * m + c;
    a8 = a8 * m + c; a9 = a9 * m + c; a10 = a10 * m + c; a11 = a11 * m + c;
  }
  return ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) + ((a8 + a9) + (a10 + a11));
}

/** FLOPs per iteration of peak_f32. */
export function peak_f32_flops_per_iter(): i32 {
  return 24;
}

/** dst[i] = src[i] for i < n, repeated `passes` times (scalar f32 loads/stores). */
export function copy_f32(dst: usize, src: usize, n: i32, passes: i32): void {
  const bytes = <usize>n << 2;
  for (let p = 0; p < passes; p++) {
    for (let i: usize = 0; i < bytes; i += 4) {
      store<f32>(dst + i, load<f32>(src + i));
    }
  }
}

/** a[i] = b[i] + s * c[i] for i < n, repeated `passes` times (scalar f32). */
export function triad_f32(a: usize, b: usize, c: usize, s: f32, n: i32, passes: i32): void {
  const bytes = <usize>n << 2;
  for (let p = 0; p < passes; p++) {
    for (let i: usize = 0; i < bytes; i += 4) {
      store<f32>(a + i, load<f32>(b + i) + s * load<f32>(c + i));
    }
  }
}
