import { describe, expect, it } from 'vitest';
import { chainShapes, chainTraffic, tileSweep, type Chain, type ChainLayer, type TrafficModel } from '../reference/chain-traffic.js';
import { makeRng } from '../reference/random.js';

const conv = (name: string, cout: number, k = 3, stride = 1, pad = 1, groups = 1): ChainLayer => ({
  name,
  op: 'conv',
  k,
  stride,
  pad,
  cout,
  groups,
});
const maxpool = (name: string): ChainLayer => ({ name, op: 'maxpool', k: 2, stride: 2, pad: 0 });
const model = (cacheBytes: number, over: Partial<TrafficModel> = {}): TrafficModel => ({
  bytesPerElement: 4,
  cacheBytes,
  pooling: 'separate',
  weights: false,
  ...over,
});

// Two 3x3 valid convs, 1 channel: 6x6 -> 4x4 -> 2x2; 18 FLOPs per output pixel.
const tiny: Chain = { name: 'tiny', h: 6, w: 6, c: 1, layers: [conv('a', 1, 3, 1, 0), conv('b', 1, 3, 1, 0)] };

describe('chain traffic model: hand-computed cases', () => {
  it('one conv: input and output once, FLOPs by the counting rule', () => {
    const one: Chain = { name: 'one', h: 4, w: 4, c: 1, layers: [conv('a', 1)] };
    const r = chainTraffic(one, model(0), { kind: 'layer' });
    expect(r.featureMapBytes).toBe((16 + 16) * 4);
    expect(r.flops).toBe(2 * 9 * 16);
    expect(r.executedFlops).toBe(r.flops);
    expect(r.intensity).toBeCloseTo(288 / 128, 12);
  });

  it('layer by layer: the intermediate goes off chip unless it fits with the producer input', () => {
    expect(chainTraffic(tiny, model(0), { kind: 'layer' }).featureMapBytes).toBe((36 + 2 * 16 + 4) * 4);
    // 36 + 16 elements fit in 208 bytes: the 4x4 intermediate stays on chip
    expect(chainTraffic(tiny, model(208), { kind: 'layer' }).featureMapBytes).toBe((36 + 4) * 4);
    expect(chainTraffic(tiny, model(207), { kind: 'layer' }).featureMapBytes).toBe((36 + 2 * 16 + 4) * 4);
    expect(chainTraffic(tiny, model(0), { kind: 'layer' }).peakWorkingSet).toBe((36 + 16) * 4);
  });

  it('tiled with recomputed halos: 1x1 tiles read a 5x5 input patch each and recompute the 3x3 intermediate', () => {
    const r = chainTraffic(tiny, model(1e9), { kind: 'tiled', tileH: 1, tileW: 1, halo: 'recompute' });
    expect(r.tiles).toBe(4);
    expect(r.featureMapBytes).toBe((4 * 25 + 4) * 4);
    expect(r.flops).toBe(18 * (16 + 4));
    expect(r.executedFlops).toBe(18 * (4 * 9 + 4));
    expect(r.recomputeOverhead).toBeCloseTo(720 / 360 - 1, 12);
    // the largest pair: the 5x5 input patch and its 3x3 output
    expect(r.peakWorkingSet).toBe((25 + 9) * 4);
  });

  it('tiled with cached halos: every input read once, nothing recomputed, the bands counted', () => {
    const r = chainTraffic(tiny, model(1e9), { kind: 'tiled', tileH: 1, tileW: 1, halo: 'cache' });
    expect(r.featureMapBytes).toBe((36 + 4) * 4);
    expect(r.executedFlops).toBe(r.flops);
    // row bands: 2 rows x 6 x 1 and 2 x 4 x 1; column bands: 2 columns x the rows a tile adds (1 and 1 after the first)
    expect(r.peakWorkingSet).toBeGreaterThanOrEqual((12 + 8) * 4);
  });

  it('a schedule that does not fit spills its intermediates', () => {
    const r = chainTraffic(tiny, model(10), { kind: 'tiled', tileH: 1, tileW: 1, halo: 'recompute' });
    expect(r.fits).toBe(false);
    expect(r.featureMapBytes).toBe((4 * 25 + 4 + 2 * 4 * 9) * 4);
  });

  it('weights: read once when everything fits, once per tile when not', () => {
    const fits = chainTraffic(tiny, model(1e9, { weights: true }), { kind: 'tiled', tileH: 1, tileW: 1, halo: 'recompute' });
    expect(fits.weightBytes).toBe(18 * 4);
    const spills = chainTraffic(tiny, model(100, { weights: true }), { kind: 'tiled', tileH: 1, tileW: 1, halo: 'recompute' });
    expect(spills.weightBytes).toBe(4 * 18 * 4);
    expect(chainTraffic(tiny, model(0, { weights: true }), { kind: 'layer' }).weightBytes).toBe(18 * 4);
  });

  it('pooling on read: the pool output is never stored, its consumer reads the pool input', () => {
    const c: Chain = { name: 'cpc', h: 8, w: 8, c: 2, layers: [conv('a', 4), maxpool('p'), conv('b', 4)] };
    const sep = chainTraffic(c, model(0), { kind: 'layer' });
    const onRead = chainTraffic(c, model(0), { kind: 'layer' });
    expect(sep.featureMapBytes).toBe((128 + 2 * 256 + 2 * 64 + 64) * 4);
    const folded = chainTraffic(c, model(0, { pooling: 'on-read' }), { kind: 'layer' });
    expect(folded.featureMapBytes).toBe((128 + 2 * 256 + 64) * 4);
    expect(onRead.flops).toBe(folded.flops);
  });

  it('awkward tiles: stride 2 inside, tiles that do not divide the image, a tile larger than the image', () => {
    const c: Chain = { name: 'awk', h: 13, w: 11, c: 3, layers: [conv('a', 5, 3, 2, 1), conv('b', 4, 3, 1, 1), conv('c', 2, 5, 1, 2)] };
    const [, , last] = chainShapes(c);
    expect([last!.hout, last!.wout]).toEqual([7, 6]);
    const whole = chainTraffic(c, model(1e9), { kind: 'tiled', tileH: 50, tileW: 50, halo: 'recompute' });
    expect(whole.tiles).toBe(1);
    expect(whole.executedFlops).toBe(whole.flops);
    expect(whole.featureMapBytes).toBe((13 * 11 * 3 + 7 * 6 * 2) * 4);
    const odd = chainTraffic(c, model(1e9), { kind: 'tiled', tileH: 3, tileW: 4, halo: 'recompute' });
    expect(odd.tiles).toBe(3 * 2);
    expect(odd.executedFlops).toBeGreaterThan(odd.flops);
  });

  it('cached halos compute every needed element exactly once on random chains (the new regions partition each layer)', () => {
    const rng = makeRng(7);
    const next = () => rng.next();
    const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
    for (let trial = 0; trial < 200; trial++) {
      const layers: ChainLayer[] = [];
      for (let i = int(1, 4); i > 0; i--) {
        if (next() < 0.25) layers.push(maxpool(`p${i}`));
        else {
          // k >= stride: a 1x1 stride-2 conv needs every other row, and a region is the hull of what it needs
          const k = [1, 3, 5][int(0, 2)]!;
          layers.push(conv(`c${i}`, int(1, 3), k, k === 1 ? 1 : int(1, 2), int(0, (k - 1) / 2)));
        }
      }
      const c: Chain = { name: `r${trial}`, h: int(9, 30), w: int(9, 30), c: int(1, 3), layers };
      let shapes;
      try {
        shapes = chainShapes(c);
      } catch {
        continue;
      }
      const last = shapes[shapes.length - 1]!;
      const sched = { kind: 'tiled', tileH: int(1, last.hout + 2), tileW: int(1, last.wout + 2), halo: 'cache' } as const;
      const r = chainTraffic(c, model(1e12), sched);
      // one tile over everything computes exactly what the output needs (a chain may leave border rows unused, which
      // the counting rule still counts: then both are below r.flops)
      const needed = chainTraffic(c, model(1e12), { kind: 'tiled', tileH: 1e6, tileW: 1e6, halo: 'recompute' }).executedFlops;
      expect(needed).toBeLessThanOrEqual(r.flops);
      expect(r.executedFlops, JSON.stringify({ c, sched })).toBe(needed);
      const q = chainTraffic(c, model(1e12), { ...sched, halo: 'recompute' });
      expect(q.executedFlops).toBeGreaterThanOrEqual(needed);
      expect(q.featureMapBytes).toBeGreaterThanOrEqual(r.featureMapBytes);
    }
  });

  it('rejects bad chains and schedules with the layer named', () => {
    expect(() => chainShapes({ name: 'x', h: 2, w: 2, c: 1, layers: [conv('big', 1, 5, 1, 0)] })).toThrow(/layer big: a 5x5 window does not fit a 2x2 input/);
    expect(() => chainShapes({ name: 'x', h: 4, w: 4, c: 3, layers: [conv('g', 4, 3, 1, 1, 2)] })).toThrow(/layer g: groups 2 must divide/);
    expect(() => chainShapes({ name: 'x', h: 4, w: 4, c: 3, layers: [] })).toThrow(/no layers/);
    expect(() => chainTraffic(tiny, model(1), { kind: 'tiled', tileH: 0, tileW: 1, halo: 'cache' })).toThrow(/positive integer sides/);
    expect(() => chainTraffic(tiny, model(-1), { kind: 'layer' })).toThrow(/cacheBytes/);
  });
});

