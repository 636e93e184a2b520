/**
 * The low-precision reference modules on fixed inputs: fp16 rounding against
 * known bit patterns, fp16 arithmetic emulation, quantize/dequantize round trips
 * and rounding edges (ties, -128, saturation), the exact integer convolution
 * against the float64 reference, requantization, calibration methods, scheme
 * parsing and its errors, scheme-loss metrics, and the Winograd integer bounds.
 */
import { describe, expect, it } from 'vitest';
import type { ConvShape } from '../core/contracts.js';
import { conv2dRef } from '../reference/conv.js';
import { F16_MAX, convF16ArithRef, f16Bits, f16Value, fromF16Bits, roundF16, roundF16Array, toF16Bits } from '../reference/fp16.js';
import {
  dequantScales,
  dequantizeAccRef,
  dequantizeTensor,
  int8ReductionLimit,
  int8SymmetricParams,
  qconvRef,
  quantizeTensor,
  quantizeWeights,
  requantMultipliers,
  requantizeRef,
  roundHalfEven,
  uint8AsymmetricParams,
} from '../reference/quant.js';
import { DEFAULT_SCHEMES, Scheme, int8Scheme, parseScheme, schemeDtype, schemeLabel } from '../reference/quant-scheme.js';
import {
  absHistogram,
  calibrateAsymmetric,
  calibrateSymmetric,
  calibrationSeed,
  entropyThreshold,
  mseThreshold,
  percentileSorted,
} from '../reference/calibration.js';
import { RMSE_SCALE_IDEAL, schemeLoss } from '../reference/scheme-loss.js';
import { winogradF2x2Int8Domain, winogradIntegerBounds } from '../reference/winograd-int.js';
import { makeRng } from '../reference/random.js';
import { errorMetrics } from '../reference/metrics.js';
import { convShape as shape } from './helpers/shapes.js';

