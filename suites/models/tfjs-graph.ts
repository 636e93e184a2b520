/**
 * A network (core/graph.ts) translated to TensorFlow.js ops for XNNPACK via tfjs-backend-wasm: the network peer
 * model-tfjs-xnnpack-f32 (suites/models/peers.ts; docs/threads.md). tfjs has no ONNX importer, so each graph
 * operator becomes what a tfjs user writing the network by hand would write, faithful to reference/graph.ts:
 *
 * - layout: NHWC, the layout XNNPACK runs natively. The graph input is transposed from NCHW once in prepare (not
 *   timed); flatten and reshape keep the graph's NCHW order (the tensor is transposed NHWC -> NCHW first, where the
 *   order differs, so the FC weights match); a 4D output is transposed back to NCHW after the timed call.
 * - conv: tf.fused.conv2d (HWIO filter) with explicit [[0,0],[t,b],[l,r],[0,0]] padding where the pads are not zero
 *   (unequal pads included), dilation as tfjs takes it (tfjs refuses dilation > 1 with stride > 1: skipped);
 *   depthwise (groups = C, any channel multiplier) tf.fused.depthwiseConv2d ([R,S,C,M] filter); a grouped conv that
 *   is not depthwise has no tfjs op, and a tfjs user has two ways: split the input into its groups along channels,
 *   one conv per group, concatenate the outputs; or one conv over block-diagonal weights (zeros outside the groups,
 *   groups x the multiply-adds). Both are exact; prepare times both on the layer (untimed) and keeps the faster.
 * - fusion: conv (or gemm) followed by batch norm and / or bias and then ReLU or ReLU6, each intermediate read by
 *   nothing else, is one fused op: batch norm folded into the weights and bias in prepare (w * a, b * a + shift -
 *   mean * a with a = scale / sqrt(var + eps), in float64 rounded once to float32), as ONNX Runtime and the tfjs
 *   converter do; the light runtime instead folds the statistics into a per-channel scale and shift it applies after
 *   the conv. A batch norm not after a conv or gemm is that scale and shift as tf.mul + tf.add.
 * - gemm: tf.fused.matMul with the weights transposed once in prepare to [F, K] (transposeB: true is 4x slower here).
 * - pools: tf.maxPool / tf.avgPool with explicit pads; ceil mode pads the tail so the last window exists (max: padding
 *   never wins; avg: XNNPACK divides by the window inside the input, which is countIncludePad false); with
 *   countIncludePad true the input is zero-padded by tf.pad first, so the padding counts and the ceil tail does not.
 * - globalavgpool tf.mean over H, W; add tf.add; concat tf.concat on channels; channel shuffle reshape [N,H,W,g,C/g],
 *   transpose the last two axes, reshape back; softmax tf.softmax (on the last axis: another axis is transposed there
 *   and back).
 *
 * The timed call is one forward pass of eager ops inside tf.tidy (every intermediate disposed) plus dataSync() of
 * the output. Weights are tf tensors made once in prepare. Payload-safe: tfjs is not imported here, the caller
 * passes the module it loaded from the verified peers part (suites/conv/peers/load.ts).
 */
import type { TestFaults } from '../../core/contracts.js';
import { inferShapes, numel, type Graph, type GraphNode, type NodeOf, type Shapes } from '../../core/graph.js';
import type { PeerLibs } from '../conv/peers/load.js';

export type Tf = PeerLibs['tf'];
type Tensor = ReturnType<Tf['tensor']>;
type Tensor4D = ReturnType<Tf['tensor4d']>;
type Tensor2D = ReturnType<Tf['tensor2d']>;
/** 'valid' or explicit [[0,0],[top,bottom],[left,right],[0,0]] padding (NHWC). */
type Padding = Parameters<Tf['conv2d']>[3];
type Activation = 'linear' | 'relu' | 'relu6';

