/** Runs on the device: what machine is this, and how healthy is it right now. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import si from 'systeminformation';
import type { CpuLoad, Health, Probe } from '../../core/contracts.js';
import { wasmSimdSupported } from '../../kernels/index.js';

function readText(path: string): string | null {
  try {
    return existsSync(path) ? readFileSync(path, 'utf8').trim() : null;
  } catch {
    return null;
  }
}

const sizeOrUndefined = (n: unknown): number | undefined => (typeof n === 'number' && n > 0 ? n : undefined);

/** "48K", "2048K", "32M", "1G" or bytes (Linux sysfs cache sizes) -> bytes. */
export function parseCacheSize(text: string): number | undefined {
  const m = /^\s*(\d+)\s*([KMG]?)i?B?\s*$/i.exec(text);
  if (!m?.[1]) return undefined;
  const unit = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[(m[2] ?? '').toUpperCase()] ?? 1;
  return Number(m[1]) * unit;
}

/**
 * The caches one core sees, from Linux sysfs (cpu0): L1 data and L2 per core, L3 as the whole
 * shared cache (what a single thread can use). systeminformation reports the sum over cores
 * (96 KiB of L1d on two cores of 48 KiB), which the single-thread roofline must not use.
 * Returns null where sysfs has no cache information (not Linux, or a container hiding it).
 */
export function cachesFromSysfs(dir = '/sys/devices/system/cpu/cpu0/cache'): { l1d?: number; l2?: number; l3?: number } | null {
  let entries: string[];
  try {
    entries = readdirSync(dir).filter((e) => /^index\d+$/.test(e));
  } catch {
    return null;
  }
  const out: { l1d?: number; l2?: number; l3?: number } = {};
  for (const e of entries) {
    const level = readText(`${dir}/${e}/level`);
    const type = readText(`${dir}/${e}/type`);
    const size = parseCacheSize(readText(`${dir}/${e}/size`) ?? '');
    if (size === undefined || !size) continue;
    if (level === '1' && type === 'Data') out.l1d = size;
    else if (level === '2' && type !== 'Instruction') out.l2 = size;
    else if (level === '3' && type !== 'Instruction') out.l3 = size;
  }
  return Object.keys(out).length ? out : null;
}

/** "qemu-arm-static -cpu cortex-a7" -> "Cortex-A7". */
export function emulatedCpuName(emulation: string): string | null {
  const m = /-cpu\s+(\S+)/.exec(emulation);
  if (!m?.[1]) return null;
  return m[1].replace(/^cortex-([a-z])(\d+)/i, (_, l: string, n: string) => `Cortex-${l.toUpperCase()}${n}`);
}

const machine = (): string | undefined => (typeof os.machine === 'function' ? os.machine() : undefined);

export async function probeDevice(): Promise<Probe> {
  const [cpu, flags, osInfo, mem] = await Promise.all([si.cpu(), si.cpuFlags(), si.osInfo(), si.mem()]);
  const cpus = os.cpus();
  const flagList = flags ? flags.split(/\s+/).filter(Boolean) : [];
  // qemu-user shows the emulated program the host's /proc/cpuinfo: an ARM Node that sees x86 flags is emulated.
  const emulation =
    process.env.ROOFBENCH_EMULATION ??
    ((process.arch === 'arm' || process.arch === 'arm64') && flagList.includes('sse2') ? 'unknown emulator (x86 /proc/cpuinfo under an ARM runtime)' : null);
  const common = {
    hostname: os.hostname(),
    memory: { totalBytes: mem.total || os.totalmem() },
    os: {
      platform: osInfo.platform || process.platform,
      distro: [osInfo.distro, osInfo.release].filter(Boolean).join(' ') || 'unknown',
      release: osInfo.release || '',
      kernel: osInfo.kernel || os.release(),
    },
    runtime: { node: process.version, v8: process.versions.v8, wasmSimd: wasmSimdSupported() },
    emulation,
  };
  if (emulation) {
    // What the emulator shows is the host's: keep only what is true of the emulated machine.
    const hostCpu = [cpu.manufacturer, cpu.brand].filter(Boolean).join(' ') || 'unknown';
    return {
      ...common,
      cpu: {
        manufacturer: 'ARM (emulated)',
        brand: `${emulatedCpuName(emulation) ?? 'unknown ARM CPU'} (emulated by ${emulation} on ${hostCpu})`,
        arch: process.arch,
        machine: machine(),
        cores: cpus.length,
        physicalCores: cpus.length,
        cache: {},
        flags: [],
      },
    };
  }
  return {
    ...common,
    cpu: {
      machine: machine(),
      manufacturer: cpu.manufacturer || 'unknown',
      // Under emulation or on some ARM boards systeminformation leaves brand empty; fall back to what the kernel says.
      brand: cpu.brand || cpus[0]?.model || 'unknown',
      arch: process.arch,
      cores: cpu.cores || cpus.length,
      physicalCores: cpu.physicalCores || cpus.length,
      speedGHz: sizeOrUndefined(cpu.speed),
      speedMaxGHz: sizeOrUndefined(cpu.speedMax),
      // Per core (L3: the shared whole), as the single-thread roofline needs them; else what systeminformation says.
      cache: cachesFromSysfs() ?? {
        l1d: sizeOrUndefined(cpu.cache?.l1d),
        l2: sizeOrUndefined(cpu.cache?.l2),
        l3: sizeOrUndefined(cpu.cache?.l3),
      },
      flags: flagList,
    },
  };
}

function throttledState(): string | null {
  // Raspberry Pi firmware: 0x0 means never throttled / under-voltage since boot.
  for (const bin of ['/usr/bin/vcgencmd', '/opt/vc/bin/vcgencmd']) {
    if (!existsSync(bin)) continue;
    try {
      const out = execFileSync(bin, ['get_throttled'], { encoding: 'utf8', timeout: 3000 }).trim();
      return out.replace(/^throttled=/, '');
    } catch {
      return null;
    }
  }
  return null;
}

function temperatureC(): number | null {
  // Prefer a CPU-ish thermal zone; fall back to the first readable one.
  const zones: { type: string; temp: number }[] = [];
  for (let i = 0; i < 16; i++) {
    const t = readText(`/sys/class/thermal/thermal_zone${i}/temp`);
    if (t === null) continue;
    const v = Number(t);
    if (!Number.isFinite(v)) continue;
    zones.push({ type: readText(`/sys/class/thermal/thermal_zone${i}/type`) ?? '', temp: v / 1000 });
  }
  const cpuZone = zones.find((z) => /cpu|soc|x86_pkg|k10temp/i.test(z.type)) ?? zones[0];
  return cpuZone ? cpuZone.temp : null;
}

export function healthSnapshot(when: string, cpu?: CpuLoad): Health {
  const freq = readText('/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq');
  return {
    at: new Date().toISOString(),
    when,
    temperatureC: temperatureC(),
    governor: readText('/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor'),
    freqMHz: freq !== null && Number.isFinite(Number(freq)) ? Number(freq) / 1000 : null,
    throttled: throttledState(),
    loadAvg: os.loadavg(),
    ...(cpu ? { cpu } : {}),
  };
}
