/**
 * conv-direct-naive-f32: the textbook 7-loop direct convolution (n, k, oh, ow,
 * c, r, s), scalar f32 in WebAssembly, bounds checks for the padding inside the
 * loop. The baseline every other variant is compared with. Needs no SIMD.
 */
import type { ConvShape, KernelContext, Prepared } from '../../../core/contracts.js';
import { convOutputSize } from '../../../reference/conv.js';
import { checkTensors, convVariant, inArena } from '../variant.js';

const NAME = 'conv-direct-naive-f32';

export const convDirectNaiveF32 = convVariant({
  name: NAME,
  algorithm: 'direct',
  description:
    'Textbook direct convolution: loops n, k, oh, ow, c, r, s with one scalar f32 accumulator per output ' +
    'and the padding bounds check in the inner loop (WebAssembly, no SIMD).',
  prepare(ctx: KernelContext, shape: ConvShape, x: Float32Array, w: Float32Array): Prepared {
    checkTensors(NAME, shape, x, w);
    const { ho, wo } = convOutputSize(shape);
    const { n, c, h, w: wd, k, r, s, stride, pad, groups } = shape;
    const kern = ctx.kernels;
    return inArena(kern, () => {
      const xp = kern.allocCopy(x).ptr;
      const wp = kern.allocCopy(w).ptr;
      const yb = kern.alloc(n * k * ho * wo);
      const yp = yb.ptr;
      const conv = kern.scalar.conv_direct_f32;
      return {
        run(): void {
          conv(xp, wp, yp, n, c, h, wd, k, r, s, stride, pad, groups);
        },
        output: () => yb.view(),
        preparedBytes: 0,
        prepareNote: 'inputs and weights copied into WebAssembly memory; no weight transform',
      };
    });
  },
});
