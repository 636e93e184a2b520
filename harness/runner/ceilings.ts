/**
 * Runs on the device: the measured ceilings of the roofline (Empirical
 * Roofline Toolkit style), single-threaded, with the WebAssembly kernels the
 * suites use.
 *
 * Peak (GFLOP/s): the f32x4 loop `acc = acc * m + c` over 12 independent
 * accumulators (kernels/assembly/ceilings_simd.ts), one f32x4.mul and one
 * f32x4.add per accumulator and iteration, counted as 8 FLOPs (2 per lane).
 * Calibrated so each sample lasts >= 20 ms; the peak is the
 * best sample (a ceiling is what the machine can do; the others are kept).
 * For context the method string also gives the GEMM-shaped loop (acc += a*b
 * with the operands loaded from L1, as the packed GEMM's micro-kernel does)
 * and the scalar f32 peak (same chain loop, scalar, 2 FLOPs per pair).
 * Without WebAssembly SIMD the scalar loop is the peak.
 *
 * int8 peak (GOP/s, where quant.wasm loaded): the best sample of two loops
 * (kernels/assembly/ceilings_int8.ts), as the f32 peak: 12 independent chains of
 * i32x4.dot_i16x8_s + i32x4.add, and the GEMM-shaped acc += dot(a, b) into a
 * 4x8 tile with the operands loaded from L1 (the int8 GEMM micro-kernel's mix),
 * counted as 16 operations per dot (8 multiply-adds, 2 operations each, as
 * FLOPs are); calibrated and sampled like the f32 peak. The roof int8 variants
 * are drawn against; the method text gives what each loop reached.
 *
 * Bandwidth (GB/s, 1e9 bytes/s): copy (dst[i] = src[i]) and triad
 * (a[i] = b[i] + s*c[i]) with v128 loads/stores, swept over working sets
 * from 16 KiB (L1) to max(4 x last-level cache, 64 MiB), capped at 256 MiB
 * (64 MiB quick) and at a quarter of free memory. Bytes are counted as the
 * bytes the kernel reads plus the bytes it writes per pass, STREAM style:
 * copy 8 bytes per float (1 read + 1 write), triad 12 (2 reads + 1 write);
 * write-allocate traffic is not counted. A point's working set (`bytes`) is
 * the size of all its arrays, which equals the bytes counted per pass. Each
 * sample runs enough passes to last >= 5 ms; the point's figure
 * is the best sample, every sample is kept. dramGbps is the better of copy
 * and triad at the largest working set.
 */
import os from 'node:os';
import type { MeasuredCeilings } from '../../core/contracts.js';
import type { Kernels } from '../../kernels/index.js';

type BandwidthPoint = MeasuredCeilings['bandwidth'][number];

export interface CeilingOptions {
  quick: boolean;
  cacheSizes?: { l1d?: number; l2?: number; l3?: number };
}

const KiB = 1024;
const MiB = 1024 * KiB;

const now = (): number => performance.now();
const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Calibrates `fn(count)` (count = iterations or passes) so one call lasts at
 * least minMs, then takes `samples` samples. Returns the count and each
 * sample's duration in ms. The first calls also warm the code up (V8 tiers
 * a hot Wasm function up from Liftoff to TurboFan after its first call).
 */
export function sampleCalibrated(fn: (count: number) => void, start: number, minMs: number, samples: number): { count: number; ms: number[] } {
  fn(start); // warm-up (tier-up, caches, page faults)
  let count = start;
  for (;;) {
    const t0 = now();
    fn(count);
    const dt = now() - t0;
    if (dt >= minMs) break;
    // Aim 20% above the target; at least double when the call was too short to measure.
    const factor = dt > minMs / 50 ? (1.2 * minMs) / dt : 2;
    count = Math.max(count + 1, Math.ceil(count * Math.min(factor, 64)));
  }
  const ms: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t0 = now();
    fn(count);
    ms.push(now() - t0);
  }
  return { count, ms };
}

/** The working-set sizes of the sweep, powers of two (x2, or x4 quick) from 16 KiB to the cap. */
export function bandwidthSizes(opts: CeilingOptions, freeBytes: number = os.freemem()): number[] {
  const c = opts.cacheSizes ?? {};
  const llc = c.l3 ?? c.l2 ?? 8 * MiB;
  let cap = Math.max(4 * llc, 64 * MiB);
  cap = Math.min(cap, opts.quick ? 64 * MiB : 256 * MiB, Math.max(16 * MiB, freeBytes / 4));
  const sizes: number[] = [];
  const step = opts.quick ? 4 : 2;
  let s = 16 * KiB;
  for (; s < cap; s *= step) sizes.push(s);
  // End exactly on the largest power of two not above the cap, so the DRAM point is always measured.
  const last = 2 ** Math.floor(Math.log2(cap));
  if (sizes.at(-1) !== last) sizes.push(last);
  return sizes;
}

