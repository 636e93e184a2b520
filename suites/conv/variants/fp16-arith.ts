/**
 * conv-emulated-fp16arith[-acc32]-f16: fp16 *arithmetic*, emulated (reference/fp16.ts
 * convF16ArithRef): every product and every sum rounded to half (or, acc32, products exact and
 * sums in fp32), to predict what a device with fp16 arithmetic (GPU tensor cores, ARMv8.2 fp16)
 * loses. WebAssembly has no fp16 arithmetic, so this is an emulation in float64 instructions:
 * ACCURACY ONLY. Its `accuracyOnly` makes the runner check it and record its scheme loss without
 * timing it: its result is `skipped` with that reason and the accuracy attached, so it never
 * enters a roofline, a speedup, a comparison or the history (the design's "emulated is honest").
 *
 * Its check (a check of the emulation, not of a kernel: there is none): every output is a half,
 * and within the worst-case fp16 error bound of the exact result on the half-rounded inputs,
 * |y - r| <= gamma * sum|x w| + slack (Higham: gamma = m u / (1 - m u), m the terms summed plus one,
 * u = 2^-11; acc32: gamma over u = 2^-24 plus the output's rounding to half, u16 (|r| + b)); slack
 * m * 2^-25 for results in the subnormal range. Where m u >= 1 that bound says nothing (stated in the
 * check). The worst case is loose, so the probabilistic error-norm and systematic-error checks of the
 * exact fp32 algorithms (reference/tolerance.ts) are applied too, at u = 2^-11: they catch a scaled
 * or biased emulation the worst case lets through.
 */
import type { AccuracyCheck, ConvShape, ConvVariant, KernelContext, Prepared } from '../../../core/contracts.js';
import { encodeFloat } from '../../../core/contracts.js';
import { conv2dRef, convOutputSize, shapeProblem } from '../../../reference/conv.js';
import { convBytes, convFlops } from '../../../reference/cost.js';
import { convF16ArithRef, roundF16, roundF16Array } from '../../../reference/fp16.js';
import { probabilisticToleranceCheck } from '../../../reference/tolerance.js';
import { checkTensors } from '../variant.js';
import { describeScheme, schemeLabel, type Fp16ArithScheme } from '../../../reference/quant-scheme.js';

/** Multiply-adds above which the emulation (about 10-30 ns each in JavaScript) is skipped: about a second per case. */
export const FP16_ARITH_MAX_MACS = 40_000_000;

export const FP16_ARITH_NOT_TIMED =
  'accuracy only: fp16 arithmetic emulated in float64 instructions (WebAssembly has no fp16 arithmetic), so its time measures nothing and is not taken';

