/** Host side: every suite roofbench knows, with its cases (from data) and variants (code). */
import type { AnyVariant, CaseSpec, Distribution, ExtraVariant } from '../core/contracts.js';
import { convCases, convExtraVariants } from './conv/cases.js';
import { convKit } from './conv/kit.js';
import { readSchemes } from './conv/schemes.js';
import { decisionBaselines } from './kit.js';
import { modelsKit } from './models/kit.js';
import { modelCases } from './models/suite.js';
import { sparseKit } from './sparse/kit.js';
import { sparseCases } from './sparse/cases.js';
import { fusionCases, fusionKit } from './fusion/kit.js';
import { QUICK_TILES, tileOfVariant, tilingCases, tilingKit } from './tiling/kit.js';

export interface CaseOptions {
  quick: boolean;
  seed: number;
  distribution: Distribution;
  /** The models suite: zoo names or files to run (`--model`); absent: the whole zoo. */
  models?: readonly string[] | undefined;
  /** The models suite: the light runtime's conv policy (`--policy im2col|best`); absent: both. */
  policy?: string | undefined;
  /** The sparse suite: fractions of the weights pruned (`--sparsity`); absent: suites/sparse/sweep.yaml's. */
  fractions?: readonly number[] | undefined;
  /** The sparse suite: pruning patterns (`--pattern`); absent: sweep.yaml's. */
  patterns?: readonly string[] | undefined;
  /** The tiling suite: the tile sizes to run (`--tile`); absent: the sweep (--quick: a small subset). */
  tiles?: readonly number[] | undefined;
}

/** A suite on the host: its cases (read from data) and variants; a kit's (suites/<op>/kit.ts) or its own. */
export interface Suite {
  name: string;
  description: string;
  cases(opts: CaseOptions): CaseSpec[];
  variants: readonly AnyVariant[];
  /** Parametrised variants the suite's data asks for (built with the factories in suites/variants.ts). */
  extraVariants?: () => ExtraVariant[];
  /** Variants the report's accuracy decision compares a variant of `algorithm` with (run along with it). */
  decisionBaselines?: (algorithm: string) => string[];
  /** Not run unless asked for by name (`--suite NAME`, or an option of its own such as --model). */
  optIn?: boolean;
  /** Data a case's plan item carries to the device and no result stores (a network's real weights), by case id. */
  caseWeights?: (caseId: string) => ReadonlyMap<string, Float32Array> | null;
  /** The variants of this suite that options such as --policy leave (default: all). */
  narrow?: (names: string[], opts: CaseOptions) => string[];
}

export const suites: readonly Suite[] = [
  {
    name: convKit.name,
    description: convKit.description,
    cases: convCases,
    variants: convKit.variants,
    extraVariants: () => [...convExtraVariants(), ...readSchemes().extras],
    decisionBaselines: (algorithm) => decisionBaselines(convKit, algorithm),
  },
  modelsSuite(),
  {
    name: sparseKit.name,
    description: `${sparseKit.description}; a sweep of layer x pattern x sparsity (suites/sparse/sweep.yaml, --pattern, --sparsity)`,
    cases: sparseCases,
    variants: sparseKit.variants,
    // Hundreds of cases at full size: run when named (--suite sparse).
    optIn: true,
  },
  {
    name: fusionKit.name,
    description: fusionKit.description,
    cases: fusionCases,
    variants: fusionKit.variants,
    // Whole layers, every way timed interleaved: run when named (--suite fusion).
    optIn: true,
  },
  {
    name: tilingKit.name,
    description: `${tilingKit.description}; --tile T[,T] picks tile sizes`,
    cases: tilingCases,
    variants: tilingKit.variants,
    optIn: true,
    narrow(names, opts) {
      const keep = opts.tiles ?? (opts.quick ? QUICK_TILES : undefined);
      return keep ? names.filter((n) => tileOfVariant(n) === undefined || keep.includes(tileOfVariant(n)!)) : names;
    },
  },
];

/** POLICY -> the light runtime's variant of that policy (--policy). */
export const MODEL_POLICIES: Readonly<Record<string, string>> = { im2col: 'model-runtime-im2col-f32', best: 'model-runtime-best-f32' };

function modelsSuite(): Suite {
  const weights = new Map<string, ReadonlyMap<string, Float32Array> | null>();
  return {
    name: modelsKit.name,
    description: modelsKit.description,
    cases(opts) {
      const built = modelCases(opts);
      for (const b of built) weights.set(b.caseSpec.id, b.weights);
      return built.map((b) => b.caseSpec);
    },
    variants: modelsKit.variants,
    // A quantized network's speedup is over the fp32 im2col network of the same run: run it along.
    decisionBaselines: (algorithm) => (algorithm === 'runtime-int8' || algorithm === 'runtime-mixed' ? [MODEL_POLICIES.im2col!] : []),
    optIn: true,
    caseWeights: (id) => weights.get(id) ?? null,
    narrow(names, opts) {
      const keep = opts.policy ? MODEL_POLICIES[opts.policy] : undefined;
      return keep ? names.filter((n) => !Object.values(MODEL_POLICIES).includes(n) || n === keep) : names;
    },
  };
}
