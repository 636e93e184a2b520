/**
 * The sparse suite's view (docs/sparse.md): per layer, the speedup of each pattern's sparse
 * kernel over the dense im2col GEMM on the same pruned weights against sparsity, the
 * break-even sparsity with its 95% bootstrap interval (from the raw samples), XNNPACK's
 * 2/3 rule for comparison, the storage of each format against dense, and a verdict.
 *
 * Break-even: the sparsity from which the sparse kernel pays for the rest of the sweep.
 * With the speedups s_i (ratio of medians, dense over sparse) at the swept sparsities f_i,
 * it lies after the last point with s_i < 1, where log s, interpolated linearly in f,
 * crosses 0. No such point: it pays at every sparsity measured (censored below the first);
 * the last point below 1: it never pays in the sweep (censored above the last). The
 * interval resamples every variant's raw samples with replacement (a seeded percentile
 * bootstrap, so a report renders the same twice) and recomputes the break-even.
 * Pure apart from the chart rendering.
 */
import type { TopLevelSpec } from 'vega-lite';
import { isTimed, type CaseResult, type RunResults, type TimedResult } from '../../core/contracts.js';
import { makeRng, type Rng } from '../../reference/random.js';
import { speedupOf, speedupText, type Speedup } from './speedup.js';
import { attachTitles, CHART_CONFIG, tipToken, vegaLiteToSvg, type Tip } from './svg.js';

/** The dense baseline every sparse case runs (suites/sparse/variants.ts). */
export const DENSE_VARIANT = 'conv-im2col-gemm-f32';
/** XNNPACK runs a 1x1 layer sparse only when more than 2/3 of its weights are zero. */
export const XNNPACK_RULE = 2 / 3;
export const BOOTSTRAP_ROUNDS = 1000;
export const BREAK_EVEN_LEVEL = 0.95;

/** A point of the sweep: the sparse variant and the dense baseline's raw samples at one sparsity. */
export interface SweepPoint {
  fraction: number;
  sparse: readonly number[];
  dense: readonly number[];
}

/** A break-even sparsity: a value, or a bound when the sweep does not bracket it. */
export interface Crossing {
  value: number;
  /** 'below': pays already at `value` (the sweep's lowest); 'above': does not pay even at `value` (its highest). */
  censored: 'below' | 'above' | null;
}

