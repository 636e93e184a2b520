/**
 * `--threads` in the runner's measureCase (unit tier: in-process, real kernels, a real pool of worker
 * threads): the threadable variants measured at each count in the same rounds as `<name>@t<N>`, the others
 * skipped with threadable()'s reason, a count above the cores marked oversubscribed, and the bit-identity
 * guard: a threaded output whose hash differs from one thread's fails, shown with an injected one-bit fault.
 */
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import type { CaseResult, ConvVariant } from '../core/contracts.js';
import { loadKernels, type Kernels } from '../kernels/index.js';
import { ThreadPool } from '../harness/runner/threads.js';
import { measureCase, type MeasureEnv } from '../harness/runner/measure.js';
import { convVariants } from '../suites/conv/variants.js';
import { convCase, SHORT_OPTIONS } from './helpers/measure.js';

const IM2COL = 'conv-im2col-gemm-f32';
const FFT = 'conv3x3-fft-t8-f32';
const WINO = 'conv3x3-winograd-f4x4-f32';
const NAMES = [IM2COL, WINO, FFT];
// Awkward: K not a multiple of MR (4) nor of the threads, N = 2.
const CASE = convCase('test.threads', { n: 2, c: 6, h: 9, w: 11, k: 13, r: 3, s: 3, stride: 1, pad: 1, groups: 1 }, 5);

let kernels: Kernels;
let pool: ThreadPool;
beforeAll(async () => {
  kernels = await loadKernels(inject('kernelsDir'));
  pool = await ThreadPool.start(await loadKernels(inject('kernelsDir'), { shared: true }), 2);
});
afterAll(async () => {
  await pool?.close();
});

function env(counts: number[], cores: number, faults?: MeasureEnv['faults']): MeasureEnv {
  return {
    ctx: { kernels },
    features: { wasmSimd: true, wasmRelaxedSimd: false },
    options: { ...SHORT_OPTIONS, threads: counts },
    ceilings: null,
    resolveVariant: (_s, name) => convVariants.find((v: ConvVariant) => v.name === name),
    threads: { counts, pools: new Map([[2, pool]]), cores },
    ...(faults ? { faults } : {}),
  };
}

const byName = (rs: CaseResult[]) => new Map(rs.map((r) => [r.variant, r]));

describe('measureCase at --threads 1,2', () => {
  it('measures the threadable variants at both counts, skips the FFT at 2 with its reason, records the counts', async () => {
    const results = await measureCase(CASE, NAMES, env([1, 2], 2));
    expect(results.map((r) => r.variant)).toEqual([IM2COL, WINO, FFT, `${IM2COL}@t2`, `${WINO}@t2`, `${FFT}@t2`]);
    const by = byName(results);
    for (const n of [IM2COL, WINO, FFT]) expect(by.get(n)?.state, JSON.stringify(by.get(n))).toBe('passed');
    for (const n of [IM2COL, WINO]) {
      const r = by.get(`${n}@t2`)!;
      expect(r.state, JSON.stringify(r)).toBe('passed');
      expect(r.threads).toBe(2);
      expect(r.oversubscribed).toBeUndefined();
      if (r.state === 'passed' && by.get(n)?.state === 'passed') {
        // Bit-identical to one thread: the same output hash as the one-thread result of the same run.
        expect(r.accuracy.outputChecksum).toBe((by.get(n) as typeof r).accuracy.outputChecksum);
        expect(r.prepare.note).toMatch(/2 of 2 thread\(s\) busy/);
      }
    }
    const fft = by.get(`${FFT}@t2`)!;
    expect(fft.state).toBe('skipped');
    expect(fft.threads).toBe(2);
    if (fft.state === 'skipped') expect(fft.reason).toMatch(/^not run on 2 threads: the FFT conv is not split yet/);
    expect(results.filter((r) => !r.variant.includes('@t')).every((r) => r.threads === 1)).toBe(true);
  });

  it('ONNX Runtime native runs at 2 threads on its own intra-op pool (intraOpNumThreads = 2), checked against the same reference', async () => {
    const results = await measureCase(CASE, ['conv-onnxruntime-f32'], env([2], 2));
    const r = results[0]!;
    expect(r.variant).toBe('conv-onnxruntime-f32@t2');
    expect(r.state, JSON.stringify(r)).toBe('passed');
    expect(r.threads).toBe(2);
    if (r.state === 'passed') expect(r.prepare.note).toMatch(/2 intra-op/);
  });

  it('a count above the device cores is run and marked oversubscribed', async () => {
    const results = await measureCase(CASE, [IM2COL], env([2], 1));
    expect(results).toHaveLength(1);
    const r = results[0]!;
    expect(r.variant).toBe(`${IM2COL}@t2`);
    expect(r.state).toBe('passed');
    expect(r.oversubscribed).toBe(true);
  });

  it('injected fault: a threaded output one bit off the one-thread output fails the run (with and without the 1-thread count in the run)', async () => {
    for (const counts of [[1, 2], [2]]) {
      const results = await measureCase(CASE, [IM2COL], env(counts, 2, { threadedOutputBitFlip: `${IM2COL}@t2` }));
      const r = byName(results).get(`${IM2COL}@t2`)!;
      expect(r.state, JSON.stringify(r)).toBe('errored');
      if (r.state === 'errored') {
        expect(r.phase).toBe('check');
        expect(r.error).toMatch(/on 2 threads is not bit-identical to the same variant on one thread \(output hash [0-9a-f]+ vs [0-9a-f]+\)/);
      }
      if (counts.includes(1)) expect(byName(results).get(IM2COL)?.state).toBe('passed');
    }
  });
});
