/**
 * conv-onnxruntime-qlinear-<scheme>-<i8|u8>: ONNX Runtime's own int8 convolution (QLinearConv,
 * MLAS's quantized GEMM / depthwise kernels) on exactly the quantized tensors the int8 variants get
 * (lowp.ts quantizeConv: same calibration, scales and zero points): the int8 peer, so an int8 kernel
 * can be read as a ratio to what a user would pick instead.
 *
 * prepare (awaited, untimed) builds a one-node QLinearConv model in memory with onnx-proto: input x
 * (uint8 or int8, N C H W), initializers x_scale, x_zero_point, w (int8, K C/g R S), w_scale (per
 * output channel, or a scalar per tensor), w_zero_point (0), y_scale, y_zero_point; output y
 * (the activation type). The session options are the fp32 peer's (one thread, CPU, 'all').
 * Requantized output only (QLinearConv's output is quantized): a `dequantize` scheme is skipped.
 *
 * Its check: ORT computes its requantization multiplier in its own float arithmetic
 * (x_scale * w_scale / y_scale rounded step by step) where roofbench rounds it once, so a code may
 * differ by one where v lies within a rounding of a tie: every output must be within 1 code of the
 * exact integer reference, and the count of off-by-one codes is stated. Native code: not bit-identical
 * across CPUs (nativeCode), not held to the WebAssembly roofs.
 */
import onnxProto from 'onnx-proto';
import type { AccuracyCheck, ConvShape, ConvVariant, KernelContext, Prepared } from '../../../core/contracts.js';
import { ONNX_IR_VERSION, ONNX_OPSET } from '../../../core/onnx.js';
import { convOutputSize, shapeProblem } from '../../../reference/conv.js';
import { convBytesAt, convFlops } from '../../../reference/cost.js';
import { describeScheme, int8Scheme, schemeDtype, schemeLabel, type Int8Scheme } from '../../../reference/quant-scheme.js';
import { checkTensors } from '../variant.js';
import { outputValues, quantizeConv, requireCaseData, type QuantizedConv } from './lowp.js';
import { loadOnnxruntime, ORT_SESSION_OPTIONS, type OrtLoad } from './onnxruntime.js';

const { onnx } = onnxProto;
const T = onnx.TensorProto.DataType;
const A = onnx.AttributeProto.AttributeType;

