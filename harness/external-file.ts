/**
 * The external kernels file (`--kernels my-kernels.yaml`): the user's native
 * kernels, declared as data, validated once at load with file:line errors the
 * way devices.yaml is (every problem at once; see docs/native-kernels.md for the
 * format and core/external.ts for what travels to the device).
 *
 *   kernels:
 *     - name: conv-im2col-gemm-native-f32
 *       op: conv
 *       dtype: f32
 *       cases: all                       # or a list of layers: [vgg16.conv3_2, resnet50.res2b.branch2b]
 *       applies: { groups: 1 }           # optional: other cases are skipped
 *       files:
 *         binary: { x86-64: build/x86-64/native-conv, arm64: build/arm64/native-conv }
 *       command: ["{binary}", "--algo", "gemm", "{work}"]
 *   ceilings:                            # optional: the native roof (peak and bandwidth probe)
 *     files: { binary: { x86-64: build/x86-64/native-ceilings } }
 *     command: ["{binary}"]
 *
 * Paths are relative to the file's folder. Every declared file must exist; a
 * binary must be an executable ELF file of the architecture it is declared for.
 *
 * Host-side only (reads files).
 */
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConvShape, type CaseSpec } from '../core/contracts.js';
import { ConfigError, expectation, want, wantMapping, type Finding } from './devices.js';
import { parseYamlConfig } from './config-yaml.js';
import {
  NATIVE_ARCHS,
  PLACEHOLDERS,
  templateParts,
  type ExternalCommandSpec,
  type ExternalVariantSpec,
  type NativeArch,
  type Placeholder,
} from '../core/external.js';
import { suggestion } from './suggest.js';
import { VARIANT_NAME } from '../suites/define.js';

/** A kernels file larger than this is refused: it is a short list of kernels. */
const MAX_FILE_BYTES = 1024 * 1024;

/** Where a kernel's files are on this machine (absolute paths). */
export type HostFiles = { kind: 'binary'; binaries: Partial<Record<NativeArch, string>> } | { kind: 'dir'; dir: string; script: string | null };

/** A command to run on the device (the ceilings probe): its spec for the device and its files here. */
export interface ExternalCommand {
  spec: ExternalCommandSpec;
  files: HostFiles;
}

/** One declared kernel: its spec for the device, its files here, the cases it is for. */
export interface ExternalKernel {
  spec: ExternalVariantSpec;
  files: HostFiles;
  /** `all`, or the layers (or case ids) it is declared for. */
  cases: 'all' | string[];
}

export interface KernelsFile {
  file: string;
  kernels: ExternalKernel[];
  /** The native ceilings probe, when the file declares one. */
  ceilings: ExternalCommand | null;
}

export interface KernelsFileOptions {
  /** Layers (or case ids) of the suites: a `cases:` entry not among them is an error (with a "did you mean"). */
  knownCases?: readonly string[];
  /** Names of the built-in variants: an external kernel may not take one. */
  builtinVariants?: readonly string[];
  /** Check the binaries of these architectures only (those of the devices a run targets); default: all declared. */
  archs?: readonly NativeArch[];
}

// ---------------------------------------------------------------------------
// Schema
// ---------------------------------------------------------------------------

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SHAPE_KEYS = Object.keys(ConvShape.shape) as (keyof ConvShape)[];

const nonEmpty = (expected: string, hint?: string) => z.string(want(expected, hint)).min(1, want(expected, hint));

