/**
 * Whole-network quantization (the models suite's int8 and mixed policies; docs/precision.md
 * "Whole networks"): every conv of the graph quantized by an int8 scheme and run end to end in
 * the light runtime.
 *
 * - Calibration: the fp32 network (conv-im2col-gemm-f32 everywhere) runs on calibration inputs
 *   drawn with calibrationSeed(seed + j) (never an evaluated input); each conv's input values
 *   over them are calibrated by the scheme's method into a STATIC activation scale (and zero point)
 *   for that conv.
 * - Each conv runs the int8 im2col GEMM (or the int8 depthwise kernel on a depthwise layer) through
 *   int8Layer (suites/conv/variants/int8.ts): weights quantized per tensor / per channel as the
 *   scheme says and packed once; the input quantized in the run with the static scale; int32
 *   accumulation; the output dequantized to f32 (every conv of the zoo is followed by a bias, batch
 *   norm or ReLU, never directly by a conv, so a requantizing scheme dequantizes here too: stated).
 *   A layer the int8 kernels cannot take runs in fp32 with the reason recorded.
 * - The loss (analyseQuantized): each quantized conv's output against the float64 network's same
 *   tensor on the original floats (through the network) and against float64 of the layer's own
 *   inputs (the layer alone); the final output's SQNR and relative L2 against float64; top-1
 *   agreement with the fp32 network over TOP1_INPUTS inputs (TOP1_INPUTS_QUICK with --quick).
 * - The mixed-precision plan (mixedPlan): from all-int8, the conv with the lowest SQNR alone falls
 *   back to fp32, one at a time, the network re-run after each, until the final output meets the
 *   budget (the user's --min-sqnr-db / --max-rel-l2, else SQNR >= 30 dB).
 *
 * Payload-safe (runs on the device).
 */
import type { ConvShape, ConvVariant, Distribution, KernelContext, RunOptions, TestFaults } from '../../core/contracts.js';
import { convShapeOfNode, type Graph, type NodeOf, type Shapes } from '../../core/graph.js';
import { calibrationSeed } from '../../reference/calibration.js';
import { makeGraphInputs } from '../../reference/graph-init.js';
import { errorMetrics } from '../../reference/metrics.js';
import type { QuantParams } from '../../reference/quant.js';
import { schemeDtype, schemeLabel, type Int8Scheme } from '../../reference/quant-scheme.js';
import { convIm2colGemmF32 } from '../conv/variants/im2col-gemm.js';
import { int8Layer, int8LayerProblem, type Int8VariantSpec } from '../conv/variants/int8.js';
import { int8DepthwiseSpec } from '../conv/variants/int8-depthwise.js';
import { int8GemmSpec } from '../conv/variants/int8-im2col-gemm.js';
import { notDepthwise } from '../conv/variants/depthwise-simd.js';
import { activationParams } from '../conv/variants/lowp.js';
import { compileGraph, type CompiledGraph, type ConvChooser } from './runtime/runtime.js';

/** Inputs the top-1 agreement is counted over (the "at least 256"), and with --quick. */
export const TOP1_INPUTS = 256;
export const TOP1_INPUTS_QUICK = 32;
/** Calibration inputs (each a whole fp32 inference whose conv inputs are all kept), and with --quick. */
export const CALIBRATION_INPUTS = 4;
export const CALIBRATION_INPUTS_QUICK = 2;
/** The budget when the user gives none (as the per-layer quantization decision: harness/report/quantization.ts). */
export const DEFAULT_MIN_SQNR_DB = 30;

/** The seed of evaluated input i (0: the case's own input, the one the float64 reference is of). */
export const evalSeed = (seed: number, i: number): number => (seed + i) >>> 0;
/** The seed of calibration input j: calibrationSeed of seed + j (0x9e3779b9 apart from every evaluated seed). */
export const calSeed = (seed: number, j: number): number => calibrationSeed((seed + j) >>> 0);

