/**
 * The peers part of the payload (--peers, harness/peers-payload.ts) on an ssh device: uploaded once into
 * `<workDir>/peers/<hash>/` and reused by every later run. The upload is skipped when the device's copy
 * has the same manifest.json (the hash and every file's SHA-256); the runner still checks every file
 * against the host's hashes before it imports anything (suites/conv/peers/load.ts) and moves a copy that
 * fails aside (harness/runner/main.ts), so the next run uploads it again.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from 'ssh2';
import type { PlanPeers } from '../../core/contracts.js';
import type { Device } from '../devices.js';
import type { PeersPayload } from '../peers-payload.js';
import { remoteDir, shq } from './shell.js';
import { DEFAULT_STEP_TIMEOUT_MS, execCollect, sftpCall, sftpOf, SshError, type SshOptions } from './ssh.js';

/** Where the runner finds the part: relative to the device's work directory (its working directory). */
export const remotePeersDir = (hash: string) => `peers/${hash}`;

/** Puts the peers part on the device unless its copy's manifest matches; returns the plan's peers field and the bytes uploaded. */
export async function ensurePeers(client: Client, device: Device, peers: PeersPayload, opts: SshOptions = {}): Promise<{ plan: PlanPeers; uploaded: number }> {
  const plan: PlanPeers = { dir: remotePeersDir(peers.hash), hash: peers.hash, files: peers.files, uploaded: true };
  const dir = remoteDir(device.workDir);
  const step = { ms: opts.stepTimeoutMs ?? DEFAULT_STEP_TIMEOUT_MS };
  const final = `${dir.sftp}/${remotePeersDir(peers.hash)}`;
  const manifest = readFileSync(join(peers.dir, 'manifest.json'));
  const sftp = await sftpOf(client);
  try {
    /** The device's manifest of this hash, or null (no copy there). */
    const remoteManifest = () =>
      sftpCall<Buffer>(sftp, (cb) => sftp.readFile(`${final}/manifest.json`, cb), { ...step, what: 'reading the peers manifest' }).catch(() => null);
    const theirs = await remoteManifest();
    if (theirs?.equals(manifest)) return { plan, uploaded: 0 };
    // Earlier copies that failed their hashes (moved aside by the runner) go; the folder is made.
    const prep = await execCollect(client, `mkdir -p ${dir.sh}/peers && rm -rf ${dir.sh}/peers/.damaged-*`, {
      deadlineMs: step.ms,
      what: `creating ${device.workDir}/peers on device ${device.name}`,
    });
    if (prep.code !== 0) throw new Error(`mkdir ${device.workDir}/peers failed: ${prep.stderr.trim().slice(0, 300)}`);
    const stamp = `${process.pid}-${Date.now()}`;
    const tmp = `${dir.sftp}/peers/.tmp-${peers.hash}-${stamp}`;
    const rmTmp = () => execCollect(client, `rm -rf ${dir.sh}/peers/${shq(`.tmp-${peers.hash}-${stamp}`)}`, { deadlineMs: step.ms }).catch(() => undefined);
    await sftpCall<void>(sftp, (cb) => sftp.mkdir(tmp, cb), { ...step, what: `creating ${tmp} on device ${device.name}` });
    let uploaded = 0;
    try {
      for (const path of Object.keys(peers.files)) {
        if (opts.abort?.aborted) throw new SshError(`uploading the peers part to device ${device.name} was interrupted`, 'interrupted');
        const data = readFileSync(join(peers.dir, path));
        await sftpCall<void>(sftp, (cb) => sftp.writeFile(`${tmp}/${path}`, data, cb), { ...step, what: `uploading peers/${path} to device ${device.name}` });
        uploaded += data.byteLength;
      }
      // A copy whose manifest differs (an interrupted or damaged one) is replaced as a whole.
      if (theirs) await sftpCall<void>(sftp, (cb) => sftp.rename(final, `${dir.sftp}/peers/.damaged-${peers.hash}-${stamp}`, cb)).catch(() => undefined);
      await sftpCall<void>(sftp, (cb) => sftp.rename(tmp, final, cb), { ...step, what: `renaming the peers part on device ${device.name}` }).catch(
        async (e: unknown) => {
          // Another run put the same part there first: fine when its manifest is this one (the runner checks every file anyway).
          if (!(await remoteManifest())?.equals(manifest)) throw e;
          await rmTmp();
        },
      );
    } catch (e) {
      await rmTmp();
      throw e;
    }
    return { plan, uploaded };
  } catch (cause) {
    if (cause instanceof SshError && (cause.kind === 'interrupted' || cause.kind === 'timeout')) throw cause;
    const mb = (Object.values(peers.bytes).reduce((n, b) => n + b, 0) / 1e6).toFixed(1);
    throw new SshError(
      `uploading the peers part (${mb} MB, --peers) to device ${device.name}:${device.workDir}/peers failed: ${(cause as Error).message ?? String(cause)}. ` +
        'Free some disk space on the device (or set workDir in devices.yaml), or run without --peers',
      'upload',
      { cause },
    );
  } finally {
    sftp.end();
  }
}
