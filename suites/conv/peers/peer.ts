/**
 * What the two WebAssembly peer variants share (suites/conv/peers/onnxruntime-web.ts, tfjs-wasm.ts):
 * loading from the peers part, the `skipped` reason once it is known, and the ConvVariant around an
 * asynchronous prepare. Peers are variants (design: "Peers are variants"): same case, same float64
 * reference, exact tolerance (neither library uses Winograd or FFT for these convolutions).
 */
import type { ConvShape, ConvVariant, KernelContext, Prepared } from '../../../core/contracts.js';
import { convVariant } from '../variant.js';
import { loadPeers, type PeerLibs, type PeersLoad, type PeersSource } from './load.js';

export interface PeerSpec {
  name: string;
  algorithm: string;
  description: string;
  library: string;
  threads: number;
  /** Why this peer cannot run this valid shape (or null). */
  cannot(shape: ConvShape): string | null;
  /** Why this peer cannot run at `threads` threads in this process (checked after loading), or null. */
  threadProblem(libs: PeerLibs): string | null;
  prepare(libs: PeerLibs, dir: string, shape: ConvShape, x: Float32Array, w: Float32Array): Promise<Prepared>;
}

export interface PeerVariant {
  variant: ConvVariant;
  /** Loads (verifies, imports) the peers part: true, or why this peer is skipped. applies() says the same afterwards. */
  ready(): Promise<true | string>;
}

export function peerVariant(src: PeersSource | null, spec: PeerSpec): PeerVariant {
  let outcome: PeersLoad | undefined;
  let problem: string | null = null;
  const ready = async (): Promise<true | string> => {
    outcome ??= await loadPeers(src);
    if (!outcome.ok) return outcome.reason;
    problem = spec.threadProblem(outcome.libs);
    return problem ?? true;
  };
  const variant = convVariant({
    name: spec.name,
    algorithm: spec.algorithm,
    description: spec.description,
    info: () => ({ code: 'wasm', library: spec.library, threads: spec.threads }),
    cannot(shape) {
      if (outcome && !outcome.ok) return outcome.reason;
      return problem ?? spec.cannot(shape);
    },
    prepare(): Prepared {
      throw new Error(`${spec.name}: the library's set-up is asynchronous: use prepareAsync()`);
    },
    async prepareAsync(_ctx: KernelContext, shape: ConvShape, x: Float32Array, w: Float32Array): Promise<Prepared> {
      const ok = await ready();
      if (ok !== true) throw new Error(`${spec.name}: ${ok}`);
      if (!outcome?.ok) throw new Error(`${spec.name}: the peers are not loaded`);
      return spec.prepare(outcome.libs, outcome.dir, shape, x, w);
    },
  });
  return { variant, ready };
}
