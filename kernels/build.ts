/**
 * Compiles the AssemblyScript kernels (kernels/assembly/<name>.ts, the entries
 * listed in KERNEL_MODULES) to kernels/build/<name>.wasm with the asc API.
 *
 *   npx tsx kernels/build.ts [outDir]
 *
 * Flags: -O3 (optimizeLevel 3, shrinkLevel 0), --runtime stub (the kernels
 * allocate nothing), --use abort= (no abort import), --noAssert,
 * --importMemory (one memory, owned by kernels/index.ts, shared by all
 * modules), --enable simd for the SIMD modules only (scalar.wasm is compiled
 * without it, so it loads on engines without SIMD), and --enable relaxed-simd
 * for relaxed.wasm alone (loaded only where the runtime validates it).
 *
 * The modules the threaded kernels use (KERNEL_MODULES' `threads`) are also built as kernels/build/<name>.mt.wasm
 * for the threaded kernels (harness/threads): the same source with
 * --enable threads --sharedMemory --maximumMemory 65536, so it imports a
 * *shared* env.memory that N worker threads instantiate the module over
 * (see docs/threads.md). The code is otherwise identical.
 *
 * Each binary is checked before it is written: it must import exactly
 * env.memory (nothing else) and carry no data segment (the JS allocator owns
 * all of memory above the heap base).
 */
import asc from 'assemblyscript/asc';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { KERNEL_MODULES, wasmRelaxedSimdSupported } from './index.js';

const HERE = dirname(fileURLToPath(import.meta.url));
export const ASSEMBLY_DIR = join(HERE, 'assembly');
export const DEFAULT_OUT_DIR = join(HERE, 'build');

/** The asc command line for one entry (exported for the docs and tests). */
export function ascArgs(entry: string, outFile: string, simd: boolean, relaxed = false, shared = false): string[] {
  return [
    entry,
    '--outFile',
    outFile,
    '-O3',
    '--optimizeLevel',
    '3',
    '--shrinkLevel',
    '0',
    '--noAssert',
    '--runtime',
    'stub',
    '--use',
    'abort=',
    '--importMemory',
    ...(simd ? ['--enable', 'simd'] : []),
    ...(relaxed ? ['--enable', 'relaxed-simd'] : []),
    // The shared flavour: a shared memory needs a declared maximum (4 GiB, the most a 32-bit memory can be;
    // the host chooses its own, smaller, maximum when it creates the memory: SHARED_MEMORY_MAX_PAGES).
    ...(shared ? ['--enable', 'threads', '--sharedMemory', '--maximumMemory', '65536'] : []),
  ];
}

/** Reads an unsigned LEB128 at `pos`; returns [value, next position]. */
function leb(bytes: Uint8Array, pos: number): [number, number] {
  let result = 0;
  let shift = 0;
  for (;;) {
    const b = bytes[pos++];
    if (b === undefined) throw new Error('truncated LEB128');
    result += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return [result, pos];
    shift += 7;
  }
}

/** Number of data segments in a wasm binary (0 if it has no data section). */
export function dataSegmentCount(bytes: Uint8Array): number {
  let pos = 8;
  while (pos < bytes.length) {
    const id = bytes[pos++];
    const [size, start] = leb(bytes, pos);
    if (id === 11) return leb(bytes, start)[0];
    pos = start + size;
  }
  return 0;
}

const IMPORT_KINDS = ['function', 'table', 'memory', 'global'] as const;

/**
 * The import section of a wasm binary, read without compiling it (relaxed.wasm
 * does not compile on an engine without relaxed SIMD, e.g. Node 20 unflagged).
 */
