/**
 * `--peers` as a user runs it (system tier): the WebAssembly peers (onnxruntime-web, XNNPACK via
 * tfjs-backend-wasm) as conv variants of a normal run. Locally: both pass the float64 reference check
 * in the same rounds as the built-in variants, are stored in results.json and the history, and the
 * report names their library. Over SSH to the test sshd (a real OpenSSH server, pinned host key): the
 * peers part is uploaded once into <workDir>/peers/<hash>, a second run reuses it (nothing uploaded), a
 * file changed in the device's copy is refused by hash before anything is imported (the peers are
 * skipped with the file named and what to do, the other variants still measured), and the next run
 * uploads it again. With --threads 1,2: onnxruntime-web runs at the run's highest count only, tfjs at
 * one thread, each skipped elsewhere with the reason. Kept short: one or two cases, --quick.
 */
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTimed, RunResults, type CaseResult } from '../core/contracts.js';
import { HistoryStore } from '../harness/history/store.js';
import { bench } from './helpers/cli.js';
import { loopbackDeviceLines, startSshd, stopSshd, type SshdInfo } from './helpers/sshd.js';

const ORT = 'conv-onnxruntime-web-f32';
const TFJS = 'conv-tfjs-xnnpack-f32';
const LIBRARY: Record<string, string> = {
  [ORT]: 'onnxruntime-web (MLAS, WebAssembly SIMD)',
  [TFJS]: 'XNNPACK via @tensorflow/tfjs-backend-wasm (WebAssembly SIMD)',
};

let work: string;
let sshd: SshdInfo | undefined;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'roofbench-peers-run-'));
});
afterAll(async () => {
  if (sshd) await stopSshd(sshd);
});