export interface BreakEven {
  estimate: Crossing;
  /** The 95% percentile-bootstrap interval of the break-even (ends censored like the estimate). */
  low: Crossing;
  high: Crossing;
  /** Width in percentage points (high - low), meaningful only when neither end is censored. */
  widthPoints: number | null;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return NaN;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

/** The break-even of speedups `s` at sparsities `f` (ascending): see the module doc. */
export function crossing(points: readonly { fraction: number; speedup: number }[]): Crossing {
  if (points.length === 0) throw new Error('break-even: no points');
  for (let i = 1; i < points.length; i++) {
    if (!(points[i]!.fraction > points[i - 1]!.fraction)) throw new Error(`break-even: sparsities not ascending at ${points[i]!.fraction}`);
  }
  let last = -1;
  points.forEach((p, i) => {
    if (!(p.speedup >= 1)) last = i;
  });
  if (last === -1) return { value: points[0]!.fraction, censored: 'below' };
  if (last === points.length - 1) return { value: points[last]!.fraction, censored: 'above' };
  const a = points[last]!;
  const b = points[last + 1]!;
  const la = Math.log(a.speedup);
  const lb = Math.log(b.speedup);
  const t = lb === la ? 0 : -la / (lb - la);
  return { value: a.fraction + (b.fraction - a.fraction) * Math.min(1, Math.max(0, t)), censored: null };
}

function resample(xs: readonly number[], rng: Rng): number[] {
  const out = new Array<number>(xs.length);
  for (let i = 0; i < xs.length; i++) out[i] = xs[Math.floor(rng.next() * xs.length)]!;
  return out;
}

/** Sort key of a crossing on one axis: 'below' before any value, 'above' after. */
const key = (c: Crossing) => (c.censored === 'below' ? c.value - 1 : c.censored === 'above' ? c.value + 1 : c.value);

/** The break-even and its bootstrap interval from the raw samples (seeded: the same input gives the same interval). */
export function breakEven(points: readonly SweepPoint[], opts: { rounds?: number; level?: number; seed?: number } = {}): BreakEven {
  const rounds = opts.rounds ?? BOOTSTRAP_ROUNDS;
  const level = opts.level ?? BREAK_EVEN_LEVEL;
  for (const p of points) {
    if (p.sparse.length === 0 || p.dense.length === 0) throw new Error(`break-even: no samples at sparsity ${p.fraction}`);
  }
  const estimate = crossing(points.map((p) => ({ fraction: p.fraction, speedup: median(p.dense) / median(p.sparse) })));
  const rng = makeRng(opts.seed ?? 1);
  const boot: Crossing[] = [];
  for (let b = 0; b < rounds; b++) {
    boot.push(crossing(points.map((p) => ({ fraction: p.fraction, speedup: median(resample(p.dense, rng)) / median(resample(p.sparse, rng)) }))));
  }
  boot.sort((x, y) => key(x) - key(y));
  const at = (q: number) => boot[Math.min(boot.length - 1, Math.max(0, Math.floor(q * boot.length)))]!;
  const low = at((1 - level) / 2);
  const high = at(1 - (1 - level) / 2);
  return { estimate, low, high, widthPoints: low.censored || high.censored ? null : (high.value - low.value) * 100 };
}

/** "62%", "≤ 50%" (pays from the lowest measured), "> 95%" (never pays in the sweep). */
export function crossingText(c: Crossing): string {
  const p = `${Number((c.value * 100).toFixed(1))}%`;
  return c.censored === 'below' ? `≤ ${p}` : c.censored === 'above' ? `> ${p}` : p;
}

/** A pattern's line on a layer's chart: its sparse kernel (the best format for it) at each sparsity, and the break-even. */
export interface PatternLine {
  pattern: string;
  variant: string;
  points: { fraction: number; speedup: Speedup; noisy: boolean }[];
  /** The kernel on the roofline at each sparsity: executed FLOPs per byte moved (index traffic included) and executed GFLOP/s; the dense GEMM's beside it. */
  roofline: { fraction: number; executedIntensity: number; executedGflops: number; denseIntensity: number; denseGflops: number }[];
  breakEven: BreakEven;
  /** Either side of any point noisy: the break-even is indicative. */
  noisy: boolean;
}

export interface StorageRow {
  pattern: string;
  fraction: number;
  denseBytes: number;
  /** Stored bytes per format tag (csr, b1x1 ...) where the format fits the pattern. */
  formats: Record<string, number>;
}

export interface LayerView {
  layer: string;
  shape: string;
  lines: PatternLine[];
  storage: StorageRow[];
  verdict: string;
  /** Why a pattern has no line (too few points, the dense baseline failed ...). */
  notes: string[];
}

export interface SparseView {
  layers: LayerView[];
  formats: string[];
}

const pctText = (f: number) => `${Number((f * 100).toFixed(1))}%`;

function sparsityOf(results: readonly CaseResult[]): { pattern: string; fraction: number } | null {
  for (const r of results) {
    const i = r.info;
    if (i && typeof i.sparsityPattern === 'string' && typeof i.sparsityFraction === 'number')
      return { pattern: i.sparsityPattern, fraction: i.sparsityFraction };
  }
  return null;
}

/** The sparse suite's view of a run, or null when the run has no sparse case. */
export function buildSparseView(run: Pick<RunResults, 'results' | 'cases'>): SparseView | null {
  const sparse = run.results.filter((r) => r.caseId.startsWith('sparse/'));
  if (sparse.length === 0) return null;
  const caseLayer = new Map(run.cases.map((c) => [c.id, c]));
  const byCase = new Map<string, CaseResult[]>();
  for (const r of sparse) byCase.set(r.caseId, [...(byCase.get(r.caseId) ?? []), r]);
  // layer -> pattern -> fraction -> results of that case
  const tree = new Map<string, Map<string, Map<number, CaseResult[]>>>();
  const shapes = new Map<string, string>();
  for (const [caseId, rs] of byCase) {
    const spec = caseLayer.get(caseId);
    const sp = spec?.sparsity ?? sparsityOf(rs);
    if (!sp) continue;
    const layer = spec?.layer ?? caseId.replace(/^sparse\//, '');
    if (spec) shapes.set(layer, `${spec.shape.c}→${spec.shape.k}, ${spec.shape.r}×${spec.shape.s} at ${spec.shape.h}×${spec.shape.w}`);
    const l = tree.get(layer) ?? new Map<string, Map<number, CaseResult[]>>();
    tree.set(layer, l);
    const p = l.get(sp.pattern) ?? new Map<number, CaseResult[]>();
    l.set(sp.pattern, p);
    p.set(sp.fraction, rs);
  }
  const formats = new Set<string>();
  const layers: LayerView[] = [];
  let seed = 1;
  for (const [layer, patterns] of tree) {
    const lines: PatternLine[] = [];
    const storage: StorageRow[] = [];
    const notes: string[] = [];
    for (const [pattern, byFraction] of patterns) {
      const fractions = [...byFraction.keys()].sort((a, b) => a - b);
      for (const f of fractions) {
        const rs = byFraction.get(f)!;
        const row: StorageRow = { pattern, fraction: f, denseBytes: 0, formats: {} };
        // A skipped format (blocks that would store the zeros of a pattern they do not fit) has no row cell.
        for (const r of rs.filter((x) => x.state !== 'skipped')) {
          const i = r.info ?? {};
          if (typeof i.format === 'string' && typeof i.storageBytes === 'number') {
            row.formats[i.format] = i.storageBytes;
            formats.add(i.format);
            if (typeof i.denseWeightBytes === 'number') row.denseBytes = i.denseWeightBytes;
          }
        }
        if (Object.keys(row.formats).length) storage.push(row);
      }
      // Every sparse variant that passed at each sparsity where the dense baseline passed.
      const passed = (r: CaseResult | undefined): r is TimedResult => isTimed(r) && r.state === 'passed';
      const usable = fractions.filter((f) => passed(byFraction.get(f)!.find((r) => r.variant === DENSE_VARIANT)));
      if (usable.length < fractions.length) {
        notes.push(
          `${pattern}: the dense baseline did not pass at ${fractions
            .filter((f) => !usable.includes(f))
            .map(pctText)
            .join(', ')}; those sparsities are left out`,
        );
      }
      if (usable.length < 2) {
        notes.push(`${pattern}: fewer than two sparsities measured: no break-even (run more with --sparsity)`);
        continue;
      }
      const candidates = [
        ...new Set(
          usable.flatMap((f) =>
            byFraction
              .get(f)!
              .filter((r) => r.variant !== DENSE_VARIANT && passed(r))
              .map((r) => r.variant),
          ),
        ),
      ].filter((v) => usable.every((f) => passed(byFraction.get(f)!.find((r) => r.variant === v))));
      if (candidates.length === 0) {
        notes.push(`${pattern}: no sparse variant passed at every sparsity`);
        continue;
      }
      const lineOf = (variant: string) =>
        usable.map((f) => {
          const rs = byFraction.get(f)!;
          const d = rs.find((r) => r.variant === DENSE_VARIANT) as TimedResult;
          const s = rs.find((r) => r.variant === variant) as TimedResult;
          return { fraction: f, d, s, speedup: speedupOf(s, d)! };
        });
      // The pattern's kernel: the format with the highest geometric-mean speedup over the sweep.
      const geo = (v: string) => lineOf(v).reduce((a, p) => a + Math.log(p.speedup.value), 0);
      const variant = candidates.reduce((best, v) => (geo(v) > geo(best) ? v : best));
      const pts = lineOf(variant);
      const be = breakEven(
        pts.map((p) => ({ fraction: p.fraction, sparse: p.s.timing.samples, dense: p.d.timing.samples })),
        { seed: seed++ },
      );
      lines.push({
        pattern,
        variant,
        points: pts.map((p) => ({ fraction: p.fraction, speedup: p.speedup, noisy: p.speedup.noisy })),
        roofline: pts.map((p) => ({
          fraction: p.fraction,
          executedIntensity: (p.s.cost.executedFlops ?? p.s.cost.flops) / p.s.cost.bytes,
          executedGflops: p.s.perf.executedGflops ?? p.s.perf.gflops,
          denseIntensity: p.d.cost.intensity,
          denseGflops: p.d.perf.gflops,
        })),
        breakEven: be,
        noisy: pts.some((p) => p.speedup.noisy),
      });
    }
    layers.push({ layer, shape: shapes.get(layer) ?? '', lines, storage, verdict: verdictOf(layer, lines), notes });
  }
  return { layers, formats: [...formats].sort() };
}

const patternWords = (p: string) => (p === 'unstructured' ? 'unstructured' : /x/.test(p) ? `${p} blocks` : `${p} (N:M)`);
const pays = (p: string) => (/x/.test(p) ? 'pay' : 'pays');

/** "On this device, 1x4 blocks pay from 62% sparsity on L (95% CI 58–66%); unstructured from 78% ..." */
export function verdictOf(layer: string, lines: readonly PatternLine[]): string {
  if (lines.length === 0) return `No pattern on ${layer} has enough passing results for a break-even.`;
  const sorted = [...lines].sort((a, b) => key(a.breakEven.estimate) - key(b.breakEven.estimate));
  const part = (l: PatternLine, first: boolean) => {
    const be = l.breakEven;
    const ci = `95% CI ${crossingText(be.low)}–${crossingText(be.high)}${l.noisy ? ', noisy: indicative' : ''}`;
    const from = (s: string) =>
      first ? `${patternWords(l.pattern)} ${pays(l.pattern)} from ${s} sparsity on ${layer}` : `${patternWords(l.pattern)} from ${s}`;
    if (be.estimate.censored === 'above')
      return `${patternWords(l.pattern)} ${pays(l.pattern) === 'pay' ? 'do' : 'does'} not pay up to ${pctText(be.estimate.value)}${first ? ` on ${layer}` : ''} (${ci})`;
    if (be.estimate.censored === 'below') return `${from(`${pctText(be.estimate.value)} or less`)} (${ci})`;
    return `${from(pctText(be.estimate.value))} (${ci})`;
  };
  const head = `On this device, ${sorted.map((l, i) => part(l, i === 0)).join('; ')}.`;
  const rule = sorted.map((l) => {
    const e = l.breakEven.estimate;
    const rel =
      e.censored === 'above' ? 'later than' : e.censored === 'below' || e.value < XNNPACK_RULE ? 'earlier than' : e.value > XNNPACK_RULE ? 'later than' : 'at';
    return `${l.pattern} ${rel}`;
  });
  return `${head} Against XNNPACK's 2/3 rule (sparse above 66.7%): ${rule.join(', ')} the rule.`;
}

/** Every layer's speedup-vs-sparsity chart (SVG), in view order. */
export async function sparseChartSvgs(view: SparseView): Promise<{ speedup: string; roofline: string }[]> {
  const out: { speedup: string; roofline: string }[] = [];
  for (const [i, l] of view.layers.entries())
    out.push({ speedup: await layerChartSvg(l, `rb-sparse-${i}`), roofline: await layerRooflineSvg(l, `rb-sparse-roof-${i}`) });
  return out;
}

/** What a layer's executed-roofline chart draws (exported for tests): each kernel and the dense GEMM per sparsity. */
export function layerRooflineData(l: LayerView) {
  const tips: Tip[] = [];
  const points = l.lines.flatMap((line) =>
    line.roofline.flatMap((p) => {
      const at = pctText(p.fraction);
      tips.push({
        lines: [
          `${line.pattern} (${line.variant}) at ${at}`,
          `executed: ${p.executedIntensity.toPrecision(3)} FLOP/byte, ${p.executedGflops.toPrecision(3)} GFLOP/s`,
        ],
        className: 'rb-sparse-roof',
      });
      const sparse = { series: line.pattern, x: p.executedIntensity, y: p.executedGflops, label: at, tip: tipToken(tips.length - 1) };
      tips.push({
        lines: [`dense GEMM, ${line.pattern} weights at ${at}`, `${p.denseIntensity.toPrecision(3)} FLOP/byte, ${p.denseGflops.toPrecision(3)} GFLOP/s`],
        className: 'rb-sparse-roof',
      });
      return [sparse, { series: 'dense GEMM', x: p.denseIntensity, y: p.denseGflops, label: at, tip: tipToken(tips.length - 1) }];
    }),
  );
  return { points: points.filter((p) => p.x > 0 && p.y > 0 && Number.isFinite(p.x) && Number.isFinite(p.y)), tips };
}

async function layerRooflineSvg(l: LayerView, id: string): Promise<string> {
  const { points, tips } = layerRooflineData(l);
  const kept = new Set(points.map((p) => p.tip));
  const used = tips.filter((_, i) => kept.has(tipToken(i)));
  // Tokens renumbered over the points kept (a dropped point has no mark, so no tip).
  const renum = points.map((p, i) => ({ ...p, tip: tipToken(i) }));
  const x = { field: 'x', type: 'quantitative', title: 'executed FLOP per byte moved (values, indices, map, activations)', scale: { type: 'log' } } as const;
  const y = { field: 'y', type: 'quantitative', title: 'executed GFLOP/s', scale: { type: 'log' } } as const;
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 560,
    height: 220,
    config: CHART_CONFIG,
    data: { values: renum },
    layer: [
      { mark: { type: 'line', opacity: 0.5 }, encoding: { x, y, color: { field: 'series', type: 'nominal', title: 'kernel' }, detail: { field: 'series' } } },
      { mark: { type: 'point', filled: true, size: 45 }, encoding: { x, y, color: { field: 'series', type: 'nominal' }, description: { field: 'tip' } } },
      { mark: { type: 'text', dy: -8, fontSize: 9, color: '#555' }, encoding: { x, y, text: { field: 'label' } } },
    ],
  } as TopLevelSpec;
  return attachTitles(await vegaLiteToSvg(spec, id), used);
}

/** What a layer's chart draws (exported for tests). */
export function layerChartData(l: LayerView) {
  const tips: Tip[] = [];
  const points = l.lines.flatMap((line) =>
    line.points.map((p) => {
      tips.push({
        lines: [`${line.pattern} (${line.variant}) at ${pctText(p.fraction)}`, `speedup over dense: ${speedupText(p.speedup)}`],
        className: 'rb-sparse-point',
      });
      return {
        pattern: line.pattern,
        sparsity: p.fraction * 100,
        speedup: p.speedup.value,
        low: Math.max(p.speedup.low, 1e-3),
        high: Number.isFinite(p.speedup.high) ? p.speedup.high : p.speedup.value * 10,
        tip: tipToken(tips.length - 1),
      };
    }),
  );
  const breaks = l.lines.flatMap((line) => {
    const be = line.breakEven;
    if (be.estimate.censored) return [];
    tips.push({
      lines: [`${line.pattern}: break-even ${crossingText(be.estimate)}`, `95% CI ${crossingText(be.low)}–${crossingText(be.high)}`],
      className: 'rb-sparse-breakeven',
    });
    return [{ pattern: line.pattern, at: be.estimate.value * 100, low: be.low.value * 100, high: be.high.value * 100, one: 1, tip: tipToken(tips.length - 1) }];
  });
  return { points, breaks, tips };
}

async function layerChartSvg(l: LayerView, id: string): Promise<string> {
  const { points, breaks, tips } = layerChartData(l);
  const x = { field: 'sparsity', type: 'quantitative', title: 'sparsity (% of weights zero)', scale: { domain: [40, 100] } } as const;
  const y = { field: 'speedup', type: 'quantitative', title: 'speedup over dense GEMM, same weights (×)', scale: { type: 'log' } } as const;
  const colour = { field: 'pattern', type: 'nominal', title: 'pattern' } as const;
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 560,
    height: 260,
    config: CHART_CONFIG,
    layer: [
      { data: { values: [{ one: 1 }] }, mark: { type: 'rule', color: '#888', strokeDash: [2, 2] }, encoding: { y: { field: 'one', type: 'quantitative' } } },
      {
        data: { values: [{ x: XNNPACK_RULE * 100, label: "XNNPACK's 2/3 rule" }] },
        layer: [
          { mark: { type: 'rule', color: '#b04', strokeDash: [6, 3] }, encoding: { x: { field: 'x', type: 'quantitative' } } },
          {
            mark: { type: 'text', color: '#b04', align: 'left', dx: 3, dy: -120, fontSize: 10 },
            encoding: { x: { field: 'x', type: 'quantitative' }, text: { field: 'label' } },
          },
        ],
      },
      {
        data: { values: points },
        layer: [
          { mark: { type: 'rule' }, encoding: { x, y: { ...y, field: 'low' }, y2: { field: 'high' }, color: colour } },
          { mark: { type: 'line' }, encoding: { x, y, color: colour } },
          { mark: { type: 'point', filled: true, size: 50 }, encoding: { x, y, color: colour, description: { field: 'tip' } } },
        ],
      },
      ...(breaks.length
        ? [
            {
              data: { values: breaks },
              layer: [
                {
                  mark: { type: 'rule', strokeWidth: 3 },
                  encoding: { x: { field: 'low', type: 'quantitative' }, x2: { field: 'high' }, y: { field: 'one', type: 'quantitative' }, color: colour },
                },
                {
                  mark: { type: 'point', shape: 'diamond', size: 110, filled: true, stroke: 'black' },
                  encoding: {
                    x: { field: 'at', type: 'quantitative' },
                    y: { field: 'one', type: 'quantitative' },
                    color: colour,
                    description: { field: 'tip' },
                  },
                },
              ],
            },
          ]
        : []),
    ],
  } as TopLevelSpec;
  return attachTitles(await vegaLiteToSvg(spec, id), tips);
}

