/** One colour per variant, from its name: the same in every report whatever else the run holds. */
import { describe, expect, it } from 'vitest';
import { tileSize, variantColour, variantColours } from '../harness/report/colours.js';

const lightness = (hex: string) => {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255) as [number, number, number];
  return (Math.max(r, g, b) + Math.min(r, g, b)) / 2;
};

const WINOGRAD = ['conv3x3-winograd-f2x2-f32', 'conv3x3-winograd-f4x4-f32', 'conv3x3-winograd-f6x6-f32', 'conv3x3-winograd-f8x8-f32'];

describe('variant colours', () => {
  it('do not depend on the order or the company of the variants', () => {
    const a = variantColours(WINOGRAD.map((v) => ({ variant: v, algorithm: 'winograd' })));
    const b = variantColours([...WINOGRAD].reverse().map((v) => ({ variant: v, algorithm: 'winograd' })));
    const c = variantColours([
      { variant: 'conv-direct-naive-f32', algorithm: 'direct' },
      { variant: WINOGRAD[2]!, algorithm: 'winograd' },
    ]);
    for (const v of WINOGRAD) expect(a.get(v)).toBe(b.get(v));
    expect(c.get(WINOGRAD[2]!)).toBe(a.get(WINOGRAD[2]!));
  });

  it('tell tile sizes apart by tone, lighter for smaller tiles, within one family', () => {
    expect(WINOGRAD.map(tileSize)).toEqual([2, 4, 6, 8]);
    const l = WINOGRAD.map((v) => lightness(variantColour(v, 'winograd')));
    for (let i = 1; i < l.length; i++) expect(l[i]!).toBeLessThan(l[i - 1]! - 0.06);
    expect(lightness(variantColour('conv3x3-fft-t16-f32', 'fft'))).toBeLessThan(lightness(variantColour('conv3x3-fft-t8-f32', 'fft')) - 0.06);
  });

  it('tell the thread counts of one variant apart: darker per doubling, same family', () => {
    const one = variantColour('conv-im2col-gemm-f32', 'im2col-gemm');
    const two = variantColour('conv-im2col-gemm-f32@t2', 'im2col-gemm');
    const four = variantColour('conv-im2col-gemm-f32@t4', 'im2col-gemm');
    // They were one blue in the legend (the name's @t2 was ignored).
    expect(new Set([one, two, four]).size).toBe(3);
    expect(lightness(two)).toBeLessThan(lightness(one) - 0.06);
    expect(lightness(four)).toBeLessThan(lightness(two) - 0.06);
    // The one-thread colour is unchanged by the rule.
    expect(one).toBe(variantColours([{ variant: 'conv-im2col-gemm-f32', algorithm: 'im2col-gemm' }]).get('conv-im2col-gemm-f32'));
  });

  it('give every conv variant its own colour, and an unknown algorithm a stable one', () => {
    const names: [string, string][] = [
      ['conv-direct-naive-f32', 'direct'],
      ['conv-im2col-gemm-f32', 'im2col-gemm'],
      ['conv-depthwise-simd-f32', 'depthwise'],
      ...WINOGRAD.map((v): [string, string] => [v, 'winograd']),
      ['conv3x3-fft-t8-f32', 'fft'],
      ['conv3x3-fft-t16-f32', 'fft'],
      ['conv-onnxruntime-f32', 'onnxruntime'],
    ];
    const colours = names.map(([v, a]) => variantColour(v, a));
    expect(new Set(colours).size).toBe(names.length);
    for (const c of colours) expect(c).toMatch(/^#[0-9a-f]{6}$/);
    expect(variantColour('gemm-csr-s90-f32', 'csr')).toBe(variantColour('gemm-csr-s90-f32', 'csr'));
  });
});
