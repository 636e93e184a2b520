/**
 * The quantization decision of the one-run report (harness/report/quantization.ts, templates/quantization.njk)
 * and the int8 roof on the roofline (charts.ts): per layer and scheme, scheme loss vs budget, speedup over fp32
 * im2col in the same run, kernel check, recommendation and verdict. Results are built from a real fixture run
 * (rpi3-complete) with int8 results added, so every figure below is known; injected faults show each guard fails
 * when it should (a failed kernel check is never recommended, a budget miss is never recommended, an emulated
 * device gets no speedup, the int8 roof is not drawn without a measured int8 peak).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { encodeFloat, isTimed, RunResults, type TimedResult } from '../core/contracts.js';
import { quantizationDecision, DEFAULT_MIN_SQNR_DB } from '../harness/report/quantization.js';
import { rooflineData } from '../harness/report/charts.js';
import { renderReport } from '../harness/report/render.js';
import { reportScratch } from './helpers/report.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/results/', import.meta.url));
const INJECTION = `<script>alert(1)</script>"&'`;
const scratch = reportScratch('rb-quant-');

const A = 'conv/vgg16.conv3_2';
const B = 'conv/resnet50.res2b.branch2b';

function base(): RunResults {
  return RunResults.parse(JSON.parse(readFileSync(join(FIXTURES, 'rpi3-complete.json'), 'utf8')));
}
function timed(run: RunResults, caseId: string, variant: string): TimedResult {
  const r = run.results.find((x) => x.caseId === caseId && x.variant === variant);
  if (!r || !isTimed(r)) throw new Error(`fixture has no timed ${variant} on ${caseId}`);
  return r;
}

/** A low-precision result on `caseId`: fp32 im2col's result with the given median, SQNR and scheme. */
function lowp(
  run: RunResults,
  caseId: string,
  variant: string,
  scheme: string,
  dtype: string,
  median: number,
  sqnrDb: number,
  extra: Partial<TimedResult> = {},
): TimedResult {
  const r = structuredClone(timed(run, caseId, 'conv-im2col-gemm-f32'));
  r.variant = variant;
  r.dtype = dtype;
  r.algorithm = 'im2col-gemm-int8';
  // The interval and the noise flag scale with the median: a clean, clear timing unless a test says otherwise.
  const st = r.timing.stats;
  r.timing.stats = { ...st, median, ciLow: (st.ciLow / st.median) * median, ciHigh: (st.ciHigh / st.median) * median };
  r.timing.noisy = false;
  const relL2 = 10 ** (-sqnrDb / 20);
  r.accuracy = {
    ...r.accuracy,
    relL2: encodeFloat(relL2),
    sqnrDb: encodeFloat(sqnrDb),
    checks: [{ name: 'kernel', ok: true, detail: 'bit-exact' } as never],
    schemeLoss: {
      scheme,
      description: `scheme ${scheme}`,
      sqnrDb: encodeFloat(sqnrDb),
      relL2: encodeFloat(relL2),
      cosine: 0.999,
      maxAbs: 0.01,
      meanError: 0,
      sdError: 0.001,
      rmse: 0.001,
      scale: 0.0035,
      rmseOverScale: 0.29,
      flagged: false,
    },
  };
  return { ...r, ...extra };
}

