/**
 * npm run analyze: the roofline analysis of whole networks, no device needed.
 *
 *   npm run analyze -- --model mobilenet_v1[,vgg16,...|all|path/to/net.onnx|path/to/net.yaml] [--device rpi3] [--out DIR] [--json]
 *   npm run analyze -- --chain vgg16:conv3_1..conv3_3 [--device rpi3] [--json]
 *
 * Prints a summary and writes a self-contained HTML report (and analysis.json).
 * Exit codes: 0 done, 2 bad usage or input (unknown model or device, a file
 * that is not ONNX, unsupported operators ...), 1 anything else.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { parseArgs } from '../suggest.js';
import { ConfigError, didYouMean, loadDevices } from '../devices.js';
import { GraphError } from '../../core/graph.js';
import { historyReadError } from '../history/newest.js';
import { historyPath } from '../history/store.js';
import { ImportError, importOnnx } from '../../core/onnx.js';
import { ROOT } from '../payload.js';
import { ModelError } from '../../suites/models/format.js';
import { loadModelFile, loadZooModel, UnknownModelError, zooNames } from '../../suites/models/zoo.js';
import { CeilingsError, resolveCeilings } from './ceilings.js';
import { analyzeChain, ChainError, chainFromGraph, chainText, deviceCaches, parseChainSpec } from './chains.js';
import { analyze, type ModelInput } from './model.js';
import { analysisText, writeAnalysis } from './render.js';

const HELP = `roofbench analyze: where whole networks sit on a device's roofline (no device needed)

usage:
  npm run analyze -- --model NAME[,NAME...] [options]

  --model M[,M...]   zoo names (${'`'}all${'`'} for the whole zoo), .onnx files or zoo-format .yaml files;
                     repeatable. The zoo: suites/models/*.yaml
  --device NAME      predict with this device's ceilings: measured in its latest run in the
                     history when there is one, else its profile in devices.yaml; a profile
                     name works too (default: local's measured ceilings, else the rpi3 profile)
  --devices FILE     the device registry (default: devices.yaml in the repository)
  --history FILE     the history store to read measured ceilings from (default reports/history.sqlite,
                     or $ROOFBENCH_HISTORY); opened read-only
  --chain M:A..B     the modeled memory traffic of the conv chain from node A to node B of model M
                     (e.g. vgg16:conv3_1..conv3_3), layer by layer and tile by tile, against the
                     device's cache sizes (docs/tiling.md); repeatable; --model is then optional
  --quick            the networks at their reduced --quick resolution
  --out DIR          where to write index.html and analysis.json (default reports/analyze/<models>)
  --json             print the analysis as JSON instead of the summary
  -h, --help         this text

exit codes: 0 done, 2 bad usage or input, 1 anything else
`;

class Usage extends Error {}

function slug(names: string[]): string {
  const s = names.join('+').replace(/[^A-Za-z0-9._+-]+/g, '_');
  return s.length > 80 ? `${s.slice(0, 72)}-${names.length}models` : s;
}

function loadModel(spec: string, quick: boolean): ModelInput {
  const looksLikeFile = /[/\\]/.test(spec) || ['.onnx', '.yaml', '.yml', '.pb'].includes(extname(spec).toLowerCase());
  if (!looksLikeFile) {
    const m = loadZooModel(spec, { quick, weights: false });
    return {
      graph: m.graph,
      shapes: m.shapes,
      name: m.meta.name,
      title: m.meta.title,
      origin: `zoo: suites/models/${basename(m.meta.file)}`,
      source: m.meta.source ? `${m.meta.source.paper}; ${m.meta.source.table}` : null,
      quick,
      weightsNote: m.meta.weights
        ? `trained weights from ${m.meta.weights.package} (${m.meta.weights.license})`
        : 'seeded He-scaled (the analysis needs only the shapes)',
    };
  }
  const file = resolve(spec);
  if (!existsSync(file)) throw new Usage(`--model ${spec}: no such file (${file})`);
  const ext = extname(file).toLowerCase();
  if (ext === '.yaml' || ext === '.yml') {
    const m = loadModelFile(file, { quick, weights: false });
    return {
      graph: m.graph,
      shapes: m.shapes,
      name: m.meta.name,
      title: m.meta.title,
      origin: `model file ${spec}`,
      source: m.meta.source?.paper ?? null,
      quick,
      weightsNote: null,
    };
  }
  if (quick) process.stderr.write(`note: --quick does not apply to ${spec} (an ONNX file has the input size it was exported with)\n`);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(file));
  } catch (cause) {
    throw new Usage(`--model ${spec}: cannot read the file (${(cause as Error).message})`);
  }
  const m = importOnnx(bytes, spec);
  return {
    graph: m.graph,
    shapes: m.shapes,
    name: basename(file).replace(/\.onnx$/i, ''),
    title: m.graph.name,
    origin: `ONNX file ${spec} (opset ${m.opset}${m.producer ? `, from ${m.producer}` : ''})`,
    source: null,
    quick: false,
    weightsNote: `the file's own (${m.weights.size} tensors)`,
  };
}

/**
 * The history store to read measured ceilings and caches from: a file there that is not a roofbench history
 * (a typo'd path, a results.json) is an error, not a silent fall-back to the profile.
 */
