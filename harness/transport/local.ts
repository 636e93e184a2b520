/**
 * The `local` device: the payload runs in a child Node process on this machine,
 * through the same wrapper as a remote device (harness/transport/session.ts):
 * the same device lock (so two local runs do not measure each other's load),
 * the same payload check before the runner is loaded, the same stop.
 */
import { execFileSync, spawn } from 'node:child_process';
import os from 'node:os';
import { join, resolve } from 'node:path';
import type { Plan } from '../../core/contracts.js';
import { DEFAULT_WORK_DIR, type Device } from '../devices.js';
import { buildPayload, expectedFiles, payloadForArch, type Payload } from '../payload.js';
import { shq } from './shell.js';
import { LOCK_SCRIPT, lockOwner, runLocked, runSession, wrapperScript, type SessionIo } from './session.js';
import type { RunHandlers, RunOutcome, Transport, TransportOptions } from './types.js';

/**
 * Where the local device keeps its lock: ROOFBENCH_LOCAL_WORK_DIR, else the
 * device's workDir on this machine; by default ~/.cache/roofbench/local/<host>
 * (one per machine, also when machines share a home directory over NFS).
 */
export function localWorkDir(device: Device): string {
  const dir = process.env.ROOFBENCH_LOCAL_WORK_DIR || (device.workDir === DEFAULT_WORK_DIR ? `${DEFAULT_WORK_DIR}/local/${os.hostname()}` : device.workDir);
  if (dir === '~') return os.homedir();
  if (dir.startsWith('~/')) return join(os.homedir(), dir.slice(2));
  return resolve(dir);
}

/**
 * Who holds the local device's lock in `workDir`, when a live run holds it (its pid alive, this boot, a roofbench
 * wrapper; the same test as the wrapper's, LOCK_SCRIPT's stale()), else null (free, or stale: the run recovers it).
 * Asked before anything is built or printed, so a second run on `local` is refused up front; the wrapper's own
 * check stays the one that counts (a lock taken between the two is refused there).
 */
export function localLockHolder(workDir: string): string | null {
  const script = `W=${shq(workDir)}
${LOCK_SCRIPT}
[ -d "$L" ] || exit 0
[ -n "$(stale)" ] && exit 0
o=$(cat "$L/owner" 2>/dev/null | tr -d '\\000-\\037')
printf '%s' "\${o:-a run that is starting (no owner written yet)}"`;
  try {
    const held = execFileSync('sh', ['-c', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim();
    return held || null;
  } catch {
    // Cannot tell here: the run's own lock step decides.
    return null;
  }
}

export interface LocalOptions extends TransportOptions {
  /** The local device's name (for messages and the lock owner). */
  device?: string;
  /** Where the lock lives on this machine (absolute): the local device's workDir. */
  workDir?: string;
  waitForLock?: boolean;
  lockPollMs?: number;
  log?: (msg: string) => void;
}

export class LocalTransport implements Transport {
  readonly kind = 'local' as const;
  constructor(
    private readonly nodeCommand: string[] = [process.execPath],
    private readonly opts: LocalOptions = {},
  ) {}

  /** `process.arch` of the device's Node: this process's, or (another Node, e.g. under qemu-user) asked once. */
  private nodeArch(): string {
    const [cmd, ...args] = this.nodeCommand;
    if (cmd === process.execPath && args.length === 0) return process.arch;
    try {
      return execFileSync(cmd!, [...args, '-p', 'process.arch'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 120_000 }).trim();
    } catch {
      // The run itself reports a Node that does not start; the native kernels are then skipped.
      return 'unknown';
    }
  }

  async run(runPayload: Payload, plan: Plan, h: RunHandlers): Promise<RunOutcome> {
    if (this.nodeCommand.length === 0) throw new Error('empty node command for the local device');
    // With native kernels (--kernels), the payload holds the device's architecture's builds only.
    const payload = runPayload.native ? await payloadForArch(runPayload, this.nodeArch(), this.opts.log) : runPayload;
    const device = this.opts.device ?? 'local';
    const workDir = this.opts.workDir ?? join(os.homedir(), '.cache', 'roofbench');
    const owner = lockOwner(os.userInfo().username, os.hostname(), plan.runId, device);
    let current = payload;
    // --peers: the part runs from where the host built it (.cache/peers/<hash>), checked by the runner before anything is imported.
    const peers = runPayload.peers;
    const withPeers: Plan = peers ? { ...plan, peers: { dir: peers.dir, hash: peers.hash, files: peers.files } } : plan;
    const session = () =>
      runSession(
        (sink) => {
          const script = wrapperScript({
            workDir: shq(workDir),
            payloadDir: shq(current.dir),
            node: this.nodeCommand,
            owner,
            expected: { hash: current.hash, files: expectedFiles(current) },
          });
          // Its own process group: a Ctrl-C in the terminal reaches roofbench, which stops the run in order.
          const child = spawn('sh', ['-c', script], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
          child.stdout.on('data', (c: Buffer) => sink.stdout(c));
          child.stderr.on('data', (c: Buffer) => sink.stderr(c));
          child.on('error', (e) => sink.fail(`could not start the local runner (sh): ${e.message}`));
          child.on('close', (code, signal) => sink.close(code, signal));
          child.stdin.on('error', () => {
            /* the wrapper ended before reading its input; its exit is reported */
          });
          const io: SessionIo = {
            write: (t) => child.stdin.write(t),
            endInput: () => child.stdin.end(),
            killRunner: (pid) => {
              try {
                process.kill(pid, 'SIGKILL');
              } catch {
                /* already gone */
              }
            },
            forceClose: () => {
              try {
                if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
              } catch {
                /* already gone */
              }
            },
          };
          return io;
        },
        withPeers,
        h,
        { device, inactivityMs: this.opts.inactivityTimeoutMs ?? 600_000, abort: h.abort },
      );
    return runLocked(
      session,
      async () => {
        // The copy in .cache/payload changed after it was checked: rebuild it from the sources.
        current = await buildPayload({
          root: join(payload.dir, '..'),
          log: this.opts.log,
          ...(payload.native ? { native: payload.native.files, arch: payload.native.arch } : {}),
        });
        if (current.hash !== payload.hash) throw new Error(`the payload changed while the run started (${payload.hash} -> ${current.hash}): run again`);
      },
      {
        device,
        lockPath: join(workDir, 'lock'),
        waitForLock: this.opts.waitForLock,
        lockPollMs: this.opts.lockPollMs,
        abort: h.abort,
        log: this.opts.log ?? (() => {}),
        ...(h.onLockWait ? { onLockWait: (ms: number) => h.onLockWait?.(ms) } : {}),
      },
    );
  }
}
