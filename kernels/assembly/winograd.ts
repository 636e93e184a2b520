/**
 * Winograd F(m x m, r x r) convolution (Lavin & Gray 2016, the NNPACK /
 * oneDNN structure), stride 1, groups 1, WebAssembly SIMD.
 *
 *   Y = AT [ (G g GT) ⊙ (BT d B) ] A        per m x m output tile,
 *
 * with alpha = m + r - 1 and the transform matrices passed in as float32
 * arrays (BT alpha x alpha, G alpha x r, AT m x alpha, row-major), so any point
 * set works (reference/winograd.ts makes them). The alpha^2 element-wise
 * products over the C input channels of all tiles are alpha^2 independent GEMMs
 *
 *   M[xi] (K x P) = U[xi] (K x C) * V[xi] (C x P),   xi < alpha^2,
 *
 * P = number of tiles over the images and the output plane.
 *
 * - Filter transform (prepare, untimed): winograd_filter_transform writes
 *   U = G g GT for every (k, c), already packed in the GEMM micro-kernel's
 *   A-panel format: per xi, per KC slice of C, MR-row panels
 *   [C/KC][K/MR][kc][MR] (rows past K zero), so each GEMM block of U is one
 *   contiguous stream (as gemm.ts's pack_weights).
 * - Run (conv_winograd_f32): the input is copied once into a zero-bordered
 *   plane per (image, channel) big enough for every tile (padding and the
 *   partial right/bottom tiles then need no bounds checks). Then the tiles are
 *   processed in blocks of `pb` tiles (a multiple of NR):
 *   1. input transform V = BT d B for the block's tiles and all C channels,
 *      f32x4 across 4 tiles, written straight into the micro-kernel's packed
 *      B-panel layout: per xi, NR-column panels [panel][C][NR];
 *   2. alpha^2 GEMMs with gemm.ts's 4x8 micro-kernel (imported, not copied),
 *      KC x MC blocked so a block of U[xi] stays in L2 while the block's B
 *      panels stream through L1, into M[xi] = K x pb (row stride pb);
 *   3. output transform Y = AT M A, f32x4 across 4 tiles, stored to the NKHW
 *      output with the edge tiles cropped.
 * - The transforms are a generic small-matrix multiply driven by the matrices:
 *   winograd_prepare (outside the timed region) compiles BT and AT into sparse
 *   row lists in the workspace (column offsets and coefficients of the
 *   non-zero entries), and the transform loops run over those lists (zero
 *   entries cost nothing). For the default F(2,3), F(4,3), F(6,3) points,
 *   hand-specialised transforms (even/odd sharing) replace them, 2-3x faster,
 *   but only when probeSpecial, also run once by winograd_prepare, verifies
 *   that they compute exactly the matrices passed in. Gathering the 4 tiles'
 *   alpha x alpha inputs into f32x4 lanes (tile stride m) uses vector loads
 *   and shuffles for m = 2, 4 and 6 when the 4 tiles lie in one tile row, a
 *   scalar gather otherwise (tile groups that wrap a row or an image, other m).
 * - Measured (vgg16.conv3_2, Zen 4, Node 20): the GEMMs run at ~45 GFLOP/s,
 *   the micro-kernel's speed in gemm.ts; transforms + padding take ~10% of
 *   the time with the specialised code (~35% with the generic one).
 *
 * Compiled into winograd.wasm (entry winograd_simd.ts). Memory is imported
 * (env.memory); no static data. All pointers are byte offsets; the workspace
 * layout is fixed by winograd_workspace_floats.
 */
import { MR, NR, ukernel } from './gemm';
import { f16_to_f32, f32_to_f16 } from './f16';

/** Reduction (C) slice and row (K) block of the batched GEMMs: a KC x MC block of U is 256 KiB (L2). */
const KC: i32 = 256;
const MC: i32 = 256;
/** Largest alpha the fixed scratch areas hold. */
const MAXA: i32 = 16;

// Workspace layout, in floats from ws (every area 64-byte aligned).
const T_BT_START: i32 = 0; // alpha+1 i32: row starts of BT's non-zeros
const T_BT_OFF_A: i32 = 32; // byte offset of the column in a row of D (col * 16)
const T_BT_OFF_B: i32 = 32 + 256; // byte offset of the column as a row of E (col * alpha * 16)
const T_BT_COEF: i32 = 32 + 512; // f32 coefficients
const T_AT_START: i32 = 32 + 768;
const T_AT_OFF_A: i32 = 64 + 768;
const T_AT_OFF_B: i32 = 64 + 1024;
const T_AT_COEF: i32 = 64 + 1280;
// What winograd_prepare prepared (i32 slots between BT's row starts, at most MAXA + 1 of them, and T_BT_OFF_A).
const PREP_MAGIC: i32 = 28;
const PREP_M: i32 = 29;
const PREP_ALPHA: i32 = 30;
const PREP_SPECIAL: i32 = 31;
const MAGIC: i32 = 0x57494e47; // "WING"
const SCR_D: i32 = 1600; // MAXA*MAXA f32x4
const SCR_E: i32 = SCR_D + MAXA * MAXA * 4;
const SCR_F: i32 = SCR_E + MAXA * MAXA * 4;
const HEAD: i32 = SCR_F + MAXA * MAXA * 4;
/** Floats after the padded input so vector over-reads (up to 2 vectors past a tile group's last column) stay inside. */
const PAD_SLACK: i32 = 64;

// @ts-ignore: decorator
@inline function imin(a: i32, b: i32): i32 {
  return a < b ? a : b;
}

// @ts-ignore: decorator
@inline function up(x: i32, q: i32): i32 {
  return ((x + q - 1) / q) * q;
}

/** Tile sizes, for a check against kernels/index.ts: 0 MR, 1 NR, 2 KC, 3 MC, 4 largest alpha. */
export function winograd_tile(i: i32): i32 {
  return i == 0 ? MR : i == 1 ? NR : i == 2 ? KC : i == 3 ? MC : MAXA;
}

