/**
 * The int8 arithmetic ceiling of WebAssembly SIMD: i32x4.dot_i16x8_s chains
 * (the instruction the int8 kernels multiply with), counted in GOP/s with a
 * multiply-add as 2 operations, as FLOPs are.
 */

/**
 * 12 independent chains of acc = dot(acc, m) + c (i32x4.dot_i16x8_s reading
 * the accumulator's bits as int16 lanes, then i32x4.add): each step depends on
 * the previous one, so nothing is loop-invariant, and integer wrap-around
 * keeps every value defined. One dot is 8 int16 multiply-adds (16 operations)
 * and the add is one more per lane (4): counted as 16 operations per chain and
 * iteration, the multiply-adds alone, so the figure compares with the kernels'
 * 2 * MACs. Per iteration: 12 * 16 = 192.
 */
export function peak_dot_i16x8(iters: i32, m: i32, c: i32): i32 {
  const vm = i16x8.splat(<i16>m);
  const vc = i32x4.splat(c);
  let a0 = i32x4.splat(0), a1 = i32x4.splat(1), a2 = i32x4.splat(2), a3 = i32x4.splat(3);
  let a4 = i32x4.splat(4), a5 = i32x4.splat(5), a6 = i32x4.splat(6), a7 = i32x4.splat(7);
  let a8 = i32x4.splat(8), a9 = i32x4.splat(9), a10 = i32x4.splat(10), a11 = i32x4.splat(11);
  for (let i = 0; i < iters; i++) {
    a0 = i32x4.add(i32x4.dot_i16x8_s(a0, vm), vc); a1 = i32x4.add(i32x4.dot_i16x8_s(a1, vm), vc);
    a2 = i32x4.add(i32x4.dot_i16x8_s(a2, vm), vc); a3 = i32x4.add(i32x4.dot_i16x8_s(a3, vm), vc);
    a4 = i32x4.add(i32x4.dot_i16x8_s(a4, vm), vc); a5 = i32x4.add(i32x4.dot_i16x8_s(a5, vm), vc);
    a6 = i32x4.add(i32x4.dot_i16x8_s(a6, vm), vc); a7 = i32x4.add(i32x4.dot_i16x8_s(a7, vm), vc);
    a8 = i32x4.add(i32x4.dot_i16x8_s(a8, vm), vc); a9 = i32x4.add(i32x4.dot_i16x8_s(a9, vm), vc);
    a10 = i32x4.add(i32x4.dot_i16x8_s(a10, vm), vc); a11 = i32x4.add(i32x4.dot_i16x8_s(a11, vm), vc);
  }
  const s = i32x4.add(
    i32x4.add(i32x4.add(i32x4.add(a0, a1), i32x4.add(a2, a3)), i32x4.add(i32x4.add(a4, a5), i32x4.add(a6, a7))),
    i32x4.add(i32x4.add(a8, a9), i32x4.add(a10, a11)),
  );
  return i32x4.extract_lane(s, 0) ^ i32x4.extract_lane(s, 1) ^ i32x4.extract_lane(s, 2) ^ i32x4.extract_lane(s, 3);
}

/** Operations per iteration of peak_dot_i16x8. */
export function peak_dot_i16x8_ops_per_iter(): i32 {
  return 192;
}

/**
 * The int8 GEMM micro-kernel's instruction mix without its memory hierarchy (qgemm.ts qukernel):
 * `acc += dot_i16x8_s(a, b)` into 8 int32x4 accumulators (a 4x8 tile over pairs of the reduction)
 * with the operands loaded each step (2 v128 loads of b, 4 load32_splat of a) from an L1-resident
 * buffer of `bufBytes` bytes (a power of two >= 64, 16-byte aligned) walked cyclically. Per iteration:
 * 8 dots of 8 int16 multiply-adds = 64 multiply-adds = 128 operations (counted as the chains are).
 */
export function peak_madd_dot_i16x8(iters: i32, buf: usize, bufBytes: i32): i32 {
  let c0 = i32x4.splat(0), c1 = i32x4.splat(0), c2 = i32x4.splat(0), c3 = i32x4.splat(0);
  let c4 = i32x4.splat(0), c5 = i32x4.splat(0), c6 = i32x4.splat(0), c7 = i32x4.splat(0);
  const mask = bufBytes - 1;
  let off: i32 = 0;
  for (let i = 0; i < iters; i++) {
    const p = buf + <usize>off;
    const b0 = v128.load(p);
    const b1 = v128.load(p, 16);
    let a = v128.load32_splat(p, 32);
    c0 = i32x4.add(c0, i32x4.dot_i16x8_s(a, b0)); c1 = i32x4.add(c1, i32x4.dot_i16x8_s(a, b1));
    a = v128.load32_splat(p, 36);
    c2 = i32x4.add(c2, i32x4.dot_i16x8_s(a, b0)); c3 = i32x4.add(c3, i32x4.dot_i16x8_s(a, b1));
    a = v128.load32_splat(p, 40);
    c4 = i32x4.add(c4, i32x4.dot_i16x8_s(a, b0)); c5 = i32x4.add(c5, i32x4.dot_i16x8_s(a, b1));
    a = v128.load32_splat(p, 44);
    c6 = i32x4.add(c6, i32x4.dot_i16x8_s(a, b0)); c7 = i32x4.add(c7, i32x4.dot_i16x8_s(a, b1));
    off = (off + 48) & mask;
  }
  const s = i32x4.add(
    i32x4.add(i32x4.add(c0, c1), i32x4.add(c2, c3)),
    i32x4.add(i32x4.add(c4, c5), i32x4.add(c6, c7)),
  );
  return i32x4.extract_lane(s, 0) ^ i32x4.extract_lane(s, 1) ^ i32x4.extract_lane(s, 2) ^ i32x4.extract_lane(s, 3);
}

/** Operations per iteration of peak_madd_dot_i16x8. */
export function peak_madd_dot_i16x8_ops_per_iter(): i32 {
  return 128;
}
