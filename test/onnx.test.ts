/**
 * ONNX export and import (core/onnx.ts): every zoo network round-trips to an
 * identical graph and identical weights; ONNX Runtime loads exported networks
 * and agrees with the float64 reference at every layer; the importer maps the
 * operators exporters write (MatMul + Add, Constant shapes, auto_pad, Dropout,
 * the channel-shuffle pattern ...) and rejects what it cannot read with one
 * clear error (not ONNX, truncated, every unsupported operator by index and
 * name, opset, dynamic shapes, external data, other tensor types).
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import type { Graph } from '../core/graph.js';
import { exportOnnx, ImportError, importOnnx, ONNX_OPSET } from '../core/onnx.js';
import { evaluateGraph } from '../reference/graph.js';
import { makeGraphInputs, makeGraphParams } from '../reference/graph-init.js';
import { errorMetrics } from '../reference/metrics.js';
import { loadOnnxruntime } from '../suites/conv/variants/onnxruntime.js';
import { loadZooModel, zooNames } from '../suites/models/zoo.js';

const { onnx } = onnxProto;
type INodeProto = import('onnx-proto').onnx.INodeProto;
type ITensorProto = import('onnx-proto').onnx.ITensorProto;

/** Bit-identical float arrays (vitest's deep equality is too slow and memory-hungry for 16M-element arrays). */
const sameBytes = (a: Float32Array, b: Float32Array): boolean =>
  a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** The graph as the importer gives it back: every parameter's values come from the file. */
const asData = (g: Graph): Graph => ({
  ...g,
  params: Object.fromEntries(Object.entries(g.params).map(([k, p]) => [k, { ...p, init: { kind: 'data' as const } }])),
});

describe('round trip: export every zoo network, import it, identical graph and weights', () => {
  for (const name of zooNames()) {
    // VGG-16 and AlexNet at the --quick resolution: their fully-connected weights (0.5 GB at full size) add time, not coverage
    const quick = name === 'vgg16' || name === 'alexnet';
    it(`${name}${quick ? ' (quick)' : ''}`, () => {
      const m = loadZooModel(name, { quick });
      const params = makeGraphParams(m.graph, 11, m.weights ?? undefined);
      const bytes = exportOnnx(m.graph, params, { docString: `zoo ${name}` });
      const back = importOnnx(bytes, `${name}.onnx`);
      expect(back.graph).toEqual(asData(m.graph));
      expect(back.opset).toBe(ONNX_OPSET);
      expect(back.producer).toBe('roofbench');
      expect([...back.weights.keys()].sort()).toEqual([...params.keys()].sort());
      for (const [k, v] of params) expect(sameBytes(back.weights.get(k)!, v), k).toBe(true);
    });
  }

  it('exportOnnx names a missing or wrongly sized parameter', () => {
    const m = loadZooModel('squeezenet_1.1', { quick: true });
    const params = makeGraphParams(m.graph, 1);
    params.delete('conv1.w');
    expect(() => exportOnnx(m.graph, params)).toThrow(/no values for parameter "conv1\.w"/);
    params.set('conv1.w', new Float32Array(3));
    expect(() => exportOnnx(m.graph, params)).toThrow(/parameter "conv1\.w" has 3 values, its shape \[64, 3, 3, 3\] needs 1728/);
  });
});

describe('ONNX Runtime runs exported networks and agrees with the float64 reference at every layer', () => {
  const ort = loadOnnxruntime(pathToFileURL(join(process.cwd(), 'harness', 'runner', 'main.ts')).href);

  /** relL2 of every node output (ORT fetches them all: the export lists them as graph outputs). */
  async function layerErrors(name: string, tamper?: (p: Map<string, Float32Array>) => void) {
    expect(ort.ok, ort.ok ? '' : ort.reason).toBe(true);
    if (!ort.ok) throw new Error(ort.reason);
    const m = loadZooModel(name, { quick: true });
    const params = makeGraphParams(m.graph, 5, m.weights ?? undefined);
    const inputs = makeGraphInputs(m.graph, 5, 'uniform(-1,1)');
    const every: Graph = { ...m.graph, outputs: m.graph.nodes.map((n) => n.outputs[0]) };
    const ortParams = new Map(params);
    tamper?.(ortParams);
    const session = await ort.ort.InferenceSession.create(exportOnnx(every, ortParams), { executionProviders: ['cpu'], intraOpNumThreads: 1 });
    try {
      const feeds = Object.fromEntries(m.graph.inputs.map((i) => [i.name, new ort.ort.Tensor('float32', inputs.get(i.name)!, i.shape)]));
      const out = await session.run(feeds);
      const ref = evaluateGraph(m.graph, inputs, params);
      return every.outputs.map((o) => ({ o, relL2: errorMetrics(out[o]!.data as Float32Array, ref.values.get(o)!).relL2 }));
    } finally {
      await session.release();
    }
  }

  // conv/groups/fc, depthwise + relu6 + residual, shuffle + avgpool + concat, ceil-mode pools, asymmetric pads + trained weights
  for (const name of ['alexnet', 'mobilenet_v2', 'shufflenet_v1_0.5x_g3', 'squeezenet_1.1', 'resnet50_v1.5', 'mobilenet_v1_facessd']) {
    it(name, async () => {
      const errs = await layerErrors(name);
      expect(errs.length).toBeGreaterThan(15);
      for (const { o, relL2 } of errs) expect(relL2, o).toBeLessThan(1e-4);
    });
  }

  it('the check fails when the network ORT runs differs (a fault: one weight tensor scaled by 1.001)', async () => {
    const errs = await layerErrors('squeezenet_1.1', (p) => {
      const w = Float32Array.from(p.get('fire5.expand3x3.w')!, (v) => v * 1.001);
      p.set('fire5.expand3x3.w', w);
    });
    const bad = errs.filter((e) => e.relL2 >= 1e-4).map((e) => e.o);
    expect(bad).toContain('fire5.expand3x3');
    expect(bad).not.toContain('fire5.expand1x1');
  });
});

