/**
 * Fidelity of the history tools on this machine (a measurement, not a test):
 *
 *  1. A/A: pairs of `--quick` runs of the same code; counts series that the
 *     comparison (default settings) calls `regressed` - each one is a false alarm.
 *  2. Injected slowdown: pairs whose second run makes one variant slower
 *     (ROOFBENCH_TEST_FAULTS slowdown, default conv-im2col-gemm-f32 x 1.1);
 *     counts the pairs where the comparison flags that variant.
 *  3. Dashboard: a history of N synthetic runs x 20 series; times storing it,
 *     rendering the dashboard, and loading its pages in headless Chromium.
 *
 *   npx tsx scripts/fidelity.ts [--pairs 10] [--filter RE] [--variant V] [--factor 1.1]
 *                                [--dashboard-runs 1000] [--skip-bench] [--skip-dashboard] [--work DIR]
 *
 * Runs go to a scratch directory (--work, default a new temp dir); the user's
 * history store is not touched (ROOFBENCH_HISTORY points into the scratch
 * directory for the benches too). Prints a summary and writes fidelity.json there.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readRun } from '../harness/results.js';
import { compareRuns, DEFAULT_COMPARE_OPTIONS, type RunComparison } from '../harness/history/compare.js';
import { HistoryStore, ROOT } from '../harness/history/store.js';
import { synthRuns } from '../harness/history/synthetic.js';
import { renderDashboard } from '../harness/history/dashboard.js';

const { values } = parseArgs({
  options: {
    pairs: { type: 'string', default: '10' },
    filter: { type: 'string', default: 'res2b\\.branch2b|conv_pw_3' },
    variant: { type: 'string', default: 'conv-im2col-gemm-f32' },
    factor: { type: 'string', default: '1.1' },
    'dashboard-runs': { type: 'string', default: '1000' },
    'skip-bench': { type: 'boolean', default: false },
    'skip-dashboard': { type: 'boolean', default: false },
    work: { type: 'string' },
  },
});
const pairs = Number(values.pairs);
const factor = Number(values.factor);
const dashRuns = Number(values['dashboard-runs']);
const work = resolve(values.work ?? mkdtempSync(join(tmpdir(), 'roofbench-fidelity-')));
mkdirSync(work, { recursive: true });
const log = (m: string) => process.stdout.write(`${m}\n`);

function bench(out: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; ms: number }> {
  const t0 = Date.now();
  return new Promise((ok, fail) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'harness/cli.ts', 'bench', '--quick', '--filter', values.filter, '--no-ceilings', '--out', out, '--json'],
      { cwd: ROOT, env: { ...process.env, ROOFBENCH_HISTORY: join(work, 'bench-recorded.sqlite'), ...env }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', fail);
    child.on('close', (code) => {
      if (!existsSync(join(out, 'results.json'))) fail(new Error(`bench wrote no results.json in ${out} (exit ${code}):\n${stderr}`));
      else ok({ code, ms: Date.now() - t0 });
    });
  });
}

interface PairOutcome {
  pair: number;
  seconds: number;
  counts: RunComparison['counts'];
  regressed: string[];
  /** Regressed when the run-to-run noise term is left out (runNoise 0): what the rank statistics alone would say. */
  regressedWithinOnly: string[];
  target: { label: string; state: string; ratio: number | null; ciLow: number | null; ciHigh: number | null; p: number | null }[];
}

function outcome(pair: number, seconds: number, c: RunComparison, within: RunComparison): PairOutcome {
  return {
    pair,
    seconds,
    counts: c.counts,
    regressed: c.series.filter((s) => s.state === 'regressed').map((s) => s.label),
    regressedWithinOnly: within.series.filter((s) => s.state === 'regressed').map((s) => s.label),
    target: c.series
      .filter((s) => s.variant === values.variant)
      .map((s) => ({ label: s.label, state: s.state, ratio: s.timing?.ratio ?? null, ciLow: s.timing?.ciLow ?? null, ciHigh: s.timing?.ciHigh ?? null, p: s.timing?.p ?? null })),
  };
}

const pct = (r: number | null) => (r === null ? '—' : `${r >= 1 ? '+' : ''}${((r - 1) * 100).toFixed(1)}%`);

