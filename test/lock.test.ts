/**
 * The device lock on an SSH device (a real OpenSSH server on 127.0.0.1):
 * it is never taken without an owner, released only by its owner, recovered
 * when its pid belongs to another program or the device rebooted, reported
 * sensibly by `devices check` whatever state it is in, and two devices that are
 * one machine and work directory do not pretend to run in parallel.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunResults } from '../core/contracts.js';
import { bench, runCli, startBench } from './helpers/cli.js';
import { deviceEntry, startSshd, stopSshd, type SshdInfo } from './helpers/sshd.js';

const ONE = ['--quick', '--case', 'mobilenet_v1.conv_dw_3', '--no-ceilings'];
let sshd: SshdInfo;
let work: string;
const children: ChildProcess[] = [];

function devicesFile(...devices: { name: string; workDir: string }[]): string {
  const file = join(mkdtempSync(join(work, 'devices-')), 'devices.yaml');
  writeFileSync(file, `devices:\n${devices.map((d) => deviceEntry(sshd, d)).join('\n')}\n`);
  return file;
}

const readRun = (dir: string) => RunResults.parse(JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')));
const outDir = () => join(mkdtempSync(join(work, 'run-')), 'r');
const bootId = () => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();

/** A live process that is not a roofbench run (what a recycled pid points at after a reboot). */
function unrelatedProcess(): number {
  const c = spawn('sleep', ['300'], { stdio: 'ignore' });
  children.push(c);
  return c.pid!;
}

function staleLock(workDir: string, o: { pid: number | null; boot?: string; owner?: string; host?: string }): void {
  mkdirSync(join(workDir, 'lock'), { recursive: true });
  if (o.host !== undefined) writeFileSync(join(workDir, 'lock', 'host'), `${o.host}\n`);
  writeFileSync(join(workDir, 'lock', 'owner'), o.owner ?? 'someone@elsewhere run old device board started long ago\n');
  if (o.pid !== null) writeFileSync(join(workDir, 'lock', 'pid'), `${o.pid}\n`);
  if (o.boot !== undefined) writeFileSync(join(workDir, 'lock', 'boot'), `${o.boot}\n`);
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'roofbench-lock-'));
  sshd = await startSshd();
}, 300_000);

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  if (sshd) await stopSshd(sshd);
});

describe('a lock whose pid is not a roofbench run any more', () => {
  it('the pid now belongs to another program (same boot): recovered, the run goes on', async () => {
    const workDir = join(sshd.dir, 'recycled');
    staleLock(workDir, { pid: unrelatedProcess(), boot: bootId() });
    const out = outDir();
    const r = await bench(['--devices', devicesFile({ name: 'board', workDir }), '--device', 'board', ...ONE, '--out', out], { timeoutMs: 120_000 });
    expect(r.code).toBe(0);
    expect(readRun(out).stderr.join('\n')).toMatch(/recovering a stale lock \(process \d+ is now another program\)/);
    expect(existsSync(join(workDir, 'lock'))).toBe(false);
  });

  it('it was taken before the device rebooted (another boot id): recovered even though the pid is alive', async () => {
    const workDir = join(sshd.dir, 'rebooted');
    // A live pid whose command line even looks like a roofbench wrapper: the boot id still says it is not ours.
    const fake = spawn('sh', ['-c', 'sleep 300 # roofbench-device-lock-v2'], { stdio: 'ignore' });
    children.push(fake);
    staleLock(workDir, { pid: fake.pid!, boot: '00000000-0000-0000-0000-000000000000' });
    const out = outDir();
    const r = await bench(['--devices', devicesFile({ name: 'board', workDir }), '--device', 'board', ...ONE, '--out', out], { timeoutMs: 120_000 });
    expect(r.code).toBe(0);
    expect(readRun(out).stderr.join('\n')).toMatch(/recovering a stale lock \(it was taken before the device rebooted\)/);
  });
});