// ---------------------------------------------------------------------------
// Import: what other exporters write, and what cannot be read
// ---------------------------------------------------------------------------

const f = (name: string, dims: number[], values: number[]): ITensorProto => ({ name, dataType: onnx.TensorProto.DataType.FLOAT, dims, floatData: values });
const i64 = (name: string, values: number[]): ITensorProto => ({ name, dataType: onnx.TensorProto.DataType.INT64, dims: [values.length], int64Data: values });
const input = (name: string, dims: (number | string)[]) => ({
  name,
  type: {
    tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } },
  },
});
function model(nodes: INodeProto[], opts: { inputs?: ReturnType<typeof input>[]; init?: ITensorProto[]; outputs?: string[]; opset?: number } = {}): Uint8Array {
  return onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'test',
      opsetImport: [{ domain: '', version: opts.opset ?? 17 }],
      graph: {
        name: 'g',
        node: nodes,
        initializer: opts.init ?? [],
        input: opts.inputs ?? [input('x', [1, 4])],
        output: (opts.outputs ?? [nodes.at(-1)!.output![0]!]).map((o) => ({ name: o })),
      },
    }),
  ).finish();
}
const attr = (name: string, v: number | number[] | string) =>
  typeof v === 'number'
    ? { name, type: onnx.AttributeProto.AttributeType.INT, i: v }
    : typeof v === 'string'
      ? { name, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(v) }
      : { name, type: onnx.AttributeProto.AttributeType.INTS, ints: v };

