/**
 * core/npy.ts against files in numpy's documented format (test/fixtures/npy, made from
 * hand-written headers; see its README): every dtype, 0-d, empty and multi-digit shapes,
 * Fortran order, big-endian data, version 2.0 and an older 16-byte-aligned header. The writer
 * must reproduce the version 1.0 files byte for byte (numpy's np.save writes the same bytes),
 * and malformed files must be refused saying what is wrong.
 */
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeNpy, encodeNpy, npyDescr, NPY_ALIGN, NPY_DTYPES, type NpyArray, type NpyDType } from '../core/npy.js';

const DIR = fileURLToPath(new URL('./fixtures/npy/', import.meta.url));
const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(join(DIR, name)));
const f32 = (x: number) => Math.fround(x);

/** Expected content of each fixture, written independently of the script that made them. */
const EXPECTED: Record<
  string,
  { dtype: NpyDType; descr: string; shape: number[]; values: (number | bigint)[]; fortran?: boolean; version?: [number, number]; canonical: boolean }
> = {
  'f4_2x3.npy': { dtype: 'float32', descr: '<f4', shape: [2, 3], values: [0, 1.5, -2.25, 3.4028234663852886e38, 2 ** -149, -0], canonical: true },
  'f8_4.npy': { dtype: 'float64', descr: '<f8', shape: [4], values: [Math.PI, -1e300, Infinity, NaN], canonical: true },
  'f2_3.npy': { dtype: 'float16', descr: '<f2', shape: [3], values: [0x3c00, 0xc000, 0x7bff], canonical: true },
  'i1_5.npy': { dtype: 'int8', descr: '|i1', shape: [5], values: [-128, -1, 0, 1, 127], canonical: true },
  'u1_2x1x2.npy': { dtype: 'uint8', descr: '|u1', shape: [2, 1, 2], values: [0, 255, 7, 128], canonical: true },
  'b1_3.npy': { dtype: 'bool', descr: '|b1', shape: [3], values: [1, 0, 1], canonical: true },
  'i2_2.npy': { dtype: 'int16', descr: '<i2', shape: [2], values: [-32768, 32767], canonical: true },
  'u2_2.npy': { dtype: 'uint16', descr: '<u2', shape: [2], values: [0, 65535], canonical: true },
  'i4_2x2.npy': { dtype: 'int32', descr: '<i4', shape: [2, 2], values: [-2147483648, -1, 0, 2147483647], canonical: true },
  'u4_1.npy': { dtype: 'uint32', descr: '<u4', shape: [1], values: [4294967295], canonical: true },
  'i8_3.npy': { dtype: 'int64', descr: '<i8', shape: [3], values: [-(2n ** 63n), 42n, 2n ** 63n - 1n], canonical: true },
  'u8_1.npy': { dtype: 'uint64', descr: '<u8', shape: [1], values: [2n ** 64n - 1n], canonical: true },
  'f4_scalar.npy': { dtype: 'float32', descr: '<f4', shape: [], values: [2.5], canonical: true },
  'f4_0x3.npy': { dtype: 'float32', descr: '<f4', shape: [0, 3], values: [], canonical: true },
  'f4_100x1.npy': { dtype: 'float32', descr: '<f4', shape: [100, 1], values: Array.from({ length: 100 }, (_, i) => i / 4), canonical: true },
  'f4_16d.npy': { dtype: 'float32', descr: '<f4', shape: [2, ...Array<number>(15).fill(1)], values: [0.5, -0.5], canonical: true },
  'f4_1x2x3x4.npy': { dtype: 'float32', descr: '<f4', shape: [1, 2, 3, 4], values: Array.from({ length: 24 }, (_, i) => i - 11.5), canonical: true },
  'f4_2x3_fortran.npy': { dtype: 'float32', descr: '<f4', shape: [2, 3], values: [1, 4, 2, 5, 3, 6], fortran: true, canonical: true },
  'f4_be_3.npy': { dtype: 'float32', descr: '>f4', shape: [3], values: [1, -0.5, f32(1e-3)], canonical: false },
  'f4_v2_3.npy': { dtype: 'float32', descr: '<f4', shape: [3], values: [1, 2, 3], version: [2, 0], canonical: false },
  'f4_legacy16_3.npy': { dtype: 'float32', descr: '<f4', shape: [3], values: [-1, 0.25, 8], canonical: false },
};

