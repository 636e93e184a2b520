/**
 * The sparse conv variants (suites/sparse/variants/spmm.ts, kernels/assembly/spmm.ts)
 * against the float64 conv of the pruned weights, on awkward shapes: channel
 * counts off every block, pixel counts that leave every tile width and the scalar
 * tail, empty rows, a fully zero and a fully dense layer, 3x3 / strided / padded
 * layers through im2col, a batch of 2. Held to the exact-algorithm checks
 * (reference/tolerance.ts: the per-element bound and both probabilistic checks),
 * which are shown to catch a wrong sparse kernel. Then one case through the
 * runner's measureCase: the weights are pruned before the reference and every
 * variant, the dense baseline included. No speed is asserted anywhere.
 */
import { describe, expect, it } from 'vitest';
import { convCase } from '../core/contracts.js';
import type { CaseSpec, ConvShape, RunOptions } from '../core/contracts.js';
import { conv2dRef } from '../reference/conv.js';
import { convFlops } from '../reference/cost.js';
import { exactToleranceCheck, probabilisticToleranceCheck } from '../reference/tolerance.js';
import { makeConvInputs } from '../reference/random.js';
import { parsePattern, pruneConvWeights, pruneLayout, weightDims } from '../reference/sparse.js';
import { byteIncrements, encodeCsr, encodeOcBlocks, type OcBlocks } from '../reference/sparse-format.js';
import { convSpmmB1x1F32, convSpmmB1x2F32, convSpmmB1x4F32, convSpmmCsrF32, spmmVariant } from '../suites/sparse/variants/spmm.js';
import { sparseVariants } from '../suites/sparse/variants.js';
import { measureCase } from '../harness/runner/measure.js';
import type { Kernels } from '../kernels/index.js';
import { useKernels } from './helpers/kernels.js';
import { convShape as shape } from './helpers/shapes.js';

const kernels = useKernels();

const SPARSE = [convSpmmCsrF32, convSpmmB1x1F32, convSpmmB1x2F32, convSpmmB1x4F32];

/** Shapes chosen to hit every tile width and edge; `why` says which. */
const SHAPES: { why: string; s: ConvShape }[] = [
  { why: '1x1, K=7 C=10, 37 pixels (32 + 4 + 1)', s: shape({ c: 10, k: 7, h: 1, w: 37 }) },
  { why: '1x1, K=6 C=9, 65 pixels (4 x 16 + 1)', s: shape({ c: 9, k: 6, h: 5, w: 13 }) },
  { why: '1x1, K=5 C=3, 15 pixels (8 + 4 + 3)', s: shape({ c: 3, k: 5, h: 3, w: 5 }) },
  { why: '1x1, K=13 C=24 at 7x7 (32 + 16 + 1), MobileNet-like', s: shape({ c: 24, k: 13, h: 7, w: 7 }) },
  { why: '1x1, one output channel, 3 pixels (scalar only)', s: shape({ c: 13, k: 1, h: 1, w: 3 }) },
  { why: '1x1, K=4 C=8, one pixel', s: shape({ c: 8, k: 4 }) },
  { why: '1x1, batch of 2, K=9 C=11 at 4x6', s: shape({ n: 2, c: 11, k: 9, h: 4, w: 6 }) },
  { why: '1x1, 100 pixels (3 x 32 + 4), K=8 C=16', s: shape({ c: 16, k: 8, h: 10, w: 10 }) },
  { why: '3x3 pad 1 via im2col, K=7 C=6', s: shape({ c: 6, k: 7, h: 7, w: 9, r: 3, s: 3, pad: 1 }) },
  { why: '3x3 stride 2 pad 1 via im2col, n=2', s: shape({ n: 2, c: 5, k: 6, h: 9, w: 11, r: 3, s: 3, stride: 2, pad: 1 }) },
  { why: '1x1 stride 2 via im2col', s: shape({ c: 8, k: 5, h: 9, w: 9, stride: 2 }) },
  { why: '1x1 pad 1 via im2col', s: shape({ c: 4, k: 4, h: 3, w: 5, pad: 1 }) },
];