async function runPairs(kind: 'aa' | 'slow'): Promise<PairOutcome[]> {
  const out: PairOutcome[] = [];
  const faults = JSON.stringify({ slowdown: { variant: values.variant, factor } });
  for (let i = 1; i <= pairs; i++) {
    const t0 = Date.now();
    const a = join(work, `${kind}-${i}-a`);
    const b = join(work, `${kind}-${i}-b`);
    await bench(a);
    await bench(b, kind === 'slow' ? { ROOFBENCH_TEST_FAULTS: faults } : {});
    const c = compareRuns({ run: readRun(a) }, { run: readRun(b) });
    const within = compareRuns({ run: readRun(a) }, { run: readRun(b) }, { runNoise: 0 });
    const o = outcome(i, (Date.now() - t0) / 1000, c, within);
    out.push(o);
    log(
      `${kind === 'aa' ? 'A/A ' : 'slow'} pair ${String(i).padStart(2)} (${o.seconds.toFixed(0)} s): ` +
        `${Object.entries(o.counts).filter(([, n]) => n > 0).map(([s, n]) => `${n} ${s}`).join(', ')}; ` +
        `${values.variant}: ${o.target.map((t) => `${t.state} ${pct(t.ratio)} [${pct(t.ciLow)}, ${pct(t.ciHigh)}]`).join('; ')}` +
        (o.regressed.length ? `; regressed: ${o.regressed.join(', ')}` : '') +
      (o.regressedWithinOnly.length !== o.regressed.length ? ` (without run-to-run noise: ${o.regressedWithinOnly.length} regressed)` : ''),
    );
  }
  return out;
}

async function dashboardTiming(): Promise<Record<string, number | boolean | string>> {
  const file = join(work, 'dashboard-history.sqlite');
  const store = HistoryStore.open(file);
  try {
    let t = performance.now();
    const runs = synthRuns({
      device: 'synth-a',
      runs: dashRuns,
      cases: 10,
      variants: 2,
      seed: 7,
      steps: [{ match: 'conv-im2col-gemm-f32', atRun: Math.floor(dashRuns * 0.7), factor: 1.12 }],
      nodeUpgradeAt: Math.floor(dashRuns * 0.4),
      failedRuns: [Math.floor(dashRuns / 3)],
    });
    const synthMs = performance.now() - t;
    t = performance.now();
    for (const r of runs) store.insertRun(r, { refresh: false });
    store.refreshDirty();
    const storeMs = performance.now() - t;
    t = performance.now();
    const out = await renderDashboard(store, { outDir: join(work, 'dashboard'), now: new Date(runs[runs.length - 1]!.finishedAt!) });
    const renderMs = performance.now() - t;
    // One record-on-insert as bench does it, on the full history.
    const extra = synthRuns({ device: 'synth-a', runs: 1, cases: 10, variants: 2, seed: 99, start: new Date(Date.parse(runs[runs.length - 1]!.startedAt) + 86400_000).toISOString(), nodeUpgradeAt: 0 });
    t = performance.now();
    store.insertRun(extra[0]!, { refresh: true });
    const recordMs = performance.now() - t;
    t = performance.now();
    const chromium = ['/usr/bin/chromium', '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run', '--disable-component-update', '--disable-sync', '--dump-dom'];
    let loadedOk = true;
    for (const page of [out.index, ...out.devicePages]) {
      const r = spawnSync(chromium[0]!, [...chromium.slice(1), `file://${page}`], { encoding: 'utf8', timeout: 120_000, maxBuffer: 256 * 1024 * 1024 });
      const needsSvg = page !== out.index;
      if (r.status !== 0 || !r.stdout.includes('<table') || (needsSvg && !r.stdout.includes('<svg'))) loadedOk = false;
    }
    const chromiumMs = performance.now() - t;
    return {
      runs: dashRuns,
      seriesPerRun: 20,
      synthSeconds: synthMs / 1000,
      storeSeconds: storeMs / 1000,
      renderSeconds: renderMs / 1000,
      recordOneRunSeconds: recordMs / 1000,
      chromiumLoadSeconds: chromiumMs / 1000,
      chromiumLoadedOk: loadedOk,
      dashboard: out.index,
    };
  } finally {
    store.close();
  }
}

