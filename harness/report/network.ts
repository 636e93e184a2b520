/**
 * The report's view of a models-suite case (a whole network): per variant the
 * latency percentiles, the runtime's overhead and its per-layer table (as rich
 * as TFLite's op profile: node, kind, average ms, % and cumulative %, calls,
 * FLOPs, bytes, GFLOP/s, % of its roof, error against float64, the layer's own
 * check), and a chart of how the error against the float64 forward pass grows
 * through the network. Every value is text the template escapes.
 */
import type { TopLevelSpec } from 'vega-lite';
import { decodeFloat, isTimed, resultThreads, type CaseResult, type CaseSpec, type ModelRun } from '../../core/contracts.js';
import { variantColour } from './colours.js';
import { bytesBinary, fixed, flopCount, ms, sci, sig } from './format.js';
import { CHART_CONFIG, vegaLiteToSvg } from './svg.js';

export interface LayerCells {
  no: number;
  node: string;
  op: string;
  kernel: string;
  /** "on N threads" for a conv layer of a network at N threads, '' on thread 0. */
  threads: string;
  note: string;
  ms: string;
  pct: string;
  cumPct: string;
  calls: string;
  flops: string;
  bytes: string;
  gflops: string;
  pctRoof: string;
  relL2: string;
  maxAbs: string;
  ok: boolean;
  check: string;
  candidates: string;
}

export interface NetworkRun {
  variant: string;
  engine: string;
  /** The threads it ran on and, for a network whose conv layers ran on the pool, the share of its layer time spent on one thread. */
  threads: string;
  p50: string;
  p90: string;
  p99: string;
  layerSum: string;
  overhead: string;
  bestSum: string;
  arena: string;
  weights: string;
  agreement: string;
  layers: LayerCells[];
}

export interface NetworkView {
  source: string;
  weights: string;
  memory: string;
  nodes: number;
  runs: NetworkRun[];
}

export function networkView(c: CaseSpec, results: readonly CaseResult[]): NetworkView | null {
  // Any case whose results carry the whole-graph view (a graph kit's: suites/kit.ts GraphKit); the case's
  // provenance (where the network came from, its weights, its memory estimate) where it states one.
  const m = c.model;
  if (!m && !results.some((r) => isTimed(r) && r.model)) return null;
  const runs: NetworkRun[] = [];
  for (const r of results) {
    if (!isTimed(r) || !r.model) continue;
    const mr = r.model;
    const total = mr.layers.reduce((s, l) => s + l.ms, 0);
    let cum = 0;
    runs.push({
      variant: r.variant,
      engine: mr.engine + (mr.policy ? ` (${mr.policy})` : ''),
      threads: threadsText(resultThreads(r), mr, r.oversubscribed === true),
      p50: ms(mr.p50),
      p90: ms(mr.p90),
      p99: ms(mr.p99),
      layerSum: mr.layerSumMs === null ? '—' : ms(mr.layerSumMs),
      overhead: overheadText(mr.overheadMs, mr.overheadPct),
      bestSum: mr.bestLayerSumMs === null || mr.bestLayerSumMs === undefined ? '—' : ms(mr.bestLayerSumMs),
      arena: mr.arenaBytes === null ? '—' : `${bytesBinary(mr.arenaBytes)} (${bytesBinary(mr.naiveArenaBytes)} without reuse)`,
      weights: mr.weightBytes === null ? '—' : bytesBinary(mr.weightBytes),
      agreement: mr.agreement
        ? `relL2 ${sci(decodeFloat(mr.agreement.relL2))}, max abs ${sci(decodeFloat(mr.agreement.maxAbs))} against ${mr.agreement.with}`
        : '—',
      layers: mr.layers.map((l, i) => {
        cum += l.ms;
        return {
          no: i,
          node: l.node,
          op: l.op,
          kernel: l.kernel,
          threads: l.threads === undefined ? '' : `on ${l.threads} threads`,
          note: l.note ?? '',
          ms: fixed(l.ms, 4),
          pct: total > 0 ? fixed((100 * l.ms) / total, 1) : '—',
          cumPct: total > 0 ? fixed((100 * cum) / total, 1) : '—',
          calls: String(l.calls),
          flops: l.flops > 0 ? flopCount(l.flops) : '—',
          bytes: bytesBinary(l.bytes),
          gflops: l.flops > 0 ? sig(l.gflops) : '—',
          pctRoof: l.pctRoof === undefined ? '—' : `${fixed(l.pctRoof, 0)}%`,
          relL2: sci(decodeFloat(l.relL2)),
          maxAbs: sci(decodeFloat(l.maxAbs)),
          ok: l.check.ok,
          check: l.check.detail,
          candidates: (l.candidates ?? [])
            .map((k) => `${k.variant}: ${k.ms === null ? 'failed' : `${fixed(k.ms, 4)} ms`}${k.ok ? '' : ` (not chosen: ${k.detail ?? 'inaccurate'})`}`)
            .join('; '),
        };
      }),
    });
  }
  return {
    source: m?.source ?? c.layer,
    weights: !m ? '—' : m.weights === 'seeded' ? `seeded He-scaled weights (seed ${c.seed})` : `real weights: ${m.weightsFrom ?? 'shipped with the plan'}`,
    memory: m ? `${bytesBinary(m.memory.totalBytes)} estimated peak (${m.memory.detail})` : '—',
    nodes: c.graph.nodes.length,
    runs,
  };
}

