/**
 * The loopback test devices themselves: two throwaway sshd servers side by side, reached with the
 * system ssh client. Never skipped: if sshd cannot be installed or started, this fails and says why.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { killSshd, readSshdLog, sshArgs, sshdAvailable, sshdRunning, sshExec, startSshd, stopSshd, type SshdInfo } from './helpers/sshd.js';

const run = promisify(execFile);

/** Resolves to true if something accepts TCP connections on 127.0.0.1:port. */
function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(3000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function expectOk(info: SshdInfo, command: string): Promise<string> {
  const r = await sshExec(info, command);
  if (r.code !== 0) {
    throw new Error(
      `ssh to 127.0.0.1:${info.port} running ${JSON.stringify(command)} exited ${r.code}\n` + `stderr: ${r.stderr}\nsshd.log:\n${await readSshdLog(info)}`,
    );
  }
  return r.stdout;
}

describe('loopback sshd test servers (test/helpers/test-sshd.sh)', () => {
  const servers: SshdInfo[] = [];
  let a: SshdInfo;
  let b: SshdInfo;
  // A failed start fails every test below with its reason (vitest would report them as skipped if
  // beforeAll itself threw).
  let setupError: unknown;

  beforeAll(async () => {
    try {
      if (!sshdAvailable()) {
        throw new Error(
          'sshd is not installed and cannot be installed here (needs root or passwordless sudo and apt-get): ' +
            'install openssh-server and openssh-client, see docs/testing.md',
        );
      }
      // One after the other: the first may install openssh-server.
      a = await startSshd();
      servers.push(a);
      b = await startSshd();
      servers.push(b);
    } catch (error) {
      setupError = error;
    }
  });

  beforeEach(() => {
    if (setupError !== undefined) {
      throw new Error(`could not start the loopback sshd test servers: ${(setupError as Error).message ?? String(setupError)}`);
    }
  });

  afterAll(async () => {
    for (const s of servers) await stopSshd(s).catch(() => undefined);
  });

  it('runs two independent servers on different loopback ports', async () => {
    expect(a.host).toBe('127.0.0.1');
    expect(b.host).toBe('127.0.0.1');
    expect(a.port).not.toBe(b.port);
    expect(a.dir).not.toBe(b.dir);
    expect(a.hostKeyFingerprint).not.toBe(b.hostKeyFingerprint);
    for (const s of [a, b]) {
      expect(s.port).toBeGreaterThan(1024);
      expect(s.user).toBe((await run('id', ['-un'])).stdout.trim());
      expect(s.knownHostsLine).toBe(`[127.0.0.1]:${s.port} ${s.hostPublicKey}`);
      expect((await readFile(s.knownHostsFile, 'utf8')).trim()).toBe(s.knownHostsLine);
      expect(existsSync(s.identityFile)).toBe(true);
      expect(Number((await readFile(s.pidFile, 'utf8')).trim())).toBe(s.pid);
      expect(await portOpen(s.port)).toBe(true);
      expect(await sshdRunning(s)).toBe(true);
    }
  });

  it('runs commands over ssh with strict host key checking, on each server', async () => {
    for (const s of [a, b]) {
      const out = await expectOk(s, 'echo "hello from $(id -un)"; echo "$SSH_CONNECTION"');
      const [hello, conn] = out.trim().split('\n');
      expect(hello).toBe(`hello from ${s.user}`);
      expect(conn?.split(' ')).toEqual(['127.0.0.1', expect.any(String), '127.0.0.1', String(s.port)]);
    }
  });

  it('runs node over ssh, found on PATH and by the absolute path in info.json', async () => {
    for (const s of [a, b]) {
      expect(s.node, 'info.json has no node: is node installed on this machine?').toMatch(/^\//);
      expect(s.nodeVersion).toBe(process.version);
      const byPath = await expectOk(s, `node -e "console.log(process.version)"`);
      expect(byPath.trim()).toBe(process.version);
      const byAbs = await expectOk(s, `'${s.node}' -e "console.log(process.version)"`);
      expect(byAbs.trim()).toBe(process.version);
    }
  });

  it('also works through the ssh_config it writes, and through stdin', async () => {
    const { stdout } = await run('ssh', ['-F', a.sshConfigFile, 'loopback', 'echo via-config']);
    expect(stdout.trim()).toBe('via-config');
    const r = await sshExec(b, 'node -e "process.stdin.pipe(process.stdout)"', { input: 'piped\n' });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('piped\n');
  });

  it('reports the host key fingerprint that ssh-keygen computes', async () => {
    for (const s of [a, b]) {
      for (const file of ['ssh_host_ed25519_key', 'ssh_host_ed25519_key.pub']) {
        const { stdout } = await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', join(s.dir, file)]);
        expect(stdout.split(' ')[1]).toBe(s.hostKeyFingerprint);
      }
      const pub = (await readFile(join(s.dir, 'ssh_host_ed25519_key.pub'), 'utf8')).trim();
      expect(pub.startsWith(`${s.hostPublicKey} `)).toBe(true);
      expect(s.hostKeyFingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    }
  });

  it('is refused by the client when known_hosts holds another key or none', async () => {
    const tmp = await mkdtemp(join(tmpdir(), 'roofbench-sshd-kh-'));
    try {
      // a's address with b's host key: the client must refuse to talk to a.
      const wrong = join(tmp, 'wrong_known_hosts');
      await writeFile(wrong, `[127.0.0.1]:${a.port} ${b.hostPublicKey}\n`);
      const r1 = await sshExec({ ...a, knownHostsFile: wrong }, 'echo SHOULD-NOT-RUN');
      expect(r1.code).toBe(255);
      expect(r1.stdout).not.toContain('SHOULD-NOT-RUN');
      expect(r1.stderr).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);

      const empty = join(tmp, 'empty_known_hosts');
      await writeFile(empty, '');
      const r2 = await sshExec({ ...a, knownHostsFile: empty }, 'echo SHOULD-NOT-RUN');
      expect(r2.code).toBe(255);
      expect(r2.stderr).toMatch(/Host key verification failed/);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });

  it('refuses a key that is not authorised, and password logins', async () => {
    // b's user key is not in a's authorized_keys.
    const r = await sshExec({ ...a, identityFile: b.identityFile }, 'echo SHOULD-NOT-RUN');
    expect(r.code).toBe(255);
    expect(r.stderr).toMatch(/Permission denied \(publickey\)/);
    const { stdout } = await run('grep', ['-E', '^(PasswordAuthentication|UsePAM|ListenAddress)', join(a.dir, 'sshd_config')]);
    expect(stdout).toContain('PasswordAuthentication no');
    expect(stdout).toContain('ListenAddress 127.0.0.1');
  });

  it('killSshd drops open sessions; startSshd(dir) brings the same server back', async () => {
    const client = spawn('ssh', [...sshArgs(a), 'echo started; sleep 60'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const closed = new Promise<number | null>((resolve) => client.on('close', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      client.stdout.once('data', () => resolve());
      client.once('error', reject);
      client.once('close', () => reject(new Error('ssh client exited before the session started')));
    });
    const t0 = Date.now();
    await killSshd(a);
    expect(await closed).toBe(255);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(await portOpen(a.port)).toBe(false);
    expect(await sshdRunning(a)).toBe(false);

    const again = await startSshd(a.dir);
    expect(again.dir).toBe(a.dir);
    expect(again.hostKeyFingerprint).toBe(a.hostKeyFingerprint);
    expect(again.port).toBe(a.port); // still free, so reused: old known_hosts lines stay valid
    expect((await expectOk(again, 'echo back')).trim()).toBe('back');
    a = again;
  });

  it('starts from a clean state: stop, delete the directory, start again', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'roofbench-sshd-clean-'));
    try {
      const first = await startSshd(dir);
      servers.push(first);
      expect((await expectOk(first, 'echo one')).trim()).toBe('one');
      // start on a running server is a no-op
      expect((await startSshd(dir)).pid).toBe(first.pid);
      await stopSshd(first);
      await stopSshd(first); // idempotent
      expect(await portOpen(first.port)).toBe(false);
      await rm(dir, { recursive: true, force: true });

      const second = await startSshd(dir);
      servers.push(second);
      expect(second.hostKeyFingerprint).not.toBe(first.hostKeyFingerprint);
      expect((await expectOk(second, 'node -e "console.log(6*7)"')).trim()).toBe('42');
      await stopSshd(second);
      expect(await portOpen(second.port)).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('stops both servers and their ports close', async () => {
    for (const s of [a, b]) {
      await stopSshd(s);
      expect(await portOpen(s.port)).toBe(false);
      expect(existsSync(s.dir)).toBe(false); // temp directories made by startSshd are removed
    }
  });
});
