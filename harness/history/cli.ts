/**
 * roofbench history: the store of every run, comparisons and the dashboard.
 *
 *   npm run history -- <command> [options]      (npx roofbench history <command>)
 *   npm run compare -- latest previous --device rpi3
 *   npm run dashboard
 *
 * Exit codes: 0 fine; 1 a regression (compare) or a file that failed to import; 2 an error (usage, a run
 * that does not exist, an unreadable store).
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs, suggestion } from '../suggest.js';
import type { RunResults } from '../../core/contracts.js';
import { readRun, RESULTS_FILE } from '../results.js';
import {
  compareRuns,
  DEFAULT_COMPARE_OPTIONS,
  formatMarkdown,
  formatTable,
  runRef,
  sameMeasurement,
  toJson,
  type AnnotationRef,
  type RunRef,
} from './compare.js';
import { historyPath, HistoryStore, NoSuchRunError, storeError, type RunRow } from './store.js';
import { ImportPathError, importRuns, type ImportSummary } from './importer.js';
import { checkCommit } from './record.js';

class UsageError extends Error {
  override name = 'UsageError';
}

const COMMON_HELP = `common options:
  --history FILE       the store (default: $ROOFBENCH_HISTORY, else reports/history.sqlite)
  --device NAME        the device, for latest / previous / run ids and listings
  -h, --help           this text
`;

const COMPARE_OPTIONS_HELP = `  --threshold T        practical threshold on the ratio head/base: 3% or 0.03 (default: the store's, 3%)
  --alpha A            significance level of the Mann-Whitney test (default: the store's, 0.01)
  --min-samples N      fewer samples on a side: noisy (default 5)
  --run-noise X        run-to-run noise assumed for a series without enough history: 1% or 0.01 (default 1%);
                       series with 8+ stored runs use their own, estimated from their history
  --guard Q            contention guard: the Q quantile (fast end) must move beyond the threshold too
                       (default 0.1; 0 turns it off)
`;

/** Per-command help: \`npm run compare -- --help\` shows compare's, \`npm run history -- --help\` the overview. */
const HELPS: Record<string, string> = {
  history: `roofbench history: every run stored, compared with what came before, and a dashboard

usage: npm run history -- <command> [options]      (npx roofbench history <command> ...)

commands:
  import <dir|results.json>...   store existing runs
  compare <run> <run>            compare two runs series by series (also: npm run compare -- ...)
  dashboard                      write the static dashboard (also: npm run dashboard)
  annotate <device> <message>    mark a known change: a new baseline from here
  list                           stored runs, newest first
  series                         the series of a device and their last comparison
  recompute                      keep new comparison / change-point settings and recompute every series
  export <run>                   print a stored run as results.json
  info                           the store's path, schema version, counts and settings

Each command's options: npm run history -- <command> --help

${COMMON_HELP}`,
  import: `usage: npm run history -- import <dir|results.json>... [--commit SHA] [--include-running] [--recursive]

  store existing runs; a run already stored (same device and run id) is skipped. A directory
  is searched for results.json in itself, its subdirectories and theirs (a run directory,
  reports/<device>/, reports/); a directory with none there is an error.

  --commit SHA         the commit under test (filled in on runs stored without one)
  --include-running    also store runs still marked running
  --recursive          search directories at any depth

${COMMON_HELP}`,
  compare: `usage: npm run compare -- <run> <run> [options]      (npx roofbench compare ...)

  compare two runs series by series; the older of the two is the baseline. A run is latest, previous,
  latest~N, a run id, #ROWID (with --device for the store's), or a results.json / run directory.
  \`previous\` is the newest earlier complete run that measured the same thing as the other run (same
  options, size, cases and variants), else the newest earlier complete one, and the output says how they
  differ. Exit 1 when anything regressed, or when the newer run measured none of the older run's series
  (an interrupted run: nothing compared is not a pass); a contended run or noisy series gives no timing
  verdict (exit 0 for that reason alone, saying why).

  e.g. npm run compare -- latest previous --device rpi3 --format markdown --out comment.md

options:
  --format F           table (default), markdown (for a CI comment) or json
  --out FILE           write the output to FILE instead of stdout
${COMPARE_OPTIONS_HELP}  --contention-limit C other processes' CPU, in cores, above which a run counts as contended and its
                       timings give no verdict (default: 0.5, or 10% of the cores above 5 cores)
  --across-identity    line series up across a device identity change (e.g. a Node upgrade)
  --all                list unchanged series too
  --if-exists          exit 0 with a note when a run does not exist (a device's first night)

${COMMON_HELP}`,
  dashboard: `usage: npm run dashboard -- [--out DIR] [--now ISO]      (npx roofbench dashboard ...)

  write the static dashboard (an index and one page per device: no server, no scripts) from the history store.

options:
  --out DIR            where to write (default reports/dashboard)
  --now ISO            the time ages are measured from (default: now)

${COMMON_HELP}`,
  annotate: `usage: npm run history -- annotate <device> <message> [--at ISO | --run RUN] [--series KEY]

  mark a known change (new kernel build, new OS ...): runs from then on form a new baseline.

  --at ISO             when the change happened (default: now)
  --run RUN            at the start of this run (latest, a run id ...)
  --series KEY         only this series (a key from \`series\`), not the whole device

${COMMON_HELP}`,
  list: `usage: npm run history -- list [--device NAME] [--limit N] [--json]

  stored runs, newest first (at most N, default 50).

${COMMON_HELP}`,
  series: `usage: npm run history -- series [--device NAME] [--json]

  the series of a device (or all) and their last comparison.

${COMMON_HELP}`,
  recompute: `usage: npm run history -- recompute [options]

  keep new comparison / change-point settings in the store and recompute every series.

options:
${COMPARE_OPTIONS_HELP}  --min-segment N      change points: fewest runs in a segment (default 5)
  --min-change X       change points: smallest relative step kept, 5% or 0.05 (default 5%)
  --penalty P          change points: penalty factor of the PELT cost (default 3, times ln n)

${COMMON_HELP}`,
  export: `usage: npm run history -- export <run> [--device NAME] [--out FILE]

  print a stored run (latest, a run id, #ROWID) as results.json.

${COMMON_HELP}`,
  info: `usage: npm run history -- info

  the store's path, schema version, counts and settings.

${COMMON_HELP}`,
};
const COMMANDS = Object.keys(HELPS).filter((c) => c !== 'history');

