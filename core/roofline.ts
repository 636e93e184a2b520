/**
 * Roofline arithmetic (pure; shared by the runner and the host).
 * attainable(I) = min(peak, I * bandwidth), I = FLOPs / bytes.
 */
import type { Cost, MeasuredCeilings, Perf, TheoreticalCeilings } from './contracts.js';

export function attainable(peakGflops: number, gbps: number, intensity: number): number {
  return Math.min(peakGflops, intensity * gbps);
}

export function ridgePoint(peakGflops: number, gbps: number): number {
  return peakGflops / gbps;
}

/**
 * The measured bandwidth that applies to a working set of `bytes`: the triad
 * figure at the smallest swept size that holds it (so a layer that fits in L2
 * is held to L2 bandwidth), or the DRAM figure beyond the sweep.
 */
export function bandwidthForWorkingSet(m: MeasuredCeilings, bytes: number): number {
  const triad = m.bandwidth.filter((p) => p.kernel === 'triad').sort((a, b) => a.bytes - b.bytes);
  const points = triad.length > 0 ? triad : [...m.bandwidth].sort((a, b) => a.bytes - b.bytes);
  const hit = points.find((p) => p.bytes >= bytes);
  return hit ? hit.gbps : m.dramGbps;
}

/**
 * The device profile's peak that applies to a variant's dtype: int8 (GOP/s) for
 * i8 / u8, f32 for f32 and for f16 (fp16 storage: its arithmetic is f32).
 */
export function peakKey(dtype: string): string {
  return dtype === 'i8' || dtype === 'u8' ? 'int8' : dtype === 'f16' ? 'f32' : dtype;
}

/**
 * Effective and executed throughput of one timed result, and its place under
 * the rooflines. Percentages of a roofline use the arithmetic the variant
 * really performs (executed FLOPs where it declares them, else the direct
 * count) at the intensity that arithmetic has: a fast algorithm that skips
 * multiplies is held to its own work, so it cannot appear above its roof
 * because the direct count credits it with work it never did. Effective
 * GFLOP/s (the direct count) stay the axis for comparing algorithms.
 */
export function computePerf(
  cost: Cost,
  medianMs: number,
  measured: MeasuredCeilings | null,
  theoretical: TheoreticalCeilings | null,
  dtype = 'f32',
  /** A native kernel's own roof (the kernels file's ceilings probe), where the run measured one. */
  native: MeasuredCeilings | null = null,
): Perf {
  const seconds = medianMs / 1e3;
  const perf: Perf = {
    gflops: cost.flops / seconds / 1e9,
    gbps: cost.bytes / seconds / 1e9,
  };
  if (cost.executedFlops !== undefined) perf.executedGflops = cost.executedFlops / seconds / 1e9;
  const executed = cost.executedFlops ?? cost.flops;
  const executedGflops = executed / seconds / 1e9;
  const executedIntensity = executed / cost.bytes;
  const int8 = dtype === 'i8' || dtype === 'u8';
  if (measured) {
    const bw = bandwidthForWorkingSet(measured, cost.bytes);
    // int8 variants against the measured int8 roof (GOP/s) where the run measured it; fp16 storage computes in f32.
    const peak = int8 && measured.int8PeakGops !== undefined ? measured.int8PeakGops : measured.peakGflops;
    perf.attainableMeasured = attainable(peak, bw, executedIntensity);
    perf.pctMeasured = (100 * executedGflops) / perf.attainableMeasured;
  }
  if (native) {
    perf.attainableNative = attainable(native.peakGflops, bandwidthForWorkingSet(native, cost.bytes), executedIntensity);
    perf.pctNative = (100 * executedGflops) / perf.attainableNative;
  }
  const tPeak = theoretical?.peakGflops[peakKey(dtype)];
  if (theoretical && tPeak !== undefined) {
    perf.attainableTheoretical = attainable(tPeak, theoretical.dramGbps, executedIntensity);
    perf.pctTheoretical = (100 * executedGflops) / perf.attainableTheoretical;
  }
  return perf;
}
