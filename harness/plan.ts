/** Plan: suites x cases x variants, filtered by what the user asked for. */
import type { AnyVariant, CaseSpec, ExtraVariant, Plan, RunOptions } from '../core/contracts.js';
import { suites as allSuites, type Suite } from '../suites/index.js';
import { buildExtraVariant } from '../suites/variants.js';
import { suggestion } from './suggest.js';
import { encodeWeights } from '../suites/models/weights-codec.js';
import { kernelForCase } from './external-file.js';
import { schemeKey } from '../suites/conv/schemes.js';

export class UsageError extends Error {}

export interface Selection {
  suites?: string[];
  variants?: string[];
  cases?: string[];
  /** Case-insensitive regular expression matched against "<case id> <variant name>". */
  filter?: string | null;
  quick: boolean;
  seed: number;
  distribution: RunOptions['distribution'];
  /** Parametrised variants for this run (suite data + command line): see extraVariantsFor(). */
  extraVariants?: ExtraVariant[];
  /** Zoo names or model files for the models suite (--model); selecting any picks that suite. */
  models?: string[];
  /**
   * The low-precision schemes to run (--schemes), as scheme keys (suites/conv/schemes.ts schemeKey): a
   * low-precision variant of another scheme is left out. Absent: every scheme the suites list.
   */
  schemes?: string[];
  /** The models suite's conv policy (--policy im2col|best). */
  policy?: string;
  /** The sparse suite's patterns and fractions (--pattern, --sparsity). */
  patterns?: string[];
  fractions?: number[];
  /** The tiling suite's tile sizes (--tile). */
  tiles?: number[];
  /**
   * When --filter or --variant keeps a variant whose accuracy decision compares it with reference
   * variants (a Winograd tile with fp32 direct, im2col and ONNX Runtime), run those too (default true).
   */
  decisionBaselines?: boolean;
  /**
   * The native kernels of the run's kernels file (--kernels): each joins the cases it is declared
   * for, next to the built-in variants (selected, filtered and listed like them).
   */
  external?: readonly { name: string; cases: 'all' | string[] }[];
}

/**
 * The parametrised variants of a run: those the suites' data lists plus the
 * user's (--winograd), each built once to check it (bad point sets fail here,
 * on the host, with the factory's message) and deduplicated by name; one that
 * coincides with a fixed variant (e.g. F(4x4) on its default points) is dropped.
 */
export function extraVariantsFor(suites: readonly Suite[], user: ExtraVariant[] = []): ExtraVariant[] {
  const out: ExtraVariant[] = [];
  const names = new Set(suites.flatMap((s) => s.variants.map((v) => v.name)));
  for (const e of [...suites.flatMap((s) => s.extraVariants?.() ?? []), ...user]) {
    let name: string;
    try {
      name = buildExtraVariant(e).name;
    } catch (cause) {
      const what = e.kind === 'winograd' ? `m=${e.m} points ${e.points.join(',')}` : e.kind === 'peer' ? e.peer : `"${e.scheme}" on ${e.kernel}`;
      throw new UsageError(`${e.kind} variant ${what}: ${(cause as Error).message}`);
    }
    if (names.has(name)) continue;
    names.add(name);
    out.push(e);
  }
  return out;
}

export interface PlannedItem {
  suite: Suite;
  caseSpec: CaseSpec;
  variants: string[];
  /** Variants the selection left out but the accuracy decision needs, added back (a subset of variants). */
  baselinesAdded?: string[];
  /** Real weights of a model case, encoded for the plan (PlanItem.weights). */
  weights?: Record<string, string>;
}

/** A variant kept by --schemes: not low precision, or of one of the schemes. */
function keepsScheme(v: AnyVariant | undefined, keys: readonly string[]): boolean {
  const scheme = v?.op === 'conv' ? (v.accuracy.kind === 'scheme' ? v.accuracy.scheme : undefined) : v?.scheme;
  return scheme === undefined || keys.includes(schemeKey(scheme));
}

function unknown(kind: string, bad: string[], valid: string[], alsoValid: string[] = []): UsageError {
  const named = bad.map((b) => `${b}${suggestion(b, [...valid, ...alsoValid])}`);
  return new UsageError(`unknown ${kind}${bad.length > 1 ? 's' : ''}: ${named.join(', ')}\nvalid ${kind}s: ${valid.join(', ')}`);
}

