/**
 * SSH devices: verify the host key (before anything is sent: no secret goes to
 * an unverified host), check the remote Node, upload the payload once per
 * content hash (SFTP, atomic rename), then run it through the device wrapper
 * (harness/transport/session.ts: lock, hash check of every payload file,
 * runner, stop) and stream its JSON-lines events back. Timing happens on the
 * device. Every remote step before the run has a deadline.
 */
import { createHash, createHmac } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import ssh2, { Client, type ClientChannel, type ConnectConfig, type SFTPWrapper } from 'ssh2';
import type { DeviceNode, Plan } from '../../core/contracts.js';
import type { Device } from '../devices.js';
import { expectedFiles, payloadForArch, type Payload } from '../payload.js';
import { remoteDir, shJoin, shq } from './shell.js';
import { LOCK_HELD_EXIT, LOCK_SCRIPT, lockOwner, runLocked, runSession, SHIPPED_NODE_EXIT, wrapperScript, type SessionIo } from './session.js';
import type { RunHandlers, RunOutcome, Transport } from './types.js';
import { ensurePeers } from './peers-upload.js';

export { LOCK_HELD_EXIT };
export const MIN_NODE_MAJOR = 18;
/** Default deadline of one remote step before the run (Node probe and disk check, one file's upload). */
export const DEFAULT_STEP_TIMEOUT_MS = 120_000;

export interface SshOptions {
  connectTimeoutMs?: number;
  /** Deadline of each remote step before the runner starts (probe, upload of each file); default 120 s. */
  stepTimeoutMs?: number;
  /** Stop what is under way (connecting, a remote step, the run). */
  abort?: AbortSignal;
  /** No event from the runner for this long: the case is hung; the runner is killed. */
  inactivityTimeoutMs?: number;
  /** When the device's Node is missing or older than 18, ship Debian's Node 18 (harness/node-ship.ts). */
  shipNode?: boolean;
  /** Wait for the device lock instead of failing when another run holds it. */
  waitForLock?: boolean;
  lockPollMs?: number;
  /** Give up waiting for the lock after this long. */
  lockWaitMaxMs?: number;
  log?: (msg: string) => void;
}

export class SshError extends Error {
  constructor(
    message: string,
    readonly kind: 'connect' | 'auth' | 'hostkey' | 'node' | 'upload' | 'lock' | 'run' | 'timeout' | 'interrupted',
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SshError';
  }
}

export function fingerprintOf(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

function expandHome(p: string): string {
  return p === '~' ? os.homedir() : p.startsWith('~/') ? join(os.homedir(), p.slice(2)) : p;
}

/** Key blobs known for host:port in an OpenSSH known_hosts file (plain and hashed entries). */
export function knownHostKeys(file: string, host: string, port: number): Buffer[] {
  const names = port === 22 ? [host, `[${host}]:22`] : [`[${host}]:${port}`];
  const keys: Buffer[] = [];
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const parts = line.split(/\s+/);
    let [hostsField, , keyB64] = parts;
    if (hostsField?.startsWith('@')) {
      if (hostsField === '@revoked') continue;
      [, hostsField, , keyB64] = parts;
    }
    if (!hostsField || !keyB64) continue;
    const match = hostsField.split(',').some((h) => {
      if (h.startsWith('|1|')) {
        const [, , salt, hash] = h.split('|');
        if (!salt || !hash) return false;
        return names.some((n) => createHmac('sha1', Buffer.from(salt, 'base64')).update(n).digest('base64') === hash);
      }
      return names.includes(h);
    });
    if (match) keys.push(Buffer.from(keyB64, 'base64'));
  }
  return keys;
}

function where(d: Device): string {
  return `${d.user ?? '?'}@${d.host ?? '?'}:${d.port}`;
}

/** The key type of an SSH public key blob (`ssh-ed25519`, `ecdsa-sha2-nistp256` ...). */
export function keyTypeOf(keyBlob: Buffer): string {
  const n = keyBlob.length >= 4 ? keyBlob.readUInt32BE(0) : 0;
  return n > 0 && n < 64 && keyBlob.length >= 4 + n ? keyBlob.subarray(4, 4 + n).toString('latin1') : 'unknown';
}

