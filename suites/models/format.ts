/**
 * The model zoo's file format: a network as a layer table in YAML
 * (suites/models/*.yaml), read into a Graph (core/graph.ts). Host side; pure
 * apart from the text it is given (zoo.ts reads the files).
 *
 * A file names the network and its source (paper, table), the input shape and
 * its reduced `--quick` form, the figures its paper publishes (checked by the
 * tests), optional block templates, and the layers in order:
 *
 *   layers:
 *     - { op: conv, name: conv1_1, out: 64, kernel: 3, pad: 1, bias: true }
 *     - { op: relu }                               # reads the previous layer
 *     - { block: bottleneck, name: "conv2_{i}", repeat: 2, start: 2, with: { mid: 64, out: 256 } }
 *     - { op: add, in: [conv2_1, conv2_1.proj.bn] } # names of earlier layers
 *
 * Templates (`blocks:`) are data with whole-value substitution only: a value
 * "$mid" becomes the instance's `mid`, "{i}" inside a string its text; no
 * expressions, no conditions. Inside a block, layer names are prefixed with
 * the instance's name ("conv2_1.conv1"); `in: input` is the instance's input.
 * A layer without a name is called after the last named layer of its scope and
 * its op ("conv1_1.relu"). See docs/graphs.md for every field.
 *
 * Errors carry file:line and the layer (and the block instance it was
 * expanded from) and say what to do.
 */
import { LineCounter, parseDocument, type Node } from 'yaml';
import { z } from 'zod';
import { ConfigError, didYouMean, type Finding } from '../../harness/devices.js';
import { parseYamlConfig } from '../../harness/config-yaml.js';
import { GraphError, ShapeChecker, type Graph, type GraphNode, type Init, type Param, type Shapes } from '../../core/graph.js';

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/** A zoo file is wrong: `file:line: where: what`. */
export class ModelError extends Error {
  override name = 'ModelError';
  constructor(
    message: string,
    readonly file: string,
    readonly line: number | null,
    options?: ErrorOptions,
  ) {
    super(`${file}${line !== null ? `:${line}` : ''}: ${message}`, options);
  }

  /** Every problem of a file at once (from parseYamlConfig), one per line, each with file:line:column. */
  static ofConfig(e: ConfigError): ModelError {
    const m = new ModelError('', e.file, e.line, { cause: e });
    m.message = e.message;
    return m;
  }
}

// ---------------------------------------------------------------------------
// The file
// ---------------------------------------------------------------------------

const PosInt = z.number().int().positive();
const NonNeg = z.number().int().nonnegative();
const Dims = z.array(PosInt).min(1);
/** Parameter kinds of reference/graph-cost.ts graphParamCounts, and MAC kinds of graphMacs. */
export const PARAM_KINDS = ['convWeights', 'fcWeights', 'biases', 'bnAffine', 'bnStats'] as const;
export const MAC_KINDS = ['conv', 'fc'] as const;

/** A figure a source publishes, and what it counts. */
const published = <W extends string, K extends readonly [string, ...string[]]>(what: W, kinds: K) =>
  z.strictObject({
    what: z.literal(what),
    value: z.number().positive(),
    counts: z.array(z.enum(kinds)).min(1),
    /**
     * Significant digits the source printed, when too few for a 1% check
     * (e.g. "0.7M"): our count must then round to the printed figure.
     */
    digits: PosInt.optional(),
    source: z.string().min(1),
    note: z.string().optional(),
  });
const Published = z.discriminatedUnion('what', [published('macs', MAC_KINDS), published('params', PARAM_KINDS)]);
export type Published = z.infer<typeof Published>;

const WeightsSpec = z.strictObject({
  /** tfjs: a TensorFlow.js weights manifest and its .bin shards (suites/models/tfjs-weights.ts). */
  format: z.literal('tfjs'),
  /** The npm package that ships them (read offline from node_modules). */
  package: z.string().min(1),
  /** The manifest's path inside the package. */
  manifest: z.string().min(1),
  /** The package's licence, checked when the entry was added. */
  license: z.string().min(1),
});
export type WeightsSpec = z.infer<typeof WeightsSpec>;

