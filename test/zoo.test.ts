/**
 * The model zoo: every network builds (full and --quick), its MACs and
 * parameter counts match the figures its sources publish, the file format's
 * errors carry file:line, and the trained entry's real weights load offline
 * from node_modules (with the tfjs weights parser tested on hand-made data).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { numel } from '../core/graph.js';
import { evaluateGraph } from '../reference/graph.js';
import { makeGraphInputs, makeGraphParams } from '../reference/graph-init.js';
import { ModelError, parseModel, padsOf } from '../suites/models/format.js';
import { checkPublished, countOf, roundSig } from '../suites/models/published.js';
import { decodeWeights, denseToGraph, depthwiseToGraph, halfToFloat, hwioToOihw, parseManifest, type WeightsManifest } from '../suites/models/tfjs-weights.js';
import { loadZooModel, UnknownModelError, ZOO_DIR, zooNames } from '../suites/models/zoo.js';

const PAPER_NETWORKS = [
  'alexnet',
  'mobilenet_v1',
  'mobilenet_v2',
  'resnet50_v1.5',
  'shufflenet_v1_0.5x_g3',
  'shufflenet_v1_0.5x_g8',
  'shufflenet_v1_1.0x_g3',
  'squeezenet_1.1',
  'vgg16',
];

describe('the zoo', () => {
  it('has the networks of the issue and the trained face detector', () => {
    expect(zooNames()).toEqual([...PAPER_NETWORKS.slice(0, 2), 'mobilenet_v1_facessd', ...PAPER_NETWORKS.slice(2)]);
  });

  for (const name of PAPER_NETWORKS) {
    it(`${name}: MACs and parameters match its published figures`, () => {
      const m = loadZooModel(name);
      expect(m.meta.source?.paper.length).toBeGreaterThan(20);
      const checks = checkPublished(m.graph, m.meta.published);
      expect(
        checks.some((c) => c.entry.what === 'macs'),
        'a MACs figure',
      ).toBe(true);
      expect(
        checks.some((c) => c.entry.what === 'params'),
        'a parameter figure',
      ).toBe(true);
      // at least one MACs and one parameter figure held to 1% (not only to a source's rounding)
      expect(checks.some((c) => c.entry.what === 'macs' && c.entry.digits === undefined && c.ok) || name.startsWith('shufflenet_v1_0.5x')).toBe(true);
      for (const c of checks) expect(c.ok, `${c.entry.what} vs ${c.entry.source}: ${c.how}`).toBe(true);
    });
  }

  it('every network builds at full and quick resolution, ending in a 1000-way softmax', () => {
    for (const name of PAPER_NETWORKS) {
      for (const quick of [false, true]) {
        const m = loadZooModel(name, { quick });
        expect(m.meta.input).toEqual(quick ? m.meta.quickInput : m.meta.fullInput);
        expect(m.graph.inputs[0]!.shape).toEqual(m.meta.input);
        const last = m.graph.nodes.at(-1)!;
        expect(last.op).toBe('softmax');
        expect(m.shapes.get(m.graph.outputs[0]!)).toEqual([1, 1000]);
      }
    }
    // --quick halves the resolution (a quarter for VGG-16, whose 15 GMAC would dominate a quick run)
    expect(loadZooModel('vgg16', { quick: true }).meta.input).toEqual([1, 3, 56, 56]);
  });

  it('the float64 reference runs quick networks end to end: finite probabilities that sum to 1', () => {
    for (const name of ['shufflenet_v1_0.5x_g3', 'squeezenet_1.1']) {
      const m = loadZooModel(name, { quick: true });
      const r = evaluateGraph(m.graph, makeGraphInputs(m.graph, 3, 'uniform(-1,1)'), makeGraphParams(m.graph, 3));
      const p = r.values.get(m.graph.outputs[0]!)!;
      expect(p.length).toBe(1000);
      expect(p.every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
      expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      // every tensor is kept: one per node and the input
      expect(r.values.size).toBe(m.graph.nodes.length + 1);
    }
  });

  it('the check fails when a network is wrong (faults injected into VGG-16: conv3 with 264 filters, fc6 with 4000 outputs)', () => {
    const file = join(ZOO_DIR, 'vgg16.yaml');
    const text = readFileSync(file, 'utf8').replace('with: { out: 256 }', 'with: { out: 264 }').replace('out: 4096 }', 'out: 4000 }');
    const m = parseModel(text, file);
    const bad = checkPublished(m.graph, m.meta.published).filter((c) => !c.ok);
    expect(bad.map((c) => c.entry.what).sort()).toEqual(['macs', 'params']);
    // and a count that is 1.5% off fails the 1% check, a two-digit figure fails when the rounding differs
    const vgg = loadZooModel('vgg16').graph;
    const fc = countOf(vgg, { what: 'params', value: 1, counts: ['fcWeights'], source: 's' });
    expect(checkPublished(vgg, [{ what: 'params', value: fc * 1.015, counts: ['fcWeights'], source: 's' }])[0]!.ok).toBe(false);
    expect(checkPublished(vgg, [{ what: 'params', value: fc * 1.009, counts: ['fcWeights'], source: 's' }])[0]!.ok).toBe(true);
    expect(roundSig(717_324, 2)).toBe(720_000);
    expect(checkPublished(vgg, [{ what: 'macs', value: 16e9, counts: ['conv'], digits: 2, source: 's' }])[0]!.ok).toBe(false);
    expect(checkPublished(vgg, [{ what: 'macs', value: 15e9, counts: ['conv'], digits: 2, source: 's' }])[0]!.ok).toBe(true);
  });

  it('an unknown zoo name: the closest name and the list', () => {
    expect(() => loadZooModel('mobilenet_v3')).toThrow(UnknownModelError);
    expect(() => loadZooModel('mobilenetv1')).toThrow(/unknown model "mobilenetv1" \(did you mean "mobilenet_v1"\?\); the zoo has: alexnet, mobilenet_v1/);
  });
});

describe('zoo file format errors: file:line and what to do', () => {
  const base = `name: t
title: T
source: { paper: "a paper of some length", table: "Table 1" }
input: { shape: [1, 3, 8, 8], quick: [1, 3, 4, 4] }
`;
  const err = (body: string): ModelError => {
    try {
      parseModel(base + body, 'net.yaml');
    } catch (e) {
      expect(e).toBeInstanceOf(ModelError);
      return e as ModelError;
    }
    throw new Error('parseModel accepted a bad file');
  };
  const cases: [string, string, number | null, RegExp][] = [
    ['not YAML', 'layers: [ { op: conv\n', 6, /invalid YAML/],
    [
      'an unknown op, with did-you-mean',
      'layers:\n  - { op: conv, out: 4, kernel: 3 }\n  - { op: rlu }\n',
      7,
      /layers\[1\]\.op: unknown op "rlu" \(did you mean "relu"\?\)/,
    ],
    ['an unknown key', 'layers:\n  - { op: conv, out: 4, kernel: 3, strde: 2 }\n', 6, /unknown key "strde" \(did you mean "stride"\?\); valid keys for conv:/],
    ['a bad value', 'layers:\n  - { op: conv, out: -4, kernel: 3 }\n', 6, /layers\[0\]\.out: /],
    [
      'a layer that does not fit',
      'layers:\n  - { op: relu }\n  - { op: conv, name: big, out: 4, kernel: 9 }\n',
      7,
      /layers\[1\]: node 1 "big" \(conv\): output size 0x0 < 1/,
    ],
    [
      'an unknown reference',
      'layers:\n  - { op: conv, name: c1, out: 4, kernel: 1 }\n  - { op: add, in: [c1, c2] }\n',
      7,
      /in: "c2" is not an earlier layer \(did you mean "c1"\?\)/,
    ],
    ['add without in', 'layers:\n  - { op: add }\n', 6, /add needs in: \[a, b\]/],
    [
      'an unknown block',
      'layers:\n  - { block: fier, name: f1 }\nblocks:\n  fire: { args: {}, layers: [ { op: relu } ] }\n',
      6,
      /unknown block "fier" \(did you mean "fire"\?\)/,
    ],
    [
      'a missing argument',
      'blocks:\n  b: { args: { out: null }, layers: [ { op: conv, out: $out, kernel: 1 } ] }\nlayers:\n  - { block: b, name: b1 }\n',
      8,
      /block "b" needs with: \{ out: \.\.\. \}/,
    ],
    [
      'repeat without {i}',
      'blocks:\n  b: { args: {}, layers: [ { op: relu } ] }\nlayers:\n  - { block: b, name: b1, repeat: 2 }\n',
      8,
      /repeat: 2 needs "\{i\}" in the name/,
    ],
    [
      'an error inside a block names the instance',
      'blocks:\n  b:\n    args: { k: null }\n    layers:\n      - { op: conv, out: 4, kernel: $k }\nlayers:\n  - { block: b, name: inst, with: { k: 20 } }\n',
      9,
      /blocks\.b\.layers\[0\] \(in block instance "inst" at line 11\): node 0 "inst\.conv" \(conv\): output size/,
    ],
    ['an unknown top-level key', 'layrs: []\nlayers:\n  - { op: relu }\n', 5, /unknown key "layrs" \(did you mean "layers"\?\)/],
    ['weights without a weights source', 'layers:\n  - { op: conv, out: 4, kernel: 1, weights: { w: "x" } }\n', 6, /the file has no top-level weights/],
    ['a duplicate name', 'layers:\n  - { op: relu, name: a }\n  - { op: relu, name: a }\n', 7, /name "a" is already used by an earlier layer/],
  ];
  for (const [why, body, line, message] of cases) {
    it(why, () => {
      const e = err(body);
      expect(e.message).toMatch(message);
      expect(e.message.startsWith(`net.yaml${line !== null ? `:${line}` : ''}`), e.message).toBe(true);
      if (line !== null) expect(e.line).toBe(line);
    });
  }

  it("a user's own file needs no citation; every problem is reported at once, each with file:line:column", () => {
    const user = 'name: mine\ninput: { shape: [1, 3, 8, 8], quick: [1, 3, 4, 4] }\n';
    const ok = parseModel(`${user}layers:\n  - { op: conv, out: 4, kernel: 3 }\n`, 'mine.yaml');
    expect(ok.meta.title).toBe('mine');
    expect(ok.meta.source).toBeUndefined();
    let e: unknown;
    try {
      parseModel(
        `${user}titel: x\nlayers:\n  - { op: conv, out: -4, kernel: 3 }\n  - { op: rlu }\n  - { op: conv, out: 4, kernel: 3, strde: 2 }\nblocks:\n  b: { layers: [ { op: relu, nme: x } ] }\n`,
        'mine.yaml',
      );
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(ModelError);
    expect((e as ModelError).message.split('\n')).toEqual([
      'mine.yaml:3:1: titel: unknown key "titel" (did you mean "title"?); valid: ' +
        'name, title, source, input, published, weights, defaults, blocks, layers, outputs',
      'mine.yaml:5:22: layers[0].out: Too small: expected number to be >0',
      'mine.yaml:6:11: layers[1].op: unknown op "rlu" (did you mean "relu"?); ops: ' +
        'conv, fc, bias, batchnorm, relu, relu6, maxpool, avgpool, globalavgpool, add, concat, channelshuffle, flatten, reshape, softmax',
      'mine.yaml:7:36: layers[2].strde: unknown key "strde" (did you mean "stride"?); valid keys for conv: ' +
        'op, name, in, weights, out, kernel, stride, pad, dilation, groups, depthwise, bias',
      'mine.yaml:9:30: blocks.b.layers[0].nme: unknown key "nme" (did you mean "name"?); valid keys for relu: op, name, in, weights',
    ]);
    expect((e as ModelError).line).toBe(3);
  });

  it('the shipped zoo keeps its citation required (a zoo entry without source: is refused)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'roofbench-zoo-'));
    try {
      const text = readFileSync(join(ZOO_DIR, 'alexnet.yaml'), 'utf8');
      expect(text).toMatch(/^source:/m);
      writeFileSync(join(dir, 'alexnet.yaml'), text.replace(/^source:.*\n(?:[ \t]+.*\n)*/m, ''));
      expect(() => loadZooModel('alexnet', { dir, weights: false })).toThrow(
        /alexnet\.yaml:2:1: source: a zoo entry cites its source: add source: \{ paper: \.\.\., table: \.\.\. \}/,
      );
      // The same file as the user's own: accepted.
      expect(parseModel(readFileSync(join(dir, 'alexnet.yaml'), 'utf8'), 'alexnet.yaml').meta.name).toBe('alexnet');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("names of unnamed layers follow the last named one; SAME padding is TensorFlow's", () => {
    const m = parseModel(
      base + 'layers:\n  - { op: conv, name: c1, out: 4, kernel: 3, stride: 2, pad: same }\n  - { op: relu }\n  - { op: relu }\n',
      'net.yaml',
    );
    expect(m.graph.nodes.map((n) => n.name)).toEqual(['c1', 'c1.relu', 'c1.relu_2']);
    expect(m.graph.nodes[0]!.attrs).toMatchObject({ pads: [0, 0, 1, 1] });
    expect(m.shapes.get('c1')).toEqual([1, 4, 4, 4]);
    expect(padsOf('same', [1, 3, 5, 5], [3, 3], [2, 2], [1, 1])).toEqual([1, 1, 1, 1]);
    expect(padsOf('same', [1, 3, 1, 1], [3, 3], [2, 2], [1, 1])).toEqual([1, 1, 1, 1]);
    expect(padsOf([1, 2], [1, 3, 5, 5], [3, 3], [1, 1], [1, 1])).toEqual([1, 2, 1, 2]);
  });
});

