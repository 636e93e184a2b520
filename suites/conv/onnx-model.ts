/**
 * A minimal ONNX ModelProto encoder for a one-node Conv graph, written directly
 * in protobuf wire format (no dependency): the conv-onnxruntime-f32 variant
 * builds its model in memory with it and hands the bytes to ONNX Runtime.
 *
 * The graph: input X (float, N x C x H x W), initializer W (float,
 * K x C/groups x R x S; an initializer, not a graph input, so ONNX Runtime treats
 * it as a constant and may pre-pack / re-layout it when the session is
 * created), one `Conv` node (kernel_shape, strides, pads [p,p,p,p], group,
 * dilations [1,1]; no bias), output Y (float, N x K x Ho x Wo). All shapes are
 * static so the runtime can plan its memory once.
 *
 * Field numbers are those of onnx/onnx.proto (proto2); repeated scalars are
 * written unpacked, the proto2 default, which every protobuf parser accepts.
 * Pure and payload-safe (no node: imports).
 */
import type { ConvShape } from '../../harness/contracts.js';
import { convOutputSize } from '../../reference/conv.js';

/** IR version 8 goes with opset 17 (ONNX 1.12); any ONNX Runtime since 1.12 loads it. */
export const ONNX_IR_VERSION = 8;
export const ONNX_OPSET = 17;
/** TensorProto.DataType.FLOAT */
const ONNX_FLOAT = 1;
/** AttributeProto.AttributeType */
const ATTR_INT = 2;
const ATTR_INTS = 7;

const WIRE_VARINT = 0;
const WIRE_LEN = 2;

const utf8 = new TextEncoder();

/** Accumulates protobuf fields; one instance per message. */
class Msg {
  private readonly parts: Uint8Array[] = [];
  private size = 0;

  private push(b: Uint8Array): void {
    this.parts.push(b);
    this.size += b.length;
  }

  private varint(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new Error(`onnx-model: cannot encode ${v} as a protobuf varint (a non-negative safe integer is needed)`);
    }
    const out: number[] = [];
    let x = v;
    // Division, not >>>, so values of 2^31 and above encode correctly.
    while (x >= 0x80) {
      out.push((x % 0x80) | 0x80);
      x = Math.floor(x / 0x80);
    }
    out.push(x);
    this.push(Uint8Array.from(out));
  }

  private tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  int(field: number, v: number): this {
    this.tag(field, WIRE_VARINT);
    this.varint(v);
    return this;
  }

  ints(field: number, vs: readonly number[]): this {
    for (const v of vs) this.int(field, v);
    return this;
  }

  bytes(field: number, b: Uint8Array): this {
    this.tag(field, WIRE_LEN);
    this.varint(b.length);
    this.push(b);
    return this;
  }

  str(field: number, s: string): this {
    return this.bytes(field, utf8.encode(s));
  }

  msg(field: number, m: Msg): this {
    return this.bytes(field, m.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

/** ValueInfoProto for a float tensor with static dims. */
function floatValueInfo(name: string, dims: readonly number[]): Msg {
  const shape = new Msg();
  for (const d of dims) shape.msg(1, new Msg().int(1, d)); // TensorShapeProto.dim { dim_value }
  const tensorType = new Msg().int(1, ONNX_FLOAT).msg(2, shape); // TypeProto.Tensor { elem_type, shape }
  const type = new Msg().msg(1, tensorType); // TypeProto { tensor_type }
  return new Msg().str(1, name).msg(2, type); // ValueInfoProto { name, type }
}

/** IEEE binary32 little endian, as ONNX raw_data requires (independent of the host's byte order). */
function f32LittleEndian(a: Float32Array): Uint8Array {
  const out = new Uint8Array(a.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < a.length; i++) dv.setFloat32(i * 4, a[i]!, true);
  return out;
}

function intAttr(name: string, v: number): Msg {
  return new Msg().str(1, name).int(20, ATTR_INT).int(3, v); // AttributeProto { name, type, i }
}

function intsAttr(name: string, vs: readonly number[]): Msg {
  return new Msg().str(1, name).int(20, ATTR_INTS).ints(8, vs); // AttributeProto { name, type, ints }
}

/** Names of the graph's tensors, for feeds and fetches. */
export const CONV_MODEL_IO = { input: 'X', weights: 'W', output: 'Y' } as const;

/**
 * The ModelProto bytes of `Y = Conv(X, W)` for this shape, W (KCRS, C/groups
 * per group, the reference's layout, which is ONNX's) stored as an initializer.
 * Throws on an invalid shape or a weight array of the wrong length.
 */
export function encodeConvModel(shape: ConvShape, w: Float32Array): Uint8Array {
  const { ho, wo } = convOutputSize(shape);
  const { n, c, h, w: wd, k, r, s, stride, pad, groups } = shape;
  const wDims = [k, c / groups, r, s];
  const wLen = k * (c / groups) * r * s;
  if (w.length !== wLen) {
    throw new Error(`onnx-model: w has ${w.length} floats, the shape needs K*(C/groups)*R*S = ${wLen}`);
  }
  const { input, weights, output } = CONV_MODEL_IO;

  const node = new Msg()
    .str(1, input)
    .str(1, weights)
    .str(2, output)
    .str(3, 'conv')
    .str(4, 'Conv')
    .msg(5, intsAttr('kernel_shape', [r, s]))
    .msg(5, intsAttr('strides', [stride, stride]))
    .msg(5, intsAttr('pads', [pad, pad, pad, pad]))
    .msg(5, intsAttr('dilations', [1, 1]))
    .msg(5, intAttr('group', groups));

  // TensorProto { dims, data_type, name, raw_data }
  const init = new Msg().ints(1, wDims).int(2, ONNX_FLOAT).str(8, weights).bytes(9, f32LittleEndian(w));

  const graph = new Msg()
    .msg(1, node)
    .str(2, 'roofbench_conv')
    .msg(5, init)
    .msg(11, floatValueInfo(input, [n, c, h, wd]))
    .msg(12, floatValueInfo(output, [n, k, ho, wo]));

  return new Msg()
    .int(1, ONNX_IR_VERSION)
    .str(2, 'roofbench')
    .msg(7, graph)
    .msg(8, new Msg().str(1, '').int(2, ONNX_OPSET)) // OperatorSetIdProto { domain: '' (ai.onnx), version }
    .finish();
}
