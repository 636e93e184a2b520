/**
 * The counting rule of the design, per graph node and summed per graph (pure,
 * payload-safe). Units: plain FLOPs and bytes.
 *
 * Bytes of a node = its input tensors + its parameter tensors + its output
 * tensor, at the storage width (`bytesPerElement`, 4 for fp32), caches
 * ignored. Each node is counted as executed on its own: a fused variant that
 * keeps an intermediate in cache simply does not pay for it (that is the
 * variant's count, not this one's).
 *
 * FLOPs per node (a multiply-add is 2 FLOPs; E = output elements):
 * - conv: 2 * N * K * Ho * Wo * (C/groups) * R * S (the design's rule), plus E
 *   for the bias add when the node has a bias.
 * - gemm: 2 * N * K * F, plus E with a bias.
 * - bias: E (one add). batchnorm: 2E (folded to one multiply and one add per
 *   element; the per-channel scale and shift are not counted).
 * - relu: E (one compare). relu6: 2E (two compares).
 * - maxpool: E * (kh*kw - 1) compares. avgpool: E * kh*kw (kh*kw - 1 adds and
 *   one divide). globalavgpool: E * H*W (the same with the whole plane).
 * - add: E. softmax: 5E (max, subtract, exp, sum, divide per element).
 * - concat, channelshuffle: 0 FLOPs; they are copies, so their bytes are
 *   counted (inputs + output).
 * - flatten, reshape: views: 0 FLOPs and 0 bytes (no data moves).
 *
 * The papers' figures count differently: MACs (multiply-accumulates of conv and
 * fully-connected layers only; everything else is ignored) and parameters
 * (weights and biases, sometimes batch-norm scale and shift). graphMacs and
 * graphParamCounts count what they count, so a zoo network can be checked
 * against its paper.
 */
import { inferShapes, numel, paramRoles, VIEW_OPS, type Graph, type GraphNode, type Shapes } from '../core/graph.js';

export interface NodeCost {
  node: string;
  op: GraphNode['op'];
  flops: number;
  /** Multiply-accumulates of conv and gemm nodes (the papers' "mult-adds"); 0 for other operators. */
  macs: number;
  /** inputs + params + output, at bytesPerElement. */
  bytes: number;
  /** The same split: what it reads, what it writes. */
  inputBytes: number;
  paramBytes: number;
  outputBytes: number;
  /** Elements of its parameters. */
  params: number;
  /** flops / bytes (0 when bytes is 0). */
  intensity: number;
}

export interface GraphCost {
  nodes: NodeCost[];
  flops: number;
  macs: number;
  bytes: number;
  params: number;
  /** flops / bytes of the whole graph (the sum of per-node bytes: every node reads and writes its own tensors). */
  intensity: number;
  /** Bytes of all parameters once (the model's weights at the storage width). */
  paramBytes: number;
}

/** FLOPs and MACs of one node given the graph's shapes (see the module doc). */
export function nodeFlops(n: GraphNode, shapes: Shapes): { flops: number; macs: number } {
  const out = shapes.get(n.outputs[0])!;
  const E = numel(out);
  const x = shapes.get(n.inputs[0]!)!;
  switch (n.op) {
    case 'conv': {
      const w = shapes.get(n.params[0]!)!;
      const macs = E * w[1]! * w[2]! * w[3]!;
      return { flops: 2 * macs + (n.params.length > 1 ? E : 0), macs };
    }
    case 'gemm': {
      const macs = E * x[1]!;
      return { flops: 2 * macs + (n.params.length > 1 ? E : 0), macs };
    }
    case 'bias':
    case 'relu':
    case 'add':
      return { flops: E, macs: 0 };
    case 'batchnorm':
    case 'relu6':
      return { flops: 2 * E, macs: 0 };
    case 'maxpool':
      return { flops: E * (n.attrs.kernel[0] * n.attrs.kernel[1] - 1), macs: 0 };
    case 'avgpool':
      return { flops: E * n.attrs.kernel[0] * n.attrs.kernel[1], macs: 0 };
    case 'globalavgpool':
      return { flops: E * x[2]! * x[3]!, macs: 0 };
    case 'softmax':
      return { flops: 5 * E, macs: 0 };
    case 'concat':
    case 'channelshuffle':
    case 'flatten':
    case 'reshape':
      return { flops: 0, macs: 0 };
    default: {
      const never: never = n;
      throw new Error(`nodeFlops: unknown operator ${(never as GraphNode).op}`);
    }
  }
}

