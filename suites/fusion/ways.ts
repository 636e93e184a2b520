/**
 * Runs on the device: the ways of computing one graph case (fused / unfused, layer by layer / tiled, ONNX Runtime
 * at two optimisation levels), shared by the fusion and tiling kits (suites/fusion/kit.ts, suites/tiling/kit.ts).
 * For each way: prepare it (outside the timed region), run it once and check its output against the float64
 * evaluation of the case's graph element by element, within the allowance the kit computes (reference/
 * layer-tolerance.ts), and, where the kit says two ways perform the same operations in the same order, bit for bit
 * against its baseline way; then every way is warmed up and timed in interleaved rounds (the order rotated each
 * round, harness/runner/sampling.ts), one sample per run, raw samples kept. After the rounds each output is checked
 * once more (a kernel that accumulates into its output fails). Every failure is a result; nothing throws for one way.
 * Payload-safe.
 */
import { hrtimeNow } from 'tinybench';
import {
  encodeFloat,
  erroredResult,
  type AccuracyCheck,
  type CaseResult,
  type CaseSpec,
  type Cost,
  type ErrorPhase,
  type GraphVariant,
} from '../../core/contracts.js';
import { computePerf } from '../../core/roofline.js';
import { errMsg } from '../../harness/runner/check.js';
import { timerResolutionMs } from '../../harness/runner/calibrate.js';
import { checksumF32 } from '../../reference/checksum.js';
import { allowanceCheck } from '../../reference/layer-tolerance.js';
import type { KitMeasureEnv } from '../kit.js';
import { accuracyOf, disposeAll, finishAll, inPlanOrder, networkTiming, notRunnable, sampleRounds, warmUp, type Contender } from '../models/measure.js';

/** One way, prepared: its timed run, its output after a run, its cost and facts. */
export interface PreparedWay {
  run(): void | Promise<void>;
  /** The output (the graph's), valid after run(). */
  output(): Float32Array;
  cost: Cost;
  info?: Record<string, number | string>;
  prepareMs: number;
  prepareBytes: number;
  note: string;
  /** Native code: its output may differ between CPUs (left out of the portability check). */
  nonPortable?: string;
  dispose?(): void | Promise<void>;
}

export interface WaysSetup {
  /** The float64 output of the graph and each element's allowance. */
  ref: Float64Array;
  allow: Float64Array;
  /** Where the allowance comes from, stated in the result. */
  source: string;
  /** The cost a result that never ran carries (the case's own). */
  cost: Cost;
  /** The case's facts every result carries. */
  info?: Record<string, number | string>;
  /** Prepares a way (throws: the result is errored in prepare). Returns a string: the way is skipped with that reason. */
  prepare(v: GraphVariant): Promise<PreparedWay | string>;
  /** The way whose bits this way must equal (the same operations in the same order), if any. */
  bitIdenticalTo?(v: GraphVariant): string | undefined;
}

