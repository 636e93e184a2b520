/**
 * The dashboard's charts: Vega-Lite specs rendered server-side to SVG (the
 * same machinery as the run report: harness/report/svg.ts), so pages need no
 * script. Change points, annotations, throttling events and (for short
 * series) the points themselves carry hover labels as SVG <title>s.
 */
import type { TopLevelSpec } from 'vega-lite';
import { decodeThrottled } from '../report/model.js';
import { sig } from '../report/format.js';
import { attachTitles, CHART_CONFIG, tipToken, vegaLiteTemplate, vegaLiteToSvg, type Tip } from '../report/svg.js';
import type { AnnotationRow, PointRow } from './store.js';

export const SERIES_POINT_CLASS = 'rb-hist-point';
export const CHANGEPOINT_CLASS = 'rb-changepoint';
export const ANNOTATION_CLASS = 'rb-annotation';
export const THROTTLE_CLASS = 'rb-throttle';
export const SPARK_CLASS = 'rb-spark';

/** Series longer than this are drawn as a line and band only (no per-point marks). */
export const MAX_POINT_MARKS = 120;

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

export interface TimeDomain {
  start: string;
  end: string;
}

/**
 * Ticks and label format for a time axis spanning `domain`: about six ticks on calendar
 * boundaries, each labelled once (no repeated dates): hours within two days, days within two
 * months, months beyond.
 */
export function timeTicks(domain: TimeDomain): { tickCount: { interval: string; step: number }; format: string } {
  const days = (Date.parse(domain.end) - Date.parse(domain.start)) / 86_400_000;
  if (days <= 2) {
    const step = [1, 2, 3, 6, 12].find((h) => (days * 24) / h <= 8) ?? 12;
    return { tickCount: { interval: 'hours', step }, format: days <= 1 ? '%H:%M' : '%b %d %H:%M' };
  }
  if (days <= 62) {
    const step = [1, 2, 7, 14].find((d) => days / d <= 8) ?? 14;
    return { tickCount: { interval: step >= 7 ? 'week' : 'day', step: step >= 7 ? step / 7 : step }, format: '%b %d' };
  }
  const months = days / 30.4;
  const step = [1, 2, 3, 6, 12].find((m) => months / m <= 8) ?? 12;
  return { tickCount: { interval: 'month', step }, format: step >= 12 ? '%Y' : '%b %Y' };
}

const xAxis = (domain: TimeDomain, title: string | null = null) => {
  const t = timeTicks(domain);
  return {
    field: 't',
    type: 'temporal' as const,
    scale: { domain: [Date.parse(domain.start), Date.parse(domain.end)] },
    axis: { title, format: t.format, labelOverlap: true, tickCount: t.tickCount, grid: true },
  };
};

export interface SeriesChartInput {
  points: PointRow[];
  /** Change points: index into `points` where the new segment starts. */
  changepoints: { idx: number; relChange: number; before: number; after: number; text: string }[];
  annotations: AnnotationRow[];
  domain: TimeDomain;
  commitOf: (runRow: number) => string | null;
}

function shortSha(s: string | null): string {
  return s ? s.slice(0, 10) : '?';
}

