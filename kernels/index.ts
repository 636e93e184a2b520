/**
 * Runner side: loads the compiled WebAssembly kernels (kernels/build/*.wasm,
 * shipped in the payload) and owns their linear memory.
 *
 * Modules (see KERNEL_MODULES; kernels/build.ts compiles them):
 *   scalar.wasm  no SIMD instructions: the direct conv, scalar ceilings. Loads everywhere.
 *   simd.wasm    WebAssembly SIMD: im2col + packed GEMM, depthwise, SIMD ceilings.
 *                Loaded only where SIMD validates; otherwise `kernels.simd` is null.
 *   fft.wasm     WebAssembly SIMD: tiled FFT convolution for 3x3 stride-1 layers
 *                (entry fft_simd.ts). Loaded with simd.wasm; otherwise `kernels.fft` is null.
 *   winograd.wasm WebAssembly SIMD: Winograd F(m x m, 3 x 3) conv reusing gemm.ts's
 *                micro-kernel (entry winograd_simd.ts). Loaded with simd.wasm; otherwise
 *                `kernels.winograd` is null.
 *   quant.wasm   WebAssembly SIMD: the int8 convolutions (im2col + GEMM, depthwise,
 *                Winograd F(2x2)) and the int8 ceiling (entry quant_simd.ts). Loaded
 *                with simd.wasm; otherwise `kernels.quant` is null.
 *   f16.wasm     WebAssembly SIMD: the fp16-storage convolutions (im2col + GEMM,
 *                depthwise) and the half <-> f32 conversions (entry f16_simd.ts).
 *                Loaded with simd.wasm; otherwise `kernels.f16` is null.
 *   relaxed.wasm WebAssembly relaxed SIMD: the int8 GEMM on the relaxed dot product
 *                (entry relaxed_simd.ts). Loaded only where relaxed SIMD validates
 *                (Node 20: --experimental-wasm-relaxed-simd); otherwise `kernels.relaxed`
 *                is null and `relaxedUnavailable` says why.
 *   graph.wasm   WebAssembly SIMD: the light runtime's element-wise kernels (relu, relu6,
 *                add, per-channel scale and shift; entry graph_simd.ts). Loaded with
 *                simd.wasm; otherwise `kernels.graph` is null.
 *   sparse.wasm  WebAssembly SIMD: sparse x dense matrix products (SpMM) for sparse
 *                convolution, CSR and XNNPACK-style output-channel blocks (entry
 *                sparse_simd.ts). Loaded with simd.wasm; otherwise `kernels.sparse` is null.
 *   fusion.wasm  WebAssembly SIMD: the conv with a fused epilogue (bias, residual, ReLU/ReLU6 on
 *                each output tile) and the fused depthwise + pointwise block (entry
 *                fusion_simd.ts). Loaded with simd.wasm; otherwise `kernels.fusion` is null.
 *
 * Memory model: one WebAssembly.Memory, created here and imported by every
 * module (env.memory). The modules keep no static data and allocate nothing:
 * all buffers come from a bump (arena) allocator on the JS side that starts at
 * the highest `heap_base()` of the modules and grows the memory as needed.
 * Buffers are handles (byte pointer + length); `view()` re-creates the
 * Float32Array whenever the memory has grown (growth detaches the old
 * ArrayBuffer), so callers never hold a stale view as long as they call
 * view() again after any allocation. `mark()`/`release(mark)` free in LIFO
 * order, `reset()` frees everything (the runner resets after every case).
 *
 * Only node: builtins (this file is bundled into the device payload).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The compiled modules: name (kernels/assembly/<name>.ts -> <name>.wasm) and whether it needs Wasm SIMD. */
export const KERNEL_MODULES = [
  // threads: also built as <name>.mt.wasm over a shared memory, for the threaded kernels (docs/threads.md).
  { name: 'scalar', simd: false, threads: true },
  { name: 'simd', simd: true, threads: true },
  // fft.wasm: the tiled FFT convolution (kernels/assembly/fft.ts), built from the entry fft_simd.ts.
  { name: 'fft', simd: true, entry: 'fft_simd' },
  // winograd.wasm: Winograd F(m x m, 3 x 3) conv (kernels/assembly/winograd.ts), built from the entry winograd_simd.ts.
  { name: 'winograd', simd: true, entry: 'winograd_simd', threads: true },
  // quant.wasm: the int8 kernels (qgemm.ts, qdepthwise.ts, qwinograd.ts) and the int8 ceiling, entry quant_simd.ts.
  { name: 'quant', simd: true, entry: 'quant_simd' },
  // f16.wasm: the fp16-storage kernels (hgemm.ts, depthwise.ts on halves, f16.ts), entry f16_simd.ts.
  { name: 'f16', simd: true, entry: 'f16_simd' },
  // relaxed.wasm: the int8 GEMM on the relaxed-SIMD dot product (relaxed.ts), entry relaxed_simd.ts.
  { name: 'relaxed', simd: true, relaxed: true, entry: 'relaxed_simd' },
  // sparse.wasm: SpMM for sparse convolution (kernels/assembly/spmm.ts), built from the entry sparse_simd.ts.
  { name: 'sparse', simd: true, entry: 'sparse_simd' },
  // graph.wasm: the light runtime's element-wise kernels (kernels/assembly/graphops.ts), entry graph_simd.ts; threaded:
  // a network at N threads runs them on thread 0 over the shared memory (suites/models/threaded.ts).
  { name: 'graph', simd: true, entry: 'graph_simd', threads: true },
  // fusion.wasm: conv + epilogue and the fused depthwise + pointwise block (kernels/assembly/fused.ts), entry fusion_simd.ts.
  { name: 'fusion', simd: true, entry: 'fusion_simd' },
] as const;

/**
 * The GEMM's tile sizes as compiled into simd.wasm (kernels/assembly/gemm.ts);
 * loadKernels checks they match. Micro-kernel MR x NR, reduction slice KC,
 * column block NC, row block MC.
 */
export const GEMM_TILE = { mr: 4, nr: 8, kc: 256, nc: 512, mc: 256 } as const;

export type KernelModuleName = (typeof KERNEL_MODULES)[number]['name'];