/** Sparsities: dense, fully zero, and every pattern at a fraction where it is meaningful. */
const SPARSITIES: { pattern: string; fraction: number }[] = [
  { pattern: 'unstructured', fraction: 0 },
  { pattern: 'unstructured', fraction: 0.5 },
  { pattern: 'unstructured', fraction: 0.9 },
  { pattern: 'unstructured', fraction: 1 },
  { pattern: '1x2', fraction: 0.8 },
  { pattern: '1x4', fraction: 0.8 },
  { pattern: '1x4', fraction: 0.95 },
  { pattern: '4x1', fraction: 0.7 },
  { pattern: '8x1', fraction: 0.9 },
  { pattern: '2:4', fraction: 0.5 },
];

/** The exact-algorithm checks the runner applies; the list of those that failed. */
function exactFailures(y: Float32Array, ref: { y: Float64Array; absBound: Float64Array }, n: number): string[] {
  const t = exactToleranceCheck(y, ref.y, ref.absBound, n);
  const p = probabilisticToleranceCheck(y, ref.y, ref.absBound, n);
  const out: string[] = [];
  if (!t.ok) out.push(`per-element bound x${t.worstRatio.toPrecision(3)} at ${t.worstIndex}`);
  if (!p.norm.ok) out.push(`error norm ${p.norm.value} > ${p.norm.limit}`);
  if (!p.bias.ok) out.push(`systematic error ${p.bias.value} > ${p.bias.limit}`);
  return out;
}

function runVariant(k: Kernels, v: (typeof SPARSE)[number], s: ConvShape, x: Float32Array, w: Float32Array): Float32Array {
  const mark = k.mark();
  const p = v.prepare({ kernels: k }, s, x, w);
  try {
    p.run();
    const first = Float32Array.from(p.output());
    p.run();
    // Run twice: the output is overwritten, never accumulated.
    expect(p.output()).toEqual(first);
    return first;
  } finally {
    p.dispose();
    k.release(mark);
  }
}

