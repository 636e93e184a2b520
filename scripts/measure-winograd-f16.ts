/**
 * One interleaved timing of the f32 and fp16-stored Winograd F(4x4)/F(6x6) kernels on vgg16.conv3_2's
 * shape (256 -> 256, 56x56), median of 7 runs each, outside the harness (the bench's --variant run is
 * the measurement of record; this is for when the device is busy). Run: npx tsx scripts/measure-winograd-f16.ts
 * after npm run build; quote its figures with uptime's load.
 */
import { loadKernels } from '../kernels/index.js';
import { winogradF4x4, winogradF6x6 } from '../suites/conv/variants/winograd.js';
import { winogradF4x4F16, winogradF6x6F16 } from '../suites/conv/variants/fp16-winograd.js';
import { makeConvInputs } from '../reference/random.js';
import { convShape } from '../test/helpers/shapes.js';
const k = await loadKernels(new URL('../kernels/build', import.meta.url).pathname);
const s = convShape({ c: 256, h: 56, w: 56, k: 256, r: 3, s: 3, pad: 1 });
const { x, w } = makeConvInputs(s, 1, 'uniform(-1,1)');
const vs = [winogradF4x4, winogradF4x4F16, winogradF6x6, winogradF6x6F16];
const ps = vs.map((v) => v.prepare({ kernels: k }, s, x, w, { seed: 1, distribution: 'uniform(-1,1)' }));
const t: number[][] = vs.map(() => []);
for (let round = 0; round < 7; round++)
  for (let i = 0; i < vs.length; i++) {
    const t0 = performance.now();
    ps[i]!.run();
    t[i]!.push(performance.now() - t0);
  }
const med = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1]!;
for (let i = 0; i < vs.length; i++) console.log(vs[i]!.name, 'median of 7 (interleaved):', med(t[i]!).toFixed(1), 'ms; min', Math.min(...t[i]!).toFixed(1));
