/**
 * The tiled chain executor (suites/tiling/executor.ts) against layer by layer and the float64 reference of the
 * chain's graph: on awkward shapes (stride 2 inside the chain, odd sizes, a layer without padding, ReLU6), for
 * tiles that do not divide the image, 1x1 tiles, a tile larger than the image. Tiled outputs are bit-identical to
 * layer by layer (same products, same order) and within the exact tolerance carried through the layers
 * (reference/layer-tolerance.ts). Injected faults: a plan whose halo is one row or one column short fails both,
 * and so does a layer-by-layer output with one bit flipped. Also the plan's regions against the traffic
 * model's recompute (reference/chain-traffic.ts). No speed is asserted.
 */
import { describe, expect, it } from 'vitest';
import { chainTraffic } from '../reference/chain-traffic.js';
import { allowanceCheck } from '../reference/layer-tolerance.js';
import { makeRng } from '../reference/random.js';
import { chainDims, planStrips, planTiles, prepareChain, trafficChain, type ConvChain, type TilePlan } from '../suites/tiling/executor.js';
import { chainReference, seededChain } from '../suites/tiling/graphs.js';
import { chainScheduleVariants } from '../suites/tiling/variants.js';
import { convBiasActPair, convBnActPair, dwPwPair } from '../suites/fusion/variants.js';
import { useKernels } from './helpers/kernels.js';

const kernels = useKernels();

const bitsEqual = (a: Float32Array, b: Float32Array) =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

const CHAINS: ConvChain[] = [
  seededChain('odd-stride2-inside', 3, 13, 11, [
    { name: 'a', k: 3, stride: 1, pad: 1, cout: 5 },
    { name: 'b', k: 3, stride: 2, pad: 1, cout: 7 },
    { name: 'c', k: 3, stride: 1, pad: 1, cout: 4, act: 'relu6' },
  ]),
  seededChain(
    'unpadded-and-1x1',
    4,
    12,
    9,
    [
      { name: 'a', k: 3, stride: 1, pad: 0, cout: 6 },
      { name: 'b', k: 1, stride: 1, pad: 0, cout: 9, act: 'none' },
      { name: 'c', k: 3, stride: 2, pad: 1, cout: 5 },
    ],
    2,
  ),
  // A MobileNet v2 inverted residual in miniature: grouped (depthwise) layer, linear projection with the shortcut.
  seededChain('inverted-residual-odd', 4, 9, 7, [
    { name: 'expand', k: 1, stride: 1, pad: 0, cout: 12, act: 'relu6' },
    { name: 'dw', k: 3, stride: 1, pad: 1, cout: 12, act: 'relu6', groups: 12 },
    { name: 'project', k: 1, stride: 1, pad: 0, cout: 4, act: 'none', residual: true },
  ]),
  // A ResNet basic block: the shortcut added in the second conv's epilogue, then ReLU.
  seededChain('basic-block-odd', 5, 7, 10, [
    { name: 'conv1', k: 3, stride: 1, pad: 1, cout: 5 },
    { name: 'conv2', k: 3, stride: 1, pad: 1, cout: 5, residual: true },
  ]),
];

const reference = chainReference;

