/**
 * The suite kit: everything roofbench knows about one operator family, in its own
 * `suites/<op>/` folder, so that a new operator is a new folder and one line in
 * suites/kits.ts (and nothing in the runner or the report changes).
 *
 * A kit is payload-safe (it is bundled into the device payload: no fs, no YAML);
 * the host side adds the cases read from data (suites/index.ts). See docs/architecture.md.
 */
import type {
  AnyVariant,
  CaseResult,
  CaseSpec,
  ConvShape,
  ConvVariant,
  KernelContext,
  MeasuredCeilings,
  Probe,
  RunOptions,
  RuntimeFeatures,
  Sparsity,
  TestFaults,
} from '../core/contracts.js';
import type { RunThreads } from '../harness/runner/threaded-variants.js';

/** A case's tensors as every variant gets them, and their float64 reference (built on the device, untimed). */
export interface CaseTensors {
  x: Float32Array;
  /** The weights every variant and the reference get (a sparse case: already pruned). */
  w: Float32Array;
  ref: { y: Float64Array; absBound: Float64Array };
  /** Reduction length of one output (the exact tolerance grows with it). */
  reduction: number;
  /** Facts of the case every result carries (e.g. a sparse case's pruning and what it cost the layer). */
  info?: Record<string, number | string>;
}

/**
 * The variants the report's accuracy decision compares a fast algorithm with, by role:
 * the accuracy anchor (e.g. fp32 direct), the speed baseline, and the library peer a user would pick instead;
 * and the suite's words for them. The report names no variant and no algorithm of its own: what it says of a
 * suite's candidates comes from here (the conv suite's: suites/conv/decision.ts).
 */
export interface DecisionRoles {
  anchor: string;
  speedBaseline: string;
  peer?: string;
  /** Algorithms whose results the decision weighs against the references (e.g. winograd, fft). */
  fastAlgorithms: readonly string[];
  /** Short labels of the reference variants in the decision's prose and tables (e.g. 'fp32 direct'); every role has one. */
  labels: Readonly<Record<string, string>>;
  /** The section's heading after "Accuracy decision: " (e.g. 'fast convolution algorithms'). */
  title: string;
  /** The question the section answers, its first sentence (e.g. 'Is a Winograd tile size ... and what does it buy?'). */
  question: string;
  /**
   * A candidate's tile: the label its facts or name give ('F(4x4,3x3)', '16x16') and the size that orders the
   * candidates of one algorithm (smaller first); undefined where the algorithm has no tiles.
   */
  tile?(r: { variant: string; algorithm: string; info?: Readonly<Record<string, number | string>> }): { label: string; size: number } | undefined;
  /** A candidate's short label in the charts, from its algorithm and tile label (e.g. 'F(4x4)', 'FFT 8x8'), or undefined. */
  chartLabel?(algorithm: string, tile: string): string | undefined;
  /** Multiplies per output of a candidate whose stored facts do not say, from its algorithm, tile size and shape. */
  multsPerOutput?(algorithm: string, tileSize: number, shape: ConvShape): number | undefined;
}

/** An awkward shape every registered variant is checked on against the reference (test/conformance.test.ts). */
export interface ConformanceShape {
  why: string;
  shape: ConvShape;
  sparsity?: Sparsity;
}

export interface SuiteKit {
  name: string;
  description: string;
  /** The suite's fixed variants (suites/define.ts defineVariants: checked names, no duplicates). */
  variants: readonly ConvVariant[];
  /** Device side: the case's inputs from its seed, and the float64 reference. `onPhase` reports progress. */
  caseTensors(c: CaseSpec, onPhase?: (phase: string, detail?: string) => void): CaseTensors;
  /** The variant the per-case tables give speedups against ('x direct'). */
  tableBaseline: string;
  /** The accuracy decision's reference variants, where the suite has a decision. */
  decision?: DecisionRoles;
  /** Awkward shapes (odd sizes, stride 2, groups, padding, tiny channels) every variant must pass on where it applies. */
  conformance: readonly ConformanceShape[];
}

/** What the runner hands a kit that measures its cases itself (GraphKit.measure). */
export interface KitMeasureEnv {
  ctx: KernelContext;
  features: RuntimeFeatures;
  options: RunOptions;
  ceilings: MeasuredCeilings | null;
  onPhase?: (phase: string, detail?: string) => void;
  /** The run's variants by suite and name (the fixed ones and the run's parametrised ones). */
  resolveVariant: (suite: string, name: string) => AnyVariant | undefined;
  /** Data the plan item carries for this case and no result stores (a network's real weights: parameter -> base64 float32). */
  weights?: Record<string, string>;
  /** Test-only fault injection, from the plan (never set by the CLI). */
  faults?: TestFaults;
  /** The device's probe of this run (its cache sizes size the tiling suite's traffic model). */
  probe?: Probe;
  /** `--threads`: the counts and the run's pools, for a kit that runs its variants at N threads (GraphKit.threads). */
  threads?: RunThreads;
}

/**
 * A kit whose variants each run a whole graph (a network in the light runtime, a peer engine running the
 * same graph): it measures its cases itself, with its own sampling (suites/models/kit.ts). The runner
 * calls `measure` for a case of its suite instead of the per-operator path (harness/runner/measure.ts);
 * nothing else in the runner or the report knows what the kit runs.
 */
export interface GraphKit {
  name: string;
  description: string;
  variants: readonly AnyVariant[];
  /** Device side: every variant of the case measured, each failure a result (never a throw for one variant). */
  measure(c: CaseSpec, variantNames: string[], env: KitMeasureEnv): Promise<CaseResult[]>;
  tableBaseline?: string;
  decision?: DecisionRoles;
  /**
   * `true`: `measure` runs the variants at every count of env.threads itself (results `<variant>@t<N>`, or
   * skipped at N with the reason). Otherwise the runner reports its variants skipped at every count > 1.
   */
  threads?: true;
}

/** Any kit suites/kits.ts registers. */
export type AnyKit = SuiteKit | GraphKit;

/** Whether the kit measures its cases itself (a GraphKit). */
export function measuresItself(kit: AnyKit): kit is GraphKit {
  return 'measure' in kit;
}

/** The references a variant of `algorithm` needs in its case for the kit's decision ([] for the others). */
export function decisionBaselines(kit: Pick<SuiteKit, 'decision'>, algorithm: string): string[] {
  const d = kit.decision;
  if (!d || !d.fastAlgorithms.includes(algorithm)) return [];
  return [d.anchor, d.speedBaseline, ...(d.peer ? [d.peer] : [])];
}
