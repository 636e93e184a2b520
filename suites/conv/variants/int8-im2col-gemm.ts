/**
 * conv-im2col-gemm-<scheme>-<i8|u8>: int8 convolution as im2col + packed GEMM
 * with int32 accumulation (kernels/assembly/qgemm.ts): int16-widened operands
 * multiplied with i32x4.dot_i16x8_s over pairs of the reduction (XNNPACK's
 * wasmsimd "c2 dot16x2" structure), a 4x8 micro-kernel, the weights widened and
 * packed once in prepare, im2col (minus the input zero point) packed in the
 * timed run, requantization or dequantization in the epilogue. Bit-exact with
 * the exact integer reference (the kernel check); groups are looped.
 */
import type { ConvShape, ConvVariant } from '../../../core/contracts.js';
import { convOutputSize } from '../../../reference/conv.js';
import { int8Scheme, type Int8Scheme } from '../../../reference/quant-scheme.js';
import { int8Variant, packWith, requireQuant, type Int8VariantSpec } from './int8.js';

/** Multiply-adds really performed, x2: rows rounded up to 4 (MR), output positions to 8 (NR), the reduction to `align`. */
export function int8GemmExecutedFlops(shape: ConvShape, align: number): number {
  const { ho, wo } = convOutputSize(shape);
  const kg = shape.k / shape.groups;
  const kd = (shape.c / shape.groups) * shape.r * shape.s;
  return 2 * shape.n * shape.groups * Math.ceil(kg / 4) * 4 * Math.ceil((ho * wo) / 8) * 8 * Math.ceil(kd / align) * align;
}

/** The int8 im2col GEMM variant for a scheme. `paramError`: test-only fault injection (int8.ts). */
export function int8GemmVariant(scheme: Int8Scheme, opts: { paramError?: number } = {}): ConvVariant {
  return int8Variant(int8GemmSpec(scheme, opts));
}

/** The int8 im2col GEMM kernel for a scheme (the variant's, and the light runtime's quantized layers': int8.ts int8Layer). */
export function int8GemmSpec(scheme: Int8Scheme, opts: { paramError?: number } = {}): Int8VariantSpec {
  return {
    stem: 'conv-im2col-gemm',
    algorithm: 'im2col-gemm-int8',
    description:
      'int8 im2col + packed GEMM: operands widened to int16, i32x4.dot_i16x8_s over pairs of the reduction, 4x8 int32 ' +
      'micro-kernel, weights packed in prepare, im2col packed in the timed run, int32 accumulation, requantization or dequantization in the epilogue.',
    scheme,
    needs: { wasmSimd: true },
    cannot: () => null,
    executedFlops: (s) => int8GemmExecutedFlops(s, 2),
    pack(kern, q, s) {
      const qk = requireQuant(kern, 'conv-im2col-gemm (int8)');
      const kd = (s.c / s.groups) * s.r * s.s;
      const bytes = qk.qgemm_packed_a_bytes(s.k, kd, s.groups);
      const ptr = packWith(kern, q, bytes, (raw, dst) => qk.qpack_weights(raw, dst, s.k, kd, s.groups));
      return { ptr, bytes, note: `weights widened to int16 and packed into 4-row panels of pairs (${bytes} bytes)` };
    },
    workspaceBytes: (kern, s) => requireQuant(kern, 'conv-im2col-gemm (int8)').qgemm_workspace_bytes(s.k, s.groups),
    run(kern, a, s) {
      kern.quant!.conv_im2col_qgemm(
        a.x,
        a.xUnsigned,
        a.zpx,
        a.w,
        a.y,
        a.ws,
        a.params,
        a.mode,
        a.zpy,
        s.n,
        s.c,
        s.h,
        s.w,
        s.k,
        s.r,
        s.s,
        s.stride,
        s.pad,
        s.groups,
      );
    },
    ...(opts.paramError !== undefined ? { paramError: opts.paramError } : {}),
  };
}

/** int8 per-channel weights, int8 activations (percentile 99.99), requantized to int8: the headline int8 scheme. */
export const convIm2colGemmPcI8 = int8GemmVariant(int8Scheme({ weights: 'per-channel', activations: 'int8' }));
/** int8 per-tensor weights, uint8 asymmetric activations with a zero point (ONNX Runtime QLinearConv / TFLite uint8 style). */
export const convIm2colGemmPtU8 = int8GemmVariant(int8Scheme({ weights: 'per-tensor', activations: 'uint8' }));