/** Pointers are byte offsets into the shared memory (i32); counts are elements. */
export interface ScalarKernels {
  heap_base(): number;
  /** Direct naive conv: x NCHW, w K x C/groups x R x S, y N x K x Ho x Wo (overwritten). */
  conv_direct_f32(
    x: number,
    w: number,
    y: number,
    n: number,
    c: number,
    h: number,
    wd: number,
    k: number,
    r: number,
    s: number,
    stride: number,
    pad: number,
    groups: number,
  ): void;
  /** Scalar ERT peak loop: `iters` iterations of 12 chains acc = acc*m + c; returns a sum of the chains. */
  peak_f32(iters: number, m: number, c: number): number;
  peak_f32_flops_per_iter(): number;
  copy_f32(dst: number, src: number, n: number, passes: number): void;
  triad_f32(a: number, b: number, c: number, s: number, n: number, passes: number): void;
}

export interface SimdKernels {
  heap_base(): number;
  /** Floats of the packed weights (pack_weights) for k output channels, reduction kd, groups. */
  gemm_packed_a_floats(k: number, kd: number, groups: number): number;
  /** Floats of the workspace conv_im2col_gemm_f32 needs. */
  conv_im2col_gemm_workspace_floats(): number;
  /** Tile sizes: 0 MR, 1 NR, 2 KC, 3 NC, 4 MC. */
  gemm_tile(i: number): number;
  /** Packs the weights [groups][k/groups][kd] into MR-row panels (the GEMM's A). */
  pack_weights(w: number, dst: number, k: number, kd: number, groups: number): void;
  /** Conv by fused im2col-packing + packed SIMD GEMM; y (N K Ho Wo) overwritten. */
  conv_im2col_gemm_f32(
    x: number,
    wPacked: number,
    y: number,
    ws: number,
    n: number,
    c: number,
    h: number,
    wd: number,
    k: number,
    r: number,
    s: number,
    stride: number,
    pad: number,
    groups: number,
  ): void;
  /** conv_im2col_gemm_f32 on output columns [j0, j1) (j = oh * Wo + ow) only; the rest of y untouched. */
  conv_im2col_gemm_cols_f32(...args: [...Parameters<SimdKernels['conv_im2col_gemm_f32']>, j0: number, j1: number]): void;
  /** Plain im2col of one image/group: cols [(c*R+r)*S+s][oh*Wo+ow]. */
  im2col_f32(x: number, cols: number, c: number, h: number, wd: number, r: number, s: number, stride: number, pad: number): void;
  /** Floats of the workspace sgemm_f32 needs. */
  sgemm_workspace_floats(): number;
  /**
   * Row-major SGEMM with the conv's blocked micro-kernel: C[m x n] = A[m x k] * B[k x n] (+ C if accumulate).
   * Leading dimensions in floats; ws: sgemm_workspace_floats() floats.
   */
  sgemm_f32(
    m: number,
    n: number,
    k: number,
    a: number,
    lda: number,
    b: number,
    ldb: number,
    c: number,
    ldc: number,
    ws: number,
    accumulate: boolean | number,
  ): void;
  /**
   * Fully-connected rows [k0, k1): y[n * ldy + kk] = sum_i x[n * f + i] * w[kk * f + i] for n < m, w K x F as stored
   * (no packing; each row's sum in one fixed order, so any split of the rows gives the same bits).
   */
  gemv_f32(m: number, f: number, x: number, w: number, y: number, ldy: number, k0: number, k1: number): void;
  depthwise_workspace_floats(h: number, wd: number, r: number, s: number, stride: number, pad: number): number;
  /** Depthwise conv (groups == c == k): w c x R x S; y overwritten. */
  conv_depthwise_f32(
    x: number,
    w: number,
    y: number,
    ws: number,
    n: number,
    c: number,
    h: number,
    wd: number,
    r: number,
    s: number,
    stride: number,
    pad: number,
  ): void;
  /** f32x4 ERT peak loop: 12 chains acc = acc*m + c. */
  peak_f32x4(iters: number, m: number, c: number): number;
  peak_f32x4_flops_per_iter(): number;
  /** GEMM-shaped acc += a*b loop (4x8 tile, operands loaded from an L1 buffer of bufBytes, a power of two). */
  peak_madd_f32x4(iters: number, buf: number, bufBytes: number): number;
  peak_madd_f32x4_flops_per_iter(): number;
  /** n must be a multiple of 16. */
  copy_f32x4(dst: number, src: number, n: number, passes: number): void;
  /** a = b + s*c; n must be a multiple of 16. */
  triad_f32x4(a: number, b: number, c: number, s: number, n: number, passes: number): void;
}

/**
 * fft.wasm (kernels/assembly/fft.ts): tiled FFT convolution for 3x3 stride-1
 * layers. Complex vectors are 32 bytes (re f32x4, im f32x4); lanes are
 * independent transforms. See fft.ts for the plan, slot and buffer layouts.
 */
export interface FftKernels {
  heap_base(): number;
  /** Floats of the plan (twiddles + bit-reversal table) for tile size t. */
  fft_plan_floats(t: number): number;
  /** Floats of the transform workspace for tile size t. */
  fft_workspace_floats(t: number): number;
  /** In-place complex FFT of t vectors: forward (output bit-reversed) or unnormalised inverse (input bit-reversed). */
  fft_complex_f32x4(buf: number, t: number, plan: number, inverse: number): void;
  /** Forward 2D real FFT of a t x t tile of vectors into the packed spectrum (t*t/2 slots). */
  fft2d_forward_f32x4(src: number, rowStride: number, out: number, slotStride: number, t: number, plan: number, ws: number): void;
  /** Unnormalised inverse 2D real FFT (x t*t): packed spectrum -> the first `rows` rows of the tile. */
  fft2d_inverse_f32x4(inp: number, slotStride: number, out: number, rows: number, t: number, plan: number, ws: number): void;
  /** The per-slot complex channel reduction (4 output channels x 1 tile micro-kernel). */
  fft_reduce_f32x4(xt: number, wt: number, yt: number, slots: number, k4: number, c4: number, nt: number): void;
  /** 3x3 stride-1 conv by overlap-save tiled FFT (t = 8 or 16); y (N K Ho Wo) overwritten. */
  conv_fft_f32(
    x: number,
    y: number,
    xi: number,
    xt: number,
    wt: number,
    yt: number,
    plan: number,
    ws: number,
    n: number,
    c: number,
    h: number,
    wd: number,
    k: number,
    pad: number,
    t: number,
  ): void;
}

