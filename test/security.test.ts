/**
 * What roofbench trusts, attacked (docs/security.md):
 * - no secret reaches a host whose key is not the pinned one: an impostor SSH
 *   server (ssh2's Server, which records every authentication attempt) never
 *   sees the password, from `devices trust`, `devices check` or `bench`;
 * - a key that contradicts the device's knownHosts entry is pinned only with --replace;
 * - a modified or damaged payload in a cache (the device's or this machine's)
 *   never runs: it is found by its SHA-256, replaced, and the run says so;
 * - control characters from a device's events cannot break compare's Markdown.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import ssh2 from 'ssh2';
import { RunResults, type RunnerEvent } from '../core/contracts.js';
import { buildPayload } from '../harness/payload.js';
import { LocalTransport } from '../harness/transport/local.js';
import { defaultRunOptions } from '../harness/bench.js';
import { makePlan, selectItems } from '../harness/plan.js';
import { compareRuns, formatMarkdown, formatTable, runRef } from '../harness/history/compare.js';
import { synthRuns } from './helpers/synthetic.js';
import { bench, runCli } from './helpers/cli.js';
import { startSshd, stopSshd, type SshdInfo } from './helpers/sshd.js';

let work: string;
let a: SshdInfo;
let b: SshdInfo;

const PASSWORD = 'correct horse battery staple';
const ONE_CASE = ['--quick', '--case', 'mobilenet_v1.conv_dw_3', '--no-ceilings'];

/** A server that presents its own host key and records every authentication attempt, refusing all. */
interface Impostor {
  port: number;
  fingerprint: string;
  attempts: { method: string; password?: string }[];
  close(): Promise<void>;
}

async function startImpostor(): Promise<Impostor> {
  const keys = ssh2.utils.generateKeyPairSync('ed25519');
  const pub = ssh2.utils.parseKey(keys.public);
  if (pub instanceof Error) throw pub;
  const blob = pub.getPublicSSH();
  const fingerprint = `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
  const attempts: Impostor['attempts'] = [];
  const server = new ssh2.Server({ hostKeys: [keys.private] }, (client) => {
    client.on('authentication', (ctx) => {
      attempts.push({ method: ctx.method, ...(ctx.method === 'password' ? { password: ctx.password } : {}) });
      ctx.reject();
    });
    client.on('error', () => {});
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  return {
    port: (server.address() as AddressInfo).port,
    fingerprint,
    attempts,
    close: () => new Promise((res) => server.close(() => res())),
  };
}

function devicesFile(body: string): string {
  const file = join(mkdtempSync(join(work, 'devices-')), 'devices.yaml');
  writeFileSync(file, `# registry under attack\ndevices:\n${body}\n`);
  return file;
}

function device(o: {
  port: number;
  hostKey?: string;
  knownHosts?: string;
  password?: boolean;
  identityFile?: string;
  workDir?: string;
  node?: string;
}): string {
  return [
    '  target:',
    '    host: 127.0.0.1',
    `    port: ${o.port}`,
    '    user: root',
    o.password ? '    passwordEnv: RB_TEST_PASSWORD' : null,
    o.identityFile ? `    identityFile: ${JSON.stringify(o.identityFile)}` : null,
    o.hostKey ? `    hostKey: ${JSON.stringify(o.hostKey)}` : null,
    o.knownHosts ? `    knownHosts: ${JSON.stringify(o.knownHosts)}` : null,
    o.node ? `    node: ${JSON.stringify(o.node)}` : null,
    o.workDir ? `    workDir: ${JSON.stringify(o.workDir)}` : null,
  ]
    .filter(Boolean)
    .join('\n');
}

const pwEnv = { env: { RB_TEST_PASSWORD: PASSWORD } };

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'roofbench-security-'));
  [a, b] = await Promise.all([startSshd(), startSshd()]);
}, 300_000);

afterAll(async () => {
  await Promise.all([a && stopSshd(a), b && stopSshd(b)]);
});