/** `binary:` a path (one ELF binary, its architecture read from its header) or a mapping of architecture to path. */
const binaryField = z.unknown().transform((v, ctx) => {
  const fail = (message: string, at: PropertyKey[] = []) => {
    ctx.issues.push({ code: 'custom', message, input: v, path: at });
    return z.NEVER;
  };
  const expected = `a path to a binary, or a mapping of architecture (${NATIVE_ARCHS.join(', ')}) to path`;
  if (typeof v === 'string' && v.length > 0) return v;
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    return fail(expectation(expected, v, 'e.g. { x86-64: build/x86-64/conv, arm64: build/arm64/conv }'));
  const out: Partial<Record<NativeArch, string>> = {};
  const entries = Object.entries(v);
  if (entries.length === 0) return fail(expectation(expected, v, 'the mapping is empty'));
  for (const [k, p] of entries) {
    if (!(NATIVE_ARCHS as readonly string[]).includes(k)) {
      return fail(
        `unknown architecture "${k}"${suggestion(k, NATIVE_ARCHS, { x8664: 'x86-64', amd64: 'x86-64', x64: 'x86-64', aarch64: 'arm64', armv7l: 'armhf', arm: 'armhf' })}; valid: ${NATIVE_ARCHS.join(', ')}`,
        [k],
      );
    }
    if (typeof p !== 'string' || p.length === 0) return fail(expectation('a path to the binary built for this architecture', p), [k]);
    out[k as NativeArch] = p;
  }
  return out;
});

/** `command:` an argv list; a string is refused (there is no shell). */
const commandField = z.unknown().transform((v, ctx) => {
  const fail = (message: string, at: PropertyKey[] = []) => {
    ctx.issues.push({ code: 'custom', message, input: v, path: at });
    return z.NEVER;
  };
  if (typeof v === 'string') {
    const words = v.trim().split(/\s+/).filter(Boolean);
    return fail(
      `expected a list of arguments (argv), got a string: roofbench runs the command without a shell, so it must be a YAML list, e.g. ${JSON.stringify(words.length > 0 ? words : ['{binary}', '{work}'])}`,
    );
  }
  if (!Array.isArray(v)) return fail(expectation('a list of arguments (argv)', v, 'e.g. ["{binary}", "{work}"]'));
  if (v.length === 0) return fail('expected a list of arguments (argv), got an empty list: the first one is the program, e.g. ["{binary}", "{work}"]');
  const argv: string[] = [];
  for (const [i, a] of v.entries()) {
    if (typeof a === 'number') argv.push(String(a));
    else if (typeof a === 'string' && (a.length > 0 || i > 0)) argv.push(a);
    else return fail(expectation(i === 0 ? 'the program to run (a non-empty string)' : 'a string', a, 'one argument of the command'), [i]);
  }
  return argv;
});

const envField = z.record(
  z.string(),
  z.union([z.string(), z.number()], want('a string', 'the value of the environment variable')).transform(String),
  wantMapping('a mapping of environment variable names to values', 'e.g. { OMP_NUM_THREADS: 1 }'),
);

const FilesSchema = z.strictObject(
  {
    binary: binaryField.optional(),
    dir: nonEmpty('a directory to upload', 'e.g. my-kernel/').optional(),
    script: nonEmpty('the path of the script inside dir', 'e.g. run.py').optional(),
  },
  wantMapping('a mapping with binary: (built binaries) or dir: and script: (a script and its directory)'),
);

const AppliesSchema = z.strictObject(
  Object.fromEntries(
    SHAPE_KEYS.map((k) => [
      k,
      z
        .number(want('an integer'))
        .int(want('an integer'))
        .min(k === 'pad' ? 0 : 1, want(k === 'pad' ? 'a non-negative integer' : 'a positive integer'))
        .optional(),
    ]),
  ) as Record<keyof ConvShape, z.ZodOptional<z.ZodNumber>>,
  wantMapping('a mapping of shape fields to the values the kernel handles', `e.g. { groups: 1, stride: 1 }; fields: ${SHAPE_KEYS.join(', ')}`),
);

const AccuracySchema = z.union(
  [z.literal('exact'), z.strictObject({ maxRelL2: z.number().positive() })],
  want('exact, or { maxRelL2: <budget> } for an approximate algorithm', 'exact: held to the fp32 rounding-error bounds of the reduction'),
);

