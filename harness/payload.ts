/**
 * The payload: one content-hashed directory holding the bundled runner (runner,
 * suites, reference, contracts) and the compiled kernels. `local` and remote
 * devices run the same payload; only the transport differs.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { nativeArch, type NativeArch } from '../core/external.js';
import { verifyDir } from './runner/verify-dir.js';
import type { PeersPayload } from './peers-payload.js';

export const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const KERNEL_SRC = join(ROOT, 'kernels', 'assembly');
const KERNEL_OUT = join(ROOT, 'kernels', 'build');
export const PAYLOAD_ROOT = join(ROOT, '.cache', 'payload');

export interface PayloadFile {
  /** Relative path inside the payload directory (`runner.mjs`, `wasm/simd.wasm`, `manifest.json`). */
  path: string;
  bytes: number;
  /** SHA-256 of the content, hex. */
  sha256: string;
  /** File mode when not 0644: 0755 for the user's executables (native kernels). */
  mode?: number;
}

/**
 * A user's file that travels in the payload (`--kernels FILE`: a native kernel's
 * binary, or a file of its uploaded directory), content-addressed under
 * `native/` (harness/external-bundle.ts names them), hashed and verified on the
 * device like the runner.
 */
export interface NativeFile {
  /** Relative path inside the payload directory (`native/<hash>/<name>`). */
  path: string;
  /** Absolute path on this machine. */
  source: string;
  /** The architecture it is built for (only the payload of a device of that architecture holds it), or null for any. */
  arch: NativeArch | null;
  executable: boolean;
}

export interface Payload {
  hash: string;
  dir: string;
  /** Relative paths inside dir, with sizes and SHA-256 (the runner and kernels; manifest.json is `manifest`). */
  files: PayloadFile[];
  /** manifest.json itself: it is uploaded and verified like the other files. */
  manifest: PayloadFile;
  /** Files of a cached copy on this machine that did not match and were rewritten (empty when the cache was intact). */
  repaired: string[];
  /**
   * The user's native files of the run (all architectures) and the architecture this payload
   * holds them for: payloadForArch() makes the payload of another device's architecture.
   */
  native?: { files: NativeFile[]; arch: NativeArch | null };
  /**
   * The optional peers part of the run (--peers, harness/peers-payload.ts): hashed and shipped on its own,
   * once per device (the transports put it on the device and name it in the plan).
   */
  peers?: PeersPayload;
}

const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

/**
 * Every file of the payload with its expected SHA-256, as the device checks
 * them before it loads the runner (manifest.json included).
 */
export function expectedFiles(p: Payload): Record<string, string> {
  return Object.fromEntries([...p.files, p.manifest].map((f) => [f.path, f.sha256]));
}

/**
 * Compare a payload directory with the expected files: the paths that are
 * missing, differ, or should not be there. Empty when the directory is intact.
 */
