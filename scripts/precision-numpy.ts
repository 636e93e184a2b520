/**
 * Cross-checks roofbench's int8 schemes against an independent numpy
 * computation of the same definitions (scripts/precision_numpy.py): for two
 * layers, two input distributions and every combination of weight granularity,
 * activation type, calibration method and output, the quantization parameters,
 * the quantized tensors, the exact integer result, the requantized codes and
 * the scheme-loss figures.
 *
 *   npx tsx scripts/precision-numpy.ts                  # compare (needs python3 with numpy)
 *   npx tsx scripts/precision-numpy.ts --write-fixture  # also store numpy's figures in
 *                                                       # test/fixtures/precision-numpy.json,
 *                                                       # which test/precision-kernels.test.ts
 *                                                       # compares with on every test run
 *
 * The calibration output (the float convolution of the calibration inputs)
 * is roofbench's f32 kernel result, handed to numpy as data, so both sides
 * calibrate the output range on the same values.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CaseData, ConvShape } from '../core/contracts.js';
import type { Kernels } from '../kernels/index.js';
import { calibrationSeed } from '../reference/calibration.js';
import { conv2dRef } from '../reference/conv.js';
import { int8Scheme, type Int8Scheme } from '../reference/quant-scheme.js';
import { makeConvInputs } from '../reference/random.js';
import { schemeLoss } from '../reference/scheme-loss.js';
import { convIm2colGemmF32 } from '../suites/conv/variants/im2col-gemm.js';
import { outputValues, quantizeConv } from '../suites/conv/variants/lowp.js';

export interface NumpyCase {
  name: string;
  shape: ConvShape;
  data: CaseData;
}

export const NUMPY_CASES: NumpyCase[] = [
  {
    name: '3x3 24->16 @12 pad 1, uniform(-1,1)',
    shape: { n: 1, c: 24, h: 12, w: 12, k: 16, r: 3, s: 3, stride: 1, pad: 1, groups: 1 },
    data: { seed: 11, distribution: 'uniform(-1,1)' },
  },
  {
    name: 'depthwise 3x3 s2 @15, activation',
    shape: { n: 1, c: 8, h: 15, w: 15, k: 8, r: 3, s: 3, stride: 2, pad: 1, groups: 8 },
    data: { seed: 12, distribution: 'activation' },
  },
];

/** Every weight granularity x activation type x calibration x output. */
export const NUMPY_SCHEMES: Int8Scheme[] = (['per-tensor', 'per-channel'] as const).flatMap((weights) =>
  (['int8', 'uint8'] as const).flatMap((activations) =>
    (['minmax', 'percentile', 'mse', 'entropy'] as const).flatMap((method) =>
      (['requantize', 'dequantize'] as const).map((output) =>
        int8Scheme({ weights, activations, output, calibration: method === 'percentile' ? { method, percentile: 99.9 } : { method } }),
      ),
    ),
  ),
);

export interface Figures {
  xScale: number;
  xZero: number;
  yScale: number;
  yZero: number;
  wScales: number[];
  xqSum: number;
  wqSum: number;
  accAbsSum: number;
  sqnrDb: number | null;
  relL2: number;
  cosine: number;
  maxAbs: number;
  meanError: number;
  sdError: number;
  rmse: number;
  rmseOverScale: number;
  codesHash?: number;
}

const sum = (a: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s;
};

/** roofbench's figures for one case and scheme (the variants' own path: lowp.ts quantizeConv). */
export function ourFigures(kernels: Kernels, c: NumpyCase, scheme: Int8Scheme): Figures {
  const { x, w } = makeConvInputs(c.shape, c.data.seed, c.data.distribution);
  const q = quantizeConv({ kernels }, c.shape, x, w, scheme, c.data);
  const expected = q.expected(scheme.output);
  const y = outputValues(expected, q.yParams);
  const ref = conv2dRef(c.shape, x, w).y;
  const l = schemeLoss(y, ref, q.yParams.scale);
  const acc = q.acc();
  let accAbs = 0;
  for (const v of acc) accAbs += Math.abs(v);
  const out: Figures = {
    xScale: q.xParams.scale,
    xZero: q.xParams.zeroPoint,
    yScale: q.yParams.scale,
    yZero: q.yParams.zeroPoint,
    wScales: Array.from(q.w.scales),
    xqSum: sum(q.xq),
    wqSum: sum(q.w.q),
    accAbsSum: accAbs,
    sqnrDb: Number.isFinite(l.sqnrDb) ? l.sqnrDb : null,
    relL2: l.relL2,
    cosine: l.cosine,
    maxAbs: l.maxAbs,
    meanError: l.meanError,
    sdError: l.sdError,
    rmse: l.rmse,
    rmseOverScale: l.rmseOverScale,
  };
  if (!(expected instanceof Float32Array)) {
    let h = 0;
    for (let i = 0; i < expected.length; i++) h = (h + (expected[i]! - q.yParams.qmin) * ((i % 9973) + 1)) % 1000000007;
    out.codesHash = h;
  }
  return out;
}

