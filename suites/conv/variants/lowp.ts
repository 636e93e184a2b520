/**
 * What the low-precision conv variants share: turning a case's float tensors
 * into a scheme's stored form in prepare (outside the timed region), the exact
 * reference of those values for the kernel check, and the bytes in and out of
 * the kernels' memory.
 *
 * int8 (quantizeConv): the input's range is calibrated on calibration inputs,
 * the case's inputs drawn again with calibrationSeed(seed) (never the evaluated
 * ones); for the output (the scale a requantization writes with, which is the
 * next layer's input scale) on the float convolution of those inputs, computed
 * by the f32 im2col GEMM kernel (an exact fp32 algorithm: its 1e-7 relative
 * error does not move a range). Weights are scaled from their own max |w|.
 * Rounding and requantization: reference/quant.ts. The exact int32 reference
 * and the expected output are computed once per case and quantization, and
 * shared by every variant that uses the same quantized tensors.
 *
 * fp16 storage (halfConv): the tensors rounded to half; the kernel check's
 * reference is float64 on those half-rounded values (reference/fp16-check.ts).
 */
import { encodeFloat, type AccuracyCheck, type CaseData, type ConvShape, type KernelContext } from '../../../core/contracts.js';
import type { F32Buffer, Kernels } from '../../../kernels/index.js';
import { calibrateAsymmetric, calibrateSymmetric, calibrationSeed } from '../../../reference/calibration.js';
import { conv2dRef, convOutputSize } from '../../../reference/conv.js';
import { fp16StorageCheck } from '../../../reference/fp16-check.js';
import { fromF16Bits, toF16Bits } from '../../../reference/fp16.js';
import {
  dequantScales,
  dequantizeAccRef,
  dequantizeTensor,
  int8SymmetricParams,
  qconvRef,
  quantizeTensor,
  quantizeWeights,
  requantMultipliers,
  requantizeRef,
  uint8AsymmetricParams,
  type QuantParams,
  type QuantizedWeights,
} from '../../../reference/quant.js';
import type { Int8Scheme } from '../../../reference/quant-scheme.js';
import { makeConvInputs } from '../../../reference/random.js';
import { convIm2colGemmF32 } from './im2col-gemm.js';

/** The case's seed and distribution, or an error saying the variant needs them. */
export function requireCaseData(name: string, data: CaseData | undefined): CaseData {
  if (!data) {
    throw new Error(`${name}: prepare needs the case's seed and distribution (the 5th argument) to draw its calibration inputs`);
  }
  return data;
}

type Bytes = Int8Array | Uint8Array;

/** One case's tensors quantized by one scheme (weights, activations, calibration); see the module doc. */
export interface QuantizedConv {
  xParams: QuantParams;
  xq: Bytes;
  w: QuantizedWeights;
  /** The output's quantization (the requantization target; its scale is the rmse / scale divisor for both outputs). */
  yParams: QuantParams;
  /** Requantization multipliers M_k and dequantization scales D_k, per output channel. */
  multipliers: Float32Array;
  dequantScales: Float32Array;
  /** The exact int32 accumulators of the quantized tensors (computed on first use). */
  acc(): Int32Array;
  /** The exact expected output: requantized codes or dequantized floats (computed on first use). */
  expected(output: Int8Scheme['output']): Bytes | Float32Array;
}

/** Per case (the input array) and weights array: the quantizations made so far and the calibration data. */
const perCase = new WeakMap<Float32Array, WeakMap<Float32Array, { calib?: { x: Float32Array; y: Float32Array }; q: Map<string, QuantizedConv> }>>();

function caseEntry(x: Float32Array, w: Float32Array) {
  let byW = perCase.get(x);
  if (!byW) perCase.set(x, (byW = new WeakMap()));
  let e = byW.get(w);
  if (!e) byW.set(w, (e = { q: new Map() }));
  return e;
}

/** The calibration inputs (another seed) and their float convolution (the f32 im2col GEMM kernel). */
function calibration(ctx: KernelContext, shape: ConvShape, x: Float32Array, w: Float32Array, data: CaseData): { x: Float32Array; y: Float32Array } {
  const e = caseEntry(x, w);
  if (e.calib) return e.calib;
  const xc = makeConvInputs(shape, calibrationSeed(data.seed), data.distribution).x;
  const p = convIm2colGemmF32.prepare(ctx, shape, xc, w);
  try {
    p.run();
    e.calib = { x: xc, y: Float32Array.from(p.output()) };
  } finally {
    p.dispose();
  }
  return e.calib;
}

/** The activation quantization a scheme's calibration gives on `values` (int8 symmetric or uint8 asymmetric). */
export function activationParams(values: Float32Array, s: Int8Scheme): QuantParams {
  if (s.activations === 'uint8') {
    const [lo, hi] = calibrateAsymmetric(values, s.calibration);
    return uint8AsymmetricParams(lo, hi);
  }
  return int8SymmetricParams(calibrateSymmetric(values, s.calibration));
}

