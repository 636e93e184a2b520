/**
 * What the history says of a device, read without a HistoryStore: the newest run of `device` whose stored JSON
 * column (`probe_json`, `ceilings_json`) gives a value. The store is opened read-only (no migration, no write);
 * the `runs` table's columns used here are documented in docs/history.md. Used by the analyzer (ceilings, caches)
 * and the host-side memory check.
 */
import { existsSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { storeError } from './store.js';

export interface NewestRun<T> {
  value: T;
  runId: string;
  startedAt: string;
}

/**
 * The newest run of `device` (emulated runs left out with `nativeOnly`) whose `column` parses as JSON and
 * that `pick` accepts (non-null). `found` is null when the store does not exist or no run qualifies;
 * `error` says why a store could not be read.
 */
export function newestRunWith<T>(
  file: string,
  device: string,
  column: 'probe_json' | 'ceilings_json',
  pick: (json: unknown) => T | null,
  opts: { nativeOnly?: boolean } = {},
): { found: NewestRun<T> | null; error: string | null } {
  if (!existsSync(file)) return { found: null, error: null };
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    const rows = db
      .prepare(
        `SELECT run_id, started_at, ${column} AS json FROM runs WHERE device = ? AND ${column} IS NOT NULL` +
          `${opts.nativeOnly ? ' AND emulated = 0' : ''} ORDER BY started_at DESC, id DESC`,
      )
      .all(device) as { run_id: string; started_at: string; json: string }[];
    for (const r of rows) {
      let json: unknown;
      try {
        json = JSON.parse(r.json);
      } catch {
        continue;
      }
      const value = pick(json);
      if (value !== null) return { found: { value, runId: r.run_id, startedAt: r.started_at }, error: null };
    }
    return { found: null, error: null };
  } catch (e) {
    return { found: null, error: unreadable(file, e) };
  } finally {
    db?.close();
  }
}

/** Why the store at `file` cannot be read, naming it and saying what to do. */
function unreadable(file: string, e: unknown): string {
  if (/^no such table/.test((e as Error).message ?? '')) {
    return `the history store ${file} is an SQLite database, but not a roofbench history (it has no runs table): give another --history file, or move this one away`;
  }
  return storeError(file, 'reading', e).message.split('\n')[0]!;
}

/** Why the history store at `file` cannot be read (not a database, not a roofbench history, damaged), or null: none yet, or readable. */
export function historyReadError(file: string): string | null {
  if (!existsSync(file)) return null;
  const st = statSync(file);
  if (st.isDirectory()) return `the history store ${file} is a directory: give the store's file (e.g. reports/history.sqlite)`;
  // An empty file is an empty store (what SQLite makes of it): no runs yet.
  if (st.size === 0) return null;
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    db.prepare('SELECT run_id FROM runs LIMIT 1').all();
    return null;
  } catch (e) {
    return unreadable(file, e);
  } finally {
    db?.close();
  }
}
