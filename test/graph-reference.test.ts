/**
 * The float64 graph reference, operator by operator, against small graphs
 * computed by hand; then whole graphs (every tensor kept, the conv node against
 * conv2dRef, seeded parameters).
 */
import { describe, expect, it } from 'vitest';
import { convCaseGraph, type Graph } from '../core/graph.js';
import { conv2dRef } from '../reference/conv.js';
import { evaluateGraph } from '../reference/graph.js';
import { makeGraphInputs, makeGraphParams, makeParam } from '../reference/graph-init.js';
import { makeConvInputs } from '../reference/random.js';
import { iota, oneNode } from './helpers/graphs.js';

/** Evaluate a one-node graph and return y as a plain array. */
function run(t: ReturnType<typeof oneNode>): number[] {
  const r = evaluateGraph(t.graph, t.inputs, t.params);
  return [...r.values.get('y')!];
}

const conv = (extra: Partial<{ stride: [number, number]; pads: [number, number, number, number]; dilation: [number, number]; groups: number }> = {}) => ({
  stride: [1, 1] as [number, number],
  pads: [0, 0, 0, 0] as [number, number, number, number],
  dilation: [1, 1] as [number, number],
  groups: 1,
  ...extra,
});

describe('graph reference: each operator on a hand-computed case', () => {
  // x = 1..9 as a 3x3 image; w = [[1, 0], [0, 1]]: y[i][j] = x[i][j] + x[i+1][j+1]
  const x33: [number[], number[]] = [[1, 1, 3, 3], iota(9)];
  const diag: [number[], number[]] = [
    [1, 1, 2, 2],
    [1, 0, 0, 1],
  ];

  it('conv: valid, bias, asymmetric pads, dilation, per-axis stride, groups', () => {
    expect(run(oneNode('conv', conv(), [x33], [diag]))).toEqual([6, 8, 12, 14]);
    expect(run(oneNode('conv', conv(), [x33], [diag, [[1], [10]]]))).toEqual([16, 18, 22, 24]);
    // pads [top 0, left 0, bottom 1, right 1]: a 3x3 output, zeros past the bottom and right edges
    expect(run(oneNode('conv', conv({ pads: [0, 0, 1, 1] }), [x33], [diag]))).toEqual([6, 8, 3, 12, 14, 6, 7, 8, 9]);
    // pads on the top and left instead: the window reads zeros above and left
    expect(run(oneNode('conv', conv({ pads: [1, 1, 0, 0] }), [x33], [diag]))).toEqual([1, 2, 3, 4, 6, 8, 7, 12, 14]);
    // dilation 2: the 2x2 kernel spans 3x3: x[0][0] + x[2][2]
    expect(run(oneNode('conv', conv({ dilation: [2, 2] }), [x33], [diag]))).toEqual([10]);
    // stride [1, 2] with a 1x1 kernel of 2: every row, every other column
    expect(run(oneNode('conv', conv({ stride: [1, 2] }), [x33], [[[1, 1, 1, 1], [2]]]))).toEqual([2, 6, 8, 12, 14, 18]);
    // groups 2 on 2 channels: channel 0 times 1, channel 1 times -1
    expect(
      run(
        oneNode(
          'conv',
          conv({ groups: 2 }),
          [
            [
              [1, 2, 1, 2],
              [1, 2, 3, 4],
            ],
          ],
          [
            [
              [2, 1, 1, 1],
              [1, -1],
            ],
          ],
        ),
      ),
    ).toEqual([1, 2, -3, -4]);
    // 2 input channels summed by one output channel, batch of 2
    expect(
      run(
        oneNode(
          'conv',
          conv(),
          [
            [
              [2, 2, 1, 1],
              [1, 2, 3, 4],
            ],
          ],
          [
            [
              [1, 2, 1, 1],
              [10, 1],
            ],
          ],
        ),
      ),
    ).toEqual([12, 34]);
  });

  it('gemm: y = x w^T + b', () => {
    expect(
      run(
        oneNode(
          'gemm',
          {},
          [
            [
              [1, 3],
              [1, 2, 3],
            ],
          ],
          [
            [
              [2, 3],
              [1, 0, -1, 2, 2, 2],
            ],
            [[2], [0.5, -1]],
          ],
        ),
      ),
    ).toEqual([-1.5, 11]);
    expect(
      run(
        oneNode(
          'gemm',
          {},
          [
            [
              [2, 2],
              [1, 2, 3, 4],
            ],
          ],
          [
            [
              [1, 2],
              [1, 1],
            ],
          ],
        ),
      ),
    ).toEqual([3, 7]);
  });

  it('bias: per channel', () => {
    expect(
      run(
        oneNode(
          'bias',
          {},
          [
            [
              [1, 2, 1, 2],
              [1, 2, 3, 4],
            ],
          ],
          [[[2], [10, 20]]],
        ),
      ),
    ).toEqual([11, 12, 23, 24]);
    expect(
      run(
        oneNode(
          'bias',
          {},
          [
            [
              [2, 2],
              [1, 2, 3, 4],
            ],
          ],
          [[[2], [10, 20]]],
        ),
      ),
    ).toEqual([11, 22, 13, 24]);
  });

  it('batchnorm: (x - mean) / sqrt(var + eps) * scale + shift', () => {
    const t = oneNode(
      'batchnorm',
      { eps: 1 },
      [
        [
          [1, 2, 1, 1],
          [3, 5],
        ],
      ],
      [
        [[2], [2, 1]],
        [[2], [1, 0]],
        [[2], [1, 5]],
        [[2], [3, 15]],
      ],
    );
    expect(run(t)).toEqual([3, 0]);
  });

  it('relu and relu6 (NaN stays NaN)', () => {
    expect(
      run(
        oneNode('relu', {}, [
          [
            [1, 4],
            [-1, 0, 2, Number.NaN],
          ],
        ]),
      ),
    ).toEqual([0, 0, 2, Number.NaN]);
    expect(
      run(
        oneNode('relu6', {}, [
          [
            [1, 4],
            [-1, 3, 7, Number.NaN],
          ],
        ]),
      ),
    ).toEqual([0, 3, 6, Number.NaN]);
  });

  const x44: [number[], number[]] = [[1, 1, 4, 4], iota(16)];
  const x55: [number[], number[]] = [[1, 1, 5, 5], iota(25)];
  const pool = (k: number, s: number, p = 0, ceil = false) => ({
    kernel: [k, k] as [number, number],
    stride: [s, s] as [number, number],
    pads: [p, p, p, p] as [number, number, number, number],
    ceil,
  });

  it('maxpool: plain, padded (padding never wins), ceil mode', () => {
    expect(run(oneNode('maxpool', pool(2, 2), [x44]))).toEqual([6, 8, 14, 16]);
    expect(run(oneNode('maxpool', pool(3, 2, 1), [x44]))).toEqual([6, 8, 14, 16]);
    // negative values and padding: the max of the real elements, not 0
    expect(
      run(
        oneNode('maxpool', pool(3, 2, 1), [
          [
            [1, 1, 2, 2],
            [-4, -3, -2, -1],
          ],
        ]),
      ),
    ).toEqual([-1]);
    expect(run(oneNode('maxpool', pool(2, 2, 0, true), [x55]))).toEqual([7, 9, 10, 17, 19, 20, 22, 24, 25]);
  });

  it('avgpool: plain, count_include_pad on and off, ceil-mode windows past the input', () => {
    expect(run(oneNode('avgpool', { ...pool(2, 2), countIncludePad: true }, [x44]))).toEqual([3.5, 5.5, 11.5, 13.5]);
    // top-left window of a 3x3 pool with pad 1: elements 1, 2, 5, 6 (sum 14) of 9 padded positions
    const incl = run(oneNode('avgpool', { ...pool(3, 2, 1), countIncludePad: true }, [x44]));
    const excl = run(oneNode('avgpool', { ...pool(3, 2, 1), countIncludePad: false }, [x44]));
    expect(incl[0]).toBeCloseTo(14 / 9, 15);
    expect(excl[0]).toBe(3.5);
    // bottom-right window rows 1..3, cols 1..3: 6+7+8+10+11+12+14+15+16 = 99 over 9 positions, all real
    expect(incl[3]).toBe(11);
    expect(excl[3]).toBe(11);
    // ceil mode: the last windows hang past the 5x5 input (no padding): never counted
    expect(run(oneNode('avgpool', { ...pool(2, 2, 0, true), countIncludePad: true }, [x55]))).toEqual([4, 6, 7.5, 14, 16, 17.5, 21.5, 23.5, 25]);
  });

  it('globalavgpool: the mean of each plane', () => {
    expect(
      run(
        oneNode('globalavgpool', {}, [
          [
            [1, 2, 2, 2],
            [1, 2, 3, 4, 10, 20, 30, 40],
          ],
        ]),
      ),
    ).toEqual([2.5, 25]);
  });

  it('add', () => {
    expect(
      run(
        oneNode('add', {}, [
          [
            [1, 2],
            [1, 2],
          ],
          [
            [1, 2],
            [3, -5],
          ],
        ]),
      ),
    ).toEqual([4, -3]);
  });

  it('concat: along channels, per image', () => {
    const t = oneNode('concat', { axis: 1 }, [
      [
        [2, 1, 1, 2],
        [1, 2, 3, 4],
      ],
      [[2, 2, 1, 2], iota(8, 5)],
    ]);
    expect(run(t)).toEqual([1, 2, 5, 6, 7, 8, 3, 4, 9, 10, 11, 12]);
    expect(evaluateGraph(t.graph, t.inputs, t.params).shapes.get('y')).toEqual([2, 3, 1, 2]);
  });

  it('channelshuffle: output channel j*g + i is input channel i*(C/g) + j', () => {
    expect(
      run(
        oneNode('channelshuffle', { groups: 2 }, [
          [
            [1, 6, 1, 1],
            [0, 1, 2, 3, 4, 5],
          ],
        ]),
      ),
    ).toEqual([0, 3, 1, 4, 2, 5]);
    expect(
      run(
        oneNode('channelshuffle', { groups: 3 }, [
          [
            [1, 6, 1, 1],
            [0, 1, 2, 3, 4, 5],
          ],
        ]),
      ),
    ).toEqual([0, 2, 4, 1, 3, 5]);
    // planes move whole
    expect(
      run(
        oneNode('channelshuffle', { groups: 2 }, [
          [
            [1, 2, 1, 2],
            [1, 2, 3, 4],
          ],
        ]),
      ),
    ).toEqual([1, 2, 3, 4]);
  });

  it('flatten and reshape: the same values, new shapes', () => {
    const f = oneNode('flatten', {}, [
      [
        [1, 2, 1, 2],
        [1, 2, 3, 4],
      ],
    ]);
    expect(run(f)).toEqual([1, 2, 3, 4]);
    expect(evaluateGraph(f.graph, f.inputs, f.params).shapes.get('y')).toEqual([1, 4]);
    const r = oneNode('reshape', { shape: [2, -1] }, [
      [
        [1, 4],
        [1, 2, 3, 4],
      ],
    ]);
    expect(run(r)).toEqual([1, 2, 3, 4]);
    expect(evaluateGraph(r.graph, r.inputs, r.params).shapes.get('y')).toEqual([2, 2]);
  });

  it('softmax: along the axis, stable for large inputs', () => {
    const s = run(
      oneNode('softmax', { axis: 1 }, [
        [
          [1, 3],
          [1, 2, 3],
        ],
      ]),
    );
    const z = Math.exp(-2) + Math.exp(-1) + 1;
    expect(s[0]).toBeCloseTo(Math.exp(-2) / z, 15);
    expect(s[1]).toBeCloseTo(Math.exp(-1) / z, 15);
    expect(s[2]).toBeCloseTo(1 / z, 15);
    // axis 1 of [1, 2, 2]: pairs (x[0], x[2]) and (x[1], x[3])
    const t = run(
      oneNode('softmax', { axis: 1 }, [
        [
          [1, 2, 2],
          [0, 1, 0, 3],
        ],
      ]),
    );
    expect(t[0]).toBe(0.5);
    expect(t[2]).toBe(0.5);
    expect(t[1]).toBeCloseTo(1 / (1 + Math.exp(2)), 15);
    expect(t[3]).toBeCloseTo(Math.exp(2) / (1 + Math.exp(2)), 15);
    expect(
      run(
        oneNode('softmax', { axis: 1 }, [
          [
            [1, 2],
            [1000, 1000],
          ],
        ]),
      ),
    ).toEqual([0.5, 0.5]);
  });
});

