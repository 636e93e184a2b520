/**
 * "Did you mean": the closest valid name to a mistyped one (devices, cases,
 * variants, suites, options, commands), and node:util's parseArgs with that
 * hint added to its unknown-option error. Pure, no I/O.
 */
import { parseArgs as nodeParseArgs, type ParseArgsConfig } from 'node:util';

/** Optimal string alignment distance (a transposition counts 1: `hots` -> `host`). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number): number => d[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i <= a.length; i++) {
    const row = d[i];
    if (!row) continue;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, at(i - 2, j - 2) + 1);
      row[j] = v;
    }
  }
  return at(a.length, b.length);
}

/**
 * The closest valid name to `name`, if it is close enough to be a likely typo
 * (case-insensitive; 1 edit for short names, up to 3 for long ones). `aliases`
 * maps common other names (lower case, without - and _) to a valid one.
 */
export function didYouMean(name: string, valid: readonly string[], aliases: Readonly<Record<string, string>> = {}): string | undefined {
  const lower = name.toLowerCase();
  const alias = aliases[lower.replace(/[-_]/g, '')];
  if (alias && valid.includes(alias)) return alias;
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  for (const v of valid) {
    const d = editDistance(lower, v.toLowerCase());
    if (d < bestD) {
      best = v;
      bestD = d;
    }
  }
  const limit = lower.length <= 4 ? 1 : lower.length <= 8 ? 2 : 3;
  return bestD <= limit ? best : undefined;
}

/** ` (did you mean "x"?)`, or '' when nothing is close. */
export function suggestion(name: string, valid: readonly string[], aliases?: Readonly<Record<string, string>>): string {
  const s = didYouMean(name, valid, aliases);
  return s === undefined ? '' : ` (did you mean "${s}"?)`;
}

/**
 * What each option that takes a value wants, and an example, for "--device needs a value" (node:util says only
 * "Option '--device <value>' argument missing"). One table for every command line (bench, report, history,
 * analyze, devices); an option missing here still gets a message naming it.
 */
export const OPTION_VALUES: Readonly<Record<string, readonly [what: string, example: string]>> = {
  device: ['a registered device (npm run devices -- list)', 'local'],
  devices: ['a devices.yaml file', 'devices.yaml'],
  suite: ['a suite name (npm run bench -- --list)', 'conv'],
  case: ['case ids or layer names', 'resnet50.res2a.branch2b'],
  variant: ['variant names', 'conv-im2col-gemm-f32'],
  filter: ['a regular expression', 'winograd'],
  threads: ['thread counts (whole numbers >= 1, or all)', '1,2'],
  model: ['a zoo name, an .onnx or a zoo-format .yaml file', 'mobilenet_v1'],
  chain: ['MODEL:FIRST..LAST', 'vgg16:conv3_1..conv3_3'],
  policy: ['im2col or best', 'best'],
  pattern: ['pruning patterns', '2:4,1x4'],
  sparsity: ['fractions or percentages', '0.5,90%'],
  tile: ['tile sizes in output pixels per side', '8,16'],
  schemes: ['low-precision schemes', '"int8:pc,mse;fp16"'],
  winograd: ['M:POINTS', '"4:0,1,-1,2,-2,inf"'],
  kernels: ['a kernels file', 'examples/native-conv/kernels.yaml'],
  out: ['a path', 'reports/my-run'],
  history: ['a history store file', 'reports/history.sqlite'],
  seed: ['a whole number, 1 to 4294967295', '7'],
  distribution: ['an input distribution', 'normal(0,1)'],
  'target-ms': ['milliseconds', '500'],
  'min-samples': ['a whole number', '8'],
  'cv-target': ['a fraction', '0.05'],
  'max-rel-l2': ['a relative L2 error', '1e-4'],
  'max-abs': ['an absolute error', '1e-3'],
  'min-sqnr-db': ['decibels', '40'],
  commit: ['a git commit', '3f2c1ab'],
  'commit-from': ['a git checkout', '../my-kernels'],
  'case-timeout': ['seconds', '600'],
  'connect-timeout': ['seconds', '15'],
  'step-timeout': ['seconds', '120'],
  format: ['an output format', 'md'],
  run: ['a run id, latest or previous', 'latest'],
  at: ['an ISO date-time', '2026-01-31T12:00:00Z'],
  now: ['an ISO date-time', '2026-01-31T12:00:00Z'],
  series: ['a series key (npm run history -- series)', '8b47bd231a280eb6'],
  limit: ['a whole number', '20'],
  threshold: ['a percentage', '5%'],
  'run-noise': ['a percentage', '1%'],
  'min-change': ['a percentage', '3%'],
  'min-segment': ['a whole number of runs', '7'],
  alpha: ['a significance level', '0.01'],
  guard: ['a quantile', '0.9'],
  penalty: ['a penalty factor', '3'],
  'contention-limit': ['CPU cores', '0.5'],
  host: ['a host name or address', 'rpi3.local'],
  key: ['an SSH private key file', '~/.ssh/id_ed25519'],
  'password-env': ['an environment variable holding the password', 'RPI_PASSWORD'],
  profile: ['a device profile in devices.yaml', 'rpi3'],
  'work-dir': ['a directory on the device', '~/.cache/roofbench'],
};

/** "--device needs a value: a registered device (...), e.g. --device local". */
export function missingValueMessage(option: string): string {
  const v = OPTION_VALUES[option];
  return v ? `--${option} needs a value: ${v[0]}, e.g. --${option} ${v[1]}` : `--${option} needs a value, e.g. --${option} VALUE`;
}

/**
 * node:util's parseArgs, with "did you mean --x?" added to an unknown option's error, and an option given
 * without its value ("--device" last, or followed by another option) said as what it needs, with an example
 * (the errors keep their code, so callers still map them to a usage error). A negative number after an
 * option that takes a value ("--threads -1") is that option's value, for its own check to judge.
 */
export function parseArgs<T extends ParseArgsConfig>(config: T): ReturnType<typeof nodeParseArgs<T>> {
  const options = config.options ?? {};
  const takesValue = (a: string | undefined) => a !== undefined && /^--[^=]+$/.test(a) && options[a.slice(2)]?.type === 'string';
  const args = config.args?.flatMap((a, i, all) =>
    /^-\d/.test(a) && takesValue(all[i - 1]) ? [] : takesValue(a) && /^-\d/.test(all[i + 1] ?? '') ? [`${a}=${all[i + 1]}`] : [a],
  );
  try {
    return nodeParseArgs(args ? { ...config, args } : config);
  } catch (e) {
    const err = e as Error & { code?: string };
    // node:util's own message is replaced, not added as a cause: it would only repeat it less clearly.
    const rethrow = (message: string) => {
      const better = new Error(message);
      (better as Error & { code?: string }).code = err.code;
      return better;
    };
    if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      const m = /^Option '--([^' ]+)(?: <value>)?' argument (missing|is ambiguous)/.exec(err.message);
      if (m?.[1]) throw rethrow(missingValueMessage(m[1]));
      throw e;
    }
    if (err.code !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw e;
    const m = /Unknown option '(-{1,2})([^'=]+)/.exec(err.message);
    const names = Object.keys(options);
    const hint = m?.[2] ? didYouMean(m[2], names) : undefined;
    if (hint === undefined) throw e;
    throw rethrow(`unknown option ${m?.[1] ?? '--'}${m?.[2] ?? ''} (did you mean --${hint}?)`);
  }
}
