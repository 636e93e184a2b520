/**
 * Comparing two runs series by series (pure: no I/O).
 *
 * Timing. For a series timed in both runs, with base samples x and head
 * samples y (milliseconds per operation):
 *   - ratio = median(y) / median(x): > 1 means the head is slower;
 *   - the ratio's confidence interval at level 1 - alpha: exp of the
 *     Hodges-Lehmann confidence interval of the shift of log(y) against log(x)
 *     (distribution-free, from the same rank statistics as the test);
 *   - p: the two-sided Mann-Whitney U test of x against y.
 * States, with t the practical threshold (default 3%):
 *   - noisy      either side has fewer than minSamples samples (default 5), or
 *                the interval is neither inside the band [1/(1+t), 1+t] nor a
 *                significant change entirely beyond it: the data cannot tell;
 *   - regressed  p < alpha AND the interval's lower end > 1 + t;
 *   - improved   p < alpha AND the interval's upper end < 1 / (1 + t);
 *   - unchanged  the interval lies inside the band: any change is below t.
 * Requiring both a small p and the whole interval beyond t is what keeps
 * comparisons of two runs of the same code (A/A) quiet: a statistically
 * significant 1% drift between two nights is not a regression.
 *
 * Result states. A series is "present" in a run when its result is timed
 * (passed or inaccurate) or errored; skipped results are not measurements.
 *   - timed -> errored: regressed; errored -> timed: improved; errored in both: unchanged;
 *   - passed -> inaccurate (the error grew past its tolerance): regressed,
 *     inaccurate -> passed: improved, whatever the timing says;
 *   - present only in the head: new; only in the base: gone.
 */
import { decodeFloat, encodeFloat, type CaseResult, type RunResults } from '../contracts.js';
import { deviceIdentity, identityDiff, looseSeriesKey, seriesOf, type DeviceIdentity, type SeriesFields } from './identity.js';
import { mannWhitney, median, shiftCi } from './mannwhitney.js';

export type SeriesState = 'improved' | 'regressed' | 'unchanged' | 'noisy' | 'new' | 'gone';
export const SERIES_STATES: readonly SeriesState[] = ['regressed', 'improved', 'noisy', 'new', 'gone', 'unchanged'];

export interface CompareOptions {
  /** Significance level of the Mann-Whitney test; the ratio's interval is at level 1 - alpha. */
  alpha: number;
  /** Practical threshold on the ratio of medians (0.03 = 3%). */
  threshold: number;
  /** Fewer samples than this on either side: noisy (insufficient samples). */
  minSamples: number;
}

export const DEFAULT_COMPARE_OPTIONS: CompareOptions = { alpha: 0.01, threshold: 0.03, minSamples: 5 };

export function validateCompareOptions(o: CompareOptions): CompareOptions {
  if (!(o.alpha > 0 && o.alpha < 0.5)) throw new Error(`alpha must be in (0, 0.5), got ${o.alpha}`);
  if (!(o.threshold >= 0 && o.threshold < 1)) throw new Error(`threshold must be a fraction in [0, 1), e.g. 0.03 for 3%; got ${o.threshold}`);
  if (!(Number.isInteger(o.minSamples) && o.minSamples >= 2)) throw new Error(`minSamples must be an integer >= 2, got ${o.minSamples}`);
  return o;
}

export interface TimingComparison {
  state: 'improved' | 'regressed' | 'unchanged' | 'noisy';
  reason: string;
  nBase: number;
  nHead: number;
  medianBase: number;
  medianHead: number;
  /** median(head) / median(base). */
  ratio: number;
  /** Confidence interval of the ratio (exp of the Hodges-Lehmann interval on log samples); null with too few samples. */
  ciLow: number | null;
  ciHigh: number | null;
  ciLevel: number;
  /** Hodges-Lehmann estimate of the ratio. */
  hlRatio: number | null;
  /** Two-sided Mann-Whitney p-value; null with too few samples. */
  p: number | null;
  u: number | null;
  method: 'exact' | 'normal' | null;
}

