/**
 * conv3x3-winograd-f{m}x{m}-f32: 3x3 stride-1 convolution by Winograd minimal
 * filtering F(m x m, 3 x 3) (Lavin & Gray 2016, the NNPACK / oneDNN structure),
 * WebAssembly SIMD, kernels/assembly/winograd.ts.
 *
 * Transforms: reference/winograd.ts builds BT, G, AT exactly (Cook-Toom in
 * rational arithmetic) from the interpolation points (DEFAULT_POINTS, or the
 * points given to the factory); prepare rounds them to float32 and hands them
 * to the kernel, which is driven by those matrices (a generic sparse
 * small-matrix multiply). For the default F(2,3), F(4,3), F(6,3) points the
 * kernel uses hand-specialised transforms instead (even/odd sharing, about 3x
 * faster than the generic path on the 256-channel layers), but only after
 * checking, once in prepare (winograd_prepare, outside the timed region), that
 * they reproduce BT D B and AT M A of the matrices passed in exactly; any
 * other matrix (other points, a corrupted entry) takes the generic path.
 *
 * - prepare (untimed): U = G g G^T for every (k, c) in float32, packed once
 *   per xi (alpha^2 of them) as the GEMM micro-kernel's MR-row A panels.
 * - run (timed): zero-bordered copy of the input; then per block of tiles:
 *   input transform V = B^T d B, f32x4 across 4 tiles, written directly as
 *   the micro-kernel's NR-column B panels; alpha^2 GEMMs M = U V with
 *   gemm.ts's 4x8 micro-kernel (imported, not copied); output transform
 *   Y = A^T M A, cropped at the right/bottom edge.
 *
 * Cost accounting:
 * - flops(): the direct algorithm's 2*N*K*Ho*Wo*C*9 (effective, one axis for
 *   all algorithms).
 * - executedFlops(): what the kernel really computes. GEMMs: 2 * Kp * C *
 *   alpha^2 * Pp, Kp = K rounded up to MR = 4, Pp = tiles rounded up to NR = 8
 *   per block (the padded lanes are computed too). Transforms counted from the
 *   float32 matrices' non-zero entries, one multiply and one add per non-zero
 *   per use (what the generic path executes; the specialised F(2/4/6,3) code
 *   shares the +-a terms and executes fewer), per 4-tile group padded to 4:
 *   input 2 * alpha * nnz(BT) multiply-adds per (tile, channel), output
 *   (alpha + m) * nnz(AT) per (tile, output channel), filter transform
 *   excluded (prepare).
 *
 * Accuracy budgets (relative L2 error vs the float64 reference, `maxRelL2`):
 * every tile size F(1x1)..F(8x8) has one fixed, declared budget
 * (WINOGRAD_BUDGETS), set from the worst error measured on this project's conv
 * layers that Winograd applies to (vgg16.conv3_2, vgg16.conv5_1,
 * resnet50.res2b.branch2b at full and --quick size, and the --quick-only
 * vgg16.conv1_2 and vgg16.conv4_2), x from uniform(-1,1), uniform(0,1) and
 * 'activation' (reference/random.ts makeConvInputs; He-initialised weights),
 * seeds 1, 2, 3, on the default points (BUDGET_POINTS for odd tiles):
 *
 *   tile    worst relL2 full / quick   budget    margin   a 1.2e-4 kernel error gives
 *   F(1,3)  7.1e-7 / 7.2e-7            2e-6      2.8x
 *   F(2,3)  5.1e-7 / 5.2e-7            2e-6      3.9x     60x the budget
 *   F(3,3)  1.8e-6 / 2.1e-6            5e-6      2.4x
 *   F(4,3)  3.2e-6 / 2.8e-6            1e-5      3.1x     12x
 *   F(5,3)  5.0e-6 / 4.5e-6            1.5e-5    3.0x
 *   F(6,3)  6.1e-6 / 5.9e-6            2e-5      3.3x     6x
 *   F(7,3)  6.5e-5 / 8.6e-5            1e-4      1.2x
 *   F(8,3)  8.9e-5 / 1.04e-4           1.1e-4    1.06x    1.09x
 *
 * The worst case is uniform(-1,1) on the 512-channel layers (zero-mean output,
 * so the smallest ||ref||). The error grows quickly with the tile, as the
 * transforms' conditioning worsens (reference/winograd.ts transformStats; Lavin
 * & Gray 2016; Barabasz et al. 2020): at F(7x7) and F(8x8) fp32 rounding alone
 * comes within 6-20% of the budget that still catches a kernel error of 1.2e-4,
 * so those tiles are marginal in fp32, and their budgets leave little room for
 * layers with more channels than VGG-16's 512.
 * Other point sets get BUDGET_PER_TILE_ERROR times the transform's measured
 * float32 tile error (reference/winograd.ts tileError: one tile, random data;
 * the conv relL2 was 3.7x to 4.8x tileError on the default tiles), never more
 * than their tile size's declared budget: a budget derived from the transform
 * alone would let a wrong transform set its own bar. A tile size without a
 * declared budget is refused. Every transform is verified exactly (verifyExact,
 * rational arithmetic) when the variant is built, on the host and again on the
 * device; one that fails is still run (so the report shows how wrong it is) but
 * its results are `inaccurate` (accuracy.defect). test/fast-budgets.test.ts
 * pins every budget from both sides; test/winograd-conv.test.ts checks every
 * tile size on awkward shapes.
 */
