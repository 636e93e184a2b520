/**
 * conv-direct-naive-f32: the textbook 7-loop direct convolution (n, k, oh, ow,
 * c, r, s), scalar f32 in WebAssembly, bounds checks for the padding inside the
 * loop. The baseline every other variant is compared with. Needs no SIMD.
 */
import type { ConvShape, ConvVariant, KernelContext, LayerKernel, Prepared } from '../../../core/contracts.js';
import { convBytes, convFlops } from '../../../reference/cost.js';
import { shapeProblem } from '../../../reference/conv.js';
import { checkConvArrays, preparedFromLayer } from './layer.js';

const NAME = 'conv-direct-naive-f32';

export const convDirectNaiveF32: ConvVariant = {
  name: NAME,
  op: 'conv',
  algorithm: 'direct',
  dtype: 'f32',
  description:
    'Textbook direct convolution: loops n, k, oh, ow, c, r, s with one scalar f32 accumulator per output ' +
    'and the padding bounds check in the inner loop (WebAssembly, no SIMD).',
  needs: {},
  applies: (shape: ConvShape): true | string => shapeProblem(shape) ?? true,
  flops: (s) => convFlops(s),
  bytes: (s) => convBytes(s),
  accuracy: { kind: 'exact' },
  layer(ctx: KernelContext, shape: ConvShape, w: Float32Array): LayerKernel {
    checkConvArrays(NAME, shape, null, w);
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
  prepare(ctx: KernelContext, shape: ConvShape, x: Float32Array, w: Float32Array): Prepared {
    return preparedFromLayer(ctx, shape, x, w, NAME, (c, sh, wt) => convDirectNaiveF32.layer!(c, sh, wt));
  },
};