/** Floats of the packed transformed filter U: alpha^2 x ceil(K/MR)*MR x C. */
export function winograd_packed_u_floats(k: i32, c: i32, alpha: i32): i32 {
  return alpha * alpha * up(k, MR) * c;
}

/**
 * Floats between the V (or M) matrices of consecutive xi: the matrix rounded up
 * to an odd number of 64-byte lines, so the alpha^2 matrices start in
 * different L1 sets (the transforms touch all alpha^2 of them for every tile
 * group; with a stride that is a multiple of 4 KiB they would all compete for
 * one set: the input transform ran 3x slower that way).
 */
function xiFloats(floats: i32): i32 {
  const f = up(floats, 16);
  return ((f >> 4) & 1) == 0 ? f + 16 : f;
}

/** Rows (or columns) of a zero-bordered input plane: every tile's alpha x alpha window fits. */
function planeRows(ho: i32, m: i32, r: i32): i32 {
  return up(ho, m) + r - 1;
}

/**
 * Floats of the workspace conv_winograd_f32 needs for these arguments
 * (tables and scratch, the padded input, one block of V and one of M).
 */
export function winograd_workspace_floats(
  n: i32, c: i32, h: i32, wd: i32, k: i32, pad: i32, m: i32, alpha: i32, pb: i32,
): i32 {
  const r = alpha - m + 1;
  const ho = h + 2 * pad - r + 1;
  const wo = wd + 2 * pad - r + 1;
  const hp = planeRows(ho, m, r);
  const wp = planeRows(wo, m, r);
  const pbp = up(pb, NR);
  const a2 = alpha * alpha;
  return HEAD + up(n * c * hp * wp + PAD_SLACK, 16) + a2 * xiFloats(c * pbp) + a2 * xiFloats(up(k, MR) * pbp);
}

/**
 * Filter transform U[xi] = (G g GT)[xi] for every (k, c), packed per xi and
 * per KC slice of C as MR-row panels [C/KC][ceil(K/MR)][kc][MR] (rows past K
 * zero): the A operand of the micro-kernel. w: K x C x r x r (KCRS), g: G
 * (alpha x r, f32 row-major), u: winograd_packed_u_floats floats, ws: >=
 * alpha*r floats scratch. f32 arithmetic, (G g) first, then (G g) GT.
 */
export function winograd_filter_transform(w: usize, g: usize, u: usize, ws: usize, k: i32, c: i32, m: i32, alpha: i32): void {
  const r = alpha - m + 1;
  const kp = up(k, MR);
  const xiStride = <usize>(kp * c) << 2;
  for (let kk = 0; kk < kp; kk++) {
    const row = (kk / MR) * MR;
    for (let cc = 0; cc < c; cc++) {
      // Slice pc of C: panels of kc rows start at kp*pc; panel `row` at + row*kc.
      const pc = (cc / KC) * KC;
      const kc = imin(KC, c - pc);
      const dst = u + (<usize>(kp * pc + row * kc + (cc - pc) * MR + (kk - row)) << 2);
      if (kk >= k) {
        for (let xi = 0; xi < alpha * alpha; xi++) store<f32>(dst + <usize>xi * xiStride, 0);
        continue;
      }
      const wk = w + (<usize>((kk * c + cc) * r * r) << 2);
      // T = G g (alpha x r)
      for (let a = 0; a < alpha; a++) {
        for (let j = 0; j < r; j++) {
          let acc: f32 = 0;
          for (let i = 0; i < r; i++) {
            acc += load<f32>(g + (<usize>(a * r + i) << 2)) * load<f32>(wk + (<usize>(i * r + j) << 2));
          }
          store<f32>(ws + (<usize>(a * r + j) << 2), acc);
        }
      }
      // U = T GT (alpha x alpha)
      for (let a = 0; a < alpha; a++) {
        for (let b = 0; b < alpha; b++) {
          let acc: f32 = 0;
          for (let j = 0; j < r; j++) {
            acc += load<f32>(ws + (<usize>(a * r + j) << 2)) * load<f32>(g + (<usize>(b * r + j) << 2));
          }
          store<f32>(dst + <usize>(a * alpha + b) * xiStride, acc);
        }
      }
    }
  }
}

/**
 * Compiles the rows x cols row-major matrix at `mat` into sparse row lists:
 * start (rows+1 i32), offA = col*16 (i32), offB = col*strideB (i32), coef (f32).
 */
function compileRows(mat: usize, rows: i32, cols: i32, strideB: i32, start: usize, offA: usize, offB: usize, coef: usize): void {
  let t = 0;
  for (let i = 0; i < rows; i++) {
    store<i32>(start + (<usize>i << 2), t);
    for (let j = 0; j < cols; j++) {
      const v = load<f32>(mat + (<usize>(i * cols + j) << 2));
      if (v != 0) {
        store<i32>(offA + (<usize>t << 2), j * 16);
        store<i32>(offB + (<usize>t << 2), j * strideB);
        store<f32>(coef + (<usize>t << 2), v);
        t++;
      }
    }
  }
  store<i32>(start + (<usize>rows << 2), t);
}

/**
 * The sum over the non-zeros t of row `row` of coef_t * (f32x4 at base +
 * off_t), with the row starts, offsets and coefficients at the given table
 * positions (floats from tab).
 */
// @ts-ignore: decorator
@inline function sparseDot(tab: usize, startOff: i32, offOff: i32, coefOff: i32, row: i32, base: usize): v128 {
  const t0 = load<i32>(tab + (<usize>(startOff + row) << 2));
  const t1 = load<i32>(tab + (<usize>(startOff + row + 1) << 2));
  let acc = f32x4.splat(0);
  for (let t = t0; t < t1; t++) {
    const o = <usize>load<i32>(tab + (<usize>(offOff + t) << 2));
    const cf = load<f32>(tab + (<usize>(coefOff + t) << 2));
    acc = f32x4.add(acc, f32x4.mul(v128.load(base + o), f32x4.splat(cf)));
  }
  return acc;
}

