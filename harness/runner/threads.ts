/**
 * Runs on the device: a small pool of worker threads that execute WebAssembly
 * kernel calls over ONE shared WebAssembly.Memory (the `.mt.wasm` flavour of
 * the kernels, loaded with loadKernels(dir, { shared: true })).
 *
 * - The pool starts N - 1 workers once (start()); the calling thread is thread
 *   0, so N threads use N cores and no core idles waiting for the others.
 *   Each worker instantiates the same compiled modules over the same memory.
 *   The kernels keep no static data and allocate nothing: every buffer,
 *   including each thread's scratch, is a pointer the host allocated in the
 *   shared memory (kernels/index.ts's arena, owned by thread 0). Globals and
 *   the stack are per instance, so nothing else is shared.
 * - A *program* is the list of kernel calls one thread makes (module, export,
 *   arguments: pointers and integers). register() hands each worker its
 *   program once, outside any timed region; run() then only signals.
 * - Synchronisation: Atomics.wait / Atomics.notify on a small control
 *   SharedArrayBuffer, not worker messages. A message costs a trip through each
 *   thread's event loop (tens of microseconds to milliseconds on a loaded
 *   board), which would be timed with every run of a small layer; a futex wake
 *   is a few microseconds, and run() stays synchronous (the runner's sampling
 *   loop calls a synchronous run()). Programs and errors travel on a
 *   MessageChannel read with receiveMessageOnPort, also synchronously.
 * - The workers are evaluated from a string (no file to ship or resolve): the
 *   code is part of this module, so it is inside the hashed, verified payload.
 *
 * Only node: builtins (this file is bundled into the device payload).
 */
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import type { Kernels } from '../../kernels/index.js';

/** One kernel call: `module` names a kernels module (simd, winograd, scalar ...), `fn` its export. */
export interface ThreadCall {
  module: string;
  fn: string;
  args: number[];
}

/** The calls one thread makes, in order. */
export type ThreadProgram = readonly ThreadCall[];

/** A registered set of programs (one per thread), run by ThreadPool.run. */
export interface ProgramHandle {
  readonly id: number;
  readonly programs: readonly ThreadProgram[];
}

// Control block per worker (Int32 slots): generation, done generation, op, op argument, status.
const SLOTS = 8;
const GEN = 0;
const DONE = 1;
const OP = 2;
const ARG = 3;
const STATUS = 4;
const OP_RUN = 1;
const OP_REGISTER = 2;
const OP_EXIT = 3;
const OP_FORGET = 4;

/**
 * How long a thread waiting for the other threads polls the control word before it sleeps (Atomics.wait), in ms.
 * A futex wake costs tens of microseconds (more on a loaded machine, where the woken thread may wait for a time
 * slice): as long as a whole run of a small layer (a depthwise layer at 7x7 is about 60 us). The runner calls
 * run() back to back while it samples a variant, so a worker that polls briefly after each run catches the next
 * one without sleeping; between variants it sleeps after SPIN_MS. pthreadpool (XNNPACK's) spins likewise before
 * its futex wait. Bounded so idle workers do not hold a core.
 */
const SPIN_MS = 0.2;

/**
 * Returns when ctl[index] is no longer `old`: polls for up to spinMs, then sleeps in Atomics.wait. The same
 * source runs in the workers (its text is put into WORKER_SOURCE; so it uses nothing but its arguments and
 * globals) and on thread 0.
 */
function spinThenWait(ctl: Int32Array, index: number, old: number, spinMs: number): void {
  let t0 = -1;
  for (let i = 1; ; i++) {
    if (Atomics.load(ctl, index) !== old) return;
    if ((i & 255) === 0) {
      const t = performance.now();
      if (t0 < 0) t0 = t;
      else if (t - t0 > spinMs) break;
    }
  }
  while (Atomics.load(ctl, index) === old) Atomics.wait(ctl, index, old);
}

