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

export function computePerf(
  cost: Cost,
  medianMs: number,
  measured: MeasuredCeilings | null,
  theoretical: TheoreticalCeilings | null,
  dtype = 'f32',
): Perf {
  const seconds = medianMs / 1e3;
  const perf: Perf = {
    gflops: cost.flops / seconds / 1e9,
    gbps: cost.bytes / seconds / 1e9,
  };
  if (cost.executedFlops !== undefined) perf.executedGflops = cost.executedFlops / seconds / 1e9;
  if (measured) {
    const bw = bandwidthForWorkingSet(measured, cost.bytes);
    perf.attainableMeasured = attainable(measured.peakGflops, bw, cost.intensity);
    perf.pctMeasured = (100 * perf.gflops) / perf.attainableMeasured;
  }
  const tPeak = theoretical?.peakGflops[dtype];
  if (theoretical && tPeak !== undefined) {
    perf.attainableTheoretical = attainable(tPeak, theoretical.dramGbps, cost.intensity);
    perf.pctTheoretical = (100 * perf.gflops) / perf.attainableTheoretical;
  }
  return perf;
}
