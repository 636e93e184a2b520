import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunResults } from '../core/contracts.js';
import { deviceIdentity, seriesOf } from '../harness/history/identity.js';
import { ImportPathError, importRuns } from '../harness/history/importer.js';
import { checkCommit, gitCommitOf, recordRun } from '../harness/history/record.js';
import { CURRENT_SCHEMA_VERSION } from '../harness/history/schema.js';
import { historyPath, HistoryStore } from '../harness/history/store.js';
import { synthRuns } from './helpers/synthetic.js';
import { ROOT } from './helpers/cli.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/results/', import.meta.url));
const V1_SCHEMA = fileURLToPath(new URL('./fixtures/history/v1-schema.sql', import.meta.url));
const fixtureFile = (name: string) => join(FIXTURES, `${name}.json`);
const fixture = (name: string): RunResults => RunResults.parse(JSON.parse(readFileSync(fixtureFile(name), 'utf8')));
/** JSON equality (what a results.json reader sees). */
const asJson = (x: unknown) => JSON.parse(JSON.stringify(x)) as unknown;

let work: string;
const db = (name: string) => join(work, `${name}.sqlite`);

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'roofbench-history-'));
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('history store', () => {
  it('stores every fixture run and gives it back exactly (round trip)', () => {
    const store = HistoryStore.open(db('roundtrip'));
    try {
      for (const name of ['rpi3-complete', 'minimal-incomplete', 'injection']) {
        const run = fixture(name);
        const o = store.insertRun(run, { source: name });
        expect(o.inserted).toBe(true);
        expect(asJson(store.loadRun(o.runRowId))).toEqual(asJson(run));
      }
      expect(store.version).toBe(CURRENT_SCHEMA_VERSION);
      const c = store.counts();
      expect(c.runs).toBe(3);
      // Structured columns other tools can query: a timed result's median, samples and accuracy.
      const row = store.db
        .prepare(
          `SELECT r.median, r.n, s.samples_json, a.rel_l2, a.sqnr_db FROM results r JOIN runs ru ON ru.id = r.run_row
           JOIN samples s ON s.result_id = r.id JOIN accuracy a ON a.result_id = r.id
           WHERE ru.device = 'rpi3' AND r.case_id = 'conv/vgg16.conv3_2' AND r.variant = 'conv-direct-naive-f32'`,
        )
        .get() as { median: number; n: number; samples_json: string; rel_l2: number; sqnr_db: number };
      expect(row.median).toBe(11045.1);
      expect((JSON.parse(row.samples_json) as number[]).length).toBe(row.n);
      expect(row.rel_l2).toBe(3.32e-8);
    } finally {
      store.close();
    }
  });

  it('keeps non-finite accuracy values (Infinity as REAL, NaN as NULL) and gives them back', () => {
    const run = fixture('rpi3-complete');
    const i = run.results.findIndex((r) => r.state === 'passed');
    const r = run.results[i]!;
    if (r.state !== 'passed') throw new Error('fixture changed');
    run.results[i] = { ...r, accuracy: { ...r.accuracy, sqnrDb: 'Infinity', maxRel: 'NaN', maxAbs: 0, relL2: 0 } };
    const store = HistoryStore.open(db('nonfinite'));
    try {
      const o = store.insertRun(run);
      expect(asJson(store.loadRun(o.runRowId))).toEqual(asJson(run));
      const a = store.db.prepare('SELECT sqnr_db, max_rel FROM accuracy ORDER BY result_id LIMIT 1').get() as { sqnr_db: number; max_rel: number | null };
      expect(a.sqnr_db).toBe(Infinity);
      expect(a.max_rel).toBeNull();
    } finally {
      store.close();
    }
  });

  it('import looks two directory levels down (reports/<device>/<run>/), no deeper unless recursive, and refuses an empty find', () => {
    const top = join(work, 'depth');
    const place = (rel: string, name: 'rpi3-complete' | 'minimal-incomplete' | 'injection') => {
      mkdirSync(join(top, rel), { recursive: true });
      writeFileSync(join(top, rel, 'results.json'), readFileSync(fixtureFile(name)));
    };
    place('rpi3/run-a', 'rpi3-complete');
    // Someone else's test run, deep inside a scratch tree under the same directory.
    place('rpi3/run-a/scratch/tmp/x/reports/lab/run', 'injection');
    const store = HistoryStore.open(db('import-depth'));
    try {
      const s = importRuns(store, [top]);
      expect([s.stored, s.failed]).toEqual([1, 0]);
      expect(s.lines[0]).toBe(`found    1 results.json in ${top} (itself, its subdirectories and theirs; --recursive to look deeper)`);
      const deep = importRuns(store, [top], { recursive: true });
      expect([deep.stored, deep.already]).toEqual([1, 1]);
      expect(deep.lines[0]).toBe(`found    2 results.json in ${top} (recursively)`);
      // Nothing within reach: an error that says where it looked and what to do, and nothing is stored.
      mkdirSync(join(top, 'empty', 'a', 'b', 'c'), { recursive: true });
      place('empty/a/b/c', 'minimal-incomplete');
      const before = store.counts().runs;
      expect(() => importRuns(store, [top, join(top, 'empty')])).toThrow(ImportPathError);
      expect(() => importRuns(store, [join(top, 'empty')])).toThrow(
        `import: no results.json in ${join(top, 'empty')}, its subdirectories or theirs (a run directory, or reports/ with its <device>/<run-id>/ directories); give one of those, or --recursive to look deeper`,
      );
      expect(store.counts().runs).toBe(before);
    } finally {
      store.close();
    }
  });

  it('imports results.json files idempotently by device and run id', () => {
    const dir = join(work, 'reports');
    for (const [device, name] of [
      ['rpi3', 'rpi3-complete'],
      ['rpi3', 'minimal-incomplete'],
      ['lab', 'injection'],
    ] as const) {
      const d = join(dir, device, name);
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, 'results.json'), readFileSync(fixtureFile(name)));
    }
    writeFileSync(join(dir, 'rpi3', 'broken.json'), '{');
    const store = HistoryStore.open(db('import'));
    try {
      const first = importRuns(store, [dir]);
      expect([first.stored, first.already, first.failed]).toEqual([3, 0, 0]);
      const again = importRuns(store, [dir, fixtureFile('rpi3-complete')]);
      expect([again.stored, again.already, again.failed]).toEqual([0, 4, 0]);
      expect(store.counts().runs).toBe(3);
      const bad = importRuns(store, [join(dir, 'rpi3', 'broken.json')]);
      expect(bad.failed).toBe(1);
      expect(bad.lines[0]).toMatch(/FAILED .*broken\.json: cannot read/);
      // A different run that reuses a run id is kept, under a suffixed id.
      const clash = fixture('rpi3-complete');
      clash.startedAt = '2025-03-20T09:00:00.000Z';
      const o = store.insertRun(clash);
      expect(o.inserted).toBe(true);
      expect(o.storedRunId).toBe(`${clash.runId}-2`);
      // Importing it again with the commit under test fills the commit in.
      store.insertRun(clash, { commit: 'abc1234' });
      expect(store.run(o.runRowId)?.commit_sha).toBe('abc1234');
      // Two runs started in the same millisecond in one second (the host gave them <id> and <id>-2), stored -2 first:
      // the second is a different run (it finished at another time), not the first stored again.
      const twinA = fixture('rpi3-complete');
      twinA.runId = '2031-01-01T00-00-00Z';
      twinA.startedAt = '2031-01-01T00:00:00.123Z';
      twinA.finishedAt = '2031-01-01T00:00:09.000Z';
      const twinB: RunResults = { ...twinA, runId: `${twinA.runId}-2`, finishedAt: '2031-01-01T00:00:09.500Z' };
      expect(store.insertRun(twinB).inserted).toBe(true);
      const a = store.insertRun(twinA);
      expect([a.inserted, a.storedRunId]).toEqual([true, twinA.runId]);
      // Storing either again is recognised as already stored.
      expect(store.insertRun(twinA).inserted).toBe(false);
      expect(store.insertRun(twinB).inserted).toBe(false);
    } finally {
      store.close();
    }
  });

  it('resolves latest, previous (the newest complete one before), latest~N, run ids and row ids', () => {
    const store = HistoryStore.open(db('resolve'));
    try {
      const runs = synthRuns({ device: 'board', runs: 5, failedRuns: [3], seed: 2 });
      for (const r of runs) store.insertRun(r, { refresh: false });
      store.insertRun(fixture('rpi3-complete'));
      expect(store.resolveRun('latest', 'board').run_id).toBe(runs[4]!.runId);
      expect(store.resolveRun('previous', 'board').run_id).toBe(runs[2]!.runId); // runs[3] failed
      expect(store.resolveRun('latest~1', 'board').run_id).toBe(runs[3]!.runId);
      expect(store.resolveRun(runs[1]!.runId).run_id).toBe(runs[1]!.runId);
      const row = store.resolveRun(runs[0]!.runId);
      expect(store.resolveRun(`#${row.id}`).run_id).toBe(runs[0]!.runId);
      expect(() => store.resolveRun('latest')).toThrow(/per device: add --device \(devices in the store: board, rpi3\)/);
      expect(() => store.resolveRun('previous', 'rpi3')).toThrow(/only one run/);
      expect(() => store.resolveRun('latest~9', 'board')).toThrow(/has 5 run\(s\)/);
      expect(() => store.resolveRun('nope', 'board')).toThrow(/no run "nope"/);
    } finally {
      store.close();
    }
  });

  it('keeps series summaries current on insert, and annotations start a new baseline', () => {
    const store = HistoryStore.open(db('summary'));
    try {
      const runs = synthRuns({ device: 'b', runs: 12, cases: 2, variants: 2, seed: 3, steps: [{ match: 'conv-im2col-gemm-f32', atRun: 11, factor: 1.25 }] });
      let last;
      for (const r of runs) last = store.insertRun(r);
      expect(last!.newSeries).toEqual([]);
      const series = store.series('b');
      expect(series.length).toBe(4);
      for (const s of series) {
        expect(s.n_points).toBe(12);
        expect(s.dirty).toBe(0);
        expect(s.cmp_state, s.label).toBe(s.variant === 'conv-im2col-gemm-f32' ? 'regressed' : s.cmp_state === 'noisy' ? 'noisy' : 'unchanged');
      }
      // An annotation at the last run: the regression is a known change, the series start a new baseline.
      store.annotate({ device: 'b', message: 'new kernel build', at: runs[11]!.startedAt });
      for (const s of store.series('b')) {
        expect(s.cmp_state).toBe('new');
        expect(s.cmp_reason).toMatch(/new baseline: annotation "new kernel build"/);
      }
      expect(store.annotations('b').map((a) => a.message)).toEqual(['new kernel build']);
    } finally {
      store.close();
    }
  });

  it('a contended run gives its series no timing verdict; its load survives the store', () => {
    const store = HistoryStore.open(db('contended'));
    try {
      const runs = synthRuns({ device: 'busy', runs: 2, cases: 1, variants: 2, seed: 5, steps: [{ match: 'conv-im2col-gemm-f32', atRun: 1, factor: 1.3 }] });
      const cpu = { seconds: 30, otherCores: 1.6, maxCaseOtherCores: 1.8, maxCase: runs[1]!.cases[0]!.id, steal: null, maxLoadAvg1: 6.2 };
      runs[1]!.health.push({ ...runs[1]!.health[0]!, when: 'after', cpu });
      for (const r of runs) store.insertRun(r);
      const s = store.series('busy').find((x) => x.variant === 'conv-im2col-gemm-f32')!;
      expect(s.cmp_state).toBe('noisy');
      expect(s.cmp_reason).toMatch(/^no verdict: the head run was contended: other processes used 1\.60 cores on average/);
      const back = store.loadRun(store.resolveRun('latest', 'busy').id);
      expect(back.health.at(-1)?.cpu).toEqual(cpu);
    } finally {
      store.close();
    }
  });

  it('stores change points and finds the step of a synthetic history', () => {
    const store = HistoryStore.open(db('changepoints'));
    try {
      const runs = synthRuns({ device: 'c', runs: 40, cases: 2, variants: 2, seed: 4, steps: [{ match: 'conv-im2col-gemm-f32', atRun: 25, factor: 1.15 }] });
      for (const r of runs) store.insertRun(r, { refresh: false });
      expect(store.refreshDirty()).toBe(4);
      const cps = store.changepoints('c');
      expect(cps.map((c) => [c.label.split(' ')[1], c.idx])).toEqual([
        ['conv-im2col-gemm-f32', 25],
        ['conv-im2col-gemm-f32', 25],
      ]);
      for (const c of cps) {
        expect(c.rel_change).toBeGreaterThan(0.1);
        expect(store.run(c.run_row)?.run_id).toBe(runs[25]!.runId);
        expect(store.run(c.prev_run_row)?.run_id).toBe(runs[24]!.runId);
      }
    } finally {
      store.close();
    }
  });

  it('a change of device identity starts new series and says so', () => {
    const store = HistoryStore.open(db('identity'));
    try {
      const runs = synthRuns({ device: 'd', runs: 3, cases: 1, variants: 2, seed: 5, nodeUpgradeAt: 2 });
      const o1 = store.insertRun(runs[0]!);
      expect(o1.newSeries.length).toBe(2);
      const o2 = store.insertRun(runs[1]!);
      expect([o2.newSeries.length, o2.identityChanged]).toEqual([0, false]);
      const o3 = store.insertRun(runs[2]!);
      expect(o3.identityChanged).toBe(true);
      expect(o3.identityChanges).toEqual(['Node: v20.11.1 -> v20.19.0', 'V8: 11.3.244.8-node.17 -> 11.3.244.8-node.28']);
      expect(o3.newSeries.length).toBe(2);
      expect(store.series('d').length).toBe(4);
    } finally {
      store.close();
    }
  });

  it('refuses a newer schema and foreign databases', () => {
    const newer = db('newer');
    const d = new Database(newer);
    d.pragma('user_version = 99');
    d.close();
    expect(() => HistoryStore.open(newer)).toThrow(/schema version 99, newer than this roofbench understands \(2\)/);
    const foreign = db('foreign');
    const f = new Database(foreign);
    f.exec('CREATE TABLE t (x)');
    f.close();
    expect(() => HistoryStore.open(foreign)).toThrow(/not a roofbench history/);
  });

  it('historyPath: explicit, then ROOFBENCH_HISTORY, then reports/history.sqlite', () => {
    const saved = process.env.ROOFBENCH_HISTORY;
    try {
      process.env.ROOFBENCH_HISTORY = '/tmp/x/h.sqlite';
      expect(historyPath('/tmp/y.sqlite')).toBe('/tmp/y.sqlite');
      expect(historyPath()).toBe('/tmp/x/h.sqlite');
      delete process.env.ROOFBENCH_HISTORY;
      expect(historyPath()).toBe(join(ROOT, 'reports', 'history.sqlite'));
    } finally {
      if (saved === undefined) delete process.env.ROOFBENCH_HISTORY;
      else process.env.ROOFBENCH_HISTORY = saved;
    }
  });
});

