/**
 * `--threads N|all[,...]`: the thread counts every case runs at, in one run. Validated once, at load:
 * each count is a whole number from 1 to MAX_THREADS or `all` (the device's core count, as its probe
 * reports it; resolved on the device). Several counts (`--threads 1,2`) measure each case at each of them
 * in the same interleaved rounds, so the report's scaling view compares figures measured side by side.
 */
import { MAX_THREADS, type ThreadCount } from '../core/contracts.js';

export function parseThreadsOption(text: string | undefined): ThreadCount[] {
  if (text === undefined) return [1];
  const parts = text.split(',').map((p) => p.trim());
  if (parts.length === 0 || parts.some((p) => p === '')) {
    throw new Error(`--threads "${text}": give a thread count, 'all' or several separated by commas, e.g. --threads 2, --threads all, --threads 1,2`);
  }
  const counts: ThreadCount[] = [];
  for (const p of parts) {
    if (p.toLowerCase() === 'all') {
      counts.push('all');
      continue;
    }
    if (!/^[0-9]+$/.test(p)) {
      throw new Error(`--threads "${text}": "${p}" is not a thread count; use a whole number from 1 to ${MAX_THREADS}, or 'all' for the device's cores`);
    }
    const n = Number(p);
    if (n < 1) throw new Error(`--threads "${text}": ${p} threads cannot run anything; use 1 (the default) or more`);
    if (n > MAX_THREADS) {
      throw new Error(
        `--threads "${text}": ${p} threads is more than roofbench runs (at most ${MAX_THREADS}); use 'all' for the device's cores (a count above them is allowed, marked oversubscribed)`,
      );
    }
    counts.push(n);
  }
  const seen = new Set<ThreadCount>();
  return counts.filter((c) => (seen.has(c) ? false : (seen.add(c), true)));
}
