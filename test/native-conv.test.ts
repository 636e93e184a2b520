/**
 * The native example (examples/native-conv) through the external-kernel path: scripts/build-native.sh
 * builds it for x86-64, armhf and arm64 (installing Debian's cross compilers when missing); its
 * kernels file validates; each build's kernels (direct, and im2col + GEMM with AVX2/FMA or NEON)
 * get their inputs as .npy, run, and hand back an out.npy that passes the float64 checks of an
 * exact algorithm on awkward shapes; the ceilings probe prints a valid ceilings document. The ARM
 * builds run under qemu-user (correctness only: nothing here is a speed).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConvShape } from '../core/contracts.js';
import { loadKernelsFile, type ExternalKernel, type KernelsFile } from '../harness/external-file.js';
import { nativeArch, type NativeArch, type TimingProtocol } from '../core/external.js';
import { runExternalCase, runNativeCeilings, type ExternalMeasured } from '../harness/runner/external.js';
import { conv2dRef, convOutputSize } from '../reference/conv.js';
import { makeConvInputs } from '../reference/random.js';
import { exactToleranceCheck, probabilisticToleranceCheck } from '../reference/tolerance.js';
import { ROOT } from './helpers/cli.js';

const KERNELS_FILE = join(ROOT, 'examples', 'native-conv', 'kernels.yaml');
const HOST = nativeArch(process.arch);
/** How each architecture's binaries run here: natively, or under qemu-user with a CPU like the boards'. */
const RUN_PREFIX: Record<NativeArch, string[]> = {
  'x86-64': HOST === 'x86-64' ? [] : ['qemu-x86_64-static'],
  armhf: HOST === 'armhf' ? [] : ['qemu-arm-static', '-cpu', 'cortex-a7'],
  arm64: HOST === 'arm64' ? [] : ['qemu-aarch64-static', '-cpu', 'cortex-a53'],
};
const TIMING: TimingProtocol = { warmup: 1, repeat: 3, number: 1, minRepeatMs: 1 };

/**
 * Shapes that take every path of the GEMM: stride 2, no / wide padding, groups, depthwise, 1x1 and
 * 5x5 filters, two images, output channels not a multiple of any micro-kernel's rows (MR) nor of
 * the MC block, output pixels not a multiple of NR and more than one NC block (> 2048), a
 * reduction longer than one KC block (> 256: the accumulating path).
 */
const SHAPES: Record<string, ConvShape> = {
  'odd 3x3 stride 1': { n: 2, c: 3, h: 7, w: 9, k: 5, r: 3, s: 3, stride: 1, pad: 1, groups: 1 },
  'stride 2, 5x5, pad 2': { n: 1, c: 6, h: 13, w: 11, k: 7, r: 5, s: 5, stride: 2, pad: 2, groups: 1 },
  'no padding, 1x3': { n: 1, c: 4, h: 6, w: 10, k: 9, r: 1, s: 3, stride: 1, pad: 0, groups: 1 },
  grouped: { n: 1, c: 8, h: 9, w: 9, k: 12, r: 3, s: 3, stride: 1, pad: 1, groups: 4 },
  'depthwise stride 2': { n: 1, c: 10, h: 12, w: 12, k: 10, r: 3, s: 3, stride: 2, pad: 1, groups: 10 },
  '1x1': { n: 1, c: 33, h: 5, w: 7, k: 17, r: 1, s: 1, stride: 1, pad: 0, groups: 1 },
  'all blocks (kd 360 > KC, 2304 pixels > NC, 200 rows > MC)': { n: 1, c: 40, h: 48, w: 48, k: 200, r: 3, s: 3, stride: 1, pad: 1, groups: 1 },
};
/** Under emulation (about 100x slower) the big shape is skipped for the direct kernel only. */
const BIG = 'all blocks (kd 360 > KC, 2304 pixels > NC, 200 rows > MC)';

let kernels: KernelsFile;
let work: string;