/** A translated network, ready to run. */
export interface TfjsNetwork {
  /**
   * One forward pass and dataSync() of the output (the timed call); the output as tfjs holds it (NHWC for 4D).
   * `capture` (the checked run, not timed): also reads back the tensor named by TranslateOptions.keep.
   */
  run(capture?: boolean): Float32Array;
  /** The kept tensor of the last capturing run in the graph's order, or null (no `keep`, or no capturing run yet). */
  kept(): Float32Array | null;
  /** The last run's output in the graph's order (NCHW for 4D), for the check: not timed. */
  output(): Float32Array;
  /** Bytes of the weight tensors made in prepare. */
  weightBytes: number;
  /** What was translated and how (the result's prepare note). */
  note: string;
  dispose(): void;
}

/** Operators translated in NHWC: their input must be N C H W. */
const SPATIAL_OPS: ReadonlySet<GraphNode['op']> = new Set(['conv', 'maxpool', 'avgpool', 'globalavgpool', 'channelshuffle']);

/**
 * Why the graph cannot be translated (the operator and the node), or null. The variant is `skipped` with it.
 * Only what tfjs itself refuses: every operator of the graph contract has a translation.
 */
export function tfjsUntranslatable(g: Graph, shapes: Shapes = inferShapes(g)): string | null {
  for (const [i, n] of g.nodes.entries()) {
    const where = `node ${i} "${n.name}" (${n.op})`;
    if (n.op === 'conv') {
      const { stride, dilation } = n.attrs;
      if ((dilation[0] > 1 || dilation[1] > 1) && (stride[0] > 1 || stride[1] > 1))
        return `${where}: tfjs convolutions refuse a dilation above 1 together with a stride above 1 (dilation [${dilation.join(', ')}], stride [${stride.join(', ')}])`;
    }
    const r = shapes.get(n.inputs[0]!)!.length;
    if ((SPATIAL_OPS.has(n.op) && r !== 4) || (n.op === 'gemm' && r !== 2))
      return `${where}: a rank-${r} input (the translation takes the graph contract's ranks: N C H W, N F for gemm)`;
  }
  return null;
}

/** A tensor during the forward pass: `nhwc` when a 4D graph tensor (N C H W) is held as N H W C. */
interface Val {
  t: Tensor;
  nhwc: boolean;
}

/** One translated node: reads its inputs from `vals`, sets its output there. */
type Step = (vals: Map<string, Val>) => void;

/**
 * Median ms of each way of computing one node (steps reading `input` of graph shape `shape`, NHWC zeros: the time does
 * not depend on the values), interleaved: 2 warm-up calls each (the XNNPACK operators created), then 7 rounds.
 */
function timeForms(tf: Tf, forms: Step[], input: string, shape: readonly number[], output: string): number[] {
  const x = tf.zeros([shape[0]!, shape[2]!, shape[3]!, shape[1]!]);
  const once = (f: Step) =>
    tf.tidy(() => {
      const vals = new Map<string, Val>([[input, { t: x, nhwc: true }]]);
      f(vals);
      vals.get(output)!.t.dataSync();
    });
  const samples: number[][] = forms.map(() => []);
  try {
    for (const f of forms) for (let i = 0; i < 2; i++) once(f);
    for (let r = 0; r < 7; r++)
      forms.forEach((f, i) => {
        const t = performance.now();
        once(f);
        samples[i]!.push(performance.now() - t);
      });
  } finally {
    x.dispose();
  }
  return samples.map((s) => s.sort((a, b) => a - b)[3]!);
}

/** Which later nodes a conv or gemm absorbs: batch norms and biases folded, then one activation. */
interface Fused {
  affine: (NodeOf<'batchnorm'> | NodeOf<'bias'>)[];
  activation: Activation;
  /** Every node absorbed (the affine ones and the activation). */
  absorbed: GraphNode[];
  /** The tensor the fused op defines (the last absorbed node's output). */
  output: string;
}

/** Consumers of each tensor (graph outputs count as one). */
function consumers(g: Graph): Map<string, number> {
  const c = new Map<string, number>();
  for (const n of g.nodes) for (const t of new Set(n.inputs)) c.set(t, (c.get(t) ?? 0) + 1);
  for (const t of g.outputs) c.set(t, (c.get(t) ?? 0) + 1);
  return c;
}