const readRun = (dir: string) => RunResults.parse(JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')));
const byName = (run: RunResults) => new Map<string, CaseResult>(run.results.map((r) => [`${r.caseId} ${r.variant}`, r]));

describe('--peers', () => {
  it('locally (--variant naming the peers implies --peers): both pass the reference check beside the built-in variants, in results.json, the history and the report', async () => {
    const out = join(work, 'local');
    const history = join(work, 'history.sqlite');
    const r = await bench(
      // No --peers: --variant naming a peer implies it, and says so.
      ['--quick', '--case', 'vgg16.conv3_2,mobilenet_v1.conv_dw_2', '--variant', `${ORT},${TFJS},conv-im2col-gemm-f32`, '--no-baselines', '--out', out],
      { env: { ROOFBENCH_HISTORY: history }, timeoutMs: 300_000 },
    );
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stderr).toContain(`--variant ${ORT},${TFJS} implies --peers`);
    const run = readRun(out);
    const by = byName(run);
    for (const c of ['conv/vgg16.conv3_2', 'conv/mobilenet_v1.conv_dw_2']) {
      for (const v of [ORT, TFJS, 'conv-im2col-gemm-f32']) {
        const res = by.get(`${c} ${v}`);
        expect(res?.state, `${c} ${v}: ${JSON.stringify(res)}`).toBe('passed');
        if (!res || !isTimed(res)) continue;
        // The same exact-algorithm check as the kernels, measured in the same rounds.
        expect(res.accuracy.tolerance.source).toMatch(/^gamma_n\*sum\|x\*w\| per element/);
        expect(res.accuracy.checks?.map((k) => `${k.name}:${k.ok}`)).toEqual(['per-element bound:true', 'error norm:true', 'systematic error:true']);
        expect(res.timing.samples.length).toBeGreaterThanOrEqual(run.options.minSamples);
      }
      for (const v of [ORT, TFJS]) expect(by.get(`${c} ${v}`)?.info?.library).toBe(LIBRARY[v]);
    }
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    for (const v of [ORT, TFJS]) {
      expect(html).toContain(v);
      expect(html).toContain(LIBRARY[v]);
    }
    const store = HistoryStore.open(history);
    try {
      const series = store.series().map((s) => s.variant);
      expect(series).toEqual(expect.arrayContaining([ORT, TFJS]));
    } finally {
      store.close();
    }
  }, 360_000);

  it('over SSH: uploaded once, reused, a tampered file refused by hash (the rest still measured), then replaced; ORT-web at the run’s highest thread count', async () => {
    sshd = await startSshd();
    const devices = join(work, 'devices.yaml');
    writeFileSync(devices, ['# test registry', 'devices:', ...loopbackDeviceLines(sshd), ''].join('\n'));
    const peersDir = join(sshd.dir, 'remote cache', 'peers');
    const run = async (name: string, extra: string[] = []) => {
      const out = join(work, name);
      const r = await bench(
        [
          '--devices',
          devices,
          '--device',
          'loopback',
          '--peers',
          '--quick',
          '--case',
          'vgg16.conv3_2',
          '--variant',
          `${ORT},${TFJS},conv-im2col-gemm-f32`,
          '--no-baselines',
          '--no-ceilings',
          '--no-history',
          '--out',
          out,
          ...extra,
        ],
        { timeoutMs: 600_000 },
      );
      return { r, run: readRun(out) };
    };

    // 1. First run, at 1 and 2 threads: the part is uploaded (about 14 MB and more).
    const first = await run('ssh-1', ['--threads', '1,2']);
    expect(first.r.code, first.r.stderr + first.r.stdout).toBe(0);
    expect(first.r.stderr).toMatch(/uploaded the peers part [0-9a-f]{16} \(\d+\.\d MB\)/);
    expect(first.run.device.uploadedBytes).toBeGreaterThan(10_000_000);
    const hashes = readdirSync(peersDir).filter((d) => /^[0-9a-f]{16}$/.test(d));
    expect(hashes).toHaveLength(1);
    const by1 = byName(first.run);
    const at = (v: string) => by1.get(`conv/vgg16.conv3_2 ${v}`);
    expect(at(TFJS)?.state).toBe('passed');
    expect(at(`${ORT}@t2`)?.state, JSON.stringify(at(`${ORT}@t2`))).toBe('passed');
    expect(at(`${ORT}@t2`)?.info?.threads).toBe(2);
    expect(at(`${ORT}@t2`)?.threads).toBe(2);
    const ortOne = at(ORT);
    expect(ortOne?.state === 'skipped' && ortOne.reason).toMatch(/onnxruntime-web fixes its thread count once per process.*2 thread\(s\).*--threads 1/);
    const tfjsTwo = at(`${TFJS}@t2`);
    expect(tfjsTwo?.state === 'skipped' && tfjsTwo.reason).toMatch(/not run on 2 threads: tfjs-backend-wasm's threaded build needs browser Web Workers/);

    // 2. Second run: the device holds the part (same manifest): nothing uploaded.
    const second = await run('ssh-2');
    expect(second.r.code, second.r.stderr).toBe(0);
    expect(second.r.stderr).toMatch(/peers part [0-9a-f]{16} already on the device/);
    expect(second.r.stderr).not.toMatch(/uploaded the peers part/);
    expect(second.run.device.uploadedBytes).toBe(0);
    for (const v of [ORT, TFJS]) expect(byName(second.run).get(`conv/vgg16.conv3_2 ${v}`)?.state).toBe('passed');

    // 3. A file of the device's copy changed: refused before anything is imported, the file named, the rest measured.
    appendFileSync(join(peersDir, hashes[0]!, 'ort-wasm-simd-threaded.wasm'), Buffer.from([0]));
    const third = await run('ssh-3');
    expect(third.r.code, third.r.stderr).toBe(0);
    expect(third.run.device.uploadedBytes).toBe(0);
    const by3 = byName(third.run);
    expect(by3.get('conv/vgg16.conv3_2 conv-im2col-gemm-f32')?.state).toBe('passed');
    for (const v of [ORT, TFJS]) {
      const res = by3.get(`conv/vgg16.conv3_2 ${v}`);
      expect(res?.state, JSON.stringify(res)).toBe('skipped');
      expect(res?.state === 'skipped' && res.reason).toMatch(
        /does not match its hashes \(ort-wasm-simd-threaded\.wasm\): nothing in it was loaded; the next run with --peers replaces it/,
      );
    }
    expect(third.r.stdout + third.r.stderr + JSON.stringify(third.run.stderr ?? '')).toMatch(
      /moved aside to .*peers\/\.damaged-[0-9a-f]{16}-\d+: the next run with --peers uploads it again/,
    );

    // 4. The next run uploads it again, and the peers run.
    const fourth = await run('ssh-4');
    expect(fourth.r.code, fourth.r.stderr).toBe(0);
    expect(fourth.r.stderr).toMatch(/uploaded the peers part/);
    for (const v of [ORT, TFJS]) expect(byName(fourth.run).get(`conv/vgg16.conv3_2 ${v}`)?.state).toBe('passed');
    expect(readdirSync(peersDir).filter((d) => d.includes('.damaged-'))).toEqual([]);
  }, 1_200_000);

  it('on whole networks: onnxruntime-web runs the same ONNX model as the native peer, tfjs the network translated to tfjs ops, checked the same way', async () => {
    const out = join(work, 'models');
    const r = await bench(
      [
        '--peers',
        '--quick',
        '--model',
        'squeezenet_1.1',
        '--variant',
        'model-onnxruntime-web-f32,model-onnxruntime-f32,model-tfjs-xnnpack-f32',
        '--no-history',
        '--no-ceilings',
        '--out',
        out,
      ],
      { timeoutMs: 300_000 },
    );
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const by = byName(readRun(out));
    const web = by.get('models/squeezenet_1.1 model-onnxruntime-web-f32');
    const native = by.get('models/squeezenet_1.1 model-onnxruntime-f32');
    expect(web?.state, JSON.stringify(web)).toBe('passed');
    expect(web?.info).toMatchObject({ code: 'wasm', library: 'onnxruntime-web (MLAS, WebAssembly SIMD)', threads: 1 });
    if (web && isTimed(web) && native && isTimed(native)) {
      // The same model bytes and check: the same output check, and the two engines agree closely.
      expect(web.accuracy.checks?.map((k) => k.name)).toEqual(native.accuracy.checks?.map((k) => k.name));
      expect(web.accuracy.nonPortable).toBeUndefined();
      expect(web.prepare.note).toMatch(/session: onnxruntime-web \(WebAssembly SIMD/);
      expect(Number(web.accuracy.relL2)).toBeLessThan(1e-5);
    }
    const tfjs = by.get('models/squeezenet_1.1 model-tfjs-xnnpack-f32');
    expect(tfjs?.state, JSON.stringify(tfjs)).toBe('passed');
    expect(tfjs?.info).toMatchObject({ code: 'wasm', library: 'XNNPACK via tfjs-backend-wasm (WebAssembly SIMD)', threads: 1 });
    if (tfjs && isTimed(tfjs) && native && isTimed(native)) {
      // The same output check as the ONNX Runtime peers (plus tfjs's own: no tensor leaked across the timed runs).
      expect(tfjs.accuracy.checks?.map((k) => k.name)).toEqual([...native.accuracy.checks!.map((k) => k.name), 'no leaked tensors']);
      expect(tfjs.model?.engine).toBe('tfjs-wasm');
      expect(tfjs.prepare.note).toMatch(/translated op by op to tfjs .*NHWC/);
      expect(Number(tfjs.accuracy.relL2)).toBeLessThan(1e-5);
    }
  }, 360_000);

  it('on whole networks at --threads 1,2: onnxruntime-web runs at 2 threads (its one count in the run), skipped at 1 with the reason; tfjs runs at 1, skipped at 2', async () => {
    const out = join(work, 'models-threads');
    const r = await bench(
      [
        '--peers',
        '--quick',
        '--model',
        'test/fixtures/every-op.yaml',
        '--variant',
        'model-onnxruntime-web-f32,model-tfjs-xnnpack-f32,model-runtime-im2col-f32',
        '--threads',
        '1,2',
        '--no-history',
        '--no-ceilings',
        '--out',
        out,
      ],
      { timeoutMs: 300_000 },
    );
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const by = byName(readRun(out));
    const two = by.get('models/every_op model-onnxruntime-web-f32@t2');
    expect(two?.state, JSON.stringify(two)).toBe('passed');
    expect(two?.info).toMatchObject({ code: 'wasm', library: 'onnxruntime-web (MLAS, WebAssembly SIMD)', threads: 2 });
    expect(two?.threads).toBe(2);
    if (two && isTimed(two)) {
      expect(two.prepare.note).toMatch(/session: onnxruntime-web \(WebAssembly SIMD, wasm EP, 2 thread\(s\)/);
      expect(two.model?.engine).toBe('onnxruntime-web');
    }
    const one = by.get('models/every_op model-onnxruntime-web-f32');
    expect(one?.state === 'skipped' && one.reason).toMatch(/this run runs it at 2 thread\(s\).*run with --threads 1 for its one-thread figure/);
    const tfjs = by.get('models/every_op model-tfjs-xnnpack-f32@t2');
    expect(tfjs?.state === 'skipped' && tfjs.reason).toMatch(/^not run on 2 threads: tfjs-backend-wasm's threaded build needs browser Web Workers/);
    // At one thread it runs the network (translated to tfjs ops) and passes.
    expect(by.get('models/every_op model-tfjs-xnnpack-f32')?.state).toBe('passed');
    expect(by.get('models/every_op model-runtime-im2col-f32@t2')?.state).toBe('passed');
  }, 360_000);

  it('--peers without the conv or models suite is refused with what to do; --list shows the peers', async () => {
    const r = await bench(['--peers', '--quick', '--suite', 'sparse', '--no-history']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--peers adds the WebAssembly peers to the conv and models suites, which this run leaves out \(--suite sparse\)/);
    const none = await bench([
      '--peers',
      '--quick',
      '--suite',
      'conv',
      '--case',
      'vgg16.conv3_2',
      '--variant',
      'conv-direct-naive-f32',
      '--no-history',
      '--no-ceilings',
    ]);
    expect(none.code, none.stderr).toBe(0);
    // With --suite conv only the conv suite's peers are offered (it listed the models suite's too, unspaced).
    expect(none.stderr).toMatch(
      /--peers: no peer runs: --variant conv-direct-naive-f32 names none of them \(add conv-onnxruntime-web-f32, conv-tfjs-xnnpack-f32 or some of them to --variant/,
    );
    const list = await bench(['--list', '--suite', 'conv']);
    expect(list.stdout).toMatch(/conv-onnxruntime-web-f32 .*\(with --peers\)/);
    const models = await bench(['--list', '--suite', 'models']);
    for (const name of ['model-onnxruntime-web-f32', 'model-tfjs-xnnpack-f32']) expect(models.stdout).toMatch(new RegExp(`${name} .*\\(with --peers\\)`));
  }, 120_000);
});
