/**
 * Magnitude pruning of a conv layer's weights to an exact target sparsity
 * (pure, payload-safe: it runs on the device, before the float64 reference).
 *
 * Weights are KCRS: w[k][c][r][s], K output channels, C = C_in / groups input
 * channels per group, R x S taps. A *pattern* says which weights are pruned
 * together (a granule):
 *
 * - `unstructured`: every weight on its own;
 * - `<i>x<o>` blocks: i consecutive input channels x o consecutive output
 *   channels at the same tap (r, s). `1x2`, `1x4` span output channels (the
 *   blocks XNNPACK's sparse kernels read: one input row feeds 2 or 4 outputs),
 *   `4x1`, `8x1` span input channels. At the edges, where C or K is not a
 *   multiple of the block, the granules are the partial blocks that remain;
 * - `<n>:<m>` (N:M, e.g. `2:4`): in every group of m consecutive input
 *   channels at the same (k, r, s), exactly n are kept (the m - n smallest
 *   magnitudes pruned); a trailing partial group of m' < m channels keeps
 *   min(n, m'). Its sparsity is fixed at 1 - n/m: any other fraction is refused.
 *
 * Exactness. The granules fall into *classes* by their size (full blocks; the
 * partial blocks at the channel edges); within each class of `count` granules
 * exactly round(fraction * count) are pruned (round half up, in float64), the
 * ones with the smallest score = the sum of the squares of their weights
 * (float64, summed in KCRS order). Ties go to the granule that comes first in
 * KCRS order (the lower index of its first weight): the result depends only on
 * the weights, never on a sort's stability. So the number of pruned weights is
 * a function of the shape, pattern and fraction alone (`pruneLayout`), the
 * same on every device, and the cost model counts executed FLOPs from it
 * without seeing the weights. (A weight that was already exactly zero before
 * pruning and is kept still counts as kept: weights drawn by the suites'
 * PRNG are never exactly zero.)
 *
 * The pruning loss (what pruning costs the layer, reported for information;
 * the kernels are checked against the float64 conv of the *pruned* weights):
 * `pruningLoss` on the weights, and errorMetrics of the pruned layer's float64
 * output against the unpruned one's on the outputs.
 */

/** Which weights are pruned together; see the module doc. */
export type SparsePattern =
  | { kind: 'unstructured' }
  /** ic input channels x oc output channels at the same tap. */
  | { kind: 'block'; ic: number; oc: number }
  /** n kept in every m consecutive input channels. */
  | { kind: 'nm'; n: number; m: number };

/** The patterns the issue asks for, in the order a report shows them. */
export const DEFAULT_PATTERNS: readonly string[] = ['unstructured', '1x2', '1x4', '4x1', '8x1', '2:4'];
/** The default sparsity sweep (fractions of the weights pruned). */
export const DEFAULT_FRACTIONS: readonly number[] = [0.5, 0.7, 0.8, 0.9, 0.95];

/** Largest block side or N:M group accepted (keeps the granules meaningful and the names short). */
const MAX_SIDE = 64;

const PATTERN_HELP = "use 'unstructured', a block '<input channels>x<output channels>' (e.g. 1x4, 4x1) or N:M (e.g. 2:4)";

/** Parses a pattern name; throws saying what is wrong and what is accepted. */
export function parsePattern(name: string): SparsePattern {
  const s = String(name).trim();
  if (s === 'unstructured') return { kind: 'unstructured' };
  const block = /^(\d+)x(\d+)$/.exec(s);
  if (block) {
    const ic = Number(block[1]);
    const oc = Number(block[2]);
    if (ic < 1 || oc < 1 || ic > MAX_SIDE || oc > MAX_SIDE) {
      throw new Error(`sparsity pattern "${name}": block sides must be between 1 and ${MAX_SIDE}`);
    }
    if (ic === 1 && oc === 1) return { kind: 'unstructured' };
    return { kind: 'block', ic, oc };
  }
  const nm = /^(\d+):(\d+)$/.exec(s);
  if (nm) {
    const n = Number(nm[1]);
    const m = Number(nm[2]);
    if (!(n >= 1 && n < m && m <= MAX_SIDE)) {
      throw new Error(`sparsity pattern "${name}": N:M needs 1 <= N < M <= ${MAX_SIDE} (N weights kept of every M)`);
    }
    return { kind: 'nm', n, m };
  }
  throw new Error(`unknown sparsity pattern "${name}": ${PATTERN_HELP}`);
}

