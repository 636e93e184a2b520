/**
 * The WebAssembly peers as variants of a normal run (`--peers`, docs/threads.md): an ExtraVariant of kind
 * `peer` is built by `runPeerVariant` on the host (for names and shapes: no library is loaded there) and on
 * the device (from the plan's peers part), so names agree. Payload-safe: the libraries are imported only
 * by load.ts, from the verified peers part.
 *
 * Thread counts (`--threads`), named like every threaded variant (`<name>@t<N>`, core/contracts.ts
 * threadedVariantName):
 * - onnxruntime-web fixes its thread count (env.wasm.numThreads) at its first session in a process, so a
 *   run chooses one count for it: the run's highest. `conv-onnxruntime-web-f32@t<N>` runs at that count;
 *   at every other count (1 included) it is `skipped` with that reason.
 * - tfjs-backend-wasm runs one thread in Node (its threaded build needs browser Web Workers): at N > 1
 *   `conv-tfjs-xnnpack-f32@t<N>` is `skipped` with that reason.
 *
 * A peer's applies() knows whether the part loaded only after `ready()`: the runner awaits `ready(counts)`
 * of every peer before the first case (harness/runner/main.ts), so an absent or tampered part makes every
 * peer result `skipped` with the reason, never an `errored` prepare.
 */
import { PEER_LIBRARIES, threadedVariantName, type ConvVariant } from '../../../core/contracts.js';
import { makeOnnxruntimeWebConv } from './onnxruntime-web.js';
import type { PeersSource } from './load.js';
import { makeTfjsWasmConv } from './tfjs-wasm.js';
import type { PeerVariant } from './peer.js';

export type PeerLibrary = (typeof PEER_LIBRARIES)[number];

/** The run's name of each peer (at one thread). */
export const PEER_VARIANT_NAMES: Readonly<Record<PeerLibrary, string>> = {
  'onnxruntime-web': 'conv-onnxruntime-web-f32',
  'tfjs-xnnpack': 'conv-tfjs-xnnpack-f32',
};

/** The models suite's name of each peer (here so the runner needs no import from suites/models). */
export const MODEL_PEER_NAMES: Readonly<Record<PeerLibrary, string>> = {
  'onnxruntime-web': PEER_VARIANT_NAMES['onnxruntime-web'].replace(/^conv-/, 'model-'),
  'tfjs-xnnpack': PEER_VARIANT_NAMES['tfjs-xnnpack'].replace(/^conv-/, 'model-'),
};

/** A peer of the run: what the runner asks of it besides being a conv variant. */
export interface RunPeer {
  library: PeerLibrary;
  /** Before the first case: fixes the count it runs at, verifies and loads the part; true, or why it is skipped. */
  ready(counts: readonly number[]): Promise<true | string>;
  /** A conv peer at `threads` > 1: its variant `<name>@t<N>`, or why it is skipped there (absent for a network peer). */
  at?(threads: number): ConvVariant | { skip: string };
}

const peers = new WeakMap<object, RunPeer>();

/** The run peer behind a variant (a conv peer here, a network peer of suites/models/peers.ts), or undefined. */
export function peerOf(v: object): RunPeer | undefined {
  return peers.get(v);
}

/** Marks `v` as a peer of the run (its ready() is awaited before the first case). */
export function registerPeer(v: object, p: RunPeer): void {
  peers.set(v, p);
}

/**
 * The one thread count onnxruntime-web runs at in a run (it fixes env.wasm.numThreads once per process):
 * the run's highest --threads count. The reason it is skipped at another count `n`.
 */
export const ortWebCount = (counts: readonly number[]) => Math.max(1, ...counts);
export const ortWebElsewhere = (runCount: number, n: number) =>
  `onnxruntime-web fixes its thread count once per process, and this run runs it at ${runCount} thread(s) (the run's highest --threads count)` +
  (n === 1 ? ': run with --threads 1 for its one-thread figure' : `, not ${n}`);

export const TFJS_ONE_THREAD = "tfjs-backend-wasm's threaded build needs browser Web Workers; in Node it runs one thread only";

/** The conv variant of a peer for a run, loaded from `src` on the device (null on the host: nothing is loaded). */
export function runPeerVariant(library: PeerLibrary, src: PeersSource | null): ConvVariant {
  const base = PEER_VARIANT_NAMES[library];
  const ort = library === 'onnxruntime-web';
  const byCount = new Map<number, PeerVariant>();
  const peerAt = (n: number): PeerVariant => {
    let p = byCount.get(n);
    if (!p) {
      const made = ort ? makeOnnxruntimeWebConv(src, n, base) : makeTfjsWasmConv(src, n, base);
      // Named as the run names every threaded variant (the factory needs a name ending in its dtype).
      p = n === 1 ? made : { ...made, variant: { ...made.variant, name: threadedVariantName(base, n) } };
      byCount.set(n, p);
    }
    return p;
  };
  /** The one count onnxruntime-web runs at in this process (tfjs: always 1). */
  let runCount = 1;
  const ortElsewhere = (n: number) => ortWebElsewhere(runCount, n);
  const one = peerAt(1).variant;
  const variant: ConvVariant = {
    ...one,
    applies(shape, params) {
      return runCount !== 1 ? ortElsewhere(1) : one.applies(shape, params);
    },
  };
  registerPeer(variant, {
    library,
    async ready(counts) {
      if (ort) runCount = ortWebCount(counts);
      // tfjs runs only at 1: a run without 1 among its counts skips it at every count without loading anything.
      if (!ort && !counts.includes(1)) return `not run on ${counts.join(', ')} threads: ${TFJS_ONE_THREAD}`;
      return peerAt(runCount).ready();
    },
    at(n) {
      if (n === 1) return variant;
      if (!ort) return { skip: `not run on ${n} threads: ${TFJS_ONE_THREAD}` };
      return n === runCount ? peerAt(n).variant : { skip: `not run on ${n} threads: ${ortElsewhere(n)}` };
    },
  });
  return variant;
}
