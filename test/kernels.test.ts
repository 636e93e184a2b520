/**
 * The WebAssembly kernels and the first three conv variants against the
 * float64 reference, on awkward shapes (tile edges, stride, padding, groups,
 * depthwise, 1x1, 5x5); the arena allocator; and a quick ceilings smoke test.
 * No speed is asserted anywhere.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it, inject } from 'vitest';
import type { ConvShape, ConvVariant } from '../core/contracts.js';
import { ascArgs, dataSegmentCount } from '../kernels/build.js';
import { GEMM_TILE, loadKernels, wasmSimdSupported, type Kernels } from '../kernels/index.js';
import { conv2dRef, convOutputSize } from '../reference/conv.js';
import { errorMetrics } from '../reference/metrics.js';
import { exactToleranceCheck } from '../reference/tolerance.js';
import { makeConvInputs, makeRng } from '../reference/random.js';
import { convDirectNaiveF32 } from '../suites/conv/variants/direct-naive.js';
import { convIm2colGemmF32 } from '../suites/conv/variants/im2col-gemm.js';
import { convDepthwiseSimdF32 } from '../suites/conv/variants/depthwise-simd.js';
import { bandwidthSizes } from '../harness/runner/ceilings.js';
import { readFile } from 'node:fs/promises';
import { convShape as shape } from './helpers/shapes.js';

const { mr: MR, nr: NR, kc: KC, nc: NC, mc: MC } = GEMM_TILE;

/** Shapes chosen to hit every code path and edge; `why` says which. */
const CASES: { why: string; s: ConvShape }[] = [
  { why: 'odd sizes, n=2, pad 1', s: shape({ n: 2, c: 3, h: 7, w: 9, k: 5, r: 3, s: 3, pad: 1 }) },
  { why: 'stride 2, pad 0', s: shape({ c: 4, h: 11, w: 13, k: 6, r: 3, s: 3, stride: 2 }) },
  { why: '5x5, pad 2', s: shape({ c: 3, h: 9, w: 10, k: 7, r: 5, s: 5, pad: 2 }) },
  { why: 'groups 2', s: shape({ c: 6, h: 8, w: 8, k: 10, r: 3, s: 3, pad: 1, groups: 2 }) },
  { why: 'groups 3, stride 2, n=2', s: shape({ n: 2, c: 9, h: 10, w: 7, k: 6, r: 3, s: 3, stride: 2, pad: 1, groups: 3 }) },
  { why: 'depthwise 3x3 s1, n=2', s: shape({ n: 2, c: 5, h: 9, w: 11, k: 5, r: 3, s: 3, pad: 1, groups: 5 }) },
  { why: 'depthwise 3x3 s1, even rows, 2-row blocks + partial vector', s: shape({ c: 3, h: 8, w: 13, k: 3, r: 3, s: 3, pad: 1, groups: 3 }) },
  { why: 'depthwise 3x3 s2 pad 1', s: shape({ c: 6, h: 12, w: 15, k: 6, r: 3, s: 3, stride: 2, pad: 1, groups: 6 }) },
  { why: 'depthwise 3x3 s2 pad 0, odd width', s: shape({ c: 2, h: 13, w: 21, k: 2, r: 3, s: 3, stride: 2, groups: 2 }) },
  { why: 'depthwise 3x3 s2 wide (vector de-interleave)', s: shape({ c: 2, h: 9, w: 40, k: 2, r: 3, s: 3, stride: 2, pad: 1, groups: 2 }) },
  { why: 'depthwise 5x5 s2 pad 2', s: shape({ c: 4, h: 13, w: 17, k: 4, r: 5, s: 5, stride: 2, pad: 2, groups: 4 }) },
  { why: 'depthwise 5x5 s1 pad 2, 16-wide blocks', s: shape({ c: 3, h: 11, w: 37, k: 3, r: 5, s: 5, pad: 2, groups: 3 }) },
  { why: 'depthwise 3x3 s3 (scalar path)', s: shape({ c: 3, h: 10, w: 10, k: 3, r: 3, s: 3, stride: 3, pad: 1, groups: 3 }) },
  { why: 'depthwise 1x1', s: shape({ c: 4, h: 5, w: 6, k: 4, groups: 4 }) },
  { why: 'depthwise 1x3 pad 1 (r != s)', s: shape({ c: 2, h: 6, w: 9, k: 2, r: 1, s: 3, pad: 1, groups: 2 }) },
  { why: '1x1 (pointwise packing), panels across rows', s: shape({ c: 16, h: 7, w: 7, k: 20 }) },
  { why: '1x1 stride 2', s: shape({ c: 16, h: 9, w: 9, k: 12, stride: 2 }) },
  { why: 'stride-2 vector im2col path (wide rows)', s: shape({ c: 2, h: 9, w: 40, k: 3, r: 3, s: 3, stride: 2, pad: 1 }) },
  { why: 'r != s (1x3, pad 1)', s: shape({ c: 3, h: 6, w: 10, k: 4, r: 1, s: 3, pad: 1 }) },
  { why: 'kernel larger than the input (padding only)', s: shape({ c: 2, h: 2, w: 3, k: 3, r: 3, s: 3, pad: 1 }) },
  { why: '7x7 stride 2 pad 3 (stem-like)', s: shape({ c: 3, h: 19, w: 17, k: 9, r: 7, s: 7, stride: 2, pad: 3 }) },
  { why: 'M = MR exactly, N = NR exactly', s: shape({ c: 2, h: 2, w: NR / 2, k: MR, r: 1, s: 1 }) },
  {
    // M > MC and not a multiple of MR; Kd > KC and not a multiple; N > NC, not a multiple of NR.
    why: 'GEMM edges: M, N, Kd past MC/NC/KC and off the MR/NR tiles',
    s: shape({ c: Math.ceil((KC + 14) / 9), h: 23, w: 23, k: MC + MR + 1, r: 3, s: 3, pad: 1 }),
  },
];

