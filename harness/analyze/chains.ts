/**
 * `npm run analyze -- --chain MODEL:FIRST..LAST`: the modeled memory traffic of a chain of convolutions computed
 * layer by layer or tile by tile (reference/chain-traffic.ts), against the device's cache sizes. No device needed:
 * what the tiling suite measures, predicted.
 *
 * A chain is a linear run of a network's conv and pool nodes; bias, batch-norm and ReLU/ReLU6 nodes inside it are
 * fused (they add no traffic, as the counting rule says). Branches (add, concat) and anything else end the chain
 * with an error naming the node.
 */
import type { Graph, GraphNode } from '../../core/graph.js';
import { chainShapes, chainTraffic, tileSweep, type Chain, type ChainLayer, type ChainTraffic, type TrafficModel } from '../../reference/chain-traffic.js';
import { Probe } from '../../core/contracts.js';
import type { DeviceRegistry } from '../devices.js';
import { newestRunWith } from '../history/newest.js';
import { bytesBinary, sig } from '../report/format.js';

export class ChainError extends Error {
  override name = 'ChainError';
}

/** A cache level the chain is modeled against: its name and its size in bytes (per core). */
export interface CacheLevel {
  level: string;
  bytes: number;
}

export interface ChainAnalysis {
  spec: string;
  chain: Chain;
  /** Element-wise nodes fused into the chain (no traffic). */
  fused: string[];
  caches: CacheLevel[];
  cachesSource: string;
  flops: number;
  perLevel: {
    level: string;
    bytes: number;
    layerByLayer: ChainTraffic;
    best: { recompute: ChainTraffic | null; cache: ChainTraffic | null };
  }[];
  /** The level the sweep is modeled against: the largest per-core level (L2, else the largest known). */
  sweepLevel: string;
  /** Square tiles of a few sides, modeled against `sweepLevel`. */
  sweep: { side: number; recompute: ChainTraffic; cache: ChainTraffic }[];
}

const FUSED_OPS = new Set(['bias', 'batchnorm', 'relu', 'relu6']);

/** The node `name` names: exactly, or as the prefix of a node (`conv3_1` names `conv3_1.conv`). */
function findNode(g: Graph, name: string, from: number, spec: string): number {
  const exact = g.nodes.findIndex((n, i) => i >= from && n.name === name);
  if (exact >= 0) return exact;
  const prefix = g.nodes.findIndex((n, i) => i >= from && n.name.startsWith(`${name}.`));
  if (prefix >= 0) return prefix;
  const convs = g.nodes.filter((n) => n.op === 'conv').map((n) => n.name);
  throw new ChainError(
    `--chain ${spec}: no node "${name}" in ${g.name}${from > 0 ? ' after the first one' : ''} (its conv nodes: ${convs.slice(0, 12).join(', ')}${convs.length > 12 ? ', ...' : ''})`,
  );
}

/** The last node that `name` names (a prefix names every node of its block: take the last). */
function findLast(g: Graph, name: string, from: number, spec: string): number {
  findNode(g, name, from, spec);
  let last = -1;
  g.nodes.forEach((n, i) => {
    if (i >= from && (n.name === name || n.name.startsWith(`${name}.`))) last = i;
  });
  return last;
}

function square(node: GraphNode, what: string, a: readonly number[], spec: string): number {
  if (a[0] !== a[1]) throw new ChainError(`--chain ${spec}: node ${node.name} has a non-square ${what} (${a.join('x')}): the traffic model takes square ones`);
  return a[0]!;
}

function symmetricPad(node: GraphNode, pads: readonly number[], spec: string): number {
  if (!pads.every((p) => p === pads[0])) {
    throw new ChainError(
      `--chain ${spec}: node ${node.name} pads its sides differently (${pads.join(', ')}): the traffic model takes the same pad on every side`,
    );
  }
  return pads[0]!;
}

