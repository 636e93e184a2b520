/**
 * The threads issue's speed goals (a measurement, not a test; docs/threads.md):
 *
 *   1. 2-thread speedup on vgg16.conv3_2 of conv-im2col-gemm-f32 and of the best Winograd (goal >= 1.8x);
 *   2. the threaded measured peak against 2 x the single-thread peak (goal within 10%);
 *   3. roofbench's best f32 WebAssembly variant against the faster WebAssembly peer (onnxruntime-web,
 *      XNNPACK via tfjs-backend-wasm) on every layer of suites/conv/shapes.yaml: >= 3x on the 3x3
 *      stride-1 layers, >= 1.2x on the others, at 1 and 2 threads.
 *
 *   npx tsx scripts/threads-speed.ts [--samples 7] [--layer conv3_2] [--json out.json]
 *
 * onnxruntime-web fixes its thread count at its first session in a process, so the script runs itself
 * twice as a child: `--child 1` (everything at 1 thread, peers at 1 thread) and `--child 2` (the threaded
 * variants at 2 threads beside the same single-thread variants, onnxruntime-web at 2 threads; tfjs-backend-wasm
 * has no threaded build in Node, so it runs 1 thread there too, labelled so). Inside a child, every layer's
 * entries are timed in interleaved rounds (the starting entry rotates each round, so drift hits all alike),
 * after two warm-up runs each; a sample is a batch of back-to-back calls of at least 20 ms (as the runner
 * samples), divided by the batch; every raw sample (ms per call) is kept in the JSON, the summary uses medians.
 * Threaded outputs are checked bit for bit against the single-thread variant before timing.
 * Needs the kernels built (npm run build). Quote the figures with the load average it prints.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { median } from 'simple-statistics';
import type { ConvShape, Prepared } from '../core/contracts.js';
import { buildPeersPayload } from '../harness/peers-payload.js';
import { ROOT } from '../harness/payload.js';
import { sampleCalibrated } from '../harness/runner/ceilings.js';
import { ThreadPool } from '../harness/runner/threads.js';
import { loadKernels } from '../kernels/index.js';
import { convFlops } from '../reference/cost.js';
import { makeConvInputs } from '../reference/random.js';
import { readShapes } from '../suites/conv/cases.js';
import { makeOnnxruntimeWebConv } from '../suites/conv/peers/onnxruntime-web.js';
import { makeTfjsWasmConv } from '../suites/conv/peers/tfjs-wasm.js';
import { firstBitDifference, prepareThreaded, threadable } from '../suites/conv/threaded.js';
import { convVariants } from '../suites/conv/variants.js';

interface Entry {
  label: string;
  kind: 'roofbench' | 'peer';
  threads: number;
  samples: number[];
  medianMs: number;
  gflops: number;
}
interface LayerResult {
  layer: string;
  shape: ConvShape;
  tags: string[];
  entries: Entry[];
  skipped: string[];
}
interface ChildResult {
  threads: number;
  loadBefore: number[];
  loadAfter: number[];
  peak?: { singleSamples: number[]; threadedSamples: number[]; singleGflops: number; threadedGflops: number };
  layers: LayerResult[];
}

const WASM_DIR = join(ROOT, 'kernels', 'build');
/** The f32 WebAssembly variants that compete for "roofbench's best" (the naive direct conv is the correctness baseline; low precision is another trade). */
const CANDIDATES = convVariants.filter((v) => v.dtype === 'f32' && !v.nativeCode && v.algorithm !== 'direct');

type Timed = { label: string; kind: Entry['kind']; threads: number; run: () => void | Promise<void>; dispose: () => void };

/**
 * A sample is a batch of back-to-back calls (at least MIN_SAMPLE_MS, as the runner samples: harness/runner/sampling.ts),
 * its time divided by the batch: one call of a small layer is shorter than the pool's wake-up after another entry ran.
 */
const MIN_SAMPLE_MS = 20;

async function batchOf(e: Timed): Promise<number> {
  let n = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await e.run();
    const dt = performance.now() - t0;
    if (dt >= MIN_SAMPLE_MS) return n;
    n = Math.max(n + 1, Math.ceil(n * Math.min(64, (1.2 * MIN_SAMPLE_MS) / Math.max(dt, 0.01))));
  }
}

async function timeRounds(entries: Timed[], rounds: number): Promise<number[][]> {
  for (const e of entries) for (let i = 0; i < 2; i++) await e.run();
  const batches: number[] = [];
  for (const e of entries) batches.push(await batchOf(e));
  const samples = entries.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    for (let j = 0; j < entries.length; j++) {
      const i = (j + r) % entries.length;
      const e = entries[i]!;
      const n = batches[i]!;
      const t0 = performance.now();
      for (let k = 0; k < n; k++) await e.run();
      samples[i]!.push((performance.now() - t0) / n);
    }
  }
  return samples;
}

