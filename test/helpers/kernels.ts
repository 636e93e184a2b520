/** Shared set-up of the kernel tests: the kernels compiled into a scratch directory and loaded once per file. */
import { afterAll, beforeAll } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildKernels } from '../../kernels/build.js';
import { loadKernels, type Kernels } from '../../kernels/index.js';

/** Registers the hooks; returns a function giving the loaded kernels (valid inside tests). */
export function useKernels(prefix: string): () => Kernels {
  let kernels: Kernels | undefined;
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), prefix));
    await buildKernels({ outDir: dir });
    kernels = await loadKernels(dir);
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  return () => {
    if (!kernels) throw new Error('useKernels: the kernels are loaded in beforeAll; use them inside a test');
    return kernels;
  };
}
