/**
 * The tiled FFT convolution (kernels/assembly/fft.ts, suites/conv/variants/fft.ts):
 * the FFT codelets and the 2D real transforms against a naive float64 DFT, the
 * deterministic twiddles, both tile sizes against the float64 reference on
 * small and awkward shapes within the declared budget, the executed-flop count
 * on a fixed shape, and applies() rejections. No speed is asserted.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, inject } from 'vitest';
import type { ConvShape, Distribution } from '../core/contracts.js';
import { dataSegmentCount } from '../kernels/build.js';
import { loadKernels, type FftKernels, type Kernels } from '../kernels/index.js';
import { conv2dRef } from '../reference/conv.js';
import { convFlops } from '../reference/cost.js';
import { errorMetrics } from '../reference/metrics.js';
import { approximateToleranceCheck } from '../reference/tolerance.js';
import { makeConvInputs, makeRng } from '../reference/random.js';
import { convVariants } from '../suites/conv/variants.js';
import {
  FFT_MAX_REL_L2,
  bitReverse,
  complexFftFlops,
  convFftT16F32,
  convFftT8F32,
  fftExecutedFlops,
  fftSlotOf,
  fillFftPlan,
  forward2dFlops,
  inverse2dFlops,
  unitRoot,
  type FftTile,
} from '../suites/conv/variants/fft.js';

const shape = (p: Partial<ConvShape>): ConvShape => ({
  n: 1,
  c: 1,
  h: 1,
  w: 1,
  k: 1,
  r: 3,
  s: 3,
  stride: 1,
  pad: 1,
  groups: 1,
  ...p,
});

const TILES: FftTile[] = [8, 16];
const VARIANT = { 8: convFftT8F32, 16: convFftT16F32 } as const;

let kernels: Kernels;
let fft: FftKernels;
let outDir: string;

beforeAll(async () => {
  // Compiled once for the whole test run (test/setup/global.ts).
  outDir = inject('kernelsDir');
  kernels = await loadKernels(outDir);
  if (kernels.fft === null) throw new Error('fft.wasm did not load (no WebAssembly SIMD?)');
  fft = kernels.fft;
});

/** cos/sin of 2*pi*j/t in float64 (the test's own reference; Math.cos is fine here). */
const root = (j: number, t: number): [number, number] => [Math.cos((2 * Math.PI * j) / t), Math.sin((2 * Math.PI * j) / t)];

/** Naive DFT of n complex values in float64; sign -1 forward, +1 unnormalised inverse. */
function dft(re: Float64Array, im: Float64Array, sign: 1 | -1): [Float64Array, Float64Array] {
  const n = re.length;
  const outRe = new Float64Array(n);
  const outIm = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    let sr = 0;
    let si = 0;
    for (let j = 0; j < n; j++) {
      const [c, s] = root((j * k) % n, n);
      const ws = sign * s;
      sr += re[j]! * c - im[j]! * ws;
      si += re[j]! * ws + im[j]! * c;
    }
    outRe[k] = sr;
    outIm[k] = si;
  }
  return [outRe, outIm];
}

/** Naive 2D DFT (forward) of a real t x t tile in float64: [re, im] indexed u*t + v. */
function dft2Real(x: Float64Array, t: number): [Float64Array, Float64Array] {
  const re = new Float64Array(t * t);
  const im = new Float64Array(t * t);
  for (let u = 0; u < t; u++)
    for (let v = 0; v < t; v++) {
      let sr = 0;
      let si = 0;
      for (let i = 0; i < t; i++)
        for (let j = 0; j < t; j++) {
          const [c, s] = root((u * i + v * j) % t, t);
          sr += x[i * t + j]! * c;
          si -= x[i * t + j]! * s;
        }
      re[u * t + v] = sr;
      im[u * t + v] = si;
    }
  return [re, im];
}

/** Relative L2 error of got vs want (float64 arrays of equal length). */
function relL2(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let e = 0;
  let r = 0;
  for (let i = 0; i < want.length; i++) {
    e += (got[i]! - want[i]!) ** 2;
    r += want[i]! ** 2;
  }
  return Math.sqrt(e / r);
}

/** Budget for one fp32 FFT of these sizes against float64: u * log2(t*t) with a wide margin. */
const CODELET_REL = 2e-6;

