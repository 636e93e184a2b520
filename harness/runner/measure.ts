/**
 * Runs on the device: one case, all its variants, as four policies, each in its own module:
 * 1. prepare and check (check.ts): the case's tensors and float64 reference from its suite's kit
 *    (suites/<op>/kit.ts), then each variant prepared (outside the timed region), run once and checked;
 * 2. warm-up and calibration (calibrate.ts): runs per sample, so a sample lasts well above timer resolution;
 * 3. interleaved sampling (sampling.ts): variants take turns in rounds so drift hits all alike;
 * 4. summarise (summarise.ts): raw samples, statistics, roofline and accuracy into the stored result.
 * Every failure becomes a result; nothing here stops the other variants.
 */
import { erroredResult, type CaseResult, type CaseSpec, type ConvVariant, type Cost, type RuntimeFeatures } from '../../core/contracts.js';
import { RELAXED_UNAVAILABLE } from '../../kernels/index.js';
import type { CaseTensors, KitMeasureEnv } from '../../suites/kit.js';
import { requireKit } from '../../suites/kits.js';
import { costOf, errMsg, prepareAndCheck, type Active } from './check.js';
import { timerResolutionMs, warmUpAndCalibrate } from './calibrate.js';
import { sampleInterleaved } from './sampling.js';
import { accuracyOnlyResult, summarise } from './summarise.js';
import type { ExternalKernels } from './external.js';

export { accuracyChecks, accuracyRecord, type Checked } from './check.js';
export { calibrate, CALIBRATION_MARGIN, timerResolutionMs } from './calibrate.js';

/** What the runner hands the per-operator path: a kit's environment (suites/kit.ts), with conv variants and test hooks. */
export interface MeasureEnv extends Omit<KitMeasureEnv, 'resolveVariant' | 'weights'> {
  resolveVariant: (suite: string, name: string) => ConvVariant | undefined;
  /** Test-only: make one variant slower by a factor (spins after each run). */
  slowdown?: { variant: string; factor: number };
  /** The case's tensors and reference; by default its suite's kit makes them (suites/kits.ts). */
  caseTensors?: (c: CaseSpec, onPhase?: (phase: string, detail?: string) => void) => CaseTensors;
  /** The run's native kernels (--kernels): run once per case on the same inputs, checked against the same reference. */
  external?: ExternalKernels;
}

export async function measureCase(c: CaseSpec, variantNames: string[], env: MeasureEnv): Promise<CaseResult[]> {
  const { options } = env;
  const results: CaseResult[] = [];
  const tensors = (env.caseTensors ?? requireKit(c.suite).caseTensors)(c, env.onPhase);
  const base = (v: { name: string; algorithm: string; dtype: string; info?: ConvVariant['info'] }, cost: Cost) => {
    let info: Record<string, number | string> | undefined;
    try {
      info = v.info?.(c.shape, c);
    } catch {
      info = undefined;
    }
    if (tensors.info) info = { ...tensors.info, ...info };
    return { caseId: c.id, variant: v.name, algorithm: v.algorithm, dtype: v.dtype, cost, ...(info ? { info } : {}) };
  };

  // 1. Prepare and check.
  const active: Active[] = [];
  for (const name of variantNames) {
    if (env.external?.has(name)) {
      env.onPhase?.('native', name);
      results.push(await env.external.measure(c, name, { x: tensors.x, w: tensors.w, ref: tensors.ref, reduction: tensors.reduction }, options, env.ceilings));
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
    const skip = skipReason(v, c, env.features);
    if (skip !== null) {
      results.push({ ...base(v, cost), state: 'skipped', reason: skip });
      continue;
    }
    const checked = await prepareAndCheck(v, c, tensors, env);
    if (checked.ok && v.accuracyOnly !== undefined) {
      // Checked once, never timed (an emulation): its time would measure nothing.
      results.push(accuracyOnlyResult(checked.active, base(v, cost)));
      checked.active.prepared.dispose();
    } else if (checked.ok) active.push(checked.active);
    else results.push(erroredResult(base(v, cost), checked.phase, checked.error));
  }

  // 2. Warm-up, then calibration on the warm code: every sample must last at least minSampleMs, far above timer resolution.
  const failed = new Set<Active>();
  for (const a of active) {
    try {
      await warmUpAndCalibrate(a, options.minSampleMs, env.onPhase);
    } catch (e) {
      results.push(erroredResult(base(a.v, costOf(a.v, c)), 'warmup', errMsg(e)));
      failed.add(a);
    }
  }

  // 3. Interleaved rounds.
  const timed = active.filter((a) => !failed.has(a));
  await sampleInterleaved(timed, options, failed, (a, err) => results.push(erroredResult(base(a.v, costOf(a.v, c)), 'timing', errMsg(err))), env.onPhase);

  // 4. Summarise.
  const resolution = timerResolutionMs();
  for (const a of active) {
    if (failed.has(a)) {
      a.prepared.dispose();
      continue;
    }
    const cost = costOf(a.v, c);
    try {
      results.push(summarise(a, base(a.v, cost), options, env.ceilings, resolution));
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

/** Why a variant is skipped on this runtime or case (the runtime lacks what it needs, or it does not apply), or null. */
export function skipReason(v: ConvVariant, c: CaseSpec, features: RuntimeFeatures): string | null {
  if (v.needs.wasmSimd && !features.wasmSimd) return 'no WebAssembly SIMD on this runtime';
  if (v.needs.wasmRelaxedSimd && !features.wasmRelaxedSimd) return RELAXED_UNAVAILABLE;
  const applies = v.applies(c.shape, c);
  return applies === true ? null : applies;
}
