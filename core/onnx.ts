/**
 * ONNX in and out of the graph contract (core/graph.ts), through the
 * protobuf definitions of the `onnx-proto` package (protobufjs static code):
 * no hand-written encoder or decoder.
 *
 * exportOnnx: a Graph and its parameter values -> ModelProto bytes (opset 17,
 * IR 8), parameters as float initializers, static shapes on every graph input
 * and output. Operators map one to one, except: bias -> Add with a [C, 1, 1]
 * (or [C]) initializer; relu6 -> Clip(x, 0, 6); gemm -> Gemm(transB = 1);
 * channelshuffle -> Reshape [N, g, C/g, H, W], Transpose [0, 2, 1, 3, 4],
 * Reshape [N, C, H, W]; flatten -> Flatten(axis 1); reshape -> Reshape with a
 * constant shape.
 *
 * importOnnx: ModelProto bytes -> Graph + the file's real weights (every
 * parameter's init is `data`). It maps the operators above back (including the
 * channel-shuffle pattern and Clip(0, 6)), and also MatMul (+ Add) with
 * constant weights, Constant, Identity and Dropout (pass-through), Conv and
 * pools with auto_pad, Reshape with 0 (copy) entries. It fails with one
 * ImportError naming the file and listing EVERY unsupported operator with its
 * node index and name, or: not ONNX, truncated, an unsupported opset, a
 * dynamic (symbolic) input shape, weights stored outside the file, a tensor
 * type other than float/int64.
 *
 * Payload-safe (the conv suite's ONNX Runtime peer encodes its model with it
 * on the device): no fs, no network.
 */
import onnxProto from 'onnx-proto';
import { inferShapes, numel, ShapeChecker, type Graph, type GraphNode, type Param, type Shapes } from './graph.js';

const { onnx } = onnxProto;
type ModelProto = import('onnx-proto').onnx.ModelProto;
type INodeProto = import('onnx-proto').onnx.INodeProto;
type ITensorProto = import('onnx-proto').onnx.ITensorProto;
type IAttributeProto = import('onnx-proto').onnx.IAttributeProto;
type IValueInfoProto = import('onnx-proto').onnx.IValueInfoProto;

/** IR version 8 goes with opset 17 (ONNX 1.12); ONNX Runtime since 1.12 loads it. */
export const ONNX_IR_VERSION = 8;
export const ONNX_OPSET = 17;
/** Opsets of the default domain importOnnx understands (Clip takes min/max as inputs from 11). */
export const ONNX_OPSET_RANGE = [11, 22] as const;

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;
const A = onnx.AttributeProto.AttributeType;

// ---------------------------------------------------------------------------
// Export
// ---------------------------------------------------------------------------

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** IEEE binary32 little endian, as ONNX raw_data requires (independent of the host's byte order). */
function f32Bytes(a: ArrayLike<number>): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(Float32Array.from(a).buffer);
  const out = new Uint8Array(a.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < a.length; i++) dv.setFloat32(i * 4, a[i]!, true);
  return out;
}

function i64Tensor(name: string, values: readonly number[]): ITensorProto {
  return { name, dataType: INT64, dims: [values.length], int64Data: [...values] };
}

function floatTensor(name: string, dims: readonly number[], values: ArrayLike<number>): ITensorProto {
  return { name, dataType: FLOAT, dims: [...dims], rawData: f32Bytes(values) };
}

const ints = (name: string, v: readonly number[]): IAttributeProto => ({ name, type: A.INTS, ints: [...v] });
const int = (name: string, v: number): IAttributeProto => ({ name, type: A.INT, i: v });
const float = (name: string, v: number): IAttributeProto => ({ name, type: A.FLOAT, f: v });

function valueInfo(name: string, dims: readonly number[]): IValueInfoProto {
  return { name, type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } };
}

/**
 * The ModelProto bytes of `g` with parameter values `params` (every
 * parameter, in the graph's layouts, which are ONNX's). Throws for a missing
 * or wrongly sized parameter and for an invalid graph.
 */
