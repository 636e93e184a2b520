/* See npy.h. */
#include "npy.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char MAGIC[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

static int fail(char *err, size_t errlen, const char *path, const char *what) {
  snprintf(err, errlen, "%s: %s", path, what);
  return -1;
}

/* The value text after 'key': in the header dict, or NULL. */
static const char *header_value(const char *header, const char *key) {
  char quoted[32];
  snprintf(quoted, sizeof quoted, "'%s'", key);
  const char *p = strstr(header, quoted);
  if (!p) {
    snprintf(quoted, sizeof quoted, "\"%s\"", key);
    p = strstr(header, quoted);
  }
  if (!p) return NULL;
  p = strchr(p + strlen(quoted), ':');
  if (!p) return NULL;
  p++;
  while (*p == ' ') p++;
  return p;
}

int npy_read_f32(const char *path, npy_f32 *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  FILE *f = fopen(path, "rb");
  if (!f) return fail(err, errlen, path, strerror(errno));
  unsigned char pre[12];
  if (fread(pre, 1, 10, f) != 10 || memcmp(pre, MAGIC, 6) != 0) {
    fclose(f);
    return fail(err, errlen, path, "not a .npy file");
  }
  size_t hlen;
  if (pre[6] == 1) {
    hlen = (size_t)pre[8] | ((size_t)pre[9] << 8);
  } else if (pre[6] == 2 || pre[6] == 3) {
    if (fread(pre + 10, 1, 2, f) != 2) {
      fclose(f);
      return fail(err, errlen, path, "truncated header");
    }
    hlen = (size_t)pre[8] | ((size_t)pre[9] << 8) | ((size_t)pre[10] << 16) | ((size_t)pre[11] << 24);
  } else {
    fclose(f);
    return fail(err, errlen, path, "unsupported .npy version");
  }
  if (hlen > 65536) {
    fclose(f);
    return fail(err, errlen, path, "header too large");
  }
  char *header = malloc(hlen + 1);
  if (!header || fread(header, 1, hlen, f) != hlen) {
    free(header);
    fclose(f);
    return fail(err, errlen, path, "truncated header");
  }
  header[hlen] = '\0';
  const char *descr = header_value(header, "descr");
  const char *fortran = header_value(header, "fortran_order");
  const char *shape = header_value(header, "shape");
  const char *why = NULL;
  if (!descr || !fortran || !shape) why = "header lacks descr, fortran_order or shape";
  else if (strncmp(descr, "'<f4'", 5) != 0 && strncmp(descr, "\"<f4\"", 5) != 0) why = "dtype is not little-endian float32 ('<f4')";
  else if (strncmp(fortran, "False", 5) != 0) why = "Fortran order is not supported (write C order)";
  else if (*shape != '(') why = "shape is not a tuple";
  if (why) {
    free(header);
    fclose(f);
    return fail(err, errlen, path, why);
  }
  out->count = 1;
  const char *p = shape + 1;
  for (;;) {
    while (*p == ' ' || *p == ',') p++;
    if (*p == ')') break;
    char *end;
    unsigned long long d = strtoull(p, &end, 10);
    if (end == p || out->ndim == NPY_MAX_DIMS) {
      free(header);
      fclose(f);
      return fail(err, errlen, path, "bad shape");
    }
    out->shape[out->ndim++] = (size_t)d;
    out->count *= (size_t)d;
    p = end;
    if (*p == 'L') p++;
  }
  free(header);
  size_t bytes = out->count * sizeof(float);
  out->data = aligned_alloc(64, bytes ? (bytes + 63) / 64 * 64 : 64);
  if (!out->data) {
    fclose(f);
    return fail(err, errlen, path, "out of memory");
  }
  if (fread(out->data, 1, bytes, f) != bytes) {
    fclose(f);
    npy_free(out);
    return fail(err, errlen, path, "truncated data");
  }
  fclose(f);
  return 0;
}

int npy_write_f32(const char *path, const float *data, const size_t *shape, int ndim, char *err, size_t errlen) {
  char dict[512];
  int n = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
  size_t count = 1;
  for (int i = 0; i < ndim; i++) {
    n += snprintf(dict + n, sizeof dict - (size_t)n, i ? ", %zu" : "%zu", shape[i]);
    count *= shape[i];
  }
  n += snprintf(dict + n, sizeof dict - (size_t)n, ndim == 1 ? ",), }" : "), }");
  /* numpy's spare room for the first axis to grow in place (21 digits), then padding to 64 bytes. */
  if (ndim > 0) {
    char digits[32];
    int len = snprintf(digits, sizeof digits, "%zu", shape[0]);
    for (int i = len; i < 21 && n < (int)sizeof dict - 1; i++) dict[n++] = ' ';
    dict[n] = '\0';
  }
  size_t total = 10 + (size_t)n + 1;
  size_t pad = 64 - total % 64;
  size_t hlen = (size_t)n + pad + 1;
  unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff), (unsigned char)(hlen >> 8)};
  FILE *f = fopen(path, "wb");
  if (!f) return fail(err, errlen, path, strerror(errno));
  int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(dict, 1, (size_t)n, f) == (size_t)n;
  for (size_t i = 0; ok && i < pad; i++) ok = fputc(' ', f) != EOF;
  ok = ok && fputc('\n', f) != EOF && fwrite(data, sizeof(float), count, f) == count;
  if (fclose(f) != 0) ok = 0;
  return ok ? 0 : fail(err, errlen, path, "write failed");
}

void npy_free(npy_f32 *a) {
  free(a->data);
  a->data = NULL;
}