/** The canonical name of a pattern (parsePattern's inverse; `1x1` is `unstructured`). */
export function patternName(p: SparsePattern): string {
  switch (p.kind) {
    case 'unstructured':
      return 'unstructured';
    case 'block':
      return `${p.ic}x${p.oc}`;
    case 'nm':
      return `${p.n}:${p.m}`;
  }
}

/** Dimensions of a KCRS weight tensor: K outputs, C inputs per group, R x S taps. */
export interface WeightDims {
  k: number;
  c: number;
  r: number;
  s: number;
}

/** The weight dims of a conv shape (C per group). */
export function weightDims(shape: { k: number; c: number; r: number; s: number; groups: number }): WeightDims {
  return { k: shape.k, c: shape.c / shape.groups, r: shape.r, s: shape.s };
}

/** One class of granules of the same shape, and how many of them pruning removes. */
export interface GranuleClass {
  /** Input channels x output channels of each granule (N:M: the group's input channels x 1). */
  ic: number;
  oc: number;
  count: number;
  /** Granules pruned (blocks, unstructured) or weights pruned per group x groups (N:M). */
  pruned: number;
  /** Weights set to zero in this class. */
  prunedWeights: number;
}

/** What pruning a tensor of these dims to this pattern and fraction does, without the weights. */
export interface PruneLayout {
  pattern: string;
  fraction: number;
  total: number;
  /** Weights pruning sets to zero (exactly; the same on every device). */
  pruned: number;
  /** Weights kept: total - pruned. */
  kept: number;
  /** pruned / total: the sparsity really reached (differs from fraction by the rounding per class). */
  achieved: number;
  classes: GranuleClass[];
}

function checkDims(d: WeightDims): void {
  for (const f of ['k', 'c', 'r', 's'] as const) {
    if (!Number.isInteger(d[f]) || d[f] < 1) throw new Error(`prune: weight dimension ${f} = ${d[f]} must be a positive integer`);
  }
}

function checkFraction(fraction: number, p: SparsePattern): void {
  if (!(typeof fraction === 'number' && fraction >= 0 && fraction <= 1)) {
    throw new Error(`sparsity fraction ${fraction} must be a number between 0 and 1 (the share of the weights pruned, e.g. 0.9)`);
  }
  if (p.kind === 'nm') {
    const fixed = 1 - p.n / p.m;
    if (Math.abs(fraction - fixed) > 1e-9) {
      throw new Error(
        `sparsity pattern ${p.n}:${p.m} keeps ${p.n} of every ${p.m} weights: its sparsity is ${fixed}, not ${fraction} ` +
          `(ask for ${fixed}, or use an unstructured or block pattern for other fractions)`,
      );
    }
  }
}

/** Granules pruned out of `count` at `fraction`: round half up of fraction * count. */
export function prunedCount(fraction: number, count: number): number {
  return Math.min(count, Math.floor(fraction * count + 0.5));
}

/**
 * The granule classes of a pattern on these dims and how many of each pruning
 * removes. Pure arithmetic on the shape: prune() follows it exactly.
 */
export function pruneLayout(dims: WeightDims, pattern: string | SparsePattern, fraction: number): PruneLayout {
  checkDims(dims);
  const p = typeof pattern === 'string' ? parsePattern(pattern) : pattern;
  checkFraction(fraction, p);
  const { k, c, r, s } = dims;
  const total = k * c * r * s;
  const classes: GranuleClass[] = [];
  const add = (ic: number, oc: number, count: number) => {
    if (count <= 0) return;
    const pruned = prunedCount(fraction, count);
    classes.push({ ic, oc, count, pruned, prunedWeights: pruned * ic * oc });
  };
  if (p.kind === 'unstructured') {
    add(1, 1, total);
  } else if (p.kind === 'block') {
    const kFull = Math.floor(k / p.oc);
    const kRest = k % p.oc;
    const cFull = Math.floor(c / p.ic);
    const cRest = c % p.ic;
    add(p.ic, p.oc, kFull * cFull * r * s);
    add(cRest, p.oc, kFull * (cRest > 0 ? 1 : 0) * r * s);
    add(p.ic, kRest, (kRest > 0 ? 1 : 0) * cFull * r * s);
    add(cRest, kRest, (kRest > 0 && cRest > 0 ? 1 : 0) * r * s);
  } else {
    const groups = k * r * s;
    const cFull = Math.floor(c / p.m);
    const cRest = c % p.m;
    if (cFull > 0) {
      const count = groups * cFull;
      classes.push({ ic: p.m, oc: 1, count, pruned: count * (p.m - p.n), prunedWeights: count * (p.m - p.n) });
    }
    if (cRest > 0) {
      const drop = Math.max(0, cRest - p.n);
      classes.push({ ic: cRest, oc: 1, count: groups, pruned: groups * drop, prunedWeights: groups * drop });
    }
  }
  const pruned = classes.reduce((a, cl) => a + cl.prunedWeights, 0);
  return { pattern: patternName(p), fraction, total, pruned, kept: total - pruned, achieved: pruned / total, classes };
}

