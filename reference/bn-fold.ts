/**
 * Batch-norm folded into the preceding convolution (pure, payload-safe): inference batch norm
 * y = (x - mean) / sqrt(var + eps) * scale + shift after a conv with weights w and bias b is the conv with
 * w'[k] = w[k] * a[k] and b'[k] = (b[k] - mean[k]) * a[k] + shift[k], a[k] = scale[k] / sqrt(var[k] + eps).
 * Computed in float64, rounded once to float32. The folded conv is not bit-identical to conv-then-BN (the scale
 * multiplies each weight before the sum instead of the sum once): its error is held to the exact tolerance of
 * the folded conv plus the fold's own roundings (docs/fusion.md).
 */
export interface BatchNormParams {
  scale: ArrayLike<number>;
  shift: ArrayLike<number>;
  mean: ArrayLike<number>;
  variance: ArrayLike<number>;
  eps: number;
}

/** The per-channel scale a and shift t of y = x * a + t (what a separate BN pass computes), in float64. */
export function batchNormAffine(k: number, bn: BatchNormParams): { a: Float64Array; t: Float64Array } {
  for (const [name, v] of Object.entries({ scale: bn.scale, shift: bn.shift, mean: bn.mean, variance: bn.variance })) {
    if (v.length !== k) throw new Error(`batch-norm fold: ${name} has ${v.length} values, the conv has ${k} output channels`);
  }
  if (!(bn.eps > 0)) throw new Error(`batch-norm fold: eps must be positive, got ${bn.eps}`);
  const a = new Float64Array(k);
  const t = new Float64Array(k);
  for (let i = 0; i < k; i++) {
    const v = +bn.variance[i]! + bn.eps;
    if (!(v > 0)) throw new Error(`batch-norm fold: channel ${i}: variance + eps = ${v} is not positive`);
    a[i] = +bn.scale[i]! / Math.sqrt(v);
    t[i] = +bn.shift[i]! - +bn.mean[i]! * a[i]!;
  }
  return { a, t };
}

/** w (K x rest, row-major by output channel) and b (K, or none) with the batch norm folded in, as float32. */
export function foldBatchNorm(w: ArrayLike<number>, b: ArrayLike<number> | undefined, k: number, bn: BatchNormParams): { w: Float32Array; b: Float32Array } {
  if (w.length % k !== 0) throw new Error(`batch-norm fold: ${w.length} weights are not a whole number per output channel (${k} channels)`);
  if (b !== undefined && b.length !== k) throw new Error(`batch-norm fold: the bias has ${b.length} values, the conv has ${k} output channels`);
  const { a, t } = batchNormAffine(k, bn);
  const per = w.length / k;
  const wf = new Float32Array(w.length);
  const bf = new Float32Array(k);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < per; j++) wf[i * per + j] = +w[i * per + j]! * a[i]!;
    bf[i] = (b ? +b[i]! : 0) * a[i]! + t[i]!;
  }
  return { w: wf, b: bf };
}
