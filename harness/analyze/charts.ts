/**
 * The analyzer's charts, rendered server-side to SVG with Vega-Lite (as the run
 * report's are, harness/report/svg.ts): the roofline with one point per layer
 * and one per model, and "where the time goes" (predicted time per operator
 * class, per model). Every point and bar carries a hover title; all text is
 * escaped by Vega or attachTitles.
 */
import type { TopLevelSpec } from 'vega-lite';
import { logTicks } from '../report/charts.js';
import { flopCount, niceDown, niceUp, pct, sig } from '../report/format.js';
import { attachTitles, CHART_CONFIG, tipToken, vegaLiteToSvg, type Tip } from '../report/svg.js';
import { KINDS, type Analysis } from './model.js';

/** Classes of the marks, for tests and CSS. */
export const LAYER_CLASS = 'rb-layer-point';
export const MODEL_CLASS = 'rb-model-point';
export const TIME_CLASS = 'rb-time-bar';

const WIDTH = 980;
const HEIGHT = 520;
/** Model colours (Tableau 10). */
const MODEL_COLORS = ['#4c78a8', '#f58518', '#e45756', '#72b7b2', '#54a24b', '#eeca3b', '#b279a2', '#ff9da6', '#9d755d', '#bab0ac'];
/** Operator-class colours, in KINDS order: convolutions in blues and greens, the rest warm and grey. */
const KIND_COLORS = ['#1f4e8c', '#4c78a8', '#72b7b2', '#54a24b', '#b279a2', '#f58518', '#eeca3b', '#e45756', '#ff9da6', '#9d9da1'];

export function modelColors(a: Analysis): string[] {
  return a.models.map((_, i) => MODEL_COLORS[i % MODEL_COLORS.length]!);
}