describe('fp16 conversion', () => {
  it('gives the known bit patterns, ties to even, subnormals and overflow', () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [0.5, 0x3800],
      [65504, 0x7bff],
      [65519.99, 0x7bff], // just below the midpoint to 2^16
      [65520, 0x7c00], // the midpoint ties to the even 2^16: Infinity
      [-1e6, 0xfc00],
      [Infinity, 0x7c00],
      [-Infinity, 0xfc00],
      [NaN, 0x7e00],
      [2 ** -14, 0x0400], // smallest normal
      [2 ** -24, 0x0001], // smallest subnormal
      [2 ** -25, 0x0000], // half the smallest subnormal: tie to even 0
      [-(2 ** -25), 0x8000],
      [3 * 2 ** -25, 0x0002], // 1.5 steps: tie to even 2
      [2 ** -25 + 2 ** -40, 0x0001], // just above the tie
      [1023 * 2 ** -24, 0x03ff], // largest subnormal
      [1023.5 * 2 ** -24, 0x0400], // rounds up into the normals
      [0.1, 0x2e66],
      [1 / 3, 0x3555],
      [1 + 2 ** -11, 0x3c00], // tie: even mantissa 0
      [1 + 3 * 2 ** -11, 0x3c02], // tie: even mantissa 2
      [1 + 2 ** -10, 0x3c01],
      [2049, 0x6800], // tie between 2048 and 2050 -> 2048
      [2051, 0x6802], // tie between 2050 and 2052 -> 2052
      [Math.fround(0.1), 0x2e66],
    ];
    for (const [x, bits] of cases) expect(f16Bits(x), `f16Bits(${x})`).toBe(bits);
    expect(f16Value(0x3555)).toBe(0.333251953125);
    expect(f16Value(0x7bff)).toBe(F16_MAX);
    expect(f16Value(0x0001)).toBe(2 ** -24);
    expect(Object.is(f16Value(0x8000), -0)).toBe(true);
    expect(Number.isNaN(f16Value(0x7c01))).toBe(true);
  });

  it('round-trips every one of the 65536 patterns (NaNs to the quiet NaN)', () => {
    for (let b = 0; b < 0x10000; b++) {
      const v = f16Value(b);
      const back = f16Bits(v);
      if (Number.isNaN(v)) expect(back).toBe(0x7e00);
      else if (back !== b) throw new Error(`pattern ${b.toString(16)} (${v}) came back as ${back.toString(16)}`);
    }
  });

  it('rounds to the nearest half, ties to the even pattern (random float32 values of every magnitude)', () => {
    const rng = makeRng(7);
    const bits = new Uint32Array(1);
    const f = new Float32Array(bits.buffer);
    for (let i = 0; i < 20000; i++) {
      // Random float32 bit patterns with exponents around the half range.
      bits[0] = ((rng.next() < 0.5 ? 0 : 0x80000000) | (((95 + Math.floor(rng.next() * 50)) << 23) >>> 0) | Math.floor(rng.next() * 2 ** 23)) >>> 0;
      const x = f[0]!;
      const b = f16Bits(x);
      const v = f16Value(b);
      if (!Number.isFinite(v)) {
        expect(Math.abs(x)).toBeGreaterThanOrEqual(65520);
        continue;
      }
      // No other half is closer; on a tie the chosen pattern is even.
      const err = Math.abs(x - v);
      for (const nb of [b - 1, b + 1, b ^ 0x8000]) {
        if (nb < 0 || (nb & 0x7fff) >= 0x7c00) continue;
        const e2 = Math.abs(x - f16Value(nb));
        expect(err <= e2, `${x}: ${v} vs ${f16Value(nb)}`).toBe(true);
        if (e2 === err && nb !== (b ^ 0x8000)) expect(b & 1).toBe(0);
      }
    }
  });

  it('converts arrays both ways', () => {
    const a = Float32Array.of(1, -0.1, 70000, 2 ** -30);
    const h = toF16Bits(a);
    expect(Array.from(h)).toEqual([0x3c00, 0xae66, 0x7c00, 0x0000]);
    expect(Array.from(fromF16Bits(h))).toEqual([1, f16Value(0xae66), Infinity, 0]);
    expect(Array.from(roundF16Array(a))).toEqual(Array.from(fromF16Bits(h)));
  });
});

describe('fp16 arithmetic emulation', () => {
  it('rounds every product and sum to half, in the reference order', () => {
    // 1 + 2^-11 + 2^-11: exact sum 1 + 2^-10, but each partial sum rounds: (1 + 2^-11) -> 1, then 1 again.
    const s = shape({ c: 3 });
    const x = Float32Array.of(1, 2 ** -11, 2 ** -11);
    const w = Float32Array.of(1, 1, 1);
    expect(convF16ArithRef(s, x, w)[0]).toBe(1);
    // fp32 accumulation keeps the small terms; the output rounds to half once: 1 + 2^-10 is a half.
    expect(convF16ArithRef(s, x, w, { accumulate: 'f32' })[0]).toBe(1 + 2 ** -10);
    // A product rounds too: 3 * (1 + 2^-10) = 3 + 3 * 2^-10 -> nearest half with a 2^-9 step above 2: 3 + 2^-9 (tie to even? 3*2^-10 = 1.5 steps: tie -> even).
    const p = convF16ArithRef(shape({}), Float32Array.of(3), Float32Array.of(1 + 2 ** -10))[0]!;
    expect(p).toBe(roundF16(3 * (1 + 2 ** -10)));
    expect(p).toBe(3 + 2 ** -8);
  });

  it('matches the float64 reference on half-exact small integers (no rounding at all)', () => {
    const s = shape({ n: 1, c: 3, h: 5, w: 6, k: 2, r: 3, s: 3, pad: 1, stride: 2 });
    const x = Float32Array.from({ length: 90 }, (_, i) => (i % 7) - 3);
    const w = Float32Array.from({ length: 54 }, (_, i) => (i % 5) - 2);
    const ref = conv2dRef(s, x, w).y;
    expect(Array.from(convF16ArithRef(s, x, w))).toEqual(Array.from(ref));
  });

  it('overflows to infinity past 65504, like fp16 hardware', () => {
    const y = convF16ArithRef(shape({ c: 2 }), Float32Array.of(60000, 60000), Float32Array.of(1, 1));
    expect(y[0]).toBe(Infinity);
  });
});

