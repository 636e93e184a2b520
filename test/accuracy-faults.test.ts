/**
 * Subtle kernel bugs, injected on the device through the real runner
 * (ROOFBENCH_TEST_FAULTS -> Plan.faults -> harness/runner/faults.ts), must come
 * back `inaccurate` on every case where the faulty code runs, from the runner's
 * own checks alone (no user budget), while the untouched variants still pass:
 *   - a systematic relative error of 1e-4 in the im2col GEMM (quick, and full
 *     vgg16.conv3_2 and conv5_1);
 *   - the GEMM computing with bfloat16-rounded weights (quick, and full vgg16.conv5_1);
 *   - a sign slip in the Cook-Toom generator (every Winograd tile, quick);
 *   - a 1.2e-4 relative error in the Winograd kernels (every tile, F(8x8) included;
 *     quick, and full vgg16.conv3_2 and conv5_1).
 * The same full-size cases without faults pass (no false alarm at full size).
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bench } from './helpers/cli.js';
import { RunResults, type CaseResult, type TestFaults } from '../core/contracts.js';

const SAMPLING = ['--no-ceilings', '--no-history', '--no-baselines', '--json', '--target-ms', '20', '--min-samples', '2'];

async function runWith(faults: TestFaults | null, args: string[]): Promise<RunResults> {
  const out = join(mkdtempSync(join(tmpdir(), 'roofbench-faults-')), 'r');
  const env = faults ? { ROOFBENCH_TEST_FAULTS: JSON.stringify(faults) } : {};
  const r = await bench([...args, ...SAMPLING, '--out', out], { env, timeoutMs: 400_000 });
  const run = RunResults.parse(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')));
  expect(run.status, r.stderr).toBe('complete');
  if (faults) expect(r.stderr).toMatch(/TEST FAULTS ACTIVE/);
  return run;
}

const byAlgorithm = (run: RunResults, algorithm: string) => run.results.filter((r) => r.algorithm === algorithm);
const timedOnly = (rs: CaseResult[]) => rs.filter((r) => r.state !== 'skipped');

/** Every result of these that ran is inaccurate, and at least `minResults` of them ran. */
function allInaccurate(rs: CaseResult[], minResults: number): void {
  const ran = timedOnly(rs);
  expect(ran.length).toBeGreaterThanOrEqual(minResults);
  const wrong = ran.filter((r) => r.state !== 'inaccurate').map((r) => `${r.caseId} ${r.variant}: ${r.state}`);
  expect(wrong, 'results that should be inaccurate').toEqual([]);
}

function allPassed(rs: CaseResult[], minResults: number): void {
  const ran = timedOnly(rs);
  expect(ran.length).toBeGreaterThanOrEqual(minResults);
  const wrong = ran.filter((r) => r.state !== 'passed').map((r) => `${r.caseId} ${r.variant}: ${r.state}`);
  expect(wrong, 'results that should pass').toEqual([]);
}

const checkNames = (r: CaseResult) =>
  r.state === 'inaccurate' || r.state === 'passed' ? (r.accuracy.checks ?? []).filter((c) => !c.ok).map((c) => c.name) : [];

describe('accuracy faults on the device, --quick suite', () => {
  it('1e-4 in the GEMM and 1.2e-4 in the Winograd kernels: every GEMM and Winograd result inaccurate, the FFT unaffected', async () => {
    const run = await runWith({ gemmRelError: 1e-4, winogradKernelError: 1.2e-4 }, ['--quick', '--filter', 'im2col-gemm|winograd|fft']);
    const gemm = byAlgorithm(run, 'im2col-gemm');
    allInaccurate(gemm, run.cases.length);
    // Caught by the systematic-error check (the worst-case bound per element lets it pass).
    for (const r of gemm) expect(checkNames(r), r.caseId).toContain('systematic error');
    const wino = byAlgorithm(run, 'winograd');
    allInaccurate(wino, 4 * 5);
    expect(new Set(wino.filter((r) => r.state === 'inaccurate').map((r) => r.variant))).toContain('conv3x3-winograd-f8x8-f32');
    allPassed(byAlgorithm(run, 'fft'), 2 * 5);
  });

  it('bfloat16 weights in the GEMM and a sign slip in the Cook-Toom generator', async () => {
    const run = await runWith({ gemmBf16Weights: true, cookToomSignFlip: true }, ['--quick', '--filter', 'im2col-gemm|winograd|direct-naive']);
    allInaccurate(byAlgorithm(run, 'im2col-gemm'), run.cases.length);
    const wino = byAlgorithm(run, 'winograd');
    allInaccurate(wino, 4 * 5);
    for (const r of wino) {
      if (r.state !== 'inaccurate') continue;
      expect(checkNames(r)).toEqual(expect.arrayContaining(['budget', 'transforms']));
      expect(r.info?.transforms).toMatch(/failed their exact verification/);
    }
    allPassed(byAlgorithm(run, 'direct'), run.cases.length);
  });
});

describe('accuracy faults on the device, full-size layers', () => {
  // --no-baselines: only the two faulty kernels (naming F(8x8) would add the accuracy decision's references, which pass).
  const cases = ['--case', 'vgg16.conv3_2,vgg16.conv5_1', '--variant', 'conv-im2col-gemm-f32,conv3x3-winograd-f8x8-f32', '--no-baselines'];

  it('without faults the GEMM and F(8x8) pass on vgg16.conv3_2 and conv5_1', async () => {
    allPassed((await runWith(null, cases)).results, 4);
  });

  it('1e-4 in the GEMM and 1.2e-4 in F(8x8) are inaccurate on both', async () => {
    const run = await runWith({ gemmRelError: 1e-4, winogradKernelError: 1.2e-4 }, cases);
    allInaccurate(run.results, 4);
    // The worst-case bound per element lets 1e-4 through at these reduction lengths; the systematic-error check does not.
    for (const r of byAlgorithm(run, 'im2col-gemm')) {
      expect(checkNames(r), r.caseId).toContain('systematic error');
      expect(checkNames(r), r.caseId).not.toContain('per-element bound');
    }
  });

  it('bfloat16 weights in the GEMM are inaccurate on vgg16.conv5_1, where the per-element bound alone passes them', async () => {
    const run = await runWith({ gemmBf16Weights: true }, ['--case', 'vgg16.conv5_1', '--variant', 'conv-im2col-gemm-f32']);
    allInaccurate(run.results, 1);
    expect(checkNames(run.results[0]!)).toContain('error norm');
    expect(checkNames(run.results[0]!)).not.toContain('per-element bound');
  });
});
