/**
 * Threaded conv variants (phase 1 of the threads work, docs/threads.md): the
 * conv suite's WebAssembly variants run on a ThreadPool (harness/runner/threads.ts)
 * whose threads share one WebAssembly memory.
 *
 * How the work is split: by blocks of output channels. Thread t gets output
 * channels [k0, k1) (groups of channels for a grouped or depthwise conv) and
 * runs the UNCHANGED single-thread kernel on that sub-problem: its own copy of
 * the layer (weights packed / Winograd-transformed for its channels only, in
 * prepare), its own scratch and workspace, reading the shared input and
 * writing its own rows of the shared output. For N > 1 images, one call per
 * image. Blocks of an ungrouped conv are multiples of the micro-kernel's MR
 * rows, so no thread computes another's padded rows.
 *
 * Why it is bit-identical to one thread: every output element is still the
 * reduction of the same products in the same order (the GEMM's KC slices over
 * the reduction, the Winograd transforms of its own tile, the same output
 * transform); nothing a thread computes depends on which other channels run
 * beside it. test/threads.test.ts checks it byte for byte on awkward shapes,
 * and that a thread computing a wrong block fails the check.
 *
 * Winograd is split by output channels too, not by tiles: each thread then
 * transforms the whole input (duplicated work: C x tiles transforms against
 * the K/N x C x tiles x alpha^2 GEMM work it keeps, a few percent at K = 256),
 * but it runs the unmodified kernel, whose padding and tile blocking assume
 * the whole image; a tile split would need a kernel entry taking a tile range.
 *
 * How a kernel call is captured: each thread's layer is built with a KernelContext
 * whose module exports record their call (module, export, arguments) instead
 * of running it, while layer.run() is called once per image in prepare; the
 * recorded programs are registered with the pool. The timed run() only
 * signals the threads. Variants that do not split this way say why (threadable()).
 */
import type { ConvShape, ConvVariant, KernelContext, LayerKernel } from '../../core/contracts.js';
import { convOutputSize } from '../../reference/conv.js';
import { GEMM_TILE, type Kernels, type SimdKernels } from '../../kernels/index.js';
import type { ProgramHandle, ThreadCall, ThreadPool, ThreadProgram } from '../../harness/runner/threads.js';

/** The kernel modules a recording context wraps (the fields of Kernels holding instances). */
const MODULES = ['scalar', 'simd', 'fft', 'winograd', 'quant', 'f16', 'relaxed', 'sparse', 'graph'] as const;

/** The variants that run threaded, and why the others do not (phase 2 reports them `skipped` with the reason). */
const THREADED = new Set([
  'conv-im2col-gemm-f32',
  'conv-depthwise-simd-f32',
  'conv-pointwise-sgemm-f32',
  'conv3x3-winograd-f2x2-f32',
  'conv3x3-winograd-f4x4-f32',
  'conv3x3-winograd-f6x6-f32',
]);

/** `true`, or why `variant` does not run on N threads. */
export function threadable(variant: ConvVariant): true | string {
  if (THREADED.has(variant.name)) return true;
  if (variant.nativeCode) return 'a native peer: its own thread pool is configured by the engine (intraOpNumThreads), not split here';
  if (variant.algorithm === 'direct') return 'the naive direct conv is the scalar correctness baseline; it stays single-threaded';
  if (variant.algorithm === 'fft') return 'the FFT conv is not split yet (its per-tile spectra would be transformed once per thread); single thread only';
  if (variant.dtype !== 'f32') return `the ${variant.dtype} variants are not split yet (phase 1 threads the f32 WebAssembly kernels); single thread only`;
  return 'not split across threads (phase 1 threads im2col, depthwise, pointwise and Winograd); single thread only';
}

/**
 * One thread's share: output channels [k0, k1) and the matching groups (g0 .. g0 + groups of the sub-shape), and
 * output columns [j0, j1) (j = oh * Wo + ow; all of them in a channel split, all channels in a column split).
 */
export interface ThreadBlock {
  thread: number;
  k0: number;
  k1: number;
  j0: number;
  j1: number;
  /** The sub-problem this thread's kernel runs (n = 1: one call per image). */
  shape: ConvShape;
  /** Offset of the block's input channels in an image, in floats (non-zero for grouped convs only). */
  xOffset: number;
}

