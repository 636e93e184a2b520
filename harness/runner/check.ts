/**
 * Prepare and check, the first policy of measuring a case (harness/runner/measure.ts): each variant
 * prepared outside the timed region, run once, and its output checked against the float64 reference
 * with the tolerance the variant declares. Runs on the device.
 */
import { hrtimeNow } from 'tinybench';
import {
  encodeFloat,
  type Accuracy,
  type AccuracyCheck,
  type CaseSpec,
  type ConvVariant,
  type Cost,
  type ErrorPhase,
  type KernelContext,
  type Prepared,
  type TestFaults,
} from '../../core/contracts.js';
import { checksumF32 } from '../../reference/checksum.js';
import { errorMetrics, type ErrorMetrics } from '../../reference/metrics.js';
import { schemeLoss, type SchemeLoss } from '../../reference/scheme-loss.js';
import { approximateToleranceCheck, exactToleranceCheck, probabilisticToleranceCheck } from '../../reference/tolerance.js';
import type { CaseTensors } from '../../suites/kit.js';
import { faultyWeights } from './faults.js';

/** One execution outside the timed loop (prepare check, warm-up). */
export async function runOne(p: Prepared): Promise<void> {
  if (p.runAsync) await p.runAsync();
  else p.run();
}

/** Test-only: the variant's run() followed by a spin of (factor - 1) times its duration. */
export function slowed(p: Prepared, factor: number): Prepared {
  return {
    ...p,
    run() {
      const t0 = hrtimeNow();
      p.run();
      const until = hrtimeNow() + (hrtimeNow() - t0) * (factor - 1);
      while (hrtimeNow() < until) {
        /* spin */
      }
    },
    runAsync: p.runAsync
      ? async () => {
          const t0 = hrtimeNow();
          await p.runAsync?.();
          const until = hrtimeNow() + (hrtimeNow() - t0) * (factor - 1);
          while (hrtimeNow() < until) {
            /* spin */
          }
        }
      : undefined,
    output: () => p.output(),
    dispose: () => p.dispose(),
  };
}

/** The checks of one output: the primary tolerance (stored as Accuracy.tolerance) and every check applied. */
export interface Checked {
  ok: boolean;
  limit: number;
  metric: 'maxAbs' | 'relL2';
  source: string;
  /** What failed, for the tolerance's source text ('' when all passed). */
  detail: string;
  checks: AccuracyCheck[];
}

const sci = (x: number): string => (Number.isFinite(x) ? x.toExponential(2) : String(x));

/**
 * Exact algorithms: the worst-case bound per element (the stored tolerance) and
 * the two probabilistic checks on the whole output (reference/tolerance.ts).
 * Approximate ones: the declared relative-L2 budget, and a known defect (e.g.
 * transforms that failed their exact verification) fails them outright.
 * Low-precision ones (kind 'scheme'): their own kernel check (`prepared`),
 * against the exact reference of the values the kernel was given; the scheme's
 * loss is reported apart and is not a pass/fail here.
 */
export function accuracyChecks(
  v: Pick<ConvVariant, 'name' | 'accuracy'>,
  y: Float32Array,
  ref: { y: Float64Array; absBound: Float64Array },
  metrics: ErrorMetrics,
  reduction: number,
  prepared?: Pick<Prepared, 'kernelCheck'>,
): Checked {
  const failed = (cs: AccuracyCheck[]) =>
    cs
      .filter((c) => !c.ok)
      .map((c) => `${c.name}: ${c.detail}`)
      .join('; ');
  if (v.accuracy.kind === 'scheme') {
    const checks: AccuracyCheck[] = prepared?.kernelCheck?.() ?? [
      { name: 'kernel check', ok: false, value: 'NaN', limit: 0, detail: `${v.name} declares a low-precision scheme but its prepare gave no kernel check` },
    ];
    const first = checks[0];
    const source = `kernel check (${checks.map((c) => c.name).join(', ')}) against the exact reference of the values the kernel was given`;
    return { ok: checks.length > 0 && checks.every((c) => c.ok), limit: first?.limit ?? 0, metric: 'maxAbs', source, detail: failed(checks), checks };
  }
  if (v.accuracy.kind === 'exact') {
    const t = exactToleranceCheck(y, ref.y, ref.absBound, reduction);
    const p = probabilisticToleranceCheck(y, ref.y, ref.absBound, reduction);
    const conf = `${(p.confidence * 100).toFixed(7)}%`;
    const checks: AccuracyCheck[] = [
      {
        name: 'per-element bound',
        ok: t.ok,
        value: encodeFloat(t.worstRatio),
        limit: 1,
        detail: `worst element ${t.worstIndex} at ${t.worstRatio.toPrecision(3)}x its bound (${t.source})`,
      },
      {
        name: 'error norm',
        ok: p.norm.ok,
        value: encodeFloat(p.norm.value),
        limit: p.norm.limit,
        detail: `relL2 ${sci(p.norm.value)} vs ${sci(p.norm.limit)}, the bound that rounding errors stay within with ${conf} confidence (${p.source})`,
      },
      {
        name: 'systematic error',
        ok: p.bias.ok,
        value: encodeFloat(p.bias.value),
        limit: p.bias.limit,
        detail: `error along the result ${sci(p.beta)} (relative) vs ${sci(p.bias.limit)}: rounding errors have mean zero, so a larger component means a bias (${p.source})`,
      },
    ];
    const ok = checks.every((c) => c.ok);
    return { ok, limit: t.limit, metric: 'maxAbs', source: t.source, detail: failed(checks), checks };
  }
  const t = approximateToleranceCheck(metrics, v.accuracy.maxRelL2);
  const checks: AccuracyCheck[] = [
    { name: 'budget', ok: t.ok, value: encodeFloat(metrics.relL2), limit: t.limit, detail: `relL2 ${sci(metrics.relL2)} vs ${t.source}` },
  ];
  if (v.accuracy.defect !== undefined) {
    checks.push({ name: 'transforms', ok: false, value: 1, limit: 0, detail: v.accuracy.defect });
  }
  return { ok: checks.every((c) => c.ok), limit: t.limit, metric: 'relL2', source: t.source, detail: failed(checks), checks };
}

