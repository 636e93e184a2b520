/*
 * A small reader and writer of NumPy .npy files (format version 1.0, little-endian float32, C order):
 * what the roofbench external-kernel protocol hands a kernel (x.npy, w.npy) and wants back (out.npy).
 * See docs/native-kernels.md. Reads versions 1.0 to 3.0; refuses any other dtype or Fortran order
 * with a message.
 */
#ifndef NPY_H
#define NPY_H

#include <stddef.h>

#define NPY_MAX_DIMS 8

typedef struct {
  int ndim;
  size_t shape[NPY_MAX_DIMS];
  size_t count; /* number of elements */
  float *data;  /* 64-byte aligned; free with npy_free */
} npy_f32;

/* Reads a float32 array; on failure returns -1 and writes a message into err. */
int npy_read_f32(const char *path, npy_f32 *out, char *err, size_t errlen);
/* Writes a float32 array (C order, version 1.0, data 64-byte aligned as numpy writes it); -1 on failure. */
int npy_write_f32(const char *path, const float *data, const size_t *shape, int ndim, char *err, size_t errlen);
void npy_free(npy_f32 *a);

#endif
