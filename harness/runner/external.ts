/**
 * Runs ON the device: a user's native kernel for one case (the external-kernel
 * protocol, docs/native-kernels.md).
 *
 * Per case: a fresh work directory with x.npy, w.npy (float32, C order, numpy's
 * .npy 1.0) and case.json (shape, parameters, timing protocol); the command,
 * once, without a shell, its current directory the work directory; then the
 * checks: it exited 0 within the time allowed, wrote out.npy of the expected
 * shape and dtype, and printed its per-repeat timings as JSON (Google
 * Benchmark's schema, the subset below) that follow the protocol and fit inside
 * the wall time of the whole invocation, which the harness measures itself.
 * Anything else is an `errored` result naming the variant, where it is declared
 * and the cause, with the tail of the command's stderr. The accuracy checks
 * against float64 and the statistics are the runner's (as for built-in variants).
 *
 * Timings JSON (Google Benchmark's --benchmark_format=json, the part read here):
 *   { "benchmarks": [ { "name": "...", "run_type": "iteration", "iterations": 37,
 *                       "real_time": 1.84, "cpu_time": 1.83, "time_unit": "ms" }, ... ] }
 * one "iteration" entry per repeat (real_time: mean time of one run of the
 * repeat, in time_unit: ns, us, ms or s; iterations: the repeat's `number`);
 * "aggregate" entries (mean, median, stddev ...) and any other field are ignored;
 * an entry with "error_occurred": true makes the result errored with its error_message.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import {
  erroredResult,
  MeasuredCeilings,
  type CaseResult,
  type CaseSpec,
  type Cost,
  type ErrorPhase,
  type NativeCeilings,
  type RunOptions,
} from '../../core/contracts.js';
import {
  caseFile,
  expandArgv,
  externalApplies,
  nativeArch,
  type ExternalCommandSpec,
  type ExternalVariantSpec,
  type PayloadFiles,
  type Placeholder,
  type PlanExternal,
  type TimingProtocol,
} from '../../core/external.js';
import { decodeNpy, encodeNpy } from '../../core/npy.js';
import { convBytes, convFlops } from '../../reference/cost.js';
import { errorMetrics } from '../../reference/metrics.js';
import { checksumF32 } from '../../reference/checksum.js';
import { computeStatistics, isNoisy } from '../../core/stats.js';
import { computePerf } from '../../core/roofline.js';
import { accuracyChecks, accuracyRecord } from './measure.js';

/** Where the uploaded files are on the device (absolute paths); which are set depends on the spec's `files`. */
export interface DevicePaths {
  /** files: binary: this device's build. */
  binary?: string;
  /** files: dir: the uploaded directory, and the script in it (when declared). */
  dir?: string;
  script?: string;
}

export interface ExternalCaseInput {
  spec: ExternalVariantSpec;
  paths: DevicePaths;
  caseSpec: Pick<CaseSpec, 'id' | 'shape'>;
  /** The inputs (NCHW) and weights (KCRS), as the runner made them for the reference. */
  x: Float32Array;
  w: Float32Array;
  timing: TimingProtocol;
  /** Directory for the work directories (one per variant, emptied before each case). */
  workRoot: string;
  /** The command is killed after this long (the run's --case-timeout, less a margin). */
  timeoutMs: number;
  /** `process.arch` of the device's Node (the default); to pick the binary. */
  processArch?: string;
  /**
   * What runs the binary, when the device's Node runs under an emulator (qemu-user: the
   * ROOFBENCH_EMULATION its wrapper exports, e.g. `qemu-arm-static -cpu cortex-a7`), so the
   * kernel runs on the same emulated CPU; empty natively.
   */
  launcher?: readonly string[];
  /** The machine's cores, for the plausibility bound of the reported speed (default: os.cpus()). */
  cores?: number;
  /** The native roof this run measured (the kernels file's ceilings probe), GFLOP/s, where there is one. */
  nativePeakGflops?: number;
}

/** One repeat as the command reported it. */
export interface Repeat {
  /** Runs timed together (the repeat's `number`). */
  iterations: number;
  /** Mean time of one run, ms. */
  realMs: number;
  cpuMs?: number;
}

