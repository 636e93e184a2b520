/**
 * A zoo network's counts against the figures its sources publish (pure).
 *
 * Each `published:` entry of a zoo file names what it counts: MACs of conv
 * and/or fully-connected layers, or parameters of given kinds (conv and fc
 * weights, biases, batch-norm scale and shift, batch-norm statistics), as
 * reference/graph-cost.ts splits them. The check: within 1% of the figure, or,
 * where the entry says the source printed only `digits` significant digits
 * (too coarse for 1%), our count rounded to that many digits equals it.
 */
import type { Graph } from '../../core/graph.js';
import { graphMacs, graphParamCounts } from '../../reference/graph-cost.js';
import type { Published } from './format.js';

export const PUBLISHED_TOLERANCE = 0.01;

export interface PublishedCheck {
  entry: Published;
  ours: number;
  /** (ours - published) / published */
  relative: number;
  ok: boolean;
  /** How it was checked, e.g. "within 1% (+0.26%)" or "rounds to 2 digits: 0.72M -> 0.7M". */
  how: string;
}

/** Round to `digits` significant digits. */
export function roundSig(x: number, digits: number): number {
  if (x === 0) return 0;
  const e = Math.floor(Math.log10(Math.abs(x))) - digits + 1;
  const f = 10 ** e;
  return Math.round(x / f) * f;
}

const fmt = (x: number) => (x >= 1e9 ? `${(x / 1e9).toPrecision(4)} G` : x >= 1e6 ? `${(x / 1e6).toPrecision(4)} M` : String(x));

/** Our count of what `entry` counts. */
export function countOf(g: Graph, entry: Published): number {
  if (entry.what === 'macs') {
    const m = graphMacs(g);
    return entry.counts.reduce((s, k) => s + m[k], 0);
  }
  const p = graphParamCounts(g);
  return entry.counts.reduce((s, k) => s + p[k], 0);
}

/** Check every published figure of a model. */
export function checkPublished(g: Graph, published: readonly Published[]): PublishedCheck[] {
  return published.map((entry) => {
    const ours = countOf(g, entry);
    const relative = (ours - entry.value) / entry.value;
    const pct = `${relative >= 0 ? '+' : ''}${(relative * 100).toFixed(2)}%`;
    if (entry.digits !== undefined) {
      const rounded = roundSig(ours, entry.digits);
      const ok = Math.abs(rounded - entry.value) <= entry.value * 1e-9;
      return { entry, ours, relative, ok, how: `printed to ${entry.digits} digits: ours ${fmt(ours)} rounds to ${fmt(rounded)} (${pct})` };
    }
    const ok = Math.abs(relative) <= PUBLISHED_TOLERANCE;
    return { entry, ours, relative, ok, how: `within ${PUBLISHED_TOLERANCE * 100}%: ours ${fmt(ours)} (${pct})` };
  });
}
