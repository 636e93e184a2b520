/**
 * The fusion suite's kit (suites/kit.ts GraphKit, docs/fusion.md): each case is the unfused graph of a pair
 * (conv + bias + ReLU/ReLU6 on pointwise layers, conv + batch norm, conv + residual add + ReLU, a MobileNet v1
 * depthwise 3x3 + pointwise 1x1 block), its variants the ways of computing it: fused (the epilogue in the GEMM's
 * output tile, BN folded, the depthwise band consumed at once), unfused (separate passes), and ONNX Runtime on the
 * same graph at graphOptimizationLevel 'disabled' and 'all'. Every way's output is checked against the float64
 * evaluation of the graph; the ways are timed interleaved in one run (suites/fusion/ways.ts). Payload-safe; the
 * cases are made from the pairs below on the host (suites/index.ts).
 */
import { convCase, type CaseSpec, type ConvShape, type Distribution, type GraphVariant } from '../../core/contracts.js';
import { convShapeOfNode, inferShapes, type Graph } from '../../core/graph.js';
import { evaluateGraph } from '../../reference/graph.js';
import { convOnnxruntimeF32 } from '../conv/variants/onnxruntime.js';
import { defineVariants } from '../define.js';
import type { GraphKit } from '../kit.js';
import { bandRows } from './ops.js';
import { ortGraphSession, type OrtLevel } from './ort.js';
import { convBiasActPair, convBnActPair, dwPwPair, MOBILENET_BLOCKS, POINTWISE_LAYERS, shiftedParam, type FusionPair } from './variants.js';
import { measureWays, timedPrepare, type PreparedWay } from './ways.js';

/** The band of a dw+pw block sized to this much cache (half of a 256 KiB L2, stated in each result). */
export const DWPW_BAND_CACHE_BYTES = 128 * 1024;

export interface FusionCaseDef {
  /** The case's layer (its id is `fusion/<layer>`): `<network>.<layer>.<pair kind>`. */
  layer: string;
  title: string;
  pair: () => FusionPair;
  /** In the `--quick` subset. */
  quick: boolean;
  /** Small and awkward: run by --quick only (odd sizes, stride 2; fast enough for the emulated boards). */
  quickOnly?: boolean;
}

const slug = (layer: string): string =>
  layer
    .replace(/ \(.*\)$/, '')
    .replace(/ \+ residual/, '')
    .replace(/ /g, '.');

/** Every pair the suite measures, registered once. */
export const FUSION_CASES: readonly FusionCaseDef[] = [
  ...POINTWISE_LAYERS.map(({ layer, spec }): FusionCaseDef => ({
    layer: `${slug(layer)}.bias${spec.residual ? '-add' : ''}-${spec.act}`,
    title: `${layer}: conv + bias${spec.residual ? ' + residual add' : ''} + ReLU, epilogue in the GEMM tile vs separate passes`,
    pair: () => convBiasActPair(layer, spec),
    quick: layer.includes('conv_pw_2') || layer.includes('128->512'),
  })),
  {
    layer: 'mobilenet_v1.conv_pw_2.bias-relu6',
    title: 'mobilenet_v1 conv_pw_2 (64->128 @56): conv + bias + ReLU6, epilogue in the GEMM tile vs separate passes',
    pair: () => convBiasActPair('mobilenet_v1 conv_pw_2 (64->128 @56)', { ...POINTWISE_LAYERS[0]!.spec, act: 'relu6' }),
    quick: false,
  },
  {
    layer: 'mobilenet_v1.conv_pw_4.bn-relu',
    title: 'mobilenet_v1 conv_pw_4 (128->256 @28): batch norm folded into the weights vs a separate pass',
    pair: () => convBnActPair('mobilenet_v1 conv_pw_4 (128->256 @28)', { c: 128, h: 28, w: 28, k: 256, r: 1, stride: 1, pad: 0, act: 'relu' }),
    quick: true,
  },
  {
    layer: 'resnet50.conv2_x.3x3.bn-relu',
    title: 'resnet50 conv2_x 3x3 (64->64 @56): batch norm folded into the weights vs a separate pass',
    pair: () => convBnActPair('resnet50 conv2_x 3x3 (64->64 @56)', { c: 64, h: 56, w: 56, k: 64, r: 3, stride: 1, pad: 1, act: 'relu' }),
    quick: false,
  },
  ...MOBILENET_BLOCKS.map(({ layer, spec }): FusionCaseDef => ({
    layer: `${slug(layer)}.dw-pw`,
    title: `${layer}: depthwise 3x3 + pointwise 1x1 in row bands vs two layers`,
    pair: () => dwPwPair(layer, { ...spec, rows: bandRows(spec, DWPW_BAND_CACHE_BYTES) }),
    quick: layer.includes('block 3'),
  })),
  {
    layer: 'awkward.conv3x3s2.bias-add-relu6',
    title: 'awkward: 5->12 3x3 stride 2 at 17x13, bias + residual + ReLU6',
    pair: () => convBiasActPair('awkward 5->12 3x3/2 @17x13', { c: 5, h: 17, w: 13, k: 12, r: 3, stride: 2, pad: 1, act: 'relu6', residual: true }),
    quick: true,
    quickOnly: true,
  },
  {
    layer: 'awkward.dw-pw.s2',
    title: 'awkward: depthwise 3x3 stride 2 + pointwise 7->10 at 15x11, bands of 3 rows',
    pair: () => dwPwPair('awkward 7->10 @15x11 /2', { c: 7, h: 15, w: 11, k: 10, stride: 2, act: 'relu', rows: 3 }),
    quick: true,
    quickOnly: true,
  },
];

