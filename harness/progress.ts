/**
 * What the user sees while a run goes: a progress bar on a terminal, one plain
 * line per case when not a TTY, or the raw JSON-lines events with --json.
 */
import cliProgress from 'cli-progress';
import { decodeFloat, type CaseResult, type RunnerEvent, type RunResults } from './contracts.js';

export type ProgressMode = 'tty' | 'plain' | 'json';

export function fmtMs(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  if (ms >= 0.1) return `${ms.toFixed(3)} ms`;
  return `${(ms * 1000).toFixed(1)} us`;
}

export function fmtNum(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1e4 || a < 1e-3) return x.toExponential(digits - 1);
  return x.toPrecision(digits);
}

function shortResult(r: CaseResult): string {
  if (r.state === 'skipped') return `${r.variant}: skipped (${r.reason})`;
  if (r.state === 'errored') return `${r.variant}: ERRORED in ${r.phase}: ${r.error}`;
  const noisy = r.timing.noisy ? ` noisy cv=${(100 * r.timing.stats.cv).toFixed(1)}%` : '';
  return `${r.variant}: ${fmtMs(r.timing.stats.median)} ${r.perf.gflops.toFixed(2)} GFLOP/s ${r.state}${noisy}`;
}

export class Progress {
  private bar: cliProgress.SingleBar | null = null;
  private current: { caseId: string; index: number; total: number } | null = null;
  private pending: CaseResult[] = [];

  constructor(
    private readonly mode: ProgressMode,
    private readonly device: string,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {}

  static modeFor(json: boolean, stream: NodeJS.WriteStream = process.stderr): ProgressMode {
    if (json) return 'json';
    return stream.isTTY ? 'tty' : 'plain';
  }

  info(msg: string): void {
    if (this.mode === 'json') {
      process.stdout.write(`${JSON.stringify({ type: 'host-log', device: this.device, message: msg })}\n`);
    } else if (this.bar) {
      this.bar.update({ phase: msg });
    } else {
      this.out.write(`[${this.device}] ${msg}\n`);
    }
  }

  event(e: RunnerEvent, result: CaseResult | null): void {
    if (this.mode === 'json') {
      process.stdout.write(`${JSON.stringify({ device: this.device, ...e, ...(result ? { result } : {}) })}\n`);
      return;
    }
    switch (e.type) {
      case 'phase':
        if (this.bar) this.bar.update({ phase: `${e.phase}${e.detail ? ` ${e.detail}` : ''}` });
        else if (e.phase === 'ceilings') this.out.write(`[${this.device}] measuring the device's ceilings (peak, bandwidth sweep)\n`);
        break;
      case 'case-start':
        this.flushCase();
        this.current = { caseId: e.caseId, index: e.index, total: e.total };
        if (this.mode === 'tty') {
          if (!this.bar) {
            this.bar = new cliProgress.SingleBar(
              {
                format: `${this.device} [{bar}] {value}/{total} cases | {case} | {phase}`,
                hideCursor: true,
                clearOnComplete: true,
                stream: this.out,
                barsize: 24,
              },
              cliProgress.Presets.shades_classic,
            );
            this.bar.start(e.total, e.index, { case: e.caseId, phase: '' });
          }
          this.bar.update(e.index, { case: e.caseId, phase: '' });
        }
        break;
      case 'result':
        if (result) this.pending.push(result);
        if (result?.state === 'errored' && this.mode === 'tty') this.bar?.update({ phase: `errored: ${result.variant}` });
        break;
      case 'ceilings':
        if (this.mode === 'plain') {
          this.out.write(
            `[${this.device}] measured peak ${e.measured.peakGflops.toFixed(1)} GFLOP/s (f32 SIMD, 1 thread), DRAM ${e.measured.dramGbps.toFixed(1)} GB/s\n`,
          );
        }
        break;
      case 'log':
        if (this.bar) this.bar.update({ phase: e.message });
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
    if (this.mode === 'plain') {
      const { index, total, caseId } = this.current;
      this.out.write(`[${this.device}] [${index + 1}/${total}] ${caseId}: ${this.pending.map(shortResult).join(' | ')}\n`);
    } else if (this.bar) {
      this.bar.update(this.current.index + 1);
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

/** The closing summary table: case, variant, median, GFLOP/s, % of roofline, accuracy state. */
export function summaryTable(run: RunResults): string {
  const header = ['case', 'variant', 'median', 'GFLOP/s', '% roofline', 'rel L2', 'state'];
  const rows: string[][] = [];
  // Skipped pairs (a variant that does not apply to a layer) would drown the table: counted below instead.
  const skipped = run.results.filter((r) => r.state === 'skipped');
  for (const r of run.results) {
    if (r.state === 'skipped') continue;
    if (r.state === 'passed' || r.state === 'inaccurate') {
      const pct = r.perf.pctMeasured ?? r.perf.pctTheoretical;
      rows.push([
        r.caseId,
        r.variant,
        `${fmtMs(r.timing.stats.median)}${r.timing.noisy ? ' ~' : ''}`,
        r.perf.gflops.toFixed(2),
        pct === undefined ? '-' : `${pct.toFixed(0)}%`,
        fmtNum(decodeFloat(r.accuracy.relL2), 2),
        r.state,
      ]);
    } else {
      const why = r.state === 'errored' ? `${r.phase}: ${r.error}` : '';
      rows.push([r.caseId, r.variant, '-', '-', '-', '-', `${r.state} (${why.length > 60 ? `${why.slice(0, 57)}...` : why})`]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const right = new Set([2, 3, 4, 5]);
  const line = (cells: string[]) =>
    cells.map((c, i) => (right.has(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
  const noisy = run.results.some((r) => (r.state === 'passed' || r.state === 'inaccurate') && r.timing.noisy);
  if (noisy) out.push(`~ noisy: coefficient of variation above ${(100 * run.options.cvTarget).toFixed(0)}%; treat as indicative`);
  if (skipped.length) {
    const byVariant = new Map<string, number>();
    for (const r of skipped) byVariant.set(r.variant, (byVariant.get(r.variant) ?? 0) + 1);
    out.push(
      `skipped (not applicable; reasons in the report): ${[...byVariant].map(([v, n]) => `${v} x${n}`).join(', ')}`,
    );
  }
  return out.join('\n');
}