beforeAll(() => {
  // Builds (or brings up to date) every architecture; installs the cross compilers if missing.
  execFileSync('bash', [join(ROOT, 'scripts', 'build-native.sh'), 'all'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 1_200_000 });
  kernels = loadKernelsFile(KERNELS_FILE);
  work = mkdtempSync(join(tmpdir(), 'roofbench-native-conv-'));
}, 1_300_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

function kernel(name: string): ExternalKernel {
  const k = kernels.kernels.find((x) => x.spec.name === name);
  if (!k) throw new Error(`${KERNELS_FILE} has no ${name}`);
  return k;
}

/** Runs a kernel of the example's kernels file, built for `arch`, on one shape (through qemu for another architecture). */
async function runOn(arch: NativeArch, name: string, shape: ConvShape): Promise<{ m: ExternalMeasured; x: Float32Array; w: Float32Array }> {
  const k = kernel(name);
  if (k.files.kind !== 'binary') throw new Error('the example ships binaries');
  const binary = k.files.binaries[arch];
  if (!binary) throw new Error(`no ${arch} build declared for ${name}`);
  const { x, w } = makeConvInputs(shape, 11, 'uniform(-1,1)');
  const spec = { ...k.spec, command: [...RUN_PREFIX[arch], ...k.spec.command] };
  const o = await runExternalCase({
    spec,
    paths: { binary },
    caseSpec: { id: 'conv/test', shape },
    x,
    w,
    timing: TIMING,
    workRoot: join(work, arch),
    timeoutMs: 300_000,
  });
  if (o.state !== 'measured') throw new Error(`${arch} ${name}: ${o.state === 'errored' ? o.error : o.reason}`);
  return { m: o, x, w };
}

function expectExact(shape: ConvShape, out: Float32Array, x: Float32Array, w: Float32Array): void {
  const ref = conv2dRef(shape, x, w);
  const n = (shape.c / shape.groups) * shape.r * shape.s;
  const { ho, wo } = convOutputSize(shape);
  expect(out.length).toBe(shape.n * shape.k * ho * wo);
  const exact = exactToleranceCheck(out, ref.y, ref.absBound, n);
  expect(exact.ok, `per-element bound: worst element ${exact.worstIndex} at ${exact.worstRatio}x`).toBe(true);
  const p = probabilisticToleranceCheck(out, ref.y, ref.absBound, n);
  expect(p.norm.ok, `error norm ${p.norm.value} vs ${p.norm.limit}`).toBe(true);
  expect(p.bias.ok, `systematic error ${p.bias.value} vs ${p.bias.limit}`).toBe(true);
}

it('the example kernels file validates, with a binary of the declared architecture for each', () => {
  expect(kernels.kernels.map((k) => k.spec.name)).toEqual(['conv-im2col-gemm-native-f32', 'conv-direct-native-f32']);
  for (const k of kernels.kernels) expect(k.spec.archs.sort()).toEqual(['arm64', 'armhf', 'x86-64']);
  expect(kernels.ceilings?.spec.archs.sort()).toEqual(['arm64', 'armhf', 'x86-64']);
});

for (const arch of ['x86-64', 'armhf', 'arm64'] as const) {
  const emulated = RUN_PREFIX[arch].length > 0;
  describe(`${arch}${emulated ? ' (under qemu-user)' : ''}`, () => {
    it('reports the micro-kernel it was built with (AVX2+FMA on x86-64, NEON on ARM)', () => {
      const k = kernel('conv-im2col-gemm-native-f32');
      const binary = k.files.kind === 'binary' ? k.files.binaries[arch] : undefined;
      const [cmd, ...args] = [...RUN_PREFIX[arch], binary ?? ''];
      const info = JSON.parse(execFileSync(cmd!, [...args, '--info'], { encoding: 'utf8' })) as { kernel: string };
      expect(info.kernel).toMatch(arch === 'x86-64' ? /^AVX2\+FMA 6x16$/ : arch === 'arm64' ? /^NEON \(AArch64\) 8x8$/ : /^NEON \(ARMv7, VFPv4\) 4x8$/);
    });

    for (const [label, shape] of Object.entries(SHAPES)) {
      it(`im2col + GEMM matches float64: ${label}`, async () => {
        const { m, x, w } = await runOn(arch, 'conv-im2col-gemm-native-f32', shape);
        expectExact(shape, m.output, x, w);
        expect(m.repeats).toHaveLength(TIMING.repeat);
        expect(m.reportedMs).toBeLessThanOrEqual(m.wallMs);
      });
      if (emulated && label === BIG) continue;
      it(`direct matches float64: ${label}`, async () => {
        const { m, x, w } = await runOn(arch, 'conv-direct-native-f32', shape);
        expectExact(shape, m.output, x, w);
      });
    }

    it('the ceilings probe prints a ceilings document', async () => {
      const c = kernels.ceilings;
      if (!c || c.files.kind !== 'binary') throw new Error('the example declares a binary ceilings probe');
      const spec = { ...c.spec, command: [...RUN_PREFIX[arch], ...c.spec.command, '--quick', '--max-bytes', emulated ? '262144' : '4194304'] };
      const r = await runNativeCeilings(spec, { binary: c.files.binaries[arch] }, join(work, `ceilings-${arch}`), 300_000);
      if (!r.ok) throw new Error(r.error);
      expect(r.ceilings.peakGflops).toBeGreaterThan(0);
      expect(r.ceilings.peakMethod).toMatch(arch === 'x86-64' ? /AVX2\+FMA/ : /NEON/);
      const kinds = new Set(r.ceilings.bandwidth.map((b) => b.kernel));
      expect([...kinds].sort()).toEqual(['copy', 'triad']);
      // The sweep starts at 16 KiB and stops at the cap it was given.
      const sizes = r.ceilings.bandwidth.filter((b) => b.kernel === 'triad').map((b) => b.bytes);
      expect(Math.min(...sizes)).toBeLessThanOrEqual(16384);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(emulated ? 262144 : 4194304);
      expect(r.ceilings.dramGbps).toBeGreaterThan(0);
    });
  });
}

it('the float64 checks catch a subtly wrong native output (test-only fault: the GEMM output scaled by 1 + 1e-4)', async () => {
  const shape = SHAPES['odd 3x3 stride 1']!;
  const { m, x, w } = await runOn(HOST ?? 'x86-64', 'conv-im2col-gemm-native-f32', shape);
  const ref = conv2dRef(shape, x, w);
  const n = shape.c * shape.r * shape.s;
  const scaled = m.output.map((v) => v * (1 + 1e-4));
  expect(probabilisticToleranceCheck(scaled, ref.y, ref.absBound, n).bias.ok).toBe(false);
  const dropped = m.output.slice();
  dropped[3] = 0;
  expect(exactToleranceCheck(dropped, ref.y, ref.absBound, n).ok).toBe(false);
});
