/**
 * No run is lost or silently overwritten: --out never overwrites a run, runs
 * started in the same second get their own directories, concurrent first use
 * of a new history store keeps every run, one bad timestamp does not break
 * the dashboard, and two local runs at once do not measure each other.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunResults } from '../core/contracts.js';
import { HistoryStore } from '../harness/history/store.js';
import { synthRuns } from './helpers/synthetic.js';
import { bench, jsonLines, ROOT, runProcess, startBench, until } from './helpers/cli.js';

const ONE = ['--quick', '--case', 'mobilenet_v1.conv_dw_3', '--no-ceilings'];
const FIXTURES = join(ROOT, 'test', 'fixtures', 'results');
let work: string;

const readRun = (dir: string) => RunResults.parse(JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')));
const history = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  runProcess(process.execPath, ['--import', 'tsx', 'harness/history/cli.ts', ...args], { env: { ...process.env, ...env } });

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'roofbench-runs-'));
});

describe('--out never overwrites a run, and bad paths are refused before anything is created', () => {
  it('refuses a directory that already holds a run, keeping it intact', async () => {
    const out = join(mkdtempSync(join(work, 'out-')), 'r');
    expect((await bench([...ONE, '--out', out])).code).toBe(0);
    const before = readFileSync(join(out, 'results.json'), 'utf8');
    const again = await bench([...ONE, '--out', out]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/--out .* already exists and holds a run \(results\.json\): roofbench never overwrites a run/);
    expect(readFileSync(join(out, 'results.json'), 'utf8')).toBe(before);
  });

  it('refuses a file, a path under a file (/dev/null/x) and a kernel file system, saying which', async () => {
    const file = join(work, 'a-file');
    writeFileSync(file, 'x');
    const r1 = await bench([...ONE, '--out', file]);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toMatch(/--out .*a-file exists and is a file, not a directory/);
    const r2 = await bench([...ONE, '--out', '/dev/null/x']);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/--out \/dev\/null\/x is inside \/dev|\/dev\/null is a file, not a directory/);
    // mkdir -p under /proc never returns on this Node: it must be refused, not attempted.
    const r3 = await bench([...ONE, '--out', '/proc/roofbench-test/run'], { timeoutMs: 60_000 });
    expect(r3.code).toBe(2);
    expect(r3.stderr).toMatch(/--out \/proc\/roofbench-test\/run is inside \/proc, a kernel file system/);
    expect(existsSync('/proc/roofbench-test')).toBe(false);
  });

  it('an empty existing directory is used (and /dev/shm, a real tmpfs); a read-only one is refused with the reason', async () => {
    const empty = mkdtempSync(join(work, 'empty-'));
    expect((await bench([...ONE, '--out', empty])).code).toBe(0);
    expect(readRun(empty).status).toBe('complete');
    const shm = `/dev/shm/roofbench-test-${process.pid}-${Date.now()}`;
    try {
      expect((await bench([...ONE, '--out', shm])).code).toBe(0);
      expect(readRun(shm).status).toBe('complete');
    } finally {
      rmSync(shm, { recursive: true, force: true });
    }
    // A read-only mount: EROFS (root ignores file permissions, not a read-only mount).
    const ro = mkdtempSync(join(work, 'ro-'));
    execMount(['--bind', ro, ro]);
    try {
      execMount(['-o', 'remount,ro,bind', ro]);
      const r = await bench([...ONE, '--out', join(ro, 'run')]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/cannot create --out .*run: the file system is read-only/);
    } finally {
      execMount(['-u', ro]);
    }
  });
});

/** mount ARGS, or umount DIR with ['-u', DIR] (the tests run as root, like the full-disk SSH test). */
function execMount(args: string[]): void {
  const cmd = args[0] === '-u' ? 'umount' : 'mount';
  const a = args[0] === '-u' ? args.slice(1) : args;
  const r = spawnSync(cmd, a, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${a.join(' ')}: ${r.stderr}`);
}

describe('output that goes away', () => {
  it('bench --json | head -1: the run is stopped in order (interrupted, with its report), not left running', async () => {
    const out = join(mkdtempSync(join(work, 'pipe-')), 'r');
    const cmd = `${JSON.stringify(process.execPath)} --import tsx harness/cli.ts bench --quick --case vgg16.conv5_1,mobilenet_v1.conv_dw_3 --no-ceilings --json --out ${JSON.stringify(out)} | head -1`;
    const r = await runProcess('bash', ['-c', `${cmd}; echo "bench exit \${PIPESTATUS[0]}" >&2`], {
      env: { ...process.env, ROOFBENCH_LOCAL_WORK_DIR: mkdtempSync(join(work, 'lock-')), ROOFBENCH_HISTORY: join(work, 'pipe.sqlite') },
    });
    expect(r.stderr).toMatch(/the output was closed \(SIGPIPE\): stopping the run/);
    expect(r.stderr).toMatch(/bench exit 130/);
    const run = readRun(out);
    expect(run.status).toBe('interrupted');
    expect(run.statusDetail).toMatch(/interrupted by SIGPIPE/);
    expect(existsSync(join(out, 'index.html'))).toBe(true);
  });

  it('bench 2>&1 | head -2: stderr gone too is a stop in order, not a crash that leaves the run "running"', async () => {
    const out = join(mkdtempSync(join(work, 'pipe-')), 'r');
    const cmd = `${JSON.stringify(process.execPath)} --import tsx harness/cli.ts bench --quick --case vgg16.conv5_1,mobilenet_v1.conv_dw_3,mobilenet_v1.conv_pw_3 --no-ceilings --out ${JSON.stringify(out)} 2>&1 | head -2`;
    const r = await runProcess('bash', ['-c', `${cmd}; echo "bench exit \${PIPESTATUS[0]}" >&2`], {
      env: { ...process.env, ROOFBENCH_LOCAL_WORK_DIR: mkdtempSync(join(work, 'lock-')), ROOFBENCH_HISTORY: join(work, 'pipe.sqlite') },
    });
    expect(r.stderr).toMatch(/bench exit 130/);
    const run = readRun(out);
    expect(run.status).toBe('interrupted');
    expect(run.statusDetail).toMatch(/interrupted by SIGPIPE/);
    expect(existsSync(join(out, 'index.html'))).toBe(true);
  });
});

describe('runs started in the same second', () => {
  it('get a directory each (<run-id>, <run-id>-2), and the history keeps both', async () => {
    // A device of its own, so the runs go to reports/<it>/ and nothing else of reports/ is touched.
    const name = `same-second-${process.pid}-${Date.now()}`;
    const devices = join(mkdtempSync(join(work, 'devices-')), 'devices.yaml');
    writeFileSync(devices, `devices:\n  ${name}:\n    transport: local\n`);
    const hist = join(mkdtempSync(join(work, 'hist-')), 'h.sqlite');
    const env = { ROOFBENCH_TEST_RUN_ID: '2030-01-01T00-00-00Z', ROOFBENCH_HISTORY: hist };
    try {
      const [r1, r2] = await Promise.all([
        bench(['--devices', devices, '--device', name, ...ONE, '--json'], { env }),
        bench(['--devices', devices, '--device', name, ...ONE, '--json'], { env }),
      ]);
      expect([r1.code, r2.code]).toEqual([0, 0]);
      // Each says it stored its run (a store that failed only warns: its reason would be here).
      const storedMsgs = [r1, r2].map((r) => jsonLines(r.stdout).find((e) => e.type === 'run-complete')?.history);
      expect(storedMsgs.filter((m) => !String(m).startsWith('stored in '))).toEqual([]);
      const dirs = readdirSync(join(process.env.ROOFBENCH_REPORTS!, name)).sort();
      expect(dirs).toEqual(['2030-01-01T00-00-00Z', '2030-01-01T00-00-00Z-2']);
      for (const d of dirs) {
        const run = readRun(join(process.env.ROOFBENCH_REPORTS!, name, d));
        expect(run.status).toBe('complete');
        expect(run.runId).toBe(d);
      }
      const store = HistoryStore.open(hist, { readonly: true });
      try {
        expect(
          store
            .runs()
            .map((r) => r.run_id)
            .sort(),
        ).toEqual(dirs);
      } finally {
        store.close();
      }
    } finally {
      rmSync(join(process.env.ROOFBENCH_REPORTS!, name), { recursive: true, force: true });
    }
  });
});

describe('concurrent first use of a new history store', () => {
  it('stores every run: the migration runs once, the others wait for it', async () => {
    const store = join(mkdtempSync(join(work, 'store-')), 'history.sqlite');
    const base = JSON.parse(readFileSync(join(FIXTURES, 'rpi3-complete.json'), 'utf8')) as RunResults;
    const n = 6;
    const files = Array.from({ length: n }, (_, i) => {
      const f = join(work, `concurrent-${i}.json`);
      writeFileSync(f, JSON.stringify({ ...base, runId: `concurrent-${i}`, startedAt: new Date(Date.UTC(2030, 0, 1, 0, i)).toISOString() }));
      return f;
    });
    // Every process opens the new store at the same instant (they spin until it).
    const script = join(work, 'record.mts');
    writeFileSync(
      script,
      `import { readFileSync } from 'node:fs';
import { recordRun } from ${JSON.stringify(join(ROOT, 'harness', 'history', 'record.js'))};
const [file, db, at] = process.argv.slice(2);
const run = JSON.parse(readFileSync(file, 'utf8'));
while (Date.now() < Number(at)) {}
recordRun(run, { dbPath: db });
console.log('stored', run.runId);
`,
    );
    const at = Date.now() + 6000;
    const results = await Promise.all(files.map((f) => runProcess(process.execPath, ['--import', 'tsx', script, f, store, String(at)], { env: process.env })));
    for (const r of results) {
      expect(r.stderr).not.toMatch(/already exists|failed/);
      expect(r.code).toBe(0);
    }
    const s = HistoryStore.open(store, { readonly: true });
    try {
      expect(s.runs().length).toBe(n);
    } finally {
      s.close();
    }
  });
});

describe('timestamps are validated at every boundary', () => {
  it('a results.json with a timestamp that is not an ISO date-time is refused, naming the field', async () => {
    const dir = mkdtempSync(join(work, 'badtime-'));
    const run = JSON.parse(readFileSync(join(FIXTURES, 'rpi3-complete.json'), 'utf8')) as RunResults;
    writeFileSync(join(dir, 'results.json'), JSON.stringify({ ...run, startedAt: 'yesterday-ish' }));
    const r = await runProcess(process.execPath, ['--import', 'tsx', 'harness/cli.ts', 'report', dir], { env: process.env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/startedAt: Invalid ISO datetime/);
    const hist = join(mkdtempSync(join(work, 'hist-')), 'h.sqlite');
    const imp = await history(['import', dir, '--history', hist]);
    expect(imp.code).toBe(1);
    expect(imp.stdout).toMatch(/FAILED .*results\.json: .*startedAt/);
  });

  it('one stored run with a bad timestamp: the dashboard names it and renders everything else', async () => {
    const file = join(mkdtempSync(join(work, 'dash-')), 'h.sqlite');
    const store = HistoryStore.open(file);
    for (const r of synthRuns({ device: 'good-board', runs: 4, cases: 2, variants: 2, seed: 1 })) store.insertRun(r);
    for (const r of synthRuns({ device: 'bad-board', runs: 4, cases: 2, variants: 2, seed: 2 })) store.insertRun(r);
    const bad = store.runs({ device: 'bad-board' })[1]!;
    store.db.prepare("UPDATE runs SET started_at = 'yesterday-ish' WHERE id = ?").run(bad.id);
    store.close();
    const out = join(work, 'dash-out');
    const r = await history(['dashboard', '--history', file, '--out', out]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`run ${bad.run_id} (row #${bad.id}): started_at "yesterday-ish" is not an ISO date-time`);
    for (const page of ['index.html', 'device-good-board.html', 'device-bad-board.html']) expect(existsSync(join(out, page))).toBe(true);
    expect(readFileSync(join(out, 'device-bad-board.html'), 'utf8')).toMatch(/invalid timestamp[\s\S]*yesterday-ish/);
    expect(readFileSync(join(out, 'device-bad-board.html'), 'utf8')).toContain('<svg');
  });

  it('a device page that fails for another reason is replaced by one naming the failure; the rest still render', async () => {
    const file = join(mkdtempSync(join(work, 'dash-')), 'h.sqlite');
    const store = HistoryStore.open(file);
    for (const r of synthRuns({ device: 'good-board', runs: 3, cases: 1, variants: 2, seed: 1 })) store.insertRun(r);
    for (const r of synthRuns({ device: 'broken-board', runs: 3, cases: 1, variants: 2, seed: 2 })) store.insertRun(r);
    // A damaged identity row (its page cannot describe the device) and a negative median (no chart can place it).
    store.db.prepare("UPDATE identities SET fields_json = '{not json' WHERE device = 'broken-board'").run();
    store.db.prepare("UPDATE results SET median = -1 WHERE run_row IN (SELECT id FROM runs WHERE device = 'broken-board')").run();
    store.close();
    const out = join(work, 'dash-out-2');
    const r = await history(['dashboard', '--history', file, '--out', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the page of device broken-board .* could not be rendered: /);
    expect(readFileSync(join(out, 'index.html'), 'utf8')).toMatch(/the stored identity \S+ cannot be read/);
    expect(readFileSync(join(out, 'device-good-board.html'), 'utf8')).toContain('<svg');
    expect(readFileSync(join(out, 'device-broken-board.html'), 'utf8')).toMatch(/broken-board: this page could not be rendered/);
    expect(readFileSync(join(out, 'index.html'), 'utf8')).toMatch(/1 device page could not be rendered/);
  });
});

