/**
 * The in-memory ONNX model of the conv-onnxruntime-f32 variant: the conv
 * case's one-node graph (core/graph.ts convCaseGraph) written by the ONNX
 * exporter (core/onnx.ts, protobuf definitions from the onnx-proto
 * package).
 *
 * The graph: input x (float, N x C x H x W), initializer w (float,
 * K x C/groups x R x S; an initializer, not a graph input, so ONNX Runtime treats
 * it as a constant and may pre-pack / re-layout it when the session is
 * created), one `Conv` node (kernel_shape, strides, pads [p,p,p,p], group,
 * dilations [1,1]; no bias), output y (float, N x K x Ho x Wo). All shapes are
 * static so the runtime can plan its memory once.
 *
 * Pure and payload-safe (no node: imports).
 */
import type { ConvShape } from '../../core/contracts.js';
import { CONV_CASE_TENSORS, convCaseGraph } from '../../core/graph.js';
import { exportOnnx } from '../../core/onnx.js';
import { convOutputSize } from '../../reference/conv.js';

export { ONNX_IR_VERSION, ONNX_OPSET } from '../../core/onnx.js';

/** Names of the graph's tensors, for feeds and fetches. */
export const CONV_MODEL_IO = { input: CONV_CASE_TENSORS.input, weights: CONV_CASE_TENSORS.weight, output: CONV_CASE_TENSORS.output } as const;

/**
 * The ModelProto bytes of `y = Conv(x, w)` for this shape, w (KCRS, C/groups
 * per group, the reference's layout, which is ONNX's) stored as an initializer.
 * Throws on an invalid shape or a weight array of the wrong length.
 */
export function encodeConvModel(shape: ConvShape, w: Float32Array): Uint8Array {
  convOutputSize(shape); // validates the shape, with the conv suite's messages
  const { c, k, r, s, groups } = shape;
  const wLen = k * (c / groups) * r * s;
  if (w.length !== wLen) {
    throw new Error(`onnx-model: w has ${w.length} floats, the shape needs K*(C/groups)*R*S = ${wLen}`);
  }
  return exportOnnx(convCaseGraph(shape, 'roofbench_conv'), new Map([[CONV_MODEL_IO.weights, w]]));
}
