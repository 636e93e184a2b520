/**
 * The device registry: devices.yaml, its loader and its validation.
 *
 * devices.yaml holds `profiles` (theoretical ceilings of a kind of hardware:
 * peak GFLOP/s per dtype, DRAM bandwidth, cache sizes) and `devices` (machines
 * a suite can run on: `local`, or a host reached over SSH, optionally pointing
 * at a profile). The file is validated once, here, at load: every problem is
 * reported with file:line:column, the field, what was expected and what to do,
 * all problems at once. See docs/devices.md for the format.
 *
 * Host-side only (reads files, knows the home directory).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { Document, isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Node, type Pair, type YAMLMap } from 'yaml';
import { z } from 'zod';
import type { TheoreticalCeilings } from '../core/contracts.js';
import { didYouMean as closestName, suggestion as suggestionText } from './suggest.js';

// ---------------------------------------------------------------------------
// Public types and constants
// ---------------------------------------------------------------------------

/** The device used when none is named; always present in a registry. */
export const DEFAULT_DEVICE = 'local';
/** Default remote cache directory of an ssh device (`~` is the remote user's home). */
export const DEFAULT_WORK_DIR = '~/.cache/roofbench';
export const DEFAULT_SSH_PORT = 22;
/** Keys allowed under a profile's `peakGflops` (int8 and the like in GOP/s). */
export const PEAK_DTYPES = ['f64', 'f32', 'f16', 'bf16', 'int8'] as const;
export type PeakDType = (typeof PEAK_DTYPES)[number];
/** Keys allowed under a profile's `caches`. */
export const CACHE_LEVELS = ['l1d', 'l1i', 'l2', 'l3', 'onChip'] as const;
export type CacheLevel = (typeof CACHE_LEVELS)[number];
/** Device and profile names: they end up in paths and remote commands. */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]*$/;

export type Transport = 'local' | 'ssh';
/** Architectures roofbench can ship Debian's Node 18 to (Debian's names). */
export const SHIP_ARCHES = ['armhf', 'arm64', 'amd64'] as const;
export type ShipArch = (typeof SHIP_ARCHES)[number];
/** `node: ship` in a device entry: the shipped Node. */
export const NODE_SHIP = 'ship';

/** Theoretical ceilings of a kind of hardware (a `profiles:` entry). */
export interface Profile {
  name: string;
  description: string;
  /** Peak throughput per dtype, GFLOP/s (GOP/s for integer dtypes). At least one entry. */
  peakGflops: Partial<Record<PeakDType, number>>;
  /** Dtypes the datasheet gives no peak for, with why (never an invented number). */
  noPeak: Partial<Record<PeakDType, string>>;
  /** DRAM bandwidth, GB/s (1e9 bytes per second). */
  dramGbps: number;
  /** Cache sizes in bytes (l1d/l1i per core, l2/l3 as the profile's comment says). */
  caches: Partial<Record<CacheLevel, number>>;
  /** Where the figures come from. */
  source: string;
  /** Words that identify this hardware in a probed CPU or board model (`devices add` suggests the profile). */
  detect: string[];
  /** Where the profile is defined. */
  file: string;
  line: number;
}

/** A registered device, resolved: defaults applied, profile looked up, host paths expanded. */
export interface Device {
  name: string;
  description: string | null;
  transport: Transport;
  /** The `profile:` name, or null. */
  profileName: string | null;
  /** The resolved profile (theoretical ceilings), or null: then only the probe and measured roofline apply. */
  profile: Profile | null;
  /** ssh only (null for local devices). */
  host: string | null;
  /** SSH port (22 unless set; meaningless for local devices). */
  port: number;
  user: string | null;
  /** Private key file on this machine, absolute (`~` expanded, relative paths resolved against the devices.yaml folder). */
  identityFile: string | null;
  /** Authenticate with the SSH agent at SSH_AUTH_SOCK. */
  agent: boolean;
  /** NAME of the environment variable holding the SSH password (never the password itself). */
  passwordEnv: string | null;
  /** Pinned host key fingerprint, `SHA256:<base64>` as ssh-keygen -l prints it. */
  hostKey: string | null;
  /** known_hosts file on this machine, absolute (expanded like identityFile). */
  knownHosts: string | null;
  /** argv that runs Node on the device, e.g. ["node"] or ["/opt/node18/bin/node", "--max-old-space-size=256"]. */
  node: string[];
  /** `node: ship`: always run the Node roofbench ships into the work dir (harness/node-ship.ts), never the device's own. */
  nodeShip: boolean;
  /** Debian architecture of the device for the shipped Node (armhf, arm64, amd64); null: asked from the device. */
  arch: ShipArch | null;
  /** argv put before the shipped Node's loader (an emulator such as qemu-arm-static for an emulated board); empty for none. */
  launcher: string[];
  /** Cache directory on the device (for ssh devices `~` means the remote home). */
  workDir: string;
  /** The device is an emulation (e.g. QEMU) of the hardware its profile describes: timings are not the hardware's. */
  emulated: boolean;
  /** Where the device is defined; line is null for the implicit `local` device. */
  file: string;
  line: number | null;
}

export interface DeviceRegistry {
  /** The file the registry was read from (as given to loadDevices/parseDevices). */
  file: string;
  /** In file order; always contains `local`. */
  devices: Map<string, Device>;
  profiles: Map<string, Profile>;
  /** The named device; throws an Error listing the valid names for an unknown one. */
  get(name: string): Device;
}

/** One problem in a config file. line and column are 1-based, null when the problem is the file as a whole. */
export interface ConfigProblem {
  file: string;
  line: number | null;
  column: number | null;
  /** Dotted path of the field, e.g. `devices.rpi3.port`; empty for the file as a whole. */
  field: string;
  /** What is wrong and, where helpful, what to do. */
  message: string;
}

/** `file:line:col: field: message` (parts that are unknown are left out). */
export function formatProblem(p: ConfigProblem): string {
  const where = p.line === null ? p.file : `${p.file}:${p.line}:${p.column ?? 1}`;
  return p.field ? `${where}: ${p.field}: ${p.message}` : `${where}: ${p.message}`;
}

