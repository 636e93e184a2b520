/**
 * The accuracy decision of the one-run report: whether a fast algorithm (one
 * its suite names, or any variant held to an approximate relative-L2
 * tolerance) is accurate enough to adopt on the run's layer shapes, and what
 * it buys.
 *
 * Three reference points per case, from its suite kit (suites/<op>/kit.ts `decision`),
 * which also gives their labels, the section's wording and the candidates' tiles
 * (this module names no variant and no algorithm):
 * - the accuracy anchor (every error is also given as a multiple of its error
 *   against the float64 reference);
 * - the speed baseline (speedup = its median time / the variant's median time);
 * - the library peer, what a user would pick instead (a second speedup).
 *
 * buildAccuracyView is pure (the view model, plain text: the templates escape
 * it); accuracyChartSvgs renders its speed-vs-accuracy charts to SVG with a
 * hover <title> per point (escaped by attachTitles).
 */
import type { TopLevelSpec } from 'vega-lite';
import { isTimed, type TimedResult as Timed, decodeFloat, type CaseResult, type CaseSpec, type Distribution, type RunResults } from '../../core/contracts.js';
import { hasBudget, type Budgets } from '../budget.js';
import { decisionOfResult, runFacts } from './facts.js';
import type { DecisionRoles } from '../../suites/kit.js';
import * as f from './format.js';
import { attachTitles, CHART_CONFIG, tipToken, vegaLiteToSvg, type Tip } from './svg.js';

// The decision's references come from each case's suite kit (suites/<op>/kit.ts `decision`): the
// accuracy anchor, the speed baseline every speedup is measured against, the library peer (a second
// speedup column), and the algorithms that trade accuracy for speed (the section's candidates, with
// any approximate-tolerance result). A --filter run adds the references back for this decision.
const NO_ROLES: DecisionRoles = { anchor: '', speedBaseline: '', fastAlgorithms: [], labels: {}, title: 'approximate variants', question: '' };

/** A reference variant's label in the decision's prose (its kit's, else its name). */
const labelOf = (roles: DecisionRoles, variant: string | undefined): string => (variant === undefined ? '' : (roles.labels[variant] ?? variant));

/** A variant's name without its operator and fp32 dtype, for chart labels: conv3x3-winograd-f4x4-f32 -> winograd-f4x4. */
const bareName = (variant: string): string => variant.replace(/^[a-z0-9]+-/, '').replace(/-f32$/, '');
import { isDecisive, speedupOf, speedupText, times, type Speedup } from './speedup.js';

/** Class of a point of a speed-vs-accuracy chart (one per timed result plotted). */
export const ACC_POINT_CLASS = 'rb-acc-point';

const CHART_WIDTH = 520;
const CHART_HEIGHT = 250;
const LABEL_FONT = 10;

/** A result of one of its suite's fast algorithms (any state). */
export function isFastResult(r: CaseResult): boolean {
  return decisionOfResult(r)?.fastAlgorithms.includes(r.algorithm) ?? false;
}

/** A timed result held to an approximate (relative L2) tolerance rather than the exact-algorithm bound. */
export function isApproximateResult(r: CaseResult): boolean {
  return isTimed(r) && r.accuracy.tolerance.metric === 'relL2';
}

/**
 * A result the accuracy decision is about: fast or approximate, in a suite whose kit names the decision's
 * references (a suite without them has nothing to decide against: its approximate results are judged by
 * their own tolerance in the per-case tables).
 */
export function isCandidate(r: CaseResult): boolean {
  return decisionOfResult(r) !== undefined && (isFastResult(r) || isApproximateResult(r));
}

/**
 * Whether the report shows the accuracy-decision section: the run has a timed
 * fast (its suite's fast algorithms) or approximate result. Fast variants that were only skipped
 * (e.g. on 1x1 layers) or errored leave nothing to decide on; the summary's
 * skipped and problem lists already say why.
 */
export function hasAccuracySection(run: RunResults): boolean {
  return run.results.some((r) => isCandidate(r) && isTimed(r));
}

// ---------------------------------------------------------------------------
// The view model
// ---------------------------------------------------------------------------

export type Tone = 'ok' | 'partial' | 'bad' | 'info';

export interface DecisionRow {
  variant: string;
  algorithm: string;
  color: string;
  state: CaseResult['state'];
  /** anchor | baseline | peer | reference | candidate */
  role: string;
  /** "<anchor label> · accuracy anchor", "speed baseline", ... ('' for candidates). */
  roleLabel: string;
  /** Tile and interpolation points, e.g. "F(4x4,3x3) · points 0,1,-1,2,-2,inf". */
  detail: string;
  timed: boolean;
  /** errored: phase and first line of the error; skipped: the reason. */
  message: string;
  median: string;
  /** Median-time ratio with its interval, "~" and ", noisy" when either side is noisy (harness/report/speedup.ts). */
  speedup: string;
  speedupVsPeer: string;
  /** The speedup is clean and its interval clear of 1x (shown in bold; otherwise indicative). */
  speedupDecisive: boolean;
  relL2: string;
  maxAbs: string;
  sqnr: string;
  /** rel L2 as a multiple of the anchor's on the same case, e.g. "31×". */
  errorRatio: string;
  mults: string;
  cond: string;
  /** "yes", "no: <violations>", or "no budget given". */
  budget: string;
  budgetTone: Tone;
  /** Why the result is inaccurate (budget and/or its own tolerance); '' when passed. */
  stateNote: string;
}

export interface DecisionCase {
  no: number;
  /** Id of the case's full table further down the page. */
  anchor: string;
  id: string;
  layer: string;
  shape: string;
  hasPeer: boolean;
  /** The labels of the case's references (its suite kit's), for its table's heads. */
  anchorLabel: string;
  baselineLabel: string;
  peerLabel: string;
  rows: DecisionRow[];
  notes: string[];
}

export interface ChartPoint {
  x: number;
  y: number;
  variant: string;
  /** passed | inaccurate | zero (rel L2 = 0, drawn at the left edge) | nonfinite (drawn at the right edge) */
  kind: string;
  tip: string;
}

export interface ChartLabel {
  x: number;
  y: number;
  text: string;
  align: 'left' | 'right' | 'center';
  baseline: 'top' | 'bottom' | 'middle';
  dx: number;
  dy: number;
}