/**
 * Splits the output channels of `shape` into `threads` blocks as even as the granularity allows:
 * groups for a grouped (or depthwise) conv, MR-row units for an ungrouped one. A thread may get no block.
 */
export function splitChannels(shape: ConvShape, threads: number): (ThreadBlock | null)[] {
  const { c, h, w, k, groups } = shape;
  const { ho, wo } = convOutputSize(shape);
  const hw = ho * wo;
  const grouped = groups > 1;
  const unit = grouped ? k / groups : GEMM_TILE.mr;
  const units = grouped ? groups : Math.ceil(k / unit);
  const out: (ThreadBlock | null)[] = [];
  let u0 = 0;
  for (let t = 0; t < threads; t++) {
    const share = Math.floor(units / threads) + (t < units % threads ? 1 : 0);
    const u1 = u0 + share;
    if (share === 0) {
      out.push(null);
      continue;
    }
    const k0 = u0 * unit;
    const k1 = Math.min(k, u1 * unit);
    const sub: ConvShape = grouped ? { ...shape, n: 1, groups: share, c: (c / groups) * share, k: k1 - k0 } : { ...shape, n: 1, k: k1 - k0 };
    out.push({ thread: t, k0, k1, j0: 0, j1: hw, shape: sub, xOffset: grouped ? u0 * (c / groups) * h * w : 0 });
    u0 = u1;
  }
  return out;
}

/**
 * Splits the output columns (pixels) of an ungrouped `shape` into `threads` blocks of whole NR-column panels,
 * every thread on all output channels. A thread may get no block.
 */
export function splitColumns(shape: ConvShape, threads: number): (ThreadBlock | null)[] {
  const { ho, wo } = convOutputSize(shape);
  const nn = ho * wo;
  const unit = GEMM_TILE.nr;
  const units = Math.ceil(nn / unit);
  const out: (ThreadBlock | null)[] = [];
  let u0 = 0;
  for (let t = 0; t < threads; t++) {
    const share = Math.floor(units / threads) + (t < units % threads ? 1 : 0);
    if (share === 0) {
      out.push(null);
      continue;
    }
    const u1 = u0 + share;
    out.push({ thread: t, k0: 0, k1: shape.k, j0: u0 * unit, j1: Math.min(nn, u1 * unit), shape: { ...shape, n: 1 }, xOffset: 0 });
    u0 = u1;
  }
  return out;
}

/** The GEMM variants that can split output columns instead of channels (one packed weight copy shared by all threads). */
const COLUMN_SPLIT = new Set(['conv-im2col-gemm-f32', 'conv-pointwise-sgemm-f32']);

/**
 * How `variant` splits `shape` over `threads`: by output columns for an ungrouped GEMM-shaped conv with at least as
 * many output pixels as output channels (a channel split would make every thread pack the whole im2col matrix,
 * Ho*Wo x C*R*S floats, while a column split makes every thread read the whole packed weights, K x C*R*S: the
 * split duplicating less wins), by output channels otherwise.
 */
export function splitWork(variant: ConvVariant, shape: ConvShape, threads: number): { by: 'columns' | 'channels'; blocks: (ThreadBlock | null)[] } {
  const { ho, wo } = convOutputSize(shape);
  if (COLUMN_SPLIT.has(variant.name) && shape.groups === 1 && ho * wo >= shape.k) return { by: 'columns', blocks: splitColumns(shape, threads) };
  return { by: 'channels', blocks: splitChannels(shape, threads) };
}

/** A kernel call recorder: a KernelContext whose exports record their call while `recording` is on. */
function recordingContext(kernels: Kernels): { ctx: KernelContext; capture(f: () => void): ThreadCall[] } {
  let calls: ThreadCall[] | null = null;
  const wrapped: Record<string, unknown> = {};
  for (const name of MODULES) {
    const mod = kernels[name] as unknown as Record<string, unknown> | null;
    if (mod === null) {
      wrapped[name] = null;
      continue;
    }
    // A plain object of wrappers (the exports object is frozen: a Proxy may not change what it returns).
    const w: Record<string, unknown> = {};
    for (const [fn, v] of Object.entries(mod)) {
      if (typeof v !== 'function') {
        w[fn] = v;
        continue;
      }
      const f = v as (...a: number[]) => unknown;
      w[fn] = (...args: number[]) => {
        if (calls === null) return f(...args);
        calls.push({ module: name, fn, args: args.map(Number) });
        return 0;
      };
    }
    wrapped[name] = w;
  }
  const simd = wrapped.simd as SimdKernels | null;
  const rec: Kernels = {
    ...kernels,
    ...(wrapped as object),
    requireSimd(who: string): SimdKernels {
      if (simd === null) return kernels.requireSimd(who);
      return simd;
    },
  } as Kernels;
  return {
    ctx: { kernels: rec },
    capture(f: () => void): ThreadCall[] {
      calls = [];
      try {
        f();
        return calls;
      } finally {
        calls = null;
      }
    },
  };
}

