/**
 * A conv chain as a graph (core/graph.ts): conv(w_i, b_i) [-> act] per layer, parameters `data`. Its float64
 * evaluation (reference/graph.ts) is the reference both schedules are checked against; phase 2 registers it as
 * a graph case. Also the chains the tiling measurements use. Payload-safe.
 */
import { parseGraph, type Graph, type GraphNode } from '../../core/graph.js';
import { evaluateGraph } from '../../reference/graph.js';
import { convAllowance, convGeometry } from '../../reference/layer-tolerance.js';
import { makeRng } from '../../reference/random.js';
import type { Activation } from '../fusion/ops.js';
import { chainDims, type ConvChain } from './executor.js';

/** The graph; the layer i's conv output is `<name>.conv` (absBound), its output (after act) `<name>`, the last is `y`. */
export function chainGraph(chain: ConvChain): Graph {
  const nodes: GraphNode[] = [];
  const params: Graph['params'] = {};
  let cin = chain.c;
  let prev = 'x';
  chain.layers.forEach((l, i) => {
    const out = i === chain.layers.length - 1 ? 'y' : l.name;
    const groups = l.groups ?? 1;
    params[`${l.name}.w`] = { shape: [l.cout, cin / groups, l.k, l.k], init: { kind: 'data' } };
    params[`${l.name}.b`] = { shape: [l.cout], init: { kind: 'data' } };
    // conv [-> add the chain input] [-> act]: the conv's own output is `<name>.conv` unless it is the layer's output.
    const convOut = l.act === 'none' && !l.residual ? out : `${l.name}.conv`;
    const sumOut = l.act === 'none' ? out : `${l.name}.sum`;
    const attrs = {
      stride: [l.stride, l.stride] as [number, number],
      pads: [l.pad, l.pad, l.pad, l.pad] as [number, number, number, number],
      dilation: [1, 1] as [number, number],
      groups,
    };
    nodes.push({ op: 'conv', name: `${l.name}.conv`, inputs: [prev], params: [`${l.name}.w`, `${l.name}.b`], outputs: [convOut], attrs });
    const actIn = l.residual ? sumOut : convOut;
    if (l.residual) nodes.push({ op: 'add', name: `${l.name}.add`, inputs: [convOut, 'x'], params: [], outputs: [sumOut], attrs: {} });
    if (l.act !== 'none') nodes.push({ op: l.act, name: `${l.name}.act`, inputs: [actIn], params: [], outputs: [out], attrs: {} });
    prev = out;
    cin = l.cout;
  });
  return parseGraph({ name: chain.name, inputs: [{ name: 'x', shape: [1, chain.c, chain.h, chain.w] }], outputs: ['y'], params, nodes });
}

export interface ChainLayerSpec {
  name: string;
  k: number;
  stride: number;
  pad: number;
  cout: number;
  act?: Activation;
  groups?: number;
  residual?: boolean;
}

/** A chain with seeded He-normal weights and small biases. */
export function seededChain(name: string, c: number, h: number, w: number, layers: ChainLayerSpec[], seed = 1): ConvChain {
  const rng = makeRng(seed);
  let cin = c;
  return {
    name,
    c,
    h,
    w,
    layers: layers.map((l) => {
      const groups = l.groups ?? 1;
      const fanIn = (cin / groups) * l.k * l.k;
      const wt = new Float32Array(l.cout * fanIn);
      for (let i = 0; i < wt.length; i++) wt[i] = rng.normal() * Math.sqrt(2 / fanIn);
      const b = new Float32Array(l.cout);
      for (let i = 0; i < b.length; i++) b[i] = rng.normal() * 0.1;
      cin = l.cout;
      return {
        name: l.name,
        k: l.k,
        stride: l.stride,
        pad: l.pad,
        cout: l.cout,
        act: l.act ?? 'relu',
        ...(groups !== 1 ? { groups } : {}),
        ...(l.residual ? { residual: true } : {}),
        w: wt,
        b,
      };
    }),
  };
}