describe('importOnnx maps what exporters write', () => {
  it('MatMul + Add (PyTorch-style fully connected), Gemm without transB, Identity and Dropout pass through', () => {
    const bytes = model(
      [
        { opType: 'Identity', name: 'id', input: ['x'], output: ['x1'] },
        { opType: 'MatMul', name: 'mm', input: ['x1', 'W'], output: ['mm_out'] },
        { opType: 'Add', name: 'add_b', input: ['mm_out', 'b'], output: ['fc'] },
        { opType: 'Dropout', name: 'drop', input: ['fc'], output: ['d', 'mask'] },
        { opType: 'Gemm', name: 'g2', input: ['d', 'W2', 'b2'], output: ['y'] },
      ],
      // W: [F=4, K=2] (x @ W); W2: [F=2, K=3] (no transB)
      { init: [f('W', [4, 2], [1, 0, 0, 1, 1, 0, 0, 1]), f('b', [2], [10, 20]), f('W2', [2, 3], [1, 2, 3, 4, 5, 6]), f('b2', [3], [0, 0, 1])] },
    );
    const m = importOnnx(bytes, 'fc.onnx');
    expect(m.graph.nodes.map((n) => [n.name, n.op])).toEqual([
      ['mm', 'gemm'],
      ['g2', 'gemm'],
    ]);
    expect(m.graph.params.W!.shape).toEqual([2, 4]);
    const r = evaluateGraph(m.graph, { x: [1, 2, 3, 4] }, m.weights);
    // x @ W = [1+3, 2+4] + [10, 20] = [14, 26]; then [14, 26] @ W2 + b2 = [14+104, 28+130, 42+156+1]
    expect([...r.values.get('fc')!]).toEqual([14, 26]);
    expect([...r.values.get('y')!]).toEqual([118, 158, 199]);
  });

  it('Constant shapes, Reshape with 0 and -1, SAME_UPPER padding, Clip(0) as ReLU, opset-11 Softmax on the last axis, per-channel bias [1, C, 1, 1]', () => {
    const bytes = model(
      [
        {
          opType: 'Constant',
          name: 'shape_const',
          output: ['shape'],
          attribute: [{ name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t: i64('v', [0, 2, -1, 2]) }],
        },
        { opType: 'Reshape', name: 'r', input: ['x', 'shape'], output: ['img'] },
        { opType: 'Conv', name: 'c', input: ['img', 'w'], output: ['c'], attribute: [attr('auto_pad', 'SAME_UPPER'), attr('strides', [2, 2])] },
        { opType: 'Add', name: 'bias', input: ['c', 'cb'], output: ['cbias'] },
        { opType: 'Clip', name: 'clip', input: ['cbias', 'zero'], output: ['relu'] },
        { opType: 'Flatten', name: 'flat', input: ['relu'], output: ['flat'], attribute: [attr('axis', 1)] },
        { opType: 'Softmax', name: 'sm', input: ['flat'], output: ['p'], attribute: [attr('axis', -1)] },
      ],
      {
        inputs: [input('x', [1, 8])],
        init: [f('w', [1, 2, 3, 3], new Array(18).fill(1)), f('cb', [1, 1, 1, 1], [0.5]), f('zero', [], [0])],
        opset: 11,
      },
    );
    const m = importOnnx(bytes, 'misc.onnx');
    expect(m.graph.nodes.map((n) => n.op)).toEqual(['reshape', 'conv', 'bias', 'relu', 'flatten', 'softmax']);
    expect(m.shapes.get('img')).toEqual([1, 2, 2, 2]);
    expect(m.graph.nodes[1]!.attrs).toMatchObject({ pads: [0, 0, 1, 1], stride: [2, 2] });
    expect(m.graph.nodes[5]!.attrs).toEqual({ axis: 1 });
    expect(m.graph.params.cb!.shape).toEqual([1]);
    // a [C] constant on an N C H W tensor broadcasts along W, not per channel: refused, not misread
    const alongW = model([{ opType: 'Add', name: 'wrong_bias', input: ['x', 'b'], output: ['y'] }], {
      inputs: [input('x', [1, 2, 2, 2])],
      init: [f('b', [2], [1, 2])],
    });
    expect(() => importOnnx(alongW, 'w.onnx')).toThrow(/node 0 "wrong_bias" \(Add\): adding the constant "b" \[2\] to \[1, 2, 2, 2\]: only a per-channel bias/);
  });

  it('the channel-shuffle pattern becomes one channelshuffle node; a lone Transpose is unsupported', () => {
    const shuffle = [
      { opType: 'Reshape', name: 's1', input: ['x', 'split'], output: ['t1'] },
      { opType: 'Transpose', name: 's2', input: ['t1'], output: ['t2'], attribute: [attr('perm', [0, 2, 1, 3, 4])] },
      { opType: 'Reshape', name: 'shuffle', input: ['t2', 'merge'], output: ['y'] },
    ];
    const m = importOnnx(model(shuffle, { inputs: [input('x', [1, 6, 2, 2])], init: [i64('split', [1, 3, 2, 2, 2]), i64('merge', [1, 6, 2, 2])] }), 's.onnx');
    expect(m.graph.nodes).toEqual([{ name: 'shuffle', op: 'channelshuffle', inputs: ['x'], params: [], outputs: ['y'], attrs: { groups: 3 } }]);
    const wrongPerm = shuffle.map((n) => (n.opType === 'Transpose' ? { ...n, attribute: [attr('perm', [0, 1, 2, 4, 3])] } : n));
    expect(() =>
      importOnnx(model(wrongPerm, { inputs: [input('x', [1, 6, 2, 2])], init: [i64('split', [1, 3, 2, 2, 2]), i64('merge', [1, 6, 2, 2])] }), 's.onnx'),
    ).toThrow(/node 1 "s2" \(Transpose\): Transpose outside the channel-shuffle pattern/);
  });
});