describe('sparse conv variants against the float64 conv of the pruned weights', () => {
  it('are exact on every awkward shape, sparsity and format (or skipped with the reason)', () => {
    const k = kernels();
    let ran = 0;
    let skipped = 0;
    let emptyRows = 0;
    for (const { why, s } of SHAPES) {
      const { x, w } = makeConvInputs(s, 101, 'uniform(-1,1)');
      const n = s.c * s.r * s.s;
      for (const sp of SPARSITIES) {
        const pw = pruneConvWeights(s, w, sp).weights;
        for (let row = 0; row < s.k; row++) if (pw.subarray(row * n, (row + 1) * n).every((v) => v === 0)) emptyRows++;
        const ref = conv2dRef(s, x, pw);
        for (const v of SPARSE) {
          const applies = v.applies(s, { sparsity: sp });
          if (applies !== true) {
            expect(applies, `${v.name} ${sp.pattern}`).toMatch(/leaves zeros inside the blocks/);
            skipped++;
            continue;
          }
          const y = runVariant(k, v, s, x, pw);
          expect(exactFailures(y, ref, n), `${v.name} on ${why}, ${sp.pattern} ${sp.fraction}`).toEqual([]);
          if (sp.fraction === 1) expect(y.every((e) => e === 0)).toBe(true);
          ran++;
        }
      }
    }
    expect(ran).toBeGreaterThan(300);
    expect(skipped).toBeGreaterThan(50);
    // The set really holds empty rows (besides the fully zero layers).
    expect(emptyRows).toBeGreaterThan(SHAPES.reduce((a, { s }) => a + s.k, 0));
  });

  it('match the dense im2col GEMM on the same pruned weights (the baseline of the speedups)', () => {
    const k = kernels();
    const s = shape({ c: 32, k: 24, h: 9, w: 9 });
    const { x, w } = makeConvInputs(s, 5, 'activation');
    const pw = pruneConvWeights(s, w, { pattern: '1x4', fraction: 0.8 }).weights;
    const ref = conv2dRef(s, x, pw);
    const gemm = sparseVariants.find((v) => v.name === 'conv-im2col-gemm-f32')!;
    for (const v of [gemm, ...SPARSE]) expect(exactFailures(runVariant(k, v, s, x, pw), ref, 32), v.name).toEqual([]);
  });

  it('skip grouped and depthwise layers with the reason, and block formats on patterns that leave zeros in their blocks', () => {
    const dw = shape({ c: 8, k: 8, groups: 8, h: 5, w: 5, r: 3, s: 3, pad: 1 });
    for (const v of SPARSE) expect(v.applies(dw)).toMatch(/sparse grouped and depthwise convolution is not worth it.*groups = 8/);
    const sp = { sparsity: { pattern: 'unstructured', fraction: 0.9 } };
    expect(convSpmmCsrF32.applies(shape({ c: 8, k: 8 }), sp)).toBe(true);
    expect(convSpmmB1x1F32.applies(shape({ c: 8, k: 8 }), sp)).toBe(true);
    expect(convSpmmB1x4F32.applies(shape({ c: 8, k: 8 }), sp)).toMatch(/blocks of 4 output channels need weights pruned in blocks/);
    expect(convSpmmB1x2F32.applies(shape({ c: 8, k: 8 }), { sparsity: { pattern: '1x4', fraction: 0.8 } })).toBe(true);
    expect(convSpmmCsrF32.applies(shape({ c: 8, k: 8 }), { sparsity: { pattern: '2:4', fraction: 0.7 } })).toMatch(/its sparsity is 0.5, not 0.7/);
    expect(convSpmmCsrF32.applies(shape({ c: 8, k: 8, h: 2, r: 3 }))).toMatch(/output size/);
  });

  it('count dense effective FLOPs, executed FLOPs on the nonzeros, and bytes of the stored format plus activations', () => {
    const s = shape({ c: 64, k: 64, h: 14, w: 14 });
    const sp = { sparsity: { pattern: 'unstructured', fraction: 0.9 } };
    const kept = pruneLayout(weightDims(s), 'unstructured', 0.9).kept; // 410 of 4096
    expect(kept).toBe(410);
    const act = 4 * (64 * 196 * 2);
    for (const v of [convSpmmCsrF32, convSpmmB1x1F32]) {
      expect(v.flops(s, sp)).toBe(convFlops(s));
      expect(v.executedFlops?.(s, sp)).toBe(2 * 196 * kept);
    }
    expect(convSpmmCsrF32.bytes(s, sp)).toBe(4 * (kept + kept + 65) + act);
    expect(convSpmmB1x1F32.bytes(s, sp)).toBe(4 * (kept + kept + 64) + act);
    // 1x4 blocks at 80%: 1024 blocks, 819 pruned, 205 kept: 820 values, 205 increments, 16 counts.
    const b = { sparsity: { pattern: '1x4', fraction: 0.8 } };
    expect(convSpmmB1x4F32.executedFlops?.(s, b)).toBe(2 * 196 * 820);
    expect(convSpmmB1x4F32.bytes(s, b)).toBe(4 * (820 + 205 + 16) + act);
    expect(convSpmmB1x2F32.bytes(s, b)).toBe(4 * (820 + 410 + 32) + act);
    // Without sparsity: a dense layer in sparse storage.
    expect(convSpmmB1x4F32.executedFlops?.(s)).toBe(convFlops(s));
    expect(convSpmmB1x4F32.info?.(s, b)).toMatchObject({ format: 'b1x4', storedValues: 820, denseWeightBytes: 4 * 4096, path: '1x1: SpMM on the input' });
    // The prediction is what prepare really stores.
    const k = kernels();
    const { x, w } = makeConvInputs(s, 3, 'uniform(-1,1)');
    const pw = pruneConvWeights(s, w, b.sparsity).weights;
    const p = convSpmmB1x4F32.prepare({ kernels: k }, s, x, pw);
    expect(p.preparedBytes).toBe(4 * (820 + 205 + 16));
    expect(p.prepareNote).toMatch(/820 stored values of 4096 \(80\.0% not stored\)/);
    p.dispose();
  });
});

/** Runs the blocks kernel directly on a (possibly corrupted) encoding. */
function spmmBlocks(k: Kernels, m: OcBlocks, x: Float32Array, p: number): Float32Array {
  const sparse = k.sparse!;
  const mark = k.mark();
  try {
    const vals = k.allocCopy(m.values);
    const inc = k.alloc(m.diffs.length);
    new Int32Array(k.memory.buffer, inc.ptr, m.diffs.length).set(byteIncrements(m, p));
    const nnz = k.alloc(m.nnzMap.length);
    new Int32Array(k.memory.buffer, nnz.ptr, m.nnzMap.length).set(m.nnzMap);
    const xb = k.allocCopy(x);
    const y = k.alloc(m.rows * p);
    const rc = sparse.spmm_blocks_f32(m.block, p, m.fullBlocks, m.tailRows, xb.ptr + m.first * p * 4, vals.ptr, inc.ptr, nnz.ptr, y.ptr);
    expect(rc).toBe(0);
    return Float32Array.from(y.view());
  } finally {
    k.release(mark);
  }
}

