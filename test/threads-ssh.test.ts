/**
 * `--threads` as a user runs it (system tier): the CLI refuses bad counts before anything runs, and a
 * `--threads 1,2` run over SSH to the test sshd (a real OpenSSH server, pinned host key) measures the
 * threadable variants on the device's pool, skips the others with the reason, measures the ceilings on
 * 2 threads, stores every result's thread count (schema 3) and renders the scaling view.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTimed, RunResults } from '../core/contracts.js';
import { bench } from './helpers/cli.js';
import { loopbackDeviceLines, startSshd, stopSshd, type SshdInfo } from './helpers/sshd.js';

let sshd: SshdInfo;
let work: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'roofbench-threads-ssh-'));
  sshd = await startSshd();
}, 300_000);
afterAll(async () => {
  if (sshd) await stopSshd(sshd);
});

describe('--threads on the command line', () => {
  it('refuses 0, -1, two and 65 with what to do, before any device is touched', async () => {
    for (const [value, why] of [
      ['0', /0 threads cannot run anything; use 1/],
      ['-1', /"-1" is not a thread count/],
      ['two', /"two" is not a thread count; use a whole number from 1 to 64, or 'all'/],
      ['65', /at most 64/],
    ] as const) {
      const r = await bench(['--quick', `--threads=${value}`, '--no-history']);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(why);
      expect(r.stderr).not.toMatch(/measuring|report:/);
    }
  });

  it('--threads 1,2 over SSH: threaded variants on the device pool, bit-identical to one thread, the rest skipped with the reason, ceilings on 2 threads, a scaling view', async () => {
    const devices = join(work, 'devices.yaml');
    writeFileSync(devices, ['# test registry', 'devices:', ...loopbackDeviceLines(sshd), ''].join('\n'));
    const out = join(work, 'run');
    const variants = 'conv-im2col-gemm-f32,conv3x3-winograd-f4x4-f32,conv3x3-fft-t8-f32';
    const r = await bench(
      [
        '--devices',
        devices,
        '--device',
        'loopback',
        '--quick',
        '--threads',
        '1,2',
        '--case',
        'vgg16.conv3_2',
        '--variant',
        variants,
        '--no-baselines',
        '--out',
        out,
        '--no-history',
      ],
      { timeoutMs: 600_000 },
    );
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const run = RunResults.parse(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')));
    expect(run.schemaVersion).toBe(3);
    expect(run.device.transport).toBe('ssh');
    expect(run.options.threads).toEqual([1, 2]);
    const by = new Map(run.results.map((x) => [x.variant, x]));
    expect([...by.keys()].sort()).toEqual(
      [
        'conv-im2col-gemm-f32',
        'conv3x3-winograd-f4x4-f32',
        'conv3x3-fft-t8-f32',
        'conv-im2col-gemm-f32@t2',
        'conv3x3-winograd-f4x4-f32@t2',
        'conv3x3-fft-t8-f32@t2',
      ].sort(),
    );
    const cores = run.probe!.cpu.cores;
    for (const name of ['conv-im2col-gemm-f32', 'conv3x3-winograd-f4x4-f32']) {
      const one = by.get(name)!;
      const two = by.get(`${name}@t2`)!;
      expect(isTimed(one) && isTimed(two), JSON.stringify(two)).toBe(true);
      if (!isTimed(one) || !isTimed(two)) continue;
      expect(two.threads).toBe(2);
      expect(two.oversubscribed === true).toBe(2 > cores);
      expect(two.accuracy.outputChecksum).toBe(one.accuracy.outputChecksum);
      // Drawn against the roofline measured on 2 threads.
      expect(two.perf.attainableMeasured).toBeDefined();
    }
    const fft = by.get('conv3x3-fft-t8-f32@t2')!;
    expect(fft.state === 'skipped' && fft.reason).toMatch(/not run on 2 threads: the FFT conv is not split yet/);
    expect(run.ceilings.threaded?.map((t) => t.threads)).toEqual([2]);
    expect(run.ceilings.threaded![0]!.measured.peakGflops).toBeGreaterThan(0);
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    expect(html).toContain('<section id="scaling"');
  }, 900_000);
});
