/**
 * The Winograd F(m x m, 3 x 3) conv variants (kernels/assembly/winograd.ts,
 * suites/conv/variants/winograd.ts) against the float64 reference, with the
 * runner's own checks (reference/metrics.ts errorMetrics +
 * reference/tolerance.ts approximateToleranceCheck against the variant's
 * declared budget), on small and awkward shapes; applies() rejections; the
 * factory; and a deliberately corrupted transform that the same check must
 * catch. No speed is asserted anywhere.
 */
import { beforeAll, describe, expect, it, inject } from 'vitest';
import type { ConvShape, ConvVariant, Distribution } from '../core/contracts.js';
import { GEMM_TILE, loadKernels, type Kernels } from '../kernels/index.js';
import { conv2dRef, convOutputSize } from '../reference/conv.js';
import { convFlops } from '../reference/cost.js';
import { errorMetrics } from '../reference/metrics.js';
import { makeConvInputs } from '../reference/random.js';
import { accuracyChecks } from '../harness/runner/measure.js';
import { signFlippedCookToom } from '../harness/runner/faults.js';
import { DEFAULT_POINTS, cookToom, defaultTransforms, perturb, tileError, toF32 } from '../reference/winograd.js';
import { convVariants } from '../suites/conv/variants.js';
import {
  BUDGET_POINTS,
  BUDGET_PER_TILE_ERROR,
  WINOGRAD_BUDGETS,
  tileBlock,
  winogradF2x2,
  winogradF4x4,
  winogradF6x6,
  winogradVariant,
} from '../suites/conv/variants/winograd.js';

const shape = (p: Partial<ConvShape>): ConvShape => ({
  n: 1,
  c: 1,
  h: 1,
  w: 1,
  k: 1,
  r: 3,
  s: 3,
  stride: 1,
  pad: 0,
  groups: 1,
  ...p,
});

let kernels: Kernels;
let outDir: string;

beforeAll(async () => {
  // Compiled once for the whole test run (test/setup/global.ts).
  outDir = inject('kernelsDir');
  kernels = await loadKernels(outDir);
});

interface Checked {
  relL2: number;
  ok: boolean;
  limit: number;
  note: string;
  y: Float32Array;
  /** What failed ('' when every check passed). */
  detail: string;
}

/** What measure.ts does for an approximate variant: inputs, reference, prepare, run, errorMetrics, its accuracy checks. */
function check(v: ConvVariant, s: ConvShape, seed = 1, dist: Distribution = 'uniform(-1,1)'): Checked {
  const { x, w } = makeConvInputs(s, seed, dist);
  const ref = conv2dRef(s, x, w);
  if (v.accuracy.kind !== 'approximate') throw new Error(`${v.name} should declare an approximate budget`);
  const mark = kernels.mark();
  const p = v.prepare({ kernels }, s, x, w);
  try {
    p.run();
    const y = p.output().slice();
    const metrics = errorMetrics(y, ref.y);
    const t = accuracyChecks(v, y, ref, metrics, s.c * 9);
    return { relL2: metrics.relL2, ok: t.ok, limit: t.limit, note: p.prepareNote ?? '', y, detail: t.detail };
  } finally {
    p.dispose();
    kernels.release(mark);
  }
}

