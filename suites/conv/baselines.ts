/**
 * The conv suite's reference variants for the accuracy decision of a fast
 * algorithm (Winograd, FFT): fp32 direct is the accuracy anchor, im2col + GEMM
 * the speed baseline, ONNX Runtime the library peer. A run that selects a fast
 * variant (--filter winograd, --variant ...) runs these too, or the decision has
 * nothing to compare with.
 */
export const ANCHOR_VARIANT = 'conv-direct-naive-f32';
export const SPEED_BASELINE_VARIANT = 'conv-im2col-gemm-f32';
export const PEER_VARIANT = 'conv-onnxruntime-f32';

/** Algorithms whose results the accuracy decision weighs against the references. */
export const FAST_ALGORITHMS: readonly string[] = ['winograd', 'fft'];
