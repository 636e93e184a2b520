/**
 * The emulated Raspberry Pi boards: Debian 12's Node 18 for armhf and arm64
 * under qemu-user (scripts/arm-node.sh), reached over a real OpenSSH server
 * like any board. The payload must run there and give bit-identical outputs.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunResults } from '../core/contracts.js';
import { convVariants } from '../suites/conv/variants.js';
import { compareChecksums, describeMismatches } from '../harness/portability.js';
import { bench, jsonLines } from './helpers/cli.js';
import { startSshd, stopSshd, type SshdInfo } from './helpers/sshd.js';
import { emulatedBoardsFile, runsByDevice } from './helpers/boards.js';

// A reduced quick set: a 3x3 conv, a depthwise layer and a grouped 5x5 with odd sizes.
const CASES = 'resnet50.res2b.branch2b,mobilenet_v1.conv_dw_3,alexnet.conv2';

let sshd: SshdInfo;
const native = new Set(convVariants.filter((v) => v.nativeCode).map((v) => v.name));
const wasmPassed = (run: RunResults) => run.results.filter((r) => r.state === 'passed' && !native.has(r.variant)).length;
/** Accuracy-only results (emulated fp16 arithmetic): checked, never timed, and compared across devices too. */
const accuracyOnly = (run: RunResults) => run.results.filter((r) => r.state === 'skipped' && r.accuracy !== undefined).length;
let devicesFile: string;
const runs: Record<string, RunResults> = {};
let result: Awaited<ReturnType<typeof bench>>;

beforeAll(async () => {
  const work = mkdtempSync(join(tmpdir(), 'roofbench-emu-'));
  sshd = await startSshd();
  // The shipped profiles, plus the two emulated boards.
  devicesFile = emulatedBoardsFile(sshd, work);
  result = await bench(
    ['--devices', devicesFile, '--device', 'local,emu-rpi3,emu-arm64', '--quick', '--case', CASES, '--target-ms', '50', '--min-samples', '3', '--json'],
    { timeoutMs: 600_000 },
  );
  Object.assign(runs, runsByDevice(result.stdout));
}, 900_000);

afterAll(async () => {
  if (sshd) await stopSshd(sshd);
});

describe('emulated boards over SSH', () => {
  it('run the whole reduced quick set on Node 18 for armhf and arm64', () => {
    expect(result.stderr).not.toMatch(/PORTABILITY FAILURE/);
    expect(result.code).toBe(0);
    expect(Object.keys(runs).sort()).toEqual(['emu-arm64', 'emu-rpi3', 'local']);
    for (const name of ['emu-rpi3', 'emu-arm64']) {
      const run = runs[name]!;
      expect(run.status).toBe('complete');
      expect(run.device).toMatchObject({ name, transport: 'ssh', emulated: true });
      // Every WebAssembly variant that passes here passes there (the native ONNX Runtime peer is not in the payload).
      expect(run.results.filter((r) => r.state === 'passed').length).toBe(wasmPassed(runs.local!));
      expect(run.results.some((r) => r.state === 'errored' || r.state === 'inaccurate')).toBe(false);
      // Emulated: no measured roofline, no roofline percentages.
      expect(run.ceilings.measured).toBeNull();
      for (const r of run.results) if (r.state === 'passed') expect(r.perf.pctMeasured).toBeUndefined();
    }
  });

  it('the probe reports the ARM CPU, the emulation and Node 18', () => {
    const rpi = runs['emu-rpi3']!.probe!;
    expect(rpi.cpu.arch).toBe('arm');
    expect(rpi.cpu.machine).toBe('armv7l');
    expect(rpi.cpu.brand).toMatch(/^Cortex-A7 \(emulated by qemu-arm-static/);
    expect(rpi.emulation).toMatch(/qemu-arm-static -cpu cortex-a7/);
    expect(rpi.runtime.node).toMatch(/^v18\./);
    expect(rpi.runtime.wasmSimd).toBe(true);
    const a64 = runs['emu-arm64']!.probe!;
    expect(a64.cpu.arch).toBe('arm64');
    expect(a64.cpu.machine).toBe('aarch64');
    expect(a64.runtime.node).toMatch(/^v18\./);
  });

  it('outputs are bit-identical to this machine for every case and variant', () => {
    for (const name of ['emu-rpi3', 'emu-arm64']) {
      const p = compareChecksums(runs.local!, runs[name]!);
      expect(describeMismatches(p.mismatches)).toBe('');
      expect(accuracyOnly(runs.local!)).toBeGreaterThan(0);
      expect(p.compared).toBe(wasmPassed(runs.local!) + accuracyOnly(runs.local!));
    }
    const lines = jsonLines(result.stdout).filter((e) => e.type === 'portability');
    const n = wasmPassed(runs.local!) + accuracyOnly(runs.local!);
    expect(n).toBeGreaterThanOrEqual(7);
    expect(lines.map((l) => [l.b, l.compared, (l.mismatches as unknown[]).length])).toEqual([
      ['emu-rpi3', n, 0],
      ['emu-arm64', n, 0],
    ]);
  });

  it('the int8 and fp16-storage kernels are among the outputs compared bit for bit', () => {
    // Issue 13: int8 outputs bit-identical on x86 and the emulated ARM boards. Each of these must have passed on
    // every device (so its checksum was compared above), not merely been skipped there.
    const lowp = [
      'conv-im2col-gemm-pc-i8',
      'conv-im2col-gemm-pt-u8',
      'conv3x3-winograd-f2x2-pc-i8',
      'conv-depthwise-pc-i8',
      'conv-im2col-gemm-f16',
      'conv-depthwise-f16',
    ];
    for (const name of ['local', 'emu-rpi3', 'emu-arm64']) {
      const passed = new Set(runs[name]!.results.filter((r) => r.state === 'passed').map((r) => r.variant));
      expect(lowp.filter((v) => !passed.has(v))).toEqual([]);
    }
  });

  it('the report says timings are not meaningful and draws no roofline', () => {
    const done = jsonLines(result.stdout).find((e) => e.type === 'run-complete' && e.device === 'emu-rpi3');
    const html = readFileSync(String(done?.report), 'utf8');
    expect(html).toContain('Emulated device.');
    expect(html).toContain('Not drawn for an emulated device');
  });
});

describe('the portability check', () => {
  it('names the case and variant whose output differs', () => {
    const local = runs.local!;
    const changed: RunResults = JSON.parse(JSON.stringify(runs['emu-rpi3'])) as RunResults;
    const victim = changed.results.find((r) => r.state === 'passed' && r.variant === 'conv-im2col-gemm-f32');
    if (!victim || victim.state !== 'passed') throw new Error('fixture has no passed im2col result');
    victim.accuracy.outputChecksum = '0000000000000000';
    const p = compareChecksums(local, changed);
    expect(p.mismatches).toHaveLength(1);
    expect(describeMismatches(p.mismatches)).toBe(
      `output of conv-im2col-gemm-f32 on ${victim.caseId} differs: local ${
        local.results.find((r) => r.caseId === victim.caseId && r.variant === victim.variant && r.state === 'passed')?.state === 'passed'
          ? (local.results.find((r) => r.caseId === victim.caseId && r.variant === victim.variant) as { accuracy: { outputChecksum: string } }).accuracy
              .outputChecksum
          : '?'
      } vs emu-rpi3 0000000000000000`,
    );
  });
});
