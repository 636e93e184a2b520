/**
 * What the bench command calls when a run ends: store it in the history, and
 * find the git commit of the code under test.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { RunResults } from '../../core/contracts.js';
import { historyPath, HistoryStore } from './store.js';

export interface RecordOutcome {
  /** Row id of the run in the `runs` table. */
  runRowId: number;
  /** Labels of the series this run starts (first run, a new case or variant, or a new device identity). */
  newSeries: string[];
  /** The device identity differs from its previous probed run's: its series start afresh. */
  identityChanged: boolean;
  /** What changed, e.g. "Node: v20.11.1 -> v20.19.0". */
  identityChanges: string[];
  /** false when this run (same device, run id and start time) was already stored. */
  inserted: boolean;
  /** The store file written. */
  dbPath: string;
}

/**
 * Append a finished run to the history store (dbPath, else ROOFBENCH_HISTORY,
 * else reports/history.sqlite), in one transaction, and bring its series'
 * summaries and change points up to date. `commit` is the git commit of the
 * code under test, when known (--commit / --commit-from). Idempotent: storing
 * the same run twice stores it once.
 */
export function recordRun(run: RunResults, opts: { dbPath?: string; commit?: string | null } = {}): RecordOutcome {
  const dbPath = historyPath(opts.dbPath);
  const store = HistoryStore.open(dbPath);
  try {
    const o = store.insertRun(run, { commit: opts.commit ?? null, source: 'bench', refresh: true });
    return {
      runRowId: o.runRowId,
      newSeries: o.newSeries,
      identityChanged: o.identityChanged,
      identityChanges: o.identityChanges,
      inserted: o.inserted,
      dbPath: store.path,
    };
  } finally {
    store.close();
  }
}

/** The commit checked out at `path` (a git work tree or any directory inside one): 40 hex digits. */
export function gitCommitOf(path: string): string {
  const dir = resolve(path);
  if (!existsSync(dir)) throw new Error(`--commit-from ${path}: no such directory`);
  const cwd = statSync(dir).isDirectory() ? dir : resolve(dir, '..');
  let out: string;
  try {
    out = execFileSync('git', ['-C', cwd, 'rev-parse', '--verify', 'HEAD^{commit}'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    }).trim();
  } catch (cause) {
    const stderr = (cause as { stderr?: string }).stderr?.toString().trim();
    throw new Error(
      `--commit-from ${path}: cannot read the git commit there${stderr ? ` (${stderr.split('\n')[0]})` : ''}: is it a git checkout with a commit?`,
      {
        cause,
      },
    );
  }
  if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(out)) throw new Error(`--commit-from ${path}: git printed "${out}", not a commit id`);
  return out;
}

/** Validate a commit id given on the command line (--commit SHA): 7 to 64 hex digits. */
export function checkCommit(sha: string): string {
  const s = sha.trim().toLowerCase();
  if (!/^[0-9a-f]{7,64}$/.test(s)) throw new Error(`--commit "${sha}" is not a git commit id (7 to 64 hex digits)`);
  return s;
}
