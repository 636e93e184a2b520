/**
 * SSH devices: verify the host key, check the remote Node, upload the payload
 * once per content hash (SFTP, atomic rename), take the device lock, run the
 * runner and stream its JSON-lines events back. Timing happens on the device.
 */
import { createHash, createHmac } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { Client, type ClientChannel, type ConnectConfig, type SFTPWrapper } from 'ssh2';
import type { Plan } from '../contracts.js';
import type { Device } from '../devices.js';
import type { Payload } from '../payload.js';
import { eventLineHandler, lineSplitter } from './lines.js';
import { remoteDir, shJoin, shq } from './shell.js';
import type { RunHandlers, RunOutcome, Transport } from './types.js';

export const LOCK_HELD_EXIT = 75;
export const MIN_NODE_MAJOR = 18;

export interface SshOptions {
  connectTimeoutMs?: number;
  /** No event from the runner for this long: the case is hung; the runner is killed. */
  inactivityTimeoutMs?: number;
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
    readonly kind: 'connect' | 'auth' | 'hostkey' | 'node' | 'upload' | 'lock' | 'run',
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

/** Connect with host key verification; resolves to a ready client. */
export function connect(device: Device, opts: SshOptions = {}, acceptAnyKey = false): Promise<{ client: Client; fingerprint: string }> {
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
      if (acceptAnyKey) {
        verdict = 'ok';
        return true;
      }
      if (device.hostKey) {
        expected = device.hostKey;
        verdict = device.hostKey.replace(/=+$/, '') === presented ? 'ok' : 'mismatch';
      } else if (device.knownHosts) {
        const known = existsSync(device.knownHosts) ? knownHostKeys(device.knownHosts, device.host ?? '', device.port) : [];
        expected = known.map(fingerprintOf).join(', ');
        verdict = known.some((k) => k.equals(key)) ? 'ok' : known.length ? 'mismatch' : 'unknown';
      }
      return verdict === 'ok';
    },
  };
  if (device.identityFile) {
    try {
      cfg.privateKey = readFileSync(expandHome(device.identityFile));
    } catch (cause) {
      return Promise.reject(
        new SshError(`device ${device.name}: cannot read identityFile ${device.identityFile} (${String((cause as Error).message)})`, 'auth', { cause }),
      );
    }
  }
  if (device.agent) {
    if (!process.env.SSH_AUTH_SOCK) {
      return Promise.reject(new SshError(`device ${device.name} uses the SSH agent but SSH_AUTH_SOCK is not set: start ssh-agent and ssh-add your key`, 'auth'));
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
  return new Promise((resolvePromise, reject) => {
    const client = new Client();
    let settled = false;
    client.on('ready', () => {
      settled = true;
      resolvePromise({ client, fingerprint: presented });
    });
    client.on('error', (err: Error & { level?: string; code?: string }) => {
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
            `the host key of device ${device.name} (${device.host}:${device.port}) is not pinned: it presented ${presented}. ` +
              `Check it on the device (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and pin it with: ${trust}`,
            'hostkey',
          ),
        );
      } else if (err.level === 'client-authentication') {
        reject(new SshError(`authentication as ${device.user} on device ${device.name} (${device.host}:${device.port}) failed: check the key is in ~/.ssh/authorized_keys on the device`, 'auth', { cause: err }));
      } else if (err.level === 'client-timeout') {
        reject(new SshError(`device ${device.name} (${device.host}:${device.port}) did not answer within ${(cfg.readyTimeout ?? 0) / 1000} s: is it on and reachable?`, 'connect', { cause: err }));
      } else {
        reject(new SshError(`cannot connect to device ${device.name} (${device.host}:${device.port}): ${err.message}`, 'connect', { cause: err }));
      }
    });
    client.connect(cfg);
  });
}

/** Run a command, collect its output. */
export function execCollect(client: Client, command: string, stdin?: string): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    client.exec(command, (err, stream) => {
      if (err) return reject(err);
      let stdout = '';
      let stderr = '';
      stream.on('data', (d: Buffer) => (stdout += d.toString()));
      stream.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      stream.on('close', (code: number | null, signal: string | null) => resolvePromise({ code, signal: signal ?? null, stdout, stderr }));
      stream.end(stdin ?? '');
    });
  });
}

const SIMD_PROBE =
  // A module with one v128 function: validates only where WebAssembly SIMD is supported.
  'const b=new Uint8Array([0,97,115,109,1,0,0,0,1,5,1,96,0,1,123,3,2,1,0,10,8,1,6,0,65,0,253,17,11]);' +
  'let simd=false;try{simd=WebAssembly.validate(b)}catch(e){}' +
  'console.log(JSON.stringify({node:process.version,arch:process.arch,simd}))';