export function wasmImports(bytes: Uint8Array): { module: string; name: string; kind: string }[] {
  const text = new TextDecoder();
  const name = (p: number): [string, number] => {
    const [len, start] = leb(bytes, p);
    return [text.decode(bytes.subarray(start, start + len)), start + len];
  };
  const limits = (p: number): number => {
    const flags = bytes[p++];
    p = leb(bytes, p)[1];
    return flags !== undefined && (flags & 1) === 1 ? leb(bytes, p)[1] : p;
  };
  let pos = 8;
  while (pos < bytes.length) {
    const id = bytes[pos++];
    const [size, start] = leb(bytes, pos);
    if (id !== 2) {
      pos = start + size;
      continue;
    }
    const [count, first] = leb(bytes, start);
    const out: { module: string; name: string; kind: string }[] = [];
    let p = first;
    for (let i = 0; i < count; i++) {
      const [module, p1] = name(p);
      const [field, p2] = name(p1);
      const kind = bytes[p2] ?? 255;
      p = p2 + 1;
      if (kind === 0) p = leb(bytes, p)[1];
      else if (kind === 1) p = limits(p + 1);
      else if (kind === 2) p = limits(p);
      else if (kind === 3) p += 2;
      else throw new Error(`unknown import kind ${kind}`);
      out.push({ module, name: field, kind: IMPORT_KINDS[kind] ?? String(kind) });
    }
    return out;
  }
  return [];
}

function checkBinary(name: string, bytes: Uint8Array, compiles: boolean): void {
  // Validates the binary where this engine can compile it (relaxed.wasm only where relaxed SIMD is on).
  if (compiles) new WebAssembly.Module(new Uint8Array(bytes));
  const imports = wasmImports(bytes);
  const ok = imports.length === 1 && imports[0]?.module === 'env' && imports[0].name === 'memory' && imports[0].kind === 'memory';
  if (!ok) {
    const list = imports.map((i) => `${i.module}.${i.name} (${i.kind})`).join(', ');
    throw new Error(`kernels/build: ${name}.wasm must import only env.memory, it imports: ${list || 'nothing'}`);
  }
  const segments = dataSegmentCount(bytes);
  if (segments > 0) {
    throw new Error(
      `kernels/build: ${name}.wasm has ${segments} data segment(s) (strings, static arrays?); ` +
        'the modules share one memory owned by kernels/index.ts and must keep no static data',
    );
  }
}

/** Compiles every kernel module; returns the paths of the written .wasm files. */
export async function buildKernels(opts: { outDir?: string } = {}): Promise<string[]> {
  const outDir = resolve(opts.outDir ?? DEFAULT_OUT_DIR);
  await mkdir(outDir, { recursive: true });
  const written: string[] = [];
  type Mod = (typeof KERNEL_MODULES)[number];
  const builds: [Mod, boolean][] = KERNEL_MODULES.flatMap((m): [Mod, boolean][] =>
    'threads' in m && m.threads
      ? [
          [m, false],
          [m, true],
        ]
      : [[m, false]],
  );
  for (const [mod, shared] of builds) {
    const { simd } = mod;
    const name = shared ? `${mod.name}.mt` : mod.name;
    // A module may name its entry file (kernels/assembly/<entry>.ts) when it differs from <name>.ts.
    const entry = join(ASSEMBLY_DIR, `${'entry' in mod ? mod.entry : mod.name}.ts`);
    const outFile = join(outDir, `${name}.wasm`);
    let binary: Uint8Array | null = null;
    const { error, stderr } = await asc.main(ascArgs(entry, outFile, simd, 'relaxed' in mod && mod.relaxed, shared), {
      // Keep the binary in memory: it is checked before it is written.
      writeFile(filename: string, contents: Uint8Array | string) {
        if (filename.endsWith('.wasm') && typeof contents !== 'string') binary = contents;
      },
    });
    if (error) {
      throw new Error(`kernels/build: asc failed on ${entry}:\n${stderr.toString().trim() || error.message}`, { cause: error });
    }
    if (binary === null) throw new Error(`kernels/build: asc produced no binary for ${entry}:\n${stderr.toString()}`);
    checkBinary(name, binary, !('relaxed' in mod && mod.relaxed) || wasmRelaxedSimdSupported());
    await writeFile(outFile, binary);
    written.push(outFile);
  }
  return written;
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (invokedDirectly) {
  buildKernels({ ...(process.argv[2] ? { outDir: process.argv[2] } : {}) }).then(
    (paths) => {
      for (const p of paths) process.stdout.write(`${p}\n`);
    },
    (e: unknown) => {
      process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