const SCALAR_EXPORTS = [
  'heap_base',
  'conv_direct_f32',
  'peak_f32',
  'peak_f32_flops_per_iter',
  'copy_f32',
  'triad_f32',
] as const satisfies readonly (keyof ScalarKernels)[];
const SIMD_EXPORTS = [
  'heap_base',
  'gemm_packed_a_floats',
  'conv_im2col_gemm_workspace_floats',
  'gemm_tile',
  'pack_weights',
  'conv_im2col_gemm_f32',
  'conv_im2col_gemm_cols_f32',
  'im2col_f32',
  'sgemm_workspace_floats',
  'sgemm_f32',
  'gemv_f32',
  'depthwise_workspace_floats',
  'conv_depthwise_f32',
  'peak_f32x4',
  'peak_f32x4_flops_per_iter',
  'peak_madd_f32x4',
  'peak_madd_f32x4_flops_per_iter',
  'copy_f32x4',
  'triad_f32x4',
] as const satisfies readonly (keyof SimdKernels)[];
// Compile-time checks that the name lists cover the interfaces.
const scalarComplete: [Exclude<keyof ScalarKernels, (typeof SCALAR_EXPORTS)[number]>] extends [never] ? true : never = true;
const simdComplete: [Exclude<keyof SimdKernels, (typeof SIMD_EXPORTS)[number]>] extends [never] ? true : never = true;
void scalarComplete;
void simdComplete;
const FFT_EXPORTS = [
  'heap_base',
  'fft_plan_floats',
  'fft_workspace_floats',
  'fft_complex_f32x4',
  'fft2d_forward_f32x4',
  'fft2d_inverse_f32x4',
  'fft_reduce_f32x4',
  'conv_fft_f32',
] as const satisfies readonly (keyof FftKernels)[];
const fftComplete: [Exclude<keyof FftKernels, (typeof FFT_EXPORTS)[number]>] extends [never] ? true : never = true;
void fftComplete;

/**
 * winograd.wasm (kernels/assembly/winograd.ts): Winograd F(m x m, r x r)
 * convolution, stride 1, groups 1, driven by float32 transform matrices
 * (BT alpha x alpha, G alpha x r, AT m x alpha, row-major; alpha = m + r - 1).
 */
export interface WinogradKernels {
  heap_base(): number;
  /** 0 MR, 1 NR (the micro-kernel's tile, must match GEMM_TILE), 2 KC, 3 MC (GEMM blocking), 4 largest alpha. */
  winograd_tile(i: number): number;
  /** Floats of the packed transformed filter: alpha^2 * ceil(K/MR)*MR * C. */
  winograd_packed_u_floats(k: number, c: number, alpha: number): number;
  /** Floats of the workspace conv_winograd_f32 needs (padded input, one block of V and M, tables). */
  winograd_workspace_floats(n: number, c: number, h: number, wd: number, k: number, pad: number, m: number, alpha: number, pb: number): number;
  /** U = G g G^T per (k, c), packed per xi as MR-row panels (the micro-kernel's A); ws: >= alpha*r floats. */
  winograd_filter_transform(w: number, g: number, u: number, ws: number, k: number, c: number, m: number, alpha: number): void;
  /**
   * Prepares ws (a conv_winograd_f32 workspace) for bt/at, outside the timed region: compiles the
   * transforms into the generic path's tables and, when flags bit 0 allows the specialised
   * F(2,3)/F(4,3)/F(6,3) transforms, checks once that they reproduce bt/at exactly.
   * Returns 1 if the run will use the specialised transforms, 0 for the generic path.
   */
  winograd_prepare(bt: number, at: number, m: number, alpha: number, ws: number, flags: number): number;
  /**
   * The convolution; y (N K Ho Wo) overwritten; ws prepared by winograd_prepare for m and alpha.
   * pb: tiles per block. Returns 1 if the specialised transforms ran, 0 for the generic path,
   * -1 (nothing computed) if ws was not prepared for this m and alpha.
   */
  conv_winograd_f32(
    x: number,
    u: number,
    y: number,
    ws: number,
    n: number,
    c: number,
    h: number,
    wd: number,
    k: number,
    pad: number,
    m: number,
    alpha: number,
    pb: number,
  ): number;
  /** Bytes of the scratch conv_winograd_f16 needs: one widened U[xi] and the block's V as halves. */
  winograd_f16_scratch_bytes(k: number, c: number, alpha: number, pb: number): number;
  /**
   * fp16 storage: as conv_winograd_f32 with U (u16) stored as halves in the same packed layout and
   * V stored as halves after the block's input transform; both widened to f32 per alpha^2 GEMM.
   */
  conv_winograd_f16(
    x: number,
    u16: number,
    y: number,
    ws: number,
    hs: number,
    n: number,
    c: number,
    h: number,
    wd: number,
    k: number,
    pad: number,
    m: number,
    alpha: number,
    pb: number,
  ): number;
  /** dst[i] = the half (round to nearest even) of the f32 src[i], i < n (f16.ts). */
  f32_to_f16(src: number, dst: number, n: number): void;
}
const WINOGRAD_EXPORTS = [
  'heap_base',
  'winograd_tile',
  'winograd_packed_u_floats',
  'winograd_workspace_floats',
  'winograd_filter_transform',
  'winograd_prepare',
  'conv_winograd_f32',
  'winograd_f16_scratch_bytes',
  'conv_winograd_f16',
  'f32_to_f16',
] as const satisfies readonly (keyof WinogradKernels)[];
const winogradComplete: [Exclude<keyof WinogradKernels, (typeof WINOGRAD_EXPORTS)[number]>] extends [never] ? true : never = true;
void winogradComplete;