export interface AccuracyChart {
  /** Prefix for the SVG's ids. */
  id: string;
  caseNo: number;
  caseId: string;
  layer: string;
  anchor: string;
  points: ChartPoint[];
  labels: ChartLabel[];
  tips: Tip[];
  xDomain: [number, number];
  yDomain: [number, number];
  /** The user's rel L2 budget, drawn as a vertical rule. */
  budget: number | null;
  /** The speed baseline's label (the y axis: speedup over it). */
  baselineLabel: string;
  /** Points drawn at an axis edge, or left out, and why. */
  notes: string[];
}

export interface SummaryRow {
  variant: string;
  algorithm: string;
  color: string;
  tile: string;
  /** Cases with a timing. */
  cases: number;
  /** Skipped / errored / other cases, e.g. "1 skipped". */
  casesNote: string;
  medianRelL2: string;
  worstRelL2: string;
  worstCase: string;
  worstRatio: string;
  medianRatio: string;
  /** Speedup over the speed baseline, "min – median – max". */
  speedup: string;
  withinBudget: string;
  budgetTone: Tone;
  mults: string;
  cond: string;
}

export interface Verdict {
  variant: string;
  /** The sentence after the variant's name. */
  text: string;
  tone: Tone;
}

export interface AccuracyView {
  distribution: string;
  distributionNote: string;
  /** Cases whose own input distribution differs from the run's, e.g. "#2 (uniform(0,1))". */
  distributionExceptions: string[];
  budgetGiven: boolean;
  /** "rel L2 ≤ 5e-6, SQNR ≥ 100 dB", or '' without a budget. */
  budgetText: string;
  maxRelL2: number | null;
  emulated: boolean;
  /** References the user's selection left out and the run added for this decision (run.options.baselinesAdded). */
  baselinesAdded: string[];
  anchorVariant: string;
  baselineVariant: string;
  peerVariant: string;
  /** The references' labels (the kit's: e.g. fp32 direct, im2col, ONNX Runtime). */
  anchorLabel: string;
  baselineLabel: string;
  peerLabel: string;
  /** The section's heading after "Accuracy decision: " and its question (the kit's). */
  title: string;
  question: string;
  verdicts: Verdict[];
  summary: SummaryRow[];
  /** Context lines under the summary (the anchor's own error, the peer's speed). */
  context: string[];
  charts: AccuracyChart[];
  /** Why a case with fast variants has no chart. */
  chartNotes: string[];
  /** Variants drawn in the charts, with their colours (the charts' shared key). */
  key: { variant: string; color: string }[];
  hasEdgePoints: boolean;
  cases: DecisionCase[];
  /** Cases where every fast variant was skipped or errored, with the reasons. */
  notApplicable: { no: number; anchor: string; id: string; reasons: string[] }[];
}

const DISTRIBUTION_NOTES: Record<Distribution, string> = {
  'uniform(-1,1)': 'inputs uniform in [-1, 1): zero-mean, so every output sums terms of both signs.',
  'uniform(0,1)': 'inputs uniform in [0, 1): all non-negative, mean 0.5.',
  activation: "post-ReLU-like inputs: about half exact zeros and a heavy positive tail, like a trained network's activations.",
};

const finitePos = (x: number | undefined): x is number => typeof x === 'number' && Number.isFinite(x) && x > 0;

/** Short number for limits given by the user: 5e-6, 0.001, 100. */
function shortNum(x: number): string {
  if (!Number.isFinite(x)) return f.sig(x);
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1e-3 && a < 1e5) return String(Number(x.toPrecision(3)));
  return x.toExponential().replace('e+', 'e');
}

/** 3 significant digits without trailing zeros: 2.25, 4, 1.78, 1460. */
function sig3(x: number): string {
  return Number.isFinite(x) ? String(Number(x.toPrecision(3))) : f.sig(x);
}

export { times };

/** An error ratio: "295×", "3.6×", "0× (exact)". */
export function ratioText(x: number | undefined): string {
  if (x === undefined) return f.DASH;
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return '∞';
  if (x === 0) return '0× (exact)';
  if (x >= 10) return `${Math.round(x)}×`;
  return `${Number(x.toPrecision(2))}×`;
}

/** A range of speed ratios: "1.96×–2.21×", or one value. */
function timesRange(xs: number[]): string {
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  return times(lo) === times(hi) ? times(lo) : `${times(lo)}–${times(hi)}`;
}

function ratioRange(xs: number[]): string {
  const sorted = [...xs].sort(compareErr);
  const lo = sorted[0];
  const hi = sorted.at(-1);
  const a = ratioText(lo);
  const b = ratioText(hi);
  return a === b ? a : `${a.replace(/×.*$/, '')}×–${b}`;
}

/** Median of finite-or-not values (NaN sorts last, as the worst). */
function median(xs: number[]): number {
  const s = [...xs].sort(compareErr);
  const n = s.length;
  if (n === 0) return NaN;
  const mid = Math.floor(n / 2);
  return n % 2 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
}

/** Orders errors ascending, NaN after +Infinity (a NaN output is the worst outcome). */
function compareErr(a: number, b: number): number {
  const ka = Number.isNaN(a) ? Infinity : a;
  const kb = Number.isNaN(b) ? Infinity : b;
  if (ka !== kb) return ka - kb;
  return Number(Number.isNaN(a)) - Number(Number.isNaN(b));
}

const relL2Of = (r: Timed): number => decodeFloat(r.accuracy.relL2);