describe('migration', () => {
  it('migrates a version 1 store built by hand to the current version, keeping every run', () => {
    const file = db('v1');
    const v1 = new Database(file);
    v1.exec(readFileSync(V1_SCHEMA, 'utf8'));
    v1.pragma('user_version = 1');
    // One run written the way version 1 wrote it.
    const run = fixture('rpi3-complete');
    const info = v1
      .prepare(
        `INSERT INTO runs (device, run_id, started_at, finished_at, status, status_detail, harness_version, harness_commit, harness_dirty,
           payload_hash, profile, transport, emulated, quick, device_json, options_json, probe_json, ceilings_json, stderr_json, source, inserted_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        run.device.name,
        run.runId,
        run.startedAt,
        run.finishedAt,
        run.status,
        run.statusDetail ?? null,
        run.harness.version,
        run.harness.gitCommit,
        0,
        run.payloadHash,
        run.device.profile,
        run.device.transport,
        0,
        0,
        JSON.stringify(run.device),
        JSON.stringify(run.options),
        JSON.stringify(run.probe),
        JSON.stringify(run.ceilings),
        JSON.stringify(run.stderr),
        'v1 test',
        '2025-03-14T11:00:00Z',
      );
    const runRow = Number(info.lastInsertRowid);
    run.cases.forEach((c, i) => v1.prepare('INSERT INTO cases (run_row, ord, case_id, spec_json) VALUES (?, ?, ?, ?)').run(runRow, i, c.id, JSON.stringify(c)));
    run.health.forEach((h, i) =>
      v1
        .prepare('INSERT INTO health (run_row, ord, at, phase, temperature_c, governor, freq_mhz, throttled, load_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(runRow, i, h.at, h.when, h.temperatureC, h.governor, h.freqMHz, h.throttled, JSON.stringify(h.loadAvg)),
    );
    run.results.forEach((r, i) => {
      const timed = r.state === 'passed' || r.state === 'inaccurate' ? r : null;
      const detail = timed ? { ...timed, timing: { ...timed.timing, samples: undefined } } : r;
      const res = v1
        .prepare(
          `INSERT INTO results (run_row, ord, case_id, variant, algorithm, dtype, state, n, median, ci_low, ci_high, cv, noisy, gflops, pct_measured,
             pct_theoretical, detail_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          runRow,
          i,
          r.caseId,
          r.variant,
          r.algorithm,
          r.dtype,
          r.state,
          timed?.timing.samples.length ?? null,
          timed?.timing.stats.median ?? null,
          timed?.timing.stats.ciLow ?? null,
          timed?.timing.stats.ciHigh ?? null,
          timed?.timing.stats.cv ?? null,
          timed ? (timed.timing.noisy ? 1 : 0) : null,
          timed?.perf.gflops ?? null,
          timed?.perf.pctMeasured ?? null,
          timed?.perf.pctTheoretical ?? null,
          JSON.stringify(detail),
        );
      if (timed) {
        const id = Number(res.lastInsertRowid);
        v1.prepare('INSERT INTO samples (result_id, samples_json) VALUES (?, ?)').run(id, JSON.stringify(timed.timing.samples));
        const a = timed.accuracy;
        v1.prepare(
          'INSERT INTO accuracy (result_id, max_abs, rel_l2, max_rel, sqnr_db, cosine, tol_metric, tol_limit, checksum) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
        ).run(
          id,
          Number(a.maxAbs),
          Number(a.relL2),
          Number(a.maxRel),
          Number(a.sqnrDb),
          Number(a.cosine),
          a.tolerance.metric,
          a.tolerance.limit,
          a.outputChecksum,
        );
      }
    });
    v1.prepare("INSERT INTO annotations (device, at, message, created_at) VALUES ('rpi3', '2025-03-01T00:00:00Z', 'reflashed', '2025-03-01T00:00:00Z')").run();
    v1.close();

    const store = HistoryStore.open(file);
    try {
      expect(store.version).toBe(CURRENT_SCHEMA_VERSION);
      expect(asJson(store.loadRun(runRow))).toEqual(asJson(run));
      // Derived data the migration adds: identity, series keys equal to what a fresh insert computes, summaries.
      const identity = deviceIdentity(run)!;
      expect(store.run(runRow)?.identity_hash).toBe(identity.hash);
      expect(store.run(runRow)?.commit_sha).toBeNull();
      const specs = new Map(run.cases.map((c) => [c.id, c]));
      const expected = new Set(run.results.filter((r) => r.state !== 'skipped').map((r) => seriesOf(identity, run, r, specs.get(r.caseId)).key));
      expect(new Set(store.series('rpi3').map((s) => s.key))).toEqual(expected);
      for (const s of store.series('rpi3')) {
        expect(s.dirty).toBe(0);
        expect(s.cmp_state).toBe('new');
      }
      expect(store.annotations('rpi3')[0]?.series_key).toBeNull();
      // A run stored after the migration lines up with the migrated series.
      const next = fixture('rpi3-complete');
      next.runId = 'next';
      next.startedAt = '2025-03-15T09:00:00.000Z';
      const o = store.insertRun(next);
      expect(o.newSeries).toEqual([]);
      expect(store.series('rpi3').every((s) => s.n_points === 0 || s.n_points === 2)).toBe(true);
    } finally {
      store.close();
    }
    const check = new Database(file, { readonly: true });
    expect(check.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(check.pragma('foreign_key_check')).toEqual([]);
    check.close();
  });
});