/** D[kk][l] (alpha x alpha f32x4 at d) for 4 tiles whose top-left inputs are at p0..p3 (row stride wpb bytes). */
function gatherScalar(d: usize, p0: usize, p1: usize, p2: usize, p3: usize, wpb: usize, alpha: i32): void {
  for (let kk = 0; kk < alpha; kk++) {
    const ro = <usize>kk * wpb;
    const drow = d + (<usize>(kk * alpha) << 4);
    for (let l = 0; l < alpha; l++) {
      const o = ro + (<usize>l << 2);
      const dst = drow + (<usize>l << 4);
      store<f32>(dst, load<f32>(p0 + o));
      store<f32>(dst, load<f32>(p1 + o), 4);
      store<f32>(dst, load<f32>(p2 + o), 8);
      store<f32>(dst, load<f32>(p3 + o), 12);
    }
  }
}

/** The gather for 4 tiles of one tile row (tile stride m floats) starting at p: vector loads + shuffles for m = 2, 4, 6. */
function gatherRow(d: usize, p: usize, wpb: usize, m: i32, alpha: i32): void {
  if (m == 4 && alpha == 6) {
    for (let kk = 0; kk < 6; kk++) {
      const s = p + <usize>kk * wpb;
      const w0 = v128.load(s), w1 = v128.load(s, 16), w2 = v128.load(s, 32), w3 = v128.load(s, 48);
      const w4 = v128.load(s, 64);
      const t0 = v128.shuffle<f32>(w0, w1, 0, 4, 1, 5);
      const t1 = v128.shuffle<f32>(w2, w3, 0, 4, 1, 5);
      const t2 = v128.shuffle<f32>(w0, w1, 2, 6, 3, 7);
      const t3 = v128.shuffle<f32>(w2, w3, 2, 6, 3, 7);
      const c0 = v128.shuffle<f32>(t0, t1, 0, 1, 4, 5);
      const c1 = v128.shuffle<f32>(t0, t1, 2, 3, 6, 7);
      const c2 = v128.shuffle<f32>(t2, t3, 0, 1, 4, 5);
      const c3 = v128.shuffle<f32>(t2, t3, 2, 3, 6, 7);
      const dr = d + (<usize>(kk * 6) << 4);
      v128.store(dr, c0);
      v128.store(dr, c1, 16);
      v128.store(dr, c2, 32);
      v128.store(dr, c3, 48);
      v128.store(dr, v128.shuffle<f32>(c0, w4, 1, 2, 3, 4), 64);
      v128.store(dr, v128.shuffle<f32>(c1, w4, 1, 2, 3, 5), 80);
    }
  } else if (m == 2 && alpha == 4) {
    for (let kk = 0; kk < 4; kk++) {
      const s = p + <usize>kk * wpb;
      const w0 = v128.load(s), w1 = v128.load(s, 16), w2 = v128.load(s, 32);
      const c0 = v128.shuffle<f32>(w0, w1, 0, 2, 4, 6);
      const c1 = v128.shuffle<f32>(w0, w1, 1, 3, 5, 7);
      const dr = d + (<usize>(kk * 4) << 4);
      v128.store(dr, c0);
      v128.store(dr, c1, 16);
      v128.store(dr, v128.shuffle<f32>(c0, w2, 1, 2, 3, 4), 32);
      v128.store(dr, v128.shuffle<f32>(c1, w2, 1, 2, 3, 5), 48);
    }
  } else if (m == 6 && alpha == 8) {
    // Lanes x[j], x[j+6], x[j+12], x[j+18] for j < 8; x[q] is lane q&3 of w[q>>2].
    for (let kk = 0; kk < 8; kk++) {
      const s = p + <usize>kk * wpb;
      const w0 = v128.load(s), w1 = v128.load(s, 16), w2 = v128.load(s, 32), w3 = v128.load(s, 48);
      const w4 = v128.load(s, 64), w5 = v128.load(s, 80), w6 = v128.load(s, 96);
      // x[j] and x[j+6] from (w0|w1|w2), x[j+12], x[j+18] from (w3|w4|w5|w6).
      const a0 = v128.shuffle<f32>(w0, w1, 0, 6, 1, 7); // x0 x6 x1 x7
      const b0 = v128.shuffle<f32>(w3, w4, 0, 6, 1, 7); // x12 x18 x13 x19
      const a1 = v128.shuffle<f32>(w0, w2, 2, 4, 3, 5); // x2 x8 x3 x9
      const b1 = v128.shuffle<f32>(w3, w5, 2, 4, 3, 5); // x14 x20 x15 x21
      const a2 = v128.shuffle<f32>(w1, w2, 0, 6, 1, 7); // x4 x10 x5 x11
      const b2 = v128.shuffle<f32>(w4, w5, 0, 6, 1, 7); // x16 x22 x17 x23
      const a3 = v128.shuffle<f32>(w1, w3, 2, 4, 3, 5); // x6 x12 x7 x13
      const b3 = v128.shuffle<f32>(w4, w6, 2, 4, 3, 5); // x18 x24 x19 x25
      const dr = d + (<usize>(kk * 8) << 4);
      v128.store(dr, v128.shuffle<f32>(a0, b0, 0, 1, 4, 5), 0);
      v128.store(dr, v128.shuffle<f32>(a0, b0, 2, 3, 6, 7), 16);
      v128.store(dr, v128.shuffle<f32>(a1, b1, 0, 1, 4, 5), 32);
      v128.store(dr, v128.shuffle<f32>(a1, b1, 2, 3, 6, 7), 48);
      v128.store(dr, v128.shuffle<f32>(a2, b2, 0, 1, 4, 5), 64);
      v128.store(dr, v128.shuffle<f32>(a2, b2, 2, 3, 6, 7), 80);
      v128.store(dr, v128.shuffle<f32>(a3, b3, 0, 1, 4, 5), 96);
      v128.store(dr, v128.shuffle<f32>(a3, b3, 2, 3, 6, 7), 112);
    }
  } else {
    const st = <usize>m << 2;
    gatherScalar(d, p, p + st, p + 2 * st, p + 3 * st, wpb, alpha);
  }
}

