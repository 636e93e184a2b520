/**
 * Sparse storage formats of a conv layer's weights, as the SpMM kernels read
 * them (pure, payload-safe).
 *
 * The weights are seen as the matrix W[rows = K][cols = C*R*S] (KCRS, row k =
 * output channel k; column = (c*R + r)*S + s, the row of the im2col matrix,
 * or the input channel for a 1x1 layer). The kernels compute
 * Y[K][P] = W X[cols][P] over P pixels, pixels contiguous (CHW).
 *
 * - CSR: per row, its nonzero values and their column indices; rowPtr[k] ..
 *   rowPtr[k+1] delimits row k. Bytes: values + column indices (int32) +
 *   row pointers (int32, K + 1).
 *
 * - Output-channel blocks, XNNPACK style (its f32 SpMM kernels' packing):
 *   the rows are grouped into blocks of `block` consecutive output channels
 *   (1, 2 or 4), the last K mod block rows as single rows. Per output block:
 *   the number of its nonzero column blocks (`nnzMap`, a column block is
 *   nonzero when any of its `block` weights is), and for each of them the
 *   `block` weights. One input-pointer step per nonzero column block
 *   (`diffs`, in columns, from that block's column to the next nonzero block's
 *   column, across output blocks; the last one steps back to `first`), so the
 *   kernel never reads an absolute index: it keeps one input pointer and adds
 *   `diff * P * 4` bytes after each block. Bytes: values (zeros inside a kept
 *   block included) + diffs (int32) + nnzMap (int32).
 */
import { pruneLayout, type PruneLayout, type SparsePattern, type WeightDims, parsePattern } from './sparse.js';

/** Compressed sparse rows. */
export interface Csr {
  rows: number;
  cols: number;
  /** rows + 1 offsets into colIdx / values. */
  rowPtr: Int32Array;
  colIdx: Int32Array;
  values: Float32Array;
}

/** XNNPACK-style output-channel blocks (see the module doc). */
export interface OcBlocks {
  rows: number;
  cols: number;
  /** Output channels per block (1, 2, 4 ...). */
  block: number;
  /** floor(rows / block) full blocks, then rows mod block single rows. */
  fullBlocks: number;
  tailRows: number;
  /** Nonzero column blocks per output block (fullBlocks + tailRows entries). */
  nnzMap: Int32Array;
  /** Per output block, per nonzero column block, its `block` weights (1 for the tail rows). */
  values: Float32Array;
  /** Column step after each nonzero column block to the next one; the last steps back to `first`. */
  diffs: Int32Array;
  /** Column of the first nonzero column block (0 if there is none). */
  first: number;
}

function checkMatrix(who: string, w: ArrayLike<number>, rows: number, cols: number): void {
  if (!Number.isInteger(rows) || rows < 1 || !Number.isInteger(cols) || cols < 1) {
    throw new Error(`${who}: rows (${rows}) and cols (${cols}) must be positive integers`);
  }
  if (w.length !== rows * cols) throw new Error(`${who}: ${w.length} weights, but ${rows} x ${cols} needs ${rows * cols}`);
}

/** CSR of a rows x cols row-major matrix; a weight is stored when it is not zero (-0 counts as zero). */
export function encodeCsr(w: ArrayLike<number>, rows: number, cols: number): Csr {
  checkMatrix('encodeCsr', w, rows, cols);
  let nnz = 0;
  for (let i = 0; i < w.length; i++) if (w[i] !== 0) nnz++;
  const rowPtr = new Int32Array(rows + 1);
  const colIdx = new Int32Array(nnz);
  const values = new Float32Array(nnz);
  let t = 0;
  for (let r = 0; r < rows; r++) {
    rowPtr[r] = t;
    for (let c = 0; c < cols; c++) {
      const v = w[r * cols + c]!;
      if (v !== 0) {
        colIdx[t] = c;
        values[t] = v;
        t++;
      }
    }
  }
  rowPtr[rows] = t;
  return { rows, cols, rowPtr, colIdx, values };
}

