/**
 * roofbench command line.
 *
 *   npm run bench -- [--device NAME] [--suite S] [--filter RE] [--quick] [--out DIR] [--json] [--list]
 *   npm run report -- reports/local/<run-id>
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadDevices, type Device, type DeviceRegistry } from './devices.js';
import { selectItems, makePlan, extraVariantsFor, unselectedKernels, unusedSuiteOption, UsageError } from './plan.js';
import { schemesOption } from '../suites/conv/schemes.js';
import { DeviceBusyError, defaultRunOptions, newRunId, runOnDevice } from './bench.js';
import { localLockHolder, localWorkDir } from './transport/local.js';
import { checkOutDir, claimDir, claimRunDir, OutPathError, runIdOf } from './rundir.js';
import { Interrupt, INTERRUPTED_EXIT } from './interrupt.js';
import { LOCK_HELD_EXIT } from './transport/session.js';
import { threadsSummary } from './report/scaling.js';
import type { RunWriter } from './results.js';
import { buildPayload } from './payload.js';
import { renderCombinedIndex } from './report/combined.js';
import { compareChecksums, describeMismatches } from './portability.js';
import { hasBudget, worstInaccurate } from './budget.js';
import { checkCommit, gitCommitOf, recordRun } from './history/record.js';
import { historyPath } from './history/store.js';
import { deviceMemory } from './device-memory.js';
import { countsLine, outputWidth, Progress, summaryTable } from './progress.js';
import { Distribution, PEER_LIBRARIES, TestFaults, type ExtraVariant, type RunOptions, type ThreadCount } from '../core/contracts.js';
import { PEER_VARIANT_NAMES } from '../suites/conv/peers/run.js';
import { MODEL_PEER_NAMES } from '../suites/models/peers.js';
import { buildPeersPayload } from './peers-payload.js';
import { parseThreadsOption, threadSkipNotes } from './threads-option.js';
import { readRun } from './results.js';
import { renderReport } from './report/render.js';
import { EXPORT_FORMATS, runToCsv, runToMarkdown, type ExportFormat } from './report/export.js';
import { MODEL_POLICIES, suites } from '../suites/index.js';
import { buildExtraVariant, makeResolver } from '../suites/variants.js';
import { ROOT } from './payload.js';
import { parseArgs, suggestion } from './suggest.js';
import { npmSwallowedOptions, swallowedMessage } from './npm-args.js';
import { harnessInfo } from './bench.js';
import { loadKernelsFile, type KernelsFile } from './external-file.js';
import { bundleKernels } from './external-bundle.js';
import { nativeArch, timingProtocol } from '../core/external.js';
import type { NativeFile } from './payload.js';
import { parseSweepOptions } from '../suites/sparse/cases.js';
import { QUICK_TILES, TILE_SWEEP } from '../suites/tiling/kit.js';

const HELP = `roofbench: kernel benchmarks checked against float64, placed on the device's roofline

usage:
  npm run bench -- [options]            run the suites on a device and write an HTML report
  npm run bench -- --list               list devices, suites, cases and variants
  npm run report -- <run-dir>           re-render a run's report from its results.json
  npm run report -- <run-dir> --format csv|md   export a run for a spreadsheet or a pull-request comment

bench options:
  --device NAME[,NAME] device(s) from devices.yaml (default: local); several run in parallel,
                       one report each plus a combined index
  --devices FILE       the device registry (default: devices.yaml in the repository)
  --suite NAME[,NAME]  suites to run (default: all but models, which runs when named or with --model)
  --model NAME|FILE[,..] whole networks to run end to end (the models suite): zoo names (suites/models/*.yaml),
                       a model file in the zoo's YAML format or an ONNX file (its own weights)
  --policy P           the models suite's light runtime: im2col (every conv on the im2col GEMM) or best (per
                       layer shape the fastest conv variant that passes, timed in the same run); default both
  --pattern P[,P]      the sparse suite's pruning patterns: unstructured, blocks such as 1x2 1x4 4x1 8x1,
                       N:M such as 2:4 (default: suites/sparse/sweep.yaml's)
  --sparsity F[,F]     the sparse suite's sparsities, fractions or percentages: 0.5,0.9 or 50%,90%
                       (default 50,70,80,90,95%; an N:M pattern runs at its own 1 - N/M)
  --tile T[,T]         the tiling suite's square tile sizes, output pixels per side (of its sweep:
                       ${TILE_SWEEP.join(', ')}; default all, --quick ${QUICK_TILES.join(', ')})
  --filter REGEX       keep case x variant pairs whose "<case id> <variant>" or tags match (case-insensitive)
  --variant NAME[,..]  only these variants
  --no-baselines       with --filter / --variant, do not add the reference variants the accuracy decision of a
                       selected fast variant needs (fp32 direct, im2col, ONNX Runtime); by default they run too
  --winograd M:POINTS  also measure Winograd F(MxM,3x3) on these interpolation points, e.g.
                       --winograd "8:0,1,-1,2,-2,1/2,-1/2,3,-3,inf" (repeatable; see suites/conv/winograd.yaml)
  --schemes S          the low-precision schemes to run instead of suites/conv/schemes.yaml's (repeatable, or
                       several separated by ';'): int8[:opts] (pt|pc, s8|u8, minmax|percentile[=P]|mse|entropy,
                       rq|dq), fp16, fp16-arith[:acc32]; e.g. --schemes "int8:pc,mse;fp16" (docs/precision.md).
                       With --model / --suite models, each int8 scheme also runs the whole network in int8 and
                       its mixed-precision plan (model-runtime-int8-<scheme>, model-runtime-mixed-<scheme>)
  --case NAME[,..]     only these cases (id or layer name)
  --kernels FILE       also run your native kernels, declared in FILE (docs/native-kernels.md): built for each
                       device's architecture, uploaded with the payload, checked and placed like the built-in ones
  --native-example     the same with the repository's example (examples/native-conv/kernels.yaml; build it first
                       with scripts/build-native.sh ARCH)
  --quick              small shapes and short sampling: finishes in well under a minute
  --threads N|all[,..] run every case on N threads (default 1; all = the device's cores; a count above them
                       is allowed, marked oversubscribed); several, e.g. 1,2, measure each case at each count
                       in the same rounds and add the scaling view to the report (docs/threads.md)
  --peers              also run the WebAssembly peers as conv variants (conv-onnxruntime-web-f32: ONNX Runtime's
                       WebAssembly SIMD build; conv-tfjs-xnnpack-f32: XNNPACK via tfjs-backend-wasm): same cases,
                       same reference check, same rounds. Opt-in: their part of the payload is about 14 MB to load
                       (uploaded once per device, verified by hash); --variant naming a peer implies it (docs/threads.md)
  --out DIR            write the run here (default: reports/<device>/<run-id>, or under $ROOFBENCH_REPORTS)
  --json               JSON lines on stdout instead of the progress bar and table
  --seed N             base seed of the input generator, 1 to 4294967295 (default 1)
  --distribution D     input distribution: ${Distribution.options.join(', ')} (default uniform(-1,1))
  --target-ms MS       sampling time per variant and case (default 1000, quick 150)
  --min-samples N      at least this many samples per variant (default 8, quick 5; the median's interval
                       reaches 99% from 8 samples, and the report shows the coverage it has)
  --cv-target X        coefficient of variation above which a measurement is marked noisy (default 0.05)
  --max-rel-l2 X       accuracy budget: variants with relative L2 error above X are inaccurate
  --max-abs X          accuracy budget: max absolute error
  --min-sqnr-db X      accuracy budget: minimum SQNR in dB
  --gate               exit non-zero when any result is inaccurate (naming the worst)
  --no-ceilings        do not measure the device's peak and bandwidth (no measured roofline)
  --history FILE       the history store runs are appended to (default reports/history.sqlite,
                       or $ROOFBENCH_HISTORY); --no-history to not store the run
  --commit SHA         the commit of the code under test, stored with the run (regressions point at commit ranges)
  --commit-from PATH   read that commit from the git checkout at PATH
  --wait               wait for a device another run has locked, instead of failing
  --ship-node          a board whose Node is missing or older than 18 gets Debian's Node 18, uploaded into its
                       work dir (no root needed; or set node: ship for the device in devices.yaml)
  --case-timeout S     a case that sends no event for S seconds is hung: killed and marked errored (default 600)
  --connect-timeout S  SSH connect timeout in seconds (default 15)
  --step-timeout S     deadline of each remote step before the run: Node probe and disk check, upload of
                       one file (default 120); a step past it is stopped on the device too
  -h, --help           this text

Ctrl-C (or SIGTERM, SIGHUP, timeout) stops the run: the runner is stopped, the run marked interrupted,
its report and history written, exit code 130. A second Ctrl-C exits at once.
`;

/**
 * The WebAssembly peers of a run (ExtraVariants of kind peer, conv suite): with --peers, or when --variant
 * names one (it implies --peers, said on stderr). --peers without the conv suite is refused.
 */
