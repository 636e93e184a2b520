/**
 * The shipped Node's first upload and its reuse, timed (issue 18's goal):
 *
 *   npx tsx scripts/ship-node-timing.ts                         # a throwaway OpenSSH server on 127.0.0.1 (loopback), amd64
 *   npx tsx scripts/ship-node-timing.ts --arch armhf            # the same with the armhf pack
 *   npx tsx scripts/ship-node-timing.ts --devices devices.yaml --device rpi3   # a real board (its work dir's node/ID is removed first)
 *
 * Prints the pack's size, the seconds of the first upload (upload, SHA-256 check, unpack, check of
 * every file) and of the reuse (check of every file only), and the load average. A measurement on a
 * shared machine, not a benchmark: run it a few times.
 */
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadDevices, SHIP_ARCHES, type Device, type ShipArch } from '../harness/devices.js';
import { ensureShippedNode, packNode, remoteArch } from '../harness/node-ship.js';
import { connect, runStep } from '../harness/transport/ssh.js';
import { remoteDir, shq } from '../harness/transport/shell.js';
import { startSshd, stopSshd, type SshdInfo } from '../test/helpers/sshd.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { devices: { type: 'string' }, device: { type: 'string' }, arch: { type: 'string' }, runs: { type: 'string', default: '1' } },
  });
  let sshd: SshdInfo | null = null;
  let device: Device;
  try {
    if (values.device) {
      device = loadDevices(values.devices ?? 'devices.yaml').get(values.device);
    } else {
      sshd = await startSshd();
      const file = join(sshd.dir, 'devices.yaml');
      const { writeFileSync } = await import('node:fs');
      writeFileSync(
        file,
        `devices:\n  loopback:\n    host: 127.0.0.1\n    port: ${sshd.port}\n    user: ${sshd.user}\n    identityFile: ${JSON.stringify(sshd.identityFile)}\n` +
          `    hostKey: ${JSON.stringify(sshd.hostKeyFingerprint)}\n    workDir: ${JSON.stringify(join(sshd.dir, 'work'))}\n`,
      );
      device = loadDevices(file).get('loopback');
    }
    if (values.arch !== undefined && !(SHIP_ARCHES as readonly string[]).includes(values.arch)) throw new Error(`--arch: one of ${SHIP_ARCHES.join(', ')}`);
    const { client } = await connect(device);
    try {
      const arch = (values.arch as ShipArch | undefined) ?? (await remoteArch(client, device));
      const pack = await packNode(arch, { log: (m) => process.stderr.write(`${m}\n`) });
      for (let i = 0; i < Number(values.runs); i++) {
        await runStep(client, `rm -rf ${remoteDir(device.workDir).sh}/node/${shq(pack.id)}`, { deadlineMs: 60_000, what: 'removing the shipped Node' });
        const first = await ensureShippedNode(client, device, pack);
        const reuse = await ensureShippedNode(client, device, pack);
        process.stdout.write(
          `${device.name} (${sshd ? 'loopback' : device.host}) ${arch}: pack ${(pack.bytes / 1e6).toFixed(1)} MB (${pack.bytes} bytes, ${Object.keys(pack.sums).length} files); ` +
            `first upload ${first.seconds.toFixed(2)} s (${first.uploadedBytes} bytes), reuse ${reuse.seconds.toFixed(2)} s (${reuse.uploadedBytes} bytes); ` +
            `load average ${loadavg()
              .map((x) => x.toFixed(2))
              .join(' ')}\n`,
        );
      }
    } finally {
      client.end();
    }
  } finally {
    if (sshd) await stopSshd(sshd);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`ship-node-timing: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
