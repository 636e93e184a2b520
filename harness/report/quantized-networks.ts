/**
 * The report's whole-network quantization section (template quantized-networks.njk): per network and
 * int8 scheme, the all-int8 network and the mixed-precision plan beside the fp32 network timed in the
 * same run (suites/models/quantized.ts): speedup, the final output's SQNR against float64, top-1
 * agreement with fp32, whether the budget is met, the layers that suffer most, the plan, and a plain
 * verdict per network. Every value is plain text the template escapes.
 */
import { decodeFloat, isTimed, type CaseResult, type ModelRun, type RunResults } from '../../core/contracts.js';
import { fixed, ms } from './format.js';

type Timed = Extract<CaseResult, { timing: unknown }>;
type Quant = NonNullable<ModelRun['quantization']>;

const FP32 = 'model-runtime-im2col-f32';
const BEST = 'model-runtime-best-f32';

export interface QuantNetRow {
  kind: 'all-int8' | 'mixed plan';
  variant: string;
  state: string;
  median: string;
  speedup: string;
  speedupBest: string;
  sqnr: string;
  relL2: string;
  top1: string;
  meets: boolean;
  budget: string;
  /** The int8 layers with the lowest SQNR alone (the layers that suffer most). */
  worst: string;
  /** Layers in fp32 and why (a layer no int8 kernel takes; the plan's fallbacks). */
  fp32: string;
  plan: string;
}

export interface QuantNetView {
  caseId: string;
  scheme: string;
  fp32: string;
  calibration: string;
  /** What the final SQNR is of. */
  finalTensor: string;
  rows: QuantNetRow[];
  verdict: string;
}

const db = (v: number): string => (Number.isFinite(v) ? `${fixed(v, 1)} dB` : String(v));
const speed = (base: number | null, t: number): number | null => (base !== null && t > 0 ? base / t : null);
const times = (x: number | null): string => (x === null ? '—' : `${fixed(x, 2)}×`);

function row(r: Timed, q: Quant, fp32Ms: number | null, bestMs: number | null): QuantNetRow & { x: number | null } {
  const int8 = q.layers.filter((l) => l.precision === 'int8');
  const worst = [...int8]
    .sort((a, b) => decodeFloat(a.localSqnrDb) - decodeFloat(b.localSqnrDb))
    .slice(0, 3)
    .map((l) => `${l.node} ${db(decodeFloat(l.localSqnrDb))}`)
    .join(', ');
  const fallen = q.layers.filter((l) => l.precision === 'fp32');
  const x = speed(fp32Ms, r.timing.stats.median);
  const plan = q.plan
    ? q.plan.length === 0
      ? 'nothing fell back (all-int8 meets the budget)'
      : q.plan.map((p) => `${p.node} (alone ${db(decodeFloat(p.localSqnrDb))}; final then ${db(decodeFloat(p.finalSqnrDb))})`).join(' → ')
    : '';
  return {
    kind: q.plan ? 'mixed plan' : 'all-int8',
    variant: r.variant,
    state: r.state,
    median: ms(r.timing.stats.median),
    speedup: times(x),
    speedupBest: times(speed(bestMs, r.timing.stats.median)),
    sqnr: db(decodeFloat(q.finalSqnrDb)),
    relL2: fixed(decodeFloat(q.finalRelL2), 4),
    top1: `${q.top1.agree} / ${q.top1.inputs}${q.top1.quick ? ' (--quick: fewer than 256 inputs)' : ''}`,
    meets: q.budget.meets,
    budget: q.budget.text,
    worst: worst || '—',
    fp32: fallen.length ? fallenText(fallen) : 'none',
    plan,
    x,
  };
}

/** The layers left in fp32, grouped by reason: "conv3.dw, conv3.pw: the mixed-precision plan fell it back to fp32; asym: no int8 kernel". */
function fallenText(fallen: readonly { node: string; reason?: string | undefined }[]): string {
  const byReason = new Map<string, string[]>();
  for (const l of fallen) byReason.set(l.reason ?? 'fp32', [...(byReason.get(l.reason ?? 'fp32') ?? []), l.node]);
  return [...byReason].map(([reason, nodes]) => `${nodes.join(', ')}: ${reason}`).join('; ');
}

/** The section's view, or null when the run has no quantized network. */
export function quantizedNetworksView(run: RunResults): QuantNetView[] | null {
  const quant = run.results.filter((r): r is Timed => isTimed(r) && r.model?.quantization !== undefined);
  if (quant.length === 0) return null;
  const out: QuantNetView[] = [];
  for (const caseId of [...new Set(quant.map((r) => r.caseId))]) {
    const here = run.results.filter((r): r is Timed => isTimed(r) && r.caseId === caseId);
    const median = (v: string) => here.find((r) => r.variant === v && r.state === 'passed')?.timing.stats.median ?? null;
    const fp32Ms = median(FP32);
    const bestMs = median(BEST);
    const fp32Noisy = here.some((r) => r.variant === FP32 && r.state === 'passed' && r.timing.noisy);
    const byScheme = new Map<string, Timed[]>();
    for (const r of quant.filter((x) => x.caseId === caseId)) {
      const k = r.model!.quantization!.scheme;
      byScheme.set(k, [...(byScheme.get(k) ?? []), r]);
    }
    for (const [scheme, rs] of byScheme) {
      const rows = rs.map((r) => row(r, r.model!.quantization!, fp32Ms, bestMs));
      const q0 = rs[0]!.model!.quantization!;
      const say = (r: (typeof rows)[number]) =>
        `${r.kind}${r.kind === 'mixed plan' ? ` (${rs.find((x) => x.variant === r.variant)!.model!.quantization!.plan!.length} layer(s) fallen back to fp32)` : ''}: ` +
        `${r.x === null ? 'no fp32 im2col network to compare with in this run' : r.x >= 1 ? `${fixed(r.x, 2)}× faster than fp32 im2col` : `${fixed(r.x, 2)}× the speed of fp32 im2col (slower)`}` +
        // A speed-up from noisy timings is indicative, as everywhere in the report.
        `${r.x !== null && (fp32Noisy || rs.find((x) => x.variant === r.variant)!.timing.noisy) ? ' (noisy timings: indicative)' : ''}, ` +
        `final ${r.sqnr}, top-1 agrees on ${r.top1}, ${r.meets ? 'meets' : 'misses'} the budget`;
      const network = caseId.replace(/^models\//, '');
      out.push({
        caseId,
        scheme,
        fp32:
          fp32Ms === null
            ? 'no passed fp32 im2col network in this run: no speedup'
            : `fp32 im2col network ${ms(fp32Ms)} ms${bestMs !== null ? `, best fp32 ${ms(bestMs)} ms` : ''}`,
        calibration: `${q0.calibration.method} on ${q0.calibration.inputs} input(s): ${q0.calibration.seeds}`,
        finalTensor: q0.finalTensor,
        rows: rows.map(({ x: _x, ...r }) => r),
        verdict: `${network}, ${scheme}: ${rows.map(say).join('; ')}.`,
      });
    }
  }
  return out;
}