const BlockDef = z.strictObject({
  /** Argument names and defaults; null: the instance must give it. */
  args: z.record(z.string(), z.unknown()).default({}),
  layers: z.array(z.unknown()).min(1),
});

const SourceSchema = z.strictObject({
  paper: z.string().min(1),
  table: z.string().min(1),
  notes: z.string().optional(),
});

/**
 * The file. `title` and `source` (the citation) are optional for the user's own file; a zoo entry must
 * have both (parseModel's `zoo` option).
 */
const FileSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'lower-case letters, digits, . _ - (it is the zoo name users type)'),
  title: z.string().min(1).optional(),
  source: SourceSchema.optional(),
  input: z.strictObject({
    name: z.string().min(1).default('data'),
    shape: Dims,
    /** The reduced resolution of --quick runs. */
    quick: Dims,
  }),
  published: z.array(Published).default([]),
  weights: WeightsSpec.optional(),
  defaults: z.strictObject({ bnEps: z.number().positive().optional() }).default({}),
  blocks: z.record(z.string(), BlockDef).default({}),
  layers: z.array(z.unknown()).min(1),
  outputs: z.array(z.string()).optional(),
});

// ---------------------------------------------------------------------------
// Layers
// ---------------------------------------------------------------------------

const IntOrPair = z.union([PosInt, z.tuple([PosInt, PosInt])]);
const PadSpec = z.union([NonNeg, z.tuple([NonNeg, NonNeg]), z.tuple([NonNeg, NonNeg, NonNeg, NonNeg]), z.literal('same')]);
const In = z.union([z.string(), z.array(z.string()).min(1)]);
const common = {
  name: z
    .string()
    .regex(/^[A-Za-z0-9_.:/-]+$/, 'letters, digits and _ . : / -')
    .optional(),
  in: In.optional(),
  /** Real weights: parameter role (w, b, scale, shift, mean, var) -> tensor name in the weights file. */
  weights: z.record(z.string(), z.string()).optional(),
};
const layer = <Op extends string, S extends z.core.$ZodLooseShape>(op: Op | readonly Op[], shape: S) =>
  z.strictObject({ op: Array.isArray(op) ? z.enum(op as [Op, ...Op[]]) : z.literal(op as Op), ...common, ...shape });
const poolShape = { kernel: IntOrPair, stride: IntOrPair.optional(), pad: PadSpec.optional(), ceil: z.boolean().optional() };

const LAYER_SCHEMAS = {
  conv: layer('conv', {
    out: PosInt.optional(),
    kernel: IntOrPair,
    stride: IntOrPair.optional(),
    pad: PadSpec.optional(),
    dilation: IntOrPair.optional(),
    groups: PosInt.optional(),
    depthwise: z.boolean().optional(),
    bias: z.boolean().optional(),
  }),
  fc: layer('fc', { out: PosInt, bias: z.boolean().optional() }),
  bias: layer('bias', {}),
  batchnorm: layer('batchnorm', { eps: z.number().positive().optional() }),
  relu: layer('relu', {}),
  relu6: layer('relu6', {}),
  maxpool: layer('maxpool', poolShape),
  avgpool: layer('avgpool', { ...poolShape, countIncludePad: z.boolean().optional() }),
  globalavgpool: layer('globalavgpool', {}),
  add: layer('add', {}),
  concat: layer('concat', {}),
  channelshuffle: layer('channelshuffle', { groups: PosInt }),
  flatten: layer('flatten', {}),
  reshape: layer('reshape', { shape: z.array(z.number().int()).min(1) }),
  softmax: layer('softmax', { axis: NonNeg.optional() }),
} as const;
type LayerOp = keyof typeof LAYER_SCHEMAS;
type Layer = z.infer<(typeof LAYER_SCHEMAS)[LayerOp]>;
const LAYER_OPS = Object.keys(LAYER_SCHEMAS) as LayerOp[];

const BlockUse = z.strictObject({
  block: z.string(),
  name: z.string().regex(/^[A-Za-z0-9_.:/{}-]+$/, 'letters, digits and _ . : / - (and {i} with repeat)'),
  in: z.string().optional(),
  repeat: PosInt.optional(),
  start: z.number().int().optional(),
  with: z.record(z.string(), z.unknown()).optional(),
});

