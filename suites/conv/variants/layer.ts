/**
 * A variant's prepare() built on its layer(): the same kernel, bound to the
 * layer's weights, run on copies of the case's input (the light runtime runs
 * it on tensors in its arena instead; suites/models/runtime).
 */
import type { ConvShape, KernelContext, LayerKernel, Prepared } from '../../../core/contracts.js';
import { convOutputSize } from '../../../reference/conv.js';

/** Checks the case's arrays against the shape (the message names the variant). */
export function checkConvArrays(name: string, shape: ConvShape, x: Float32Array | null, w: Float32Array): void {
  const { n, c, h, w: wd, k, r, s, groups } = shape;
  const xLen = n * c * h * wd;
  const wLen = k * (c / groups) * r * s;
  if (x !== null && x.length !== xLen) throw new Error(`${name}: x has ${x.length} floats, the shape needs ${xLen}`);
  if (w.length !== wLen) throw new Error(`${name}: w has ${w.length} floats, the shape needs ${wLen}`);
}

/** prepare() of a variant with a layer(): the layer kernel, then x copied, y and its scratch allocated above it. */
export function preparedFromLayer(
  ctx: KernelContext,
  shape: ConvShape,
  x: Float32Array,
  w: Float32Array,
  name: string,
  layer: (ctx: KernelContext, shape: ConvShape, w: Float32Array) => LayerKernel,
): Prepared {
  checkConvArrays(name, shape, x, w);
  const kern = ctx.kernels;
  const mark = kern.mark();
  const lk = layer(ctx, shape, w);
  const { ho, wo } = convOutputSize(shape);
  const xb = kern.allocCopy(x);
  const yb = kern.alloc(shape.n * shape.k * ho * wo);
  const scratch = lk.scratchFloats > 0 ? kern.alloc(lk.scratchFloats).ptr : 0;
  const top = kern.mark();
  const run = lk.run;
  const xp = xb.ptr;
  const yp = yb.ptr;
  let disposed = false;
  return {
    run(): void {
      run(xp, yp, scratch);
    },
    output: () => yb.view(),
    preparedBytes: lk.preparedBytes,
    prepareNote: lk.note,
    dispose(): void {
      if (disposed) return;
      disposed = true;
      // LIFO arena: give the memory back if nothing was allocated after us (else the runner's reset() does).
      if (kern.mark() === top) kern.release(mark);
    },
  };
}