describe('quantization: rounding, round trips, saturation', () => {
  it('rounds half to even', () => {
    const cases: [number, number][] = [
      [0.5, 0],
      [1.5, 2],
      [2.5, 2],
      [3.5, 4],
      [-0.5, 0],
      [-1.5, -2],
      [-2.5, -2],
      [2.4999999, 2],
      [-127.5, -128],
      [127.5, 128],
    ];
    for (const [v, q] of cases) expect(roundHalfEven(v) === q, `${v} -> ${roundHalfEven(v)}`).toBe(true);
  });

  it('int8 symmetric: scale amax/127, ties to even, -128 reachable, saturation both ways', () => {
    const p = int8SymmetricParams(127);
    expect(p).toEqual({ scale: 1, zeroPoint: 0, qmin: -128, qmax: 127 });
    const q = quantizeTensor([-1000, -128.6, -128.5, -127.5, -0.5, 0.5, 1.5, 126.5, 127.5, 1000], p);
    expect(q).toBeInstanceOf(Int8Array);
    expect(Array.from(q)).toEqual([-128, -128, -128, -128, 0, 0, 2, 126, 127, 127]);
    expect(int8SymmetricParams(0).scale).toBe(1);
    expect(() => int8SymmetricParams(NaN)).toThrow(/amax/);
  });

  it('uint8 asymmetric: the zero point makes 0 exact; every code round-trips', () => {
    const p = uint8AsymmetricParams(-1, 3);
    expect(p.scale).toBe(Math.fround(4 / 255));
    expect(p.zeroPoint).toBe(64); // rhe(1 / (4/255)) = rhe(63.75)
    expect(quantizeTensor([0], p)[0]).toBe(64);
    expect(dequantizeTensor([64], p)[0]).toBe(0);
    const codes = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(Array.from(quantizeTensor(dequantizeTensor(codes, p), p))).toEqual(Array.from(codes));
    expect(Array.from(quantizeTensor([-5, 10], p))).toEqual([0, 255]);
    // A range that excludes 0 is widened to include it.
    expect(uint8AsymmetricParams(2, 5).zeroPoint).toBe(0);
  });

  it('int8 codes round-trip through dequantization; errors stay within half a step inside the range', () => {
    const p = int8SymmetricParams(3.7);
    const codes = Int8Array.from({ length: 256 }, (_, i) => i - 128);
    expect(Array.from(quantizeTensor(dequantizeTensor(codes, p), p))).toEqual(Array.from(codes));
    const rng = makeRng(3);
    const x = Float32Array.from({ length: 1000 }, () => (rng.next() * 2 - 1) * 3.7);
    const back = dequantizeTensor(quantizeTensor(x, p), p);
    for (let i = 0; i < x.length; i++) expect(Math.abs(back[i]! - x[i]!)).toBeLessThanOrEqual(p.scale / 2 + 1e-7);
  });

  it('weights: symmetric [-127, 127] per tensor or per channel', () => {
    const w = Float32Array.of(0.5, -1, 0.25, 2, -4, 1);
    const pc = quantizeWeights(w, 2, 'per-channel');
    expect(Array.from(pc.scales)).toEqual([Math.fround(1 / 127), Math.fround(4 / 127)]);
    expect(Array.from(pc.q)).toEqual([64, -127, 32, 64, -127, 32]); // 63.5 -> 64 (tie to even), 31.75 -> 32
    const pt = quantizeWeights(w, 2, 'per-tensor');
    expect(Array.from(pt.scales)).toEqual([Math.fround(4 / 127), Math.fround(4 / 127)]);
    expect(Math.min(...pt.q)).toBeGreaterThanOrEqual(-127);
    expect(() => quantizeWeights(w, 4, 'per-channel')).toThrow(/do not split/);
  });
});

