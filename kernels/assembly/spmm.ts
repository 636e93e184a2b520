/**
 * Sparse x dense matrix products for sparse convolution (WebAssembly SIMD),
 * after XNNPACK's f32 SpMM kernels (src/f32-spmm/wasmsimd.c.in).
 *
 * Y[rows][P] = W[rows][cols] X[cols][P]: W the pruned weights in a sparse
 * format (reference/sparse-format.ts), X the activations channels-first
 * (CHW: row c holds the P pixels of input channel c, contiguous; for a 3x3
 * layer the im2col matrix, row (c*R + r)*S + s), Y channels-first likewise,
 * overwritten. Pixels go 4 per f32x4; a pixel tile is a run of pixels whose
 * accumulators stay in registers while every output row (block) of the tile is
 * computed from the nonzeros alone. Tiles: 32 pixels for single rows (8
 * accumulators), 16 for blocks of 2 rows (8), 8 for blocks of 4 rows (8), so
 * every kernel keeps 8 f32x4 accumulators plus its input vectors and weight
 * splats within the 15 xmm registers V8 allocates on x64; then tiles of 16, 8
 * and 4 pixels for what is left, and one pixel at a time (scalar) for the last
 * P mod 4. Plain WebAssembly SIMD has no FMA: mul + add, as in gemm.ts.
 *
 * Output-channel blocks (spmm_blocks_f32, XNNPACK's packing): per output block
 * its count of nonzero column blocks (nnzMap), per nonzero column block its
 * `block` weights, and one input-pointer increment in bytes (diff * P * 4,
 * signed) that moves the single running input pointer from this block's input
 * row to the next nonzero block's row, across output blocks; the last one
 * steps back to the first, so each pixel tile starts from x + first * P * 4
 * (the caller passes that pointer). The kernel never reads an index: one add
 * per nonzero block. The rows left over (rows mod block) follow as single rows.
 *
 * CSR (spmm_csr_f32): per row, its nonzero values and their column indices
 * (input rows); the input pointer of each nonzero is x + col * P * 4.
 *
 * Each output element is the sum of its nonzero products in column order, one
 * rounding per multiply and per add: an exact algorithm under the
 * reduction-length tolerance (reference/tolerance.ts).
 *
 * The row kernels below are one pattern unrolled by hand for each block size
 * and tile width (AssemblyScript has no macros): b<block>w<pixels> for the
 * increments format, csrw<pixels> for CSR; w1 is the scalar one-pixel tail.
 * All pointers are byte offsets into linear memory; nothing is allocated.
 */

/** Tile width of the main loop for single rows, blocks of 2 and blocks of 4 rows. */
export function spmm_tile(block: i32): i32 {
  return block == 1 ? 32 : block == 2 ? 16 : block == 4 ? 8 : 0;
}

/** `rows` single rows over one pixel tile of width tw; returns the input pointer after the last nonzero. */
function rows1(tw: i32, rows: i32, x: usize, w: usize, inc: usize, nnz: usize, y: usize, ys: usize): usize {
  for (let r = 0; r < rows; r++) {
    const n = load<i32>(nnz);
    if (tw == 32) x = b1w32(n, x, w, inc, y, ys);
    else if (tw == 16) x = b1w16(n, x, w, inc, y, ys);
    else if (tw == 8) x = b1w8(n, x, w, inc, y, ys);
    else if (tw == 4) x = b1w4(n, x, w, inc, y, ys);
    else x = b1w1(n, x, w, inc, y, ys);
    const adv = <usize>n << 2;
    w += adv;
    inc += adv;
    nnz += 4;
    y += ys;
  }
  return x;
}

/** One pixel tile of width tw: the full output blocks, then the single rows left over. */
function tile(
  block: i32, tw: i32, fullBlocks: i32, tailRows: i32, x: usize, w: usize, inc: usize, nnz: usize, y: usize, ys: usize,
): void {
  if (block == 1) {
    rows1(tw, fullBlocks + tailRows, x, w, inc, nnz, y, ys);
    return;
  }
  const yStep = ys * <usize>block;
  for (let b = 0; b < fullBlocks; b++) {
    const n = load<i32>(nnz);
    if (block == 2) {
      if (tw == 16) x = b2w16(n, x, w, inc, y, ys);
      else if (tw == 8) x = b2w8(n, x, w, inc, y, ys);
      else if (tw == 4) x = b2w4(n, x, w, inc, y, ys);
      else x = b2w1(n, x, w, inc, y, ys);
    } else {
      if (tw == 8) x = b4w8(n, x, w, inc, y, ys);
      else if (tw == 4) x = b4w4(n, x, w, inc, y, ys);
      else x = b4w1(n, x, w, inc, y, ys);
    }
    w += <usize>(n * block) << 2;
    inc += <usize>n << 2;
    nnz += 4;
    y += yStep;
  }
  rows1(tw, tailRows, x, w, inc, nnz, y, ys);
}

