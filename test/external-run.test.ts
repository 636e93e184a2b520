/**
 * The on-device part of the external-kernel protocol (harness/runner/external.ts) with real
 * processes: a stand-in kernel (test/fixtures/external/fake-kernel.mjs) that follows the protocol,
 * checked against the float64 reference, and one that breaks each rule, which must come back
 * `errored` naming the variant, where it is declared and the cause, with its stderr tail.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CaseSpec, ConvShape } from '../core/contracts.js';
import { CaseFile, PROTOCOL, type ExternalVariantSpec, type TimingProtocol } from '../core/external.js';
import { decodeNpy } from '../core/npy.js';
import { isRunning } from './helpers/process.js';
import { parseTimings, runExternalCase, runNativeCeilings, type ExternalOutcome, type ExternalMeasured } from '../harness/runner/external.js';
import { conv2dRef } from '../reference/conv.js';
import { makeConvInputs } from '../reference/random.js';
import { exactToleranceCheck, probabilisticToleranceCheck } from '../reference/tolerance.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/external/', import.meta.url));
const FAKE = join(FIXTURES, 'fake-kernel.mjs');
const TIMING: TimingProtocol = { warmup: 1, repeat: 4, number: 1, minRepeatMs: 2 };

let workRoot: string;
beforeAll(() => {
  workRoot = mkdtempSync(join(tmpdir(), 'roofbench-external-'));
});
afterAll(() => rmSync(workRoot, { recursive: true, force: true }));

const SHAPE: ConvShape = { n: 2, c: 3, h: 5, w: 6, k: 4, r: 3, s: 3, stride: 1, pad: 1, groups: 1 };
const GROUPED: ConvShape = { n: 1, c: 4, h: 7, w: 5, k: 6, r: 3, s: 2, stride: 2, pad: 1, groups: 2 };

function spec(mode: string, extra: Partial<ExternalVariantSpec> = {}): ExternalVariantSpec {
  return {
    name: `conv-fake-${mode.replace(/[^a-z0-9]+/g, '')}-f32`,
    op: 'conv',
    algorithm: 'direct',
    dtype: 'f32',
    description: 'the fake kernel',
    applies: {},
    accuracy: { kind: 'exact' },
    files: 'dir',
    archs: [],
    command: [process.execPath, '{script}', mode, '{work}'],
    env: {},
    source: 'my-kernels.yaml:7',
    ...extra,
  };
}

async function run(mode: string, opts: { shape?: ConvShape; timeoutMs?: number; spec?: Partial<ExternalVariantSpec>; paths?: { binary?: string } } = {}) {
  const shape = opts.shape ?? SHAPE;
  const caseSpec: Pick<CaseSpec, 'id' | 'shape'> = { id: 'conv/test.small', shape };
  const { x, w } = makeConvInputs(shape, 7, 'uniform(-1,1)');
  const outcome = await runExternalCase({
    spec: spec(mode, opts.spec),
    paths: opts.paths ?? { dir: FIXTURES, script: FAKE },
    caseSpec,
    x,
    w,
    timing: TIMING,
    workRoot,
    timeoutMs: opts.timeoutMs ?? 60_000,
  });
  return { outcome, x, w, shape };
}

function measured(o: ExternalOutcome): ExternalMeasured {
  if (o.state !== 'measured') throw new Error(`expected a measured outcome, got ${o.state}: ${'error' in o ? o.error : 'reason' in o ? o.reason : ''}`);
  return o;
}

describe('a kernel that follows the protocol', () => {
  it('gets x.npy, w.npy and case.json, and its out.npy passes the float64 checks', async () => {
    for (const shape of [SHAPE, GROUPED]) {
      const { outcome, x, w } = await run('conv', { shape });
      const m = measured(outcome);
      // What the harness handed over.
      const cf = CaseFile.parse(JSON.parse(readFileSync(join(m.workDir, 'case.json'), 'utf8')));
      expect(cf.protocol).toBe(PROTOCOL);
      expect(cf.shape).toEqual(shape);
      expect(cf.timing).toEqual(TIMING);
      const xs = decodeNpy(new Uint8Array(readFileSync(join(m.workDir, 'x.npy'))));
      expect(xs.shape).toEqual([shape.n, shape.c, shape.h, shape.w]);
      expect(Array.from(xs.data as Float32Array)).toEqual(Array.from(x));
      expect(decodeNpy(new Uint8Array(readFileSync(join(m.workDir, 'w.npy')))).shape).toEqual([shape.k, shape.c / shape.groups, shape.r, shape.s]);
      // What came back: checked like a built-in exact variant.
      const ref = conv2dRef(shape, x, w);
      const n = (shape.c / shape.groups) * shape.r * shape.s;
      expect(m.output.length).toBe(ref.y.length);
      expect(exactToleranceCheck(m.output, ref.y, ref.absBound, n).ok).toBe(true);
      const p = probabilisticToleranceCheck(m.output, ref.y, ref.absBound, n);
      expect(p.norm.ok && p.bias.ok).toBe(true);
      // The timings: as many repeats as asked, each at least minRepeatMs, inside the wall time.
      expect(m.repeats).toHaveLength(TIMING.repeat);
      for (const r of m.repeats) expect(r.iterations * r.realMs).toBeGreaterThanOrEqual(TIMING.minRepeatMs);
      expect(m.reportedMs).toBeLessThanOrEqual(m.wallMs);
      expect(m.cost.flops).toBeGreaterThan(0);
    }
  });

  it('the float64 checks applied to its output fail on a deliberately wrong output (test-only fault)', async () => {
    const { outcome, x, w, shape } = await run('conv');
    const m = measured(outcome);
    const ref = conv2dRef(shape, x, w);
    const n = shape.c * shape.r * shape.s;
    // A systematic relative error of 1e-4: the per-element bound lets it through, the bias check does not.
    const scaled = m.output.map((v) => v * (1 + 1e-4));
    expect(probabilisticToleranceCheck(scaled, ref.y, ref.absBound, n).bias.ok).toBe(false);
    // One wrong element: the per-element bound catches it.
    const flipped = m.output.slice();
    flipped[5] = -flipped[5]! + 1;
    expect(exactToleranceCheck(flipped, ref.y, ref.absBound, n).ok).toBe(false);
  });

  it('whatever the command leaves running when it exits is killed', async () => {
    const m = measured((await run('leave-child')).outcome);
    const pid = Number(readFileSync(join(m.workDir, 'child.pid'), 'utf8'));
    expect(pid).toBeGreaterThan(0);
    let alive = true;
    for (let i = 0; i < 200 && alive; i++) {
      alive = isRunning(pid);
      if (alive) await new Promise((r) => setTimeout(r, 50));
    }
    expect(alive, `process ${pid} left by the kernel still runs`).toBe(false);
  });
});

describe('a kernel that breaks the protocol is errored, naming the variant and the cause', () => {
  const cases: [string, string, RegExp, { timeoutMs?: number; stderr?: RegExp }?][] = [
    ['crash', 'run', /crashed: killed by SIGSEGV \(a segmentation fault\)/, { stderr: /about to dereference a bad pointer/ }],
    [
      'hang',
      'run',
      /did not finish within 1\.5 s and was killed \(hung, or slower than --case-timeout allows\)/,
      { timeoutMs: 1500, stderr: /waiting for a lock/ },
    ],
    ['exit-3', 'run', /exited with code 3/, { stderr: /\[\.\.\. 11 earlier lines\]\ndiagnostic line 12\n[\s\S]*error: unsupported stride$/ }],
    ['no-output', 'output', /wrote no out\.npy \(expected .*out\.npy\)/],
    ['wrong-shape', 'output', /out\.npy has shape \(2, 4, 30\); expected \(2, 4, 5, 6\) \(n, k, ho, wo\)/],
    ['wrong-dtype', 'output', /out\.npy holds float64 \('<f8'\); the protocol wants float32 \('<f4'\)/],
    ['fortran', 'output', /out\.npy is in Fortran order; write it in C order/],
    ['bad-json', 'timing', /stdout is not JSON \(.*\): "conv took 3\.2 ms"; print only the timings JSON on stdout/],
    ['no-benchmarks', 'timing', /the timings JSON has no "benchmarks" list/],
    ['few-repeats', 'timing', /reported 1 repeat; case\.json asked for timing\.repeat = 4/],
    ['short-repeat', 'timing', /repeat 2 lasted 0\.200 ms \(iterations 1 x real_time\), less than timing\.minRepeatMs = 2 ms/],
    [
      'over-wall',
      'timing',
      /reports .* ms of kernel time, but the whole command took .* ms \(timed by the harness\): the timings cannot be right \(check time_unit/,
    ],
    [
      'too-fast',
      'timing',
      /reports .* ms per iteration for 1\.296e\+4 FLOPs: .* GFLOP\/s, more than this machine's \d+ cores can do .*: the timings cannot be right/,
    ],
    ['gb-error', 'timing', /reported an error: workspace allocation failed/],
    ['two-names', 'timing', /the timings hold 2 different benchmarks \(BM_Conv\/this, BM_Conv\/other\)/],
  ];
  for (const [mode, phase, message, opts] of cases) {
    it(mode, async () => {
      const { outcome } = await run(mode, { timeoutMs: opts?.timeoutMs });
      expect(outcome.state).toBe('errored');
      if (outcome.state !== 'errored') return;
      expect(outcome.variant).toBe(spec(mode).name);
      expect(outcome.phase).toBe(phase);
      expect(outcome.error.startsWith(`${spec(mode).name} (my-kernels.yaml:7): `)).toBe(true);
      expect(outcome.error).toMatch(message);
      if (opts?.stderr) {
        expect(outcome.error).toContain('--- stderr (last lines) ---');
        expect(outcome.error).toMatch(opts.stderr);
      }
    });
  }

  it('a command that cannot be started', async () => {
    const { outcome } = await run('conv', {
      spec: { files: 'binary', archs: ['x86-64'], command: ['{binary}', '{work}'] },
      paths: { binary: '/nonexistent/native-conv' },
    });
    expect(outcome.state).toBe('errored');
    if (outcome.state === 'errored') {
      expect(outcome.phase).toBe('run');
      expect(outcome.error).toMatch(/could not start \/nonexistent\/native-conv: spawn \/nonexistent\/native-conv ENOENT \(no such program/);
    }
  });

  it('an out.npy left by an earlier case never passes for this one (a fresh work directory per case)', async () => {
    measured((await run('conv', { spec: { name: 'conv-fake-stale-f32' } })).outcome);
    const again = await run('no-output', { spec: { name: 'conv-fake-stale-f32' } });
    expect(again.outcome.state).toBe('errored');
  });
});

describe('skipped, with the reason', () => {
  it('a case outside the shapes the kernel declares (applies:)', async () => {
    const { outcome } = await run('conv', { shape: GROUPED, spec: { applies: { groups: 1 } } });
    expect(outcome).toMatchObject({ state: 'skipped', reason: 'declared for groups = 1 only (applies: in my-kernels.yaml:7); this case has groups = 2' });
  });
  it('a device whose architecture the kernel has no build for', async () => {
    const { outcome } = await run('conv', { spec: { files: 'binary', archs: ['arm64'], command: ['{binary}', '{work}'] }, paths: {} });
    expect(outcome.state).toBe('skipped');
    if (outcome.state === 'skipped')
      expect(outcome.reason).toMatch(/no build for this device's architecture \(x86-64\); builds declared in my-kernels\.yaml:7: arm64/);
  });
});

describe('parseTimings (Google Benchmark JSON subset)', () => {
  const t: TimingProtocol = { warmup: 0, repeat: 2, number: 1, minRepeatMs: 1 };
  const entry = (extra: object = {}) => ({
    name: 'BM_Conv',
    run_type: 'iteration',
    iterations: 10,
    real_time: 150_000,
    cpu_time: 149_000,
    time_unit: 'ns',
    ...extra,
  });
  it('reads iteration entries in every unit and ignores aggregates', () => {
    const doc = {
      context: { date: '2026-01-01', num_cpus: 2 },
      benchmarks: [
        entry(),
        entry({ real_time: 0.2, cpu_time: 0.2, time_unit: 'ms' }),
        { name: 'BM_Conv_mean', run_type: 'aggregate', aggregate_name: 'mean', iterations: 2, real_time: 1, time_unit: 'ns' },
      ],
    };
    expect(parseTimings(JSON.stringify(doc), t)).toEqual({
      repeats: [
        { iterations: 10, realMs: 0.15, cpuMs: 0.149 },
        { iterations: 10, realMs: 0.2, cpuMs: 0.2 },
      ],
    });
    const us = parseTimings(JSON.stringify({ benchmarks: [entry({ real_time: 150, time_unit: 'us' }), entry({ real_time: 0.00015, time_unit: 's' })] }), t);
    expect('repeats' in us && us.repeats.map((r) => r.realMs)).toEqual([0.15, 0.15]);
  });
  it('refuses a missing or unknown time unit, a zero time and missing iterations', () => {
    const bad = (e: object) => parseTimings(JSON.stringify({ benchmarks: [entry(e), entry()] }), t);
    expect(bad({ time_unit: undefined })).toMatchObject({ problem: expect.stringMatching(/timings entry 0: time_unit: .*time_unit ns, us, ms or s/) });
    expect(bad({ time_unit: 'min' })).toMatchObject({ problem: expect.stringMatching(/timings entry 0: time_unit/) });
    expect(bad({ real_time: 0 })).toMatchObject({ problem: expect.stringMatching(/timings entry 0: real_time/) });
    expect(bad({ iterations: undefined })).toMatchObject({ problem: expect.stringMatching(/timings entry 0: iterations/) });
    expect(parseTimings('', t)).toMatchObject({ problem: expect.stringMatching(/printed no timings on stdout/) });
  });
});

describe('the native ceilings probe, run and read', () => {
  // Braces are doubled in an argv template ({{ and }} are literal braces).
  const probe = (code: string) =>
    runNativeCeilings(
      { files: 'dir', archs: [], command: [process.execPath, '-e', code.replace(/[{}]/g, (b) => b + b)], env: {}, source: 'my-kernels.yaml:20' },
      { dir: FIXTURES },
      join(workRoot, 'ceilings'),
      30_000,
    );
  it('reads a ceilings document', async () => {
    const doc = {
      peakGflops: 100,
      peakSamples: [99, 100],
      peakMethod: 'fma chains',
      bandwidth: [{ kernel: 'triad', bytes: 1 << 20, gbps: 50, samples: [49, 50] }],
      dramGbps: 20,
    };
    const r = await probe(`console.log(${JSON.stringify(JSON.stringify(doc))})`);
    expect(r).toMatchObject({ ok: true, ceilings: doc });
  });
  it('says what is wrong with anything else', async () => {
    expect(await probe('console.log("{}")')).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^native ceilings probe \(my-kernels\.yaml:20\): stdout is not a ceilings document \(peakGflops: /),
    });
    expect(await probe('console.error("no AVX2"); process.exit(4)')).toMatchObject({
      ok: false,
      error: expect.stringMatching(/exited with code 4\n--- stderr \(last lines\) ---\nno AVX2/),
    });
  });
});