function prepared(p: Prepared): () => void | Promise<void> {
  return p.runAsync ? () => p.runAsync!() : () => p.run();
}

async function child(threads: number, rounds: number, layerFilter: string | undefined): Promise<ChildResult> {
  const loadBefore = loadavg();
  const single = await loadKernels(WASM_DIR);
  const shared = await loadKernels(WASM_DIR, { shared: true });
  const pool = threads > 1 ? await ThreadPool.start(shared, threads) : null;
  const peers = await buildPeersPayload();
  const ort = makeOnnxruntimeWebConv(peers, threads);
  const tfjs = makeTfjsWasmConv(peers, 1);
  const out: ChildResult = { threads, loadBefore, loadAfter: [], layers: [] };
  for (const p of [ort, tfjs]) {
    const ok = await p.ready();
    if (ok !== true) throw new Error(`${p.variant.name}: ${ok}`);
  }

  if (pool) {
    // Peak: the single-thread f32x4 loop against the same loop on every thread, interleaved, same iteration count.
    const simd = single.requireSimd('peak');
    const M = 0.999999;
    const C = 1e-6;
    const cal = sampleCalibrated((n) => void simd.peak_f32x4(n, M, C), 1000, 50, 1);
    const h = pool.register(Array.from({ length: threads }, () => [{ module: 'simd', fn: 'peak_f32x4', args: [cal.count, M, C] }]));
    const fpi = simd.peak_f32x4_flops_per_iter();
    const [s1, sN] = await timeRounds(
      [
        { label: 'peak 1', kind: 'roofbench', threads: 1, run: () => void simd.peak_f32x4(cal.count, M, C), dispose: () => {} },
        { label: `peak ${threads}`, kind: 'roofbench', threads, run: () => pool.run(h), dispose: () => {} },
      ],
      Math.max(10, rounds),
    );
    const g1 = s1!.map((ms) => (fpi * cal.count) / (ms * 1e6));
    const gN = sN!.map((ms) => (threads * fpi * cal.count) / (ms * 1e6));
    out.peak = { singleSamples: s1!, threadedSamples: sN!, singleGflops: Math.max(...g1), threadedGflops: Math.max(...gN) };
    pool.release(h);
  }

  for (const entry of readShapes().filter((e) => !e.only && (!layerFilter || e.layer.includes(layerFilter)))) {
    const shape = entry.shape;
    const { x, w } = makeConvInputs(shape, 1, 'activation');
    const timed: Timed[] = [];
    const skipped: string[] = [];
    const add = async (label: string, kind: Entry['kind'], t: number, make: () => Promise<Prepared> | Prepared): Promise<void> => {
      const p = await make();
      timed.push({ label, kind, threads: t, run: prepared(p), dispose: () => p.dispose?.() });
    };
    for (const v of CANDIDATES) {
      if (v.applies(shape) !== true) continue;
      const mark = single.mark();
      const p = v.prepare({ kernels: single }, shape, x, w);
      timed.push({ label: v.name, kind: 'roofbench', threads: 1, run: () => p.run(), dispose: () => (p.dispose?.(), single.release(mark)) });
      if (!pool) continue;
      const why = threadable(v);
      if (why !== true) {
        skipped.push(`${v.name} at ${threads} threads: ${why}`);
        continue;
      }
      const tc = prepareThreaded(pool, v, shape, x, w);
      p.run();
      tc.run();
      const diff = firstBitDifference(tc.output(), p.output(), shape);
      if (diff) throw new Error(`${v.name} on ${entry.layer}: ${threads} threads differ from 1 at ${diff.index} (${diff.differing} elements)`);
      timed.push({ label: `${v.name} x${threads}`, kind: 'roofbench', threads, run: () => tc.run(), dispose: () => tc.dispose() });
    }
    for (const pv of [ort, tfjs]) {
      const ok = pv.variant.applies(shape);
      if (ok !== true) {
        skipped.push(`${pv.variant.name}: ${ok}`);
        continue;
      }
      const t = pv === ort ? threads : 1;
      await add(pv.variant.name, 'peer', t, () => pv.variant.prepareAsync!({ kernels: single }, shape, x, w));
    }
    const samples = await timeRounds(timed, rounds);
    const flops = convFlops(shape);
    out.layers.push({
      layer: entry.layer,
      shape,
      tags: entry.tags ?? [],
      skipped,
      entries: timed.map((e, i) => {
        const s = samples[i]!;
        const m = median(s);
        return { label: e.label, kind: e.kind, threads: e.threads, samples: s, medianMs: m, gflops: flops / (m * 1e6) };
      }),
    });
    // Dispose in reverse order (the kernels' arena is LIFO).
    for (const e of [...timed].reverse()) e.dispose();
    process.stderr.write(`  ${threads}T ${entry.layer} done\n`);
  }
  await pool?.close();
  out.loadAfter = loadavg();
  return out;
}