describe('crash safety', () => {
  it('a process killed in the middle of storing a run loses that run only', async () => {
    const file = db('crash');
    const first = join(work, 'first.json');
    const second = join(work, 'second.json');
    const a = fixture('rpi3-complete');
    writeFileSync(first, JSON.stringify(a));
    const b = structuredClone(a);
    b.runId = 'second';
    b.startedAt = '2025-03-15T09:00:00.000Z';
    writeFileSync(second, JSON.stringify(b));
    const script = `
      import { readFileSync } from 'node:fs';
      import { HistoryStore } from './harness/history/store.ts';
      const s = HistoryStore.open(${JSON.stringify(file)});
      s.insertRun(JSON.parse(readFileSync(${JSON.stringify(first)}, 'utf8')));
      process.env.ROOFBENCH_TEST_HISTORY_CRASH = '20';
      s.insertRun(JSON.parse(readFileSync(${JSON.stringify(second)}, 'utf8')));
      console.log('not killed');
    `;
    const r = await new Promise<{ code: number | null; signal: string | null; out: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      child.on('error', reject);
      child.on('close', (code, signal) => resolve({ code, signal, out }));
    });
    expect(r.signal, r.out).toBe('SIGKILL');
    expect(r.out).not.toMatch(/not killed/);
    const store = HistoryStore.open(file);
    try {
      expect(store.runs().map((x) => x.run_id)).toEqual([a.runId]);
      expect(asJson(store.loadRun(store.runs()[0]!.id))).toEqual(asJson(a));
      expect(store.db.pragma('integrity_check', { simple: true })).toBe('ok');
      expect((store.db.prepare('SELECT COUNT(*) AS n FROM results').get() as { n: number }).n).toBe(a.results.length);
      // The store still takes the run that was lost.
      expect(store.insertRun(b).inserted).toBe(true);
    } finally {
      store.close();
    }
  });
});

