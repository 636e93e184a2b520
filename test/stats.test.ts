import { describe, expect, it } from 'vitest';
import { Stats } from '../core/contracts.js';
import { computeStatistics, isNoisy, medianCiRanks } from '../core/stats.js';

// 19 samples around 10 ms plus one injected 10x sample (index 19). Sorted:
// 9.6 9.7 9.8 9.9 9.9 10.0 10.0 10.0 10.0 10.1 | 10.1 10.1 10.2 10.2 10.2 10.3 10.3 10.4 10.5 100
const SAMPLES = [10.0, 10.2, 9.9, 10.1, 10.3, 9.8, 10.0, 10.4, 10.1, 9.7, 10.2, 10.0, 10.5, 9.9, 10.1, 10.3, 10.0, 9.6, 10.2, 100.0];

describe('medianCiRanks (order-statistic CI of the median, B ~ Bin(n, 1/2))', () => {
  it('matches the published ranks', () => {
    // n = 20: P(B <= 3) = 1351/2^20 = 0.00129 <= 0.005 < P(B <= 4) = 6196/2^20
    const r99 = medianCiRanks(20, 0.99);
    expect(r99).toMatchObject({ lower: 4, upper: 17, reached: true });
    expect(r99.coverage).toBeCloseTo(1 - (2 * 1351) / 2 ** 20, 12);
    const r95 = medianCiRanks(20, 0.95);
    expect([r95.lower, r95.upper]).toEqual([6, 15]);
    expect(r95.coverage).toBeCloseTo(0.9586105346679688, 12);
    const r100 = medianCiRanks(100, 0.99);
    expect([r100.lower, r100.upper]).toEqual([37, 64]);
    expect(r100.coverage).toBeCloseTo(0.9933628794840739, 10);
    const r1000 = medianCiRanks(1000, 0.99);
    expect([r1000.lower, r1000.upper]).toEqual([459, 542]);
    expect(r1000.coverage).toBeCloseTo(0.9913600509977395, 8);
    expect(medianCiRanks(5000, 0.99).reached).toBe(true); // 2^-5000 underflows: log-space walk
  });
  it('falls back to [1, n] when n is too small for the level', () => {
    const r8 = medianCiRanks(8, 0.99);
    expect(r8).toMatchObject({ lower: 1, upper: 8, reached: true });
    expect(r8.coverage).toBeCloseTo(1 - 2 / 256, 12);
    const r7 = medianCiRanks(7, 0.99);
    expect(r7).toMatchObject({ lower: 1, upper: 7, reached: false });
    expect(r7.coverage).toBeCloseTo(1 - 2 / 128, 12);
    expect(medianCiRanks(1, 0.99)).toMatchObject({ lower: 1, upper: 1, reached: false });
    expect(() => medianCiRanks(0, 0.99)).toThrow(/positive integer/);
    expect(() => medianCiRanks(10, 1)).toThrow(/level/);
  });
});

describe('computeStatistics', () => {
  const st = computeStatistics(SAMPLES);

  it('matches the contract schema', () => {
    expect(Stats.parse(st)).toEqual(st);
  });

  it('median, CI, min/max, p90, MAD on fixed samples', () => {
    expect(st.n).toBe(20);
    expect(st.median).toBe(10.1); // (x10 + x11) / 2 = (10.1 + 10.1) / 2
    expect(st.ciLevel).toBe(0.99);
    expect(st.ciLow).toBe(9.9); // rank 4
    expect(st.ciHigh).toBe(10.3); // rank 17
    expect(st.min).toBe(9.6);
    expect(st.max).toBe(100);
    // p90: position 19 * 0.9 = 17.1 (0-based): 10.4 + 0.1 * (10.5 - 10.4)
    expect(st.p90).toBeCloseTo(10.41, 12);
    // |x - 10.1| sorted: 0 x3, 0.1 x7, 0.2 x4, ... -> median (0.1 + 0.2) / 2
    expect(st.mad).toBeCloseTo(0.15, 12);
    expect(st.mean).toBeCloseTo(291.3 / 20, 12);
    expect(st.sd).toBeCloseTo(20.110570014691017, 10);
    expect(st.cv).toBeCloseTo(20.110570014691017 / 14.565, 10);
  });

  it('flags the injected 10x sample and only it', () => {
    // modified z of 9.6: 0.6745 * 0.5 / 0.15 = 2.25 < 3.5; of 100: ~404
    expect(st.outliers).toEqual([19]);
    expect(computeStatistics(SAMPLES.slice(0, 19)).outliers).toEqual([]);
  });

  it('MAD = 0: anything off the median is an outlier', () => {
    const s = computeStatistics([5, 5, 6, 5, 5]);
    expect(s.mad).toBe(0);
    expect(s.outliers).toEqual([2]);
    expect(computeStatistics([5, 5, 5]).outliers).toEqual([]);
  });

  it('small n: CI is [min, max], sd and cv are 0 for one sample', () => {
    const s = computeStatistics([3, 1, 2]);
    expect([s.ciLow, s.ciHigh, s.median, s.p90]).toEqual([1, 3, 2, 2.8]);
    const one = computeStatistics([4.5]);
    expect(one).toMatchObject({ n: 1, median: 4.5, ciLow: 4.5, ciHigh: 4.5, sd: 0, cv: 0, mad: 0, outliers: [] });
    expect(computeStatistics([1, 2, 3, 4], 0.5).ciLevel).toBe(0.5);
  });

  it("does not reorder the caller's samples; outlier indices refer to the original order", () => {
    const input = [100, 10, 10.1, 9.9, 10, 10.2, 9.8, 10];
    const copy = [...input];
    expect(computeStatistics(input).outliers).toEqual([0]);
    expect(input).toEqual(copy);
  });

  it('throws on empty or non-finite samples', () => {
    expect(() => computeStatistics([])).toThrow(/no samples/);
    expect(() => computeStatistics([1, NaN])).toThrow(/sample 1 is NaN/);
    expect(() => computeStatistics([1, Infinity])).toThrow(/sample 1 is Infinity/);
    expect(() => computeStatistics([1, 2], 1.5)).toThrow(/ciLevel/);
  });
});

describe('isNoisy', () => {
  it('compares cv to the target', () => {
    const st = computeStatistics(SAMPLES);
    expect(isNoisy(st, 0.05)).toBe(true);
    const quiet = computeStatistics(SAMPLES.slice(0, 19));
    expect(quiet.cv).toBeLessThan(0.05);
    expect(isNoisy(quiet, 0.05)).toBe(false);
    expect(isNoisy({ ...quiet, cv: NaN }, 0.05)).toBe(true);
  });
});
