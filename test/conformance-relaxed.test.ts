/**
 * The relaxed-SIMD variants of every suite kit through the conformance check (test/conformance.test.ts runs
 * the others): in a Node started with --experimental-wasm-relaxed-simd (test/fixtures/conformance-relaxed.ts),
 * so in the full tier (npm test), not the unit tier's 30 s.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';
import { suiteKits } from '../suites/kits.js';
import { failures, needsRelaxed, unexercised, type ConformanceOutcome } from './helpers/conformance.js';

describe('conformance: the relaxed-SIMD variants against the float64 reference', () => {
  it('the relaxed-SIMD variants run too (a Node started with --experimental-wasm-relaxed-simd): exact, or saying their output is implementation-defined', async () => {
    const relaxed = suiteKits.flatMap((k) => k.variants.filter(needsRelaxed).map((v) => v.name));
    expect(relaxed.length).toBeGreaterThan(0);
    const fixture = fileURLToPath(new URL('./fixtures/conformance-relaxed.ts', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, ['--experimental-wasm-relaxed-simd', '--import', 'tsx', fixture, inject('kernelsDir')], {
      timeout: 240_000,
    });
    const out = JSON.parse(stdout) as ConformanceOutcome[];
    expect(failures(out)).toEqual([]);
    // Activations of both signs reach the relaxed dot's 7-bit operand here: the output is implementation-defined and
    // the variant must say so (test/precision-kernels.test.ts checks them bit-exact where the operand stays in [0, 127]).
    expect(out.filter((o) => o.state !== 'skipped').length).toBeGreaterThan(0);
    for (const o of out.filter((x) => x.state === 'nonportable')) expect(o.detail, o.variant).toMatch(/relaxed/i);
    expect(unexercised(out, suiteKits, needsRelaxed, ['passed', 'nonportable'])).toEqual([]);
  }, 300_000);
});
