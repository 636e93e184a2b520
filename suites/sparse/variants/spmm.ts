/**
 * conv-spmm-<format>-f32: convolution with pruned weights as a sparse x dense
 * matrix product (SpMM), channels-first, after XNNPACK's f32 SpMM kernels
 * (kernels/assembly/spmm.ts). Y[K][P] = W[K][C*R*S] X[C*R*S][P], P = Ho*Wo
 * pixels contiguous, 4 per f32x4; W in one sparse format:
 *
 * - conv-spmm-csr-f32: CSR (values, column indices, row pointers);
 * - conv-spmm-b1x1-f32, -b1x2-, -b1x4-: XNNPACK's format, blocks of 1, 2 or 4
 *   output channels: per block its nonzero input rows' weights and one
 *   input-pointer increment per nonzero block, no index read in the loop.
 *   A block of 2 or 4 rows reads each input vector once for 2 or 4 outputs;
 *   it applies to weights pruned in blocks spanning a multiple of its outputs
 *   (1x2, 1x4), where it stores no zero.
 *
 * A 1x1 stride-1 unpadded layer multiplies the input itself (NCHW is CHW per
 * image); any other layer (3x3, strided, padded) goes through im2col into the
 * same SpMM, im2col inside the timed region (as the dense im2col GEMM does).
 * Grouped and depthwise layers are skipped: see `applies`.
 *
 * Cost (design's counting rule, reference/sparse-format.ts): effective FLOPs
 * are the dense count; executed FLOPs 2 * N * P * (stored values), the
 * nonzeros only where the format fits the pattern; bytes = the stored format
 * (values + indices + nonzero map, 4 bytes each) + the input and output
 * activations. The stored counts follow from the case's pattern and fraction
 * (pruneLayout), the same on every device.
 */
import type { CaseParams, ConvShape, ConvVariant, KernelContext, Prepared } from '../../../core/contracts.js';
import { convElements } from '../../../reference/cost.js';
import { convOutputSize } from '../../../reference/conv.js';
import { pruneLayout, weightDims } from '../../../reference/sparse.js';
import {
  byteIncrements,
  csrStorage,
  denseStorage,
  encodeCsr,
  encodeOcBlocks,
  formatFitsPattern,
  ocBlocksStorage,
  predictConvStorage,
  type FormatCounts,
  type SparseFormat,
} from '../../../reference/sparse-format.js';
import { convVariant, disposedTo } from '../../conv/variant.js';

const GROUPED_REASON =
  'sparse grouped and depthwise convolution is not worth it: a depthwise layer has R*S weights per channel and is ' +
  'memory-bound, so skipping zero weights saves arithmetic it is not limited by (XNNPACK has no sparse depthwise kernel either)';

/** The variant's tag in its name: csr, b1x1, b1x2, b1x4. */
export function formatTag(f: SparseFormat): string {
  return f.kind === 'csr' ? 'csr' : `b1x${f.block}`;
}

/**
 * Stored counts of the format for this case (its sparsity, or dense weights when it has none). Where
 * the format does not fit the pattern the variant is skipped (applies), and its result's cost shows
 * the dense storage: the counts would depend on the weights.
 */
function storage(format: SparseFormat, shape: ConvShape, params?: CaseParams): FormatCounts {
  const sp = params?.sparsity;
  const fits = sp ? formatFitsPattern(format, sp.pattern, sp.fraction) === true : true;
  return fits && sp ? predictConvStorage(format, weightDims(shape), sp.pattern, sp.fraction) : predictConvStorage(format, weightDims(shape), 'unstructured', 0);
}

function pixels(shape: ConvShape): number {
  const { ho, wo } = convOutputSize(shape);
  return ho * wo;
}

const isDirect = (s: ConvShape) => s.r === 1 && s.s === 1 && s.stride === 1 && s.pad === 0;

/** Copies int32 data into a kernel buffer (4-byte words). */
function putInt32(ctx: KernelContext, ptr: number, data: Int32Array): void {
  new Int32Array(ctx.kernels.memory.buffer, ptr, data.length).set(data);
}