/**
 * quant.wasm (kernels/assembly/qgemm.ts ...): int8 convolutions with int32
 * accumulation. Inputs are bytes (int8 or uint8 with a zero point); outputs
 * f32 (mode 0, dequantized with a scale per output channel) or bytes (mode 1
 * int8, mode 2 uint8, requantized with a multiplier per output channel and a
 * zero point). The exact arithmetic each follows: reference/quant.ts.
 */
export interface QuantKernels {
  heap_base(): number;
  /** The GEMM's blocking: 0 MR, 1 NR, 2 KC, 3 NC, 4 MC. */
  qgemm_tile(i: number): number;
  /** Bytes of the packed int16 weights (qpack_weights). */
  qgemm_packed_a_bytes(k: number, kd: number, groups: number): number;
  /** Bytes of the workspace conv_im2col_qgemm needs. */
  qgemm_workspace_bytes(k: number, groups: number): number;
  /** Packs int8 weights (KCRS bytes) into the GEMM's int16 MR-row panels. */
  qpack_weights(w: number, dst: number, k: number, kd: number, groups: number): void;
  /** The int8 im2col + GEMM convolution; y overwritten. xUnsigned: 1 for a uint8 input. */
  conv_im2col_qgemm(
    x: number,
    xUnsigned: number,
    zpx: number,
    wp: number,
    y: number,
    ws: number,
    params: number,
    mode: number,
    zpy: number,
    n: number,
    c: number,
    h: number,
    wd: number,
    k: number,
    r: number,
    s: number,
    stride: number,
    pad: number,
    groups: number,
  ): void;
  /** Bytes of the workspace conv_depthwise_q needs. */
  qdw_workspace_bytes(h: number, wd: number, r: number, s: number, stride: number, pad: number): number;
  /** The int8 depthwise convolution (groups == c == k); w c x R x S int8; y overwritten. */
  conv_depthwise_q(
    x: number,
    xUnsigned: number,
    zpx: number,
    w: number,
    y: number,
    ws: number,
    params: number,
    mode: number,
    zpy: number,
    n: number,
    c: number,
    h: number,
    wd: number,
    r: number,
    s: number,
    stride: number,
    pad: number,
  ): void;
  /** Bytes of the packed U' = (2G) g (2G)^T of Winograd F(2x2, 3x3), 16 int16 panel matrices. */
  qwinograd_packed_u_bytes(k: number, c: number): number;
  /** Bytes of the workspace conv_qwinograd_f2 needs for pb tiles per block. */
  qwinograd_workspace_bytes(c: number, h: number, wd: number, k: number, pad: number, pb: number): number;
  /** int8 Winograd F(2x2, 3x3), stride 1, groups 1, exact (int16 transforms); y overwritten. */
  conv_qwinograd_f2(
    x: number,
    xUnsigned: number,
    zpx: number,
    u: number,
    y: number,
    ws: number,
    params: number,
    mode: number,
    zpy: number,
    n: number,
    c: number,
    h: number,
    wd: number,
    k: number,
    pad: number,
    pb: number,
  ): void;
  /** int8 ceiling: `iters` iterations of 12 chains acc = dot_i16x8(acc, m) + c; returns a hash of the chains. */
  peak_dot_i16x8(iters: number, m: number, c: number): number;
  peak_dot_i16x8_ops_per_iter(): number;
  /** int8 ceiling, GEMM-shaped: acc += dot_i16x8_s(a, b) into a 4x8 tile, operands loaded from an L1 buffer; returns a hash. */
  peak_madd_dot_i16x8(iters: number, buf: number, bufBytes: number): number;
  peak_madd_dot_i16x8_ops_per_iter(): number;
  /** n f32 values at x to int8 (qmin < 0) / uint8 codes at q: clamp(rhe(x / scale) + zp, qmin, qmax), x / scale in float64 (reference/quant.ts). */
  quantize_f32(x: number, q: number, n: number, scale: number, zp: number, qmin: number, qmax: number): void;
}
const QUANT_EXPORTS = [
  'heap_base',
  'qgemm_tile',
  'qgemm_packed_a_bytes',
  'qgemm_workspace_bytes',
  'qpack_weights',
  'conv_im2col_qgemm',
  'qdw_workspace_bytes',
  'conv_depthwise_q',
  'qwinograd_packed_u_bytes',
  'qwinograd_workspace_bytes',
  'conv_qwinograd_f2',
  'peak_dot_i16x8',
  'peak_dot_i16x8_ops_per_iter',
  'peak_madd_dot_i16x8',
  'peak_madd_dot_i16x8_ops_per_iter',
  'quantize_f32',
] as const satisfies readonly (keyof QuantKernels)[];
const quantComplete: [Exclude<keyof QuantKernels, (typeof QUANT_EXPORTS)[number]>] extends [never] ? true : never = true;
void quantComplete;

/**
 * f16.wasm (kernels/assembly/hgemm.ts, depthwise.ts, f16.ts): fp16-storage
 * convolutions. Tensors are IEEE halves (u16); arithmetic is f32; the output is
 * rounded to half (nearest, ties to even).
 */
