/**
 * The chain schedules as variant objects (issue 15, phase 1): layer by layer, and tiled with halos recomputed for
 * a sweep of square tile sizes, each with its modeled traffic (reference/chain-traffic.ts) for a cache size.
 * Phase 2 registers them on the chain graph cases (graphs.ts chainGraph); scripts/fusion-speed.ts measures
 * them now. Payload-safe.
 */
import type { Kernels } from '../../kernels/index.js';
import { chainTraffic, type ChainSchedule, type ChainTraffic, type TrafficModel } from '../../reference/chain-traffic.js';
import { chainDims, planTiles, prepareChain, trafficChain, type ConvChain, type PreparedChain } from './executor.js';

export interface ChainScheduleVariant {
  /** "layer-by-layer" or "tiled-<t>x<t>-recompute". */
  name: string;
  schedule: ChainSchedule;
  /** Modeled off-chip bytes, working set and recompute for this schedule (weights counted: a CPU cache holds them). */
  traffic(cacheBytes: number): ChainTraffic;
  /** Prepares the chain (both schedules' buffers); run() is this variant's schedule. */
  prepare(kern: Kernels): { chain: PreparedChain; run(): void };
}

export const trafficModel = (cacheBytes: number): TrafficModel => ({ bytesPerElement: 4, cacheBytes, pooling: 'separate', weights: true });

/** The schedules for `chain`: layer by layer, then square tiles of each size in `tiles` (sizes past the output collapse to one tile). */
export function chainScheduleVariants(chain: ConvChain, tiles: readonly number[]): ChainScheduleVariant[] {
  const last = chainDims(chain).at(-1)!;
  const tc = trafficChain(chain);
  const layer: ChainScheduleVariant = {
    name: 'layer-by-layer',
    schedule: { kind: 'layer' },
    traffic: (cache) => chainTraffic(tc, trafficModel(cache), { kind: 'layer' }),
    prepare(kern) {
      const p = prepareChain(kern, chain, planTiles(chain, last.hout, last.wout));
      return { chain: p, run: p.layerByLayer };
    },
  };
  const sizes = [...new Set(tiles.map((t) => Math.min(t, Math.max(last.hout, last.wout))))];
  return [
    layer,
    ...sizes.map((t): ChainScheduleVariant => {
      const schedule: ChainSchedule = { kind: 'tiled', tileH: t, tileW: t, halo: 'recompute' };
      return {
        name: `tiled-${t}x${t}-recompute`,
        schedule,
        traffic: (cache) => chainTraffic(tc, trafficModel(cache), schedule),
        prepare(kern) {
          const p = prepareChain(kern, chain, planTiles(chain, t, t));
          return { chain: p, run: p.tiled };
        },
      };
    }),
  ];
}
