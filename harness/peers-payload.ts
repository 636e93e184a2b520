/**
 * The optional peers part of the payload (docs/threads.md): the WebAssembly peers' libraries,
 * large (ONNX Runtime's WebAssembly build alone is about 14 MB), so kept apart from the main payload
 * and hashed on their own: the main payload changes with every kernel or runner change, this part
 * only when the peers' versions do, so a device receives it once and reuses it.
 *
 * Contents (content-hashed directory .cache/peers/<hash>/, manifest.json listing every file's SHA-256):
 * - peers.mjs: onnxruntime-web and @tensorflow/tfjs-core + tfjs-backend-wasm bundled by esbuild
 *   (suites/conv/peers/libs.ts), one ES module;
 * - ort-wasm-simd-threaded.mjs / .wasm: ONNX Runtime's WebAssembly SIMD + threads build (its glue is a
 *   separate module because its worker threads load it by URL);
 * - tfjs-backend-wasm-simd.wasm: XNNPACK's WebAssembly SIMD build (the threaded build needs browser
 *   Workers, so it is not shipped: in Node tfjs-backend-wasm runs one thread).
 * The device verifies every file against these hashes before it imports anything (suites/conv/peers/load.ts).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as esbuild from 'esbuild';
import { checkPayloadDir, ROOT } from './payload.js';
import type { PeersSource } from '../suites/conv/peers/load.js';

export const PEERS_ROOT = join(ROOT, '.cache', 'peers');

const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

/** The library files the peers part copies as they are: [file name, package] (in the directory of the package's Node entry, dist/). */
const COPIED: readonly [string, string][] = [
  ['ort-wasm-simd-threaded.mjs', 'onnxruntime-web'],
  ['ort-wasm-simd-threaded.wasm', 'onnxruntime-web'],
  ['tfjs-backend-wasm-simd.wasm', '@tensorflow/tfjs-backend-wasm'],
];

export interface PeersPayload extends PeersSource {
  /** Sizes of the files, bytes. */
  bytes: Record<string, number>;
}

/** Builds (or finds, intact, in the cache) the peers part; returns where it is and every file's hash. */
export async function buildPeersPayload(opts: { root?: string } = {}): Promise<PeersPayload> {
  const root = opts.root ?? PEERS_ROOT;
  const req = createRequire(join(ROOT, 'package.json'));
  const result = await esbuild.build({
    entryPoints: [join(ROOT, 'suites', 'conv', 'peers', 'libs.ts')],
    absWorkingDir: ROOT,
    bundle: true,
    write: false,
    platform: 'node',
    format: 'esm',
    target: 'node18',
    // CommonJS parts (tfjs-backend-wasm's Emscripten glue) use require, __filename and __dirname: an ES module has none.
    banner: {
      js:
        "import { createRequire as __rbCreateRequire } from 'node:module'; import { fileURLToPath as __rbPath } from 'node:url'; " +
        "import { dirname as __rbDir } from 'node:path'; const require = __rbCreateRequire(import.meta.url); " +
        'const __filename = __rbPath(import.meta.url); const __dirname = __rbDir(__filename);',
    },
    legalComments: 'none',
    logLevel: 'silent',
    outfile: 'peers.mjs',
  });
  const bundle = result.outputFiles[0];
  if (!bundle) throw new Error('peers payload: esbuild produced no output for peers.mjs');
  const files: { path: string; content: Uint8Array }[] = [{ path: 'peers.mjs', content: bundle.contents }];
  for (const [path, pkg] of COPIED) {
    let content: Buffer;
    try {
      // The packages export no subpaths for these files: they sit beside the Node entry (dist/).
      content = readFileSync(join(dirname(req.resolve(pkg)), path));
    } catch (cause) {
      throw new Error(`peers payload: cannot read ${path} of ${pkg}: run npm ci (onnxruntime-web and @tensorflow/tfjs-backend-wasm are dependencies)`, {
        cause,
      });
    }
    files.push({ path, content });
  }
  const h = createHash('sha256');
  for (const f of files) h.update(f.path).update('\0').update(f.content);
  const hash = h.digest('hex').slice(0, 16);
  const dir = join(root, hash);
  const listing = Object.fromEntries(files.map((f) => [f.path, sha256(f.content)]));
  const manifestText = `${JSON.stringify({ hash, files: listing }, null, 2)}\n`;
  const expected = { ...listing, 'manifest.json': sha256(manifestText) };
  if (!existsSync(dir) || checkPayloadDir(dir, expected).length > 0) {
    const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
    mkdirSync(tmp, { recursive: true });
    for (const f of files) writeFileSync(join(tmp, f.path), f.content);
    writeFileSync(join(tmp, 'manifest.json'), manifestText);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dirname(dir), { recursive: true });
    renameSync(tmp, dir);
  }
  return {
    dir,
    hash,
    files: expected,
    bytes: Object.fromEntries([...files.map((f) => [f.path, f.content.byteLength] as const), ['manifest.json', manifestText.length]]),
  };
}