export interface F16Kernels {
  heap_base(): number;
  /** dst[i] = the f32 value of the half src[i]. */
  f16_to_f32(src: number, dst: number, n: number): void;
  /** dst[i] = the half nearest to src[i] (ties to even). */
  f32_to_f16(src: number, dst: number, n: number): void;
  /** Bytes of the packed half weights (hpack_weights). */
  hgemm_packed_a_bytes(k: number, kd: number, groups: number): number;
  /** Bytes of the workspace conv_im2col_hgemm needs. */
  hgemm_workspace_bytes(k: number, groups: number): number;
  /** Packs half weights (KCRS) into the f32 GEMM's MR-row panels, as halves. */
  hpack_weights(w: number, dst: number, k: number, kd: number, groups: number): void;
  /** fp16-storage im2col + GEMM convolution; y (halves) overwritten. */
  conv_im2col_hgemm(
    x: number,
    wp: number,
    y: number,
    ws: number,
    n: number,
    c: number,
    h: number,
    wd: number,
    k: number,
    r: number,
    s: number,
    stride: number,
    pad: number,
    groups: number,
  ): void;
  /** Floats of the workspace conv_depthwise_f16 needs. */
  depthwise_f16_workspace_floats(h: number, wd: number, r: number, s: number, stride: number, pad: number): number;
  /** fp16-storage depthwise convolution (groups == c == k); w c x R x S halves; y (halves) overwritten. */
  conv_depthwise_f16(
    x: number,
    w: number,
    y: number,
    ws: number,
    n: number,
    c: number,
    h: number,
    wd: number,
    r: number,
    s: number,
    stride: number,
    pad: number,
  ): void;
}
const F16_EXPORTS = [
  'heap_base',
  'f16_to_f32',
  'f32_to_f16',
  'hgemm_packed_a_bytes',
  'hgemm_workspace_bytes',
  'hpack_weights',
  'conv_im2col_hgemm',
  'depthwise_f16_workspace_floats',
  'conv_depthwise_f16',
] as const satisfies readonly (keyof F16Kernels)[];
const f16Complete: [Exclude<keyof F16Kernels, (typeof F16_EXPORTS)[number]>] extends [never] ? true : never = true;
void f16Complete;

/**
 * relaxed.wasm (kernels/assembly/relaxed.ts): the int8 im2col + GEMM
 * convolution on i32x4.relaxed_dot_i8x16_i7x16_add_s (int8 activations, zero point 0).
 */
export interface RelaxedKernels {
  heap_base(): number;
  /** Bytes of the packed int8 weights (rpack_weights). */
  rgemm_packed_a_bytes(k: number, kd: number, groups: number): number;
  /** Bytes of the workspace conv_im2col_rgemm needs. */
  rgemm_workspace_bytes(k: number, groups: number): number;
  /** Packs int8 weights (KCRS) into MR-row panels of quads. */
  rpack_weights(w: number, dst: number, k: number, kd: number, groups: number): void;
  /**
   * The convolution; order 0: activations are the dot's i7 operand, 1: the weights are; fused 1:
   * i32x4.relaxed_dot_i8x16_i7x16_add_s, 0: i16x8.relaxed_dot_i8x16_i7x16_s + extadd + add. y overwritten.
   */
  conv_im2col_rgemm(
    x: number,
    wp: number,
    y: number,
    ws: number,
    params: number,
    mode: number,
    zpy: number,
    order: number,
    fused: number,
    n: number,
    c: number,
    h: number,
    wd: number,
    k: number,
    r: number,
    s: number,
    stride: number,
    pad: number,
    groups: number,
  ): void;
  /** One relaxed dot on the 16-byte vectors at a, b, c: fused 1: 4 x int32 relaxed_dot_add(a, b, c); 0: 8 x int16 relaxed_dot(a, b). */
  relaxed_dot_probe(a: number, b: number, c: number, out: number, fused: number): void;
}
const RELAXED_EXPORTS = [
  'heap_base',
  'rgemm_packed_a_bytes',
  'rgemm_workspace_bytes',
  'rpack_weights',
  'conv_im2col_rgemm',
  'relaxed_dot_probe',
] as const satisfies readonly (keyof RelaxedKernels)[];
const relaxedComplete: [Exclude<keyof RelaxedKernels, (typeof RELAXED_EXPORTS)[number]>] extends [never] ? true : never = true;
void relaxedComplete;

/**
 * sparse.wasm (kernels/assembly/spmm.ts): Y[rows][p] = W X for sparse weights W
 * and channels-first activations X[cols][p] (pixels contiguous); formats as
 * reference/sparse-format.ts encodes them (int32 arrays stored as 4-byte words).
 */
export interface SparseKernels {
  heap_base(): number;
  /** Pixels per tile of the main loop for blocks of `block` output channels (1: 32, 2: 16, 4: 8; 0 if unsupported). */
  spmm_tile(block: number): number;
  /**
   * Output-channel blocks (XNNPACK style): fullBlocks blocks of `block` rows then tailRows single rows;
   * x: the input at its first nonzero row; incr: int32 byte increments; nnzMap: int32 counts.
   * y (rows x p) overwritten. Returns 0, or -1 for an unsupported block size (nothing computed).
   */
  spmm_blocks_f32(block: number, p: number, fullBlocks: number, tailRows: number, x: number, values: number, incr: number, nnzMap: number, y: number): number;
  /** CSR: rowPtr (rows + 1) and colIdx (input rows) int32; y (rows x p) overwritten. */
  spmm_csr_f32(p: number, rows: number, x: number, values: number, colIdx: number, rowPtr: number, y: number): void;
}
const SPARSE_EXPORTS = ['heap_base', 'spmm_tile', 'spmm_blocks_f32', 'spmm_csr_f32'] as const satisfies readonly (keyof SparseKernels)[];
const sparseComplete: [Exclude<keyof SparseKernels, (typeof SPARSE_EXPORTS)[number]>] extends [never] ? true : never = true;
void sparseComplete;

/** graph.wasm (kernels/assembly/graphops.ts): the light runtime's element-wise kernels; x and y may coincide. */
export interface GraphKernels {
  heap_base(): number;
  relu_f32(x: number, y: number, n: number): void;
  relu6_f32(x: number, y: number, n: number): void;
  add_f32(a: number, b: number, y: number, n: number): void;
  /** Per channel over N x C planes of `inner`: y = x * s[c] + t[c], or y = x + t[c] when scale is 0. */
  scale_shift_f32(x: number, y: number, s: number, t: number, n: number, c: number, inner: number, scale: number): void;
}
const GRAPH_EXPORTS = ['heap_base', 'relu_f32', 'relu6_f32', 'add_f32', 'scale_shift_f32'] as const satisfies readonly (keyof GraphKernels)[];
const graphComplete: [Exclude<keyof GraphKernels, (typeof GRAPH_EXPORTS)[number]>] extends [never] ? true : never = true;
void graphComplete;

