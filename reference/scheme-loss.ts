/**
 * Scheme loss: what a user adopting a low-precision scheme loses, measured as
 * the dequantized output against float64 on the original floats (pure,
 * payload-safe). Kept apart from the kernel check (which compares a kernel
 * with the exact reference of the values it was given).
 *
 * With e = y - ref over the N outputs (float64 sums):
 * - SQNR dB = 20 log10(||ref||_2 / ||e||_2) (the definition ONNX Runtime's and
 *   PyTorch's quantization debuggers use; Infinity when e = 0);
 * - relative L2 = ||e|| / ||ref||; cosine = <y, ref> / (||y|| ||ref||); max abs = max |e_i|;
 * - mean error = sum e_i / N; its standard deviation sqrt(sum (e_i - mean)^2 / N)
 *   (population, numpy's default ddof = 0);
 * - rmse = sqrt(sum e_i^2 / N), and rmse / scale with `scale` the output's
 *   quantization step (for a dequantized output: the step a requantization with
 *   the same calibration would use), as TensorFlow Lite's quantization debugger
 *   reports per layer: about 1/sqrt(12) = 0.289 for a well-quantized layer whose
 *   error is the output rounding alone; a layer above RMSE_SCALE_FLAG (0.7, the
 *   threshold of the debugger's own example) is flagged.
 */
import { errorMetrics } from './metrics.js';

/** rmse / scale of a well-quantized layer: the rounding error uniform over one step, 1 / sqrt(12). */
export const RMSE_SCALE_IDEAL = 1 / Math.sqrt(12);
/** rmse / scale above which a layer is flagged. */
export const RMSE_SCALE_FLAG = 0.7;

export interface SchemeLoss {
  sqnrDb: number;
  relL2: number;
  cosine: number;
  maxAbs: number;
  meanError: number;
  sdError: number;
  rmse: number;
  /** The output's quantization step the rmse is divided by (NaN when there is none, e.g. fp16 storage). */
  scale: number;
  /** rmse / scale (NaN without a scale). */
  rmseOverScale: number;
  /** rmse / scale above RMSE_SCALE_FLAG. */
  flagged: boolean;
}

/** The scheme loss of `y` against the float64 reference `ref` (see the module doc). Throws on length mismatch. */
export function schemeLoss(y: ArrayLike<number>, ref: ArrayLike<number>, scale = NaN): SchemeLoss {
  const m = errorMetrics(y, ref);
  const n = ref.length;
  let sum = 0;
  let sum2 = 0;
  for (let i = 0; i < n; i++) {
    const e = y[i]! - ref[i]!;
    sum += e;
    sum2 += e * e;
  }
  const mean = n > 0 ? sum / n : 0;
  let dev2 = 0;
  for (let i = 0; i < n; i++) {
    const d = y[i]! - ref[i]! - mean;
    dev2 += d * d;
  }
  const rmse = n > 0 ? Math.sqrt(sum2 / n) : 0;
  const rmseOverScale = scale > 0 ? rmse / scale : NaN;
  // 20 log10(||ref|| / ||e||) is errorMetrics' 10 log10(sum ref^2 / sum e^2).
  return {
    sqnrDb: m.sqnrDb,
    relL2: m.relL2,
    cosine: m.cosine,
    maxAbs: m.maxAbs,
    meanError: Number.isFinite(sum) ? mean : NaN,
    sdError: n > 0 && Number.isFinite(dev2) ? Math.sqrt(dev2 / n) : NaN,
    rmse: Number.isFinite(rmse) ? rmse : Infinity,
    scale,
    rmseOverScale,
    flagged: rmseOverScale > RMSE_SCALE_FLAG,
  };
}
