/**
 * Entry of simd.wasm: the WebAssembly SIMD kernels (im2col + packed GEMM,
 * depthwise, SIMD ceilings). Loaded only where WebAssembly SIMD validates.
 *
 * Memory is imported (env.memory) and shared with scalar.wasm; the JS side
 * (kernels/index.ts) owns allocation. No static data, no managed objects.
 */
export {
  gemm_packed_a_floats,
  conv_im2col_gemm_workspace_floats,
  gemm_tile,
  pack_weights,
  conv_im2col_gemm_f32,
  conv_im2col_gemm_cols_f32,
  im2col_f32,
  sgemm_workspace_floats,
  sgemm_f32,
  gemv_f32,
} from './gemm';
export { depthwise_workspace_floats, conv_depthwise_f32 } from './depthwise';
export {
  peak_f32x4,
  peak_f32x4_flops_per_iter,
  peak_madd_f32x4,
  peak_madd_f32x4_flops_per_iter,
  copy_f32x4,
  triad_f32x4,
} from './ceilings_simd';

/** End of this module's static data: the JS allocator starts at or above it. */
export function heap_base(): usize {
  return __heap_base;
}
