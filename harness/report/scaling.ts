/**
 * The report's scaling view (`--threads 1,2,...`): per variant, on a few representative layers (and every
 * whole network of the models suite), the speedup
 * of N threads over one thread and the efficiency (speedup / N). Every ratio is measured in ONE run: the
 * runner times a case's variants at every thread count in the same interleaved rounds (harness/runner/
 * measure.ts), so a ratio never mixes two moments of a noisy machine; the view does not pull other runs
 * from the history. A run without one thread among its counts has no base to divide by: the view says so.
 * Pure (no I/O); the template (templates/scaling.njk) escapes every value.
 */
import { baseVariantName, isTimed, resultThreads, type CaseSpec, type RunResults, type TimedResult } from '../../core/contracts.js';
import { convOutputSize } from '../../reference/conv.js';
import { duration } from './format.js';
import { speedupOf, speedupText } from './speedup.js';

export interface ScalingCell {
  threads: number;
  medianText: string;
  /** "1.93× (1.8–2.1)" with its interval (speedup.ts); the dash at one thread or when either side is missing. */
  speedupText: string;
  /** Speedup / threads, as a percentage ("97%"), or the dash. */
  efficiencyText: string;
  oversubscribed: boolean;
  /** Why there is no figure (skipped / errored at this count), else ''. */
  missing: string;
}

export interface ScalingLayer {
  caseId: string;
  layer: string;
  kind: string;
  shapeText: string;
  rows: { variant: string; cells: ScalingCell[] }[];
}

export interface ScalingView {
  counts: number[];
  cores: number | null;
  layers: ScalingLayer[];
  /** The cases with thread-count results left out of the view (it shows one representative layer per kind). */
  omitted: number;
  notes: string[];
}

/** A whole network (the models suite): every one is shown, not one per kind. */
const isNetwork = (c: CaseSpec): boolean => c.suite === 'models';

/** The kinds of layer the view picks one of each (the one with the most FLOPs); a network is its own kind. */
function kindOf(c: CaseSpec): string {
  if (isNetwork(c)) return `network ${c.id}`;
  const s = c.shape;
  if (s.groups > 1 && s.groups === s.c) return 'depthwise';
  if (s.r === 1 && s.s === 1) return 'pointwise 1x1';
  if (s.stride > 1) return `strided ${s.r}x${s.s}`;
  if (s.r === 3 && s.s === 3) return '3x3 stride 1';
  return `${s.r}x${s.s}`;
}