export function selectItems(sel: Selection, suites: readonly Suite[] = allSuites): PlannedItem[] {
  const suiteNames = suites.map((s) => s.name);
  // Opt-in suites (models) run only when named, or when an option of theirs (--model) asks for them.
  const defaults = suites.filter((s) => !s.optIn).map((s) => s.name);
  const chosenSuites = sel.suites && sel.suites.length > 0 ? sel.suites : sel.models?.length ? ['models'] : defaults;
  const badSuites = chosenSuites.filter((n) => !suiteNames.includes(n));
  if (badSuites.length) throw unknown('suite', badSuites, suiteNames);
  const active = suites.filter((s) => chosenSuites.includes(s.name));
  const extras = (sel.extraVariants ?? []).map((e) => {
    const v = buildExtraVariant(e);
    return { suite: e.suite, name: v.name, v };
  });
  const specOf = (s: Suite, name: string) => s.variants.find((v) => v.name === name) ?? extras.find((e) => e.suite === s.name && e.name === name)?.v;
  const externalNames = (c?: CaseSpec) => (sel.external ?? []).filter((k) => !c || kernelForCase(k, c)).map((k) => k.name);
  const namesOf = (s: Suite, c?: CaseSpec) => [
    ...s.variants.map((v) => v.name),
    ...extras.filter((e) => e.suite === s.name).map((e) => e.name),
    ...externalNames(c),
  ];

  const variantNames = [...new Set(active.flatMap((s) => namesOf(s)))];
  const badVariants = (sel.variants ?? []).filter((n) => !variantNames.includes(n));
  // A name as the tables show a threaded result (conv-im2col-gemm-f32@t2): the variant, and --threads for the count.
  const threaded = badVariants.map((n) => /^(.+)@t([1-9]\d*)$/.exec(n)).find((m) => m !== null && variantNames.includes(m[1]!));
  if (threaded) {
    throw new UsageError(
      `--variant ${threaded[0]} is ${threaded[1]} on ${threaded[2]} threads, the name of a result: select the variant and the count, --variant ${threaded[1]} --threads ${threaded[2]}`,
    );
  }
  if (badVariants.length) throw unknown('variant', badVariants, variantNames);

  let re: RegExp | null = null;
  if (sel.filter) {
    try {
      re = new RegExp(sel.filter, 'i');
    } catch (cause) {
      throw new UsageError(`--filter "${sel.filter}" is not a valid regular expression`, { cause });
    }
  }

  const items: PlannedItem[] = [];
  const allCaseIds: string[] = [];
  const allLayers: string[] = [];
  for (const suite of active) {
    const caseOpts = {
      quick: sel.quick,
      seed: sel.seed,
      distribution: sel.distribution,
      models: sel.models,
      policy: sel.policy,
      patterns: sel.patterns,
      fractions: sel.fractions,
      tiles: sel.tiles,
    };
    let cases: CaseSpec[];
    try {
      cases = suite.cases(caseOpts);
    } catch (cause) {
      // A model that does not exist or cannot be read: a usage error naming it (nothing has run yet).
      // The message is complete (file, node, what to do): no "caused by" repeating it.
      throw new UsageError(`suite ${suite.name}: ${cause instanceof Error ? cause.message : String(cause)}`);
    }
    for (const c of cases) {
      allCaseIds.push(c.id);
      allLayers.push(c.layer);
      if (sel.cases?.length && !sel.cases.some((n) => n === c.id || n === c.layer)) continue;
      const vs = (suite.narrow ? suite.narrow(namesOf(suite, c), caseOpts) : namesOf(suite, c))
        .filter((v) => !sel.variants?.length || sel.variants.includes(v))
        .filter((v) => !sel.schemes || keepsScheme(specOf(suite, v), sel.schemes))
        .filter((v) => !re || re.test(`${c.id} ${v}`) || c.tags.some((t) => re.test(t)));
      if (vs.length === 0) continue;
      const narrowed = Boolean(re) || Boolean(sel.variants?.length);
      const needed =
        narrowed && sel.decisionBaselines !== false
          ? [
              ...new Set(
                vs.flatMap((name) => {
                  // Only for a variant that will run on this shape (Winograd on a 1x1 layer is skipped: nothing to decide).
                  const v = specOf(suite, name);
                  return v && v.applies(c.shape, c) === true ? (suite.decisionBaselines?.(v.algorithm) ?? []) : [];
                }),
              ),
            ].filter((b) => !vs.includes(b) && namesOf(suite, c).includes(b))
          : [];
      const weights = suite.caseWeights?.(c.id);
      const data = weights ? { weights: encodeWeights(weights) } : {};
      if (needed.length) {
        items.push({ suite, caseSpec: c, variants: namesOf(suite, c).filter((v) => vs.includes(v) || needed.includes(v)), baselinesAdded: needed, ...data });
      } else {
        items.push({ suite, caseSpec: c, variants: vs, ...data });
      }
    }
  }
  const badCases = (sel.cases ?? []).filter((n) => !allCaseIds.some((id) => id === n || id.endsWith(`/${n}`)) && !allLayers.includes(n));
  if (badCases.length) throw unknown('case', badCases, allCaseIds, allLayers);
  if (items.length === 0) {
    throw new UsageError(
      `the selection matches nothing (suites: ${chosenSuites.join(', ')}` +
        (sel.filter ? `, filter: ${sel.filter}` : '') +
        (sel.variants?.length ? `, variants: ${sel.variants.join(', ')}` : '') +
        (sel.cases?.length ? `, cases: ${sel.cases.join(', ')}` : '') +
        `); run with --list to see the suites, cases and variants`,
    );
  }
  return items;
}