describe('evaluateGraph on whole graphs', () => {
  it('a residual chain by hand: relu(x + conv1x1(x)), every tensor kept', () => {
    const g: Graph = {
      name: 'res',
      inputs: [{ name: 'x', shape: [1, 1, 1, 3] }],
      outputs: ['out'],
      params: { w: { shape: [1, 1, 1, 1], init: { kind: 'data' } } },
      nodes: [
        { name: 'c', op: 'conv', inputs: ['x'], params: ['w'], outputs: ['c'], attrs: conv() },
        { name: 'sum', op: 'add', inputs: ['x', 'c'], params: [], outputs: ['s'], attrs: {} },
        { name: 'act', op: 'relu', inputs: ['s'], params: [], outputs: ['out'], attrs: {} },
      ],
    };
    const r = evaluateGraph(g, { x: [1, -2, 0.5] }, { w: [2] });
    expect([...r.values.get('c')!]).toEqual([2, -4, 1]);
    expect([...r.values.get('s')!]).toEqual([3, -6, 1.5]);
    expect([...r.values.get('out')!]).toEqual([3, 0, 1.5]);
    expect([...r.values.keys()]).toEqual(['x', 'c', 's', 'out']);
    expect([...r.absBound.get('c')!]).toEqual([2, 4, 1]);
  });

  it('a conv case graph gives conv2dRef exactly (same loop, same order)', () => {
    const s = { n: 2, c: 6, h: 9, w: 7, k: 8, r: 3, s: 3, stride: 2, pad: 1, groups: 2 };
    const g = convCaseGraph(s);
    const { x, w } = makeConvInputs(s, 5, 'uniform(-1,1)');
    const r = evaluateGraph(g, { x }, { w });
    const ref = conv2dRef(s, x, w);
    expect(r.values.get('y')).toEqual(ref.y);
    expect(r.absBound.get('y')).toEqual(ref.absBound);
  });

  it('names the tensor that is missing or has the wrong size', () => {
    const t = oneNode('relu', {}, [
      [
        [1, 3],
        [1, 2, 3],
      ],
    ]);
    expect(() => evaluateGraph(t.graph, new Map(), t.params)).toThrow(/no values for input "x0"/);
    expect(() => evaluateGraph(t.graph, { x0: [1, 2] }, t.params)).toThrow(/input "x0" has 2 values, its shape \[1, 3\] needs 3/);
    const b = oneNode(
      'bias',
      {},
      [
        [
          [1, 2],
          [1, 2],
        ],
      ],
      [[[2], [1, 2]]],
    );
    expect(() => evaluateGraph(b.graph, b.inputs, { p0: [1] })).toThrow(/parameter "p0" has 1 values/);
  });
});

