/**
 * The contracts every part of roofbench shares: shapes, cases, variants, the
 * runner's event stream and the stored run (results.json).
 *
 * The stored run is defined as a zod schema so that one definition gives the
 * TypeScript types, the runtime validation of what a device sends back, and the
 * published JSON Schema (schemas/results.schema.json, written by `npm run build`).
 *
 * This module is bundled into the device payload: keep it free of host-only
 * imports (no fs, no network).
 */
import { z } from 'zod';
import { convCaseGraph, Graph } from './graph.js';
import type { PlanExternal } from './external.js';

/**
 * The results schema version. 2: every case carries its graph (CaseSpec.graph; a conv case is a one-node
 * graph), and a models-suite case's graph moved there from `model.graph`. 3: every result records the
 * thread count it ran at (`threads`, `oversubscribed`) and the options the counts asked for
 * (`options.threads`). Version-1 and -2 files still load: RunResults migrates them (migrateRunJson below,
 * one thread), keeping every id and history series.
 */
export const SCHEMA_VERSION = 3;

/** The largest thread count `--threads` accepts (a sane cap: far above any board's cores, below a typo's 1000). */
export const MAX_THREADS = 64;

/** One thread count of `--threads`: a number of threads, or `all` (the device's core count, as the device reports it). */
export const ThreadCount = z.union([z.number().int().min(1).max(MAX_THREADS), z.literal('all')]);
export type ThreadCount = z.infer<typeof ThreadCount>;

/**
 * The variant name a result at `threads` threads is stored under: the variant's own name at one thread,
 * `<name>@t<N>` at N > 1, so every per-variant view (tables, charts, history series) keeps the counts apart;
 * the result's `threads` field is the count itself.
 */
export function threadedVariantName(name: string, threads: number): string {
  return threads === 1 ? name : `${name}@t${threads}`;
}

/**
 * The thread counts `--threads` asked for, as numbers: `all` is `cores` (the device's core count as its probe
 * reports it; dropped while it is unknown), duplicates removed, ascending.
 */
export function resolveThreadCounts(requested: readonly ThreadCount[] | undefined, cores: number | null): number[] {
  const counts = (requested ?? [1]).flatMap((t) => (t === 'all' ? (cores !== null && cores >= 1 ? [Math.min(cores, MAX_THREADS)] : []) : [t]));
  return [...new Set(counts)].sort((a, b) => a - b);
}

/** The thread count of a result: its `threads` field, else what its name says (threadedVariantName). */
export function resultThreads(r: { variant: string; threads?: number | undefined }): number {
  return r.threads ?? baseVariantName(r.variant).threads;
}

/** The variant a (possibly threaded) result name stands for, and its thread count: the inverse of threadedVariantName. */
export function baseVariantName(name: string): { base: string; threads: number } {
  const m = /^(.*)@t([1-9][0-9]*)$/.exec(name);
  return m ? { base: m[1]!, threads: Number(m[2]) } : { base: name, threads: 1 };
}

/**
 * A point in time as stored: an ISO 8601 date-time with its offset
 * (`2026-11-29T14:03:11.123Z`), validated wherever a run is read, so one bad
 * timestamp is refused with its file and field instead of breaking a chart later.
 */
export const IsoTime = z.iso.datetime({ offset: true });

// ---------------------------------------------------------------------------
// Shapes and cases
// ---------------------------------------------------------------------------

/** A 2D convolution, NCHW input, KCRS weights (C per group), NKHW output. */
export const ConvShape = z.object({
  n: z.number().int().positive(),
  c: z.number().int().positive(),
  h: z.number().int().positive(),
  w: z.number().int().positive(),
  k: z.number().int().positive(),
  r: z.number().int().positive(),
  s: z.number().int().positive(),
  stride: z.number().int().positive(),
  pad: z.number().int().nonnegative(),
  groups: z.number().int().positive(),
});
export type ConvShape = z.infer<typeof ConvShape>;

export const Distribution = z.enum(['uniform(-1,1)', 'uniform(0,1)', 'activation']);
export type Distribution = z.infer<typeof Distribution>;

/**
 * Weight sparsity of a case: the runner magnitude-prunes the case's weights to
 * `fraction` with `pattern` (reference/sparse.ts) before the float64 reference
 * and every variant see them, so the reference is the conv of the pruned
 * weights and a dense variant runs on the same weights as the sparse ones.
 */
export const Sparsity = z.strictObject({
  /** `unstructured`, a block `<input channels>x<output channels>` (1x4, 4x1 ...) or N:M (2:4): see reference/sparse.ts. */
  pattern: z.string().regex(/^(unstructured|\d+x\d+|\d+:\d+)$/, "use 'unstructured', a block such as 1x4 or 4x1, or N:M such as 2:4"),
  /** Share of the weights pruned, 0..1 (N:M: exactly 1 - N/M). */
  fraction: z.number().min(0).max(1),
});
export type Sparsity = z.infer<typeof Sparsity>;

/**
 * What a models-suite case (a whole network: suites/models, docs/graphs.md) adds to its graph
 * (CaseSpec.graph): where it came from and how its weights are made. Its parameters are drawn on the
 * device from the case's seed (reference/graph-init.ts), or, for real weights (an ONNX file, a trained
 * zoo entry), travel with the plan item (PlanItem.weights), never in results.
 */
export const ModelCase = z.object({
  /** The zoo name, or the file the network was read from. */
  source: z.string(),
  title: z.string(),
  /** seeded: drawn on the device from the case's seed; shipped: the file's real weights travel in the plan. */
  weights: z.enum(['seeded', 'shipped']),
  weightsFrom: z.string().nullable(),
  /** Peak memory the run needs on the device, estimated on the host before running (suites/models/memory.ts). */
  memory: z.object({
    arenaBytes: z.number(),
    weightBytes: z.number(),
    referenceBytes: z.number(),
    totalBytes: z.number(),
    detail: z.string(),
  }),
});
export type ModelCase = z.infer<typeof ModelCase>;

/**
 * A case: a graph of operators over named tensors (`graph`, core/graph.ts), its inputs drawn from `seed`.
 * A conv case is the one-node graph `x -> conv(w) -> y` (convCaseGraph); a network is the whole graph.
 */
