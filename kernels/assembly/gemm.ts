/**
 * im2col + packed, register-blocked SIMD GEMM convolution (WebAssembly SIMD).
 *
 * Per image and group the convolution is C[M x N] = A[M x Kd] * B[Kd x N] with
 *   M  = K/groups output channels (A = the weights, row-major as stored: KCRS),
 *   Kd = C/groups * R * S (the reduction),
 *   N  = Ho * Wo output positions (B = the im2col matrix, never materialised
 *        whole: the im2col step writes each KC x NC block of B directly in the
 *        packed NR-column panel layout the micro-kernel reads),
 *   C  = the output plane block y[n, g*M .. (g+1)*M, :, :] (row stride N).
 *
 * Blocking (Goto / BLIS): for each NC block of columns, for each KC slice of
 * the reduction: pack B (im2col) into a KC x NC buffer (L2), then for each MC
 * block of rows, for each NR panel of B (kept in L1), for each MR panel of A
 * (streamed from L2): the MR x NR micro-kernel over KC.
 *
 * Micro-kernel MR x NR = 4 x 8: 8 f32x4 accumulators + 2 B vectors + 1 A
 * broadcast + 1 product temporary = 12 of the 15 xmm registers V8 allocates on
 * x64 (xmm15 is its scratch register), so nothing spills; each k step is
 * 2 v128 loads + 4 load32_splat + 8 f32x4.mul + 8 f32x4.add. Plain Wasm SIMD
 * has no FMA (relaxed-simd is not on by default in Node 18/20), hence mul+add.
 * Measured on Zen 4 / Node 20 (GFLOP/s on the 3x3 256->256 56x56 layer):
 * 4x8 39, 2x16 39, 3x8 35, 1x16 27, 4x12 25, 6x8 25, 5x8 21, 3x12 18; unrolling
 * the k loop by 2 or 4 makes V8 hoist the loads and spill (27, 25). The k loop
 * runs on the A pointer: with a separate counter 4x8 reached 36.
 *
 * A (the weights) is packed once, outside the timed region: pack_weights.
 * All pointers are byte offsets into linear memory.
 */
import { h2f, h2f_hi, h2f_lo } from './f16';

// MR, NR, the blocking, ukernel, macro_kernel and im2col_pack are exported for reuse by other
// kernel modules (winograd.ts, hgemm.ts); only the entry files' exports become WebAssembly exports.
export const MR: i32 = 4;
export const NR: i32 = 8;
export const KC: i32 = 256;
export const NC: i32 = 512;
export const MC: i32 = 256;

// @ts-ignore: decorator
@inline function imin(a: i32, b: i32): i32 {
  return a < b ? a : b;
}

/** Floats of the packed weights for K output channels, reduction Kd, `groups` groups. */
export function gemm_packed_a_floats(k: i32, kd: i32, groups: i32): i32 {
  const kg = k / groups;
  const mp = ((kg + MR - 1) / MR) * MR;
  return groups * mp * kd;
}

/** Floats of the workspace sgemm_f32 needs (A block + B block + one edge tile). */
export function sgemm_workspace_floats(): i32 {
  return MC * KC + KC * NC + MR * NR;
}

/** Floats of the workspace conv_im2col_gemm_f32 needs (B block + one edge tile). */
export function conv_im2col_gemm_workspace_floats(): i32 {
  return KC * NC + MR * NR;
}

/** The tile sizes, for reports: [MR, NR, KC, NC, MC]. */
export function gemm_tile(i: i32): i32 {
  return i == 0 ? MR : i == 1 ? NR : i == 2 ? KC : i == 3 ? NC : MC;
}

/**
 * Packs A = weights [groups][kg][kd] (row-major) into MR-row panels:
 * layout [g][pc block of KC][row panel of MR][p < kc][MR], rows beyond kg zero.
 * The panel for (g, pc, row i) starts at float g*mp*kd + mp*pc + i*kc.
 */
export function pack_weights(w: usize, dst: usize, k: i32, kd: i32, groups: i32): void {
  pack_panels<f32>(w, dst, k, kd, groups);
}

