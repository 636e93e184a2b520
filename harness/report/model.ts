/**
 * The report's view model: everything the templates show, computed and
 * formatted from a stored run. Pure (no I/O): strings here are plain text;
 * the template engine escapes them.
 */
import { networkView, type NetworkView } from './network.js';
import { convCase, isTimed, decodeFloat, type CaseResult, type CaseSpec, type Health, type RunResults } from '../../core/contracts.js';
import { ridgePoint } from '../../core/roofline.js';
import { convOutputSize } from '../../reference/conv.js';
import { cacheBandwidthLevels, isPlottable, rooflineData } from './charts.js';
import { runFacts } from './facts.js';
import * as f from './format.js';
import { buildAccuracyView, type AccuracyView } from './accuracy.js';
import { speedupOf, speedupText } from './speedup.js';
import { healthContention } from '../contention.js';

const STATES = ['passed', 'inaccurate', 'errored', 'skipped'] as const;

/** Temperature rise (°C) between the first and the hottest later health sample that earns a warning. */
export const TEMP_RISE_WARN_C = 10;
/** Absolute temperature (°C) that earns a warning (Raspberry Pi firmware soft-throttles from 80 °C). */
export const TEMP_HIGH_WARN_C = 80;

export interface KeyValue {
  key: string;
  value: string;
  /** Shown in a monospace font (hashes, ids, paths). */
  mono?: boolean;
  /** Marked as a problem. */
  warn?: boolean;
}

export interface VariantRow {
  variant: string;
  algorithm: string;
  /** The variant's colour in the charts (colours.ts). */
  color: string;
  state: CaseResult['state'];
  /** errored: error text (first line) and the rest (stack etc.); skipped: reason. */
  message: string;
  messageMore: string;
  phase: string;
  costNote: string;
  /** The library a peer variant runs (its info.library: e.g. onnxruntime-web, XNNPACK via tfjs-backend-wasm), or ''. */
  library: string;
  timed: TimedCells | null;
}

export interface TimedCells {
  noisy: boolean;
  median: string;
  ci: string;
  ciLevel: string;
  n: string;
  outliers: number;
  cv: string;
  gflops: string;
  execGflops: string;
  gbps: string;
  pctMeasured: string;
  /** A native kernel's share of the native roof (--kernels), where the run measured one. */
  pctNative: string;
  attainableMeasured: string;
  pctTheoretical: string;
  speedup: string;
  isBaseline: boolean;
  maxAbs: string;
  relL2: string;
  maxRel: string;
  sqnr: string;
  cosine: string;
  tolMetric: string;
  tolLimit: string;
  tolSource: string;
  /** The tolerance's metric is over its limit. */
  overLimit: boolean;
  /**
   * The tolerance is a low-precision kernel check's (against the exact reference of the quantized / half-rounded
   * values), not a bound on the error against float64 the row shows: those cells are not marked against it.
   */
  kernelTolerance: boolean;
  /**
   * The row's verdict is its checks' alone (a whole network of the light runtime: every layer checked against
   * float64 of its own inputs), named here; its tolerance's limit 0 is the count of failed checks, not a bound
   * on the rel L2 shown ('relL2 ≤ 0' beside a red 1.8e-8 on a passed row). '' otherwise.
   */
  byChecks: string;
  prepMs: string;
  prepBytes: string;
  prepNote: string;
  checksum: string;
  // timing details
  min: string;
  p90: string;
  mean: string;
  mad: string;
  sd: string;
  max: string;
  reps: string;
  sampleDuration: string;
  timerRes: string;
  warmup: string;
}

export interface CaseView {
  no: number;
  anchor: string;
  id: string;
  layer: string;
  description: string;
  shape: string;
  output: string;
  seed: string;
  distribution: string;
  tags: string[];
  flops: string;
  bytes: string;
  intensity: string;
  /** Which side of the measured ridge the case sits on. */
  bound: string;
  rows: VariantRow[];
  hasExecuted: boolean;
  hasTheoretical: boolean;
  timedCount: number;
  /** Confidence level of the median's interval, e.g. "99%". */
  ciLabel: string;
  stateBadges: { state: string; count: number }[];
  /** A whole network (models suite): its per-layer tables and facts (harness/report/network.ts); else null. */
  network: NetworkView | null;
}

export interface SuiteView {
  name: string;
  cases: CaseView[];
}

export interface ProblemView {
  state: string;
  caseNo: number;
  anchor: string;
  caseId: string;
  variant: string;
  detail: string;
}

