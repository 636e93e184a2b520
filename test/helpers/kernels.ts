/** Shared set-up of the kernel tests: the kernels compiled once per test run (test/setup/global.ts), loaded once per file. */
import { beforeAll, inject } from 'vitest';
import { loadKernels, type Kernels } from '../../kernels/index.js';

/** Registers the hook; returns a function giving the loaded kernels (valid inside tests). */
export function useKernels(): () => Kernels {
  let kernels: Kernels | undefined;
  beforeAll(async () => {
    kernels = await loadKernels(inject('kernelsDir'));
  });
  return () => {
    if (!kernels) throw new Error('useKernels: the kernels are loaded in beforeAll; use them inside a test');
    return kernels;
  };
}