/** Where a source (pre-expansion) layer is: its line, and the block instance it was expanded from. */
interface Origin {
  line: number | null;
  /** "layers[3]" or "blocks.bottleneck.layers[2]" */
  path: string;
  instance?: { name: string; line: number | null };
}

/** Where a parameter's real values come from. */
export interface WeightSource {
  /** Tensor name in the weights file. */
  tensor: string;
  /** How the source lays the tensor out, by the node that uses it. */
  layout: 'conv' | 'depthwise' | 'fc' | 'vector';
  line: number | null;
}

export interface ModelMeta {
  name: string;
  /** The file's title, else its name. */
  title: string;
  /** The citation: always there for a zoo entry, optional in the user's own file. */
  source?: { paper: string; table: string; notes?: string };
  published: Published[];
  weights?: WeightsSpec;
  file: string;
  /** The input shape this graph was built for, and both forms. */
  input: number[];
  fullInput: number[];
  quickInput: number[];
  quick: boolean;
}

export interface ParsedModel {
  graph: Graph;
  shapes: Shapes;
  meta: ModelMeta;
  /** Parameters with real values (init `data`), by parameter name. */
  weightSources: Map<string, WeightSource>;
}

/** The valid keys of the file's mappings, for "unknown key" messages. */
function fileKeysAt(path: readonly PropertyKey[]): { keys: readonly string[]; what: string } {
  const shapes: Record<string, z.core.$ZodLooseShape> = { '': FileSchema.shape, source: SourceSchema.shape, input: FileSchema.shape.input.shape };
  const key = path.length === 0 ? '' : path.length === 1 ? String(path[0]) : path[0] === 'published' ? 'published' : null;
  if (key === 'published') return { keys: ['what', 'value', 'counts', 'digits', 'source', 'note'], what: 'key' };
  const shape = key === null ? undefined : shapes[key];
  return { keys: shape ? Object.keys(shape) : [], what: 'key' };
}

/**
 * The layers' problems, found before anything is built so that all come at once: every top-level layer
 * against its op's schema (or the block use's), and the block templates' ops and keys (their values may
 * be "$arg" until an instance substitutes them, so they are checked when built).
 */
function layerFindings(raw: unknown, zoo: boolean): Finding[] {
  if (!isObj(raw)) return [];
  const out: Finding[] = [];
  if (zoo) {
    for (const [k, what] of [
      ['source', 'a zoo entry cites its source: add source: { paper: ..., table: ... }'],
      ['title', 'a zoo entry has a title: add title: "..."'],
    ] as const)
      if (!(k in raw)) out.push({ path: [k], at: 'value', message: what });
  }
  const check = (l: unknown, path: PropertyKey[], template: boolean) => {
    if (!isObj(l)) {
      out.push({ path, at: 'value', message: `expected a layer mapping such as { op: conv, out: 64, kernel: 3 }, got ${JSON.stringify(l)}` });
      return;
    }
    if ('block' in l && !template) {
      for (const f of issueFindings(BlockUse.safeParse(l).error, path, Object.keys(BlockUse.shape), 'block use')) out.push(f);
      return;
    }
    const op = l.op;
    if (op === undefined) {
      out.push({ path, at: 'value', message: `a layer needs op: (one of ${LAYER_OPS.join(', ')}) or block: (a template under blocks:)` });
      return;
    }
    if (typeof op !== 'string' || !(op in LAYER_SCHEMAS)) {
      out.push({ path: [...path, 'op'], at: 'value', message: `unknown op ${JSON.stringify(op)}${sugg(String(op), LAYER_OPS)}; ops: ${LAYER_OPS.join(', ')}` });
      return;
    }
    const schema = LAYER_SCHEMAS[op as LayerOp];
    const issues = issueFindings(schema.safeParse(l).error, path, Object.keys(schema.shape), op);
    out.push(...(template ? issues.filter((f) => f.at === 'key') : issues));
  };
  if (Array.isArray(raw.layers)) raw.layers.forEach((l, i) => check(l, ['layers', i], false));
  if (isObj(raw.blocks)) {
    for (const [name, def] of Object.entries(raw.blocks)) {
      if (isObj(def) && Array.isArray(def.layers)) def.layers.forEach((l, j) => check(l, ['blocks', name, 'layers', j], true));
    }
  }
  return out;
}

