/**
 * The WebAssembly peers on whole networks (--peers with the models suite; docs/threads.md). Payload-safe.
 *
 * - model-onnxruntime-web-f32: onnxruntime-web runs the same ONNX model bytes as the native peer
 *   (model-onnxruntime-f32: the network exported in memory, core/onnx.ts, same weights), through the same
 *   path of suites/models/measure.ts (session created untimed, one session.run timed, the same check of the
 *   network's output against the float64 forward pass), with ORT-web's module in place of onnxruntime-node:
 *   the WebAssembly SIMD build, at the thread count the run chose for ORT-web (its highest --threads count,
 *   shared with the conv peer: ORT-web fixes it once per process).
 * - model-tfjs-xnnpack-f32: XNNPACK via tfjs-backend-wasm on the same network and weights. tfjs has no ONNX
 *   importer: the graph is translated op by op to tfjs ops (suites/models/tfjs-graph.ts: NHWC, fused conv + bias +
 *   ReLU, batch norm folded, grouped convs split per group or block-diagonal, ceil pools padded), weights made tf tensors in prepare,
 *   one forward pass in tf.tidy + dataSync() timed, the same check of the output against the float64 forward pass.
 *   One thread (tfjs-backend-wasm's threaded build needs browser Web Workers): at N > 1 skipped with that reason; a
 *   network with an operator tfjs refuses is skipped naming it.
 */
import type { CaseParams, CaseResult, ConvShape, ModelVariant } from '../../core/contracts.js';
import { loadPeers, type PeerLibs, type PeersLoad, type PeersSource } from '../conv/peers/load.js';
import { configureOrtWeb } from '../conv/peers/onnxruntime-web.js';
import { ortWebCount, MODEL_PEER_NAMES, ortWebElsewhere, registerPeer, TFJS_ONE_THREAD, type PeerLibrary } from '../conv/peers/run.js';
import { initTfjsWasm } from '../conv/peers/tfjs-wasm.js';
import type { OrtLoad } from '../conv/variants/onnxruntime.js';
import { modelOnly } from './variants.js';

/** The models suite's name of each peer (defined beside the conv names, which the runner imports). */
export { MODEL_PEER_NAMES };

/** The library of the tfjs network peer's results. */
export const TFJS_NETWORK_LIBRARY = 'XNNPACK via tfjs-backend-wasm (WebAssembly SIMD)';

/** What measure.ts needs of the network peer once it is ready: ORT-web's module, as the native peer's loader gives it. */
const runtimes = new WeakMap<ModelVariant, () => OrtLoad>();
/** The thread count ORT-web runs at in this run. */
const threadsOf = new WeakMap<ModelVariant, () => number>();

/** tfjs (on its wasm backend, set up) for the tfjs network peer, once its ready() loaded it. */
const tfjsOf = new WeakMap<ModelVariant, () => { ok: true; tf: PeerLibs['tf'] } | { ok: false; reason: string }>();

/** tfjs for the tfjs network peer (ready, or why not). */
export function modelPeerTfjs(v: ModelVariant): { ok: true; tf: PeerLibs['tf'] } | { ok: false; reason: string } {
  return tfjsOf.get(v)?.() ?? { ok: false, reason: `${v.name}: not the tfjs network peer` };
}

/** Why a network peer does not run at a thread count (null: it runs there). */
const elsewhere = new WeakMap<ModelVariant, (threads: number) => string | null>();

/**
 * Null when the network variant `v` runs at `threads`, else why not: onnxruntime-web runs at the one count the
 * run chose for it (its highest --threads count: suites/conv/peers/run.ts ortWebCount), and is skipped at the others.
 */
export function modelPeerSkipAt(v: ModelVariant, threads: number): string | null {
  return elsewhere.get(v)?.(threads) ?? null;
}

/** ORT-web's module for a network peer (the native loader's shape), or undefined for every other variant. */
export function modelPeerRuntime(v: ModelVariant): OrtLoad | undefined {
  return runtimes.get(v)?.();
}

