/** The user's reports/ directory, which no test may write into, and how to see what appeared in it. */
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const USER_REPORTS = join(fileURLToPath(new URL('../..', import.meta.url)), 'reports');

/** Every path under dir (relative), three levels deep: enough to see a new run directory. */
export function listing(dir: string, depth = 3): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string, level: number) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      out.push(relative(dir, p));
      if (e.isDirectory() && level < depth) walk(p, level + 1);
    }
  };
  walk(dir, 1);
  return out.sort();
}

/** What appeared in `dir` since `before` (a listing). */
export function newEntries(before: readonly string[], dir: string): string[] {
  const had = new Set(before);
  return listing(dir).filter((p) => !had.has(p));
}
