/**
 * The counting rule per graph node (reference/graph-cost.ts): FLOPs and bytes of
 * every operator on hand-computed cases, the design's test vectors as graphs,
 * and the papers' counts (MACs, parameters by kind).
 */
import { describe, expect, it } from 'vitest';
import { convCaseGraph, inferShapes, type Graph, type GraphNode } from '../core/graph.js';
import type { ConvShape } from '../core/contracts.js';
import { convBytes, convFlops } from '../reference/cost.js';
import { graphCost, graphMacs, graphParamCounts, nodeCost } from '../reference/graph-cost.js';
import { oneNode } from './helpers/graphs.js';

/** Cost of the single node of a oneNode graph (values are irrelevant: zeros of the right length). */
function cost(op: GraphNode['op'], attrs: object, inputs: number[][], params: number[][] = [], bpe = 4) {
  const z = (s: number[]): [number[], number[]] => [s, []];
  const t = oneNode(op, attrs as never, inputs.map(z), params.map(z));
  const shapes = inferShapes(t.graph);
  return nodeCost(t.graph.nodes[0]!, shapes, bpe);
}

const convAttrs = (p = 0) => ({ stride: [1, 1], pads: [p, p, p, p], dilation: [1, 1], groups: 1 });
const poolAttrs = (k: number, s: number, p = 0) => ({ kernel: [k, k], stride: [s, s], pads: [p, p, p, p], ceil: false });

