/**
 * Entry of relaxed.wasm: the int8 GEMM convolution on the relaxed-SIMD dot
 * product (relaxed.ts). Compiled with relaxed SIMD enabled and loaded only
 * where the runtime validates it (Node 20: --experimental-wasm-relaxed-simd).
 *
 * Memory is imported (env.memory) and shared with the other modules; the JS
 * side (kernels/index.ts) owns allocation. No static data, no managed objects.
 */
export { rgemm_packed_a_bytes, rgemm_workspace_bytes, rpack_weights, conv_im2col_rgemm, relaxed_dot_probe } from './relaxed';

/** End of this module's static data: the JS allocator starts at or above it. */
export function heap_base(): usize {
  return __heap_base;
}
