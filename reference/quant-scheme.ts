/**
 * Low-precision schemes as data (pure, payload-safe): what a low-precision
 * variant does to the float tensors of a case in `prepare`, outside the timed
 * region ("dtypes are a property of a variant" in the design; docs/precision.md).
 *
 * - `fp16-storage`: weights and activations stored as IEEE half, arithmetic in
 *   fp32 (WebAssembly has no fp16 arithmetic); which tensors are half is the kernel's (describeScheme).
 * - `fp16-arith`: every product and sum rounded to half, emulated exactly
 *   (reference/fp16.ts). Accuracy only: its timings measure nothing.
 * - `int8`: weights symmetric in [-127, 127], per tensor or per output channel,
 *   scaled from their max |w|; activations per tensor, `int8` symmetric (zero
 *   point 0, [-128, 127]) or `uint8` asymmetric ([0, 255] with a zero point),
 *   their range calibrated by `calibration` on inputs drawn with a different
 *   seed from the evaluated ones (reference/calibration.ts); int32 accumulation;
 *   the output `requantize`d to the activation type with the output's own
 *   calibrated scale (the next layer's input scale), or `dequantize`d to fp32.
 *   Rounding rules: reference/quant.ts.
 *
 * A scheme has a short label used in variant names (`schemeLabel`) and a text
 * form for the command line (`parseScheme`), e.g. `int8:per-channel,uint8,mse`.
 */
import { z } from 'zod';

export const CALIBRATION_METHODS = ['minmax', 'percentile', 'mse', 'entropy'] as const;
export const CalibrationMethod = z.enum(CALIBRATION_METHODS);
export type CalibrationMethod = z.infer<typeof CalibrationMethod>;

/** The percentile calibration's default: 99.99 (of |x| for int8, of x and its mirror for uint8). */
export const DEFAULT_PERCENTILE = 99.99;
/** Histogram bins of the MSE and entropy calibrations (TensorRT's 2048). */
export const DEFAULT_BINS = 2048;

export const Calibration = z.object({
  method: CalibrationMethod,
  /** percentile only: in (0, 100]. */
  percentile: z
    .number()
    .gt(0, { message: 'a percentile must be in (0, 100]' })
    .lte(100, { message: 'a percentile must be in (0, 100]' })
    .default(DEFAULT_PERCENTILE),
  /** mse and entropy: histogram bins (at least 512, so entropy's 256-level search has room). */
  bins: z.number().int().min(512).max(65536).default(DEFAULT_BINS),
});
export type Calibration = z.infer<typeof Calibration>;

export const Int8Scheme = z.object({
  kind: z.literal('int8'),
  weights: z.enum(['per-tensor', 'per-channel']),
  activations: z.enum(['int8', 'uint8']),
  calibration: Calibration,
  output: z.enum(['requantize', 'dequantize']),
});
export type Int8Scheme = z.infer<typeof Int8Scheme>;

export const Fp16StorageScheme = z.object({ kind: z.literal('fp16-storage') });
export type Fp16StorageScheme = z.infer<typeof Fp16StorageScheme>;

export const Fp16ArithScheme = z.object({ kind: z.literal('fp16-arith'), accumulate: z.enum(['f16', 'f32']).default('f16') });
export type Fp16ArithScheme = z.infer<typeof Fp16ArithScheme>;

export const Scheme = z.discriminatedUnion('kind', [Int8Scheme, Fp16StorageScheme, Fp16ArithScheme]);
export type Scheme = z.infer<typeof Scheme>;

/** An int8 scheme with the defaults filled in: per-channel weights, int8 activations, percentile 99.99, requantized output. */
export function int8Scheme(p: Partial<Omit<Int8Scheme, 'kind' | 'calibration'>> & { calibration?: Partial<Calibration> } = {}): Int8Scheme {
  return Int8Scheme.parse({
    kind: 'int8',
    weights: p.weights ?? 'per-channel',
    activations: p.activations ?? 'int8',
    calibration: { method: 'percentile', ...p.calibration },
    output: p.output ?? 'requantize',
  });
}

