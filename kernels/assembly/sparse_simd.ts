/**
 * Entry of sparse.wasm: the sparse x dense matrix products of the sparse
 * convolutions (spmm.ts), WebAssembly SIMD. Loaded only where WebAssembly SIMD
 * validates.
 *
 * Memory is imported (env.memory) and shared with the other modules; the JS
 * side (kernels/index.ts) owns allocation. No static data, no managed objects.
 */
export { spmm_tile, spmm_blocks_f32, spmm_csr_f32 } from './spmm';

/** End of this module's static data: the JS allocator starts at or above it. */
export function heap_base(): usize {
  return __heap_base;
}
