/**
 * The kernels a test run uses, compiled once per content of their sources: the binaries are kept in
 * node_modules/.cache/roofbench-test-kernels/<hash>/, where <hash> covers every file that decides them
 * (kernels/assembly/, kernels/build.ts with its flags and checks, kernels/index.ts with the module list, and
 * the AssemblyScript compiler's version). A run whose sources match a kept build reuses it; any other compiles
 * (kernels/build.ts, its checks included) into a fresh directory renamed into place when complete, so a run
 * never reads a half-written build and two runs at once do not collide. The compiler is loaded only then.
 * The last few builds are kept (switching branches back and forth reuses them), older ones removed.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CACHE = join(ROOT, 'node_modules', '.cache', 'roofbench-test-kernels');
/** Written last into a complete build. */
const DONE = 'complete';
/** Kernel sets kept (about 1 MB each). */
const KEEP = 4;

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]))
    .sort();
}

/** The hash of everything the compiled kernels depend on. */
export function kernelSourcesHash(): string {
  const h = createHash('sha256');
  const inputs = [
    ...files(join(ROOT, 'kernels', 'assembly')),
    join(ROOT, 'kernels', 'build.ts'),
    join(ROOT, 'kernels', 'index.ts'),
    join(ROOT, 'node_modules', 'assemblyscript', 'package.json'),
  ];
  for (const f of inputs) {
    const bytes = readFileSync(f);
    h.update(`${relative(ROOT, f)}\0${bytes.length}\0`).update(bytes);
  }
  return h.digest('hex').slice(0, 20);
}

/** The directory of the kernels compiled from the current sources (compiled now if no run kept them). */
export async function testKernelsDir(): Promise<{ dir: string; compiled: boolean }> {
  const dir = join(CACHE, kernelSourcesHash());
  if (existsSync(join(dir, DONE))) return { dir, compiled: false };
  mkdirSync(CACHE, { recursive: true });
  const tmp = mkdtempSync(join(CACHE, 'building-'));
  try {
    const { buildKernels } = await import('../../kernels/build.js');
    await buildKernels({ outDir: tmp });
    writeFileSync(join(tmp, DONE), '');
    try {
      renameSync(tmp, dir);
    } catch (e) {
      // Another run finished the same build first: use it.
      if (!existsSync(join(dir, DONE))) throw new Error(`test set-up: could not move the compiled kernels to ${dir}`, { cause: e });
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  prune(dir);
  return { dir, compiled: true };
}

/** Keeps the KEEP most recently built kernel sets (switching branches back and forth reuses them), removes older ones. */
function prune(current: string): void {
  const builds = readdirSync(CACHE, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('building-'))
    .map((e) => join(CACHE, e.name))
    .filter((d) => d !== current)
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  for (const old of builds.slice(KEEP - 1)) rmSync(old, { recursive: true, force: true });
}