describe('no secret goes to a host whose key is not pinned', () => {
  let impostor: Impostor;
  beforeAll(async () => {
    impostor = await startImpostor();
  });
  afterAll(async () => {
    await impostor.close();
  });

  it('devices trust fetches and shows the key without authenticating: the impostor sees no attempt', async () => {
    // Not pinned yet: the first thing a new user runs.
    const file = devicesFile(device({ port: impostor.port, password: true }));
    impostor.attempts.length = 0;
    const r = await runCli('harness/devices-cli.ts', ['trust', 'target', '--devices', file], pwEnv);
    expect(impostor.attempts).toEqual([]);
    expect(r.stdout).toContain(impostor.fingerprint);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--yes/);
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
  });

  it('devices trust --yes against a pinned key that differs refuses without --replace, and sends nothing', async () => {
    const file = devicesFile(device({ port: impostor.port, password: true, hostKey: a.hostKeyFingerprint }));
    impostor.attempts.length = 0;
    const r = await runCli('harness/devices-cli.ts', ['trust', 'target', '--yes', '--devices', file], pwEnv);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`pins hostKey ${a.hostKeyFingerprint.replace(/[+/]/g, '\\$&')}.*--replace`));
    expect(readFileSync(file, 'utf8')).not.toContain(impostor.fingerprint);
    expect(impostor.attempts).toEqual([]);
  });

  it('bench and devices check stop at the host key: no password, no key, no agent request', async () => {
    const file = devicesFile(device({ port: impostor.port, password: true, hostKey: a.hostKeyFingerprint }));
    impostor.attempts.length = 0;
    const check = await runCli('harness/devices-cli.ts', ['check', 'target', '--devices', file], pwEnv);
    expect(check.code).toBe(1);
    expect(check.stdout).toMatch(/HOST KEY MISMATCH.*nothing was sent/);
    const out = join(mkdtempSync(join(work, 'run-')), 'r');
    const run = await bench(['--devices', file, '--device', 'target', ...ONE_CASE, '--out', out], pwEnv);
    expect(run.code).toBe(1);
    expect(RunResults.parse(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'))).statusDetail).toMatch(/HOST KEY MISMATCH/);
    expect(impostor.attempts).toEqual([]);
  });

  it('only after --yes --replace pins the new key does the login check authenticate, against that key', async () => {
    const file = devicesFile(device({ port: impostor.port, password: true, hostKey: a.hostKeyFingerprint }));
    impostor.attempts.length = 0;
    const r = await runCli('harness/devices-cli.ts', ['trust', 'target', '--yes', '--replace', '--devices', file], pwEnv);
    // The user chose to pin this key: it is written first, then the login is tried (and refused here).
    expect(readFileSync(file, 'utf8')).toMatch(new RegExp(`hostKey: "?${impostor.fingerprint.replace(/[+/]/g, '\\$&')}`));
    expect(r.stdout).toMatch(/replaced: .* pins hostKey/);
    expect(r.stdout).toMatch(/login: FAILED/);
    expect(r.code).toBe(1);
    expect(impostor.attempts.length).toBeGreaterThan(0);
  });
});

