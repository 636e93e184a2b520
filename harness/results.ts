/**
 * The stored run: reports/<device>/<run-id>/results.json, written after every
 * event that changes it (atomically: temp file + rename), so a crash keeps
 * everything measured so far. The raw event stream goes to events.jsonl.
 */
import { appendFileSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  erroredResult,
  isTimed,
  NO_COST,
  resolveThreadCounts,
  resultThreads,
  threadedVariantName,
  READABLE_SCHEMA_VERSIONS,
  RunResults,
  SCHEMA_VERSION,
  type CaseResult,
  type MeasuredCeilings,
  type Plan,
  type RunnerEvent,
  type TheoreticalCeilings,
} from '../core/contracts.js';
import { computePerf } from '../core/roofline.js';
import { applyBudget } from './budget.js';
import { runContention } from './contention.js';

export const RESULTS_FILE = 'results.json';
const MAX_STDERR_LINES = 2000;

export interface RunMeta {
  harness: RunResults['harness'];
  payloadHash: string;
  device: RunResults['device'];
  theoretical: TheoreticalCeilings | null;
}

/** How the reason (or error) of a pair the run never reached begins (the terminal summary lists these apart). */
export const NOT_MEASURED = 'not measured: ';

export class RunWriter {
  readonly run: RunResults;
  /** The planned pairs at one thread; `expected` adds the other thread counts of `--threads`. */
  private readonly planned: { caseId: string; variant: string; algorithm: string; dtype: string }[];

  constructor(
    readonly dir: string,
    plan: Plan,
    meta: RunMeta,
    variantInfo: (suite: string, name: string) => { algorithm: string; dtype: string },
  ) {
    mkdirSync(dir, { recursive: true });
    this.run = {
      schemaVersion: SCHEMA_VERSION,
      runId: plan.runId,
      startedAt: new Date().toISOString(),
      finishedAt: null,
      status: 'running',
      harness: meta.harness,
      payloadHash: meta.payloadHash,
      device: meta.device,
      options: plan.options,
      probe: null,
      health: [],
      ceilings: { measured: null, theoretical: meta.theoretical },
      cases: plan.items.map((i) => i.caseSpec),
      results: [],
      stderr: [],
    };
    this.planned = plan.items.flatMap((i) => i.variants.map((variant) => ({ caseId: i.caseSpec.id, variant, ...variantInfo(i.caseSpec.suite, variant) })));
    this.save();
  }

  /** Every planned pair at every thread count (`all` counts once the device's probe said its cores). */
  private get expected(): { caseId: string; variant: string; algorithm: string; dtype: string; threads: number }[] {
    const counts = resolveThreadCounts(this.run.options.threads, this.run.probe?.cpu.cores ?? null);
    return counts.flatMap((threads) => this.planned.map((p) => ({ ...p, variant: threadedVariantName(p.variant, threads), threads })));
  }

  /** The measured ceilings a result at `threads` threads is drawn against: the single-thread ones, or those measured on as many threads. */
  private measuredAt(threads: number): MeasuredCeilings | null {
    if (threads === 1) return this.run.ceilings.measured;
    return this.run.ceilings.threaded?.find((t) => t.threads === threads)?.measured ?? null;
  }

  /**
   * The device's theoretical ceilings for `threads` threads. A profile's peaks are the whole chip's (all its
   * cores, docs/devices.md): a run on N threads can reach N / cores of them (never more than all); DRAM
   * bandwidth is shared and does not scale. Unscaled while the device's core count is unknown.
   */
  private theoreticalAt(threads: number): TheoreticalCeilings | null {
    const t = this.run.ceilings.theoretical;
    const cores = this.run.probe?.cpu.cores;
    if (!t || !cores) return t;
    const used = Math.min(threads, cores);
    if (used === cores) return t;
    const peakGflops = Object.fromEntries(Object.entries(t.peakGflops).map(([k, v]) => [k, (v * used) / cores]));
    return { ...t, source: `${t.source}; ${used} of its ${cores} cores`, peakGflops };
  }

