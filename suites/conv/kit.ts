/**
 * The conv suite's kit (suites/kit.ts): its variants, how a case's tensors and
 * float64 reference are made, the per-case tables' baseline, the accuracy
 * decision's references, and the awkward shapes every variant must pass on.
 * Payload-safe: the cases (from shapes.yaml) are added on the host (suites/index.ts).
 */
import type { CaseSpec, ConvShape } from '../../core/contracts.js';
import { conv2dRef } from '../../reference/conv.js';
import { makeConvInputs } from '../../reference/random.js';
import { pruneConvWeights, pruningLoss, sparsityInfo } from '../../reference/sparse.js';
import type { CaseTensors, ConformanceShape, SuiteKit } from '../kit.js';
import { ANCHOR_VARIANT } from './baselines.js';
import { convDecision } from './decision.js';
import { convVariants } from './variants.js';

/**
 * A conv case's tensors: inputs from the seeded PRNG; a sparse case (CaseSpec.sparsity) has its weights pruned
 * first, for the reference and every variant alike, and records what pruning cost the layer.
 */
export function convCaseTensors(c: CaseSpec, onPhase?: (phase: string, detail?: string) => void): CaseTensors {
  onPhase?.('inputs', c.id);
  const inputs = makeConvInputs(c.shape, c.seed, c.distribution);
  const { x } = inputs;
  const pruned = c.sparsity ? pruneConvWeights(c.shape, inputs.w, c.sparsity) : undefined;
  const w = pruned?.weights ?? inputs.w;
  onPhase?.('reference', c.id);
  const ref = conv2dRef(c.shape, x, w);
  const reduction = (c.shape.c / c.shape.groups) * c.shape.r * c.shape.s;
  if (!pruned) return { x, w, ref, reduction };
  // For information only: the unpruned layer's output, to say what pruning cost it.
  const unpruned = conv2dRef(c.shape, x, inputs.w).y;
  return { x, w, ref, reduction, info: sparsityInfo(pruned, pruningLoss(inputs.w, w), { unpruned, pruned: ref.y }) };
}

const shape = (p: Partial<ConvShape>): ConvShape => ({ n: 1, c: 1, h: 1, w: 1, k: 1, r: 1, s: 1, stride: 1, pad: 0, groups: 1, ...p });

/** Shapes that reach the edges of every kernel: odd sizes, stride 2, groups, padding, tiny channel counts, a batch. */
export const CONV_CONFORMANCE: readonly ConformanceShape[] = [
  { why: '3x3 pad 1, odd 7x9 plane, C=3 K=5', shape: shape({ c: 3, k: 5, h: 7, w: 9, r: 3, s: 3, pad: 1 }) },
  { why: '3x3 stride 2 no padding, 11x13, C=4 K=6', shape: shape({ c: 4, k: 6, h: 11, w: 13, r: 3, s: 3, stride: 2 }) },
  { why: '3x3 pad 1, 2 groups, batch of 2, C=6 K=10', shape: shape({ n: 2, c: 6, k: 10, h: 8, w: 8, r: 3, s: 3, pad: 1, groups: 2 }) },
  { why: '1x1, one input channel, 5x7', shape: shape({ c: 1, k: 3, h: 5, w: 7 }) },
  { why: '1x1 pointwise, C=16 K=20 on 7x7', shape: shape({ c: 16, k: 20, h: 7, w: 7 }) },
  { why: '3x3 depthwise stride 2 pad 1, C=K=groups=5, 9x10', shape: shape({ c: 5, k: 5, h: 9, w: 10, r: 3, s: 3, stride: 2, pad: 1, groups: 5 }) },
  { why: '3x3 depthwise pad 1, C=K=groups=3, 6x6', shape: shape({ c: 3, k: 3, h: 6, w: 6, r: 3, s: 3, pad: 1, groups: 3 }) },
  { why: '5x5 pad 2, 2x40 strip, C=2 K=3', shape: shape({ c: 2, k: 3, h: 2, w: 40, r: 5, s: 5, pad: 2 }) },
];

export const convKit: SuiteKit = {
  name: 'conv',
  description: 'Convolution layers from real networks: direct, im2col + SIMD GEMM, depthwise SIMD',
  variants: convVariants,
  caseTensors: convCaseTensors,
  tableBaseline: ANCHOR_VARIANT,
  decision: convDecision,
  conformance: CONV_CONFORMANCE,
};
