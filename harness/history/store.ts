/**
 * The history store: every run, in one SQLite file (better-sqlite3).
 *
 * - reports/history.sqlite by default; --history FILE or ROOFBENCH_HISTORY choose another.
 * - WAL journal, synchronous=FULL, one transaction per stored run: a crash
 *   (or a killed process) mid-write loses that run only, never one already committed.
 * - Schema version in PRAGMA user_version, migrated forward on open (schema.ts).
 * - The format is documented in docs/history.md for other tools.
 *
 * A stored run keeps everything results.json has: structured columns for what
 * is queried (state, median, CI, efficiency, accuracy ...), the raw samples in
 * their own table, and the rest of each result as JSON, so `loadRun` gives
 * back the run exactly.
 *
 * The `series` table is a per-series summary (last point, comparison of the
 * last two points, change points count) kept current on insert, so the
 * dashboard reads one small table plus one indexed query per device.
 */
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { isTimed, decodeFloat, migrateCaseJson, RunResults, SCHEMA_VERSION, type CaseResult, type CaseSpec, type Health } from '../../core/contracts.js';
import { detectChangePointsWithBreaks, type ChangePointOptions, DEFAULT_CHANGEPOINT_OPTIONS } from './changepoints.js';
import { compareResults, DEFAULT_COMPARE_OPTIONS, estimateRunNoise, RUN_NOISE_MAX_RUNS, validateCompareOptions, type CompareOptions } from './compare.js';
import { deviceIdentity, identityDiff, seriesOf, type DeviceIdentityFields } from './identity.js';
import { healthContention } from '../contention.js';
import { CURRENT_SCHEMA_VERSION, SCHEMA_V1, SCHEMA_V2_DDL, schemaVersion, type Migration } from './schema.js';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const DEFAULT_HISTORY_PATH = join(ROOT, 'reports', 'history.sqlite');

/** The store path: the explicit one, else ROOFBENCH_HISTORY, else reports/history.sqlite. */
export function historyPath(explicit?: string | null): string {
  const p = explicit ?? process.env.ROOFBENCH_HISTORY;
  return p ? resolve(p) : DEFAULT_HISTORY_PATH;
}

// ---------------------------------------------------------------------------
// Rows
// ---------------------------------------------------------------------------

export interface RunRow {
  id: number;
  device: string;
  run_id: string;
  started_at: string;
  finished_at: string | null;
  status: string;
  status_detail: string | null;
  identity_hash: string | null;
  commit_sha: string | null;
  harness_version: string;
  harness_commit: string | null;
  quick: number;
  source: string;
}

export interface SeriesRow {
  key: string;
  device: string;
  identity_hash: string;
  case_id: string;
  variant: string;
  dtype: string;
  distribution: string;
  size: string;
  shape_json: string;
  label: string;
  dirty: number;
  n_points: number;
  first_run_row: number | null;
  last_run_row: number | null;
  last_started_at: string | null;
  last_state: string | null;
  last_median: number | null;
  last_ci_low: number | null;
  last_ci_high: number | null;
  last_pct_measured: number | null;
  last_rel_l2: number | null;
  prev_run_row: number | null;
  cmp_state: string | null;
  cmp_reason: string | null;
  cmp_ratio: number | null;
  cmp_ci_low: number | null;
  cmp_ci_high: number | null;
  cmp_p: number | null;
  n_changepoints: number;
  updated_at: string | null;
}

export interface AnnotationRow {
  id: number;
  device: string;
  at: string;
  message: string;
  series_key: string | null;
  created_at: string;
}

export interface ChangePointRow {
  series_key: string;
  run_row: number;
  prev_run_row: number;
  idx: number;
  before_median: number;
  after_median: number;
  rel_change: number;
}

/** One timed point of a series (for charts). */
export interface PointRow {
  series_key: string;
  run_row: number;
  run_id: string;
  started_at: string;
  commit_sha: string | null;
  state: string;
  median: number;
  ci_low: number | null;
  ci_high: number | null;
  pct_measured: number | null;
  rel_l2: number | null;
  tol_limit: number | null;
  tol_metric: string | null;
}

export interface InsertOutcome {
  runRowId: number;
  /** false when the run (same device, run id and start time) was already stored. */
  inserted: boolean;
  /** The run id it is stored under (a clash with another run of the same id gets a -2, -3 ... suffix). */
  storedRunId: string;
  /** Labels of the series this run starts. */
  newSeries: string[];
  /** The device's identity differs from its previous probed run's. */
  identityChanged: boolean;
  /** What changed ("Node: v20.1.0 -> v20.2.0"). */
  identityChanges: string[];
  /** Keys of the series the run has results in. */
  seriesKeys: string[];
}

export interface StoreOptions {
  compare?: Partial<CompareOptions>;
  changepoints?: Partial<ChangePointOptions>;
  /**
   * Open for reading only (list, series, export, compare, dashboard): works on a
   * store the user cannot write (a read-only mount, another user's file); nothing
   * is migrated or recomputed. A store that does not exist yet is opened writable.
   */
  readonly?: boolean;
}

/** A store that is not one this roofbench can use (not a roofbench history, a newer schema): said as is, never re-wrapped. */
export class HistoryStoreError extends Error {
  override name = 'HistoryStoreError';
}

/** SQLite's busy errors: another process holds the store for a moment. */
const isBusy = (e: unknown) => /^SQLITE_(BUSY|LOCKED)/.test(String((e as { code?: unknown }).code ?? ''));

/**
 * An SQLite error on `file`, as a message that names the file and says what to do.
 * (SQLite's own messages, e.g. "file is not a database", name neither.)
 */
