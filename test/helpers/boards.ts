/** Devices for the system tests: Node for the emulated ARM boards, and devices.yaml entries reaching the test sshd. */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RunResults } from '../../core/contracts.js';
import { expect } from 'vitest';
import { compareChecksums, describeMismatches } from '../../harness/portability.js';
import { bench, jsonLines, ROOT } from './cli.js';
import type { SshdInfo } from './sshd.js';

const CACHE = process.env.ROOFBENCH_ARM_CACHE ?? '/tmp/roofbench-arm-cache';

/** Debian 12's Node 18 for `arch` under qemu-user (scripts/arm-node.sh, cached across runs): the path of its wrapper. */
export function armNode(arch: 'armhf' | 'arm64', dir: string): string {
  execFileSync('bash', [join(ROOT, 'scripts', 'arm-node.sh'), arch, dir], {
    env: { ...process.env, ROOFBENCH_ARM_CACHE: CACHE },
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: 600_000,
  });
  return join(dir, `node-${arch}`);
}

/** A devices.yaml entry (under `devices:`) for a device reached over the test sshd, its work directory under `work`. */
export function sshdDevice(sshd: SshdInfo, work: string, name: string, node: string, opts: { profile?: string | null; emulated?: boolean } = {}): string {
  return [
    `  ${name}:`,
    opts.profile ? `    profile: ${opts.profile}` : null,
    opts.emulated ? `    emulated: true` : null,
    `    host: 127.0.0.1`,
    `    port: ${sshd.port}`,
    `    user: ${sshd.user}`,
    `    identityFile: ${JSON.stringify(sshd.identityFile)}`,
    `    hostKey: ${JSON.stringify(sshd.hostKeyFingerprint)}`,
    `    node: ${JSON.stringify(node)}`,
    `    workDir: ${JSON.stringify(join(work, `remote-${name}`))}`,
  ]
    .filter(Boolean)
    .join('\n');
}

/** The shipped devices.yaml plus the two emulated boards (emu-rpi3: armhf, the rpi3 profile; emu-arm64) over `sshd`: its path. */
export function emulatedBoardsFile(sshd: SshdInfo, work: string): string {
  const [armhf, arm64] = [armNode('armhf', join(work, 'armhf')), armNode('arm64', join(work, 'arm64'))];
  const board = (name: string, node: string, profile: string | null) => sshdDevice(sshd, work, name, node, { profile, emulated: true });
  const file = join(work, 'devices.yaml');
  const shipped = readFileSync(join(ROOT, 'devices.yaml'), 'utf8');
  writeFileSync(file, `${shipped}\n${board('emu-rpi3', armhf, 'rpi3')}\n${board('emu-arm64', arm64, null)}\n`);
  return file;
}

/** Each device's results.json of a --json run, by device name. */
export function runsByDevice(stdout: string): Record<string, RunResults> {
  const runs: Record<string, RunResults> = {};
  for (const e of jsonLines(stdout).filter((x) => x.type === 'run-complete')) {
    runs[String(e.device)] = RunResults.parse(JSON.parse(readFileSync(join(String(e.dir), 'results.json'), 'utf8')));
  }
  return runs;
}

/** A quick --json bench of `selection` (suite, cases, variants ...) here and on both emulated boards over `sshd`, short sampling, no ceilings. */
export async function benchOnBoards(
  sshd: SshdInfo,
  work: string,
  selection: string[],
): Promise<{ result: Awaited<ReturnType<typeof bench>>; runs: Record<string, RunResults> }> {
  const devicesFile = emulatedBoardsFile(sshd, work);
  const result = await bench(
    [
      '--devices',
      devicesFile,
      '--device',
      'local,emu-rpi3,emu-arm64',
      ...selection,
      '--quick',
      '--target-ms',
      '20',
      '--min-samples',
      '3',
      '--no-ceilings',
      '--json',
    ],
    { timeoutMs: 600_000 },
  );
  return { result, runs: runsByDevice(result.stdout) };
}

/** Asserts every passed result here has the same output bits on both boards: `n` compared each, as the run's portability lines say. */
export function expectBitIdenticalOnBoards(result: { stdout: string }, runs: Record<string, RunResults>, n: number): void {
  for (const name of ['emu-rpi3', 'emu-arm64']) {
    const p = compareChecksums(runs.local!, runs[name]!);
    expect(describeMismatches(p.mismatches)).toBe('');
    expect(p.compared).toBe(n);
  }
  const lines = jsonLines(result.stdout).filter((e) => e.type === 'portability');
  expect(lines.map((l) => [l.b, l.compared, (l.mismatches as unknown[]).length])).toEqual([
    ['emu-rpi3', n, 0],
    ['emu-arm64', n, 0],
  ]);
}

/** Asserts both boards ran as emulated devices and passed exactly the case x variant pairs that passed here. */
export function expectSamePassedOnBoards(runs: Record<string, RunResults>): void {
  const passed = (run: RunResults) =>
    run.results
      .filter((r) => r.state === 'passed')
      .map((r) => `${r.caseId} ${r.variant}`)
      .sort();
  for (const name of ['emu-rpi3', 'emu-arm64']) {
    expect(runs[name]!.device).toMatchObject({ name, emulated: true });
    expect(passed(runs[name]!)).toEqual(passed(runs.local!));
  }
}
