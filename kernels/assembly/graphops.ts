/**
 * The light runtime's element-wise kernels (suites/models/runtime), WebAssembly
 * SIMD, 4 floats per f32x4 with a scalar tail; x and y may be the same buffer.
 * Pointers are byte offsets into the shared memory; counts are elements.
 * NaN propagates (f32x4.max / min return NaN when either operand is NaN).
 */

/** y = max(x, 0) */
export function relu_f32(x: usize, y: usize, n: i32): void {
  const z = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(y + (<usize>i << 2), f32x4.max(v128.load(x + (<usize>i << 2)), z));
  for (; i < n; i++) store<f32>(y + (<usize>i << 2), max<f32>(load<f32>(x + (<usize>i << 2)), 0));
}

/** y = min(max(x, 0), 6) */
export function relu6_f32(x: usize, y: usize, n: i32): void {
  const z = f32x4.splat(0);
  const six = f32x4.splat(6);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(y + (<usize>i << 2), f32x4.min(f32x4.max(v128.load(x + (<usize>i << 2)), z), six));
  for (; i < n; i++) store<f32>(y + (<usize>i << 2), min<f32>(max<f32>(load<f32>(x + (<usize>i << 2)), 0), 6));
}

/** y = a + b */
export function add_f32(a: usize, b: usize, y: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, f32x4.add(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, load<f32>(a + o) + load<f32>(b + o));
  }
}

/** Per channel: y = x * s[c] + t[c] over N x C planes of `inner` elements (s = 0: bias only, t added). */
export function scale_shift_f32(x: usize, y: usize, s: usize, t: usize, n: i32, c: i32, inner: i32, scale: i32): void {
  let p: usize = 0;
  for (let nn = 0; nn < n; nn++) {
    for (let k = 0; k < c; k++) {
      const sv: f32 = scale ? load<f32>(s + (<usize>k << 2)) : 1;
      const tv = load<f32>(t + (<usize>k << 2));
      const s4 = f32x4.splat(sv);
      const t4 = f32x4.splat(tv);
      let i = 0;
      if (scale) {
        for (; i + 4 <= inner; i += 4) {
          const o = p + (<usize>i << 2);
          v128.store(y + o, f32x4.add(f32x4.mul(v128.load(x + o), s4), t4));
        }
        for (; i < inner; i++) {
          const o = p + (<usize>i << 2);
          store<f32>(y + o, load<f32>(x + o) * sv + tv);
        }
      } else {
        for (; i + 4 <= inner; i += 4) {
          const o = p + (<usize>i << 2);
          v128.store(y + o, f32x4.add(v128.load(x + o), t4));
        }
        for (; i < inner; i++) {
          const o = p + (<usize>i << 2);
          store<f32>(y + o, load<f32>(x + o) + tv);
        }
      }
      p += <usize>inner << 2;
    }
  }
}
