/**
 * The int8 conv variants' shared shape (int8-im2col-gemm.ts, int8-depthwise.ts,
 * int8-winograd.ts, int8-relaxed.ts): in prepare (untimed) the case's tensors
 * are quantized by the variant's scheme (lowp.ts quantizeConv: calibration on
 * inputs of another seed, reference/quant.ts's rounding), the weights packed
 * for the kernel, the input copied as bytes; the timed run is one kernel call
 * from int8 / uint8 input to requantized bytes or dequantized f32; the kernel
 * check compares the output bit for bit with the exact integer reference, and
 * output() hands the runner the dequantized values for the scheme loss.
 *
 * Names: <op>-<algorithm>-<scheme label>-<i8|u8> (reference/quant-scheme.ts
 * schemeLabel), e.g. conv-im2col-gemm-pc-i8. Bytes by the counting rule at the
 * storage width: input and weights 1 byte, output 1 (requantized) or 4
 * (dequantized to f32).
 */
import type { ConvShape, ConvVariant, KernelContext, LayerKernel, Prepared, RuntimeFeatures } from '../../../core/contracts.js';
import type { Kernels, QuantKernels } from '../../../kernels/index.js';
import { convOutputSize } from '../../../reference/conv.js';
import { convBytesAt } from '../../../reference/cost.js';
import { dequantScales, int8ReductionLimit, quantizeWeights, type QuantParams } from '../../../reference/quant.js';
import { describeScheme, schemeDtype, schemeLabel, type Int8Scheme } from '../../../reference/quant-scheme.js';
import { convVariant, disposedTo } from '../variant.js';
import { bitExactCheck, copyIn, outputValues, quantizeConv, requireCaseData, viewOf, type QuantizedConv } from './lowp.js';

/** The arguments of one int8 kernel call (byte pointers into the kernels' memory). */
export interface Int8Call {
  x: number;
  /** 1 for a uint8 input. */
  xUnsigned: number;
  zpx: number;
  /** The packed weights. */
  w: number;
  y: number;
  ws: number;
  /** f32 per output channel: dequantization scales (mode 0) or requantization multipliers (1, 2). */
  params: number;
  /** 0 dequantize to f32, 1 requantize to int8, 2 to uint8. */
  mode: number;
  zpy: number;
}

export interface Int8VariantSpec {
  /** The variant's name up to the scheme label, e.g. conv-im2col-gemm. */
  stem: string;
  algorithm: string;
  /** What the kernel does (the scheme's description is appended). */
  description: string;
  scheme: Int8Scheme;
  needs: Partial<RuntimeFeatures>;
  /** Why the kernel cannot run this (valid) shape, or null. */
  cannot(shape: ConvShape): string | null;
  executedFlops(shape: ConvShape): number;
  /** Packs the quantized weights into the kernels' memory (kept until dispose): the pointer, its bytes and what was done. */
  pack(kern: Kernels, q: Pick<QuantizedConv, 'w'>, shape: ConvShape): { ptr: number; bytes: number; note: string };
  workspaceBytes(kern: Kernels, shape: ConvShape): number;
  /** The timed kernel call. */
  run(kern: Kernels, call: Int8Call, shape: ConvShape): void;
  /** Why this output is implementation-defined on these tensors (relaxed SIMD), or undefined. */
  nonPortable?(q: QuantizedConv): string | undefined;
  /** Test-only fault injection: the per-channel parameters the kernel gets are off by 1 + x (the expected output keeps the true ones). */
  paramError?: number;
}

/** quant.wasm, or an error naming who needs it. */
export function requireQuant(kern: Kernels, who: string): QuantKernels {
  if (kern.quant === null) throw new Error(`${who} needs quant.wasm (WebAssembly SIMD): ${kern.simdUnavailable ?? 'not loaded'}`);
  return kern.quant;
}

