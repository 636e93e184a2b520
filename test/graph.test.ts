/**
 * The graph contract (core/graph.ts): the schema, shape inference and its
 * errors (each names the graph and the node), conv nodes as the conv suite's
 * ConvShape, and the conv suite's cases as one-node graphs.
 */
import { describe, expect, it } from 'vitest';
import { convCaseGraph, convShapeOfNode, Graph, GraphError, inferShapes, OPS, parseGraph, type GraphNode } from '../core/graph.js';
import { convOutputSize } from '../reference/conv.js';
import { suites } from '../suites/index.js';

const attrs = { stride: [1, 1] as [number, number], pads: [1, 1, 1, 1] as [number, number, number, number], dilation: [1, 1] as [number, number], groups: 1 };

/** conv (3 -> 8, 3x3) -> relu, on a 1x3x8x8 input. */
function small(): Graph {
  return {
    name: 'small',
    inputs: [{ name: 'x', shape: [1, 3, 8, 8] }],
    outputs: ['r'],
    params: { w: { shape: [8, 3, 3, 3], init: { kind: 'he', fanIn: 27 } }, b: { shape: [8], init: { kind: 'zeros' } } },
    nodes: [
      { name: 'conv', op: 'conv', inputs: ['x'], params: ['w', 'b'], outputs: ['c'], attrs },
      { name: 'act', op: 'relu', inputs: ['c'], params: [], outputs: ['r'], attrs: {} },
    ],
  };
}

/** small() with one change applied. */
function broken(change: (g: Graph) => void): Graph {
  const g = structuredClone(small());
  change(g);
  return g;
}

describe('graph schema', () => {
  it('lists every operator of the design', () => {
    expect([...OPS].sort()).toEqual(
      [
        'add',
        'avgpool',
        'batchnorm',
        'bias',
        'channelshuffle',
        'concat',
        'conv',
        'flatten',
        'gemm',
        'globalavgpool',
        'maxpool',
        'relu',
        'relu6',
        'reshape',
        'softmax',
      ].sort(),
    );
  });

  it('accepts a valid graph and rejects unknown operators, attributes and init kinds, naming where', () => {
    expect(parseGraph(small())).toEqual(small());
    const unknownOp = broken((g) => ((g.nodes[1] as { op: string }).op = 'gelu'));
    expect(() => parseGraph(unknownOp)).toThrow(/graph "small" does not match the graph schema at \.nodes\[1\]\.op/);
    const extraAttr = broken((g) => ((g.nodes[0]!.attrs as Record<string, unknown>).padding = 'same'));
    expect(() => parseGraph(extraAttr)).toThrow(/\.nodes\[0\]\.attrs/);
    const badInit = broken((g) => ((g.params.w!.init as { kind: string }).kind = 'xavier'));
    expect(() => parseGraph(badInit)).toThrow(/\.params\.w\.init/);
    const twoOutputs = broken((g) => (g.nodes[1]!.outputs as string[]).push('r2'));
    expect(() => parseGraph(twoOutputs)).toThrow(/\.nodes\[1\]\.outputs/);
    expect(Graph.safeParse({ ...small(), nodes: [] }).success).toBe(false);
  });
});

