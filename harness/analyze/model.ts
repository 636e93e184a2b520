/**
 * The roofline analysis of whole networks (pure): per layer FLOPs, parameters,
 * bytes and operational intensity by the counting rule (reference/graph-cost.ts),
 * whether the device's roofline makes it compute- or memory-bound, and the
 * time the roofline predicts; totals per model.
 *
 * Prediction: a layer of F FLOPs and B bytes takes max(F / peak, B / bandwidth)
 * (it runs at the attainable min(peak, I x bandwidth), I = F / B). The
 * bandwidth is the DRAM figure (caches ignored, as the counting rule does), so
 * the prediction is a bound for an ideal kernel, not a measurement. A model's
 * time is the sum of its layers' (one layer after the other, nothing fused);
 * its overall intensity is its FLOPs over the sum of its layers' bytes.
 */
import { inferShapes, numel, type Graph, type GraphNode, type Shapes } from '../../core/graph.js';
import { ridgePoint } from '../../core/roofline.js';
import { nodeCost } from '../../reference/graph-cost.js';

export interface Ceilings {
  /** f32 peak, GFLOP/s. */
  peakGflops: number;
  /** DRAM bandwidth, GB/s. */
  dramGbps: number;
  kind: 'measured' | 'profile';
  /** The device or profile the figures belong to. */
  name: string;
  /** Where the figures come from, in words (shown in the report and the terminal). */
  source: string;
  /** A second set drawn for reference only (the device's profile when measured figures are used). */
  reference?: { peakGflops: number; dramGbps: number; source: string };
}

/** What limits a layer on the roofline. */
export type Bound = 'compute' | 'memory' | 'data movement' | 'view';

/** Operator classes for "where the time goes". */
export const KINDS = [
  'conv k×k',
  'conv 1×1',
  'grouped conv',
  'depthwise conv',
  'fully connected',
  'batch norm, bias',
  'activation',
  'pooling',
  'add',
  'concat, shuffle, reshape',
] as const;
export type Kind = (typeof KINDS)[number];

export interface LayerRow {
  index: number;
  node: string;
  op: GraphNode['op'];
  kind: Kind;
  /** e.g. "3×3 s2 64→128 @56×56" for a conv. */
  detail: string;
  flops: number;
  macs: number;
  params: number;
  bytes: number;
  intensity: number;
  bound: Bound;
  /** min(peak, I x bandwidth), GFLOP/s (0 for layers without FLOPs). */
  attainableGflops: number;
  predictedMs: number;
  /** Share of the model's predicted time, and the running total down the table, in percent. */
  pct: number;
  cumulativePct: number;
}

export interface ModelSummary {
  flops: number;
  macs: number;
  /** Parameter elements of the graph, and their bytes at fp32. */
  params: number;
  paramBytes: number;
  /** Sum of every layer's bytes. */
  bytes: number;
  intensity: number;
  predictedMs: number;
  /** flops / predicted time: what the roofline predicts the model runs at. */
  effectiveGflops: number;
  /** Share of the predicted time in memory-bound and data-movement layers, percent. */
  memoryBoundPct: number;
  layers: number;
  /** Layers left of / right of the ridge (with FLOPs). */
  memoryBoundLayers: number;
  computeBoundLayers: number;
}

export interface ModelAnalysis {
  name: string;
  title: string;
  /** Where the model comes from: the zoo file (with its paper), or the ONNX / YAML file given. */
  origin: string;
  source: string | null;
  input: number[];
  quick: boolean;
  /** Real trained weights come with it (they do not change the analysis; said for context). */
  weightsNote: string | null;
  layers: LayerRow[];
  totals: ModelSummary;
  /** Predicted time per operator class, in KINDS order, classes without time left out. */
  byKind: { kind: Kind; ms: number; pct: number }[];
}

export interface Analysis {
  ceilings: Ceilings;
  /** FLOP/byte where the roofline bends. */
  ridge: number;
  bytesPerElement: number;
  models: ModelAnalysis[];
}

export interface ModelInput {
  graph: Graph;
  shapes?: Shapes;
  name: string;
  title: string;
  origin: string;
  source: string | null;
  quick: boolean;
  weightsNote: string | null;
}

const dims = (s: readonly number[] | undefined) => (s ? s.join('×') : '?');

