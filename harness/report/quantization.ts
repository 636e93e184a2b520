/**
 * The report's quantization decision (issue 13): per layer and low-precision
 * scheme, what a user needs to adopt int8 / fp16 storage or not: the scheme's
 * loss against float64 on the original floats (SQNR, rel L2, rmse/scale) vs the
 * budget, the speedup over fp32 im2col measured in the same run, the kernel
 * check, the scheme the numbers recommend per layer and a plain verdict per
 * scheme ("int8 pc-i8: 1.6x faster, 41 dB, meets 30 dB on 7 of 7 layers").
 * Pure: a view model built from the stored run; the template is quantization.njk.
 *
 * Definitions (docs/precision.md, "The quantization decision"):
 * - speedup = median time of conv-im2col-gemm-f32 / median time of the variant, same case, same run;
 *   "vs best fp32" uses the fastest fp32 variant that passed on that case; both at the variant's own thread count
 *   (with --threads 1,2 an fp32 result on 2 threads is not compared with an int8 kernel on 1);
 * - budget: the user's --min-sqnr-db / --max-rel-l2 where given, else DEFAULT_MIN_SQNR_DB;
 * - a scheme meets the budget on a layer when its SQNR (and rel L2) are within it;
 * - the recommended scheme of a layer: among the low-precision results that passed their kernel
 *   check (state passed, or inaccurate only by the user's budget) and meet the budget, the one with
 *   the largest speedup over the best fp32 variant, if that speedup is above 1; else fp32;
 * - a scheme's verdict over layers: on each layer its fastest kernel that passed the kernel check;
 *   the geometric mean of the speedups over fp32 im2col, the lowest SQNR, layers meeting the budget.
 * A timing on an emulated device is the emulator's: no speedup and no recommendation is drawn from it.
 */
import {
  baseVariantName,
  decodeFloat,
  isTimed,
  resultThreads,
  threadedVariantName,
  type CaseResult,
  type RunResults,
  type TimedResult,
} from '../../core/contracts.js';
import { PEER_VARIANT, SPEED_BASELINE_VARIANT } from '../../suites/conv/baselines.js';
import { duration, fixed, sig } from './format.js';
import { isDecisive, speedupOf } from './speedup.js';

/** The budget the decision uses when the user gave none: a common bar for int8 (the issue's example verdict). */
export const DEFAULT_MIN_SQNR_DB = 30;

export interface QuantRow {
  variant: string;
  /** The scheme label with its storage dtype, e.g. pc-i8, pt-u8, fp16-f16. */
  scheme: string;
  description: string;
  dtype: string;
  /** Median time, ms. */
  ms: number;
  /** The same in the unit that reads best (10.4 µs, 0.506 ms). */
  medianText: string;
  /** fp32 im2col / this, same case (null without that baseline or on an emulated device). */
  speedup: number | null;
  /** Fastest passing fp32 variant / this. */
  speedupBest: number | null;
  /** That speedup is a clear one: neither timing noisy and its interval above 1× (speedup.ts isDecisive). */
  speedupBestClear: boolean;
  /** Its timing, or its fp32 baselines', is noisy: its speedups are indicative. */
  noisy: boolean;
  sqnrDb: number;
  relL2: number;
  rmseOverScale: number;
  flagged: boolean;
  meets: boolean;
  /** The kernel check passed (a failure means a kernel bug: nothing else in the row counts). */
  kernelOk: boolean;
  /** A native peer (ONNX Runtime's QLinearConv): shown as the ratio a user compares with, never recommended. */
  peer: boolean;
  nonPortable?: string;
  /** Why the row is not a candidate, or ''. */
  note: string;
}

export interface QuantLayer {
  caseId: string;
  fp32Variant: string | null;
  fp32Ms: number | null;
  bestFp32Variant: string | null;
  bestFp32Ms: number | null;
  /** fp32Ms and bestFp32Ms in the unit that reads best. */
  fp32Text: string;
  bestFp32Text: string;
  rows: QuantRow[];
  /** The variant the numbers recommend, or null: stay in fp32. */
  recommended: string | null;
  why: string;
}

export interface SchemeVerdict {
  scheme: string;
  description: string;
  layers: number;
  meets: number;
  geomeanSpeedup: number | null;
  /** The same over the best fp32 variant of each layer. */
  geomeanSpeedupBest: number | null;
  minSqnrDb: number;
  text: string;
}

