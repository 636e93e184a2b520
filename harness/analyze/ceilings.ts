/**
 * The ceilings an analysis predicts with (host side):
 *
 * - `--device NAME`, a registered device: the ceilings measured in its latest
 *   run in the history store (read-only; emulated runs are never used: their
 *   timings measure the emulator), else its profile in devices.yaml, else an
 *   error saying how to get either.
 * - `--device NAME`, a profile name of devices.yaml with no device of that
 *   name: the profile (theoretical figures), said so.
 * - no --device: the `local` device's latest measured ceilings when the
 *   history has them, else the rpi3 profile (the source talk's board).
 *
 * The history is opened read-only (no migration, no write): the `runs` table's
 * `device`, `emulated`, `started_at`, `run_id` and `ceilings_json` columns, as
 * docs/history.md documents them.
 */
import { MeasuredCeilings } from '../../core/contracts.js';
import { newestRunWith } from '../history/newest.js';
import { DEFAULT_DEVICE, didYouMean, type DeviceRegistry, type Profile } from '../devices.js';
import type { Ceilings } from './model.js';

/** The profile used when no device is named and `local` has no measured run. */
export const FALLBACK_PROFILE = 'rpi3';

/** A device or profile that does not exist, or has no ceilings: a usage error (exit 2). */
export class CeilingsError extends Error {
  override name = 'CeilingsError';
}

export interface LatestMeasured {
  runId: string;
  startedAt: string;
  measured: MeasuredCeilings;
}

/**
 * The measured ceilings of `device`'s latest non-emulated run that has them,
 * from the history store at `file` (read-only). null when the store does not
 * exist or holds none; `note` says why a store could not be read.
 */
export function latestMeasured(file: string, device: string): { found: LatestMeasured | null; note: string | null } {
  const { found, error } = newestRunWith(
    file,
    device,
    'ceilings_json',
    (json) => {
      const m = MeasuredCeilings.safeParse((json as { measured?: unknown } | null)?.measured);
      return m.success && m.data.peakGflops > 0 && m.data.dramGbps > 0 ? m.data : null;
    },
    { nativeOnly: true },
  );
  return { found: found && { runId: found.runId, startedAt: found.startedAt, measured: found.value }, note: error };
}

function fromProfile(p: Profile, why: string): Ceilings {
  const peak = p.peakGflops.f32;
  if (peak === undefined) throw new CeilingsError(`profile "${p.name}" (${p.file}:${p.line}) has no f32 peak: add peakGflops: { f32: ... }`);
  return {
    peakGflops: peak,
    dramGbps: p.dramGbps,
    kind: 'profile',
    name: p.name,
    source: `${why}profile "${p.name}" in devices.yaml (${p.description}; ${p.source})`,
  };
}

/** The ceilings for `--device` (or its absence); see the module doc. */
export function resolveCeilings(registry: DeviceRegistry, historyFile: string, deviceName?: string): Ceilings {
  const name = deviceName ?? DEFAULT_DEVICE;
  const device = registry.devices.get(name);
  if (device) {
    const { found, note } = latestMeasured(historyFile, name);
    const prefix = note ? `${note}; ` : '';
    if (found) {
      const m = found.measured;
      const c: Ceilings = {
        peakGflops: m.peakGflops,
        dramGbps: m.dramGbps,
        kind: 'measured',
        name,
        source:
          `measured on ${name} in its latest run ${found.runId} (${found.startedAt.slice(0, 10)}): ` +
          `single-thread WebAssembly SIMD f32 peak ${m.peakGflops.toPrecision(3)} GFLOP/s, DRAM bandwidth ${m.dramGbps.toPrecision(3)} GB/s (history ${historyFile})`,
      };
      const pf = device.profile?.peakGflops.f32;
      if (device.profile && pf !== undefined) {
        c.reference = { peakGflops: pf, dramGbps: device.profile.dramGbps, source: `profile "${device.profile.name}" (datasheet)` };
      }
      return c;
    }
    if (device.profile) return fromProfile(device.profile, `${prefix}no measured run of ${name} in the history; `);
    if (deviceName === undefined) {
      const fallback = registry.profiles.get(FALLBACK_PROFILE);
      if (fallback) {
        return fromProfile(
          fallback,
          `${prefix}no measured run of ${name} in the history (run npm run bench to measure this machine, or pass --device); using the `,
        );
      }
    }
    throw new CeilingsError(
      `device "${name}" has no measured run in the history (${historyFile}) and no profile in devices.yaml: ` +
        `run npm run bench -- --device ${name} to measure it, or give it profile: in devices.yaml${note ? ` (${note})` : ''}`,
    );
  }
  const profile = registry.profiles.get(name);
  if (profile) return fromProfile(profile, `no device "${name}" is registered; `);
  const names = [...registry.devices.keys(), ...registry.profiles.keys()];
  const s = didYouMean(name, names);
  throw new CeilingsError(
    `unknown device "${name}"${s ? ` (did you mean "${s}"?)` : ''}: devices ${[...registry.devices.keys()].join(', ')}; profiles ${[...registry.profiles.keys()].join(', ') || 'none'} (in ${registry.file})`,
  );
}
