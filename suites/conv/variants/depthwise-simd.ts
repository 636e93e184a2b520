/**
 * conv-depthwise-simd-f32: depthwise convolution (groups == C == K) in
 * WebAssembly SIMD, vectorised across the output width (4 outputs per f32x4).
 * Each channel plane is copied into a zero-bordered workspace plane so the
 * borders need no scalar path; 3x3 stride 1/2 keep the 9 weights in registers
 * (kernels/assembly/depthwise.ts).
 */
import type { ConvShape, KernelContext, LayerKernel } from '../../../core/contracts.js';
import { convVariant } from '../variant.js';

const NAME = 'conv-depthwise-simd-f32';

/** Why a valid conv shape is not a depthwise layer (groups == c == k), or null (also for the fp16 and int8 depthwise variants). */
export function notDepthwise(shape: ConvShape): string | null {
  if (shape.groups !== shape.c || shape.k !== shape.c) {
    return `not a depthwise layer (groups=${shape.groups}, c=${shape.c}, k=${shape.k}; needs groups == c == k)`;
  }
  return null;
}

export const convDepthwiseSimdF32 = convVariant({
  name: NAME,
  algorithm: 'depthwise',
  description:
    'Depthwise conv, WebAssembly SIMD across the output width (4 outputs per f32x4); each channel copied into a ' +
    'zero-bordered plane so borders need no scalar path; 3x3 weights kept in registers.',
  needs: { wasmSimd: true },
  cannot: notDepthwise,
  layer(ctx: KernelContext, shape: ConvShape, w: Float32Array): LayerKernel {
    const { n, c, h, w: wd, r, s, stride, pad } = shape;
    const kern = ctx.kernels;
    const simd = kern.requireSimd(NAME);
    const wb = kern.allocCopy(w);
    const wsFloats = simd.depthwise_workspace_floats(h, wd, r, s, stride, pad);
    const conv = simd.conv_depthwise_f32;
    const wp = wb.ptr;
    return {
      run(x: number, y: number, ws: number): void {
        conv(x, wp, y, ws, n, c, h, wd, r, s, stride, pad);
      },
      scratchFloats: wsFloats,
      preparedBytes: 0,
      note: `no weight transform; workspace ${wsFloats * 4} bytes (one zero-bordered input plane, reused per channel)`,
    };
  },
});