/** The accuracy part of a timed result: the error metrics, the tolerance and every check applied (`note` ends the tolerance's source). */
export function accuracyRecord(metrics: ErrorMetrics, tolerance: Checked, checksum: string, note = ''): Accuracy {
  return {
    maxAbs: encodeFloat(metrics.maxAbs),
    relL2: encodeFloat(metrics.relL2),
    maxRel: encodeFloat(metrics.maxRel),
    sqnrDb: encodeFloat(metrics.sqnrDb),
    cosine: encodeFloat(metrics.cosine),
    tolerance: {
      metric: tolerance.metric,
      limit: tolerance.limit,
      source: tolerance.source + (tolerance.ok ? '' : ` (exceeded: ${tolerance.detail})`) + note,
    },
    checks: tolerance.checks,
    outputChecksum: checksum,
  };
}

/** A variant that passed prepare and its first run: what the later policies (calibrate, sample, summarise) need. */
export interface Active {
  v: ConvVariant;
  prepared: Prepared;
  prepareMs: number;
  firstRunMs: number;
  metrics: ErrorMetrics;
  tolerance: Checked;
  /** Low-precision variants: the scheme's loss (against float64 on the original floats). */
  loss?: SchemeLoss;
  checksum: string;
  samples: number[];
  /** Runs timed by each sample (repsPerSample, or more when the sample had not yet reached minSampleMs). */
  sampleReps: number[];
  /** Samples taken in each interleaved round. */
  perRound: number[];
  reps: number;
  /** Calibrated time of one run, ms (the fastest batch after warm-up). */
  perRunMs: number;
  warmupMs: number;
}

export const errMsg = (e: unknown): string => {
  if (e instanceof Error) {
    const cause = e.cause instanceof Error ? `: ${e.cause.message}` : '';
    return `${e.message}${cause}`;
  }
  return String(e);
};

export function costOf(v: ConvVariant, c: CaseSpec): Cost {
  const flops = v.flops(c.shape, c);
  const bytes = v.bytes(c.shape, c);
  const cost: Cost = { flops, bytes, intensity: flops / bytes };
  const ex = v.executedFlops?.(c.shape, c);
  if (ex !== undefined) cost.executedFlops = ex;
  return cost;
}

/** What prepareAndCheck needs besides the variant and the case. */
export interface CheckEnv {
  ctx: KernelContext;
  onPhase?: (phase: string, detail?: string) => void;
  /** Test-only: make one variant slower by a factor (spins after each run). */
  slowdown?: { variant: string; factor: number };
  /** Test-only: the plan's faults (harness/runner/faults.ts). */
  faults?: TestFaults;
}

/**
 * Prepare one variant (untimed), run it once and check its output: the variant ready for timing, or where
 * and why it failed (its prepared state disposed).
 */
export async function prepareAndCheck(
  v: ConvVariant,
  c: CaseSpec,
  t: CaseTensors,
  env: CheckEnv,
): Promise<{ ok: true; active: Active } | { ok: false; phase: ErrorPhase; error: string }> {
  let prepared: Prepared | undefined;
  let phase: ErrorPhase = 'prepare';
  try {
    env.onPhase?.('prepare', v.name);
    const t0 = hrtimeNow();
    const wv = faultyWeights(v, t.w, env.faults);
    const data = { seed: c.seed, distribution: c.distribution };
    prepared = v.prepareAsync ? await v.prepareAsync(env.ctx, c.shape, t.x, wv, data) : v.prepare(env.ctx, c.shape, t.x, wv, data);
    if (env.slowdown?.variant === v.name) prepared = slowed(prepared, env.slowdown.factor);
    const prepareMs = hrtimeNow() - t0;
    phase = 'run';
    const t1 = hrtimeNow();
    await runOne(prepared);
    const firstRunMs = hrtimeNow() - t1;
    phase = 'check';
    const y = prepared.output();
    const metrics = errorMetrics(y, t.ref.y);
    const checksum = checksumF32(y);
    const tolerance = accuracyChecks(v, y, t.ref, metrics, t.reduction, prepared);
    const loss = v.accuracy.kind === 'scheme' ? schemeLoss(y, t.ref.y, prepared.outputScale) : undefined;
    return {
      ok: true,
      active: {
        v,
        prepared,
        prepareMs,
        firstRunMs,
        metrics,
        tolerance,
        ...(loss ? { loss } : {}),
        checksum,
        samples: [],
        sampleReps: [],
        perRound: [],
        reps: 1,
        perRunMs: firstRunMs,
        warmupMs: firstRunMs,
      },
    };
  } catch (e) {
    try {
      prepared?.dispose();
    } catch {
      /* the original error matters more */
    }
    return { ok: false, phase, error: errMsg(e) };
  }
}