const pctOf = (r: number) => `${r >= 1 ? '+' : ''}${((r - 1) * 100).toFixed(1)}%`;

/** Compare raw timing samples of one series (see the module doc for the rules). */
export function compareSamples(base: readonly number[], head: readonly number[], opts: CompareOptions = DEFAULT_COMPARE_OPTIONS): TimingComparison {
  const ciLevel = 1 - opts.alpha;
  const medianBase = median(base);
  const medianHead = median(head);
  const ratio = medianHead / medianBase;
  const common = { nBase: base.length, nHead: head.length, medianBase, medianHead, ratio, ciLevel };
  if (base.length < opts.minSamples || head.length < opts.minSamples) {
    return {
      ...common,
      state: 'noisy',
      reason: `insufficient samples (${base.length} and ${head.length}; need ${opts.minSamples} each)`,
      ciLow: null,
      ciHigh: null,
      hlRatio: null,
      p: null,
      u: null,
      method: null,
    };
  }
  for (const v of [...base, ...head]) {
    if (!(v > 0 && Number.isFinite(v))) throw new Error(`compareSamples: timing samples must be positive finite numbers, got ${v}`);
  }
  const mw = mannWhitney(base, head);
  const ci = shiftCi(base.map(Math.log), head.map(Math.log), ciLevel);
  const ciLow = Math.exp(ci.low);
  const ciHigh = Math.exp(ci.high);
  const up = 1 + opts.threshold;
  const down = 1 / up;
  const t = `${(opts.threshold * 100).toFixed(opts.threshold * 100 < 1 ? 2 : 0)}%`;
  const ciText = `${(ciLevel * 100).toFixed(0)}% CI ${pctOf(ciLow)}..${pctOf(ciHigh)}`;
  let state: TimingComparison['state'];
  let reason: string;
  if (!ci.reached) {
    state = 'noisy';
    reason = `too few samples for a ${(ciLevel * 100).toFixed(0)}% interval (${base.length} and ${head.length})`;
  } else if (mw.p < opts.alpha && ciLow > up) {
    state = 'regressed';
    reason = `slower by ${pctOf(ratio)} (${ciText}, p=${formatP(mw.p)})`;
  } else if (mw.p < opts.alpha && ciHigh < down) {
    state = 'improved';
    reason = `faster by ${pctOf(ratio)} (${ciText}, p=${formatP(mw.p)})`;
  } else if (ciLow >= down && ciHigh <= up) {
    state = 'unchanged';
    reason = `within ${t} (${ciText})`;
  } else if (mw.p < opts.alpha) {
    state = 'noisy';
    reason = `changed ${pctOf(ratio)} (p=${formatP(mw.p)}), but the ${ciText} does not clear the ${t} threshold`;
  } else {
    state = 'noisy';
    reason = `no significant change (p=${formatP(mw.p)}), but the ${ciText} is too wide to rule out a ${t} change`;
  }
  return { ...common, state, reason, ciLow, ciHigh, hlRatio: Math.exp(ci.estimate), p: mw.p, u: mw.u, method: mw.method };
}

export function formatP(p: number | null | undefined): string {
  if (p === null || p === undefined || !Number.isFinite(p)) return '—';
  if (p < 1e-4) return p.toExponential(1).replace('e-', 'e-');
  return p < 0.01 ? p.toFixed(4) : p.toFixed(3);
}

type Timed = Extract<CaseResult, { state: 'passed' | 'inaccurate' }>;
const isTimed = (r: CaseResult): r is Timed => r.state === 'passed' || r.state === 'inaccurate';
const isPresent = (r: CaseResult): boolean => r.state !== 'skipped';

export interface SideSummary {
  state: CaseResult['state'];
  n: number | null;
  median: number | null;
  ciLow: number | null;
  ciHigh: number | null;
  relL2: number | null;
  tolerance: { metric: string; limit: number } | null;
  error: string | null;
}