/** The dense matrix a CSR holds; throws if the CSR is malformed (indices out of range or not increasing). */
export function decodeCsr(m: Csr): Float32Array {
  const out = new Float32Array(m.rows * m.cols);
  if (m.rowPtr.length !== m.rows + 1 || m.rowPtr[0] !== 0 || m.rowPtr[m.rows] !== m.values.length || m.colIdx.length !== m.values.length) {
    throw new Error(`decodeCsr: malformed CSR (rowPtr of ${m.rowPtr.length} for ${m.rows} rows, ${m.colIdx.length} indices, ${m.values.length} values)`);
  }
  for (let r = 0; r < m.rows; r++) {
    let last = -1;
    const a = m.rowPtr[r]!;
    const b = m.rowPtr[r + 1]!;
    if (b < a) throw new Error(`decodeCsr: rowPtr decreases at row ${r}`);
    for (let j = a; j < b; j++) {
      const c = m.colIdx[j]!;
      if (c <= last || c >= m.cols) throw new Error(`decodeCsr: row ${r}: column ${c} out of order or out of range (cols ${m.cols})`);
      last = c;
      out[r * m.cols + c] = m.values[j]!;
    }
  }
  return out;
}

/** XNNPACK-style output-channel blocks of a rows x cols row-major matrix (see the module doc). */
export function encodeOcBlocks(w: ArrayLike<number>, rows: number, cols: number, block: number): OcBlocks {
  checkMatrix('encodeOcBlocks', w, rows, cols);
  if (!Number.isInteger(block) || block < 1) throw new Error(`encodeOcBlocks: block must be a positive integer, got ${block}`);
  const fullBlocks = Math.floor(rows / block);
  const tailRows = rows % block;
  const nnzMap = new Int32Array(fullBlocks + tailRows);
  const values: number[] = [];
  const cols0: number[] = [];
  // Each output block: its rows, then every column where any of them is nonzero.
  const emit = (ob: number, r0: number, height: number) => {
    for (let c = 0; c < cols; c++) {
      let any = false;
      for (let i = 0; i < height; i++) if (w[(r0 + i) * cols + c] !== 0) any = true;
      if (!any) continue;
      for (let i = 0; i < height; i++) values.push(w[(r0 + i) * cols + c]!);
      cols0.push(c);
      nnzMap[ob]!++;
    }
  };
  for (let b = 0; b < fullBlocks; b++) emit(b, b * block, block);
  for (let t = 0; t < tailRows; t++) emit(fullBlocks + t, fullBlocks * block + t, 1);
  const n = cols0.length;
  const diffs = new Int32Array(n);
  const first = n > 0 ? cols0[0]! : 0;
  for (let i = 0; i < n; i++) diffs[i] = (i + 1 < n ? cols0[i + 1]! : first) - cols0[i]!;
  return { rows, cols, block, fullBlocks, tailRows, nnzMap, values: Float32Array.from(values), diffs, first };
}

/** The dense matrix an OcBlocks holds; throws if it is malformed (a step leaves the columns, counts disagree). */
export function decodeOcBlocks(m: OcBlocks): Float32Array {
  const out = new Float32Array(m.rows * m.cols);
  if (m.nnzMap.length !== m.fullBlocks + m.tailRows || m.fullBlocks * m.block + m.tailRows !== m.rows) {
    throw new Error(`decodeOcBlocks: malformed (nnzMap of ${m.nnzMap.length}, ${m.fullBlocks} blocks of ${m.block} + ${m.tailRows} rows for ${m.rows} rows)`);
  }
  let col = m.first;
  let t = 0;
  let v = 0;
  for (let ob = 0; ob < m.nnzMap.length; ob++) {
    const full = ob < m.fullBlocks;
    const height = full ? m.block : 1;
    const r0 = full ? ob * m.block : m.fullBlocks * m.block + (ob - m.fullBlocks);
    for (let j = 0; j < m.nnzMap[ob]!; j++) {
      if (t >= m.diffs.length || v + height > m.values.length || col < 0 || col >= m.cols) {
        throw new Error(`decodeOcBlocks: output block ${ob}: column ${col}, step ${t} of ${m.diffs.length}, value ${v} of ${m.values.length}: out of range`);
      }
      for (let i = 0; i < height; i++) out[(r0 + i) * m.cols + col] = m.values[v++]!;
      col += m.diffs[t++]!;
    }
  }
  if (t !== m.diffs.length || v !== m.values.length) {
    throw new Error(`decodeOcBlocks: ${m.diffs.length - t} steps and ${m.values.length - v} values left over`);
  }
  if (t > 0 && col !== m.first) throw new Error(`decodeOcBlocks: the last step lands on column ${col}, not back on the first (${m.first})`);
  return out;
}

