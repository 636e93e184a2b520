/**
 * f32 activations to int8 / uint8 codes with a static scale (the light runtime's quantized conv
 * layers, suites/conv/variants/int8.ts int8Layer), exactly reference/quant.ts quantizeTensor's rule:
 * q = clamp(rhe(x / s) + z, qmin, qmax) with x / s computed in float64 (f64x2.div of the promoted
 * floats) and rounded half to even (f64x2.nearest). The clamp is applied to the rounded quotient
 * against [qmin - z, qmax - z] (integers, so the same as clamping after adding z), then z is added
 * and the int32 lanes narrowed with saturation (never reached: the values are already in range).
 */
export function quantize_f32(x: usize, q: usize, n: i32, scale: f64, zp: i32, qmin: i32, qmax: i32): void {
  const sv = f64x2.splat(scale);
  const lo = f64x2.splat(<f64>(qmin - zp));
  const hi = f64x2.splat(<f64>(qmax - zp));
  const zv = i32x4.splat(zp);
  const unsigned = qmin >= 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(x + (<usize>i << 2));
    const a = f64x2.promote_low_f32x4(v);
    const b = f64x2.promote_low_f32x4(i8x16.shuffle(v, v, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7));
    const ra = f64x2.min(f64x2.max(f64x2.nearest(f64x2.div(a, sv)), lo), hi);
    const rb = f64x2.min(f64x2.max(f64x2.nearest(f64x2.div(b, sv)), lo), hi);
    const ia = i32x4.trunc_sat_f64x2_s_zero(ra);
    const ib = i32x4.trunc_sat_f64x2_s_zero(rb);
    const c = i32x4.add(i8x16.shuffle(ia, ib, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23), zv);
    const h = i16x8.narrow_i32x4_s(c, c);
    const r = unsigned ? i8x16.narrow_i16x8_u(h, h) : i8x16.narrow_i16x8_s(h, h);
    v128.store32_lane(q + <usize>i, r, 0);
  }
  for (; i < n; i++) {
    const v = nearest<f64>(<f64>load<f32>(x + (<usize>i << 2)) / scale);
    const c = v < <f64>(qmin - zp) ? <f64>(qmin - zp) : v > <f64>(qmax - zp) ? <f64>(qmax - zp) : v;
    store<u8>(q + <usize>i, <u8>(<i32>c + zp));
  }
}