/** One series over time: median with its CI band, segment levels and change points, annotations. */
export async function seriesChartSvg(input: SeriesChartInput, idPrefix: string): Promise<string> {
  const { points, domain } = input;
  const tips: Tip[] = [];
  const rows = points.map((p) => ({ t: p.started_at, m: p.median, lo: p.ci_low ?? p.median, hi: p.ci_high ?? p.median }));
  const marks =
    points.length <= MAX_POINT_MARKS
      ? points.map((p) => {
          const tip = tipToken(tips.length);
          tips.push({
            lines: [
              `run ${p.run_id}`,
              `median ${sig(p.median, 4)} ms${p.ci_low !== null && p.ci_high !== null ? ` (CI ${sig(p.ci_low, 4)}..${sig(p.ci_high, 4)})` : ''}`,
              `${p.state}${input.commitOf(p.run_row) ? `, commit ${shortSha(input.commitOf(p.run_row))}` : ''}`,
            ],
            className: SERIES_POINT_CLASS,
          });
          return { t: p.started_at, m: p.median, tip };
        })
      : [];
  // Segment levels between change points (and annotations, which also start segments).
  const starts = [0, ...input.changepoints.map((c) => c.idx)].sort((a, b) => a - b);
  // Each segment's level as a two-point line (an x2 rule would conflict with the fixed time domain in Vega-Lite).
  const levels = input.changepoints.length
    ? starts.flatMap((s, i) => {
        const e = (starts[i + 1] ?? points.length) - 1;
        const seg = points
          .slice(s, e + 1)
          .map((p) => p.median)
          .sort((a, b) => a - b);
        const mid = seg.length % 2 ? seg[seg.length >> 1]! : (seg[seg.length / 2 - 1]! + seg[seg.length / 2]!) / 2;
        return [
          { t: points[s]!.started_at, m: mid, seg: i },
          { t: points[e]!.started_at, m: mid, seg: i },
        ];
      })
    : [];
  const cps = input.changepoints.map((c) => {
    const tip = tipToken(tips.length);
    tips.push({ lines: [c.text], className: CHANGEPOINT_CLASS });
    return { t: points[c.idx]!.started_at, tip };
  });
  const anns = input.annotations
    .filter((a) => a.at >= domain.start && a.at <= domain.end)
    .map((a) => {
      const tip = tipToken(tips.length);
      tips.push({
        lines: [`annotation (${a.at.slice(0, 16).replace('T', ' ')} UTC): ${a.message}`, 'a new baseline starts here'],
        className: ANNOTATION_CLASS,
      });
      return { t: a.at, tip };
    });
  const ticks = timeTicks(domain);
  const key = JSON.stringify(ticks);
  let template = seriesTemplates.get(key);
  if (!template) seriesTemplates.set(key, (template = vegaLiteTemplate(seriesChartSpec(ticks))));
  const svg = await template({ rows, marks, levels, cps, anns }, idPrefix, { x0: Date.parse(domain.start), x1: Date.parse(domain.end) });
  return attachTitles(svg, tips);
}

/**
 * The series chart's spec, compiled once per time-axis style (vegaLiteTemplate; a dashboard draws one
 * per series): the data are named datasets (an empty one draws nothing), the time domain is a param.
 */
function seriesChartSpec(ticks: ReturnType<typeof timeTicks>): TopLevelSpec {
  const x = {
    field: 't',
    type: 'temporal' as const,
    scale: { domain: [{ expr: 'x0' }, { expr: 'x1' }] },
    axis: { title: null, format: ticks.format, labelOverlap: true, tickCount: ticks.tickCount, grid: true },
  };
  return {
    $schema: SCHEMA,
    width: 560,
    height: 130,
    config: CHART_CONFIG,
    params: [
      { name: 'x0', value: 0 },
      { name: 'x1', value: 1 },
    ],
    encoding: { x },
    layer: [
      {
        data: { name: 'rows' },
        mark: { type: 'area', fill: '#4c78a8', opacity: 0.18, aria: false },
        encoding: { y: { field: 'lo', type: 'quantitative', scale: { zero: false }, axis: { title: 'ms', tickCount: 4 } }, y2: { field: 'hi' } },
      },
      {
        data: { name: 'rows' },
        mark: { type: 'line', stroke: '#2f5fa7', strokeWidth: 1.3, aria: false },
        encoding: { y: { field: 'm', type: 'quantitative' } },
      },
      {
        data: { name: 'marks' },
        mark: { type: 'point', filled: true, size: 16, color: '#2f5fa7', opacity: 0.9 },
        encoding: { y: { field: 'm', type: 'quantitative' }, description: { field: 'tip' } },
      },
      {
        data: { name: 'levels' },
        mark: { type: 'line', stroke: '#b42318', strokeWidth: 1.6, opacity: 0.75, aria: false },
        encoding: { y: { field: 'm', type: 'quantitative' }, detail: { field: 'seg', type: 'nominal' } },
      },
      { data: { name: 'cps' }, mark: { type: 'rule', stroke: '#b42318', strokeWidth: 1.2, strokeDash: [4, 3] }, encoding: { description: { field: 'tip' } } },
      { data: { name: 'anns' }, mark: { type: 'rule', stroke: '#8a5a00', strokeWidth: 1.4, strokeDash: [2, 2] }, encoding: { description: { field: 'tip' } } },
    ],
  } as TopLevelSpec;
}