export interface HealthRow {
  when: string;
  at: string;
  temperature: string;
  governor: string;
  governorWarn: boolean;
  freq: string;
  throttled: string;
  throttledWarn: boolean;
  load: string;
}

export interface ReportView {
  title: string;
  runId: string;
  device: { name: string; profile: string; transport: string; emulated: boolean };
  status: { value: string; headline: string; detail: string; ok: boolean };
  meta: KeyValue[];
  options: KeyValue[];
  summary: {
    counts: { state: string; count: number }[];
    total: number;
    cases: number;
    noisy: number;
    timed: number;
    highlights: KeyValue[];
    problems: ProblemView[];
    skipped: ProblemView[];
  };
  probe: KeyValue[] | null;
  theoretical: KeyValue[] | null;
  measured: KeyValue[] | null;
  /** The native ceilings a kernels file's probe measured (--kernels), where the run has them. */
  native: KeyValue[] | null;
  health: HealthRow[];
  healthWarnings: string[];
  roofline: {
    notPlotted: number;
    plotted: number;
    noisy: number;
    hasTheoretical: boolean;
    hasMeasured: boolean;
    hasNative: boolean;
    hasExecuted: boolean;
    hasCacheSlopes: boolean;
  };
  suites: SuiteView[];
  /** The accuracy decision for fast (the suite's, e.g. Winograd, FFT) and approximate variants; null when the run has none. */
  accuracy: AccuracyView | null;
  stderr: string[];
}

function shapeText(c: CaseSpec): { shape: string; output: string } {
  const g = c.graph;
  if (g.nodes.length !== 1 || g.nodes[0]?.op !== 'conv') {
    // A graph of several operators (a network): its input, not the first conv layer's shape the case also carries.
    return {
      shape: `network input ${g.inputs.map((i) => `${i.name} ${i.shape.join('×')}`).join(', ')}, ${g.nodes.length} nodes`,
      output: g.outputs.join(', '),
    };
  }
  const s = c.shape;
  let out = '?';
  try {
    const { ho, wo } = convOutputSize(s);
    out = `${s.n}×${s.k}×${ho}×${wo}`;
  } catch {
    out = 'invalid shape';
  }
  return {
    shape: `N=${s.n}, C=${s.c}, ${s.h}×${s.w} → K=${s.k}, ${s.r}×${s.s}, stride ${s.stride}, pad ${s.pad}, groups ${s.groups}`,
    output: out,
  };
}

function firstLine(s: string): { first: string; rest: string } {
  const i = s.indexOf('\n');
  return i < 0 ? { first: s, rest: '' } : { first: s.slice(0, i), rest: s.slice(i + 1) };
}

function timedCells(r: Extract<CaseResult, { state: 'passed' | 'inaccurate' }>, baseline: CaseResult | undefined): TimedCells {
  const st = r.timing.stats;
  const acc = r.accuracy;
  const measuredValue = decodeFloat(acc.tolerance.metric === 'maxAbs' ? acc.maxAbs : acc.relL2);
  // A float result judged by its checks alone (no error budget: limit 0 is the count of failed checks).
  const byChecks = acc.schemeLoss === undefined && acc.tolerance.limit === 0 && (acc.checks?.length ?? 0) > 0;
  let speedup: string = f.DASH;
  const isBaseline = r.variant === baseline?.variant;
  if (baseline && isTimed(baseline)) {
    speedup = isBaseline ? '1×' : speedupText(speedupOf(r, baseline));
  }
  const coverage = st.ciCoverage ?? st.ciLevel;
  return {
    noisy: r.timing.noisy,
    median: f.ms(st.median),
    // An interval that covers less than the level asked of it says so.
    ci: `${f.ms(st.ciLow)} – ${f.ms(st.ciHigh)}${coverage < st.ciLevel ? ` (${coveragePct(coverage)})` : ''}`,
    ciLevel: coveragePct(coverage),
    n: String(st.n),
    outliers: st.outliers.length,
    cv: f.ratioPct(st.cv),
    gflops: f.sig(r.perf.gflops, 3),
    execGflops: r.perf.executedGflops !== undefined ? f.sig(r.perf.executedGflops, 3) : '',
    gbps: f.sig(r.perf.gbps, 3),
    pctMeasured: r.perf.pctMeasured !== undefined ? f.pct(r.perf.pctMeasured) : f.DASH,
    attainableMeasured: r.perf.attainableMeasured !== undefined ? `${f.sig(r.perf.attainableMeasured, 3)} GFLOP/s attainable` : '',
    pctTheoretical: r.perf.pctTheoretical !== undefined ? f.pct(r.perf.pctTheoretical) : '',
    pctNative: r.perf.pctNative !== undefined ? f.pct(r.perf.pctNative) : '',
    speedup,
    isBaseline,
    maxAbs: f.sci(decodeFloat(acc.maxAbs), 1),
    relL2: f.sci(decodeFloat(acc.relL2), 1),
    maxRel: f.sci(decodeFloat(acc.maxRel), 1),
    sqnr: f.fixed(decodeFloat(acc.sqnrDb), 1),
    cosine: f.cosine(decodeFloat(acc.cosine)),
    tolMetric: acc.tolerance.metric,
    tolLimit: f.sci(acc.tolerance.limit, 1),
    tolSource: acc.tolerance.source,
    // A low-precision row's max abs / rel L2 are against float64 on the original floats (the scheme loss is in them);
    // its tolerance is the kernel check's, so whether it holds is the check's verdict, not those cells against it.
    kernelTolerance: acc.schemeLoss !== undefined || byChecks,
    byChecks: byChecks ? (acc.checks ?? []).map((c) => c.name).join(', ') : '',
    overLimit: acc.schemeLoss !== undefined || byChecks ? (acc.checks ?? []).some((c) => !c.ok) : !(measuredValue <= acc.tolerance.limit),
    prepMs: r.prepare.ms > 0 ? f.duration(r.prepare.ms) : 'none',
    prepBytes: r.prepare.bytes > 0 ? f.bytesBinary(r.prepare.bytes) : 'no extra bytes',
    prepNote: r.prepare.note ?? '',
    checksum: acc.outputChecksum,
    min: f.ms(st.min),
    p90: f.ms(st.p90),
    mean: f.ms(st.mean),
    mad: f.ms(st.mad),
    sd: f.ms(st.sd),
    max: f.ms(st.max),
    reps: String(r.timing.repsPerSample),
    sampleDuration: f.duration(r.timing.sampleDurationMs),
    timerRes: f.duration(r.timing.timerResolutionMs),
    warmup: f.duration(r.timing.warmupMs),
  };
}

