/**
 * FNV-1a 64-bit hashes of output bytes (pure, payload-safe), used to show that a
 * deterministic kernel produced identical output across devices.
 *
 * The 64-bit state is kept as two 32-bit halves (no BigInt): multiplying by the
 * FNV prime 2^40 + 0x1b3 is lo*0x1b3 (exact in a double, < 2^41) plus
 * (hi*0x1b3 + (lo << 8)) << 32, modulo 2^64.
 */

/** FNV-1a 64 of `bytes`, as 16 lowercase hex digits. */
export function fnv1a64Hex(bytes: Uint8Array): string {
  let hi = 0xcbf29ce4;
  let lo = 0x84222325;
  for (let i = 0; i < bytes.length; i++) {
    lo = (lo ^ bytes[i]!) >>> 0;
    const p = lo * 0x1b3;
    const pLo = p >>> 0;
    const carry = (p - pLo) / 4294967296;
    hi = (Math.imul(hi, 0x1b3) + carry + (lo << 8)) >>> 0;
    lo = pLo;
  }
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * FNV-1a 64 of the IEEE-754 little-endian bytes of `a` (the in-memory bytes on
 * every little-endian host; re-encoded on a big-endian one so the hash does not
 * depend on the host). Note -0 and +0, and NaNs with different payloads, hash
 * differently: this is a byte identity, not a numerical comparison.
 */
export function checksumF32(a: Float32Array): string {
  if (LITTLE_ENDIAN) return fnv1a64Hex(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  const bytes = new Uint8Array(a.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < a.length; i++) view.setFloat32(i * 4, a[i]!, true);
  return fnv1a64Hex(bytes);
}