export interface ExternalMeasured {
  state: 'measured';
  caseId: string;
  variant: string;
  cost: Cost;
  /** The output, NKHW (the reference's layout). */
  output: Float32Array;
  repeats: Repeat[];
  /** Wall time of the whole invocation (start to exit), measured by the harness, ms. */
  wallMs: number;
  /** Sum of iterations x real_time over the repeats, ms: the kernel time the command reports. */
  reportedMs: number;
  stderrTail: string;
  workDir: string;
}

export type ExternalOutcome = ExternalMeasured | Extract<CaseResult, { state: 'errored' | 'skipped' }>;

/** Lines of stderr kept in an error message. */
const STDERR_LINES = 20;
const STDERR_KEEP_BYTES = 64 * 1024;
/** stdout beyond this is not read (a timings document is a few KiB). */
const MAX_STDOUT_BYTES = 4 * 1024 * 1024;
/**
 * The most any CPU core does per second, by dtype: 64 f32 FLOP per cycle (two 512-bit FMA units) at 6 GHz; int8
 * dot-product units 4x that, fp16 2x. A native kernel reporting more than the machine's cores can do (or 4x its own
 * measured roof, when that is higher: an accelerator) reports impossible timings.
 */
const CORE_GFLOPS = 64 * 6;
const DTYPE_FACTOR: Record<string, number> = { i8: 4, u8: 4, f16: 2 };
export function plausibleGflops(dtype: string, cores: number, nativePeakGflops?: number): number {
  return Math.max(cores * CORE_GFLOPS * (DTYPE_FACTOR[dtype] ?? 1), 4 * (nativePeakGflops ?? 0));
}

/** Reported kernel time may exceed the wall time by clock granularity only. */
const WALL_SLACK = { ratio: 1.001, ms: 0.5 };
/** A repeat may fall short of minRepeatMs by the rounding of the printed figures only. */
const REPEAT_SLACK = 0.99;

// ---------------------------------------------------------------------------
// Running a command
// ---------------------------------------------------------------------------

export interface CommandRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** The command could not be started (e.g. ENOENT). */
  spawnError: Error | null;
  stdout: string;
  stdoutTruncated: boolean;
  stderrTail: string;
  wallMs: number;
}

/** Process groups of the commands running now: killed if the runner exits first. */
const running = new Set<number>();
let exitHook = false;
function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

/**
 * Runs argv (no shell) in its own process group, with a time limit; collects
 * stdout (up to MAX_STDOUT_BYTES) and the tail of stderr; measures the wall
 * time from start to exit. When the command exits, whatever it left running
 * in its group is killed (a kernel must not leave work behind that would load
 * the next measurement).
 */
export function runCommand(argv: readonly string[], opts: { cwd: string; env: Record<string, string>; timeoutMs: number }): Promise<CommandRun> {
  const [cmd, ...args] = argv;
  if (!cmd) throw new Error('runCommand: empty argv');
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => running.forEach(killGroup));
  }
  return new Promise((resolve) => {
    const t0 = performance.now();
    let wallMs = 0;
    let timedOut = false;
    let spawnError: Error | null = null;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    const out: Buffer[] = [];
    let outBytes = 0;
    let stdoutTruncated = false;
    let err = Buffer.alloc(0);
    const child = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const pid = child.pid;
    if (pid !== undefined) running.add(pid);
    const timer = setTimeout(() => {
      timedOut = true;
      if (pid !== undefined) killGroup(pid);
    }, opts.timeoutMs);
    child.stdout.on('data', (c: Buffer) => {
      if (outBytes + c.length > MAX_STDOUT_BYTES) {
        stdoutTruncated = true;
        c = c.subarray(0, Math.max(0, MAX_STDOUT_BYTES - outBytes));
      }
      outBytes += c.length;
      if (c.length > 0) out.push(c);
    });
    child.stderr.on('data', (c: Buffer) => {
      err = Buffer.concat([err, c]);
      if (err.length > STDERR_KEEP_BYTES) err = err.subarray(err.length - STDERR_KEEP_BYTES);
    });
    child.on('error', (e) => {
      spawnError = e;
    });
    child.on('exit', (code, signal) => {
      wallMs = performance.now() - t0;
      exit = { code, signal };
      // Anything it started and left behind.
      if (pid !== undefined) killGroup(pid);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (pid !== undefined) running.delete(pid);
      if (exit === null) wallMs = performance.now() - t0;
      resolve({
        code: exit?.code ?? code,
        signal: exit?.signal ?? signal,
        timedOut,
        spawnError,
        stdout: Buffer.concat(out).toString('utf8'),
        stdoutTruncated,
        stderrTail: tail(err.toString('utf8')),
        wallMs,
      });
    });
  });
}