describe('chain traffic model: the published figure (Alwani et al., MICRO 2016)', () => {
  // VGGNet-E's first five convolution layers (and the two pools between them) at 224x224, fp32, feature maps only,
  // pools applied by their consumer on read. The paper: 362 KB on chip cuts the off-chip feature-map traffic from
  // 77 MB to 3.6 MB per image (MB and KB read as binary units: see docs/tiling.md).
  const vgg: Chain = {
    name: 'vggnet-e conv1_1..conv3_1',
    h: 224,
    w: 224,
    c: 3,
    layers: [conv('conv1_1', 64), conv('conv1_2', 64), maxpool('pool1'), conv('conv2_1', 128), conv('conv2_2', 128), maxpool('pool2'), conv('conv3_1', 256)],
  };
  const MiB = 2 ** 20;
  const KiB = 2 ** 10;
  const paper = model(362 * KiB, { pooling: 'on-read' });
  const within = (got: number, want: number, rel: number) => expect(Math.abs(got / want - 1), `${got} vs ${want}`).toBeLessThanOrEqual(rel);

  it('layer by layer: 77 MB within 10%', () => {
    within(chainTraffic(vgg, paper, { kind: 'layer' }).featureMapBytes / MiB, 77, 0.1);
  });

  it("fused with cached halos: the smallest tile needs about the paper's 362 KB and moves 3.6 MB, within 10%", () => {
    const sweep = tileSweep(vgg, model(1.1 * 362 * KiB, { pooling: 'on-read' }), 'cache');
    expect(sweep.best).toBeDefined();
    within(sweep.best!.featureMapBytes / MiB, 3.6, 0.1);
    within(sweep.best!.peakWorkingSet / KiB, 362, 0.1);
    expect(sweep.best!.executedFlops).toBe(sweep.best!.flops);
    // the cut the paper reports: 95%
    const cut = 1 - sweep.best!.featureMapBytes / chainTraffic(vgg, paper, { kind: 'layer' }).featureMapBytes;
    within(cut, 0.95, 0.01);
  });

  it('with far less on chip than the paper (a tenth), no fused schedule fits and the traffic stays high', () => {
    const small = tileSweep(vgg, model(36 * KiB, { pooling: 'on-read' }), 'cache');
    expect(small.best).toBeUndefined();
    expect(Math.min(...small.results.map((r) => r.featureMapBytes)) / MiB).toBeGreaterThan(70);
  });
});