async function main(): Promise<void> {
  log(`fidelity: work directory ${work}`);
  const result: Record<string, unknown> = { machine: { cpus: cpus().length, node: process.version }, settings: DEFAULT_COMPARE_OPTIONS };
  if (!values['skip-bench']) {
    log(`A/A: ${pairs} pairs of --quick runs (filter ${values.filter})`);
    const aa = await runPairs('aa');
    log(`slowdown: ${pairs} pairs, ${values.variant} x ${factor} in the second run`);
    const slow = await runPairs('slow');
    const falseAlarms = aa.reduce((n, o) => n + o.regressed.length, 0);
    const falseAlarmsWithin = aa.reduce((n, o) => n + o.regressedWithinOnly.length, 0);
    // The A/A runs in time order form a history of one code version: compare each run with the one
    // before it through the store, as the nightly job does (run-to-run noise estimated from the history).
    const hist = HistoryStore.open(join(work, 'aa-history.sqlite'));
    let seqCompared = 0;
    let seqRegressed = 0;
    let seqFromHistory = 0;
    try {
      const dirs = aa.flatMap((o) => [join(work, `aa-${o.pair}-a`), join(work, `aa-${o.pair}-b`)]);
      const rows = dirs.map((d) => hist.insertRun(readRun(d), { source: d }).runRowId);
      for (let k = 1; k < rows.length; k++) {
        const b = hist.loadRun(rows[k - 1]!);
        const h = hist.loadRun(rows[k]!);
        const c = compareRuns({ run: b }, { run: h }, { ...hist.compareOptions, runNoiseOf: (key) => hist.runNoise(key, h.startedAt) });
        seqCompared += c.series.length;
        seqRegressed += c.counts.regressed;
        seqFromHistory += c.series.filter((x) => x.timing?.runNoiseSource === 'history').length;
      }
    } finally {
      hist.close();
    }
    const aaSeries = aa.reduce((n, o) => n + Object.values(o.counts).reduce((a, b) => a + b, 0), 0);
    const flaggedAll = slow.filter((o) => o.target.length > 0 && o.target.every((t) => t.state === 'regressed')).length;
    const flaggedAny = slow.filter((o) => o.target.some((t) => t.state === 'regressed')).length;
    const targetSeries = slow.reduce((n, o) => n + o.target.length, 0);
    const targetFlagged = slow.reduce((n, o) => n + o.target.filter((t) => t.state === 'regressed').length, 0);
    const collateral = slow.reduce((n, o) => n + o.regressed.filter((l) => !l.includes(values.variant)).length, 0);
    result.aa = {
      pairs: aa.length,
      seriesCompared: aaSeries,
      falseRegressed: falseAlarms,
      pairsWithFalseRegression: aa.filter((o) => o.regressed.length > 0).length,
      falseRegressedWithoutRunNoise: falseAlarmsWithin,
      sequential: { comparisons: 2 * aa.length - 1, seriesCompared: seqCompared, falseRegressed: seqRegressed, seriesWithHistoryNoise: seqFromHistory },
      outcomes: aa,
    };
    result.slowdown = { pairs: slow.length, variant: values.variant, factor, pairsFlaggedAllSeries: flaggedAll, pairsFlaggedAnySeries: flaggedAny, targetSeries, targetSeriesFlagged: targetFlagged, otherSeriesRegressed: collateral, outcomes: slow };
    log('');
    log(`A/A:      ${falseAlarms} false 'regressed' among ${aaSeries} series compared in ${aa.length} pairs (${aa.filter((o) => o.regressed.length > 0).length} pairs with any)`);
    log(`          without the run-to-run noise term (rank statistics alone): ${falseAlarmsWithin} false 'regressed'`);
    log(`          the ${2 * aa.length} A/A runs as one nightly history (each vs the one before, via the store): ${seqRegressed} false 'regressed' among ${seqCompared} series (${seqFromHistory} used noise estimated from history)`);
    log(`slowdown: ${values.variant} x ${factor} flagged in ${flaggedAll}/${slow.length} pairs (every series of it), ${flaggedAny}/${slow.length} (at least one); ${targetFlagged}/${targetSeries} series; other series regressed: ${collateral}`);
  }
  if (!values['skip-dashboard']) {
    log(`dashboard: ${dashRuns} synthetic runs x 20 series`);
    const d = await dashboardTiming();
    result.dashboard = d;
    log(
      `dashboard: store ${Number(d.storeSeconds).toFixed(1)} s, render ${Number(d.renderSeconds).toFixed(1)} s, ` +
        `record one more run ${Number(d.recordOneRunSeconds).toFixed(2)} s, Chromium load of all pages ${Number(d.chromiumLoadSeconds).toFixed(1)} s (${d.chromiumLoadedOk ? 'ok' : 'FAILED'})`,
    );
  }
  writeFileSync(join(work, 'fidelity.json'), `${JSON.stringify(result, null, 1)}\n`);
  log(`details: ${join(work, 'fidelity.json')}`);
}

main().catch((e: unknown) => {
  process.stderr.write(`fidelity: ${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
