/** The command line's front door: "did you mean", npm swallowing our flags, --version. Pure functions, no runs. */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { didYouMean, OPTION_VALUES, parseArgs, suggestion } from '../harness/suggest.js';
import { ROOT } from './helpers/cli.js';
import { npmSwallowedOptions, swallowedMessage } from '../harness/npm-args.js';
import { selectItems, unselectedKernels, unusedSuiteOption } from '../harness/plan.js';

const BENCH = {
  device: { type: 'string' },
  quick: { type: 'boolean' },
  filter: { type: 'string' },
  seed: { type: 'string' },
  json: { type: 'boolean' },
  'no-ceilings': { type: 'boolean' },
  'target-ms': { type: 'string' },
} as const;

/** What npm 10/11 leaves in the environment of `npm run bench` (its own config included). */
const NPM_ENV = { npm_lifecycle_event: 'bench', npm_config_cache: '/root/.npm', npm_config_yes: '', npm_config_audit: '' };

describe('didYouMean', () => {
  it('finds typos, transpositions and case slips, and stays quiet when nothing is close', () => {
    expect(didYouMean('quik', ['quick', 'filter'])).toBe('quick');
    expect(didYouMean('conv-im2col-gem-f32', ['conv-im2col-gemm-f32', 'conv-direct-naive-f32'])).toBe('conv-im2col-gemm-f32');
    expect(didYouMean('VGG16.conv3_3', ['vgg16.conv3_2', 'vgg16.conv5_1'])).toBe('vgg16.conv3_2');
    expect(didYouMean('cnov', ['conv'])).toBe('conv');
    expect(didYouMean('transformer', ['conv'])).toBeUndefined();
    expect(suggestion('winogard', ['winograd'])).toBe(' (did you mean "winograd"?)');
    expect(suggestion('xyz', ['winograd'])).toBe('');
  });

  it('an option without its value says what it needs, with an example (node:util said "argument missing")', () => {
    const thrown = (args: string[]) => {
      try {
        parseArgs({ args, options: { ...BENCH, threads: { type: 'string' } } });
      } catch (e) {
        return e as Error & { code?: string };
      }
      return undefined;
    };
    expect(thrown(['--quick', '--device'])?.message).toBe('--device needs a value: a registered device (npm run devices -- list), e.g. --device local');
    expect(thrown(['--threads'])?.message).toBe('--threads needs a value: thread counts (whole numbers >= 1, or all), e.g. --threads 1,2');
    // Followed by another option: node:util calls it "ambiguous"; it is the same mistake.
    expect(thrown(['--device', '--quick'])?.message).toMatch(/^--device needs a value: .*e\.g\. --device local$/);
    expect(thrown(['--device'])?.code).toBe('ERR_PARSE_ARGS_INVALID_OPTION_VALUE');
    // A negative number is the option's value, for its own check to judge (not "ambiguous").
    expect(parseArgs({ args: ['--seed', '-1', '--quick'], options: BENCH }).values).toMatchObject({ seed: '-1', quick: true });
    expect(parseArgs({ args: ['--target-ms', '-0.5'], options: BENCH }).values['target-ms']).toBe('-0.5');
  });

  it('every option of every command line that takes a value has its "needs a value" words and example', () => {
    const names = ['harness/cli.ts', 'harness/history/cli.ts', 'harness/analyze/cli.ts', 'harness/devices-cli.ts'].flatMap((f) =>
      [...readFileSync(join(ROOT, f), 'utf8').matchAll(/'?([a-z][a-z0-9-]*)'?: \{ type: 'string'/g)].map((m) => m[1]!),
    );
    expect(names.length).toBeGreaterThan(30);
    expect([...new Set(names)].filter((n) => !(n in OPTION_VALUES))).toEqual([]);
  });

  it('parseArgs names the closest option, keeping the error code that makes it a usage error', () => {
    let err: (Error & { code?: string }) | undefined;
    try {
      parseArgs({ args: ['--quik'], options: BENCH });
    } catch (e) {
      err = e as Error & { code?: string };
    }
    expect(err?.message).toBe('unknown option --quik (did you mean --quick?)');
    expect(err?.code).toBe('ERR_PARSE_ARGS_UNKNOWN_OPTION');
    expect(() => parseArgs({ args: ['--zzzzzz'], options: BENCH })).toThrow(/Unknown option '--zzzzzz'/);
  });

  it('unknown suites, variants and cases suggest the closest name (cases also by layer name)', () => {
    const sel = { quick: true, seed: 1, distribution: 'uniform(-1,1)' as const };
    expect(() => selectItems({ ...sel, suites: ['cnov'] })).toThrow(/unknown suite: cnov \(did you mean "conv"\?\)\nvalid suites: conv/);
    expect(() => selectItems({ ...sel, variants: ['conv-im2col-gem-f32'] })).toThrow(/did you mean "conv-im2col-gemm-f32"/);
    expect(() => selectItems({ ...sel, cases: ['vgg16.conv3_3'] })).toThrow(/unknown case: vgg16.conv3_3 \(did you mean "vgg16.conv3_2"\?\)/);
    expect(() => selectItems({ ...sel, cases: ['nothing.like.it'] })).toThrow(/unknown case: nothing.like.it\nvalid cases/);
  });
});

describe('npm run bench --quick (without --)', () => {
  it('finds a boolean flag npm kept as npm_config_quick and gives the right command', () => {
    const s = npmSwallowedOptions(BENCH, { ...NPM_ENV, npm_config_quick: 'true' });
    expect(s?.flags).toEqual(['--quick']);
    expect(s?.command).toBe('npm run bench -- --quick');
    expect(swallowedMessage(s!)).toMatch(/npm took --quick as its own config.*\n {2}npm run bench -- --quick$/s);
  });

  it('pairs a flag npm took as boolean with the value it left as an argument, and undoes --no-', () => {
    const s = npmSwallowedOptions(BENCH, { ...NPM_ENV, npm_config_device: 'true', npm_config_ceilings: '' }, ['rpi3']);
    expect(s?.command).toBe('npm run bench -- --device rpi3 --no-ceilings');
    const eq = npmSwallowedOptions(BENCH, { ...NPM_ENV, npm_config_filter: 'winograd|fft', npm_config_target_ms: '300' });
    expect(eq?.command).toBe("npm run bench -- --filter 'winograd|fft' --target-ms 300");
  });

  it("stays quiet for npm's own config, outside npm, and when the flags came after --", () => {
    expect(npmSwallowedOptions(BENCH, NPM_ENV)).toBeNull();
    expect(npmSwallowedOptions(BENCH, { ...NPM_ENV, npm_config_json: 'true' })).toBeNull();
    expect(npmSwallowedOptions(BENCH, { npm_config_quick: 'true' })).toBeNull();
  });
});

describe("--filter / --variant keep the references a fast variant's accuracy decision needs", () => {
  const sel = { quick: true, seed: 1, distribution: 'uniform(-1,1)' as const };
  const REFS = ['conv-direct-naive-f32', 'conv-im2col-gemm-f32', 'conv-onnxruntime-f32'];

  it('--filter winograd runs fp32 direct, im2col and ONNX Runtime too, where a Winograd tile applies, and says which', () => {
    const items = selectItems({ ...sel, filter: 'winograd' });
    const vgg = items.find((i) => i.caseSpec.layer === 'vgg16.conv3_2')!;
    expect(vgg.baselinesAdded).toEqual(REFS);
    for (const r of REFS) expect(vgg.variants).toContain(r);
    expect(vgg.variants.filter((v) => v.includes('winograd')).length).toBeGreaterThanOrEqual(3);
    // A 1x1 layer: Winograd is skipped there, so nothing to decide and no reference added.
    const pointwise = items.find((i) => i.caseSpec.layer === 'mobilenet_v1.conv_pw_3')!;
    expect(pointwise.baselinesAdded).toBeUndefined();
    expect(pointwise.variants.every((v) => v.includes('winograd'))).toBe(true);
  });

  it('--variant of one tile adds them too; --no-baselines and an exact variant add nothing', () => {
    const one = selectItems({ ...sel, variants: ['conv3x3-fft-t8-f32'], cases: ['vgg16.conv3_2'] });
    expect(one[0]?.variants).toEqual(['conv-direct-naive-f32', 'conv-im2col-gemm-f32', 'conv3x3-fft-t8-f32', 'conv-onnxruntime-f32']);
    expect(selectItems({ ...sel, variants: ['conv3x3-fft-t8-f32'], cases: ['vgg16.conv3_2'], decisionBaselines: false })[0]?.variants).toEqual([
      'conv3x3-fft-t8-f32',
    ]);
    expect(selectItems({ ...sel, variants: ['conv-im2col-gemm-f32'], cases: ['vgg16.conv3_2'] })[0]?.baselinesAdded).toBeUndefined();
    // Without a narrowing selection every variant runs anyway: nothing is "added".
    expect(selectItems(sel).some((i) => i.baselinesAdded)).toBe(false);
  });
});

describe('--kernels with --variant / --case: the kernels the selection leaves out are named, with why', () => {
  const sel = { quick: true, seed: 1, distribution: 'uniform(-1,1)' as const };
  const external = [
    { name: 'conv-mine-a-f32', cases: 'all' as const },
    { name: 'conv-mine-b-f32', cases: 'all' as const },
    { name: 'conv-mine-c-f32', cases: ['mobilenet_v1.conv_pw_3'] },
  ];

  it('--variant naming one kernel: the others are not run, and the note says --variant left them out', () => {
    const s = { ...sel, external, variants: ['conv-mine-a-f32'], cases: ['vgg16.conv3_2'] };
    const items = selectItems(s);
    expect(items.flatMap((i) => i.variants)).toContain('conv-mine-a-f32');
    expect(unselectedKernels(external, items, s.variants)).toEqual([
      '--kernels: conv-mine-b-f32, conv-mine-c-f32 not run: --variant conv-mine-a-f32 does not name them ' +
        "(--variant keeps only the variants it names, the kernels file's included: add them to --variant to run them)",
    ]);
  });

  it('a kernel whose cases the selection left out is named with that reason; none left out: no note', () => {
    const s = { ...sel, external, cases: ['vgg16.conv3_2'] };
    expect(unselectedKernels(external, selectItems(s))).toEqual([
      '--kernels: conv-mine-c-f32 not run: none of its cases is in the selection (--suite, --case, --filter, --model)',
    ]);
    const all = { ...sel, external };
    expect(unselectedKernels(external, selectItems(all))).toEqual([]);
  });
});

describe("a suite's own option with none of its suites selected", () => {
  it('is named with the suites it needs and what to do, instead of changing nothing', () => {
    expect(unusedSuiteOption(['tile'], ['fusion'])).toBe(
      '--tile applies to the tiling suite, which this run leaves out (it runs: fusion): add tiling to --suite (e.g. --suite fusion,tiling), or leave --tile out',
    );
    expect(unusedSuiteOption(['sparsity'], ['conv'])).toMatch(/^--sparsity applies to the sparse suite/);
    expect(unusedSuiteOption(['policy'], ['conv', 'fusion'])).toMatch(/^--policy applies to the models suite, .*\(it runs: conv, fusion\)/);
    expect(unusedSuiteOption(['schemes'], ['tiling'])).toMatch(/^--schemes applies to the conv and models suites, .*add conv or models to --suite/);
    expect(unusedSuiteOption(['winograd'], ['sparse'])).toMatch(/^--winograd applies to the conv suite/);
  });

  it('is fine when one of its suites runs, or the option is not suite-specific', () => {
    expect(unusedSuiteOption(['tile'], ['fusion', 'tiling'])).toBeNull();
    expect(unusedSuiteOption(['schemes'], ['models'])).toBeNull();
    expect(unusedSuiteOption(['schemes', 'policy'], ['models'])).toBeNull();
    expect(unusedSuiteOption(['pattern', 'sparsity'], ['sparse'])).toBeNull();
    expect(unusedSuiteOption(['quick', 'filter'], ['conv'])).toBeNull();
  });
});

describe('--variant with a threaded result name', () => {
  it('says which variant and --threads count select it', () => {
    expect(() => selectItems({ variants: ['conv-im2col-gemm-f32@t2'], quick: true, seed: 1, distribution: 'uniform(-1,1)' } as never)).toThrow(
      '--variant conv-im2col-gemm-f32@t2 is conv-im2col-gemm-f32 on 2 threads, the name of a result: select the variant and the count, --variant conv-im2col-gemm-f32 --threads 2',
    );
    expect(() => selectItems({ variants: ['conv-nope@t2'], quick: true, seed: 1, distribution: 'uniform(-1,1)' } as never)).toThrow(
      /^unknown variant: conv-nope@t2/,
    );
  });
});