/** What the device's known_hosts entries (or pin) say about a presented key. */
export function hostKeyVerdict(device: Device, key: Buffer): { verdict: 'ok' | 'unknown' | 'mismatch'; expected: string } {
  const presented = fingerprintOf(key);
  if (device.hostKey) {
    return { verdict: device.hostKey.replace(/=+$/, '') === presented ? 'ok' : 'mismatch', expected: device.hostKey };
  }
  if (device.knownHosts) {
    const known = existsSync(device.knownHosts) ? knownHostKeys(device.knownHosts, device.host ?? '', device.port) : [];
    return { verdict: known.some((k) => k.equals(key)) ? 'ok' : known.length ? 'mismatch' : 'unknown', expected: known.map(fingerprintOf).join(', ') };
  }
  return { verdict: 'unknown', expected: '' };
}

/**
 * The device's host key, fetched WITHOUT authenticating: the connection is
 * refused at the host key (before any authentication method is even tried)
 * and no key, agent or password is given to it. What `devices trust` shows.
 */
export function fetchHostKey(device: Device, opts: SshOptions = {}): Promise<{ key: Buffer; fingerprint: string; type: string }> {
  if (!device.host || !device.user) {
    return Promise.reject(new SshError(`device ${device.name} has no host/user in ${device.file}`, 'connect'));
  }
  return new Promise((resolvePromise, reject) => {
    const client = new Client();
    let key: Buffer | null = null;
    let settled = false;
    const done = (err: Error | null) => {
      if (settled) return;
      settled = true;
      client.end();
      if (key) resolvePromise({ key, fingerprint: fingerprintOf(key), type: keyTypeOf(key) });
      else reject(err ?? new SshError(`device ${device.name} (${device.host}:${device.port}) presented no host key`, 'connect'));
    };
    client.on('error', (err: Error & { level?: string }) => {
      if (key) return done(null);
      if (err.level === 'client-timeout') {
        return done(
          new SshError(
            `device ${device.name} (${device.host}:${device.port}) did not answer within ${(opts.connectTimeoutMs ?? 15_000) / 1000} s: is it on and reachable?`,
            'connect',
            { cause: err },
          ),
        );
      }
      done(new SshError(`cannot connect to device ${device.name} (${device.host}:${device.port}): ${err.message}`, 'connect', { cause: err }));
    });
    client.on('close', () => done(null));
    // Deliberately no privateKey, agent or password: nothing to authenticate with.
    client.connect({
      host: device.host ?? undefined,
      port: device.port,
      username: device.user ?? undefined,
      readyTimeout: opts.connectTimeoutMs ?? 15_000,
      hostVerifier: (k: Buffer) => {
        key = Buffer.from(k);
        return false; // refuse: the handshake ends here, before authentication
      },
    });
  });
}

/** The private key of `device.identityFile`, or null when the agent should be used instead; throws with a hint. */
function privateKeyOf(device: Device): Buffer | null {
  if (!device.identityFile) return null;
  let data: Buffer;
  try {
    data = readFileSync(expandHome(device.identityFile));
  } catch (cause) {
    throw new SshError(`device ${device.name}: cannot read identityFile ${device.identityFile} (${String((cause as Error).message)})`, 'auth', { cause });
  }
  const parsed = ssh2.utils.parseKey(data);
  if (parsed instanceof Error) {
    if (/encrypted|passphrase/i.test(parsed.message)) {
      // roofbench never asks for, stores or passes a passphrase: the agent holds the unlocked key.
      if (device.agent) return null;
      throw new SshError(
        `device ${device.name}: identityFile ${device.identityFile} is protected by a passphrase, which roofbench does not ask for. ` +
          `Load it into the SSH agent (ssh-add ${device.identityFile}) and set agent: true for ${device.name} in ${device.file}`,
        'auth',
        { cause: parsed },
      );
    }
    throw new SshError(`device ${device.name}: identityFile ${device.identityFile} is not a private key ssh can use: ${parsed.message}`, 'auth', {
      cause: parsed,
    });
  }
  return data;
}

/**
 * Connect with host key verification; resolves to a ready client. The key is
 * checked during the key exchange, before any authentication: a host whose key
 * is not the pinned one (or not in knownHosts) never sees a password, a key
 * signature or an agent request.
 */
