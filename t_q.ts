import { loadKernels } from './kernels/index.js';
import { qconvRef, requantizeRef, dequantizeAccRef } from './reference/quant.js';
import { convOutputSize } from './reference/conv.js';
import { makeRng } from './reference/random.js';
const K = await loadKernels('kernels/build');
const q = K.quant!;
const rng = makeRng(1);
const shapes = [
  { n: 2, c: 3, h: 7, w: 9, k: 5, r: 3, s: 3, stride: 1, pad: 1, groups: 1 },
  { n: 1, c: 4, h: 11, w: 13, k: 6, r: 3, s: 3, stride: 2, pad: 0, groups: 1 },
  { n: 1, c: 6, h: 8, w: 8, k: 10, r: 3, s: 3, stride: 1, pad: 1, groups: 2 },
  { n: 1, c: 16, h: 7, w: 7, k: 20, r: 1, s: 1, stride: 1, pad: 0, groups: 1 },
  { n: 1, c: 2, h: 9, w: 40, k: 3, r: 3, s: 3, stride: 2, pad: 1, groups: 1 },
  { n: 1, c: 70, h: 23, w: 23, k: 261, r: 3, s: 3, stride: 1, pad: 1, groups: 1 },
  { n: 1, c: 5, h: 9, w: 10, k: 5, r: 3, s: 3, stride: 2, pad: 1, groups: 5 },
];
for (const s of shapes)
  for (const u8 of [0, 1])
    for (const mode of [0, 1, 2]) {
      const { ho, wo } = convOutputSize(s);
      const nx = s.n * s.c * s.h * s.w,
        kd = (s.c / s.groups) * s.r * s.s,
        nw = s.k * kd,
        ny = s.n * s.k * ho * wo;
      const zpx = u8 ? 77 : 0;
      const xq = u8
        ? Uint8Array.from({ length: nx }, () => Math.floor(rng.next() * 256))
        : Int8Array.from({ length: nx }, () => Math.floor(rng.next() * 256) - 128);
      const wq = Int8Array.from({ length: nw }, () => Math.floor(rng.next() * 255) - 127);
      const params = Float32Array.from({ length: s.k }, () => (mode === 0 ? rng.next() * 0.01 : rng.next() * 0.002));
      const zpy = mode === 2 ? 100 : 0;
      const mark = K.mark();
      const xb = K.allocBytes(nx);
      new Uint8Array(K.memory.buffer, xb.ptr, nx).set(new Uint8Array(xq.buffer));
      const wr = K.allocBytes(nw);
      new Int8Array(K.memory.buffer, wr.ptr, nw).set(wq);
      const wp = K.allocBytes(q.qgemm_packed_a_bytes(s.k, kd, s.groups));
      q.qpack_weights(wr.ptr, wp.ptr, s.k, kd, s.groups);
      const yb = K.allocBytes(ny * (mode === 0 ? 4 : 1));
      const ws = K.allocBytes(q.qgemm_workspace_bytes(s.k, s.groups));
      const pb = K.allocCopy(params);
      q.conv_im2col_qgemm(xb.ptr, u8, zpx, wp.ptr, yb.ptr, ws.ptr, pb.ptr, mode, zpy, s.n, s.c, s.h, s.w, s.k, s.r, s.s, s.stride, s.pad, s.groups);
      const acc = qconvRef(s, xq, zpx, wq);
      let bad = 0;
      if (mode === 0) {
        const ref = dequantizeAccRef(acc, s.k, ho * wo, params);
        const got = new Float32Array(K.memory.buffer, yb.ptr, ny);
        for (let i = 0; i < ny; i++) if (!Object.is(ref[i], got[i])) bad++;
      } else {
        const ref = requantizeRef(acc, s.k, ho * wo, params, { zeroPoint: zpy, qmin: mode === 1 ? -128 : 0, qmax: mode === 1 ? 127 : 255 });
        const got = mode === 1 ? new Int8Array(K.memory.buffer, yb.ptr, ny) : new Uint8Array(K.memory.buffer, yb.ptr, ny);
        for (let i = 0; i < ny; i++) if (ref[i] !== got[i]) bad++;
      }
      console.log(JSON.stringify(s), 'u8', u8, 'mode', mode, 'mismatches', bad, '/', ny);
      K.release(mark);
    }