/** The peers' variant names of the suites that have them (conv, models), in that order. */
const peersOf = (suiteNames: readonly string[]): string[] => [
  ...(suiteNames.includes('conv') ? Object.values(PEER_VARIANT_NAMES) : []),
  ...(suiteNames.includes('models') ? Object.values(MODEL_PEER_NAMES) : []),
];

function peersOption(flag: boolean, variants: string[] | undefined, chosen: readonly { name: string }[]): ExtraVariant[] {
  const names: string[] = [...Object.values(PEER_VARIANT_NAMES), ...Object.values(MODEL_PEER_NAMES)];
  const named = (variants ?? []).filter((v) => names.includes(v));
  if (!flag && named.length === 0) return [];
  const suitesWithPeers = chosen.map((s) => s.name).filter((n) => n === 'conv' || n === 'models');
  if (suitesWithPeers.length === 0) {
    throw new UsageError(
      `--peers adds the WebAssembly peers to the conv and models suites, which this run leaves out (--suite ${chosen.map((s) => s.name).join(',')}): add conv or models to --suite, or leave --peers out`,
    );
  }
  if (!flag)
    process.stderr.write(`roofbench: --variant ${named.join(',')} implies --peers (the peers' part of the payload, about 14 MB, is loaded only on request)\n`);
  // --variant keeps only the variants it names: --peers then adds nothing, which is said, not silently dropped.
  if (flag && variants?.length && named.length === 0) {
    process.stderr.write(
      `roofbench: --peers: no peer runs: --variant ${variants.join(',')} names none of them (add ${peersOf(suitesWithPeers).join(', ')} or some of them to --variant to run them)\n`,
    );
  }
  return suitesWithPeers.flatMap((suite) => PEER_LIBRARIES.map((peer) => ({ suite, kind: 'peer' as const, peer })));
}