describe('importOnnx rejects what it cannot read, saying what and where', () => {
  const good = (): Uint8Array => {
    const m = loadZooModel('squeezenet_1.1', { quick: true });
    return exportOnnx(m.graph, makeGraphParams(m.graph, 1));
  };

  it('not ONNX: a text file, an empty file, a protobuf of something else', () => {
    expect(() => importOnnx(new TextEncoder().encode('name: not a model\nlayers: []\n'), 'net.yaml')).toThrow(ImportError);
    expect(() => importOnnx(new TextEncoder().encode('name: not a model\nlayers: []\n'), 'net.yaml')).toThrow(/^net\.yaml: not an ONNX model/);
    expect(() => importOnnx(new Uint8Array(0), 'empty.onnx')).toThrow(/empty\.onnx: the file is empty: not an ONNX model/);
    // a valid protobuf message without a graph (an OperatorSetIdProto)
    const other = onnx.OperatorSetIdProto.encode({ domain: 'x', version: 3 }).finish();
    expect(() => importOnnx(other, 'other.onnx')).toThrow(
      /^other\.onnx: (not an ONNX model|the file ends in the middle of a protobuf message .*: truncated, or not an ONNX model)/,
    );
  });

  it('a truncated file', () => {
    const bytes = good();
    for (const cut of [Math.floor(bytes.length / 2), bytes.length - 3, 40]) {
      expect(() => importOnnx(bytes.subarray(0, cut), 'cut.onnx')).toThrow(
        /^cut\.onnx: (the file ends in the middle of a protobuf message|not an ONNX model|tensor ".*" .* bytes of data)/,
      );
    }
  });

  it('every unsupported operator, with its index and name, in one error', () => {
    const nodes: INodeProto[] = [
      { opType: 'Relu', name: 'ok', input: ['x'], output: ['a'] },
      { opType: 'Sigmoid', name: 'sig', input: ['a'], output: ['b'] },
      { opType: 'Relu', name: 'after', input: ['b'], output: ['c'] },
      { opType: 'LeakyRelu', name: '', input: ['c'], output: ['d'] },
      { opType: 'Clip', name: 'clip8', input: ['a', 'zero', 'eight'], output: ['e'] },
      { opType: 'Concat', name: 'cat0', input: ['a', 'a'], output: ['f'], attribute: [attr('axis', 0)] },
      { opType: 'Custom', domain: 'com.example', name: 'mine', input: ['a'], output: ['g'] },
    ];
    let err: ImportError | undefined;
    try {
      importOnnx(model(nodes, { init: [f('zero', [], [0]), f('eight', [], [8])], outputs: ['d', 'e', 'f', 'g'] }), 'bad.onnx');
    } catch (e) {
      err = e as ImportError;
    }
    expect(err).toBeInstanceOf(ImportError);
    expect(err!.message).toMatch(/^bad\.onnx: 5 unsupported operators:/);
    expect(err!.message).toContain('node 1 "sig" (Sigmoid): not a supported operator');
    expect(err!.message).toContain('node 3 "(no name)" (LeakyRelu): not a supported operator');
    expect(err!.message).toContain('node 4 "clip8" (Clip): Clip(min 0, max 8): only Clip(0, 6) (ReLU6) and Clip(0) (ReLU)');
    expect(err!.message).toContain('node 5 "cat0" (Concat): axis 0: only the channel axis (1)');
    expect(err!.message).toContain('node 6 "mine" (Custom): operator of domain "com.example"');
    // the Relu reading the Sigmoid's output is a consequence, not listed
    expect(err!.message).not.toContain('"after"');
    expect(err!.unsupported.map((u) => u.index)).toEqual([1, 3, 4, 5, 6]);
    expect(err!.message).toMatch(/roofbench's graphs support: Conv, Gemm/);
  });

  it('an unsupported opset, a dynamic shape, external data, an int8 tensor', () => {
    const relu = [{ opType: 'Relu', name: 'r', input: ['x'], output: ['y'] }];
    expect(() => importOnnx(model(relu, { opset: 9 }), 'old.onnx')).toThrow(
      /old\.onnx: opset 9 of the default ONNX domain is not supported: roofbench reads opsets 11 to 22/,
    );
    expect(() => importOnnx(model(relu, { inputs: [input('x', ['batch', 4])] }), 'dyn.onnx')).toThrow(
      /dyn\.onnx: dynamic shape: graph input "x" axis 0 is "batch": roofbench needs static shapes/,
    );
    const ext: ITensorProto = {
      name: 'w',
      dataType: onnx.TensorProto.DataType.FLOAT,
      dims: [4],
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [{ key: 'location', value: 'w.bin' }],
    };
    expect(() => importOnnx(model([{ opType: 'Add', name: 'a', input: ['x', 'w'], output: ['y'] }], { init: [ext] }), 'ext.onnx')).toThrow(
      /ext\.onnx: tensor "w" keeps its data in an external file/,
    );
    const q: ITensorProto = { name: 'w', dataType: onnx.TensorProto.DataType.INT8, dims: [4], rawData: new Uint8Array(4) };
    expect(() => importOnnx(model([{ opType: 'Add', name: 'a', input: ['x', 'w'], output: ['y'] }], { init: [q] }), 'q.onnx')).toThrow(
      /q\.onnx: tensor "w" is of type INT8: only float32/,
    );
  });
});
