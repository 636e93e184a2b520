/** Shared set-up of the report tests: a scratch directory, and Vega warnings treated as failures. */
import { afterAll, afterEach, beforeAll, expect, vi } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Registers the hooks; returns a function giving the scratch directory (valid inside tests). */
export function reportScratch(prefix: string): () => string {
  let dir = '';
  const warn = vi.spyOn(console, 'warn');
  const error = vi.spyOn(console, 'error');
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), prefix));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(() => {
    // Vega-Lite warnings (dropped channels, conflicting scales) mean a chart spec bug.
    expect(warn).not.toHaveBeenCalled();
    expect(error).not.toHaveBeenCalled();
    warn.mockClear();
    error.mockClear();
  });
  return () => dir;
}