/** The float convolution of the calibration inputs by the f32 im2col kernel: what lowp.ts calibrates the output range on. */
function calibrationConv(kernels: Kernels, shape: ConvShape, xcal: Float32Array, w: Float32Array): Float32Array {
  const p = convIm2colGemmF32.prepare({ kernels }, shape, xcal, w);
  try {
    p.run();
    return Float32Array.from(p.output());
  } finally {
    p.dispose();
  }
}

/** The job for precision_numpy.py: the inputs, calibration inputs and calibration output of every case. */
export function numpyJob(kernels: Kernels): unknown {
  return {
    cases: NUMPY_CASES.map((c) => {
      const { x, w } = makeConvInputs(c.shape, c.data.seed, c.data.distribution);
      const xcal = makeConvInputs(c.shape, calibrationSeed(c.data.seed), c.data.distribution).x;
      const ycal = calibrationConv(kernels, c.shape, xcal, w);
      return { name: c.name, shape: c.shape, x: Array.from(x), w: Array.from(w), xcal: Array.from(xcal), ycal: Array.from(ycal), schemes: NUMPY_SCHEMES };
    }),
  };
}

/** Where two figure sets differ beyond rounding (exact for parameters, integers and codes; 1e-9 relative for metrics). */
export function compareFigures(ours: Figures, theirs: Figures): string[] {
  const bad: string[] = [];
  const exact: (keyof Figures)[] = ['xScale', 'xZero', 'yScale', 'yZero', 'xqSum', 'wqSum', 'accAbsSum', 'codesHash'];
  for (const key of exact) if (ours[key] !== theirs[key]) bad.push(`${key}: ${String(ours[key])} vs numpy ${String(theirs[key])}`);
  if (ours.wScales.some((v, i) => v !== theirs.wScales[i])) bad.push('wScales differ');
  const close: (keyof Figures)[] = ['sqnrDb', 'relL2', 'cosine', 'maxAbs', 'meanError', 'sdError', 'rmse', 'rmseOverScale'];
  for (const key of close) {
    const a = ours[key] as number;
    const b = theirs[key] as number;
    if (!(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)) + 1e-12)) bad.push(`${key}: ${a} vs numpy ${b}`);
  }
  return bad;
}

const invokedDirectly = process.argv[1]?.endsWith('precision-numpy.ts');
if (invokedDirectly) {
  const { loadKernels } = await import('../kernels/index.js');
  const { ROOT } = await import('../harness/payload.js');
  const kernels = await loadKernels(join(ROOT, 'kernels', 'build'));
  const job = numpyJob(kernels);
  const py = spawnSync('python3', [join(ROOT, 'scripts', 'precision_numpy.py')], { input: JSON.stringify(job), maxBuffer: 1 << 28, encoding: 'utf8' });
  if (py.status !== 0) throw new Error(`precision_numpy.py failed (needs python3 with numpy):\n${py.stderr}`);
  const numpy = JSON.parse(py.stdout) as { numpy: string; cases: { name: string; schemes: Figures[] }[] };
  let failures = 0;
  for (const [ci, c] of NUMPY_CASES.entries()) {
    for (const [si, s] of NUMPY_SCHEMES.entries()) {
      const bad = compareFigures(ourFigures(kernels, c, s), numpy.cases[ci]!.schemes[si]!);
      const label = `${c.name} | ${s.weights} ${s.activations} ${s.calibration.method} ${s.output}`;
      if (bad.length) failures++;
      process.stdout.write(`${bad.length ? 'DIFFER' : 'same  '} ${label}${bad.length ? `\n    ${bad.join('\n    ')}` : ''}\n`);
    }
  }
  process.stdout.write(
    `numpy ${numpy.numpy}: ${NUMPY_CASES.length * NUMPY_SCHEMES.length - failures} of ${NUMPY_CASES.length * NUMPY_SCHEMES.length} combinations agree\n`,
  );
  if (process.argv.includes('--write-fixture')) {
    const file = join(ROOT, 'test', 'fixtures', 'precision-numpy.json');
    writeFileSync(
      file,
      `${JSON.stringify({ generatedBy: 'npx tsx scripts/precision-numpy.ts --write-fixture', numpy: numpy.numpy, cases: numpy.cases }, null, 1)}\n`,
    );
    process.stdout.write(`wrote ${file}\n`);
  }
  if (failures) process.exitCode = 1;
}
