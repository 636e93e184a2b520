/*
 * native-conv: a convolution kernel that speaks roofbench's external-kernel protocol
 * (docs/native-kernels.md).
 *
 *   native-conv [--algo gemm|direct] WORKDIR
 *   native-conv --info                      the build's micro-kernel, as JSON
 *
 * Reads WORKDIR/case.json (shape, timing protocol), WORKDIR/x.npy (N C H W) and WORKDIR/w.npy
 * (K C/groups R S); packs the weights (gemm; outside the timed region); runs the kernel as the
 * timing protocol says (warm-up runs, then `repeat` repeats of `number` runs, `number` grown as
 * TVM's time_evaluator grows it until a repeat lasts minRepeatMs); writes WORKDIR/out.npy from the
 * last run and prints the repeats on stdout as Google Benchmark JSON. Diagnostics go to stderr.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gemm.h"
#include "json.h"
#include "npy.h"

static double now_ms(clockid_t clock) {
  struct timespec t;
  clock_gettime(clock, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void die(const char *fmt, const char *arg) {
  fprintf(stderr, "native-conv: ");
  fprintf(stderr, fmt, arg);
  fputc('\n', stderr);
  exit(1);
}

typedef struct {
  conv_shape s;
  int warmup, repeat, number;
  double min_repeat_ms;
  char variant[128], case_id[256];
} case_file;

static int int_field(const json_value *root, const char *path) {
  const json_value *v = json_get(root, path);
  if (!v || v->type != JSON_NUMBER || v->number != floor(v->number)) die("case.json: %s is missing or not an integer", path);
  return (int)v->number;
}

static void read_case(const char *path, case_file *cf) {
  char err[512];
  json_value *root = json_parse_file(path, err, sizeof err);
  if (!root) die("%s", err);
  conv_shape *s = &cf->s;
  s->n = int_field(root, "shape.n"), s->c = int_field(root, "shape.c"), s->h = int_field(root, "shape.h");
  s->w = int_field(root, "shape.w"), s->k = int_field(root, "shape.k"), s->r = int_field(root, "shape.r");
  s->s = int_field(root, "shape.s"), s->stride = int_field(root, "shape.stride"), s->pad = int_field(root, "shape.pad");
  s->groups = int_field(root, "shape.groups");
  s->ho = (s->h + 2 * s->pad - s->r) / s->stride + 1;
  s->wo = (s->w + 2 * s->pad - s->s) / s->stride + 1;
  cf->warmup = int_field(root, "timing.warmup");
  cf->repeat = int_field(root, "timing.repeat");
  cf->number = int_field(root, "timing.number");
  const json_value *m = json_get(root, "timing.minRepeatMs");
  if (!m || m->type != JSON_NUMBER || !(m->number > 0)) die("case.json: %s is missing or not a positive number", "timing.minRepeatMs");
  cf->min_repeat_ms = m->number;
  const json_value *v = json_get(root, "variant"), *c = json_get(root, "case");
  snprintf(cf->variant, sizeof cf->variant, "%s", v && v->type == JSON_STRING ? v->string : "native-conv");
  snprintf(cf->case_id, sizeof cf->case_id, "%s", c && c->type == JSON_STRING ? c->string : "case");
  json_free(root);
  if (s->groups < 1 || s->c % s->groups || s->k % s->groups || s->ho < 1 || s->wo < 1 || s->stride < 1 || cf->repeat < 1 || cf->number < 1)
    die("%s: invalid shape or timing", path);
}

static void expect_shape(const npy_f32 *a, const char *name, size_t d0, size_t d1, size_t d2, size_t d3) {
  if (a->ndim != 4 || a->shape[0] != d0 || a->shape[1] != d1 || a->shape[2] != d2 || a->shape[3] != d3)
    die("%s does not have the shape case.json describes", name);
}

/* A JSON string literal's content: the variant and case names are plain (the harness validated them). */
static void print_escaped(const char *s) {
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') putchar('\\');
    if ((unsigned char)*s >= 0x20) putchar(*s);
  }
}

