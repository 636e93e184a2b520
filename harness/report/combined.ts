/**
 * The combined index of a multi-device bench (`--device a,b`): one page listing
 * every device's run with its status, result counts, ceilings and best
 * throughput, linking to each device's own report. Self-contained like the
 * per-run report (inline CSS, no scripts), every value autoescaped.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { isTimed, type RunResults } from '../../core/contracts.js';
import { ridgePoint } from '../../core/roofline.js';
import {} from './charts.js';
import * as f from './format.js';
import { environment, reportCss } from './render.js';

/** One device's outcome, as the bench command returns it (see DeviceRunResult in harness/bench.ts). */
export interface DeviceOutcome {
  device: string;
  dir: string;
  run: RunResults;
  reportPath: string;
}

export interface CombinedRow {
  device: string;
  href: string;
  profile: string;
  transport: string;
  emulated: boolean;
  status: string;
  statusDetail: string;
  counts: { state: string; count: number }[];
  noisy: number;
  peak: string;
  dram: string;
  ridge: string;
  best: string;
  cpu: string;
}

export function combinedRows(outcomes: readonly DeviceOutcome[], outDir: string): CombinedRow[] {
  return outcomes.map((o) => {
    const run = o.run;
    const timed = run.results.filter(isTimed);
    const m = run.ceilings.measured;
    const best = timed.reduce<(typeof timed)[number] | undefined>((a, b) => (!a || b.perf.gflops > a.perf.gflops ? b : a), undefined);
    return {
      device: o.device,
      href: relative(outDir, o.reportPath).split(sep).join('/'),
      profile: run.device.profile ?? 'none',
      transport: run.device.transport,
      emulated: run.device.emulated,
      status: run.status,
      statusDetail: run.statusDetail ?? '',
      counts: (['passed', 'inaccurate', 'errored', 'skipped'] as const).map((state) => ({
        state,
        count: run.results.filter((r) => r.state === state).length,
      })),
      noisy: timed.filter((r) => r.timing.noisy).length,
      peak: m ? `${f.sig(m.peakGflops, 3)} GFLOP/s` : f.DASH,
      dram: m ? `${f.sig(m.dramGbps, 3)} GB/s` : f.DASH,
      ridge: m && m.peakGflops > 0 && m.dramGbps > 0 ? `${f.sig(ridgePoint(m.peakGflops, m.dramGbps), 3)} FLOP/B` : f.DASH,
      best: best ? `${f.sig(best.perf.gflops, 3)} GFLOP/s: ${best.variant} on ${best.caseId}` : f.DASH,
      cpu: run.probe ? `${run.probe.cpu.brand} (${run.probe.cpu.arch}), ${run.probe.os.distro}, Node ${run.probe.runtime.node}` : 'not probed',
    };
  });
}

/** Write outDir/index.html linking every device's report; returns its path. */
export async function renderCombinedIndex(outcomes: readonly DeviceOutcome[], outDir: string): Promise<string> {
  const rows = combinedRows(outcomes, outDir);
  const runIds = [...new Set(outcomes.map((o) => o.run.runId))];
  const started = outcomes.map((o) => o.run.startedAt).sort()[0];
  let html: string;
  try {
    html = environment().render('combined.njk', {
      title: `roofbench: ${rows.length} device${rows.length === 1 ? '' : 's'}, run ${runIds.join(', ')}`,
      runIds,
      started: f.timestamp(started),
      rows,
      css: await reportCss(),
      generator: `roofbench ${outcomes[0]?.run.harness.version ?? ''}`.trim(),
    });
  } catch (cause) {
    throw new Error(`report: rendering the combined index for ${runIds.join(', ')} failed`, { cause });
  }
  const file = join(outDir, 'index.html');
  try {
    await mkdir(outDir, { recursive: true });
    await writeFile(file, html, 'utf8');
  } catch (cause) {
    throw new Error(`report: cannot write ${file}: check that the directory is writable`, { cause });
  }
  return file;
}
