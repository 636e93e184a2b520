/**
 * Speedups as the report states them: never a bare ratio. A speedup of r over
 * a base is median(base) / median(r), with the interval that the two medians'
 * confidence intervals give, [base.ciLow / r.ciHigh, base.ciHigh / r.ciLow]
 * (it covers the true ratio with probability at least c1 + c2 - 1, the two
 * intervals' actual coverages), and the noise flag of either side (cv above
 * the run's target). A speedup is *decisive* when neither side is noisy and
 * its interval lies wholly on one side of 1x; anything else is shown as
 * indicative and never drives a verdict. Pure.
 */
import type { TimedResult as Timed } from '../../core/contracts.js';
import * as f from './format.js';

export interface Speedup {
  value: number;
  low: number;
  high: number;
  /** Either side's timing is noisy. */
  noisy: boolean;
  /** Lower bound of the interval's coverage (c1 + c2 - 1). */
  coverage: number;
}

const finitePos = (x: number): boolean => Number.isFinite(x) && x > 0;

/** The speedup of r over base, or undefined when either median is not a positive number. */
export function speedupOf(r: Timed, base: Timed | undefined): Speedup | undefined {
  if (!base) return undefined;
  const b = base.timing.stats;
  const s = r.timing.stats;
  if (!finitePos(b.median) || !finitePos(s.median)) return undefined;
  const cov = (x: Timed['timing']['stats']) => x.ciCoverage ?? x.ciLevel;
  return {
    value: b.median / s.median,
    low: finitePos(s.ciHigh) ? b.ciLow / s.ciHigh : 0,
    high: finitePos(s.ciLow) ? b.ciHigh / s.ciLow : Infinity,
    noisy: base.timing.noisy || r.timing.noisy,
    coverage: Math.max(0, cov(b) + cov(s) - 1),
  };
}

/** Neither side noisy and the interval wholly above or below 1x. */
export function isDecisive(s: Speedup | undefined): boolean {
  return s !== undefined && !s.noisy && (s.low > 1 || s.high < 1);
}

/** A speed ratio: "2.21×", "0.085×". */
export function times(x: number | undefined): string {
  if (x === undefined) return f.DASH;
  if (!Number.isFinite(x)) return f.sig(x);
  if (x !== 0 && Math.abs(x) < 1e-3) return `${f.sci(x, 1)}×`;
  return `${Number(x.toPrecision(3))}×`;
}

/** "3.21× (2.9–3.5)", with "~" and ", noisy" when either side is noisy. */
export function speedupText(s: Speedup | undefined): string {
  if (s === undefined) return f.DASH;
  const range = `${times(s.low).replace(/×$/, '')}–${times(s.high)}`;
  return `${s.noisy ? '~' : ''}${times(s.value)} (${range})${s.noisy ? ', noisy' : ''}`;
}