export interface QuantDecision {
  budgetText: string;
  budgetGiven: boolean;
  emulated: boolean;
  baselineVariant: string;
  layers: QuantLayer[];
  verdicts: SchemeVerdict[];
  /** Accuracy-only results (emulated fp16 arithmetic): checked, never timed; their scheme loss vs the budget. */
  accuracyOnly: {
    caseId: string;
    variant: string;
    scheme: string;
    description: string;
    sqnrDb: number;
    relL2: number;
    meets: boolean;
    checkOk: boolean;
    reason: string;
  }[];
  /** Low-precision results that were not measured (skipped, errored), with why. */
  notRun: { caseId: string; variant: string; why: string }[];
  int8PeakGops: number | null;
  fp32PeakGflops: number | null;
  /** The device profile's theoretical peaks per dtype (GFLOP/s; int8 in GOP/s), where it has one. */
  theoreticalPeaks: { dtype: string; peak: number }[];
  /** The dtypes the device profile gives no peak for, with why. */
  missingPeaks: { dtype: string; why: string }[];
}

/** The scheme key of a low-precision result: its label and storage dtype (pc-i8), or null for an fp32 result. */
function schemeKey(r: TimedResult): string | null {
  const s = r.accuracy.schemeLoss;
  return s ? `${s.scheme}-${r.dtype}` : null;
}

/** A kernel check failed (a kernel bug), as opposed to a state the user's budget set. */
function kernelFailed(r: TimedResult): boolean {
  if (r.accuracy.checks?.some((c) => !c.ok)) return true;
  return r.state === 'inaccurate' && !(r.accuracy.budget && !r.accuracy.budget.ok);
}

function geomean(xs: number[]): number | null {
  return xs.length ? Math.exp(xs.reduce((s, x) => s + Math.log(x), 0) / xs.length) : null;
}