/** The ModelProto bytes of y = QLinearConv(x, ...) on the quantized tensors `q`. */
export function encodeQLinearConvModel(shape: ConvShape, q: QuantizedConv, scheme: Int8Scheme): Uint8Array {
  const { n, c, h, w: wd, k, r, s, stride, pad, groups } = shape;
  const { ho, wo } = convOutputSize(shape);
  const act = scheme.activations === 'uint8' ? T.UINT8 : T.INT8;
  const bytes = (a: Int8Array | Uint8Array) => new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
  const actBytes = (v: number) => (scheme.activations === 'uint8' ? Uint8Array.of(v) : new Uint8Array(Int8Array.of(v).buffer));
  const perChannel = scheme.weights === 'per-channel';
  const wScales = perChannel ? Array.from(q.w.scales) : [q.w.scales[0]!];
  const info = (name: string, dims: number[]) => ({ name, type: { tensorType: { elemType: act, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });
  const model = onnx.ModelProto.create({
    irVersion: ONNX_IR_VERSION,
    producerName: 'roofbench',
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    graph: {
      name: 'roofbench_qlinearconv',
      node: [
        {
          opType: 'QLinearConv',
          name: 'qconv',
          input: ['x', 'x_scale', 'x_zero_point', 'w', 'w_scale', 'w_zero_point', 'y_scale', 'y_zero_point'],
          output: ['y'],
          attribute: [
            { name: 'kernel_shape', type: A.INTS, ints: [r, s] },
            { name: 'strides', type: A.INTS, ints: [stride, stride] },
            { name: 'pads', type: A.INTS, ints: [pad, pad, pad, pad] },
            { name: 'dilations', type: A.INTS, ints: [1, 1] },
            { name: 'group', type: A.INT, i: groups },
          ],
        },
      ],
      initializer: [
        { name: 'x_scale', dataType: T.FLOAT, dims: [], floatData: [q.xParams.scale] },
        { name: 'x_zero_point', dataType: act, dims: [], rawData: actBytes(q.xParams.zeroPoint) },
        { name: 'w', dataType: T.INT8, dims: [k, c / groups, r, s], rawData: bytes(q.w.q) },
        { name: 'w_scale', dataType: T.FLOAT, dims: perChannel ? [k] : [], floatData: wScales },
        { name: 'w_zero_point', dataType: T.INT8, dims: perChannel ? [k] : [], rawData: new Uint8Array(perChannel ? k : 1) },
        { name: 'y_scale', dataType: T.FLOAT, dims: [], floatData: [q.yParams.scale] },
        { name: 'y_zero_point', dataType: act, dims: [], rawData: actBytes(q.yParams.zeroPoint) },
      ],
      input: [info('x', [n, c, h, wd])],
      output: [info('y', [n, k, ho, wo])],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** Every code within `tolerance` of the exact reference's; the count of codes that differ at all. */
export function codesWithin(got: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number, what: string): AccuracyCheck {
  let worst = got.length === expected.length ? 0 : Infinity;
  let differ = 0;
  let at = -1;
  for (let i = 0; i < Math.min(got.length, expected.length); i++) {
    const d = Math.abs(got[i]! - expected[i]!);
    if (d > 0) differ++;
    if (d > worst) {
      worst = d;
      at = i;
    }
  }
  const detail =
    got.length !== expected.length
      ? `the output has ${got.length} elements, the reference ${expected.length}`
      : `${differ} of ${expected.length} codes differ from the exact integer reference (${what}), by at most ${worst}` +
        (at >= 0 ? ` (first worst at element ${at}: ${got[at]} instead of ${expected[at]})` : '');
  return { name: `peer: within ${tolerance} code`, ok: worst <= tolerance, value: worst, limit: tolerance, detail };
}

/** The QLinearConv peer for an int8 scheme. `fromUrl`: where onnxruntime-node is resolved from (tests). `codeError`: test-only fault (added to every output code). */
export function int8OnnxruntimeVariant(scheme: Int8Scheme, opts: { fromUrl?: string; codeError?: number } = {}): ConvVariant {
  const dtype = schemeDtype(scheme);
  if (dtype === 'f16') throw new Error('int8OnnxruntimeVariant: needs an int8 scheme');
  const name = `conv-onnxruntime-qlinear-${schemeLabel(scheme)}-${dtype}`;
  let loaded: OrtLoad | undefined;
  const load = (): OrtLoad => (loaded ??= loadOnnxruntime(opts.fromUrl ?? import.meta.url));
  const applies = (shape: ConvShape): true | string => {
    const bad = shapeProblem(shape);
    if (bad !== null) return bad;
    if (scheme.output !== 'requantize') return "QLinearConv's output is quantized: a dequantize scheme has no ONNX Runtime peer";
    const l = load();
    return l.ok ? true : l.reason;
  };
  return {
    name,
    op: 'conv',
    algorithm: 'onnxruntime-int8',
    dtype,
    description: `ONNX Runtime's QLinearConv (onnxruntime-node, MLAS int8), single thread, on the same quantized tensors: the int8 peer. Scheme: ${describeScheme(scheme)}.`,
    needs: {},
    nativeCode: true,
    applies,
    info: () => ({ code: 'native', library: 'ONNX Runtime CPU (MLAS int8)', scheme: schemeLabel(scheme) }),
    flops: (s) => convFlops(s),
    bytes: (s) => convBytesAt(s, { input: 1, weights: 1, output: 1 }),
    accuracy: { kind: 'scheme', scheme },
    prepare(): Prepared {
      throw new Error(`${name}: ONNX Runtime's session creation is asynchronous: use prepareAsync()`);
    },
    async prepareAsync(ctx: KernelContext, shape: ConvShape, x: Float32Array, w: Float32Array, data): Promise<Prepared> {
      const ok = applies(shape);
      if (ok !== true) throw new Error(`${name}: ${ok}`);
      checkTensors(name, shape, x, w);
      const l = load();
      if (!l.ok) throw new Error(`${name}: ${l.reason}`);
      const q = quantizeConv(ctx, shape, x, w, scheme, requireCaseData(name, data));
      const model = encodeQLinearConvModel(shape, q, scheme);
      let session: Awaited<ReturnType<typeof l.ort.InferenceSession.create>>;
      try {
        session = await l.ort.InferenceSession.create(model, ORT_SESSION_OPTIONS);
      } catch (e) {
        throw new Error(`${name}: ONNX Runtime rejected the QLinearConv model (opset ${ONNX_OPSET}, ${scheme.activations} activations)`, { cause: e });
      }
      const { n, c, h, w: wd } = shape;
      const xs = q.xq instanceof Uint8Array ? Uint8Array.from(q.xq) : Int8Array.from(q.xq);
      const feeds = { x: new l.ort.Tensor(scheme.activations === 'uint8' ? 'uint8' : 'int8', xs, [n, c, h, wd]) };
      let y: Int8Array | Uint8Array | undefined;
      let released = false;
      const codes = (): Int8Array | Uint8Array => {
        if (!y) throw new Error(`${name}: output() before runAsync() completed`);
        if (opts.codeError === undefined) return y;
        return y instanceof Uint8Array ? Uint8Array.from(y, (v) => v + opts.codeError!) : Int8Array.from(y, (v) => v + opts.codeError!);
      };
      return {
        run(): void {
          throw new Error(`${name}: ONNX Runtime's session.run is asynchronous: use runAsync()`);
        },
        async runAsync(): Promise<void> {
          const out = await session.run(feeds);
          const data = out.y?.data;
          if (!(data instanceof Int8Array || data instanceof Uint8Array))
            throw new Error(`${name}: expected an int8 / uint8 output y, got ${data?.constructor.name ?? 'none'}`);
          y = data;
        },
        output: () => outputValues(codes(), q.yParams),
        kernelCheck: () => [codesWithin(codes(), q.expected('requantize'), 1, "ONNX Runtime's requantization, its multiplier rounded in its own order")],
        outputScale: q.yParams.scale,
        preparedBytes: model.length,
        prepareNote: `quantized outside the timed region as the int8 variants are (the same scales and zero points); a one-node QLinearConv model (${model.length} bytes, int8 weights ${scheme.weights}); session as the fp32 peer's; timed: session.run()`,
        dispose(): void {
          if (released) return;
          released = true;
          y = undefined;
          session.release().catch(() => {
            /* nothing to do: the session is gone either way */
          });
        },
      };
    },
  };
}

/** The int8 peers of the fixed int8 variants: per-channel weights with int8 activations, per-tensor with uint8. */
export const convOnnxruntimeQlinearPcI8 = int8OnnxruntimeVariant(int8Scheme({ weights: 'per-channel', activations: 'int8' }));
export const convOnnxruntimeQlinearPtU8 = int8OnnxruntimeVariant(int8Scheme({ weights: 'per-tensor', activations: 'uint8' }));
