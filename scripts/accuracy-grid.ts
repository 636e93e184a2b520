/**
 * The accuracy checks over a grid (a measurement, not a test): every variant of
 * the conv suite (its data's extra Winograd tiles and ONNX Runtime included) on
 * every case, for 3 input distributions x 3 seeds, through the runner's own
 * checks (harness/runner/measure.ts accuracyChecks, on the same inputs and
 * float64 reference as the runner). Counts:
 *   - false `inaccurate` without faults (goal: 0);
 *   - with each test-only fault of harness/runner/faults.ts, the results where
 *     the faulty code ran and how many of them came out `inaccurate` (goal: all),
 *     with the smallest margin (how far over its limit the least-caught one was).
 * Timing plays no part (the kernels are deterministic), so this runs each
 * variant once per case instead of sampling it.
 *
 *   npx tsx scripts/accuracy-grid.ts [--size full|quick|both] [--seeds 1,2,3] [--no-faults] [--out FILE]
 *
 * Prints a summary to quote and writes the details as JSON (--out, default
 * accuracy-grid.json in a new temp directory).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { ConvShape, ConvVariant, Distribution, TestFaults } from '../core/contracts.js';
import { accuracyChecks } from '../harness/runner/measure.js';
import { faultyWeights, faultyWinogradGenerator } from '../harness/runner/faults.js';
import { ROOT } from '../harness/payload.js';
import { loadKernels, wasmSimdSupported } from '../kernels/index.js';
import { conv2dRef } from '../reference/conv.js';
import { errorMetrics } from '../reference/metrics.js';
import { makeConvInputs } from '../reference/random.js';
import { extraVariantsFor } from '../harness/plan.js';
import { suites } from '../suites/index.js';
import { asConvVariant, buildExtraVariant, makeResolver } from '../suites/variants.js';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: 'both' },
    seeds: { type: 'string', default: '1,2,3' },
    'no-faults': { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
if (!['full', 'quick', 'both'].includes(values.size)) throw new Error(`--size must be full, quick or both, got "${values.size}"`);
const seeds = values.seeds.split(',').map(Number);
if (seeds.some((s) => !Number.isInteger(s) || s < 1)) throw new Error(`--seeds expects positive integers, e.g. 1,2,3; got "${values.seeds}"`);
const sizes = values.size === 'both' ? [false, true] : [values.size === 'quick'];
const DISTS: Distribution[] = ['uniform(-1,1)', 'uniform(0,1)', 'activation'];
const FAULTS: { name: string; faults: TestFaults; runsIn: (v: ConvVariant) => boolean }[] = [
  { name: 'gemmRelError 1e-4', faults: { gemmRelError: 1e-4 }, runsIn: (v) => v.algorithm === 'im2col-gemm' },
  { name: 'gemmBf16Weights', faults: { gemmBf16Weights: true }, runsIn: (v) => v.algorithm === 'im2col-gemm' },
  { name: 'cookToomSignFlip', faults: { cookToomSignFlip: true }, runsIn: (v) => v.algorithm === 'winograd' },
  { name: 'winogradKernelError 1.2e-4', faults: { winogradKernelError: 1.2e-4 }, runsIn: (v) => v.algorithm === 'winograd' },
];
const conv = suites.find((s) => s.name === 'conv')!;
const extra = extraVariantsFor([conv]);
const kernels = await loadKernels(join(ROOT, 'kernels', 'build'));
const plain = makeResolver(extra);
const variantNames = [...conv.variants.map((v) => v.name), ...extra.map((e) => buildExtraVariant(e).name)];
const log = (m: string) => process.stdout.write(`${m}\n`);

interface Tally {
  results: number;
  inaccurate: number;
  /** The smallest value / limit among the failing checks of caught results (1 = just caught). */
  weakestCatch: number;
  missed: string[];
  falseInaccurate: string[];
}
const tally = (): Tally => ({ results: 0, inaccurate: 0, weakestCatch: Infinity, missed: [], falseInaccurate: [] });
const clean = tally();
const byFault = new Map(FAULTS.map((f) => [f.name, tally()]));
const worstOk = new Map<string, number>();

async function outputOf(v: ConvVariant, shape: ConvShape, x: Float32Array, w: Float32Array): Promise<Float32Array> {
  const mark = kernels.mark();
  const p = v.prepareAsync ? await v.prepareAsync({ kernels }, shape, x, w) : v.prepare({ kernels }, shape, x, w);
  try {
    if (p.runAsync) await p.runAsync();
    else p.run();
    return p.output().slice();
  } finally {
    p.dispose();
    kernels.release(mark);
  }
}

