/**
 * conv-pointwise-sgemm-f32: a 1x1, stride-1, unpadded convolution is a plain GEMM on the NCHW tensors,
 * Y[n, group] (K/g x H*W) = W[group] (K/g x C/g) * X[n, group] (C/g x H*W), with no im2col at all: the
 * input is already the B matrix. One call per image and group of the blocked SIMD SGEMM
 * (kernels/assembly/gemm.ts sgemm_f32, the same 4x8 micro-kernel as the im2col GEMM), which packs its
 * A and B blocks inside the timed run. The 1x1 layers of MobileNet-style networks (pointwise) are this shape.
 */
import type { ConvShape, KernelContext, Prepared } from '../../../core/contracts.js';
import { convVariant, inArena } from '../variant.js';

const NAME = 'conv-pointwise-sgemm-f32';

export const convPointwiseSgemmF32 = convVariant({
  name: NAME,
  algorithm: 'pointwise-gemm',
  description:
    '1x1 stride-1 conv as a GEMM straight on the NCHW input (no im2col): one blocked SIMD SGEMM per image and group, ' +
    'A and B packed into panels inside the timed run.',
  needs: { wasmSimd: true },
  cannot: (s) =>
    s.r === 1 && s.s === 1 && s.stride === 1 && s.pad === 0
      ? null
      : `not a pointwise layer (needs 1x1, stride 1, no padding; got ${s.r}x${s.s} stride ${s.stride} pad ${s.pad})`,
  prepare(ctx: KernelContext, shape: ConvShape, x: Float32Array, w: Float32Array): Prepared {
    const { n, c, h, w: wd, k, groups } = shape;
    const kern = ctx.kernels;
    const simd = kern.requireSimd(NAME);
    const hw = h * wd;
    const cg = c / groups;
    const kg = k / groups;
    return inArena(kern, () => {
      const xp = kern.allocCopy(x).ptr;
      const wp = kern.allocCopy(w).ptr;
      const yb = kern.alloc(n * k * hw);
      const yp = yb.ptr;
      const wsp = kern.alloc(simd.sgemm_workspace_floats()).ptr;
      const sgemm = simd.sgemm_f32;
      return {
        run(): void {
          for (let i = 0; i < n; i++) {
            for (let g = 0; g < groups; g++) {
              const a = wp + g * kg * cg * 4;
              const b = xp + (i * c + g * cg) * hw * 4;
              const y = yp + (i * k + g * kg) * hw * 4;
              sgemm(kg, hw, cg, a, cg, b, hw, y, hw, wsp, 0);
            }
          }
        },
        output: () => yb.view(),
        preparedBytes: 0,
        prepareNote: 'inputs and weights copied into WebAssembly memory; no weight transform (the GEMM packs A and B panels inside the timed run)',
      };
    });
  },
});