export function storeError(file: string, what: string, cause: unknown): Error {
  const code = String((cause as { code?: unknown }).code ?? '');
  const said = (cause as Error).message ?? String(cause);
  let msg: string;
  if (code === 'SQLITE_NOTADB') {
    msg = `the history store ${file} is not an SQLite database, so not a roofbench history (${said}): give another --history file, or move this one away`;
  } else if (code.startsWith('SQLITE_CORRUPT')) {
    msg = `the history store ${file} is damaged (${said}): restore it from a backup, or move it away and rebuild it with npm run history -- import reports/`;
  } else if (code.startsWith('SQLITE_READONLY') || code === 'SQLITE_CANTOPEN' || code === 'SQLITE_PERM' || code.startsWith('SQLITE_IOERR')) {
    msg = `${what} the history store ${file} failed: ${said} (is the file or its directory read-only, or the disk full?)`;
  } else if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    msg = `the history store ${file} stayed locked by another process (${said}): try again when it has finished`;
  } else {
    msg = `${what} the history store ${file} failed: ${said}`;
  }
  return new Error(msg, { cause });
}

/**
 * A store SQLite cannot open read-only where it lies: a WAL-mode file on a
 * read-only mount (SQLite wants to create its -shm file next to it). When no
 * write is unfinished (no -wal file, or an empty one), the file is read into
 * memory and opened there, marked as a rollback-journal file (header bytes 18
 * and 19), which is what its content is once checkpointed.
 */
function readOnlySnapshot(file: string, cause: unknown): Database.Database {
  const code = String((cause as { code?: unknown }).code ?? '');
  const wal = `${file}-wal`;
  if (code !== 'SQLITE_CANTOPEN' || (existsSync(wal) && statSync(wal).size > 0)) throw cause;
  const image = readFileSync(file);
  if (image.length >= 20 && image[18] === 2 && image[19] === 2) {
    image[18] = 1;
    image[19] = 1;
  }
  return new Database(image);
}

/** Run `fn`, retrying while SQLite says the store is busy (another process is writing it), up to `ms`. */
function retryBusy<T>(fn: () => T, ms = 30_000): T {
  const until = Date.now() + ms;
  for (let wait = 20; ; wait = Math.min(wait * 2, 500)) {
    try {
      return fn();
    } catch (e) {
      if (!isBusy(e) || Date.now() > until) throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, wait);
    }
  }
}

/** A REAL column value for a float that may be non-finite: NaN is stored as NULL (SQLite has no NaN), infinities as such. */
function real(x: number | undefined | null): number | null {
  return x === undefined || x === null || Number.isNaN(x) ? null : x;
}

const nowIso = () => new Date().toISOString();

/** Test-only: ROOFBENCH_TEST_HISTORY_CRASH=N kills the process (SIGKILL) after N results of a run were written, mid-transaction. */
function crashAfterResults(): number | null {
  const v = process.env.ROOFBENCH_TEST_HISTORY_CRASH;
  if (!v) return null;
  const n = Number(v);
  return Number.isInteger(n) && n >= 0 ? n : null;
}

// ---------------------------------------------------------------------------
// The store
// ---------------------------------------------------------------------------

export class HistoryStore {
  readonly db: Database.Database;
  readonly compareOptions: CompareOptions;
  readonly changepointOptions: ChangePointOptions;

  private constructor(
    readonly path: string,
    db: Database.Database,
    opts: StoreOptions,
  ) {
    this.db = db;
    const saved = readSettings(db);
    this.compareOptions = validateCompareOptions({ ...DEFAULT_COMPARE_OPTIONS, ...saved.compare, ...opts.compare });
    this.changepointOptions = { ...DEFAULT_CHANGEPOINT_OPTIONS, ...saved.changepoints, ...opts.changepoints };
  }

  /**
   * Keep settings in the store (used by every later summary, compare and
   * dashboard on this file) and recompute all series with them.
   */
  saveSettings(s: { compare?: Partial<CompareOptions>; changepoints?: Partial<ChangePointOptions> }): number {
    const entries: [string, number][] = [
      ...Object.entries(s.compare ?? {}).map(([k, v]) => [`compare.${k}`, v] as [string, number]),
      ...Object.entries(s.changepoints ?? {}).map(([k, v]) => [`changepoints.${k}`, v] as [string, number]),
    ].filter(([, v]) => v !== undefined);
    Object.assign(this.compareOptions, validateCompareOptions({ ...this.compareOptions, ...s.compare }));
    Object.assign(this.changepointOptions, { ...this.changepointOptions, ...s.changepoints });
    const put = this.db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
    this.db
      .transaction(() => {
        for (const [k, v] of entries) put.run(k, JSON.stringify(v));
      })
      .immediate();
    return this.refreshAll();
  }

  /** The store was opened read-only (StoreOptions.readonly): nothing is written. */
  readonly readonly: boolean = false;

  /** Open (creating or migrating as needed) the store at `path`. */
  static open(path: string, opts: StoreOptions = {}): HistoryStore {
    const file = resolve(path);
    const readonly = opts.readonly === true && existsSync(file);
    let db: Database.Database;
    try {
      if (!readonly) mkdirSync(dirname(file), { recursive: true });
      db = new Database(file, { timeout: 15_000, readonly, fileMustExist: readonly });
      if (readonly) {
        try {
          schemaVersion(db);
        } catch (e) {
          db.close();
          db = readOnlySnapshot(file, e);
        }
      }
    } catch (cause) {
      throw storeError(file, 'opening', cause);
    }
    try {
      if (readonly) {
        db.pragma('query_only = ON');
        const v = retryBusy(() => schemaVersion(db));
        if (v > CURRENT_SCHEMA_VERSION) {
          throw new HistoryStoreError(
            `the history store ${file} has schema version ${v}, newer than this roofbench understands (${CURRENT_SCHEMA_VERSION}); update roofbench`,
          );
        }
        if (v !== CURRENT_SCHEMA_VERSION) {
          const tables = db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table'").get() as { n: number };
          if (v === 0 && tables.n > 0)
            throw new HistoryStoreError(
              `the history store ${file} is an SQLite database, but not a roofbench history (no schema version): give another --history file, or move this one away`,
            );
          throw new Error(
            `the history store ${file} has schema version ${v} and needs migrating to ${CURRENT_SCHEMA_VERSION}, which needs write access: store one run in it (npm run bench, or npm run history -- import) as a user who can write it`,
          );
        }
      } else {
        retryBusy(() => db.pragma('journal_mode = WAL'));
        db.pragma('synchronous = FULL');
        db.pragma('foreign_keys = ON');
        migrate(db, file);
      }
    } catch (e) {
      db.close();
      if (e instanceof Error && (e as { code?: unknown }).code !== undefined) throw storeError(file, 'opening', e);
      throw e;
    }
    const store = new HistoryStore(file, db, opts);
    (store as { readonly: boolean }).readonly = readonly;
    // Series a migration created, or an import interrupted before its final refresh, are brought up to date.
    if (!readonly) {
      try {
        retryBusy(() => store.refreshDirty());
      } catch (e) {
        store.close();
        throw storeError(file, 'updating the series summaries of', e);
      }
    }
    return store;
  }

