/**
 * conv-tfjs-xnnpack-f32: XNNPACK through TensorFlow.js's WebAssembly backend (@tensorflow/tfjs-backend-wasm,
 * its SIMD build tfjs-backend-wasm-simd.wasm) as a peer that runs wherever the payload runs. Loaded from
 * the peers part of the payload (load.ts).
 *
 * Configured at its best in Node:
 * - the SIMD binary (setWasmPaths to the peers part; the backend picks -simd.wasm where SIMD validates);
 * - threads: tfjs-backend-wasm's threaded build needs browser Workers (it checks for them, and Node has
 *   none), so in Node it runs one thread: the N-thread variant is skipped with that reason;
 * - layout: NHWC input and HWIO filter, the layouts XNNPACK runs natively (an NCHW conv in tfjs would add
 *   transposes): the case's NCHW input and KCRS weights are transposed once in prepare, not timed, and the
 *   NHWC output back to NCHW in output(), not timed;
 * - operator caching: the backend creates the XNNPACK convolution operator (weights packed) at the first
 *   call and caches it by filter tensor; prepare keeps the filter tensor alive and runs once, so the timed
 *   calls reuse the packed operator;
 * - depthwise (groups = C = K): tf.depthwiseConv2d with a [R, S, C, 1] filter; other grouped convs are not
 *   expressible in tfjs (skipped);
 * - timed: conv2d + dataSync() (the output read back into JavaScript, as a user of the result must).
 */
import type { ConvShape, Prepared } from '../../../core/contracts.js';
import { convOutputSize } from '../../../reference/conv.js';
import type { PeerLibs, PeersSource } from './load.js';
import { peerVariant, type PeerVariant } from './peer.js';

let backendReady: Promise<void> | null = null;

/**
 * tfjs on its wasm backend at its best in Node, once per process (the conv peer and the network peer,
 * suites/models/peers.ts, share it): the binaries from the peers part `dir` (the SIMD one where SIMD validates),
 * one thread, the wasm backend. Throws where the backend fails or found no WebAssembly SIMD.
 */
export async function initTfjsWasm(libs: PeerLibs, dir: string): Promise<void> {
  const { tf } = libs;
  backendReady ??= (async () => {
    libs.setWasmPaths(`${dir}/`);
    libs.setThreadsCount(1);
    if (!(await tf.setBackend('wasm'))) throw new Error('tfjs: the wasm backend failed to initialise');
    await tf.ready();
  })();
  await backendReady;
  if (!tf.env().getBool('WASM_HAS_SIMD_SUPPORT')) throw new Error('tfjs-backend-wasm found no WebAssembly SIMD here');
}

/** `name`: see makeOnnxruntimeWebConv. */
export function makeTfjsWasmConv(
  src: PeersSource | null,
  threads = 1,
  name = threads === 1 ? 'conv-tfjs-xnnpack-f32' : `conv-tfjs-xnnpack-t${threads}-f32`,
): PeerVariant {
  return peerVariant(src, {
    name,
    algorithm: 'tfjs-xnnpack',
    library: 'XNNPACK via @tensorflow/tfjs-backend-wasm (WebAssembly SIMD)',
    threads,
    description:
      `XNNPACK through tfjs-backend-wasm (WebAssembly SIMD), NHWC, ${threads} thread(s), operator cached after a first call in prepare: ` +
      'a peer on the same instruction set as the kernels.',
    cannot: (s) => (s.groups !== 1 && !(s.groups === s.c && s.groups === s.k) ? `tfjs has no grouped convolution (groups = ${s.groups}, not depthwise)` : null),
    threadProblem: () =>
      threads === 1
        ? null
        : "tfjs-backend-wasm's threaded build needs browser Web Workers; in Node it runs one thread only, so the multi-thread peer is skipped",
    async prepare(libs, dir, shape: ConvShape, x: Float32Array, w: Float32Array): Promise<Prepared> {
      const { tf } = libs;
      try {
        await initTfjsWasm(libs, dir);
      } catch (e) {
        throw new Error(`${name}: ${(e as Error).message}`, { cause: e });
      }
      const { n, c, h, w: wd, k, r, s, stride, pad, groups } = shape;
      const { ho, wo } = convOutputSize(shape);
      const depthwise = groups > 1;
      // NCHW -> NHWC input, KCRS -> HWIO filter (depthwise: [R, S, C, 1]), once, outside the timed region.
      const xs = new Float32Array(x.length);
      for (let i = 0; i < n; i++)
        for (let ch = 0; ch < c; ch++) for (let p = 0; p < h * wd; p++) xs[(i * h * wd + p) * c + ch] = x[(i * c + ch) * h * wd + p] ?? 0;
      const cg = c / groups;
      const ws = new Float32Array(w.length);
      for (let ko = 0; ko < k; ko++)
        for (let ci = 0; ci < cg; ci++)
          for (let rr = 0; rr < r * s; rr++) ws[depthwise ? rr * k + ko : (rr * cg + ci) * k + ko] = w[(ko * cg + ci) * r * s + rr] ?? 0;
      const xt = tf.tensor4d(xs, [n, h, wd, c]);
      const wt = depthwise ? tf.tensor4d(ws, [r, s, c, 1]) : tf.tensor4d(ws, [r, s, cg, k]);
      const conv = () => (depthwise ? tf.depthwiseConv2d(xt, wt, stride, pad as never) : tf.conv2d(xt, wt, stride, pad as never));
      let y: Float32Array | undefined;
      const once = (): void => {
        const out = conv();
        y = out.dataSync() as Float32Array;
        out.dispose();
      };
      once(); // creates and caches the XNNPACK operator (weights packed), outside the timed region
      return {
        run: once,
        output(): Float32Array {
          if (!y) throw new Error(`${name}: output() before run()`);
          const nchw = new Float32Array(y.length);
          for (let i = 0; i < n; i++)
            for (let ko = 0; ko < k; ko++) for (let p = 0; p < ho * wo; p++) nchw[(i * k + ko) * ho * wo + p] = y[(i * ho * wo + p) * k + ko] ?? 0;
          return nchw;
        },
        preparedBytes: w.length * 4,
        prepareNote:
          `tfjs-backend-wasm (XNNPACK, WebAssembly SIMD, 1 thread): input NCHW -> NHWC and filter -> ${depthwise ? '[R,S,C,1]' : 'HWIO'} ` +
          'once here; XNNPACK operator created and cached by a first call here; timed: conv + dataSync(); NHWC -> NCHW output not timed',
        dispose(): void {
          xt.dispose();
          wt.dispose();
          y = undefined;
        },
      };
    },
  });
}
