/**
 * The threaded kernels (suites/conv/threaded.ts on harness/runner/threads.ts): every threaded variant's
 * output on 1, 2 and 3 threads is bit-identical to the single-thread variant on the ordinary (unshared)
 * kernels, on awkward shapes; a thread computing a wrong block fails that check; the pool reports errors
 * of a worker instead of hanging; the threaded ceilings' agreement check fails when a thread did not run
 * (the measurement itself, which loads the machine, is in test/threaded-ceilings.test.ts, system tier).
 */
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import type { ConvShape, ConvVariant } from '../core/contracts.js';
import { loadKernels, type Kernels } from '../kernels/index.js';
import { ThreadPool, type ThreadProgram } from '../harness/runner/threads.js';
import { firstBitDifference, prepareThreaded, splitChannels, splitColumns, splitWork, threadable } from '../suites/conv/threaded.js';
import { convVariants } from '../suites/conv/variants.js';
import { makeConvInputs } from '../reference/random.js';
import { threadsDisagree } from '../harness/runner/threaded-ceilings.js';
import { convOutputSize } from '../reference/conv.js';

const sh = (n: number, c: number, h: number, w: number, k: number, r: number, stride: number, pad: number, groups = 1): ConvShape => ({
  n,
  c,
  h,
  w,
  k,
  r,
  s: r,
  stride,
  pad,
  groups,
});

/** Awkward shapes: K not a multiple of MR or of the threads, odd sizes, N > 1, strides, groups, fewer blocks than threads. */
const SHAPES: ConvShape[] = [
  sh(1, 5, 11, 9, 13, 3, 1, 1),
  sh(2, 7, 10, 13, 21, 3, 1, 1),
  sh(1, 3, 17, 15, 6, 3, 1, 0),
  sh(2, 6, 9, 11, 10, 3, 2, 1),
  sh(1, 4, 12, 7, 3, 5, 1, 2),
  sh(1, 9, 8, 6, 18, 1, 1, 0),
  sh(2, 16, 5, 7, 9, 1, 1, 0, 1),
  sh(1, 12, 6, 6, 12, 1, 1, 0, 3),
  sh(2, 11, 9, 8, 11, 3, 1, 1, 11),
  sh(1, 7, 13, 10, 7, 3, 2, 1, 7),
  sh(1, 40, 14, 14, 70, 3, 1, 1),
  // Fewer output pixels than channels: the GEMM variants split channels here, columns on the shapes above.
  sh(2, 8, 4, 5, 40, 3, 1, 1),
  sh(1, 24, 3, 3, 30, 1, 1, 0),
];

let single: Kernels;
let shared: Kernels;
const pools = new Map<number, ThreadPool>();

beforeAll(async () => {
  single = await loadKernels(inject('kernelsDir'));
  shared = await loadKernels(inject('kernelsDir'), { shared: true });
  for (const t of [1, 2, 3]) pools.set(t, await ThreadPool.start(shared, t));
});
afterAll(async () => {
  for (const p of pools.values()) await p.close();
});

function singleThreadOutput(v: ConvVariant, shape: ConvShape, x: Float32Array, w: Float32Array): Float32Array {
  const mark = single.mark();
  try {
    const p = v.prepare({ kernels: single }, shape, x, w);
    p.run();
    return Float32Array.from(p.output());
  } finally {
    single.release(mark);
  }
}

const threaded = convVariants.filter((v) => threadable(v) === true);

