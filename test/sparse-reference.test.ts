/**
 * Pruning (reference/sparse.ts) and the sparse formats (reference/sparse-format.ts):
 * exact sparsity per pattern, deterministic ties, encode/decode round trips and
 * the storage the cost model predicts. Every checker used here is shown to fail
 * on a deliberately wrong input.
 */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_FRACTIONS,
  DEFAULT_PATTERNS,
  parsePattern,
  patternName,
  prune,
  pruneLayout,
  pruningLoss,
  sparsityInfo,
  type WeightDims,
} from '../reference/sparse.js';
import {
  byteIncrements,
  csrStorage,
  decodeCsr,
  decodeOcBlocks,
  denseStorage,
  encodeCsr,
  encodeOcBlocks,
  formatFitsPattern,
  ocBlocksStorage,
  predictStorage,
  type SparseFormat,
} from '../reference/sparse-format.js';
import { fillHe, makeRng } from '../reference/random.js';
import { pruningProblems } from './helpers/sparse.js';

function heWeights(d: WeightDims, seed: number): Float32Array {
  const w = new Float32Array(d.k * d.c * d.r * d.s);
  fillHe(w, d.k, d.c * d.r * d.s, makeRng(seed));
  return w;
}

/** Awkward dims: channels not multiples of any block, a 3x3 layer, a single weight, a one-row layer. */
const DIMS: { why: string; d: WeightDims }[] = [
  { why: '1x1, K and C off every block', d: { k: 7, c: 10, r: 1, s: 1 } },
  { why: '3x3, K = 6, C = 9', d: { k: 6, c: 9, r: 3, s: 3 } },
  { why: '1x1, multiples of 8', d: { k: 16, c: 24, r: 1, s: 1 } },
  { why: 'one output channel', d: { k: 1, c: 13, r: 1, s: 1 } },
  { why: 'fewer inputs than a block', d: { k: 5, c: 3, r: 1, s: 1 } },
  { why: 'a single weight', d: { k: 1, c: 1, r: 1, s: 1 } },
];

const fractionsFor = (pattern: string): number[] => (parsePattern(pattern).kind === 'nm' ? [0.5] : [0, ...DEFAULT_FRACTIONS, 0.33, 1]);

describe('sparsity patterns', () => {
  it('parses every default pattern and names it back', () => {
    for (const p of DEFAULT_PATTERNS) expect(patternName(parsePattern(p))).toBe(p);
    expect(parsePattern('1x4')).toEqual({ kind: 'block', ic: 1, oc: 4 });
    expect(parsePattern('8x1')).toEqual({ kind: 'block', ic: 8, oc: 1 });
    expect(parsePattern('2:4')).toEqual({ kind: 'nm', n: 2, m: 4 });
    expect(parsePattern('1x1')).toEqual({ kind: 'unstructured' });
  });

  it('refuses bad patterns and fractions, saying what is accepted', () => {
    expect(() => parsePattern('blocky')).toThrow(/unknown sparsity pattern "blocky": use 'unstructured', a block/);
    expect(() => parsePattern('0x4')).toThrow(/block sides must be between 1 and 64/);
    expect(() => parsePattern('4:4')).toThrow(/N:M needs 1 <= N < M/);
    const d = { k: 4, c: 4, r: 1, s: 1 };
    expect(() => pruneLayout(d, 'unstructured', 1.5)).toThrow(/fraction 1.5 must be a number between 0 and 1/);
    expect(() => pruneLayout(d, 'unstructured', Number.NaN)).toThrow(/between 0 and 1/);
    expect(() => pruneLayout(d, '2:4', 0.9)).toThrow(/2:4 keeps 2 of every 4 weights: its sparsity is 0.5, not 0.9/);
    expect(() => prune(new Float32Array(3), d, 'unstructured', 0.5)).toThrow(/3 weights, but 4x4x1x1 \(KCRS\) needs 16/);
    expect(() =>
      prune(
        Float32Array.from({ length: 16 }, (_, i) => (i === 3 ? NaN : 1)),
        d,
        'unstructured',
        0.5,
      ),
    ).toThrow(/weight 3 is NaN/);
  });
});

