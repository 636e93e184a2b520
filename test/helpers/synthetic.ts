/**
 * Synthetic runs with seeded random timing samples: for the history tests,
 * the fidelity script's dashboard timing, and for trying the dashboard out
 * (`history synth`). Every run is a valid results.json (it passes the zod
 * schema); timings are drawn from a log-normal around a per-series base time,
 * with optional steps (a slowdown from some run on), identity changes (a Node
 * upgrade), failed nights and accuracy regressions.
 */
import { convCase, encodeFloat, RunResults, SCHEMA_VERSION, type CaseResult, type CaseSpec, type Health } from '../../core/contracts.js';
import { computeStatistics } from '../../core/stats.js';

/** mulberry32: a small, fast, seeded PRNG returning floats in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal draws (Box-Muller) from a uniform source. */
export function normal(rand: () => number): () => number {
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    let u = 0;
    while (u <= Number.EPSILON) u = rand();
    const v = rand();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}

/** `n` log-normal timing samples with median `median` and log-sd `sigma`, plus rare slow outliers. */
export function drawSamples(n: number, median: number, sigma: number, rand: () => number, outlierRate = 0.03): number[] {
  const z = normal(rand);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    let v = median * Math.exp(sigma * z());
    if (rand() < outlierRate) v *= 1.2 + rand();
    out.push(v);
  }
  return out;
}

export const SYNTH_LAYERS: { layer: string; shape: CaseSpec['shape'] }[] = [
  { layer: 'vgg16.conv3_2', shape: { n: 1, c: 32, h: 14, w: 14, k: 32, r: 3, s: 3, stride: 1, pad: 1, groups: 1 } },
  { layer: 'resnet50.res2b.branch2a', shape: { n: 1, c: 32, h: 14, w: 14, k: 8, r: 1, s: 1, stride: 1, pad: 0, groups: 1 } },
  { layer: 'resnet50.res2b.branch2b', shape: { n: 1, c: 16, h: 14, w: 14, k: 16, r: 3, s: 3, stride: 1, pad: 1, groups: 1 } },
  { layer: 'resnet50.conv1', shape: { n: 1, c: 3, h: 56, w: 56, k: 16, r: 7, s: 7, stride: 2, pad: 3, groups: 1 } },
  { layer: 'mobilenet_v1.conv_pw_3', shape: { n: 1, c: 32, h: 14, w: 14, k: 32, r: 1, s: 1, stride: 1, pad: 0, groups: 1 } },
  { layer: 'inception_v3.Mixed_5b.branch5x5_2', shape: { n: 1, c: 12, h: 9, w: 9, k: 16, r: 5, s: 5, stride: 1, pad: 2, groups: 1 } },
  { layer: 'alexnet.conv2', shape: { n: 1, c: 24, h: 7, w: 7, k: 64, r: 5, s: 5, stride: 1, pad: 2, groups: 2 } },
  { layer: 'resnet50.res3a.branch2b', shape: { n: 1, c: 32, h: 14, w: 14, k: 32, r: 3, s: 3, stride: 2, pad: 1, groups: 1 } },
  { layer: 'vgg16.conv5_1', shape: { n: 1, c: 64, h: 7, w: 7, k: 64, r: 3, s: 3, stride: 1, pad: 1, groups: 1 } },
  { layer: 'mobilenet_v1.conv_pw_2', shape: { n: 1, c: 16, h: 28, w: 28, k: 32, r: 1, s: 1, stride: 1, pad: 0, groups: 1 } },
];

/** `efficiency`: the share of the attainable (roofline) throughput the variant reaches, in effective FLOPs. */
export const SYNTH_VARIANTS: { name: string; algorithm: string; efficiency: number; relL2: number; budget: number | null }[] = [
  { name: 'conv-direct-naive-f32', algorithm: 'direct', efficiency: 0.04, relL2: 3e-8, budget: null },
  { name: 'conv-im2col-gemm-f32', algorithm: 'im2col-gemm', efficiency: 0.55, relL2: 5e-8, budget: null },
  { name: 'conv3x3-winograd-f2x2-f32', algorithm: 'winograd', efficiency: 0.8, relL2: 2e-7, budget: 1e-5 },
  { name: 'conv3x3-winograd-f4x4-f32', algorithm: 'winograd', efficiency: 1.1, relL2: 4e-6, budget: 1e-5 },
];

/** The synthetic device's roofline: 6 GFLOP/s peak, 2 GB/s. */
const SYNTH_PEAK_GFLOPS = 6;
const SYNTH_DRAM_GBPS = 2;

