/**
 * Entry of scalar.wasm: kernels without SIMD instructions (compiled without
 * --enable simd, so the module loads on every WebAssembly engine).
 *
 * Memory is imported (env.memory) and shared with simd.wasm; the JS side
 * (kernels/index.ts) owns allocation. No static data, no managed objects.
 */
export { conv_direct_f32 } from './direct';
export { peak_f32, peak_f32_flops_per_iter, copy_f32, triad_f32 } from './ceilings_scalar';

/** End of this module's static data: the JS allocator starts at or above it. */
export function heap_base(): usize {
  return __heap_base;
}
