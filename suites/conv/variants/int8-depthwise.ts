/**
 * conv-depthwise-<scheme>-<i8|u8>: int8 depthwise convolution
 * (kernels/assembly/qdepthwise.ts): each channel widened to int16 minus its
 * zero point into a zero-bordered plane, 8 outputs per int16x8, products by
 * i16x8.mul (exact) widened into int32 accumulators, the epilogue per channel.
 * Depthwise layers only (groups == C == K). Bit-exact with the exact integer reference.
 */
import type { ConvVariant } from '../../../core/contracts.js';
import { convFlops } from '../../../reference/cost.js';
import { int8Scheme, type Int8Scheme } from '../../../reference/quant-scheme.js';
import { copyIn } from './lowp.js';
import { int8Variant, requireQuant, type Int8VariantSpec } from './int8.js';
import { notDepthwise } from './depthwise-simd.js';

/** The int8 depthwise variant for a scheme. */
export function int8DepthwiseVariant(scheme: Int8Scheme): ConvVariant {
  return int8Variant(int8DepthwiseSpec(scheme));
}

/** The int8 depthwise kernel for a scheme (the variant's, and the light runtime's quantized layers': int8.ts int8Layer). */
export function int8DepthwiseSpec(scheme: Int8Scheme): Int8VariantSpec {
  return {
    stem: 'conv-depthwise',
    algorithm: 'depthwise-int8',
    description:
      'int8 depthwise conv: each channel widened to int16 minus its zero point into a zero-bordered plane, 8 outputs ' +
      'per int16x8, i16x8.mul products widened into int32 accumulators, requantized or dequantized per channel.',
    scheme,
    needs: { wasmSimd: true },
    cannot: notDepthwise,
    // Every multiply-add is real: 8-wide vectors over the output width, the last one partly unused (counted as the direct count).
    executedFlops: (s) => convFlops(s),
    pack(kern, q) {
      const b = copyIn(kern, q.w.q);
      return { ptr: b.ptr, bytes: 0, note: 'weights used as quantized (c x R x S int8), no packing' };
    },
    workspaceBytes: (kern, s) => requireQuant(kern, 'conv-depthwise (int8)').qdw_workspace_bytes(s.h, s.w, s.r, s.s, s.stride, s.pad),
    run(kern, a, s) {
      kern.quant!.conv_depthwise_q(a.x, a.xUnsigned, a.zpx, a.w, a.y, a.ws, a.params, a.mode, a.zpy, s.n, s.c, s.h, s.w, s.r, s.s, s.stride, s.pad);
    },
  };
}

/** int8 depthwise, per-channel weights, int8 activations, requantized. */
export const convDepthwisePcI8 = int8DepthwiseVariant(int8Scheme({ weights: 'per-channel', activations: 'int8' }));
