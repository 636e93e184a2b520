import { describe, expect, it } from 'vitest';
import { detectChangePoints, detectChangePointsWithBreaks, pelt, robustSigma } from '../harness/history/changepoints.js';
import { normal, rng } from './helpers/synthetic.js';

/** A series of `n` values around `level(i)` with relative noise `sd`. */
function series(n: number, level: (i: number) => number, sd: number, seed: number): number[] {
  const z = normal(rng(seed));
  return Array.from({ length: n }, (_, i) => level(i) * Math.exp(sd * z()));
}

/** Exhaustive optimal partitioning (no pruning): the reference PELT must match. */
function bruteForce(x: number[], beta: number, minSeg: number, sigma: number): number[] {
  const n = x.length;
  const cost = (a: number, b: number) => {
    const seg = x.slice(a, b);
    const m = seg.reduce((p, q) => p + q, 0) / seg.length;
    return seg.reduce((p, q) => p + (q - m) ** 2, 0) / (sigma * sigma);
  };
  const F = new Array<number>(n + 1).fill(Infinity);
  const last = new Array<number>(n + 1).fill(-1);
  F[0] = -beta;
  for (let t = minSeg; t <= n; t++) {
    for (let tau = 0; tau <= t - minSeg; tau++) {
      if (tau > 0 && tau < minSeg) continue;
      const v = F[tau]! + cost(tau, t) + beta;
      if (v < F[t]!) {
        F[t] = v;
        last[t] = tau;
      }
    }
  }
  const cps: number[] = [];
  for (let t = n; t > 0; t = last[t]!) if (last[t]! > 0) cps.push(last[t]!);
  return cps.reverse();
}

describe('change points', () => {
  it('finds a 10% step at the right index', () => {
    const x = series(60, (i) => (i < 37 ? 2 : 2.2), 0.01, 1);
    const cps = detectChangePoints(x);
    expect(cps.map((c) => c.index)).toEqual([37]);
    expect(cps[0]!.relChange).toBeGreaterThan(0.08);
    expect(cps[0]!.relChange).toBeLessThan(0.12);
    expect(cps[0]!.before).toBeCloseTo(2, 1);
  });

  it('finds two steps (a regression and its fix) with realistic noise', () => {
    for (let seed = 1; seed <= 10; seed++) {
      const x = series(90, (i) => (i < 30 ? 1 : i < 60 ? 1.15 : 1), 0.02, seed);
      const cps = detectChangePoints(x);
      expect(
        cps.map((c) => c.index),
        `seed ${seed}`,
      ).toEqual([30, 60]);
      expect(cps[0]!.relChange).toBeGreaterThan(0);
      expect(cps[1]!.relChange).toBeLessThan(0);
    }
  });

  it('stays quiet on 50 noise-only series (no false change points)', () => {
    let found = 0;
    for (let seed = 100; seed < 150; seed++) found += detectChangePoints(series(120, () => 5, 0.02, seed)).length;
    expect(found).toBe(0);
  });

  it('ignores single outliers (shorter than the minimum segment)', () => {
    const x = series(40, () => 1, 0.01, 3);
    x[10] = 1.6;
    x[11] = 1.6;
    x[25] = 0.5;
    expect(detectChangePoints(x)).toEqual([]);
  });

  it('respects the minimum segment length', () => {
    // The step leaves only 3 points: with segments of at least 5 it cannot be placed at 37.
    const x = series(40, (i) => (i < 37 ? 1 : 1.3), 0.005, 4);
    expect(detectChangePoints(x, { minSegment: 3 }).map((c) => c.index)).toEqual([37]);
    for (const minSegment of [4, 5, 8]) {
      const bounds = [0, ...detectChangePoints(x, { minSegment }).map((c) => c.index), x.length];
      for (let i = 1; i < bounds.length; i++) expect(bounds[i]! - bounds[i - 1]!).toBeGreaterThanOrEqual(minSegment);
    }
  });

  it('drops statistically clear but practically small steps (minimum relative change)', () => {
    const x = series(80, (i) => (i < 40 ? 1 : 1.02), 0.002, 5);
    expect(detectChangePoints(x, { minRelChange: 0.01 }).map((c) => c.index)).toEqual([40]);
    expect(detectChangePoints(x, { minRelChange: 0.05 })).toEqual([]);
  });

  it('annotations reset the baseline: each stretch is segmented on its own', () => {
    // A step exactly at an annotation is not a change point (it is the known change).
    const x = series(60, (i) => (i < 30 ? 1 : 1.2), 0.01, 6);
    expect(detectChangePoints(x).map((c) => c.index)).toEqual([30]);
    expect(detectChangePointsWithBreaks(x, [30])).toEqual([]);
    // A later step inside the new stretch is found, with an index into the whole series.
    const y = series(90, (i) => (i < 30 ? 1 : i < 65 ? 1.2 : 1.4), 0.01, 7);
    expect(detectChangePointsWithBreaks(y, [30]).map((c) => c.index)).toEqual([65]);
  });

  it('PELT gives the same optimum as exhaustive search (pruning loses nothing)', () => {
    for (let seed = 1; seed <= 25; seed++) {
      const rand = rng(seed);
      const n = 20 + Math.floor(rand() * 25);
      const steps = [Math.floor(rand() * n), Math.floor(rand() * n)];
      const x = series(n, (i) => 1 + (i > steps[0]! ? 0.1 : 0) - (i > steps[1]! ? 0.07 : 0), 0.02, seed).map(Math.log);
      const sigma = Math.max(robustSigma(x), 0.002);
      const beta = 3 * Math.log(n);
      for (const minSeg of [1, 2, 4]) {
        expect(pelt(x, beta, minSeg, sigma), `seed ${seed} minSeg ${minSeg}`).toEqual(bruteForce(x, beta, minSeg, sigma));
      }
    }
  });

  it('refuses bad input', () => {
    expect(() => detectChangePoints([1, 2, 3, 0, 1, 2, 3, 4, 5, 6, 7])).toThrow(/positive/);
    expect(() => detectChangePoints([1, 2], { minSegment: 0 })).toThrow(/minSegment/);
    expect(detectChangePoints([1, 2, 3])).toEqual([]);
  });
});