/** The chain's parameters by graph name (`<layer>.w`, `<layer>.b`). */
export function chainParams(chain: ConvChain): Record<string, ArrayLike<number>> {
  const params: Record<string, ArrayLike<number>> = {};
  for (const l of chain.layers) {
    params[`${l.name}.w`] = l.w;
    params[`${l.name}.b`] = l.b;
  }
  return params;
}

/**
 * The float64 reference of the chain on input `x` and the allowance each output element is held to
 * (reference/layer-tolerance.ts carried through the layers; a residual layer adds |x| to its bound and one rounding).
 */
export function chainReference(chain: ConvChain, x: Float32Array): { ref: Float64Array; allow: Float64Array } {
  const ev = evaluateGraph(chainGraph(chain), { x }, chainParams(chain));
  const dims = chainDims(chain);
  let allow: Float64Array | undefined;
  chain.layers.forEach((l, i) => {
    const d = dims[i]!;
    const groups = l.groups ?? 1;
    const convOut = l.act === 'none' && !l.residual ? (i === chain.layers.length - 1 ? 'y' : l.name) : `${l.name}.conv`;
    const abs = Float64Array.from(ev.absBound.get(convOut)!);
    if (l.residual) for (let j = 0; j < abs.length; j++) abs[j]! += Math.abs(x[j]!);
    const n = (d.cin / groups) * l.k * l.k + 1 + (l.residual ? 1 : 0);
    allow = convAllowance(convGeometry(d.cin, d.hin, d.win, l.cout, l.k, l.stride, l.pad, groups), l.w, abs, n, allow);
  });
  return { ref: ev.values.get('y')!, allow: allow! };
}

const conv3 = (name: string, cout: number, stride = 1): ChainLayerSpec => ({ name, k: 3, stride, pad: 1, cout });

/**
 * The measured chains: VGG-16 conv3_1..3_3 at 56x56; a ResNet-18/34 basic block at 56x56 (3x3, ReLU, 3x3, the
 * shortcut added in the second conv's epilogue, ReLU); a MobileNet v2 inverted residual block at 56x56 (1x1
 * expand x6, ReLU6; depthwise 3x3, ReLU6; 1x1 project, linear, shortcut); and a 3-layer 3x3 chain at 112x112
 * whose intermediates (3.2 MB each) exceed any L2 here or on a Raspberry Pi.
 */
export const MEASURED_CHAINS = {
  vgg16_conv3: (seed = 1) => seededChain('vgg16-conv3_1-3_3', 128, 56, 56, [conv3('conv3_1', 256), conv3('conv3_2', 256), conv3('conv3_3', 256)], seed),
  resnet_basic: (seed = 1) => seededChain('resnet18-conv2_x-basic-block', 64, 56, 56, [conv3('conv1', 64), { ...conv3('conv2', 64), residual: true }], seed),
  mobilenet_v2_block: (seed = 1) =>
    seededChain(
      'mobilenet_v2-block3-inverted-residual',
      24,
      56,
      56,
      [
        { name: 'expand', k: 1, stride: 1, pad: 0, cout: 144, act: 'relu6' },
        { name: 'dw', k: 3, stride: 1, pad: 1, cout: 144, act: 'relu6', groups: 144 },
        { name: 'project', k: 1, stride: 1, pad: 0, cout: 24, act: 'none', residual: true },
      ],
      seed,
    ),
  chain112: (seed = 1) => seededChain('3x3-chain-112', 32, 112, 112, [conv3('c1', 64), conv3('c2', 64), conv3('c3', 64)], seed),
  /** Small and awkward (odd sizes, stride 2 inside the chain, ReLU6, tiles that do not divide the output): --quick runs only. */
  awkward_odd: (seed = 1) => seededChain('odd-27x23-stride2-inside', 3, 27, 23, [conv3('a', 5), conv3('b', 7, 2), { ...conv3('c', 4), act: 'relu6' }], seed),
};
