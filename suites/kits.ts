/**
 * Every suite kit, by name: the one file a new operator is added to (one line).
 * Payload-safe: the runner resolves variants and builds case tensors (or hands whole cases) through it.
 */
import { convKit } from './conv/kit.js';
import { sparseKit } from './sparse/kit.js';
import { modelsKit } from './models/kit.js';
import { fusionKit } from './fusion/kit.js';
import { tilingKit } from './tiling/kit.js';
import type { AnyKit, GraphKit, SuiteKit } from './kit.js';

/** Operator kits: the runner measures their cases (harness/runner/measure.ts) on the tensors the kit makes. */
export const suiteKits: readonly SuiteKit[] = [convKit, sparseKit];

/** Kits that measure whole graphs themselves (GraphKit.measure). */
export const graphKits: readonly GraphKit[] = [modelsKit, fusionKit, tilingKit];

/** Every kit. */
export const allKits: readonly AnyKit[] = [...suiteKits, ...graphKits];

const byName = new Map<string, AnyKit>(allKits.map((k) => [k.name, k]));

/** The kit of a suite, or undefined. */
export function kitOf(suite: string): AnyKit | undefined {
  return byName.get(suite);
}

/** The operator kit of a suite, or an error naming the suites there are. */
export function requireKit(suite: string): SuiteKit {
  const kit = suiteKits.find((k) => k.name === suite);
  if (!kit) throw new Error(`unknown operator suite "${suite}": this payload has ${suiteKits.map((k) => k.name).join(', ')}`);
  return kit;
}

/** The suite of a result's case id (`conv/resnet50.res2a.conv2` -> conv). */
export function suiteOfCase(caseId: string): string {
  return caseId.split('/')[0] ?? caseId;
}
