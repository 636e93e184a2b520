/**
 * The native example (examples/native-conv) through `npm run bench -- --native-example` on every
 * kind of device at once: `local`, this machine over a real OpenSSH server (the test sshd), and the
 * two emulated Raspberry Pi boards (Debian 12's Node 18 for armhf and arm64 under qemu-user, reached
 * over the same sshd; the runner starts the board's build under the same qemu CPU). Each device gets
 * the payload holding its own architecture's binaries only, verified on the device; the kernels pass
 * the float64 checks everywhere (correctness only under emulation, as always: no roofline there).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunResults } from '../core/contracts.js';
import { bench, jsonLines, ROOT } from './helpers/cli.js';
import { startSshd, stopSshd, type SshdInfo } from './helpers/sshd.js';
import { armNode, sshdDevice } from './helpers/boards.js';

const NATIVE = ['conv-im2col-gemm-native-f32', 'conv-direct-native-f32'];
const CASES = 'vgg16.conv1_2,alexnet.conv2';
const DEVICES = ['local', 'loopback', 'emu-rpi3', 'emu-arm64'];

let sshd: SshdInfo;
let result: Awaited<ReturnType<typeof bench>>;
const runs: Record<string, RunResults> = {};
const manifests: Record<string, string[]> = {};

beforeAll(async () => {
  // Every architecture of the example (installs Debian's cross compilers when missing).
  execFileSync('bash', [join(ROOT, 'scripts', 'build-native.sh'), 'all'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 1_200_000 });
  const work = mkdtempSync(join(tmpdir(), 'roofbench-native-devices-'));
  const [armhf, arm64] = [armNode('armhf', join(work, 'armhf')), armNode('arm64', join(work, 'arm64'))];
  sshd = await startSshd();
  const board = (name: string, node: string, emulated: boolean) => sshdDevice(sshd, work, name, node, { emulated });
  const devicesFile = join(work, 'devices.yaml');
  writeFileSync(
    devicesFile,
    [
      'devices:',
      '  local:',
      '    transport: local',
      board('loopback', process.execPath, false),
      board('emu-rpi3', armhf, true),
      board('emu-arm64', arm64, true),
      '',
    ].join('\n'),
  );
  result = await bench(
    [
      '--devices',
      devicesFile,
      '--device',
      DEVICES.join(','),
      '--native-example',
      '--quick',
      '--case',
      CASES,
      '--variant',
      [...NATIVE, 'conv-im2col-gemm-f32'].join(','),
      '--target-ms',
      '50',
      '--min-samples',
      '3',
      '--json',
      '--no-history',
    ],
    { timeoutMs: 1_200_000 },
  );
  for (const e of jsonLines(result.stdout).filter((x) => x.type === 'run-complete')) {
    const run = RunResults.parse(JSON.parse(readFileSync(join(String(e.dir), 'results.json'), 'utf8')));
    runs[String(e.device)] = run;
    // The payload each device verified: its manifest, as uploaded (ssh) or used in place (local).
    const where =
      run.device.transport === 'local'
        ? join(ROOT, '.cache', 'payload', run.payloadHash)
        : join(work, `remote-${run.device.name}`, 'payloads', run.payloadHash);
    manifests[run.device.name] = (JSON.parse(readFileSync(join(where, 'manifest.json'), 'utf8')) as { files: { path: string }[] }).files.map((f) => f.path);
  }
}, 2_400_000);

afterAll(async () => {
  if (sshd) await stopSshd(sshd);
});

describe('the native example on local, over ssh and on the emulated ARM boards', () => {
  it('completes on every device, the native kernels passing the float64 checks', () => {
    expect(result.stderr).not.toMatch(/PORTABILITY FAILURE/);
    expect(Object.keys(runs).sort()).toEqual([...DEVICES].sort());
    for (const d of DEVICES) {
      const run = runs[d]!;
      expect(run.status, `${d}: ${run.statusDetail ?? ''}`).toBe('complete');
      for (const name of NATIVE) {
        const rs = run.results.filter((r) => r.variant === name);
        expect(rs, `${d} ${name}`).toHaveLength(2);
        for (const r of rs) {
          expect(r.state, `${d} ${name} ${r.caseId}: ${'error' in r ? r.error : ''}`).toBe('passed');
          expect(r.external).toMatch(/examples\/native-conv\/kernels\.yaml:\d+$/);
        }
      }
    }
    expect(result.code).toBe(0);
  });

  it('sends each device only its own architecture build, inside the verified payload', () => {
    const nativeOf = (d: string) => manifests[d]!.filter((p) => p.startsWith('native/'));
    const archOf = (p: string) => execFileSync('file', ['-b', p], { encoding: 'utf8' });
    for (const d of DEVICES) {
      // native-conv and native-ceilings (the emulated boards do not measure ceilings, but the probe travels with the kernels file).
      expect(
        nativeOf(d)
          .map((p) => p.split('/').pop())
          .sort(),
        d,
      ).toEqual(['native-ceilings', 'native-conv']);
      expect(runs[d]!.device.payloadVerified?.hash).toBe(runs[d]!.payloadHash);
    }
    // x86-64 for this machine (local and over ssh: the same payload), ARM for the boards.
    expect(manifests.local).toEqual(manifests.loopback);
    expect(runs.local!.payloadHash).toBe(runs.loopback!.payloadHash);
    expect(new Set(DEVICES.map((d) => runs[d]!.payloadHash)).size).toBe(3);
    const binary = (d: string) =>
      join(
        ROOT,
        '.cache',
        'payload',
        runs[d]!.payloadHash,
        nativeOf(d).find((p) => p.endsWith('native-conv'))!,
      );
    expect(archOf(binary('local'))).toMatch(/x86-64/);
    expect(archOf(binary('emu-rpi3'))).toMatch(/ARM, EABI5/);
    expect(archOf(binary('emu-arm64'))).toMatch(/ARM aarch64/);
  });

  it('draws the native roof where the device measures ceilings, and no roofline under emulation', () => {
    for (const d of ['local', 'loopback']) {
      expect(runs[d]!.ceilings.native?.peakMethod, d).toMatch(/native/);
      const gemm = runs[d]!.results.find((r) => r.variant === NATIVE[0] && r.state === 'passed');
      expect(gemm && 'perf' in gemm ? gemm.perf.pctNative : undefined, d).toBeGreaterThan(0);
    }
    for (const d of ['emu-rpi3', 'emu-arm64']) {
      expect(runs[d]!.ceilings.native ?? null, d).toBeNull();
      for (const r of runs[d]!.results) if ('perf' in r) expect(r.perf.pctNative, `${d} ${r.variant}`).toBeUndefined();
    }
  });
});
