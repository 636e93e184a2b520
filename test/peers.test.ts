/**
 * The WebAssembly peers (suites/conv/peers/): onnxruntime-web and XNNPACK via tfjs-backend-wasm, loaded from
 * the peers part of the payload (harness/peers-payload.ts) after its hashes are verified, checked against the
 * float64 reference on the conv kit's awkward shapes through the runner's own check (test/helpers/conformance.ts).
 * A peer that cannot load reports why (never throws); a tampered peers part is refused before anything runs;
 * a peer whose output is wrong (injected fault, test only) fails the check.
 */
import { execFile } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ConvVariant, Prepared } from '../core/contracts.js';
import { buildPeersPayload, type PeersPayload } from '../harness/peers-payload.js';
import { convKit } from '../suites/conv/kit.js';
import { makeOnnxruntimeWebConv } from '../suites/conv/peers/onnxruntime-web.js';
import { makeTfjsWasmConv } from '../suites/conv/peers/tfjs-wasm.js';
import { loadPeers } from '../suites/conv/peers/load.js';
import { runConformance } from './helpers/conformance.js';
import { useKernels } from './helpers/kernels.js';

const kernels = useKernels();
let peers: PeersPayload;
const scratch = mkdtempSync(join(tmpdir(), 'roofbench-peers-'));

beforeAll(async () => {
  peers = await buildPeersPayload({ root: join(scratch, 'built') });
}, 120_000);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('WebAssembly peers', () => {
  it('the peers part is content-hashed and holds the SIMD builds', () => {
    expect(Object.keys(peers.files).sort()).toEqual(
      ['manifest.json', 'ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm', 'peers.mjs', 'tfjs-backend-wasm-simd.wasm'].sort(),
    );
    expect(peers.hash).toMatch(/^[0-9a-f]{16}$/);
    expect(peers.bytes['ort-wasm-simd-threaded.wasm']).toBeGreaterThan(1_000_000);
  });

  it('both peers pass the float64 reference check on the kit shapes they apply to (tfjs skips grouped convs with the reason)', async () => {
    const ort = makeOnnxruntimeWebConv(peers, 1);
    const tfjs = makeTfjsWasmConv(peers, 1);
    expect(await ort.ready()).toBe(true);
    expect(await tfjs.ready()).toBe(true);
    const kit = { ...convKit, variants: [ort.variant, tfjs.variant] };
    const out = await runConformance([kit], kernels(), { wasmSimd: true, wasmRelaxedSimd: false });
    expect(out.filter((o) => o.state === 'failed')).toEqual([]);
    for (const v of [ort.variant.name, tfjs.variant.name])
      expect(out.filter((o) => o.variant === v && o.state === 'passed').length, v).toBeGreaterThanOrEqual(3);
    for (const o of out.filter((x) => x.state === 'skipped')) expect(o.detail).toMatch(/grouped|not depthwise|apply/);
  }, 180_000);

  it('both peers load and run in a plain Node process, as on a device (no test runner globals)', async () => {
    const fixture = fileURLToPath(new URL('./fixtures/peers-node.ts', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', fixture, JSON.stringify(peers), inject('kernelsDir')], {
      timeout: 120_000,
    });
    // Interior output of a 3x3 conv of 0.5 x 0.25 over 3 channels with padding: the corner sees 2x2 taps x 3 channels.
    expect(JSON.parse(stdout)).toEqual({ 'conv-onnxruntime-web-f32': 0.5 * 0.25 * 4 * 3, 'conv-tfjs-xnnpack-f32': 0.5 * 0.25 * 4 * 3 });
  }, 150_000);

  it('a wrong peer output fails the same check (injected fault)', async () => {
    const ort = makeOnnxruntimeWebConv(peers, 1);
    await ort.ready();
    const inner = ort.variant;
    const broken: ConvVariant = {
      ...inner,
      name: 'conv-broken-peer-f32',
      async prepareAsync(ctx, shape, x, w): Promise<Prepared> {
        const p = await inner.prepareAsync!(ctx, shape, x, w);
        return {
          ...p,
          output: () => {
            const y = Float32Array.from(p.output());
            y[y.length >> 1] = (y[y.length >> 1] ?? 0) + 0.5;
            return y;
          },
        };
      },
    };
    const out = await runConformance([{ ...convKit, variants: [broken] }], kernels(), { wasmSimd: true, wasmRelaxedSimd: false });
    expect(out.filter((o) => o.state === 'failed').length).toBeGreaterThan(0);
  }, 120_000);

  it('reports why instead of crashing: no peers part, a tampered one, tfjs on 2 threads in Node', async () => {
    expect(await makeOnnxruntimeWebConv(null).ready()).toMatch(/not in this payload/);
    const tampered = join(scratch, 'tampered');
    cpSync(peers.dir, tampered, { recursive: true });
    appendFileSync(join(tampered, 'peers.mjs'), '\nthrow new Error("must never run");\n');
    const r = await loadPeers({ ...peers, dir: tampered });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toMatch(/does not match its hashes \(peers\.mjs\)/);
    const t2 = makeTfjsWasmConv(peers, 2);
    expect(await t2.ready()).toMatch(/Web Workers/);
    expect(t2.variant.applies({ n: 1, c: 4, h: 5, w: 5, k: 4, r: 3, s: 3, stride: 1, pad: 1, groups: 1 })).toMatch(/Web Workers/);
  });
});