function variantRow(r: CaseResult, costVaries: boolean, baseline: CaseResult | undefined, colors: ReadonlyMap<string, string>): VariantRow {
  const costNote = costVaries ? `${f.flopCount(r.cost.flops)} · ${f.bytesDecimal(r.cost.bytes)} · ${f.sig(r.cost.intensity, 3)} FLOP/B` : '';
  const color = colors.get(r.variant) ?? '#888888';
  const library = typeof r.info?.library === 'string' ? r.info.library : '';
  const base = { variant: r.variant, algorithm: r.algorithm, color, state: r.state, costNote, library, message: '', messageMore: '', phase: '', timed: null };
  switch (r.state) {
    case 'errored': {
      const { first, rest } = firstLine(r.error);
      return { ...base, message: first, messageMore: rest, phase: r.phase };
    }
    case 'skipped':
      return { ...base, message: r.reason };
    default:
      return { ...base, timed: timedCells(r, baseline) };
  }
}

function rangeOf(xs: number[]): string {
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  return lo === hi ? f.sig(lo, 3) : `${f.sig(lo, 3)}–${f.sig(hi, 3)}`;
}

/** A coverage as a percentage: 0.99 -> "99%", 0.9375 -> "93.8%". */
function coveragePct(x: number): string {
  return f.ratioPct(x).replace(/\.0%$/, '%');
}

/** The CI column's label: the intervals' actual coverage when they share one (e.g. "93.8% CI" for 5 samples), else "CI". */
function ciLabel(results: readonly CaseResult[]): string {
  const shown = [
    ...new Set(results.filter(isTimed).map((r) => coveragePct(Math.min(r.timing.stats.ciCoverage ?? r.timing.stats.ciLevel, r.timing.stats.ciLevel)))),
  ];
  if (shown.length !== 1) return 'CI';
  return `${shown[0]} CI`;
}

function stateCounts(results: readonly CaseResult[]): { state: string; count: number }[] {
  return STATES.map((state) => ({ state, count: results.filter((r) => r.state === state).length }));
}

