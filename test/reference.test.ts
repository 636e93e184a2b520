import { describe, expect, it } from 'vitest';
import type { ConvShape } from '../core/contracts.js';
import { conv2dRef, convOutputSize } from '../reference/conv.js';
import { errorMetrics } from '../reference/metrics.js';
import { F32_UNIT_ROUNDOFF, approximateToleranceCheck, exactToleranceCheck, gamma } from '../reference/tolerance.js';
import { detLog, makeConvInputs, makeRng } from '../reference/random.js';
import { checksumF32, fnv1a64Hex } from '../reference/checksum.js';

const shape = (p: Partial<ConvShape>): ConvShape => ({
  n: 1,
  c: 1,
  h: 3,
  w: 3,
  k: 1,
  r: 1,
  s: 1,
  stride: 1,
  pad: 0,
  groups: 1,
  ...p,
});

/** Independent naive 7-loop conv with per-element bounds checks. */
function naiveConv(s: ConvShape, x: ArrayLike<number>, w: ArrayLike<number>): { y: number[]; abs: number[] } {
  const ho = Math.floor((s.h + 2 * s.pad - s.r) / s.stride) + 1;
  const wo = Math.floor((s.w + 2 * s.pad - s.s) / s.stride) + 1;
  const cg = s.c / s.groups;
  const kg = s.k / s.groups;
  const y: number[] = [];
  const abs: number[] = [];
  for (let n = 0; n < s.n; n++)
    for (let k = 0; k < s.k; k++)
      for (let oh = 0; oh < ho; oh++)
        for (let ow = 0; ow < wo; ow++) {
          let acc = 0;
          let accAbs = 0;
          const g = Math.floor(k / kg);
          for (let c = 0; c < cg; c++)
            for (let r = 0; r < s.r; r++)
              for (let q = 0; q < s.s; q++) {
                const ih = oh * s.stride - s.pad + r;
                const iw = ow * s.stride - s.pad + q;
                if (ih < 0 || ih >= s.h || iw < 0 || iw >= s.w) continue;
                const xv = x[((n * s.c + g * cg + c) * s.h + ih) * s.w + iw]!;
                const wv = w[((k * cg + c) * s.r + r) * s.s + q]!;
                acc += xv * wv;
                accAbs += Math.abs(xv * wv);
              }
          y.push(acc);
          abs.push(accAbs);
        }
  return { y, abs };
}

describe('convOutputSize', () => {
  it('computes Ho, Wo with stride and padding', () => {
    expect(convOutputSize(shape({ h: 56, w: 56, r: 3, s: 3, pad: 1 }))).toEqual({ ho: 56, wo: 56 });
    expect(convOutputSize(shape({ h: 224, w: 224, r: 7, s: 7, pad: 3, stride: 2 }))).toEqual({ ho: 112, wo: 112 });
    expect(convOutputSize(shape({ h: 3, w: 5, r: 2, s: 2, pad: 1, stride: 2 }))).toEqual({ ho: 2, wo: 3 });
  });
  it('rejects invalid shapes with a clear message', () => {
    expect(() => convOutputSize(shape({ h: 2, w: 2, r: 3, s: 3 }))).toThrow(/output size 0x0 < 1/);
    expect(() => convOutputSize(shape({ c: 3, k: 4, groups: 2 }))).toThrow(/divisible by groups/);
    expect(() => convOutputSize(shape({ c: 4, k: 3, groups: 2 }))).toThrow(/divisible by groups/);
    expect(() => convOutputSize(shape({ stride: 0 }))).toThrow(/stride = 0/);
    expect(() => convOutputSize(shape({ pad: -1 }))).toThrow(/pad = -1/);
  });
});

