/**
 * The low-precision kernels and variants: the WebAssembly half conversions
 * against reference/fp16.ts on every pattern; the int8 kernels (im2col GEMM,
 * depthwise, Winograd F(2x2)) bit-exact against the exact integer reference on
 * awkward shapes, every scheme, -128 x -127 inputs and all-saturating outputs;
 * the fp16-storage kernels through their kernel check; the two accuracy checks
 * kept apart in the runner (a deliberately wrong requantization fails the
 * kernel check while the scheme loss barely moves; a deliberately wrong fp16
 * output fails the fp16 kernel check); the relaxed-SIMD variant skipped without
 * the runtime flag; the int8 ceiling's arithmetic. No speed is asserted.
 * In the unit tier (npm run test:unit); what starts other Node processes or takes
 * seconds (relaxed SIMD under its flag, the numpy comparison, the int8 ceiling
 * measured) is in test/precision-kernels-full.test.ts, in the full tier.
 */
import { describe, expect, it } from 'vitest';
import type { CaseData, ConvShape, ConvVariant } from '../core/contracts.js';
import { measureCase } from '../harness/runner/measure.js';
import { convOutputSize } from '../reference/conv.js';
import { convBytes } from '../reference/cost.js';
import { f16Bits, f16Value, roundF16 } from '../reference/fp16.js';
import { int8Scheme, type Int8Scheme } from '../reference/quant-scheme.js';
import { makeConvInputs, makeRng } from '../reference/random.js';
import { quantizeTensor } from '../reference/quant.js';
import { int8GemmVariant } from '../suites/conv/variants/int8-im2col-gemm.js';
import { int8DepthwiseVariant } from '../suites/conv/variants/int8-depthwise.js';
import { int8WinogradVariant } from '../suites/conv/variants/int8-winograd.js';
import { int8RelaxedVariant } from '../suites/conv/variants/int8-relaxed.js';
import { convIm2colGemmF16 } from '../suites/conv/variants/fp16-im2col-gemm.js';
import { convDepthwiseF16 } from '../suites/conv/variants/fp16-depthwise.js';
import { halfWinogradVariant, winogradF4x4F16, winogradF6x6F16 } from '../suites/conv/variants/fp16-winograd.js';
import { halfConv, halfKernelChecks, quantizeConv } from '../suites/conv/variants/lowp.js';
import { useKernels } from './helpers/kernels.js';
import { convCase, SHORT_OPTIONS } from './helpers/measure.js';
import { convShape as shape } from './helpers/shapes.js';

const kernels = useKernels();
const DATA: CaseData = { seed: 5, distribution: 'uniform(-1,1)' };

/** Prepares, runs once and returns the variant's kernel checks and output (disposed). */
function runOnce(v: ConvVariant, s: ConvShape, x: Float32Array, w: Float32Array, data = DATA) {
  const p = v.prepare({ kernels: kernels() }, s, x, w, data);
  try {
    p.run();
    return { checks: p.kernelCheck?.() ?? [], y: Float32Array.from(p.output()), nonPortable: p.nonPortable, outputScale: p.outputScale };
  } finally {
    p.dispose();
  }
}

