/**
 * Entry of fusion.wasm: convolutions with fused epilogues and the fused depthwise + pointwise block
 * (fused.ts), WebAssembly SIMD. Loaded only where WebAssembly SIMD validates.
 *
 * Memory is imported (env.memory) and shared with the other modules; the JS side
 * (kernels/index.ts) owns allocation. No static data, no managed objects.
 */
export { conv_epi_workspace_floats, conv_epi_f32, dwpw_workspace_floats, dwpw_f32 } from './fused';

/** End of this module's static data: the JS allocator starts at or above it. */
export function heap_base(): usize {
  return __heap_base;
}
