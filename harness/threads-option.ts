/**
 * `--threads N|all[,...]`: the thread counts every case runs at, in one run. Validated once, at load:
 * each count is a whole number from 1 to MAX_THREADS or `all` (the device's core count, as its probe
 * reports it; resolved on the device). Several counts (`--threads 1,2`) measure each case at each of them
 * in the same interleaved rounds, so the report's scaling view compares figures measured side by side.
 */
import { MAX_THREADS, type ThreadCount } from '../core/contracts.js';
import { threadable } from '../suites/conv/threaded.js';
import { MODEL_PEER_NAMES, ortWebElsewhere, PEER_VARIANT_NAMES, TFJS_ONE_THREAD } from '../suites/conv/peers/run.js';
import { convOnnxruntimeF32 } from '../suites/conv/variants/onnxruntime.js';
import { measuresItself } from '../suites/kit.js';
import { kitOf } from '../suites/kits.js';
import { modelThreadable } from '../suites/models/threaded.js';
import { asConvVariant, type VariantResolver } from '../suites/variants.js';

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

/**
 * Why the run would skip `name` of `suite` at `n` threads (a run at `counts`), as the runner decides it
 * (harness/runner/threaded-variants.ts, runner/main.ts, the kits), or null when it runs there or only the
 * device can tell. On the host, before anything ships: a selection that measures nothing at a count is said
 * up front.
 */
export function threadSkipReason(
  suite: string,
  name: string,
  n: number,
  counts: readonly number[],
  resolve: VariantResolver,
  external: ReadonlySet<string> = new Set(),
): string | null {
  const top = Math.max(1, ...counts);
  // onnxruntime-web fixes its thread count once per process: the run's highest count (at 1 too).
  if (name === PEER_VARIANT_NAMES['onnxruntime-web'] || name === MODEL_PEER_NAMES['onnxruntime-web']) return n === top ? null : ortWebElsewhere(top, n);
  if (n === 1) return null;
  if (external.has(name)) return 'a native kernel of the kernels file runs on one thread';
  // tfjs-backend-wasm runs one thread in Node, on single convs and whole networks alike.
  if (name === PEER_VARIANT_NAMES['tfjs-xnnpack'] || name === MODEL_PEER_NAMES['tfjs-xnnpack']) return TFJS_ONE_THREAD;
  const kit = kitOf(suite);
  const v = resolve(suite, name);
  if (kit && measuresItself(kit)) {
    if (!kit.threads) return `the ${suite} suite's whole-graph variants run on one thread (not threaded yet)`;
    if (v?.op === 'model') {
      const ok = modelThreadable(v);
      return ok === true ? null : ok;
    }
    return null;
  }
  const c = asConvVariant(v);
  if (!c || c.name === convOnnxruntimeF32.name) return null;
  const ok = threadable(c);
  return ok === true ? null : ok;
}

/**
 * What a run at `requested` counts measures nowhere, said before it starts: a warning for the explicit counts at
 * which every selected pair is skipped (the variants grouped by why), and `nothing` when no count measures
 * anything (then the run is refused). `all` is the device's cores, known only there: nothing is predicted for it.
 */
export function threadSkipNotes(
  requested: readonly ThreadCount[],
  items: readonly { suite: string; variants: readonly string[] }[],
  resolve: VariantResolver,
  external?: ReadonlySet<string>,
): { warnings: string[]; nothing: string | null } {
  const counts = requested.filter((t): t is number => t !== 'all');
  // For each count where nothing runs: the skipped variants grouped by reason, as text; counts with the same text said once.
  const empty = new Map<string, number[]>();
  for (const n of counts) {
    const byReason = new Map<string, Set<string>>();
    const all = items.every((i) =>
      i.variants.every((v) => {
        const r = threadSkipReason(i.suite, v, n, counts, resolve, external);
        if (r !== null) byReason.set(r, (byReason.get(r) ?? new Set()).add(v));
        return r !== null;
      }),
    );
    if (!all || items.length === 0) continue;
    const text = [...byReason].map(([r, vs]) => `${[...vs].join(', ')}: ${r}`).join('; ');
    empty.set(text, [...(empty.get(text) ?? []), n]);
  }
  const said = [...empty].map(([text, ns]) => `at ${ns.join(', ')} thread${ns.length === 1 && ns[0] === 1 ? '' : 's'} nothing is measured (${text})`);
  const emptyCounts = [...empty.values()].flat().length;
  if (counts.length > 0 && emptyCounts === counts.length && !requested.includes('all')) {
    return {
      warnings: [],
      nothing:
        `--threads ${requested.join(',')}: nothing would be measured: ${said.join('; ')}. ` +
        'Add 1 to the counts for the one-thread figures, or select variants that run threaded (im2col, pointwise, depthwise, Winograd, ONNX Runtime; docs/threads.md)',
    };
  }
  return { warnings: said.map((w) => `${w}; the other counts run`), nothing: null };
}