/**
 * V = BT D B for the gathered D (alpha x alpha f32x4, 4 tiles), stored to
 * dst + xi * xiStride (xi = i * alpha + j). Column pass E = D B, then the
 * row pass V = BT E, both over BT's non-zeros.
 */
function inputTransform(tab: usize, d: usize, e: usize, dst: usize, xiStride: usize, alpha: i32): void {
  const rowBytes = <usize>(alpha << 4);
  for (let kk = 0; kk < alpha; kk++) {
    const drow = d + <usize>kk * rowBytes;
    const erow = e + <usize>kk * rowBytes;
    for (let j = 0; j < alpha; j++) {
      v128.store(erow + (<usize>j << 4), sparseDot(tab, T_BT_START, T_BT_OFF_A, T_BT_COEF, j, drow));
    }
  }
  for (let j = 0; j < alpha; j++) {
    const ecol = e + (<usize>j << 4);
    for (let i = 0; i < alpha; i++) {
      v128.store(dst + <usize>(i * alpha + j) * xiStride, sparseDot(tab, T_BT_START, T_BT_OFF_B, T_BT_COEF, i, ecol));
    }
  }
}

/**
 * Y = AT D A for D (alpha x alpha f32x4, 4 tiles): Z = D A (alpha x m, in e),
 * then Y = AT Z (m x m, into d).
 */
function outputTransform(tab: usize, d: usize, e: usize, alpha: i32, m: i32): void {
  const dRow = <usize>(alpha << 4);
  const eRow = <usize>(m << 4);
  for (let a = 0; a < alpha; a++) {
    const drow = d + <usize>a * dRow;
    const erow = e + <usize>a * eRow;
    for (let j = 0; j < m; j++) {
      v128.store(erow + (<usize>j << 4), sparseDot(tab, T_AT_START, T_AT_OFF_A, T_AT_COEF, j, drow));
    }
  }
  for (let j = 0; j < m; j++) {
    const ecol = e + (<usize>j << 4);
    for (let i = 0; i < m; i++) {
      v128.store(d + (<usize>(i * m + j) << 4), sparseDot(tab, T_AT_START, T_AT_OFF_B, T_AT_COEF, i, ecol));
    }
  }
}

// ---------------------------------------------------------------------------
// Specialised transforms for the default point sets (reference/winograd.ts
// DEFAULT_POINTS: F(2,3) 0,1,-1,inf; F(4,3) 0,1,-1,2,-2,inf; F(6,3)
// 0,1,-1,2,-2,1/2,-1/2,inf), with the even/odd sharing of the +-a rows
// (NNPACK's formulas). They are used only when probeSpecial has checked, at
// the start of the run, that they compute exactly BT D B and AT M A for the
// matrices passed in (so a different or corrupted matrix always takes the
// generic path).

/** 1D input transform o = BT v of alpha f32x4 at s (stride ss bytes) to d (stride ds bytes). */
// @ts-ignore: decorator
@inline function bt1d(m: i32, s: usize, ss: usize, d: usize, ds: usize): void {
  if (m == 2) {
    const v0 = v128.load(s), v1 = v128.load(s + ss), v2 = v128.load(s + 2 * ss), v3 = v128.load(s + 3 * ss);
    v128.store(d, f32x4.sub(v0, v2));
    v128.store(d + ds, f32x4.add(v1, v2));
    v128.store(d + 2 * ds, f32x4.sub(v2, v1));
    v128.store(d + 3 * ds, f32x4.sub(v3, v1));
  } else if (m == 4) {
    const v0 = v128.load(s), v1 = v128.load(s + ss), v2 = v128.load(s + 2 * ss);
    const v3 = v128.load(s + 3 * ss), v4 = v128.load(s + 4 * ss), v5 = v128.load(s + 5 * ss);
    const four = f32x4.splat(4), five = f32x4.splat(5);
    v128.store(d, f32x4.add(f32x4.sub(f32x4.mul(v0, four), f32x4.mul(v2, five)), v4));
    const a = f32x4.sub(v4, f32x4.mul(v2, four));
    const b = f32x4.sub(v3, f32x4.mul(v1, four));
    v128.store(d + ds, f32x4.add(a, b));
    v128.store(d + 2 * ds, f32x4.sub(a, b));
    const e = f32x4.sub(v4, v2);
    const f = f32x4.sub(v3, v1);
    const f2 = f32x4.add(f, f);
    v128.store(d + 3 * ds, f32x4.add(e, f2));
    v128.store(d + 4 * ds, f32x4.sub(e, f2));
    v128.store(d + 5 * ds, f32x4.add(f32x4.sub(f32x4.mul(v1, four), f32x4.mul(v3, five)), v5));
  } else {
    const v0 = v128.load(s), v1 = v128.load(s + ss), v2 = v128.load(s + 2 * ss), v3 = v128.load(s + 3 * ss);
    const v4 = v128.load(s + 4 * ss), v5 = v128.load(s + 5 * ss), v6 = v128.load(s + 6 * ss), v7 = v128.load(s + 7 * ss);
    const c525 = f32x4.splat(5.25), c425 = f32x4.splat(4.25);
    v128.store(d, f32x4.add(f32x4.sub(v0, v6), f32x4.mul(f32x4.sub(v4, v2), c525)));
    v128.store(d + 7 * ds, f32x4.add(f32x4.sub(v7, v1), f32x4.mul(f32x4.sub(v3, v5), c525)));
    let a = f32x4.sub(f32x4.add(v2, v6), f32x4.mul(v4, c425));
    let b = f32x4.sub(f32x4.add(v1, v5), f32x4.mul(v3, c425));
    v128.store(d + ds, f32x4.add(a, b));
    v128.store(d + 2 * ds, f32x4.sub(a, b));
    a = f32x4.sub(f32x4.add(v6, f32x4.mul(v2, f32x4.splat(0.25))), f32x4.mul(v4, f32x4.splat(1.25)));
    b = f32x4.add(f32x4.sub(f32x4.mul(v1, f32x4.splat(0.5)), f32x4.mul(v3, f32x4.splat(2.5))), f32x4.add(v5, v5));
    v128.store(d + 3 * ds, f32x4.add(a, b));
    v128.store(d + 4 * ds, f32x4.sub(a, b));
    a = f32x4.sub(f32x4.add(v6, f32x4.mul(v2, f32x4.splat(4))), f32x4.mul(v4, f32x4.splat(5)));
    b = f32x4.add(f32x4.sub(f32x4.add(v1, v1), f32x4.mul(v3, f32x4.splat(2.5))), f32x4.mul(v5, f32x4.splat(0.5)));
    v128.store(d + 5 * ds, f32x4.add(a, b));
    v128.store(d + 6 * ds, f32x4.sub(a, b));
  }
}

