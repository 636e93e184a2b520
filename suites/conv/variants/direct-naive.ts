/**
 * conv-direct-naive-f32: the textbook 7-loop direct convolution (n, k, oh, ow,
 * c, r, s), scalar f32 in WebAssembly, bounds checks for the padding inside the
 * loop. The baseline every other variant is compared with. Needs no SIMD.
 */
import type { ConvShape, KernelContext, LayerKernel } from '../../../core/contracts.js';
import { convVariant } from '../variant.js';

export const convDirectNaiveF32 = convVariant({
  name: 'conv-direct-naive-f32',
  algorithm: 'direct',
  description:
    'Textbook direct convolution: loops n, k, oh, ow, c, r, s with one scalar f32 accumulator per output ' +
    'and the padding bounds check in the inner loop (WebAssembly, no SIMD).',
  layer(ctx: KernelContext, shape: ConvShape, w: Float32Array): LayerKernel {
    const { n, c, h, w: wd, k, r, s, stride, pad, groups } = shape;
    const kern = ctx.kernels;
    const wb = kern.allocCopy(w);
    const conv = kern.scalar.conv_direct_f32;
    const wp = wb.ptr;
    return {
      run(x: number, y: number): void {
        conv(x, wp, y, n, c, h, wd, k, r, s, stride, pad, groups);
      },
      scratchFloats: 0,
      preparedBytes: 0,
      note: 'inputs and weights copied into WebAssembly memory; no weight transform',
    };
  },
});
