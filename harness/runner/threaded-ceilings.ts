/**
 * Runs on the device: the measured ceilings at N threads (docs/threads.md), so
 * the roofline of an N-thread run is the device's at N threads. The same loops
 * as the single-thread ceilings (harness/runner/ceilings.ts), run on every
 * thread of a ThreadPool at once (harness/runner/threads.ts):
 *
 * - peak: each thread runs the f32x4 chain loop (12 accumulators, 8 FLOPs per
 *   mul+add pair) for the same iteration count; GFLOP/s = N x FLOPs per thread
 *   / the wall time of the whole pool run (so the slowest thread sets it),
 *   calibrated to >= 20 ms per sample, the best sample, every sample kept.
 * - bandwidth: copy and triad over the same working-set sizes, each thread
 *   streaming its own contiguous slice of the arrays (a multiple of 16 floats),
 *   bytes counted STREAM style over all threads, wall time of the pool run.
 *
 * The result is the single-thread document (MeasuredCeilings); phase 2 records
 * the thread count beside it in the results.
 */
import type { MeasuredCeilings } from '../../core/contracts.js';
import { bandwidthSizes, sampleCalibrated, type CeilingOptions } from './ceilings.js';
import type { ProgramHandle, ThreadCall, ThreadPool } from './threads.js';

type BandwidthPoint = MeasuredCeilings['bandwidth'][number];

const MiB = 1024 * 1024;
const M = 0.999999;
const C = 1e-6;

/**
 * fn(count) for sampleCalibrated over the pool: `calls(count, thread)` is what each thread runs; a program is
 * registered per count (outside the timed call: sampleCalibrated times only fn, and fn only runs).
 */
function pooled(pool: ThreadPool, calls: (count: number, thread: number) => ThreadCall[]): { fn: (count: number) => void; done(): void } {
  const handles = new Map<number, ProgramHandle>();
  return {
    fn(count: number): void {
      let h = handles.get(count);
      if (!h) {
        h = pool.register(Array.from({ length: pool.threads }, (_, t) => calls(count, t)));
        handles.set(count, h);
      }
      pool.run(h);
    },
    done(): void {
      for (const h of handles.values()) pool.release(h);
    },
  };
}

/**
 * Every thread ran the same peak loop with the same arguments, so each returns the same chain sum: a thread
 * that did not run (or ran a different count) shows here. null when they agree, else what is wrong.
 */
export function threadsDisagree(results: ArrayLike<number>): string | null {
  const first = results[0];
  if (first === undefined || !Number.isFinite(first)) return `thread 0's peak loop returned ${String(first)}, not a finite value`;
  for (let t = 1; t < results.length; t++) {
    if (results[t] !== first) return `thread ${t}'s peak loop returned ${String(results[t])}, thread 0's ${first}: not every thread ran the same loop`;
  }
  return null;
}

/** Measures the SIMD peak and the bandwidth sweep on all of the pool's threads at once. */
export async function measureThreadedCeilings(pool: ThreadPool, opts: CeilingOptions): Promise<MeasuredCeilings> {
  const k = pool.kernels;
  const simd = k.requireSimd('the threaded ceilings');
  const n = pool.threads;
  const quick = opts.quick;
  const peakSamples = quick ? 5 : 10;
  const mark = k.mark();
  try {
    // sampleCalibrated's first timed calls include registering each new count's program: those calibration
    // calls are never samples (the samples all reuse the final count's program).
    const peak = pooled(pool, (iters) => [{ module: 'simd', fn: 'peak_f32x4', args: [iters, M, C] }]);
    const v = sampleCalibrated(peak.fn, 1000, 20, peakSamples);
    peak.done();
    const vFlops = simd.peak_f32x4_flops_per_iter();
    const samples = v.ms.map((ms) => (n * vFlops * v.count) / (ms * 1e6));
    const disagree = threadsDisagree(pool.lastResults);
    if (disagree !== null) throw new Error(`threaded ceilings: ${disagree}`);

    const bandwidth: BandwidthPoint[] = [];
    for (const kernel of ['copy', 'triad'] as const) {
      const arrays = kernel === 'copy' ? 2 : 3;
      for (const bytes of bandwidthSizes(opts)) {
        const inner = k.mark();
        // Floats per thread and array, a multiple of 16.
        const per = Math.max(16, Math.floor(bytes / 4 / arrays / n / 16) * 16);
        const counted = per * n * 4 * arrays;
        let bufs;
        try {
          bufs = Array.from({ length: arrays }, () => k.alloc(per * n, 64));
        } catch (e) {
          k.release(inner);
          if (bandwidth.some((p) => p.kernel === kernel)) break;
          throw e;
        }
        for (const b of bufs) b.view().fill(1);
        const ptr = (a: number, t: number) => (bufs[a] ?? bufs[1]!).ptr + t * per * 4;
        const bw = pooled(pool, (passes, t) => [
          kernel === 'copy'
            ? { module: 'simd', fn: 'copy_f32x4', args: [ptr(0, t), ptr(1, t), per, passes] }
            : { module: 'simd', fn: 'triad_f32x4', args: [ptr(0, t), ptr(1, t), ptr(2, t), 0.5, per, passes] },
        ]);
        const r = sampleCalibrated(bw.fn, Math.max(1, Math.floor((4 * MiB) / counted)), 5, quick ? 3 : 5);
        bw.done();
        const s = r.ms.map((ms) => (counted * r.count) / (ms * 1e6));
        bandwidth.push({ kernel, bytes: counted, gbps: Math.max(...s), samples: s });
        k.release(inner);
      }
    }
    const largest = Math.max(...bandwidth.map((p) => p.bytes));
    const dram = bandwidth.filter((p) => p.bytes >= largest / 2);
    return {
      peakGflops: Math.max(...samples),
      peakSamples: samples,
      peakMethod:
        `WebAssembly SIMD f32x4 mul+add chains (12 accumulators, 8 FLOPs per pair) on ${n} thread(s) at once over one shared memory, ` +
        `FLOPs of all threads / wall time of the pool run, best of ${peakSamples} samples of ${v.count} iterations per thread (>= 20 ms each). ` +
        `Bandwidth: copy (8 bytes/float) and triad (12 bytes/float), each thread on its own slice, all threads' bytes / wall time.`,
      bandwidth,
      dramGbps: Math.max(...dram.map((p) => p.gbps)),
    };
  } finally {
    k.release(mark);
  }
}
