/**
 * The sparse kernels on the emulated Raspberry Pi boards (Debian 12's Node 18 for armhf and
 * arm64 under qemu-user, scripts/arm-node.sh), reached over a real OpenSSH server like any
 * board, as test/emulated.test.ts does for the conv suite: every SpMM format and the dense
 * baseline on the same pruned weights give outputs bit-identical to this machine's.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunResults } from '../core/contracts.js';
import { compareChecksums, describeMismatches } from '../harness/portability.js';
import { jsonLines } from './helpers/cli.js';
import { startSshd, stopSshd, type SshdInfo } from './helpers/sshd.js';
import { benchOnBoards, expectBitIdenticalOnBoards, expectSamePassedOnBoards } from './helpers/boards.js';

// A 1x1 layer (SpMM on the input) and a 3x3 one (im2col + SpMM), unstructured and in 1x4 blocks, at 90%.
const LAYERS = 'mobilenet_v1.conv4.pw,resnet50_v1.5.conv3_2.conv2';
const SPMM = ['conv-spmm-csr-f32', 'conv-spmm-b1x1-f32', 'conv-spmm-b1x2-f32', 'conv-spmm-b1x4-f32'];

let sshd: SshdInfo | undefined;
let runs: Record<string, RunResults> = {};
let result: { stdout: string; stderr: string; code: number | null };

beforeAll(async () => {
  sshd = await startSshd();
  ({ result, runs } = await benchOnBoards(sshd, mkdtempSync(join(tmpdir(), 'roofbench-sparse-emu-')), [
    '--suite',
    'sparse',
    '--case',
    LAYERS,
    '--pattern',
    'unstructured,1x4',
    '--sparsity',
    '90%',
  ]));
}, 900_000);

afterAll(async () => {
  if (sshd) await stopSshd(sshd);
});

const passed = (run: RunResults) => run.results.filter((r) => r.state === 'passed');

describe('sparse kernels on the emulated boards', () => {
  it('run every sparse case on Node 18 for armhf and arm64, the same variants passing as here', () => {
    expect(result.stderr).not.toMatch(/PORTABILITY FAILURE/);
    expect(result.code).toBe(0);
    expect(Object.keys(runs).sort()).toEqual(['emu-arm64', 'emu-rpi3', 'local']);
    const local = runs.local!;
    expect(local.cases).toHaveLength(4);
    // Every SpMM format ran somewhere here (b1x2 / b1x4 on the 1x4 cases), and the dense baseline in every case.
    for (const v of [...SPMM, 'conv-im2col-gemm-f32']) expect(passed(local).some((r) => r.variant === v)).toBe(true);
    expectSamePassedOnBoards(runs);
  });

  it('outputs are bit-identical to this machine for every sparse case and format', () => {
    const n = passed(runs.local!).length;
    expect(n).toBeGreaterThanOrEqual(4 * 3);
    expectBitIdenticalOnBoards(result, runs, n);
  });

  it('fault: one sparse output changed on the board is named', () => {
    const changed = structuredClone(runs['emu-arm64']!);
    const victim = changed.results.find((r) => r.state === 'passed' && r.variant === 'conv-spmm-b1x4-f32');
    if (!victim || victim.state !== 'passed') throw new Error('no passed b1x4 result on emu-arm64');
    victim.accuracy.outputChecksum = '0000000000000000';
    const p = compareChecksums(runs.local!, changed);
    expect(p.mismatches).toHaveLength(1);
    expect(describeMismatches(p.mismatches)).toMatch(
      new RegExp(`^output of conv-spmm-b1x4-f32 on ${victim.caseId.replace(/[.]/g, '\\.')} differs: local [0-9a-f]{16} vs emu-arm64 0{16}$`),
    );
  });

  it('the emulated report gives no break-even or verdict (timings of the emulator)', () => {
    const done = jsonLines(result.stdout).find((e) => e.type === 'run-complete' && e.device === 'emu-rpi3');
    const html = readFileSync(String(done?.report), 'utf8');
    expect(html).toContain('<section id="sparse"');
    expect(html).toContain('no speedup, break-even or verdict is given');
    expect(html).not.toContain('Verdict.</strong>');
  });
});