describe('conv2dRef on hand-computed cases', () => {
  it('1x1x3x3 input, 2x2 kernel, stride 1, no padding', () => {
    const x = [1, 2, 3, 4, 5, 6, 7, 8, 9];
    const { y, absBound } = conv2dRef(shape({ r: 2, s: 2 }), x, [1, -2, 3, -4]);
    // y00 = 1*1 - 2*2 + 4*3 - 5*4 = -11, |.| terms sum to 37; etc.
    expect(Array.from(y)).toEqual([-11, -13, -17, -19]);
    expect(Array.from(absBound)).toEqual([37, 47, 67, 77]);
  });

  it('stride 2 with padding 1', () => {
    const x = [1, 2, 3, 4, 5, 6, 7, 8, 9];
    const { y } = conv2dRef(shape({ r: 2, s: 2, stride: 2, pad: 1 }), x, [1, 2, 3, 4]);
    // (0,0): only x00*w11 = 4; (0,1): x01*w10 + x02*w11 = 6 + 12; (1,0): x10*w01 + x20*w11 = 8 + 28;
    // (1,1): 5*1 + 6*2 + 8*3 + 9*4 = 77
    expect(Array.from(y)).toEqual([4, 18, 36, 77]);
  });

  it('groups = 2 (1x1, two output channels per group)', () => {
    // input channels: c0 = [1,2,3,4], c1 = [1,1,1,1], c2 = [2,0,0,2], c3 = [0,1,0,1]
    const x = [1, 2, 3, 4, 1, 1, 1, 1, 2, 0, 0, 2, 0, 1, 0, 1];
    // w [4, 2, 1, 1]: k0 = [1, 10], k1 = [-1, 0] on (c0, c1); k2 = [3, -1], k3 = [0, 2] on (c2, c3)
    const w = [1, 10, -1, 0, 3, -1, 0, 2];
    const { y, absBound } = conv2dRef(shape({ c: 4, k: 4, h: 2, w: 2, groups: 2 }), x, w);
    expect(Array.from(y)).toEqual([11, 12, 13, 14, -1, -2, -3, -4, 6, -1, 0, 5, 0, 2, 0, 2]);
    expect(Array.from(absBound)).toEqual([11, 12, 13, 14, 1, 2, 3, 4, 6, 1, 0, 7, 0, 2, 0, 2]);
  });

  it('depthwise (groups = C), 3x3 kernel, padding 1 on a 2x2 input', () => {
    const x = [1, 2, 3, 4, 1, 0, 0, -1];
    const w = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9];
    const { y, absBound } = conv2dRef(shape({ c: 2, k: 2, h: 2, w: 2, r: 3, s: 3, pad: 1, groups: 2 }), x, w);
    // channel 0: every window covers the whole 2x2 input: 10. channel 1: x00 = 1 and x11 = -1 meet
    // (w11, w22) = (5, 9), (w10, w21) = (4, 8), (w01, w12) = (2, 6), (w00, w11) = (1, 5).
    expect(Array.from(y)).toEqual([10, 10, 10, 10, -4, -4, -4, -4]);
    expect(Array.from(absBound)).toEqual([10, 10, 10, 10, 14, 12, 8, 6]);
  });

  it('batch of 2 and output rows that fall entirely in the padding', () => {
    // h = w = 1, pad = 2, 2x2 kernel, stride 3: Ho = floor((1 + 4 - 2) / 3) + 1 = 2.
    // Output (0,0) window covers rows/cols -2..-1 (all padding); (1,1) covers 1..2 (padding);
    // (0,1)/(1,0) cover -2..-1 x 1..2: all padding. Every output is 0.
    const s = shape({ n: 2, h: 1, w: 1, r: 2, s: 2, pad: 2, stride: 3 });
    const { y, absBound } = conv2dRef(s, [5, 7], [1, 2, 3, 4]);
    expect(Array.from(y)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(absBound)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    // pad 1, stride 1, 2x2 kernel over 1x1: Ho = 2, output (i,j) meets w[1-i][1-j].
    const r = conv2dRef(shape({ n: 2, h: 1, w: 1, r: 2, s: 2, pad: 1 }), [5, -7], [1, 2, 3, 4]);
    expect(Array.from(r.y)).toEqual([20, 15, 10, 5, -28, -21, -14, -7]);
  });

  it('validates input lengths', () => {
    expect(() => conv2dRef(shape({}), new Float32Array(8), [1])).toThrow(/x has 8 elements, shape needs N\*C\*H\*W = 9/);
    expect(() => conv2dRef(shape({ r: 2, s: 2 }), new Float32Array(9), [1])).toThrow(/w has 1 elements/);
  });
});

