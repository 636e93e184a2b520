/**
 * The fusion and tiling views' words (harness/report/graph-pairs.ts) on synthetic results: a way slower than its
 * baseline is called slower, never a speed-up or "the best tile"; more modeled bytes are "more", not "0.94x fewer";
 * microsecond medians read in µs. Pure: no run.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RunResults, type CaseResult } from '../core/contracts.js';
import { variantColour } from '../harness/report/colours.js';
import { buildFusionView, buildTilingView, bytesCut, graphPairSections } from '../harness/report/graph-pairs.js';

const fixture = RunResults.parse(JSON.parse(readFileSync(new URL('./fixtures/results/rpi3-complete.json', import.meta.url), 'utf8')));
const template = fixture.results.find((r) => r.state === 'passed')!;

/** A passed result with this median (ms), a ±2% interval, clean unless `noisy`, and these modeled bytes. */
function way(caseId: string, variant: string, median: number, bytes: number, info: Record<string, string | number> = {}, noisy = false): CaseResult {
  const r = structuredClone(template);
  if (r.state !== 'passed') throw new Error('the fixture has no passed result');
  r.caseId = caseId;
  r.variant = variant;
  r.cost = { flops: 1e6, bytes, intensity: 1e6 / bytes };
  r.timing.stats = { ...r.timing.stats, median, ciLow: median * 0.98, ciHigh: median * 1.02 };
  r.timing.noisy = noisy;
  r.info = info;
  return r;
}

function run(results: CaseResult[]): RunResults {
  return { ...fixture, results, cases: [] };
}

describe('the fusion view', () => {
  it('calls a fused way that is slower "slower", in µs, with the bytes it saves', () => {
    const v = buildFusionView(
      run([
        way('fusion/p', 'fusion-unfused-f32', 0.0016, 22_900),
        way('fusion/p', 'fusion-fused-f32', 0.0029, 7_140),
        way('fusion/p', 'fusion-ort-all-f32', 0.0117, 24_000),
      ]),
    )!;
    const p = v.pairs[0]!;
    expect(p.summary).toMatch(/^fused: slower than the unfused way: speedup 0\.552× \(0\.53–0\.574×\); 3\.21x fewer modeled bytes$/);
    expect(p.rows.map((r) => r.median)).toEqual(['1.60 µs', '2.90 µs', '11.7 µs']);
    expect(p.rows.map((r) => r.saved)).toEqual(['—', '3.21x fewer (15.8 kB)', '1.05x more (+1.10 kB)']);
  });

  it('says "no clear difference" when the interval holds 1x or a timing is noisy, and "faster" only when clean', () => {
    const close = buildFusionView(run([way('fusion/p', 'fusion-unfused-f32', 1.0, 2e6), way('fusion/p', 'fusion-fused-f32', 0.99, 1e6)]))!;
    expect(close.pairs[0]!.summary).toMatch(/^fused: no clear difference from the unfused way: speedup 1\.01× .*; 2\.00x fewer modeled bytes$/);
    const noisy = buildFusionView(run([way('fusion/p', 'fusion-unfused-f32', 2.0, 2e6), way('fusion/p', 'fusion-fused-f32', 1.0, 1e6, {}, true)]))!;
    expect(noisy.pairs[0]!.summary).toMatch(/^fused: no clear difference from the unfused way: speedup ~2× \(1\.92–2\.08×\), noisy; /);
    const fast = buildFusionView(run([way('fusion/p', 'fusion-unfused-f32', 2.0, 2e6), way('fusion/p', 'fusion-fused-f32', 1.0, 1e6)]))!;
    expect(fast.pairs[0]!.summary).toMatch(/^fused: faster than the unfused way: speedup 2× \(1\.92–2\.08×\); 2\.00x fewer modeled bytes$/);
  });
});

describe('the tiling view', () => {
  const layer = (ms: number) => way('tiling/c', 'tiling-layer-by-layer-f32', ms, 18.0e6);
  const tiled = (ms: number, bytes: number) => way('tiling/c', 'tiling-cached-28-f32', ms, bytes, { tile: 28, halo: 'cached', tiles: 4, workingSet: 2e6 });

  it('never calls a tiled schedule slower than layer by layer the best tile, and says more bytes are more', () => {
    const slower = buildTilingView(run([layer(67.4), tiled(70.2, 19.1e6)]))![0]!;
    expect(slower.best).toBe(
      'no tiled schedule beats layer by layer on this device: the fastest, strips of 28 rows, halos cached (70.2 ms), is slower than layer by layer: speedup 0.96× (0.922–0.999×); 1.06x more modeled bytes',
    );
    expect(slower.best).not.toContain('best tile on this device');
  });

  it('names the best tile when it is clearly faster, and a tie as no clear difference', () => {
    expect(buildTilingView(run([layer(80), tiled(40, 6e6)]))![0]!.best).toBe(
      'best tile on this device: strips of 28 rows, halos cached (40.0 ms), faster than layer by layer: speedup 2× (1.92–2.08×); 3.00x fewer modeled bytes',
    );
    expect(buildTilingView(run([layer(48.2), tiled(48.5, 18.0e6)]))![0]!.best).toMatch(
      /^no tile clearly beats layer by layer on this device: the fastest tiled schedule, .* has no clear difference from layer by layer: speedup 0\.994× .*; the same modeled bytes$/,
    );
  });
});

describe('the tile-time chart', () => {
  it('marks the cache-fit tile with a short label (a long one ran past the axis and left a blank band under the chart)', async () => {
    const small = (t: number) => way('tiling/c', `tiling-tiled-${t}-f32`, 50, 10e6, { tile: t, tiles: 4, workingSet: 16_000 });
    const { tiling } = await graphPairSections(run([way('tiling/c', 'tiling-layer-by-layer-f32', 60, 18e6), small(8), small(28)]));
    const svg = String((tiling as { chains: { timeSvg: unknown }[] }).chains[0]!.timeSvg);
    expect(svg).toContain('fits L1D 32.0 KiB, L2 512 KiB');
    expect(svg).not.toContain('largest tile fitting');
  });
});

describe("the fusion view's chart", () => {
  it("names every way in full in its legend, in the run's colour of each variant (the legend cut 'fusion-ort-disabl…')", async () => {
    const names = ['fusion-unfused-f32', 'fusion-fused-f32', 'fusion-ort-disabled-f32', 'fusion-ort-all-f32'];
    const r = run(names.map((n, i) => way('fusion/p', n, 0.002 + i * 0.001, 20_000 - i * 1000)));
    const { fusion } = await graphPairSections(r);
    const svg = String((fusion as { roofline: unknown }).roofline);
    // The legend's labels are text elements of their own: each name whole, none ending in an ellipsis.
    for (const n of names) expect(svg).toMatch(new RegExp(`>${n}</text>`));
    expect(svg).not.toMatch(/…<\/text>/);
    expect(svg.toLowerCase()).toContain(variantColour('fusion-ort-disabled-f32', r.results[2]!.algorithm).toLowerCase());
  });
});

describe('bytesCut', () => {
  it('reads fewer, more, or the same, never a ratio below 1 "fewer"', () => {
    expect(bytesCut(8.86e6, 2.44e6)).toBe('3.63x fewer');
    expect(bytesCut(18.0e6, 19.1e6)).toBe('1.06x more');
    expect(bytesCut(1e6, 1.001e6)).toBe('the same');
  });
});
