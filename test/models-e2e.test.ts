/**
 * Whole networks end to end (the models suite): the CLI, the payload's light
 * runtime and ONNX Runtime, on `local` and over a real OpenSSH server
 * (test/helpers/test-sshd.sh) with identical outputs; an injected fault in one
 * layer fails that layer's check and so the network's; a network too large for
 * the device is skipped with the reason while the rest of the run goes on; bad
 * --model input is refused naming the file and node.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { isTimed, RunResults, type CaseResult } from '../core/contracts.js';
import { OPS } from '../core/graph.js';
import { exportOnnx } from '../core/onnx.js';
import { makeGraphParams } from '../reference/graph-init.js';
import { loadModelFile } from '../suites/models/zoo.js';
import { bench } from './helpers/cli.js';
import { loopbackDeviceLines, startSshd, stopSshd, type SshdInfo } from './helpers/sshd.js';

const EVERY_OP = 'test/fixtures/every-op.yaml';
const RUNTIME = 'model-runtime-im2col-f32';
let work: string;
let sshd: SshdInfo;

const outDir = () => join(mkdtempSync(join(work, 'run-')), 'r');
const readRun = (dir: string): RunResults => RunResults.parse(JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')));
const timed = (run: RunResults, caseId: string, variant: string) => {
  const r = run.results.find((x) => x.caseId === caseId && x.variant === variant);
  if (!r || !isTimed(r)) throw new Error(`${caseId} ${variant}: no timed result (${r ? r.state : 'none'}): ${JSON.stringify(r)}`);
  return r;
};

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'roofbench-models-'));
  sshd = await startSshd();
}, 300_000);

afterAll(async () => {
  if (sshd) await stopSshd(sshd);
});

describe('models suite end to end', () => {
  it('every-op and squeezenet at --quick: every layer checked, same outputs on local and over SSH', async () => {
    const devices = join(mkdtempSync(join(work, 'devices-')), 'devices.yaml');
    writeFileSync(devices, ['devices:', '  local:', '    transport: local', ...loopbackDeviceLines(sshd), ''].join('\n'));
    const args = ['--model', `${EVERY_OP},squeezenet_1.1`, '--quick', '--policy', 'im2col', '--no-ceilings', '--devices', devices];
    const localOut = outDir();
    const sshOut = outDir();
    const l = await bench([...args, '--device', 'local', '--out', localOut], { timeoutMs: 600_000 });
    expect(l.code, l.stderr + l.stdout).toBe(0);
    const s = await bench([...args, '--device', 'loopback', '--out', sshOut], { timeoutMs: 600_000 });
    expect(s.code, s.stderr + s.stdout).toBe(0);
    const local = readRun(localOut);
    const ssh = readRun(sshOut);
    expect(ssh.device.transport).toBe('ssh');
    expect(local.cases.map((c) => c.id)).toEqual(['models/every_op', 'models/squeezenet_1.1']);
    for (const caseId of ['models/every_op', 'models/squeezenet_1.1']) {
      const a = timed(local, caseId, RUNTIME);
      const b = timed(ssh, caseId, RUNTIME);
      expect(a.state).toBe('passed');
      expect(b.state).toBe('passed');
      // The same payload, graph, seed and kernels: the same bytes out.
      expect(b.accuracy.outputChecksum).toBe(a.accuracy.outputChecksum);
      const m = a.model!;
      expect(m.layers.length).toBe(local.cases.find((c) => c.id === caseId)!.graph.nodes.length);
      expect(m.layers.every((x) => x.check.ok && x.calls === a.timing.samples.length && x.ms >= 0)).toBe(true);
      expect(m.p50).toBeLessThanOrEqual(m.p99);
      expect(m.arenaBytes!).toBeLessThan(m.naiveArenaBytes!);
      expect(m.layerSumMs).not.toBeNull();
      expect(b.model!.layers.map((x) => x.check.ok)).toEqual(m.layers.map(() => true));
    }
    expect(new Set(timed(local, 'models/every_op', RUNTIME).model!.layers.map((x) => x.op))).toEqual(new Set(OPS));
    // A network's variants (the runtime and the ONNX Runtime peer) took turns in the run's interleaved rounds.
    for (const variant of [RUNTIME, 'model-onnxruntime-f32']) {
      const t = timed(local, 'models/every_op', variant).timing;
      expect(t.samplesPerRound, variant).toHaveLength(local.options.rounds);
      expect(t.samplesPerRound!.every((k) => k > 0)).toBe(true);
      expect(t.samplesPerRound!.reduce((a, k) => a + k, 0)).toBe(t.samples.length);
    }
    // The report has the network's tables and its error-growth chart.
    const html = readFileSync(join(localOut, 'index.html'), 'utf8');
    expect(html).toContain('Per-layer profile');
    expect(html).toContain('growth-chart');
  }, 900_000);

  it('a fault injected in one layer fails that layer alone, and so the network', async () => {
    const out = outDir();
    const faults = JSON.stringify({ modelLayerError: { node: 'grouped', relError: 1e-4 } });
    const r = await bench(['--model', EVERY_OP, '--quick', '--no-ceilings', '--policy', 'best', '--variant', 'model-runtime-best-f32', '--out', out], {
      env: { ROOFBENCH_TEST_FAULTS: faults },
    });
    expect(r.code, r.stderr).toBe(0);
    const res = timed(readRun(out), 'models/every_op', 'model-runtime-best-f32');
    expect(res.state).toBe('inaccurate');
    expect(res.model!.layers.filter((x) => !x.check.ok).map((x) => x.node)).toEqual(['grouped']);
    expect(res.accuracy.checks!.find((c) => c.name === 'layer checks')!.detail).toMatch(/grouped/);
    // Without the fault the same run passes (the check is not failing everything).
    const clean = outDir();
    const c = await bench(['--model', EVERY_OP, '--quick', '--no-ceilings', '--policy', 'best', '--variant', 'model-runtime-best-f32', '--out', clean]);
    expect(c.code, c.stderr).toBe(0);
    expect(timed(readRun(clean), 'models/every_op', 'model-runtime-best-f32').state).toBe('passed');
  }, 600_000);

  it('the ONNX Runtime peer is checked on the logits too: a saturated softmax hides a layer off by 1e-3 (injected fault), the logits do not', async () => {
    const args = (out: string) => ['--model', 'shufflenet_v1_0.5x_g3', '--quick', '--no-ceilings', '--variant', 'model-onnxruntime-f32', '--out', out];
    const clean = outDir();
    const c = await bench(args(clean));
    expect(c.code, c.stderr).toBe(0);
    const ok = timed(readRun(clean), 'models/shufflenet_v1_0.5x_g3', 'model-onnxruntime-f32');
    const okBy = new Map(ok.accuracy.checks!.map((k) => [k.name, k]));
    expect(ok.state).toBe('passed');
    expect(okBy.get('output')!.value).toBe(0); // one-hot in float32 and float64 alike
    expect(okBy.get('logits')!.ok).toBe(true);
    const out = outDir();
    const faults = JSON.stringify({ modelLayerError: { node: 'conv1', relError: 1e-3 } });
    const r = await bench(args(out), { env: { ROOFBENCH_TEST_FAULTS: faults } });
    expect(r.code, r.stderr).toBe(0);
    const bad = timed(readRun(out), 'models/shufflenet_v1_0.5x_g3', 'model-onnxruntime-f32');
    const by = new Map(bad.accuracy.checks!.map((k) => [k.name, k]));
    expect(by.get('output')!.ok).toBe(true);
    expect(by.get('logits')!.ok).toBe(false);
    expect(bad.state).toBe('inaccurate');
  }, 600_000);

  it('a network too large for the device is skipped with the reason; the rest of the run is kept', async () => {
    const out = outDir();
    const r = await bench(['--model', `vgg16,${EVERY_OP}`, '--no-ceilings', '--policy', 'im2col', '--variant', RUNTIME, '--out', out], {
      env: { ROOFBENCH_TEST_FAULTS: JSON.stringify({ deviceMemoryBytes: 2 ** 30 }) },
      timeoutMs: 600_000,
    });
    expect(r.code, r.stderr).toBe(0);
    const run = readRun(out);
    const vgg = run.results.find((x) => x.caseId === 'models/vgg16') as CaseResult;
    expect(vgg.state).toBe('skipped');
    expect(vgg.state === 'skipped' && vgg.reason).toMatch(/vgg16 needs about [12][0-9]{3} MiB .*weights.* this device has 1024 MiB/);
    // Checked on the host: the network was never shipped to the device.
    expect(vgg.state === 'skipped' && vgg.reason).toMatch(/checked on the host before shipping/);
    const started = readFileSync(join(out, 'events.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('"case-start"'));
    expect(started.some((l) => l.includes('models/vgg16'))).toBe(false);
    expect(started.some((l) => l.includes('models/every_op'))).toBe(true);
    expect(timed(run, 'models/every_op', RUNTIME).state).toBe('passed');
  }, 600_000);
});

describe('bad --model input', () => {
  const g = loadModelFile(EVERY_OP).graph;
  const good = exportOnnx(g, makeGraphParams(g, 1));

  it.each([
    ['a zoo name that does not exist', 'mobilenet_v7', /unknown model "mobilenet_v7" \(did you mean "mobilenet_v1"\?\)/],
    ['a file that is not ONNX', 'not.onnx', /not\.onnx/],
    ['a truncated ONNX file', 'truncated.onnx', /truncated\.onnx/],
    ['an unsupported operator', 'upsample.onnx', /upsample\.onnx: \d+ unsupported operators?:\s+node 0 "stem" \(Upsample\)/],
    ['an empty name (not the default suite run instead)', '', /--model needs a zoo name, a \.onnx or a zoo-format \.yaml file \(got nothing\)/],
  ])('%s: exit 2, naming the file (and node)', async (_what, name, message) => {
    const dir = mkdtempSync(join(work, 'bad-'));
    writeFileSync(join(dir, 'not.onnx'), 'name: not a network\n');
    writeFileSync(join(dir, 'truncated.onnx'), good.subarray(0, Math.floor(good.length / 2)));
    const m = onnxProto.onnx.ModelProto.decode(good);
    m.graph!.node![0]!.opType = 'Upsample';
    writeFileSync(join(dir, 'upsample.onnx'), onnxProto.onnx.ModelProto.encode(m).finish());
    const file = name.endsWith('.onnx') ? join(dir, name) : name;
    if (name === '') {
      // --list with a --model is refused too (it used to list and exit 0)
      const l = await bench(['--list', '--model', 'mobilnet_v1']);
      expect(l.code).toBe(2);
      expect(l.stderr).toMatch(/--list .* takes no --model/);
    }
    const r = await bench(['--model', file, '--quick', '--no-ceilings', '--out', outDir()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});