/** pack_weights for elements of type T (f32, or u16 halves for hgemm.ts), copied as they are. */
export function pack_panels<T>(w: usize, dst: usize, k: i32, kd: i32, groups: i32): void {
  const ES = <usize>sizeof<T>();
  const kg = k / groups;
  const mp = ((kg + MR - 1) / MR) * MR;
  let d = dst;
  for (let g = 0; g < groups; g++) {
    const wg = w + <usize>(g * kg * kd) * ES;
    for (let pc = 0; pc < kd; pc += KC) {
      const kc = imin(KC, kd - pc);
      for (let i = 0; i < mp; i += MR) {
        for (let p = 0; p < kc; p++) {
          for (let m = 0; m < MR; m++) {
            const row = i + m;
            const v: T = row < kg ? load<T>(wg + <usize>(row * kd + pc + p) * ES) : <T>0;
            store<T>(d, v);
            d += ES;
          }
        }
      }
    }
  }
}

/**
 * The micro-kernel: C[MR x NR] = (accumulate ? C : 0) + Apanel * Bpanel over kc.
 * a: kc x MR (packed), b: kc x NR (packed), c: row stride ldc bytes.
 */
export function ukernel(kc: i32, a: usize, b: usize, c: usize, ldc: usize, accumulate: bool): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  // Loop on the A pointer (no separate counter: V8 emits one compare per step).
  const aEnd = a + (<usize>(kc * MR) << 2);
  while (a < aEnd) {
    const b0 = v128.load(b);
    const b1 = v128.load(b, 16);
    let av = v128.load32_splat(a);
    c00 = f32x4.add(c00, f32x4.mul(av, b0));
    c01 = f32x4.add(c01, f32x4.mul(av, b1));
    av = v128.load32_splat(a, 4);
    c10 = f32x4.add(c10, f32x4.mul(av, b0));
    c11 = f32x4.add(c11, f32x4.mul(av, b1));
    av = v128.load32_splat(a, 8);
    c20 = f32x4.add(c20, f32x4.mul(av, b0));
    c21 = f32x4.add(c21, f32x4.mul(av, b1));
    av = v128.load32_splat(a, 12);
    c30 = f32x4.add(c30, f32x4.mul(av, b0));
    c31 = f32x4.add(c31, f32x4.mul(av, b1));
    a += 16;
    b += 32;
  }
  let r = c;
  if (accumulate) {
    c00 = f32x4.add(c00, v128.load(r)); c01 = f32x4.add(c01, v128.load(r, 16)); r += ldc;
    c10 = f32x4.add(c10, v128.load(r)); c11 = f32x4.add(c11, v128.load(r, 16)); r += ldc;
    c20 = f32x4.add(c20, v128.load(r)); c21 = f32x4.add(c21, v128.load(r, 16)); r += ldc;
    c30 = f32x4.add(c30, v128.load(r)); c31 = f32x4.add(c31, v128.load(r, 16));
    r = c;
  }
  v128.store(r, c00); v128.store(r, c01, 16); r += ldc;
  v128.store(r, c10); v128.store(r, c11, 16); r += ldc;
  v128.store(r, c20); v128.store(r, c21, 16); r += ldc;
  v128.store(r, c30); v128.store(r, c31, 16);
}

/**
 * C[mc x nc] (=|+=) Ablock * Bblock. ap: packed A rows [0, mc) (panels of
 * kc*MR floats), bp: packed B (panels of kc*NR floats), c: row stride ldcf
 * floats. Partial tiles go through `tile` (MR*NR floats).
 */
export function macro_kernel(
  mc: i32, nc: i32, kc: i32, ap: usize, bp: usize, c: usize, ldcf: i32, accumulate: bool, tile: usize,
): void {
  const ldc = <usize>ldcf << 2;
  for (let jr = 0; jr < nc; jr += NR) {
    const nr = imin(NR, nc - jr);
    const b = bp + (<usize>(jr * kc) << 2);
    for (let ir = 0; ir < mc; ir += MR) {
      const mr = imin(MR, mc - ir);
      const a = ap + (<usize>(ir * kc) << 2);
      const cp = c + (<usize>(ir * ldcf + jr) << 2);
      if (mr == MR && nr == NR) {
        ukernel(kc, a, b, cp, ldc, accumulate);
      } else {
        ukernel(kc, a, b, tile, <usize>(NR << 2), false);
        for (let i = 0; i < mr; i++) {
          const crow = cp + <usize>i * ldc;
          const trow = tile + (<usize>(i * NR) << 2);
          for (let j = 0; j < nr; j++) {
            const o = <usize>j << 2;
            const v = load<f32>(trow + o);
            store<f32>(crow + o, accumulate ? load<f32>(crow + o) + v : v);
          }
        }
      }
    }
  }
}

