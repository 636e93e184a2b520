/**
 * fusion.wasm and the tiled chain executor on the emulated Raspberry Pi boards (Debian 12's Node 18 for armhf and
 * arm64 under qemu-user, scripts/arm-node.sh), reached over a real OpenSSH server like any board, as
 * test/emulated.test.ts does for the conv suite: the fused and unfused ways and every tiled schedule give outputs
 * bit-identical to this machine's (the portability check compares every WebAssembly result's output checksum;
 * ONNX Runtime, native code, is left out of it). The small awkward cases of --quick (odd sizes, stride 2 inside
 * a chain, a tile larger than the output) keep the emulated run short.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunResults } from '../core/contracts.js';
import { compareChecksums, describeMismatches } from '../harness/portability.js';
import { jsonLines } from './helpers/cli.js';
import { startSshd, stopSshd, type SshdInfo } from './helpers/sshd.js';
import { benchOnBoards, expectBitIdenticalOnBoards, expectSamePassedOnBoards } from './helpers/boards.js';

const CASES = 'awkward.conv3x3s2.bias-add-relu6,awkward.dw-pw.s2,awkward_odd';
const WAYS = ['fusion-unfused-f32', 'fusion-fused-f32', 'tiling-layer-by-layer-f32', 'tiling-tiled-8-f32', 'tiling-tiled-28-f32', 'tiling-cached-8-f32'];

let sshd: SshdInfo | undefined;
let runs: Record<string, RunResults> = {};
let result: { stdout: string; stderr: string; code: number | null };

beforeAll(async () => {
  sshd = await startSshd();
  ({ result, runs } = await benchOnBoards(sshd, mkdtempSync(join(tmpdir(), 'roofbench-pairs-emu-')), [
    '--suite',
    'fusion,tiling',
    '--case',
    CASES,
    '--variant',
    WAYS.join(','),
  ]));
}, 900_000);

afterAll(async () => {
  if (sshd) await stopSshd(sshd);
});

const passed = (run: RunResults) => run.results.filter((r) => r.state === 'passed');

describe('fusion.wasm and the tiled executor on the emulated boards', () => {
  it('every way passes on Node 18 for armhf and arm64, as here', () => {
    expect(result.stderr).not.toMatch(/PORTABILITY FAILURE/);
    expect(result.code, result.stderr).toBe(0);
    expect(Object.keys(runs).sort()).toEqual(['emu-arm64', 'emu-rpi3', 'local']);
    const local = runs.local!;
    expect(passed(local).map((r) => `${r.caseId} ${r.variant}`)).toHaveLength(2 * 2 + 4);
    expectSamePassedOnBoards(runs);
  });

  it('outputs are bit-identical to this machine for every fused, unfused and tiled result', () => {
    expectBitIdenticalOnBoards(result, runs, passed(runs.local!).length);
  });

  it('fault: a tiled output changed on the board is named', () => {
    const changed = structuredClone(runs['emu-rpi3']!);
    const victim = changed.results.find((r) => r.state === 'passed' && r.variant === 'tiling-tiled-8-f32');
    if (!victim || victim.state !== 'passed') throw new Error('no passed tiled result on emu-rpi3');
    victim.accuracy.outputChecksum = '0000000000000000';
    const p = compareChecksums(runs.local!, changed);
    expect(describeMismatches(p.mismatches)).toMatch(/^output of tiling-tiled-8-f32 on tiling\/awkward_odd differs: local [0-9a-f]{16} vs emu-rpi3 0{16}$/);
  });

  it('the emulated report gives no best tile and no roofline (timings of the emulator)', () => {
    const done = jsonLines(result.stdout).find((e) => e.type === 'run-complete' && e.device === 'emu-rpi3');
    const html = readFileSync(String(done?.report), 'utf8');
    expect(html).toContain('<section id="tiling"');
    expect(html).toContain('no best tile or roofline is given');
    expect(html).not.toContain('best tile on this device');
  });
});
