/**
 * The logic of measureCase's policies (harness/runner/): how many samples each variant gets, the rotated
 * order of the interleaved rounds, how the samples are spread over the rounds, and when a variant is skipped.
 * No duration is asserted.
 */
import { describe, expect, it } from 'vitest';
import { convCase } from '../core/contracts.js';
import type { CaseSpec, ConvVariant } from '../core/contracts.js';
import { roundOrder, sampleCounts, samplesThisRound } from '../harness/runner/sampling.js';
import { skipReason } from '../harness/runner/measure.js';
import { convDepthwiseSimdF32 } from '../suites/conv/variants/depthwise-simd.js';
import { convIm2colGemmF32 } from '../suites/conv/variants/im2col-gemm.js';
import { convIm2colGemmRelaxedPcI8 } from '../suites/conv/variants/int8-relaxed.js';

const options = { minSampleMs: 10, targetMs: 1000, minSamples: 5, maxSamples: 60 };

describe('interleaved sampling', () => {
  it('gives each variant enough samples to fill targetMs, within [minSamples, maxSamples]', () => {
    expect(sampleCounts([{ reps: 1, perRunMs: 50 }], options)).toEqual([20]); // 1000 / 50
    expect(sampleCounts([{ reps: 100, perRunMs: 0.01 }], options)).toEqual([60]); // 10 ms samples: 100, capped
    expect(sampleCounts([{ reps: 1, perRunMs: 500 }], options)).toEqual([5]); // 2, raised to the minimum
    // A sample never lasts less than minSampleMs, however fast one run is.
    expect(sampleCounts([{ reps: 1, perRunMs: 0.001 }], { ...options, maxSamples: 1000 })).toEqual([100]);
  });

  it('rotates the order by one place per round, so no variant always goes first', () => {
    expect([0, 1, 2, 3].map((r) => roundOrder(['a', 'b', 'c'], r).join(''))).toEqual(['abc', 'bca', 'cab', 'abc']);
    expect(roundOrder([], 3)).toEqual([]);
  });

  it('spreads the samples evenly over the rounds and takes exactly the wanted number', () => {
    const rounds = 4;
    let taken = 0;
    const per: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const k = samplesThisRound(10, taken, r, rounds);
      per.push(k);
      taken += k;
    }
    expect(per).toEqual([3, 3, 2, 2]);
    expect(taken).toBe(10);
    expect(samplesThisRound(10, 12, 2, 4)).toBeLessThanOrEqual(0); // already more than wanted: none
  });
});

describe('skipping', () => {
  const c = (p: Partial<CaseSpec['shape']>): CaseSpec =>
    convCase({
      id: 'conv/x',
      suite: 'conv',
      layer: 'x',
      description: '',
      seed: 1,
      distribution: 'uniform(-1,1)',
      tags: [],
      shape: { n: 1, c: 4, h: 5, w: 5, k: 4, r: 3, s: 3, stride: 1, pad: 1, groups: 1, ...p },
    });
  it('says why: a missing runtime feature first, then the shape the variant does not apply to', () => {
    expect(skipReason(convIm2colGemmF32, c({}), { wasmSimd: true })).toBeNull();
    expect(skipReason(convIm2colGemmF32, c({}), { wasmSimd: false })).toBe('no WebAssembly SIMD on this runtime');
    expect(skipReason(convIm2colGemmRelaxedPcI8 as ConvVariant, c({}), { wasmSimd: true })).toMatch(/--experimental-wasm-relaxed-simd/);
    expect(skipReason(convDepthwiseSimdF32, c({}), { wasmSimd: true })).toMatch(/not a depthwise layer/);
    expect(skipReason(convDepthwiseSimdF32, c({ groups: 4 }), { wasmSimd: true })).toBeNull();
  });
});