describe('pruning', () => {
  it('hits the layout exactly and is the magnitude pruning, for every pattern, fraction and awkward shape', () => {
    let checked = 0;
    for (const { why, d } of DIMS) {
      const w = heWeights(d, 11);
      for (const pattern of DEFAULT_PATTERNS) {
        for (const f of fractionsFor(pattern)) {
          const res = prune(w, d, pattern, f);
          const zeros = res.weights.reduce((a, v) => a + (v === 0 ? 1 : 0), 0);
          expect(zeros, `${why} ${pattern} ${f}`).toBe(res.pruned);
          expect(res.pruned + res.kept).toBe(w.length);
          expect(pruningProblems(w, res.weights, d, pattern, f), `${why} ${pattern} ${f}`).toEqual([]);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(200);
  });

  it('prunes exactly round(f * n) granules: 90% of a 64x64 layer is 3686 weights, 80% of its 1x4 blocks 819 blocks', () => {
    const d = { k: 64, c: 64, r: 1, s: 1 };
    expect(pruneLayout(d, 'unstructured', 0.9).pruned).toBe(3686);
    const l = pruneLayout(d, '1x4', 0.8);
    expect(l.classes).toEqual([{ ic: 1, oc: 4, count: 1024, pruned: 819, prunedWeights: 3276 }]);
    expect(l.achieved).toBeCloseTo(3276 / 4096, 15);
    // Edge blocks are their own class: K = 7 with 1x4 leaves a 1x3 block per input channel.
    const e = pruneLayout({ k: 7, c: 10, r: 1, s: 1 }, '1x4', 0.5);
    expect(e.classes.map((c) => [c.ic, c.oc, c.count, c.pruned])).toEqual([
      [1, 4, 10, 5],
      [1, 3, 10, 5],
    ]);
    // 2:4 on C = 10: two full groups (2 of 4 pruned each) and a group of 2 that keeps both.
    const nm = pruneLayout({ k: 3, c: 10, r: 1, s: 1 }, '2:4', 0.5);
    expect(nm.pruned).toBe(3 * 2 * 2);
    expect(pruneLayout(d, 'unstructured', 0).pruned).toBe(0);
    expect(pruneLayout(d, '8x1', 1).kept).toBe(0);
  });

  it('breaks ties by KCRS order, so equal weights give the same answer everywhere', () => {
    const d = { k: 4, c: 8, r: 1, s: 1 };
    const ones = new Float32Array(32).fill(1);
    // Unstructured 25% of 32 equal weights: the first 8 in KCRS order.
    const u = prune(ones, d, 'unstructured', 0.25).weights;
    expect([...u].map((v) => (v === 0 ? 0 : 1)).join('')).toBe('00000000111111111111111111111111');
    // 1x4 blocks: 8 granules (one per input channel), 50% -> input channels 0..3 of the block of rows 0..3.
    const b = prune(ones, d, '1x4', 0.5).weights;
    for (let k = 0; k < 4; k++) expect([...b.slice(k * 8, k * 8 + 8)].map((v) => (v === 0 ? 0 : 1)).join('')).toBe('00001111');
    // 2:4 with ties: the lower channels of each group go.
    const nm = prune(
      Float32Array.from({ length: 32 }, (_, i) => (i % 2 ? -1 : 1)),
      d,
      '2:4',
      0.5,
    ).weights;
    expect([...nm.slice(0, 8)].map((v) => (v === 0 ? 0 : 1)).join('')).toBe('00110011');
    // Heavily tied (quantised) weights, where the threshold search meets runs of equal scores.
    const qd = { k: 16, c: 24, r: 3, s: 3 };
    const q = Float32Array.from({ length: 16 * 24 * 9 }, (_, i) => [-2, -1, 1, 2][(i * 7919) % 4]!);
    for (const p of DEFAULT_PATTERNS) {
      for (const f of fractionsFor(p)) expect(pruningProblems(q, prune(q, qd, p, f).weights, qd, p, f), `${p} ${f}`).toEqual([]);
    }
    // And the result does not depend on anything but the weights: same input, same bytes.
    const w = heWeights({ k: 9, c: 11, r: 3, s: 3 }, 5);
    for (const p of DEFAULT_PATTERNS) {
      const f = parsePattern(p).kind === 'nm' ? 0.5 : 0.8;
      expect(prune(w, { k: 9, c: 11, r: 3, s: 3 }, p, f).weights).toEqual(prune(Float32Array.from(w), { k: 9, c: 11, r: 3, s: 3 }, p, f).weights);
    }
  });

  it('the checker catches a wrong pruning: a threshold with ties, part of a block, the wrong granules, a changed weight', () => {
    const d = { k: 8, c: 8, r: 1, s: 1 };
    // Weights with many ties (quantised): a threshold |w| <= t prunes too many.
    const w = Float32Array.from({ length: 64 }, (_, i) => ((i * 37) % 5) + 1);
    const t = [...w].map(Math.abs).sort((a, b) => a - b)[Math.floor(0.5 * 64) - 1]!;
    const threshold = w.map((v) => (Math.abs(v) <= t ? 0 : v));
    expect(pruningProblems(w, threshold, d, 'unstructured', 0.5).join('\n')).toMatch(/class 1x1: \d+ of 64 granules pruned, want exactly 32/);
    // Unstructured pruning handed in for 1x4 blocks: blocks pruned in part.
    const he = heWeights(d, 3);
    const unstructured = prune(he, d, 'unstructured', 0.5).weights;
    expect(pruningProblems(he, unstructured, d, '1x4', 0.5).join('\n')).toMatch(/pruned in part/);
    // The right count, the wrong granules (the largest instead of the smallest).
    const largest = Float32Array.from(he);
    const order = [...he.keys()].sort((a, b) => Math.abs(he[b]!) - Math.abs(he[a]!));
    for (const i of order.slice(0, 32)) largest[i] = 0;
    expect(pruningProblems(he, largest, d, 'unstructured', 0.5).join('\n')).toMatch(/pruned the granule at \d+ .* but kept/);
    // A kept weight changed.
    const changed = prune(he, d, 'unstructured', 0.5).weights;
    const i = changed.findIndex((v) => v !== 0);
    changed[i] = changed[i]! * 1.5;
    expect(pruningProblems(he, changed, d, 'unstructured', 0.5).join('\n')).toMatch(new RegExp(`weight ${i} changed`));
    // N:M with the wrong count per group.
    const nm = prune(he, d, '2:4', 0.5).weights;
    nm[nm.findIndex((v) => v !== 0)] = 0;
    expect(pruningProblems(he, nm, d, '2:4', 0.5).join('\n')).toMatch(/1 kept, want 2/);
  });

  it('states what pruning did and cost, for the results', () => {
    const layout = pruneLayout({ k: 2, c: 2, r: 1, s: 1 }, 'unstructured', 0.5);
    expect(sparsityInfo(layout, { relL2: 0.5, energyRemoved: 0.25 }, { unpruned: [3, 4], pruned: [3, 0] })).toEqual({
      sparsityPattern: 'unstructured',
      sparsityFraction: 0.5,
      sparsityAchieved: 0.5,
      weightsKept: 2,
      pruningWeightRelL2: 0.5,
      pruningOutputRelL2: 0.8,
    });
    // An all-zero unpruned output: the absolute error, never Infinity (results are JSON).
    expect(sparsityInfo(layout, { relL2: 0, energyRemoved: 0 }, { unpruned: [0, 0], pruned: [0, 0] }).pruningOutputRelL2).toBe(0);
    expect(() => sparsityInfo(layout, { relL2: 0, energyRemoved: 0 }, { unpruned: [0], pruned: [0, 0] })).toThrow(/1 unpruned outputs but 2/);
  });

  it('reports the pruning loss on the weights', () => {
    expect(pruningLoss([3, 4], [3, 0])).toEqual({ relL2: 0.8, energyRemoved: 16 / 25 });
    expect(pruningLoss([0, 0], [0, 0])).toEqual({ relL2: 0, energyRemoved: 0 });
    expect(() => pruningLoss([1], [1, 2])).toThrow(/1 original weights but 2 pruned/);
    // Magnitude pruning removes the small weights: 90% of He weights carry well under 90% of the energy.
    const d = { k: 32, c: 32, r: 1, s: 1 };
    const w = heWeights(d, 1);
    const loss = pruningLoss(w, prune(w, d, 'unstructured', 0.9).weights);
    expect(loss.energyRemoved).toBeGreaterThan(0.3);
    expect(loss.energyRemoved).toBeLessThan(0.75);
  });
});

const FORMATS: SparseFormat[] = [{ kind: 'csr' }, { kind: 'blocks', block: 1 }, { kind: 'blocks', block: 2 }, { kind: 'blocks', block: 4 }];
const fmtName = (f: SparseFormat) => (f.kind === 'csr' ? 'csr' : `b1x${f.block}`);

function encode(f: SparseFormat, w: Float32Array, rows: number, cols: number) {
  if (f.kind === 'csr') {
    const m = encodeCsr(w, rows, cols);
    return { decoded: decodeCsr(m), storage: csrStorage(m) };
  }
  const m = encodeOcBlocks(w, rows, cols, f.block);
  return { decoded: decodeOcBlocks(m), storage: ocBlocksStorage(m) };
}

describe('sparse formats', () => {
  it('round-trip every pattern, fraction and awkward shape exactly, and store what the cost model predicts', () => {
    let predicted = 0;
    let roundTrips = 0;
    for (const { why, d } of DIMS) {
      const w = heWeights(d, 17);
      const rows = d.k;
      const cols = d.c * d.r * d.s;
      for (const pattern of DEFAULT_PATTERNS) {
        for (const fraction of fractionsFor(pattern)) {
          const pw = prune(w, d, pattern, fraction);
          for (const f of FORMATS) {
            const { decoded, storage } = encode(f, pw.weights, rows, cols);
            expect(decoded, `${why} ${pattern} ${fraction} ${fmtName(f)}`).toEqual(pw.weights);
            roundTrips++;
            // Nothing pruned (a fraction that rounds to no granule): dense storage, whatever the pattern.
            if (formatFitsPattern(f, pattern, fraction) === true || pw.pruned === 0) {
              expect(predictStorage(f, d, pw), `${why} ${pattern} ${fraction} ${fmtName(f)}`).toEqual(storage);
              predicted++;
            } else {
              expect(() => predictStorage(f, d, pw)).toThrow(/leaves zeros inside the blocks/);
            }
          }
        }
      }
    }
    expect(roundTrips).toBeGreaterThan(800);
    expect(predicted).toBeGreaterThan(500);
  });

  it('stores empty rows, an all-zero and an all-dense matrix', () => {
    // Rows 1 and 3 empty.
    const w = Float32Array.from([1, 0, 2, 0, 0, 0, 0, 0, 0, 3, 0, 4, 0, 0, 0, 0, 5, 0, 0, 6], (v) => v);
    const csr = encodeCsr(w, 5, 4);
    expect([...csr.rowPtr]).toEqual([0, 2, 2, 4, 4, 6]);
    expect([...csr.colIdx]).toEqual([0, 2, 1, 3, 0, 3]);
    const b2 = encodeOcBlocks(w, 5, 4, 2);
    // Blocks (rows 0-1), (rows 2-3), then row 4 single: columns {0,2}, {1,3}, {0,3}.
    expect([...b2.nnzMap]).toEqual([2, 2, 2]);
    expect([...b2.values]).toEqual([1, 0, 2, 0, 3, 0, 4, 0, 5, 6]);
    expect(b2.first).toBe(0);
    expect([...b2.diffs]).toEqual([2, -1, 2, -3, 3, -3]);
    expect(decodeOcBlocks(b2)).toEqual(w);
    const zero = new Float32Array(12);
    for (const f of FORMATS) {
      const { decoded, storage } = encode(f, zero, 3, 4);
      expect(decoded).toEqual(zero);
      expect(storage.values).toBe(0);
    }
    const dense = Float32Array.from({ length: 12 }, (_, i) => i + 1);
    const b4 = encodeOcBlocks(dense, 3, 4, 4);
    expect(b4.fullBlocks).toBe(0);
    expect(ocBlocksStorage(b4)).toEqual({ values: 12, indices: 12, map: 3, bytes: 108 });
    expect(csrStorage(encodeCsr(dense, 3, 4))).toEqual({ values: 12, indices: 12, map: 4, bytes: 112 });
    expect(denseStorage({ k: 3, c: 4, r: 1, s: 1 }).bytes).toBe(48);
  });

  it('decoding refuses malformed encodings (a corrupted step, count or index)', () => {
    const w = heWeights({ k: 6, c: 8, r: 1, s: 1 }, 2);
    const pw = prune(w, { k: 6, c: 8, r: 1, s: 1 }, '1x2', 0.5).weights;
    const b = encodeOcBlocks(pw, 6, 8, 2);
    expect(() => decodeOcBlocks({ ...b, diffs: b.diffs.map((d, i) => (i === 0 ? d + 100 : d)) })).toThrow(/out of range/);
    expect(() => decodeOcBlocks({ ...b, diffs: b.diffs.map((d, i) => (i === b.diffs.length - 1 ? d + 1 : d)) })).toThrow(/not back on the first/);
    expect(() => decodeOcBlocks({ ...b, nnzMap: b.nnzMap.map((n, i) => (i === 0 ? n - 1 : n)) })).toThrow(/left over/);
    const c = encodeCsr(pw, 6, 8);
    expect(() => decodeCsr({ ...c, colIdx: c.colIdx.map((x, i) => (i === 1 ? c.colIdx[0]! : x)) })).toThrow(/out of order/);
    expect(() => decodeCsr({ ...c, rowPtr: c.rowPtr.map((x, i) => (i === 6 ? x + 1 : x)) })).toThrow(/malformed CSR/);
    expect(() => encodeCsr(pw, 5, 8)).toThrow(/48 weights, but 5 x 8 needs 40/);
  });

  it('turns column steps into byte increments, refusing one beyond an int32', () => {
    const b = encodeOcBlocks(Float32Array.from([0, 0, 1, 1, 0, 1]), 2, 3, 1);
    expect(b.first).toBe(2);
    expect([...b.diffs]).toEqual([-2, 2, 0]);
    expect([...byteIncrements(b, 10)]).toEqual([-80, 80, 0]);
    expect(() => byteIncrements(b, 2 ** 28)).toThrow(/beyond an int32/);
  });

  it('says which block formats fit which patterns', () => {
    expect(formatFitsPattern({ kind: 'blocks', block: 4 }, '1x4', 0.8)).toBe(true);
    expect(formatFitsPattern({ kind: 'blocks', block: 2 }, '1x4', 0.8)).toBe(true);
    expect(formatFitsPattern({ kind: 'blocks', block: 4 }, '1x2', 0.8)).toMatch(/pattern 1x2 leaves zeros inside the blocks/);
    expect(formatFitsPattern({ kind: 'blocks', block: 4 }, 'unstructured', 0.9)).toMatch(/e\.g\. 1x4/);
    expect(formatFitsPattern({ kind: 'blocks', block: 4 }, 'unstructured', 0)).toBe(true);
    expect(formatFitsPattern({ kind: 'csr' }, '8x1', 0.9)).toBe(true);
  });
});
