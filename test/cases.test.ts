/** The conv suite's cases come from data: validated at load, scaled down for --quick without losing their character. */
import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convCases, convExtraVariants, quickShape, readShapes } from '../suites/conv/cases.js';
import { convOutputSize } from '../reference/conv.js';
import { convBytes, convFlops } from '../reference/cost.js';

function file(text: string): string {
  const f = join(mkdtempSync(join(tmpdir(), 'roofbench-cases-')), 'shapes.yaml');
  writeFileSync(f, text);
  return f;
}

describe('shapes.yaml', () => {
  it('holds the layers the suite promises, named after their networks', () => {
    const layers = readShapes().map((e) => e.layer);
    for (const l of [
      'vgg16.conv3_2',
      'resnet50.res2b.branch2a',
      'resnet50.res2b.branch2b',
      'resnet50.res2b.branch2c',
      'mobilenet_v1.conv_dw_3',
      'mobilenet_v1.conv_pw_3',
    ]) {
      expect(layers).toContain(l);
    }
    const shapes = readShapes().map((e) => e.shape);
    expect(shapes.some((s) => s.stride === 2)).toBe(true);
    expect(shapes.some((s) => s.groups > 1 && s.groups < s.c)).toBe(true);
    expect(shapes.some((s) => s.h % 2 === 1 && s.c % 4 !== 0)).toBe(true);
  });

  it('the talk layer and bottleneck match the design vectors', () => {
    const by = new Map(readShapes().map((e) => [e.layer, e.shape]));
    const plain = by.get('vgg16.conv3_2')!;
    expect((convFlops(plain) / 1e9).toFixed(2)).toBe('3.70');
    expect((convBytes(plain) / 1e6).toFixed(2)).toBe('8.78');
    const trio = ['a', 'b', 'c'].map((x) => by.get(`resnet50.res2b.branch2${x}`)!);
    expect((trio.reduce((n, s) => n + convFlops(s), 0) / 1e9).toFixed(3)).toBe('0.437');
    expect((trio.reduce((n, s) => n + convBytes(s), 0) / 1e6).toFixed(2)).toBe('9.91');
  });

  it('rejects malformed entries, naming the file and the entry', () => {
    expect(() => readShapes(file('- layer: x\n  description: d\n  shape: { n: 1, c: 3, h: 8, w: 8, k: 4, r: 3, s: 3, stride: 1, pad: 1 }\n'))).toThrow(
      /shapes\.yaml: entry 0\.shape\.groups: /,
    );
    expect(() =>
      readShapes(file('- layer: x\n  description: d\n  shape: { n: 1, c: 3, h: 2, w: 2, k: 4, r: 5, s: 5, stride: 1, pad: 0, groups: 1 }\n')),
    ).toThrow(/layer x: invalid shape/);
    const one = '- layer: x\n  description: d\n  shape: { n: 1, c: 3, h: 8, w: 8, k: 4, r: 3, s: 3, stride: 1, pad: 1, groups: 1 }\n';
    expect(() => readShapes(file(one + one))).toThrow(/duplicate layer name x/);
    expect(() => readShapes(file('- layer: x\n  typo: 1\n'))).toThrow(/entry 0/);
  });
});

describe('--quick shapes', () => {
  it('keep every layer valid, depthwise depthwise, groups dividing channels, and cost less', () => {
    for (const e of readShapes()) {
      const q = quickShape(e.shape);
      expect(() => convOutputSize(q)).not.toThrow();
      expect(q.c % q.groups).toBe(0);
      expect(q.k % q.groups).toBe(0);
      if (e.tags.includes('depthwise')) expect(q.groups === q.c && q.c === q.k).toBe(true);
      expect(convFlops(q)).toBeLessThan(convFlops(e.shape));
      expect([q.r, q.s, q.stride, q.pad]).toEqual([e.shape.r, e.shape.s, e.shape.stride, e.shape.pad]);
    }
  });

  it('cases carry per-case seeds derived from the run seed and the distribution', () => {
    const a = convCases({ quick: true, seed: 1, distribution: 'activation' });
    const b = convCases({ quick: true, seed: 2, distribution: 'activation' });
    expect(new Set(a.map((c) => c.seed)).size).toBe(a.length);
    expect(a[0]!.seed).not.toBe(b[0]!.seed);
    expect(a.every((c) => c.distribution === 'activation' && c.id === `conv/${c.layer}`)).toBe(true);
  });
});

describe('winograd.yaml', () => {
  it('lists extra tiles as data', () => {
    expect(convExtraVariants()).toEqual([{ suite: 'conv', kind: 'winograd', m: 8, points: ['0', '1', '-1', '2', '-2', '1/2', '-1/2', '3/4', '-3/4', 'inf'] }]);
  });
  it('rejects a malformed entry', () => {
    expect(() => convExtraVariants(file('- m: 0\n  points: [0, 1]\n'))).toThrow(/entry 0\.m/);
  });
});

describe('--quick case descriptions', () => {
  it('say the case runs scaled down (the description gives the real layer: "256->256 at 56x56 (3.70 GFLOP)")', () => {
    const full = convCases({ quick: false, seed: 1, distribution: 'uniform(-1,1)' }).find((c) => c.id === 'conv/vgg16.conv3_2')!;
    const quick = convCases({ quick: true, seed: 1, distribution: 'uniform(-1,1)' });
    expect(full.description).not.toContain('--quick');
    expect(quick.find((c) => c.id === 'conv/vgg16.conv3_2')!.description).toBe(`${full.description} (--quick: channels and sizes / 4)`);
    // A quick-only case is already small: nothing to add.
    const only = readShapes().filter((e) => e.only === 'quick');
    expect(only.length).toBeGreaterThan(0);
    for (const e of only) expect(quick.find((c) => c.id === `conv/${e.layer}`)!.description).toBe(e.description);
  });
});
