/**
 * The networks translated to tfjs ops for XNNPACK via tfjs-backend-wasm (suites/models/tfjs-graph.ts; the network
 * peer model-tfjs-xnnpack-f32). Unit tier: tfjs loaded in-process from node_modules (the same module the peers part
 * bundles, suites/conv/peers/libs.ts), on the wasm backend with its SIMD binary, initialised by the conv peer's own
 * initTfjsWasm. Each graph's tfjs output against reference/graph.ts's float64 forward pass: the every-op test net,
 * and small graphs for what a translation can get wrong (ceil pooling, unequal pads, countIncludePad both ways,
 * grouped convs of 2 and 3 groups, depthwise with a channel multiplier, dilation, channel shuffle, flatten and
 * reshape after NHWC, softmax on a non-last axis, batch norm folded and alone), each grouped conv in both of its
 * forms (split per group, one block-diagonal conv); networks as ONNX files (exported, imported as a user's file).
 * No tensor leaks across runs; injected faults (a wrong shuffle order, a kept intermediate) make the checks fail.
 */
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseGraph, type Graph, type GraphNode } from '../core/graph.js';
import type { TestFaults } from '../core/contracts.js';
import { evaluateGraph } from '../reference/graph.js';
import { makeGraphInputs, makeGraphParams } from '../reference/graph-init.js';
import { errorMetrics } from '../reference/metrics.js';
import { initTfjsWasm } from '../suites/conv/peers/tfjs-wasm.js';
import type { PeerLibs } from '../suites/conv/peers/load.js';
import { loadModelFile, loadZooModel } from '../suites/models/zoo.js';
import { exportOnnx, importOnnx } from '../core/onnx.js';
import { tfjsUntranslatable, translateGraph, type Tf, type TranslateOptions } from '../suites/models/tfjs-graph.js';

const EVERY_OP = fileURLToPath(new URL('./fixtures/every-op.yaml', import.meta.url));
const TFJS_WASM_DIR = fileURLToPath(new URL('../node_modules/@tensorflow/tfjs-backend-wasm/dist', import.meta.url));
/** Exact fp32 algorithms on small reductions: far below the network check's 1e-4 (suites/models/measure.ts). */
const REL_L2 = 1e-5;

let tf: Tf;
beforeAll(async () => {
  const libs = (await import('../suites/conv/peers/libs.js')) as PeerLibs;
  await initTfjsWasm(libs, TFJS_WASM_DIR);
  tf = libs.tf;
  expect(tf.getBackend()).toBe('wasm');
}, 60_000);

/** The translated graph's output against float64, after `runs` runs (the last one's output). */
function compare(g: Graph, seed = 3, faults?: Pick<TestFaults, 'tfjsShuffleOrder' | 'tfjsLeakTensor'>, runs = 1, opts: TranslateOptions = {}) {
  const params = makeGraphParams(g, seed);
  const inputs = makeGraphInputs(g, seed, 'uniform(-1,1)');
  const ref = evaluateGraph(g, inputs, params).values.get(g.outputs[0]!)!;
  const net = translateGraph(tf, g, params, inputs, faults, opts);
  try {
    const counts: number[] = [];
    for (let i = 0; i < runs; i++) {
      net.run();
      counts.push(tf.memory().numTensors);
    }
    const y = net.output();
    expect(y.length).toBe(ref.length);
    return { m: errorMetrics(y, ref), counts, note: net.note };
  } finally {
    net.dispose();
  }
}

type NodeSpec = { op: GraphNode['op']; attrs?: object; inputs?: string[]; params?: [string, number[], object][] };

/** A chain of nodes (each reads the previous output unless it says otherwise) over input x [shape]. */
function chain(name: string, shape: number[], nodes: NodeSpec[]): Graph {
  const params: Graph['params'] = {};
  let prev = 'x';
  const built = nodes.map((n, i) => {
    const out = `t${i}`;
    for (const [p, s, init] of n.params ?? []) params[p] = { shape: s, init: init as never };
    const node = {
      name: `n${i}_${n.op}`,
      op: n.op,
      inputs: n.inputs ?? [prev],
      params: (n.params ?? []).map(([p]) => p),
      outputs: [out],
      attrs: n.attrs ?? {},
    };
    prev = out;
    return node;
  });
  return parseGraph({ name, inputs: [{ name: 'x', shape }], outputs: [prev], params, nodes: built });
}