/** A fraction given as "3%" or "0.03". */
function fraction(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const pct = v.trim().endsWith('%');
  const n = Number(pct ? v.trim().slice(0, -1) : v);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`--${name} expects a fraction like 0.03 or a percentage like 3%, got "${v}"`);
  const x = pct ? n / 100 : n;
  if (x >= 1) throw new UsageError(`--${name} ${v} is 100% or more; give a fraction like 0.03 or a percentage like 3%`);
  return x;
}

function positive(name: string, v: string | undefined, integer = false): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${name} expects a positive ${integer ? 'integer' : 'number'}, got "${v}"`);
  }
  return n;
}

function isoTime(name: string, v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw new UsageError(`--${name} expects an ISO date/time (e.g. 2025-03-14T09:00:00Z), got "${v}"`);
  return d.toISOString();
}

const COMMON = {
  history: { type: 'string' },
  device: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** The store the command opened last: an SQLite error later on names it. */
let openedStore: string | null = null;

/** The store; `readonly` for the commands that only read it (they work on a store the user cannot write). */
function openStore(file: string | undefined, readonly = false): HistoryStore {
  openedStore = historyPath(file);
  // A command that only reads never creates a store: a mistyped --history gets an error, not an empty new file.
  if (readonly && !existsSync(openedStore)) {
    throw new UsageError(
      `no history store at ${openedStore}: nothing was stored there yet (npm run bench stores each run; npm run history -- import reports/ imports existing ones); check --history / ROOFBENCH_HISTORY`,
    );
  }
  return HistoryStore.open(openedStore, { readonly });
}

function table(rows: string[][], head: string[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [fmt(head), fmt(head.map((_, i) => '-'.repeat(widths[i]!))), ...rows.map(fmt)].join('\n');
}

// ---------------------------------------------------------------------------
// import
// ---------------------------------------------------------------------------

function cmdImport(argv: string[]): number {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...COMMON, 'include-running': { type: 'boolean', default: false }, recursive: { type: 'boolean', default: false }, commit: { type: 'string' } },
  });
  if (values.help) return help('import');
  if (positionals.length === 0) throw new UsageError('import: give one or more run directories or results.json files (e.g. reports/)');
  let commit: string | null = null;
  if (values.commit !== undefined) {
    try {
      commit = checkCommit(values.commit);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
  const store = openStore(values.history);
  try {
    let s: ImportSummary;
    try {
      s = importRuns(store, positionals, { includeRunning: values['include-running'], commit, recursive: values.recursive });
    } catch (e) {
      if (e instanceof ImportPathError) throw new UsageError(e.message);
      throw e;
    }
    for (const l of s.lines) process.stdout.write(`${l}\n`);
    process.stdout.write(`${s.stored} stored, ${s.already} already present, ${s.skipped} skipped, ${s.failed} failed; store: ${store.path}\n`);
    return s.failed > 0 ? 1 : 0;
  } finally {
    store.close();
  }
}

// ---------------------------------------------------------------------------
// compare
// ---------------------------------------------------------------------------

interface Side {
  run: RunResults;
  ref: RunRef;
  row?: RunRow;
}

function looksLikePath(spec: string): boolean {
  return existsSync(spec) && (spec.endsWith('.json') || existsSync(join(spec, RESULTS_FILE)));
}

/**
 * The newest complete run of `other`'s device that started before it and
 * measured the same thing (sameMeasurement), with how many newer complete runs
 * it passed over; null when none of the last 50 does (then `previous` keeps its
 * plain meaning and the comparison lists the differences).
 */
function previousLike(store: HistoryStore, other: Side): { side: Side; skipped: number } | null {
  if (!other.row) return null;
  const older = store
    .runs({ device: other.row.device })
    .filter((r) => r.id !== other.row?.id && r.started_at < other.run.startedAt && r.status === 'complete')
    .slice(0, 50);
  for (const [i, row] of older.entries()) {
    const run = store.loadRun(row.id);
    if (sameMeasurement(run, other.run))
      return { side: { run, row, ref: runRef(run, { commit: row.commit_sha ?? row.harness_commit, rowId: row.id }) }, skipped: i };
  }
  return null;
}

function cmdCompare(argv: string[]): number {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...COMMON,
      format: { type: 'string', default: 'table' },
      out: { type: 'string' },
      threshold: { type: 'string' },
      alpha: { type: 'string' },
      'min-samples': { type: 'string' },
      'run-noise': { type: 'string' },
      guard: { type: 'string' },
      'contention-limit': { type: 'string' },
      'across-identity': { type: 'boolean', default: false },
      all: { type: 'boolean', default: false },
      'if-exists': { type: 'boolean', default: false },
    },
  });
  if (values.help) return help('compare');
  if (positionals.length !== 2) throw new UsageError(`compare needs two runs (e.g. latest previous --device rpi3), got ${positionals.length}`);
  const format = values.format;
  if (format !== 'table' && format !== 'markdown' && format !== 'json') throw new UsageError(`--format must be table, markdown or json, got "${format}"`);
  const threshold = fraction('threshold', values.threshold);
  const alpha = fraction('alpha', values.alpha);
  const minSamples = positive('min-samples', values['min-samples'], true);
  const runNoise = fraction('run-noise', values['run-noise']);
  const guardQuantile = fraction('guard', values.guard);
  const contentionLimit = positive('contention-limit', values['contention-limit']);
  let store: HistoryStore | null = null;
  const getStore = () => (store ??= openStore(values.history, true));
  try {
    const sides: Side[] = [];
    const notes: string[] = [];
    // `previous` is resolved last, against the other run: the newest earlier run that measured the same thing.
    const order = positionals.map((spec, i) => ({ spec, i })).sort((a, b) => Number(a.spec === 'previous') - Number(b.spec === 'previous'));
    for (const { spec } of order) {
      const other = sides[0];
      if (spec === 'previous' && other?.row && !looksLikePath(spec)) {
        const like = previousLike(getStore(), other);
        if (like) {
          if (like.skipped > 0)
            notes.push(
              `previous: the newest earlier complete run that measured the same thing (${like.skipped} newer run(s) with other options, cases or variants passed over)`,
            );
          sides.push(like.side);
          continue;
        }
      }
      if (looksLikePath(spec)) {
        const run = readRun(resolve(spec));
        sides.push({ run, ref: runRef(run, { file: resolve(spec) }) });
        continue;
      }
      let row: RunRow;
      try {
        row = getStore().resolveRun(spec, values.device);
      } catch (e) {
        if (e instanceof NoSuchRunError && values['if-exists']) {
          const note = `nothing to compare: ${e.message}\n`;
          if (values.out) writeFileSync(values.out, format === 'json' ? `${JSON.stringify({ nothingToCompare: e.message })}\n` : note);
          process.stdout.write(note);
          return 0;
        }
        if (e instanceof NoSuchRunError) throw e;
        throw new UsageError((e as Error).message);
      }
      const run = getStore().loadRun(row.id);
      sides.push({ run, row, ref: runRef(run, { commit: row.commit_sha ?? row.harness_commit, rowId: row.id }) });
    }
    const [a, b] = sides as [Side, Side];
    if (a.ref.rowId !== undefined && a.ref.rowId === b.ref.rowId) {
      throw new UsageError(`both runs are the same run (${a.ref.device} ${a.ref.runId}); compare two different runs`);
    }
    const [base, head] = a.run.startedAt <= b.run.startedAt ? [a, b] : [b, a];
    const options = store ? { ...(store as HistoryStore).compareOptions } : { ...DEFAULT_COMPARE_OPTIONS };
    let annotations: AnnotationRef[] = [];
    if (store && base.row && head.row && base.row.device === head.row.device) {
      annotations = (store as HistoryStore)
        .annotationsBetween(head.row.device, base.run.startedAt, head.run.startedAt)
        .map((x) => ({ device: x.device, at: x.at, message: x.message, seriesKey: x.series_key }));
    }
    const st = store as HistoryStore | null;
    const runNoiseOf = st && head.row ? (key: string) => st.runNoise(key, head.run.startedAt) : undefined;
    const cmp = compareRuns(base, head, {
      ...(runNoiseOf ? { runNoiseOf } : {}),
      ...options,
      ...(threshold !== undefined ? { threshold } : {}),
      ...(alpha !== undefined ? { alpha } : {}),
      ...(minSamples !== undefined ? { minSamples } : {}),
      ...(runNoise !== undefined ? { runNoise } : {}),
      ...(guardQuantile !== undefined ? { guardQuantile } : {}),
      ...(contentionLimit !== undefined ? { contentionLimit } : {}),
      acrossIdentity: values['across-identity'],
      annotations,
    });
    cmp.notes.unshift(...notes);
    const text =
      format === 'json'
        ? `${JSON.stringify(toJson(cmp), null, 1)}\n`
        : format === 'markdown'
          ? formatMarkdown(cmp, { all: values.all })
          : formatTable(cmp, { all: values.all });
    if (values.out) {
      writeFileSync(values.out, text);
      const verdict =
        cmp.regressions > 0 ? `${cmp.regressions} regressed` : cmp.nothingCompared ? `nothing compared (${cmp.nothingCompared})` : 'no regression';
      process.stdout.write(`wrote ${values.out}: ${verdict}\n`);
    } else {
      process.stdout.write(text);
    }
    return cmp.regressions > 0 || cmp.nothingCompared ? 1 : 0;
  } finally {
    (store as HistoryStore | null)?.close();
  }
}

// ---------------------------------------------------------------------------
// dashboard, annotate, list, series, recompute, export, info
// ---------------------------------------------------------------------------

async function cmdDashboard(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...COMMON, out: { type: 'string' }, now: { type: 'string' } },
  });
  if (values.help) return help('dashboard');
  if (positionals.length) throw new UsageError(`dashboard takes no arguments (got ${positionals.join(' ')}); use --out DIR`);
  const now = isoTime('now', values.now);
  const store = openStore(values.history, true);
  try {
    // Loaded here only: the chart libraries take a while to load and no other command needs them.
    const { DEFAULT_DASHBOARD_DIR, renderDashboard } = await import('./dashboard.js');
    const out = await renderDashboard(store, { outDir: values.out ?? DEFAULT_DASHBOARD_DIR, ...(now ? { now: new Date(now) } : {}) });
    process.stdout.write(
      `dashboard: ${out.index} (${out.devicePages.length} device page${out.devicePages.length === 1 ? '' : 's'}, ${(out.ms / 1000).toFixed(1)} s)\n`,
    );
    for (const r of out.invalidRuns) process.stderr.write(`roofbench history: warning: ${r}\n`);
    for (const f of out.failures) process.stderr.write(`roofbench history: the page of device ${f.device} (${f.page}) could not be rendered: ${f.error}\n`);
    return out.failures.length > 0 ? 1 : 0;
  } finally {
    store.close();
  }
}

function cmdAnnotate(argv: string[]): number {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...COMMON, at: { type: 'string' }, run: { type: 'string' }, series: { type: 'string' } },
  });
  if (values.help) return help('annotate');
  const [device, ...words] = positionals;
  const message = words.join(' ').trim();
  if (!device || !message) throw new UsageError('annotate needs a device and a message: annotate rpi3 "new kernel build"');
  if (values.at && values.run) throw new UsageError('give --at or --run, not both');
  // Annotating needs runs to annotate: a missing store is an error (as for the reading commands), not a new empty file.
  if (!existsSync(historyPath(values.history))) openStore(values.history, true);
  const store = openStore(values.history);
  try {
    let at = isoTime('at', values.at);
    if (values.run) {
      try {
        at = store.resolveRun(values.run, device).started_at;
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
    }
    if (values.series && !store.series(device).some((s) => s.key === values.series)) {
      throw new UsageError(`device "${device}" has no series ${values.series}; list them with: series --device ${device}`);
    }
    // A typo ("rpi33") would otherwise annotate a device that never runs, and the real one would get no new baseline.
    const devices = store.devices();
    if (!devices.includes(device)) {
      throw new UsageError(
        devices.length === 0
          ? `device "${device}" has no runs in the history ${store.path}, which has none yet: annotate a device after its first run is stored (npm run bench -- --device ${device})`
          : `device "${device}" has no runs in the history ${store.path}${suggestion(device, devices)}; its devices: ${devices.join(', ')}. Annotate one of them (npm run history -- list shows their runs)`,
      );
    }
    const a = store.annotate({ device, message, ...(at ? { at } : {}), seriesKey: values.series ?? null });
    process.stdout.write(`annotated ${a.device} at ${a.at}: ${a.message}${a.series_key ? ` (series ${a.series_key})` : ''}\n`);
    return 0;
  } finally {
    store.close();
  }
}

function cmdList(argv: string[]): number {
  const { values } = parseArgs({ args: argv, options: { ...COMMON, limit: { type: 'string' }, json: { type: 'boolean', default: false } } });
  if (values.help) return help('list');
  const store = openStore(values.history, true);
  try {
    const runs = store.runs({ ...(values.device !== undefined ? { device: values.device } : {}), limit: positive('limit', values.limit, true) ?? 50 });
    if (values.json) {
      process.stdout.write(`${JSON.stringify(runs, null, 1)}\n`);
      return 0;
    }
    if (runs.length === 0) {
      process.stdout.write(`no runs${values.device ? ` of ${values.device}` : ''} in ${store.path}\n`);
      return 0;
    }
    const rows = runs.map((r) => [
      `#${r.id}`,
      r.device,
      r.run_id,
      r.status,
      (r.commit_sha ?? r.harness_commit ?? '—').slice(0, 12),
      r.quick ? 'quick' : '',
      r.status_detail ?? '',
    ]);
    process.stdout.write(`${table(rows, ['row', 'device', 'run', 'status', 'commit', 'size', 'detail'])}\n`);
    return 0;
  } finally {
    store.close();
  }
}