describe('.npy files in numpy format', () => {
  for (const [name, e] of Object.entries(EXPECTED)) {
    it(`reads ${name}: ${e.descr} ${JSON.stringify(e.shape)}`, () => {
      const a = decodeNpy(fixture(name), name);
      expect(a.dtype).toBe(e.dtype);
      expect(a.descr).toBe(e.descr);
      expect(a.shape).toEqual(e.shape);
      expect(a.fortranOrder).toBe(e.fortran ?? false);
      expect(a.version).toEqual(e.version ?? [1, 0]);
      const got = Array.from(a.data as ArrayLike<number | bigint>);
      expect(got.length).toBe(e.values.length);
      // Object.is: -0 stays -0, NaN equals NaN.
      got.forEach((v, i) => expect(Object.is(v, e.values[i]), `${name}[${i}]: ${String(v)} vs ${String(e.values[i])}`).toBe(true));
    });
  }

  for (const [name, e] of Object.entries(EXPECTED).filter(([, e]) => e.canonical)) {
    it(`writes ${name} byte for byte (what np.save writes)`, () => {
      const bytes = fixture(name);
      const a = decodeNpy(bytes, name);
      const out = encodeNpy({ dtype: a.dtype, shape: a.shape, data: a.data, fortranOrder: a.fortranOrder } as Parameters<typeof encodeNpy>[0]);
      expect(Buffer.from(out).equals(Buffer.from(bytes))).toBe(true);
      // The data starts on a 64-byte boundary.
      const headerLen = out[8]! | (out[9]! << 8);
      expect((10 + headerLen) % NPY_ALIGN).toBe(0);
      expect(e.descr).toBe(npyDescr(a.dtype));
    });
  }

  it('re-writes the non-canonical files as canonical version 1.0, little-endian, 64-byte aligned, same values', () => {
    for (const name of ['f4_be_3.npy', 'f4_v2_3.npy', 'f4_legacy16_3.npy']) {
      const a = decodeNpy(fixture(name), name) as NpyArray<'float32'>;
      const out = encodeNpy({ dtype: 'float32', shape: a.shape, data: a.data });
      expect([out[6], out[7]]).toEqual([1, 0]);
      expect(Buffer.from(out.subarray(10, 80)).toString('latin1')).toContain("'descr': '<f4'");
      expect((10 + (out[8]! | (out[9]! << 8))) % 64).toBe(0);
      const b = decodeNpy(out, 'rewritten') as NpyArray<'float32'>;
      expect(Array.from(b.data)).toEqual(Array.from(a.data));
    }
  });
});

describe('round trips', () => {
  const cases: { dtype: NpyDType; data: NpyArray['data'] }[] = [
    { dtype: 'float32', data: Float32Array.from([1, -2, 3.5, NaN, -Infinity, 2 ** -149]) },
    { dtype: 'float64', data: Float64Array.from([Math.E, -0, Number.MAX_VALUE, Number.MIN_VALUE, 1 / 3, 7]) },
    { dtype: 'float16', data: Uint16Array.from([0, 0x8000, 0x3555, 0x7c00, 0xfc00, 1]) },
    { dtype: 'int8', data: Int8Array.from([-128, 127, 0, 1, -1, 5]) },
    { dtype: 'uint8', data: Uint8Array.from([0, 255, 1, 2, 3, 4]) },
    { dtype: 'bool', data: Uint8Array.from([0, 1, 1, 0, 0, 1]) },
    { dtype: 'int16', data: Int16Array.from([-32768, 32767, 0, 1, -1, 2]) },
    { dtype: 'uint16', data: Uint16Array.from([0, 65535, 1, 2, 3, 4]) },
    { dtype: 'int32', data: Int32Array.from([-(2 ** 31), 2 ** 31 - 1, 0, 1, -1, 2]) },
    { dtype: 'uint32', data: Uint32Array.from([0, 2 ** 32 - 1, 1, 2, 3, 4]) },
    { dtype: 'int64', data: BigInt64Array.from([-(2n ** 63n), 2n ** 63n - 1n, 0n, 1n, -1n, 2n]) },
    { dtype: 'uint64', data: BigUint64Array.from([0n, 2n ** 64n - 1n, 1n, 2n, 3n, 4n]) },
  ];
  const shapes = [[6], [2, 3], [3, 2, 1], [1, 1, 1, 6]];
  for (const c of cases) {
    it(`${c.dtype} (${npyDescr(c.dtype)}) in shapes ${shapes.map((s) => s.join('x')).join(', ')}`, () => {
      for (const shape of shapes) {
        const bytes = encodeNpy({ dtype: c.dtype, shape, data: c.data } as Parameters<typeof encodeNpy>[0]);
        const headerLen = bytes[8]! | (bytes[9]! << 8);
        expect((10 + headerLen) % 64).toBe(0);
        expect(bytes[10 + headerLen - 1]).toBe(0x0a);
        expect(bytes.length).toBe(10 + headerLen + c.data.length * NPY_DTYPES[c.dtype].size);
        const back = decodeNpy(bytes);
        expect(back.dtype).toBe(c.dtype);
        expect(back.shape).toEqual(shape);
        const a = Array.from(back.data as ArrayLike<number | bigint>);
        const b = Array.from(c.data as ArrayLike<number | bigint>);
        a.forEach((v, i) => expect(Object.is(v, b[i])).toBe(true));
      }
    });
  }

  it('pads every header length to 64-byte data alignment (header sizes around the boundaries)', () => {
    // Growing the number of axes moves the dict across several 64-byte boundaries.
    for (let dims = 0; dims <= 24; dims++) {
      const shape = Array.from({ length: dims }, (_, i) => (i % 3) + 1);
      const n = shape.reduce((a, b) => a * b, 1);
      const bytes = encodeNpy({ dtype: 'float32', shape, data: new Float32Array(n).fill(1) });
      const headerLen = bytes[8]! | (bytes[9]! << 8);
      expect((10 + headerLen) % 64, `dims ${dims}`).toBe(0);
      expect(decodeNpy(bytes).shape).toEqual(shape);
    }
  });

  it('reads a file whose data sits at an odd offset of a larger buffer (copies, never a misaligned view)', () => {
    const bytes = encodeNpy({ dtype: 'float64', shape: [3], data: Float64Array.from([1, 2, 3]) });
    const big = new Uint8Array(bytes.length + 3);
    big.set(bytes, 3);
    const a = decodeNpy(big.subarray(3));
    expect(Array.from(a.data as Float64Array)).toEqual([1, 2, 3]);
  });
});

