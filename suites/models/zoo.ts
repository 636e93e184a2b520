/**
 * The model zoo (host side): the networks kept as data in suites/models/*.yaml,
 * read into graphs (format.ts), and, for an entry with real weights, those
 * weights read offline from the npm package that ships them (tfjs-weights.ts).
 * Everything else gets seeded He-scaled weights (reference/graph-init.ts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { didYouMean } from '../../harness/devices.js';
import { numel } from '../../core/graph.js';
import { ModelError, parseModel, type ParsedModel, type WeightsSpec } from './format.js';
import { decodeWeights, parseManifest, toGraphLayout } from './tfjs-weights.js';

export const ZOO_DIR = fileURLToPath(new URL('./', import.meta.url));

/** A zoo name that does not exist: the message lists the zoo and the closest name. */
export class UnknownModelError extends Error {
  override name = 'UnknownModelError';
}

export interface ZooModel extends ParsedModel {
  /** Real weights by parameter name (init `data`), or null when the model has none. */
  weights: Map<string, Float32Array> | null;
  /** Where the real weights came from, e.g. "@vladmandic/face-api 1.7.15 (MIT): model/ssd_...json". */
  weightsFrom: string | null;
}

/** The zoo's model names (file names without .yaml), sorted. */
export function zooNames(dir = ZOO_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -'.yaml'.length))
    .sort();
}

export interface LoadOptions {
  /** Build at the reduced --quick resolution. */
  quick?: boolean;
  /** Read the real weights of an entry that has them (default true; the analyzer needs only the graph). */
  weights?: boolean;
}

/** Read and build a model file (zoo entry or the user's own YAML), with its real weights if it has any. */
export function loadModelFile(file: string, opts: LoadOptions & { zoo?: boolean } = {}): ZooModel {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new ModelError('cannot read the model file: check the path', file, null, { cause });
  }
  const parsed = parseModel(text, file, opts);
  if (!parsed.meta.weights || opts.weights === false) return { ...parsed, weights: null, weightsFrom: null };
  const { weights, from } = loadTfjsWeights(parsed, parsed.meta.weights);
  return { ...parsed, weights, weightsFrom: from };
}

/** A zoo model by name; an unknown name throws UnknownModelError with the closest name and the list. */
export function loadZooModel(name: string, opts: LoadOptions & { dir?: string } = {}): ZooModel {
  const dir = opts.dir ?? ZOO_DIR;
  const names = zooNames(dir);
  if (!names.includes(name)) {
    const s = didYouMean(name, names);
    throw new UnknownModelError(
      `unknown model "${name}"${s ? ` (did you mean "${s}"?)` : ''}; the zoo has: ${names.join(', ')} (or give a path to an .onnx file)`,
    );
  }
  const m = loadModelFile(join(dir, `${name}.yaml`), { ...opts, zoo: true });
  if (m.meta.name !== name) {
    throw new ModelError(`name: "${m.meta.name}" differs from the file name "${name}": make them equal`, m.meta.file, null);
  }
  return m;
}

/**
 * The real weights of a model whose file has `weights: { format: tfjs, ... }`:
 * read from the npm package in node_modules (no network), dequantized, moved
 * to the graph's layouts, and checked against each parameter's shape. Throws
 * naming the parameter, the file line that maps it and the tensor.
 */
export function loadTfjsWeights(m: ParsedModel, spec: WeightsSpec): { weights: Map<string, Float32Array>; from: string } {
  const req = createRequire(import.meta.url);
  let manifestPath: string;
  let version = '?';
  try {
    manifestPath = req.resolve(`${spec.package}/${spec.manifest}`);
  } catch (cause) {
    throw new ModelError(
      `weights: ${spec.package}/${spec.manifest} is not installed: run npm ci (the package is a dependency of roofbench)`,
      m.meta.file,
      null,
      { cause },
    );
  }
  try {
    version = (JSON.parse(readFileSync(req.resolve(`${spec.package}/package.json`), 'utf8')) as { version?: string }).version ?? '?';
  } catch {
    /* a package without a readable package.json: version unknown */
  }
  let manifest;
  let shards: Uint8Array[][];
  try {
    manifest = parseManifest(JSON.parse(readFileSync(manifestPath, 'utf8')), manifestPath);
    shards = manifest.map((g) => g.paths.map((p) => new Uint8Array(readFileSync(join(dirname(manifestPath), p)))));
  } catch (cause) {
    throw new ModelError(`weights: cannot read ${manifestPath} and its shards`, m.meta.file, null, { cause });
  }
  const tensors = decodeWeights(manifest, shards, manifestPath);
  const weights = new Map<string, Float32Array>();
  for (const [param, src] of m.weightSources) {
    const where = (msg: string) => new ModelError(`weights of parameter "${param}": ${msg}`, m.meta.file, src.line);
    const t = tensors.get(src.tensor);
    if (!t) {
      const s = didYouMean(src.tensor, [...tensors.keys()]);
      throw where(`no tensor "${src.tensor}" in ${basename(manifestPath)}${s ? ` (did you mean "${s}"?)` : ''}`);
    }
    let g;
    try {
      g = toGraphLayout(t, src.layout);
    } catch (e) {
      throw where(`tensor "${src.tensor}": ${(e as Error).message}`);
    }
    const want = m.graph.params[param]!.shape;
    if (g.shape.length !== want.length || g.shape.some((d, i) => d !== want[i]) || g.values.length !== numel(want)) {
      throw where(`tensor "${src.tensor}" [${t.shape.join(', ')}] becomes [${g.shape.join(', ')}] in the graph's layout, the layer needs [${want.join(', ')}]`);
    }
    weights.set(param, g.values);
  }
  return { weights, from: `${spec.package} ${version} (${spec.license}): ${spec.manifest}` };
}
