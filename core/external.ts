/**
 * The external-kernel contract ("bring your own kernel", docs/native-kernels.md):
 * what travels from the host to the device about a user's native kernel, the
 * case.json the harness writes for each case, the timing protocol, and the
 * argv template of the command.
 *
 * The kernels file (`--kernels my-kernels.yaml`) is read and validated on the
 * host (harness/external-file.ts); the device runs the command for one case and
 * checks what it hands back (harness/runner/external.ts).
 *
 * Payload-safe: zod and plain functions only (no fs, no network).
 */
import { z } from 'zod';
import { ConvShape, type CaseSpec } from './contracts.js';
import { convOutputSize } from '../reference/conv.js';

/** Version of the protocol, written into every case.json. */
export const PROTOCOL = 'roofbench-native/1';

// ---------------------------------------------------------------------------
// Architectures
// ---------------------------------------------------------------------------

/** The architectures a kernel may ship builds for (the names of scripts/build-native.sh). */
export const NATIVE_ARCHS = ['x86-64', 'armhf', 'arm64'] as const;
export type NativeArch = (typeof NATIVE_ARCHS)[number];

/** The native architecture of a Node runtime, from its `process.arch` (null for one roofbench builds nothing for). */
export function nativeArch(processArch: string): NativeArch | null {
  switch (processArch) {
    case 'x64':
      return 'x86-64';
    case 'arm':
      return 'armhf';
    case 'arm64':
      return 'arm64';
    default:
      return null;
  }
}

// ---------------------------------------------------------------------------
// The argv template
// ---------------------------------------------------------------------------

/**
 * Placeholders of a command's argv template, and what each becomes on the device.
 * `{{` and `}}` stand for literal braces. Each placeholder is replaced inside an
 * argument; arguments are never split or joined (there is no shell).
 */
export const PLACEHOLDERS = {
  work: 'the case work directory (the current directory of the command): x.npy, w.npy, case.json; out.npy goes there',
  case: 'the path of case.json',
  x: 'the path of x.npy (the input, NCHW)',
  w: 'the path of w.npy (the weights, KCRS)',
  out: 'the path where the command writes out.npy',
  binary: 'the path of the uploaded binary for the device architecture (files: binary)',
  dir: 'the uploaded directory (files: dir)',
  script: 'the path of the script inside the uploaded directory (files: dir + script)',
} as const;
export type Placeholder = keyof typeof PLACEHOLDERS;

/** The parts of one template argument: literal text and placeholder names, in order. Throws on an unmatched brace. */
export function templateParts(arg: string): ({ text: string } | { name: string })[] {
  const parts: ({ text: string } | { name: string })[] = [];
  let text = '';
  for (let i = 0; i < arg.length; i++) {
    const c = arg[i];
    if (c === '{' && arg[i + 1] === '{') {
      text += '{';
      i++;
    } else if (c === '}' && arg[i + 1] === '}') {
      text += '}';
      i++;
    } else if (c === '{') {
      const end = arg.indexOf('}', i);
      if (end < 0) throw new Error(`unmatched "{" in ${JSON.stringify(arg)} (write {{ for a literal brace)`);
      if (text) parts.push({ text });
      text = '';
      parts.push({ name: arg.slice(i + 1, end) });
      i = end;
    } else if (c === '}') {
      throw new Error(`unmatched "}" in ${JSON.stringify(arg)} (write }} for a literal brace)`);
    } else {
      text += c;
    }
  }
  if (text) parts.push({ text });
  return parts;
}

/** The placeholder names an argv template uses (unknown ones included, for the loader to report). */
export function templatePlaceholders(argv: readonly string[]): string[] {
  return argv.flatMap((a) => templateParts(a).flatMap((p) => ('name' in p ? [p.name] : [])));
}

/** The argv with every placeholder replaced. Throws naming a placeholder that has no value here. */
export function expandArgv(argv: readonly string[], values: Partial<Record<Placeholder, string>>): string[] {
  return argv.map((a) =>
    templateParts(a)
      .map((p) => {
        if ('text' in p) return p.text;
        const v = (values as Record<string, string | undefined>)[p.name];
        if (v === undefined) throw new Error(`placeholder {${p.name}} in ${JSON.stringify(a)} has no value here`);
        return v;
      })
      .join(''),
  );
}

// ---------------------------------------------------------------------------
// The variant as it travels in the plan
// ---------------------------------------------------------------------------

/** Shape fields a kernel can be restricted to (`applies: { groups: 1 }`): a case with another value is skipped. */
export const AppliesTo = ConvShape.partial();
export type AppliesTo = z.infer<typeof AppliesTo>;

export const ExternalAccuracy = z.union([
  z.object({ kind: z.literal('exact') }),
  z.object({ kind: z.literal('approximate'), maxRelL2: z.number().positive() }),
]);
export type ExternalAccuracy = z.infer<typeof ExternalAccuracy>;

/**
 * A command to run on the device (a kernel, or the native ceilings probe),
 * resolved on the host: everything the device needs except where its files are
 * (the upload decides that and passes their device paths).
 */
export const ExternalCommandSpec = z.object({
  /** What is uploaded: one binary per architecture, or a directory (with a script in it). */
  files: z.enum(['binary', 'dir']),
  /** The architectures the command has a binary for (files: binary). */
  archs: z.array(z.enum(NATIVE_ARCHS)),
  /** argv template (PLACEHOLDERS); never a shell string. */
  command: z.array(z.string()).min(1),
  /** Extra environment variables of the command. */
  env: z.record(z.string(), z.string()),
  /** Where it is declared, `file:line`, for messages. */
  source: z.string(),
});
export type ExternalCommandSpec = z.infer<typeof ExternalCommandSpec>;