const GEMM_SHAPES: { why: string; s: ConvShape }[] = [
  { why: 'odd sizes, n=2, pad 1', s: shape({ n: 2, c: 3, h: 7, w: 9, k: 5, r: 3, s: 3, pad: 1 }) },
  { why: 'stride 2, pad 0', s: shape({ c: 4, h: 11, w: 13, k: 6, r: 3, s: 3, stride: 2 }) },
  { why: 'groups 2', s: shape({ c: 6, h: 8, w: 8, k: 10, r: 3, s: 3, pad: 1, groups: 2 }) },
  { why: '1x1 pointwise packing, odd reduction', s: shape({ c: 15, h: 7, w: 7, k: 20 }) },
  { why: 'stride-2 vector gather (wide rows)', s: shape({ c: 2, h: 9, w: 40, k: 3, r: 3, s: 3, stride: 2, pad: 1 }) },
  { why: '5x5 pad 2, r != s elsewhere', s: shape({ c: 3, h: 9, w: 10, k: 7, r: 5, s: 5, pad: 2 }) },
  { why: '1x3 pad 1', s: shape({ c: 3, h: 6, w: 10, k: 4, r: 1, s: 3, pad: 1 }) },
  { why: 'kernel larger than the input', s: shape({ c: 2, h: 2, w: 3, k: 3, r: 3, s: 3, pad: 1 }) },
  // K > MC (256), Kd > KC (512) and odd, N > NC (256) and not a multiple of NR.
  { why: 'past every block: K 261, Kd 630, N 529', s: shape({ c: 70, h: 23, w: 23, k: 261, r: 3, s: 3, pad: 1 }) },
];
const DW_SHAPES: ConvShape[] = [
  shape({ n: 2, c: 5, h: 9, w: 11, k: 5, r: 3, s: 3, pad: 1, groups: 5 }),
  shape({ c: 6, h: 12, w: 15, k: 6, r: 3, s: 3, stride: 2, pad: 1, groups: 6 }),
  shape({ c: 2, h: 13, w: 37, k: 2, r: 3, s: 3, stride: 2, groups: 2 }),
  shape({ c: 4, h: 13, w: 17, k: 4, r: 5, s: 5, stride: 2, pad: 2, groups: 4 }),
  shape({ c: 3, h: 10, w: 10, k: 3, r: 3, s: 3, stride: 3, pad: 1, groups: 3 }),
  shape({ c: 2, h: 6, w: 9, k: 2, r: 1, s: 3, pad: 1, groups: 2 }),
];
const WINOGRAD_SHAPES: ConvShape[] = [
  shape({ n: 2, c: 3, h: 7, w: 9, k: 5, r: 3, s: 3, pad: 1 }),
  shape({ c: 9, h: 10, w: 13, k: 6, r: 3, s: 3 }),
  shape({ c: 17, h: 16, w: 16, k: 9, r: 3, s: 3, pad: 1 }),
  shape({ c: 64, h: 20, w: 19, k: 40, r: 3, s: 3, pad: 1 }), // several tile blocks, partial last block
];
const SCHEMES: Int8Scheme[] = [
  int8Scheme({ weights: 'per-channel', activations: 'int8' }),
  int8Scheme({ weights: 'per-tensor', activations: 'uint8' }),
  int8Scheme({ weights: 'per-channel', activations: 'uint8', output: 'dequantize', calibration: { method: 'mse' } }),
  int8Scheme({ weights: 'per-tensor', activations: 'int8', output: 'dequantize', calibration: { method: 'minmax' } }),
  int8Scheme({ weights: 'per-channel', activations: 'int8', calibration: { method: 'entropy' } }),
];

function expectKernelChecksPass(checks: { name: string; ok: boolean; detail: string }[], what: string): void {
  expect(checks.length, what).toBeGreaterThan(0);
  for (const c of checks) expect(c.ok, `${what}: ${c.name}: ${c.detail}`).toBe(true);
}

