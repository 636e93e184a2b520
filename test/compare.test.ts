import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isTimed, type TimedResult as Timed, RunResults } from '../core/contracts.js';
import { computeStatistics, isNoisy } from '../core/stats.js';
import {
  compareResults,
  compareRuns,
  compareSamples,
  DEFAULT_COMPARE_OPTIONS,
  estimateRunNoise,
  formatMarkdown,
  formatTable,
  pooledDrift,
  roundDrift,
  runDifferences,
  sameMeasurement,
  toJson,
} from '../harness/history/compare.js';
import { erfc, exactUCounts, mannWhitney, normalQuantile, normalUpperTail, shiftCi } from '../harness/history/mannwhitney.js';
import { drawSamples, rng } from './helpers/synthetic.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/results/', import.meta.url));
const fixture = (name: string): RunResults => RunResults.parse(JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')));

/**
 * A copy of `run` whose timed results carry fresh samples: log-normal draws
 * around the original median (within-run spread `sigma`, default 2% like the
 * fixture's cv; 3% of samples slow outliers), the whole run at a
 * level drawn with sd `runSigma`, and `slow(variant)` multiplying the median.
 */
function resample(
  run: RunResults,
  seed: number,
  o: { sigma?: number; runSigma?: number; n?: number; slow?: (r: Timed) => number; runId?: string } = {},
): RunResults {
  const rand = rng(seed);
  const level = Math.exp((o.runSigma ?? 0.005) * (drawSamples(1, 1, 1, rand, 0).map(Math.log)[0] ?? 0));
  const copy = structuredClone(run);
  copy.runId = o.runId ?? `${run.runId}-s${seed}`;
  copy.results = copy.results.map((r) => {
    if (!isTimed(r)) return r;
    const median = r.timing.stats.median * level * (o.slow?.(r) ?? 1);
    const samples = drawSamples(o.n ?? 25, median, o.sigma ?? 0.02, rand, 0.03);
    const stats = computeStatistics(samples);
    return { ...r, timing: { ...r.timing, samples, stats, noisy: isNoisy(stats, copy.options.cvTarget) } };
  });
  return RunResults.parse(copy);
}

describe('normal distribution helpers', () => {
  it('erfc and the upper tail match tabulated values', () => {
    expect(erfc(0)).toBeCloseTo(1, 7);
    expect(erfc(1)).toBeCloseTo(0.157299207, 7);
    expect(erfc(-1)).toBeCloseTo(1.842700793, 7);
    expect(normalUpperTail(1.959963985)).toBeCloseTo(0.025, 7);
    expect(normalUpperTail(3) / 0.001349898).toBeCloseTo(1, 5);
  });
  it('normalQuantile inverts the CDF', () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963985, 7);
    expect(normalQuantile(0.995)).toBeCloseTo(2.575829304, 7);
    expect(normalQuantile(0.01)).toBeCloseTo(-2.326347874, 7);
    expect(normalQuantile(0.5)).toBeCloseTo(0, 12);
  });
});

