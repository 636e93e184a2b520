/**
 * The models suite's whole networks at N threads (unit tier: in-process, real kernels, real pools of worker
 * threads; suites/models/threaded.ts). The test network every-op (odd planes, a stride-2 stem, depthwise,
 * grouped, a Winograd-able 3x3, unequal pads (run on a padded copy, on thread 0), a 1x1 with 8 output channels: two MR
 * blocks, fewer than 3 threads) compiled over a pool's shared memory with its conv layers through the pool:
 * the output bit-identical to the one-thread network at 2 and 3 threads, under the im2col policy and with
 * Winograd / depthwise kernels; measureModelCase at --threads 1,2 (and 2 alone) gives `@t2` results that
 * pass, the int8 networks skipped at 2 with the reason, ONNX Runtime at 2 on its own pool; the bit-identity
 * guard fails an N-thread network whose output differs by one bit (injected fault).
 */
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { isTimed, type CaseResult, type ConvVariant, type ExtraVariant, type TestFaults } from '../core/contracts.js';
import { loadKernels, type Kernels } from '../kernels/index.js';
import { ThreadPool } from '../harness/runner/threads.js';
import { loadModelCase } from '../suites/models/suite.js';
import { measureModelCase } from '../suites/models/measure.js';
import { pooledNetwork } from '../suites/models/threaded.js';
import { compileGraph, type ConvChooser } from '../suites/models/runtime/runtime.js';
import { makeGraphInputs, makeGraphParams } from '../reference/graph-init.js';
import { convIm2colGemmF32 } from '../suites/conv/variants/im2col-gemm.js';
import { convVariants } from '../suites/conv/variants.js';
import { makeResolver } from '../suites/variants.js';
import { firstBitDifference } from '../suites/conv/threaded.js';
import { SHORT_OPTIONS } from './helpers/measure.js';

const EVERY_OP = new URL('./fixtures/every-op.yaml', import.meta.url).pathname;
const IM2COL = 'model-runtime-im2col-f32';
const BEST = 'model-runtime-best-f32';
const ORT = 'model-onnxruntime-f32';
const INT8 = 'model-runtime-int8-pc-i8';

let single: Kernels;
const pools = new Map<number, ThreadPool>();
beforeAll(async () => {
  single = await loadKernels(inject('kernelsDir'));
  for (const n of [2, 3]) pools.set(n, await ThreadPool.start(await loadKernels(inject('kernelsDir'), { shared: true }), n));
});
afterAll(async () => {
  for (const p of pools.values()) await p.close();
});

const variant = (name: string): ConvVariant => convVariants.find((v) => v.name === name)!;
const im2col: ConvChooser = () => convIm2colGemmF32;
/** Winograd F(4x4) on the 3x3 stride-1 layer, depthwise SIMD on the depthwise one, im2col elsewhere (unequal pads: on its input padded explicitly). */
const mixed: ConvChooser = (_n, s) => {
  if (!s) return null;
  if (s.groups > 1 && s.groups === s.c) return variant('conv-depthwise-simd-f32');
  if (s.r === 3 && s.stride === 1 && s.groups === 1) return variant('conv3x3-winograd-f4x4-f32');
  return convIm2colGemmF32;
};

