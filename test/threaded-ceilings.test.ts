/**
 * The threaded ceilings (harness/runner/threaded-ceilings.ts) measured on a 2-thread pool: the peak and the
 * bandwidth sweep run on every thread, every sample kept, each thread's slices sized as documented. System tier:
 * it measures the machine (a second or so of both cores). No speed is asserted.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadKernels } from '../kernels/index.js';
import { ThreadPool } from '../harness/runner/threads.js';
import { measureThreadedCeilings, threadsDisagree } from '../harness/runner/threaded-ceilings.js';

let pool: ThreadPool;
beforeAll(async () => {
  pool = await ThreadPool.start(await loadKernels(inject('kernelsDir'), { shared: true }), 2);
});
afterAll(async () => {
  await pool.close();
});

describe('threaded ceilings', () => {
  it('measure the peak and the bandwidth sweep on all threads, with every sample kept', async () => {
    const c = await measureThreadedCeilings(pool, { quick: true, cacheSizes: { l2: 256 * 1024 } });
    expect(c.peakSamples).toHaveLength(5);
    expect(c.peakGflops).toBe(Math.max(...c.peakSamples));
    expect(c.peakMethod).toMatch(/on 2 thread\(s\)/);
    for (const kernel of ['copy', 'triad'] as const) {
      const pts = c.bandwidth.filter((p) => p.kernel === kernel);
      expect(pts.length).toBeGreaterThanOrEqual(3);
      // Each thread streams a multiple of 16 floats of each array.
      for (const p of pts) expect(p.bytes % (2 * 16 * 4 * (kernel === 'copy' ? 2 : 3))).toBe(0);
    }
    expect(c.dramGbps).toBeGreaterThan(0);
    expect(threadsDisagree(pool.lastResults)).toBeNull();
  }, 60_000);
});
