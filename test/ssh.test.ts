/**
 * SSH devices end to end, against real OpenSSH servers on 127.0.0.1 (test/helpers/test-sshd.sh):
 * the same payload as local, host key verification, authentication, faults in the middle
 * of a run (sshd killed, runner killed, hung case, full disk), the device lock and
 * several devices at once. Nothing is mocked.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunResults } from '../core/contracts.js';
import { convVariants } from '../suites/conv/variants.js';
import { bench, convVariantCount, jsonLines, runCli, startBench } from './helpers/cli.js';
import { killSshd, startSshd, stopSshd, type SshdInfo } from './helpers/sshd.js';

const QUICK_CASES = ['--quick', '--case', 'vgg16.conv5_1,mobilenet_v1.conv_dw_3,resnet50.res2b.branch2a'];
let a: SshdInfo;
let b: SshdInfo;
let work: string;

interface DeviceOpts {
  name?: string;
  hostKey?: string | null;
  identityFile?: string;
  port?: number;
  workDir?: string;
  knownHosts?: string;
}

function deviceYaml(s: SshdInfo, o: DeviceOpts = {}): string {
  const lines = [
    `  ${o.name ?? 'loopback'}:`,
    `    host: 127.0.0.1`,
    `    port: ${o.port ?? s.port}`,
    `    user: ${s.user}`,
    `    identityFile: ${JSON.stringify(o.identityFile ?? s.identityFile)}`,
    `    node: ${JSON.stringify(s.node ?? 'node')}`,
    `    workDir: ${JSON.stringify(o.workDir ?? join(s.dir, 'remote cache'))}`,
  ];
  const key = o.hostKey === undefined ? s.hostKeyFingerprint : o.hostKey;
  if (key) lines.push(`    hostKey: ${JSON.stringify(key)}`);
  if (o.knownHosts) lines.push(`    knownHosts: ${JSON.stringify(o.knownHosts)}`);
  return lines.join('\n');
}

function devicesFile(...devices: string[]): string {
  const file = join(mkdtempSync(join(work, 'devices-')), 'devices.yaml');
  writeFileSync(file, `# test registry\ndevices:\n  local:\n    transport: local\n${devices.join('\n')}\n`);
  return file;
}

function readRun(dir: string): RunResults {
  return RunResults.parse(JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')));
}

const outDir = () => join(mkdtempSync(join(work, 'run-')), 'r');

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'roofbench-ssh-'));
  [a, b] = await Promise.all([startSshd(), startSshd()]);
}, 300_000);

afterAll(async () => {
  await Promise.all([a && stopSshd(a), b && stopSshd(b)]);
});

describe('bench over SSH', () => {
  it('runs the same cases as local, with identical outputs, and reuses the cached payload', async () => {
    const file = devicesFile(deviceYaml(a));
    const sshOut = outDir();
    const localOut = outDir();
    const r1 = await bench(['--devices', file, '--device', 'loopback', ...QUICK_CASES, '--out', sshOut]);
    expect(r1.stderr + r1.stdout).toMatch(/report: /);
    expect(r1.code).toBe(0);
    const l = await bench([...QUICK_CASES, '--out', localOut]);
    expect(l.code).toBe(0);
    const ssh = readRun(sshOut);
    const local = readRun(localOut);
    expect(ssh.device).toMatchObject({ name: 'loopback', transport: 'ssh' });
    expect(ssh.device.uploadedBytes).toBeGreaterThan(100_000);
    expect(ssh.payloadHash).toBe(local.payloadHash);
    // WebAssembly variants: same states, bit-identical outputs. Native-code peers (ONNX Runtime) are not
    // part of the payload: on the device they are skipped with the reason unless installed there.
    const native = new Set(convVariants.filter((v) => v.nativeCode).map((v) => v.name));
    const key = (r: RunResults) =>
      r.results
        .filter((x) => !native.has(x.variant))
        .map((x) => `${x.caseId} ${x.variant} ${x.state} ${x.state === 'passed' ? x.accuracy.outputChecksum : ''}`);
    expect(key(ssh)).toEqual(key(local));
    expect(key(ssh).length).toBeGreaterThanOrEqual(9);
    for (const x of ssh.results.filter((y) => native.has(y.variant))) {
      expect(x.state === 'skipped' && x.reason).toMatch(/not installed on this device/);
    }
    expect(ssh.probe?.runtime.node).toBe(process.version);

    // Second run: the device holds the payload, nothing is uploaded.
    const again = outDir();
    const r2 = await bench(['--devices', file, '--device', 'loopback', ...QUICK_CASES, '--out', again]);
    expect(r2.code).toBe(0);
    expect(readRun(again).device.uploadedBytes).toBe(0);
    expect(r2.stderr).toMatch(/already on the device/);
  });

  it('devices check reports node, wasm SIMD, disk, lock and payload state', async () => {
    const file = devicesFile(deviceYaml(a));
    const r = await runCli('harness/devices-cli.ts', ['check', 'loopback', '--devices', file]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`host key     ${a.hostKeyFingerprint} (verified`);
    expect(r.stdout).toMatch(/node\s+v\d+/);
    expect(r.stdout).toMatch(/wasm simd\s+yes/);
    expect(r.stdout).toMatch(/free disk\s+\d+ MiB/);
    expect(r.stdout).toMatch(/lock\s+free/);
  });

  it('devices trust pins the host key in devices.yaml, keeping comments, after --yes', async () => {
    const file = devicesFile(deviceYaml(a, { hostKey: null }));
    const before = await runCli('harness/devices-cli.ts', ['trust', 'loopback', '--devices', file]);
    expect(before.code).toBe(2);
    expect(before.stdout).toContain(a.hostKeyFingerprint);
    expect(before.stderr).toMatch(/--yes/);
    const r = await runCli('harness/devices-cli.ts', ['trust', 'loopback', '--yes', '--devices', file]);
    expect(r.code).toBe(0);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('# test registry');
    expect(text).toContain(`hostKey: ${a.hostKeyFingerprint}`);
    const check = await runCli('harness/devices-cli.ts', ['check', 'loopback', '--devices', file]);
    expect(check.code).toBe(0);
  });

  it('accepts a host listed in a known_hosts file', async () => {
    const file = devicesFile(deviceYaml(a, { hostKey: null, knownHosts: a.knownHostsFile }));
    const r = await runCli('harness/devices-cli.ts', ['check', 'loopback', '--devices', file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('verified against');
  });
});

describe('refused connections keep the run honest', () => {
  async function failing(file: string) {
    const out = outDir();
    const r = await bench(['--devices', file, '--device', 'loopback', ...QUICK_CASES, '--out', out]);
    const run = readRun(out);
    expect(r.code).toBe(1);
    expect(run.status).toBe('incomplete');
    expect(run.results.length).toBe(3 * (await convVariantCount()));
    expect(run.results.every((x) => x.state === 'errored')).toBe(true);
    expect(existsSync(join(out, 'index.html'))).toBe(true);
    return { r, run };
  }

  it('refuses a changed host key, shows both fingerprints and the command that re-pins', async () => {
    const { r, run } = await failing(devicesFile(deviceYaml(a, { hostKey: b.hostKeyFingerprint })));
    expect(r.stdout).toContain('HOST KEY MISMATCH');
    expect(run.statusDetail).toContain(a.hostKeyFingerprint);
    expect(run.statusDetail).toContain(b.hostKeyFingerprint);
    expect(run.statusDetail).toContain('npm run devices -- trust loopback --replace');
  });

  it('refuses an unknown host key with the fingerprint and the trust command', async () => {
    const { run } = await failing(devicesFile(deviceYaml(a, { hostKey: null })));
    expect(run.statusDetail).toMatch(/is not pinned: it presented SHA256:/);
    expect(run.statusDetail).toContain(a.hostKeyFingerprint);
    expect(run.statusDetail).toContain('npm run devices -- trust loopback');
  });

  it('reports an authentication failure', async () => {
    const key = join(mkdtempSync(join(work, 'key-')), 'id');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    const { run } = await failing(devicesFile(deviceYaml(a, { identityFile: key })));
    expect(run.statusDetail).toMatch(/authentication as root .* failed/);
  });

  it('reports an unreachable host', async () => {
    const { run } = await failing(devicesFile(deviceYaml(a, { port: 1 })));
    expect(run.statusDetail).toMatch(/cannot connect to device loopback \(127\.0\.0\.1:1\).*ECONNREFUSED/);
  });

  it('reports a full disk on the device', async () => {
    const small = mkdtempSync(join(work, 'tiny-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', small]);
    try {
      const { run } = await failing(devicesFile(deviceYaml(a, { workDir: small })));
      expect(run.statusDetail).toMatch(/uploading the payload .* failed: .*Free some disk space/);
      expect(readdirSync(join(small, 'payloads'))).toEqual([]);
    } finally {
      execFileSync('umount', [small]);
    }
  });
});

describe('faults during a run lose nothing already measured', () => {
  const longer = ['--quick', '--target-ms', '400', '--no-ceilings', '--json'];

  async function interrupted(file: string, act: () => Promise<void> | void, env?: NodeJS.ProcessEnv) {
    const out = outDir();
    let acted: Promise<void> | null = null;
    const run = startBench(
      ['--devices', file, '--device', 'loopback', ...longer, '--out', out],
      (line) => {
        if (!acted && line.includes('"type":"result"') && line.includes('"state":"passed"')) acted = Promise.resolve().then(act);
      },
      { env },
    );
    const res = await run.done;
    await acted;
    return { res, run: readRun(out) };
  }

  it('sshd killed mid-run: completed cases kept, the rest errored with the cause', async () => {
    const s = await startSshd();
    try {
      const { res, run } = await interrupted(devicesFile(deviceYaml(s)), () => killSshd(s));
      expect(res.code).toBe(1);
      expect(run.status).toBe('incomplete');
      const passed = run.results.filter((x) => x.state === 'passed');
      const errored = run.results.filter((x) => x.state === 'errored');
      expect(passed.length).toBeGreaterThanOrEqual(1);
      expect(errored.length).toBeGreaterThanOrEqual(1);
      expect(run.results.length).toBe(run.cases.length * (await convVariantCount()));
      expect(run.statusDetail).toMatch(/connection to device loopback .* (lost|failed)|ended without an exit status|killed/);
    } finally {
      await stopSshd(s);
    }
  });

  it('remote runner killed: completed cases kept, exit non-zero', async () => {
    const workDir = join(a.dir, 'kill-test');
    const { res, run } = await interrupted(devicesFile(deviceYaml(a, { workDir })), () => {
      // execFile, not a shell: a shell's own command line would match the pattern too. The runner's
      // argv holds the payload directory unquoted (the wrapper's own command line holds it quoted).
      execFileSync('pkill', ['-KILL', '-f', `${workDir}/payloads/[0-9a-f]{16}`]);
    });
    expect(res.code).toBe(1);
    expect(run.status).toBe('incomplete');
    expect(run.results.some((x) => x.state === 'passed')).toBe(true);
    expect(run.statusDetail).toMatch(/killed/);
    // The lock was released by the wrapper: the next run goes through.
    const again = await bench([
      '--devices',
      devicesFile(deviceYaml(a, { workDir })),
      '--device',
      'loopback',
      '--quick',
      '--case',
      'mobilenet_v1.conv_dw_3',
      '--no-ceilings',
    ]);
    expect(again.code).toBe(0);
  });

  it('a hung case is killed after --case-timeout, marked errored, and the run carries on', async () => {
    const out = outDir();
    const r = await bench(
      ['--devices', devicesFile(deviceYaml(a)), '--device', 'loopback', ...QUICK_CASES, '--no-ceilings', '--case-timeout', '4', '--out', out],
      { env: { ROOFBENCH_TEST_FAULTS: JSON.stringify({ hangCase: 'conv/resnet50.res2b.branch2a' }) } },
    );
    expect(r.code).toBe(1);
    const run = readRun(out);
    const hung = run.results.filter((x) => x.caseId === 'conv/resnet50.res2b.branch2a');
    expect(hung.map((x) => x.state)).toEqual(Array.from({ length: await convVariantCount() }, () => 'errored'));
    expect(hung[0]?.state === 'errored' && hung[0].error).toMatch(/no event from the runner for 4 s/);
    // the cases before and after the hung one were measured
    for (const id of ['conv/vgg16.conv5_1', 'conv/mobilenet_v1.conv_dw_3']) {
      expect(run.results.filter((x) => x.caseId === id && x.state === 'passed').length).toBeGreaterThanOrEqual(2);
    }
    expect(run.status).toBe('complete');
    expect(run.statusDetail).toMatch(/hung/);
  });
});

describe('the device lock', () => {
  it('a second run on a busy device fails saying who holds it; with --wait it waits and then runs', async () => {
    const file = devicesFile(deviceYaml(b));
    let second: Promise<Awaited<ReturnType<typeof bench>>> | null = null;
    let waiting: Promise<Awaited<ReturnType<typeof bench>>> | null = null;
    const first = startBench(
      [
        '--devices',
        file,
        '--device',
        'loopback',
        '--quick',
        '--variant',
        'conv-direct-naive-f32,conv-im2col-gemm-f32,conv-depthwise-simd-f32',
        '--no-baselines',
        '--target-ms',
        '400',
        '--no-ceilings',
        '--json',
      ],
      (line) => {
        if (!second && line.includes('"type":"case-start"')) {
          second = bench(['--devices', file, '--device', 'loopback', '--quick', '--case', 'mobilenet_v1.conv_dw_3', '--no-ceilings']);
          waiting = bench(['--devices', file, '--device', 'loopback', '--quick', '--case', 'mobilenet_v1.conv_dw_3', '--no-ceilings', '--wait']);
        }
      },
    );
    const r1 = await first.done;
    expect(r1.code).toBe(0);
    expect(second).not.toBeNull();
    const r2 = await second!;
    expect(r2.code).toBe(75);
    expect(r2.stderr).toMatch(/device loopback is busy: locked by .* run \S+ device loopback started .*--wait.*; nothing was run or stored/);
    const r3 = await waiting!;
    expect(r3.code).toBe(0);
    expect(r3.stderr).toMatch(/locked by .*waiting/);
  });

  it('recovers a stale lock left by a run that is gone', async () => {
    const workDir = join(b.dir, 'stale');
    mkdirSync(join(workDir, 'lock'), { recursive: true });
    writeFileSync(join(workDir, 'lock', 'owner'), 'someone run old pid=999999\n');
    writeFileSync(join(workDir, 'lock', 'pid'), '999999\n');
    const out = outDir();
    const r = await bench([
      '--devices',
      devicesFile(deviceYaml(b, { workDir })),
      '--device',
      'loopback',
      '--quick',
      '--case',
      'mobilenet_v1.conv_dw_3',
      '--no-ceilings',
      '--out',
      out,
    ]);
    expect(r.code).toBe(0);
    expect(readRun(out).stderr.join('\n')).toMatch(/recovering a stale lock \(its process 999999 is gone\): someone run old/);
    expect(existsSync(join(workDir, 'lock'))).toBe(false);
  });
});

describe('several devices at once', () => {
  it('runs two SSH devices in parallel: one report each plus a combined index', async () => {
    const file = devicesFile(deviceYaml(a, { name: 'loopback' }), deviceYaml(b, { name: 'loopback2' }));
    const r = await bench(['--devices', file, '--device', 'loopback,loopback2', '--quick', '--case', 'mobilenet_v1.conv_dw_3', '--json']);
    expect(r.code).toBe(0);
    const done = jsonLines(r.stdout).filter((e) => e.type === 'run-complete');
    expect(done.map((e) => e.device).sort()).toEqual(['loopback', 'loopback2']);
    for (const d of done) {
      expect(d.status).toBe('complete');
      expect(existsSync(String(d.report))).toBe(true);
    }
    const index = jsonLines(r.stdout).find((e) => e.type === 'combined-index');
    const html = readFileSync(String(index?.path), 'utf8');
    expect(html).toContain('loopback2');
    // Both ran at the same time: their runner events interleave on stdout.
    const order = jsonLines(r.stdout)
      .filter((e) => e.type === 'case-start')
      .map((e) => e.device);
    expect(new Set(order).size).toBe(2);
  });

  it('one unreachable device does not stop the other', async () => {
    const file = devicesFile(deviceYaml(a, { name: 'loopback' }), deviceYaml(b, { name: 'gone', port: 1 }));
    const r = await bench(['--devices', file, '--device', 'loopback,gone', '--quick', '--case', 'mobilenet_v1.conv_dw_3', '--no-ceilings', '--json']);
    expect(r.code).toBe(1);
    const done = Object.fromEntries(
      jsonLines(r.stdout)
        .filter((e) => e.type === 'run-complete')
        .map((e) => [e.device, e.status]),
    );
    expect(done).toEqual({ loopback: 'complete', gone: 'incomplete' });
  });
});