describe('conv2dRef against an independent naive 7-loop conv', () => {
  const cases: ConvShape[] = [
    { n: 2, c: 6, h: 7, w: 9, k: 4, r: 3, s: 2, stride: 2, pad: 1, groups: 2 },
    { n: 1, c: 3, h: 5, w: 5, k: 5, r: 5, s: 5, stride: 1, pad: 2, groups: 1 },
    { n: 1, c: 4, h: 6, w: 5, k: 8, r: 3, s: 3, stride: 1, pad: 1, groups: 4 }, // depthwise, multiplier 2
    { n: 1, c: 5, h: 11, w: 8, k: 9, r: 3, s: 3, stride: 3, pad: 0, groups: 1 }, // k = 2 blocks of 4 + 1
    { n: 3, c: 7, h: 4, w: 6, k: 6, r: 1, s: 3, stride: 2, pad: 3, groups: 1 }, // pad > kernel
    { n: 1, c: 8, h: 9, w: 7, k: 12, r: 2, s: 4, stride: 1, pad: 1, groups: 2 },
  ];
  for (const s of cases) {
    it(JSON.stringify(s), () => {
      const { x, w } = makeConvInputs(s, 99, 'uniform(-1,1)');
      const got = conv2dRef(s, x, w);
      const want = naiveConv(s, x, w);
      expect(got.y.length).toBe(want.y.length);
      let nonzero = 0;
      for (let i = 0; i < want.y.length; i++) {
        const tol = 1e-12 * (want.abs[i]! + 1e-300);
        expect(Math.abs(got.y[i]! - want.y[i]!)).toBeLessThanOrEqual(tol);
        expect(Math.abs(got.absBound[i]! - want.abs[i]!)).toBeLessThanOrEqual(tol);
        if (want.y[i] !== 0) nonzero++;
      }
      expect(nonzero).toBeGreaterThan(want.y.length / 4); // not a trivially all-zero comparison
    });
  }
});

describe('errorMetrics', () => {
  const ref = [1, -2, 3, 0];
  const y = [1.2, -2, 2.7, 0.001];
  it('computes all metrics on a fixed vector', () => {
    const m = errorMetrics(y, ref);
    expect(m.maxAbs).toBeCloseTo(0.3, 14);
    // sum err^2 = 0.04 + 0.09 + 1e-6, sum ref^2 = 14
    expect(m.relL2).toBeCloseTo(Math.sqrt(0.130001 / 14), 14);
    expect(m.relL2).toBeCloseTo(0.0963627817898887, 14);
    // floor = 1e-3 * 3: the ref = 0 element is left out; 0.2/1 beats 0.3/3
    expect(m.maxRel).toBeCloseTo(0.2, 14);
    expect(m.sqnrDb).toBeCloseTo(20.321813426574664, 10);
    // <y, ref> = 13.3, ||y||^2 = 12.730001
    expect(m.cosine).toBeCloseTo(13.3 / Math.sqrt(12.730001 * 14), 14);
  });
  it('honours relFloor', () => {
    expect(errorMetrics(y, ref, { relFloor: 1.5 }).maxRel).toBeCloseTo(0.1, 14);
    expect(errorMetrics(y, ref, { relFloor: 10 }).maxRel).toBe(0);
  });
  it('exact output', () => {
    const m = errorMetrics(Float32Array.from(ref), ref);
    expect(m).toMatchObject({ maxAbs: 0, relL2: 0, maxRel: 0, sqnrDb: Infinity });
    expect(m.cosine).toBeCloseTo(1, 15);
  });
  it('NaN or Infinity in the output never looks accurate', () => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      const m = errorMetrics([1, bad, 3, 0], ref);
      expect(m.maxAbs).toBe(Infinity);
      expect(m.relL2).toBe(Infinity);
      expect(m.maxRel).toBe(Infinity);
      expect(m.sqnrDb).toBe(-Infinity);
      expect(m.cosine).toBeNaN();
      expect(m.relL2 <= 1e6).toBe(false);
      expect(m.cosine >= 0.5).toBe(false);
    }
  });
  it('all-zero reference', () => {
    expect(errorMetrics([0, 0], [0, 0])).toMatchObject({ relL2: 0, sqnrDb: Infinity, cosine: 1 });
    expect(errorMetrics([0, 1e-3], [0, 0])).toMatchObject({ maxAbs: 1e-3, relL2: Infinity, sqnrDb: -Infinity, cosine: 0 });
  });
  it('throws on length mismatch and on a non-finite reference', () => {
    expect(() => errorMetrics([1, 2], [1, 2, 3])).toThrow(/2 elements but the reference has 3/);
    expect(() => errorMetrics([1, 2], [1, NaN])).toThrow(/reference element 1 is NaN/);
  });
});

