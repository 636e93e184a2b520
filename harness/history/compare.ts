/**
 * Comparing two runs series by series (pure: no I/O).
 *
 * Timing. For a series timed in both runs, with base samples x and head
 * samples y (milliseconds per operation):
 *   - ratio: the Hodges-Lehmann estimate of the ratio head / base, i.e. the
 *     median of all n1*n2 pairwise ratios y_j / x_i (> 1: the head is slower);
 *     the plain ratio of medians median(y) / median(x) is reported beside it
 *     (medianRatio). They agree for well-behaved samples; when timings are
 *     multimodal (a busy machine: some samples 3x slower), the ratio of medians
 *     jumps with the share of slow samples while the pairwise estimate follows
 *     the shift of the whole distribution, which is what the test and the
 *     interval measure too;
 *   - the ratio's confidence interval at level 1 - alpha: exp of the
 *     Hodges-Lehmann (Moses) confidence interval of the shift of log(y) against
 *     log(x) (distribution-free, from the same rank statistics as the test);
 *   - p: the two-sided Mann-Whitney U test of x against y.
 * Run-to-run noise. The samples of one run share that run's conditions (clock,
 * other load, memory placement), so two runs of the same code differ by more
 * than their samples' spread suggests: on a shared machine a whole run can sit
 * 2-4% above another. The rank statistics above see only the within-run
 * spread, so the interval is widened by the run-to-run noise s (the sd of a
 * run's log level): each half-width h becomes sqrt(h^2 + (z s sqrt 2)^2),
 * z = the normal quantile at 1 - alpha/2. s comes from the series' history in
 * the store (estimateRunNoise over its last runs) and defaults to
 * runNoise (1%) when there are too few runs to estimate it (and for
 * comparisons of two loose results.json files).
 * States, with t the practical threshold (default 3%) and the band
 * [1/(1+t), 1+t] around 1:
 *   - regressed  p < alpha AND the interval's lower end > 1 + t AND the
 *                contention guard agrees (below);
 *   - improved   p < alpha AND the interval's upper end < 1 / (1 + t) AND the guard agrees;
 *   - noisy      either side has fewer than minSamples samples (default 5);
 *                or the estimate is outside the band but the interval does not
 *                clear it (a possible change the runs cannot separate from
 *                their noise); or the samples themselves are too spread to
 *                resolve t (the interval from the samples alone, before the
 *                run-to-run widening, reaches further than t from the estimate);
 *   - unchanged  otherwise: the estimate is inside the band and the samples
 *                are precise enough to have seen a change of t.
 * Requiring both a small p and the whole interval beyond t is what keeps
 * comparisons of two runs of the same code (A/A) quiet: a statistically
 * significant 1% drift between two nights is not a regression.
 *
 * Contention guard. Other load on the machine only ever adds time: it turns
 * some samples into slow outliers (on a busy machine, whole modes 2-5x slower)
 * while the fast end of the distribution stays where the code puts it. When
 * the share of slow samples differs between two runs, the rank statistics see
 * a shift although the code did not change. So a regression also needs the
 * guardQuantile (10th percentile) of the head to be more than t above the
 * base's (an improvement: more than t below); otherwise the series is noisy.
 * A real slowdown of the code moves the fast end with the rest.
 *
 * Result states. A series is "present" in a run when its result is timed
 * (passed or inaccurate) or errored; skipped results are not measurements.
 *   - timed -> errored: regressed; errored -> timed: improved; errored in both: unchanged;
 *   - passed -> inaccurate (the error grew past its tolerance): regressed,
 *     inaccurate -> passed: improved, whatever the timing says;
 *   - present only in the head: new; only in the base: gone.
 */
import { isTimed, type TimedResult as Timed, decodeFloat, encodeFloat, type CaseResult, type RunResults } from '../../core/contracts.js';
import { deviceIdentity, identityDiff, looseSeriesKey, seriesOf, type DeviceIdentity, type SeriesFields } from './identity.js';
import { mannWhitney, median, normalQuantile, quantile, shiftCi } from './mannwhitney.js';
import { runContention, type Contention } from '../contention.js';

export type SeriesState = 'improved' | 'regressed' | 'unchanged' | 'noisy' | 'new' | 'gone';
export const SERIES_STATES: readonly SeriesState[] = ['regressed', 'improved', 'noisy', 'new', 'gone', 'unchanged'];