describe('half conversions in WebAssembly', () => {
  it('converts every half to f32 exactly and rounds f32 to half like the reference (ties, subnormals, overflow)', () => {
    const k = kernels();
    const f16 = k.f16!;
    const m = k.mark();
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const src = k.allocBytes(all.byteLength);
    new Uint16Array(k.memory.buffer, src.ptr, all.length).set(all);
    const dst = k.alloc(all.length);
    f16.f16_to_f32(src.ptr, dst.ptr, all.length);
    const got = dst.view();
    for (let b = 0; b < 65536; b++) {
      const want = f16Value(b);
      if (Number.isNaN(want)) expect(Number.isNaN(got[b]!)).toBe(true);
      else if (!Object.is(got[b], Math.fround(want))) throw new Error(`half ${b.toString(16)}: ${got[b]} instead of ${want}`);
    }
    // f32 -> half: every half's neighbours and midpoints, then random float32 bit patterns of every magnitude.
    const rng = makeRng(17);
    const bits = new Uint32Array(300000);
    const asF = new Float32Array(bits.buffer);
    let n = 0;
    for (let b = 0; b < 0x7c00; b += 7) {
      const v = f16Value(b);
      const next = f16Value(b + 1);
      asF[n++] = v;
      asF[n++] = -v;
      asF[n++] = (v + next) / 2; // exact in f32: a tie
      asF[n++] = Math.fround((v + next) / 2) + (next - v) / 1024;
    }
    for (const x of [65504, 65519, 65520, 65536, 1e9, Infinity, -Infinity, 2 ** -25, 3 * 2 ** -25, 2 ** -26, 1e-30, -0]) asF[n++] = x;
    while (n < bits.length) bits[n++] = (rng.next() * 2 ** 32) >>> 0;
    const fsrc = k.allocCopy(asF);
    const hdst = k.allocBytes(asF.length * 2);
    f16.f32_to_f16(fsrc.ptr, hdst.ptr, asF.length);
    const h = new Uint16Array(k.memory.buffer, hdst.ptr, asF.length);
    for (let i = 0; i < asF.length; i++) {
      const x = asF[i]!;
      if (Number.isNaN(x)) {
        expect(h[i]! & 0x7fff).toBe(0x7e00);
        continue;
      }
      if (h[i] !== f16Bits(x)) throw new Error(`f32 ${x} (bits ${bits[i]!.toString(16)}): half ${h[i]!.toString(16)} instead of ${f16Bits(x).toString(16)}`);
    }
    k.release(m);
  });
});

