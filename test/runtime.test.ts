/** The light runtime (suites/models/runtime): arena plan, every operator against float64, no allocation per inference. */
import { describe, expect, it } from 'vitest';
import { inferShapes, OPS } from '../core/graph.js';
import { evaluateGraph } from '../reference/graph.js';
import { makeGraphInputs, makeGraphParams } from '../reference/graph-init.js';
import { errorMetrics } from '../reference/metrics.js';
import { loadModelFile, loadZooModel, zooNames } from '../suites/models/zoo.js';
import { planArena } from '../suites/models/runtime/arena.js';
import { compileGraph, GENERAL_CONV, type ConvChooser } from '../suites/models/runtime/runtime.js';
import { convIm2colGemmF32 } from '../suites/conv/variants/im2col-gemm.js';
import { convDepthwiseSimdF32 } from '../suites/conv/variants/depthwise-simd.js';
import { winogradF4x4 } from '../suites/conv/variants/winograd.js';
import { useKernels } from './helpers/kernels.js';

const EVERY_OP = new URL('./fixtures/every-op.yaml', import.meta.url).pathname;
const kernels = useKernels();

describe('arena plan', () => {
  it.each(zooNames())('%s: tensors alive at the same time never share bytes; inputs are never reused', (name) => {
    const g = loadZooModel(name, { quick: true, weights: false }).graph;
    const plan = planArena(g, inferShapes(g));
    const own = [...plan.tensors.values()].filter((t) => t.viewOf === null);
    for (const a of own) {
      for (const b of own) {
        if (a === b || a.last < b.first || b.last < a.first) continue;
        const overlap = a.offset < b.offset + b.bytes && b.offset < a.offset + a.bytes;
        expect(overlap, `${a.name} [${a.first},${a.last}] and ${b.name} [${b.first},${b.last}]`).toBe(false);
      }
    }
    for (const inp of g.inputs) expect(plan.tensors.get(inp.name)!.last).toBe(g.nodes.length);
    expect(plan.bytes).toBeLessThan(plan.naiveBytes);
  });
});

describe('light runtime', () => {
  const m = loadModelFile(EVERY_OP);
  const g = m.graph;
  const params = makeGraphParams(g, 7);
  const inputs = makeGraphInputs(g, 7, 'uniform(-1,1)');
  const ref = evaluateGraph(g, inputs, params);

  it('the test network uses every operator', () => {
    expect(new Set(g.nodes.map((n) => n.op))).toEqual(new Set(OPS));
  });

  const best: ConvChooser = (_n, shape) => {
    if (!shape) return null;
    for (const v of [winogradF4x4, convDepthwiseSimdF32, convIm2colGemmF32]) if (v.applies(shape) === true) return v;
    return null;
  };
  it.each([
    ['im2col', (() => convIm2colGemmF32) as ConvChooser, true],
    ['per-layer choice', best, true],
    ['im2col, element-wise loops without graph.wasm', (() => convIm2colGemmF32) as ConvChooser, false],
  ])('every layer agrees with float64 (%s); nothing is allocated per inference; runs repeat bit for bit', (_label, choose, simdOps) => {
    const k = simdOps ? kernels() : { ...kernels(), graph: null };
    const mark = k.mark();
    try {
      const cg = compileGraph({ kernels: k }, g, params, choose);
      cg.setInputs(inputs);
      const used = k.bytesInUse();
      const memory = k.memoryBytes();
      cg.run();
      const first = cg.tensor('prob');
      cg.run();
      expect(k.bytesInUse()).toBe(used);
      expect(k.memoryBytes()).toBe(memory);
      expect(cg.tensor('prob')).toEqual(first);
      const seen: string[] = [];
      cg.runVisiting((i) => {
        const l = cg.layers[i]!;
        seen.push(l.node);
        const e = errorMetrics(cg.tensor(l.output), ref.values.get(l.output)!);
        // Approximate Winograd layers carry their budget; everything else is fp32 rounding.
        const limit = l.kernel.includes('winograd') ? 1e-4 : 1e-5;
        expect(e.relL2, `${l.node} (${l.kernel})`).toBeLessThan(limit);
      });
      expect(seen).toEqual(g.nodes.map((n) => n.name));
      const kinds = new Set(cg.layers.map((l) => l.kernel));
      expect(kinds.has('wasm-simd')).toBe(simdOps);
      // The unequal pads of "asym": the chosen kernel on the input padded explicitly (checked against float64 above), not the general conv.
      const asym = cg.layers.find((l) => l.node === 'asym')!;
      expect(asym.kernel).not.toBe(GENERAL_CONV);
      expect(asym.note).toMatch(/^pads \[\d+, \d+, \d+, \d+\] unequal: the input copied into zero-bordered \d+x\d+ planes each run, the kernel on pad 0$/);
      if (choose === best) {
        expect(kinds.has(winogradF4x4.name)).toBe(true);
        expect(kinds.has(convDepthwiseSimdF32.name)).toBe(true);
      }
    } finally {
      k.release(mark);
    }
  });

  it('a wrong kernel is seen by the comparison (the check can fail)', () => {
    const k = kernels();
    const mark = k.mark();
    try {
      // Test-only fault: the "grouped" layer's weights off by 1e-3 relative.
      const bad = new Map(params);
      bad.set(
        'grouped.w',
        params.get('grouped.w')!.map((v) => v * 1.001),
      );
      const cg = compileGraph({ kernels: k }, g, bad, () => convIm2colGemmF32);
      cg.setInputs(inputs);
      cg.run();
      const e = errorMetrics(cg.tensor('grouped'), ref.values.get('grouped')!);
      expect(e.relL2).toBeGreaterThan(1e-5);
    } finally {
      k.release(mark);
    }
  });
});