describe('tolerance', () => {
  // 576-long reduction: C = 64, 3x3
  const s: ConvShape = { n: 1, c: 64, h: 6, w: 6, k: 4, r: 3, s: 3, stride: 1, pad: 1, groups: 1 };
  const n = 64 * 9;
  const { x, w } = makeConvInputs(s, 2024, 'uniform(-1,1)');
  const { y: ref, absBound } = conv2dRef(s, x, w);

  it('gamma_n and the source string', () => {
    expect(F32_UNIT_ROUNDOFF).toBe(2 ** -24);
    const nu = 576 * 2 ** -24;
    expect(gamma(576)).toBe(nu / (1 - nu));
    expect(() => gamma(2 ** 24)).toThrow(/n\*u = 1 >= 1/);
    const r = exactToleranceCheck(Float32Array.from(ref), ref, absBound, n);
    expect(r.source).toBe('gamma_n*sum|x*w| per element, n=576, u=2^-24');
    expect(r.metric).toBe('maxAbs');
  });

  it('accepts the fp32 rounding of the reference', () => {
    const r = exactToleranceCheck(Float32Array.from(ref), ref, absBound, n);
    expect(r.ok).toBe(true);
    expect(r.worstRatio).toBeGreaterThan(0);
    expect(r.worstRatio).toBeLessThanOrEqual(1);
    let maxAllowance = 0;
    for (let i = 0; i < absBound.length; i++) maxAllowance = Math.max(maxAllowance, gamma(n) * absBound[i]! + n * 2 ** -149);
    expect(r.limit).toBe(maxAllowance);
  });

  it('accepts a real fp32 accumulation (naive loop, every operation rounded to fp32)', () => {
    const f = Math.fround;
    const ho = 6;
    const y32 = new Float32Array(ref.length);
    for (let k = 0; k < s.k; k++)
      for (let oh = 0; oh < ho; oh++)
        for (let ow = 0; ow < ho; ow++) {
          let acc = 0;
          for (let c = 0; c < s.c; c++)
            for (let r = 0; r < 3; r++)
              for (let q = 0; q < 3; q++) {
                const ih = oh - 1 + r;
                const iw = ow - 1 + q;
                if (ih < 0 || ih >= 6 || iw < 0 || iw >= 6) continue;
                acc = f(acc + f(x[(c * 6 + ih) * 6 + iw]! * w[((k * 64 + c) * 3 + r) * 3 + q]!));
              }
          y32[(k * ho + oh) * ho + ow] = acc;
        }
    const r = exactToleranceCheck(y32, ref, absBound, n);
    expect(r.ok).toBe(true);
    expect(r.worstRatio).toBeGreaterThan(0);
  });

  it('catches a 1e-3 relative perturbation of one element', () => {
    let iMax = 0;
    for (let i = 0; i < ref.length; i++) if (Math.abs(ref[i]!) > Math.abs(ref[iMax]!)) iMax = i;
    const y = Float32Array.from(ref);
    y[iMax] = ref[iMax]! * (1 + 1e-3);
    const r = exactToleranceCheck(y, ref, absBound, n);
    expect(r.ok).toBe(false);
    expect(r.worstIndex).toBe(iMax);
    expect(r.worstRatio).toBeGreaterThan(1);
  });

  it('fails NaN and handles absBound = 0', () => {
    const y = Float32Array.from(ref);
    y[3] = NaN;
    const r = exactToleranceCheck(y, ref, absBound, n);
    expect(r).toMatchObject({ ok: false, worstRatio: Infinity, worstIndex: 3 });
    // absBound 0: ref is exactly 0 and only an underflow-sized error (n * 2^-149) is allowed
    expect(exactToleranceCheck([0, 0], [0, 0], [0, 0], 9).ok).toBe(true);
    expect(exactToleranceCheck([0, 9 * 2 ** -149], [0, 0], [0, 0], 9).ok).toBe(true);
    expect(exactToleranceCheck([0, 1e-30], [0, 0], [0, 0], 9)).toMatchObject({ ok: false, worstIndex: 1 });
    expect(() => exactToleranceCheck([0], [0, 0], [0, 0], 9)).toThrow(/lengths differ/);
  });

  it('approximate budget on relL2', () => {
    const m = errorMetrics([1.001, 2], [1, 2]);
    const pass = approximateToleranceCheck(m, 1e-3);
    expect(pass).toMatchObject({ ok: true, limit: 1e-3, metric: 'relL2', worstIndex: -1 });
    expect(pass.worstRatio).toBeCloseTo(0.001 / Math.sqrt(5) / 1e-3, 9);
    expect(pass.source).toBe('declared budget relL2 <= 0.001');
    expect(approximateToleranceCheck(m, 1e-4).ok).toBe(false);
    expect(approximateToleranceCheck(errorMetrics([NaN, 2], [1, 2]), 1e-1).ok).toBe(false);
    expect(approximateToleranceCheck(m, 1e-3, 'winograd F(4x4,3x3) budget').source).toBe('winograd F(4x4,3x3) budget');
  });
});

