/**
 * The device ceilings measured (harness/runner/ceilings.ts: the f32x4, scalar and int8 peaks, the copy and
 * triad bandwidth sweep), as the runner does before a run, at --quick size: in the full tier (npm test),
 * since a measurement takes seconds of the machine (the sizes and arithmetic are checked in the unit tier:
 * test/kernels.test.ts, test/precision-kernels.test.ts). No speed is asserted, only that the numbers exist.
 */
import { describe, expect, it } from 'vitest';
import { measureCeilings } from '../harness/runner/ceilings.js';
import { useKernels } from './helpers/kernels.js';

const getKernels = useKernels();

describe('measured ceilings', () => {
  it('quick measurement returns positive finite numbers and a bandwidth curve', async () => {
    const c = await measureCeilings(getKernels(), { quick: true, cacheSizes: { l1d: 32 * 1024, l2: 1 << 20, l3: 8 << 20 } });
    const finitePositive = (v: number) => Number.isFinite(v) && v > 0;
    expect(finitePositive(c.peakGflops)).toBe(true);
    expect(c.peakSamples.length).toBeGreaterThan(1);
    expect(c.peakSamples.every(finitePositive)).toBe(true);
    expect(c.peakGflops).toBe(Math.max(...c.peakSamples));
    expect(finitePositive(c.scalarPeakGflops ?? NaN)).toBe(true);
    expect(c.peakMethod).toMatch(/f32x4/);
    for (const kernel of ['copy', 'triad'] as const) {
      const pts = c.bandwidth.filter((p) => p.kernel === kernel);
      expect(pts.length).toBeGreaterThan(2);
      expect(pts.every((p) => finitePositive(p.gbps) && finitePositive(p.bytes) && p.samples.every(finitePositive))).toBe(true);
      const sizes = pts.map((p) => p.bytes);
      expect([...sizes].sort((a, b) => a - b)).toEqual(sizes);
      expect(sizes[0]).toBeLessThanOrEqual(16 * 1024);
    }
    expect(finitePositive(c.dramGbps)).toBe(true);
    expect(getKernels().bytesInUse()).toBe(0); // everything released
  }, 60_000);

  it('the int8 ceiling is measured with them (its arithmetic: test/precision-kernels.test.ts)', async () => {
    const c = await measureCeilings(getKernels(), { quick: true });
    expect(c.int8PeakGops).toBeGreaterThan(0);
    expect(c.int8PeakSamples?.length).toBeGreaterThan(0);
    expect(c.peakMethod).toMatch(/dot_i16x8_s/);
  });
});