describe('int8 kernels are bit-exact against the exact integer reference', () => {
  it('im2col GEMM: awkward shapes, every scheme', () => {
    for (const { why, s } of GEMM_SHAPES) {
      const { x, w } = makeConvInputs(s, 3, 'uniform(-1,1)');
      // The blocking does not depend on the scheme: the shape past every block runs two schemes that differ in
      // everything the epilogue does (int8 / uint8 with a zero point, requantize / dequantize), the small shapes all five.
      for (const scheme of s.k > 256 ? [SCHEMES[0]!, SCHEMES[2]!] : SCHEMES) {
        const v = int8GemmVariant(scheme);
        expect(v.applies(s)).toBe(true);
        expectKernelChecksPass(runOnce(v, s, x, w).checks, `${v.name} ${why}`);
      }
    }
  });

  it('depthwise: strides 1, 2 and 3, 3x3, 5x5 and 1x3, every scheme', () => {
    for (const s of DW_SHAPES) {
      const { x, w } = makeConvInputs(s, 4, 'activation');
      for (const scheme of SCHEMES) {
        const v = int8DepthwiseVariant(scheme);
        expectKernelChecksPass(runOnce(v, s, x, w, { seed: 4, distribution: 'activation' }).checks, `${v.name} ${JSON.stringify(s)}`);
      }
    }
    expect(int8DepthwiseVariant(SCHEMES[0]!).applies(GEMM_SHAPES[0]!.s)).toMatch(/not a depthwise layer/);
  });

  it('Winograd F(2x2) with int16 transforms: exact on tile edges and several blocks, every scheme', () => {
    for (const s of WINOGRAD_SHAPES) {
      const { x, w } = makeConvInputs(s, 6, 'uniform(-1,1)');
      for (const scheme of SCHEMES) {
        const v = int8WinogradVariant(scheme);
        expectKernelChecksPass(runOnce(v, s, x, w).checks, `${v.name} ${JSON.stringify(s)}`);
      }
    }
    const v = int8WinogradVariant(SCHEMES[0]!);
    expect(v.applies(shape({ c: 2, h: 8, w: 8, k: 2, r: 3, s: 3, stride: 2 }))).toMatch(/stride 2/);
    expect(v.applies(shape({ c: 2, h: 8, w: 8, k: 2, r: 5, s: 5 }))).toMatch(/5x5/);
  });

  it('-128 x -127 everywhere: every accumulator at its extreme, every requantized output saturated', () => {
    for (const s of [shape({ c: 70, h: 9, w: 9, k: 9, r: 3, s: 3, pad: 1 }), shape({ c: 6, h: 9, w: 10, k: 6, r: 3, s: 3, pad: 1, groups: 6 })]) {
      // Far beyond the calibrated range (calibration sees uniform(-1,1)): every input quantizes to -128; weights all -0.5: -127.
      const x = new Float32Array(s.n * s.c * s.h * s.w).fill(-1000);
      const w = new Float32Array(s.k * (s.c / s.groups) * 9).fill(-0.5);
      const depthwise = s.groups > 1;
      const variants = depthwise
        ? [int8DepthwiseVariant(SCHEMES[0]!), int8DepthwiseVariant(SCHEMES[3]!)]
        : [int8GemmVariant(SCHEMES[0]!), int8WinogradVariant(SCHEMES[0]!), int8GemmVariant(SCHEMES[3]!)];
      for (const v of variants) {
        const q = quantizeConv(
          { kernels: kernels() },
          s,
          x,
          w,
          v.accuracy.kind === 'scheme' && v.accuracy.scheme.kind === 'int8' ? v.accuracy.scheme : SCHEMES[0]!,
          DATA,
        );
        expect(q.xq.every((e) => e === -128)).toBe(true);
        expect(q.w.q.every((e) => e === -127)).toBe(true);
        const r = runOnce(v, s, x, w);
        expectKernelChecksPass(r.checks, `${v.name} extremes`);
        if (v.accuracy.kind === 'scheme' && v.accuracy.scheme.kind === 'int8' && v.accuracy.scheme.output === 'requantize') {
          // Interior outputs (all 9 taps inside) are 9 C * 16256 > 0: saturated at 127.
          const exp = q.expected('requantize');
          expect(Math.max(...exp)).toBe(127);
          expect(exp.filter((e) => e === 127).length).toBeGreaterThan(exp.length / 2);
        }
      }
    }
  });

  it('uint8 extremes: inputs at 0 and 255 around a non-zero zero point', () => {
    const s = shape({ c: 33, h: 8, w: 11, k: 7, r: 3, s: 3, pad: 1 });
    const rng = makeRng(8);
    const x = Float32Array.from({ length: s.c * s.h * s.w }, () => (rng.next() < 0.5 ? -1000 : 1000));
    const w = Float32Array.from({ length: s.k * s.c * 9 }, () => (rng.next() < 0.5 ? -1 : 1));
    const scheme = int8Scheme({ weights: 'per-tensor', activations: 'uint8' });
    const q = quantizeConv({ kernels: kernels() }, s, x, w, scheme, DATA);
    expect(new Set(q.xq)).toEqual(new Set([0, 255]));
    expect(q.xParams.zeroPoint).toBeGreaterThan(0);
    for (const v of [int8GemmVariant(scheme), int8WinogradVariant(scheme)]) expectKernelChecksPass(runOnce(v, s, x, w).checks, `${v.name} uint8 extremes`);
  });

  it('counts bytes at the storage width and refuses reductions that could overflow int32', () => {
    const s = GEMM_SHAPES[0]!.s;
    const rq = int8GemmVariant(SCHEMES[0]!);
    const dq = int8GemmVariant(SCHEMES[2]!);
    const { ho, wo } = convOutputSize(s);
    const e = { x: s.n * s.c * s.h * s.w, w: s.k * s.c * 9, y: s.n * s.k * ho * wo };
    expect(rq.bytes(s)).toBe(e.x + e.w + e.y);
    expect(dq.bytes(s)).toBe(e.x + e.w + 4 * e.y);
    expect(convIm2colGemmF16.bytes(s)).toBe(convBytes(s, 2));
    expect(rq.applies(shape({ c: 15000, h: 3, w: 3, k: 1, r: 3, s: 3 }))).toMatch(/overflow int32/);
    expect(int8GemmVariant(SCHEMES[1]!).applies(shape({ c: 8000, h: 3, w: 3, k: 1, r: 3, s: 3 }))).toMatch(/at most 66311 for uint8/);
    expect(rq.name).toBe('conv-im2col-gemm-pc-i8');
    expect(dq.name).toBe('conv-im2col-gemm-pc-mse-dq-u8');
  });
});