export function connect(device: Device, opts: SshOptions = {}): Promise<{ client: Client; fingerprint: string }> {
  if (!device.host || !device.user) {
    return Promise.reject(new SshError(`device ${device.name} has no host/user in ${device.file}`, 'connect'));
  }
  let presented = '';
  let verdict: 'ok' | 'unknown' | 'mismatch' = 'unknown';
  let expected = '';
  const cfg: ConnectConfig = {
    host: device.host,
    port: device.port,
    username: device.user,
    readyTimeout: opts.connectTimeoutMs ?? 15_000,
    keepaliveInterval: 5_000,
    keepaliveCountMax: 3,
    hostVerifier: (key: Buffer) => {
      presented = fingerprintOf(key);
      ({ verdict, expected } = hostKeyVerdict(device, key));
      return verdict === 'ok';
    },
  };
  try {
    const key = privateKeyOf(device);
    if (key) cfg.privateKey = key;
  } catch (e) {
    return Promise.reject(e);
  }
  if (device.agent) {
    if (!process.env.SSH_AUTH_SOCK) {
      return Promise.reject(
        new SshError(`device ${device.name} uses the SSH agent but SSH_AUTH_SOCK is not set: start ssh-agent and ssh-add your key`, 'auth'),
      );
    }
    cfg.agent = process.env.SSH_AUTH_SOCK;
  }
  if (device.passwordEnv) {
    const pw = process.env[device.passwordEnv];
    if (pw === undefined) {
      return Promise.reject(new SshError(`device ${device.name}: passwordEnv names ${device.passwordEnv}, which is not set in the environment`, 'auth'));
    }
    cfg.password = pw;
  }
  if (!cfg.privateKey && !cfg.agent && !cfg.password) {
    return Promise.reject(
      new SshError(`device ${device.name} has no way to authenticate: set identityFile, agent: true or passwordEnv in ${device.file}`, 'auth'),
    );
  }
  if (opts.abort?.aborted) return Promise.reject(new SshError(`connecting to device ${device.name} was interrupted`, 'interrupted'));
  return new Promise((resolvePromise, reject) => {
    const client = new Client();
    let settled = false;
    const onAbort = () => {
      if (settled) return;
      settled = true;
      client.end();
      reject(new SshError(`connecting to device ${device.name} was interrupted`, 'interrupted'));
    };
    opts.abort?.addEventListener('abort', onAbort, { once: true });
    client.on('ready', () => {
      opts.abort?.removeEventListener('abort', onAbort);
      if (settled) return;
      settled = true;
      resolvePromise({ client, fingerprint: presented });
    });
    client.on('error', (err: Error & { level?: string; code?: string }) => {
      opts.abort?.removeEventListener('abort', onAbort);
      if (settled) return;
      settled = true;
      client.end();
      const trust = `npm run devices -- trust ${device.name}`;
      if (presented && verdict === 'mismatch') {
        reject(
          new SshError(
            `HOST KEY MISMATCH for device ${device.name} (${device.host}:${device.port}): it presented ${presented}, but ${device.hostKey ? 'devices.yaml pins' : `${device.knownHosts} lists`} ${expected}. ` +
              `This may be a different machine or an attack; nothing was sent. If the device was reinstalled and you have checked the new key, run: ${trust} --replace`,
            'hostkey',
          ),
        );
      } else if (presented && verdict === 'unknown') {
        reject(
          new SshError(
            `the host key of device ${device.name} (${device.host}:${device.port}) is not pinned: it presented ${presented}; nothing was sent. ` +
              `Check it on the device (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and pin it with: ${trust}`,
            'hostkey',
          ),
        );
      } else if (err.level === 'client-authentication') {
        reject(
          new SshError(
            `authentication as ${device.user} on device ${device.name} (${device.host}:${device.port}) failed: check the key is in ~/.ssh/authorized_keys on the device`,
            'auth',
            { cause: err },
          ),
        );
      } else if (err.level === 'client-timeout') {
        reject(
          new SshError(
            `device ${device.name} (${device.host}:${device.port}) did not answer within ${(cfg.readyTimeout ?? 0) / 1000} s: is it on and reachable?`,
            'connect',
            { cause: err },
          ),
        );
      } else {
        reject(new SshError(`cannot connect to device ${device.name} (${device.host}:${device.port}): ${err.message}`, 'connect', { cause: err }));
      }
    });
    client.connect(cfg);
  });
}

/**
 * Run a command, collect its output. With `deadlineMs`, a command that has not
 * finished by then is abandoned (its channel closed) and the promise rejects
 * saying `what` did not finish; `abort` does the same on request.
 */
