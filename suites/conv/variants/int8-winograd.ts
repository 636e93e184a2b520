/**
 * conv3x3-winograd-f2x2-<scheme>-<i8|u8>: int8 Winograd F(2x2, 3x3) with int16
 * transforms (kernels/assembly/qwinograd.ts). The transformed input needs 11
 * bits with the sign and the (doubled) filter transform 12, so both stay int16 and the 16
 * channel reductions per tile run exactly on the int8 GEMM's micro-kernel:
 * the result equals the exact integer reference bit for bit (the kernel check),
 * with 2.25x fewer multiplies than im2col. The cost in accuracy of F(2x2) on
 * integers is therefore none; keeping the transformed input in 8 bits instead
 * (the known trap) costs what reference/winograd-int.ts winogradF2x2Int8Domain
 * measures, and F(4x4) / F(6x6) are not offered in int8 because their
 * transforms do not fit int16 nor their sums int32 (winogradIntegerBounds).
 *
 * prepare (untimed): U' = (2G) g (2G)^T for every (k, c) from the quantized
 * weights, packed per xi as the micro-kernel's int16 4-row panels over pairs
 * of input channels.
 */
import type { ConvShape, ConvVariant } from '../../../core/contracts.js';
import { convOutputSize } from '../../../reference/conv.js';
import { int8Scheme, type Int8Scheme } from '../../../reference/quant-scheme.js';
import { winogradIntegerBounds } from '../../../reference/winograd-int.js';
import { copyIn } from './lowp.js';
import { int8Variant, requireQuant } from './int8.js';

const MR = 4;
const NR = 8;
const G2 = [
  [2, 0, 0],
  [1, 1, 1],
  [1, -1, 1],
  [0, 0, 2],
] as const;

/** U' = (2G) g (2G)^T of every (k, c), packed per xi as 4-row panels over channel pairs: [xi][k panel][c pair][MR][2]. */
export function packWinogradU(wq: Int8Array, k: number, c: number): Int16Array {
  const kp = Math.ceil(k / MR) * MR;
  const cp = c + (c & 1);
  const out = new Int16Array(16 * kp * cp);
  const t = new Int32Array(12);
  for (let kk = 0; kk < k; kk++) {
    for (let cc = 0; cc < c; cc++) {
      const g = (kk * c + cc) * 9;
      // t = (2G) g: 4 x 3.
      for (let i = 0; i < 4; i++) {
        for (let j = 0; j < 3; j++) t[i * 3 + j] = G2[i]![0]! * wq[g + j]! + G2[i]![1]! * wq[g + 3 + j]! + G2[i]![2]! * wq[g + 6 + j]!;
      }
      const lane = Math.floor(kk / MR) * MR * cp + (cc >> 1) * MR * 2 + (kk % MR) * 2 + (cc & 1);
      for (let i = 0; i < 4; i++) {
        for (let j = 0; j < 4; j++) {
          const u = t[i * 3]! * G2[j]![0]! + t[i * 3 + 1]! * G2[j]![1]! + t[i * 3 + 2]! * G2[j]![2]!;
          out[(i * 4 + j) * kp * cp + lane] = u;
        }
      }
    }
  }
  return out;
}

/** Tiles per block: the block's V' and M (16 (2 Cp + 4 Kp) bytes per tile) within 1 MiB, a multiple of 8 in [8, 64]. */
export function qwinogradBlock(shape: ConvShape): number {
  const perTile = 16 * (2 * (shape.c + (shape.c & 1)) + 4 * Math.ceil(shape.k / MR) * MR);
  return Math.min(64, Math.max(NR, Math.floor((1024 * 1024) / perTile / NR) * NR));
}

/** The int8 Winograd F(2x2) variant for a scheme. */
export function int8WinogradVariant(scheme: Int8Scheme): ConvVariant {
  const bounds = winogradIntegerBounds(2, scheme.activations === 'uint8' ? 255 : 128);
  return int8Variant({
    stem: 'conv3x3-winograd-f2x2',
    algorithm: 'winograd-int8',
    description:
      'int8 Winograd F(2x2, 3x3) with int16 transforms: transformed inputs (11 bits) and doubled filter transforms (12 bits) ' +
      'in int16, 16 channel reductions per tile on the int8 GEMM micro-kernel (exact int32), output transform in int32, then the epilogue.',
    scheme,
    needs: { wasmSimd: true },
    cannot(s) {
      const why: string[] = [];
      if (s.r !== 3 || s.s !== 3) why.push(`this layer is ${s.r}x${s.s}`);
      if (s.stride !== 1) why.push(`this layer has stride ${s.stride}`);
      if (s.groups !== 1) why.push(`this layer has ${s.groups} groups`);
      if (s.c > bounds.maxChannelsInt32) why.push(`${s.c} input channels exceed the ${bounds.maxChannelsInt32} whose sums fit int32`);
      return why.length ? `int8 Winograd F(2x2,3x3) applies to 3x3 stride-1 ungrouped convolutions; ${why.join(', ')}` : null;
    },
    executedFlops(s) {
      const { ho, wo } = convOutputSize(s);
      const tiles = s.n * Math.ceil(ho / 2) * Math.ceil(wo / 2);
      const pb = qwinogradBlock(s);
      const padded = Math.floor(tiles / pb) * pb + Math.ceil((tiles % pb) / NR) * NR;
      const gemm = 2 * 16 * Math.ceil(s.k / MR) * MR * (s.c + (s.c & 1)) * padded;
      // Input transform 32 adds per (tile, channel), output 24 per (tile, output channel).
      return gemm + 32 * tiles * s.c + 24 * tiles * s.k;
    },
    pack(kern, q, s) {
      const u = packWinogradU(q.w.q, s.k, s.c);
      const b = copyIn(kern, u);
      return {
        ptr: b.ptr,
        bytes: u.byteLength,
        note: `filter transform U' = (2G) g (2G)^T in int16, packed as 16 panel matrices (${u.byteLength} bytes); ${qwinogradBlock(s)} tiles per block`,
      };
    },
    workspaceBytes: (kern, s) => requireQuant(kern, 'conv3x3-winograd-f2x2 (int8)').qwinograd_workspace_bytes(s.c, s.h, s.w, s.k, s.pad, qwinogradBlock(s)),
    run(kern, a, s) {
      kern.quant!.conv_qwinograd_f2(a.x, a.xUnsigned, a.zpx, a.w, a.y, a.ws, a.params, a.mode, a.zpy, s.n, s.c, s.h, s.w, s.k, s.pad, qwinogradBlock(s));
    },
  });
}

/** int8 Winograd F(2x2), per-channel weights, int8 activations, requantized. */
export const winogradF2x2PcI8 = int8WinogradVariant(int8Scheme({ weights: 'per-channel', activations: 'int8' }));
