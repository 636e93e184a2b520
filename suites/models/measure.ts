/**
 * Runs on the device: one models-suite case (a whole network), all its
 * variants, one after the other (each needs the whole machine; the case's
 * reference and inputs are shared). For each:
 *
 * - the light runtime (engine `runtime`): best policy first times, per conv
 *   layer shape, every conv variant with a layer kernel that applies, on that
 *   layer's real input and weights, and keeps the fastest that passes its
 *   accuracy check; then the network is compiled (suites/models/runtime),
 *   warmed up, checked layer by layer (each layer alone against the reference
 *   of that node on the runtime's own inputs: a kernel bug; and against the
 *   float64 forward pass of the whole network: the error grown so far), and
 *   timed: end-to-end inferences alternating with profiled ones (clock read
 *   between nodes) so drift hits both alike;
 * - ONNX Runtime (engine `onnxruntime`): the network exported to ONNX in
 *   memory (harness/onnx.ts) with the same weights, one thread, timed the same
 *   way end to end; its output is compared with float64 and with the runtime's.
 *   onnxruntime-web (--peers) runs the same ONNX bytes through the same path;
 * - XNNPACK via tfjs-backend-wasm (engine `tfjs-wasm`, --peers): the network
 *   translated op by op to tfjs ops (tfjs-graph.ts), one forward pass + dataSync()
 *   timed, the same output check, plus a check that no tensor leaked across runs.
 *
 * Nothing here stops the other variants: every failure becomes a result.
 * Payload-safe.
 */
import { totalmem } from 'node:os';
import { hrtimeNow } from 'tinybench';
import { quantileSorted } from 'simple-statistics';
import {
  baseVariantName,
  encodeFloat,
  erroredResult,
  threadedVariantName,
  NO_COST,
  type AnyVariant,
  type Accuracy,
  type AccuracyCheck,
  type CaseResult,
  type ErrorPhase,
  type CaseSpec,
  type ConvVariant,
  type Cost,
  type LayerRow,
  type ModelCase,
  type ModelRun,
  type ModelVariant,
  type RunOptions,
  type TestFaults,
} from '../../core/contracts.js';
import { explicitPadConv, inferShapes, numel, padPlanes, type Graph, type GraphNode, type Shapes } from '../../core/graph.js';
import { exportOnnx } from '../../core/onnx.js';
import { computeStatistics, isNoisy } from '../../core/stats.js';
import { computePerf } from '../../core/roofline.js';
import { accuracyChecks } from '../../harness/runner/check.js';
import { timerResolutionMs } from '../../harness/runner/calibrate.js';
import type { KitMeasureEnv } from '../kit.js';
import { checksumF32 } from '../../reference/checksum.js';
import { convNodeRef, evaluateGraph, type GraphEvaluation } from '../../reference/graph.js';
import { graphCost, nodeCost } from '../../reference/graph-cost.js';
import { makeGraphInputs, makeGraphParams } from '../../reference/graph-init.js';
import { errorMetrics, type ErrorMetrics } from '../../reference/metrics.js';
import { convOutputSize } from '../../reference/conv.js';
import { convVariants } from '../conv/variants.js';
import { convIm2colGemmF32 } from '../conv/variants/im2col-gemm.js';
import { loadOnnxruntime, ORT_SESSION_OPTIONS } from '../conv/variants/onnxruntime.js';
import { compileGraph, type CompiledGraph, type ConvChooser } from './runtime/runtime.js';
import { memorySkipReason, withThreadedNetworks } from './memory.js';
import { SHARED_MEMORY_MAX_PAGES } from '../../kernels/index.js';
import { asModelPeerResult, modelPeerRuntime, modelPeerSkipAt, modelPeerTfjs, TFJS_NETWORK_LIBRARY } from './peers.js';
import { tfjsUntranslatable, translateGraph } from './tfjs-graph.js';
import { roundOrder, samplesThisRound } from '../../harness/runner/sampling.js';
import { decodeWeights } from './weights-codec.js';
import { bitIdentityError, flipLowestBit, threadFields } from '../../harness/runner/threaded-variants.js';
import { modelThreadable, pooledNetwork, type PooledNetwork } from './threaded.js';
import { bitExactCheck } from '../conv/variants/lowp.js';
import { dequantScales, dequantizeAccRef, qconvRef, quantizeTensor, quantizeWeights } from '../../reference/quant.js';
import {
  finalLoss,
  fp32Chooser,
  mixedPlan,
  netBudget,
  quantChooser,
  quantizeNetwork,
  top1Agree,
  topClasses,
  withScratchNetwork,
  lossTensor,
  TOP1_INPUTS,
  TOP1_INPUTS_QUICK,
  type CalibrationCache,
  type PlanStep,
  type QuantizedNetwork,
  type QuantLayerPlan,
} from './quantized.js';

/** What the runner hands the kit (suites/kit.ts KitMeasureEnv): weights are a network's real weights shipped with the plan item. */
export type ModelEnv = KitMeasureEnv;

/** Operators whose fp32 result equals the float64 reference of the same inputs exactly (no arithmetic that rounds). */
const EXACT_OPS: ReadonlySet<GraphNode['op']> = new Set(['relu', 'relu6', 'maxpool', 'concat', 'channelshuffle', 'flatten', 'reshape']);
/** Simple kernels that round a few times per element (bias, folded batch norm, add, pools, softmax): relative L2 against float64 of the same inputs. */
export const SIMPLE_OP_REL_L2 = 1e-5;

const errMsg = (e: unknown): string => {
  if (e instanceof Error) return `${e.message}${e.cause instanceof Error ? `: ${e.cause.message}` : ''}`;
  return String(e);
};
const sci = (x: number): string => (Number.isFinite(x) ? x.toExponential(2) : String(x));

/** The graph of node `n` alone, reading its inputs as graph inputs (to evaluate it on the runtime's own values). */
function nodeGraph(g: Graph, n: GraphNode, shapes: Shapes): Graph {
  const inputs = [...new Set(n.inputs)].map((t) => ({ name: t, shape: shapes.get(t)! }));
  return {
    name: `${g.name}/${n.name}`,
    inputs,
    outputs: [n.outputs[0]],
    params: Object.fromEntries(n.params.map((p) => [p, g.params[p]!])),
    nodes: [n],
  };
}

