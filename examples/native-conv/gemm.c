/* See gemm.h. */
#include "gemm.h"

#include <stdlib.h>
#include <string.h>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define MR 6
#define NR 16
#define KERNEL_NAME "AVX2+FMA 6x16"
#elif defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#define MR 8
#define NR 8
#define KERNEL_NAME "NEON (AArch64) 8x8"
#elif defined(__ARM_NEON) && defined(__ARM_FEATURE_FMA)
#include <arm_neon.h>
#define MR 4
#define NR 8
#define KERNEL_NAME "NEON (ARMv7, VFPv4) 4x8"
#else
#define MR 4
#define NR 4
#define KERNEL_NAME "portable C 4x4"
#endif

/* Cache blocking: a KC x NR panel of B stays in L1, an MC x KC block of A in L2, KC x NC of B in L3. */
#define KC 256
#define MC (MR * 24)
#define NC (NR * 128)

struct conv_gemm {
  conv_shape s;
  int m, kd, np;   /* per group: rows (output channels), reduction length, output pixels */
  int mp;          /* m rounded up to MR */
  float *a;        /* packed weights: [group][kc block][MR panel][k][MR] */
  float *b;        /* one packed KC x NC block of im2col(x): [NR panel][k][NR] */
  int k_off[KC], k_r[KC], k_q[KC]; /* per row of the block: input plane offset, filter row and column */
  size_t bytes;
};

const char *conv_gemm_kernel_name(void) { return KERNEL_NAME; }

static void *alloc64(size_t bytes) {
  return aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
}

conv_gemm *conv_gemm_prepare(const conv_shape *s, const float *w) {
  conv_gemm *g = calloc(1, sizeof *g);
  if (!g) return NULL;
  g->s = *s;
  g->m = s->k / s->groups;
  g->kd = (s->c / s->groups) * s->r * s->s;
  g->np = s->ho * s->wo;
  g->mp = (g->m + MR - 1) / MR * MR;
  size_t abytes = (size_t)s->groups * g->mp * g->kd * sizeof(float);
  size_t bbytes = (size_t)KC * NC * sizeof(float);
  g->a = alloc64(abytes);
  g->b = alloc64(bbytes);
  g->bytes = abytes + bbytes;
  if (!g->a || !g->b) {
    conv_gemm_free(g);
    return NULL;
  }
  /* A block (group, pc) starts at a + (group * mp * kd + pc * mp); inside, panel i holds kc x MR floats. */
  for (int grp = 0; grp < s->groups; grp++) {
    const float *wg = w + (size_t)grp * g->m * g->kd;
    for (int pc = 0; pc < g->kd; pc += KC) {
      int kc = g->kd - pc < KC ? g->kd - pc : KC;
      float *blk = g->a + (size_t)grp * g->mp * g->kd + (size_t)pc * g->mp;
      for (int i0 = 0; i0 < g->mp; i0 += MR) {
        float *panel = blk + (size_t)i0 * kc;
        for (int k = 0; k < kc; k++)
          for (int i = 0; i < MR; i++) panel[k * MR + i] = i0 + i < g->m ? wg[(size_t)(i0 + i) * g->kd + pc + k] : 0.0f;
      }
    }
  }
  return g;
}

size_t conv_gemm_bytes(const conv_gemm *g) { return g->bytes; }

void conv_gemm_free(conv_gemm *g) {
  if (!g) return;
  free(g->a);
  free(g->b);
  free(g);
}

/*
 * im2col into packed panels: rows pc .. pc+kc of im2col(x) for output pixels jc .. jc+nc, as
 * NR-column panels (row k of panel j at b[(j * kc + k) * NR]), zeros for padding and past the end.
 * Panel by panel, so the block is written sequentially; a panel whose NR pixels lie in one output
 * row and, for this filter tap, inside the image (most of them) is a plain strided copy.
 */
