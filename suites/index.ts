/** Host side: every suite roofbench knows, with its cases (from data) and variants (code). */
import type { CaseSpec, ConvVariant, Distribution, ExtraVariant } from '../core/contracts.js';
import { convCases, convExtraVariants } from './conv/cases.js';
import { convVariants } from './conv/variants.js';
import { convDecisionBaselines } from './conv/baselines.js';

export interface CaseOptions {
  quick: boolean;
  seed: number;
  distribution: Distribution;
}

export interface Suite {
  name: string;
  description: string;
  cases(opts: CaseOptions): CaseSpec[];
  variants: readonly ConvVariant[];
  /** Parametrised variants the suite's data asks for (built with the factories in suites/variants.ts). */
  extraVariants?: () => ExtraVariant[];
  /** Variants the report's accuracy decision compares a variant of `algorithm` with (run along with it). */
  decisionBaselines?: (algorithm: string) => string[];
}

export const suites: readonly Suite[] = [
  {
    name: 'conv',
    description: 'Convolution layers from real networks: direct, im2col + SIMD GEMM, depthwise SIMD',
    cases: convCases,
    variants: convVariants,
    extraVariants: () => convExtraVariants(),
    decisionBaselines: convDecisionBaselines,
  },
];