export function execCollect(
  client: Client,
  command: string,
  o: { stdin?: string; deadlineMs?: number; what?: string; abort?: AbortSignal } = {},
): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    let settled = false;
    let channel: ClientChannel | null = null;
    let timer: NodeJS.Timeout | null = null;
    const end = (err: Error | null, value?: { code: number | null; signal: string | null; stdout: string; stderr: string }) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      o.abort?.removeEventListener('abort', onAbort);
      if (err) {
        channel?.close();
        reject(err);
      } else resolvePromise(value!);
    };
    const onAbort = () => end(new SshError(`${o.what ?? 'a remote command'} was interrupted`, 'interrupted'));
    if (o.abort?.aborted) return onAbort();
    o.abort?.addEventListener('abort', onAbort, { once: true });
    if (o.deadlineMs !== undefined) {
      timer = setTimeout(
        () => end(new SshError(`${o.what ?? 'a remote command'} did not finish within ${Math.round(o.deadlineMs! / 1000)} s`, 'timeout')),
        o.deadlineMs,
      );
    }
    client.exec(command, (err, stream) => {
      if (err) return end(err);
      channel = stream;
      if (settled) return stream.close();
      let stdout = '';
      let stderr = '';
      stream.on('data', (d: Buffer) => (stdout += d.toString()));
      stream.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      stream.on('close', (code: number | null, signal: string | null) => end(null, { code, signal: signal ?? null, stdout, stderr }));
      stream.end(o.stdin ?? '');
    });
  });
}

/** Exit status of coreutils/busybox `timeout` when the deadline passed (124), or when it had to KILL (137). */
const TIMED_OUT = new Set([124, 137]);

/**
 * A remote step as one `sh -c` command with a deadline ON the device too: where
 * the device has `timeout` (coreutils, busybox), the step and every process it
 * started are killed when the deadline passes, so nothing is left behind.
 */
export function remoteStep(script: string, deadlineMs: number): string {
  const secs = Math.max(1, Math.ceil(deadlineMs / 1000));
  return `sh -c ${shq(`if command -v timeout >/dev/null 2>&1; then exec timeout -k 3 ${secs} sh -c ${shq(script)}; fi; exec sh -c ${shq(script)}`)}`;
}

/** Run a remote step with a deadline on both ends; rejects with `what` and the deadline when it passes. */
export async function runStep(
  client: Client,
  script: string,
  o: { deadlineMs: number; what: string; abort?: AbortSignal },
): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  // The host waits a little longer than the device's own deadline, to hear why it ended.
  const r = await execCollect(client, remoteStep(script, o.deadlineMs), { deadlineMs: o.deadlineMs + 10_000, what: o.what, abort: o.abort });
  if (r.code !== null && TIMED_OUT.has(r.code)) {
    throw new SshError(`${o.what} did not finish within ${Math.round(o.deadlineMs / 1000)} s (stopped on the device)`, 'timeout');
  }
  return r;
}

const SIMD_PROBE =
  // A module with one v128 function: validates only where WebAssembly SIMD is supported.
  'const b=new Uint8Array([0,97,115,109,1,0,0,0,1,5,1,96,0,1,123,3,2,1,0,10,8,1,6,0,65,0,253,17,11]);' +
  'let simd=false;try{simd=WebAssembly.validate(b)}catch(e){}' +
  'console.log(JSON.stringify({node:process.version,arch:process.arch,simd}))';

export interface LockState {
  /** The lock directory exists. */
  held: boolean;
  /** Who holds it, as the wrapper wrote it (null when not held or nothing written). */
  owner: string | null;
  /** Why the next run will recover it (the holder is gone, the device rebooted ...), or null. */
  stale: string | null;
}

export interface RemoteInfo {
  node: string;
  arch: string;
  simd: boolean;
  freeKiB: number | null;
  lock: LockState;
  payloadCached: (hash: string) => boolean;
  cachedHashes: string[];
}