/** The schemes a user gets without asking: the issue's table. */
export const DEFAULT_SCHEMES: readonly Scheme[] = Object.freeze([
  { kind: 'fp16-storage' },
  { kind: 'fp16-arith', accumulate: 'f16' },
  int8Scheme({ weights: 'per-tensor', activations: 'int8' }),
  int8Scheme({ weights: 'per-channel', activations: 'int8' }),
  int8Scheme({ weights: 'per-tensor', activations: 'uint8' }),
  int8Scheme({ weights: 'per-channel', activations: 'uint8' }),
]);

/** The calibration part of a label: '' for the default percentile, else minmax, p<P>, mse, kl. */
function calibrationLabel(c: Calibration): string {
  switch (c.method) {
    case 'percentile':
      return c.percentile === DEFAULT_PERCENTILE ? '' : `p${c.percentile}`;
    case 'entropy':
      return 'kl';
    default:
      return c.method;
  }
}

/**
 * The scheme's short label, for variant names (lower case, dash-separated):
 * `fp16`, `fp16arith`, `fp16arith-acc32`, and for int8
 * `<pt|pc>[-<calibration>][-dq]` (the dtype, i8 or u8, ends the variant name):
 * e.g. `pc` (per-channel, percentile 99.99, requantized), `pt-mse-dq`, `pc-p99.9`.
 */
export function schemeLabel(s: Scheme): string {
  switch (s.kind) {
    case 'fp16-storage':
      return 'fp16';
    case 'fp16-arith':
      return s.accumulate === 'f32' ? 'fp16arith-acc32' : 'fp16arith';
    case 'int8': {
      const parts = [s.weights === 'per-channel' ? 'pc' : 'pt', calibrationLabel(s.calibration)];
      if (s.output === 'dequantize') parts.push('dq');
      return parts.filter((p) => p !== '').join('-');
    }
  }
}

/** The storage dtype a scheme gives its variants' names: f16, i8 (int8 activations) or u8 (uint8 activations). */
export function schemeDtype(s: Scheme): 'f16' | 'i8' | 'u8' {
  if (s.kind !== 'int8') return 'f16';
  return s.activations === 'uint8' ? 'u8' : 'i8';
}

/** A human description of the scheme, for reports. */
export function describeScheme(s: Scheme): string {
  switch (s.kind) {
    case 'fp16-storage':
      return "fp16 storage: operands stored as IEEE half (round to nearest even), arithmetic in fp32; which tensors are half is the kernel's (the GEMM and depthwise store weights, input and output as half; the Winograd F(4x4)/F(6x6) kernels the transformed weights and input tiles, input and output f32)";
    case 'fp16-arith':
      return `fp16 arithmetic, emulated: every product${s.accumulate === 'f32' ? ' exact, every sum rounded to fp32' : ' and every sum rounded to half'}; accuracy only`;
    case 'int8': {
      const c = s.calibration;
      const cal =
        c.method === 'percentile' ? `percentile ${c.percentile}` : c.method === 'entropy' ? 'entropy (KL)' : c.method === 'mse' ? 'MSE-optimal' : 'min/max';
      return (
        `int8: weights symmetric ${s.weights} in [-127, 127]; activations ${s.activations === 'int8' ? 'int8 symmetric' : 'uint8 asymmetric with a zero point'} per tensor, ` +
        `calibrated by ${cal} on inputs of another seed; int32 accumulation; output ${s.output === 'requantize' ? `requantized to ${s.activations}` : 'dequantized to fp32'}`
      );
    }
  }
}

const SCHEME_KINDS = ['int8', 'fp16', 'fp16-arith'];
const INT8_OPTIONS = 'per-tensor|pt, per-channel|pc, int8|s8, uint8|u8, minmax, percentile[=P], mse, entropy|kl, requantize|rq, dequantize|dq';