/**
 * A config file is wrong. The message lists every problem, one per line;
 * file/line/column/field describe the first one, `problems` holds them all.
 */
export class ConfigError extends Error {
  readonly file: string;
  readonly line: number | null;
  readonly column: number | null;
  readonly field: string;
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[], options?: ErrorOptions) {
    const first = problems[0];
    if (!first) throw new Error('ConfigError needs at least one problem');
    super(problems.map(formatProblem).join('\n'), options);
    this.name = 'ConfigError';
    this.file = first.file;
    this.line = first.line;
    this.column = first.column;
    this.field = first.field;
    this.problems = problems;
  }
}

// ---------------------------------------------------------------------------
// Sizes
// ---------------------------------------------------------------------------

const SIZE_EXAMPLES = 'a size such as 32KiB, 512 KiB, 2MiB, 36MB or a whole number of bytes';
const SIZE_FACTORS: Record<string, number> = {
  '': 1,
  k: 1e3,
  m: 1e6,
  g: 1e9,
  t: 1e12,
  ki: 1024,
  mi: 1024 ** 2,
  gi: 1024 ** 3,
  ti: 1024 ** 4,
};

/**
 * A size in bytes from a number of bytes or a string with a unit:
 * B; KB, MB, GB, TB (powers of 1000); KiB, MiB, GiB, TiB (powers of 1024).
 * Throws an Error saying what is accepted for anything else.
 */
export function parseSize(value: string | number): number {
  const got = typeof value === 'string' ? JSON.stringify(value) : String(value);
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value > 0) return value;
    throw new Error(`expected ${SIZE_EXAMPLES}, got ${got} (a plain number is a count of bytes: a positive whole number)`);
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:([kKMGT])(i?)(B|b)?|(B|b))?\s*$/.exec(value);
  if (!m) throw new Error(`expected ${SIZE_EXAMPLES}, got ${got}`);
  const [, num = '', prefix, binary = '', prefixedUnit, bareUnit] = m;
  const unit = prefixedUnit ?? bareUnit;
  if (unit === 'b') {
    throw new Error(`expected ${SIZE_EXAMPLES}, got ${got} (lower-case b means bits; sizes are in bytes: B)`);
  }
  if (prefix && !unit) {
    const p = prefix.toUpperCase();
    throw new Error(`expected ${SIZE_EXAMPLES}, got ${got} (ambiguous: write ${num}${p}iB for x1024 or ${num}${p}B for x1000)`);
  }
  const factor = SIZE_FACTORS[(prefix ?? '').toLowerCase() + binary];
  const bytes = Math.round(Number(num) * (factor ?? Number.NaN));
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new Error(`expected ${SIZE_EXAMPLES}, got ${got} (a size must be positive)`);
  }
  return bytes;
}

// ---------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------

/** How a value is shown in a message (never a secret: see `secret`). A `document` is a whole file: it is named by its
 * kind only, never quoted (a file named by mistake may hold a key or a token on its first line). */
function show(v: unknown, document = false): string {
  if (v === null) return 'an empty value';
  if (typeof v === 'string' && document) return `text of ${v.length} characters (not shown)`;
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return String(v);
}

/** The message of a value that is missing or wrong: `expected X, got Y (hint)`. */
export function expectation(expected: string, input: unknown, hint?: string, secret = false, document = false): string {
  const what = hint ? `${expected} (${hint})` : expected;
  if (input === undefined) return `missing: expected ${what}`;
  if (secret) return `expected ${what}, got something else (not shown: it may be a secret)`;
  return `expected ${expected}, got ${show(input, document)}${hint ? ` (${hint})` : ''}`;
}

/** zod error option giving one message for every failure of a field. */
export function want(expected: string, hint?: string, secret = false) {
  return { error: (iss: { input?: unknown }) => expectation(expected, iss.input, hint, secret) };
}

/** Like `want` but leaves unknown keys to the post-processing that points at each key. `document`: the schema of a
 * whole file, whose wrong value is never quoted (see `show`). */
export function wantMapping(expected: string, hint?: string, document = false) {
  return {
    error: (iss: { code?: string; input?: unknown }) =>
      iss.code === 'unrecognized_keys' ? undefined : expectation(expected, iss.input, hint, false, document),
  };
}

/** Common names for a field, mapped to the field. */
const ALIASES: Record<string, string> = {
  hostname: 'host',
  address: 'host',
  ip: 'host',
  username: 'user',
  login: 'user',
  key: 'identityFile',
  keyfile: 'identityFile',
  identity: 'identityFile',
  sshkey: 'identityFile',
  fingerprint: 'hostKey',
  knownhostsfile: 'knownHosts',
  workdir: 'workDir',
  cachedir: 'workDir',
  fp32: 'f32',
  fp16: 'f16',
  fp64: 'f64',
  i8: 'int8',
  l1: 'l1d',
};

/** The closest valid name to `name`, if it is close enough to be a likely typo (with the field aliases above). */
export function didYouMean(name: string, valid: readonly string[]): string | undefined {
  return closestName(name, valid, ALIASES);
}

function suggestion(name: string, valid: readonly string[]): string {
  return suggestionText(name, valid, ALIASES);
}

// ---------------------------------------------------------------------------
// Schema (validated once, at load)
// ---------------------------------------------------------------------------

const HOST_PATTERN = /^[A-Za-z0-9_.:%[\]-]+$/;
const USER_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
const ENV_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
const FINGERPRINT_PATTERN = /^SHA256:[A-Za-z0-9+/]{43}=?$/;

const positive = (expected: string, hint?: string) => z.number(want(expected, hint)).positive(want(expected, hint));

const sizeField = z.union([z.number(), z.string()], want(SIZE_EXAMPLES)).transform((v, ctx) => {
  try {
    return parseSize(v);
  } catch (e) {
    ctx.issues.push({ code: 'custom', message: (e as Error).message, input: v });
    return z.NEVER;
  }
});