describe('counting rule: each operator by hand', () => {
  it('conv: 2 * N*K*Ho*Wo * C/g*R*S, + one add per output with a bias; bytes in + w (+ b) + out', () => {
    // x 1x2x5x5, w 4x2x3x3, pad 1 -> y 1x4x5x5 (100 elements)
    const c = cost('conv', convAttrs(1), [[1, 2, 5, 5]], [[4, 2, 3, 3]]);
    expect(c.macs).toBe(4 * 25 * 2 * 9);
    expect(c.flops).toBe(3600);
    expect(c.bytes).toBe((50 + 72 + 100) * 4);
    expect([c.inputBytes, c.paramBytes, c.outputBytes]).toEqual([200, 288, 400]);
    expect(c.params).toBe(72);
    const b = cost('conv', convAttrs(1), [[1, 2, 5, 5]], [[4, 2, 3, 3], [4]]);
    expect(b.flops).toBe(3700);
    expect(b.macs).toBe(1800);
    expect(b.bytes).toBe((50 + 72 + 4 + 100) * 4);
    // grouped, strided, asymmetric pads: x 1x4x6x6, groups 2, 3x3 stride 2, pads [0,0,1,1] -> 3x3 out
    const g = cost('conv', { stride: [2, 2], pads: [0, 0, 1, 1], dilation: [1, 1], groups: 2 }, [[1, 4, 6, 6]], [[6, 2, 3, 3]]);
    expect(g.macs).toBe(6 * 9 * 2 * 9);
    expect(g.bytes).toBe((144 + 108 + 54) * 4);
  });

  it('gemm: 2 * N*K*F (+ N*K with a bias)', () => {
    const c = cost('gemm', {}, [[2, 8]], [[3, 8], [3]]);
    expect(c.macs).toBe(48);
    expect(c.flops).toBe(102);
    expect(c.bytes).toBe((16 + 24 + 3 + 6) * 4);
    expect(cost('gemm', {}, [[2, 8]], [[3, 8]]).flops).toBe(96);
  });

  it('element-wise: bias E, batchnorm 2E, relu E, relu6 2E, add E, softmax 5E; bytes of every tensor', () => {
    const bias = cost('bias', {}, [[1, 3, 2, 2]], [[3]]);
    expect([bias.flops, bias.bytes, bias.macs]).toEqual([12, (12 + 3 + 12) * 4, 0]);
    const bn = cost('batchnorm', { eps: 1e-5 }, [[1, 3, 2, 2]], [[3], [3], [3], [3]]);
    expect([bn.flops, bn.bytes, bn.params]).toEqual([24, (12 + 12 + 12) * 4, 12]);
    expect([cost('relu', {}, [[1, 10]]).flops, cost('relu', {}, [[1, 10]]).bytes]).toEqual([10, 80]);
    expect([cost('relu6', {}, [[1, 10]]).flops, cost('relu6', {}, [[1, 10]]).bytes]).toEqual([20, 80]);
    const add = cost('add', {}, [
      [1, 5],
      [1, 5],
    ]);
    expect([add.flops, add.bytes]).toEqual([5, 60]);
    const sm = cost('softmax', { axis: 1 }, [[1, 10]]);
    expect([sm.flops, sm.bytes]).toEqual([50, 80]);
  });

  it('pooling: max kh*kw-1 compares, average kh*kw per output, global H*W per output', () => {
    const mp = cost('maxpool', poolAttrs(2, 2), [[1, 1, 4, 4]]);
    expect([mp.flops, mp.bytes]).toEqual([4 * 3, (16 + 4) * 4]);
    const ap = cost('avgpool', { ...poolAttrs(3, 2, 1), countIncludePad: true }, [[1, 1, 4, 4]]);
    expect([ap.flops, ap.bytes]).toEqual([4 * 9, (16 + 4) * 4]);
    const gap = cost('globalavgpool', {}, [[1, 2, 3, 3]]);
    expect([gap.flops, gap.bytes]).toEqual([18, (18 + 2) * 4]);
  });

  it('copies cost bytes and no FLOPs; views cost nothing', () => {
    const cat = cost('concat', { axis: 1 }, [
      [1, 2, 2, 2],
      [1, 3, 2, 2],
    ]);
    expect([cat.flops, cat.bytes]).toEqual([0, (8 + 12 + 20) * 4]);
    const sh = cost('channelshuffle', { groups: 3 }, [[1, 6, 2, 2]]);
    expect([sh.flops, sh.bytes]).toEqual([0, 48 * 4]);
    expect(cost('flatten', {}, [[1, 2, 2, 2]])).toMatchObject({ flops: 0, bytes: 0, intensity: 0 });
    expect(cost('reshape', { shape: [2, 4] }, [[1, 8]])).toMatchObject({ flops: 0, bytes: 0 });
  });

  it('bytes at the storage width; intensity = flops / bytes', () => {
    const c = cost('conv', convAttrs(1), [[1, 2, 5, 5]], [[4, 2, 3, 3]], 2);
    expect(c.bytes).toBe((50 + 72 + 100) * 2);
    expect(c.intensity).toBe(3600 / 444);
    expect(() => cost('relu', {}, [[1, 2]], [], 0)).toThrow(/bytesPerElement/);
  });
});

const c56 = (c: number, k: number, r: number): ConvShape => ({ n: 1, c, h: 56, w: 56, k, r, s: r, stride: 1, pad: (r - 1) / 2, groups: 1 });