/** One input element as f32: T is f32, or u16 holding an IEEE half (fp16 storage, f16.ts). */
// @ts-ignore: decorator
@inline function ld<T>(p: usize): f32 {
  if (sizeof<T>() == 4) return load<f32>(p);
  return h2f(load<u16>(p));
}

/** Eight consecutive input elements at p as f32, stored to d and d + 16. */
// @ts-ignore: decorator
@inline function copy8<T>(d: usize, p: usize): void {
  if (sizeof<T>() == 4) {
    v128.store(d, v128.load(p));
    v128.store(d, v128.load(p, 16), 16);
  } else {
    const h = v128.load(p);
    v128.store(d, h2f_lo(h));
    v128.store(d, h2f_hi(h), 16);
  }
}

/** The elements at p, p + 2, ..., p + 14 (stride 2) as f32, stored to d and d + 16. */
// @ts-ignore: decorator
@inline function copy8s2<T>(d: usize, p: usize): void {
  if (sizeof<T>() == 4) {
    const v0 = v128.load(p), v1 = v128.load(p, 16);
    const v2 = v128.load(p, 32), v3 = v128.load(p, 48);
    v128.store(d, v128.shuffle<f32>(v0, v1, 0, 2, 4, 6));
    v128.store(d, v128.shuffle<f32>(v2, v3, 0, 2, 4, 6), 16);
  } else {
    const h = i16x8.shuffle(v128.load(p), v128.load(p, 16), 0, 2, 4, 6, 8, 10, 12, 14);
    v128.store(d, h2f_lo(h));
    v128.store(d, h2f_hi(h), 16);
  }
}

/**
 * im2col into the packed B layout: rows [pc, pc+kc) and columns [jc, jc+nc)
 * of the im2col matrix of one image and group (xg: its first input channel,
 * NCHW), written as NR-column panels [panel][p < kc][NR] of f32, the columns of
 * a partial last panel zero. Row index = (c, r, s) with s fastest; column index
 * = oh * wo + ow. Zero padding outside the input. T: the input's element type,
 * f32, or u16 for fp16 storage (converted to f32 here: hgemm.ts).
 */