const peakField = positive('a positive number', 'GFLOP/s; GOP/s for integer dtypes').optional();
const PeakSchema = z.strictObject(
  Object.fromEntries(PEAK_DTYPES.map((d) => [d, peakField])) as Record<PeakDType, typeof peakField>,
  wantMapping('a mapping of dtype to peak GFLOP/s', `e.g. { f32: 38.4 }; dtypes: ${PEAK_DTYPES.join(', ')}`),
);

const noPeakField = z.string(want('a string saying why no figure is given', 'e.g. "the product brief gives none"')).min(1).optional();
/** Dtypes a profile has no datasheet peak for, each with why (the profile says so instead of inventing a number). */
const NoPeakSchema = z.strictObject(
  Object.fromEntries(PEAK_DTYPES.map((d) => [d, noPeakField])) as Record<PeakDType, typeof noPeakField>,
  wantMapping('a mapping of dtype to why the datasheet gives no peak', `e.g. { int8: "the product brief gives none" }; dtypes: ${PEAK_DTYPES.join(', ')}`),
);

const cacheField = sizeField.optional();
const CachesSchema = z.strictObject(
  Object.fromEntries(CACHE_LEVELS.map((c) => [c, cacheField])) as Record<CacheLevel, typeof cacheField>,
  wantMapping('a mapping of cache level to size', `e.g. { l1d: 32KiB, l2: 512KiB }; levels: ${CACHE_LEVELS.join(', ')}`),
);

const ProfileSchema = z.strictObject(
  {
    description: z.string(want('a string describing the hardware')).min(1, want('a non-empty string describing the hardware')),
    peakGflops: PeakSchema,
    noPeak: NoPeakSchema.optional(),
    dramGbps: positive('a positive number', 'DRAM bandwidth in GB/s'),
    caches: CachesSchema.optional(),
    source: z
      .string(want('a string saying where the figures come from', 'datasheet, paper, measurement'))
      .min(1, want('a non-empty string saying where the figures come from')),
    detect: z
      .array(
        z.string(want('a non-empty string')).min(1, want('a non-empty string')),
        want('a list of strings', 'words of a CPU or board model, e.g. [BCM2837, Cortex-A53]'),
      )
      .optional(),
  },
  wantMapping('a mapping with description, peakGflops, dramGbps, source and optionally caches'),
);

const nodeField = z.unknown().transform((v, ctx) => {
  const fail = (message: string, at: PropertyKey[] = []) => {
    ctx.issues.push({ code: 'custom', message, input: v, path: at });
    return z.NEVER;
  };
  const expected = 'a command (e.g. "node" or "/opt/node18/bin/node --max-old-space-size=256"), a list of strings, or ship (roofbench brings its own Node)';
  if (typeof v === 'string') {
    const argv = v
      .trim()
      .split(/\s+/)
      .filter((s) => s.length > 0);
    return argv.length > 0 ? argv : fail(expectation(expected, v));
  }
  if (Array.isArray(v)) {
    if (v.length === 0) return fail(expectation(expected, v, 'the list is empty'));
    const argv: string[] = [];
    for (const [i, a] of v.entries()) {
      if (typeof a !== 'string' || a.length === 0) return fail(expectation('a non-empty string', a, 'one argument of the command'), [i]);
      argv.push(a);
    }
    return argv;
  }
  return fail(expectation(expected, v));
});

const DeviceSchema = z.strictObject(
  {
    description: z.string(want('a string')).optional(),
    transport: z.enum(['local', 'ssh'], want('local or ssh', 'leave it out: a device with host: is ssh, one without is local')).optional(),
    profile: z.string(want('the name of a profile defined under profiles:')).optional(),
    host: z
      .string(want('a host name or IP address', 'the machine to reach over SSH'))
      .refine((s) => HOST_PATTERN.test(s) && !s.startsWith('-'), want('a host name or IP address', 'letters, digits and . _ - : % [ ], not starting with -'))
      .optional(),
    port: z
      .number(want('an integer 1-65535', 'the SSH port; leave it out for 22'))
      .int(want('an integer 1-65535', 'the SSH port; leave it out for 22'))
      .min(1, want('an integer 1-65535', 'the SSH port; leave it out for 22'))
      .max(65535, want('an integer 1-65535', 'the SSH port; leave it out for 22'))
      .optional(),
    user: z
      .string(want('a login name', 'the user to log in as on the device, e.g. pi'))
      .regex(USER_PATTERN, want('a login name', 'letters, digits, . _ - and not starting with -'))
      .optional(),
    // A wrong value here is never quoted: it may be a key pasted by mistake.
    identityFile: z
      .string(want('a path to a private key file', 'e.g. ~/.ssh/id_ed25519', true))
      .min(1, want('a path to a private key file', undefined, true))
      .optional(),
    agent: z.boolean(want('true or false', 'true: authenticate with the SSH agent at SSH_AUTH_SOCK')).optional(),
    passwordEnv: z
      .string(want('the NAME of an environment variable holding the password', 'e.g. RPI3_PASSWORD', true))
      .regex(ENV_PATTERN, want('the NAME of an environment variable holding the password', 'e.g. RPI3_PASSWORD', true))
      .optional(),
    hostKey: z
      .string(want('a host key fingerprint SHA256:<43 base64 characters>'))
      .regex(FINGERPRINT_PATTERN, want('a host key fingerprint SHA256:<43 base64 characters>', 'as printed by: ssh-keyscan HOST | ssh-keygen -lf -'))
      .optional(),
    knownHosts: z.string(want('a path to a known_hosts file')).min(1, want('a path to a known_hosts file')).optional(),
    node: nodeField.optional(),
    workDir: z.string(want('a directory path on the device')).min(1, want('a directory path on the device')).optional(),
    emulated: z.boolean(want('true or false', 'true when the device emulates the hardware of its profile, e.g. QEMU')).optional(),
    arch: z.enum(SHIP_ARCHES, want(SHIP_ARCHES.join(', '), 'the Debian architecture of the shipped Node; leave it out to ask the device')).optional(),
    launcher: z
      .array(
        z.string(want('a non-empty string', 'one argument of the command')).min(1, want('a non-empty string', 'one argument of the command')),
        want('a list of strings', 'the command put before the shipped Node, e.g. [qemu-arm-static, -cpu, cortex-a7] for an emulated board'),
      )
      .min(1, want('a non-empty list of strings'))
      .optional(),
  },
  wantMapping('a mapping of device settings', 'e.g. transport: local, or host, user and identityFile for ssh'),
);