static void pack_b(conv_gemm *g, const float *xg, int pc, int kc, int jc, int nc) {
  const conv_shape *s = &g->s;
  int rs = s->r * s->s;
  for (int k = 0; k < kc; k++) {
    int kk = pc + k;
    g->k_off[k] = (kk / rs) * s->h * s->w; /* the input channel's plane */
    g->k_r[k] = (kk % rs) / s->s;
    g->k_q[k] = kk % s->s;
  }
  int ih0[NR], iw0[NR];
  for (int j0 = 0; j0 < nc; j0 += NR) {
    int cnt = nc - j0 < NR ? nc - j0 : NR;
    for (int j = 0; j < cnt; j++) {
      int pix = jc + j0 + j;
      ih0[j] = (pix / s->wo) * s->stride - s->pad;
      iw0[j] = (pix % s->wo) * s->stride - s->pad;
    }
    int one_row = cnt == NR && ih0[0] == ih0[NR - 1];
    float *dst = g->b + (size_t)(j0 / NR) * kc * NR;
    for (int k = 0; k < kc; k++, dst += NR) {
      const float *xc = xg + g->k_off[k];
      int r = g->k_r[k], q = g->k_q[k];
      if (one_row) {
        int ih = ih0[0] + r, iwa = iw0[0] + q, iwb = iw0[NR - 1] + q;
        if (ih >= 0 && ih < s->h && iwa >= 0 && iwb < s->w) {
          const float *src = xc + ih * s->w + iwa;
          if (s->stride == 1)
            for (int j = 0; j < NR; j++) dst[j] = src[j];
          else
            for (int j = 0; j < NR; j++) dst[j] = src[j * s->stride];
          continue;
        }
      }
      for (int j = 0; j < NR; j++) {
        float v = 0.0f;
        if (j < cnt) {
          int ih = ih0[j] + r, iw = iw0[j] + q;
          if (ih >= 0 && ih < s->h && iw >= 0 && iw < s->w) v = xc[ih * s->w + iw];
        }
        dst[j] = v;
      }
    }
  }
}

/* C[MR x NR] (ldc) = (accumulate ? C : 0) + A panel (kc x MR) * B panel (kc x NR); only mr x nr written. */
static void micro_kernel(int kc, const float *a, const float *b, float *c, int ldc, int mr, int nr, int accumulate) {
  float tile[MR * NR] __attribute__((aligned(64)));
#if defined(__AVX2__) && defined(__FMA__)
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(), c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps(), c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  /* Row i of the tile: broadcast a[k][i], two FMAs into its 16 columns (12 accumulators, 2 B, 1 A of the 16 ymm). */
#define ROW_FMA(i)                                      \
  do {                                                  \
    __m256 ai = _mm256_broadcast_ss(ak + (i));          \
    c##i##0 = _mm256_fmadd_ps(ai, b0, c##i##0);         \
    c##i##1 = _mm256_fmadd_ps(ai, b1, c##i##1);         \
  } while (0)
#define ROW_STORE(i) (_mm256_store_ps(tile + (i) * NR, c##i##0), _mm256_store_ps(tile + (i) * NR + 8, c##i##1))
  for (int k = 0; k < kc; k++) {
    __m256 b0 = _mm256_load_ps(b + k * NR), b1 = _mm256_load_ps(b + k * NR + 8);
    const float *ak = a + k * MR;
    ROW_FMA(0);
    ROW_FMA(1);
    ROW_FMA(2);
    ROW_FMA(3);
    ROW_FMA(4);
    ROW_FMA(5);
  }
  ROW_STORE(0), ROW_STORE(1), ROW_STORE(2), ROW_STORE(3), ROW_STORE(4), ROW_STORE(5);
#undef ROW_FMA
#undef ROW_STORE
#elif defined(__ARM_NEON) && (defined(__aarch64__) || defined(__ARM_FEATURE_FMA))
  float32x4_t acc[MR][2];
  for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = vdupq_n_f32(0.0f);
  for (int k = 0; k < kc; k++) {
    float32x4_t b0 = vld1q_f32(b + k * NR), b1 = vld1q_f32(b + k * NR + 4);
    const float *ak = a + k * MR;
    for (int i = 0; i < MR; i++) {
      float32x4_t ai = vdupq_n_f32(ak[i]);
      acc[i][0] = vfmaq_f32(acc[i][0], ai, b0);
      acc[i][1] = vfmaq_f32(acc[i][1], ai, b1);
    }
  }
  for (int i = 0; i < MR; i++) vst1q_f32(tile + i * NR, acc[i][0]), vst1q_f32(tile + i * NR + 4, acc[i][1]);
#else
  float acc[MR][NR];
  memset(acc, 0, sizeof acc);
  for (int k = 0; k < kc; k++)
    for (int i = 0; i < MR; i++)
      for (int j = 0; j < NR; j++) acc[i][j] += a[k * MR + i] * b[k * NR + j];
  memcpy(tile, acc, sizeof acc);
#endif
  for (int i = 0; i < mr; i++) {
    float *ci = c + (size_t)i * ldc;
    const float *ti = tile + i * NR;
    if (accumulate)
      for (int j = 0; j < nr; j++) ci[j] += ti[j];
    else
      for (int j = 0; j < nr; j++) ci[j] = ti[j];
  }
}

