/**
 * The fusion pairs as variant objects (issue 15, phase 1): each pair names its unfused graph (graphs.ts, the
 * float64 reference), the two ways of computing it (ops.ts), its FLOPs and the modeled bytes each way moves
 * (every tensor read or written once per pass, fp32), and the layers the measurements use. Phase 2 registers
 * them as graph cases once cases are graphs; scripts/fusion-speed.ts measures them now. Payload-safe.
 */
import type { Graph } from '../../core/graph.js';
import type { Kernels } from '../../kernels/index.js';
import { makeRng } from '../../reference/random.js';
import { convBnGraph, convEpiGraph, dwPwGraph } from './graphs.js';
import { convOut, prepareConvBn, prepareConvEpi, prepareDwPw, type ConvEpiSpec, type DwPwSpec, type PreparedPair } from './ops.js';

export interface FusionPair {
  /** e.g. "conv1x1-bias-relu/mobilenet_v1 conv_pw_2": the pair's kind, then the layer. */
  name: string;
  kind: 'conv-bias-act' | 'conv-bn-act' | 'dw-pw';
  /** The unfused graph: its float64 evaluation is both variants' reference. */
  graph(): Graph;
  /** Allocates seeded weights and inputs in the arena and returns the pair. */
  prepare(kern: Kernels, seed?: number): PreparedPair;
  flops: number;
  /** Modeled off-chip bytes (fp32, each pass reads its inputs and writes its output once). */
  bytes: { fused: number; unfused: number };
}

const rngArray = (n: number, seed: number, scale: number): Float32Array => {
  const rng = makeRng(seed);
  return Float32Array.from({ length: n }, () => rng.normal() * scale);
};

/** conv + bias (+ residual) + activation. */
export function convBiasActPair(layer: string, s: ConvEpiSpec): FusionPair {
  const ho = convOut(s.h, s.r, s.stride, s.pad);
  const wo = convOut(s.w, s.r, s.stride, s.pad);
  const kd = s.c * s.r * s.r;
  const x = s.c * s.h * s.w * 4;
  const y = s.k * ho * wo * 4;
  const w = s.k * kd * 4;
  const passes = 1 + (s.residual ? 1 : 0) + (s.act === 'none' ? 0 : 1); // bias, add, act: each reads y and writes it
  return {
    name: `conv${s.r}x${s.r}-bias${s.residual ? '-add' : ''}-${s.act}/${layer}`,
    kind: 'conv-bias-act',
    graph: () => convEpiGraph(s),
    prepare(kern, seed = 1) {
      const p = prepareConvEpi(kern, s, rngArray(s.k * kd, seed, Math.sqrt(2 / kd)), rngArray(s.k, seed + 1, 0.1));
      p.x.view().set(rngArray(s.c * s.h * s.w, seed + 2, 1));
      p.res?.view().set(rngArray(s.k * ho * wo, seed + 3, 1));
      return p;
    },
    flops: 2 * s.k * kd * ho * wo + passes * s.k * ho * wo,
    bytes: { fused: x + w + y + (s.residual ? y : 0), unfused: x + w + y + passes * 2 * y + (s.residual ? y : 0) },
  };
}

/** conv + batch norm + activation: folded vs a separate pass. */
export function convBnActPair(layer: string, s: Omit<ConvEpiSpec, 'residual'>): FusionPair {
  const ho = convOut(s.h, s.r, s.stride, s.pad);
  const wo = convOut(s.w, s.r, s.stride, s.pad);
  const kd = s.c * s.r * s.r;
  const io = (s.c * s.h * s.w + s.k * kd + s.k * ho * wo) * 4;
  const y = s.k * ho * wo * 4;
  const eps = Math.fround(1e-3);
  return {
    name: `conv${s.r}x${s.r}-bn-${s.act}/${layer}`,
    kind: 'conv-bn-act',
    graph: () => convBnGraph(s, eps),
    prepare(kern, seed = 1) {
      const rng = makeRng(seed + 10);
      const bn = {
        scale: Float32Array.from({ length: s.k }, () => 0.5 + rng.next()),
        shift: rngArray(s.k, seed + 11, 0.1),
        mean: rngArray(s.k, seed + 12, 0.1),
        variance: Float32Array.from({ length: s.k }, () => 0.5 + rng.next()),
        eps,
      };
      const p = prepareConvBn(kern, s, rngArray(s.k * kd, seed, Math.sqrt(2 / kd)), bn);
      p.x.view().set(rngArray(s.c * s.h * s.w, seed + 2, 1));
      return p;
    },
    flops: 2 * s.k * kd * ho * wo,
    bytes: { fused: io, unfused: io + (s.act === 'none' ? 2 : 4) * y },
  };
}

