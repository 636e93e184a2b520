/**
 * Seeded parameters and inputs of a graph (pure, payload-safe).
 *
 * Each parameter is drawn from its own stream, seeded by the run's seed and the
 * parameter's name (FNV-1a 32 of "<seed>/<name>"), so adding or renaming one
 * parameter leaves the others' bytes unchanged, and the same seed gives the
 * same bytes on every platform (reference/random.ts's generator). By `init`:
 *
 * - he {fanIn}: He-normal with a per-output-channel spread (fillHe: s_k uniform
 *   in [0.5, 1.5) per index of axis 0, then normal * sqrt(2 / fanIn) * s_k), as
 *   makeConvInputs draws conv weights;
 * - zeros, ones; uniform {lo, hi}: uniform in [lo, hi);
 * - bn-mean: normal * 0.1; bn-var: uniform in [0.5, 1.5) (positive, near 1, so
 *   a batch norm keeps activations at their scale);
 * - data: not drawn: the caller supplies it (ONNX initializers, trained weights).
 *
 * Graph inputs come from the case distributions (fillDistribution), one stream
 * per input, seeded like parameters.
 */
import type { Distribution } from '../core/contracts.js';
import { numel, type Graph, type Param } from '../core/graph.js';
import { fillDistribution, fillHe, makeRng } from './random.js';

/** FNV-1a 32 of the UTF-16 code units of `s`. */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** The seed of the stream of tensor `name` under run seed `seed`. */
export function tensorSeed(seed: number, name: string): number {
  if (!Number.isSafeInteger(seed)) throw new Error(`tensorSeed: seed must be a safe integer, got ${seed}`);
  return fnv1a32(`${seed}/${name}`);
}

/** One parameter's values by its init (throws for `data`: the caller supplies those). */
export function makeParam(name: string, p: Param, seed: number): Float32Array {
  const a = new Float32Array(numel(p.shape));
  const init = p.init;
  const rng = makeRng(tensorSeed(seed, name));
  switch (init.kind) {
    case 'he':
      fillHe(a, p.shape[0]!, init.fanIn, rng);
      break;
    case 'zeros':
      break;
    case 'ones':
      a.fill(1);
      break;
    case 'uniform': {
      const span = init.hi - init.lo;
      for (let i = 0; i < a.length; i++) a[i] = init.lo + rng.next() * span;
      break;
    }
    case 'bn-mean':
      for (let i = 0; i < a.length; i++) a[i] = rng.normal() * 0.1;
      break;
    case 'bn-var':
      for (let i = 0; i < a.length; i++) a[i] = 0.5 + rng.next();
      break;
    case 'data':
      throw new Error(`parameter "${name}" has init "data": its values come with the graph, they cannot be drawn`);
    default: {
      const never: never = init;
      throw new Error(`parameter "${name}": unknown init ${JSON.stringify(never)}`);
    }
  }
  return a;
}

/**
 * Every parameter of `g`: drawn from `seed` by its init, or, for `data`
 * parameters, taken from `data` (checked for presence and length). Data given
 * for a drawn parameter replaces it too (e.g. real weights for a seeded graph).
 */
export function makeGraphParams(g: Graph, seed: number, data?: ReadonlyMap<string, Float32Array>): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  const missing: string[] = [];
  for (const [name, p] of Object.entries(g.params)) {
    const given = data?.get(name);
    if (given) {
      const want = numel(p.shape);
      if (given.length !== want) {
        throw new Error(`graph "${g.name}": parameter "${name}" has ${given.length} values, its shape [${p.shape.join(', ')}] needs ${want}`);
      }
      out.set(name, given);
    } else if (p.init.kind === 'data') {
      missing.push(name);
    } else {
      out.set(name, makeParam(name, p, seed));
    }
  }
  if (missing.length > 0) {
    throw new Error(
      `graph "${g.name}": ${missing.length} parameter(s) need data that was not given: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ' ...' : ''}`,
    );
  }
  return out;
}

/** Every graph input of `g`, drawn from `dist`, one seeded stream per input. */
export function makeGraphInputs(g: Graph, seed: number, dist: Distribution): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const inp of g.inputs) {
    const x = new Float32Array(numel(inp.shape));
    fillDistribution(x, makeRng(tensorSeed(seed, `input:${inp.name}`)), dist);
    out.set(inp.name, x);
  }
  return out;
}