/** The variant for one storage format. */
export function spmmVariant(format: SparseFormat): ConvVariant {
  const tag = formatTag(format);
  const name = `conv-spmm-${tag}-f32`;
  const what =
    format.kind === 'csr'
      ? 'CSR (values, int32 column indices, row pointers): 32-pixel tiles, the input row of each nonzero from its index'
      : `XNNPACK-style blocks of ${format.block} output channel(s): per block the nonzero input rows' weights and one ` +
        `signed byte increment of the input pointer per nonzero block (no index read in the loop); ` +
        `${format.block === 1 ? 32 : format.block === 2 ? 16 : 8}-pixel tiles, rows left over (K mod ${format.block}) as single rows`;
  return convVariant({
    name,
    algorithm: 'spmm',
    description: `Sparse x dense SpMM on pruned weights, channels-first, 4 pixels per f32x4 (mul+add): ${what}; 3x3, strided or padded layers via im2col.`,
    needs: { wasmSimd: true },
    // Checked after the shape itself (convVariant).
    cannot(shape: ConvShape, params?: CaseParams): string | null {
      if (shape.groups !== 1) return `${GROUPED_REASON} (this layer has groups = ${shape.groups})`;
      const sp = params?.sparsity;
      if (sp) {
        try {
          pruneLayout(weightDims(shape), sp.pattern, sp.fraction);
          const fits = formatFitsPattern(format, sp.pattern, sp.fraction);
          if (fits !== true) return fits;
        } catch (e) {
          return e instanceof Error ? e.message : String(e);
        }
      }
      return null;
    },
    executedFlops: (s, params) => 2 * s.n * pixels(s) * storage(format, s, params).values,
    bytes(s, params): number {
      const e = convElements(s);
      return storage(format, s, params).bytes + 4 * (e.input + e.output);
    },
    info(s, params): Record<string, number | string> {
      const st = storage(format, s, params);
      return {
        format: tag,
        storedValues: st.values,
        indexEntries: st.indices,
        mapEntries: st.map,
        storageBytes: st.bytes,
        denseWeightBytes: denseStorage(weightDims(s)).bytes,
        path: isDirect(s) ? '1x1: SpMM on the input' : 'im2col + SpMM',
      };
    },
    prepare(ctx: KernelContext, shape: ConvShape, x: Float32Array, w: Float32Array): Prepared {
      const { n, c, h, w: wd, k, r, s, stride, pad } = shape;
      const p = pixels(shape);
      const cols = c * r * s;
      const kern = ctx.kernels;
      const simd = kern.requireSimd(name);
      const sparse = kern.sparse;
      if (sparse === null) throw new Error(`${name} needs WebAssembly SIMD: ${kern.simdUnavailable ?? 'sparse.wasm not loaded'}`);
      const direct = isDirect(shape);
      const mark = kern.mark();
      let stored: FormatCounts;
      let spmm: (src: number, dst: number) => void;
      if (format.kind === 'csr') {
        const m = encodeCsr(w, k, cols);
        stored = csrStorage(m);
        const vals = kern.allocCopy(m.values);
        const colIdx = kern.alloc(m.colIdx.length);
        const rowPtr = kern.alloc(m.rowPtr.length);
        putInt32(ctx, colIdx.ptr, m.colIdx);
        putInt32(ctx, rowPtr.ptr, m.rowPtr);
        const f = sparse.spmm_csr_f32;
        const vp = vals.ptr;
        const cp = colIdx.ptr;
        const rp = rowPtr.ptr;
        spmm = (src, dst) => f(p, k, src, vp, cp, rp, dst);
      } else {
        const block = format.block;
        if (sparse.spmm_tile(block) === 0) throw new Error(`${name}: sparse.wasm has no kernel for blocks of ${block} output channels`);
        const m = encodeOcBlocks(w, k, cols, block);
        stored = ocBlocksStorage(m);
        const incr = byteIncrements(m, p);
        const vals = kern.allocCopy(m.values);
        const inc = kern.alloc(incr.length);
        const nnz = kern.alloc(m.nnzMap.length);
        putInt32(ctx, inc.ptr, incr);
        putInt32(ctx, nnz.ptr, m.nnzMap);
        const f = sparse.spmm_blocks_f32;
        const firstOffset = m.first * p * 4;
        const { fullBlocks, tailRows } = m;
        const vp = vals.ptr;
        const ip = inc.ptr;
        const np = nnz.ptr;
        spmm = (src, dst) => {
          f(block, p, fullBlocks, tailRows, src + firstOffset, vp, ip, np, dst);
        };
      }
      const xb = kern.allocCopy(x);
      const yb = kern.alloc(n * k * p);
      const colBuf = direct ? null : kern.alloc(cols * p);
      const im2col = simd.im2col_f32;
      const xImage = c * h * wd * 4;
      const yImage = k * p * 4;
      const xp = xb.ptr;
      const yp = yb.ptr;
      const colp = colBuf?.ptr ?? 0;
      const total = k * cols;
      return disposedTo(kern, mark, {
        run(): void {
          for (let img = 0; img < n; img++) {
            const xi = xp + img * xImage;
            if (colBuf === null) spmm(xi, yp + img * yImage);
            else {
              im2col(xi, colp, c, h, wd, r, s, stride, pad);
              spmm(colp, yp + img * yImage);
            }
          }
        },
        output: () => yb.view(),
        preparedBytes: stored.bytes,
        prepareNote:
          `weights encoded as ${tag}: ${stored.values} stored values of ${total} (${((1 - stored.values / total) * 100).toFixed(1)}% ` +
          `not stored), ${stored.indices} index entries, ${stored.map} map entries: ${stored.bytes} bytes against ${total * 4} dense` +
          (direct ? '' : `; im2col workspace ${cols * p * 4} bytes, im2col inside the timed region`),
      });
    },
  });
}

export const convSpmmCsrF32 = spmmVariant({ kind: 'csr' });
export const convSpmmB1x1F32 = spmmVariant({ kind: 'blocks', block: 1 });
export const convSpmmB1x2F32 = spmmVariant({ kind: 'blocks', block: 2 });
export const convSpmmB1x4F32 = spmmVariant({ kind: 'blocks', block: 4 });