export const CaseSpec = z.object({
  /** `<suite>/<layer>`, e.g. `conv/resnet50.res2a.conv2`. */
  id: z.string(),
  suite: z.string(),
  /** The layer the shape comes from, e.g. `resnet50.res2a.conv2`. */
  layer: z.string(),
  description: z.string(),
  /** What the case computes: operators over named tensors, in topological order. */
  graph: Graph,
  /**
   * The conv shape of the graph's (first) conv node: what the conv kernels take, what conv-only views show,
   * and part of the case's history series identity (harness/history/identity.ts), so it never changes
   * for a case whose graph does not.
   */
  shape: ConvShape,
  seed: z.number().int(),
  distribution: Distribution,
  /** Free-form tags from the shape data (depthwise, pointwise, stride2, odd ...). */
  tags: z.array(z.string()),
  /** Prune the weights first (absent: dense weights, as drawn). */
  sparsity: Sparsity.optional(),
  /**
   * A whole network (the models suite): where it came from, its weights and memory estimate. `shape` is
   * then its first conv layer's (what conv-only views of the case show), and the model variants run the graph.
   */
  model: ModelCase.optional(),
});
export type CaseSpec = z.infer<typeof CaseSpec>;

/** A conv case: the fields of a case whose graph is the one-node conv of its shape (convCaseGraph, named after its layer). */
export function convCase(spec: Omit<CaseSpec, 'graph'>): CaseSpec {
  return { ...spec, graph: convCaseGraph(spec.shape, spec.layer) };
}

/**
 * A stored case of any version as this version reads it: a version-1 case (no `graph`) gets the graph it
 * stood for: a network's `model.graph`, moved; a conv case's one-node graph of its shape (convCaseGraph,
 * named after its layer, as the conv suite builds it now). Its id, shape, seed and tags are unchanged, so
 * its history series is too. Anything else is returned as it is, for the schema to judge.
 */
export function migrateCaseJson(c: unknown): unknown {
  if (typeof c !== 'object' || c === null || 'graph' in c) return c;
  const { model, ...rest } = c as { model?: unknown; shape?: unknown; layer?: unknown };
  if (typeof model === 'object' && model !== null && 'graph' in model) {
    const { graph, ...m } = model as { graph: unknown };
    return { ...rest, graph, model: m };
  }
  const shape = ConvShape.safeParse(rest.shape);
  if (!shape.success) return c;
  let graph: Graph;
  try {
    graph = convCaseGraph(shape.data, typeof rest.layer === 'string' ? rest.layer : 'conv');
  } catch {
    return c; // an impossible conv shape: the schema names it
  }
  return model === undefined ? { ...rest, graph } : { ...rest, graph, model };
}

/**
 * A stored run of any version this roofbench reads, as the current version: version 1 (before cases were
 * graphs) gets each case's graph (migrateCaseJson) and version 2. Nothing else changes: results, samples
 * and ids are kept as they are. Other versions are returned unchanged (readRun names the version).
 */
export function migrateRunJson(json: unknown): unknown {
  if (typeof json !== 'object' || json === null) return json;
  let run = json as { schemaVersion?: unknown; cases?: unknown; options?: unknown; results?: unknown };
  if (run.schemaVersion === 1) run = { ...run, schemaVersion: 2, cases: Array.isArray(run.cases) ? run.cases.map(migrateCaseJson) : run.cases };
  if (run.schemaVersion === 2) run = migrateV2Threads(run);
  return run === json ? json : run;
}

/**
 * Version 2 -> 3: every run before `--threads` ran on one thread: `options.threads` = [1] and each result
 * `threads: 1`. Nothing measured changes; the history series of a one-thread result is keyed as before.
 */
function migrateV2Threads(run: { options?: unknown; results?: unknown }): typeof run & { schemaVersion: 3 } {
  const options = typeof run.options === 'object' && run.options !== null ? { ...run.options, threads: [1] } : run.options;
  const results = Array.isArray(run.results)
    ? run.results.map((r: unknown) => (typeof r === 'object' && r !== null && !('threads' in r) ? { ...r, threads: 1 } : r))
    : run.results;
  return { ...run, schemaVersion: 3, options, results };
}

/** The versions of results.json this roofbench reads (older ones through migrateRunJson). */
export const READABLE_SCHEMA_VERSIONS: readonly number[] = [1, 2, SCHEMA_VERSION];

/**
 * What a case adds to its shape that a variant's applicability, cost or info
 * may depend on (today the weight sparsity). The runner passes the CaseSpec.
 */
export type CaseParams = Pick<CaseSpec, 'sparsity'> & { model?: ModelCase | undefined };

// ---------------------------------------------------------------------------
// Variants (code, not data: each variant file exports one of these)
// ---------------------------------------------------------------------------

/**
 * The storage dtype a variant's name ends with: f32, f16 (fp16 storage, f32
 * arithmetic), i8 (int8 activations and weights), u8 (uint8 activations with a
 * zero point, int8 weights). See reference/quant-scheme.ts.
 */
export type DType = 'f32' | 'f16' | 'i8' | 'u8';

export interface RuntimeFeatures {
  wasmSimd: boolean;
  /** WebAssembly relaxed SIMD (Node 20: --experimental-wasm-relaxed-simd); absent means no. */
  wasmRelaxedSimd?: boolean;
}

/** What a case's data are drawn from, for variants that draw more (calibration inputs of another seed). */
export interface CaseData {
  seed: number;
  distribution: Distribution;
}

/** What `prepare` hands back: the timed `run` and the output in reference layout. */
export interface Prepared {
  /** The timed region: one full execution of the operator. */
  run(): void;
  /**
   * For variants whose library only offers an asynchronous call (e.g. ONNX
   * Runtime's session.run): the timed region as a promise. When present, the
   * runner times this instead of run() (whose body may then just throw).
   */
  runAsync?(): Promise<void>;
  /** The output, NKHW (the reference's layout), valid after run(). */
  output(): Float32Array;
  /** Bytes of any transformed / packed parameters made by prepare (0 if none). */
  preparedBytes: number;
  /** What prepare did outside the timed region, stated in the report. */
  prepareNote?: string;
  /**
   * Low-precision variants (accuracy kind 'scheme'): the kernel check, against
   * the exact reference of the values the kernel was given (the integer
   * reference of the quantized tensors, bit for bit; float64 on the
   * half-rounded tensors). Valid after run(); a failed check is a kernel bug.
   */
  kernelCheck?(): AccuracyCheck[];
  /** The output's quantization step, for the scheme loss's rmse / scale (reference/scheme-loss.ts). */
  outputScale?: number;
  /**
   * Why this output may differ between devices although the variant is
   * WebAssembly (e.g. relaxed SIMD lanes whose result is implementation-defined):
   * the portability check leaves it out and the result says so.
   */
  nonPortable?: string;
  /** Free buffers. */
  dispose(): void;
}

/**
 * A conv kernel bound to one layer's shape and weights (packed once), reading
 * and writing tensors that live elsewhere in the kernels' memory: the light
 * runtime (suites/models/runtime) runs a network's conv nodes with these, its
 * tensors in one arena; a variant's prepare() runs the same kernel on copies.
 */