const VARIANTS: ConvVariant[] = [convDirectNaiveF32, convIm2colGemmF32, convDepthwiseSimdF32];

let kernels: Kernels;
let outDir: string;

beforeAll(async () => {
  // Compiled once for the whole test run (test/setup/global.ts).
  outDir = inject('kernelsDir');
  kernels = await loadKernels(outDir);
});

describe('build', () => {
  it('writes scalar.wasm and simd.wasm with no data segments and only the memory import', async () => {
    for (const name of ['scalar', 'simd']) {
      const bytes = new Uint8Array(await readFile(join(outDir, `${name}.wasm`)));
      expect(dataSegmentCount(bytes)).toBe(0);
      const imports = WebAssembly.Module.imports(new WebAssembly.Module(bytes));
      expect(imports).toEqual([{ module: 'env', name: 'memory', kind: 'memory' }]);
    }
  });

  it('compiles only the SIMD module with --enable simd (scalar.wasm must load on engines without SIMD)', () => {
    expect(ascArgs('scalar.ts', 'scalar.wasm', false).join(' ')).not.toMatch(/simd/);
    expect(ascArgs('simd.ts', 'simd.wasm', true).join(' ')).toMatch(/--enable simd/);
    for (const flag of ['-O3', '--runtime stub', '--use abort=', '--importMemory', '--optimizeLevel 3', '--shrinkLevel 0']) {
      expect(ascArgs('a.ts', 'a.wasm', true).join(' ')).toContain(flag);
    }
  });

  it('detects SIMD on this runtime and loads the SIMD module', () => {
    expect(wasmSimdSupported()).toBe(true);
    expect(kernels.simd).not.toBeNull();
    expect(kernels.requireSimd('test')).toBe(kernels.simd);
  });
});

