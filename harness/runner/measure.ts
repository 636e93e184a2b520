/**
 * Runs on the device: one case, all its variants, as four policies, each in its own module:
 * 1. prepare and check (check.ts): the case's tensors and float64 reference from its suite's kit
 *    (suites/<op>/kit.ts), then each variant prepared (outside the timed region), run once and checked;
 * 2. warm-up and calibration (calibrate.ts): runs per sample, so a sample lasts well above timer resolution;
 * 3. interleaved sampling (sampling.ts): variants take turns in rounds so drift hits all alike;
 * 4. summarise (summarise.ts): raw samples, statistics, roofline and accuracy into the stored result.
 * Every failure becomes a result; nothing here stops the other variants.
 */
import { baseVariantName, erroredResult, type CaseResult, type CaseSpec, type ConvVariant, type Cost, type RuntimeFeatures } from '../../core/contracts.js';
import { RELAXED_UNAVAILABLE } from '../../kernels/index.js';
import type { CaseTensors, KitMeasureEnv } from '../../suites/kit.js';
import { requireKit } from '../../suites/kits.js';
import { costOf, errMsg, prepareAndCheck, type Active } from './check.js';
import { timerResolutionMs, warmUpAndCalibrate } from './calibrate.js';
import { sampleInterleaved } from './sampling.js';
import { accuracyOnlyResult, summarise } from './summarise.js';
import type { ExternalKernels } from './external.js';
import { atThreads, bitIdentityError, threadFields, type RunThreads } from './threaded-variants.js';
import { checksumF32 } from '../../reference/checksum.js';
import { peerOf } from '../../suites/conv/peers/run.js';

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
  /** `--threads`: every variant at each count (threaded-variants.ts); absent: one thread. */
  threads?: RunThreads;
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
    const threads = threadFields(baseVariantName(v.name).threads, env.threads?.cores ?? Infinity);
    return { caseId: c.id, variant: v.name, algorithm: v.algorithm, dtype: v.dtype, ...threads, cost, ...(info ? { info } : {}) };
  };

  // 1. Prepare and check, at each thread count (--threads), the counts' variants side by side in the same rounds.
  const active: Active[] = [];
  for (const [threads, name] of (env.threads?.counts ?? [1]).flatMap((t) => variantNames.map((n) => [t, n] as const))) {
    if (threads > 1) {
      const one = env.resolveVariant(c.suite, name);
      const at = one && !env.external?.has(name) ? atThreads(one, threads, env.threads?.pools.get(threads), env.faults) : undefined;
      if (at === undefined || 'skip' in at) {
        const reason = at?.skip ?? `not run on ${threads} threads: ${one ? 'a native kernel of the kernels file runs on one thread' : 'not in this payload'}`;
        const id = { name: at?.name ?? `${name}@t${threads}`, algorithm: one?.algorithm ?? 'unknown', dtype: one?.dtype ?? 'unknown' };
        results.push({ ...base(id, one ? costOf(one, c) : { flops: 0, bytes: 0, intensity: 0 }), state: 'skipped', reason });
        continue;
      }
      const skip = skipReason(at, c, env.features);
      if (skip !== null) {
        results.push({ ...base(at, costOf(at, c)), state: 'skipped', reason: skip });
        continue;
      }
      const checked = await prepareAndCheck(at, c, tensors, env);
      // The WebAssembly variants' split must not change a bit; a native engine's or a peer library's own pool may (its reduction order is its own).
      const identical = checked.ok && !one!.nativeCode && !peerOf(one!) ? await sameAsOneThread(checked.active, one!, c, tensors, env, active) : null;
      if (checked.ok && identical === null) active.push(checked.active);
      else if (checked.ok) {
        checked.active.prepared.dispose();
        results.push(erroredResult(base(at, costOf(at, c)), 'check', identical!));
      } else results.push(erroredResult(base(at, costOf(at, c)), checked.phase, checked.error));
      continue;
    }
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
  // Keep the plan's variant order, one thread count after the other.
  const order = new Map(variantNames.map((n, i) => [n, i]));
  const rank = (r: CaseResult) => {
    const { base: b, threads } = baseVariantName(r.variant);
    return threads * variantNames.length + (order.get(b) ?? 0);
  };
  return results.sort((p, q) => rank(p) - rank(q));
}

/**
 * Null when the threaded output is bit-identical to the same variant's on one thread, else the error. The
 * one-thread hash is the one this case already checked (count 1 in the same run), or a one-thread run made
 * now (prepared, run once, hashed, freed; untimed).
 */
async function sameAsOneThread(
  threaded: Active,
  one: ConvVariant,
  c: CaseSpec,
  t: CaseTensors,
  env: MeasureEnv,
  active: readonly Active[],
): Promise<string | null> {
  const { threads } = baseVariantName(threaded.v.name);
  let hash = active.find((a) => a.v.name === one.name)?.checksum;
  if (hash === undefined) {
    try {
      hash = await oneThreadHash(one, c, t, env);
    } catch (e) {
      return `the one-thread output of ${one.name}, to compare the ${threads}-thread output with, could not be computed: ${errMsg(e)}`;
    }
  }
  return bitIdentityError(one.name, threads, threaded.checksum, hash);
}

async function oneThreadHash(one: ConvVariant, c: CaseSpec, t: CaseTensors, env: MeasureEnv): Promise<string> {
  {
    const p = one.prepareAsync
      ? await one.prepareAsync(env.ctx, c.shape, t.x, t.w, { seed: c.seed, distribution: c.distribution })
      : one.prepare(env.ctx, c.shape, t.x, t.w, { seed: c.seed, distribution: c.distribution });
    try {
      if (p.runAsync) await p.runAsync();
      else p.run();
      return checksumF32(p.output());
    } finally {
      p.dispose();
    }
  }
}

/** Why a variant is skipped on this runtime or case (the runtime lacks what it needs, or it does not apply), or null. */
export function skipReason(v: ConvVariant, c: CaseSpec, features: RuntimeFeatures): string | null {
  if (v.needs.wasmSimd && !features.wasmSimd) return 'no WebAssembly SIMD on this runtime';
  if (v.needs.wasmRelaxedSimd && !features.wasmRelaxedSimd) return RELAXED_UNAVAILABLE;
  const applies = v.applies(c.shape, c);
  return applies === true ? null : applies;
}
