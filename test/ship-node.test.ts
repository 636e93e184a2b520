/**
 * A board without Node gets Debian's Node 18 from roofbench (harness/node-ship.ts),
 * over a real OpenSSH server: an x86-64 "board" whose node does not exist
 * (--ship-node), and the emulated armhf and arm64 boards with `node: ship` (their
 * CPU emulated by qemu-user, the launcher). The first run uploads and verifies the
 * shipped Node, the second uploads nothing; a modified file of it is caught and
 * replaced, never run.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunResults } from '../core/contracts.js';
import { verifyShippedScript } from '../harness/node-ship.js';
import { shq } from '../harness/transport/shell.js';
import { SHIPPED_NODE_EXIT, wrapperScript } from '../harness/transport/session.js';
import { bench, jsonLines, ROOT, runCli } from './helpers/cli.js';
import { startSshd, stopSshd, type SshdInfo } from './helpers/sshd.js';

const CACHE = process.env.ROOFBENCH_ARM_CACHE ?? '/tmp/roofbench-arm-cache';
const ENV = { ROOFBENCH_ARM_CACHE: CACHE };
// A 3x3 layer, plain and fast variants; small enough for qemu.
const ARGS = [
  '--quick',
  '--case',
  'resnet50.res2b.branch2b',
  '--variant',
  'conv-direct-naive-f32,conv-im2col-gemm-f32,conv3x3-winograd-f2x2-f32,conv-im2col-gemm-pc-i8',
  '--no-baselines',
  '--target-ms',
  '50',
  '--min-samples',
  '3',
  '--json',
  '--no-history',
];
const BOARDS = ['bare', 'emu-rpi3', 'emu-arm64'];

let sshd: SshdInfo;
let work: string;
let devicesFile: string;
const runs: Record<string, RunResults>[] = [];
const reports: Record<string, string>[] = [];
const logs: string[] = [];

function resultsOf(stdout: string): Record<string, RunResults> {
  const out: Record<string, RunResults> = {};
  for (const e of jsonLines(stdout).filter((x) => x.type === 'run-complete')) {
    out[String(e.device)] = RunResults.parse(JSON.parse(readFileSync(join(String(e.dir), 'results.json'), 'utf8')));
  }
  return out;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'roofbench-ship-'));
  sshd = await startSshd();
  const board = (name: string, lines: string[]) =>
    [
      `  ${name}:`,
      ...lines.map((l) => `    ${l}`),
      '    host: 127.0.0.1',
      `    port: ${sshd.port}`,
      `    user: ${sshd.user}`,
      `    identityFile: ${JSON.stringify(sshd.identityFile)}`,
      `    hostKey: ${JSON.stringify(sshd.hostKeyFingerprint)}`,
      `    workDir: ${JSON.stringify(join(work, `remote ${name}`))}`,
    ].join('\n');
  devicesFile = join(work, 'devices.yaml');
  writeFileSync(
    devicesFile,
    [
      readFileSync(join(ROOT, 'devices.yaml'), 'utf8'),
      board('bare', ['node: /nonexistent/bin/node']),
      board('emu-rpi3', ['profile: rpi3', 'emulated: true', 'node: ship', 'arch: armhf', 'launcher: [qemu-arm-static, -cpu, cortex-a7]']),
      board('emu-arm64', ['emulated: true', 'node: ship', 'arch: arm64', 'launcher: [qemu-aarch64-static, -cpu, cortex-a53]']),
      '',
    ].join('\n'),
  );
  for (let i = 0; i < 2; i++) {
    const r = await bench(['--devices', devicesFile, '--device', BOARDS.join(','), '--ship-node', ...ARGS], { timeoutMs: 1_500_000, env: ENV });
    // --json: what the host logs comes as host-log events.
    logs.push(
      jsonLines(r.stdout)
        .filter((e) => e.type === 'host-log')
        .map((e) => `[${String(e.device)}] ${String(e.message)}`)
        .join('\n'),
    );
    if (r.code !== 0) throw new Error(`run ${i + 1} exited ${r.code}:\n${r.stderr.slice(-3000)}`);
    runs.push(resultsOf(r.stdout));
    reports.push(
      Object.fromEntries(
        jsonLines(r.stdout)
          .filter((e) => e.type === 'run-complete')
          .map((e) => [String(e.device), String(e.report)]),
      ),
    );
  }
}, 3_000_000);

afterAll(async () => {
  if (sshd) await stopSshd(sshd);
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('a board without Node', () => {
  it('without --ship-node, the run says the board has no Node and how to ship one', async () => {
    const r = await bench(['--devices', devicesFile, '--device', 'bare', ...ARGS], { env: ENV });
    expect(r.code).toBe(1);
    const done = jsonLines(r.stdout).find((e) => e.type === 'run-complete');
    expect(done?.status).toBe('incomplete');
    const detail = String(done?.statusDetail);
    expect(detail).toMatch(/Node is not installed or not at "\/nonexistent\/bin\/node" on the device: let roofbench ship Debian's Node 18/);
    expect(detail).toContain('npm run bench -- --device bare --ship-node');
    expect(detail).toContain('node: ship');
  });

  it('runs end to end with the shipped Node 18 on x86-64, armhf and arm64', () => {
    const first = runs[0]!;
    expect(Object.keys(first).sort()).toEqual([...BOARDS].sort());
    const arch = { bare: ['amd64', 'x64'], 'emu-rpi3': ['armhf', 'arm'], 'emu-arm64': ['arm64', 'arm64'] } as const;
    for (const name of BOARDS) {
      const run = first[name]!;
      expect(run.status).toBe('complete');
      expect(run.results.filter((r) => r.state === 'passed')).toHaveLength(4);
      expect(run.probe?.runtime.node).toMatch(/^v18\./);
      expect(run.probe?.cpu.arch).toBe(arch[name as keyof typeof arch][1]);
      const node = run.device.node!;
      expect(node).toMatchObject({ source: 'shipped', version: run.probe?.runtime.node });
      expect(node.shipped?.arch).toBe(arch[name as keyof typeof arch][0]);
      expect(node.shipped?.package).toMatch(new RegExp(`^nodejs ${node.shipped?.arch} 18\\.`));
      // First contact: the whole pack went up.
      expect(node.shipped?.uploadedBytes).toBe(node.shipped?.bytes);
      expect(node.shipped!.bytes).toBeGreaterThan(10e6);
    }
    // The emulated boards ran on the emulated CPU the launcher names.
    expect(first['emu-rpi3']!.probe?.emulation).toBe('qemu-arm-static -cpu cortex-a7');
    expect(first['emu-rpi3']!.probe?.cpu.brand).toMatch(/^Cortex-A7 \(emulated by qemu-arm-static/);
    expect(first['emu-arm64']!.probe?.cpu.machine).toBe('aarch64');
    // Every output is the same on the three (WebAssembly is deterministic).
    const sums = (run: RunResults) => run.results.map((r) => (r.state === 'passed' ? `${r.variant} ${r.accuracy.outputChecksum}` : r.variant)).sort();
    expect(sums(first['emu-rpi3']!)).toEqual(sums(first.bare!));
    expect(sums(first['emu-arm64']!)).toEqual(sums(first.bare!));
    expect(logs[0]).toMatch(
      /\[bare\] device bare: no usable Node \(checking Node on device bare failed \(exit 72\): .*not found\); shipping Debian's Node 18 \(--ship-node\)/,
    );
  });

  it('a second run uploads nothing: neither Node nor the payload', () => {
    for (const name of BOARDS) {
      const [a, b] = [runs[0]![name]!, runs[1]![name]!];
      expect(b.status).toBe('complete');
      expect(b.device.node?.shipped?.uploadedBytes).toBe(0);
      expect(b.device.node?.shipped?.sha256).toBe(a.device.node?.shipped?.sha256);
      expect(b.device.uploadedBytes).toBe(0);
      expect(logs[1]).toContain(`[${name}] Node v18.20.4 for ${a.device.node?.shipped?.arch} already on device ${name} (verified)`);
    }
  });

  it('the report says which Node ran and where it came from', () => {
    const html = readFileSync(reports[0]!['emu-rpi3']!, 'utf8');
    expect(html).toContain('Node from');
    expect(html).toMatch(/shipped by roofbench: Debian&#39;s nodejs armhf 18\.[^<]*, run from [^<]*remote emu-rpi3\/node\/[0-9a-f]{12}\/bin\/node/);
    expect(html).toContain('uploaded for this run');
  });

  it('devices check --ship-node reports the shipped Node, already there and verified', async () => {
    const r = await runCli('harness/devices-cli.ts', ['check', 'bare', '--devices', devicesFile, '--ship-node'], { env: ENV, timeoutMs: 300_000 });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(
      /node {9}v18\.20\.4 \(x64\), shipped by roofbench: nodejs amd64 18\.[^,]*, in .*remote bare\/node\/[0-9a-f]{12} \(already there, verified\)/,
    );
  });

  it('a modified file of the shipped Node is caught: replaced before anything runs', async () => {
    const shipped = runs[0]!.bare!.device.node!.shipped!;
    const lib = join(work, 'remote bare', 'node', shipped.id, 'lib', 'libuv.so.1');
    appendFileSync(lib, 'tampered');
    const r = await bench(['--devices', devicesFile, '--device', 'bare', '--ship-node', ...ARGS], { env: ENV, timeoutMs: 600_000 });
    expect(r.code, r.stderr).toBe(0);
    const run = resultsOf(r.stdout).bare!;
    expect(run.device.node?.shipped?.uploadedBytes).toBe(shipped.bytes);
    expect(readFileSync(lib).includes('tampered')).toBe(false);
  });

  it('the check before each run fails on a changed, missing or extra-byte file and passes on the intact copy', () => {
    const dir = join(work, 'verify');
    mkdirSync(join(dir, 'lib'), { recursive: true });
    writeFileSync(join(dir, 'lib', 'a.so'), 'abc');
    const sums = {
      'lib/a.so': execFileSync('sha256sum', [join(dir, 'lib', 'a.so')])
        .toString()
        .slice(0, 64),
    };
    const check = () => spawnSync('sh', ['-c', verifyShippedScript(shq(dir), sums)]).status;
    expect(check()).toBe(0);
    appendFileSync(join(dir, 'lib', 'a.so'), 'd');
    expect(check()).not.toBe(0);
    rmSync(join(dir, 'lib', 'a.so'));
    expect(check()).not.toBe(0);
  });

  it('the device wrapper runs nothing when the shipped Node does not verify (exit 77), and runs it when it does', () => {
    const dir = join(work, 'wrapper');
    mkdirSync(join(dir, 'node', 'lib'), { recursive: true });
    writeFileSync(join(dir, 'node', 'lib', 'a.so'), 'abc');
    const sums = {
      'lib/a.so': execFileSync('sha256sum', [join(dir, 'node', 'lib', 'a.so')])
        .toString()
        .slice(0, 64),
    };
    const run = () =>
      spawnSync(
        'sh',
        [
          '-c',
          wrapperScript({
            workDir: shq(dir),
            payloadDir: shq(join(dir, 'payload')),
            node: [process.execPath],
            preflight: `${verifyShippedScript(shq(join(dir, 'node')), sums)} || { echo "roofbench: the shipped Node does not match its hashes" >&2; exit ${SHIPPED_NODE_EXIT}; }`,
            owner: 'test',
            expected: { hash: 'h', files: {} },
          }),
        ],
        { input: '', encoding: 'utf8', timeout: 60_000 },
      );
    const intact = run();
    // Node ran: the bootstrap reported on the (empty) payload.
    expect(intact.stdout).toContain('"type":"payload"');
    appendFileSync(join(dir, 'node', 'lib', 'a.so'), 'x');
    const tampered = run();
    expect(tampered.status).toBe(77);
    expect(tampered.stderr).toContain('roofbench: the shipped Node does not match its hashes');
    expect(tampered.stdout).not.toContain('"type":"payload"');
  });
});
