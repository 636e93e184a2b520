/**
 * Runs on the device: loads the WebAssembly peers (onnxruntime-web, tfjs-backend-wasm) from the peers part
 * of the payload, a directory of its own (built by harness/peers-payload.ts, uploaded once per device and
 * reused): peers.mjs (the two libraries bundled), ONNX Runtime's ort-wasm-simd-threaded.{mjs,wasm} and
 * XNNPACK's tfjs-backend-wasm-simd.wasm, with manifest.json.
 *
 * Nothing there runs before every file has been checked against the SHA-256 the host sent (a missing,
 * changed or unexpected file refuses the whole directory). Never throws: a peer that cannot load reports
 * why (the result is `skipped`).
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { verifyDir } from '../../../harness/runner/verify-dir.js';

/** Where the peers part is on this device and what every file's SHA-256 must be (from the host). */
export interface PeersSource {
  dir: string;
  hash: string;
  files: Readonly<Record<string, string>>;
}

export type PeerLibs = typeof import('./libs.js');
/** `mismatched`: the files that failed their hashes (the part was refused before anything in it was imported). */
export type PeersLoad = { ok: true; libs: PeerLibs; dir: string } | { ok: false; reason: string; mismatched?: string[] };

const cache = new Map<string, Promise<PeersLoad>>();

/** Verifies and imports the peers' bundle (once per directory and hash). */
export function loadPeers(src: PeersSource | null): Promise<PeersLoad> {
  if (src === null) {
    return Promise.resolve({
      ok: false,
      reason: 'the WebAssembly peers are not in this payload (an optional part: run with --peers)',
    });
  }
  const key = `${src.dir}\0${src.hash}`;
  let p = cache.get(key);
  if (!p) {
    p = (async (): Promise<PeersLoad> => {
      const bad = verifyDir(src.dir, src.files);
      if (bad.length > 0) {
        return {
          ok: false,
          reason:
            `the peers part ${src.hash} in ${src.dir} does not match its hashes (${bad.slice(0, 5).join(', ')}${bad.length > 5 ? ` and ${bad.length - 5} more` : ''}): ` +
            'nothing in it was loaded; the next run with --peers replaces it (or delete that directory)',
          mismatched: bad,
        };
      }
      try {
        const libs = (await import(pathToFileURL(join(src.dir, 'peers.mjs')).href)) as PeerLibs;
        return { ok: true, libs, dir: src.dir };
      } catch (e) {
        return {
          ok: false,
          reason: `the peers bundle failed to load on this device (${process.platform}-${process.arch}, Node ${process.version}): ${(e as Error).message ?? String(e)}`,
        };
      }
    })();
    cache.set(key, p);
  }
  return p;
}