describe('random', () => {
  it('makeRng gives fixed values for a fixed seed (catches a change of generator)', () => {
    const r = makeRng(42);
    expect([r.next(), r.next(), r.next(), r.next()].map((v) => v * 2 ** 32)).toEqual([3398404915, 1005869237, 3374281156, 3607449440]);
    expect(r.normal()).toBe(-1.2424836472748984);
    expect(r.normal()).toBe(-0.706796785819788);
    expect(r.normal()).toBe(1.3801773884374948);
    expect(makeRng(-7).next() * 2 ** 32).toBe(3940229029);
    expect(() => makeRng(1.5)).toThrow(/safe integer/);
  });

  it('next() is in [0, 1) and normal() has mean 0, variance 1', () => {
    const r = makeRng(3);
    let s1 = 0;
    let s2 = 0;
    const N = 200_000;
    let outside = 0;
    for (let i = 0; i < N; i++) {
      const u = r.next();
      if (!(u >= 0 && u < 1)) outside++;
      const g = r.normal();
      s1 += g;
      s2 += g * g;
    }
    expect(outside).toBe(0);
    expect(Math.abs(s1 / N)).toBeLessThan(0.01);
    expect(Math.abs(s2 / N - 1)).toBeLessThan(0.01);
  });

  it('detLog matches Math.log within a few ulp', () => {
    const r = makeRng(5);
    for (let i = 0; i < 20_000; i++) {
      const v = (r.next() + 2 ** -33) * 10 ** (r.next() * 600 - 300);
      const want = Math.log(v);
      expect(Math.abs(detLog(v) - want)).toBeLessThanOrEqual(4 * 2 ** -52 * Math.max(Math.abs(want), 2 ** -1022));
    }
    expect(detLog(1)).toBe(0);
    expect(detLog(5e-324)).toBeCloseTo(Math.log(5e-324), 12);
    expect(() => detLog(0)).toThrow(/positive/);
  });

  it('makeConvInputs: fixed bytes per seed and distribution', () => {
    const s: ConvShape = { n: 1, c: 2, h: 3, w: 3, k: 2, r: 3, s: 3, stride: 1, pad: 1, groups: 1 };
    const u = makeConvInputs(s, 1234, 'uniform(-1,1)');
    expect(u.x.length).toBe(18);
    expect(u.w.length).toBe(36);
    expect(Array.from(u.x.slice(0, 2))).toEqual([0.1645522266626358, -0.9812337160110474]);
    expect(Array.from(u.w.slice(0, 3))).toEqual([0.4258482754230499, -0.8601464033126831, -0.38389280438423157]);
    expect(checksumF32(u.x)).toBe('0b882456a7e5a3c3');
    expect(checksumF32(u.w)).toBe('102061ee1e3278e1');
    const p = makeConvInputs(s, 1234, 'uniform(0,1)');
    expect(checksumF32(p.x)).toBe('5f5f979bcb433c93');
    expect(checksumF32(p.w)).toBe('102061ee1e3278e1'); // w does not depend on the distribution of x
    const a = makeConvInputs(s, 1234, 'activation');
    expect(Array.from(a.x.slice(0, 4))).toEqual([0.0349322147667408, 0, 0, 0.1453578770160675]);
    expect(checksumF32(a.x)).toBe('4d6033058e141d4d');
    // same seed -> identical bytes; another seed -> different bytes
    expect(checksumF32(makeConvInputs(s, 1234, 'activation').x)).toBe(checksumF32(a.x));
    expect(checksumF32(makeConvInputs(s, 1235, 'activation').x)).not.toBe(checksumF32(a.x));
  });

  it('distributions have the documented properties', () => {
    const s: ConvShape = { n: 1, c: 16, h: 32, w: 32, k: 32, r: 3, s: 3, stride: 1, pad: 1, groups: 2 };
    const a = makeConvInputs(s, 7, 'activation');
    let zeros = 0;
    let max = 0;
    let neg = 0;
    for (const v of a.x) {
      if (v === 0) zeros++;
      if (v < 0) neg++;
      max = Math.max(max, v);
    }
    const frac = zeros / a.x.length;
    expect(neg).toBe(0);
    expect(frac).toBeGreaterThan(0.45);
    expect(frac).toBeLessThan(0.55);
    expect(max).toBeGreaterThan(5); // heavy tail: a normal's max of 8k positive values is ~4
    const u = makeConvInputs(s, 7, 'uniform(-1,1)');
    expect(u.x.every((v) => v >= -1 && v < 1)).toBe(true);
    expect(makeConvInputs(s, 7, 'uniform(0,1)').x.every((v) => v >= 0 && v < 1)).toBe(true);
    // weights: per-channel std within sqrt(2/fanIn) * [0.5, 1.5), fanIn = 8*9 = 72
    const fanIn = 72;
    const he = Math.sqrt(2 / fanIn);
    let stdMin = Infinity;
    let stdMax = 0;
    for (let k = 0; k < s.k; k++) {
      let ss = 0;
      for (let j = 0; j < fanIn; j++) ss += u.w[k * fanIn + j]! ** 2;
      const std = Math.sqrt(ss / fanIn);
      stdMin = Math.min(stdMin, std);
      stdMax = Math.max(stdMax, std);
    }
    expect(stdMin).toBeGreaterThan(0.3 * he);
    expect(stdMax).toBeLessThan(1.9 * he);
    expect(stdMax / stdMin).toBeGreaterThan(1.5); // the per-channel scale spreads them
  });
});