/** The worker's code (CommonJS, evaluated): instantiate the modules, then serve ops until OP_EXIT. */
const WORKER_SOURCE = `
const { workerData, receiveMessageOnPort, parentPort } = require('node:worker_threads');
const spinThenWait = (${spinThenWait.toString()});
const { memory, modules, ctl: ctlBuffer, results: resultsBuffer, port, slot } = workerData;
const ctl = new Int32Array(ctlBuffer);
const results = new Float64Array(resultsBuffer);
const base = slot * ${SLOTS};
const instances = {};
for (const [name, mod] of Object.entries(modules)) instances[name] = new WebAssembly.Instance(mod, { env: { memory } }).exports;
const programs = new Map();
parentPort.postMessage('ready');
let seen = 0;
for (;;) {
  spinThenWait(ctl, base + ${GEN}, seen, ${SPIN_MS});
  const gen = Atomics.load(ctl, base + ${GEN});
  if (gen === seen) continue;
  seen = gen;
  const op = Atomics.load(ctl, base + ${OP});
  const arg = Atomics.load(ctl, base + ${ARG});
  let status = 0;
  try {
    if (op === ${OP_REGISTER}) {
      const msg = receiveMessageOnPort(port);
      if (!msg) throw new Error('no program on the port');
      const calls = msg.message.calls.map((c) => {
        const f = instances[c.module] && instances[c.module][c.fn];
        if (typeof f !== 'function') throw new Error('no export ' + c.module + '.' + c.fn + ' in the worker');
        return [f, c.args];
      });
      programs.set(msg.message.id, calls);
    } else if (op === ${OP_FORGET}) {
      programs.delete(arg);
    } else if (op === ${OP_RUN}) {
      const calls = programs.get(arg);
      if (!calls) throw new Error('program ' + arg + ' is not registered');
      let last = 0;
      for (const [f, args] of calls) last = f(...args);
      results[slot] = typeof last === 'number' ? last : 0;
    }
  } catch (e) {
    status = 1;
    port.postMessage(String(e && e.stack || e));
  }
  Atomics.store(ctl, base + ${STATUS}, status);
  Atomics.store(ctl, base + ${DONE}, gen);
  Atomics.notify(ctl, base + ${DONE});
  if (op === ${OP_EXIT}) break;
}
port.close();
`;

type Fn = (...args: number[]) => unknown;

/** The export `module`.`fn` of the calling thread's instances, or an Error naming what is missing. */
function resolveCall(kernels: Kernels, c: ThreadCall): [Fn, number[]] {
  const mod = (kernels as unknown as Record<string, Record<string, unknown> | null | undefined>)[c.module];
  const f = mod?.[c.fn];
  if (typeof f !== 'function') throw new Error(`threads: no export ${c.module}.${c.fn} in the loaded kernels`);
  return [f as Fn, c.args];
}

export class ThreadPool {
  private nextId = 1;
  private gen = 0;
  private closed = false;
  private readonly ctl: Int32Array;
  private readonly mainPrograms = new Map<number, [Fn, number[]][]>();
  /** The value the last call of each thread's program returned in the last run (thread 0 first). */
  readonly lastResults: Float64Array;

  private constructor(
    readonly kernels: Kernels,
    readonly threads: number,
    private readonly workers: Worker[],
    private readonly ports: MessagePort[],
    ctl: SharedArrayBuffer,
    results: SharedArrayBuffer,
  ) {
    this.ctl = new Int32Array(ctl);
    this.lastResults = new Float64Array(results);
  }