function threadsOption(text: string | undefined): ThreadCount[] {
  try {
    return parseThreadsOption(text);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** Where runs go without --out: $ROOFBENCH_REPORTS (the tests set it to a temporary directory), else reports/. */
function reportsDir(): string {
  return resolve(process.env.ROOFBENCH_REPORTS || join(ROOT, 'reports'));
}

function list(csv: string | undefined): string[] | undefined {
  if (csv === undefined) return undefined;
  return csv
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** A decimal number as people write it (1e-4, 0.05, 35): Number() alone also takes "0x10", "0b11" and "" (16, 3, 0). */
const decimal = (v: string): number => (/^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i.test(v) ? Number(v) : NaN);

function num(name: string, v: string | undefined, fallback: number, integer = false): number {
  if (v === undefined) return fallback;
  const n = decimal(v);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${name} expects a positive ${integer ? 'integer' : 'number'}, got "${v}"`);
  }
  return n;
}

/**
 * The largest --seed: the suites derive each case's seed from it modulo 2^32 (suites/conv/cases.ts), so a
 * larger one would silently repeat a smaller one's inputs (and past 2^53 it is not even read exactly).
 */
const MAX_SEED = 2 ** 32 - 1;

function seedOption(v: string | undefined): number {
  if (v === undefined) return 1;
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < 1 || n > MAX_SEED) {
    throw new UsageError(`--seed expects an integer from 1 to ${MAX_SEED}, got "${v}"`);
  }
  return n;
}

/** --pattern / --sparsity for the sparse suite; either one alone selects that suite. */
function sparseSweepOptions(pattern: string | undefined, sparsity: string | undefined): { patterns?: string[]; fractions?: number[] } {
  try {
    return parseSweepOptions(pattern, sparsity);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** --tile 8,16: tile sizes of the tiling suite's sweep (a size off the sweep or not a positive integer: a usage error). */
export function parseTileOption(v: string): number[] {
  const parts = v.split(',').map((p) => p.trim());
  const out: number[] = [];
  for (const p of parts) {
    if (!/^\d+$/.test(p) || Number(p) < 1) {
      throw new UsageError(`--tile "${p}" is not a tile size: give square tile sizes in output pixels per side, positive integers such as 8,16`);
    }
    const t = Number(p);
    if (!TILE_SWEEP.includes(t)) {
      const near = [...TILE_SWEEP].sort((a, b) => Math.abs(a - t) - Math.abs(b - t))[0]!;
      // A suggestion only when it is close (9 -> 8); the size as typed (Number() prints 1e20 for twenty digits).
      const hint = t <= 2 * near ? ` (did you mean ${near}?)` : '';
      throw new UsageError(`--tile ${p} is not in the tiling suite's sweep${hint}; valid: ${TILE_SWEEP.join(', ')}`);
    }
    out.push(t);
  }
  return [...new Set(out)];
}

/** --winograd "8:0,1,-1,2,-2,1/2,-1/2,3,-3,inf" */
function parseWinogradOption(v: string): ExtraVariant {
  const m = /^\s*(\d+)\s*:(.+)$/.exec(v);
  if (!m?.[1] || !m[2]) {
    throw new UsageError(`--winograd expects M:POINTS, e.g. --winograd "8:0,1,-1,2,-2,1/2,-1/2,3,-3,inf" (M + 2 points), got "${v}"`);
  }
  return { suite: 'conv', kind: 'winograd', m: Number(m[1]), points: m[2].split(',').map((p) => p.trim()) };
}

/** Node's timers hold at most 2^31 - 1 ms (about 24.8 days); a longer one fires at once. */
const MAX_TIMER_S = Math.floor((2 ** 31 - 1) / 1000);

/** A duration in seconds, in [1 s, about 24.8 days]; returned in ms. */
function seconds(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback * 1000;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 1 || n > MAX_TIMER_S) {
    throw new UsageError(`--${name} expects a number of seconds from 1 to ${MAX_TIMER_S} (about 24.8 days), got "${v}"`);
  }
  return Math.round(n * 1000);
}

/** Flags that contradict each other are an error, not silently one of them. */
function exclusive(values: Record<string, unknown>, a: string, b: string, why: string): void {
  const set = (k: string) => values[k] !== undefined && values[k] !== false;
  if (set(a) && set(b)) throw new UsageError(`--${a} and --${b} cannot be used together: ${why}`);
}

/**
 * Devices that are one machine and one work directory (same host, port, user
 * and workDir; or local devices sharing a lock directory) cannot run in parallel:
 * they would wait for each other's lock, or measure each other's load.
 */
function checkDistinctMachines(devices: Device[]): void {
  const seen = new Map<string, string>();
  for (const d of devices) {
    const key = d.transport === 'local' ? `local ${localWorkDir(d)}` : `ssh ${d.user}@${d.host}:${d.port} ${d.workDir}`;
    const other = seen.get(key);
    if (other !== undefined) {
      throw new UsageError(
        `devices ${other} and ${d.name} are the same machine and work directory (${d.transport === 'local' ? `this machine, ${localWorkDir(d)}` : `${d.user}@${d.host}:${d.port}, ${d.workDir}`}): ` +
          'they share one device lock and would measure each other. Run them one after the other, or give each its own workDir in devices.yaml if they really are different machines',
      );
    }
    seen.set(key, d.name);
  }
}

function optNum(name: string, v: string | undefined, allowNegative = false): number | undefined {
  if (v === undefined) return undefined;
  const n = decimal(v);
  if (!Number.isFinite(n) || (!allowNegative && n <= 0)) {
    throw new UsageError(`--${name} expects a ${allowNegative ? '' : 'positive '}number, got "${v}"`);
  }
  return n;
}