/** A layer's schema issues as findings: unknown keys at the key, with the valid ones; the rest at the value. */
function issueFindings(err: z.ZodError | undefined, path: PropertyKey[], valid: string[], what: string): Finding[] {
  return (err?.issues ?? []).flatMap((issue): Finding[] =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((k) => ({
          path: [...path, ...issue.path, k],
          at: 'key' as const,
          message: `unknown key "${k}"${sugg(k, valid)}; valid keys for ${what}: ${valid.join(', ')}`,
        }))
      : [{ path: [...path, ...issue.path], at: 'value' as const, message: issue.message }],
  );
}

/**
 * One model from the text of its file; `quick` builds it at the reduced resolution, `zoo` holds it to
 * the shipped zoo's rules (a title and a cited source). Every problem of the file's fields and layers is
 * reported at once, each with file:line:column (the devices.yaml way, harness/config-yaml.ts); a network
 * that does not fit together (shapes, references) stops at its first problem.
 */
export function parseModel(text: string, file: string, opts: { quick?: boolean; zoo?: boolean } = {}): ParsedModel {
  let data: z.output<typeof FileSchema>;
  try {
    data = parseYamlConfig(text, file, FileSchema, { validKeysAt: fileKeysAt, crossChecks: (raw) => layerFindings(raw, opts.zoo ?? false) }).data;
  } catch (e) {
    if (e instanceof ConfigError) throw ModelError.ofConfig(e);
    throw e;
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true, merge: true });
  const lineAt = (path: readonly (string | number)[]): number | null => {
    let node: unknown = doc.getIn(path, true);
    // a scalar or collection node has a range
    while (node && !(node as Node).range && path.length > 0) {
      path = path.slice(0, -1);
      node = doc.getIn(path, true);
    }
    const r = (node as Node | undefined)?.range;
    return r ? lc.linePos(r[0]).line : null;
  };
  const quick = opts.quick ?? false;
  const inputShape = quick ? data.input.quick : data.input.shape;
  const b = new Builder(data.name, file, data.defaults.bnEps ?? 1e-5, data.weights !== undefined);
  b.checker.input(data.input.name, inputShape);
  b.inputs.push({ name: data.input.name, shape: inputShape });
  let prev = data.input.name;
  const topScope: Scope = { prefix: '', local: new Map(), input: data.input.name, lastNamed: null };

  data.layers.forEach((rawLayer, i) => {
    const origin: Origin = { line: lineAt(['layers', i]), path: `layers[${i}]` };
    if (isObj(rawLayer) && 'block' in rawLayer) {
      const use = BlockUse.safeParse(rawLayer);
      if (!use.success) throw b.issueError(use.error, origin, rawLayer);
      const u = use.data;
      const def = data.blocks[u.block];
      if (!def) {
        const names = Object.keys(data.blocks);
        throw b.error(
          origin,
          `unknown block "${u.block}"${sugg(u.block, names)}; blocks of this file: ${names.join(', ') || 'none (define them under blocks:)'}`,
        );
      }
      const repeat = u.repeat ?? 1;
      if (repeat > 1 && !u.name.includes('{i}')) {
        throw b.error(origin, `repeat: ${repeat} needs "{i}" in the name (e.g. "${u.name}_{i}") so each instance gets its own name`);
      }
      const start = u.start ?? 1;
      for (let k = 0; k < repeat; k++) {
        const idx = start + k;
        const instName = u.name.replaceAll('{i}', String(idx));
        // `with` values may use {i} too (e.g. idx: "{i}")
        const given = substitute(b, origin, { ...u.with }, { i: idx }) as Record<string, unknown>;
        const args = bindArgs(b, origin, u.block, def.args, { ...given, i: idx });
        const blockIn = k === 0 && u.in !== undefined ? b.resolve(topScope, u.in, origin) : prev;
        const scope: Scope = { prefix: `${instName}.`, local: new Map(), input: blockIn, lastNamed: null };
        let inner = blockIn;
        def.layers.forEach((tl, j) => {
          const o: Origin = {
            line: lineAt(['blocks', u.block, 'layers', j]),
            path: `blocks.${u.block}.layers[${j}]`,
            instance: { name: instName, line: origin.line },
          };
          if (isObj(tl) && 'block' in tl) throw b.error(o, 'blocks cannot use other blocks: list the layers, or use both blocks from layers:');
          const sub = substitute(b, o, tl, args);
          inner = b.layer(sub, o, scope, inner);
        });
        topScope.local.set(instName, inner);
        prev = inner;
      }
      return;
    }
    prev = b.layer(rawLayer, origin, topScope, prev);
  });

  const outputs = (data.outputs ?? [prev]).map((o, i) => {
    const t = topScope.local.get(o) ?? (b.checker.kindOf(o) ? o : undefined);
    if (t === undefined)
      throw b.error(
        { line: lineAt(['outputs', i]), path: `outputs[${i}]` },
        `output "${o}" is not a layer of this model${sugg(o, [...topScope.local.keys()])}`,
      );
    return t;
  });
  try {
    b.checker.finish(outputs);
  } catch (e) {
    throw new ModelError((e as Error).message, file, lineAt(['outputs']), { cause: e });
  }
  const graph: Graph = { name: data.name, inputs: b.inputs, outputs, params: b.params, nodes: b.nodes };
  return {
    graph,
    shapes: b.checker.shapes,
    weightSources: b.weightSources,
    meta: {
      name: data.name,
      title: data.title ?? data.name,
      ...(data.source ? { source: data.source } : {}),
      published: data.published,
      ...(data.weights ? { weights: data.weights } : {}),
      file,
      input: inputShape,
      fullInput: data.input.shape,
      quickInput: data.input.quick,
      quick,
    },
  };
}

