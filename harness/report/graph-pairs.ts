/**
 * The fusion and tiling suites' views (docs/fusion.md, docs/tiling.md), from the stored results alone:
 *
 * - fusion: per pair, each way's median time, its speedup over the unfused way (ratio of medians with the
 *   interval from the medians' confidence intervals), the modeled bytes and the bytes saved; and one roofline
 *   chart with both points of every pair (modeled bytes: a fused point sits right of its unfused one).
 * - tiling: per chain, the median time against tile size with the layer-by-layer time as a line and the largest
 *   tile whose modeled working set fits each cache level marked (the cache sizes probed in the run, else the
 *   device profile's); the modeled bytes and the recomputed FLOPs against tile size; the best tile for this
 *   device (the fastest tiled schedule that passed); and the chain's point on the roofline untiled and at the
 *   best tile.
 *
 * Every text is autoescaped by the template (templates/graph-pairs.njk); the SVGs are Vega's (it escapes its
 * text) with titles attached by attachTitles (escaped). Pure apart from the chart rendering.
 */
import nunjucks from 'nunjucks';
import type { TopLevelSpec } from 'vega-lite';
import { isTimed, type CaseResult, type RunResults, type TimedResult } from '../../core/contracts.js';
import { variantColours } from './colours.js';
import { bytesBinary, bytesDecimal, duration, ms, sig } from './format.js';
import { isDecisive, speedupOf, speedupText, type Speedup } from './speedup.js';
import { attachTitles, CHART_CONFIG, tipToken, vegaLiteToSvg, type Tip } from './svg.js';

const FUSED = 'fusion-fused-f32';
const UNFUSED = 'fusion-unfused-f32';
const LAYER = 'tiling-layer-by-layer-f32';

const passed = (r: CaseResult | undefined): r is TimedResult => isTimed(r) && r.state === 'passed';
const num = (r: CaseResult, k: string): number | undefined => (typeof r.info?.[k] === 'number' ? (r.info[k] as number) : undefined);

export interface WayRow {
  variant: string;
  state: string;
  median: string;
  speedup: string;
  bytes: string;
  saved: string;
  gflops: string;
  intensity: string;
}

export interface PairView {
  caseId: string;
  title: string;
  rows: WayRow[];
  /** "fused 1.12x unfused (0.95-1.31), 3.4x fewer modeled bytes", or why not. */
  summary: string;
}

/** A roofline point (modeled intensity, effective GFLOP/s). */
interface RoofPoint {
  series: string;
  pair: string;
  x: number;
  y: number;
  label: string;
  tip: string;
}

/** Modeled bytes of `b` against `base`: "3.63x fewer", "1.06x more" or "the same" (never "0.94x fewer"). */
export function bytesCut(base: number, b: number): string {
  const r = base / b;
  if (Math.abs(r - 1) < 0.005) return 'the same';
  return r > 1 ? `${sig(r)}x fewer` : `${sig(1 / r)}x more`;
}

/** The "saved" column: "3.63x fewer (6.42 MB)", "1.06x more (+1.1 MB)", "the same". */
function savedText(base: number, b: number): string {
  const cut = bytesCut(base, b);
  return cut === 'the same' ? cut : `${cut} (${base >= b ? '' : '+'}${bytesDecimal(Math.abs(base - b))})`;
}

/**
 * A way against its baseline in words, the verdict first: "faster than X: speedup 1.12× (1.05–1.2×)", "slower than
 * X: ...", or "no clear difference from X: speedup ~1.06× (...), noisy" when the timings are noisy or the interval
 * holds 1× (isDecisive), so a 0.98× is never read as a speed-up.
 */
export function versusText(sp: Speedup, baseline: string): string {
  const verdict = isDecisive(sp) ? `${sp.value > 1 ? 'faster' : 'slower'} than ${baseline}` : `no clear difference from ${baseline}`;
  return `${verdict}: speedup ${speedupText(sp)}`;
}

function caseTitle(run: RunResults, caseId: string): string {
  return run.cases.find((c) => c.id === caseId)?.description ?? caseId;
}