describe('malformed files are refused saying what is wrong', () => {
  const good = () => fixture('f4_2x3.npy');
  /** The file with its header dict replaced (padded to the same length). */
  const withHeader = (dict: string, bytes = good()): Uint8Array => {
    const len = bytes[8]! | (bytes[9]! << 8);
    const out = bytes.slice();
    const text = dict.padEnd(len - 1, ' ') + '\n';
    out.set(new TextEncoder().encode(text), 10);
    return out;
  };
  const cases: [string, () => Uint8Array, RegExp][] = [
    ['not a .npy file', () => new TextEncoder().encode('P6 this is not numpy at all'), /out\.npy: not a \.npy file: it does not start with the magic string/],
    ['an empty file', () => new Uint8Array(0), /not a \.npy file.*0 bytes/],
    ['an unknown version', () => Object.assign(good().slice(), { 6: 9 }), /unsupported format version 9\.0/],
    ['a truncated header', () => good().subarray(0, 40), /truncated: the header says 118 bytes/],
    ['truncated data', () => good().subarray(0, good().length - 1), /truncated: shape \(2, 3\) of float32 needs 24 bytes of data, the file has 23/],
    ['trailing bytes', () => Uint8Array.from([...good(), 0, 0, 0, 0]), /4 bytes after the data that shape \(2, 3\) of float32 describes/],
    [
      'a complex dtype',
      () => withHeader("{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }"),
      /unsupported dtype descr '<c8'; supported: <f4 \(float32\)/,
    ],
    ['an object dtype', () => withHeader("{'descr': '|O', 'fortran_order': False, 'shape': (3,), }"), /unsupported dtype descr '\|O'/],
    [
      'a structured dtype',
      () => withHeader("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,), }"),
      /structured \(record\) dtypes are not supported/,
    ],
    ['a missing key', () => withHeader("{'descr': '<f4', 'shape': (2, 3), }"), /exactly the keys descr, fortran_order and shape; it has descr, shape/],
    ['an extra key', () => withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1, }"), /it has descr, fortran_order, shape, x/],
    [
      'a shape that is not a tuple',
      () => withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': 6, }"),
      /shape is not a tuple of non-negative integers: 6/,
    ],
    ['a negative axis', () => withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 3), }"), /shape is not a tuple of non-negative integers/],
    ['fortran_order not a bool', () => withHeader("{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3), }"), /fortran_order is not True or False/],
    ['a header that is not a dict', () => withHeader("['descr', '<f4']"), /header: expected "\{"/],
    ['an unterminated string', () => withHeader("{'descr: '<f4, }"), /header: expected ":"|not terminated/],
  ];
  for (const [what, make, message] of cases) {
    it(what, () => {
      expect(() => decodeNpy(make(), 'out.npy')).toThrow(message);
    });
  }

  it('the writer refuses data that does not match the dtype or the shape', () => {
    expect(() => encodeNpy({ dtype: 'float32', shape: [2, 2], data: new Float32Array(3) })).toThrow(/shape \(2, 2\) has 4 elements but the data has 3/);
    expect(() => encodeNpy({ dtype: 'float32', shape: [2], data: new Float64Array(2) as unknown as Float32Array })).toThrow(
      /float32 data must be a Float32Array, got Float64Array/,
    );
    expect(() => encodeNpy({ dtype: 'float32', shape: [1.5], data: new Float32Array(1) })).toThrow(/non-negative integers/);
  });
});