describe('arena allocator', () => {
  it('aligns, zero-fills, grows the memory and re-creates views after growth', () => {
    const m = kernels.mark();
    const a = kernels.alloc(3, 64);
    expect(a.ptr % 64).toBe(0);
    a.view().set([1, 2, 3]);
    const before = kernels.memoryBytes();
    const big = kernels.alloc(before / 4 + 1000); // forces memory.grow
    expect(kernels.memoryBytes()).toBeGreaterThan(before);
    expect(big.ptr % 64).toBe(0);
    expect(Array.from(a.view())).toEqual([1, 2, 3]); // a fresh view over the grown buffer
    expect(big.view().every((v) => v === 0)).toBe(true);
    const b = kernels.alloc(5, 16);
    expect(b.ptr % 16).toBe(0);
    expect(b.ptr).toBeGreaterThanOrEqual(big.ptr + big.length * 4);
    kernels.release(m);
    expect(() => a.view()).toThrow(/released/);
    expect(kernels.mark()).toBe(m);
    const c = kernels.alloc(4);
    c.view().fill(7);
    kernels.release(m);
    expect(Array.from(kernels.alloc(4).view())).toEqual([0, 0, 0, 0]); // reused memory is zeroed again
    kernels.reset();
    expect(kernels.bytesInUse()).toBe(0);
  });

  it('rejects bad arguments', () => {
    expect(() => kernels.alloc(-1)).toThrow(/non-negative/);
    expect(() => kernels.alloc(4, 24)).toThrow(/power of two/);
    expect(() => kernels.release(kernels.mark() + 64)).toThrow(/mark/);
  });
});

describe('plain im2col kernel', () => {
  it('matches a JavaScript im2col with zero padding', () => {
    const s = shape({ c: 3, h: 5, w: 7, k: 1, r: 3, s: 2, stride: 2, pad: 1 });
    const { ho, wo } = convOutputSize(s);
    const { x } = makeConvInputs(s, 3, 'uniform(-1,1)');
    const m = kernels.mark();
    const xb = kernels.allocCopy(x);
    const cols = kernels.alloc(s.c * s.r * s.s * ho * wo);
    kernels.requireSimd('test').im2col_f32(xb.ptr, cols.ptr, s.c, s.h, s.w, s.r, s.s, s.stride, s.pad);
    const got = cols.view();
    let i = 0;
    for (let c = 0; c < s.c; c++)
      for (let r = 0; r < s.r; r++)
        for (let q = 0; q < s.s; q++)
          for (let oh = 0; oh < ho; oh++)
            for (let ow = 0; ow < wo; ow++, i++) {
              const ih = oh * s.stride - s.pad + r;
              const iw = ow * s.stride - s.pad + q;
              const want = ih >= 0 && ih < s.h && iw >= 0 && iw < s.w ? x[(c * s.h + ih) * s.w + iw]! : 0;
              expect(got[i]).toBe(want);
            }
    kernels.release(m);
  });
});

describe('gemv kernel (fully-connected layers)', () => {
  // f: below 4, not a multiple of 4, past 16 with a 4-chunk and a scalar tail; m: batch 1 and 3.
  for (const { m, k, f } of [
    { m: 1, k: 1, f: 1 },
    { m: 1, k: 7, f: 3 },
    { m: 3, k: 9, f: 23 },
    { m: 1, k: 37, f: 1000 },
  ]) {
    it(`y[${m}x${k}] = x[${m}x${f}] w^T matches float64 within f*u*sum|x*w|, the same bits for any split of the rows, other rows untouched`, () => {
      const rnd = makeRng(m * 7919 + k * 31 + f);
      const fill = (len: number) => Float32Array.from({ length: len }, () => rnd.next() * 2 - 1);
      const X = fill(m * f);
      const W = fill(k * f);
      const ldy = k + 2;
      const mark = kernels.mark();
      const simd = kernels.requireSimd('test');
      const xb = kernels.allocCopy(X);
      const wb = kernels.allocCopy(W);
      const whole = kernels.allocCopy(new Float32Array(m * ldy).fill(-7));
      const split = kernels.allocCopy(new Float32Array(m * ldy).fill(-7));
      simd.gemv_f32(m, f, xb.ptr, wb.ptr, whole.ptr, ldy, 0, k);
      // Rows in uneven blocks, as the threads split them.
      const cut = [0, Math.floor(k / 3), Math.floor(k / 2), k];
      for (let t = 0; t + 1 < cut.length; t++) simd.gemv_f32(m, f, xb.ptr, wb.ptr, split.ptr, ldy, cut[t]!, cut[t + 1]!);
      const y = whole.view();
      expect(Buffer.from(split.view().buffer, split.view().byteOffset, m * ldy * 4).equals(Buffer.from(y.buffer, y.byteOffset, m * ldy * 4))).toBe(true);
      let worst = 0;
      for (let n = 0; n < m; n++) {
        for (let j = 0; j < ldy; j++) {
          const got = y[n * ldy + j]!;
          if (j >= k) {
            expect(got).toBe(-7);
            continue;
          }
          let ref = 0;
          let bound = 0;
          for (let i = 0; i < f; i++) {
            const t = X[n * f + i]! * W[j * f + i]!;
            ref += t;
            bound += Math.abs(t);
          }
          worst = Math.max(worst, Math.abs(got - ref) / ((f + 1) * 2 ** -24 * bound + 1e-30));
        }
      }
      expect(worst).toBeLessThanOrEqual(1);
      kernels.release(mark);
    });
  }
});