/** The fusion view, or null when the run has no fusion results. */
export function buildFusionView(run: RunResults): { pairs: PairView[]; points: Omit<RoofPoint, 'tip'>[] } | null {
  const ids = [...new Set(run.results.filter((r) => r.caseId.startsWith('fusion/')).map((r) => r.caseId))];
  if (ids.length === 0) return null;
  const points: Omit<RoofPoint, 'tip'>[] = [];
  const pairs = ids.map((caseId): PairView => {
    const rs = run.results.filter((r) => r.caseId === caseId);
    const base = rs.find((r) => r.variant === UNFUSED);
    const baseT = isTimed(base) ? base : undefined;
    const rows = rs.map((r): WayRow => {
      const t = isTimed(r) ? r : undefined;
      const sp = t && baseT && r !== base ? speedupOf(t, baseT) : undefined;
      if (t && t.perf.gflops > 0 && t.cost.intensity > 0) {
        points.push({
          series: r.variant,
          pair: caseId.replace(/^fusion\//, ''),
          x: t.cost.intensity,
          y: t.perf.gflops,
          label: r.variant.replace(/^fusion-|-f32$/g, ''),
        });
      }
      return {
        variant: r.variant,
        state: r.state === 'skipped' ? `skipped: ${r.reason}` : r.state === 'errored' ? `errored in ${r.phase}: ${r.error}` : r.state,
        median: t ? duration(t.timing.stats.median) : '—',
        speedup: r === base ? 'baseline' : sp ? speedupText(sp) : '—',
        bytes: r.cost.bytes > 0 ? bytesDecimal(r.cost.bytes) : '—',
        saved: base && r !== base && r.cost.bytes > 0 && base.cost.bytes > 0 ? savedText(base.cost.bytes, r.cost.bytes) : '—',
        gflops: t ? sig(t.perf.gflops) : '—',
        intensity: r.cost.intensity > 0 ? sig(r.cost.intensity) : '—',
      };
    });
    const fused = rs.find((r) => r.variant === FUSED);
    let summary: string;
    if (passed(fused) && passed(base)) {
      const sp = speedupOf(fused, base);
      summary = `fused: ${sp ? versusText(sp, 'the unfused way') : 'no speedup (a median is not a positive time)'}; ${bytesCut(base.cost.bytes, fused.cost.bytes)} modeled bytes`;
    } else {
      summary = `no speedup: ${!fused ? 'the fused way did not run' : !base ? 'the unfused way did not run' : `fused ${fused.state}, unfused ${base.state}`} (a way that fails its checks gets no speedup)`;
    }
    return { caseId, title: caseTitle(run, caseId), rows, summary };
  });
  return { pairs, points };
}

/** A tiled result's schedule in words: "28x28" (halos recomputed) or "strips of 8 rows, halos cached". */
function tileName(r: CaseResult): string {
  const t = num(r, 'tile');
  return r.info?.halo === 'cached' ? `strips of ${t} rows, halos cached` : `${t}x${t}`;
}

export interface TileRow {
  variant: string;
  tile: string;
  tiles: string;
  median: string;
  speedup: string;
  bytes: string;
  workingSet: string;
  fits: string;
  recompute: string;
  state: string;
}

export interface ChainView {
  caseId: string;
  title: string;
  rows: TileRow[];
  best: string;
  cacheNote: string;
  /** For the charts. */
  /** Per tiled schedule (halos recomputed: square tiles; cached: full-width strips of `tile` rows). */
  series: {
    tile: number;
    halo: 'recomputed' | 'cached';
    ms: number | null;
    low: number | null;
    high: number | null;
    bytes: number;
    recompute: number;
    ws: number;
  }[];
  layerMs: number | null;
  layerBytes: number | null;
  caches: { level: string; bytes: number; tile: number | null }[];
  roof: Omit<RoofPoint, 'tip'>[];
}

/** The run's cache sizes (bytes per core): probed, else the device profile's. */
export function runCaches(run: RunResults): { caches: { level: string; bytes: number }[]; source: string } {
  const p = run.probe?.cpu.cache;
  const probed = p ? (['l1d', 'l2', 'l3'] as const).filter((k) => (p[k] ?? 0) > 0).map((k) => ({ level: k.toUpperCase(), bytes: p[k]! })) : [];
  if (probed.length) return { caches: probed, source: 'probed in this run' };
  const t = run.ceilings.theoretical?.caches ?? {};
  const prof = Object.entries(t)
    .filter(([k, v]) => ['l1d', 'l2', 'l3'].includes(k) && v > 0)
    .map(([k, v]) => ({ level: k.toUpperCase(), bytes: v }));
  return prof.length
    ? { caches: prof, source: `the device profile (${run.device.profile ?? 'none'})` }
    : { caches: [], source: 'none known (no probe, no profile caches)' };
}

/** The tiling view, or null when the run has no tiling results. */
export function buildTilingView(run: RunResults): ChainView[] | null {
  const ids = [...new Set(run.results.filter((r) => r.caseId.startsWith('tiling/')).map((r) => r.caseId))];
  if (ids.length === 0) return null;
  const { caches, source } = runCaches(run);
  return ids.map((caseId): ChainView => {
    const rs = run.results.filter((r) => r.caseId === caseId);
    const layer = rs.find((r) => r.variant === LAYER);
    const layerT = isTimed(layer) ? layer : undefined;
    const tiled = rs.filter((r) => r.variant !== LAYER).sort((a, b) => (num(a, 'tile') ?? 0) - (num(b, 'tile') ?? 0));
    const series = tiled
      .filter((r) => num(r, 'tile') !== undefined)
      .map((r) => {
        const t = isTimed(r) && r.state === 'passed' ? r : undefined;
        return {
          halo: r.info?.halo === 'cached' ? ('cached' as const) : ('recomputed' as const),
          tile: num(r, 'tile')!,
          ms: t ? t.timing.stats.median : null,
          low: t ? t.timing.stats.ciLow : null,
          high: t ? t.timing.stats.ciHigh : null,
          bytes: r.cost.bytes,
          recompute: 100 * (num(r, 'recomputeOverhead') ?? 0),
          ws: num(r, 'workingSet') ?? 0,
        };
      });
    const best = tiled.filter(passed).sort((a, b) => a.timing.stats.median - b.timing.stats.median)[0];
    const rows = [layer, ...tiled]
      .filter((r): r is CaseResult => r !== undefined)
      .map((r): TileRow => {
        const t = isTimed(r) ? r : undefined;
        const sp = t && layerT && r !== layer ? speedupOf(t, layerT) : undefined;
        const ws = num(r, 'workingSet');
        const rc = num(r, 'recomputeOverhead');
        return {
          variant: r.variant,
          tile: r === layer ? 'whole image' : tileName(r),
          tiles: `${num(r, 'tiles') ?? '—'}`,
          median: t ? duration(t.timing.stats.median) : '—',
          speedup: r === layer ? 'baseline' : sp ? speedupText(sp) : '—',
          bytes: r.cost.bytes > 0 ? bytesDecimal(r.cost.bytes) : '—',
          workingSet: ws !== undefined ? bytesBinary(ws) : '—',
          fits: typeof r.info?.fits === 'string' ? r.info.fits : '—',
          recompute: rc !== undefined ? `${(100 * rc).toFixed(1)}%` : '—',
          state: r.state === 'skipped' ? `skipped: ${r.reason}` : r.state === 'errored' ? `errored in ${r.phase}: ${r.error}` : r.state,
        };
      });
    const cacheMarks = caches.map((c) => {
      const fit = series.filter((s) => s.halo === 'recomputed' && s.ws > 0 && s.ws <= c.bytes).map((s) => s.tile);
      return { level: c.level, bytes: c.bytes, tile: fit.length ? Math.max(...fit) : null };
    });
    const modelCache = rs.find((r) => r.info?.cacheSource !== undefined)?.info;
    const roof: Omit<RoofPoint, 'tip'>[] = [];
    const chain = caseId.replace(/^tiling\//, '');
    if (passed(layer) && layer.cost.intensity > 0)
      roof.push({ series: 'layer by layer', pair: chain, x: layer.cost.intensity, y: layer.perf.gflops, label: 'untiled' });
    if (best && best.cost.intensity > 0) roof.push({ series: 'best tile', pair: chain, x: best.cost.intensity, y: best.perf.gflops, label: tileName(best) });
    return {
      caseId,
      title: caseTitle(run, caseId),
      rows,
      best: bestText(best, layer),
      cacheNote:
        `Modeled bytes are the traffic model's (reference/chain-traffic.ts) for ${modelCache ? `${bytesBinary(Number(modelCache.cacheBytes))} (${String(modelCache.cacheSource)})` : "the run's L2"}; ` +
        `cache sizes marked: ${caches.length ? caches.map((c) => `${c.level} ${bytesBinary(c.bytes)}`).join(', ') : 'none'} (${source}).`,
      series,
      layerMs: layerT ? layerT.timing.stats.median : null,
      layerBytes: layer ? layer.cost.bytes : null,
      caches: cacheMarks,
      roof,
    };
  });
}

/**
 * The chain's verdict: the best tile only when it is faster than layer by layer (clean timings, interval above 1×);
 * a fastest tiled schedule that is slower, or not clearly different, is named as such, never "best".
 */
function bestText(best: TimedResult | undefined, layer: CaseResult | undefined): string {
  if (!best) return 'no tiled schedule passed its checks: no best tile';
  const layerT = isTimed(layer) && layer.state === 'passed' ? layer : undefined;
  const sp = layerT ? speedupOf(best, layerT) : undefined;
  const bytes = layer && layer.cost.bytes > 0 && best.cost.bytes > 0 ? `${bytesCut(layer.cost.bytes, best.cost.bytes)} modeled bytes` : 'modeled bytes —';
  const what = `${tileName(best)} (${duration(best.timing.stats.median)})`;
  if (!sp) return `fastest tiled schedule: ${what}; no layer-by-layer time to compare with; ${bytes}`;
  const vs = `${versusText(sp, 'layer by layer')}; ${bytes}`;
  if (isDecisive(sp) && sp.value > 1) return `best tile on this device: ${what}, ${vs}`;
  if (isDecisive(sp)) return `no tiled schedule beats layer by layer on this device: the fastest, ${what}, is ${vs}`;
  return `no tile clearly beats layer by layer on this device: the fastest tiled schedule, ${what}, has ${vs}`;
}

/** The points with tip tokens, and the tips. */
function withTips(points: Omit<RoofPoint, 'tip'>[], lines: (p: Omit<RoofPoint, 'tip'>) => string[], className: string): { values: RoofPoint[]; tips: Tip[] } {
  const tips: Tip[] = [];
  const values = points
    .filter((p) => p.x > 0 && p.y > 0 && Number.isFinite(p.x) && Number.isFinite(p.y))
    .map((p) => {
      tips.push({ lines: lines(p), className });
      return { ...p, tip: tipToken(tips.length - 1) };
    });
  return { values, tips };
}

/** Points on the run's measured roofline (peak and DRAM bandwidth, where measured), a line joining each pair's points. */
async function pairRooflineSvg(run: RunResults, points: Omit<RoofPoint, 'tip'>[], id: string, what: string): Promise<string | null> {
  const { values, tips } = withTips(points, (p) => [`${p.pair}: ${p.series}`, `${sig(p.x)} FLOP/byte (modeled), ${sig(p.y)} GFLOP/s`], 'rb-pair-point');
  if (values.length === 0) return null;
  const m = run.ceilings.measured;
  const colours = variantColours(run.results);
  const series = [...new Set(values.map((v) => v.series))];
  const xs = values.map((v) => v.x);
  const lo = Math.min(...xs) / 2;
  const hi = Math.max(...xs) * 2;
  const roof = m
    ? Array.from({ length: 40 }, (_, i) => {
        const x = lo * (hi / lo) ** (i / 39);
        return { x, y: Math.min(m.peakGflops, m.dramGbps * x) };
      })
    : [];
  const x = { field: 'x', type: 'quantitative', title: `FLOP per modeled byte (${what})`, scale: { type: 'log', domain: [lo, hi] } } as const;
  const y = { field: 'y', type: 'quantitative', title: 'effective GFLOP/s', scale: { type: 'log' } } as const;
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 560,
    height: 260,
    config: CHART_CONFIG,
    layer: [
      ...(roof.length ? [{ data: { values: roof }, mark: { type: 'line', color: '#444', strokeDash: [4, 2] }, encoding: { x, y } }] : []),
      {
        data: { values },
        layer: [
          { mark: { type: 'line', opacity: 0.35, color: '#888' }, encoding: { x, y, detail: { field: 'pair' } } },
          {
            mark: { type: 'point', filled: true, size: 55 },
            encoding: {
              x,
              y,
              // The run's colour of each variant (as on the main roofline), and the names in full: 'fusion-ort-disabled-f32' was cut to 'fusion-ort-disabl...'.
              color: {
                field: 'series',
                type: 'nominal',
                title: 'way',
                ...(series.every((v) => colours.has(v)) ? { scale: { domain: series, range: series.map((v) => colours.get(v)!) } } : {}),
                legend: { labelLimit: 0 },
              },
              description: { field: 'tip' },
            },
          },
        ],
      },
    ],
  } as unknown as TopLevelSpec;
  return attachTitles(await vegaLiteToSvg(spec, id), tips);
}

/** A chain's time against tile size, layer by layer as a line, the cache-fit tiles marked. */
async function tileTimeSvg(c: ChainView, id: string): Promise<string | null> {
  const pts = c.series.filter((s) => s.ms !== null);
  if (pts.length === 0) return null;
  const tips: Tip[] = [];
  const values = pts.map((s) => {
    tips.push({
      lines: [
        s.halo === 'cached' ? `strips of ${s.tile} rows, halos cached` : `${s.tile}x${s.tile} tiles`,
        `median ${ms(s.ms)} ms (99% CI ${ms(s.low)}–${ms(s.high)} ms)`,
        `working set ${bytesBinary(s.ws)}`,
      ],
      className: 'rb-tile-point',
    });
    return { ...s, tip: tipToken(tips.length - 1) };
  });
  const x = { field: 'tile', type: 'quantitative', title: 'tile (output pixels per side; cached: strip rows)', scale: { type: 'log', base: 2 } } as const;
  const halo = { field: 'halo', type: 'nominal', title: 'halos' } as const;
  // One mark per tile: levels whose largest fitting tile is the same share it (e.g. L2 and L3 both fit every tile).
  const byTile = new Map<number, string[]>();
  for (const k of c.caches) if (k.tile !== null) byTile.set(k.tile, [...(byTile.get(k.tile) ?? []), `${k.level} ${bytesBinary(k.bytes)}`]);
  // Short labels ("fits L2 2.00 MiB"): the caption says what the line is; a long one ran past the axis and grew the chart.
  const marks = [...byTile].map(([tile, levels]) => ({ tile, label: `fits ${levels.join(', ')}` }));
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 560,
    height: 220,
    config: CHART_CONFIG,
    layer: [
      ...(c.layerMs !== null
        ? [
            {
              data: { values: [{ ms: c.layerMs, label: 'layer by layer' }] },
              layer: [
                { mark: { type: 'rule', color: '#b04', strokeDash: [6, 3] }, encoding: { y: { field: 'ms', type: 'quantitative' } } },
                {
                  mark: { type: 'text', color: '#b04', align: 'left', x: 4, dy: -6, fontSize: 10 },
                  encoding: { y: { field: 'ms', type: 'quantitative' }, text: { field: 'label' } },
                },
              ],
            },
          ]
        : []),
      ...(marks.length
        ? [
            {
              data: { values: marks },
              layer: [
                { mark: { type: 'rule', color: '#2a7', strokeDash: [2, 2] }, encoding: { x } },
                {
                  mark: { type: 'text', color: '#2a7', angle: 270, align: 'right', dx: -4, dy: -4, y: 4, fontSize: 9 },
                  encoding: { x, text: { field: 'label' } },
                },
              ],
            },
          ]
        : []),
      {
        data: { values },
        layer: [
          { mark: { type: 'rule' }, encoding: { x, y: { field: 'low', type: 'quantitative' }, y2: { field: 'high' }, color: halo } },
          { mark: { type: 'line', point: false }, encoding: { x, y: { field: 'ms', type: 'quantitative', title: 'median time (ms)' }, color: halo } },
          {
            mark: { type: 'point', filled: true, size: 50 },
            encoding: { x, y: { field: 'ms', type: 'quantitative' }, color: halo, description: { field: 'tip' } },
          },
        ],
      },
    ],
  } as unknown as TopLevelSpec;
  return attachTitles(await vegaLiteToSvg(spec, id), tips);
}