export interface SynthStep {
  /** Which series: `<layer> <variant>` substring match (e.g. "conv-im2col-gemm-f32"). */
  match: string;
  /** From this run index on (0-based). */
  atRun: number;
  /** Multiply the median time by this (1.1 = 10% slower). */
  factor: number;
}

export interface SynthOptions {
  device: string;
  runs: number;
  /** Series per run = cases x variants (default 5 x 4 = 20). */
  cases?: number;
  variants?: number;
  seed?: number;
  /** First run's start (default 2025-01-01T02:00:00Z); one run per `intervalHours` (default 24). */
  start?: string;
  intervalHours?: number;
  samples?: number;
  /** Log-sd of the samples within a run (default 0.02) and of the run-to-run level (default 0.005). */
  sigma?: number;
  runSigma?: number;
  steps?: SynthStep[];
  /** From this run index on, the device runs a newer Node (a new device identity). */
  nodeUpgradeAt?: number;
  /** Run indices that fail (runner died early: incomplete, no results). */
  failedRuns?: number[];
  /** From this run index on, this variant's error exceeds its budget (inaccurate). */
  accuracyRegression?: { variant: string; atRun: number };
  quick?: boolean;
  /** Give runs a git commit (harness.gitCommit), a fake 40-hex sha per run. */
  commits?: boolean;
  profile?: string | null;
}

function fakeSha(rand: () => number): string {
  let s = '';
  for (let i = 0; i < 40; i++) s += Math.floor(rand() * 16).toString(16);
  return s;
}

function runIdOf(d: Date): string {
  return d
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/:/g, '-');
}

