import { defineVariants } from '../define.js';
import { convDirectNaiveF32 } from './variants/direct-naive.js';
import { convIm2colGemmF32 } from './variants/im2col-gemm.js';
import { convDepthwiseSimdF32 } from './variants/depthwise-simd.js';
import { convOnnxruntimeF32 } from './variants/onnxruntime.js';
import { convFftT8F32, convFftT16F32 } from './variants/fft.js';
import { winogradF2x2, winogradF4x4, winogradF6x6 } from './variants/winograd.js';
import { convIm2colGemmPcI8, convIm2colGemmPtU8 } from './variants/int8-im2col-gemm.js';
import { winogradF2x2PcI8 } from './variants/int8-winograd.js';
import { convDepthwisePcI8 } from './variants/int8-depthwise.js';
import { convIm2colGemmRelaxedPcI8, convIm2colGemmRelaxed16PcI8 } from './variants/int8-relaxed.js';
import { convIm2colGemmF16 } from './variants/fp16-im2col-gemm.js';
import { convDepthwiseF16 } from './variants/fp16-depthwise.js';
import { winogradF4x4F16, winogradF6x6F16 } from './variants/fp16-winograd.js';
import { convPointwiseSgemmF32 } from './variants/pointwise-sgemm.js';
import { convOnnxruntimeQlinearPcI8, convOnnxruntimeQlinearPtU8 } from './variants/int8-onnxruntime.js';

/**
 * The conv suite's variants, in the order the report shows them: baselines, fast algorithms, low precision
 * (int8 and fp16 storage: each with its kernel check and scheme loss, suites/conv/variants/lowp.ts), the native peer.
 */
export const convVariants = defineVariants('conv', [
  convDirectNaiveF32,
  convIm2colGemmF32,
  convDepthwiseSimdF32,
  convPointwiseSgemmF32,
  winogradF2x2,
  winogradF4x4,
  winogradF6x6,
  convFftT8F32,
  convFftT16F32,
  convIm2colGemmPcI8,
  convIm2colGemmPtU8,
  winogradF2x2PcI8,
  convDepthwisePcI8,
  convIm2colGemmRelaxedPcI8,
  convIm2colGemmRelaxed16PcI8,
  convIm2colGemmF16,
  convDepthwiseF16,
  winogradF4x4F16,
  winogradF6x6F16,
  convOnnxruntimeF32,
  convOnnxruntimeQlinearPcI8,
  convOnnxruntimeQlinearPtU8,
]);
