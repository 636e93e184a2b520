/**
 * A run as CSV (one row per case x variant, for spreadsheets) and as Markdown
 * (a summary for a pull-request comment): `npm run report -- DIR --format csv|md`.
 *
 * CSV: RFC 4180 quoting by csv-stringify; text cells that a spreadsheet would
 * take for a formula (=, +, -, @ ...) are prefixed with ' (numbers stay numbers).
 * Markdown: every text escaped by mdText (markdown.ts).
 */
import { stringify } from 'csv-stringify/sync';
import { isTimed, decodeFloat, type CaseResult, type RunResults } from '../../core/contracts.js';
import { runFacts } from './facts.js';
import * as f from './format.js';
import { mdTable, mdText } from './markdown.js';

export const EXPORT_FORMATS = ['html', 'csv', 'md'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** The CSV columns, in order. Times in ms, rates in GFLOP/s and GB/s, shares in % (100 = on the roof). */
export const CSV_COLUMNS = [
  'run_id',
  'device',
  'case_no',
  'case_id',
  'layer',
  'variant',
  'algorithm',
  'dtype',
  'state',
  'message',
  'median_ms',
  'ci_low_ms',
  'ci_high_ms',
  'ci_level',
  'samples',
  'cv',
  'noisy',
  'min_ms',
  'p90_ms',
  'flops',
  'executed_flops',
  'bytes',
  'intensity_flop_per_byte',
  'gflops',
  'executed_gflops',
  'gbps',
  'pct_measured_roofline',
  'pct_theoretical_roofline',
  'pct_native_roofline',
  'max_abs',
  'rel_l2',
  'max_rel',
  'sqnr_db',
  'cosine',
  'tolerance_metric',
  'tolerance_limit',
  'budget_ok',
  'prepare_ms',
  'prepare_bytes',
  'seed',
  'distribution',
] as const;

type Cell = string | number | boolean | null;

/** A non-finite float as text (spreadsheets read it as text, not as a wrong number). */
const num = (x: number | undefined): Cell => (x === undefined ? null : Number.isFinite(x) ? x : String(x));

function messageOf(r: CaseResult): string {
  if (r.state === 'errored') return `${r.phase}: ${r.error.split('\n')[0] ?? ''}`;
  if (r.state === 'skipped') return r.reason;
  return '';
}

/** One row per result, in CSV_COLUMNS order. */
export function exportRows(run: RunResults): Cell[][] {
  const { numbers } = runFacts(run);
  const specs = new Map(run.cases.map((c) => [c.id, c]));
  return run.results.map((r) => {
    const spec = specs.get(r.caseId);
    const t = isTimed(r) ? r : undefined;
    const st = t?.timing.stats;
    const acc = t?.accuracy;
    const row: Record<(typeof CSV_COLUMNS)[number], Cell> = {
      run_id: run.runId,
      device: run.device.name,
      case_no: numbers.get(r.caseId) ?? null,
      case_id: r.caseId,
      layer: spec?.layer ?? null,
      variant: r.variant,
      algorithm: r.algorithm,
      dtype: r.dtype,
      state: r.state,
      message: messageOf(r),
      median_ms: num(st?.median),
      ci_low_ms: num(st?.ciLow),
      ci_high_ms: num(st?.ciHigh),
      ci_level: num(st?.ciLevel),
      samples: st?.n ?? null,
      cv: num(st?.cv),
      noisy: t ? t.timing.noisy : null,
      min_ms: num(st?.min),
      p90_ms: num(st?.p90),
      flops: num(r.cost.flops),
      executed_flops: num(r.cost.executedFlops),
      bytes: num(r.cost.bytes),
      intensity_flop_per_byte: num(r.cost.intensity),
      gflops: num(t?.perf.gflops),
      executed_gflops: num(t?.perf.executedGflops),
      gbps: num(t?.perf.gbps),
      pct_measured_roofline: num(t?.perf.pctMeasured),
      pct_theoretical_roofline: num(t?.perf.pctTheoretical),
      pct_native_roofline: num(t?.perf.pctNative),
      max_abs: acc ? num(decodeFloat(acc.maxAbs)) : null,
      rel_l2: acc ? num(decodeFloat(acc.relL2)) : null,
      max_rel: acc ? num(decodeFloat(acc.maxRel)) : null,
      sqnr_db: acc ? num(decodeFloat(acc.sqnrDb)) : null,
      cosine: acc ? num(decodeFloat(acc.cosine)) : null,
      tolerance_metric: acc?.tolerance.metric ?? null,
      tolerance_limit: acc ? num(acc.tolerance.limit) : null,
      budget_ok: acc?.budget ? acc.budget.ok : null,
      prepare_ms: t ? num(t.prepare.ms) : null,
      prepare_bytes: t ? num(t.prepare.bytes) : null,
      seed: spec?.seed ?? null,
      distribution: spec?.distribution ?? null,
    };
    return CSV_COLUMNS.map((c) => row[c]);
  });
}

/** The run as CSV: a header line, then one line per case x variant. */
export function runToCsv(run: RunResults): string {
  return stringify([[...CSV_COLUMNS], ...exportRows(run)], {
    // '=1+2' or '@SUM(...)' in a name would run as a formula in a spreadsheet: such text gets a leading '.
    escape_formulas: true,
    cast: { boolean: (b) => (b ? 'true' : 'false') },
    record_delimiter: 'windows',
  });
}

/** The run as Markdown for a pull-request comment: status, counts, one table row per case x variant. */
export function runToMarkdown(run: RunResults): string {
  const { numbers } = runFacts(run);
  const counts = { passed: 0, inaccurate: 0, errored: 0, skipped: 0 };
  for (const r of run.results) counts[r.state]++;
  const out: string[] = [];
  out.push(`### roofbench: ${mdText(run.device.name)}, run ${mdText(run.runId)}`);
  out.push('');
  out.push(
    mdText(
      `${run.status}${run.statusDetail ? ` (${run.statusDetail})` : ''}: ${counts.passed} passed, ${counts.inaccurate} inaccurate, ` +
        `${counts.errored} errored, ${counts.skipped} skipped${run.options.quick ? '; quick shapes' : ''}${run.options.filter ? `; filter ${run.options.filter}` : ''}`,
    ),
  );
  out.push('');
  const rows: string[][] = [];
  let lastCase = '';
  for (const r of run.results) {
    if (r.state === 'skipped') continue;
    const caseCell = r.caseId === lastCase ? '' : `#${numbers.get(r.caseId) ?? '?'} ${r.caseId}`;
    lastCase = r.caseId;
    if (isTimed(r)) {
      const pct = r.perf.pctMeasured ?? r.perf.pctTheoretical;
      rows.push([
        caseCell,
        r.variant,
        r.state,
        `${f.ms(r.timing.stats.median)}${r.timing.noisy ? ' (noisy)' : ''}`,
        f.sig(r.perf.gflops, 3),
        pct === undefined ? f.DASH : f.pct(pct),
        f.sci(decodeFloat(r.accuracy.relL2), 1),
      ]);
    } else {
      rows.push([caseCell, r.variant, r.state, f.DASH, f.DASH, f.DASH, messageOf(r)]);
    }
  }
  out.push(
    mdTable(['case', 'variant', 'state', 'median ms', 'GFLOP/s', '% roofline', 'rel L2 / error'], rows, [
      'left',
      'left',
      'left',
      'right',
      'right',
      'right',
      'right',
    ]),
  );
  if (counts.skipped) {
    out.push('');
    out.push(mdText(`${counts.skipped} case x variant pairs skipped (the variant does not apply to the layer); reasons in the HTML report.`));
  }
  return `${out.join('\n')}\n`;
}