function sideOf(r: CaseResult): SideSummary {
  if (isTimed(r)) {
    return {
      state: r.state,
      n: r.timing.samples.length,
      median: r.timing.stats.median,
      ciLow: r.timing.stats.ciLow,
      ciHigh: r.timing.stats.ciHigh,
      relL2: decodeFloat(r.accuracy.relL2),
      tolerance: { metric: r.accuracy.tolerance.metric, limit: r.accuracy.tolerance.limit },
      error: null,
    };
  }
  return {
    state: r.state,
    n: null,
    median: null,
    ciLow: null,
    ciHigh: null,
    relL2: null,
    tolerance: null,
    error: r.state === 'errored' ? `${r.phase}: ${r.error.split('\n')[0] ?? ''}` : r.state === 'skipped' ? r.reason : null,
  };
}

export interface AccuracyChange {
  change: 'regressed' | 'improved' | 'unchanged';
  reason: string;
}

/** Accuracy of one series across two timed results: passed -> inaccurate is a regression. */
export function compareAccuracy(base: Timed, head: Timed): AccuracyChange {
  const b = decodeFloat(base.accuracy.relL2);
  const h = decodeFloat(head.accuracy.relL2);
  const tol = head.accuracy.tolerance;
  if (base.state === 'passed' && head.state === 'inaccurate') {
    const metric = tol.metric === 'relL2' ? `relL2 ${h.toExponential(2)} > limit ${tol.limit.toExponential(2)}` : `${tol.metric} over its limit ${tol.limit.toExponential(2)}`;
    return { change: 'regressed', reason: `accuracy: now inaccurate (${metric}; was relL2 ${b.toExponential(2)})` };
  }
  if (base.state === 'inaccurate' && head.state === 'passed') {
    return { change: 'improved', reason: `accuracy: now within tolerance (relL2 ${h.toExponential(2)}, was ${b.toExponential(2)})` };
  }
  return { change: 'unchanged', reason: '' };
}

export interface SeriesComparison {
  /** The series key (head's, else base's). */
  key: string;
  caseId: string;
  variant: string;
  label: string;
  state: SeriesState;
  reason: string;
  base: SideSummary | null;
  head: SideSummary | null;
  timing: TimingComparison | null;
  accuracy: AccuracyChange | null;
}

/** Compare one series' results (either may be missing). */
export function compareResults(
  base: CaseResult | undefined,
  head: CaseResult | undefined,
  opts: CompareOptions = DEFAULT_COMPARE_OPTIONS,
): Pick<SeriesComparison, 'state' | 'reason' | 'base' | 'head' | 'timing' | 'accuracy'> {
  const b = base && isPresent(base) ? base : undefined;
  const h = head && isPresent(head) ? head : undefined;
  const baseSide = base ? sideOf(base) : null;
  const headSide = head ? sideOf(head) : null;
  const out = { base: baseSide, head: headSide, timing: null, accuracy: null };
  if (!b && !h) return { ...out, state: 'unchanged', reason: 'not measured in either run' };
  if (!b) return { ...out, state: 'new', reason: base ? `was ${base.state}` : 'not in the base run' };
  if (!h) return { ...out, state: 'gone', reason: head ? `now ${head.state}: ${headSide?.error ?? ''}` : 'not in the head run' };
  if (!isTimed(b) && !isTimed(h)) return { ...out, state: 'unchanged', reason: 'errored in both runs' };
  if (isTimed(b) && !isTimed(h)) return { ...out, state: 'regressed', reason: `now errors (${headSide?.error ?? ''})` };
  if (!isTimed(b) && isTimed(h)) return { ...out, state: 'improved', reason: `no longer errors (was ${baseSide?.error ?? ''})` };
  const bt = b as Timed;
  const ht = h as Timed;
  const timing = compareSamples(bt.timing.samples, ht.timing.samples, opts);
  const accuracy = compareAccuracy(bt, ht);
  let state: SeriesState = timing.state;
  let reason = timing.reason;
  if (accuracy.change === 'regressed') {
    state = 'regressed';
    reason = timing.state === 'regressed' ? `${accuracy.reason}; ${timing.reason}` : accuracy.reason;
  } else if (accuracy.change === 'improved' && timing.state !== 'regressed') {
    state = 'improved';
    reason = timing.state === 'improved' ? `${accuracy.reason}; ${timing.reason}` : accuracy.reason;
  }
  return { base: baseSide, head: headSide, timing, accuracy, state, reason };
}

