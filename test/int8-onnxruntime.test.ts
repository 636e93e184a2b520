/**
 * The int8 peer: ONNX Runtime's QLinearConv on the same quantized tensors as the int8 variants
 * (suites/conv/variants/int8-onnxruntime.ts), run through the runner's measureCase, checked within one
 * code of the exact integer reference; an injected fault (every code off by 2) fails that check.
 * onnxruntime-node is a dev dependency: a run where it does not load fails here (no silent skip).
 */
import { describe, expect, it } from 'vitest';
import { measureCase } from '../harness/runner/measure.js';
import { int8Scheme } from '../reference/quant-scheme.js';
import { int8OnnxruntimeVariant } from '../suites/conv/variants/int8-onnxruntime.js';
import { useKernels } from './helpers/kernels.js';
import { convCase, SHORT_OPTIONS } from './helpers/measure.js';
import { convShape as shape } from './helpers/shapes.js';

const kernels = useKernels();

describe('ONNX Runtime QLinearConv peer (int8)', () => {
  const pc = int8Scheme({ weights: 'per-channel', activations: 'int8' });
  const pt = int8Scheme({ weights: 'per-tensor', activations: 'uint8' });
  const variants = [
    int8OnnxruntimeVariant(pc),
    int8OnnxruntimeVariant(pt),
    { ...int8OnnxruntimeVariant(pc, { codeError: 2 }), name: 'conv-onnxruntime-qlinear-wrong-i8' },
    int8OnnxruntimeVariant(int8Scheme({ output: 'dequantize' })),
  ];
  for (const [why, s] of [
    ['3x3 pad 1, C=16 K=24', shape({ c: 16, k: 24, h: 10, w: 9, r: 3, s: 3, pad: 1 })],
    ['3x3 depthwise stride 2', shape({ c: 8, k: 8, h: 11, w: 11, r: 3, s: 3, stride: 2, pad: 1, groups: 8 })],
  ] as const) {
    it(`within one code of the exact integer reference, per-channel int8 and per-tensor uint8: ${why}`, async () => {
      const results = await measureCase(
        convCase('t.qlinear', s, 11),
        variants.map((v) => v.name),
        {
          ctx: { kernels: kernels() },
          features: { wasmSimd: true, wasmRelaxedSimd: false },
          options: SHORT_OPTIONS,
          ceilings: null,
          resolveVariant: (_s, n) => variants.find((v) => v.name === n),
        },
      );
      const by = new Map(results.map((r) => [r.variant, r]));
      for (const v of variants.slice(0, 2)) {
        const r = by.get(v.name);
        expect(r?.state, JSON.stringify(r)).toBe('passed');
        if (r?.state !== 'passed') continue;
        expect(r.accuracy.checks?.[0]?.name).toBe('peer: within 1 code');
        expect(Number(r.accuracy.schemeLoss?.sqnrDb)).toBeGreaterThan(15); // 9-term depthwise reductions on uniform data: about 21 dB
      }
      // Injected fault: every code off by 2 fails the check.
      const bad = by.get('conv-onnxruntime-qlinear-wrong-i8');
      expect(bad?.state).toBe('inaccurate');
      // A dequantize scheme has no QLinearConv peer: skipped with the reason.
      const dq = by.get(variants[3]!.name);
      expect(dq?.state === 'skipped' && dq.reason).toMatch(/dequantize scheme has no ONNX Runtime peer/);
    });
  }
});