/**
 * Y = W X with W in output-channel blocks of `block` rows (1, 2 or 4): fullBlocks
 * blocks then tailRows single rows (nnzMap: fullBlocks + tailRows counts).
 * x: the input at its first nonzero row (x + first * p * 4); incr: byte increments;
 * y: rows x p floats, overwritten. Returns 0, or -1 (nothing computed) for an unsupported block.
 */
export function spmm_blocks_f32(
  block: i32, p: i32, fullBlocks: i32, tailRows: i32, x: usize, values: usize, incr: usize, nnzMap: usize, y: usize,
): i32 {
  const main = spmm_tile(block);
  if (main == 0) return -1;
  const ys = <usize>p << 2;
  let px = 0;
  for (; px + main <= p; px += main) {
    const o = <usize>px << 2;
    tile(block, main, fullBlocks, tailRows, x + o, values, incr, nnzMap, y + o, ys);
  }
  for (let tw = main >> 1; tw >= 4; tw >>= 1) {
    if (px + tw <= p) {
      const o = <usize>px << 2;
      tile(block, tw, fullBlocks, tailRows, x + o, values, incr, nnzMap, y + o, ys);
      px += tw;
    }
  }
  for (; px < p; px++) {
    const o = <usize>px << 2;
    tile(block, 1, fullBlocks, tailRows, x + o, values, incr, nnzMap, y + o, ys);
  }
  return 0;
}

/** One CSR pixel tile of width tw over every row. */
function csrTile(tw: i32, rows: i32, x: usize, rb: usize, values: usize, colIdx: usize, rowPtr: usize, y: usize, ys: usize): void {
  let a = load<i32>(rowPtr);
  for (let r = 0; r < rows; r++) {
    const b = load<i32>(rowPtr + (<usize>(r + 1) << 2));
    const n = b - a;
    const w = values + (<usize>a << 2);
    const col = colIdx + (<usize>a << 2);
    if (tw == 32) csrw32(n, x, rb, w, col, y);
    else if (tw == 16) csrw16(n, x, rb, w, col, y);
    else if (tw == 8) csrw8(n, x, rb, w, col, y);
    else if (tw == 4) csrw4(n, x, rb, w, col, y);
    else csrw1(n, x, rb, w, col, y);
    a = b;
    y += ys;
  }
}

/** Y = W X with W in CSR (rowPtr: rows + 1 offsets; colIdx: input rows); y: rows x p floats, overwritten. */
export function spmm_csr_f32(p: i32, rows: i32, x: usize, values: usize, colIdx: usize, rowPtr: usize, y: usize): void {
  const ys = <usize>p << 2;
  let px = 0;
  for (; px + 32 <= p; px += 32) {
    const o = <usize>px << 2;
    csrTile(32, rows, x + o, ys, values, colIdx, rowPtr, y + o, ys);
  }
  for (let tw = 16; tw >= 4; tw >>= 1) {
    if (px + tw <= p) {
      const o = <usize>px << 2;
      csrTile(tw, rows, x + o, ys, values, colIdx, rowPtr, y + o, ys);
      px += tw;
    }
  }
  for (; px < p; px++) {
    const o = <usize>px << 2;
    csrTile(1, rows, x + o, ys, values, colIdx, rowPtr, y + o, ys);
  }
}

