/**
 * The float64 reference 2D convolution every conv variant is checked against.
 *
 * Layouts: input x is NCHW, weights w are KCRS with C/groups input channels per
 * group (shape [K, C/groups, R, S]), output y is N K Ho Wo with
 * Ho = floor((H + 2*pad - R) / stride) + 1 (Wo likewise). Padding is zeros.
 * conv2dRefGeneral adds what a graph's conv node can ask for: stride and
 * dilation per axis and asymmetric pads (the graph reference uses it).
 *
 * Pure, payload-safe (no node: imports): it runs on the device.
 */
import type { ConvShape } from '../core/contracts.js';

/** Output spatial size of a conv; throws if the shape cannot be computed. */
export function convOutputSize(s: ConvShape): { ho: number; wo: number } {
  const fields = ['n', 'c', 'h', 'w', 'k', 'r', 's', 'stride', 'groups'] as const;
  for (const f of fields) {
    const v = s[f];
    if (!Number.isInteger(v) || v < 1) {
      throw new Error(`invalid conv shape: ${f} = ${String(v)} must be a positive integer (shape ${describe(s)})`);
    }
  }
  if (!Number.isInteger(s.pad) || s.pad < 0) {
    throw new Error(`invalid conv shape: pad = ${String(s.pad)} must be a non-negative integer (shape ${describe(s)})`);
  }
  if (s.c % s.groups !== 0 || s.k % s.groups !== 0) {
    throw new Error(`invalid conv shape: c = ${s.c} and k = ${s.k} must both be divisible by groups = ${s.groups} (shape ${describe(s)})`);
  }
  const ho = Math.floor((s.h + 2 * s.pad - s.r) / s.stride) + 1;
  const wo = Math.floor((s.w + 2 * s.pad - s.s) / s.stride) + 1;
  if (ho < 1 || wo < 1) {
    throw new Error(
      `invalid conv shape: output size ${ho}x${wo} < 1 (kernel ${s.r}x${s.s} larger than padded input ` +
        `${s.h + 2 * s.pad}x${s.w + 2 * s.pad}; shape ${describe(s)})`,
    );
  }
  return { ho, wo };
}

function describe(s: ConvShape): string {
  return `n=${s.n} c=${s.c} h=${s.h} w=${s.w} k=${s.k} r=${s.r} s=${s.s} stride=${s.stride} pad=${s.pad} groups=${s.groups}`;
}

/**
 * Direct float64 convolution (stride, zero padding, groups).
 *
 * Returns the output `y` (N K Ho Wo) and, computed in the same pass,
 * `absBound[i]` = sum over the reduction of |x * w| for output element i (the
 * per-element scale of the exact-fp32 tolerance model, reference/tolerance.ts).
 *
 * Loop order: n, group, block of 4 output channels, output row, input channel
 * of the group, kernel row, kernel column, output column (innermost, contiguous
 * in y; contiguous in x for stride 1). The valid ranges of kernel rows and
 * output columns are precomputed, so the inner loop has no bounds checks. Each
 * output element sums its terms in the order (c, r, s) in float64.
 * About 1.2 GFLOP/s (y and absBound together) on a 2020s x86 core in Node 20.
 */