const t0 = Date.now();
const load0 = loadavg();
for (const quick of sizes) {
  for (const dist of DISTS) {
    for (const seed of seeds) {
      const cases = conv.cases({ quick, seed, distribution: dist });
      for (const c of cases) {
        const { x, w } = makeConvInputs(c.shape, c.seed, c.distribution);
        const ref = conv2dRef(c.shape, x, w);
        const n = (c.shape.c / c.shape.groups) * c.shape.r * c.shape.s;
        for (const name of variantNames) {
          const v = asConvVariant(plain('conv', name))!;
          if ((v.needs.wasmSimd && !wasmSimdSupported()) || v.applies(c.shape) !== true) continue;
          const where = `${quick ? 'quick' : 'full'} ${c.layer} ${dist} seed ${seed} ${v.name}`;
          const y = await outputOf(v, c.shape, x, w);
          const checked = accuracyChecks(v, y, ref, errorMetrics(y, ref.y), n);
          clean.results++;
          if (!checked.ok) {
            clean.inaccurate++;
            clean.falseInaccurate.push(`${where}: ${checked.detail}`);
          }
          for (const ch of checked.checks) {
            const ratio = Number(ch.value) / ch.limit;
            const key = `${v.name} ${ch.name}`;
            if (ch.name !== 'transforms' && Number.isFinite(ratio)) worstOk.set(key, Math.max(worstOk.get(key) ?? 0, ratio));
          }
          if (values['no-faults']) continue;
          for (const f of FAULTS) {
            if (!f.runsIn(v)) continue;
            const generator = faultyWinogradGenerator(f.faults);
            const fv = generator ? asConvVariant(makeResolver(extra, { winogradGenerator: generator })('conv', name))! : v;
            const fy = await outputOf(fv, c.shape, x, faultyWeights(fv, w, f.faults));
            const fc = accuracyChecks(fv, fy, ref, errorMetrics(fy, ref.y), n);
            const t = byFault.get(f.name)!;
            t.results++;
            if (fc.ok) t.missed.push(where);
            else {
              t.inaccurate++;
              const margin = Math.max(...fc.checks.filter((x) => !x.ok).map((x) => (x.name === 'transforms' ? Infinity : Number(x.value) / x.limit)));
              t.weakestCatch = Math.min(t.weakestCatch, margin);
            }
          }
        }
        kernels.reset();
      }
      log(
        `${quick ? 'quick' : 'full '} ${dist} seed ${seed}: ${clean.results} results so far, ${clean.inaccurate} false inaccurate (${((Date.now() - t0) / 1000).toFixed(0)} s)`,
      );
    }
  }
}

const out = values.out ?? join(mkdtempSync(join(tmpdir(), 'roofbench-accuracy-grid-')), 'accuracy-grid.json');
const summary = [
  `no faults: ${clean.inaccurate} false inaccurate among ${clean.results} results (${sizes.map((q) => (q ? 'quick' : 'full')).join(' and ')} suite x ${DISTS.length} distributions x seeds ${seeds.join(',')}) (goal 0)`,
  ...FAULTS.map((f) => {
    const t = byFault.get(f.name)!;
    return values['no-faults']
      ? `${f.name}: not run`
      : `${f.name}: inaccurate on ${t.inaccurate} of ${t.results} results where the faulty code ran (goal all)${t.inaccurate ? `, the least caught ${Number.isFinite(t.weakestCatch) ? `${t.weakestCatch.toFixed(2)}x its limit` : 'by a failed transform verification'}` : ''}`;
  }),
];
const tightest = [...worstOk]
  .sort((a, b) => b[1] - a[1])
  .slice(0, 5)
  .map(([k, r]) => `${k} at ${r.toFixed(2)}x its limit`);
writeFileSync(
  out,
  `${JSON.stringify({ sizes: sizes.map((q) => (q ? 'quick' : 'full')), seeds, distributions: DISTS, clean, faults: Object.fromEntries(byFault), worstRatioPerCheck: Object.fromEntries(worstOk) }, null, 1)}\n`,
);
log('');
log(
  `== roofbench accuracy grid, ${new Date().toISOString()}, ${((Date.now() - t0) / 1000).toFixed(0)} s; load average at start ${load0.map((x) => x.toFixed(2)).join(' / ')} ==`,
);
for (const l of summary) log(`- ${l}`);
log(`- closest to a limit without faults: ${tightest.join('; ')}`);
log(`details: ${out}`);
process.exitCode = clean.inaccurate > 0 || [...byFault.values()].some((t) => t.missed.length > 0) ? 1 : 0;
