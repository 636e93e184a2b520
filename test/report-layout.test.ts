/** The report reads top-down: compact per-case tables, long prose in <details>, a chart of each case's raw samples. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { quantileSorted } from 'simple-statistics';
import { describe, expect, it } from 'vitest';
import { isTimed, RunResults } from '../core/contracts.js';
import { renderReport } from '../harness/report/render.js';
import { BOX_CLASS, MAX_DOTS, samplesData } from '../harness/report/samples.js';
import { reportScratch } from './helpers/report.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/results/', import.meta.url));
const fixture = (name: string) => RunResults.parse(JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')));

const scratch = reportScratch('roofbench-report-layout-');

function caseSection(html: string, caseNo: number): string {
  const start = html.indexOf(`<article class="case" id="case-${caseNo}">`);
  expect(start, `case #${caseNo} article`).toBeGreaterThanOrEqual(0);
  return html.slice(start, html.indexOf('</article>', start));
}

describe('raw samples per case', () => {
  const run = fixture('rpi3-complete');
  const caseIds = [...new Set(run.results.map((r) => r.caseId))];

  it('one box per timed variant, quartiles from all the samples, outliers marked', () => {
    for (const id of caseIds) {
      const rs = run.results.filter((r) => r.caseId === id);
      const d = samplesData(rs);
      const timed = rs.filter(isTimed);
      if (timed.length === 0) {
        expect(d).toBeNull();
        continue;
      }
      expect(d?.boxes.map((b) => b.variant)).toEqual(timed.map((r) => r.variant));
      for (const [i, r] of timed.entries()) {
        const sorted = [...r.timing.samples].sort((a, b) => a - b);
        const b = d!.boxes[i]!;
        expect(b.q1).toBeCloseTo(quantileSorted(sorted, 0.25), 12);
        expect(b.q3).toBeCloseTo(quantileSorted(sorted, 0.75), 12);
        expect([b.min, b.max]).toEqual([sorted[0], sorted.at(-1)]);
        expect(b.median).toBe(r.timing.stats.median);
        const dots = d!.dots.filter((p) => p.variant === r.variant);
        expect(dots).toHaveLength(Math.min(r.timing.samples.length, MAX_DOTS));
        expect(dots.filter((p) => p.outlier).length).toBe(r.timing.stats.outliers.length);
      }
    }
  });

  it('thins the dots of a long series and says so, the box still using every sample', () => {
    const r = structuredClone(run.results.find(isTimed)!);
    r.timing.samples = Array.from({ length: 500 }, (_, i) => 1 + (i % 50) / 100);
    const d = samplesData([r])!;
    expect(d.dots.length).toBeLessThanOrEqual(MAX_DOTS);
    expect(d.notes[0]).toMatch(/of 500 samples drawn/);
    expect(d.boxes[0]?.max).toBe(1.49);
  });

  it('is drawn in every case with a timed result, with a hover label per box', async () => {
    const html = readFileSync(await renderReport(run, join(scratch(), 'rpi3')), 'utf8');
    caseIds.forEach((id, i) => {
      const section = caseSection(html, i + 1);
      const timed = run.results.filter((r) => r.caseId === id && isTimed(r)).length;
      const boxes = [...section.matchAll(new RegExp(`class="${BOX_CLASS}"[^<>]*><title>`, 'g'))].length;
      expect(boxes, `case #${i + 1}`).toBe(timed);
      if (timed) expect(section).toContain('Raw timing samples');
    });
  });
});

describe('compact case tables', () => {
  it("keep tolerance sources and preparation notes out of the table rows, in the case's <details>", async () => {
    const run = fixture('rpi3-complete');
    const html = readFileSync(await renderReport(run, join(scratch(), 'compact')), 'utf8');
    const timed = run.results.filter(isTimed);
    const withNote = timed.find((r) => r.prepare.note && r.prepare.note.length > 40);
    expect(withNote, 'the fixture has a long preparation note').toBeDefined();
    const section = caseSection(html, [...new Set(run.results.map((r) => r.caseId))].indexOf(withNote!.caseId) + 1);
    const table = section.slice(section.indexOf('<table class="variants">'), section.indexOf('</table>'));
    const details = section.slice(section.indexOf('<details class="timing-details">'));
    const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
    expect(table).not.toContain(`>${esc(withNote!.prepare.note!)}<`);
    expect(details).toContain(esc(withNote!.prepare.note!));
    expect(details).toContain(esc(withNote!.accuracy.tolerance.source));
    // The source stays one hover away in the table (title attribute), never as a paragraph in the row.
    expect(table).not.toMatch(/<div class="sub">[^<]{60,}<\/div>/);
  });
});

describe('baselines added for the accuracy decision', () => {
  it('the report says which references ran although the selection left them out', async () => {
    const run = fixture('winograd-decision');
    run.options.filter = 'winograd';
    run.options.baselinesAdded = ['conv-direct-naive-f32', 'conv-im2col-gemm-f32'];
    const html = readFileSync(await renderReport(run, join(scratch(), 'baselines')), 'utf8');
    const acc = html.slice(html.indexOf('<section id="accuracy"'), html.indexOf('</section>', html.indexOf('<section id="accuracy"')));
    expect(acc).toMatch(/left out conv-direct-naive-f32, conv-im2col-gemm-f32; they ran anyway, because this decision compares/);
    expect(html).toMatch(/baselines added<\/th>\s*<td>conv-direct-naive-f32, conv-im2col-gemm-f32: not selected, but run/);
    delete run.options.baselinesAdded;
    const plain = readFileSync(await renderReport(run, join(scratch(), 'no-baselines')), 'utf8');
    expect(plain).not.toContain('baselines added');
  });
});

describe('roofline labels do not collide', () => {
  type Box = { l: number; r: number; t: number; b: number };
  const overlap = (a: Box, b: Box) => a.l < b.r - 0.5 && b.l < a.r - 0.5 && a.t < b.b - 0.5 && b.t < a.b - 0.5;

  /** A crowded run: every case of the fixture copied eight times at the same intensity, slightly faster each time. */
  function crowded(): RunResults {
    const run = fixture('winograd-decision');
    const copies = [1, 2, 3, 4, 5, 6, 7].flatMap((k) =>
      run.results.map((r) =>
        isTimed(r)
          ? { ...structuredClone(r), caseId: `${r.caseId}~${k}`, perf: { ...r.perf, gflops: r.perf.gflops * (1 + 0.015 * k) } }
          : { ...r, caseId: `${r.caseId}~${k}` },
      ),
    );
    const cases = [1, 2, 3, 4, 5, 6, 7].flatMap((k) => run.cases.map((c) => ({ ...c, id: `${c.id}~${k}` })));
    return { ...run, results: [...run.results, ...copies], cases: [...run.cases, ...cases] };
  }

  for (const [name, make] of [
    ['rpi3-complete', () => fixture('rpi3-complete')],
    ['winograd-decision', () => fixture('winograd-decision')],
    ['a crowded run (every case eight times at one intensity)', crowded],
  ] as const) {
    it(`${name}: case numbers clear of each other and of the ceiling labels`, async () => {
      const { rooflineData } = await import('../harness/report/charts.js');
      const d = rooflineData(make());
      expect(d.caseLabels.length).toBeGreaterThan(0);
      const boxes = d.caseLabels.map((l) => l.box);
      for (let i = 0; i < boxes.length; i++) {
        for (let j = i + 1; j < boxes.length; j++) expect(overlap(boxes[i]!, boxes[j]!), `${d.caseLabels[i]!.text} / ${d.caseLabels[j]!.text}`).toBe(false);
        for (const c of d.labelBoxes) expect(overlap(boxes[i]!, c), `${d.caseLabels[i]!.text} / a ceiling label`).toBe(false);
      }
    });
  }
});

describe('roofline cache slopes', () => {
  it('every slope drawn carries its label; one with no clear place for it is left out', async () => {
    const { rooflineData, cacheBandwidthLevels } = await import('../harness/report/charts.js');
    const squeezed = fixture('rpi3-complete');
    const m = squeezed.ceilings.measured!;
    // Cache bandwidths so far above DRAM that their slopes meet the roof at the frame's left edge.
    m.bandwidth = m.bandwidth.map((p) => (p.bytes <= 1 << 20 ? { ...p, gbps: p.gbps * 40 } : p));
    for (const run of [fixture('rpi3-complete'), squeezed]) {
      const d = rooflineData(run);
      const drawn = [...new Set(d.cacheSlopes.map((p) => p.id))];
      for (const id of drawn) expect(d.labels.map((l) => l.text)).toContain(id);
      expect(drawn.length).toBeLessThanOrEqual(cacheBandwidthLevels(run).length);
    }
    expect(new Set(rooflineData(fixture('rpi3-complete')).cacheSlopes.map((p) => p.id)).size).toBe(2);
  });
});
