/**
 * Ctrl-C, SIGTERM, SIGHUP and `timeout` during a run, and a host that dies:
 * the run is marked `interrupted` (never left `running`), the report of what
 * finished is written and stored in the history, the command says where the
 * report is and exits 130; a second Ctrl-C exits at once. The runner stops
 * (locally and on an SSH device), even when its host is killed outright or it
 * is stuck in a kernel, and the device lock is released.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunResults } from '../core/contracts.js';
import { HistoryStore } from '../harness/history/store.js';
import { jsonLines, ROOT, startBench, until, type CliResult } from './helpers/cli.js';
import { deviceEntry, startSshd, stopSshd, type SshdInfo } from './helpers/sshd.js';
import { isRunning } from './helpers/process.js';

const CASES = ['--case', 'vgg16.conv5_1,mobilenet_v1.conv_dw_3,resnet50.res2b.branch2a,resnet50.res2b.branch2c'];
// The fp32 variants only: the int8 / fp16 ones would make the runs before the signal long on a busy machine, and add nothing here.
const SLOW = [
  '--quick',
  '--target-ms',
  '500',
  '--no-ceilings',
  '--json',
  ...CASES,
  '--variant',
  'conv-direct-naive-f32,conv-im2col-gemm-f32,conv-depthwise-simd-f32',
  '--no-baselines',
];
let work: string;
let sshd: SshdInfo;

const alive = isRunning;

/** The runner's pid, from the hello event the host recorded. */
function runnerPid(out: string): number {
  const hello = readFileSync(join(out, 'events.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { type: string; pid?: number })
    .find((e) => e.type === 'hello');
  if (!hello?.pid) throw new Error(`no hello event in ${out}/events.jsonl`);
  return hello.pid;
}

const readRun = (out: string) => RunResults.parse(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')));

function fresh() {
  const dir = mkdtempSync(join(work, 'run-'));
  return { out: join(dir, 'r'), lockDir: join(dir, 'local-lock'), history: join(dir, 'history.sqlite') };
}

/** Start a bench; when the first result has passed, `act(pid)`. */
async function interruptAfterFirstResult(
  args: string[],
  env: NodeJS.ProcessEnv,
  act: (b: ReturnType<typeof startBench>) => void,
  trigger = '"state":"passed"',
) {
  let acted = false;
  const b: ReturnType<typeof startBench> = startBench(
    args,
    (line) => {
      if (!acted && line.includes(trigger)) {
        acted = true;
        act(b);
      }
    },
    { env },
  );
  const res = await b.done;
  expect(acted).toBe(true);
  return res;
}

function expectInterrupted(res: CliResult, out: string, signal: string, history: string) {
  expect(res.code).toBe(130);
  const run = readRun(out);
  expect(run.status).toBe('interrupted');
  expect(run.statusDetail).toMatch(new RegExp(`interrupted by ${signal} after \\d+ of \\d+ results`));
  expect(run.finishedAt).not.toBeNull();
  const passed = run.results.filter((r) => r.state === 'passed');
  expect(passed.length).toBeGreaterThanOrEqual(1);
  const notMeasured = run.results.filter((r) => r.state === 'skipped' && /interrupted/.test(r.reason));
  expect(notMeasured.length).toBeGreaterThanOrEqual(1);
  expect(run.results.some((r) => r.state === 'errored')).toBe(false);
  // The report of what finished, and where it is.
  expect(existsSync(join(out, 'index.html'))).toBe(true);
  expect(readFileSync(join(out, 'index.html'), 'utf8')).toMatch(/Run interrupted/);
  const done = jsonLines(res.stdout).find((e) => e.type === 'run-complete');
  expect(done).toMatchObject({ status: 'interrupted', report: join(out, 'index.html') });
  // Stored in the history, as interrupted.
  const store = HistoryStore.open(history, { readonly: true });
  try {
    expect(store.runs().map((r) => r.status)).toEqual(['interrupted']);
  } finally {
    store.close();
  }
  expect(res.stderr).toMatch(new RegExp(`${signal}: stopping the run`));
  return run;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'roofbench-interrupt-'));
  sshd = await startSshd();
}, 300_000);

afterAll(async () => {
  if (sshd) await stopSshd(sshd);
});