// @ts-ignore: decorator
@inline function b1w32(n: i32, x: usize, w: usize, inc: usize, y: usize, ys: usize): usize {
  let a00 = f32x4.splat(0), a01 = f32x4.splat(0), a02 = f32x4.splat(0), a03 = f32x4.splat(0);
  let a04 = f32x4.splat(0), a05 = f32x4.splat(0), a06 = f32x4.splat(0), a07 = f32x4.splat(0);
  const end = inc + (<usize>n << 2);
  while (inc < end) {
    const w0 = v128.load32_splat(w);
    const x0 = v128.load(x);
    const x1 = v128.load(x, 16);
    const x2 = v128.load(x, 32);
    const x3 = v128.load(x, 48);
    const x4 = v128.load(x, 64);
    const x5 = v128.load(x, 80);
    const x6 = v128.load(x, 96);
    const x7 = v128.load(x, 112);
    a00 = f32x4.add(a00, f32x4.mul(x0, w0));
    a01 = f32x4.add(a01, f32x4.mul(x1, w0));
    a02 = f32x4.add(a02, f32x4.mul(x2, w0));
    a03 = f32x4.add(a03, f32x4.mul(x3, w0));
    a04 = f32x4.add(a04, f32x4.mul(x4, w0));
    a05 = f32x4.add(a05, f32x4.mul(x5, w0));
    a06 = f32x4.add(a06, f32x4.mul(x6, w0));
    a07 = f32x4.add(a07, f32x4.mul(x7, w0));
    x += <usize>load<i32>(inc);
    inc += 4;
    w += 4;
  }
  v128.store(y, a00);
  v128.store(y, a01, 16);
  v128.store(y, a02, 32);
  v128.store(y, a03, 48);
  v128.store(y, a04, 64);
  v128.store(y, a05, 80);
  v128.store(y, a06, 96);
  v128.store(y, a07, 112);
  return x;
}

// @ts-ignore: decorator
@inline function b1w16(n: i32, x: usize, w: usize, inc: usize, y: usize, ys: usize): usize {
  let a00 = f32x4.splat(0), a01 = f32x4.splat(0), a02 = f32x4.splat(0), a03 = f32x4.splat(0);
  const end = inc + (<usize>n << 2);
  while (inc < end) {
    const w0 = v128.load32_splat(w);
    const x0 = v128.load(x);
    const x1 = v128.load(x, 16);
    const x2 = v128.load(x, 32);
    const x3 = v128.load(x, 48);
    a00 = f32x4.add(a00, f32x4.mul(x0, w0));
    a01 = f32x4.add(a01, f32x4.mul(x1, w0));
    a02 = f32x4.add(a02, f32x4.mul(x2, w0));
    a03 = f32x4.add(a03, f32x4.mul(x3, w0));
    x += <usize>load<i32>(inc);
    inc += 4;
    w += 4;
  }
  v128.store(y, a00);
  v128.store(y, a01, 16);
  v128.store(y, a02, 32);
  v128.store(y, a03, 48);
  return x;
}

// @ts-ignore: decorator
@inline function b1w8(n: i32, x: usize, w: usize, inc: usize, y: usize, ys: usize): usize {
  let a00 = f32x4.splat(0), a01 = f32x4.splat(0);
  const end = inc + (<usize>n << 2);
  while (inc < end) {
    const w0 = v128.load32_splat(w);
    const x0 = v128.load(x);
    const x1 = v128.load(x, 16);
    a00 = f32x4.add(a00, f32x4.mul(x0, w0));
    a01 = f32x4.add(a01, f32x4.mul(x1, w0));
    x += <usize>load<i32>(inc);
    inc += 4;
    w += 4;
  }
  v128.store(y, a00);
  v128.store(y, a01, 16);
  return x;
}

// @ts-ignore: decorator
@inline function b1w4(n: i32, x: usize, w: usize, inc: usize, y: usize, ys: usize): usize {
  let a00 = f32x4.splat(0);
  const end = inc + (<usize>n << 2);
  while (inc < end) {
    const w0 = v128.load32_splat(w);
    const x0 = v128.load(x);
    a00 = f32x4.add(a00, f32x4.mul(x0, w0));
    x += <usize>load<i32>(inc);
    inc += 4;
    w += 4;
  }
  v128.store(y, a00);
  return x;
}

// @ts-ignore: decorator
@inline function b1w1(n: i32, x: usize, w: usize, inc: usize, y: usize, ys: usize): usize {
  let a0: f32 = 0;
  const end = inc + (<usize>n << 2);
  while (inc < end) {
    const xv = load<f32>(x);
    a0 += xv * load<f32>(w);
    x += <usize>load<i32>(inc);
    inc += 4;
    w += 4;
  }
  store<f32>(y, a0);
  return x;
}

