/**
 * `--threads`: schema 3 and its v2 -> v3 migration (a real v2 results.json made by main before the change,
 * test/fixtures/results/v2-conv.json), the option's validation, the thread count in the history's series
 * identity, and the runner's threaded variants (skip reasons, oversubscription, the bit-identity guard).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  baseVariantName,
  migrateRunJson,
  resolveThreadCounts,
  resultThreads,
  RunResults,
  SCHEMA_VERSION,
  threadedVariantName,
  type CaseResult,
  type ConvVariant,
} from '../core/contracts.js';
import { deviceIdentity, seriesOf } from '../harness/history/identity.js';
import { HistoryStore } from '../harness/history/store.js';
import { readRun } from '../harness/results.js';
import { parseThreadsOption, threadSkipNotes, threadSkipReason } from '../harness/threads-option.js';
import { atThreads, bitIdentityError, threadFields } from '../harness/runner/threaded-variants.js';
import { makeResolver } from '../suites/variants.js';
import { suites } from '../suites/index.js';

const V2_FILE = fileURLToPath(new URL('./fixtures/results/v2-conv.json', import.meta.url));
const v2Json = () =>
  JSON.parse(readFileSync(V2_FILE, 'utf8')) as { schemaVersion: number; options: Record<string, unknown>; results: Record<string, unknown>[] };

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'roofbench-threads-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('results schema 3: the thread count of every result', () => {
  it('the fixture really is version 2, without thread counts', () => {
    const raw = v2Json();
    expect(raw.schemaVersion).toBe(2);
    expect(SCHEMA_VERSION).toBe(3);
    expect('threads' in raw.options).toBe(false);
    expect(raw.results.some((r) => 'threads' in r)).toBe(false);
  });

  it('a v2 file loads as version 3: one thread everywhere, nothing measured touched', () => {
    const raw = v2Json();
    const run = readRun(V2_FILE);
    expect(run.schemaVersion).toBe(3);
    expect(run.options.threads).toEqual([1]);
    expect(run.results.map((r) => r.threads)).toEqual(raw.results.map(() => 1));
    expect(run.results.some((r) => r.oversubscribed)).toBe(false);
    const strip = (rs: unknown[]) => JSON.parse(JSON.stringify(rs, (k, v: unknown) => (k === 'threads' ? undefined : v))) as unknown;
    expect(strip(run.results)).toEqual(raw.results);
    const { options: _o, results: _r, schemaVersion: _v, ...rest } = run;
    const { options: _ro, results: _rr, schemaVersion: _rv, ...rawRest } = raw as unknown as RunResults;
    expect(JSON.parse(JSON.stringify(rest))).toEqual(rawRest);
  });

  it('the migration is idempotent, leaves a v3 run alone, and refuses a result with an impossible thread count', () => {
    const once = migrateRunJson(v2Json());
    expect(migrateRunJson(once)).toBe(once);
    const bad = { ...(once as object), results: [{ ...v2Json().results[0], threads: 0 }] };
    expect(RunResults.safeParse(bad).success).toBe(false);
  });

  it('a one-thread result keeps its history series across the migration; a 2-thread result of the same case and variant is another series', () => {
    const raw = v2Json();
    const run = readRun(V2_FILE);
    const identity = deviceIdentity(run)!;
    // The series key as main computed it before threads existed: the fields without `threads`.
    const r0 = run.results[0]!;
    const before = seriesOf(identity, run, { ...r0, threads: undefined } as CaseResult, run.cases[0]);
    const after = seriesOf(identity, run, r0, run.cases[0]);
    expect(after.key).toBe(before.key);
    const two = { ...r0, variant: threadedVariantName(r0.variant, 2), threads: 2 } as CaseResult;
    const s2 = seriesOf(identity, run, two, run.cases[0]);
    expect(s2.key).not.toBe(after.key);
    expect(s2.fields.threads).toBe(2);
    // Even a result whose name did not say its count is kept apart by the count itself.
    const sameName = seriesOf(identity, run, { ...r0, threads: 2 } as CaseResult, run.cases[0]);
    expect(sameName.key).not.toBe(after.key);
    expect(raw.results.length).toBeGreaterThan(0);
  });

  it('the history store files 1- and 2-thread results in separate series (never compared or gated together)', () => {
    const run = readRun(V2_FILE);
    const r0 = run.results[0]!;
    const threaded: RunResults = {
      ...run,
      runId: `${run.runId}-t2`,
      options: { ...run.options, threads: [1, 2] },
      results: [...run.results, { ...r0, variant: threadedVariantName(r0.variant, 2), threads: 2 }],
    };
    const store = HistoryStore.open(join(work, 'threads.sqlite'));
    try {
      store.insertRun(run);
      store.insertRun(threaded);
      const series = store.series(run.device.name);
      const one = series.find((s) => s.variant === r0.variant)!;
      const two = series.find((s) => s.variant === `${r0.variant}@t2`)!;
      expect(one.key).not.toBe(two.key);
      expect(one.n_points).toBe(2);
      expect(two.n_points).toBe(1);
    } finally {
      store.close();
    }
  });
});

describe('--threads N|all[,..]', () => {
  it('accepts counts, all, and lists; default one thread', () => {
    expect(parseThreadsOption(undefined)).toEqual([1]);
    expect(parseThreadsOption('2')).toEqual([2]);
    expect(parseThreadsOption('all')).toEqual(['all']);
    expect(parseThreadsOption('1,2,ALL,2')).toEqual([1, 2, 'all']);
  });

  it('refuses 0, negative, words, fractions, empty parts and counts above the cap, saying what to do', () => {
    expect(() => parseThreadsOption('0')).toThrow(/--threads "0": 0 threads cannot run anything; use 1/);
    expect(() => parseThreadsOption('-1')).toThrow(/"-1" is not a thread count; use a whole number from 1 to 64, or 'all'/);
    expect(() => parseThreadsOption('two')).toThrow(/"two" is not a thread count/);
    expect(() => parseThreadsOption('1.5')).toThrow(/"1.5" is not a thread count/);
    expect(() => parseThreadsOption('1,,2')).toThrow(/give a thread count, 'all' or several separated by commas/);
    expect(() => parseThreadsOption('')).toThrow(/give a thread count/);
    expect(() => parseThreadsOption('65')).toThrow(/65 threads is more than roofbench runs \(at most 64\); use 'all'/);
  });

  it('a count at which every selected variant is skipped is said before the run; nothing measured at any count is refused', () => {
    const resolve = makeResolver();
    const naive = [{ suite: 'conv', variants: ['conv-direct-naive-f32'] }];
    const refused = threadSkipNotes([2], naive, resolve);
    expect(refused.nothing).toMatch(
      /^--threads 2: nothing would be measured: at 2 threads nothing is measured \(conv-direct-naive-f32: the naive direct conv is the scalar correctness baseline; it stays single-threaded\)\. Add 1 to the counts/,
    );
    // With 1 among the counts the run measures something: a warning, not a refusal.
    const warned = threadSkipNotes([1, 2], naive, resolve);
    expect(warned.nothing).toBeNull();
    expect(warned.warnings).toEqual([expect.stringMatching(/^at 2 threads nothing is measured \(conv-direct-naive-f32: .*\); the other counts run$/)]);
    // A threaded variant among them: nothing to say.
    expect(threadSkipNotes([2], [{ suite: 'conv', variants: ['conv-direct-naive-f32', 'conv-im2col-gemm-f32'] }], resolve)).toEqual({
      warnings: [],
      nothing: null,
    });
    // Whole-graph suites that are not threaded, grouped by reason, the counts said once.
    const tiling = threadSkipNotes([2, 3], [{ suite: 'tiling', variants: ['tiling-layer-by-layer-f32', 'tiling-tiled-8-f32'] }], resolve);
    expect(tiling.nothing).toMatch(
      /at 2, 3 threads nothing is measured \(tiling-layer-by-layer-f32, tiling-tiled-8-f32: the tiling suite's whole-graph variants run on one thread/,
    );
    // 'all' is resolved on the device: never refused on the host.
    expect(threadSkipNotes(['all'], naive, resolve).nothing).toBeNull();
    // The models suite runs threaded, its int8 networks do not.
    // tfjs-backend-wasm runs one thread in Node, as a conv peer and on whole networks.
    expect(threadSkipReason('models', 'model-tfjs-xnnpack-f32', 2, [2], resolve)).toMatch(/tfjs-backend-wasm's threaded build needs browser Web Workers/);
    expect(threadSkipReason('conv', 'conv-tfjs-xnnpack-f32', 2, [1, 2], resolve)).toMatch(/tfjs-backend-wasm's threaded build/);
    expect(resolve('models', 'model-runtime-im2col-f32')).toBeDefined();
    expect(threadSkipReason('models', 'model-runtime-im2col-f32', 2, [2], resolve)).toBeNull();
  });

  it("the host's prediction agrees with the runner's own decision for every conv and sparse variant", () => {
    const resolve = makeResolver();
    const all = suites.filter((s) => s.name === 'conv' || s.name === 'sparse').flatMap((s) => s.variants.map((v) => [s.name, v] as const));
    expect(all.length).toBeGreaterThan(10);
    for (const [suite, v] of all) {
      const at = atThreads(v as ConvVariant, 2, undefined);
      // Without a pool the runner says so for a variant it would split: that one runs.
      const runnerSkips = 'skip' in at && !/has no pool/.test(at.skip);
      expect(threadSkipReason(suite, v.name, 2, [1, 2], resolve) !== null, `${suite} ${v.name}`).toBe(runnerSkips);
    }
  });

  it('all is the device core count, resolved once the device said it; duplicates removed, ascending', () => {
    expect(resolveThreadCounts(['all', 1], 4)).toEqual([1, 4]);
    expect(resolveThreadCounts([2, 'all'], 2)).toEqual([2]);
    expect(resolveThreadCounts(['all'], null)).toEqual([]);
    expect(resolveThreadCounts(undefined, 8)).toEqual([1]);
  });

  it('names a result at N threads <variant>@t<N> and reads the count back', () => {
    expect(threadedVariantName('conv-im2col-gemm-f32', 1)).toBe('conv-im2col-gemm-f32');
    expect(threadedVariantName('conv-im2col-gemm-f32', 2)).toBe('conv-im2col-gemm-f32@t2');
    expect(baseVariantName('conv-im2col-gemm-f32@t12')).toEqual({ base: 'conv-im2col-gemm-f32', threads: 12 });
    expect(baseVariantName('conv-onnxruntime-web-t2-f32')).toEqual({ base: 'conv-onnxruntime-web-t2-f32', threads: 1 });
    expect(resultThreads({ variant: 'x@t3' })).toBe(3);
    expect(resultThreads({ variant: 'x@t3', threads: 3 })).toBe(3);
  });

  it('marks a count above the cores oversubscribed, and only then', () => {
    expect(threadFields(2, 2)).toEqual({ threads: 2 });
    expect(threadFields(4, 2)).toEqual({ threads: 4, oversubscribed: true });
  });

  it('the bit-identity guard passes equal hashes and fails different ones, naming both', () => {
    expect(bitIdentityError('v', 2, 'abc', 'abc')).toBeNull();
    expect(bitIdentityError('v', 2, 'abc', 'abd')).toMatch(/on 2 threads is not bit-identical .*\(output hash abc vs abd\)/);
  });
});