describe('the exact integer convolution and requantization', () => {
  const awkward: ConvShape[] = [
    shape({ n: 2, c: 3, h: 7, w: 9, k: 5, r: 3, s: 3, pad: 1 }),
    shape({ c: 4, h: 11, w: 13, k: 6, r: 3, s: 3, stride: 2 }),
    shape({ c: 6, h: 8, w: 8, k: 4, r: 3, s: 3, pad: 1, groups: 2 }),
    shape({ c: 5, h: 9, w: 10, k: 5, r: 3, s: 3, stride: 2, pad: 1, groups: 5 }),
    shape({ c: 3, h: 9, w: 10, k: 7, r: 5, s: 5, pad: 2 }),
  ];
  it('equals the float64 reference on the zero-point-corrected integers, with -128 x -127 and all-saturating inputs', () => {
    const rng = makeRng(11);
    for (const s of awkward) {
      const nx = s.n * s.c * s.h * s.w;
      const nw = s.k * (s.c / s.groups) * s.r * s.s;
      for (const kind of ['random', 'extreme'] as const) {
        for (const zx of [0, 37]) {
          const xq =
            kind === 'extreme'
              ? new Int16Array(nx).fill(zx === 0 ? -128 : 0)
              : Int16Array.from({ length: nx }, () => Math.floor(rng.next() * 256) - (zx === 0 ? 128 : 0));
          const wq = kind === 'extreme' ? new Int8Array(nw).fill(-127) : Int8Array.from({ length: nw }, () => Math.floor(rng.next() * 255) - 127);
          const acc = qconvRef(s, xq, zx, wq);
          const ref = conv2dRef(
            s,
            Float64Array.from(xq, (v) => v - zx),
            wq,
          ).y;
          expect(Array.from(acc)).toEqual(Array.from(ref));
        }
      }
    }
  });

  it('requantizes with f32 arithmetic, ties to even and saturation; dequantizes per channel', () => {
    const acc = Int32Array.of(5, 7, -5, 1_000_000, -1_000_000, 3);
    const q = requantizeRef(acc, 2, 3, Float32Array.of(0.5, 0.5), { zeroPoint: 0, qmin: -128, qmax: 127 });
    expect(Array.from(q)).toEqual([2, 4, -2, 127, -128, 2]);
    const u = requantizeRef(acc, 2, 3, Float32Array.of(0.5, 0.5), { zeroPoint: 10, qmin: 0, qmax: 255 });
    expect(Array.from(u)).toEqual([12, 14, 8, 255, 0, 12]);
    // The multiply is float32: 16777217 converts to 16777216 before the multiply.
    expect(Array.from(requantizeRef(Int32Array.of(16777217), 1, 1, Float32Array.of(2 ** -24), { zeroPoint: 0, qmin: -128, qmax: 127 }))).toEqual([1]);
    expect(Array.from(dequantizeAccRef(Int32Array.of(3, -3), 2, 1, Float32Array.of(0.5, 0.25)))).toEqual([1.5, -0.75]);
    expect(requantMultipliers(0.5, [0.25], 0.125)[0]).toBe(1);
    expect(dequantScales(0.1, [0.3])[0]).toBe(Math.fround(0.1 * 0.3));
  });

  it('refuses a reduction that could overflow int32', () => {
    expect(int8ReductionLimit('uint8')).toBe(Math.floor((2 ** 31 - 1) / (255 * 127)));
    const s = shape({ c: 70000 });
    expect(() => qconvRef(s, new Uint8Array(70000).fill(255), 0, new Int8Array(70000).fill(127))).toThrow(/overflow/);
  });
});