export interface RunRef {
  device: string;
  runId: string;
  startedAt: string;
  status: RunResults['status'];
  /** The git commit of the code under test, when known. */
  commit: string | null;
  /** Row id in the history store, when the run came from it. */
  rowId?: number;
  /** A file the run was read from, when it did not come from the store. */
  file?: string;
  quick: boolean;
  identityHash: string | null;
}

export interface AnnotationRef {
  device: string;
  at: string;
  message: string;
  seriesKey: string | null;
}

export interface RunComparison {
  base: RunRef;
  head: RunRef;
  options: CompareOptions;
  acrossIdentity: boolean;
  /** null when one of the runs has no probe (no identity). */
  identityChanged: boolean;
  identityChanges: string[];
  /** Annotations between the two runs (a new baseline): regressions are reported but acknowledged. */
  annotations: AnnotationRef[];
  notes: string[];
  series: SeriesComparison[];
  counts: Record<SeriesState, number>;
  /** Regressions not acknowledged by an annotation between the runs. */
  regressions: number;
}

export function runRef(run: RunResults, extra: { commit?: string | null; rowId?: number; file?: string } = {}): RunRef {
  return {
    device: run.device.name,
    runId: run.runId,
    startedAt: run.startedAt,
    status: run.status,
    commit: extra.commit ?? run.harness.gitCommit ?? null,
    ...(extra.rowId !== undefined ? { rowId: extra.rowId } : {}),
    ...(extra.file !== undefined ? { file: extra.file } : {}),
    quick: run.options.quick,
    identityHash: deviceIdentity(run)?.hash ?? null,
  };
}

interface Keyed {
  key: string;
  fields: SeriesFields | null;
  label: string;
  result: CaseResult;
}

function keyedResults(run: RunResults, identity: DeviceIdentity | null, loose: boolean): Map<string, Keyed> {
  const specs = new Map(run.cases.map((c) => [c.id, c]));
  const out = new Map<string, Keyed>();
  for (const r of run.results) {
    if (identity) {
      const s = seriesOf(identity, run, r, specs.get(r.caseId));
      const key = loose ? looseSeriesKey(s.fields) : s.key;
      out.set(key, { key: s.key, fields: s.fields, label: s.label, result: r });
    } else {
      // No probe: the run cannot be placed in a series; key by case and variant only.
      const key = `unprobed:${r.caseId}\0${r.variant}`;
      out.set(key, { key, fields: null, label: `${r.caseId} ${r.variant}`, result: r });
    }
  }
  return out;
}

const ORDER = new Map(SERIES_STATES.map((s, i) => [s, i]));

/**
 * Compare two runs (base = older, head = newer). Series are matched by their
 * key, so runs with different device identities share no series (all are new
 * or gone) unless `acrossIdentity` lines them up by device, case, variant,
 * distribution, size and shape alone.
 */