function cmdSeries(argv: string[]): number {
  const { values } = parseArgs({ args: argv, options: { ...COMMON, json: { type: 'boolean', default: false } } });
  if (values.help) return help('series');
  const store = openStore(values.history, true);
  try {
    const series = store.series(values.device);
    if (values.json) {
      process.stdout.write(`${JSON.stringify(series, null, 1)}\n`);
      return 0;
    }
    const rows = series.map((s) => [
      s.key,
      s.device,
      s.label,
      String(s.n_points),
      s.cmp_state ?? 'new',
      s.cmp_ratio !== null ? `${s.cmp_ratio >= 1 ? '+' : ''}${((s.cmp_ratio - 1) * 100).toFixed(1)}%` : '—',
      String(s.n_changepoints),
    ]);
    process.stdout.write(`${table(rows, ['key', 'device', 'series', 'points', 'last', 'change', 'change points'])}\n`);
    return 0;
  } finally {
    store.close();
  }
}

function cmdRecompute(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...COMMON,
      threshold: { type: 'string' },
      alpha: { type: 'string' },
      'min-samples': { type: 'string' },
      'run-noise': { type: 'string' },
      guard: { type: 'string' },
      'min-segment': { type: 'string' },
      'min-change': { type: 'string' },
      penalty: { type: 'string' },
    },
  });
  if (values.help) return help('recompute');
  const compare = {
    ...(values.threshold !== undefined ? { threshold: fraction('threshold', values.threshold)! } : {}),
    ...(values.alpha !== undefined ? { alpha: fraction('alpha', values.alpha)! } : {}),
    ...(values['min-samples'] !== undefined ? { minSamples: positive('min-samples', values['min-samples'], true)! } : {}),
    ...(values['run-noise'] !== undefined ? { runNoise: fraction('run-noise', values['run-noise'])! } : {}),
    ...(values.guard !== undefined ? { guardQuantile: fraction('guard', values.guard)! } : {}),
  };
  const changepoints = {
    ...(values['min-segment'] !== undefined ? { minSegment: positive('min-segment', values['min-segment'], true)! } : {}),
    ...(values['min-change'] !== undefined ? { minRelChange: fraction('min-change', values['min-change'])! } : {}),
    ...(values.penalty !== undefined ? { penalty: positive('penalty', values.penalty)! } : {}),
  };
  const store = openStore(values.history);
  try {
    const n = store.saveSettings({ compare, changepoints });
    process.stdout.write(`recomputed ${n} series with ${JSON.stringify({ ...store.compareOptions, ...store.changepointOptions })}\n`);
    return 0;
  } finally {
    store.close();
  }
}

