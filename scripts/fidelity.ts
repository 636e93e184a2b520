/**
 * Fidelity of the history tools on this machine (a measurement, not a test):
 *
 *  1. A/A with a CPU hog: pairs of `--quick` runs of the same code; during the
 *     second run of each pair the script starts a CPU hog (one busy process per
 *     core, --hog-procs) when the first case starts and stops it halfway
 *     through the cases. Counts every `regressed` or `improved` verdict: each
 *     is false (goal: 0). The hogged runs should come out contended, and
 *     compare then gives no timing verdict, saying why.
 *  2. Injected slowdown: pairs whose second run makes one variant slower
 *     (ROOFBENCH_TEST_FAULTS slowdown, default conv-im2col-gemm-f32 x 1.1);
 *     counts the pairs where the comparison flags that variant (goal on a quiet
 *     machine: >= 9 of 10). A pair with a contended run cannot count: the
 *     output says how many there were, i.e. whether the machine was quiet.
 *  3. Plain A/A (--plain-aa): pairs without a hog; false verdicts, and the same
 *     runs compared one after the other through a history store.
 *  4. Dashboard: a history of N synthetic runs x 20 series; times storing it,
 *     rendering the dashboard, and loading its pages in headless Chromium.
 *
 *   npx tsx scripts/fidelity.ts [--pairs 10] [--filter RE] [--variant V] [--factor 1.1] [--hog-procs N]
 *                                [--plain-aa] [--skip-hog] [--skip-slowdown] [--skip-dashboard] [--work DIR]
 *
 * Runs go to a scratch directory (--work, default a new temp dir); the user's
 * history store is not touched (ROOFBENCH_HISTORY points into the scratch
 * directory for the benches too). It ends with a summary to quote (machine,
 * load before and after, each figure against its goal) and writes
 * fidelity.json there.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, hostname, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readRun } from '../harness/results.js';
import { compareRuns, DEFAULT_COMPARE_OPTIONS, type RunComparison } from '../harness/history/compare.js';
import { HistoryStore, ROOT } from '../harness/history/store.js';
import { synthRuns } from '../test/helpers/synthetic.js';
import { renderDashboard } from '../harness/history/dashboard.js';

const { values } = parseArgs({
  options: {
    pairs: { type: 'string', default: '10' },
    filter: { type: 'string', default: 'res2b\\.branch2b|conv_pw_3' },
    variant: { type: 'string', default: 'conv-im2col-gemm-f32' },
    factor: { type: 'string', default: '1.1' },
    'hog-procs': { type: 'string', default: String(cpus().length) },
    'dashboard-runs': { type: 'string', default: '1000' },
    'plain-aa': { type: 'boolean', default: false },
    'skip-hog': { type: 'boolean', default: false },
    'skip-slowdown': { type: 'boolean', default: false },
    'skip-bench': { type: 'boolean', default: false },
    'skip-dashboard': { type: 'boolean', default: false },
    work: { type: 'string' },
  },
});
const pairs = Number(values.pairs);
const factor = Number(values.factor);
const hogProcs = Number(values['hog-procs']);
const dashRuns = Number(values['dashboard-runs']);
for (const [name, v, int] of [
  ['pairs', pairs, true],
  ['factor', factor, false],
  ['hog-procs', hogProcs, true],
  ['dashboard-runs', dashRuns, true],
] as const) {
  if (!(v > 0) || (int && !Number.isInteger(v))) {
    process.stderr.write(`fidelity: --${name} expects a positive ${int ? 'integer' : 'number'}, got "${String(v)}"\n`);
    process.exit(2);
  }
}
const work = resolve(values.work ?? mkdtempSync(join(tmpdir(), 'roofbench-fidelity-')));
mkdirSync(work, { recursive: true });
const log = (m: string) => process.stdout.write(`${m}\n`);

/** A CPU hog: one busy-looping process per requested core, stopped by its pids. */
class Hog {
  private procs: ChildProcess[] = [];
  start(): void {
    if (this.procs.length) return;
    for (let i = 0; i < hogProcs; i++) this.procs.push(spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }));
  }
  stop(): void {
    for (const p of this.procs.splice(0)) p.kill('SIGKILL');
  }
}

/**
 * One `bench --quick` run into `out`. With a hog, it runs from the first case's
 * start until half the cases have started (the script watches the JSON events).
 */