const FileSchema = z.strictObject(
  {
    profiles: z.record(z.string(), ProfileSchema, wantMapping('a mapping of profile names to profiles', 'or leave profiles: out')).optional(),
    devices: z.record(z.string(), DeviceSchema, wantMapping('a mapping of device names to devices', 'e.g. local: { transport: local }')),
  },
  wantMapping('a mapping with devices: and optionally profiles:', 'see docs/devices.md', true),
);

type ParsedFile = z.output<typeof FileSchema>;
type ParsedProfile = z.output<typeof ProfileSchema>;
type ParsedDevice = z.output<typeof DeviceSchema>;

const TOP_KEYS = Object.keys(FileSchema.shape);
const DEVICE_KEYS = Object.keys(DeviceSchema.shape);
const PROFILE_KEYS = Object.keys(ProfileSchema.shape);
/** Keys that only ssh devices use. */
const SSH_KEYS = ['port', 'user', 'identityFile', 'agent', 'passwordEnv', 'hostKey', 'knownHosts', 'arch', 'launcher'] as const;
/** Keys that would hold a secret: rejected with their own message. */
const SECRET_KEYS = new Set(['password', 'passphrase', 'privatekey', 'secret']);

/** The valid keys of the mapping at `path`, and what to call them in a message. */
function validKeysAt(path: readonly PropertyKey[]): { keys: readonly string[]; what: string } {
  const [a, , c] = path;
  if (path.length === 0) return { keys: TOP_KEYS, what: 'top-level key' };
  if (a === 'devices' && path.length === 2) return { keys: DEVICE_KEYS, what: 'device key' };
  if (a === 'profiles' && path.length === 2) return { keys: PROFILE_KEYS, what: 'profile key' };
  if (a === 'profiles' && c === 'peakGflops') return { keys: PEAK_DTYPES, what: 'dtype' };
  if (a === 'profiles' && c === 'caches') return { keys: CACHE_LEVELS, what: 'cache level' };
  return { keys: [], what: 'key' };
}

// ---------------------------------------------------------------------------
// Locating problems in the YAML
// ---------------------------------------------------------------------------

/** A problem before it has a position: the path, and whether to point at the key or the value. */
export interface Finding {
  path: PropertyKey[];
  message: string;
  /** 'key': point at the key of the last path segment (names, unknown keys, whole-device problems). */
  at: 'key' | 'value';
}

function keyText(k: unknown): string | undefined {
  if (isScalar(k)) return String(k.value);
  if (k === null || k === undefined) return undefined;
  return String(k);
}

/**
 * Walks `path` in the document. Returns the deepest node reached, the key node
 * of the last pair walked, and whether the whole path was found.
 */
function locate(doc: Document, path: readonly PropertyKey[]): { node: Node | null; keyNode: Node | null; complete: boolean } {
  let node: unknown = doc.contents;
  let keyNode: Node | null = null;
  for (const seg of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && keyText(p.key) === String(seg));
      if (!pair) return { node: node, keyNode, complete: false };
      keyNode = isScalar(pair.key) || isMap(pair.key) || isSeq(pair.key) ? (pair.key as Node) : keyNode;
      node = pair.value;
      if (node === null || node === undefined) return { node: keyNode, keyNode, complete: true };
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      if (item === undefined) return { node: node, keyNode, complete: false };
      node = item;
    } else {
      return { node: (node as Node | null) ?? null, keyNode, complete: false };
    }
  }
  if (isAlias(node)) node = node.resolve(doc) ?? node;
  return { node: (node as Node | null) ?? null, keyNode, complete: true };
}

function hasRange(n: Node | null): n is Node & { range: [number, number, number] } {
  return n !== null && Array.isArray((n as { range?: unknown }).range);
}

/** `devices.rpi3.port`, `devices["my board"]`, `devices.rpi3.node[1]`. */
export function formatField(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(String(seg))) out += out ? `.${String(seg)}` : String(seg);
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out;
}

export function position(doc: Document, lc: LineCounter, f: Finding): { line: number; column: number } {
  const { node, keyNode, complete } = locate(doc, f.path);
  let target: Node | null;
  if (!complete)
    target = keyNode ?? node; // a missing key: point at the mapping that should hold it
  else if (f.at === 'key') target = keyNode ?? node;
  else target = hasRange(node) && node.range[0] < node.range[1] ? node : (keyNode ?? node);
  if (!hasRange(target)) {
    const root = doc.contents;
    return hasRange(root) ? lineCol(lc, root.range[0]) : { line: 1, column: 1 };
  }
  return lineCol(lc, target.range[0]);
}

export function lineCol(lc: LineCounter, offset: number): { line: number; column: number } {
  const { line, col } = lc.linePos(offset);
  return { line, column: col };
}

// ---------------------------------------------------------------------------
// From zod issues and cross-field checks to findings
// ---------------------------------------------------------------------------

function fromIssue(issue: z.core.$ZodIssue): Finding[] {
  const path = issue.path.slice();
  if (issue.code === 'unrecognized_keys') {
    const { keys, what } = validKeysAt(path);
    return issue.keys.map((key) => {
      if (SECRET_KEYS.has(key.toLowerCase())) {
        return {
          path: [...path, key],
          at: 'key' as const,
          message:
            'secrets never go in devices.yaml (it is shared and committed): remove it and use an SSH agent (agent: true), ' +
            'a key file (identityFile: ~/.ssh/id_ed25519) or passwordEnv: NAME of an environment variable that holds the password',
        };
      }
      return {
        path: [...path, key],
        at: 'key' as const,
        message: `unknown ${what} "${key}"${suggestion(key, keys)}; valid: ${keys.join(', ')}`,
      };
    });
  }
  return [{ path, at: 'value', message: issue.message }];
}