export function makePlan(runId: string, options: RunOptions, items: PlannedItem[], measureCeilings = true, extraVariants: ExtraVariant[] = []): Plan {
  const used = new Set(items.flatMap((i) => i.variants));
  const extras = extraVariants.filter((e) => used.has(buildExtraVariant(e).name));
  return {
    runId,
    options,
    measureCeilings,
    ...(extras.length ? { extraVariants: extras } : {}),
    items: items.map((i) => ({ caseSpec: i.caseSpec, variants: i.variants, ...(i.weights ? { weights: i.weights } : {}) })),
  };
}

/**
 * The kernels of a --kernels file that the selection leaves out, as notes saying which and why: --variant
 * keeps only the variants it names (built-in, parametrised or native alike), and --suite / --case /
 * --filter / --model can leave a kernel none of its cases. Nothing is dropped without a word.
 */
export function unselectedKernels(external: readonly { name: string }[], items: readonly PlannedItem[], variants: readonly string[] = []): string[] {
  const used = new Set(items.flatMap((i) => i.variants));
  const left = external.map((k) => k.name).filter((n) => !used.has(n));
  const named = variants;
  const byVariant = named.length ? left.filter((n) => !named.includes(n)) : [];
  const byCases = left.filter((n) => !byVariant.includes(n));
  const notes: string[] = [];
  if (byVariant.length) {
    notes.push(
      `--kernels: ${byVariant.join(', ')} not run: --variant ${named.join(',')} does not name ${byVariant.length > 1 ? 'them' : 'it'} ` +
        `(--variant keeps only the variants it names, the kernels file's included: add ${byVariant.length > 1 ? 'them' : 'it'} to --variant to run ${byVariant.length > 1 ? 'them' : 'it'})`,
    );
  }
  if (byCases.length) {
    notes.push(
      `--kernels: ${byCases.join(', ')} not run: none of ${byCases.length > 1 ? 'their' : 'its'} cases is in the selection (--suite, --case, --filter, --model)`,
    );
  }
  return notes;
}

/** The options only some suites read: given while the selection runs none of them, they would change nothing. */
const SUITE_OPTIONS: Record<string, readonly string[]> = {
  tile: ['tiling'],
  pattern: ['sparse'],
  sparsity: ['sparse'],
  policy: ['models'],
  winograd: ['conv'],
  schemes: ['conv', 'models'],
};

/**
 * The first suite-specific option among `given` (option names without the dashes) that none of the `selected`
 * suites reads, as a usage error's message naming the option, the suites it needs and what to do; else null.
 * E.g. `--suite fusion --tile 4` would measure the fusion pairs and silently ignore the tile sizes.
 */
export function unusedSuiteOption(given: readonly string[], selected: readonly string[]): string | null {
  for (const o of given) {
    const needs = SUITE_OPTIONS[o];
    if (!needs || needs.some((s) => selected.includes(s))) continue;
    const which = needs.length > 1 ? `the ${needs.join(' and ')} suites` : `the ${needs[0]} suite`;
    return (
      `--${o} applies to ${which}, which this run leaves out (it runs: ${selected.join(', ') || 'nothing'}): ` +
      `add ${needs.join(' or ')} to --suite (e.g. --suite ${[...selected, needs[0]].join(',')}), or leave --${o} out`
    );
  }
  return null;
}
