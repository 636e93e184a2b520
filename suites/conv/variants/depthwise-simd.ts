/**
 * conv-depthwise-simd-f32: depthwise convolution (groups == C == K) in
 * WebAssembly SIMD, vectorised across the output width (4 outputs per f32x4).
 * Each channel plane is copied into a zero-bordered workspace plane so the
 * borders need no scalar path; 3x3 stride 1/2 keep the 9 weights in registers
 * (kernels/assembly/depthwise.ts).
 */
import type { ConvShape, ConvVariant, KernelContext, Prepared } from '../../../core/contracts.js';
import { convBytes, convFlops } from '../../../reference/cost.js';
import { convOutputSize, shapeProblem } from '../../../reference/conv.js';

const NAME = 'conv-depthwise-simd-f32';

/** Why a valid conv shape is not a depthwise layer (groups == c == k), or null (also for the fp16 and int8 depthwise variants). */
export function notDepthwise(shape: ConvShape): string | null {
  if (shape.groups !== shape.c || shape.k !== shape.c) {
    return `not a depthwise layer (groups=${shape.groups}, c=${shape.c}, k=${shape.k}; needs groups == c == k)`;
  }
  return null;
}

export const convDepthwiseSimdF32: ConvVariant = {
  name: NAME,
  op: 'conv',
  algorithm: 'depthwise',
  dtype: 'f32',
  description:
    'Depthwise conv, WebAssembly SIMD across the output width (4 outputs per f32x4); each channel copied into a ' +
    'zero-bordered plane so borders need no scalar path; 3x3 weights kept in registers.',
  needs: { wasmSimd: true },
  applies(shape: ConvShape): true | string {
    return shapeProblem(shape) ?? notDepthwise(shape) ?? true;
  },
  flops: (s) => convFlops(s),
  bytes: (s) => convBytes(s),
  accuracy: { kind: 'exact' },
  prepare(ctx: KernelContext, shape: ConvShape, x: Float32Array, w: Float32Array): Prepared {
    const applies = convDepthwiseSimdF32.applies(shape);
    if (applies !== true) throw new Error(`${NAME}: ${applies}`);
    const { ho, wo } = convOutputSize(shape);
    const { n, c, h, w: wd, r, s, stride, pad } = shape;
    const xLen = n * c * h * wd;
    const wLen = c * r * s;
    if (x.length !== xLen) throw new Error(`${NAME}: x has ${x.length} floats, the shape needs ${xLen}`);
    if (w.length !== wLen) throw new Error(`${NAME}: w has ${w.length} floats, the shape needs ${wLen}`);
    const kern = ctx.kernels;
    const simd = kern.requireSimd(NAME);
    const mark = kern.mark();
    const xb = kern.allocCopy(x);
    const wb = kern.allocCopy(w);
    const yb = kern.alloc(n * c * ho * wo);
    const wsFloats = simd.depthwise_workspace_floats(h, wd, r, s, stride, pad);
    const ws = kern.alloc(wsFloats);
    const top = kern.mark();
    const conv = simd.conv_depthwise_f32;
    const xp = xb.ptr;
    const wp = wb.ptr;
    const yp = yb.ptr;
    const wsp = ws.ptr;
    let disposed = false;
    return {
      run(): void {
        conv(xp, wp, yp, wsp, n, c, h, wd, r, s, stride, pad);
      },
      output: () => yb.view(),
      preparedBytes: 0,
      prepareNote: `no weight transform; workspace ${wsFloats * 4} bytes (one zero-bordered input plane, reused per channel)`,
      dispose(): void {
        if (disposed) return;
        disposed = true;
        if (kern.mark() === top) kern.release(mark);
      },
    };
  },
};