type Raw = Record<string, unknown>;
const isRecord = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `invalid device name "My Board": ...` with a corrected name where one can be made. */
function badName(kind: 'device' | 'profile', name: string): string {
  const fixed = name
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '');
  const hint = fixed && NAME_PATTERN.test(fixed) ? `, e.g. "${fixed}"` : '';
  return (
    `invalid ${kind} name "${name}": use lower-case letters, digits, ".", "_" and "-", starting with a letter or digit${hint} ` +
    '(names end up in paths and remote commands)'
  );
}

/** Rules across fields and entries (names, profile references, transport and its settings), on the raw data. */
function crossChecks(raw: unknown): Finding[] {
  if (!isRecord(raw)) return [];
  const out: Finding[] = [];
  if (isRecord(raw.profiles)) {
    for (const [name, p] of Object.entries(raw.profiles)) {
      if (!NAME_PATTERN.test(name)) out.push({ path: ['profiles', name], at: 'key', message: badName('profile', name) });
      if (isRecord(p) && isRecord(p.peakGflops) && isRecord(p.noPeak)) {
        for (const d of Object.keys(p.noPeak).filter((k) => isRecord(p.peakGflops) && k in p.peakGflops)) {
          out.push({
            path: ['profiles', name, 'noPeak', d],
            at: 'key',
            message: `${d} has a peak under peakGflops and a reason for none under noPeak: keep one`,
          });
        }
      }
      if (isRecord(p) && isRecord(p.peakGflops) && Object.keys(p.peakGflops).length === 0) {
        out.push({
          path: ['profiles', name, 'peakGflops'],
          at: 'value',
          message: `expected at least one dtype, e.g. { f32: 38.4 } (dtypes: ${PEAK_DTYPES.join(', ')})`,
        });
      }
    }
  }
  if (!isRecord(raw.devices)) return out;
  const profileNames = isRecord(raw.profiles) ? Object.keys(raw.profiles) : [];
  for (const [name, d] of Object.entries(raw.devices)) {
    if (!NAME_PATTERN.test(name)) out.push({ path: ['devices', name], at: 'key', message: badName('device', name) });
    if (!isRecord(d)) continue;
    const at = (key?: string) => (key === undefined ? ['devices', name] : ['devices', name, key]);

    if (typeof d.profile === 'string' && !profileNames.includes(d.profile)) {
      out.push({
        path: at('profile'),
        at: 'value',
        message:
          profileNames.length === 0
            ? `unknown profile "${d.profile}": no profiles are defined (add it under profiles:, or remove profile:)`
            : `unknown profile "${d.profile}"${suggestion(d.profile, profileNames)}; defined profiles: ${profileNames.join(', ')}`,
      });
    }

    // A misspelt key (hots:) may be what decides the transport: report it alone, not its consequences.
    if (Object.keys(d).some((k) => !DEVICE_KEYS.includes(k) && !SECRET_KEYS.has(k.toLowerCase()))) continue;
    const hasHost = d.host !== undefined;
    const explicit = d.transport === 'local' || d.transport === 'ssh' ? d.transport : undefined;
    if (d.transport !== undefined && explicit === undefined) continue; // an invalid transport is already reported
    const transport = explicit ?? (hasHost ? 'ssh' : 'local');

    if (name === DEFAULT_DEVICE && transport === 'ssh') {
      out.push({
        path: at(hasHost ? 'host' : 'transport'),
        at: 'key',
        message: `the name "${DEFAULT_DEVICE}" is reserved for this machine (transport local): give the remote device its own name, e.g. rpi3`,
      });
      continue;
    }
    if (transport === 'ssh') {
      if (!hasHost) {
        out.push({ path: at('host'), at: 'key', message: 'missing: an ssh device needs host: (the name or address of the machine)' });
      }
      if (d.user === undefined) {
        out.push({ path: at('user'), at: 'key', message: 'missing: an ssh device needs user: (the login name on the device, e.g. pi)' });
      }
      if (d.identityFile === undefined && d.agent !== true && d.passwordEnv === undefined) {
        out.push({
          path: at(),
          at: 'key',
          message:
            'no way to log in: set agent: true (the SSH agent at SSH_AUTH_SOCK), identityFile: (a private key, e.g. ~/.ssh/id_ed25519) ' +
            'or passwordEnv: (the NAME of an environment variable holding the password)',
        });
      }
      continue;
    }
    if (hasHost) {
      out.push({
        path: at('transport'),
        at: 'value',
        message: 'transport is local but host is set: remove host: to run on this machine, or remove transport: (a host means ssh)',
      });
      continue;
    }
    for (const key of SSH_KEYS) {
      if (d[key] !== undefined) {
        out.push({
          path: at(key),
          at: 'key',
          message: `${key} is only used by ssh devices, and this device has no host: (it runs on this machine): add host: or remove ${key}`,
        });
      }
    }
    if (d.node === NODE_SHIP) {
      out.push({
        path: at('node'),
        at: 'value',
        message: `node: ${NODE_SHIP} is for ssh devices (roofbench uploads Debian's Node 18 to the board); this machine runs roofbench's own Node: remove node:`,
      });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------

/** A devices file larger than this is refused (a registry of thousands of devices is a few MiB). */
export const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

/**
 * The bytes of `file`, refusing more than `max` without reading them all (a
 * 100 MB file, /dev/zero, a FIFO that never ends): at most max + 1 bytes are read.
 */
function readBounded(file: string, max: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(Math.min(max + 1, 1 << 20));
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, max + 1 - total), null);
      if (n === 0) break;
      chunks.push(Buffer.from(buf.subarray(0, n)));
      total += n;
      if (total > max) {
        throw new ConfigError([
          {
            file,
            line: null,
            column: null,
            field: '',
            message: `is larger than ${max / (1024 * 1024)} MiB (or never ends, like /dev/zero): a device registry is a small text file; check the path`,
          },
        ]);
      }
    }
    return Buffer.concat(chunks, total);
  } finally {
    closeSync(fd);
  }
}