/** 1D output transform o = AT v: alpha f32x4 at s (stride ss bytes) to m at d (stride ds bytes). */
// @ts-ignore: decorator
@inline function at1d(m: i32, s: usize, ss: usize, d: usize, ds: usize): void {
  if (m == 2) {
    const v0 = v128.load(s), v1 = v128.load(s + ss), v2 = v128.load(s + 2 * ss), v3 = v128.load(s + 3 * ss);
    v128.store(d, f32x4.add(f32x4.add(v0, v1), v2));
    v128.store(d + ds, f32x4.add(f32x4.sub(v1, v2), v3));
  } else if (m == 4) {
    const v0 = v128.load(s), v1 = v128.load(s + ss), v2 = v128.load(s + 2 * ss);
    const v3 = v128.load(s + 3 * ss), v4 = v128.load(s + 4 * ss), v5 = v128.load(s + 5 * ss);
    const s1 = f32x4.add(v1, v2), d1 = f32x4.sub(v1, v2);
    const s2 = f32x4.add(v3, v4), d2 = f32x4.sub(v3, v4);
    v128.store(d, f32x4.add(f32x4.add(v0, s1), s2));
    v128.store(d + ds, f32x4.add(d1, f32x4.add(d2, d2)));
    v128.store(d + 2 * ds, f32x4.add(s1, f32x4.mul(s2, f32x4.splat(4))));
    v128.store(d + 3 * ds, f32x4.add(f32x4.add(d1, f32x4.mul(d2, f32x4.splat(8))), v5));
  } else {
    const v0 = v128.load(s), v1 = v128.load(s + ss), v2 = v128.load(s + 2 * ss), v3 = v128.load(s + 3 * ss);
    const v4 = v128.load(s + 4 * ss), v5 = v128.load(s + 5 * ss), v6 = v128.load(s + 6 * ss), v7 = v128.load(s + 7 * ss);
    const s1 = f32x4.add(v1, v2), d1 = f32x4.sub(v1, v2);
    const s2 = f32x4.add(v3, v4), d2 = f32x4.sub(v3, v4);
    const s3 = f32x4.add(v5, v6), d3 = f32x4.sub(v5, v6);
    v128.store(d, f32x4.add(f32x4.add(v0, s1), f32x4.add(s2, s3)));
    v128.store(d + ds, f32x4.add(f32x4.add(d1, f32x4.add(d2, d2)), f32x4.mul(d3, f32x4.splat(0.5))));
    v128.store(d + 2 * ds, f32x4.add(f32x4.add(s1, f32x4.mul(s2, f32x4.splat(4))), f32x4.mul(s3, f32x4.splat(0.25))));
    v128.store(d + 3 * ds, f32x4.add(f32x4.add(d1, f32x4.mul(d2, f32x4.splat(8))), f32x4.mul(d3, f32x4.splat(0.125))));
    v128.store(d + 4 * ds, f32x4.add(f32x4.add(s1, f32x4.mul(s2, f32x4.splat(16))), f32x4.mul(s3, f32x4.splat(0.0625))));
    v128.store(
      d + 5 * ds,
      f32x4.add(f32x4.add(f32x4.add(d1, f32x4.mul(d2, f32x4.splat(32))), f32x4.mul(d3, f32x4.splat(0.03125))), v7),
    );
  }
}

/** V = BT D B (specialised): row pass D -> E, column pass E -> dst + xi * xiStride. */
// @ts-ignore: decorator
@inline function inputSpecialM(m: i32, d: usize, e: usize, dst: usize, xiStride: usize): void {
  const alpha = m + 2;
  const rb = <usize>(alpha << 4);
  for (let kk = 0; kk < alpha; kk++) bt1d(m, d + <usize>kk * rb, 16, e + <usize>kk * rb, 16);
  for (let j = 0; j < alpha; j++) bt1d(m, e + (<usize>j << 4), rb, dst + <usize>j * xiStride, <usize>alpha * xiStride);
}

function inputSpecial(m: i32, d: usize, e: usize, dst: usize, xiStride: usize): void {
  if (m == 4) inputSpecialM(4, d, e, dst, xiStride);
  else if (m == 2) inputSpecialM(2, d, e, dst, xiStride);
  else inputSpecialM(6, d, e, dst, xiStride);
}

/** Y = AT M A (specialised): M[xi] at src + xi * srcXi; Z = M A into e, Y (m x m f32x4) into y. */
// @ts-ignore: decorator
@inline function outputSpecialM(m: i32, src: usize, srcXi: usize, e: usize, y: usize): void {
  const alpha = m + 2;
  const zb = <usize>(m << 4);
  for (let a = 0; a < alpha; a++) at1d(m, src + <usize>(a * alpha) * srcXi, srcXi, e + <usize>a * zb, 16);
  for (let j = 0; j < m; j++) at1d(m, e + (<usize>j << 4), zb, y + (<usize>j << 4), zb);
}

function outputSpecial(m: i32, src: usize, srcXi: usize, e: usize, y: usize): void {
  if (m == 4) outputSpecialM(4, src, srcXi, e, y);
  else if (m == 2) outputSpecialM(2, src, srcXi, e, y);
  else outputSpecialM(6, src, srcXi, e, y);
}

/**
 * Whether the specialised transforms compute exactly BT D B and AT M A for
 * the given matrices: both maps are linear, so it is enough that every basis
 * input e_k e_l^T gives the outer product of the matrices' columns k and l
 * (products of the default points' entries are exact in f32). d, e, f:
 * alpha^2 f32x4 scratch each.
 */
