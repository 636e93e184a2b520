/**
 * Defaults for a conv variant (a variant file states only what differs): `convVariant` fills in the op,
 * the dtype (from the name's last part), no runtime needs, the shape check (reference/conv.ts shapeProblem,
 * then the variant's own `cannot`), the counting rule's FLOPs and bytes at fp32 and an exact tolerance.
 * `checkTensors` and `inArena` are the two things every prepare() does. Payload-safe.
 */
import type { CaseParams, ConvShape, ConvVariant, DType, Prepared } from '../../core/contracts.js';
import type { Kernels } from '../../kernels/index.js';
import { shapeProblem } from '../../reference/conv.js';
import { convBytes, convFlops } from '../../reference/cost.js';

const DTYPES: readonly DType[] = ['f32', 'f16', 'i8', 'u8'];

/** What a conv variant file must state; everything in ConvVariant not listed here has a default. */
export type ConvVariantSpec = Omit<ConvVariant, 'op' | 'dtype' | 'needs' | 'applies' | 'flops' | 'bytes' | 'accuracy'> &
  Partial<Pick<ConvVariant, 'needs' | 'flops' | 'bytes' | 'accuracy'>> & {
    /** Why the variant cannot run this valid shape (e.g. not depthwise), or null. Checked after the shape itself. */
    cannot?(shape: ConvShape, params?: CaseParams): string | null;
  };

/** A conv variant from the parts that differ from the defaults (see the module doc). */
export function convVariant(spec: ConvVariantSpec): ConvVariant {
  const { cannot, ...rest } = spec;
  const last = spec.name.split('-').pop() ?? '';
  const dtype = DTYPES.find((d) => d === last);
  if (dtype === undefined) throw new Error(`convVariant: "${spec.name}" does not end in a dtype (${DTYPES.join(', ')})`);
  return {
    op: 'conv',
    dtype,
    needs: {},
    flops: (s) => convFlops(s),
    bytes: (s) => convBytes(s),
    accuracy: { kind: 'exact' },
    ...rest,
    applies: (shape, params) => shapeProblem(shape) ?? cannot?.(shape, params) ?? true,
  };
}

/** Refuse tensors whose lengths do not match the shape (input NCHW, weights KCRS with C per group), naming the variant. */
export function checkTensors(
  name: string,
  shape: ConvShape,
  x: Float32Array,
  w: Float32Array,
  wLen = shape.k * (shape.c / shape.groups) * shape.r * shape.s,
): void {
  const xLen = shape.n * shape.c * shape.h * shape.w;
  if (x.length !== xLen) throw new Error(`${name}: x has ${x.length} floats, the shape needs ${xLen}`);
  if (w.length !== wLen) throw new Error(`${name}: w has ${w.length} floats, the shape needs ${wLen}`);
}

/**
 * Allocate a prepared variant in the kernels' LIFO arena: what `build` allocates is given back by dispose()
 * if nothing was allocated after it (else the runner's reset() does). dispose() may be called more than once.
 */
export function inArena(kern: Kernels, build: () => Omit<Prepared, 'dispose'>): Prepared {
  const mark = kern.mark();
  const p = build();
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