/** The fixture plus int8 results: pc-i8 fast and accurate on both layers, pt-u8 faster but 25 dB on B. */
function withInt8(): RunResults {
  const run = base();
  const fpA = timed(run, A, 'conv-im2col-gemm-f32').timing.stats.median;
  const fpB = timed(run, B, 'conv-im2col-gemm-f32').timing.stats.median;
  run.results.push(
    lowp(run, A, 'conv-im2col-gemm-pc-i8', 'pc', 'i8', fpA / 2, 41),
    lowp(run, A, 'conv-im2col-gemm-pt-u8', 'pt', 'u8', fpA / 2.2, 38),
    lowp(run, B, 'conv-im2col-gemm-pc-i8', 'pc', 'i8', fpB / 2.5, 40),
    lowp(run, B, 'conv-im2col-gemm-pt-u8', 'pt', 'u8', fpB / 3, 25),
    {
      ...structuredClone(timed(run, B, 'conv-im2col-gemm-f32')),
      variant: 'conv-im2col-gemm-relaxed-pc-i8',
      dtype: 'i8',
      state: 'skipped',
      reason: 'no relaxed SIMD',
    } as never,
    {
      caseId: A,
      variant: 'conv-emulated-fp16arith-f16',
      algorithm: 'emulated-fp16-arith',
      dtype: 'f16',
      cost: timed(run, A, 'conv-im2col-gemm-f32').cost,
      state: 'skipped',
      reason: 'accuracy only: fp16 arithmetic emulated',
      accuracy: lowp(run, A, 'x', 'fp16arith', 'f16', 1, 55).accuracy,
    },
  );
  run.ceilings.measured!.int8PeakGops = 14.2;
  return run;
}

