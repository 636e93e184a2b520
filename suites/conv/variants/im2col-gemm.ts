/**
 * conv-im2col-gemm-f32: convolution as a GEMM per image and group,
 * C[K/g x Ho*Wo] = W[K/g x C/g*R*S] * im2col(x)[C/g*R*S x Ho*Wo], with a packed,
 * cache-blocked WebAssembly SIMD GEMM (4x8 f32x4 micro-kernel, KC/NC/MC blocking;
 * kernels/assembly/gemm.ts). The weights are packed into MR-row panels once in
 * prepare; inside the timed run the im2col step writes B directly as packed
 * NR-column panels, one KC x NC block at a time, so the full im2col matrix is
 * never materialised. Groups are looped (depthwise works, slowly).
 */
import type { ConvShape, KernelContext, LayerKernel } from '../../../core/contracts.js';
import { convOutputSize } from '../../../reference/conv.js';
import { GEMM_TILE } from '../../../kernels/index.js';
import { convVariant } from '../variant.js';

const NAME = 'conv-im2col-gemm-f32';

/** Arithmetic really performed: M rounded up to MR and N to NR (the padded tile lanes). */
function executedFlops(shape: ConvShape): number {
  const { ho, wo } = convOutputSize(shape);
  const kg = shape.k / shape.groups;
  const kd = (shape.c / shape.groups) * shape.r * shape.s;
  const mp = Math.ceil(kg / GEMM_TILE.mr) * GEMM_TILE.mr;
  const np = Math.ceil((ho * wo) / GEMM_TILE.nr) * GEMM_TILE.nr;
  return 2 * shape.n * shape.groups * mp * np * kd;
}

export const convIm2colGemmF32 = convVariant({
  name: NAME,
  algorithm: 'im2col-gemm',
  description:
    `im2col + packed SIMD GEMM: ${GEMM_TILE.mr}x${GEMM_TILE.nr} f32x4 micro-kernel (mul+add), ` +
    `KC=${GEMM_TILE.kc} NC=${GEMM_TILE.nc} MC=${GEMM_TILE.mc} blocking, weights pre-packed, ` +
    'im2col fused into the packing of B panels.',
  needs: { wasmSimd: true },
  executedFlops,
  layer(ctx: KernelContext, shape: ConvShape, w: Float32Array): LayerKernel {
    const { n, c, h, w: wd, k, r, s, stride, pad, groups } = shape;
    const kd = (c / groups) * r * s;
    const kern = ctx.kernels;
    const simd = kern.requireSimd(NAME);
    // Packed weights first, the raw copy on top of it (released right after packing).
    const packed = kern.alloc(simd.gemm_packed_a_floats(k, kd, groups));
    const rawMark = kern.mark();
    const wRaw = kern.allocCopy(w);
    simd.pack_weights(wRaw.ptr, packed.ptr, k, kd, groups);
    kern.release(rawMark);
    const wsFloats = simd.conv_im2col_gemm_workspace_floats();
    const conv = simd.conv_im2col_gemm_f32;
    const wp = packed.ptr;
    const preparedBytes = packed.length * 4;
    return {
      run(x: number, y: number, ws: number): void {
        conv(x, wp, y, ws, n, c, h, wd, k, r, s, stride, pad, groups);
      },
      scratchFloats: wsFloats,
      preparedBytes,
      note:
        `weights packed into ${GEMM_TILE.mr}-row panels per KC=${GEMM_TILE.kc} slice (${preparedBytes} bytes, ` +
        `${groups} group(s) of ${k / groups}x${kd}); workspace ${wsFloats * 4} bytes (one KC x NC packed im2col block); ` +
        'im2col runs inside the timed region',
    };
  },
});
