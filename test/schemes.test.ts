/**
 * Low-precision schemes chosen as data (suites/conv/schemes.yaml) or on the command line (--schemes):
 * validated at load with clear errors (where, what, did-you-mean), expanded into variants, and selecting
 * the run's low-precision variants; the emulated fp16-arithmetic scheme as an accuracy-only result
 * (checked, never timed), with its check shown to fail on injected faults.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isTimed } from '../core/contracts.js';
import { selectItems } from '../harness/plan.js';
import { measureCase } from '../harness/runner/measure.js';
import { conv2dRef } from '../reference/conv.js';
import { convF16ArithRef, roundF16Array } from '../reference/fp16.js';
import { makeConvInputs } from '../reference/random.js';
import { suites } from '../suites/index.js';
import { readSchemes, schemeExtras, schemesOption } from '../suites/conv/schemes.js';
import { buildExtraVariant } from '../suites/variants.js';
import { FP16_ARITH_NOT_TIMED, fp16ArithCheck, fp16ArithVariant } from '../suites/conv/variants/fp16-arith.js';
import { useKernels } from './helpers/kernels.js';
import { convCase, SHORT_OPTIONS } from './helpers/measure.js';
import { convShape as shape } from './helpers/shapes.js';

const kernels = useKernels();
const dir = mkdtempSync(join(tmpdir(), 'rb-schemes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
function yamlFile(text: string): string {
  const f = join(dir, `s${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(f, text);
  return f;
}

describe('schemes as data and on the command line', () => {
  it("the suite's schemes.yaml covers the issue's table and builds its variants", () => {
    const { extras, keys } = readSchemes();
    expect(keys).toEqual(['pc-i8', 'pt-u8', 'pt-i8', 'pc-u8', 'fp16-f16', 'fp16arith-f16']);
    const names = extras.map((e) => buildExtraVariant(e).name);
    expect(names).toContain('conv-im2col-gemm-pt-i8');
    expect(names).toContain('conv-im2col-gemm-pc-u8');
    expect(names).toContain('conv3x3-winograd-f2x2-pc-i8');
    expect(names).toContain('conv-emulated-fp16arith-f16');
  });

  it('bad entries fail at load naming file:line, what is wrong and the closest valid word', () => {
    const f1 = yamlFile('- scheme: "int8:pc"\n- scheme: "int8:pc,entorpy"\n');
    expect(() => readSchemes(f1)).toThrow(`${f1}:2 (entry 2): scheme "int8:pc,entorpy": unknown int8 option "entorpy"`);
    expect(() => readSchemes(f1)).toThrow('(did you mean "entropy"?)');
    const f2 = yamlFile('# c\n\n- scheme: "fp61"\n');
    expect(() => readSchemes(f2)).toThrow(/:3 \(entry 1\): scheme "fp61": unknown scheme "fp61".*did you mean "fp16"/);
    const f3 = yamlFile('- scheme: "int8:percentile=0"\n');
    expect(() => readSchemes(f3)).toThrow('percentile 0 is outside (0, 100]');
    const f4 = yamlFile('- scheme: "int8:pt"\n  kernels: [im2col, depthwise]\n');
    expect(() => readSchemes(f4)).toThrow('unknown kernel "im2col" (did you mean "im2col-gemm"?)');
    const f5 = yamlFile('- scheme: "int8:pt,u8"\n  kernels: [relaxed]\n');
    expect(() => readSchemes(f5)).toThrow('scheme pt does not run on the relaxed kernel (it runs on: im2col-gemm, depthwise, winograd-f2x2)');
    const f6 = yamlFile('- schema: "int8"\n');
    expect(() => readSchemes(f6)).toThrow(/:1 \(entry 1\): .*scheme/);
    const f7 = yamlFile('scheme: int8\n');
    expect(() => readSchemes(f7)).toThrow('expected a list of entries');
  });

  it('--schemes: several per value with ";", errors naming the option', () => {
    const { keys, extras } = schemesOption(['int8:pt,mse;fp16-arith:acc32', 'fp16']);
    expect(keys).toEqual(['pt-mse-i8', 'fp16arith-acc32-f16', 'fp16-f16']);
    expect(extras.map((e) => buildExtraVariant(e).name)).toContain('conv-im2col-gemm-pt-mse-i8');
    expect(() => schemesOption(['int8:pc,percentile=abc'])).toThrow(
      '--schemes "int8:pc,percentile=abc": scheme "int8:pc,percentile=abc": percentile "abc" is not a number',
    );
    expect(() => schemesOption(['fp16-arith:acc64'])).toThrow('fp16-arith takes acc16');
    expect(() => schemesOption([' ; '])).toThrow('--schemes: no scheme given');
    expect(() => schemeExtras('fp16', ['winograd-f2x2'], 'here')).toThrow('here: scheme fp16 does not run on the winograd-f2x2 kernel');
    // fp16 storage on Winograd F(4x4)/F(6x6) (U and V stored as half); int8 is not offered on those tiles.
    expect(schemeExtras('fp16', ['winograd-f4x4', 'winograd-f6x6'], 'here').map((e) => buildExtraVariant(e).name)).toEqual([
      'conv3x3-winograd-f4x4-f16',
      'conv3x3-winograd-f6x6-f16',
    ]);
    expect(() => schemeExtras('int8:pc', ['winograd-f4x4'], 'here')).toThrow('here: scheme pc does not run on the winograd-f4x4 kernel');
    expect(() => schemeExtras('fp16', ['winograd-f8x8'], 'here')).toThrow('here: unknown kernel "winograd-f8x8"');
  });

  it('--schemes selects the low-precision variants: other schemes are left out, fp32 stays', () => {
    const { keys, extras } = schemesOption(['int8:pt,mse']);
    const items = selectItems({
      quick: true,
      seed: 1,
      distribution: 'uniform(-1,1)',
      suites: ['conv'],
      cases: ['vgg16.conv1_2'],
      schemes: keys,
      extraVariants: extras,
    });
    const vs = items.flatMap((i) => i.variants);
    expect(vs).toContain('conv-im2col-gemm-pt-mse-i8');
    expect(vs).toContain('conv3x3-winograd-f2x2-pt-mse-i8');
    expect(vs).toContain('conv-im2col-gemm-f32');
    expect(vs.filter((v) => /-(i8|u8|f16)$/.test(v) && !v.includes('pt-mse'))).toEqual([]);
    // Without --schemes the fixed low-precision variants run.
    const all = selectItems({ quick: true, seed: 1, distribution: 'uniform(-1,1)', suites: ['conv'], cases: ['vgg16.conv1_2'] }, suites).flatMap(
      (i) => i.variants,
    );
    expect(all).toContain('conv-im2col-gemm-pc-i8');
  });
});

describe('fp16 arithmetic, emulated: accuracy only', () => {
  const s = shape({ c: 16, k: 8, h: 9, w: 9, r: 3, s: 3, pad: 1 });
  const { x, w } = makeConvInputs(s, 3, 'uniform(-1,1)');
  const exact = conv2dRef(s, roundF16Array(x), roundF16Array(w));
  const terms = 16 * 9;

  it('its check passes on the emulation, and fails on injected faults', () => {
    for (const acc of ['f16', 'f32'] as const) {
      const y = convF16ArithRef(s, x, w, { accumulate: acc });
      expect(fp16ArithCheck(y, exact.y, exact.absBound, terms, acc).every((c) => c.ok)).toBe(true);
    }
    const y = convF16ArithRef(s, x, w);
    // Fault: an output that is not a half.
    const notHalf = Float32Array.from(y);
    notHalf[5] = notHalf[5]! + 2 ** -20;
    expect(fp16ArithCheck(notHalf, exact.y, exact.absBound, terms, 'f16').find((c) => c.name === 'output is fp16')?.ok).toBe(false);
    // Fault: the emulation scaled by 1.05: the systematic-error check. (These checks are as loose as fp16 is:
    // an error of a few u16 = 2^-11 relative is within what fp16 arithmetic itself may do and is not caught.)
    const scaled = roundF16Array(Float32Array.from(y, (v) => v * 1.05));
    expect(fp16ArithCheck(scaled, exact.y, exact.absBound, terms, 'f16').find((c) => c.name === 'fp16 systematic error')?.ok).toBe(false);
    // Fault: one output off by 4, beyond fp16's worst case (about 0.07 sum|x w| here): the per-element bound.
    const far = Float32Array.from(y);
    far[7] = far[7]! + 4;
    const bound = fp16ArithCheck(far, exact.y, exact.absBound, terms, 'f16').find((c) => c.name === 'fp16 error bound');
    expect(bound?.ok).toBe(false);
    expect(bound?.detail).toMatch(/worst element 7/);
  });

  it('the runner checks it once and never times it: skipped with the reason, accuracy and scheme loss attached', async () => {
    const good = fp16ArithVariant({ kind: 'fp16-arith', accumulate: 'f16' });
    const wrong = { ...fp16ArithVariant({ kind: 'fp16-arith', accumulate: 'f16' }, { outputError: 0.05 }), name: 'conv-emulated-wrong-f16' };
    const variants = [good, wrong];
    const c = convCase('t.f16arith', s, 3);
    const options = SHORT_OPTIONS;
    const results = await measureCase(
      c,
      variants.map((v) => v.name),
      {
        ctx: { kernels: kernels() },
        features: { wasmSimd: true, wasmRelaxedSimd: false },
        options,
        ceilings: null,
        resolveVariant: (_s, n) => variants.find((v) => v.name === n),
      },
    );
    const ok = results.find((r) => r.variant === good.name)!;
    expect(isTimed(ok)).toBe(false);
    expect(ok.state).toBe('skipped');
    if (ok.state !== 'skipped') return;
    expect(ok.reason).toBe(FP16_ARITH_NOT_TIMED);
    expect(ok.accuracy?.schemeLoss?.scheme).toBe('fp16arith');
    expect(Number(ok.accuracy?.schemeLoss?.sqnrDb)).toBeGreaterThan(40);
    expect(ok.accuracy?.checks?.every((x) => x.ok)).toBe(true);
    // Injected fault: an emulation 5% off fails its check, which the reason says.
    const bad = results.find((r) => r.variant === wrong.name)!;
    expect(bad.state === 'skipped' && bad.reason).toMatch(/its check FAILED: .*fp16 systematic error/);
  });

  it('a layer too large to emulate is skipped with the reason', () => {
    const v = fp16ArithVariant({ kind: 'fp16-arith', accumulate: 'f16' });
    expect(v.applies(shape({ c: 256, k: 256, h: 56, w: 56, r: 3, s: 3, pad: 1 }))).toMatch(/limited to 40000000 multiply-adds/);
  });
});
