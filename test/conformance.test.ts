/**
 * Every registered variant of every suite kit (suites/kits.ts: conv with its fp32, Winograd, FFT, int8,
 * fp16 and ONNX Runtime variants; sparse with its SpMM variants) against the float64 reference on its
 * kit's awkward shapes (odd sizes, stride 2, groups, padding, tiny channels, a batch), with the tolerance
 * the variant declares, just because it is registered: a new variant is checked without a line of test.
 * Relaxed-SIMD variants run in a Node started with the flag (test/conformance-relaxed.test.ts, in the full tier).
 * A deliberately broken variant (test-only) shows that the check fails when it should.
 */
import { describe, expect, it } from 'vitest';
import type { ConvVariant, Prepared } from '../core/contracts.js';
import { suiteKits } from '../suites/kits.js';
import { convKit } from '../suites/conv/kit.js';
import { convIm2colGemmF32 } from '../suites/conv/variants/im2col-gemm.js';
import { failures, needsRelaxed, runConformance, unexercised } from './helpers/conformance.js';
import { useKernels } from './helpers/kernels.js';

const kernels = useKernels();

describe('conformance: every registered variant against the float64 reference', () => {
  it('registers variants in every kit, and awkward shapes for each', () => {
    for (const k of suiteKits) {
      expect(k.variants.length, k.name).toBeGreaterThan(0);
      expect(k.conformance.length, k.name).toBeGreaterThan(0);
    }
    expect(suiteKits.map((k) => k.name)).toEqual(expect.arrayContaining(['conv', 'sparse']));
  });

  it('every variant (but the relaxed-SIMD ones) passes its own checks wherever it applies', async () => {
    const out = await runConformance(suiteKits, kernels(), { wasmSimd: true, wasmRelaxedSimd: false }, (v) => !needsRelaxed(v));
    expect(failures(out)).toEqual([]);
    expect(unexercised(out, suiteKits, (v) => !needsRelaxed(v))).toEqual([]);
    // Skips are only the shapes a variant does not apply to, never a missing runtime feature.
    expect(out.filter((o) => o.state === 'skipped' && /SIMD/.test(o.detail))).toEqual([]);
  }, 300_000);

  it('every variant refuses, naming itself, tensors whose lengths do not match the shape and shapes it does not apply to (suites/conv/variant.ts)', async () => {
    const ctx = { kernels: kernels() };
    let refused = 0;
    for (const kit of suiteKits) {
      for (const { shape } of kit.conformance) {
        const n = shape.n * shape.c * shape.h * shape.w;
        const x = new Float32Array(n);
        const w = new Float32Array(shape.k * (shape.c / shape.groups) * shape.r * shape.s);
        const data = { seed: 1, distribution: 'uniform(-1,1)' as const };
        for (const v of kit.variants) {
          // prepareAsync where the variant has it (ONNX Runtime), else prepare: both refuse before any work.
          const prep = (xx: Float32Array, ww: Float32Array) =>
            v.prepareAsync ? v.prepareAsync(ctx, shape, xx, ww, data) : v.prepare(ctx, shape, xx, ww, data);
          // What prepare() can check: the shape (a case's parameters, e.g. its sparsity, are the runner's to check).
          const ok = v.applies(shape);
          if (ok !== true) {
            await expect(async () => prep(x, w), v.name).rejects.toThrow(`${v.name}: ${ok}`);
            refused++;
            continue;
          }
          await expect(async () => prep(x.subarray(1), w), v.name).rejects.toThrow(`${v.name}: x has ${n - 1} floats, the shape needs ${n}`);
          await expect(async () => prep(x, w.subarray(1)), v.name).rejects.toThrow(`${v.name}: w has ${w.length - 1} floats`);
          if (v.layer) expect(() => v.layer!(ctx, shape, w.subarray(1)), v.name).toThrow(`${v.name}: w has ${w.length - 1} floats`);
          refused += 2;
        }
      }
    }
    expect(refused).toBeGreaterThan(100);
  });

  it('fails for a broken variant (injected, test-only: im2col GEMM whose output is off by 1e-4 in one element)', async () => {
    const broken: ConvVariant = {
      ...convIm2colGemmF32,
      name: 'conv-im2col-gemm-broken-f32',
      prepare(ctx, shape, x, w, data): Prepared {
        const p = convIm2colGemmF32.prepare(ctx, shape, x, w, data);
        return {
          ...p,
          output() {
            const y = p.output().slice();
            y[Math.floor(y.length / 2)]! += 1e-4;
            return y;
          },
        };
      },
    };
    const kit = { ...convKit, variants: [broken] };
    const out = await runConformance([kit], kernels(), { wasmSimd: true });
    const failed = out.filter((o) => o.state === 'failed');
    // Caught on every shape it applies to, by the exact-algorithm checks it declares.
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.length).toBe(out.filter((o) => o.state !== 'skipped').length);
    expect(failed[0]?.detail).toMatch(/per-element bound/);
  });
});
