/*
 * native-ceilings: the native roof of this CPU, single thread, printed as JSON in the
 * MeasuredCeilings schema roofbench stores for its WebAssembly roof (core/contracts.ts), so a
 * native kernel's distance from its own roof can be drawn (docs/native-kernels.md).
 *
 *   native-ceilings [--quick] [--max-bytes N]
 *
 * Peak (GFLOP/s): ACC independent chains acc = acc * m + c of fused multiply-adds (AVX2 + FMA 8-lane
 * vfmadd on x86-64, NEON 4-lane vfma on ARM, fmaf otherwise), enough chains to cover the FMA latency
 * on every FMA pipe; 2 FLOPs per lane per FMA. Each sample lasts >= 20 ms; the peak is the best sample.
 * For context, the scalar fmaf peak too.
 *
 * Bandwidth (GB/s, 1e9 bytes/s): copy (a[i] = b[i]) and triad (a[i] = b[i] + s * c[i]) swept over
 * working sets from 16 KiB (L1) to max(4 x last-level cache, 64 MiB), capped at 256 MiB (64 MiB
 * with --quick, or --max-bytes) and at a quarter of the free memory, x2 steps (x4 quick). Bytes are
 * counted STREAM style, as roofbench's WebAssembly probe counts them: copy 8 bytes per float, triad
 * 12; write-allocate traffic is not counted. Each sample runs enough passes to last >= 5 ms; a
 * point's figure is its best sample; dramGbps is the better of copy and triad at the largest size.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define VEC "AVX2+FMA 8-lane vfmadd231ps"
#define LANES 8
#define ACC 12
typedef __m256 vec;
#define VSET(x) _mm256_set1_ps(x)
#define VFMA(acc, m, c) _mm256_fmadd_ps(acc, m, c)
static float vsum(vec v) {
  float t[8];
  _mm256_storeu_ps(t, v);
  return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
}
#elif defined(__ARM_NEON) && (defined(__aarch64__) || defined(__ARM_FEATURE_FMA))
#include <arm_neon.h>
#define VEC "NEON 4-lane vfma"
#define LANES 4
#if defined(__aarch64__)
#define ACC 16
#else
#define ACC 10
#endif
typedef float32x4_t vec;
#define VSET(x) vdupq_n_f32(x)
#define VFMA(acc, m, c) vfmaq_f32(c, acc, m)
static float vsum(vec v) { return vgetq_lane_f32(v, 0) + vgetq_lane_f32(v, 1) + vgetq_lane_f32(v, 2) + vgetq_lane_f32(v, 3); }
#else
#define VEC "scalar fmaf"
#define LANES 1
#define ACC 8
typedef float vec;
#define VSET(x) (x)
#define VFMA(acc, m, c) fmaf(acc, m, c)
static float vsum(vec v) { return v; }
#endif

static volatile float sink;

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* iters x ACC chains of FMAs (the vector kernel). */
static void fma_chains(long iters) {
  vec acc[ACC];
  for (int i = 0; i < ACC; i++) acc[i] = VSET(1.0f + (float)i * 1e-3f);
  const vec m = VSET(0.999999f), c = VSET(1e-6f);
  for (long it = 0; it < iters; it++)
    for (int i = 0; i < ACC; i++) acc[i] = VFMA(acc[i], m, c);
  float s = 0;
  for (int i = 0; i < ACC; i++) s += vsum(acc[i]);
  sink = s;
}

/* The same with scalar fmaf (8 chains). */
static void scalar_chains(long iters) {
  float a[8];
  for (int i = 0; i < 8; i++) a[i] = 1.0f + (float)i * 1e-3f;
  for (long it = 0; it < iters; it++)
    for (int i = 0; i < 8; i++) a[i] = fmaf(a[i], 0.999999f, 1e-6f);
  sink = a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7];
}

/* Calls fn(count) with count grown until a call lasts min_ms, then takes `samples` samples; returns the count. */
static long calibrate(void (*fn)(long), long count, double min_ms, int samples, double *ms) {
  fn(count);
  for (;;) {
    double t0 = now_ms();
    fn(count);
    double dt = now_ms() - t0;
    if (dt >= min_ms) break;
    double f = dt > min_ms / 50 ? 1.2 * min_ms / dt : 2.0;
    long next = (long)ceil((double)count * (f < 64 ? f : 64));
    count = next > count ? next : count + 1;
  }
  for (int i = 0; i < samples; i++) {
    double t0 = now_ms();
    fn(count);
    ms[i] = now_ms() - t0;
  }
  return count;
}

static float *A, *B, *C;
static size_t N;
static int KERNEL; /* 0 copy, 1 triad */

static void bw_passes(long passes) {
  float *restrict a = A;
  const float *restrict b = B, *restrict c = C;
  for (long p = 0; p < passes; p++) {
    if (KERNEL == 0)
      for (size_t i = 0; i < N; i++) a[i] = b[i];
    else
      for (size_t i = 0; i < N; i++) a[i] = b[i] + 1.5f * c[i];
    __asm__ __volatile__("" : : "r"(a) : "memory"); /* the passes must all happen */
  }
}

static size_t cache_bytes(int name) {
#ifdef _SC_LEVEL3_CACHE_SIZE
  long v = sysconf(name);
  return v > 0 ? (size_t)v : 0;
#else
  (void)name;
  return 0;
#endif
}

