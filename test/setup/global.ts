/**
 * Global set-up of every test run (vitest globalSetup), once per `vitest run`:
 *
 * - compiles the WebAssembly kernels once, for the kernel tests to read with
 *   inject('kernelsDir') (they used to compile them each), and keeps them for
 *   the next run as long as their sources do not change (test/setup/kernels-cache.ts);
 * - points every run, report and history store the tests make at a temporary
 *   directory (ROOFBENCH_REPORTS, ROOFBENCH_HISTORY), and lists the repository's
 *   own reports/ (the user's runs) so that each test file can check, after it
 *   ran, that it added nothing there (test/setup/each-file.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { testKernelsDir } from './kernels-cache.js';
import { listing, USER_REPORTS } from './reports.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Directory of the kernels compiled for this test run (scalar.wasm, simd.wasm ...). */
    kernelsDir: string;
    /** What the user's reports/ held before the tests (test/setup/each-file.ts compares after each file). */
    reportsBefore: string[];
  }
}

export default async function setup(project: TestProject): Promise<() => void> {
  const scratch = mkdtempSync(join(tmpdir(), 'roofbench-test-run-'));
  project.provide('kernelsDir', (await testKernelsDir()).dir);
  // Inherited by the test workers and every command they start.
  process.env.ROOFBENCH_REPORTS = join(scratch, 'reports');
  process.env.ROOFBENCH_HISTORY = join(scratch, 'history.sqlite');
  project.provide('reportsBefore', listing(USER_REPORTS));
  return () => rmSync(scratch, { recursive: true, force: true });
}
