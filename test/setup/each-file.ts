/**
 * Runs with every test file (vitest setupFiles): after the file's tests, fail it if it
 * wrote anything into the user's reports/ (runs, reports, history, dashboard).
 */
import { afterAll, expect, inject } from 'vitest';
import { newEntries, USER_REPORTS } from './reports.js';

afterAll(() => {
  const added = newEntries(inject('reportsBefore'), USER_REPORTS);
  expect(
    added,
    `this test file wrote into the user's ${USER_REPORTS}: every test must use a temporary directory (ROOFBENCH_REPORTS, --out, --history)`,
  ).toEqual([]);
});
