/**
 * conv-onnxruntime-f32: ONNX Runtime's own CPU convolution, the reference point
 * for "what a user would pick instead" of the hand-written kernels.
 *
 * prepare (awaited, outside the timed region) encodes a one-node Conv model in
 * memory (suites/conv/onnx-model.ts: weights as an initializer, static shapes)
 * and creates an InferenceSession on the CPU execution provider with one
 * intra-op and one inter-op thread, sequential execution and graph optimisation
 * level 'all'. Session creation is where ORT transforms the graph: on x64 with
 * AVX2 / AVX-512, level 'all' runs the NCHWc transformer, which turns the Conv
 * into MLAS's blocked-layout direct convolution (com.microsoft.nchwc.Conv, 8 or
 * 16 channels per block) with the weights re-laid out once and ReorderInput /
 * ReorderOutput nodes around it; elsewhere (and for layers it does not take)
 * the plain Conv kernel runs im2col + MLAS SGEMM, or MLAS's direct depthwise
 * kernel. None of these is Winograd or FFT: every output is still a plain fp32
 * sum of products (in ORT's own order), so the exact-algorithm tolerance applies.
 *
 * The timed region is one `session.run({ X })` as a user calls it: it includes
 * the Node binding's setImmediate hop and the copy of the output into a new
 * JavaScript buffer (microseconds against the conv itself).
 *
 * onnxruntime-node is a native addon and is not part of the payload (esbuild
 * marks it external). It is loaded lazily with createRequire(import.meta.url),
 * which resolves from the directory of the running module and walks up its
 * parents: the local payload (.cache/payload/<hash>/runner.mjs) finds the
 * repository's node_modules; a remote device's payload (<workDir>/payloads/<hash>/)
 * finds it only if someone ran `npm install onnxruntime-node` in one of those
 * directories. When it cannot be loaded, applies() returns the reason and the
 * result is `skipped`; it never throws.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConvShape, ConvVariant, KernelContext, Prepared } from '../../../core/contracts.js';
import { convOutputSize } from '../../../reference/conv.js';
import { CONV_MODEL_IO, ONNX_OPSET, encodeConvModel } from '../onnx-model.js';
import { convVariant } from '../variant.js';

type Ort = typeof import('onnxruntime-node');
type OrtTensor = import('onnxruntime-node').Tensor;
type OrtSessionOptions = import('onnxruntime-node').InferenceSession.SessionOptions;

const PACKAGE = 'onnxruntime-node';

export type OrtLoad = { ok: true; ort: Ort; path: string } | { ok: false; reason: string };

const errText = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '';

/**
 * Loads onnxruntime-node as the module at `fromUrl` would resolve it (the
 * package is CommonJS, so createRequire loads it synchronously). Never throws.
 */
export function loadOnnxruntime(fromUrl: string): OrtLoad {
  const req = createRequire(fromUrl);
  let path: string;
  try {
    path = req.resolve(PACKAGE);
  } catch {
    let from = fromUrl;
    try {
      from = dirname(fileURLToPath(fromUrl));
    } catch {
      /* not a file: URL; show it as is */
    }
    return {
      ok: false,
      reason:
        `${PACKAGE} is not installed on this device (it is not part of the payload): ` +
        `npm install ${PACKAGE} in ${from} or a directory above it to compare against it`,
    };
  }
  try {
    const ort = req(PACKAGE) as Ort;
    if (typeof ort.InferenceSession?.create !== 'function' || typeof ort.Tensor !== 'function') {
      return { ok: false, reason: `${PACKAGE} at ${path} does not export InferenceSession and Tensor (unexpected version?)` };
    }
    return { ok: true, ort, path };
  } catch (e) {
    return {
      ok: false,
      reason: `${PACKAGE} (found at ${path}) failed to load on this device ` + `(${process.platform}-${process.arch}, Node ${process.version}): ${errText(e)}`,
    };
  }
}

/** The session options of the comparison: one thread, CPU only, full graph optimisation. */
export const ORT_SESSION_OPTIONS: OrtSessionOptions = {
  executionProviders: ['cpu'],
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
};

/**
 * The variant, loading onnxruntime-node as a module at `fromUrl` would (the
 * first time applies() or prepare needs it; the outcome is cached).
 * `convOnnxruntimeF32` below resolves from this module itself.
 */
