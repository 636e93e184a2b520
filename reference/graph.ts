/**
 * The float64 reference of every graph operator (core/graph.ts) and
 * evaluateGraph, which runs a whole graph and keeps every tensor, so each
 * layer's output can be checked, not only the last one.
 *
 * Semantics (docs/graphs.md):
 * - conv: conv2dRefGeneral (reference/conv.ts), zero padding, then + b[k].
 * - gemm: y[n,k] = sum_f x[n,f] w[k,f] (+ b[k]).
 * - bias: y = x + b[c]; batchnorm: (x - mean[c]) / sqrt(var[c] + eps) * scale[c] + shift[c]
 *   (computed as x * a[c] + c0[c] with a and c0 in float64).
 * - relu: max(x, 0); relu6: min(max(x, 0), 6) (NaN stays NaN).
 * - maxpool: max over the window's elements inside the input (padding never wins).
 * - avgpool: sum over the window's elements inside the input, divided by the
 *   number of window positions inside the padded input (countIncludePad) or
 *   inside the input (not countIncludePad). In ceil mode a window may run past
 *   the padded input; those positions are never counted.
 * - globalavgpool: mean over H x W. add: a + b. concat: along channels.
 * - channelshuffle (groups g): output channel j*g + i is input channel
 *   i*(C/g) + j (reshape to N g C/g H W, swap the two group axes, reshape back:
 *   the ShuffleNet paper's operation and ONNX's Reshape-Transpose-Reshape).
 * - flatten, reshape: the same values (views).
 * - softmax: exp(x - max) / sum, along the axis.
 *
 * All arithmetic in float64; the inputs and parameters are read as given
 * (fp32 values are exact in float64). Pure, payload-safe.
 */
import { inferShapes, numel, type Graph, type GraphNode, type NodeOf, type Shapes } from '../core/graph.js';
import { conv2dRefGeneral } from './conv.js';

type Values = ArrayLike<number>;

const f64 = (a: Values): Float64Array => (a instanceof Float64Array ? a : Float64Array.from(a as ArrayLike<number>));

/** Conv node: y and, per output element, sum |x*w| (+ |b|), the scale of the exact-fp32 tolerance model. */
export function convNodeRef(
  n: NodeOf<'conv'>,
  xShape: readonly number[],
  wShape: readonly number[],
  outShape: readonly number[],
  x: Values,
  w: Values,
  b?: Values,
): { y: Float64Array; absBound: Float64Array } {
  const [N, C, H, W] = xShape as [number, number, number, number];
  const [K, , R, S] = wShape as [number, number, number, number];
  const [, , ho, wo] = outShape as [number, number, number, number];
  const r = conv2dRefGeneral({ n: N, c: C, h: H, w: W, k: K, r: R, s: S, ho, wo, ...n.attrs }, x, w, `node "${n.name}"`);
  if (b) {
    const plane = ho * wo;
    for (let nn = 0; nn < N; nn++) {
      for (let k = 0; k < K; k++) {
        const bv = +b[k]!;
        const ab = Math.abs(bv);
        const base = (nn * K + k) * plane;
        for (let i = 0; i < plane; i++) {
          r.y[base + i]! += bv;
          r.absBound[base + i]! += ab;
        }
      }
    }
  }
  return r;
}

/** Fully connected: x [N, F], w [K, F] -> y [N, K] (+ b); with sum |x*w| (+ |b|). */
export function gemmRef(N: number, F: number, K: number, x: Values, w: Values, b?: Values): { y: Float64Array; absBound: Float64Array } {
  const y = new Float64Array(N * K);
  const absBound = new Float64Array(N * K);
  const W = f64(w);
  const X = f64(x);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      let s = 0;
      let a = 0;
      const xo = n * F;
      const wo = k * F;
      for (let f = 0; f < F; f++) {
        const p = X[xo + f]! * W[wo + f]!;
        s += p;
        a += Math.abs(p);
      }
      if (b) {
        s += +b[k]!;
        a += Math.abs(+b[k]!);
      }
      y[n * K + k] = s;
      absBound[n * K + k] = a;
    }
  }
  return { y, absBound };
}

/** Per-channel affine y = x * a[c] + c0[c] over N C (inner...) (bias: a = 1; batchnorm). */
function channelAffine(shape: readonly number[], x: Values, a: ArrayLike<number> | null, c0: ArrayLike<number>): Float64Array {
  const N = shape[0]!;
  const C = shape[1]!;
  const inner = numel(shape.slice(2));
  const y = new Float64Array(N * C * inner);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const base = (n * C + c) * inner;
      const mul = a ? a[c]! : 1;
      const add = +c0[c]!;
      for (let i = 0; i < inner; i++) y[base + i] = +x[base + i]! * mul + add;
    }
  }
  return y;
}

export function biasRef(shape: readonly number[], x: Values, b: Values): Float64Array {
  return channelAffine(shape, x, null, b);
}

