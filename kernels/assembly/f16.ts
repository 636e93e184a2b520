/**
 * IEEE binary16 <-> float32 conversions in WebAssembly SIMD (which has no fp16
 * instructions), bit-exact with reference/fp16.ts: half -> f32 exactly,
 * f32 -> half rounded to nearest, ties to even, with subnormals, overflow to
 * Infinity and NaN kept NaN (quiet, 0x7e00 with the input's sign).
 *
 * half -> f32 (Fabian Giesen's "half_to_float_fast4"): the half's exponent
 * and fraction shifted into place and rebiased by an integer add (again for
 * Inf / NaN, to the all-ones exponent); a subnormal half or zero becomes
 * 2^-14 * (1 + fraction / 1024), a normal float, from which an f32 subtract
 * of 2^-14 leaves the exact value fraction * 2^-24; then the sign. No f32
 * operation ever sees a subnormal: 32-bit ARM's NEON flushes subnormal
 * operands to zero, so the "magic multiply" variant (a subnormal f32 times
 * 2^112) turned every subnormal half into 0 on a Raspberry Pi in 32-bit mode
 * (found by the emulated-board test: outputs differed from x86).
 * f32 -> half (Giesen's "float_to_half_fast3_rtne"): |x| >= 2^16: Inf, or NaN;
 * |x| < 2^-14: add 0.5f so the FPU rounds the value to a multiple of 2^-24 (to
 * nearest even) in the low bits; otherwise rebias the exponent and round the
 * 13 dropped bits to nearest even with an integer add of 0xfff plus the kept
 * lowest bit. All three are computed on every lane and selected.
 */

// @ts-ignore: decorator
@inline const REBIAS: i32 = (127 - 15) << 23; // exponent bias f32 - half
// @ts-ignore: decorator
@inline const EXP_MASK: i32 = 0x7c00 << 13; // the half's exponent bits, shifted into place
// @ts-ignore: decorator
@inline const SUB_MAGIC: i32 = 113 << 23; // 2^-14, the smallest normal half
// @ts-ignore: decorator
@inline const DENORM_MAGIC: i32 = ((127 - 15) + (23 - 10) + 1) << 23; // 0.5f

/** Four halves (zero-extended in int32 lanes) to four f32. */
// @ts-ignore: decorator
@inline export function h2f4(h: v128): v128 {
  const shifted = i32x4.shl(v128.and(h, i32x4.splat(0x7fff)), 13);
  const exp = v128.and(shifted, i32x4.splat(EXP_MASK));
  let o = i32x4.add(shifted, i32x4.splat(REBIAS));
  o = i32x4.add(o, v128.and(i32x4.eq(exp, i32x4.splat(EXP_MASK)), i32x4.splat(REBIAS))); // Inf / NaN
  const sub = f32x4.sub(i32x4.add(o, i32x4.splat(1 << 23)), i32x4.splat(SUB_MAGIC)); // zero / subnormal
  o = v128.bitselect(sub, o, i32x4.eq(exp, i32x4.splat(0)));
  return v128.or(o, i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16));
}

/** The low four halves of an i16x8 to f32x4. */
// @ts-ignore: decorator
@inline export function h2f_lo(h8: v128): v128 {
  return h2f4(i32x4.extend_low_i16x8_u(h8));
}

/** The high four halves of an i16x8 to f32x4. */
// @ts-ignore: decorator
@inline export function h2f_hi(h8: v128): v128 {
  return h2f4(i32x4.extend_high_i16x8_u(h8));
}

/** Four f32 to four halves in int32 lanes (0 .. 0xffff). */
// @ts-ignore: decorator
@inline export function f2h4(x: v128): v128 {
  const sign = v128.and(x, i32x4.splat(0x80000000));
  const a = v128.and(x, i32x4.splat(0x7fffffff));
  const odd = v128.and(i32x4.shr_u(a, 13), i32x4.splat(1));
  const normal = i32x4.shr_u(i32x4.add(i32x4.add(a, i32x4.splat(((15 - 127) << 23) + 0xfff)), odd), 13);
  const sub = i32x4.sub(f32x4.add(a, i32x4.splat(DENORM_MAGIC)), i32x4.splat(DENORM_MAGIC));
  const infnan = v128.bitselect(i32x4.splat(0x7e00), i32x4.splat(0x7c00), i32x4.gt_s(a, i32x4.splat(0x7f800000)));
  let o = v128.bitselect(sub, normal, i32x4.lt_s(a, i32x4.splat(113 << 23)));
  o = v128.bitselect(infnan, o, i32x4.ge_s(a, i32x4.splat((127 + 16) << 23)));
  return v128.or(o, i32x4.shr_u(sign, 16));
}

/** Eight f32 (two vectors) to an i16x8 of halves. */
// @ts-ignore: decorator
@inline export function f2h8(lo: v128, hi: v128): v128 {
  return i16x8.narrow_i32x4_u(f2h4(lo), f2h4(hi));
}

/** One half to f32 (the same arithmetic, scalar). */
// @ts-ignore: decorator
@inline export function h2f(h: u16): f32 {
  const shifted = (<i32>h & 0x7fff) << 13;
  const exp = shifted & EXP_MASK;
  let o = shifted + REBIAS;
  if (exp == EXP_MASK) o += REBIAS;
  else if (exp == 0) o = reinterpret<i32>(reinterpret<f32>(o + (1 << 23)) - reinterpret<f32>(SUB_MAGIC));
  return reinterpret<f32>(o | ((<i32>h & 0x8000) << 16));
}

/** One f32 to a half (the same arithmetic, scalar). */
// @ts-ignore: decorator
@inline export function f2h(x: f32): u16 {
  const bits = reinterpret<i32>(x);
  const sign = (bits >>> 16) & 0x8000;
  const a = bits & 0x7fffffff;
  let o: i32;
  if (a >= (127 + 16) << 23) o = a > 0x7f800000 ? 0x7e00 : 0x7c00;
  else if (a < 113 << 23) o = reinterpret<i32>(reinterpret<f32>(a) + reinterpret<f32>(DENORM_MAGIC)) - DENORM_MAGIC;
  else o = (a + ((15 - 127) << 23) + 0xfff + ((a >>> 13) & 1)) >>> 13;
  return <u16>(o | sign);
}

/** dst[i] = f32 of the half src[i], i < n (SIMD, 8 at a time, then scalar). For tests and staging. */
export function f16_to_f32(src: usize, dst: usize, n: i32): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const h = v128.load(src + (<usize>i << 1));
    v128.store(dst + (<usize>i << 2), h2f_lo(h));
    v128.store(dst + (<usize>i << 2), h2f_hi(h), 16);
  }
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), h2f(load<u16>(src + (<usize>i << 1))));
}

/** dst[i] = the half nearest to the f32 src[i] (ties to even), i < n (SIMD, 8 at a time, then scalar). */
export function f32_to_f16(src: usize, dst: usize, n: i32): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const p = src + (<usize>i << 2);
    v128.store(dst + (<usize>i << 1), f2h8(v128.load(p), v128.load(p, 16)));
  }
  for (; i < n; i++) store<u16>(dst + (<usize>i << 1), f2h(load<f32>(src + (<usize>i << 2))));
}