const CasesSchema = z.union(
  [z.literal('all'), z.array(nonEmpty('a layer name', 'e.g. vgg16.conv3_2')).min(1)],
  want('all, or a list of layers', 'e.g. [vgg16.conv3_2, resnet50.res2b.branch2b]'),
);

const CommandKeys = {
  files: FilesSchema,
  command: commandField,
  env: envField.optional(),
};

const KernelSchema = z.strictObject(
  {
    name: nonEmpty('a variant name <op>-<algorithm>[-<detail>]-<dtype>', 'e.g. conv-im2col-gemm-native-f32'),
    op: z.literal('conv', want('conv', 'the only operator external kernels implement for now')),
    algorithm: nonEmpty('the algorithm family', 'e.g. im2col-gemm, direct, winograd').optional(),
    dtype: z.literal('f32', want('f32', 'the only dtype external kernels take for now: x.npy, w.npy and out.npy are float32')),
    description: z.string(want('a string')).optional(),
    cases: CasesSchema,
    applies: AppliesSchema.optional(),
    accuracy: AccuracySchema.optional(),
    ...CommandKeys,
  },
  wantMapping('a mapping describing one kernel', 'name, op, dtype, cases, files, command, ...'),
);

const CeilingsSchema = z.strictObject(CommandKeys, wantMapping('a mapping with files: and command: (the native peak and bandwidth probe)'));

const FileSchema = z.strictObject(
  {
    kernels: z.array(KernelSchema, want('a list of kernels', 'each with name, op, dtype, cases, files and command')).optional(),
    ceilings: CeilingsSchema.optional(),
  },
  wantMapping('a mapping with kernels: (and optionally ceilings:)', 'see docs/native-kernels.md', true),
);

type ParsedFiles = z.output<typeof FilesSchema>;

const TOP_KEYS = Object.keys(FileSchema.shape);
const KERNEL_KEYS = Object.keys(KernelSchema.shape);
const CEILING_KEYS = Object.keys(CeilingsSchema.shape);
const FILES_KEYS = Object.keys(FilesSchema.shape);

function validKeysAt(p: readonly PropertyKey[]): { keys: readonly string[]; what: string } {
  const [a, , c] = p;
  if (p.length === 0) return { keys: TOP_KEYS, what: 'top-level key' };
  if (a === 'kernels' && p.length === 2) return { keys: KERNEL_KEYS, what: 'kernel key' };
  if (a === 'kernels' && c === 'files' && p.length === 3) return { keys: FILES_KEYS, what: 'files key' };
  if (a === 'kernels' && c === 'applies') return { keys: SHAPE_KEYS, what: 'shape field' };
  if (a === 'ceilings' && p.length === 1) return { keys: CEILING_KEYS, what: 'ceilings key' };
  if (a === 'ceilings' && p[1] === 'files') return { keys: FILES_KEYS, what: 'files key' };
  return { keys: [], what: 'key' };
}

// ---------------------------------------------------------------------------
// Checks across fields, and of the files on disk
// ---------------------------------------------------------------------------

type Raw = Record<string, unknown>;
const isRecord = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The architecture of an ELF binary from its header; 'other' for another machine; null when not an ELF file. */
export function elfArch(file: string): NativeArch | 'other' | null {
  const head = Buffer.alloc(20);
  const fd = openSync(file, 'r');
  try {
    if (readSync(fd, head, 0, 20, 0) < 20) return null;
  } finally {
    closeSync(fd);
  }
  if (head.readUInt32BE(0) !== 0x7f454c46) return null;
  const bits = head[4] === 2 ? 64 : 32;
  const machine = head[5] === 2 ? head.readUInt16BE(18) : head.readUInt16LE(18);
  if (machine === 62 && bits === 64) return 'x86-64';
  if (machine === 183 && bits === 64) return 'arm64';
  if (machine === 40 && bits === 32) return 'armhf';
  return 'other';
}

