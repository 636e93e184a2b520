/**
 * `devices add / list / remove` against a real OpenSSH server on 127.0.0.1:
 * from a devices.yaml without the board to a finished `--quick` run in two
 * commands; a file with comments keeps every byte; a duplicate name is refused
 * before anything connects; a declined key pins nothing; a host key that changes
 * between the fetch and the login is refused and nothing is written.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunResults } from '../core/contracts.js';
import { addDevice, type AddOptions } from '../harness/devices-add.js';
import { parseDevices, withoutDevice } from '../harness/devices.js';
import { bench, jsonLines, ROOT, runCli } from './helpers/cli.js';
import { readSshdLog, startSshd, stopSshd, type SshdInfo } from './helpers/sshd.js';

let sshd: SshdInfo;
let work: string;
const SHIPPED = readFileSync(join(ROOT, 'devices.yaml'), 'utf8');

beforeAll(async () => {
  sshd = await startSshd();
  work = mkdtempSync(join(tmpdir(), 'roofbench-add-'));
});

afterAll(async () => {
  if (sshd) await stopSshd(sshd);
  if (work) rmSync(work, { recursive: true, force: true });
});

/** addDevice in-process, its output collected; `confirm` answers the key question. */
async function add(o: Partial<AddOptions> & { file: string; name: string }, confirm: (q: string) => Promise<boolean> = async () => true) {
  const lines: string[] = [];
  const code = await addDevice(
    { host: `${sshd.user}@127.0.0.1:${sshd.port}`, key: sshd.identityFile, workDir: join(work, `remote-${o.name}`), ...o },
    { out: (l) => lines.push(l), confirm },
  );
  return { code, out: lines.join('\n') };
}

