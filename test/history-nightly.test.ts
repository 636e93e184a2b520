import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HistoryStore } from '../harness/history/store.js';
import { ROOT, runProcess, type CliResult } from './helpers/cli.js';

function nightly(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return runProcess('bash', [join(ROOT, 'scripts', 'nightly.sh'), ...args], {
    env: { ...process.env, ROOFBENCH_TEST_FAULTS: '', ...env },
    timeoutMs: 600_000,
  });
}

let work: string;
let registry: string;
const BENCH = ['--', '--quick', '--filter', 'conv_pw_3', '--no-ceilings'];

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'roofbench-nightly-'));
  registry = join(work, 'devices.yaml');
  // `gone` is an SSH device nobody listens for: its run fails (incomplete) every night.
  writeFileSync(
    registry,
    [
      'devices:',
      '  local:',
      '    transport: local',
      '  gone:',
      '    host: 127.0.0.1',
      '    port: 1',
      '    user: nobody',
      `    identityFile: ${join(work, 'no-key')}`,
      '',
    ].join('\n'),
  );
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('scripts/nightly.sh', () => {
  it('benches each device, stores the runs with the commit, keeps going past a failed device, builds the dashboard; exit 1', async () => {
    const r = await nightly([
      '--history',
      join(work, 'h.sqlite'),
      '--devices',
      registry,
      '--dashboard',
      join(work, 'dash'),
      '--out',
      join(work, 'night1'),
      '--commit-from',
      ROOT,
      'local',
      'gone',
      ...BENCH,
    ]);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(1);
    expect(r.stdout).toMatch(/failed: gone; regressed: none/);
    const summary = readFileSync(join(work, 'night1', 'summary.md'), 'utf8');
    expect(summary).toMatch(/- local: no regression/);
    expect(summary).toMatch(/- \*\*gone: run incomplete\*\*/);
    expect(readFileSync(join(work, 'night1', 'compare-local.md'), 'utf8')).toMatch(/nothing to compare: device "local" has only one run/);
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const store = HistoryStore.open(join(work, 'h.sqlite'));
    try {
      expect(store.devices()).toEqual(['gone', 'local']);
      expect(store.runs({ device: 'local' })[0]?.commit_sha).toBe(head);
      expect(store.runs({ device: 'gone' })[0]?.status).toBe('incomplete');
    } finally {
      store.close();
    }
    const index = readFileSync(join(work, 'dash', 'index.html'), 'utf8');
    expect(index).toMatch(/unreachable/);
  });

  it('the next night finds an injected regression: markdown comparison, exit 1', async () => {
    // An accuracy regression (a fault in the GEMM): unlike a slowdown it is found on any machine, even one other
    // work keeps busy, where timing verdicts are withheld (test/contention.test.ts; timing regressions: test/compare.test.ts).
    const r = await nightly(
      ['--history', join(work, 'h.sqlite'), '--devices', registry, '--dashboard', join(work, 'dash'), '--out', join(work, 'night2'), 'local', ...BENCH],
      { ROOFBENCH_TEST_FAULTS: JSON.stringify({ gemmRelError: 1e-4 }) },
    );
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(1);
    expect(r.stdout).toMatch(/failed: none; regressed: local/);
    const md = readFileSync(join(work, 'night2', 'compare-local.md'), 'utf8');
    expect(md).toMatch(/\| \*\*regressed\*\* \| `conv\/mobilenet_v1\.conv_pw_3 conv-im2col-gemm-f32 \[quick\]` \|.*accuracy: now inaccurate/);
    expect(readFileSync(join(work, 'night2', 'summary.md'), 'utf8')).toMatch(/\*\*local: REGRESSED\*\*/);
    expect(existsSync(join(work, 'night2', 'bench-local.jsonl'))).toBe(true);
    expect(readFileSync(join(work, 'dash', 'index.html'), 'utf8')).toMatch(/conv_pw_3 conv-im2col-gemm-f32/);
  });

  it('usage errors exit 2', async () => {
    const none = await nightly([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/name at least one device/);
    const bad = await nightly(['--bogus', 'x']);
    expect(bad.code).toBe(2);
    const nogit = await nightly(['--commit-from', work, 'local']);
    expect(nogit.code).toBe(2);
    expect(nogit.stderr).toMatch(/not a git checkout/);
  });
});