describe('a network compiled over a pool: conv layers on N threads', () => {
  for (const [label, choose] of [
    ['im2col', im2col],
    ['winograd + depthwise', mixed],
  ] as const) {
    it.each([false, true])(`every-op (${label}, quick %s): every tensor bit-identical to one thread at 2 and 3 threads`, (quick) => {
      const { caseSpec: c } = loadModelCase(EVERY_OP, { quick, seed: 7, distribution: 'uniform(-1,1)' });
      const g = c.graph;
      const params = makeGraphParams(g, c.seed);
      const inputs = makeGraphInputs(g, c.seed, c.distribution);
      const out = g.outputs[0]!;
      const mark = single.mark();
      const one = compileGraph({ kernels: single }, g, params, choose);
      one.setInputs(inputs);
      one.run();
      // Every intermediate too: the last conv's output, not only the softmax that could hide a difference.
      const want = new Map(g.nodes.map((n) => [n.outputs[0], one.tensor(n.outputs[0])]));
      single.release(mark);
      for (const [n, pool] of pools) {
        const m = pool.kernels.mark();
        const net = pooledNetwork(pool);
        try {
          const cg = compileGraph({ kernels: pool.kernels }, g, params, choose, net.options);
          const pooled = cg.layers.filter((l) => l.threads !== undefined);
          // Every conv layer with a kernel and the FC layer run on the pool; the unequal-pad conv (a padded copy of its input) and the cheap ops on thread 0.
          expect(pooled.map((l) => l.node)).toEqual(['stem', 'dw', 'grouped', 'wino', 'mpool_pw', 'fc1']);
          expect(pooled.every((l) => l.threads === n)).toBe(true);
          expect(cg.layers.find((l) => l.node === 'asym')!.threads).toBeUndefined();
          if (label === 'winograd + depthwise') expect(cg.layers.find((l) => l.node === 'wino')!.kernel).toBe('conv3x3-winograd-f4x4-f32');
          // The GEMM layers split output columns where they have at least as many pixels as channels, the others channels (splitWork).
          expect(cg.layers.find((l) => l.node === 'grouped')!.note).toMatch(/output channels split in blocks of/);
          expect(cg.layers.find((l) => l.node === 'stem')!.note).toMatch(/output columns \(pixels\) split in blocks of/);
          // At --quick the 1x1 after the max pool has 4x4 pixels: two NR-column blocks, so at 3 threads one thread has none.
          if (quick && n === 3) expect(cg.layers.find((l) => l.node === 'mpool_pw')!.note).toMatch(/^on 3 threads: 2 of 3 thread\(s\) busy, output columns/);
          // The FC layer's 10 outputs: two NR-column blocks (8 and 2), so at 3 threads one thread has none.
          expect(cg.layers.find((l) => l.node === 'fc1')!.note).toMatch(
            n === 3
              ? /^on 3 threads: 2 of 3 thread\(s\) busy, output columns split in blocks of 8\/2\/0/
              : /^on 2 threads: 2 of 2 thread\(s\) busy, output columns split in blocks of 8\/2;/,
          );
          for (let rep = 0; rep < 2; rep++) {
            cg.setInputs(inputs);
            cg.run();
            for (const node of g.nodes) {
              const t = node.outputs[0];
              const got = cg.tensor(t);
              const ref = want.get(t)!;
              const same = got.length === ref.length && Buffer.compare(Buffer.from(got.buffer), Buffer.from(ref.buffer)) === 0;
              expect(same, `${label}, ${n} threads, run ${rep}: ${node.name} (${t})`).toBe(true);
            }
          }
          expect(firstBitDifference(cg.tensor(out), want.get(out)!, c.shape)).toBeNull();
        } finally {
          net.dispose();
          pool.kernels.release(m);
        }
      }
    });
  }
});

const extras: ExtraVariant[] = [{ suite: 'models', kind: 'scheme', scheme: 'int8:pc', kernel: 'im2col-gemm', network: 'all' }];

async function measure(counts: number[], variants: string[], faults?: TestFaults): Promise<Map<string, CaseResult>> {
  const c = loadModelCase(EVERY_OP, { quick: true, seed: 11, distribution: 'uniform(-1,1)' }).caseSpec;
  const results = await measureModelCase(c, variants, {
    ctx: { kernels: single },
    features: { wasmSimd: true, wasmRelaxedSimd: false },
    options: { ...SHORT_OPTIONS, suites: ['models'], threads: counts },
    ceilings: null,
    resolveVariant: makeResolver(extras),
    threads: { counts, pools, cores: 2 },
    ...(faults ? { faults } : {}),
  });
  return new Map(results.map((r) => [r.variant, r]));
}

const timedOf = (m: Map<string, CaseResult>, v: string) => {
  const r = m.get(v);
  if (!r || !isTimed(r)) throw new Error(`${v}: no timed result: ${JSON.stringify(r)}`);
  return r;
};