import type { ConvShape, ConvVariant, KernelContext, LayerKernel } from '../../../core/contracts.js';
import { GEMM_TILE, type WinogradKernels } from '../../../kernels/index.js';
import { fnv1a64Hex } from '../../../reference/checksum.js';
import { convOutputSize } from '../../../reference/conv.js';
import { convVariant } from '../variant.js';
import {
  DEFAULT_POINTS,
  cookToom,
  defaultPointsKey,
  tileError,
  toF32,
  transformStats,
  verifyExact,
  type WinogradFloat,
  type WinogradTransforms,
} from '../../../reference/winograd.js';

const R = 3;

/**
 * Declared relative-L2 budget of each tile size F(m x m, 3 x 3), whatever its
 * points (see the module doc for the measurements). A tile size without one is
 * refused: a budget derived from the transform alone would let a wrong
 * transform set its own bar.
 */
export const WINOGRAD_BUDGETS: Readonly<Record<number, number>> = {
  1: 2e-6,
  2: 2e-6,
  3: 5e-6,
  4: 1e-5,
  5: 1.5e-5,
  6: 2e-5,
  7: 1e-4,
  8: 1.1e-4,
};

/** The point sets the budgets of tile sizes without default points were measured on. */
export const BUDGET_POINTS: Readonly<Record<number, readonly string[]>> = {
  1: ['0', '1', 'inf'],
  3: ['0', '1', '-1', '2', 'inf'],
  5: ['0', '1', '-1', '2', '-2', '1/2', 'inf'],
  7: ['0', '1', '-1', '2', '-2', '1/2', '-1/2', '3/4', 'inf'],
};

/** Budget of a non-default point set: this many times its float32 tile error, capped at its tile size's budget. */
export const BUDGET_PER_TILE_ERROR = 15;

/** The tile size's declared budget; throws for a tile size without one. */
export function winogradBudget(m: number): number {
  const b = WINOGRAD_BUDGETS[m];
  if (b === undefined) {
    const have = Object.keys(WINOGRAD_BUDGETS).map((k) => `F(${k}x${k})`);
    throw new RangeError(
      `Winograd F(${m}x${m},3x3) has no declared accuracy budget (declared: ${have.join(', ')}); ` +
        `larger tiles lose too much fp32 accuracy to be measured against a fixed budget`,
    );
  }
  return b;
}

/** Why the transforms are wrong (verifyExact's message), or undefined when they verify exactly. */
function transformDefect(t: WinogradTransforms): string | undefined {
  try {
    verifyExact(t);
    return undefined;
  } catch (e) {
    return `the transforms failed their exact verification: ${(e as Error).message.replace(/\n\s*/g, '; ')}`;
  }
}

