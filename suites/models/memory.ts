/**
 * A network's peak memory on the device, estimated before it runs (on the
 * host, from the graph alone), so a device that cannot hold it skips it with
 * the reason instead of swapping or being killed. Payload-safe.
 *
 * - arena: every activation, float32, in the planned arena (runtime/arena.ts);
 * - weights: the parameters as drawn (float32) plus one packed copy per light-runtime
 *   policy (two: the im2col and best networks are compiled side by side, their
 *   inferences interleaved; Winograd layers' transformed filters are larger: up to
 *   (m+2)^2/9 times a 3x3 layer's weights; not counted);
 * - reference: the float64 forward pass keeps every tensor (8 bytes an
 *   element) and, for conv and fc outputs, the per-element bound;
 * - plus the runtime itself (Node and the kernels: RUNTIME_BASE_BYTES).
 */
import { inferShapes, numel, VIEW_OPS, type Graph } from '../../core/graph.js';
import { planArena } from './runtime/arena.js';

export const RUNTIME_BASE_BYTES = 96 * 2 ** 20;
/** Light-runtime networks compiled at once for a case (one per --policy), each with its packed weights. */
const RUNTIME_POLICIES = 2;
/** Share of the device's memory a run may plan to use (the OS and other processes keep the rest). */
export const MEMORY_SHARE = 0.8;

export function usableMemoryBytes(deviceBytes: number): number {
  return Math.floor(deviceBytes * MEMORY_SHARE);
}

/**
 * Why a case that needs `need` cannot run on a device with `deviceBytes` of memory (`source`: where that
 * figure comes from), or null when it fits. One wording for the host's check before shipping and the
 * device's own check.
 */
export function memorySkipReason(what: string, need: { totalBytes: number; detail: string }, deviceBytes: number, source: string): string | null {
  const usable = usableMemoryBytes(deviceBytes);
  if (need.totalBytes <= usable) return null;
  const mb = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  return (
    `${what} needs about ${mb(need.totalBytes)} (${need.detail}) but this device has ${mb(deviceBytes)} ` +
    `of memory (${source}; ${Math.round(MEMORY_SHARE * 100)}% usable: ${mb(usable)}): run it at --quick resolution or on a larger device`
  );
}

/**
 * `e` with the networks at N threads (--threads, counts > 1: `extraCounts` of them): each count compiles the
 * runtime's networks again into its pool's memory, another arena and a packed copy of the weights per policy.
 */
export function withThreadedNetworks(e: MemoryEstimate, extraCounts: number): { totalBytes: number; detail: string } {
  const per = e.arenaBytes + (e.weightBytes * RUNTIME_POLICIES) / (1 + RUNTIME_POLICIES);
  return {
    totalBytes: e.totalBytes + extraCounts * per,
    detail: `${e.detail}; at ${extraCounts} more thread count(s) the networks again, an arena and packed weights of ${(per / 2 ** 20).toFixed(1)} MiB each`,
  };
}

export interface MemoryEstimate {
  arenaBytes: number;
  weightBytes: number;
  referenceBytes: number;
  totalBytes: number;
  detail: string;
}

export function estimateMemory(g: Graph): MemoryEstimate {
  const shapes = inferShapes(g);
  const arenaBytes = planArena(g, shapes).bytes;
  const paramFloats = Object.values(g.params).reduce((s, p) => s + numel(p.shape), 0);
  const weightBytes = (1 + RUNTIME_POLICIES) * 4 * paramFloats;
  let refFloats = g.inputs.reduce((s, i) => s + numel(i.shape), 0);
  for (const n of g.nodes) {
    if (VIEW_OPS.has(n.op)) continue;
    const e = numel(shapes.get(n.outputs[0])!);
    refFloats += n.op === 'conv' || n.op === 'gemm' ? 2 * e : e;
  }
  const referenceBytes = 8 * refFloats;
  const totalBytes = arenaBytes + weightBytes + referenceBytes + RUNTIME_BASE_BYTES;
  const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  return {
    arenaBytes,
    weightBytes,
    referenceBytes,
    totalBytes,
    detail: `arena ${mb(arenaBytes)}, weights and a packed copy per runtime policy ${mb(weightBytes)}, float64 reference ${mb(referenceBytes)}, runtime ${mb(RUNTIME_BASE_BYTES)}`,
  };
}