describe('sgemm kernel', () => {
  const cases = [
    { m: 1, n: 1, k: 1, acc: false },
    { m: 5, n: 9, k: 3, acc: true },
    { m: MR, n: NR, k: 7, acc: false },
    // Past MC, NC and KC, off the MR / NR tiles, with leading dimensions larger than the widths.
    { m: MC + MR + 1, n: NC + NR + 3, k: KC + 13, acc: true },
  ];
  for (const { m, n, k, acc } of cases) {
    it(`C${acc ? ' +' : ''}= A[${m}x${k}] B[${k}x${n}] matches float64 within k*u*sum|a*b|`, () => {
      const lda = k + 3;
      const ldb = n + 5;
      const ldc = n + 2;
      const rnd = makeRng(m * 1000 + n * 10 + k);
      const fill = (len: number) => Float32Array.from({ length: len }, () => rnd.next() * 2 - 1);
      const A = fill(m * lda);
      const B = fill(k * ldb);
      const C0 = fill(m * ldc);
      const mark = kernels.mark();
      const simd = kernels.requireSimd('test');
      const ab = kernels.allocCopy(A);
      const bb = kernels.allocCopy(B);
      const cb = kernels.allocCopy(C0);
      const ws = kernels.alloc(simd.sgemm_workspace_floats());
      simd.sgemm_f32(m, n, k, ab.ptr, lda, bb.ptr, ldb, cb.ptr, ldc, ws.ptr, acc ? 1 : 0);
      const C = cb.view();
      let worst = 0;
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < ldc; j++) {
          const got = C[i * ldc + j]!;
          if (j >= n) {
            expect(got).toBe(C0[i * ldc + j]); // outside the n columns: untouched
            continue;
          }
          let ref = acc ? C0[i * ldc + j]! : 0;
          let bound = acc ? Math.abs(ref) : 0;
          for (let p = 0; p < k; p++) {
            const t = A[i * lda + p]! * B[p * ldb + j]!;
            ref += t;
            bound += Math.abs(t);
          }
          const allowed = (k + 1) * 2 ** -24 * bound + 1e-30;
          worst = Math.max(worst, Math.abs(got - ref) / allowed);
        }
      }
      expect(worst).toBeLessThanOrEqual(1);
      kernels.release(mark);
    });
  }
});