describe("the design's test vectors as graphs", () => {
  it('plain 3x3 conv 256->256 at 56x56: 3.70 GFLOP, 8.78 MB, the same as reference/cost.ts', () => {
    const s = c56(256, 256, 3);
    const gc = graphCost(convCaseGraph(s));
    expect(gc.flops).toBe(3_699_376_128);
    expect(gc.bytes).toBe(8_781_824);
    expect(gc.flops).toBe(convFlops(s));
    expect(gc.bytes).toBe(convBytes(s));
    expect(gc.macs * 2).toBe(gc.flops);
  });

  it('bottleneck 1x1 256->64, 3x3 64->64, 1x1 64->256 as one graph: 0.437 GFLOP, 9.91 MB', () => {
    const node = (name: string, x: string, w: string, p: number): GraphNode => ({
      name,
      op: 'conv',
      inputs: [x],
      params: [w],
      outputs: [name],
      attrs: { stride: [1, 1], pads: [p, p, p, p], dilation: [1, 1], groups: 1 },
    });
    const g: Graph = {
      name: 'bottleneck',
      inputs: [{ name: 'x', shape: [1, 256, 56, 56] }],
      outputs: ['c3'],
      params: {
        w1: { shape: [64, 256, 1, 1], init: { kind: 'he', fanIn: 256 } },
        w2: { shape: [64, 64, 3, 3], init: { kind: 'he', fanIn: 576 } },
        w3: { shape: [256, 64, 1, 1], init: { kind: 'he', fanIn: 64 } },
      },
      nodes: [node('c1', 'x', 'w1', 0), node('c2', 'c1', 'w2', 1), node('c3', 'c2', 'w3', 0)],
    };
    const gc = graphCost(g);
    expect(gc.nodes.map((n) => n.flops)).toEqual([102_760_448, 231_211_008, 102_760_448]);
    expect(gc.flops).toBe(436_731_904);
    expect(gc.nodes.map((n) => n.bytes)).toEqual([4_079_616, 1_753_088, 4_079_616]);
    expect(gc.bytes).toBe(9_912_320);
    expect(gc.intensity).toBeCloseTo(44.0595, 3);
    expect(gc.params).toBe(64 * 256 + 64 * 64 * 9 + 256 * 64);
    expect(gc.paramBytes).toBe(gc.params * 4);
  });
});

describe("the papers' counts", () => {
  it('MACs of conv and fully-connected layers only; parameters by kind, each counted once', () => {
    const g: Graph = {
      name: 'tiny',
      inputs: [{ name: 'x', shape: [1, 3, 4, 4] }],
      outputs: ['fc'],
      params: {
        w: { shape: [2, 3, 3, 3], init: { kind: 'he', fanIn: 27 } },
        b: { shape: [2], init: { kind: 'zeros' } },
        sc: { shape: [2], init: { kind: 'ones' } },
        sh: { shape: [2], init: { kind: 'zeros' } },
        m: { shape: [2], init: { kind: 'bn-mean' } },
        v: { shape: [2], init: { kind: 'bn-var' } },
        fw: { shape: [5, 8], init: { kind: 'he', fanIn: 8 } },
        fb: { shape: [5], init: { kind: 'zeros' } },
      },
      nodes: [
        {
          name: 'c',
          op: 'conv',
          inputs: ['x'],
          params: ['w', 'b'],
          outputs: ['c'],
          attrs: { stride: [2, 2], pads: [1, 1, 1, 1], dilation: [1, 1], groups: 1 },
        },
        { name: 'bn', op: 'batchnorm', inputs: ['c'], params: ['sc', 'sh', 'm', 'v'], outputs: ['bn'], attrs: { eps: 1e-5 } },
        { name: 'r', op: 'relu', inputs: ['bn'], params: [], outputs: ['r'], attrs: {} },
        { name: 'f', op: 'flatten', inputs: ['r'], params: [], outputs: ['f'], attrs: {} },
        { name: 'fc', op: 'gemm', inputs: ['f'], params: ['fw', 'fb'], outputs: ['fc'], attrs: {} },
      ],
    };
    // conv: 2x2x2 outputs x 27; fc: 5 x 8
    expect(graphMacs(g)).toEqual({ conv: 8 * 27, fc: 40, total: 216 + 40 });
    expect(graphParamCounts(g)).toEqual({ convWeights: 54, fcWeights: 40, biases: 7, bnAffine: 4, bnStats: 4, total: 109 });
    const gc = graphCost(g);
    expect(gc.macs).toBe(256);
    expect(gc.params).toBe(109);
    // conv 2*216 + 8 (bias), bn 16, relu 8, flatten 0, fc 80 + 5
    expect(gc.flops).toBe(440 + 16 + 8 + 0 + 85);
  });
});
