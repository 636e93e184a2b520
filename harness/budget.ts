/**
 * The user's accuracy budget (--max-rel-l2, --max-abs, --min-sqnr-db): any
 * variant whose error exceeds it is `inaccurate`, whatever its own tolerance.
 * Pure; applied by the host as results arrive.
 */
import { decodeFloat, type Accuracy, type CaseResult, type RunOptions } from '../core/contracts.js';

export type Budgets = NonNullable<RunOptions['budgets']>;

export function hasBudget(b: Budgets | undefined): b is Budgets {
  return !!b && (b.maxRelL2 !== undefined || b.maxAbs !== undefined || b.minSqnrDb !== undefined);
}

export function checkBudget(acc: Accuracy, b: Budgets): { ok: boolean; violations: string[] } {
  const violations: string[] = [];
  const relL2 = decodeFloat(acc.relL2);
  const maxAbs = decodeFloat(acc.maxAbs);
  const sqnr = decodeFloat(acc.sqnrDb);
  // NaN compares false with everything: test for "within" so a NaN is a violation.
  if (b.maxRelL2 !== undefined && !(relL2 <= b.maxRelL2)) violations.push(`rel L2 ${relL2.toExponential(2)} > ${b.maxRelL2}`);
  if (b.maxAbs !== undefined && !(maxAbs <= b.maxAbs)) violations.push(`max abs ${maxAbs.toExponential(2)} > ${b.maxAbs}`);
  if (b.minSqnrDb !== undefined && !(sqnr >= b.minSqnrDb)) violations.push(`SQNR ${sqnr.toFixed(1)} dB < ${b.minSqnrDb} dB`);
  return { ok: violations.length === 0, violations };
}

/** The result with the budget applied: `passed` becomes `inaccurate` when the budget is exceeded. */
export function applyBudget(r: CaseResult, b: Budgets | undefined): CaseResult {
  if (!hasBudget(b) || (r.state !== 'passed' && r.state !== 'inaccurate')) return r;
  const budget = checkBudget(r.accuracy, b);
  return { ...r, state: budget.ok ? r.state : 'inaccurate', accuracy: { ...r.accuracy, budget } };
}

/** The worst offenders, for --gate's message: by how far they exceed the rel-L2 budget (or the variant's own). */
export function worstInaccurate(results: CaseResult[], n = 5): string[] {
  type Timed = Extract<CaseResult, { timing: unknown }>;
  const bad = results.filter((r): r is Timed => r.state === 'inaccurate');
  const score = (r: (typeof bad)[number]) => decodeFloat(r.accuracy.relL2);
  return bad
    .sort((a, b) => score(b) - score(a))
    .slice(0, n)
    .map((r) => {
      const why =
        r.accuracy.budget && !r.accuracy.budget.ok
          ? r.accuracy.budget.violations.join(', ')
          : `exceeds its own tolerance (${r.accuracy.tolerance.metric} <= ${r.accuracy.tolerance.limit.toExponential(2)})`;
      return `${r.variant} on ${r.caseId}: ${why}`;
    });
}