export function compareRuns(
  base: { run: RunResults; ref?: RunRef },
  head: { run: RunResults; ref?: RunRef },
  opts: Partial<CompareOptions> & { acrossIdentity?: boolean; annotations?: AnnotationRef[] } = {},
): RunComparison {
  const options = validateCompareOptions({ ...DEFAULT_COMPARE_OPTIONS, ...opts });
  const acrossIdentity = opts.acrossIdentity ?? false;
  const bi = deviceIdentity(base.run);
  const hi = deviceIdentity(head.run);
  const notes: string[] = [];
  let identityChanges: string[] = [];
  if (bi && hi && bi.hash !== hi.hash) {
    identityChanges = identityDiff(bi.fields, hi.fields);
    notes.push(
      acrossIdentity
        ? `device identity changed (${identityChanges.join('; ')}): compared across it because of --across-identity`
        : `device identity changed (${identityChanges.join('; ')}): a new series starts, so every series is new or gone; use --across-identity to compare anyway`,
    );
  }
  if (!bi) notes.push(`the base run ${base.run.runId} has no device probe: its series cannot be identified`);
  if (!hi) notes.push(`the head run ${head.run.runId} has no device probe: its series cannot be identified`);
  if (base.run.options.quick !== head.run.options.quick) {
    notes.push('one run is --quick and the other is not: their shapes differ, so no series is shared');
  }
  if (base.run.status !== 'complete') notes.push(`the base run is ${base.run.status}${base.run.statusDetail ? `: ${base.run.statusDetail}` : ''}`);
  if (head.run.status !== 'complete') notes.push(`the head run is ${head.run.status}${head.run.statusDetail ? `: ${head.run.statusDetail}` : ''}`);
  const annotations = opts.annotations ?? [];
  const deviceWide = annotations.filter((a) => a.seriesKey === null);
  if (deviceWide.length) {
    notes.push(
      `annotated between the runs (a new baseline): ${deviceWide.map((a) => `"${a.message}" (${a.at})`).join(', ')}; regressions are listed but not counted`,
    );
  }
  const bm = keyedResults(base.run, bi, acrossIdentity);
  const hm = keyedResults(head.run, hi, acrossIdentity);
  const keys = [...new Set([...hm.keys(), ...bm.keys()])];
  const series: SeriesComparison[] = [];
  for (const k of keys) {
    const b = bm.get(k);
    const h = hm.get(k);
    const any = (h ?? b)!;
    // Skipped (or absent) on both sides: nothing was measured, nothing to compare.
    if (!(b && isPresent(b.result)) && !(h && isPresent(h.result))) continue;
    const c = compareResults(b?.result, h?.result, options);
    series.push({ key: any.key, caseId: any.result.caseId, variant: any.result.variant, label: any.label, ...c });
  }
  series.sort((a, b) => (ORDER.get(a.state) ?? 9) - (ORDER.get(b.state) ?? 9) || magnitude(b) - magnitude(a) || a.label.localeCompare(b.label));
  const counts = Object.fromEntries(SERIES_STATES.map((s) => [s, 0])) as Record<SeriesState, number>;
  for (const s of series) counts[s.state]++;
  const acknowledged = (s: SeriesComparison) => deviceWide.length > 0 || annotations.some((a) => a.seriesKey === s.key);
  const regressions = series.filter((s) => s.state === 'regressed' && !acknowledged(s)).length;
  return {
    base: base.ref ?? runRef(base.run),
    head: head.ref ?? runRef(head.run),
    options,
    acrossIdentity,
    identityChanged: identityChanges.length > 0,
    identityChanges,
    annotations,
    notes,
    series,
    counts,
    regressions,
  };
}

function magnitude(s: SeriesComparison): number {
  return s.timing ? Math.abs(Math.log(s.timing.ratio)) : 0;
}

// ---------------------------------------------------------------------------
// Output: terminal table, markdown, JSON
// ---------------------------------------------------------------------------

function ms(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—';
  const a = Math.abs(x);
  if (a >= 100) return x.toFixed(1);
  if (a >= 1) return x.toFixed(3);
  return x.toPrecision(3);
}

function ratioCell(s: SeriesComparison): string {
  return s.timing ? pctOf(s.timing.ratio) : '—';
}

function ciCell(s: SeriesComparison): string {
  const t = s.timing;
  return t && t.ciLow !== null && t.ciHigh !== null ? `${pctOf(t.ciLow)}..${pctOf(t.ciHigh)}` : '—';
}

function runLine(r: RunRef): string {
  return `${r.device} ${r.runId}${r.commit ? ` @ ${r.commit.slice(0, 12)}` : ''} (${r.status}${r.quick ? ', quick' : ''})`;
}

function summaryLine(c: RunComparison): string {
  const parts = SERIES_STATES.filter((s) => c.counts[s] > 0).map((s) => `${c.counts[s]} ${s}`);
  return `${c.series.length} series: ${parts.length ? parts.join(', ') : 'none'}`;
}