/** Node version, Wasm SIMD, free disk and lock state, in one round trip, with a deadline. */
export async function inspectRemote(client: Client, device: Device, opts: SshOptions & { nodeSh?: string } = {}): Promise<RemoteInfo> {
  const w = remoteDir(device.workDir).sh;
  const deadlineMs = opts.stepTimeoutMs ?? DEFAULT_STEP_TIMEOUT_MS;
  const script = [
    `W=${w}`,
    `mkdir -p "$W/payloads" || { echo "roofbench: cannot create $W/payloads" >&2; exit 71; }`,
    `cd "$W" || exit 70`,
    `${opts.nodeSh ?? shJoin(device.node)} -e ${shq(SIMD_PROBE)} || exit 72`,
    LOCK_SCRIPT,
    `echo "@@df"; df -Pk . | tail -n 1`,
    `echo "@@lock"`,
    `if [ -d "$L" ]; then echo "held"; echo "stale=$(stale)"; echo "owner=$(head -c 1000 "$L/owner" 2>/dev/null | tr -d '\\000-\\037')"; fi`,
    `echo "@@payloads"; ls payloads 2>/dev/null`,
    `exit 0`,
  ].join('\n');
  const r = await runStep(client, script, {
    deadlineMs,
    what: `checking Node, disk and lock on device ${device.name} (${device.node.join(' ')})`,
    abort: opts.abort,
  });
  const sections = new Map<string, string[]>();
  let section = 'node';
  for (const line of r.stdout.split('\n')) {
    if (/^@@(df|lock|payloads)$/.test(line)) {
      section = line.slice(2);
      continue;
    }
    sections.set(section, [...(sections.get(section) ?? []), line]);
  }
  const jsonLine = (sections.get('node') ?? []).filter((l) => l.startsWith('{')).pop();
  if (r.code !== 0 || !jsonLine) {
    const hint =
      r.code === 71 || r.code === 70
        ? `the work directory ${device.workDir} cannot be created or entered on the device: check workDir in devices.yaml`
        : /not found|No such file/.test(r.stderr)
          ? `Node is not installed or not at "${device.node.join(' ')}" on the device: ${SHIP_HINT(device)}`
          : 'see the output above';
    throw new SshError(`checking Node on device ${device.name} failed (exit ${r.code}): ${r.stderr.trim().slice(0, 500)}\n${hint}`, 'node');
  }
  let info: { node: string; arch: string; simd: boolean };
  try {
    info = JSON.parse(jsonLine) as { node: string; arch: string; simd: boolean };
  } catch (cause) {
    throw new SshError(`checking Node on device ${device.name}: it printed ${JSON.stringify(jsonLine.slice(0, 200))}, not the probe's answer`, 'node', {
      cause,
    });
  }
  const dfCols = (sections.get('df') ?? []).join(' ').trim().split(/\s+/);
  const free = Number(dfCols[3]);
  const lockLines = sections.get('lock') ?? [];
  const field = (k: string) => {
    const l = lockLines.find((x) => x.startsWith(`${k}=`));
    return l === undefined ? null : l.slice(k.length + 1).trim() || null;
  };
  const held = lockLines.includes('held');
  const cachedHashes = (sections.get('payloads') ?? []).map((s) => s.trim()).filter((s) => /^[0-9a-f]{16}$/.test(s));
  return {
    node: info.node,
    arch: info.arch,
    simd: info.simd,
    freeKiB: Number.isFinite(free) && dfCols.length >= 4 ? free : null,
    lock: { held, owner: held ? field('owner') : null, stale: held ? field('stale') : null },
    cachedHashes,
    payloadCached: (hash) => cachedHashes.includes(hash),
  };
}

/** What to do about a missing or old Node: ship one, install one, or point node: at one. */
const SHIP_HINT = (d: Device) =>
  `let roofbench ship Debian's Node 18 into the work dir (no root needed): add --ship-node (npm run bench -- --device ${d.name} --ship-node), ` +
  `or set node: ship for ${d.name} in devices.yaml; or install Node >= ${MIN_NODE_MAJOR} (Debian 12 / Raspberry Pi OS: apt install nodejs) or point node: at one`;

export function checkNodeVersion(device: Device, version: string): void {
  const major = Number(/^v(\d+)/.exec(version)?.[1]);
  if (!(major >= MIN_NODE_MAJOR)) {
    throw new SshError(`device ${device.name} runs Node ${version}; the payload needs Node >= ${MIN_NODE_MAJOR}. ${SHIP_HINT(device)}`, 'node');
  }
}

export function sftpOf(client: Client): Promise<SFTPWrapper> {
  return new Promise((res, rej) => client.sftp((err, s) => (err ? rej(err) : res(s))));
}

/** One SFTP call, abandoned (with `sftp` closed) when it takes longer than `deadlineMs`. */
export function sftpCall<T>(
  sftp: SFTPWrapper,
  fn: (cb: (err: Error | null | undefined, v?: T) => void) => void,
  deadline?: { ms: number; what: string },
): Promise<T> {
  return new Promise((res, rej) => {
    let settled = false;
    const timer = deadline
      ? setTimeout(() => {
          if (settled) return;
          settled = true;
          sftp.end();
          rej(new SshError(`${deadline.what} did not finish within ${Math.round(deadline.ms / 1000)} s`, 'timeout'));
        }, deadline.ms)
      : null;
    fn((err, v) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      if (err) rej(err);
      else res(v as T);
    });
  });
}

