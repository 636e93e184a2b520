/*
 * Convolution as a blocked GEMM (im2col + GEMM), single thread:
 *   out[g][M x N] = W[g][M x K] * im2col(x)[g][K x N],  M = K_out/groups, K = C/groups*R*S, N = Ho*Wo,
 * per image and group. The weights are packed into MR-row panels once (conv_gemm_prepare, outside
 * the timed region); the timed conv_gemm_run writes im2col(x) directly as packed NR-column panels,
 * one KC x NC block at a time (the im2col matrix is never materialised), and runs an MR x NR
 * register-blocked micro-kernel over them (BLIS's loop order).
 *
 * The micro-kernel is chosen at compile time: AVX2 + FMA (6 x 16, x86-64), NEON (8 x 8 on AArch64,
 * 4 x 8 on 32-bit ARM with VFPv4 fused multiply-add), else portable C (4 x 4).
 */
#ifndef GEMM_H
#define GEMM_H

#include <stddef.h>

typedef struct {
  int n, c, h, w, k, r, s, stride, pad, groups;
  int ho, wo;
} conv_shape;

typedef struct conv_gemm conv_gemm;

/* What the build's micro-kernel is, e.g. "AVX2+FMA 6x16". */
const char *conv_gemm_kernel_name(void);
/* Packs the weights (KCRS) and allocates the workspace; NULL when out of memory. */
conv_gemm *conv_gemm_prepare(const conv_shape *s, const float *w);
/* y (N K Ho Wo) = conv(x (N C H W)). */
void conv_gemm_run(conv_gemm *g, const float *x, float *y);
/* Bytes of the packed weights and workspace. */
size_t conv_gemm_bytes(const conv_gemm *g);
void conv_gemm_free(conv_gemm *g);

/* The plain loop nest (any stride, padding, groups): the reference point. */
void conv_direct(const conv_shape *s, const float *x, const float *w, float *y);

#endif