export interface QuantLayerPlan {
  node: string;
  /** What runs it in int8: its kernel spec and the conv variant name it stands for, and the static input quantization. */
  int8: { spec: Int8VariantSpec; name: string; x: QuantParams; shape: ConvShape } | null;
  /** Why it runs in fp32 when it cannot run in int8. */
  reason?: string;
}

/** A network quantized by one scheme: per conv its int8 kernel and static input quantization, or why fp32. */
export interface QuantizedNetwork {
  scheme: Int8Scheme;
  label: string;
  layers: Map<string, QuantLayerPlan>;
  calibration: { method: string; inputs: number; seeds: string };
}

/** The budget the final output is held to, its text, and whether a loss meets it. */
export interface NetBudget {
  text: string;
  meets(sqnrDb: number, relL2: number): boolean;
}

export function netBudget(o: RunOptions): NetBudget {
  const b = o.budgets;
  const given = b !== undefined && (b.minSqnrDb !== undefined || b.maxRelL2 !== undefined);
  const minSqnr = given ? b.minSqnrDb : DEFAULT_MIN_SQNR_DB;
  const maxRel = given ? b.maxRelL2 : undefined;
  const parts = [minSqnr !== undefined ? `SQNR >= ${minSqnr} dB` : '', maxRel !== undefined ? `rel L2 <= ${maxRel}` : ''].filter(Boolean);
  return {
    text: `${parts.join(' and ')} on the final output${given ? '' : ' (the default: no --min-sqnr-db / --max-rel-l2 given)'}`,
    // "Within" tests, so a NaN never meets the budget.
    meets: (s, r) => (minSqnr === undefined || s >= minSqnr) && (maxRel === undefined || r <= maxRel),
  };
}

/** The fp32 network every comparison is with: conv-im2col-gemm-f32 on every conv it can take. */
export const fp32Chooser: ConvChooser = () => convIm2colGemmF32;

/** Runs `f` with `ctx`'s kernel memory released afterwards (a network compiled only for a computation). */
export function withScratchNetwork<T>(ctx: KernelContext, f: () => T): T {
  const mark = ctx.kernels.mark();
  try {
    return f();
  } finally {
    ctx.kernels.release(mark);
  }
}

/** The values of every conv's input over the calibration inputs, from the fp32 network (one array per conv node, concatenated). */
function convInputs(
  ctx: KernelContext,
  g: Graph,
  params: ReadonlyMap<string, Float32Array>,
  seed: number,
  dist: Distribution,
  count: number,
): Map<string, Float32Array> {
  const convs = g.nodes.map((n, i) => [n, i] as const).filter(([n]) => n.op === 'conv');
  const parts = new Map<string, Float32Array[]>(convs.map(([n]) => [n.name, []]));
  withScratchNetwork(ctx, () => {
    const cg = compileGraph(ctx, g, params, fp32Chooser);
    for (let j = 0; j < count; j++) {
      const inputs = makeGraphInputs(g, calSeed(seed, j), dist);
      cg.setInputs(inputs);
      // A conv's input is read just before it runs (after its predecessor): the arena may reuse it afterwards.
      const first = g.nodes[0];
      if (first?.op === 'conv') parts.get(first.name)!.push(Float32Array.from(inputs.get(first.inputs[0]!) ?? cg.tensor(first.inputs[0]!)));
      cg.runVisiting((i) => {
        const next = g.nodes[i + 1];
        if (next?.op === 'conv') parts.get(next.name)!.push(cg.tensor(next.inputs[0]!));
      });
    }
  });
  const out = new Map<string, Float32Array>();
  for (const [name, ps] of parts) {
    const all = new Float32Array(ps.reduce((a, p) => a + p.length, 0));
    let o = 0;
    for (const p of ps) {
      all.set(p, o);
      o += p.length;
    }
    out.set(name, all);
  }
  return out;
}