describe('fp16 storage kernels', () => {
  it('pass their kernel check on awkward shapes (GEMM and depthwise)', () => {
    for (const { why, s } of GEMM_SHAPES) {
      const { x, w } = makeConvInputs(s, 9, 'uniform(-1,1)');
      expectKernelChecksPass(runOnce(convIm2colGemmF16, s, x, w).checks, `conv-im2col-gemm-f16 ${why}`);
    }
    for (const s of DW_SHAPES) {
      const { x, w } = makeConvInputs(s, 9, 'activation');
      expectKernelChecksPass(runOnce(convDepthwiseF16, s, x, w).checks, `conv-depthwise-f16 ${JSON.stringify(s)}`);
    }
  });

  it('store halves: large values overflow to infinity and the check says so', () => {
    const s = shape({ c: 4, h: 3, w: 3, k: 2 });
    const x = new Float32Array(36).fill(300);
    const w = new Float32Array(8).fill(100);
    const r = runOnce(convIm2colGemmF16, s, x, w);
    expect(r.y.every((v) => v === Infinity)).toBe(true); // 4 * 300 * 100 > 65504
    expectKernelChecksPass(r.checks, 'overflow is what fp16 storage gives');
  });

  it('the kernel check fails a subtly wrong fp16 output: scaled by 1 + 1e-3, or rounded toward zero', () => {
    const s = shape({ c: 32, h: 12, w: 12, k: 16, r: 3, s: 3, pad: 1 });
    const { x, w } = makeConvInputs(s, 2, 'uniform(-1,1)');
    const r = runOnce(convIm2colGemmF16, s, x, w);
    const h = halfConv(s, x, w);
    expectKernelChecksPass(halfKernelChecks(s, h, r.y), 'the true output');
    const scaled = Float32Array.from(r.y, (v) => roundF16(v * (1 + 1e-3)));
    const failedScaled = halfKernelChecks(s, h, scaled)
      .filter((c) => !c.ok)
      .map((c) => c.name);
    expect(failedScaled).toContain('kernel: systematic error');
    // Rounded toward zero instead of to nearest: each element stays within a half ulp of an admissible value...
    const ref = h.ref().y;
    const truncated = Float32Array.from(ref, (v) => {
      const n = roundF16(v);
      return Math.abs(n) > Math.abs(v) ? f16Value(f16Bits(n) - 1) : n;
    });
    const failedTrunc = halfKernelChecks(s, h, truncated)
      .filter((c) => !c.ok)
      .map((c) => c.name);
    // ...but the error has a component along the result: the systematic-error check catches it.
    expect(failedTrunc).toContain('kernel: systematic error');
  });
});

describe('the two accuracy checks are kept apart in the runner', () => {
  const s = shape({ c: 24, h: 14, w: 14, k: 16, r: 3, s: 3, pad: 1 });
  const caseSpec = convCase('test.int8', s, 7);
  const options = SHORT_OPTIONS;
  const scheme = SCHEMES[0]!;
  const good = int8GemmVariant(scheme);
  // A deliberately wrong requantization: the multipliers the kernel is given are off by 0.1%.
  const wrong = { ...int8GemmVariant(scheme, { paramError: 1e-3 }), name: 'conv-im2col-gemm-wrongrq-i8' };
  const relaxed = int8RelaxedVariant(scheme);
  const variants = [good, wrong, relaxed, convIm2colGemmF16];

  it('a wrong requantization fails the kernel check while the scheme loss hides it; fp16 passes; relaxed SIMD is skipped with the reason', async () => {
    const results = await measureCase(
      caseSpec,
      variants.map((v) => v.name),
      {
        ctx: { kernels: kernels() },
        features: { wasmSimd: true, wasmRelaxedSimd: kernels().relaxed !== null },
        options,
        ceilings: null,
        resolveVariant: (_suite, name) => variants.find((v) => v.name === name),
      },
    );
    const by = new Map(results.map((r) => [r.variant, r]));
    const ok = by.get(good.name);
    const bad = by.get(wrong.name);
    expect(ok?.state, JSON.stringify(ok)).toBe('passed');
    expect(bad?.state).toBe('inaccurate');
    if (ok?.state !== 'passed' || bad?.state !== 'inaccurate') return;
    expect(ok.accuracy.checks?.map((c) => c.name)).toEqual(['kernel: bit-exact']);
    const failed = bad.accuracy.checks?.find((c) => !c.ok);
    expect(failed?.name).toBe('kernel: bit-exact');
    expect(failed?.detail).toMatch(/differ from the exact integer reference/);
    // The scheme loss of the wrong kernel is within 0.1 dB of the right one's: a budget on it could not tell them apart.
    const sqnr = (r: typeof ok) => Number(r.accuracy.schemeLoss?.sqnrDb);
    expect(sqnr(ok)).toBeGreaterThan(25);
    expect(Math.abs(sqnr(bad) - sqnr(ok))).toBeLessThan(0.1);
    expect(ok.accuracy.schemeLoss).toMatchObject({ scheme: 'pc', flagged: false });
    expect(Number(ok.accuracy.schemeLoss?.rmseOverScale)).toBeGreaterThan(0.2);
    expect(ok.dtype).toBe('i8');
    const f16 = by.get(convIm2colGemmF16.name);
    expect(f16?.state, JSON.stringify(f16)).toBe('passed');
    if (f16?.state === 'passed') {
      expect(f16.accuracy.checks?.map((c) => c.name)).toEqual(['kernel: per-element bound', 'kernel: error norm', 'kernel: systematic error']);
      expect(Number(f16.accuracy.schemeLoss?.sqnrDb)).toBeGreaterThan(50);
    }
    const rx = by.get(relaxed.name);
    if (kernels().relaxed === null) {
      expect(rx?.state).toBe('skipped');
      if (rx?.state === 'skipped') expect(rx.reason).toMatch(/--experimental-wasm-relaxed-simd/);
    } else {
      expect(rx?.state).not.toBe('skipped');
    }
  });
});