describe('calibration', () => {
  it('draws calibration inputs from another seed', () => {
    expect(calibrationSeed(1)).not.toBe(1);
    expect(calibrationSeed(1)).toBe((1 + 0x9e3779b9) >>> 0);
    expect(() => calibrationSeed(1.5)).toThrow(/safe integer/);
  });

  it('minmax and percentile (numpy linear rule) on fixed data', () => {
    expect(calibrateSymmetric([-3, 1, 2], { method: 'minmax', percentile: 99.99, bins: 2048 })).toBe(3);
    expect(calibrateAsymmetric([-3, 1, 2], { method: 'minmax', percentile: 99.99, bins: 2048 })).toEqual([-3, 2]);
    expect(calibrateAsymmetric([1, 2], { method: 'minmax', percentile: 99.99, bins: 2048 })).toEqual([0, 2]);
    expect(percentileSorted([1, 2, 3, 4], 50)).toBe(2.5);
    expect(percentileSorted([1, 2, 3, 4], 100)).toBe(4);
    expect(percentileSorted([1, 2, 3, 4], 0)).toBe(1);
    const a = Float64Array.from({ length: 10001 }, (_, i) => i); // 0 .. 10000
    expect(percentileSorted(a, 99.99)).toBeCloseTo(9999, 9);
    const x = Float64Array.from({ length: 10001 }, (_, i) => (i % 2 ? -1 : 1) * i);
    expect(calibrateSymmetric(x, { method: 'percentile', percentile: 99.99, bins: 2048 })).toBeCloseTo(9999, 9);
    expect(calibrateAsymmetric(a, { method: 'percentile', percentile: 90, bins: 2048 })).toEqual([0, 9000]);
  });

  it('mse minimises the quantization error of the data; entropy clips an outlier that minmax keeps', () => {
    const rng = makeRng(5);
    const body = Float64Array.from({ length: 100000 }, () => rng.normal());
    const cal = (method: 'mse' | 'entropy') => ({ method, percentile: 99.99, bins: 2048 });
    // The squared error of int8 symmetric quantization with threshold t, computed on the data themselves.
    const sse = (x: Float64Array, t: number) => {
      const p = int8SymmetricParams(t);
      const back = dequantizeTensor(quantizeTensor(x, p), p);
      let e = 0;
      for (let i = 0; i < x.length; i++) e += (back[i]! - x[i]!) ** 2;
      return e;
    };
    for (const outlier of [60, 20]) {
      const x = Float64Array.from([...body, outlier]);
      expect(calibrateSymmetric(x, { method: 'minmax', percentile: 99.99, bins: 2048 })).toBe(outlier);
      const tMse = calibrateSymmetric(x, cal('mse'));
      expect(tMse).toBeLessThan(outlier);
      for (const t of [3, 5, 8, outlier, outlier / 2]) expect(sse(x, tMse), `t = ${t}`).toBeLessThan(sse(x, t));
      const tKl = calibrateSymmetric(x, cal('entropy'));
      expect(tKl).toBeGreaterThan(3);
      expect(tKl).toBeLessThan(8);
    }
    // Uniform data: clipping never pays, the threshold sits at (or next to) the top.
    const uni = Float64Array.from({ length: 50000 }, () => rng.next() * 2 - 1);
    expect(calibrateSymmetric(uni, cal('mse'))).toBeGreaterThan(0.97);
    expect(calibrateSymmetric(uni, cal('entropy'))).toBeGreaterThan(0.97);
    expect(calibrateAsymmetric(Float64Array.from(uni, Math.abs), cal('entropy'))[1]).toBeGreaterThan(0.9);
  });

  it('mse and entropy thresholds on a hand-built histogram', () => {
    // All the mass in bins 0..127 evenly, nothing beyond: no clipping helps; entropy's first candidate i = 128 is exact (KL 0).
    const counts = new Float64Array(512);
    for (let b = 0; b < 128; b++) counts[b] = 10;
    expect(entropyThreshold(counts, 1, 128)).toBe(128);
    expect(mseThreshold(counts, 1, 127)).toBeGreaterThanOrEqual(127);
    const h = absHistogram([0, 0.5, 1, -1], 4);
    expect(Array.from(h.counts)).toEqual([1, 0, 1, 2]);
    expect(h.width).toBe(0.25);
    expect(absHistogram([0, 0], 4).width).toBe(0);
    expect(calibrateSymmetric([0, 0], { method: 'entropy', percentile: 99.99, bins: 2048 })).toBe(0);
  });

  it('refuses non-finite calibration data', () => {
    expect(() => calibrateSymmetric([1, NaN], { method: 'minmax', percentile: 99.99, bins: 2048 })).toThrow(/must be finite/);
  });
});

