/**
 * scripts/arm-node.sh: Debian 12's Node 18 for armhf (the Raspberry Pi 3 with a
 * 32-bit OS) under qemu-user. Builds (or reuses) the sysroot, then runs the
 * wrapper the way the harness runs a payload: an .mjs next to a .wasm that uses
 * WebAssembly SIMD.
 *
 * The sysroot is cached in $ROOFBENCH_ARM_CACHE or /tmp/roofbench-arm-cache, so
 * only the first run on a machine downloads packages (~25 MB, well under a
 * minute); later runs reuse it. Building needs root on a machine where armhf
 * or qemu-user-static is not set up yet; a failed build fails the tests with
 * the script's output.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const script = path.join(repo, 'scripts', 'arm-node.sh');
const cache = process.env.ROOFBENCH_ARM_CACHE || path.join(os.tmpdir(), 'roofbench-arm-cache');
const stampFile = path.join(cache, 'sysroot-armhf', '.roofbench-sysroot');

// What a node on a board sees: no NODE_OPTIONS & co. from the test runner.
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(NODE_|VITEST|TSX|npm_)/i.test(k)) env[k] = v;
  }
  return { ...env, ...extra };
}

function describeRun(what: string, r: SpawnSyncReturns<string>): string {
  return [
    `${what}: exit ${r.status ?? 'none'}${r.signal ? ` signal ${r.signal}` : ''}${r.error ? ` (${r.error.message})` : ''}`,
    `--- stdout ---\n${r.stdout ?? ''}`,
    `--- stderr ---\n${r.stderr ?? ''}`,
  ].join('\n');
}

function buildArmhf(outDir: string): { wrapper: string; ms: number; run: SpawnSyncReturns<string> } {
  const t0 = Date.now();
  const run = spawnSync('bash', [script, 'armhf', outDir], {
    encoding: 'utf8',
    env: cleanEnv({ ROOFBENCH_ARM_CACHE: cache }),
    timeout: 20 * 60_000,
  });
  const ms = Date.now() - t0;
  if (run.status !== 0) throw new Error(describeRun(`scripts/arm-node.sh armhf ${outDir}`, run));
  return { wrapper: run.stdout.trim(), ms, run };
}

/**
 * (module (memory (export "mem") 1)
 *   (func (export "add") (param $a i32) (param $b i32) (param $out i32)
 *     (v128.store (local.get $out) (f32x4.add (v128.load (local.get $a)) (v128.load (local.get $b)))))
 *   (func (export "mul") (param $a i32) (param $b i32) (param $out i32)
 *     (v128.store (local.get $out) (f32x4.mul (v128.load (local.get $a)) (v128.load (local.get $b))))))
 */
function simdModule(): Uint8Array {
  // prettier-ignore
  const body = (op: number) => [
    0x17, 0x00, // body size 23, no locals
    0x20, 0x02, 0x20, 0x00, 0xfd, 0x00, 0x04, 0x00, // out, v128.load a
    0x20, 0x01, 0xfd, 0x00, 0x04, 0x00, // v128.load b
    0xfd, op, 0x01, // f32x4.add (0xe4 0x01) / f32x4.mul (0xe6 0x01)
    0xfd, 0x0b, 0x04, 0x00, 0x0b, // v128.store, end
  ];
  // prettier-ignore
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    0x01, 0x07, 0x01, 0x60, 0x03, 0x7f, 0x7f, 0x7f, 0x00, // type: (i32 i32 i32) -> ()
    0x03, 0x03, 0x02, 0x00, 0x00, // two functions of type 0
    0x05, 0x03, 0x01, 0x00, 0x01, // memory: min 1 page
    0x07, 0x13, 0x03, // exports
    0x03, 0x61, 0x64, 0x64, 0x00, 0x00, // "add" func 0
    0x03, 0x6d, 0x75, 0x6c, 0x00, 0x01, // "mul" func 1
    0x03, 0x6d, 0x65, 0x6d, 0x02, 0x00, // "mem" memory 0
    0x0a, 0x31, 0x02, ...body(0xe4), ...body(0xe6),
  ]);
}

