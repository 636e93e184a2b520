/**
 * Every kernel code path the unit tests cover also runs in a --quick run (where
 * users run): each path below, described by the shape condition that sends a
 * kernel down it, is reached by at least one --quick case of the conv suite
 * (suites/conv/shapes.yaml, its `only: quick` entries included) to which the
 * variant applies. A path no quick case reaches fails here, naming it.
 */
import { describe, expect, it } from 'vitest';
import type { ConvShape, ConvVariant } from '../core/contracts.js';
import { GEMM_TILE } from '../kernels/index.js';
import { convOutputSize } from '../reference/conv.js';
import { convCases } from '../suites/conv/cases.js';
import { convDepthwiseSimdF32 } from '../suites/conv/variants/depthwise-simd.js';
import { convFftT16F32, fftGeometry } from '../suites/conv/variants/fft.js';
import { convIm2colGemmF32 } from '../suites/conv/variants/im2col-gemm.js';
import { winogradF2x2, winogradF4x4 } from '../suites/conv/variants/winograd.js';
import { convIm2colGemmPcI8 } from '../suites/conv/variants/int8-im2col-gemm.js';
import { qwinogradBlock, winogradF2x2PcI8 } from '../suites/conv/variants/int8-winograd.js';
import { convDepthwisePcI8 } from '../suites/conv/variants/int8-depthwise.js';
import { convDepthwiseF16 } from '../suites/conv/variants/fp16-depthwise.js';

const quick = convCases({ quick: true, seed: 1, distribution: 'uniform(-1,1)' });

const PATHS: { path: string; variant: ConvVariant; reaches: (s: ConvShape) => boolean }[] = [
  {
    path: 'depthwise 3x3 stride 1 with an odd number of output rows (the kernel does 2 rows per pass, then a single-row remainder)',
    variant: convDepthwiseSimdF32,
    reaches: (s) => s.r === 3 && s.s === 3 && s.stride === 1 && convOutputSize(s).ho % 2 === 1,
  },
  {
    path: 'FFT with 16x16 tiles stepping over several tiles in both directions',
    variant: convFftT16F32,
    reaches: (s) => fftGeometry(s, 16).tilesY > 1 && fftGeometry(s, 16).tilesX > 1,
  },
  {
    path: `Winograd with more than ${GEMM_TILE.kc} input channels (its GEMMs accumulate over several KC slices)`,
    variant: winogradF4x4,
    reaches: (s) => s.c > GEMM_TILE.kc,
  },
  {
    path: `the im2col GEMM with a reduction under ${GEMM_TILE.kc} (one KC slice) and more than ${GEMM_TILE.mc} output rows (several MC row blocks)`,
    variant: convIm2colGemmF32,
    reaches: (s) => (s.c / s.groups) * s.r * s.s < GEMM_TILE.kc && s.k / s.groups > GEMM_TILE.mc,
  },
  {
    path: 'Winograd F(2x2) cropping its edge tiles (an odd output size)',
    variant: winogradF2x2,
    reaches: (s) => convOutputSize(s).ho % 2 === 1 || convOutputSize(s).wo % 2 === 1,
  },
  {
    path: 'the int8 im2col GEMM with a reduction past its 512-element KC slice (int32 partial sums across slices)',
    variant: convIm2colGemmPcI8,
    reaches: (s) => (s.c / s.groups) * s.r * s.s > 512,
  },
  {
    path: 'int8 Winograd F(2x2) over several tile blocks',
    variant: winogradF2x2PcI8,
    reaches: (s) => s.n * Math.ceil(convOutputSize(s).ho / 2) * Math.ceil(convOutputSize(s).wo / 2) > qwinogradBlock(s),
  },
  {
    path: 'int8 depthwise at stride 2 (even / odd half rows)',
    variant: convDepthwisePcI8,
    reaches: (s) => s.stride === 2,
  },
  {
    path: 'fp16-storage depthwise at stride 2 (halves de-interleaved into even / odd f32 rows)',
    variant: convDepthwiseF16,
    reaches: (s) => s.stride === 2,
  },
];

describe('--quick cases reach every kernel code path the unit tests cover', () => {
  for (const { path, variant, reaches } of PATHS) {
    it(path, () => {
      const hits = quick.filter((c) => variant.applies(c.shape) === true && reaches(c.shape)).map((c) => c.layer);
      expect(hits, `no --quick case reaches: ${path}`).not.toEqual([]);
    });
  }

  it('the quick-only cases are in --quick runs only, with their shapes as given', () => {
    const full = convCases({ quick: false, seed: 1, distribution: 'uniform(-1,1)' }).map((c) => c.layer);
    const only = quick.filter((c) => !full.includes(c.layer));
    expect(only.map((c) => c.layer)).toEqual(['vgg16.conv1_2', 'vgg16.conv4_2', 'resnet50.res4a.branch2c']);
    expect(only.find((c) => c.layer === 'vgg16.conv4_2')?.shape).toMatchObject({ c: 512, h: 7, w: 7, k: 16 });
    // Seeds come from the position in the file, so adding cases at its end keeps the existing cases' seeds.
    const seeds = new Map(quick.map((c) => [c.layer, c.seed]));
    expect(seeds.get('vgg16.conv3_2')).toBe(1);
  });
});