export interface LayerKernel {
  /** One execution: x (N C H W) and y (N K Ho Wo) are byte offsets in the kernels' memory; scratch a buffer of scratchFloats floats (or 0). */
  run(x: number, y: number, scratch: number): void;
  /**
   * Floats of stateless scratch the kernel needs per run, which the caller may
   * share between layers (state the kernel keeps between runs is allocated by layer() itself).
   */
  scratchFloats: number;
  /** Bytes of packed / transformed parameters and private workspace made by layer(). */
  preparedBytes: number;
  /** What layer() did outside the timed region, stated in the report. */
  note: string;
}

export interface KernelContext {
  /** Loaded kernels (WebAssembly instances); see kernels/index.ts. */
  readonly kernels: import('../kernels/index.js').Kernels;
}

export interface ConvVariant {
  /** `<op>-<algorithm>[-<detail>]-<dtype>`, e.g. `conv-im2col-gemm-f32`. */
  name: string;
  op: 'conv';
  /** Algorithm family, used to colour the roofline chart: direct, im2col-gemm, depthwise, winograd, fft ... */
  algorithm: string;
  dtype: DType;
  description: string;
  needs: Partial<RuntimeFeatures>;
  /**
   * The variant runs native code (e.g. ONNX Runtime) whose output may differ
   * between CPUs. WebAssembly variants are deterministic: their output bytes
   * must be identical on every device (the portability check relies on it).
   */
  nativeCode?: boolean;
  /**
   * Accuracy only: why this variant's time measures nothing (an emulation, e.g. fp16 arithmetic).
   * The runner prepares, runs and checks it once and never times it: its result is `skipped` with
   * this reason and its accuracy attached (never on a roofline, in a speedup or in the history).
   */
  accuracyOnly?: string;
  /**
   * `true`, or the reason the variant does not apply to this shape (the result is then `skipped`).
   * `params` (here and below): the case's parameters beyond its shape, e.g. its weight sparsity.
   */
  applies(shape: ConvShape, params?: CaseParams): true | string;
  /** Effective FLOPs: the direct algorithm's count (so algorithms compare on one axis). */
  flops(shape: ConvShape, params?: CaseParams): number;
  /** Bytes moved by the counting rule in the design (inputs + params + output). */
  bytes(shape: ConvShape, params?: CaseParams): number;
  /** Arithmetic the variant really performs, where it differs from flops(). */
  executedFlops?(shape: ConvShape, params?: CaseParams): number;
  /** Facts about the algorithm on this shape, stored with the result (see CaseResult.info). */
  info?(shape: ConvShape, params?: CaseParams): Record<string, number | string>;
  /**
   * Tolerance kind: exact algorithms get the reduction-length model, approximate ones a budget.
   * `defect`: why the variant is known to be wrong before it runs (e.g. its generated transforms
   * failed their exact verification); its results are then `inaccurate`, saying so.
   * `scheme`: a low-precision variant (fp16 storage, int8): its prepared kernelCheck() is the
   * kernel check (pass/fail); the output against float64 on the original floats is the scheme's
   * loss, stored apart (Accuracy.schemeLoss), where budgets and --gate apply.
   */
  accuracy:
    { kind: 'exact' } | { kind: 'approximate'; maxRelL2: number; defect?: string } | { kind: 'scheme'; scheme: import('../reference/quant-scheme.js').Scheme };
  /** `data`: the case's seed and distribution (low-precision variants draw their calibration inputs from them). */
  prepare(ctx: KernelContext, shape: ConvShape, x: Float32Array, w: Float32Array, data?: CaseData): Prepared;
  /**
   * The kernel bound to a layer's weights, for the light runtime (where the
   * variant's kernel can read and write tensors in place); absent for
   * variants that cannot (native peers, low-precision schemes).
   */
  layer?(ctx: KernelContext, shape: ConvShape, w: Float32Array): LayerKernel;
  /**
   * For variants whose library only offers an asynchronous setup (e.g. ONNX
   * Runtime's InferenceSession.create): prepare as a promise. When present, the
   * runner awaits this instead of calling prepare() (whose body may then just
   * throw); it is still outside the timed region.
   */
  prepareAsync?(ctx: KernelContext, shape: ConvShape, x: Float32Array, w: Float32Array, data?: CaseData): Promise<Prepared>;
}

/**
 * A variant of the models suite: runs a whole network (ModelCase) end to end,
 * on the device (suites/models/measure.ts): the light runtime with a conv
 * policy, or a peer engine. Measured per case like a ConvVariant.
 */
export interface ModelVariant {
  /** `model-<engine>[-<policy>]-<dtype>`, e.g. `model-runtime-best-f32`. */
  name: string;
  op: 'model';
  algorithm: string;
  dtype: DType;
  description: string;
  needs: Partial<RuntimeFeatures>;
  nativeCode?: boolean;
  /** `true` for a model case, else why not (a conv case). */
  applies(shape: ConvShape, params?: CaseParams): true | string;
  /**
   * runtime: the light runtime, conv layers by `policy` (im2col: the im2col GEMM everywhere; best: per layer
   * shape the fastest variant that passes its accuracy check, measured in the same run); onnxruntime: the peer.
   */
  /** onnxruntime-web / tfjs-wasm: the WebAssembly peers on whole networks (--peers, suites/models/peers.ts). */
  engine: 'runtime' | 'onnxruntime' | 'onnxruntime-web' | 'tfjs-wasm';
  /** int8 / mixed: every conv quantized by `scheme` (mixed: the worst layers fallen back to fp32 until the budget is met; suites/models/quantized.ts). */
  policy?: 'im2col' | 'best' | 'int8' | 'mixed';
  /** int8 / mixed: the scheme (its text form, reference/quant-scheme.ts parseScheme). */
  scheme?: import('../reference/quant-scheme.js').Int8Scheme;
}

/**
 * A variant of a graph-pair suite (fusion, tiling: suites/fusion, suites/tiling): one way of computing the case's
 * graph (fused or unfused, layer by layer or tiled, ONNX Runtime at an optimisation level), measured by the suite's
 * kit against the float64 evaluation of the graph.
 */
export type GraphVariant = Omit<ModelVariant, 'op' | 'engine' | 'policy'> & { op: 'graph' };

/** Any variant a suite lists. */
export type AnyVariant = ConvVariant | ModelVariant | GraphVariant;

// ---------------------------------------------------------------------------
// Measurements (the stored run)
// ---------------------------------------------------------------------------