/**
 * The runtime's overhead, end-to-end mean minus the sum of its layers. The layers are timed in a profiled
 * inference after each timed one (suites/models/measure.ts): when that sum comes out above the end-to-end
 * mean (noise, the per-layer timers), there is no overhead to show, and a negative one ('-6.352 (-18.2%)') is
 * not a figure: it says so instead.
 */
export function overheadText(overheadMs: number | null, overheadPct: number | null): string {
  if (overheadMs === null || overheadPct === null) return '—';
  if (overheadMs < 0) return `none measurable (the layers, timed in separate profiled runs, sum ${ms(-overheadMs)} ms above it)`;
  return `${ms(overheadMs)} (${fixed(overheadPct, 1)}%)`;
}

/** "1", or "2" with what ran on the threads: the conv and FC layers (and the share of the layer time left on thread 0), or the engine's own pool. */
export function threadsText(threads: number, mr: ModelRun, oversubscribed: boolean): string {
  const over = oversubscribed ? ', oversubscribed' : '';
  if (threads === 1) return '1';
  if (mr.layers.length === 0) return `${threads} (the engine's own intra-op pool${over})`;
  const total = mr.layers.reduce((s, l) => s + l.ms, 0);
  const serial = mr.layers.filter((l) => l.threads === undefined).reduce((s, l) => s + l.ms, 0);
  const pooled = mr.layers.filter((l) => l.threads !== undefined).length;
  const share = total > 0 ? `; ${fixed((100 * serial) / total, 1)}% of the layer time on thread 0` : '';
  return `${threads} (${pooled} layer${pooled === 1 ? '' : 's'} (conv, FC) on ${threads} threads${share}${over})`;
}

/** Error growth: each layer's relative L2 error against the float64 forward pass, in graph order, one line per runtime variant. */
export async function errorGrowthSvg(results: readonly CaseResult[], idPrefix: string): Promise<string | null> {
  const data: { layer: number; node: string; relL2: number; variant: string }[] = [];
  for (const r of results) {
    if (!isTimed(r) || !r.model) continue;
    r.model.layers.forEach((l, i) => {
      const e = decodeFloat(l.relL2);
      // Exact layers (0 error) and non-finite ones cannot sit on a log axis: left out of the line.
      if (Number.isFinite(e) && e > 0) data.push({ layer: i, node: l.node, relL2: e, variant: r.variant });
    });
  }
  if (data.length === 0) return null;
  const variants = [...new Set(data.map((d) => d.variant))];
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    width: 640,
    height: 220,
    data: { values: data },
    mark: { type: 'line', point: { size: 18 }, strokeWidth: 1.5 },
    encoding: {
      x: { field: 'layer', type: 'quantitative', title: 'layer (graph order)' },
      y: { field: 'relL2', type: 'quantitative', scale: { type: 'log' }, title: 'relative L2 error vs float64 forward pass' },
      color: {
        field: 'variant',
        type: 'nominal',
        scale: { domain: variants, range: variants.map((v) => variantColour(v)) },
        // Names whole ('model-runtime-im2…' could be either policy, at either thread count), one per line.
        legend: { orient: 'right', title: null, labelLimit: 0 },
      },
      tooltip: [{ field: 'node' }, { field: 'relL2', format: '.2e' }],
    },
    config: CHART_CONFIG,
  };
  return vegaLiteToSvg(spec, idPrefix);
}
