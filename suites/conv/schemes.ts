/**
 * Host side: the low-precision schemes of a run, from the suite's data (suites/conv/schemes.yaml) or the
 * command line (--schemes), validated once, at load, into the parametrised variants they add
 * (ExtraVariant kind 'scheme') and the scheme keys that select the run's low-precision variants.
 * Errors name where (file:line, or the option), what is wrong, and the closest valid word.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LineCounter, parseDocument, isSeq, isMap } from 'yaml';
import { z } from 'zod';
import { SCHEME_KERNELS, type ExtraVariant } from '../../core/contracts.js';
import { CALIBRATION_METHODS, parseScheme, schemeDtype, schemeLabel, type Scheme } from '../../reference/quant-scheme.js';
import { suggestion } from '../../harness/suggest.js';
import { schemeKernelProblem, schemeKernels, type SchemeKernel } from './scheme-variants.js';

export const SCHEMES_FILE = fileURLToPath(new URL('./schemes.yaml', import.meta.url));

/** What identifies a scheme among variants: its label and storage dtype (pc-i8, pt-u8, fp16-f16, fp16arith-f16). */
export function schemeKey(s: Scheme): string {
  return `${schemeLabel(s)}-${schemeDtype(s)}`;
}

/** Common other names of the kernels (lower case, without - and _). */
const KERNEL_ALIASES: Record<string, string> = {
  im2col: 'im2col-gemm',
  gemm: 'im2col-gemm',
  dw: 'depthwise',
  winograd: 'winograd-f2x2',
  f2x2: 'winograd-f2x2',
  fp16arith: 'emulated',
};

const KINDS = ['int8', 'fp16', 'fp16-storage', 'fp16-arith'];
const INT8_WORDS = ['per-tensor', 'pt', 'per-channel', 'pc', 'int8', 's8', 'uint8', 'u8', ...CALIBRATION_METHODS, 'kl', 'requantize', 'rq', 'dequantize', 'dq'];

/** parseScheme, with "did you mean" for a mistyped scheme or option, and `where` leading the message. */
export function schemeFromText(text: string, where: string): Scheme {
  try {
    return parseScheme(text);
  } catch (cause) {
    const t = text.trim();
    const colon = t.indexOf(':');
    const kind = (colon < 0 ? t : t.slice(0, colon)).trim().toLowerCase();
    let hint = '';
    if (!KINDS.includes(kind)) hint = suggestion(kind, KINDS);
    else if (kind === 'int8') {
      const words = t
        .slice(colon + 1)
        .split(',')
        .map((o) => o.trim().toLowerCase().split('=')[0]!)
        .filter((o) => o !== '' && !INT8_WORDS.includes(o));
      hint = words.map((w) => suggestion(w, INT8_WORDS)).join('');
    }
    throw new RangeError(`${where}: ${(cause as Error).message}${hint}`, { cause });
  }
}

/** The scheme on each kernel (its default kernels where none are named), as parametrised variants. */
export function schemeExtras(text: string, kernels: readonly string[] | undefined, where: string): ExtraVariant[] {
  const s = schemeFromText(text, where);
  const ks = kernels ?? schemeKernels(s);
  return ks.map((k) => {
    if (!(SCHEME_KERNELS as readonly string[]).includes(k)) {
      throw new RangeError(`${where}: unknown kernel "${k}"${suggestion(k, SCHEME_KERNELS, KERNEL_ALIASES)} (kernels: ${SCHEME_KERNELS.join(', ')})`);
    }
    const bad = schemeKernelProblem(s, k as SchemeKernel);
    if (bad !== null) throw new RangeError(`${where}: ${bad}`);
    return { suite: 'conv', kind: 'scheme' as const, scheme: text.trim(), kernel: k as SchemeKernel };
  });
}

const Entry = z.strictObject({ scheme: z.string().min(1), kernels: z.array(z.string()).min(1).optional() });

/** The suite's default schemes (schemes.yaml) as parametrised variants; errors name file:line. */
export function readSchemes(file = SCHEMES_FILE): { extras: ExtraVariant[]; keys: string[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new Error(`cannot read the schemes file ${file}: restore it from git (suites/conv/schemes.yaml)`, { cause });
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc });
  if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
  const root = doc.contents;
  if (!isSeq(root)) throw new Error(`${file}: expected a list of entries "- scheme: TEXT" (see the comment at its top)`);
  const extras: ExtraVariant[] = [];
  const keys: string[] = [];
  root.items.forEach((item, i) => {
    const line = lc.linePos(isMap(item) && item.range ? item.range[0] : 0).line;
    const where = `${file}:${line} (entry ${i + 1})`;
    const parsed = Entry.safeParse((item as { toJSON(): unknown }).toJSON());
    if (!parsed.success) throw new Error(`${where}: ${parsed.error.issues.map((e) => `${e.path.join('.') || 'entry'}: ${e.message}`).join('; ')}`);
    extras.push(...schemeExtras(parsed.data.scheme, parsed.data.kernels, where));
    keys.push(schemeKey(schemeFromText(parsed.data.scheme, where)));
  });
  return { extras, keys };
}

/** --schemes values (repeatable; several in one value separated by ';'): their variants and keys. Errors name the option. */
export function schemesOption(values: readonly string[]): { extras: ExtraVariant[]; keys: string[] } {
  const texts = values
    .flatMap((v) => v.split(';'))
    .map((t) => t.trim())
    .filter((t) => t !== '');
  if (texts.length === 0) throw new RangeError('--schemes: no scheme given (e.g. --schemes "int8:pc,mse"; schemes: int8[:options], fp16, fp16-arith[:acc32])');
  const extras: ExtraVariant[] = [];
  const keys: string[] = [];
  for (const t of texts) {
    extras.push(...schemeExtras(t, undefined, `--schemes "${t}"`));
    const s = schemeFromText(t, `--schemes "${t}"`);
    keys.push(schemeKey(s));
    // The models suite quantizes whole networks by the int8 schemes: all-int8 and the mixed-precision plan (suites/models/quantized.ts).
    if (s.kind === 'int8')
      for (const network of ['all', 'mixed'] as const) extras.push({ suite: 'models', kind: 'scheme', scheme: t, kernel: 'im2col-gemm', network });
  }
  return { extras, keys };
}
