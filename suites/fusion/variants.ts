/**
 * The fusion pairs as variant objects (issue 15, phase 1): each pair names its unfused graph (graphs.ts, the
 * float64 reference), the two ways of computing it (ops.ts), its FLOPs and the modeled bytes each way moves
 * (every tensor read or written once per pass, fp32), and the layers the measurements use. Phase 2 registers
 * them as graph cases once cases are graphs; scripts/fusion-speed.ts measures them now. Payload-safe.
 */
import type { Graph } from '../../core/graph.js';
import type { Kernels } from '../../kernels/index.js';
import type { GraphEvaluation } from '../../reference/graph.js';
import { convAllowance, convGeometry } from '../../reference/layer-tolerance.js';
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
  /** The seeded graph inputs and parameters (by the graph's names) prepare() uses. */
  data(seed?: number): PairData;
  /** The pair on the given data (e.g. a test fault's altered parameters for one side). */
  prepareWith(kern: Kernels, d: PairData): PreparedPair;
  /**
   * The allowance each output element is held to against the float64 evaluation `ev` of graph() on `d`
   * (reference/layer-tolerance.ts: the reduction plus the epilogue's roundings, carried through the layers).
   */
  allowance(ev: GraphEvaluation, d: PairData): Float64Array;
  /** The parameter holding the epilogue's per-channel bias (or shift): what the wrong-epilogue fault shifts. */
  biasParam: string;
  /** Whether fused and unfused give the same bits (the same operations per element in the same order). */
  bitIdentical: boolean;
  flops: number;
  /** Modeled off-chip bytes (fp32, each pass reads its inputs and writes its output once). */
  bytes: { fused: number; unfused: number };
}

export interface PairData {
  inputs: Record<string, Float32Array>;
  params: Record<string, Float32Array>;
}

/** `d` with parameter `name` rolled by one channel (element i gets i+1's): the wrong-epilogue test fault. */
export function shiftedParam(d: PairData, name: string): PairData {
  const p = d.params[name];
  if (!p) throw new Error(`no parameter "${name}" to shift`);
  const q = new Float32Array(p.length);
  for (let i = 0; i < p.length; i++) q[i] = p[(i + 1) % p.length]!;
  return { inputs: d.inputs, params: { ...d.params, [name]: q } };
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
    data: (seed = 1) => ({
      inputs: { x: rngArray(s.c * s.h * s.w, seed + 2, 1), ...(s.residual ? { res: rngArray(s.k * ho * wo, seed + 3, 1) } : {}) },
      params: { w: rngArray(s.k * kd, seed, Math.sqrt(2 / kd)), b: rngArray(s.k, seed + 1, 0.1) },
    }),
    prepareWith(kern, d) {
      const p = prepareConvEpi(kern, s, d.params.w!, d.params.b!);
      p.x.view().set(d.inputs.x!);
      if (p.res) p.res.view().set(d.inputs.res!);
      return p;
    },
    prepare(kern, seed = 1) {
      return this.prepareWith(kern, this.data(seed));
    },
    allowance(ev, d) {
      const abs = Float64Array.from(ev.absBound.get(s.residual || s.act !== 'none' ? 'c' : 'y')!);
      const res = d.inputs.res;
      if (res) for (let i = 0; i < abs.length; i++) abs[i]! += Math.abs(res[i]!);
      return convAllowance(convGeometry(s.c, s.h, s.w, s.k, s.r, s.stride, s.pad), d.params.w!, abs, kd + 1 + (s.residual ? 1 : 0));
    },
    biasParam: 'b',
    bitIdentical: true,
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
    data(seed = 1) {
      const rng = makeRng(seed + 10);
      return {
        inputs: { x: rngArray(s.c * s.h * s.w, seed + 2, 1) },
        params: {
          w: rngArray(s.k * kd, seed, Math.sqrt(2 / kd)),
          scale: Float32Array.from({ length: s.k }, () => 0.5 + rng.next()),
          shift: rngArray(s.k, seed + 11, 0.1),
          mean: rngArray(s.k, seed + 12, 0.1),
          var: Float32Array.from({ length: s.k }, () => 0.5 + rng.next()),
        },
      };
    },
    prepareWith(kern, d) {
      const { w, scale, shift, mean, var: variance } = d.params as Record<string, Float32Array>;
      const p = prepareConvBn(kern, s, w!, { scale: scale!, shift: shift!, mean: mean!, variance: variance!, eps });
      p.x.view().set(d.inputs.x!);
      return p;
    },
    prepare(kern, seed = 1) {
      return this.prepareWith(kern, this.data(seed));
    },
    allowance(ev, d) {
      // The bound of a * conv + t: |a| * sum|x*w| + |t|; four more roundings (the affine and the fold).
      const { w, scale, shift, mean, var: variance } = d.params as Record<string, Float32Array>;
      const convAbs = ev.absBound.get('c')!;
      const plane = convAbs.length / s.k;
      const abs = new Float64Array(convAbs.length);
      for (let k = 0; k < s.k; k++) {
        const a = scale![k]! / Math.sqrt(variance![k]! + eps);
        const t = shift![k]! - mean![k]! * a;
        for (let i = 0; i < plane; i++) abs[k * plane + i] = Math.abs(a) * convAbs[k * plane + i]! + Math.abs(t);
      }
      return convAllowance(convGeometry(s.c, s.h, s.w, s.k, s.r, s.stride, s.pad), w!, abs, kd + 4);
    },
    biasParam: 'shift',
    bitIdentical: false,
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
    data: (seed = 1) => ({
      inputs: { x: rngArray(s.c * s.h * s.w, seed + 4, 1) },
      params: {
        dw: rngArray(s.c * 9, seed, Math.sqrt(2 / 9)),
        dwb: rngArray(s.c, seed + 1, 0.1),
        pw: rngArray(s.k * s.c, seed + 2, Math.sqrt(2 / s.c)),
        pwb: rngArray(s.k, seed + 3, 0.1),
      },
    }),
    prepareWith(kern, d) {
      const p = prepareDwPw(kern, s, { dw: d.params.dw!, dwBias: d.params.dwb!, pw: d.params.pw!, pwBias: d.params.pwb! });
      p.x.view().set(d.inputs.x!);
      return p;
    },
    prepare(kern, seed = 1) {
      return this.prepareWith(kern, this.data(seed));
    },
    allowance(ev, d) {
      const dwAllow = convAllowance(convGeometry(s.c, s.h, s.w, s.c, 3, s.stride, 1, s.c), d.params.dw!, ev.absBound.get(s.act === 'none' ? 'd' : 'dc')!, 10);
      return convAllowance(convGeometry(s.c, ho, wo, s.k, 1, 1, 0), d.params.pw!, ev.absBound.get(s.act === 'none' ? 'y' : 'pc')!, s.c + 1, dwAllow);
    },
    biasParam: 'dwb',
    bitIdentical: true,
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
