/**
 * Runner-side view of the suites: suite name -> its variants. Bundled into the
 * payload (no fs, no YAML here; cases travel in the plan).
 */
import type { ConvVariant } from '../harness/contracts.js';
import { convVariants } from './conv/variants.js';

export const suiteVariants: ReadonlyMap<string, readonly ConvVariant[]> = new Map([['conv', convVariants]]);

export function findVariant(suite: string, name: string): ConvVariant | undefined {
  return suiteVariants.get(suite)?.find((v) => v.name === name);
}
