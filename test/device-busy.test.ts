/**
 * A run on a device another run holds (the shared `local` device here, checked on the host before anything is
 * built; an SSH device is refused by its lock step, test/ssh.test.ts and test/lock.test.ts): refused before
 * anything runs, saying who holds the lock and what to do (--wait), exit code 75, with no run directory, no
 * report and nothing in the history.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bench, jsonLines } from './helpers/cli.js';

const ONE = ['--quick', '--case', 'mobilenet_v1.conv_dw_3', '--variant', 'conv-depthwise-simd-f32', '--no-baselines', '--no-ceilings'];
const OWNER = 'someone@elsewhere run 20261201-000000 device local started 2026-12-01T00:00:00Z';
let work: string;
let holder: ChildProcess;
let env: NodeJS.ProcessEnv;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'roofbench-busy-'));
  // A live run holding the local device's lock: a process whose command line carries the wrapper's marker, this boot, this host.
  holder = spawn('sh', ['-c', 'sleep 600 # roofbench-device-lock-v2'], { stdio: 'ignore' });
  const lockDir = join(work, 'local-work');
  mkdirSync(join(lockDir, 'lock'), { recursive: true });
  writeFileSync(join(lockDir, 'lock', 'owner'), `${OWNER} pid=${holder.pid}\n`);
  writeFileSync(join(lockDir, 'lock', 'pid'), `${holder.pid}\n`);
  writeFileSync(join(lockDir, 'lock', 'boot'), `${readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()}\n`);
  writeFileSync(join(lockDir, 'lock', 'host'), `${hostname()}\n`);
  env = { ROOFBENCH_LOCAL_WORK_DIR: lockDir, ROOFBENCH_REPORTS: join(work, 'reports'), ROOFBENCH_HISTORY: join(work, 'history.sqlite') };
});

afterAll(() => {
  holder?.kill('SIGKILL');
});

describe('a run on a device another run holds', () => {
  it('is refused up front: who holds it, --wait, exit 75; no run directory, no report, nothing stored', async () => {
    const r = await bench(ONE, { env });
    expect(r.code, r.stderr).toBe(75);
    expect(r.stderr).toMatch(
      new RegExp(`roofbench: device local is busy: locked by ${OWNER} pid=\\d+\\. Pass --wait to wait for it, .*; nothing was run or stored`),
    );
    // Up front: before the run's opening line (which names a run id) and before the payload is built.
    expect(r.stderr).not.toMatch(/case x variant pairs|run \d{4}-/);
    // No run of errors: no summary table, no report line, no history line.
    expect(r.stdout).not.toMatch(/report:|history:|errored|INCOMPLETE/);
    expect(existsSync(join(work, 'reports', 'local')) ? readdirSync(join(work, 'reports', 'local')) : []).toEqual([]);
    expect(existsSync(join(work, 'history.sqlite'))).toBe(false);
    // The holder's lock is untouched.
    expect(readFileSync(join(work, 'local-work', 'lock', 'owner'), 'utf8')).toContain(OWNER);
  });

  it('with --out and --json: a device-busy line, and the --out directory holds no results.json', async () => {
    const out = join(mkdtempSync(join(work, 'out-')), 'r');
    const r = await bench([...ONE, '--json', '--out', out], { env });
    expect(r.code, r.stderr).toBe(75);
    const busy = jsonLines(r.stdout).filter((l) => l.type === 'device-busy');
    expect(busy).toEqual([{ type: 'device-busy', device: 'local', message: expect.stringMatching(/^device local is busy: locked by someone@elsewhere/) }]);
    expect(jsonLines(r.stdout).some((l) => l.type === 'run-complete')).toBe(false);
    expect(existsSync(join(out, 'results.json'))).toBe(false);
    expect(existsSync(join(work, 'history.sqlite'))).toBe(false);
  });
});