function caseView(no: number, c: CaseSpec, results: CaseResult[], run: RunResults, colors: ReadonlyMap<string, string>): CaseView {
  const { shape, output } = shapeText(c);
  const cost = results[0]?.cost;
  // Variants normally share the counting rule's cost; where they do not (e.g. unfused vs fused), each row states its own.
  const costVaries = results.some((r) => r.cost.flops !== cost?.flops || r.cost.bytes !== cost.bytes);
  const flopsVary = results.some((r) => r.cost.flops !== cost?.flops);
  // The suite's table baseline (suites/<op>/kit.ts), e.g. fp32 direct for conv.
  const tableBaseline = runFacts(run).tableBaseline(c.id);
  const baseline = results.find((r) => r.variant === tableBaseline);
  const m = run.ceilings.measured;
  let bound = '';
  if (cost && m && m.peakGflops > 0 && m.dramGbps > 0) {
    const ridge = ridgePoint(m.peakGflops, m.dramGbps);
    bound =
      cost.intensity >= ridge ? `compute-bound (right of the ${f.sig(ridge, 3)} FLOP/B ridge)` : `memory-bound (left of the ${f.sig(ridge, 3)} FLOP/B ridge)`;
  }
  return {
    no,
    anchor: `case-${no}`,
    id: c.id,
    layer: c.layer,
    description: c.description,
    shape,
    output,
    seed: String(c.seed),
    distribution: c.distribution,
    tags: c.tags,
    flops: !cost ? f.DASH : flopsVary ? 'FLOPs vary by variant' : f.flopCount(cost.flops),
    bytes: !cost ? f.DASH : costVaries ? 'bytes vary by variant (see rows)' : f.bytesDecimal(cost.bytes),
    intensity: !cost ? f.DASH : costVaries ? `${rangeOf(results.map((r) => r.cost.intensity))} FLOP/B` : `${f.sig(cost.intensity, 3)} FLOP/B`,
    bound: costVaries ? '' : bound,
    rows: results.map((r) => variantRow(r, costVaries, baseline, colors)),
    hasExecuted: results.some((r) => isTimed(r) && r.perf.executedGflops !== undefined),
    hasTheoretical: results.some((r) => isTimed(r) && r.perf.pctTheoretical !== undefined),
    timedCount: results.filter(isTimed).length,
    ciLabel: ciLabel(results),
    stateBadges: stateCounts(results).filter((s) => s.count > 0),
    network: networkView(c, results),
  };
}

/** vcgencmd get_throttled bits. */
const THROTTLE_BITS: [number, string][] = [
  [0, 'under-voltage now'],
  [1, 'ARM frequency capped now'],
  [2, 'throttled now'],
  [3, 'soft temperature limit active now'],
  [16, 'under-voltage has occurred'],
  [17, 'ARM frequency capping has occurred'],
  [18, 'throttling has occurred'],
  [19, 'soft temperature limit has occurred'],
];

/** Decode a throttle state: null = not reported, [] = none, else what was reported. */
export function decodeThrottled(value: string | null): string[] | null {
  if (value === null) return null;
  const v = value.trim().replace(/^throttled=/, '');
  if (v === '') return null;
  const n = /^0x[0-9a-f]+$/i.test(v) ? parseInt(v, 16) : /^\d+$/.test(v) ? parseInt(v, 10) : NaN;
  if (Number.isNaN(n)) return [`unrecognised throttle state "${value}"`];
  if (n === 0) return [];
  const known = THROTTLE_BITS.filter(([bit]) => (n & (1 << bit)) !== 0).map(([, what]) => what);
  return known.length ? known : [`throttle flags ${v}`];
}

/** Warnings about the device's condition during the run. */
export function healthWarnings(health: readonly Health[], cores: number | undefined): string[] {
  const warnings: string[] = [];
  const governors = [...new Set(health.map((h) => h.governor).filter((g): g is string => g !== null && g !== ''))];
  for (const g of governors) {
    if (g !== 'performance') {
      const when = health
        .filter((h) => h.governor === g)
        .map((h) => h.when)
        .join(', ');
      warnings.push(
        `CPU frequency governor was "${g}" (${when}), not "performance": the clock may change during timing. Set it with cpupower frequency-set -g performance.`,
      );
    }
  }
  for (const h of health) {
    const t = decodeThrottled(h.throttled);
    if (t && t.length > 0)
      warnings.push(
        `Throttling reported (${h.when}, ${h.throttled}): ${t.join(', ')}. Timings may be slower than the hardware allows; check power supply and cooling.`,
      );
  }
  const temps = health.filter((h) => h.temperatureC !== null) as (Health & { temperatureC: number })[];
  const first = temps[0];
  if (first) {
    const hottest = temps.reduce((a, b) => (b.temperatureC > a.temperatureC ? b : a), first);
    const rise = hottest.temperatureC - first.temperatureC;
    if (rise >= TEMP_RISE_WARN_C) {
      warnings.push(
        `Temperature rose by ${f.fixed(rise, 1)} °C during the run (${f.fixed(first.temperatureC, 1)} °C ${first.when} → ${f.fixed(hottest.temperatureC, 1)} °C ${hottest.when}): later cases may have run at a lower clock.`,
      );
    }
    if (hottest.temperatureC >= TEMP_HIGH_WARN_C) {
      warnings.push(
        `Temperature reached ${f.fixed(hottest.temperatureC, 1)} °C (${hottest.when}), at or above the ${TEMP_HIGH_WARN_C} °C where many boards throttle.`,
      );
    }
  }
  const contention = healthContention(health, cores);
  if (contention?.contended) {
    warnings.push(
      `The device was busy with other work during the run (${contention.reason.replace(/^contended: /, '')}): its timings are indicative only, and compare gives this run no improved/regressed verdict.`,
    );
  }
  const busyLimit = Math.max(1, (cores ?? 4) * 0.25);
  for (const h of health.filter((x) => x.when.startsWith('before'))) {
    const load1 = h.loadAvg[0];
    if (load1 !== undefined && load1 > busyLimit) {
      warnings.push(`Load average was ${f.fixed(load1, 2)} ${h.when} the run: other work competed with the benchmark.`);
    }
  }
  return warnings;
}

