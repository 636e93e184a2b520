/** Shared set-up of the tests that call the runner's measureCase directly: a conv case and short sampling options. */
import { convCase as caseOf, type CaseSpec, type ConvShape, type RunOptions } from '../../core/contracts.js';

/** A conv case of `shape` (uniform(-1,1) inputs). */
export function convCase(layer: string, shape: ConvShape, seed: number): CaseSpec {
  return caseOf({ id: `conv/${layer}`, suite: 'conv', layer, description: `test case ${layer}`, shape, seed, distribution: 'uniform(-1,1)', tags: [] });
}

/** A few short samples: enough to exercise every policy of measureCase, not to measure anything. */
export const SHORT_OPTIONS: RunOptions = {
  quick: true,
  suites: ['conv'],
  filter: null,
  distribution: 'uniform(-1,1)',
  targetMs: 2,
  minSamples: 3,
  maxSamples: 3,
  minSampleMs: 0.2,
  cvTarget: 0.05,
  rounds: 1,
};
