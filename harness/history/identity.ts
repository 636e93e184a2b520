/**
 * Identity: what makes two measurements comparable.
 *
 * A *device identity* is the set of facts about the machine and runtime that
 * change performance when they change: the device name and profile, the CPU
 * model and core count, total memory, OS, Node and V8 versions, WebAssembly
 * SIMD support and whether the device is emulated. Its hash names it.
 *
 * A *series* is one (device identity, case, variant, input distribution, size,
 * shape, thread count) combination over time. The thread count (`--threads`)
 * is keyed only when it is not 1, so the series of every one-thread result,
 * stored before or after threads existed, keeps its key; a 2-thread series is
 * never compared or gated against a 1-thread one. A change of any of these starts a new series:
 * a new Node version, another CPU or a `--quick` run never gets compared with
 * the old numbers as if nothing had changed.
 *
 * Deliberately NOT part of the identity (recorded with the run, shown in
 * reports): hostname, kernel version, governor, clock speed, cache sizes (they
 * follow from the CPU model), the transport (local or ssh) and the harness
 * version (a code change is what the history is meant to catch).
 *
 * Pure functions (no I/O).
 */
import { createHash } from 'node:crypto';
import { resultThreads, type CaseResult, type CaseSpec, type RunResults } from '../../core/contracts.js';

/** Total memory is compared in 64 MiB units, so a few KiB reserved by a new kernel do not split a series. */
export const MEMORY_UNIT_BYTES = 64 * 1024 * 1024;

export interface DeviceIdentityFields {
  device: string;
  profile: string | null;
  emulated: boolean;
  cpu: string;
  arch: string;
  cores: number;
  /** Total memory rounded to MEMORY_UNIT_BYTES, in MiB. */
  memoryMiB: number;
  os: string;
  node: string;
  v8: string;
  wasmSimd: boolean;
}

export interface DeviceIdentity {
  /** 16 hex digits of SHA-256 over the canonical JSON of the fields. */
  hash: string;
  fields: DeviceIdentityFields;
}

/** Human names of the identity fields (for "identity changed: Node v20.1 -> v20.2"). */
export const IDENTITY_FIELD_NAMES: Record<keyof DeviceIdentityFields, string> = {
  device: 'device',
  profile: 'profile',
  emulated: 'emulated',
  cpu: 'CPU model',
  arch: 'architecture',
  cores: 'core count',
  memoryMiB: 'memory (MiB)',
  os: 'OS',
  node: 'Node',
  v8: 'V8',
  wasmSimd: 'Wasm SIMD',
};

/** Stable JSON: object keys sorted, so equal values always hash alike. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

export function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/** The device identity of a run, or null when the runner never probed the device (nothing to compare). */
export function deviceIdentity(run: RunResults): DeviceIdentity | null {
  const p = run.probe;
  if (!p) return null;
  const fields: DeviceIdentityFields = {
    device: run.device.name,
    profile: run.device.profile,
    emulated: run.device.emulated,
    cpu: `${p.cpu.manufacturer} ${p.cpu.brand}`.trim(),
    arch: p.cpu.arch,
    cores: p.cpu.cores,
    memoryMiB: (Math.round(p.memory.totalBytes / MEMORY_UNIT_BYTES) * MEMORY_UNIT_BYTES) / (1024 * 1024),
    os: `${p.os.platform} ${p.os.distro} ${p.os.release}`.replace(/\s+/g, ' ').trim(),
    node: p.runtime.node,
    v8: p.runtime.v8,
    wasmSimd: p.runtime.wasmSimd,
  };
  return { hash: shortHash(canonicalJson(fields)), fields };
}

/** The fields that differ between two identities, as readable "name: old -> new" lines. */
export function identityDiff(a: DeviceIdentityFields, b: DeviceIdentityFields): string[] {
  const out: string[] = [];
  for (const k of Object.keys(IDENTITY_FIELD_NAMES) as (keyof DeviceIdentityFields)[]) {
    if (canonicalJson(a[k]) !== canonicalJson(b[k])) out.push(`${IDENTITY_FIELD_NAMES[k]}: ${String(a[k])} -> ${String(b[k])}`);
  }
  return out;
}

export type RunSize = 'quick' | 'default';

export interface SeriesFields {
  device: string;
  identityHash: string;
  caseId: string;
  variant: string;
  dtype: string;
  distribution: string;
  size: RunSize;
  /** Canonical JSON of the case's shape. */
  shape: string;
  /** The threads the result ran on (`--threads`); absent for one thread (the key every older series has). */
  threads?: number;
}

export interface SeriesId {
  key: string;
  fields: SeriesFields;
  /** What a person reads: `conv/vgg16.conv3_2 conv-im2col-gemm-f32` (+ ` [quick]`). */
  label: string;
}

/**
 * The series a result belongs to. `spec` is the case the run planned (null
 * when the run does not list it: then the shape is unknown and the series
 * is keyed without it).
 */
export function seriesOf(identity: DeviceIdentity, run: RunResults, result: CaseResult, spec: CaseSpec | undefined): SeriesId {
  const size: RunSize = run.options.quick ? 'quick' : 'default';
  const fields: SeriesFields = {
    device: identity.fields.device,
    identityHash: identity.hash,
    caseId: result.caseId,
    variant: result.variant,
    dtype: result.dtype,
    distribution: spec?.distribution ?? run.options.distribution,
    size,
    shape: spec ? canonicalJson(spec.shape) : 'unknown',
  };
  const threads = resultThreads(result);
  if (threads !== 1) fields.threads = threads;
  return { key: shortHash(canonicalJson(fields)), fields, label: seriesLabel(fields) };
}

/**
 * The key of a series ignoring the device identity (same device name, case,
 * variant, distribution, size and shape): used by `compare --across-identity`
 * to line up series across a Node upgrade or a hardware change.
 */
export function looseSeriesKey(f: SeriesFields): string {
  return shortHash(canonicalJson({ ...f, identityHash: '*' }));
}

export function seriesLabel(f: Pick<SeriesFields, 'caseId' | 'variant' | 'size' | 'distribution'>): string {
  const extra = [f.size === 'quick' ? 'quick' : null, f.distribution !== 'uniform(-1,1)' ? f.distribution : null].filter(Boolean);
  return `${f.caseId} ${f.variant}${extra.length ? ` [${extra.join(', ')}]` : ''}`;
}