/** `~` and `~/x` to the home directory, relative paths against the file's folder. */
function hostPath(p: string, baseDir: string): string {
  if (p === '~') return homedir();
  if (p.startsWith('~/')) return path.join(homedir(), p.slice(2));
  return path.resolve(baseDir, p);
}

/** Why `p` cannot be used as what it is declared as, or null. */
function fileProblem(p: string, kind: 'binary' | 'dir' | 'script'): string | null {
  let st;
  try {
    st = statSync(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT'
      ? `not found (looked for ${p})${kind === 'binary' ? ': build it first (e.g. scripts/build-native.sh ARCH for the example)' : ''}`
      : `cannot be read (${p}): ${(e as Error).message}`;
  }
  if (kind === 'dir') return st.isDirectory() ? null : `${p} is not a directory`;
  if (!st.isFile()) return `${p} is not a file`;
  if (kind === 'binary' && (st.mode & 0o111) === 0) return `${p} is not executable (chmod +x ${p})`;
  return null;
}

interface CommandContext {
  /** Placeholders this command may use. */
  valid: readonly Placeholder[];
  baseDir: string;
  archs: readonly NativeArch[] | undefined;
}

/** The files of one declaration (kernel or ceilings probe): their rules, their existence, the command's placeholders. */
function commandChecks(d: Raw, at: PropertyKey[], ctx: CommandContext): Finding[] {
  const out: Finding[] = [];
  const files = d.files;
  const kind = isRecord(files) ? (files.binary !== undefined ? 'binary' : files.dir !== undefined ? 'dir' : null) : null;
  if (isRecord(files)) {
    if (files.binary !== undefined && files.dir !== undefined) {
      out.push({ path: [...at, 'files'], at: 'key', message: 'declare either binary: (built binaries) or dir: (a directory with a script), not both' });
    } else if (kind === null) {
      out.push({ path: [...at, 'files'], at: 'key', message: 'missing: binary: (built binaries) or dir: (a directory to upload, with script:)' });
    }
    if (files.script !== undefined && files.dir === undefined) {
      out.push({ path: [...at, 'files', 'script'], at: 'key', message: 'script: is a path inside dir:; add the dir: that holds it' });
    }
    out.push(...fileChecks(files, [...at, 'files'], ctx));
  }
  // The command's placeholders: known ones, those this declaration has values for, and the files used.
  const command = d.command;
  if (Array.isArray(command)) {
    const used = new Set<string>();
    for (const [i, a] of command.entries()) {
      if (typeof a !== 'string') continue;
      let parts;
      try {
        parts = templateParts(a);
      } catch (e) {
        out.push({ path: [...at, 'command', i], at: 'value', message: (e as Error).message });
        continue;
      }
      for (const p of parts) {
        if (!('name' in p)) continue;
        used.add(p.name);
        const known = Object.keys(PLACEHOLDERS);
        if (!known.includes(p.name)) {
          out.push({
            path: [...at, 'command', i],
            at: 'value',
            message: `unknown placeholder {${p.name}}${suggestion(p.name, known)}; placeholders: ${ctx.valid.map((v) => `{${v}}`).join(' ')} (write {{ and }} for literal braces)`,
          });
        } else if (
          !(ctx.valid as readonly string[]).includes(p.name) ||
          (p.name === 'binary' && kind === 'dir') ||
          ((p.name === 'dir' || p.name === 'script') && kind === 'binary')
        ) {
          out.push({
            path: [...at, 'command', i],
            at: 'value',
            message: `{${p.name}} (${PLACEHOLDERS[p.name as Placeholder]}) has no value here; this command can use ${ctx.valid
              .filter((v) => !(kind === 'dir' && v === 'binary') && !(kind === 'binary' && (v === 'dir' || v === 'script')))
              .map((v) => `{${v}}`)
              .join(' ')}`,
          });
        } else if (p.name === 'script' && isRecord(files) && files.script === undefined) {
          out.push({
            path: [...at, 'command', i],
            at: 'value',
            message: '{script} is used but files: has no script:; add script: (its path inside dir:) or use {dir}/...',
          });
        }
      }
    }
    if (kind === 'binary' && !used.has('binary')) {
      out.push({ path: [...at, 'command'], at: 'value', message: 'the command never runs the uploaded binary: use {binary}, e.g. ["{binary}", "{work}"]' });
    }
    if (kind === 'dir' && !used.has('dir') && !used.has('script')) {
      out.push({
        path: [...at, 'command'],
        at: 'value',
        message: 'the command never uses the uploaded directory: use {script} or {dir}, e.g. ["python3", "{script}", "{work}"]',
      });
    }
  }
  return out;
}

function fileChecks(files: Raw, at: PropertyKey[], ctx: CommandContext): Finding[] {
  const out: Finding[] = [];
  const binary = files.binary;
  const checkBinary = (p: string, where: PropertyKey[], declared: NativeArch | null) => {
    const abs = hostPath(p, ctx.baseDir);
    const problem = fileProblem(abs, 'binary');
    if (problem) return out.push({ path: where, at: 'value', message: problem });
    const arch = elfArch(abs);
    if (arch === null) {
      return out.push({
        path: where,
        at: 'value',
        message: `${abs} is not an ELF executable: for a script, declare files: { dir: <its folder>, script: <its name> } and run it with its interpreter`,
      });
    }
    if (arch === 'other')
      return out.push({ path: where, at: 'value', message: `${abs} is an ELF binary for an architecture roofbench does not run (${NATIVE_ARCHS.join(', ')})` });
    if (declared !== null && arch !== declared) {
      return out.push({
        path: where,
        at: 'value',
        message: `${abs} is an ${arch} binary, declared for ${declared}: check the build (scripts/build-native.sh ${declared})`,
      });
    }
    return 0;
  };
  if (typeof binary === 'string' && binary.length > 0) {
    if (ctx.archs === undefined || ctx.archs.length > 0) checkBinary(binary, [...at, 'binary'], null);
  } else if (isRecord(binary)) {
    for (const [arch, p] of Object.entries(binary)) {
      if (typeof p !== 'string' || !(NATIVE_ARCHS as readonly string[]).includes(arch)) continue;
      if (ctx.archs !== undefined && !ctx.archs.includes(arch as NativeArch)) continue;
      checkBinary(p, [...at, 'binary', arch], arch as NativeArch);
    }
  }
  if (typeof files.dir === 'string' && files.dir.length > 0) {
    const dir = hostPath(files.dir, ctx.baseDir);
    const problem = fileProblem(dir, 'dir');
    if (problem) out.push({ path: [...at, 'dir'], at: 'value', message: problem });
    else if (typeof files.script === 'string' && files.script.length > 0) {
      const script = path.resolve(dir, files.script);
      const rel = path.relative(dir, script);
      if (rel.startsWith('..') || path.isAbsolute(rel)) {
        out.push({
          path: [...at, 'script'],
          at: 'value',
          message: `${files.script} is outside dir: ${dir} (only dir: is uploaded; give the script's path inside it)`,
        });
      } else {
        const sp = fileProblem(script, 'script');
        if (sp) out.push({ path: [...at, 'script'], at: 'value', message: sp });
      }
    }
  }
  return out;
}

const KERNEL_PLACEHOLDERS: readonly Placeholder[] = ['work', 'case', 'x', 'w', 'out', 'binary', 'dir', 'script'];
const CEILING_PLACEHOLDERS: readonly Placeholder[] = ['work', 'binary', 'dir', 'script'];

function crossChecks(raw: unknown, baseDir: string, opts: KernelsFileOptions): Finding[] {
  if (!isRecord(raw)) return [];
  const out: Finding[] = [];
  if (raw.kernels === undefined && raw.ceilings === undefined) {
    out.push({
      path: [],
      at: 'key',
      message: 'declares nothing: add kernels: (a list of kernels) and/or ceilings: (the native peak and bandwidth probe); see docs/native-kernels.md',
    });
  }
  const ctx = (valid: readonly Placeholder[]): CommandContext => ({ valid, baseDir, archs: opts.archs });
  if (isRecord(raw.ceilings)) out.push(...commandChecks(raw.ceilings, ['ceilings'], ctx(CEILING_PLACEHOLDERS)));
  if (!Array.isArray(raw.kernels)) return out;
  const names = new Map<string, number>();
  for (const [i, k] of raw.kernels.entries()) {
    if (!isRecord(k)) continue;
    const at = (...p: PropertyKey[]) => ['kernels', i, ...p];
    if (typeof k.name === 'string') {
      const name = k.name;
      if (!VARIANT_NAME.test(name)) {
        out.push({
          path: at('name'),
          at: 'value',
          message: `"${name}" does not follow the variant grammar <op>-<algorithm>[-<detail>]-<dtype>: lower-case letters, digits and dots in parts joined by -, e.g. conv-im2col-gemm-native-f32`,
        });
      } else {
        if (typeof k.dtype === 'string' && !name.endsWith(`-${k.dtype}`))
          out.push({ path: at('name'), at: 'value', message: `"${name}" declares dtype ${k.dtype} but does not end in -${k.dtype}` });
        if (typeof k.op === 'string' && !name.startsWith(k.op))
          out.push({
            path: at('name'),
            at: 'value',
            message: `"${name}" is a ${k.op} kernel: its name must start with ${k.op}, e.g. ${k.op}-im2col-gemm-native-f32`,
          });
      }
      const first = names.get(name);
      if (first !== undefined)
        out.push({ path: at('name'), at: 'value', message: `duplicate kernel name "${name}" (also kernels[${first}]): each variant needs its own name` });
      else names.set(name, i);
      if (opts.builtinVariants?.includes(name))
        out.push({
          path: at('name'),
          at: 'value',
          message: `"${name}" is a built-in variant: give the external kernel its own name (e.g. add -native before the dtype)`,
        });
    }
    if (Array.isArray(k.cases) && opts.knownCases) {
      for (const [j, c] of k.cases.entries()) {
        if (typeof c === 'string' && !opts.knownCases.includes(c)) {
          out.push({ path: at('cases', j), at: 'value', message: `unknown case "${c}"${suggestion(c, opts.knownCases)}; see npm run bench -- --list` });
        }
      }
    }
    if (isRecord(k.env)) {
      for (const name of Object.keys(k.env)) {
        if (!ENV_NAME.test(name))
          out.push({
            path: at('env', name),
            at: 'key',
            message: `"${name}" is not a valid environment variable name (letters, digits and _, not starting with a digit)`,
          });
      }
    }
    out.push(...commandChecks(k, ['kernels', i], ctx(KERNEL_PLACEHOLDERS)));
  }
  return out;
}

// ---------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------

/** Reads and validates a kernels file. Throws a ConfigError naming file:line:column and field of every problem. */
export function loadKernelsFile(file: string, opts: KernelsFileOptions = {}): KernelsFile {
  const abs = path.resolve(file);
  let text: string;
  try {
    const size = statSync(abs).size;
    if (size > MAX_FILE_BYTES) throw new Error(`is ${size} bytes, more than the ${MAX_FILE_BYTES} a kernels file may have: check the path`);
    text = readFileSync(abs, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const message =
      code === 'ENOENT'
        ? `not found (looked for ${abs}): give the path of your kernels file (see docs/native-kernels.md)`
        : `cannot be read (${abs}): ${(e as Error).message}`;
    throw new ConfigError([{ file, line: null, column: null, field: '', message }], { cause: e });
  }
  return parseKernelsFile(text, file, opts);
}

/** Validates the text of a kernels file; `file` names it in messages and its folder is the base of relative paths. */
export function parseKernelsFile(text: string, file: string, opts: KernelsFileOptions = {}): KernelsFile {
  const baseDir = path.dirname(path.resolve(file));
  let parsed;
  try {
    parsed = parseYamlConfig(text, file, FileSchema, { validKeysAt, crossChecks: (raw) => crossChecks(raw, baseDir, opts) });
  } catch (e) {
    throw e instanceof ConfigError ? withKernelNames(e, text) : e;
  }
  const { data, lineOf } = parsed;
  const hostFiles = (f: ParsedFiles): HostFiles => {
    if (f.binary !== undefined) {
      if (typeof f.binary === 'string') {
        const p = hostPath(f.binary, baseDir);
        const arch = elfArch(p);
        // Checked above: an ELF of a known architecture.
        return { kind: 'binary', binaries: arch === null || arch === 'other' ? {} : { [arch]: p } };
      }
      const binaries: Partial<Record<NativeArch, string>> = {};
      for (const [a, p] of Object.entries(f.binary) as [NativeArch, string][]) binaries[a] = hostPath(p, baseDir);
      return { kind: 'binary', binaries };
    }
    const dir = hostPath(f.dir ?? '.', baseDir);
    return { kind: 'dir', dir, script: f.script === undefined ? null : path.resolve(dir, f.script) };
  };
  const command = (c: { files: ParsedFiles; command: string[]; env?: Record<string, string> | undefined }, source: string) => {
    const files = hostFiles(c.files);
    const spec: ExternalCommandSpec = {
      files: files.kind,
      archs: files.kind === 'binary' ? (Object.keys(files.binaries) as NativeArch[]) : [],
      command: c.command,
      env: c.env ?? {},
      source,
    };
    return { spec, files };
  };
  const kernels = (data.kernels ?? []).map((k, i): ExternalKernel => {
    const { spec, files } = command(k, `${file}:${lineOf(['kernels', i])}`);
    const accuracy =
      k.accuracy === undefined || k.accuracy === 'exact' ? { kind: 'exact' as const } : { kind: 'approximate' as const, maxRelL2: k.accuracy.maxRelL2 };
    return {
      spec: {
        ...spec,
        name: k.name,
        op: k.op,
        algorithm: k.algorithm ?? k.name.slice(k.op.length + 1, -(k.dtype.length + 1)),
        dtype: k.dtype,
        description: k.description ?? `external kernel declared in ${spec.source}`,
        applies: Object.fromEntries(Object.entries(k.applies ?? {}).filter(([, v]) => v !== undefined)),
        accuracy,
      },
      files,
      cases: k.cases,
    };
  });
  const ceilings = data.ceilings === undefined ? null : command(data.ceilings, `${file}:${lineOf(['ceilings'])}`);
  return { file, kernels, ceilings };
}

/** The same problems with each kernel's field named by its variant: `kernels[2] (conv-mine-native-f32).command`. */
function withKernelNames(e: ConfigError, text: string): ConfigError {
  let names: unknown[] = [];
  try {
    const raw: unknown = parseYaml(text);
    if (isRecord(raw) && Array.isArray(raw.kernels)) names = raw.kernels.map((k) => (isRecord(k) && typeof k.name === 'string' ? k.name : null));
  } catch {
    return e;
  }
  const problems = e.problems.map((p) => ({
    ...p,
    field: p.field.replace(/^kernels\[(\d+)\]/, (m, i: string) => (typeof names[Number(i)] === 'string' ? `${m} (${String(names[Number(i)])})` : m)),
  }));
  return new ConfigError(problems, { cause: e.cause });
}

/** Whether a declared kernel is for this case (`cases: all`, or its layer or id listed). */
export function kernelForCase(k: Pick<ExternalKernel, 'cases'>, c: Pick<CaseSpec, 'id' | 'layer'>): boolean {
  return k.cases === 'all' || k.cases.includes(c.layer) || k.cases.includes(c.id);
}
