/**
 * Runs on the device: one case, all its variants. Inputs from the seeded PRNG,
 * the float64 reference, prepare (outside the timed region), a checked warm-up
 * run, then interleaved timing rounds with tinybench. Every failure becomes a
 * result; nothing here stops the other variants.
 */
import { Bench, hrtimeNow } from 'tinybench';
import { encodeFloat, erroredResult, type ErrorPhase } from '../../core/contracts.js';
import type {
  Accuracy,
  AccuracyCheck,
  CaseResult,
  CaseSpec,
  ConvVariant,
  Cost,
  KernelContext,
  MeasuredCeilings,
  Prepared,
  RunOptions,
  RuntimeFeatures,
  TestFaults,
} from '../../core/contracts.js';
import { conv2dRef } from '../../reference/conv.js';
import { errorMetrics, type ErrorMetrics } from '../../reference/metrics.js';
import { approximateToleranceCheck, exactToleranceCheck, probabilisticToleranceCheck } from '../../reference/tolerance.js';
import { makeConvInputs } from '../../reference/random.js';
import { pruneConvWeights, pruningLoss, sparsityInfo } from '../../reference/sparse.js';
import { checksumF32 } from '../../reference/checksum.js';
import { schemeLoss, type SchemeLoss } from '../../reference/scheme-loss.js';
import { describeScheme, schemeLabel } from '../../reference/quant-scheme.js';
import { RELAXED_UNAVAILABLE } from '../../kernels/index.js';
import { computeStatistics, isNoisy } from '../../core/stats.js';
import { computePerf } from '../../core/roofline.js';
import { faultyWeights } from './faults.js';
import type { ExternalKernels } from './external.js';

export interface MeasureEnv {
  ctx: KernelContext;
  features: RuntimeFeatures;
  options: RunOptions;
  ceilings: MeasuredCeilings | null;
  /** Called for progress inside a long case (reference, prepare, timing). */
  onPhase?: (phase: string, detail?: string) => void;
  /** Test-only fault injection, from the plan (never set by the CLI). */
  resolveVariant: (suite: string, name: string) => ConvVariant | undefined;
  /** Test-only: make one variant slower by a factor (spins after each run). */
  slowdown?: { variant: string; factor: number };
  /** Test-only: the plan's faults; the accuracy faults change what a variant is given (harness/runner/faults.ts). */
  faults?: TestFaults;
  /** The run's native kernels (--kernels): run once per case on the same inputs, checked against the same reference. */
  external?: ExternalKernels;
}

/** One execution outside the timed loop (prepare check, warm-up). */
async function runOne(p: Prepared): Promise<void> {
  if (p.runAsync) await p.runAsync();
  else p.run();
}