describe('recordRun and gitCommitOf (what bench calls)', () => {
  it('records a run in the store named by dbPath and reports new series and identity changes', () => {
    const file = db('record');
    const runs = synthRuns({ device: 'e', runs: 2, cases: 1, variants: 2, seed: 6, nodeUpgradeAt: 1 });
    const r1 = recordRun(runs[0]!, { dbPath: file, commit: 'a'.repeat(40) });
    expect(r1.newSeries).toEqual(['conv/vgg16.conv3_2 conv-direct-naive-f32', 'conv/vgg16.conv3_2 conv-im2col-gemm-f32']);
    expect(r1.identityChanged).toBe(false);
    expect(r1.dbPath).toBe(file);
    const r2 = recordRun(runs[1]!, { dbPath: file });
    expect(r2.identityChanged).toBe(true);
    expect(r2.newSeries.length).toBe(2);
    expect(recordRun(runs[1]!, { dbPath: file }).inserted).toBe(false);
    const store = HistoryStore.open(file);
    try {
      expect(store.run(r1.runRowId)?.commit_sha).toBe('a'.repeat(40));
      expect(store.run(r2.runRowId)?.commit_sha).toBeNull();
    } finally {
      store.close();
    }
  });

  it('gitCommitOf reads the checked-out commit; a directory outside git is a clear error', () => {
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    expect(gitCommitOf(ROOT)).toBe(head);
    expect(gitCommitOf(join(ROOT, 'harness'))).toBe(head);
    const plain = mkdtempSync(join(tmpdir(), 'roofbench-nogit-'));
    try {
      expect(() => gitCommitOf(plain)).toThrow(/cannot read the git commit there.*is it a git checkout with a commit\?/);
    } finally {
      rmSync(plain, { recursive: true, force: true });
    }
    expect(() => gitCommitOf(join(work, 'missing'))).toThrow(/no such directory/);
    expect(checkCommit('ABC1234')).toBe('abc1234');
    expect(() => checkCommit('HEAD')).toThrow(/not a git commit id/);
  });
});
