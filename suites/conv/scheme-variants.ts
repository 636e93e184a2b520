/**
 * A low-precision scheme on a kernel -> its conv variant (payload-safe; the same factory on host and
 * device, so names agree): int8 schemes on the im2col GEMM, depthwise, Winograd F(2x2) and relaxed-SIMD
 * kernels; fp16 storage on the fixed f16 variants (im2col GEMM, depthwise, Winograd F(4x4) and F(6x6)); fp16 arithmetic on the accuracy-only emulation.
 */
import type { ConvVariant, SCHEME_KERNELS } from '../../core/contracts.js';
import { schemeLabel, type Scheme } from '../../reference/quant-scheme.js';
import { convDepthwiseF16 } from './variants/fp16-depthwise.js';
import { convIm2colGemmF16 } from './variants/fp16-im2col-gemm.js';
import { fp16ArithVariant } from './variants/fp16-arith.js';
import { winogradF4x4F16, winogradF6x6F16 } from './variants/fp16-winograd.js';
import { int8DepthwiseVariant } from './variants/int8-depthwise.js';
import { int8GemmVariant } from './variants/int8-im2col-gemm.js';
import { int8RelaxedVariant } from './variants/int8-relaxed.js';
import { int8WinogradVariant } from './variants/int8-winograd.js';

export type SchemeKernel = (typeof SCHEME_KERNELS)[number];

/** The kernels a scheme runs on by default (all it can). */
export function schemeKernels(s: Scheme): SchemeKernel[] {
  switch (s.kind) {
    case 'fp16-storage':
      return ['im2col-gemm', 'depthwise', 'winograd-f4x4', 'winograd-f6x6'];
    case 'fp16-arith':
      return ['emulated'];
    case 'int8':
      // Relaxed SIMD needs int8 activations (zero point 0) and a runtime flag: only where asked for by name.
      return ['im2col-gemm', 'depthwise', 'winograd-f2x2'];
  }
}

/** Why `kernel` cannot run scheme `s`, or null. */
export function schemeKernelProblem(s: Scheme, kernel: SchemeKernel): string | null {
  const valid: readonly SchemeKernel[] =
    s.kind === 'int8'
      ? ['im2col-gemm', 'depthwise', 'winograd-f2x2', ...(s.activations === 'int8' ? (['relaxed', 'relaxed16'] as const) : [])]
      : schemeKernels(s);
  return valid.includes(kernel) ? null : `scheme ${schemeLabel(s)} does not run on the ${kernel} kernel (it runs on: ${valid.join(', ')})`;
}

/** The variant of scheme `s` on `kernel`; throws a RangeError naming the mismatch. */
export function schemeVariant(s: Scheme, kernel: SchemeKernel): ConvVariant {
  const bad = schemeKernelProblem(s, kernel);
  if (bad !== null) throw new RangeError(bad);
  if (s.kind === 'fp16-storage') {
    return kernel === 'depthwise'
      ? convDepthwiseF16
      : kernel === 'winograd-f4x4'
        ? winogradF4x4F16
        : kernel === 'winograd-f6x6'
          ? winogradF6x6F16
          : convIm2colGemmF16;
  }
  if (s.kind === 'fp16-arith') return fp16ArithVariant(s);
  switch (kernel) {
    case 'depthwise':
      return int8DepthwiseVariant(s);
    case 'winograd-f2x2':
      return int8WinogradVariant(s);
    case 'relaxed':
      return int8RelaxedVariant(s);
    case 'relaxed16':
      return int8RelaxedVariant(s, { fused: false });
    default:
      return int8GemmVariant(s);
  }
}
