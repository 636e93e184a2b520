/**
 * The light runtime's simple kernels for the operators other than conv and
 * gemm (which run the conv suite's WebAssembly kernels), and a general direct
 * conv for the conv nodes those kernels cannot take (unequal pads or strides,
 * dilation). They read and write the arena in place: `f` is a Float32Array
 * over the kernels' whole memory, offsets are in floats. Plain loops over
 * typed arrays (V8 compiles them to tight scalar code); every one is checked
 * against reference/graph.ts in test/runtime.test.ts.
 *
 * Payload-safe (runs on the device).
 */

export type F = Float32Array;

/** y = x + b[c] per channel (x: N C inner). */
export function biasOp(f: F, x: number, y: number, n: number, c: number, inner: number, b: Float32Array): void {
  let i = 0;
  for (let nn = 0; nn < n; nn++) {
    for (let k = 0; k < c; k++) {
      const bv = b[k]!;
      const end = i + inner;
      for (; i < end; i++) f[y + i] = f[x + i]! + bv;
    }
  }
}

/** y = x * a[c] + b[c] per channel (batch norm with its statistics folded into a and b at compile time). */
export function scaleShiftOp(f: F, x: number, y: number, n: number, c: number, inner: number, a: Float32Array, b: Float32Array): void {
  let i = 0;
  for (let nn = 0; nn < n; nn++) {
    for (let k = 0; k < c; k++) {
      const av = a[k]!;
      const bv = b[k]!;
      const end = i + inner;
      for (; i < end; i++) f[y + i] = f[x + i]! * av + bv;
    }
  }
}

/** max(x, 0); NaN stays NaN (as the reference's Math.max). */
export function reluOp(f: F, x: number, y: number, len: number): void {
  for (let i = 0; i < len; i++) {
    const v = f[x + i]!;
    f[y + i] = v < 0 ? 0 : v;
  }
}

/** min(max(x, 0), 6); NaN stays NaN. */
export function relu6Op(f: F, x: number, y: number, len: number): void {
  for (let i = 0; i < len; i++) {
    const v = f[x + i]!;
    f[y + i] = v < 0 ? 0 : v > 6 ? 6 : v;
  }
}

export function addOp(f: F, a: number, b: number, y: number, len: number): void {
  for (let i = 0; i < len; i++) f[y + i] = f[a + i]! + f[b + i]!;
}

export function copyOp(f: F, x: number, y: number, len: number): void {
  if (x !== y) f.copyWithin(y, x, x + len);
}

export interface PoolGeometry {
  nc: number;
  h: number;
  w: number;
  ho: number;
  wo: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  pt: number;
  pl: number;
  pb: number;
  pr: number;
}

/**
 * Max pooling (padding never wins; a NaN in the window gives NaN) or average
 * pooling (countIncludePad: divide by the window clipped to the padded input,
 * else to the input).
 */
export function poolOp(f: F, x: number, y: number, g: PoolGeometry, kind: 'max' | 'avg', countIncludePad = false): void {
  const { nc, h: H, w: W, ho, wo, kh, kw, sh, sw, pt, pl, pb, pr } = g;
  const max = kind === 'max';
  for (let p = 0; p < nc; p++) {
    const xb = x + p * H * W;
    const yb = y + p * ho * wo;
    for (let oh = 0; oh < ho; oh++) {
      const h0 = oh * sh - pt;
      const hLo = h0 < 0 ? 0 : h0;
      const hHi = Math.min(H, h0 + kh);
      for (let ow = 0; ow < wo; ow++) {
        const w0 = ow * sw - pl;
        const wLo = w0 < 0 ? 0 : w0;
        const wHi = Math.min(W, w0 + kw);
        let acc = max ? Number.NEGATIVE_INFINITY : 0;
        let nan = false;
        for (let ih = hLo; ih < hHi; ih++) {
          const row = xb + ih * W;
          for (let iw = wLo; iw < wHi; iw++) {
            const v = f[row + iw]!;
            if (!max) acc += v;
            else if (v > acc) acc = v;
            else if (v !== v) nan = true;
          }
        }
        let value = acc;
        if (!max) {
          const count = countIncludePad
            ? (Math.min(H + pb, h0 + kh) - Math.max(-pt, h0)) * (Math.min(W + pr, w0 + kw) - Math.max(-pl, w0))
            : (hHi - hLo) * (wHi - wLo);
          value = acc / count;
        }
        f[yb + oh * wo + ow] = nan ? Number.NaN : value;
      }
    }
  }
}