/** Why a shape is not a valid convolution (convOutputSize's message), or null when it is. */
export function shapeProblem(s: ConvShape): string | null {
  try {
    convOutputSize(s);
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

export function conv2dRef(s: ConvShape, x: ArrayLike<number>, w: ArrayLike<number>): { y: Float64Array; absBound: Float64Array } {
  const { ho, wo } = convOutputSize(s);
  const { n, c, h, w: wd, k, r, s: sw, stride, pad, groups } = s;
  return conv2dRefGeneral(
    { n, c, h, w: wd, k, r, s: sw, ho, wo, stride: [stride, stride], pads: [pad, pad, pad, pad], dilation: [1, 1], groups },
    x,
    w,
    describe(s),
  );
}

/**
 * A convolution in the generality of a graph's conv node (core/graph.ts):
 * stride and dilation per axis, pads [top, left, bottom, right], groups. The
 * output size (ho, wo) is given by the caller (graph shape inference or
 * convOutputSize); the sizes are trusted apart from the array lengths.
 */
export interface ConvGeometry {
  n: number;
  c: number;
  h: number;
  w: number;
  k: number;
  r: number;
  s: number;
  ho: number;
  wo: number;
  stride: readonly [number, number];
  pads: readonly [number, number, number, number];
  dilation: readonly [number, number];
  groups: number;
}

/**
 * conv2dRef for a ConvGeometry: the same loop (and summation order), with
 * per-axis stride, dilation and asymmetric zero padding. `what` names the
 * shape in error messages.
 */
export function conv2dRefGeneral(geo: ConvGeometry, x: ArrayLike<number>, w: ArrayLike<number>, what = 'conv'): { y: Float64Array; absBound: Float64Array } {
  const { n: N, c: C, h: H, w: W, k: K, r: R, s: S, ho: Ho, wo: Wo, groups } = geo;
  const [strideH, strideW] = geo.stride;
  const [padT, padL] = geo.pads;
  const [dilH, dilW] = geo.dilation;
  const cg = C / groups;
  const kg = K / groups;
  const xLen = N * C * H * W;
  const wLen = K * cg * R * S;
  if (x.length !== xLen) {
    throw new Error(`conv2dRef: x has ${x.length} elements, shape needs N*C*H*W = ${xLen} (${what})`);
  }
  if (w.length !== wLen) {
    throw new Error(`conv2dRef: w has ${w.length} elements, shape needs K*(C/groups)*R*S = ${wLen} (${what})`);
  }

  // float64 copies (and their magnitudes) so the hot loop reads one array type.
  const X = new Float64Array(xLen);
  const AX = new Float64Array(xLen);
  for (let i = 0; i < xLen; i++) {
    const v = +(x[i] as number);
    X[i] = v;
    AX[i] = Math.abs(v);
  }
  const Wt = new Float64Array(wLen);
  for (let i = 0; i < wLen; i++) Wt[i] = +(w[i] as number);

  const y = new Float64Array(N * K * Ho * Wo);
  const absBound = new Float64Array(N * K * Ho * Wo);

  // For kernel column sx, the output columns whose input column
  // ow*strideW - padL + sx*dilW lies in [0, W): [woLo[sx], woHi[sx]).
  const woLo = new Int32Array(S);
  const woHi = new Int32Array(S);
  for (let sx = 0; sx < S; sx++) {
    const off = sx * dilW - padL;
    const lo = Math.max(0, Math.ceil(-off / strideW));
    const hi = Math.min(Wo, Math.floor((W - 1 - off) / strideW) + 1);
    woLo[sx] = lo;
    woHi[sx] = Math.max(lo, hi);
  }

  const HW = H * W;
  const RS = R * S;
  // Output channels of one group are processed KB at a time so that each x
  // load feeds KB multiply-adds (the remainder one at a time).
  const KB = 4;
  for (let nn = 0; nn < N; nn++) {
    for (let g = 0; g < groups; g++) {
      for (let kk = 0; kk < kg;) {
        const kb = kg - kk >= KB ? KB : 1;
        const k0 = g * kg + kk;
        const yPlane0 = (nn * K + k0) * Ho * Wo;
        const planeStride = Ho * Wo; // distance between consecutive output channels
        const wStride = cg * RS; // distance between consecutive output channels' weights
        for (let oh = 0; oh < Ho; oh++) {
          const ih0 = oh * strideH - padT;
          // kernel rows r with 0 <= ih0 + r*dilH < H
          const rLo = Math.max(0, Math.ceil(-ih0 / dilH));
          const rHi = Math.min(R, Math.floor((H - 1 - ih0) / dilH) + 1);
          const y0 = yPlane0 + oh * Wo;
          for (let ci = 0; ci < cg; ci++) {
            const xPlane = (nn * C + g * cg + ci) * HW;
            const wBase = (k0 * cg + ci) * RS;
            for (let r = rLo; r < rHi; r++) {
              const xRow = xPlane + (ih0 + r * dilH) * W;
              const wRow = wBase + r * S;
              for (let sx = 0; sx < S; sx++) {
                const lo = woLo[sx]!;
                const hi = woHi[sx]!;
                // x index of output column ow: xRow + ow*strideW - padL + sx*dilW
                const xb = xRow - padL + sx * dilW;
                if (kb === KB) {
                  const wi = wRow + sx;
                  const w0 = Wt[wi]!;
                  const w1 = Wt[wi + wStride]!;
                  const w2 = Wt[wi + 2 * wStride]!;
                  const w3 = Wt[wi + 3 * wStride]!;
                  const a0 = Math.abs(w0);
                  const a1 = Math.abs(w1);
                  const a2 = Math.abs(w2);
                  const a3 = Math.abs(w3);
                  const y1 = y0 + planeStride;
                  const y2 = y1 + planeStride;
                  const y3 = y2 + planeStride;
                  for (let ow = lo; ow < hi; ow++) {
                    const xi = xb + ow * strideW;
                    const xv = X[xi]!;
                    const av = AX[xi]!;
                    y[y0 + ow]! += w0 * xv;
                    absBound[y0 + ow]! += a0 * av;
                    y[y1 + ow]! += w1 * xv;
                    absBound[y1 + ow]! += a1 * av;
                    y[y2 + ow]! += w2 * xv;
                    absBound[y2 + ow]! += a2 * av;
                    y[y3 + ow]! += w3 * xv;
                    absBound[y3 + ow]! += a3 * av;
                  }
                } else {
                  const w0 = Wt[wRow + sx]!;
                  const a0 = Math.abs(w0);
                  for (let ow = lo; ow < hi; ow++) {
                    const xi = xb + ow * strideW;
                    y[y0 + ow]! += w0 * X[xi]!;
                    absBound[y0 + ow]! += a0 * AX[xi]!;
                  }
                }
              }
            }
          }
        }
        kk += kb;
      }
    }
  }
  return { y, absBound };
}
