/**
 * The ONNX Runtime baseline (suites/fusion/ort.ts): the unfused graphs of the fusion pairs and a conv chain,
 * exported by core/onnx.ts, run in ORT with graphOptimizationLevel 'disabled' and 'all', each output against
 * the float64 evaluation within the exact tolerance carried through the layers (reference/layer-tolerance.ts).
 * Injected fault: a graph whose bias was dropped before export fails the check. No speed is asserted.
 */
import { describe, expect, it } from 'vitest';
import { evaluateGraph } from '../reference/graph.js';
import { allowanceCheck, convAllowance, convGeometry } from '../reference/layer-tolerance.js';
import { makeRng } from '../reference/random.js';
import { convEpiGraph, dwPwGraph } from '../suites/fusion/graphs.js';
import { convOut } from '../suites/fusion/ops.js';
import { ortGraphSession, type OrtLevel } from '../suites/fusion/ort.js';

const normal = (n: number, seed: number, scale = 1) => {
  const rng = makeRng(seed);
  return Float32Array.from({ length: n }, () => rng.normal() * scale);
};
const LEVELS: OrtLevel[] = ['disabled', 'all'];

describe('ONNX Runtime, optimisations disabled vs all, against the float64 graph', () => {
  it('conv 3x3/2 + bias + residual add + ReLU', async () => {
    const s = { c: 5, h: 9, w: 7, k: 6, r: 3, stride: 2, pad: 1, act: 'relu' as const, residual: true };
    const kd = s.c * 9;
    const ho = convOut(s.h, 3, 2, 1);
    const wo = convOut(s.w, 3, 2, 1);
    const w = normal(s.k * kd, 1, Math.sqrt(2 / kd));
    const b = normal(s.k, 2, 0.5);
    const x = normal(s.c * s.h * s.w, 3);
    const res = normal(s.k * ho * wo, 4);
    const g = convEpiGraph(s);
    const ev = evaluateGraph(g, { x, res }, { w, b });
    const abs = Float64Array.from(ev.absBound.get('c')!, (v, i) => v + Math.abs(res[i]!));
    const allow = convAllowance(convGeometry(s.c, s.h, s.w, s.k, 3, 2, 1), w, abs, kd + 2);
    for (const level of LEVELS) {
      const sess = await ortGraphSession(
        g,
        new Map([
          ['w', w],
          ['b', b],
        ]),
        { x, res },
        level,
      );
      const c = allowanceCheck(await sess.run(), ev.values.get('y')!, allow);
      expect(c.ok, `${level}: worst ratio ${c.worstRatio}`).toBe(true);
      await sess.release();
    }
    // Injected fault: the bias zeroed before export.
    const bad = await ortGraphSession(
      g,
      new Map([
        ['w', w],
        ['b', new Float32Array(s.k)],
      ]),
      { x, res },
      'all',
    );
    expect(allowanceCheck(await bad.run(), ev.values.get('y')!, allow).ok).toBe(false);
    await bad.release();
  });

  it('depthwise 3x3/2 + ReLU6 + pointwise + ReLU6 (a MobileNet block)', async () => {
    const s = { c: 7, h: 15, w: 9, k: 5, stride: 2 as const, act: 'relu6' as const };
    const p = {
      dw: normal(s.c * 9, 11, Math.sqrt(2 / 9)),
      dwb: normal(s.c, 12, 0.3),
      pw: normal(s.k * s.c, 13, Math.sqrt(2 / s.c)),
      pwb: normal(s.k, 14, 0.3),
    };
    const x = normal(s.c * s.h * s.w, 15);
    const g = dwPwGraph(s);
    const ev = evaluateGraph(g, { x }, p);
    const ho = convOut(s.h, 3, 2, 1);
    const wo = convOut(s.w, 3, 2, 1);
    const dwAllow = convAllowance(convGeometry(s.c, s.h, s.w, s.c, 3, 2, 1, s.c), p.dw, ev.absBound.get('dc')!, 10);
    const allow = convAllowance(convGeometry(s.c, ho, wo, s.k, 1, 1, 0), p.pw, ev.absBound.get('pc')!, s.c + 1, dwAllow);
    for (const level of LEVELS) {
      const sess = await ortGraphSession(g, new Map(Object.entries(p)), { x }, level);
      const c = allowanceCheck(await sess.run(), ev.values.get('y')!, allow);
      expect(c.ok, `${level}: worst ratio ${c.worstRatio}`).toBe(true);
      await sess.release();
    }
  });
});
