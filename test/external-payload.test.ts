/**
 * The user's kernel files in the payload (--kernels): content-addressed under native/, only the
 * kernels the plan keeps, each device's payload holding its own architecture's builds, the hash
 * unchanged while the files are (the device reuses its copy) and changed by one byte of one file.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKernelsFile, type KernelsFile } from '../harness/external-file.js';
import { bundleKernels } from '../harness/external-bundle.js';
import { buildPayload, payloadForArch } from '../harness/payload.js';

const TIMING = { warmup: 1, repeat: 3, number: 1, minRepeatMs: 1 };
let work: string;
let file: KernelsFile;

/** An ELF header of `machine` (enough for the kernels file's architecture check), then `tag`. */
function fakeElf(path: string, machine: 'x86-64' | 'armhf' | 'arm64', tag: string): void {
  const h = Buffer.alloc(64);
  h.writeUInt32BE(0x7f454c46, 0);
  h[4] = machine === 'armhf' ? 1 : 2; // 32 / 64 bits
  h[5] = 1; // little-endian
  h[6] = 1;
  h.writeUInt16LE(machine === 'x86-64' ? 62 : machine === 'arm64' ? 183 : 40, 18);
  writeFileSync(path, Buffer.concat([h, Buffer.from(tag)]));
  chmodSync(path, 0o755);
}

function writeKernels(): KernelsFile {
  return loadKernelsFile(join(work, 'k.yaml'));
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'roofbench-native-payload-'));
  for (const a of ['x86-64', 'armhf', 'arm64'] as const) {
    mkdirSync(join(work, 'build', a), { recursive: true });
    fakeElf(join(work, 'build', a, 'conv'), a, `conv ${a}`);
    fakeElf(join(work, 'build', a, 'probe'), a, `probe ${a}`);
  }
  mkdirSync(join(work, 'py', 'lib'), { recursive: true });
  writeFileSync(join(work, 'py', 'run.py'), 'print("hi")\n');
  writeFileSync(join(work, 'py', 'lib', 'util.py'), 'X = 1\n');
  const bin = (n: string) => `{ x86-64: build/x86-64/${n}, armhf: build/armhf/${n}, arm64: build/arm64/${n} }`;
  writeFileSync(
    join(work, 'k.yaml'),
    [
      'kernels:',
      '  - { name: conv-gemm-native-f32, op: conv, dtype: f32, cases: all, files: { binary: ' + bin('conv') + ' }, command: ["{binary}", gemm, "{work}"] }',
      '  - { name: conv-direct-native-f32, op: conv, dtype: f32, cases: all, files: { binary: ' + bin('conv') + ' }, command: ["{binary}", direct, "{work}"] }',
      '  - { name: conv-py-native-f32, op: conv, dtype: f32, cases: all, files: { dir: py, script: run.py }, command: [python3, "{script}", "{work}"] }',
      'ceilings: { files: { binary: ' + bin('probe') + ' }, command: ["{binary}"] }',
      '',
    ].join('\n'),
  );
  file = writeKernels();
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the kernels in the payload', () => {
  it('names each file by its content, uploads a shared binary once, and leaves out what the plan does not run', () => {
    const all = bundleKernels(file, new Set(['conv-gemm-native-f32', 'conv-direct-native-f32', 'conv-py-native-f32']), {
      timing: TIMING,
      timeoutMs: 1000,
      ceilings: true,
    });
    // conv x 3 architectures (shared by two kernels), probe x 3, the directory's two files.
    expect(all.native).toHaveLength(8);
    expect(all.native.every((f) => /^native\/[0-9a-f]{16}\//.test(f.path))).toBe(true);
    const [gemm, direct, py] = all.external.kernels;
    expect(gemm!.files.binary).toEqual(direct!.files.binary);
    expect(py!.files.dir).toMatch(/^native\/[0-9a-f]{16}$/);
    expect(py!.files.script).toBe(`${py!.files.dir}/run.py`);
    expect(
      all.native
        .filter((f) => f.path.startsWith(`${py!.files.dir}/`))
        .map((f) => f.path.slice(py!.files.dir!.length + 1))
        .sort(),
    ).toEqual(['lib/util.py', 'run.py']);
    expect(all.external.ceilings?.files.binary?.arm64).toMatch(/\/probe$/);

    const some = bundleKernels(file, new Set(['conv-py-native-f32']), { timing: TIMING, timeoutMs: 1000, ceilings: false });
    expect(some.external.kernels.map((k) => k.spec.name)).toEqual(['conv-py-native-f32']);
    expect(some.external.ceilings).toBeUndefined();
    expect(some.native).toHaveLength(2);
  });

  it('gives each architecture its own payload, reused while the files do not change, rebuilt when one byte does', async () => {
    const root = join(work, 'payloads');
    const b = bundleKernels(file, new Set(['conv-gemm-native-f32', 'conv-py-native-f32']), { timing: TIMING, timeoutMs: 1000, ceilings: true });
    const x86 = await buildPayload({ root, native: b.native, arch: 'x86-64' });
    const paths = (p: typeof x86) => p.files.map((f) => f.path).filter((f) => f.startsWith('native/'));
    expect(paths(x86)).toContain(b.external.kernels[0]!.files.binary!['x86-64']);
    expect(paths(x86)).not.toContain(b.external.kernels[0]!.files.binary!.arm64);
    expect(paths(x86)).toHaveLength(4); // conv, probe, and the directory's two files
    // Executables keep their mode in the payload; the device check covers them like the runner.
    expect(statSync(join(x86.dir, b.external.kernels[0]!.files.binary!['x86-64']!)).mode & 0o777).toBe(0o755);
    expect(x86.files.find((f) => f.path.endsWith('/conv'))?.mode).toBe(0o755);

    expect(await payloadForArch(x86, 'x64')).toBe(x86);
    const arm = await payloadForArch(x86, 'arm64');
    expect(arm.hash).not.toBe(x86.hash);
    expect(paths(arm)).toContain(b.external.kernels[0]!.files.binary!.arm64);
    expect(paths(arm).some((p) => p === b.external.kernels[0]!.files.binary!['x86-64'])).toBe(false);

    // Unchanged files: the same hash (the device reuses its copy). One byte changed: another.
    expect((await buildPayload({ root, native: b.native, arch: 'x86-64' })).hash).toBe(x86.hash);
    fakeElf(join(work, 'build', 'x86-64', 'conv'), 'x86-64', 'conv x86-64!');
    const changed = bundleKernels(writeKernels(), new Set(['conv-gemm-native-f32', 'conv-py-native-f32']), { timing: TIMING, timeoutMs: 1000, ceilings: true });
    expect((await buildPayload({ root, native: changed.native, arch: 'x86-64' })).hash).not.toBe(x86.hash);
    // An architecture the device's Node has no build for: no native files (its kernels are skipped on the device).
    const none = await payloadForArch(x86, 'riscv64');
    expect(paths(none).filter((p) => p.endsWith('/conv') || p.endsWith('/probe'))).toEqual([]);
  }, 120_000);
});