function cmdExport(argv: string[]): number {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { ...COMMON, out: { type: 'string' } } });
  if (values.help) return help('export');
  if (positionals.length !== 1) throw new UsageError('export needs one run (latest, a run id, #ROWID)');
  const store = openStore(values.history, true);
  try {
    let row: RunRow;
    try {
      row = store.resolveRun(positionals[0]!, values.device);
    } catch (e) {
      if (e instanceof NoSuchRunError) throw e;
      throw new UsageError((e as Error).message);
    }
    const text = `${JSON.stringify(store.loadRun(row.id), null, 1)}\n`;
    if (values.out) writeFileSync(values.out, text);
    else process.stdout.write(text);
    return 0;
  } finally {
    store.close();
  }
}

function cmdInfo(argv: string[]): number {
  const { values } = parseArgs({ args: argv, options: { ...COMMON } });
  if (values.help) return help('info');
  const store = openStore(values.history, true);
  try {
    const c = store.counts();
    process.stdout.write(
      [
        `store:          ${store.path}`,
        `schema version: ${store.version}`,
        `devices:        ${c.devices} (${store.devices().join(', ') || 'none'})`,
        `runs:           ${c.runs}`,
        `results:        ${c.results}`,
        `series:         ${c.series}`,
        `annotations:    ${c.annotations}`,
        `comparison:     threshold ${(store.compareOptions.threshold * 100).toFixed(1)}%, alpha ${store.compareOptions.alpha}, min samples ${store.compareOptions.minSamples}, default run-to-run noise ${(store.compareOptions.runNoise * 100).toFixed(1)}%, guard quantile ${store.compareOptions.guardQuantile}`,
        `change points:  min segment ${store.changepointOptions.minSegment}, min change ${(store.changepointOptions.minRelChange * 100).toFixed(1)}%, penalty ${store.changepointOptions.penalty} ln n`,
      ].join('\n') + '\n',
    );
    return 0;
  } finally {
    store.close();
  }
}

