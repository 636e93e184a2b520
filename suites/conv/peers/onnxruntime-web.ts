/**
 * conv-onnxruntime-web-f32: ONNX Runtime's WebAssembly build (onnxruntime-web, the SIMD + threads
 * binary ort-wasm-simd-threaded.wasm, MLAS compiled to WebAssembly SIMD) as a peer that runs wherever
 * the payload runs, the ARM boards included. Loaded from the peers part of the payload (load.ts).
 *
 * Configured at its best in Node:
 * - env.wasm.simd = true (refuses to start without SIMD rather than falling back to the scalar build);
 * - env.wasm.numThreads = N: ORT's own pool of N - 1 pthread workers plus the calling thread (the same
 *   count of cores as roofbench's threads). ORT fixes it at its first session in a process, so a
 *   process runs this peer at one thread count (a second count is skipped with the reason);
 * - env.wasm.proxy = false (no extra proxy worker between the caller and the kernels);
 * - the model: the same one-node Conv as the native peer (suites/conv/onnx-model.ts), NCHW (ORT's
 *   layout), static shapes, weights as an initializer, graphOptimizationLevel 'all', CPU EP 'wasm';
 *   the session is created once in prepare (graph transforms, weight pre-packing): not timed.
 * - timed: one session.run({ X }) as a user calls it (an input copy into the wasm heap and the output
 *   copy out of it are part of every ORT-web call).
 */
import type { ConvShape, Prepared } from '../../../core/contracts.js';
import { convOutputSize } from '../../../reference/conv.js';
import { CONV_MODEL_IO, ONNX_OPSET, encodeConvModel } from '../onnx-model.js';
import type { PeerLibs, PeersSource } from './load.js';
import { peerVariant, type PeerVariant } from './peer.js';

/** `name`: a run names the N-thread peer `conv-onnxruntime-web-f32@t<N>` (run.ts); by default `-t<N>-` as scripts/threads-speed.ts does. */
export function makeOnnxruntimeWebConv(
  src: PeersSource | null,
  threads = 1,
  name = threads === 1 ? 'conv-onnxruntime-web-f32' : `conv-onnxruntime-web-t${threads}-f32`,
): PeerVariant {
  return peerVariant(src, {
    name,
    algorithm: 'onnxruntime-web',
    library: 'onnxruntime-web (MLAS, WebAssembly SIMD)',
    threads,
    description:
      `ONNX Runtime's WebAssembly SIMD build (onnxruntime-web), ${threads} thread(s), graph optimisation 'all', NCHW, ` +
      'session created in prepare: a peer on the same instruction set as the kernels.',
    cannot: () => null,
    threadProblem(libs) {
      const env = libs.ort.env.wasm;
      // Set before the first session of the process; afterwards ORT keeps what it started with.
      if (typeof env.numThreads !== 'number' || !initialised) {
        env.numThreads = threads;
        return null;
      }
      return env.numThreads === threads
        ? null
        : `onnxruntime-web fixes its thread count at its first session in a process (${env.numThreads} here): run ${threads} thread(s) in another process`;
    },
    async prepare(libs, dir, shape: ConvShape, x: Float32Array, w: Float32Array): Promise<Prepared> {
      const { ort } = libs;
      const env = configureOrtWeb(libs, dir, threads);
      const { n, c, h, w: wd, k } = shape;
      const { ho, wo } = convOutputSize(shape);
      const model = encodeConvModel(shape, w);
      const session = await ort.InferenceSession.create(model, { executionProviders: ['wasm'], graphOptimizationLevel: 'all', executionMode: 'sequential' });
      const feeds = { [CONV_MODEL_IO.input]: new ort.Tensor('float32', Float32Array.from(x), [n, c, h, wd]) };
      const yLen = n * k * ho * wo;
      let y: Float32Array | undefined;
      return {
        run(): void {
          throw new Error(`${name}: session.run is asynchronous: use runAsync()`);
        },
        async runAsync(): Promise<void> {
          const out = await session.run(feeds);
          const data = out[CONV_MODEL_IO.output]?.data;
          if (!(data instanceof Float32Array) || data.length !== yLen) throw new Error(`${name}: expected ${CONV_MODEL_IO.output} as Float32Array[${yLen}]`);
          y = data;
        },
        output(): Float32Array {
          if (!y) throw new Error(`${name}: output() before runAsync()`);
          return y;
        },
        preparedBytes: model.length,
        prepareNote:
          `onnxruntime-web ${ort.env.versions.web ?? '?'} (WebAssembly SIMD, ${env.numThreads} thread(s), proxy off): session from a ` +
          `one-node Conv model (opset ${ONNX_OPSET}, NCHW, ${model.length} bytes), graph optimisation 'all', created here; timed: session.run()`,
        dispose(): void {
          y = undefined;
          session.release().catch(() => {});
        },
      };
    },
  });
}

/** ORT-web initialises its WebAssembly once per process (the thread count with it). */
let initialised = false;

/**
 * ORT-web's settings, once per process before its first session (the conv peer and the models suite's
 * network peer share them): SIMD build, `threads` threads, no proxy worker, its files from the peers part.
 */
export function configureOrtWeb(libs: PeerLibs, dir: string, threads: number): PeerLibs['ort']['env']['wasm'] {
  const env = libs.ort.env.wasm;
  if (!initialised) {
    env.numThreads = threads;
    env.simd = true;
    env.proxy = false;
    env.wasmPaths = `${dir}/`;
    initialised = true;
  }
  return env;
}
