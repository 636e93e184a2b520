/**
 * TensorFlow.js weights (a `weights_manifest.json` and its binary shards):
 * the parser, dequantization, and the layout changes to the graph's
 * (pure: the caller reads the files).
 *
 * The manifest is a list of groups; each group's shards, concatenated in
 * order, hold its weights back to back, each as numel(shape) values of its
 * storage type: the weight's `dtype` (float32, int32), or, when it has a
 * `quantization` entry, that entry's dtype: uint8 or uint16 (affine: value =
 * q * scale + min) or float16 (IEEE half). Values are little-endian.
 *
 * Layouts: TensorFlow keeps conv filters as [R, S, C, K] (HWIO), depthwise
 * filters as [R, S, C, M] (M = channel multiplier) and dense kernels as
 * [F, K]; the graph wants [K, C, R, S], [C*M, 1, R, S] and [K, F].
 */
import { z } from 'zod';

const Quantization = z.object({
  dtype: z.enum(['uint8', 'uint16', 'float16']),
  scale: z.number().optional(),
  min: z.number().optional(),
});

const WeightEntry = z.object({
  name: z.string().min(1),
  shape: z.array(z.number().int().nonnegative()),
  dtype: z.enum(['float32', 'int32']),
  quantization: Quantization.optional(),
});

export const WeightsManifest = z
  .array(z.object({ paths: z.array(z.string().min(1)).min(1), weights: z.array(WeightEntry) }))
  .min(1, 'a weights manifest lists at least one group');
export type WeightsManifest = z.infer<typeof WeightsManifest>;

export interface TfjsTensor {
  shape: number[];
  dtype: 'float32' | 'int32';
  values: Float32Array;
}

const BYTES = { float32: 4, int32: 4, uint8: 1, uint16: 2, float16: 2 } as const;

/** IEEE binary16 -> number. */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** Validate a parsed manifest; `where` names it in errors. */
export function parseManifest(json: unknown, where: string): WeightsManifest {
  const r = WeightsManifest.safeParse(json);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new Error(`${where}: not a TensorFlow.js weights manifest: at ${i.path.join('.') || 'the top'}: ${i.message}`);
  }
  return r.data;
}

/**
 * Every weight of the manifest, decoded (dequantized) to float32. `shards[g][p]`
 * is the content of group g's path p. Throws naming the weight when the shards
 * are shorter than the manifest says, or longer (an unexpected trailing part).
 */
export function decodeWeights(manifest: WeightsManifest, shards: readonly (readonly Uint8Array[])[], where: string): Map<string, TfjsTensor> {
  const out = new Map<string, TfjsTensor>();
  manifest.forEach((group, gi) => {
    const parts = shards[gi];
    if (!parts || parts.length !== group.paths.length) {
      throw new Error(`${where}: group ${gi} lists ${group.paths.length} shard(s) (${group.paths.join(', ')}), ${parts?.length ?? 0} given`);
    }
    const total = parts.reduce((s, p) => s + p.length, 0);
    const buf = new Uint8Array(total);
    let o = 0;
    for (const p of parts) {
      buf.set(p, o);
      o += p.length;
    }
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let off = 0;
    for (const w of group.weights) {
      const n = w.shape.reduce((a, b) => a * b, 1);
      const storage = w.quantization?.dtype ?? w.dtype;
      const size = n * BYTES[storage];
      if (off + size > buf.length) {
        throw new Error(`${where}: weight "${w.name}" needs bytes ${off}..${off + size} of group ${gi}, but its shards hold ${buf.length} (truncated file?)`);
      }
      const values = new Float32Array(n);
      const q = w.quantization;
      if (q && q.dtype !== 'float16' && (q.scale === undefined || q.min === undefined)) {
        throw new Error(`${where}: weight "${w.name}" is ${q.dtype}-quantized without scale and min`);
      }
      const scale = q?.scale ?? 1;
      const min = q?.min ?? 0;
      const read: (at: number) => number =
        storage === 'float32'
          ? (at) => view.getFloat32(at, true)
          : storage === 'int32'
            ? (at) => view.getInt32(at, true)
            : storage === 'uint8'
              ? (at) => buf[at]! * scale + min
              : storage === 'uint16'
                ? (at) => view.getUint16(at, true) * scale + min
                : (at) => halfToFloat(view.getUint16(at, true));
      const step = BYTES[storage];
      if (storage === 'uint8' && w.dtype === 'float32') {
        // the common case (quantized float weights), without a call per value
        for (let i = 0; i < n; i++) values[i] = buf[off + i]! * scale + min;
      } else {
        const round = w.dtype === 'int32';
        for (let i = 0; i < n; i++) {
          const v = read(off + i * step);
          values[i] = round ? Math.round(v) : v;
        }
      }
      if (out.has(w.name)) throw new Error(`${where}: weight "${w.name}" appears twice`);
      out.set(w.name, { shape: w.shape, dtype: w.dtype, values });
      off += size;
    }
    if (off !== buf.length) throw new Error(`${where}: group ${gi}'s shards hold ${buf.length} bytes, its weights ${off}: the files do not match the manifest`);
  });
  return out;
}