function infoNum(r: CaseResult, key: string): number | undefined {
  const v = r.info?.[key];
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

function infoStr(r: CaseResult, key: string): string | undefined {
  const v = r.info?.[key];
  return typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined;
}

/** Tile of a fast variant (its suite's reading of its facts or name): its label ("F(4x4,3x3)", "16x16") and size for ordering. */
function tileOf(r: CaseResult): { label: string; size: number } {
  return decisionOfResult(r)?.tile?.(r) ?? { label: infoStr(r, 'tile') ?? '', size: Infinity };
}

function candidateOrder(a: CaseResult, b: CaseResult): number {
  const rank = (r: CaseResult) => {
    const fast = decisionOfResult(r)?.fastAlgorithms ?? [];
    const i = fast.indexOf(r.algorithm);
    return i < 0 ? fast.length : i;
  };
  return rank(a) - rank(b) || tileOf(a).size - tileOf(b).size || (a.variant < b.variant ? -1 : a.variant > b.variant ? 1 : 0);
}

/** Short chart label of a variant. */
function shortLabel(r: CaseResult): string {
  const d = decisionOfResult(r);
  const label = d?.labels[r.variant];
  if (label !== undefined) return label;
  return d?.chartLabel?.(r.algorithm, tileOf(r).label) ?? bareName(r.variant);
}

function shapeText(s: CaseSpec['shape']): string {
  const parts = [`${s.c}→${s.k}`, `${s.h}×${s.w}`, `${s.r}×${s.s}`];
  if (s.stride !== 1) parts.push(`stride ${s.stride}`);
  if (s.groups !== 1) parts.push(`groups ${s.groups}`);
  return parts.join(', ');
}

export function budgetText(b: Budgets): string {
  const parts: string[] = [];
  if (b.maxRelL2 !== undefined) parts.push(`rel L2 ≤ ${shortNum(b.maxRelL2)}`);
  if (b.maxAbs !== undefined) parts.push(`max abs ≤ ${shortNum(b.maxAbs)}`);
  if (b.minSqnrDb !== undefined) parts.push(`SQNR ≥ ${shortNum(b.minSqnrDb)} dB`);
  return parts.join(', ');
}

/** Whether `r` meets the user's budget: null without one. Recomputed from the run's budgets (same rule as harness/budget.ts), else the stored outcome. */
function budgetOutcome(r: Timed, b: Budgets | undefined): { ok: boolean; violations: string[] } | null {
  if (!hasBudget(b)) {
    const stored = r.accuracy.budget;
    return stored ? { ok: stored.ok, violations: stored.violations } : null;
  }
  const acc = r.accuracy;
  const v: string[] = [];
  const rel = decodeFloat(acc.relL2);
  const abs = decodeFloat(acc.maxAbs);
  const sqnr = decodeFloat(acc.sqnrDb);
  // "Within" tests, so that NaN is a violation.
  if (b.maxRelL2 !== undefined && !(rel <= b.maxRelL2)) v.push(`rel L2 ${f.sci(rel, 1)} > ${shortNum(b.maxRelL2)}`);
  if (b.maxAbs !== undefined && !(abs <= b.maxAbs)) v.push(`max abs ${f.sci(abs, 1)} > ${shortNum(b.maxAbs)}`);
  if (b.minSqnrDb !== undefined && !(sqnr >= b.minSqnrDb)) v.push(`SQNR ${f.fixed(sqnr, 1)} dB < ${shortNum(b.minSqnrDb)} dB`);
  return { ok: v.length === 0, violations: v };
}

/** Why `r` exceeds its own declared tolerance, or null. */
function overOwnTolerance(r: Timed): string | null {
  const t = r.accuracy.tolerance;
  const v = decodeFloat(t.metric === 'maxAbs' ? r.accuracy.maxAbs : r.accuracy.relL2);
  if (v <= t.limit) return null;
  return `${t.metric === 'relL2' ? 'rel L2' : 'max abs'} ${f.sci(v, 1)} > its own tolerance ${f.sci(t.limit, 1)} (${t.source})`;
}

function speedupOver(r: Timed, base: Timed | undefined): number | undefined {
  return speedupOf(r, base)?.value;
}

function errorRatioOf(r: Timed, anchor: Timed | undefined): number | undefined {
  if (!anchor) return undefined;
  const a = relL2Of(anchor);
  if (!finitePos(a)) return undefined;
  const v = relL2Of(r);
  return Number.isNaN(v) ? NaN : v / a;
}

function multsText(r: CaseResult, spec: CaseSpec | undefined): string {
  const fast = isCandidate(r);
  const d = infoNum(r, 'directMultsPerOutput') ?? (spec ? spec.shape.r * spec.shape.s : undefined);
  let m = infoNum(r, 'multsPerOutput');
  // What the stored facts do not say, the suite may know from the algorithm and its tile.
  if (m === undefined && isTimed(r) && spec) m = decisionOfResult(r)?.multsPerOutput?.(r.algorithm, tileOf(r).size, spec.shape);
  if (!fast) return d !== undefined ? `${d} (direct)` : f.DASH;
  if (m !== undefined && d !== undefined && m > 0) {
    const k = d / m;
    return k >= 1 ? `${sig3(m)} vs ${d}: ${k.toFixed(1)}× fewer` : `${sig3(m)} vs ${d}: ${(1 / k).toFixed(1)}× more`;
  }
  return m !== undefined ? sig3(m) : f.DASH;
}

function condText(r: CaseResult): string {
  const cs = ['condAT', 'condG', 'condBT'].map((k) => infoNum(r, k));
  if (cs.every((c) => c === undefined)) return f.DASH;
  return cs.map((c) => (c === undefined ? f.DASH : sig3(c))).join(' / ');
}

interface CaseCtx {
  id: string;
  no: number;
  spec: CaseSpec | undefined;
  results: CaseResult[];
  anchor: Timed | undefined;
  base: Timed | undefined;
  peer: Timed | undefined;
  /** The references of the case's suite (NO_ROLES when it has no decision). */
  roles: DecisionRoles;
}

function timedVariant(results: CaseResult[], name: string): Timed | undefined {
  return results.find((r): r is Timed => r.variant === name && isTimed(r));
}

function firstLine(s: string): string {
  const i = s.indexOf('\n');
  return i < 0 ? s : s.slice(0, i);
}

function decisionRow(r: CaseResult, ctx: CaseCtx, colors: ReadonlyMap<string, string>, budgets: Budgets | undefined, budgetGiven: boolean): DecisionRow {
  const d = ctx.roles;
  const role =
    r.variant === d.anchor ? 'anchor' : r.variant === d.speedBaseline ? 'baseline' : r.variant === d.peer ? 'peer' : isCandidate(r) ? 'candidate' : 'reference';
  const roleLabel =
    { anchor: `${labelOf(d, d.anchor)} · accuracy anchor`, baseline: 'speed baseline', peer: 'library peer', reference: 'exact algorithm', candidate: '' }[
      role
    ] ?? '';
  const t = tileOf(r);
  const points = infoStr(r, 'points');
  const detail = [t.label, points !== undefined ? `points ${points}` : ''].filter((x) => x).join(' · ');
  const base: DecisionRow = {
    variant: r.variant,
    algorithm: r.algorithm,
    color: colors.get(r.variant) ?? '#888888',
    state: r.state,
    role,
    roleLabel,
    detail,
    timed: false,
    message: '',
    median: f.DASH,
    speedup: f.DASH,
    speedupVsPeer: f.DASH,
    speedupDecisive: false,
    relL2: f.DASH,
    maxAbs: f.DASH,
    sqnr: f.DASH,
    errorRatio: f.DASH,
    mults: multsText(r, ctx.spec),
    cond: condText(r),
    budget: f.DASH,
    budgetTone: 'info',
    stateNote: '',
  };
  if (r.state === 'errored') return { ...base, message: `in ${r.phase}: ${firstLine(r.error)}` };
  if (r.state === 'skipped') return { ...base, message: r.reason };
  const sp = speedupOf(r, ctx.base);
  const spPeer = speedupOf(r, ctx.peer);
  const ratio = errorRatioOf(r, ctx.anchor);
  const outcome = budgetOutcome(r, budgets);
  const own = overOwnTolerance(r);
  // The budget's violations have their own column: the state note says which limit made it inaccurate.
  const why: string[] = [];
  if (outcome && !outcome.ok) why.push('over the budget');
  if (own) why.push(own);
  return {
    ...base,
    timed: true,
    median: `${f.ms(r.timing.stats.median)} ms`,
    speedup: r === ctx.base ? '1×' : speedupText(sp),
    speedupVsPeer: r === ctx.peer ? '1×' : speedupText(spPeer),
    speedupDecisive: r === ctx.base || isDecisive(sp),
    relL2: f.sci(relL2Of(r), 1),
    maxAbs: f.sci(decodeFloat(r.accuracy.maxAbs), 1),
    sqnr: f.fixed(decodeFloat(r.accuracy.sqnrDb), 1),
    errorRatio: r === ctx.anchor ? '1× (anchor)' : ratioText(ratio),
    budget: outcome === null ? (budgetGiven ? 'not checked' : 'no budget given') : outcome.ok ? 'yes' : `no: ${outcome.violations.join(', ')}`,
    budgetTone: outcome === null ? 'info' : outcome.ok ? 'ok' : 'bad',
    stateNote: r.state === 'inaccurate' ? why.join('; ') || 'marked inaccurate by the runner' : '',
  };
}

/** Place labels next to points: the first candidate placement inside the frame and clear of points and placed labels. */
function placeLabels(
  items: { x: number; y: number; text: string }[],
  px: (x: number) => number,
  py: (y: number) => number,
  reserved: { l: number; r: number; t: number; b: number }[],
  /** Pixel x of vertical rules a label must stay on its point's side of. */
  rules: number[],
): ChartLabel[] {
  type Box = { l: number; r: number; t: number; b: number };
  const overlaps = (a: Box, b: Box) => a.l < b.r && b.l < a.r && a.t < b.b && b.t < a.b;
  const boxOf = (l: ChartLabel): Box => {
    const w = l.text.length * LABEL_FONT * 0.58;
    const h = LABEL_FONT * 1.2;
    const ax = px(l.x) + l.dx;
    const ay = py(l.y) + l.dy;
    const left = l.align === 'right' ? ax - w : l.align === 'center' ? ax - w / 2 : ax;
    const top = l.baseline === 'bottom' ? ay - h : l.baseline === 'middle' ? ay - h / 2 : ay;
    return { l: left, r: left + w, t: top, b: top + h };
  };
  const inFrame = (b: Box) => b.l >= 0 && b.r <= CHART_WIDTH && b.t >= 0 && b.b <= CHART_HEIGHT;
  const obstacles: Box[] = [...reserved, ...items.map((p) => ({ l: px(p.x) - 5, r: px(p.x) + 5, t: py(p.y) - 5, b: py(p.y) + 5 }))];
  const out: ChartLabel[] = [];
  for (const it of items) {
    const at = { x: it.x, y: it.y, text: it.text };
    const candidates: ChartLabel[] = [
      { ...at, align: 'left', baseline: 'middle', dx: 7, dy: 0 },
      { ...at, align: 'right', baseline: 'middle', dx: -7, dy: 0 },
      { ...at, align: 'center', baseline: 'bottom', dx: 0, dy: -7 },
      { ...at, align: 'center', baseline: 'top', dx: 0, dy: 7 },
      { ...at, align: 'left', baseline: 'bottom', dx: 5, dy: -4 },
      { ...at, align: 'left', baseline: 'top', dx: 5, dy: 4 },
      { ...at, align: 'right', baseline: 'bottom', dx: -5, dy: -4 },
      { ...at, align: 'right', baseline: 'top', dx: -5, dy: 4 },
      { ...at, align: 'left', baseline: 'middle', dx: 7, dy: -13 },
      { ...at, align: 'left', baseline: 'middle', dx: 7, dy: 13 },
    ];
    // The label, and the gap between it and its point, must not straddle a rule.
    const sameSide = (c: ChartLabel) => {
      const b = boxOf(c);
      const p = px(c.x);
      return !rules.some((x) => Math.min(p, b.l) - 1.5 < x && x < Math.max(p, b.r) + 1.5);
    };
    const clear = candidates.find((c) => inFrame(boxOf(c)) && sameSide(c) && !obstacles.some((o) => overlaps(o, boxOf(c))));
    const chosen = clear ?? candidates.find((c) => inFrame(boxOf(c)) && sameSide(c)) ?? candidates.find((c) => inFrame(boxOf(c)));
    if (!chosen) continue;
    out.push(chosen);
    obstacles.push(boxOf(chosen));
  }
  return out;
}

function logDomain(values: number[], pad: number, fallback: [number, number], minDecades: number): [number, number] {
  const xs = values.filter(finitePos);
  if (xs.length === 0) return fallback;
  let lo = f.niceDown(Math.min(...xs) / pad);
  let hi = f.niceUp(Math.max(...xs) * pad);
  while (hi / lo < 10 ** minDecades) {
    lo = f.niceDown(lo / 2);
    if (hi / lo < 10 ** minDecades) hi = f.niceUp(hi * 2);
  }
  return [lo, hi];
}

interface RawPoint {
  r: Timed;
  relL2: number;
  speedup: number;
  ratio: number | undefined;
  speedupVsPeer: number | undefined;
  label: string;
}

export function buildAccuracyView(run: RunResults): AccuracyView | null {
  if (!hasAccuracySection(run)) return null;
  const facts = runFacts(run);
  const { numbers, colours: colors } = facts;
  const budgets = run.options.budgets;
  const budgetGiven = hasBudget(budgets) || run.results.some((r) => isTimed(r) && r.accuracy.budget !== undefined);
  const bText = hasBudget(budgets) ? budgetText(budgets) : budgetGiven ? 'as stored with the results' : '';
  const maxRelL2 = budgets?.maxRelL2 !== undefined && finitePos(budgets.maxRelL2) ? budgets.maxRelL2 : null;

  // Cases in report order (plan order, then results without a case spec).
  const specs = new Map<string, CaseSpec>();
  for (const c of run.cases) if (!specs.has(c.id)) specs.set(c.id, c);
  const caseIds = [...numbers.keys()];
  const ctxs: CaseCtx[] = caseIds.map((id) => {
    const results = run.results.filter((r) => r.caseId === id);
    const roles = facts.decision(id) ?? NO_ROLES;
    return {
      id,
      no: numbers.get(id) ?? 0,
      spec: specs.get(id),
      results,
      anchor: timedVariant(results, roles.anchor),
      base: timedVariant(results, roles.speedBaseline),
      peer: roles.peer !== undefined ? timedVariant(results, roles.peer) : undefined,
      roles,
    };
  });
  // The references the section's prose names: those of the first case whose suite has a decision.
  const roles = ctxs.find((c) => c.roles !== NO_ROLES)?.roles ?? NO_ROLES;
  const anchorLabel = labelOf(roles, roles.anchor);
  const baseLabel = labelOf(roles, roles.speedBaseline);
  const peerLabel = labelOf(roles, roles.peer);
  const layerOf = (c: CaseCtx) => c.spec?.layer ?? c.id;

  // Decision tables: cases with a timed candidate. Cases whose candidates all failed to run: listed with the reasons.
  const cases: DecisionCase[] = [];
  const notApplicable: AccuracyView['notApplicable'] = [];
  for (const c of ctxs) {
    const cands = c.results.filter(isCandidate).sort(candidateOrder);
    if (cands.length === 0) continue;
    if (!cands.some(isTimed)) {
      // One line per distinct reason, naming the variants that share it.
      const byReason = new Map<string, string[]>();
      for (const r of cands) {
        const why = r.state === 'skipped' ? r.reason : r.state === 'errored' ? `errored in ${r.phase}: ${firstLine(r.error)}` : r.state;
        byReason.set(why, [...(byReason.get(why) ?? []), r.variant]);
      }
      notApplicable.push({ no: c.no, anchor: `case-${c.no}`, id: c.id, reasons: [...byReason].map(([why, vs]) => `${vs.join(', ')}: ${why}`) });
      continue;
    }
    const refs = [c.anchor, c.base, c.peer].filter((r): r is Timed => r !== undefined);
    const others = c.results.filter((r): r is Timed => isTimed(r) && !isCandidate(r) && !refs.includes(r));
    const rows = [...refs, ...others, ...cands].map((r) => decisionRow(r, c, colors, budgets, budgetGiven));
    const notes: string[] = [];
    if (!c.anchor) notes.push(`${c.roles.anchor} has no timed result on this case: no "error vs ${labelOf(c.roles, c.roles.anchor)}".`);
    else if (!finitePos(relL2Of(c.anchor)))
      notes.push(`${c.roles.anchor}'s rel L2 is ${f.sci(relL2Of(c.anchor), 1)} on this case: error ratios against it are undefined.`);
    if (!c.base) notes.push(`${c.roles.speedBaseline} has no timed result on this case: no speedups.`);
    if (c.spec && c.spec.distribution !== run.options.distribution) notes.push(`inputs of this case: ${c.spec.distribution}`);
    cases.push({
      no: c.no,
      anchor: `case-${c.no}`,
      id: c.id,
      layer: layerOf(c),
      shape: c.spec ? shapeText(c.spec.shape) : 'shape unknown',
      hasPeer: c.peer !== undefined,
      anchorLabel: labelOf(c.roles, c.roles.anchor),
      baselineLabel: labelOf(c.roles, c.roles.speedBaseline),
      peerLabel: labelOf(c.roles, c.roles.peer),
      rows,
      notes,
    });
  }

  // Speed-vs-accuracy charts: one per case with a timed candidate and a timed speed baseline.
  const chartNotes: string[] = [];
  const raw: { c: CaseCtx; pts: RawPoint[]; notes: string[] }[] = [];
  for (const c of ctxs) {
    if (!cases.some((d) => d.id === c.id)) continue;
    if (!c.base) {
      chartNotes.push(`#${c.no} ${layerOf(c)}: no chart, ${c.roles.speedBaseline} was not timed on this case, so there is no speedup to plot.`);
      continue;
    }
    const notes: string[] = [];
    const pts: RawPoint[] = [];
    const timed = c.results.filter(isTimed);
    const ordered = [
      ...[c.anchor, c.base, c.peer].filter((r): r is Timed => r !== undefined),
      ...timed.filter((r) => r !== c.anchor && r !== c.base && r !== c.peer).sort(candidateOrder),
    ];
    const labels = new Map<string, number>();
    for (const r of ordered) labels.set(shortLabel(r), (labels.get(shortLabel(r)) ?? 0) + 1);
    for (const r of ordered) {
      const speedup = speedupOver(r, c.base);
      if (speedup === undefined) {
        notes.push(`${r.variant}: median time ${f.ms(r.timing.stats.median)} ms gives no speedup, not drawn.`);
        continue;
      }
      const l = shortLabel(r);
      pts.push({
        r,
        relL2: relL2Of(r),
        speedup,
        ratio: r === c.anchor ? 1 : errorRatioOf(r, c.anchor),
        speedupVsPeer: r === c.peer ? undefined : speedupOver(r, c.peer),
        label: (labels.get(l) ?? 0) > 1 ? bareName(r.variant) : l,
      });
    }
    raw.push({ c, pts, notes });
  }
  const allPts = raw.flatMap((x) => x.pts);
  const xDomain = logDomain([...allPts.map((p) => p.relL2), ...(maxRelL2 !== null ? [maxRelL2] : [])], 2.5, [1e-9, 1e-3], 2);
  const yDomain = logDomain([...allPts.map((p) => p.speedup), 1], 1.4, [0.1, 10], 1);
  const [x0, x1] = xDomain;
  const [y0, y1] = yDomain;
  const px = (x: number) => (CHART_WIDTH * Math.log(x / x0)) / Math.log(x1 / x0);
  const py = (y: number) => CHART_HEIGHT * (1 - Math.log(y / y0) / Math.log(y1 / y0));
  const charts: AccuracyChart[] = [];
  let hasEdgePoints = false;
  for (const { c, pts, notes } of raw) {
    const tips: Tip[] = [];
    const points: ChartPoint[] = [];
    for (const p of pts) {
      const r = p.r;
      let kind: string = r.state;
      let x = p.relL2;
      let where = '';
      if (p.relL2 === 0) {
        kind = 'zero';
        x = x0;
        where = ' (drawn at the left edge)';
        notes.push(`${r.variant}: rel L2 = 0 (output equal to the float64 reference at this precision), drawn at the left edge.`);
      } else if (!Number.isFinite(p.relL2) || p.relL2 < 0) {
        kind = 'nonfinite';
        x = x1;
        where = ' (drawn at the right edge)';
        notes.push(`${r.variant}: rel L2 = ${f.sci(p.relL2, 1)} (non-finite output), drawn at the right edge.`);
      } else {
        x = Math.min(Math.max(x, x0), x1);
      }
      if (kind === 'zero' || kind === 'nonfinite') hasEdgePoints = true;
      const y = Math.min(Math.max(p.speedup, y0), y1);
      const outcome = budgetOutcome(r, budgets);
      const own = overOwnTolerance(r);
      const why = [outcome && !outcome.ok ? `over budget: ${outcome.violations.join(', ')}` : '', own ?? ''].filter((s) => s);
      const tile = tileOf(r).label;
      const [anchorL, baseL, peerL] = [c.roles.anchor, c.roles.speedBaseline, c.roles.peer].map((v) => labelOf(c.roles, v));
      const lines = [
        `#${c.no} ${c.id}`,
        `variant: ${r.variant}${tile ? ` (${tile})` : ''}`,
        `speedup: ${r === c.base ? `1× (${baseL} baseline)` : `${speedupText(speedupOf(r, c.base))} over ${baseL}`}${p.speedupVsPeer !== undefined ? `, ${speedupText(speedupOf(r, c.peer))} over ${peerL}` : ''}`,
        `rel L2: ${f.sci(p.relL2, 2)}${where}`,
        r === c.anchor
          ? `error: ${anchorL} (the accuracy anchor)`
          : p.ratio === undefined
            ? `error vs ${anchorL}: not available`
            : `error ${ratioText(p.ratio)} ${anchorL}`,
        `state: ${r.state}${why.length ? ` (${why.join('; ')})` : ''}`,
      ];
      if (outcome) lines.push(`budget: ${outcome.ok ? 'met' : 'exceeded'}`);
      points.push({ x, y, variant: r.variant, kind, tip: tipToken(tips.length) });
      tips.push({ lines, className: ACC_POINT_CLASS });
    }
    const reserved: { l: number; r: number; t: number; b: number }[] = [];
    if (maxRelL2 !== null) {
      const bx = px(maxRelL2);
      const w = `budget ${shortNum(maxRelL2)}`.length * LABEL_FONT * 0.58;
      reserved.push(bx + 4 + w <= CHART_WIDTH ? { l: bx, r: bx + 6 + w, t: 0, b: 18 } : { l: bx - 6 - w, r: bx, t: 0, b: 18 });
    }
    const labels = placeLabels(
      pts.map((p, i) => ({ x: points[i]?.x ?? p.relL2, y: points[i]?.y ?? p.speedup, text: p.label })),
      px,
      py,
      reserved,
      maxRelL2 !== null ? [px(maxRelL2)] : [],
    );
    charts.push({
      id: `rb-acc-${c.no}`,
      caseNo: c.no,
      caseId: c.id,
      layer: layerOf(c),
      anchor: `case-${c.no}`,
      points,
      labels,
      tips,
      xDomain,
      yDomain,
      budget: maxRelL2,
      baselineLabel: labelOf(c.roles, c.roles.speedBaseline),
      notes,
    });
  }
  const keyVariants = [...new Set(charts.flatMap((ch) => ch.points.map((p) => p.variant)))].sort();

  // Summary and verdicts: one per candidate variant, across cases.
  const candidateResults = run.results.filter(isCandidate).sort(candidateOrder);
  const variants = [...new Set(candidateResults.map((r) => r.variant))];
  const summary: SummaryRow[] = [];
  const verdicts: Verdict[] = [];
  for (const v of variants) {
    const rs = ctxs.flatMap((c) => c.results.filter((r) => r.variant === v).map((r) => ({ r, c })));
    const first = rs[0]?.r;
    if (!first) continue;
    const timed = rs.filter((x): x is { r: Timed; c: CaseCtx } => isTimed(x.r));
    const skipped = rs.filter((x) => x.r.state === 'skipped').length;
    const errored = rs.filter((x) => x.r.state === 'errored').length;
    const casesNote = [skipped ? `${skipped} skipped` : '', errored ? `${errored} errored` : ''].filter((s) => s).join(', ');
    const rels = timed.map((x) => relL2Of(x.r));
    const worst = timed.reduce<{ r: Timed; c: CaseCtx } | undefined>(
      (w, x) => (w === undefined || compareErr(relL2Of(x.r), relL2Of(w.r)) > 0 ? x : w),
      undefined,
    );
    const ratios = timed.map((x) => errorRatioOf(x.r, x.c.anchor)).filter((x): x is number => x !== undefined);
    const stats = timed.map((x) => speedupOf(x.r, x.c.base)).filter((x): x is Speedup => x !== undefined);
    const speedups = stats.map((x) => x.value);
    const indicative = stats.filter((x) => !isDecisive(x));
    const outcomes = timed.map((x) => ({ ...x, o: budgetOutcome(x.r, budgets) }));
    const checked = outcomes.filter((x) => x.o !== null);
    const within = checked.filter((x) => x.o?.ok === true);
    const overOwn = timed.filter((x) => overOwnTolerance(x.r) !== null);
    const tile = tileOf(first).label;
    // What the variant did where it ran (a skipped result's shape says nothing about its arithmetic).
    const ran = timed.length ? timed : rs;
    const mults = [...new Set(ran.map((x) => multsText(x.r, x.c.spec)).filter((s) => s !== f.DASH))];
    const conds = [...new Set(ran.map((x) => condText(x.r)).filter((s) => s !== f.DASH))];
    const sortedSp = [...speedups].sort((a, b) => a - b);
    const budgetTone: Tone = !budgetGiven || checked.length === 0 ? 'info' : within.length === checked.length ? 'ok' : within.length === 0 ? 'bad' : 'partial';
    summary.push({
      variant: v,
      algorithm: first.algorithm,
      color: colors.get(v) ?? '#888888',
      tile,
      cases: timed.length,
      casesNote,
      medianRelL2: timed.length ? f.sci(median(rels), 1) : f.DASH,
      worstRelL2: worst ? f.sci(relL2Of(worst.r), 1) : f.DASH,
      worstCase: worst ? `#${worst.c.no} ${layerOf(worst.c)}` : '',
      worstRatio: ratios.length ? ratioText([...ratios].sort(compareErr).at(-1)) : f.DASH,
      medianRatio: ratios.length ? ratioText(median(ratios)) : f.DASH,
      speedup:
        (sortedSp.length === 0
          ? f.DASH
          : sortedSp.length === 1
            ? speedupText(stats[0])
            : `${times(sortedSp[0])} – ${times(median(sortedSp))} – ${times(sortedSp.at(-1))}`) +
        (indicative.length && sortedSp.length > 1 ? ` (${indicative.length} of ${sortedSp.length} noisy or not clear of 1×)` : ''),
      withinBudget: !budgetGiven ? 'no budget given' : timed.length === 0 ? f.DASH : `${within.length} of ${checked.length}`,
      budgetTone,
      mults: mults.length ? mults.join('; ') : f.DASH,
      cond: conds.length ? conds.join('; ') : f.DASH,
    });

    // The verdict sentence.
    if (timed.length === 0) {
      verdicts.push({ variant: v, text: `has no timed result (${casesNote || 'no results'}): nothing to decide on.`, tone: 'info' });
      continue;
    }
    const n = timed.length;
    const casesWord = (k: number) => `${k} case${k === 1 ? '' : 's'}`;
    let speed: string;
    // Only decisive speedups (clean timings, interval clear of 1x) make a faster/slower claim.
    const decisive = stats.filter(isDecisive);
    const slower = decisive.length > 0 && indicative.length === 0 && decisive.every((s) => s.high < 1);
    if (speedups.length === 0) speed = `no speedup over ${baseLabel} (${roles.speedBaseline} not timed on these cases)`;
    else if (indicative.length === 0 && decisive.every((s) => s.low > 1)) speed = `${timesRange(speedups)} faster than ${baseLabel}`;
    else if (slower) speed = `slower than ${baseLabel} (${timesRange(speedups)} its speed)`;
    else if (indicative.length === 0) speed = `${timesRange(speedups)} the speed of ${baseLabel}`;
    else {
      const noisy = indicative.filter((s) => s.noisy).length;
      const why = [noisy ? `noisy timing on ${noisy}` : '', indicative.length - noisy ? `an interval that includes 1× on ${indicative.length - noisy}` : '']
        .filter((x) => x)
        .join(', ');
      speed = `${timesRange(speedups)} the speed of ${baseLabel}, not conclusive (${why} of ${speedups.length})`;
    }
    const err = ratios.length ? `error ${ratioRange(ratios)} ${anchorLabel}` : `no ${anchorLabel} error to compare with`;
    const notAll = speedups.length > 0 && speedups.length < n ? ` (speedup on ${casesWord(speedups.length)})` : '';
    const tail = casesNote ? `; ${casesNote}` : '';
    if (budgetGiven && checked.length > 0) {
      const over = outcomes.filter((x) => x.o !== null && !x.o.ok);
      const overText = over.length ? `; over it on ${over.map((x) => `#${x.c.no} ${layerOf(x.c)} (${x.o?.violations.join(', ')})`).join(', ')}` : '';
      const k = within.length;
      const nc = checked.length;
      const meets =
        k > 0 ? `meets the budget (${bText}) on ${k} of ${casesWord(nc)}` : `misses the budget (${bText}) on ${nc === 1 ? 'its only case' : `all ${nc} cases`}`;
      verdicts.push({
        variant: v,
        text: `${meets}, ${slower && k > 0 ? 'but ' : ''}${speed}${notAll}; ${err}${overText}${tail}.`,
        // Accurate enough but no faster than the speed baseline: nothing to adopt, so not green.
        tone: budgetTone === 'ok' && slower ? 'info' : budgetTone,
      });
    } else {
      const ownText = overOwn.length ? `; over its own declared tolerance on ${overOwn.length} of ${n}` : '';
      verdicts.push({
        variant: v,
        text: `${err} (rel L2 ${timed.length > 1 ? `${f.sci(Math.min(...rels.filter((x) => !Number.isNaN(x))), 1)}–${f.sci([...rels].sort(compareErr).at(-1), 1)}` : f.sci(rels[0], 1)}), ${speed}${notAll}, on ${casesWord(n)}${ownText}${tail}.`,
        tone: overOwn.length ? 'partial' : 'info',
      });
    }
  }

  // Context: the references' own numbers.
  const context: string[] = [];
  const anchors = ctxs.filter((c) => c.anchor && cases.some((d) => d.id === c.id)).map((c) => relL2Of(c.anchor as Timed));
  if (anchors.length) {
    const lo = [...anchors].sort(compareErr)[0];
    const hi = [...anchors].sort(compareErr).at(-1);
    context.push(
      `${anchorLabel} (${roles.anchor}) itself: rel L2 ${f.sci(lo, 1) === f.sci(hi, 1) ? f.sci(lo, 1) : `${f.sci(lo, 1)}–${f.sci(hi, 1)}`} against the float64 reference on these cases: "error N× ${anchorLabel}" is relative to that.`,
    );
  } else {
    context.push(`${roles.anchor} was not timed on these cases: no error ratios against ${anchorLabel}.`);
  }
  const peerStats = ctxs
    .filter((c) => c.peer && cases.some((d) => d.id === c.id))
    .map((c) => speedupOf(c.peer as Timed, c.base))
    .filter((x): x is Speedup => x !== undefined);
  const peerSp = peerStats.map((x) => x.value);
  const peerUnclear = peerStats.filter((x) => !isDecisive(x)).length;
  if (peerSp.length) {
    context.push(
      `${peerLabel} (${roles.peer ?? ''}) runs at ${timesRange(peerSp)} the speed of ${baseLabel} on these cases${peerUnclear ? ` (${peerUnclear} of ${peerSp.length} noisy or not clear of 1×)` : ''}: the tables' "vs ${peerLabel}" column is the fast variant's speedup over it.`,
    );
  }
  context.push(
    'Speedups are median-time ratios with the interval the two medians\' confidence intervals give; "~" and "noisy" mark a side whose timing was noisy, and only clean speedups whose interval clears 1× count as faster or slower in the verdicts.',
  );

  const distribution = run.options.distribution;
  return {
    distribution,
    distributionNote: DISTRIBUTION_NOTES[distribution] ?? '',
    distributionExceptions: ctxs
      .filter((c) => c.spec && c.spec.distribution !== distribution && cases.some((d) => d.id === c.id))
      .map((c) => `#${c.no} (${c.spec?.distribution ?? '?'})`),
    budgetGiven,
    budgetText: bText,
    maxRelL2,
    emulated: run.device.emulated,
    baselinesAdded: run.options.baselinesAdded ?? [],
    anchorVariant: roles.anchor,
    baselineVariant: roles.speedBaseline,
    peerVariant: roles.peer ?? '',
    anchorLabel,
    baselineLabel: baseLabel,
    peerLabel,
    title: roles.title,
    question: roles.question,
    verdicts,
    summary,
    context,
    charts,
    chartNotes,
    key: keyVariants.map((v) => ({ variant: v, color: colors.get(v) ?? '#888888' })),
    hasEdgePoints,
    cases,
    notApplicable,
  };
}

// ---------------------------------------------------------------------------
// Charts
// ---------------------------------------------------------------------------

const KIND_SHAPES = {
  domain: ['passed', 'inaccurate', 'zero', 'nonfinite'],
  range: ['circle', 'triangle-up', 'triangle-left', 'triangle-right'],
};

/** Tick values on a log axis: decades, with 2x and 5x (or 3x) in between when the range is short. */
function logTicks([lo, hi]: [number, number], maxDecadesForSteps: number): number[] {
  const decades = Math.log10(hi / lo);
  const mults = decades <= maxDecadesForSteps ? [1, 2, 5] : decades <= maxDecadesForSteps + 2 ? [1, 3] : [1];
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of mults) {
      const v = Number((m * 10 ** e).toPrecision(6));
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) ticks.push(v);
    }
  }
  return ticks;
}

