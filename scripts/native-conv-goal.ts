/**
 * The native example's goal (issue 17), measured: the AVX2 im2col + GEMM conv of
 * examples/native-conv on vgg16.conv3_2 as a share of the native FMA peak its own probe measures,
 * on this machine, through the external-kernel path (harness/runner/external.ts) and checked
 * against float64. A measurement, not a test.
 *
 *   scripts/build-native.sh x86-64 && npx tsx scripts/native-conv-goal.ts [--case vgg16.conv3_2]
 *
 * Prints the load average (the machine may be shared), the probe's peak, each repeat and the
 * median, and the share; exits 1 if the output fails its accuracy checks.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadKernelsFile } from '../harness/external-file.js';
import { nativeArch, timingProtocol } from '../core/external.js';
import { runExternalCase, runNativeCeilings } from '../harness/runner/external.js';
import { computeStatistics } from '../core/stats.js';
import { convCases } from '../suites/conv/cases.js';
import { conv2dRef } from '../reference/conv.js';
import { makeConvInputs } from '../reference/random.js';
import { exactToleranceCheck, probabilisticToleranceCheck } from '../reference/tolerance.js';

const { values } = parseArgs({
  options: { case: { type: 'string', default: 'vgg16.conv3_2' }, kernel: { type: 'string', default: 'conv-im2col-gemm-native-f32' } },
});
const arch = nativeArch(process.arch);
if (!arch) throw new Error(`no native build for ${process.arch}`);
const file = fileURLToPath(new URL('../examples/native-conv/kernels.yaml', import.meta.url));
const kernels = loadKernelsFile(file, { archs: [arch] });
const kernel = kernels.kernels.find((k) => k.spec.name === values.kernel);
if (!kernel || kernel.files.kind !== 'binary' || !kernels.ceilings || kernels.ceilings.files.kind !== 'binary')
  throw new Error(`${file} has no binary kernel ${values.kernel} or no ceilings probe`);
const c = convCases({ quick: false, seed: 1, distribution: 'uniform(-1,1)' }).find((x) => x.layer === values.case);
if (!c) throw new Error(`unknown case ${values.case}`);

const work = mkdtempSync(join(tmpdir(), 'roofbench-native-goal-'));
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
try {
  console.log(`load average before: ${load()} (${(await import('node:os')).cpus().length} cores)`);
  const ceilings = await runNativeCeilings(kernels.ceilings.spec, { binary: kernels.ceilings.files.binaries[arch] }, join(work, 'ceilings'), 600_000);
  if (!ceilings.ok) throw new Error(ceilings.error);
  const peak = ceilings.ceilings.peakGflops;
  console.log(
    `native peak: ${peak.toFixed(1)} GFLOP/s (${ceilings.ceilings.peakMethod}); samples ${ceilings.ceilings.peakSamples.map((x) => x.toFixed(1)).join(' ')}`,
  );
  console.log(`native DRAM bandwidth: ${ceilings.ceilings.dramGbps.toFixed(1)} GB/s`);

  const { x, w } = makeConvInputs(c.shape, c.seed, c.distribution);
  const timing = timingProtocol({ quick: false, minSamples: 8, minSampleMs: 5 });
  const r = await runExternalCase({
    spec: kernel.spec,
    paths: { binary: kernel.files.binaries[arch] },
    caseSpec: c,
    x,
    w,
    timing,
    workRoot: work,
    timeoutMs: 600_000,
  });
  if (r.state !== 'measured') throw new Error(r.state === 'errored' ? r.error : r.reason);
  const ref = conv2dRef(c.shape, x, w);
  const n = (c.shape.c / c.shape.groups) * c.shape.r * c.shape.s;
  const exact = exactToleranceCheck(r.output, ref.y, ref.absBound, n);
  const prob = probabilisticToleranceCheck(r.output, ref.y, ref.absBound, n);
  const stats = computeStatistics(r.repeats.map((x) => x.realMs));
  const gflops = r.cost.flops / (stats.median * 1e6);
  const best = r.cost.flops / (stats.min * 1e6);
  console.log(
    `${kernel.spec.name} on ${c.id} (${(r.cost.flops / 1e9).toFixed(2)} GFLOP): repeats ${r.repeats.map((x) => `${x.realMs.toFixed(2)} ms x${x.iterations}`).join(', ')}`,
  );
  console.log(
    `  median ${stats.median.toFixed(2)} ms = ${gflops.toFixed(1)} GFLOP/s = ${((100 * gflops) / peak).toFixed(1)}% of the native peak (best repeat ${((100 * best) / peak).toFixed(1)}%); cv ${(stats.cv * 100).toFixed(1)}%`,
  );
  // On a shared machine the wall time includes the time other processes took the CPU: the CPU time says what the kernel itself needed.
  const cpu = computeStatistics(r.repeats.map((x) => x.cpuMs ?? Number.NaN).filter(Number.isFinite));
  const cpuGflops = r.cost.flops / (cpu.median * 1e6);
  console.log(
    `  by CPU time: median ${cpu.median.toFixed(2)} ms = ${cpuGflops.toFixed(1)} GFLOP/s = ${((100 * cpuGflops) / peak).toFixed(1)}% of the native peak`,
  );
  console.log(
    `  accuracy: per-element bound ${exact.ok ? 'ok' : 'FAILED'} (worst ${exact.worstRatio.toPrecision(3)}x), error norm ${prob.norm.ok ? 'ok' : 'FAILED'}, systematic ${prob.bias.ok ? 'ok' : 'FAILED'}`,
  );
  console.log(`  wall time of the invocation ${r.wallMs.toFixed(0)} ms, kernel time reported ${r.reportedMs.toFixed(0)} ms`);
  console.log(`load average after: ${load()}`);
  if (!exact.ok || !prob.norm.ok || !prob.bias.ok) process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
