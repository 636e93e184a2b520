/**
 * An independent checker of pruned weights (test-only): recomputes the
 * granules of a pattern by walking every weight (not with reference/sparse.ts's
 * arithmetic) and lists every way `pruned` fails to be the exact magnitude
 * pruning of `original`. An empty list means it is.
 */
import { parsePattern, type WeightDims } from '../../reference/sparse.js';

interface Granule {
  cls: string;
  first: number;
  members: number[];
}

/** Granules of a block (or unstructured) pattern, keyed by their block coordinates. */
function granules(dims: WeightDims, bi: number, bo: number): Granule[] {
  const { k, c, r, s } = dims;
  const map = new Map<string, Granule>();
  for (let kk = 0; kk < k; kk++)
    for (let cc = 0; cc < c; cc++)
      for (let rr = 0; rr < r; rr++)
        for (let ss = 0; ss < s; ss++) {
          const kb = Math.floor(kk / bo);
          const cb = Math.floor(cc / bi);
          const key = `${kb},${cb},${rr},${ss}`;
          const i = ((kk * c + cc) * r + rr) * s + ss;
          let g = map.get(key);
          if (!g) {
            const h = Math.min(bo, k - kb * bo);
            const wdt = Math.min(bi, c - cb * bi);
            g = { cls: `${wdt}x${h}`, first: i, members: [] };
            map.set(key, g);
          }
          g.members.push(i);
        }
  return [...map.values()];
}

export function pruningProblems(original: ArrayLike<number>, pruned: ArrayLike<number>, dims: WeightDims, pattern: string, fraction: number): string[] {
  const problems: string[] = [];
  const p = parsePattern(pattern);
  for (let i = 0; i < original.length; i++) {
    if (pruned[i] !== 0 && pruned[i] !== original[i]) problems.push(`weight ${i} changed from ${original[i]} to ${pruned[i]}`);
  }
  if (p.kind === 'nm') {
    const { k, c, r, s } = dims;
    for (let kk = 0; kk < k; kk++)
      for (let rr = 0; rr < r; rr++)
        for (let ss = 0; ss < s; ss++)
          for (let c0 = 0; c0 < c; c0 += p.m) {
            const idx: number[] = [];
            for (let cc = c0; cc < Math.min(c, c0 + p.m); cc++) idx.push(((kk * c + cc) * r + rr) * s + ss);
            const kept = idx.filter((i) => pruned[i] !== 0);
            const want = Math.min(p.n, idx.length);
            if (kept.length !== want) problems.push(`group k=${kk} c=${c0} r=${rr} s=${ss}: ${kept.length} kept, want ${want}`);
            const gone = idx.filter((i) => pruned[i] === 0);
            for (const a of gone)
              for (const b of kept) {
                const ma = Math.abs(original[a]!);
                const mb = Math.abs(original[b]!);
                if (ma > mb || (ma === mb && a > b)) problems.push(`group at ${idx[0]}: pruned ${a} (|w| ${ma}) but kept ${b} (|w| ${mb})`);
              }
          }
    return problems;
  }
  const bi = p.kind === 'block' ? p.ic : 1;
  const bo = p.kind === 'block' ? p.oc : 1;
  const byClass = new Map<string, { kept: Granule[]; gone: Granule[]; score: Map<Granule, number> }>();
  for (const g of granules(dims, bi, bo)) {
    const zeros = g.members.filter((i) => pruned[i] === 0).length;
    if (zeros !== 0 && zeros !== g.members.length)
      problems.push(`granule ${g.cls} at ${g.first}: ${zeros} of ${g.members.length} weights zero (pruned in part)`);
    let e = byClass.get(g.cls);
    if (!e) byClass.set(g.cls, (e = { kept: [], gone: [], score: new Map() }));
    e.score.set(
      g,
      g.members.reduce((a, i) => a + original[i]! * original[i]!, 0),
    );
    (zeros === g.members.length ? e.gone : e.kept).push(g);
  }
  for (const [cls, e] of byClass) {
    const n = e.kept.length + e.gone.length;
    const want = Math.min(n, Math.floor(fraction * n + 0.5));
    if (e.gone.length !== want) problems.push(`class ${cls}: ${e.gone.length} of ${n} granules pruned, want exactly ${want}`);
    // Every pruned granule ranks below every kept one by (score, first index).
    let worstGone: Granule | undefined;
    for (const g of e.gone) {
      if (!worstGone || e.score.get(g)! > e.score.get(worstGone)! || (e.score.get(g) === e.score.get(worstGone) && g.first > worstGone.first)) worstGone = g;
    }
    let bestKept: Granule | undefined;
    for (const g of e.kept) {
      if (!bestKept || e.score.get(g)! < e.score.get(bestKept)! || (e.score.get(g) === e.score.get(bestKept) && g.first < bestKept.first)) bestKept = g;
    }
    if (worstGone && bestKept) {
      const sg = e.score.get(worstGone)!;
      const sk = e.score.get(bestKept)!;
      if (sg > sk || (sg === sk && worstGone.first > bestKept.first)) {
        problems.push(`class ${cls}: pruned the granule at ${worstGone.first} (score ${sg}) but kept the one at ${bestKept.first} (score ${sk})`);
      }
    }
  }
  return problems;
}
