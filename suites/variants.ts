/**
 * Runner-side view of the suites: suite name -> its variants. Bundled into the
 * payload (no fs, no YAML here; cases and parametrised variants travel in the plan).
 */
import type { AnyVariant, ConvVariant, ExtraVariant } from '../core/contracts.js';
import { winogradVariant, type WinogradVariantOptions } from './conv/variants/winograd.js';
import { allKits } from './kits.js';
import { schemeVariant } from './conv/scheme-variants.js';
import { parseScheme } from '../reference/quant-scheme.js';
import { modelQuantVariant } from './models/variants.js';
import { runPeerVariant } from './conv/peers/run.js';
import { modelPeerVariant } from './models/peers.js';
import type { PeersSource } from './conv/peers/load.js';

export const suiteVariants: ReadonlyMap<string, readonly AnyVariant[]> = new Map<string, readonly AnyVariant[]>(
  allKits.map((k): [string, readonly AnyVariant[]] => [k.name, k.variants]),
);

/** How the variants are built: test-only fault injection (harness/runner/faults.ts), and the peers part on the device. */
export interface BuildOptions {
  /** Stands in for the Cook-Toom generator of every Winograd variant (a deliberately wrong one). */
  winogradGenerator?: WinogradVariantOptions['generator'];
  /** On the device: where the peers part is (--peers); absent on the host, where nothing is loaded. */
  peers?: PeersSource | null;
}

/** Build a parametrised variant (the same factory on host and device, so the names agree). */
export function buildExtraVariant(e: ExtraVariant, opts: BuildOptions = {}): AnyVariant {
  switch (e.kind) {
    case 'winograd':
      return winogradVariant(e.m, e.points, opts.winogradGenerator ? { generator: opts.winogradGenerator } : {});
    case 'scheme': {
      const s = parseScheme(e.scheme);
      if (e.suite === 'models') {
        if (s.kind !== 'int8') throw new RangeError(`the models suite quantizes whole networks with int8 schemes only, not ${e.scheme}`);
        return modelQuantVariant(s, e.network ?? 'all');
      }
      return schemeVariant(s, e.kernel);
    }
    case 'peer':
      return e.suite === 'models' ? modelPeerVariant(e.peer, opts.peers ?? null) : runPeerVariant(e.peer, opts.peers ?? null);
  }
}

export type VariantResolver = (suite: string, name: string) => AnyVariant | undefined;

/** The suites' fixed variants, rebuilt with a stand-in generator where one is given. */
function fixedVariants(opts: BuildOptions): ReadonlyMap<string, readonly AnyVariant[]> {
  const generator = opts.winogradGenerator;
  if (!generator) return suiteVariants;
  const rebuilt = new Map(
    [2, 4, 6].map((m) => {
      const v = winogradVariant(m, undefined, { generator });
      return [v.name, v] as const;
    }),
  );
  return new Map<string, readonly AnyVariant[]>([...suiteVariants].map(([suite, vs]) => [suite, vs.map((v) => rebuilt.get(v.name) ?? v)]));
}

/** The suite's fixed variants plus the run's parametrised ones. */
export function makeResolver(extra: readonly ExtraVariant[] = [], opts: BuildOptions = {}): VariantResolver {
  const fixed = fixedVariants(opts);
  const built = extra.map((e) => ({ suite: e.suite, v: buildExtraVariant(e, opts) }));
  return (suite, name) => fixed.get(suite)?.find((v) => v.name === name) ?? built.find((b) => b.suite === suite && b.v.name === name)?.v;
}

export const findVariant: VariantResolver = makeResolver();

/** A conv variant, or undefined (no variant, or one of another kind: a whole-network variant). */
export function asConvVariant(v: AnyVariant | undefined): ConvVariant | undefined {
  return v?.op === 'conv' ? v : undefined;
}