const seriesTemplates = new Map<string, ReturnType<typeof vegaLiteTemplate>>();

export interface SparkPoint {
  t: string;
  value: number;
  lo?: number | null;
  hi?: number | null;
}

/**
 * A sparkline: one series' values over time (with its confidence band where given), no axes, its
 * last point marked in `colour`; `markers` are times drawn as thin rules (change points). The range of
 * the values and the last one are in the hover title.
 */
export async function sparklineSvg(
  points: SparkPoint[],
  opts: { domain: TimeDomain; colour: string; title: string[]; idPrefix: string; markers?: string[]; width?: number; height?: number; zero?: boolean },
): Promise<string | null> {
  const rows = points.filter((p) => Number.isFinite(p.value)).map((p) => ({ t: p.t, v: p.value, lo: p.lo ?? p.value, hi: p.hi ?? p.value }));
  if (rows.length === 0) return null;
  const lo = Math.min(...rows.map((r) => r.lo));
  const hi = Math.max(...rows.map((r) => r.hi));
  const pad = (hi - lo) * 0.08 || Math.abs(hi) * 0.05 || 1;
  // zero: the scale starts at 0 (a share, whose level matters more than its wiggle).
  const [y0, y1] = opts.zero ? [0, hi * 1.1 || 1] : [lo - pad, hi + pad];
  const size = `${opts.width ?? 150}x${opts.height ?? 28}`;
  let template = sparkTemplates.get(size);
  if (!template) sparkTemplates.set(size, (template = vegaLiteTemplate(sparklineSpec(opts.width ?? 150, opts.height ?? 28))));
  const svg = await template(
    { rows, line: rows.map((r) => ({ ...r, tip: tipToken(0) })), last: [rows[rows.length - 1]!], markers: (opts.markers ?? []).map((t) => ({ t })) },
    opts.idPrefix,
    { x0: Date.parse(opts.domain.start), x1: Date.parse(opts.domain.end), y0, y1, colour: opts.colour },
  );
  return attachTitles(svg, [{ lines: opts.title, className: SPARK_CLASS }]);
}

/**
 * The sparkline's spec, compiled once per size (vegaLiteTemplate): a dashboard draws two per series,
 * and compiling and parsing a Vega-Lite spec for each was most of its time on a large history
 * (scripts/dashboard-timing.ts). The data are named datasets; the domains and the colour are params.
 */
function sparklineSpec(width: number, height: number): TopLevelSpec {
  const x = { field: 't', type: 'temporal' as const, scale: { domain: [{ expr: 'x0' }, { expr: 'x1' }] }, axis: null };
  const y = { field: 'v', type: 'quantitative' as const, scale: { domain: [{ expr: 'y0' }, { expr: 'y1' }], nice: false, zero: false }, axis: null };
  const colour = { expr: 'colour' };
  return {
    $schema: SCHEMA,
    width,
    height,
    padding: 2,
    config: { ...CHART_CONFIG, view: { stroke: null } },
    params: [
      { name: 'x0', value: 0 },
      { name: 'x1', value: 1 },
      { name: 'y0', value: 0 },
      { name: 'y1', value: 1 },
      { name: 'colour', value: '#000000' },
    ],
    encoding: { x },
    layer: [
      { data: { name: 'rows' }, mark: { type: 'area', fill: colour, opacity: 0.22, aria: false }, encoding: { y: { ...y, field: 'lo' }, y2: { field: 'hi' } } },
      // The line is one path: it carries the chart's hover label.
      { data: { name: 'line' }, mark: { type: 'line', stroke: colour, strokeWidth: 1.4 }, encoding: { y, description: { field: 'tip' } } },
      // Change points: thin rules (an empty dataset draws none).
      { data: { name: 'markers' }, mark: { type: 'rule', stroke: '#b42318', strokeWidth: 1, strokeDash: [2, 2], aria: false } },
      { data: { name: 'last' }, mark: { type: 'circle', size: 18, color: colour, opacity: 1, aria: false }, encoding: { y } },
    ],
  } as TopLevelSpec;
}