/** The last STDERR_LINES lines of a text (without the final newline). */
function tail(text: string): string {
  const lines = text.replace(/\s+$/, '').split('\n');
  const kept = lines.slice(-STDERR_LINES).join('\n');
  return lines.length > STDERR_LINES ? `[... ${lines.length - STDERR_LINES} earlier lines]\n${kept}` : kept;
}

/** argv with the emulator in front when it starts with the uploaded binary (a script's interpreter is the device's own). */
function launched(argv: string[], binary: string | undefined, launcher: readonly string[] | undefined): string[] {
  return launcher && launcher.length > 0 && binary !== undefined && argv[0] === binary ? [...launcher, ...argv] : argv;
}

/** Why a finished command failed (non-zero exit, signal, timeout, could not start), or null if it exited 0. */
function exitProblem(r: CommandRun, argv0: string, timeoutMs: number): string | null {
  if (r.spawnError) {
    const code = (r.spawnError as NodeJS.ErrnoException).code;
    const hint = code === 'ENOENT' ? ' (no such program: check files: and command:)' : code === 'EACCES' ? ' (not executable)' : '';
    return `could not start ${argv0}: ${r.spawnError.message}${hint}`;
  }
  if (r.timedOut)
    return `did not finish within ${(timeoutMs / 1000).toFixed(timeoutMs < 10_000 ? 1 : 0)} s and was killed (hung, or slower than --case-timeout allows)`;
  if (r.signal) return `crashed: killed by ${r.signal}${r.signal === 'SIGSEGV' ? ' (a segmentation fault)' : ''}`;
  if (r.code !== 0) return `exited with code ${r.code}`;
  return null;
}

// ---------------------------------------------------------------------------
// The timings JSON
// ---------------------------------------------------------------------------

const UNIT_MS = { ns: 1e-6, us: 1e-3, ms: 1, s: 1e3 } as const;

const Benchmark = z.object({
  name: z.string().optional(),
  run_type: z.string().optional(),
  error_occurred: z.boolean().optional(),
  error_message: z.string().optional(),
  iterations: z.number().int().positive(),
  real_time: z.number().positive(),
  cpu_time: z.number().nonnegative().optional(),
  time_unit: z.enum(['ns', 'us', 'ms', 's']),
});

/**
 * The repeats in a timings document, checked against the protocol (count, each
 * repeat at least minRepeatMs). Returns them, or the problem, saying what the
 * protocol wants.
 */
