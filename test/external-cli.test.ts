/**
 * `npm run bench -- --kernels FILE` through the whole command line on `local`: external kernels
 * (a stand-in written in JavaScript, test/fixtures/external/fake-kernel.mjs, uploaded as a
 * directory) join the run next to a built-in variant, are held to the same float64 checks, land in
 * results.json, the report and the history; every way of breaking the protocol is an errored
 * result naming the variant, where it is declared and the cause, and the rest of the run is kept.
 * A kernels file with a missing binary or a shell-string command stops before anything runs,
 * naming the file, line and kernel.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunResults, type CaseResult } from '../core/contracts.js';
import { bench, jsonLines, ROOT } from './helpers/cli.js';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'external');
const CASE = 'vgg16.conv1_2';
const BUILTIN = 'conv-im2col-gemm-f32';

/** A kernel of the stand-in, in `mode` (fake-kernel.mjs), as a kernels-file entry. */
function kernel(name: string, mode: string, extra = ''): string {
  return [
    `  - name: ${name}`,
    '    op: conv',
    '    algorithm: direct',
    '    dtype: f32',
    `    cases: [${CASE}]`,
    `    files: { dir: ${JSON.stringify(FIXTURES)}, script: fake-kernel.mjs }`,
    `    command: [${JSON.stringify(process.execPath)}, "{script}", ${mode}, "{work}"]`,
    extra,
  ]
    .filter(Boolean)
    .join('\n');
}

const KERNELS: [name: string, mode: string, extra?: string][] = [
  ['conv-fake-native-f32', 'conv'],
  ['conv-biased-native-f32', 'biased'],
  ['conv-tight-native-f32', 'conv', '    accuracy: { maxRelL2: 1e-12 }'],
  ['conv-crash-native-f32', 'crash'],
  ['conv-hang-native-f32', 'hang'],
  ['conv-exit-native-f32', 'exit-3'],
  ['conv-noout-native-f32', 'no-output'],
  ['conv-shape-native-f32', 'wrong-shape'],
  ['conv-dtype-native-f32', 'wrong-dtype'],
  ['conv-json-native-f32', 'bad-json'],
];

let work: string;
let kernelsFile: string;
let result: Awaited<ReturnType<typeof bench>>;
let run: RunResults;
let dir: string;
let complete: Record<string, unknown>;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'roofbench-external-cli-'));
  kernelsFile = join(work, 'my-kernels.yaml');
  writeFileSync(
    kernelsFile,
    [
      'kernels:',
      ...KERNELS.map(([n, m, e]) => kernel(n, m, e)),
      'ceilings:',
      `  files: { dir: ${JSON.stringify(FIXTURES)}, script: fake-ceilings.mjs }`,
      `  command: [${JSON.stringify(process.execPath)}, "{script}"]`,
      '',
    ].join('\n'),
  );
  dir = join(work, 'run');
  result = await bench(
    [
      '--kernels',
      kernelsFile,
      '--quick',
      '--case',
      CASE,
      '--variant',
      [BUILTIN, ...KERNELS.map(([n]) => n)].join(','),
      '--case-timeout',
      '12',
      '--json',
      '--out',
      dir,
      '--history',
      join(work, 'history.sqlite'),
      '--gate',
    ],
    { timeoutMs: 300_000 },
  );
  run = RunResults.parse(JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')));
  complete = jsonLines(result.stdout).find((e) => e.type === 'run-complete') ?? {};
}, 320_000);

const get = (name: string): CaseResult => {
  const r = run.results.find((x) => x.variant === name);
  if (!r) throw new Error(`no result for ${name}; results: ${run.results.map((x) => `${x.variant} ${x.state}`).join(', ')}`);
  return r;
};
const errorOf = (name: string): string => {
  const r = get(name);
  if (r.state !== 'errored') throw new Error(`${name} is ${r.state}, expected errored`);
  return r.error;
};