/**
 * Upload the payload unless the device already holds this hash (or `force`:
 * its copy failed the hash check and is replaced). Returns bytes uploaded.
 */
export async function ensurePayload(
  client: Client,
  device: Device,
  payload: Payload,
  info: RemoteInfo,
  opts: SshOptions & { force?: boolean } = {},
): Promise<number> {
  if (!opts.force && info.payloadCached(payload.hash)) return 0;
  const base = remoteDir(device.workDir).sftp;
  const finalDir = `${base}/payloads/${payload.hash}`;
  const stamp = `${process.pid}-${Date.now()}`;
  const tmpDir = `${base}/payloads/.tmp-${payload.hash}-${stamp}`;
  const oldDir = `${base}/payloads/.damaged-${payload.hash}-${stamp}`;
  const step = { ms: opts.stepTimeoutMs ?? DEFAULT_STEP_TIMEOUT_MS };
  const sftp = await sftpOf(client);
  let uploaded = 0;
  const rmRemote = (dir: string) =>
    execCollect(client, `rm -rf ${remoteDir(device.workDir).sh}/payloads/${shq(dir.split('/').pop() ?? 'x')}`, { deadlineMs: step.ms }).catch(() => undefined);
  try {
    await sftpCall<void>(sftp, (cb) => sftp.mkdir(tmpDir, cb), { ...step, what: `creating ${tmpDir} on device ${device.name}` });
    // Every folder of the payload (wasm/, and native/<hash>/... for the user's kernels), parents first.
    const folders = new Set<string>();
    for (const f of payload.files) for (let d = f.path.split('/').slice(0, -1); d.length > 0; d = d.slice(0, -1)) folders.add(d.join('/'));
    for (const d of [...folders].sort((a, b) => a.split('/').length - b.split('/').length || (a < b ? -1 : 1))) {
      await sftpCall<void>(sftp, (cb) => sftp.mkdir(`${tmpDir}/${d}`, cb), { ...step, what: `creating ${tmpDir}/${d} on device ${device.name}` });
    }
    for (const f of [...payload.files, payload.manifest]) {
      if (opts.abort?.aborted) throw new SshError(`uploading the payload to device ${device.name} was interrupted`, 'interrupted');
      const data = readFileSync(join(payload.dir, f.path));
      const mode = f.mode;
      await sftpCall<void>(sftp, (cb) => (mode ? sftp.writeFile(`${tmpDir}/${f.path}`, data, { mode }, cb) : sftp.writeFile(`${tmpDir}/${f.path}`, data, cb)), {
        ...step,
        what: `uploading ${f.path} to device ${device.name}`,
      });
      uploaded += data.byteLength;
    }
    if (opts.force) {
      // The damaged copy is moved aside first: a run using it keeps its open files, the next one gets the new copy.
      await sftpCall<void>(sftp, (cb) => sftp.rename(finalDir, oldDir, cb), {
        ...step,
        what: `moving the damaged payload aside on device ${device.name}`,
      }).catch(() => undefined);
    }
    await sftpCall<void>(sftp, (cb) => sftp.rename(tmpDir, finalDir, cb), { ...step, what: `renaming the payload on device ${device.name}` }).catch(
      async (e: unknown) => {
        // Someone else finished the same payload first: the device checks its hashes before running it.
        const exists = await sftpCall<unknown>(sftp, (cb) => sftp.stat(`${finalDir}/manifest.json`, cb), { ...step, what: 'stat' }).then(
          () => true,
          () => false,
        );
        if (!exists) throw e;
        await rmRemote(tmpDir);
      },
    );
    if (opts.force) await rmRemote(oldDir);
  } catch (cause) {
    await rmRemote(tmpDir);
    if (cause instanceof SshError && (cause.kind === 'interrupted' || cause.kind === 'timeout')) throw cause;
    const msg = (cause as Error).message ?? String(cause);
    const full = /no space|quota|failure/i.test(msg) && info.freeKiB !== null ? ` (the device reported ${info.freeKiB} KiB free in ${device.workDir})` : '';
    throw new SshError(
      `uploading the payload (${(payload.files.reduce((n, f) => n + f.bytes, 0) / 1024).toFixed(0)} KiB) to device ${device.name}:${device.workDir} failed: ${msg}${full}. Free some disk space on the device or set workDir in devices.yaml`,
      'upload',
      { cause },
    );
  } finally {
    sftp.end();
  }
  return uploaded;
}