/** The check of the emulated output `y` against the exact result on the half-rounded inputs (see the module doc). */
export function fp16ArithCheck(y: Float32Array, exact: Float64Array, sumAbs: Float64Array, terms: number, accumulate: 'f16' | 'f32'): AccuracyCheck[] {
  let notHalf = -1;
  for (let i = 0; i < y.length; i++) {
    const v = y[i]!;
    if (!Number.isNaN(v) && roundF16(v) !== v) {
      notHalf = i;
      break;
    }
  }
  const checks: AccuracyCheck[] = [
    {
      name: 'output is fp16',
      ok: notHalf < 0,
      value: notHalf < 0 ? 0 : 1,
      limit: 0,
      detail: notHalf < 0 ? 'every output is exactly an IEEE half' : `output ${notHalf} (${y[notHalf]}) is not a half`,
    },
  ];
  const u = accumulate === 'f32' ? 2 ** -24 : 2 ** -11;
  const m = terms + 1;
  if (m * u >= 1) {
    checks.push({
      name: 'fp16 error bound',
      ok: true,
      value: 0,
      limit: 1,
      detail: `not applicable: ${terms} terms summed at u = 2^${Math.log2(u)} make the worst-case bound (m u >= 1) vacuous`,
    });
    return checks;
  }
  const gamma = (m * u) / (1 - m * u);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < y.length; i++) {
    const b0 = gamma * sumAbs[i]! + m * 2 ** -25;
    const b = accumulate === 'f32' ? b0 + 2 ** -11 * (Math.abs(exact[i]!) + b0) + 2 ** -25 : b0;
    const v = y[i]!;
    // An overflow to infinity is the scheme's loss (fp16's range), not an emulation error, where the exact value may reach it.
    const ratio = Number.isFinite(v) ? Math.abs(v - exact[i]!) / b : Math.abs(exact[i]!) + b >= 65504 ? 0 : Infinity;
    if (!(ratio <= worst)) {
      worst = ratio;
      at = i;
    }
  }
  // Rounding errors have mean zero: their norm stays well inside the worst case, and a component along the
  // result means a bias (a scaled or wrongly rounded emulation), as the exact fp32 algorithms are checked.
  const p = probabilisticToleranceCheck(y, exact, sumAbs, m, { u: 2 ** -11 });
  checks.push(
    {
      name: 'fp16 error norm',
      ok: p.norm.ok,
      value: encodeFloat(p.norm.value),
      limit: p.norm.limit,
      detail: `relL2 ${p.norm.value.toExponential(2)} vs ${p.norm.limit.toExponential(2)} (${p.source}, u = 2^-11)`,
    },
    {
      name: 'fp16 systematic error',
      ok: p.bias.ok,
      value: encodeFloat(p.bias.value),
      limit: p.bias.limit,
      detail: `error along the result ${p.beta.toExponential(2)} vs ${p.bias.limit.toExponential(2)} (u = 2^-11)`,
    },
  );
  checks.push({
    name: 'fp16 error bound',
    ok: worst <= 1,
    value: encodeFloat(worst),
    limit: 1,
    detail: `worst element ${at} at ${worst.toPrecision(3)}x the worst-case bound gamma_${m} (u = 2^${Math.log2(u)}) * sum|x w| on the half-rounded inputs`,
  });
  return checks;
}

/** The accuracy-only variant of an fp16-arith scheme. `outputError`: test-only fault injection (the output scaled by 1 + x). */
export function fp16ArithVariant(scheme: Fp16ArithScheme, opts: { outputError?: number } = {}): ConvVariant {
  const name = `conv-emulated-${schemeLabel(scheme)}-f16`;
  const applies = (shape: ConvShape): true | string => {
    const bad = shapeProblem(shape);
    if (bad !== null) return bad;
    const { ho, wo } = convOutputSize(shape);
    const macs = shape.n * shape.k * ho * wo * (shape.c / shape.groups) * shape.r * shape.s;
    return macs > FP16_ARITH_MAX_MACS
      ? `the fp16-arithmetic emulation is limited to ${FP16_ARITH_MAX_MACS} multiply-adds per layer (this one has ${macs})`
      : true;
  };
  return {
    name,
    op: 'conv',
    algorithm: 'emulated-fp16-arith',
    dtype: 'f16',
    description: `${describeScheme(scheme)}; emulated exactly in float64 (reference/fp16.ts convF16ArithRef). Not timed.`,
    needs: {},
    applies,
    accuracyOnly: FP16_ARITH_NOT_TIMED,
    flops: (s) => convFlops(s),
    bytes: (s) => convBytes(s, 2),
    info: () => ({ scheme: schemeLabel(scheme), rounding: 'round half to even (reference/fp16.ts)', timed: 'no (accuracy only)' }),
    accuracy: { kind: 'scheme', scheme },
    prepare(_ctx: KernelContext, shape: ConvShape, x: Float32Array, w: Float32Array): Prepared {
      const ok = applies(shape);
      if (ok !== true) throw new Error(`${name}: ${ok}`);
      checkTensors(name, shape, x, w);
      let y = convF16ArithRef(shape, x, w, { accumulate: scheme.accumulate });
      if (opts.outputError !== undefined) y = Float32Array.from(y, (v) => v * (1 + opts.outputError!));
      const terms = (shape.c / shape.groups) * shape.r * shape.s;
      return {
        run(): void {
          /* accuracy only: the work is done in prepare and never timed */
        },
        output: () => y,
        kernelCheck: () => {
          const exact = conv2dRef(shape, roundF16Array(x), roundF16Array(w));
          return fp16ArithCheck(y, exact.y, exact.absBound, terms, scheme.accumulate);
        },
        preparedBytes: 0,
        prepareNote: `${FP16_ARITH_NOT_TIMED}; input and weights rounded to half, then the convolution with every operation rounded as the scheme says`,
        dispose(): void {},
      };
    },
  };
}