// @ts-ignore: decorator
@inline function b2w16(n: i32, x: usize, w: usize, inc: usize, y: usize, ys: usize): usize {
  let a00 = f32x4.splat(0), a01 = f32x4.splat(0), a02 = f32x4.splat(0), a03 = f32x4.splat(0);
  let a10 = f32x4.splat(0), a11 = f32x4.splat(0), a12 = f32x4.splat(0), a13 = f32x4.splat(0);
  const end = inc + (<usize>n << 2);
  while (inc < end) {
    const w0 = v128.load32_splat(w);
    const w1 = v128.load32_splat(w, 4);
    const x0 = v128.load(x);
    const x1 = v128.load(x, 16);
    const x2 = v128.load(x, 32);
    const x3 = v128.load(x, 48);
    a00 = f32x4.add(a00, f32x4.mul(x0, w0));
    a01 = f32x4.add(a01, f32x4.mul(x1, w0));
    a02 = f32x4.add(a02, f32x4.mul(x2, w0));
    a03 = f32x4.add(a03, f32x4.mul(x3, w0));
    a10 = f32x4.add(a10, f32x4.mul(x0, w1));
    a11 = f32x4.add(a11, f32x4.mul(x1, w1));
    a12 = f32x4.add(a12, f32x4.mul(x2, w1));
    a13 = f32x4.add(a13, f32x4.mul(x3, w1));
    x += <usize>load<i32>(inc);
    inc += 4;
    w += 8;
  }
  v128.store(y, a00);
  v128.store(y, a01, 16);
  v128.store(y, a02, 32);
  v128.store(y, a03, 48);
  v128.store(y + ys, a10);
  v128.store(y + ys, a11, 16);
  v128.store(y + ys, a12, 32);
  v128.store(y + ys, a13, 48);
  return x;
}

// @ts-ignore: decorator
@inline function b2w8(n: i32, x: usize, w: usize, inc: usize, y: usize, ys: usize): usize {
  let a00 = f32x4.splat(0), a01 = f32x4.splat(0);
  let a10 = f32x4.splat(0), a11 = f32x4.splat(0);
  const end = inc + (<usize>n << 2);
  while (inc < end) {
    const w0 = v128.load32_splat(w);
    const w1 = v128.load32_splat(w, 4);
    const x0 = v128.load(x);
    const x1 = v128.load(x, 16);
    a00 = f32x4.add(a00, f32x4.mul(x0, w0));
    a01 = f32x4.add(a01, f32x4.mul(x1, w0));
    a10 = f32x4.add(a10, f32x4.mul(x0, w1));
    a11 = f32x4.add(a11, f32x4.mul(x1, w1));
    x += <usize>load<i32>(inc);
    inc += 4;
    w += 8;
  }
  v128.store(y, a00);
  v128.store(y, a01, 16);
  v128.store(y + ys, a10);
  v128.store(y + ys, a11, 16);
  return x;
}

// @ts-ignore: decorator
@inline function b2w4(n: i32, x: usize, w: usize, inc: usize, y: usize, ys: usize): usize {
  let a00 = f32x4.splat(0);
  let a10 = f32x4.splat(0);
  const end = inc + (<usize>n << 2);
  while (inc < end) {
    const w0 = v128.load32_splat(w);
    const w1 = v128.load32_splat(w, 4);
    const x0 = v128.load(x);
    a00 = f32x4.add(a00, f32x4.mul(x0, w0));
    a10 = f32x4.add(a10, f32x4.mul(x0, w1));
    x += <usize>load<i32>(inc);
    inc += 4;
    w += 8;
  }
  v128.store(y, a00);
  v128.store(y + ys, a10);
  return x;
}

// @ts-ignore: decorator
@inline function b2w1(n: i32, x: usize, w: usize, inc: usize, y: usize, ys: usize): usize {
  let a0: f32 = 0;
  let a1: f32 = 0;
  const end = inc + (<usize>n << 2);
  while (inc < end) {
    const xv = load<f32>(x);
    a0 += xv * load<f32>(w);
    a1 += xv * load<f32>(w, 4);
    x += <usize>load<i32>(inc);
    inc += 4;
    w += 8;
  }
  store<f32>(y, a0);
  store<f32>(y + ys, a1);
  return x;
}

