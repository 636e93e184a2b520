/**
 * The runner: the code that runs ON the device (bundled into the payload).
 *
 *   node runner.mjs [--wasm DIR] < plan.json
 *
 * Reads the plan (JSON, one line) on stdin and writes one JSON event per line on
 * stdout: hello, probe, health, ceilings, case-start, result ..., health, done.
 * Diagnostics go to stderr. Timing happens here, never across the network.
 *
 * The host keeps stdin open for the whole run: when it ends after the plan (the
 * host stopped the run, or went away and its connection closed), the runner
 * stops at once, and so it does when stdout is gone. (The device's wrapper also
 * stops a runner stuck in a kernel: see harness/transport/session.ts.)
 * In the payload, the bootstrap checks every file's hash before loading this.
 */
import { renameSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  erroredResult,
  Plan,
  resolveThreadCounts,
  threadedVariantName,
  type AnyVariant,
  type RunnerEvent,
  type RuntimeFeatures,
} from '../../core/contracts.js';
import { loadPeers, type PeersSource } from '../../suites/conv/peers/load.js';
import { MODEL_PEER_NAMES, peerOf, PEER_VARIANT_NAMES } from '../../suites/conv/peers/run.js';
import { loadKernels } from '../../kernels/index.js';
import { asConvVariant, makeResolver } from '../../suites/variants.js';
import { probeDevice, healthSnapshot } from './probe.js';
import { measureCeilings } from './ceilings.js';
import { measureCase, timerResolutionMs } from './measure.js';
import { kitOf, suiteOfCase } from '../../suites/kits.js';
import { measuresItself } from '../../suites/kit.js';
import { ExternalKernels } from './external.js';
import { PlanExternal } from '../../core/external.js';
import { faultyWinogradGenerator } from './faults.js';
import { LoadTracker } from './load.js';
import { firstLineReader } from './first-line.js';
import { ThreadPool } from './threads.js';
import { measureThreadedCeilings } from './threaded-ceilings.js';
import { threadFields, type RunThreads } from './threaded-variants.js';

export const RUNNER_VERSION = '1';

function emit(e: RunnerEvent): void {
  process.stdout.write(`${JSON.stringify(e)}\n`);
}

/** Exit code when the host stopped the run or went away (see harness/transport/session.ts). */
const STOPPED_EXIT = 130;

function stopped(why: string): never {
  try {
    process.stderr.write(`roofbench runner: ${why}: stopping\n`);
  } catch {
    /* stderr may be gone too */
  }
  process.exit(STOPPED_EXIT);
}

/**
 * The plan: the first line on stdin (or all of it, when the input ends without
 * a newline). Input ending after the plan line means stop.
 */
function readPlan(): Promise<string> {
  return new Promise((resolvePlan, reject) => {
    const reader = firstLineReader();
    let got = false;
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk: string) => {
      if (got) return;
      const line = reader.push(chunk);
      if (line !== null) {
        got = true;
        resolvePlan(line);
      }
    });
    process.stdin.on('end', () => {
      if (!got) {
        got = true;
        resolvePlan(reader.rest());
      } else {
        stopped('the host closed its connection');
      }
    });
    process.stdin.on('error', (e) => (got ? stopped(`reading from the host failed (${e.message})`) : reject(e)));
  });
}

// The host is gone when its end of stdout is: nothing measured here can reach it any more.
process.stdout.on('error', () => stopped('the host stopped reading'));