describe('trust --yes against a contradicting knownHosts entry', () => {
  it('needs --replace, says what it replaces, then pins and logs in', async () => {
    // knownHosts lists server b's key for server a's address: a reinstalled machine, or an attack.
    const kh = join(mkdtempSync(join(work, 'kh-')), 'known_hosts');
    writeFileSync(kh, `[127.0.0.1]:${a.port} ${b.hostPublicKey}\n`);
    const file = devicesFile(device({ port: a.port, knownHosts: kh, identityFile: a.identityFile }));
    const before = readFileSync(file, 'utf8');
    const r = await runCli('harness/devices-cli.ts', ['trust', 'target', '--yes', '--devices', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${kh} lists ${b.hostKeyFingerprint}`);
    expect(r.stderr).toMatch(/--replace/);
    expect(readFileSync(file, 'utf8')).toBe(before);

    const ok = await runCli('harness/devices-cli.ts', ['trust', 'target', '--yes', '--replace', '--devices', file]);
    expect(ok.stdout).toContain(`pinned: devices.target.hostKey = ${a.hostKeyFingerprint}`);
    expect(ok.stdout).toContain(`replaced: ${kh} lists ${b.hostKeyFingerprint}`);
    expect(ok.stdout).toMatch(/login: ok/);
    expect(ok.code).toBe(0);
    expect(readFileSync(kh, 'utf8')).toContain(b.hostPublicKey);
    const check = await runCli('harness/devices-cli.ts', ['check', 'target', '--devices', file]);
    expect(check.code).toBe(0);
  });

  it('a key the knownHosts file already lists needs nothing', async () => {
    const file = devicesFile(device({ port: a.port, knownHosts: a.knownHostsFile, identityFile: a.identityFile }));
    const r = await runCli('harness/devices-cli.ts', ['trust', 'target', '--yes', '--devices', file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/already trusted/);
    expect(readFileSync(file, 'utf8')).not.toContain('hostKey');
  });
});

/** ESM code that leaves a marker file when it runs: appended to a cached runner.mjs by the "attacker". */
const plant = (marker: string) => `\n;import('node:fs').then((f) => f.writeFileSync(${JSON.stringify(marker)}, 'tampered code ran'));\n`;

describe('a tampered or damaged payload on the device never runs', () => {
  const read = (dir: string) => RunResults.parse(JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')));

  it('a modified runner.mjs (manifest rewritten to match) is found by its hash, replaced, and the run says so', async () => {
    const workDir = join(a.dir, 'tamper');
    const file = devicesFile(device({ port: a.port, hostKey: a.hostKeyFingerprint, identityFile: a.identityFile, workDir, node: a.node ?? 'node' }));
    const first = join(mkdtempSync(join(work, 'run-')), 'r');
    expect((await bench(['--devices', file, '--device', 'target', ...ONE_CASE, '--out', first])).code).toBe(0);
    const hash = read(first).payloadHash;
    const cached = join(workDir, 'payloads', hash);
    const marker = join(work, `pwned-remote-${Date.now()}`);
    appendFileSync(join(cached, 'runner.mjs'), plant(marker));
    // The attacker also rewrites the device's manifest: the check uses the host's hashes, not the device's.
    const manifest = JSON.parse(readFileSync(join(cached, 'manifest.json'), 'utf8')) as { files: { path: string; sha256?: string }[] };
    for (const f of manifest.files)
      if (f.path === 'runner.mjs')
        f.sha256 = createHash('sha256')
          .update(readFileSync(join(cached, 'runner.mjs')))
          .digest('hex');
    writeFileSync(join(cached, 'manifest.json'), JSON.stringify(manifest));

    const second = join(mkdtempSync(join(work, 'run-')), 'r');
    const r = await bench(['--devices', file, '--device', 'target', ...ONE_CASE, '--out', second]);
    expect(r.code).toBe(0);
    expect(existsSync(marker)).toBe(false);
    const run = read(second);
    expect(run.status).toBe('complete');
    expect(run.device.payloadVerified).toMatchObject({ hash, where: 'device' });
    expect(run.device.payloadVerified?.repaired).toEqual(expect.arrayContaining(['runner.mjs', 'manifest.json']));
    expect(run.device.uploadedBytes).toBeGreaterThan(100_000);
    expect(r.stderr).toMatch(/does not match its hashes/);
    // The device's copy is the genuine one again.
    const local = await buildPayload();
    expect(readFileSync(join(cached, 'runner.mjs')).equals(readFileSync(join(local.dir, 'runner.mjs')))).toBe(true);
    expect(readFileSync(join(second, 'index.html'), 'utf8')).toMatch(
      /files verified by SHA-256 on the device.*replaced because they did not match: runner\.mjs/s,
    );
  });

  it('a damaged cache (a missing kernel, an extra file) is uploaded again instead of failing the run', async () => {
    const workDir = join(a.dir, 'damaged');
    const file = devicesFile(device({ port: a.port, hostKey: a.hostKeyFingerprint, identityFile: a.identityFile, workDir, node: a.node ?? 'node' }));
    const first = join(mkdtempSync(join(work, 'run-')), 'r');
    expect((await bench(['--devices', file, '--device', 'target', ...ONE_CASE, '--out', first])).code).toBe(0);
    const cached = join(workDir, 'payloads', read(first).payloadHash);
    rmSync(join(cached, 'wasm', 'simd.wasm'));
    writeFileSync(join(cached, 'wasm', 'extra.wasm'), 'not ours');
    const second = join(mkdtempSync(join(work, 'run-')), 'r');
    const r = await bench(['--devices', file, '--device', 'target', ...ONE_CASE, '--out', second]);
    expect(r.code).toBe(0);
    const run = read(second);
    expect(run.device.payloadVerified?.repaired).toEqual(expect.arrayContaining(['wasm/simd.wasm (missing)', 'wasm/extra.wasm (unexpected)']));
    expect(run.results.some((x) => x.variant === 'conv-depthwise-simd-f32' && x.state === 'passed')).toBe(true);
    expect(existsSync(join(cached, 'wasm', 'extra.wasm'))).toBe(false);
  });
});

describe('a tampered payload on this machine never runs', () => {
  const plan = () =>
    makePlan(
      'tamper-test',
      defaultRunOptions(true),
      selectItems({ quick: true, seed: 1, distribution: 'uniform(-1,1)', cases: ['mobilenet_v1.conv_dw_3'], variants: ['conv-direct-naive-f32'] }),
      false,
    );

  it('the host rebuilds a modified .cache/payload copy before using it', async () => {
    const root = mkdtempSync(join(work, 'payload-root-'));
    const p = await buildPayload({ root });
    expect(p.repaired).toEqual([]);
    appendFileSync(join(p.dir, 'runner.mjs'), plant(join(work, 'never')));
    mkdirSync(join(p.dir, 'extra'));
    writeFileSync(join(p.dir, 'extra', 'x.js'), 'x');
    const again = await buildPayload({ root });
    expect(again.hash).toBe(p.hash);
    expect(again.repaired).toEqual(expect.arrayContaining(['runner.mjs', 'extra/x.js (unexpected)']));
    const genuine = await buildPayload({ root: mkdtempSync(join(work, 'payload-root-')) });
    expect(readFileSync(join(again.dir, 'runner.mjs')).equals(readFileSync(join(genuine.dir, 'runner.mjs')))).toBe(true);
    expect(existsSync(join(again.dir, 'extra'))).toBe(false);
  });

  it('the local runner checks every file right before it loads the runner, and a modified copy is replaced', async () => {
    const root = mkdtempSync(join(work, 'payload-root-'));
    const p = await buildPayload({ root });
    const marker = join(work, `pwned-local-${Date.now()}`);
    // Modified after the host built (and checked) it: the device-side check must catch it.
    appendFileSync(join(p.dir, 'runner.mjs'), plant(marker));
    const events: RunnerEvent[] = [];
    const stderr: string[] = [];
    const t = new LocalTransport([process.execPath], { workDir: mkdtempSync(join(work, 'lock-')) });
    const outcome = await t.run(p, plan(), { onEvent: (e) => events.push(e), onStderr: (l) => stderr.push(l) });
    expect(outcome.failure).toBeNull();
    expect(existsSync(marker)).toBe(false);
    const checks = events.filter((e) => e.type === 'payload');
    expect(checks.map((e) => e.type === 'payload' && e.verified)).toEqual([false, true]);
    expect(checks[0]?.type === 'payload' && checks[0].mismatched).toEqual(['runner.mjs']);
    expect(events.some((e) => e.type === 'done')).toBe(true);
  });
});

describe('control characters from a device cannot break the Markdown or the terminal', () => {
  it('a bare carriage return, newline or escape in a result name stays inside its table row', () => {
    const [base, head] = synthRuns({ device: 'board', runs: 2, cases: 1, variants: 1, seed: 3 });
    const hostile = 'conv-evil\r| injected | row |\n\u001b[31mred\u2028x\u0085';
    for (const run of [base!, head!]) run.results = run.results.map((r) => ({ ...r, variant: hostile }));
    const c = compareRuns({ run: base!, ref: runRef(base!) }, { run: head!, ref: runRef(head!) }, { acrossIdentity: true });
    const md = formatMarkdown(c, { all: true });
    // Every physical line of the table (any line break counts) is one whole row.
    const lines = md.split(/\r\n|\r|\n|\u2028|\u0085/);
    const rows = lines.filter((l) => l.startsWith('|'));
    expect(rows.length).toBe(3);
    for (const l of lines) if (l.includes('conv-evil')) expect(l.startsWith('|')).toBe(true);
    expect(md).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/);
    expect(md).toContain('\\r');
    const table = formatTable(c, { all: true });
    expect(table).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/);
    expect(table).toContain('\\x1b[31mred');
  });
});