describe('the int8 ceiling', () => {
  it('computes the dot-product chains it counts (checked against a JavaScript emulation; its measurement: test/precision-kernels-full.test.ts)', () => {
    const q = kernels().quant!;
    // Emulate 3 iterations of acc = dot_i16x8(acc as int16 lanes, m) + c for the 12 chains.
    const emulate = (iters: number, m: number, c: number): number => {
      const lanes = Array.from({ length: 12 }, (_, i) => new Int32Array(4).fill(i));
      for (let it = 0; it < iters; it++) {
        for (const a of lanes) {
          const h = new Int16Array(a.buffer.slice(0));
          for (let j = 0; j < 4; j++) a[j] = (h[2 * j]! * m + h[2 * j + 1]! * m + c) | 0;
        }
      }
      const s = new Int32Array(4);
      for (const a of lanes) for (let j = 0; j < 4; j++) s[j] = (s[j]! + a[j]!) | 0;
      return s[0]! ^ s[1]! ^ s[2]! ^ s[3]!;
    };
    for (const iters of [0, 1, 3, 7]) expect(q.peak_dot_i16x8(iters, 3, 1)).toBe(emulate(iters, 3, 1));
    expect(q.peak_dot_i16x8_ops_per_iter()).toBe(12 * 16);
  });
});