export interface CompareOptions {
  /** Significance level of the Mann-Whitney test; the ratio's interval is at level 1 - alpha. */
  alpha: number;
  /** Practical threshold on the ratio head / base (0.03 = 3%). */
  threshold: number;
  /** Fewer samples than this on either side: noisy (insufficient samples). */
  minSamples: number;
  /** Run-to-run noise (sd of a run's log level) assumed when a series' history cannot estimate it (0.01 = 1%). */
  runNoise: number;
  /** Contention guard: this quantile (the fast end) must move beyond the threshold too (0.1; 0 turns the guard off). */
  guardQuantile: number;
}

export const DEFAULT_COMPARE_OPTIONS: CompareOptions = { alpha: 0.01, threshold: 0.03, minSamples: 5, runNoise: 0.01, guardQuantile: 0.1 };

/** Runs of history needed to estimate a series' run-to-run noise; fewer: the runNoise default. */
export const RUN_NOISE_MIN_RUNS = 8;
/** The estimate uses at most this many recent runs. */
export const RUN_NOISE_MAX_RUNS = 40;

/**
 * Run-to-run noise of a series from its recent per-run medians (oldest first),
 * from the successive differences d of their logs: q90(|d|) / (1.6449 sqrt 2).
 * Null with fewer than RUN_NOISE_MIN_RUNS values.
 */
export function estimateRunNoise(medians: readonly number[]): number | null {
  const xs = medians
    .filter((m) => m > 0 && Number.isFinite(m))
    .slice(-RUN_NOISE_MAX_RUNS)
    .map(Math.log);
  if (xs.length < RUN_NOISE_MIN_RUNS) return null;
  const d: number[] = [];
  for (let i = 1; i < xs.length; i++) d.push(xs[i]! - xs[i - 1]!);
  // The 90th percentile of |d|: for normal run levels |d| is half-normal with sd s*sqrt(2), whose 90th
  // percentile is 1.6449 s sqrt(2). A lasting step is one large difference among many and barely moves
  // it; run levels that now and then jump (a variant sensitive to memory placement) raise it, as they should.
  return quantile(d.map(Math.abs), 0.9) / (1.6449 * Math.SQRT2);
}

export function validateCompareOptions(o: CompareOptions): CompareOptions {
  if (!(o.alpha > 0 && o.alpha < 0.5)) throw new Error(`alpha must be in (0, 0.5), got ${o.alpha}`);
  if (!(o.threshold >= 0 && o.threshold < 1)) throw new Error(`threshold must be a fraction in [0, 1), e.g. 0.03 for 3%; got ${o.threshold}`);
  if (!(Number.isInteger(o.minSamples) && o.minSamples >= 2)) throw new Error(`minSamples must be an integer >= 2, got ${o.minSamples}`);
  if (!(o.runNoise >= 0 && o.runNoise < 1)) throw new Error(`runNoise must be a fraction in [0, 1), e.g. 0.01 for 1%; got ${o.runNoise}`);
  if (!(o.guardQuantile >= 0 && o.guardQuantile < 0.5)) throw new Error(`guardQuantile must be in [0, 0.5), e.g. 0.1; got ${o.guardQuantile}`);
  return o;
}

export interface TimingComparison {
  state: 'improved' | 'regressed' | 'unchanged' | 'noisy';
  reason: string;
  nBase: number;
  nHead: number;
  medianBase: number;
  medianHead: number;
  /** Hodges-Lehmann estimate of head / base (the median of the pairwise ratios); the ratio of medians with too few samples. */
  ratio: number;
  /** median(head) / median(base). */
  medianRatio: number;
  /** Confidence interval of the ratio, widened by the run-to-run noise; null with too few samples. */
  ciLow: number | null;
  ciHigh: number | null;
  ciLevel: number;
  /** The interval from the samples alone (exp of the Hodges-Lehmann interval on log samples). */
  ciLowWithin: number | null;
  ciHighWithin: number | null;
  /**
   * The run-to-run noise used, and where it came from: the series' history in the store; else
   * the drift between the interleaved rounds of the two runs themselves (roundsDrift); else,
   * for results stored without their rounds, the runNoise option.
   */
  runNoise: number;
  runNoiseSource: 'history' | 'rounds' | 'default';
  /** Ratio of the guard quantiles (the fast end of the samples) head / base; null with too few samples. */
  fastRatio: number | null;
  /** Two-sided Mann-Whitney p-value; null with too few samples. */
  p: number | null;
  u: number | null;
  method: 'exact' | 'normal' | null;
}