  close(): void {
    this.db.close();
  }

  get version(): number {
    return schemaVersion(this.db);
  }

  // -- writing ---------------------------------------------------------------

  /**
   * Store one run in one transaction. With `refresh` (the default) the
   * summaries and change points of its series are brought up to date in the
   * same transaction; bulk imports pass false and call refreshDirty() once.
   */
  insertRun(run: RunResults, opts: { commit?: string | null; source?: string; refresh?: boolean } = {}): InsertOutcome {
    const refresh = opts.refresh ?? true;
    const tx = this.db.transaction((): InsertOutcome => {
      const existing = this.db
        .prepare('SELECT id, run_id, started_at, finished_at FROM runs WHERE device = ? AND (run_id = ? OR run_id LIKE ?) ORDER BY id')
        .all(run.device.name, run.runId, `${run.runId}-%`) as { id: number; run_id: string; started_at: string; finished_at: string | null }[];
      // The same run stored before (under its id, or under the -N the store gave it). Two runs started in the same
      // millisecond under one id (parallel runs in one second) are told apart by when they finished.
      const same = existing.find(
        (e) => e.started_at === run.startedAt && (e.run_id === run.runId || (/-\d+$/.test(e.run_id) && e.finished_at === (run.finishedAt ?? null))),
      );
      if (same) {
        // Storing again with the commit under test fills it in when the first store did not know it.
        if (opts.commit) this.db.prepare('UPDATE runs SET commit_sha = ? WHERE id = ? AND commit_sha IS NULL').run(opts.commit, same.id);
        const keys = (
          this.db.prepare('SELECT DISTINCT series_key FROM results WHERE run_row = ? AND series_key IS NOT NULL').all(same.id) as { series_key: string }[]
        ).map((r) => r.series_key);
        return { runRowId: same.id, inserted: false, storedRunId: same.run_id, newSeries: [], identityChanged: false, identityChanges: [], seriesKeys: keys };
      }
      let storedRunId = run.runId;
      const taken = new Set(existing.map((e) => e.run_id));
      for (let i = 2; taken.has(storedRunId); i++) storedRunId = `${run.runId}-${i}`;

      const identity = deviceIdentity(run);
      let identityChanges: string[] = [];
      if (identity) {
        this.db
          .prepare('INSERT OR IGNORE INTO identities (hash, device, fields_json, first_seen) VALUES (?, ?, ?, ?)')
          .run(identity.hash, run.device.name, JSON.stringify(identity.fields), run.startedAt);
        const prev = this.db
          .prepare(
            `SELECT i.fields_json, i.hash FROM runs r JOIN identities i ON i.hash = r.identity_hash
             WHERE r.device = ? AND r.started_at < ? ORDER BY r.started_at DESC, r.id DESC LIMIT 1`,
          )
          .get(run.device.name, run.startedAt) as { fields_json: string; hash: string } | undefined;
        if (prev && prev.hash !== identity.hash) {
          identityChanges = identityDiff(JSON.parse(prev.fields_json) as DeviceIdentityFields, identity.fields);
        }
      }
      const info = this.db
        .prepare(
          `INSERT INTO runs (device, run_id, started_at, finished_at, status, status_detail, harness_version, harness_commit,
             harness_dirty, payload_hash, profile, transport, emulated, quick, device_json, options_json, probe_json,
             ceilings_json, stderr_json, source, inserted_at, identity_hash, commit_sha)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          run.device.name,
          storedRunId,
          run.startedAt,
          run.finishedAt,
          run.status,
          run.statusDetail ?? null,
          run.harness.version,
          run.harness.gitCommit,
          run.harness.gitDirty === null ? null : run.harness.gitDirty ? 1 : 0,
          run.payloadHash,
          run.device.profile,
          run.device.transport,
          run.device.emulated ? 1 : 0,
          run.options.quick ? 1 : 0,
          JSON.stringify(run.device),
          JSON.stringify(run.options),
          run.probe ? JSON.stringify(run.probe) : null,
          JSON.stringify(run.ceilings),
          JSON.stringify(run.stderr),
          opts.source ?? 'bench',
          nowIso(),
          identity?.hash ?? null,
          opts.commit ?? null,
        );
      const runRow = Number(info.lastInsertRowid);
      const insCase = this.db.prepare('INSERT INTO cases (run_row, ord, case_id, spec_json) VALUES (?, ?, ?, ?)');
      run.cases.forEach((c, i) => insCase.run(runRow, i, c.id, JSON.stringify(c)));
      const insHealth = this.db.prepare(
        'INSERT INTO health (run_row, ord, at, phase, temperature_c, governor, freq_mhz, throttled, load_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      );
      run.health.forEach((h, i) =>
        // load_json: the load-average array, or { loadAvg, cpu } when the runner recorded other processes' CPU load.
        insHealth.run(
          runRow,
          i,
          h.at,
          h.when,
          h.temperatureC,
          h.governor,
          h.freqMHz,
          h.throttled,
          JSON.stringify(h.cpu ? { loadAvg: h.loadAvg, cpu: h.cpu } : h.loadAvg),
        ),
      );

      const specs = new Map<string, CaseSpec>(run.cases.map((c) => [c.id, c]));
      const seriesKeys = new Set<string>();
      const newSeries: string[] = [];
      const upsertSeries = this.db.prepare(
        `INSERT INTO series (key, device, identity_hash, case_id, variant, dtype, distribution, size, shape_json, label, dirty)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
         ON CONFLICT (key) DO UPDATE SET dirty = 1`,
      );
      const seriesExists = this.db.prepare('SELECT 1 FROM series WHERE key = ?');
      const insResult = this.db.prepare(
        `INSERT INTO results (run_row, ord, case_id, variant, algorithm, dtype, state, n, median, ci_low, ci_high, cv, noisy,
           gflops, pct_measured, pct_theoretical, detail_json, series_key)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      const insSamples = this.db.prepare('INSERT INTO samples (result_id, samples_json) VALUES (?, ?)');
      const insAccuracy = this.db.prepare(
        `INSERT INTO accuracy (result_id, max_abs, rel_l2, max_rel, sqnr_db, cosine, tol_metric, tol_limit, checksum)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      const crashAt = crashAfterResults();
      run.results.forEach((r, i) => {
        if (crashAt !== null && i === crashAt) process.kill(process.pid, 'SIGKILL');
        let seriesKey: string | null = null;
        if (identity && r.state !== 'skipped') {
          const s = seriesOf(identity, run, r, specs.get(r.caseId));
          seriesKey = s.key;
          if (!seriesKeys.has(s.key)) {
            if (!seriesExists.get(s.key)) newSeries.push(s.label);
            const f = s.fields;
            upsertSeries.run(s.key, f.device, f.identityHash, f.caseId, f.variant, f.dtype, f.distribution, f.size, f.shape, s.label);
            seriesKeys.add(s.key);
          }
        }
        const detail = isTimed(r) ? { ...r, timing: { ...r.timing, samples: undefined } } : r;
        const t = isTimed(r) ? r : null;
        const res = insResult.run(
          runRow,
          i,
          r.caseId,
          r.variant,
          r.algorithm,
          r.dtype,
          r.state,
          t ? t.timing.samples.length : null,
          t ? real(t.timing.stats.median) : null,
          t ? real(t.timing.stats.ciLow) : null,
          t ? real(t.timing.stats.ciHigh) : null,
          t ? real(t.timing.stats.cv) : null,
          t ? (t.timing.noisy ? 1 : 0) : null,
          t ? real(t.perf.gflops) : null,
          t ? real(t.perf.pctMeasured) : null,
          t ? real(t.perf.pctTheoretical) : null,
          JSON.stringify(detail),
          seriesKey,
        );
        if (t) {
          const rid = Number(res.lastInsertRowid);
          insSamples.run(rid, JSON.stringify(t.timing.samples));
          const a = t.accuracy;
          insAccuracy.run(
            rid,
            real(decodeFloat(a.maxAbs)),
            real(decodeFloat(a.relL2)),
            real(decodeFloat(a.maxRel)),
            real(decodeFloat(a.sqnrDb)),
            real(decodeFloat(a.cosine)),
            a.tolerance.metric,
            a.tolerance.limit,
            a.outputChecksum,
          );
        }
      });
      if (refresh) for (const k of seriesKeys) this.refreshSeries(k);
      return {
        runRowId: runRow,
        inserted: true,
        storedRunId,
        newSeries,
        identityChanged: identityChanges.length > 0,
        identityChanges,
        seriesKeys: [...seriesKeys],
      };
    });
    try {
      return retryBusy(() => tx.immediate());
    } catch (cause) {
      const why = storeError(this.path, 'writing', cause).message;
      throw new Error(`storing run ${run.device.name}/${run.runId} in ${this.path} failed; nothing of it was written: ${why}`, { cause });
    }
  }

  /**
   * Annotate a device (or one series): a known change at `at` (default now),
   * e.g. a new kernel build. Runs from `at` on form a new baseline: the first
   * of them is not compared with the runs before it, and change points are
   * looked for on each side separately.
   */
  annotate(a: { device: string; message: string; at?: string; seriesKey?: string | null }): AnnotationRow {
    if (!a.message.trim()) throw new Error('an annotation needs a message');
    const at = a.at ?? nowIso();
    if (Number.isNaN(new Date(at).getTime())) throw new Error(`annotation time "${at}" is not an ISO date`);
    const tx = this.db.transaction(() => {
      const info = this.db
        .prepare('INSERT INTO annotations (device, at, message, created_at, series_key) VALUES (?, ?, ?, ?, ?)')
        .run(a.device, at, a.message, nowIso(), a.seriesKey ?? null);
      const keys = a.seriesKey
        ? [a.seriesKey]
        : (this.db.prepare('SELECT key FROM series WHERE device = ?').all(a.device) as { key: string }[]).map((r) => r.key);
      for (const k of keys) this.refreshSeries(k);
      return this.db.prepare('SELECT * FROM annotations WHERE id = ?').get(Number(info.lastInsertRowid)) as AnnotationRow;
    });
    return tx.immediate();
  }

  // -- summaries -------------------------------------------------------------

  /** Recompute the summary row and change points of one series (call inside a transaction for consistency). */
  refreshSeries(key: string): void {
    const row = this.db.prepare('SELECT device FROM series WHERE key = ?').get(key) as { device: string } | undefined;
    if (!row) return;
    const pts = this.db
      .prepare(
        `SELECT r.id AS result_id, r.state, r.median, r.ci_low, r.ci_high, r.pct_measured, a.rel_l2,
                ru.id AS run_row, ru.started_at, ru.emulated
         FROM results r JOIN runs ru ON ru.id = r.run_row LEFT JOIN accuracy a ON a.result_id = r.id
         WHERE r.series_key = ? AND r.state != 'skipped'
         ORDER BY ru.started_at, ru.id`,
      )
      .all(key) as {
      result_id: number;
      state: string;
      median: number | null;
      ci_low: number | null;
      ci_high: number | null;
      pct_measured: number | null;
      rel_l2: number | null;
      run_row: number;
      started_at: string;
      emulated: number;
    }[];
    const anns = this.annotationsFor(row.device, key);
    const last = pts[pts.length - 1];
    const prev = pts[pts.length - 2];
    let cmp: { state: string; reason: string; ratio: number | null; lo: number | null; hi: number | null; p: number | null } = {
      state: 'new',
      reason: 'first point of the series',
      ratio: null,
      lo: null,
      hi: null,
      p: null,
    };
    if (last && prev) {
      const reset = anns.find((an) => an.at > prev.started_at && an.at <= last.started_at);
      if (reset) {
        cmp = { ...cmp, state: 'new', reason: `new baseline: annotation "${reset.message}" (${reset.at})` };
      } else {
        // Run-to-run noise from the points before the last one, since the last baseline reset.
        const since =
          anns
            .filter((an) => an.at <= prev.started_at)
            .map((an) => an.at)
            .pop() ?? '';
        const history = pts
          .slice(0, -1)
          .filter((p) => p.started_at >= since && p.median !== null)
          .map((p) => p.median!);
        // As compare does: no timing verdict from a contended run, and each run's own noise target.
        const [pc, lc] = [this.runConditions(prev.run_row), this.runConditions(last.run_row)];
        const busy = [pc.contended ? `the base run was ${pc.contended}` : '', lc.contended ? `the head run was ${lc.contended}` : '']
          .filter((x) => x)
          .join('; ');
        const c = compareResults(
          this.loadResult(prev.result_id),
          this.loadResult(last.result_id),
          this.compareOptions,
          estimateRunNoise(history),
          // Emulated devices: only accuracy is compared (their timings measure the emulator).
          prev.emulated === 0 && last.emulated === 0,
          busy || null,
          null,
          { base: pc.cvTarget, head: lc.cvTarget },
        );
        cmp = {
          state: c.state,
          reason: c.reason,
          ratio: c.timing?.ratio ?? null,
          lo: c.timing?.ciLow ?? null,
          hi: c.timing?.ciHigh ?? null,
          p: c.timing?.p ?? null,
        };
      }
    }
    // Change points over the timed points, each annotation starting a new baseline.
    const timed = pts.filter((p) => p.median !== null && p.median > 0) as ((typeof pts)[number] & { median: number })[];
    const breaks = anns.map((an) => timed.findIndex((p) => p.started_at >= an.at)).filter((i) => i > 0);
    const cps = detectChangePointsWithBreaks(
      timed.map((p) => p.median),
      breaks,
      this.changepointOptions,
    );
    this.db.prepare('DELETE FROM changepoints WHERE series_key = ?').run(key);
    const insCp = this.db.prepare(
      'INSERT INTO changepoints (series_key, run_row, prev_run_row, idx, before_median, after_median, rel_change) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    for (const c of cps) insCp.run(key, timed[c.index]!.run_row, timed[c.index - 1]!.run_row, c.index, c.before, c.after, c.relChange);
    this.db
      .prepare(
        `UPDATE series SET dirty = 0, n_points = ?, first_run_row = ?, last_run_row = ?, last_started_at = ?, last_state = ?,
           last_median = ?, last_ci_low = ?, last_ci_high = ?, last_pct_measured = ?, last_rel_l2 = ?, prev_run_row = ?,
           cmp_state = ?, cmp_reason = ?, cmp_ratio = ?, cmp_ci_low = ?, cmp_ci_high = ?, cmp_p = ?, n_changepoints = ?, updated_at = ?
         WHERE key = ?`,
      )
      .run(
        timed.length,
        pts[0]?.run_row ?? null,
        last?.run_row ?? null,
        last?.started_at ?? null,
        last?.state ?? null,
        last?.median ?? null,
        last?.ci_low ?? null,
        last?.ci_high ?? null,
        last?.pct_measured ?? null,
        last?.rel_l2 ?? null,
        prev?.run_row ?? null,
        cmp.state,
        cmp.reason,
        cmp.ratio,
        cmp.lo,
        cmp.hi,
        cmp.p,
        cps.length,
        nowIso(),
        key,
      );
  }

  /** Refresh every series marked dirty (after a bulk import, or a crash between import and refresh). Returns how many. */
  refreshDirty(): number {
    if (this.readonly) return 0;
    const keys = (this.db.prepare('SELECT key FROM series WHERE dirty = 1').all() as { key: string }[]).map((r) => r.key);
    if (keys.length === 0) return 0;
    this.db
      .transaction(() => {
        for (const k of keys) this.refreshSeries(k);
      })
      .immediate();
    return keys.length;
  }

  /** Recompute every series (e.g. after changing the comparison or change-point settings). */
  refreshAll(): number {
    this.db.prepare('UPDATE series SET dirty = 1').run();
    return this.refreshDirty();
  }

  // -- reading ---------------------------------------------------------------

  /** One result as stored (samples put back). */
  loadResult(resultId: number): CaseResult {
    const row = this.db
      .prepare('SELECT r.detail_json, s.samples_json FROM results r LEFT JOIN samples s ON s.result_id = r.id WHERE r.id = ?')
      .get(resultId) as { detail_json: string; samples_json: string | null } | undefined;
    if (!row) throw new Error(`no result with id ${resultId}`);
    const r = JSON.parse(row.detail_json) as CaseResult;
    if (isTimed(r)) r.timing.samples = row.samples_json ? (JSON.parse(row.samples_json) as number[]) : [];
    return r;
  }

  /** A stored run's contention (the reason when it was contended, else null) and noise target, from its health and options. */
  private runConditions(rowId: number): { contended: string | null; cvTarget: number } {
    const r = this.db.prepare('SELECT options_json, probe_json FROM runs WHERE id = ?').get(rowId) as
      { options_json: string; probe_json: string | null } | undefined;
    const options = r ? (JSON.parse(r.options_json) as RunResults['options']) : undefined;
    const cores = r?.probe_json ? (JSON.parse(r.probe_json) as NonNullable<RunResults['probe']>).cpu.cores : undefined;
    const health = (this.db.prepare('SELECT load_json FROM health WHERE run_row = ? ORDER BY ord').all(rowId) as { load_json: string }[]).map(
      (h) => JSON.parse(h.load_json) as number[] | { loadAvg: number[]; cpu?: Health['cpu'] },
    );
    const withCpu = health.flatMap((h) => (Array.isArray(h) || !h.cpu ? [] : [{ cpu: h.cpu } as Health]));
    const c = healthContention(withCpu, cores);
    return { contended: c?.contended ? c.reason : null, cvTarget: options?.cvTarget ?? 0.05 };
  }

  /** The stored run with row id `rowId`, as a results.json object. */
  loadRun(rowId: number): RunResults {
    const r = this.db.prepare('SELECT * FROM runs WHERE id = ?').get(rowId) as
      | (RunRow & {
          harness_dirty: number | null;
          payload_hash: string;
          device_json: string;
          options_json: string;
          probe_json: string | null;
          ceilings_json: string;
          stderr_json: string;
        })
      | undefined;
    if (!r) throw new Error(`no run with row id ${rowId} in ${this.path}`);
    const cases = (this.db.prepare('SELECT spec_json FROM cases WHERE run_row = ? ORDER BY ord').all(rowId) as { spec_json: string }[]).map(
      // A case stored before cases were graphs (results schema 1) gets its graph as results.json files do.
      (c) => migrateCaseJson(JSON.parse(c.spec_json)) as CaseSpec,
    );
    const health = (
      this.db.prepare('SELECT * FROM health WHERE run_row = ? ORDER BY ord').all(rowId) as {
        at: string;
        phase: string;
        temperature_c: number | null;
        governor: string | null;
        freq_mhz: number | null;
        throttled: string | null;
        load_json: string;
      }[]
    ).map((h): Health => {
      const load = JSON.parse(h.load_json) as number[] | { loadAvg: number[]; cpu: Health['cpu'] };
      return {
        at: h.at,
        when: h.phase,
        temperatureC: h.temperature_c,
        governor: h.governor,
        freqMHz: h.freq_mhz,
        throttled: h.throttled,
        ...(Array.isArray(load) ? { loadAvg: load } : { loadAvg: load.loadAvg, ...(load.cpu ? { cpu: load.cpu } : {}) }),
      };
    });
    const results = (this.db.prepare('SELECT id FROM results WHERE run_row = ? ORDER BY ord').all(rowId) as { id: number }[]).map((x) => this.loadResult(x.id));
    const run: RunResults = {
      schemaVersion: SCHEMA_VERSION,
      runId: r.run_id,
      startedAt: r.started_at,
      finishedAt: r.finished_at,
      status: r.status as RunResults['status'],
      ...(r.status_detail !== null ? { statusDetail: r.status_detail } : {}),
      harness: { version: r.harness_version, gitCommit: r.harness_commit, gitDirty: r.harness_dirty === null ? null : r.harness_dirty === 1 },
      payloadHash: r.payload_hash,
      device: JSON.parse(r.device_json) as RunResults['device'],
      options: JSON.parse(r.options_json) as RunResults['options'],
      probe: r.probe_json ? (JSON.parse(r.probe_json) as RunResults['probe']) : null,
      health,
      ceilings: JSON.parse(r.ceilings_json) as RunResults['ceilings'],
      cases,
      results,
      stderr: JSON.parse(r.stderr_json) as string[],
    };
    const parsed = RunResults.safeParse(run);
    if (!parsed.success) {
      throw new Error(`stored run ${r.device}/${r.run_id} does not match the results schema: ${parsed.error.issues[0]?.message ?? ''}`);
    }
    return parsed.data;
  }

  run(rowId: number): RunRow | undefined {
    return this.db.prepare(`SELECT ${RUN_COLS} FROM runs WHERE id = ?`).get(rowId) as RunRow | undefined;
  }

  /** Runs, newest first. */
  runs(filter: { device?: string; limit?: number } = {}): RunRow[] {
    const where = filter.device !== undefined ? 'WHERE device = ?' : '';
    const args: unknown[] = filter.device !== undefined ? [filter.device] : [];
    return this.db.prepare(`SELECT ${RUN_COLS} FROM runs ${where} ORDER BY started_at DESC, id DESC LIMIT ?`).all(...args, filter.limit ?? -1) as RunRow[];
  }

  devices(): string[] {
    return (this.db.prepare('SELECT DISTINCT device FROM runs ORDER BY device').all() as { device: string }[]).map((r) => r.device);
  }

  /**
   * Resolve a run reference: `latest`, `previous` (the newest complete run
   * before the latest; the one just before it if none is complete),
   * `latest~N` (N runs before the latest), `#ROWID`, or a run id.
   */
  resolveRun(spec: string, device?: string): RunRow {
    const needDevice = () => {
      if (device !== undefined) return device;
      const all = this.devices();
      if (all.length === 1) return all[0]!;
      throw new Error(`"${spec}" is per device: add --device (devices in the store: ${all.join(', ') || 'none'})`);
    };
    const row = /^#(\d+)$/.exec(spec);
    if (row) {
      const r = this.run(Number(row[1]));
      if (!r) throw new Error(`no run with row id ${row[1]} in ${this.path}`);
      return r;
    }
    const rel = /^latest(?:~(\d+))?$/.exec(spec);
    if (rel || spec === 'previous') {
      const d = needDevice();
      const runs = this.runs({ device: d });
      if (runs.length === 0)
        throw new NoSuchRunError(`no runs of device "${d}" in ${this.path} (devices in the store: ${this.devices().join(', ') || 'none'})`);
      if (spec === 'previous') {
        const [, ...older] = runs;
        const prev = older.find((r) => r.status === 'complete') ?? older[0];
        if (!prev) throw new NoSuchRunError(`device "${d}" has only one run (${runs[0]!.run_id}): there is no previous run`);
        return prev;
      }
      const k = Number(rel?.[1] ?? 0);
      const r = runs[k];
      if (!r) throw new NoSuchRunError(`device "${d}" has ${runs.length} run(s): latest~${k} does not exist`);
      return r;
    }
    const matches = (
      device !== undefined
        ? this.db.prepare(`SELECT ${RUN_COLS} FROM runs WHERE run_id = ? AND device = ?`).all(spec, device)
        : this.db.prepare(`SELECT ${RUN_COLS} FROM runs WHERE run_id = ?`).all(spec)
    ) as RunRow[];
    if (matches.length === 1) return matches[0]!;
    if (matches.length > 1) {
      throw new Error(`run id ${spec} exists for several devices (${matches.map((m) => m.device).join(', ')}): add --device`);
    }
    throw new NoSuchRunError(
      `no run "${spec}"${device !== undefined ? ` of device "${device}"` : ''} in ${this.path} (npm run history -- list shows the stored runs; or latest, previous, latest~N with --device)`,
    );
  }

  /**
   * Run-to-run noise of a series from its timed points that started before
   * `beforeIso` (and after its last baseline reset), or null with too little history.
   */
  runNoise(seriesKey: string, beforeIso: string): number | null {
    const device = (this.db.prepare('SELECT device FROM series WHERE key = ?').get(seriesKey) as { device: string } | undefined)?.device;
    if (device === undefined) return null;
    const since =
      this.annotationsFor(device, seriesKey)
        .filter((a) => a.at < beforeIso)
        .map((a) => a.at)
        .pop() ?? '';
    const rows = this.db
      .prepare(
        `SELECT r.median FROM results r JOIN runs ru ON ru.id = r.run_row
         WHERE r.series_key = ? AND r.median IS NOT NULL AND ru.started_at < ? AND ru.started_at >= ?
         ORDER BY ru.started_at DESC, ru.id DESC LIMIT ${RUN_NOISE_MAX_RUNS}`,
      )
      .all(seriesKey, beforeIso, since) as { median: number }[];
    return estimateRunNoise(rows.map((r) => r.median).reverse());
  }

  annotations(device?: string): AnnotationRow[] {
    return (
      device !== undefined
        ? this.db.prepare('SELECT * FROM annotations WHERE device = ? ORDER BY at').all(device)
        : this.db.prepare('SELECT * FROM annotations ORDER BY device, at').all()
    ) as AnnotationRow[];
  }

  /** Annotations of a device that apply to a series (device-wide or for that series), in time order. */
  annotationsFor(device: string, seriesKey: string): AnnotationRow[] {
    return this.db
      .prepare('SELECT * FROM annotations WHERE device = ? AND (series_key IS NULL OR series_key = ?) ORDER BY at')
      .all(device, seriesKey) as AnnotationRow[];
  }

  /** Annotations of `device` with from < at <= to (a new baseline between two runs). */
  annotationsBetween(device: string, fromExclusive: string, toInclusive: string): AnnotationRow[] {
    return this.db
      .prepare('SELECT * FROM annotations WHERE device = ? AND at > ? AND at <= ? ORDER BY at')
      .all(device, fromExclusive, toInclusive) as AnnotationRow[];
  }

  series(device?: string): SeriesRow[] {
    return (
      device !== undefined
        ? this.db.prepare('SELECT * FROM series WHERE device = ? ORDER BY label').all(device)
        : this.db.prepare('SELECT * FROM series ORDER BY device, label').all()
    ) as SeriesRow[];
  }

  identity(hash: string): { hash: string; device: string; fields: DeviceIdentityFields; first_seen: string } | undefined {
    const r = this.db.prepare('SELECT * FROM identities WHERE hash = ?').get(hash) as
      { hash: string; device: string; fields_json: string; first_seen: string } | undefined;
    return r ? { hash: r.hash, device: r.device, fields: JSON.parse(r.fields_json) as DeviceIdentityFields, first_seen: r.first_seen } : undefined;
  }

  /** Timed points of every series of a device, in time order. */
  points(device: string): PointRow[] {
    return this.db
      .prepare(
        `SELECT r.series_key, ru.id AS run_row, ru.run_id, ru.started_at, ru.commit_sha, r.state, r.median, r.ci_low, r.ci_high,
                r.pct_measured, a.rel_l2, a.tol_limit, a.tol_metric
         FROM runs ru JOIN results r ON r.run_row = ru.id LEFT JOIN accuracy a ON a.result_id = r.id
         WHERE ru.device = ? AND r.series_key IS NOT NULL AND r.median IS NOT NULL
         ORDER BY ru.started_at, ru.id`,
      )
      .all(device) as PointRow[];
  }

  changepoints(device?: string): (ChangePointRow & { device: string; label: string })[] {
    const sql = `SELECT c.*, s.device, s.label FROM changepoints c JOIN series s ON s.key = c.series_key
                 ${device !== undefined ? 'WHERE s.device = ?' : ''} ORDER BY c.series_key, c.idx`;
    return (device !== undefined ? this.db.prepare(sql).all(device) : this.db.prepare(sql).all()) as (ChangePointRow & {
      device: string;
      label: string;
    })[];
  }

  /** Health snapshots of a device's runs, in time order. */
  health(
    device: string,
  ): { run_row: number; run_id: string; at: string; phase: string; temperature_c: number | null; throttled: string | null; freq_mhz: number | null }[] {
    return this.db
      .prepare(
        `SELECT h.run_row, ru.run_id, h.at, h.phase, h.temperature_c, h.throttled, h.freq_mhz
         FROM health h JOIN runs ru ON ru.id = h.run_row WHERE ru.device = ? ORDER BY h.at`,
      )
      .all(device) as {
      run_row: number;
      run_id: string;
      at: string;
      phase: string;
      temperature_c: number | null;
      throttled: string | null;
      freq_mhz: number | null;
    }[];
  }

  counts(): { runs: number; results: number; series: number; devices: number; annotations: number } {
    const one = (sql: string) => (this.db.prepare(sql).get() as { n: number }).n;
    return {
      runs: one('SELECT COUNT(*) AS n FROM runs'),
      results: one('SELECT COUNT(*) AS n FROM results'),
      series: one('SELECT COUNT(*) AS n FROM series'),
      devices: one('SELECT COUNT(DISTINCT device) AS n FROM runs'),
      annotations: one('SELECT COUNT(*) AS n FROM annotations'),
    };
  }
}

/** Settings kept in the store (see saveSettings). */
function readSettings(db: Database.Database): { compare: Partial<CompareOptions>; changepoints: Partial<ChangePointOptions> } {
  const rows = db.prepare('SELECT key, value FROM settings').all() as { key: string; value: string }[];
  const compare: Record<string, number> = {};
  const changepoints: Record<string, number> = {};
  for (const r of rows) {
    const v = JSON.parse(r.value) as unknown;
    if (typeof v !== 'number') continue;
    const [group, name] = r.key.split('.');
    if (!name) continue;
    if (group === 'compare' && name in DEFAULT_COMPARE_OPTIONS) compare[name] = v;
    if (group === 'changepoints' && name in DEFAULT_CHANGEPOINT_OPTIONS) changepoints[name] = v;
  }
  return { compare, changepoints };
}

const RUN_COLS =
  'id, device, run_id, started_at, finished_at, status, status_detail, identity_hash, commit_sha, harness_version, harness_commit, quick, source';

/** A run reference that names no stored run (e.g. `previous` on a device's first night). */
export class NoSuchRunError extends Error {
  override name = 'NoSuchRunError';
}

// ---------------------------------------------------------------------------
// Migrations
// ---------------------------------------------------------------------------

/** Version 1 -> 2: derive identities and series keys from the stored probes and cases, then build the summaries. */
function migrateV2(db: Database.Database): void {
  db.exec(SCHEMA_V2_DDL);
  const runs = db.prepare('SELECT id, device, started_at, device_json, options_json, probe_json FROM runs ORDER BY started_at, id').all() as {
    id: number;
    device: string;
    started_at: string;
    device_json: string;
    options_json: string;
    probe_json: string | null;
  }[];
  const setIdentity = db.prepare('UPDATE runs SET identity_hash = ? WHERE id = ?');
  const insIdentity = db.prepare('INSERT OR IGNORE INTO identities (hash, device, fields_json, first_seen) VALUES (?, ?, ?, ?)');
  const setKey = db.prepare('UPDATE results SET series_key = ? WHERE id = ?');
  const insSeries = db.prepare(
    `INSERT OR IGNORE INTO series (key, device, identity_hash, case_id, variant, dtype, distribution, size, shape_json, label, dirty)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`,
  );
  for (const r of runs) {
    if (!r.probe_json) continue;
    // Just enough of a run for identity and series keys.
    const partial = {
      device: JSON.parse(r.device_json) as RunResults['device'],
      options: JSON.parse(r.options_json) as RunResults['options'],
      probe: JSON.parse(r.probe_json) as RunResults['probe'],
    } as RunResults;
    const identity = deviceIdentity(partial);
    if (!identity) continue;
    insIdentity.run(identity.hash, r.device, JSON.stringify(identity.fields), r.started_at);
    setIdentity.run(identity.hash, r.id);
    const specs = new Map(
      (db.prepare('SELECT spec_json FROM cases WHERE run_row = ?').all(r.id) as { spec_json: string }[]).map((c) => {
        const spec = JSON.parse(c.spec_json) as CaseSpec;
        return [spec.id, spec] as const;
      }),
    );
    const results = db.prepare("SELECT id, detail_json FROM results WHERE run_row = ? AND state != 'skipped'").all(r.id) as {
      id: number;
      detail_json: string;
    }[];
    for (const res of results) {
      const cr = JSON.parse(res.detail_json) as CaseResult;
      const s = seriesOf(identity, partial, cr, specs.get(cr.caseId));
      const f = s.fields;
      insSeries.run(s.key, f.device, f.identityHash, f.caseId, f.variant, f.dtype, f.distribution, f.size, f.shape, s.label);
      setKey.run(s.key, res.id);
    }
  }
}

export const MIGRATIONS: Migration[] = [
  { version: 1, description: 'runs, cases, results, samples, accuracy, health, annotations', up: (db) => db.exec(SCHEMA_V1) },
  { version: 2, description: 'device identities, series keys, commit under test, series summary, change points', up: migrateV2 },
];

/**
 * Bring the store to the current schema. Each migration runs in a write
 * transaction that first reads the version again: two processes opening a new
 * store at once migrate it once (the second sees the first's work), and a busy
 * store is waited for.
 */
function migrate(db: Database.Database, file: string): void {
  const check = (from: number) => {
    if (from > CURRENT_SCHEMA_VERSION) {
      throw new HistoryStoreError(
        `the history store ${file} has schema version ${from}, newer than this roofbench understands (${CURRENT_SCHEMA_VERSION}); update roofbench`,
      );
    }
    if (from === 0) {
      const tables = db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table'").get() as { n: number };
      if (tables.n > 0)
        throw new HistoryStoreError(
          `the history store ${file} is an SQLite database, but not a roofbench history (no schema version): give another --history file, or move this one away`,
        );
    }
  };
  check(retryBusy(() => schemaVersion(db)));
  for (const m of MIGRATIONS) {
    try {
      retryBusy(() =>
        db
          .transaction(() => {
            const now = schemaVersion(db);
            check(now);
            if (m.version <= now) return; // done already (by another process, a moment ago)
            m.up(db);
            db.pragma(`user_version = ${m.version}`);
          })
          .immediate(),
      );
    } catch (cause) {
      if (cause instanceof HistoryStoreError) throw cause;
      throw new Error(
        `migrating the history store ${file} to schema version ${m.version} (${m.description}) failed; the file is left at version ${m.version - 1}`,
        {
          cause,
        },
      );
    }
  }
}
