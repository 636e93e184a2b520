/** Devices for the system tests: Node for the emulated ARM boards, and devices.yaml entries reaching the test sshd. */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './cli.js';
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
