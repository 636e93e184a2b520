/**
 * The graph contract: a network (or one case) as data. A graph is a list of
 * operator nodes over named tensors, with explicit parameter tensors; NCHW
 * float32 activations. The conv suite's cases are one-node graphs
 * (convCaseGraph); the model zoo (suites/models/*.yaml) and ONNX files
 * (core/onnx.ts) build bigger ones. See docs/graphs.md.
 *
 * - Tensors are named. A graph input, a parameter and a node output each define
 *   one name; nothing is defined twice.
 * - Nodes are listed in topological order: a node reads only graph inputs,
 *   parameters and the outputs of nodes listed before it.
 * - Parameters carry their shape and how they are made when the graph carries
 *   no data (`init`): seeded He-normal weights, zeros, ones, uniform,
 *   batch-norm statistics (reference/graph-init.ts), or `data` when real
 *   weights travel with the graph (a Map<string, Float32Array> beside it).
 * - Every attribute is explicit (no defaults inside the contract): readers
 *   (the zoo's YAML, ONNX import) fill in defaults.
 *
 * inferShapes() validates a graph and gives every tensor's shape; its errors
 * name the graph, the node (index and name) and what to do.
 *
 * Payload-safe (bundled into the device payload): no fs, no network.
 */
import { z } from 'zod';
import type { ConvShape } from './contracts.js';

// ---------------------------------------------------------------------------
// Schemas
// ---------------------------------------------------------------------------

const Name = z.string().min(1, 'a tensor or node name must not be empty');
const PosInt = z.number().int().positive();
const NonNegInt = z.number().int().nonnegative();
/** [height, width] */
const Pair = z.tuple([PosInt, PosInt]);
/** [top, left, bottom, right] (ONNX orders pads [top, left, bottom, right] for 2D too). */
const Pads = z.tuple([NonNegInt, NonNegInt, NonNegInt, NonNegInt]);
/** A tensor shape: positive dimensions. */
export const Dims = z.array(PosInt).min(1, 'a shape needs at least one dimension');

/** How a parameter is made when the graph carries no data for it (reference/graph-init.ts draws it). */
export const Init = z.discriminatedUnion('kind', [
  /** Seeded He-normal: normal * sqrt(2 / fanIn) * s_k, s_k uniform in [0.5, 1.5) per index of axis 0 (output channel). */
  z.strictObject({ kind: z.literal('he'), fanIn: PosInt }),
  z.strictObject({ kind: z.literal('zeros') }),
  z.strictObject({ kind: z.literal('ones') }),
  /** Uniform in [lo, hi). */
  z.strictObject({ kind: z.literal('uniform'), lo: z.number(), hi: z.number() }),
  /** Batch-norm running mean: normal * 0.1. */
  z.strictObject({ kind: z.literal('bn-mean') }),
  /** Batch-norm running variance: uniform in [0.5, 1.5) (positive). */
  z.strictObject({ kind: z.literal('bn-var') }),
  /** Real weights travel with the graph (ONNX initializers, a trained zoo entry). */
  z.strictObject({ kind: z.literal('data') }),
]);
export type Init = z.infer<typeof Init>;

export const Param = z.strictObject({ shape: Dims, init: Init });
export type Param = z.infer<typeof Param>;

const nodeBase = {
  name: Name,
  inputs: z.array(Name),
  /** Parameter tensor names, in the operator's order (see PARAM_ROLES). */
  params: z.array(Name),
  /** Every operator has one output. */
  outputs: z.tuple([Name]),
};
const noAttrs = z.strictObject({});
const node = <Op extends string, A extends z.ZodType>(op: Op, attrs: A) => z.strictObject({ ...nodeBase, op: z.literal(op), attrs });

const PoolAttrs = {
  kernel: Pair,
  stride: Pair,
  pads: Pads,
  /** Output size rounded up (with the rule that the last window starts inside the input or its leading pad). */
  ceil: z.boolean(),
};

