/**
 * The models suite's kit (suites/kit.ts GraphKit): whole networks, each variant running the case's graph
 * end to end (the light runtime with a conv policy, or ONNX Runtime), measured by the kit itself
 * (suites/models/measure.ts: its own sampling, every layer checked). Payload-safe; the cases (the zoo,
 * the user's files) are made on the host (suites/models/suite.ts).
 */
import type { GraphKit } from '../kit.js';
import { measureModelCase } from './measure.js';
import { modelVariants } from './variants.js';

export const modelsKit: GraphKit = {
  name: 'models',
  description:
    'Whole networks end to end (suites/models): the light runtime (--policy im2col|best) and ONNX Runtime, every layer checked; at --threads N the conv layers on N threads',
  variants: modelVariants,
  measure: measureModelCase,
  // The runtime's fp32 networks run their conv layers on the run's pool; ONNX Runtime on its own (suites/models/threaded.ts).
  threads: true,
};