describe('--kernels through the command line (local)', () => {
  it('runs every planned pair and keeps the run going past the broken kernels', () => {
    expect(run.status).toBe('complete');
    expect(run.results).toHaveLength(1 + KERNELS.length);
    // Errored results make the exit code 1, as for built-in variants.
    expect(result.code).toBe(1);
    expect(complete.counts).toEqual({ passed: 2, inaccurate: 2, errored: 7, skipped: 0 });
  });

  it('measures a working kernel like a built-in variant: checked against float64, raw samples, placed on both roofs', () => {
    const r = get('conv-fake-native-f32');
    const b = get(BUILTIN);
    expect(b.state).toBe('passed');
    expect(r.state).toBe('passed');
    if (r.state !== 'passed') return;
    expect(r.external).toMatch(/my-kernels\.yaml:2$/);
    expect(r.algorithm).toBe('direct');
    // --quick: 5 repeats, each one raw sample, each at least the 2 ms minimum.
    expect(r.timing.samples).toHaveLength(5);
    for (const [i, s] of r.timing.samples.entries()) expect(s * (r.timing.sampleReps?.[i] ?? r.timing.repsPerSample)).toBeGreaterThanOrEqual(2 * 0.99);
    expect(r.accuracy.checks?.map((c) => c.name)).toEqual(['per-element bound', 'error norm', 'systematic error']);
    expect(r.accuracy.checks?.every((c) => c.ok)).toBe(true);
    // Same FLOP count as the built-in variant of the case, and a place under the native roof the probe measured.
    expect(r.cost.flops).toBe(b.cost.flops);
    expect(r.perf.pctMeasured).toBeGreaterThan(0);
    expect(r.perf.attainableNative).toBeGreaterThan(0);
    expect(r.perf.pctNative).toBeCloseTo((100 * r.perf.gflops) / r.perf.attainableNative!, 6);
    // A built-in variant is not placed under the native roof.
    if (b.state === 'passed') expect(b.perf.pctNative).toBeUndefined();
  });

  it('stores the native roof of the kernels file probe with the run', () => {
    expect(run.ceilings.native?.peakGflops).toBe(123.5);
    expect(run.ceilings.native?.source).toMatch(/my-kernels\.yaml:\d+$/);
    expect(run.ceilings.measured).not.toBeNull();
  });

  it('holds a subtly wrong kernel and an approximate one over its budget to the same checks (inaccurate, and --gate names them)', () => {
    const biased = get('conv-biased-native-f32');
    expect(biased.state).toBe('inaccurate');
    if (biased.state === 'inaccurate') expect(biased.accuracy.checks?.find((c) => c.name === 'systematic error')?.ok).toBe(false);
    const tight = get('conv-tight-native-f32');
    expect(tight.state).toBe('inaccurate');
    if (tight.state === 'inaccurate') expect(tight.accuracy.tolerance.source).toMatch(/1(\.0+)?e-12/);
    expect(result.stderr).toMatch(/--gate: 2 inaccurate result\(s\) on local/);
    expect(result.stderr).toMatch(/conv-biased-native-f32/);
  });

  it('turns each broken rule into an errored result naming the variant, where it is declared, the cause and the stderr tail', () => {
    const src = 'my-kernels\\.yaml:\\d+';
    expect(errorOf('conv-crash-native-f32')).toMatch(
      new RegExp(
        `^conv-crash-native-f32 \\(.*${src}\\): crashed: killed by SIGSEGV \\(a segmentation fault\\)\\n--- stderr \\(last lines\\) ---\\nabout to dereference a bad pointer`,
      ),
    );
    expect(errorOf('conv-hang-native-f32')).toMatch(
      new RegExp(
        `^conv-hang-native-f32 \\(.*${src}\\): did not finish within \\d+(\\.\\d)? s and was killed \\(hung, or slower than --case-timeout allows\\)[^]*waiting for a lock`,
      ),
    );
    expect(errorOf('conv-exit-native-f32')).toMatch(
      /^conv-exit-native-f32 \(.*\): exited with code 3\n--- stderr \(last lines\) ---\n\[\.\.\. 11 earlier lines\][^]*error: unsupported stride$/,
    );
    expect(errorOf('conv-noout-native-f32')).toMatch(/^conv-noout-native-f32 \(.*\): wrote no out\.npy/);
    expect(errorOf('conv-shape-native-f32')).toMatch(
      /^conv-shape-native-f32 \(.*\): out\.npy has shape \(1, 16, 1024\); expected \(1, 16, 32, 32\) \(n, k, ho, wo\)/,
    );
    expect(errorOf('conv-dtype-native-f32')).toMatch(/^conv-dtype-native-f32 \(.*\): out\.npy holds float64 \('<f8'\); the protocol wants float32 \('<f4'\)/);
    expect(errorOf('conv-json-native-f32')).toMatch(
      /^conv-json-native-f32 \(.*\): stdout is not JSON .*"conv took 3\.2 ms"; print only the timings JSON on stdout/,
    );
    // The phases say where it failed.
    expect((get('conv-json-native-f32') as { phase: string }).phase).toBe('timing');
    expect((get('conv-shape-native-f32') as { phase: string }).phase).toBe('output');
  });

  it('shows the kernels in the report, with the native roof, and stores them in the history', () => {
    const html = readFileSync(join(dir, 'index.html'), 'utf8');
    expect(html).toContain('conv-fake-native-f32');
    expect(html).toContain('native peak 124 GFLOP/s (measured)');
    expect(html).toMatch(/native roofline, measured by the kernels file/);
    expect(html).toMatch(/\d+(\.\d+)?% native/);
    expect(String(complete.history)).toMatch(/^stored in .*history\.sqlite/);
  });

  it('uploads the kernel files in the payload, verified by SHA-256 on the device with it', () => {
    // The payload's files: the runner, its WebAssembly and the uploaded directory (every file of it).
    const v = run.device.payloadVerified;
    expect(v?.hash).toBe(run.payloadHash);
    const payloadDir = join(ROOT, '.cache', 'payload', run.payloadHash);
    const manifest = JSON.parse(readFileSync(join(payloadDir, 'manifest.json'), 'utf8')) as { files: { path: string }[] };
    const native = manifest.files.map((f) => f.path).filter((p) => p.startsWith('native/'));
    expect(native.map((p) => p.split('/').slice(2).join('/')).sort()).toEqual(readdirSync(FIXTURES).sort());
    expect(v?.files).toBe(manifest.files.length + 1);
  });
});