describe('Mann-Whitney U', () => {
  // Reference values: scipy.stats.mannwhitneyu(y, x, alternative='two-sided'), exact / asymptotic with continuity.
  it('exact distribution: complete separation of 5 and 5 gives p = 2/252', () => {
    const r = mannWhitney([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]);
    expect(r.method).toBe('exact');
    expect(r.u).toBe(25);
    expect(r.p).toBeCloseTo(2 / 252, 12);
  });
  it('exact distribution for unequal sizes matches scipy', () => {
    const r = mannWhitney([1.1, 2.2, 3.3, 4.4], [0.5, 2.5, 3.9, 5.1, 6.2]);
    expect(r.u).toBe(13);
    expect(r.p).toBeCloseTo(0.5555555555555556, 12);
  });
  it('ties: normal approximation with tie-corrected variance matches scipy', () => {
    const r = mannWhitney([1, 2, 2, 3, 3, 3, 4], [2, 3, 4, 4, 5, 5, 6, 7]);
    expect(r.method).toBe('normal');
    expect(r.ties).toBe(true);
    expect(r.u).toBe(47.5);
    expect(r.p / 0.025279736885893914).toBeCloseTo(1, 5);
  });
  it('large samples use the normal approximation (scipy asymptotic)', () => {
    const x = Array.from({ length: 30 }, (_, i) => Math.sin(i) + i * 0.01);
    const y = Array.from({ length: 28 }, (_, i) => Math.cos(i) + 0.3);
    const r = mannWhitney(x, y);
    expect(r.method).toBe('normal');
    expect(r.u).toBe(482);
    expect(r.p / 0.3385804324724784).toBeCloseTo(1, 5);
  });
  it('the exact U counts sum to C(m+n, m) and are symmetric', () => {
    const c = exactUCounts(4, 6);
    expect(c.reduce((a, b) => a + b, 0)).toBe(210);
    for (let u = 0; u <= 24; u++) expect(c[u]).toBe(c[24 - u]);
  });
  it('refuses empty or non-finite samples', () => {
    expect(() => mannWhitney([], [1])).toThrow(/both samples/);
    expect(() => mannWhitney([1, NaN], [1])).toThrow(/finite/);
  });
});

describe('Hodges-Lehmann shift interval', () => {
  it('uses the exact critical rank for small samples (5 and 5 at 95%: ranks 3 and 23)', () => {
    const ci = shiftCi([1, 2, 3, 4, 5], [6, 7, 8, 9, 10], 0.95);
    expect(ci.estimate).toBe(5);
    expect(ci.ranks).toEqual([3, 23]);
    expect([ci.low, ci.high]).toEqual([2, 8]);
    expect(ci.reached).toBe(true);
  });
  it('says when the level cannot be reached', () => {
    const ci = shiftCi([1, 2, 3], [4, 5, 6], 0.99);
    expect(ci.reached).toBe(false);
  });
  it('covers the true shift at about its level (normal approximation, 200 simulations)', () => {
    const rand = rng(11);
    let covered = 0;
    for (let k = 0; k < 200; k++) {
      const x = drawSamples(25, 1, 0.05, rand, 0).map(Math.log);
      const y = drawSamples(25, 1.1, 0.05, rand, 0).map(Math.log);
      const ci = shiftCi(x, y, 0.9);
      if (ci.low <= Math.log(1.1) && Math.log(1.1) <= ci.high) covered++;
    }
    expect(covered / 200).toBeGreaterThan(0.84);
    expect(covered / 200).toBeLessThan(0.97);
  });
});

