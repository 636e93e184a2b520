/**
 * conv-direct-naive-f32: the textbook 7-loop direct convolution (n, k, oh, ow,
 * c, r, s), scalar f32 in WebAssembly, bounds checks for the padding inside the
 * loop. The baseline every other variant is compared with. Needs no SIMD.
 */
import type { ConvShape, ConvVariant, KernelContext, Prepared } from '../../../core/contracts.js';
import { convBytes, convFlops } from '../../../reference/cost.js';
import { convOutputSize, shapeProblem } from '../../../reference/conv.js';

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
  prepare(ctx: KernelContext, shape: ConvShape, x: Float32Array, w: Float32Array): Prepared {
    const { ho, wo } = convOutputSize(shape);
    const { n, c, h, w: wd, k, r, s, stride, pad, groups } = shape;
    const xLen = n * c * h * wd;
    const wLen = k * (c / groups) * r * s;
    if (x.length !== xLen) throw new Error(`${NAME}: x has ${x.length} floats, the shape needs ${xLen}`);
    if (w.length !== wLen) throw new Error(`${NAME}: w has ${w.length} floats, the shape needs ${wLen}`);
    const kern = ctx.kernels;
    const mark = kern.mark();
    const xb = kern.allocCopy(x);
    const wb = kern.allocCopy(w);
    const yb = kern.alloc(n * k * ho * wo);
    const top = kern.mark();
    const conv = kern.scalar.conv_direct_f32;
    const xp = xb.ptr;
    const wp = wb.ptr;
    const yp = yb.ptr;
    let disposed = false;
    return {
      run(): void {
        conv(xp, wp, yp, n, c, h, wd, k, r, s, stride, pad, groups);
      },
      output: () => yb.view(),
      preparedBytes: 0,
      prepareNote: 'inputs and weights copied into WebAssembly memory; no weight transform',
      dispose(): void {
        if (disposed) return;
        disposed = true;
        // LIFO arena: give the memory back if nothing was allocated after us (else the runner's reset() does).
        if (kern.mark() === top) kern.release(mark);
      },
    };
  },
};
