/**
 * The models suite at N threads, from a run's results.json: per network and variant, the median at one
 * thread and at each N (measured side by side in the same interleaved rounds), the speedup, and the share
 * of the layer time spent in the layers that stay on thread 0 (cheap operators, the general conv) at one
 * thread and at N: what bounds the speedup (Amdahl).
 *
 *   npm run bench -- --suite models --threads 1,2 --quick --out DIR
 *   node --import tsx scripts/models-threads.ts DIR/results.json
 *
 * The figures are as good as the run: a contended run (see its contention note) is indicative only.
 */
import { readFileSync } from 'node:fs';
import { baseVariantName, isTimed, resultThreads, RunResults, type LayerRow } from '../core/contracts.js';

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: node --import tsx scripts/models-threads.ts RUN/results.json\n');
  process.exit(2);
}
const run = RunResults.parse(JSON.parse(readFileSync(file, 'utf8')));
const f = (x: number, d = 2) => x.toFixed(d);
/** % of the layer time in the layers not in `pooled` (the ones on thread 0). */
const serialPct = (layers: readonly LayerRow[], pooled: ReadonlySet<string>) => {
  const total = layers.reduce((s, l) => s + l.ms, 0);
  return total > 0 ? (100 * layers.filter((l) => !pooled.has(l.node)).reduce((s, l) => s + l.ms, 0)) / total : NaN;
};
for (const c of run.cases.filter((k) => k.model)) {
  const rs = run.results.filter((r) => r.caseId === c.id);
  for (const r of rs) {
    const n = resultThreads(r);
    if (n === 1) continue;
    const base = baseVariantName(r.variant).base;
    const one = rs.find((x) => x.variant === base);
    if (!isTimed(r) || !isTimed(one)) {
      process.stdout.write(`${c.id} ${r.variant}: ${r.state}${r.state === 'skipped' ? ` (${r.reason})` : ''}\n`);
      continue;
    }
    const m1 = one.timing.stats.median;
    const mn = r.timing.stats.median;
    let line = `${c.id} ${base}: 1 thread ${f(m1, 3)} ms, ${n} threads ${f(mn, 3)} ms: ${f(m1 / mn)}x`;
    const layers = r.model?.layers ?? [];
    if (layers.length > 0) {
      const pooled = new Set(layers.filter((l) => l.threads !== undefined).map((l) => l.node));
      line += `; on thread 0 (${layers.length - pooled.size} of ${layers.length} layers): ${f(serialPct(one.model!.layers, pooled), 1)}% of the layer time at 1 thread, ${f(serialPct(layers, pooled), 1)}% at ${n}`;
    }
    process.stdout.write(`${line}${r.timing.noisy ? ' (noisy)' : ''}\n`);
  }
}
if (run.contention) process.stdout.write(`contention: ${run.contention.reason}\n`);