/**
 * Measures the peak and the bandwidth curve with the loaded kernels: about 2 s
 * (quick: fewer samples, sizes x4 apart, 64 MiB cap: under 1 s) on an idle
 * desktop-class core; slower devices take longer per large array.
 */
export async function measureCeilings(k: Kernels, opts: CeilingOptions): Promise<MeasuredCeilings> {
  const quick = opts.quick;
  const peakMinMs = 20;
  const peakSamples = quick ? 5 : 10;
  const bwMinMs = 5;
  const bwSamples = quick ? 3 : 5;
  // m just below 1 and c small: the chains converge to c/(1-m) = 1, never subnormal or infinite.
  const M = 0.999999;
  const C = 1e-6;
  const simd = k.simd;
  const mark = k.mark();
  let sink = 0;
  try {
    // --- scalar peak -------------------------------------------------------
    const sFlops = k.scalar.peak_f32_flops_per_iter();
    const sc = sampleCalibrated((n) => (sink += k.scalar.peak_f32(n, M, C)), 1000, peakMinMs, quick ? 3 : 5);
    const scalarSamples = sc.ms.map((ms) => (sFlops * sc.count) / (ms * 1e6));
    const scalarPeakGflops = Math.max(...scalarSamples);
    await yieldToLoop();

    // --- SIMD peak ---------------------------------------------------------
    let peakGflops: number;
    let peakSamplesGflops: number[];
    let peakMethod: string;
    let int8: { gops: number; samples: number[]; chains: number; gemmShaped: number; gemmSamples: number } | undefined;
    const quant = k.quant;
    if (quant) {
      const ops = quant.peak_dot_i16x8_ops_per_iter();
      let isink = 0;
      const q = sampleCalibrated((n) => (isink ^= quant.peak_dot_i16x8(n, 3, 1)), 1000, peakMinMs, peakSamples);
      const chainSamples = q.ms.map((ms) => (ops * q.count) / (ms * 1e6));
      // GEMM-shaped: the int8 GEMM micro-kernel's mix (dot + add into a 4x8 tile, operands loaded from L1), as for f32.
      const qBytes = 4 * KiB;
      // The loop reads up to 48 bytes past the cyclic window: allocated and filled too.
      const qbuf = k.allocBytes(qBytes + 48, 64);
      new Int16Array(k.memory.buffer, qbuf.ptr, (qBytes + 48) / 2).fill(3);
      const gOps = quant.peak_madd_dot_i16x8_ops_per_iter();
      const gq = sampleCalibrated((n) => (isink ^= quant.peak_madd_dot_i16x8(n, qbuf.ptr, qBytes)), 1000, peakMinMs, quick ? 3 : 5);
      const gemmSamples = gq.ms.map((ms) => (gOps * gq.count) / (ms * 1e6));
      // Both loops run i32x4.dot_i16x8_s at full throughput: the int8 roof is the best either reached (as the f32 peak).
      const samples = [...chainSamples, ...gemmSamples];
      int8 = { gops: Math.max(...samples), samples, chains: Math.max(...chainSamples), gemmShaped: Math.max(...gemmSamples), gemmSamples: gemmSamples.length };
      sink += isink & 1;
      await yieldToLoop();
    }
    if (simd) {
      const vFlops = simd.peak_f32x4_flops_per_iter();
      const v = sampleCalibrated((n) => (sink += simd.peak_f32x4(n, M, C)), 1000, peakMinMs, peakSamples);
      const chainSamples = v.ms.map((ms) => (vFlops * v.count) / (ms * 1e6));
      // GEMM-shaped loop: operands from a 4 KiB L1-resident buffer, the mix of a packed GEMM's inner loop.
      const bufBytes = 4 * KiB;
      const buf = k.alloc(bufBytes / 4, 64);
      buf.view().fill(0.5);
      const gFlops = simd.peak_madd_f32x4_flops_per_iter();
      const g = sampleCalibrated((n) => (sink += simd.peak_madd_f32x4(n, buf.ptr, bufBytes)), 1000, peakMinMs, quick ? 3 : 5);
      const gemmSamples = g.ms.map((ms) => (gFlops * g.count) / (ms * 1e6));
      // Both loops are f32x4 multiply-adds at full throughput: the roof is the best either reached. A shared
      // machine's clock varies from moment to moment, and a roof below what a kernel measured at another
      // moment would put the kernel above it (seen: im2col at 112% of a chains-only roof).
      peakSamplesGflops = [...chainSamples, ...gemmSamples];
      peakGflops = Math.max(...peakSamplesGflops);
      const chains = Math.max(...chainSamples);
      const gemmShaped = Math.max(...gemmSamples);
      peakMethod =
        `WebAssembly SIMD f32x4 multiply-add, single thread: the best sample of two loops, mul+add chains ` +
        `(acc = acc*m + c, 12 independent accumulators, 8 FLOPs per mul+add pair; best of ${peakSamples} samples of ${v.count} iterations, ` +
        `>= ${peakMinMs} ms each: ${chains.toFixed(1)} GFLOP/s) and GEMM-shaped acc += a*b with operands loaded from L1 ` +
        `(4x8 tile; best of ${gemmSamples.length}: ${gemmShaped.toFixed(1)} GFLOP/s). ` +
        `For context: scalar f32 ${scalarPeakGflops.toFixed(1)} GFLOP/s. ` +
        (int8
          ? `int8 peak ${int8.gops.toFixed(1)} GOP/s: the best sample of two i32x4.dot_i16x8_s loops, dot + add chains (12 accumulators, ` +
            `16 operations per dot; best of ${int8.samples.length - int8.gemmSamples}: ${int8.chains.toFixed(1)} GOP/s) and GEMM-shaped ` +
            `acc += dot(a, b) with operands loaded from L1 (4x8 tile, as the int8 GEMM's micro-kernel; best of ${int8.gemmSamples}: ${int8.gemmShaped.toFixed(1)} GOP/s). `
          : '') +
        `Bandwidth: copy counts 8 bytes/float (read+write), triad 12 bytes/float, write-allocate traffic not counted.`;
    } else {
      peakSamplesGflops = scalarSamples;
      peakGflops = scalarPeakGflops;
      peakMethod =
        `no WebAssembly SIMD: scalar f32 mul+add chains (acc = acc*m + c, 12 accumulators, 2 FLOPs per pair), ` +
        `single thread, best of ${scalarSamples.length} samples (>= ${peakMinMs} ms each). Bandwidth: scalar copy ` +
        `(8 bytes/float) and triad (12 bytes/float), write-allocate traffic not counted.`;
    }
    await yieldToLoop();

    // --- bandwidth ---------------------------------------------------------
    const sizes = bandwidthSizes(opts);
    const bandwidth: BandwidthPoint[] = [];
    const copy = simd ? simd.copy_f32x4 : k.scalar.copy_f32;
    const triad = simd ? simd.triad_f32x4 : k.scalar.triad_f32;
    for (const kernel of ['copy', 'triad'] as const) {
      const arrays = kernel === 'copy' ? 2 : 3;
      for (const bytes of sizes) {
        const inner = k.mark();
        // Floats per array, a multiple of 16 (the SIMD loops move 64 bytes per step).
        const n = Math.max(16, Math.floor(bytes / 4 / arrays / 16) * 16);
        const counted = n * 4 * arrays;
        let bufs;
        try {
          bufs = Array.from({ length: arrays }, () => k.alloc(n, 64));
        } catch (e) {
          // Not enough memory for this working set: stop the sweep here, keep what was measured.
          k.release(inner);
          if (bandwidth.some((p) => p.kernel === kernel)) break;
          throw e;
        }
        for (const b of bufs) b.view().fill(1);
        const [b0, b1, b2] = bufs;
        if (!b0 || !b1) throw new Error('ceilings: bandwidth buffers missing');
        const fn =
          kernel === 'copy' ? (passes: number) => copy(b0.ptr, b1.ptr, n, passes) : (passes: number) => triad(b0.ptr, b1.ptr, (b2 ?? b1).ptr, 0.5, n, passes);
        const startPasses = Math.max(1, Math.floor((4 * MiB) / counted));
        const r = sampleCalibrated(fn, startPasses, bwMinMs, bwSamples);
        const samples = r.ms.map((ms) => (counted * r.count) / (ms * 1e6));
        bandwidth.push({ kernel, bytes: counted, gbps: Math.max(...samples), samples });
        k.release(inner);
        await yieldToLoop();
      }
    }
    const largest = Math.max(...bandwidth.map((p) => p.bytes));
    // Copy and triad round the same size to different byte counts: take each kernel's largest point.
    const lastOf = (kernel: 'copy' | 'triad') =>
      bandwidth.filter((p) => p.kernel === kernel).reduce<BandwidthPoint | undefined>((a, p) => (a && a.bytes >= p.bytes ? a : p), undefined);
    const dram = [lastOf('copy'), lastOf('triad')].filter((p): p is BandwidthPoint => p !== undefined && p.bytes >= largest / 2);
    const dramGbps = Math.max(...dram.map((p) => p.gbps));
    if (!Number.isFinite(sink)) throw new Error('ceilings: the peak loops produced a non-finite value');
    return {
      peakGflops,
      peakSamples: peakSamplesGflops,
      peakMethod,
      scalarPeakGflops,
      ...(int8 ? { int8PeakGops: int8.gops, int8PeakSamples: int8.samples } : {}),
      bandwidth,
      dramGbps,
    };
  } finally {
    k.release(mark);
  }
}