const pctOf = (r: number) => `${r >= 1 ? '+' : ''}${((r - 1) * 100).toFixed(1)}%`;

/** Compare raw timing samples of one series (see the module doc for the rules). */
export function compareSamples(
  base: readonly number[],
  head: readonly number[],
  opts: CompareOptions = DEFAULT_COMPARE_OPTIONS,
  /** The series' run-to-run noise estimated from its history (null: use opts.runNoise). */
  historyNoise: number | null = null,
  /** The drift between the two runs' interleaved rounds (roundsDrift), used when there is no history. */
  roundsNoise: number | null = null,
): TimingComparison {
  const ciLevel = 1 - opts.alpha;
  const medianBase = median(base);
  const medianHead = median(head);
  const medianRatio = medianHead / medianBase;
  const runNoise = historyNoise ?? roundsNoise ?? opts.runNoise;
  const runNoiseSource: TimingComparison['runNoiseSource'] = historyNoise !== null ? 'history' : roundsNoise !== null ? 'rounds' : 'default';
  const common = { nBase: base.length, nHead: head.length, medianBase, medianHead, medianRatio, ciLevel, runNoise, runNoiseSource };
  if (base.length < opts.minSamples || head.length < opts.minSamples) {
    return {
      ...common,
      ratio: medianRatio,
      fastRatio: null,
      state: 'noisy',
      reason: `insufficient samples (${base.length} and ${head.length}; need ${opts.minSamples} each)`,
      ciLow: null,
      ciHigh: null,
      ciLowWithin: null,
      ciHighWithin: null,
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
  const widen = normalQuantile(1 - opts.alpha / 2) * runNoise * Math.SQRT2;
  const ciLow = Math.exp(ci.estimate - Math.hypot(ci.estimate - ci.low, widen));
  const ciHigh = Math.exp(ci.estimate + Math.hypot(ci.high - ci.estimate, widen));
  const ratio = Math.exp(ci.estimate);
  const fastRatio = opts.guardQuantile > 0 ? quantile(head, opts.guardQuantile) / quantile(base, opts.guardQuantile) : ratio;
  const up = 1 + opts.threshold;
  const down = 1 / up;
  const t = `${(opts.threshold * 100).toFixed(opts.threshold * 100 < 1 ? 2 : 0)}%`;
  const ciText = `${(ciLevel * 100).toFixed(0)}% CI ${pctOf(ciLow)}..${pctOf(ciHigh)} with ${(runNoise * 100).toFixed(1)}% run-to-run noise`;
  let state: TimingComparison['state'];
  let reason: string;
  if (!ci.reached) {
    state = 'noisy';
    reason = `too few samples for a ${(ciLevel * 100).toFixed(0)}% interval (${base.length} and ${head.length})`;
  } else if (mw.p < opts.alpha && ciLow > up && fastRatio > up) {
    state = 'regressed';
    reason = `slower: ${pctOf(ratio)} (${ciText}, p=${formatP(mw.p)})`;
  } else if (mw.p < opts.alpha && ciHigh < down && fastRatio < down) {
    state = 'improved';
    reason = `faster: ${pctOf(ratio)} (${ciText}, p=${formatP(mw.p)})`;
  } else if (mw.p < opts.alpha && (ciLow > up || ciHigh < down)) {
    state = 'noisy';
    reason =
      `${pctOf(ratio)} (${ciText}, p=${formatP(mw.p)}), but the fastest samples moved only ${pctOf(fastRatio)} ` +
      `(${Math.round(opts.guardQuantile * 100)}th percentile): the slow samples changed, as other load on the machine does`;
  } else if (ratio > up || ratio < down) {
    state = 'noisy';
    reason = `${pctOf(ratio)}${mw.p < opts.alpha ? ` (p=${formatP(mw.p)})` : ` (not significant, p=${formatP(mw.p)})`}, but the ${ciText} does not clear the ${t} threshold`;
  } else if (ci.estimate - ci.low > Math.log(up) || ci.high - ci.estimate > Math.log(up)) {
    state = 'noisy';
    reason = `the samples are too spread to resolve a ${t} change: the runs' own ${(ciLevel * 100).toFixed(0)}% CI is ${pctOf(Math.exp(ci.low))}..${pctOf(Math.exp(ci.high))}`;
  } else {
    state = 'unchanged';
    reason = `${pctOf(ratio)}: no change beyond ${t} (${ciText})`;
  }
  return {
    ...common,
    ratio,
    fastRatio,
    state,
    reason,
    ciLow,
    ciHigh,
    ciLowWithin: Math.exp(ci.low),
    ciHighWithin: Math.exp(ci.high),
    p: mw.p,
    u: mw.u,
    method: mw.method,
  };
}

/** Sum of squares and degrees of freedom of the between-round drift of some results (see roundsDrift). */
export interface DriftSum {
  ss: number;
  df: number;
}

/**
 * The drift of one result's per-round levels beyond what its samples' spread
 * explains: with J rounds of k_j samples, level L_j = log median of round j
 * and s the within-run spread of the log samples (1.4826 MAD), the round
 * medians would scatter with variance about (pi/2) s^2 / k_j from sampling
 * alone; what they scatter more is drift of the machine's state between
 * rounds (other load coming and going, clock changes). Returns the excess sum
 * of squares and J - 1, or null without two non-empty rounds.
 */
export function roundDrift(samples: readonly number[], perRound: readonly number[] | undefined): DriftSum | null {
  if (!perRound || perRound.reduce((a, b) => a + b, 0) !== samples.length) return null;
  const logs = samples.map(Math.log);
  const rounds: number[][] = [];
  let at = 0;
  for (const k of perRound) {
    if (k > 0) rounds.push(logs.slice(at, at + k));
    at += k;
  }
  if (rounds.length < 2 || logs.some((x) => !Number.isFinite(x))) return null;
  const center = median(logs);
  const s = 1.4826 * median(logs.map((x) => Math.abs(x - center)));
  const levels = rounds.map((r) => median(r));
  const mean = levels.reduce((a, b) => a + b, 0) / levels.length;
  const j = rounds.length;
  let ss = 0;
  rounds.forEach((r, i) => {
    ss += (levels[i]! - mean) ** 2 - ((1 - 1 / j) * ((Math.PI / 2) * s * s)) / r.length;
  });
  return { ss, df: j - 1 };
}

/** sqrt of the pooled excess drift variance (0 when the rounds agree within their sampling noise), or null without data. */
export function pooledDrift(sums: readonly (DriftSum | null)[]): number | null {
  const ok = sums.filter((x): x is DriftSum => x !== null);
  const df = ok.reduce((n, x) => n + x.df, 0);
  if (df === 0) return null;
  return Math.sqrt(Math.max(0, ok.reduce((n, x) => n + x.ss, 0) / df));
}

export function formatP(p: number | null | undefined): string {
  if (p === null || p === undefined || !Number.isFinite(p)) return '—';
  if (p < 1e-4) return p.toExponential(1).replace('e-', 'e-');
  return p < 0.01 ? p.toFixed(4) : p.toFixed(3);
}

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
    const metric =
      tol.metric === 'relL2'
        ? `relL2 ${h.toExponential(2)} > limit ${tol.limit.toExponential(2)}`
        : `${tol.metric} over its limit ${tol.limit.toExponential(2)}`;
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
  historyNoise: number | null = null,
  /** False for emulated devices: their timings measure the emulator, so only accuracy is compared. */
  timingMeaningful = true,
  /** Why neither run's timings may give a verdict (e.g. "the head run was contended: ..."), or null. */
  withhold: string | null = null,
  /** The run-wide drift between interleaved rounds (pooledDrift over every series of both runs), or null. */
  runDrift: number | null = null,
  /** Each run's noise target (RunOptions.cvTarget): a side whose samples spread more gives no verdict. */
  cvTargets: { base: number; head: number } = { base: 0.05, head: 0.05 },
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
  if (!timingMeaningful) {
    const accuracy = compareAccuracy(bt, ht);
    if (accuracy.change === 'regressed' || accuracy.change === 'improved') {
      return { base: baseSide, head: headSide, timing: null, accuracy, state: accuracy.change, reason: accuracy.reason };
    }
    return { base: baseSide, head: headSide, timing: null, accuracy, state: 'unchanged', reason: 'emulated device: timings not compared; accuracy unchanged' };
  }
  // Run-to-run noise from the data: the series' own round drift in both runs, never below the run-wide one.
  const own = pooledDrift([roundDrift(bt.timing.samples, bt.timing.samplesPerRound), roundDrift(ht.timing.samples, ht.timing.samplesPerRound)]);
  const roundsNoise = own === null && runDrift === null ? null : Math.max(own ?? 0, runDrift ?? 0);
  const timing = compareSamples(bt.timing.samples, ht.timing.samples, opts, historyNoise, roundsNoise);
  const accuracy = compareAccuracy(bt, ht);
  let state: SeriesState = timing.state;
  let reason = timing.reason;
  // No timing verdict from a contended run or from noisy samples, whatever the test says. Noisy: the bulk of a
  // side's samples spreads beyond its run's cv target (1.4826 MAD / median, so one slow outlier does not count:
  // the rank test and the guard already discount outliers).
  const spread = (t: Timed['timing']) => (t.stats.median > 0 ? (1.4826 * t.stats.mad) / t.stats.median : Infinity);
  const noisySide = [
    spread(bt.timing) > cvTargets.base ? `base ${(spread(bt.timing) * 100).toFixed(1)}%` : '',
    spread(ht.timing) > cvTargets.head ? `head ${(spread(ht.timing) * 100).toFixed(1)}%` : '',
  ]
    .filter((x) => x)
    .join(', ');
  const why = withhold ?? (noisySide ? `noisy samples (robust spread ${noisySide}, above the run's ${(cvTargets.head * 100).toFixed(0)}% target)` : null);
  if (why && (state === 'regressed' || state === 'improved')) {
    state = 'noisy';
    reason = `no verdict: ${why}; the samples alone say ${timing.reason}`;
  }
  if (accuracy.change === 'regressed') {
    state = 'regressed';
    reason = timing.state === 'regressed' && !why ? `${accuracy.reason}; ${timing.reason}` : accuracy.reason;
  } else if (accuracy.change === 'improved' && (timing.state !== 'regressed' || why)) {
    state = 'improved';
    reason = timing.state === 'improved' && !why ? `${accuracy.reason}; ${timing.reason}` : accuracy.reason;
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
  /** Other work on each device during its run (harness/contention.ts); null where not recorded. */
  contention: { base: Contention | null; head: Contention | null };
  /** Why no timing verdict is given at all (a contended run), or null. */
  withheld: string | null;
  /** How the two runs differ in what they measured (options, cases, variants): [] when alike. */
  differences: string[];
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
  /**
   * Why nothing could be judged, or null: the newer run measured none of the older run's series (an interrupted or
   * failed run). Not a pass: the command exits 1.
   */
  nothingCompared: string | null;
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
  opts: Partial<CompareOptions> & {
    acrossIdentity?: boolean;
    annotations?: AnnotationRef[];
    /** Run-to-run noise of a series from its history (by series key), or null to use the default. */
    runNoiseOf?: (seriesKey: string) => number | null;
    /** Other processes' CPU, in cores, above which a run counts as contended (default: harness/contention.ts). */
    contentionLimit?: number;
  } = {},
): RunComparison {
  const options = validateCompareOptions({
    alpha: opts.alpha ?? DEFAULT_COMPARE_OPTIONS.alpha,
    threshold: opts.threshold ?? DEFAULT_COMPARE_OPTIONS.threshold,
    minSamples: opts.minSamples ?? DEFAULT_COMPARE_OPTIONS.minSamples,
    runNoise: opts.runNoise ?? DEFAULT_COMPARE_OPTIONS.runNoise,
    guardQuantile: opts.guardQuantile ?? DEFAULT_COMPARE_OPTIONS.guardQuantile,
  });
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
  const emulated = base.run.device.emulated || head.run.device.emulated;
  if (emulated) notes.push('emulated device: timings measure the emulator, not the hardware, and are not compared; accuracy is');
  if (!bi) notes.push(`the base run ${base.run.runId} has no device probe: its series cannot be identified`);
  if (!hi) notes.push(`the head run ${head.run.runId} has no device probe: its series cannot be identified`);
  if (base.run.options.quick !== head.run.options.quick) {
    notes.push('one run is --quick and the other is not: their shapes differ, so no series is shared');
  }
  const contention = { base: runContention(base.run, opts.contentionLimit), head: runContention(head.run, opts.contentionLimit) };
  const busy = (['base', 'head'] as const).filter((side) => contention[side]?.contended);
  const withheld = emulated || busy.length === 0 ? null : busy.map((side) => `the ${side} run was ${contention[side]?.reason ?? 'contended'}`).join('; ');
  if (withheld) notes.push(`no timing verdicts: ${withheld}. Its timings are indicative only; compare again after a run on a quiet device`);
  for (const side of ['base', 'head'] as const) {
    const c = contention[side];
    if (c === null && !emulated) notes.push(`the ${side} run recorded no load from other processes (an older runner): contention cannot be ruled out`);
  }
  const differences = runDifferences(base.run, head.run);
  if (differences.length) notes.push(`the runs differ, so only what both measured alike is compared: ${differences.join('; ')}`);
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
  // The machine's drift between interleaved rounds, pooled over every series of both runs.
  const runDrift = pooledDrift(
    [...bm.values(), ...hm.values()].map((x) => (isTimed(x.result) ? roundDrift(x.result.timing.samples, x.result.timing.samplesPerRound) : null)),
  );
  const series: SeriesComparison[] = [];
  for (const k of keys) {
    const b = bm.get(k);
    const h = hm.get(k);
    const any = (h ?? b)!;
    // Skipped (or absent) on both sides: nothing was measured, nothing to compare.
    if (!(b && isPresent(b.result)) && !(h && isPresent(h.result))) continue;
    const c = compareResults(b?.result, h?.result, options, opts.runNoiseOf?.(any.key) ?? null, !emulated, withheld, runDrift, {
      base: base.run.options.cvTarget,
      head: head.run.options.cvTarget,
    });
    series.push({ key: any.key, caseId: any.result.caseId, variant: any.result.variant, label: any.label, ...c });
  }
  series.sort((a, b) => (ORDER.get(a.state) ?? 9) - (ORDER.get(b.state) ?? 9) || magnitude(b) - magnitude(a) || a.label.localeCompare(b.label));
  const counts = Object.fromEntries(SERIES_STATES.map((s) => [s, 0])) as Record<SeriesState, number>;
  for (const s of series) counts[s.state]++;
  const acknowledged = (s: SeriesComparison) => deviceWide.length > 0 || annotations.some((a) => a.seriesKey === s.key);
  const regressions = series.filter((s) => s.state === 'regressed' && !acknowledged(s)).length;
  const judged = counts.regressed + counts.improved + counts.noisy + counts.unchanged;
  const nothingCompared =
    judged === 0 && counts.gone > 0
      ? `the newer run measured none of the older run's ${counts.gone} series` +
        (head.run.status !== 'complete' ? ` (it is ${head.run.status}${head.run.statusDetail ? `: ${head.run.statusDetail}` : ''})` : '')
      : null;
  return {
    base: base.ref ?? runRef(base.run),
    head: head.ref ?? runRef(head.run),
    options,
    contention,
    withheld,
    differences,
    acrossIdentity,
    identityChanged: identityChanges.length > 0,
    identityChanges,
    annotations,
    notes,
    series,
    counts,
    regressions,
    nothingCompared,
  };
}

/** Run options that change what a timing means; a difference in any is stated. */
const MEASUREMENT_OPTIONS = ['quick', 'distribution', 'targetMs', 'minSamples', 'maxSamples', 'minSampleMs', 'cvTarget', 'rounds'] as const;

/**
 * How two runs differ in what they measured (pure): sampling options, input
 * distribution and size, and the cases (and their shapes) and variants only one
 * of them has. Their series are matched by key, so anything listed here is
 * simply not compared; these lines say so.
 */
export function runDifferences(base: RunResults, head: RunResults): string[] {
  const out: string[] = [];
  const show = (v: unknown) => (v === null || v === undefined ? 'none' : typeof v === 'string' ? v : JSON.stringify(v));
  for (const k of MEASUREMENT_OPTIONS) {
    if (canonical(base.options[k]) !== canonical(head.options[k])) out.push(`${k} ${show(base.options[k])} -> ${show(head.options[k])}`);
  }
  if (canonical(base.options.budgets) !== canonical(head.options.budgets))
    out.push(`accuracy budget ${show(base.options.budgets)} -> ${show(head.options.budgets)}`);
  const shapes = (r: RunResults) => new Map(r.cases.map((c) => [c.id, canonical(c.shape)]));
  const bs = shapes(base);
  const hs = shapes(head);
  const only = (a: Map<string, string>, b: Map<string, string>) => [...a.keys()].filter((k) => !b.has(k));
  const list = (xs: string[]) => (xs.length > 4 ? `${xs.slice(0, 4).join(', ')} and ${xs.length - 4} more` : xs.join(', '));
  const onlyBase = only(bs, hs);
  const onlyHead = only(hs, bs);
  if (onlyBase.length) out.push(`${onlyBase.length} case(s) only in the base run (${list(onlyBase)}): not compared`);
  if (onlyHead.length) out.push(`${onlyHead.length} case(s) only in the head run (${list(onlyHead)}): new`);
  const reshaped = [...bs.keys()].filter((k) => hs.has(k) && hs.get(k) !== bs.get(k));
  if (reshaped.length) out.push(`${reshaped.length} case(s) with another shape (${list(reshaped)}): not compared`);
  const variants = (r: RunResults) => new Set(r.results.map((x) => x.variant));
  const bv = variants(base);
  const hv = variants(head);
  const vb = [...bv].filter((v) => !hv.has(v));
  const vh = [...hv].filter((v) => !bv.has(v));
  if (vb.length) out.push(`variant(s) only in the base run: ${list(vb)}`);
  if (vh.length) out.push(`variant(s) only in the head run: ${list(vh)}`);
  return out;
}

const canonical = (v: unknown): string =>
  JSON.stringify(v, (_k, x: unknown) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort()) : x)) ?? 'undefined';