/** fusion.wasm (kernels/assembly/fused.ts): convolutions with fused epilogues (docs/fusion.md). */
export interface FusionKernels {
  heap_base(): number;
  /** Floats of the workspace conv_epi_f32 needs. */
  conv_epi_workspace_floats(): number;
  /**
   * y = act(conv(x) + bias + res) with the epilogue on each output tile (bias 0 / res 0: none; act 0 none,
   * 1 ReLU, 2 ReLU6); wp packed by simd.pack_weights; y overwritten.
   */
  conv_epi_f32(
    x: number,
    wp: number,
    y: number,
    ws: number,
    n: number,
    c: number,
    h: number,
    wd: number,
    k: number,
    r: number,
    s: number,
    stride: number,
    pad: number,
    groups: number,
    bias: number,
    res: number,
    act: number,
  ): void;
  /** Floats of the workspace dwpw_f32 needs for bands of `rows` output rows. */
  dwpw_workspace_floats(c: number, h: number, wd: number, stride: number, rows: number): number;
  /** Depthwise 3x3 (pad 1) + bias + act, then pointwise (packed, groups 1) + bias + act, band of `rows` rows at a time. */
  dwpw_f32(
    x: number,
    dw: number,
    dwBias: number,
    dwAct: number,
    pw: number,
    pwBias: number,
    pwAct: number,
    y: number,
    ws: number,
    c: number,
    h: number,
    wd: number,
    k: number,
    stride: number,
    rows: number,
  ): void;
}
const FUSION_EXPORTS = [
  'heap_base',
  'conv_epi_workspace_floats',
  'conv_epi_f32',
  'dwpw_workspace_floats',
  'dwpw_f32',
] as const satisfies readonly (keyof FusionKernels)[];
const fusionComplete: [Exclude<keyof FusionKernels, (typeof FUSION_EXPORTS)[number]>] extends [never] ? true : never = true;
void fusionComplete;

/** A float32 buffer in the kernels' memory. */
export interface F32Buffer {
  /** Byte offset in the memory (what the kernels take). */
  readonly ptr: number;
  /** Number of floats. */
  readonly length: number;
  /** A Float32Array over the buffer, re-created if the memory grew since the last call. Throws once released. */
  view(): Float32Array;
}

export interface Kernels {
  /** The memory every module imports. */
  readonly memory: WebAssembly.Memory;
  /** The compiled modules by name (scalar, simd, ...), for worker threads over a shared memory (harness/threads). */
  readonly modules?: Readonly<Record<string, WebAssembly.Module>>;
  readonly scalar: ScalarKernels;
  /** null where the runtime has no WebAssembly SIMD (see simdUnavailable). */
  readonly simd: SimdKernels | null;
  /** Why `simd` is null (undefined when it is loaded). */
  readonly simdUnavailable?: string;
  /** fft.wasm (the tiled FFT conv); null where simd is (it needs WebAssembly SIMD too). */
  readonly fft: FftKernels | null;
  /** winograd.wasm (Winograd F(m x m, 3 x 3) conv); null where simd is (it needs WebAssembly SIMD too). */
  readonly winograd: WinogradKernels | null;
  /** quant.wasm (the int8 kernels); null where simd is (it needs WebAssembly SIMD too). */
  readonly quant: QuantKernels | null;
  /** f16.wasm (the fp16-storage kernels); null where simd is (it needs WebAssembly SIMD too). */
  readonly f16: F16Kernels | null;
  /** relaxed.wasm (the relaxed-SIMD int8 GEMM); null where the runtime has no relaxed SIMD (see relaxedUnavailable). */
  readonly relaxed: RelaxedKernels | null;
  /** Why `relaxed` is null (undefined when it is loaded). */
  readonly relaxedUnavailable?: string;
  /** sparse.wasm (SpMM for sparse convolution); null where simd is (it needs WebAssembly SIMD too). */
  readonly sparse: SparseKernels | null;
  /** graph.wasm (the light runtime's element-wise kernels); null where simd is (it needs WebAssembly SIMD too). */
  readonly graph: GraphKernels | null;
  /** fusion.wasm (conv + epilogue, fused depthwise + pointwise); null where simd is (it needs WebAssembly SIMD too), and in the shared (threaded) flavour. */
  readonly fusion: FusionKernels | null;
  /** The SIMD kernels, or an Error naming `who` needs them. */
  requireSimd(who: string): SimdKernels;
  /** Allocates nFloats floats (zero-filled) aligned to alignBytes (default 64, a power of two >= 4). */
  alloc(nFloats: number, alignBytes?: number): F32Buffer;
  /** alloc + copy of `src`. */
  allocCopy(src: ArrayLike<number>, alignBytes?: number): F32Buffer;
  /** Allocates nBytes bytes (rounded up to whole floats, zero-filled) for byte or int16 data; view() is a Float32Array over them. */
  allocBytes(nBytes: number, alignBytes?: number): F32Buffer;
  /** The current allocation point, for release(). */
  mark(): number;
  /** Frees everything allocated after `mark` (LIFO). */
  release(mark: number): void;
  /** Frees every buffer. */
  reset(): void;
  /** Bytes currently allocated above the heap base. */
  bytesInUse(): number;
  /** Current size of the memory in bytes. */
  memoryBytes(): number;
}

const PAGE = 65536;

/** A WebAssembly module of one function () -> v128 whose code is `body` (locals declaration, instructions, end). */
function v128Module(body: number[]): Uint8Array<ArrayBuffer> {
  // prettier-ignore
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
    0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type section: () -> v128
    0x03, 0x02, 0x01, 0x00, // function section
    0x0a, body.length + 2, 0x01, body.length, ...body, // code section
  ]);
}

/** The smallest module using a SIMD instruction: (func (result v128) i32.const 0 i32x4.splat). */
const SIMD_PROBE = v128Module([0x00, 0x41, 0x00, 0xfd, 0x11, 0x0b]); // no locals; i32.const 0; i32x4.splat; end

/**
 * The smallest module using i32x4.relaxed_dot_i8x16_i7x16_add_s:
 * (func (result v128) v128.const 0 v128.const 0 v128.const 0 i32x4.relaxed_dot_i8x16_i7x16_add_s).
 */
const RELAXED_PROBE = (() => {
  const zero = [0xfd, 0x0c, ...new Array<number>(16).fill(0)]; // v128.const 0
  return v128Module([0x00, ...zero, ...zero, ...zero, 0xfd, 0x93, 0x02, 0x0b]); // no locals, 3 consts, the dot, end
})();

