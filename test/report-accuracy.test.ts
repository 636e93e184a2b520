/**
 * The accuracy-decision section of the one-run report (harness/report/accuracy.ts,
 * templates/accuracy.njk): Winograd / FFT variants against fp32 direct (the
 * accuracy anchor) and im2col (the speed baseline), with the user's budget; every
 * word about the suite from its kit (another kit's decision: none of conv's words).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { isTimed, type TimedResult as Timed, RunResults, type Float } from '../core/contracts.js';
import { ACC_POINT_CLASS, accuracyChartSvgs, buildAccuracyView, hasAccuracySection, ratioText, times, type AccuracyView } from '../harness/report/accuracy.js';
import { renderReport } from '../harness/report/render.js';
import { convKit } from '../suites/conv/kit.js';
import { kitOf } from '../suites/kits.js';
import { reportScratch } from './helpers/report.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/results/', import.meta.url));
const INJECTION = `<script>alert(1)</script>"&'`;
const ESCAPED = '&lt;script&gt;alert(1)&lt;/script&gt;&quot;&amp;&#39;';

function fixture(name: string): RunResults {
  return RunResults.parse(JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')));
}
/** A deep copy to mutate. */
const copy = (run: RunResults): RunResults => structuredClone(run);

function timedResult(run: RunResults, caseId: string, variant: string): Timed {
  const r = run.results.find((x) => x.caseId === caseId && x.variant === variant);
  if (!r || !isTimed(r)) throw new Error(`fixture has no timed ${variant} on ${caseId}`);
  return r;
}

/** The accuracy section of a rendered page ('' when absent). */
function accuracySection(html: string): string {
  const start = html.indexOf('<section id="accuracy"');
  if (start < 0) return '';
  return html.slice(start, html.indexOf('\n</section>', start));
}

/** Every <svg>...</svg> in `markup`. */
function svgsIn(markup: string): string[] {
  return [...markup.matchAll(/<svg\b[^>]*class="marks"[\s\S]*?<\/svg>/g)].map((m) => m[0]);
}

/** Hover titles of the chart points (class ACC_POINT_CLASS). */
function pointTitles(svg: string): string[] {
  const re = new RegExp(`<path\\b[^<>]*class="${ACC_POINT_CLASS}"[^<>]*><title>([^<]*)</title></path>`, 'g');
  return [...svg.matchAll(re)].map((m) => m[1] ?? '');
}

const C1 = 'conv/vgg16.conv3_2';
const C2 = 'conv/resnet50.res2b.branch2b';
const C4 = 'conv/vgg16.conv5_1';
const C5 = 'conv/resnet50.res2b.branch2a';
const NAIVE = 'conv-direct-naive-f32';
const IM2COL = 'conv-im2col-gemm-f32';
const F2 = 'conv3x3-winograd-f2x2-f32';
const F4 = 'conv3x3-winograd-f4x4-f32';
const F6 = 'conv3x3-winograd-f6x6-f32';
const F8 = 'conv3x3-winograd-f8x8-p5e0c7a1d-f32';
const T8 = 'conv3x3-fft-t8-f32';
const T16 = 'conv3x3-fft-t16-f32';

const scratch = reportScratch('roofbench-accuracy-');

let renders = 0;
async function render(run: RunResults): Promise<string> {
  return readFileSync(await renderReport(run, join(scratch(), `r${renders++}`)), 'utf8');
}

describe('the winograd-decision fixture', () => {
  const run = fixture('winograd-decision');
  it('matches the RunResults schema and has the shape the section is about', () => {
    expect(run.options.distribution).toBe('activation');
    expect(run.options.budgets).toEqual({ maxRelL2: 5e-6 });
    expect(run.cases).toHaveLength(5);
    // 4 3x3 cases with naive, im2col, ORT, 3 Winograd tiles and 2 FFT tiles; one custom F(8x8) on case 1.
    for (const id of [C1, C2, 'conv/resnet50.res3b.branch2b', C4]) {
      for (const v of [NAIVE, IM2COL, 'conv-onnxruntime-f32', F2, F4, F6, T8, T16]) expect(timedResult(run, id, v).caseId).toBe(id);
    }
    // The 1x1 case: every fast variant skipped.
    const onePoint = run.results.filter((r) => r.caseId === C5 && (r.algorithm === 'winograd' || r.algorithm === 'fft'));
    expect(onePoint.map((r) => r.state)).toEqual(['skipped', 'skipped', 'skipped', 'skipped', 'skipped']);
    // Some F(6x6) results are over the budget, and marked so.
    const f6 = run.results.filter((r): r is Timed => r.variant === F6 && isTimed(r));
    expect(f6.map((r) => [r.state, r.accuracy.budget?.ok])).toEqual([
      ['inaccurate', false],
      ['passed', true],
      ['passed', true],
      ['inaccurate', false],
    ]);
    expect(timedResult(run, C1, F4).info).toMatchObject({ tile: 'F(4x4,3x3)', multsPerOutput: 2.25, directMultsPerOutput: 9, condAT: 11.3 });
  });
});