/** [R, S, C, K] -> [K, C, R, S] */
export function hwioToOihw(v: Float32Array, shape: readonly number[]): { values: Float32Array; shape: number[] } {
  const [R, S, C, K] = shape as [number, number, number, number];
  const out = new Float32Array(v.length);
  for (let r = 0; r < R; r++)
    for (let s = 0; s < S; s++) for (let c = 0; c < C; c++) for (let k = 0; k < K; k++) out[((k * C + c) * R + r) * S + s] = v[((r * S + s) * C + c) * K + k]!;
  return { values: out, shape: [K, C, R, S] };
}

/** Depthwise [R, S, C, M] -> [C*M, 1, R, S] (output channel c*M + m). */
export function depthwiseToGraph(v: Float32Array, shape: readonly number[]): { values: Float32Array; shape: number[] } {
  const [R, S, C, M] = shape as [number, number, number, number];
  const out = new Float32Array(v.length);
  for (let r = 0; r < R; r++)
    for (let s = 0; s < S; s++) for (let c = 0; c < C; c++) for (let m = 0; m < M; m++) out[((c * M + m) * R + r) * S + s] = v[((r * S + s) * C + c) * M + m]!;
  return { values: out, shape: [C * M, 1, R, S] };
}

/** Dense [F, K] -> [K, F] */
export function denseToGraph(v: Float32Array, shape: readonly number[]): { values: Float32Array; shape: number[] } {
  const [F, K] = shape as [number, number];
  const out = new Float32Array(v.length);
  for (let f = 0; f < F; f++) for (let k = 0; k < K; k++) out[k * F + f] = v[f * K + k]!;
  return { values: out, shape: [K, F] };
}

/** A tensor in the graph's layout for a parameter of the given layout kind. */
export function toGraphLayout(t: TfjsTensor, layout: 'conv' | 'depthwise' | 'fc' | 'vector'): { values: Float32Array; shape: number[] } {
  switch (layout) {
    case 'conv':
      if (t.shape.length !== 4) throw new Error(`a conv filter has 4 dimensions [R, S, C, K], got [${t.shape.join(', ')}]`);
      return hwioToOihw(t.values, t.shape);
    case 'depthwise':
      if (t.shape.length !== 4) throw new Error(`a depthwise filter has 4 dimensions [R, S, C, M], got [${t.shape.join(', ')}]`);
      return depthwiseToGraph(t.values, t.shape);
    case 'fc':
      if (t.shape.length !== 2) throw new Error(`a dense kernel has 2 dimensions [F, K], got [${t.shape.join(', ')}]`);
      return denseToGraph(t.values, t.shape);
    case 'vector':
      return { values: t.values, shape: [...t.shape] };
  }
}
