/**
 * What the user sees while a run goes: a progress bar on a terminal, one plain
 * line per case when not a TTY, or the raw JSON-lines events with --json.
 */
import cliProgress from 'cli-progress';
import { isTimed as timed, decodeFloat, resultThreads, type CaseResult, type RunnerEvent, type RunResults } from '../core/contracts.js';
import { NOT_MEASURED } from './results.js';

export type ProgressMode = 'tty' | 'plain' | 'json';

export function fmtMs(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  if (ms >= 0.1) return `${ms.toFixed(3)} ms`;
  if (ms >= 0.001) return `${(ms * 1000).toFixed(1)} us`;
  // Under a microsecond (a small kernel on a fast core): ns, so it never reads "0.0 us".
  const ns = ms * 1e6;
  return `${ns >= 10 ? ns.toFixed(0) : ns.toFixed(2)} ns`;
}

export function fmtNum(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1e4 || a < 1e-3) return x.toExponential(digits - 1);
  return x.toPrecision(digits);
}

/** m:ss or h:mm:ss. */
export function clock(ms: number): string {
  const t = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = String(t % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

/**
 * One short line for a finished case (CI logs): the best variant and its figure, the counts, and
 * the variants that errored (by name; the reasons are in the report).
 */
export function caseLine(results: readonly CaseResult[]): string {
  const counts = new Map<string, number>();
  for (const r of results) counts.set(r.state, (counts.get(r.state) ?? 0) + 1);
  const countText = ['passed', 'inaccurate', 'errored', 'skipped']
    .filter((s) => counts.has(s))
    .map((s) => `${counts.get(s)} ${s}`)
    .join(', ');
  const t = results.filter(timed);
  const best = t.length ? t.reduce((a, b) => (b.timing.stats.median < a.timing.stats.median ? b : a)) : undefined;
  const parts: string[] = [];
  if (best) {
    parts.push(`best ${best.variant} ${fmtMs(best.timing.stats.median)}${best.timing.noisy ? ' ~' : ''} (${best.perf.gflops.toFixed(2)} GFLOP/s)`);
  }
  parts.push(countText || 'no results');
  const errored = results.filter((r) => r.state === 'errored');
  if (errored.length) parts.push(`ERRORED: ${errored.map((r) => (r.state === 'errored' ? `${r.variant} in ${r.phase}` : '')).join(', ')}`);
  const inaccurate = results.filter((r) => r.state === 'inaccurate');
  if (inaccurate.length) parts.push(`inaccurate: ${inaccurate.map((r) => r.variant).join(', ')}`);
  return parts.join('; ');
}

function ceilingsLine(e: Extract<RunnerEvent, { type: 'ceilings' }>): string {
  return `measured peak ${e.measured.peakGflops.toFixed(1)} GFLOP/s (f32 SIMD, ${e.threads ?? 1} thread${e.threads ? 's' : ''}), DRAM ${e.measured.dramGbps.toFixed(1)} GB/s`;
}

export class Progress {
  private bar: cliProgress.SingleBar | null = null;
  private current: { caseId: string; index: number; total: number } | null = null;
  private pending: CaseResult[] = [];
  private t0 = Date.now();
  /** The wait for the device lock already taken out of the elapsed time; said with the runner's first event. */
  private lockWaitMs = 0;
  private lockWaitSaid = false;
  /** When the first case started (the estimate of the time left counts from there). */
  private casesStart: number | null = null;
  /** Weight of each planned case (its variant count: sampling time is per variant); [] = equal. */
  private weights: number[] = [];
  private doneWeight = 0;
  private phase = '';
  /** Cases in the plan, from the runner's case-start events. */
  private total: number | undefined;

  constructor(
    private readonly mode: ProgressMode,
    private readonly device: string,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {}

  static modeFor(json: boolean, stream: NodeJS.WriteStream = process.stderr): ProgressMode {
    if (json) return 'json';
    return stream.isTTY ? 'tty' : 'plain';
  }

  /** The plan's cases, in order, as the number of variants each will measure (for the estimate of the time left). */
  expect(variantsPerCase: number[]): void {
    this.weights = variantsPerCase.map((n) => Math.max(1, n));
  }

  private weightOf(index: number, total: number): number {
    return this.weights.length === total ? (this.weights[index] ?? 1) : 1;
  }

  private totalWeight(total: number): number {
    return this.weights.length === total ? this.weights.reduce((a, b) => a + b, 0) : total;
  }

  /**
   * The run has waited this long for the device lock (--wait; given before each new try, the total so
   * far): not counted in the elapsed time, and said once, when the runner's first event shows it started.
   */
  lockWaited(ms: number): void {
    this.t0 += ms - this.lockWaitMs;
    this.lockWaitMs = ms;
  }

  /** "1:23 elapsed, ~2:10 left" (the estimate once a case has finished: measured time per planned variant). */
  timeText(now = Date.now()): string {
    const elapsed = `${clock(now - this.t0)} elapsed`;
    const total = this.total;
    if (this.casesStart === null || total === undefined || this.doneWeight <= 0) return elapsed;
    const left = ((now - this.casesStart) / this.doneWeight) * Math.max(0, this.totalWeight(total) - this.doneWeight);
    return `${elapsed}, ~${clock(left)} left`;
  }

  private write(line: string): void {
    if (this.bar) {
      // Above the bar: clear its line, write, and let it redraw.
      this.out.write(`\r\x1b[K${line}\n`);
      this.bar.render();
    } else {
      this.out.write(`${line}\n`);
    }
  }

  info(msg: string): void {
    if (this.mode === 'json') {
      process.stdout.write(`${JSON.stringify({ type: 'host-log', device: this.device, message: msg })}\n`);
    } else if (this.bar) {
      this.setPhase(msg);
    } else {
      this.out.write(`[${this.device}] ${msg}\n`);
    }
  }

  private setPhase(phase: string): void {
    this.phase = phase;
    this.bar?.update({});
  }

  private startBar(total: number, index: number): void {
    const columns = () => Math.max(40, (this.out.columns ?? 80) - 1);
    this.bar = new cliProgress.SingleBar(
      {
        format: (options, params) => {
          const bar = cliProgress.Format.BarFormat(params.progress, options);
          const c = this.current;
          const line = `${this.device} [${bar}] ${params.value}/${params.total} | ${this.timeText()} | ${c?.caseId ?? ''}${this.phase ? ` | ${this.phase}` : ''}`;
          const w = columns();
          return line.length > w ? `${line.slice(0, w - 1)}…` : line;
        },
        hideCursor: true,
        clearOnComplete: true,
        stream: this.out,
        barsize: 16,
        // Redraw every second, so the elapsed time moves during a long case.
        fps: 1,
        etaBuffer: 1,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(total, index);
  }

  event(e: RunnerEvent, result: CaseResult | null): void {
    if (this.lockWaitMs > 0 && !this.lockWaitSaid) {
      this.lockWaitSaid = true;
      this.info(`waited ${clock(this.lockWaitMs)} for the device lock (not counted in the elapsed time)`);
    }
    if (this.mode === 'json') {
      process.stdout.write(`${JSON.stringify({ device: this.device, ...e, ...(result ? { result } : {}) })}\n`);
      return;
    }
    switch (e.type) {
      case 'phase':
        if (this.bar) this.setPhase(`${e.phase}${e.detail ? ` ${e.detail}` : ''}`);
        else if (e.phase === 'ceilings') {
          // Each pass says which (with --threads 1,2 the line came twice, the same words both times).
          const on = / on (\d+) threads$/.exec(e.detail ?? '');
          const what = on ? ` on ${on[1]} threads` : /native/.test(e.detail ?? '') ? ' of the native kernels' : '';
          this.out.write(`[${this.device}] measuring the device's ceilings${what} (peak, bandwidth sweep)\n`);
        }
        break;
      case 'case-start':
        this.flushCase();
        this.current = { caseId: e.caseId, index: e.index, total: e.total };
        this.total = e.total;
        this.casesStart ??= Date.now();
        this.phase = '';
        if (this.mode === 'tty') {
          if (!this.bar) this.startBar(e.total, e.index);
          this.bar?.update(e.index);
        }
        break;
      case 'result':
        if (result) this.pending.push(result);
        if (result?.state === 'errored' && this.mode === 'tty') this.setPhase(`errored: ${result.variant}`);
        break;
      case 'ceilings':
        this.write(`[${this.device}] ${ceilingsLine(e)}`);
        break;
      case 'log':
        if (this.bar) this.setPhase(e.message);
        else this.out.write(`[${this.device}] ${e.level}: ${e.message}\n`);
        break;
      case 'done':
        this.flushCase();
        break;
      default:
        break;
    }
  }

  private flushCase(): void {
    if (!this.current) return;
    const { index, total, caseId } = this.current;
    this.doneWeight += this.weightOf(index, total);
    if (this.mode === 'plain') {
      this.out.write(`[${this.device}] [${index + 1}/${total}] ${clock(Date.now() - this.t0)} ${caseId}: ${caseLine(this.pending)}\n`);
    } else if (this.bar) {
      this.bar.update(index + 1);
    }
    this.pending = [];
    this.current = null;
  }

  stop(): void {
    this.flushCase();
    this.bar?.stop();
    this.bar = null;
  }
}

/** Width for the closing table: the terminal's, else $COLUMNS, else 80. */
export function outputWidth(stream: NodeJS.WriteStream = process.stdout): number {
  const cols = stream.isTTY ? stream.columns : Number(process.env.COLUMNS);
  return Number.isFinite(cols) && cols && cols > 0 ? cols : 80;
}

/** Shorten to `w` characters, keeping both ends (variant names differ at either end). */
function fit(text: string, w: number): string {
  if (text.length <= w) return text;
  if (w <= 1) return text.slice(0, Math.max(0, w));
  const head = Math.ceil((w - 1) / 2);
  return `${text.slice(0, head)}…${text.slice(text.length - (w - 1 - head))}`;
}

/** Words wrapped to `w` columns, continuation lines indented by `indent`. */
function wrap(text: string, w: number, indent = '  '): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > w) {
      lines.push(line);
      line = `${indent}${word}`;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

/**
 * The closing counts: "12 passed, 0 inaccurate, 0 errored, 3 skipped", and the pairs an interrupted run never
 * reached apart ("12 not measured"): they are not "skipped" (not applicable).
 */
export function countsLine(results: readonly CaseResult[]): string {
  const c = { passed: 0, inaccurate: 0, errored: 0, skipped: 0 };
  for (const r of results) c[r.state]++;
  const unreached = results.filter((r) => r.state === 'skipped' && r.reason.startsWith(NOT_MEASURED)).length;
  return `${c.passed} passed, ${c.inaccurate} inaccurate, ${c.errored} errored, ${c.skipped - unreached} skipped${unreached ? `, ${unreached} not measured` : ''}`;
}

/**
 * The closing summary table, grouped by case: per variant its median, GFLOP/s, % of the roofline,
 * relative L2 error and state, fitted to `width` columns (80 and up), with a legend under it.
 */
export function summaryTable(run: RunResults, width = 80): string {
  const header = ['variant', 'median', 'GFLOP/s', '% roof', 'rel L2', 'state'];
  const right = new Set([1, 2, 3, 4]);
  type Row = { caseId: string; cells: string[]; note: string };
  const rows: Row[] = [];
  // Skipped pairs (a variant that does not apply to a layer) would drown the table: counted below instead.
  const skipped = run.results.filter((r) => r.state === 'skipped');
  let above100 = false;
  let theoreticalOnly = false;
  let nativeShown = false;
  for (const r of run.results) {
    if (r.state === 'skipped') continue;
    if (timed(r)) {
      // A native kernel is measured against its own (native) roof when its device has one: marked n.
      const native = r.perf.pctNative !== undefined;
      if (native) nativeShown = true;
      const pct = r.perf.pctNative ?? r.perf.pctMeasured ?? r.perf.pctTheoretical;
      if (pct !== undefined && pct > 100) above100 = true;
      if (r.perf.pctMeasured === undefined && r.perf.pctTheoretical !== undefined) theoreticalOnly = true;
      rows.push({
        caseId: r.caseId,
        cells: [
          r.variant,
          `${fmtMs(r.timing.stats.median)}${r.timing.noisy ? ' ~' : '  '}`,
          r.perf.gflops.toFixed(2),
          pct === undefined ? '-' : `${pct.toFixed(0)}%${native ? 'n' : ''}`,
          fmtNum(decodeFloat(r.accuracy.relL2), 2),
          r.state,
        ],
        note: '',
      });
    } else {
      rows.push({
        caseId: r.caseId,
        cells: [r.variant, '-', '-', '-', '-', r.state],
        note: r.state === 'errored' ? `in ${r.phase}: ${r.error.split('\n')[0] ?? ''}` : '',
      });
    }
  }
  const indent = '  ';
  // Nothing measured and every pair failed the same way (no SSH agent, the device locked): one line, not a row per pair.
  const errors = new Set(rows.map((r) => (r.cells[5] === 'errored' ? r.note : '')));
  if (rows.length > 1 && errors.size === 1 && !errors.has('')) {
    return wrap(`all ${rows.length} case x variant pairs errored ${[...errors][0]}`, width - indent.length)
      .map((l) => indent + l)
      .join('\n');
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r.cells[i] ?? '').length)));
  // Fit the width: the variant column gives way first (names are shortened in the middle).
  const fixed = widths.slice(1).reduce((a, b) => a + b, 0) + 2 * (header.length - 1) + indent.length;
  widths[0] = Math.max(12, Math.min(widths[0] ?? 0, width - fixed));
  const line = (cells: string[]) =>
    indent +
    cells
      .map((c, i) => {
        const w = widths[i] ?? 0;
        const t = i === 0 ? fit(c, w) : c;
        return right.has(i) ? t.padStart(w) : t.padEnd(w);
      })
      .join('  ')
      .trimEnd();
  const out = [line(header), indent + widths.map((w) => '-'.repeat(w)).join('  ')];
  const numbers = new Map<string, number>();
  for (const c of run.cases) if (!numbers.has(c.id)) numbers.set(c.id, numbers.size + 1);
  let lastCase: string | null = null;
  for (const r of rows) {
    if (r.caseId !== lastCase) {
      if (!numbers.has(r.caseId)) numbers.set(r.caseId, numbers.size + 1);
      out.push(fit(`#${numbers.get(r.caseId)} ${r.caseId}`, width));
      lastCase = r.caseId;
    }
    const text = line(r.cells);
    // The note is cut at its end: the row's variant and state stay readable.
    out.push(r.note ? `${text} ${r.note}`.slice(0, width - 1) + (text.length + 1 + r.note.length > width - 1 ? '…' : '') : text);
  }
  const legend: string[] = [];
  const noisy = run.results.some((r) => timed(r) && r.timing.noisy);
  if (noisy) legend.push(`~ noisy: coefficient of variation above ${(100 * run.options.cvTarget).toFixed(0)}%; treat as indicative.`);
  // A result on N threads (<name>@tN) is placed against the roof measured on N threads, not the one-thread roof.
  const threaded = run.results.some((r) => resultThreads(r) > 1);
  legend.push(
    `% roof: share of the ${theoreticalOnly ? 'theoretical' : 'measured'} roofline at the case's intensity` +
      (threaded ? ' (a @tN row: the roofline on N threads)' : '') +
      (above100
        ? `; above 100%: faster than the ${threaded ? '' : 'single-thread '}WebAssembly roof (native code using wider vectors, or a fast algorithm doing fewer FLOPs than the direct count).`
        : '.'),
  );
  if (nativeShown) legend.push("n: a native kernel's share of the native roof its device's probe measured.");
  legend.push('rel L2: relative L2 error against the float64 reference.');
  // Pairs the run never reached (interrupted) are not 'not applicable': say which is which.
  const counted = (list: typeof skipped) => {
    const byVariant = new Map<string, number>();
    for (const r of list) byVariant.set(r.variant, (byVariant.get(r.variant) ?? 0) + 1);
    return [...byVariant].map(([v, n]) => `${v} x${n}`).join(', ');
  };
  // An accuracy-only variant's result is skipped (never timed) but carries its accuracy.
  const unreached = skipped.filter((r) => r.reason.startsWith(NOT_MEASURED));
  const accuracyOnly = skipped.filter((r) => r.accuracy !== undefined);
  const notApplicable = skipped.filter((r) => !unreached.includes(r) && !accuracyOnly.includes(r));
  if (unreached.length) legend.push(`not measured (the run stopped before them): ${counted(unreached)}`);
  if (accuracyOnly.length) legend.push(`accuracy only, not timed (checked; in the report): ${counted(accuracyOnly)}`);
  if (notApplicable.length) legend.push(`skipped (not applicable; reasons in the report): ${counted(notApplicable)}`);
  out.push('', ...legend.flatMap((l) => wrap(l, width)));
  return out.join('\n');
}