export interface RemoteInfo {
  node: string;
  arch: string;
  simd: boolean;
  freeKiB: number | null;
  lock: { held: boolean; owner: string | null };
  payloadCached: (hash: string) => boolean;
  cachedHashes: string[];
}

/** Node version, Wasm SIMD, free disk and lock state, in one round trip. */
export async function inspectRemote(client: Client, device: Device): Promise<RemoteInfo> {
  const w = remoteDir(device.workDir).sh;
  const cmd = [
    `mkdir -p ${w}/payloads`,
    `cd ${w}`,
    `${shJoin(device.node)} -e ${shq(SIMD_PROBE)}`,
    `echo "--df"; df -Pk . | tail -n 1`,
    `echo "--lock"; cat lock/owner 2>/dev/null || echo none`,
    `echo "--payloads"; ls payloads 2>/dev/null`,
  ].join(' && ');
  const r = await execCollect(client, `sh -c ${shq(cmd)}`);
  const [head = '', ...rest] = r.stdout.split('\n--df\n');
  const jsonLine = head.split('\n').filter((l) => l.startsWith('{')).pop();
  if (r.code !== 0 || !jsonLine) {
    const hint = /not found|No such file/.test(r.stderr)
      ? `Node is not installed or not at "${device.node.join(' ')}" on the device: install Node >= ${MIN_NODE_MAJOR} (e.g. apt install nodejs on Debian 12 / Raspberry Pi OS) or set node: in devices.yaml`
      : 'see the output above';
    throw new SshError(`checking Node on device ${device.name} failed (exit ${r.code}): ${r.stderr.trim().slice(0, 500)}\n${hint}`, 'node');
  }
  const info = JSON.parse(jsonLine) as { node: string; arch: string; simd: boolean };
  const tail = rest.join('\n--df\n');
  const [dfPart = '', lockAndPayloads = ''] = tail.split('\n--lock\n');
  const [lockPart = '', payloadsPart = ''] = lockAndPayloads.split('\n--payloads\n');
  const dfCols = dfPart.trim().split(/\s+/);
  const free = Number(dfCols[3]);
  const cachedHashes = payloadsPart.split('\n').map((s) => s.trim()).filter((s) => /^[0-9a-f]{16}$/.test(s));
  const owner = lockPart.trim();
  return {
    node: info.node,
    arch: info.arch,
    simd: info.simd,
    freeKiB: Number.isFinite(free) ? free : null,
    lock: { held: owner !== 'none' && owner !== '', owner: owner === 'none' ? null : owner },
    cachedHashes,
    payloadCached: (hash) => cachedHashes.includes(hash),
  };
}

export function checkNodeVersion(device: Device, version: string): void {
  const major = Number(/^v(\d+)/.exec(version)?.[1]);
  if (!(major >= MIN_NODE_MAJOR)) {
    throw new SshError(
      `device ${device.name} runs Node ${version}; the payload needs Node >= ${MIN_NODE_MAJOR}. Install a newer Node (Debian 12 / Raspberry Pi OS: apt install nodejs) or point node: in devices.yaml at one`,
      'node',
    );
  }
}

function sftpOf(client: Client): Promise<SFTPWrapper> {
  return new Promise((res, rej) => client.sftp((err, s) => (err ? rej(err) : res(s))));
}

const sftpCall = <T>(fn: (cb: (err: Error | null | undefined, v?: T) => void) => void): Promise<T> =>
  new Promise((res, rej) => fn((err, v) => (err ? rej(err) : res(v as T))));