/** The scaling view of `run`, or null when it ran at one thread count only. */
export function scalingView(run: RunResults): ScalingView | null {
  const counts = [...new Set(run.results.map(resultThreads))].sort((a, b) => a - b);
  if (counts.length < 2) return null;
  const cores = run.probe?.cpu.cores ?? null;
  const notes: string[] = [
    'Speedup = median time on one thread / median time on N threads, measured side by side in the same interleaved rounds of this run; the interval is the one the two medians\u2019 confidence intervals give. Efficiency = speedup / N.',
  ];
  if (!counts.includes(1)) {
    return {
      counts,
      cores,
      layers: [],
      omitted: 0,
      notes: [...notes, `This run has no one-thread results (--threads ${counts.join(',')}): run --threads 1,${counts.join(',')} for speedups.`],
    };
  }
  if (cores !== null && counts.some((n) => n > cores)) {
    notes.push(
      `Oversubscribed: ${counts.filter((n) => n > cores).join(', ')} threads on a device reporting ${cores} cores; the threads queue for a core, so those figures are not the device's at that many cores.`,
    );
  }
  if (run.contention?.contended)
    notes.push('The run was contended (other processes used the cores): a second thread queues for a core, so speedups are understated.');
  // Cases with a timed result at a count > 1 and at one thread for the same variant.
  const byCase = new Map<string, TimedResult[]>();
  for (const r of run.results) if (isTimed(r)) byCase.set(r.caseId, [...(byCase.get(r.caseId) ?? []), r]);
  const candidates = run.cases.filter((c) => {
    const rs = byCase.get(c.id) ?? [];
    return (c.suite === 'conv' || isNetwork(c)) && rs.some((r) => resultThreads(r) > 1 && rs.some((o) => o.variant === baseVariantName(r.variant).base));
  });
  const flops = (c: CaseSpec) => {
    const { ho, wo } = convOutputSize(c.shape);
    return c.shape.n * c.shape.k * ho * wo * (c.shape.c / c.shape.groups) * c.shape.r * c.shape.s;
  };
  const best = new Map<string, CaseSpec>();
  for (const c of candidates) {
    const k = kindOf(c);
    const cur = best.get(k);
    if (!cur || flops(c) > flops(cur)) best.set(k, c);
  }
  const picked = candidates.filter((c) => best.get(kindOf(c)) === c);
  const layers = picked.map((c): ScalingLayer => {
    const rs = run.results.filter((r) => r.caseId === c.id);
    const bases = [...new Set(rs.filter((r) => resultThreads(r) > 1).map((r) => baseVariantName(r.variant).base))];
    const rows = bases
      .map((variant) => {
        const one = rs.find((r) => r.variant === variant);
        const base = isTimed(one) ? one : undefined;
        const cells = counts.map((threads): ScalingCell => {
          const r = rs.find((x) => baseVariantName(x.variant).base === variant && resultThreads(x) === threads);
          const missing = !r ? 'not run' : r.state === 'skipped' ? `skipped: ${r.reason}` : r.state === 'errored' ? `errored: ${r.error}` : '';
          const t = isTimed(r) ? r : undefined;
          const s = t && base && threads > 1 ? speedupOf(t, base) : undefined;
          return {
            threads,
            medianText: t ? duration(t.timing.stats.median) : '\u2014',
            // No one-thread timing of the variant (onnxruntime-web runs at the run's highest count only): said, not "—, efficiency —".
            speedupText: threads === 1 ? (t ? '1×' : '\u2014') : t && !base ? `no speedup: ${one ? one.state : 'not run'} on 1 thread` : speedupText(s),
            efficiencyText: s ? `${Math.round((100 * s.value) / threads)}%` : t && !base ? '' : '\u2014',
            oversubscribed: r?.oversubscribed === true,
            missing,
          };
        });
        return { variant, cells };
      })
      // Variants with no figure at any count > 1 (skipped or not applicable there) are named in a note, not tabled.
      .filter((row) => row.cells.some((x) => x.threads > 1 && x.missing === ''));
    const s = c.shape;
    return {
      caseId: c.id,
      layer: c.layer,
      kind: isNetwork(c) ? 'whole network' : kindOf(c),
      shapeText: isNetwork(c)
        ? `${c.graph.nodes.length} nodes, input ${c.graph.inputs[0]?.shape.join('x') ?? '?'}; conv and FC layers on N threads, the other operators on thread 0`
        : `N${s.n} C${s.c} ${s.h}x${s.w} K${s.k} ${s.r}x${s.s}/${s.stride}${s.groups > 1 ? ` g${s.groups}` : ''}`,
      rows,
    };
  });
  const untimed = [
    ...new Set(
      run.results
        .filter((r) => resultThreads(r) > 1 && r.state === 'skipped' && r.reason.startsWith('not run on '))
        .map((r) => baseVariantName(r.variant).base),
    ),
  ];
  if (untimed.length > 0) notes.push(`Not run on more than one thread (each result says why): ${untimed.join(', ')}.`);
  return { counts, cores, layers, omitted: candidates.length - picked.length, notes };
}

/** The run's thread counts for the report's header, and the counts above the device's cores (oversubscribed). */
export function threadsSummary(run: RunResults): { counts: number[]; oversubscribed: number[]; cores: number | null } {
  const counts = [...new Set(run.results.map(resultThreads))].sort((a, b) => a - b);
  const oversubscribed = [...new Set(run.results.filter((r) => r.oversubscribed === true).map(resultThreads))].sort((a, b) => a - b);
  return { counts: counts.length > 0 ? counts : [1], oversubscribed, cores: run.probe?.cpu.cores ?? null };
}

/**
 * The thread counts whose measured roof (ceilings.threaded) came out below the one-thread roof: N threads
 * measuring less than one means the cores were busy with other work (or throttled) while it was measured, and
 * the chart's dashed N-thread roof under the solid one needs saying. Empty when none, or nothing to compare.
 */
export function threadedRoofsBelowOne(run: RunResults): { threads: number; peak: number; one: number }[] {
  const one = run.ceilings.measured?.peakGflops;
  if (one === undefined) return [];
  return (run.ceilings.threaded ?? []).filter((t) => t.measured.peakGflops < one).map((t) => ({ threads: t.threads, peak: t.measured.peakGflops, one }));
}