/** The chain after a conv or gemm that one fused tfjs op computes (each link read by the next node only). */
function fusedChain(g: Graph, at: number, uses: Map<string, number>, byInput: Map<string, GraphNode>): Fused {
  const f: Fused = { affine: [], activation: 'linear', absorbed: [], output: g.nodes[at]!.outputs[0] };
  for (;;) {
    if (uses.get(f.output) !== 1) return f;
    const next = byInput.get(f.output);
    if (!next) return f;
    if ((next.op === 'batchnorm' || next.op === 'bias') && f.activation === 'linear') f.affine.push(next);
    else if ((next.op === 'relu' || next.op === 'relu6') && f.activation === 'linear') f.activation = next.op;
    else return f;
    f.absorbed.push(next);
    f.output = next.outputs[0];
  }
}

/** Batch norm's per-channel scale and shift in float64 (the reference's a and c0). */
function bnAffine(n: NodeOf<'batchnorm'>, param: (p: string) => Float32Array): { a: Float64Array; c: Float64Array } {
  const [sc, sh, mean, variance] = n.params.map(param) as [Float32Array, Float32Array, Float32Array, Float32Array];
  const a = new Float64Array(sc.length);
  const c = new Float64Array(sc.length);
  for (let k = 0; k < sc.length; k++) {
    a[k] = sc[k]! / Math.sqrt(variance[k]! + n.attrs.eps);
    c[k] = sh[k]! - mean[k]! * a[k]!;
  }
  return { a, c };
}

/** Weights [K, ...] and bias [K] with the absorbed batch norms and biases folded in (float64, rounded once). */
function foldAffine(w: Float32Array, b: Float32Array | null, k: number, chain: Fused['affine'], param: (p: string) => Float32Array) {
  if (chain.length === 0) return { w, b };
  const scale = new Float64Array(k).fill(1);
  const shift = new Float64Array(k);
  if (b) for (let i = 0; i < k; i++) shift[i] = b[i]!;
  for (const n of chain) {
    if (n.op === 'bias') {
      const bb = param(n.params[0]!);
      for (let i = 0; i < k; i++) shift[i]! += bb[i]!;
    } else {
      const { a, c } = bnAffine(n, param);
      for (let i = 0; i < k; i++) {
        scale[i]! *= a[i]!;
        shift[i] = shift[i]! * a[i]! + c[i]!;
      }
    }
  }
  const per = w.length / k;
  const wf = new Float32Array(w.length);
  for (let i = 0; i < w.length; i++) wf[i] = w[i]! * scale[Math.floor(i / per)]!;
  return { w: wf, b: Float32Array.from(shift) };
}

/** 'valid' where every pad is zero, else explicit NHWC padding (top, left, bottom, right as the graph orders them). */
function nhwcPadding(t: number, l: number, b: number, r: number): Padding {
  if (t + l + b + r === 0) return 'valid';
  return [
    [0, 0],
    [t, b],
    [l, r],
    [0, 0],
  ];
}

const permuteNhwc = [0, 2, 3, 1];
const permuteNchw = [0, 3, 1, 2];

/** NCHW -> NHWC of a plain array (the graph input, once in prepare). */
function toNhwcArray(x: Float32Array, [n, c, h, w]: readonly number[]): Float32Array {
  const y = new Float32Array(x.length);
  const hw = h! * w!;
  for (let i = 0; i < n!; i++) for (let ch = 0; ch < c!; ch++) for (let p = 0; p < hw; p++) y[(i * hw + p) * c! + ch] = x[(i * c! + ch) * hw + p]!;
  return y;
}

/** NHWC -> NCHW of a plain array (a 4D output, after the timed call). */
function toNchwArray(y: Float32Array, [n, c, h, w]: readonly number[]): Float32Array {
  const x = new Float32Array(y.length);
  const hw = h! * w!;
  for (let i = 0; i < n!; i++) for (let ch = 0; ch < c!; ch++) for (let p = 0; p < hw; p++) x[(i * c! + ch) * hw + p] = y[(i * hw + p) * c! + ch]!;
  return x;
}

