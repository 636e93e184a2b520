/**
 * Entry of quant.wasm: the int8 kernels (WebAssembly SIMD): im2col + packed
 * GEMM (qgemm.ts), depthwise (qdepthwise.ts), Winograd F(2x2, 3x3) with int16
 * transforms (qwinograd.ts), and the int8 arithmetic ceiling. Loaded only
 * where WebAssembly SIMD validates.
 *
 * Memory is imported (env.memory) and shared with the other modules; the JS
 * side (kernels/index.ts) owns allocation. No static data, no managed objects.
 */
export { qgemm_tile, qgemm_packed_a_bytes, qgemm_workspace_bytes, qpack_weights, conv_im2col_qgemm } from './qgemm';
export { qdw_workspace_bytes, conv_depthwise_q } from './qdepthwise';
export { qwinograd_packed_u_bytes, qwinograd_workspace_bytes, conv_qwinograd_f2 } from './qwinograd';
export { peak_dot_i16x8, peak_dot_i16x8_ops_per_iter, peak_madd_dot_i16x8, peak_madd_dot_i16x8_ops_per_iter } from './ceilings_int8';
export { quantize_f32 } from './qquantize';

/** End of this module's static data: the JS allocator starts at or above it. */
export function heap_base(): usize {
  return __heap_base;
}
