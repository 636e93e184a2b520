/** The whole-network views of the report (harness/report/network.ts): the error-growth chart's legend, the runtime overhead. */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { errorGrowthSvg, overheadText } from '../harness/report/network.js';
import { readRun } from '../harness/results.js';

const run = () => readRun(fileURLToPath(new URL('./fixtures/results/v1-conv-and-model.json', import.meta.url)));

describe('whole-network views', () => {
  it("the error-growth chart names every runtime variant in full ('model-runtime-im2…' could be either policy, at either count)", async () => {
    const r = run();
    const one = r.results.find((x) => x.variant === 'model-runtime-im2col-f32')!;
    const results = [...r.results, { ...one, variant: 'model-runtime-im2col-f32@t2', threads: 2 }];
    const svg = (await errorGrowthSvg(results, 'eg'))!;
    for (const v of ['model-runtime-im2col-f32', 'model-runtime-im2col-f32@t2']) expect(svg).toContain(`>${v}</text>`);
    expect(svg).not.toMatch(/…<\/text>/);
  });

  it('a runtime overhead below zero (layers timed in separate profiled runs summing above the end-to-end mean) is not shown as a figure', () => {
    expect(overheadText(2.712, 7.7)).toBe('2.712 (7.7%)');
    expect(overheadText(null, null)).toBe('—');
    const negative = overheadText(-6.352, -18.2);
    expect(negative).toBe('none measurable (the layers, timed in separate profiled runs, sum 6.352 ms above it)');
    expect(negative).not.toMatch(/-\d/);
  });
});