/** The chain `FIRST..LAST` of graph `g` (shapes by tensor name). */
export function chainFromGraph(g: Graph, shapes: Map<string, number[]>, first: string, last: string, spec: string): { chain: Chain; fused: string[] } {
  const a = findNode(g, first, 0, spec);
  const b = findLast(g, last, a, spec);
  const layers: ChainLayer[] = [];
  const fused: string[] = [];
  let current: string | null = null;
  let input: number[] | undefined;
  for (let i = a; i <= b; i++) {
    const n = g.nodes[i]!;
    if (current !== null && n.inputs[0] !== current) {
      throw new ChainError(
        `--chain ${spec}: node ${n.name} reads ${n.inputs[0]}, not the chain's ${current}: a chain is a linear run of nodes (end it before ${n.name})`,
      );
    }
    if (current === null) input = shapes.get(n.inputs[0]!);
    current = n.outputs[0];
    if (FUSED_OPS.has(n.op)) {
      fused.push(n.name);
      continue;
    }
    if (n.op === 'conv') {
      const w = shapes.get(n.params[0]!)!;
      if (n.attrs.dilation.some((d) => d !== 1)) throw new ChainError(`--chain ${spec}: node ${n.name} is dilated: the traffic model takes dilation 1`);
      const k = square(n, 'kernel', [w[2]!, w[3]!], spec);
      layers.push({
        name: n.name,
        op: 'conv',
        k,
        stride: square(n, 'stride', n.attrs.stride, spec),
        pad: symmetricPad(n, n.attrs.pads, spec),
        cout: w[0]!,
        groups: n.attrs.groups,
      });
      continue;
    }
    if (n.op === 'maxpool' || n.op === 'avgpool') {
      if (n.attrs.ceil) throw new ChainError(`--chain ${spec}: node ${n.name} rounds its output size up (ceil mode): the traffic model floors`);
      layers.push({
        name: n.name,
        op: n.op,
        k: square(n, 'kernel', n.attrs.kernel, spec),
        stride: square(n, 'stride', n.attrs.stride, spec),
        pad: symmetricPad(n, n.attrs.pads, spec),
      });
      continue;
    }
    throw new ChainError(
      `--chain ${spec}: node ${n.name} is a ${n.op}: a chain holds conv and pool nodes (and fuses bias, batch-norm and ReLU); end it before ${n.name}`,
    );
  }
  if (layers.length === 0) throw new ChainError(`--chain ${spec}: no conv or pool node between ${first} and ${last}`);
  if (!input || input.length !== 4) throw new ChainError(`--chain ${spec}: the chain's input is not an N C H W tensor`);
  return { chain: { name: `${g.name}:${first}..${last}`, h: input[2]!, w: input[3]!, c: input[1]!, layers }, fused };
}

/** Parse `MODEL:FIRST..LAST` (or `MODEL:NODE` for one node). */
export function parseChainSpec(spec: string): { model: string; first: string; last: string } {
  const m = /^([^:]+):([^.][^]*?)(?:\.\.(.+))?$/.exec(spec);
  if (!m) throw new ChainError(`--chain ${spec}: expected MODEL:FIRST..LAST, e.g. vgg16:conv3_1..conv3_3`);
  return { model: m[1]!, first: m[2]!, last: m[3] ?? m[2]! };
}

/** The per-core cache sizes of `device`: from its latest probed run in the history, else its profile. */
export function deviceCaches(registry: DeviceRegistry, historyFile: string, device: string): { caches: CacheLevel[]; source: string } {
  // From the probe of its latest native run; an unreadable store falls through to the profile.
  const { found } = newestRunWith(
    historyFile,
    device,
    'probe_json',
    (json) => {
      const p = Probe.safeParse(json);
      if (!p.success) return null;
      const c = p.data.cpu.cache;
      const caches = (['l1d', 'l2', 'l3'] as const).flatMap((level) => (c[level] ? [{ level, bytes: c[level] }] : []));
      return caches.length ? caches : null;
    },
    { nativeOnly: true },
  );
  if (found) return { caches: found.value, source: `probed on ${device} in its latest run ${found.runId} (per core for L1d and L2)` };
  const profile = registry.devices.get(device)?.profile ?? registry.profiles.get(device);
  const caches = profile ? (['l1d', 'l2', 'l3'] as const).flatMap((level) => (profile.caches[level] ? [{ level, bytes: profile.caches[level] }] : [])) : [];
  if (caches.length) return { caches, source: `profile "${profile!.name}" in devices.yaml` };
  throw new ChainError(
    `no cache sizes for device ${device}: run npm run bench -- --device ${device} (its probe records them), or add caches: to its profile in devices.yaml`,
  );
}

/** Tile sides worth showing: powers of two, the output's divisors and the output itself, up to the output's size. */
function sides(n: number): number[] {
  const s = new Set<number>([n]);
  for (let p = 1; p < n; p *= 2) s.add(p);
  for (let d = 1; d <= n; d++) if (n % d === 0) s.add(d);
  return [...s].sort((x, y) => x - y);
}

