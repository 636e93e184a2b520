/**
 * Every fast algorithm's declared accuracy budget, pinned from both sides on
 * the conv suite's own 3x3 stride-1 layers at --quick size, with all three
 * input distributions and three seeds, through the runner's own check:
 *   - no false `inaccurate`: the worst relative L2 error stays within the budget;
 *   - not loose: the budget is at most MAX_SLACK times that worst error, so a
 *     budget loosened 10x (let alone 100x) fails here.
 * For Winograd that is every tile size with a declared budget, on its default
 * points or on the points its budget was measured on (BUDGET_POINTS); for the
 * FFT both tile sizes. No speed is asserted.
 */
import { describe, expect, it } from 'vitest';
import type { CaseSpec, ConvVariant, Distribution } from '../core/contracts.js';
import { accuracyChecks } from '../harness/runner/measure.js';
import { useKernels } from './helpers/kernels.js';
import { conv2dRef } from '../reference/conv.js';
import { errorMetrics } from '../reference/metrics.js';
import { makeConvInputs } from '../reference/random.js';
import { convCases } from '../suites/conv/cases.js';
import { FFT_MAX_REL_L2, convFftT16F32, convFftT8F32 } from '../suites/conv/variants/fft.js';
import { BUDGET_POINTS, WINOGRAD_BUDGETS, winogradVariant } from '../suites/conv/variants/winograd.js';

/** A declared budget may be at most this many times the worst error it was set from. */
const MAX_SLACK = 10;
const DISTS: Distribution[] = ['uniform(-1,1)', 'uniform(0,1)', 'activation'];
const SEEDS = [1, 2, 3];

const getKernels = useKernels();

/** Inputs and float64 reference per (case, distribution, seed), computed once and shared by every variant checked on them. */
const references = new Map<string, { x: Float32Array; w: Float32Array; ref: ReturnType<typeof conv2dRef> }>();
function inputsAndReference(c: CaseSpec, dist: Distribution): { x: Float32Array; w: Float32Array; ref: ReturnType<typeof conv2dRef> } {
  const key = `${c.id}|${dist}|${c.seed}`;
  let e = references.get(key);
  if (!e) {
    const { x, w } = makeConvInputs(c.shape, c.seed, dist);
    e = { x, w, ref: conv2dRef(c.shape, x, w) };
    references.set(key, e);
  }
  return e;
}

/** The worst relL2 of `v` over the suite's quick 3x3 stride-1 cases x distributions x seeds, and whether the runner's check passed each. */
function worstOnSuite(v: ConvVariant): { worst: number; where: string; failures: string[]; runs: number } {
  let worst = 0;
  let where = '';
  let runs = 0;
  const failures: string[] = [];
  const kernels = getKernels();
  for (const dist of DISTS) {
    for (const seed of SEEDS) {
      for (const c of convCases({ quick: true, seed, distribution: dist })) {
        if (v.applies(c.shape) !== true) continue;
        const { x, w, ref } = inputsAndReference(c, dist);
        const mark = kernels.mark();
        const p = v.prepare({ kernels }, c.shape, x, w);
        try {
          p.run();
          const y = p.output().slice();
          const m = errorMetrics(y, ref.y);
          const t = accuracyChecks(v, y, ref, m, c.shape.c * 9);
          runs++;
          if (!t.ok) failures.push(`${c.layer} ${dist} seed ${seed}: ${t.detail}`);
          if (m.relL2 > worst) {
            worst = m.relL2;
            where = `${c.layer} ${dist} seed ${seed}`;
          }
        } finally {
          p.dispose();
          kernels.release(mark);
        }
      }
    }
  }
  return { worst, where, failures, runs };
}

describe("fast-algorithm budgets, pinned from both sides on the suite's quick layers", () => {
  for (const m of Object.keys(WINOGRAD_BUDGETS).map(Number)) {
    it(`Winograd F(${m}x${m},3x3): within its budget everywhere, the budget at most ${MAX_SLACK}x the worst error`, () => {
      const pts = BUDGET_POINTS[m];
      const v = winogradVariant(m, pts ? [...pts] : undefined);
      const declared = WINOGRAD_BUDGETS[m]!;
      const r = worstOnSuite(v);
      expect(r.runs, 'cases that ran').toBeGreaterThanOrEqual(3 * 3 * 4);
      expect(r.failures, 'false inaccurate').toEqual([]);
      expect(r.worst, `worst relL2 (${r.where})`).toBeLessThanOrEqual(declared);
      expect(declared, `declared ${declared} vs worst ${r.worst} (${r.where})`).toBeLessThanOrEqual(MAX_SLACK * r.worst);
    });
  }

  for (const v of [convFftT8F32, convFftT16F32]) {
    it(`${v.name}: within its budget everywhere, the budget at most ${MAX_SLACK}x the worst error`, () => {
      const declared = FFT_MAX_REL_L2[v === convFftT8F32 ? 8 : 16];
      expect(v.accuracy).toEqual({ kind: 'approximate', maxRelL2: declared });
      const r = worstOnSuite(v);
      expect(r.runs).toBeGreaterThanOrEqual(3 * 3 * 4);
      expect(r.failures, 'false inaccurate').toEqual([]);
      expect(declared, `declared ${declared} vs worst ${r.worst} (${r.where})`).toBeLessThanOrEqual(MAX_SLACK * r.worst);
    });
  }
});
