import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunResults } from '../core/contracts.js';
import { HistoryStore } from '../harness/history/store.js';
import { synthRuns } from './helpers/synthetic.js';
import { runProcess, type CliResult } from './helpers/cli.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/results/', import.meta.url));

/** Run harness/history/cli.ts as `npm run history -- ...` does. */
function history(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return runProcess(process.execPath, ['--import', 'tsx', 'harness/history/cli.ts', ...args], {
    env: { ...process.env, ROOFBENCH_HISTORY: '', ...env },
  });
}

let work: string;
let db: string;
let runs: RunResults[];

/** Write runs as reports/<device>/<run-id>/results.json under work. */
function writeRuns(list: RunResults[]): string[] {
  return list.map((r) => {
    const dir = join(work, 'reports', r.device.name, r.runId);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'results.json'), JSON.stringify(r));
    return dir;
  });
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'roofbench-history-cli-'));
  db = join(work, 'history.sqlite');
  // Three nights of one board; the third makes im2col 25% slower.
  runs = synthRuns({ device: 'board', runs: 3, cases: 2, variants: 2, seed: 9, steps: [{ match: 'conv-im2col-gemm-f32', atRun: 2, factor: 1.25 }] });
  writeRuns(runs);
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('history command line', () => {
  it('import: stores runs from directories and files, idempotently', async () => {
    const r = await history(['import', '--history', db, join(work, 'reports'), join(FIXTURES, 'rpi3-complete.json')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/4 stored, 0 already present, 0 skipped, 0 failed/);
    const again = await history(['import', join(work, 'reports')], { ROOFBENCH_HISTORY: db });
    expect(again.stdout).toMatch(/0 stored, 3 already present/);
    const missing = await history(['import', '--history', db, join(work, 'nope')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/import: .*nope does not exist/);
  });

  it('list and info', async () => {
    const list = await history(['list', '--history', db, '--device', 'board']);
    expect(list.code).toBe(0);
    expect(list.stdout.split('\n').filter((l) => l.includes(' board ')).length).toBe(3);
    const info = await history(['info', '--history', db]);
    expect(info.stdout).toMatch(/schema version: 2/);
    expect(info.stdout).toMatch(/runs: +4/);
  });

  it('compare latest previous: exit 1 and the regressed series when something regressed', async () => {
    const r = await history(['compare', 'latest', 'previous', '--device', 'board', '--history', db]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/REGRESSED: 2 series/);
    expect(r.stdout).toMatch(/regressed +conv\/vgg16\.conv3_2 conv-im2col-gemm-f32 .*\+2\d\.\d%/);
    // The other order names the same comparison (the older run is the base).
    const swapped = await history(['compare', 'previous', 'latest', '--device', 'board', '--history', db, '--format', 'json']);
    const json = JSON.parse(swapped.stdout) as { base: { runId: string }; head: { runId: string }; regressions: number };
    expect([json.base.runId, json.head.runId, json.regressions]).toEqual([runs[1]!.runId, runs[2]!.runId, 2]);
    // Two nights without the change: exit 0.
    const quiet = await history(['compare', 'latest~1', 'latest~2', '--device', 'board', '--history', db]);
    expect(quiet.code, quiet.stdout).toBe(0);
    expect(quiet.stdout).toMatch(/no regression/);
  });

  it('compare latest previous: like with like, passing over runs that measured something else, and saying so', async () => {
    const mixDb = join(work, 'mix.sqlite');
    const mix = synthRuns({ device: 'mix', runs: 4, cases: 2, variants: 2, seed: 11 });
    // The night before last ran with other sampling options, last night with a case less.
    mix[2] = { ...mix[2]!, options: { ...mix[2]!.options, targetMs: 50 } };
    const dropped = mix[3]!.cases[0]!.id;
    mix[3] = { ...mix[3]!, cases: mix[3]!.cases.slice(1), results: mix[3]!.results.filter((r) => r.caseId !== dropped) };
    writeRuns(mix);
    const imp = await history(['import', '--history', mixDb, join(work, 'reports', 'mix')]);
    expect(imp.code, imp.stderr).toBe(0);
    // latest (run 3) has no earlier twin: previous stays the newest earlier run, and the differences are listed.
    const r = await history(['compare', 'latest', 'previous', '--device', 'mix', '--history', mixDb, '--format', 'json']);
    const json = JSON.parse(r.stdout) as { base: { runId: string }; differences: string[]; notes: string[] };
    expect(json.base.runId).toBe(mix[2]!.runId);
    expect(json.differences).toEqual([`targetMs 50 -> ${mix[3]!.options.targetMs}`, `1 case(s) only in the base run (${dropped}): not compared`]);
    // latest~1 (run 2, targetMs 50) has none either; run 1 vs previous: run 0, alike.
    const like = await history(['compare', 'latest~2', 'previous', '--device', 'mix', '--history', mixDb]);
    expect(like.stdout).toMatch(new RegExp(`base: mix ${mix[0]!.runId}`));
    expect(like.stdout).not.toMatch(/the runs differ/);
    // A run like the night before last, stored last: previous passes over the two that differ.
    const again = synthRuns({
      device: 'mix',
      runs: 1,
      cases: 2,
      variants: 2,
      seed: 12,
      start: new Date(Date.parse(mix[3]!.startedAt) + 86_400_000).toISOString(),
    });
    writeRuns(again);
    await history(['import', '--history', mixDb, join(work, 'reports', 'mix')]);
    const skip = await history(['compare', 'latest', 'previous', '--device', 'mix', '--history', mixDb]);
    expect(skip.stdout).toMatch(new RegExp(`base: mix ${mix[1]!.runId}`));
    expect(skip.stdout).toMatch(
      /note: previous: the newest earlier complete run that measured the same thing \(2 newer run\(s\) with other options, cases or variants passed over\)/,
    );
  });

  it('compare: markdown to a file, results.json paths, a higher threshold', async () => {
    const md = join(work, 'cmp.md');
    const r = await history(['compare', 'latest', 'previous', '--device', 'board', '--history', db, '--format', 'markdown', '--out', md]);
    expect(r.code).toBe(1);
    expect(readFileSync(md, 'utf8')).toMatch(/^### 🔴 roofbench: board: 2 regressions/);
    const [a, b] = [runs[1]!, runs[2]!].map((x) => join(work, 'reports', 'board', x.runId));
    const files = await history(['compare', a!, join(b!, 'results.json')]);
    expect(files.code).toBe(1);
    const lenient = await history(['compare', a!, b!, '--threshold', '40%']);
    expect(lenient.code, lenient.stdout).toBe(0);
  });

  it('compare: errors exit 2; --if-exists turns a missing previous run into a note', async () => {
    const one = await history(['compare', 'latest', 'previous', '--device', 'rpi3', '--history', db]);
    expect(one.code).toBe(2);
    expect(one.stderr).toMatch(/device "rpi3" has only one run/);
    const ok = await history(['compare', 'latest', 'previous', '--device', 'rpi3', '--history', db, '--if-exists']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/nothing to compare/);
    const bad = await history(['compare', 'latest', '--history', db]);
    expect(bad.code).toBe(2);
    const fmt = await history(['compare', 'latest', 'previous', '--device', 'board', '--format', 'xml', '--history', db]);
    expect(fmt.stderr).toMatch(/--format must be table, markdown or json/);
    const thr = await history(['compare', 'latest', 'previous', '--device', 'board', '--threshold', '300', '--history', db]);
    expect(thr.stderr).toMatch(/--threshold 300 is 100% or more/);
  });

  it('annotate: a new baseline, so the same comparison is acknowledged (exit 0)', async () => {
    const a = await history(['annotate', 'board', 'new', 'kernel', 'build', '--run', 'latest', '--history', db]);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toMatch(/annotated board at .*: new kernel build/);
    const r = await history(['compare', 'latest', 'previous', '--device', 'board', '--history', db]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/annotated between the runs \(a new baseline\): "new kernel build"/);
    const series = await history(['series', '--device', 'board', '--history', db]);
    expect(series.stdout.split('\n').filter((l) => / new /.test(l)).length).toBe(4);
  });

  it('annotate: a device with no runs in the history is an error naming the devices it has, and nothing is stored', async () => {
    const typo = await history(['annotate', 'boar', 'new', 'kernel', '--history', db]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/device "boar" has no runs in the history .*history\.sqlite \(did you mean "board"\?\); its devices: board, rpi3\./);
    const store = HistoryStore.open(db, { readonly: true });
    expect(store.annotations('boar')).toEqual([]);
    store.close();
    // A store that does not exist is not created by annotate.
    const none = join(work, 'none', 'history.sqlite');
    const missing = await history(['annotate', 'board', 'x', '--history', none]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no history store at .*none\/history\.sqlite/);
    expect(existsSync(none)).toBe(false);
  });

  it('export gives back the stored run; dashboard writes the site', async () => {
    const out = join(work, 'export.json');
    const e = await history(['export', 'latest', '--device', 'board', '--history', db, '--out', out]);
    expect(e.code, e.stderr).toBe(0);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(JSON.parse(JSON.stringify(runs[2])));
    const dash = join(work, 'dash');
    const d = await history(['dashboard', '--history', db, '--out', dash]);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toMatch(/dashboard: .*index\.html \(2 device pages/);
    expect(existsSync(join(dash, 'index.html'))).toBe(true);
  });

  it('a command that only reads never creates a store: a mistyped --history is an error (exit 2) naming it', async () => {
    const typo = join(work, 'histroy.sqlite');
    for (const args of [['list'], ['compare', 'latest', 'previous', '--device', 'board'], ['dashboard', '--out', join(work, 'dash-typo')], ['series']]) {
      const r = await history([...args, '--history', typo]);
      expect(r.code, `${args[0]}: ${r.stdout}${r.stderr}`).toBe(2);
      expect(r.stderr).toContain(`no history store at ${typo}: nothing was stored there yet`);
      expect(existsSync(typo), args[0]).toBe(false);
    }
    // An unknown device or run names what the store has, and how to see it.
    const dev = await history(['compare', 'latest', 'previous', '--device', 'bord', '--history', db]);
    expect(dev.code).toBe(2);
    expect(dev.stderr).toMatch(/no runs of device "bord" in .*\(devices in the store: board, rpi3\)/);
    const run = await history(['compare', 'nosuchrun', 'latest', '--device', 'board', '--history', db]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('npm run history -- list shows the stored runs');
  });

  it('unknown commands and options are usage errors', async () => {
    const r = await history(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command "frobnicate"/);
    const o = await history(['list', '--bogus']);
    expect(o.code).toBe(2);
    expect(o.stderr).toMatch(/run with --help/);
    const h = await history(['--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/^roofbench history/);
  });
});