/** The pointwise variant's kernel as a layer (its prepare() has none): one SGEMM per group. */
function pointwiseLayer(ctx: KernelContext, shape: ConvShape, w: Float32Array): LayerKernel {
  const kern = ctx.kernels;
  const simd = kern.requireSimd('conv-pointwise-sgemm-f32');
  const { c, h, w: wd, k, groups } = shape;
  const hw = h * wd;
  const cg = c / groups;
  const kg = k / groups;
  const wp = kern.allocCopy(w).ptr;
  return {
    run(x: number, y: number, ws: number): void {
      for (let g = 0; g < groups; g++) simd.sgemm_f32(kg, hw, cg, wp + g * kg * cg * 4, cg, x + g * cg * hw * 4, hw, y + g * kg * hw * 4, hw, ws, 0);
    },
    scratchFloats: simd.sgemm_workspace_floats(),
    preparedBytes: 0,
    note: 'weights copied; the SGEMM packs its panels inside the timed run',
  };
}

function layerOf(variant: ConvVariant): (ctx: KernelContext, shape: ConvShape, w: Float32Array) => LayerKernel {
  if (variant.name === 'conv-pointwise-sgemm-f32') return pointwiseLayer;
  const layer = variant.layer;
  if (!layer) throw new Error(`threads: ${variant.name} has no layer() to split`);
  return (ctx, shape, w) => layer.call(variant, ctx, shape, w);
}

export interface ThreadedConv {
  readonly variant: string;
  readonly threads: number;
  /** Each thread's block (null: the thread has nothing to do, e.g. more threads than channel blocks). */
  readonly blocks: readonly (ThreadBlock | null)[];
  /** The registered programs (one per thread). */
  readonly handle: ProgramHandle;
  /** One execution on all threads. */
  run(): void;
  /** The output (N K Ho Wo) in the shared memory. */
  output(): Float32Array;
  /** What prepare did, for the report. */
  readonly note: string;
  /** Unregisters the programs and frees the buffers (if nothing was allocated after them). */
  dispose(): void;
}

/**
 * A column split's programs: the weights prepared ONCE (packed for im2col, copied for the pointwise SGEMM) and
 * shared by every thread; each thread's program runs the kernel on its columns [j0, j1) of every image with its
 * own workspace (conv_im2col_gemm_cols_f32; the SGEMM on column offsets of B and C with the full row strides).
 */
function columnPrograms(
  kern: Kernels,
  rec: ReturnType<typeof recordingContext>,
  variant: ConvVariant,
  shape: ConvShape,
  w: Float32Array,
): { program(b: ThreadBlock, x: number, y: number, ws: number): ThreadCall[]; wsFloats: number; note: string } {
  const { n, c, h, w: wd, k, r, s, stride, pad } = shape;
  const simd = kern.requireSimd(variant.name);
  const recSimd = rec.ctx.kernels.requireSimd(variant.name);
  const { ho, wo } = convOutputSize(shape);
  const nn = ho * wo;
  const kd = c * r * s;
  if (variant.name === 'conv-pointwise-sgemm-f32') {
    const wp = kern.allocCopy(w).ptr;
    return {
      program: (b, x, y, ws) =>
        rec.capture(() => {
          for (let i = 0; i < n; i++) {
            recSimd.sgemm_f32(k, b.j1 - b.j0, c, wp, c, x + (i * c * nn + b.j0) * 4, nn, y + (i * k * nn + b.j0) * 4, nn, ws, 0);
          }
        }),
      wsFloats: simd.sgemm_workspace_floats(),
      note: 'weights copied once and shared; the SGEMM packs its panels of its own columns inside the timed run',
    };
  }
  const packed = kern.alloc(simd.gemm_packed_a_floats(k, kd, 1));
  const rawMark = kern.mark();
  simd.pack_weights(kern.allocCopy(w).ptr, packed.ptr, k, kd, 1);
  kern.release(rawMark);
  return {
    program: (b, x, y, ws) => rec.capture(() => recSimd.conv_im2col_gemm_cols_f32(x, packed.ptr, y, ws, n, c, h, wd, k, r, s, stride, pad, 1, b.j0, b.j1)),
    wsFloats: simd.conv_im2col_gemm_workspace_floats(),
    note: `weights packed once (${packed.length * 4} bytes) and shared; each thread packs the im2col panels of its own columns`,
  };
}