/** A MobileNet v1 block (depthwise 3x3 + pointwise, BN folded, ReLU after each): bands vs two layers. */
export function dwPwPair(layer: string, s: DwPwSpec): FusionPair {
  const ho = convOut(s.h, 3, s.stride, 1);
  const wo = convOut(s.w, 3, s.stride, 1);
  const mid = s.c * ho * wo * 4;
  const io = (s.c * s.h * s.w + s.k * ho * wo + s.c * 10 + s.k * (s.c + 1)) * 4;
  return {
    name: `dw3x3s${s.stride}-pw-${s.act}-rows${s.rows}/${layer}`,
    kind: 'dw-pw',
    graph: () => dwPwGraph(s),
    prepare(kern, seed = 1) {
      const p = prepareDwPw(kern, s, {
        dw: rngArray(s.c * 9, seed, Math.sqrt(2 / 9)),
        dwBias: rngArray(s.c, seed + 1, 0.1),
        pw: rngArray(s.k * s.c, seed + 2, Math.sqrt(2 / s.c)),
        pwBias: rngArray(s.k, seed + 3, 0.1),
      });
      p.x.view().set(rngArray(s.c * s.h * s.w, seed + 4, 1));
      return p;
    },
    flops: 2 * ho * wo * s.c * (9 + s.k),
    // Unfused: the depthwise output written, read and written by bias and ReLU, read by the pointwise GEMM;
    // the pointwise output read and written by its bias and ReLU passes.
    bytes: { fused: io, unfused: io + mid * 6 + s.k * ho * wo * 4 * 4 },
  };
}

const pw = (c: number, k: number, hw: number, residual = false): ConvEpiSpec => ({ c, h: hw, w: hw, k, r: 1, stride: 1, pad: 0, act: 'relu', residual });

/** The measured pointwise layers: MobileNet v1 (conv_pw_N, 224x224 input) and ResNet-50 v1.5 bottleneck 1x1s. */
export const POINTWISE_LAYERS: { layer: string; spec: ConvEpiSpec }[] = [
  { layer: 'mobilenet_v1 conv_pw_2 (64->128 @56)', spec: pw(64, 128, 56) },
  { layer: 'mobilenet_v1 conv_pw_4 (128->256 @28)', spec: pw(128, 256, 28) },
  { layer: 'mobilenet_v1 conv_pw_7 (512->512 @14)', spec: pw(512, 512, 14) },
  { layer: 'resnet50 conv2_x 1x1 (256->64 @56)', spec: pw(256, 64, 56) },
  { layer: 'resnet50 conv2_x 1x1 + residual (64->256 @56)', spec: pw(64, 256, 56, true) },
  { layer: 'resnet50 conv3_x 1x1 + residual (128->512 @28)', spec: pw(128, 512, 28, true) },
];

/** The measured MobileNet v1 blocks at 112x112 and 56x56 (input size; stride 2 blocks halve it). */
export const MOBILENET_BLOCKS: { layer: string; spec: Omit<DwPwSpec, 'rows'> }[] = [
  { layer: 'mobilenet_v1 block 1 (32->64 @112)', spec: { c: 32, h: 112, w: 112, k: 64, stride: 1, act: 'relu' } },
  { layer: 'mobilenet_v1 block 2 (64->128 @112 /2)', spec: { c: 64, h: 112, w: 112, k: 128, stride: 2, act: 'relu' } },
  { layer: 'mobilenet_v1 block 3 (128->128 @56)', spec: { c: 128, h: 56, w: 56, k: 128, stride: 1, act: 'relu' } },
  { layer: 'mobilenet_v1 block 4 (128->256 @56 /2)', spec: { c: 128, h: 56, w: 56, k: 256, stride: 2, act: 'relu' } },
];
