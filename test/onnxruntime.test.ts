/**
 * conv-onnxruntime-f32 and the ONNX model encoder behind it: ONNX Runtime
 * accepts the in-memory one-node Conv model for awkward shapes and its output
 * matches the float64 reference within the exact-fp32 tolerance (the check the
 * runner applies); the variant goes through measureCase (awaited prepare, async
 * timed run); and a device without a loadable onnxruntime-node gets a
 * `skipped` result with the reason, never a throw. No speed is asserted.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { convCase } from '../core/contracts.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CaseSpec, ConvShape, KernelContext, RunOptions } from '../core/contracts.js';
import type { Kernels } from '../kernels/index.js';
import { measureCase } from '../harness/runner/measure.js';
import { conv2dRef } from '../reference/conv.js';
import { convBytes, convFlops } from '../reference/cost.js';
import { errorMetrics } from '../reference/metrics.js';
import { makeConvInputs } from '../reference/random.js';
import { exactToleranceCheck } from '../reference/tolerance.js';
import { encodeConvModel } from '../suites/conv/onnx-model.js';
import { convVariants } from '../suites/conv/variants.js';
import { convOnnxruntimeF32, loadOnnxruntime, makeConvOnnxruntimeF32 } from '../suites/conv/variants/onnxruntime.js';
import { convShape as shape } from './helpers/shapes.js';

/** The variant ignores the WebAssembly kernels; measureCase only passes the context through. */
const ctx: KernelContext = { kernels: {} as Kernels };

const CASES: { why: string; s: ConvShape }[] = [
  { why: 'odd sizes, n=2, pad 1', s: shape({ n: 2, c: 3, h: 7, w: 9, k: 5, r: 3, s: 3, pad: 1 }) },
  { why: 'stride 2, pad 0', s: shape({ c: 4, h: 11, w: 13, k: 6, r: 3, s: 3, stride: 2 }) },
  { why: '5x5, pad 2', s: shape({ c: 3, h: 9, w: 10, k: 7, r: 5, s: 5, pad: 2 }) },
  { why: 'groups 2', s: shape({ c: 6, h: 8, w: 8, k: 10, r: 3, s: 3, pad: 1, groups: 2 }) },
  { why: 'groups 3, stride 2, n=2', s: shape({ n: 2, c: 9, h: 10, w: 7, k: 6, r: 3, s: 3, stride: 2, pad: 1, groups: 3 }) },
  { why: 'depthwise 3x3, n=2', s: shape({ n: 2, c: 5, h: 9, w: 11, k: 5, r: 3, s: 3, pad: 1, groups: 5 }) },
  { why: 'depthwise 3x3 s2, 32 channels (blocked layout)', s: shape({ c: 32, h: 13, w: 21, k: 32, r: 3, s: 3, stride: 2, pad: 1, groups: 32 }) },
  { why: '1x1, odd channel counts', s: shape({ c: 7, h: 5, w: 6, k: 9 }) },
  { why: '1x1 stride 2, 48 -> 40 channels (blocked layout)', s: shape({ c: 48, h: 9, w: 9, k: 40, stride: 2 }) },
  { why: '3x3, 64 -> 48 channels (blocked layout), n=2', s: shape({ n: 2, c: 64, h: 10, w: 9, k: 48, r: 3, s: 3, pad: 1 }) },
  { why: '7x7 stride 2 pad 3, 3 input channels (stem)', s: shape({ c: 3, h: 23, w: 19, k: 16, r: 7, s: 7, stride: 2, pad: 3 }) },
  { why: 'kernel as large as the padded input (1x1 output)', s: shape({ c: 2, h: 3, w: 3, k: 3, r: 5, s: 5, pad: 1 }) },
];

