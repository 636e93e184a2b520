/**
 * "Did you mean": the closest valid name to a mistyped one (devices, cases,
 * variants, suites, options, commands), and node:util's parseArgs with that
 * hint added to its unknown-option error. Pure, no I/O.
 */
import { parseArgs as nodeParseArgs, type ParseArgsConfig } from 'node:util';

/** Optimal string alignment distance (a transposition counts 1: `hots` -> `host`). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number): number => d[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i <= a.length; i++) {
    const row = d[i];
    if (!row) continue;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, at(i - 2, j - 2) + 1);
      row[j] = v;
    }
  }
  return at(a.length, b.length);
}

/**
 * The closest valid name to `name`, if it is close enough to be a likely typo
 * (case-insensitive; 1 edit for short names, up to 3 for long ones). `aliases`
 * maps common other names (lower case, without - and _) to a valid one.
 */
export function didYouMean(name: string, valid: readonly string[], aliases: Readonly<Record<string, string>> = {}): string | undefined {
  const lower = name.toLowerCase();
  const alias = aliases[lower.replace(/[-_]/g, '')];
  if (alias && valid.includes(alias)) return alias;
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  for (const v of valid) {
    const d = editDistance(lower, v.toLowerCase());
    if (d < bestD) {
      best = v;
      bestD = d;
    }
  }
  const limit = lower.length <= 4 ? 1 : lower.length <= 8 ? 2 : 3;
  return bestD <= limit ? best : undefined;
}

/** ` (did you mean "x"?)`, or '' when nothing is close. */
export function suggestion(name: string, valid: readonly string[], aliases?: Readonly<Record<string, string>>): string {
  const s = didYouMean(name, valid, aliases);
  return s === undefined ? '' : ` (did you mean "${s}"?)`;
}

/**
 * node:util's parseArgs, with "did you mean --x?" added to an unknown option's
 * error (the error keeps its code, so callers still map it to a usage error).
 */
export function parseArgs<T extends ParseArgsConfig>(config: T): ReturnType<typeof nodeParseArgs<T>> {
  try {
    return nodeParseArgs(config);
  } catch (e) {
    const err = e as Error & { code?: string };
    if (err.code !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw e;
    const m = /Unknown option '(-{1,2})([^'=]+)/.exec(err.message);
    const names = Object.keys(config.options ?? {});
    const hint = m?.[2] ? didYouMean(m[2], names) : undefined;
    if (hint === undefined) throw e;
    const better = new Error(`unknown option ${m?.[1] ?? '--'}${m?.[2] ?? ''} (did you mean --${hint}?)`);
    (better as Error & { code?: string }).code = err.code;
    throw better;
  }
}
