/**
 * The command line end to end, as a user runs it: a quick bench on the local
 * device produces a results.json that validates against the published schema
 * and an HTML report with the roofline; bad input gets errors that say what to do.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import { bench, convVariantCount, jsonLines, runCli, ROOT } from './helpers/cli.js';
import { RunResults } from '../core/contracts.js';
import { resultsJsonSchema } from '../scripts/build.js';

const schema = JSON.parse(readFileSync(join(ROOT, 'schemas', 'results.schema.json'), 'utf8')) as Record<string, unknown>;

describe('published results schema', () => {
  it('is up to date with core/contracts.ts (run npm run build if this fails)', () => {
    expect(schema).toEqual(JSON.parse(JSON.stringify(resultsJsonSchema())));
  });
});

describe('bench --quick on the local device', () => {
  const out = join(mkdtempSync(join(tmpdir(), 'roofbench-cli-')), 'run');
  let res: Awaited<ReturnType<typeof bench>>;
  let run: RunResults;

  beforeAll(async () => {
    res = await bench(['--quick', '--out', out, '--json'], { timeoutMs: 240_000 });
    run = RunResults.parse(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')));
  }, 300_000);

  it('exits 0 and reports where the run went', () => {
    expect(res.stderr).not.toMatch(/roofbench: /);
    expect(res.code).toBe(0);
    const done = jsonLines(res.stdout).find((e) => e.type === 'run-complete');
    expect(done).toMatchObject({ status: 'complete', dir: out, report: join(out, 'index.html') });
  });

  it('writes a results.json that validates against schemas/results.schema.json', () => {
    const ajv = new Ajv2020.default({ allErrors: true, strict: false });
    const validate = ajv.compile(schema);
    const json = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as unknown;
    const ok = validate(json);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  it('measured every case with every applicable variant, each checked against float64', async () => {
    expect(run.status).toBe('complete');
    expect(run.cases.length).toBeGreaterThanOrEqual(13);
    expect(run.results.length).toBe(run.cases.length * (await convVariantCount()));
    const states = new Set(run.results.map((r) => r.state));
    expect(states.has('errored')).toBe(false);
    expect(states.has('inaccurate')).toBe(false);
    const timed = run.results.filter((r) => r.state === 'passed');
    // naive + im2col on every case, depthwise on the depthwise cases
    for (const c of run.cases) {
      const passed = timed.filter((r) => r.caseId === c.id).map((r) => r.variant);
      expect(passed).toEqual(expect.arrayContaining(['conv-direct-naive-f32', 'conv-im2col-gemm-f32']));
      if (c.tags.includes('depthwise')) expect(passed).toContain('conv-depthwise-simd-f32');
    }
    for (const r of timed) {
      if (r.state !== 'passed') continue;
      expect(r.timing.samples.length).toBeGreaterThanOrEqual(run.options.minSamples);
      // Every sample lasted at least the documented minimum (its per-run time x the runs it timed).
      const reps = r.timing.sampleReps ?? r.timing.samples.map(() => r.timing.repsPerSample);
      expect(reps).toHaveLength(r.timing.samples.length);
      const short = r.timing.samples.map((s, i) => s * reps[i]!).filter((d) => d < run.options.minSampleMs * (1 - 1e-9));
      expect(short, `${r.caseId} ${r.variant}: samples shorter than ${run.options.minSampleMs} ms`).toEqual([]);
      expect(r.timing.samplesPerRound?.reduce((a, b) => a + b, 0)).toBe(r.timing.samples.length);
      expect(r.timing.stats.ciCoverage).toBeGreaterThan(0.9);
      expect(r.timing.sampleDurationMs).toBeGreaterThan(100 * r.timing.timerResolutionMs);
      expect(r.accuracy.outputChecksum).toMatch(/^[0-9a-f]{16}$/);
      expect(r.perf.pctMeasured).toBeGreaterThan(0);
    }
    const skipped = run.results.filter((r) => r.state === 'skipped');
    for (const r of skipped)
      if (r.state === 'skipped') expect(r.reason).toMatch(/depthwise|onnxruntime|Winograd|FFT|3x3|stride|relaxed SIMD|accuracy only|emulation/i);
    // The accuracy-only fp16-arithmetic emulation: checked, never timed, its scheme loss attached.
    const emulated = skipped.filter((r) => r.state === 'skipped' && r.accuracy !== undefined);
    expect(emulated.length).toBeGreaterThan(0);
    for (const r of emulated) if (r.state === 'skipped') expect(r.accuracy?.schemeLoss?.scheme).toMatch(/^fp16arith/);
    expect(run.probe?.runtime.wasmSimd).toBe(true);
    expect(run.ceilings.measured?.peakGflops).toBeGreaterThan(0);
    expect(run.health.map((h) => h.when)).toEqual(['before', 'after']);
  });

  it('writes a self-contained index.html with the roofline SVG', () => {
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    expect(html).toContain('<svg');
    expect(html).toMatch(/roofline/i);
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href="http/);
    for (const c of run.cases) expect(html).toContain(c.id);
  });

  it('streams JSON-lines events with --json', () => {
    const types = new Set(jsonLines(res.stdout).map((e) => e.type));
    for (const t of ['probe', 'ceilings', 'case-start', 'result', 'done', 'run-complete']) expect(types).toContain(t);
  });

  it('re-renders the report from results.json with npm run report', async () => {
    const r = await runCli('harness/cli.ts', ['report', out]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(join(out, 'index.html'));
  });
});

describe('bench selection and errors', () => {
  it('--suite conv --filter with a one-case selection runs just that', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'roofbench-cli-')), 'r');
    const r = await bench(['--quick', '--suite', 'conv', '--filter', 'conv_dw_3.*depthwise-simd', '--out', out, '--no-ceilings']);
    expect(r.code).toBe(0);
    const run = RunResults.parse(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')));
    expect(run.results.map((x) => `${x.caseId} ${x.variant}`)).toEqual(['conv/mobilenet_v1.conv_dw_3 conv-depthwise-simd-f32']);
    expect(r.stdout).toMatch(/report: .*index\.html/);
  });

  it('--threads 1,2: the opening line says each pair runs at both counts (it counted the pairs once)', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'roofbench-cli-')), 'r');
    const r = await bench(['--quick', '--threads', '1,2', '--case', 'vgg16.conv3_2', '--variant', 'conv-im2col-gemm-f32', '--out', out, '--no-ceilings']);
    expect(r.code, r.stderr).toBe(0);
    expect(`${r.stdout}${r.stderr}`).toMatch(/1 cases, 1 case x variant pairs, each at 1, 2 threads \(quick\)/);
    const run = RunResults.parse(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')));
    expect(run.results.map((x) => x.variant)).toEqual(['conv-im2col-gemm-f32', 'conv-im2col-gemm-f32@t2']);
  });

  it('--threads above the cores: the closing lines say the count is oversubscribed (only the report said so)', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'roofbench-cli-')), 'r');
    const over = availableParallelism() + 1;
    const r = await bench([
      '--quick',
      '--threads',
      String(over),
      '--case',
      'mobilenet_v1.conv_pw_3',
      '--variant',
      'conv-im2col-gemm-f32',
      '--out',
      out,
      '--no-ceilings',
    ]);
    expect(r.code, r.stderr).toBe(0);
    // One count other than 1 is said in the opening line (it read like a one-thread run).
    expect(`${r.stdout}${r.stderr}`).toContain(`1 cases, 1 case x variant pairs, at ${over} threads (quick)`);
    expect(r.stdout).toMatch(
      new RegExp(
        `note: oversubscribed: ${over} threads on a device with ${availableParallelism()} cores: threads queue for a core, so those timings say nothing of how the kernels scale`,
      ),
    );
  });

  it('--list shows devices, suites, cases and variants', async () => {
    const r = await bench(['--list']);
    expect(r.code).toBe(0);
    for (const s of ['local', 'rpi3', 'conv-im2col-gemm-f32', 'conv/vgg16.conv3_2', 'suite conv']) expect(r.stdout).toContain(s);
  });

  const bad: [string, string[], RegExp][] = [
    ['an unknown device', ['--device', 'nope'], /unknown device.*nope[\s\S]*local/i],
    ['an unknown suite', ['--suite', 'nope'], /unknown suite: nope\nvalid suites: conv/],
    ['an unknown variant', ['--variant', 'conv-nope-f32'], /unknown variant: conv-nope-f32\nvalid variants: conv-direct-naive-f32, conv-im2col-gemm-f32/],
    ['a filter that selects nothing', ['--filter', 'no-such-thing'], /matches nothing.*--list/],
    ['an invalid filter', ['--filter', '(['], /not a valid regular expression/],
    ['an unknown option', ['--frobnicate'], /frobnicate[\s\S]*--help/],
    ['a bad number', ['--min-samples', 'lots'], /--min-samples expects a positive integer, got "lots"/],
    // Number("0x10") is 16: a budget in hex (or binary) is a typo, not a budget.
    ['a budget in hex', ['--max-rel-l2', '0x10'], /--max-rel-l2 expects a positive number, got "0x10"/],
    ['an unknown distribution', ['--distribution', 'gauss'], /unknown --distribution "gauss"; valid: uniform\(-1,1\)/],
  ];
  for (const [what, args, message] of bad) {
    it(`rejects ${what} with exit code 2 and a message that says what to do`, async () => {
      const r = await bench(args);
      expect(r.stderr).toMatch(message);
      expect(r.code).toBe(2);
    });
  }

  it('rejects a malformed devices file with file:line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roofbench-cli-'));
    const file = join(dir, 'devices.yaml');
    writeFileSync(file, 'devices:\n  local:\n    transport: local\n  pi:\n    hots: 1.2.3.4\n');
    const r = await bench(['--devices', file, '--quick']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}:5:5`);
    expect(r.stderr).toMatch(/hots/);
    expect(existsSync(join(dir, 'reports'))).toBe(false);
  });
});

describe('accuracy budgets and --gate', () => {
  const args = ['--quick', '--case', 'resnet50.res2b.branch2b', '--variant', 'conv-direct-naive-f32,conv-im2col-gemm-f32', '--no-ceilings'];

  it('marks variants over the user budget inaccurate; --gate exits 1 naming the worst', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'roofbench-gate-')), 'r');
    const r = await bench([...args, '--max-rel-l2', '1e-12', '--gate', '--out', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--gate: 2 inaccurate result\(s\) on local; worst:\n {2}conv-\S+ on conv\/resnet50\.res2b\.branch2b: rel L2 \S+ > 1e-12/);
    const run = RunResults.parse(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')));
    expect(run.options.budgets).toEqual({ maxRelL2: 1e-12 });
    for (const x of run.results) {
      expect(x.state).toBe('inaccurate');
      if (x.state === 'inaccurate') expect(x.accuracy.budget?.violations[0]).toMatch(/^rel L2 .* > 1e-12$/);
    }
  });

  it('without --gate the same run reports inaccurate results but exits 0', async () => {
    const r = await bench([...args, '--max-rel-l2', '1e-12']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/0 passed, 2 inaccurate/);
  });

  it('a budget every variant meets passes the gate', async () => {
    const r = await bench([...args, '--max-rel-l2', '1e-3', '--min-sqnr-db', '60', '--max-abs', '0.1', '--gate']);
    expect(r.stderr).not.toMatch(/--gate/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/2 passed, 0 inaccurate/);
  });

  it('rejects a budget that is not a number', async () => {
    const r = await bench([...args, '--max-rel-l2', 'tiny']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--max-rel-l2 expects a positive number, got "tiny"/);
  });
});

describe('Winograd tiles on other interpolation points', () => {
  it('--winograd adds a variant built from the points; the suite data adds F(8x8)', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'roofbench-wino-')), 'r');
    const r = await bench([
      '--quick',
      '--case',
      'resnet50.res2b.branch2b',
      '--filter',
      'winograd',
      '--winograd',
      '8:0,1,-1,2,-2,1/2,-1/2,3,-3,inf',
      '--no-ceilings',
      '--out',
      out,
    ]);
    expect(r.code).toBe(0);
    const run = RunResults.parse(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')));
    // --filter winograd keeps the references the accuracy decision needs, and says so.
    expect(run.options.baselinesAdded).toEqual(['conv-direct-naive-f32', 'conv-im2col-gemm-f32', 'conv-onnxruntime-f32']);
    expect(r.stderr).toContain('also running conv-direct-naive-f32, conv-im2col-gemm-f32, conv-onnxruntime-f32');
    const names = run.results.map((x) => x.variant).filter((v) => v.includes('winograd') && v.endsWith('-f32'));
    expect(names.slice(0, 4)).toEqual(['conv3x3-winograd-f2x2-f32', 'conv3x3-winograd-f4x4-f32', 'conv3x3-winograd-f6x6-f32', 'conv3x3-winograd-f8x8-f32']);
    const custom = run.results.find((x) => /^conv3x3-winograd-f8x8-p[0-9a-f]{8}-f32$/.test(x.variant));
    expect(custom?.state).toBe('passed');
    expect(custom?.info).toMatchObject({ tile: 'F(8x8,3x3)', points: '0,1,-1,2,-2,1/2,-1/2,3,-3,inf', multsPerOutput: 1.5625 });
    // The default F(8x8) points are better conditioned than 3, -3.
    const f8 = run.results.find((x) => x.variant === 'conv3x3-winograd-f8x8-f32');
    expect(Number(f8?.info?.condAT)).toBeLessThan(Number(custom?.info?.condAT));
  });

  it('rejects a point set that cannot give a transform, saying why', async () => {
    const r = await bench(['--quick', '--winograd', '4:0,1,1,2,-2,inf']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/winograd variant m=4 points 0,1,1,2,-2,inf: .*points must be distinct/);
    const r2 = await bench(['--quick', '--winograd', 'eight']);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/--winograd expects M:POINTS/);
  });
});
