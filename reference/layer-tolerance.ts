/**
 * The exact-fp32 tolerance of reference/tolerance.ts carried through a sequence of layers (pure, payload-safe):
 * a fused graph (conv + epilogue, depthwise then pointwise, a chain of convs) is checked against the float64
 * evaluation of its unfused graph element by element, with an allowance that is the conv checks' own
 * (gamma_n * sum|x*w| + n * 2^-149, n the reduction length plus the epilogue's roundings) for the first layer,
 * and for each later layer that same term on its own reduction plus the error its input may already carry,
 * pushed through the layer's absolute weights (sum |w| * allowance_in). ReLU and ReLU6 are 1-Lipschitz and
 * change nothing. A bound, not an estimate: a correct kernel stays well inside it, a wrong epilogue or a halo
 * off by one lands far outside (test/fusion-kernels.test.ts and test/tiling-executor.test.ts show both).
 */
import { conv2dRefGeneral, type ConvGeometry } from './conv.js';
import { F32_MIN_SUBNORMAL, gamma } from './tolerance.js';

/**
 * The allowance of one conv layer's output: gamma(n) * absBound + n * 2^-149, plus, when its input carries the
 * allowance `inAllow`, the conv of |w| with it.
 */
export function convAllowance(geo: ConvGeometry, w: ArrayLike<number>, absBound: ArrayLike<number>, n: number, inAllow?: ArrayLike<number>): Float64Array {
  const g = gamma(n);
  const out = new Float64Array(absBound.length);
  for (let i = 0; i < out.length; i++) out[i] = g * absBound[i]! + n * F32_MIN_SUBNORMAL;
  if (inAllow) {
    const absW = Float64Array.from(w as ArrayLike<number>, Math.abs);
    const prop = conv2dRefGeneral(geo, inAllow, absW, 'allowance').y;
    if (prop.length !== out.length) throw new Error(`convAllowance: the propagated allowance has ${prop.length} elements, the output ${out.length}`);
    // (1 + g): the layer's own rounding also applies to the part of its input that is error.
    for (let i = 0; i < out.length; i++) out[i]! += (1 + g) * prop[i]!;
  }
  return out;
}

export interface AllowanceResult {
  ok: boolean;
  /** max_i |y_i - ref_i| / allow_i (Infinity for a non-finite y_i); ok means <= 1. */
  worstRatio: number;
  worstIndex: number;
}

/** Every y_i within allow_i of ref_i (a non-finite y_i fails). Throws on a length mismatch. */
export function allowanceCheck(y: ArrayLike<number>, ref: ArrayLike<number>, allow: ArrayLike<number>): AllowanceResult {
  if (y.length !== ref.length || allow.length !== ref.length) {
    throw new Error(`allowanceCheck: lengths differ (output ${y.length}, reference ${ref.length}, allowance ${allow.length})`);
  }
  let worstRatio = 0;
  let worstIndex = ref.length > 0 ? 0 : -1;
  for (let i = 0; i < ref.length; i++) {
    const yi = +y[i]!;
    const r = Number.isFinite(yi) ? Math.abs(yi - ref[i]!) / allow[i]! : Infinity;
    if (r > worstRatio) {
      worstRatio = r;
      worstIndex = i;
    }
  }
  return { ok: worstRatio <= 1, worstRatio, worstIndex };
}

/** A conv's geometry: NCHW input of one image, square kernel, symmetric padding, groups. */
export function convGeometry(c: number, h: number, w: number, k: number, r: number, stride: number, pad: number, groups = 1): ConvGeometry {
  const ho = Math.floor((h + 2 * pad - r) / stride) + 1;
  const wo = Math.floor((w + 2 * pad - r) / stride) + 1;
  return { n: 1, c, h, w, k, r, s: r, ho, wo, stride: [stride, stride], pads: [pad, pad, pad, pad], dilation: [1, 1], groups };
}
