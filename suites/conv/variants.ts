import { defineVariants } from '../define.js';
import { convDirectNaiveF32 } from './variants/direct-naive.js';
import { convIm2colGemmF32 } from './variants/im2col-gemm.js';
import { convDepthwiseSimdF32 } from './variants/depthwise-simd.js';
import { convOnnxruntimeF32 } from './variants/onnxruntime.js';
import { convFftT8F32, convFftT16F32 } from './variants/fft.js';
import { winogradF2x2, winogradF4x4, winogradF6x6 } from './variants/winograd.js';

/** The conv suite's variants, in the order the report shows them: baselines, fast algorithms, the native peer. */
export const convVariants = defineVariants('conv', [
  convDirectNaiveF32,
  convIm2colGemmF32,
  convDepthwiseSimdF32,
  winogradF2x2,
  winogradF4x4,
  winogradF6x6,
  convFftT8F32,
  convFftT16F32,
  convOnnxruntimeF32,
]);