function runChild(threads: number, args: string[]): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', String(threads), ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let text = '';
    p.stdout.on('data', (d: Buffer) => (text += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0) return reject(new Error(`the ${threads}-thread child exited with ${code}`));
      try {
        resolve(JSON.parse(text) as ChildResult);
      } catch (e) {
        reject(new Error(`the ${threads}-thread child printed no JSON`, { cause: e }));
      }
    });
  });
}

const fmt = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '-');
const is3x3s1 = (s: ConvShape) => s.r === 3 && s.s === 3 && s.stride === 1 && s.groups === 1;

function summary(one: ChildResult, two: ChildResult): string {
  const lines: string[] = [];
  const conv32 = two.layers.find((l) => l.layer === 'vgg16.conv3_2');
  lines.push('## 2-thread speedup on vgg16.conv3_2 (goal >= 1.8x), medians of interleaved samples in one run');
  if (conv32) {
    const med = (label: string) => conv32.entries.find((e) => e.label === label)?.medianMs ?? NaN;
    const wino = conv32.entries.filter((e) => e.threads === 1 && e.label.includes('winograd')).sort((a, b) => a.medianMs - b.medianMs)[0];
    for (const name of ['conv-im2col-gemm-f32', ...(wino ? [wino.label] : [])]) {
      const s = med(name) / med(`${name} x2`);
      lines.push(`- ${name}: 1T ${fmt(med(name))} ms, 2T ${fmt(med(`${name} x2`))} ms: ${fmt(s)}x ${s >= 1.8 ? 'meets' : 'MISSES'} the goal`);
    }
  }
  if (two.peak) {
    const r = two.peak.threadedGflops / (2 * two.peak.singleGflops);
    lines.push('', '## Threaded peak (goal within 10% of 2 x single)');
    lines.push(
      `- single ${fmt(two.peak.singleGflops, 1)} GFLOP/s, 2 threads ${fmt(two.peak.threadedGflops, 1)} GFLOP/s = ${fmt(100 * r, 1)}% of 2 x single: ` +
        `${Math.abs(1 - r) <= 0.1 ? 'meets' : 'MISSES'} the goal (best samples)`,
    );
  }
  lines.push('', '## roofbench best f32 variant vs the faster WebAssembly peer (goal >= 3x on 3x3 stride 1, >= 1.2x elsewhere)');
  lines.push('| layer | threads | roofbench best | GFLOP/s | faster peer | GFLOP/s | ratio | goal |', '|---|---|---|---|---|---|---|---|');
  for (const [res, t] of [
    [one, 1],
    [two, 2],
  ] as const) {
    for (const l of res.layers) {
      const ours = l.entries.filter((e) => e.kind === 'roofbench' && e.threads === t).sort((a, b) => a.medianMs - b.medianMs)[0];
      const peer = l.entries.filter((e) => e.kind === 'peer').sort((a, b) => a.medianMs - b.medianMs)[0];
      if (!ours || !peer) continue;
      const ratio = peer.medianMs / ours.medianMs;
      const goal = is3x3s1(l.shape) ? 3 : 1.2;
      lines.push(
        `| ${l.layer} | ${t} | ${ours.label} | ${fmt(ours.gflops, 1)} | ${peer.label} | ${fmt(peer.gflops, 1)} | ${fmt(ratio)}x | ${goal}x ${ratio >= goal ? 'met' : 'MISSED'} |`,
      );
    }
  }
  lines.push(
    '',
    `Load average (1, 5, 15 min): 1-thread child ${one.loadBefore.map((x) => fmt(x)).join(' ')} -> ${one.loadAfter.map((x) => fmt(x)).join(' ')}; ` +
      `2-thread child ${two.loadBefore.map((x) => fmt(x)).join(' ')} -> ${two.loadAfter.map((x) => fmt(x)).join(' ')}. ` +
      'A shared machine: these figures are indicative, not definitive.',
  );
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { samples: { type: 'string', default: '7' }, layer: { type: 'string' }, json: { type: 'string' }, child: { type: 'string' } },
  });
  const rounds = Number(values.samples);
  if (!Number.isInteger(rounds) || rounds < 3) throw new Error(`--samples must be an integer >= 3, got ${values.samples}`);
  if (values.child) {
    process.stdout.write(JSON.stringify(await child(Number(values.child), rounds, values.layer)));
    return;
  }
  const args = ['--samples', String(rounds), ...(values.layer ? ['--layer', values.layer] : [])];
  const one = await runChild(1, args);
  const two = await runChild(2, args);
  const json = values.json ?? join(ROOT, 'reports', 'threads-speed.json');
  writeFileSync(json, `${JSON.stringify({ one, two }, null, 1)}\n`);
  process.stdout.write(`${summary(one, two)}\n\nraw samples: ${json}\n`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`threads-speed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
