/**
 * The light runtime's memory plan: every activation tensor of a graph gets an
 * offset in ONE arena, planned once from the graph (no allocation per
 * inference). A tensor lives from the node that writes it to the last node that
 * reads it (graph outputs to the end); two tensors whose lifetimes overlap never
 * share bytes; graph inputs live throughout (set once, read by every
 * inference). Offsets are assigned greedily by size, largest first, each at the
 * lowest aligned offset that fits between the tensors already placed that are
 * alive at the same time: TFLite's "greedy by size" arena planner. Views
 * (flatten, reshape) alias their input (their lifetime extends it).
 *
 * Pure and payload-safe: the host calls it to estimate memory before a run,
 * the device to lay out the arena.
 */
import { numel, VIEW_OPS, type Graph, type Shapes } from '../../../core/graph.js';

/** Alignment of every tensor in the arena, bytes (a cache line; the kernels' f32x4 loads need 16). */
export const ARENA_ALIGN = 64;

export interface ArenaTensor {
  name: string;
  /** Byte offset in the arena. */
  offset: number;
  bytes: number;
  /** Index of the node that writes it (-1: a graph input) and of the last node that reads it (nodes.length: a graph output). */
  first: number;
  last: number;
  /** The tensor whose bytes this view shares (flatten / reshape), else null. */
  viewOf: string | null;
}

export interface ArenaPlan {
  /** Bytes of the whole arena. */
  bytes: number;
  /** What the arena would take without reuse (every tensor its own bytes): the planner's saving. */
  naiveBytes: number;
  tensors: Map<string, ArenaTensor>;
}

const align = (x: number): number => Math.ceil(x / ARENA_ALIGN) * ARENA_ALIGN;

/** Plan the arena of `g` (shapes from inferShapes), float32 activations. */
export function planArena(g: Graph, shapes: Shapes, bytesPerElement = 4): ArenaPlan {
  const root = new Map<string, string>();
  const rootOf = (t: string): string => root.get(t) ?? t;
  const life = new Map<string, { first: number; last: number; bytes: number }>();
  const touch = (t: string, i: number): void => {
    const l = life.get(rootOf(t));
    if (l) l.last = Math.max(l.last, i);
  };
  // Graph inputs are written once (setInputs) and read by every inference: alive throughout, never reused.
  for (const inp of g.inputs) life.set(inp.name, { first: -1, last: g.nodes.length, bytes: align(numel(inp.shape) * bytesPerElement) });
  g.nodes.forEach((n, i) => {
    for (const t of n.inputs) touch(t, i);
    const out = n.outputs[0];
    if (VIEW_OPS.has(n.op)) {
      root.set(out, rootOf(n.inputs[0]!));
    } else {
      life.set(out, { first: i, last: i, bytes: align(numel(shapes.get(out)!) * bytesPerElement) });
    }
  });
  for (const o of g.outputs) touch(o, g.nodes.length);
  const order = [...life.entries()].sort((a, b) => b[1].bytes - a[1].bytes || a[1].first - b[1].first);
  const placed: { offset: number; bytes: number; first: number; last: number }[] = [];
  const offsets = new Map<string, number>();
  let total = 0;
  let naive = 0;
  for (const [name, l] of order) {
    naive += l.bytes;
    const clash = placed.filter((p) => p.first <= l.last && l.first <= p.last).sort((a, b) => a.offset - b.offset);
    let offset = 0;
    for (const p of clash) {
      if (offset + l.bytes <= p.offset) break;
      offset = Math.max(offset, p.offset + p.bytes);
    }
    placed.push({ offset, bytes: l.bytes, first: l.first, last: l.last });
    offsets.set(name, offset);
    total = Math.max(total, offset + l.bytes);
  }
  const tensors = new Map<string, ArenaTensor>();
  for (const [name, l] of life) tensors.set(name, { name, offset: offsets.get(name)!, bytes: l.bytes, first: l.first, last: l.last, viewOf: null });
  for (const [view, r] of root) {
    const t = tensors.get(r)!;
    tensors.set(view, { ...t, name: view, viewOf: r });
  }
  return { bytes: total, naiveBytes: naive, tensors };
}
