/**
 * model-tfjs-xnnpack-f32, the network peer XNNPACK via tfjs-backend-wasm (suites/models/peers.ts,
 * suites/models/tfjs-graph.ts), through the runner's own measureModelCase with the real peers part of the
 * payload (built by harness/peers-payload.ts, hash-verified and loaded as on a device): every network of the zoo at
 * --quick resolution passes the output check against the float64 forward pass (and the logits check where the
 * network ends in a softmax: a saturated one is one-hot in float32 and float64 alike), beside the light runtime's im2col
 * network on every-op; at --threads 1,2 the 2-thread result is skipped with tfjs's one-thread reason; a wrong
 * channel shuffle (injected fault) makes the result `inaccurate`, a kept intermediate fails the leak check; a
 * network with an operator tfjs refuses is `skipped` naming the node. System tier: it loads the peers bundle (a
 * second tfjs) and runs the float64 reference of ten networks.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { isTimed, type CaseResult, type CaseSpec, type ModelVariant, type TestFaults } from '../core/contracts.js';
import { buildPeersPayload } from '../harness/peers-payload.js';
import { loadKernels, type Kernels } from '../kernels/index.js';
import { peerOf } from '../suites/conv/peers/run.js';
import { measureModelCase } from '../suites/models/measure.js';
import { MODEL_PEER_NAMES, modelPeerVariant, TFJS_NETWORK_LIBRARY } from '../suites/models/peers.js';
import { loadModelCase } from '../suites/models/suite.js';
import { modelRuntimeIm2colF32 } from '../suites/models/variants.js';
import { encodeWeights } from '../suites/models/weights-codec.js';
import { zooNames } from '../suites/models/zoo.js';
import { SHORT_OPTIONS } from './helpers/measure.js';

const EVERY_OP = new URL('./fixtures/every-op.yaml', import.meta.url).pathname;
const TFJS = MODEL_PEER_NAMES['tfjs-xnnpack'];
const IM2COL = modelRuntimeIm2colF32.name;
const scratch = mkdtempSync(join(tmpdir(), 'roofbench-tfjs-models-'));
let kernels: Kernels;
let tfjs: ModelVariant;

beforeAll(async () => {
  kernels = await loadKernels(inject('kernelsDir'));
  const peers = await buildPeersPayload({ root: join(scratch, 'peers') });
  tfjs = modelPeerVariant('tfjs-xnnpack', peers);
  expect(tfjs.name).toBe('model-tfjs-xnnpack-f32');
  expect(await peerOf(tfjs)!.ready([1, 2])).toBe(true);
}, 120_000);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function measure(spec: string, variants: string[], o: { counts?: number[]; faults?: TestFaults; graph?: CaseSpec['graph'] } = {}) {
  const built = loadModelCase(spec, { quick: true, seed: 5, distribution: 'uniform(-1,1)' });
  const c = o.graph ? { ...built.caseSpec, graph: o.graph } : built.caseSpec;
  const counts = o.counts ?? [1];
  const results = await measureModelCase(c, variants, {
    ctx: { kernels },
    features: { wasmSimd: true, wasmRelaxedSimd: false },
    options: { ...SHORT_OPTIONS, suites: ['models'], threads: counts },
    ceilings: null,
    resolveVariant: (_s, name) => [tfjs, modelRuntimeIm2colF32].find((v) => v.name === name),
    threads: { counts, pools: new Map(), cores: 2 },
    ...(built.weights ? { weights: encodeWeights(built.weights) } : {}),
    ...(o.faults ? { faults: o.faults } : {}),
  });
  return new Map(results.map((r) => [r.variant, r]));
}

const check = (r: CaseResult | undefined, name: string) => {
  if (!r || !isTimed(r)) throw new Error(`${name}: no timed result: ${JSON.stringify(r)}`);
  return { r, by: new Map(r.accuracy.checks!.map((c) => [c.name, c])) };
};

describe('model-tfjs-xnnpack-f32', () => {
  it('every-op beside the light runtime: passes, told as XNNPACK via tfjs-backend-wasm, one thread; at 2 threads skipped with the reason', async () => {
    const m = await measure(EVERY_OP, [IM2COL, TFJS], { counts: [1, 2] });
    const { r, by } = check(m.get(TFJS), 'every-op');
    expect(r.state, JSON.stringify(r.accuracy)).toBe('passed');
    expect(r.info).toMatchObject({ code: 'wasm', library: TFJS_NETWORK_LIBRARY, threads: 1 });
    expect(r.model?.engine).toBe('tfjs-wasm');
    expect(r.model?.agreement?.with).toBe(IM2COL);
    expect(by.get('output')?.ok).toBe(true);
    expect(by.get('no leaked tensors')).toMatchObject({ ok: true, value: 0 });
    expect(r.prepare.note).toMatch(/NHWC.*batch norm\(s\) folded into the conv weights.*split into one conv per group and concatenated/);
    expect(r.timing.samples.length).toBeGreaterThanOrEqual(3);
    const two = m.get(`${TFJS}@t2`);
    expect(two?.state === 'skipped' && two.reason).toMatch(/^not run on 2 threads: tfjs-backend-wasm's threaded build needs browser Web Workers/);
  }, 120_000);

  it('a wrong channel shuffle order (injected fault): inaccurate; a kept intermediate (injected fault): the leak check fails', async () => {
    const bad = check((await measure(EVERY_OP, [TFJS], { faults: { tfjsShuffleOrder: true } })).get(TFJS), 'shuffle fault');
    expect(bad.r.state).toBe('inaccurate');
    expect(bad.by.get('output')?.ok).toBe(false);
    const leak = check((await measure(EVERY_OP, [TFJS], { faults: { tfjsLeakTensor: true } })).get(TFJS), 'leak fault');
    expect(leak.r.state).toBe('inaccurate');
    expect(leak.by.get('no leaked tensors')?.ok).toBe(false);
    expect(leak.by.get('output')?.ok).toBe(true);
  }, 120_000);

  it('a saturated softmax hides a layer off by 1e-3 in the output; the logits check fails it (injected fault)', async () => {
    // ShuffleNet at --quick: the random network's softmax is one-hot in float32 and float64 alike (output relL2 exactly 0).
    const name = 'shufflenet_v1_0.5x_g3';
    const good = check((await measure(name, [TFJS])).get(TFJS), name);
    expect(good.by.get('output')?.value).toBe(0);
    expect(good.by.get('logits')?.ok).toBe(true);
    const fault = { modelLayerError: { node: 'conv1', relError: 1e-3 } };
    const bad = check((await measure(name, [TFJS], { faults: fault })).get(TFJS), `${name} layer fault`);
    expect(bad.by.get('output')?.ok).toBe(true);
    expect(bad.by.get('logits')?.ok).toBe(false);
    expect(bad.r.state).toBe('inaccurate');
  }, 120_000);

  it('a network tfjs cannot express: skipped naming the operator and node, not errored', async () => {
    const g = loadModelCase(EVERY_OP, { quick: true, seed: 5, distribution: 'uniform(-1,1)' }).caseSpec.graph;
    // The stem (3x3, stride 2, pad 1) dilated by 2 with pad 2: the same output size, a conv tfjs refuses.
    const dilated = { dilation: [2, 2] as [number, number], pads: [2, 2, 2, 2] as [number, number, number, number] };
    const nodes = g.nodes.map((n) => (n.name === 'stem' && n.op === 'conv' ? { ...n, attrs: { ...n.attrs, ...dilated } } : n));
    const r = (await measure(EVERY_OP, [TFJS], { graph: { ...g, nodes } })).get(TFJS);
    expect(r?.state === 'skipped' && r.reason).toMatch(
      /^tfjs cannot express this network: node 0 "stem" \(conv\): tfjs convolutions refuse a dilation above 1 together with a stride above 1/,
    );
  }, 60_000);

  it.each(zooNames())(
    '%s at --quick: passes the output check against the float64 forward pass',
    async (name) => {
      const { r, by } = check((await measure(name, [TFJS])).get(TFJS), name);
      expect(r.state, JSON.stringify(r.accuracy.checks)).toBe('passed');
      expect(by.get('output')!.value).toBeLessThan(1e-4);
      // Every zoo classifier ends in a softmax (the face detector does not): its logits are checked too.
      if (name !== 'mobilenet_v1_facessd') expect(by.get('logits')!.value).toBeLessThan(1e-4);
      expect(by.get('no leaked tensors')?.ok).toBe(true);
    },
    120_000,
  );
});