describe('buildAccuracyView: the fixture', () => {
  const run = fixture('winograd-decision');
  const view = buildAccuracyView(run) as AccuracyView;

  it('shows the distribution and the budget', () => {
    expect(view).not.toBeNull();
    expect(view.distribution).toBe('activation');
    expect(view.distributionNote).toMatch(/post-ReLU/);
    expect(view.budgetGiven).toBe(true);
    expect(view.budgetText).toBe('rel L2 ≤ 5e-6');
    expect(view.maxRelL2).toBe(5e-6);
  });

  it('has one chart per 3x3 case, one point per timed result, speedups over im2col and errors vs fp32 direct', () => {
    expect(view.charts.map((c) => c.caseId)).toEqual([C1, C2, 'conv/resnet50.res3b.branch2b', C4]);
    for (const ch of view.charts) {
      const timed = run.results.filter((r) => r.caseId === ch.caseId && isTimed(r));
      expect(ch.points).toHaveLength(timed.length);
      expect(ch.tips).toHaveLength(timed.length);
      expect(ch.budget).toBe(5e-6);
      expect(ch.notes).toEqual([]);
    }
    expect(view.charts.map((c) => c.points.length)).toEqual([9, 8, 8, 8]);
    const c1 = view.charts[0];
    const f6 = timedResult(run, C1, F6);
    const base = timedResult(run, C1, IM2COL);
    const naive = timedResult(run, C1, NAIVE);
    const i = c1?.tips.findIndex((t) => t.lines.some((l) => l.includes(F6))) ?? -1;
    const p = c1?.points[i];
    expect(p?.x).toBe(f6.accuracy.relL2);
    expect(p?.y).toBeCloseTo(base.timing.stats.median / f6.timing.stats.median, 12);
    expect(p?.kind).toBe('inaccurate');
    // The anchor point sits below 1x and is labelled "fp32 direct".
    const a = c1?.tips.findIndex((t) => t.lines.some((l) => l === `variant: ${NAIVE}`)) ?? -1;
    expect(c1?.points[a]?.y).toBeLessThan(1);
    expect(c1?.labels.map((l) => l.text)).toContain('fp32 direct');
    expect(c1?.labels.map((l) => l.text)).toEqual(
      expect.arrayContaining(['im2col', 'ONNX Runtime', 'F(2x2)', 'F(4x4)', 'F(6x6)', 'F(8x8)', 'FFT 8x8', 'FFT 16x16']),
    );
    const ratio = Number(f6.accuracy.relL2) / Number(naive.accuracy.relL2);
    expect(c1?.tips[i]?.lines).toContain(`error ${Math.round(ratio)}× fp32 direct`);
    expect(Math.round(ratio)).toBe(99);
  });

  it('has one decision table per case with fast variants, references first, in tile order', () => {
    expect(view.cases.map((c) => c.id)).toEqual([C1, C2, 'conv/resnet50.res3b.branch2b', C4]);
    const c1 = view.cases[0];
    expect(c1?.rows.map((r) => r.variant)).toEqual([NAIVE, IM2COL, 'conv-onnxruntime-f32', F2, F4, F6, F8, T8, T16]);
    expect(c1?.hasPeer).toBe(true);
    expect(c1?.shape).toBe('256→256, 56×56, 3×3');
    const row = (v: string) => c1?.rows.find((r) => r.variant === v);
    expect(row(NAIVE)?.errorRatio).toBe('1× (anchor)');
    expect(row(IM2COL)?.speedup).toBe('1×');
    expect(row(F4)?.mults).toBe('2.25 vs 9: 4.0× fewer');
    expect(row(F4)?.cond).toBe('11.3 / 4.01 / 20.1');
    expect(row(F4)?.detail).toBe('F(4x4,3x3) · points 0,1,-1,2,-2,inf');
    expect(row(F4)?.budget).toBe('yes');
    expect(row(F6)?.budget).toBe('no: rel L2 8.6e-6 > 5e-6');
    expect(row(F6)?.budgetTone).toBe('bad');
    expect(row(F6)?.stateNote).toBe('over the budget');
    expect(row(F6)?.errorRatio).toBe('99×');
    // Speedups: im2col's median / the variant's, also over ONNX Runtime.
    const f6 = timedResult(run, C1, F6);
    const ort = timedResult(run, C1, 'conv-onnxruntime-f32');
    const im2col = timedResult(run, C1, IM2COL);
    expect(row(F6)?.speedup).toMatch(new RegExp(`^${times(im2col.timing.stats.median / f6.timing.stats.median)} \\(`));
    // With the interval the two medians' intervals give.
    expect(row(F6)?.speedup).toBe(
      `2.58× (${times(im2col.timing.stats.ciLow / f6.timing.stats.ciHigh).replace('×', '')}–${times(im2col.timing.stats.ciHigh / f6.timing.stats.ciLow)})`,
    );
    expect(row(F6)?.speedupDecisive).toBe(true);
    expect(row(F6)?.speedupVsPeer).toMatch(new RegExp(`^${times(ort.timing.stats.median / f6.timing.stats.median)} \\(`));
    expect(row(T8)?.cond).toBe('—');
    expect(row(T16)?.mults).toBe('2.94 vs 9: 3.1× fewer');
  });

  it('lists the 1x1 case, where every fast variant was skipped, with the reasons', () => {
    expect(view.notApplicable).toHaveLength(1);
    expect(view.notApplicable[0]?.id).toBe(C5);
    expect(view.notApplicable[0]?.reasons).toEqual([
      `${F2}: Winograd F(2x2,3x3) applies to 3x3 stride-1 ungrouped convolutions; this layer is 1x1`,
      `${F4}: Winograd F(4x4,3x3) applies to 3x3 stride-1 ungrouped convolutions; this layer is 1x1`,
      `${F6}: Winograd F(6x6,3x3) applies to 3x3 stride-1 ungrouped convolutions; this layer is 1x1`,
      // Variants skipped for the same reason share a line.
      `${T8}, ${T16}: FFT conv is implemented for 3x3 kernels only (this layer is 1x1)`,
    ]);
  });

  it('summarises by tile size across cases', () => {
    expect(view.summary.map((s) => s.variant)).toEqual([F2, F4, F6, F8, T8, T16]);
    const f6 = view.summary[2];
    expect(f6).toMatchObject({
      tile: 'F(6x6,3x3)',
      cases: 4,
      casesNote: '1 skipped',
      withinBudget: '2 of 4',
      budgetTone: 'partial',
      worstRelL2: '8.6e-6',
      worstCase: '#1 vgg16.conv3_2',
      mults: '1.78 vs 9: 5.1× fewer',
      cond: '142 / 2.51 / 30.9',
    });
    // Worst error ratio and the speedup range, recomputed from the fixture.
    const ratios = [C1, C2, 'conv/resnet50.res3b.branch2b', C4].map(
      (id) => Number(timedResult(run, id, F6).accuracy.relL2) / Number(timedResult(run, id, NAIVE).accuracy.relL2),
    );
    expect(f6?.worstRatio).toBe(ratioText(Math.max(...ratios)));
    expect(f6?.worstRatio).toBe('99×');
    const sp = [C1, C2, 'conv/resnet50.res3b.branch2b', C4]
      .map((id) => timedResult(run, id, IM2COL).timing.stats.median / timedResult(run, id, F6).timing.stats.median)
      .sort((a, b) => a - b);
    expect(f6?.speedup).toBe(`${times(sp[0])} – ${times(((sp[1] ?? 0) + (sp[2] ?? 0)) / 2)} – ${times(sp[3])}`);
    expect(f6?.speedup).toBe('1.88× – 2.27× – 2.58×');
    expect(view.summary[3]).toMatchObject({
      variant: F8,
      cases: 1,
      casesNote: '',
      withinBudget: '0 of 1',
      budgetTone: 'bad',
      worstRatio: '736×',
      cond: '1460 / 2.83 / 129',
    });
    expect(view.summary[0]).toMatchObject({ mults: '4 vs 9: 2.3× fewer', cond: '1 / 2 / 2.41', medianRatio: '4.1×', worstRatio: '5.2×' });
    expect(view.summary[1]).toMatchObject({ withinBudget: '4 of 4', budgetTone: 'ok' });
  });

  it('states a verdict per fast variant, with the numbers of the fixture', () => {
    const text = (v: string) => {
      const x = view.verdicts.find((y) => y.variant === v);
      return x ? `${x.variant} ${x.text}` : '';
    };
    expect(view.verdicts.map((v) => v.variant)).toEqual([F2, F4, F6, F8, T8, T16]);
    expect(text(F4)).toBe(`${F4} meets the budget (rel L2 ≤ 5e-6) on 4 of 4 cases, 1.96×–2.21× faster than im2col; error 21×–30× fp32 direct; 1 skipped.`);
    expect(text(F6)).toBe(
      `${F6} meets the budget (rel L2 ≤ 5e-6) on 2 of 4 cases, 1.88×–2.58× faster than im2col; error 66×–99× fp32 direct; ` +
        'over it on #1 vgg16.conv3_2 (rel L2 8.6e-6 > 5e-6), #4 vgg16.conv5_1 (rel L2 6.9e-6 > 5e-6); 1 skipped.',
    );
    expect(text(F8)).toBe(
      `${F8} misses the budget (rel L2 ≤ 5e-6) on its only case, 2.71× faster than im2col; error 736× fp32 direct; over it on #1 vgg16.conv3_2 (rel L2 6.4e-5 > 5e-6).`,
    );
    expect(text(T8)).toBe(
      `${T8} meets the budget (rel L2 ≤ 5e-6) on 4 of 4 cases, but slower than im2col (0.62×–0.71× its speed); error 2.4×–2.9× fp32 direct; 1 skipped.`,
    );
    expect(view.verdicts.map((v) => v.tone)).toEqual(['ok', 'ok', 'partial', 'bad', 'info', 'ok']);
  });

  it('compares with fp32 direct when no budget was given', () => {
    const run2 = copy(run);
    delete run2.options.budgets;
    for (const r of run2.results) if (isTimed(r)) delete r.accuracy.budget;
    const v = buildAccuracyView(run2) as AccuracyView;
    expect(v.budgetGiven).toBe(false);
    expect(v.budgetText).toBe('');
    expect(v.maxRelL2).toBeNull();
    expect(v.charts.every((c) => c.budget === null)).toBe(true);
    const f4 = v.verdicts.find((x) => x.variant === F4);
    expect(f4?.text).toBe('error 21×–30× fp32 direct (rel L2 1.3e-6–2.6e-6), 1.96×–2.21× faster than im2col, on 4 cases; 1 skipped.');
    expect(v.summary.every((s) => s.withinBudget === 'no budget given')).toBe(true);
    expect(v.cases[0]?.rows.every((r) => r.budget === 'no budget given')).toBe(true);
  });

  it('describes every budget given', () => {
    const run2 = copy(run);
    run2.options.budgets = { maxRelL2: 1e-4, maxAbs: 0.001, minSqnrDb: 100 };
    const v = buildAccuracyView(run2) as AccuracyView;
    expect(v.budgetText).toBe('rel L2 ≤ 1e-4, max abs ≤ 0.001, SQNR ≥ 100 dB');
    const f6 = v.cases[0]?.rows.find((r) => r.variant === F6);
    expect(Number(timedResult(run2, C1, F6).accuracy.maxAbs)).toBeGreaterThan(0.001);
    expect(f6?.budget).toBe('no: max abs 1.1e-3 > 0.001');
  });
});