/** Shapes chosen to hit every code path and edge; `why` says which. */
const CASES: { why: string; s: ConvShape }[] = [
  { why: 'odd sizes, n=2, pad 1', s: shape({ n: 2, c: 3, h: 7, w: 9, k: 5, pad: 1 }) },
  { why: '1 channel in and out, pad 2, wide rows (fast gathers and stores)', s: shape({ c: 1, h: 13, w: 38, k: 1, pad: 2 }) },
  { why: 'C, K not multiples of 4/8, pad 0, H/W not multiples of m', s: shape({ c: 9, h: 17, w: 30, k: 13 }) },
  { why: 'single output pixel (pad 0, 3x3 input)', s: shape({ c: 2, h: 3, w: 3, k: 3 }) },
  { why: 'kernel larger than the input (padding only)', s: shape({ c: 2, h: 2, w: 3, k: 3, pad: 1 }) },
  { why: 'C past the GEMM slice KC (accumulating slices)', s: shape({ c: GEMM_TILE.kc + 44, h: 9, w: 10, k: 6, pad: 1 }) },
  { why: 'K past the GEMM row block, not a multiple of MR', s: shape({ c: 5, h: 6, w: 11, k: 2 * GEMM_TILE.mc + 7, pad: 1 }) },
  { why: 'n=3, tile groups wrapping rows and images, pad 2', s: shape({ n: 3, c: 4, h: 11, w: 14, k: 7, pad: 2 }) },
];

const TILES: [string, ConvVariant][] = [
  ['F(2x2,3x3)', winogradF2x2],
  ['F(4x4,3x3)', winogradF4x4],
  ['F(6x6,3x3)', winogradF6x6],
];

describe('Winograd conv variants vs the float64 reference, within their declared budgets', () => {
  for (const [label, v] of TILES) {
    for (const { why, s } of CASES) {
      it(`${label} ${why}`, () => {
        const r = check(v, s, 7);
        expect(r.relL2).toBeGreaterThan(0); // a real approximation, not a copy of the reference
        expect(r.ok, `relL2 ${r.relL2} > budget ${r.limit}`).toBe(true);
        expect(r.note).toMatch(/specialised/);
      });
    }
    it(`${label} generic matrix-driven transforms agree with the specialised ones`, () => {
      const m = v === winogradF2x2 ? 2 : v === winogradF4x4 ? 4 : 6;
      const generic = winogradVariant(m, undefined, { specialised: false });
      expect(generic.name).toBe(v.name);
      for (const { s } of [CASES[0]!, CASES[2]!, CASES[7]!]) {
        const a = check(v, s, 3, 'activation');
        const b = check(generic, s, 3, 'activation');
        expect(b.note).toMatch(/generic/);
        expect(a.ok && b.ok).toBe(true);
        // Same algorithm, different rounding order in the transforms: close, not necessarily identical.
        let diff = 0;
        let norm = 0;
        a.y.forEach((ya, i) => {
          diff += (ya - b.y[i]!) ** 2;
          norm += ya ** 2;
        });
        expect(Math.sqrt(diff / norm)).toBeLessThan(2 * Math.max(a.relL2, b.relL2));
      }
    });
  }

  it('blocks of tiles: many blocks, a partial last block and panel (tileBlock 8 and 24)', () => {
    const s = shape({ n: 2, c: 6, h: 23, w: 21, k: 9, pad: 1 });
    for (const m of [2, 4, 6]) {
      for (const tb of [8, 24]) {
        const r = check(winogradVariant(m, undefined, { tileBlock: tb }), s, 11, 'activation');
        expect(r.ok, `F(${m}) tileBlock ${tb}: relL2 ${r.relL2}`).toBe(true);
      }
    }
  });

  it('output is deterministic and fully overwritten on every run', () => {
    const s = CASES[7]!.s;
    const { x, w } = makeConvInputs(s, 5, 'uniform(-1,1)');
    const mark = kernels.mark();
    const p = winogradF4x4.prepare({ kernels }, s, x, w);
    p.run();
    const first = p.output().slice();
    p.output().fill(Number.NaN);
    p.run();
    expect(Array.from(p.output())).toEqual(Array.from(first));
    p.dispose();
    kernels.release(mark);
  });

  it('declares a budget for every tile size F(1x1)..F(8x8), growing with the tile', () => {
    const ms = Object.keys(WINOGRAD_BUDGETS).map(Number);
    expect(ms).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    for (let m = 2; m <= 8; m++) expect(WINOGRAD_BUDGETS[m]).toBeGreaterThanOrEqual(WINOGRAD_BUDGETS[m - 1]!);
    // Tile sizes without default points name the points their budget was measured on.
    for (const m of ms) expect(DEFAULT_POINTS[`F(${m},3)`] ?? BUDGET_POINTS[m], `points of F(${m})`).toBeDefined();
  });
});

