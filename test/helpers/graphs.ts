/** Small graphs for the graph tests: one node over given input shapes, parameters from given values. */
import type { Graph, GraphNode } from '../../core/graph.js';

type Attrs<O extends GraphNode['op']> = Extract<GraphNode, { op: O }>['attrs'];

// The op parameter documents which node the graph holds; the fields do not depend on it.
export interface OneNode<_O extends GraphNode['op']> {
  graph: Graph;
  inputs: Map<string, Float32Array | number[]>;
  params: Map<string, Float32Array | number[]>;
}

/**
 * A graph of one `op` node reading inputs x0, x1 ... (shapes `inputs`), with
 * parameters p0, p1 ... (given as [shape, values]); output y.
 */
export function oneNode<O extends GraphNode['op']>(op: O, attrs: Attrs<O>, inputs: [number[], number[]][], params: [number[], number[]][] = []): OneNode<O> {
  const names = inputs.map((_, i) => `x${i}`);
  const pnames = params.map((_, i) => `p${i}`);
  const graph: Graph = {
    name: `one-${op}`,
    inputs: inputs.map(([shape], i) => ({ name: names[i]!, shape })),
    outputs: ['y'],
    params: Object.fromEntries(params.map(([shape], i) => [pnames[i]!, { shape, init: { kind: 'data' as const } }])),
    nodes: [{ name: op, op, inputs: names, params: pnames, outputs: ['y'], attrs } as GraphNode],
  };
  return {
    graph,
    inputs: new Map(inputs.map(([, v], i) => [names[i]!, v])),
    params: new Map(params.map(([, v], i) => [pnames[i]!, v])),
  };
}

/** 1, 2, ... n */
export const iota = (n: number, from = 1): number[] => Array.from({ length: n }, (_, i) => i + from);