describe('deterministic twiddles and plan', () => {
  it('unitRoot matches cos/sin to a few float64 ulps, exactly on the axes', () => {
    for (const t of [4, 8, 16, 32]) {
      for (let j = 0; j < t; j++) {
        const [c, s] = unitRoot(j, t);
        const [wc, ws] = root(j, t);
        expect(Math.abs(c - wc)).toBeLessThan(2e-15);
        expect(Math.abs(s - ws)).toBeLessThan(2e-15);
      }
      expect(unitRoot(t / 4, t)).toEqual([0, 1]);
      expect(unitRoot(t / 2, t)).toEqual([-1, 0]);
      expect(unitRoot((3 * t) / 4, t)).toEqual([0, -1]);
    }
    expect(() => unitRoot(1, 12)).toThrow(/power of two/);
  });

  it('bitReverse permutes 0..t-1', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((i) => bitReverse(i, 8))).toEqual([0, 4, 2, 6, 1, 5, 3, 7]);
    expect(bitReverse(1, 16)).toBe(8);
    expect(bitReverse(11, 16)).toBe(13);
  });

  it('the module agrees with the variant on plan and workspace sizes', () => {
    for (const t of TILES) {
      expect(fft.fft_plan_floats(t)).toBe(t * 8 + t);
      expect(fft.fft_workspace_floats(t)).toBe((t / 2 + 1) * t * 8 + t * 8 + t * t * 4);
    }
  });

  it('fft.wasm has no data segment and imports only the memory', async () => {
    const bytes = new Uint8Array(await readFile(join(outDir, 'fft.wasm')));
    expect(dataSegmentCount(bytes)).toBe(0);
    expect(WebAssembly.Module.imports(new WebAssembly.Module(bytes))).toEqual([{ module: 'env', name: 'memory', kind: 'memory' }]);
  });
});

describe('FFT codelets against a naive float64 DFT', () => {
  for (const t of TILES) {
    it(`complex FFT of length ${t}: forward (bit-reversed out) and inverse (bit-reversed in), 4 independent lanes`, () => {
      const mark = kernels.mark();
      const plan = kernels.alloc(fft.fft_plan_floats(t));
      fillFftPlan(kernels.memory, plan.ptr, t);
      const buf = kernels.alloc(t * 8);
      const rnd = makeRng(100 + t);
      for (const inverse of [0, 1] as const) {
        const re = Array.from({ length: 4 }, () => Float64Array.from({ length: t }, () => Math.fround(rnd.next() * 2 - 1)));
        const im = Array.from({ length: 4 }, () => Float64Array.from({ length: t }, () => Math.fround(rnd.next() * 2 - 1)));
        const v = buf.view();
        for (let j = 0; j < t; j++) {
          // The inverse takes its input in bit-reversed order.
          const pos = inverse ? bitReverse(j, t) : j;
          for (let l = 0; l < 4; l++) {
            v[pos * 8 + l] = re[l]![j]!;
            v[pos * 8 + 4 + l] = im[l]![j]!;
          }
        }
        fft.fft_complex_f32x4(buf.ptr, t, plan.ptr, inverse);
        const got = buf.view();
        for (let l = 0; l < 4; l++) {
          const [wr, wi] = dft(re[l]!, im[l]!, inverse ? 1 : -1);
          const g: number[] = [];
          const w: number[] = [];
          for (let k = 0; k < t; k++) {
            // The forward transform leaves its output in bit-reversed order.
            const pos = inverse ? k : bitReverse(k, t);
            g.push(got[pos * 8 + l]!, got[pos * 8 + 4 + l]!);
            w.push(wr[k]!, wi[k]!);
          }
          expect(relL2(g, w)).toBeLessThan(CODELET_REL);
        }
      }
      kernels.release(mark);
    });

    it(`2D real FFT ${t}x${t}: every packed slot matches the float64 DFT; the inverse gives back t*t times the tile`, () => {
      const mark = kernels.mark();
      const plan = kernels.alloc(fft.fft_plan_floats(t));
      fillFftPlan(kernels.memory, plan.ptr, t);
      const ws = kernels.alloc(fft.fft_workspace_floats(t));
      const slots = (t * t) / 2;
      // The tile sits in a wider plane (row stride t+3 vectors) to exercise the row stride.
      const rowVec = t + 3;
      const tileBuf = kernels.alloc(t * rowVec * 4);
      const spec = kernels.alloc(slots * 8);
      const back = kernels.alloc(t * t * 4);
      const rnd = makeRng(7 * t);
      const tiles = Array.from({ length: 4 }, () => Float64Array.from({ length: t * t }, () => Math.fround(rnd.next() * 2 - 1)));
      const tv = tileBuf.view();
      for (let l = 0; l < 4; l++) for (let i = 0; i < t; i++) for (let j = 0; j < t; j++) tv[(i * rowVec + j) * 4 + l] = tiles[l]![i * t + j]!;
      fft.fft2d_forward_f32x4(tileBuf.ptr, rowVec * 16, spec.ptr, 32, t, plan.ptr, ws.ptr);
      const sv = spec.view();
      for (let l = 0; l < 4; l++) {
        const [xr, xi] = dft2Real(tiles[l]!, t);
        const g: number[] = [];
        const w: number[] = [];
        const seen = new Set<string>();
        for (let u = 0; u < t; u++) {
          for (let v = 0; v <= t / 2; v++) {
            const { slot, part } = fftSlotOf(u, v, t);
            expect(slot).toBeGreaterThanOrEqual(0);
            expect(slot).toBeLessThan(slots);
            const sre = sv[slot * 8 + l]!;
            const sim = sv[slot * 8 + 4 + l]!;
            const wr = xr[u * t + v]!;
            const wi = xi[u * t + v]!;
            if (part === 're' || part === 'im') {
              expect(Math.abs(wi)).toBeLessThan(1e-9); // a real value of the spectrum
              g.push(part === 're' ? sre : sim);
              w.push(wr);
            } else if (part === 'complex') {
              g.push(sre, sim);
              w.push(wr, wi);
            } else {
              g.push(sre, -sim); // stored as X[t-u][v] = conj X[u][v]
              w.push(wr, wi);
            }
            if (part !== 'conj') seen.add(`${slot}:${part === 'im' ? 'im' : 're'}`);
          }
        }
        // Every slot holds a value (real pairs hold two).
        expect(seen.size).toBe(slots + 2);
        expect(relL2(g, w)).toBeLessThan(CODELET_REL);
      }
      for (const rows of [t, t - 2]) {
        back.view().fill(NaN);
        fft.fft2d_inverse_f32x4(spec.ptr, 32, back.ptr, rows, t, plan.ptr, ws.ptr);
        const bv = back.view();
        for (let l = 0; l < 4; l++) {
          const g: number[] = [];
          const w: number[] = [];
          for (let i = 0; i < rows; i++) {
            for (let j = 0; j < t; j++) {
              g.push(bv[(i * t + j) * 4 + l]! / (t * t));
              w.push(tiles[l]![i * t + j]!);
            }
          }
          expect(relL2(g, w)).toBeLessThan(CODELET_REL);
        }
      }
      kernels.release(mark);
    });
  }
});

