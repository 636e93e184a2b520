/**
 * conv-depthwise-f16: fp16 storage, depthwise (kernels/assembly/depthwise.ts on
 * halves): each channel's halves converted to f32 as they are copied into the
 * zero-bordered plane, the f32 depthwise paths compute the channel, the plane
 * rounded to half. Input, weights and output stored as half: the memory
 * traffic of this memory-bound layer is halved. Checks as conv-im2col-gemm-f16.
 */
import type { ConvShape, KernelContext, Prepared } from '../../../core/contracts.js';
import { convOutputSize } from '../../../reference/conv.js';
import { convBytes } from '../../../reference/cost.js';
import { convVariant, disposedTo } from '../variant.js';
import { copyIn, halfConv } from './lowp.js';
import { halfOutput, requireF16 } from './fp16-im2col-gemm.js';
import { notDepthwise } from './depthwise-simd.js';

const NAME = 'conv-depthwise-f16';

export const convDepthwiseF16 = convVariant({
  name: NAME,
  algorithm: 'depthwise-fp16',
  description:
    'fp16 storage, depthwise conv: half input, weights and output; each channel converted to f32 into a zero-bordered plane, ' +
    'the f32 SIMD depthwise paths, the channel rounded to half.',
  needs: { wasmSimd: true },
  cannot: notDepthwise,
  bytes: (s) => convBytes(s, 2),
  info: () => ({ scheme: 'fp16', rounding: 'round half to even (reference/fp16.ts)' }),
  accuracy: { kind: 'scheme', scheme: { kind: 'fp16-storage' } },
  prepare(ctx: KernelContext, shape: ConvShape, x: Float32Array, w: Float32Array): Prepared {
    const kern = ctx.kernels;
    const hk = requireF16(kern, NAME);
    const h = halfConv(shape, x, w);
    const { ho, wo } = convOutputSize(shape);
    const { n, c, h: hh, w: wd, r, s, stride, pad } = shape;
    const ny = n * c * ho * wo;
    const mark = kern.mark();
    const xb = copyIn(kern, h.xh);
    const wb = copyIn(kern, h.wh);
    const yb = kern.allocBytes(ny * 2);
    const wsFloats = hk.depthwise_f16_workspace_floats(hh, wd, r, s, stride, pad);
    const ws = kern.alloc(wsFloats);
    const conv = hk.conv_depthwise_f16;
    const out = halfOutput(kern, shape, h, yb, ny);
    return disposedTo(kern, mark, {
      run(): void {
        conv(xb.ptr, wb.ptr, yb.ptr, ws.ptr, n, c, hh, wd, r, s, stride, pad);
      },
      ...out,
      preparedBytes: 0,
      prepareNote: `input and weights rounded to half outside the timed region; workspace ${wsFloats * 4} bytes (one bordered f32 plane, one f32 output plane)`,
    });
  },
});