export const Stats = z.object({
  n: z.number().int().positive(),
  /** All in milliseconds per operation: a time is positive (a hand-edited zero or negative median is refused at load). */
  median: z.number().positive(),
  ciLow: z.number().positive(),
  ciHigh: z.number().positive(),
  /** Confidence level asked of [ciLow, ciHigh], e.g. 0.99. */
  ciLevel: z.number().gt(0).lt(1),
  /**
   * The interval's actual coverage (medianCiRanks): at least ciLevel when there are enough
   * samples, less when there are too few to reach it (5 samples: 93.75% at best).
   */
  ciCoverage: z.number().optional(),
  mean: z.number().positive(),
  min: z.number().positive(),
  max: z.number().positive(),
  p90: z.number().positive(),
  mad: z.number().nonnegative(),
  sd: z.number().nonnegative(),
  /** Coefficient of variation: sd / mean. */
  cv: z.number().nonnegative(),
  /** Indices into samples flagged as outliers (kept, never dropped). */
  outliers: z.array(z.number().int()),
});
export type Stats = z.infer<typeof Stats>;

export const Timing = z.object({
  /** Raw samples, milliseconds per single operation (each sample timed `repsPerSample` operations). */
  samples: z.array(z.number().positive()).min(1),
  repsPerSample: z.number().int().positive(),
  /**
   * Runs each sample timed, where any differs from repsPerSample: a sample whose runs
   * ended before minSampleMs ran on until it reached it (no sample is shorter).
   */
  sampleReps: z.array(z.number().int().positive()).optional(),
  /** Samples taken in each interleaved round, in order (sums to samples.length). */
  samplesPerRound: z.array(z.number().int().nonnegative()).optional(),
  /** Duration of one sample in ms (samples[i] * repsPerSample), to show it is far above timer resolution. */
  sampleDurationMs: z.number(),
  timerResolutionMs: z.number(),
  warmupMs: z.number(),
  stats: Stats,
  /** cv above the run's target: shown as noisy, never as a clean number. */
  noisy: z.boolean(),
});
export type Timing = z.infer<typeof Timing>;

export const Cost = z.object({
  flops: z.number().nonnegative(),
  executedFlops: z.number().nonnegative().optional(),
  bytes: z.number().nonnegative(),
  /** flops / bytes */
  intensity: z.number().nonnegative(),
});
export type Cost = z.infer<typeof Cost>;

/**
 * A float that may be non-finite. JSON has no Infinity or NaN, so those travel
 * as the strings "Infinity", "-Infinity" and "NaN" (an exact result has
 * SQNR = Infinity; a NaN output has NaN metrics). See encodeFloat/decodeFloat.
 */
export const Float = z.union([z.number(), z.enum(['Infinity', '-Infinity', 'NaN'])]);
export type Float = z.infer<typeof Float>;
export function encodeFloat(x: number): Float {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  return x;
}
export function decodeFloat(x: Float): number {
  return typeof x === 'number' ? x : Number(x);
}

/** One accuracy check the runner applied to a result (see reference/tolerance.ts and docs/accuracy.md). */
export const AccuracyCheck = z.object({
  /** per-element bound | error norm | systematic error | budget | transforms */
  name: z.string(),
  ok: z.boolean(),
  /** The measured statistic, in the units of `limit` (a ratio to the bound for the per-element check). */
  value: Float,
  limit: z.number(),
  /** What the statistic and limit are, and where the limit comes from. */
  detail: z.string(),
});
export type AccuracyCheck = z.infer<typeof AccuracyCheck>;

export const Accuracy = z.object({
  maxAbs: Float,
  relL2: Float,
  /** Max element-wise relative error over elements with |ref| above the floor. */
  maxRel: Float,
  sqnrDb: Float,
  cosine: Float,
  /** The tolerance the variant was held to and where it came from. */
  tolerance: z.object({
    metric: z.enum(['maxAbs', 'relL2']),
    limit: z.number(),
    source: z.string(),
  }),
  /** Hash of the output bytes (FNV-1a 64, hex): identical across devices for deterministic kernels. */
  outputChecksum: z.string(),
  /** The user's own budget (--max-rel-l2, --max-abs, --min-sqnr-db), where one was given. */
  budget: z.object({ ok: z.boolean(), violations: z.array(z.string()) }).optional(),
  /**
   * Every check the result was held to, `tolerance` among them: exact algorithms add the
   * probabilistic error-norm and systematic-error checks; generated transforms their exact verification;
   * low-precision variants their kernel check.
   */
  checks: z.array(AccuracyCheck).optional(),
  /**
   * Low-precision variants: the scheme's loss, the dequantized output against float64 on the original
   * floats (the metrics above are the same comparison; reference/scheme-loss.ts defines these).
   */
  schemeLoss: z
    .object({
      /** The scheme's label and description (reference/quant-scheme.ts). */
      scheme: z.string(),
      description: z.string(),
      sqnrDb: Float,
      relL2: Float,
      cosine: Float,
      maxAbs: Float,
      meanError: Float,
      sdError: Float,
      rmse: Float,
      /** The output's quantization step (NaN where there is none, e.g. fp16 storage). */
      scale: Float,
      rmseOverScale: Float,
      /** rmse / scale above 0.7 (TFLite's quantization debugger's example threshold). */
      flagged: z.boolean(),
    })
    .optional(),
  /** Why this output may differ between devices (left out of the portability check). */
  nonPortable: z.string().optional(),
});
export type Accuracy = z.infer<typeof Accuracy>;

export const Perf = z.object({
  /** Effective GFLOP/s (direct FLOPs / median time). */
  gflops: z.number(),
  executedGflops: z.number().optional(),
  /** GB/s by the counting rule. */
  gbps: z.number(),
  /**
   * Attainable GFLOP/s under the measured roofline at the intensity of the executed arithmetic
   * (bandwidth for the working set), and the executed GFLOP/s as a percentage of it: executed
   * FLOPs where the variant declares them, else the direct count (core/roofline.ts computePerf).
   * Above 100 means the point is above this roof (e.g. native code with wider vectors than WebAssembly).
   */
  attainableMeasured: z.number().optional(),
  pctMeasured: z.number().optional(),
  /**
   * Native kernels (--kernels): attainable under the native roofline its probe measured, and the
   * percentage of it (the kernel's distance from its own roof), where the run measured one.
   */
  attainableNative: z.number().optional(),
  pctNative: z.number().optional(),
  /** Attainable under the theoretical (device profile) roofline, where the device has a profile. */
  attainableTheoretical: z.number().optional(),
  pctTheoretical: z.number().optional(),
});
export type Perf = z.infer<typeof Perf>;

