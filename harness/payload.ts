/**
 * The payload: one content-hashed directory holding the bundled runner (runner,
 * suites, reference, contracts) and the compiled kernels. `local` and remote
 * devices run the same payload; only the transport differs.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

export const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const KERNEL_SRC = join(ROOT, 'kernels', 'assembly');
const KERNEL_OUT = join(ROOT, 'kernels', 'build');
export const PAYLOAD_ROOT = join(ROOT, '.cache', 'payload');

export interface Payload {
  hash: string;
  dir: string;
  /** Relative paths inside dir, with sizes. */
  files: { path: string; bytes: number }[];
}

function newestMtime(dir: string, suffix: string): number {
  if (!existsSync(dir)) return 0;
  let t = 0;
  for (const f of readdirSync(dir)) if (f.endsWith(suffix)) t = Math.max(t, statSync(join(dir, f)).mtimeMs);
  return t;
}

/** Compile the kernels if the .wasm files are missing or older than their sources. */
export async function ensureKernels(log: (msg: string) => void = () => {}): Promise<string[]> {
  const src = newestMtime(KERNEL_SRC, '.ts');
  const out = existsSync(KERNEL_OUT) ? readdirSync(KERNEL_OUT).filter((f) => f.endsWith('.wasm')) : [];
  const built = newestMtime(KERNEL_OUT, '.wasm');
  if (out.length > 0 && built >= src) return out.map((f) => join(KERNEL_OUT, f));
  log('compiling kernels (AssemblyScript -> WebAssembly SIMD)');
  // The compiler (binaryen) takes seconds to load: only when there is something to compile.
  const { buildKernels } = await import('../kernels/build.js');
  return buildKernels({ outDir: KERNEL_OUT });
}

export async function buildPayload(opts: { root?: string; log?: (msg: string) => void } = {}): Promise<Payload> {
  const root = opts.root ?? PAYLOAD_ROOT;
  const wasmFiles = await ensureKernels(opts.log);
  const result = await esbuild.build({
    entryPoints: [join(ROOT, 'harness', 'runner', 'main.ts')],
    bundle: true,
    write: false,
    platform: 'node',
    format: 'esm',
    target: 'node18',
    // CommonJS dependencies (systeminformation) call require() for node builtins.
    banner: { js: "import { createRequire as __rbCreateRequire } from 'node:module'; const require = __rbCreateRequire(import.meta.url);" },
    legalComments: 'none',
    logLevel: 'silent',
    outfile: 'runner.mjs',
    // A native addon, not bundleable: conv-onnxruntime-f32 loads it at run time from the device (see its module doc).
    external: ['onnxruntime-node'],
  });
  const bundle = result.outputFiles[0];
  if (!bundle) throw new Error('esbuild produced no output for the runner bundle');

  const files: { path: string; content: Uint8Array }[] = [{ path: 'runner.mjs', content: bundle.contents }];
  for (const f of wasmFiles.sort()) files.push({ path: `wasm/${f.split('/').pop()}`, content: readFileSync(f) });
  const h = createHash('sha256');
  for (const f of files) {
    h.update(f.path);
    h.update('\0');
    h.update(f.content);
  }
  const hash = h.digest('hex').slice(0, 16);
  const dir = join(root, hash);
  const listing = files.map((f) => ({ path: f.path, bytes: f.content.byteLength }));
  if (!existsSync(join(dir, 'manifest.json'))) {
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(join(tmp, 'wasm'), { recursive: true });
    for (const f of files) writeFileSync(join(tmp, f.path), f.content);
    writeFileSync(join(tmp, 'manifest.json'), `${JSON.stringify({ hash, files: listing }, null, 2)}\n`);
    try {
      renameSync(tmp, dir);
    } catch (e) {
      // Another process built the same payload first: theirs is identical.
      rmSync(tmp, { recursive: true, force: true });
      if (!existsSync(join(dir, 'manifest.json'))) throw e;
    }
  }
  return { hash, dir, files: listing };
}