/**
 * The command that runs the payload on an ssh device: the device wrapper
 * (harness/transport/session.ts) with the lock in workDir and the payload in
 * workDir/payloads/HASH, every file checked against `payload`'s hashes.
 */
export function runnerCommand(
  device: Device,
  payload: Pick<Payload, 'hash' | 'files' | 'manifest'>,
  owner: string,
  node?: { sh: string; preflight: string | null },
): string {
  const w = remoteDir(device.workDir).sh;
  return `sh -c ${shq(
    wrapperScript({
      workDir: w,
      payloadDir: `${w}/payloads/${shq(payload.hash)}`,
      node: device.node,
      ...(node ? { nodeSh: node.sh, preflight: node.preflight } : {}),
      owner,
      expected: { hash: payload.hash, files: expectedFiles(payload as Payload) },
    }),
  )}`;
}

/** The Node a run uses on an ssh device: how to start it, the check before it starts, and what the run records. */
export interface RemoteNode {
  sh: string;
  preflight: string | null;
  record: DeviceNode;
  info: RemoteInfo;
}

/**
 * Which Node runs the payload: the device's own (node: in devices.yaml), or
 * with `node: ship`, or `shipNode` when the device's is missing or older than
 * 18, Debian's Node 18 shipped into the work dir (harness/node-ship.ts).
 */
export async function resolveRemoteNode(client: Client, device: Device, opts: SshOptions = {}): Promise<RemoteNode> {
  const log = opts.log ?? (() => {});
  if (!device.nodeShip) {
    try {
      const info = await inspectRemote(client, device, opts);
      checkNodeVersion(device, info.node);
      return { sh: shJoin(device.node), preflight: null, info, record: { source: 'device', version: info.node, command: device.node.join(' ') } };
    } catch (e) {
      if (!(opts.shipNode && e instanceof SshError && e.kind === 'node')) throw e;
      log(`device ${device.name}: no usable Node (${e.message.split('\n')[0]!.split('. ')[0]}); shipping Debian's Node 18 (--ship-node)`);
    }
  }
  const ship = await import('../node-ship.js');
  const arch = await ship.remoteArch(client, device, opts);
  const pack = await ship.packNode(arch, { log });
  const up = await ship.ensureShippedNode(client, device, pack, opts);
  if (up.uploadedBytes > 0)
    log(`uploaded Node ${pack.version} for ${arch} (${(up.uploadedBytes / 1e6).toFixed(1)} MB) to device ${device.name} in ${up.seconds.toFixed(1)} s`);
  else log(`Node ${pack.version} for ${arch} already on device ${device.name} (verified)`);
  const sh = ship.shippedNodeCommand(device, pack);
  const info = await inspectRemote(client, device, { ...opts, nodeSh: sh });
  checkNodeVersion(device, info.node);
  const dir = `${remoteDir(device.workDir).sh}/node/${shq(pack.id)}`;
  const preflight = `${ship.verifyShippedScript(dir, pack.sums)} || { echo "roofbench: the shipped Node in ${device.workDir.replace(/["\\$`]/g, '?')}/node/${pack.id} does not match its hashes: nothing was run; the next run replaces it" >&2; exit ${SHIPPED_NODE_EXIT}; }`;
  return { sh, preflight, info, record: ship.shippedRecord(device, pack, info.node, up) };
}

export class SshTransport implements Transport {
  readonly kind = 'ssh' as const;
  /** Bytes uploaded by the last run (0 when the device had the payload cached). */
  lastUploadBytes = 0;
  /** Bytes uploaded over every run() of this transport (a run restarted after a hung case reconnects). */
  totalUploadBytes = 0;
  /** Which Node ran the payload in the first run() (results.json device.node). */
  node: DeviceNode | null = null;
  constructor(
    private readonly device: Device,
    private readonly opts: SshOptions = {},
  ) {}