export interface PruneResult extends PruneLayout {
  /** The pruned weights (a copy; KCRS). */
  weights: Float32Array;
}

/**
 * The k-th smallest (0-based) of `a`, by quickselect (median-of-three pivots);
 * reorders `a`. Expected linear time: pruning a 2.4M-weight layer should not
 * take seconds on a small board.
 */
function select(a: Float64Array, k: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (hi > lo) {
    const mid = (lo + hi) >>> 1;
    // Median of a[lo], a[mid], a[hi] as the pivot.
    const x = a[lo]!;
    const y = a[mid]!;
    const z = a[hi]!;
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k]!;
  }
  return a[k]!;
}

/**
 * Indices (into `scores`) of the `z` smallest scores, ties broken by the lower
 * index; `scores` are in granule order. Finds the threshold (the z-th smallest
 * score, on a copy), then takes every score below it and the first ones equal to it.
 */
function smallest(scores: Float64Array, z: number): Uint8Array {
  const out = new Uint8Array(scores.length);
  if (z <= 0) return out;
  if (z >= scores.length) return out.fill(1);
  const t = select(Float64Array.from(scores), z - 1);
  let below = 0;
  for (let i = 0; i < scores.length; i++) if (scores[i]! < t) below++;
  let equalLeft = z - below;
  for (let i = 0; i < scores.length; i++) {
    const v = scores[i]!;
    if (v < t) out[i] = 1;
    else if (v === t && equalLeft > 0) {
      out[i] = 1;
      equalLeft--;
    }
  }
  return out;
}

/**
 * Magnitude-prunes KCRS weights to `fraction` with `pattern` (see the module
 * doc). Returns a pruned copy and the layout it followed. Throws on a bad
 * pattern, fraction or length.
 */
export function prune(w: ArrayLike<number>, dims: WeightDims, pattern: string | SparsePattern, fraction: number): PruneResult {
  const layout = pruneLayout(dims, pattern, fraction);
  const p = typeof pattern === 'string' ? parsePattern(pattern) : pattern;
  const { k, c, r, s } = dims;
  const total = k * c * r * s;
  if (w.length !== total) throw new Error(`prune: ${w.length} weights, but ${k}x${c}x${r}x${s} (KCRS) needs ${total}`);
  const out = Float32Array.from(w);
  for (let i = 0; i < total; i++) {
    if (!Number.isFinite(out[i]!)) throw new Error(`prune: weight ${i} is ${out[i]}; pruning needs finite weights`);
  }
  const at = (kk: number, cc: number, rr: number, ss: number) => ((kk * c + cc) * r + rr) * s + ss;

  if (p.kind === 'nm') {
    // Per group of m input channels at (k, r, s): drop the (size - keep) smallest magnitudes, ties to the lower channel.
    const idx: number[] = [];
    for (let kk = 0; kk < k; kk++) {
      for (let c0 = 0; c0 < c; c0 += p.m) {
        const size = Math.min(p.m, c - c0);
        const drop = Math.max(0, size - p.n);
        if (drop === 0) continue;
        for (let rr = 0; rr < r; rr++) {
          for (let ss = 0; ss < s; ss++) {
            idx.length = 0;
            for (let j = 0; j < size; j++) idx.push(at(kk, c0 + j, rr, ss));
            // Ascending |w|, ties by position: the first `drop` are pruned.
            idx.sort((a, b) => Math.abs(out[a]!) - Math.abs(out[b]!) || a - b);
            for (let j = 0; j < drop; j++) out[idx[j]!] = 0;
          }
        }
      }
    }
    return { ...layout, weights: out };
  }

  if (p.kind === 'unstructured') {
    // One granule per weight, already in KCRS order.
    const scores = new Float64Array(total);
    for (let i = 0; i < total; i++) scores[i] = out[i]! * out[i]!;
    const drop = smallest(scores, layout.classes[0]?.pruned ?? 0);
    for (let i = 0; i < total; i++) if (drop[i]) out[i] = 0;
    return { ...layout, weights: out };
  }

  const bi = p.ic;
  const bo = p.oc;
  // Granules in KCRS order of their first weight: (k block, c block, r, s). One pass per class.
  for (const cl of layout.classes) {
    if (cl.pruned === 0) continue;
    const starts = new Int32Array(4 * cl.count);
    let n = 0;
    for (let k0 = 0; k0 < k; k0 += bo) {
      if (Math.min(bo, k - k0) !== cl.oc) continue;
      for (let c0 = 0; c0 < c; c0 += bi) {
        if (Math.min(bi, c - c0) !== cl.ic) continue;
        for (let rr = 0; rr < r; rr++) {
          for (let ss = 0; ss < s; ss++) {
            starts.set([k0, c0, rr, ss], 4 * n);
            n++;
          }
        }
      }
    }
    if (n !== cl.count) throw new Error(`prune: internal error, ${n} granules of ${cl.ic}x${cl.oc} found, the layout says ${cl.count}`);
    const scores = new Float64Array(n);
    for (let g = 0; g < n; g++) {
      const k0 = starts[4 * g]!;
      const c0 = starts[4 * g + 1]!;
      const rr = starts[4 * g + 2]!;
      const ss = starts[4 * g + 3]!;
      let sum = 0;
      for (let dk = 0; dk < cl.oc; dk++) {
        for (let dc = 0; dc < cl.ic; dc++) {
          const v = out[at(k0 + dk, c0 + dc, rr, ss)]!;
          sum += v * v;
        }
      }
      scores[g] = sum;
    }
    const drop = smallest(scores, cl.pruned);
    for (let g = 0; g < n; g++) {
      if (!drop[g]) continue;
      const k0 = starts[4 * g]!;
      const c0 = starts[4 * g + 1]!;
      const rr = starts[4 * g + 2]!;
      const ss = starts[4 * g + 3]!;
      for (let dk = 0; dk < cl.oc; dk++) for (let dc = 0; dc < cl.ic; dc++) out[at(k0 + dk, c0 + dc, rr, ss)] = 0;
    }
  }
  return { ...layout, weights: out };
}