describe('compareSamples', () => {
  const rand = rng(5);
  const base = drawSamples(30, 10, 0.01, rand, 0);
  it('finds a clear 10% slowdown', () => {
    const c = compareSamples(base, drawSamples(30, 11, 0.01, rand, 0));
    expect(c.state).toBe('regressed');
    expect(c.ratio).toBeGreaterThan(1.08);
    expect(c.ratio).toBeLessThan(1.12);
    expect(c.ciLow!).toBeGreaterThan(1.03);
    expect(c.p!).toBeLessThan(0.01);
    expect(c.reason).toMatch(/^slower/);
  });
  it('finds a clear 10% speed-up', () => {
    expect(compareSamples(base, drawSamples(30, 9, 0.01, rand, 0)).state).toBe('improved');
  });
  it('calls a tight 1% difference unchanged even when it is significant', () => {
    const c = compareSamples(base, drawSamples(30, 10.1, 0.002, rand, 0), { ...DEFAULT_COMPARE_OPTIONS, runNoise: 0.002 });
    expect(c.state).toBe('unchanged');
  });
  it('calls a significant change whose interval straddles the threshold noisy, not regressed', () => {
    // +3.5% with wide spread: p small, but the interval reaches below +3%.
    const x = drawSamples(40, 10, 0.03, rng(8), 0);
    const y = drawSamples(40, 10.35, 0.03, rng(9), 0);
    const c = compareSamples(x, y);
    expect(c.p!).toBeLessThan(0.01);
    expect(c.state).toBe('noisy');
  });
  it('guards against too few samples', () => {
    const c = compareSamples([1, 1.1, 1.2, 1.3], [2, 2.1, 2.2, 2.3, 2.4]);
    expect(c.state).toBe('noisy');
    expect(c.reason).toMatch(/insufficient samples \(4 and 5; need 5 each\)/);
    expect(c.p).toBeNull();
  });
  it('contention guard: more slow samples from other load is not a regression; a slower kernel is', () => {
    const rand = rng(12);
    // Bimodal timings of a busy machine: a fast mode (the code) and a 3x slower mode (preempted).
    const mix = (n: number, fast: number, shareSlow: number) => drawSamples(n, 1, 0.01, rand, 0).map((v) => v * fast * (rand() < shareSlow ? 3 : 1));
    const base = mix(60, 1, 0.1);
    const busier = compareSamples(base, mix(60, 1, 0.8));
    expect(busier.p!).toBeLessThan(0.01);
    expect(busier.ciLow!).toBeGreaterThan(1.03);
    expect(busier.state).toBe('noisy');
    expect(busier.reason).toMatch(/the fastest samples moved only/);
    const slower = compareSamples(base, mix(60, 1.1, 0.1));
    expect(slower.state).toBe('regressed');
    expect(slower.fastRatio!).toBeGreaterThan(1.05);
    // Without the guard the busier run would be called a regression.
    expect(compareSamples(base, mix(60, 1, 0.8), { ...DEFAULT_COMPARE_OPTIONS, guardQuantile: 0 }).state).toBe('regressed');
  });

  it('run-to-run noise widens the interval: a 4% level shift between two tight runs is not a regression', () => {
    const x = drawSamples(60, 10, 0.003, rng(1), 0);
    const y = drawSamples(60, 10.4, 0.003, rng(2), 0);
    expect(compareSamples(x, y, { ...DEFAULT_COMPARE_OPTIONS, runNoise: 0 }).state).toBe('regressed');
    const c = compareSamples(x, y);
    expect(c.state).toBe('noisy');
    expect(c.ciLow!).toBeLessThan(c.ciLowWithin!);
    expect(c.runNoiseSource).toBe('default');
    const fromHistory = compareSamples(x, y, DEFAULT_COMPARE_OPTIONS, 0.001);
    expect(fromHistory.state).toBe('regressed');
    expect(fromHistory.runNoiseSource).toBe('history');
  });
});

describe('estimateRunNoise', () => {
  it('estimates the sd of run levels and ignores a step', () => {
    const rand = rng(3);
    const levels = drawSamples(40, 1, 0.02, rand, 0);
    const est = estimateRunNoise(levels)!;
    expect(est).toBeGreaterThan(0.012);
    expect(est).toBeLessThan(0.03);
    const stepped = levels.map((v, i) => (i >= 20 ? v * 1.5 : v));
    expect(Math.abs(estimateRunNoise(stepped)! - est)).toBeLessThan(0.006);
  });
  it('needs enough runs', () => {
    expect(estimateRunNoise([1, 1.01, 0.99])).toBeNull();
  });
});

describe('emulated devices', () => {
  it('compare accuracy only: a 30% slowdown is not a regression, an accuracy loss is', () => {
    const emu = fixture('injection');
    expect(emu.device.emulated).toBe(true);
    const a = resample(emu, 1);
    const b = resample(emu, 2, { slow: () => 1.3 });
    const c = compareRuns({ run: a }, { run: b });
    expect(c.regressions).toBe(0);
    expect(c.notes.join('\n')).toMatch(/emulated device: timings .* not compared/);
    const worse: RunResults = JSON.parse(JSON.stringify(b)) as RunResults;
    const victim = worse.results.find((r) => r.state === 'passed');
    if (!victim || victim.state !== 'passed') throw new Error('fixture has no passed result');
    (victim as { state: string }).state = 'inaccurate';
    expect(compareRuns({ run: a }, { run: worse }).regressions).toBe(1);
  });
});