/** Small and awkward shapes; `why` says what each one exercises. */
const CONV_CASES: { why: string; s: ConvShape; dist?: Distribution }[] = [
  { why: 'one tile, C = K = 4', s: shape({ c: 4, h: 6, w: 6, k: 4 }) },
  { why: 'n=2, odd C and K, H/W not multiples of T-2', s: shape({ n: 2, c: 3, h: 7, w: 9, k: 5 }) },
  { why: 'pad 0, several tiles, partial edge tiles', s: shape({ c: 5, h: 20, w: 17, k: 3, pad: 0 }) },
  { why: 'pad 2, wide', s: shape({ c: 9, h: 13, w: 31, k: 7, pad: 2 }) },
  { why: '1 channel in and out', s: shape({ c: 1, h: 11, w: 10, k: 1 }) },
  { why: 'H and W smaller than a tile (output 1x3)', s: shape({ c: 2, h: 3, w: 5, k: 3, pad: 0 }) },
  { why: '1x1 input, pad 1 (output 1x1, all padding)', s: shape({ c: 6, h: 1, w: 1, k: 2 }) },
  { why: 'output an exact multiple of 6 and of 14', s: shape({ c: 4, h: 42, w: 14, k: 4 }) },
  { why: 'C and K past several lane groups, activation inputs', s: shape({ n: 2, c: 33, h: 15, w: 29, k: 18 }), dist: 'activation' },
  { why: 'H much larger than W', s: shape({ c: 7, h: 37, w: 2, k: 9, pad: 1 }) },
];

describe('conv3x3-fft-t8-f32 / t16 against the float64 reference', () => {
  for (const t of TILES) {
    const v = VARIANT[t];
    for (const { why, s, dist } of CONV_CASES) {
      it(`${v.name}: ${why}`, () => {
        expect(v.applies(s)).toBe(true);
        const { x, w } = makeConvInputs(s, 11, dist ?? 'uniform(-1,1)');
        const ref = conv2dRef(s, x, w);
        const p = v.prepare({ kernels }, s, x, w);
        try {
          p.run();
          const y = Float32Array.from(p.output());
          const m = errorMetrics(y, ref.y);
          const tol = approximateToleranceCheck(m, FFT_MAX_REL_L2[t]);
          expect(tol.ok, `relL2 ${m.relL2} over the budget ${FFT_MAX_REL_L2[t]}`).toBe(true);
          // Far inside the budget on these shapes, too: a wrong tile edge or slot shows up as ~1e-1.
          expect(m.relL2).toBeLessThan(1e-6);
          // The output is fully overwritten on every run (nothing accumulates into it).
          p.output().fill(NaN);
          p.run();
          expect(Array.from(p.output())).toEqual(Array.from(y));
        } finally {
          p.dispose();
        }
      });
    }
  }
});