  async run(runPayload: Payload, plan: Plan, h: RunHandlers): Promise<RunOutcome> {
    const d = this.device;
    let payload = runPayload;
    const log = this.opts.log ?? (() => {});
    const abort = h.abort ?? this.opts.abort;
    const opts: SshOptions = { ...this.opts, ...(abort ? { abort } : {}) };
    const interrupted = (failure: string): RunOutcome => ({ exitCode: null, signal: null, failure, interrupted: true });
    let client: Client;
    try {
      ({ client } = await connect(d, opts));
    } catch (e) {
      if (e instanceof SshError && e.kind === 'interrupted') return interrupted(e.message);
      return { exitCode: null, signal: null, failure: (e as Error).message };
    }
    try {
      const node = await resolveRemoteNode(client, d, opts);
      const info = node.info;
      this.node ??= node.record;
      if (!info.simd) log(`device ${d.name}: Node ${info.node} has no WebAssembly SIMD; SIMD variants will be skipped`);
      // With native kernels (--kernels), the payload holds this device's architecture's builds only.
      payload = await payloadForArch(payload, info.arch, log);
      const upload = async (force: boolean) => {
        const t0 = Date.now();
        this.lastUploadBytes = await ensurePayload(client, d, payload, info, { ...opts, force });
        this.totalUploadBytes += this.lastUploadBytes;
        if (this.lastUploadBytes > 0)
          log(`uploaded payload ${payload.hash} (${(this.lastUploadBytes / 1024).toFixed(0)} KiB) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        else log(`payload ${payload.hash} already on the device`);
      };
      await upload(false);
      // --peers: the peers part, once per device (harness/transport/peers-upload.ts), named in the plan.
      let runPlan = plan;
      if (payload.peers) {
        const t0 = Date.now();
        const peers = await ensurePeers(client, d, payload.peers, opts);
        this.totalUploadBytes += peers.uploaded;
        if (peers.uploaded > 0)
          log(`uploaded the peers part ${payload.peers.hash} (${(peers.uploaded / 1e6).toFixed(1)} MB) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        else log(`peers part ${payload.peers.hash} already on the device`);
        runPlan = { ...plan, peers: peers.plan };
      }
      const owner = lockOwner(os.userInfo().username, os.hostname(), plan.runId, d.name);
      const command = runnerCommand(d, payload, owner, node);
      return await runLocked(
        () =>
          runSession(
            (sink) => {
              let stream: ClientChannel | null = null;
              const pending: string[] = [];
              let endRequested = false;
              const onClose = () => sink.lost(`connection to device ${d.name} (${where(d)}) was lost during the run`);
              const onError = (err: Error) => sink.lost(`connection to device ${d.name} (${where(d)}) failed during the run: ${err.message}`);
              client.on('close', onClose);
              client.on('error', onError);
              client.exec(command, (e: Error | undefined, s: ClientChannel) => {
                if (e) {
                  sink.fail(`cannot start the runner on device ${d.name}: ${e.message}`);
                  return;
                }
                stream = s;
                s.on('data', (c: Buffer) => sink.stdout(c));
                s.stderr.on('data', (c: Buffer) => sink.stderr(c));
                s.on('close', (code: number | null, signal?: string) => sink.close(code, signal ?? null));
                for (const p of pending) s.write(p);
                if (endRequested) s.end();
              });
              const io: SessionIo = {
                write: (t) => (stream ? stream.write(t) : pending.push(t)),
                endInput: () => {
                  if (stream) stream.end();
                  else endRequested = true;
                },
                killRunner: (pid) => {
                  execCollect(client, `kill -9 ${Number(pid)}`, { deadlineMs: 15_000 }).catch(() => undefined);
                },
                forceClose: () => {
                  stream?.close();
                },
                dispose: () => {
                  client.removeListener('close', onClose);
                  client.removeListener('error', onError);
                },
              };
              return io;
            },
            runPlan,
            h,
            { device: d.name, inactivityMs: this.opts.inactivityTimeoutMs ?? 600_000, abort },
          ),
        (files) => {
          log(`replacing ${files.length} file(s) of payload ${payload.hash} on device ${d.name}`);
          return upload(true);
        },
        {
          device: d.name,
          lockPath: `${d.workDir}/lock`,
          waitForLock: this.opts.waitForLock,
          lockPollMs: this.opts.lockPollMs,
          lockWaitMaxMs: this.opts.lockWaitMaxMs,
          abort,
          log,
          ...(h.onLockWait ? { onLockWait: (ms: number) => h.onLockWait?.(ms) } : {}),
        },
      );
    } catch (e) {
      if (e instanceof SshError && e.kind === 'interrupted') return interrupted(e.message);
      return { exitCode: null, signal: null, failure: (e as Error).message };
    } finally {
      client.end();
    }
  }
}