/** Measures `variantNames` of case `c` (a kit's GraphKit.measure). */
export async function measureWays(c: CaseSpec, variantNames: string[], env: KitMeasureEnv, setup: WaysSetup): Promise<CaseResult[]> {
  const base = (name: string, v: GraphVariant | undefined, cost: Cost = setup.cost, info?: Record<string, number | string>) => ({
    caseId: c.id,
    variant: name,
    algorithm: v?.algorithm ?? 'unknown',
    dtype: v?.dtype ?? 'unknown',
    cost,
    ...(setup.info || info ? { info: { ...setup.info, ...info } } : {}),
  });
  const results: CaseResult[] = [];
  const resolution = timerResolutionMs();
  let maxAllow = 0;
  for (const a of setup.allow) if (a > maxAllow) maxAllow = a;
  interface Way {
    v: GraphVariant;
    p: PreparedWay;
    checked: Float32Array;
    checks: AccuracyCheck[];
  }
  const contenders: Contender<Way>[] = [];
  const outputs = new Map<string, Float32Array>();
  const mark = env.ctx.kernels.mark();
  try {
    for (const name of variantNames) {
      const found = env.resolveVariant(c.suite, name);
      const not = notRunnable(c, name, found, 'graph', env, setup.cost);
      if (not || found?.op !== 'graph') {
        results.push(not ?? erroredResult(base(name, undefined), 'resolve', 'not a graph variant'));
        continue;
      }
      const v = found;
      let phase: ErrorPhase = 'prepare';
      let p: PreparedWay | string | undefined;
      try {
        env.onPhase?.('prepare', name);
        p = await setup.prepare(v);
        if (typeof p === 'string') {
          results.push({ ...base(name, v), state: 'skipped', reason: p });
          continue;
        }
        phase = 'run';
        await p.run();
        phase = 'check';
        env.onPhase?.('check', `${name}: every output element against float64`);
        const y = Float32Array.from(p.output());
        if (y.length !== setup.ref.length) throw new Error(`the output has ${y.length} elements, the graph's ${setup.ref.length}`);
        const a = allowanceCheck(y, setup.ref, setup.allow);
        const checks: AccuracyCheck[] = [
          {
            name: 'per-element bound',
            ok: a.ok,
            value: encodeFloat(a.worstRatio),
            limit: 1,
            detail: a.ok
              ? `every element within its allowance (worst ${a.worstRatio.toPrecision(3)} of it)`
              : `element ${a.worstIndex} is ${Number.isFinite(a.worstRatio) ? `${a.worstRatio.toPrecision(3)} times its allowance` : 'not finite'} (output ${y[a.worstIndex]}, float64 ${setup.ref[a.worstIndex]})`,
          },
        ];
        const twin = setup.bitIdenticalTo?.(v);
        const twinY = twin ? outputs.get(twin) : undefined;
        if (twin && twinY) {
          let diff = -1;
          const u = new Uint32Array(y.buffer);
          const t = new Uint32Array(twinY.buffer, twinY.byteOffset, twinY.length);
          for (let i = 0; i < u.length && diff < 0; i++) if (u[i] !== t[i]) diff = i;
          checks.push({
            name: 'bit-identical',
            ok: diff < 0,
            value: diff < 0 ? 0 : 1,
            limit: 0,
            detail:
              diff < 0 ? `the same bits as ${twin} (same operations, same order)` : `differs from ${twin} first at element ${diff}: it must give the same bits`,
          });
        }
        outputs.set(name, y);
        const way: Way = { v, p, checked: y, checks };
        contenders.push({
          name,
          v: way,
          run: () => way.p.run(),
          profiled: null,
          layers: 0,
          wanted: 0,
          warmupMs: 0,
          samples: [],
          layerSums: new Float64Array(0),
          samplesPerRound: [],
          dispose: () => way.p.dispose?.(),
          finish: (s) => {
            const stable = checksumF32(way.p.output()) === checksumF32(way.checked);
            const all: AccuracyCheck[] = [
              ...way.checks,
              {
                name: 'stable output',
                ok: stable,
                value: stable ? 0 : 1,
                limit: 0,
                detail: stable ? 'the timed runs left the checked output' : 'the output changed between the checked run and the timed runs',
              },
            ];
            const acc = accuracyOf(way.checked, setup.ref, all, setup.source);
            // The stored tolerance: the per-element allowance (as the conv suite's exact bound), its largest element as the limit.
            acc.accuracy.tolerance = { ...acc.accuracy.tolerance, metric: 'maxAbs', limit: maxAllow };
            const { stats, timing } = networkTiming(s, resolution, env.options.cvTarget);
            return {
              ...base(name, v, way.p.cost, way.p.info),
              state: acc.ok ? 'passed' : 'inaccurate',
              timing,
              perf: computePerf(way.p.cost, stats.median, env.ceilings, null, 'f32'),
              accuracy: { ...acc.accuracy, ...(way.p.nonPortable ? { nonPortable: way.p.nonPortable } : {}) },
              prepare: { ms: way.p.prepareMs, bytes: way.p.prepareBytes, note: way.p.note },
            };
          },
        });
      } catch (e) {
        if (p && typeof p !== 'string') await p.dispose?.();
        results.push(erroredResult(base(name, v, p && typeof p !== 'string' ? p.cost : setup.cost), phase, errMsg(e)));
      }
    }

    const failed = new Set<Contender<Way>>();
    for (const a of contenders) {
      env.onPhase?.('warmup', a.name);
      try {
        await warmUp(a, env.options);
      } catch (e) {
        failed.add(a);
        results.push(erroredResult(base(a.name, a.v.v, a.v.p.cost), 'warmup', errMsg(e)));
      }
    }
    env.onPhase?.('timing', `${contenders.length - failed.size} way(s) interleaved in ${Math.max(1, env.options.rounds)} rounds`);
    await sampleRounds(contenders, env.options, failed, (a, e) => results.push(erroredResult(base(a.name, a.v.v, a.v.p.cost), 'timing', errMsg(e))));
    finishAll(contenders, failed, results, (a, e) => erroredResult(base(a.name, a.v.v, a.v.p.cost), 'stats', errMsg(e)));
  } finally {
    await disposeAll(contenders);
    env.ctx.kernels.release(mark);
  }
  return inPlanOrder(results, variantNames);
}

/** Milliseconds `f` takes (preparation, outside any timed region). */
export async function timedPrepare<T>(f: () => T | Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = hrtimeNow();
  const value = await f();
  return { value, ms: hrtimeNow() - t0 };
}