describe('the checks catch a wrong sparse kernel (faults injected into the encoding the kernel reads)', () => {
  const s = shape({ c: 256, k: 64, h: 14, w: 14 });
  const { x, w } = makeConvInputs(s, 9, 'uniform(-1,1)');
  const pw = pruneConvWeights(s, w, { pattern: '1x4', fraction: 0.5 }).weights;
  const ref = conv2dRef(s, x, pw);

  it('passes the right encoding, for every block size', () => {
    const k = kernels();
    for (const b of [1, 2, 4]) expect(exactFailures(spmmBlocks(k, encodeOcBlocks(pw, 64, 256, b), x, 196), ref, 256), `b${b}`).toEqual([]);
    expect(k.sparse!.spmm_blocks_f32(3, 4, 1, 0, 0, 0, 0, 0, 0)).toBe(-1);
  });

  it('an off-by-one nonzero count (the last nonzero of a block dropped) fails the per-element bound', () => {
    const m = encodeOcBlocks(pw, 64, 256, 4);
    // The block's dropped step must still land on the next block's row: fold it into the previous step.
    const t = m.nnzMap[0]! - 1;
    const diffs = Int32Array.from(m.diffs);
    diffs[t - 1] = diffs[t - 1]! + diffs[t]!;
    const dropped: OcBlocks = {
      ...m,
      nnzMap: m.nnzMap.map((v, i) => (i === 0 ? v - 1 : v)),
      values: Float32Array.from([...m.values.subarray(0, 4 * t), ...m.values.subarray(4 * (t + 1))]),
      diffs: Int32Array.from([...diffs.subarray(0, t), ...diffs.subarray(t + 1)]),
    };
    expect(exactFailures(spmmBlocks(kernels(), dropped, x, 196), ref, 256).join('; ')).toMatch(/per-element bound/);
  });

  it('weights scaled by 1 + 1e-4 fail the systematic-error check', () => {
    const m = encodeOcBlocks(pw, 64, 256, 4);
    const scaled = { ...m, values: m.values.map((v) => v * (1 + 1e-4)) };
    const failures = exactFailures(spmmBlocks(kernels(), scaled, x, 196), ref, 256);
    expect(failures.join('; ')).toMatch(/systematic error/);
  });

  it('the CSR layout is the one the kernel reads: a shifted column index fails', () => {
    const k = kernels();
    const m = encodeCsr(pw, 64, 256);
    const colIdx = Int32Array.from(m.colIdx);
    colIdx[5] = (colIdx[5]! + 1) % 256;
    const mark = k.mark();
    try {
      const put = (d: Int32Array) => {
        const b = k.alloc(d.length);
        new Int32Array(k.memory.buffer, b.ptr, d.length).set(d);
        return b.ptr;
      };
      const vals = k.allocCopy(m.values).ptr;
      const ci = put(colIdx);
      const rp = put(m.rowPtr);
      const xb = k.allocCopy(x);
      const y = k.alloc(64 * 196);
      k.sparse!.spmm_csr_f32(196, 64, xb.ptr, vals, ci, rp, y.ptr);
      expect(exactFailures(Float32Array.from(y.view()), ref, 256).join('; ')).toMatch(/per-element bound/);
    } finally {
      k.release(mark);
    }
  });
});