/**
 * Whether two runs measured the same thing (same options, cases with the same
 * shapes, and variants): what `compare latest previous` looks for.
 */
export function sameMeasurement(a: RunResults, b: RunResults): boolean {
  return runDifferences(a, b).length === 0;
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

/** Where the run-to-run noise of the compared series came from, e.g. "from the runs' rounds: 0.4%-1.2%". */
function noiseSources(c: RunComparison): string {
  const parts: string[] = [];
  for (const src of ['history', 'rounds', 'default'] as const) {
    const xs = c.series.flatMap((s) => (s.timing && s.timing.runNoiseSource === src ? [s.timing.runNoise] : []));
    if (xs.length === 0) continue;
    const lo = Math.min(...xs) * 100;
    const hi = Math.max(...xs) * 100;
    const range = lo.toFixed(1) === hi.toFixed(1) ? `${lo.toFixed(1)}%` : `${lo.toFixed(1)}-${hi.toFixed(1)}%`;
    parts.push(
      src === 'history'
        ? `from the series' history: ${range}`
        : src === 'rounds'
          ? `from the runs' interleaved rounds: ${range}`
          : `assumed, results without rounds: ${range}`,
    );
  }
  return parts.length ? parts.join('; ') : `default ${(c.options.runNoise * 100).toFixed(1)}%`;
}

function runLine(r: RunRef): string {
  return `${r.device} ${r.runId}${r.commit ? ` @ ${r.commit.slice(0, 12)}` : ''} (${r.status}${r.quick ? ', quick' : ''})`;
}

function summaryLine(c: RunComparison): string {
  const parts = SERIES_STATES.filter((s) => c.counts[s] > 0).map((s) => `${c.counts[s]} ${s}`);
  return `${c.series.length} series: ${parts.length ? parts.join(', ') : 'none'}`;
}

/**
 * Control characters (C0, DEL, C1, and the Unicode line and paragraph
 * separators) as visible escapes: `\r`, `\n`, `\t`, `\x1b`, `\u2028`. Names and
 * reasons come from a device's events: a bare carriage return must not end a
 * Markdown table row, nor an escape sequence drive the user's terminal.
 */
export function visible(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (ch) => {
    if (ch === '\n') return '\\n';
    if (ch === '\r') return '\\r';
    if (ch === '\t') return '\\t';
    const code = ch.charCodeAt(0);
    return code > 0xff ? `\\u${code.toString(16).padStart(4, '0')}` : `\\x${code.toString(16).padStart(2, '0')}`;
  });
}