/** One row of a model run's per-layer table (a node of the graph). */
export const LayerRow = z.object({
  node: z.string(),
  op: z.string(),
  /** What ran it: a conv variant, the runtime's general conv, wasm-gemv (fully connected), js (simple kernels), view. */
  kernel: z.string(),
  note: z.string().optional(),
  /** Mean over the profiled inferences, ms, and how many calls that is. */
  ms: z.number().nonnegative(),
  calls: z.number().int().nonnegative(),
  flops: z.number().nonnegative(),
  bytes: z.number().nonnegative(),
  gflops: z.number().nonnegative(),
  /** Effective GFLOP/s as a percentage of the measured roof at this layer's intensity (absent without ceilings or FLOPs). */
  pctRoof: z.number().optional(),
  /** This layer's output against the float64 forward pass of the whole network (error grown so far). */
  relL2: Float,
  maxAbs: Float,
  /** The layer checked alone: its output against the reference of this node on the runtime's own inputs. */
  check: z.object({ ok: z.boolean(), detail: z.string() }),
  /** Threads it ran on, where more than one (a network at N threads: its conv layers through the pool; absent: thread 0). */
  threads: z.number().int().min(2).optional(),
  /** best policy: the candidates timed for this layer's shape (ms per run, or why not chosen). */
  candidates: z.array(z.object({ variant: z.string(), ms: z.number().nullable(), ok: z.boolean(), detail: z.string().optional() })).optional(),
});
export type LayerRow = z.infer<typeof LayerRow>;

/** What a model variant's timed result adds: the whole-network view (suites/models/measure.ts). */
export const ModelRun = z.object({
  engine: z.string(),
  policy: z.string().nullable(),
  /** Latency percentiles of the end-to-end inferences, ms. */
  p50: z.number(),
  p90: z.number(),
  p99: z.number(),
  /** Per node (empty for a peer engine, which is timed as a whole). */
  layers: z.array(LayerRow),
  /** Sum of the layers' mean times, and the end-to-end mean minus it (the runtime's own overhead), ms and % of end-to-end. */
  layerSumMs: z.number().nullable(),
  overheadMs: z.number().nullable(),
  overheadPct: z.number().nullable(),
  /** best policy: the sum over layers of the chosen (fastest passing) kernel times measured in this run, other layers' mean times, ms. */
  bestLayerSumMs: z.number().nullable().optional(),
  arenaBytes: z.number().nullable(),
  naiveArenaBytes: z.number().nullable(),
  weightBytes: z.number().nullable(),
  /** Output agreement with the light runtime's output (a peer's line), relative L2 and max abs. */
  agreement: z.object({ with: z.string(), relL2: Float, maxAbs: Float }).nullable(),
  /** int8 / mixed policies: the whole-network quantization (suites/models/quantized.ts, docs/precision.md). */
  quantization: z
    .object({
      scheme: z.string(),
      /** Calibration: method, how many inputs, their seeds' rule. */
      calibration: z.object({ method: z.string(), inputs: z.number().int().positive(), seeds: z.string() }),
      /** The tensor the final loss is of: the network's output, or the logits where it ends in a softmax (suites/models/quantized.ts lossTensor). */
      finalTensor: z.string(),
      /** The final output against the float64 network on the original floats (the evaluated input). */
      finalSqnrDb: Float,
      finalRelL2: Float,
      /** Top-1 agreement with the fp32 network (conv-im2col-gemm-f32 everywhere) over `inputs` inputs; `quick`: fewer than 256 (--quick). */
      top1: z.object({ agree: z.number().int().nonnegative(), inputs: z.number().int().positive(), quick: z.boolean() }),
      /** The budget the final output was held to, and whether it meets it. */
      budget: z.object({ text: z.string(), meets: z.boolean() }),
      /** Per conv layer: its kernel, its loss through the network (vs the float64 network's tensor) and alone (vs float64 of its own inputs). */
      layers: z.array(
        z.object({
          node: z.string(),
          kernel: z.string(),
          precision: z.enum(['int8', 'fp32']),
          /** Why the layer runs in fp32 (a layer the int8 kernels cannot take, or the mixed plan's fallback). */
          reason: z.string().optional(),
          inputScale: z.number().optional(),
          inputZeroPoint: z.number().optional(),
          sqnrDb: Float,
          localSqnrDb: Float,
        }),
      ),
      /** mixed: the layers fallen back to fp32, in order, with the final SQNR after each. */
      plan: z.array(z.object({ node: z.string(), localSqnrDb: Float, finalSqnrDb: Float, finalRelL2: Float })).optional(),
    })
    .optional(),
});
export type ModelRun = z.infer<typeof ModelRun>;

const ResultBase = z.object({
  caseId: z.string(),
  variant: z.string(),
  algorithm: z.string(),
  dtype: z.string(),
  /** A native kernel of the run's kernels file (--kernels): where it is declared, `file:line`. */
  external: z.string().optional(),
  /**
   * The threads it ran on (`--threads`; 1 for every run before schema 3). Every stored result has it: the
   * runner writes it, the host stamps the results it makes itself (resultThreads), the migration sets 1.
   */
  threads: z.number().int().min(1).max(MAX_THREADS).optional(),
  /** Set when `threads` exceeds the device's cores: threads queue for a core, so the figure is not the device's at N cores. */
  oversubscribed: z.boolean().optional(),
  cost: Cost,
  /**
   * What the variant declares about its algorithm on this shape, e.g. for
   * Winograd: tile, interpolation points, multiplications per output and the
   * condition numbers of its transforms.
   */
  info: z.record(z.string(), z.union([z.number(), z.string()])).optional(),
});

/**
 * Where a variant failed, a closed set (shown in reports as "in <phase>"):
 * - resolve: the variant is not in the payload (host and payload out of sync);
 * - case: the case's inputs or reference failed, so every variant of it did;
 * - prepare, run, check: the variant's prepare, its first run, the check of its output;
 * - output: an external kernel's output file could not be read;
 * - warmup, timing, stats: the warm-up and calibration, the timed rounds, the statistics;
 * - timeout: the case hung and the host stopped waiting (harness/results.ts);
 * - transport: the runner never reported it (connection lost, runner crashed).
 */
export const ErrorPhase = z.enum(['resolve', 'case', 'prepare', 'run', 'check', 'output', 'warmup', 'timing', 'stats', 'timeout', 'transport']);
export type ErrorPhase = z.infer<typeof ErrorPhase>;

export const CaseResult = z.discriminatedUnion('state', [
  ResultBase.extend({
    state: z.enum(['passed', 'inaccurate']),
    timing: Timing,
    perf: Perf,
    accuracy: Accuracy,
    prepare: z.object({ ms: z.number(), bytes: z.number(), note: z.string().optional() }),
    /** Model variants: the whole-network view (per-layer table, percentiles, overhead). */
    model: ModelRun.optional(),
  }),
  ResultBase.extend({
    state: z.literal('errored'),
    error: z.string(),
    /**
     * Where it failed: one of ErrorPhase when this runner wrote it (erroredResult takes nothing else); read
     * as any string, so a run from another version or a hostile device is still read (and escaped), not refused.
     */
    phase: z.string(),
  }),
  ResultBase.extend({
    state: z.literal('skipped'),
    reason: z.string(),
    /** An accuracy-only variant (ConvVariant.accuracyOnly): checked, not timed; its accuracy and scheme loss. */
    accuracy: Accuracy.optional(),
  }),
]);
export type CaseResult = z.infer<typeof CaseResult>;
export type ResultState = CaseResult['state'];