export function parseTimings(stdout: string, timing: TimingProtocol): { repeats: Repeat[] } | { problem: string } {
  const text = stdout.trim();
  const example = '{"benchmarks": [{"run_type": "iteration", "iterations": N, "real_time": T, "time_unit": "ms"}, ...]}';
  if (text === '') return { problem: `printed no timings on stdout: print them as JSON, e.g. ${example}, one entry per repeat` };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    const shown = text.length > 120 ? `${text.slice(0, 117)}...` : text;
    return {
      problem: `stdout is not JSON (${(e as Error).message}): ${JSON.stringify(shown)}; print only the timings JSON on stdout (diagnostics go to stderr)`,
    };
  }
  const list = typeof doc === 'object' && doc !== null ? (doc as { benchmarks?: unknown }).benchmarks : undefined;
  if (!Array.isArray(list)) return { problem: `the timings JSON has no "benchmarks" list (Google Benchmark's schema: ${example})` };
  const failed = list.find((b) => typeof b === 'object' && b !== null && (b as { error_occurred?: unknown }).error_occurred === true) as
    { error_message?: unknown } | undefined;
  if (failed) return { problem: `reported an error: ${String(failed.error_message ?? '(no error_message)')}` };
  const iterations = list.filter((b) => !(typeof b === 'object' && b !== null && (b as { run_type?: unknown }).run_type === 'aggregate'));
  const repeats: Repeat[] = [];
  const names = new Set<string>();
  for (const [i, b] of iterations.entries()) {
    const r = Benchmark.safeParse(b);
    if (!r.success) {
      const issue = r.error.issues[0];
      return {
        problem: `timings entry ${i}: ${issue ? `${issue.path.join('.') || 'entry'}: ${issue.message}` : 'invalid'} (each repeat needs iterations >= 1, real_time > 0 and time_unit ns, us, ms or s)`,
      };
    }
    if (r.data.name !== undefined) names.add(r.data.name);
    const unit = UNIT_MS[r.data.time_unit];
    repeats.push({
      iterations: r.data.iterations,
      realMs: r.data.real_time * unit,
      ...(r.data.cpu_time !== undefined ? { cpuMs: r.data.cpu_time * unit } : {}),
    });
  }
  if (names.size > 1)
    return { problem: `the timings hold ${names.size} different benchmarks (${[...names].slice(0, 3).join(', ')}): print only this case's repeats` };
  if (repeats.length !== timing.repeat) {
    return { problem: `reported ${repeats.length} repeat${repeats.length === 1 ? '' : 's'}; case.json asked for timing.repeat = ${timing.repeat}` };
  }
  for (const [i, r] of repeats.entries()) {
    const ms = r.iterations * r.realMs;
    if (ms < timing.minRepeatMs * REPEAT_SLACK) {
      return {
        problem:
          `repeat ${i} lasted ${ms.toPrecision(3)} ms (iterations ${r.iterations} x real_time), less than timing.minRepeatMs = ${timing.minRepeatMs} ms: ` +
          'a repeat that ends sooner must be redone with a larger number (see timing in case.json)',
      };
    }
  }
  return { repeats };
}

// ---------------------------------------------------------------------------
// One case
// ---------------------------------------------------------------------------

function shapeText(s: readonly number[]): string {
  return `(${s.join(', ')}${s.length === 1 ? ',' : ''})`;
}

/** Reads and checks out.npy; returns its data or the problem. */
function readOutput(file: string, expected: readonly number[]): { data: Float32Array } | { problem: string } {
  if (!existsSync(file)) return { problem: `wrote no out.npy (expected ${file})` };
  let a;
  try {
    a = decodeNpy(new Uint8Array(readFileSync(file)), 'out.npy');
  } catch (e) {
    return { problem: (e as Error).message };
  }
  if (a.dtype !== 'float32') return { problem: `out.npy holds ${a.dtype} ('${a.descr}'); the protocol wants float32 ('<f4')` };
  if (a.fortranOrder) return { problem: 'out.npy is in Fortran order; write it in C order (fortran_order: False)' };
  if (a.shape.length !== expected.length || a.shape.some((d, i) => d !== expected[i])) {
    return { problem: `out.npy has shape ${shapeText(a.shape)}; expected ${shapeText(expected)} (n, k, ho, wo)` };
  }
  return { data: a.data as Float32Array };
}

/**
 * Runs an external variant on one case and checks what it hands back. Never
 * throws for anything the command does: every failure is a result.
 */
