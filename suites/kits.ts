/**
 * Every suite kit, by name: the one list a new operator is added to (one line).
 * Payload-safe: the runner resolves variants and builds case tensors through it.
 */
import { convKit } from './conv/kit.js';
import { sparseKit } from './sparse/kit.js';
import type { SuiteKit } from './kit.js';

export const suiteKits: readonly SuiteKit[] = [convKit, sparseKit];

const byName = new Map(suiteKits.map((k) => [k.name, k]));

/** The kit of a suite, or undefined. */
export function kitOf(suite: string): SuiteKit | undefined {
  return byName.get(suite);
}

/** The kit of a suite, or an error naming the suites there are. */
export function requireKit(suite: string): SuiteKit {
  const kit = byName.get(suite);
  if (!kit) throw new Error(`unknown suite "${suite}": this payload has ${suiteKits.map((k) => k.name).join(', ')}`);
  return kit;
}

/** The suite of a result's case id (`conv/resnet50.res2a.conv2` -> conv). */
export function suiteOfCase(caseId: string): string {
  return caseId.split('/')[0] ?? caseId;
}