/** A network peer of the run, loaded from `src` on the device (null on the host: nothing is loaded). */
export function modelPeerVariant(library: PeerLibrary, src: PeersSource | null): ModelVariant {
  const common = { op: 'model' as const, dtype: 'f32' as const, needs: { wasmSimd: true }, name: MODEL_PEER_NAMES[library], algorithm: library };
  if (library === 'tfjs-xnnpack') {
    let load: PeersLoad | undefined;
    let problem: string | null = null;
    const v: ModelVariant = {
      ...common,
      description:
        'XNNPACK via tfjs-backend-wasm (WebAssembly SIMD, one thread) running the same network and weights, translated op by op to tfjs ops ' +
        '(NHWC, fused conv + bias + ReLU, batch norm folded into the convs, grouped convs split per group or block-diagonal, the faster), checked the same way: a peer on the same instruction set as the kernels (--peers).',
      applies(shape: ConvShape, params?: CaseParams): true | string {
        const m = modelOnly(shape, params);
        if (m !== true) return m;
        if (load && !load.ok) return load.reason;
        return problem ?? true;
      },
      engine: 'tfjs-wasm',
    };
    registerPeer(v, {
      library,
      async ready(counts) {
        // tfjs runs only at 1: a run without 1 among its counts skips it at every count without loading anything.
        if (!counts.includes(1)) return (problem = `not run on ${counts.join(', ')} threads: ${TFJS_ONE_THREAD}`);
        load = await loadPeers(src);
        if (!load.ok) return load.reason;
        try {
          await initTfjsWasm(load.libs, load.dir);
        } catch (e) {
          problem = `tfjs-backend-wasm did not start on this device: ${(e as Error).message}`;
        }
        return problem ?? true;
      },
    });
    tfjsOf.set(v, () => {
      if (!load) return { ok: false, reason: `${v.name}: the peers part was not loaded before the case (the runner loads it first)` };
      if (!load.ok) return { ok: false, reason: load.reason };
      return problem === null ? { ok: true, tf: load.libs.tf } : { ok: false, reason: problem };
    });
    elsewhere.set(v, (n) => (n === 1 ? null : `not run on ${n} threads: ${TFJS_ONE_THREAD}`));
    return v;
  }
  let load: PeersLoad | undefined;
  let runCount = 1;
  const v: ModelVariant = {
    ...common,
    description:
      "ONNX Runtime's WebAssembly SIMD build (onnxruntime-web) running the same network as model-onnxruntime-f32 (exported to ONNX in memory, " +
      'same weights), checked the same way: a peer on the same instruction set as the kernels (--peers).',
    applies(shape: ConvShape, params?: CaseParams): true | string {
      const m = modelOnly(shape, params);
      if (m !== true) return m;
      return load && !load.ok ? load.reason : true;
    },
    engine: 'onnxruntime-web',
  };
  registerPeer(v, {
    library,
    async ready(counts) {
      runCount = ortWebCount(counts);
      load = await loadPeers(src);
      if (!load.ok) return load.reason;
      configureOrtWeb(load.libs, load.dir, runCount);
      return true;
    },
  });
  threadsOf.set(v, () => runCount);
  elsewhere.set(v, (n) => (n === runCount ? null : `not run on ${n} thread(s): ${ortWebElsewhere(runCount, n)}`));
  runtimes.set(v, () => {
    if (!load) return { ok: false, reason: `${v.name}: the peers part was not loaded before the case (the runner loads it first)` };
    if (!load.ok) return { ok: false, reason: load.reason };
    const { ort } = load.libs;
    // The native peer's session options name the CPU EP and one intra-op thread: ORT-web runs on its own wasm EP, at env.wasm.numThreads.
    const web = {
      ...ort,
      InferenceSession: {
        create: (bytes: Uint8Array, o: Record<string, unknown>) =>
          ort.InferenceSession.create(bytes, {
            graphOptimizationLevel: o.graphOptimizationLevel as 'all',
            executionMode: o.executionMode as 'sequential',
            executionProviders: ['wasm'],
          }),
      },
    };
    return { ok: true, ort: web as unknown as Extract<OrtLoad, { ok: true }>['ort'], path: load.dir };
  });
  return v;
}

/** A network peer's result as measure.ts's ONNX Runtime path made it, told as ORT-web's (WebAssembly, its library and threads). */
export function asModelPeerResult(r: CaseResult, v: ModelVariant | undefined): CaseResult {
  if (v?.engine !== 'onnxruntime-web' || !('timing' in r)) return r;
  const { nonPortable: _native, ...accuracy } = r.accuracy;
  const threads = threadsOf.get(v)?.() ?? 1;
  return {
    ...r,
    info: { ...r.info, code: 'wasm', library: 'onnxruntime-web (MLAS, WebAssembly SIMD)', threads },
    accuracy,
    prepare: {
      ...r.prepare,
      note: (r.prepare.note ?? '').replace(
        /session: CPU EP.*$/,
        `session: onnxruntime-web (WebAssembly SIMD, wasm EP, ${threads} thread(s), proxy off), graph optimisation all`,
      ),
    },
    ...(r.model ? { model: { ...r.model, engine: 'onnxruntime-web' } } : {}),
  };
}
