/**
 * Peers against roofbench's best, from a run made with --peers (docs/threads.md):
 *
 *   npm run bench -- --peers --quick --out DIR && npx tsx scripts/peers-vs-best.ts DIR/results.json
 *
 * Per conv case and thread count: roofbench's fastest f32 WebAssembly variant that passed (no native code,
 * no peer), each WebAssembly peer, and best / faster peer as a ratio of medians from the same interleaved
 * rounds. Indicative on a shared machine: quote it with the run's load (printed from results.json).
 */
import { readFileSync } from 'node:fs';
import { baseVariantName, isTimed, RunResults, type CaseResult } from '../core/contracts.js';
import { PEER_VARIANT_NAMES } from '../suites/conv/peers/run.js';

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: npx tsx scripts/peers-vs-best.ts <run-dir>/results.json\n');
  process.exit(2);
}
const run = RunResults.parse(JSON.parse(readFileSync(file, 'utf8')));
const peers = new Set<string>(Object.values(PEER_VARIANT_NAMES));
const isPeer = (r: CaseResult) => peers.has(baseVariantName(r.variant).base);
const timed = run.results.filter((r) => r.caseId.startsWith('conv/') && r.state === 'passed' && isTimed(r));
const median = (r: CaseResult) => (isTimed(r) ? r.timing.stats.median : NaN);
const gflops = (r: CaseResult) => r.cost.flops / (median(r) * 1e6);
const fmt = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');

const lines = [
  '| case | threads | roofbench best (f32) | GFLOP/s | onnxruntime-web GFLOP/s | tfjs XNNPACK GFLOP/s | best / faster peer |',
  '|---|---|---|---|---|---|---|',
];
const keys = [...new Set(timed.map((r) => `${r.caseId}\0${r.threads ?? 1}`))];
for (const key of keys) {
  const [caseId, t] = key.split('\0') as [string, string];
  const here = timed.filter((r) => r.caseId === caseId && String(r.threads ?? 1) === t);
  const ours = here
    .filter((r) => !isPeer(r) && r.dtype === 'f32' && r.info?.code !== 'native' && r.external === undefined)
    .sort((a, b) => median(a) - median(b))[0];
  const byPeer = (name: string) => here.find((r) => baseVariantName(r.variant).base === name);
  const ort = byPeer(PEER_VARIANT_NAMES['onnxruntime-web']);
  const tfjs = byPeer(PEER_VARIANT_NAMES['tfjs-xnnpack']);
  const faster = [ort, tfjs].filter((r): r is CaseResult => r !== undefined).sort((a, b) => median(a) - median(b))[0];
  if (!ours || !faster) continue;
  lines.push(
    `| ${caseId} | ${t} | ${ours.variant} | ${fmt(gflops(ours))} | ${ort ? fmt(gflops(ort)) : '-'} | ${tfjs ? fmt(gflops(tfjs)) : '-'} | ${fmt(median(faster) / median(ours), 2)}x |`,
  );
}
const load = run.contention ? JSON.stringify(run.contention).slice(0, 200) : 'not recorded';
process.stdout.write(`${lines.join('\n')}\n\nrun ${run.runId ?? ''} on ${run.device.name}; contention: ${load}\n`);