/** The input-pointer increments in bytes for rows of `pixels` floats (diff * pixels * 4), checked to fit an int32. */
export function byteIncrements(m: OcBlocks, pixels: number): Int32Array {
  const out = new Int32Array(m.diffs.length);
  for (let i = 0; i < out.length; i++) {
    const b = m.diffs[i]! * pixels * 4;
    if (b > 2 ** 31 - 1 || b < -(2 ** 31)) {
      throw new Error(`byteIncrements: step ${m.diffs[i]} columns of ${pixels} pixels is ${b} bytes, beyond an int32`);
    }
    out[i] = b;
  }
  return out;
}

/** Element counts of a stored format: values, index entries, nonzero-map entries; and its bytes (4 each). */
export interface FormatCounts {
  values: number;
  indices: number;
  map: number;
  bytes: number;
}

const counts = (values: number, indices: number, map: number): FormatCounts => ({
  values,
  indices,
  map,
  bytes: 4 * (values + indices + map),
});

export function csrStorage(m: Csr): FormatCounts {
  return counts(m.values.length, m.colIdx.length, m.rowPtr.length);
}

export function ocBlocksStorage(m: OcBlocks): FormatCounts {
  return counts(m.values.length, m.diffs.length, m.nnzMap.length);
}

/** Bytes of the dense weights (for the storage comparison). */
export function denseStorage(dims: WeightDims): FormatCounts {
  return counts(dims.k * dims.c * dims.r * dims.s, 0, 0);
}

/** A storage format: `csr`, or output-channel blocks of `block` rows. */
export type SparseFormat = { kind: 'csr' } | { kind: 'blocks'; block: number };

/**
 * Whether `format`'s stored counts follow from the pattern alone: CSR and
 * 1-row blocks always; blocks of b rows when every b-row block lies inside one
 * pattern granule (block patterns spanning a multiple of b output channels),
 * or when nothing or everything is pruned. Otherwise the reason it does not.
 */
export function formatFitsPattern(format: SparseFormat, pattern: string | SparsePattern, fraction: number): true | string {
  if (format.kind === 'csr' || format.block === 1 || fraction === 0 || fraction === 1) return true;
  const p = typeof pattern === 'string' ? parsePattern(pattern) : pattern;
  if (p.kind === 'block' && p.oc % format.block === 0) return true;
  const name = typeof pattern === 'string' ? pattern : p.kind;
  return (
    `blocks of ${format.block} output channels need weights pruned in blocks spanning a multiple of ${format.block} ` +
    `output channels (e.g. 1x${format.block}); pattern ${name} leaves zeros inside the blocks`
  );
}

/**
 * The counts a format stores for weights pruned by `layout` (pruneLayout on
 * the same dims), without the weights: what the cost model charges. Exact for
 * weights with no zero but the pruned ones. Throws where the format does not
 * fit the pattern (formatFitsPattern).
 */
export function predictStorage(format: SparseFormat, dims: WeightDims, layout: PruneLayout): FormatCounts {
  const rows = dims.k;
  const cols = dims.c * dims.r * dims.s;
  const kept = layout.kept;
  if (format.kind === 'csr') return counts(kept, kept, rows + 1);
  const b = format.block;
  const map = Math.floor(rows / b) + (rows % b);
  if (b === 1) return counts(kept, kept, map);
  if (layout.pruned === 0) {
    const kFull = Math.floor(rows / b) * b;
    return counts(rows * cols, (kFull / b) * cols + (rows - kFull) * cols, map);
  }
  const fits = formatFitsPattern(format, layout.pattern, layout.fraction);
  if (fits !== true) throw new Error(`predictStorage: ${fits}`);
  // Block pattern ic x oc with oc a multiple of b: a kept granule of oc' output channels and ic' inputs
  // covers ic' * floor(oc'/b) blocks of b rows and ic' * (oc' mod b) single tail rows.
  let values = 0;
  let indices = 0;
  for (const cl of layout.classes) {
    const keptGranules = cl.count - cl.pruned;
    const blocks = Math.floor(cl.oc / b);
    const singles = cl.oc % b;
    values += keptGranules * cl.ic * (blocks * b + singles);
    indices += keptGranules * cl.ic * (blocks + singles);
  }
  return counts(values, indices, map);
}

/** pruneLayout + predictStorage for a conv's weights. */
export function predictConvStorage(format: SparseFormat, dims: WeightDims, pattern: string, fraction: number): FormatCounts {
  return predictStorage(format, dims, pruneLayout(dims, pattern, fraction));
}