describe('tiled vs layer by layer on awkward chains', () => {
  for (const chain of CHAINS) {
    it(`${chain.name}: every tile size bit-identical to layer by layer and within the tolerance`, () => {
      const kern = kernels();
      const rng = makeRng(9);
      const x = Float32Array.from({ length: chain.c * chain.h * chain.w }, () => rng.normal());
      const { ref, allow } = reference(chain, x);
      const last = chainDims(chain).at(-1)!;
      for (const [th, tw] of [
        [1, 1],
        [2, 3],
        [4, 5],
        [3, last.wout],
        [100, 100],
      ] as const) {
        const mark = kern.mark();
        const plan = planTiles(chain, th, tw);
        expect(plan.length).toBe(Math.ceil(last.hout / th) * Math.ceil(last.wout / tw));
        const p = prepareChain(kern, chain, plan);
        p.x.view().set(x);
        p.layerByLayer();
        p.tiled();
        const yl = p.yLayer.view().slice();
        const yt = p.yTiled.view().slice();
        expect(bitsEqual(yt, yl), `tiles ${th}x${tw}`).toBe(true);
        const c = allowanceCheck(yt, ref, allow);
        expect(c.ok, `tiles ${th}x${tw}: worst ratio ${c.worstRatio}`).toBe(true);
        kern.release(mark);
      }
    });
  }

  it('a halo one row or one column short fails both checks (injected fault)', () => {
    const kern = kernels();
    const chain = CHAINS[0]!;
    const rng = makeRng(10);
    const x = Float32Array.from({ length: chain.c * chain.h * chain.w }, () => rng.normal());
    const { ref, allow } = reference(chain, x);
    const good = planTiles(chain, 2, 3);
    // Tile 4 is inside the image: its first layer's region has a halo on every side.
    const t = good.findIndex((regions) => regions[0]!.y0 > 0 && regions[0]!.x0 > 0);
    expect(t).toBeGreaterThan(-1);
    const faults: [string, TilePlan][] = [
      ['first row of the halo', good.map((regions, i) => (i === t ? regions.map((r, l) => (l === 0 ? { ...r, y0: r.y0 + 1 } : r)) : regions))],
      ['last column of the halo', good.map((regions, i) => (i === t ? regions.map((r, l) => (l === 1 ? { ...r, x1: r.x1 - 1 } : r)) : regions))],
    ];
    for (const [what, plan] of faults) {
      const mark = kern.mark();
      const p = prepareChain(kern, chain, plan);
      p.x.view().set(x);
      p.layerByLayer();
      p.tiled();
      expect(bitsEqual(p.yTiled.view().slice(), p.yLayer.view().slice()), what).toBe(false);
      expect(allowanceCheck(p.yTiled.view(), ref, allow).ok, what).toBe(false);
      kern.release(mark);
    }
    const flipped = new Float32Array(ref.length);
    const mark = kern.mark();
    const p = prepareChain(kern, chain, good);
    p.x.view().set(x);
    p.layerByLayer();
    flipped.set(p.yLayer.view());
    new Uint32Array(flipped.buffer)[7]! ^= 1;
    p.tiled();
    expect(bitsEqual(flipped, p.yTiled.view().slice())).toBe(false);
    kern.release(mark);
  });

  it('the plan recomputes what the traffic model says it does', () => {
    const chain = CHAINS[0]!;
    const dims = chainDims(chain);
    for (const [th, tw] of [
      [1, 1],
      [2, 3],
      [100, 100],
    ] as const) {
      const plan = planTiles(chain, th, tw);
      let executed = 0;
      for (const regions of plan) {
        regions.forEach((r, i) => {
          const l = chain.layers[i]!;
          executed += (r.y1 - r.y0) * (r.x1 - r.x0) * 2 * l.cout * dims[i]!.cin * l.k * l.k;
        });
      }
      const model = chainTraffic(
        trafficChain(chain),
        { bytesPerElement: 4, cacheBytes: 1 << 30, pooling: 'separate', weights: false },
        { kind: 'tiled', tileH: th, tileW: tw, halo: 'recompute' },
      );
      expect(executed, `tiles ${th}x${tw}`).toBe(model.executedFlops);
    }
  });

  it('refuses bad tiles and plans with a message naming the chain', () => {
    const kern = kernels();
    expect(() => planTiles(CHAINS[0]!, 0, 3)).toThrow(/odd-stride2-inside: tile sizes must be positive integers/);
    expect(() => prepareChain(kern, CHAINS[0]!, [[{ y0: 0, y1: 1, x0: 0, x1: 1 }]])).toThrow(/tile 0 of the plan has 1 regions, the chain has 3 layers/);
  });
});