describe('a sparse case through the runner', () => {
  const options: RunOptions = {
    quick: true,
    suites: ['sparse'],
    filter: null,
    distribution: 'uniform(-1,1)',
    targetMs: 4,
    minSamples: 3,
    maxSamples: 3,
    minSampleMs: 0.5,
    cvTarget: 0.05,
    rounds: 1,
  };
  const spec = (sparsity: CaseSpec['sparsity'], s: ConvShape): CaseSpec =>
    convCase({
      id: 'sparse/test.pw',
      suite: 'sparse',
      layer: 'test.pw',
      description: 'a small pointwise layer',
      shape: s,
      seed: 21,
      distribution: 'uniform(-1,1)',
      tags: ['1x1'],
      ...(sparsity ? { sparsity } : {}),
    });
  const measure = (c: CaseSpec) =>
    measureCase(
      c,
      sparseVariants.map((v) => v.name),
      {
        ctx: { kernels: kernels() },
        features: { wasmSimd: true },
        options,
        ceilings: null,
        resolveVariant: (_suite, name) => sparseVariants.find((v) => v.name === name),
      },
    );

  it('prunes the weights once, before the reference and every variant: the dense GEMM and the sparse kernels all pass', async () => {
    const s = shape({ c: 48, k: 40, h: 9, w: 9 });
    const results = await measure(spec({ pattern: '1x4', fraction: 0.8 }, s));
    expect(results.map((r) => [r.variant, r.state])).toEqual(sparseVariants.map((v) => [v.name, 'passed']));
    const layout = pruneLayout(weightDims(s), '1x4', 0.8);
    for (const r of results) {
      // Every result says what pruning did and cost, for the report.
      expect(r.info).toMatchObject({ sparsityPattern: '1x4', sparsityFraction: 0.8, sparsityAchieved: layout.achieved, weightsKept: layout.kept });
      expect(r.info?.pruningWeightRelL2).toBeGreaterThan(0.1);
      expect(r.info?.pruningOutputRelL2).toBeGreaterThan(0.1);
      expect(r.cost.flops).toBe(convFlops(s));
    }
    const b4 = results.find((r) => r.variant === 'conv-spmm-b1x4-f32')!;
    expect(b4.cost.executedFlops).toBe(2 * 81 * layout.kept);
    // The dense baseline runs on the same pruned weights: it is checked against the same reference and passes.
    const gemm = results.find((r) => r.variant === 'conv-im2col-gemm-f32')!;
    expect(gemm.state).toBe('passed');
  });

  it('an unstructured case skips the block formats with the reason; a case without sparsity runs dense weights', async () => {
    const s = shape({ c: 20, k: 12, h: 5, w: 7 });
    const results = await measure(spec({ pattern: 'unstructured', fraction: 0.9 }, s));
    const state = Object.fromEntries(results.map((r) => [r.variant, r.state]));
    expect(state).toEqual({
      'conv-im2col-gemm-f32': 'passed',
      'conv-spmm-csr-f32': 'passed',
      'conv-spmm-b1x1-f32': 'passed',
      'conv-spmm-b1x2-f32': 'skipped',
      'conv-spmm-b1x4-f32': 'skipped',
    });
    const skipped = results.find((r) => r.variant === 'conv-spmm-b1x4-f32');
    if (skipped?.state === 'skipped') expect(skipped.reason).toMatch(/pattern unstructured leaves zeros inside the blocks/);
    const dense = await measure(spec(undefined, s));
    expect(dense.every((r) => r.state === 'passed')).toBe(true);
    expect(dense.every((r) => r.info?.sparsityPattern === undefined)).toBe(true);
    expect(dense.find((r) => r.variant === 'conv-spmm-csr-f32')?.cost.executedFlops).toBe(convFlops(s));
  });

  it('a bad sparsity errors the case with the reason (N:M at another fraction)', async () => {
    await expect(measure(spec({ pattern: '2:4', fraction: 0.9 }, shape({ c: 8, k: 4 })))).rejects.toThrow(/2:4 keeps 2 of every 4/);
  });
});

describe('spmmVariant', () => {
  it('names follow the grammar and every format has its kernel', () => {
    expect(SPARSE.map((v) => v.name)).toEqual(['conv-spmm-csr-f32', 'conv-spmm-b1x1-f32', 'conv-spmm-b1x2-f32', 'conv-spmm-b1x4-f32']);
    expect(spmmVariant({ kind: 'blocks', block: 4 }).name).toBe('conv-spmm-b1x4-f32');
    expect([1, 2, 4].map((b) => kernels().sparse!.spmm_tile(b))).toEqual([32, 16, 8]);
    expect(parsePattern('1x4')).toEqual({ kind: 'block', ic: 1, oc: 4 });
  });
});