describe('conv variants against the float64 reference', () => {
  for (const { why, s } of CASES) {
    const label = `${why}: n${s.n} c${s.c} ${s.h}x${s.w} k${s.k} ${s.r}x${s.s} s${s.stride} p${s.pad} g${s.groups}`;
    it(label, () => {
      const { x, w } = makeConvInputs(s, 1234, 'uniform(-1,1)');
      const ref = conv2dRef(s, x, w);
      const reduction = (s.c / s.groups) * s.r * s.s;
      let ran = 0;
      for (const v of VARIANTS) {
        const applies = v.applies(s);
        const depthwise = s.groups === s.c && s.k === s.c;
        if (v === convDepthwiseSimdF32) expect(applies === true).toBe(depthwise);
        else expect(applies).toBe(true);
        if (applies !== true) continue;
        const p = v.prepare({ kernels }, s, x, w);
        try {
          // Poison the output first: run() must overwrite every element.
          p.output().fill(Number.NaN);
          p.run();
          const y = Float32Array.from(p.output());
          const m = errorMetrics(y, ref.y);
          const t = exactToleranceCheck(y, ref.y, ref.absBound, reduction);
          expect(m.relL2, `${v.name} relL2`).toBeLessThan(1e-5);
          expect(t.ok, `${v.name} max abs error ${m.maxAbs} vs bound (worst ratio ${t.worstRatio})`).toBe(true);
          // A second run gives the same bits (no accumulation into the output, deterministic).
          p.run();
          expect(Array.from(p.output()), `${v.name} second run`).toEqual(Array.from(y));
          ran++;
        } finally {
          p.dispose();
        }
      }
      expect(ran).toBeGreaterThanOrEqual(2);
      kernels.reset();
    });
  }

  it('the GEMM edge case really crosses every tile boundary', () => {
    const s = CASES.at(-1)!.s;
    const { ho, wo } = convOutputSize(s);
    const kd = s.c * s.r * s.s;
    expect(s.k).toBeGreaterThan(MC);
    expect(s.k % MR).not.toBe(0);
    expect(kd).toBeGreaterThan(KC);
    expect(kd % KC).not.toBe(0);
    expect(ho * wo).toBeGreaterThan(NC);
    expect((ho * wo) % NR).not.toBe(0);
  });

  it('depthwise says why it does not apply', () => {
    expect(convDepthwiseSimdF32.applies(shape({ c: 4, k: 4, h: 3, w: 3, r: 3, s: 3, pad: 1 }))).toMatch(/not a depthwise layer \(groups=1/);
    expect(convDepthwiseSimdF32.applies(shape({ c: 4, k: 8, groups: 4 }))).toMatch(/not a depthwise layer/);
  });

  it('invalid shapes are reported, not run', () => {
    const bad = shape({ h: 2, w: 2, r: 3, s: 3 });
    for (const v of VARIANTS) expect(v.applies(bad)).toMatch(/output size/);
  });

  it('declares cost from the counting rule and the packed GEMM executed FLOPs', () => {
    const s = shape({ c: 3, h: 7, w: 9, k: 5, r: 3, s: 3, pad: 1 });
    expect(convIm2colGemmF32.flops(s)).toBe(2 * 5 * 7 * 9 * 3 * 9);
    expect(convIm2colGemmF32.bytes(s)).toBe(4 * (3 * 7 * 9 + 5 * 3 * 9 + 5 * 7 * 9));
    const mp = Math.ceil(5 / MR) * MR;
    const np = Math.ceil(63 / NR) * NR;
    expect(convIm2colGemmF32.executedFlops?.(s)).toBe(2 * mp * np * 27);
    const p = convIm2colGemmF32.prepare({ kernels }, s, new Float32Array(3 * 7 * 9), new Float32Array(5 * 27));
    expect(p.preparedBytes).toBe(mp * 27 * 4);
    expect(p.prepareNote).toMatch(/packed/);
    p.dispose();
    kernels.reset();
  });

  it('dispose gives LIFO memory back', () => {
    const s = shape({ c: 2, h: 4, w: 4, k: 2, r: 3, s: 3, pad: 1 });
    const m = kernels.mark();
    const p = convDirectNaiveF32.prepare({ kernels }, s, new Float32Array(32), new Float32Array(36));
    expect(kernels.mark()).toBeGreaterThan(m);
    p.dispose();
    expect(kernels.mark()).toBe(m);
    p.dispose(); // idempotent
  });
});

describe('ceilings', () => {
  it('sweeps from L1 to at least 4x the last-level cache, capped', () => {
    const normal = bandwidthSizes({ quick: false, cacheSizes: { l3: 32 << 20 } }, 64 * 2 ** 30);
    expect(normal[0]).toBe(16 * 1024);
    expect(normal.at(-1)).toBe(128 << 20);
    const capped = bandwidthSizes({ quick: false, cacheSizes: { l3: 256 << 20 } }, 64 * 2 ** 30);
    expect(capped.at(-1)).toBe(256 << 20);
    const quick = bandwidthSizes({ quick: true, cacheSizes: { l3: 32 << 20 } }, 64 * 2 ** 30);
    expect(quick.at(-1)).toBe(64 << 20);
    expect(quick.length).toBeLessThan(normal.length);
    const small = bandwidthSizes({ quick: false, cacheSizes: { l2: 512 * 1024 } }, 1 << 30);
    expect(small.at(-1)).toBe(64 << 20); // no L3 (Raspberry Pi 3): at least 64 MiB
  });
});