describe('conv-onnxruntime-f32 against the float64 reference', () => {
  it('is in the conv suite, with the counting rule for cost', () => {
    expect(convVariants).toContain(convOnnxruntimeF32);
    expect(convOnnxruntimeF32.name).toBe('conv-onnxruntime-f32');
    expect(convOnnxruntimeF32.accuracy).toEqual({ kind: 'exact' });
    // Native code: excluded from the cross-device bit-identity (portability) check.
    expect(convOnnxruntimeF32.nativeCode).toBe(true);
    const s = shape({ c: 3, h: 7, w: 9, k: 5, r: 3, s: 3, pad: 1 });
    expect(convOnnxruntimeF32.flops(s)).toBe(convFlops(s));
    expect(convOnnxruntimeF32.bytes(s)).toBe(convBytes(s));
  });

  it('finds onnxruntime-node from the repository', () => {
    const l = loadOnnxruntime(pathToFileURL(join(process.cwd(), 'harness', 'runner', 'main.ts')).href);
    expect(l.ok, l.ok ? '' : l.reason).toBe(true);
  });

  for (const { why, s } of CASES) {
    const label = `${why}: n${s.n} c${s.c} ${s.h}x${s.w} k${s.k} ${s.r}x${s.s} s${s.stride} p${s.pad} g${s.groups}`;
    it(label, async () => {
      expect(convOnnxruntimeF32.applies(s)).toBe(true);
      const { x, w } = makeConvInputs(s, 4321, 'uniform(-1,1)');
      const ref = conv2dRef(s, x, w);
      const reduction = (s.c / s.groups) * s.r * s.s;
      const v = convOnnxruntimeF32;
      const p = await v.prepareAsync!(ctx, s, x, w);
      try {
        expect(() => p.run()).toThrow(/runAsync/);
        expect(() => p.output()).toThrow(/before runAsync/);
        await p.runAsync!();
        const y = Float32Array.from(p.output());
        const m = errorMetrics(y, ref.y);
        const t = exactToleranceCheck(y, ref.y, ref.absBound, reduction);
        expect(m.relL2, 'relL2').toBeLessThan(1e-5);
        expect(t.ok, `max abs error ${m.maxAbs} vs bound (worst ratio ${t.worstRatio} at ${t.worstIndex})`).toBe(true);
        await p.runAsync!();
        expect(Array.from(p.output()), 'second run').toEqual(Array.from(y));
        expect(p.preparedBytes).toBeGreaterThan(w.length * 4);
        expect(p.prepareNote).toMatch(/onnxruntime-node \d+\.\d+/);
      } finally {
        p.dispose();
        p.dispose(); // idempotent
      }
      expect(() => p.output()).toThrow();
    });
  }

  it('on 2 intra-op threads (conv-onnxruntime-t2-f32): the same reference check', async () => {
    const v = makeConvOnnxruntimeF32(import.meta.url, 2);
    expect(v.name).toBe('conv-onnxruntime-t2-f32');
    const s = shape({ n: 2, c: 64, h: 10, w: 9, k: 48, r: 3, s: 3, pad: 1 });
    const { x, w } = makeConvInputs(s, 99, 'uniform(-1,1)');
    const ref = conv2dRef(s, x, w);
    const p = await v.prepareAsync!(ctx, s, x, w);
    try {
      await p.runAsync!();
      const y = Float32Array.from(p.output());
      expect(exactToleranceCheck(y, ref.y, ref.absBound, s.c * 9).ok).toBe(true);
      expect(p.prepareNote).toMatch(/2 intra-op/);
    } finally {
      p.dispose();
    }
  });

  it('does not apply to an invalid shape, and says why', () => {
    expect(convOnnxruntimeF32.applies(shape({ h: 2, w: 2, r: 3, s: 3 }))).toMatch(/output size/);
  });

  it('prepare() points to prepareAsync()', () => {
    const s = shape({ c: 1, h: 3, w: 3, k: 1 });
    expect(() => convOnnxruntimeF32.prepare(ctx, s, new Float32Array(9), new Float32Array(1))).toThrow(/prepareAsync/);
  });

  it('the encoder rejects weights of the wrong length and invalid shapes', () => {
    const s = shape({ c: 2, h: 4, w: 4, k: 3, r: 3, s: 3, pad: 1 });
    expect(encodeConvModel(s, new Float32Array(3 * 2 * 9)).length).toBeGreaterThan(3 * 2 * 9 * 4);
    expect(() => encodeConvModel(s, new Float32Array(5))).toThrow(/needs K\*\(C\/groups\)\*R\*S = 54/);
    expect(() => encodeConvModel(shape({ c: 3, k: 4, groups: 2 }), new Float32Array(6))).toThrow(/divisible by groups/);
  });
});

