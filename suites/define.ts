import type { AnyVariant } from '../core/contracts.js';

/** `<op>-<algorithm>[-<detail>]-<dtype>`, lower case, e.g. `conv3x3-winograd-f4x4-f32`. */
export const VARIANT_NAME = /^[a-z0-9]+(-[a-z0-9.]+)+-(f32|f16|i8|s8|u8)$/;

/**
 * A suite's explicit variant list. No glob discovery, no string registry: a
 * suite imports its variants and passes them here, which checks the names.
 */
export function defineVariants<V extends AnyVariant>(suite: string, variants: readonly V[]): readonly V[] {
  const seen = new Set<string>();
  for (const v of variants) {
    if (!VARIANT_NAME.test(v.name)) {
      throw new Error(`suite ${suite}: variant name "${v.name}" does not follow <op>-<algorithm>[-<detail>]-<dtype> (e.g. conv-im2col-gemm-f32)`);
    }
    if (!v.name.endsWith(`-${v.dtype}`)) {
      throw new Error(`suite ${suite}: variant "${v.name}" declares dtype ${v.dtype} but its name does not end in -${v.dtype}`);
    }
    if (seen.has(v.name)) throw new Error(`suite ${suite}: duplicate variant name "${v.name}"`);
    seen.add(v.name);
  }
  return Object.freeze([...variants]);
}