/** Plain-text table for a terminal. */
export function formatTable(c: RunComparison, opts: { all?: boolean } = {}): string {
  const lines: string[] = [];
  lines.push(`base: ${runLine(c.base)}`, `head: ${runLine(c.head)}`);
  lines.push(
    `threshold ${(c.options.threshold * 100).toFixed(1)}%, alpha ${c.options.alpha}, ${((1 - c.options.alpha) * 100).toFixed(0)}% CI of the ratio of medians (head/base)`,
  );
  for (const n of c.notes) lines.push(`note: ${n}`);
  const shown = opts.all ? c.series : c.series.filter((s) => s.state !== 'unchanged');
  const rows = shown.map((s) => [s.state, s.label, ms(s.base?.median), ms(s.head?.median), ratioCell(s), ciCell(s), formatP(s.timing?.p), s.reason]);
  const head = ['state', 'series', 'base ms', 'head ms', 'change', 'CI', 'p', 'why'];
  if (rows.length) {
    const widths = head.map((h, i) => Math.min(i === 1 ? 64 : 40, Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length))));
    const fmt = (r: string[]) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : i >= 2 && i <= 6 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd();
    lines.push('', fmt(head), fmt(head.map((_, i) => '-'.repeat(widths[i]!))), ...rows.map(fmt));
  }
  const hidden = c.series.length - shown.length;
  lines.push('', `${summaryLine(c)}${hidden > 0 ? ` (${hidden} unchanged not listed; --all lists them)` : ''}`);
  lines.push(
    c.regressions > 0
      ? `REGRESSED: ${c.regressions} series`
      : c.counts.regressed > 0
        ? `no unacknowledged regression (${c.counts.regressed} regressed across an annotation)`
        : 'no regression',
  );
  return `${lines.join('\n')}\n`;
}

const mdEscape = (s: string) => s.replace(/[\\`*_{}[\]<>|]/g, (ch) => `\\${ch}`).replace(/\n/g, ' ');

/** Markdown for a CI comment. */
export function formatMarkdown(c: RunComparison, opts: { all?: boolean } = {}): string {
  const out: string[] = [];
  const icon = c.regressions > 0 ? '🔴' : c.counts.improved > 0 ? '🟢' : '⚪';
  out.push(`### ${icon} roofbench: ${mdEscape(c.head.device)}: ${c.regressions > 0 ? `${c.regressions} regression${c.regressions === 1 ? '' : 's'}` : 'no regression'}`);
  out.push('');
  out.push(`- base: \`${mdEscape(runLine(c.base))}\``);
  out.push(`- head: \`${mdEscape(runLine(c.head))}\``);
  out.push(`- ${mdEscape(summaryLine(c))}; threshold ${(c.options.threshold * 100).toFixed(1)}%, alpha ${c.options.alpha}`);
  for (const n of c.notes) out.push(`- note: ${mdEscape(n)}`);
  const shown = opts.all ? c.series : c.series.filter((s) => s.state !== 'unchanged');
  if (shown.length) {
    out.push('', '| state | series | base ms | head ms | change | CI | p | why |', '|---|---|--:|--:|--:|--:|--:|---|');
    for (const s of shown) {
      const st = s.state === 'regressed' ? '**regressed**' : s.state;
      out.push(
        `| ${st} | \`${mdEscape(s.label)}\` | ${ms(s.base?.median)} | ${ms(s.head?.median)} | ${ratioCell(s)} | ${ciCell(s)} | ${formatP(s.timing?.p)} | ${mdEscape(s.reason)} |`,
      );
    }
  }
  const hidden = c.series.length - shown.length;
  if (hidden > 0) out.push('', `${hidden} unchanged series not listed.`);
  return `${out.join('\n')}\n`;
}

/** JSON-safe copy (non-finite numbers as "Infinity"/"-Infinity"/"NaN", like results.json). */
export function toJson(c: RunComparison): unknown {
  return JSON.parse(
    JSON.stringify(c, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? encodeFloat(v) : v)),
  ) as unknown;
}