describe('two local runs at once', () => {
  it('the second waits for the lock or fails saying who holds it: they never measure each other', async () => {
    const lock = mkdtempSync(join(work, 'local-lock-'));
    const env = { ROOFBENCH_LOCAL_WORK_DIR: lock };
    const to = () => ['--out', join(mkdtempSync(join(work, 'run-')), 'r')];
    let second: ReturnType<typeof bench> | null = null;
    let waiting: ReturnType<typeof bench> | null = null;
    const waitedOut = to();
    const first = startBench(
      [
        '--quick',
        '--case',
        'vgg16.conv5_1,resnet50.res2b.branch2b,mobilenet_v1.conv_dw_3',
        '--variant',
        'conv-direct-naive-f32,conv-im2col-gemm-f32,conv-depthwise-simd-f32',
        '--no-baselines',
        '--target-ms',
        '800',
        '--no-ceilings',
        '--json',
        ...to(),
      ],
      (line) => {
        if (!second && line.includes('"type":"case-start"')) {
          second = bench([...ONE, ...to()], { env });
          waiting = bench([...ONE, '--wait', '--json', ...waitedOut], { env });
        }
      },
      { env },
    );
    const r1 = await first.done;
    expect(r1.code).toBe(0);
    const r2 = await second!;
    expect(r2.code).toBe(75);
    expect(r2.stderr).toMatch(/device local is busy: locked by \S+ run \S+ device local started .*--wait.*; nothing was run or stored/);
    const r3 = await waiting!;
    expect(r3.code).toBe(0);
    // The wait is recorded and said apart from the run's own time.
    expect(readRun(waitedOut[1]!).lockWaitMs).toBeGreaterThan(0);
    expect(r3.stdout).toMatch(/waited \d+:\d\d for the device lock \(not counted in the elapsed time\)/);
    // Ctrl-C while waiting for the lock stops at once, and the run says what it was doing.
    const holder = startBench([...ONE, '--target-ms', '3000', '--json', ...to()], () => {}, { env });
    await until(() => existsSync(join(lock, 'lock', 'pid')), 30_000);
    const out = join(mkdtempSync(join(work, 'wait-')), 'r');
    let sent = false;
    const waiter = startBench(
      [...ONE, '--wait', '--json', '--out', out],
      (line) => {
        if (!sent && line.includes('waiting')) {
          sent = true;
          waiter.kill('SIGINT');
        }
      },
      { env },
    );
    const rw = await waiter.done;
    expect(rw.code).toBe(130);
    expect(readRun(out).statusDetail).toMatch(/interrupted by SIGINT after 0 of \d+ results; interrupted while waiting for the lock on device local/);
    expect((await holder.done).code).toBe(0);
    expect(r3.stdout + r3.stderr).toMatch(/device local is locked by .*; waiting/);
    expect(existsSync(join(lock, 'lock'))).toBe(false);
  });

  it('two local devices sharing one lock cannot run in parallel in one command', async () => {
    const devices = join(mkdtempSync(join(work, 'devices-')), 'devices.yaml');
    writeFileSync(devices, 'devices:\n  local:\n    transport: local\n  local2:\n    transport: local\n');
    const r = await bench(['--devices', devices, '--device', 'local,local2', ...ONE]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/devices local and local2 are the same machine and work directory/);
  });
});