/** The cost of one node (see the module doc). */
export function nodeCost(n: GraphNode, shapes: Shapes, bytesPerElement = 4): NodeCost {
  if (!(bytesPerElement > 0)) throw new Error(`nodeCost: bytesPerElement must be > 0, got ${bytesPerElement}`);
  const { flops, macs } = nodeFlops(n, shapes);
  const params = n.params.reduce((s, p) => s + numel(shapes.get(p)!), 0);
  const view = VIEW_OPS.has(n.op);
  const inputBytes = view ? 0 : n.inputs.reduce((s, t) => s + numel(shapes.get(t)!), 0) * bytesPerElement;
  const paramBytes = params * bytesPerElement;
  const outputBytes = view ? 0 : numel(shapes.get(n.outputs[0])!) * bytesPerElement;
  const bytes = inputBytes + paramBytes + outputBytes;
  return { node: n.name, op: n.op, flops, macs, bytes, inputBytes, paramBytes, outputBytes, params, intensity: bytes > 0 ? flops / bytes : 0 };
}

/** Per-node costs and their sums. */
export function graphCost(g: Graph, bytesPerElement = 4, shapes: Shapes = inferShapes(g)): GraphCost {
  const nodes = g.nodes.map((n) => nodeCost(n, shapes, bytesPerElement));
  let flops = 0;
  let macs = 0;
  let bytes = 0;
  for (const c of nodes) {
    flops += c.flops;
    macs += c.macs;
    bytes += c.bytes;
  }
  const params = Object.values(g.params).reduce((s, p) => s + numel(p.shape), 0);
  return { nodes, flops, macs, bytes, params, intensity: bytes > 0 ? flops / bytes : 0, paramBytes: params * bytesPerElement };
}

/** Multiply-accumulates of a graph's conv and gemm nodes, split as papers report them. */
export function graphMacs(g: Graph, shapes: Shapes = inferShapes(g)): { conv: number; fc: number; total: number } {
  let conv = 0;
  let fc = 0;
  for (const n of g.nodes) {
    if (n.op === 'conv') conv += nodeFlops(n, shapes).macs;
    else if (n.op === 'gemm') fc += nodeFlops(n, shapes).macs;
  }
  return { conv, fc, total: conv + fc };
}

/**
 * Parameter elements by kind, as papers count them:
 * - convWeights, fcWeights: conv and gemm weights;
 * - biases: conv and gemm biases and bias nodes;
 * - bnAffine: batch-norm scale and shift (learned);
 * - bnStats: batch-norm running mean and variance (not learned; frameworks keep them as buffers).
 * Each parameter is counted once, however many nodes use it.
 */
export function graphParamCounts(g: Graph): {
  convWeights: number;
  fcWeights: number;
  biases: number;
  bnAffine: number;
  bnStats: number;
  total: number;
} {
  const seen = new Set<string>();
  const c = { convWeights: 0, fcWeights: 0, biases: 0, bnAffine: 0, bnStats: 0, total: 0 };
  for (const n of g.nodes) {
    for (const { role, name } of paramRoles(n)) {
      if (seen.has(name)) continue;
      seen.add(name);
      const k = numel(g.params[name]!.shape);
      if (role === 'w') c[n.op === 'gemm' ? 'fcWeights' : 'convWeights'] += k;
      else if (role === 'b') c.biases += k;
      else if (role === 'scale' || role === 'shift') c.bnAffine += k;
      else c.bnStats += k;
      c.total += k;
    }
  }
  return c;
}
