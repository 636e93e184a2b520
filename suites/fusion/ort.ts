/**
 * ONNX Runtime as the native baseline of the fusion and tiling pairs: the same unfused graph (exported by
 * core/onnx.ts) in one session with graphOptimizationLevel 'disabled' (every node on its own, like the unfused
 * kernels) and one with 'all' (ORT's own fusions: Conv+Add+Relu -> FusedConv, BN folded into Conv, ...).
 * One thread, CPU only, as the conv suite's ORT comparison. onnxruntime-node is not part of the payload: the
 * host's copy is loaded (the reason is given when it is missing).
 */
import type { Graph } from '../../core/graph.js';
import { exportOnnx } from '../../core/onnx.js';
import { loadOnnxruntime, ORT_SESSION_OPTIONS } from '../conv/variants/onnxruntime.js';

export type OrtLevel = 'disabled' | 'all';

export interface OrtGraphRun {
  level: OrtLevel;
  /** One inference; returns the graph's first output. */
  run(): Promise<Float32Array>;
  release(): Promise<void>;
}

/** A session for `g` at `level`, fed `inputs` (every graph input, NCHW float32). */
export async function ortGraphSession(
  g: Graph,
  params: ReadonlyMap<string, ArrayLike<number>>,
  inputs: Record<string, Float32Array>,
  level: OrtLevel,
): Promise<OrtGraphRun> {
  const l = loadOnnxruntime(import.meta.url);
  if (!l.ok) throw new Error(`ONNX Runtime baseline of ${g.name}: ${l.reason}`);
  const { ort } = l;
  const model = exportOnnx(g, params, { docString: `roofbench fusion baseline ${g.name}` });
  let session: Awaited<ReturnType<typeof ort.InferenceSession.create>>;
  try {
    session = await ort.InferenceSession.create(model, { ...ORT_SESSION_OPTIONS, graphOptimizationLevel: level });
  } catch (e) {
    throw new Error(`ONNX Runtime rejected graph ${g.name} (${model.length} bytes) at graphOptimizationLevel ${level}`, { cause: e });
  }
  const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {};
  for (const inp of g.inputs) {
    const x = inputs[inp.name];
    if (!x) throw new Error(`ONNX Runtime baseline of ${g.name}: no values for input "${inp.name}"`);
    feeds[inp.name] = new ort.Tensor('float32', x, inp.shape);
  }
  const out = g.outputs[0]!;
  return {
    level,
    async run() {
      const r = await session.run(feeds);
      const data = r[out]?.data;
      if (!(data instanceof Float32Array)) throw new Error(`ONNX Runtime baseline of ${g.name}: output "${out}" is not float32`);
      return data;
    },
    release: () => session.release(),
  };
}