describe('quantization decision', () => {
  it('is absent for a run without low-precision results', () => {
    expect(quantizationDecision(base())).toBeNull();
  });

  it('gives speedups, budget, a recommendation per layer and a verdict per scheme', () => {
    const q = quantizationDecision(withInt8())!;
    expect(q.budgetGiven).toBe(false);
    expect(q.budgetText).toBe(`SQNR ≥ ${DEFAULT_MIN_SQNR_DB} dB`);
    const a = q.layers.find((l) => l.caseId === A)!;
    const pcA = a.rows.find((r) => r.variant === 'conv-im2col-gemm-pc-i8')!;
    expect(pcA.speedup).toBeCloseTo(2, 9);
    expect(pcA.meets).toBe(true);
    // On A both meet 30 dB: the faster pt-u8 is recommended.
    expect(a.recommended).toBe('conv-im2col-gemm-pt-u8');
    // On B pt-u8 is faster but 25 dB misses the budget: pc-i8 is recommended.
    const b = q.layers.find((l) => l.caseId === B)!;
    expect(b.rows.find((r) => r.scheme === 'pt-u8')!.meets).toBe(false);
    expect(b.recommended).toBe('conv-im2col-gemm-pc-i8');
    // Against the best fp32 on B (Winograd F(4x4) at half im2col's time), not only im2col.
    expect(b.bestFp32Variant).toBe('conv3x3-winograd-f4x4-f32');
    expect(b.rows.find((r) => r.scheme === 'pc-i8')!.speedupBest).toBeCloseTo(b.bestFp32Ms! / (b.fp32Ms! / 2.5), 9);
    const pc = q.verdicts.find((v) => v.scheme === 'pc-i8')!;
    expect(pc.geomeanSpeedup).toBeCloseTo(Math.sqrt(2 * 2.5), 9);
    expect(pc.text).toBe('pc-i8: 2.24× faster than fp32 im2col (1.54× the best fp32), 40.0 dB (lowest), meets SQNR ≥ 30 dB on 2 of 2 layers');
    expect(q.verdicts.find((v) => v.scheme === 'pt-u8')!.text).toContain('meets SQNR ≥ 30 dB on 1 of 2 layers');
    expect(q.notRun).toEqual([{ caseId: B, variant: 'conv-im2col-gemm-relaxed-pc-i8', why: 'no relaxed SIMD' }]);
    expect(q.int8PeakGops).toBe(14.2);
    // The accuracy-only result: its loss vs the budget, no speed, not among the layers' rows or the verdicts.
    expect(q.accuracyOnly).toMatchObject([{ caseId: A, variant: 'conv-emulated-fp16arith-f16', scheme: 'fp16arith-f16', meets: true, checkOk: true }]);
    expect(q.layers.flatMap((l) => l.rows).some((r) => r.variant.includes('emulated'))).toBe(false);
    expect(q.verdicts.map((v) => v.scheme).sort()).toEqual(['pc-i8', 'pt-u8']);
  });

  it("uses the user's budget where given", () => {
    const run = withInt8();
    run.options.budgets = { minSqnrDb: 40.5 };
    const q = quantizationDecision(run)!;
    expect(q.budgetGiven).toBe(true);
    expect(q.verdicts.find((v) => v.scheme === 'pc-i8')!.meets).toBe(1);
    expect(q.layers.find((l) => l.caseId === B)!.recommended).toBeNull();
  });

  it('injected fault: a failed kernel check is never recommended, even when fastest and within budget', () => {
    const run = withInt8();
    const bad = run.results.find((r) => r.caseId === A && r.variant === 'conv-im2col-gemm-pt-u8') as TimedResult;
    bad.state = 'inaccurate';
    bad.accuracy.checks = [{ name: 'kernel', ok: false, detail: 'output 17 differs' } as never];
    const q = quantizationDecision(run)!;
    const a = q.layers.find((l) => l.caseId === A)!;
    expect(a.rows.find((r) => r.variant === bad.variant)!.kernelOk).toBe(false);
    expect(a.recommended).toBe('conv-im2col-gemm-pc-i8');
    expect(q.verdicts.find((v) => v.scheme === 'pt-u8')!.text).toContain('1 kernel check failure');
  });

  it('injected fault: a scheme faster than fp32 im2col but slower than the best fp32 is not recommended; stay in fp32', () => {
    const run = withInt8();
    // 1.25x and 1.5x over im2col: slower than Winograd F(4x4) fp32 (2.07x) on B.
    for (const r of run.results) if (r.caseId === B && isTimed(r) && r.accuracy.schemeLoss) r.timing.stats.median *= 2;
    const b = quantizationDecision(run)!.layers.find((l) => l.caseId === B)!;
    expect(b.recommended).toBeNull();
    expect(b.why).toContain('stay in fp32');
  });

  it('with --threads 1,2, compares the one-thread int8 kernels with fp32 on one thread, not with fp32 on two', () => {
    const run = withInt8();
    // fp32 im2col and Winograd on 2 threads, 4x faster than on one: faster than every int8 kernel (which run on one).
    for (const v of ['conv-im2col-gemm-f32', 'conv3x3-winograd-f4x4-f32']) {
      const one = timed(run, B, v);
      run.results.push({
        ...structuredClone(one),
        variant: `${v}@t2`,
        threads: 2,
        timing: { ...one.timing, stats: { ...one.timing.stats, median: one.timing.stats.median / 4 } },
      });
    }
    const b = quantizationDecision(run)!.layers.find((l) => l.caseId === B)!;
    expect(b.bestFp32Variant).toBe('conv3x3-winograd-f4x4-f32');
    expect(b.fp32Variant).toBe('conv-im2col-gemm-f32');
    expect(b.rows.find((r) => r.scheme === 'pc-i8')!.speedup).toBeCloseTo(2.5, 9);
    expect(b.recommended).toBe('conv-im2col-gemm-pc-i8');
  });

  it('injected fault: a faster scheme on a noisy timing is not recommended (no clear speed-up), and the layer says why', () => {
    const clean = quantizationDecision(withInt8())!.layers.find((l) => l.caseId === B)!;
    expect(clean.recommended).toBe('conv-im2col-gemm-pc-i8');
    const run = withInt8();
    for (const r of run.results) if (r.caseId === B && isTimed(r) && r.accuracy.schemeLoss) r.timing.noisy = true;
    const b = quantizationDecision(run)!.layers.find((l) => l.caseId === B)!;
    expect(b.recommended).toBeNull();
    // The scheme's verdict says its speed-up is indicative on that layer.
    expect(quantizationDecision(run)!.verdicts.find((v) => v.scheme === 'pc-i8')!.text).toContain(
      '2.24× faster than fp32 im2col (1.54× the best fp32) (indicative: noisy timings on 1 of 2 layers)',
    );
    expect(b.why).toMatch(
      /^conv-im2col-gemm-pc-i8 measured [\d.]+× the best fp32 \(conv3x3-winograd-f4x4-f32\), but its timing is noisy or the interval holds 1×: no clear speed-up, stay in fp32/,
    );
  });

  it('a native int8 peer (ONNX Runtime QLinearConv) is shown as a ratio, never recommended nor in a verdict', () => {
    const run = withInt8();
    const fpA = timed(run, A, 'conv-im2col-gemm-f32').timing.stats.median;
    const peer = lowp(run, A, 'conv-onnxruntime-qlinear-pc-i8', 'pc', 'i8', fpA / 10, 41);
    peer.info = { code: 'native' };
    run.results.push(peer);
    const q = quantizationDecision(run)!;
    const a = q.layers.find((l) => l.caseId === A)!;
    expect(a.rows.find((r) => r.variant === peer.variant)).toMatchObject({ peer: true, speedup: 10 });
    expect(a.recommended).toBe('conv-im2col-gemm-pt-u8');
    expect(q.verdicts.find((v) => v.scheme === 'pc-i8')!.geomeanSpeedup).toBeCloseTo(Math.sqrt(2 * 2.5), 9);
  });

  it('an emulated device gets no speedup and no recommendation', () => {
    const run = withInt8();
    run.device.emulated = true;
    const q = quantizationDecision(run)!;
    expect(q.layers.every((l) => l.recommended === null && l.rows.every((r) => r.speedup === null))).toBe(true);
    expect(q.verdicts[0]!.text).toContain('speed not measured (emulated device)');
  });

  it('draws no int8 roof over a run without int8 results, even with a measured int8 peak (fp32 kernels alone)', () => {
    const run = base();
    run.ceilings.measured!.int8PeakGops = 14.2;
    expect(rooflineData(run).int8Roof).toEqual([]);
    expect(rooflineData(withInt8()).int8Roof.length).toBeGreaterThan(0);
  });

  it('draws the int8 roof only where the run measured an int8 peak', () => {
    const run = withInt8();
    const d = rooflineData(run);
    expect(d.int8Roof.length).toBeGreaterThan(0);
    expect(Math.max(...d.int8Roof.map((p) => p.y))).toBe(14.2);
    expect(d.labels.some((l) => l.text === 'int8 peak 14.2 GOP/s (measured)')).toBe(true);
    expect(d.yDomain[1]).toBeGreaterThan(14.2);
    // A profile's int8 and fp16 peaks (datasheet figures) are drawn as theoretical ceilings, int8 in GOP/s.
    run.ceilings.theoretical!.peakGflops = { f32: 38.4, int8: 153.6, f16: 76.8 };
    const t = rooflineData(run);
    expect(t.theoreticalRoof.filter((p) => p.id === 'int8').map((p) => p.y)).toContain(153.6);
    expect(t.labels.map((l) => l.text)).toEqual(expect.arrayContaining(['int8 peak 154 GOP/s (theoretical)', 'f16 peak 76.8 GFLOP/s (theoretical)']));
    expect(quantizationDecision(run)!.theoreticalPeaks).toEqual([
      { dtype: 'f32', peak: 38.4 },
      { dtype: 'int8', peak: 153.6 },
      { dtype: 'f16', peak: 76.8 },
    ]);
    // A profile without a datasheet figure says why (devices.yaml noPeak), and the decision's roof note shows it.
    run.ceilings.theoretical!.peakGflops = { f32: 38.4 };
    run.ceilings.theoretical!.noPeak = { int8: 'the product brief gives none' };
    expect(quantizationDecision(run)!.missingPeaks).toEqual([{ dtype: 'int8', why: 'the product brief gives none' }]);
    expect(rooflineData(run).theoreticalRoof.some((p) => p.id === 'int8')).toBe(false);
    delete run.ceilings.measured!.int8PeakGops;
    expect(rooflineData(run).int8Roof).toEqual([]);
  });

  /** The case-table row of `variant` (case A) in the rendered report, after `edit` changed its result. */
  const caseRow = async (variant: string, tag: string, edit: (r: TimedResult) => void): Promise<string> => {
    const run = withInt8();
    edit(run.results.find((x) => x.caseId === A && x.variant === variant) as TimedResult);
    const html = readFileSync(await renderReport(run, join(scratch(), tag)), 'utf8');
    const cases = html.slice(html.indexOf('<section id="cases"'));
    const at = cases.indexOf(`>${variant}<`);
    return cases.slice(at, cases.indexOf('</tr>', at));
  };

  it("the case table does not mark a passed int8 row's error against float64 as over its kernel check's tolerance (maxAbs <= 0)", async () => {
    const rowOf = (ok: boolean) =>
      caseRow('conv-im2col-gemm-pc-i8', `k-${ok}`, (r) => {
        r.accuracy.maxAbs = encodeFloat(0.52);
        r.accuracy.tolerance = { metric: 'maxAbs', limit: 0, source: 'kernel check (kernel: bit-exact) against the exact reference' };
        r.accuracy.checks = [{ name: 'kernel: bit-exact', ok, value: ok ? 0 : 3, limit: 0, detail: 'outputs against the exact integer reference' } as never];
      });
    const passed = await rowOf(true);
    expect(passed).toContain('kernel check: maxAbs ≤ 0');
    expect(passed).not.toMatch(/ over"/);
    // Injected fault: the kernel check failed: then its tolerance is marked (not the float64 error cells).
    const failed = await rowOf(false);
    expect(failed).toContain('<td class="left tol nowrap over"');
    expect(failed).not.toMatch(/class="num gated/);
  });

  it("a float row judged by its checks alone (a light-runtime network) names them, and its rel L2 is not marked red against 'relL2 <= 0'", async () => {
    const rowOf = (ok: boolean) =>
      caseRow('conv-im2col-gemm-f32', `c-${ok}`, (r) => {
        // What suites/models/measure.ts stores for model-runtime-*-f32: limit 0 is the count of failed checks.
        r.accuracy.relL2 = encodeFloat(1.8e-8);
        r.accuracy.tolerance = { metric: 'relL2', limit: 0, source: 'every layer checked alone against float64 of its own inputs (per-layer table)' };
        r.accuracy.checks = [
          { name: 'layer checks', ok, value: ok ? 0 : 2, limit: 0, detail: 'all layers match' },
          { name: 'stable output', ok: true, value: 0, limit: 0, detail: 'timed runs left the checked output' },
        ] as never;
      });
    const passed = await rowOf(true);
    expect(passed).toContain('>checks: layer checks, stable output</td>');
    expect(passed).not.toContain('relL2 ≤ 0');
    expect(passed).not.toMatch(/ over"/);
    // Injected fault: a failed layer check marks the tolerance cell.
    const failed = await rowOf(false);
    expect(failed).toContain('<td class="left tol nowrap over"');
  });

  it('renders the section, escaped, with the int8 roof in the key', async () => {
    const run = withInt8();
    const r = run.results.find((x) => x.caseId === A && x.variant === 'conv-im2col-gemm-pc-i8') as TimedResult;
    r.accuracy.schemeLoss!.description = INJECTION;
    const file = await renderReport(run, join(scratch(), 'q'));
    const html = readFileSync(file, 'utf8');
    const s = html.slice(html.indexOf('<section id="quantization"'));
    expect(s).toContain('Quantization decision');
    expect(s).toContain('pc-i8: 2.24× faster than fp32 im2col (1.54× the best fp32), 40.0 dB (lowest), meets SQNR ≥ 30 dB on 2 of 2 layers');
    expect(s).toContain('use <strong class="mono">conv-im2col-gemm-pc-i8</strong>');
    expect(html).not.toContain('<script>alert(1)');
    expect(s).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('int8 roofline: the measured int8 peak');
    expect(s).toContain('Accuracy only, not timed: emulated fp16 arithmetic');
    expect(html).toContain('int8 peak 14.2 GOP/s (measured)');
    // Times in the unit that reads best, with it (the medians were "0.01" ms for 10.4 µs; the column said ms).
    expect(s).toMatch(/\(fp32 im2col \d+(\.\d+)? (µs|ms|s); best fp32 conv3x3-winograd-f4x4-f32 \d+(\.\d+)? (µs|ms|s)\)/);
    expect(s).toMatch(/<td class="num">\d+(\.\d+)? (µs|ms|s)<\/td>\s*<td class="num strong">/);
    expect(s).not.toMatch(/<td class="num">[\d.]+<\/td>\s*<td class="num strong">/);
  });
});