/** The roofline chart: the predicting roof (and a reference roof), layers on it, models at their overall intensity. */
export async function analyzeRooflineSvg(a: Analysis): Promise<string> {
  const { peakGflops: peak, dramGbps: bw } = a.ceilings;
  const names = a.models.map((m) => m.name);
  const colors = modelColors(a);
  const tips: Tip[] = [];
  const layerPts: { x: number; y: number; model: string; tip: string }[] = [];
  const modelPts: { x: number; y: number; model: string; tip: string }[] = [];
  for (const m of a.models) {
    for (const l of m.layers) {
      if (!(l.flops > 0 && l.bytes > 0)) continue;
      layerPts.push({ x: l.intensity, y: l.attainableGflops, model: m.name, tip: tipToken(tips.length) });
      tips.push({
        className: LAYER_CLASS,
        lines: [
          `${m.name}: ${l.node} (${l.op}${l.detail ? `, ${l.detail}` : ''})`,
          `${flopCount(l.flops)}, ${sig(l.bytes / 1e6, 3)} MB, intensity ${sig(l.intensity, 3)} FLOP/B`,
          `${l.bound}-bound: attainable ${sig(l.attainableGflops, 3)} GFLOP/s, predicted ${sig(l.predictedMs, 3)} ms (${pct(l.pct)} of the model)`,
        ],
      });
    }
  }
  for (const m of a.models) {
    const t = m.totals;
    if (!(t.flops > 0 && t.bytes > 0)) continue;
    modelPts.push({ x: t.intensity, y: t.effectiveGflops, model: m.name, tip: tipToken(tips.length) });
    tips.push({
      className: MODEL_CLASS,
      lines: [
        `${m.title} (${m.name})`,
        `${flopCount(t.flops)}, ${sig(t.bytes / 1e6, 3)} MB moved, intensity ${sig(t.intensity, 3)} FLOP/B (ridge ${sig(a.ridge, 3)})`,
        `predicted ${sig(t.predictedMs, 3)} ms at ${sig(t.effectiveGflops, 3)} GFLOP/s; ${pct(t.memoryBoundPct)} of the time memory-bound`,
      ],
    });
  }
  const xs = [...layerPts, ...modelPts].map((p) => p.x).concat(a.ridge);
  const ys = [...layerPts, ...modelPts].map((p) => p.y).concat(peak);
  const x0 = niceDown(Math.min(...xs) / 2);
  const x1 = niceUp(Math.max(...xs) * 2);
  const y0 = niceDown(Math.min(...ys, bw * x0) / 1.5);
  const y1 = niceUp(peak * 2);
  const roof = [
    { seq: 0, x: x0, y: Math.min(peak, bw * x0) },
    { seq: 1, x: a.ridge, y: peak },
    { seq: 2, x: x1, y: peak },
  ];
  const layers: object[] = [];
  const ref = a.ceilings.reference;
  if (ref) {
    const r = ref.peakGflops / ref.dramGbps;
    layers.push({
      data: {
        values: [
          { seq: 0, x: x0, y: Math.min(ref.peakGflops, ref.dramGbps * x0) },
          { seq: 1, x: Math.min(Math.max(r, x0), x1), y: Math.min(ref.peakGflops, ref.dramGbps * Math.min(Math.max(r, x0), x1)) },
          { seq: 2, x: x1, y: Math.min(ref.peakGflops, ref.dramGbps * x1) },
        ],
      },
      mark: { type: 'line', clip: true, stroke: '#7a7f8a', strokeWidth: 1.4, strokeDash: [7, 5], aria: false },
      encoding: { order: { field: 'seq', type: 'quantitative' } },
    });
  }
  layers.push(
    {
      data: { values: roof },
      mark: { type: 'line', clip: true, stroke: '#1f2430', strokeWidth: 2.2, aria: false },
      encoding: { order: { field: 'seq', type: 'quantitative' } },
    },
    {
      data: { values: [{ x: a.ridge }] },
      mark: { type: 'rule', stroke: '#1f2430', strokeDash: [3, 4], strokeWidth: 1, aria: false },
      encoding: { x: { field: 'x', type: 'quantitative' }, y: { value: 0 }, y2: { value: HEIGHT } },
    },
    {
      data: { values: [{ x: a.ridge, y: y0, text: `ridge ${sig(a.ridge, 3)} FLOP/B` }] },
      mark: { type: 'text', fontSize: 11, fill: '#3a4150', align: 'left', baseline: 'bottom', dx: 6, dy: -6, aria: false },
      encoding: { text: { field: 'text' } },
    },
    {
      data: { values: [{ x: x1, y: peak, text: `peak ${sig(peak, 3)} GFLOP/s, DRAM ${sig(bw, 3)} GB/s` }] },
      mark: { type: 'text', fontSize: 11, fill: '#3a4150', align: 'right', dx: -4, dy: -8, aria: false },
      encoding: { text: { field: 'text' } },
    },
  );
  const color = {
    field: 'model',
    type: 'nominal' as const,
    scale: { domain: names, range: colors },
    legend: { title: 'model', orient: 'right' as const, symbolOpacity: 1, labelLimit: 220 },
  };
  if (layerPts.length) {
    layers.push({
      data: { values: layerPts },
      mark: { type: 'point', filled: true, size: 34, opacity: 0.55, stroke: 'white', strokeWidth: 0.4 },
      encoding: { color, description: { field: 'tip' } },
    });
  }
  if (modelPts.length) {
    layers.push({
      data: { values: modelPts },
      mark: { type: 'point', shape: 'diamond', filled: true, size: 260, opacity: 1, stroke: '#1f2430', strokeWidth: 1.2 },
      encoding: { color, description: { field: 'tip' } },
    });
    // Model names beside their diamonds: right, left, above or below, further out until they clear each other and the points.
    const px = (x: number) => (Math.log(x / x0) / Math.log(x1 / x0)) * WIDTH;
    const py = (y: number) => HEIGHT - (Math.log(y / y0) / Math.log(y1 / y0)) * HEIGHT;
    type Box = { l: number; r: number; t: number; b: number };
    const taken: Box[] = modelPts.map((p) => ({ l: px(p.x) - 9, r: px(p.x) + 9, t: py(p.y) - 9, b: py(p.y) + 9 }));
    type Place = { align: 'left' | 'right' | 'center'; dx: number; dy: number };
    const places: Place[] = [
      { align: 'left', dx: 12, dy: 4 },
      { align: 'right', dx: -12, dy: 4 },
      { align: 'center', dx: 0, dy: -15 },
      { align: 'center', dx: 0, dy: 22 },
      { align: 'left', dx: 12, dy: 18 },
      { align: 'left', dx: 12, dy: -10 },
      { align: 'right', dx: -12, dy: 18 },
      { align: 'right', dx: -12, dy: -10 },
      { align: 'center', dx: 0, dy: -29 },
      { align: 'center', dx: 0, dy: 36 },
    ];
    const byPlace = new Map<Place, { x: number; y: number; text: string }[]>();
    for (const p of [...modelPts].sort((m, n) => m.x - n.x)) {
      const w = p.model.length * 7.2;
      const boxAt = (q: Place): Box => {
        const ax = px(p.x) + q.dx;
        const l = q.align === 'left' ? ax : q.align === 'right' ? ax - w : ax - w / 2;
        return { l, r: l + w, t: py(p.y) + q.dy - 11, b: py(p.y) + q.dy + 3 };
      };
      const free = (b: Box) => b.l >= 0 && b.r <= WIDTH && b.t >= 0 && !taken.some((o) => b.l < o.r && o.l < b.r && b.t < o.b && o.t < b.b);
      const q = places.find((c) => free(boxAt(c))) ?? places[0]!;
      taken.push(boxAt(q));
      byPlace.set(q, [...(byPlace.get(q) ?? []), { x: p.x, y: p.y, text: p.model }]);
    }
    // Vega-Lite has no offset channel: one text layer per placement.
    for (const [q, values] of byPlace) {
      layers.push({
        data: { values },
        mark: { type: 'text', fontSize: 12, fontWeight: 600, fill: '#1f2430', align: q.align, baseline: 'alphabetic', dx: q.dx, dy: q.dy, aria: false },
        encoding: { text: { field: 'text' } },
      });
    }
  }
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: WIDTH,
    height: HEIGHT,
    config: CHART_CONFIG,
    encoding: {
      x: {
        field: 'x',
        type: 'quantitative',
        scale: { type: 'log', domain: [x0, x1], nice: false },
        axis: { title: 'operational intensity (FLOP/byte)', values: logTicks([x0, x1]), format: '~g' },
      },
      y: {
        field: 'y',
        type: 'quantitative',
        scale: { type: 'log', domain: [y0, y1], nice: false },
        axis: { title: 'attainable performance (GFLOP/s)', values: logTicks([y0, y1]), format: '~g' },
      },
    },
    layer: layers,
  } as TopLevelSpec;
  return attachTitles(await vegaLiteToSvg(spec, 'rb-analyze-roofline'), tips);
}

