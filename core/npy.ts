/**
 * NumPy's `.npy` format (NEP 1, numpy/lib/format.py): read versions 1.0, 2.0 and
 * 3.0, write version 1.0 byte for byte as current numpy's np.save does (checked against 2.4).
 *
 * Layout: the magic string "\x93NUMPY", a major and a minor version byte, the
 * header length (uint16 little-endian for 1.0, uint32 for 2.0 and 3.0), then the
 * header: the repr of a Python dict with the keys 'descr' (the dtype, e.g.
 * '<f4'), 'fortran_order' (bool) and 'shape' (a tuple of ints), padded with spaces
 * and ended by '\n' so that the data starts at a multiple of 64 bytes (numpy's
 * ARRAY_ALIGN; older numpy versions aligned to 16: such files are read too).
 * The data follows, elements in C order (or Fortran order if fortran_order).
 *
 * The writer produces the bytes numpy's np.save produces (keys sorted, numpy's
 * 21 spare spaces after the header so the first axis can grow in place, the
 * padding), so files round-trip byte for byte (test/npy.test.ts checks it against
 * fixtures made from hand-written headers, see test/fixtures/npy/README.md).
 *
 * Pure and payload-safe (Uint8Array, DataView and TextEncoder only; no node:
 * imports): the runner uses it on the device to hand inputs to native kernels and
 * to read what they write (harness/runner/external.ts).
 */

/** The dtypes this module reads and writes, by numpy name: type code, bytes per element, the typed array holding them. */
export const NPY_DTYPES = {
  float32: { code: 'f4', size: 4, array: Float32Array },
  float64: { code: 'f8', size: 8, array: Float64Array },
  /** Raw IEEE half-precision bits (JavaScript has no Float16Array before Node 24). */
  float16: { code: 'f2', size: 2, array: Uint16Array },
  int8: { code: 'i1', size: 1, array: Int8Array },
  uint8: { code: 'u1', size: 1, array: Uint8Array },
  bool: { code: 'b1', size: 1, array: Uint8Array },
  int16: { code: 'i2', size: 2, array: Int16Array },
  uint16: { code: 'u2', size: 2, array: Uint16Array },
  int32: { code: 'i4', size: 4, array: Int32Array },
  uint32: { code: 'u4', size: 4, array: Uint32Array },
  int64: { code: 'i8', size: 8, array: BigInt64Array },
  uint64: { code: 'u8', size: 8, array: BigUint64Array },
} as const;
export type NpyDType = keyof typeof NPY_DTYPES;

/** The typed array that holds each dtype's elements (any backing buffer: NPY_DTYPES' constructors make ArrayBuffer-backed ones). */
export interface NpyData {
  float32: Float32Array;
  float64: Float64Array;
  float16: Uint16Array;
  int8: Int8Array;
  uint8: Uint8Array;
  bool: Uint8Array;
  int16: Int16Array;
  uint16: Uint16Array;
  int32: Int32Array;
  uint32: Uint32Array;
  int64: BigInt64Array;
  uint64: BigUint64Array;
}

export type NpyArray<D extends NpyDType = NpyDType> = {
  [K in D]: {
    dtype: K;
    /** Dimensions, outermost first; [] for a 0-d array (one element). */
    shape: number[];
    /** True when the file stores the elements in Fortran (column-major) order; `data` is then in that order. */
    fortranOrder: boolean;
    /** The elements, in the platform's byte order (big-endian files are converted). */
    data: NpyData[K];
    /** The header's descr as written in the file, e.g. '<f4' or '>i8'. */
    descr: string;
    /** Format version of the file, e.g. [1, 0]. */
    version: [number, number];
  };
}[D];

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
/** numpy's ARRAY_ALIGN: the data of a written file starts at a multiple of this. */
export const NPY_ALIGN = 64;
/** numpy's GROWTH_AXIS_MAX_DIGITS: spare header space so that the growth axis can take any length in place. */
const GROWTH_AXIS_MAX_DIGITS = 21;
/** numpy refuses longer headers unless told to trust the file (format.py _MAX_HEADER_SIZE). */
const MAX_HEADER_SIZE = 10000;

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The descr numpy writes for a dtype on a little-endian machine: '<f4', '|u1' ... */
export function npyDescr(dtype: NpyDType): string {
  const t = NPY_DTYPES[dtype];
  return `${t.size === 1 ? '|' : '<'}${t.code}`;
}

