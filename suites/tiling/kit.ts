/**
 * The tiling suite's kit (suites/kit.ts GraphKit, docs/tiling.md): each case is a chain of convolutions as a
 * graph (VGG-16 conv3_1..3_3, a ResNet basic block, a MobileNet v2 inverted residual block, a 3-layer chain at
 * 112x112), its variants the schedules: layer by layer, and tiled through the whole chain with halos recomputed
 * for a sweep of square tile sizes (suites/tiling/executor.ts). Every schedule's output is checked against the
 * float64 evaluation of the chain, and a tiled one bit for bit against layer by layer; all are timed interleaved
 * (suites/fusion/ways.ts). A result's bytes are the traffic model's (reference/chain-traffic.ts) for the device's
 * L2 as probed in the run, so a tiled point sits right of the untiled one on the roofline. Payload-safe.
 */
import type { CaseSpec, Distribution, GraphVariant } from '../../core/contracts.js';
import { convCase } from '../../core/contracts.js';
import { makeRng } from '../../reference/random.js';
import { defineVariants } from '../define.js';
import { firstConvShape } from '../fusion/kit.js';
import { measureWays, timedPrepare, type PreparedWay } from '../fusion/ways.js';
import type { GraphKit, KitMeasureEnv } from '../kit.js';
import { chainTraffic, type ChainTraffic } from '../../reference/chain-traffic.js';
import { chainDims, planStrips, planTiles, prepareChain, trafficChain, type ConvChain, type PreparedChain, type TilePlan } from './executor.js';
import { chainGraph, chainReference, MEASURED_CHAINS } from './graphs.js';
import { chainScheduleVariants, trafficModel } from './variants.js';

/** The square tile sizes the suite sweeps (output pixels per side; past the output: one tile). */
export const TILE_SWEEP: readonly number[] = [4, 8, 16, 28, 56, 112];
/** The tiles --quick runs. */
export const QUICK_TILES: readonly number[] = [8, 28];
/** The L2 the traffic model assumes when the run probed none (stated in each result). */
export const DEFAULT_L2_BYTES = 512 * 1024;

export type ChainName = keyof typeof MEASURED_CHAINS;
export const CHAIN_NAMES = Object.keys(MEASURED_CHAINS) as ChainName[];
/** The chains --quick runs: the one whose intermediates exceed L2, the ResNet block, and a small awkward one (--quick only). */
const QUICK_CHAINS: readonly ChainName[] = ['chain112', 'resnet_basic', 'awkward_odd'];
const QUICK_ONLY: readonly ChainName[] = ['awkward_odd'];

const isChain = (s: string): s is ChainName => s in MEASURED_CHAINS;

/** A chain by its case layer, with weights from `seed`. */
export function chainOf(layer: string, seed: number): ConvChain {
  if (!isChain(layer)) throw new Error(`unknown chain "${layer}"; this payload has ${CHAIN_NAMES.join(', ')}`);
  return MEASURED_CHAINS[layer](seed);
}

export function tilingCases(o: { quick: boolean; seed: number; distribution: Distribution }): CaseSpec[] {
  return CHAIN_NAMES.filter((n) => (o.quick ? QUICK_CHAINS.includes(n) : !QUICK_ONLY.includes(n))).map((name) => {
    const chain = chainOf(name, o.seed);
    const graph = chainGraph(chain);
    const last = chainDims(chain).at(-1)!;
    const out = chain.layers.at(-1)!;
    return {
      ...convCase({
        id: `tiling/${name}`,
        suite: 'tiling',
        layer: name,
        description:
          `${chain.name}: ${chain.layers.length} layers, ${chain.c}x${chain.h}x${chain.w} -> ${out.cout}x${last.hout}x${last.wout}; ` +
          'layer by layer vs tiled through the chain (halos recomputed, or cached in full-width strips)',
        shape: firstConvShape(graph),
        seed: o.seed,
        distribution: o.distribution,
        tags: ['tiling', 'chain'],
      }),
      graph,
    };
  });
}

