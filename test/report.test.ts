import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { type TimedResult as Timed, RunResults } from '../core/contracts.js';
import { cacheBandwidthLevels, EXECUTED_CLASS, POINT_CLASS, rooflineData, SWEEP_CLASS } from '../harness/report/charts.js';
import * as f from '../harness/report/format.js';
import { renderCombinedIndex } from '../harness/report/combined.js';
import { renderReport, rooflineSvg } from '../harness/report/render.js';
import { buildView, decodeThrottled, healthWarnings } from '../harness/report/model.js';
import { computePerf } from '../core/roofline.js';
import { computeStatistics } from '../core/stats.js';
import { attachTitles, escapeXml, scopeIds, tipToken } from '../harness/report/svg.js';
import { reportScratch } from './helpers/report.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/results/', import.meta.url));
const INJECTION = `<script>alert(1)</script>"&'`;

function fixture(name: string): RunResults {
  return RunResults.parse(JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')));
}

const timedOf = (run: RunResults) => run.results.filter((r): r is Timed => r.state === 'passed' || r.state === 'inaccurate');

/** The first <svg ...>...</svg> after `marker` in the page. */
function svgAfter(html: string, marker: string): string {
  const at = html.indexOf(marker);
  expect(at, `marker ${marker} in page`).toBeGreaterThanOrEqual(0);
  const start = html.indexOf('<svg', at);
  const end = html.indexOf('</svg>', start);
  expect(start).toBeGreaterThan(at);
  return html.slice(start, end + '</svg>'.length);
}

/** Titles of the SVG elements carrying `cls`. */
function titlesOf(svg: string, cls: string): string[] {
  const re = new RegExp(`<path\\b[^<>]*class="${cls}"[^<>]*><title>([^<]*)</title></path>`, 'g');
  return [...svg.matchAll(re)].map((m) => m[1] ?? '');
}

/** Throws unless every element in `markup` is closed in order (attribute values are escaped, so no '>' inside tags). */
function assertBalanced(markup: string): void {
  const stack: string[] = [];
  for (const m of markup.matchAll(/<(\/?)([a-zA-Z][\w:-]*)\b[^<>]*?(\/?)>/g)) {
    const [, close, name, selfClose] = m;
    if (selfClose) continue;
    if (!close) stack.push(name ?? '');
    else if (stack.pop() !== name) throw new Error(`unbalanced </${name}> at ${m.index}`);
  }
  expect(stack).toEqual([]);
}

/** The HTML of one case's <article>. */
function caseSection(html: string, caseNo: number): string {
  const start = html.indexOf(`<article class="case" id="case-${caseNo}">`);
  expect(start, `case #${caseNo} article`).toBeGreaterThanOrEqual(0);
  return html.slice(start, html.indexOf('</article>', start));
}

const scratch = reportScratch('roofbench-report-');

describe('fixtures', () => {
  it('match the RunResults schema', () => {
    for (const name of ['rpi3-complete', 'minimal-incomplete', 'injection']) expect(() => fixture(name)).not.toThrow();
  });
});

describe('renderReport: a complete run with every state', () => {
  const run = fixture('rpi3-complete');
  let html = '';
  let file = '';
  beforeAll(async () => {
    file = await renderReport(run, join(scratch(), 'complete'));
    html = readFileSync(file, 'utf8');
  });

  it('writes outDir/index.html', () => {
    expect(file).toBe(join(scratch(), 'complete', 'index.html'));
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
  });

  it('is self-contained: no scripts, no external resources', () => {
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<link\b/i);
    expect(html).not.toMatch(/\bsrc=/i);
    expect(html).not.toMatch(/url\((?!#rb-)/i); // only the charts' own (scoped) clip paths
    for (const m of html.matchAll(/href="([^"]*)"/g)) expect(m[1]).toMatch(/^#/);
  });

  it('draws one roofline point with a hover title per timed result, and executed markers', () => {
    const svg = svgAfter(html, 'id="roofline"');
    const timed = timedOf(run);
    assertBalanced(svg);
    const titles = titlesOf(svg, POINT_CLASS);
    expect(titles).toHaveLength(timed.length);
    expect(titles.length).toBeGreaterThanOrEqual(25);
    const executed = timed.filter((r) => r.perf.executedGflops !== undefined);
    expect(executed.length).toBeGreaterThan(0);
    expect(titlesOf(svg, EXECUTED_CLASS)).toHaveLength(executed.length);
    // A title names the case and variant and gives throughput, intensity and share of the roofline.
    const r = timed.find((x) => x.variant === 'conv3x3-winograd-f4x4-f32' && x.caseId === 'conv/vgg16.conv3_2');
    expect(r).toBeDefined();
    const t = titles.find((x) => x.includes('conv/vgg16.conv3_2') && x.includes('conv3x3-winograd-f4x4-f32'));
    expect(t).toBeDefined();
    expect(t).toContain(`effective: ${f.sig(r?.perf.gflops, 3)} GFLOP/s`);
    expect(t).toContain(`intensity: ${f.sig(r?.cost.intensity, 3)} FLOP/byte`);
    expect(t).toContain(`${f.pct(r?.perf.pctMeasured)} of measured roofline`);
    expect(t).toContain('of theoretical roofline');
    // Ceilings and ridge points are labelled, axes carry units.
    expect(svg).toContain('measured peak 5.92 GFLOP/s');
    expect(svg).toContain('ridge 3.08 FLOP/B');
    expect(svg).toContain('f32 peak 38.4 GFLOP/s (theoretical)');
    expect(svg).toContain('DRAM 1.92 GB/s (measured)');
    expect(svg).toContain('operational intensity (FLOP/byte)');
    expect(svg).toContain('performance (GFLOP/s)');
  });

  it('draws the bandwidth sweep with a titled point per measurement', () => {
    const svg = svgAfter(html, 'Bandwidth sweep');
    expect(titlesOf(svg, SWEEP_CLASS)).toHaveLength(run.ceilings.measured?.bandwidth.length ?? -1);
    expect(svg).toContain('working set (bytes, log scale)');
    expect(svg).toContain('bandwidth (GB/s)');
  });

  it('summarises the states, the noisy results and the problems', () => {
    for (const state of ['passed', 'inaccurate', 'errored', 'skipped'] as const) {
      const n = run.results.filter((r) => r.state === state).length;
      expect(html).toMatch(new RegExp(`count-${state}">\\s*<div class="count-n">${n}</div>`));
    }
    const noisy = timedOf(run).filter((r) => r.timing.noisy).length;
    expect(noisy).toBeGreaterThan(0);
    expect(html).toMatch(new RegExp(`count-noisy">\\s*<div class="count-n">${noisy}</div>`));
    const problems = html.slice(html.indexOf('<table class="problems">'), html.indexOf('</table>', html.indexOf('<table class="problems">')));
    expect(problems.match(/badge-errored/g)).toHaveLength(2);
    expect(problems.match(/badge-inaccurate/g)).toHaveLength(2);
    expect(problems).toContain('Maximum memory size exceeded');
    expect(problems).toMatch(/relL2 \S+ &gt; limit 1\.0e-5/);
    expect(html).toContain('fastest (effective GFLOP/s)');
  });

  it('shows one variant table per case with results, in plan order grouped by suite', () => {
    const withResults = run.cases.filter((c) => run.results.some((r) => r.caseId === c.id));
    expect(html.match(/<table class="variants">/g)).toHaveLength(withResults.length);
    const headings = [...html.matchAll(/<span class="case-no">#(\d+)<\/span> <span class="mono case-id">([^<]*)<\/span>/g)];
    expect(headings.map((m) => m[2])).toEqual(run.cases.map((c) => c.id));
    expect(headings.map((m) => Number(m[1]))).toEqual(run.cases.map((_, i) => i + 1));
    expect(html.indexOf('suite <span class="mono">conv</span>')).toBeLessThan(html.indexOf('suite <span class="mono">fusion</span>'));
  });

  it('marks states and noise in the rows', () => {
    const count = (re: RegExp) => (html.match(re) ?? []).length;
    for (const state of ['passed', 'inaccurate', 'errored', 'skipped'] as const) {
      expect(count(new RegExp(`<tr class="row-${state}[ "]`, 'g'))).toBe(run.results.filter((r) => r.state === state).length);
    }
    const noisy = timedOf(run).filter((r) => r.timing.noisy);
    expect(count(/<tr class="row-(passed|inaccurate) row-noisy">/g)).toBe(noisy.length);
    for (const r of noisy) expect(html).toContain(`<span class="badge badge-noisy">noisy ${f.ratioPct(r.timing.stats.cv)}</span>`);
    // errored rows show the phase and the message; skipped rows the reason.
    expect(html).toContain('<span class="phase">in prepare:</span> RangeError: WebAssembly.Memory.grow()');
    expect(html).toContain('applies only to depthwise convs (groups = C = K)');
  });

  it('computes the speedup against conv-direct-naive-f32 of the same case', () => {
    const section = caseSection(html, 1);
    const caseId = run.cases[0]?.id;
    const base = timedOf(run).find((r) => r.caseId === caseId && r.variant === 'conv-direct-naive-f32');
    const gemm = timedOf(run).find((r) => r.caseId === caseId && r.variant === 'conv-im2col-gemm-f32');
    if (!base || !gemm) throw new Error('fixture lacks the baseline or the gemm variant on case #1');
    const speedup = base.timing.stats.median / gemm.timing.stats.median;
    expect(speedup).toBeGreaterThan(1);
    expect(section).toContain(`>${f.sig(speedup, 3)}×`);
    expect(section).toContain('>1×<div class="sub">baseline</div>');
    // The fusion suite has no naive baseline: no speedups there.
    const fusion = caseSection(html, 10);
    expect(fusion).toContain('convbiasrelu-fused-f32');
    expect(fusion).not.toMatch(/\d×(<\/td>|<div)/);
    expect(fusion).not.toContain('baseline');
    // The inaccurate variant's gated metric is flagged over its limit.
    expect(section).toMatch(/class="num gated over">2\.\de-5</);
    // SQNR of a bit-exact result travels as "Infinity" and prints as ∞.
    expect(html).toContain('<td class="num">∞</td>');
  });

  it('shows device probe, ceilings and health warnings', () => {
    expect(html).toContain('ARM Cortex-A53');
    expect(html).toContain('wasm SIMD f32x4 mul+add');
    expect(html).toContain('devices.yaml profile raspberry-pi-3b');
    expect(html).toMatch(/CPU frequency governor was &quot;ondemand&quot;/);
    expect(html).toContain('ARM frequency capping has occurred');
    expect(html).toMatch(/Temperature rose by 24\.7 °C/);
    expect(html).toContain('npm run report -- &lt;run dir&gt;');
  });
});

describe('renderReport: escaping', () => {
  const run = fixture('injection');
  let html = '';
  // The fixture is an emulated device, whose report draws no roofline: render a
  // non-emulated copy too so the injected strings also go through the chart.
  let htmlRoof = '';
  beforeAll(async () => {
    html = readFileSync(await renderReport(run, join(scratch(), 'injection')), 'utf8');
    // The legend names variants: give the timed one a hostile name too.
    const real: RunResults = {
      ...run,
      device: { ...run.device, emulated: false },
      results: run.results.map((r) => (r.state === 'passed' ? { ...r, variant: `var${INJECTION}` } : r)),
    };
    htmlRoof = readFileSync(await renderReport(real, join(scratch(), 'injection-real')), 'utf8');
  });

  it('the fixture really carries the injection in results strings', () => {
    expect(run.device.name).toContain(INJECTION);
    expect(run.results.some((r) => r.state === 'errored' && r.error.includes(INJECTION))).toBe(true);
    expect(run.results.some((r) => r.state === 'passed' && r.algorithm.includes(INJECTION))).toBe(true);
  });

  it('never emits the raw string, in the HTML or in the SVG', () => {
    expect(html).not.toContain(INJECTION);
    expect(html).not.toContain('<script>');
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toContain(`"&'`);
    expect(html).not.toContain('</pre><script>');
    expect(htmlRoof).not.toContain(INJECTION);
    expect(htmlRoof).not.toMatch(/<script/i);
    const svg = svgAfter(htmlRoof, 'id="roofline"');
    expect(svg).not.toMatch(/<script/i);
    expect(svg).not.toContain(`"&'`);
  });

  it('shows the escaped text instead', () => {
    const escaped = '&lt;script&gt;alert(1)&lt;/script&gt;&quot;&amp;&#39;';
    expect(html).toContain(`<h1>lab-${escaped}</h1>`);
    expect(html).toContain(`TypeError: ${escaped}`);
    expect(html).toContain(`stderr line ${escaped}`);
    const svg = svgAfter(htmlRoof, 'id="roofline"');
    const titles = titlesOf(svg, POINT_CLASS);
    expect(titles).toHaveLength(1);
    expect(titles[0]).toContain(`#1 conv/evil${escaped}`);
    // Legend labels (Vega's own escaping) carry the variant name escaped.
    expect(svg).toContain('var&lt;script&gt;');
  });

  it('flags the emulated device and the incomplete status', () => {
    expect(html).toContain('<strong>Emulated device.</strong>');
    expect(html).toContain('<strong>Run incomplete.</strong> runner died: &lt;script&gt;');
    expect(html).toContain('No results for this case (the run stopped before it).');
  });
});

describe('renderReport: a minimal incomplete run', () => {
  const run = fixture('minimal-incomplete');
  it('renders without probe, ceilings or results and shows the status prominently', async () => {
    expect(run.probe).toBeNull();
    expect(run.ceilings).toEqual({ measured: null, theoretical: null });
    expect(run.results).toHaveLength(0);
    const html = readFileSync(await renderReport(run, join(scratch(), 'minimal')), 'utf8');
    expect(html).toContain('<span class="badge badge-status-incomplete">incomplete</span>');
    expect(html).toContain('<div class="banner banner-error" role="alert">');
    expect(html).toContain('ECONNRESET');
    expect(html).toContain('No probe was recorded');
    expect(html).toContain('No results were recorded.');
    expect(html).toContain('Nothing to plot');
    expect(html).not.toContain('<table class="variants">');
    expect(html).toContain('not finished');
  });

  it('rooflineSvg still returns an SVG that says why it is empty', async () => {
    const svg = await rooflineSvg(run);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('nothing to plot');
    expect(titlesOf(svg, POINT_CLASS)).toHaveLength(0);
  });
});

describe('a run that waited for the device lock', () => {
  it('shows the run time without the wait, and the wait separately', () => {
    const run = fixture('rpi3-complete');
    const start = Date.parse(run.startedAt);
    const waited = { ...run, finishedAt: new Date(start + 200_000).toISOString(), lockWaitMs: 150_000 };
    const finished = buildView(waited).meta.find((m) => m.key === 'finished')!.value;
    expect(finished).toContain('(50.0 s; before it, 2 min 30 s waiting for the device lock)');
    const plain = buildView({ ...waited, lockWaitMs: undefined }).meta.find((m) => m.key === 'finished')!.value;
    expect(plain).toContain('(3 min 20 s)');
    expect(plain).not.toContain('lock');
  });
});

describe('renderCombinedIndex', () => {
  it('links every device report by relative path, with status and counts, escaped', async () => {
    const complete = fixture('rpi3-complete');
    const evil = fixture('injection');
    const out = join(scratch(), 'multi');
    const file = await renderCombinedIndex(
      [
        { device: 'rpi3', dir: join(scratch(), 'rpi3'), run: complete, reportPath: join(scratch(), 'rpi3', 'index.html') },
        { device: evil.device.name, dir: join(scratch(), 'evil'), run: evil, reportPath: join(scratch(), 'evil', 'index.html') },
      ],
      out,
    );
    expect(file).toBe(join(out, 'index.html'));
    const html = readFileSync(file, 'utf8');
    expect(html).toContain('<a href="../rpi3/index.html">open report</a>');
    expect(html).toContain('<a href="../evil/index.html">open report</a>');
    expect(html).toContain('<span class="badge badge-passed">27 passed</span>');
    expect(html).toContain('<span class="badge badge-status-incomplete">incomplete</span>');
    expect(html).toContain('measured peak');
    expect(html).not.toContain(INJECTION);
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain('lab-&lt;script&gt;alert(1)&lt;/script&gt;&quot;&amp;&#39;');
  });
});

describe('roofline geometry', () => {
  const run = fixture('rpi3-complete');
  const d = rooflineData(run);
  const measured = run.ceilings.measured;
  const theoretical = run.ceilings.theoretical;
  if (!measured || !theoretical) throw new Error('fixture lacks ceilings');

  it('covers every point and ceiling in its domains', () => {
    for (const p of [...d.points, ...d.executed]) {
      expect(p.x).toBeGreaterThanOrEqual(d.xDomain[0]);
      expect(p.x).toBeLessThanOrEqual(d.xDomain[1]);
      expect(p.y).toBeGreaterThanOrEqual(d.yDomain[0]);
      expect(p.y).toBeLessThanOrEqual(d.yDomain[1]);
    }
    const ridgeM = measured.peakGflops / measured.dramGbps;
    const ridgeT = (theoretical.peakGflops['f32'] ?? NaN) / theoretical.dramGbps;
    for (const r of [ridgeM, ridgeT]) expect(r > d.xDomain[0] && r < d.xDomain[1]).toBe(true);
    expect(d.yDomain[1]).toBeGreaterThan(theoretical.peakGflops['f32'] ?? Infinity);
    expect(d.ridges).toEqual([
      { x: ridgeM, y: measured.peakGflops },
      { x: ridgeT, y: theoretical.peakGflops['f32'] },
    ]);
  });

  it('draws the measured roof as slope then flat, and one slope per cache level above DRAM', () => {
    expect(d.measuredRoof.map((p) => p.y)).toEqual([measured.dramGbps * d.xDomain[0], measured.peakGflops, measured.peakGflops]);
    const levels = cacheBandwidthLevels(run);
    expect(levels.map((l) => l.name)).toEqual(['L1', 'L2']);
    for (const l of levels) expect(l.gbps).toBeGreaterThan(measured.dramGbps * 1.15);
    expect(d.cacheSlopes).toHaveLength(2 * levels.length);
  });

  it('labels every plotted case once, without overlapping labels', () => {
    const plottedCases = new Set(timedOf(run).map((r) => r.caseId));
    expect(d.caseLabels).toHaveLength(plottedCases.size);
    const keys = d.caseLabels.map((l) => `${l.x.toPrecision(6)}|${l.y.toPrecision(6)}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('leaves out points a log axis cannot place, and says so', async () => {
    const first = timedOf(run)[0];
    if (!first) throw new Error('fixture has no timed result');
    const broken: RunResults = {
      ...run,
      results: run.results.map((r) => (r === first ? { ...first, perf: { ...first.perf, gflops: 0 } } : r)),
    };
    expect(rooflineData(broken).notPlotted).toBe(1);
    const svg = await rooflineSvg(broken);
    expect(titlesOf(svg, POINT_CLASS)).toHaveLength(timedOf(run).length - 1);
    const html = readFileSync(await renderReport(broken, join(scratch(), 'broken')), 'utf8');
    expect(html).toContain('1 timed result could not be placed');
  });

  it('draws theoretical ceilings alone when nothing was measured, covering a far higher peak', async () => {
    const v100: RunResults = {
      ...run,
      ceilings: { measured: null, theoretical: { source: 'profile v100', peakGflops: { f32: 15700, f16: 120000 }, dramGbps: 900 } },
    };
    const d2 = rooflineData(v100);
    expect(d2.measuredRoof).toEqual([]);
    expect(d2.cacheSlopes).toEqual([]);
    expect(d2.yDomain[1]).toBeGreaterThanOrEqual(120000);
    expect(d2.xDomain[0]).toBeLessThanOrEqual(Math.min(...d2.points.map((p) => p.x)));
    const svg = await rooflineSvg(v100);
    expect(svg).toContain('f16 peak 120000 GFLOP/s (theoretical)');
    expect(svg).toContain('DRAM 900 GB/s (theoretical)');
    expect(titlesOf(svg, POINT_CLASS)).toHaveLength(timedOf(run).length);
  });

  it('keeps the cache levels of a run without cache sizes to the sweep maximum', () => {
    const noCaches: RunResults = { ...run, probe: null, ceilings: { measured, theoretical: null } };
    const levels = cacheBandwidthLevels(noCaches);
    expect(levels).toHaveLength(1);
    expect(levels[0]?.gbps).toBe(Math.max(...measured.bandwidth.filter((p) => p.kernel === 'triad').map((p) => p.gbps)));
  });
});

describe('attachTitles', () => {
  const svg = '<svg><g><path aria-label="rbtip:0" d="M0,0" fill="red"/><path aria-label="rbtip:1" class="x" d="M1,1"/></g></svg>';
  it('replaces each token with an escaped aria-label and a <title> child', () => {
    const out = attachTitles(svg, [
      { lines: ['a <b>', `"q" & 'r'`], className: 'pt' },
      { lines: ['second'], className: 'pt' },
    ]);
    expect(out).toBe(
      '<svg><g><path aria-label="a &lt;b&gt;; &quot;q&quot; &amp; &#39;r&#39;" d="M0,0" fill="red" class="pt">' +
        '<title>a &lt;b&gt;\n&quot;q&quot; &amp; &#39;r&#39;</title></path>' +
        '<path aria-label="second" class="x pt" d="M1,1"><title>second</title></path></g></svg>',
    );
  });
  it('throws when a tip has no mark or a mark has no tip', () => {
    expect(() => attachTitles(svg, [{ lines: ['only one'], className: 'pt' }])).toThrow(/tip 1/);
    expect(() =>
      attachTitles(
        svg,
        [0, 1, 2].map(() => ({ lines: ['x'], className: 'pt' })),
      ),
    ).toThrow(/1 of 3 chart marks were not found/);
  });
  it('tipToken and escapeXml', () => {
    expect(tipToken(7)).toBe('rbtip:7');
    expect(escapeXml(INJECTION)).toBe('&lt;script&gt;alert(1)&lt;/script&gt;&quot;&amp;&#39;');
  });
});

describe('scopeIds', () => {
  it('prefixes ids and the references to them, and nothing else', () => {
    const svg = '<svg><clipPath id="clip1"><rect/></clipPath><g clip-path="url(#clip1)"><use href="#clip1"/><a href="#other"/></g></svg>';
    expect(scopeIds(svg, 'c')).toBe(
      '<svg><clipPath id="c-clip1"><rect/></clipPath><g clip-path="url(#c-clip1)"><use href="#c-clip1"/><a href="#other"/></g></svg>',
    );
  });
});

describe('health warnings', () => {
  const base = {
    at: '2025-01-01T00:00:00Z',
    when: 'before',
    temperatureC: 40,
    governor: 'performance',
    freqMHz: 1200,
    throttled: '0x0',
    loadAvg: [0.1, 0.1, 0.1],
  };
  it('says nothing for a quiet, performance-governed device', () => {
    expect(healthWarnings([base, { ...base, when: 'after', temperatureC: 45 }], 4)).toEqual([]);
    expect(healthWarnings([{ ...base, governor: null, throttled: null, temperatureC: null }], 4)).toEqual([]);
  });
  it('warns about the governor, throttling, heating and load', () => {
    const w = healthWarnings(
      [
        { ...base, governor: 'powersave', loadAvg: [2.5, 1, 1] },
        { ...base, when: 'after', temperatureC: 82, throttled: 'throttled=0x50005' },
      ],
      4,
    );
    expect(w).toHaveLength(5);
    expect(w[0]).toMatch(/"powersave"/);
    expect(w[1]).toMatch(/under-voltage now, throttled now, under-voltage has occurred, throttling has occurred/);
    expect(w[2]).toMatch(/rose by 42\.0 °C/);
    expect(w[3]).toMatch(/reached 82\.0 °C/);
    expect(w[4]).toMatch(/Load average was 2\.50 before/);
  });
  it('says when other processes loaded the device during the run (contended), and only then', () => {
    const cpu = { seconds: 20, otherCores: 1.4, maxCaseOtherCores: 1.9, maxCase: 'conv/a', steal: null, maxLoadAvg1: 6.2 };
    const w = healthWarnings([base, { ...base, when: 'after', cpu }], 2);
    expect(w).toEqual([
      'The device was busy with other work during the run (other processes used 1.40 cores on average, 1.90 cores during conv/a; load average up to 6.2 during the run (limit 0.50 cores)): its timings are indicative only, and compare gives this run no improved/regressed verdict.',
    ]);
    expect(healthWarnings([base, { ...base, when: 'after', cpu: { ...cpu, otherCores: 0.1, maxCaseOtherCores: 0.2 } }], 2)).toEqual([]);
  });
  it('decodes vcgencmd throttle states', () => {
    expect(decodeThrottled(null)).toBeNull();
    expect(decodeThrottled('0x0')).toEqual([]);
    expect(decodeThrottled('0x20002')).toEqual(['ARM frequency capped now', 'ARM frequency capping has occurred']);
    expect(decodeThrottled('bogus')).toEqual(['unrecognised throttle state "bogus"']);
  });
});

describe('format', () => {
  it('prints numbers for people', () => {
    expect(f.sig(3.7e9 / 1e9, 3)).toBe('3.70');
    expect(f.sig(0.000123, 3)).toBe('1.23e-4');
    expect(f.sig(12345, 3)).toBe('12345');
    expect(f.sig(undefined)).toBe(f.DASH);
    expect(f.sig(NaN)).toBe('NaN');
    expect(f.fixed(Infinity, 1)).toBe('∞');
    expect(f.flopCount(3.7e9)).toBe('3.70 GFLOP');
    expect(f.bytesDecimal(8_781_824)).toBe('8.78 MB');
    expect(f.bytesBinary(524288)).toBe('512 KiB');
    expect(f.cosine(1 - 3.2e-8)).toBe('1−3.2e-8');
    expect(f.cosine(0.5)).toBe('0.5000');
    expect(f.duration(0.25)).toBe('250 µs');
    expect(f.duration(11045)).toBe('11.0 s');
    expect(f.duration(2_502_489)).toBe('41 min 42 s');
    expect(f.pct(57.43)).toBe('57.4%');
    expect(f.timestamp('2025-03-14T09:21:05.412Z')).toBe('2025-03-14 09:21:05 UTC');
    expect(f.niceUp(11.9)).toBe(20);
    expect(f.niceDown(0.031)).toBe(0.02);
  });
});

describe('roofline percentages count executed FLOPs; a point above its roof is never "closest"', () => {
  const measured = { peakGflops: 40, peakSamples: [40], peakMethod: 'test', bandwidth: [], dramGbps: 10 };

  it('computePerf holds a fast algorithm to the arithmetic it performs', () => {
    // Direct count 4 GFLOP, executed 1 GFLOP, 25 ms: 160 effective GFLOP/s (4x the 40 GFLOP/s roof), 40 executed.
    const cost = { flops: 4e9, executedFlops: 1e9, bytes: 1e7, intensity: 400 };
    const p = computePerf(cost, 25, measured, null);
    expect(p.gflops).toBeCloseTo(160, 9);
    expect(p.executedGflops).toBeCloseTo(40, 9);
    expect(p.attainableMeasured).toBe(40);
    expect(p.pctMeasured).toBeCloseTo(100, 9);
    // Without executedFlops the direct count is what it executes.
    expect(computePerf({ flops: 1e9, bytes: 1e7, intensity: 100 }, 50, measured, null).pctMeasured).toBeCloseTo(50, 9);
    // Memory-bound at the executed intensity: 1e8 FLOP over 1e8 bytes -> 1 FLOP/B x 10 GB/s = 10 GFLOP/s attainable.
    const mem = computePerf({ flops: 4e8, executedFlops: 1e8, bytes: 1e8, intensity: 4 }, 20, measured, null);
    expect(mem.attainableMeasured).toBeCloseTo(10, 9);
    expect(mem.pctMeasured).toBeCloseTo(50, 9);
  });

  it('highlights the closest point under its roof and lists those above it apart', () => {
    const run = fixture('rpi3-complete');
    const timed = timedOf(run).filter((r) => r.perf.pctMeasured !== undefined);
    expect(timed.length).toBeGreaterThan(2);
    timed[0]!.perf.pctMeasured = 410;
    timed[1]!.perf.pctMeasured = 97;
    for (const r of timed.slice(2)) r.perf.pctMeasured = 20;
    const h = buildView(run).summary.highlights;
    const closest = h.find((x) => x.key === 'closest to the measured roofline');
    expect(closest?.value).toMatch(new RegExp(`^97(\\.0)?% of attainable \\(executed FLOPs\\): ${timed[1]!.variant}`));
    const above = h.find((x) => x.key === 'above the measured roofline');
    expect(above?.value).toContain(`${timed[0]!.variant} (up to 410`);
    expect(above?.warn).toBe(true);
  });

  it("shows the median interval's actual coverage, not the level it was asked for", () => {
    const run = fixture('rpi3-complete');
    const caseId = run.cases[0]!.id;
    for (const r of timedOf(run).filter((x) => x.caseId === caseId))
      r.timing.stats = { ...r.timing.stats, ...computeStatistics(r.timing.samples.slice(0, 5), 0.99) };
    const c = buildView(run).suites[0]!.cases.find((x) => x.id === caseId)!;
    expect(c.ciLabel).toBe('93.8% CI');
    const t = c.rows.find((r) => r.timed)?.timed;
    expect(t?.ci).toMatch(/ \(93\.8%\)$/);
    // 8 samples reach 99% (99.2%): labelled 99%, nothing added.
    const other = buildView(fixture('rpi3-complete')).suites[0]!.cases[0]!;
    expect(other.ciLabel).toBe('99% CI');
  });
});