/** A result that was measured: timed and checked, whether or not it passed its accuracy checks. */
export type TimedResult = Extract<CaseResult, { state: 'passed' | 'inaccurate' }>;
export type ErroredResult = Extract<CaseResult, { state: 'errored' }>;

/** The one guard for a measured result (undefined, for a missing result, is not timed). */
export function isTimed(r: CaseResult | undefined): r is TimedResult {
  return r !== undefined && (r.state === 'passed' || r.state === 'inaccurate');
}

/** What names a result: its case and variant, and the variant's algorithm and dtype ('unknown' where it was never resolved). */
export type ResultIdentity = Pick<CaseResult, 'caseId' | 'variant' | 'algorithm' | 'dtype'> & Partial<Pick<CaseResult, 'cost' | 'info'>>;

/** The cost of a result that was never costed (the case or the variant failed before). */
export const NO_COST: Cost = Object.freeze({ flops: 0, bytes: 0, intensity: 0 });

/** The one constructor of an errored result: `error` says what went wrong, `phase` where. */
export function erroredResult(id: ResultIdentity, phase: ErrorPhase, error: string): ErroredResult {
  return { ...id, cost: id.cost ?? { ...NO_COST }, state: 'errored', phase, error };
}

export const Probe = z.object({
  hostname: z.string(),
  cpu: z.object({
    manufacturer: z.string(),
    brand: z.string(),
    arch: z.string(),
    /** os.machine(): armv7l, aarch64, x86_64 ... (Node >= 18.9). */
    machine: z.string().optional(),
    cores: z.number().int(),
    physicalCores: z.number().int(),
    speedGHz: z.number().optional(),
    speedMaxGHz: z.number().optional(),
    /** Bytes; per core for L1/L2 as reported by the OS. */
    cache: z.object({
      l1d: z.number().optional(),
      l2: z.number().optional(),
      l3: z.number().optional(),
    }),
    flags: z.array(z.string()),
  }),
  memory: z.object({ totalBytes: z.number() }),
  os: z.object({ platform: z.string(), distro: z.string(), release: z.string(), kernel: z.string() }),
  runtime: z.object({ node: z.string(), v8: z.string(), wasmSimd: z.boolean() }),
  /**
   * Set when the runtime runs under an emulator (qemu-user): what emulates it.
   * The CPU fields then describe the emulated CPU; cores, caches and flags the
   * emulator could not hide are left out.
   */
  emulation: z.string().nullable().optional(),
});
export type Probe = z.infer<typeof Probe>;

/**
 * CPU load from other processes over a stretch of the run (since the previous health
 * snapshot), measured on the device (harness/runner/load.ts).
 */
export const CpuLoad = z.object({
  seconds: z.number(),
  /** CPU time used by other processes (not the runner or its parent), per second of wall time: cores. */
  otherCores: z.number(),
  /** The same over the worst single case of the stretch. */
  maxCaseOtherCores: z.number(),
  maxCase: z.string().nullable(),
  /** Share of CPU time stolen by the hypervisor, where the kernel reports it (/proc/stat); else null. */
  steal: z.number().nullable(),
  /** Highest 1-minute load average seen (at the case boundaries). */
  maxLoadAvg1: z.number(),
});
export type CpuLoad = z.infer<typeof CpuLoad>;

/** Whether other work competed with the run on the device, and why: its CpuLoad over the whole run (harness/contention.ts). */
export const Contention = CpuLoad.extend({
  contended: z.boolean(),
  reason: z.string(),
  /** Other processes' CPU, in cores, above which the run counts as contended. */
  limit: z.number(),
});
export type Contention = z.infer<typeof Contention>;

export const Health = z.object({
  at: IsoTime,
  /** Where in the run: before, after, or before/after a suite. */
  when: z.string(),
  temperatureC: z.number().nullable(),
  governor: z.string().nullable(),
  freqMHz: z.number().nullable(),
  /** Raspberry Pi `vcgencmd get_throttled` value, or null where not available. */
  throttled: z.string().nullable(),
  loadAvg: z.array(z.number()),
  /** Other processes' CPU load since the previous snapshot (absent on the first one). */
  cpu: CpuLoad.optional(),
});
export type Health = z.infer<typeof Health>;

export const BandwidthPoint = z.object({
  kernel: z.enum(['copy', 'triad']),
  /** Total bytes touched by one pass (the working set). */
  bytes: z.number(),
  gbps: z.number(),
  samples: z.array(z.number()),
});

export const MeasuredCeilings = z.object({
  /** f32 WebAssembly SIMD multiply-add peak, single thread. */
  peakGflops: z.number(),
  peakSamples: z.array(z.number()),
  peakMethod: z.string(),
  /** Scalar f32 peak (for the naive variants' context). */
  scalarPeakGflops: z.number().optional(),
  /** int8 peak, GOP/s (i32x4.dot_i16x8_s chains, a multiply-add counted as 2 operations), single thread. */
  int8PeakGops: z.number().optional(),
  int8PeakSamples: z.array(z.number()).optional(),
  bandwidth: z.array(BandwidthPoint),
  /** The bandwidth of the largest (DRAM-sized) arrays, GB/s. */
  dramGbps: z.number(),
});
export type MeasuredCeilings = z.infer<typeof MeasuredCeilings>;

/**
 * The native roof: the same document, measured by the native ceilings probe of a kernels file
 * (`ceilings:`, docs/native-kernels.md), with where that probe is declared.
 */
export const NativeCeilings = MeasuredCeilings.extend({ source: z.string() });
export type NativeCeilings = z.infer<typeof NativeCeilings>;

export const TheoreticalCeilings = z.object({
  source: z.string(),
  peakGflops: z.record(z.string(), z.number()),
  dramGbps: z.number(),
  caches: z.record(z.string(), z.number()).optional(),
  /** Dtypes the profile's datasheet gives no peak for, with why. */
  noPeak: z.record(z.string(), z.string()).optional(),
});
export type TheoreticalCeilings = z.infer<typeof TheoreticalCeilings>;