/** Predicted time per operator class, as a share of each model's time (stacked to 100%). */
export async function timeSharesSvg(a: Analysis): Promise<string> {
  const tips: Tip[] = [];
  const rows: { model: string; kind: string; pct: number; tip: string }[] = [];
  for (const m of a.models) {
    for (const k of m.byKind) {
      rows.push({ model: m.name, kind: k.kind, pct: k.pct, tip: tipToken(tips.length) });
      tips.push({
        className: TIME_CLASS,
        lines: [`${m.name}: ${k.kind}`, `${pct(k.pct)} of the predicted time (${sig(k.ms, 3)} ms of ${sig(m.totals.predictedMs, 3)} ms)`],
      });
    }
  }
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: WIDTH - 200,
    height: { step: 34 },
    config: CHART_CONFIG,
    data: { values: rows },
    mark: { type: 'bar', stroke: 'white', strokeWidth: 0.5 },
    encoding: {
      y: { field: 'model', type: 'nominal', sort: a.models.map((m) => m.name), axis: { title: null, labelLimit: 260 } },
      x: { field: 'pct', type: 'quantitative', stack: 'zero', scale: { domain: [0, 100] }, axis: { title: 'share of the predicted time (%)' } },
      color: { field: 'kind', type: 'nominal', scale: { domain: [...KINDS], range: KIND_COLORS }, legend: { title: 'operator', orient: 'right' } },
      order: { field: 'kindIndex', type: 'quantitative' },
      description: { field: 'tip' },
    },
    transform: [{ calculate: `indexof(${JSON.stringify([...KINDS])}, datum.kind)`, as: 'kindIndex' }],
  } as TopLevelSpec;
  return attachTitles(await vegaLiteToSvg(spec, 'rb-analyze-time'), tips);
}