function bench(out: string, env: NodeJS.ProcessEnv = {}, hog?: Hog): Promise<{ code: number | null; ms: number }> {
  const t0 = Date.now();
  return new Promise((ok, fail) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'harness/cli.ts', 'bench', '--quick', '--filter', values.filter, '--no-ceilings', '--out', out, '--json'],
      { cwd: ROOT, env: { ...process.env, ROOFBENCH_HISTORY: join(work, 'bench-recorded.sqlite'), ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    let partial = '';
    child.stdout.on('data', (d: Buffer) => {
      partial += d.toString();
      let i: number;
      while ((i = partial.indexOf('\n')) >= 0) {
        const line = partial.slice(0, i);
        partial = partial.slice(i + 1);
        if (!hog || !line.startsWith('{')) continue;
        try {
          const e = JSON.parse(line) as { type?: string; index?: number; total?: number };
          if (e.type === 'case-start' && e.index === 0) hog.start();
          else if (e.type === 'case-start' && (e.index ?? 0) >= Math.ceil((e.total ?? 0) / 2)) hog.stop();
        } catch {
          /* not an event */
        }
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e) => {
      hog?.stop();
      fail(e);
    });
    child.on('close', (code) => {
      hog?.stop();
      if (!existsSync(join(out, 'results.json'))) fail(new Error(`bench wrote no results.json in ${out} (exit ${code}):\n${stderr}`));
      else ok({ code, ms: Date.now() - t0 });
    });
  });
}

interface PairOutcome {
  pair: number;
  seconds: number;
  counts: RunComparison['counts'];
  /** The target variant's series flagged regressed when the contention rule is set aside (the statistics alone). */
  targetRegressedIgnoringContention: number;
  /** Series with a verdict (regressed or improved). */
  verdicts: string[];
  contended: { a: boolean | null; b: boolean | null };
  withheld: string | null;
  target: {
    label: string;
    state: string;
    ratio: number | null;
    ciLow: number | null;
    ciHigh: number | null;
    p: number | null;
    runNoise: number | null;
    source: string | null;
  }[];
}

function outcome(pair: number, seconds: number, c: RunComparison, ignoring: RunComparison): PairOutcome {
  return {
    pair,
    seconds,
    counts: c.counts,
    targetRegressedIgnoringContention: ignoring.series.filter((s) => s.variant === values.variant && s.state === 'regressed').length,
    verdicts: c.series.filter((s) => s.state === 'regressed' || s.state === 'improved').map((s) => `${s.state} ${s.label}`),
    contended: { a: c.contention.base?.contended ?? null, b: c.contention.head?.contended ?? null },
    withheld: c.withheld,
    target: c.series
      .filter((s) => s.variant === values.variant)
      .map((s) => ({
        label: s.label,
        state: s.state,
        ratio: s.timing?.ratio ?? null,
        ciLow: s.timing?.ciLow ?? null,
        ciHigh: s.timing?.ciHigh ?? null,
        p: s.timing?.p ?? null,
        runNoise: s.timing?.runNoise ?? null,
        source: s.timing?.runNoiseSource ?? null,
      })),
  };
}

const pct = (r: number | null) => (r === null ? '—' : `${r >= 1 ? '+' : ''}${((r - 1) * 100).toFixed(1)}%`);
const yn = (x: boolean | null) => (x === null ? '?' : x ? 'contended' : 'quiet');

async function runPairs(kind: 'aa' | 'hog' | 'slow'): Promise<PairOutcome[]> {
  const out: PairOutcome[] = [];
  const faults = JSON.stringify({ slowdown: { variant: values.variant, factor } });
  for (let i = 1; i <= pairs; i++) {
    const t0 = Date.now();
    const a = join(work, `${kind}-${i}-a`);
    const b = join(work, `${kind}-${i}-b`);
    await bench(a);
    await bench(b, kind === 'slow' ? { ROOFBENCH_TEST_FAULTS: faults } : {}, kind === 'hog' ? new Hog() : undefined);
    const c = compareRuns({ run: readRun(a) }, { run: readRun(b) });
    const ignoring = compareRuns({ run: readRun(a) }, { run: readRun(b) }, { contentionLimit: Infinity });
    const o = outcome(i, (Date.now() - t0) / 1000, c, ignoring);
    out.push(o);
    log(
      `${kind.padEnd(4)} pair ${String(i).padStart(2)} (${o.seconds.toFixed(0)} s): runs ${yn(o.contended.a)} / ${yn(o.contended.b)}; ` +
        `${Object.entries(o.counts)
          .filter(([, n]) => n > 0)
          .map(([st, n]) => `${n} ${st}`)
          .join(', ')}; ` +
        `${values.variant}: ${o.target.map((t) => `${t.state} ${pct(t.ratio)} [${pct(t.ciLow)}, ${pct(t.ciHigh)}]`).join('; ')}` +
        (o.verdicts.length ? `; verdicts: ${o.verdicts.join(', ')}` : ''),
    );
  }
  return out;
}

/** The plain A/A runs in time order as one nightly history: each compared with the one before, through the store. */
function sequential(aa: PairOutcome[]): { comparisons: number; seriesCompared: number; verdicts: number; seriesWithHistoryNoise: number } {
  const hist = HistoryStore.open(join(work, 'aa-history.sqlite'));
  let seriesCompared = 0;
  let verdicts = 0;
  let fromHistory = 0;
  try {
    const dirs = aa.flatMap((o) => [join(work, `aa-${o.pair}-a`), join(work, `aa-${o.pair}-b`)]);
    const rows = dirs.map((d) => hist.insertRun(readRun(d), { source: d }).runRowId);
    for (let k = 1; k < rows.length; k++) {
      const b = hist.loadRun(rows[k - 1]!);
      const h = hist.loadRun(rows[k]!);
      const c = compareRuns({ run: b }, { run: h }, { ...hist.compareOptions, runNoiseOf: (key) => hist.runNoise(key, h.startedAt) });
      seriesCompared += c.series.length;
      verdicts += c.counts.regressed + c.counts.improved;
      fromHistory += c.series.filter((x) => x.timing?.runNoiseSource === 'history').length;
    }
  } finally {
    hist.close();
  }
  return { comparisons: 2 * aa.length - 1, seriesCompared, verdicts, seriesWithHistoryNoise: fromHistory };
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
    const extra = synthRuns({
      device: 'synth-a',
      runs: 1,
      cases: 10,
      variants: 2,
      seed: 99,
      start: new Date(Date.parse(runs[runs.length - 1]!.startedAt) + 86400_000).toISOString(),
      nodeUpgradeAt: 0,
    });
    t = performance.now();
    store.insertRun(extra[0]!, { refresh: true });
    const recordMs = performance.now() - t;
    t = performance.now();
    const chromium = [
      '/usr/bin/chromium',
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
      '--dump-dom',
    ];
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
  const load0 = loadavg();
  const started = new Date();
  log(`fidelity: work directory ${work}`);
  log(
    `machine: ${hostname()}, ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}; load average ${load0.map((x) => x.toFixed(2)).join(' / ')}`,
  );
  const result: Record<string, unknown> = {
    machine: { host: hostname(), cpus: cpus().length, model: cpus()[0]?.model ?? null, node: process.version, loadAvgAtStart: load0 },
    startedAt: started.toISOString(),
    settings: { compare: DEFAULT_COMPARE_OPTIONS, pairs, filter: values.filter, variant: values.variant, factor, hogProcs },
  };
  const summary: string[] = [];
  const contendedRuns = (os: PairOutcome[]) => os.reduce((n, o) => n + Number(o.contended.a === true) + Number(o.contended.b === true), 0);
  if (!values['skip-bench']) {
    if (!values['skip-hog']) {
      log(
        `A/A with a CPU hog (${hogProcs} busy processes during the first half of the cases of each pair's second run): ${pairs} pairs of --quick runs (filter ${values.filter})`,
      );
      const hog = await runPairs('hog');
      const falseVerdicts = hog.reduce((n, o) => n + o.verdicts.length, 0);
      const series = hog.reduce((n, o) => n + Object.values(o.counts).reduce((a, b) => a + b, 0), 0);
      const hogged = hog.filter((o) => o.contended.b === true).length;
      result.aaWithHog = {
        pairs: hog.length,
        seriesCompared: series,
        falseVerdicts,
        pairsWithFalseVerdict: hog.filter((o) => o.verdicts.length > 0).length,
        hoggedRunsMarkedContended: hogged,
        contendedRuns: contendedRuns(hog),
        outcomes: hog,
      };
      summary.push(
        `A/A with a CPU hog: ${falseVerdicts} false verdicts (regressed or improved) among ${series} series in ${hog.length} pairs (goal 0); ` +
          `the hogged run marked contended in ${hogged}/${hog.length} pairs; ${contendedRuns(hog)}/${2 * hog.length} runs contended in all`,
      );
    }
    if (!values['skip-slowdown']) {
      log(`slowdown: ${pairs} pairs, ${values.variant} x ${factor} in the second run, no hog`);
      const slow = await runPairs('slow');
      const caught = slow.filter((o) => o.target.length > 0 && o.target.every((t) => t.state === 'regressed')).length;
      const caughtAny = slow.filter((o) => o.target.some((t) => t.state === 'regressed')).length;
      const quietPairs = slow.filter((o) => o.contended.a === false && o.contended.b === false);
      const caughtQuiet = quietPairs.filter((o) => o.target.length > 0 && o.target.every((t) => t.state === 'regressed')).length;
      const collateral = slow.reduce((n, o) => n + o.verdicts.filter((l) => !l.includes(values.variant)).length, 0);
      const caughtIgnoring = slow.filter((o) => o.target.length > 0 && o.targetRegressedIgnoringContention === o.target.length).length;
      result.slowdown = {
        pairs: slow.length,
        variant: values.variant,
        factor,
        pairsCaughtAllSeries: caught,
        pairsCaughtAnySeries: caughtAny,
        quietPairs: quietPairs.length,
        caughtInQuietPairs: caughtQuiet,
        caughtIgnoringContention: caughtIgnoring,
        contendedRuns: contendedRuns(slow),
        otherSeriesWithVerdict: collateral,
        outcomes: slow,
      };
      summary.push(
        `${Math.round((factor - 1) * 100)}% slowdown of ${values.variant}: caught in ${caught}/${slow.length} pairs (every series of it; ${caughtAny}/${slow.length} at least one) (goal >= 9/10 on a quiet machine); ` +
          `${contendedRuns(slow)}/${2 * slow.length} runs contended${contendedRuns(slow) ? ` (their verdicts withheld: not a quiet machine); caught in ${caughtQuiet}/${quietPairs.length} pairs of quiet runs; the statistics alone, setting the contention rule aside, catch it in ${caughtIgnoring}/${slow.length}` : ' (a quiet machine)'}; ` +
          `${collateral} verdicts on other series`,
      );
    }
    if (values['plain-aa']) {
      log(`A/A without a hog: ${pairs} pairs of --quick runs`);
      const aa = await runPairs('aa');
      const falseVerdicts = aa.reduce((n, o) => n + o.verdicts.length, 0);
      const seq = sequential(aa);
      result.aa = { pairs: aa.length, falseVerdicts, contendedRuns: contendedRuns(aa), sequential: seq, outcomes: aa };
      summary.push(
        `A/A without a hog: ${falseVerdicts} false verdicts in ${aa.length} pairs (${contendedRuns(aa)}/${2 * aa.length} runs contended); ` +
          `as one nightly history: ${seq.verdicts} false verdicts among ${seq.seriesCompared} series (${seq.seriesWithHistoryNoise} used noise estimated from history)`,
      );
    }
  }
  if (!values['skip-dashboard']) {
    log(`dashboard: ${dashRuns} synthetic runs x 20 series`);
    const d = await dashboardTiming();
    result.dashboard = d;
    summary.push(
      `dashboard (${dashRuns} runs x 20 series): store ${Number(d.storeSeconds).toFixed(1)} s, render ${Number(d.renderSeconds).toFixed(1)} s, ` +
        `record one more run ${Number(d.recordOneRunSeconds).toFixed(2)} s, Chromium load of all pages ${Number(d.chromiumLoadSeconds).toFixed(1)} s (${d.chromiumLoadedOk ? 'ok' : 'FAILED'})`,
    );
  }
  const load1 = loadavg();
  result.loadAvgAtEnd = load1;
  result.summary = summary;
  writeFileSync(join(work, 'fidelity.json'), `${JSON.stringify(result, null, 1)}\n`);
  log('');
  log(`== roofbench fidelity, ${started.toISOString()} to ${new Date().toISOString()} ==`);
  log(
    `machine: ${hostname()}, ${cpus().length} CPUs, Node ${process.version}; load average at start ${load0.map((x) => x.toFixed(2)).join(' / ')}, at end ${load1.map((x) => x.toFixed(2)).join(' / ')}`,
  );
  for (const l of summary) log(`- ${l}`);
  log(`details: ${join(work, 'fidelity.json')}`);
}

main().catch((e: unknown) => {
  process.stderr.write(`fidelity: ${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
