/** What the terminal shows: the per-case lines of a CI log, the time estimate, the closing table and its legend. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RunResults, type CaseResult, type RunnerEvent } from '../core/contracts.js';
import { caseLine, clock, countsLine, fmtMs, Progress, summaryTable } from '../harness/progress.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/results/', import.meta.url));
const fixture = (name: string) => RunResults.parse(JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')));

/** A stream that keeps what is written (not a TTY: plain mode). */
function sink(): { stream: NodeJS.WriteStream; text: () => string } {
  let text = '';
  const w = new Writable({
    write(chunk, _enc, cb) {
      text += String(chunk);
      cb();
    },
  });
  return { stream: w as unknown as NodeJS.WriteStream, text: () => text };
}

afterEach(() => vi.useRealTimers());

describe('plain output (CI logs): one short line per case', () => {
  it('names the best variant and its figure, the counts and what errored, not every skip reason', () => {
    const run = fixture('rpi3-complete');
    const out = sink();
    const p = new Progress('plain', 'rpi3', out.stream);
    const ids = [...new Set(run.results.map((r) => r.caseId))];
    p.expect(ids.map((id) => run.results.filter((r) => r.caseId === id).length));
    ids.forEach((caseId, index) => {
      p.event({ type: 'case-start', caseId, index, total: ids.length } as RunnerEvent, null);
      for (const r of run.results.filter((x) => x.caseId === caseId)) p.event({ type: 'result', result: r } as unknown as RunnerEvent, r);
    });
    p.event({ type: 'done' } as RunnerEvent, null);
    const lines = out.text().trimEnd().split('\n');
    expect(lines).toHaveLength(ids.length);
    for (const [i, line] of lines.entries()) {
      expect(line).toMatch(new RegExp(`^\\[rpi3\\] \\[${i + 1}/${ids.length}\\] \\d+:\\d\\d `));
      expect(line.length).toBeLessThan(200);
      const rs = run.results.filter((r) => r.caseId === ids[i]);
      for (const r of rs.filter((x) => x.state === 'skipped')) if (r.state === 'skipped') expect(line).not.toContain(r.reason);
      for (const r of rs.filter((x) => x.state === 'errored')) expect(line).toContain(`ERRORED: ${r.variant}`);
    }
    expect(out.text()).toMatch(/best \S+ [\d.]+ (ms|us|s)/);
  });

  it('caseLine picks the fastest timed variant and counts every state', () => {
    const rs = fixture('rpi3-complete').results;
    const caseId = rs.find((r) => r.state === 'passed')!.caseId;
    const mine = rs.filter((r) => r.caseId === caseId);
    const timed = mine.filter((r): r is Extract<CaseResult, { state: 'passed' | 'inaccurate' }> => r.state === 'passed' || r.state === 'inaccurate');
    const fastest = timed.reduce((a, b) => (b.timing.stats.median < a.timing.stats.median ? b : a));
    const line = caseLine(mine);
    expect(line).toContain(`best ${fastest.variant} `);
    expect(line).toContain(`${timed.filter((r) => r.state === 'passed').length} passed`);
  });

  it('says which ceilings it measures: one thread, then each --threads count (the same line came twice)', () => {
    const out = sink();
    const p = new Progress('plain', 'pi', out.stream);
    p.event({ type: 'phase', phase: 'ceilings', detail: 'measuring peak and bandwidth' } as RunnerEvent, null);
    p.event({ type: 'phase', phase: 'ceilings', detail: 'measuring peak and bandwidth on 2 threads' } as RunnerEvent, null);
    expect(out.text()).toBe(
      "[pi] measuring the device's ceilings (peak, bandwidth sweep)\n[pi] measuring the device's ceilings on 2 threads (peak, bandwidth sweep)\n",
    );
  });

  it('prints the measured ceilings line (also on a terminal, where it goes above the bar)', () => {
    const out = sink();
    new Progress('plain', 'pi', out.stream).event({ type: 'ceilings', measured: { peakGflops: 12.34, dramGbps: 3.21 } } as RunnerEvent, null);
    expect(out.text()).toBe('[pi] measured peak 12.3 GFLOP/s (f32 SIMD, 1 thread), DRAM 3.2 GB/s\n');
  });
});