/** A chain's modeled bytes and recompute overhead against tile size (two panels). */
async function tileModelSvg(c: ChainView, id: string): Promise<string | null> {
  const recomputed = c.series.filter((s) => s.halo === 'recomputed');
  if (recomputed.length === 0) return null;
  const tips: Tip[] = [];
  const values = recomputed.flatMap((s) => {
    tips.push({ lines: [`${s.tile}x${s.tile} tiles`, `modeled bytes ${bytesDecimal(s.bytes)}`], className: 'rb-tile-model' });
    const a = { tile: s.tile, value: s.bytes / 1e6, panel: 'modeled off-chip MB', tip: tipToken(tips.length - 1) };
    tips.push({ lines: [`${s.tile}x${s.tile} tiles`, `recomputed FLOPs ${s.recompute.toFixed(1)}% of the chain's`], className: 'rb-tile-model' });
    return [a, { tile: s.tile, value: Math.max(s.recompute, 0), panel: 'recomputed FLOPs (%)', tip: tipToken(tips.length - 1) }];
  });
  const x = { field: 'tile', type: 'quantitative', title: 'tile (output pixels per side)', scale: { type: 'log', base: 2 } } as const;
  const y = { field: 'value', type: 'quantitative', title: null } as const;
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: CHART_CONFIG,
    data: { values },
    facet: { column: { field: 'panel', type: 'nominal', title: null } },
    spec: {
      width: 260,
      height: 180,
      layer: [
        { mark: { type: 'line' }, encoding: { x, y } },
        { mark: { type: 'point', filled: true, size: 40 }, encoding: { x, y, description: { field: 'tip' } } },
      ],
    },
    resolve: { scale: { y: 'independent' } },
  } as unknown as TopLevelSpec;
  return attachTitles(await vegaLiteToSvg(spec, id), tips);
}