/** Calibration data per case: the conv inputs of the calibration inputs, shared by every scheme of the run. */
export type CalibrationCache = { values?: Map<string, Float32Array> };

/** Quantizes the network by `scheme` (see the module doc). `faults.quantScaleError` (test-only) scales one conv's calibrated scale. */
export function quantizeNetwork(
  ctx: KernelContext,
  g: Graph,
  shapes: Shapes,
  params: ReadonlyMap<string, Float32Array>,
  c: { seed: number; distribution: Distribution },
  scheme: Int8Scheme,
  o: RunOptions,
  cache: CalibrationCache,
  faults?: TestFaults,
): QuantizedNetwork {
  const count = o.quick ? CALIBRATION_INPUTS_QUICK : CALIBRATION_INPUTS;
  cache.values ??= convInputs(ctx, g, params, c.seed, c.distribution, count);
  const fault = faults?.quantScaleError;
  if (fault && !g.nodes.some((n) => n.op === 'conv' && n.name === fault.node)) {
    throw new Error(`test fault quantScaleError: graph "${g.name}" has no conv node "${fault.node}"`);
  }
  const layers = new Map<string, QuantLayerPlan>();
  for (const n of g.nodes) {
    if (n.op !== 'conv') continue;
    const cs = convShapeOfNode(n, shapes);
    if (!cs.ok) {
      layers.set(n.name, { node: n.name, int8: null, reason: `no int8 kernel: ${cs.reason}` });
      continue;
    }
    const depthwise = notDepthwise(cs.shape) === null;
    const spec = depthwise ? int8DepthwiseSpec(scheme) : int8GemmSpec(scheme);
    const problem = int8LayerProblem(spec, cs.shape);
    if (problem !== null) {
      layers.set(n.name, { node: n.name, int8: null, reason: `the int8 ${depthwise ? 'depthwise' : 'im2col GEMM'} kernel cannot take it: ${problem}` });
      continue;
    }
    let x = activationParams(cache.values.get(n.name)!, scheme);
    if (fault && fault.node === n.name) x = { ...x, scale: Math.fround(x.scale * fault.factor) };
    layers.set(n.name, { node: n.name, int8: { spec, name: `${spec.stem}-${schemeLabel(scheme)}-${schemeDtype(scheme)}`, x, shape: cs.shape } });
  }
  const cal = scheme.calibration;
  return {
    scheme,
    label: `${schemeLabel(scheme)}-${schemeDtype(scheme)}`,
    layers,
    calibration: {
      method: cal.method === 'percentile' ? `percentile ${cal.percentile}` : cal.method,
      inputs: count,
      seeds: `calibration inputs of seeds (seed + j) + 0x9e3779b9, j = 0..${count - 1} (never an evaluated input)`,
    },
  };
}

/** The chooser of a quantized network: int8 on every conv that can, except `fp32` (the mixed plan's fallbacks). */
export function quantChooser(q: QuantizedNetwork, fp32: ReadonlySet<string>): ConvChooser {
  return (n: NodeOf<'conv'>, shape: ConvShape | null) => {
    const l = q.layers.get(n.name);
    if (!l?.int8 || fp32.has(n.name)) return shape ? convIm2colGemmF32 : null;
    const { spec, name, x } = l.int8;
    const v: ConvVariant = { ...convIm2colGemmF32, name, layer: (ctx, s, w) => int8Layer(spec, ctx, s, w, x) };
    return v;
  };
}

/** Index of the largest value of each of the `rows` rows of `y` (ties: the first). */
export function argmaxRows(y: Float32Array, rows: number): Int32Array {
  const per = y.length / rows;
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let i = 1; i < per; i++) if (y[r * per + i]! > y[r * per + best]!) best = i;
    out[r] = best;
  }
  return out;
}

