/**
 * The report's scaling view (harness/report/scaling.ts) on a real --threads 1,2 run
 * (test/fixtures/results/v3-threads-1-2.json: vgg16.conv3_2, im2col, Winograd F(4x4), FFT, made by
 * `npm run bench -- --quick --threads 1,2 ...` on the shared 2-core VM under load: its 2-thread figures are
 * slower than one thread, which is what that machine gave; the view states it, it does not judge it).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isTimed, RunResults } from '../core/contracts.js';
import { scalingView } from '../harness/report/scaling.js';
import { POINT_CLASS, rooflineData, rooflineSvg } from '../harness/report/charts.js';
import { renderReportHtml } from '../harness/report/render.js';
import { readRun } from '../harness/results.js';

const FILE = fileURLToPath(new URL('./fixtures/results/v3-threads-1-2.json', import.meta.url));
const run = () => readRun(FILE);

describe('scaling view', () => {
  it('per variant: the median at 1 and 2 threads, the speedup of this run and the efficiency; the FFT says why it has no 2-thread figure', () => {
    const r = run();
    const v = scalingView(r)!;
    expect(v.counts).toEqual([1, 2]);
    expect(v.layers.map((l) => l.layer)).toEqual(['vgg16.conv3_2']);
    const rows = new Map(v.layers[0]!.rows.map((x) => [x.variant, x.cells]));
    for (const name of ['conv-im2col-gemm-f32', 'conv3x3-winograd-f4x4-f32']) {
      const one = r.results.find((x) => x.variant === name)!;
      const two = r.results.find((x) => x.variant === `${name}@t2`)!;
      if (!isTimed(one) || !isTimed(two)) throw new Error('fixture: both timed');
      const speedup = one.timing.stats.median / two.timing.stats.median;
      const cells = rows.get(name)!;
      expect(cells[1]!.speedupText).toContain(`${Number(speedup.toPrecision(3))}×`);
      expect(cells[1]!.efficiencyText).toBe(`${Math.round((100 * speedup) / 2)}%`);
    }
    // Medians in the unit that reads best (a 0.0995 ms median reads 99.5 µs).
    for (const cells of rows.values()) for (const c of cells) expect(c.medianText).toMatch(/^(\d{1,3}(\.\d+)? (µs|ms|s)|\u2014)$/);
    const tiny = scalingView({
      ...r,
      results: r.results.map((x) => (isTimed(x) ? { ...x, timing: { ...x.timing, stats: { ...x.timing.stats, median: 0.0995 } } } : x)),
    })!;
    expect(tiny.layers[0]!.rows[0]!.cells[0]!.medianText).toBe('99.5 µs');
    // The FFT has no 2-thread figure: not tabled, named in a note (its result says why).
    expect(rows.has('conv3x3-fft-t8-f32')).toBe(false);
    expect(v.notes.join(' ')).toMatch(/Not run on more than one thread \(each result says why\): conv3x3-fft-t8-f32\./);
    expect(v.notes.join(' ')).toMatch(/measured side by side in the same interleaved rounds of this run/);
  });

  it('a variant timed at 2 threads but skipped on one (onnxruntime-web runs at the top count only) says so, and its reason is shown whole', async () => {
    const r = run();
    const reason =
      "onnxruntime-web fixes its thread count once per process, and this run runs it at 2 thread(s) (the run's highest --threads count): run with --threads 1 for its one-thread figure";
    const results = r.results.map((x) =>
      x.variant === 'conv-im2col-gemm-f32'
        ? { caseId: x.caseId, variant: x.variant, algorithm: x.algorithm, dtype: x.dtype, threads: 1, cost: x.cost, state: 'skipped' as const, reason }
        : x,
    );
    const v = scalingView({ ...r, results })!;
    const cells = v.layers[0]!.rows.find((x) => x.variant === 'conv-im2col-gemm-f32')!.cells;
    expect(cells[1]!.speedupText).toBe('no speedup: skipped on 1 thread');
    expect(cells[1]!.efficiencyText).toBe('');
    const html = await renderReportHtml({ ...r, results });
    const section = html.slice(html.indexOf('<section id="scaling"'), html.indexOf('</section>', html.indexOf('<section id="scaling"')));
    expect(section).toContain('no speedup: skipped on 1 thread</td>');
    expect(section).not.toContain('efficiency \u2014');
    // The reason in full (it was cut at 60 characters: 'onnxruntime-web fixes its thread count once per...').
    expect(section).toContain('run with --threads 1 for its one-thread figure');
    // Shown whole, the reason wraps in its own cell and leaves the variant names on one line (a long one squeezed
    // them to 'model-runtime-' over 'im2col-f32').
    expect(html).toMatch(/\.scaling-table td:first-child \{\s*white-space: nowrap;\s*\}/);
    expect(html).toMatch(/\.scaling-table td \.muted \{\s*display: inline-block;\s*max-width: \d+em;\s*\}/);
  });

  it('a roof on 2 threads measured under the one-thread roof is explained beside the chart, not left as a puzzle', async () => {
    const r = run();
    const one = r.ceilings.measured!.peakGflops;
    const withPeak = (peak: number): RunResults => ({
      ...r,
      ceilings: { ...r.ceilings, threaded: r.ceilings.threaded!.map((t) => ({ ...t, measured: { ...t.measured, peakGflops: peak } })) },
    });
    const below = await renderReportHtml(withPeak(one * 0.75));
    expect(below).toMatch(
      /The roof on more threads sits under the one-thread roof: 2 threads measured a peak of [\d.]+ GFLOP\/s, below the [\d.]+ of one thread\./,
    );
    expect(below).toContain('the cores were busy with other work');
    expect(await renderReportHtml(withPeak(one * 1.8))).not.toContain('The roof on more threads sits under');
  });

  it('a one-count run has no view; a run without one thread says how to get speedups; a count above the cores is flagged', () => {
    const r = run();
    expect(scalingView({ ...r, results: r.results.filter((x) => !x.variant.includes('@t')) })).toBeNull();
    expect(scalingView({ ...r, results: r.results.filter((x) => x.variant.includes('@t')) })).toBeNull();
    const two = r.results.filter((x) => x.variant.includes('@t'));
    const noOne = scalingView({ ...r, results: [...two, ...two.map((x) => ({ ...x, variant: x.variant.replace('@t2', '@t3'), threads: 3 }))] })!;
    expect(noOne.layers).toEqual([]);
    expect(noOne.notes.join(' ')).toMatch(/no one-thread results \(--threads 2,3\): run --threads 1,2,3/);
    const small: RunResults = {
      ...r,
      probe: { ...r.probe!, cpu: { ...r.probe!.cpu, cores: 1 } },
      results: r.results.map((x) => (x.threads === 2 ? { ...x, oversubscribed: true } : x)),
    };
    const v = scalingView(small)!;
    expect(v.notes.join(' ')).toMatch(/Oversubscribed: 2 threads on a device reporting 1 cores/);
    expect(v.layers[0]!.rows[0]!.cells[1]!.oversubscribed).toBe(true);
  });

  it('the header names the thread counts and flags an oversubscribed count (also without a scaling view)', async () => {
    const r = run();
    expect(await renderReportHtml(r)).toMatch(/threads <strong>1, 2<\/strong>/);
    expect(await renderReportHtml(r)).not.toContain('oversubscribed:');
    const twoOnOne: RunResults = {
      ...r,
      probe: { ...r.probe!, cpu: { ...r.probe!.cpu, cores: 1 } },
      results: r.results.filter((x) => x.threads === 2).map((x) => ({ ...x, oversubscribed: true })),
    };
    const html = await renderReportHtml(twoOnOne);
    expect(html).not.toContain('<section id="scaling"');
    // One count, no view: the header says why and how to get one (the view was just missing).
    expect(html).toMatch(/threads <strong>2<\/strong> · no scaling view without a one-thread figure: run --threads 1,2<\/span>/);
    expect(await renderReportHtml(r)).not.toContain('no scaling view');
    expect(html).toContain('oversubscribed: 2 threads on 1 cores');
    // A one-thread run's header is as before.
    expect(await renderReportHtml({ ...r, results: r.results.filter((x) => x.threads === 1) })).not.toMatch(/threads <strong>/);
  });

  it('renders in the report, escaped', async () => {
    const r = run();
    const html = await renderReportHtml(r);
    expect(html).toContain('<section id="scaling"');
    expect(html).toContain('conv-im2col-gemm-f32@t2');
    const evil = { ...r, cases: r.cases.map((c) => ({ ...c, layer: '<script>x</script>' })) };
    const out = await renderReportHtml(evil);
    expect(out).not.toContain('<script>x</script>');
    expect(out).toContain('&lt;script&gt;x&lt;/script&gt;');
    expect(JSON.parse(readFileSync(FILE, 'utf8')).schemaVersion).toBe(3);
  });

  it('the roofline draws the roof at 2 threads (ceilings.threaded) and measures the @t2 points against it; without threaded ceilings nothing of it', async () => {
    const r = run();
    const t2 = r.ceilings.threaded!.find((t) => t.threads === 2)!.measured;
    const d = rooflineData(r);
    // One line for the 2-thread count: up the 2-thread bandwidth slope to its ridge, then flat at its peak.
    expect(new Set(d.threadedRoofs.map((p) => p.id))).toEqual(new Set(['t2']));
    expect(d.threadedRoofs.some((p) => Math.abs(p.y - t2.peakGflops) < 1e-9)).toBe(true);
    const ridge = d.threadedRoofs.find((p) => p.seq === 1)!;
    expect(ridge.y / ridge.x).toBeCloseTo(t2.dramGbps, 6);
    const label = `2 threads: peak ${Number(t2.peakGflops.toPrecision(3))} GFLOP/s (measured)`;
    expect(d.labels.map((l) => l.text)).toContain(label);
    // The y domain covers the 2-thread peak (above the one-thread one in this fixture).
    expect(d.yDomain[1]).toBeGreaterThan(t2.peakGflops);
    // Each @t2 point's tip says which roof its % is against; one-thread points do not.
    const tipOf = (variant: string) => d.tips.find((t) => t.className === POINT_CLASS && t.lines.includes(`variant: ${variant}`))!.lines.join('\n');
    expect(tipOf('conv-im2col-gemm-f32@t2')).toContain('measured against the 2-thread roof');
    expect(tipOf('conv-im2col-gemm-f32')).not.toContain('thread roof');
    const svg = await rooflineSvg(r);
    expect(svg).toContain(label);
    // Fault: a different 2-thread peak changes the drawn roof and its label (the chart reads the run's figure).
    const doubled = { ...r, ceilings: { ...r.ceilings, threaded: [{ threads: 2, measured: { ...t2, peakGflops: t2.peakGflops * 2 } }] } };
    const dd = rooflineData(doubled);
    expect(dd.labels.map((l) => l.text)).not.toContain(label);
    expect(Math.max(...dd.threadedRoofs.map((p) => p.y))).toBeCloseTo(t2.peakGflops * 2, 6);
    // Without threaded ceilings: no N-thread roof, label or tip line; the one-thread roof is unchanged.
    const { threaded: _t, ...single } = r.ceilings;
    const plain = { ...r, ceilings: single };
    const dp = rooflineData(plain);
    expect(dp.threadedRoofs).toEqual([]);
    expect(dp.labels.some((l) => /threads/.test(l.text))).toBe(false);
    expect(dp.tips.some((t) => t.lines.join(' ').includes('thread roof'))).toBe(false);
    expect(dp.measuredRoof.filter((p) => p.seq === 1)).toEqual(d.measuredRoof.filter((p) => p.seq === 1));
    expect(await rooflineSvg(plain)).not.toMatch(/\d threads: /);
  });
});