const byLayer = new Map(FUSION_CASES.map((d) => [d.layer, d]));

/** The conv shape of a graph's first conv node (what conv-only views of the case show). */
export function firstConvShape(g: Graph): ConvShape {
  const shapes = inferShapes(g);
  for (const n of g.nodes) {
    const s = convShapeOfNode(n, shapes);
    if (s.ok) return s.shape;
  }
  throw new Error(`graph ${g.name} has no conv node`);
}

/** x / 1e6 to three significant digits: 110, 8.86, 0.0229. */
const mega = (x: number): string => String(Number((x / 1e6).toPrecision(3)));

/** The suite's cases (the --quick subset: one of each kind). */
export function fusionCases(o: { quick: boolean; seed: number; distribution: Distribution }): CaseSpec[] {
  return FUSION_CASES.filter((d) => (o.quick ? d.quick : !d.quickOnly)).map((d) => {
    const pair = d.pair();
    const graph = pair.graph();
    return {
      ...convCase({
        id: `fusion/${d.layer}`,
        suite: 'fusion',
        layer: d.layer,
        // Three significant digits: the awkward quick cases are a few kFLOP and kB (toFixed printed "0 MFLOP", "0.0 MB").
        description: `${d.title} (${mega(pair.flops)} MFLOP; modeled bytes ${mega(pair.bytes.unfused)} MB unfused, ${mega(pair.bytes.fused)} MB fused)`,
        shape: firstConvShape(graph),
        seed: o.seed,
        distribution: o.distribution,
        tags: ['fusion', pair.kind],
      }),
      graph,
    };
  });
}

const ortApplies = (shape: ConvShape): true | string => convOnnxruntimeF32.applies(shape);

export const fusionUnfusedF32: GraphVariant = {
  name: 'fusion-unfused-f32',
  op: 'graph',
  algorithm: 'unfused',
  dtype: 'f32',
  description:
    'Every operator of the graph on its own: the conv (im2col + packed SIMD GEMM, or the depthwise SIMD kernel), then ' +
    'one pass over the output per element-wise operator (bias, batch norm, add, ReLU), each a full read and write.',
  needs: { wasmSimd: true },
  applies: () => true,
};

export const fusionFusedF32: GraphVariant = {
  name: 'fusion-fused-f32',
  op: 'graph',
  algorithm: 'fused',
  dtype: 'f32',
  description:
    'fusion.wasm: the epilogue (bias, residual, ReLU/ReLU6) applied to each GEMM output tile while it is in L1; batch ' +
    'norm folded into the weights and bias on the host; a depthwise 3x3 output produced in row bands sized to the ' +
    'cache and consumed at once by the pointwise GEMM.',
  needs: { wasmSimd: true },
  applies: () => true,
};

function ortVariant(level: OrtLevel): GraphVariant {
  return {
    name: `fusion-ort-${level}-f32`,
    op: 'graph',
    algorithm: `onnxruntime-${level}`,
    dtype: 'f32',
    description:
      `ONNX Runtime (onnxruntime-node, CPU, one thread) on the same unfused graph exported to ONNX, graphOptimizationLevel '${level}'` +
      (level === 'all' ? ": ORT's own Conv+Add+Relu fusion and batch-norm folding" : ': every node on its own') +
      '. The native baseline; not in the payload: needs onnxruntime-node on the device.',
    needs: {},
    nativeCode: true,
    applies: ortApplies,
  };
}

export const fusionVariants = defineVariants('fusion', [fusionUnfusedF32, fusionFusedF32, ortVariant('disabled'), ortVariant('all')]);

