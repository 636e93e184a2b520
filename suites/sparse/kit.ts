/**
 * The sparse suite's kit (suites/kit.ts): the SpMM variants and their dense baseline on the same pruned
 * weights, with the conv suite's tensors (a case's CaseSpec.sparsity prunes the weights before the
 * reference and every variant). Its cases, the sweep of layer x pattern x sparsity, are read on the
 * host from sweep.yaml (cases.ts, registered in suites/index.ts).
 */
import type { ConvShape } from '../../core/contracts.js';
import { convCaseTensors } from '../conv/kit.js';
import { SPEED_BASELINE_VARIANT } from '../conv/baselines.js';
import type { SuiteKit } from '../kit.js';
import { sparseVariants } from './variants.js';

const shape = (p: Partial<ConvShape>): ConvShape => ({ n: 1, c: 1, h: 1, w: 1, k: 1, r: 1, s: 1, stride: 1, pad: 0, groups: 1, ...p });

export const sparseKit: SuiteKit = {
  name: 'sparse',
  description: 'Convolution with pruned weights: SpMM per weight format (CSR, output-channel blocks) against the dense im2col GEMM',
  variants: sparseVariants,
  caseTensors: convCaseTensors,
  tableBaseline: SPEED_BASELINE_VARIANT,
  conformance: [
    { why: '1x1, K=7 C=10, 37 pixels, 90% unstructured', shape: shape({ c: 10, k: 7, h: 1, w: 37 }), sparsity: { pattern: 'unstructured', fraction: 0.9 } },
    { why: '1x1, K=13 C=24 at 7x7, 1x4 blocks at 80%', shape: shape({ c: 24, k: 13, h: 7, w: 7 }), sparsity: { pattern: '1x4', fraction: 0.8 } },
    { why: '1x1, batch of 2, K=9 C=11 at 4x6, 1x2 blocks', shape: shape({ n: 2, c: 11, k: 9, h: 4, w: 6 }), sparsity: { pattern: '1x2', fraction: 0.5 } },
    {
      why: '3x3 stride 2 pad 1 via im2col, n=2, unstructured 50%',
      shape: shape({ n: 2, c: 5, k: 6, h: 9, w: 11, r: 3, s: 3, stride: 2, pad: 1 }),
      sparsity: { pattern: 'unstructured', fraction: 0.5 },
    },
    { why: '1x1, one output channel, fully zero weights', shape: shape({ c: 13, k: 1, h: 1, w: 3 }), sparsity: { pattern: 'unstructured', fraction: 1 } },
  ],
};