  get file(): string {
    return join(this.dir, RESULTS_FILE);
  }

  /** Apply one runner event; returns the result it carried, if any. */
  apply(e: RunnerEvent): CaseResult | null {
    appendFileSync(join(this.dir, 'events.jsonl'), `${JSON.stringify(e)}\n`);
    let result: CaseResult | null = null;
    switch (e.type) {
      case 'probe':
        this.run.probe = e.probe;
        break;
      case 'health':
        this.run.health.push(e.health);
        break;
      case 'ceilings':
        if (e.threads === undefined) this.run.ceilings.measured = e.measured;
        else
          this.run.ceilings.threaded = [
            ...(this.run.ceilings.threaded ?? []).filter((t) => t.threads !== e.threads),
            { threads: e.threads, measured: e.measured },
          ];
        break;
      case 'native-ceilings':
        this.run.ceilings.native = e.measured;
        break;
      case 'result': {
        // Every stored result says its thread count (a runner before schema 3 wrote none: one thread).
        result = { ...e.result, threads: resultThreads(e.result) };
        const threads = resultThreads(result);
        if (isTimed(result) && this.run.device.emulated) {
          // An emulator's timings say nothing about the hardware: no roofline percentages.
          result = { ...result, perf: computePerf(result.cost, result.timing.stats.median, null, null, result.dtype) };
        } else if (isTimed(result)) {
          // The host knows the device's theoretical ceilings; the runner only its measured ones.
          result = {
            ...result,
            perf: computePerf(
              result.cost,
              result.timing.stats.median,
              this.measuredAt(threads),
              this.theoreticalAt(threads),
              result.dtype,
              // A native kernel is also placed under the native roof its kernels file's probe measured.
              result.external !== undefined ? (this.run.ceilings.native ?? null) : null,
            ),
          };
        }
        result = applyBudget(result, this.run.options.budgets);
        this.run.results.push(result);
        break;
      }
      case 'fatal':
        this.run.statusDetail = `runner failed: ${e.error}`;
        break;
      case 'payload':
        // The bootstrap on the device checked every payload file before loading the runner.
        if (e.verified) {
          // The payload that ran: with native kernels (--kernels), the one built for the device's architecture.
          this.run.payloadHash = e.hash;
          this.run.device.payloadVerified = { hash: e.hash, where: 'device', files: e.files, repaired: [...new Set(this.payloadMismatches)] };
        } else {
          this.payloadMismatches.push(...(e.mismatched ?? []));
          this.stderr(`payload ${e.hash} on the device did not match its hashes: ${(e.mismatched ?? []).join(', ')}`);
        }
        break;
      case 'log':
        this.stderr(`[${e.level}] ${e.message}`);
        break;
      default:
        return null;
    }
    this.save();
    return result;
  }

  stderr(line: string): void {
    if (this.run.stderr.length < MAX_STDERR_LINES) this.run.stderr.push(line);
    else if (this.run.stderr.length === MAX_STDERR_LINES) this.run.stderr.push('[further stderr lines dropped]');
  }

  /** Planned (case, variant) pairs that have no result yet. */
  missing(): { caseId: string; variant: string; algorithm: string; dtype: string }[] {
    const have = new Set(this.run.results.map((r) => `${r.caseId}\0${r.variant}`));
    return this.expected.filter((x) => !have.has(`${x.caseId}\0${x.variant}`));
  }

  /** Mark every planned pair of one case that has no result yet as errored (e.g. the case hung). */
  markCase(caseId: string, cause: string): void {
    for (const m of this.missing().filter((x) => x.caseId === caseId)) {
      this.run.results.push(erroredResult(m, 'timeout', cause));
    }
    this.hadFailure = [this.hadFailure, cause].filter(Boolean).join('; ');
    this.save();
  }