describe('tfjs weights', () => {
  it('decodes float32, int32, uint8 and uint16 (affine) and float16, in manifest order', () => {
    const f32 = new Float32Array([1.5, -2]);
    const i32 = new Int32Array([7]);
    const u8 = new Uint8Array([0, 10, 255]);
    const u16 = new Uint16Array([2, 4]);
    const f16 = new Uint16Array([0x3c00, 0xc000, 0x3555]); // 1, -2, 0.333...
    const parts = [f32, i32, u8, u16, f16].map((a) => new Uint8Array(a.buffer));
    const bytes = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
    let o = 0;
    for (const p of parts) {
      bytes.set(p, o);
      o += p.length;
    }
    const manifest: WeightsManifest = [
      {
        paths: ['a.bin', 'b.bin'],
        weights: [
          { name: 'f', shape: [2], dtype: 'float32' },
          { name: 'i', shape: [1], dtype: 'int32' },
          { name: 'q8', shape: [3], dtype: 'float32', quantization: { dtype: 'uint8', scale: 0.5, min: -1 } },
          { name: 'q16', shape: [2, 1], dtype: 'float32', quantization: { dtype: 'uint16', scale: 0.25, min: 1 } },
          { name: 'h', shape: [3], dtype: 'float32', quantization: { dtype: 'float16' } },
        ],
      },
    ];
    // split across two shards at an odd place
    const t = decodeWeights(manifest, [[bytes.subarray(0, 7), bytes.subarray(7)]], 'm');
    expect([...t.get('f')!.values]).toEqual([1.5, -2]);
    expect([...t.get('i')!.values]).toEqual([7]);
    expect([...t.get('q8')!.values]).toEqual([-1, 4, 126.5]);
    expect([...t.get('q16')!.values]).toEqual([1.5, 2]);
    expect(t.get('q16')!.shape).toEqual([2, 1]);
    expect(t.get('h')!.values[0]).toBe(1);
    expect(t.get('h')!.values[1]).toBe(-2);
    expect(t.get('h')!.values[2]).toBeCloseTo(1 / 3, 3);
    expect(halfToFloat(0x7c00)).toBe(Infinity);
    expect(halfToFloat(0x0001)).toBe(2 ** -24);
    // truncated and oversized shards, a bad manifest
    expect(() => decodeWeights(manifest, [[bytes.subarray(0, 20)]], 'm')).toThrow(/lists 2 shard/);
    expect(() => decodeWeights(manifest, [[bytes.subarray(0, 7), bytes.subarray(7, 20)]], 'm')).toThrow(
      /weight "q16" needs bytes 15\.\.19 of group 0, but its shards hold 20|weight "h" needs bytes/,
    );
    expect(() => decodeWeights(manifest, [[bytes.subarray(0, 7), new Uint8Array([...bytes.subarray(7), 0])]], 'm')).toThrow(
      /the files do not match the manifest/,
    );
    expect(() => parseManifest({ weights: [] }, 'm.json')).toThrow(/m\.json: not a TensorFlow\.js weights manifest/);
  });

  it('moves filters to the graph layouts: HWIO -> OIHW, depthwise HWCM -> (C*M)1HW, dense FK -> KF', () => {
    // value = 1000 r + 100 s + 10 c + k at [r, s, c, k]
    const R = 2,
      S = 3,
      C = 2,
      K = 4;
    const v = new Float32Array(R * S * C * K);
    for (let r = 0; r < R; r++)
      for (let s = 0; s < S; s++) for (let c = 0; c < C; c++) for (let k = 0; k < K; k++) v[((r * S + s) * C + c) * K + k] = 1000 * r + 100 * s + 10 * c + k;
    const o = hwioToOihw(v, [R, S, C, K]);
    expect(o.shape).toEqual([K, C, R, S]);
    expect(o.values[((3 * C + 1) * R + 1) * S + 2]).toBe(1000 + 200 + 10 + 3);
    const d = depthwiseToGraph(v, [R, S, C, K]);
    expect(d.shape).toEqual([C * K, 1, R, S]);
    expect(d.values[((1 * K + 2) * R + 1) * S + 0]).toBe(1000 + 0 + 10 + 2);
    const f = denseToGraph(new Float32Array([1, 2, 3, 4, 5, 6]), [3, 2]);
    expect(f.shape).toEqual([2, 3]);
    expect([...f.values]).toEqual([1, 3, 5, 2, 4, 6]);
  });

  it('the trained face detector: every parameter from @vladmandic/face-api, dequantized, in the graph layout', () => {
    const m = loadZooModel('mobilenet_v1_facessd');
    expect(m.weightsFrom).toMatch(/^@vladmandic\/face-api \d+\.\d+\.\d+ \(MIT\): model\/ssd_mobilenetv1_model-weights_manifest\.json$/);
    const params = Object.entries(m.graph.params);
    expect(params.length).toBe(133);
    for (const [name, p] of params) {
      expect(p.init.kind, name).toBe('data');
      expect(m.weights!.get(name)!.length, name).toBe(numel(p.shape));
    }
    // the first filter's value at [k=0, c=0, r=0, s=0] is the manifest's first uint8 * scale + min
    const dir = join(ZOO_DIR, '../../node_modules/@vladmandic/face-api/model/');
    const manifest = parseManifest(JSON.parse(readFileSync(join(dir, 'ssd_mobilenetv1_model-weights_manifest.json'), 'utf8')), 'm');
    const bin = readFileSync(join(dir, 'ssd_mobilenetv1_model.bin'));
    const all = decodeWeights(manifest, [[new Uint8Array(bin)]], 'm');
    const conv0 = all.get('MobilenetV1/Conv2d_0_pointwise/weights')!;
    expect(conv0.shape).toEqual([3, 3, 3, 32]);
    expect(m.weights!.get('conv0.w')![0]).toBe(conv0.values[0]);
    // [k=5, c=2, r=1, s=2] <- tf [r=1, s=2, c=2, k=5]
    expect(m.weights!.get('conv0.w')![((5 * 3 + 2) * 3 + 1) * 3 + 2]).toBe(conv0.values[((1 * 3 + 2) * 3 + 2) * 32 + 5]);
    // batch-norm variances are non-negative; the weights are not all one value
    for (const v of m.weights!.get('conv5.dw.batchnorm.var')!) expect(v).toBeGreaterThanOrEqual(0);
    expect(new Set(m.weights!.get('conv13.pw.w')!).size).toBeGreaterThan(100);
    // the graph: 12 predictor outputs; at 512x512 the SSD's 5118 anchors (3x32x32 + 6x(16x16 + 8x8 + 4x4 + 2x2 + 1))
    const anchors = m.graph.outputs
      .filter((o) => o.endsWith('box_encodings'))
      .reduce((s, o) => {
        const [, c, h, w] = m.shapes.get(o)!;
        return s + (c! / 4) * h! * w!;
      }, 0);
    expect(anchors).toBe(5118);
    // stride-2 SAME convs pad only at the bottom and right
    expect(m.graph.nodes.find((n) => n.name === 'conv0')!.attrs).toMatchObject({ pads: [0, 0, 1, 1] });
  });

  it('a wrong tensor name in the weights mapping: the parameter, the line and the closest name', () => {
    const file = join(ZOO_DIR, 'mobilenet_v1_facessd.yaml');
    const text = readFileSync(file, 'utf8').replace(
      '"MobilenetV1/Conv2d_0_pointwise/convolution_bn_offset"',
      '"MobilenetV1/Conv2d_0_pointwise/convolution_bn_ofset"',
    );
    const parsed = parseModel(text, file);
    return import('../suites/models/zoo.js').then(({ loadTfjsWeights }) => {
      expect(() => loadTfjsWeights(parsed, parsed.meta.weights!)).toThrow(
        /mobilenet_v1_facessd\.yaml:\d+: weights of parameter "conv0\.b": no tensor "MobilenetV1\/Conv2d_0_pointwise\/convolution_bn_ofset" in ssd_mobilenetv1_model-weights_manifest\.json \(did you mean "MobilenetV1\/Conv2d_0_pointwise\/convolution_bn_offset"\?\)/,
      );
    });
  });
});
