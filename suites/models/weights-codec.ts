/**
 * Real weights in the plan: parameter name -> little-endian float32 bytes in
 * base64 (PlanItem.weights). Payload-safe (Buffer is a Node global).
 */

/** Decode the shipped weights (base64 little-endian float32). */
export function decodeWeights(w: Record<string, string>): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [name, b64] of Object.entries(w)) {
    const bytes = Buffer.from(b64, 'base64');
    const f = new Float32Array(bytes.length / 4);
    new Uint8Array(f.buffer).set(bytes);
    out.set(name, f);
  }
  return out;
}

/** Encode weights for the plan (the inverse of decodeWeights). */
export function encodeWeights(w: ReadonlyMap<string, Float32Array>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, f] of w) out[name] = Buffer.from(f.buffer, f.byteOffset, f.byteLength).toString('base64');
  return out;
}