// Payload-shaped: an ES module that reads the .wasm next to it.
const payloadMjs = `
import { readFileSync } from 'node:fs';
const bytes = readFileSync(new URL('./simd.wasm', import.meta.url));
const valid = WebAssembly.validate(bytes);
const { instance } = await WebAssembly.instantiate(bytes);
const { add, mul, mem } = instance.exports;
const f = new Float32Array(mem.buffer);
f.set([1.5, 2.25, -3, 1e10], 0);
f.set([0.5, 0.75, 3, 1], 4);
add(0, 16, 32);
mul(0, 16, 48);
console.log(JSON.stringify({ arch: process.arch, valid, add: Array.from(f.subarray(8, 12)), mul: Array.from(f.subarray(12, 16)) }));
`;

const expectedSimd = {
  arch: 'arm',
  valid: true,
  add: [2, 3, 0, 1e10],
  mul: [0.75, Math.fround(2.25 * 0.75), -9, 1e10],
};

describe('scripts/arm-node.sh armhf (Raspberry Pi 3, 32-bit)', () => {
  let outDir = '';
  let wrapper = '';
  let firstMs = 0;

  const node = (args: string[], input?: string) => spawnSync(wrapper, args, { encoding: 'utf8', input, env: cleanEnv(), timeout: 180_000 });

  beforeAll(() => {
    outDir = mkdtempSync(path.join(os.tmpdir(), 'roofbench-arm-node-'));
    const built = buildArmhf(outDir);
    wrapper = built.wrapper;
    firstMs = built.ms;
    writeFileSync(path.join(outDir, 'simd.wasm'), simdModule());
    writeFileSync(path.join(outDir, 'payload.mjs'), payloadMjs);
  }, 25 * 60_000);

  // The wrappers and payload only; the cached sysroot stays for the next run.
  afterAll(() => {
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  it('writes DIR/node-armhf and DIR/node and records package versions', () => {
    expect(wrapper).toBe(path.join(outDir, 'node-armhf'));
    expect(existsSync(path.join(outDir, 'node'))).toBe(true);
    const stamp = readFileSync(stampFile, 'utf8');
    expect(stamp).toMatch(/^arch=armhf$/m);
    expect(stamp).toMatch(/^package=nodejs armhf 18\./m);
    expect(stamp).toMatch(/^package=libnode108 armhf 18\./m);
  });

  it('node -v is v18', () => {
    const r = node(['-v']);
    expect(r.status, describeRun('node -v', r)).toBe(0);
    expect(r.stdout.trim()).toMatch(/^v18\./);
  });

  it('runs as arm, reports V8 and the CPUs', () => {
    const r = node(['-p', 'JSON.stringify({ arch: process.arch, v8: process.versions.v8, cpus: require("os").cpus().length })']);
    expect(r.status, describeRun('node -p', r)).toBe(0);
    const info = JSON.parse(r.stdout) as { arch: string; v8: string; cpus: number };
    expect(info.arch).toBe('arm');
    expect(info.v8).toMatch(/^10\.2\./);
    expect(info.cpus).toBeGreaterThan(0);
  });

  it('runs an .mjs + .wasm payload with WebAssembly SIMD (Liftoff and TurboFan)', () => {
    const payload = path.join(outDir, 'payload.mjs');
    for (const flags of [[], ['--no-liftoff']]) {
      const r = node([...flags, payload]);
      expect(r.status, describeRun(`node ${flags.join(' ')} payload.mjs`, r)).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual(expectedSimd);
    }
  });

  it('passes arguments, stdin, stdout, stderr and the exit code through', () => {
    const code = `
      let d = '';
      process.stdin.on('data', (c) => (d += c)).on('end', () => {
        process.stdout.write(JSON.stringify({ argv: process.argv.slice(1), stdin: d }));
        process.stderr.write('to-stderr');
        process.exitCode = 42;
      });`;
    const args = ['a b', '"quoted"', "it's", '$HOME', ''];
    const r = node(['-e', code, '--', ...args], 'line 1\nline 2\n');
    expect(r.status, describeRun('node -e (passthrough)', r)).toBe(42);
    expect(JSON.parse(r.stdout)).toEqual({ argv: args, stdin: 'line 1\nline 2\n' });
    expect(r.stderr).toBe('to-stderr');
  });

  it('reuses the cached sysroot on a rerun', () => {
    const before = readFileSync(stampFile, 'utf8');
    const again = buildArmhf(outDir);
    expect(again.wrapper).toBe(wrapper);
    expect(readFileSync(stampFile, 'utf8')).toBe(before);
    // < 1 s on an idle machine; the bound only catches a rebuild.
    expect(again.ms).toBeLessThan(15_000);
    console.log(`arm-node.sh armhf: first call ${firstMs} ms, cached rerun ${again.ms} ms`);
  });
});