describe('conv-onnxruntime-f32 where onnxruntime-node cannot be loaded', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'roofbench-ort-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('not installed: applies() returns the reason and prepare rejects with it', async () => {
    const bare = join(dir, 'bare');
    await mkdir(bare);
    const v = makeConvOnnxruntimeF32(pathToFileURL(join(bare, 'runner.mjs')).href);
    const s = shape({ c: 2, h: 4, w: 4, k: 2 });
    const reason = v.applies(s);
    expect(reason).toMatch(/onnxruntime-node is not installed on this device \(it is not part of the payload\)/);
    expect(reason).toContain(`npm install onnxruntime-node in ${bare}`);
    await expect(v.prepareAsync!(ctx, s, new Float32Array(32), new Float32Array(4))).rejects.toThrow(/not installed/);
  });

  it('installed but unloadable (e.g. no binary for this platform): applies() returns the load error', async () => {
    const pkg = join(dir, 'broken', 'node_modules', 'onnxruntime-node');
    await mkdir(pkg, { recursive: true });
    await writeFile(join(pkg, 'package.json'), JSON.stringify({ name: 'onnxruntime-node', main: 'index.js' }));
    await writeFile(join(pkg, 'index.js'), "throw new Error('no onnxruntime_binding.node for this platform');\n");
    const v = makeConvOnnxruntimeF32(pathToFileURL(join(dir, 'broken', 'payloads', 'abc', 'runner.mjs')).href);
    const reason = v.applies(shape({ c: 2, h: 4, w: 4, k: 2 }));
    expect(reason).toMatch(/onnxruntime-node \(found at .*broken.*\) failed to load on this device/);
    expect(reason).toMatch(/no onnxruntime_binding\.node for this platform/);
  });

  it('through measureCase: skipped with the reason when missing, passed (awaited prepare, async timing) when present', async () => {
    const missing = makeConvOnnxruntimeF32(pathToFileURL(join(dir, 'runner.mjs')).href);
    const s = shape({ n: 2, c: 4, h: 6, w: 7, k: 3, r: 3, s: 3, pad: 1 });
    const caseSpec: CaseSpec = convCase({
      id: 'conv/test.ort',
      suite: 'conv',
      layer: 'test.ort',
      description: 'small conv for the onnxruntime variant',
      shape: s,
      seed: 7,
      distribution: 'uniform(-1,1)',
      tags: [],
    });
    const options: RunOptions = {
      quick: true,
      suites: ['conv'],
      filter: null,
      distribution: 'uniform(-1,1)',
      targetMs: 5,
      minSamples: 3,
      maxSamples: 4,
      minSampleMs: 0.5,
      cvTarget: 0.05,
      rounds: 2,
    };
    const results = await measureCase(caseSpec, ['present', 'missing'], {
      ctx,
      features: { wasmSimd: true },
      options,
      ceilings: null,
      resolveVariant: (_suite, name) => (name === 'present' ? convOnnxruntimeF32 : name === 'missing' ? missing : undefined),
    });
    // Both carry the variant's own name; tell them apart by state.
    expect(results.map((r) => r.state).sort()).toEqual(['passed', 'skipped']);
    const ok = results.find((r) => r.state !== 'skipped');
    const skipped = results.find((r) => r.state === 'skipped');
    expect(ok?.state, JSON.stringify(ok)).toBe('passed');
    if (ok?.state === 'passed') {
      expect(ok.timing.samples.length).toBeGreaterThanOrEqual(3);
      expect(ok.timing.samples.every((t) => Number.isFinite(t) && t > 0)).toBe(true);
      expect(ok.prepare.note).toMatch(/graph optimisation 'all'/);
      expect(ok.accuracy.tolerance.metric).toBe('maxAbs');
    }
    expect(skipped?.state).toBe('skipped');
    if (skipped?.state === 'skipped') expect(skipped.reason).toMatch(/not installed on this device/);
  });
});
