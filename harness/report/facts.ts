/**
 * The facts of a run every part of the report derives from it, computed once per run and shared by the
 * report model (model.ts), the charts (charts.ts, samples.ts), the accuracy decision (accuracy.ts) and the
 * exports (export.ts): the case numbers, each variant's colour, and per case what its suite's kit says
 * (suites/<op>/kit.ts): the tables' baseline variant and the accuracy decision's references.
 */
import type { CaseResult, RunResults } from '../../core/contracts.js';
import type { DecisionRoles } from '../../suites/kit.js';
import { kitOf, suiteOfCase } from '../../suites/kits.js';
import { variantColours } from './colours.js';

export interface RunFacts {
  /** 1-based case numbers in plan order (the numbers the report's headings use), then results without a case spec. */
  numbers: ReadonlyMap<string, number>;
  /** Variant -> colour (colours.ts: stable across reports). */
  colours: ReadonlyMap<string, string>;
  /** The suite of a case (from the plan, else the case id's prefix). */
  suiteOf(caseId: string): string;
  /** The variant a case's table gives speedups against (its suite kit's tableBaseline), if its suite has a kit. */
  tableBaseline(caseId: string): string | undefined;
  /** The accuracy decision's references of a case (its suite kit's), if its suite has a decision. */
  decision(caseId: string): DecisionRoles | undefined;
}

/** 1-based case numbers in plan order, then results without a case spec. */
export function caseNumbers(run: RunResults): Map<string, number> {
  const numbers = new Map<string, number>();
  for (const c of run.cases) if (!numbers.has(c.id)) numbers.set(c.id, numbers.size + 1);
  for (const r of run.results) if (!numbers.has(r.caseId)) numbers.set(r.caseId, numbers.size + 1);
  return numbers;
}

const cache = new WeakMap<RunResults, RunFacts>();

/** The run's facts, computed on first use and shared (the run must not change afterwards; the report never changes it). */
export function runFacts(run: RunResults): RunFacts {
  const cached = cache.get(run);
  if (cached) return cached;
  const suites = new Map(run.cases.map((c) => [c.id, c.suite]));
  const suiteOf = (caseId: string) => suites.get(caseId) ?? suiteOfCase(caseId);
  const facts: RunFacts = {
    numbers: caseNumbers(run),
    colours: variantColours(run.results),
    suiteOf,
    tableBaseline: (caseId) => kitOf(suiteOf(caseId))?.tableBaseline,
    decision: (caseId) => kitOf(suiteOf(caseId))?.decision,
  };
  cache.set(run, facts);
  return facts;
}

/** The decision's references of a result's case, by its id alone (for helpers that see one result). */
export function decisionOfResult(r: Pick<CaseResult, 'caseId'>): DecisionRoles | undefined {
  return kitOf(suiteOfCase(r.caseId))?.decision;
}