/** The top-1 class of every evaluated input (seed i = 0..count-1) through a compiled network; leaves the network holding the last input. */
export function topClasses(cg: CompiledGraph, g: Graph, seed: number, dist: Distribution, count: number): Int32Array[] {
  const out: Int32Array[] = [];
  const outName = g.outputs[0]!;
  const rows = cg.shapes.get(outName)![0]!;
  for (let i = 0; i < count; i++) {
    cg.setInputs(makeGraphInputs(g, evalSeed(seed, i), dist));
    cg.run();
    out.push(argmaxRows(cg.tensor(outName), rows));
  }
  return out;
}

/** How many of the inputs' top-1 classes agree (every image of every input). */
export function top1Agree(a: readonly Int32Array[], b: readonly Int32Array[]): { agree: number; inputs: number } {
  if (a.length !== b.length) throw new Error(`top-1 agreement over ${a.length} and ${b.length} inputs: not the same inputs`);
  let agree = 0;
  let inputs = 0;
  for (let i = 0; i < a.length; i++) {
    for (let r = 0; r < a[i]!.length; r++) {
      inputs++;
      if (a[i]![r] === b[i]![r]) agree++;
    }
  }
  return { agree, inputs };
}

/**
 * The tensor a quantized network's final loss is measured on: the graph's output, or, where that is a
 * trailing softmax, its input (the logits). A softmax is a fixed normalisation that quantizes nothing,
 * and on near-uniform probabilities (seeded networks) an error common to all logits cancels in it, so
 * the probabilities' SQNR jumps by tens of dB from one fallback to the next while the logits' moves by
 * tenths (mobilenet_v1: 52.3 dB on the probabilities, 33.7 after making one more layer exact). The
 * quantization debuggers compare a model's outputs, which for torchvision's classifiers are the logits.
 */
export function lossTensor(g: Graph): { name: string; note: string } {
  const out = g.outputs[0]!;
  const last = g.nodes.find((n) => n.outputs[0] === out);
  if (last?.op === 'softmax') return { name: last.inputs[0]!, note: `"${last.inputs[0]}", the logits (the input of the final softmax "${out}")` };
  return { name: out, note: `"${out}", the network's output` };
}

/** The final output's loss against the float64 network. */
export function finalLoss(y: Float32Array, ref: Float64Array): { sqnrDb: number; relL2: number } {
  const m = errorMetrics(y, ref);
  return { sqnrDb: m.sqnrDb, relL2: m.relL2 };
}

export interface PlanStep {
  node: string;
  localSqnrDb: number;
  finalSqnrDb: number;
  finalRelL2: number;
}

/**
 * The mixed-precision plan: from all-int8 (final loss `start`), the int8 layers in ascending order of
 * their SQNR alone (`local`) fall back to fp32 one at a time, `evaluate` giving the final loss with a
 * set of fallbacks, until the budget is met (or no int8 layer is left, or `maxFallbacks`: test-only).
 */
export function mixedPlan(
  local: ReadonlyMap<string, number>,
  start: { sqnrDb: number; relL2: number },
  budget: NetBudget,
  evaluate: (fp32: ReadonlySet<string>) => { sqnrDb: number; relL2: number },
  maxFallbacks = Infinity,
): { fp32: Set<string>; steps: PlanStep[]; final: { sqnrDb: number; relL2: number }; meets: boolean } {
  const order = [...local].sort((a, b) => a[1] - b[1] || (Number.isNaN(a[1]) ? -1 : 0));
  const fp32 = new Set<string>();
  const steps: PlanStep[] = [];
  let cur = start;
  for (const [node, s] of order) {
    if (budget.meets(cur.sqnrDb, cur.relL2) || steps.length >= maxFallbacks) break;
    fp32.add(node);
    cur = evaluate(fp32);
    steps.push({ node, localSqnrDb: s, finalSqnrDb: cur.sqnrDb, finalRelL2: cur.relL2 });
  }
  return { fp32, steps, final: cur, meets: budget.meets(cur.sqnrDb, cur.relL2) };
}