describe('schemes as data', () => {
  it('labels and dtypes the default schemes uniquely', () => {
    const labels = DEFAULT_SCHEMES.map((s) => `${schemeLabel(s)}-${schemeDtype(s)}`);
    expect(new Set(labels).size).toBe(labels.length);
    expect(labels).toEqual(['fp16-f16', 'fp16arith-f16', 'pt-i8', 'pc-i8', 'pt-u8', 'pc-u8']);
    expect(schemeLabel(int8Scheme({ calibration: { method: 'percentile', percentile: 99.9 }, output: 'dequantize' }))).toBe('pc-p99.9-dq');
    expect(schemeLabel(int8Scheme({ calibration: { method: 'entropy' } }))).toBe('pc-kl');
  });

  it('parses the text form, any order, with defaults', () => {
    expect(parseScheme('fp16')).toEqual({ kind: 'fp16-storage' });
    expect(parseScheme('fp16-arith:acc32')).toEqual({ kind: 'fp16-arith', accumulate: 'f32' });
    expect(parseScheme('int8')).toEqual(int8Scheme());
    expect(parseScheme('int8:dq, u8, pt, percentile=99.9')).toEqual(
      int8Scheme({ weights: 'per-tensor', activations: 'uint8', output: 'dequantize', calibration: { method: 'percentile', percentile: 99.9 } }),
    );
    expect(parseScheme('INT8:KL').kind === 'int8' && (parseScheme('INT8:KL') as { calibration: { method: string } }).calibration.method).toBe('entropy');
  });

  it('rejects bad input with a clear error', () => {
    expect(() => parseScheme('int4')).toThrow(/unknown scheme "int4" \(known: int8, fp16, fp16-arith\)/);
    expect(() => parseScheme('int8:histogram')).toThrow(/unknown int8 option "histogram".*calibration methods: minmax, percentile, mse, entropy/);
    expect(() => parseScheme('int8:percentile=0')).toThrow(/percentile 0 is outside \(0, 100\]/);
    expect(() => parseScheme('int8:percentile=100.5')).toThrow(/outside \(0, 100\]/);
    expect(() => parseScheme('int8:percentile=abc')).toThrow(/not a number/);
    expect(() => parseScheme('int8:pt,pc')).toThrow(/conflicts/);
    expect(() => parseScheme('int8:mse=3')).toThrow(/takes no value/);
    expect(() => parseScheme('fp16:pc')).toThrow(/no options/);
    expect(parseScheme('int8:percentile=100')).toBeTruthy();
    // The schema itself rejects the same as data.
    const r = Scheme.safeParse({
      kind: 'int8',
      weights: 'per-channel',
      activations: 'int8',
      output: 'requantize',
      calibration: { method: 'percentile', percentile: 0 },
    });
    expect(r.success).toBe(false);
    expect(
      Scheme.safeParse({ kind: 'int8', weights: 'per-channel', activations: 'int8', output: 'requantize', calibration: { method: 'histogram' } }).success,
    ).toBe(false);
  });
});

