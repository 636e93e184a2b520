/**
 * The sparse suite (suites/sparse/sweep.yaml, cases.ts), its command-line options, and the
 * break-even analysis of the report (harness/report/sparse.ts) on fixed inputs, with the
 * faults each check must catch.
 */
import { describe, it, expect } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSweepOptions, readSweep, sparseCases, SWEEP_FILE } from '../suites/sparse/cases.js';
import { selectItems } from '../harness/plan.js';
import { breakEven, crossing, crossingText, verdictOf, type PatternLine, type SweepPoint } from '../harness/report/sparse.js';
import { makeRng } from '../reference/random.js';

const opts = { quick: false, seed: 1, distribution: 'activation' as const };

function sweepFile(text: string): string {
  const f = join(mkdtempSync(join(tmpdir(), 'roofbench-sweep-')), 'sweep.yaml');
  writeFileSync(f, text);
  return f;
}
const shipped = readFileSync(SWEEP_FILE, 'utf8');

describe('the sparse suite sweep (sweep.yaml)', () => {
  it('every MobileNet v1 pointwise layer and three ResNet-50 3x3 layers, x pattern x fraction, N:M at its own sparsity', () => {
    const { sweep, layers } = readSweep();
    const pw = layers.filter((l) => l.layer.startsWith('mobilenet_v1.'));
    expect(pw.map((l) => l.layer)).toEqual([
      'mobilenet_v1.conv2.pw',
      'mobilenet_v1.conv3.pw',
      'mobilenet_v1.conv4.pw',
      'mobilenet_v1.conv5.pw',
      'mobilenet_v1.conv6.pw',
      'mobilenet_v1.conv7.pw',
      'mobilenet_v1.conv8_1.pw',
      'mobilenet_v1.conv8_2.pw',
      'mobilenet_v1.conv8_3.pw',
      'mobilenet_v1.conv8_4.pw',
      'mobilenet_v1.conv8_5.pw',
      'mobilenet_v1.conv9.pw',
      'mobilenet_v1.conv10.pw',
    ]);
    expect(pw.every((l) => l.pointwise && l.shape.r === 1 && l.shape.groups === 1)).toBe(true);
    const r50 = layers.filter((l) => l.layer.startsWith('resnet50'));
    expect(r50.map((l) => [l.shape.r, l.shape.s])).toEqual([
      [3, 3],
      [3, 3],
      [3, 3],
    ]);
    const cases = sparseCases(opts);
    const plain = sweep.patterns.filter((p) => !p.includes(':')).length;
    const nm = sweep.patterns.length - plain;
    expect(cases).toHaveLength(layers.length * (plain * sweep.fractions.length + nm));
    expect(new Set(cases.map((c) => c.id)).size).toBe(cases.length);
    expect(cases.filter((c) => c.sparsity?.pattern === '2:4').every((c) => c.sparsity?.fraction === 0.5)).toBe(true);
    // One seed per layer: the sweep prunes the same drawn weights further as the fraction grows.
    const conv4 = cases.filter((c) => c.layer === 'mobilenet_v1.conv4.pw');
    expect(new Set(conv4.map((c) => c.seed)).size).toBe(1);
    expect(conv4.find((c) => c.sparsity?.pattern === '1x4' && c.sparsity.fraction === 0.8)?.id).toBe('sparse/mobilenet_v1.conv4.pw.1x4.s80');
  });

  it('--quick: the quick layers (scaled down) and patterns; --pattern and --sparsity replace the lists', () => {
    const q = sparseCases({ ...opts, quick: true });
    const { sweep } = readSweep();
    expect(new Set(q.map((c) => c.layer))).toEqual(new Set(sweep.quick.layers));
    expect(new Set(q.map((c) => c.sparsity?.pattern))).toEqual(new Set(sweep.quick.patterns));
    expect(q.find((c) => c.layer === 'mobilenet_v1.conv8_1.pw')?.shape).toMatchObject({ c: 128, k: 128, h: 4, w: 4 });
    const sel = parseSweepOptions('unstructured, 1x1 ,8x1,2:4', '10%,0.95');
    expect(sel).toEqual({ patterns: ['unstructured', 'unstructured', '8x1', '2:4'], fractions: [0.1, 0.95] });
    const c = sparseCases({ ...opts, quick: true, ...sel });
    expect(c.filter((x) => x.layer === 'mobilenet_v1.conv4.pw').map((x) => x.id)).toEqual([
      'sparse/mobilenet_v1.conv4.pw.unstructured.s10',
      'sparse/mobilenet_v1.conv4.pw.unstructured.s95',
      'sparse/mobilenet_v1.conv4.pw.8x1.s10',
      'sparse/mobilenet_v1.conv4.pw.8x1.s95',
      'sparse/mobilenet_v1.conv4.pw.2:4.s50',
    ]);
  });

  it('refuses bad command-line values, saying which and what is accepted', () => {
    expect(() => parseSweepOptions('1x4,diagonal', undefined)).toThrow(/--pattern: unknown sparsity pattern "diagonal": use 'unstructured'/);
    expect(() => parseSweepOptions(undefined, '0.5,150%')).toThrow(/--sparsity: "150%" is not a sparsity: .* between 0 and 1 \(0.9\) or percentages \(90%\)/);
    expect(() => parseSweepOptions(undefined, 'abc')).toThrow(/--sparsity: "abc"/);
    expect(() => parseSweepOptions(undefined, ' , ')).toThrow(/--sparsity is empty/);
    expect(() => parseSweepOptions('3:2', undefined)).toThrow(/N:M needs 1 <= N < M/);
  });

  it('is opt-in: the default selection leaves it out; --suite sparse picks it with the dense baseline in every case', () => {
    const base = { quick: true, seed: 1, distribution: 'activation' as const };
    expect(selectItems(base).some((i) => i.suite.name === 'sparse')).toBe(false);
    const items = selectItems({ ...base, suites: ['sparse'], patterns: ['1x4'], fractions: [0.3, 0.9] });
    expect(items.length).toBe(readSweep().sweep.quick.layers.length * 2);
    for (const i of items) expect(i.variants[0]).toBe('conv-im2col-gemm-f32');
    expect(items.every((i) => i.variants.includes('conv-spmm-b1x4-f32') && i.caseSpec.sparsity?.pattern === '1x4')).toBe(true);
  });

  // Injected faults: each broken file is refused at load, naming the file and the entry.
  const broken: [string, string, RegExp][] = [
    ['an unknown pattern', shipped.replace('patterns: [unstructured,', 'patterns: [diagonal,'), /entry patterns\.0: unknown sparsity pattern "diagonal"/],
    ['a fraction above 1', shipped.replace(/^fractions: \[0\.1,/m, 'fractions: [1.5,'), /entry fractions\.0: .*(<= ?1|less than or equal to 1)/i],
    ['a node the model lacks', shipped.replace('conv3_2.conv2,', 'conv3_2.conv9,'), /entry layers\.1: resnet50_v1\.5 has no conv node "conv3_2\.conv9"/],
    ['a model not in the zoo', shipped.replace('model: resnet50_v1.5', 'model: resnet51'), /entry layers\.1: model "resnet51" cannot be loaded/],
    [
      'a depthwise layer',
      shipped.replace('conv4_2.conv2]\n', 'conv4_2.conv2]\n  - model: mobilenet_v1\n    nodes: [conv3.dw]\n'),
      /conv3\.dw is a grouped or depthwise conv/,
    ],
    [
      'a quick layer outside the sweep',
      shipped.replace('quick:\n  layers: [', 'quick:\n  layers: [mobilenet_v1.conv1, '),
      /entry quick\.layers\.0: mobilenet_v1\.conv1 is not one of the sweep's layers/,
    ],
    ['an unknown key', `${shipped}\nextra: 1\n`, /Unrecognized key/i],
  ];
  for (const [what, text, msg] of broken) {
    it(`refuses a sweep file with ${what}`, () => {
      expect(text).not.toBe(shipped);
      const f = sweepFile(text);
      expect(() => sparseCases({ ...opts, file: f })).toThrow(f);
      expect(() => sparseCases({ ...opts, file: f })).toThrow(msg);
    });
  }
});

describe('break-even sparsity', () => {
  it('interpolates log speedup where it last crosses 1, and censors outside the sweep', () => {
    // log s from log 0.5 at 0.5 to log 2 at 0.7: 1x at 0.6.
    expect(
      crossing([
        { fraction: 0.3, speedup: 0.2 },
        { fraction: 0.5, speedup: 0.5 },
        { fraction: 0.7, speedup: 2 },
      ]).value,
    ).toBeCloseTo(0.6, 12);
    // A dip below 1 after a first crossing: the break-even is after the last point below 1.
    expect(
      crossing([
        { fraction: 0.1, speedup: 1.2 },
        { fraction: 0.5, speedup: 0.8 },
        { fraction: 0.9, speedup: 1.25 },
      ]).value,
    ).toBeCloseTo(0.7, 2);
    expect(
      crossing([
        { fraction: 0.5, speedup: 1.1 },
        { fraction: 0.9, speedup: 3 },
      ]),
    ).toEqual({ value: 0.5, censored: 'below' });
    expect(
      crossing([
        { fraction: 0.5, speedup: 0.3 },
        { fraction: 0.9, speedup: 0.9 },
      ]),
    ).toEqual({ value: 0.9, censored: 'above' });
    expect(crossingText({ value: 0.5, censored: 'below' })).toBe('≤ 50%');
    expect(crossingText({ value: 0.95, censored: 'above' })).toBe('> 95%');
    expect(() =>
      crossing([
        { fraction: 0.5, speedup: 1 },
        { fraction: 0.5, speedup: 2 },
      ]),
    ).toThrow(/not ascending/);
  });

  /** Samples of a kernel whose speedup over dense is exp(slope * (f - at)), with relative noise `noise`. */
  function sweep(at: number, noise: number, n: number, seed = 7): SweepPoint[] {
    const rng = makeRng(seed);
    const draw = (t: number) => Array.from({ length: n }, () => t * (1 + noise * (rng.next() - 0.5)));
    return [0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95].map((f) => ({ fraction: f, dense: draw(1), sparse: draw(1 / Math.exp(4 * (f - at))) }));
  }

  it('recovers a known break-even from raw samples, with an interval that covers it and narrows with cleaner samples', () => {
    const clean = breakEven(sweep(0.62, 0.05, 40));
    expect(clean.estimate.censored).toBeNull();
    expect(clean.estimate.value).toBeCloseTo(0.62, 2);
    expect(clean.low.value).toBeLessThanOrEqual(0.62);
    expect(clean.high.value).toBeGreaterThanOrEqual(0.62);
    expect(clean.widthPoints).not.toBeNull();
    expect(clean.widthPoints!).toBeLessThan(10);
    const noisy = breakEven(sweep(0.62, 0.8, 6));
    expect(noisy.widthPoints ?? Infinity).toBeGreaterThan(clean.widthPoints!);
    // Seeded: the same samples give the same interval.
    expect(breakEven(sweep(0.62, 0.05, 40))).toEqual(clean);
  });

  it('fault: dense and sparse samples swapped give a break-even the interval of the true one excludes', () => {
    const pts = sweep(0.62, 0.05, 40);
    const truth = breakEven(pts);
    const swapped = breakEven(pts.map((p) => ({ ...p, dense: p.sparse, sparse: p.dense })));
    // Swapped, the kernel "pays" below 62% and never after: the estimate leaves the true interval.
    expect(swapped.estimate.value < truth.low.value || swapped.estimate.value > truth.high.value || swapped.estimate.censored !== null).toBe(true);
  });

  it('fault: one sample set with a missing side is refused, not read as a speedup', () => {
    const pts = sweep(0.62, 0.05, 10);
    pts[2] = { ...pts[2]!, sparse: [] };
    expect(() => breakEven(pts)).toThrow(/no samples at sparsity 0.5/);
  });

  it('the verdict names each pattern, its break-even and interval, in order, and compares with the 2/3 rule', () => {
    const line = (pattern: string, at: number, censored: 'below' | 'above' | null = null): PatternLine => ({
      pattern,
      variant: 'conv-spmm-csr-f32',
      points: [],
      roofline: [],
      noisy: false,
      breakEven: { estimate: { value: at, censored }, low: { value: at - 0.04, censored: null }, high: { value: at + 0.04, censored: null }, widthPoints: 8 },
    });
    expect(verdictOf('conv_pw_3', [line('unstructured', 0.78), line('1x4', 0.62)])).toBe(
      "On this device, 1x4 blocks pay from 62% sparsity on conv_pw_3 (95% CI 58%–66%); unstructured from 78% (95% CI 74%–82%). Against XNNPACK's 2/3 rule (sparse above 66.7%): 1x4 earlier than, unstructured later than the rule.",
    );
    expect(verdictOf('L', [line('4x1', 0.95, 'above')])).toMatch(/^On this device, 4x1 blocks do not pay up to 95% on L/);
  });
});