describe('devices add', () => {
  it('from a devices.yaml without the board to a finished --quick run: devices add, then bench', async () => {
    const file = join(work, 'fresh.yaml');
    copyFileSync(join(ROOT, 'devices.yaml'), file);
    const r = await runCli('harness/devices-cli.ts', [
      'add',
      'lab',
      '--devices',
      file,
      '--host',
      `${sshd.user}@127.0.0.1:${sshd.port}`,
      '--key',
      sshd.identityFile,
      '--yes',
      '--work-dir',
      join(work, 'remote lab'),
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`lab (127.0.0.1:${sshd.port}) presents host key ssh-ed25519 ${sshd.hostKeyFingerprint}`);
    expect(r.stdout).toContain(`login: ok (${sshd.user}@127.0.0.1:${sshd.port}, host key verified)`);
    expect(r.stdout).toMatch(/ {2}node {9}v\d+\.\d+\.\d+/);
    expect(r.stdout).toMatch(/work dir {5}.*remote lab: writable, \d+ MiB free/);
    // An x86-64 test server is none of the shipped profiles: no suggestion, and a note that says so.
    expect(r.stdout).toMatch(/profile {6}none: no profile in .* matches/);
    const next = `npm run bench -- --device lab --quick --devices ${file}`;
    expect(r.stdout.trim().split('\n').pop()).toBe(`next: ${next}`);
    // The entry validates like a hand-written one; the rest of the file is untouched.
    const text = readFileSync(file, 'utf8');
    const lab = parseDevices(text, file).get('lab');
    expect(lab).toMatchObject({
      transport: 'ssh',
      host: '127.0.0.1',
      port: sshd.port,
      user: sshd.user,
      identityFile: sshd.identityFile,
      hostKey: sshd.hostKeyFingerprint,
      nodeShip: false,
    });
    expect(withoutDevice(text, file, 'lab')).toBe(SHIPPED);

    // The second command: the one `add` printed (one case, to keep the test short).
    const run = await bench(['--devices', file, '--device', 'lab', '--quick', '--case', 'resnet50.res2b.branch2b', '--json'], { timeoutMs: 600_000 });
    expect(run.code, run.stderr).toBe(0);
    const done = jsonLines(run.stdout).find((e) => e.type === 'run-complete');
    const results = RunResults.parse(JSON.parse(readFileSync(join(String(done?.dir), 'results.json'), 'utf8')));
    expect(results.status).toBe('complete');
    expect(results.device.node).toMatchObject({ source: 'device', command: 'node' });
    expect(results.results.filter((x) => x.state === 'passed').length).toBeGreaterThan(5);

    // list shows it; remove takes it out and gives back the file as it was.
    const list = await runCli('harness/devices-cli.ts', ['list', '--devices', file]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`\\n {2}lab +ssh +${sshd.user}@127\\.0\\.0\\.1:${sshd.port}\\n`));
    expect(list.stdout).toContain('profiles: rpi3, xavier, v100');
    const rm = await runCli('harness/devices-cli.ts', ['remove', 'lab', '--devices', file]);
    expect(rm.code).toBe(0);
    expect(rm.stdout).toContain('removed: devices.lab from');
    expect(readFileSync(file, 'utf8')).toBe(SHIPPED);
    const again = await runCli('harness/devices-cli.ts', ['remove', 'lab', '--devices', file]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/unknown device "lab"/);
  }, 900_000);

  it('keeps the comments and layout of a hand-written file', async () => {
    const file = join(work, 'commented.yaml');
    const text = [
      '# boards on my desk',
      'devices:',
      '    # the old one',
      '    desk:',
      '        host: 192.0.2.7     # static lease',
      '        user: me',
      '        agent: true         # from the keyring',
      '    # more to come',
      '',
      '# profiles last, on purpose',
      'profiles:',
      '    mine: { description: "a board", peakGflops: { f32: 1 }, dramGbps: 1, source: "me", detect: [nothing-matches] }',
      '',
    ].join('\n');
    writeFileSync(file, text);
    const r = await add({ file, name: 'b2' });
    expect(r.code, r.out).toBe(0);
    const out = readFileSync(file, 'utf8');
    // Every original line, in order, unchanged; the entry after the last device, at the file's indentation.
    expect(withoutDevice(out, file, 'b2')).toBe(text);
    expect(out).toContain(`        agent: true         # from the keyring\n    b2:\n      host: 127.0.0.1\n      port: ${sshd.port}\n`);
    expect(out).toContain('    # more to come\n');
    expect(parseDevices(out, file).get('b2').hostKey).toBe(sshd.hostKeyFingerprint);
  });

  it('refuses a duplicate name before anything connects', async () => {
    const file = join(work, 'dup.yaml');
    writeFileSync(file, 'devices:\n  lab:\n    host: 192.0.2.1\n    user: pi\n    agent: true\n');
    // Port 1: had it tried to connect, the error would be a connection error.
    await expect(add({ file, name: 'lab', host: 'pi@127.0.0.1:1' })).rejects.toThrow(/device "lab" is already in .*dup\.yaml \(line 2\): remove it first/);
    expect(readFileSync(file, 'utf8')).toBe('devices:\n  lab:\n    host: 192.0.2.1\n    user: pi\n    agent: true\n');
    await expect(add({ file, name: 'local' })).rejects.toThrow(/"local" is this machine/);
    await expect(add({ file, name: 'My Board' })).rejects.toThrow(/device name "My Board": use lower-case letters/);
  });

  it('a declined key: nothing pinned, nothing written, no login', async () => {
    const file = join(work, 'declined.yaml');
    writeFileSync(file, SHIPPED);
    const before = (await readSshdLog(sshd)).split('\n').filter((l) => /Accepted publickey/.test(l)).length;
    let asked = '';
    const r = await add({ file, name: 'nope' }, async (q) => ((asked = q), false));
    expect(asked).toBe(`pin ${sshd.hostKeyFingerprint} for nope and log in?`);
    expect(r.code).toBe(1);
    expect(r.out).toContain('not pinned; nothing was sent to the board');
    expect(readFileSync(file, 'utf8')).toBe(SHIPPED);
    const after = (await readSshdLog(sshd)).split('\n').filter((l) => /Accepted publickey/.test(l)).length;
    expect(before).toBeGreaterThan(0); // the log does record logins (the tests above logged in)
    expect(after).toBe(before);
  });

  it('a host key that changes between the fetch and the login is refused: nothing sent, nothing written', async () => {
    const file = join(work, 'changed.yaml');
    writeFileSync(file, SHIPPED);
    const shown = sshd.hostKeyFingerprint;
    let restarted: SshdInfo | null = null;
    const accepted = async (info: SshdInfo) => (await readSshdLog(info)).split('\n').filter((l) => /Accepted publickey/.test(l)).length;
    let logins = -1;
    const r = await add({ file, name: 'moved' }, async () => {
      logins = await accepted(sshd);
      // While the user reads the fingerprint, the server behind the address becomes another one (same port, new key).
      await stopSshd(sshd, { keepDir: true });
      rmSync(join(sshd.dir, 'ssh_host_ed25519_key'));
      rmSync(join(sshd.dir, 'ssh_host_ed25519_key.pub'));
      restarted = await startSshd(sshd.dir, { port: sshd.port });
      return true;
    });
    const now = restarted as SshdInfo | null;
    if (!now) throw new Error('the server was not restarted');
    sshd = now;
    expect(now.hostKeyFingerprint).not.toBe(shown);
    expect(r.code).toBe(1);
    expect(r.out).toContain(
      `login: FAILED: HOST KEY MISMATCH for device moved (127.0.0.1:${now.port}): it presented ${now.hostKeyFingerprint}, but devices.yaml pins ${shown}`,
    );
    expect(r.out).toContain('nothing was sent');
    expect(readFileSync(file, 'utf8')).toBe(SHIPPED);
    // The new server saw no login: the client stopped at its key, before offering ours.
    expect(logins).toBeGreaterThanOrEqual(0);
    expect(await accepted(now)).toBe(logins);
    // The same flow against an unchanged server logs in (the check above can pass as well as fail).
    const ok = await add({ file, name: 'moved' });
    expect(ok.code, ok.out).toBe(0);
    expect(parseDevices(readFileSync(file, 'utf8'), file).get('moved').hostKey).toBe(now.hostKeyFingerprint);
  });
});