describe('the int8 GEMM-shaped ceiling loop and the static activation quantizer', () => {
  it('peak_madd_dot_i16x8 computes the 4x8 tile of dot products it counts (a JavaScript emulation)', () => {
    const k = kernels();
    const q = k.quant!;
    const bytes = 256;
    // The loop walks the buffer cyclically by 48 bytes and reads 48 from there: up to 48 bytes past `bytes`.
    const buf = k.allocBytes(bytes + 48, 64);
    const h = new Int16Array(k.memory.buffer, buf.ptr, (bytes + 48) / 2);
    const rng = makeRng(7);
    for (let i = 0; i < h.length; i++) h[i] = Math.floor(rng.next() * 65536) - 32768;
    const emulate = (iters: number): number => {
      const c = Array.from({ length: 8 }, () => new Int32Array(4));
      const mem = new DataView(k.memory.buffer, buf.ptr, bytes + 48);
      let off = 0;
      const i16 = (o: number) => mem.getInt16(o, true);
      for (let it = 0; it < iters; it++) {
        for (let r = 0; r < 4; r++) {
          const a0 = i16(off + 32 + 4 * r);
          const a1 = i16(off + 34 + 4 * r);
          for (let half = 0; half < 2; half++) {
            for (let j = 0; j < 4; j++) {
              const b = off + 16 * half + 4 * j;
              c[2 * r + half]![j] = (c[2 * r + half]![j]! + (a0 * i16(b) + a1 * i16(b + 2))) | 0;
            }
          }
        }
        off = (off + 48) & (bytes - 1);
      }
      const s = new Int32Array(4);
      for (const a of c) for (let j = 0; j < 4; j++) s[j] = (s[j]! + a[j]!) | 0;
      return s[0]! ^ s[1]! ^ s[2]! ^ s[3]!;
    };
    for (const iters of [0, 1, 5, 11]) expect(q.peak_madd_dot_i16x8(iters, buf.ptr, bytes)).toBe(emulate(iters));
    expect(q.peak_madd_dot_i16x8_ops_per_iter()).toBe(8 * 16);
  });

  it('quantize_f32 gives reference/quant.ts quantizeTensor codes: ties to even, -128, saturation, uint8 zero points, the scalar tail', () => {
    const k = kernels();
    const q = k.quant!;
    const s = 0.5;
    // Ties (x / s = k + 0.5), exact -128 and beyond, saturation both ways, -0, subnormal, and a tail of 3 after 4 lanes x 4.
    const x = Float32Array.from([1.25, 1.75, -1.25, -1.75, 0.25, -0.25, -64, -64.5, -1e30, 1e30, 63.5, 63.75, -0, 1e-40, 0.75, 2.25, -63.25, 127.5, 3.3]);
    for (const p of [
      { scale: s, zeroPoint: 0, qmin: -128, qmax: 127 },
      { scale: s, zeroPoint: 128, qmin: 0, qmax: 255 },
      { scale: Math.fround(0.1), zeroPoint: 3, qmin: 0, qmax: 255 },
    ]) {
      const xb = k.allocCopy(x);
      const qb = k.allocBytes(x.length);
      q.quantize_f32(xb.ptr, qb.ptr, x.length, p.scale, p.zeroPoint, p.qmin, p.qmax);
      const got = p.qmin < 0 ? new Int8Array(k.memory.buffer, qb.ptr, x.length) : new Uint8Array(k.memory.buffer, qb.ptr, x.length);
      expect(Array.from(got)).toEqual(Array.from(quantizeTensor(x, p)));
    }
    // A fault must show: a scale off by one ulp of f32 moves some code (the check compares codes, not closeness).
    const xb = k.allocCopy(Float32Array.from({ length: 64 }, (_, i) => (i + 0.5) * 0.5));
    const qb = k.allocBytes(64);
    q.quantize_f32(xb.ptr, qb.ptr, 64, 0.5 * (1 + 2 ** -23), 0, -128, 127);
    expect(Array.from(new Int8Array(k.memory.buffer, qb.ptr, 64))).not.toEqual(
      Array.from(quantizeTensor(new Float32Array(k.memory.buffer, xb.ptr, 64), { scale: 0.5, zeroPoint: 0, qmin: -128, qmax: 127 })),
    );
  });
});