function readableHistory(given: string | undefined): string {
  const file = historyPath(given ?? null);
  const error = historyReadError(file);
  if (error) {
    const what = given !== undefined ? `--history ${given}` : `the default history store (${file})`;
    throw new CeilingsError(
      `${what}: ${error}. analyze reads a device's measured ceilings from the history.sqlite that npm run bench writes${given !== undefined ? ' (leave --history out for reports/history.sqlite)' : ''}`,
    );
  }
  return file;
}

/** --chain: each chain's modeled traffic against the device's caches, as text or JSON (no report file). */
function analyzeChains(specs: string[], values: { devices?: string; history?: string; device?: string; quick: boolean; json: boolean }): number {
  const registry = loadDevices(values.devices ?? join(ROOT, 'devices.yaml'));
  const device = values.device ?? 'local';
  if (!registry.devices.has(device) && !registry.profiles.has(device)) {
    const hint = didYouMean(device, [...registry.devices.keys(), ...registry.profiles.keys()]);
    throw new CeilingsError(
      `unknown device "${device}"${hint ? ` (did you mean "${hint}"?)` : ''}: devices ${[...registry.devices.keys()].join(', ')}; profiles ${[...registry.profiles.keys()].join(', ')}`,
    );
  }
  const { caches, source } = deviceCaches(registry, readableHistory(values.history), device);
  const analyses = specs.map((spec) => {
    const { model, first, last } = parseChainSpec(spec);
    const m = loadZooModel(model, { quick: values.quick, weights: false });
    const { chain, fused } = chainFromGraph(m.graph, m.shapes, first, last, spec);
    return analyzeChain(spec, chain, fused, caches, `${source}; device ${device}`);
  });
  process.stdout.write(values.json ? `${JSON.stringify(analyses)}\n` : `${analyses.map(chainText).join('\n\n')}\n`);
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        model: { type: 'string', multiple: true },
        chain: { type: 'string', multiple: true },
        device: { type: 'string' },
        devices: { type: 'string' },
        history: { type: 'string' },
        quick: { type: 'boolean', default: false },
        out: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (e) {
    process.stderr.write(`error: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  try {
    const specs = (values.model ?? [])
      .flatMap((m) => m.split(','))
      .map((s) => s.trim())
      .filter(Boolean);
    const chains = values.chain ?? [];
    if (specs.length === 0 && chains.length === 0) {
      throw new Usage(`--model is required: a zoo name (${zooNames().join(', ')}), all, or a path to an .onnx file (or --chain MODEL:FIRST..LAST)`);
    }
    if (specs.length === 0) return analyzeChains(chains, values);
    if (chains.length > 0) throw new Usage('--chain and --model are separate analyses: run them one at a time');
    const expanded = specs.flatMap((s) => (s === 'all' ? zooNames() : [s]));
    const models = expanded.map((s) => loadModel(s, values.quick));
    const registry = loadDevices(values.devices ?? join(ROOT, 'devices.yaml'));
    const ceilings = resolveCeilings(registry, readableHistory(values.history), values.device);
    const a = analyze(models, ceilings);
    const out = resolve(values.out ?? join(ROOT, 'reports', 'analyze', specs.length === 1 && specs[0] === 'all' ? 'zoo' : slug(models.map((m) => m.name))));
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version?: string }).version ?? '?';
    const file = await writeAnalysis(a, out, { generator: `roofbench ${version} analyze` });
    if (values.json) {
      process.stdout.write(`${JSON.stringify(a)}\n`);
      process.stderr.write(`report: ${file}\n`);
    } else {
      process.stdout.write(`${analysisText(a)}\nreport: ${file}\n`);
    }
    return 0;
  } catch (e) {
    if (
      e instanceof Usage ||
      e instanceof UnknownModelError ||
      e instanceof ModelError ||
      e instanceof ImportError ||
      e instanceof GraphError ||
      e instanceof CeilingsError ||
      e instanceof ChainError ||
      e instanceof ConfigError
    ) {
      process.stderr.write(`error: ${e.message}\n`);
      return 2;
    }
    process.stderr.write(`error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 1;
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '')) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (e: unknown) => {
      process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