/**
 * A conv layer split across the pool's threads, its kernel calls not yet recorded: the weights prepared for
 * the split (packed / transformed per thread for its channel block, or once and shared by a column split) in
 * the pool's shared memory, and `register` records and registers the calls once the input, output and scratch
 * pointers are known. prepareThreaded (one conv layer) and the models suite's networks at N threads
 * (suites/models/threaded.ts: a network's buffers live in an arena placed after every layer is built) both
 * use it: one split.
 */
export interface SplitConv {
  readonly by: 'columns' | 'channels';
  readonly blocks: readonly (ThreadBlock | null)[];
  /** Floats of scratch each thread's kernel needs (0 for a thread without a block). */
  readonly scratchFloats: readonly number[];
  /** What prepare did, for the report. */
  readonly note: string;
  /**
   * Records each thread's calls for the input at byte pointer `x` and the output at `y` (N images, NCHW, in
   * the shared memory) with thread t's scratch at `scratch[t]`, and registers them with the pool.
   */
  register(x: number, y: number, scratch: readonly number[]): ProgramHandle;
}

/** Splits `variant` on `shape` across the pool's threads (see SplitConv; splitWork decides how); throws why it cannot. */
export function splitConv(pool: ThreadPool, variant: ConvVariant, shape: ConvShape, w: Float32Array): SplitConv {
  const ok = threadable(variant);
  if (ok !== true) throw new Error(`threads: ${variant.name}: ${ok}`);
  const applies = variant.applies(shape);
  if (applies !== true) throw new Error(`threads: ${variant.name}: ${applies}`);
  const { n, c, h, w: wd, k, r, s, groups } = shape;
  const { ho, wo } = convOutputSize(shape);
  const kdPerK = (c / groups) * r * s;
  if (w.length !== k * kdPerK) throw new Error(`threads: ${variant.name}: w has ${w.length} floats, the shape needs ${k * kdPerK}`);
  const { by, blocks } = splitWork(variant, shape, pool.threads);
  const rec = recordingContext(pool.kernels);
  const columns = by === 'columns' ? columnPrograms(pool.kernels, rec, variant, shape, w) : null;
  const make = layerOf(variant);
  const layers = blocks.map((b) => (b === null || columns ? null : make(rec.ctx, b.shape, w.subarray(b.k0 * kdPerK, b.k1 * kdPerK))));
  const busy = blocks.filter((b) => b !== null).length;
  return {
    by,
    blocks,
    scratchFloats: blocks.map((b, t) => (b === null ? 0 : columns ? columns.wsFloats : (layers[t]?.scratchFloats ?? 0))),
    note:
      `${busy} of ${pool.threads} thread(s) busy, ` +
      (by === 'columns'
        ? `output columns (pixels) split in blocks of ${blocks.map((b) => (b ? b.j1 - b.j0 : 0)).join('/')}, all channels each`
        : `output channels split in blocks of ${blocks.map((b) => (b ? b.k1 - b.k0 : 0)).join('/')}`) +
      `; per thread: ${columns?.note ?? layers.find((l) => l !== null)?.note ?? ''}`,
    register(x: number, y: number, scratch: readonly number[]): ProgramHandle {
      const programs: ThreadProgram[] = blocks.map((b, t) => {
        if (b === null) return [];
        if (columns) return columns.program(b, x, y, scratch[t] ?? 0);
        const lk = layers[t]!;
        return rec.capture(() => {
          for (let i = 0; i < n; i++) lk.run(x + (i * c * h * wd + b.xOffset) * 4, y + (i * k + b.k0) * ho * wo * 4, scratch[t] ?? 0);
        });
      });
      return pool.register(programs);
    },
  };
}