export async function runExternalCase(input: ExternalCaseInput): Promise<ExternalOutcome> {
  const { spec, caseSpec, timing } = input;
  const cost: Cost = (() => {
    try {
      const flops = convFlops(caseSpec.shape);
      const bytes = convBytes(caseSpec.shape);
      return { flops, bytes, intensity: flops / bytes };
    } catch {
      return { flops: 0, bytes: 0, intensity: 0 };
    }
  })();
  const base = { caseId: caseSpec.id, variant: spec.name, algorithm: spec.algorithm, dtype: spec.dtype, cost };
  const who = `${spec.name} (${spec.source})`;
  const errored = (phase: ErrorPhase, cause: string, stderrTail = ''): ExternalOutcome =>
    erroredResult(base, phase, `${who}: ${cause}${stderrTail ? `\n--- stderr (last lines) ---\n${stderrTail}` : ''}`);

  const applies = externalApplies(spec, caseSpec.shape);
  if (applies !== true) return { ...base, state: 'skipped', reason: applies };
  const paths: Partial<Record<Placeholder, string>> = {};
  if (spec.files === 'binary') {
    const arch = nativeArch(input.processArch ?? process.arch);
    if (!input.paths.binary) {
      const declared = spec.archs.length > 0 ? spec.archs.join(', ') : 'none';
      return {
        ...base,
        state: 'skipped',
        reason: `no build for this device's architecture (${arch ?? input.processArch ?? process.arch}); builds declared in ${spec.source}: ${declared}`,
      };
    }
    paths.binary = input.paths.binary;
  } else {
    if (!input.paths.dir) return errored('prepare', 'the uploaded directory is missing (files: dir was not uploaded to this device)');
    paths.dir = input.paths.dir;
    if (input.paths.script) paths.script = input.paths.script;
  }

  // A fresh work directory: nothing a previous case left (an old out.npy) can pass for this case's output.
  const work = join(input.workRoot, spec.name);
  const cf = caseFile(spec.name, caseSpec, timing);
  try {
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    writeFileSync(join(work, cf.inputs.x.file), encodeNpy({ dtype: 'float32', shape: cf.inputs.x.shape, data: input.x }));
    writeFileSync(join(work, cf.inputs.w.file), encodeNpy({ dtype: 'float32', shape: cf.inputs.w.shape, data: input.w }));
    writeFileSync(join(work, 'case.json'), `${JSON.stringify(cf, null, 2)}\n`);
  } catch (e) {
    return errored('prepare', `could not write the inputs into ${work}: ${(e as Error).message}`);
  }
  Object.assign(paths, {
    work,
    case: join(work, 'case.json'),
    x: join(work, cf.inputs.x.file),
    w: join(work, cf.inputs.w.file),
    out: join(work, cf.output.file),
  });

  let argv: string[];
  try {
    argv = launched(expandArgv(spec.command, paths), paths.binary, input.launcher);
  } catch (e) {
    return errored('prepare', (e as Error).message);
  }
  const r = await runCommand(argv, { cwd: work, env: spec.env, timeoutMs: input.timeoutMs });
  const failed = exitProblem(r, argv[0] ?? '', input.timeoutMs);
  if (failed) return errored('run', failed, r.stderrTail);

  const out = readOutput(join(work, cf.output.file), cf.output.shape);
  if ('problem' in out) return errored('output', out.problem, r.stderrTail);

  if (r.stdoutTruncated)
    return errored('timing', `printed more than ${MAX_STDOUT_BYTES / (1024 * 1024)} MiB on stdout: print only the timings JSON there`, r.stderrTail);
  const t = parseTimings(r.stdout, timing);
  if ('problem' in t) return errored('timing', t.problem, r.stderrTail);
  const reportedMs = t.repeats.reduce((s, x) => s + x.iterations * x.realMs, 0);
  if (reportedMs > r.wallMs * WALL_SLACK.ratio + WALL_SLACK.ms) {
    return errored(
      'timing',
      `reports ${reportedMs.toPrecision(4)} ms of kernel time, but the whole command took ${r.wallMs.toPrecision(4)} ms (timed by the harness): ` +
        'the timings cannot be right (check time_unit and that real_time is per iteration)',
      r.stderrTail,
    );
  }
  const perIteration = t.repeats.map((x) => x.realMs).sort((a, b) => a - b)[t.repeats.length >> 1]!;
  const gflops = base.cost.flops / (perIteration / 1e3) / 1e9;
  const bound = plausibleGflops(spec.dtype, input.cores ?? cpus().length, input.nativePeakGflops);
  if (!(gflops <= bound)) {
    return errored(
      'timing',
      `reports ${perIteration.toPrecision(4)} ms per iteration for ${base.cost.flops.toPrecision(4)} FLOPs: ${gflops.toPrecision(4)} GFLOP/s, more than ` +
        `this machine's ${input.cores ?? cpus().length} cores can do (at most ${bound.toPrecision(4)} GFLOP/s: 64 FLOP per cycle at 6 GHz per core): ` +
        'the timings cannot be right (check time_unit, and that iterations and real_time describe the runs that were timed)',
      r.stderrTail,
    );
  }
  return { ...base, state: 'measured', output: out.data, repeats: t.repeats, wallMs: r.wallMs, reportedMs, stderrTail: r.stderrTail, workDir: work };
}