export function makeConvOnnxruntimeF32(fromUrl: string, threads = 1): ConvVariant {
  // N threads (docs/threads.md): ORT's own intra-op pool of N threads, named conv-onnxruntime-t<N>-f32.
  const NAME = threads === 1 ? 'conv-onnxruntime-f32' : `conv-onnxruntime-t${threads}-f32`;
  const sessionOptions: OrtSessionOptions = { ...ORT_SESSION_OPTIONS, intraOpNumThreads: threads };
  let loaded: OrtLoad | undefined;
  const load = (): OrtLoad => (loaded ??= loadOnnxruntime(fromUrl));

  async function prepareAsync(_ctx: KernelContext, shape: ConvShape, x: Float32Array, w: Float32Array): Promise<Prepared> {
    const l = load();
    if (!l.ok) throw new Error(`${NAME}: ${l.reason}`);
    const { ort } = l;
    const { ho, wo } = convOutputSize(shape);
    const { n, c, h, w: wd, k } = shape;
    const model = encodeConvModel(shape, w);
    let session: Awaited<ReturnType<Ort['InferenceSession']['create']>>;
    try {
      session = await ort.InferenceSession.create(model, sessionOptions);
    } catch (e) {
      throw new Error(`${NAME}: ONNX Runtime rejected the Conv model (opset ${ONNX_OPSET}, ${model.length} bytes)`, { cause: e });
    }
    const yLen = n * k * ho * wo;
    // The variant's own copy of the input, wrapped (not copied again) by the tensor fed on every run.
    const feeds: Record<string, OrtTensor> = { [CONV_MODEL_IO.input]: new ort.Tensor('float32', Float32Array.from(x), [n, c, h, wd]) };
    let y: Float32Array | undefined;
    let released = false;
    const version = ort.env.versions.node ?? ort.env.versions.common ?? 'unknown';
    return {
      run(): void {
        throw new Error(`${NAME}: ONNX Runtime's session.run is asynchronous: use runAsync()`);
      },
      async runAsync(): Promise<void> {
        const out = await session.run(feeds);
        const t = out[CONV_MODEL_IO.output];
        const data = t?.data;
        if (!(data instanceof Float32Array) || data.length !== yLen) {
          const got = data === undefined ? 'no output' : `${data.constructor.name}[${data.length}]`;
          throw new Error(`${NAME}: expected output ${CONV_MODEL_IO.output} as Float32Array[${yLen}] (N K Ho Wo), got ${got}`);
        }
        y = data;
      },
      output(): Float32Array {
        if (!y) throw new Error(`${NAME}: output() before runAsync() completed`);
        // ORT's NCHW output is the reference's N K Ho Wo layout.
        return y;
      },
      preparedBytes: model.length,
      prepareNote:
        `onnxruntime-node ${version}: session created from an in-memory one-node Conv model (opset ${ONNX_OPSET}, ` +
        `${model.length} bytes, weights as an initializer); CPU EP, ${threads} intra-op + 1 inter-op thread, sequential, ` +
        "graph optimisation 'all' (ORT may re-lay out the weights, e.g. NCHWc on AVX2/AVX-512 x64; its internal copies are not " +
        "visible from JS, preparedBytes counts the model bytes); timed: session.run() including the binding's output copy",
      dispose(): void {
        if (released) return;
        released = true;
        y = undefined;
        // release() frees the native session synchronously; the promise only carries a possible error.
        session.release().catch((e: unknown) => {
          process.stderr.write(`${NAME}: releasing the ONNX Runtime session failed: ${errText(e)}\n`);
        });
      },
    };
  }

  return convVariant({
    name: NAME,
    algorithm: 'onnxruntime',
    // Read by the report: native code is not bound by the WebAssembly SIMD roof measured on the device.
    info: () => ({ code: 'native', library: 'ONNX Runtime CPU (MLAS)' }),
    description:
      `ONNX Runtime's CPU Conv (onnxruntime-node, MLAS), ${threads === 1 ? 'single thread' : `${threads} intra-op threads`}, graph optimisation 'all': ` +
      'a peer reference for what a user would pick instead. Not in the payload: needs onnxruntime-node installed on the device.',
    // Native MLAS code, CPU-specific paths (AVX-512 NCHWc here, NEON elsewhere): outputs are not bit-identical across devices.
    nativeCode: true,
    // Checked after the shape itself (convVariant): whether ONNX Runtime loads here.
    cannot(): string | null {
      const l = load();
      return l.ok ? null : l.reason;
    },
    prepare(): Prepared {
      throw new Error(`${NAME}: ONNX Runtime's session creation is asynchronous: use prepareAsync()`);
    },
    prepareAsync,
  });
}

export const convOnnxruntimeF32: ConvVariant = makeConvOnnxruntimeF32(import.meta.url);