export function im2col_pack<T>(
  xg: usize, dst: usize, h: i32, wd: i32, r: i32, s: i32, stride: i32, pad: i32, wo: i32,
  pc: i32, kc: i32, jc: i32, nc: i32,
): void {
  const XS: usize = sizeof<T>() == 4 ? 2 : 1; // log2 of the input element size
  const zero = f32x4.splat(0);
  const rs = r * s;
  const hw = h * wd;
  let cc = pc / rs;
  const rem = pc - cc * rs;
  let rr = rem / s;
  let ss = rem - rr * s;
  const oh0 = jc / wo;
  const ow0 = jc - oh0 * wo;
  const panelStride = (<usize>(kc * NR)) << 2;
  const pointwise = r == 1 && s == 1 && stride == 1 && pad == 0;
  for (let p = 0; p < kc; p++) {
    const xc = xg + (<usize>(cc * hw) << XS);
    let d = dst + (<usize>(p * NR) << 2);
    if (pointwise) {
      // 1x1, stride 1, no padding: B is the input itself (columns contiguous).
      for (let j0 = 0; j0 < nc; j0 += NR) {
        const cnt = imin(NR, nc - j0);
        const src = xc + (<usize>(jc + j0) << XS);
        if (cnt == NR) {
          copy8<T>(d, src);
        } else {
          for (let t = 0; t < NR; t++) {
            store<f32>(d + (<usize>t << 2), t < cnt ? ld<T>(src + (<usize>t << XS)) : 0);
          }
        }
        d += panelStride;
      }
    } else {
      const ihBase = rr - pad;
      const iwBase = ss - pad;
      let oh = oh0;
      let ow = ow0;
      for (let j0 = 0; j0 < nc; j0 += NR) {
        const cnt = imin(NR, nc - j0);
        if (cnt == NR && ow + NR <= wo) {
          // The whole panel lies in one output row.
          const ih = oh * stride + ihBase;
          if (<u32>ih >= <u32>h) {
            v128.store(d, zero);
            v128.store(d, zero, 16);
          } else {
            const iw0 = ow * stride + iwBase;
            const row = xc + (<usize>(ih * wd) << XS);
            if (stride == 1 && iw0 >= 0 && iw0 + NR <= wd) {
              copy8<T>(d, row + (<usize>iw0 << XS));
            } else if (stride == 2 && iw0 >= 0 && iw0 + 2 * NR <= wd) {
              copy8s2<T>(d, row + (<usize>iw0 << XS));
            } else {
              for (let t = 0; t < NR; t++) {
                const iw = iw0 + t * stride;
                const v: f32 = <u32>iw < <u32>wd ? ld<T>(row + (<usize>iw << XS)) : 0;
                store<f32>(d + (<usize>t << 2), v);
              }
            }
          }
          ow += NR;
          if (ow == wo) {
            ow = 0;
            oh++;
          }
        } else {
          // The panel crosses an output row, or is the partial last panel: one segment per output row.
          let t = 0;
          while (t < cnt) {
            const len = imin(cnt - t, wo - ow);
            const ih = oh * stride + ihBase;
            const seg = d + (<usize>t << 2);
            if (<u32>ih >= <u32>h) {
              for (let e = 0; e < len; e++) store<f32>(seg + (<usize>e << 2), 0);
            } else {
              const row = xc + (<usize>(ih * wd) << XS);
              let iw = ow * stride + iwBase;
              for (let e = 0; e < len; e++) {
                const v: f32 = <u32>iw < <u32>wd ? ld<T>(row + (<usize>iw << XS)) : 0;
                store<f32>(seg + (<usize>e << 2), v);
                iw += stride;
              }
            }
            t += len;
            ow += len;
            if (ow == wo) {
              ow = 0;
              oh++;
            }
          }
          for (; t < NR; t++) store<f32>(d + (<usize>t << 2), 0);
        }
        d += panelStride;
      }
    }
    ss++;
    if (ss == s) {
      ss = 0;
      rr++;
      if (rr == r) {
        rr = 0;
        cc++;
      }
    }
  }
}

/**
 * Convolution by im2col + packed GEMM. x: NCHW input, wp: weights packed by
 * pack_weights, y: NKHW output (fully overwritten), ws: workspace of
 * conv_im2col_gemm_workspace_floats() floats, 16-byte aligned.
 */
export function conv_im2col_gemm_f32(
  x: usize, wp: usize, y: usize, ws: usize,
  n: i32, c: i32, h: i32, wd: i32, k: i32, r: i32, s: i32, stride: i32, pad: i32, groups: i32,
): void {
  const ho = (h + 2 * pad - r) / stride + 1;
  const wo = (wd + 2 * pad - s) / stride + 1;
  conv_im2col_gemm_cols_f32(x, wp, y, ws, n, c, h, wd, k, r, s, stride, pad, groups, 0, ho * wo);
}

/**
 * conv_im2col_gemm_f32 on output columns [j0, j1) only (column j = oh * Wo + ow
 * of every image, group and output channel); the rest of y is not touched.
 * Every element is computed exactly as by the whole call (the same KC slices
 * of the reduction in the same order; the micro-kernel's lanes are
 * independent), so a split of the columns between threads is bit-identical
 * to one thread and packs each im2col column once (suites/conv/threaded.ts).
 */
