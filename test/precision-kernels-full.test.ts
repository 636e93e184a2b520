/**
 * The low-precision checks of the full tier (npm test), kept out of the unit tier's 30 s
 * (test/precision-kernels.test.ts has the rest): the relaxed-SIMD kernels in Node processes started
 * with --experimental-wasm-relaxed-simd (bit-exact where the 7-bit operand stays in [0, 127], flagged
 * otherwise); the quantization schemes against an independent numpy computation of the same definitions
 * (64 case x scheme pairs, from a fixture scripts/precision_numpy.py wrote). The int8 ceiling measured
 * with the device ceilings: test/ceilings.test.ts. No speed is asserted.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it, inject } from 'vitest';
import { useKernels } from './helpers/kernels.js';
import { NUMPY_CASES, NUMPY_SCHEMES, compareFigures, ourFigures, type Figures } from '../scripts/precision-numpy.js';
import numpyFixture from './fixtures/precision-numpy.json' with { type: 'json' };

const kernels = useKernels();

describe('relaxed SIMD (a Node started with --experimental-wasm-relaxed-simd)', () => {
  type Run = { name: string; checks: { name: string; ok: boolean; detail: string }[]; nonPortable: string | null };
  const fixture = fileURLToPath(new URL('./fixtures/relaxed-check.ts', import.meta.url));
  const runFixture = async (...flags: string[]) => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--experimental-wasm-relaxed-simd', ...flags, '--import', 'tsx', fixture, inject('kernelsDir')],
      {
        timeout: 120_000,
      },
    );
    return JSON.parse(stdout) as { loaded: boolean; topBitLane: number; runs: Record<string, Run> };
  };
  const exact = (r: Run | undefined) => r !== undefined && r.checks.length > 0 && r.checks.every((c) => c.ok);

  it('loads only with the flag; both operand orders exact and portable when the i7 operand stays in [0, 127], flagged otherwise', async () => {
    expect(kernels().relaxed).toBeNull(); // this test process runs without the flag
    expect(kernels().relaxedUnavailable).toMatch(/--experimental-wasm-relaxed-simd/);
    // TurboFan only (--no-liftoff): the engine's relaxed dot products follow the specification here.
    for (const out of [await runFixture('--no-liftoff'), await runFixture()]) {
      expect(out.loaded).toBe(true);
      const r = out.runs;
      expect(exact(r['split.actClear']), JSON.stringify(r['split.actClear'])).toBe(true); // activations >= 0 as the i7 operand
      expect(exact(r['split.wClear']), JSON.stringify(r['split.wClear'])).toBe(true); // weights >= 0 as the i7 operand
      for (const key of ['split.actClear', 'split.wClear', 'fused.actClear', 'fused.wClear']) expect(r[key]?.nonPortable, key).toBeNull();
      // Top bits set in the i7 operand: flagged in both orders and both forms; exact only if this engine reads them as signed.
      // -128 x -127 twice: 32512 read as signed (or as unsigned, wrapped), -32768 as unsigned and saturated.
      expect([32512, -32768]).toContain(out.topBitLane);
      const signedEngine = out.topBitLane === 32512;
      for (const key of ['fused.actTopBit', 'fused.wTopBit', 'split.actTopBit', 'split.wTopBit']) {
        expect(r[key]?.nonPortable, key).toMatch(/implementation-defined/);
        if (key.startsWith('split')) expect(exact(r[key]), key).toBe(signedEngine);
      }
    }
  });

  it("the fused dot-add: exact under V8's optimising compiler; where the baseline compiler miscomputes it, the kernel check says so", async () => {
    const turbo = await runFixture('--no-liftoff');
    expect(exact(turbo.runs['fused.actClear']), JSON.stringify(turbo.runs['fused.actClear'])).toBe(true);
    expect(exact(turbo.runs['fused.wClear'])).toBe(true);
    const plain = await runFixture();
    const fused = plain.runs['fused.actClear'];
    if (!exact(fused)) {
      // The same packing and data with the two-step dot are exact: the fault is the engine's fused instruction, and it is reported.
      expect(exact(plain.runs['split.actClear'])).toBe(true);
      expect(fused?.checks.find((c) => !c.ok)?.detail).toMatch(/differ from the exact integer reference/);
      expect(fused?.nonPortable).toBeNull();
    }
  });
});

describe('the schemes agree with an independent numpy computation of the same definitions', () => {
  it('quantization parameters, quantized tensors, exact results, requantized codes and scheme-loss figures (scripts/precision_numpy.py)', () => {
    const cases = (numpyFixture as { cases: { name: string; schemes: Figures[] }[] }).cases;
    expect(cases.map((c) => c.name)).toEqual(NUMPY_CASES.map((c) => c.name));
    let compared = 0;
    for (const [ci, c] of NUMPY_CASES.entries()) {
      for (const [si, s] of NUMPY_SCHEMES.entries()) {
        const theirs = cases[ci]!.schemes[si]!;
        expect(compareFigures(ourFigures(kernels(), c, s), theirs), `${c.name} ${JSON.stringify(s)}`).toEqual([]);
        compared++;
      }
    }
    expect(compared).toBe(64);
    // The comparison can fail: one requantization code off changes the hash, a scale off by an ulp is seen.
    const ours = ourFigures(kernels(), NUMPY_CASES[0]!, NUMPY_SCHEMES[0]!);
    expect(compareFigures({ ...ours, codesHash: (ours.codesHash ?? 0) + 1 }, cases[0]!.schemes[0]!)).toHaveLength(1);
    expect(compareFigures({ ...ours, yScale: ours.yScale * (1 + 2 ** -23) }, cases[0]!.schemes[0]!)).toHaveLength(1);
  });
});
