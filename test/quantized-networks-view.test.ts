/**
 * The whole-network quantization section's words (harness/report/quantized-networks.ts) on a hand-built run: the
 * fp32 networks' times carry their unit, and the layers left in fp32 are grouped by reason (a mixed plan that fell
 * twelve layers back read "conv3.dw: the mixed-precision plan fell it back to fp32; conv3.pw: the mixed-precision
 * plan fell it back to fp32; ..."). Pure: no run.
 */
import { describe, expect, it } from 'vitest';
import type { RunResults } from '../core/contracts.js';
import { quantizedNetworksView } from '../harness/report/quantized-networks.js';

const PLAN = 'the mixed-precision plan fell it back to fp32';

function result(variant: string, median: number, quantization?: object, noisy = false): object {
  return {
    caseId: 'models/net',
    variant,
    state: 'passed',
    timing: { stats: { median, ciLow: median, ciHigh: median }, noisy },
    ...(quantization ? { model: { quantization } } : {}),
  };
}

const layer = (node: string, precision: 'int8' | 'fp32', reason?: string) => ({ node, precision, localSqnrDb: 30, sqnrDb: 30, ...(reason ? { reason } : {}) });

const quant = {
  scheme: 'pc-i8',
  calibration: { method: 'minmax', inputs: 2, seeds: 'other seeds' },
  finalTensor: 'logits',
  finalSqnrDb: 31,
  finalRelL2: 0.03,
  top1: { agree: 32, inputs: 32, quick: true },
  budget: { text: 'SQNR >= 30 dB', meets: true },
  layers: [layer('conv1', 'int8'), layer('conv3.dw', 'fp32', PLAN), layer('asym', 'fp32', 'no int8 kernel'), layer('conv3.pw', 'fp32', PLAN)],
  plan: [
    { node: 'conv3.dw', localSqnrDb: 27, finalSqnrDb: 29, finalRelL2: 0.04 },
    { node: 'conv3.pw', localSqnrDb: 28, finalSqnrDb: 31, finalRelL2: 0.03 },
  ],
};

describe('whole-network quantization view', () => {
  it('groups the fp32 layers by reason and gives the fp32 networks in ms', () => {
    const run = {
      results: [result('model-runtime-im2col-f32', 28.5), result('model-runtime-best-f32', 17.55), result('model-runtime-mixed-pc-i8', 20.2, quant)],
    };
    const [view] = quantizedNetworksView(run as unknown as RunResults)!;
    expect(view!.fp32).toBe('fp32 im2col network 28.50 ms, best fp32 17.55 ms');
    expect(view!.rows[0]!.fp32).toBe(`conv3.dw, conv3.pw: ${PLAN}; asym: no int8 kernel`);
  });

  it('says a speed-up from noisy timings is indicative', () => {
    const clean = [result('model-runtime-im2col-f32', 28.5), result('model-runtime-mixed-pc-i8', 20.2, quant)];
    expect(quantizedNetworksView({ results: clean } as unknown as RunResults)![0]!.verdict).not.toContain('noisy');
    const noisy = [result('model-runtime-im2col-f32', 28.5, undefined, true), result('model-runtime-mixed-pc-i8', 20.2, quant)];
    expect(quantizedNetworksView({ results: noisy } as unknown as RunResults)![0]!.verdict).toContain(
      '1.41× faster than fp32 im2col (noisy timings: indicative), final',
    );
  });
});