/** A rendered chart for the template (built only from escaped text: Vega escapes its text, attachTitles the titles). */
const safe = (svg: string | null): nunjucks.runtime.SafeString | null => (svg === null ? null : new nunjucks.runtime.SafeString(svg));

/** The template's data (templates/graph-pairs.njk) and the charts, for the suites the run has. */
export async function graphPairSections(run: RunResults): Promise<{ fusion: object | null; tiling: object | null }> {
  const f = buildFusionView(run);
  const t = buildTilingView(run);
  const emulated = run.device.emulated;
  return {
    fusion: f && {
      emulated,
      pairs: f.pairs,
      roofline: emulated ? null : safe(await pairRooflineSvg(run, f.points, 'rb-fusion-roof', 'fused: only the unavoidable tensors; unfused: every pass')),
    },
    tiling: t && {
      emulated,
      chains: await Promise.all(
        t.map(async (c, i) => ({
          ...c,
          timeSvg: emulated ? null : safe(await tileTimeSvg(c, `rb-tile-time-${i}`)),
          modelSvg: safe(await tileModelSvg(c, `rb-tile-model-${i}`)),
        })),
      ),
      roofline: emulated
        ? null
        : safe(
            await pairRooflineSvg(
              run,
              t.flatMap((c) => c.roof),
              'rb-tiling-roof',
              "the traffic model at the device's L2",
            ),
          ),
    },
  };
}