/** Inference batch norm: (x - mean) / sqrt(var + eps) * scale + shift, as x * a + c0 per channel (float64). */
export function batchnormRef(shape: readonly number[], x: Values, scale: Values, shift: Values, mean: Values, variance: Values, eps: number): Float64Array {
  const C = shape[1]!;
  const a = new Float64Array(C);
  const c0 = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    a[c] = +scale[c]! / Math.sqrt(+variance[c]! + eps);
    c0[c] = +shift[c]! - +mean[c]! * a[c]!;
  }
  return channelAffine(shape, x, a, c0);
}

export function reluRef(x: Values): Float64Array {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = +x[i]!;
    y[i] = v < 0 ? 0 : v; // NaN stays NaN
  }
  return y;
}

export function relu6Ref(x: Values): Float64Array {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = +x[i]!;
    y[i] = v < 0 ? 0 : v > 6 ? 6 : v;
  }
  return y;
}

/** Max or average pooling of x [N C H W] to [N C ho wo]. */
export function poolRef(
  kind: 'max' | 'avg',
  shape: readonly number[],
  out: readonly number[],
  a: NodeOf<'maxpool'>['attrs'] & { countIncludePad?: boolean },
  x: Values,
): Float64Array {
  const [N, C, H, W] = shape as [number, number, number, number];
  const [, , ho, wo] = out as [number, number, number, number];
  const [kh, kw] = a.kernel;
  const [sh, sw] = a.stride;
  const [pt, pl, pb, pr] = a.pads;
  const y = new Float64Array(N * C * ho * wo);
  for (let nc = 0; nc < N * C; nc++) {
    const xb = nc * H * W;
    for (let oh = 0; oh < ho; oh++) {
      const h0 = oh * sh - pt;
      const hLo = Math.max(0, h0);
      const hHi = Math.min(H, h0 + kh);
      for (let ow = 0; ow < wo; ow++) {
        const w0 = ow * sw - pl;
        const wLo = Math.max(0, w0);
        const wHi = Math.min(W, w0 + kw);
        let acc = kind === 'max' ? Number.NEGATIVE_INFINITY : 0;
        let nan = false;
        for (let ih = hLo; ih < hHi; ih++) {
          for (let iw = wLo; iw < wHi; iw++) {
            const v = +x[xb + ih * W + iw]!;
            if (Number.isNaN(v)) nan = true;
            if (kind === 'max') acc = v > acc ? v : acc;
            else acc += v;
          }
        }
        let value = acc;
        if (kind === 'avg') {
          const count = a.countIncludePad
            ? (Math.min(H + pb, h0 + kh) - Math.max(-pt, h0)) * (Math.min(W + pr, w0 + kw) - Math.max(-pl, w0))
            : (hHi - hLo) * (wHi - wLo);
          value = acc / count;
        }
        y[(nc * ho + oh) * wo + ow] = nan ? Number.NaN : value;
      }
    }
  }
  return y;
}

export function globalAvgPoolRef(shape: readonly number[], x: Values): Float64Array {
  const [N, C, H, W] = shape as [number, number, number, number];
  const hw = H * W;
  const y = new Float64Array(N * C);
  for (let nc = 0; nc < N * C; nc++) {
    let s = 0;
    for (let i = 0; i < hw; i++) s += +x[nc * hw + i]!;
    y[nc] = s / hw;
  }
  return y;
}

export function addRef(a: Values, b: Values): Float64Array {
  const y = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) y[i] = +a[i]! + +b[i]!;
  return y;
}

/** Concatenation along axis 1 of tensors with shapes `shapes`. */
export function concatRef(shapes: readonly (readonly number[])[], xs: readonly Values[]): Float64Array {
  const N = shapes[0]![0]!;
  const inner = numel(shapes[0]!.slice(2));
  const total = shapes.reduce((s, sh) => s + sh[1]!, 0);
  const y = new Float64Array(N * total * inner);
  for (let n = 0; n < N; n++) {
    let c0 = 0;
    xs.forEach((x, i) => {
      const C = shapes[i]![1]!;
      const block = C * inner;
      const src = n * block;
      const dst = (n * total + c0) * inner;
      for (let j = 0; j < block; j++) y[dst + j] = +x[src + j]!;
      c0 += C;
    });
  }
  return y;
}

/** Output channel j*g + i <- input channel i*(C/g) + j. */
export function channelShuffleRef(shape: readonly number[], groups: number, x: Values): Float64Array {
  const [N, C, H, W] = shape as [number, number, number, number];
  const per = C / groups;
  const hw = H * W;
  const y = new Float64Array(N * C * hw);
  for (let n = 0; n < N; n++) {
    for (let i = 0; i < groups; i++) {
      for (let j = 0; j < per; j++) {
        const src = (n * C + i * per + j) * hw;
        const dst = (n * C + j * groups + i) * hw;
        for (let p = 0; p < hw; p++) y[dst + p] = +x[src + p]!;
      }
    }
  }
  return y;
}