describe('measureModelCase at --threads', () => {
  it('1,2: the fp32 networks run at 2 threads (conv layers on the pool), int8 skipped with the reason, ONNX Runtime on its own pool', async () => {
    const m = await measure([1, 2], [IM2COL, BEST, ORT, INT8]);
    expect([...m.keys()]).toEqual([IM2COL, BEST, ORT, INT8, `${IM2COL}@t2`, `${BEST}@t2`, `${ORT}@t2`, `${INT8}@t2`]);
    for (const v of [IM2COL, BEST]) {
      const one = timedOf(m, v);
      const two = timedOf(m, `${v}@t2`);
      expect(one.threads).toBe(1);
      expect(two.threads).toBe(2);
      expect(two.state).toBe('passed');
      expect(two.accuracy.outputChecksum).toBe(one.accuracy.outputChecksum);
      // The same kernel per layer as one thread (best: the one-thread choice), every conv with a kernel and the FC on 2 threads.
      expect(two.model!.layers.map((l) => l.kernel)).toEqual(one.model!.layers.map((l) => l.kernel));
      expect(two.model!.layers.filter((l) => l.threads === 2).map((l) => l.node)).toEqual(['stem', 'dw', 'grouped', 'wino', 'mpool_pw', 'fc1']);
      expect(two.prepare.note).toMatch(/on 2 threads: every conv layer with a kernel and every fully-connected layer through the run's pool/);
    }
    const int8 = m.get(`${INT8}@t2`)!;
    expect(int8.state).toBe('skipped');
    expect(int8.threads).toBe(2);
    if (int8.state === 'skipped')
      expect(int8.reason).toMatch(/^not run on 2 threads: the int8 network's int8 kernels \(quant\.wasm\) are not among the threaded modules/);
    const ort = m.get(`${ORT}@t2`)!;
    expect(ort.threads).toBe(2);
    if (isTimed(ort)) expect(ort.prepare.note).toMatch(/session: CPU EP, 2 intra-op/);
    else expect(ort.state, JSON.stringify(ort)).toBe('skipped');
  });

  it('a device that holds the one-thread networks but not their copies at 2 threads: the @t2 networks skipped with the figures, the rest run', async () => {
    const c = loadModelCase(EVERY_OP, { quick: true, seed: 11, distribution: 'uniform(-1,1)' }).caseSpec;
    const mem = c.model!.memory;
    // Halfway between what one thread needs and what 2 threads add (an arena and two packed weight copies).
    const perCount = mem.arenaBytes + (mem.weightBytes * 2) / 3;
    const m = await measure([1, 2], [IM2COL, ORT], { deviceMemoryBytes: Math.ceil((mem.totalBytes + perCount / 2) / 0.8) });
    expect(timedOf(m, IM2COL).state).toBe('passed');
    const two = m.get(`${IM2COL}@t2`)!;
    expect(two.state === 'skipped' && two.reason).toMatch(
      /^not run on 2 threads: every_op at 2 threads needs about .* at 1 more thread count\(s\) the networks again/,
    );
    // ONNX Runtime's own pool needs no second copy of the network in the runtime's memory.
    expect(m.get(`${ORT}@t2`)!.state).not.toMatch(/errored/);
  });

  it('more threads than cores: marked oversubscribed', async () => {
    const m = await measure([1, 3], [IM2COL]);
    const r = timedOf(m, `${IM2COL}@t3`);
    expect(r).toMatchObject({ threads: 3, oversubscribed: true, state: 'passed' });
  });

  it('the bit-identity guard: one wrong bit in the 2-thread output fails it, with and without one thread in the run', async () => {
    for (const counts of [[1, 2], [2]]) {
      const m = await measure(counts, [IM2COL], { threadedOutputBitFlip: `${IM2COL}@t2` });
      const r = m.get(`${IM2COL}@t2`)!;
      expect(r.state, JSON.stringify(r)).toBe('errored');
      if (r.state === 'errored') {
        expect(r.phase).toBe('check');
        expect(r.error).toMatch(/on 2 threads is not bit-identical to the same variant on one thread \(output hash [0-9a-f]+ vs [0-9a-f]+\)/);
      }
      if (counts.includes(1)) expect(timedOf(m, IM2COL).state).toBe('passed');
    }
    // Without the fault the same run passes (the guard is not what fails).
    expect(timedOf(await measure([2], [IM2COL]), `${IM2COL}@t2`).state).toBe('passed');
  });
});