const sparkTemplates = new Map<string, ReturnType<typeof vegaLiteTemplate>>();

export interface HealthPoint {
  at: string;
  phase: string;
  temperatureC: number | null;
  throttled: string | null;
  runId: string;
}

/** Device health over time: temperature before/after each run; throttling events marked in red. */
export async function healthChartSvg(health: HealthPoint[], domain: TimeDomain, idPrefix: string): Promise<string | null> {
  const temps = health.filter((h) => h.temperatureC !== null && Number.isFinite(h.temperatureC));
  if (temps.length === 0) return null;
  const tips: Tip[] = [];
  const rows = temps.map((h) => ({ t: h.at, c: h.temperatureC, phase: h.phase.startsWith('after') ? 'after' : 'before' }));
  const throttles = temps
    .map((h) => ({ h, flags: decodeThrottled(h.throttled) }))
    .filter((x) => x.flags !== null && x.flags.length > 0)
    .map(({ h, flags }) => {
      const tip = tipToken(tips.length);
      tips.push({
        lines: [`run ${h.runId} (${h.phase}): ${sig(h.temperatureC, 3)} °C`, `throttled ${h.throttled ?? ''}: ${(flags ?? []).join(', ')}`],
        className: THROTTLE_CLASS,
      });
      return { t: h.at, c: h.temperatureC, tip };
    });
  const layers: object[] = [
    {
      data: { values: rows },
      mark: { type: 'point', filled: true, size: 10, opacity: 0.7, aria: false },
      encoding: {
        y: { field: 'c', type: 'quantitative', scale: { zero: false }, axis: { title: '°C', tickCount: 4 } },
        color: {
          field: 'phase',
          type: 'nominal',
          scale: { domain: ['before', 'after'], range: ['#72b7b2', '#f58518'] },
          legend: { title: 'when', orient: 'right' },
        },
      },
    },
  ];
  if (throttles.length) {
    layers.push({
      data: { values: throttles },
      mark: { type: 'point', shape: 'triangle-up', filled: true, size: 60, color: '#b42318' },
      encoding: { y: { field: 'c', type: 'quantitative' }, description: { field: 'tip' } },
    });
  }
  const spec = { $schema: SCHEMA, width: 1180, height: 150, config: CHART_CONFIG, encoding: { x: xAxis(domain) }, layer: layers } as TopLevelSpec;
  return attachTitles(await vegaLiteToSvg(spec, idPrefix), tips);
}

/** Text of a change point's hover label and table row. */
export function changepointText(
  c: { relChange: number; before: number; after: number },
  from: { runId: string; commit: string | null },
  to: { runId: string; commit: string | null },
): string {
  const dir = c.relChange > 0 ? 'slower' : 'faster';
  const range = from.commit && to.commit ? `commits ${shortSha(from.commit)}..${shortSha(to.commit)}` : `runs ${from.runId}..${to.runId}`;
  return `change point: ${c.relChange > 0 ? '+' : ''}${(c.relChange * 100).toFixed(1)}% ${dir} (${sig(c.before, 4)} → ${sig(c.after, 4)} ms), ${range}`;
}

/** "3 h", "2 d" ...: how long ago. */
export function age(fromIso: string | null, now: Date): string {
  if (!fromIso) return '—';
  const ms = now.getTime() - new Date(fromIso).getTime();
  if (!Number.isFinite(ms)) return '—';
  if (ms < 0) return 'in the future';
  const h = ms / 3600_000;
  if (h < 1) return `${Math.max(1, Math.round(ms / 60_000))} min`;
  if (h < 48) return `${Math.round(h)} h`;
  return `${Math.round(h / 24)} d`;
}
