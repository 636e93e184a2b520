/**
 * The issue-12 goals of a models run, from its results.json:
 *   runtime overhead (end-to-end mean minus the sum of the layers' means) as a share of end-to-end, goal <= 3% on MobileNet v1;
 *   end-to-end median over the sum of the layers' best kernel times measured in the same run (best policy), goal <= 1.1x;
 *   roofbench's end-to-end median over ONNX Runtime's (single thread), per network.
 *
 *   npm run bench -- --model mobilenet_v1,resnet50_v1.5 --policy best --out DIR
 *   node --import tsx scripts/models-goals.ts DIR/results.json
 *
 * The figures are as good as the run: a contended run (see its contention note) is indicative only.
 */
import { readFileSync } from 'node:fs';
import { isTimed, RunResults } from '../core/contracts.js';

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: node --import tsx scripts/models-goals.ts RUN/results.json\n');
  process.exit(2);
}
const run = RunResults.parse(JSON.parse(readFileSync(file, 'utf8')));
const f = (x: number, d = 2) => x.toFixed(d);
for (const c of run.cases.filter((k) => k.model)) {
  const rs = run.results.filter((r) => r.caseId === c.id);
  const ort = rs.find((r) => r.variant === 'model-onnxruntime-f32');
  for (const r of rs) {
    if (!isTimed(r) || !r.model || r.model.engine !== 'runtime') continue;
    const m = r.model;
    const lines = [`${c.id} ${r.variant}: p50 ${f(m.p50)} ms (p90 ${f(m.p90)}, p99 ${f(m.p99)}, cv ${f(r.timing.stats.cv, 3)}, n ${r.timing.samples.length})`];
    if (m.overheadPct !== null) lines.push(`  overhead ${f(m.overheadMs ?? 0, 3)} ms = ${f(m.overheadPct)}% of end-to-end (goal <= 3%)`);
    if (m.bestLayerSumMs)
      lines.push(`  end-to-end median / sum of best kernel times ${f(m.p50)} / ${f(m.bestLayerSumMs)} = ${f(m.p50 / m.bestLayerSumMs, 3)}x (goal <= 1.1x)`);
    if (ort && isTimed(ort))
      lines.push(`  vs ONNX Runtime 1 thread: ${f(m.p50)} / ${f(ort.timing.stats.median)} ms = ${f(m.p50 / ort.timing.stats.median)}x slower`);
    else if (ort) lines.push(`  ONNX Runtime: ${ort.state}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }
}
if (run.contention) process.stdout.write(`contention: ${run.contention.reason}\n`);
