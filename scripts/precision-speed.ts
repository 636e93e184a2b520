/**
 * The low-precision speed goals of issue 13, measured on this machine (a
 * benchmark, not a test: nothing here asserts a speed):
 *   - int8 im2col GEMM (conv-im2col-gemm-pc-i8) against conv-im2col-gemm-f32 on
 *     vgg16.conv3_2 (256 -> 256 at 56x56), goal >= 1.8x effective speed;
 *   - fp16 storage against fp32 on the memory-bound depthwise and pointwise
 *     layers (MobileNet v1), goal >= 1.2x; and the same layers at batch 32,
 *     whose tensors overflow a 32 MiB last-level cache (DRAM-bound here too);
 * and, for context, the other int8 variants on the same layers.
 *
 *   npx tsx scripts/precision-speed.ts [--rounds N] [--case NAME,...]
 *
 * Each layer's variants are prepared once (outside the timing), then timed in
 * interleaved rounds (variants take turns, so drift hits all alike), each
 * sample lasting >= 20 ms; the figure is the median per variant, the ratio
 * that of the medians. Prints the load average before and after: on a shared
 * machine the ratios are indicative.
 */
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { loadKernels } from '../kernels/index.js';
import type { ConvShape, ConvVariant } from '../core/contracts.js';
import { ROOT } from '../harness/payload.js';
import { convCases } from '../suites/conv/cases.js';
import { convIm2colGemmF32 } from '../suites/conv/variants/im2col-gemm.js';
import { convDepthwiseSimdF32 } from '../suites/conv/variants/depthwise-simd.js';
import { convIm2colGemmPcI8, convIm2colGemmPtU8 } from '../suites/conv/variants/int8-im2col-gemm.js';
import { convDepthwisePcI8 } from '../suites/conv/variants/int8-depthwise.js';
import { winogradF2x2PcI8 } from '../suites/conv/variants/int8-winograd.js';
import { convIm2colGemmF16 } from '../suites/conv/variants/fp16-im2col-gemm.js';
import { convDepthwiseF16 } from '../suites/conv/variants/fp16-depthwise.js';
import { makeConvInputs } from '../reference/random.js';

const arg = (flag: string): string | undefined => {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const rounds = Number(arg('--rounds') ?? 9);
/** `batch`: the layer at this batch size, so that its tensors overflow the last-level cache (DRAM-bound on this machine too). */
const GOALS: { layer: string; base: ConvVariant; low: ConvVariant; goal: number; batch?: number }[] = [
  { layer: 'vgg16.conv3_2', base: convIm2colGemmF32, low: convIm2colGemmPcI8, goal: 1.8 },
  { layer: 'mobilenet_v1.conv_dw_3', base: convDepthwiseSimdF32, low: convDepthwiseF16, goal: 1.2 },
  { layer: 'mobilenet_v1.conv_dw_2', base: convDepthwiseSimdF32, low: convDepthwiseF16, goal: 1.2 },
  { layer: 'mobilenet_v1.conv_dw_13', base: convDepthwiseSimdF32, low: convDepthwiseF16, goal: 1.2 },
  { layer: 'mobilenet_v1.conv_pw_3', base: convIm2colGemmF32, low: convIm2colGemmF16, goal: 1.2 },
  { layer: 'mobilenet_v1.conv_dw_3', base: convDepthwiseSimdF32, low: convDepthwiseF16, goal: 1.2, batch: 32 },
  { layer: 'mobilenet_v1.conv_pw_3', base: convIm2colGemmF32, low: convIm2colGemmF16, goal: 1.2, batch: 32 },
];
const CONTEXT = [convIm2colGemmPtU8, winogradF2x2PcI8, convDepthwisePcI8];
const only = arg('--case')?.split(',');

const kernels = await loadKernels(join(ROOT, 'kernels', 'build'));
const cases = convCases({ quick: false, seed: 1, distribution: 'uniform(-1,1)' });
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
process.stdout.write(`${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}; load average before: ${load()}\n\n`);

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** ms per run: runs repeated to last >= minMs. */
function sample(run: () => void, reps: number): number {
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) run();
  return (performance.now() - t0) / reps;
}

for (const g of GOALS) {
  if (only && !only.includes(g.layer)) continue;
  const c = cases.find((x) => x.layer === g.layer);
  if (!c) throw new Error(`no case ${g.layer} in suites/conv/shapes.yaml`);
  const s: ConvShape = { ...c.shape, n: g.batch ?? c.shape.n };
  const { x, w } = makeConvInputs(s, c.seed, c.distribution);
  const variants = [g.base, g.low, ...CONTEXT.filter((v) => v !== g.low && v.applies(s) === true)];
  const mark = kernels.mark();
  const prepared = variants.map((v) => ({ v, p: v.prepare({ kernels }, s, x, w, { seed: c.seed, distribution: c.distribution }) }));
  const reps = prepared.map(({ p }) => {
    p.run();
    const t = sample(() => p.run(), 1);
    return Math.max(1, Math.ceil(20 / Math.max(t, 1e-3)));
  });
  const samples = prepared.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < prepared.length; i++) {
      const j = (i + r) % prepared.length;
      samples[j]!.push(sample(() => prepared[j]!.p.run(), reps[j]!));
    }
  }
  for (const { p } of prepared.reverse()) p.dispose();
  kernels.release(mark);
  const med = samples.map(median);
  const base = med[0]!;
  const mb = (v: ConvVariant) => (v.bytes(s) / 1e6).toFixed(1);
  process.stdout.write(
    `${g.layer}${g.batch ? ` x batch ${g.batch}` : ''} (${s.c}->${s.k} @${s.h}, ${(g.base.flops(s) / 1e9).toFixed(3)} GFLOP, ` +
      `${mb(g.base)} MB fp32 / ${mb(g.low)} MB ${g.low.dtype})\n`,
  );
  variants.forEach((v, i) => {
    const ms = med[i]!;
    const ratio = base / ms;
    const goal = v === g.low ? `  goal >= ${g.goal}x: ${ratio >= g.goal ? 'met' : 'not met'}` : '';
    process.stdout.write(
      `  ${v.name.padEnd(34)} ${ms.toFixed(3).padStart(9)} ms  ${(v.flops(s) / ms / 1e6).toFixed(1).padStart(6)} G(FL)OP/s effective  ${ratio.toFixed(2)}x${goal}\n`,
    );
  });
  process.stdout.write('\n');
}
process.stdout.write(`load average after: ${load()} (${cpus().length} cores)\n`);