// ---------------------------------------------------------------------------
// The native ceilings probe
// ---------------------------------------------------------------------------

/**
 * Runs the native ceilings probe (a kernels file's `ceilings:`) and reads the
 * ceilings it prints (stdout: JSON in the MeasuredCeilings schema of
 * core/contracts.ts). Returns them, or why not (with the stderr tail).
 */
export async function runNativeCeilings(
  spec: ExternalCommandSpec,
  paths: DevicePaths,
  workDir: string,
  timeoutMs: number,
  launcher?: readonly string[],
): Promise<{ ok: true; ceilings: MeasuredCeilings; wallMs: number } | { ok: false; error: string }> {
  const fail = (cause: string, stderrTail = '') => ({
    ok: false as const,
    error: `native ceilings probe (${spec.source}): ${cause}${stderrTail ? `\n--- stderr (last lines) ---\n${stderrTail}` : ''}`,
  });
  if (spec.files === 'binary' && !paths.binary) return fail(`no build for this device's architecture; builds declared: ${spec.archs.join(', ') || 'none'}`);
  let argv: string[];
  try {
    mkdirSync(workDir, { recursive: true });
    argv = launched(expandArgv(spec.command, { work: workDir, ...paths }), paths.binary, launcher);
  } catch (e) {
    return fail((e as Error).message);
  }
  const r = await runCommand(argv, { cwd: workDir, env: spec.env, timeoutMs });
  const failed = exitProblem(r, argv[0] ?? '', timeoutMs);
  if (failed) return fail(failed, r.stderrTail);
  let doc: unknown;
  try {
    doc = JSON.parse(r.stdout);
  } catch (e) {
    return fail(`stdout is not JSON (${(e as Error).message})`, r.stderrTail);
  }
  const parsed = MeasuredCeilings.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return fail(
      `stdout is not a ceilings document (${issue ? `${issue.path.join('.')}: ${issue.message}` : 'invalid'}); see docs/native-kernels.md`,
      r.stderrTail,
    );
  }
  return { ok: true, ceilings: parsed.data, wallMs: r.wallMs };
}

// ---------------------------------------------------------------------------
// In a run (`--kernels FILE`): the plan's external kernels, as results
// ---------------------------------------------------------------------------

/** The device paths of a command's files, from where the plan says they are in the payload. */
export function devicePaths(files: PayloadFiles, payloadDir: string, processArch: string = process.arch): DevicePaths {
  const out: DevicePaths = {};
  const arch = nativeArch(processArch);
  const rel = arch ? files.binary?.[arch] : undefined;
  // The payload of a device holds its own architecture's build only (harness/payload.ts payloadForArch).
  if (rel !== undefined && existsSync(join(payloadDir, rel))) {
    out.binary = join(payloadDir, rel);
    try {
      // Verified by content like the rest of the payload; a copy that lost its mode bits still runs.
      chmodSync(out.binary, 0o755);
    } catch {
      /* not ours to change: running it says what is wrong */
    }
  }
  if (files.dir !== undefined) out.dir = join(payloadDir, files.dir);
  if (files.script !== undefined) out.script = join(payloadDir, files.script);
  return out;
}

/** The emulator that runs this Node (ROOFBENCH_EMULATION, set by scripts/arm-node.sh's wrapper), as argv; empty natively. */
export function emulationLauncher(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env.ROOFBENCH_EMULATION ?? '').trim().split(/\s+/).filter(Boolean);
}

/** What the case hands an external kernel: its inputs, weights and float64 reference. */
export interface ExternalCaseData {
  x: Float32Array;
  w: Float32Array;
  ref: { y: Float64Array; absBound: Float64Array };
  reduction: number;
}

/** A run's external kernels on this device (the runner's part of `--kernels`). */
export class ExternalKernels {
  private readonly byName: Map<string, { spec: ExternalVariantSpec; paths: DevicePaths }>;
  private readonly launcher: string[];
  /** The native roof, once measured (runCeilings). */
  native: NativeCeilings | null = null;