int main(int argc, char **argv) {
  const char *algo = "gemm", *work = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--algo") == 0 && i + 1 < argc) algo = argv[++i];
    else if (strcmp(argv[i], "--info") == 0) {
      printf("{\"kernel\": \"%s\"}\n", conv_gemm_kernel_name());
      return 0;
    } else if (argv[i][0] == '-') die("unknown option %s (usage: native-conv [--algo gemm|direct] WORKDIR)", argv[i]);
    else work = argv[i];
  }
  if (!work) die("%s", "usage: native-conv [--algo gemm|direct] WORKDIR");
  int gemm = strcmp(algo, "gemm") == 0;
  if (!gemm && strcmp(algo, "direct") != 0) die("unknown --algo %s (gemm or direct)", algo);

  char path[4096], err[512];
  case_file cf;
  snprintf(path, sizeof path, "%s/case.json", work);
  read_case(path, &cf);
  const conv_shape *s = &cf.s;
  npy_f32 x, w;
  snprintf(path, sizeof path, "%s/x.npy", work);
  if (npy_read_f32(path, &x, err, sizeof err)) die("%s", err);
  snprintf(path, sizeof path, "%s/w.npy", work);
  if (npy_read_f32(path, &w, err, sizeof err)) die("%s", err);
  expect_shape(&x, "x.npy", (size_t)s->n, (size_t)s->c, (size_t)s->h, (size_t)s->w);
  expect_shape(&w, "w.npy", (size_t)s->k, (size_t)(s->c / s->groups), (size_t)s->r, (size_t)s->s);
  size_t ycount = (size_t)s->n * s->k * s->ho * s->wo;
  float *y = aligned_alloc(64, (ycount * sizeof(float) + 63) / 64 * 64);
  if (!y) die("%s", "out of memory");

  double t0 = now_ms(CLOCK_MONOTONIC);
  conv_gemm *g = NULL;
  if (gemm) {
    g = conv_gemm_prepare(s, w.data);
    if (!g) die("%s", "out of memory packing the weights");
  }
  fprintf(stderr, "native-conv: %s (%s), prepare %.3f ms\n", gemm ? "im2col + GEMM" : "direct", gemm ? conv_gemm_kernel_name() : "scalar C",
          now_ms(CLOCK_MONOTONIC) - t0);

  /* The timing protocol (case.json timing; TVM's time_evaluator). */
  for (int i = 0; i < cf.warmup; i++) gemm ? conv_gemm_run(g, x.data, y) : conv_direct(s, x.data, w.data, y);
  int number = cf.number;
  printf("{\n  \"context\": {\"executable\": \"native-conv\", \"kernel\": \"%s\", \"library_build_type\": \"release\"},\n  \"benchmarks\": [", gemm ? conv_gemm_kernel_name() : "direct scalar C");
  for (int rep = 0; rep < cf.repeat; rep++) {
    double ms, cpu;
    for (;;) {
      double c0 = now_ms(CLOCK_PROCESS_CPUTIME_ID), r0 = now_ms(CLOCK_MONOTONIC);
      for (int i = 0; i < number; i++) gemm ? conv_gemm_run(g, x.data, y) : conv_direct(s, x.data, w.data, y);
      ms = now_ms(CLOCK_MONOTONIC) - r0;
      cpu = now_ms(CLOCK_PROCESS_CPUTIME_ID) - c0;
      if (ms >= cf.min_repeat_ms) break;
      double per = ms / number;
      double aim = per > 0 ? floor(cf.min_repeat_ms / per + 1) : 2.0 * number;
      double grown = floor(number * 1.618);
      double next = aim > grown ? aim : grown;
      number = next > number ? (next < 1e9 ? (int)next : 1000000000) : number + 1;
    }
    printf("%s\n    {\"name\": \"", rep ? "," : "");
    print_escaped(cf.variant);
    putchar('/');
    print_escaped(cf.case_id);
    printf("\", \"run_type\": \"iteration\", \"repetitions\": %d, \"repetition_index\": %d, \"threads\": 1, \"iterations\": %d, "
           "\"real_time\": %.9g, \"cpu_time\": %.9g, \"time_unit\": \"ms\"}",
           cf.repeat, rep, number, ms / number, cpu / number);
  }
  printf("\n  ]\n}\n");

  size_t yshape[4] = {(size_t)s->n, (size_t)s->k, (size_t)s->ho, (size_t)s->wo};
  snprintf(path, sizeof path, "%s/out.npy", work);
  if (npy_write_f32(path, y, yshape, 4, err, sizeof err)) die("%s", err);
  conv_gemm_free(g);
  npy_free(&x);
  npy_free(&w);
  free(y);
  return fflush(stdout) == 0 ? 0 : 1;
}