function argValue(flag: string): string | undefined {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  emit({ type: 'hello', runnerVersion: RUNNER_VERSION, node: process.version, pid: process.pid });
  const text = await readPlan();
  let plan: Plan;
  try {
    plan = Plan.parse(JSON.parse(text));
  } catch (cause) {
    throw new Error('the plan on stdin is not valid (host and payload out of sync?)', { cause });
  }
  // Test-only: a fault in the Cook-Toom generator rebuilds the Winograd variants with it (harness/runner/faults.ts).
  const generator = faultyWinogradGenerator(plan.faults);
  // --peers: the peers part, where the host put it (a relative path is in the work directory, this process's cwd).
  const peersSource = plan.peers ? { dir: resolve(plan.peers.dir), hash: plan.peers.hash, files: plan.peers.files } : null;
  const findVariant = makeResolver(plan.extraVariants, { ...(generator ? { winogradGenerator: generator } : {}), peers: peersSource });
  const probe = await probeDevice();
  emit({ type: 'probe', probe });
  emit({ type: 'health', health: healthSnapshot('before') });
  // Other processes' CPU load from here on, reported with each later health snapshot.
  const load = new LoadTracker();

  const wasmDir = argValue('--wasm') ?? join(dirname(fileURLToPath(import.meta.url)), 'wasm');
  const kernels = await loadKernels(wasmDir);
  const features: RuntimeFeatures = { wasmSimd: probe.runtime.wasmSimd, wasmRelaxedSimd: kernels.relaxed !== null };

  // --threads: one pool per count > 1, started once for the whole run, over the shared-memory kernels.
  const counts = resolveThreadCounts(plan.options.threads, probe.cpu.cores);
  const threads: RunThreads = { counts, pools: new Map(), cores: probe.cpu.cores };
  if (counts.some((n) => n > 1)) {
    const shared = await loadKernels(wasmDir, { shared: true });
    for (const n of counts.filter((n) => n > 1)) {
      emit({
        type: 'phase',
        phase: 'threads',
        detail: `starting ${n - 1} worker thread(s) for ${n} threads${n > probe.cpu.cores ? ` (oversubscribed: the device reports ${probe.cpu.cores} cores)` : ''}`,
      });
      (threads.pools as Map<number, ThreadPool>).set(n, await ThreadPool.start(shared, n));
    }
  }

  // --peers: every peer loaded (its part verified) before the first case, so one that cannot run is skipped with the reason.
  await readyPeers(plan, peersSource, counts, findVariant);

  // The user's native kernels (--kernels): their files are in this payload, verified with it.
  let external: ExternalKernels | undefined;
  if (plan.external) {
    const parsed = PlanExternal.safeParse(plan.external);
    if (!parsed.success) throw new Error(`the plan's external kernels are not valid (host and payload out of sync?): ${parsed.error.message}`);
    const payloadDir = dirname(fileURLToPath(import.meta.url));
    external = new ExternalKernels(parsed.data, { payloadDir, workRoot: join(process.cwd(), 'native-work', String(process.pid)), timerResolutionMs });
  }

  let ceilings = null;
  if (plan.measureCeilings) {
    emit({ type: 'phase', phase: 'ceilings', detail: 'measuring peak and bandwidth' });
    try {
      ceilings = await measureCeilings(kernels, { quick: plan.options.quick, cacheSizes: probe.cpu.cache });
      emit({ type: 'ceilings', measured: ceilings });
    } catch (e) {
      emit({ type: 'log', level: 'warn', message: `measuring the ceilings failed: ${String(e)}; continuing without a measured roofline` });
    }
    // The roofline at N threads: the same loops on N threads at once.
    for (const [n, pool] of threads.pools) {
      emit({ type: 'phase', phase: 'ceilings', detail: `measuring peak and bandwidth on ${n} threads` });
      try {
        emit({ type: 'ceilings', threads: n, measured: await measureThreadedCeilings(pool, { quick: plan.options.quick, cacheSizes: probe.cpu.cache }) });
      } catch (e) {
        emit({
          type: 'log',
          level: 'warn',
          message: `measuring the ceilings on ${n} threads failed: ${String(e)}; its results are drawn without a measured roofline`,
        });
      }
    }
    if (external) {
      emit({ type: 'phase', phase: 'ceilings', detail: 'measuring the native peak and bandwidth (kernels file probe)' });
      const native = await external.runCeilings();
      if (native?.ok) emit({ type: 'native-ceilings', measured: native.ceilings });
      else if (native) emit({ type: 'log', level: 'warn', message: `${native.error}\n(continuing without a native roofline)` });
    }
  }

  const total = plan.items.length;
  let suite = plan.items[0]?.caseSpec.suite;
  for (const [index, item] of plan.items.entries()) {
    // Health before and after each suite: the run's first and last snapshots cover the ends.
    if (item.caseSpec.suite !== suite) {
      emit({ type: 'health', health: healthSnapshot(`after suite ${suite}`, load.take()) });
      suite = item.caseSpec.suite;
      emit({ type: 'health', health: healthSnapshot(`before suite ${suite}`) });
    }
    emit({ type: 'case-start', caseId: item.caseSpec.id, index, total });
    if (plan.faults?.crashCase === item.caseSpec.id) {
      process.stderr.write(`test fault: crashing at ${item.caseSpec.id}\n`);
      process.exit(99);
    }
    if (plan.faults?.hangCase === item.caseSpec.id) {
      process.stderr.write(`test fault: hanging at ${item.caseSpec.id}\n`);
      for (;;) {
        /* a hung kernel: never returns, never yields */
      }
    }
    let results;
    load.caseStarted();
    try {
      const onPhase = (phase: string, detail?: string) => emit({ type: 'phase', phase, detail });
      const kit = kitOf(item.caseSpec.suite);
      results =
        kit && measuresItself(kit)
          ? // A kit whose variants run whole graphs measures the case itself (suites/kit.ts GraphKit): at every
            // count where it runs threaded (GraphKit.threads), else on one thread and skipped at the others.
            [
              ...(await kit.measure(item.caseSpec, item.variants, {
                ctx: { kernels },
                features,
                options: plan.options,
                ceilings,
                onPhase,
                resolveVariant: findVariant,
                probe,
                ...(item.weights ? { weights: item.weights } : {}),
                ...(plan.faults ? { faults: plan.faults } : {}),
                ...(kit.threads ? { threads } : {}),
              })),
              ...(kit.threads ? [] : notThreaded(item.caseSpec.id, item.variants, counts, probe.cpu.cores)),
            ]
          : await measureCase(item.caseSpec, item.variants, {
              ctx: { kernels },
              features,
              options: plan.options,
              ceilings,
              onPhase,
              resolveVariant: (suite, name) => asConvVariant(findVariant(suite, name)),
              slowdown: plan.faults?.slowdown,
              faults: plan.faults,
              threads,
              ...(external ? { external } : {}),
            });
    } catch (e) {
      // Inputs or reference failed: every variant of the case is errored, the run goes on.
      const error = e instanceof Error ? e.message : String(e);
      results = counts
        .flatMap((n) => item.variants.map((variant) => [n, variant] as const))
        .map(([n, variant]) =>
          erroredResult(
            {
              caseId: item.caseSpec.id,
              variant: threadedVariantName(variant, n),
              algorithm: findVariant(item.caseSpec.suite, variant)?.algorithm ?? 'unknown',
              dtype: findVariant(item.caseSpec.suite, variant)?.dtype ?? 'unknown',
            },
            'case',
            error,
          ),
        );
    } finally {
      kernels.reset();
      for (const pool of threads.pools.values()) pool.kernels.reset();
      load.caseFinished(item.caseSpec.id);
    }
    for (const result of results) emit({ type: 'result', result });
  }
  external?.cleanup();
  for (const pool of threads.pools.values()) await pool.close();
  emit({ type: 'health', health: healthSnapshot('after', load.take()) });
  emit({ type: 'done' });
}