static void print_samples(const double *x, int n) {
  for (int i = 0; i < n; i++) printf("%s%.6g", i ? ", " : "", x[i]);
}

int main(int argc, char **argv) {
  int quick = 0;
  size_t max_bytes = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) quick = 1;
    else if (strcmp(argv[i], "--max-bytes") == 0 && i + 1 < argc) max_bytes = strtoull(argv[++i], NULL, 10);
    else {
      fprintf(stderr, "usage: native-ceilings [--quick] [--max-bytes N]\n");
      return 2;
    }
  }
  enum { PEAK_SAMPLES = 10, MAX_SAMPLES = 5 };
  double ms[PEAK_SAMPLES];
  int psamples = quick ? 5 : PEAK_SAMPLES;

  long iters = calibrate(fma_chains, 1000, 20.0, psamples, ms);
  double flops = (double)iters * ACC * LANES * 2;
  double peak[PEAK_SAMPLES], best = 0;
  for (int i = 0; i < psamples; i++) {
    peak[i] = flops / (ms[i] * 1e6);
    if (peak[i] > best) best = peak[i];
  }
  long siters = calibrate(scalar_chains, 1000, 20.0, 3, ms);
  double sbest = 0;
  for (int i = 0; i < 3; i++) {
    double g = (double)siters * 8 * 2 / (ms[i] * 1e6);
    if (g > sbest) sbest = g;
  }

  size_t llc = cache_bytes(
#ifdef _SC_LEVEL3_CACHE_SIZE
      _SC_LEVEL3_CACHE_SIZE
#else
      0
#endif
  );
#ifdef _SC_LEVEL2_CACHE_SIZE
  if (!llc) llc = cache_bytes(_SC_LEVEL2_CACHE_SIZE);
#endif
  if (!llc) llc = 8u << 20;
  size_t cap = 4 * llc > (64u << 20) ? 4 * llc : (64u << 20);
  size_t limit = quick ? (64u << 20) : (256u << 20);
  if (cap > limit) cap = limit;
  long avail = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (avail > 0 && page > 0) {
    size_t quarter = (size_t)avail * (size_t)page / 4;
    if (quarter < (16u << 20)) quarter = 16u << 20;
    if (cap > quarter) cap = quarter;
  }
  if (max_bytes && cap > max_bytes) cap = max_bytes;
  size_t step = quick ? 4 : 2;

  /* The largest working set: copy's two arrays of cap / 2 (triad's three of cap / 3 fit in them). */
  size_t half = (cap / 2 + 63) / 64 * 64;
  A = aligned_alloc(64, half);
  B = aligned_alloc(64, half);
  C = aligned_alloc(64, half);
  if (!A || !B || !C) {
    fprintf(stderr, "native-ceilings: cannot allocate 3 x %zu bytes\n", half);
    return 1;
  }
  for (size_t i = 0; i < half / sizeof(float); i++) A[i] = 0, B[i] = 1, C[i] = 2;

  printf("{\n  \"peakGflops\": %.6g,\n  \"peakSamples\": [", best);
  print_samples(peak, psamples);
  printf("],\n  \"peakMethod\": \"native %s: %d independent chains acc = acc * m + c, %d lanes, 2 FLOPs per lane per FMA, single thread; "
         "best of %d samples of >= 20 ms\",\n  \"scalarPeakGflops\": %.6g,\n  \"bandwidth\": [",
         VEC, ACC, LANES, psamples, sbest);
  int nsamples = quick ? 3 : MAX_SAMPLES;
  double dram[2] = {0, 0};
  int first = 1;
  for (KERNEL = 0; KERNEL < 2; KERNEL++) {
    size_t arrays = KERNEL == 0 ? 2 : 3;
    for (size_t ws = 16u << 10; ws <= cap; ws *= step) {
      N = ws / arrays / sizeof(float);
      long passes = calibrate(bw_passes, 1, 5.0, nsamples, ms);
      double bytes = (double)N * sizeof(float) * (double)arrays;
      double gbps[MAX_SAMPLES], top = 0;
      for (int i = 0; i < nsamples; i++) {
        gbps[i] = bytes * (double)passes / (ms[i] * 1e6);
        if (gbps[i] > top) top = gbps[i];
      }
      dram[KERNEL] = top;
      printf("%s\n    {\"kernel\": \"%s\", \"bytes\": %.0f, \"gbps\": %.6g, \"samples\": [", first ? "" : ",", KERNEL == 0 ? "copy" : "triad", bytes, top);
      print_samples(gbps, nsamples);
      printf("]}");
      first = 0;
      fprintf(stderr, "native-ceilings: %s %zu bytes: %.2f GB/s\n", KERNEL == 0 ? "copy" : "triad", (size_t)bytes, top);
    }
  }
  printf("\n  ],\n  \"dramGbps\": %.6g\n}\n", dram[0] > dram[1] ? dram[0] : dram[1]);
  fprintf(stderr, "native-ceilings: peak %.2f GFLOP/s (%s), scalar %.2f GFLOP/s\n", best, VEC, sbest);
  free(A);
  free(B);
  free(C);
  return fflush(stdout) == 0 ? 0 : 1;
}