  private hadFailure = '';
  private payloadMismatches: string[] = [];
  /** finish() was called: the run's status is final. */
  finished = false;

  /**
   * Close the run. `failure` (null when the runner said done) marks the run
   * incomplete and every planned pair without a result `errored` with the cause.
   * `interruptedBy` (a signal name) marks it `interrupted`: the user stopped it;
   * pairs without a result are `skipped` (not measured), not errors.
   */
  finish(failure: string | null, interruptedBy?: string): RunResults {
    this.finished = true;
    const missing = this.missing();
    if (interruptedBy !== undefined) {
      const total = this.expected.length;
      const measured = total - missing.length;
      for (const m of missing) {
        this.run.results.push({ ...m, cost: { ...NO_COST }, state: 'skipped', reason: `${NOT_MEASURED}the run was interrupted (${interruptedBy})` });
      }
      this.run.status = 'interrupted';
      // What the run was doing when it was stopped (e.g. waiting for the lock), when the transport said.
      const doing = failure && !/^interrupted( by \S+)?$/.test(failure) ? failure : '';
      this.run.statusDetail = [`interrupted by ${interruptedBy} after ${measured} of ${total} results`, doing, this.hadFailure, this.run.statusDetail]
        .filter(Boolean)
        .join('; ');
    } else if (failure === null && missing.length === 0 && this.hadFailure) {
      // Every pair has a result, but some case hung on the way: the run finished, with errors.
      this.run.status = 'complete';
      this.run.statusDetail = this.hadFailure;
    } else if (failure !== null || missing.length > 0) {
      const cause = failure ?? 'the runner finished without reporting this result';
      for (const m of missing) {
        this.run.results.push(erroredResult(m, 'transport', `${NOT_MEASURED}${cause}`));
      }
      this.run.status = 'incomplete';
      this.run.statusDetail = [this.run.statusDetail, cause].filter(Boolean).join('; ');
    } else {
      this.run.status = 'complete';
    }
    this.run.contention = runContention(this.run);
    this.run.finishedAt = new Date().toISOString();
    this.save();
    return this.run;
  }

  /**
   * Nothing ran (the device was busy): the run is not kept. Its results.json is removed (the directory is the
   * caller's), and it is marked finished so that no later exit writes it back.
   */
  discard(): void {
    this.finished = true;
    this.discarded = true;
    rmSync(this.file, { force: true });
    rmSync(`${this.file}.tmp`, { force: true });
  }

  /** discard() was called: nothing of the run is written any more. */
  private discarded = false;

  save(): void {
    if (this.discarded) return;
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(this.run, null, 1)}\n`);
    renameSync(tmp, this.file);
  }
}

/** Read and validate a stored run. */
export function readRun(dirOrFile: string): RunResults {
  const file = dirOrFile.endsWith('.json') ? dirOrFile : join(dirOrFile, RESULTS_FILE);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new Error(`cannot read ${file}: is this a roofbench run directory?`, { cause });
  }
  const v = (json as { schemaVersion?: unknown }).schemaVersion;
  if (typeof v !== 'number' || !READABLE_SCHEMA_VERSIONS.includes(v)) {
    const newer = typeof v === 'number' && v > SCHEMA_VERSION;
    throw new Error(
      `${file} has schema version ${String(v)}; this roofbench reads versions ${READABLE_SCHEMA_VERSIONS.slice(0, -1).join(', ')} and ${READABLE_SCHEMA_VERSIONS.at(-1)} ` +
        `(older ones are migrated on load)${newer ? ': update roofbench to read it' : ''}`,
    );
  }
  // RunResults migrates an older version to the current one on the way in (core/contracts.ts migrateRunJson).
  const parsed = RunResults.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues.slice(0, 5).map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`${file} does not match the results schema:\n${first.join('\n')}`);
  }
  return parsed.data;
}