/** The check of one layer alone: its output `y` against the reference of the node on the same inputs. */
function checkLayer(n: GraphNode, kernel: string, y: Float32Array, local: GraphEvaluation, shapes: Shapes): { ok: boolean; detail: string } {
  const out = n.outputs[0];
  const ref = local.values.get(out)!;
  const m = errorMetrics(y, ref);
  const failed = (cs: AccuracyCheck[]) =>
    cs
      .filter((c) => !c.ok)
      .map((c) => `${c.name}: ${c.detail}`)
      .join('; ');
  if (n.op === 'conv' || n.op === 'gemm') {
    const conv = convVariants.find((v) => v.name === kernel);
    // The runtime's general conv and the GEMM are exact fp32 sums of products: the exact-algorithm checks.
    const v: Pick<ConvVariant, 'name' | 'accuracy'> = conv ?? { name: kernel, accuracy: { kind: 'exact' } };
    const w = shapes.get(n.params[0]!)!;
    const reduction = n.op === 'conv' ? numel(w.slice(1)) : w[1]!;
    const c = accuracyChecks(v as ConvVariant, y, { y: ref, absBound: local.absBound.get(out)! }, m, reduction);
    // The systematic-error check assumes independent roundings; on real (trained) weights a layer's sums can share
    // a rounding bias that every kernel summing in the same order has (seen on mobilenet_v1_facessd, n = 9, identical
    // for the im2col GEMM and the general conv). In a network it is reported, not failed; the per-element bound
    // (a worst case) and the error norm decide.
    const deciding = c.checks.filter((k) => k.name !== 'systematic error');
    const ok = deciding.every((k) => k.ok);
    const flagged = c.checks.filter((k) => k.name === 'systematic error' && !k.ok);
    const note = flagged.length ? `; flagged, not failed: ${failed(flagged)}` : '';
    return { ok, detail: ok ? `${c.checks.map((k) => k.name).join(', ')}: passed (relL2 ${sci(m.relL2)})${note}` : failed(deciding) + note };
  }
  if (EXACT_OPS.has(n.op)) {
    const nanSame = y.every((v, i) => Number.isNaN(v) === Number.isNaN(ref[i]!));
    const ok = nanSame && (m.maxAbs === 0 || (Number.isNaN(m.maxAbs) && nanSame));
    return { ok, detail: ok ? 'exact: identical to float64 of the same inputs' : `must be exact; max abs error ${sci(m.maxAbs)}` };
  }
  const ok = m.relL2 <= SIMPLE_OP_REL_L2;
  return { ok, detail: `relL2 ${sci(m.relL2)} vs ${sci(SIMPLE_OP_REL_L2)} (a few fp32 roundings per element)` };
}

export function accuracyOf(
  y: Float32Array,
  ref: Float64Array,
  checks: AccuracyCheck[],
  source: string,
): { accuracy: Accuracy; metrics: ErrorMetrics; ok: boolean } {
  const metrics = errorMetrics(y, ref);
  const ok = checks.every((c) => c.ok);
  const failed = checks.filter((c) => !c.ok);
  return {
    metrics,
    ok,
    accuracy: {
      maxAbs: encodeFloat(metrics.maxAbs),
      relL2: encodeFloat(metrics.relL2),
      maxRel: encodeFloat(metrics.maxRel),
      sqnrDb: encodeFloat(metrics.sqnrDb),
      cosine: encodeFloat(metrics.cosine),
      tolerance: {
        metric: 'relL2',
        limit: checks[0]?.limit ?? 0,
        source: source + (ok ? '' : ` (failed: ${failed.map((c) => `${c.name}: ${c.detail}`).join('; ')})`),
      },
      checks,
      outputChecksum: checksumF32(y),
    },
  };
}

/**
 * The result of a variant that does not run here, or null: not in the payload (or not of kind `op`), needing
 * WebAssembly SIMD this runtime lacks, or not applying to the case (its reason). Shared by the kits that
 * measure their cases themselves.
 */
export function notRunnable(
  c: CaseSpec,
  name: string,
  v: AnyVariant | undefined,
  op: AnyVariant['op'],
  env: Pick<KitMeasureEnv, 'features'>,
  cost: Cost = NO_COST,
): CaseResult | null {
  const id = { caseId: c.id, variant: name, algorithm: v?.algorithm ?? 'unknown', dtype: v?.dtype ?? 'unknown', cost };
  if (!v || v.op !== op) return erroredResult(id, 'resolve', `unknown ${c.suite} variant "${name}" in the payload (host and payload out of sync?)`);
  if (v.needs.wasmSimd && !env.features.wasmSimd) return { ...id, state: 'skipped', reason: 'no WebAssembly SIMD on this runtime' };
  const applies = v.applies(c.shape, c);
  return applies === true ? null : { ...id, state: 'skipped', reason: applies };
}

/** Samples end to end and, for the runtime, per node: alternating, so drift hits both alike. */
export interface Sampled {
  samples: number[];
  /** Mean per node over the profiled inferences (runtime only). */
  layerMs: Float64Array | null;
  profiled: number;
  warmupMs: number;
  samplesPerRound: number[];
}

/** The timing record of a network variant's samples (one inference each), and their statistics. */
export function networkTiming(s: Sampled, resolution: number, cvTarget: number) {
  const stats = computeStatistics(s.samples, 0.99);
  return {
    stats,
    timing: {
      samples: s.samples,
      repsPerSample: 1,
      samplesPerRound: s.samplesPerRound,
      sampleDurationMs: stats.median,
      timerResolutionMs: resolution,
      warmupMs: s.warmupMs,
      stats,
      noisy: isNoisy(stats, cvTarget),
    },
  };
}

/**
 * A variant of the network, prepared and checked, waiting for its turns: the variants of a network take
 * turns in interleaved rounds (the order rotated each round, as the conv cases' variants do:
 * harness/runner/sampling.ts), so drift and other processes' load hit them alike.
 */
export interface Contender<V = ModelVariant> {
  name: string;
  v: V;
  /** One end-to-end inference. */
  run: () => void | Promise<void>;
  /** One profiled inference (clock read between nodes), per-node ms into the array; null for a peer engine. */
  profiled: ((ms: Float64Array) => void) | null;
  layers: number;
  wanted: number;
  warmupMs: number;
  samples: number[];
  layerSums: Float64Array;
  samplesPerRound: number[];
  /** The result from the samples. */
  finish(s: Sampled): CaseResult;
  dispose(): void | Promise<void>;
}

/**
 * A peer's logits (the input of the network's final softmax) against the float64 logits, within the output's limit:
 * a softmax that saturates is exactly one-hot in float32 and float64 alike, so the output alone would pass a
 * network with a wrong layer. A peer that gave no logits fails it.
 */
function logitsCheck(y: Float32Array | null, ref: Float64Array, limit: number): AccuracyCheck {
  if (y === null || y.length !== ref.length)
    return { name: 'logits', ok: false, value: 'NaN', limit, detail: `the engine gave no logits of ${ref.length} values to check` };
  const m = errorMetrics(y, ref);
  return {
    name: 'logits',
    ok: m.relL2 <= limit,
    value: encodeFloat(m.relL2),
    limit,
    detail: `relL2 ${sci(m.relL2)} of the logits (the final softmax's input) against float64 vs ${sci(limit)}`,
  };
}