describe('a local run stopped by a signal', () => {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    it(`${signal}: marked interrupted, report and history written, exit 130, runner stopped, lock released`, async () => {
      const f = fresh();
      const res = await interruptAfterFirstResult([...SLOW, '--out', f.out], { ROOFBENCH_LOCAL_WORK_DIR: f.lockDir, ROOFBENCH_HISTORY: f.history }, (b) =>
        b.kill(signal),
      );
      expectInterrupted(res, f.out, signal, f.history);
      expect(alive(runnerPid(f.out))).toBe(false);
      expect(existsSync(join(f.lockDir, 'lock'))).toBe(false);
    });
  }

  it('a second Ctrl-C exits at once: the run is still marked interrupted, and the runner still stops', async () => {
    const f = fresh();
    // The runner is stuck in a kernel, so the orderly stop takes seconds: the second Ctrl-C comes first.
    const res = await interruptAfterFirstResult(
      [...SLOW, '--out', f.out],
      { ROOFBENCH_LOCAL_WORK_DIR: f.lockDir, ROOFBENCH_HISTORY: f.history, ROOFBENCH_TEST_FAULTS: JSON.stringify({ hangCase: 'conv/mobilenet_v1.conv_dw_3' }) },
      (b) => {
        b.kill('SIGINT');
        // Pressed again after the message (one within half a second is the same Ctrl-C, relayed).
        setTimeout(() => b.kill('SIGINT'), 800);
      },
      '"caseId":"conv/mobilenet_v1.conv_dw_3"',
    );
    expect(res.code).toBe(130);
    expect(res.stderr).toMatch(/SIGINT again: exiting now/);
    const run = readRun(f.out);
    expect(run.status).toBe('interrupted');
    expect(run.statusDetail).toMatch(/then exited at once/);
    const pid = runnerPid(f.out);
    expect(await until(() => !alive(pid), 20_000)).toBe(true);
    expect(await until(() => !existsSync(join(f.lockDir, 'lock')), 10_000)).toBe(true);
  });

  it('through npm run bench, Ctrl-C still ends in exit 130 and an interrupted run', async () => {
    const f = fresh();
    // Its own process group, signalled as a whole: what a terminal does on Ctrl-C (npm, its shell and
    // roofbench all get SIGINT; npm also relays it). The npm scripts start node with tsx as a loader in
    // the same process: the tsx launcher would SIGKILL its child when that does not answer its relayed
    // signal within 30 ms, which on a busy machine left runs `running`.
    const child = spawn('npm', ['run', '--silent', 'bench', '--', ...SLOW, '--out', f.out], {
      cwd: ROOT,
      env: { ...process.env, ROOFBENCH_LOCAL_WORK_DIR: f.lockDir, ROOFBENCH_HISTORY: f.history },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    let sent = false;
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (!sent && stdout.includes('"state":"passed"')) {
        sent = true;
        process.kill(-child.pid!, 'SIGINT');
      }
    });
    const end = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('close', (code, signal) => r({ code, signal })));
    // npm itself got the SIGINT too: it waits for roofbench (exit 130), then ends by the signal it was sent.
    expect(end.code === 130 || end.signal === 'SIGINT', `npm ended with ${end.code ?? end.signal}`).toBe(true);
    expectInterrupted({ code: 130, stdout, stderr }, f.out, 'SIGINT', f.history);
  });

  it('`timeout` (SIGTERM after a deadline) leaves an interrupted run with its report, not a running one', async () => {
    const f = fresh();
    const child = spawn(
      'timeout',
      [
        '-s',
        'TERM',
        '15',
        process.execPath,
        '--import',
        'tsx',
        'harness/cli.ts',
        'bench',
        '--quick',
        '--target-ms',
        '1500',
        '--no-ceilings',
        '--json',
        '--out',
        f.out,
      ],
      {
        cwd: ROOT,
        env: { ...process.env, ROOFBENCH_LOCAL_WORK_DIR: f.lockDir, ROOFBENCH_HISTORY: f.history },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    expect(code).toBe(124); // timeout's own code: the deadline passed
    const run = readRun(f.out);
    expect(run.status).toBe('interrupted');
    expect(run.statusDetail).toMatch(/interrupted by SIGTERM/);
    expect(existsSync(join(f.out, 'index.html'))).toBe(true);
    expect(jsonLines(stdout).find((e) => e.type === 'run-complete')).toMatchObject({ status: 'interrupted' });
    expect(alive(runnerPid(f.out))).toBe(false);
  });

  it('a host killed outright (SIGKILL) while a case is stuck: the local runner stops on its own and the lock is freed', async () => {
    const f = fresh();
    let pid = 0;
    try {
      await interruptAfterFirstResult(
        [...SLOW, '--out', f.out],
        {
          ROOFBENCH_LOCAL_WORK_DIR: f.lockDir,
          ROOFBENCH_HISTORY: f.history,
          ROOFBENCH_TEST_FAULTS: JSON.stringify({ hangCase: 'conv/mobilenet_v1.conv_dw_3' }),
        },
        (b) => setTimeout(() => b.kill('SIGKILL'), 500),
        '"caseId":"conv/mobilenet_v1.conv_dw_3"',
      );
      pid = runnerPid(f.out);
      expect(await until(() => !alive(pid), 20_000)).toBe(true);
      expect(await until(() => !existsSync(join(f.lockDir, 'lock')), 10_000)).toBe(true);
    } finally {
      if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
    }
  });
});

describe('a run on an SSH device stopped by a signal', () => {
  const device = (workDir: string) => {
    const file = join(mkdtempSync(join(work, 'devices-')), 'devices.yaml');
    writeFileSync(file, `devices:\n${deviceEntry(sshd, { workDir })}\n`);
    return ['--devices', file, '--device', 'board'];
  };

  it('Ctrl-C: the remote runner is stopped, the device lock released, the run interrupted with its report', async () => {
    const f = fresh();
    const workDir = join(sshd.dir, 'sigint');
    const res = await interruptAfterFirstResult([...device(workDir), ...SLOW, '--out', f.out], { ROOFBENCH_HISTORY: f.history }, (b) => b.kill('SIGINT'));
    expectInterrupted(res, f.out, 'SIGINT', f.history);
    expect(await until(() => !alive(runnerPid(f.out)), 10_000)).toBe(true);
    expect(existsSync(join(workDir, 'lock'))).toBe(false);
  });

  it('a host killed outright while a case is stuck: the remote runner stops on its own and the lock is freed', async () => {
    const f = fresh();
    const workDir = join(sshd.dir, 'hostgone');
    let pid = 0;
    try {
      await interruptAfterFirstResult(
        [...device(workDir), ...SLOW, '--out', f.out],
        { ROOFBENCH_HISTORY: f.history, ROOFBENCH_TEST_FAULTS: JSON.stringify({ hangCase: 'conv/mobilenet_v1.conv_dw_3' }) },
        (b) => setTimeout(() => b.kill('SIGKILL'), 500),
        '"caseId":"conv/mobilenet_v1.conv_dw_3"',
      );
      pid = runnerPid(f.out);
      expect(await until(() => !alive(pid), 30_000)).toBe(true);
      expect(await until(() => !existsSync(join(workDir, 'lock')), 10_000)).toBe(true);
    } finally {
      if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
    }
  });
});