/** The Vega-Lite spec of one speed-vs-accuracy chart (exported for tests). */
export function accuracyChartSpec(ch: AccuracyChart, colors: { variant: string; color: string }[]): TopLevelSpec {
  const x = {
    field: 'x',
    type: 'quantitative' as const,
    scale: { type: 'log' as const, domain: ch.xDomain, nice: false },
    axis: { title: 'relative L2 error vs float64 (log)', values: logTicks(ch.xDomain, 1), format: '.0e', grid: true, labelFlush: true },
  };
  const y = {
    field: 'y',
    type: 'quantitative' as const,
    scale: { type: 'log' as const, domain: ch.yDomain, nice: false },
    axis: { title: `speedup over ${ch.baselineLabel} (log)`, values: logTicks(ch.yDomain, 2), labelExpr: "format(datum.value, '~g') + '×'", grid: true },
  };
  const color = {
    field: 'variant',
    type: 'nominal' as const,
    scale: colors.length ? { domain: colors.map((c) => c.variant), range: colors.map((c) => c.color) } : { domain: ['none'], range: ['#888'] },
    legend: null,
  };
  const layers: object[] = [];
  if (ch.budget !== null) {
    const [, x1] = ch.xDomain;
    const b = ch.budget;
    const text = `budget ${shortNum(b)}`;
    const fitsRight = (CHART_WIDTH * Math.log(b / ch.xDomain[0])) / Math.log(x1 / ch.xDomain[0]) + 6 + text.length * LABEL_FONT * 0.58 <= CHART_WIDTH;
    if (b < x1) {
      layers.push({
        data: { values: [{ x: b, x2: x1 }] },
        mark: { type: 'rect', fill: '#e45756', opacity: 0.07, aria: false },
        encoding: { x, x2: { field: 'x2' } },
      });
    }
    layers.push(
      { data: { values: [{ x: b }] }, mark: { type: 'rule', stroke: '#c0392b', strokeWidth: 1.4, strokeDash: [5, 3], aria: false }, encoding: { x } },
      {
        data: { values: [{ x: b, text }] },
        mark: {
          type: 'text',
          fontSize: LABEL_FONT,
          fontWeight: 600,
          fill: '#b42318',
          align: fitsRight ? 'left' : 'right',
          baseline: 'top',
          dx: fitsRight ? 4 : -4,
          y: 4,
          aria: false,
        },
        encoding: { x, text: { field: 'text' } },
      },
    );
  }
  layers.push({
    data: { values: [{ y: 1 }] },
    mark: { type: 'rule', stroke: '#8a94a6', strokeWidth: 1, strokeDash: [3, 3], aria: false },
    encoding: { y },
  });
  const placements = new Map<string, ChartLabel[]>();
  for (const l of ch.labels) {
    const k = `${l.align}|${l.baseline}|${l.dx}|${l.dy}`;
    placements.set(k, [...(placements.get(k) ?? []), l]);
  }
  for (const group of placements.values()) {
    const g = group[0];
    if (!g) continue;
    layers.push({
      data: { values: group },
      mark: { type: 'text', fontSize: LABEL_FONT, fill: '#3a4150', align: g.align, baseline: g.baseline, dx: g.dx, dy: g.dy, aria: false },
      encoding: { x, y, text: { field: 'text' } },
    });
  }
  if (ch.points.length) {
    layers.push({
      data: { values: ch.points },
      mark: { type: 'point', filled: true, size: 90, stroke: 'white', strokeWidth: 0.8, opacity: 0.95 },
      encoding: {
        x,
        y,
        color,
        shape: { field: 'kind', type: 'nominal', scale: KIND_SHAPES, legend: null },
        description: { field: 'tip' },
      },
    });
  } else {
    layers.push({
      data: { values: [{ x: Math.sqrt(ch.xDomain[0] * ch.xDomain[1]), y: Math.sqrt(ch.yDomain[0] * ch.yDomain[1]), text: 'no timed result to plot' }] },
      mark: { type: 'text', fontSize: 12, fill: '#8a5a00', aria: false },
      encoding: { x, y, text: { field: 'text' } },
    });
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: CHART_WIDTH,
    height: CHART_HEIGHT,
    config: CHART_CONFIG,
    layer: layers,
  } as TopLevelSpec;
}

/** The SVG of every chart of `view`, in order (safe to inline: Vega escapes its text, attachTitles the titles). */
export async function accuracyChartSvgs(view: AccuracyView): Promise<string[]> {
  return Promise.all(view.charts.map(async (ch) => attachTitles(await vegaLiteToSvg(accuracyChartSpec(ch, view.key), ch.id), ch.tips)));
}