export interface TranslateOptions {
  /** A grouped conv that is not depthwise: split per group, one block-diagonal conv, or the faster of the two timed in prepare (default). */
  groupedConv?: 'split' | 'block-diagonal' | 'faster';
  /**
   * An intermediate tensor a run with `capture` also reads back (the logits before a final softmax, for the check:
   * a saturated softmax is exactly one-hot in float32 and float64 alike, so the output alone can hide a wrong layer).
   * It is made a graph output, so no fused op absorbs it.
   */
  keep?: string;
}

/**
 * Translates `g` (weights `params`, input `inputs`) to tfjs ops on the backend tf runs (the caller set it to wasm).
 * Throws, naming the node, where tfjs refuses (check tfjsUntranslatable first to skip instead).
 * `faults` (test-only): tfjsShuffleOrder shuffles channels the wrong way round; tfjsLeakTensor keeps one
 * intermediate per run alive.
 */
export function translateGraph(
  tf: Tf,
  g: Graph,
  params: ReadonlyMap<string, Float32Array>,
  inputs: ReadonlyMap<string, Float32Array>,
  faults?: Pick<TestFaults, 'tfjsShuffleOrder' | 'tfjsLeakTensor'>,
  opts: TranslateOptions = {},
): TfjsNetwork {
  const keepName = opts.keep !== undefined && !g.outputs.includes(opts.keep) ? opts.keep : undefined;
  if (keepName !== undefined) g = { ...g, outputs: [...g.outputs, keepName] };
  const shapes = inferShapes(g);
  const why = tfjsUntranslatable(g, shapes);
  if (why) throw new Error(`graph "${g.name}": ${why}`);
  const param = (p: string): Float32Array => {
    const v = params.get(p);
    if (!v) throw new Error(`graph "${g.name}": no values for parameter "${p}"`);
    return v;
  };
  const held: Tensor[] = [];
  const hold = <T extends Tensor>(t: T): T => {
    held.push(t);
    return t;
  };
  /** Disposes tensors made here that the translation does not use after all. */
  const release = (ts: (Tensor | undefined)[]) => {
    for (const t of ts) {
      if (!t) continue;
      t.dispose();
      held.splice(held.indexOf(t), 1);
    }
  };
  const uses = consumers(g);
  /** The node reading each tensor as its only input (where a tensor has one consumer, that one). */
  const singleInput = new Map<string, GraphNode>();
  for (const n of g.nodes) if (n.inputs.length === 1) singleInput.set(n.inputs[0]!, n);
  const dims = (t: string) => shapes.get(t)!;
  /** NHWC where the graph tensor is 4D and H W > 1 and C > 1 (else both orders are the same bytes: held in the graph's order). */
  const differs = (s: readonly number[]) => s.length === 4 && s[1]! > 1 && s[2]! * s[3]! > 1;
  const toNhwc = (v: Val, s: readonly number[]): Tensor => {
    if (v.nhwc) return v.t;
    return differs(s) ? tf.transpose(v.t, permuteNhwc) : tf.reshape(v.t, [s[0]!, s[2]!, s[3]!, s[1]!]);
  };
  const toGraph = (v: Val, s: readonly number[]): Tensor => {
    if (!v.nhwc) return v.t;
    return differs(s) ? tf.transpose(v.t, permuteNchw) : tf.reshape(v.t, s as number[]);
  };
  const steps: Step[] = [];
  const absorbed = new Set<string>();
  const notes = { fusedConv: 0, foldedBn: 0, grouped: [] as string[], standaloneBn: 0, transposes: 0 };
  const get = (vals: Map<string, Val>, t: string): Val => vals.get(t)!;

  for (const [index, n] of g.nodes.entries()) {
    if (absorbed.has(n.name)) continue;
    const where = `graph "${g.name}", node ${index} "${n.name}" (${n.op})`;
    const x0 = n.inputs[0]!;
    const xs = dims(x0);
    const out = n.outputs[0];
    try {
      switch (n.op) {
        case 'conv':
        case 'gemm': {
          const chain = fusedChain(g, index, uses, singleInput);
          for (const m of chain.absorbed) absorbed.add(m.name);
          notes.foldedBn += chain.affine.filter((m) => m.op === 'batchnorm').length;
          const ws = dims(n.params[0]!);
          const K = ws[0]!;
          const folded = foldAffine(param(n.params[0]!), n.params[1] ? param(n.params[1]) : null, K, chain.affine, param);
          const activation = chain.activation;
          const dst = chain.output;
          if (n.op === 'gemm') {
            const F = ws[1]!;
            const wt = new Float32Array(F * K);
            for (let k = 0; k < K; k++) for (let f = 0; f < F; f++) wt[f * K + k] = folded.w[k * F + f]!;
            const b = hold(tf.tensor2d(wt, [F, K]));
            const bias = folded.b ? hold(tf.tensor1d(folded.b)) : undefined;
            steps.push((vals) => {
              const a = toGraph(get(vals, x0), xs);
              vals.set(dst, { t: tf.fused.matMul({ a: a as Tensor2D, b, ...(bias ? { bias } : {}), activation }), nhwc: false });
            });
            break;
          }
          notes.fusedConv++;
          const { stride, pads, dilation, groups } = n.attrs;
          const [, C, , ,] = xs as [number, number, number, number];
          const [, cg, R, S] = ws as [number, number, number, number];
          const pad = nhwcPadding(pads[0], pads[1], pads[2], pads[3]);
          const depthwise = groups > 1 && groups === C && cg === 1;
          const w = folded.w;
          if (depthwise) {
            // [K = C*M, 1, R, S] -> [R, S, C, M]: output channel c*M + m reads input channel c.
            const M = K / C;
            const f = new Float32Array(w.length);
            for (let k = 0; k < K; k++) for (let rs = 0; rs < R * S; rs++) f[rs * K + k] = w[k * R * S + rs]!;
            const filter = hold(tf.tensor4d(f, [R, S, C, M]));
            const bias = folded.b ? hold(tf.tensor1d(folded.b)) : undefined;
            steps.push((vals) => {
              const x = toNhwc(get(vals, x0), xs);
              const y = tf.fused.depthwiseConv2d({
                x: x as Tensor4D,
                filter,
                strides: stride,
                // Explicit padding works here as in conv2d (computeConv2DInfo); the fused op's d.ts omits it.
                pad: pad as 'valid',
                dilations: dilation,
                ...(bias ? { bias } : {}),
                activation,
              });
              vals.set(dst, { t: y, nhwc: true });
            });
            break;
          }
          const kg = K / groups;
          const conv = (x: Tensor, filter: Tensor4D, bias: Tensor | undefined) =>
            tf.fused.conv2d({ x: x as Tensor4D, filter, strides: stride, pad, dilations: dilation, ...(bias ? { bias } : {}), activation });
          // KCRS -> HWIO: one filter [R, S, C, K] with zeros outside the groups (block-diagonal; groups = 1: the filter itself).
          const dense = new Float32Array(R * S * C * K);
          for (let k = 0; k < K; k++) {
            const c0 = Math.floor(k / kg) * cg;
            for (let c = 0; c < cg; c++) for (let rs = 0; rs < R * S; rs++) dense[(rs * C + c0 + c) * K + k] = w[(k * cg + c) * R * S + rs]!;
          }
          const denseFilter = hold(tf.tensor4d(dense, [R, S, C, K]));
          const denseBias = folded.b ? hold(tf.tensor1d(folded.b)) : undefined;
          const oneConv: Step = (vals) => vals.set(dst, { t: conv(toNhwc(get(vals, x0), xs), denseFilter, denseBias), nhwc: true });
          if (groups === 1) {
            steps.push(oneConv);
            break;
          }
          // Grouped, not depthwise: tfjs has no such conv. Either split the channels, one conv per group ([R, S, C/g, K/g]),
          // concat; or one conv over the block-diagonal filter (groups x the multiply-adds, the zeros included). Both exact.
          const filters: Tensor4D[] = [];
          const biases: (Tensor | undefined)[] = [];
          for (let gi = 0; gi < groups; gi++) {
            const f = new Float32Array(R * S * cg * kg);
            for (let k = 0; k < kg; k++)
              for (let c = 0; c < cg; c++) for (let rs = 0; rs < R * S; rs++) f[(rs * cg + c) * kg + k] = w[((gi * kg + k) * cg + c) * R * S + rs]!;
            filters.push(hold(tf.tensor4d(f, [R, S, cg, kg])));
            biases.push(folded.b ? hold(tf.tensor1d(folded.b.subarray(gi * kg, (gi + 1) * kg))) : undefined);
          }
          const splitConv: Step = (vals) => {
            const parts = tf.split(toNhwc(get(vals, x0), xs), groups, 3);
            vals.set(dst, {
              t: tf.concat(
                parts.map((p, gi) => conv(p, filters[gi]!, biases[gi])),
                3,
              ),
              nhwc: true,
            });
          };
          // The faster of the two on this layer (timed here, untimed, on an input of the layer's shape), unless the caller chose.
          let form = opts.groupedConv ?? 'faster';
          let timed = '';
          if (form === 'faster') {
            const ms = timeForms(tf, [splitConv, oneConv], x0, xs, dst);
            form = ms[0]! <= ms[1]! ? 'split' : 'block-diagonal';
            timed = `, ${ms[0]!.toFixed(3)} vs ${ms[1]!.toFixed(3)} ms`;
          }
          release(form === 'split' ? [denseFilter, denseBias] : [...filters, ...biases]);
          steps.push(form === 'split' ? splitConv : oneConv);
          notes.grouped.push(`${n.name} (${groups} groups: ${form}${timed})`);
          break;
        }
        case 'bias':
        case 'batchnorm': {
          const C = xs[1]!;
          let a: Float32Array | null = null;
          let c: Float32Array;
          if (n.op === 'bias') c = param(n.params[0]!);
          else {
            const f = bnAffine(n, param);
            a = Float32Array.from(f.a);
            c = Float32Array.from(f.c);
            notes.standaloneBn++;
          }
          // Broadcast along the channel axis: the last in NHWC, axis 1 (shape [C, 1, ...]) in the graph's order.
          const graphShape = [C, ...xs.slice(2).map(() => 1)];
          const nhwcShape = [C];
          const at = (arr: Float32Array) => ({ nhwc: hold(tf.tensor(arr, nhwcShape)), graph: hold(tf.tensor(arr, graphShape)) });
          const av = a ? at(a) : null;
          const cv = at(c);
          steps.push((vals) => {
            const v = get(vals, x0);
            const pick = (p: { nhwc: Tensor; graph: Tensor }) => (v.nhwc ? p.nhwc : p.graph);
            const scaled = av ? tf.mul(v.t, pick(av)) : v.t;
            vals.set(out, { t: tf.add(scaled, pick(cv)), nhwc: v.nhwc });
          });
          break;
        }
        case 'relu':
        case 'relu6': {
          const f = n.op === 'relu' ? tf.relu : tf.relu6;
          steps.push((vals) => {
            const v = get(vals, x0);
            vals.set(out, { t: f(v.t), nhwc: v.nhwc });
          });
          break;
        }
        case 'maxpool':
        case 'avgpool': {
          const { kernel, stride, pads, ceil } = n.attrs;
          const [, , H, W] = xs as [number, number, number, number];
          const [, , ho, wo] = dims(out) as [number, number, number, number];
          // Ceil mode: pad the tail so the last window exists; it is never counted (max: padding never wins; avg: see below).
          const tailH = ceil ? Math.max(0, (ho - 1) * stride[0] + kernel[0] - (H + pads[0] + pads[2])) : 0;
          const tailW = ceil ? Math.max(0, (wo - 1) * stride[1] + kernel[1] - (W + pads[1] + pads[3])) : 0;
          const countPad = n.op === 'avgpool' && n.attrs.countIncludePad && pads.some((p) => p > 0);

          // XNNPACK's average pooling divides by the window's positions inside its input (countIncludePad false);
          // countIncludePad true: the pads become zeros of the input (tf.pad), only the ceil tail stays padding.
          const pad = countPad ? nhwcPadding(0, 0, tailH, tailW) : nhwcPadding(pads[0], pads[1], pads[2] + tailH, pads[3] + tailW);
          const zeroPad: [number, number][] = [
            [0, 0],
            [pads[0], pads[2]],
            [pads[1], pads[3]],
            [0, 0],
          ];
          const pool = n.op === 'maxpool' ? tf.maxPool : tf.avgPool;
          steps.push((vals) => {
            let x = toNhwc(get(vals, x0), xs);
            if (countPad) x = tf.pad(x, zeroPad);
            const y = pool(x as Tensor4D, kernel, stride, pad);
            if (y.shape[1] !== ho || y.shape[2] !== wo) throw new Error(`${where}: tfjs pooled to ${y.shape[1]}x${y.shape[2]}, the graph says ${ho}x${wo}`);
            vals.set(out, { t: y, nhwc: true });
          });
          break;
        }
        case 'globalavgpool':
          steps.push((vals) => vals.set(out, { t: tf.mean(toNhwc(get(vals, x0), xs), [1, 2], true), nhwc: true }));
          break;
        case 'add': {
          const x1 = n.inputs[1]!;
          steps.push((vals) => {
            const a = get(vals, x0);
            const b = get(vals, x1);
            // The same layout for both: NHWC if either is.
            const nhwc = (a.nhwc || b.nhwc) && xs.length === 4;
            const ta = nhwc ? toNhwc(a, xs) : a.t;
            const tb = nhwc ? toNhwc(b, xs) : b.t;
            vals.set(out, { t: tf.add(ta, tb), nhwc });
          });
          break;
        }
        case 'concat': {
          const four = xs.length === 4;
          steps.push((vals) => {
            const ts = n.inputs.map((t) => (four ? toNhwc(get(vals, t), dims(t)) : toGraph(get(vals, t), dims(t))));
            vals.set(out, { t: tf.concat(ts, four ? 3 : 1), nhwc: four });
          });
          break;
        }
        case 'channelshuffle': {
          const [N, C, H, W] = xs as [number, number, number, number];
          const gr = n.attrs.groups;
          // N H W (g C/g) -> N H W (C/g g): output channel j*g + i is input channel i*(C/g) + j.
          const split = faults?.tfjsShuffleOrder ? [N, H, W, C / gr, gr] : [N, H, W, gr, C / gr];
          steps.push((vals) => {
            const x = toNhwc(get(vals, x0), xs);
            vals.set(out, { t: tf.reshape(tf.transpose(tf.reshape(x, split), [0, 1, 2, 4, 3]), [N, H, W, C]), nhwc: true });
          });
          break;
        }
        case 'flatten':
        case 'reshape': {
          const os = dims(out);
          if (differs(xs)) notes.transposes++;
          steps.push((vals) => vals.set(out, { t: tf.reshape(toGraph(get(vals, x0), xs), os), nhwc: false }));
          break;
        }
        case 'softmax': {
          const axis = n.attrs.axis;
          const last = xs.length - 1;
          const perm = xs.map((_, i) => (i === axis ? last : i === last ? axis : i));
          steps.push((vals) => {
            const x = toGraph(get(vals, x0), xs);
            const y = axis === last ? tf.softmax(x) : tf.transpose(tf.softmax(tf.transpose(x, perm)), perm);
            vals.set(out, { t: y, nhwc: false });
          });
          break;
        }
        default: {
          const never: never = n;
          throw new Error(`no tfjs translation of operator ${(never as GraphNode).op}`);
        }
      }
    } catch (e) {
      for (const t of held) t.dispose();
      throw new Error(`${where}: ${(e as Error).message}`, { cause: e });
    }
  }

  const outName = g.outputs[0]!;
  const outShape = dims(outName);
  const inputVals = new Map<string, Val>();
  for (const t of g.inputs) {
    const x = inputs.get(t.name);
    if (!x) throw new Error(`graph "${g.name}": no values for input "${t.name}"`);
    const four = t.shape.length === 4;
    inputVals.set(t.name, {
      t: hold(four ? tf.tensor(toNhwcArray(x, t.shape), [t.shape[0]!, t.shape[2]!, t.shape[3]!, t.shape[1]!]) : tf.tensor(x, t.shape)),
      nhwc: four,
    });
  }
  const weightBytes = held.reduce((s, t) => s + numel(t.shape) * 4, 0);
  const state: { last: { y: Float32Array; nhwc: boolean } | null; kept: Float32Array | null } = { last: null, kept: null };
  let leaked: Tensor[] = [];
  const keepShape = keepName !== undefined ? dims(keepName) : [];
  const run = (capture = false): Float32Array => {
    let nhwc = false;
    let keptT: Tensor | null = null;
    let keptNhwc = false;
    const y = tf.tidy(() => {
      const vals = new Map(inputVals);
      for (const s of steps) s(vals);
      const v = vals.get(outName)!;
      if (capture && keepName !== undefined) {
        const k = vals.get(keepName)!;
        keptNhwc = k.nhwc && differs(keepShape);
        keptT = tf.keep(k.t);
      }
      // Test-only: one intermediate kept alive past the tidy, as a forgotten dispose would.
      if (faults?.tfjsLeakTensor) leaked.push(tf.keep(tf.add(v.t, 0)));
      nhwc = v.nhwc && differs(outShape);
      return nhwc || !v.nhwc ? v.t : tf.reshape(v.t, outShape);
    });
    const data = y.dataSync() as Float32Array;
    y.dispose();
    state.last = { y: data, nhwc };
    if (keptT !== null) {
      const t: Tensor = keptT;
      const d = Float32Array.from(t.dataSync() as Float32Array);
      t.dispose();
      state.kept = keptNhwc ? toNchwArray(d, keepShape) : d;
    }
    return data;
  };
  const grouped = notes.grouped.length;
  return {
    run,
    output(): Float32Array {
      const l = state.last;
      if (!l) throw new Error(`graph "${g.name}": output() before run()`);
      return l.nhwc ? toNchwArray(l.y, outShape) : l.y;
    },
    kept: () => state.kept,
    weightBytes,
    note:
      `translated op by op to tfjs (tfjs-backend-wasm, XNNPACK, WebAssembly SIMD, 1 thread), NHWC: input NCHW -> NHWC once here; ` +
      `${notes.fusedConv} conv(s) as tf.fused conv ops with their bias and ReLU/ReLU6 fused; ` +
      `${notes.foldedBn} batch norm(s) folded into the conv weights here (as ONNX Runtime does; the light runtime applies them as a per-channel scale and shift)` +
      (notes.standaloneBn ? `, ${notes.standaloneBn} as tf.mul + tf.add` : '') +
      '; ' +
      (grouped
        ? `${grouped} grouped conv(s) not depthwise (tfjs has none), each the faster, timed here, of split into one conv per group and concatenated, ` +
          `or one conv over block-diagonal weights (zeros outside the groups): ${notes.grouped.slice(0, 4).join(', ')}${grouped > 4 ? ', ...' : ''}; `
        : '') +
      (notes.transposes ? `${notes.transposes} flatten/reshape after NHWC -> NCHW transposes (the FC weights in the graph's order); ` : '') +
      'FC weights transposed once here for tf.fused.matMul; XNNPACK operators created and cached by a first run here; timed: one forward pass in tf.tidy + dataSync()',
    dispose(): void {
      for (const t of held) t.dispose();
      for (const t of leaked) t.dispose();
      held.length = 0;
      leaked = [];
      state.last = null;
      state.kept = null;
    },
  };
}
