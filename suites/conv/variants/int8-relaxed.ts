/**
 * conv-im2col-gemm-relaxed-<scheme>-i8 and conv-im2col-gemm-relaxed16-<scheme>-i8:
 * int8 im2col + packed GEMM on the relaxed-SIMD dot product
 * (kernels/assembly/relaxed.ts): 16 int8 multiply-adds per instruction, no
 * widening. `relaxed` uses i32x4.relaxed_dot_i8x16_i7x16_add_s (the dot and the
 * accumulation in one instruction); `relaxed16` the two-step form the
 * specification defines it by (i16x8.relaxed_dot_i8x16_i7x16_s, then
 * i32x4.extadd_pairwise_i16x8_s and add). Needs WebAssembly relaxed SIMD
 * (feature-detected; Node 20 only with --experimental-wasm-relaxed-simd, which
 * a device's `node:` command may pass); elsewhere `skipped` with that reason.
 *
 * Exactness: the instruction is exact when every lane of its second ("i7")
 * operand is in [0, 127]; a lane with its top bit set is read as signed or as
 * unsigned (with int16 saturation) as each engine chooses. The activations are
 * that operand (order 0): int8 activations of post-ReLU data are in [0, 127]
 * and the result is exact and portable; on signed data it is
 * implementation-defined, flagged non-portable (left out of the portability
 * check), and the kernel check says whether this engine's choice is exact
 * (on x86, V8 reads them as unsigned: it is not).
 *
 * Seen on Node 20.20 (V8 11.3, x64, Zen 4): V8's baseline compiler (Liftoff)
 * computes i32x4.relaxed_dot_i8x16_i7x16_add_s wrongly in some register
 * assignments (twice the dot product, the accumulator dropped), its optimising
 * compiler (TurboFan, --no-liftoff) rightly, and the two-step form is right in
 * both: so `relaxed` is `inaccurate` there on data its kernel should get exactly
 * (the kernel check at work), `relaxed16` exact. int8 activations only (zero point 0).
 */
import type { ConvVariant } from '../../../core/contracts.js';
import type { Kernels, RelaxedKernels } from '../../../kernels/index.js';
import { int8Scheme, type Int8Scheme } from '../../../reference/quant-scheme.js';
import { int8Variant, packWith } from './int8.js';
import { int8GemmExecutedFlops } from './int8-im2col-gemm.js';

function requireRelaxed(kern: Kernels, who: string): RelaxedKernels {
  if (kern.relaxed === null) throw new Error(`${who} needs relaxed.wasm: ${kern.relaxedUnavailable ?? 'not loaded'}`);
  return kern.relaxed;
}

/** Values with the top bit set among `a` (int8: the negative ones). */
function topBits(a: Int8Array | Uint8Array): number {
  let n = 0;
  for (const v of a) if (v < 0 || v > 127) n++;
  return n;
}

/**
 * The relaxed-SIMD int8 GEMM variant for a scheme with int8 activations.
 * `order`: 0 the activations are the dot's i7 operand (default), 1 the weights (for tests of both orders);
 * `fused`: true (default) i32x4.relaxed_dot_i8x16_i7x16_add_s, false its two-step form.
 */
export function int8RelaxedVariant(scheme: Int8Scheme, opts: { order?: 0 | 1; fused?: boolean } = {}): ConvVariant {
  if (scheme.activations !== 'int8') throw new RangeError('int8RelaxedVariant: relaxed SIMD needs int8 activations (zero point 0)');
  const order = opts.order ?? 0;
  const fused = opts.fused ?? true;
  const instr = fused ? 'i32x4.relaxed_dot_i8x16_i7x16_add_s' : 'i16x8.relaxed_dot_i8x16_i7x16_s + i32x4.extadd_pairwise_i16x8_s + add';
  return int8Variant({
    stem: `conv-im2col-gemm-relaxed${fused ? '' : '16'}${order === 0 ? '' : '-w7'}`,
    algorithm: 'im2col-gemm-relaxed-int8',
    description:
      `int8 im2col + packed GEMM on relaxed SIMD: ${instr}, 16 int8 multiply-adds per dot, ` +
      `4x8 micro-kernel over quads of the reduction, the ${order === 0 ? 'activations' : 'weights'} as the i7 operand.`,
    scheme,
    needs: { wasmSimd: true, wasmRelaxedSimd: true },
    cannot: () => null,
    executedFlops: (s) => int8GemmExecutedFlops(s, 4),
    pack(kern, q, s) {
      const rk = requireRelaxed(kern, 'conv-im2col-gemm-relaxed');
      const kd = (s.c / s.groups) * s.r * s.s;
      const bytes = rk.rgemm_packed_a_bytes(s.k, kd, s.groups);
      const ptr = packWith(kern, q, bytes, (raw, dst) => rk.rpack_weights(raw, dst, s.k, kd, s.groups));
      return { ptr, bytes, note: `weights packed as int8 into 4-row panels of quads (${bytes} bytes)` };
    },
    workspaceBytes: (kern, s) => requireRelaxed(kern, 'conv-im2col-gemm-relaxed').rgemm_workspace_bytes(s.k, s.groups),
    run(kern, a, s) {
      kern.relaxed!.conv_im2col_rgemm(
        a.x,
        a.w,
        a.y,
        a.ws,
        a.params,
        a.mode,
        a.zpy,
        order,
        fused ? 1 : 0,
        s.n,
        s.c,
        s.h,
        s.w,
        s.k,
        s.r,
        s.s,
        s.stride,
        s.pad,
        s.groups,
      );
    },
    nonPortable(q) {
      const top = topBits(order === 0 ? q.xq : q.w.q);
      if (top === 0) return undefined;
      const what = order === 0 ? 'activations' : 'weights';
      return (
        `${top} of the ${what} (the relaxed dot product's i7 operand) have their top bit set: ` +
        'each engine reads them as signed or unsigned as it chooses, so this output is implementation-defined'
      );
    },
  });
}

/** Relaxed-SIMD int8 (the fused dot-add), per-channel weights, int8 activations, requantized. */
export const convIm2colGemmRelaxedPcI8 = int8RelaxedVariant(int8Scheme({ weights: 'per-channel', activations: 'int8' }));
/** The same with the dot product's two-step form. */
export const convIm2colGemmRelaxed16PcI8 = int8RelaxedVariant(int8Scheme({ weights: 'per-channel', activations: 'int8' }), { fused: false });