/** The template's data (templates/sparse.njk): the view with its texts, and one chart per layer (none for an emulated device). */
export async function sparseSection(run: RunResults): Promise<{ sparse: object | null; sparseSvgs: { speedup: string; roofline: string }[] }> {
  const view = buildSparseView(run);
  if (!view) return { sparse: null, sparseSvgs: [] };
  const emulated = run.device.emulated;
  const kb = (b: number) => `${Number((b / 1024).toPrecision(3))} KiB`;
  return {
    sparse: {
      emulated,
      formats: view.formats,
      layers: view.layers.map((l) => ({
        ...l,
        lines: l.lines.map((line) => ({
          ...line,
          estimateText: crossingText(line.breakEven.estimate),
          lowText: crossingText(line.breakEven.low),
          highText: crossingText(line.breakEven.high),
          widthText: line.breakEven.widthPoints === null ? 'open (outside the sweep)' : `${line.breakEven.widthPoints.toFixed(1)} points`,
        })),
        storage: l.storage.map((s) => ({
          ...s,
          sparsityText: pctText(s.fraction),
          denseText: kb(s.denseBytes),
          cells: view.formats.map((f) => {
            const b = s.formats[f];
            return b === undefined ? '—' : `${kb(b)} (${s.denseBytes > 0 ? `${Number(((100 * b) / s.denseBytes).toPrecision(3))}%` : '—'})`;
          }),
        })),
      })),
    },
    sparseSvgs: emulated ? [] : await sparseChartSvgs(view),
  };
}