describe('scheme loss', () => {
  it('computes SQNR as 20 log10(|ref| / |err|), mean and sd of the error, rmse / scale', () => {
    const ref = Float64Array.of(1, 2, 3, 4);
    const y = Float64Array.of(1.1, 2.1, 2.9, 4.1);
    const l = schemeLoss(y, ref, 0.2);
    const errNorm = Math.sqrt(4 * 0.01);
    expect(l.sqnrDb).toBeCloseTo(20 * Math.log10(Math.sqrt(30) / errNorm), 9);
    expect(l.meanError).toBeCloseTo(0.05, 12);
    expect(l.sdError).toBeCloseTo(Math.sqrt((3 * 0.05 ** 2 + 0.15 ** 2) / 4), 12);
    expect(l.rmse).toBeCloseTo(0.1, 12);
    expect(l.rmseOverScale).toBeCloseTo(0.5, 12);
    expect(l.flagged).toBe(false);
    expect(schemeLoss(y, ref, 0.1).flagged).toBe(true);
    expect(Number.isNaN(schemeLoss(y, ref).rmseOverScale)).toBe(true);
    expect(schemeLoss(ref, ref, 1).sqnrDb).toBe(Infinity);
    expect(l.relL2).toBe(errorMetrics(y, ref).relL2);
  });

  it('gives rmse / scale near 1/sqrt(12) for a tensor that only its output rounding perturbs', () => {
    const rng = makeRng(9);
    const ref = Float64Array.from({ length: 200000 }, () => rng.normal() * 10);
    const p = int8SymmetricParams(60); // 6 sigma: nothing clips
    const y = dequantizeTensor(quantizeTensor(ref, p), p);
    const l = schemeLoss(y, ref, p.scale);
    expect(l.rmseOverScale).toBeGreaterThan(RMSE_SCALE_IDEAL * 0.97);
    expect(l.rmseOverScale).toBeLessThan(RMSE_SCALE_IDEAL * 1.03);
  });
});

describe('Winograd on integers', () => {
  it('F(2x2) fits int16 and is exact in int32; F(4x4) and F(6x6) do not fit int16', () => {
    const f2 = winogradIntegerBounds(2);
    expect(f2).toMatchObject({ lB: 1, lG: 2, maxV: 512, maxU: 1143, int16: true, resultScale: 4 });
    expect(f2.maxChannelsInt32).toBe(Math.floor((2 ** 31 - 1) / (512 * 1143)));
    expect(winogradIntegerBounds(2, 255).int16).toBe(true); // uint8 minus its zero point: |d| <= 255
    const f4 = winogradIntegerBounds(4);
    expect(f4).toMatchObject({ lB: 1, lG: 24, maxV: 12800, maxU: 73152, int16: false, resultScale: 576 });
    expect(f4.verdict).toMatch(/cannot be offered in int8/);
    const f6 = winogradIntegerBounds(6);
    expect(f6.int16).toBe(false);
    expect(f6.lB).toBe(4);
    expect(f6.maxV).toBe(460800);
  });

  it('keeping the transformed input in 8 bits costs accuracy that the int16 path does not', () => {
    const s = shape({ c: 16, h: 12, w: 12, k: 8, r: 3, s: 3, pad: 1 });
    const rng = makeRng(21);
    const xq = Int8Array.from({ length: 16 * 144 }, () => Math.floor(rng.next() * 256) - 128);
    const wq = Int8Array.from({ length: 8 * 16 * 9 }, () => Math.floor(rng.next() * 255) - 127);
    const exact = qconvRef(s, xq, 0, wq);
    const trap = winogradF2x2Int8Domain(s, xq, 0, wq);
    const m = errorMetrics(trap, exact);
    expect(m.sqnrDb).toBeGreaterThan(20);
    expect(m.sqnrDb).toBeLessThan(60);
  });
});
