/**
 * The issue's break-even goal (a measurement, not a test): from a sparse-suite run, the
 * break-even sparsity of every layer and pattern with its 95% bootstrap interval, and whether
 * the interval is found and no wider than 10 points. Reads the run's results.json; the report's
 * own analysis (harness/report/sparse.ts) computes the figures.
 *
 *   npm run bench -- --suite sparse --pattern unstructured,1x4 --case <layers> --sparsity 0,0.1,0.3,0.5,0.7,0.8,0.9,0.95
 *   npx tsx scripts/sparse-breakeven.ts reports/local/<run-id>/results.json
 *
 * Quote the figures with the load average the run had (the bench prints a contention note).
 */
import { readFileSync } from 'node:fs';
import { RunResults } from '../core/contracts.js';
import { buildSparseView, crossingText } from '../harness/report/sparse.js';

const GOAL_POINTS = 10;

function main(): void {
  const file = process.argv[2];
  if (!file) throw new Error('usage: npx tsx scripts/sparse-breakeven.ts <run-dir>/results.json');
  const run = RunResults.parse(JSON.parse(readFileSync(file, 'utf8')));
  const view = buildSparseView(run);
  if (!view) throw new Error(`${file}: the run has no sparse case (run it with --suite sparse)`);
  let found = 0;
  let total = 0;
  process.stdout.write(`${'layer'.padEnd(30)} ${'pattern'.padEnd(13)} ${'kernel'.padEnd(20)} ${'break-even'.padStart(10)}  ${'95% interval'.padEnd(18)} goal\n`);
  for (const l of view.layers) {
    for (const line of l.lines) {
      total++;
      const be = line.breakEven;
      const ok = be.widthPoints !== null && be.estimate.censored === null && be.widthPoints <= GOAL_POINTS;
      if (ok) found++;
      const width = be.widthPoints === null ? 'open' : `${be.widthPoints.toFixed(1)} pts`;
      process.stdout.write(
        `${l.layer.padEnd(30)} ${line.pattern.padEnd(13)} ${line.variant.replace(/^conv-spmm-/, '').padEnd(20)} ${crossingText(be.estimate).padStart(10)}  ${`${crossingText(be.low)}–${crossingText(be.high)}`.padEnd(18)} ${width}${ok ? ' met' : ''}${line.noisy ? ' (noisy)' : ''}\n`,
      );
    }
    for (const n of l.notes) process.stdout.write(`  note: ${n}\n`);
  }
  process.stdout.write(`\nbreak-even found with a 95% interval of at most ${GOAL_POINTS} points: ${found} of ${total} layer x pattern lines\n`);
  if (run.contention) process.stdout.write(`run contention: ${JSON.stringify(run.contention).slice(0, 300)}\n`);
}

try {
  main();
} catch (e) {
  process.stderr.write(`sparse-breakeven: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