export interface WinogradVariantOptions {
  /**
   * Explicit transforms instead of cookToom(m, 3, points), e.g. a deliberately
   * corrupted one (reference/winograd.ts perturb) to show the accuracy check
   * catches it. The name gets `-t<hash>`; the budget stays that of the points'
   * exact transforms (a corrupted matrix must not loosen its own budget).
   */
  transforms?: WinogradTransforms;
  /** Override the declared relative-L2 budget. */
  maxRelL2?: number;
  /**
   * Test-only fault injection (harness/runner/faults.ts): stands in for the
   * Cook-Toom generator (cookToom), keeping the variant's name and budget. Its
   * output is verified exactly like cookToom's, so a wrong generator makes the
   * variant's results `inaccurate` (accuracy.defect).
   */
  generator?: (m: number, r: number, points: string[]) => WinogradTransforms;
  /** Tiles per block (rounded up to a multiple of 8); default: tileBlock(shape, m). */
  tileBlock?: number;
  /** false forces the generic, matrix-driven transforms (for tests); default true. */
  specialised?: boolean;
}

const hash8 = (text: string): string => fnv1a64Hex(new TextEncoder().encode(text)).slice(0, 8);

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Output tiles of one image: tilesH x tilesW. */
function tileGrid(shape: ConvShape, m: number): { tilesH: number; tilesW: number } {
  const { ho, wo } = convOutputSize(shape);
  return { tilesH: Math.ceil(ho / m), tilesW: Math.ceil(wo / m) };
}

/**
 * Default tiles per block: the block's V and M (alpha^2 (C + K) floats per
 * tile) should stay in a ~1 MiB L2 while the alpha^2 GEMMs and the output
 * transform consume them, and each block of U (streamed from L3 or DRAM once
 * per block of tiles) should serve at least two 8-tile panels. So: as many
 * tiles as fit 1 MiB, rounded down to 8, clamped to [16, 64] and to the tile
 * count. Measured on this machine (Zen 4, 1 MiB L2), interleaved, best of 7:
 * vgg16.conv3_2 F(4,3) 24.4 / 28.0 / 29.4 / 26.1 ms at 16 / 32 / 64 / 128
 * tiles, F(6,3) 23.4 / 25.4 / 27.2 / 34.2 ms; res2b.branch2b (64 channels)
 * within 3% from 16 to 64 tiles, ~5% slower at 128.
 */
export function tileBlock(shape: ConvShape, m: number): number {
  const alpha = m + R - 1;
  const { tilesH, tilesW } = tileGrid(shape, m);
  const tiles = shape.n * tilesH * tilesW;
  const nr = GEMM_TILE.nr;
  const perTile = alpha * alpha * (shape.c + shape.k) * 4;
  const fit = Math.floor((1024 * 1024) / perTile / nr) * nr;
  return Math.min(Math.ceil(tiles / nr) * nr, Math.min(64, Math.max(16, fit)));
}

function nonZeros(a: Float32Array): number {
  let n = 0;
  for (const v of a) if (v !== 0) n++;
  return n;
}