describe('cost model', () => {
  it('counts the executed flops of the code on a fixed shape', () => {
    expect(complexFftFlops(8)).toBe(56);
    expect(complexFftFlops(16)).toBe(180);
    // forward: t FFTs + 8(h-1)(h+1); inverse (t-2 rows): h + (t-2)/2 FFTs + 4(h-1)((t-2)/2 + 1)
    expect(forward2dFlops(8)).toBe(8 * 56 + 8 * 3 * 5);
    expect(inverse2dFlops(8, 6)).toBe(4 * 56 + 12 + 3 * (56 + 12));
    expect(forward2dFlops(16)).toBe(16 * 180 + 8 * 7 * 9);
    // One tile, C = K = 4: 4 lanes of each transform + 30 complex slots * 128 + 2 pair slots * 64 + 32 * 24.
    const s = shape({ c: 4, h: 6, w: 6, k: 4 });
    expect(fftExecutedFlops(s, 8)).toBe(4 * 568 + 4 * 440 + (30 * 128 + 2 * 64 + 32 * 24));
    // Padding lanes count: C = K = 1 does the same work as C = K = 4.
    expect(fftExecutedFlops(shape({ c: 1, h: 6, w: 6, k: 1 }), 8)).toBe(fftExecutedFlops(s, 8));
  });

  it('executes fewer flops than the direct algorithm on the talk layer, more so with the larger tile', () => {
    const s = shape({ c: 256, h: 56, w: 56, k: 256 });
    const direct = convFlops(s);
    const t8 = fftExecutedFlops(s, 8);
    const t16 = fftExecutedFlops(s, 16);
    expect(t8).toBeLessThan(direct);
    expect(t16).toBeLessThan(t8);
    expect(convFftT8F32.flops(s)).toBe(direct);
    expect(convFftT16F32.executedFlops?.(s)).toBe(t16);
  });
});

describe('applies()', () => {
  for (const v of [convFftT8F32, convFftT16F32]) {
    it(`${v.name} takes 3x3 stride-1 ungrouped layers only, with a reason otherwise`, () => {
      expect(v.applies(shape({ c: 8, h: 9, w: 9, k: 8 }))).toBe(true);
      expect(v.applies(shape({ n: 3, c: 8, h: 9, w: 9, k: 8, pad: 0 }))).toBe(true);
      expect(v.applies(shape({ c: 8, h: 9, w: 9, k: 8, r: 5, s: 5, pad: 2 }))).toMatch(/3x3 kernels only.*5x5/);
      expect(v.applies(shape({ c: 8, h: 9, w: 9, k: 8, r: 1, s: 3 }))).toMatch(/3x3 kernels only.*1x3/);
      expect(v.applies(shape({ c: 8, h: 9, w: 9, k: 8, r: 1, s: 1, pad: 0 }))).toMatch(/3x3/);
      expect(v.applies(shape({ c: 8, h: 9, w: 9, k: 8, stride: 2 }))).toMatch(/stride 1.*stride 2/);
      expect(v.applies(shape({ c: 8, h: 9, w: 9, k: 8, groups: 2 }))).toMatch(/groups = 1.*2 groups/);
      expect(v.applies(shape({ c: 8, h: 9, w: 9, k: 8, groups: 8 }))).toMatch(/groups/);
      expect(v.applies(shape({ c: 8, h: 1, w: 1, k: 8, pad: 0 }))).toMatch(/output size/);
      expect(v.applies(shape({ c: 8192, h: 56, w: 56, k: 8192 }))).toMatch(/GiB.*32-bit WebAssembly memory/);
      expect(() => v.prepare({ kernels }, shape({ c: 8, h: 9, w: 9, k: 8, stride: 2 }), new Float32Array(648), new Float32Array(576))).toThrow(/stride/);
    });
  }

  it('both variants are in the conv suite, with the fft algorithm and an approximate budget', () => {
    for (const name of ['conv3x3-fft-t8-f32', 'conv3x3-fft-t16-f32']) {
      const v = convVariants.find((x) => x.name === name);
      expect(v?.algorithm).toBe('fft');
      expect(v?.accuracy.kind).toBe('approximate');
      expect(v?.needs.wasmSimd).toBe(true);
    }
  });
});