describe('bad kernels files through the command line', () => {
  it('a missing binary and a command that is not a list stop the run before it starts, naming file:line, the kernel and what to do', async () => {
    const bad = join(work, 'bad.yaml');
    writeFileSync(
      bad,
      [
        'kernels:',
        '  - name: conv-mine-native-f32',
        '    op: conv',
        '    dtype: f32',
        '    cases: all',
        '    files: { binary: { x86-64: build/x86-64/conv, arm64: build/arm64/conv } }',
        '    command: "{binary} --fast {work}"',
        '',
      ].join('\n'),
    );
    const out = join(work, 'never');
    const r = await bench(['--kernels', bad, '--quick', '--no-history', '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /bad\.yaml:6:\d+: kernels\[0\] \(conv-mine-native-f32\)\.files\.binary\.x86-64: not found \(looked for .*build\/x86-64\/conv\): build it first/,
    );
    expect(r.stderr).toMatch(
      /bad\.yaml:7:\d+: kernels\[0\] \(conv-mine-native-f32\)\.command: expected a list of arguments \(argv\), got a string: .* e\.g\. \["\{binary\}","--fast","\{work\}"\]/,
    );
    // Only the architecture of the device the run targets (local: this machine's) is required.
    expect(r.stderr).not.toMatch(/binary\.arm64/);
    expect(existsSync(out)).toBe(false);
  });

  it('a native ceilings probe that prints no ceilings is a warning: the run goes on without a native roof', async () => {
    const file = join(work, 'bad-probe.yaml');
    writeFileSync(
      file,
      [
        'kernels:',
        kernel('conv-fake-native-f32', 'conv'),
        'ceilings:',
        `  files: { dir: ${JSON.stringify(FIXTURES)}, script: fake-ceilings.mjs }`,
        `  command: [${JSON.stringify(process.execPath)}, "{script}", bad]`,
        '',
      ].join('\n'),
    );
    const out = join(work, 'bad-probe-run');
    const r = await bench(['--kernels', file, '--quick', '--case', CASE, '--variant', 'conv-fake-native-f32', '--no-history', '--json', '--out', out], {
      timeoutMs: 300_000,
    });
    expect(r.code).toBe(0);
    const got = RunResults.parse(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')));
    expect(got.ceilings.native ?? null).toBeNull();
    expect(got.stderr.join('\n')).toMatch(/native ceilings probe \(.*bad-probe\.yaml:\d+\): stdout is not JSON[^]*continuing without a native roofline/);
    const r0 = got.results[0];
    expect(r0?.state).toBe('passed');
    expect(r0 && 'perf' in r0 ? r0.perf.pctNative : 'none').toBeUndefined();
  }, 320_000);

  it('a kernels file that is not there', async () => {
    const r = await bench(['--kernels', join(work, 'nope.yaml'), '--quick', '--no-history']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/nope\.yaml: not found \(looked for .*nope\.yaml\): give the path of your kernels file/);
  });

  it('lists the external kernels with --list, and suggests one for a mistyped --variant', async () => {
    const listed = await bench(['--kernels', kernelsFile, '--list']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/conv-fake-native-f32 .*\(native, .*my-kernels\.yaml:2; vgg16\.conv1_2\)/);
    const typo = await bench(['--kernels', kernelsFile, '--quick', '--variant', 'conv-fake-nativ-f32', '--no-history']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/unknown variant: conv-fake-nativ-f32 \(did you mean "conv-fake-native-f32"\?\)/);
  });
});
