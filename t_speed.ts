import { loadKernels } from './kernels/index.js';
import { makeConvInputs, makeRng } from './reference/random.js';
import { convIm2colGemmF32 } from './suites/conv/variants/im2col-gemm.js';
import { convOutputSize } from './reference/conv.js';
const K = await loadKernels('kernels/build');
const q = K.quant!;
const s = { n: 1, c: 256, h: 56, w: 56, k: 256, r: 3, s: 3, stride: 1, pad: 1, groups: 1 };
const { x, w } = makeConvInputs(s, 1, 'uniform(-1,1)');
const p = convIm2colGemmF32.prepare({ kernels: K }, s, x, w);
const time = (f: () => void) => {
  f();
  const t: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    f();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return t[3]!;
};
const tf = time(() => p.run());
const { ho, wo } = convOutputSize(s);
const rng = makeRng(2);
const nx = 256 * 56 * 56,
  kd = 2304;
const xb = K.allocBytes(nx);
new Int8Array(K.memory.buffer, xb.ptr, nx).set(Int8Array.from({ length: nx }, () => Math.floor(rng.next() * 256) - 128));
const wr = K.allocBytes(256 * kd);
new Int8Array(K.memory.buffer, wr.ptr, 256 * kd).set(Int8Array.from({ length: 256 * kd }, () => Math.floor(rng.next() * 255) - 127));
const wp = K.allocBytes(q.qgemm_packed_a_bytes(256, kd, 1));
q.qpack_weights(wr.ptr, wp.ptr, 256, kd, 1);
const yb = K.allocBytes(256 * ho * wo * 4);
const ws = K.allocBytes(q.qgemm_workspace_bytes(256, 1));
const pb = K.allocCopy(new Float32Array(256).fill(0.001));
for (const mode of [1, 0]) {
  const tq = time(() => q.conv_im2col_qgemm(xb.ptr, 0, 0, wp.ptr, yb.ptr, ws.ptr, pb.ptr, mode, 0, 1, 256, 56, 56, 256, 3, 3, 1, 1, 1));
  console.log('f32', tf.toFixed(1), 'ms; int8 mode', mode, tq.toFixed(1), 'ms; ratio', (tf / tq).toFixed(2), 'GOP/s', (3.7e9 / tq / 1e6).toFixed(1));
}
