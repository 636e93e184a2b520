/** One device, one run: plan -> payload -> transport -> runner events -> results.json -> report. */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Plan, RunOptions, RunResults } from '../core/contracts.js';
import type { Device } from './devices.js';
import { theoreticalCeilings } from './devices.js';
import { buildPayload, ROOT, type Payload } from './payload.js';
import { RunWriter } from './results.js';
import { Progress } from './progress.js';
import { LocalTransport, localWorkDir } from './transport/local.js';
import { LOCK_HELD_EXIT, SshTransport } from './transport/ssh.js';
import type { Transport } from './transport/types.js';
import { makeResolver } from '../suites/variants.js';
import { renderReport } from './report/render.js';
import { memorySkips, type DeviceMemory } from './device-memory.js';

export function harnessInfo(): RunResults['harness'] {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  let gitCommit: string | null = null;
  let gitDirty: boolean | null = null;
  if (existsSync(join(ROOT, '.git'))) {
    try {
      gitCommit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
      gitDirty =
        execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
          .length > 0;
    } catch {
      /* not a git checkout with commits yet */
    }
  }
  return { version: pkg.version, gitCommit, gitDirty };
}

export function newRunId(d = new Date()): string {
  return d
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/:/g, '-');
}

export interface BenchTransportOptions {
  /** Seconds without an event before a case counts as hung (default 600). */
  caseTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Deadline of each remote step before the run (Node probe, disk check, upload of one file). */
  stepTimeoutMs?: number;
  waitForLock?: boolean;
  /** Ship Debian's Node 18 to an ssh device whose Node is missing or older than 18. */
  shipNode?: boolean;
  log?: (msg: string) => void;
}

export function transportFor(device: Device, opts: BenchTransportOptions = {}): Transport {
  if (device.transport === 'local') {
    // `node` on the local device means the Node running roofbench itself.
    const node = device.node.length === 1 && device.node[0] === 'node' ? [process.execPath] : device.node;
    return new LocalTransport(node, {
      inactivityTimeoutMs: opts.caseTimeoutMs,
      device: device.name,
      workDir: localWorkDir(device),
      waitForLock: opts.waitForLock,
      log: opts.log,
    });
  }
  return new SshTransport(device, {
    inactivityTimeoutMs: opts.caseTimeoutMs,
    connectTimeoutMs: opts.connectTimeoutMs,
    stepTimeoutMs: opts.stepTimeoutMs,
    waitForLock: opts.waitForLock,
    shipNode: opts.shipNode,
    log: opts.log,
  });
}

/**
 * The device's lock is held by another run (and --wait was not given, or gave up) before anything ran: the
 * run is refused, not stored as a run of errors. The message names the holder and says what to do (--wait).
 */
export class DeviceBusyError extends Error {
  override name = 'DeviceBusyError';
  constructor(
    readonly device: string,
    message: string,
  ) {
    super(message);
  }
}

export interface DeviceRunResult {
  device: string;
  dir: string;
  run: RunResults;
  reportPath: string;
}