export const RunOptions = z.object({
  quick: z.boolean(),
  suites: z.array(z.string()),
  filter: z.string().nullable(),
  distribution: Distribution,
  /** Target time per variant and case for sampling, ms. */
  targetMs: z.number(),
  minSamples: z.number().int(),
  maxSamples: z.number().int(),
  /** Minimum duration of one sample, ms (kept far above timer resolution). */
  minSampleMs: z.number(),
  cvTarget: z.number(),
  /** Rounds over which the variants of one case are interleaved. */
  rounds: z.number().int(),
  /** The user's accuracy budget: a variant that exceeds any of these is `inaccurate`. */
  budgets: z.object({ maxRelL2: z.number().optional(), maxAbs: z.number().optional(), minSqnrDb: z.number().optional() }).optional(),
  /** Variants run although --filter / --variant left them out, because the accuracy decision compares with them. */
  baselinesAdded: z.array(z.string()).optional(),
  /**
   * `--threads`: the thread counts every case runs at, in one run (`all`: the device's cores). The CLI always
   * writes it ([1] by default) and the v2 -> v3 migration sets [1]; absent (a plan built by a script) means [1].
   */
  threads: z.array(ThreadCount).min(1).optional(),
});
export type RunOptions = z.infer<typeof RunOptions>;

/**
 * How a run ended: `running` until it ends; `complete` when the runner said done;
 * `incomplete` when the runner, the device or the connection failed first;
 * `interrupted` when the user stopped it (Ctrl-C, SIGTERM, SIGHUP, `timeout`).
 */
export const RunStatus = z.enum(['running', 'complete', 'incomplete', 'interrupted']);
export type RunStatus = z.infer<typeof RunStatus>;

/** What was checked of the payload before it ran (see docs/security.md). */
export const PayloadVerification = z.object({
  /** The payload hash whose files were checked. */
  hash: z.string(),
  /** Where the check ran: on the device, right before the runner was loaded (`device`). */
  where: z.literal('device'),
  /** Files whose SHA-256 matched the host's manifest (every file of the payload, manifest.json included). */
  files: z.number().int().nonnegative(),
  /** Files found damaged or modified in the device's cache and replaced by a fresh upload (empty when none). */
  repaired: z.array(z.string()),
});
export type PayloadVerification = z.infer<typeof PayloadVerification>;

/** Which Node ran the payload on the device, and where it came from. */
export const DeviceNode = z.object({
  /** `device`: the device's own Node (devices.yaml `node:`); `shipped`: Debian's Node 18 that roofbench uploaded into the work dir. */
  source: z.enum(['device', 'shipped']),
  /** process.version as the device reported it. */
  version: z.string(),
  /** How it was started, in words. */
  command: z.string(),
  shipped: z
    .object({
      /** Debian architecture of the pack. */
      arch: z.string(),
      /** The Debian package it comes from, e.g. `nodejs armhf 18.20.4+dfsg-1~deb12u2`. */
      package: z.string(),
      /** The pack's folder name on the device (work dir `node/ID`). */
      id: z.string(),
      /** SHA-256 of the packed .tar.gz. */
      sha256: z.string(),
      bytes: z.number(),
      /** Bytes uploaded for this run: 0 when the device already held it, intact. */
      uploadedBytes: z.number(),
      /** Seconds spent checking (and, when uploaded, uploading and unpacking) it. */
      seconds: z.number(),
    })
    .optional(),
});
export type DeviceNode = z.infer<typeof DeviceNode>;

/** A stored run as this version writes it (RunResults also reads older versions, migrated). */
export const RunResultsCurrent = z.object({
  schemaVersion: z.literal(SCHEMA_VERSION),
  runId: z.string(),
  startedAt: IsoTime,
  finishedAt: IsoTime.nullable(),
  status: RunStatus,
  statusDetail: z.string().optional(),
  /** --wait: how long the run waited for the device lock before its runner started (not part of the run's time). */
  lockWaitMs: z.number().nonnegative().optional(),
  harness: z.object({ version: z.string(), gitCommit: z.string().nullable(), gitDirty: z.boolean().nullable() }),
  payloadHash: z.string(),
  device: z.object({
    name: z.string(),
    profile: z.string().nullable(),
    transport: z.enum(['local', 'ssh']),
    emulated: z.boolean(),
    /** ssh: bytes of payload uploaded for this run (0 when the device had it cached). */
    uploadedBytes: z.number().optional(),
    /** The payload's files as verified against their SHA-256 before the runner was loaded (absent in runs made before this check). */
    payloadVerified: PayloadVerification.optional(),
    /** ssh: which Node ran the payload and where it came from (absent in runs made before this was recorded). */
    node: DeviceNode.optional(),
  }),
  options: RunOptions,
  probe: Probe.nullable(),
  health: z.array(Health),
  /**
   * Set when the run finishes, from the load recorded with the health snapshots: a contended
   * run's timings get no improved/regressed verdict from compare. Null when no load was recorded.
   */
  contention: Contention.nullable().optional(),
  ceilings: z.object({
    measured: MeasuredCeilings.nullable(),
    theoretical: TheoreticalCeilings.nullable(),
    /** Measured by the native ceilings probe of the run's kernels file (--kernels), where it has one. */
    native: NativeCeilings.nullable().optional(),
    /** `--threads` N > 1: the same peak and bandwidth measured on N threads at once (harness/runner/threaded-ceilings.ts). */
    threaded: z.array(z.object({ threads: z.number().int().min(2), measured: MeasuredCeilings })).optional(),
  }),
  cases: z.array(CaseSpec),
  results: z.array(CaseResult),
  /** Runner stderr lines kept for diagnosis. */
  stderr: z.array(z.string()),
});
/** A stored run: the current version, or an older one migrated to it on the way in (migrateRunJson). */
export const RunResults = z.preprocess(migrateRunJson, RunResultsCurrent);
export type RunResults = z.infer<typeof RunResultsCurrent>;

// ---------------------------------------------------------------------------
// Runner <-> host: the plan sent to the device and the JSON-lines events back
// ---------------------------------------------------------------------------

export const PlanItem = z.object({
  caseSpec: CaseSpec,
  variants: z.array(z.string()),
  /** A model case's real weights (parameter name -> little-endian float32, base64): shipped, never stored in results. */
  weights: z.record(z.string(), z.string()).optional(),
});
/**
 * Test-only fault injection (set from the ROOFBENCH_TEST_FAULTS environment
 * variable, never by a command-line option): lets the tests prove that a hung
 * case, a dying runner or a slower variant are handled, and that the accuracy
 * checks catch subtly wrong kernels.
 */
