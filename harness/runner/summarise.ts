/**
 * Summarise, the last policy of measuring a case (harness/runner/measure.ts): a sampled variant's raw samples,
 * statistics, performance against the measured roofline and accuracy, as the stored result. Runs on the device.
 */
import { encodeFloat, type Accuracy, type CaseResult, type Cost, type MeasuredCeilings, type ResultIdentity, type RunOptions } from '../../core/contracts.js';
import { computePerf } from '../../core/roofline.js';
import { computeStatistics, isNoisy } from '../../core/stats.js';
import { checksumF32 } from '../../reference/checksum.js';
import { describeScheme, schemeLabel } from '../../reference/quant-scheme.js';
import { accuracyRecord, type Active } from './check.js';

/**
 * The result of a variant that was sampled: passed, or inaccurate when a check failed or the timed runs
 * changed its output (a kernel that accumulates into its output). Throws if the statistics cannot be computed.
 */
export function summarise(
  a: Active,
  id: ResultIdentity & { cost: Cost },
  options: Pick<RunOptions, 'cvTarget'>,
  ceilings: MeasuredCeilings | null,
  timerResolutionMs: number,
): CaseResult {
  const resolution = timerResolutionMs;
  const cost = id.cost;
  // The timed runs must leave the same output as the checked run (catches kernels that accumulate into their output).
  const after = checksumF32(a.prepared.output());
  const stable = after === a.checksum;
  const stats = computeStatistics(a.samples, 0.99);
  const ok = a.tolerance.ok && stable;
  return {
    ...id,
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
    perf: computePerf(cost, stats.median, ceilings, null, a.v.dtype),
    accuracy: {
      ...accuracyRecord(a.metrics, a.tolerance, a.checksum, stable ? '' : '; output changed between the checked run and the timed runs'),
      ...schemeLossRecord(a),
    },
    prepare: { ms: a.prepareMs, bytes: a.prepared.preparedBytes, note: a.prepared.prepareNote },
  };
}

/** A low-precision variant's scheme loss (and non-portability) as stored in its result's accuracy. */
function schemeLossRecord(a: Active): Pick<Accuracy, 'schemeLoss' | 'nonPortable'> {
  return {
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
  };
}

/**
 * The result of an accuracy-only variant (ConvVariant.accuracyOnly): checked once, never timed: `skipped`
 * with the variant's reason, its accuracy and scheme loss attached (a failed check says so in the reason).
 */
export function accuracyOnlyResult(a: Active, id: ResultIdentity & { cost: Cost }): CaseResult {
  const accuracy: Accuracy = { ...accuracyRecord(a.metrics, a.tolerance, a.checksum), ...schemeLossRecord(a) };
  const failed = a.tolerance.ok ? '' : `; its check FAILED: ${a.tolerance.detail}`;
  return { ...id, state: 'skipped', reason: `${a.v.accuracyOnly ?? 'accuracy only'}${failed}`, accuracy };
}
