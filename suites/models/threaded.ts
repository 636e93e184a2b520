/**
 * The models suite's whole networks at N threads (`--threads`, docs/threads.md). Payload-safe.
 *
 * A network at N threads is the same graph compiled by the light runtime over the memory of the run's
 * ThreadPool of N threads (its shared-memory kernels: every activation, weight and scratch buffer is in the
 * memory the pool's instances see). Its conv layers (the heavy part) run through the pool, split exactly as
 * the conv variants at N threads are (suites/conv/threaded.ts splitConv / splitWork: by output channels, or by
 * output columns for a GEMM layer with at least as many pixels as channels; one split for both), and so do
 * its fully-connected layers (splitFullyConnected: output columns). The cheap operators (bias, folded batch
 * norm, ReLU, add, pooling, concat, shuffle, softmax) and the runtime's general conv (unequal pads) stay on
 * thread 0, between the pool runs. The per-layer profile says which layer ran on how many threads, so the report gives the
 * share of the time spent on one thread.
 *
 * The kernel chosen for each layer is the one-thread network's (im2col everywhere, or the best policy's
 * per-shape winners timed on one thread), so the N-thread output is bit-identical to the one-thread output:
 * the runner checks it in every run (measure.ts).
 */
import type { ConvShape, ConvVariant, ModelVariant } from '../../core/contracts.js';
import type { ProgramHandle, ThreadPool } from '../../harness/runner/threads.js';
import { splitConv, splitFullyConnected, threadable, type SplitConv } from '../conv/threaded.js';
import type { CompileOptions, PooledLayer } from './runtime/runtime.js';

/** `true`, or why the network variant `v` does not run on several threads. */
export function modelThreadable(v: ModelVariant): true | string {
  if (v.engine === 'onnxruntime') return true;
  if (v.policy === 'int8' || v.policy === 'mixed')
    return `the ${v.policy === 'int8' ? 'int8' : 'mixed-precision'} network's int8 kernels (quant.wasm) are not among the threaded modules (scalar, simd, winograd, graph); single thread only`;
  return true;
}

/** The compile options that run a network's conv layers on `pool`, and the release of what they registered. */
export interface PooledNetwork {
  options: CompileOptions;
  /** Unregisters every layer's programs from the pool (the buffers go with the pool's arena mark). */
  dispose(): void;
}

export function pooledNetwork(pool: ThreadPool): PooledNetwork {
  const handles: ProgramHandle[] = [];
  const onPool = (split: SplitConv): PooledLayer => ({
    threads: pool.threads,
    scratchFloats: split.scratchFloats,
    note: `on ${pool.threads} threads: ${split.note}`,
    bind(x: number, y: number, scratch: readonly number[]): () => void {
      const h = split.register(x, y, scratch);
      handles.push(h);
      return () => pool.run(h);
    },
  });
  return {
    options: {
      pooledConv(v: ConvVariant, shape: ConvShape, w: Float32Array): PooledLayer | null {
        // A kernel that is not split (none of the fp32 networks' kernels today) runs on thread 0, unsplit.
        if (threadable(v) !== true) return null;
        return onPool(splitConv(pool, v, shape, w));
      },
      pooledGemm: (m: number, k: number, f: number, w: number): PooledLayer => onPool(splitFullyConnected(pool, m, k, f, w)),
    },
    dispose(): void {
      for (const h of handles.splice(0)) pool.release(h);
    },
  };
}