export const TestFaults = z.object({
  /** Busy-loop forever when this case starts. */
  hangCase: z.string().optional(),
  /** Exit the runner abruptly (code 99) when this case starts. */
  crashCase: z.string().optional(),
  /** Make one variant slower by this factor (1.1 = 10% slower) by spinning after each run. */
  slowdown: z.object({ variant: z.string(), factor: z.number().min(1) }).optional(),
  // Accuracy faults: subtle kernel bugs the runner's own checks must catch (harness/runner/faults.ts).
  /** The im2col GEMM computes with its weights scaled by 1 + x: a systematic relative error x (e.g. 1e-4). */
  gemmRelError: z.number().optional(),
  /** The im2col GEMM silently computes with bfloat16-rounded weights. */
  gemmBf16Weights: z.boolean().optional(),
  /** The Cook-Toom generator gets a sign wrong (every Winograd transform built on the device). */
  cookToomSignFlip: z.boolean().optional(),
  /** The Winograd kernels compute with their filter off by a relative x (e.g. 1.2e-4). */
  winogradKernelError: z.number().optional(),
  /** The light runtime and the network peers compute one node of a network with its first parameter off by a relative x (suites/models/measure.ts). */
  modelLayerError: z.object({ node: z.string(), relError: z.number() }).optional(),
  /** The quantized networks compute one conv's input with its calibrated activation scale multiplied by `factor` (suites/models/quantized.ts). */
  quantScaleError: z.object({ node: z.string(), factor: z.number().positive() }).optional(),
  /** The mixed-precision plan stops after this many fallbacks, whether or not the budget is met (it must then not be reported as meeting it). */
  mixedPlanMaxFallbacks: z.number().int().nonnegative().optional(),
  /** The device reports this much memory (bytes) instead of its own: a small board, to prove models are skipped. */
  deviceMemoryBytes: z.number().positive().optional(),
  /** The fusion suite's fused variant runs its epilogue with the bias one channel off (suites/fusion/measure.ts). */
  fusedBiasShift: z.boolean().optional(),
  /** The tiling suite's tiled variants run a plan whose first layer's halo is one row short on every inner tile. */
  tiledHaloShort: z.boolean().optional(),
  /** The threaded variant of this name (`<name>@t<N>`) flips one output bit after each run: the bit-identity check must fail it. */
  threadedOutputBitFlip: z.string().optional(),
  /** The tfjs translation of a network (suites/models/tfjs-graph.ts) shuffles channels the wrong way round (C/g x g for g x C/g). */
  tfjsShuffleOrder: z.boolean().optional(),
  /** The tfjs translation keeps one intermediate tensor alive per run (a forgotten dispose): the leak check must fail it. */
  tfjsLeakTensor: z.boolean().optional(),
});
export type TestFaults = z.infer<typeof TestFaults>;

/**
 * A variant made for this run from parameters (not one of the suite's fixed
 * list): e.g. a Winograd tile on the user's own interpolation points, from the
 * command line or the suite's data. Host and runner build it with the same factory.
 */
/** The kernels a low-precision scheme can run on (suites/conv/schemes.ts; fp16-arith only `emulated`). */
export const SCHEME_KERNELS = ['im2col-gemm', 'depthwise', 'winograd-f2x2', 'winograd-f4x4', 'winograd-f6x6', 'relaxed', 'relaxed16', 'emulated'] as const;

/** The WebAssembly peers a run can add (--peers): onnxruntime-web and XNNPACK via tfjs-backend-wasm. */
export const PEER_LIBRARIES = ['onnxruntime-web', 'tfjs-xnnpack'] as const;

export const ExtraVariant = z.discriminatedUnion('kind', [
  z.object({
    suite: z.string(),
    kind: z.literal('winograd'),
    m: z.number().int().min(1),
    points: z.array(z.string()),
  }),
  /** A low-precision scheme (its text form, reference/quant-scheme.ts parseScheme) on one kernel (--schemes, suites/conv/schemes.yaml). */
  z.object({
    suite: z.string(),
    kind: z.literal('scheme'),
    scheme: z.string(),
    kernel: z.enum(SCHEME_KERNELS),
    /** models suite: the whole network quantized (all) or the mixed-precision plan (mixed). */
    network: z.enum(['all', 'mixed']).optional(),
  }),
  /** A WebAssembly peer (--peers): loaded on the device from the plan's peers part (suites/conv/peers/run.ts). */
  z.object({
    suite: z.string(),
    kind: z.literal('peer'),
    peer: z.enum(PEER_LIBRARIES),
  }),
]);
export type ExtraVariant = z.infer<typeof ExtraVariant>;

/**
 * Where the optional peers part of the payload (harness/peers-payload.ts) is on the device and every
 * file's SHA-256, as the host sent it (--peers): `dir` is absolute, or relative to the device's work
 * directory (the runner's working directory). `uploaded`: the transport put it in the device's work
 * directory, so a copy that fails its hashes is moved aside and the next run uploads it again.
 */
export const PlanPeers = z.object({
  dir: z.string().min(1),
  hash: z.string().regex(/^[0-9a-f]{16}$/),
  files: z.record(z.string(), z.string().regex(/^[0-9a-f]{64}$/)),
  uploaded: z.boolean().optional(),
});
export type PlanPeers = z.infer<typeof PlanPeers>;

export const Plan = z.object({
  runId: z.string(),
  extraVariants: z.array(ExtraVariant).optional(),
  /** The peers part of the payload on the device (--peers; set by the transport). */
  peers: PlanPeers.optional(),
  faults: TestFaults.optional(),
  /**
   * The user's native kernels (`--kernels FILE`). Its schema is PlanExternal in harness/external.ts
   * (which imports this module): the runner validates it with that schema.
   */
  external: z.custom<PlanExternal>((v) => typeof v === 'object' && v !== null, 'expected the external kernels object').optional(),
  options: RunOptions,
  items: z.array(PlanItem),
  measureCeilings: z.boolean(),
});
export type Plan = z.infer<typeof Plan>;

export const RunnerEvent = z.discriminatedUnion('type', [
  z.object({ type: z.literal('hello'), runnerVersion: z.string(), node: z.string(), pid: z.number() }),
  /**
   * From the payload bootstrap, before the runner is loaded: every file checked
   * against the SHA-256 the host sent. `verified: false` lists what did not match
   * (the runner is not loaded; the host repairs the cache and tries again).
   */
  z.object({
    type: z.literal('payload'),
    hash: z.string(),
    verified: z.boolean(),
    files: z.number().int().nonnegative(),
    mismatched: z.array(z.string()).optional(),
  }),
  z.object({ type: z.literal('probe'), probe: Probe }),
  z.object({ type: z.literal('health'), health: Health }),
  z.object({ type: z.literal('phase'), phase: z.string(), detail: z.string().optional() }),
  /** `threads` absent: the single-thread ceilings; N > 1: measured on N threads at once. */
  z.object({ type: z.literal('ceilings'), measured: MeasuredCeilings, threads: z.number().int().min(2).optional() }),
  z.object({ type: z.literal('native-ceilings'), measured: NativeCeilings }),
  z.object({ type: z.literal('case-start'), caseId: z.string(), index: z.number(), total: z.number() }),
  z.object({ type: z.literal('result'), result: CaseResult }),
  z.object({ type: z.literal('log'), level: z.enum(['info', 'warn']), message: z.string() }),
  z.object({ type: z.literal('done') }),
  z.object({ type: z.literal('fatal'), error: z.string() }),
]);
export type RunnerEvent = z.infer<typeof RunnerEvent>;
