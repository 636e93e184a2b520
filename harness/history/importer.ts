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

/** Every results.json under `p` (p itself if it is one). */
export function findResultFiles(p: string): string[] {
  const abs = resolve(p);
  if (!existsSync(abs)) throw new ImportPathError(`import: ${p} does not exist`);
  if (statSync(abs).isFile()) return [abs];
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.name === 'node_modules' || e.name === '.git' || e.name === 'dashboard') continue;
      const full = join(dir, e.name);
      if (e.isDirectory()) walk(full);
      else if (e.isFile() && e.name === RESULTS_FILE) out.push(full);
    }
  };
  walk(abs);
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
export function importRuns(store: HistoryStore, paths: string[], opts: { includeRunning?: boolean; commit?: string | null } = {}): ImportSummary {
  const s: ImportSummary = { stored: 0, already: 0, skipped: 0, failed: 0, lines: [] };
  const found = paths.map((p) => ({ p, files: findResultFiles(p) }));
  for (const f of found) if (f.files.length === 0) s.lines.push(`note     no ${RESULTS_FILE} under ${f.p}`);
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
