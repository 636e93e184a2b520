/**
 * Every registered variant of every suite kit (suites/kits.ts: conv with its fp32, Winograd, FFT, int8,
 * fp16 and ONNX Runtime variants; sparse with its SpMM variants) against the float64 reference on its
 * kit's awkward shapes (odd sizes, stride 2, groups, padding, tiny channels, a batch), with the tolerance
 * the variant declares, just because it is registered: a new variant is checked without a line of test.
 * Relaxed-SIMD variants run in a Node started with the flag (test/fixtures/conformance-relaxed.ts).
 * A deliberately broken variant (test-only) shows that the check fails when it should.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';
import type { ConvVariant, Prepared } from '../core/contracts.js';
import { suiteKits } from '../suites/kits.js';
import { convKit } from '../suites/conv/kit.js';
import { convIm2colGemmF32 } from '../suites/conv/variants/im2col-gemm.js';
import { runConformance, type ConformanceOutcome } from './helpers/conformance.js';
import { useKernels } from './helpers/kernels.js';

const kernels = useKernels();
const needsRelaxed = (v: ConvVariant) => v.needs.wasmRelaxedSimd === true;
const failures = (out: ConformanceOutcome[]) => out.filter((o) => o.state === 'failed').map((o) => `${o.suite} ${o.variant} on ${o.shape}: ${o.detail}`);

/** Every variant ran (passed) on at least one shape: a variant that applies to none of its kit's shapes is a gap in the shapes. */
function unexercised(
  out: ConformanceOutcome[],
  kits = suiteKits,
  which: (v: ConvVariant) => boolean = () => true,
  ran: ConformanceOutcome['state'][] = ['passed'],
): string[] {
  return kits
    .flatMap((k) => k.variants.filter(which).map((v) => `${k.name} ${v.name}`))
    .filter((key) => !out.some((o) => `${o.suite} ${o.variant}` === key && ran.includes(o.state)));
}

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

  it('the relaxed-SIMD variants run too (a Node started with --experimental-wasm-relaxed-simd): exact, or saying their output is implementation-defined', async () => {
    const relaxed = suiteKits.flatMap((k) => k.variants.filter(needsRelaxed).map((v) => v.name));
    expect(relaxed.length).toBeGreaterThan(0);
    const fixture = fileURLToPath(new URL('./fixtures/conformance-relaxed.ts', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, ['--experimental-wasm-relaxed-simd', '--import', 'tsx', fixture, inject('kernelsDir')], {
      timeout: 240_000,
    });
    const out = JSON.parse(stdout) as ConformanceOutcome[];
    expect(failures(out)).toEqual([]);
    // Activations of both signs reach the relaxed dot's 7-bit operand here: the output is implementation-defined and
    // the variant must say so (test/precision-kernels.test.ts checks them bit-exact where the operand stays in [0, 127]).
    expect(out.filter((o) => o.state !== 'skipped').length).toBeGreaterThan(0);
    for (const o of out.filter((x) => x.state === 'nonportable')) expect(o.detail, o.variant).toMatch(/relaxed/i);
    expect(unexercised(out, suiteKits, needsRelaxed, ['passed', 'nonportable'])).toEqual([]);
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