/** An external variant: its command and what the harness needs to know of it (name, op, dtype, accuracy ...). */
export const ExternalVariantSpec = ExternalCommandSpec.extend({
  /** `<op>-<algorithm>[-<detail>]-<dtype>`, e.g. `conv-im2col-gemm-native-f32`. */
  name: z.string(),
  op: z.literal('conv'),
  algorithm: z.string(),
  dtype: z.literal('f32'),
  description: z.string(),
  applies: AppliesTo,
  accuracy: ExternalAccuracy,
});
export type ExternalVariantSpec = z.infer<typeof ExternalVariantSpec>;

/** `true`, or why the kernel does not apply to this shape (the result is then `skipped`). */
export function externalApplies(spec: Pick<ExternalVariantSpec, 'applies' | 'source'>, shape: ConvShape): true | string {
  const wrong = (Object.entries(spec.applies) as [keyof ConvShape, number | undefined][]).filter(([k, v]) => v !== undefined && shape[k] !== v);
  if (wrong.length === 0) return true;
  return `declared for ${wrong.map(([k, v]) => `${k} = ${v}`).join(', ')} only (applies: in ${spec.source}); this case has ${wrong.map(([k]) => `${k} = ${shape[k]}`).join(', ')}`;
}

// ---------------------------------------------------------------------------
// The timing protocol and case.json
// ---------------------------------------------------------------------------

/**
 * How the command times the kernel, as TVM's time_evaluator: `warmup` untimed
 * runs, then `repeat` repeats; each repeat times `number` back-to-back runs and
 * reports their mean. When a repeat lasts less than `minRepeatMs`, it is
 * discarded, `number` grows to max(floor(minRepeatMs / (t / number) + 1),
 * floor(number * 1.618)) (t the repeat's duration, ms) and the repeat is redone;
 * `number` keeps its grown value for the next repeats.
 */
export const TimingProtocol = z.object({
  warmup: z.number().int().nonnegative(),
  repeat: z.number().int().positive(),
  /** Runs per repeat to start with. */
  number: z.number().int().positive(),
  minRepeatMs: z.number().positive(),
});
export type TimingProtocol = z.infer<typeof TimingProtocol>;

/** TVM's growth rule for `number` after a repeat of `ms` that was too short (see TimingProtocol). */
export function grownNumber(number: number, ms: number, minRepeatMs: number): number {
  const perRun = ms / number;
  const aim = perRun > 0 ? Math.floor(minRepeatMs / perRun + 1) : Number.MAX_SAFE_INTEGER;
  return Math.min(Number.MAX_SAFE_INTEGER, Math.max(aim, Math.floor(number * 1.618), number + 1));
}

/** The protocol of a run from its options: at least minSamples repeats of at least minSampleMs each. */
export function timingProtocol(options: { quick: boolean; minSamples: number; minSampleMs: number }): TimingProtocol {
  return { warmup: options.quick ? 1 : 2, repeat: options.minSamples, number: 1, minRepeatMs: options.minSampleMs };
}

const Tensor = z.object({ file: z.string(), shape: z.array(z.number().int().nonnegative()), dtype: z.string() });

/** case.json: what the command reads besides the .npy files. */
export const CaseFile = z.object({
  protocol: z.literal(PROTOCOL),
  variant: z.string(),
  /** `<suite>/<layer>`, e.g. `conv/vgg16.conv3_2`. */
  case: z.string(),
  op: z.literal('conv'),
  shape: ConvShape,
  inputs: z.object({ x: Tensor, w: Tensor }),
  output: Tensor,
  timing: TimingProtocol,
});
export type CaseFile = z.infer<typeof CaseFile>;

/** The case.json of one case for one variant. */
export function caseFile(variant: string, c: Pick<CaseSpec, 'id' | 'shape'>, timing: TimingProtocol): CaseFile {
  const s = c.shape;
  const { ho, wo } = convOutputSize(s);
  return {
    protocol: PROTOCOL,
    variant,
    case: c.id,
    op: 'conv',
    shape: s,
    inputs: {
      x: { file: 'x.npy', shape: [s.n, s.c, s.h, s.w], dtype: '<f4' },
      w: { file: 'w.npy', shape: [s.k, s.c / s.groups, s.r, s.s], dtype: '<f4' },
    },
    output: { file: 'out.npy', shape: [s.n, s.k, ho, wo], dtype: '<f4' },
    timing,
  };
}

// ---------------------------------------------------------------------------
// What the plan carries (`--kernels FILE`)
// ---------------------------------------------------------------------------

/**
 * Where a command's files are inside the payload directory (relative paths):
 * one binary per architecture (the payload built for a device holds only its
 * own), or the uploaded directory and the script in it.
 */
export const PayloadFiles = z.object({
  binary: z.object({ 'x86-64': z.string().optional(), armhf: z.string().optional(), arm64: z.string().optional() }).optional(),
  dir: z.string().optional(),
  script: z.string().optional(),
});
export type PayloadFiles = z.infer<typeof PayloadFiles>;

/** The external kernels of a run: each spec with its files in the payload, the native ceilings probe, the timing protocol. */
export const PlanExternal = z.object({
  /** The kernels file, for messages. */
  file: z.string(),
  kernels: z.array(z.object({ spec: ExternalVariantSpec, files: PayloadFiles })),
  ceilings: z.object({ spec: ExternalCommandSpec, files: PayloadFiles }).optional(),
  timing: TimingProtocol,
  /** A command still running after this long is killed and its case errored (the run's --case-timeout, less a margin). */
  timeoutMs: z.number().positive(),
});
export type PlanExternal = z.infer<typeof PlanExternal>;
