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
import type { ConvShape, ConvVariant, KernelContext, Prepared, RuntimeFeatures } from '../../../core/contracts.js';
import type { Kernels, QuantKernels } from '../../../kernels/index.js';
import { convOutputSize } from '../../../reference/conv.js';
import { convBytesAt } from '../../../reference/cost.js';
import { int8ReductionLimit } from '../../../reference/quant.js';
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
  pack(kern: Kernels, q: QuantizedConv, shape: ConvShape): { ptr: number; bytes: number; note: string };
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
  const limit = int8ReductionLimit(scheme.activations);
  // Checked after the shape itself (convVariant).
  const cannot = (shape: ConvShape): string | null => {
    const kd = (shape.c / shape.groups) * shape.r * shape.s;
    if (kd > limit) return `a reduction of ${kd} terms may overflow int32 accumulation (at most ${limit} for ${scheme.activations} activations)`;
    return spec.cannot(shape);
  };
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
export function packWith(kern: Kernels, q: QuantizedConv, bytes: number, pack: (raw: number, dst: number) => void): number {
  const dst = kern.allocBytes(bytes);
  const rawMark = kern.mark();
  const raw = copyIn(kern, q.w.q);
  pack(raw.ptr, dst.ptr);
  kern.release(rawMark);
  return dst.ptr;
}
