/**
 * Defaults for a conv variant (a variant file states only what differs): `convVariant` fills in the op,
 * the dtype (from the name's last part), no runtime needs, the shape check (reference/conv.ts shapeProblem,
 * then the variant's own `cannot`), the counting rule's FLOPs and bytes at fp32 and an exact tolerance.
 * prepare(), prepareAsync() and layer() refuse, naming the variant, a shape the variant does not apply to and tensors whose
 * lengths do not match the shape, before the variant's own code runs. A variant that is a layer kernel (one
 * the light runtime of suites/models/runtime can run in place) states only `layer`: its prepare() is that
 * kernel run on copies of the case's tensors. `inArena` / `disposedTo` are the arena bookkeeping every prepare() does.
 * Payload-safe.
 */
import type { CaseData, CaseParams, ConvShape, ConvVariant, DType, KernelContext, LayerKernel, Prepared } from '../../core/contracts.js';
import type { Kernels } from '../../kernels/index.js';
import { convOutputSize, shapeProblem } from '../../reference/conv.js';
import { convBytes, convFlops } from '../../reference/cost.js';

const DTYPES: readonly DType[] = ['f32', 'f16', 'i8', 'u8'];

type Prepare = ConvVariant['prepare'];
type Layer = NonNullable<ConvVariant['layer']>;

/** What a conv variant file must state; everything in ConvVariant not listed here has a default. */
export type ConvVariantSpec = Omit<ConvVariant, 'op' | 'dtype' | 'needs' | 'applies' | 'flops' | 'bytes' | 'accuracy' | 'prepare' | 'layer'> &
  Partial<Pick<ConvVariant, 'needs' | 'flops' | 'bytes' | 'accuracy'>> & {
    /** Why the variant cannot run this valid shape (e.g. not depthwise), or null. Checked after the shape itself. */
    cannot?(shape: ConvShape, params?: CaseParams): string | null;
  } & (
    | { prepare: Prepare; layer?: Layer }
    /** A layer kernel: prepare() is the kernel run on copies of the case's tensors (preparedFromLayer). */
    | { layer: Layer; prepare?: undefined }
  );

/** A conv variant from the parts that differ from the defaults (see the module doc). */
export function convVariant(spec: ConvVariantSpec): ConvVariant {
  const { cannot, prepare: ownPrepare, layer: ownLayer, prepareAsync: ownPrepareAsync, ...rest } = spec;
  const { name } = spec;
  const last = name.split('-').pop() ?? '';
  const dtype = DTYPES.find((d) => d === last);
  if (dtype === undefined) throw new Error(`convVariant: "${name}" does not end in a dtype (${DTYPES.join(', ')})`);
  const applies = (shape: ConvShape, params?: CaseParams): true | string => shapeProblem(shape) ?? cannot?.(shape, params) ?? true;
  /** The checks every prepare() and layer() starts with. */
  const refuse = (shape: ConvShape, x: Float32Array | null, w: Float32Array): void => {
    const ok = applies(shape);
    if (ok !== true) throw new Error(`${name}: ${ok}`);
    checkTensors(name, shape, x, w);
  };
  const layer: Layer | undefined = ownLayer
    ? (ctx, shape, w) => {
        refuse(shape, null, w);
        return ownLayer(ctx, shape, w);
      }
    : undefined;
  const prepare: Prepare = ownPrepare
    ? (ctx, shape, x, w, data?: CaseData) => {
        refuse(shape, x, w);
        return ownPrepare(ctx, shape, x, w, data);
      }
    : (ctx, shape, x, w) => {
        refuse(shape, x, w);
        // The spec's type requires prepare or layer: here, layer (already checked by refuse()).
        return preparedFromLayer(ctx, shape, x, w, ownLayer!);
      };
  const prepareAsync: ConvVariant['prepareAsync'] = ownPrepareAsync
    ? async (ctx, shape, x, w, data?: CaseData) => {
        refuse(shape, x, w);
        return ownPrepareAsync(ctx, shape, x, w, data);
      }
    : undefined;
  return {
    op: 'conv',
    dtype,
    needs: {},
    flops: (s) => convFlops(s),
    bytes: (s) => convBytes(s),
    accuracy: { kind: 'exact' },
    ...rest,
    applies,
    prepare,
    ...(layer ? { layer } : {}),
    ...(prepareAsync ? { prepareAsync } : {}),
  };
}

/**
 * Refuse tensors whose lengths do not match the shape (input NCHW, weights KCRS with C per group), naming
 * the variant. `x` null: the weights only (a layer kernel gets its input later).
 */
export function checkTensors(name: string, shape: ConvShape, x: Float32Array | null, w: Float32Array): void {
  const xLen = shape.n * shape.c * shape.h * shape.w;
  const wLen = shape.k * (shape.c / shape.groups) * shape.r * shape.s;
  if (x !== null && x.length !== xLen) throw new Error(`${name}: x has ${x.length} floats, the shape needs ${xLen}`);
  if (w.length !== wLen) throw new Error(`${name}: w has ${w.length} floats, the shape needs ${wLen}`);
}

/**
 * Allocate a prepared variant in the kernels' LIFO arena: what `build` allocates is given back by dispose()
 * if nothing was allocated after it (else the runner's reset() does). dispose() may be called more than once.
 */
export function inArena(kern: Kernels, build: () => Omit<Prepared, 'dispose'>): Prepared {
  const mark = kern.mark();
  return disposedTo(kern, mark, build());
}

/**
 * A prepared variant whose buffers were allocated since the arena's `mark` (taken before the first of them):
 * its dispose() releases them if nothing was allocated after them (else the runner's reset() does). Call it
 * once everything is allocated. dispose() may be called more than once.
 */
export function disposedTo(kern: Kernels, mark: number, p: Omit<Prepared, 'dispose'>): Prepared {
  const top = kern.mark();
  let disposed = false;
  return {
    ...p,
    dispose(): void {
      if (disposed) return;
      disposed = true;
      if (kern.mark() === top) kern.release(mark);
    },
  };
}

/**
 * prepare() of a layer kernel: the same kernel, bound to the layer's weights, run on copies of the case's
 * input (the light runtime runs it on tensors in its arena instead): the layer, then x copied, y and the
 * kernel's scratch allocated above it.
 */
function preparedFromLayer(ctx: KernelContext, shape: ConvShape, x: Float32Array, w: Float32Array, layer: Layer): Prepared {
  const kern = ctx.kernels;
  return inArena(kern, () => {
    const lk: LayerKernel = layer(ctx, shape, w);
    const { ho, wo } = convOutputSize(shape);
    const xb = kern.allocCopy(x);
    const yb = kern.alloc(shape.n * shape.k * ho * wo);
    const scratch = lk.scratchFloats > 0 ? kern.alloc(lk.scratchFloats).ptr : 0;
    const run = lk.run;
    const xp = xb.ptr;
    const yp = yb.ptr;
    return {
      run(): void {
        run(xp, yp, scratch);
      },
      output: () => yb.view(),
      preparedBytes: lk.preparedBytes,
      prepareNote: lk.note,
    };
  });
}