/** Number of elements of a shape (1 for the 0-d shape []). */
export function npyElements(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function describeShape(shape: readonly number[]): string {
  return `(${shape.join(', ')}${shape.length === 1 ? ',' : ''})`;
}

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

/** The header dict as numpy's _write_array_header writes it, growth spaces included (before the alignment padding). */
function headerText(descr: string, fortranOrder: boolean, shape: readonly number[]): string {
  const text = `{'descr': '${descr}', 'fortran_order': ${fortranOrder ? 'True' : 'False'}, 'shape': ${describeShape(shape)}, }`;
  const growthAxis = shape[fortranOrder ? shape.length - 1 : 0];
  return growthAxis === undefined ? text : text + ' '.repeat(Math.max(0, GROWTH_AXIS_MAX_DIGITS - String(growthAxis).length));
}

/**
 * The bytes of a version 1.0 `.npy` file holding `data` (C order unless
 * `fortranOrder`), little-endian, the data 64-byte aligned. Throws if the data's
 * type does not match the dtype, its length does not match the shape, or the
 * header would not fit version 1.0 (more than 65535 bytes: a shape of thousands of dimensions).
 */
export function encodeNpy<D extends NpyDType>(a: { dtype: D; shape: readonly number[]; data: NpyData[D]; fortranOrder?: boolean }): Uint8Array {
  const { dtype, shape, data } = a;
  const spec = NPY_DTYPES[dtype];
  if (!spec) throw new Error(`encodeNpy: unknown dtype ${String(dtype)} (known: ${Object.keys(NPY_DTYPES).join(', ')})`);
  if (!(data instanceof NPY_DTYPES[dtype].array)) {
    throw new Error(`encodeNpy: ${dtype} data must be a ${NPY_DTYPES[dtype].array.name}, got ${(data as object)?.constructor?.name ?? typeof data}`);
  }
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new Error(`encodeNpy: shape ${describeShape(shape)} must hold non-negative integers`);
  }
  const count = npyElements(shape);
  if (count !== data.length) {
    throw new Error(`encodeNpy: shape ${describeShape(shape)} has ${count} elements but the data has ${data.length}`);
  }
  const header = new TextEncoder().encode(headerText(npyDescr(dtype), a.fortranOrder ?? false, shape));
  const prefix = MAGIC.length + 2 + 2;
  const hlen = header.length + 1; // + '\n'
  const pad = NPY_ALIGN - ((prefix + hlen) % NPY_ALIGN);
  const headerLen = hlen + pad;
  if (headerLen > 0xffff) throw new Error(`encodeNpy: header of ${headerLen} bytes does not fit a version 1.0 file (shape with ${shape.length} dimensions)`);
  const dataOffset = prefix + headerLen;
  const out = new Uint8Array(dataOffset + count * spec.size);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, headerLen, true);
  out.set(header, prefix);
  out.fill(0x20, prefix + header.length, dataOffset - 1);
  out[dataOffset - 1] = 0x0a;
  const bytes = new Uint8Array(data.buffer, data.byteOffset, count * spec.size);
  if (LITTLE_ENDIAN_HOST || spec.size === 1) out.set(bytes, dataOffset);
  else for (let i = 0; i < bytes.length; i += spec.size) for (let j = 0; j < spec.size; j++) out[dataOffset + i + j] = bytes[i + spec.size - 1 - j] ?? 0;
  return out;
}

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

type PyValue = string | number | boolean | number[];

/** Parses the header: a Python dict literal of strings, ints, bools and tuples of ints (what np.save writes). */
function parseHeaderDict(text: string, fail: (msg: string) => never): Map<string, PyValue> {
  let i = 0;
  const ws = () => {
    while (i < text.length && /\s/.test(text[i] ?? '')) i++;
  };
  const expect = (ch: string) => {
    ws();
    if (text[i] !== ch) fail(`header: expected "${ch}" at character ${i + 1} of ${JSON.stringify(text.trim())}`);
    i++;
  };
  const str = (): string => {
    const q = text[i];
    let out = '';
    i++;
    while (i < text.length && text[i] !== q) {
      if (text[i] === '\\') i++;
      out += text[i] ?? '';
      i++;
    }
    if (i >= text.length) fail('header: a string is not terminated');
    i++;
    return out;
  };
  const int = (): number => {
    const m = /^[+-]?\d+L?/.exec(text.slice(i));
    if (!m) fail(`header: expected an integer at character ${i + 1} of ${JSON.stringify(text.trim())}`);
    i += m[0].length;
    const v = Number(m[0].replace(/L$/, ''));
    if (!Number.isSafeInteger(v)) fail(`header: integer ${m[0]} is too large`);
    return v;
  };
  const value = (): PyValue => {
    ws();
    const c = text[i];
    if (c === "'" || c === '"') return str();
    if (text.startsWith('True', i)) return ((i += 4), true);
    if (text.startsWith('False', i)) return ((i += 5), false);
    if (c === '(') {
      i++;
      const items: number[] = [];
      for (;;) {
        ws();
        if (text[i] === ')') break;
        items.push(int());
        ws();
        if (text[i] === ',') i++;
        else if (text[i] !== ')') fail(`header: expected "," or ")" in the shape at character ${i + 1}`);
      }
      i++;
      return items;
    }
    if (c === '[') fail('header: descr is a list: structured (record) dtypes are not supported; write a plain array, e.g. float32');
    return int();
  };
  const dict = new Map<string, PyValue>();
  expect('{');
  for (;;) {
    ws();
    if (text[i] === '}') break;
    if (text[i] !== "'" && text[i] !== '"') fail(`header: expected a quoted key at character ${i + 1} of ${JSON.stringify(text.trim())}`);
    const key = str();
    expect(':');
    dict.set(key, value());
    ws();
    if (text[i] === ',') i++;
    else if (text[i] !== '}') fail(`header: expected "," or "}" at character ${i + 1} of ${JSON.stringify(text.trim())}`);
  }
  i++;
  ws();
  if (i !== text.length) fail(`header: unexpected text after the dict: ${JSON.stringify(text.slice(i, i + 20))}`);
  return dict;
}

