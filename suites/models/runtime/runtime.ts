/**
 * The light runtime: runs a whole graph (harness/graph.ts) on the device.
 *
 * compileGraph() does everything once, outside any timed region: shape
 * inference, the arena plan (arena.ts: every activation in one preallocated
 * block, reused by liveness), the conv nodes bound to the chosen conv
 * variant's kernel (ConvVariant.layer(): weights packed / transformed once),
 * batch-norm statistics folded into a per-channel scale and shift, the
 * fully-connected weights transposed for the SIMD GEMM, and one scratch
 * buffer shared by the stateless kernels. An inference then allocates nothing:
 * each node is one call on arena offsets.
 *
 * Payload-safe (runs on the device).
 */
import type { ConvShape, ConvVariant, KernelContext } from '../../../core/contracts.js';
import {
  convShapeOfNode,
  copyIntoPadded,
  explicitPadConv,
  inferShapes,
  numel,
  type Graph,
  type GraphNode,
  type NodeOf,
  type Shapes,
} from '../../../core/graph.js';
import { planArena, ARENA_ALIGN, type ArenaPlan } from './arena.js';
import * as ops from './ops.js';

/**
 * Which conv variant runs a conv node: one with a layer() that applies to its
 * shape, or null for the runtime's general direct conv (e.g. unequal pads).
 * `shape` is null when the node has no ConvShape (convShapeOfNode's reason).
 */
export type ConvChooser = (node: NodeOf<'conv'>, shape: ConvShape | null, index: number) => ConvVariant | null;

/**
 * A conv or fully-connected layer the runtime runs on several threads (suites/models/threaded.ts): built at
 * compile time (weights split and packed per thread, or shared), its calls bound once the arena is placed.
 * null: the layer runs on the calling thread as usual.
 */
export interface PooledLayer {
  /** Threads the layer runs on. */
  threads: number;
  /** Floats of scratch each thread needs; the runtime gives each thread one buffer shared by all pooled layers (thread 0's is the runtime's scratch). */
  scratchFloats: readonly number[];
  /** What the layer's split is, for the layer table. */
  note: string;
  /** Binds the layer to its input and output (byte pointers) and each thread's scratch: one run of it on every thread. */
  bind(x: number, y: number, scratch: readonly number[]): () => void;
}

export interface CompileOptions {
  /** Runs a conv layer through a thread pool (its kernels over the memory of the context compiled in), or null. */
  pooledConv?: (v: ConvVariant, shape: ConvShape, w: Float32Array) => PooledLayer | null;
  /** Runs a fully-connected layer (y[m x k] = x[m x f] * w^T, w at byte pointer `w`, k x f as stored) through the pool, or null. */
  pooledGemm?: (m: number, k: number, f: number, w: number) => PooledLayer | null;
}

/** The runtime's own general conv, named like a variant in the layer table. */
export const GENERAL_CONV = 'runtime-direct-general-f32';

export interface CompiledLayer {
  index: number;
  node: string;
  op: GraphNode['op'];
  /** What runs it: a conv variant's name, GENERAL_CONV, `wasm-gemv`, `wasm-simd` (graph.wasm), `js` (the loops of ops.ts) or `view`. */
  kernel: string;
  output: string;
  /** Why the node runs the general conv, where it does; how a pooled layer is split. */
  note?: string;
  /** Threads it runs on, where more than one (a conv or FC layer through the pool: CompileOptions.pooledConv / pooledGemm). */
  threads?: number;
}