const he = (fanIn: number) => ({ kind: 'he', fanIn });
const conv = (
  p: string,
  k: number,
  cg: number,
  r: number,
  a: Partial<{ stride: number[]; pads: number[]; dilation: number[]; groups: number }>,
  bias = true,
): NodeSpec => ({
  op: 'conv',
  attrs: { stride: a.stride ?? [1, 1], pads: a.pads ?? [0, 0, 0, 0], dilation: a.dilation ?? [1, 1], groups: a.groups ?? 1 },
  params: [[`${p}_w`, [k, cg, r, r], he(cg * r * r)], ...(bias ? [[`${p}_b`, [k], { kind: 'uniform', lo: -0.5, hi: 0.5 }] as [string, number[], object]] : [])],
});
const bn = (p: string, c: number): NodeSpec => ({
  op: 'batchnorm',
  attrs: { eps: Math.fround(1e-5) },
  params: [
    [`${p}_s`, [c], { kind: 'uniform', lo: 0.5, hi: 1.5 }],
    [`${p}_sh`, [c], { kind: 'uniform', lo: -0.5, hi: 0.5 }],
    [`${p}_m`, [c], { kind: 'bn-mean' }],
    [`${p}_v`, [c], { kind: 'bn-var' }],
  ],
});
const pool = (op: 'maxpool' | 'avgpool', k: number, s: number, pads: number[], ceil: boolean, countIncludePad?: boolean): NodeSpec => ({
  op,
  attrs: { kernel: [k, k], stride: [s, s], pads, ceil, ...(op === 'avgpool' ? { countIncludePad: countIncludePad ?? false } : {}) },
});