/** N C H W -> N C: the mean of each plane (accumulated in float64, rounded once). */
export function globalAvgPoolOp(f: F, x: number, y: number, nc: number, hw: number): void {
  for (let p = 0; p < nc; p++) {
    const b = x + p * hw;
    let acc = 0;
    for (let i = 0; i < hw; i++) acc += f[b + i]!;
    f[y + p] = acc / hw;
  }
}

/** Concatenation along the channel axis: parts [offset, channels], each N x channels x inner. */
export function concatOp(f: F, parts: readonly (readonly [number, number])[], y: number, n: number, totalC: number, inner: number): void {
  for (let nn = 0; nn < n; nn++) {
    let c0 = 0;
    for (const [x, c] of parts) {
      const block = c * inner;
      const src = x + nn * block;
      f.copyWithin(y + (nn * totalC + c0) * inner, src, src + block);
      c0 += c;
    }
  }
}

/** Output channel j*g + i <- input channel i*(C/g) + j. */
export function channelShuffleOp(f: F, x: number, y: number, n: number, c: number, hw: number, groups: number): void {
  const per = c / groups;
  for (let nn = 0; nn < n; nn++) {
    for (let i = 0; i < groups; i++) {
      for (let j = 0; j < per; j++) {
        const src = x + (nn * c + i * per + j) * hw;
        f.copyWithin(y + (nn * c + j * groups + i) * hw, src, src + hw);
      }
    }
  }
}

/** Softmax along an axis of length `len` (outer x len x inner), max-subtracted, sums in float64. */
export function softmaxOp(f: F, x: number, y: number, outer: number, len: number, inner: number): void {
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * len * inner + i;
      let m = Number.NEGATIVE_INFINITY;
      for (let k = 0; k < len; k++) m = Math.max(m, f[x + base + k * inner]!);
      let s = 0;
      for (let k = 0; k < len; k++) {
        const e = Math.exp(f[x + base + k * inner]! - m);
        f[y + base + k * inner] = e;
        s += e;
      }
      for (let k = 0; k < len; k++) f[y + base + k * inner] = f[y + base + k * inner]! / s;
    }
  }
}

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
 * General direct conv (any pads, strides, dilation, groups), f32 accumulation in
 * (c, r, s) order: for the conv nodes the WebAssembly kernels do not take.
 * wt: K x C/g x R x S (a copy outside the arena); bias optional.
 */
export function convGeneralOp(f: F, x: number, y: number, wt: Float32Array, bias: Float32Array | null, g: ConvGeometry): void {
  const { n, c, h: H, w: W, k: K, r: R, s: S, ho, wo, groups } = g;
  const [sh, sw] = g.stride;
  const [pt, pl] = g.pads;
  const [dh, dw] = g.dilation;
  const cg = c / groups;
  const kg = K / groups;
  for (let nn = 0; nn < n; nn++) {
    for (let k = 0; k < K; k++) {
      const gi = Math.floor(k / kg);
      const yb = y + (nn * K + k) * ho * wo;
      for (let oh = 0; oh < ho; oh++) {
        for (let ow = 0; ow < wo; ow++) {
          let acc = Math.fround(0);
          for (let cc = 0; cc < cg; cc++) {
            const xb = x + (nn * c + gi * cg + cc) * H * W;
            const wb = (k * cg + cc) * R * S;
            for (let rr = 0; rr < R; rr++) {
              const ih = oh * sh - pt + rr * dh;
              if (ih < 0 || ih >= H) continue;
              for (let ss = 0; ss < S; ss++) {
                const iw = ow * sw - pl + ss * dw;
                if (iw < 0 || iw >= W) continue;
                acc = Math.fround(acc + Math.fround(f[xb + ih * W + iw]! * wt[wb + rr * S + ss]!));
              }
            }
          }
          f[yb + oh * wo + ow] = bias ? acc + bias[k]! : acc;
        }
      }
    }
  }
}
