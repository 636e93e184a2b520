/**
 * `--threads N` in the runner (on the device): the conv variants at N threads. A threadable variant
 * (suites/conv/threaded.ts) becomes `<name>@t<N>`, prepared on the run's pool of N threads
 * (prepareThreaded: weights split and packed per thread, programs registered, all outside the timed
 * region; its run() is one synchronous pool run, so the sampling loop is unchanged). Any other variant
 * is `skipped` at N with threadable()'s reason: never silently run on one thread under an N-thread name.
 *
 * The outputs of a threaded variant must be bit-identical to the same variant on one thread:
 * `bitIdentityError` compares the output hashes the check step recorded (checksumF32).
 */
import { threadedVariantName, type ConvVariant, type Prepared, type TestFaults } from '../../core/contracts.js';
import { prepareThreaded, threadable } from '../../suites/conv/threaded.js';
import { convOnnxruntimeF32, makeConvOnnxruntimeF32 } from '../../suites/conv/variants/onnxruntime.js';
import type { ThreadPool } from './threads.js';
import { peerOf } from '../../suites/conv/peers/run.js';

/** What the runner gives measureCase for `--threads`: the counts (ascending) and one started pool per count > 1. */
export interface RunThreads {
  counts: readonly number[];
  pools: ReadonlyMap<number, ThreadPool>;
  /** The device's cores (probe): a count above it is marked oversubscribed. */
  cores: number;
}

/** The result fields every result at `threads` threads carries. */
export function threadFields(threads: number, cores: number): { threads: number; oversubscribed?: true } {
  return threads > cores ? { threads, oversubscribed: true } : { threads };
}

/**
 * `v` at `threads` threads: the variant itself at 1; at N > 1 a variant named `<name>@t<N>` whose prepare
 * runs on `pool`, or the reason it cannot run threaded (then it is reported skipped under the N-thread name).
 */
export function atThreads(v: ConvVariant, threads: number, pool: ThreadPool | undefined, faults?: TestFaults): ConvVariant | { skip: string; name: string } {
  if (threads === 1) return v;
  const name = threadedVariantName(v.name, threads);
  // ONNX Runtime native: its own intra-op pool of N threads (intraOpNumThreads = N), resolved as the runner resolves it.
  if (v.name === convOnnxruntimeF32.name) return { ...makeConvOnnxruntimeF32(import.meta.url, threads), name };
  // A WebAssembly peer (--peers): its library's own threads, at the count the run chose for it (suites/conv/peers/run.ts).
  const peer = peerOf(v);
  if (peer?.at) {
    const at = peer.at(threads);
    return 'skip' in at ? { skip: at.skip, name } : at;
  }
  const ok = threadable(v);
  if (ok !== true) return { skip: `not run on ${threads} threads: ${ok}`, name };
  if (!pool) return { skip: `not run on ${threads} threads: the runner has no pool of ${threads} threads`, name };
  const flip = faults?.threadedOutputBitFlip === name;
  return {
    ...v,
    name,
    prepareAsync: undefined,
    prepare(_ctx, shape, x, w): Prepared {
      const t = prepareThreaded(pool, v, shape, x, w);
      return {
        run(): void {
          t.run();
          // Test-only (plan.faults): one thread writes one wrong bit, as a race or a wrong block would.
          if (flip) flipLowestBit(t.output());
        },
        output: () => t.output(),
        preparedBytes: 0,
        prepareNote: t.note,
        dispose: () => t.dispose(),
      };
    },
  };
}

/** Test-only fault (plan.faults threadedOutputBitFlip): the lowest bit of the first output value flipped. */
export function flipLowestBit(y: Float32Array): void {
  const u = new Uint32Array(y.buffer, y.byteOffset, Math.min(y.length, 1));
  if (u.length > 0) u[0] = u[0]! ^ 1;
}

/**
 * Null when a threaded output hash equals the one-thread output hash of the same variant on the same
 * inputs, else the error that fails the result (a threaded split must change nothing but the time).
 */
export function bitIdentityError(name: string, threads: number, hash: string, oneThreadHash: string): string | null {
  if (hash === oneThreadHash) return null;
  return (
    `the output on ${threads} threads is not bit-identical to the same variant on one thread (output hash ${hash} vs ${oneThreadHash}): ` +
    `the split of ${name} changed the result; a thread computed or wrote a wrong block (report it: the threaded split is meant to change nothing but the time)`
  );
}