/** Test-only: the variant's run() followed by a spin of (factor - 1) times its duration. */
function slowed(p: Prepared, factor: number): Prepared {
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
  const failed = (cs: AccuracyCheck[]) => cs.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`).join('; ');
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

interface Active {
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

/** Margin of the calibration: reps are chosen so that the fastest calibrated batch lasts this much over the minimum. */
export const CALIBRATION_MARGIN = 1.2;

/** Time `reps` runs, ms. */
async function batch(p: Prepared, reps: number): Promise<number> {
  const t0 = hrtimeNow();
  if (p.runAsync) for (let i = 0; i < reps; i++) await p.runAsync();
  else for (let i = 0; i < reps; i++) p.run();
  return hrtimeNow() - t0;
}

/**
 * Repetitions per sample, calibrated on the warm code (never from the cold
 * first runs, which are slower and would give too few repetitions): grow a
 * batch until it lasts CALIBRATION_MARGIN x minSampleMs, time it twice more,
 * and size the samples from the fastest of the three. `warmRunMs` is the
 * fastest warm-up run; a kernel that alone lasts long enough needs 1.
 */
export async function calibrate(p: Prepared, warmRunMs: number, minSampleMs: number): Promise<{ reps: number; perRunMs: number }> {
  const goal = CALIBRATION_MARGIN * minSampleMs;
  if (warmRunMs >= goal) return { reps: 1, perRunMs: warmRunMs };
  let reps = Math.max(1, Math.ceil(goal / Math.max(warmRunMs, 1e-6)));
  let ms = await batch(p, reps);
  for (let grow = 0; ms < goal && grow < 20; grow++) {
    reps = Math.ceil(reps * Math.min(1000, Math.max(2, goal / Math.max(ms, 1e-6))));
    ms = await batch(p, reps);
  }
  let perRun = ms / reps;
  for (let i = 0; i < 2; i++) perRun = Math.min(perRun, (await batch(p, reps)) / reps);
  return { reps: Math.max(1, Math.ceil(goal / Math.max(perRun, 1e-9))), perRunMs: perRun };
}

const errMsg = (e: unknown): string => {
  if (e instanceof Error) {
    const cause = e.cause instanceof Error ? `: ${e.cause.message}` : '';
    return `${e.message}${cause}`;
  }
  return String(e);
};

function costOf(v: ConvVariant, c: CaseSpec): Cost {
  const flops = v.flops(c.shape, c);
  const bytes = v.bytes(c.shape, c);
  const cost: Cost = { flops, bytes, intensity: flops / bytes };
  const ex = v.executedFlops?.(c.shape, c);
  if (ex !== undefined) cost.executedFlops = ex;
  return cost;
}

/** Timer resolution of hrtimeNow, measured: the smallest non-zero step seen. */
export function timerResolutionMs(): number {
  let best = Infinity;
  for (let i = 0; i < 50; i++) {
    const t0 = hrtimeNow();
    let t1 = hrtimeNow();
    while (t1 === t0) t1 = hrtimeNow();
    best = Math.min(best, t1 - t0);
  }
  return best;
}

export async function measureCase(c: CaseSpec, variantNames: string[], env: MeasureEnv): Promise<CaseResult[]> {
  const { options } = env;
  const results: CaseResult[] = [];
  // Facts of the case every result carries (a sparse case: its pruning and what it cost the layer).
  let caseInfo: Record<string, number | string> | undefined;
  const base = (v: { name: string; algorithm: string; dtype: string; info?: ConvVariant['info'] }, cost: Cost) => {
    let info: Record<string, number | string> | undefined;
    try {
      info = v.info?.(c.shape, c);
    } catch {
      info = undefined;
    }
    if (caseInfo) info = { ...caseInfo, ...info };
    return { caseId: c.id, variant: v.name, algorithm: v.algorithm, dtype: v.dtype, cost, ...(info ? { info } : {}) };
  };

  env.onPhase?.('inputs', c.id);
  const inputs = makeConvInputs(c.shape, c.seed, c.distribution);
  const { x } = inputs;
  // A sparse case: the pruned weights are the case's weights, for the reference and every variant alike.
  const pruned = c.sparsity ? pruneConvWeights(c.shape, inputs.w, c.sparsity) : undefined;
  const w = pruned?.weights ?? inputs.w;
  env.onPhase?.('reference', c.id);
  const ref = conv2dRef(c.shape, x, w);
  if (pruned) {
    // For information only: the unpruned layer's output, to say what pruning cost it.
    const unpruned = conv2dRef(c.shape, x, inputs.w).y;
    caseInfo = sparsityInfo(pruned, pruningLoss(inputs.w, w), { unpruned, pruned: ref.y });
  }
  const reduction = (c.shape.c / c.shape.groups) * c.shape.r * c.shape.s;

  const active: Active[] = [];
  for (const name of variantNames) {
    if (env.external?.has(name)) {
      env.onPhase?.('native', name);
      results.push(await env.external.measure(c, name, { x, w, ref, reduction }, options, env.ceilings));
      continue;
    }
    const v = env.resolveVariant(c.suite, name);
    if (!v) {
      results.push(
        erroredResult(
          { caseId: c.id, variant: name, algorithm: 'unknown', dtype: 'unknown' },
          'resolve',
          `variant ${name} is not in this payload's ${c.suite} suite (payload and host out of sync: rebuild with npm run build)`,
        ),
      );
      continue;
    }
    const cost = costOf(v, c);
    if (v.needs.wasmSimd && !env.features.wasmSimd) {
      results.push({ ...base(v, cost), state: 'skipped', reason: 'no WebAssembly SIMD on this runtime' });
      continue;
    }
    if (v.needs.wasmRelaxedSimd && !env.features.wasmRelaxedSimd) {
      results.push({ ...base(v, cost), state: 'skipped', reason: RELAXED_UNAVAILABLE });
      continue;
    }
    const applies = v.applies(c.shape, c);
    if (applies !== true) {
      results.push({ ...base(v, cost), state: 'skipped', reason: applies });
      continue;
    }
    let prepared: Prepared | undefined;
    let phase: ErrorPhase = 'prepare';
    try {
      env.onPhase?.('prepare', v.name);
      const t0 = hrtimeNow();
      const wv = faultyWeights(v, w, env.faults);
      const data = { seed: c.seed, distribution: c.distribution };
      prepared = v.prepareAsync ? await v.prepareAsync(env.ctx, c.shape, x, wv, data) : v.prepare(env.ctx, c.shape, x, wv, data);
      if (env.slowdown?.variant === v.name) prepared = slowed(prepared, env.slowdown.factor);
      const prepareMs = hrtimeNow() - t0;
      phase = 'run';
      const t1 = hrtimeNow();
      await runOne(prepared);
      const firstRunMs = hrtimeNow() - t1;
      phase = 'check';
      const y = prepared.output();
      const metrics = errorMetrics(y, ref.y);
      const checksum = checksumF32(y);
      const tolerance = accuracyChecks(v, y, ref, metrics, reduction, prepared);
      const loss = v.accuracy.kind === 'scheme' ? schemeLoss(y, ref.y, prepared.outputScale) : undefined;
      active.push({
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
      });
    } catch (e) {
      try {
        prepared?.dispose();
      } catch {
        /* the original error matters more */
      }
      results.push(erroredResult(base(v, cost), phase, errMsg(e)));
    }
  }

  const failed = new Set<Active>();
  // Warm-up, then calibration on the warm code: every sample must last at least minSampleMs, far above timer resolution.
  for (const a of active) {
    try {
      env.onPhase?.('warmup', a.v.name);
      const t0 = hrtimeNow();
      await runOne(a.prepared);
      let one = hrtimeNow() - t0;
      // One more warm run for fast kernels (JIT tiers up, caches warm).
      if (one < 50) {
        const t1 = hrtimeNow();
        await runOne(a.prepared);
        one = Math.min(one, hrtimeNow() - t1);
      }
      env.onPhase?.('calibrate', a.v.name);
      const cal = await calibrate(a.prepared, one, options.minSampleMs);
      a.reps = cal.reps;
      a.perRunMs = cal.perRunMs;
      a.warmupMs = a.firstRunMs + (hrtimeNow() - t0);
    } catch (e) {
      results.push(erroredResult(base(a.v, costOf(a.v, c)), 'warmup', errMsg(e)));
      failed.add(a);
    }
  }
  const timed = active.filter((a) => !failed.has(a));

  // Interleaved rounds: variants of one case take turns (rotated order) so drift hits all alike.
  const wanted = new Map<Active, number>();
  for (const a of timed) {
    const perSampleMs = Math.max(options.minSampleMs, a.reps * a.perRunMs);
    const n = Math.round(options.targetMs / perSampleMs);
    wanted.set(a, Math.min(options.maxSamples, Math.max(options.minSamples, n)));
  }
  for (let round = 0; round < options.rounds; round++) {
    const shift = timed.length ? round % timed.length : 0;
    const order = timed.slice(shift).concat(timed.slice(0, shift));
    env.onPhase?.('timing', `round ${round + 1}/${options.rounds}`);
    for (const a of order) {
      if (failed.has(a)) continue;
      const k = Math.ceil(((wanted.get(a) ?? 0) - a.samples.length) / (options.rounds - round));
      const before = a.samples.length;
      if (k <= 0) {
        a.perRound.push(0);
        continue;
      }
      // tinybench drives the sampling loop; each sample times `reps` runs (more if they ended before
      // minSampleMs: a sample never lasts less) and is kept raw (ms per run).
      const bench = new Bench({ now: hrtimeNow, time: 0, warmup: false, throws: false, iterations: k });
      const p = a.prepared;
      const min = options.minSampleMs;
      const record = (d: number, runs: number) => {
        a.samples.push(d / runs);
        a.sampleReps.push(runs);
      };
      let task;
      if (p.runAsync) {
        const runAsync = p.runAsync.bind(p);
        bench.add(a.v.name, async () => {
          const t0 = hrtimeNow();
          let runs = 0;
          for (; runs < a.reps; runs++) await runAsync();
          while (hrtimeNow() - t0 < min) {
            await runAsync();
            runs++;
          }
          const d = hrtimeNow() - t0;
          record(d, runs);
          return { overriddenDuration: d };
        });
        [task] = await bench.run();
      } else {
        bench.add(a.v.name, () => {
          const t0 = hrtimeNow();
          let runs = 0;
          for (; runs < a.reps; runs++) p.run();
          while (hrtimeNow() - t0 < min) {
            p.run();
            runs++;
          }
          const d = hrtimeNow() - t0;
          record(d, runs);
          return { overriddenDuration: d };
        });
        [task] = bench.runSync();
      }
      a.perRound.push(a.samples.length - before);
      const err = task?.result?.error;
      if (err) {
        failed.add(a);
        results.push(erroredResult(base(a.v, costOf(a.v, c)), 'timing', errMsg(err)));
      }
    }
  }

  const resolution = timerResolutionMs();
  for (const a of active) {
    if (failed.has(a)) {
      a.prepared.dispose();
      continue;
    }
    const cost = costOf(a.v, c);
    try {
      // The timed runs must leave the same output as the checked run (catches kernels that accumulate into their output).
      const after = checksumF32(a.prepared.output());
      const stable = after === a.checksum;
      const stats = computeStatistics(a.samples, 0.99);
      const ok = a.tolerance.ok && stable;
      results.push({
        ...base(a.v, cost),
        state: ok ? 'passed' : 'inaccurate',
        timing: {
          samples: a.samples,
          repsPerSample: a.reps,
          ...(a.sampleReps.some((n) => n !== a.reps) ? { sampleReps: a.sampleReps } : {}),
          samplesPerRound: a.perRound,
          sampleDurationMs: stats.median * a.reps,
          timerResolutionMs: resolution,
          warmupMs: a.warmupMs,
          stats,
          noisy: isNoisy(stats, options.cvTarget),
        },
        perf: computePerf(cost, stats.median, env.ceilings, null, a.v.dtype),
        accuracy: {
          ...accuracyRecord(a.metrics, a.tolerance, a.checksum, stable ? '' : '; output changed between the checked run and the timed runs'),
          ...(a.loss && a.v.accuracy.kind === 'scheme'
            ? {
                schemeLoss: {
                  scheme: schemeLabel(a.v.accuracy.scheme),
                  description: describeScheme(a.v.accuracy.scheme),
                  sqnrDb: encodeFloat(a.loss.sqnrDb),
                  relL2: encodeFloat(a.loss.relL2),
                  cosine: encodeFloat(a.loss.cosine),
                  maxAbs: encodeFloat(a.loss.maxAbs),
                  meanError: encodeFloat(a.loss.meanError),
                  sdError: encodeFloat(a.loss.sdError),
                  rmse: encodeFloat(a.loss.rmse),
                  scale: encodeFloat(a.loss.scale),
                  rmseOverScale: encodeFloat(a.loss.rmseOverScale),
                  flagged: a.loss.flagged,
                },
              }
            : {}),
          ...(a.prepared.nonPortable !== undefined ? { nonPortable: a.prepared.nonPortable } : {}),
        },
        prepare: { ms: a.prepareMs, bytes: a.prepared.preparedBytes, note: a.prepared.prepareNote },
      });
    } catch (e) {
      results.push(erroredResult(base(a.v, cost), 'stats', errMsg(e)));
    } finally {
      a.prepared.dispose();
    }
  }
  // Keep the plan's variant order.
  const order = new Map(variantNames.map((n, i) => [n, i]));
  return results.sort((p, q) => (order.get(p.variant) ?? 0) - (order.get(q.variant) ?? 0));
}