/**
 * Parses the text form of a scheme: `fp16`, `fp16-arith[:acc32]`, or
 * `int8[:opt,opt,...]` with options (any order, each kind at most once):
 * per-tensor|pt, per-channel|pc; int8|s8, uint8|u8; minmax, percentile[=P]
 * (P in (0, 100], default 99.99), mse, entropy|kl; requantize|rq, dequantize|dq.
 * Omitted options take int8Scheme's defaults. Throws a RangeError that names
 * the bad part and lists what is valid.
 */
export function parseScheme(text: string): Scheme {
  const t = text.trim();
  const colon = t.indexOf(':');
  const kind = (colon < 0 ? t : t.slice(0, colon)).trim().toLowerCase();
  const opts =
    colon < 0
      ? []
      : t
          .slice(colon + 1)
          .split(',')
          .map((o) => o.trim().toLowerCase())
          .filter((o) => o !== '');
  const bad = (what: string): never => {
    throw new RangeError(`scheme "${text}": ${what}`);
  };
  if (kind === 'fp16' || kind === 'fp16-storage') {
    if (opts.length) bad(`fp16 storage takes no options (got ${opts.join(', ')})`);
    return { kind: 'fp16-storage' };
  }
  if (kind === 'fp16-arith') {
    if (opts.length > 1 || (opts.length === 1 && opts[0] !== 'acc32' && opts[0] !== 'acc16')) {
      bad(`fp16-arith takes acc16 (default: sums rounded to half) or acc32 (sums in fp32), got ${opts.join(', ')}`);
    }
    return { kind: 'fp16-arith', accumulate: opts[0] === 'acc32' ? 'f32' : 'f16' };
  }
  if (kind !== 'int8') bad(`unknown scheme "${kind}" (known: ${SCHEME_KINDS.join(', ')})`);
  const set: { weights?: Int8Scheme['weights']; activations?: Int8Scheme['activations']; calibration?: Partial<Calibration>; output?: Int8Scheme['output'] } =
    {};
  const once = <K extends keyof typeof set>(key: K, value: NonNullable<(typeof set)[K]>, opt: string) => {
    if (set[key] !== undefined) bad(`"${opt}" conflicts with an earlier ${key} option`);
    set[key] = value;
  };
  for (const o of opts) {
    const [name, arg] = o.split('=', 2) as [string, string | undefined];
    if (arg !== undefined && name !== 'percentile') bad(`option "${o}" takes no value`);
    switch (name) {
      case 'per-tensor':
      case 'pt':
        once('weights', 'per-tensor', o);
        break;
      case 'per-channel':
      case 'pc':
        once('weights', 'per-channel', o);
        break;
      case 'int8':
      case 's8':
        once('activations', 'int8', o);
        break;
      case 'uint8':
      case 'u8':
        once('activations', 'uint8', o);
        break;
      case 'minmax':
      case 'mse':
        once('calibration', { method: name }, o);
        break;
      case 'entropy':
      case 'kl':
        once('calibration', { method: 'entropy' }, o);
        break;
      case 'percentile': {
        const p = arg === undefined ? DEFAULT_PERCENTILE : Number(arg);
        if (arg !== undefined && (arg.trim() === '' || !Number.isFinite(p))) bad(`percentile "${arg}" is not a number`);
        if (!(p > 0 && p <= 100)) bad(`percentile ${p} is outside (0, 100]`);
        once('calibration', { method: 'percentile', percentile: p }, o);
        break;
      }
      case 'requantize':
      case 'rq':
        once('output', 'requantize', o);
        break;
      case 'dequantize':
      case 'dq':
        once('output', 'dequantize', o);
        break;
      default:
        bad(`unknown int8 option "${o}" (calibration methods: ${CALIBRATION_METHODS.join(', ')}; options: ${INT8_OPTIONS})`);
    }
  }
  return int8Scheme(set);
}
