/** Host side: the conv suite's cases, read from shapes.yaml (data, not code). */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { ConvShape, convCase, type CaseSpec, type Distribution, type ExtraVariant } from '../../core/contracts.js';
import { convOutputSize } from '../../reference/conv.js';

export const SHAPES_FILE = fileURLToPath(new URL('./shapes.yaml', import.meta.url));
export const WINOGRAD_FILE = fileURLToPath(new URL('./winograd.yaml', import.meta.url));

const WinogradEntry = z.strictObject({
  m: z.number().int().min(1).max(30),
  points: z.array(z.union([z.string(), z.number()]).transform(String)).min(2),
});

/** Read a YAML data file and validate it; errors name the file and the entry. */
export function readData<T>(file: string, what: string, schema: z.ZodType<T>): T {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new Error(`cannot read the ${what} file ${file}`, { cause });
  }
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
  const parsed = schema.safeParse(doc.toJS() ?? []);
  if (!parsed.success) {
    throw new Error(parsed.error.issues.map((i) => `${file}: entry ${i.path.join('.')}: ${i.message}`).join('\n'));
  }
  return parsed.data;
}

/** The extra Winograd tiles listed in the suite's data (winograd.yaml). */
export function convExtraVariants(file = WINOGRAD_FILE): ExtraVariant[] {
  return readData(file, 'Winograd tiles', z.array(WinogradEntry)).map((e) => ({
    suite: 'conv',
    kind: 'winograd' as const,
    m: e.m,
    points: e.points,
  }));
}

const ShapeEntry = z.strictObject({
  layer: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . - only'),
  description: z.string(),
  shape: ConvShape.strict(),
  tags: z.array(z.string()).default([]),
  /** `quick`: a --quick case only, its shape used as given (see shapes.yaml). */
  only: z.literal('quick').optional(),
});
export type ShapeEntry = z.infer<typeof ShapeEntry>;

export function readShapes(file = SHAPES_FILE): ShapeEntry[] {
  const shapes = readData(file, 'conv shapes', z.array(ShapeEntry));
  const seen = new Set<string>();
  for (const e of shapes) {
    if (seen.has(e.layer)) throw new Error(`${file}: duplicate layer name ${e.layer}`);
    seen.add(e.layer);
    try {
      convOutputSize(e.shape);
    } catch (cause) {
      throw new Error(`${file}: layer ${e.layer}: invalid shape`, { cause });
    }
  }
  return shapes;
}

/**
 * `--quick`: channels and spatial sizes divided by 4 (rounded up), so the
 * layers keep their character (odd sizes stay odd-ish, depthwise stays
 * depthwise, groups stay groups) but run in a fraction of the time.
 */
export function quickShape(s: ConvShape): ConvShape {
  const depthwise = s.groups === s.c && s.groups === s.k && s.groups > 1;
  const scaleC = (c: number, multiple: number) => {
    if (c <= 4) return c;
    const q = Math.ceil(c / 4);
    return Math.ceil(q / multiple) * multiple;
  };
  const h = Math.max(s.r, Math.ceil(s.h / 4));
  const w = Math.max(s.s, Math.ceil(s.w / 4));
  if (depthwise) {
    const c = scaleC(s.c, 1);
    return { ...s, c, k: c, groups: c, h, w };
  }
  return { ...s, c: scaleC(s.c, s.groups), k: scaleC(s.k, s.groups), h, w };
}

export function convCases(opts: { quick: boolean; seed: number; distribution: Distribution; file?: string }): CaseSpec[] {
  const cases: CaseSpec[] = [];
  readShapes(opts.file).forEach((e, i) => {
    if (e.only === 'quick' && !opts.quick) return;
    cases.push(
      convCase({
        id: `conv/${e.layer}`,
        suite: 'conv',
        layer: e.layer,
        // The description is of the real layer: a --quick case says it runs scaled down (its shape line gives the size).
        description: opts.quick && e.only !== 'quick' ? `${e.description} (--quick: channels and sizes / 4)` : e.description,
        shape: !opts.quick || e.only === 'quick' ? e.shape : quickShape(e.shape),
        // One seed per case, derived from the run seed and the case's position in the file, stored with the result.
        seed: (opts.seed + i * 7919) >>> 0,
        distribution: opts.distribution,
        tags: e.tags,
      }),
    );
  });
  return cases;
}