function dtypeOfDescr(descr: string, fail: (msg: string) => never): { dtype: NpyDType; bigEndian: boolean } {
  const m = /^([<>|=]?)([a-zA-Z])(\d+)$/.exec(descr);
  const code = m ? `${m[2]}${m[3]}` : '';
  const dtype = (Object.keys(NPY_DTYPES) as NpyDType[]).find((d) => NPY_DTYPES[d].code === code);
  if (!m || !dtype) {
    const known = (Object.keys(NPY_DTYPES) as NpyDType[]).map((d) => `${npyDescr(d)} (${d})`).join(', ');
    fail(`unsupported dtype descr '${descr}'; supported: ${known}`);
  }
  const order = m[1] === '=' ? (LITTLE_ENDIAN_HOST ? '<' : '>') : m[1];
  return { dtype, bigEndian: order === '>' && NPY_DTYPES[dtype].size > 1 };
}

/**
 * Decodes the bytes of a `.npy` file. `what` names it in error messages (e.g.
 * its path). Throws an Error saying what is wrong with a file that is not a
 * valid `.npy` of a supported dtype: bad magic, unknown version, a malformed or
 * oversized header, a dtype this module does not know, data shorter or longer
 * than the shape says.
 */
export function decodeNpy(bytes: Uint8Array, what = 'the .npy data'): NpyArray {
  const fail = (msg: string): never => {
    throw new Error(`${what}: ${msg}`);
  };
  if (bytes.length < 10 || MAGIC.some((b, k) => bytes[k] !== b)) {
    fail(`not a .npy file: it does not start with the magic string \\x93NUMPY (${bytes.length} bytes)`);
  }
  const major = bytes[6] ?? 0;
  const minor = bytes[7] ?? 0;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let headerStart: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) fail('truncated: the header length is missing');
    headerLen = view.getUint32(8, true);
    headerStart = 12;
  } else {
    return fail(`unsupported format version ${major}.${minor} (this reader knows 1.0, 2.0 and 3.0)`);
  }
  if (headerLen > MAX_HEADER_SIZE) fail(`header of ${headerLen} bytes is larger than numpy accepts (${MAX_HEADER_SIZE})`);
  const dataOffset = headerStart + headerLen;
  if (dataOffset > bytes.length) fail(`truncated: the header says ${headerLen} bytes, the file ends before`);
  const rawHeader = bytes.subarray(headerStart, dataOffset);
  const text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(rawHeader);
  const dict = parseHeaderDict(text, fail);
  const keys = [...dict.keys()].sort();
  if (keys.join(',') !== 'descr,fortran_order,shape') {
    fail(`header must have exactly the keys descr, fortran_order and shape; it has ${keys.join(', ') || 'none'}`);
  }
  const descr = dict.get('descr');
  const fortranOrder = dict.get('fortran_order');
  const shape = dict.get('shape');
  if (typeof descr !== 'string') return fail(`descr is not a string: ${JSON.stringify(descr)}`);
  if (typeof fortranOrder !== 'boolean') return fail(`fortran_order is not True or False: ${JSON.stringify(fortranOrder)}`);
  if (!Array.isArray(shape) || shape.some((d) => d < 0)) return fail(`shape is not a tuple of non-negative integers: ${JSON.stringify(shape)}`);
  const { dtype, bigEndian } = dtypeOfDescr(descr, fail);
  const size = NPY_DTYPES[dtype].size;
  const count = npyElements(shape);
  const need = count * size;
  const have = bytes.length - dataOffset;
  if (!Number.isSafeInteger(need) || have < need) {
    fail(`truncated: shape ${describeShape(shape)} of ${dtype} needs ${need} bytes of data, the file has ${have}`);
  }
  if (have > need) fail(`${have - need} bytes after the data that shape ${describeShape(shape)} of ${dtype} describes (${need} bytes)`);
  // Always a copy: aligned for the typed array whatever the file's offset, and independent of the input buffer.
  const copy = bytes.slice(dataOffset, dataOffset + need);
  if (bigEndian === LITTLE_ENDIAN_HOST && size > 1) {
    for (let k = 0; k < need; k += size) copy.subarray(k, k + size).reverse();
  }
  const data = new NPY_DTYPES[dtype].array(copy.buffer, 0, count);
  return { dtype, shape, fortranOrder, data, descr, version: [major, minor] } as NpyArray;
}