describe('a corrupted transform is caught by the same check', () => {
  const s = shape({ n: 1, c: 8, h: 12, w: 13, k: 6, pad: 1 });
  const corruptions: { what: string; which: 'G' | 'BT' | 'AT'; i: number; j: number; delta: string }[] = [
    { what: 'G[1][0] + 1/64 (filter transform, in prepare)', which: 'G', i: 1, j: 0, delta: '1/64' },
    { what: 'BT[2][3] + 1/16 (input transform)', which: 'BT', i: 2, j: 3, delta: '1/16' },
    { what: 'AT[1][2] - 1/32 (output transform)', which: 'AT', i: 1, j: 2, delta: '-1/32' },
  ];
  for (const { what, which, i, j, delta } of corruptions) {
    it(`F(4x4,3x3) with ${what}: relL2 far above the budget, state inaccurate`, () => {
      const bad = perturb(defaultTransforms(4, 3), which, i, j, delta);
      const v = winogradVariant(4, undefined, { transforms: bad });
      expect(v.name).toMatch(/^conv3x3-winograd-f4x4-t[0-9a-f]{8}-f32$/);
      // The budget is that of the intended (exact) transform, not loosened by the corruption;
      // the exact verification already knows the transforms are wrong.
      expect(v.accuracy).toMatchObject({ kind: 'approximate', maxRelL2: WINOGRAD_BUDGETS[4] });
      expect(v.accuracy.kind === 'approximate' && v.accuracy.defect).toMatch(/failed their exact verification/);
      const r = check(v, s, 1);
      expect(r.ok).toBe(false);
      expect(r.relL2).toBeGreaterThan(100 * r.limit);
      expect(r.detail).toMatch(/budget: relL2 .*; transforms: the transforms failed their exact verification/);
      // A corrupted BT or AT must not be replaced by the built-in specialised code.
      if (which !== 'G') expect(r.note).toMatch(/generic/);
    });
  }
});

describe('every generated transform is verified exactly before use', () => {
  it("the built-in tiles and the suite data's verify, and say so", () => {
    for (const v of [winogradF2x2, winogradF4x4, winogradF6x6, winogradVariant(8)]) {
      expect(v.accuracy.kind === 'approximate' && v.accuracy.defect, v.name).toBeFalsy();
      expect(v.info?.(shape({}))?.transforms).toBe('verified exactly (rational arithmetic)');
    }
  });

  for (const m of [2, 4, 6, 8]) {
    it(`F(${m}x${m}) from a generator with a sign slip: a defect, the declared budget, inaccurate`, () => {
      const v = winogradVariant(m, undefined, { generator: signFlippedCookToom });
      // Same name: the runner builds the faulty variant in place of the real one.
      expect(v.name).toBe(winogradVariant(m).name);
      expect(v.accuracy).toMatchObject({ kind: 'approximate', maxRelL2: WINOGRAD_BUDGETS[m] });
      expect(v.accuracy.kind === 'approximate' && v.accuracy.defect).toMatch(/failed their exact verification: .*basis check/);
      const r = check(v, shape({ c: 5, h: 11, w: 13, k: 4, pad: 1 }), 2);
      expect(r.ok).toBe(false);
      expect(r.detail).toMatch(/transforms: /);
    });
  }

  it("a derived budget (other points) never exceeds the tile size's declared one", () => {
    // 3, -3 instead of 3/4, -3/4: 15x its tile error would be ~1.4e-3, far above F(8x8)'s budget.
    const pts = ['0', '1', '-1', '2', '-2', '1/2', '-1/2', '3', '-3', 'inf'];
    expect(BUDGET_PER_TILE_ERROR * tileError(cookToom(8, 3, pts), 'f32')).toBeGreaterThan(WINOGRAD_BUDGETS[8]!);
    expect(winogradVariant(8, pts).accuracy).toEqual({ kind: 'approximate', maxRelL2: WINOGRAD_BUDGETS[8] });
    expect(winogradVariant(8, pts).info?.(shape({}))?.budget).toMatch(/declared for F\(8x8\)/);
  });

  it('refuses a tile size without a declared budget', () => {
    expect(() => winogradVariant(9, ['0', '1', '-1', '2', '-2', '1/2', '-1/2', '3/4', '-3/4', '4', 'inf'])).toThrow(
      /F\(9x9,3x3\) has no declared accuracy budget \(declared: F\(1x1\), .*F\(8x8\)\)/,
    );
  });
});