void conv_gemm_run(conv_gemm *g, const float *x, float *y) {
  const conv_shape *s = &g->s;
  int cg = s->c / s->groups;
  for (int img = 0; img < s->n; img++) {
    for (int grp = 0; grp < s->groups; grp++) {
      const float *xg = x + ((size_t)img * s->c + (size_t)grp * cg) * s->h * s->w;
      float *yg = y + ((size_t)img * s->k + (size_t)grp * g->m) * g->np;
      const float *ag = g->a + (size_t)grp * g->mp * g->kd;
      for (int jc = 0; jc < g->np; jc += NC) {
        int nc = g->np - jc < NC ? g->np - jc : NC;
        for (int pc = 0; pc < g->kd; pc += KC) {
          int kc = g->kd - pc < KC ? g->kd - pc : KC;
          pack_b(g, xg, pc, kc, jc, nc);
          const float *ablk = ag + (size_t)pc * g->mp;
          for (int ic = 0; ic < g->m; ic += MC) {
            int mc = g->m - ic < MC ? g->m - ic : MC;
            for (int jr = 0; jr < nc; jr += NR) {
              int nr = nc - jr < NR ? nc - jr : NR;
              const float *bp = g->b + (size_t)(jr / NR) * kc * NR;
              for (int ir = 0; ir < mc; ir += MR) {
                int mr = mc - ir < MR ? mc - ir : MR;
                const float *ap = ablk + (size_t)(ic + ir) * kc;
                micro_kernel(kc, ap, bp, yg + (size_t)(ic + ir) * g->np + jc + jr, g->np, mr, nr, pc > 0);
              }
            }
          }
        }
      }
    }
  }
}

void conv_direct(const conv_shape *s, const float *x, const float *w, float *y) {
  int cg = s->c / s->groups, kg = s->k / s->groups;
  for (int img = 0; img < s->n; img++)
    for (int o = 0; o < s->k; o++) {
      int grp = o / kg;
      const float *wo = w + (size_t)o * cg * s->r * s->s;
      float *yo = y + ((size_t)img * s->k + o) * s->ho * s->wo;
      for (int i = 0; i < s->ho; i++)
        for (int j = 0; j < s->wo; j++) {
          float acc = 0.0f;
          for (int ch = 0; ch < cg; ch++) {
            const float *xc = x + ((size_t)img * s->c + (size_t)grp * cg + ch) * s->h * s->w;
            for (int r = 0; r < s->r; r++) {
              int ih = i * s->stride - s->pad + r;
              if (ih < 0 || ih >= s->h) continue;
              for (int q = 0; q < s->s; q++) {
                int iw = j * s->stride - s->pad + q;
                if (iw < 0 || iw >= s->w) continue;
                acc += xc[ih * s->w + iw] * wo[(ch * s->r + r) * s->s + q];
              }
            }
          }
          yo[i * s->wo + j] = acc;
        }
    }
}