export const tilingLayerByLayerF32: GraphVariant = {
  name: 'tiling-layer-by-layer-f32',
  op: 'graph',
  algorithm: 'layer-by-layer',
  dtype: 'f32',
  description:
    'Every layer over the whole image (fusion.conv_epi_f32: conv + bias + activation, the shortcut in the epilogue), ' +
    'each intermediate written to memory and read back by the next layer.',
  needs: { wasmSimd: true },
  applies: () => true,
};

/** The tile size (a cached variant: strip rows) of a tiled variant's name, or undefined. */
export function tileOfVariant(name: string): number | undefined {
  const m = /^tiling-(?:tiled|cached)-(\d+)-f32$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** The strip heights the halos-cached schedule runs (full-width strips of this many output rows). */
export const CACHED_STRIPS: readonly number[] = [8, 28];

const cachedVariant = (t: number): GraphVariant => ({
  name: `tiling-cached-${t}-f32`,
  op: 'graph',
  algorithm: 'tiled-cached',
  dtype: 'f32',
  description:
    `Full-width strips of ${t} output rows through the chain, halos cached: each layer computes only rows no earlier ` +
    'strip computed; the overlap is read again from the rows the previous strip left (in cache), not recomputed.',
  needs: { wasmSimd: true },
  applies: () => true,
});

const tiledVariant = (t: number): GraphVariant => ({
  name: `tiling-tiled-${t}-f32`,
  op: 'graph',
  algorithm: 'tiled-recompute',
  dtype: 'f32',
  description:
    `The last layer's output cut into ${t}x${t} tiles; for each tile every layer computes only the region the next ` +
    'needs (halos recomputed), on chip; the same kernel as layer by layer, so the same bits.',
  needs: { wasmSimd: true },
  applies: () => true,
});

export const tilingVariants = defineVariants('tiling', [tilingLayerByLayerF32, ...TILE_SWEEP.map(tiledVariant), ...CACHED_STRIPS.map(cachedVariant)]);

/** The plan with the first layer's region one row short at the bottom on every tile that has rows below it (test fault). */
function haloShort(plan: TilePlan, hin: number): TilePlan {
  return plan.map((regions) => regions.map((r, l) => (l === 0 && r.y1 < hin ? { ...r, y1: r.y1 - 1 } : r)));
}

/** The cache the traffic model uses: the probed L2, else the default (said so). */
export function modelCache(env: Pick<KitMeasureEnv, 'probe'>): { bytes: number; source: string } {
  const l2 = env.probe?.cpu.cache.l2;
  return l2 && l2 > 0
    ? { bytes: l2, source: 'L2 probed in this run' }
    : { bytes: DEFAULT_L2_BYTES, source: `no L2 probed: ${DEFAULT_L2_BYTES / 1024} KiB assumed` };
}

async function measureTilingCase(c: CaseSpec, variantNames: string[], env: KitMeasureEnv) {
  const chain = chainOf(c.layer, c.seed);
  const dims = chainDims(chain);
  const last = dims.at(-1)!;
  env.onPhase?.('inputs', c.id);
  const rng = makeRng(c.seed + 101);
  const x = Float32Array.from({ length: chain.c * chain.h * chain.w }, () => rng.normal());
  env.onPhase?.('reference', `${c.id}: float64 evaluation of the chain`);
  const { ref, allow } = chainReference(chain, x);
  const cache = modelCache(env);
  const schedules = chainScheduleVariants(chain, TILE_SWEEP);
  const layerTraffic = schedules[0]!.traffic(cache.bytes);
  const costOf = (t: ReturnType<(typeof schedules)[number]['traffic']>) => ({
    flops: t.flops,
    executedFlops: t.executedFlops,
    bytes: t.offChipBytes,
    intensity: t.flops / t.offChipBytes,
  });
  const kern = env.ctx.kernels;
  const effective = (t: number) => Math.min(t, Math.max(last.hout, last.wout));
  const caseInfo = { chain: chain.name, cacheBytes: cache.bytes, cacheSource: cache.source, outH: last.hout, outW: last.wout };
  /** A schedule's facts: the case's, its tile (0: the whole image) and its modeled traffic. */
  const trafficInfo = (tile: number, t: ChainTraffic) => ({
    ...caseInfo,
    tile,
    tiles: t.tiles,
    modeledBytes: t.offChipBytes,
    modeledBytesLayer: layerTraffic.offChipBytes,
    workingSet: t.peakWorkingSet,
    fits: t.fits ? 'yes' : 'no',
    recomputeOverhead: t.recomputeOverhead,
  });
  const cachedTraffic = (rows: number) =>
    chainTraffic(trafficChain(chain), trafficModel(cache.bytes), { kind: 'tiled', tileH: rows, tileW: last.wout, halo: 'cache' });
  /** Full-width strips of `rows` rows, halos cached (executor.ts planStrips). */
  const prepareCached = async (rows: number): Promise<PreparedWay> => {
    const traffic = cachedTraffic(Math.min(rows, last.hout));
    const { value: p, ms } = await timedPrepare(() => {
      const strips = planStrips(chain, rows);
      // Test-only fault: the first layer computes one row less in every strip but the last (rows never computed).
      const plan = env.faults?.tiledHaloShort
        ? strips.map((s, t) => (t < strips.length - 1 ? s.map((r, l) => (l === 0 && r[1] > r[0] ? ([r[0], r[1] - 1] as [number, number]) : r)) : s))
        : strips;
      return prepareChain(kern, chain, planTiles(chain, last.hout, last.wout), plan);
    });
    p.x.view().set(x);
    return {
      run: p.cachedStrips,
      output: () => p.yTiled.view(),
      cost: costOf(traffic),
      info: { ...trafficInfo(Math.min(rows, last.hout), traffic), halo: 'cached' },
      prepareMs: ms,
      prepareBytes: 0,
      note: `weights packed once; ${traffic.tiles} full-width strips planned, every layer's rows computed once`,
    };
  };
  return measureWays(c, variantNames, env, {
    ref,
    allow,
    source:
      'every element against the float64 evaluation of the chain, within the exact-fp32 allowance carried through the layers (reference/layer-tolerance.ts)',
    cost: costOf(layerTraffic),
    info: caseInfo,
    bitIdenticalTo: (v) => (v.algorithm.startsWith('tiled-') ? tilingLayerByLayerF32.name : undefined),
    async prepare(v): Promise<PreparedWay | string> {
      const tile = tileOfVariant(v.name);
      if (v.algorithm === 'tiled-cached') return prepareCached(tile!);
      if (tile !== undefined && effective(tile) !== tile && variantNames.some((n) => tileOfVariant(n) === effective(tile))) {
        return `a ${tile}x${tile} tile covers the whole ${last.hout}x${last.wout} output: the same schedule as tiling-tiled-${effective(tile)}-f32`;
      }
      const sched = tile === undefined ? schedules[0]! : schedules.find((s) => s.name === `tiled-${effective(tile)}x${effective(tile)}-recompute`)!;
      const traffic = sched.traffic(cache.bytes);
      const { value: p, ms } = await timedPrepare((): PreparedChain => {
        if (tile === undefined) return prepareChain(kern, chain, planTiles(chain, last.hout, last.wout));
        const plan = planTiles(chain, tile, tile);
        // Test-only fault: a halo one row short (the tiled output must fail both of its checks).
        return prepareChain(kern, chain, env.faults?.tiledHaloShort ? haloShort(plan, dims[0]!.hout) : plan);
      });
      p.x.view().set(x);
      const run = tile === undefined ? p.layerByLayer : p.tiled;
      return {
        run,
        output: () => (tile === undefined ? p.yLayer : p.yTiled).view(),
        cost: costOf(traffic),
        info: trafficInfo(tile === undefined ? 0 : effective(tile), traffic),
        prepareMs: ms,
        prepareBytes: 0,
        note:
          tile === undefined
            ? 'weights packed once; every intermediate allocated whole'
            : `weights packed once; ${traffic.tiles} tiles planned (each layer's region per tile), window buffers sized for the largest`,
      };
    },
  });
}

export const tilingKit: GraphKit = {
  name: 'tiling',
  description:
    'Conv chains layer by layer vs tiled through the chain with halos recomputed, for a sweep of tile sizes (suites/tiling); ' +
    "bytes from the traffic model at the device's L2",
  variants: tilingVariants,
  measure: measureTilingCase,
  tableBaseline: tilingLayerByLayerF32.name,
};