describe('the specialised-transform check runs in prepare, not in the timed run', () => {
  it('conv_winograd_f32 refuses a workspace winograd_prepare did not prepare', () => {
    const wg = kernels.winograd!;
    const mark = kernels.mark();
    try {
      const ws = kernels.alloc(wg.winograd_workspace_floats(1, 2, 6, 6, 2, 1, 4, 6, 16));
      const x = kernels.alloc(2 * 36);
      const u = kernels.alloc(wg.winograd_packed_u_floats(2, 2, 6));
      const y = kernels.alloc(2 * 36);
      expect(wg.conv_winograd_f32(x.ptr, u.ptr, y.ptr, ws.ptr, 1, 2, 6, 6, 2, 1, 4, 6, 16)).toBe(-1);
      const tf = toF32(defaultTransforms(4, 3));
      const bt = kernels.allocCopy(tf.BT.data);
      const at = kernels.allocCopy(tf.AT.data);
      expect(wg.winograd_prepare(bt.ptr, at.ptr, 4, 6, ws.ptr, 1)).toBe(1);
      expect(wg.conv_winograd_f32(x.ptr, u.ptr, y.ptr, ws.ptr, 1, 2, 6, 6, 2, 1, 4, 6, 16)).toBe(1);
      // Prepared for F(4x4): an F(2x2) call on the same workspace is refused.
      expect(wg.conv_winograd_f32(x.ptr, u.ptr, y.ptr, ws.ptr, 1, 2, 6, 6, 2, 1, 2, 4, 16)).toBe(-1);
      expect(wg.winograd_prepare(bt.ptr, at.ptr, 4, 6, ws.ptr, 0)).toBe(0);
      expect(wg.conv_winograd_f32(x.ptr, u.ptr, y.ptr, ws.ptr, 1, 2, 6, 6, 2, 1, 4, 6, 16)).toBe(0);
    } finally {
      kernels.release(mark);
    }
  });
});

describe('applies()', () => {
  const ok = shape({ c: 4, h: 8, w: 8, k: 4, pad: 1 });
  it('accepts 3x3 stride-1 ungrouped layers, any pad, H, W, N', () => {
    for (const v of [winogradF2x2, winogradF4x4, winogradF6x6]) {
      expect(v.applies(ok)).toBe(true);
      expect(v.applies({ ...ok, pad: 0, h: 3, w: 17, n: 4 })).toBe(true);
      expect(v.applies({ ...ok, pad: 5 })).toBe(true);
    }
  });
  it('rejects 1x1, 5x5, stride 2, depthwise and grouped layers with the reason', () => {
    expect(winogradF4x4.applies({ ...ok, r: 1, s: 1, pad: 0 })).toBe('Winograd F(4x4,3x3) applies to 3x3 stride-1 ungrouped convolutions; this layer is 1x1');
    expect(winogradF2x2.applies({ ...ok, r: 5, s: 5, pad: 2 })).toMatch(/F\(2x2,3x3\).*this layer is 5x5/);
    expect(winogradF6x6.applies({ ...ok, stride: 2 })).toMatch(/this layer has stride 2/);
    expect(winogradF4x4.applies({ ...ok, groups: 4 })).toMatch(/this layer is depthwise \(groups = C = K = 4\)/);
    expect(winogradF4x4.applies({ ...ok, c: 8, k: 8, groups: 2 })).toMatch(/this layer is grouped \(groups = 2\)/);
    expect(winogradF4x4.applies({ ...ok, r: 1, s: 3, stride: 2 })).toMatch(/this layer is 1x3, this layer has stride 2/);
    expect(winogradF4x4.applies({ ...ok, h: 1, pad: 0 })).toMatch(/output size/);
  });
  it('prepare refuses a shape it does not apply to', () => {
    const s = { ...ok, stride: 2 };
    const { x, w } = makeConvInputs(s, 1, 'uniform(-1,1)');
    expect(() => winogradF4x4.prepare({ kernels }, s, x, w)).toThrow(/stride 2/);
  });
});