/** Whether this runtime supports WebAssembly relaxed SIMD (Node 20 only with --experimental-wasm-relaxed-simd). */
export function wasmRelaxedSimdSupported(): boolean {
  try {
    return typeof WebAssembly === 'object' && WebAssembly.validate(RELAXED_PROBE);
  } catch {
    return false;
  }
}

/** Why relaxed SIMD is missing here, for `skipped` results. */
export const RELAXED_UNAVAILABLE =
  'no WebAssembly relaxed SIMD on this runtime (Node 20 enables it with --experimental-wasm-relaxed-simd: ' +
  "give the device's node: command that flag, e.g. node: [node, --experimental-wasm-relaxed-simd])";

/** Whether this runtime supports WebAssembly fixed-width SIMD (128-bit). */
export function wasmSimdSupported(): boolean {
  try {
    return typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE);
  } catch {
    return false;
  }
}

class Arena {
  private top: number;
  private nextId = 1;
  /** Live allocations, in allocation order (so release pops from the end). */
  private readonly live: { id: number; ptr: number }[] = [];
  private readonly liveIds = new Set<number>();

  constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly base: number,
  ) {
    this.top = base;
  }

  alloc(nFloats: number, alignBytes = 64): F32Buffer {
    if (!Number.isInteger(nFloats) || nFloats < 0) {
      throw new Error(`kernels.alloc: nFloats must be a non-negative integer, got ${nFloats}`);
    }
    if (!Number.isInteger(alignBytes) || alignBytes < 4 || (alignBytes & (alignBytes - 1)) !== 0) {
      throw new Error(`kernels.alloc: alignBytes must be a power of two >= 4, got ${alignBytes}`);
    }
    const ptr = Math.ceil(this.top / alignBytes) * alignBytes;
    const bytes = nFloats * 4;
    const end = ptr + bytes;
    // Stay below 4 GiB - 64 KiB so every byte offset is a valid i32 pointer for the kernels.
    if (end > 2 ** 32 - PAGE) {
      throw new Error(`kernels.alloc: ${bytes} bytes do not fit in a 32-bit WebAssembly memory (would end at ${end})`);
    }
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      const pages = Math.ceil((end - have) / PAGE);
      try {
        this.memory.grow(pages);
      } catch (cause) {
        throw new Error(
          `kernels.alloc: could not grow the WebAssembly memory from ${have} to ${have + pages * PAGE} bytes ` +
            `(${bytes} bytes requested, ${this.top - this.base} in use); reduce the problem size or free buffers`,
          { cause },
        );
      }
    }
    this.top = end;
    const id = this.nextId++;
    this.live.push({ id, ptr });
    this.liveIds.add(id);
    const memory = this.memory;
    const liveIds = this.liveIds;
    let cached: Float32Array | null = null;
    const buf: F32Buffer = {
      ptr,
      length: nFloats,
      view(): Float32Array {
        if (!liveIds.has(id)) throw new Error(`kernels: buffer at ${ptr} (${nFloats} floats) was released`);
        if (cached === null || cached.buffer !== memory.buffer) cached = new Float32Array(memory.buffer, ptr, nFloats);
        return cached;
      },
    };
    buf.view().fill(0);
    return buf;
  }

  mark(): number {
    return this.top;
  }

  release(mark: number): void {
    if (!Number.isInteger(mark) || mark < this.base || mark > this.top) {
      throw new Error(`kernels.release: mark ${mark} is not between the heap base ${this.base} and the top ${this.top}`);
    }
    for (let last = this.live.at(-1); last !== undefined && last.ptr >= mark; last = this.live.at(-1)) {
      this.live.pop();
      this.liveIds.delete(last.id);
    }
    this.top = mark;
  }

  reset(): void {
    this.release(this.base);
  }

  bytesInUse(): number {
    return this.top - this.base;
  }
}

function checkExports<T extends object>(name: string, instance: WebAssembly.Instance, names: readonly string[]): T {
  const ex = instance.exports as Record<string, unknown>;
  const missing = names.filter((n) => typeof ex[n] !== 'function');
  if (missing.length) {
    throw new Error(`kernels: ${name}.wasm lacks the exports ${missing.join(', ')} (stale build? run npm run build)`);
  }
  return ex as unknown as T;
}

async function compileModule(wasmDir: string, name: string, flavour = ''): Promise<WebAssembly.Module> {
  const path = join(wasmDir, `${name}${flavour}.wasm`);
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (cause) {
    throw new Error(`kernels: cannot read ${path} (build the kernels with npm run build)`, { cause });
  }
  return WebAssembly.compile(bytes);
}

/** The maximum (in 64 KiB pages) of a shared memory made by loadKernels({ shared: true }) unless told: 1 GiB. */
export const SHARED_MEMORY_MAX_PAGES = 16384;

export interface LoadOptions {
  /**
   * Load the shared-memory flavour (<name>.mt.wasm, built with threads and a shared memory) over a
   * WebAssembly.Memory({ shared: true }) of at most maxPages pages (default SHARED_MEMORY_MAX_PAGES),
   * for the threaded kernels (harness/threads): worker threads instantiate the same modules over it.
   */
  shared?: boolean | { maxPages: number };
}

/**
 * Loads scalar.wasm and, where SIMD is supported, simd.wasm from `wasmDir`,
 * instantiated over one memory (shared between threads with `opts.shared`).
 */
