/**
 * The WebAssembly peers as variants of a run (unit tier: suites/conv/peers/run.ts through the runner's
 * measureCase, no library loaded): names at each thread count (`<name>@t<N>`), onnxruntime-web at the run's
 * highest count only, tfjs at one thread, and a missing peers part giving `skipped` with the reason once
 * `ready()` has run, never `errored`. Without `ready()` (the guard the runner adds, harness/runner/main.ts
 * readyPeers) the same peer ends errored in prepare: shown here, so the guard is not one that cannot fail.
 */
import { describe, expect, inject, it } from 'vitest';
import { type ConvVariant } from '../core/contracts.js';
import { loadKernels } from '../kernels/index.js';
import { measureCase, type MeasureEnv } from '../harness/runner/measure.js';
import { atThreads } from '../harness/runner/threaded-variants.js';
import { peerOf, PEER_VARIANT_NAMES } from '../suites/conv/peers/run.js';
import { buildExtraVariant } from '../suites/variants.js';
import { convCase, SHORT_OPTIONS } from './helpers/measure.js';

const ORT = PEER_VARIANT_NAMES['onnxruntime-web'];
const TFJS = PEER_VARIANT_NAMES['tfjs-xnnpack'];
const CASE = convCase('test.peers', { n: 1, c: 4, h: 6, w: 6, k: 5, r: 3, s: 3, stride: 1, pad: 1, groups: 1 }, 3);

const build = () => {
  const ort = buildExtraVariant({ suite: 'conv', kind: 'peer', peer: 'onnxruntime-web' }, { peers: null }) as ConvVariant;
  const tfjs = buildExtraVariant({ suite: 'conv', kind: 'peer', peer: 'tfjs-xnnpack' }, { peers: null }) as ConvVariant;
  return { ort, tfjs };
};

async function measure(variants: ConvVariant[], counts: number[]) {
  const env: MeasureEnv = {
    ctx: { kernels: await loadKernels(inject('kernelsDir')) },
    features: { wasmSimd: true, wasmRelaxedSimd: false },
    options: { ...SHORT_OPTIONS, threads: counts },
    ceilings: null,
    resolveVariant: (_s, name) => variants.find((v) => v.name === name),
    threads: { counts, pools: new Map(), cores: 2 },
  };
  return new Map((await measureCase(CASE, [ORT, TFJS], env)).map((r) => [r.variant, r]));
}

describe('the peers as run variants', () => {
  it('are named like every threaded variant; ORT-web runs at the run’s highest count only, tfjs at one thread', async () => {
    const { ort, tfjs } = build();
    expect([ort.name, tfjs.name]).toEqual(['conv-onnxruntime-web-f32', 'conv-tfjs-xnnpack-f32']);
    await peerOf(ort)!.ready([1, 2]);
    await peerOf(tfjs)!.ready([1, 2]);
    const ort2 = atThreads(ort, 2, undefined);
    expect('skip' in ort2 ? ort2 : ort2.name).toBe('conv-onnxruntime-web-f32@t2');
    expect(ort.applies(CASE.shape, CASE)).toMatch(/fixes its thread count once per process, and this run runs it at 2 thread\(s\).*--threads 1/);
    const ort3 = atThreads(ort, 3, undefined);
    expect('skip' in ort3 && ort3).toEqual({
      name: 'conv-onnxruntime-web-f32@t3',
      skip: expect.stringMatching(/^not run on 3 threads: .* at 2 thread\(s\).*not 3$/),
    });
    const tfjs2 = atThreads(tfjs, 2, undefined);
    expect('skip' in tfjs2 && tfjs2).toEqual({
      name: 'conv-tfjs-xnnpack-f32@t2',
      skip: expect.stringMatching(/needs browser Web Workers; in Node it runs one thread only/),
    });
    // One count only: ORT-web at 1 is itself.
    const one = build();
    await peerOf(one.ort)!.ready([1]);
    expect(one.ort.applies(CASE.shape, CASE)).toMatch(/not in this payload \(an optional part: run with --peers\)/);
  });

  it('without the peers part, after ready(): skipped with the reason at every count, never errored', async () => {
    const { ort, tfjs } = build();
    for (const v of [ort, tfjs]) expect(await peerOf(v)!.ready([1, 2])).toMatch(/not in this payload|Web Workers/);
    const by = await measure([ort, tfjs], [1, 2]);
    expect([...by.keys()].sort()).toEqual([ORT, `${ORT}@t2`, TFJS, `${TFJS}@t2`].sort());
    for (const r of by.values()) expect(r.state, JSON.stringify(r)).toBe('skipped');
    const t2 = by.get(`${ORT}@t2`);
    expect(t2?.state === 'skipped' && t2.reason).toMatch(/not in this payload \(an optional part: run with --peers\)/);
    expect(t2?.threads).toBe(2);
  });

  it('the guard matters: the same peers measured without ready() end errored in prepare', async () => {
    const { ort, tfjs } = build();
    const by = await measure([ort, tfjs], [1]);
    for (const name of [ORT, TFJS]) {
      const r = by.get(name);
      expect(r?.state, JSON.stringify(r)).toBe('errored');
      expect(r?.state === 'errored' && r.error).toMatch(/not in this payload/);
    }
  });
});
