/**
 * The conformance check behind test/conformance.test.ts: every variant of every registered suite kit
 * (suites/kits.ts) on each of its kit's awkward shapes, through the runner's own prepare-and-check policy
 * (harness/runner/check.ts), against the float64 reference with the tolerance the variant declares.
 */
import { CaseSpec, type ConvVariant, type RuntimeFeatures } from '../../core/contracts.js';
import type { Kernels } from '../../kernels/index.js';
import { prepareAndCheck } from '../../harness/runner/check.js';
import { skipReason } from '../../harness/runner/measure.js';
import type { SuiteKit } from '../../suites/kit.js';

export interface ConformanceOutcome {
  suite: string;
  variant: string;
  shape: string;
  /**
   * passed; failed (errored, or outside its declared tolerance: `detail` says which); skipped (`detail`: why);
   * nonportable: it ran but declared its output implementation-defined on these tensors (relaxed SIMD lanes),
   * so its kernel check does not apply (`detail`: the declaration, then the check).
   */
  state: 'passed' | 'failed' | 'skipped' | 'nonportable';
  detail: string;
}

/** Run the conformance check over `kits` (only the variants `which` keeps), each variant's prepared state disposed. */
export async function runConformance(
  kits: readonly SuiteKit[],
  kernels: Kernels,
  features: RuntimeFeatures,
  which: (v: ConvVariant) => boolean = () => true,
): Promise<ConformanceOutcome[]> {
  const out: ConformanceOutcome[] = [];
  for (const kit of kits) {
    for (const [i, { why, shape, sparsity }] of kit.conformance.entries()) {
      const c: CaseSpec = CaseSpec.parse({
        id: `${kit.name}/conformance.${i}`,
        suite: kit.name,
        layer: `conformance.${i}`,
        description: why,
        shape,
        seed: 1000 + i,
        distribution: 'uniform(-1,1)',
        tags: [],
        ...(sparsity ? { sparsity } : {}),
      });
      const tensors = kit.caseTensors(c);
      for (const v of kit.variants.filter(which)) {
        const at = { suite: kit.name, variant: v.name, shape: why };
        const skip = skipReason(v, c, features);
        if (skip !== null) {
          out.push({ ...at, state: 'skipped', detail: skip });
          continue;
        }
        kernels.reset();
        const r = await prepareAndCheck(v, c, tensors, { ctx: { kernels } });
        if (!r.ok) {
          out.push({ ...at, state: 'failed', detail: `errored in ${r.phase}: ${r.error}` });
          continue;
        }
        const { prepared, tolerance: t } = r.active;
        prepared.dispose();
        if (t.ok) out.push({ ...at, state: 'passed', detail: t.source });
        else if (prepared.nonPortable !== undefined) out.push({ ...at, state: 'nonportable', detail: `${prepared.nonPortable}; ${t.detail}` });
        else out.push({ ...at, state: 'failed', detail: t.detail });
      }
    }
  }
  return out;
}

/** A variant that needs relaxed SIMD (run in a Node started with --experimental-wasm-relaxed-simd). */
export const needsRelaxed = (v: ConvVariant): boolean => v.needs.wasmRelaxedSimd === true;

/** The failed outcomes, one line each. */
export const failures = (out: ConformanceOutcome[]): string[] =>
  out.filter((o) => o.state === 'failed').map((o) => `${o.suite} ${o.variant} on ${o.shape}: ${o.detail}`);

/** Every variant ran (passed) on at least one shape: a variant that applies to none of its kit's shapes is a gap in the shapes. */
export function unexercised(
  out: ConformanceOutcome[],
  kits: readonly SuiteKit[],
  which: (v: ConvVariant) => boolean = () => true,
  ran: ConformanceOutcome['state'][] = ['passed'],
): string[] {
  return kits
    .flatMap((k) => k.variants.filter(which).map((v) => `${k.name} ${v.name}`))
    .filter((key) => !out.some((o) => `${o.suite} ${o.variant}` === key && ran.includes(o.state)));
}