export async function loadKernels(wasmDir: string, opts: LoadOptions = {}): Promise<Kernels> {
  const maxPages = typeof opts.shared === 'object' ? opts.shared.maxPages : SHARED_MEMORY_MAX_PAGES;
  const memory = opts.shared ? new WebAssembly.Memory({ initial: 16, maximum: maxPages, shared: true }) : new WebAssembly.Memory({ initial: 16 });
  const imports = { env: { memory } };
  const flavour = opts.shared ? '.mt' : '';
  // The compiled modules, by name: worker threads instantiate the same ones over the shared memory.
  const modules: Record<string, WebAssembly.Module> = {};
  const compile = async (dir: string, name: string) => (modules[name] = await compileModule(dir, name, flavour));

  const scalarModule = await compile(wasmDir, 'scalar');
  const scalar = checkExports<ScalarKernels>('scalar', await WebAssembly.instantiate(scalarModule, imports), SCALAR_EXPORTS);

  let simd: SimdKernels | null = null;
  let simdUnavailable: string | undefined;
  if (wasmSimdSupported()) {
    const simdModule = await compile(wasmDir, 'simd');
    simd = checkExports<SimdKernels>('simd', await WebAssembly.instantiate(simdModule, imports), SIMD_EXPORTS);
    const compiled = [0, 1, 2, 3, 4].map((i) => simd?.gemm_tile(i));
    const expected = [GEMM_TILE.mr, GEMM_TILE.nr, GEMM_TILE.kc, GEMM_TILE.nc, GEMM_TILE.mc];
    if (compiled.join() !== expected.join()) {
      throw new Error(
        `kernels: simd.wasm has GEMM tiles [MR,NR,KC,NC,MC] = [${compiled.join()}], kernels/index.ts GEMM_TILE says ` +
          `[${expected.join()}]: rebuild with npm run build, or update GEMM_TILE`,
      );
    }
  } else {
    simdUnavailable = 'no WebAssembly SIMD on this runtime';
  }
  // The shared flavour holds only the modules the threaded kernels use (KERNEL_MODULES' threads); the others are null.
  const has = (name: KernelModuleName): boolean => !opts.shared || KERNEL_MODULES.some((m) => m.name === name && 'threads' in m && m.threads);
  let fft: FftKernels | null = null;
  if (simd !== null && has('fft')) {
    fft = checkExports<FftKernels>('fft', await WebAssembly.instantiate(await compile(wasmDir, 'fft'), imports), FFT_EXPORTS);
  }
  let winograd: WinogradKernels | null = null;
  if (simd !== null && has('winograd')) {
    const wgModule = await compile(wasmDir, 'winograd');
    winograd = checkExports<WinogradKernels>('winograd', await WebAssembly.instantiate(wgModule, imports), WINOGRAD_EXPORTS);
    const tile = [winograd.winograd_tile(0), winograd.winograd_tile(1)];
    if (tile.join() !== [GEMM_TILE.mr, GEMM_TILE.nr].join()) {
      throw new Error(
        `kernels: winograd.wasm has micro-kernel tile [MR,NR] = [${tile.join()}], kernels/index.ts GEMM_TILE says ` +
          `[${GEMM_TILE.mr},${GEMM_TILE.nr}]: rebuild with npm run build`,
      );
    }
  }

  let quant: QuantKernels | null = null;
  let f16: F16Kernels | null = null;
  let relaxed: RelaxedKernels | null = null;
  let relaxedUnavailable: string | undefined;
  if (simd !== null && opts.shared) {
    relaxedUnavailable = 'the shared-memory (threaded) kernels hold no relaxed-SIMD module';
  } else if (simd !== null) {
    quant = checkExports<QuantKernels>('quant', await WebAssembly.instantiate(await compile(wasmDir, 'quant'), imports), QUANT_EXPORTS);
    f16 = checkExports<F16Kernels>('f16', await WebAssembly.instantiate(await compile(wasmDir, 'f16'), imports), F16_EXPORTS);
    if (wasmRelaxedSimdSupported()) {
      relaxed = checkExports<RelaxedKernels>('relaxed', await WebAssembly.instantiate(await compile(wasmDir, 'relaxed'), imports), RELAXED_EXPORTS);
    } else {
      relaxedUnavailable = RELAXED_UNAVAILABLE;
    }
  } else {
    relaxedUnavailable = simdUnavailable;
  }

  let sparse: SparseKernels | null = null;
  if (simd !== null && has('sparse')) {
    sparse = checkExports<SparseKernels>('sparse', await WebAssembly.instantiate(await compile(wasmDir, 'sparse'), imports), SPARSE_EXPORTS);
  }
  let graph: GraphKernels | null = null;
  if (simd !== null && has('graph')) {
    graph = checkExports<GraphKernels>('graph', await WebAssembly.instantiate(await compile(wasmDir, 'graph'), imports), GRAPH_EXPORTS);
  }

  let fusion: FusionKernels | null = null;
  if (simd !== null && has('fusion')) {
    fusion = checkExports<FusionKernels>('fusion', await WebAssembly.instantiate(await compile(wasmDir, 'fusion'), imports), FUSION_EXPORTS);
  }

  const heapBases = [scalar, simd, fft, winograd, quant, f16, relaxed, sparse, graph, fusion].map((m) => m?.heap_base() ?? 0);
  const base = Math.ceil(Math.max(...heapBases, 1024) / 64) * 64;
  const arena = new Arena(memory, base);

  const kernels: Kernels = {
    memory,
    modules,
    scalar,
    simd,
    fft,
    winograd,
    quant,
    f16,
    relaxed,
    sparse,
    graph,
    fusion,
    ...(simdUnavailable !== undefined ? { simdUnavailable } : {}),
    ...(relaxedUnavailable !== undefined ? { relaxedUnavailable } : {}),
    requireSimd(who: string): SimdKernels {
      if (simd === null) throw new Error(`${who} needs WebAssembly SIMD: ${simdUnavailable ?? 'not loaded'}`);
      return simd;
    },
    alloc: (nFloats, alignBytes) => arena.alloc(nFloats, alignBytes),
    allocCopy(src, alignBytes) {
      const buf = arena.alloc(src.length, alignBytes);
      buf.view().set(src);
      return buf;
    },
    allocBytes: (nBytes, alignBytes) => {
      if (!Number.isInteger(nBytes) || nBytes < 0) throw new Error(`kernels.allocBytes: nBytes must be a non-negative integer, got ${nBytes}`);
      return arena.alloc(Math.ceil(nBytes / 4), alignBytes);
    },
    mark: () => arena.mark(),
    release: (mark) => arena.release(mark),
    reset: () => arena.reset(),
    bytesInUse: () => arena.bytesInUse(),
    memoryBytes: () => memory.buffer.byteLength,
  };
  return kernels;
}