/** The text of a devices file: UTF-8 (a BOM is dropped); UTF-16 and binary files are refused with a hint. */
function decodeConfig(bytes: Buffer, file: string): string {
  const fail = (message: string) => new ConfigError([{ file, line: null, column: null, field: '', message }]);
  const utf16 =
    (bytes[0] === 0xff && bytes[1] === 0xfe) ||
    (bytes[0] === 0xfe && bytes[1] === 0xff) ||
    // No BOM, but every other byte NUL: UTF-16 text of ASCII characters.
    (bytes.length >= 4 && ((bytes[1] === 0 && bytes[3] === 0 && bytes[0] !== 0) || (bytes[0] === 0 && bytes[2] === 0 && bytes[1] !== 0)));
  if (utf16) {
    throw fail(
      'is encoded as UTF-16 (as some Windows editors save text); it must be UTF-8: save it as UTF-8 (e.g. iconv -f UTF-16 -t UTF-8 devices.yaml > devices.utf8.yaml)',
    );
  }
  if (bytes.includes(0)) throw fail('holds NUL bytes: it is not a text file (check the path)');
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  return text.startsWith('\ufeff') ? text.slice(1) : text;
}

/**
 * Reads and validates a devices file. Relative paths are resolved against the
 * current directory. Throws a ConfigError naming file, line, column and field of
 * every problem, or saying where it looked when the file is missing.
 */
export function loadDevices(file = 'devices.yaml'): DeviceRegistry {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = decodeConfig(readBounded(abs, MAX_CONFIG_BYTES), file);
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const message =
      code === 'ENOENT'
        ? `not found (looked for ${abs}). The repository ships devices.yaml at its root: run from the repository root, ` +
          'restore it with `git checkout -- devices.yaml`, or give the path of your own file'
        : `cannot be read (${abs}): ${(e as Error).message}`;
    throw new ConfigError([{ file, line: null, column: null, field: '', message }], { cause: e });
  }
  return parseDevices(text, file);
}

/**
 * Validates the text of a devices file; `file` names it in messages and is the
 * base of relative identityFile/knownHosts paths (its folder).
 */
export function parseDevices(text: string, file: string): DeviceRegistry {
  const lc = new LineCounter();
  // uniqueKeys is checked below, in linear time (the yaml library's own check compares every key with every other).
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, merge: true, uniqueKeys: false });
  const problem = (line: number | null, column: number | null, field: string, message: string): ConfigProblem => ({
    file,
    line,
    column,
    field,
    message,
  });

  const yamlErrors = doc.errors.map((e) => {
    const { line, column } = lineCol(lc, e.pos[0]);
    const msg = e.message.replace(/\s+/g, ' ').trim();
    return problem(line, column, '', `invalid YAML: ${msg} (check the indentation and that each key is followed by ": ")`);
  });
  for (const d of duplicateKeys(doc)) {
    const { line, column } = lineCol(lc, d.offset);
    yamlErrors.push(problem(line, column, '', `invalid YAML: Map keys must be unique: "${d.key}" is also at line ${lineCol(lc, d.firstOffset).line}`));
  }
  if (yamlErrors.length > 0) {
    throw new ConfigError(yamlErrors.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0)));
  }

  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 1000 });
  } catch (e) {
    throw new ConfigError([problem(1, 1, '', `invalid YAML: ${(e as Error).message}`)], { cause: e });
  }

  // Key material anywhere is refused before anything else looks at (or quotes) the file's values.
  const keys = keyMaterial(raw, []);
  if (keys.length > 0) {
    throw new ConfigError(
      keys.map((f) => {
        const { line, column } = position(doc, lc, f);
        return problem(line, column, formatField(f.path), f.message);
      }),
    );
  }

  const result = FileSchema.safeParse(raw);
  // One message per field: a value failing several checks (type, range) is reported once.
  const fields = new Set<string>();
  const schemaFindings = (result.success ? [] : result.error.issues.flatMap(fromIssue)).filter((f) => {
    if (f.at === 'key') return true;
    const k = formatField(f.path);
    return fields.has(k) ? false : (fields.add(k), true);
  });
  const findings = [...schemaFindings, ...crossChecks(raw)];
  if (findings.length > 0 || !result.success) {
    const seen = new Set<string>();
    const problems = findings
      .map((f) => {
        const { line, column } = position(doc, lc, f);
        return problem(line, column, formatField(f.path), f.message);
      })
      .filter((p) => {
        const k = formatProblem(p);
        return seen.has(k) ? false : (seen.add(k), true);
      })
      .sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
    throw new ConfigError(problems);
  }
  return buildRegistry(result.data, doc, lc, file);
}

/** A private key's text (PEM or OpenSSH armour, or the base64 of an OpenSSH key's "openssh-key-v1" header). */
const KEY_MATERIAL = /PRIVATE KEY-----|b3BlbnNzaC1rZXktdjE/;

/** Every string value of `v` that is key material, never quoted: a key pasted where its path belongs. */
function keyMaterial(v: unknown, path: (string | number)[]): Finding[] {
  if (typeof v === 'string') {
    return KEY_MATERIAL.test(v)
      ? [
          {
            path,
            at: 'value',
            message:
              'this is a private key itself (not shown): secrets never go in devices.yaml (it is shared and committed). ' +
              'Save the key in a file only you can read (chmod 600) and give its path, e.g. identityFile: ~/.ssh/id_ed25519',
          },
        ]
      : [];
  }
  if (Array.isArray(v)) return v.flatMap((x, i) => keyMaterial(x, [...path, i]));
  if (v !== null && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => keyMaterial(x, [...path, k]));
  return [];
}

