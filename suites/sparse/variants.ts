import { defineVariants } from '../define.js';
import { convIm2colGemmF32 } from '../conv/variants/im2col-gemm.js';
import { convSpmmB1x1F32, convSpmmB1x2F32, convSpmmB1x4F32, convSpmmCsrF32 } from './variants/spmm.js';

/**
 * The sparse variants, one per weight format, and the dense baseline they are
 * measured against on the same pruned weights (the im2col GEMM). Not yet a
 * registered suite: the `sparse` suite (its cases and the sparsity sweep) is
 * added with the suite layout of issue 11; scripts/sparse-speedup.ts and the
 * tests use this list directly.
 */
export const sparseVariants = defineVariants('sparse', [convIm2colGemmF32, convSpmmCsrF32, convSpmmB1x1F32, convSpmmB1x2F32, convSpmmB1x4F32]);