/** How many inferences: enough for a stable median within the run's time budget. */
function inferenceCount(perInferenceMs: number, o: RunOptions): number {
  const budgetMs = o.targetMs * (o.quick ? 4 : 10);
  const min = o.quick ? Math.max(5, o.minSamples) : Math.max(11, o.minSamples);
  return Math.max(min, Math.min(o.maxSamples, Math.ceil(budgetMs / Math.max(perInferenceMs, 1e-3))));
}

/** Warm-up: at least 2 inferences and a tenth of the budget (JIT, caches, page faults of the arena); sets how many inferences to take. */
export async function warmUp(a: Contender<unknown>, o: RunOptions): Promise<void> {
  const w0 = hrtimeNow();
  let last = 0;
  for (let i = 0; i < 2 || hrtimeNow() - w0 < o.targetMs / 10; i++) {
    const t = hrtimeNow();
    await a.run();
    last = hrtimeNow() - t;
    if (i > 50) break;
  }
  a.warmupMs = hrtimeNow() - w0;
  a.wanted = inferenceCount(last, o);
}

/** `k` end-to-end inferences, each followed by a profiled one where the variant has them. */
async function takeSamples(a: Contender<unknown>, k: number): Promise<void> {
  const one = new Float64Array(a.layers);
  for (let i = 0; i < k; i++) {
    const t = hrtimeNow();
    await a.run();
    a.samples.push(Math.max(hrtimeNow() - t, 1e-9));
    if (a.profiled) {
      a.profiled(one);
      for (let j = 0; j < a.layers; j++) a.layerSums[j]! += one[j]!;
    }
  }
}

/** The interleaved rounds; a variant whose inference throws is taken out and reported through onError, the others go on. */
export async function sampleRounds<V>(
  cs: readonly Contender<V>[],
  o: RunOptions,
  failed: Set<Contender<V>>,
  onError: (a: Contender<V>, e: unknown) => void,
): Promise<void> {
  const rounds = Math.max(1, o.rounds);
  for (let round = 0; round < rounds; round++) {
    for (const a of roundOrder(
      cs.filter((x) => !failed.has(x)),
      round,
    )) {
      const k = Math.max(0, samplesThisRound(a.wanted, a.samples.length, round, rounds));
      try {
        await takeSamples(a, k);
        a.samplesPerRound.push(k);
      } catch (e) {
        failed.add(a);
        onError(a, e);
      }
    }
  }
}

export function sampledOf(a: Contender<unknown>): Sampled {
  const n = a.samples.length;
  return {
    samples: a.samples,
    layerMs: a.profiled ? a.layerSums.map((x) => x / n) : null,
    profiled: a.profiled ? n : 0,
    warmupMs: a.warmupMs,
    samplesPerRound: a.samplesPerRound,
  };
}

interface Candidate {
  variant: string;
  ms: number | null;
  ok: boolean;
  detail?: string;
}

/**
 * best policy: per conv layer shape, every conv variant with a layer kernel
 * that applies (the naive direct conv left out: a baseline, never the fastest),
 * run on the first such layer's float32 input (the reference's, rounded) and
 * weights, checked against float64 of that input, timed (median of 5 samples of
 * at least minSampleMs). The fastest passing one wins; every candidate is kept.
 */
function selectKernels(
  env: ModelEnv,
  g: Graph,
  shapes: Shapes,
  params: ReadonlyMap<string, Float32Array>,
  ref: GraphEvaluation,
): { choose: ConvChooser; byNode: Map<string, Candidate[]>; bestMs: Map<string, number> } {
  const kern = env.ctx.kernels;
  const candidates = convVariants.filter(
    (v) => v.layer && v.accuracy.kind !== 'scheme' && v.algorithm !== 'direct' && (!v.needs.wasmSimd || env.features.wasmSimd),
  );
  const byShape = new Map<string, { winner: ConvVariant | null; cands: Candidate[]; ms: number }>();
  const byNode = new Map<string, Candidate[]>();
  const bestMs = new Map<string, number>();
  const chosen = new Map<string, ConvVariant | null>();
  for (const n of g.nodes) {
    if (n.op !== 'conv') continue;
    // Unequal pads: the runtime runs the kernels on the input padded explicitly (core/graph.ts explicitPadConv), so are they timed.
    const pp = explicitPadConv(n, shapes);
    const cs = convShapeOf(n, shapes) ?? pp?.shape ?? null;
    if (!cs) continue;
    const key = JSON.stringify(cs);
    let entry = byShape.get(key);
    if (!entry) {
      env.onPhase?.('select', `${n.name}: timing ${candidates.length} conv kernels`);
      const x0 = Float32Array.from(ref.values.get(n.inputs[0]!)!);
      const x = pp ? padPlanes(x0, shapes.get(n.inputs[0]!)!, pp.pads) : x0;
      const w = params.get(n.params[0]!)!;
      const local = convNodeRef(n, shapes.get(n.inputs[0]!)!, shapes.get(n.params[0]!)!, shapes.get(n.outputs[0])!, x0, w);
      const reduction = (cs.c / cs.groups) * cs.r * cs.s;
      const { ho, wo } = convOutputSize(cs);
      const cands: Candidate[] = [];
      let winner: ConvVariant | null = null;
      let winnerMs = Infinity;
      for (const v of candidates) {
        const applies = v.applies(cs);
        if (applies !== true) continue;
        const mark = kern.mark();
        try {
          const lk = v.layer!(env.ctx, cs, w);
          const xb = kern.allocCopy(x);
          const yb = kern.alloc(cs.n * cs.k * ho * wo);
          const sp = lk.scratchFloats > 0 ? kern.alloc(lk.scratchFloats).ptr : 0;
          lk.run(xb.ptr, yb.ptr, sp);
          const y = yb.view().slice();
          const c = accuracyChecks(v, y, local, errorMetrics(y, local.y), reduction);
          // Reps so a sample lasts minSampleMs; 5 samples, the median.
          const t0 = hrtimeNow();
          lk.run(xb.ptr, yb.ptr, sp);
          const once = Math.max(hrtimeNow() - t0, 1e-6);
          const reps = Math.max(1, Math.ceil(env.options.minSampleMs / once));
          const s: number[] = [];
          for (let i = 0; i < 5; i++) {
            const t = hrtimeNow();
            for (let r = 0; r < reps; r++) lk.run(xb.ptr, yb.ptr, sp);
            s.push((hrtimeNow() - t) / reps);
          }
          s.sort((a, b) => a - b);
          const ms = s[2]!;
          cands.push({ variant: v.name, ms, ok: c.ok, ...(c.ok ? {} : { detail: c.detail }) });
          if (c.ok && ms < winnerMs) {
            winner = v;
            winnerMs = ms;
          }
        } catch (e) {
          cands.push({ variant: v.name, ms: null, ok: false, detail: errMsg(e) });
        } finally {
          kern.release(mark);
        }
      }
      entry = { winner, cands, ms: winnerMs };
      byShape.set(key, entry);
    }
    byNode.set(n.name, entry.cands);
    chosen.set(n.name, entry.winner);
    if (entry.winner) bestMs.set(n.name, entry.ms);
  }
  return { choose: (n) => chosen.get(n.name) ?? null, byNode, bestMs };
}

