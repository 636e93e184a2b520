/**
 * A conv chain as a graph (core/graph.ts): conv(w_i, b_i) [-> act] per layer, parameters `data`. Its float64
 * evaluation (reference/graph.ts) is the reference both schedules are checked against; phase 2 registers it as
 * a graph case. Also the chains the tiling measurements use. Payload-safe.
 */
import { parseGraph, type Graph, type GraphNode } from '../../core/graph.js';
import { makeRng } from '../../reference/random.js';
import type { Activation } from '../fusion/ops.js';
import type { ConvChain } from './executor.js';

/** The graph; the layer i's conv output is `<name>.conv` (absBound), its output (after act) `<name>`, the last is `y`. */
export function chainGraph(chain: ConvChain): Graph {
  const nodes: GraphNode[] = [];
  const params: Graph['params'] = {};
  let cin = chain.c;
  let prev = 'x';
  chain.layers.forEach((l, i) => {
    const out = i === chain.layers.length - 1 ? 'y' : l.name;
    params[`${l.name}.w`] = { shape: [l.cout, cin, l.k, l.k], init: { kind: 'data' } };
    params[`${l.name}.b`] = { shape: [l.cout], init: { kind: 'data' } };
    const convOut = l.act === 'none' ? out : `${l.name}.conv`;
    const attrs = {
      stride: [l.stride, l.stride] as [number, number],
      pads: [l.pad, l.pad, l.pad, l.pad] as [number, number, number, number],
      dilation: [1, 1] as [number, number],
      groups: 1,
    };
    nodes.push({ op: 'conv', name: `${l.name}.conv`, inputs: [prev], params: [`${l.name}.w`, `${l.name}.b`], outputs: [convOut], attrs });
    if (l.act !== 'none') nodes.push({ op: l.act, name: `${l.name}.act`, inputs: [convOut], params: [], outputs: [out], attrs: {} });
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
      const fanIn = cin * l.k * l.k;
      const wt = new Float32Array(l.cout * fanIn);
      for (let i = 0; i < wt.length; i++) wt[i] = rng.normal() * Math.sqrt(2 / fanIn);
      const b = new Float32Array(l.cout);
      for (let i = 0; i < b.length; i++) b[i] = rng.normal() * 0.1;
      cin = l.cout;
      return { name: l.name, k: l.k, stride: l.stride, pad: l.pad, cout: l.cout, act: l.act ?? 'relu', w: wt, b };
    }),
  };
}

const conv3 = (name: string, cout: number, stride = 1): ChainLayerSpec => ({ name, k: 3, stride, pad: 1, cout });

/** The measured chains: VGG-16 conv3_1..3_3 at 56x56, and a 3-layer 3x3 chain at 112x112 whose intermediates (3.2 MB each) exceed any L2 here or on a Raspberry Pi. */
export const MEASURED_CHAINS = {
  vgg16_conv3: () => seededChain('vgg16-conv3_1-3_3', 128, 56, 56, [conv3('conv3_1', 256), conv3('conv3_2', 256), conv3('conv3_3', 256)]),
  chain112: () => seededChain('3x3-chain-112', 32, 112, 112, [conv3('c1', 64), conv3('c2', 64), conv3('c3', 64)]),
};
