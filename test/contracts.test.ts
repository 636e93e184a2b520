/** The shared result contracts: the one timed guard, the one errored constructor, the closed set of phases. */
import { describe, expect, it } from 'vitest';
import { CaseResult, ErrorPhase, erroredResult, isTimed, NO_COST } from '../core/contracts.js';

const id = { caseId: 'conv/x', variant: 'conv-direct-naive-f32', algorithm: 'direct', dtype: 'f32' };

describe('result contracts', () => {
  it('erroredResult builds a valid errored result, uncosted unless a cost is given', () => {
    const r = erroredResult(id, 'prepare', 'RangeError: out of memory');
    expect(CaseResult.parse(r)).toEqual({ ...id, cost: NO_COST, state: 'errored', phase: 'prepare', error: 'RangeError: out of memory' });
    const cost = { flops: 10, bytes: 5, intensity: 2 };
    expect(erroredResult({ ...id, cost, info: { tile: 4 } }, 'timing', 'x')).toMatchObject({ cost, info: { tile: 4 }, phase: 'timing' });
    // NO_COST is frozen and never shared: a result's cost may be changed without touching the others.
    expect(erroredResult(id, 'run', 'x').cost).not.toBe(NO_COST);
  });

  it('the phases are a closed set: erroredResult takes no other (checked by the compiler), ErrorPhase refuses others', () => {
    // @ts-expect-error 'somewhere' is not an ErrorPhase: the typecheck (npm run typecheck) fails if it ever becomes one.
    expect(erroredResult(id, 'somewhere', 'x').phase).toBe('somewhere');
    expect(ErrorPhase.safeParse('somewhere').success).toBe(false);
    expect(ErrorPhase.options).toEqual(['resolve', 'case', 'prepare', 'run', 'check', 'output', 'warmup', 'timing', 'stats', 'timeout', 'transport']);
    // A stored run from another version (or a hostile device) is still read: its phase is shown, escaped, not refused.
    expect(CaseResult.safeParse({ ...erroredResult(id, 'check', 'x'), phase: 'somewhere' }).success).toBe(true);
  });

  it('isTimed is true exactly for passed and inaccurate results', () => {
    expect(isTimed(undefined)).toBe(false);
    expect(isTimed(erroredResult(id, 'run', 'x'))).toBe(false);
    expect(isTimed({ ...id, cost: NO_COST, state: 'skipped', reason: 'no SIMD' })).toBe(false);
    const timed = { state: 'passed' } as CaseResult;
    expect(isTimed(timed)).toBe(true);
    expect(isTimed({ ...timed, state: 'inaccurate' } as CaseResult)).toBe(true);
  });
});
