/**
 * Whole networks: the light runtime against the peers, from a models run made with --peers (docs/threads.md):
 *
 *   npm run bench -- --suite models --peers --quick --out DIR && npx tsx scripts/models-peers.ts DIR/results.json
 *
 * Per network (one thread): the median end-to-end inference (ms) of the light runtime (im2col and best policies),
 * ONNX Runtime native, onnxruntime-web and XNNPACK via tfjs-backend-wasm, from the same interleaved rounds, and
 * the runtime's best against the faster WebAssembly peer. A variant that did not pass shows its state. Indicative
 * on a shared machine: quote it with the run's load (printed from results.json).
 */
import { readFileSync } from 'node:fs';
import { isTimed, RunResults, type CaseResult } from '../core/contracts.js';
import { MODEL_PEER_NAMES } from '../suites/conv/peers/run.js';

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: npx tsx scripts/models-peers.ts <run-dir>/results.json\n');
  process.exit(2);
}
const run = RunResults.parse(JSON.parse(readFileSync(file, 'utf8')));
const COLUMNS: [string, string][] = [
  ['runtime im2col', 'model-runtime-im2col-f32'],
  ['runtime best', 'model-runtime-best-f32'],
  ['ORT native', 'model-onnxruntime-f32'],
  ['onnxruntime-web', MODEL_PEER_NAMES['onnxruntime-web']],
  ['tfjs XNNPACK', MODEL_PEER_NAMES['tfjs-xnnpack']],
];
const median = (r: CaseResult | undefined) => (r && r.state === 'passed' && isTimed(r) ? r.timing.stats.median : NaN);
const cell = (r: CaseResult | undefined) => (r === undefined ? '-' : Number.isFinite(median(r)) ? median(r).toFixed(2) : r.state);

const lines = [`| network | ${COLUMNS.map(([h]) => `${h} (ms)`).join(' | ')} | best / faster web peer |`, `|---|${COLUMNS.map(() => '---|').join('')}---|`];
for (const caseId of [...new Set(run.results.filter((r) => r.caseId.startsWith('models/')).map((r) => r.caseId))]) {
  const at = (v: string) => run.results.find((r) => r.caseId === caseId && r.variant === v);
  const best = median(at('model-runtime-best-f32'));
  const peer = Math.min(median(at(MODEL_PEER_NAMES['onnxruntime-web'])), median(at(MODEL_PEER_NAMES['tfjs-xnnpack'])));
  const ratio = Number.isFinite(best) && Number.isFinite(peer) ? `${(peer / best).toFixed(2)}x` : '-';
  lines.push(`| ${caseId.replace(/^models\//, '')} | ${COLUMNS.map(([, v]) => cell(at(v))).join(' | ')} | ${ratio} |`);
}
const load = run.contention ? JSON.stringify(run.contention).slice(0, 200) : 'not recorded';
process.stdout.write(`${lines.join('\n')}\n\nrun ${run.runId ?? ''} on ${run.device.name}; contention: ${load}\n`);
