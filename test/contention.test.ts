/**
 * Load from other processes during a run: measured on the device, recorded
 * with the health snapshots, a run marked contended past the limit, and
 * compare giving such a run no timing verdict (exit 0 for that reason alone).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RunResults, type CpuLoad, type Health } from '../core/contracts.js';
import { combineLoad, defaultContentionLimit, runContention } from '../harness/contention.js';
import { otherLoad, parseProcStat, type CpuSnapshot } from '../harness/runner/load.js';
import { bench, runProcess } from './helpers/cli.js';

const snap = (at: number, busyMs: number, totalMs: number, ownMs: number, stealMs: number | null = 0): CpuSnapshot => ({
  at,
  busyMs,
  totalMs,
  stealMs,
  ownMs,
  loadAvg1: 1,
});
const health = (cpu?: CpuLoad): Health => ({
  at: '2026-01-01T00:00:00Z',
  when: 'after',
  temperatureC: null,
  governor: null,
  freqMHz: null,
  throttled: null,
  loadAvg: [1, 1, 1],
  ...(cpu ? { cpu } : {}),
});
const load = (seconds: number, otherCores: number, maxCaseOtherCores = otherCores, steal: number | null = 0): CpuLoad => ({
  seconds,
  otherCores,
  maxCaseOtherCores,
  maxCase: 'conv/x',
  steal,
  maxLoadAvg1: 2.5,
});

describe("measuring other processes' CPU on the device", () => {
  it('parses /proc/stat (ticks of 10 ms; guest time is already in user)', () => {
    const p = parseProcStat('cpu  100 5 20 300 7 1 2 30 40 0\ncpu0 50 2 10 150 3 0 1 15 20 0\nintr 1 2\n');
    expect(p).toEqual({ busyMs: (100 + 5 + 20 + 1 + 2) * 10, totalMs: (128 + 300 + 7 + 30) * 10, stealMs: 300 });
    expect(parseProcStat('intr 1 2\n')).toBeNull();
    expect(parseProcStat('cpu  1 2 x\n')).toBeNull();
  });

  it('subtracts its own CPU time: the load of others, in cores, and the steal share', () => {
    // 2 s of wall time; the machine was busy 3 s of CPU, 1.8 s of it this run's.
    const l = otherLoad(snap(0, 1000, 10_000, 500), snap(2000, 4000, 14_000, 2300, 400));
    expect(l.seconds).toBe(2);
    expect(l.otherCores).toBeCloseTo(0.6, 12);
    expect(l.steal).toBeCloseTo(0.1, 12);
    expect(otherLoad(snap(0, 0, 0, 0, null), snap(1000, 500, 2000, 600, null))).toEqual({ seconds: 1, otherCores: 0, steal: null });
  });
});

describe('runContention', () => {
  const run = (cpu: CpuLoad[], cores = 2): RunResults =>
    ({ health: [health(), ...cpu.map((c) => health(c))], probe: { cpu: { cores } } }) as unknown as RunResults;

  it('no load recorded: unknown, not quiet', () => {
    expect(runContention(run([]))).toBeNull();
  });

  it('quiet, contended on average, in one case, or by steal; the limit grows with the cores', () => {
    expect(defaultContentionLimit(2)).toBe(0.5);
    expect(defaultContentionLimit(64)).toBeCloseTo(6.4, 12);
    const quiet = runContention(run([load(30, 0.1, 0.3)]))!;
    expect(quiet.contended).toBe(false);
    expect(quiet.reason).toMatch(
      /^quiet: other processes 0\.10 cores on average, up to 0\.30 cores in one case; load average up to 2\.5; steal 0\.0%; limit 0\.50 cores$/,
    );
    const busy = runContention(run([load(30, 1.4, 2)]))!;
    expect(busy.contended).toBe(true);
    expect(busy.reason).toBe(
      'contended: other processes used 1.40 cores on average, 2.00 cores during conv/x; load average up to 2.5 during the run (limit 0.50 cores)',
    );
    expect(runContention(run([load(30, 0.1, 0.9)]))?.reason).toMatch(/^contended: 0\.90 cores during conv\/x/);
    expect(runContention(run([load(30, 0, 0, 0.2)]))?.reason).toMatch(/^contended: the hypervisor stole 20\.0% of the CPU time/);
    expect(runContention(run([load(30, 1.4)], 64))?.contended).toBe(false);
    expect(runContention(run([load(30, 1.4)]), 2)?.contended).toBe(false);
  });

  it('combines stretches of the run weighted by their length', () => {
    const c = combineLoad([load(10, 1), load(30, 0, 0.5, null), load(0, 9)])!;
    expect(c.seconds).toBe(40);
    expect(c.otherCores).toBeCloseTo(0.25, 12);
    expect(c.maxCaseOtherCores).toBe(1);
    expect(c.steal).toBe(0);
  });
});

describe('a real run with a CPU hog started during it', () => {
  const hogs: ChildProcess[] = [];
  afterEach(() => {
    for (const h of hogs.splice(0)) h.kill('SIGKILL');
  });

  it('is marked contended, and compare gives it no verdict, exit 0, even for an injected 50% slowdown', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roofbench-contention-'));
    const args = [
      '--quick',
      '--case',
      'vgg16.conv3_2,mobilenet_v1.conv_pw_3',
      '--variant',
      'conv-im2col-gemm-f32',
      '--no-ceilings',
      '--no-history',
      '--target-ms',
      '100',
      '--json',
    ];
    const a = await bench([...args, '--out', join(dir, 'a')], { timeoutMs: 300_000 });
    expect(a.code, a.stderr).toBe(0);
    // One busy loop per core: whatever else the machine runs, the run sees at least a core of other load.
    for (let i = 0; i < cpus().length; i++) hogs.push(spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }));
    const b = await bench([...args, '--out', join(dir, 'b')], {
      timeoutMs: 300_000,
      env: { ROOFBENCH_TEST_FAULTS: JSON.stringify({ slowdown: { variant: 'conv-im2col-gemm-f32', factor: 1.5 } }) },
    });
    for (const h of hogs.splice(0)) h.kill('SIGKILL');
    expect(b.code, b.stderr).toBe(0);
    const run = RunResults.parse(JSON.parse(readFileSync(join(dir, 'b', 'results.json'), 'utf8')));
    const after = run.health.at(-1);
    expect(after?.when).toBe('after');
    expect(after?.cpu?.otherCores).toBeGreaterThan(0.5);
    expect(run.contention?.contended).toBe(true);
    expect(run.contention?.reason).toMatch(/^contended: other processes used \d+\.\d+ cores on average/);
    const cmp = await runProcess(process.execPath, ['--import', 'tsx', 'harness/history/cli.ts', 'compare', join(dir, 'a'), join(dir, 'b')], {
      env: { ...process.env, ROOFBENCH_HISTORY: join(dir, 'h.sqlite') },
    });
    expect(cmp.code, cmp.stdout + cmp.stderr).toBe(0);
    // The base run may have been contended too (a shared machine); the head run, with the hog, always is.
    expect(cmp.stdout).toMatch(/note: no timing verdicts: (the base run was contended: .*; )?the head run was contended: other processes used/);
    expect(cmp.stdout).not.toMatch(/\bregressed\b.*conv-im2col-gemm-f32/);
    expect(cmp.stdout).toMatch(/no timing verdict possible/);
  }, 700_000);
});