describe('fp16-stored Winograd (conv3x3-winograd-f4x4-f16, -f6x6-f16)', () => {
  it("winograd.wasm's f32 -> f16 store is bit-identical to reference/fp16.ts (ties to even, subnormals, overflow, NaN)", () => {
    const k = kernels();
    const wg = k.winograd!;
    const rng = makeRng(13);
    const xs = [
      0,
      -0,
      1,
      -1,
      65504,
      65519.99,
      65520,
      1e6,
      -1e6,
      Infinity,
      -Infinity,
      NaN,
      2 ** -14,
      2 ** -24,
      2 ** -25,
      3 * 2 ** -26,
      2 ** -26,
      1 + 2 ** -11,
      1 + 3 * 2 ** -11,
      1 + 2 ** -11 + 2 ** -20,
      2049,
      2051,
      6.1e-5,
      -3.3e-7,
    ];
    for (let i = 0; i < 4000; i++) xs.push((rng.next() * 2 - 1) * 2 ** Math.floor(rng.next() * 40 - 26));
    const src = Float32Array.from(xs);
    const mark = k.mark();
    try {
      const a = k.allocCopy(src);
      const b = k.allocBytes(src.length * 2);
      wg.f32_to_f16(a.ptr, b.ptr, src.length);
      const got = new Uint16Array(k.memory.buffer as ArrayBuffer, b.ptr, src.length);
      const want = Uint16Array.from(src, (v) => f16Bits(v));
      const bad = [...want.keys()].filter((i) => got[i] !== want[i]).map((i) => `${src[i]}: ${got[i]!.toString(16)} vs ${want[i]!.toString(16)}`);
      expect(bad).toEqual([]);
      expect(got[src.indexOf(1 + 2 ** -11)]).toBe(0x3c00); // a tie rounds to the even 1.0
      expect(got[src.indexOf(1 + 3 * 2 ** -11)]).toBe(0x3c02);
    } finally {
      k.release(mark);
    }
  });

  const SHAPES: { why: string; s: ConvShape }[] = [
    { why: 'odd sizes, n=2, pad 1', s: shape({ n: 2, c: 3, h: 7, w: 9, k: 5, r: 3, s: 3, pad: 1 }) },
    { why: 'pad 0, one partial tile', s: shape({ c: 2, h: 5, w: 6, k: 3, r: 3, s: 3 }) },
    { why: 'K past MC (261), C 70, tiles past one block', s: shape({ c: 70, h: 13, w: 27, k: 261, r: 3, s: 3, pad: 1 }) },
  ];
  for (const v of [winogradF4x4F16, winogradF6x6F16]) {
    for (const { why, s } of SHAPES) {
      it(`${v.name} passes its kernel check: ${why}`, () => {
        const { x, w } = makeConvInputs(s, 3, 'uniform(-1,1)');
        const r = runOnce(v, s, x, w);
        expect(r.checks.map((c) => c.name)).toEqual(['kernel: error norm']);
        expectKernelChecksPass(r.checks, `${v.name} ${why}`);
      });
    }
  }

  it('an injected fault in the stored U fails the kernel check: one element doubled, or every element one ulp toward zero', () => {
    const s = shape({ c: 16, h: 12, w: 12, k: 8, r: 3, s: 3, pad: 1 });
    const { x, w } = makeConvInputs(s, 4, 'uniform(-1,1)');
    for (const m of [4, 6] as const) {
      // Test-only faults in the stored operand (options.corruptU), never in a production path.
      const one = halfWinogradVariant(m, { corruptU: (u) => void (u[5] = u[5]! + 0x400) });
      const trunc = halfWinogradVariant(m, { corruptU: (u) => u.forEach((b, i) => void (u[i] = (b & 0x7fff) !== 0 ? b - 1 : b)) });
      for (const bad of [one, trunc]) {
        const c = runOnce(bad, s, x, w).checks[0]!;
        expect(c.ok, c.detail).toBe(false);
        expect(c.detail).toMatch(/half-rounded U and V/);
      }
    }
  });

  it('the scheme loss is reported apart from the kernel check (against float64 on the original floats)', async () => {
    const s = shape({ c: 24, h: 14, w: 14, k: 16, r: 3, s: 3, pad: 1 });
    const variants = [winogradF4x4F16, winogradF6x6F16];
    const results = await measureCase(
      convCase('test.wf16', s, 7),
      variants.map((v) => v.name),
      {
        ctx: { kernels: kernels() },
        features: { wasmSimd: true, wasmRelaxedSimd: false },
        options: SHORT_OPTIONS,
        ceilings: null,
        resolveVariant: (_suite, name) => variants.find((v) => v.name === name),
      },
    );
    expect(results).toHaveLength(2);
    for (const r of results) {
      expect(r.state, JSON.stringify(r)).toBe('passed');
      if (r.state !== 'passed') continue;
      expect(r.dtype).toBe('f16');
      expect(r.accuracy.checks?.map((c) => c.name)).toEqual(['kernel: error norm']);
      const sqnr = Number(r.accuracy.schemeLoss?.sqnrDb);
      // fp16 storage of U and V: 45-50 dB here (F(6x6) lower), far below f32 Winograd's ~100 dB.
      expect(sqnr).toBeGreaterThan(35);
      expect(sqnr).toBeLessThan(80);
    }
  });
});