/** One node of a graph: a discriminated union over `op`. */
export const GraphNode = z.discriminatedUnion('op', [
  /** 2D convolution. inputs [x: N C H W]; params [w: K C/groups R S] or [w, b: K]. */
  node('conv', z.strictObject({ stride: Pair, pads: Pads, dilation: Pair, groups: PosInt })),
  /** Fully connected: y = x w^T (+ b). inputs [x: N F]; params [w: K F] or [w, b: K]. */
  node('gemm', noAttrs),
  /** Per-channel bias (axis 1). params [b: C]. */
  node('bias', noAttrs),
  /**
   * Inference batch norm, per channel (axis 1): (x - mean) / sqrt(var + eps) * scale + shift. params [scale, shift, mean, var].
   * eps is a float32 value in ONNX and TensorFlow; the zoo loader rounds it so (Math.fround) and ONNX round trips are exact.
   */
  node('batchnorm', z.strictObject({ eps: z.number().positive() })),
  node('relu', noAttrs),
  /** min(max(x, 0), 6) */
  node('relu6', noAttrs),
  /** Max pooling; padding never wins (it is -infinity). inputs [x: N C H W]. */
  node('maxpool', z.strictObject(PoolAttrs)),
  /** Average pooling; countIncludePad: divide by the window clipped to the padded input, else to the input. */
  node('avgpool', z.strictObject({ ...PoolAttrs, countIncludePad: z.boolean() })),
  /** N C H W -> N C 1 1 */
  node('globalavgpool', noAttrs),
  /** Element-wise sum of two tensors of the same shape. */
  node('add', noAttrs),
  /** Concatenation along the channel axis. */
  node('concat', z.strictObject({ axis: z.literal(1) })),
  /** ShuffleNet's channel shuffle: N (g C/g) H W -> N (C/g g) H W. */
  node('channelshuffle', z.strictObject({ groups: PosInt })),
  /** N d1 d2 ... -> N (d1 d2 ...) (a view: no data moves). */
  node('flatten', noAttrs),
  /** To `shape` (one entry may be -1: inferred). A view: no data moves. */
  node('reshape', z.strictObject({ shape: z.array(z.number().int()).min(1) })),
  /** Softmax along `axis`. */
  node('softmax', z.strictObject({ axis: NonNegInt })),
]);
export type GraphNode = z.infer<typeof GraphNode>;
export type Op = GraphNode['op'];
export type NodeOf<O extends Op> = Extract<GraphNode, { op: O }>;

export const GraphInput = z.strictObject({ name: Name, shape: Dims });
export type GraphInput = z.infer<typeof GraphInput>;

export const Graph = z.strictObject({
  name: Name,
  inputs: z.array(GraphInput).min(1, 'a graph needs at least one input'),
  outputs: z.array(Name).min(1, 'a graph needs at least one output'),
  params: z.record(Name, Param),
  nodes: z.array(GraphNode).min(1, 'a graph needs at least one node'),
});
export type Graph = z.infer<typeof Graph>;

/** Every operator, in the order of the schema. */
export const OPS: readonly Op[] = GraphNode.options.map((o) => o.shape.op.value);

/**
 * The roles of each operator's parameters, in order; a trailing `?` marks an
 * optional one. Used in messages and by readers that map other formats.
 */
export const PARAM_ROLES: Record<Op, readonly string[]> = {
  conv: ['w', 'b?'],
  gemm: ['w', 'b?'],
  bias: ['b'],
  batchnorm: ['scale', 'shift', 'mean', 'var'],
  relu: [],
  relu6: [],
  maxpool: [],
  avgpool: [],
  globalavgpool: [],
  add: [],
  concat: [],
  channelshuffle: [],
  flatten: [],
  reshape: [],
  softmax: [],
};

/** How many inputs each operator reads: [min, max]. */
const INPUT_COUNT: Record<Op, [number, number]> = {
  conv: [1, 1],
  gemm: [1, 1],
  bias: [1, 1],
  batchnorm: [1, 1],
  relu: [1, 1],
  relu6: [1, 1],
  maxpool: [1, 1],
  avgpool: [1, 1],
  globalavgpool: [1, 1],
  add: [2, 2],
  concat: [1, Number.POSITIVE_INFINITY],
  channelshuffle: [1, 1],
  flatten: [1, 1],
  reshape: [1, 1],
  softmax: [1, 1],
};