// @ts-ignore: decorator
@inline function b4w8(n: i32, x: usize, w: usize, inc: usize, y: usize, ys: usize): usize {
  let a00 = f32x4.splat(0), a01 = f32x4.splat(0);
  let a10 = f32x4.splat(0), a11 = f32x4.splat(0);
  let a20 = f32x4.splat(0), a21 = f32x4.splat(0);
  let a30 = f32x4.splat(0), a31 = f32x4.splat(0);
  const end = inc + (<usize>n << 2);
  while (inc < end) {
    const w0 = v128.load32_splat(w);
    const w1 = v128.load32_splat(w, 4);
    const w2 = v128.load32_splat(w, 8);
    const w3 = v128.load32_splat(w, 12);
    const x0 = v128.load(x);
    const x1 = v128.load(x, 16);
    a00 = f32x4.add(a00, f32x4.mul(x0, w0));
    a01 = f32x4.add(a01, f32x4.mul(x1, w0));
    a10 = f32x4.add(a10, f32x4.mul(x0, w1));
    a11 = f32x4.add(a11, f32x4.mul(x1, w1));
    a20 = f32x4.add(a20, f32x4.mul(x0, w2));
    a21 = f32x4.add(a21, f32x4.mul(x1, w2));
    a30 = f32x4.add(a30, f32x4.mul(x0, w3));
    a31 = f32x4.add(a31, f32x4.mul(x1, w3));
    x += <usize>load<i32>(inc);
    inc += 4;
    w += 16;
  }
  v128.store(y, a00);
  v128.store(y, a01, 16);
  v128.store(y + ys, a10);
  v128.store(y + ys, a11, 16);
  v128.store(y + 2 * ys, a20);
  v128.store(y + 2 * ys, a21, 16);
  v128.store(y + 3 * ys, a30);
  v128.store(y + 3 * ys, a31, 16);
  return x;
}

// @ts-ignore: decorator
@inline function b4w4(n: i32, x: usize, w: usize, inc: usize, y: usize, ys: usize): usize {
  let a00 = f32x4.splat(0);
  let a10 = f32x4.splat(0);
  let a20 = f32x4.splat(0);
  let a30 = f32x4.splat(0);
  const end = inc + (<usize>n << 2);
  while (inc < end) {
    const w0 = v128.load32_splat(w);
    const w1 = v128.load32_splat(w, 4);
    const w2 = v128.load32_splat(w, 8);
    const w3 = v128.load32_splat(w, 12);
    const x0 = v128.load(x);
    a00 = f32x4.add(a00, f32x4.mul(x0, w0));
    a10 = f32x4.add(a10, f32x4.mul(x0, w1));
    a20 = f32x4.add(a20, f32x4.mul(x0, w2));
    a30 = f32x4.add(a30, f32x4.mul(x0, w3));
    x += <usize>load<i32>(inc);
    inc += 4;
    w += 16;
  }
  v128.store(y, a00);
  v128.store(y + ys, a10);
  v128.store(y + 2 * ys, a20);
  v128.store(y + 3 * ys, a30);
  return x;
}

// @ts-ignore: decorator
@inline function b4w1(n: i32, x: usize, w: usize, inc: usize, y: usize, ys: usize): usize {
  let a0: f32 = 0;
  let a1: f32 = 0;
  let a2: f32 = 0;
  let a3: f32 = 0;
  const end = inc + (<usize>n << 2);
  while (inc < end) {
    const xv = load<f32>(x);
    a0 += xv * load<f32>(w);
    a1 += xv * load<f32>(w, 4);
    a2 += xv * load<f32>(w, 8);
    a3 += xv * load<f32>(w, 12);
    x += <usize>load<i32>(inc);
    inc += 4;
    w += 16;
  }
  store<f32>(y, a0);
  store<f32>(y + ys, a1);
  store<f32>(y + 2 * ys, a2);
  store<f32>(y + 3 * ys, a3);
  return x;
}