/** Model the chain against every cache level, fp32, weights counted (a CPU cache holds them with the feature maps). */
export function analyzeChain(spec: string, chain: Chain, fused: string[], caches: CacheLevel[], cachesSource: string): ChainAnalysis {
  const model = (bytes: number): TrafficModel => ({ bytesPerElement: 4, cacheBytes: bytes, pooling: 'separate', weights: true });
  const perLevel = caches.map((c) => {
    const m = model(c.bytes);
    return {
      level: c.level,
      bytes: c.bytes,
      layerByLayer: chainTraffic(chain, m, { kind: 'layer' }),
      best: { recompute: tileSweep(chain, m, 'recompute').best ?? null, cache: tileSweep(chain, m, 'cache').best ?? null },
    };
  });
  const sweepLevel = caches.filter((c) => c.level !== 'l3').at(-1) ?? caches.at(-1)!;
  const lb = chainTraffic(chain, model(sweepLevel.bytes), { kind: 'layer' });
  const out = Math.max(...chainOutput(chain));
  const sweep = sides(out).map((side) => ({
    side,
    recompute: chainTraffic(chain, model(sweepLevel.bytes), { kind: 'tiled', tileH: side, tileW: side, halo: 'recompute' }),
    cache: chainTraffic(chain, model(sweepLevel.bytes), { kind: 'tiled', tileH: side, tileW: side, halo: 'cache' }),
  }));
  return { spec, chain, fused, caches, cachesSource, flops: lb.flops, perLevel, sweepLevel: sweepLevel.level, sweep };
}

function chainOutput(chain: Chain): [number, number] {
  const last = chainShapes(chain).at(-1)!;
  return [last.hout, last.wout];
}

const mb = (b: number) => bytesBinary(b);

/** The terminal text of one chain analysis. */
export function chainText(a: ChainAnalysis): string {
  const c = a.chain;
  const [ho, wo] = chainOutput(c);
  const lines: string[] = [];
  lines.push(`chain ${a.spec}: ${c.layers.map((l) => l.name).join(' -> ')}`);
  lines.push(
    `  ${c.h}x${c.w}x${c.c} -> ${ho}x${wo}, ${c.layers.length} layer${c.layers.length === 1 ? '' : 's'}, ${sig(a.flops / 1e9, 3)} GFLOP; fp32, weights counted` +
      (a.fused.length ? `; fused (no traffic): ${a.fused.length} element-wise node${a.fused.length === 1 ? '' : 's'}` : ''),
  );
  lines.push(`  caches (${a.cachesSource}): ${a.caches.map((x) => `${x.level.toUpperCase()} ${mb(x.bytes)}`).join(', ')}`);
  lines.push('  traffic beyond each cache level (modeled; reference/chain-traffic.ts, docs/tiling.md):');
  lines.push('    level  layer by layer          best tile, halos recomputed                  best tile, halos cached');
  for (const p of a.perLevel) {
    const best = (t: ChainTraffic | null) =>
      t && t.schedule.kind === 'tiled'
        ? `${t.schedule.tileH}x${t.schedule.tileW}: ${mb(t.offChipBytes)} (${sig(p.layerByLayer.offChipBytes / t.offChipBytes, 3)}x less), +${sig(100 * t.recomputeOverhead, 2)}% FLOPs`
        : 'no tile fits';
    lines.push(
      `    ${p.level.toUpperCase().padEnd(5)}  ${mb(p.layerByLayer.offChipBytes).padEnd(22)}  ${best(p.best.recompute).padEnd(44)} ${best(p.best.cache)}`,
    );
  }
  const level = a.sweepLevel.toUpperCase();
  lines.push(`  square tiles against ${level} (${mb(a.caches.find((x) => x.level === a.sweepLevel)!.bytes)}): working set, bytes beyond ${level}, extra FLOPs`);
  lines.push('    tile     tiles   halos recomputed                         halos cached');
  for (const r of a.sweep) {
    const cell = (t: ChainTraffic) =>
      `${mb(t.peakWorkingSet).padStart(10)} ${t.fits ? 'fits' : 'over'}  ${mb(t.offChipBytes).padStart(10)}  +${sig(100 * t.recomputeOverhead, 2)}%`;
    lines.push(`    ${`${r.side}x${r.side}`.padEnd(8)} ${String(r.recompute.tiles).padStart(5)}   ${cell(r.recompute).padEnd(40)} ${cell(r.cache)}`);
  }
  return lines.join('\n');
}