/** The case's tensors quantized by `scheme` (cached per case and quantization; see the module doc). */
export function quantizeConv(ctx: KernelContext, shape: ConvShape, x: Float32Array, w: Float32Array, scheme: Int8Scheme, data: CaseData): QuantizedConv {
  const e = caseEntry(x, w);
  const key = JSON.stringify([scheme.weights, scheme.activations, scheme.calibration]);
  const hit = e.q.get(key);
  if (hit) return hit;
  const cal = calibration(ctx, shape, x, w, data);
  const xParams = activationParams(cal.x, scheme);
  const yParams = activationParams(cal.y, scheme);
  const xq = quantizeTensor(x, xParams);
  const wq = quantizeWeights(w, shape.k, scheme.weights);
  const { ho, wo } = convOutputSize(shape);
  let acc: Int32Array | undefined;
  const expected = new Map<string, Bytes | Float32Array>();
  const q: QuantizedConv = {
    xParams,
    xq,
    w: wq,
    yParams,
    multipliers: requantMultipliers(xParams.scale, wq.scales, yParams.scale),
    dequantScales: dequantScales(xParams.scale, wq.scales),
    acc: () => (acc ??= qconvRef(shape, xq, xParams.zeroPoint, wq.q)),
    expected(output) {
      let out = expected.get(output);
      if (!out) {
        out =
          output === 'requantize'
            ? requantizeRef(q.acc(), shape.k, ho * wo, q.multipliers, yParams)
            : dequantizeAccRef(q.acc(), shape.k, ho * wo, q.dequantScales);
        expected.set(output, out);
      }
      return out;
    },
  };
  e.q.set(key, q);
  return q;
}

/** The float values a low-precision output stands for: dequantized codes, or the floats themselves. */
export function outputValues(out: Bytes | Float32Array, yParams: QuantParams): Float32Array {
  return out instanceof Float32Array ? out : dequantizeTensor(out, yParams);
}

/** The kernel check of an int8 output: every element equal to the exact reference's. */
export function bitExactCheck(got: Bytes | Float32Array, expected: Bytes | Float32Array, what: string): AccuracyCheck {
  const n = expected.length;
  let bad = got.length === n ? 0 : n;
  let first = -1;
  for (let i = 0; i < Math.min(n, got.length); i++) {
    if (got[i] !== expected[i]) {
      bad++;
      if (first < 0) first = i;
    }
  }
  const detail =
    bad === 0
      ? `all ${n} outputs equal the exact integer reference (${what})`
      : got.length !== n
        ? `the output has ${got.length} elements, the reference ${n}`
        : `${bad} of ${n} outputs differ from the exact integer reference (${what}); first at element ${first}: ${got[first]} instead of ${expected[first]}`;
  return { name: 'kernel: bit-exact', ok: bad === 0, value: bad, limit: 0, detail };
}

/** Copies integer data (int8, uint8, int16, uint16) or floats into a new buffer of the kernels' memory. */
export function copyIn(kern: Kernels, a: Int8Array | Uint8Array | Int16Array | Uint16Array | Float32Array): F32Buffer {
  const buf = kern.allocBytes(a.byteLength);
  new Uint8Array(kern.memory.buffer, buf.ptr, a.byteLength).set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return buf;
}

/** A typed view of `length` elements of a buffer (re-created on every call: the memory may have grown). */
export function viewOf<T extends Int8Array | Uint8Array | Uint16Array | Float32Array>(
  kern: Kernels,
  buf: F32Buffer,
  ctor: { new (b: ArrayBuffer, off: number, len: number): T },
  length: number,
): T {
  buf.view(); // throws once released
  return new ctor(kern.memory.buffer as ArrayBuffer, buf.ptr, length);
}

/** One case's tensors rounded to half, with the float64 reference on those values (computed on first use). */
export interface HalfConv {
  xh: Uint16Array;
  wh: Uint16Array;
  ref(): { y: Float64Array; absBound: Float64Array };
}

const halfCases = new WeakMap<Float32Array, WeakMap<Float32Array, HalfConv>>();

/** The case's tensors in fp16 storage (cached per case). */
export function halfConv(shape: ConvShape, x: Float32Array, w: Float32Array): HalfConv {
  let byW = halfCases.get(x);
  if (!byW) halfCases.set(x, (byW = new WeakMap()));
  const hit = byW.get(w);
  if (hit) return hit;
  const xh = toF16Bits(x);
  const wh = toF16Bits(w);
  let ref: { y: Float64Array; absBound: Float64Array } | undefined;
  const h: HalfConv = { xh, wh, ref: () => (ref ??= conv2dRef(shape, fromF16Bits(xh), fromF16Bits(wh))) };
  byW.set(w, h);
  return h;
}

/** The kernel checks of an fp16-storage output (its values as floats) against float64 on the half-rounded inputs. */
export function halfKernelChecks(shape: ConvShape, h: HalfConv, y: Float32Array): AccuracyCheck[] {
  const ref = h.ref();
  const n = (shape.c / shape.groups) * shape.r * shape.s;
  const c = fp16StorageCheck(y, ref.y, ref.absBound, n);
  const sci = (v: number) => (Number.isFinite(v) ? v.toExponential(2) : String(v));
  const enc = encodeFloat;
  return [
    { name: 'kernel: per-element bound', ok: c.interval.ok, value: c.interval.outside, limit: 0, detail: `${c.interval.detail} (${c.source})` },
    {
      name: 'kernel: error norm',
      ok: c.norm.ok,
      value: enc(c.norm.value),
      limit: c.norm.limit,
      detail: `relL2 ${sci(c.norm.value)} vs ${sci(c.norm.limit)} against float64 on the half-rounded inputs`,
    },
    {
      name: 'kernel: systematic error',
      ok: c.bias.ok,
      value: enc(c.bias.value),
      limit: c.bias.limit,
      detail: `error along the result ${sci(c.beta)} (relative) vs ${sci(c.bias.limit)}`,
    },
  ];
}
