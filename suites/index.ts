/** Host side: every suite roofbench knows, with its cases (from data) and variants (code). */
import type { CaseSpec, ConvVariant, Distribution, ExtraVariant } from '../core/contracts.js';
import { convCases, convExtraVariants } from './conv/cases.js';
import { convKit } from './conv/kit.js';
import { decisionBaselines, type SuiteKit } from './kit.js';

export interface CaseOptions {
  quick: boolean;
  seed: number;
  distribution: Distribution;
}

/** A suite on the host: its kit (suites/<op>/kit.ts) and its cases, read from data. */
export interface Suite extends SuiteKit {
  cases(opts: CaseOptions): CaseSpec[];
  variants: readonly ConvVariant[];
  /** Parametrised variants the suite's data asks for (built with the factories in suites/variants.ts). */
  extraVariants?: () => ExtraVariant[];
  /** Variants the report's accuracy decision compares a variant of `algorithm` with (run along with it). */
  decisionBaselines?: (algorithm: string) => string[];
}

export const suites: readonly Suite[] = [
  {
    ...convKit,
    cases: convCases,
    extraVariants: () => convExtraVariants(),
    decisionBaselines: (algorithm) => decisionBaselines(convKit, algorithm),
  },
];