describe('seeded parameters and inputs', () => {
  const g: Graph = {
    name: 'init',
    inputs: [{ name: 'x', shape: [1, 4, 2, 2] }],
    outputs: ['y'],
    params: {
      w: { shape: [6, 4, 1, 1], init: { kind: 'he', fanIn: 4 } },
      b: { shape: [6], init: { kind: 'zeros' } },
      scale: { shape: [6], init: { kind: 'ones' } },
      shift: { shape: [6], init: { kind: 'uniform', lo: -0.1, hi: 0.1 } },
      mean: { shape: [6], init: { kind: 'bn-mean' } },
      var: { shape: [6], init: { kind: 'bn-var' } },
    },
    nodes: [
      { name: 'c', op: 'conv', inputs: ['x'], params: ['w', 'b'], outputs: ['c'], attrs: conv() },
      { name: 'bn', op: 'batchnorm', inputs: ['c'], params: ['scale', 'shift', 'mean', 'var'], outputs: ['y'], attrs: { eps: 1e-5 } },
    ],
  };

  it('each init kind draws what it says, reproducibly, one stream per name', () => {
    const p = makeGraphParams(g, 7);
    expect([...p.get('b')!]).toEqual([0, 0, 0, 0, 0, 0]);
    expect([...p.get('scale')!]).toEqual([1, 1, 1, 1, 1, 1]);
    for (const v of p.get('shift')!) expect(v >= -0.1 && v < 0.1).toBe(true);
    for (const v of p.get('var')!) expect(v >= 0.5 && v < 1.5).toBe(true);
    for (const v of p.get('mean')!) expect(Math.abs(v)).toBeLessThan(0.6);
    expect(makeGraphParams(g, 7).get('w')).toEqual(p.get('w'));
    expect(makeGraphParams(g, 8).get('w')).not.toEqual(p.get('w'));
    // the same name and init in another graph gives the same bytes
    expect(makeParam('w', g.params.w!, 7)).toEqual(p.get('w'));
    // He: per-channel spread around sqrt(2 / fanIn)
    const w = p.get('w')!;
    const rms = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
    expect(rms).toBeGreaterThan(0.3);
    expect(rms).toBeLessThan(1.6);
    const xs = makeGraphInputs(g, 7, 'uniform(0,1)').get('x')!;
    expect(xs.length).toBe(16);
    for (const v of xs) expect(v >= 0 && v < 1).toBe(true);
  });

  it('data parameters come from the caller, checked', () => {
    const d: Graph = { ...g, params: { ...g.params, w: { shape: [6, 4, 1, 1], init: { kind: 'data' } } } };
    expect(() => makeGraphParams(d, 1)).toThrow(/need data that was not given: w/);
    expect(() => makeGraphParams(d, 1, new Map([['w', new Float32Array(5)]]))).toThrow(/"w" has 5 values, its shape \[6, 4, 1, 1\] needs 24/);
    const given = new Float32Array(24).fill(0.5);
    expect(makeGraphParams(d, 1, new Map([['w', given]])).get('w')).toBe(given);
    const r = evaluateGraph(d, makeGraphInputs(d, 1, 'uniform(-1,1)'), makeGraphParams(d, 1, new Map([['w', given]])));
    expect(r.values.get('y')!.length).toBe(24);
  });
});
