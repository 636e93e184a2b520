/**
 * conv-im2col-gemm-f16: fp16 storage, im2col + packed GEMM
 * (kernels/assembly/hgemm.ts). Input, weights and output are stored as IEEE
 * half (rounded to nearest even in prepare, outside the timed region); the
 * arithmetic is the f32 kernel's (WebAssembly has no fp16 arithmetic): the
 * half weights are converted per MC x KC block, the input as im2col packs it,
 * and the f32 result is rounded once to half. Memory traffic of every tensor is
 * halved (bytes counted at 2 per element). Kernel check: the exact fp32
 * tolerance on the half-rounded inputs, then one rounding to half
 * (reference/fp16-check.ts); the scheme loss: against float64 on the original floats.
 */
import type { ConvShape, KernelContext, Prepared } from '../../../core/contracts.js';
import type { F16Kernels, F32Buffer, Kernels } from '../../../kernels/index.js';
import { GEMM_TILE } from '../../../kernels/index.js';
import { convOutputSize } from '../../../reference/conv.js';
import { convBytes } from '../../../reference/cost.js';
import { fromF16Bits } from '../../../reference/fp16.js';
import { convVariant, disposedTo } from '../variant.js';
import { copyIn, halfConv, halfKernelChecks, viewOf, type HalfConv } from './lowp.js';

const NAME = 'conv-im2col-gemm-f16';

/** f16.wasm, or an error naming who needs it. */
export function requireF16(kern: Kernels, who: string): F16Kernels {
  if (kern.f16 === null) throw new Error(`${who} needs f16.wasm (WebAssembly SIMD): ${kern.simdUnavailable ?? 'not loaded'}`);
  return kern.f16;
}

/** The fp16-storage output as a Prepared's output and kernel check (the halves in `yb`, ny of them). */
export function halfOutput(kern: Kernels, shape: ConvShape, h: HalfConv, yb: F32Buffer, ny: number): Pick<Prepared, 'output' | 'kernelCheck'> {
  const values = () => fromF16Bits(viewOf(kern, yb, Uint16Array, ny));
  return { output: values, kernelCheck: () => halfKernelChecks(shape, h, values()) };
}

export const convIm2colGemmF16 = convVariant({
  name: NAME,
  algorithm: 'im2col-gemm-fp16',
  description:
    `fp16 storage, im2col + packed GEMM: half input, weights and output, f32 arithmetic in the ${GEMM_TILE.mr}x${GEMM_TILE.nr} ` +
    'f32x4 micro-kernel; halves converted to f32 per weight block and as im2col packs the input, the result rounded to half.',
  needs: { wasmSimd: true },
  bytes: (s) => convBytes(s, 2),
  executedFlops(s) {
    const { ho, wo } = convOutputSize(s);
    const kg = s.k / s.groups;
    const kd = (s.c / s.groups) * s.r * s.s;
    return 2 * s.n * s.groups * Math.ceil(kg / GEMM_TILE.mr) * GEMM_TILE.mr * Math.ceil((ho * wo) / GEMM_TILE.nr) * GEMM_TILE.nr * kd;
  },
  info: () => ({ scheme: 'fp16', rounding: 'round half to even (reference/fp16.ts)' }),
  accuracy: { kind: 'scheme', scheme: { kind: 'fp16-storage' } },
  prepare(ctx: KernelContext, shape: ConvShape, x: Float32Array, w: Float32Array): Prepared {
    const kern = ctx.kernels;
    const hk = requireF16(kern, NAME);
    const h = halfConv(shape, x, w);
    const { ho, wo } = convOutputSize(shape);
    const { n, c, h: hh, w: wd, k, r, s, stride, pad, groups } = shape;
    const kd = (c / groups) * r * s;
    const ny = n * k * ho * wo;
    const mark = kern.mark();
    const packedBytes = hk.hgemm_packed_a_bytes(k, kd, groups);
    const wp = kern.allocBytes(packedBytes);
    const rawMark = kern.mark();
    const raw = copyIn(kern, h.wh);
    hk.hpack_weights(raw.ptr, wp.ptr, k, kd, groups);
    kern.release(rawMark);
    const xb = copyIn(kern, h.xh);
    const yb = kern.allocBytes(ny * 2);
    const wsBytes = hk.hgemm_workspace_bytes(k, groups);
    const ws = kern.allocBytes(wsBytes);
    const conv = hk.conv_im2col_hgemm;
    const out = halfOutput(kern, shape, h, yb, ny);
    return disposedTo(kern, mark, {
      run(): void {
        conv(xb.ptr, wp.ptr, yb.ptr, ws.ptr, n, c, hh, wd, k, r, s, stride, pad, groups);
      },
      ...out,
      preparedBytes: packedBytes,
      prepareNote:
        `input and weights rounded to half outside the timed region; weights packed as halves into ${GEMM_TILE.mr}-row panels ` +
        `(${packedBytes} bytes); workspace ${wsBytes} bytes (f32 weight block, packed im2col block, f32 output block)`,
    });
  },
});