describe('tfjs translation against the float64 forward pass', () => {
  it.each([false, true])('every-op (quick %s): within fp32 tolerance, batch norm folded, the grouped conv in its faster form', (quick) => {
    const g = loadModelFile(EVERY_OP, { quick }).graph;
    const { m, note } = compare(g);
    expect(m.relL2).toBeLessThan(REL_L2);
    expect(note).toMatch(/1 batch norm\(s\) folded into the conv weights/);
    expect(note).toMatch(
      /1 grouped conv\(s\) not depthwise \(tfjs has none\), each the faster, timed here.*: grouped \(3 groups: (split|block-diagonal), [\d.]+ vs [\d.]+ ms\)/,
    );
  });

  const cases: [string, number[], NodeSpec[]][] = [
    // Ceil pooling: 10x10, 3x3 stride 2 -> 4x4 floor, 5x5 ceil (a tail window); max with unequal pads (a tail on both axes).
    ['maxpool ceil', [1, 3, 10, 10], [pool('maxpool', 3, 2, [0, 0, 0, 0], true)]],
    ['maxpool ceil unequal pads', [1, 3, 11, 9], [pool('maxpool', 3, 2, [1, 0, 0, 1], true)]],
    ['avgpool ceil countIncludePad false', [1, 3, 9, 8], [pool('avgpool', 3, 2, [1, 1, 0, 0], true, false)]],
    ['avgpool ceil countIncludePad true', [1, 3, 9, 8], [pool('avgpool', 3, 2, [1, 1, 0, 0], true, true)]],
    ['avgpool countIncludePad true, equal pads', [1, 2, 7, 7], [pool('avgpool', 3, 1, [1, 1, 1, 1], false, true)]],
    ['conv unequal pads, fused bias', [1, 3, 8, 7], [conv('c', 5, 3, 3, { pads: [0, 1, 2, 1], stride: [2, 2] })]],
    ['conv groups 2 (not depthwise)', [1, 4, 6, 6], [conv('c', 6, 2, 3, { pads: [1, 1, 1, 1], groups: 2 }), { op: 'relu' }]],
    ['conv groups 3 + batch norm + relu6', [1, 6, 5, 5], [conv('c', 9, 2, 1, { groups: 3 }, false), bn('b', 9), { op: 'relu6' }]],
    ['depthwise, channel multiplier 2, stride 2', [1, 3, 9, 9], [conv('c', 6, 1, 3, { groups: 3, stride: [2, 2], pads: [1, 1, 1, 1] })]],
    ['dilated conv', [1, 2, 9, 9], [conv('c', 3, 2, 3, { dilation: [2, 2], pads: [2, 2, 2, 2] })]],
    ['channel shuffle (4D output, NHWC -> NCHW after the run)', [1, 6, 3, 4], [conv('c', 6, 6, 1, {}), { op: 'channelshuffle', attrs: { groups: 3 } }]],
    [
      'flatten after NHWC (FC weights in NCHW order), gemm + bias + relu',
      [1, 4, 3, 5],
      [
        conv('c', 4, 4, 1, {}),
        { op: 'flatten' },
        { op: 'gemm', params: [['fc_w', [7, 60], he(60)]] },
        { op: 'bias', params: [['fc_b', [7], { kind: 'uniform', lo: -1, hi: 1 }]] },
        { op: 'relu' },
      ],
    ],
    [
      'reshape to 4D then conv, softmax on channels (axis 1 of 4D)',
      [1, 2, 4, 6],
      [{ op: 'reshape', attrs: { shape: [1, 4, 2, 6] } }, conv('c', 3, 4, 1, {}), { op: 'softmax', attrs: { axis: 1 } }],
    ],
    [
      'batch norm alone (after an add), concat, global average pool',
      [1, 4, 5, 5],
      [
        conv('a', 4, 4, 3, { pads: [1, 1, 1, 1] }),
        { op: 'add', inputs: ['t0', 'x'] },
        bn('b', 4),
        { op: 'concat', attrs: { axis: 1 }, inputs: ['t2', 't0'] },
        { op: 'globalavgpool' },
      ],
    ],
  ];
  it.each(cases)('%s', (name, shape, nodes) => {
    const g = chain(name.replace(/\W+/g, '_'), shape, nodes);
    // A grouped conv in both of its forms (split per group; one block-diagonal conv), not only the faster one here.
    for (const groupedConv of ['faster', 'split', 'block-diagonal'] as const) {
      const { m, note } = compare(g, 3, undefined, 1, { groupedConv });
      expect(m.relL2, `${name} (${groupedConv})`).toBeLessThan(REL_L2);
      if (groupedConv !== 'faster' && /groups [23]/.test(name)) expect(note).toMatch(new RegExp(`groups: ${groupedConv}\\)`));
    }
  });

  it.each(['every-op', 'shufflenet_v1_0.5x_g3'])(
    '%s as an ONNX file (exported, then imported as a user file is): every op maps, within fp32 tolerance',
    (name) => {
      const m = name === 'every-op' ? loadModelFile(EVERY_OP, { quick: true }) : loadZooModel(name, { quick: true, weights: false });
      const bytes = exportOnnx(m.graph, makeGraphParams(m.graph, 9));
      const imported = importOnnx(bytes, `${name}.onnx`);
      expect(tfjsUntranslatable(imported.graph)).toBeNull();
      const inputs = makeGraphInputs(imported.graph, 9, 'uniform(-1,1)');
      const ref = evaluateGraph(imported.graph, inputs, imported.weights).values.get(imported.graph.outputs[0]!)!;
      const net = translateGraph(tf, imported.graph, imported.weights, inputs);
      try {
        net.run();
        expect(errorMetrics(net.output(), ref).relL2).toBeLessThan(REL_L2);
      } finally {
        net.dispose();
      }
    },
  );

  it('the pooling cases tell countIncludePad true from false (the check can fail)', () => {
    const a = chain('a', [1, 3, 9, 8], [pool('avgpool', 3, 2, [1, 1, 0, 0], true, false)]);
    const b = chain('b', [1, 3, 9, 8], [pool('avgpool', 3, 2, [1, 1, 0, 0], true, true)]);
    const params = new Map<string, Float32Array>();
    const inputs = makeGraphInputs(a, 3, 'uniform(-1,1)');
    const ya = evaluateGraph(a, inputs, params).values.get('t0')!;
    const yb = evaluateGraph(b, inputs, params).values.get('t0')!;
    expect(errorMetrics(ya, yb).relL2).toBeGreaterThan(1e-2);
  });

  it('a graph tfjs refuses is named (operator and node), not run', () => {
    const g = chain('dil', [1, 2, 9, 9], [{ op: 'relu' }, conv('c', 3, 2, 3, { dilation: [2, 2], stride: [2, 2] })]);
    expect(tfjsUntranslatable(g)).toMatch(/^node 1 "n1_conv" \(conv\): tfjs convolutions refuse a dilation above 1 together with a stride above 1/);
    expect(() => translateGraph(tf, g, makeGraphParams(g, 1), makeGraphInputs(g, 1, 'uniform(-1,1)'))).toThrow(/graph "dil": node 1 "n1_conv"/);
  });
});

describe('tfjs translation: faults and leaks', () => {
  const g = loadModelFile(EVERY_OP, { quick: true }).graph;

  it('a wrong channel shuffle order (injected fault) fails the network check', () => {
    const { m } = compare(g, 3, { tfjsShuffleOrder: true });
    // The network check of measure.ts (max(1e-4, 100 x the runtime's error)) and the one here.
    expect(m.relL2).toBeGreaterThan(1e-3);
  });

  it('every intermediate is disposed: tensors held stay the same across runs; a kept intermediate (injected fault) grows them', () => {
    const clean = compare(g, 3, undefined, 4).counts;
    expect(new Set(clean).size).toBe(1);
    const leaky = compare(g, 3, { tfjsLeakTensor: true }, 4).counts;
    expect(leaky[3]! - leaky[0]!).toBe(3);
    // And dispose() releases what prepare made.
    const before = tf.memory().numTensors;
    const net = translateGraph(tf, g, makeGraphParams(g, 3), makeGraphInputs(g, 3, 'uniform(-1,1)'));
    net.run();
    expect(tf.memory().numTensors).toBeGreaterThan(before);
    net.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