function convShapeOf(n: GraphNode, shapes: Shapes) {
  const x = shapes.get(n.inputs[0]!);
  const w = shapes.get(n.params[0]!);
  if (n.op !== 'conv' || !x || !w) return null;
  const { stride, pads, dilation, groups } = n.attrs;
  if (stride[0] !== stride[1] || pads.some((p) => p !== pads[0]) || dilation[0] !== 1 || dilation[1] !== 1) return null;
  return { n: x[0]!, c: x[1]!, h: x[2]!, w: x[3]!, k: w[0]!, r: w[2]!, s: w[3]!, stride: stride[0], pad: pads[0], groups };
}

/** Test-only: one node's first parameter off by a relative x (TestFaults.modelLayerError). */
function faultyParams(g: Graph, params: Map<string, Float32Array>, faults: TestFaults | undefined): Map<string, Float32Array> {
  const f = faults?.modelLayerError;
  if (!f) return params;
  const n = g.nodes.find((m) => m.name === f.node);
  const p = n?.params[0];
  if (!p) throw new Error(`test fault modelLayerError: graph "${g.name}" has no node "${f.node}" with a parameter`);
  const out = new Map(params);
  out.set(
    p,
    params.get(p)!.map((v) => v * (1 + f.relError)),
  );
  return out;
}

/**
 * The kernel check of an int8 layer in a network: its output bit for bit against the exact integer
 * reference (reference/quant.ts) of its own input quantized with the layer's static scale, the true
 * weights quantized by the scheme, dequantized, plus the bias in f32 (what the runtime adds).
 */
function int8LayerCheck(
  l: NonNullable<QuantLayerPlan['int8']>,
  x: Float32Array,
  w: Float32Array,
  b: Float32Array | null,
  y: Float32Array,
): { ok: boolean; detail: string } {
  const { shape } = l;
  const xq = quantizeTensor(x, l.x);
  const wq = quantizeWeights(w, shape.k, l.spec.scheme.weights);
  const acc = qconvRef(shape, xq, l.x.zeroPoint, wq.q);
  const plane = acc.length / (shape.n * shape.k);
  const want = dequantizeAccRef(acc, shape.k, plane, dequantScales(l.x.scale, wq.scales));
  if (b) for (let i = 0; i < want.length; i++) want[i] = want[i]! + b[Math.floor(i / plane) % shape.k]!;
  const c = bitExactCheck(y, want, 'int8 layer: input quantized with its static scale, int32 accumulation, f32(f32(acc) x D_k) + bias');
  return { ok: c.ok, detail: c.detail };
}

/** Per case: the calibration data, the fp32 network's top-1 classes and the quantized networks, shared by the int8 and mixed variants. */
interface QuantCaseState {
  cal: CalibrationCache;
  fp32Tops: Int32Array[] | null;
  nets: Map<string, QuantizedNetwork>;
}

/** The loss of a quantized network on the evaluated input: each int8 conv's SQNR alone, and the final output's. */
function quantizedLoss(
  env: ModelEnv,
  g: Graph,
  shapes: Shapes,
  params: Map<string, Float32Array>,
  runParams: Map<string, Float32Array>,
  inputs: Map<string, Float32Array>,
  refOut: Float64Array,
  q: QuantizedNetwork,
  fp32: ReadonlySet<string>,
  withLocal: boolean,
): { local: Map<string, number>; final: { sqnrDb: number; relL2: number } } {
  return withScratchNetwork(env.ctx, () => {
    const cg = compileGraph(env.ctx, g, runParams, quantChooser(q, fp32));
    cg.setInputs(inputs);
    const local = new Map<string, number>();
    if (withLocal) {
      cg.runVisiting((i) => {
        const n = g.nodes[i]!;
        if (n.op !== 'conv' || !q.layers.get(n.name)?.int8 || fp32.has(n.name)) return;
        const sub = nodeGraph(g, n, shapes);
        const ev = evaluateGraph(sub, new Map(sub.inputs.map((t) => [t.name, cg.tensor(t.name)])), params);
        local.set(n.name, errorMetrics(cg.tensor(n.outputs[0]), ev.values.get(n.outputs[0])!).sqnrDb);
      });
    } else cg.run();
    return { local, final: finalLoss(cg.tensor(lossTensor(g).name), refOut) };
  });
}