export async function runOnDevice(args: {
  device: Device;
  plan: Plan;
  dir: string;
  progress: Progress;
  payload?: Payload;
  transport?: BenchTransportOptions;
  /** Stop the run (its reason names the signal): what finished is kept, the run is marked interrupted. */
  abort?: AbortSignal;
  /** Called with the run's writer as soon as it exists (to close it if the process must exit at once). */
  onWriter?: (writer: RunWriter) => void;
  /** What the host knows of the device's memory (harness/device-memory.ts): cases it cannot hold are skipped here, never shipped. */
  memory?: DeviceMemory | null;
}): Promise<DeviceRunResult> {
  const { device, plan, dir, progress, abort } = args;
  const payload = args.payload ?? (await buildPayload({ log: (m) => progress.info(m) }));
  // Built once: a parametrised variant (Winograd on given points) is generated and verified in exact arithmetic.
  const resolve = makeResolver(plan.extraVariants);
  const variantInfo = (suite: string, name: string) => {
    const e = plan.external?.kernels.find((k) => k.spec.name === name);
    if (e) return { algorithm: e.spec.algorithm, dtype: e.spec.dtype };
    const v = resolve(suite, name);
    return { algorithm: v?.algorithm ?? 'unknown', dtype: v?.dtype ?? 'unknown' };
  };
  const writer = new RunWriter(
    dir,
    plan,
    {
      harness: harnessInfo(),
      payloadHash: payload.hash,
      device: { name: device.name, profile: device.profileName, transport: device.transport, emulated: device.emulated },
      theoretical: device.profile ? theoreticalCeilings(device.profile) : null,
    },
    variantInfo,
  );
  args.onWriter?.(writer);
  let failure: string | null = null;
  let busy: string | null = null;
  let interrupted = false;
  const transport = transportFor(device, { ...args.transport, log: (m) => progress.info(m) });
  let current: Plan = plan;
  // The memory check on the host: a case the device cannot hold is skipped with the reason and never shipped.
  const skips = args.memory ? memorySkips(plan, args.memory, variantInfo) : [];
  if (skips.length) {
    for (const s of skips) {
      progress.info(`${s.caseId}: skipped before shipping: ${s.results[0]?.state === 'skipped' ? s.results[0].reason : ''}`);
      for (const result of s.results) writer.apply({ type: 'result', result });
    }
    const skipped = new Set(skips.map((s) => s.caseId));
    current = { ...plan, items: plan.items.filter((i) => !skipped.has(i.caseSpec.id)) };
  }
  try {
    // A hung case costs only itself: the runner is killed, the case is marked, and a
    // fresh runner carries on with what is left of the plan.
    for (let attempt = 0; ; attempt++) {
      let sawDone = false;
      let events = 0;
      const outcome = await transport.run(payload, current, {
        onEvent: (e) => {
          events++;
          if (e.type === 'done') sawDone = true;
          const result = writer.apply(e);
          progress.event(e, result);
        },
        onStderr: (line) => writer.stderr(line),
        onLockWait: (ms) => {
          writer.run.lockWaitMs = Math.round(ms);
          progress.lockWaited(ms);
        },
        ...(abort ? { abort } : {}),
      });
      failure = outcome.failure ?? (sawDone ? null : 'the runner stopped before it finished the plan');
      // Another run holds the device: refused before anything ran (nothing to keep, so no run, report or history).
      if (attempt === 0 && events === 0 && outcome.exitCode === LOCK_HELD_EXIT && !outcome.interrupted) {
        busy = failure;
        break;
      }
      if (outcome.interrupted || abort?.aborted) {
        interrupted = !sawDone;
        if (sawDone) failure = null;
        break;
      }
      if (!outcome.hungCase || attempt >= 5) break;
      writer.markCase(outcome.hungCase, outcome.failure ?? 'hung');
      const missing = new Set(writer.missing().map((m) => m.caseId));
      const rest = current.items.filter((i) => missing.has(i.caseSpec.id));
      if (rest.length === 0) {
        // Every planned pair has a result now: the run finished, with the hung case errored.
        failure = null;
        break;
      }
      progress.info(`case ${outcome.hungCase} hung; restarting the runner for the ${rest.length} remaining case(s)`);
      current = { ...plan, items: rest, measureCeilings: false };
      failure = null;
    }
  } catch (e) {
    failure = e instanceof Error ? e.message : String(e);
  } finally {
    progress.stop();
  }
  if (busy !== null) {
    writer.discard();
    throw new DeviceBusyError(device.name, busy);
  }
  if (transport instanceof SshTransport) {
    writer.run.device.uploadedBytes = transport.totalUploadBytes;
    if (transport.node) writer.run.device.node = transport.node;
  }
  const run = interrupted ? writer.finish(failure, typeof abort?.reason === 'string' ? abort.reason : 'a signal') : writer.finish(failure);
  const reportPath = await renderReport(run, dir);
  return { device: device.name, dir, run, reportPath };
}

export function defaultRunOptions(quick: boolean): RunOptions {
  return {
    quick,
    suites: [],
    filter: null,
    distribution: 'uniform(-1,1)',
    targetMs: quick ? 150 : 1000,
    // 8 samples are the fewest whose order-statistic interval of the median reaches 99%; --quick's 5 reach 93.75%.
    minSamples: quick ? 5 : 8,
    maxSamples: 500,
    minSampleMs: quick ? 2 : 5,
    cvTarget: 0.05,
    rounds: quick ? 3 : 5,
    threads: [1],
  };
}
