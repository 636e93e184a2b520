/** The probe's cache sizes: per core, as the single-thread roofline needs them (not the sum over cores). */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import si from 'systeminformation';
import { afterAll, describe, expect, it } from 'vitest';
import { cachesFromSysfs, parseCacheSize, probeDevice } from '../harness/runner/probe.js';

const dir = mkdtempSync(join(tmpdir(), 'roofbench-sysfs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A sysfs cache directory like cpu0's on a two-core x86 VM. */
function fakeSysfs(name: string, entries: [level: string, type: string, size: string][]): string {
  const root = join(dir, name);
  entries.forEach(([level, type, size], i) => {
    const d = join(root, `index${i}`);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'level'), `${level}\n`);
    writeFileSync(join(d, 'type'), `${type}\n`);
    writeFileSync(join(d, 'size'), `${size}\n`);
  });
  return root;
}

describe('cache sizes', () => {
  it('parses sysfs sizes', () => {
    expect(parseCacheSize('48K')).toBe(48 * 1024);
    expect(parseCacheSize('2048K\n')).toBe(2 * 1024 * 1024);
    expect(parseCacheSize('32M')).toBe(32 * 1024 * 1024);
    expect(parseCacheSize('512')).toBe(512);
    expect(parseCacheSize('lots')).toBeUndefined();
  });

  it('reads L1 data, L2 and L3 of one core, ignoring the instruction cache', () => {
    const root = fakeSysfs('x86', [
      ['1', 'Data', '48K'],
      ['1', 'Instruction', '64K'],
      ['2', 'Unified', '2048K'],
      ['3', 'Unified', '491520K'],
    ]);
    expect(cachesFromSysfs(root)).toEqual({ l1d: 48 * 1024, l2: 2048 * 1024, l3: 491520 * 1024 });
  });

  it('a Cortex-A53 (no L3) and a machine without sysfs', () => {
    const root = fakeSysfs('a53', [
      ['1', 'Data', '32K'],
      ['1', 'Instruction', '32K'],
      ['2', 'Unified', '512K'],
    ]);
    expect(cachesFromSysfs(root)).toEqual({ l1d: 32 * 1024, l2: 512 * 1024 });
    expect(cachesFromSysfs(join(dir, 'missing'))).toBeNull();
  });

  it.runIf(existsSync('/sys/devices/system/cpu/cpu0/cache/index0'))("on this machine: the probe reports one core's L1d, not the sum over cores", async () => {
    const [probe, cpu] = await Promise.all([probeDevice(), si.cpu()]);
    const own = cachesFromSysfs();
    expect(own?.l1d).toBeGreaterThan(0);
    expect(probe.cpu.cache.l1d).toBe(own?.l1d);
    // systeminformation sums the per-core caches (lscpu: "96 KiB (2 instances)"): the probe must not.
    if (cpu.cores > 1 && cpu.cache.l1d && cpu.cache.l1d > (own?.l1d ?? 0)) expect(probe.cpu.cache.l1d).toBeLessThan(cpu.cache.l1d);
  });
});