describe('winogradVariant factory', () => {
  it('names the defaults f2x2 / f4x4 / f6x6 and lists them last in the conv suite, in that order', () => {
    expect([winogradF2x2.name, winogradF4x4.name, winogradF6x6.name]).toEqual([
      'conv3x3-winograd-f2x2-f32',
      'conv3x3-winograd-f4x4-f32',
      'conv3x3-winograd-f6x6-f32',
    ]);
    const names = convVariants.map((v) => v.name);
    expect(names.slice(0, 3)).toEqual(['conv-direct-naive-f32', 'conv-im2col-gemm-f32', 'conv-depthwise-simd-f32']);
    const at = names.indexOf(winogradF2x2.name);
    expect(at).toBeGreaterThan(2);
    expect(names.slice(at, at + 3)).toEqual([winogradF2x2.name, winogradF4x4.name, winogradF6x6.name]);
    for (const [m, v] of [
      [2, winogradF2x2],
      [4, winogradF4x4],
      [6, winogradF6x6],
    ] as const) {
      expect(v.algorithm).toBe('winograd');
      expect(v.accuracy).toEqual({ kind: 'approximate', maxRelL2: WINOGRAD_BUDGETS[m] });
    }
  });

  it('gives custom points of a default m a hashed name, and the default points the plain one', () => {
    const pts = ['0', '1', '-1', '1/2', '-1/2', 'inf'];
    const v = winogradVariant(4, pts);
    expect(v.name).toMatch(/^conv3x3-winograd-f4x4-p[0-9a-f]{8}-f32$/);
    expect(winogradVariant(4, pts).name).toBe(v.name);
    expect(winogradVariant(4, DEFAULT_POINTS['F(4,3)']).name).toBe('conv3x3-winograd-f4x4-f32');
    // Budget from the points' measured tile error, capped at F(4x4)'s declared budget.
    expect(v.accuracy).toEqual({
      kind: 'approximate',
      maxRelL2: Math.min(WINOGRAD_BUDGETS[4]!, BUDGET_PER_TILE_ERROR * tileError(cookToom(4, 3, pts), 'f32')),
    });
    const r = check(v, CASES[2]!.s, 4);
    expect(r.ok, `relL2 ${r.relL2} > ${r.limit}`).toBe(true);
    expect(r.note).toMatch(/generic/);
  });

  it('builds F(8x8,3x3) (default points) and F(3x3,3x3) (explicit points) on the generic path', () => {
    const f8 = winogradVariant(8);
    expect(f8.name).toBe('conv3x3-winograd-f8x8-f32');
    const f3 = winogradVariant(3, ['0', '1', '-1', '2', 'inf']);
    expect(f3.name).toBe('conv3x3-winograd-f3x3-f32');
    for (const v of [f8, f3]) {
      for (const { s } of [CASES[0]!, CASES[2]!, CASES[7]!]) {
        const r = check(v, s, 9, 'activation');
        expect(r.ok, `${v.name} ${JSON.stringify(s)}: relL2 ${r.relL2} > ${r.limit}`).toBe(true);
        expect(r.note).toMatch(/generic/);
      }
    }
  });

  it('rejects an m without default points unless points are given, and bad point lists', () => {
    expect(() => winogradVariant(3)).toThrow(/no default points for F\(3,3\)/);
    expect(() => winogradVariant(0)).toThrow(/positive integer/);
    expect(() => winogradVariant(4, ['0', '1', 'inf'])).toThrow(/needs exactly alpha/);
  });
});

