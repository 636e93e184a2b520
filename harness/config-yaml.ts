/**
 * A YAML config file validated once, at load, against a zod schema, every
 * problem reported with file:line:column and the field, all at once: the way
 * devices.yaml is read (harness/devices.ts), for other config files (the
 * external kernels file, harness/external-file.ts).
 *
 * The position machinery (locating a field in the YAML document) lives in
 * devices.ts for now; once the transport work that changes devices.ts has landed,
 * devices.ts's parseDevices can call parseYamlConfig too and the machinery move here.
 *
 * Host-side only.
 */
import { LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { ConfigError, formatField, formatProblem, lineCol, position, type ConfigProblem, type Finding } from './devices.js';
import { suggestion } from './suggest.js';

export interface YamlConfigOptions {
  /** The valid keys of the mapping at `path` and what to call them (`unknown device key "x"`); none known: []. */
  validKeysAt(path: readonly PropertyKey[]): { keys: readonly string[]; what: string };
  /** Rules across fields, on the raw data (run whether or not the schema passed, so all problems come at once). */
  crossChecks?(raw: unknown): Finding[];
}

export interface ParsedYamlConfig<T> {
  data: T;
  doc: Document;
  /** The line of the key at `path` (1-based); for a list item, of the item. */
  lineOf(path: readonly PropertyKey[]): number;
}

/** A finding that may point somewhere else than its field (a missing key: at the mapping that should hold it). */
type Located = Finding & { locus?: PropertyKey[] };

/** Whether `path` names a key that is absent from its (present) parent mapping in the raw data. */
function isMissing(raw: unknown, path: readonly PropertyKey[]): boolean {
  let node: unknown = raw;
  for (const seg of path.slice(0, -1)) {
    if (typeof node !== 'object' || node === null) return false;
    node = (node as Record<PropertyKey, unknown>)[seg];
  }
  const last = path[path.length - 1];
  return typeof node === 'object' && node !== null && !Array.isArray(node) && last !== undefined && !(last in node);
}

function findingsOf(issue: z.core.$ZodIssue, raw: unknown, opts: YamlConfigOptions): Located[] {
  const path = issue.path.slice();
  if (issue.code === 'unrecognized_keys') {
    const { keys, what } = opts.validKeysAt(path);
    return issue.keys.map((key) => ({
      path: [...path, key],
      at: 'key' as const,
      message: `unknown ${what} "${key}"${suggestion(key, keys)}; valid: ${keys.join(', ')}`,
    }));
  }
  // A missing key: point at the mapping that should hold it (its first line), not at some key above it.
  if (isMissing(raw, path)) return [{ path, locus: path.slice(0, -1), at: 'value', message: issue.message }];
  return [{ path, at: 'value', message: issue.message }];
}

/**
 * Parses and validates `text` (the content of `file`, which names it in
 * messages). Throws a ConfigError listing every problem (YAML syntax, schema,
 * cross-field rules), sorted by position.
 */
export function parseYamlConfig<S extends z.ZodType>(text: string, file: string, schema: S, opts: YamlConfigOptions): ParsedYamlConfig<z.output<S>> {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, merge: true, uniqueKeys: true });
  const problem = (line: number | null, column: number | null, field: string, message: string): ConfigProblem => ({ file, line, column, field, message });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const { line, column } = lineCol(lc, e.pos[0]);
        return problem(
          line,
          column,
          '',
          `invalid YAML: ${e.message.replace(/\s+/g, ' ').trim()} (check the indentation and that each key is followed by ": ")`,
        );
      }),
    );
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 1000 });
  } catch (e) {
    throw new ConfigError([problem(1, 1, '', `invalid YAML: ${(e as Error).message}`)], { cause: e });
  }
  const result = schema.safeParse(raw);
  // One message per field: a value failing several checks is reported once.
  const fields = new Set<string>();
  const schemaFindings = (result.success ? [] : result.error.issues.flatMap((i) => findingsOf(i, raw, opts))).filter((f) => {
    if (f.at === 'key') return true;
    const k = formatField(f.path);
    return fields.has(k) ? false : (fields.add(k), true);
  });
  const findings: Located[] = [...schemaFindings, ...(opts.crossChecks?.(raw) ?? [])];
  if (findings.length > 0 || !result.success) {
    const seen = new Set<string>();
    const problems = findings
      .map((f) => {
        const { line, column } = position(doc, lc, f.locus ? { ...f, path: f.locus } : f);
        return problem(line, column, formatField(f.path), f.message);
      })
      .filter((p) => {
        const k = formatProblem(p);
        return seen.has(k) ? false : (seen.add(k), true);
      })
      .sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
    throw new ConfigError(problems.length > 0 ? problems : [problem(null, null, '', 'invalid')]);
  }
  return {
    data: result.data,
    doc,
    lineOf: (p) => position(doc, lc, { path: [...p], at: typeof p[p.length - 1] === 'number' ? 'value' : 'key', message: '' }).line,
  };
}
