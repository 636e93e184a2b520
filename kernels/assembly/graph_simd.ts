/**
 * Entry of graph.wasm: the light runtime's element-wise kernels (graphops.ts),
 * WebAssembly SIMD. Loaded only where WebAssembly SIMD validates.
 *
 * Memory is imported (env.memory) and shared with the other modules; the JS
 * side (kernels/index.ts) owns allocation. No static data, no managed objects.
 */
export { relu_f32, relu6_f32, add_f32, scale_shift_f32 } from './graphops';

/** End of this module's static data: the JS allocator starts at or above it. */
export function heap_base(): usize {
  return __heap_base;
}