/** The conv3x3 Winograd F(m x m, 3 x 3) variant for m and (optionally) the interpolation points. */
export function winogradVariant(m: number, points?: string[], options: WinogradVariantOptions = {}): ConvVariant {
  if (!Number.isInteger(m) || m < 1) throw new RangeError(`winogradVariant: m = ${m} must be a positive integer`);
  const key = defaultPointsKey(m, R);
  const defaults = DEFAULT_POINTS[key];
  const pts = points ?? defaults;
  if (pts === undefined) {
    throw new RangeError(`winogradVariant: no default points for ${key}; pass ${m + R - 1} points, e.g. winogradVariant(${m}, ["0","1","-1",...,"inf"])`);
  }
  const ceiling = winogradBudget(m);
  // The exact transforms of the points (throws on a bad point list) and what the kernel is given.
  const exact = (options.generator ?? cookToom)(m, R, pts);
  const custom = defaults === undefined || !sameList(exact.points, cookToom(m, R, defaults).points);
  const given = options.transforms ?? exact;
  // Every transform is verified exactly before use, here on the host and again on the device
  // (the runner builds its variants with this same factory).
  const exactDefect = transformDefect(exact);
  const defect = options.transforms ? transformDefect(given) : exactDefect;
  if (given.m !== m || given.r !== R) {
    throw new RangeError(`winogradVariant: transforms are F(${given.m},${given.r}), expected F(${m},${R})`);
  }
  const tf: WinogradFloat<Float32Array> = toF32(given);
  const alpha = tf.alpha;
  const label = `F(${m}x${m},3x3)`;
  let detail = `f${m}x${m}`;
  if (custom && defaults !== undefined) detail += `-p${hash8(exact.points.join(','))}`;
  if (options.transforms) {
    detail += `-t${hash8([tf.BT.data, tf.G.data, tf.AT.data].map((a) => Array.from(a).join(',')).join(';'))}`;
  }
  const name = `conv3x3-winograd-${detail}-f32`;

  // Default points: the tile size's declared budget. Other points: 15x their measured tile error, never
  // above the declared budget (and the declared one if the generator's output is wrong).
  const derived = custom && exactDefect === undefined ? BUDGET_PER_TILE_ERROR * tileError(exact, 'f32') : Infinity;
  const maxRelL2 = options.maxRelL2 ?? Math.min(ceiling, derived);
  const budgetNote =
    options.maxRelL2 !== undefined
      ? 'given'
      : derived < ceiling
        ? `${BUDGET_PER_TILE_ERROR}x the points' fp32 tile error, under F(${m}x${m})'s declared ${ceiling}`
        : `declared for F(${m}x${m})`;
  const allowSpecial = options.specialised ?? true;
  const nnzBT = nonZeros(tf.BT.data);
  const nnzAT = nonZeros(tf.AT.data);

  // Checked after the shape itself (convVariant).
  const cannot = (shape: ConvShape): string | null => {
    const why: string[] = [];
    if (shape.r !== R || shape.s !== R) why.push(`this layer is ${shape.r}x${shape.s}`);
    if (shape.stride !== 1) why.push(`this layer has stride ${shape.stride}`);
    if (shape.groups !== 1) {
      why.push(
        shape.groups === shape.c && shape.groups === shape.k
          ? `this layer is depthwise (groups = C = K = ${shape.groups})`
          : `this layer is grouped (groups = ${shape.groups})`,
      );
    }
    if (why.length === 0) return null;
    return `Winograd ${label} applies to 3x3 stride-1 ungrouped convolutions; ${why.join(', ')}`;
  };

  const blockOf = (shape: ConvShape): number => options.tileBlock ?? tileBlock(shape, m);

  const executedFlops = (shape: ConvShape): number => {
    const { tilesH, tilesW } = tileGrid(shape, m);
    const tiles = shape.n * tilesH * tilesW;
    const pb = Math.ceil(blockOf(shape) / GEMM_TILE.nr) * GEMM_TILE.nr;
    const full = Math.floor(tiles / pb);
    const rest = tiles - full * pb;
    const padded = full * pb + Math.ceil(rest / GEMM_TILE.nr) * GEMM_TILE.nr;
    const kp = Math.ceil(shape.k / GEMM_TILE.mr) * GEMM_TILE.mr;
    const gemm = 2 * kp * shape.c * alpha * alpha * padded;
    const groups4 = Math.ceil(tiles / 4) * 4;
    const input = 2 * 2 * alpha * nnzBT * groups4 * shape.c;
    const output = 2 * (alpha + m) * nnzAT * groups4 * shape.k;
    return gemm + input + output;
  };

  // What the accuracy decision shows next to the error: multiplications saved and how well conditioned the transforms are.
  const stats = transformStats(exact);
  const info: Record<string, number | string> = {
    tile: label,
    points: exact.points.join(','),
    multsPerOutput: stats.multsPerOutput2D,
    directMultsPerOutput: stats.directMults2D,
    condAT: stats.conditionNumbers.AT,
    condG: stats.conditionNumbers.G,
    condBT: stats.conditionNumbers.BT,
    budget: `relL2 <= ${maxRelL2.toPrecision(3)} (${budgetNote})`,
    transforms: defect ?? 'verified exactly (rational arithmetic)',
  };

  return convVariant({
    name,
    algorithm: 'winograd',
    info: () => info,
    description:
      `Winograd ${label} on points ${exact.points.join(', ')}${options.transforms ? ' (explicit transforms)' : ''}: ` +
      `input/output transforms f32x4 across 4 tiles, ${alpha * alpha} batched GEMMs with the packed ` +
      `${GEMM_TILE.mr}x${GEMM_TILE.nr} SIMD micro-kernel, filter transform packed in prepare.`,
    needs: { wasmSimd: true },
    cannot,
    executedFlops,
    accuracy: { kind: 'approximate', maxRelL2, ...(defect !== undefined ? { defect } : {}) },
    layer(ctx: KernelContext, shape: ConvShape, w: Float32Array): LayerKernel {
      const { n, c, h, w: wd, k, pad } = shape;
      const wLen = k * c * R * R;
      const kern = ctx.kernels;
      kern.requireSimd(name);
      const wg: WinogradKernels | null = kern.winograd;
      if (wg === null) throw new Error(`${name} needs winograd.wasm (WebAssembly SIMD): not loaded`);
      if (alpha > wg.winograd_tile(4)) {
        throw new Error(`${name}: alpha = ${alpha} exceeds the kernel's largest supported tile (${wg.winograd_tile(4)})`);
      }
      const pb = blockOf(shape);
      // The transformed filter first; the raw weights and G on top of it, released after the transform.
      const u = kern.alloc(wg.winograd_packed_u_floats(k, c, alpha));
      const rawMark = kern.mark();
      const wRaw = kern.allocCopy(w);
      const g = kern.allocCopy(tf.G.data);
      const scratch = kern.alloc(alpha * R);
      wg.winograd_filter_transform(wRaw.ptr, g.ptr, u.ptr, scratch.ptr, k, c, m, alpha);
      kern.release(rawMark);
      const bt = kern.allocCopy(tf.BT.data);
      const at = kern.allocCopy(tf.AT.data);
      // The workspace keeps the transforms' tables between runs: private to this layer, not shareable scratch.
      const wsFloats = wg.winograd_workspace_floats(n, c, h, wd, k, pad, m, alpha, pb);
      const ws = kern.alloc(wsFloats);
      // Outside the timed region: the transforms' tables, and the one-time check that the specialised
      // F(2/4/6,3) transforms reproduce these matrices exactly (else the generic path runs).
      const special = wg.winograd_prepare(bt.ptr, at.ptr, m, alpha, ws.ptr, allowSpecial ? 1 : 0) === 1;
      const conv = wg.conv_winograd_f32;
      const up = u.ptr;
      const wsp = ws.ptr;
      const preparedBytes = u.length * 4;
      return {
        run(x: number, y: number): void {
          if (conv(x, up, y, wsp, n, c, h, wd, k, pad, m, alpha, pb) < 0) {
            throw new Error(`${name}: the kernel's workspace was not prepared for F(${m}x${m}) (winograd_prepare)`);
          }
        },
        scratchFloats: 0,
        preparedBytes,
        note:
          `filter transform U = G g G^T (float32) for ${k}x${c} filters, packed as ${alpha * alpha} ` +
          `${GEMM_TILE.mr}-row panel matrices (${preparedBytes} bytes, ${(preparedBytes / (wLen * 4)).toFixed(2)}x the weights); ` +
          `${special ? 'specialised' : 'generic matrix-driven'} input/output transforms (chosen and checked here, not in the timed run); ` +
          `${pb} tiles per block; workspace ${wsFloats * 4} bytes (padded input, one block of V and M)`,
      };
    },
  });
}

/** Winograd F(2x2, 3x3): 16 multiplies per 4 outputs (2.25x fewer than direct). */
export const winogradF2x2: ConvVariant = winogradVariant(2);
/** Winograd F(4x4, 3x3): 36 multiplies per 16 outputs (4x fewer than direct). */
export const winogradF4x4: ConvVariant = winogradVariant(4);
/** Winograd F(6x6, 3x3): 64 multiplies per 36 outputs (5.06x fewer than direct). */
export const winogradF6x6: ConvVariant = winogradVariant(6);
