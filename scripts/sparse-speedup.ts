/**
 * The issue's speed goals for the sparse kernels (a measurement, not a test):
 * on every MobileNet v1 pointwise layer (from the zoo, suites/models/mobilenet_v1.yaml),
 * the sparse SpMM kernels against the dense im2col GEMM on the same pruned weights,
 * in one run, through the runner's own measureCase (prepare and check against the
 * float64 conv of the pruned weights, calibrated samples, interleaved rounds):
 *
 *   - 90% unstructured: conv-spmm-csr-f32 and conv-spmm-b1x1-f32 (goal >= 2x);
 *   - 80% in 1x4 blocks: conv-spmm-b1x4-f32 (goal >= 1.5x), with the others for comparison.
 *
 *   npx tsx scripts/sparse-speedup.ts [--quick] [--layer conv8_1] [--json out.json]
 *
 * Needs the kernels built (npm run build). Prints per layer the dense and
 * sparse medians, the speedup with its interval (report/speedup.ts) and
 * whether the goal is met, then the load average: the machine may be shared,
 * so quote the figures with it.
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { convCase, isTimed, type CaseSpec, type RunOptions } from '../core/contracts.js';
import { inferShapes, convShapeOfNode } from '../core/graph.js';
import { measureCase } from '../harness/runner/measure.js';
import { speedupOf, speedupText, type Speedup } from '../harness/report/speedup.js';
import { loadKernels, wasmSimdSupported } from '../kernels/index.js';
import { loadZooModel } from '../suites/models/zoo.js';
import { sparseVariants } from '../suites/sparse/variants.js';
import { ROOT } from '../harness/payload.js';

const SETTINGS = [
  { pattern: 'unstructured', fraction: 0.9, goal: 2, variants: ['conv-spmm-csr-f32', 'conv-spmm-b1x1-f32'] },
  { pattern: '1x4', fraction: 0.8, goal: 1.5, variants: ['conv-spmm-b1x4-f32', 'conv-spmm-b1x2-f32', 'conv-spmm-b1x1-f32', 'conv-spmm-csr-f32'] },
] as const;
const DENSE = 'conv-im2col-gemm-f32';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { quick: { type: 'boolean', default: false }, layer: { type: 'string' }, json: { type: 'string' } },
  });
  if (!wasmSimdSupported()) throw new Error('this runtime has no WebAssembly SIMD: the kernels cannot run');
  const kernels = await loadKernels(join(ROOT, 'kernels', 'build'));
  if (kernels.sparse === null) throw new Error('sparse.wasm did not load: run npm run build');

  const model = loadZooModel('mobilenet_v1', { weights: false });
  const shapes = inferShapes(model.graph);
  const layers = model.graph.nodes
    .map((n) => ({ n, s: convShapeOfNode(n, shapes) }))
    .flatMap(({ n, s }) => (s.ok && s.shape.r === 1 && s.shape.s === 1 && s.shape.groups === 1 ? [{ name: n.name, shape: s.shape }] : []))
    .filter((l) => !values.layer || l.name.includes(values.layer));
  if (layers.length === 0) throw new Error(`no MobileNet v1 pointwise layer matches --layer ${values.layer}`);

  const quick = values.quick === true;
  const options: RunOptions = {
    quick,
    suites: ['sparse'],
    filter: null,
    distribution: 'activation',
    targetMs: quick ? 150 : 600,
    minSamples: quick ? 5 : 8,
    maxSamples: 200,
    minSampleMs: quick ? 2 : 5,
    cvTarget: 0.05,
    rounds: quick ? 3 : 4,
  };
  const load0 = loadavg();
  const rows: Record<string, unknown>[] = [];
  for (const setting of SETTINGS) {
    process.stdout.write(
      `\n${setting.pattern} at ${setting.fraction * 100}% (goal: ${setting.variants[0]} >= ${setting.goal}x the dense GEMM on the same weights)\n`,
    );
    process.stdout.write(
      `${'layer'.padEnd(16)} ${'shape'.padEnd(22)} ${'dense ms'.padStart(9)}  ${setting.variants.map((v) => v.replace('conv-spmm-', '').replace('-f32', '').padStart(24)).join('')}\n`,
    );
    const firstSpeedups: number[] = [];
    for (const [i, l] of layers.entries()) {
      const c: CaseSpec = convCase({
        id: `sparse/mobilenet_v1.${l.name}`,
        suite: 'sparse',
        layer: `mobilenet_v1.${l.name}`,
        description: `MobileNet v1 ${l.name}`,
        shape: l.shape,
        seed: 1000 + i,
        distribution: 'activation',
        tags: ['1x1', 'pointwise'],
        sparsity: { pattern: setting.pattern, fraction: setting.fraction },
      });
      const names = [DENSE, ...setting.variants];
      const results = await measureCase(c, names, {
        ctx: { kernels },
        features: { wasmSimd: true },
        options,
        ceilings: null,
        resolveVariant: (_suite, name) => sparseVariants.find((v) => v.name === name),
      });
      kernels.reset();
      const by = new Map(results.map((r) => [r.variant, r]));
      const dense = by.get(DENSE);
      if (!isTimed(dense) || dense.state !== 'passed') throw new Error(`${l.name}: the dense baseline ${dense?.state ?? 'missing'}: ${JSON.stringify(dense)}`);
      const cells: string[] = [];
      const row: Record<string, unknown> = {
        layer: l.name,
        shape: l.shape,
        pattern: setting.pattern,
        fraction: setting.fraction,
        denseMs: dense.timing.stats.median,
        denseCv: dense.timing.stats.cv,
      };
      for (const v of setting.variants) {
        const r = by.get(v);
        if (!isTimed(r) || r.state !== 'passed') {
          cells.push(`${r?.state ?? 'missing'}`.padStart(24));
          row[v] = { state: r?.state, detail: r && 'error' in r ? r.error : r && 'reason' in r ? r.reason : undefined };
          continue;
        }
        const sp = speedupOf(r, dense) as Speedup;
        if (v === setting.variants[0]) firstSpeedups.push(sp.value);
        cells.push(speedupText(sp).padStart(24));
        row[v] = { ms: r.timing.stats.median, cv: r.timing.stats.cv, speedup: sp.value, low: sp.low, high: sp.high, noisy: sp.noisy };
      }
      const s = l.shape;
      process.stdout.write(
        `${l.name.padEnd(16)} ${`${s.c}->${s.k} @${s.h}x${s.w}`.padEnd(22)} ${dense.timing.stats.median.toFixed(3).padStart(9)}  ${cells.join('')}\n`,
      );
      rows.push(row);
    }
    const geo = Math.exp(firstSpeedups.reduce((a, x) => a + Math.log(x), 0) / Math.max(1, firstSpeedups.length));
    const min = Math.min(...firstSpeedups);
    const met = firstSpeedups.filter((x) => x >= setting.goal).length;
    process.stdout.write(
      `${setting.variants[0]}: geometric mean ${geo.toFixed(2)}x, lowest ${min.toFixed(2)}x; goal ${setting.goal}x met on ${met} of ${firstSpeedups.length} layers\n`,
    );
  }
  const load1 = loadavg();
  process.stdout.write(
    `\nload average (1, 5, 15 min): before ${load0.map((x) => x.toFixed(2)).join(' ')}, after ${load1.map((x) => x.toFixed(2)).join(' ')}\n`,
  );
  if (values.json) writeFileSync(values.json, `${JSON.stringify({ options, loadBefore: load0, loadAfter: load1, rows }, null, 2)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`sparse-speedup: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
