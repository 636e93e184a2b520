/**
 * No hangs: every remote step before the run has a deadline and leaves nothing
 * running on the device; timeouts outside what Node's timers hold are refused;
 * --out in /proc is refused (tested with the other --out paths in runs.test.ts);
 * devices.yaml loads in linear time.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunResults } from '../core/contracts.js';
import { parseDevices } from '../harness/devices.js';
import { bench, runCli, until } from './helpers/cli.js';
import { deviceEntry, startSshd, stopSshd, type SshdInfo } from './helpers/sshd.js';

let sshd: SshdInfo;
let work: string;
const ONE = ['--quick', '--case', 'mobilenet_v1.conv_dw_3', '--no-ceilings'];

/** pids of processes whose command line contains `marker` (to check nothing was left behind, and to clean up). */
function processesWith(marker: string): number[] {
  let out = '';
  try {
    out = execFileSync('pgrep', ['-f', marker], { encoding: 'utf8' });
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
  return out
    .split('\n')
    .filter(Boolean)
    .map(Number)
    .filter((p) => p !== process.pid);
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'roofbench-hangs-'));
  sshd = await startSshd();
}, 300_000);

afterAll(async () => {
  if (sshd) await stopSshd(sshd);
});

describe('a remote step that hangs', () => {
  /** A "node" on the device that never answers (a broken install, a stuck NFS mount ...). */
  function hangingDevice(marker: string): string {
    const node = join(work, `node-that-hangs-${marker}`);
    writeFileSync(node, `#!/bin/sh\n# ${marker}\nexec sleep ${marker}\n`);
    chmodSync(node, 0o755);
    const file = join(mkdtempSync(join(work, 'devices-')), 'devices.yaml');
    writeFileSync(file, `devices:\n${deviceEntry(sshd, { node, workDir: join(work, `remote-${marker}`) })}\n`);
    return file;
  }

  it('bench: the Node probe is stopped at --step-timeout, on the device too, and the run says so', async () => {
    const marker = '3017';
    const out = join(mkdtempSync(join(work, 'run-')), 'r');
    try {
      const r = await bench(['--devices', hangingDevice(marker), '--device', 'board', ...ONE, '--step-timeout', '3', '--out', out], { timeoutMs: 90_000 });
      expect(r.code).toBe(1);
      const run = RunResults.parse(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')));
      expect(run.status).toBe('incomplete');
      expect(run.statusDetail).toMatch(/checking Node, disk and lock on device board .* did not finish within 3 s \(stopped on the device\)/);
      // Nothing the step started is left running on the device.
      expect(await until(() => processesWith(`sleep ${marker}`).length === 0, 10_000)).toBe(true);
    } finally {
      for (const p of processesWith(`sleep ${marker}`)) process.kill(p, 'SIGKILL');
    }
  });

  it('devices check: the same deadline, the same clean-up', async () => {
    const marker = '3018';
    try {
      const r = await runCli('harness/devices-cli.ts', ['check', 'board', '--step-timeout', '3', '--devices', hangingDevice(marker)], { timeoutMs: 90_000 });
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/error\s+checking Node, disk and lock on device board .* did not finish within 3 s/);
      expect(await until(() => processesWith(`sleep ${marker}`).length === 0, 10_000)).toBe(true);
    } finally {
      for (const p of processesWith(`sleep ${marker}`)) process.kill(p, 'SIGKILL');
    }
  });
});

describe('timeouts Node cannot hold are refused', () => {
  // Node's timers hold at most 2^31 - 1 ms (about 24.8 days): a longer one fires at once and would kill the run.
  for (const [flag, value] of [
    ['--case-timeout', '2200000'],
    ['--connect-timeout', '3000000'],
    ['--case-timeout', '0.5'],
    ['--connect-timeout', '0'],
    ['--step-timeout', '1e9'],
  ] as const) {
    it(`${flag} ${value}: exit 2 with the valid range`, async () => {
      const r = await bench([...ONE, flag, value]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`${flag} expects a number of seconds from 1 to 2147483 \\(about 24\\.8 days\\), got "${value.replace('.', '\\.')}"`));
    });
  }
});

describe('devices.yaml loads in linear time', () => {
  /**
   * Work is counted, not timed (tests never assert a duration): every callback of
   * Array.prototype.find / some / findIndex during the load, which is where a
   * lookup per device (or a duplicate-key check per key) spends its time.
   */
  function callbacksToLoad(devices: number): number {
    const lines = ['devices:'];
    for (let i = 0; i < devices; i++) lines.push(`  d${i}:`, `    host: 10.0.${i >> 8}.${i & 255}`, '    user: pi', '    agent: true');
    const text = `${lines.join('\n')}\n`;
    let n = 0;
    const originals = { find: Array.prototype.find, some: Array.prototype.some, findIndex: Array.prototype.findIndex };
    const wrap = <K extends keyof typeof originals>(k: K) =>
      function (this: unknown[], cb: (...a: unknown[]) => unknown, thisArg?: unknown) {
        return (originals[k] as (cb: (...a: unknown[]) => unknown, t?: unknown) => unknown).call(this, (...a: unknown[]) => (n++, cb.apply(thisArg, a)));
      };
    Object.assign(Array.prototype, { find: wrap('find'), some: wrap('some'), findIndex: wrap('findIndex') });
    try {
      expect(parseDevices(text, 'big.yaml').devices.size).toBe(devices + 1);
    } finally {
      Object.assign(Array.prototype, originals);
    }
    return n;
  }

  it('four times the devices is about four times the work, not sixteen', () => {
    const small = callbacksToLoad(1000);
    const large = callbacksToLoad(4000);
    expect(large / small).toBeLessThan(6);
  });
});