/** Keys that appear twice in one mapping (each after its first), with both offsets. Linear in the document's size. */
function duplicateKeys(doc: Document): { key: string; offset: number; firstOffset: number }[] {
  const out: { key: string; offset: number; firstOffset: number }[] = [];
  visit(doc, {
    Map(_, map) {
      const seen = new Map<string, number>();
      for (const pair of map.items) {
        const k = keyText(pair.key);
        if (k === undefined || k === '<<') continue;
        const off = hasRange(pair.key as Node | null) ? (pair.key as Node & { range: [number, number, number] }).range[0] : 0;
        const first = seen.get(k);
        if (first === undefined) seen.set(k, off);
        else out.push({ key: k, offset: off, firstOffset: first });
      }
    },
  });
  return out;
}

function buildRegistry(data: ParsedFile, doc: Document, lc: LineCounter, file: string): DeviceRegistry {
  // The line of every profile and device key, indexed once (looking each one up would be quadratic).
  const keyLines = new Map<string, number>();
  for (const top of ['profiles', 'devices'] as const) {
    const { node } = locate(doc, [top]);
    if (!isMap(node)) continue;
    for (const pair of node.items) {
      const k = keyText(pair.key);
      if (k !== undefined && hasRange(pair.key as Node | null) && !keyLines.has(`${top}\0${k}`)) {
        keyLines.set(`${top}\0${k}`, lineCol(lc, (pair.key as Node & { range: [number, number, number] }).range[0]).line);
      }
    }
  }
  const lineOf = (p: PropertyKey[]): number => keyLines.get(`${String(p[0])}\0${String(p[1])}`) ?? position(doc, lc, { path: p, at: 'key', message: '' }).line;
  const baseDir = path.dirname(path.resolve(file));

  const profiles = new Map<string, Profile>();
  for (const [name, p] of Object.entries(data.profiles ?? {})) {
    profiles.set(name, resolveProfile(name, p, file, lineOf(['profiles', name])));
  }

  const devices = new Map<string, Device>();
  const entries = Object.entries(data.devices);
  if (!entries.some(([name]) => name === DEFAULT_DEVICE)) {
    devices.set(DEFAULT_DEVICE, resolveDevice(DEFAULT_DEVICE, {}, profiles, baseDir, file, null));
  }
  for (const [name, d] of entries) {
    devices.set(name, resolveDevice(name, d, profiles, baseDir, file, lineOf(['devices', name])));
  }

  return {
    file,
    devices,
    profiles,
    get(name: string): Device {
      const d = devices.get(name);
      if (d) return d;
      const names = [...devices.keys()];
      if (profiles.has(name)) {
        throw new Error(
          `"${name}" is a profile in ${file}, not a device: add a device under devices: with profile: ${name} and its host, user ` +
            `and key (see the commented example in ${file} and docs/devices.md). Devices: ${names.join(', ')}`,
        );
      }
      throw new Error(`unknown device "${name}"${suggestion(name, names)}; devices in ${file}: ${names.join(', ')} ` + '(to add one, see docs/devices.md)');
    },
  };
}

function resolveProfile(name: string, p: ParsedProfile, file: string, line: number): Profile {
  const peakGflops: Partial<Record<PeakDType, number>> = {};
  for (const d of PEAK_DTYPES) {
    const v = p.peakGflops[d];
    if (v !== undefined) peakGflops[d] = v;
  }
  const caches: Partial<Record<CacheLevel, number>> = {};
  for (const c of CACHE_LEVELS) {
    const v = p.caches?.[c];
    if (v !== undefined) caches[c] = v;
  }
  const noPeak: Partial<Record<PeakDType, string>> = {};
  for (const d of PEAK_DTYPES) {
    const v = p.noPeak?.[d];
    if (v !== undefined) noPeak[d] = v;
  }
  return { name, description: p.description, peakGflops, noPeak, dramGbps: p.dramGbps, caches, source: p.source, detect: p.detect ?? [], file, line };
}

const isShip = (argv: readonly string[]) => argv.length === 1 && argv[0] === NODE_SHIP;

/** `~` and `~/x` to the home directory, relative paths against `baseDir`. */
function hostPath(p: string, baseDir: string): string {
  if (p === '~') return homedir();
  if (p.startsWith('~/')) return path.join(homedir(), p.slice(2));
  return path.resolve(baseDir, p);
}

function resolveDevice(name: string, d: ParsedDevice, profiles: Map<string, Profile>, baseDir: string, file: string, line: number | null): Device {
  const transport: Transport = d.transport ?? (d.host !== undefined ? 'ssh' : 'local');
  return {
    name,
    description: d.description ?? null,
    transport,
    profileName: d.profile ?? null,
    profile: d.profile === undefined ? null : (profiles.get(d.profile) ?? null),
    host: d.host ?? null,
    port: d.port ?? DEFAULT_SSH_PORT,
    user: d.user ?? null,
    identityFile: d.identityFile === undefined ? null : hostPath(d.identityFile, baseDir),
    agent: d.agent ?? false,
    passwordEnv: d.passwordEnv ?? null,
    hostKey: d.hostKey ?? null,
    knownHosts: d.knownHosts === undefined ? null : hostPath(d.knownHosts, baseDir),
    node: d.node === undefined || isShip(d.node) ? ['node'] : d.node,
    nodeShip: d.node !== undefined && isShip(d.node),
    arch: d.arch ?? null,
    launcher: d.launcher ?? [],
    workDir: d.workDir ?? DEFAULT_WORK_DIR,
    emulated: d.emulated ?? false,
    file,
    line,
  };
}

// ---------------------------------------------------------------------------
// For the report
// ---------------------------------------------------------------------------

/** The theoretical ceilings of a profile, as stored in a run (contracts.ts). */
export function theoreticalCeilings(p: Profile): TheoreticalCeilings {
  const peakGflops: Record<string, number> = {};
  for (const [k, v] of Object.entries(p.peakGflops)) if (v !== undefined) peakGflops[k] = v;
  const caches: Record<string, number> = {};
  for (const [k, v] of Object.entries(p.caches)) if (v !== undefined) caches[k] = v;
  const out: TheoreticalCeilings = { source: `profile ${p.name} (${p.file}): ${p.source}`, peakGflops, dramGbps: p.dramGbps };
  if (Object.keys(caches).length > 0) out.caches = caches;
  const noPeak: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.noPeak)) if (v !== undefined) noPeak[k] = v;
  if (Object.keys(noPeak).length > 0) out.noPeak = noPeak;
  return out;
}