/** Plain-text table for a terminal. */
export function formatTable(c: RunComparison, opts: { all?: boolean } = {}): string {
  const lines: string[] = [];
  lines.push(`base: ${runLine(c.base)}`, `head: ${runLine(c.head)}`);
  lines.push(
    `threshold ${(c.options.threshold * 100).toFixed(1)}%, alpha ${c.options.alpha}; change = Hodges-Lehmann ratio head/base, ${((1 - c.options.alpha) * 100).toFixed(0)}% CI widened by the run-to-run noise (${noiseSources(c)})`,
  );
  for (const n of c.notes) lines.push(`note: ${n}`);
  const shown = opts.all ? c.series : c.series.filter((s) => s.state !== 'unchanged');
  const rows = shown.map((s) =>
    [s.state, s.label, ms(s.base?.median), ms(s.head?.median), ratioCell(s), ciCell(s), formatP(s.timing?.p), s.reason].map(visible),
  );
  const head = ['state', 'series', 'base ms', 'head ms', 'change', 'CI', 'p', 'why'];
  if (rows.length) {
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
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
      : c.nothingCompared
        ? `NOTHING COMPARED: ${c.nothingCompared}; not a pass`
        : c.counts.regressed > 0
          ? `no unacknowledged regression (${c.counts.regressed} regressed across an annotation)`
          : c.withheld
            ? 'no regression found, and no timing verdict possible: a run was contended (see the note)'
            : 'no regression',
  );
  return `${lines.map((l, i) => (i < 3 || l.startsWith('note: ') ? visible(l) : l)).join('\n')}\n`;
}