export function softmaxRef(shape: readonly number[], axis: number, x: Values): Float64Array {
  const outer = numel(shape.slice(0, axis));
  const len = shape[axis]!;
  const inner = numel(shape.slice(axis + 1));
  const y = new Float64Array(x.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * len * inner + i;
      let m = Number.NEGATIVE_INFINITY;
      for (let k = 0; k < len; k++) m = Math.max(m, +x[base + k * inner]!);
      let s = 0;
      for (let k = 0; k < len; k++) {
        const e = Math.exp(+x[base + k * inner]! - m);
        y[base + k * inner] = e;
        s += e;
      }
      for (let k = 0; k < len; k++) y[base + k * inner]! /= s;
    }
  }
  return y;
}

/** What evaluateGraph gives back. */
export interface GraphEvaluation {
  shapes: Shapes;
  /** Every graph input and node output, in float64 (views share their input's array). */
  values: Map<string, Float64Array>;
  /**
   * For conv and gemm outputs: per element sum |x*w| (+ |b|), the scale of the
   * exact-fp32 tolerance model (reference/tolerance.ts).
   */
  absBound: Map<string, Float64Array>;
}

/**
 * Evaluate `g` in float64. `inputs` holds every graph input, `params` every
 * parameter (reference/graph-init.ts makes them), each of its tensor's
 * element count. Throws a GraphError for an invalid graph, and an Error naming
 * the tensor for a missing or wrongly sized array.
 */
export function evaluateGraph(
  g: Graph,
  inputs: ReadonlyMap<string, Values> | Readonly<Record<string, Values>>,
  params: ReadonlyMap<string, Values> | Readonly<Record<string, Values>>,
): GraphEvaluation {
  const shapes = inferShapes(g);
  const get = (m: typeof inputs, k: string): Values | undefined => (m instanceof Map ? m.get(k) : (m as Record<string, Values>)[k]);
  const values = new Map<string, Float64Array>();
  const absBound = new Map<string, Float64Array>();
  const sized = (what: string, name: string, a: Values | undefined): Values => {
    if (a === undefined) throw new Error(`evaluateGraph: graph "${g.name}": no values for ${what} "${name}"`);
    const want = numel(shapes.get(name)!);
    if (a.length !== want) {
      throw new Error(`evaluateGraph: graph "${g.name}": ${what} "${name}" has ${a.length} values, its shape [${shapes.get(name)!.join(', ')}] needs ${want}`);
    }
    return a;
  };
  for (const inp of g.inputs) values.set(inp.name, f64(sized('input', inp.name, get(inputs, inp.name))));
  const param = (name: string): Values => sized('parameter', name, get(params, name));
  for (const n of g.nodes) {
    const x = values.get(n.inputs[0]!)!;
    const xs = shapes.get(n.inputs[0]!)!;
    const os = shapes.get(n.outputs[0])!;
    let y: Float64Array;
    switch (n.op) {
      case 'conv': {
        const r = convNodeRef(n, xs, shapes.get(n.params[0]!)!, os, x, param(n.params[0]!), n.params[1] ? param(n.params[1]) : undefined);
        y = r.y;
        absBound.set(n.outputs[0], r.absBound);
        break;
      }
      case 'gemm': {
        const r = gemmRef(xs[0]!, xs[1]!, os[1]!, x, param(n.params[0]!), n.params[1] ? param(n.params[1]) : undefined);
        y = r.y;
        absBound.set(n.outputs[0], r.absBound);
        break;
      }
      case 'bias':
        y = biasRef(xs, x, param(n.params[0]!));
        break;
      case 'batchnorm': {
        const [sc, sh, m, v] = n.params.map(param) as [Values, Values, Values, Values];
        y = batchnormRef(xs, x, sc, sh, m, v, n.attrs.eps);
        break;
      }
      case 'relu':
        y = reluRef(x);
        break;
      case 'relu6':
        y = relu6Ref(x);
        break;
      case 'maxpool':
        y = poolRef('max', xs, os, n.attrs, x);
        break;
      case 'avgpool':
        y = poolRef('avg', xs, os, n.attrs, x);
        break;
      case 'globalavgpool':
        y = globalAvgPoolRef(xs, x);
        break;
      case 'add':
        y = addRef(x, values.get(n.inputs[1]!)!);
        break;
      case 'concat':
        y = concatRef(
          n.inputs.map((t) => shapes.get(t)!),
          n.inputs.map((t) => values.get(t)!),
        );
        break;
      case 'channelshuffle':
        y = channelShuffleRef(xs, n.attrs.groups, x);
        break;
      case 'flatten':
      case 'reshape':
        y = x;
        break;
      case 'softmax':
        y = softmaxRef(xs, n.attrs.axis, x);
        break;
      default: {
        const never: never = n;
        throw new Error(`evaluateGraph: unknown operator ${(never as GraphNode).op}`);
      }
    }
    values.set(n.outputs[0], y);
  }
  return { shapes, values, absBound };
}