function help(command = 'history'): number {
  process.stdout.write(HELPS[command] ?? HELPS.history ?? '');
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'import':
      return cmdImport(rest);
    case 'compare':
      return cmdCompare(rest);
    case 'dashboard':
      return cmdDashboard(rest);
    case 'annotate':
      return cmdAnnotate(rest);
    case 'list':
      return cmdList(rest);
    case 'series':
      return cmdSeries(rest);
    case 'recompute':
      return cmdRecompute(rest);
    case 'export':
      return cmdExport(rest);
    case 'info':
      return cmdInfo(rest);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      return help(rest[0] !== undefined && rest[0] in HELPS ? rest[0] : 'history');
    default:
      throw new UsageError(`unknown command "${command}"${suggestion(command, COMMANDS)}; commands: ${COMMANDS.join(', ')}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    let err = e as Error & { code?: string };
    // SQLite's own messages ("database disk image is malformed") name no file: say which store, and what to do.
    if (err.code?.startsWith('SQLITE_') && openedStore) err = storeError(openedStore, 'reading', err) as Error & { code?: string };
    let msg = err instanceof Error ? err.message : String(e);
    if (err.code?.startsWith('ERR_PARSE_ARGS')) msg += '\nrun with --help for the options';
    let cause = err instanceof Error ? err.cause : undefined;
    while (cause instanceof Error) {
      msg += `\n  caused by: ${cause.message}`;
      cause = cause.cause;
    }
    process.stderr.write(`roofbench history: ${msg}\n`);
    if (!(e instanceof UsageError) && !(e instanceof NoSuchRunError) && !err.code?.startsWith('ERR_PARSE_ARGS') && process.env.ROOFBENCH_DEBUG) {
      process.stderr.write(`${err.stack ?? ''}\n`);
    }
    process.exitCode = 2;
  },
);
