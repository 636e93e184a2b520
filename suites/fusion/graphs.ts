/**
 * The unfused graphs (core/graph.ts) of the fusion pairs: the float64 reference of each pair is
 * reference/graph.ts's evaluation of these, and phase 2 registers them as graph cases. Parameters are
 * `data` (the caller supplies their values). Payload-safe.
 */
import { parseGraph, type Graph, type GraphNode } from '../../core/graph.js';
import { convOut, type Activation, type ConvEpiSpec, type DwPwSpec } from './ops.js';

const data = (shape: number[]) => ({ shape, init: { kind: 'data' as const } });
const convAttrs = (stride: number, pad: number, groups = 1) => ({
  stride: [stride, stride] as [number, number],
  pads: [pad, pad, pad, pad] as [number, number, number, number],
  dilation: [1, 1] as [number, number],
  groups,
});

function actNode(act: Activation, input: string, output: string): GraphNode[] {
  return act === 'none' ? [] : [{ op: act, name: act, inputs: [input], params: [], outputs: [output], attrs: {} }];
}

/** conv(w, b) [+ res] [-> relu|relu6]: inputs x (and res), output y. */
export function convEpiGraph(s: ConvEpiSpec): Graph {
  const ho = convOut(s.h, s.r, s.stride, s.pad);
  const wo = convOut(s.w, s.r, s.stride, s.pad);
  const nodes: GraphNode[] = [
    { op: 'conv', name: 'conv', inputs: ['x'], params: ['w', 'b'], outputs: [s.residual || s.act !== 'none' ? 'c' : 'y'], attrs: convAttrs(s.stride, s.pad) },
  ];
  const pre = s.act === 'none' ? 'y' : 'a';
  if (s.residual) nodes.push({ op: 'add', name: 'add', inputs: ['c', 'res'], params: [], outputs: [pre], attrs: {} });
  nodes.push(...actNode(s.act, s.residual ? 'a' : 'c', 'y'));
  return parseGraph({
    name: `conv${s.r}x${s.r}-bias${s.residual ? '-add' : ''}-${s.act}`,
    inputs: [{ name: 'x', shape: [1, s.c, s.h, s.w] }, ...(s.residual ? [{ name: 'res', shape: [1, s.k, ho, wo] }] : [])],
    outputs: ['y'],
    params: { w: data([s.k, s.c, s.r, s.r]), b: data([s.k]) },
    nodes,
  });
}

/** conv(w) -> batchnorm(scale, shift, mean, var) [-> act]. */
export function convBnGraph(s: Omit<ConvEpiSpec, 'residual'>, eps: number): Graph {
  return parseGraph({
    name: `conv${s.r}x${s.r}-bn-${s.act}`,
    inputs: [{ name: 'x', shape: [1, s.c, s.h, s.w] }],
    outputs: ['y'],
    params: { w: data([s.k, s.c, s.r, s.r]), scale: data([s.k]), shift: data([s.k]), mean: data([s.k]), var: data([s.k]) },
    nodes: [
      { op: 'conv', name: 'conv', inputs: ['x'], params: ['w'], outputs: ['c'], attrs: convAttrs(s.stride, s.pad) },
      { op: 'batchnorm', name: 'bn', inputs: ['c'], params: ['scale', 'shift', 'mean', 'var'], outputs: [s.act === 'none' ? 'y' : 'n'], attrs: { eps } },
      ...actNode(s.act, 'n', 'y'),
    ],
  });
}

/** depthwise 3x3 (dw, dwb) -> act -> pointwise 1x1 (pw, pwb) -> act: outputs d (the depthwise layer's) and y. */
export function dwPwGraph(s: Omit<DwPwSpec, 'rows'>): Graph {
  return parseGraph({
    name: `dw3x3s${s.stride}-pw-${s.act}`,
    inputs: [{ name: 'x', shape: [1, s.c, s.h, s.w] }],
    outputs: ['y'],
    params: { dw: data([s.c, 1, 3, 3]), dwb: data([s.c]), pw: data([s.k, s.c, 1, 1]), pwb: data([s.k]) },
    nodes: [
      { op: 'conv', name: 'dw', inputs: ['x'], params: ['dw', 'dwb'], outputs: [s.act === 'none' ? 'd' : 'dc'], attrs: convAttrs(s.stride, 1, s.c) },
      ...(s.act === 'none' ? [] : [{ op: s.act, name: 'dwact', inputs: ['dc'], params: [], outputs: ['d'], attrs: {} } as GraphNode]),
      { op: 'conv', name: 'pw', inputs: ['d'], params: ['pw', 'pwb'], outputs: [s.act === 'none' ? 'y' : 'pc'], attrs: convAttrs(1, 0) },
      ...actNode(s.act, 'pc', 'y'),
    ],
  });
}