function probeSpecial(m: i32, alpha: i32, bt: usize, at: usize, d: usize, e: usize, f: usize): bool {
  if (!((m == 2 || m == 4 || m == 6) && alpha == m + 2)) return false;
  const a2 = alpha * alpha;
  for (let pass = 0; pass < 2; pass++) {
    for (let b = 0; b < a2; b += 4) {
      memory.fill(d, 0, <usize>a2 << 4);
      for (let q = 0; q < 4; q++) if (b + q < a2) store<f32>(d + (<usize>((b + q) * 4 + q) << 2), 1);
      const outN = pass == 0 ? alpha : m;
      if (pass == 0) inputSpecial(m, d, e, f, 16);
      else outputSpecial(m, d, 16, e, f);
      for (let i = 0; i < outN; i++) {
        for (let j = 0; j < outN; j++) {
          for (let q = 0; q < 4; q++) {
            if (b + q >= a2) continue;
            const kk = (b + q) / alpha;
            const l = (b + q) - kk * alpha;
            let want: f32;
            if (pass == 0) {
              want = load<f32>(bt + (<usize>(i * alpha + kk) << 2)) * load<f32>(bt + (<usize>(j * alpha + l) << 2));
            } else {
              want = load<f32>(at + (<usize>(i * alpha + kk) << 2)) * load<f32>(at + (<usize>(j * alpha + l) << 2));
            }
            if (load<f32>(f + (<usize>((i * outN + j) * 4 + q) << 2)) != want) return false;
          }
        }
      }
    }
  }
  return true;
}

/**
 * Prepares a conv_winograd_f32 workspace for the transforms bt (BT, alpha x
 * alpha) and at (AT, m x alpha), f32 row-major, outside the timed region:
 * compiles them into the sparse row tables the generic transforms run on and,
 * when flags bit 0 allows the specialised transforms, runs probeSpecial once
 * to check that they compute exactly BT D B and AT M A of these matrices.
 * Records what it prepared in the workspace (PREP_*), which
 * conv_winograd_f32 checks. Returns 1 if the run will use the specialised
 * transforms, 0 for the generic path.
 */
export function winograd_prepare(bt: usize, at: usize, m: i32, alpha: i32, ws: usize, flags: i32): i32 {
  const tab = ws;
  compileRows(bt, alpha, alpha, alpha * 16, tab + (<usize>T_BT_START << 2), tab + (<usize>T_BT_OFF_A << 2),
    tab + (<usize>T_BT_OFF_B << 2), tab + (<usize>T_BT_COEF << 2));
  compileRows(at, m, alpha, m * 16, tab + (<usize>T_AT_START << 2), tab + (<usize>T_AT_OFF_A << 2),
    tab + (<usize>T_AT_OFF_B << 2), tab + (<usize>T_AT_COEF << 2));
  const special = (flags & 1) != 0 &&
    probeSpecial(m, alpha, bt, at, ws + (<usize>SCR_D << 2), ws + (<usize>SCR_E << 2), ws + (<usize>SCR_F << 2));
  store<i32>(ws + (<usize>PREP_MAGIC << 2), MAGIC);
  store<i32>(ws + (<usize>PREP_M << 2), m);
  store<i32>(ws + (<usize>PREP_ALPHA << 2), alpha);
  store<i32>(ws + (<usize>PREP_SPECIAL << 2), special ? 1 : 0);
  return special ? 1 : 0;
}

/**
 * Convolution by Winograd F(m x m, r x r), r = alpha - m + 1, stride 1,
 * groups 1, zero padding `pad`. x: NCHW, u: winograd_filter_transform's
 * output, y: NKHW (fully overwritten), ws: winograd_workspace_floats floats
 * (64-byte aligned) prepared by winograd_prepare for this m and alpha (the
 * transforms' tables, and whether the specialised transforms apply); pb:
 * tiles per block (rounded up to a multiple of NR).
 * Returns 1 if the specialised transforms were used, 0 otherwise, and -1
 * (computing nothing) if ws was not prepared for this m and alpha.
 */
export function conv_winograd_f32(
  x: usize, u: usize, y: usize, ws: usize,
  n: i32, c: i32, h: i32, wd: i32, k: i32, pad: i32, m: i32, alpha: i32, pb: i32,
): i32 {
  return convWinograd(x, u, y, ws, 0, n, c, h, wd, k, pad, m, alpha, pb);
}

/**
 * Bytes of the half scratch conv_winograd_f16 needs: one widened U[xi] (K
 * rounded up to MR, times C, f32) and the block's V stored as halves (alpha^2
 * matrices of C x pb, at the f32 matrices' stride halved).
 */
export function winograd_f16_scratch_bytes(k: i32, c: i32, alpha: i32, pb: i32): i32 {
  return (up(k, MR) * c << 2) + alpha * alpha * (xiFloats(c * up(pb, NR)) << 1);
}

/**
 * fp16 storage: as conv_winograd_f32, but U (u16: halves, packed exactly as
 * winograd_packed_u_floats' f32 layout) and V are stored as IEEE half (round
 * to nearest even, f16.ts f2h4), arithmetic in f32. V is transformed in f32 and
 * stored as halves at the end of the block's input transform; each of the
 * alpha^2 GEMMs widens its U[xi] (from 2-byte storage) and V[xi] to f32 and
 * runs the f32 micro-kernel. hs: winograd_f16_scratch_bytes bytes.
 */
export function conv_winograd_f16(
  x: usize, u16: usize, y: usize, ws: usize, hs: usize,
  n: i32, c: i32, h: i32, wd: i32, k: i32, pad: i32, m: i32, alpha: i32, pb: i32,
): i32 {
  return convWinograd(x, u16, y, ws, hs, n, c, h, wd, k, pad, m, alpha, pb);
}