/** Operators that only reinterpret their input's shape: no data moves (see reference/graph-cost.ts). */
export const VIEW_OPS: ReadonlySet<Op> = new Set<Op>(['flatten', 'reshape']);

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/** A graph is malformed; the message names the graph and, where there is one, the node. */
export class GraphError extends Error {
  override name = 'GraphError';
  constructor(
    message: string,
    readonly graph: string,
    readonly nodeIndex: number | null = null,
    readonly nodeName: string | null = null,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

const fmt = (d: readonly number[]) => `[${d.join(', ')}]`;

/** Elements of a tensor of shape `d`. */
export function numel(d: readonly number[]): number {
  let n = 1;
  for (const x of d) n *= x;
  return n;
}

/** Parse and validate a graph (schema, then shapes); throws a GraphError or zod's error wrapped with the graph's name. */
export function parseGraph(data: unknown): Graph {
  const r = Graph.safeParse(data);
  if (!r.success) {
    const name = typeof data === 'object' && data !== null && 'name' in data ? String((data as { name: unknown }).name) : '?';
    const issue = r.error.issues[0];
    const where = issue ? issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('') : '';
    throw new GraphError(`graph "${name}" does not match the graph schema at ${where || 'the top'}: ${issue?.message ?? r.error.message}`, name, null, null, {
      cause: r.error,
    });
  }
  inferShapes(r.data);
  return r.data;
}

// ---------------------------------------------------------------------------
// Shape inference and validation
// ---------------------------------------------------------------------------

/** Output size of a conv or pool along one axis; `dilated` is the dilated kernel extent. */
function windowOut(size: number, padLo: number, padHi: number, dilated: number, stride: number, ceil: boolean): number {
  const span = size + padLo + padHi - dilated;
  if (span < 0) return 0;
  let out = (ceil ? Math.ceil(span / stride) : Math.floor(span / stride)) + 1;
  // Ceil mode: the last window must start inside the input or the leading pad (PyTorch's and ONNX's rule).
  if (ceil && (out - 1) * stride >= size + padLo) out -= 1;
  return out;
}

/** Spatial output size of a conv node's attributes on an H x W input with an R x S kernel. */
export function convOutputHW(
  h: number,
  w: number,
  r: number,
  s: number,
  a: { stride: readonly [number, number]; pads: readonly [number, number, number, number]; dilation: readonly [number, number] },
): [number, number] {
  return [
    windowOut(h, a.pads[0], a.pads[2], a.dilation[0] * (r - 1) + 1, a.stride[0], false),
    windowOut(w, a.pads[1], a.pads[3], a.dilation[1] * (s - 1) + 1, a.stride[1], false),
  ];
}

/** Spatial output size of a pool node's attributes on an H x W input. */
export function poolOutputHW(
  h: number,
  w: number,
  a: { kernel: readonly [number, number]; stride: readonly [number, number]; pads: readonly [number, number, number, number]; ceil: boolean },
): [number, number] {
  return [windowOut(h, a.pads[0], a.pads[2], a.kernel[0], a.stride[0], a.ceil), windowOut(w, a.pads[1], a.pads[3], a.kernel[1], a.stride[1], a.ceil)];
}

/** Shapes of every tensor of a graph: inputs, parameters and node outputs. */
export type Shapes = Map<string, number[]>;

/**
 * Validate `g` and return the shape of every tensor. Checks: unique names;
 * every node reads only tensors defined before it (topological order) and its
 * parameters from `params`; parameter counts and shapes per operator;
 * operator-specific rules (divisibility, window sizes, equal shapes); every
 * graph output exists; every parameter is used. Throws a GraphError naming the
 * node on the first problem.
 */
export function inferShapes(g: Graph): Shapes {
  const c = new ShapeChecker(g.name);
  for (const inp of g.inputs) c.input(inp.name, inp.shape);
  for (const [name, p] of Object.entries(g.params)) c.param(name, p);
  g.nodes.forEach((n, i) => c.node(n, i, g.nodes));
  c.finish(g.outputs);
  return c.shapes;
}

/**
 * The checks of inferShapes, one definition at a time, for readers that build
 * a graph node by node and need each tensor's shape as they go (the zoo
 * loader, ONNX import).
 */
export class ShapeChecker {
  readonly shapes: Shapes = new Map();
  private readonly kind = new Map<string, 'input' | 'param' | 'output'>();
  private readonly usedParams = new Set<string>();
  private readonly nodeNames = new Map<string, number>();

  constructor(readonly graph: string) {}

  private fail(msg: string): never {
    throw new GraphError(`graph "${this.graph}": ${msg}`, this.graph);
  }

  /** What `name` is, if defined. */
  kindOf(name: string): 'input' | 'param' | 'output' | undefined {
    return this.kind.get(name);
  }

  input(name: string, shape: readonly number[]): void {
    if (this.kind.has(name)) this.fail(`input "${name}" is defined twice`);
    this.kind.set(name, 'input');
    this.shapes.set(name, [...shape]);
  }

  param(name: string, p: Param): void {
    if (this.kind.has(name)) this.fail(`parameter "${name}" has the name of ${this.kind.get(name) === 'param' ? 'another parameter' : 'a graph input'}`);
    if (p.init.kind === 'uniform' && !(p.init.lo < p.init.hi)) {
      this.fail(`parameter "${name}": init uniform needs lo < hi, got lo = ${p.init.lo}, hi = ${p.init.hi}`);
    }
    this.kind.set(name, 'param');
    this.shapes.set(name, [...p.shape]);
  }

  /**
   * Check node `n` (at `index`) against what is defined so far, define its
   * output and return the output's shape. `all` (the whole node list, when
   * known) only improves the message for a node listed too early.
   */
  node(n: GraphNode, index: number, all: readonly GraphNode[] = []): number[] {
    const { shapes, kind } = this;
    const where = `node ${index} "${n.name}" (${n.op})`;
    const bad = (msg: string): never => {
      throw new GraphError(`graph "${this.graph}": ${where}: ${msg}`, this.graph, index, n.name);
    };
    const prev = this.nodeNames.get(n.name);
    if (prev !== undefined) bad(`the node name is already used by node ${prev}`);
    this.nodeNames.set(n.name, index);
    const [minIn, maxIn] = INPUT_COUNT[n.op];
    if (n.inputs.length < minIn || n.inputs.length > maxIn) {
      bad(`takes ${minIn === maxIn ? minIn : `at least ${minIn}`} input(s), got ${n.inputs.length}`);
    }
    const ins = n.inputs.map((t) => {
      const k = kind.get(t);
      if (k === undefined) {
        const later = all.findIndex((m, j) => j > index && m.outputs[0] === t);
        return bad(
          later >= 0
            ? `input "${t}" is produced by node ${later} "${all[later]!.name}", listed after this one: list nodes in topological order`
            : `input "${t}" is not a graph input, a parameter or the output of an earlier node`,
        );
      }
      if (k === 'param') bad(`input "${t}" is a parameter: list it under params, not inputs`);
      return shapes.get(t)!;
    });
    const roles = PARAM_ROLES[n.op];
    const required = roles.filter((r) => !r.endsWith('?')).length;
    if (n.params.length < required || n.params.length > roles.length) {
      bad(
        roles.length === 0
          ? `takes no parameters, got ${n.params.length} (${n.params.join(', ')})`
          : `takes parameters [${roles.join(', ')}], got ${n.params.length} (${n.params.join(', ') || 'none'})`,
      );
    }
    const ps = n.params.map((p) => {
      const k = kind.get(p);
      if (k !== 'param')
        bad(`parameter "${p}" is ${k === undefined ? "not in the graph's params" : `a ${k === 'input' ? 'graph input' : 'node output'}, not a parameter`}`);
      this.usedParams.add(p);
      return shapes.get(p)!;
    });
    const expectParam = (i: number, want: readonly number[], what: string) => {
      const got = ps[i]!;
      if (got.length !== want.length || got.some((d, j) => d !== want[j])) {
        bad(`parameter "${n.params[i]}" (${roles[i]!.replace('?', '')}) has shape ${fmt(got)}, expected ${fmt(want)} (${what})`);
      }
    };
    const rank = (i: number, r: number, what: string) => {
      const s = ins[i]!;
      if (s.length !== r) bad(`input "${n.inputs[i]}" has shape ${fmt(s)}: ${what}`);
      return s;
    };
    const x = ins[0]!;
    let out: number[];
    switch (n.op) {
      case 'conv': {
        const [N, C, H, W] = rank(0, 4, 'conv needs N C H W');
        const w = ps[0]!;
        if (w.length !== 4) bad(`weight "${n.params[0]}" has shape ${fmt(w)}: conv needs K C/groups R S`);
        const [K, , R, S] = w as [number, number, number, number];
        const gr = n.attrs.groups;
        if (C! % gr !== 0 || K % gr !== 0) bad(`input channels ${C} and output channels ${K} must both be divisible by groups = ${gr}`);
        expectParam(0, [K, C! / gr, R, S], `K C/groups R S with C = ${C} from "${n.inputs[0]}", groups = ${gr}`);
        if (ps.length > 1) expectParam(1, [K], 'one bias per output channel');
        const [ho, wo] = convOutputHW(H!, W!, R, S, n.attrs);
        if (ho < 1 || wo < 1) {
          bad(
            `output size ${ho}x${wo} < 1: the ${R}x${S} kernel (dilation ${fmt(n.attrs.dilation)}) does not fit the padded ${H}x${W} input (pads ${fmt(n.attrs.pads)})`,
          );
        }
        out = [N!, K, ho, wo];
        break;
      }
      case 'gemm': {
        const [N, F] = rank(0, 2, 'gemm needs N F (flatten first)');
        const w = ps[0]!;
        if (w.length !== 2) bad(`weight "${n.params[0]}" has shape ${fmt(w)}: gemm needs K F`);
        expectParam(0, [w[0]!, F!], `K F with F = ${F} from "${n.inputs[0]}"`);
        if (ps.length > 1) expectParam(1, [w[0]!], 'one bias per output');
        out = [N!, w[0]!];
        break;
      }
      case 'bias':
      case 'batchnorm': {
        if (x.length < 2) bad(`input "${n.inputs[0]}" has shape ${fmt(x)}: needs a channel axis (N C ...)`);
        for (let i = 0; i < ps.length; i++) expectParam(i, [x[1]!], `one per channel, C = ${x[1]} from "${n.inputs[0]}"`);
        out = [...x];
        break;
      }
      case 'relu':
      case 'relu6':
        out = [...x];
        break;
      case 'maxpool':
      case 'avgpool': {
        const [N, C, H, W] = rank(0, 4, `${n.op} needs N C H W`);
        const { kernel, pads } = n.attrs;
        if (pads[0] >= kernel[0] || pads[2] >= kernel[0] || pads[1] >= kernel[1] || pads[3] >= kernel[1]) {
          bad(`pads ${fmt(pads)} must each be smaller than the kernel ${fmt(kernel)} (a window would lie wholly in the padding)`);
        }
        const [ho, wo] = poolOutputHW(H!, W!, n.attrs);
        if (ho < 1 || wo < 1) bad(`output size ${ho}x${wo} < 1: the ${kernel[0]}x${kernel[1]} window does not fit the padded ${H}x${W} input`);
        out = [N!, C!, ho, wo];
        break;
      }
      case 'globalavgpool': {
        const [N, C] = rank(0, 4, 'globalavgpool needs N C H W');
        out = [N!, C!, 1, 1];
        break;
      }
      case 'add': {
        const b = ins[1]!;
        if (b.length !== x.length || b.some((d, i) => d !== x[i])) {
          bad(`inputs "${n.inputs[0]}" ${fmt(x)} and "${n.inputs[1]}" ${fmt(b)} differ in shape (add does not broadcast)`);
        }
        out = [...x];
        break;
      }
      case 'concat': {
        if (x.length < 2) bad(`input "${n.inputs[0]}" has shape ${fmt(x)}: concat along axis 1 needs at least 2 dimensions`);
        let c = 0;
        ins.forEach((s, i) => {
          if (s.length !== x.length || s.some((d, j) => j !== 1 && d !== x[j])) {
            bad(`input "${n.inputs[i]}" ${fmt(s)} does not match "${n.inputs[0]}" ${fmt(x)} outside axis 1`);
          }
          c += s[1]!;
        });
        out = [...x];
        out[1] = c;
        break;
      }
      case 'channelshuffle': {
        const s = rank(0, 4, 'channelshuffle needs N C H W');
        if (s[1]! % n.attrs.groups !== 0) bad(`channels ${s[1]} are not divisible by groups = ${n.attrs.groups}`);
        out = [...s];
        break;
      }
      case 'flatten':
        if (x.length < 2) bad(`input "${n.inputs[0]}" has shape ${fmt(x)}: flatten needs N and at least one more axis`);
        out = [x[0]!, numel(x.slice(1))];
        break;
      case 'reshape': {
        const spec = n.attrs.shape;
        const free = spec.filter((d) => d === -1).length;
        if (free > 1 || spec.some((d) => d === 0 || d < -1)) bad(`shape ${fmt(spec)}: entries must be positive, with at most one -1`);
        const known = numel(spec.filter((d) => d > 0));
        const total = numel(x);
        if (free === 1 ? total % known !== 0 : total !== known) {
          bad(`cannot reshape "${n.inputs[0]}" ${fmt(x)} (${total} elements) to ${fmt(spec)}`);
        }
        out = spec.map((d) => (d === -1 ? total / known : d));
        break;
      }
      case 'softmax':
        if (n.attrs.axis >= x.length) bad(`axis ${n.attrs.axis} is out of range for input "${n.inputs[0]}" ${fmt(x)}`);
        out = [...x];
        break;
      default: {
        const never: never = n;
        return bad(`unknown operator ${JSON.stringify((never as { op: unknown }).op)}`);
      }
    }
    const o = n.outputs[0];
    const k = kind.get(o);
    if (k !== undefined) bad(`output "${o}" is already defined (as a ${k === 'output' ? 'node output' : k === 'input' ? 'graph input' : 'parameter'})`);
    kind.set(o, 'output');
    shapes.set(o, out);
    return out;
  }

  /** Final checks: every graph output exists and every parameter is used. */
  finish(outputs: readonly string[]): void {
    for (const o of outputs) {
      const k = this.kind.get(o);
      if (k === undefined) this.fail(`graph output "${o}" is not a tensor of the graph`);
      if (k === 'param') this.fail(`graph output "${o}" is a parameter`);
    }
    const unused = [...this.kind].filter(([name, k]) => k === 'param' && !this.usedParams.has(name)).map(([name]) => name);
    if (unused.length > 0) {
      this.fail(`parameter(s) not used by any node: ${unused.slice(0, 5).join(', ')}${unused.length > 5 ? ` and ${unused.length - 5} more` : ''}`);
    }
  }
}

// ---------------------------------------------------------------------------
// Conv nodes and the conv suite
// ---------------------------------------------------------------------------

export type ConvNodeShape = { ok: true; shape: ConvShape; bias: boolean } | { ok: false; reason: string };

/**
 * The ConvShape (core/contracts.ts) of a conv node, so the conv suite's
 * kernels can run it: only when its stride is the same along both axes, its
 * four pads are equal and its dilation is 1. Otherwise the reason. `bias`
 * says whether the node also adds a bias (the conv kernels do not).
 */
export function convShapeOfNode(n: GraphNode, shapes: Shapes): ConvNodeShape {
  if (n.op !== 'conv') return { ok: false, reason: `node "${n.name}" is a ${n.op}, not a conv` };
  const x = shapes.get(n.inputs[0]!);
  const w = shapes.get(n.params[0]!);
  if (!x || !w) return { ok: false, reason: `node "${n.name}": shapes of its input or weight unknown (run inferShapes on its graph)` };
  const { stride, pads, dilation, groups } = n.attrs;
  if (stride[0] !== stride[1]) return { ok: false, reason: `stride ${fmt(stride)} differs between height and width: the conv kernels take one stride` };
  if (pads.some((p) => p !== pads[0])) return { ok: false, reason: `pads ${fmt(pads)} are not symmetric: the conv kernels take one pad on all sides` };
  if (dilation[0] !== 1 || dilation[1] !== 1) return { ok: false, reason: `dilation ${fmt(dilation)}: the conv kernels have no dilation` };
  const [N, C, H, W] = x as [number, number, number, number];
  const [K, , R, S] = w as [number, number, number, number];
  return {
    ok: true,
    shape: { n: N, c: C, h: H, w: W, k: K, r: R, s: S, stride: stride[0], pad: pads[0], groups },
    bias: n.params.length > 1,
  };
}

/**
 * A conv node whose one obstacle to the conv kernels is unequal pads (TensorFlow's SAME on an even input
 * gives [0, 0, 1, 1]): its shape on the input zero-padded explicitly by `pads` [top, left, bottom, right], with
 * pad 0; the kernels then compute exactly the padded conv. Null for a node convShapeOfNode takes, or one with
 * another obstacle (unequal strides, dilation).
 */
export function explicitPadConv(n: GraphNode, shapes: Shapes): { shape: ConvShape; pads: [number, number, number, number] } | null {
  if (n.op !== 'conv') return null;
  const x = shapes.get(n.inputs[0]!);
  const w = shapes.get(n.params[0]!);
  const { stride, pads, dilation, groups } = n.attrs;
  if (!x || !w || stride[0] !== stride[1] || dilation[0] !== 1 || dilation[1] !== 1 || pads.every((p) => p === pads[0])) return null;
  const [N, C, H, W] = x as [number, number, number, number];
  const [K, , R, S] = w as [number, number, number, number];
  const [t, l, b, r] = pads;
  return { shape: { n: N, c: C, h: H + t + b, w: W + l + r, k: K, r: R, s: S, stride: stride[0], pad: 0, groups }, pads: [t, l, b, r] };
}

/**
 * Copies the rows of `x` (N C H W, from float `xo` of `src`) into the interior of zero-bordered planes of
 * (H + top + bottom) x (W + left + right) at float `yo` of `dst`; the borders are left as they are (zero them
 * once). `src` and `dst` may be one array (the runtime's heap: copied in place, no temporary per row).
 */
export function copyIntoPadded(
  src: Float32Array,
  xo: number,
  dst: Float32Array,
  yo: number,
  dims: readonly number[],
  pads: readonly [number, number, number, number],
): void {
  const [N, C, H, W] = dims as [number, number, number, number];
  const [t, l, b, r] = pads;
  const hp = H + t + b;
  const wp = W + l + r;
  for (let pl = 0; pl < N * C; pl++)
    for (let i = 0; i < H; i++) {
      const from = xo + (pl * H + i) * W;
      const to = yo + (pl * hp + i + t) * wp + l;
      if (src === dst) dst.copyWithin(to, from, from + W);
      else dst.set(src.subarray(from, from + W), to);
    }
}

/** `x` (N C H W) copied into new zero-bordered planes of (H + top + bottom) x (W + left + right). */
export function padPlanes(x: Float32Array, dims: readonly number[], pads: readonly [number, number, number, number]): Float32Array {
  const [N, C, H, W] = dims as [number, number, number, number];
  const y = new Float32Array(N * C * (H + pads[0] + pads[2]) * (W + pads[1] + pads[3]));
  copyIntoPadded(x, 0, y, 0, dims, pads);
  return y;
}

/** Tensor names of a conv case's one-node graph. */
export const CONV_CASE_TENSORS = { input: 'x', weight: 'w', output: 'y', node: 'conv' } as const;

/**
 * The one-node graph of a conv case (x -> conv(w) -> y), so the conv suite's
 * cases can be graphs: convShapeOfNode of its node gives `shape` back.
 */
export function convCaseGraph(shape: ConvShape, name = 'conv'): Graph {
  const { n, c, h, w, k, r, s, stride, pad, groups } = shape;
  const t = CONV_CASE_TENSORS;
  const g: Graph = {
    name,
    inputs: [{ name: t.input, shape: [n, c, h, w] }],
    outputs: [t.output],
    params: { [t.weight]: { shape: [k, c / groups, r, s], init: { kind: 'he', fanIn: (c / groups) * r * s } } },
    nodes: [
      {
        name: t.node,
        op: 'conv',
        inputs: [t.input],
        params: [t.weight],
        outputs: [t.output],
        attrs: { stride: [stride, stride], pads: [pad, pad, pad, pad], dilation: [1, 1], groups },
      },
    ],
  };
  inferShapes(g); // throws on an invalid shape, naming it
  return g;
}

// ---------------------------------------------------------------------------
// Small helpers shared by readers and writers
// ---------------------------------------------------------------------------

/** The graph's parameters used by node `n`, with their roles (`w`, `b`, `scale` ...). */
export function paramRoles(n: GraphNode): { role: string; name: string }[] {
  const roles = PARAM_ROLES[n.op];
  return n.params.map((name, i) => ({ role: (roles[i] ?? '?').replace('?', ''), name }));
}
