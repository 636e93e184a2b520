/**
 * Runner-side view of the suites: suite name -> its variants. Bundled into the
 * payload (no fs, no YAML here; cases and parametrised variants travel in the plan).
 */
import type { ConvVariant, ExtraVariant } from '../harness/contracts.js';
import { convVariants } from './conv/variants.js';
import { winogradVariant } from './conv/variants/winograd.js';

export const suiteVariants: ReadonlyMap<string, readonly ConvVariant[]> = new Map([['conv', convVariants]]);

/** Build a parametrised variant (the same factory on host and device, so the names agree). */
export function buildExtraVariant(e: ExtraVariant): ConvVariant {
  switch (e.kind) {
    case 'winograd':
      return winogradVariant(e.m, e.points);
  }
}

export type VariantResolver = (suite: string, name: string) => ConvVariant | undefined;

/** The suite's fixed variants plus the run's parametrised ones. */
export function makeResolver(extra: readonly ExtraVariant[] = []): VariantResolver {
  const built = extra.map((e) => ({ suite: e.suite, v: buildExtraVariant(e) }));
  return (suite, name) =>
    suiteVariants.get(suite)?.find((v) => v.name === name) ?? built.find((b) => b.suite === suite && b.v.name === name)?.v;
}

export const findVariant: VariantResolver = makeResolver();
