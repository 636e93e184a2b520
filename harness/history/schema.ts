/**
 * The history store's SQL schema and its migrations (see docs/history.md for
 * what every table and column means).
 *
 * The schema version lives in SQLite's `PRAGMA user_version`. Each migration
 * takes the database from version N - 1 to N inside one transaction (DDL and
 * the data it derives), so an interrupted migration leaves the old version
 * intact. Never edit a released migration: add a new one.
 */
import type Database from 'better-sqlite3';

/** Version 1: runs, cases, results, raw samples, accuracy, health, annotations. */
export const SCHEMA_V1 = `
CREATE TABLE runs (
  id INTEGER PRIMARY KEY,
  device TEXT NOT NULL,
  run_id TEXT NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  status TEXT NOT NULL,
  status_detail TEXT,
  harness_version TEXT NOT NULL,
  harness_commit TEXT,
  harness_dirty INTEGER,
  payload_hash TEXT NOT NULL,
  profile TEXT,
  transport TEXT NOT NULL,
  emulated INTEGER NOT NULL,
  quick INTEGER NOT NULL,
  device_json TEXT NOT NULL,
  options_json TEXT NOT NULL,
  probe_json TEXT,
  ceilings_json TEXT NOT NULL,
  stderr_json TEXT NOT NULL,
  source TEXT NOT NULL,
  inserted_at TEXT NOT NULL,
  UNIQUE (device, run_id)
);
CREATE INDEX runs_device_started ON runs (device, started_at);
CREATE TABLE cases (
  run_row INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  ord INTEGER NOT NULL,
  case_id TEXT NOT NULL,
  spec_json TEXT NOT NULL,
  PRIMARY KEY (run_row, ord)
);
CREATE TABLE results (
  id INTEGER PRIMARY KEY,
  run_row INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  ord INTEGER NOT NULL,
  case_id TEXT NOT NULL,
  variant TEXT NOT NULL,
  algorithm TEXT NOT NULL,
  dtype TEXT NOT NULL,
  state TEXT NOT NULL,
  n INTEGER,
  median REAL,
  ci_low REAL,
  ci_high REAL,
  cv REAL,
  noisy INTEGER,
  gflops REAL,
  pct_measured REAL,
  pct_theoretical REAL,
  detail_json TEXT NOT NULL,
  UNIQUE (run_row, ord)
);
CREATE INDEX results_run ON results (run_row);
CREATE TABLE samples (
  result_id INTEGER PRIMARY KEY REFERENCES results (id) ON DELETE CASCADE,
  samples_json TEXT NOT NULL
);
CREATE TABLE accuracy (
  result_id INTEGER PRIMARY KEY REFERENCES results (id) ON DELETE CASCADE,
  max_abs REAL,
  rel_l2 REAL,
  max_rel REAL,
  sqnr_db REAL,
  cosine REAL,
  tol_metric TEXT NOT NULL,
  tol_limit REAL NOT NULL,
  checksum TEXT NOT NULL
);
CREATE TABLE health (
  run_row INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  ord INTEGER NOT NULL,
  at TEXT NOT NULL,
  phase TEXT NOT NULL,
  temperature_c REAL,
  governor TEXT,
  freq_mhz REAL,
  throttled TEXT,
  load_json TEXT NOT NULL,
  PRIMARY KEY (run_row, ord)
);
CREATE TABLE annotations (
  id INTEGER PRIMARY KEY,
  device TEXT NOT NULL,
  at TEXT NOT NULL,
  message TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX annotations_device ON annotations (device, at);
`;

/** Version 2: device identities, series keys, the commit under test, the per-series summary and change points. */
export const SCHEMA_V2_DDL = `
CREATE TABLE identities (
  hash TEXT PRIMARY KEY,
  device TEXT NOT NULL,
  fields_json TEXT NOT NULL,
  first_seen TEXT NOT NULL
);
ALTER TABLE runs ADD COLUMN identity_hash TEXT REFERENCES identities (hash);
ALTER TABLE runs ADD COLUMN commit_sha TEXT;
ALTER TABLE results ADD COLUMN series_key TEXT;
CREATE INDEX results_series ON results (series_key);
ALTER TABLE annotations ADD COLUMN series_key TEXT;
CREATE TABLE series (
  key TEXT PRIMARY KEY,
  device TEXT NOT NULL,
  identity_hash TEXT NOT NULL REFERENCES identities (hash),
  case_id TEXT NOT NULL,
  variant TEXT NOT NULL,
  dtype TEXT NOT NULL,
  distribution TEXT NOT NULL,
  size TEXT NOT NULL,
  shape_json TEXT NOT NULL,
  label TEXT NOT NULL,
  dirty INTEGER NOT NULL DEFAULT 1,
  n_points INTEGER NOT NULL DEFAULT 0,
  first_run_row INTEGER,
  last_run_row INTEGER,
  last_started_at TEXT,
  last_state TEXT,
  last_median REAL,
  last_ci_low REAL,
  last_ci_high REAL,
  last_pct_measured REAL,
  last_rel_l2 REAL,
  prev_run_row INTEGER,
  cmp_state TEXT,
  cmp_reason TEXT,
  cmp_ratio REAL,
  cmp_ci_low REAL,
  cmp_ci_high REAL,
  cmp_p REAL,
  n_changepoints INTEGER NOT NULL DEFAULT 0,
  updated_at TEXT
);
CREATE INDEX series_device ON series (device);
CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE changepoints (
  series_key TEXT NOT NULL REFERENCES series (key) ON DELETE CASCADE,
  run_row INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  prev_run_row INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  idx INTEGER NOT NULL,
  before_median REAL NOT NULL,
  after_median REAL NOT NULL,
  rel_change REAL NOT NULL,
  PRIMARY KEY (series_key, run_row)
);
`;

export const CURRENT_SCHEMA_VERSION = 2;

export interface Migration {
  version: number;
  description: string;
  /** DDL and data changes; runs inside the migration's transaction. */
  up(db: Database.Database): void;
}

export function schemaVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}