export function conv_im2col_gemm_cols_f32(
  x: usize, wp: usize, y: usize, ws: usize,
  n: i32, c: i32, h: i32, wd: i32, k: i32, r: i32, s: i32, stride: i32, pad: i32, groups: i32,
  j0: i32, j1: i32,
): void {
  const ho = (h + 2 * pad - r) / stride + 1;
  const wo = (wd + 2 * pad - s) / stride + 1;
  const cg = c / groups;
  const kg = k / groups;
  const kd = cg * r * s;
  const nn = ho * wo;
  const mp = ((kg + MR - 1) / MR) * MR;
  const tile = ws;
  const bbuf = ws + (<usize>(MR * NR) << 2);
  const jEnd = imin(j1, nn);
  for (let img = 0; img < n; img++) {
    for (let g = 0; g < groups; g++) {
      const xg = x + (<usize>((img * c + g * cg) * h * wd) << 2);
      const yg = y + (<usize>((img * k + g * kg) * nn) << 2);
      const ag = wp + (<usize>(g * mp * kd) << 2);
      for (let jc = j0 < 0 ? 0 : j0; jc < jEnd; jc += NC) {
        const nc = imin(NC, jEnd - jc);
        for (let pc = 0; pc < kd; pc += KC) {
          const kc = imin(KC, kd - pc);
          im2col_pack<f32>(xg, bbuf, h, wd, r, s, stride, pad, wo, pc, kc, jc, nc);
          for (let ic = 0; ic < kg; ic += MC) {
            const mc = imin(MC, kg - ic);
            macro_kernel(
              mc, nc, kc,
              ag + (<usize>(mp * pc + ic * kc) << 2),
              bbuf,
              yg + (<usize>(ic * nn + jc) << 2),
              nn, pc > 0, tile,
            );
          }
        }
      }
    }
  }
}

/**
 * Plain im2col of one image and group: cols[(c*R + r)*S + s][oh*Wo + ow] =
 * x[c][oh*stride - pad + r][ow*stride - pad + s] (0 outside), x pointing at
 * the group's first channel. For tests and for variants that need B unpacked.
 */
export function im2col_f32(
  x: usize, cols: usize, c: i32, h: i32, wd: i32, r: i32, s: i32, stride: i32, pad: i32,
): void {
  const ho = (h + 2 * pad - r) / stride + 1;
  const wo = (wd + 2 * pad - s) / stride + 1;
  let d = cols;
  for (let cc = 0; cc < c; cc++) {
    const xc = x + (<usize>(cc * h * wd) << 2);
    for (let rr = 0; rr < r; rr++) {
      for (let ss = 0; ss < s; ss++) {
        for (let oh = 0; oh < ho; oh++) {
          const ih = oh * stride - pad + rr;
          for (let ow = 0; ow < wo; ow++) {
            const iw = ow * stride - pad + ss;
            const v: f32 = <u32>ih < <u32>h && <u32>iw < <u32>wd ? load<f32>(xc + (<usize>(ih * wd + iw) << 2)) : 0;
            store<f32>(d, v);
            d += 4;
          }
        }
      }
    }
  }
}

/** Packs rows [i0, i0+mc) x columns [p0, p0+kc) of row-major A (lda floats) into MR-row panels (rows past mc zero). */
function pack_a_block(a: usize, lda: i32, i0: i32, mc: i32, p0: i32, kc: i32, dst: usize): void {
  let d = dst;
  for (let ip = 0; ip < mc; ip += MR) {
    for (let p = 0; p < kc; p++) {
      for (let m = 0; m < MR; m++) {
        const row = ip + m;
        const v: f32 = row < mc ? load<f32>(a + (<usize>((i0 + row) * lda + p0 + p) << 2)) : 0;
        store<f32>(d, v);
        d += 4;
      }
    }
  }
}

/** Packs rows [p0, p0+kc) x columns [j0, j0+nc) of row-major B (ldb floats) into NR-column panels (columns past nc zero). */
function pack_b_block(b: usize, ldb: i32, p0: i32, kc: i32, j0: i32, nc: i32, dst: usize): void {
  const panelStride = (<usize>(kc * NR)) << 2;
  for (let p = 0; p < kc; p++) {
    const src = b + (<usize>((p0 + p) * ldb + j0) << 2);
    let d = dst + (<usize>(p * NR) << 2);
    for (let jp = 0; jp < nc; jp += NR) {
      const cnt = imin(NR, nc - jp);
      const sp = src + (<usize>jp << 2);
      if (cnt == NR) {
        v128.store(d, v128.load(sp));
        v128.store(d, v128.load(sp, 16), 16);
      } else {
        for (let t = 0; t < NR; t++) store<f32>(d + (<usize>t << 2), t < cnt ? load<f32>(sp + (<usize>t << 2)) : 0);
      }
      d += panelStride;
    }
  }
}

