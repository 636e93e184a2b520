import { describe, expect, it } from 'vitest';
import type { ConvShape } from '../core/contracts.js';
import { convBytes, convElements, convFlops, convIntensity, convWorkingSetBytes } from '../reference/cost.js';

const conv = (c: number, k: number, r: number): ConvShape => ({
  n: 1,
  c,
  h: 56,
  w: 56,
  k,
  r,
  s: r,
  stride: 1,
  pad: (r - 1) / 2,
  groups: 1,
});

describe('cost model (design test vectors, 56x56 fp32)', () => {
  it('plain 3x3 conv 256->256: 3.70 GFLOP, 8.78 MB', () => {
    const s = conv(256, 256, 3);
    // 2 * 256 * 56*56 * 256 * 9
    expect(convFlops(s)).toBe(3_699_376_128);
    expect(Number((convFlops(s) / 1e9).toFixed(2))).toBe(3.7);
    // (256*56*56 in + 256*256*9 w + 256*56*56 out) * 4 bytes; "MB" is decimal (1e6 bytes)
    expect(convBytes(s)).toBe(8_781_824);
    expect(Number((convBytes(s) / 1e6).toFixed(2))).toBe(8.78);
    expect(convIntensity(s)).toBeCloseTo(3_699_376_128 / 8_781_824, 9);
    expect(convWorkingSetBytes(s)).toBe(8_781_824);
  });

  it('bottleneck 1x1 256->64, 3x3 64->64, 1x1 64->256: 0.437 GFLOP, 9.91 MB', () => {
    const layers = [conv(256, 64, 1), conv(64, 64, 3), conv(64, 256, 1)];
    const flops = layers.map((l) => convFlops(l));
    expect(flops).toEqual([102_760_448, 231_211_008, 102_760_448]);
    const totalFlops = flops.reduce((a, b) => a + b, 0);
    expect(totalFlops).toBe(436_731_904);
    expect(Number((totalFlops / 1e9).toFixed(3))).toBe(0.437);
    const bytes = layers.map((l) => convBytes(l));
    expect(bytes).toEqual([4_079_616, 1_753_088, 4_079_616]);
    const totalBytes = bytes.reduce((a, b) => a + b, 0);
    expect(totalBytes).toBe(9_912_320);
    expect(Number((totalBytes / 1e6).toFixed(2))).toBe(9.91);
    // FLOPs fall ~8.5x while bytes rise: intensity falls from ~421 to ~44 FLOP/byte
    expect(convIntensity(conv(256, 256, 3))).toBeCloseTo(421.2537, 3);
    expect(totalFlops / totalBytes).toBeCloseTo(44.0595, 3);
  });

  it('groups, stride, batch and bytes per element', () => {
    // depthwise 3x3 stride 2 on 32x112x112: Ho = 56; 2 * 32 * 56*56 * 1 * 9
    const dw: ConvShape = { n: 1, c: 32, h: 112, w: 112, k: 32, r: 3, s: 3, stride: 2, pad: 1, groups: 32 };
    expect(convFlops(dw)).toBe(1_806_336);
    expect(convElements(dw)).toEqual({ input: 401_408, weights: 288, output: 100_352 });
    expect(convBytes(dw)).toBe((401_408 + 288 + 100_352) * 4);
    expect(convBytes(dw, 2)).toBe((401_408 + 288 + 100_352) * 2);
    // grouped 3x3, 2 images: 2 * 2 * 8 * 5*5 * (4/2) * 9
    const g: ConvShape = { n: 2, c: 4, h: 5, w: 5, k: 8, r: 3, s: 3, stride: 1, pad: 1, groups: 2 };
    expect(convFlops(g)).toBe(14_400);
    expect(convBytes(g, 1)).toBe(2 * 4 * 25 + 8 * 2 * 9 + 2 * 8 * 25);
  });

  it('rejects invalid shapes and byte sizes', () => {
    expect(() => convFlops({ ...conv(3, 4, 1), groups: 2 })).toThrow(/divisible by groups/);
    expect(() => convBytes(conv(4, 4, 1), 0)).toThrow(/bytesPerElement/);
  });
});
