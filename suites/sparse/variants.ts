import { defineVariants } from '../define.js';
import { convIm2colGemmF32 } from '../conv/variants/im2col-gemm.js';
import { convSpmmB1x1F32, convSpmmB1x2F32, convSpmmB1x4F32, convSpmmCsrF32 } from './variants/spmm.js';

/**
 * The sparse variants, one per weight format, and the dense baseline they are
 * measured against on the same pruned weights (the im2col GEMM). The `sparse` suite
 * (suites/index.ts, its sweep in sweep.yaml) runs them; scripts/sparse-speedup.ts and the tests
 * use this list directly.
 */
export const sparseVariants = defineVariants('sparse', [convIm2colGemmF32, convSpmmCsrF32, convSpmmB1x1F32, convSpmmB1x2F32, convSpmmB1x4F32]);
