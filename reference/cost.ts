/**
 * The counting rule of the design (pure, payload-safe).
 *
 * FLOPs of a conv = 2 * N * K * Ho * Wo * (C/groups) * R * S (a multiply-add is
 * 2 FLOPs). Bytes = (input + weights + output elements) * bytes per element,
 * caches ignored; fused element-wise ops add nothing. Units are plain FLOPs and
 * bytes: the design's "8.78 MB" for the 256->256 3x3 conv at 56x56 is decimal
 * megabytes (8,781,824 bytes / 1e6).
 */
import type { ConvShape } from '../core/contracts.js';
import { convOutputSize } from './conv.js';

/** Direct-algorithm FLOPs: 2 * N * K * Ho * Wo * (C/groups) * R * S. Throws on an invalid shape. */
export function convFlops(s: ConvShape): number {
  const { ho, wo } = convOutputSize(s);
  return 2 * s.n * s.k * ho * wo * (s.c / s.groups) * s.r * s.s;
}

/** Element counts of the input, weight and output tensors. */
export function convElements(s: ConvShape): { input: number; weights: number; output: number } {
  const { ho, wo } = convOutputSize(s);
  return {
    input: s.n * s.c * s.h * s.w,
    weights: s.k * (s.c / s.groups) * s.r * s.s,
    output: s.n * s.k * ho * wo,
  };
}

/** Bytes moved by the counting rule: (input + weights + output elements) * bytesPerElement. */
export function convBytes(s: ConvShape, bytesPerElement = 4): number {
  if (!(bytesPerElement > 0)) throw new Error(`convBytes: bytesPerElement must be > 0, got ${bytesPerElement}`);
  const e = convElements(s);
  return (e.input + e.weights + e.output) * bytesPerElement;
}

/**
 * Bytes moved by the counting rule with each tensor at its own storage width
 * (low-precision variants: int8 input and weights with an f32 dequantized output ...).
 */
export function convBytesAt(s: ConvShape, width: { input: number; weights: number; output: number }): number {
  for (const [k, v] of Object.entries(width)) {
    if (!(v > 0)) throw new Error(`convBytesAt: the ${k} width must be > 0, got ${v}`);
  }
  const e = convElements(s);
  return e.input * width.input + e.weights * width.weights + e.output * width.output;
}

/** Operational intensity, FLOPs per byte (convFlops / convBytes). */
export function convIntensity(s: ConvShape, bytesPerElement = 4): number {
  return convFlops(s) / convBytes(s, bytesPerElement);
}

/**
 * Bytes the operator touches, to pick which bandwidth ceiling (cache level or
 * DRAM) applies. For now identical to convBytes (every tensor touched once, no
 * scratch buffers counted); variants with workspaces (im2col) may count more later.
 */
export function convWorkingSetBytes(s: ConvShape, bytesPerElement = 4): number {
  return convBytes(s, bytesPerElement);
}