describe('a lock taken on another machine sharing the directory (NFS)', () => {
  it('is not judged by a pid or boot id that mean nothing here: the run waits or fails, naming the holder', async () => {
    const workDir = join(sshd.dir, 'shared-nfs');
    staleLock(workDir, {
      pid: 999_999,
      boot: '00000000-0000-0000-0000-000000000000',
      host: 'another-machine',
      owner: 'someone@another-machine run x device board started then\n',
    });
    const out = outDir();
    const r = await bench(['--devices', devicesFile({ name: 'board', workDir }), '--device', 'board', ...ONE, '--out', out]);
    expect(r.code).toBe(75);
    expect(r.stderr).toMatch(/device board is busy: locked by someone@another-machine/);
    expect(existsSync(join(out, 'results.json'))).toBe(false);
    expect(readFileSync(join(workDir, 'lock', 'host'), 'utf8')).toBe('another-machine\n');
  });
});

describe('the lock is released only by its owner', () => {
  it('a lock another run recovered meanwhile is left alone when this run ends', async () => {
    const workDir = join(sshd.dir, 'taken-over');
    const other = unrelatedProcess();
    let replaced = false;
    const run = startBench(
      ['--devices', devicesFile({ name: 'board', workDir }), '--device', 'board', ...ONE, '--target-ms', '400', '--json', '--out', outDir()],
      (line) => {
        if (!replaced && line.includes('"type":"case-start"')) {
          // As if a second run had judged this lock stale and taken it over (the full-disk story).
          writeFileSync(join(workDir, 'lock', 'pid'), `${other}\n`);
          writeFileSync(join(workDir, 'lock', 'owner'), 'the other run\n');
          replaced = true;
        }
      },
    );
    const r = await run.done;
    expect(replaced).toBe(true);
    expect(r.code).toBe(0);
    expect(existsSync(join(workDir, 'lock'))).toBe(true);
    expect(readFileSync(join(workDir, 'lock', 'owner'), 'utf8')).toBe('the other run\n');
  });

  it('on a full disk the owner cannot be written: the run fails saying so and leaves no ownerless lock', async () => {
    const small = mkdtempSync(join(work, 'tiny-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', small]);
    try {
      const file = devicesFile({ name: 'board', workDir: small });
      expect((await bench(['--devices', file, '--device', 'board', ...ONE, '--out', outDir()])).code).toBe(0); // the payload fits
      try {
        execFileSync('dd', ['if=/dev/zero', `of=${join(small, 'fill')}`, 'bs=64k'], { stdio: 'ignore' });
      } catch {
        /* dd stops at "no space left": that is the point */
      }
      const out = outDir();
      const r = await bench(['--devices', file, '--device', 'board', ...ONE, '--out', out]);
      expect(r.code).toBe(1);
      expect(readRun(out).statusDetail).toMatch(/cannot write the lock owner in .*lock \(is the device's disk full\?\); the run did not start/);
      expect(existsSync(join(small, 'lock'))).toBe(false);
    } finally {
      execFileSync('umount', [small]);
    }
  });
});

describe('devices check reads any lock state', () => {
  it('an empty owner (a run being set up) does not garble the rest of the report', async () => {
    const workDir = join(sshd.dir, 'empty-owner');
    const file = devicesFile({ name: 'board', workDir });
    expect((await bench(['--devices', file, '--device', 'board', ...ONE, '--out', outDir()])).code).toBe(0);
    mkdirSync(join(workDir, 'lock'));
    writeFileSync(join(workDir, 'lock', 'owner'), '');
    const r = await runCli('harness/devices-cli.ts', ['check', 'board', '--devices', file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/lock\s+held by a run that is starting \(no owner written yet\)/);
    expect(r.stdout).toMatch(/payload\s+[0-9a-f]{16} cached on the device/);
    expect(r.stdout).not.toMatch(/@@|--payloads/);
  });

  it('a stale lock is reported as stale, with why', async () => {
    const workDir = join(sshd.dir, 'check-stale');
    staleLock(workDir, { pid: 999_999, boot: bootId() });
    const r = await runCli('harness/devices-cli.ts', ['check', 'board', '--devices', devicesFile({ name: 'board', workDir })]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/lock\s+stale \(its process 999999 is gone\): the next run recovers it; it was someone@elsewhere/);
  });
});

describe('two devices that are one machine and one work directory', () => {
  it('are refused up front with the reason, instead of one reporting "locked by this same run"', async () => {
    const workDir = join(sshd.dir, 'shared');
    const file = devicesFile({ name: 'board-a', workDir }, { name: 'board-b', workDir });
    const r = await bench(['--devices', file, '--device', 'board-a,board-b', ...ONE]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/devices board-a and board-b are the same machine and work directory .*share one device lock/);
  });
});
