/**
 * The models suite's variants: whole networks run end to end on the device
 * (suites/models/measure.ts). Payload-safe.
 */
import type { CaseParams, ConvShape, ModelVariant } from '../../core/contracts.js';
import { defineVariants } from '../define.js';
import { convOnnxruntimeF32 } from '../conv/variants/onnxruntime.js';
import { describeScheme, schemeDtype, schemeLabel, type Int8Scheme } from '../../reference/quant-scheme.js';

export const modelOnly = (_shape: ConvShape, params?: CaseParams): true | string => (params?.model ? true : 'runs whole networks: a case of the models suite');

export const modelRuntimeIm2colF32: ModelVariant = {
  name: 'model-runtime-im2col-f32',
  op: 'model',
  algorithm: 'runtime-im2col',
  dtype: 'f32',
  description:
    'The light runtime (one arena planned from the graph, no allocation per inference), every conv layer on the ' +
    'im2col + packed SIMD GEMM kernel (conv-im2col-gemm-f32), the other operators in simple kernels.',
  needs: { wasmSimd: true },
  applies: modelOnly,
  engine: 'runtime',
  policy: 'im2col',
};

export const modelRuntimeBestF32: ModelVariant = {
  name: 'model-runtime-best-f32',
  op: 'model',
  algorithm: 'runtime-best',
  dtype: 'f32',
  description:
    'The light runtime with, per conv layer shape, the fastest conv variant that passes its accuracy check ' +
    '(im2col GEMM, depthwise SIMD, Winograd F(2x2)/F(4x4)/F(6x6)), each timed on that layer in the same run.',
  needs: { wasmSimd: true },
  applies: modelOnly,
  engine: 'runtime',
  policy: 'best',
};

export const modelOnnxruntimeF32: ModelVariant = {
  name: 'model-onnxruntime-f32',
  op: 'model',
  algorithm: 'onnxruntime',
  dtype: 'f32',
  description:
    'ONNX Runtime (onnxruntime-node, CPU, one thread, graph optimisation all) running the same network exported to ONNX ' +
    'in memory (harness/onnx.ts) with the same weights: the peer. Not in the payload: needs onnxruntime-node on the device.',
  needs: {},
  nativeCode: true,
  applies(shape: ConvShape, params?: CaseParams): true | string {
    const m = modelOnly(shape, params);
    // Whether ONNX Runtime loads on this device: the same check as the conv peer's.
    return m === true ? convOnnxruntimeF32.applies(shape) : m;
  },
  engine: 'onnxruntime',
};

/**
 * A whole network quantized by an int8 scheme (suites/models/quantized.ts): `all`, every conv in int8
 * (model-runtime-int8-<scheme>), or `mixed`, the mixed-precision plan (model-runtime-mixed-<scheme>).
 * Made per run from --schemes (ExtraVariant kind scheme, suite models).
 */
export function modelQuantVariant(scheme: Int8Scheme, network: 'all' | 'mixed'): ModelVariant {
  const label = `${schemeLabel(scheme)}-${schemeDtype(scheme)}`;
  return {
    name: `model-runtime-${network === 'all' ? 'int8' : 'mixed'}-${label}`,
    op: 'model',
    algorithm: network === 'all' ? 'runtime-int8' : 'runtime-mixed',
    dtype: schemeDtype(scheme) as 'i8' | 'u8',
    description:
      (network === 'all'
        ? 'The light runtime with every conv quantized'
        : 'The mixed-precision plan: every conv quantized, then the layers with the lowest SQNR alone fallen back to fp32 one at a time until the final output meets the budget') +
      ` (int8 im2col GEMM, int8 depthwise on depthwise layers; activations with a static scale per conv calibrated on other inputs; output dequantized to f32). Scheme: ${describeScheme(scheme)}.`,
    needs: { wasmSimd: true },
    applies: modelOnly,
    engine: 'runtime',
    policy: network === 'all' ? 'int8' : 'mixed',
    scheme,
  };
}

export const modelVariants = defineVariants('models', [modelRuntimeIm2colF32, modelRuntimeBestF32, modelOnnxruntimeF32]);