/**
 * General single-precision GEMM on row-major matrices, the same blocked
 * micro-kernel as the convolution: C[m x n] = A[m x k] * B[k x n]
 * (+ C if accumulate). Leading dimensions in floats; ws: a workspace of
 * sgemm_workspace_floats() floats, 16-byte aligned. For variants that bring
 * their own transforms (Winograd, FFT, 1x1 ...).
 */
export function sgemm_f32(
  m: i32, n: i32, k: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32, ws: usize, accumulate: bool,
): void {
  const tile = ws;
  const ablk = ws + (<usize>(MR * NR) << 2);
  const bblk = ablk + (<usize>(MC * KC) << 2);
  if (k == 0) {
    // Degenerate: C = 0 (or unchanged when accumulating).
    if (!accumulate) {
      for (let i = 0; i < m; i++) memory.fill(c + (<usize>(i * ldc) << 2), 0, <usize>n << 2);
    }
    return;
  }
  for (let jc = 0; jc < n; jc += NC) {
    const nc = imin(NC, n - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = imin(KC, k - pc);
      pack_b_block(b, ldb, pc, kc, jc, nc, bblk);
      for (let ic = 0; ic < m; ic += MC) {
        const mc = imin(MC, m - ic);
        pack_a_block(a, lda, ic, mc, pc, kc, ablk);
        macro_kernel(mc, nc, kc, ablk, bblk, c + (<usize>(ic * ldc + jc) << 2), ldc, accumulate || pc > 0, tile);
      }
    }
  }
}

/**
 * Fully-connected layer, batch-major rows: y[n * ldy + kk] = sum_i x[n * f + i] * w[kk * f + i] for
 * kk in [k0, k1), n < m, w the layer's K x F weights as stored (row-major, no packing). A batch-1 FC layer is a
 * matrix-vector product: every weight is read once and used once, so it is bound by the weight stream, and
 * the packed GEMM (which packs the whole weight matrix on every call) ran at a quarter of that bound.
 * Each row's sum has one fixed order, whatever [k0, k1) is (so a split of the rows across threads gives
 * the same bits): four f32x4 accumulators over 16-float chunks, one more 4-float chunk at a time into
 * the first, then (a0 + a1) + (a2 + a3), lanes (l0 + l1) + (l2 + l3), then the scalar tail in order.
 */
export function gemv_f32(m: i32, f: i32, x: usize, w: usize, y: usize, ldy: i32, k0: i32, k1: i32): void {
  const f16 = f & ~15;
  const f4 = f & ~3;
  for (let n = 0; n < m; n++) {
    const xn = x + (<usize>(n * f) << 2);
    const yn = y + (<usize>(n * ldy) << 2);
    for (let kk = k0; kk < k1; kk++) {
      const wr = w + (<usize>kk * <usize>f << 2);
      let a0 = f32x4.splat(0);
      let a1 = f32x4.splat(0);
      let a2 = f32x4.splat(0);
      let a3 = f32x4.splat(0);
      let i = 0;
      for (; i < f16; i += 16) {
        const xo = xn + (<usize>i << 2);
        const wo = wr + (<usize>i << 2);
        a0 = f32x4.add(a0, f32x4.mul(v128.load(xo), v128.load(wo)));
        a1 = f32x4.add(a1, f32x4.mul(v128.load(xo, 16), v128.load(wo, 16)));
        a2 = f32x4.add(a2, f32x4.mul(v128.load(xo, 32), v128.load(wo, 32)));
        a3 = f32x4.add(a3, f32x4.mul(v128.load(xo, 48), v128.load(wo, 48)));
      }
      for (; i < f4; i += 4) a0 = f32x4.add(a0, f32x4.mul(v128.load(xn + (<usize>i << 2)), v128.load(wr + (<usize>i << 2))));
      const s = f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3));
      let acc: f32 = (f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1)) + (f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3));
      for (; i < f; i++) acc += load<f32>(xn + (<usize>i << 2)) * load<f32>(wr + (<usize>i << 2));
      store<f32>(yn + (<usize>kk << 2), acc);
    }
  }
}