  constructor(
    private readonly plan: PlanExternal,
    private readonly opts: { payloadDir: string; workRoot: string; timerResolutionMs: () => number },
  ) {
    this.launcher = emulationLauncher();
    this.byName = new Map(plan.kernels.map((k) => [k.spec.name, { spec: k.spec, paths: devicePaths(k.files, opts.payloadDir) }]));
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** Runs the native ceilings probe; returns the roof, or why not. */
  async runCeilings(): Promise<{ ok: true; ceilings: NativeCeilings } | { ok: false; error: string } | null> {
    const c = this.plan.ceilings;
    if (!c) return null;
    const r = await runNativeCeilings(
      c.spec,
      devicePaths(c.files, this.opts.payloadDir),
      join(this.opts.workRoot, 'ceilings'),
      this.plan.timeoutMs,
      this.launcher,
    );
    if (!r.ok) return r;
    this.native = { ...r.ceilings, source: c.spec.source };
    return { ok: true, ceilings: this.native };
  }

  /**
   * One case of one external kernel, as a result like a built-in variant's: the
   * kernel's output held to the same float64 checks, its repeats as the raw
   * samples, its place under the measured (WebAssembly) and native roofs.
   */
  async measure(c: CaseSpec, name: string, data: ExternalCaseData, options: RunOptions, ceilings: MeasuredCeilings | null): Promise<CaseResult> {
    const k = this.byName.get(name);
    if (!k) throw new Error(`external kernel ${name} is not in the plan`);
    const r = await runExternalCase({
      spec: k.spec,
      paths: k.paths,
      caseSpec: c,
      x: data.x,
      w: data.w,
      timing: this.plan.timing,
      workRoot: this.opts.workRoot,
      timeoutMs: this.plan.timeoutMs,
      launcher: this.launcher,
      ...(this.native ? { nativePeakGflops: this.native.peakGflops } : {}),
    });
    if (r.state !== 'measured') return { ...r, external: k.spec.source };
    const base = { caseId: c.id, variant: k.spec.name, algorithm: k.spec.algorithm, dtype: k.spec.dtype, cost: r.cost, external: k.spec.source };
    try {
      const metrics = errorMetrics(r.output, data.ref.y);
      const tolerance = accuracyChecks(
        { name: k.spec.name, accuracy: k.spec.accuracy.kind === 'exact' ? { kind: 'exact' } : { kind: 'approximate', maxRelL2: k.spec.accuracy.maxRelL2 } },
        r.output,
        data.ref,
        metrics,
        data.reduction,
      );
      const samples = r.repeats.map((x) => x.realMs);
      const reps = r.repeats.map((x) => x.iterations);
      const stats = computeStatistics(samples, 0.99);
      const last = reps[reps.length - 1] ?? 1;
      const outside = Math.max(0, r.wallMs - r.reportedMs);
      return {
        ...base,
        state: tolerance.ok ? 'passed' : 'inaccurate',
        timing: {
          samples,
          repsPerSample: last,
          ...(reps.some((n) => n !== last) ? { sampleReps: reps } : {}),
          samplesPerRound: [samples.length],
          sampleDurationMs: stats.median * last,
          timerResolutionMs: this.opts.timerResolutionMs(),
          warmupMs: outside,
          stats,
          noisy: isNoisy(stats, options.cvTarget),
        },
        perf: computePerf(r.cost, stats.median, ceilings, null, k.spec.dtype, this.native),
        accuracy: {
          ...accuracyRecord(metrics, tolerance, checksumF32(r.output)),
          // Each device runs its own build (AVX2, NEON ...): summation order and FMA contraction differ.
          nonPortable: 'a native kernel: each architecture runs its own build, whose rounding (vector width, summation order, FMA) differs',
        },
        prepare: {
          ms: outside,
          bytes: 0,
          note:
            `native kernel (${k.spec.source}), timed inside its own process as the protocol says (${r.repeats.length} repeats); ` +
            `the whole invocation took ${r.wallMs.toFixed(1)} ms (timed by the harness), ${outside.toFixed(1)} ms of it outside the timed repeats ` +
            '(start, reading the inputs, packing, warm-up, writing out.npy)',
        },
      };
    } catch (e) {
      return { ...base, state: 'errored', phase: 'check', error: `${k.spec.name} (${k.spec.source}): ${(e as Error).message}` };
    }
  }

  /** Removes the work directories. */
  cleanup(): void {
    rmSync(this.opts.workRoot, { recursive: true, force: true });
  }
}
