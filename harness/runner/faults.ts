/**
 * Test-only accuracy faults, applied on the device by the real runner
 * (Plan.faults, set from the ROOFBENCH_TEST_FAULTS environment variable and
 * never from a command-line option; see TestFaults in core/contracts.ts).
 * Each is a subtle, realistic kernel bug that the runner's own accuracy checks
 * must turn into `inaccurate` wherever the faulty code runs
 * (test/accuracy-faults.test.ts):
 *   gemmRelError x       the im2col GEMM computes with its weights scaled by 1 + x;
 *   gemmBf16Weights      the im2col GEMM computes with bfloat16-rounded weights;
 *   cookToomSignFlip     the Cook-Toom generator gets the sign of the linear term of
 *                        every input-transform polynomial wrong;
 *   winogradKernelError x every Winograd kernel computes with its filter off by 1 + x.
 * The reference is always computed from the true inputs; only what the variant
 * is given (or how its transforms are generated) changes.
 */
import type { ConvVariant, TestFaults } from '../../core/contracts.js';
import { cookToom, type WinogradTransforms } from '../../reference/winograd.js';

/** Round float32 values to bfloat16 (round to nearest, ties to even), kept in float32. */
export function roundToBf16(w: Float32Array): Float32Array {
  const out = Float32Array.from(w);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) {
    const b = bits[i]!;
    bits[i] = ((b + 0x7fff + ((b >>> 16) & 1)) & 0xffff0000) >>> 0;
  }
  return out;
}

function scaled(w: Float32Array, x: number): Float32Array {
  return Float32Array.from(w, (v) => v * (1 + x));
}

/** The weights variant `v` computes with under the faults (the same array when none applies). */
export function faultyWeights(v: ConvVariant, w: Float32Array, f: TestFaults | undefined): Float32Array {
  if (!f) return w;
  let out = w;
  if (v.algorithm === 'im2col-gemm') {
    if (f.gemmRelError !== undefined) out = scaled(out, f.gemmRelError);
    if (f.gemmBf16Weights) out = roundToBf16(out);
  }
  if (v.algorithm === 'winograd' && f.winogradKernelError !== undefined) out = scaled(out, f.winogradKernelError);
  return out;
}

/** Cook-Toom with the sign of the x^1 coefficient of every BT row flipped. */
export function signFlippedCookToom(m: number, r: number, points: string[]): WinogradTransforms {
  const t = cookToom(m, r, points);
  return { ...t, BT: t.BT.map((row) => row.map((c, j) => (j === 1 ? c.neg() : c))) };
}

/** The Winograd generator the device builds its variants with under the faults, or undefined (cookToom). */
export function faultyWinogradGenerator(f: TestFaults | undefined): ((m: number, r: number, points: string[]) => WinogradTransforms) | undefined {
  return f?.cookToomSignFlip ? signFlippedCookToom : undefined;
}
