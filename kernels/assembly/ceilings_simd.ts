/**
 * WebAssembly SIMD ceiling kernels: the f32x4 multiply-add peak and the v128
 * copy / triad bandwidth loops.
 */

/**
 * f32x4 peak, Empirical-Roofline-Toolkit style: 12 independent chains of
 * `acc = acc * m + c` (f32x4.mul then f32x4.add: 8 FLOPs per pair). 12 chains
 * cover a mul+add latency of 6 cycles at 2 mul + 2 add per cycle and fit in 16
 * xmm registers with m and c. Nothing is loop-invariant (V8 would otherwise
 * re-materialise or a compiler could hoist the products). Per iteration:
 * 12 * 8 = 96 FLOPs. Values converge to c/(1-m): no subnormals, no overflow.
 */
export function peak_f32x4(iters: i32, m: f32, c: f32): f32 {
  const vm = f32x4.splat(m);
  const vc = f32x4.splat(c);
  let a0 = f32x4.splat(0), a1 = f32x4.splat(1), a2 = f32x4.splat(2), a3 = f32x4.splat(3);
  let a4 = f32x4.splat(4), a5 = f32x4.splat(5), a6 = f32x4.splat(6), a7 = f32x4.splat(7);
  let a8 = f32x4.splat(8), a9 = f32x4.splat(9), a10 = f32x4.splat(10), a11 = f32x4.splat(11);
  for (let i = 0; i < iters; i++) {
    a0 = f32x4.add(f32x4.mul(a0, vm), vc); a1 = f32x4.add(f32x4.mul(a1, vm), vc);
    a2 = f32x4.add(f32x4.mul(a2, vm), vc); a3 = f32x4.add(f32x4.mul(a3, vm), vc);
    a4 = f32x4.add(f32x4.mul(a4, vm), vc); a5 = f32x4.add(f32x4.mul(a5, vm), vc);
    a6 = f32x4.add(f32x4.mul(a6, vm), vc); a7 = f32x4.add(f32x4.mul(a7, vm), vc);
    a8 = f32x4.add(f32x4.mul(a8, vm), vc); a9 = f32x4.add(f32x4.mul(a9, vm), vc);
    a10 = f32x4.add(f32x4.mul(a10, vm), vc); a11 = f32x4.add(f32x4.mul(a11, vm), vc);
  }
  const s = f32x4.add(
    f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7))),
    f32x4.add(f32x4.add(a8, a9), f32x4.add(a10, a11)),
  );
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3);
}

/** FLOPs per iteration of peak_f32x4. */
export function peak_f32x4_flops_per_iter(): i32 {
  return 96;
}

/**
 * The GEMM micro-kernel's instruction mix without its memory hierarchy:
 * `acc += a * b` into 8 accumulators (a 4x8 tile) with the operands loaded
 * each step (2 v128 loads of b, 4 load32_splat of a) from an L1-resident
 * buffer of `bufBytes` bytes (a power of two >= 64, 16-byte aligned) that the
 * loop walks cyclically. Per iteration: 8 mul + 8 add = 64 FLOPs. This is the
 * roof a packed GEMM can reach with one load per two multiply-adds.
 */
export function peak_madd_f32x4(iters: i32, buf: usize, bufBytes: i32): f32 {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
  let c4 = f32x4.splat(0), c5 = f32x4.splat(0), c6 = f32x4.splat(0), c7 = f32x4.splat(0);
  const mask = bufBytes - 1;
  let off: i32 = 0;
  for (let i = 0; i < iters; i++) {
    const p = buf + <usize>off;
    const b0 = v128.load(p);
    const b1 = v128.load(p, 16);
    let a = v128.load32_splat(p, 32);
    c0 = f32x4.add(c0, f32x4.mul(a, b0)); c1 = f32x4.add(c1, f32x4.mul(a, b1));
    a = v128.load32_splat(p, 36);
    c2 = f32x4.add(c2, f32x4.mul(a, b0)); c3 = f32x4.add(c3, f32x4.mul(a, b1));
    a = v128.load32_splat(p, 40);
    c4 = f32x4.add(c4, f32x4.mul(a, b0)); c5 = f32x4.add(c5, f32x4.mul(a, b1));
    a = v128.load32_splat(p, 44);
    c6 = f32x4.add(c6, f32x4.mul(a, b0)); c7 = f32x4.add(c7, f32x4.mul(a, b1));
    off = (off + 48) & mask;
  }
  const s = f32x4.add(
    f32x4.add(f32x4.add(c0, c1), f32x4.add(c2, c3)),
    f32x4.add(f32x4.add(c4, c5), f32x4.add(c6, c7)),
  );
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3);
}

/** FLOPs per iteration of peak_madd_f32x4. */
export function peak_madd_f32x4_flops_per_iter(): i32 {
  return 64;
}

/**
 * dst[i] = src[i] for i < n with v128 loads/stores, repeated `passes` times.
 * n must be a multiple of 16 (64 bytes per unrolled step).
 */
export function copy_f32x4(dst: usize, src: usize, n: i32, passes: i32): void {
  const bytes = <usize>n << 2;
  for (let p = 0; p < passes; p++) {
    for (let i: usize = 0; i < bytes; i += 64) {
      const s = src + i;
      const d = dst + i;
      const v0 = v128.load(s), v1 = v128.load(s, 16), v2 = v128.load(s, 32), v3 = v128.load(s, 48);
      v128.store(d, v0); v128.store(d, v1, 16); v128.store(d, v2, 32); v128.store(d, v3, 48);
    }
  }
}

/**
 * a[i] = b[i] + s * c[i] for i < n with v128 loads/stores, repeated `passes`
 * times. n must be a multiple of 16.
 */
export function triad_f32x4(a: usize, b: usize, c: usize, s: f32, n: i32, passes: i32): void {
  const vs = f32x4.splat(s);
  const bytes = <usize>n << 2;
  for (let p = 0; p < passes; p++) {
    for (let i: usize = 0; i < bytes; i += 64) {
      const pb = b + i, pc = c + i, pa = a + i;
      const r0 = f32x4.add(v128.load(pb), f32x4.mul(vs, v128.load(pc)));
      const r1 = f32x4.add(v128.load(pb, 16), f32x4.mul(vs, v128.load(pc, 16)));
      const r2 = f32x4.add(v128.load(pb, 32), f32x4.mul(vs, v128.load(pc, 32)));
      const r3 = f32x4.add(v128.load(pb, 48), f32x4.mul(vs, v128.load(pc, 48)));
      v128.store(pa, r0); v128.store(pa, r1, 16); v128.store(pa, r2, 32); v128.store(pa, r3, 48);
    }
  }
}
