/**
 * Throwaway OpenSSH servers on 127.0.0.1 for tests: the "loopback" test devices.
 *
 * A thin wrapper around test/helpers/test-sshd.sh (see docs/testing.md), which installs openssh-server with
 * apt-get when sshd is missing, makes a host key, a user key, an sshd_config and a known_hosts inside
 * one directory, and runs sshd on a free high port. Every server is independent: start as many as a
 * test needs (one directory each).
 *
 *   const dev = await startSshd();
 *   const r = await sshExec(dev, `${dev.node} -e "console.log(process.version)"`);
 *   await stopSshd(dev);
 */
import { execFile, spawn } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What `test/helpers/test-sshd.sh start` writes to DIR/info.json (which names the directory itself too). */
export interface SshdInfo {
  /** The server's directory (absolute): keys, sshd_config, known_hosts, sshd.log, info.json. */
  dir: string;
  /** Always "127.0.0.1". */
  host: string;
  port: number;
  /** The user sshd lets in: the user that started it (root here). */
  user: string;
  /** Private key (ed25519, no passphrase) authorised for `user`. */
  identityFile: string;
  /** `SHA256:...`, as `ssh-keygen -lf` prints it for the host key. */
  hostKeyFingerprint: string;
  /** `ssh-ed25519 AAAA...` (no comment). */
  hostPublicKey: string;
  /** `[127.0.0.1]:PORT ssh-ed25519 AAAA...`, the one line of `knownHostsFile`. */
  knownHostsLine: string;
  /** A known_hosts file holding `knownHostsLine`. */
  knownHostsFile: string;
  /** An ssh_config for this server: `ssh -F sshConfigFile any-name 'command'`. */
  sshConfigFile: string;
  pidFile: string;
  /** Pid of the listening sshd when it was started. */
  pid: number;
  logFile: string;
  /** PATH that sshd gives every session (`SetEnv` in its sshd_config); shell rc files may prepend. */
  sessionPath: string;
  /** Absolute path of node on this machine (the "remote" side), or null if none was found. */
  node: string | null;
  nodeVersion: string | null;
}

export interface StartSshdOptions {
  /** Port to listen on; default: the port this directory had last time if free, else a free one. */
  port?: number;
  /** Extra environment for the script (SSHD, TEST_SSHD_NODE, TEST_SSHD_USE_PAM, TEST_SSHD_NO_INSTALL). */
  env?: NodeJS.ProcessEnv;
}

export interface SshResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Absolute path of test/helpers/test-sshd.sh. */
export const SSHD_SCRIPT = fileURLToPath(new URL('./test-sshd.sh', import.meta.url));

const SSHD_BIN = process.env.SSHD ?? '/usr/sbin/sshd';
/** Generous: the first start on a fresh machine runs apt-get update and install. */
const START_TIMEOUT_MS = 280_000;
const STOP_TIMEOUT_MS = 60_000;

/** Directories made by startSshd itself: stopSshd removes them. */
const tempDirs = new Set<string>();

function runScript(args: string[], timeoutMs: number, env?: NodeJS.ProcessEnv): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile('bash', [SSHD_SCRIPT, ...args], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      if (error) {
        const how = error.killed ? `was killed after ${timeoutMs} ms` : `exited with ${String(error.code ?? error.signal)}`;
        reject(new Error(`test/helpers/test-sshd.sh ${args.join(' ')} ${how}:\n${String(stderr).trim() || String(stdout).trim()}`));
      } else {
        resolve({ stdout: String(stdout), stderr: String(stderr) });
      }
    });
  });
}

async function readInfo(dir: string): Promise<SshdInfo> {
  const raw = await readFile(join(dir, 'info.json'), 'utf8');
  const info = JSON.parse(raw) as SshdInfo;
  if (typeof info.port !== 'number' || typeof info.identityFile !== 'string' || typeof info.dir !== 'string') {
    throw new Error(`malformed ${join(dir, 'info.json')}: ${raw}`);
  }
  return info;
}

/**
 * Start a throwaway sshd on 127.0.0.1 whose files live in `dir` (default: a new temp directory under
 * os.tmpdir()). Installs openssh-server first if sshd is missing. If the server of `dir` already runs,
 * returns its description unchanged. Rejects with the script's output (including the tail of sshd.log)
 * when the server cannot be started.
 */
export async function startSshd(dir?: string, options: StartSshdOptions = {}): Promise<SshdInfo> {
  let target = dir;
  if (target === undefined) {
    target = await mkdtemp(join(tmpdir(), 'roofbench-sshd-'));
    tempDirs.add(target);
  }
  const args = ['start', target];
  if (options.port !== undefined) args.push(String(options.port));
  let stdout: string;
  try {
    ({ stdout } = await runScript(args, START_TIMEOUT_MS, options.env));
  } catch (error) {
    if (tempDirs.delete(target)) {
      // The error already carries the tail of sshd.log: do not leave the temp directory behind.
      await runScript(['stop', target], STOP_TIMEOUT_MS).catch(() => undefined);
      await rm(target, { recursive: true, force: true });
    }
    throw error;
  }
  // The script resolves `dir` to an absolute physical path and prints info.json, which names it.
  const printed = JSON.parse(stdout) as { dir?: unknown };
  if (typeof printed.dir !== 'string') throw new Error(`test/helpers/test-sshd.sh start printed no dir:\n${stdout}`);
  if (tempDirs.has(target) && printed.dir !== target) {
    tempDirs.delete(target);
    tempDirs.add(printed.dir);
  }
  return readInfo(printed.dir);
}

