/** Importing existing results.json files into the history store. */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { RunResults } from '../../core/contracts.js';
import { readRun, RESULTS_FILE } from '../results.js';
import type { HistoryStore } from './store.js';

/** A path given to import that does not exist. */
export class ImportPathError extends Error {
  override name = 'ImportPathError';
}

/** A path relative to the working directory when it is inside it. */
export function rel(p: string): string {
  const cwd = process.cwd();
  return p.startsWith(`${cwd}/`) ? p.slice(cwd.length + 1) : p;
}

/**
 * How deep import looks without --recursive: DIR/results.json, DIR/x/results.json and DIR/x/y/results.json,
 * which covers a run directory, reports/<device>/ and reports/ (reports/<device>/<run-id>/). Deeper trees
 * (a scratch copy, someone else's test runs) are not swept in unless asked for.
 */
export const IMPORT_DEPTH = 2;

/** Every results.json in `p` (p itself if it is one), at most IMPORT_DEPTH directories down unless `recursive`. */
export function findResultFiles(p: string, recursive = false): string[] {
  const abs = resolve(p);
  if (!existsSync(abs)) throw new ImportPathError(`import: ${p} does not exist`);
  if (statSync(abs).isFile()) return [abs];
  const out: string[] = [];
  const walk = (dir: string, depth: number) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.name === 'node_modules' || e.name === '.git' || e.name === 'dashboard') continue;
      const full = join(dir, e.name);
      if (e.isDirectory()) {
        if (recursive || depth < IMPORT_DEPTH) walk(full, depth + 1);
      } else if (e.isFile() && e.name === RESULTS_FILE) out.push(full);
    }
  };
  walk(abs, 0);
  if (out.length === 0) {
    throw new ImportPathError(
      recursive
        ? `import: no ${RESULTS_FILE} anywhere under ${p}; give a run directory or reports/`
        : `import: no ${RESULTS_FILE} in ${p}, its subdirectories or theirs (a run directory, or reports/ with its <device>/<run-id>/ directories); give one of those, or --recursive to look deeper`,
    );
  }
  return out.sort();
}

export interface ImportSummary {
  stored: number;
  already: number;
  skipped: number;
  failed: number;
  lines: string[];
}

/** Import results.json files into the store (idempotent by device and run id). */
export function importRuns(
  store: HistoryStore,
  paths: string[],
  opts: { includeRunning?: boolean; commit?: string | null; recursive?: boolean } = {},
): ImportSummary {
  const s: ImportSummary = { stored: 0, already: 0, skipped: 0, failed: 0, lines: [] };
  // Every path is searched before anything is stored: one that holds no run is an error, not a silent no-op.
  const found = paths.map((p) => ({ p, files: findResultFiles(p, opts.recursive) }));
  for (const f of found) {
    if (statSync(f.p).isFile()) continue;
    const how = opts.recursive ? 'recursively' : 'itself, its subdirectories and theirs; --recursive to look deeper';
    s.lines.push(`found    ${f.files.length} ${RESULTS_FILE} in ${rel(resolve(f.p))} (${how})`);
  }
  const files = [...new Set(found.flatMap((f) => f.files))];
  const loaded: { file: string; run: RunResults }[] = [];
  for (const file of files) {
    try {
      const run = readRun(file);
      if (run.status === 'running' && !opts.includeRunning) {
        s.skipped++;
        s.lines.push(`skipped  ${rel(file)}: still running (or its host died); --include-running stores it as it is`);
        continue;
      }
      loaded.push({ file, run });
    } catch (e) {
      s.failed++;
      s.lines.push(`FAILED   ${rel(file)}: ${(e as Error).message.split('\n').join(' ')}`);
    }
  }
  loaded.sort((a, b) => a.run.startedAt.localeCompare(b.run.startedAt));
  for (const { file, run } of loaded) {
    try {
      const o = store.insertRun(run, { source: file, refresh: false, commit: opts.commit ?? null });
      if (o.inserted) {
        s.stored++;
        s.lines.push(
          `stored   ${run.device.name} ${o.storedRunId}${o.storedRunId !== run.runId ? ` (run id ${run.runId} was taken)` : ''}` +
            `${o.newSeries.length ? `, ${o.newSeries.length} new series` : ''}${o.identityChanged ? `; identity changed: ${o.identityChanges.join('; ')}` : ''}`,
        );
      } else {
        s.already++;
        s.lines.push(`present  ${run.device.name} ${run.runId} (already stored)`);
      }
    } catch (e) {
      s.failed++;
      let msg = (e as Error).message;
      const cause = (e as Error).cause;
      if (cause instanceof Error) msg += `: ${cause.message}`;
      s.lines.push(`FAILED   ${rel(file)}: ${msg}`);
    }
  }
  store.refreshDirty();
  return s;
}