describe('compareRuns on resampled fixtures', () => {
  const rpi3 = fixture('rpi3-complete');

  it('A/A: 20 pairs of runs drawn from one distribution produce no regression', () => {
    let regressed = 0;
    let improved = 0;
    let unchanged = 0;
    for (let k = 0; k < 20; k++) {
      const a = resample(rpi3, 1000 + 2 * k);
      const b = resample(rpi3, 1001 + 2 * k);
      const c = compareRuns({ run: a }, { run: b });
      regressed += c.counts.regressed;
      improved += c.counts.improved;
      unchanged += c.counts.unchanged;
      expect(c.counts.new + c.counts.gone).toBe(0);
    }
    expect(regressed).toBe(0);
    expect(improved).toBe(0);
    expect(unchanged).toBeGreaterThan(0); // the comparison did look at the series
  });

  it('an interrupted newer run that measured nothing is "nothing compared", not a pass', () => {
    const a = resample(rpi3, 4000);
    const b = structuredClone(a);
    b.runId = 'interrupted-run';
    b.startedAt = new Date(Date.parse(a.startedAt) + 3_600_000).toISOString();
    b.status = 'interrupted';
    b.statusDetail = 'interrupted by SIGINT';
    b.results = b.results.map((r) => {
      const { caseId, variant, algorithm, dtype, cost } = r;
      return { caseId, variant, algorithm, dtype, cost, state: 'skipped' as const, reason: 'not measured: the run was interrupted (SIGINT)' };
    });
    const c = compareRuns({ run: a }, { run: RunResults.parse(b) });
    expect(c.regressions).toBe(0);
    expect(c.nothingCompared).toMatch(/the newer run measured none of the older run's \d+ series \(it is interrupted: interrupted by SIGINT\)/);
    expect(formatTable(c)).toMatch(/NOTHING COMPARED: .*; not a pass\n$/);
    expect(formatMarkdown(c)).toMatch(/^### 🔴 roofbench: .*nothing compared/);
    // a run that did measure is judged as before
    expect(compareRuns({ run: a }, { run: resample(rpi3, 4001) }).nothingCompared).toBeNull();
  });

  it('finds a 10% slowdown injected into one variant, and only there', () => {
    for (let k = 0; k < 5; k++) {
      const a = resample(rpi3, 2000 + k);
      const b = resample(rpi3, 3000 + k, { slow: (r) => (r.variant === 'conv-im2col-gemm-f32' ? 1.1 : 1) });
      const c = compareRuns({ run: a }, { run: b });
      const target = c.series.filter((s) => s.variant === 'conv-im2col-gemm-f32' && s.timing);
      expect(target.length).toBeGreaterThan(5);
      for (const s of target) {
        expect(s.state, s.reason).toBe('regressed');
        expect(s.timing!.ratio).toBeGreaterThan(1.05);
        expect(s.timing!.ratio).toBeLessThan(1.15);
      }
      expect(c.series.filter((s) => s.state === 'regressed' && s.variant !== 'conv-im2col-gemm-f32')).toEqual([]);
      expect(c.regressions).toBe(target.length);
    }
  });

  it('an accuracy regression (passed -> inaccurate) is a regression whatever the timing', () => {
    const a = resample(rpi3, 1);
    const b = resample(rpi3, 2);
    const i = b.results.findIndex((r) => r.state === 'passed' && r.variant === 'conv3x3-winograd-f2x2-f32');
    const r = b.results[i] as Timed;
    b.results[i] = { ...r, state: 'inaccurate', accuracy: { ...r.accuracy, relL2: 0.5, tolerance: { ...r.accuracy.tolerance, metric: 'relL2', limit: 1e-4 } } };
    const c = compareRuns({ run: a }, { run: b });
    const s = c.series.find((x) => x.caseId === r.caseId && x.variant === r.variant)!;
    expect(s.state).toBe('regressed');
    expect(s.accuracy?.change).toBe('regressed');
    expect(s.reason).toMatch(/accuracy: now inaccurate \(relL2 5\.00e-1 > limit 1\.00e-4/);
  });

  it('timed -> errored regresses, errored -> timed improves, skipped in both is not listed', () => {
    const a = resample(rpi3, 1);
    const b = resample(rpi3, 2);
    const i = b.results.findIndex((r) => r.state === 'passed');
    const r = b.results[i]!;
    b.results[i] = {
      caseId: r.caseId,
      variant: r.variant,
      algorithm: r.algorithm,
      dtype: r.dtype,
      cost: r.cost,
      state: 'errored',
      phase: 'run',
      error: 'RuntimeError: unreachable',
    };
    const c = compareRuns({ run: a }, { run: b });
    expect(c.series.find((x) => x.caseId === r.caseId && x.variant === r.variant)?.state).toBe('regressed');
    const back = compareRuns({ run: b }, { run: a });
    expect(back.series.find((x) => x.caseId === r.caseId && x.variant === r.variant)?.state).toBe('improved');
    const skippedBoth = rpi3.results.filter((x) => x.state === 'skipped').length;
    expect(skippedBoth).toBeGreaterThan(0);
    expect(c.series.length).toBe(rpi3.results.length - skippedBoth);
  });

  it('new and gone series', () => {
    const a = resample(rpi3, 1);
    const b = resample(rpi3, 2);
    const dropped = a.results.find((r) => r.state === 'passed')!;
    a.results = a.results.filter((r) => r !== dropped);
    const c = compareRuns({ run: a }, { run: b });
    expect(c.series.find((x) => x.caseId === dropped.caseId && x.variant === dropped.variant)?.state).toBe('new');
    const back = compareRuns({ run: b }, { run: a });
    expect(back.series.find((x) => x.caseId === dropped.caseId && x.variant === dropped.variant)?.state).toBe('gone');
  });

  it('a device identity change starts new series and says so; --across-identity compares anyway', () => {
    const a = resample(rpi3, 1);
    const b = resample(rpi3, 2, { slow: (r) => (r.variant === 'conv-im2col-gemm-f32' ? 1.2 : 1) });
    b.probe = { ...b.probe!, runtime: { ...b.probe!.runtime, node: 'v20.19.0' } };
    const c = compareRuns({ run: a }, { run: b });
    expect(c.identityChanged).toBe(true);
    expect(c.identityChanges).toEqual(['Node: v18.19.0 -> v20.19.0']);
    expect(c.counts.regressed).toBe(0);
    expect(c.counts.new).toBe(c.counts.gone);
    expect(c.notes.join('\n')).toMatch(/device identity changed \(Node: v18\.19\.0 -> v20\.19\.0\): a new series starts/);
    const across = compareRuns({ run: a }, { run: b }, { acrossIdentity: true });
    expect(across.counts.new + across.counts.gone).toBe(0);
    expect(across.counts.regressed).toBeGreaterThan(0);
  });

  it('annotations between the runs acknowledge regressions (not counted)', () => {
    const a = resample(rpi3, 1);
    const b = resample(rpi3, 2, { slow: (r) => (r.variant === 'conv-im2col-gemm-f32' ? 1.2 : 1) });
    const c = compareRuns({ run: a }, { run: b }, { annotations: [{ device: 'rpi3', at: b.startedAt, message: 'new kernel build', seriesKey: null }] });
    expect(c.counts.regressed).toBeGreaterThan(0);
    expect(c.regressions).toBe(0);
    expect(formatTable(c)).toMatch(/no unacknowledged regression/);
  });

  it('renders a table, markdown and JSON; markdown escapes hostile names', () => {
    // The injection fixture is an emulated device (timings not compared): compare it as real hardware here.
    const emu = fixture('injection');
    const inj = { ...emu, device: { ...emu.device, emulated: false } };
    const a = resample(inj, 1);
    const b = resample(inj, 2, { slow: () => 1.3 });
    const c = compareRuns({ run: a }, { run: b });
    expect(c.regressions).toBe(1);
    const md = formatMarkdown(c);
    // Outside code spans (where markdown shows text literally) no markup gets through.
    const prose = md.replace(/`[^`]*`/g, '');
    expect(prose).not.toMatch(/[<>]/);
    expect(prose).toMatch(/&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
    expect(md.match(/`/g)!.length % 2).toBe(0);
    expect(md).toMatch(/\| \*\*regressed\*\* \| `conv\/evil<script>alert\(1\)<\/script>"&' conv-direct-naive-f32` \|/);
    const table = formatTable(c);
    expect(table).toMatch(/REGRESSED: 1 series/);
    const json = toJson(c) as { series: { state: string; timing: { ratio: number } }[]; regressions: number };
    expect(json.regressions).toBe(1);
    expect(json.series[0]!.timing.ratio).toBeGreaterThan(1.2);
  });
});

describe('compareResults', () => {
  it('errored in both runs is unchanged', () => {
    const r = fixture('rpi3-complete').results.find((x) => x.state === 'errored')!;
    expect(compareResults(r, r).state).toBe('unchanged');
  });
});

describe('no verdict from a busy machine or a noisy series; noise and differences from the data', () => {
  const rpi3 = fixture('rpi3-complete');
  /** The health snapshot a runner that saw `otherCores` of other load writes at the end of its run. */
  const loaded = (run: RunResults, otherCores: number, maxCase = otherCores): RunResults => ({
    ...run,
    health: [
      ...run.health,
      {
        at: run.startedAt,
        when: 'after',
        temperatureC: null,
        governor: null,
        freqMHz: null,
        throttled: null,
        loadAvg: [6.2, 5, 4],
        cpu: { seconds: 60, otherCores, maxCaseOtherCores: maxCase, maxCase: 'conv/vgg16.conv3_2', steal: 0, maxLoadAvg1: 6.2 },
      },
    ],
  });

  it('a contended head run: a 20% slowdown gets no verdict, says why, and an accuracy loss still counts', () => {
    const a = loaded(resample(rpi3, 1), 0.05);
    const slower = resample(rpi3, 2, { slow: (r) => (r.variant === 'conv-im2col-gemm-f32' ? 1.2 : 1) });
    const b = loaded(slower, 1.4);
    const c = compareRuns({ run: a }, { run: b });
    expect(c.contention.head?.contended).toBe(true);
    expect(c.contention.base?.contended).toBe(false);
    expect(c.withheld).toMatch(/^the head run was contended: other processes used 1\.40 cores on average.*load average up to 6\.2/);
    expect(c.counts.regressed).toBe(0);
    expect(c.regressions).toBe(0);
    const s = c.series.find((x) => x.variant === 'conv-im2col-gemm-f32' && x.timing)!;
    expect(s.state).toBe('noisy');
    expect(s.reason).toMatch(/^no verdict: the head run was contended.*; the samples alone say slower: \+/);
    expect(formatTable(c)).toMatch(/no timing verdict possible: a run was contended/);
    expect(formatMarkdown(c)).toMatch(/^### 🟡 roofbench: rpi3: no timing verdict \(contended run\)/);
    // Accuracy does not depend on the load: passed -> inaccurate is still a regression.
    const i = b.results.findIndex((r) => r.state === 'passed' && r.variant === 'conv3x3-winograd-f2x2-f32');
    const r = b.results[i] as Timed;
    b.results[i] = { ...r, state: 'inaccurate', accuracy: { ...r.accuracy, relL2: 0.5 } };
    expect(compareRuns({ run: a }, { run: b }).regressions).toBe(1);
    // The same runs, both quiet: the slowdown is found.
    expect(compareRuns({ run: a }, { run: loaded(slower, 0.1) }).counts.regressed).toBeGreaterThan(0);
    // One busy case is enough; a higher limit accepts the load.
    expect(compareRuns({ run: a }, { run: loaded(slower, 0.1, 1.2) }).withheld).toMatch(/1\.20 cores during conv\/vgg16\.conv3_2/);
    expect(compareRuns({ run: a }, { run: b }, { contentionLimit: 2 }).withheld).toBeNull();
  });

  it("a series whose samples spread beyond the run's cv target gets no verdict; one outlier does not count", () => {
    const base = drawSamples(25, 10, 0.01, rng(5), 0);
    const slow = drawSamples(25, 12, 0.01, rng(6), 0);
    const spread = drawSamples(25, 12, 0.12, rng(7), 0);
    const run = resample(rpi3, 1);
    const r = run.results.find((x): x is Timed => isTimed(x))!;
    const withSamples = (xs: number[]): Timed => ({ ...r, timing: { ...r.timing, samples: xs, stats: computeStatistics(xs) } });
    expect(compareResults(withSamples(base), withSamples(slow)).state).toBe('regressed');
    const noisy = compareResults(withSamples(base), withSamples(spread));
    expect(noisy.state).toBe('noisy');
    expect(noisy.reason).toMatch(/no verdict: noisy samples \(robust spread head 1\d\.\d%/);
    const outlier = [...slow.slice(1), 40];
    expect(compareResults(withSamples(base), withSamples(outlier)).state).toBe('regressed');
  });

  it("run-to-run noise from the runs' interleaved rounds when there is no history", () => {
    // Rounds whose levels differ by 4% (drift) with 0.5% spread within: about 2-3% drift.
    const drifting = [...drawSamples(6, 10, 0.005, rng(1), 0), ...drawSamples(6, 10.4, 0.005, rng(2), 0), ...drawSamples(6, 9.8, 0.005, rng(3), 0)];
    const d = roundDrift(drifting, [6, 6, 6])!;
    expect(d.df).toBe(2);
    expect(Math.sqrt(d.ss / d.df)).toBeGreaterThan(0.015);
    expect(Math.sqrt(d.ss / d.df)).toBeLessThan(0.04);
    // Rounds that agree within their sampling noise: no drift.
    const steady = drawSamples(18, 10, 0.01, rng(4), 0);
    expect(pooledDrift([roundDrift(steady, [6, 6, 6])])).toBeLessThan(0.005);
    expect(roundDrift(steady, [18])).toBeNull();
    expect(roundDrift(steady, [5, 5])).toBeNull(); // does not describe these samples
    const c = compareSamples(
      steady,
      steady.map((x) => x * 1.1),
      DEFAULT_COMPARE_OPTIONS,
      null,
      0.02,
    );
    expect(c.runNoiseSource).toBe('rounds');
    expect(c.runNoise).toBe(0.02);
    // Stored results with rounds use them in compareRuns.
    const a = resample(rpi3, 1);
    for (const r of a.results) if (isTimed(r)) r.timing.samplesPerRound = [10, 10, 5];
    const cmp = compareRuns({ run: a }, { run: a });
    expect(cmp.series.filter((s) => s.timing).every((s) => s.timing?.runNoiseSource === 'rounds')).toBe(true);
    expect(formatTable(cmp)).toMatch(/from the runs' interleaved rounds: /);
  });

  it('says what differs between two runs and compares only what both measured alike', () => {
    const a = resample(rpi3, 1);
    const b = resample(rpi3, 2);
    expect(runDifferences(a, b)).toEqual([]);
    expect(sameMeasurement(a, b)).toBe(true);
    b.options = { ...b.options, targetMs: 150, minSamples: 5 };
    b.cases = b.cases.slice(1);
    b.results = b.results.filter((r) => r.caseId !== a.cases[0]!.id && r.variant !== 'convbiasrelu-separate-f32');
    const diff = runDifferences(a, b);
    expect(diff).toEqual([
      `targetMs ${a.options.targetMs} -> 150`,
      `minSamples ${a.options.minSamples} -> 5`,
      `1 case(s) only in the base run (${a.cases[0]!.id}): not compared`,
      'variant(s) only in the base run: convbiasrelu-separate-f32',
    ]);
    expect(sameMeasurement(a, b)).toBe(false);
    expect(compareRuns({ run: a }, { run: b }).notes.join('\n')).toMatch(/the runs differ, so only what both measured alike is compared: targetMs/);
  });
});