function governorWarn(g: string | null): boolean {
  return g !== null && g !== '' && g !== 'performance';
}

export function buildView(run: RunResults): ReportView {
  const { numbers, colours: colors } = runFacts(run);
  const byCase = new Map<string, CaseResult[]>();
  for (const r of run.results) {
    const list = byCase.get(r.caseId) ?? [];
    list.push(r);
    byCase.set(r.caseId, list);
  }

  // Cases grouped by suite, in plan order; results without a case spec in their own group.
  const suites: SuiteView[] = [];
  const seenCases = new Set<string>();
  for (const c of run.cases) {
    if (seenCases.has(c.id)) continue;
    seenCases.add(c.id);
    let s = suites.find((x) => x.name === c.suite);
    if (!s) {
      s = { name: c.suite, cases: [] };
      suites.push(s);
    }
    s.cases.push(caseView(numbers.get(c.id) ?? 0, c, byCase.get(c.id) ?? [], run, colors));
  }
  const orphans = [...byCase.keys()].filter((id) => !seenCases.has(id));
  if (orphans.length) {
    suites.push({
      name: '(results without a case in the plan)',
      cases: orphans.map((id) => {
        const rs = byCase.get(id) ?? [];
        const spec: CaseSpec = convCase({
          id,
          suite: '?',
          layer: id,
          description: 'no case spec was stored for these results',
          shape: { n: 1, c: 1, h: 1, w: 1, k: 1, r: 1, s: 1, stride: 1, pad: 0, groups: 1 },
          seed: 0,
          distribution: run.options.distribution,
          tags: [],
        });
        const v = caseView(numbers.get(id) ?? 0, spec, rs, run, colors);
        return { ...v, shape: 'unknown', output: 'unknown', seed: f.DASH };
      }),
    });
  }

  const timed = run.results.filter(isTimed);
  const noisy = timed.filter((r) => r.timing.noisy).length;
  const anchorOf = (caseId: string) => `case-${numbers.get(caseId) ?? 0}`;
  const problem = (r: CaseResult): ProblemView => {
    let detail = '';
    if (r.state === 'errored') detail = `${r.phase}: ${firstLine(r.error).first}`;
    else if (r.state === 'skipped') detail = r.reason;
    else if (r.state === 'inaccurate') {
      const t = r.accuracy.tolerance;
      const v = decodeFloat(t.metric === 'maxAbs' ? r.accuracy.maxAbs : r.accuracy.relL2);
      const parts: string[] = [];
      const budget = r.accuracy.budget;
      if (budget && !budget.ok) parts.push(`over the budget: ${budget.violations.join(', ')}`);
      // The runner marks its own tolerance's failures in the source text (see harness/runner/measure.ts).
      const ownExceeded = /\(exceeded:|output changed/.test(t.source);
      if (ownExceeded || parts.length === 0) parts.push(`${t.metric} ${f.sci(v, 2)} > limit ${f.sci(t.limit, 1)} (${t.source})`);
      detail = parts.join('; ');
    }
    return { state: r.state, caseNo: numbers.get(r.caseId) ?? 0, anchor: anchorOf(r.caseId), caseId: r.caseId, variant: r.variant, detail };
  };

  const highlights: KeyValue[] = [];
  const withRate = timed.filter((r) => Number.isFinite(r.perf.gflops));
  if (withRate.length) {
    const best = withRate.reduce((a, b) => (b.perf.gflops > a.perf.gflops ? b : a));
    const worst = withRate.reduce((a, b) => (b.perf.gflops < a.perf.gflops ? b : a));
    highlights.push(
      {
        key: 'fastest (effective GFLOP/s)',
        value: `${f.sig(best.perf.gflops, 3)} GFLOP/s: ${best.variant} on #${numbers.get(best.caseId)} ${best.caseId} (${f.duration(best.timing.stats.median)})`,
      },
      {
        key: 'slowest (effective GFLOP/s)',
        value: `${f.sig(worst.perf.gflops, 3)} GFLOP/s: ${worst.variant} on #${numbers.get(worst.caseId)} ${worst.caseId} (${f.duration(worst.timing.stats.median)})`,
      },
    );
    // Percentages of the roofline count executed FLOPs (core/roofline.ts). A point above its roof is not
    // "close" to it: the roof does not bound that code (e.g. native code with wider vectors than WebAssembly).
    const withPct = withRate.filter((r) => r.perf.pctMeasured !== undefined);
    const under = withPct.filter((r) => (r.perf.pctMeasured ?? 0) <= 100);
    const above = withPct.filter((r) => (r.perf.pctMeasured ?? 0) > 100);
    if (under.length) {
      const top = under.reduce((a, b) => ((b.perf.pctMeasured ?? 0) > (a.perf.pctMeasured ?? 0) ? b : a));
      highlights.push({
        key: 'closest to the measured roofline',
        value: `${f.pct(top.perf.pctMeasured)} of attainable (executed FLOPs): ${top.variant} on #${numbers.get(top.caseId)} ${top.caseId}${top.timing.noisy ? ' (noisy)' : ''}`,
      });
    }
    if (above.length) {
      const variants = [...new Set(above.map((r) => r.variant))];
      const hi = above.reduce((a, b) => ((b.perf.pctMeasured ?? 0) > (a.perf.pctMeasured ?? 0) ? b : a));
      highlights.push({
        key: 'above the measured roofline',
        value: `${above.length} result${above.length === 1 ? '' : 's'} of ${variants.join(', ')} (up to ${f.pct(hi.perf.pctMeasured)}): the measured WebAssembly roof does not bound them, so they are not ranked against it`,
        warn: true,
      });
    }
    const longest = withRate.reduce((a, b) => (b.timing.stats.median > a.timing.stats.median ? b : a));
    highlights.push({
      key: 'longest median time',
      value: `${f.duration(longest.timing.stats.median)}: ${longest.variant} on #${numbers.get(longest.caseId)} ${longest.caseId}`,
    });
  }

  const p = run.probe;
  const probe: KeyValue[] | null = p
    ? [
        { key: 'host', value: p.hostname, mono: true },
        { key: 'CPU', value: [p.cpu.manufacturer, p.cpu.brand].filter((x) => x).join(' ') },
        { key: 'architecture', value: p.cpu.arch },
        { key: 'cores', value: `${p.cpu.physicalCores} physical, ${p.cpu.cores} logical` },
        {
          key: 'clock',
          value:
            p.cpu.speedGHz !== undefined || p.cpu.speedMaxGHz !== undefined
              ? `${f.sig(p.cpu.speedGHz, 3)} GHz${p.cpu.speedMaxGHz !== undefined ? ` (max ${f.sig(p.cpu.speedMaxGHz, 3)} GHz)` : ''}`
              : 'not reported',
        },
        {
          key: 'caches (one core)',
          value: [
            `L1d ${f.bytesBinary(p.cpu.cache.l1d)}`,
            `L2 ${f.bytesBinary(p.cpu.cache.l2)}`,
            `L3 ${f.bytesBinary(p.cpu.cache.l3)}${p.cpu.cache.l3 ? ' (shared)' : ''}`,
          ].join(' · '),
        },
        { key: 'memory', value: f.bytesBinary(p.memory.totalBytes) },
        { key: 'OS', value: `${p.os.distro} ${p.os.release} (${p.os.platform}, kernel ${p.os.kernel})` },
        { key: 'Node / V8', value: `${p.runtime.node} / ${p.runtime.v8}` },
        { key: 'Node from', value: nodeSource(run) },
        { key: 'wasm SIMD', value: p.runtime.wasmSimd ? 'yes' : 'no: SIMD variants are skipped', warn: !p.runtime.wasmSimd },
        { key: 'CPU flags', value: p.cpu.flags.length ? p.cpu.flags.join(' ') : 'none reported', mono: true },
      ]
    : null;

  const t = run.ceilings.theoretical;
  const theoretical: KeyValue[] | null = t
    ? [
        ...Object.entries(t.peakGflops).map(([dtype, v]) => ({ key: `peak ${dtype}`, value: `${f.sig(v, 3)} GFLOP/s` })),
        { key: 'DRAM bandwidth', value: `${f.sig(t.dramGbps, 3)} GB/s` },
        ...Object.entries(t.peakGflops)
          .filter(([, v]) => v > 0 && t.dramGbps > 0)
          .map(([dtype, v]) => ({ key: `ridge point ${dtype}`, value: `${f.sig(ridgePoint(v, t.dramGbps), 3)} FLOP/B` })),
        ...Object.entries(t.caches ?? {}).map(([name, v]) => ({ key: `cache ${name}`, value: f.bytesBinary(v) })),
        { key: 'source', value: t.source },
      ]
    : null;

  const m = run.ceilings.measured;
  const measured: KeyValue[] | null = m
    ? [
        {
          key: 'peak f32',
          value: `${f.sig(m.peakGflops, 3)} GFLOP/s${m.peakSamples.length ? ` (${m.peakSamples.length} samples, ${f.sig(Math.min(...m.peakSamples), 3)}–${f.sig(Math.max(...m.peakSamples), 3)})` : ''}`,
        },
        { key: 'method', value: m.peakMethod },
        ...(m.scalarPeakGflops !== undefined ? [{ key: 'scalar peak f32', value: `${f.sig(m.scalarPeakGflops, 3)} GFLOP/s` }] : []),
        { key: 'DRAM bandwidth', value: `${f.sig(m.dramGbps, 3)} GB/s (largest arrays of the sweep)` },
        ...(m.peakGflops > 0 && m.dramGbps > 0 ? [{ key: 'ridge point', value: `${f.sig(ridgePoint(m.peakGflops, m.dramGbps), 3)} FLOP/B` }] : []),
        ...cacheBandwidthLevels(run).map((l) => ({ key: `${l.name} bandwidth`, value: `${f.sig(l.gbps, 3)} GB/s (best of the sweep within ${l.name})` })),
      ]
    : null;

  const n = run.ceilings.native ?? null;
  const native: KeyValue[] | null = n
    ? [
        { key: 'peak f32', value: `${f.sig(n.peakGflops, 3)} GFLOP/s${n.peakSamples.length ? ` (${n.peakSamples.length} samples)` : ''}` },
        { key: 'method', value: n.peakMethod },
        { key: 'DRAM bandwidth', value: `${f.sig(n.dramGbps, 3)} GB/s (largest arrays of the sweep)` },
        ...(n.peakGflops > 0 && n.dramGbps > 0 ? [{ key: 'ridge point', value: `${f.sig(ridgePoint(n.peakGflops, n.dramGbps), 3)} FLOP/B` }] : []),
        { key: 'probe', value: n.source, mono: true },
      ]
    : null;

  const health: HealthRow[] = run.health.map((h) => {
    const thr = decodeThrottled(h.throttled);
    return {
      when: h.when,
      at: f.timestamp(h.at),
      temperature: h.temperatureC === null ? 'n/a' : `${f.fixed(h.temperatureC, 1)} °C`,
      governor: h.governor ?? 'n/a',
      governorWarn: governorWarn(h.governor),
      freq: h.freqMHz === null ? 'n/a' : `${f.sig(h.freqMHz, 4)} MHz`,
      throttled: h.throttled === null ? 'n/a' : thr && thr.length ? `${h.throttled} (${thr.join(', ')})` : `${h.throttled} (none)`,
      throttledWarn: thr !== null && thr.length > 0,
      load:
        (h.loadAvg.length ? h.loadAvg.map((x) => f.fixed(x, 2)).join(' / ') : 'n/a') +
        (h.cpu
          ? `; other processes ${f.fixed(h.cpu.otherCores, 2)} cores since the previous snapshot (up to ${f.fixed(h.cpu.maxCaseOtherCores, 2)} in one case)`
          : ''),
    };
  });

  const o = run.options;
  // The run's own time; a wait for the device lock (--wait) is shown apart from it.
  const wait = run.lockWaitMs ?? 0;
  const total = run.finishedAt ? Date.parse(run.finishedAt) - Date.parse(run.startedAt) : Number.NaN;
  const dur =
    wait > 0 && total >= wait
      ? `${f.duration(total - wait)}; before it, ${f.duration(wait)} waiting for the device lock`
      : f.elapsed(run.startedAt, run.finishedAt);
  const statusOk = run.status === 'complete';
  const plotted = run.results.filter(isPlottable).length;
  return {
    title: `roofbench: ${run.device.name}, run ${run.runId}`,
    runId: run.runId,
    device: {
      name: run.device.name,
      profile: run.device.profile ?? 'none',
      transport: run.device.transport,
      emulated: run.device.emulated,
    },
    status: {
      value: run.status,
      ok: statusOk,
      headline: run.status === 'running' ? 'Run not finished.' : `Run ${run.status}.`,
      detail:
        run.statusDetail ??
        (run.status === 'incomplete'
          ? 'the run ended before the runner reported done; no further detail was recorded'
          : run.status === 'interrupted'
            ? 'the run was stopped by the user; the results below are what finished before'
            : run.status === 'running'
              ? 'the run had not finished when these results were written'
              : ''),
    },
    meta: [
      { key: 'started', value: f.timestamp(run.startedAt) },
      { key: 'finished', value: run.finishedAt ? `${f.timestamp(run.finishedAt)}${dur ? ` (${dur})` : ''}` : 'not finished', warn: !run.finishedAt },
      {
        key: 'harness',
        value: `roofbench ${run.harness.version}, commit ${run.harness.gitCommit ?? 'unknown'}${run.harness.gitDirty ? ' (uncommitted changes)' : ''}`,
        mono: true,
        warn: run.harness.gitDirty === true,
      },
      {
        key: 'payload',
        value: (() => {
          const v = run.device.payloadVerified;
          if (!v) return `${run.payloadHash} (files not verified: a run from before payload verification)`;
          return `${run.payloadHash}: ${v.files} files verified by SHA-256 on the device before the runner was loaded${v.repaired.length ? `; replaced because they did not match: ${v.repaired.join(', ')}` : ''}`;
        })(),
        mono: true,
        warn: !run.device.payloadVerified || run.device.payloadVerified.repaired.length > 0,
      },
      { key: 'schema', value: `v${run.schemaVersion}` },
    ],
    options: [
      { key: 'mode', value: o.quick ? 'quick (shapes scaled down by 4)' : 'full shapes' },
      { key: 'suites', value: o.suites.length ? o.suites.join(', ') : 'all' },
      { key: 'filter', value: o.filter ?? 'none', mono: o.filter !== null },
      ...(o.baselinesAdded?.length
        ? [
            {
              key: 'baselines added',
              value: `${o.baselinesAdded.join(', ')}: not selected, but run because the accuracy decision compares the selected fast variants with them`,
            },
          ]
        : []),
      { key: 'distribution', value: o.distribution },
      {
        key: 'sampling',
        value: `${f.duration(o.targetMs)} per variant and case, ${o.minSamples}–${o.maxSamples} samples of ≥ ${f.duration(o.minSampleMs)}, ${o.rounds} interleaved round${o.rounds === 1 ? '' : 's'}`,
      },
      { key: 'noise target', value: `cv ≤ ${f.ratioPct(o.cvTarget)}` },
    ],
    summary: {
      counts: stateCounts(run.results),
      total: run.results.length,
      cases: run.cases.length,
      noisy,
      timed: timed.length,
      highlights,
      problems: run.results.filter((r) => r.state === 'errored' || r.state === 'inaccurate').map(problem),
      skipped: run.results.filter((r) => r.state === 'skipped').map(problem),
    },
    probe,
    theoretical,
    measured,
    native,
    health,
    healthWarnings: healthWarnings(run.health, run.probe?.cpu.cores),
    roofline: {
      notPlotted: timed.length - plotted,
      plotted,
      noisy: run.results.filter(isPlottable).filter((r) => r.timing.noisy).length,
      hasTheoretical: t !== null,
      hasMeasured: m !== null,
      hasNative: !run.device.emulated && n !== null,
      hasExecuted: timed.some((r) => r.perf.executedGflops !== undefined),
      hasCacheSlopes: !run.device.emulated && rooflineData(run).cacheSlopes.length > 0,
    },
    suites,
    accuracy: buildAccuracyView(run),
    stderr: run.stderr,
  };
}

/** Which Node ran the payload and where it came from, in words (the device panel). */
function nodeSource(run: RunResults): string {
  const n = run.device.node;
  if (!n)
    return run.device.transport === 'local'
      ? "this machine's Node (the one running roofbench, or node: in devices.yaml)"
      : "the device's own (not recorded in this run)";
  if (n.source === 'device') return `the device's own: ${n.command}`;
  const s = n.shipped;
  return s
    ? `shipped by roofbench: Debian's ${s.package}, run from ${n.command}; ${s.uploadedBytes > 0 ? `uploaded for this run (${(s.uploadedBytes / 1e6).toFixed(1)} MB)` : 'already on the device, verified'} (pack ${s.sha256.slice(0, 16)})`
    : `shipped by roofbench: ${n.command}`;
}