/** The decision for `run`, or null when the run has no low-precision result. */
export function quantizationDecision(run: RunResults): QuantDecision | null {
  // Whole networks have their own section (quantized-networks.ts).
  const lowp = run.results.filter(
    (r) => (isTimed(r) && r.accuracy.schemeLoss !== undefined) || (!isTimed(r) && /-(i8|u8|f16)$/.test(r.variant) && !r.variant.startsWith('model-')),
  );
  if (lowp.length === 0) return null;
  // Skipped accuracy-only results count (they carry a scheme loss); other skipped ones alone do not make a section.
  const budgets = run.options.budgets ?? {};
  const budgetGiven = budgets.minSqnrDb !== undefined || budgets.maxRelL2 !== undefined;
  const minSqnr = budgetGiven ? budgets.minSqnrDb : DEFAULT_MIN_SQNR_DB;
  const maxRelL2 = budgets.maxRelL2;
  const budgetParts = [minSqnr !== undefined ? `SQNR ≥ ${minSqnr} dB` : '', maxRelL2 !== undefined ? `rel L2 ≤ ${maxRelL2}` : ''].filter(Boolean);
  const budgetText = budgetParts.join(', ');
  const emulated = run.device.emulated === true;
  const byCase = new Map<string, CaseResult[]>();
  for (const r of run.results) byCase.set(r.caseId, [...(byCase.get(r.caseId) ?? []), r]);

  const layers: QuantLayer[] = [];
  const notRun: QuantDecision['notRun'] = [];
  const accuracyOnly: QuantDecision['accuracyOnly'] = [];
  const within = (sqnrDb: number, relL2: number) => (minSqnr === undefined || sqnrDb >= minSqnr) && (maxRelL2 === undefined || relL2 <= maxRelL2);
  for (const [caseId, results] of byCase) {
    const timed = results.filter(isTimed);
    for (const r of results) {
      if (isTimed(r) || !/-(i8|u8|f16)$/.test(r.variant)) continue;
      const loss = r.state === 'skipped' ? r.accuracy?.schemeLoss : undefined;
      if (r.state === 'skipped' && loss) {
        const sqnrDb = decodeFloat(loss.sqnrDb);
        const relL2 = decodeFloat(loss.relL2);
        accuracyOnly.push({
          caseId,
          variant: r.variant,
          scheme: `${loss.scheme}-${r.dtype}`,
          description: loss.description,
          sqnrDb,
          relL2,
          meets: within(sqnrDb, relL2),
          checkOk: r.accuracy?.checks?.every((c) => c.ok) ?? false,
          reason: r.reason,
        });
        continue;
      }
      notRun.push({ caseId, variant: r.variant, why: r.state === 'skipped' ? r.reason : `errored: ${r.error}` });
    }
    const q = timed.filter((r) => schemeKey(r) !== null);
    if (q.length === 0) continue;
    // Baselines at the low-precision result's own thread count (with --threads 1,2 the int8 kernels run on one
    // thread: an fp32 result on two is not what they would replace).
    const baseAt = (n: number) => timed.find((r) => r.variant === threadedVariantName(SPEED_BASELINE_VARIANT, n) && r.state === 'passed');
    // Roofbench's own fp32 kernels (a native peer or kernel is not what the scheme would replace).
    const fp32 = timed.filter(
      (r) =>
        r.dtype === 'f32' && r.state === 'passed' && r.external === undefined && r.info?.code !== 'native' && baseVariantName(r.variant).base !== PEER_VARIANT,
    );
    const bestAt = (n: number) =>
      fp32
        .filter((r) => resultThreads(r) === n)
        .reduce<TimedResult | undefined>((b, r) => (!b || r.timing.stats.median < b.timing.stats.median ? r : b), undefined);
    const layerThreads = resultThreads(q[0]!);
    const base = baseAt(layerThreads);
    const best = bestAt(layerThreads);
    const rows: QuantRow[] = q.map((r) => {
      const rowBase = baseAt(resultThreads(r));
      const rowBest = bestAt(resultThreads(r));
      const s = r.accuracy.schemeLoss!;
      const sqnrDb = decodeFloat(s.sqnrDb);
      const relL2 = decodeFloat(s.relL2);
      const meets = within(sqnrDb, relL2);
      const median = r.timing.stats.median;
      const kernelOk = !kernelFailed(r);
      const peer = r.info?.code === 'native' || r.external !== undefined;
      const notes = [
        kernelOk ? '' : 'kernel check failed: a kernel bug, not a scheme loss',
        r.info?.code === 'native' ? 'native peer (not WebAssembly): for comparison' : '',
        r.accuracy.nonPortable ? 'non-portable' : '',
        r.timing.noisy ? 'noisy timing' : '',
      ].filter(Boolean);
      return {
        variant: r.variant,
        scheme: schemeKey(r)!,
        description: s.description,
        dtype: r.dtype,
        ms: median,
        medianText: duration(median),
        speedup: rowBase && !emulated ? rowBase.timing.stats.median / median : null,
        speedupBest: rowBest && !emulated ? rowBest.timing.stats.median / median : null,
        noisy: r.timing.noisy || rowBase?.timing.noisy === true || rowBest?.timing.noisy === true,
        speedupBestClear: rowBest !== undefined && !emulated && isDecisive(speedupOf(r, rowBest)) && median < rowBest.timing.stats.median,
        sqnrDb,
        relL2,
        rmseOverScale: decodeFloat(s.rmseOverScale),
        flagged: s.flagged,
        meets,
        kernelOk,
        peer,
        ...(r.accuracy.nonPortable ? { nonPortable: r.accuracy.nonPortable } : {}),
        note: notes.join('; '),
      };
    });
    const eligible = rows.filter((r) => !r.peer && r.kernelOk && r.meets && !r.nonPortable && r.speedupBest !== null && r.speedupBest > 1);
    // Only a clear speed-up (clean timings, interval above 1x) is recommended, as in the accuracy decision.
    const candidates = eligible.filter((r) => r.speedupBestClear);
    const unclear = eligible.filter((r) => !r.speedupBestClear).sort((a, b) => b.speedupBest! - a.speedupBest!)[0];
    const pick = candidates.reduce<QuantRow | undefined>((b, r) => (!b || r.speedupBest! > b.speedupBest! ? r : b), undefined);
    let why: string;
    if (emulated) why = 'emulated device: its timings are the emulator’s, so nothing is recommended for speed';
    else if (!best) why = 'no fp32 variant passed on this layer to compare with';
    else if (pick) why = `${sig(pick.speedupBest, 3)}× faster than the best fp32 (${best.variant}), SQNR ${fixed(pick.sqnrDb, 1)} dB within the budget`;
    else if (!rows.some((r) => r.kernelOk && r.meets)) why = 'no scheme meets the budget on this layer: stay in fp32';
    else if (unclear) {
      why = `${unclear.variant} measured ${sig(unclear.speedupBest, 3)}× the best fp32 (${best.variant}), but its timing is noisy or the interval holds 1×: no clear speed-up, stay in fp32 (measure again on a quiet machine)`;
    } else why = `no scheme within the budget is faster than the best fp32 (${best.variant}): stay in fp32`;
    layers.push({
      caseId,
      fp32Variant: base?.variant ?? null,
      fp32Ms: base?.timing.stats.median ?? null,
      bestFp32Variant: best?.variant ?? null,
      bestFp32Ms: best?.timing.stats.median ?? null,
      fp32Text: duration(base?.timing.stats.median),
      bestFp32Text: duration(best?.timing.stats.median),
      rows,
      recommended: emulated ? null : (pick?.variant ?? null),
      why,
    });
  }

  const schemes = [...new Set(layers.flatMap((l) => l.rows.filter((r) => !r.peer).map((r) => r.scheme)))];
  const verdicts: SchemeVerdict[] = schemes.map((scheme) => {
    const perLayer = layers
      .map((l) => {
        const ok = l.rows.filter((r) => r.scheme === scheme && r.kernelOk && !r.peer);
        // The scheme's fastest kernel on the layer (im2col, Winograd, depthwise ...), speed known or not.
        return ok.reduce<QuantRow | undefined>((b, r) => (!b || r.ms < b.ms ? r : b), undefined);
      })
      .filter((r): r is QuantRow => r !== undefined);
    const description = layers.flatMap((l) => l.rows).find((r) => r.scheme === scheme)?.description ?? '';
    const meets = perLayer.filter((r) => r.meets).length;
    const speedups = perLayer.map((r) => r.speedup).filter((s): s is number => s !== null && s > 0);
    const g = speedups.length === perLayer.length ? geomean(speedups) : null;
    const best = perLayer.map((r) => r.speedupBest).filter((s): s is number => s !== null && s > 0);
    const gb = best.length === perLayer.length ? geomean(best) : null;
    const minSqnrDb = Math.min(...perLayer.map((r) => r.sqnrDb));
    const failed = layers.flatMap((l) => l.rows).filter((r) => r.scheme === scheme && !r.kernelOk && !r.peer).length;
    const noisy = perLayer.filter((r) => r.noisy).length;
    const speed = emulated
      ? 'speed not measured (emulated device)'
      : g === null
        ? 'speed not compared (no fp32 im2col on every layer)'
        : `${sig(g, 3)}× ${g >= 1 ? 'faster' : 'slower'} than fp32 im2col${gb === null ? '' : ` (${sig(gb, 3)}× the best fp32)`}` +
          (noisy ? ` (indicative: noisy timings on ${noisy} of ${perLayer.length} layer${perLayer.length === 1 ? '' : 's'})` : '');
    const text =
      perLayer.length === 0
        ? `${scheme}: no kernel passed its kernel check (${failed} failed)`
        : `${scheme}: ${speed}, ${fixed(minSqnrDb, 1)} dB (lowest), meets ${budgetText} on ${meets} of ${perLayer.length} layer${perLayer.length === 1 ? '' : 's'}` +
          (failed ? `; ${failed} kernel check failure${failed === 1 ? '' : 's'}` : '');
    return {
      scheme,
      description,
      layers: perLayer.length,
      meets,
      geomeanSpeedup: emulated ? null : g,
      geomeanSpeedupBest: emulated ? null : gb,
      minSqnrDb,
      text,
    };
  });

  const measured = run.ceilings.measured;
  const theo = run.ceilings.theoretical;
  return {
    budgetText,
    budgetGiven,
    emulated,
    baselineVariant: SPEED_BASELINE_VARIANT,
    layers,
    verdicts,
    notRun,
    accuracyOnly,
    int8PeakGops: measured?.int8PeakGops ?? null,
    fp32PeakGflops: measured?.peakGflops ?? null,
    theoreticalPeaks: theo ? Object.entries(theo.peakGflops).map(([dtype, peak]) => ({ dtype, peak })) : [],
    missingPeaks: Object.entries(theo?.noPeak ?? {}).map(([dtype, why]) => ({ dtype, why })),
  };
}