describe('inferShapes', () => {
  it('gives every tensor its shape', () => {
    const s = inferShapes(small());
    expect(Object.fromEntries(s)).toEqual({ x: [1, 3, 8, 8], w: [8, 3, 3, 3], b: [8], c: [1, 8, 8, 8], r: [1, 8, 8, 8] });
  });

  const cases: [string, (g: Graph) => void, RegExp][] = [
    [
      'nodes out of topological order',
      (g) => g.nodes.reverse(),
      /node 0 "act" \(relu\): input "c" is produced by node 1 "conv", listed after this one: list nodes in topological order/,
    ],
    [
      'an unknown input',
      (g) => (g.nodes[1]!.inputs[0] = 'nope'),
      /node 1 "act" \(relu\): input "nope" is not a graph input, a parameter or the output of an earlier node/,
    ],
    ['a parameter read as an input', (g) => (g.nodes[1]!.inputs[0] = 'w'), /input "w" is a parameter: list it under params/],
    ['an activation given as a parameter', (g) => (g.nodes[0]!.params[1] = 'x'), /parameter "x" is a graph input, not a parameter/],
    ['a missing parameter', (g) => (g.nodes[0]!.params[1] = 'bias'), /parameter "bias" is not in the graph's params/],
    ['too many parameters', (g) => (g.nodes[1]!.params = ['b']), /node 1 "act" \(relu\): takes no parameters, got 1/],
    [
      'a weight of the wrong shape',
      (g) => (g.params.w!.shape = [8, 4, 3, 3]),
      /node 0 "conv" \(conv\): parameter "w" \(w\) has shape \[8, 4, 3, 3\], expected \[8, 3, 3, 3\]/,
    ],
    ['a bias of the wrong shape', (g) => (g.params.b!.shape = [4]), /parameter "b" \(b\) has shape \[4\], expected \[8\] \(one bias per output channel\)/],
    [
      'groups that do not divide the channels',
      (g) => ((g.nodes[0] as Extract<GraphNode, { op: 'conv' }>).attrs.groups = 2),
      /input channels 3 and output channels 8 must both be divisible by groups = 2/,
    ],
    [
      'a kernel larger than the input',
      (g) => {
        g.inputs[0]!.shape = [1, 3, 1, 1];
        (g.nodes[0] as Extract<GraphNode, { op: 'conv' }>).attrs.pads = [0, 0, 0, 0];
      },
      /output size -1x-1 < 1|output size 0x0 < 1/,
    ],
    ['a duplicate node name', (g) => (g.nodes[1]!.name = 'conv'), /node 1 "conv" \(relu\): the node name is already used by node 0/],
    ['an output defined twice', (g) => (g.nodes[1]!.outputs[0] = 'c'), /output "c" is already defined \(as a node output\)/],
    ['an output named like an input', (g) => (g.nodes[1]!.outputs[0] = 'x'), /output "x" is already defined \(as a graph input\)/],
    ['an unknown graph output', (g) => (g.outputs = ['out']), /graph "small": graph output "out" is not a tensor of the graph/],
    ['an unused parameter', (g) => (g.params.extra = { shape: [1], init: { kind: 'zeros' } }), /parameter\(s\) not used by any node: extra/],
    ['uniform with lo >= hi', (g) => (g.params.b!.init = { kind: 'uniform', lo: 1, hi: 1 }), /init uniform needs lo < hi/],
  ];
  for (const [why, change, message] of cases) {
    it(`rejects ${why}`, () => {
      const g = broken(change);
      expect(() => inferShapes(g)).toThrow(message);
      try {
        inferShapes(g);
      } catch (e) {
        expect(e).toBeInstanceOf(GraphError);
        expect((e as GraphError).graph).toBe('small');
      }
    });
  }

  it('operator rules: add shapes, concat axes, pools, gemm rank, reshape sizes, shuffle groups, softmax axis', () => {
    const one = (node: Partial<GraphNode> & { op: GraphNode['op'] }, inputs: [string, number[]][], params: Record<string, number[]> = {}): Graph => ({
      name: 'rule',
      inputs: inputs.map(([name, shape]) => ({ name, shape })),
      outputs: ['y'],
      params: Object.fromEntries(Object.entries(params).map(([k, s]) => [k, { shape: s, init: { kind: 'zeros' as const } }])),
      nodes: [{ name: 'n', inputs: inputs.map(([n]) => n), params: Object.keys(params), outputs: ['y'], attrs: {}, ...node } as GraphNode],
    });
    expect(() =>
      inferShapes(
        one({ op: 'add' }, [
          ['a', [1, 2]],
          ['b', [1, 3]],
        ]),
      ),
    ).toThrow(/differ in shape \(add does not broadcast\)/);
    expect(() =>
      inferShapes(
        one({ op: 'concat', attrs: { axis: 1 } }, [
          ['a', [1, 2, 3, 3]],
          ['b', [1, 2, 4, 3]],
        ]),
      ),
    ).toThrow(/does not match "a" \[1, 2, 3, 3\] outside axis 1/);
    const pool = {
      kernel: [2, 2] as [number, number],
      stride: [2, 2] as [number, number],
      pads: [2, 0, 0, 0] as [number, number, number, number],
      ceil: false,
    };
    expect(() => inferShapes(one({ op: 'maxpool', attrs: pool }, [['a', [1, 1, 4, 4]]]))).toThrow(/pads \[2, 0, 0, 0\] must each be smaller than the kernel/);
    expect(() => inferShapes(one({ op: 'gemm' }, [['a', [1, 2, 2, 2]]], { w: [3, 8] }))).toThrow(/gemm needs N F \(flatten first\)/);
    expect(() => inferShapes(one({ op: 'gemm' }, [['a', [1, 8]]], { w: [3, 7] }))).toThrow(/expected \[3, 8\] \(K F with F = 8/);
    expect(() => inferShapes(one({ op: 'reshape', attrs: { shape: [3, -1] } }, [['a', [1, 8]]]))).toThrow(
      /cannot reshape "a" \[1, 8\] \(8 elements\) to \[3, -1\]/,
    );
    expect(() => inferShapes(one({ op: 'reshape', attrs: { shape: [-1, -1] } }, [['a', [1, 8]]]))).toThrow(/at most one -1/);
    expect(() => inferShapes(one({ op: 'channelshuffle', attrs: { groups: 3 } }, [['a', [1, 8, 2, 2]]]))).toThrow(/channels 8 are not divisible by groups = 3/);
    expect(() => inferShapes(one({ op: 'softmax', attrs: { axis: 2 } }, [['a', [1, 8]]]))).toThrow(/axis 2 is out of range/);
    expect(() => inferShapes(one({ op: 'add' }, [['a', [1, 2]]]))).toThrow(/takes 2 input\(s\), got 1/);
    expect(() => inferShapes(one({ op: 'batchnorm', attrs: { eps: 1e-5 } }, [['a', [1, 2]]], { s: [2], t: [2], m: [2] }))).toThrow(
      /takes parameters \[scale, shift, mean, var\], got 3/,
    );
    // ceil mode: one more window, but never one that starts past the input
    const ceil = { kernel: [2, 2] as [number, number], stride: [2, 2] as [number, number], pads: [0, 0, 0, 0] as [number, number, number, number], ceil: true };
    expect(inferShapes(one({ op: 'maxpool', attrs: ceil }, [['a', [1, 1, 5, 5]]])).get('y')).toEqual([1, 1, 3, 3]);
    expect(inferShapes(one({ op: 'maxpool', attrs: { ...ceil, kernel: [3, 3], pads: [1, 1, 1, 1] } }, [['a', [1, 1, 4, 4]]])).get('y')).toEqual([1, 1, 3, 3]);
    expect(inferShapes(one({ op: 'maxpool', attrs: { ...ceil, kernel: [1, 1] } }, [['a', [1, 1, 4, 4]]])).get('y')).toEqual([1, 1, 2, 2]);
  });
});

describe('conv nodes and the conv suite', () => {
  it('convShapeOfNode: the ConvShape of a symmetric conv; the reason otherwise', () => {
    const g = small();
    const shapes = inferShapes(g);
    expect(convShapeOfNode(g.nodes[0]!, shapes)).toEqual({
      ok: true,
      shape: { n: 1, c: 3, h: 8, w: 8, k: 8, r: 3, s: 3, stride: 1, pad: 1, groups: 1 },
      bias: true,
    });
    expect(convShapeOfNode(g.nodes[1]!, shapes)).toMatchObject({ ok: false, reason: expect.stringMatching(/is a relu, not a conv/) });
    const conv = (a: Partial<typeof attrs>) => ({ ...g.nodes[0]!, attrs: { ...attrs, ...a } }) as GraphNode;
    expect(convShapeOfNode(conv({ pads: [0, 0, 1, 1] }), shapes)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/pads \[0, 0, 1, 1\] are not symmetric/),
    });
    expect(convShapeOfNode(conv({ dilation: [2, 2] }), shapes)).toMatchObject({ ok: false, reason: expect.stringMatching(/dilation \[2, 2\]/) });
    expect(convShapeOfNode(conv({ stride: [1, 2] }), shapes)).toMatchObject({ ok: false, reason: expect.stringMatching(/stride \[1, 2\] differs/) });
  });

  it('every conv suite case (default and quick) is a one-node graph whose node gives its shape back', () => {
    const conv = suites.find((s) => s.name === 'conv')!;
    let n = 0;
    for (const quick of [false, true]) {
      for (const c of conv.cases({ quick, seed: 1, distribution: 'uniform(-1,1)' })) {
        const g = convCaseGraph(c.shape, c.id);
        const shapes = inferShapes(g);
        expect(g.nodes.length).toBe(1);
        expect(convShapeOfNode(g.nodes[0]!, shapes)).toEqual({ ok: true, shape: c.shape, bias: false });
        const { ho, wo } = convOutputSize(c.shape);
        expect(shapes.get('y')).toEqual([c.shape.n, c.shape.k, ho, wo]);
        n++;
      }
    }
    expect(n).toBeGreaterThan(10);
  });

  it('convCaseGraph names an invalid shape', () => {
    expect(() => convCaseGraph({ n: 1, c: 3, h: 8, w: 8, k: 4, r: 3, s: 3, stride: 1, pad: 1, groups: 2 }, 'bad')).toThrow(
      /graph "bad": node 0 "conv" \(conv\)/,
    );
  });
});
