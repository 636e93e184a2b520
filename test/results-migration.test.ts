/**
 * Results schema 2 (cases are graphs) and the migration of version-1 files: a real v1 results.json made by
 * main before the change (test/fixtures/results/v1-conv-and-model.json: one conv case, one network) loads,
 * renders, and files its results in the same history series as a run of the same case planned today.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateRunJson, RunResults, SCHEMA_VERSION, type CaseSpec } from '../core/contracts.js';
import { convCaseGraph, inferShapes } from '../core/graph.js';
import { deviceIdentity, seriesOf } from '../harness/history/identity.js';
import { HistoryStore } from '../harness/history/store.js';
import { renderReportHtml } from '../harness/report/render.js';
import { readRun } from '../harness/results.js';
import { convCases } from '../suites/conv/cases.js';

const V1_FILE = fileURLToPath(new URL('./fixtures/results/v1-conv-and-model.json', import.meta.url));
const v1Json = () => JSON.parse(readFileSync(V1_FILE, 'utf8')) as { schemaVersion: number; cases: Record<string, unknown>[]; results: unknown[] };
const CONV = 'conv/vgg16.conv3_2';
const NET = 'models/every_op';

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'roofbench-migration-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('results schema 2: a case is a graph', () => {
  it('the fixture really is version 1 (no graph on its cases; the network keeps its graph under model)', () => {
    const raw = v1Json();
    expect(raw.schemaVersion).toBe(1);
    expect(SCHEMA_VERSION).toBe(3);
    expect(raw.cases.map((c) => 'graph' in c)).toEqual([false, false]);
    expect((raw.cases[1]!.model as { graph?: unknown }).graph).toBeDefined();
  });

  it('a v1 file loads as version 3 (through 2): the conv case becomes its one-node graph, the network keeps its graph; ids, results and samples unchanged', () => {
    const raw = v1Json();
    const run = readRun(V1_FILE);
    expect(run.schemaVersion).toBe(3);
    expect(run.cases.map((c) => c.id)).toEqual([CONV, NET]);
    const conv = run.cases[0]!;
    expect(conv.graph).toEqual(convCaseGraph(conv.shape, 'vgg16.conv3_2'));
    expect(conv.graph.nodes.map((n) => n.op)).toEqual(['conv']);
    expect(conv.shape).toEqual(raw.cases[0]!.shape);
    const net = run.cases[1]!;
    expect(net.graph).toEqual((raw.cases[1]!.model as { graph: unknown }).graph);
    expect(net.model && 'graph' in net.model).toBe(false);
    expect(inferShapes(net.graph).size).toBeGreaterThan(net.graph.nodes.length);
    // Nothing measured is touched (version 3 adds one thread to every result and to the options).
    expect(run.results.every((r) => r.threads === 1)).toBe(true);
    expect(run.options.threads).toEqual([1]);
    const noThreads = (v: unknown) => JSON.parse(JSON.stringify(v, (k, x: unknown) => (k === 'threads' ? undefined : x))) as unknown;
    expect(noThreads(run.results)).toEqual(raw.results);
    // Everything but the cases and the version is the file's own.
    const { cases: _c, schemaVersion: _v, ...rest } = run;
    const { cases: _rc, schemaVersion: _rv, ...rawRest } = raw as unknown as RunResults;
    expect(noThreads(rest)).toEqual(rawRest);
  });

  it('the migrated conv case is exactly the case the conv suite plans today (same graph, shape, tags): one contract', () => {
    const today = convCases({ quick: true, seed: 1, distribution: 'uniform(-1,1)' }).find((c) => c.id === CONV)!;
    const migrated = readRun(V1_FILE).cases[0]!;
    // The description only gained a note that a --quick case runs scaled down.
    const { seed: _a, description: dt, ...t } = today;
    const { seed: _b, description: dm, ...m } = migrated;
    expect(m).toEqual(t);
    expect(dt.startsWith(dm)).toBe(true);
    expect(dt).toMatch(/--quick/);
  });

  it('refuses a version it does not know, naming the file, the version and what it reads; a v2 file that lacks a graph is refused', () => {
    const raw = v1Json();
    const f3 = join(work, 'v4.json');
    writeFileSync(f3, JSON.stringify({ ...raw, schemaVersion: 4 }));
    expect(() => readRun(f3)).toThrow(/v4\.json has schema version 4; this roofbench reads versions 1, 2 and 3 .*update roofbench/);
    const f2 = join(work, 'v2-no-graph.json');
    writeFileSync(f2, JSON.stringify({ ...raw, schemaVersion: 2 }));
    expect(() => readRun(f2)).toThrow(/v2-no-graph\.json does not match the results schema:\n {2}cases\.0\.graph/);
  });

  it('migration is idempotent and leaves a current run alone', () => {
    const once = migrateRunJson(v1Json());
    expect(migrateRunJson(once)).toBe(once);
  });

  it('the migrated run renders: the conv case with its shape, the network with its input and nodes', async () => {
    const html = await renderReportHtml(readRun(V1_FILE));
    expect(html).toContain('vgg16.conv3_2');
    expect(html).toContain('every_op');
    expect(html).toMatch(/network input [^<]*, \d+ nodes/);
    expect(html).toContain('model-runtime-im2col-f32');
  });
});

describe('history: the same series before and after', () => {
  it('a v1 run and a run of the same cases planned today land in the same series (the conv case and the network)', () => {
    const raw = v1Json();
    const v1 = readRun(V1_FILE);
    const identity = deviceIdentity(v1)!;
    // The series the v1 file's results belonged to, keyed from its own (v1) case specs, as before the change.
    const before = new Map(
      v1.results.map((r) => [`${r.caseId} ${r.variant}`, seriesOf(identity, v1, r, raw.cases.find((c) => c.id === r.caseId) as unknown as CaseSpec).key]),
    );
    const store = HistoryStore.open(join(work, 'series.sqlite'));
    try {
      store.insertRun(v1, { source: 'v1' });
      // A later run of the same cases, planned by today's conv suite (the network keeps its migrated spec).
      const today = convCases({ quick: true, seed: 1, distribution: 'uniform(-1,1)' }).find((c) => c.id === CONV)!;
      const later: RunResults = {
        ...v1,
        runId: `${v1.runId}-later`,
        startedAt: new Date(Date.parse(v1.startedAt) + 3_600_000).toISOString(),
        finishedAt: new Date(Date.parse(v1.startedAt) + 3_700_000).toISOString(),
        cases: [today, v1.cases[1]!],
      };
      store.insertRun(later, { source: 'today' });
      const series = store.series(v1.device.name);
      expect(series.length).toBe(before.size);
      for (const s of series) {
        expect(before.get(`${s.case_id} ${s.variant}`)).toBe(s.key);
        expect(s.n_points).toBe(2);
      }
      expect(series.map((s) => s.case_id).sort()).toEqual([CONV, CONV, NET]);
    } finally {
      store.close();
    }
  });

  it('a history store whose cases were stored as version 1 gives them back with their graphs', () => {
    const raw = v1Json();
    const store = HistoryStore.open(join(work, 'old-rows.sqlite'));
    try {
      const { runRowId } = store.insertRun(readRun(V1_FILE));
      // As a store written before this version holds them: the v1 case specs.
      const put = store.db.prepare('UPDATE cases SET spec_json = ? WHERE run_row = ? AND case_id = ?');
      for (const c of raw.cases) put.run(JSON.stringify(c), runRowId, c.id);
      const loaded = store.loadRun(runRowId);
      expect(loaded.cases[0]!.graph).toEqual(convCaseGraph(loaded.cases[0]!.shape, 'vgg16.conv3_2'));
      expect(loaded.cases[1]!.graph.nodes.length).toBeGreaterThan(1);
    } finally {
      store.close();
    }
  });
});