describe('cost accounting', () => {
  it('flops are the direct count; executedFlops counts the padded GEMMs plus the transforms', () => {
    const s = shape({ c: 256, h: 56, w: 56, k: 256, pad: 1 }); // vgg16.conv3_2
    for (const [m, v] of [
      [2, winogradF2x2],
      [4, winogradF4x4],
      [6, winogradF6x6],
    ] as const) {
      expect(v.flops(s)).toBe(convFlops(s));
      const alpha = m + 2;
      const tiles = Math.ceil(56 / m) ** 2;
      const gemmExact = 2 * 256 * 256 * alpha * alpha * tiles;
      const ex = v.executedFlops?.(s) ?? 0;
      expect(ex).toBeGreaterThan(gemmExact);
      // Padded lanes and transforms add at most ~10% (F(6,3): 100 tiles -> 104 lanes, transforms ~7%).
      expect(ex).toBeLessThan(gemmExact * 1.15);
      // The multiply reduction against direct: 2.25x, 4x, 5.06x (less the edge waste of 56 / 6).
      expect(convFlops(s) / gemmExact).toBeCloseTo(((9 * m * m) / (alpha * alpha)) * ((56 * 56) / (tiles * m * m)), 6);
    }
  });

  it('executedFlops: exact small case (one 8-tile panel, K rounded up to MR)', () => {
    // F(2,3), 4x4 output -> 2x2 = 4 tiles, padded to one 8-lane panel; K = 5 -> 8 rows.
    const s = shape({ c: 3, h: 6, w: 6, k: 5 });
    const { ho, wo } = convOutputSize(s);
    expect([ho, wo]).toEqual([4, 4]);
    const nnzBT = 8; // F(2,3) BT: 2 + 2 + 2 + 2 non-zeros
    const nnzAT = 6; // AT: 3 + 3
    const gemm = 2 * 8 * 3 * 16 * 8;
    const input = 2 * 2 * 4 * nnzBT * 4 * 3;
    const output = 2 * (4 + 2) * nnzAT * 4 * 5;
    expect(winogradF2x2.executedFlops?.(s)).toBe(gemm + input + output);
  });

  it('default tile block: a multiple of 8 in [16, 64] (or all the tiles), V + M of a block within ~1 MiB', () => {
    const cases: [ConvShape, number, number][] = [
      [shape({ c: 256, h: 56, w: 56, k: 256, pad: 1 }), 2, 32], // 16*512*4 = 32 KiB per tile
      [shape({ c: 256, h: 56, w: 56, k: 256, pad: 1 }), 4, 16], // 72 KiB per tile: the floor
      [shape({ c: 64, h: 56, w: 56, k: 64, pad: 1 }), 4, 56], // 18 KiB per tile
      [shape({ c: 64, h: 56, w: 56, k: 64, pad: 1 }), 2, 64], // 8 KiB per tile: the cap
      [shape({ c: 512, h: 14, w: 14, k: 512, pad: 1 }), 6, 16], // 9 tiles -> one 16-lane block
      [shape({ c: 3, h: 5, w: 5, k: 2 }), 2, 8], // 4 tiles -> one panel
    ];
    for (const [s, m, want] of cases) expect(tileBlock(s, m), `${JSON.stringify(s)} F(${m})`).toBe(want);
  });
});