// @ts-ignore: decorator
@inline function csrw32(n: i32, xt: usize, rb: usize, w: usize, col: usize, y: usize): void {
  let a00 = f32x4.splat(0), a01 = f32x4.splat(0), a02 = f32x4.splat(0), a03 = f32x4.splat(0);
  let a04 = f32x4.splat(0), a05 = f32x4.splat(0), a06 = f32x4.splat(0), a07 = f32x4.splat(0);
  const end = w + (<usize>n << 2);
  while (w < end) {
    const x = xt + <usize>load<i32>(col) * rb;
    const w0 = v128.load32_splat(w);
    const x0 = v128.load(x);
    const x1 = v128.load(x, 16);
    const x2 = v128.load(x, 32);
    const x3 = v128.load(x, 48);
    const x4 = v128.load(x, 64);
    const x5 = v128.load(x, 80);
    const x6 = v128.load(x, 96);
    const x7 = v128.load(x, 112);
    a00 = f32x4.add(a00, f32x4.mul(x0, w0));
    a01 = f32x4.add(a01, f32x4.mul(x1, w0));
    a02 = f32x4.add(a02, f32x4.mul(x2, w0));
    a03 = f32x4.add(a03, f32x4.mul(x3, w0));
    a04 = f32x4.add(a04, f32x4.mul(x4, w0));
    a05 = f32x4.add(a05, f32x4.mul(x5, w0));
    a06 = f32x4.add(a06, f32x4.mul(x6, w0));
    a07 = f32x4.add(a07, f32x4.mul(x7, w0));
    col += 4;
    w += 4;
  }
  v128.store(y, a00);
  v128.store(y, a01, 16);
  v128.store(y, a02, 32);
  v128.store(y, a03, 48);
  v128.store(y, a04, 64);
  v128.store(y, a05, 80);
  v128.store(y, a06, 96);
  v128.store(y, a07, 112);
}

// @ts-ignore: decorator
@inline function csrw16(n: i32, xt: usize, rb: usize, w: usize, col: usize, y: usize): void {
  let a00 = f32x4.splat(0), a01 = f32x4.splat(0), a02 = f32x4.splat(0), a03 = f32x4.splat(0);
  const end = w + (<usize>n << 2);
  while (w < end) {
    const x = xt + <usize>load<i32>(col) * rb;
    const w0 = v128.load32_splat(w);
    const x0 = v128.load(x);
    const x1 = v128.load(x, 16);
    const x2 = v128.load(x, 32);
    const x3 = v128.load(x, 48);
    a00 = f32x4.add(a00, f32x4.mul(x0, w0));
    a01 = f32x4.add(a01, f32x4.mul(x1, w0));
    a02 = f32x4.add(a02, f32x4.mul(x2, w0));
    a03 = f32x4.add(a03, f32x4.mul(x3, w0));
    col += 4;
    w += 4;
  }
  v128.store(y, a00);
  v128.store(y, a01, 16);
  v128.store(y, a02, 32);
  v128.store(y, a03, 48);
}

// @ts-ignore: decorator
@inline function csrw8(n: i32, xt: usize, rb: usize, w: usize, col: usize, y: usize): void {
  let a00 = f32x4.splat(0), a01 = f32x4.splat(0);
  const end = w + (<usize>n << 2);
  while (w < end) {
    const x = xt + <usize>load<i32>(col) * rb;
    const w0 = v128.load32_splat(w);
    const x0 = v128.load(x);
    const x1 = v128.load(x, 16);
    a00 = f32x4.add(a00, f32x4.mul(x0, w0));
    a01 = f32x4.add(a01, f32x4.mul(x1, w0));
    col += 4;
    w += 4;
  }
  v128.store(y, a00);
  v128.store(y, a01, 16);
}

// @ts-ignore: decorator
@inline function csrw4(n: i32, xt: usize, rb: usize, w: usize, col: usize, y: usize): void {
  let a00 = f32x4.splat(0);
  const end = w + (<usize>n << 2);
  while (w < end) {
    const x = xt + <usize>load<i32>(col) * rb;
    const w0 = v128.load32_splat(w);
    const x0 = v128.load(x);
    a00 = f32x4.add(a00, f32x4.mul(x0, w0));
    col += 4;
    w += 4;
  }
  v128.store(y, a00);
}

// @ts-ignore: decorator
@inline function csrw1(n: i32, xt: usize, rb: usize, w: usize, col: usize, y: usize): void {
  let a0: f32 = 0;
  const end = w + (<usize>n << 2);
  while (w < end) {
    const xv = load<f32>(xt + <usize>load<i32>(col) * rb);
    a0 += xv * load<f32>(w);
    col += 4;
    w += 4;
  }
  store<f32>(y, a0);
}