/** A ConvVariant for one int8 kernel and scheme (see the module doc). */
export function int8Variant(spec: Int8VariantSpec): ConvVariant {
  const { scheme } = spec;
  const dtype = schemeDtype(scheme);
  if (dtype === 'f16') throw new Error('int8Variant: needs an int8 scheme');
  const name = `${spec.stem}-${schemeLabel(scheme)}-${dtype}`;
  const mode = scheme.output === 'dequantize' ? 0 : scheme.activations === 'uint8' ? 2 : 1;
  // Checked after the shape itself (convVariant).
  const cannot = (shape: ConvShape): string | null => int8LayerProblem(spec, shape);
  return convVariant({
    name,
    algorithm: spec.algorithm,
    description: `${spec.description} Scheme: ${describeScheme(scheme)}.`,
    needs: spec.needs,
    cannot,
    bytes: (s) => convBytesAt(s, { input: 1, weights: 1, output: mode === 0 ? 4 : 1 }),
    executedFlops: spec.executedFlops,
    info: () => ({ scheme: schemeLabel(scheme), rounding: 'round half to even (reference/quant.ts)' }),
    accuracy: { kind: 'scheme', scheme },
    prepare(ctx: KernelContext, shape: ConvShape, x: Float32Array, w: Float32Array, data): Prepared {
      const d = requireCaseData(name, data);
      const kern = ctx.kernels;
      requireQuant(kern, name);
      const q = quantizeConv(ctx, shape, x, w, scheme, d);
      const { ho, wo } = convOutputSize(shape);
      const ny = shape.n * shape.k * ho * wo;
      const mark = kern.mark();
      const packed = spec.pack(kern, q, shape);
      const xb = copyIn(kern, q.xq);
      let params = mode === 0 ? q.dequantScales : q.multipliers;
      if (spec.paramError !== undefined) params = Float32Array.from(params, (v) => v * (1 + spec.paramError!));
      const pb = kern.allocCopy(params);
      const yb = kern.allocBytes(ny * (mode === 0 ? 4 : 1));
      const ws = kern.allocBytes(spec.workspaceBytes(kern, shape));
      const call: Int8Call = {
        x: xb.ptr,
        xUnsigned: scheme.activations === 'uint8' ? 1 : 0,
        zpx: q.xParams.zeroPoint,
        w: packed.ptr,
        y: yb.ptr,
        ws: ws.ptr,
        params: pb.ptr,
        mode,
        zpy: q.yParams.zeroPoint,
      };
      const got = () => (mode === 0 ? viewOf(kern, yb, Float32Array, ny) : mode === 2 ? viewOf(kern, yb, Uint8Array, ny) : viewOf(kern, yb, Int8Array, ny));
      const nonPortable = spec.nonPortable?.(q);
      const fmt = (v: number) => v.toPrecision(4);
      return disposedTo(kern, mark, {
        run(): void {
          spec.run(kern, call, shape);
        },
        output: () => outputValues(got(), q.yParams),
        kernelCheck: () => [
          bitExactCheck(
            got(),
            q.expected(scheme.output),
            `int32 accumulation, ${mode === 0 ? 'dequantization' : 'requantization'} f32(f32(acc) x ${mode === 0 ? 'D_k' : 'M_k'}), round half to even`,
          ),
        ],
        outputScale: q.yParams.scale,
        ...(nonPortable !== undefined ? { nonPortable } : {}),
        preparedBytes: packed.bytes,
        prepareNote:
          `quantized outside the timed region: input ${scheme.activations} scale ${fmt(q.xParams.scale)} zero point ${q.xParams.zeroPoint}, ` +
          `output scale ${fmt(q.yParams.scale)} zero point ${q.yParams.zeroPoint} (both calibrated by ${scheme.calibration.method} on inputs of seed ${d.seed} + 0x9e3779b9), ` +
          `weights ${scheme.weights} [-127, 127]; ${packed.note}; workspace ${spec.workspaceBytes(kern, shape)} bytes`,
      });
    },
  });
}

/** Packs the weights with a kernel packing function: the raw int8 copy on top, released after packing. */
export function packWith(kern: Kernels, q: Pick<QuantizedConv, 'w'>, bytes: number, pack: (raw: number, dst: number) => void): number {
  const dst = kern.allocBytes(bytes);
  const rawMark = kern.mark();
  const raw = copyIn(kern, q.w.q);
  pack(raw.ptr, dst.ptr);
  kern.release(rawMark);
  return dst.ptr;
}

/**
 * An int8 kernel bound to one layer of a network (the light runtime's quantized conv layers,
 * suites/models/quantized.ts): weights quantized by the scheme's granularity and packed once; the
 * input activations quantized in the run with a STATIC scale (`x`, calibrated beforehand) by
 * quant.wasm's quantize_f32 (reference/quant.ts's rule: x / s in float64, round half to even, clamp); int32
 * accumulation; the output dequantized to f32 (y = f32(f32(acc) x D_k), D_k = f32(s_x s_w,k)) into
 * the runtime's arena. The int8 bytes of the input are the layer's own buffer. Throws where the
 * kernel cannot take the shape (the caller falls the layer back to fp32 with that reason).
 */
export function int8Layer(spec: Int8VariantSpec, ctx: KernelContext, shape: ConvShape, w: Float32Array, x: QuantParams): LayerKernel {
  const kern = ctx.kernels;
  // kernels/assembly/qquantize.ts: reference/quant.ts quantizeTensor's rule, in the timed inference.
  const quantize = requireQuant(kern, spec.stem).quantize_f32;
  const bad = int8LayerProblem(spec, shape);
  if (bad !== null) throw new RangeError(bad);
  const wq = quantizeWeights(w, shape.k, spec.scheme.weights);
  const packed = spec.pack(kern, { w: wq }, shape);
  const params = kern.allocCopy(dequantScales(x.scale, wq.scales));
  const nx = shape.n * shape.c * shape.h * shape.w;
  const xq = kern.allocBytes(nx);
  const wsBytes = spec.workspaceBytes(kern, shape);
  const ws = kern.allocBytes(wsBytes);
  const call: Int8Call = { x: xq.ptr, xUnsigned: x.qmin < 0 ? 0 : 1, zpx: x.zeroPoint, w: packed.ptr, y: 0, ws: ws.ptr, params: params.ptr, mode: 0, zpy: 0 };
  return {
    run(xp: number, yp: number): void {
      quantize(xp, xq.ptr, nx, x.scale, x.zeroPoint, x.qmin, x.qmax);
      call.y = yp;
      spec.run(kern, call, shape);
    },
    scratchFloats: 0,
    preparedBytes: packed.bytes + nx + wsBytes + shape.k * 4,
    note:
      `int8 (${schemeLabel(spec.scheme)}): input quantized in the run with a static scale ${x.scale.toPrecision(4)} zero point ${x.zeroPoint}, ` +
      `weights ${spec.scheme.weights} [-127, 127]; ${packed.note}; int32 accumulation, output dequantized to f32`,
  };
}

/** Why the int8 kernel cannot take this layer (its reduction could overflow int32, or the kernel's own limits), or null. */
export function int8LayerProblem(spec: Int8VariantSpec, shape: ConvShape): string | null {
  const kd = (shape.c / shape.groups) * shape.r * shape.s;
  const limit = int8ReductionLimit(spec.scheme.activations);
  if (kd > limit) return `a reduction of ${kd} terms may overflow int32 accumulation (at most ${limit} for ${spec.scheme.activations} activations)`;
  return spec.cannot(shape);
}