function printList(registry: DeviceRegistry, kernels: KernelsFile | null, only?: readonly string[]): void {
  const lines: string[] = ['devices:'];
  for (const d of registry.devices.values()) {
    const where = d.transport === 'local' ? 'this machine' : `${d.user ?? '?'}@${d.host ?? '?'}:${d.port}`;
    lines.push(`  ${d.name.padEnd(14)} ${d.transport.padEnd(6)} ${where}${d.profileName ? `  profile ${d.profileName}` : ''}`);
  }
  const hostless = [...registry.profiles.keys()].filter((p) => ![...registry.devices.values()].some((d) => d.profileName === p));
  if (hostless.length) lines.push(`profiles without a host (add one in devices.yaml to use them): ${hostless.join(', ')}`);
  const bad = (only ?? []).filter((n) => !suites.some((s) => s.name === n));
  if (bad.length) {
    const names = suites.map((s) => s.name);
    throw new UsageError(`unknown suite ${bad.map((b) => `${b}${suggestion(b, names)}`).join(', ')}; valid suites: ${names.join(', ')}`);
  }
  for (const s of suites.filter((x) => !only?.length || only.includes(x.name))) {
    lines.push('', `suite ${s.name}: ${s.description}`, '  variants:');
    for (const v of s.variants) lines.push(`    ${v.name.padEnd(30)} ${v.description}`);
    for (const k of kernels?.kernels ?? []) {
      const cases = k.cases === 'all' ? 'all cases' : k.cases.join(', ');
      lines.push(`    ${k.spec.name.padEnd(30)} ${k.spec.description} (native, ${k.spec.source}; ${cases})`);
    }
    for (const e of extraVariantsFor([s])) {
      const v = buildExtraVariant(e);
      lines.push(`    ${v.name.padEnd(30)} ${v.description} (from the suite's data)`);
    }
    if (s.name === 'conv' || s.name === 'models') {
      for (const peer of PEER_LIBRARIES) {
        const v = buildExtraVariant({ suite: s.name, kind: 'peer', peer });
        lines.push(`    ${v.name.padEnd(30)} ${v.description} (with --peers)`);
      }
    }
    const full = s.cases({ quick: false, seed: 1, distribution: 'uniform(-1,1)' });
    const quickOnly = s.cases({ quick: true, seed: 1, distribution: 'uniform(-1,1)' }).filter((c) => !full.some((d) => d.id === c.id));
    for (const [title, cs] of [
      ['cases (default size):', full],
      ['cases of --quick runs only (reaching kernel paths the scaled-down shapes miss):', quickOnly],
    ] as const) {
      if (cs.length === 0) continue;
      lines.push(`  ${title}`);
      for (const c of cs) {
        const sh = c.shape;
        lines.push(
          `    ${c.id.padEnd(40)} ${sh.c}x${sh.h}x${sh.w} -> ${sh.k}, ${sh.r}x${sh.s} s${sh.stride} p${sh.pad}${sh.groups > 1 ? ` g${sh.groups}` : ''}`,
        );
      }
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

const BENCH_OPTIONS = {
  device: { type: 'string', default: 'local' },
  devices: { type: 'string' },
  suite: { type: 'string' },
  filter: { type: 'string' },
  variant: { type: 'string' },
  model: { type: 'string', multiple: true },
  policy: { type: 'string' },
  winograd: { type: 'string', multiple: true },
  pattern: { type: 'string' },
  sparsity: { type: 'string' },
  tile: { type: 'string' },
  schemes: { type: 'string', multiple: true },
  case: { type: 'string' },
  quick: { type: 'boolean', default: false },
  threads: { type: 'string' },
  peers: { type: 'boolean', default: false },
  out: { type: 'string' },
  json: { type: 'boolean', default: false },
  list: { type: 'boolean', default: false },
  seed: { type: 'string' },
  distribution: { type: 'string' },
  'target-ms': { type: 'string' },
  'min-samples': { type: 'string' },
  'cv-target': { type: 'string' },
  'no-ceilings': { type: 'boolean', default: false },
  wait: { type: 'boolean', default: false },
  'ship-node': { type: 'boolean', default: false },
  history: { type: 'string' },
  'no-history': { type: 'boolean', default: false },
  commit: { type: 'string' },
  'commit-from': { type: 'string' },
  'max-rel-l2': { type: 'string' },
  'max-abs': { type: 'string' },
  'min-sqnr-db': { type: 'string' },
  gate: { type: 'boolean', default: false },
  'case-timeout': { type: 'string' },
  'connect-timeout': { type: 'string' },
  'step-timeout': { type: 'string' },
  'no-baselines': { type: 'boolean', default: false },
  kernels: { type: 'string' },
  'native-example': { type: 'boolean', default: false },
  version: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** Stop when npm kept the command's own options (`npm run bench --quick` without `--`). */
function checkNpmArgs(options: Parameters<typeof npmSwallowedOptions>[0], argv: string[]): void {
  const swallowed = npmSwallowedOptions(
    options,
    process.env,
    argv.filter((a) => !a.startsWith('-')),
  );
  if (swallowed) throw new UsageError(swallowedMessage(swallowed));
}

function versionText(): string {
  const h = harnessInfo();
  return `roofbench ${h.version}${h.gitCommit ? ` (commit ${h.gitCommit.slice(0, 12)}${h.gitDirty ? ', uncommitted changes' : ''})` : ''}\n`;
}

async function bench(argv: string[]): Promise<number> {
  checkNpmArgs(BENCH_OPTIONS, argv);
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: BENCH_OPTIONS,
  });
  if (values.version) {
    process.stdout.write(versionText());
    return 0;
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  exclusive(values, 'no-history', 'history', '--no-history does not store the run; --history says where to store it');
  exclusive(values, 'commit', 'commit-from', 'give the commit under test once: --commit SHA or --commit-from PATH');
  exclusive(values, 'no-history', 'commit', 'the commit is stored with the run in the history, which --no-history skips');
  exclusive(values, 'no-history', 'commit-from', 'the commit is stored with the run in the history, which --no-history skips');
  exclusive(values, 'json', 'list', '--list prints a listing for people; there is no JSON listing');
  exclusive(values, 'list', 'out', '--list runs nothing');
  // Ranges first: nothing is started with a deadline Node's timers cannot hold.
  const transportTimeouts = {
    caseTimeoutMs: seconds('case-timeout', values['case-timeout'], 600),
    connectTimeoutMs: seconds('connect-timeout', values['connect-timeout'], 15),
    stepTimeoutMs: seconds('step-timeout', values['step-timeout'], 120),
  };
  const registry = loadDevices(values.devices ?? join(ROOT, 'devices.yaml'));
  exclusive(values, 'kernels', 'native-example', '--native-example is --kernels examples/native-conv/kernels.yaml');
  const kernelsPath = values.kernels ?? (values['native-example'] ? NATIVE_EXAMPLE : undefined);
  const deviceNames = [...new Set(list(values.device) ?? ['local'])];
  const kernelsFile =
    kernelsPath === undefined
      ? null
      : loadRunKernels(kernelsPath, values.list ? [] : deviceNames.flatMap((n) => (registry.devices.has(n) ? [registry.devices.get(n)!] : [])));
  if (values.list) {
    if (values.model !== undefined) {
      throw new UsageError('--list lists the suites, cases, variants and the model zoo; it takes no --model (run the model with bench -- --model NAME)');
    }
    printList(registry, kernelsFile, list(values.suite));
    return 0;
  }
  if (deviceNames.length === 0) throw new UsageError('--device needs at least one device name');
  const devices = deviceNames.map((n) => {
    try {
      return registry.get(n);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  });
  if (values.out && devices.length > 1)
    throw new UsageError('--out names one run directory; with several devices, leave it out (runs go to reports/<device>/<run-id>)');
  checkDistinctMachines(devices);
  // --out is checked before anything is created (a kernel file system, a file, a run already there).
  let outDir: string | null = null;
  if (values.out !== undefined) {
    try {
      outDir = checkOutDir(values.out);
    } catch (e) {
      // The message is complete (it names the path and the reason): no "caused by" repeating it.
      if (e instanceof OutPathError) throw new UsageError(e.message);
      throw e;
    }
  }

  const dist = values.distribution ?? 'uniform(-1,1)';
  const parsedDist = Distribution.safeParse(dist);
  if (!parsedDist.success) {
    throw new UsageError(`unknown --distribution "${dist}"${suggestion(dist, Distribution.options)}; valid: ${Distribution.options.join(', ')}`);
  }
  const base = defaultRunOptions(values.quick);
  const options: RunOptions = {
    ...base,
    suites: list(values.suite) ?? suites.map((s) => s.name),
    filter: values.filter ?? null,
    distribution: parsedDist.data,
    targetMs: num('target-ms', values['target-ms'], base.targetMs),
    minSamples: num('min-samples', values['min-samples'], base.minSamples, true),
    cvTarget: num('cv-target', values['cv-target'], base.cvTarget),
    threads: threadsOption(values.threads),
  };
  const budgets = {
    maxRelL2: optNum('max-rel-l2', values['max-rel-l2']),
    maxAbs: optNum('max-abs', values['max-abs']),
    minSqnrDb: optNum('min-sqnr-db', values['min-sqnr-db'], true),
  };
  if (hasBudget(budgets)) options.budgets = budgets;
  const seed = seedOption(values.seed);
  let commit: string | null = null;
  try {
    if (values.commit !== undefined) commit = checkCommit(values.commit);
    else if (values['commit-from'] !== undefined) commit = gitCommitOf(values['commit-from']);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const chosen = suites.filter((s) => !values.suite || list(values.suite)?.includes(s.name));
  let schemes: ReturnType<typeof schemesOption> | undefined;
  try {
    if (values.schemes !== undefined) schemes = schemesOption(values.schemes);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const peers = peersOption(values.peers, list(values.variant), chosen);
  const extraVariants = extraVariantsFor(chosen, [...(values.winograd ?? []).map(parseWinogradOption), ...(schemes?.extras ?? []), ...peers]);
  const policy = values.policy;
  if (policy !== undefined && !(policy in MODEL_POLICIES)) {
    throw new UsageError(`unknown --policy "${policy}"${suggestion(policy, Object.keys(MODEL_POLICIES))}; valid: ${Object.keys(MODEL_POLICIES).join(', ')}`);
  }
  const models = (values.model ?? []).flatMap((m) => list(m) ?? []);
  if (values.model !== undefined && models.length === 0) {
    throw new UsageError('--model needs a zoo name, a .onnx or a zoo-format .yaml file (got nothing); npm run bench -- --list shows the zoo');
  }
  const sparse = sparseSweepOptions(values.pattern, values.sparsity);
  const tiles = values.tile !== undefined ? parseTileOption(values.tile) : undefined;
  const items = selectItems({
    ...sparse,
    ...(tiles ? { tiles } : {}),
    extraVariants,
    ...(schemes ? { schemes: schemes.keys } : {}),
    ...(models.length ? { models } : {}),
    ...(policy !== undefined ? { policy } : {}),
    suites:
      list(values.suite) ?? (values.pattern !== undefined || values.sparsity !== undefined ? ['sparse'] : values.tile !== undefined ? ['tiling'] : undefined),
    variants: list(values.variant),
    cases: list(values.case),
    filter: values.filter ?? null,
    quick: values.quick,
    seed,
    distribution: options.distribution,
    decisionBaselines: !values['no-baselines'],
    ...(kernelsFile ? { external: kernelsFile.kernels.map((k) => ({ name: k.spec.name, cases: k.cases })) } : {}),
  });
  options.suites = [...new Set(items.map((i) => i.suite.name))];
  // A suite's own option (--tile, --pattern, --schemes ...) with none of its suites selected is a mistake, not a no-op.
  const unused = unusedSuiteOption(
    (['tile', 'pattern', 'sparsity', 'policy', 'winograd', 'schemes'] as const).filter((o) => values[o] !== undefined),
    options.suites,
  );
  if (unused) throw new UsageError(unused);
  // A kernel of the --kernels file the selection leaves out is named, with why (not dropped silently).
  const kernelNames = (kernelsFile?.kernels ?? []).map((k) => ({ name: k.spec.name }));
  for (const note of unselectedKernels(kernelNames, items, list(values.variant))) process.stderr.write(`roofbench: ${note}\n`);
  // --threads: a count at which every selected pair is skipped is said before the run; nothing measured at any count is refused.
  const threadNotes = threadSkipNotes(
    options.threads ?? [1],
    items.map((i) => ({ suite: i.suite.name, variants: i.variants })),
    makeResolver(extraVariants),
    new Set((kernelsFile?.kernels ?? []).map((k) => k.spec.name)),
  );
  if (threadNotes.nothing) throw new UsageError(threadNotes.nothing);
  for (const w of threadNotes.warnings) process.stderr.write(`roofbench: warning: ${w}\n`);
  // The models suite quantizes whole networks by int8 schemes only: a run of networks alone given only fp16 schemes would quantize nothing.
  if (schemes && items.length > 0 && items.every((i) => i.suite.name === 'models') && !schemes.extras.some((e) => e.suite === 'models')) {
    throw new UsageError(
      `--schemes ${values.schemes!.join(';')}: the models suite quantizes whole networks by int8 schemes only (e.g. --schemes "int8:pc"); fp16 schemes run on the conv suite (--suite conv)`,
    );
  }
  const baselinesAdded = [...new Set(items.flatMap((i) => i.baselinesAdded ?? []))];
  if (baselinesAdded.length) options.baselinesAdded = baselinesAdded;
  const runId = testRunId() ?? newRunId();
  const plan = makePlan(runId, options, items, !values['no-ceilings'], extraVariants);
  const faults = testFaultsFromEnv();
  if (faults) plan.faults = faults;
  // The native kernels the selection kept (and the native ceilings probe): their files go into the payload.
  let native: NativeFile[] | undefined;
  if (kernelsFile) {
    const used = new Set(items.flatMap((i) => i.variants));
    const kept = kernelsFile.kernels.filter((k) => used.has(k.spec.name));
    if (kept.length > 0 || (kernelsFile.ceilings && !values['no-ceilings'])) {
      const caseMs = transportTimeouts.caseTimeoutMs;
      const bundle = bundleKernels(kernelsFile, used, {
        timing: timingProtocol(options),
        // The runner kills a command before the host gives up on the case, so the case gets its own errored result.
        timeoutMs: Math.max(500, caseMs - Math.min(5000, caseMs * 0.2)),
        ceilings: !values['no-ceilings'],
      });
      plan.external = bundle.external;
      native = bundle.native;
    }
  }
  const transport = { ...transportTimeouts, waitForLock: values.wait, shipNode: values['ship-node'] };
  // A local device another run holds: refused up front, before anything is built or printed (the lock step of
  // the run itself refuses one taken in between, as it does for an SSH device).
  if (!values.wait) {
    const held = devices.map((d) => {
      const dir = d.transport === 'local' ? localWorkDir(d) : null;
      const holder = dir ? localLockHolder(dir) : null;
      return holder && dir
        ? new DeviceBusyError(
            d.name,
            `device ${d.name} is busy: locked by ${holder}. Pass --wait to wait for it, or remove ${join(dir, 'lock')} if that run is gone`,
          )
        : null;
    });
    if (held.every((b) => b !== null)) {
      for (const b of held) {
        if (values.json) process.stdout.write(`${JSON.stringify({ type: 'device-busy', device: b.device, message: b.message })}\n`);
        process.stderr.write(`roofbench: ${b.message}; nothing was run or stored\n`);
      }
      return DEVICE_BUSY_EXIT;
    }
  }
  const multi = devices.length > 1;
  const mode = multi && !values.json ? 'plain' : Progress.modeFor(values.json);
  const pairs = items.reduce((n, i) => n + i.variants.length, 0);
  const t0 = Date.now();
  const interrupt = new Interrupt((m) => process.stderr.write(`\n${m}\n`)).install();
  // stdout (or stderr: `2>&1 | head -2`) piped into something that stopped reading (`| head -1`): stop the run
  // in order, like a signal. Without a listener on stderr its EPIPE crashed roofbench, leaving results.json 'running'.
  let outputGone = false;
  const onGone = (e: NodeJS.ErrnoException) => {
    // Every later write fails the same way: one stop, not a "second signal".
    if (e.code === 'EPIPE' && !outputGone) {
      outputGone = true;
      interrupt.receive('SIGPIPE');
    }
  };
  process.stdout.on('error', onGone);
  process.stderr.on('error', onGone);
  const payload = await buildPayload({ log: (m) => process.stderr.write(`${m}\n`), ...(native ? { native, arch: nativeArch(process.arch) } : {}) });
  // --peers: the peers part (cached by hash under .cache/peers/), when a planned case runs a peer.
  if (plan.extraVariants?.some((e) => e.kind === 'peer')) payload.peers = await buildPeersPayload();
  if (interrupt.interrupted) {
    process.stderr.write(`roofbench: interrupted (${interrupt.by}) before the run started: nothing was measured\n`);
    return INTERRUPTED_EXIT;
  }
  // Every run gets a directory of its own, claimed atomically (runs started in the same second
  // get <run-id>-2 ...; the directory's name is the run's id).
  const dirs = devices.map((device) => {
    try {
      if (outDir !== null) {
        claimDir(outDir, `--out ${values.out}`);
        return outDir;
      }
      return claimRunDir(join(reportsDir(), device.name), runId);
    } catch (e) {
      if (e instanceof OutPathError) throw new UsageError(e.message);
      throw e;
    }
  });
  const writers = new Set<RunWriter>();
  interrupt.onExit(() => {
    for (const w of writers) if (!w.finished) w.finish(null, `${interrupt.by ?? 'a signal'}, then exited at once`);
  });
  const settled = await Promise.all(
    devices.map(async (device, i) => {
      const dir = dirs[i]!;
      const id = outDir !== null ? runId : runIdOf(dir);
      const progress = new Progress(mode, device.name);
      progress.expect(items.map((i) => i.variants.length));
      // With several thread counts each pair runs at each (or is skipped there, saying why): say so beside the count.
      // One count other than 1 is said too ('--threads all' or '--threads 2' alone read like a one-thread run).
      const t = options.threads ?? [1];
      const counts =
        t.length > 1 ? `, each at ${t.join(', ')} threads` : t[0] !== 1 ? `, at ${t[0] === 'all' ? "all the device's cores" : `${t[0]} threads`}` : '';
      progress.info(`${items.length} cases, ${pairs} case x variant pairs${counts}${values.quick ? ' (quick)' : ''}; run ${id}`);
      if (baselinesAdded.length) {
        progress.info(
          `also running ${baselinesAdded.join(', ')}: the accuracy decision compares the selected fast variants with them (--no-baselines to leave them out)`,
        );
      }
      // Emulated devices: the ceilings would measure the emulator, and take minutes under qemu.
      const devicePlan = { ...plan, runId: id, ...(device.emulated ? { measureCeilings: false } : {}) };
      return runOnDevice({
        device,
        plan: devicePlan,
        dir,
        progress,
        payload,
        transport,
        abort: interrupt.signal,
        onWriter: (w) => writers.add(w),
        memory: deviceMemory(device, historyPath(values.history), devicePlan),
      }).catch((e: unknown) => {
        if (!(e instanceof DeviceBusyError)) throw e;
        // Refused before anything ran: no run directory (an --out directory is left empty), no report, no history.
        if (outDir === null) rmSync(dir, { recursive: true, force: true });
        return e;
      });
    }),
  );
  const busy = settled.filter((o): o is DeviceBusyError => o instanceof DeviceBusyError);
  const outcomes = settled.filter((o): o is Exclude<typeof o, DeviceBusyError> => !(o instanceof DeviceBusyError));
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  let exit = 0;
  for (const b of busy) {
    exit = DEVICE_BUSY_EXIT;
    if (values.json) process.stdout.write(`${JSON.stringify({ type: 'device-busy', device: b.device, message: b.message })}\n`);
    process.stderr.write(`roofbench: ${b.message}; nothing was run or stored\n`);
  }
  // Append every run to the history store; results.json is already written, so a failing store only warns.
  const stored = new Map<string, string>();
  if (!values['no-history']) {
    for (const res of outcomes) {
      try {
        const rec = recordRun(res.run, { dbPath: values.history, commit });
        let msg = `stored in ${rec.dbPath}${rec.newSeries.length ? ` (${rec.newSeries.length} new series)` : ''}`;
        if (rec.identityChanged) msg += `; device identity changed (${rec.identityChanges.join('; ')}): new series start here`;
        stored.set(res.device, msg);
      } catch (e) {
        stored.set(res.device, `NOT stored: ${(e as Error).message}`);
      }
    }
  }
  for (const res of outcomes) {
    const counts = { passed: 0, inaccurate: 0, errored: 0, skipped: 0 };
    for (const r of res.run.results) counts[r.state]++;
    if (res.run.status !== 'complete' || counts.errored > 0) exit = 1;
    if (res.run.status === 'interrupted') exit = INTERRUPTED_EXIT;
    if (values.gate && counts.inaccurate > 0) {
      exit = 1;
      process.stderr.write(
        `roofbench: --gate: ${counts.inaccurate} inaccurate result(s) on ${res.device}; worst:\n  ${worstInaccurate(res.run.results).join('\n  ')}\n`,
      );
    }
    if (values.json) {
      process.stdout.write(
        `${JSON.stringify({ type: 'run-complete', device: res.device, status: res.run.status, statusDetail: res.run.statusDetail, dir: res.dir, report: res.reportPath, counts, seconds: Number(secs), history: stored.get(res.device) ?? null, contention: res.run.contention ?? null })}\n`,
      );
      continue;
    }
    if (multi) process.stdout.write(`\n== ${res.device} ==`);
    process.stdout.write(`\n${summaryTable(res.run, outputWidth())}\n\n`);
    const headline =
      res.run.status === 'complete' ? 'complete' : `${res.run.status === 'interrupted' ? 'INTERRUPTED' : 'INCOMPLETE'}: ${res.run.statusDetail ?? ''}`;
    process.stdout.write(`${headline} in ${secs} s: ${countsLine(res.run.results)}\n`);
    if (res.run.status === 'complete' && res.run.statusDetail) process.stdout.write(`note: ${res.run.statusDetail}\n`);
    // A count above the device's cores is said here too (the report's header flags it; the table's @t8 did not).
    const threads = threadsSummary(res.run);
    if (threads.oversubscribed.length > 0) {
      process.stdout.write(
        `note: oversubscribed: ${threads.oversubscribed.join(', ')} threads on a device with ${threads.cores ?? '?'} cores: threads queue for a core, so those timings say nothing of how the kernels scale\n`,
      );
    }
    if (res.run.contention?.contended) {
      process.stdout.write(`note: ${res.run.contention.reason}: the timings are indicative, and compare will give this run no timing verdict\n`);
    }
    process.stdout.write(`results: ${join(res.dir, 'results.json')}\nreport:  ${res.reportPath}\n`);
    if (stored.has(res.device)) process.stdout.write(`history: ${stored.get(res.device)}\n`);
  }
  if (multi && outcomes.length > 0) {
    // Same plan, same seeds: WebAssembly outputs must be bit-identical on every device.
    const [first, ...others] = outcomes;
    for (const other of first ? others : []) {
      const p = compareChecksums(first!.run, other.run);
      if (p.mismatches.length > 0) {
        exit = 1;
        process.stderr.write(`roofbench: PORTABILITY FAILURE between ${first!.device} and ${other.device}:\n${describeMismatches(p.mismatches)}\n`);
      }
      const line = `outputs ${first!.device} vs ${other.device}: ${p.compared - p.mismatches.length}/${p.compared} bit-identical`;
      if (values.json)
        process.stdout.write(`${JSON.stringify({ type: 'portability', a: first!.device, b: other.device, compared: p.compared, mismatches: p.mismatches })}\n`);
      else process.stdout.write(`${line}\n`);
    }
    const index = await renderCombinedIndex(outcomes, claimRunDir(join(reportsDir(), 'multi'), runId));
    if (values.json) process.stdout.write(`${JSON.stringify({ type: 'combined-index', path: index })}\n`);
    else process.stdout.write(`\ncombined index: ${index}\n`);
  }
  // A signal that came after every run had finished (while storing or printing) interrupted nothing:
  // the exit code follows the runs (130 when one of them was interrupted, set above).
  interrupt.uninstall();
  return exit;
}

/** A device another run holds (without --wait): refused, nothing run or stored (EX_TEMPFAIL, the device wrapper's own code). */
export const DEVICE_BUSY_EXIT = LOCK_HELD_EXIT;

/** The repository's example kernels file (--native-example). */
const NATIVE_EXAMPLE = join(ROOT, 'examples', 'native-conv', 'kernels.yaml');

/**
 * Loads the kernels file of a run, checked against the suites' cases and variant names. Only the
 * builds of the targeted devices' architectures must exist: a run on this machine only (its own
 * Node) needs this machine's; any other device (its architecture known once connected) every declared one.
 */
function loadRunKernels(file: string, devices: readonly Device[]): KernelsFile {
  const cases = suites.flatMap((s) => [true, false].flatMap((quick) => s.cases({ quick, seed: 1, distribution: 'uniform(-1,1)' })));
  const builtin = [
    ...suites.flatMap((s) => [...s.variants.map((v) => v.name), ...extraVariantsFor([s]).map((e) => buildExtraVariant(e).name)]),
    ...Object.values(PEER_VARIANT_NAMES),
  ];
  const here = nativeArch(process.arch);
  const localOnly = devices.length > 0 && devices.every((d) => d.transport === 'local' && d.node.length === 1 && d.node[0] === 'node');
  return loadKernelsFile(file, {
    knownCases: [...new Set(cases.flatMap((c) => [c.layer, c.id]))],
    builtinVariants: builtin,
    ...(localOnly && here ? { archs: [here] } : devices.length === 0 ? { archs: [] } : {}),
  });
}

/** Test-only: ROOFBENCH_TEST_RUN_ID fixes the run id (to start several runs "in the same second"). */
function testRunId(): string | undefined {
  const id = process.env.ROOFBENCH_TEST_RUN_ID;
  if (!id) return undefined;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(id)) throw new UsageError(`ROOFBENCH_TEST_RUN_ID "${id}" is not a valid run id`);
  process.stderr.write(`roofbench: TEST RUN ID ACTIVE: ${id}\n`);
  return id;
}

/** Test-only fault injection, from ROOFBENCH_TEST_FAULTS (JSON); see TestFaults in contracts.ts. */
function testFaultsFromEnv(): TestFaults | undefined {
  const raw = process.env.ROOFBENCH_TEST_FAULTS;
  if (!raw) return undefined;
  const parsed = TestFaults.safeParse(JSON.parse(raw));
  if (!parsed.success) throw new UsageError(`ROOFBENCH_TEST_FAULTS is not valid: ${parsed.error.message}`);
  process.stderr.write(`roofbench: TEST FAULTS ACTIVE: ${raw}\n`);
  return parsed.data;
}

const REPORT_OPTIONS = {
  format: { type: 'string', default: 'html' },
  out: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

const REPORT_HELP = `usage: npm run report -- <run-dir> [<run-dir> ...] [--format html|csv|md] [--out FILE]

  re-render a run's report from its results.json (a run directory or the file itself)

  --format html   <run-dir>/index.html, the HTML report (default)
  --format csv    one row per case x variant, for a spreadsheet (columns: docs/results.md)
  --format md     a Markdown summary table, for a pull-request comment
  --out FILE      write csv/md there (default: stdout); with several runs, their outputs follow one another
`;

async function report(argv: string[]): Promise<number> {
  checkNpmArgs(REPORT_OPTIONS, []);
  const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: REPORT_OPTIONS });
  if (values.help || positionals.length === 0) {
    (values.help ? process.stdout : process.stderr).write(REPORT_HELP);
    return values.help ? 0 : 2;
  }
  const format = values.format as ExportFormat;
  if (!EXPORT_FORMATS.includes(format)) {
    throw new UsageError(`--format must be one of ${EXPORT_FORMATS.join(', ')}, got "${values.format}"${suggestion(values.format, EXPORT_FORMATS)}`);
  }
  if (values.out && format === 'html') throw new UsageError('--out is for --format csv or md; the HTML report is written into the run directory');
  // Every run is rendered; one that fails is reported and the others still are.
  const failed: string[] = [];
  const texts: string[] = [];
  for (const p of positionals) {
    const dir = resolve(p);
    try {
      const run = readRun(dir);
      if (format === 'html') {
        const out = await renderReport(run, dir.endsWith('.json') ? resolve(dir, '..') : dir);
        process.stdout.write(`report: ${out}\n`);
      } else {
        texts.push(format === 'csv' ? runToCsv(run) : runToMarkdown(run));
      }
    } catch (e) {
      let msg = (e as Error).message;
      for (let c = (e as Error).cause; c instanceof Error; c = c.cause) msg += `\n  caused by: ${c.message}`;
      failed.push(p);
      process.stderr.write(`roofbench: ${p}: ${msg}\n`);
    }
  }
  if (format === 'csv' && texts.length > 1) {
    // One header for all runs: the rows carry their run id and device.
    texts.splice(1, texts.length - 1, ...texts.slice(1).map((t) => t.slice(t.indexOf('\r\n') + 2)));
  }
  const text = texts.join(format === 'md' ? '\n' : '');
  if (format !== 'html' && texts.length > 0) {
    if (values.out) {
      writeFileSync(values.out, text);
      process.stderr.write(`${format}: ${resolve(values.out)}\n`);
    } else {
      process.stdout.write(text);
    }
  }
  if (failed.length > 0) {
    process.stderr.write(`roofbench: ${failed.length} of ${positionals.length} report(s) failed: ${failed.join(', ')}\n`);
    return 1;
  }
  return 0;
}

const COMMANDS = ['bench', 'report', 'list'];

async function main(): Promise<number> {
  const [command, ...rest] = process.argv.slice(2);
  switch (command) {
    case 'bench':
      return bench(rest);
    case 'report':
      return report(rest);
    case 'list':
      return bench(['--list', ...rest]);
    case '-v':
    case '--version':
      process.stdout.write(versionText());
      return 0;
    case undefined:
    case '-h':
    case '--help':
      process.stdout.write(HELP);
      return 0;
    default:
      throw new UsageError(`unknown command "${command}"${suggestion(command, COMMANDS)}; commands: ${COMMANDS.join(', ')}`);
  }
}

/**
 * Ends the process once stdout and stderr are flushed. The command's work is done and saved by now; a
 * connection that died mid-run (sshd killed while results streamed in) can leave an ssh2 handle behind
 * that would otherwise keep the process alive for minutes after its report was written.
 */
function finish(code: number): void {
  process.exitCode = code;
  let pending = 2;
  const done = () => {
    if (--pending === 0) process.exit(code);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
}

main().then(
  (code) => finish(code),
  (e: unknown) => {
    const err = e as Error & { code?: string };
    let msg = err instanceof Error ? err.message : String(e);
    if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      msg = `${msg}\nrun with --help for the options`;
    }
    let cause = err instanceof Error ? err.cause : undefined;
    while (cause instanceof Error) {
      msg += `\n  caused by: ${cause.message}`;
      cause = cause.cause;
    }
    process.stderr.write(`roofbench: ${msg}\n`);
    finish(e instanceof UsageError || err.code?.startsWith('ERR_PARSE_ARGS') || err.name === 'ConfigError' ? 2 : 1);
  },
);