export function checkPayloadDir(dir: string, expected: Readonly<Record<string, string>>): string[] {
  return verifyDir(dir, expected);
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

export interface PayloadOptions {
  root?: string;
  log?: (msg: string) => void;
  /** The user's native files (`--kernels FILE`), of every architecture. */
  native?: NativeFile[];
  /** The architecture whose native files go in (those with arch null always do). */
  arch?: NativeArch | null;
}

/**
 * The payload of the same run for a device whose Node reports `processArch`:
 * the same payload when it has no native files or already holds this
 * architecture's, else one built with that architecture's binaries.
 */
export async function payloadForArch(p: Payload, processArch: string, log?: (msg: string) => void): Promise<Payload> {
  if (!p.native) return p;
  const arch = nativeArch(processArch);
  if (arch === p.native.arch) return p;
  const built = await buildPayload({ root: dirname(p.dir), log, native: p.native.files, arch });
  return p.peers ? { ...built, peers: p.peers } : built;
}

/**
 * The folders the device payload may be built from: the payload-safe core (contracts, statistics, roofline
 * arithmetic, graphs, .npy), the float64 reference, the suites, the kernels' loader and the runner itself.
 * Everything else under harness/ is host code (transports, the CLI, reports, history) and never travels.
 */
export const PAYLOAD_SOURCES: readonly string[] = ['core/', 'reference/', 'suites/', 'kernels/index.ts', 'harness/runner/'];

/** The bundle's inputs (paths relative to the repository) that are not payload sources: host code the device must not import. */
export function hostInputs(inputs: Iterable<string>): string[] {
  // Packages may resolve outside the repository (a symlinked or hoisted node_modules): any node_modules path is a dependency.
  return [...inputs].filter((i) => !/(^|\/)node_modules\//.test(i) && !PAYLOAD_SOURCES.some((s) => i.startsWith(s))).sort();
}

/** Bundle the runner (the device's entry point) into one ES module, refusing it if it pulls in host code. */
export async function bundleRunner(entry = join(ROOT, 'harness', 'runner', 'main.ts')): Promise<Uint8Array> {
  const result = await esbuild.build({
    entryPoints: [entry],
    absWorkingDir: ROOT,
    bundle: true,
    write: false,
    metafile: true,
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
  const host = hostInputs(Object.keys(result.metafile.inputs).filter((i) => i !== relative(ROOT, entry)));
  if (host.length > 0) {
    throw new Error(
      `payload: the runner bundle imports host code (${host.join(', ')}); device code may import only ${PAYLOAD_SOURCES.join(', ')} and packages. ` +
        'Move what the device needs into core/ (see docs/architecture.md).',
    );
  }
  const bundle = result.outputFiles[0];
  if (!bundle) throw new Error('esbuild produced no output for the runner bundle');
  return bundle.contents;
}

export async function buildPayload(opts: PayloadOptions = {}): Promise<Payload> {
  const root = opts.root ?? PAYLOAD_ROOT;
  const wasmFiles = await ensureKernels(opts.log);
  const runner = await bundleRunner();

  const files: { path: string; content: Uint8Array; mode?: number }[] = [{ path: 'runner.mjs', content: runner }];
  for (const f of wasmFiles.sort()) files.push({ path: `wasm/${f.split('/').pop()}`, content: readFileSync(f) });
  const arch = opts.arch ?? null;
  const native = (opts.native ?? []).filter((f) => f.arch === null || f.arch === arch);
  for (const f of [...native].sort((a, b) => (a.path < b.path ? -1 : 1))) {
    if (files.some((g) => g.path === f.path)) continue;
    let content: Buffer;
    try {
      content = readFileSync(f.source);
    } catch (cause) {
      throw new Error(`payload: cannot read ${f.source} (a file of your kernels file): ${(cause as Error).message}`, { cause });
    }
    files.push({ path: f.path, content, ...(f.executable ? { mode: 0o755 } : {}) });
  }
  const h = createHash('sha256');
  for (const f of files) {
    h.update(f.path);
    h.update('\0');
    h.update(f.content);
    if (f.mode) h.update(`\0mode ${f.mode.toString(8)}`);
  }
  const hash = h.digest('hex').slice(0, 16);
  const dir = join(root, hash);
  const listing: PayloadFile[] = files.map((f) => ({
    path: f.path,
    bytes: f.content.byteLength,
    sha256: sha256(f.content),
    ...(f.mode ? { mode: f.mode } : {}),
  }));
  const manifestText = `${JSON.stringify({ hash, files: listing }, null, 2)}\n`;
  const manifest: PayloadFile = { path: 'manifest.json', bytes: Buffer.byteLength(manifestText), sha256: sha256(manifestText) };
  const expected = Object.fromEntries([...listing, manifest].map((f) => [f.path, f.sha256]));
  // A cached copy is used only when every file still has its hash: a modified runner.mjs in
  // .cache/payload/ must never run under the genuine payload's name. A damaged copy is rebuilt.
  let repaired: string[] = [];
  if (existsSync(dir)) {
    repaired = checkPayloadDir(dir, expected);
    if (repaired.length > 0) {
      opts.log?.(`payload cache ${dir} does not match its hashes (${repaired.join(', ')}): rebuilding it`);
    }
  }
  if (!existsSync(dir) || repaired.length > 0) {
    const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(join(tmp, 'wasm'), { recursive: true });
    for (const f of files) {
      mkdirSync(dirname(join(tmp, f.path)), { recursive: true });
      writeFileSync(join(tmp, f.path), f.content, f.mode ? { mode: f.mode } : {});
    }
    writeFileSync(join(tmp, 'manifest.json'), manifestText);
    if (repaired.length > 0) {
      // Move the damaged copy aside first (a rename is atomic; the directory is never half-replaced).
      const trash = `${dir}.damaged-${process.pid}-${Date.now()}`;
      try {
        renameSync(dir, trash);
        rmSync(trash, { recursive: true, force: true });
      } catch {
        /* another process is repairing it too */
      }
    }
    try {
      renameSync(tmp, dir);
    } catch (e) {
      // Another process built (or repaired) the same payload first: use theirs if it is intact.
      rmSync(tmp, { recursive: true, force: true });
      if (checkPayloadDir(dir, expected).length > 0) {
        throw new Error(`payload: cannot write ${dir}, and the copy there does not match its hashes`, { cause: e });
      }
    }
  }
  return { hash, dir, files: listing, manifest, repaired, ...(opts.native ? { native: { files: opts.native, arch } } : {}) };
}