  /**
   * Starts a pool of `threads` threads (the caller and threads - 1 workers) over `kernels`, which must be
   * loaded with a shared memory (loadKernels(dir, { shared: true })).
   */
  static async start(kernels: Kernels, threads: number): Promise<ThreadPool> {
    if (!Number.isInteger(threads) || threads < 1) throw new Error(`threads: the thread count must be an integer >= 1, got ${threads}`);
    if (!(kernels.memory.buffer instanceof SharedArrayBuffer) || !kernels.modules) {
      throw new Error('threads: the kernels were loaded without a shared memory; load them with loadKernels(dir, { shared: true })');
    }
    const ctl = new SharedArrayBuffer(threads * SLOTS * 4);
    const results = new SharedArrayBuffer(threads * 8);
    const workers: Worker[] = [];
    const ports: MessagePort[] = [];
    try {
      for (let slot = 1; slot < threads; slot++) {
        const { port1, port2 } = new MessageChannel();
        const worker = new Worker(WORKER_SOURCE, {
          eval: true,
          workerData: { memory: kernels.memory, modules: kernels.modules, ctl, results, port: port2, slot },
          transferList: [port2],
        });
        worker.unref();
        workers.push(worker);
        ports.push(port1);
      }
      // Wait until every worker is up (it has instantiated its modules; a failure there is an 'error' event).
      await Promise.all(
        workers.map(
          (w, i) =>
            new Promise<void>((resolve, reject) => {
              w.once('message', () => resolve());
              w.once('exit', (code) => reject(new Error(`threads: worker ${i + 1} exited (code ${code}) before it was ready`)));
              w.once('error', (e) => reject(new Error(`threads: worker ${i + 1} failed to start: ${e.message}`, { cause: e })));
            }),
        ),
      );
    } catch (e) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw e;
    }
    const pool = new ThreadPool(kernels, threads, workers, ports, ctl, results);
    return pool;
  }

  /** Signals every worker with `op`, waits until all have done it; throws the first worker's error. */
  private signalAll(op: number, arg: number, mainWork?: () => void): void {
    if (this.closed) throw new Error('threads: the pool is closed');
    const gen = ++this.gen;
    const c = this.ctl;
    for (let slot = 1; slot < this.threads; slot++) {
      const base = slot * SLOTS;
      Atomics.store(c, base + OP, op);
      Atomics.store(c, base + ARG, arg);
      Atomics.store(c, base + GEN, gen);
      Atomics.notify(c, base + GEN);
    }
    let mainError: unknown = null;
    try {
      mainWork?.();
    } catch (e) {
      mainError = e;
    }
    const errors: string[] = [];
    for (let slot = 1; slot < this.threads; slot++) {
      const base = slot * SLOTS;
      for (let d = Atomics.load(c, base + DONE); d !== gen; d = Atomics.load(c, base + DONE)) spinThenWait(c, base + DONE, d, SPIN_MS);
      if (Atomics.load(c, base + STATUS) !== 0) {
        const port = this.ports[slot - 1];
        const msg = port ? receiveMessageOnPort(port) : undefined;
        errors.push(`thread ${slot}: ${msg ? String(msg.message) : 'failed'}`);
      }
    }
    if (mainError !== null) throw new Error(`threads: thread 0 failed: ${(mainError as Error).message ?? String(mainError)}`, { cause: mainError });
    if (errors.length > 0) throw new Error(`threads: ${errors.join('; ')}`);
  }

  /**
   * Registers one program per thread (programs[0] runs on the calling thread), outside any timed region.
   * Every call is resolved now: an unknown module or export throws here, not in run().
   */
  register(programs: readonly ThreadProgram[]): ProgramHandle {
    if (programs.length !== this.threads) {
      throw new Error(`threads: ${programs.length} program(s) for a pool of ${this.threads} thread(s); give one per thread (an empty one is allowed)`);
    }
    const id = this.nextId++;
    this.mainPrograms.set(
      id,
      (programs[0] ?? []).map((c) => resolveCall(this.kernels, c)),
    );
    for (let slot = 1; slot < this.threads; slot++) {
      this.ports[slot - 1]?.postMessage({ id, calls: programs[slot] });
    }
    this.signalAll(OP_REGISTER, id);
    return { id, programs };
  }

  /** Runs a registered set of programs on all threads at once and returns when every thread has finished. */
  run(handle: ProgramHandle): void {
    const main = this.mainPrograms.get(handle.id);
    if (!main) throw new Error(`threads: program ${handle.id} is not registered with this pool (or was released)`);
    this.signalAll(OP_RUN, handle.id, () => {
      let last: unknown = 0;
      for (const [f, args] of main) last = f(...args);
      this.lastResults[0] = typeof last === 'number' ? last : 0;
    });
  }

  /** Forgets a registered set of programs (its buffers are the caller's to release). */
  release(handle: ProgramHandle): void {
    if (!this.mainPrograms.delete(handle.id) || this.closed) return;
    this.signalAll(OP_FORGET, handle.id);
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.signalAll(OP_EXIT, 0);
    this.closed = true;
    for (const p of this.ports) p.close();
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** How many threads `all` means here (the cores Node may use). */
export async function availableCores(): Promise<number> {
  const os = await import('node:os');
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}