/** The operator class of a node and a one-line description of its shape. */
export function classify(n: GraphNode, shapes: Shapes): { kind: Kind; detail: string } {
  const x = shapes.get(n.inputs[0]!) ?? [];
  const y = shapes.get(n.outputs[0]) ?? [];
  switch (n.op) {
    case 'conv': {
      const w = shapes.get(n.params[0]!)!;
      const [K, Cg, R, S] = w as [number, number, number, number];
      const C = x[1]!;
      const g = n.attrs.groups;
      const kind: Kind = g > 1 && g === C && Cg === 1 ? 'depthwise conv' : g > 1 ? 'grouped conv' : R === 1 && S === 1 ? 'conv 1×1' : 'conv k×k';
      const st = n.attrs.stride[0] === n.attrs.stride[1] ? `${n.attrs.stride[0]}` : n.attrs.stride.join('×');
      return { kind, detail: `${R}×${S}${st !== '1' ? ` s${st}` : ''}${g > 1 ? ` g${g}` : ''} ${C}→${K} @${x[2]}×${x[3]}` };
    }
    case 'gemm':
      return { kind: 'fully connected', detail: `${x[1]}→${y[1]}` };
    case 'bias':
    case 'batchnorm':
      return { kind: 'batch norm, bias', detail: dims(x) };
    case 'relu':
    case 'relu6':
    case 'softmax':
      return { kind: 'activation', detail: dims(x) };
    case 'maxpool':
    case 'avgpool':
      return { kind: 'pooling', detail: `${n.attrs.kernel.join('×')} s${n.attrs.stride[0]} @${x[2]}×${x[3]}` };
    case 'globalavgpool':
      return { kind: 'pooling', detail: `global @${x[2]}×${x[3]}` };
    case 'add':
      return { kind: 'add', detail: dims(x) };
    case 'concat':
    case 'channelshuffle':
    case 'flatten':
    case 'reshape':
      return { kind: 'concat, shuffle, reshape', detail: `${dims(x)} → ${dims(y)}` };
    default: {
      const never: never = n;
      return { kind: 'activation', detail: (never as GraphNode).op };
    }
  }
}

/** Analyse one model against `ceilings` (see the module doc). */
export function analyzeModel(m: ModelInput, ceilings: Ceilings, bytesPerElement = 4): ModelAnalysis {
  const shapes = m.shapes ?? inferShapes(m.graph);
  const ridge = ridgePoint(ceilings.peakGflops, ceilings.dramGbps);
  const peak = ceilings.peakGflops * 1e9;
  const bw = ceilings.dramGbps * 1e9;
  const layers: LayerRow[] = m.graph.nodes.map((n, index) => {
    const c = nodeCost(n, shapes, bytesPerElement);
    const { kind, detail } = classify(n, shapes);
    const bound: Bound = c.flops === 0 ? (c.bytes === 0 ? 'view' : 'data movement') : c.intensity >= ridge ? 'compute' : 'memory';
    const predictedMs = Math.max(c.flops / peak, c.bytes / bw) * 1e3;
    const attainableGflops = c.flops > 0 ? Math.min(ceilings.peakGflops, c.intensity * ceilings.dramGbps) : 0;
    return {
      index,
      node: n.name,
      op: n.op,
      kind,
      detail,
      flops: c.flops,
      macs: c.macs,
      params: c.params,
      bytes: c.bytes,
      intensity: c.intensity,
      bound,
      attainableGflops,
      predictedMs,
      pct: 0,
      cumulativePct: 0,
    };
  });
  const total = layers.reduce((s, l) => s + l.predictedMs, 0);
  let cum = 0;
  for (const l of layers) {
    l.pct = total > 0 ? (100 * l.predictedMs) / total : 0;
    cum += l.pct;
    l.cumulativePct = cum;
  }
  const flops = layers.reduce((s, l) => s + l.flops, 0);
  const bytes = layers.reduce((s, l) => s + l.bytes, 0);
  const params = Object.values(m.graph.params).reduce((s, p) => s + numel(p.shape), 0);
  const memMs = layers.filter((l) => l.bound === 'memory' || l.bound === 'data movement').reduce((s, l) => s + l.predictedMs, 0);
  const byKind = KINDS.map((kind) => {
    const ms = layers.filter((l) => l.kind === kind).reduce((s, l) => s + l.predictedMs, 0);
    return { kind, ms, pct: total > 0 ? (100 * ms) / total : 0 };
  }).filter((k) => k.ms > 0);
  return {
    name: m.name,
    title: m.title,
    origin: m.origin,
    source: m.source,
    input: m.graph.inputs[0]?.shape ?? [],
    quick: m.quick,
    weightsNote: m.weightsNote,
    layers,
    byKind,
    totals: {
      flops,
      macs: layers.reduce((s, l) => s + l.macs, 0),
      params,
      paramBytes: params * bytesPerElement,
      bytes,
      intensity: bytes > 0 ? flops / bytes : 0,
      predictedMs: total,
      effectiveGflops: total > 0 ? flops / (total / 1e3) / 1e9 : 0,
      memoryBoundPct: total > 0 ? (100 * memMs) / total : 0,
      layers: layers.length,
      memoryBoundLayers: layers.filter((l) => l.bound === 'memory').length,
      computeBoundLayers: layers.filter((l) => l.bound === 'compute').length,
    },
  };
}

/** Analyse several models against one set of ceilings. */
export function analyze(models: readonly ModelInput[], ceilings: Ceilings, bytesPerElement = 4): Analysis {
  if (!(ceilings.peakGflops > 0 && ceilings.dramGbps > 0)) {
    throw new Error(
      `analyze: ceilings need a positive peak and bandwidth, got ${ceilings.peakGflops} GFLOP/s and ${ceilings.dramGbps} GB/s (${ceilings.source})`,
    );
  }
  return {
    ceilings,
    ridge: ridgePoint(ceilings.peakGflops, ceilings.dramGbps),
    bytesPerElement,
    models: models.map((m) => analyzeModel(m, ceilings, bytesPerElement)),
  };
}
