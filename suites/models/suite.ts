/**
 * The models suite (host side): one case per network, from the zoo
 * (suites/models/*.yaml) or the user's own files (`--model net.onnx`,
 * `--model net.yaml`). A case carries its graph and its memory estimate; a
 * network with real weights ships them with the plan item (PlanItem.weights).
 * Opt-in: `--suite models` or `--model` (whole networks take minutes, so a
 * plain `npm run bench` does not run them).
 */
import { readFileSync } from 'node:fs';
import type { CaseSpec, ConvShape, Distribution } from '../../core/contracts.js';
import { convShapeOfNode, inferShapes, type Graph } from '../../core/graph.js';
import { importOnnx } from '../../core/onnx.js';
import { graphMacs } from '../../reference/graph-cost.js';
import { estimateMemory } from './memory.js';
import { loadModelFile, loadZooModel, zooNames } from './zoo.js';

export interface ModelCaseOptions {
  quick: boolean;
  seed: number;
  distribution: Distribution;
  /** Zoo names or files (.onnx, .yaml); absent: the whole zoo. */
  models?: readonly string[] | undefined;
}

export interface BuiltModelCase {
  caseSpec: CaseSpec;
  /** Real weights to ship with the plan item (null: drawn on the device from the seed). */
  weights: ReadonlyMap<string, Float32Array> | null;
}

/** A conv shape standing for the network in conv-only views: its first conv layer's (or a 1x1 over its input). */
function stemShape(g: Graph): ConvShape {
  const shapes = inferShapes(g);
  for (const n of g.nodes) {
    const s = convShapeOfNode(n, shapes);
    if (s.ok) return s.shape;
  }
  const [n = 1, c = 1, h = 1, w = 1] = g.inputs[0]!.shape;
  return { n, c, h, w, k: c, r: 1, s: 1, stride: 1, pad: 0, groups: 1 };
}

export function buildModelCase(
  source: string,
  title: string,
  g: Graph,
  weights: ReadonlyMap<string, Float32Array> | null,
  weightsFrom: string | null,
  o: ModelCaseOptions,
): BuiltModelCase {
  const macs = graphMacs(g).total;
  const inShape = g.inputs[0]!.shape.join('x');
  return {
    caseSpec: {
      id: `models/${g.name}`,
      suite: 'models',
      layer: g.name,
      description: `${title}: ${(macs / 1e6).toFixed(0)} M multiply-adds, input ${inShape}${o.quick ? ' (--quick resolution)' : ''}`,
      graph: g,
      shape: stemShape(g),
      seed: o.seed,
      distribution: o.distribution,
      tags: ['model', ...(weights ? ['real-weights'] : [])],
      model: {
        source,
        title,
        weights: weights ? 'shipped' : 'seeded',
        weightsFrom,
        memory: estimateMemory(g),
      },
    },
    weights,
  };
}

/** A network by zoo name or file; errors name the file (and node) and say what to do. */
export function loadModelCase(spec: string, o: ModelCaseOptions): BuiltModelCase {
  if (/\.onnx$/i.test(spec)) {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(spec);
    } catch (cause) {
      throw new Error(`--model ${spec}: cannot read the file: check the path`, { cause });
    }
    const m = importOnnx(bytes, spec);
    // An ONNX file has one resolution: --quick does not change it.
    return buildModelCase(spec, m.graph.name, m.graph, m.weights, `${spec} (its initializers)`, o);
  }
  const m = /\.ya?ml$/i.test(spec) ? loadModelFile(spec, { quick: o.quick }) : loadZooModel(spec, { quick: o.quick });
  return buildModelCase(/\.ya?ml$/i.test(spec) ? spec : m.meta.name, m.meta.title, m.graph, m.weights, m.weightsFrom, o);
}

/** The suite's cases: the given models, else the whole zoo. */
export function modelCases(o: ModelCaseOptions): BuiltModelCase[] {
  return (o.models ?? zooNames()).map((s) => loadModelCase(s, o));
}
