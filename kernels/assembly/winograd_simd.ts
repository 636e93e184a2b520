/**
 * Entry of winograd.wasm: Winograd F(m x m, 3 x 3) convolution (winograd.ts),
 * reusing gemm.ts's packed 4x8 micro-kernel. Loaded only where WebAssembly
 * SIMD validates.
 *
 * Memory is imported (env.memory) and shared with the other modules; the JS
 * side (kernels/index.ts) owns allocation. No static data, no managed objects.
 */
export {
  winograd_tile,
  winograd_packed_u_floats,
  winograd_workspace_floats,
  winograd_filter_transform,
  winograd_prepare,
  conv_winograd_f32,
  winograd_f16_scratch_bytes,
  conv_winograd_f16,
} from './winograd';
export { f32_to_f16 } from './f16';

/** End of this module's static data: the JS allocator starts at or above it. */
export function heap_base(): usize {
  return __heap_base;
}