/** The convolution: f32 U when hs == 0, else half U (u) and half-stored V with scratch hs (conv_winograd_f16). */
function convWinograd(
  x: usize, u: usize, y: usize, ws: usize, hs: usize,
  n: i32, c: i32, h: i32, wd: i32, k: i32, pad: i32, m: i32, alpha: i32, pb: i32,
): i32 {
  if (load<i32>(ws + (<usize>PREP_MAGIC << 2)) != MAGIC || load<i32>(ws + (<usize>PREP_M << 2)) != m ||
    load<i32>(ws + (<usize>PREP_ALPHA << 2)) != alpha) return -1;
  const r = alpha - m + 1;
  const ho = h + 2 * pad - r + 1;
  const wo = wd + 2 * pad - r + 1;
  const tilesH = (ho + m - 1) / m;
  const tilesW = (wo + m - 1) / m;
  const tilesPerImage = tilesH * tilesW;
  const nTiles = n * tilesPerImage;
  const hp = planeRows(ho, m, r);
  const wp = planeRows(wo, m, r);
  const planeF = hp * wp;
  const wpb = <usize>wp << 2;
  const kp = up(k, MR);
  const pbp = up(pb, NR);
  const a2 = alpha * alpha;

  const tab = ws;
  const dS = ws + (<usize>SCR_D << 2);
  const eS = ws + (<usize>SCR_E << 2);
  const xpad = ws + (<usize>HEAD << 2);
  const vbuf = xpad + (<usize>up(n * c * planeF + PAD_SLACK, 16) << 2);
  const mbuf = vbuf + (<usize>(a2 * xiFloats(c * pbp)) << 2);

  const special = load<i32>(ws + (<usize>PREP_SPECIAL << 2)) == 1;

  // Zero-bordered copy of every input plane: padded (row, col) = input (row - pad, col - pad).
  const rowBytes = <usize>wd << 2;
  for (let pl = 0; pl < n * c; pl++) {
    const src = x + (<usize>(pl * h * wd) << 2);
    const dst = xpad + (<usize>(pl * planeF) << 2);
    memory.fill(dst, 0, <usize>(pad * wp + pad) << 2);
    for (let i = 0; i < h; i++) {
      const drow = dst + (<usize>((i + pad) * wp + pad) << 2);
      memory.copy(drow, src + <usize>i * rowBytes, rowBytes);
      // Right border of this row and left border of the next one.
      const tail = i + 1 < h ? wp - wd : wp - wd - pad;
      memory.fill(drow + rowBytes, 0, <usize>tail << 2);
    }
    const filled = (pad + h) * wp;
    memory.fill(dst + (<usize>filled << 2), 0, <usize>(planeF - filled) << 2);
  }
  memory.fill(xpad + (<usize>(n * c * planeF) << 2), 0, <usize>PAD_SLACK << 2);

  const vXi = <usize>xiFloats(c * pbp) << 2; // bytes between the V matrices of consecutive xi
  const mXi = <usize>xiFloats(kp * pbp) << 2;
  const ldc = <usize>pbp << 2;
  const uXi = <usize>(kp * c) << 2;
  const planeB = <usize>planeF << 2;

  for (let p0 = 0; p0 < nTiles; p0 += pbp) {
    const pbb = imin(pbp, nTiles - p0);
    const npan = (pbb + NR - 1) / NR;

    // 1. Input transform into packed B panels: V[xi][panel][c][NR].
    for (let g4 = 0; g4 < npan * 2; g4++) {
      const q0 = p0 + g4 * 4;
      const last = nTiles - 1;
      const t0 = imin(q0, last);
      const img = t0 / tilesPerImage;
      const rem = t0 - img * tilesPerImage;
      const ty = rem / tilesW;
      const tx = rem - ty * tilesW;
      const sameRow = q0 + 3 <= last && tx + 3 < tilesW;
      const dstBase = vbuf + (<usize>((g4 >> 1) * c * NR + (g4 & 1) * 4) << 2);
      if (sameRow) {
        let src = xpad + (<usize>((img * c * hp + ty * m) * wp + tx * m) << 2);
        for (let cc = 0; cc < c; cc++) {
          gatherRow(dS, src, wpb, m, alpha);
          const dst = dstBase + (<usize>(cc * NR) << 2);
          if (special) inputSpecial(m, dS, eS, dst, vXi);
          else inputTransform(tab, dS, eS, dst, vXi, alpha);
          src += planeB;
        }
      } else {
        // Per-lane tile origins (tiles past the end repeat the last tile; their columns are never stored).
        let p1 = xpad, p2 = xpad, p3 = xpad, pp0 = xpad;
        for (let q = 0; q < 4; q++) {
          const t = imin(q0 + q, last);
          const im = t / tilesPerImage;
          const rm = t - im * tilesPerImage;
          const yy = rm / tilesW;
          const xx = rm - yy * tilesW;
          const pq = xpad + (<usize>((im * c * hp + yy * m) * wp + xx * m) << 2);
          if (q == 0) pp0 = pq;
          else if (q == 1) p1 = pq;
          else if (q == 2) p2 = pq;
          else p3 = pq;
        }
        for (let cc = 0; cc < c; cc++) {
          const o = <usize>cc * planeB;
          gatherScalar(dS, pp0 + o, p1 + o, p2 + o, p3 + o, wpb, alpha);
          const dst = dstBase + (<usize>(cc * NR) << 2);
          if (special) inputSpecial(m, dS, eS, dst, vXi);
          else inputTransform(tab, dS, eS, dst, vXi, alpha);
        }
      }
    }

    // fp16 storage: the block's V stored as halves (v16, at half the f32 matrices' stride).
    const vUsed = npan * c * NR;
    const v16 = hs + uXi;
    if (hs != 0) {
      for (let xi = 0; xi < a2; xi++) f32_to_f16(vbuf + <usize>xi * vXi, v16 + (<usize>xi * vXi >> 1), vUsed);
    }

    // 2. alpha^2 GEMMs M[xi] (kp x pbb) = U[xi] (kp x c) * V[xi] (c x pbb).
    for (let xi = 0; xi < a2; xi++) {
      let ua = u + <usize>xi * uXi;
      const vb = vbuf + <usize>xi * vXi;
      if (hs != 0) {
        // Widen this position's stored halves to f32: U[xi] into hs, V[xi] over its f32 staging.
        f16_to_f32(u + (<usize>xi * uXi >> 1), hs, kp * c);
        f16_to_f32(v16 + (<usize>xi * vXi >> 1), vb, vUsed);
        ua = hs;
      }
      const mb = mbuf + <usize>xi * mXi;
      for (let pc = 0; pc < c; pc += KC) {
        const kc = imin(KC, c - pc);
        for (let ic = 0; ic < kp; ic += MC) {
          const iEnd = imin(kp, ic + MC);
          for (let jr = 0; jr < npan; jr++) {
            const b = vb + (<usize>(jr * c * NR + pc * NR) << 2);
            const cb = mb + (<usize>(jr * NR) << 2);
            for (let ir = ic; ir < iEnd; ir += MR) {
              ukernel(kc, ua + (<usize>(kp * pc + ir * kc) << 2), b, cb + <usize>ir * ldc, ldc, pc > 0);
            }
          }
        }
      }
    }

    // 3. Output transform, 4 tiles at a time, to y (NKHW) with the edge tiles cropped.
    const plane = ho * wo;
    for (let g4 = 0; g4 * 4 < pbb; g4++) {
      const q0 = p0 + g4 * 4;
      const cnt = imin(4, nTiles - q0);
      const img = q0 / tilesPerImage;
      const rem = q0 - img * tilesPerImage;
      const ty = rem / tilesW;
      const tx = rem - ty * tilesW;
      const fastRow = cnt == 4 && tx + 3 < tilesW && (tx + 4) * m <= wo && (m == 2 || m == 4 || m == 6);
      for (let kk = 0; kk < k; kk++) {
        // Gather M[xi][kk][q0..q0+3] into D.
        const msrc = mbuf + (<usize>(kk * pbp + g4 * 4) << 2);
        if (special) {
          outputSpecial(m, msrc, mXi, eS, dS);
        } else {
          for (let xi = 0; xi < a2; xi++) {
            v128.store(dS + (<usize>xi << 4), v128.load(msrc + <usize>xi * mXi));
          }
          outputTransform(tab, dS, eS, alpha, m);
        }
        if (fastRow) {
          const yk = y + (<usize>((img * k + kk) * plane + ty * m * wo + tx * m) << 2);
          const rows = imin(m, ho - ty * m);
          for (let i = 0; i < rows; i++) {
            const yr = yk + (<usize>(i * wo) << 2);
            const yi = dS + (<usize>(i * m) << 4);
            if (m == 4) {
              const v0 = v128.load(yi), v1 = v128.load(yi, 16), v2 = v128.load(yi, 32), v3 = v128.load(yi, 48);
              const t0 = v128.shuffle<f32>(v0, v1, 0, 4, 1, 5);
              const t1 = v128.shuffle<f32>(v2, v3, 0, 4, 1, 5);
              const t2 = v128.shuffle<f32>(v0, v1, 2, 6, 3, 7);
              const t3 = v128.shuffle<f32>(v2, v3, 2, 6, 3, 7);
              v128.store(yr, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
              v128.store(yr, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7), 16);
              v128.store(yr, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5), 32);
              v128.store(yr, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7), 48);
            } else if (m == 2) {
              const v0 = v128.load(yi), v1 = v128.load(yi, 16);
              v128.store(yr, v128.shuffle<f32>(v0, v1, 0, 4, 1, 5));
              v128.store(yr, v128.shuffle<f32>(v0, v1, 2, 6, 3, 7), 16);
            } else {
              // m = 6: 24 contiguous outputs, tile t's j = 0..5 at 6t.
              const v0 = v128.load(yi), v1 = v128.load(yi, 16), v2 = v128.load(yi, 32), v3 = v128.load(yi, 48);
              const v4 = v128.load(yi, 64), v5 = v128.load(yi, 80);
              const t0 = v128.shuffle<f32>(v0, v1, 0, 4, 1, 5);
              const t1 = v128.shuffle<f32>(v2, v3, 0, 4, 1, 5);
              const t2 = v128.shuffle<f32>(v0, v1, 2, 6, 3, 7);
              const t3 = v128.shuffle<f32>(v2, v3, 2, 6, 3, 7);
              const a0 = v128.shuffle<f32>(t0, t1, 0, 1, 4, 5); // tile 0, j 0..3
              const a1 = v128.shuffle<f32>(t0, t1, 2, 3, 6, 7);
              const a2v = v128.shuffle<f32>(t2, t3, 0, 1, 4, 5);
              const a3 = v128.shuffle<f32>(t2, t3, 2, 3, 6, 7);
              const b01 = v128.shuffle<f32>(v4, v5, 0, 4, 1, 5); // tiles 0, 1: j 4, 5
              const b23 = v128.shuffle<f32>(v4, v5, 2, 6, 3, 7);
              v128.store(yr, a0);
              v128.store(yr, v128.shuffle<f32>(b01, a1, 0, 1, 4, 5), 16);
              v128.store(yr, v128.shuffle<f32>(a1, b01, 2, 3, 6, 7), 32);
              v128.store(yr, a2v, 48);
              v128.store(yr, v128.shuffle<f32>(b23, a3, 0, 1, 4, 5), 64);
              v128.store(yr, v128.shuffle<f32>(a3, b23, 2, 3, 6, 7), 80);
            }
          }
        } else {
          for (let q = 0; q < cnt; q++) {
            const t = q0 + q;
            const im = t / tilesPerImage;
            const rm = t - im * tilesPerImage;
            const yy = rm / tilesW;
            const xx = rm - yy * tilesW;
            const rows = imin(m, ho - yy * m);
            const cols = imin(m, wo - xx * m);
            const yk = y + (<usize>((im * k + kk) * plane + yy * m * wo + xx * m) << 2);
            for (let i = 0; i < rows; i++) {
              for (let j = 0; j < cols; j++) {
                store<f32>(yk + (<usize>(i * wo + j) << 2), load<f32>(dS + (<usize>((i * m + j) * 4 + q) << 2)));
              }
            }
          }
        }
      }
    }
  }
  return special ? 1 : 0;
}