describe('threaded conv variants', () => {
  it('threads the f32 WebAssembly variants and says why the others are not', () => {
    expect(threaded.map((v) => v.name).sort()).toEqual(
      [
        'conv-depthwise-simd-f32',
        'conv-im2col-gemm-f32',
        'conv-pointwise-sgemm-f32',
        'conv3x3-winograd-f2x2-f32',
        'conv3x3-winograd-f4x4-f32',
        'conv3x3-winograd-f6x6-f32',
      ].sort(),
    );
    for (const v of convVariants.filter((x) => threadable(x) !== true)) expect(threadable(v)).toMatch(/\w{10,}/);
  });

  it('splits output channels into MR-aligned blocks (groups for grouped convs) covering every channel once', () => {
    for (const shape of SHAPES) {
      for (const t of [1, 2, 3, 5, 64]) {
        const blocks = splitChannels(shape, t);
        expect(blocks).toHaveLength(t);
        let next = 0;
        for (const b of blocks) {
          if (b === null) continue;
          expect(b.k0).toBe(next);
          if (shape.groups === 1 && b.k1 !== shape.k) expect(b.k1 % 4).toBe(0);
          next = b.k1;
        }
        expect(next).toBe(shape.k);
      }
    }
  });

  it('splits output columns into whole NR-column panels covering every pixel once, all channels each', () => {
    for (const shape of SHAPES.filter((x) => x.groups === 1)) {
      const { ho, wo } = convOutputSize(shape);
      for (const t of [1, 2, 3, 5, 64]) {
        const blocks = splitColumns(shape, t);
        expect(blocks).toHaveLength(t);
        let next = 0;
        for (const b of blocks) {
          if (b === null) continue;
          expect([b.k0, b.k1, b.j0]).toEqual([0, shape.k, next]);
          if (b.j1 !== ho * wo) expect(b.j1 % 8).toBe(0);
          next = b.j1;
        }
        expect(next).toBe(ho * wo);
      }
    }
  });

  it('the GEMM variants split the columns when there are at least as many pixels as channels, else the channels', () => {
    const im2col = convVariants.find((x) => x.name === 'conv-im2col-gemm-f32')!;
    const pointwise = convVariants.find((x) => x.name === 'conv-pointwise-sgemm-f32')!;
    const wino = convVariants.find((x) => x.name === 'conv3x3-winograd-f4x4-f32')!;
    expect(splitWork(im2col, SHAPES[0]!, 2).by).toBe('columns');
    expect(splitWork(pointwise, SHAPES[5]!, 2).by).toBe('columns');
    expect(splitWork(im2col, sh(2, 8, 4, 5, 40, 3, 1, 1), 2).by).toBe('channels');
    expect(splitWork(pointwise, sh(1, 24, 3, 3, 30, 1, 1, 0), 2).by).toBe('channels');
    expect(splitWork(im2col, SHAPES[8]!, 2).by).toBe('channels'); // depthwise: whole groups
    expect(splitWork(wino, SHAPES[0]!, 2).by).toBe('channels');
  });

  for (const v of threaded) {
    it(`${v.name}: 1, 2 and 3 threads give the single thread's output bit for bit`, () => {
      let ran = 0;
      for (const [i, shape] of SHAPES.entries()) {
        if (v.applies(shape) !== true) continue;
        const { x, w } = makeConvInputs(shape, 100 + i, 'uniform(-1,1)');
        const want = singleThreadOutput(v, shape, x, w);
        for (const t of [1, 2, 3]) {
          const tc = prepareThreaded(pools.get(t)!, v, shape, x, w);
          try {
            tc.output().fill(Number.NaN);
            tc.run();
            const diff = firstBitDifference(tc.output(), want, shape);
            expect(diff, `${v.name} on ${JSON.stringify(shape)} at ${t} threads`).toBeNull();
            ran++;
          } finally {
            tc.dispose();
          }
        }
      }
      // A test that executed nothing is a failure.
      expect(ran).toBeGreaterThanOrEqual(6);
    });
  }

  it('fails the bit-identity check when one thread computes a wrong block (injected fault)', () => {
    const v = convVariants.find((x) => x.name === 'conv-im2col-gemm-f32')!;
    const shape = sh(1, 7, 10, 9, 21, 3, 1, 1);
    const { x, w } = makeConvInputs(shape, 7, 'uniform(-1,1)');
    const want = singleThreadOutput(v, shape, x, w);
    const pool = pools.get(2)!;
    const tc = prepareThreaded(pool, v, shape, x, w);
    try {
      tc.run();
      expect(firstBitDifference(tc.output(), want, shape)).toBeNull();
      // The fault (test only): thread 1 reads the input one float off: the right kernel on its own columns, wrong data.
      const [p0, p1] = tc.handle.programs as [ThreadProgram, ThreadProgram];
      const wrong = p1.map((c) => ({ ...c, args: c.args.map((a, j) => (j === 0 ? a + 4 : a)) }));
      const bad = pool.register([p0, wrong]);
      tc.output().fill(0);
      pool.run(bad);
      pool.release(bad);
      const diff = firstBitDifference(tc.output(), want, shape);
      expect(diff).not.toBeNull();
      // In thread 1's block: its columns (this shape splits columns), all channels.
      const b1 = tc.blocks[1]!;
      const { ho, wo } = convOutputSize(shape);
      expect(b1.j0).toBeGreaterThan(0);
      expect(diff!.index % (ho * wo)).toBeGreaterThanOrEqual(b1.j0);
      expect(diff!.index % (ho * wo)).toBeLessThan(b1.j1);
    } finally {
      tc.dispose();
    }
  });
});

describe('thread pool', () => {
  it('reports a worker error (a trapping call) with the thread, and keeps working', () => {
    const pool = pools.get(2)!;
    // depthwise_workspace_floats is harmless; a call with an out-of-bounds pointer traps in the worker.
    const trap = pool.register([[], [{ module: 'simd', fn: 'copy_f32x4', args: [0x7ffffff0, 0, 16, 1] }]]);
    expect(() => pool.run(trap)).toThrow(/thread 1: .*(out of bounds|RuntimeError)/i);
    pool.release(trap);
    const ok = pool.register([
      [{ module: 'scalar', fn: 'peak_f32_flops_per_iter', args: [] }],
      [{ module: 'scalar', fn: 'peak_f32_flops_per_iter', args: [] }],
    ]);
    pool.run(ok);
    expect(pool.lastResults[1]).toBe(pool.lastResults[0]);
    expect(pool.lastResults[0]).toBeGreaterThan(0);
  });

  it('refuses an unknown export, a wrong program count, and unshared kernels', async () => {
    const pool = pools.get(2)!;
    expect(() => pool.register([[{ module: 'simd', fn: 'no_such_export', args: [] }], []])).toThrow(/no export simd.no_such_export/);
    expect(() => pool.register([[]])).toThrow(/1 program\(s\) for a pool of 2/);
    await expect(ThreadPool.start(single, 2)).rejects.toThrow(/shared: true/);
    expect(convOutputSize(SHAPES[0]!).ho).toBe(11);
  });
});

describe('threaded ceilings', () => {
  it('a thread that did not run the same loop is caught (injected fault)', () => {
    expect(threadsDisagree(Float64Array.of(12.5, 12.5, 12.5))).toBeNull();
    expect(threadsDisagree(Float64Array.of(12.5, 0, 12.5))).toMatch(/thread 1's .*not every thread ran/);
    expect(threadsDisagree(Float64Array.of(Number.NaN, Number.NaN))).toMatch(/not a finite value/);
  });
});