/**
 * A fully-connected layer y[m x k] = x[m x f] * wT (wT, f x k, at byte pointer `wt` in the pool's memory: the light
 * runtime's transposed weights) split by output columns in NR-column blocks (splitColumns, on the layer as a
 * 1 x k "image"), as the pointwise SGEMM's column split: every thread runs the same SGEMM on its columns (B and C
 * at a column offset, the full row strides), so each output is the same reduction in the same order as on one
 * thread. Weights are shared, not copied; each thread has its own SGEMM workspace.
 */
export function splitFullyConnected(pool: ThreadPool, m: number, k: number, f: number, w: number): SplitConv {
  const rec = recordingContext(pool.kernels);
  const simd = rec.ctx.kernels.requireSimd('the fully-connected layer at N threads');
  // Output rows (the K outputs) in blocks, one per thread: each thread streams its own rows of the weights.
  const blocks = splitColumns({ n: 1, c: f, h: 1, w: k, k: 1, r: 1, s: 1, stride: 1, pad: 0, groups: 1 }, pool.threads);
  return {
    by: 'columns',
    blocks,
    scratchFloats: blocks.map(() => 0),
    note:
      `${blocks.filter((b) => b !== null).length} of ${pool.threads} thread(s) busy, output columns split in blocks of ` +
      `${blocks.map((b) => (b ? b.j1 - b.j0 : 0)).join('/')}; the weights shared, each thread reads its own rows (gemv_f32)`,
    register(x: number, y: number): ProgramHandle {
      const programs: ThreadProgram[] = blocks.map((b) => (b === null ? [] : rec.capture(() => simd.gemv_f32(m, f, x, w, y, k, b.j0, b.j1))));
      return pool.register(programs);
    },
  };
}

/**
 * Prepares `variant` on `shape` for the pool's threads: copies x, allocates y, splits the layer (splitConv),
 * gives each thread its scratch, records and registers each thread's kernel calls.
 */
export function prepareThreaded(pool: ThreadPool, variant: ConvVariant, shape: ConvShape, x: Float32Array, w: Float32Array): ThreadedConv {
  const kern = pool.kernels;
  const { n, c, h, w: wd, k } = shape;
  const { ho, wo } = convOutputSize(shape);
  if (x.length !== n * c * h * wd) throw new Error(`threads: ${variant.name}: x has ${x.length} floats, the shape needs ${n * c * h * wd}`);
  const mark = kern.mark();
  let handle: ProgramHandle;
  let yb: ReturnType<Kernels['alloc']>;
  let split: SplitConv;
  try {
    split = splitConv(pool, variant, shape, w);
    const xb = kern.allocCopy(x);
    yb = kern.alloc(n * k * ho * wo);
    const scratch = split.scratchFloats.map((f) => (f > 0 ? kern.alloc(f).ptr : 0));
    handle = split.register(xb.ptr, yb.ptr, scratch);
  } catch (e) {
    kern.release(mark);
    throw e;
  }
  const top = kern.mark();
  let disposed = false;
  const y = yb;
  return {
    variant: variant.name,
    threads: pool.threads,
    blocks: split.blocks,
    handle,
    run: () => pool.run(handle),
    output: () => y.view(),
    note: split.note,
    dispose(): void {
      if (disposed) return;
      disposed = true;
      pool.release(handle);
      if (kern.mark() === top) kern.release(mark);
    },
  };
}

/**
 * Compares two outputs bit for bit. null when identical, else where they first differ
 * (index, output channel, the two values), for the bit-identity check of threaded vs one thread.
 */
export function firstBitDifference(
  a: Float32Array,
  b: Float32Array,
  shape: ConvShape,
): { index: number; channel: number; a: number; b: number; differing: number } | null {
  if (a.length !== b.length) throw new Error(`threads: outputs of different lengths (${a.length} vs ${b.length})`);
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  const { ho, wo } = convOutputSize(shape);
  let first = -1;
  let differing = 0;
  for (let i = 0; i < ua.length; i++) {
    if (ua[i] !== ub[i]) {
      if (first < 0) first = i;
      differing++;
    }
  }
  if (first < 0) return null;
  return { index: first, channel: Math.floor(first / (ho * wo)) % shape.k, a: a[first] ?? NaN, b: b[first] ?? NaN, differing };
}
