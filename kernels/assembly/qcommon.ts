/**
 * The int8 kernels' shared epilogue arithmetic (reference/quant.ts states the
 * rule): requantization v = f32(f32(acc) * m), clamped to [qmin - zp, qmax - zp],
 * rounded to nearest even, truncated, + zp; dequantization f32(acc) * scale.
 * The vector and scalar forms give identical results.
 */

/** Four int32 accumulators requantized to int32 codes in [qmin, qmax]. */
// @ts-ignore: decorator
@inline export function requant4(acc: v128, mv: v128, lov: v128, hiv: v128, zpv: v128): v128 {
  const v = f32x4.min(f32x4.max(f32x4.mul(f32x4.convert_i32x4_s(acc), mv), lov), hiv);
  return i32x4.add(i32x4.trunc_sat_f32x4_s(f32x4.nearest(v)), zpv);
}

/** One int32 accumulator requantized to its code (lo = qmin - zp, hi = qmax - zp as f32). */
// @ts-ignore: decorator
@inline export function requant1(acc: i32, m: f32, lo: f32, hi: f32, zp: i32): i32 {
  let v: f32 = <f32>acc * m;
  v = v < lo ? lo : v > hi ? hi : v;
  return <i32>nearest<f32>(v) + zp;
}

/** Sixteen int32 codes (four vectors, each within the output range) narrowed to bytes. */
// @ts-ignore: decorator
@inline export function narrow16(q0: v128, q1: v128, q2: v128, q3: v128, unsigned: bool): v128 {
  const h01 = i16x8.narrow_i32x4_s(q0, q1);
  const h23 = i16x8.narrow_i32x4_s(q2, q3);
  return unsigned ? i8x16.narrow_i16x8_u(h01, h23) : i8x16.narrow_i16x8_s(h01, h23);
}