/** Upload the payload unless the device already holds this hash. Returns bytes uploaded. */
export async function ensurePayload(client: Client, device: Device, payload: Payload, info: RemoteInfo): Promise<number> {
  if (info.payloadCached(payload.hash)) return 0;
  const base = remoteDir(device.workDir).sftp;
  const finalDir = `${base}/payloads/${payload.hash}`;
  const tmpDir = `${base}/payloads/.tmp-${payload.hash}-${process.pid}-${Date.now()}`;
  const sftp = await sftpOf(client);
  let uploaded = 0;
  try {
    await sftpCall<void>((cb) => sftp.mkdir(tmpDir, cb));
    await sftpCall<void>((cb) => sftp.mkdir(`${tmpDir}/wasm`, cb));
    for (const f of [...payload.files.map((x) => x.path), 'manifest.json']) {
      const data = readFileSync(join(payload.dir, f));
      await sftpCall<void>((cb) => sftp.writeFile(`${tmpDir}/${f}`, data, cb));
      uploaded += data.byteLength;
    }
    await sftpCall<void>((cb) => sftp.rename(tmpDir, finalDir, cb)).catch(async (e: unknown) => {
      // Someone else finished the same payload first: theirs is identical by hash.
      const exists = await sftpCall<unknown>((cb) => sftp.stat(`${finalDir}/manifest.json`, cb)).then(() => true, () => false);
      if (!exists) throw e;
    });
  } catch (cause) {
    await execCollect(client, `rm -rf ${remoteDir(device.workDir).sh}/payloads/${shq(tmpDir.split('/').pop() ?? 'x')}`).catch(() => undefined);
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
 * The remote wrapper: take the lock (mkdir is atomic), recover it when its
 * holder is gone, run the runner, release the lock however the runner ends.
 * Prints one JSON line {"type":"lock-held",...} and exits 75 when held.
 */
export function runnerCommand(device: Device, payloadHash: string, owner: string): string {
  const w = remoteDir(device.workDir).sh;
  const node = shJoin(device.node);
  const script = `
W=${w}
cd "$W" || exit 70
own() {
  printf '%s pid=%s\\n' ${shq(owner)} "$$" > "$W/lock/owner"
  echo "$$" > "$W/lock/pid"
}
take() {
  if mkdir "$W/lock" 2>/dev/null; then own; return 0; fi
  if [ ! -d "$W/lock" ]; then echo "roofbench: cannot create the lock directory $W/lock" >&2; exit 73; fi
  pid=$(cat "$W/lock/pid" 2>/dev/null)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then return 1; fi
  if [ -z "$pid" ] && [ -n "$(find "$W/lock" -maxdepth 0 -mmin -1 2>/dev/null)" ]; then return 1; fi
  echo "roofbench: recovering a stale lock: $(cat "$W/lock/owner" 2>/dev/null)" >&2
  rm -rf "$W/lock"
  # Another run may recover it at the same moment: whoever makes the directory owns it.
  if mkdir "$W/lock" 2>/dev/null; then own; return 0; fi
  return 1
}
if ! take; then
  o=$(cat "$W/lock/owner" 2>/dev/null | tr -d '"\\\\')
  printf '{"type":"lock-held","owner":"%s"}\\n' "$o"
  exit ${LOCK_HELD_EXIT}
fi
trap 'rm -rf "$W/lock"' EXIT
trap 'exit 129' HUP
trap 'exit 143' TERM
trap 'exit 130' INT
${node} "$W/payloads/${payloadHash}/runner.mjs"
`;
  return `sh -c ${shq(script)}`;
}

export class SshTransport implements Transport {
  readonly kind = 'ssh' as const;
  /** Bytes uploaded by the last run (0 when the device had the payload cached). */
  lastUploadBytes = 0;
  /** Bytes uploaded over every run() of this transport (a run restarted after a hung case reconnects). */
  totalUploadBytes = 0;
  constructor(
    private readonly device: Device,
    private readonly opts: SshOptions = {},
  ) {}

  async run(payload: Payload, plan: Plan, h: RunHandlers): Promise<RunOutcome> {
    const d = this.device;
    const log = this.opts.log ?? (() => {});
    let client: Client;
    try {
      ({ client } = await connect(d, this.opts));
    } catch (e) {
      return { exitCode: null, signal: null, failure: (e as Error).message };
    }
    try {
      const info = await inspectRemote(client, d);
      checkNodeVersion(d, info.node);
      if (!info.simd) log(`device ${d.name}: Node ${info.node} has no WebAssembly SIMD; SIMD variants will be skipped`);
      const t0 = Date.now();
      this.lastUploadBytes = await ensurePayload(client, d, payload, info);
      this.totalUploadBytes += this.lastUploadBytes;
      if (this.lastUploadBytes > 0) log(`uploaded payload ${payload.hash} (${(this.lastUploadBytes / 1024).toFixed(0)} KiB) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      else log(`payload ${payload.hash} already on the device`);
      const owner = `${os.userInfo().username}@${os.hostname()} run ${plan.runId} started ${new Date().toISOString()}`;
      const waitUntil = Date.now() + (this.opts.lockWaitMaxMs ?? 6 * 3600_000);
      for (;;) {
        const outcome = await this.runOnce(client, payload, plan, h, owner);
        if (outcome !== 'lock-held') return outcome;
        const holder = this.lockOwner ?? 'another run';
        if (!this.opts.waitForLock) {
          return { exitCode: LOCK_HELD_EXIT, signal: null, failure: `device ${d.name} is busy: locked by ${holder}. Pass --wait to wait for it, or remove ${d.workDir}/lock on the device if that run is gone` };
        }
        if (Date.now() > waitUntil) {
          return { exitCode: LOCK_HELD_EXIT, signal: null, failure: `gave up waiting for the lock on device ${d.name} (held by ${holder})` };
        }
        log(`device ${d.name} is locked by ${holder}; waiting`);
        await new Promise((r) => setTimeout(r, this.opts.lockPollMs ?? 5_000));
      }
    } catch (e) {
      return { exitCode: null, signal: null, failure: (e as Error).message };
    } finally {
      client.end();
    }
  }

  private lockOwner: string | null = null;

  private runOnce(client: Client, payload: Payload, plan: Plan, h: RunHandlers, owner: string): Promise<RunOutcome | 'lock-held'> {
    const d = this.device;
    return new Promise((resolvePromise) => {
      let done = false;
      let runnerPid: number | null = null;
      let lockHeld = false;
      let timer: NodeJS.Timeout | null = null;
      let timedOut: string | null = null;
      let lastCase = '';
      const finish = (o: RunOutcome | 'lock-held') => {
        if (done) return;
        done = true;
        if (timer) clearTimeout(timer);
        client.removeListener('close', onClose);
        client.removeListener('error', onError);
        resolvePromise(o);
      };
      const onError = (err: Error) => {
        finish({ exitCode: null, signal: null, failure: `connection to device ${d.name} (${where(d)}) failed during the run: ${err.message}; results received so far are kept` });
      };
      const onClose = () => {
        finish({ exitCode: null, signal: null, failure: `connection to device ${d.name} (${where(d)}) was lost during the run${lastCase ? ` (in ${lastCase})` : ''}; results received so far are kept` });
      };
      client.on('error', onError);
      client.on('close', onClose);
      const inactivity = this.opts.inactivityTimeoutMs ?? 600_000;
      const arm = () => {
        if (timer) clearTimeout(timer);
        timer = setTimeout(() => {
          timedOut = `no event from the runner for ${(inactivity / 1000).toFixed(0)} s${lastCase ? ` in ${lastCase}` : ''}: the case hung; the runner was killed (raise --case-timeout if it is just slow)`;
          if (runnerPid !== null) {
            execCollect(client, `kill -9 ${Number(runnerPid)}`).catch(() => undefined);
          }
          setTimeout(() => finish({ exitCode: null, signal: 'KILL', failure: timedOut, hungCase: lastCase || undefined }), 3_000).unref();
        }, inactivity);
      };
      const handle = eventLineHandler({
        onEvent: (e) => {
          if (e.type === 'hello') runnerPid = e.pid;
          if (e.type === 'case-start') lastCase = e.caseId;
          h.onEvent(e);
        },
        onStderr: h.onStderr,
      });
      const out = lineSplitter((line) => {
        arm();
        if (line.startsWith('{"type":"lock-held"')) {
          lockHeld = true;
          try {
            this.lockOwner = (JSON.parse(line) as { owner: string }).owner;
          } catch {
            this.lockOwner = null;
          }
          return;
        }
        handle(line);
      });
      const err = lineSplitter((l) => h.onStderr(l));
      client.exec(runnerCommand(d, payload.hash, owner), (e: Error | undefined, stream: ClientChannel) => {
        if (e) {
          finish({ exitCode: null, signal: null, failure: `cannot start the runner on device ${d.name}: ${e.message}` });
          return;
        }
        arm();
        stream.on('data', (c: Buffer) => out.push(c));
        stream.stderr.on('data', (c: Buffer) => err.push(c));
        stream.on('close', (code: number | null, signal?: string) => {
          out.end();
          err.end();
          if (lockHeld && code === LOCK_HELD_EXIT) return finish('lock-held');
          let failure: string | null = timedOut;
          if (!failure && signal) failure = `the runner on device ${d.name} was killed by SIG${signal}`;
          else if (!failure && code !== 0) {
            failure =
              code === null
                ? `the runner on device ${d.name} ended without an exit status (killed, or the connection dropped)`
                : code === 137 || code === 143 || code === 129
                  ? `the runner on device ${d.name} was killed (exit ${code})`
                  : `the runner on device ${d.name} exited with code ${code} (its stderr is in results.json)`;
          }
          finish({ exitCode: code, signal: signal ?? null, failure, hungCase: timedOut ? lastCase || undefined : undefined });
        });
        stream.end(JSON.stringify(plan));
      });
    });
  }
}