describe('the schedule and pair variant objects (phase 2 registers them)', () => {
  it('chain schedules: layer by layer and each tile size give the same bits; the model cuts bytes as tiles grow', () => {
    const kern = kernels();
    const chain = CHAINS[0]!;
    const variants = chainScheduleVariants(chain, [2, 4, 1000]);
    expect(variants.map((v) => v.name)).toEqual(['layer-by-layer', 'tiled-2x2-recompute', 'tiled-4x4-recompute', 'tiled-7x7-recompute']);
    const mark = kern.mark();
    const base = variants[0]!.prepare(kern);
    const rng = makeRng(3);
    base.chain.x.view().set(Float32Array.from({ length: chain.c * chain.h * chain.w }, () => rng.normal()));
    base.run();
    for (const v of variants.slice(1)) {
      const t = v.prepare(kern);
      t.chain.x.view().set(base.chain.x.view());
      t.run();
      expect(bitsEqual(t.chain.yTiled.view().slice(), base.chain.yLayer.view().slice()), v.name).toBe(true);
      expect(v.traffic(1 << 20).recomputeOverhead).toBeGreaterThanOrEqual(variants.at(-1)!.traffic(1 << 20).recomputeOverhead);
    }
    kern.release(mark);
  });

  it('fusion pairs: each runs, fused and unfused agree bit for bit (BN fold aside), and the model says fused moves fewer bytes', () => {
    const kern = kernels();
    const pairs = [
      convBiasActPair('small', { c: 9, h: 5, w: 7, k: 6, r: 1, stride: 1, pad: 0, act: 'relu6', residual: true }),
      convBnActPair('small', { c: 4, h: 6, w: 5, k: 3, r: 3, stride: 1, pad: 1, act: 'relu' }),
      dwPwPair('small', { c: 6, h: 9, w: 8, k: 5, stride: 2, act: 'relu', rows: 2 }),
    ];
    for (const pair of pairs) {
      const mark = kern.mark();
      const p = pair.prepare(kern);
      p.fused();
      p.unfused();
      expect(pair.graph().name.length).toBeGreaterThan(0);
      expect(pair.bytes.fused, pair.name).toBeLessThan(pair.bytes.unfused);
      if (pair.kind !== 'conv-bn-act') expect(bitsEqual(p.yFused.view().slice(), p.yUnfused.view().slice()), pair.name).toBe(true);
      kern.release(mark);
    }
  });
});

describe('halos cached: full-width strips through the chain, each row computed once', () => {
  for (const chain of CHAINS) {
    it(`${chain.name}: every strip height bit-identical to layer by layer and within the tolerance`, () => {
      const kern = kernels();
      const rng = makeRng(11);
      const x = Float32Array.from({ length: chain.c * chain.h * chain.w }, () => rng.normal());
      const { ref, allow } = reference(chain, x);
      const dims = chainDims(chain);
      const last = dims.at(-1)!;
      for (const rows of [1, 2, 3, last.hout - 1 || 1, last.hout + 5]) {
        const mark = kern.mark();
        const strips = planStrips(chain, rows);
        // Every output row of every layer computed exactly once over the strips (nothing recomputed).
        dims.forEach((d, i) =>
          expect(
            strips.reduce((n, s) => n + (s[i]![1] - s[i]![0]), 0),
            `layer ${i}`,
          ).toBe(d.hout),
        );
        const p = prepareChain(kern, chain, planTiles(chain, last.hout, last.wout), strips);
        p.x.view().set(x);
        p.layerByLayer();
        const yl = p.yLayer.view().slice();
        p.yTiled.view().fill(NaN);
        p.cachedStrips();
        expect(bitsEqual(p.yTiled.view().slice(), yl), `strips of ${rows}`).toBe(true);
        expect(allowanceCheck(p.yTiled.view(), ref, allow).ok, `strips of ${rows}`).toBe(true);
        kern.release(mark);
      }
    });
  }

  it('a strip plan one row short in a middle layer fails both checks (injected fault)', () => {
    const kern = kernels();
    const chain = CHAINS[0]!;
    const rng = makeRng(12);
    const x = Float32Array.from({ length: chain.c * chain.h * chain.w }, () => rng.normal());
    const { ref, allow } = reference(chain, x);
    const good = planStrips(chain, 3);
    // Layer 0 computes one row less in the first strip and the next strip starts where the good one did: a row never computed.
    const bad = good.map((s, t) => (t === 0 ? s.map((r, l) => (l === 0 ? ([r[0], r[1] - 1] as [number, number]) : r)) : s));
    const mark = kern.mark();
    const last = chainDims(chain).at(-1)!;
    const p = prepareChain(kern, chain, planTiles(chain, last.hout, last.wout), bad);
    p.x.view().set(x);
    p.layerByLayer();
    const yl = p.yLayer.view().slice();
    p.yTiled.view().fill(0);
    p.cachedStrips();
    expect(bitsEqual(p.yTiled.view().slice(), yl)).toBe(false);
    expect(allowanceCheck(p.yTiled.view(), ref, allow).ok).toBe(false);
    kern.release(mark);
  });
});
