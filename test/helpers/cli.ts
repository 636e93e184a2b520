/** Run roofbench's command line as a user would (through tsx), capturing its output. */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Runs from the tests go to the test run's temporary directory and history store, never the user's
 * reports/: test/setup/global.ts sets ROOFBENCH_REPORTS and ROOFBENCH_HISTORY for the whole run (and
 * removes them after); a test may still pass its own ROOFBENCH_HISTORY or --out.
 *
 * Each command gets its own local device lock (ROOFBENCH_LOCAL_WORK_DIR), so test files running in
 * parallel do not wait for each other's local runs; the lock tests pass a shared one explicitly.
 */
function testEnv(env?: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (!process.env.ROOFBENCH_REPORTS || !process.env.ROOFBENCH_HISTORY) {
    throw new Error('ROOFBENCH_REPORTS / ROOFBENCH_HISTORY are not set: run the tests through vitest (test/setup/global.ts sets them)');
  }
  return { ROOFBENCH_LOCAL_WORK_DIR: mkdtempSync(join(tmpdir(), 'roofbench-test-local-')), ...process.env, ...env };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a command to completion, capturing its output (stdin gets `input`, or nothing). */
export function runProcess(cmd: string, args: string[], opts: { env: NodeJS.ProcessEnv; timeoutMs?: number; input?: string }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, env: opts.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')} did not finish in ${opts.timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, opts.timeoutMs ?? 180_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => {
      /* the command did not read its input */
    });
    child.stdin.end(opts.input ?? '');
  });
}

export function runCli(
  script: 'harness/cli.ts' | 'harness/devices-cli.ts',
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {},
): Promise<CliResult> {
  return runProcess(process.execPath, ['--import', 'tsx', script, ...args], { ...opts, env: testEnv(opts.env) });
}

export const bench = (args: string[], opts?: Parameters<typeof runCli>[2]) => runCli('harness/cli.ts', ['bench', ...args], opts);

/** The JSON lines of a --json run. */
export function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Start a bench in the background; `onLine` sees each stdout line as it comes (for fault tests). */
export function startBench(
  args: string[],
  onLine: (line: string) => void,
  opts: { env?: NodeJS.ProcessEnv } = {},
): { done: Promise<CliResult>; kill: (signal?: NodeJS.Signals) => void; pid: number | undefined } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'harness/cli.ts', 'bench', ...args], {
    cwd: ROOT,
    env: testEnv(opts.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let partial = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    partial += d.toString();
    let i: number;
    while ((i = partial.indexOf('\n')) >= 0) {
      onLine(partial.slice(0, i));
      partial = partial.slice(i + 1);
    }
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  return { done, kill: (signal = 'SIGKILL') => child.kill(signal), pid: child.pid };
}

/** How many variants the conv suite plans per case by default: its fixed list plus the extra tiles of its data. */
export async function convVariantCount(): Promise<number> {
  const { suites } = await import('../../suites/index.js');
  const { extraVariantsFor } = await import('../../harness/plan.js');
  const conv = suites.find((s) => s.name === 'conv');
  if (!conv) throw new Error('no conv suite');
  return conv.variants.length + extraVariantsFor([conv]).length;
}

/** Wait until `cond` holds, checking every 200 ms, up to `ms`; returns whether it did (for fault tests). */
export async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return cond();
}