/** Device side: a case's pair, run every way (fused, unfused, ORT at both levels), each checked and timed interleaved. */
async function measureFusionCase(c: CaseSpec, variantNames: string[], env: Parameters<GraphKit['measure']>[2]) {
  const def = byLayer.get(c.layer);
  if (!def) throw new Error(`fusion case ${c.id}: no pair "${c.layer}" in this payload; valid: ${FUSION_CASES.map((d) => d.layer).join(', ')}`);
  const pair = def.pair();
  const g = pair.graph();
  env.onPhase?.('inputs', c.id);
  const data = pair.data(c.seed);
  env.onPhase?.('reference', `${c.id}: float64 evaluation of the unfused graph`);
  const ev = evaluateGraph(g, data.inputs, data.params);
  const ref = ev.values.get(g.outputs[0]!)!;
  const allow = pair.allowance(ev, data);
  const cost = (bytes: number) => ({ flops: pair.flops, bytes, intensity: pair.flops / bytes });
  const kern = env.ctx.kernels;
  const info = {
    pair: pair.kind,
    bytesFused: pair.bytes.fused,
    bytesUnfused: pair.bytes.unfused,
    ...(def.layer.endsWith('dw-pw') ? { bandCacheBytes: DWPW_BAND_CACHE_BYTES } : {}),
  };
  // One prepared pair serves both kernels' ways (the same arena; each way writes its own output).
  let prepared: ReturnType<FusionPair['prepareWith']> | null = null;
  const pairOnce = () => (prepared ??= pair.prepareWith(kern, data));
  return measureWays(c, variantNames, env, {
    ref,
    allow,
    source:
      'every element against the float64 evaluation of the unfused graph, within the exact-fp32 allowance carried through the layers (reference/layer-tolerance.ts)',
    cost: cost(pair.bytes.unfused),
    info,
    bitIdenticalTo: (v) => (v.algorithm === 'fused' && pair.bitIdentical ? fusionUnfusedF32.name : undefined),
    async prepare(v): Promise<PreparedWay> {
      if (v.algorithm === 'unfused' || v.algorithm === 'fused') {
        const fused = v.algorithm === 'fused';
        const { value: p, ms } = await timedPrepare(() =>
          // Test-only fault: the fused way's epilogue gets the bias one channel off (a wrong epilogue must fail its check).
          fused && env.faults?.fusedBiasShift ? pair.prepareWith(kern, shiftedParam(data, pair.biasParam)) : pairOnce(),
        );
        return {
          run: fused ? p.fused : p.unfused,
          output: () => (fused ? p.yFused : p.yUnfused).view(),
          cost: cost(fused ? pair.bytes.fused : pair.bytes.unfused),
          info: { ...info, way: fused ? 'fused' : 'unfused' },
          prepareMs: ms,
          prepareBytes: 0,
          note: fused
            ? pair.kind === 'conv-bn-act'
              ? 'weights packed once; batch norm folded into the weights and bias on the host (reference/bn-fold.ts)'
              : 'weights packed once for the GEMM'
            : 'weights packed once for the GEMM; the element-wise passes run on the whole output',
        };
      }
      const level = v.algorithm === 'onnxruntime-all' ? 'all' : 'disabled';
      const { value: s, ms } = await timedPrepare(() => ortGraphSession(g, new Map(Object.entries(data.params)), data.inputs, level));
      let y: Float32Array | null = null;
      return {
        run: async () => {
          y = await s.run();
        },
        output: () => {
          if (!y) throw new Error('ONNX Runtime has not run');
          return y;
        },
        // Modeled bytes: 'all' fuses like the fused way, 'disabled' passes like the unfused one.
        cost: cost(level === 'all' ? pair.bytes.fused : pair.bytes.unfused),
        info: { ...info, way: `onnxruntime ${level}`, code: 'native', library: 'ONNX Runtime CPU (MLAS)' },
        prepareMs: ms,
        prepareBytes: 0,
        note: `the unfused graph exported to ONNX in memory; session: CPU EP, one thread, graphOptimizationLevel ${level}`,
        nonPortable: 'native code (ONNX Runtime): CPU-specific kernels',
        dispose: () => s.release(),
      };
    },
  });
}

export const fusionKit: GraphKit = {
  name: 'fusion',
  description:
    'Fused vs unfused operators (suites/fusion): conv + bias + ReLU/ReLU6, batch norm folded, residual in the epilogue, ' +
    'MobileNet v1 depthwise + pointwise in bands; ONNX Runtime at optimisation disabled vs all',
  variants: fusionVariants,
  measure: measureFusionCase,
  tableBaseline: fusionUnfusedF32.name,
};
