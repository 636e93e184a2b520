/**
 * Host side: the sparse suite's cases, one per layer x pattern x fraction, read from
 * sweep.yaml (data, validated at load) with the layers' shapes from the model zoo.
 */
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { CaseSpec, ConvShape, Distribution } from '../../core/contracts.js';
import { convShapeOfNode, inferShapes } from '../../core/graph.js';
import { parsePattern, patternName, pruneLayout, weightDims } from '../../reference/sparse.js';
import { quickShape, readData } from '../conv/cases.js';
import { loadZooModel } from '../models/zoo.js';

export const SWEEP_FILE = fileURLToPath(new URL('./sweep.yaml', import.meta.url));

const Pattern = z.union([z.string(), z.number()]).transform((p, ctx) => {
  try {
    return patternName(parsePattern(String(p)));
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
    return z.NEVER;
  }
});
const Fraction = z.number().min(0).max(1);
const LayerName = z.string().regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . - only');

const Sweep = z.strictObject({
  fractions: z.array(Fraction).min(1),
  patterns: z.array(Pattern).min(1),
  layers: z
    .array(
      z.strictObject({
        model: LayerName,
        /** `pointwise`: every 1x1 ungrouped conv of the model; or node names. */
        nodes: z.union([z.literal('pointwise'), z.array(LayerName).min(1)]),
      }),
    )
    .min(1),
  quick: z.strictObject({ layers: z.array(LayerName).min(1), patterns: z.array(Pattern).min(1) }),
});
export type Sweep = z.infer<typeof Sweep>;

export interface SweepLayer {
  /** `<model>.<node>`, e.g. `mobilenet_v1.conv4.pw`. */
  layer: string;
  shape: ConvShape;
  pointwise: boolean;
}

export interface SparseCaseOptions {
  quick: boolean;
  seed: number;
  distribution: Distribution;
  /** --sparsity: fractions instead of the file's. */
  fractions?: readonly number[] | undefined;
  /** --pattern: patterns instead of the file's (or the quick list's). */
  patterns?: readonly string[] | undefined;
  file?: string;
}

/** The sweep file, validated: patterns parsed and named canonically, layers found in the zoo with a conv shape. */
export function readSweep(file = SWEEP_FILE): { sweep: Sweep; layers: SweepLayer[] } {
  const sweep = readData(file, 'sparse sweep', Sweep);
  const layers: SweepLayer[] = [];
  for (const [i, entry] of sweep.layers.entries()) {
    let model;
    try {
      model = loadZooModel(entry.model, { weights: false });
    } catch (cause) {
      throw new Error(`${file}: entry layers.${i}: model "${entry.model}" cannot be loaded`, { cause });
    }
    const shapes = inferShapes(model.graph);
    const convs = model.graph.nodes.flatMap((n) => {
      const s = convShapeOfNode(n, shapes);
      return s.ok ? [{ name: n.name, shape: s.shape }] : [];
    });
    const isPw = (s: ConvShape) => s.r === 1 && s.s === 1 && s.groups === 1;
    const chosen =
      entry.nodes === 'pointwise'
        ? convs.filter((c) => isPw(c.shape))
        : entry.nodes.map((name) => {
            const c = convs.find((x) => x.name === name);
            if (!c)
              throw new Error(`${file}: entry layers.${i}: ${entry.model} has no conv node "${name}" (its convs: ${convs.map((x) => x.name).join(', ')})`);
            return c;
          });
    for (const c of chosen) {
      if (c.shape.groups !== 1)
        throw new Error(`${file}: entry layers.${i}: ${entry.model}.${c.name} is a grouped or depthwise conv: the sparse kernels skip those (docs/sparse.md)`);
      const layer = `${entry.model}.${c.name}`;
      if (layers.some((l) => l.layer === layer)) throw new Error(`${file}: entry layers.${i}: layer ${layer} listed twice`);
      layers.push({ layer, shape: c.shape, pointwise: isPw(c.shape) });
    }
  }
  for (const [i, q] of sweep.quick.layers.entries()) {
    if (!layers.some((l) => l.layer === q))
      throw new Error(`${file}: entry quick.layers.${i}: ${q} is not one of the sweep's layers (${layers.map((l) => l.layer).join(', ')})`);
  }
  return { sweep, layers };
}