/** Markdown text: characters with a meaning escaped, HTML made inert, control characters shown as escapes. */
const mdEscape = (s: string) =>
  s
    .replace(/[\\`*_{}[\]|#]/g, (ch) => `\\${ch}`)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (ch) => `\\${visible(ch)}`);
/**
 * Markdown inline code: no escapes work inside, so backticks become quotes; pipes are escaped for GFM
 * tables; control characters become visible escapes (a bare \r would end the table row).
 */
const mdCode = (s: string) => `\`${visible(s).replace(/`/g, "'").replace(/\|/g, '\\|')}\``;

/** Markdown for a CI comment. */
export function formatMarkdown(c: RunComparison, opts: { all?: boolean } = {}): string {
  const out: string[] = [];
  const icon = c.regressions > 0 ? '🔴' : c.counts.improved > 0 ? '🟢' : '⚪';
  const verdict =
    c.regressions > 0
      ? `${c.regressions} regression${c.regressions === 1 ? '' : 's'}`
      : c.nothingCompared
        ? `nothing compared: ${mdEscape(c.nothingCompared)}`
        : c.withheld
          ? 'no timing verdict (contended run)'
          : 'no regression';
  out.push(
    `### ${c.nothingCompared && c.regressions === 0 ? '🔴' : c.withheld && c.regressions === 0 ? '🟡' : icon} roofbench: ${mdEscape(c.head.device)}: ${verdict}`,
  );
  out.push('');
  out.push(`- base: ${mdCode(runLine(c.base))}`);
  out.push(`- head: ${mdCode(runLine(c.head))}`);
  out.push(`- ${mdEscape(summaryLine(c))}; threshold ${(c.options.threshold * 100).toFixed(1)}%, alpha ${c.options.alpha}`);
  for (const n of c.notes) out.push(`- note: ${mdEscape(n)}`);
  const shown = opts.all ? c.series : c.series.filter((s) => s.state !== 'unchanged');
  if (shown.length) {
    out.push('', '| state | series | base ms | head ms | change | CI | p | why |', '|---|---|--:|--:|--:|--:|--:|---|');
    for (const s of shown) {
      const st = s.state === 'regressed' ? '**regressed**' : s.state;
      out.push(
        `| ${st} | ${mdCode(s.label)} | ${ms(s.base?.median)} | ${ms(s.head?.median)} | ${ratioCell(s)} | ${ciCell(s)} | ${formatP(s.timing?.p)} | ${mdEscape(s.reason)} |`,
      );
    }
  }
  const hidden = c.series.length - shown.length;
  if (hidden > 0) out.push('', `${hidden} unchanged series not listed.`);
  return `${out.join('\n')}\n`;
}

/** JSON-safe copy (non-finite numbers as "Infinity"/"-Infinity"/"NaN", like results.json). */
export function toJson(c: RunComparison): unknown {
  return JSON.parse(JSON.stringify(c, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? encodeFloat(v) : v))) as unknown;
}