// ---------------------------------------------------------------------------
// Building
// ---------------------------------------------------------------------------

interface Scope {
  /** Prefix of names in this scope: "" at top level, "<instance>." in a block. */
  prefix: string;
  /** Local layer name -> tensor name. */
  local: Map<string, string>;
  /** What `in: input` means here (the graph input, or the block instance's input). */
  input: string;
  /** The last explicitly named layer of the scope (for names of unnamed layers). */
  lastNamed: string | null;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const sugg = (name: string, valid: readonly string[]) => {
  const s = didYouMean(name, valid);
  return s === undefined ? '' : ` (did you mean "${s}"?)`;
};
function fieldPath(path: readonly (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}
const pair = (v: number | [number, number]): [number, number] => (typeof v === 'number' ? [v, v] : v);

class Builder {
  readonly checker: ShapeChecker;
  readonly inputs: Graph['inputs'] = [];
  readonly params: Record<string, Param> = {};
  readonly nodes: GraphNode[] = [];
  readonly weightSources = new Map<string, WeightSource>();

  constructor(
    readonly model: string,
    readonly file: string,
    readonly bnEps: number,
    readonly hasWeights: boolean,
  ) {
    this.checker = new ShapeChecker(model);
  }

  error(o: Origin, msg: string, cause?: unknown): ModelError {
    const inst = o.instance ? ` (in block instance "${o.instance.name}" at line ${o.instance.line ?? '?'})` : '';
    return new ModelError(`${o.path}${inst}: ${msg}`, this.file, o.line, cause === undefined ? undefined : { cause });
  }

  issueError(err: z.ZodError, o: Origin, rawLayer: unknown): ModelError {
    const issue = err.issues[0]!;
    const name = isObj(rawLayer) && typeof rawLayer.name === 'string' ? ` "${rawLayer.name}"` : '';
    const field = fieldPath(issue.path.map((p) => (typeof p === 'number' ? p : String(p))));
    if (issue.code === 'unrecognized_keys') {
      const op = isObj(rawLayer) ? String(rawLayer.op ?? rawLayer.block) : '?';
      const schema = isObj(rawLayer) && 'block' in rawLayer ? BlockUse : LAYER_SCHEMAS[op as LayerOp];
      const valid = schema ? Object.keys(schema.shape) : [];
      return this.error(o, `layer${name}: unknown key "${issue.keys[0]}"${sugg(issue.keys[0]!, valid)}; valid keys for ${op}: ${valid.join(', ')}`);
    }
    return this.error(o, `layer${name}: ${field ? `${field}: ` : ''}${issue.message}`);
  }

  /** The tensor a layer reference means in `scope`. */
  resolve(scope: Scope, ref: string, o: Origin): string {
    if (ref === 'input') return scope.input;
    const local = scope.local.get(ref);
    if (local !== undefined) return local;
    if (this.checker.kindOf(ref) !== undefined && this.checker.kindOf(ref) !== 'param') return ref;
    const known = [...scope.local.keys(), 'input'];
    throw this.error(
      o,
      `in: "${ref}" is not an earlier layer${scope.prefix ? ' of this block (or "input", or a full name of an earlier layer)' : ''}${sugg(ref, known)}`,
    );
  }

  private param(node: string, role: string, shape: number[], init: Init, l: Layer, o: Origin, layout: WeightSource['layout']): string {
    const name = `${node}.${role}`;
    const src = l.weights?.[role];
    this.params[name] = { shape, init: src !== undefined ? { kind: 'data' } : init };
    if (src !== undefined) {
      if (!this.hasWeights) throw this.error(o, `weights: the layer names weights, but the file has no top-level weights: (format, package, manifest)`);
      this.weightSources.set(name, { tensor: src, layout, line: o.line });
    }
    try {
      this.checker.param(name, this.params[name]!);
    } catch (e) {
      throw this.error(o, (e as Error).message, e);
    }
    return name;
  }

  /** Add one (substituted) layer; returns its output tensor. */
  layer(rawLayer: unknown, o: Origin, scope: Scope, prev: string): string {
    if (!isObj(rawLayer)) throw this.error(o, `expected a layer mapping such as { op: conv, out: 64, kernel: 3 }, got ${JSON.stringify(rawLayer)}`);
    const op = rawLayer.op;
    if (typeof op !== 'string' || !(op in LAYER_SCHEMAS)) {
      if (op === undefined) throw this.error(o, 'a layer needs op: (one of ' + LAYER_OPS.join(', ') + ') or block: (a template under blocks:)');
      throw this.error(o, `unknown op ${JSON.stringify(op)}${sugg(String(op), LAYER_OPS)}; ops: ${LAYER_OPS.join(', ')}`);
    }
    const parsed = LAYER_SCHEMAS[op as LayerOp].safeParse(rawLayer);
    if (!parsed.success) throw this.issueError(parsed.error, o, rawLayer);
    const l = parsed.data as Layer;
    if (l.weights) {
      const roles = new Set(['w', 'b', 'scale', 'shift', 'mean', 'var']);
      for (const r of Object.keys(l.weights))
        if (!roles.has(r)) throw this.error(o, `weights: unknown role "${r}"${sugg(r, [...roles])}; roles: ${[...roles].join(', ')}`);
    }

    // Names: explicit, or after the last named layer of the scope.
    let local: string;
    if (l.name !== undefined) {
      local = l.name;
      if (scope.local.has(local)) throw this.error(o, `name "${local}" is already used by an earlier layer${scope.prefix ? ' of this block instance' : ''}`);
      scope.lastNamed = local;
    } else {
      const base = `${scope.lastNamed ?? (scope.prefix ? '' : 'layer')}${scope.lastNamed || !scope.prefix ? '.' : ''}${l.op}`;
      local = base;
      for (let k = 2; scope.local.has(local); k++) local = `${base}_${k}`;
    }
    const name = `${scope.prefix}${local}`;

    const inRefs = l.in === undefined ? [] : Array.isArray(l.in) ? l.in : [l.in];
    const inputs = inRefs.length > 0 ? inRefs.map((r) => this.resolve(scope, r, o)) : [prev];
    if ((l.op === 'add' || l.op === 'concat') && inRefs.length < 2) {
      throw this.error(o, `${l.op} needs in: [a, b${l.op === 'concat' ? ', ...' : ''}] naming the layers it ${l.op === 'add' ? 'adds' : 'joins'}`);
    }
    const xShape = this.checker.shapes.get(inputs[0]!)!;
    const params: string[] = [];
    let node: GraphNode;
    const base = { name, inputs, params, outputs: [name] as [string] };
    switch (l.op) {
      case 'conv': {
        const c = xShape[1];
        if (c === undefined || xShape.length !== 4) throw this.error(o, `conv needs an N C H W input; "${inputs[0]}" has shape [${xShape.join(', ')}]`);
        if (l.depthwise && l.groups !== undefined) throw this.error(o, 'give depthwise: true or groups:, not both');
        const groups = l.depthwise ? c : (l.groups ?? 1);
        const out = l.out ?? (l.depthwise ? c : undefined);
        if (out === undefined) throw this.error(o, 'conv needs out: (output channels), or depthwise: true');
        const [r, s] = pair(l.kernel);
        const stride = pair(l.stride ?? 1);
        const dilation = pair(l.dilation ?? 1);
        const pads = padsOf(l.pad ?? 0, xShape, [r, s], stride, dilation);
        if (c % groups !== 0 || out % groups !== 0) throw this.error(o, `input channels ${c} and out ${out} must both be divisible by groups = ${groups}`);
        const fanIn = (c / groups) * r * s;
        params.push(this.param(name, 'w', [out, c / groups, r, s], { kind: 'he', fanIn }, l, o, groups === c && groups > 1 ? 'depthwise' : 'conv'));
        if (l.bias) params.push(this.param(name, 'b', [out], { kind: 'uniform', lo: -0.1, hi: 0.1 }, l, o, 'vector'));
        node = { ...base, op: 'conv', attrs: { stride, pads, dilation, groups } };
        break;
      }
      case 'fc': {
        if (xShape.length !== 2) throw this.error(o, `fc needs an N F input (add { op: flatten } before it); "${inputs[0]}" has shape [${xShape.join(', ')}]`);
        const f = xShape[1]!;
        params.push(this.param(name, 'w', [l.out, f], { kind: 'he', fanIn: f }, l, o, 'fc'));
        if (l.bias ?? true) params.push(this.param(name, 'b', [l.out], { kind: 'uniform', lo: -0.1, hi: 0.1 }, l, o, 'vector'));
        node = { ...base, op: 'gemm', attrs: {} };
        break;
      }
      case 'bias': {
        params.push(this.param(name, 'b', [xShape[1] ?? 1], { kind: 'uniform', lo: -0.1, hi: 0.1 }, l, o, 'vector'));
        node = { ...base, op: 'bias', attrs: {} };
        break;
      }
      case 'batchnorm': {
        const c = [xShape[1] ?? 1];
        params.push(
          this.param(name, 'scale', c, { kind: 'uniform', lo: 0.5, hi: 1.5 }, l, o, 'vector'),
          this.param(name, 'shift', c, { kind: 'uniform', lo: -0.1, hi: 0.1 }, l, o, 'vector'),
          this.param(name, 'mean', c, { kind: 'bn-mean' }, l, o, 'vector'),
          this.param(name, 'var', c, { kind: 'bn-var' }, l, o, 'vector'),
        );
        // eps as float32, as ONNX and TensorFlow store it (so an ONNX round trip is exact)
        node = { ...base, op: 'batchnorm', attrs: { eps: Math.fround(l.eps ?? this.bnEps) } };
        break;
      }
      case 'maxpool':
      case 'avgpool': {
        const kernel = pair(l.kernel);
        const stride = pair(l.stride ?? l.kernel);
        const pads = padsOf(l.pad ?? 0, xShape, kernel, stride, [1, 1]);
        const ceil = l.ceil ?? false;
        node =
          l.op === 'maxpool'
            ? { ...base, op: 'maxpool', attrs: { kernel, stride, pads, ceil } }
            : { ...base, op: 'avgpool', attrs: { kernel, stride, pads, ceil, countIncludePad: l.countIncludePad ?? true } };
        break;
      }
      case 'concat':
        node = { ...base, op: 'concat', attrs: { axis: 1 } };
        break;
      case 'channelshuffle':
        node = { ...base, op: 'channelshuffle', attrs: { groups: l.groups } };
        break;
      case 'reshape':
        node = { ...base, op: 'reshape', attrs: { shape: l.shape } };
        break;
      case 'softmax':
        node = { ...base, op: 'softmax', attrs: { axis: l.axis ?? 1 } };
        break;
      case 'relu':
      case 'relu6':
      case 'globalavgpool':
      case 'add':
      case 'flatten':
        node = { ...base, op: l.op, attrs: {} };
        break;
      default: {
        const never: never = l;
        throw this.error(o, `unknown op ${JSON.stringify((never as { op: unknown }).op)}`);
      }
    }
    if (l.weights) {
      const used = new Set(params.map((p) => p.slice(name.length + 1)));
      for (const r of Object.keys(l.weights)) {
        if (!used.has(r))
          throw this.error(o, `weights: role "${r}" is not a parameter of this ${l.op} layer (its parameters: ${[...used].join(', ') || 'none'})`);
      }
    }
    try {
      this.checker.node(node, this.nodes.length);
    } catch (e) {
      if (e instanceof GraphError) throw this.error(o, e.message.replace(/^graph "[^"]*": /, ''), e);
      throw e;
    }
    this.nodes.push(node);
    scope.local.set(local, name);
    return name;
  }
}

/**
 * Pads [top, left, bottom, right] from a layer's pad: a number, [h, w],
 * [top, left, bottom, right], or `same` (TensorFlow's SAME: output = ceil(in /
 * stride), the odd pad at the bottom and right).
 */
export function padsOf(
  pad: number | [number, number] | [number, number, number, number] | 'same',
  x: readonly number[],
  kernel: [number, number],
  stride: [number, number],
  dilation: [number, number],
): [number, number, number, number] {
  if (typeof pad === 'number') return [pad, pad, pad, pad];
  if (pad === 'same') {
    const axis = (size: number, k: number, s: number, d: number): [number, number] => {
      const out = Math.ceil(size / s);
      const total = Math.max((out - 1) * s + (k - 1) * d + 1 - size, 0);
      const lo = Math.floor(total / 2);
      return [lo, total - lo];
    };
    const [t, b] = axis(x[2] ?? 1, kernel[0], stride[0], dilation[0]);
    const [l, r] = axis(x[3] ?? 1, kernel[1], stride[1], dilation[1]);
    return [t, l, b, r];
  }
  if (pad.length === 2) return [pad[0], pad[1], pad[0], pad[1]];
  return pad;
}

/** The instance's arguments: defaults, overridden by `with`; every null default must be given. */
function bindArgs(b: Builder, o: Origin, block: string, declared: Record<string, unknown>, given: Record<string, unknown>): Record<string, unknown> {
  const names = Object.keys(declared);
  for (const k of Object.keys(given)) {
    if (k !== 'i' && !(k in declared))
      throw b.error(o, `block "${block}" has no argument "${k}"${sugg(k, names)}; its arguments: ${names.join(', ') || 'none'}`);
  }
  const args: Record<string, unknown> = { ...declared, ...given };
  const missing = names.filter((k) => args[k] === null || args[k] === undefined);
  if (missing.length > 0) throw b.error(o, `block "${block}" needs with: { ${missing.map((m) => `${m}: ...`).join(', ')} }`);
  return args;
}

/** Replace "$arg" values by the argument and "{arg}" inside strings by its text, throughout a template layer. */
function substitute(b: Builder, o: Origin, v: unknown, args: Record<string, unknown>): unknown {
  if (typeof v === 'string') {
    const whole = /^\$([A-Za-z_][A-Za-z0-9_]*)$/.exec(v);
    if (whole) {
      if (!(whole[1]! in args)) throw b.error(o, `"${v}": the block has no argument "${whole[1]}"${sugg(whole[1]!, Object.keys(args))}`);
      return args[whole[1]!];
    }
    return v.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, k: string) => {
      if (!(k in args)) throw b.error(o, `"${v}": the block has no argument "${k}"${sugg(k, Object.keys(args))}`);
      return String(args[k]);
    });
  }
  if (Array.isArray(v)) return v.map((x) => substitute(b, o, x, args));
  if (isObj(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, substitute(b, o, x, args)]));
  return v;
}