describe('renderReport: the accuracy section', () => {
  const run = fixture('winograd-decision');
  let html = '';
  let section = '';
  beforeAll(async () => {
    html = await render(run);
    section = accuracySection(html);
  });

  it('sits after the roofline and before the device and the per-case tables', () => {
    expect(section).not.toBe('');
    const at = html.indexOf('<section id="accuracy"');
    expect(html.indexOf('<section id="roofline"')).toBeLessThan(at);
    expect(at).toBeLessThan(html.indexOf('<section id="device"'));
    expect(at).toBeLessThan(html.indexOf('<section id="cases"'));
    expect(html).not.toMatch(/<script/i);
  });

  it('shows the distribution and the budget prominently', () => {
    expect(section).toContain('<div class="acc-fact-v mono">activation</div>');
    expect(section).toContain('<div class="acc-fact-v">rel L2 ≤ 5e-6</div>');
  });

  it('draws one chart per 3x3 case with a titled point per timed result and the budget rule', () => {
    const svgs = svgsIn(section);
    expect(svgs).toHaveLength(4);
    expect(svgs.map((s) => pointTitles(s).length)).toEqual([9, 8, 8, 8]);
    for (const s of svgs) {
      expect(s).toContain('>budget 5e-6</text>');
      expect(s).toContain('relative L2 error vs float64 (log)');
      expect(s).toContain('speedup over im2col (log)');
      expect(s).toContain('>fp32 direct</text>');
    }
    const t = pointTitles(svgs[0] ?? '').find((x) => x.includes(F6)) ?? '';
    expect(t).toContain(`#1 ${C1}`);
    expect(t).toMatch(/speedup: 2\.58× \([\d.]+–[\d.]+×\) over im2col/);
    expect(t).toContain('rel L2: 8.60e-6');
    expect(t).toContain('error 99× fp32 direct');
    expect(t).toContain('state: inaccurate (over budget: rel L2 8.6e-6 &gt; 5e-6)');
  });

  it('has the decision rows, the summary rows and the verdicts', () => {
    expect(section.match(/<tr class="acc-row /g)).toHaveLength(9 + 8 + 8 + 8);
    expect(section.match(/<table class="acc-table acc-decision">/g)).toHaveLength(4);
    const summary = section.slice(section.indexOf('acc-summary'), section.indexOf('</table>', section.indexOf('acc-summary')));
    expect(summary.match(/<tr>/g)).toHaveLength(1 + 6); // header + one per fast variant
    expect(section.match(/<li class="verdict /g)).toHaveLength(6);
    expect(section).toContain(
      `<li class="verdict verdict-ok"><span class="mono verdict-variant">${F4}</span> meets the budget (rel L2 ≤ 5e-6) on 4 of 4 cases, 1.96×–2.21× faster than im2col; error 21×–30× fp32 direct; 1 skipped.</li>`,
    );
    expect(section).toContain('no: rel L2 8.6e-6 &gt; 5e-6');
    expect(section).toContain('2.25 vs 9: 4.0× fewer');
    expect(section).toContain('<td class="num acc-tone-partial">2 of 4</td>');
    expect(section).toContain('vs ONNX Runtime');
    expect(section).toContain('Cases where no fast variant ran');
    expect(section).toContain('<a href="#case-5">#5</a>');
  });

  it('draws no budget rule and says so when no budget was given', async () => {
    const run2 = copy(run);
    delete run2.options.budgets;
    for (const r of run2.results) if (isTimed(r)) delete r.accuracy.budget;
    const s = accuracySection(await render(run2));
    const svgs = svgsIn(s);
    expect(svgs).toHaveLength(4);
    for (const svg of svgs) {
      expect(svg).not.toContain('budget');
      expect(svg).not.toContain('#c0392b');
    }
    expect(s).toContain('<div class="acc-fact-v">no budget given</div>');
    expect(s).not.toContain('your rel L2 budget');
    expect(s).toContain('error 21×–30× fp32 direct (rel L2 1.3e-6–2.6e-6)');
  });
});

describe('the section is absent without fast variants', () => {
  it('for the existing fixtures without timed Winograd or FFT results (injection has only skipped ones)', async () => {
    expect(
      fixture('injection')
        .results.filter((r) => r.algorithm === 'winograd')
        .map((r) => r.state),
    ).toEqual(['skipped', 'skipped']);
    for (const name of ['injection', 'minimal-incomplete']) {
      const run = fixture(name);
      expect(run.results.some((r) => (r.algorithm === 'winograd' || r.algorithm === 'fft') && isTimed(r))).toBe(false);
      expect(hasAccuracySection(run)).toBe(false);
      expect(buildAccuracyView(run)).toBeNull();
      const html = await render(run);
      expect(html).not.toContain('id="accuracy"');
      expect(html).not.toContain('acc-table');
    }
  });

  it('for rpi3-complete once its Winograd results are removed (and present with them)', async () => {
    const run = fixture('rpi3-complete');
    expect(hasAccuracySection(run)).toBe(true);
    expect(accuracySection(await render(run))).toContain('Accuracy decision');
    const stripped = { ...run, results: run.results.filter((r) => r.algorithm !== 'winograd') };
    expect(hasAccuracySection(stripped)).toBe(false);
    expect(await render(stripped)).not.toContain('id="accuracy"');
  });

  it('but present for an approximate result of another algorithm', () => {
    const run = fixture('rpi3-complete');
    const stripped = copy({ ...run, results: run.results.filter((r) => r.algorithm !== 'winograd') });
    const r = stripped.results.find((x): x is Timed => isTimed(x) && x.variant === IM2COL);
    if (!r) throw new Error('no im2col');
    r.variant = 'conv-im2col-gemm-f16';
    r.accuracy.tolerance = { metric: 'relL2', limit: 1e-3, source: 'declared budget relL2 <= 0.001' };
    expect(hasAccuracySection(stripped)).toBe(true);
    expect(buildAccuracyView(stripped)?.summary.map((s) => s.variant)).toEqual(['conv-im2col-gemm-f16']);
  });
});

describe('edge values', () => {
  const setRel = (run: RunResults, caseId: string, variant: string, v: Float) => {
    const r = timedResult(run, caseId, variant);
    r.accuracy.relL2 = v;
  };

  it('rel L2 = 0, "Infinity" and "NaN": drawn at the axis edges with a note, never a crash', async () => {
    const run = copy(fixture('winograd-decision'));
    setRel(run, C1, F2, 0);
    setRel(run, C1, F4, 'Infinity');
    setRel(run, C1, F6, 'NaN');
    const v = buildAccuracyView(run) as AccuracyView;
    const ch = v.charts[0];
    if (!ch) throw new Error('no chart');
    expect(ch.points).toHaveLength(9);
    const pointOf = (variant: string) => ch.points[ch.tips.findIndex((t) => t.lines.some((l) => l.startsWith(`variant: ${variant}`)))];
    expect(pointOf(F2)).toMatchObject({ kind: 'zero', x: ch.xDomain[0] });
    expect(pointOf(F4)).toMatchObject({ kind: 'nonfinite', x: ch.xDomain[1] });
    expect(pointOf(F6)).toMatchObject({ kind: 'nonfinite', x: ch.xDomain[1] });
    expect(ch.notes).toEqual([
      `${F2}: rel L2 = 0 (output equal to the float64 reference at this precision), drawn at the left edge.`,
      `${F4}: rel L2 = ∞ (non-finite output), drawn at the right edge.`,
      `${F6}: rel L2 = NaN (non-finite output), drawn at the right edge.`,
    ]);
    expect(v.hasEdgePoints).toBe(true);
    const row = (variant: string) => v.cases[0]?.rows.find((r) => r.variant === variant);
    expect(row(F2)).toMatchObject({ relL2: '0', errorRatio: '0× (exact)', budget: 'yes' });
    expect(row(F4)).toMatchObject({ relL2: '∞', errorRatio: '∞', budget: 'no: rel L2 ∞ > 5e-6' });
    expect(row(F6)).toMatchObject({ relL2: 'NaN', errorRatio: 'NaN', budget: 'no: rel L2 NaN > 5e-6' });
    // NaN is the worst outcome in the summary.
    expect(v.summary.find((s) => s.variant === F6)).toMatchObject({ worstRelL2: 'NaN', worstRatio: 'NaN', worstCase: '#1 vgg16.conv3_2' });
    expect(v.summary.find((s) => s.variant === F4)).toMatchObject({ worstRelL2: '∞', worstRatio: '∞' });
    // Verdicts keep the finite end of the range.
    expect(v.verdicts.find((x) => x.variant === F6)?.text).toMatch(
      /^meets the budget \(rel L2 ≤ 5e-6\) on 2 of 4 cases, .*; error 66×–NaN fp32 direct; over it on #1 vgg16\.conv3_2 \(rel L2 NaN > 5e-6\), #4/,
    );
    expect(v.verdicts.find((x) => x.variant === F2)?.text).toContain('error 0×–4.1× fp32 direct');

    const svgs = await accuracyChartSvgs(v);
    expect(pointTitles(svgs[0] ?? '')).toHaveLength(9);
    const s = accuracySection(await render(run));
    expect(s).toContain('drawn at the left edge');
    expect(s).toContain('rel L2 of 0 / not finite, drawn at the axis edge');
  });

  it('an anchor with rel L2 = 0 leaves error ratios undefined, with a note', () => {
    const run = copy(fixture('winograd-decision'));
    setRel(run, C2, NAIVE, 0);
    const v = buildAccuracyView(run) as AccuracyView;
    const c2 = v.cases.find((c) => c.id === C2);
    expect(c2?.notes).toEqual([`${NAIVE}'s rel L2 is 0 on this case: error ratios against it are undefined.`]);
    expect(c2?.rows.find((r) => r.variant === F4)?.errorRatio).toBe('—');
    // The other cases still give ratios.
    expect(v.summary.find((s) => s.variant === F4)?.worstRatio).toBe('30×');
  });

  it('a case without an im2col timing has no chart and no speedups, and says why', () => {
    const run = copy(fixture('winograd-decision'));
    run.results = run.results.filter((r) => !(r.caseId === C2 && r.variant === IM2COL));
    const v = buildAccuracyView(run) as AccuracyView;
    expect(v.charts.map((c) => c.caseId)).not.toContain(C2);
    expect(v.charts).toHaveLength(3);
    expect(v.chartNotes).toEqual([`#2 resnet50.res2b.branch2b: no chart, ${IM2COL} was not timed on this case, so there is no speedup to plot.`]);
    expect(v.cases.find((c) => c.id === C2)?.rows.find((r) => r.variant === F4)?.speedup).toBe('—');
    // The verdict counts the speedups it has.
    expect(v.verdicts.find((x) => x.variant === F4)?.text).toContain('(speedup on 3 cases)');
  });

  it('a noisy timing makes its speedups indicative: marked, not bold, and no "faster" in the verdict', () => {
    const run = copy(fixture('winograd-decision'));
    // The case: a 0.28x "speedup" at cv 110%.
    for (const r of run.results) {
      if (r.caseId === C1 && r.variant === F4 && isTimed(r)) {
        r.timing.noisy = true;
        r.timing.stats.cv = 1.1;
      }
    }
    const v = buildAccuracyView(run) as AccuracyView;
    const row = v.cases.find((c) => c.id === C1)?.rows.find((r) => r.variant === F4);
    expect(row?.speedup).toMatch(/^~[\d.]+× \([\d.]+–[\d.]+×\), noisy$/);
    expect(row?.speedupDecisive).toBe(false);
    const verdict = v.verdicts.find((x) => x.variant === F4)?.text ?? '';
    expect(verdict).not.toContain('faster than im2col');
    expect(verdict).toContain('the speed of im2col, not conclusive (noisy timing on 1 of 4)');
    expect(v.summary.find((x) => x.variant === F4)?.speedup).toContain('(1 of 4 noisy or not clear of 1×)');
    // The other tile sizes keep their verdicts.
    expect(v.verdicts.find((x) => x.variant === F2)?.text).toContain('faster than im2col');
  });

  it('errored and skipped fast results appear as rows with their message', () => {
    const run = copy(fixture('winograd-decision'));
    const i = run.results.findIndex((r) => r.caseId === C4 && r.variant === T16);
    const r = run.results[i];
    if (!r) throw new Error('no t16');
    run.results[i] = {
      caseId: r.caseId,
      variant: r.variant,
      algorithm: r.algorithm,
      dtype: r.dtype,
      cost: r.cost,
      state: 'errored',
      phase: 'prepare',
      error: 'RangeError: out of memory\n    at grow',
    };
    const v = buildAccuracyView(run) as AccuracyView;
    const row = v.cases.find((c) => c.id === C4)?.rows.find((x) => x.variant === T16);
    expect(row).toMatchObject({ timed: false, state: 'errored', message: 'in prepare: RangeError: out of memory' });
    expect(v.summary.find((s) => s.variant === T16)).toMatchObject({ cases: 3, casesNote: '1 skipped, 1 errored' });
  });
});

describe('escaping', () => {
  it('never emits raw strings from the results, in the tables or the chart titles', async () => {
    const run = copy(fixture('winograd-decision'));
    const r = timedResult(run, C1, F6);
    r.variant = `conv3x3-winograd-f6x6-${INJECTION}-f32`;
    r.info = { ...r.info, tile: `F(6x6,3x3)${INJECTION}`, points: INJECTION };
    const skipped = run.results.find((x) => x.caseId === C5 && x.variant === F2);
    if (!skipped || skipped.state !== 'skipped') throw new Error('no skipped result');
    skipped.reason = `no ${INJECTION}`;
    const html = await render(run);
    const section = accuracySection(html);
    expect(section).not.toBe('');
    expect(html).not.toContain(INJECTION);
    expect(html).not.toMatch(/<script/i);
    expect(section).toContain(`conv3x3-winograd-f6x6-${ESCAPED}-f32`);
    expect(section).toContain(`no ${ESCAPED}`);
    const titles = pointTitles(svgsIn(section)[0] ?? '');
    expect(titles).toHaveLength(9);
    expect(titles.find((t) => t.includes(ESCAPED))).toContain(`variant: conv3x3-winograd-f6x6-${ESCAPED}-f32 (F(6x6,3x3)${ESCAPED})`);
  });
});

describe('formatting', () => {
  it('speedups and error ratios', () => {
    expect(times(2.5833)).toBe('2.58×');
    expect(times(0.0851)).toBe('0.0851×');
    expect(times(undefined)).toBe('—');
    expect(ratioText(295.2)).toBe('295×');
    expect(ratioText(3.62)).toBe('3.6×');
    expect(ratioText(0)).toBe('0× (exact)');
    expect(ratioText(Infinity)).toBe('∞');
    expect(ratioText(NaN)).toBe('NaN');
  });
});

describe("the section's words come from the suite kit (suites/<op>/kit.ts decision)", () => {
  /**
   * The section with every variant name of the run taken out, the bare names the charts label points with
   * (conv3x3-winograd-f2x2-f32 -> winograd-f2x2) and the skip reasons the variants gave: those are the results'
   * data; the words around them are the report's.
   */
  const wordsOf = (section: string, run: RunResults) =>
    [
      ...new Set(
        run.results.flatMap((r) => [r.variant, r.variant.replace(/^[a-z0-9]+-/, '').replace(/-f32$/, ''), ...(r.state === 'skipped' ? [r.reason] : [])]),
      ),
    ]
      .sort((a, b) => b.length - a.length)
      .reduce((s, v) => s.split(v).join(''), section);
  const CONV_WORDS = /fp32 direct|im2col|ONNX|Winograd|FFT|convolution/i;

  it("the conv kit's: its references' labels, title and question", async () => {
    const run = fixture('winograd-decision');
    const section = accuracySection(await render(run));
    expect(section).toContain('Accuracy decision: fast convolution algorithms');
    expect(section).toContain('Is a Winograd tile size or an FFT path accurate enough');
    for (const label of ['fp32 direct', 'im2col', 'ONNX Runtime']) expect(wordsOf(section, run)).toContain(label);
  });

  it("another kit's decision on the same results: its words everywhere, none of conv's (the kit's object swapped, test-only)", async () => {
    const run = fixture('winograd-decision');
    const own = convKit.decision!;
    convKit.decision = {
      anchor: own.anchor,
      speedBaseline: own.speedBaseline,
      ...(own.peer ? { peer: own.peer } : {}),
      fastAlgorithms: own.fastAlgorithms,
      labels: { [own.anchor]: 'the plain loop', [own.speedBaseline]: 'the dense kernel', ...(own.peer ? { [own.peer]: 'the library' } : {}) },
      title: 'quick kernels',
      question: 'Are the quick kernels close enough?',
    };
    try {
      const view = buildAccuracyView(run);
      const section = accuracySection(await render(run));
      const words = wordsOf(section, run);
      expect(section).toContain('Accuracy decision: quick kernels');
      expect(section).toContain('Are the quick kernels close enough?');
      for (const label of ['error vs<br>the plain loop', 'speedup over the dense kernel', 'vs the library', 'the dense kernel speed (1×)'])
        expect(words).toContain(label);
      expect(words.match(CONV_WORDS)).toBeNull();
      // The verdicts, context lines and chart hover titles too (plain text in the view).
      const prose = [
        ...(view?.verdicts.map((v) => v.text) ?? []),
        ...(view?.context ?? []),
        ...(view?.charts.flatMap((c) => c.tips.flatMap((t) => t.lines)) ?? []),
      ].join('\n');
      expect(prose).toContain('error');
      expect(wordsOf(prose, run).match(CONV_WORDS)).toBeNull();
      expect(svgsIn(section)[0]).toContain('speedup over the dense kernel (log)');
    } finally {
      convKit.decision = own;
    }
  });

  it('a suite without a decision (sparse: exact SpMM against its dense baseline) has no section, and leaves the other cases their own', () => {
    const run = fixture('winograd-decision');
    const toSparse = (id: string) => id.replace(/^conv\//, 'sparse/');
    const sparse = copy(run);
    for (const c of sparse.cases) Object.assign(c, { id: toSparse(c.id), suite: 'sparse' });
    for (const r of sparse.results) r.caseId = toSparse(r.caseId);
    expect(kitOf('sparse')?.decision).toBeUndefined();
    expect(hasAccuracySection(sparse)).toBe(false);
    expect(buildAccuracyView(sparse)).toBeNull();
    // Half the cases in the sparse suite: the section covers the conv cases only, in conv's words.
    const mixed = copy(run);
    const moved = new Set(mixed.cases.slice(0, 2).map((c) => c.id));
    for (const c of mixed.cases) if (moved.has(c.id)) Object.assign(c, { id: toSparse(c.id), suite: 'sparse' });
    for (const r of mixed.results) if (moved.has(r.caseId)) r.caseId = toSparse(r.caseId);
    const view = buildAccuracyView(mixed);
    expect(view?.cases.length).toBeGreaterThan(0);
    expect(view?.cases.every((c) => c.id.startsWith('conv/'))).toBe(true);
    expect(view?.anchorLabel).toBe('fp32 direct');
  });
});
