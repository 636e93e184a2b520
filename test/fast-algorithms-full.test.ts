/**
 * Fast-algorithm checks that take seconds of arithmetic, in the full tier (npm test) rather than the unit
 * tier's 30 s: the FFT budget on a full-size suite layer (test/fft-conv.test.ts and test/fast-budgets.test.ts
 * pin it on awkward and --quick shapes) and docs/winograd.md's tables of the Winograd transforms against the
 * code that computes them (rational arithmetic up to F(8,3)).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ConvShape } from '../core/contracts.js';
import { conv2dRef } from '../reference/conv.js';
import { errorMetrics } from '../reference/metrics.js';
import { makeConvInputs } from '../reference/random.js';
import { approximateToleranceCheck } from '../reference/tolerance.js';
import { cookToom, defaultTransforms, statsMarkdownTable } from '../reference/winograd.js';
import { FFT_MAX_REL_L2, convFftT16F32, convFftT8F32, type FftTile } from '../suites/conv/variants/fft.js';
import { useKernels } from './helpers/kernels.js';

const getKernels = useKernels();
const shape = (p: Partial<ConvShape>): ConvShape => ({ n: 1, c: 1, h: 1, w: 1, k: 1, r: 3, s: 3, stride: 1, pad: 1, groups: 1, ...p });
const TILES: FftTile[] = [8, 16];
const VARIANT = { 8: convFftT8F32, 16: convFftT16F32 } as const;

describe('conv3x3-fft-t8-f32 / t16 on a full-size layer', () => {
  it('the budget holds on a suite layer (resnet50.res2b.branch2b, both distributions)', () => {
    const s = shape({ c: 64, h: 56, w: 56, k: 64 });
    for (const dist of ['uniform(-1,1)', 'activation'] as const) {
      const { x, w } = makeConvInputs(s, 3, dist);
      const ref = conv2dRef(s, x, w);
      for (const t of TILES) {
        const p = VARIANT[t].prepare({ kernels: getKernels() }, s, x, w);
        try {
          p.run();
          const m = errorMetrics(p.output(), ref.y);
          expect(approximateToleranceCheck(m, FFT_MAX_REL_L2[t]).ok).toBe(true);
        } finally {
          p.dispose();
        }
      }
    }
  });
});

/** The F(8,3) candidates compared in docs/winograd.md (the default is the ±3/4 row). */
const F8_CANDIDATES = [
  '0,1,-1,2,-2,1/2,-1/2,3/4,-3/4,inf',
  '0,1,-1,2,-2,1/2,-1/2,4/3,-3/4,inf',
  '0,1,-1,2,-2,1/2,-1/2,4/3,-4/3,inf',
  '0,1,-1,2,-2,1/2,-1/2,4,-1/4,inf',
  '0,1,-1,2,-2,1/2,-1/2,3,-3,inf',
  '0,1,-1,2,-2,1/2,-1/2,4,-4,inf',
  '0,1,-1,2,-2,1/2,-1/2,1/4,-1/4,inf',
];

describe('docs/winograd.md', () => {
  it('carries the tables this code computes', () => {
    const doc = readFileSync(new URL('../docs/winograd.md', import.meta.url), 'utf8');
    const tiles: [number, number][] = [
      [2, 3],
      [4, 3],
      [6, 3],
      [8, 3],
    ];
    expect(doc).toContain(statsMarkdownTable(tiles.map(([m, r]) => defaultTransforms(m, r))));
    expect(doc).toContain(statsMarkdownTable(F8_CANDIDATES.map((p) => cookToom(8, 3, p))));
  });
});