export interface CompiledGraph {
  graph: Graph;
  shapes: Shapes;
  plan: ArenaPlan;
  layers: CompiledLayer[];
  /** Bytes of parameters held by the runtime (copies, packed and transformed weights, private workspaces). */
  weightBytes: number;
  /**
   * Bytes of the shared scratch buffer (and, with pooled conv layers, the other threads' scratch buffers, and the
   * zero-bordered input copies of the convs with unequal pads).
   */
  scratchBytes: number;
  /** Copy the graph inputs into the arena (before run). */
  setInputs(inputs: ReadonlyMap<string, Float32Array>): void;
  /** One inference. */
  run(): void;
  /** One inference, `ms[i]` = milliseconds of node i (the clock read between nodes). */
  runProfiled(ms: Float64Array, now: () => number): void;
  /** One inference, calling `after(i)` once node i has run (its output is then readable with tensor()). */
  runVisiting(after: (i: number) => void): void;
  /** A copy of a tensor's current values. */
  tensor(name: string): Float32Array;
  /** A live view of a tensor in the arena (valid until something else is allocated in the memory). */
  view(name: string): Float32Array;
}

/** A compile failure names the graph and the node. */
export class RuntimeError extends Error {
  override name = 'RuntimeError';
}

export function compileGraph(
  ctx: KernelContext,
  g: Graph,
  params: ReadonlyMap<string, Float32Array>,
  choose: ConvChooser,
  opts: CompileOptions = {},
): CompiledGraph {
  const kern = ctx.kernels;
  const shapes = inferShapes(g);
  const plan = planArena(g, shapes);
  const param = (n: GraphNode, i: number): Float32Array => {
    const name = n.params[i]!;
    const p = params.get(name);
    if (!p) throw new RuntimeError(`graph "${g.name}", node "${n.name}": no values for parameter "${name}"`);
    return p;
  };
  const before = kern.bytesInUse();
  let scratchFloats = 0;
  /** Floats of the zero-bordered input copies of the convs with unequal pads (allocated with the arena). */
  let paddedFloats = 0;
  // Pooled conv layers: each thread's scratch (shared by the layers), and the bindings made once the arena is placed.
  const poolScratch: number[] = [];
  const binds: (() => void)[] = [];
  /** A pooled layer reading tensor `x` and writing `y`: its run, bound (with each thread's scratch) once the arena is placed. */
  const onPool = (p: PooledLayer, x: string, y: string, where: string): (() => void) => {
    p.scratchFloats.forEach((f, t) => (poolScratch[t] = Math.max(poolScratch[t] ?? 0, f)));
    let run: () => void = () => {
      throw new RuntimeError(`${where}: run before the arena was placed`);
    };
    binds.push(() => {
      run = p.bind(
        off(x) << 2,
        off(y) << 2,
        poolScratch.map((_, t) => (t === 0 ? scratch : threadScratch[t]!)),
      );
    });
    return () => run();
  };
  // Each node becomes a closure over arena offsets (floats); `heap` is the memory's current view.
  type Step = () => void;
  const steps: Step[] = [];
  const layers: CompiledLayer[] = [];
  let heap = new Float32Array(kern.memory.buffer);
  let scratch = 0;
  let arena = 0;
  // Offsets are resolved once the arena is allocated (after every parameter): steps read them through off().
  const off = (t: string): number => (arena + plan.tensors.get(t)!.offset) >> 2;
  const dims = (t: string): number[] => shapes.get(t)!;
  // The element-wise SIMD kernels (graph.wasm) where the runtime has WebAssembly SIMD; else the loops of ops.ts.
  const gk = kern.graph;
  const inMemory = (v: Float32Array): number => kern.allocCopy(v).ptr;
  /** y = x * a[c] + b[c] (a null: y = x + b[c]) over N x C planes of `inner`. */
  const perChannel = (a: Float32Array | null, b: Float32Array, N: number, C: number, inner: number): ((x: number, y: number) => void) => {
    if (gk) {
      const ap = a ? inMemory(a) : 0;
      const bp = inMemory(b);
      const f = gk.scale_shift_f32;
      return (x, y) => f(x << 2, y << 2, ap, bp, N, C, inner, a ? 1 : 0);
    }
    return a ? (x, y) => ops.scaleShiftOp(heap, x, y, N, C, inner, a, b) : (x, y) => ops.biasOp(heap, x, y, N, C, inner, b);
  };

  for (const [index, n] of g.nodes.entries()) {
    const out = n.outputs[0];
    const x0 = n.inputs[0]!;
    const xs = dims(x0);
    const os = dims(out);
    let kernel = 'js';
    let note: string | undefined;
    let threads: number | undefined;
    let step: Step;
    const where = `graph "${g.name}", node ${index} "${n.name}" (${n.op})`;
    try {
      switch (n.op) {
        case 'conv': {
          const cs = convShapeOfNode(n, shapes);
          // Unequal pads (TensorFlow's SAME): the kernels on the input padded explicitly, pad 0 (core/graph.ts explicitPadConv).
          const pp = cs.ok ? null : explicitPadConv(n, shapes);
          const shape = cs.ok ? cs.shape : (pp?.shape ?? null);
          const v = choose(n, shape, index);
          const w = param(n, 0);
          const b = n.params[1] ? param(n, 1) : null;
          // A padded layer runs unsplit on the calling thread (its input is not an arena tensor the pool binds).
          const pooled = v && cs.ok && v.layer && opts.pooledConv ? opts.pooledConv(v, cs.shape, w) : null;
          if (v && pooled) {
            const K = os[1]!;
            const N = os[0]!;
            kernel = v.name;
            note = pooled.note;
            threads = pooled.threads;
            const addBias = b ? perChannel(null, b, N, K, numel(os.slice(2))) : null;
            const runPooled = onPool(pooled, x0, out, where);
            // The bias (a cheap per-channel add) on the calling thread once every thread is done.
            step = addBias
              ? () => {
                  runPooled();
                  const y = off(out);
                  addBias(y, y);
                }
              : () => runPooled();
          } else if (v && shape && v.layer) {
            const lk = v.layer(ctx, shape, w);
            scratchFloats = Math.max(scratchFloats, lk.scratchFloats);
            const run = lk.run;
            const len = numel(os.slice(2));
            const K = os[1]!;
            const N = os[0]!;
            kernel = v.name;
            const addBias = b ? perChannel(null, b, N, K, len) : null;
            let input = (): number => off(x0) << 2;
            if (pp) {
              // A zero-bordered copy of the input, allocated with the arena (not a weight) and its borders zeroed
              // once; each run copies the rows in.
              const { c: C, h: hp, w: wp } = pp.shape;
              const floats = N * C * hp * wp;
              paddedFloats += floats;
              let bp = 0;
              binds.push(() => {
                const buf = kern.alloc(floats);
                buf.view().fill(0);
                bp = buf.ptr >> 2;
              });
              note = `pads [${n.attrs.pads.join(', ')}] unequal: the input copied into zero-bordered ${hp}x${wp} planes each run, the kernel on pad 0`;
              input = () => {
                copyIntoPadded(heap, off(x0), heap, bp, xs, pp.pads);
                return bp << 2;
              };
            }
            step = addBias
              ? () => {
                  const y = off(out);
                  run(input(), y << 2, scratch);
                  addBias(y, y);
                }
              : () => run(input(), off(out) << 2, scratch);
          } else {
            kernel = GENERAL_CONV;
            note = cs.ok ? `no variant chosen for this layer` : cs.reason;
            const [N, C, H, W] = xs as [number, number, number, number];
            const [K, , R, S] = dims(n.params[0]!) as [number, number, number, number];
            const geo: ops.ConvGeometry = {
              n: N,
              c: C,
              h: H,
              w: W,
              k: K,
              r: R,
              s: S,
              ho: os[2]!,
              wo: os[3]!,
              stride: n.attrs.stride,
              pads: n.attrs.pads,
              dilation: n.attrs.dilation,
              groups: n.attrs.groups,
            };
            step = () => ops.convGeneralOp(heap, off(x0), off(out), w, b, geo);
          }
          break;
        }
        case 'gemm': {
          const simd = kern.requireSimd(`${where}: the fully connected layer's GEMM`);
          const [N, Fd] = xs as [number, number];
          const K = os[1]!;
          const w = param(n, 0);
          const b = n.params[1] ? param(n, 1) : null;
          // y[N x K] = x[N x F] * w^T, w (K x F) as stored, copied once here into the kernels' memory: a
          // matrix-vector product per image that reads each weight once (gemv_f32; batch 1 is bound by the weight stream).
          const wk = kern.allocCopy(w);
          const gemv = simd.gemv_f32;
          const wtp = wk.ptr;
          kernel = 'wasm-gemv';
          const addBias = b ? perChannel(null, b, N, K, 1) : null;
          const pooled = opts.pooledGemm ? opts.pooledGemm(N, K, Fd, wtp) : null;
          if (pooled) {
            note = pooled.note;
            threads = pooled.threads;
            const runPooled = onPool(pooled, x0, out, where);
            // The bias on the calling thread once every thread is done.
            step = () => {
              runPooled();
              if (addBias) addBias(off(out), off(out));
            };
            break;
          }
          step = () => {
            const y = off(out);
            gemv(N, Fd, off(x0) << 2, wtp, y << 2, K, 0, K);
            if (addBias) addBias(y, y);
          };
          break;
        }
        case 'bias': {
          const b = param(n, 0);
          const [N, C] = xs as [number, number];
          const inner = numel(xs.slice(2));
          const f = perChannel(null, b, N, C, inner);
          if (gk) kernel = 'wasm-simd';
          step = () => f(off(x0), off(out));
          break;
        }
        case 'batchnorm': {
          const [sc, sh, mean, variance] = [0, 1, 2, 3].map((i) => param(n, i)) as [Float32Array, Float32Array, Float32Array, Float32Array];
          const C = xs[1]!;
          const a = new Float32Array(C);
          const bb = new Float32Array(C);
          for (let c = 0; c < C; c++) {
            const s = sc[c]! / Math.sqrt(variance[c]! + n.attrs.eps);
            a[c] = s;
            bb[c] = sh[c]! - mean[c]! * s;
          }
          const N = xs[0]!;
          const inner = numel(xs.slice(2));
          note = 'statistics folded into a per-channel scale and shift at compile time';
          const f = perChannel(a, bb, N, C, inner);
          if (gk) kernel = 'wasm-simd';
          step = () => f(off(x0), off(out));
          break;
        }
        case 'relu':
        case 'relu6': {
          const len = numel(xs);
          if (gk) {
            const f = n.op === 'relu' ? gk.relu_f32 : gk.relu6_f32;
            kernel = 'wasm-simd';
            step = () => f(off(x0) << 2, off(out) << 2, len);
          } else {
            const f = n.op === 'relu' ? ops.reluOp : ops.relu6Op;
            step = () => f(heap, off(x0), off(out), len);
          }
          break;
        }
        case 'maxpool':
        case 'avgpool': {
          const a = n.attrs;
          const geo: ops.PoolGeometry = {
            nc: xs[0]! * xs[1]!,
            h: xs[2]!,
            w: xs[3]!,
            ho: os[2]!,
            wo: os[3]!,
            kh: a.kernel[0],
            kw: a.kernel[1],
            sh: a.stride[0],
            sw: a.stride[1],
            pt: a.pads[0],
            pl: a.pads[1],
            pb: a.pads[2],
            pr: a.pads[3],
          };
          const cip = n.op === 'avgpool' ? n.attrs.countIncludePad : false;
          const kind = n.op === 'maxpool' ? 'max' : 'avg';
          step = () => ops.poolOp(heap, off(x0), off(out), geo, kind, cip);
          break;
        }
        case 'globalavgpool': {
          const nc = xs[0]! * xs[1]!;
          const hw = numel(xs.slice(2));
          step = () => ops.globalAvgPoolOp(heap, off(x0), off(out), nc, hw);
          break;
        }
        case 'add': {
          const x1 = n.inputs[1]!;
          const len = numel(xs);
          if (gk) {
            const f = gk.add_f32;
            kernel = 'wasm-simd';
            step = () => f(off(x0) << 2, off(x1) << 2, off(out) << 2, len);
          } else {
            step = () => ops.addOp(heap, off(x0), off(x1), off(out), len);
          }
          break;
        }
        case 'concat': {
          const N = xs[0]!;
          const inner = numel(xs.slice(2));
          const total = os[1]!;
          const inputs = n.inputs.map((t) => [t, dims(t)[1]!] as const);
          step = () =>
            ops.concatOp(
              heap,
              inputs.map(([t, c]) => [off(t), c] as const),
              off(out),
              N,
              total,
              inner,
            );
          break;
        }
        case 'channelshuffle': {
          const [N, C] = xs as [number, number];
          const hw = numel(xs.slice(2));
          const gr = n.attrs.groups;
          step = () => ops.channelShuffleOp(heap, off(x0), off(out), N, C, hw, gr);
          break;
        }
        case 'flatten':
        case 'reshape':
          // A view: the arena plan gives the output its input's bytes.
          kernel = 'view';
          step = () => {};
          break;
        case 'softmax': {
          const axis = n.attrs.axis;
          const outer = numel(xs.slice(0, axis));
          const len = xs[axis]!;
          const inner = numel(xs.slice(axis + 1));
          step = () => ops.softmaxOp(heap, off(x0), off(out), outer, len, inner);
          break;
        }
        default: {
          const never: never = n;
          throw new RuntimeError(`unknown operator ${(never as GraphNode).op}`);
        }
      }
    } catch (cause) {
      if (cause instanceof RuntimeError) throw cause;
      throw new RuntimeError(`${where}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    }
    steps.push(step);
    layers.push({ index, node: n.name, op: n.op, kernel, output: out, ...(note !== undefined ? { note } : {}), ...(threads !== undefined ? { threads } : {}) });
  }
  const weightBytes = kern.bytesInUse() - before;
  const arenaBuf = kern.allocBytes(plan.bytes, ARENA_ALIGN);
  arena = arenaBuf.ptr;
  scratchFloats = Math.max(scratchFloats, poolScratch[0] ?? 0);
  scratch = scratchFloats > 0 ? kern.alloc(scratchFloats).ptr : 0;
  const threadScratch = poolScratch.map((f, t) => (t > 0 && f > 0 ? kern.alloc(f).ptr : 0));
  for (const bind of binds) bind();
  heap = new Float32Array(kern.memory.buffer);
  const fresh = (): void => {
    // The memory grows only when something allocates after compile (a later graph): re-view it then.
    if (heap.buffer !== kern.memory.buffer) heap = new Float32Array(kern.memory.buffer);
  };
  return {
    graph: g,
    shapes,
    plan,
    layers,
    weightBytes,
    scratchBytes: (scratchFloats + paddedFloats + poolScratch.reduce((a, f, t) => a + (t > 0 ? f : 0), 0)) * 4,
    setInputs(inputs) {
      fresh();
      for (const inp of g.inputs) {
        const v = inputs.get(inp.name);
        const want = numel(inp.shape);
        if (!v || v.length !== want) {
          throw new RuntimeError(`graph "${g.name}": input "${inp.name}" needs ${want} values, got ${v ? v.length : 'none'}`);
        }
        heap.set(v, off(inp.name));
      }
    },
    run() {
      fresh();
      for (let i = 0; i < steps.length; i++) steps[i]!();
    },
    runProfiled(ms, now) {
      fresh();
      let t = now();
      for (let i = 0; i < steps.length; i++) {
        steps[i]!();
        const t1 = now();
        ms[i] = t1 - t;
        t = t1;
      }
    },
    runVisiting(after) {
      fresh();
      for (let i = 0; i < steps.length; i++) {
        steps[i]!();
        after(i);
      }
    },
    tensor(name) {
      fresh();
      const o = off(name);
      return heap.slice(o, o + numel(dims(name)));
    },
    view(name) {
      fresh();
      const o = off(name);
      return heap.subarray(o, o + numel(dims(name)));
    },
  };
}