/**
 * The run's WebAssembly peers (--peers), before the first case: the count each runs at is fixed and the
 * peers part verified (every file against the host's SHA-256, before anything in it is imported) and
 * loaded. A part that fails is said once here (which files, what to do); every peer result is then
 * `skipped` with the same reason. A copy the host uploaded into the work directory that fails its hashes
 * is moved aside, so the next run with --peers uploads it again.
 */
async function readyPeers(
  plan: Plan,
  src: PeersSource | null,
  counts: readonly number[],
  find: (suite: string, name: string) => AnyVariant | undefined,
): Promise<void> {
  const wanted = (plan.extraVariants ?? []).flatMap((e) => (e.kind === 'peer' ? [e] : []));
  if (wanted.length === 0) return;
  emit({ type: 'phase', phase: 'peers', detail: `verifying and loading the WebAssembly peers (${[...new Set(wanted.map((e) => e.peer))].join(', ')})` });
  const load = await loadPeers(src);
  if (!load.ok) {
    let moved = '';
    if (load.mismatched && src && plan.peers?.uploaded) {
      // Beside it, under the name the host's next upload clears (harness/transport/peers-upload.ts).
      const aside = join(dirname(src.dir), `.damaged-${basename(src.dir)}-${process.pid}`);
      try {
        renameSync(src.dir, aside);
        moved = `; moved aside to ${aside}: the next run with --peers uploads it again`;
      } catch (e) {
        moved = `; could not move it aside (${errText(e)}): delete ${src.dir} on the device`;
      }
    }
    emit({ type: 'log', level: 'warn', message: `the WebAssembly peers are skipped in this run: ${load.reason}${moved}` });
  }
  for (const e of wanted) {
    const name = (e.suite === 'models' ? MODEL_PEER_NAMES : PEER_VARIANT_NAMES)[e.peer];
    const v = find(e.suite, name);
    const peer = v && peerOf(v);
    if (!peer) throw new Error(`the plan asks for the peer ${name}, which this payload does not build (host and payload out of sync?)`);
    let ok: true | string;
    try {
      ok = await peer.ready(counts);
    } catch (e) {
      ok = `loading it failed: ${errText(e)}`;
    }
    if (ok !== true && load.ok) emit({ type: 'log', level: 'warn', message: `${name}: skipped in this run: ${ok}` });
  }
}

const errText = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** A whole-network kit's variants at the counts > 1: skipped with the reason (they run on one thread). */
function notThreaded(caseId: string, variants: string[], counts: readonly number[], cores: number) {
  return counts
    .filter((n) => n > 1)
    .flatMap((n) =>
      variants.map((v) => ({
        caseId,
        variant: threadedVariantName(v, n),
        algorithm: 'network',
        dtype: 'unknown',
        ...threadFields(n, cores),
        cost: { flops: 0, bytes: 0, intensity: 0 },
        state: 'skipped' as const,
        reason: `not run on ${n} threads: the ${suiteOfCase(caseId)} suite's whole-graph variants run on one thread (not threaded yet)`,
      })),
    );
}

main()
  .catch((e: unknown) => {
    const msg = e instanceof Error ? `${e.message}${e.cause ? `: ${String(e.cause)}` : ''}` : String(e);
    emit({ type: 'fatal', error: msg });
    process.stderr.write(`${e instanceof Error && e.stack ? e.stack : msg}\n`);
    process.exitCode = 1;
  })
  .finally(() => {
    // Finished: stop listening to the host's input, so the process can end.
    process.stdin.removeAllListeners('end');
    process.stdin.destroy();
  });
