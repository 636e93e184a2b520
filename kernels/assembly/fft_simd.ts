/**
 * Entry of fft.wasm: the tiled FFT convolution for 3x3 stride-1 layers
 * (kernels/assembly/fft.ts), WebAssembly SIMD. Loaded only where WebAssembly
 * SIMD validates.
 *
 * Memory is imported (env.memory) and shared with the other modules; the JS
 * side (kernels/index.ts) owns allocation. No static data, no managed objects.
 */
export {
  fft_plan_floats,
  fft_workspace_floats,
  fft_complex_f32x4,
  fft2d_forward_f32x4,
  fft2d_inverse_f32x4,
  fft_reduce_f32x4,
  conv_fft_f32,
} from './fft';

/** End of this module's static data: the JS allocator starts at or above it. */
export function heap_base(): usize {
  return __heap_base;
}