describe('checksum', () => {
  const enc = new TextEncoder();
  it('FNV-1a 64 test vectors', () => {
    expect(fnv1a64Hex(enc.encode(''))).toBe('cbf29ce484222325');
    expect(fnv1a64Hex(enc.encode('a'))).toBe('af63dc4c8601ec8c');
    expect(fnv1a64Hex(enc.encode('foobar'))).toBe('85944171f73967e8');
    expect(fnv1a64Hex(enc.encode('chongo was here!\n'))).toBe('46810940eff5f915');
  });
  it('matches a BigInt implementation on all byte values', () => {
    const bytes = new Uint8Array(4096).map((_, i) => (Math.imul(i, 2654435761) >>> 13) & 0xff);
    let h = 0xcbf29ce484222325n;
    for (const b of bytes) h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
    expect(fnv1a64Hex(bytes)).toBe(h.toString(16).padStart(16, '0'));
  });
  it('checksumF32 hashes the little-endian fp32 bytes, respecting subarray views', () => {
    // 1.0f = 00 00 80 3f, -2.5f = 00 00 20 c0
    const bytes = new Uint8Array([0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x20, 0xc0]);
    const a = new Float32Array([7, 1, -2.5, 9]);
    expect(checksumF32(a.subarray(1, 3))).toBe(fnv1a64Hex(bytes));
    expect(checksumF32(new Float32Array([0]))).not.toBe(checksumF32(new Float32Array([-0])));
  });
});
