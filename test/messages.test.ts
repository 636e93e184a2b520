/**
 * Clear messages: each says what went wrong, with the file or device it
 * concerns, and what to do; usage errors exit 2. Nothing already measured is
 * lost to a bad history store.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, mkdtempSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunResults } from '../core/contracts.js';
import { HistoryStore } from '../harness/history/store.js';
import { synthRuns } from './helpers/synthetic.js';
import { bench, ROOT, runCli, runProcess } from './helpers/cli.js';

const ONE = ['--quick', '--case', 'mobilenet_v1.conv_dw_3', '--no-ceilings'];
const FIXTURE = join(ROOT, 'test', 'fixtures', 'results', 'rpi3-complete.json');
let work: string;

const history = (args: string[]) => runProcess(process.execPath, ['--import', 'tsx', 'harness/history/cli.ts', ...args], { env: process.env });
const report = (args: string[]) => runProcess(process.execPath, ['--import', 'tsx', 'harness/cli.ts', 'report', ...args], { env: process.env });

function storeWithRuns(dir: string, n = 3): string {
  const file = join(dir, 'history.sqlite');
  const s = HistoryStore.open(file);
  for (const r of synthRuns({ device: 'board', runs: n, cases: 2, variants: 2, seed: 5 })) s.insertRun(r);
  s.close();
  return file;
}

function mount(args: string[]): void {
  const r = spawnSync(args[0] === '-u' ? 'umount' : 'mount', args[0] === '-u' ? args.slice(1) : args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mount ${args.join(' ')}: ${r.stderr}`);
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'roofbench-messages-'));
});

describe('a history store that is not one, is damaged, or is read-only', () => {
  it('a file that is not a database: every command names it; bench keeps its run and says why it was not stored', async () => {
    const file = join(work, 'notes.txt');
    writeFileSync(file, 'this is not a database, it is a text file that is long enough to have a header\n'.repeat(20));
    const r = await history(['list', '--history', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`roofbench history: the history store ${file} is not an SQLite database, so not a roofbench history`);
    // Said once: the store's message carries no prefix of its own for the command to double ("history: history:").
    expect(r.stderr).not.toMatch(/history: history:/);
    const out = join(mkdtempSync(join(work, 'run-')), 'r');
    const b = await bench([...ONE, '--history', file, '--out', out]);
    expect(b.code).toBe(0);
    expect(b.stdout).toContain(`history: NOT stored: the history store ${file} is not an SQLite database`);
    expect(b.stdout).not.toMatch(/history: .*history:/);
    expect(RunResults.parse(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'))).status).toBe('complete');
  });

  it('a damaged store: the message names it and says how to recover', async () => {
    const file = storeWithRuns(mkdtempSync(join(work, 'damaged-')), 20);
    const size = readFileSync(file).length;
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.alloc(size - 8192, 0xa5), 0, size - 8192, 4096);
    closeSync(fd);
    const r = await history(['list', '--history', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      new RegExp(
        `roofbench history: the history store ${file.replace(/[.]/g, '\\.')} is damaged \\(.*\\): restore it from a backup, or move it away and rebuild it with npm run history -- import reports/`,
      ),
    );
  });

  it('a read-only store: the commands that only read it work; storing a run says the store is read-only', async () => {
    const dir = mkdtempSync(join(work, 'ro-'));
    const file = storeWithRuns(dir);
    const json = join(work, 'export.json');
    mount(['--bind', dir, dir]);
    try {
      mount(['-o', 'remount,ro,bind', dir]);
      for (const args of [
        ['list'],
        ['series'],
        ['info'],
        ['export', 'latest', '--device', 'board', '--out', json],
        ['compare', 'latest', 'previous', '--device', 'board'],
      ]) {
        const r = await history([...args, '--history', file]);
        expect(r.stderr).toBe('');
        expect([0, 1]).toContain(r.code); // compare exits 1 on a regression, never 2
      }
      expect(RunResults.parse(JSON.parse(readFileSync(json, 'utf8'))).device.name).toBe('board');
      const dash = await history(['dashboard', '--history', file, '--out', join(work, 'ro-dash')]);
      expect(dash.code).toBe(0);
      const b = await bench([...ONE, '--history', file, '--out', join(mkdtempSync(join(work, 'run-')), 'r')]);
      expect(b.stdout).toMatch(new RegExp(`history: NOT stored: .*${file.replace(/[.]/g, '\\.')}.*read-only`));
    } finally {
      mount(['-u', dir]);
    }
  });
});

describe('flags that contradict each other are errors, not silently one of them', () => {
  for (const [args, message] of [
    [['--no-history', '--history', 'x.sqlite'], /--no-history and --history cannot be used together/],
    [['--commit', 'abcdef1', '--commit-from', '.'], /--commit and --commit-from cannot be used together/],
    [['--json', '--list'], /--json and --list cannot be used together/],
    [['--no-history', '--commit', 'abcdef1'], /--no-history and --commit cannot be used together: the commit is stored with the run in the history/],
  ] as const) {
    it(args.join(' '), async () => {
      const r = await bench([...ONE, ...args]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
    });
  }
});

describe('--threads at which nothing would be measured', () => {
  it('is refused before anything runs (exit 2), naming each variant and why, and how to get figures', async () => {
    const r = await bench(['--quick', '--case', 'mobilenet_v1.conv_dw_3', '--variant', 'conv-direct-naive-f32', '--threads', '2', '--no-ceilings']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(
      /--threads 2: nothing would be measured: at 2 threads nothing is measured \(conv-direct-naive-f32: the naive direct conv .*\)\. Add 1 to the counts/,
    );
    expect(r.stdout).toBe('');
  });
});

describe('--seed out of range is refused with the range, not silently rounded or wrapped', () => {
  for (const v of ['9007199254740993', '4294967296', '0', '1.5']) {
    it(`--seed ${v}`, async () => {
      const r = await bench([...ONE, '--seed', v]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`--seed expects an integer from 1 to 4294967295, got "${v}"`);
    });
  }
});

describe('results.json values no run can produce are refused at load, naming the field', () => {
  function edited(edit: (run: RunResults) => void): string {
    const dir = mkdtempSync(join(work, 'edited-'));
    const run = JSON.parse(readFileSync(FIXTURE, 'utf8')) as RunResults;
    edit(run);
    writeFileSync(join(dir, 'results.json'), JSON.stringify(run));
    return dir;
  }
  const firstTimed = (run: RunResults) => {
    const i = run.results.findIndex((r) => r.state === 'passed');
    const r = run.results[i]!;
    if (r.state !== 'passed') throw new Error('fixture has no passed result');
    return { i, r };
  };

  it('a negative median, a zero sample: report, compare and import each refuse it', async () => {
    let idx = 0;
    const neg = edited((run) => {
      const { i, r } = firstTimed(run);
      idx = i;
      r.timing.stats.median = -0.5;
    });
    const zero = edited((run) => {
      firstTimed(run).r.timing.samples[0] = 0;
    });
    const r = await report([neg]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`results\\.${idx}\\.timing\\.stats\\.median: Too small: expected number to be >0`));
    const c = await history(['compare', neg, zero, '--history', join(work, 'unused.sqlite')]);
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/does not match the results schema/);
    const imp = await history(['import', zero, '--history', join(mkdtempSync(join(work, 'h-')), 'h.sqlite')]);
    expect(imp.code).toBe(1);
    expect(imp.stdout).toMatch(/FAILED .*results\.json: .*timing\.samples\.0: Too small/);
  });

  it('report a bad c: the good runs are rendered, each failure is reported, exit 1', async () => {
    const a = mkdtempSync(join(work, 'a-'));
    const c = mkdtempSync(join(work, 'c-'));
    copyFileSync(FIXTURE, join(a, 'results.json'));
    copyFileSync(FIXTURE, join(c, 'results.json'));
    const bad = edited((run) => {
      run.startedAt = 'not a time';
    });
    const missing = join(work, 'no-such-run');
    const r = await report([a, bad, c, missing]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`report: ${join(a, 'index.html')}`);
    expect(r.stdout).toContain(`report: ${join(c, 'index.html')}`);
    expect(r.stderr).toMatch(new RegExp(`${bad.replace(/[.]/g, '\\.')}: [\\s\\S]*startedAt: Invalid ISO datetime`));
    expect(r.stderr).toMatch(/no-such-run: cannot read .*results\.json: is this a roofbench run directory\?/);
    expect(r.stderr).toMatch(/2 of 4 report\(s\) failed/);
  });
});

describe('--out in a directory that cannot be written', () => {
  it('an immutable directory: the message names it and the reason', async () => {
    const dir = mkdtempSync(join(work, 'immutable-'));
    execFileSync('chattr', ['+i', dir]);
    try {
      const r = await bench([...ONE, '--out', join(dir, 'run')]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/cannot create --out .*immutable-\w+\/run: operation not permitted \(is the directory immutable, or on a read-only mount\?\)/);
    } finally {
      execFileSync('chattr', ['-i', dir]);
    }
  });
});

describe('SSH keys and devices.yaml', () => {
  it('a passphrase-protected key gets the hint to use the agent (nothing is sent anywhere)', async () => {
    const key = join(mkdtempSync(join(work, 'key-')), 'id_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'a passphrase', '-f', key]);
    const file = join(mkdtempSync(join(work, 'devices-')), 'devices.yaml');
    writeFileSync(file, `devices:\n  board:\n    host: 127.0.0.1\n    port: 1\n    user: pi\n    identityFile: ${JSON.stringify(key)}\n`);
    const r = await runCli('harness/devices-cli.ts', ['check', 'board', '--devices', file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      `identityFile ${key} is protected by a passphrase, which roofbench does not ask for. Load it into the SSH agent (ssh-add ${key}) and set agent: true for board`,
    );
  });

  it('a UTF-16 devices.yaml gets a hint about the encoding (exit 2)', async () => {
    const file = join(mkdtempSync(join(work, 'devices-')), 'devices.yaml');
    writeFileSync(file, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('devices:\n  local:\n    transport: local\n', 'utf16le')]));
    const r = await bench(['--devices', file, ...ONE]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}: is encoded as UTF-16 (as some Windows editors save text); it must be UTF-8`);
  });

  it('a 100 MB devices.yaml, and /dev/zero, are refused without reading them whole (exit 2)', async () => {
    const big = join(mkdtempSync(join(work, 'devices-')), 'devices.yaml');
    writeFileSync(big, 'devices:\n  local: {}\n');
    execFileSync('truncate', ['-s', '100M', big]);
    for (const file of [big, '/dev/zero']) {
      const r = await bench(['--devices', file, ...ONE], { timeoutMs: 60_000 });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`${file}: is larger than 16 MiB (or never ends, like /dev/zero)`);
    }
  });

  it('devices: an unknown device name is a usage error (exit 2) listing the devices', async () => {
    const r = await runCli('harness/devices-cli.ts', ['check', 'no-such-board']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown device "no-such-board".*devices in .*devices\.yaml: local/);
  });
});
