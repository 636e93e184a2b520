/**
 * Direct convolution, the textbook loop nest: the "naive" baseline.
 *
 * Layouts (all pointers are byte offsets into linear memory, f32 elements):
 * x is NCHW, w is K x (C/groups) x R x S, y is N x K x Ho x Wo.
 * Loop order n, k, oh, ow, c, r, s, one scalar f32 accumulator per output,
 * with the padding bounds checks inside the innermost loops, as written in
 * textbooks. Scalar only (no SIMD), so it runs on every WebAssembly engine.
 */
export function conv_direct_f32(
  x: usize, w: usize, y: usize,
  n: i32, c: i32, h: i32, wd: i32, k: i32, r: i32, s: i32,
  stride: i32, pad: i32, groups: i32,
): void {
  const ho = (h + 2 * pad - r) / stride + 1;
  const wo = (wd + 2 * pad - s) / stride + 1;
  const cg = c / groups;
  const kg = k / groups;
  for (let in_ = 0; in_ < n; in_++) {
    for (let ok = 0; ok < k; ok++) {
      const g = ok / kg;
      for (let oh = 0; oh < ho; oh++) {
        for (let ow = 0; ow < wo; ow++) {
          let acc: f32 = 0;
          for (let ic = 0; ic < cg; ic++) {
            const cin = g * cg + ic;
            for (let kr = 0; kr < r; kr++) {
              const ih = oh * stride - pad + kr;
              for (let ks = 0; ks < s; ks++) {
                const iw = ow * stride - pad + ks;
                if (ih >= 0 && ih < h && iw >= 0 && iw < wd) {
                  const xi = ((in_ * c + cin) * h + ih) * wd + iw;
                  const wi = ((ok * cg + ic) * r + kr) * s + ks;
                  acc += load<f32>(x + (<usize>xi << 2)) * load<f32>(w + (<usize>wi << 2));
                }
              }
            }
          }
          store<f32>(y + (<usize>(((in_ * k + ok) * ho + oh) * wo + ow) << 2), acc);
        }
      }
    }
  }
}