export function exportOnnx(g: Graph, params: ReadonlyMap<string, ArrayLike<number>>, opts: { docString?: string } = {}): Uint8Array {
  const shapes = inferShapes(g);
  const initializer: ITensorProto[] = [];
  for (const [name, p] of Object.entries(g.params)) {
    const v = params.get(name);
    if (!v) throw new Error(`exportOnnx: graph "${g.name}": no values for parameter "${name}"`);
    if (v.length !== numel(p.shape))
      throw new Error(`exportOnnx: graph "${g.name}": parameter "${name}" has ${v.length} values, its shape [${p.shape.join(', ')}] needs ${numel(p.shape)}`);
    // A bias on an N C H W tensor broadcasts as [C, 1, 1] in ONNX's Add.
    const biasOf4d = g.nodes.some((n) => n.op === 'bias' && n.params[0] === name && shapes.get(n.inputs[0]!)!.length === 4);
    initializer.push(floatTensor(name, biasOf4d ? [p.shape[0]!, 1, 1] : p.shape, v));
  }
  const node: INodeProto[] = [];
  const add = (opType: string, name: string, input: string[], output: string[], attribute: IAttributeProto[] = []) =>
    node.push({ opType, name, input, output, attribute });
  for (const n of g.nodes) {
    const out = [n.outputs[0]];
    switch (n.op) {
      case 'conv': {
        const w = shapes.get(n.params[0]!)!;
        add('Conv', n.name, [...n.inputs, ...n.params], out, [
          ints('kernel_shape', [w[2]!, w[3]!]),
          ints('strides', n.attrs.stride),
          ints('pads', n.attrs.pads),
          ints('dilations', n.attrs.dilation),
          int('group', n.attrs.groups),
        ]);
        break;
      }
      case 'gemm':
        add('Gemm', n.name, [...n.inputs, ...n.params], out, [int('transB', 1)]);
        break;
      case 'bias':
        add('Add', n.name, [n.inputs[0]!, n.params[0]!], out);
        break;
      case 'batchnorm':
        add('BatchNormalization', n.name, [...n.inputs, ...n.params], out, [float('epsilon', n.attrs.eps)]);
        break;
      case 'relu':
        add('Relu', n.name, n.inputs, out);
        break;
      case 'relu6':
        initializer.push(floatTensor(`${n.name}/min`, [], [0]), floatTensor(`${n.name}/max`, [], [6]));
        add('Clip', n.name, [n.inputs[0]!, `${n.name}/min`, `${n.name}/max`], out);
        break;
      case 'maxpool':
      case 'avgpool': {
        const a = n.attrs;
        const common = [ints('kernel_shape', a.kernel), ints('strides', a.stride), ints('pads', a.pads), int('ceil_mode', a.ceil ? 1 : 0)];
        if (n.op === 'maxpool') add('MaxPool', n.name, n.inputs, out, common);
        else add('AveragePool', n.name, n.inputs, out, [...common, int('count_include_pad', n.attrs.countIncludePad ? 1 : 0)]);
        break;
      }
      case 'globalavgpool':
        add('GlobalAveragePool', n.name, n.inputs, out);
        break;
      case 'add':
        add('Add', n.name, n.inputs, out);
        break;
      case 'concat':
        add('Concat', n.name, n.inputs, out, [int('axis', 1)]);
        break;
      case 'channelshuffle': {
        const [N, C, H, W] = shapes.get(n.inputs[0]!)! as [number, number, number, number];
        const gr = n.attrs.groups;
        initializer.push(i64Tensor(`${n.name}/split_shape`, [N, gr, C / gr, H, W]), i64Tensor(`${n.name}/merge_shape`, [N, C, H, W]));
        add('Reshape', `${n.name}/split`, [n.inputs[0]!, `${n.name}/split_shape`], [`${n.name}/split`]);
        add('Transpose', `${n.name}/transpose`, [`${n.name}/split`], [`${n.name}/transpose`], [ints('perm', [0, 2, 1, 3, 4])]);
        add('Reshape', n.name, [`${n.name}/transpose`, `${n.name}/merge_shape`], out);
        break;
      }
      case 'flatten':
        add('Flatten', n.name, n.inputs, out, [int('axis', 1)]);
        break;
      case 'reshape':
        initializer.push(i64Tensor(`${n.name}/shape`, shapes.get(n.outputs[0])!));
        add('Reshape', n.name, [n.inputs[0]!, `${n.name}/shape`], out);
        break;
      case 'softmax':
        add('Softmax', n.name, n.inputs, out, [int('axis', n.attrs.axis)]);
        break;
      default: {
        const never: never = n;
        throw new Error(`exportOnnx: unknown operator ${(never as GraphNode).op}`);
      }
    }
  }
  const model = onnx.ModelProto.create({
    irVersion: ONNX_IR_VERSION,
    producerName: 'roofbench',
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    ...(opts.docString ? { docString: opts.docString } : {}),
    graph: {
      name: g.name,
      node,
      initializer,
      input: g.inputs.map((i) => valueInfo(i.name, i.shape)),
      output: g.outputs.map((o) => valueInfo(o, shapes.get(o)!)),
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

// ---------------------------------------------------------------------------
// Import
// ---------------------------------------------------------------------------

/** A file roofbench cannot read as a graph; the message names the file and everything wrong found. */
export class ImportError extends Error {
  override name = 'ImportError';
  constructor(
    message: string,
    readonly file: string,
    /** Unsupported operators, when that is the problem: index in the file's node list, name, op type. */
    readonly unsupported: readonly { index: number; name: string; opType: string; why: string }[] = [],
    options?: ErrorOptions,
  ) {
    super(`${file}: ${message}`, options);
  }
}

export interface ImportedModel {
  graph: Graph;
  /** The file's weights, by parameter name (every parameter's init is `data`). */
  weights: Map<string, Float32Array>;
  shapes: Shapes;
  opset: number;
  producer: string;
}

/** int64 fields decode as numbers (bundled) or Long objects (with the long package); both to a safe integer. */
function toInt(v: unknown): number {
  if (typeof v === 'number') return v;
  if (v && typeof v === 'object' && 'low' in v && 'high' in v) {
    const { low, high, unsigned } = v as { low: number; high: number; unsigned?: boolean };
    const n = (unsigned ? high >>> 0 : high) * 4294967296 + (low >>> 0);
    if (!Number.isSafeInteger(n)) throw new Error(`integer ${n} is out of the safe range`);
    return n;
  }
  throw new Error(`not an integer: ${String(v)}`);
}

/** Values of a float or int64 tensor (initializer or Constant). */
function tensorValues(t: ITensorProto, file: string): { dims: number[]; values: Float32Array | number[]; type: 'float' | 'int64' } {
  const name = t.name ?? '?';
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL || (t.externalData?.length ?? 0) > 0) {
    throw new ImportError(
      `tensor "${name}" keeps its data in an external file: save the model with its weights inside (onnx.save(model, path, save_as_external_data=False))`,
      file,
    );
  }
  const dims = (t.dims ?? []).map(toInt);
  const n = numel(dims);
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : null;
  if (t.dataType === FLOAT) {
    let values: Float32Array;
    if (raw) {
      if (raw.length !== n * 4)
        throw new ImportError(`tensor "${name}" [${dims.join(', ')}] has ${raw.length} bytes of data, ${n * 4} expected (truncated file?)`, file);
      if (LITTLE_ENDIAN) {
        values = new Float32Array(new Uint8Array(raw).buffer); // a copy: raw may be a Buffer view into the file
      } else {
        const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
        values = new Float32Array(n);
        for (let i = 0; i < n; i++) values[i] = dv.getFloat32(i * 4, true);
      }
    } else {
      values = Float32Array.from(t.floatData ?? []);
      if (values.length !== n) throw new ImportError(`tensor "${name}" [${dims.join(', ')}] has ${values.length} values, ${n} expected`, file);
    }
    return { dims, values, type: 'float' };
  }
  if (t.dataType === INT64) {
    let values: number[];
    if (raw) {
      if (raw.length !== n * 8)
        throw new ImportError(`tensor "${name}" [${dims.join(', ')}] has ${raw.length} bytes of data, ${n * 8} expected (truncated file?)`, file);
      const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      values = [];
      for (let i = 0; i < n; i++) values.push(Number(dv.getBigInt64(i * 8, true)));
    } else {
      values = (t.int64Data ?? []).map(toInt);
    }
    return { dims, values, type: 'int64' };
  }
  const typeName = onnx.TensorProto.DataType[t.dataType ?? 0] ?? String(t.dataType);
  throw new ImportError(
    `tensor "${name}" is of type ${typeName}: only float32 (and int64 shapes) are supported (a quantized or fp16 model? export it in float32)`,
    file,
  );
}

/** Attribute lookup with defaults and a type check. */
function attrs(n: INodeProto) {
  const by = new Map((n.attribute ?? []).map((a) => [a.name ?? '', a]));
  return {
    has: (k: string) => by.has(k),
    names: () => [...by.keys()],
    int(k: string, dflt: number): number {
      const a = by.get(k);
      return a ? toInt(a.i ?? 0) : dflt;
    },
    ints(k: string, dflt: number[]): number[] {
      const a = by.get(k);
      return a ? (a.ints ?? []).map(toInt) : dflt;
    },
    float(k: string, dflt: number): number {
      const a = by.get(k);
      return a ? (a.f ?? 0) : dflt;
    },
    string(k: string, dflt: string): string {
      const a = by.get(k);
      return a?.s ? new TextDecoder().decode(a.s) : dflt;
    },
    tensor(k: string): ITensorProto | undefined {
      return by.get(k)?.t ?? undefined;
    },
  };
}

/** A node the importer does not map: why (shown in the error). */
class Unsupported extends Error {}

const SUPPORTED = [
  'Conv',
  'Gemm',
  'MatMul (+ Add)',
  'BatchNormalization',
  'Relu',
  'Clip(0, 6)',
  'MaxPool',
  'AveragePool',
  'GlobalAveragePool',
  'Add',
  'Concat (axis 1)',
  'Flatten (axis 1)',
  'Reshape',
  'Reshape-Transpose-Reshape channel shuffle',
  'Softmax',
  'Constant',
  'Identity',
  'Dropout',
];

/**
 * Read an ONNX model into a Graph and its weights. `file` names it in errors.
 * Every unsupported operator is listed in one ImportError.
 */
export function importOnnx(bytes: Uint8Array, file: string): ImportedModel {
  if (bytes.length === 0) throw new ImportError('the file is empty: not an ONNX model', file);
  let model: ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (cause) {
    const msg = cause instanceof Error ? cause.message : String(cause);
    // Writers put ir_version (field 1, varint: tag byte 0x08) first: a file that starts so and fails is cut short.
    throw new ImportError(
      bytes[0] === 0x08 && /index out of range|premature|truncated/i.test(msg)
        ? `the file ends in the middle of a protobuf message (${msg}): truncated, or not an ONNX model`
        : `not an ONNX model: the bytes are not a ModelProto protobuf message (${msg})`,
      file,
      [],
      { cause },
    );
  }
  const ir = model.irVersion === undefined || model.irVersion === null ? 0 : toInt(model.irVersion);
  const g = model.graph;
  if (ir <= 0 || !g || (g.node ?? []).length === 0) {
    throw new ImportError(
      `not an ONNX model: ${ir <= 0 ? 'no IR version' : !g ? 'no graph' : 'a graph without nodes'} (an ONNX file is a ModelProto with ir_version and a graph of nodes)`,
      file,
    );
  }
  const opsetEntry = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  const opset = opsetEntry ? toInt(opsetEntry.version ?? 0) : 0;
  if (opset < ONNX_OPSET_RANGE[0] || opset > ONNX_OPSET_RANGE[1]) {
    throw new ImportError(
      `opset ${opset || 'missing'} of the default ONNX domain is not supported: roofbench reads opsets ${ONNX_OPSET_RANGE[0]} to ${ONNX_OPSET_RANGE[1]} ` +
        '(convert it, e.g. with onnx.version_converter.convert_version(model, 17))',
      file,
    );
  }
  const name = g.name || file.split('/').pop() || 'model';

  // Constants: initializers and Constant nodes, by tensor name.
  const constants = new Map<string, { dims: number[]; values: Float32Array | number[]; type: 'float' | 'int64' }>();
  for (const t of g.initializer ?? []) constants.set(t.name ?? '', tensorValues(t, file));
  for (const n of g.node ?? []) {
    if (n.opType === 'Constant' && (!n.domain || n.domain === 'ai.onnx')) {
      const t = attrs(n).tensor('value');
      if (t) constants.set(n.output?.[0] ?? '', tensorValues({ ...t, name: n.output?.[0] ?? '' }, file));
    }
  }

  // Graph inputs: those that are not initializers; static shapes only.
  const checker = new ShapeChecker(name);
  const inputs: Graph['inputs'] = [];
  for (const vi of g.input ?? []) {
    const iname = vi.name ?? '';
    if (constants.has(iname)) continue;
    const tt = vi.type?.tensorType;
    if (!tt) throw new ImportError(`graph input "${iname}" is not a tensor`, file);
    if (tt.elemType !== FLOAT) {
      throw new ImportError(
        `graph input "${iname}" has element type ${onnx.TensorProto.DataType[tt.elemType ?? 0] ?? tt.elemType}: only float32 inputs are supported`,
        file,
      );
    }
    const dims = (tt.shape?.dim ?? []).map((d, axis) => {
      const v = d.dimValue === undefined || d.dimValue === null ? 0 : toInt(d.dimValue);
      if (!d.dimParam && v > 0) return v;
      throw new ImportError(
        `dynamic shape: graph input "${iname}" axis ${axis} is ${d.dimParam ? `"${d.dimParam}"` : 'unknown'}: roofbench needs static shapes; ` +
          'export with a fixed input size (no dynamic_axes), or fix it with onnxruntime.tools.make_dynamic_shape_fixed',
        file,
      );
    });
    if (dims.length === 0) throw new ImportError(`graph input "${iname}" has no shape: roofbench needs static shapes`, file);
    inputs.push({ name: iname, shape: dims });
    checker.input(iname, dims);
  }
  if (inputs.length === 0) throw new ImportError('the graph has no inputs (every input is an initializer)', file);

  // Consumers of each tensor, to recognise patterns (MatMul + Add, the shuffle's Reshape-Transpose-Reshape).
  const nodes = g.node ?? [];
  const consumers = new Map<string, number[]>();
  nodes.forEach((n, i) => {
    for (const t of n.input ?? []) if (t) consumers.set(t, [...(consumers.get(t) ?? []), i]);
  });
  const onlyConsumer = (t: string): number | undefined => {
    const c = consumers.get(t);
    return c && c.length === 1 && !(g.output ?? []).some((o) => o.name === t) ? c[0] : undefined;
  };

  const alias = new Map<string, string>(); // Identity / Dropout outputs -> their input
  const real = (t: string) => alias.get(t) ?? t;
  const params: Record<string, Param> = {};
  const weights = new Map<string, Float32Array>();
  const out: GraphNode[] = [];
  const consumed = new Set<number>(); // nodes folded into an earlier node's mapping
  const unsupported: { index: number; name: string; opType: string; why: string }[] = [];
  const usedNames = new Set<string>();

  /** A float constant as a parameter (reshaped to `shape`, data kept, optionally re-laid out). */
  const param = (t: string, shape: number[], values?: Float32Array): string => {
    const c = constants.get(t);
    if (!c || c.type !== 'float') throw new Unsupported(`"${t}" must be a float constant (initializer), not a computed tensor`);
    if (!params[t]) {
      if (numel(c.dims) !== numel(shape)) throw new Unsupported(`constant "${t}" [${c.dims.join(', ')}] cannot be a [${shape.join(', ')}] parameter`);
      params[t] = { shape, init: { kind: 'data' } };
      weights.set(t, values ?? (c.values as Float32Array));
      checker.param(t, params[t]);
    }
    return t;
  };
  const shapeOf = (t: string): number[] => {
    const s = checker.shapes.get(real(t));
    if (!s) throw new Unsupported(`input "${t}" is not produced by an earlier supported node`);
    return s;
  };
  const pads2d = (
    a: ReturnType<typeof attrs>,
    x: number[],
    kernel: [number, number],
    stride: [number, number],
    dil: [number, number],
  ): [number, number, number, number] => {
    const auto = a.string('auto_pad', 'NOTSET');
    if (auto === 'NOTSET') {
      const p = a.ints('pads', [0, 0, 0, 0]);
      if (p.length !== 4) throw new Unsupported(`pads [${p.join(', ')}]: 2D needs 4 values`);
      return p as [number, number, number, number];
    }
    if (auto === 'VALID') return [0, 0, 0, 0];
    if (auto === 'SAME_UPPER' || auto === 'SAME_LOWER') {
      const axis = (size: number, k: number, s: number, d: number): [number, number] => {
        const o = Math.ceil(size / s);
        const total = Math.max((o - 1) * s + (k - 1) * d + 1 - size, 0);
        const small = Math.floor(total / 2);
        return auto === 'SAME_UPPER' ? [small, total - small] : [total - small, small];
      };
      const [t, b] = axis(x[2]!, kernel[0], stride[0], dil[0]);
      const [l, r] = axis(x[3]!, kernel[1], stride[1], dil[1]);
      return [t, l, b, r];
    }
    throw new Unsupported(`auto_pad ${auto}`);
  };
  const pair = (v: number[], what: string): [number, number] => {
    if (v.length !== 2) throw new Unsupported(`${what} [${v.join(', ')}]: only 2D (two values) is supported`);
    return [v[0]!, v[1]!];
  };

  nodes.forEach((n, index) => {
    if (consumed.has(index)) return;
    const opType = n.opType ?? '';
    let nodeName = n.name || `${opType}_${index}`;
    for (let k = 2; usedNames.has(nodeName); k++) nodeName = `${n.name || `${opType}_${index}`}_${k}`;
    const ins = (n.input ?? []).map((t) => real(t));
    const output = n.output?.[0] ?? '';
    const a = attrs(n);
    const emit = (node: GraphNode) => {
      for (const t of node.inputs) if (checker.kindOf(t) === undefined) throw new Unsupported(`input "${t}" is not produced by an earlier supported node`);
      checker.node(node, out.length);
      out.push(node);
      usedNames.add(node.name);
    };
    try {
      if (n.domain && n.domain !== 'ai.onnx') throw new Unsupported(`operator of domain "${n.domain}"`);
      if ((n.output ?? []).filter(Boolean).length > 1 && opType !== 'Dropout') throw new Unsupported('more than one output');
      switch (opType) {
        case 'Constant':
          return;
        case 'Identity':
        case 'Dropout':
          alias.set(output, ins[0]!);
          return;
        case 'Conv': {
          const x = shapeOf(ins[0]!);
          const wc = constants.get(ins[1]!);
          if (!wc) throw new Unsupported('its weight is computed, not a constant initializer');
          if (wc.dims.length !== 4) throw new Unsupported(`weight [${wc.dims.join(', ')}]: only 2D convolutions (4D weights) are supported`);
          const kernel: [number, number] = [wc.dims[2]!, wc.dims[3]!];
          const stride = pair(a.ints('strides', [1, 1]), 'strides');
          const dilation = pair(a.ints('dilations', [1, 1]), 'dilations');
          const p = [param(ins[1]!, wc.dims)];
          if (ins[2]) p.push(param(ins[2], [wc.dims[0]!]));
          emit({
            name: nodeName,
            op: 'conv',
            inputs: [ins[0]!],
            params: p,
            outputs: [output],
            attrs: { stride, pads: pads2d(a, x, kernel, stride, dilation), dilation, groups: a.int('group', 1) },
          });
          return;
        }
        case 'Gemm': {
          if (a.int('transA', 0) !== 0) throw new Unsupported('transA = 1');
          if (a.float('alpha', 1) !== 1 || a.float('beta', 1) !== 1)
            throw new Unsupported(`alpha = ${a.float('alpha', 1)}, beta = ${a.float('beta', 1)} (only 1, 1)`);
          const wc = constants.get(ins[1]!);
          if (!wc || wc.type !== 'float' || wc.dims.length !== 2) throw new Unsupported('its B input must be a 2D float initializer');
          const transB = a.int('transB', 0) === 1;
          const [K, F] = transB ? [wc.dims[0]!, wc.dims[1]!] : [wc.dims[1]!, wc.dims[0]!];
          const p = [param(ins[1]!, [K, F], transB ? undefined : transpose2d(wc.values as Float32Array, F, K))];
          if (ins[2]) p.push(param(ins[2], [K]));
          emit({ name: nodeName, op: 'gemm', inputs: [ins[0]!], params: p, outputs: [output], attrs: {} });
          return;
        }
        case 'MatMul': {
          const wc = constants.get(ins[1]!);
          if (!wc || wc.type !== 'float' || wc.dims.length !== 2) throw new Unsupported('only x @ W with a 2D float initializer W (a fully-connected layer)');
          const [F, K] = [wc.dims[0]!, wc.dims[1]!];
          const p = [param(ins[1]!, [K, F], transpose2d(wc.values as Float32Array, F, K))];
          let outName = output;
          const next = onlyConsumer(output);
          const nn = next !== undefined ? nodes[next] : undefined;
          if (nn && nn.opType === 'Add' && (!nn.domain || nn.domain === 'ai.onnx')) {
            const other = (nn.input ?? []).find((t) => t !== output);
            const bc = other !== undefined ? constants.get(other) : undefined;
            if (other !== undefined && bc && bc.type === 'float' && numel(bc.dims) === K) {
              p.push(param(other, [K]));
              outName = nn.output?.[0] ?? output;
              consumed.add(next!);
            }
          }
          emit({ name: nodeName, op: 'gemm', inputs: [ins[0]!], params: p, outputs: [outName], attrs: {} });
          return;
        }
        case 'BatchNormalization': {
          if (a.int('training_mode', 0) !== 0) throw new Unsupported('training_mode = 1');
          const C = shapeOf(ins[0]!)[1]!;
          emit({
            name: nodeName,
            op: 'batchnorm',
            inputs: [ins[0]!],
            params: ins.slice(1, 5).map((t) => param(t, [C])),
            outputs: [output],
            attrs: { eps: a.float('epsilon', 1e-5) },
          });
          return;
        }
        case 'Relu':
          emit({ name: nodeName, op: 'relu', inputs: [ins[0]!], params: [], outputs: [output], attrs: {} });
          return;
        case 'Clip': {
          const scalar = (t: string | undefined, dflt: number): number => {
            if (!t) return dflt;
            const c = constants.get(t);
            if (!c || numel(c.dims) !== 1) throw new Unsupported(`its bound "${t}" is not a constant scalar`);
            return Number(c.values[0]);
          };
          const lo = scalar(ins[1], Number.NEGATIVE_INFINITY);
          const hi = scalar(ins[2], Number.POSITIVE_INFINITY);
          if (lo === 0 && hi === 6) emit({ name: nodeName, op: 'relu6', inputs: [ins[0]!], params: [], outputs: [output], attrs: {} });
          else if (lo === 0 && hi === Number.POSITIVE_INFINITY)
            emit({ name: nodeName, op: 'relu', inputs: [ins[0]!], params: [], outputs: [output], attrs: {} });
          else throw new Unsupported(`Clip(min ${lo}, max ${hi}): only Clip(0, 6) (ReLU6) and Clip(0) (ReLU)`);
          return;
        }
        case 'MaxPool':
        case 'AveragePool': {
          const x = shapeOf(ins[0]!);
          if (x.length !== 4) throw new Unsupported(`input of rank ${x.length}: only 2D pooling (N C H W)`);
          if ((n.output ?? []).filter(Boolean).length > 1) throw new Unsupported('the Indices output');
          const kernel = pair(a.ints('kernel_shape', []), 'kernel_shape');
          const stride = pair(a.ints('strides', [1, 1]), 'strides');
          const dil = pair(a.ints('dilations', [1, 1]), 'dilations');
          if (dil[0] !== 1 || dil[1] !== 1) throw new Unsupported(`dilations [${dil.join(', ')}]`);
          if (a.int('storage_order', 0) !== 0) throw new Unsupported('storage_order = 1');
          const common = { kernel, stride, pads: pads2d(a, x, kernel, stride, dil), ceil: a.int('ceil_mode', 0) === 1 };
          emit(
            opType === 'MaxPool'
              ? { name: nodeName, op: 'maxpool', inputs: [ins[0]!], params: [], outputs: [output], attrs: common }
              : {
                  name: nodeName,
                  op: 'avgpool',
                  inputs: [ins[0]!],
                  params: [],
                  outputs: [output],
                  attrs: { ...common, countIncludePad: a.int('count_include_pad', 0) === 1 },
                },
          );
          return;
        }
        case 'GlobalAveragePool':
          emit({ name: nodeName, op: 'globalavgpool', inputs: [ins[0]!], params: [], outputs: [output], attrs: {} });
          return;
        case 'Add': {
          if (ins.length !== 2) throw new Unsupported(`${ins.length} inputs`);
          const [p, q] = ins as [string, string];
          const pc = constants.get(p);
          const qc = constants.get(q);
          if (!pc && !qc) {
            const sp = shapeOf(p);
            const sq = shapeOf(q);
            if (sp.join() !== sq.join()) throw new Unsupported(`broadcasting [${sp.join(', ')}] + [${sq.join(', ')}]`);
            emit({ name: nodeName, op: 'add', inputs: [p, q], params: [], outputs: [output], attrs: {} });
            return;
          }
          const [xName, bName, bc] = pc ? [q, p, pc] : [p, q, qc!];
          const x = shapeOf(xName);
          const C = x[1];
          // per-channel (numpy broadcasting from the right): [C, 1, 1] or [1, C, 1, 1] on N C H W; [C] or [1, C] on N C
          const perChannel = C !== undefined && numel(bc.dims) === C && bc.dims.length >= x.length - 1 && bc.dims[bc.dims.length - (x.length - 1)] === C;
          if (!perChannel) throw new Unsupported(`adding the constant "${bName}" [${bc.dims.join(', ')}] to [${x.join(', ')}]: only a per-channel bias`);
          emit({ name: nodeName, op: 'bias', inputs: [xName], params: [param(bName, [C!])], outputs: [output], attrs: {} });
          return;
        }
        case 'Concat': {
          const x = shapeOf(ins[0]!);
          let axis = a.int('axis', 1);
          if (axis < 0) axis += x.length;
          if (axis !== 1) throw new Unsupported(`axis ${a.int('axis', 1)}: only the channel axis (1)`);
          emit({ name: nodeName, op: 'concat', inputs: ins, params: [], outputs: [output], attrs: { axis: 1 } });
          return;
        }
        case 'Flatten': {
          const x = shapeOf(ins[0]!);
          let axis = a.int('axis', 1);
          if (axis < 0) axis += x.length;
          if (axis !== 1) throw new Unsupported(`axis ${a.int('axis', 1)}: only axis 1`);
          emit({ name: nodeName, op: 'flatten', inputs: [ins[0]!], params: [], outputs: [output], attrs: {} });
          return;
        }
        case 'Reshape': {
          const x = shapeOf(ins[0]!);
          const spec = reshapeTarget(constants, ins[1], x, a.int('allowzero', 0));
          // Channel shuffle: Reshape [N, g, C/g, H, W] -> Transpose [0, 2, 1, 3, 4] -> Reshape [N, C, H, W]
          if (x.length === 4 && spec.length === 5 && spec[0] === x[0] && spec[1]! * spec[2]! === x[1] && spec[3] === x[2] && spec[4] === x[3]) {
            const ti = onlyConsumer(output);
            const t = ti !== undefined ? nodes[ti] : undefined;
            const tOut = t?.output?.[0] ?? '';
            const ri = t && t.opType === 'Transpose' && attrs(t).ints('perm', []).join() === '0,2,1,3,4' ? onlyConsumer(tOut) : undefined;
            const r = ri !== undefined ? nodes[ri] : undefined;
            if (
              r &&
              r.opType === 'Reshape' &&
              reshapeTarget(constants, r.input?.[1], [x[0]!, spec[2]!, spec[1]!, x[2]!, x[3]!], attrs(r).int('allowzero', 0)).join() === x.join()
            ) {
              consumed.add(ti!).add(ri!);
              let shuffleName = r.name || nodeName;
              for (let k = 2; usedNames.has(shuffleName); k++) shuffleName = `${r.name || nodeName}_${k}`;
              emit({ name: shuffleName, op: 'channelshuffle', inputs: [ins[0]!], params: [], outputs: [r.output?.[0] ?? ''], attrs: { groups: spec[1]! } });
              return;
            }
          }
          emit({ name: nodeName, op: 'reshape', inputs: [ins[0]!], params: [], outputs: [output], attrs: { shape: spec } });
          return;
        }
        case 'Softmax': {
          const x = shapeOf(ins[0]!);
          let axis = a.int('axis', opset >= 13 ? -1 : 1);
          if (axis < 0) axis += x.length;
          if (opset < 13 && axis !== x.length - 1) throw new Unsupported(`axis ${axis} before opset 13 (softmax over the flattened trailing axes)`);
          emit({ name: nodeName, op: 'softmax', inputs: [ins[0]!], params: [], outputs: [output], attrs: { axis } });
          return;
        }
        default:
          throw new Unsupported(opType === 'Transpose' ? 'Transpose outside the channel-shuffle pattern' : 'not a supported operator');
      }
    } catch (e) {
      if (e instanceof Unsupported) {
        unsupported.push({ index, name: n.name || '(no name)', opType: opType || '(no op type)', why: e.message });
        // Keep going: define its output with no shape so later nodes report against it, not a cascade.
        return;
      }
      if (e instanceof ImportError) throw e;
      throw new ImportError(`node ${index} "${n.name ?? ''}" (${opType}): ${(e as Error).message}`, file, [], { cause: e });
    }
  });
  if (unsupported.length > 0) {
    // A node reading an unsupported node's output fails too; list only the first cause of each chain.
    const causes = unsupported.filter((u) => !/is not produced by an earlier supported node/.test(u.why));
    const list = (causes.length > 0 ? causes : unsupported).map((u) => `node ${u.index} "${u.name}" (${u.opType}): ${u.why}`);
    throw new ImportError(
      `${list.length} unsupported operator${list.length === 1 ? '' : 's'}:\n  ${list.join('\n  ')}\n` + `roofbench's graphs support: ${SUPPORTED.join(', ')}`,
      file,
      causes.length > 0 ? causes : unsupported,
    );
  }
  const outputs = (g.output ?? []).map((o) => real(o.name ?? ''));
  try {
    checker.finish(outputs);
  } catch (e) {
    throw new ImportError((e as Error).message, file, [], { cause: e });
  }
  const graph: Graph = { name, inputs, outputs, params, nodes: out };
  return { graph, weights, shapes: checker.shapes, opset, producer: [model.producerName, model.producerVersion].filter(Boolean).join(' ') };
}

function transpose2d(v: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(v.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = v[r * cols + c]!;
  return out;
}

/** The static target shape of a Reshape (0 copies the input's dimension unless allowzero; one -1 is inferred). */
function reshapeTarget(
  constants: Map<string, { dims: number[]; values: Float32Array | number[]; type: string }>,
  t: string | undefined,
  x: number[],
  allowzero: number,
): number[] {
  const c = t !== undefined ? constants.get(t) : undefined;
  if (!c || c.type !== 'int64') throw new Unsupported('its shape input must be a constant int64 tensor (a static reshape)');
  const spec = [...c.values].map((v, i) => (v === 0 && allowzero === 0 ? x[i]! : Number(v)));
  const known = spec.filter((d) => d > 0).reduce((a, b) => a * b, 1);
  return spec.map((d) => (d === -1 ? numel(x) / known : d));
}