/** What pruning removed from the weights, for information. */
export interface WeightLoss {
  /** ||w - pruned|| / ||w|| (0 for an all-zero w). */
  relL2: number;
  /** Share of the weights' energy removed: ||w - pruned||^2 / ||w||^2. */
  energyRemoved: number;
}

/** The pruning loss on the weights (float64 sums). Throws on a length mismatch. */
export function pruningLoss(original: ArrayLike<number>, pruned: ArrayLike<number>): WeightLoss {
  if (original.length !== pruned.length) {
    throw new Error(`pruningLoss: ${original.length} original weights but ${pruned.length} pruned ones`);
  }
  let e = 0;
  let t = 0;
  for (let i = 0; i < original.length; i++) {
    const a = original[i]!;
    const d = a - pruned[i]!;
    e += d * d;
    t += a * a;
  }
  const energyRemoved = t > 0 ? e / t : 0;
  return { relL2: Math.sqrt(energyRemoved), energyRemoved };
}

/** A conv shape's fields pruning needs. */
type ConvLike = { k: number; c: number; r: number; s: number; groups: number };

/** Prunes a conv case's KCRS weights (C per group) to its sparsity. */
export function pruneConvWeights(shape: ConvLike, w: ArrayLike<number>, sparsity: { pattern: string; fraction: number }): PruneResult {
  return prune(w, weightDims(shape), sparsity.pattern, sparsity.fraction);
}

/**
 * What a sparse case's results carry (CaseResult.info), for the report: the
 * pattern, the fraction asked and reached, and the pruning loss on the weights
 * and, given the float64 outputs of the unpruned and pruned layer, on the
 * output (relative L2 of the pruned output against the unpruned one; absolute if
 * the unpruned output is all zero).
 */
export function sparsityInfo(
  p: PruneLayout,
  loss: WeightLoss,
  outputs?: { unpruned: ArrayLike<number>; pruned: ArrayLike<number> },
): Record<string, number | string> {
  const info: Record<string, number | string> = {
    sparsityPattern: p.pattern,
    sparsityFraction: p.fraction,
    sparsityAchieved: p.achieved,
    weightsKept: p.kept,
    pruningWeightRelL2: loss.relL2,
  };
  if (outputs) {
    const u = outputs.unpruned;
    const q = outputs.pruned;
    if (u.length !== q.length) throw new Error(`sparsityInfo: ${u.length} unpruned outputs but ${q.length} pruned ones`);
    let e = 0;
    let t = 0;
    for (let i = 0; i < u.length; i++) {
      const d = q[i]! - u[i]!;
      e += d * d;
      t += u[i]! * u[i]!;
    }
    // Relative where the unpruned output has any energy, else absolute (stays finite: results are JSON).
    info.pruningOutputRelL2 = t > 0 ? Math.sqrt(e / t) : Math.sqrt(e);
  }
  return info;
}