// ---------------------------------------------------------------------------
// Editing (e.g. pinning a host key), keeping the file's comments and layout
// ---------------------------------------------------------------------------

/**
 * The text of a devices file with fields of one device set (`undefined` removes
 * a field), comments and layout kept. Both the input and the result are
 * validated (ConfigError); the device must exist (an Error listing the valid
 * names otherwise), except `local`, which is declared if it was implicit.
 */
export function withDeviceFields(
  text: string,
  file: string,
  name: string,
  fields: Readonly<Record<string, string | number | boolean | readonly string[] | undefined>>,
): string {
  parseDevices(text, file).get(name);
  const doc = parseDocument(text, { merge: true, uniqueKeys: false });
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) doc.deleteIn(['devices', name, key]);
    else doc.setIn(['devices', name, key], value);
  }
  const out = doc.toString();
  parseDevices(out, file);
  return out;
}

/** Offset of the end of the line holding `offset` (the newline, or the end of the text). */
function lineEnd(text: string, offset: number): number {
  const n = text.indexOf('\n', offset);
  return n < 0 ? text.length : n;
}

/** The `devices:` mapping and its entries, when it is a block mapping (the layout `add` and `remove` edit as text). */
function blockDevices(text: string): { map: YAMLMap; items: Pair[] } | null {
  const doc = parseDocument(text, { merge: true, uniqueKeys: false });
  const map = doc.get('devices', true);
  if (!isMap(map) || map.flow) return null;
  return { map, items: map.items as Pair[] };
}

const rangeOf = (n: unknown): [number, number, number] | null =>
  n && Array.isArray((n as { range?: unknown }).range) ? (n as { range: [number, number, number] }).range : null;

/** Where the last value of a pair ends (a block mapping's range runs on over the comments after it: its last scalar's does not). */
function contentEnd(pair: Pair): number | undefined {
  const node = pair.value ?? pair.key;
  if ((isMap(node) || isSeq(node)) && !node.flow && node.items.length > 0) {
    const lastItem = node.items[node.items.length - 1];
    return isPair(lastItem) ? contentEnd(lastItem as Pair) : contentEnd({ key: null, value: lastItem } as unknown as Pair);
  }
  return rangeOf(node)?.[1];
}

/**
 * The text of a devices file with a new device `name` added at the end of
 * `devices:` (created when missing). Everything else in the file stays byte for
 * byte as it was (the entry is spliced in as text). Refuses a name that is taken
 * (an Error naming its line) and validates the result like any hand-written
 * file (ConfigError).
 */
export function withNewDevice(
  text: string,
  file: string,
  name: string,
  entry: Readonly<Record<string, string | number | boolean | readonly string[]>>,
): string {
  const existing = /^devices\s*:/m.test(text) ? parseDevices(text, file) : null;
  const taken = existing?.devices.get(name);
  if (taken && taken.line !== null) {
    throw new Error(`device "${name}" is already in ${file} (line ${taken.line}): remove it first (npm run devices -- remove ${name}) or choose another name`);
  }
  const yamlOf = (indent: string) =>
    new Document({ [name]: { ...entry } })
      .toString({ lineWidth: 0, flowCollectionPadding: false })
      .trimEnd()
      .split('\n')
      .map((l) => indent + l)
      .join('\n');
  const block = existing ? blockDevices(text) : null;
  let out: string;
  const last = block?.items[block.items.length - 1];
  const lastEnd = last ? contentEnd(last) : undefined;
  const firstKey = block?.items[0] ? rangeOf(block.items[0].key) : null;
  if (block && last && lastEnd !== undefined && firstKey) {
    const lineStart = text.lastIndexOf('\n', firstKey[0] - 1) + 1;
    const indent = text.slice(lineStart, firstKey[0]);
    const at = lineEnd(text, lastEnd);
    out = `${text.slice(0, at)}\n${yamlOf(/^\s*$/.test(indent) ? indent : '  ')}${text.slice(at)}`;
  } else if (!existing) {
    out = `${text}${text && !text.endsWith('\n') ? '\n' : ''}devices:\n${yamlOf('  ')}\n`;
  } else {
    // devices: as a flow mapping or empty: rewritten by the YAML library (comments kept, layout normalised).
    const doc = parseDocument(text, { merge: true, uniqueKeys: false });
    if (!isMap(doc.getIn(['devices']))) doc.setIn(['devices'], doc.createNode({}));
    doc.setIn(['devices', name], doc.createNode({ ...entry }));
    out = doc.toString({ lineWidth: 0, flowCollectionPadding: false });
  }
  parseDevices(out, file).get(name);
  return out;
}

/** The text of a devices file without device `name` (which must be in it), the rest byte for byte as it was; validated. */
export function withoutDevice(text: string, file: string, name: string): string {
  const d = parseDevices(text, file).get(name);
  if (d.line === null || name === DEFAULT_DEVICE) throw new Error(`"${name}" is this machine, always there: nothing to remove`);
  const block = blockDevices(text);
  const pair = block?.items.find((p) => keyText(p.key) === name);
  const k = rangeOf(pair?.key);
  const end = pair ? contentEnd(pair) : undefined;
  let out: string;
  if (k && end !== undefined) {
    const start = text.lastIndexOf('\n', k[0] - 1) + 1;
    const stop = lineEnd(text, end);
    out = text.slice(0, start) + text.slice(Math.min(stop + 1, text.length));
  } else {
    const doc = parseDocument(text, { merge: true, uniqueKeys: false });
    doc.deleteIn(['devices', name]);
    out = doc.toString({ lineWidth: 0, flowCollectionPadding: false });
  }
  if (parseDevices(out, file).devices.get(name)?.line != null) throw new Error(`internal: ${name} is still in ${file} after removing it`);
  return out;
}