/**
 * Stop the server (SIGTERM to sshd and its session processes, SIGKILL after 10 s) and wait until it has
 * exited. Safe to call twice. Removes the directory if startSshd created it, unless `keepDir`.
 */
export async function stopSshd(info: SshdInfo, options: { keepDir?: boolean } = {}): Promise<void> {
  await runScript(['stop', info.dir], STOP_TIMEOUT_MS);
  if (tempDirs.has(info.dir) && !options.keepDir) {
    tempDirs.delete(info.dir);
    await rm(info.dir, { recursive: true, force: true });
  }
}

/**
 * SIGKILL the server, for fault tests: by default its open sessions (and the commands they run) too,
 * so that connected clients see the connection drop; with `listenerOnly`, only the listening sshd, so
 * new connections are refused while established ones go on. The directory is kept: `startSshd(info.dir)`
 * brings the same server (same keys, same port if still free) back.
 */
export async function killSshd(info: SshdInfo, options: { listenerOnly?: boolean } = {}): Promise<void> {
  const args = ['kill', info.dir];
  if (options.listenerOnly) args.push('--listener-only');
  await runScript(args, STOP_TIMEOUT_MS);
}

/** Whether the server of `info` is running now. */
export async function sshdRunning(info: SshdInfo): Promise<boolean> {
  try {
    await runScript(['status', info.dir], STOP_TIMEOUT_MS);
    return true;
  } catch {
    return false;
  }
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((d) => d !== '' && executable(join(d, name)));
}

/** Whether sshd, ssh and ssh-keygen are installed now. */
export function sshdInstalled(): boolean {
  return executable(SSHD_BIN) && onPath('ssh') && onPath('ssh-keygen');
}

/**
 * Whether startSshd can be expected to work here: sshd and the OpenSSH client are installed, or they
 * can be installed (root, or passwordless sudo, and apt-get). Cheap and synchronous; it installs nothing.
 */
export function sshdAvailable(): boolean {
  if (sshdInstalled()) return true;
  if (!existsSync(SSHD_SCRIPT) || !onPath('apt-get')) return false;
  return process.getuid?.() === 0 || onPath('sudo');
}

/**
 * Arguments for the system `ssh` client to reach this server, isolated from ~/.ssh and /etc/ssh:
 * its own key only, its own known_hosts, strict host key checking, no prompts.
 * Append the remote command: `spawn('ssh', [...sshArgs(info), 'uname -a'])`.
 */
export function sshArgs(info: SshdInfo, extraOptions: string[] = []): string[] {
  const opts = [
    'IdentitiesOnly=yes',
    'IdentityAgent=none',
    `UserKnownHostsFile=${info.knownHostsFile}`,
    'GlobalKnownHostsFile=/dev/null',
    'StrictHostKeyChecking=yes',
    'CheckHostIP=no',
    'BatchMode=yes',
    'ConnectTimeout=10',
    'LogLevel=ERROR',
    ...extraOptions,
  ];
  return ['-F', '/dev/null', '-i', info.identityFile, ...opts.flatMap((o) => ['-o', o]), '-p', String(info.port), `${info.user}@${info.host}`];
}

/**
 * Run one command on the server with the system ssh client. Never rejects for a non-zero exit: look at
 * `code` (255 is ssh's own failure: connection, host key or authentication).
 */
export function sshExec(info: SshdInfo, command: string, options: { extraOptions?: string[]; input?: string; timeoutMs?: number } = {}): Promise<SshResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', [...sshArgs(info, options.extraOptions), command], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** The server's log (sshd -E), for failure messages. */
export async function readSshdLog(info: SshdInfo): Promise<string> {
  return readFile(info.logFile, 'utf8').catch(() => '');
}

/**
 * A devices.yaml entry for a device behind this server (key login, pinned host key), indented
 * for the `devices:` mapping. `node` defaults to the server's node, `workDir` to a folder in its directory.
 */
export function deviceEntry(info: SshdInfo, o: { name?: string; workDir?: string; node?: string } = {}): string {
  return [
    `  ${o.name ?? 'board'}:`,
    '    host: 127.0.0.1',
    `    port: ${info.port}`,
    `    user: ${info.user}`,
    `    identityFile: ${JSON.stringify(info.identityFile)}`,
    `    hostKey: ${JSON.stringify(info.hostKeyFingerprint)}`,
    `    node: ${JSON.stringify(o.node ?? info.node ?? 'node')}`,
    `    workDir: ${JSON.stringify(o.workDir ?? join(info.dir, 'remote cache'))}`,
  ].join('\n');
}

/** The devices.yaml lines of a device `loopback` on this sshd: pinned host key, the sshd's key file, its own work dir. */
export function loopbackDeviceLines(info: SshdInfo): string[] {
  return [
    '  loopback:',
    '    host: 127.0.0.1',
    `    port: ${info.port}`,
    `    user: ${info.user}`,
    `    identityFile: ${JSON.stringify(info.identityFile)}`,
    `    node: ${JSON.stringify(info.node ?? 'node')}`,
    `    workDir: ${JSON.stringify(join(info.dir, 'remote cache'))}`,
    `    hostKey: ${JSON.stringify(info.hostKeyFingerprint)}`,
  ];
}
