/**
 * Entry of f16.wasm: the fp16-storage kernels (WebAssembly SIMD): im2col +
 * packed GEMM (hgemm.ts) and depthwise (depthwise.ts on halves), with the
 * half <-> f32 conversions (f16.ts). Loaded only where WebAssembly SIMD validates.
 *
 * Memory is imported (env.memory) and shared with the other modules; the JS
 * side (kernels/index.ts) owns allocation. No static data, no managed objects.
 */
import { conv_depthwise } from './depthwise';

export { f16_to_f32, f32_to_f16 } from './f16';
export { hgemm_packed_a_bytes, hgemm_workspace_bytes, hpack_weights, conv_im2col_hgemm } from './hgemm';
export { depthwise_f16_workspace_floats } from './depthwise';

/**
 * fp16-storage depthwise conv: x NCHW halves, w c x R x S halves, y N x c x Ho x Wo
 * halves (overwritten); ws: depthwise_f16_workspace_floats(...) floats, 16-byte aligned.
 */
export function conv_depthwise_f16(
  x: usize, w: usize, y: usize, ws: usize,
  n: i32, c: i32, h: i32, wd: i32, r: i32, s: i32, stride: i32, pad: i32,
): void {
  conv_depthwise<u16>(x, w, y, ws, n, c, h, wd, r, s, stride, pad);
}

/** End of this module's static data: the JS allocator starts at or above it. */
export function heap_base(): usize {
  return __heap_base;
}
