/**
 * The analyzer (npm run analyze): the per-layer roofline model on hand-computed
 * cases, the ceilings it predicts with (measured ones from the history, read
 * only; profiles; the fallback; errors), the command line end to end with its
 * report loaded in headless Chromium, and its bad inputs (exit 2, clear
 * errors). No duration is asserted.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import onnxProto from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunResults } from '../core/contracts.js';
import { parseDevices } from '../harness/devices.js';
import type { Graph } from '../core/graph.js';
import { HistoryStore } from '../harness/history/store.js';
import { exportOnnx } from '../core/onnx.js';
import { LAYER_CLASS, MODEL_CLASS, TIME_CLASS } from '../harness/analyze/charts.js';
import { CeilingsError, resolveCeilings } from '../harness/analyze/ceilings.js';
import { analyze, type Analysis, type Ceilings } from '../harness/analyze/model.js';
import { makeGraphParams } from '../reference/graph-init.js';
import { loadZooModel, zooNames } from '../suites/models/zoo.js';
import { chromium, dumpDom, screenshot } from './helpers/chromium.js';
import { ROOT, runProcess } from './helpers/cli.js';

const { onnx } = onnxProto;
let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'roofbench-analyze-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the roofline model per layer', () => {
  // x 1x4x8x8 -> conv 3x3 4->8 pad 1 -> relu -> flatten; peak 10 GFLOP/s, 1 GB/s: ridge 10 FLOP/B
  const g: Graph = {
    name: 'tiny',
    inputs: [{ name: 'x', shape: [1, 4, 8, 8] }],
    outputs: ['f'],
    params: { w: { shape: [8, 4, 3, 3], init: { kind: 'he', fanIn: 36 } } },
    nodes: [
      { name: 'conv', op: 'conv', inputs: ['x'], params: ['w'], outputs: ['c'], attrs: { stride: [1, 1], pads: [1, 1, 1, 1], dilation: [1, 1], groups: 1 } },
      { name: 'act', op: 'relu', inputs: ['c'], params: [], outputs: ['r'], attrs: {} },
      { name: 'flat', op: 'flatten', inputs: ['r'], params: [], outputs: ['f'], attrs: {} },
    ],
  };
  const ceilings: Ceilings = { peakGflops: 10, dramGbps: 1, kind: 'profile', name: 'test', source: 'test' };

  it('bound, attainable throughput and predicted time by hand', () => {
    const a = analyze([{ graph: g, name: 'tiny', title: 'Tiny', origin: 'test', source: null, quick: false, weightsNote: null }], ceilings);
    expect(a.ridge).toBe(10);
    const [conv, relu, flat] = a.models[0]!.layers;
    // conv: 2*8*64*36 = 36864 FLOPs; (256 + 288 + 512) * 4 = 4224 bytes; intensity 8.727 < 10: memory-bound
    expect([conv!.flops, conv!.bytes, conv!.bound]).toEqual([36864, 4224, 'memory']);
    expect(conv!.attainableGflops).toBeCloseTo((36864 / 4224) * 1, 12);
    expect(conv!.predictedMs).toBeCloseTo((4224 / 1e9) * 1e3, 15);
    expect(conv!.kind).toBe('conv k×k');
    expect(conv!.detail).toBe('3×3 4→8 @8×8');
    // relu: 512 FLOPs, 4096 bytes; flatten: a view, no time
    expect([relu!.flops, relu!.bytes, relu!.bound]).toEqual([512, 4096, 'memory']);
    expect([flat!.bytes, flat!.predictedMs, flat!.bound]).toEqual([0, 0, 'view']);
    const t = a.models[0]!.totals;
    expect(t.predictedMs).toBeCloseTo(((4224 + 4096) / 1e9) * 1e3, 15);
    expect(t.intensity).toBeCloseTo((36864 + 512) / (4224 + 4096), 12);
    expect(t.memoryBoundPct).toBeCloseTo(100, 9);
    expect(a.models[0]!.layers.at(-1)!.cumulativePct).toBeCloseTo(100, 9);
    // a faster memory makes the conv compute-bound: its time is then FLOPs / peak
    const fast = analyze([{ graph: g, name: 'tiny', title: 'Tiny', origin: 'test', source: null, quick: false, weightsNote: null }], {
      ...ceilings,
      dramGbps: 100,
    });
    expect(fast.models[0]!.layers[0]!.bound).toBe('compute');
    expect(fast.models[0]!.layers[0]!.predictedMs).toBeCloseTo((36864 / 10e9) * 1e3, 15);
    expect(() => analyze([], { ...ceilings, dramGbps: 0 })).toThrow(/positive peak and bandwidth/);
  });
});

describe('the ceilings an analysis predicts with', () => {
  const devicesYaml = `
profiles:
  rpi3: { description: "Raspberry Pi 3", peakGflops: { f32: 38.4 }, dramGbps: 3.6, source: "brief" }
  v100: { description: "Tesla V100", peakGflops: { f32: 15700 }, dramGbps: 900, source: "whitepaper" }
devices:
  local: { transport: local }
  rpi3: { profile: rpi3, host: 192.0.2.10, user: pi, agent: true }
  bare: { host: 192.0.2.11, user: pi, agent: true }
`;
  const registry = () => parseDevices(devicesYaml, join(work, 'devices.yaml'));
  let history: string;
  beforeAll(() => {
    history = join(work, 'history.sqlite');
    const store = HistoryStore.open(history);
    const base = RunResults.parse(JSON.parse(readFileSync(join(ROOT, 'test/fixtures/results/rpi3-complete.json'), 'utf8')));
    // an older run, the latest real one, and a newer emulated one (never used)
    const at = (iso: string, runId: string, peak: number, emulated = false): RunResults => ({
      ...base,
      runId,
      startedAt: iso,
      device: { ...base.device, emulated },
      ceilings: { ...base.ceilings, measured: { ...base.ceilings.measured!, peakGflops: peak } },
    });
    store.insertRun(at('2025-03-01T00:00:00.000Z', 'old', 4));
    store.insertRun(at('2025-03-14T09:21:05.412Z', 'latest', 5.92));
    store.insertRun(at('2025-04-01T00:00:00.000Z', 'emulated', 99, true));
    store.close();
  });

  it("a device's latest measured, non-emulated run; its profile drawn for reference", () => {
    const c = resolveCeilings(registry(), history, 'rpi3');
    expect(c).toMatchObject({ kind: 'measured', name: 'rpi3', peakGflops: 5.92, dramGbps: 1.919 });
    expect(c.source).toMatch(/^measured on rpi3 in its latest run latest \(2025-03-14\)/);
    expect(c.reference).toMatchObject({ peakGflops: 38.4, dramGbps: 3.6 });
  });

  it('a profile when the history has no run of the device, or does not exist', () => {
    const c = resolveCeilings(registry(), join(work, 'none.sqlite'), 'rpi3');
    expect(c).toMatchObject({ kind: 'profile', name: 'rpi3', peakGflops: 38.4, dramGbps: 3.6 });
    expect(c.source).toMatch(/no measured run of rpi3 in the history; profile "rpi3"/);
  });

  it('no --device: local measured, else the rpi3 profile, said so', () => {
    const c = resolveCeilings(registry(), history, undefined);
    expect(c).toMatchObject({ kind: 'profile', name: 'rpi3' });
    expect(c.source).toMatch(/no measured run of local in the history \(run npm run bench to measure this machine, or pass --device\)/);
  });

  it('a profile name with no device of that name', () => {
    expect(resolveCeilings(registry(), history, 'v100')).toMatchObject({
      kind: 'profile',
      name: 'v100',
      peakGflops: 15700,
      source: expect.stringMatching(/^no device "v100" is registered/),
    });
  });

  it('unknown names and devices without ceilings are errors that say what to do', () => {
    expect(() => resolveCeilings(registry(), history, 'rpi')).toThrow(CeilingsError);
    expect(() => resolveCeilings(registry(), history, 'rpi')).toThrow(
      /unknown device "rpi" \(did you mean "rpi3"\?\): devices local, rpi3, bare; profiles rpi3, v100/,
    );
    expect(() => resolveCeilings(registry(), history, 'bare')).toThrow(
      /device "bare" has no measured run in the history .* and no profile in devices\.yaml: run npm run bench -- --device bare/,
    );
  });

  it('a file that is not a history store is reported, and the profile used', () => {
    const bad = join(work, 'not-sqlite.sqlite');
    writeFileSync(bad, 'this is not a database');
    const c = resolveCeilings(registry(), bad, 'rpi3');
    expect(c.kind).toBe('profile');
    expect(c.source).toMatch(/the history store .*not-sqlite\.sqlite is not an SQLite database/);
  });
});

describe('npm run analyze', () => {
  const analyzeCli = (args: string[]) =>
    runProcess(process.execPath, ['--import', 'tsx', 'harness/analyze/cli.ts', ...args], {
      env: { ...process.env, ROOFBENCH_HISTORY: join(work, 'empty-history.sqlite') },
      timeoutMs: 180_000,
    });

  let out: string;
  let analysis: Analysis;
  beforeAll(async () => {
    out = join(work, 'talk');
    const r = await analyzeCli(['--model', 'vgg16,mobilenet_v1', '--model', 'shufflenet_v1_1.0x_g3', '--device', 'rpi3', '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    analysis = JSON.parse(r.stdout) as Analysis;
  }, 180_000);

  it("reproduces the talk's point: VGG-16 right of the rpi3 ridge, MobileNet and ShuffleNet left", () => {
    expect(analysis.ceilings).toMatchObject({ kind: 'profile', name: 'rpi3' });
    const side = Object.fromEntries(analysis.models.map((m) => [m.name, m.totals.intensity / analysis.ridge]));
    expect(side.vgg16).toBeGreaterThan(2);
    expect(side.mobilenet_v1).toBeLessThan(1);
    expect(side['shufflenet_v1_1.0x_g3']).toBeLessThan(0.5);
    // MobileNet does 27x fewer MACs than VGG-16 but the roofline predicts it only ~17x faster: memory-bound layers
    const vgg = analysis.models.find((m) => m.name === 'vgg16')!.totals;
    const mob = analysis.models.find((m) => m.name === 'mobilenet_v1')!.totals;
    expect(vgg.macs / mob.macs).toBeGreaterThan(25);
    expect(vgg.predictedMs / mob.predictedMs).toBeLessThan(vgg.macs / mob.macs);
    expect(mob.memoryBoundPct).toBeGreaterThan(vgg.memoryBoundPct);
  });

  it('writes a self-contained report that loads in headless Chromium: tables, both charts, a point per layer and per model', () => {
    const file = join(out, 'index.html');
    const html = readFileSync(file, 'utf8');
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/\b(src|href)="(https?:)?\/\//i);
    expect(html).toMatch(/Content-Security-Policy" content="default-src 'none'/);
    expect(JSON.parse(readFileSync(join(out, 'analysis.json'), 'utf8'))).toEqual(analysis);
    const browser = chromium();
    expect(browser, 'the analyzer test loads the report in headless Chromium: apt-get install -y chromium (.ci/run does)').not.toBeNull();
    const { status, dom, stderr } = dumpDom(file);
    expect(status, stderr).toBe(0);
    expect(dom).toMatch(/<table class="models">/);
    expect((dom.match(/<table class="layers">/g) ?? []).length).toBe(3);
    expect((dom.match(/<svg\b/g) ?? []).length).toBeGreaterThanOrEqual(2);
    const plottable = analysis.models.reduce((s, m) => s + m.layers.filter((l) => l.flops > 0 && l.bytes > 0).length, 0);
    expect((dom.match(new RegExp(`class="[^"]*${LAYER_CLASS}`, 'g')) ?? []).length).toBe(plottable);
    expect((dom.match(new RegExp(`class="[^"]*${MODEL_CLASS}`, 'g')) ?? []).length).toBe(3);
    expect((dom.match(new RegExp(`class="[^"]*${TIME_CLASS}`, 'g')) ?? []).length).toBe(analysis.models.reduce((s, m) => s + m.byKind.length, 0));
    const png = join(work, 'analyze.png');
    const shot = screenshot(file, png);
    expect(shot.status, shot.stderr).toBe(0);
    expect(readFileSync(png).subarray(1, 4).toString()).toBe('PNG');
  }, 300_000);

  it('analyses the whole zoo, and an ONNX file, and prints a summary', async () => {
    const r = await analyzeCli(['--model', 'all', '--out', join(work, 'zoo')]);
    expect(r.code, r.stderr).toBe(0);
    for (const n of zooNames()) expect(r.stdout).toContain(n);
    expect(r.stdout).toMatch(/ceilings \(profile, rpi3\): peak 38\.4 GFLOP\/s, DRAM 3\.60 GB\/s, ridge 10\.7 FLOP\/byte/);
    expect(r.stdout).toMatch(/report: .*zoo\/index\.html/);
    const m = loadZooModel('squeezenet_1.1', { quick: true });
    const file = join(work, 'squeeze.onnx');
    writeFileSync(file, exportOnnx(m.graph, makeGraphParams(m.graph, 1)));
    const o = await analyzeCli(['--model', file, '--out', join(work, 'onnx'), '--json']);
    expect(o.code, o.stderr).toBe(0);
    const a = JSON.parse(o.stdout) as Analysis;
    expect(a.models[0]!.name).toBe('squeeze');
    expect(a.models[0]!.origin).toMatch(/^ONNX file .*squeeze\.onnx \(opset 17, from roofbench\)/);
    expect(a.models[0]!.layers.length).toBe(m.graph.nodes.length);
    // a zoo-format YAML file of one's own, at its --quick resolution
    const yaml = join(work, 'my-net.yaml');
    writeFileSync(yaml, readFileSync(join(ROOT, 'suites/models/squeezenet_1.1.yaml'), 'utf8').replace('name: squeezenet_1.1', 'name: my-net'));
    const y = await analyzeCli(['--model', yaml, '--quick', '--out', join(work, 'yaml'), '--json']);
    expect(y.code, y.stderr).toBe(0);
    const ya = JSON.parse(y.stdout) as Analysis;
    expect(ya.models[0]).toMatchObject({ name: 'my-net', quick: true, input: [1, 3, 112, 112] });
    expect(ya.models[0]!.totals.macs).toBe(a.models[0]!.totals.macs);
  }, 300_000);

  it('escapes names from a hostile ONNX file in the report', async () => {
    const evil = '<script>alert(1)</script>';
    const g: Graph = {
      name: evil,
      inputs: [{ name: 'x"><img src=x onerror=alert(2)>', shape: [1, 4] }],
      outputs: ['y'],
      params: {},
      nodes: [{ name: `<img src=x onerror=alert(3)>&`, op: 'relu', inputs: ['x"><img src=x onerror=alert(2)>'], params: [], outputs: ['y'], attrs: {} }],
    };
    const file = join(work, 'evil.onnx');
    writeFileSync(file, exportOnnx(g, new Map()));
    const r = await analyzeCli(['--model', file, '--out', join(work, 'evil')]);
    expect(r.code, r.stderr).toBe(0);
    const html = readFileSync(join(work, 'evil', 'index.html'), 'utf8');
    expect(html).not.toContain(evil);
    expect(html).not.toMatch(/<img src=x/);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('&lt;img src=x onerror=alert(3)&gt;&amp;');
  });

  const bad: [string, string[], RegExp | ((dir: string) => RegExp), (dir: string) => void][] = [
    [
      'an unknown zoo name, with did-you-mean',
      ['--model', 'mobilenetv2'],
      /error: unknown model "mobilenetv2" \(did you mean "mobilenet_v2"\?\); the zoo has: alexnet/,
      () => {},
    ],
    [
      'a file that is not ONNX',
      ['--model', '{dir}/notes.onnx'],
      /error: .*notes\.onnx: not an ONNX model/,
      (d) => writeFileSync(join(d, 'notes.onnx'), 'these are my notes, not a model\n'),
    ],
    [
      'a truncated ONNX file',
      ['--model', '{dir}/cut.onnx'],
      /error: .*cut\.onnx: (the file ends in the middle of a protobuf message|tensor ".*" .* truncated)/,
      (d) => {
        const m = loadZooModel('squeezenet_1.1', { quick: true });
        const bytes = exportOnnx(m.graph, makeGraphParams(m.graph, 1));
        writeFileSync(join(d, 'cut.onnx'), bytes.subarray(0, Math.floor(bytes.length * 0.6)));
      },
    ],
    [
      'unsupported operators, every one named',
      ['--model', '{dir}/ops.onnx'],
      /error: .*ops\.onnx: 2 unsupported operators:\n {2}node 1 "up" \(Resize\): not a supported operator\n {2}node 2 "gelu" \(Gelu\): not a supported operator/,
      (d) => {
        const model = onnx.ModelProto.encode(
          onnx.ModelProto.create({
            irVersion: 8,
            opsetImport: [{ domain: '', version: 17 }],
            graph: {
              name: 'g',
              node: [
                { opType: 'Relu', name: 'r', input: ['x'], output: ['a'] },
                { opType: 'Resize', name: 'up', input: ['a'], output: ['b'] },
                { opType: 'Gelu', name: 'gelu', input: ['a'], output: ['c'] },
              ],
              input: [{ name: 'x', type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }, { dimValue: 4 }] } } } }],
              output: [{ name: 'b' }, { name: 'c' }],
            },
          }),
        ).finish();
        writeFileSync(join(d, 'ops.onnx'), model);
      },
    ],
    ['a missing file', ['--model', '{dir}/nope.onnx'], /error: --model .*nope\.onnx: no such file/, () => {}],
    ['an unknown device', ['--model', 'alexnet', '--device', 'rpi4'], /error: unknown device "rpi4" \(did you mean "rpi3"\?\)/, () => {}],
    [
      'a --history that is not a database (it fell back to the profile and exited 0)',
      ['--model', 'alexnet', '--history', '{dir}/results.json'],
      /error: --history .*results\.json: the history store .*results\.json is not an SQLite database, so not a roofbench history .*: give another --history file/,
      (d) => writeFileSync(join(d, 'results.json'), '{"runId": "not a store", "padding": "'.concat('x'.repeat(200), '"}\n')),
    ],
    [
      'a --history that is an SQLite database but not a roofbench history, with --chain',
      ['--chain', 'vgg16:conv3_1..conv3_3', '--history', '{dir}/other.sqlite'],
      /error: --history .*other\.sqlite: the history store .* is an SQLite database, but not a roofbench history \(it has no runs table\)/,
      (d) => new Database(join(d, 'other.sqlite')).exec('CREATE TABLE notes (t TEXT)').close(),
    ],
    ['a --history that is a directory', ['--model', 'alexnet', '--history', '{dir}'], /error: --history .*: the history store .* is a directory/, () => {}],
    ['no --model', [], /error: --model is required: a zoo name \(alexnet, /, () => {}],
    ['an unknown option', ['--model', 'alexnet', '--modle', 'x'], /error: unknown option --modle \(did you mean --model\?\)/, () => {}],
  ];
  for (const [why, args, message, setup] of bad) {
    it(`exits 2 on ${why}`, async () => {
      const dir = mkdtempSync(join(work, 'bad-'));
      setup(dir);
      const r = await analyzeCli([...args.map((x) => x.replace('{dir}', dir)), '--out', join(dir, 'out')]);
      expect(r.code, r.stderr + r.stdout).toBe(2);
      expect(r.stderr).toMatch(typeof message === 'function' ? message(dir) : message);
    });
  }
});