/** The fraction an N:M pattern prunes (1 - N/M), or null for the others. */
function fixedFraction(pattern: string): number | null {
  const p = parsePattern(pattern);
  return p.kind === 'nm' ? 1 - p.n / p.m : null;
}

/** `s80` for 0.8, `s33.3` for 1/3: the case id's sparsity. */
export function sparsityTag(fraction: number): string {
  return `s${Number((fraction * 100).toFixed(1))}`;
}

/** The sweep's cases: layer x pattern x fraction (an N:M pattern at its one sparsity). */
export function sparseCases(opts: SparseCaseOptions): CaseSpec[] {
  const { sweep, layers } = readSweep(opts.file);
  const patterns = (opts.patterns ?? (opts.quick ? sweep.quick.patterns : sweep.patterns)).map((p) => patternName(parsePattern(p)));
  const fractions = opts.fractions ?? sweep.fractions;
  const chosen = opts.quick ? layers.filter((l) => sweep.quick.layers.includes(l.layer)) : layers;
  const cases: CaseSpec[] = [];
  for (const l of chosen) {
    const li = layers.indexOf(l);
    const shape = opts.quick ? quickShape(l.shape) : l.shape;
    for (const pattern of [...new Set(patterns)]) {
      const fixed = fixedFraction(pattern);
      for (const fraction of fixed === null ? [...new Set(fractions)] : [fixed]) {
        // Refuse here, before anything runs, a pattern the layer cannot take (pruneLayout says why).
        pruneLayout(weightDims(shape), pattern, fraction);
        cases.push({
          id: `sparse/${l.layer}.${pattern}.${sparsityTag(fraction)}`,
          suite: 'sparse',
          layer: l.layer,
          description: `${l.layer} pruned ${pattern} to ${Number((fraction * 100).toFixed(1))}%`,
          shape,
          // One seed per layer (the same drawn weights across the sweep, pruned further as the fraction grows).
          seed: (opts.seed + li * 7919) >>> 0,
          distribution: opts.distribution,
          tags: [l.pointwise ? 'pointwise' : `${shape.r}x${shape.s}`, `pattern:${pattern}`],
          sparsity: { pattern, fraction },
        });
      }
    }
  }
  return cases;
}

/**
 * The command line's --pattern and --sparsity (`unstructured,1x4`; `0.5,0.9` or `50%,90%`), checked:
 * a bad entry throws saying which and what is accepted. Absent options give absent fields.
 */
export function parseSweepOptions(pattern: string | undefined, sparsity: string | undefined): { patterns?: string[]; fractions?: number[] } {
  const items = (v: string, what: string) => {
    const xs = v
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
    if (xs.length === 0) throw new Error(`--${what} is empty: give a comma-separated list`);
    return xs;
  };
  const out: { patterns?: string[]; fractions?: number[] } = {};
  if (pattern !== undefined) {
    out.patterns = items(pattern, 'pattern').map((p) => {
      try {
        return patternName(parsePattern(p));
      } catch (cause) {
        throw new Error(`--pattern: ${(cause as Error).message}`, { cause });
      }
    });
  }
  if (sparsity !== undefined) {
    out.fractions = items(sparsity, 'sparsity').map((x) => {
      const pct = x.endsWith('%');
      const n = Number(pct ? x.slice(0, -1) : x);
      const f = pct ? n / 100 : n;
      if (x === '' || !Number.isFinite(n) || f < 0 || f > 1) {
        throw new Error(`--sparsity: "${x}" is not a sparsity: give fractions of the weights pruned between 0 and 1 (0.9) or percentages (90%)`);
      }
      return f;
    });
  }
  return out;
}