/** A series of `runs` nightly runs of one device (see SynthOptions). */
export function synthRuns(o: SynthOptions): RunResults[] {
  const rand = rng(o.seed ?? 1);
  const z = normal(rand);
  const nCases = Math.min(o.cases ?? 5, SYNTH_LAYERS.length);
  const nVariants = Math.min(o.variants ?? 4, SYNTH_VARIANTS.length);
  const sigma = o.sigma ?? 0.02;
  const runSigma = o.runSigma ?? 0.005;
  const samples = o.samples ?? 20;
  const start = new Date(o.start ?? '2025-01-01T02:00:00Z').getTime();
  const interval = (o.intervalHours ?? 24) * 3600_000;
  const layers = SYNTH_LAYERS.slice(0, nCases);
  const variants = SYNTH_VARIANTS.slice(0, nVariants);
  const out: RunResults[] = [];
  for (let k = 0; k < o.runs; k++) {
    const t0 = new Date(start + k * interval + Math.floor(rand() * 600_000));
    const failed = o.failedRuns?.includes(k) ?? false;
    const node = o.nodeUpgradeAt !== undefined && k >= o.nodeUpgradeAt ? 'v20.19.0' : 'v20.11.1';
    const cases: CaseSpec[] = layers.map((l, i) =>
      convCase({
        id: `conv/${l.layer}`,
        suite: 'conv',
        layer: l.layer,
        description: `synthetic case ${l.layer}`,
        shape: l.shape,
        seed: 1000 + i,
        distribution: 'uniform(-1,1)',
        tags: ['synthetic'],
      }),
    );
    const runLevel = Math.exp(runSigma * z());
    const results: CaseResult[] = [];
    if (!failed) {
      layers.forEach((l, ci) => {
        const sh = l.shape;
        const ho = Math.floor((sh.h + 2 * sh.pad - sh.r) / sh.stride) + 1;
        const wo = Math.floor((sh.w + 2 * sh.pad - sh.s) / sh.stride) + 1;
        const flops = 2 * sh.n * sh.k * ho * wo * (sh.c / sh.groups) * sh.r * sh.s;
        const bytes = 4 * (sh.n * sh.c * sh.h * sh.w + sh.k * (sh.c / sh.groups) * sh.r * sh.s + sh.n * sh.k * ho * wo);
        for (const v of variants) {
          const caseId = `conv/${l.layer}`;
          const base = { caseId, variant: v.name, algorithm: v.algorithm, dtype: 'f32', cost: { flops, bytes, intensity: flops / bytes } };
          if (v.algorithm === 'winograd' && (sh.r !== 3 || sh.stride !== 1 || sh.groups !== 1)) {
            results.push({ ...base, state: 'skipped', reason: 'Winograd needs a 3x3, stride 1, ungrouped conv' });
            continue;
          }
          let factor = 1;
          for (const s of o.steps ?? []) if (k >= s.atRun && `${caseId} ${v.name}`.includes(s.match)) factor *= s.factor;
          const attainable = Math.min(SYNTH_PEAK_GFLOPS, SYNTH_DRAM_GBPS * (flops / bytes));
          const median = (flops / (attainable * v.efficiency * 1e6)) * factor * runLevel;
          const xs = drawSamples(samples, median, sigma, rand);
          const stats = computeStatistics(xs);
          const limit = v.budget ?? 1e-5;
          const badAccuracy = o.accuracyRegression && k >= o.accuracyRegression.atRun && v.name === o.accuracyRegression.variant;
          const relL2 = badAccuracy ? limit * 30 : v.relL2 * Math.exp(0.1 * z());
          const gflops = flops / (stats.median * 1e6);
          results.push({
            ...base,
            state: relL2 > limit ? 'inaccurate' : 'passed',
            timing: {
              samples: xs,
              repsPerSample: 1,
              sampleDurationMs: stats.median,
              timerResolutionMs: 0.001,
              warmupMs: 100,
              stats,
              noisy: stats.cv > 0.05,
            },
            perf: {
              gflops,
              gbps: bytes / (stats.median * 1e6),
              attainableMeasured: attainable,
              pctMeasured: (100 * gflops) / attainable,
            },
            accuracy: {
              maxAbs: relL2 * 10,
              relL2,
              maxRel: relL2 * 40,
              sqnrDb: -20 * Math.log10(relL2),
              cosine: encodeFloat(1 - relL2 * relL2),
              tolerance: { metric: 'relL2', limit, source: v.budget ? 'declared budget' : 'synthetic exact tolerance' },
              outputChecksum: `${(ci * 16 + variants.indexOf(v)).toString(16).padStart(16, '0')}`,
            },
            prepare: { ms: 0.1, bytes: 0 },
          });
        }
      });
    }
    const temp = 45 + 8 * rand() + (k % 30 === 29 ? 35 : 0);
    const health: Health[] = [
      { at: t0.toISOString(), when: 'before', temperatureC: temp, governor: 'performance', freqMHz: 1200, throttled: '0x0', loadAvg: [0.1, 0.1, 0.1] },
    ];
    const t1 = new Date(t0.getTime() + (failed ? 5_000 : 600_000));
    if (!failed) {
      health.push({
        at: t1.toISOString(),
        when: 'after',
        temperatureC: temp + 10 * rand(),
        governor: 'performance',
        freqMHz: temp > 75 ? 1000 : 1200,
        throttled: temp > 75 ? '0x20002' : '0x0',
        loadAvg: [1, 0.8, 0.5],
      });
    }
    const run: RunResults = {
      schemaVersion: SCHEMA_VERSION,
      runId: runIdOf(t0),
      startedAt: t0.toISOString(),
      finishedAt: t1.toISOString(),
      status: failed ? 'incomplete' : 'complete',
      ...(failed ? { statusDetail: 'ssh: connect ECONNREFUSED (synthetic failure)' } : {}),
      harness: { version: '0.1.0', gitCommit: o.commits === false ? null : fakeSha(rand), gitDirty: false },
      payloadHash: 'sha256:synthetic',
      device: { name: o.device, profile: o.profile === undefined ? 'rpi3' : o.profile, transport: 'ssh', emulated: false },
      options: {
        quick: o.quick ?? false,
        suites: ['conv'],
        filter: null,
        distribution: 'uniform(-1,1)',
        targetMs: 1000,
        minSamples: 7,
        maxSamples: 500,
        minSampleMs: 5,
        cvTarget: 0.05,
        rounds: 5,
      },
      probe: failed
        ? null
        : {
            hostname: `${o.device}-host`,
            cpu: {
              manufacturer: 'ARM',
              brand: 'Cortex-A53',
              arch: 'arm64',
              cores: 4,
              physicalCores: 4,
              speedGHz: 1.2,
              cache: { l1d: 32768, l2: 524288 },
              flags: ['asimd'],
            },
            memory: { totalBytes: 970_000_000 },
            os: { platform: 'linux', distro: 'Debian GNU/Linux 12 (bookworm)', release: '12', kernel: '6.1.0-rpi7-rpi-v8' },
            runtime: { node, v8: node === 'v20.11.1' ? '11.3.244.8-node.17' : '11.3.244.8-node.28', wasmSimd: true },
          },
      health,
      ceilings: {
        measured: failed
          ? null
          : { peakGflops: SYNTH_PEAK_GFLOPS, peakSamples: [SYNTH_PEAK_GFLOPS], peakMethod: 'synthetic', bandwidth: [], dramGbps: SYNTH_DRAM_GBPS },
        theoretical: null,
      },
      cases,
      results,
      stderr: [],
    };
    out.push(RunResults.parse(run));
  }
  return out;
}