export async function measureModelCase(c: CaseSpec, variantNames: string[], env: ModelEnv): Promise<CaseResult[]> {
  const cores = env.threads?.cores ?? Infinity;
  const m: ModelCase = c.model!;
  const g = c.graph;
  const shapes = inferShapes(g);
  const gc = graphCost(g, 4, shapes);
  const cost: Cost = { flops: gc.flops, bytes: gc.bytes, intensity: gc.intensity };
  const variants = variantNames.map((name) => ({ name, v: env.resolveVariant(c.suite, name) as ModelVariant | undefined }));
  const base = (name: string, v: ModelVariant | undefined) => ({
    caseId: c.id,
    variant: name,
    algorithm: v?.algorithm ?? 'unknown',
    dtype: v?.dtype ?? 'unknown',
    ...threadFields(baseVariantName(name).threads, cores),
    cost,
    info: { model: m.source, weights: m.weights === 'seeded' ? `seeded He-scaled (seed ${c.seed})` : `real: ${m.weightsFrom ?? 'shipped'}` },
  });

  // Memory first: a network the device cannot hold is skipped, with the reason, before anything is allocated.
  // (The host checked it before shipping where it knew the device's memory; this is the device's own figure.)
  const fault = env.faults?.deviceMemoryBytes;
  const deviceBytes = fault ?? totalmem();
  const memorySource = fault ? 'test fault deviceMemoryBytes' : 'probed on the device';
  const reason = memorySkipReason(g.name, m.memory, deviceBytes, memorySource);
  // --threads: every variant at each count (ascending: the one-thread networks first, whose outputs the N-thread ones must equal).
  const counts = env.threads?.counts ?? [1];
  // The runtime's networks at N threads need their own copies: skipped (the one-thread ones still run) where they do not fit.
  const threadedMemoryReason = memorySkipReason(
    `${g.name} at ${counts.filter((n) => n > 1).join(', ')} threads`,
    withThreadedNetworks(m.memory, counts.filter((n) => n > 1).length),
    deviceBytes,
    memorySource,
  );
  const atCounts = counts.flatMap((threads) => variants.map(({ name, v }) => ({ threads, name: threadedVariantName(name, threads), v })));
  if (reason !== null) return atCounts.map(({ name, v }) => ({ ...base(name, v), state: 'skipped' as const, reason }));

  env.onPhase?.('inputs', c.id);
  const params = env.weights ? makeGraphParams(g, c.seed, decodeWeights(env.weights)) : makeGraphParams(g, c.seed);
  const inputs = makeGraphInputs(g, c.seed, c.distribution);
  env.onPhase?.('reference', `${c.id}: float64 forward pass`);
  const ref = evaluateGraph(g, inputs, params);
  const outName = g.outputs[0]!;
  const refOut = ref.values.get(outName)!;
  // The logits before a final softmax: the peers are checked on them too (a saturated softmax is one-hot in float32 and float64 alike).
  const logits = lossTensor(g);
  const logitsName = logits.name !== outName ? logits.name : null;
  const refLogits = logitsName !== null ? ref.values.get(logitsName)! : null;
  const results: CaseResult[] = [];
  const quantState: QuantCaseState = { cal: {}, fp32Tops: null, nets: new Map() };
  let runtimeOutput: { variant: string; y: Float32Array } | null = null;
  const resolution = timerResolutionMs();

  /**
   * A peer engine's network (ONNX Runtime, onnxruntime-web, tfjs): its output checked against the float64 forward
   * pass, one inference per sample. The peers' kernels are exact fp32 algorithms (no Winograd): the same growth as
   * the runtime's im2col network.
   */
  const peerContender = (
    name: string,
    v: ModelVariant,
    p: {
      run: () => void | Promise<void>;
      dispose: () => void | Promise<void>;
      checked: Float32Array;
      /** The logits of the checked run (when the network ends in a softmax). */
      checkedLogits: Float32Array | null;
      engine: string;
      info: NonNullable<CaseResult['info']>;
      nonPortable?: string;
      prepare: { ms: number; bytes: number; note: string };
      extraChecks?: () => AccuracyCheck[];
    },
  ): Contender => ({
    name,
    v,
    run: p.run,
    profiled: null,
    layers: 0,
    wanted: 0,
    warmupMs: 0,
    samples: [],
    layerSums: new Float64Array(0),
    samplesPerRound: [],
    dispose: p.dispose,
    finish: (s) => {
      const metrics = errorMetrics(p.checked, refOut);
      const limit = runtimeOutput ? Math.max(1e-4, 100 * (errorMetrics(runtimeOutput.y, refOut).relL2 || 0)) : 1e-4;
      const checks: AccuracyCheck[] = [
        {
          name: 'output',
          ok: metrics.relL2 <= limit,
          value: encodeFloat(metrics.relL2),
          limit,
          detail: `relL2 ${sci(metrics.relL2)} of the network's output against float64 vs ${sci(limit)}`,
        },
        ...(refLogits !== null ? [logitsCheck(p.checkedLogits, refLogits, limit)] : []),
        ...(p.extraChecks?.() ?? []),
      ];
      const acc = accuracyOf(p.checked, refOut, checks, "the network's output against the float64 forward pass");
      const { stats, timing } = networkTiming(s, resolution, env.options.cvTarget);
      const sorted = [...s.samples].sort((a, b) => a - b);
      const agree = runtimeOutput ? errorMetrics(p.checked, runtimeOutput.y) : null;
      return {
        ...base(name, v),
        info: { ...base(name, v).info, ...p.info },
        state: acc.ok ? 'passed' : 'inaccurate',
        timing,
        perf: computePerf(cost, stats.median, env.ceilings, null, 'f32'),
        accuracy: p.nonPortable ? { ...acc.accuracy, nonPortable: p.nonPortable } : acc.accuracy,
        prepare: p.prepare,
        model: {
          engine: p.engine,
          policy: null,
          p50: stats.median,
          p90: quantileSorted(sorted, 0.9),
          p99: quantileSorted(sorted, 0.99),
          layers: [],
          layerSumMs: null,
          overheadMs: null,
          overheadPct: null,
          arenaBytes: null,
          naiveArenaBytes: null,
          weightBytes: null,
          agreement: agree && runtimeOutput ? { with: runtimeOutput.variant, relL2: encodeFloat(agree.relL2), maxAbs: encodeFloat(agree.maxAbs) } : null,
        },
      };
    },
  });

  // 1. Prepare and check every variant (compiled networks and the peer's session stay alive for the rounds).
  const contenders: Contender[] = [];
  const mark = env.ctx.kernels.mark();
  const pools = [...(env.threads?.pools.values() ?? [])].map((p) => ({ p, mark: p.kernels.mark() }));
  const pooledNets: PooledNetwork[] = [];
  // The one-thread network's output hash per variant (an N-thread network must equal it bit for bit), and the best policy's choice (made once, on one thread).
  const oneThreadSums = new Map<string, string>();
  let bestSelection: ReturnType<typeof selectKernels> | null = null;
  try {
    for (const { threads, name, v } of atCounts) {
      const not = notRunnable(c, name, v, 'model', env);
      if (not || v?.op !== 'model') {
        results.push(not ? { ...not, ...threadFields(threads, cores) } : erroredResult(base(name, v), 'resolve', 'not a model variant'));
        continue;
      }
      // A WebAssembly peer runs at the thread count its library can (onnxruntime-web: the run's highest; tfjs: one).
      const peerSkip = modelPeerSkipAt(v, threads);
      if (peerSkip !== null) {
        results.push({ ...base(name, v), state: 'skipped', reason: peerSkip });
        continue;
      }
      const pool = threads > 1 ? env.threads?.pools.get(threads) : undefined;
      if (threads > 1) {
        const ok = modelThreadable(v);
        const why =
          ok !== true
            ? ok
            : v.engine === 'runtime' && !pool
              ? `the runner has no pool of ${threads} threads`
              : v.engine === 'runtime' && threadedMemoryReason !== null
                ? threadedMemoryReason
                : null;
        if (why !== null) {
          results.push({ ...base(name, v), state: 'skipped', reason: `not run on ${threads} threads: ${why}` });
          continue;
        }
      }
      // A network tfjs refuses (an operator and node it has no translation for): skipped with the reason, not errored.
      const untranslatable = v.engine === 'tfjs-wasm' ? tfjsUntranslatable(g, shapes) : null;
      if (untranslatable !== null) {
        results.push({ ...base(name, v), state: 'skipped', reason: `tfjs cannot express this network: ${untranslatable}` });
        continue;
      }
      let phase: ErrorPhase = 'prepare';
      try {
        if (v.engine === 'runtime') {
          // At N threads: compiled over the pool's shared memory, its conv layers through the pool (suites/models/threaded.ts).
          const ctx = pool ? { kernels: pool.kernels } : env.ctx;
          const pooled = pool ? pooledNetwork(pool) : null;
          if (pooled) pooledNets.push(pooled);
          const flip = env.faults?.threadedOutputBitFlip === name;
          const runParams = faultyParams(g, params, env.faults);
          let choose: ConvChooser = () => convIm2colGemmF32;
          let selection: ReturnType<typeof selectKernels> | null = null;
          let quant: { q: QuantizedNetwork; fp32: Set<string>; plan: { steps: PlanStep[]; meets: boolean } | null } | null = null;
          if ((v.policy === 'int8' || v.policy === 'mixed') && v.scheme) {
            const key = JSON.stringify(v.scheme);
            env.onPhase?.('prepare', `${v.name}: calibrating every conv input on other inputs`);
            let q = quantState.nets.get(key);
            if (!q) quantState.nets.set(key, (q = quantizeNetwork(env.ctx, g, shapes, runParams, c, v.scheme, env.options, quantState.cal, env.faults)));
            quant = { q, fp32: new Set(), plan: null };
            if (v.policy === 'mixed') {
              env.onPhase?.('prepare', `${v.name}: the mixed-precision plan (falling back the worst layers until the budget is met)`);
              const refLoss = ref.values.get(lossTensor(g).name)!;
              const start = quantizedLoss(env, g, shapes, params, runParams, inputs, refLoss, q, quant.fp32, true);
              const m = mixedPlan(
                start.local,
                start.final,
                netBudget(env.options),
                (fp32) => quantizedLoss(env, g, shapes, params, runParams, inputs, refLoss, q, fp32, false).final,
                env.faults?.mixedPlanMaxFallbacks ?? Infinity,
              );
              quant.fp32 = m.fp32;
              quant.plan = { steps: m.steps, meets: m.meets };
            }
            choose = quantChooser(q, quant.fp32);
            if (!quantState.fp32Tops) {
              env.onPhase?.('prepare', `${v.name}: the fp32 network's top-1 classes`);
              const count = env.options.quick ? TOP1_INPUTS_QUICK : TOP1_INPUTS;
              quantState.fp32Tops = withScratchNetwork(env.ctx, () =>
                topClasses(compileGraph(env.ctx, g, params, fp32Chooser), g, c.seed, c.distribution, count),
              );
            }
          }
          if (v.policy === 'best') {
            // Choosing the kernels is part of preparing the network (ErrorPhase has no phase of its own for it).
            // Once per case, timed on one thread: the N-thread networks run the same kernels (so the same bits).
            selection = bestSelection ??= selectKernels(env, g, shapes, runParams, ref);
            choose = selection.choose;
          }
          phase = 'prepare';
          env.onPhase?.('prepare', `${v.name}: compiling ${g.nodes.length} nodes`);
          const t0 = hrtimeNow();
          let cg: CompiledGraph;
          try {
            cg = compileGraph(ctx, g, runParams, choose, pooled?.options);
          } catch (e) {
            if (!pool) throw e;
            throw new Error(
              `compiling the network into the ${threads}-thread pool's shared memory (at most ${SHARED_MEMORY_MAX_PAGES / 16} MiB, ` +
                'every network at that count in it): run the network at --quick resolution or with fewer --threads counts',
              { cause: e },
            );
          }
          const prepareMs = hrtimeNow() - t0;
          let top1: { agree: number; inputs: number } | null = null;
          if (quant) {
            env.onPhase?.('check', `${v.name}: top-1 agreement with the fp32 network over ${quantState.fp32Tops!.length} inputs`);
            top1 = top1Agree(quantState.fp32Tops!, topClasses(cg, g, c.seed, c.distribution, quantState.fp32Tops!.length));
          }
          cg.setInputs(inputs);
          phase = 'check';
          env.onPhase?.('check', `${v.name}: every layer against float64`);
          const rows: Omit<LayerRow, 'ms' | 'calls' | 'gflops' | 'pctRoof'>[] = [];
          const qLayers: NonNullable<ModelRun['quantization']>['layers'] = [];
          cg.runVisiting((i) => {
            const n = g.nodes[i]!;
            const l = cg.layers[i]!;
            const y = cg.tensor(l.output);
            const grown = errorMetrics(y, ref.values.get(l.output)!);
            const sub = nodeGraph(g, n, shapes);
            // The true weights: a kernel computing with others (the test fault) must fail here.
            const local = evaluateGraph(sub, new Map(sub.inputs.map((t) => [t.name, cg.tensor(t.name)])), params);
            const nc = nodeCost(n, shapes);
            const cands = selection?.byNode.get(n.name);
            const ql = quant && n.op === 'conv' ? quant.q.layers.get(n.name) : undefined;
            const int8 = ql?.int8 && !quant!.fp32.has(n.name) ? ql.int8 : null;
            if (ql) {
              const reason = ql.reason ?? (int8 ? undefined : 'the mixed-precision plan fell it back to fp32');
              qLayers.push({
                node: n.name,
                kernel: l.kernel,
                precision: int8 ? 'int8' : 'fp32',
                ...(reason !== undefined ? { reason } : {}),
                ...(int8 ? { inputScale: int8.x.scale, inputZeroPoint: int8.x.zeroPoint } : {}),
                sqnrDb: encodeFloat(grown.sqnrDb),
                localSqnrDb: encodeFloat(errorMetrics(y, local.values.get(l.output)!).sqnrDb),
              });
            }
            rows.push({
              node: n.name,
              op: n.op,
              kernel: l.kernel,
              ...(l.note !== undefined ? { note: l.note } : {}),
              flops: nc.flops,
              bytes: nc.bytes,
              relL2: encodeFloat(grown.relL2),
              maxAbs: encodeFloat(grown.maxAbs),
              ...(l.threads !== undefined ? { threads: l.threads } : {}),
              check: int8
                ? int8LayerCheck(int8, cg.tensor(n.inputs[0]!), params.get(n.params[0]!)!, n.params[1] ? params.get(n.params[1])! : null, y)
                : checkLayer(n, l.kernel, y, local, shapes),
              ...(cands ? { candidates: cands } : {}),
            });
          });
          // Test-only (plan.faults): one thread writes one wrong bit of the output, as a race or a wrong block would.
          if (flip) flipLowestBit(cg.view(outName));
          const y = Float32Array.from(cg.tensor(outName));
          const checkedSum = checksumF32(y);
          if (pool) {
            // The split must change nothing but the time: the output equals the one-thread network's bit for bit.
            const one =
              oneThreadSums.get(v.name) ??
              withScratchNetwork(env.ctx, () => {
                const one = compileGraph(env.ctx, g, runParams, choose);
                one.setInputs(inputs);
                one.run();
                return checksumF32(one.tensor(outName));
              });
            const err = bitIdentityError(v.name, threads, checkedSum, one);
            if (err !== null) throw new Error(err);
          } else oneThreadSums.set(v.name, checkedSum);
          // The peer's agreement is with an fp32 network, never a quantized one.
          if (!quant) runtimeOutput ??= { variant: name, y };
          contenders.push({
            name,
            v,
            run: flip
              ? () => {
                  cg.run();
                  flipLowestBit(cg.view(outName));
                }
              : () => cg.run(),
            profiled: (ms) => cg.runProfiled(ms, hrtimeNow),
            layers: g.nodes.length,
            wanted: 0,
            warmupMs: 0,
            samples: [],
            layerSums: new Float64Array(g.nodes.length),
            samplesPerRound: [],
            dispose: () => {},
            finish: (s) => {
              // The timed inferences must leave the checked output (catches kernels that accumulate into their output).
              const stable = checksumF32(cg.tensor(outName)) === checkedSum;
              const badLayers = rows.filter((r) => !r.check.ok);
              const checks: AccuracyCheck[] = [
                {
                  name: 'layer checks',
                  ok: badLayers.length === 0,
                  value: badLayers.length,
                  limit: 0,
                  detail:
                    badLayers.length === 0
                      ? `all ${rows.length} layers match the reference of their own inputs`
                      : `${badLayers.length} layer(s) fail against the reference of their own inputs: ${badLayers
                          .slice(0, 5)
                          .map((r) => `${r.node} (${r.kernel}): ${r.check.detail}`)
                          .join('; ')}`,
                },
                {
                  name: 'stable output',
                  ok: stable,
                  value: stable ? 0 : 1,
                  limit: 0,
                  detail: stable ? 'timed runs left the checked output' : 'the output changed between the checked run and the timed runs',
                },
              ];
              const lt = quant ? lossTensor(g) : null;
              const acc = accuracyOf(
                lt ? cg.tensor(lt.name) : y,
                lt ? ref.values.get(lt.name)! : refOut,
                checks,
                lt
                  ? `every int8 layer bit-exact against the exact integer reference of its own quantized input, every other layer checked alone against float64 of its own inputs (per-layer table); the scheme loss is the final output ${lt.note} against the float64 network on the original floats: --min-sqnr-db / --max-rel-l2 and --gate apply to it`
                  : 'every layer checked alone against float64 of its own inputs (per-layer table); the output against the float64 forward pass is reported, gate it with --max-rel-l2',
              );
              const layerMs = s.layerMs!;
              const layers: LayerRow[] = rows.map((r, i) => {
                const ms = layerMs[i]!;
                const lc: Cost = { flops: r.flops, bytes: r.bytes, intensity: r.bytes > 0 ? r.flops / r.bytes : 0 };
                // Against the one-thread roof: a layer on N threads has no figure here (the run's N-thread roof is the host's).
                const pct = env.ceilings && r.flops > 0 && ms > 0 && r.threads === undefined ? computePerf(lc, ms, env.ceilings, null).pctMeasured : undefined;
                return { ...r, ms, calls: s.profiled, gflops: ms > 0 ? r.flops / ms / 1e6 : 0, ...(pct !== undefined ? { pctRoof: pct } : {}) };
              });
              const { stats, timing } = networkTiming(s, resolution, env.options.cvTarget);
              const meanE2e = stats.mean;
              const layerSum = layers.reduce((a, r) => a + r.ms, 0);
              // The chosen kernels' one-thread times: no sum to compare with on N threads.
              const bestSum =
                selection && !pool
                  ? layers.reduce((a, r) => a + (r.op === 'conv' && selection.bestMs.has(r.node) ? selection.bestMs.get(r.node)! : r.ms), 0)
                  : null;
              const sorted = [...s.samples].sort((a, b) => a - b);
              const model: ModelRun = {
                engine: 'runtime',
                policy: v.policy ?? null,
                p50: stats.median,
                p90: quantileSorted(sorted, 0.9),
                p99: quantileSorted(sorted, 0.99),
                layers,
                layerSumMs: layerSum,
                overheadMs: meanE2e - layerSum,
                overheadPct: (100 * (meanE2e - layerSum)) / meanE2e,
                bestLayerSumMs: bestSum,
                arenaBytes: cg.plan.bytes,
                naiveArenaBytes: cg.plan.naiveBytes,
                weightBytes: cg.weightBytes,
                agreement: null,
                ...(quant && top1
                  ? {
                      quantization: {
                        scheme: quant.q.label,
                        finalTensor: lt!.note,
                        calibration: quant.q.calibration,
                        finalSqnrDb: encodeFloat(acc.metrics.sqnrDb),
                        finalRelL2: encodeFloat(acc.metrics.relL2),
                        top1: { ...top1, quick: top1.inputs < TOP1_INPUTS },
                        budget: (() => {
                          const b = netBudget(env.options);
                          return { text: b.text, meets: b.meets(acc.metrics.sqnrDb, acc.metrics.relL2) };
                        })(),
                        layers: qLayers,
                        ...(quant.plan
                          ? {
                              plan: quant.plan.steps.map((p) => ({
                                node: p.node,
                                localSqnrDb: encodeFloat(p.localSqnrDb),
                                finalSqnrDb: encodeFloat(p.finalSqnrDb),
                                finalRelL2: encodeFloat(p.finalRelL2),
                              })),
                            }
                          : {}),
                      },
                    }
                  : {}),
              };
              return {
                ...base(name, v),
                state: acc.ok ? 'passed' : 'inaccurate',
                timing,
                perf: computePerf(cost, stats.median, env.ceilings, null, 'f32'),
                accuracy: acc.accuracy,
                prepare: {
                  ms: prepareMs,
                  bytes: cg.weightBytes,
                  note:
                    `compiled once: arena ${cg.plan.bytes} bytes for every activation (${cg.plan.naiveBytes} without reuse), ` +
                    `${cg.weightBytes} bytes of packed / transformed weights, ${cg.scratchBytes} bytes of shared scratch; ` +
                    (pool
                      ? `on ${threads} threads: every conv layer with a kernel and every fully-connected layer through the run's pool, split as the conv variants ` +
                        `at N threads are (by output channels or output columns: suites/conv/threaded.ts), the other operators on thread 0, all buffers in the pool's shared memory; output bit-identical to the one-thread network's; `
                      : '') +
                    (quant
                      ? `every conv quantized by ${quant.q.label} where an int8 kernel takes it (${quant.fp32.size} fallen back to fp32 by the mixed plan), ` +
                        `activations with a static scale per conv calibrated by ${quant.q.calibration.method} on ${quant.q.calibration.inputs} other inputs, output dequantized to f32`
                      : selection
                        ? 'conv kernels chosen per layer shape by timing every applicable variant in this run (see candidates)'
                        : 'every conv layer on conv-im2col-gemm-f32'),
                },
                model,
              };
            },
          });
        } else if (v.engine === 'tfjs-wasm') {
          // XNNPACK via tfjs-backend-wasm (--peers): the network translated op by op to tfjs ops (suites/models/tfjs-graph.ts).
          const l = modelPeerTfjs(v);
          if (!l.ok) throw new Error(l.reason);
          const t0 = hrtimeNow();
          const net = translateGraph(l.tf, g, faultyParams(g, params, env.faults), inputs, env.faults, logitsName !== null ? { keep: logitsName } : {});
          let kept = false;
          try {
            // The first run creates and caches the XNNPACK operators (weights packed): part of preparing, as for the conv peer.
            net.run();
            const prepareMs = hrtimeNow() - t0;
            phase = 'check';
            net.run(true);
            const checked = Float32Array.from(net.output());
            const held = l.tf.memory().numTensors;
            contenders.push(
              peerContender(name, v, {
                run: () => void net.run(),
                dispose: () => net.dispose(),
                checked,
                checkedLogits: net.kept(),
                engine: 'tfjs-wasm',
                info: { code: 'wasm', library: TFJS_NETWORK_LIBRARY, threads: 1 },
                prepare: { ms: prepareMs, bytes: net.weightBytes, note: net.note },
                // Every intermediate of the timed runs disposed: the tensors tfjs holds did not grow.
                extraChecks: () => {
                  const now = l.tf.memory().numTensors;
                  return [
                    {
                      name: 'no leaked tensors',
                      ok: now === held,
                      value: now - held,
                      limit: 0,
                      detail: `tfjs held ${held} tensors after the checked run and ${now} after the timed runs`,
                    },
                  ];
                },
              }),
            );
            kept = true;
          } finally {
            if (!kept) net.dispose();
          }
        } else {
          // The native peer, or onnxruntime-web (--peers) on the same model bytes through the same path (suites/models/peers.ts).
          const l = modelPeerRuntime(v) ?? loadOnnxruntime(import.meta.url);
          if (!l.ok) throw new Error(l.reason);
          const { ort } = l;
          // The logits are a graph output too, fetched by the checked run only.
          const bytes = exportOnnx(logitsName !== null ? { ...g, outputs: [outName, logitsName] } : g, faultyParams(g, params, env.faults));
          const t0 = hrtimeNow();
          // At N threads: ONNX Runtime's own intra-op pool of N threads, as for the conv peer.
          const session = await ort.InferenceSession.create(bytes, { ...ORT_SESSION_OPTIONS, intraOpNumThreads: threads });
          const prepareMs = hrtimeNow() - t0;
          let kept = false;
          try {
            const feeds = Object.fromEntries(g.inputs.map((t) => [t.name, new ort.Tensor('float32', Float32Array.from(inputs.get(t.name)!), t.shape)]));
            let y: Float32Array | null = null;
            let checkedLogits: Float32Array | null = null;
            const infer = async (names: string[]) => {
              const out = await session.run(feeds, names);
              const d = out[outName]?.data;
              if (!(d instanceof Float32Array) || d.length !== refOut.length)
                throw new Error(`ONNX Runtime gave no float32 output "${outName}" of ${refOut.length} values`);
              y = d;
              return out;
            };
            const run = async () => void (await infer([outName]));
            phase = 'check';
            if (logitsName !== null) {
              const d = (await infer([outName, logitsName]))[logitsName]?.data;
              checkedLogits = d instanceof Float32Array ? Float32Array.from(d) : null;
            } else await run();
            contenders.push(
              peerContender(name, v, {
                run,
                dispose: () => session.release(),
                checked: Float32Array.from(y!),
                checkedLogits,
                engine: 'onnxruntime',
                info: { code: 'native', library: 'ONNX Runtime CPU (MLAS)' },
                nonPortable: 'native code (ONNX Runtime): CPU-specific kernels',
                prepare: {
                  ms: prepareMs,
                  bytes: bytes.length,
                  note: `the network exported to ONNX in memory (${bytes.length} bytes, opset 17, same weights); session: CPU EP, ${threads} intra-op + 1 inter-op thread, sequential, graph optimisation all`,
                },
              }),
            );
            kept = true;
          } finally {
            if (!kept) await session.release();
          }
        }
      } catch (e) {
        results.push(erroredResult(base(name, v), phase, errMsg(e)));
      }
    }

    // 2. Warm-up, each variant in turn; then 3. the interleaved rounds; 4. each variant's result from its samples.
    const failed = new Set<Contender>();
    for (const a of contenders) {
      env.onPhase?.('warmup', a.name);
      try {
        await warmUp(a, env.options);
      } catch (e) {
        failed.add(a);
        results.push(erroredResult(base(a.name, a.v), 'warmup', errMsg(e)));
      }
    }
    env.onPhase?.('timing', `${contenders.length - failed.size} variant(s) interleaved in ${Math.max(1, env.options.rounds)} rounds`);
    await sampleRounds(contenders, env.options, failed, (a, e) => results.push(erroredResult(base(a.name, a.v), 'timing', errMsg(e))));
    finishAll(contenders, failed, results, (a, e) => erroredResult(base(a.name, a.v), 'stats', errMsg(e)));
  } finally {
    await disposeAll(contenders);
    for (const p of pooledNets) p.dispose();
    env.ctx.kernels.release(mark);
    for (const { p, mark: m } of pools) p.kernels.release(m);
  }
  return inPlanOrder(
    results.map((r) => asModelPeerResult(r, variants.find((x) => x.name === baseVariantName(r.variant).base)?.v as ModelVariant | undefined)),
    variantNames,
  );
}

/** Each contender that did not fail: its result from its samples (a throw: `onError`'s result). */
export function finishAll<V>(
  cs: readonly Contender<V>[],
  failed: Set<Contender<V>>,
  results: CaseResult[],
  onError: (a: Contender<V>, e: unknown) => CaseResult,
): void {
  for (const a of cs) {
    if (failed.has(a)) continue;
    try {
      results.push(a.finish(sampledOf(a)));
    } catch (e) {
      results.push(onError(a, e));
    }
  }
}

/** Every contender disposed (a peer's session that will not close is left: nothing measured depends on it). */
export async function disposeAll(cs: readonly Contender<unknown>[]): Promise<void> {
  for (const a of cs) {
    try {
      await a.dispose();
    } catch {
      /* nothing measured depends on it */
    }
  }
}

/** The results in the plan's variant order, one thread count after the other. */
export function inPlanOrder(results: CaseResult[], variantNames: readonly string[]): CaseResult[] {
  const order = new Map(variantNames.map((n, i) => [n, i]));
  const rank = (r: CaseResult) => {
    const { base, threads } = baseVariantName(r.variant);
    return threads * variantNames.length + (order.get(base) ?? 0);
  };
  return results.sort((p, q) => rank(p) - rank(q));
}
