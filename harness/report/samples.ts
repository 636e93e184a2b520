/**
 * The raw timing samples of one case: a box plot per timed variant (quartiles,
 * whiskers to min and max, the reported median as a tick) over the samples
 * themselves as dots, outliers (modified z-score > 3.5, kept, never dropped)
 * drawn hollow, on a log time axis.
 */
import type { TopLevelSpec } from 'vega-lite';
import { quantileSorted } from 'simple-statistics';
import { isTimed, type CaseResult } from '../../core/contracts.js';
import { variantColour } from './colours.js';
import { ms, sig } from './format.js';
import { attachTitles, CHART_CONFIG, tipToken, vegaLiteTemplate, type Tip } from './svg.js';

/** Class of a box (one per timed variant) of the samples chart. */
export const BOX_CLASS = 'rb-box';
/** At most this many dots per variant (evenly spaced in sample order); the box always uses all samples. */
export const MAX_DOTS = 150;

const ROW = 22;
const WIDTH = 640;

export interface SampleBox {
  variant: string;
  colour: string;
  n: number;
  min: number;
  q1: number;
  median: number;
  q3: number;
  max: number;
  outliers: number;
  tip: string;
}

export interface SamplesData {
  boxes: SampleBox[];
  dots: { variant: string; t: number; jitter: number; outlier: boolean }[];
  tips: Tip[];
  /** Variants whose dots were thinned, e.g. "conv-direct-naive-f32: 150 of 500 samples drawn". */
  notes: string[];
}

/** What the chart draws for one case's results (exported for tests); null without a timed result. */
export function samplesData(results: readonly CaseResult[]): SamplesData | null {
  const timed = results.filter(isTimed).filter((r) => r.timing.samples.some((s) => Number.isFinite(s) && s > 0));
  if (timed.length === 0) return null;
  const boxes: SampleBox[] = [];
  const dots: SamplesData['dots'] = [];
  const tips: Tip[] = [];
  const notes: string[] = [];
  for (const r of timed) {
    const samples = r.timing.samples.filter((s) => Number.isFinite(s) && s > 0);
    const sorted = [...samples].sort((a, b) => a - b);
    const outlierSet = new Set(r.timing.stats.outliers);
    const box: SampleBox = {
      variant: r.variant,
      colour: variantColour(r.variant, r.algorithm),
      n: samples.length,
      min: sorted[0] ?? 0,
      q1: quantileSorted(sorted, 0.25),
      median: r.timing.stats.median,
      q3: quantileSorted(sorted, 0.75),
      max: sorted.at(-1) ?? 0,
      outliers: outlierSet.size,
      tip: tipToken(tips.length),
    };
    boxes.push(box);
    tips.push({
      lines: [
        r.variant,
        `median ${ms(box.median)} ms (99% CI ${ms(r.timing.stats.ciLow)}–${ms(r.timing.stats.ciHigh)})`,
        `quartiles ${ms(box.q1)}–${ms(box.q3)} ms, range ${ms(box.min)}–${ms(box.max)} ms`,
        `${box.n} samples of ${r.timing.repsPerSample} run${r.timing.repsPerSample === 1 ? '' : 's'} each, ${box.outliers} outlier${box.outliers === 1 ? '' : 's'}${r.timing.noisy ? `; noisy (cv ${sig(r.timing.stats.cv * 100, 2)}%)` : ''}`,
      ],
      className: BOX_CLASS,
    });
    const count = Math.min(r.timing.samples.length, MAX_DOTS);
    if (count < r.timing.samples.length) notes.push(`${r.variant}: ${count} of ${r.timing.samples.length} samples drawn as dots (the box uses all)`);
    for (let j = 0; j < count; j++) {
      const i = Math.floor((j * r.timing.samples.length) / count);
      const t = r.timing.samples[i];
      if (t === undefined || !(Number.isFinite(t) && t > 0)) continue;
      // Deterministic jitter (golden-ratio sequence), so re-rendering gives the same picture.
      dots.push({ variant: r.variant, t, jitter: ((i * 0.618034) % 1) * 2 - 1, outlier: outlierSet.has(i) });
    }
  }
  return { boxes, dots, tips, notes };
}

/**
 * The chart's spec, the same for every case (compiled once: see vegaLiteTemplate): the data
 * carries everything that differs (rows in plan order, colours, the time scale fits the samples).
 * Log time axis: variants of one case differ by up to 100x; a narrow range reads as linear.
 */
export const SAMPLES_SPEC: TopLevelSpec = (() => {
  const y = { field: 'variant', type: 'nominal' as const, sort: null, axis: { title: null, labelLimit: 240, labelFontSize: 10.5 } };
  const x = {
    field: 'min',
    type: 'quantitative' as const,
    scale: { type: 'log' as const, nice: false, padding: 10 },
    axis: { title: 'time per operation (ms, log scale)', format: '~g', grid: true, tickCount: 6, labelOverlap: true },
  };
  const color = { field: 'colour', type: 'nominal' as const, scale: null, legend: null };
  // The offset in pixels from the top of the variant's row, as the data gives it: the middle of the row, jittered.
  const jitter = { field: 'jitterPx', type: 'quantitative' as const, scale: null };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: WIDTH,
    height: { step: ROW },
    config: CHART_CONFIG,
    encoding: { y },
    layer: [
      { data: { name: 'boxes' }, mark: { type: 'rule', stroke: '#9aa1ad', aria: false }, encoding: { x, x2: { field: 'max' } } },
      {
        data: { name: 'boxes' },
        mark: { type: 'bar', height: 12, opacity: 0.35, stroke: '#5b6270', strokeWidth: 0.8 },
        encoding: { x: { ...x, field: 'q1' }, x2: { field: 'q3' }, color, description: { field: 'tip' } },
      },
      { data: { name: 'dots' }, mark: { type: 'circle', size: 9, opacity: 0.55, aria: false }, encoding: { x: { ...x, field: 't' }, yOffset: jitter, color } },
      {
        data: { name: 'outliers' },
        mark: { type: 'point', size: 22, filled: false, strokeWidth: 1.2, stroke: '#b42318', aria: false },
        encoding: { x: { ...x, field: 't' }, yOffset: jitter },
      },
      { data: { name: 'boxes' }, mark: { type: 'tick', thickness: 2, size: 16, color: '#1f2430', aria: false }, encoding: { x: { ...x, field: 'median' } } },
    ],
  } as TopLevelSpec;
})();

let template: ReturnType<typeof vegaLiteTemplate> | undefined;

/** The case's samples chart as SVG (safe to inline: Vega escapes its text, attachTitles the titles); null without a timed result. */
export async function samplesSvg(results: readonly CaseResult[], idPrefix: string): Promise<{ svg: string; notes: string[] } | null> {
  const d = samplesData(results);
  if (!d) return null;
  template ??= vegaLiteTemplate(SAMPLES_SPEC);
  const colourOf = new Map(d.boxes.map((b) => [b.variant, b.colour]));
  const svg = await template(
    {
      boxes: d.boxes,
      dots: d.dots.filter((p) => !p.outlier).map((p) => ({ ...p, jitterPx: ROW / 2 + p.jitter * 6, colour: colourOf.get(p.variant) })),
      outliers: d.dots.filter((p) => p.outlier).map((p) => ({ ...p, jitterPx: ROW / 2 + p.jitter * 6 })),
    },
    idPrefix,
  );
  return { svg: attachTitles(svg, d.tips), notes: d.notes };
}