describe('durations on the terminal', () => {
  it('a time under a microsecond is shown in ns, never as 0.0 us', () => {
    expect(fmtMs(0.00004)).toBe('40 ns');
    expect(fmtMs(0.0000004)).toBe('0.40 ns');
    expect(fmtMs(0.0004)).toBe('400 ns');
    expect(fmtMs(0.0025)).toBe('2.5 us');
    expect(fmtMs(0.05)).toBe('50.0 us');
    expect(fmtMs(0.5)).toBe('0.500 ms');
    expect(fmtMs(2500)).toBe('2.50 s');
    for (const ms of [1e-5, 4e-5, 1e-7, 4.9e-5]) expect(fmtMs(ms)).not.toMatch(/^0\.0 /);
  });
});

describe('elapsed time and the device lock', () => {
  it('a wait for the lock is said once and not counted in the elapsed time', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    try {
      const out = sink();
      const p = new Progress('plain', 'board', out.stream);
      // Told before each new try: the total so far.
      vi.setSystemTime(1_000_000 + 60_000);
      p.lockWaited(60_000);
      vi.setSystemTime(1_000_000 + 95_000);
      p.lockWaited(90_000);
      expect(p.timeText()).toBe('0:05 elapsed');
      expect(out.text()).toBe('');
      p.event({ type: 'phase', phase: 'probe' }, null);
      p.event({ type: 'phase', phase: 'ceilings' }, null);
      expect(out.text().match(/waited/g)).toHaveLength(1);
      expect(out.text()).toContain('[board] waited 1:30 for the device lock (not counted in the elapsed time)');
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('time left', () => {
  it('is estimated from the time per planned variant once a case has finished', () => {
    vi.useFakeTimers({ now: 0 });
    const p = new Progress('plain', 'd', sink().stream);
    p.expect([2, 6, 2]);
    vi.setSystemTime(10_000);
    p.event({ type: 'case-start', caseId: 'a', index: 0, total: 3 } as RunnerEvent, null);
    expect(p.timeText()).toBe('0:10 elapsed');
    vi.setSystemTime(30_000);
    p.event({ type: 'case-start', caseId: 'b', index: 1, total: 3 } as RunnerEvent, null);
    // 20 s for 2 variants: 6 + 2 variants left take 80 s.
    expect(p.timeText()).toBe('0:30 elapsed, ~1:20 left');
    expect(clock(3_725_000)).toBe('1:02:05');
  });
});

describe('summary table', () => {
  for (const name of ['rpi3-complete', 'winograd-decision']) {
    for (const width of [80, 100, 200]) {
      it(`${name}: fits ${width} columns, grouped by case, with the legend under it`, () => {
        const run = fixture(name);
        const text = summaryTable(run, width);
        for (const line of text.split('\n')) expect(line.length, line).toBeLessThanOrEqual(width);
        expect(text).toMatch(/^#1 /m);
        expect(text).toContain('% roof: share of the');
        expect(text).toContain('rel L2: relative L2 error');
        const timed = run.results.filter((r) => r.state === 'passed' || r.state === 'inaccurate');
        if (timed.some((r) => 'timing' in r && r.timing.noisy)) expect(text).toMatch(/^~ noisy/m);
        if (timed.some((r) => 'perf' in r && (r.perf.pctMeasured ?? r.perf.pctTheoretical ?? 0) > 100)) expect(text).toContain('above 100%');
      });
    }
  }

  it('a run with @tN rows says their % roof is against the roofline on N threads (it read "the single-thread roof")', () => {
    const text = summaryTable(fixture('v3-threads-1-2'), 120);
    expect(text).toMatch(/% roof: share of the measured roofline at the case's intensity \(a @tN row: the roofline on N threads\)/);
    expect(text).not.toContain('single-thread WebAssembly roof');
    expect(summaryTable(fixture('rpi3-complete'), 120)).not.toContain('@tN');
  });

  it('a native kernel shows its share of the native roof, marked n and explained under the table', () => {
    const run = fixture('rpi3-complete');
    const plain = summaryTable(run, 100);
    expect(plain).not.toContain('n: a native kernel');
    const r = run.results.find((x) => x.state === 'passed')!;
    if (r.state !== 'passed') throw new Error('fixture has no passed result');
    r.perf.pctNative = 42.4;
    const text = summaryTable(run, 100);
    expect(text).toMatch(new RegExp(`${r.variant.slice(0, 12)}.* 42%n `));
    expect(text).toContain("n: a native kernel's share of the native roof");
  });

  it('pairs an interrupted run never reached are "not measured", not "not applicable"', () => {
    const run = fixture('rpi3-complete');
    const [first, second] = run.results;
    const pick = (r: (typeof run.results)[number]) => ({ caseId: r.caseId, variant: r.variant, algorithm: r.algorithm, dtype: r.dtype, cost: r.cost });
    if (second?.state !== 'passed') throw new Error('fixture: the second result should be passed');
    run.results = [
      // a skipped result carries the identity fields only; an accuracy-only one also its accuracy
      { ...pick(first!), state: 'skipped', reason: 'not measured: the run was interrupted (SIGINT)' },
      { ...pick(second!), state: 'skipped', reason: 'needs groups = 1' },
      {
        ...pick(second!),
        variant: 'conv-emulated-fp16arith-f16',
        state: 'skipped',
        reason: 'accuracy only: fp16 arithmetic emulated',
        accuracy: second!.accuracy,
      },
    ] as typeof run.results;
    const text = summaryTable(run, 200);
    expect(text).toContain(`not measured (the run stopped before them): ${first!.variant} x1`);
    expect(text).toContain(`skipped (not applicable; reasons in the report): ${second!.variant} x1`);
    expect(text).not.toMatch(new RegExp(`not applicable[^\n]*${first!.variant}`));
    expect(text).toContain('accuracy only, not timed (checked; in the report): conv-emulated-fp16arith-f16 x1');
  });

  /** The result, errored in `phase` with `error` (its identity fields kept). */
  const erroredAs = (r: CaseResult, phase: string, error: string) =>
    ({ caseId: r.caseId, variant: r.variant, algorithm: r.algorithm, dtype: r.dtype, cost: r.cost, state: 'errored', phase, error }) as CaseResult;

  it('a run where every pair failed the same way (no SSH agent) says so in one line, not a row per pair', () => {
    const run = fixture('rpi3-complete');
    const msg = 'not measured: device closed uses the SSH agent but SSH_AUTH_SOCK is not set: start ssh-agent and ssh-add your key';
    run.results = run.results.map((r) => erroredAs(r, 'transport', msg));
    const text = summaryTable(run, 80);
    expect(text.split('\n').length).toBeLessThanOrEqual(3);
    expect(text.replace(/\n\s*/g, ' ')).toBe(`  all ${run.results.length} case x variant pairs errored in transport: ${msg}`);
    for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(80);
  });

  it("an errored row keeps its variant and state; only the error's end is cut", () => {
    const run = fixture('rpi3-complete');
    const i = run.results.findIndex((x) => x.state === 'passed');
    const r = run.results[i]!;
    run.results[i] = erroredAs(r, 'run', `boom ${'x'.repeat(200)}`);
    const row = summaryTable(run, 100)
      .split('\n')
      .find((l) => l.includes('boom'))!;
    expect(row).toMatch(new RegExp(`^  ${r.variant} .* errored in run: boom x+…$`));
    expect(row.length).toBeLessThanOrEqual(100);
  });

  it('the closing counts keep the pairs an interrupted run never reached apart from the skipped ones', () => {
    const run = fixture('rpi3-complete');
    const [a, b] = run.results;
    const skippedAs = (r: CaseResult, reason: string) =>
      ({ caseId: r.caseId, variant: r.variant, algorithm: r.algorithm, dtype: r.dtype, cost: r.cost, state: 'skipped', reason }) as CaseResult;
    const passed = run.results.filter((r) => r.state === 'passed').length;
    const line = countsLine([...run.results, skippedAs(a!, 'not measured: the run was interrupted (SIGINT)'), skippedAs(b!, 'not a depthwise layer')]);
    expect(line).toMatch(new RegExp(`^${passed} passed, \\d+ inaccurate, \\d+ errored, \\d+ skipped, 1 not measured$`));
    expect(countsLine([skippedAs(b!, 'not a depthwise layer')])).toBe('0 passed, 0 inaccurate, 0 errored, 1 skipped');
  });

  it('a long variant name is shortened in the middle to fit, never pushing the columns out', () => {
    const run = fixture('rpi3-complete');
    const r = run.results.find((x) => x.state === 'passed')!;
    r.variant = `conv-${'very-long-'.repeat(8)}f32`;
    const text = summaryTable(run, 80);
    expect(text).toMatch(/conv-very-long.*….*long-f32/);
    for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(80);
  });
});
