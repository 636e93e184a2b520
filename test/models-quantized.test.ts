/**
 * Whole-network quantization (suites/models/quantized.ts): every conv of a network in int8 by a
 * scheme, run end to end in the light runtime (measureModelCase, as the runner calls it), on the
 * test network every-op (depthwise, grouped and a conv with unequal pads the int8 kernels cannot
 * take). With injected faults: a wrong activation scale in one layer shows in that layer's SQNR,
 * keeps its kernel check (a scheme fault, not a kernel bug) and fails a budget that the right scale
 * meets; the mixed plan falls that layer back first and meets the budget; a mixed plan stopped before
 * the budget is met is not reported as meeting it; top-1 agreement is counted over 256 inputs
 * (32 with --quick, labelled). The CLI: --schemes adds the networks to --model runs.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeFloat, isTimed, RunResults, type CaseResult, type ExtraVariant, type RunOptions, type TestFaults } from '../core/contracts.js';
import { applyBudget } from '../harness/budget.js';
import { loadModelCase } from '../suites/models/suite.js';
import { measureModelCase } from '../suites/models/measure.js';
import {
  calSeed,
  evalSeed,
  mixedPlan,
  netBudget,
  quantizeNetwork,
  top1Agree,
  CALIBRATION_INPUTS,
  TOP1_INPUTS,
  TOP1_INPUTS_QUICK,
} from '../suites/models/quantized.js';
import { inferShapes } from '../core/graph.js';
import { makeGraphParams } from '../reference/graph-init.js';
import { parseScheme, type Int8Scheme } from '../reference/quant-scheme.js';
import { makeResolver } from '../suites/variants.js';
import { quantizedNetworksView } from '../harness/report/quantized-networks.js';
import { bench } from './helpers/cli.js';
import { useKernels } from './helpers/kernels.js';
import { SHORT_OPTIONS } from './helpers/measure.js';

const EVERY_OP = new URL('./fixtures/every-op.yaml', import.meta.url).pathname;
const kernels = useKernels();
const SCHEME = 'int8:pc';
const INT8 = 'model-runtime-int8-pc-i8';
const MIXED = 'model-runtime-mixed-pc-i8';
const FP32 = 'model-runtime-im2col-f32';

const extras: ExtraVariant[] = (['all', 'mixed'] as const).map((network) => ({
  suite: 'models',
  kind: 'scheme',
  scheme: SCHEME,
  kernel: 'im2col-gemm',
  network,
}));

async function run(
  opts: { quick?: boolean; faults?: TestFaults; budgets?: RunOptions['budgets']; variants?: string[] } = {},
): Promise<Map<string, CaseResult>> {
  const quick = opts.quick ?? false;
  const c = loadModelCase(EVERY_OP, { quick: true, seed: 11, distribution: 'uniform(-1,1)' }).caseSpec;
  const options: RunOptions = { ...SHORT_OPTIONS, quick, suites: ['models'], ...(opts.budgets ? { budgets: opts.budgets } : {}) };
  const results = await measureModelCase(c, opts.variants ?? [FP32, INT8, MIXED], {
    ctx: { kernels: kernels() },
    features: { wasmSimd: true, wasmRelaxedSimd: false },
    options,
    ceilings: null,
    resolveVariant: makeResolver(extras),
    ...(opts.faults ? { faults: opts.faults } : {}),
  });
  return new Map(results.map((r) => [r.variant, options.budgets ? applyBudget(r, options.budgets) : r]));
}

const timed = (m: Map<string, CaseResult>, v: string) => {
  const r = m.get(v);
  if (!r || !isTimed(r)) throw new Error(`${v}: no timed result: ${JSON.stringify(r)}`);
  return r;
};
const quantOf = (m: Map<string, CaseResult>, v: string) => {
  const q = timed(m, v).model?.quantization;
  if (!q) throw new Error(`${v}: no quantization record`);
  return q;
};
const layer = (q: ReturnType<typeof quantOf>, node: string) => q.layers.find((l) => l.node === node)!;

describe('whole-network quantization (every-op)', () => {
  it('every conv in int8 where a kernel takes it, the rest in fp32 with the reason; int8 layers bit-exact; loss, top-1 over 256 inputs', async () => {
    const m = await run();
    const r = timed(m, INT8);
    expect(r.state).toBe('passed');
    const q = quantOf(m, INT8);
    expect(q.scheme).toBe('pc-i8');
    // The conv with unequal pads has no ConvShape of its own: fp32 (im2col on its input padded explicitly), with the reason.
    expect(layer(q, 'asym')).toMatchObject({ precision: 'fp32' });
    expect(layer(q, 'asym').reason).toMatch(/no int8 kernel: .*pad/i);
    expect(layer(q, 'dw')).toMatchObject({ precision: 'int8', kernel: 'conv-depthwise-pc-i8' });
    for (const n of ['stem', 'grouped', 'wino', 'mpool_pw']) expect(layer(q, n)).toMatchObject({ precision: 'int8', kernel: 'conv-im2col-gemm-pc-i8' });
    // Every int8 layer's kernel check is bit-exact against the exact integer reference of its own input.
    for (const n of ['stem', 'dw', 'grouped', 'wino', 'mpool_pw']) {
      const row = r.model!.layers.find((l) => l.node === n)!;
      expect(row.check.ok, row.check.detail).toBe(true);
      expect(row.check.detail).toMatch(/equal the exact integer reference/);
    }
    // The final loss is of the logits: every-op ends in a softmax (a normalisation that quantizes nothing).
    expect(q.finalTensor).toBe('"reshaped", the logits (the input of the final softmax "prob")');
    // The final output's loss is the result's accuracy (what budgets and --gate read).
    expect(decodeFloat(q.finalSqnrDb)).toBe(decodeFloat(r.accuracy.sqnrDb));
    expect(decodeFloat(q.finalSqnrDb)).toBeGreaterThan(20);
    expect(q.top1).toMatchObject({ inputs: TOP1_INPUTS, quick: false });
    expect(q.top1.agree).toBeLessThanOrEqual(TOP1_INPUTS);
    expect(q.calibration.seeds).toMatch(/0x9e3779b9/);
    // The fp32 network is unchanged by the quantized ones (same run).
    expect(timed(m, FP32).model?.quantization).toBeUndefined();
  }, 120_000);

  it('an int8 layer computing with other weights fails its bit-exact kernel check (a kernel bug, not a scheme loss)', async () => {
    const m = await run({ faults: { modelLayerError: { node: 'wino', relError: 1e-3 } }, variants: [INT8] });
    const r = timed(m, INT8);
    expect(r.state).toBe('inaccurate');
    const row = r.model!.layers.find((l) => l.node === 'wino')!;
    expect(row.check.ok).toBe(false);
    expect(row.check.detail).toMatch(/differ from the exact integer reference/);
    expect(r.model!.layers.filter((l) => !l.check.ok).map((l) => l.node)).toEqual(['wino']);
  }, 120_000);

  it('--quick counts top-1 over fewer inputs and says so', async () => {
    const q = quantOf(await run({ quick: true, variants: [INT8] }), INT8);
    expect(q.top1).toMatchObject({ inputs: TOP1_INPUTS_QUICK, quick: true });
  }, 120_000);

  it('a wrong activation scale in one layer shows in its SQNR, not in its kernel check, and fails a budget the right scale meets; the mixed plan falls it back first', async () => {
    const good = await run();
    // A scale 16x too small: the layer's inputs clip at a sixteenth of their calibrated range.
    const fault = { quantScaleError: { node: 'grouped', factor: 1 / 16 } };
    const bad = await run({ faults: fault });
    const g0 = layer(quantOf(good, INT8), 'grouped');
    const g1 = layer(quantOf(bad, INT8), 'grouped');
    expect(decodeFloat(g1.localSqnrDb)).toBeLessThan(decodeFloat(g0.localSqnrDb) - 10);
    expect(timed(bad, INT8).model!.layers.find((l) => l.node === 'grouped')!.check.ok).toBe(true);
    const s0 = decodeFloat(quantOf(good, INT8).finalSqnrDb);
    const s1 = decodeFloat(quantOf(bad, INT8).finalSqnrDb);
    expect(s1).toBeLessThan(s0 - 3);
    // A budget between the two: the right scale meets it, the wrong one does not (and the host marks it inaccurate).
    const budgets = { minSqnrDb: (s0 + s1) / 2 };
    const judged = await run({ faults: fault, budgets });
    expect(quantOf(judged, INT8).budget.meets).toBe(false);
    expect(judged.get(INT8)!.state).toBe('inaccurate');
    // The mixed plan: the faulted layer has the lowest SQNR alone, falls back first, and the plan meets the budget.
    const plan = quantOf(judged, MIXED);
    expect(plan.plan?.[0]?.node).toBe('grouped');
    expect(layer(plan, 'grouped')).toMatchObject({ precision: 'fp32', reason: 'the mixed-precision plan fell it back to fp32' });
    expect(plan.budget.meets).toBe(true);
    expect(decodeFloat(plan.finalSqnrDb)).toBeGreaterThanOrEqual(budgets.minSqnrDb);
    expect(judged.get(MIXED)!.state).toBe('passed');
    const unjudged = await run({ budgets: { minSqnrDb: (s0 + s1) / 2 } });
    expect(quantOf(unjudged, INT8).budget.meets).toBe(true);
    // The report's section says the same, plainly.
    const view = quantizedNetworksView({ results: [...judged.values()] } as unknown as RunResults)!;
    expect(view).toHaveLength(1);
    expect(view[0]!.verdict).toMatch(
      /^every_op, pc-i8: all-int8: .* misses the budget; mixed plan \(1 layer\(s\) fallen back to fp32\): .* meets the budget\.$/,
    );
    const [all, mixed] = view[0]!.rows;
    expect([all!.meets, mixed!.meets]).toEqual([false, true]);
    expect(all!.worst).toMatch(/^grouped /);
    expect(all!.fp32).toMatch(/asym: no int8 kernel/);
    expect(mixed!.plan).toMatch(/^grouped \(alone/);
    expect(mixed!.fp32).toMatch(/grouped: the mixed-precision plan fell it back to fp32/);
  }, 240_000);

  it('a mixed plan stopped before the budget is met is not reported as meeting it', async () => {
    const m = await run({
      faults: { quantScaleError: { node: 'grouped', factor: 1 / 16 }, mixedPlanMaxFallbacks: 0 },
      budgets: { minSqnrDb: 200 },
      variants: [MIXED],
    });
    const q = quantOf(m, MIXED);
    expect(q.plan).toEqual([]);
    expect(q.budget.meets).toBe(false);
    expect(m.get(MIXED)!.state).toBe('inaccurate');
  }, 120_000);
});

describe('calibration', () => {
  it('draws calibration inputs never evaluated, and calibrates each conv by the scheme (method and activation type)', () => {
    for (const seed of [0, 1, 0x7fffffff, 0xffffffff]) {
      const evaluated = new Set(Array.from({ length: TOP1_INPUTS }, (_, i) => evalSeed(seed, i)));
      for (let j = 0; j < CALIBRATION_INPUTS; j++) expect(evaluated.has(calSeed(seed, j))).toBe(false);
    }
    const c = loadModelCase(EVERY_OP, { quick: true, seed: 11, distribution: 'uniform(-1,1)' }).caseSpec;
    const shapes = inferShapes(c.graph);
    const params = makeGraphParams(c.graph, c.seed);
    const ctx = { kernels: kernels() };
    const cache = {};
    const net = (text: string) => quantizeNetwork(ctx, c.graph, shapes, params, c, parseScheme(text) as Int8Scheme, SHORT_OPTIONS, cache);
    const scale = (text: string, node: string) => net(text).layers.get(node)!.int8!.x;
    // minmax's range covers every calibration value, a lower percentile clips: a smaller scale.
    expect(scale('int8:pc,percentile=90', 'wino').scale).toBeLessThan(scale('int8:pc,minmax', 'wino').scale);
    // uint8 activations get a zero point and [0, 255]; int8 are symmetric.
    expect(scale('int8:pt,u8,minmax', 'stem')).toMatchObject({ qmin: 0, qmax: 255 });
    expect(scale('int8:pt,s8,minmax', 'stem')).toMatchObject({ qmin: -128, qmax: 127, zeroPoint: 0 });
    // The fallback layer has no int8 quantization, only its reason.
    expect(net('int8:pc').layers.get('asym')).toMatchObject({ int8: null, reason: expect.stringMatching(/no int8 kernel/) });
  });
});

describe('the mixed plan and the top-1 count (pure)', () => {
  const budget = netBudget({ ...SHORT_OPTIONS, budgets: { minSqnrDb: 30 } });
  it('falls back in ascending order of SQNR alone until the budget is met, and no further', () => {
    const local = new Map([
      ['a', 40],
      ['b', 12],
      ['c', 25],
    ]);
    const gains: Record<string, number> = { b: 8, c: 5, a: 1 };
    const evaluate = (fp32: ReadonlySet<string>) => {
      const s = 20 + [...fp32].reduce((x, n) => x + gains[n]!, 0);
      return { sqnrDb: s, relL2: 10 ** (-s / 20) };
    };
    const p = mixedPlan(local, { sqnrDb: 20, relL2: 0.1 }, budget, evaluate);
    expect(p.steps.map((s) => s.node)).toEqual(['b', 'c']);
    expect(p.meets).toBe(true);
    expect(p.final.sqnrDb).toBe(33);
    // Exhausted: every layer fallen back and still short.
    const short = mixedPlan(local, { sqnrDb: 1, relL2: 1 }, budget, () => ({ sqnrDb: 2, relL2: 0.9 }));
    expect(short.steps).toHaveLength(3);
    expect(short.meets).toBe(false);
    // Already met: nothing falls back.
    expect(mixedPlan(local, { sqnrDb: 31, relL2: 0.02 }, budget, evaluate).steps).toEqual([]);
    // NaN never meets a budget.
    expect(budget.meets(NaN, NaN)).toBe(false);
  });

  it('top-1 agreement counts every image of every input, and refuses different input counts', () => {
    const a = [Int32Array.of(1), Int32Array.of(2), Int32Array.of(3, 4)];
    const b = [Int32Array.of(1), Int32Array.of(5), Int32Array.of(3, 0)];
    expect(top1Agree(a, b)).toEqual({ agree: 2, inputs: 4 });
    expect(() => top1Agree(a, b.slice(1))).toThrow(/not the same inputs/);
  });
});

describe('the CLI: --schemes with --model', () => {
  it('adds the all-int8 and mixed networks beside the fp32 ones, in the same run', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'roofbench-mq-')), 'r');
    const r = await bench(['--model', EVERY_OP, '--quick', '--no-ceilings', '--schemes', SCHEME, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const run = RunResults.parse(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')));
    const names = run.results.map((x) => x.variant);
    expect(names).toEqual(expect.arrayContaining([FP32, INT8, MIXED]));
    const q = run.results.find((x) => x.variant === INT8);
    expect(q && isTimed(q) && q.model?.quantization?.top1.quick).toBe(true);
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    expect(html).toContain('Whole-network quantization');
    expect(html).toMatch(/every_op, pc-i8: all-int8: /);
  }, 240_000);

  it('--variant on a quantized network runs the fp32 im2col network along (its speedup baseline)', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'roofbench-mq-')), 'r');
    const r = await bench(['--model', EVERY_OP, '--quick', '--no-ceilings', '--schemes', SCHEME, '--variant', INT8, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const run = RunResults.parse(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')));
    expect(run.results.map((x) => x.variant).sort()).toEqual([FP32, INT8]);
  }, 120_000);

  it('refuses fp16 schemes for a run of networks alone (they would quantize nothing), naming what to do', async () => {
    const r = await bench(['--model', EVERY_OP, '--quick', '--no-ceilings', '--schemes', 'fp16']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--schemes fp16: the models suite quantizes whole networks by int8 schemes only \(e\.g\. --schemes "int8:pc"\)/);
  }, 120_000);
});
