/**
 * conv3x3-fft-t8-f32 and conv3x3-fft-t16-f32: 3x3 stride-1 convolution by
 * tiled real-input FFT, as NNPACK does it (kernels/assembly/fft.ts, fft.wasm).
 *
 * Overlap-save: the padded input is cut into T x T tiles (T = 8 or 16) at a
 * stride of T-2; the product of a tile's 2D DFT with the conjugated DFT of
 * the zero-padded filter is the DFT of their circular cross-correlation, whose
 * first (T-2) x (T-2) values are exact conv outputs (no index wraps there).
 * Edge tiles read zeros past the input and write only the outputs that exist.
 * Conjugating the filter spectrum turns the convolution theorem's product into
 * the cross-correlation conv layers compute (no filter flip needed).
 *
 * prepare (untimed): the filter spectra W'[slot][k][c] = conj(DFT_T(w[k][c]
 * zero-padded to T x T)) / T^2, computed in float64 from the 9 taps and rounded
 * to fp32 (the 1/T^2 of the unnormalised inverse FFT folded in), stored in the
 * packed real-FFT layout: T*T/2 complex slots per filter (2 of them pairs of
 * real values), laid out [slot][K/4][C/4][4 out channels][re4, im4] for the
 * channel reduction; and the plan (twiddles, bit-reversal table).
 * Twiddles are computed without Math.cos/sin (whose last bits may differ
 * between V8 versions): cos/sin(2*pi/T) by half-angle steps from pi/2 (sqrt
 * only, correctly rounded), powers by complex multiplication and quarter-turn
 * symmetry, all IEEE double -- the same bytes on every device.
 *
 * run (timed), one call: interleave x into a zero-bordered 4-channel layout;
 * 2D real FFT of every tile, 4 channels per f32x4; per frequency slot the
 * complex channel reduction (a complex GEMM over C: 4 output channels x 1 tile
 * per micro-kernel, f32x4 over 4 input channels, 4 mul + 4 add per complex
 * MAC); inverse 2D real FFT of every (4 output channels, tile) and the valid
 * (T-2)^2 outputs written to NKHW.
 *
 * Cost: flops() is the direct count (effective). executedFlops() counts the
 * arithmetic of this code exactly (every f32x4 add/sub/mul = 4 flops, lanes of
 * padding channels included; shuffles, negations and copies are not flops):
 *   - complex FFT of length T: an unrolled radix-2 8-point codelet (56 flops
 *     per lane; twiddles 1, -i free, e^{-i pi/4} and e^{-3i pi/4} 2 add + 2 mul);
 *     for T=16 one radix-2 stage (68) + two codelets = 180;
 *   - forward 2D real FFT: T complex FFTs + 8(T/2-1)(T/2+1) for the two-for-one
 *     separations (568 / 3384 per tile and channel);
 *   - inverse 2D real FFT (only the T-2 output rows): T/2 column FFTs,
 *     (T-2)/2 row FFTs and the Hermitian unpacking adds (440 / 2924);
 *   - reduction: 8 flops per complex MAC (4 mul + 4 add), 4 per real-pair slot
 *     MAC, over ceil(C/4)*4 x ceil(K/4)*4 channels, plus the final transpose-add
 *     (6 flops per slot, output channel and tile).
 * Against the direct 2*9 = 18 flops per output and input channel, the
 * reduction costs 8*(T*T/2 - 2) + 4*2 flops per tile of (T-2)^2 outputs:
 * 6.9 (T=8) and 5.2 (T=16) flops per output and channel, 2.6x / 3.5x fewer,
 * less the edge-tile waste when T-2 does not divide the output size. The
 * transforms are 1.6% (T=8) / 2.4% (T=16) of the executed flops at
 * C = K = 256, 5.9% / 8.8% at C = K = 64 (they scale with C + K, the
 * reduction with C * K). Executed / direct flops: 0.45 / 0.30 on
 * vgg16.conv3_2, 0.64 / 0.29 on vgg16.conv5_1 (14x14: T=8 needs 3x3 tiles of
 * 6 for 14 outputs, T=16 exactly one tile of 14).
 *
 * Memory: the prepared filters take T*T/2 * 8 bytes per (k, c) (256 / 1024
 * bytes against 36 for the raw 3x3), the input and output spectra 2 x 8 bytes
 * per slot, tile and (in / out) channel.
 *
 * Accuracy (declared budget, relL2): measured on the conv suite's 3x3 stride-1
 * layers (vgg16.conv3_2, vgg16.conv5_1, resnet50.res2b.branch2b, full and
 * --quick shapes), inputs uniform(-1,1), uniform(0,1) and 'activation', run
 * seeds 1..3: relL2 <= 2.19e-7 (T=8) and <= 2.41e-7 (T=16), worst on
 * conv5_1 (C = 512); the exact im2col + GEMM variant measures 2.8e-7 ..
 * 2.9e-7 on the same layers (seed 1, uniform(-1,1)). At these tile sizes an
 * fp32 FFT adds an error of about u * log2(T*T) per transform (u = 2^-24),
 * here less than the rounding of the 9C-term direct sum; relL2 grows slowly
 * with C (T=8, uniform(-1,1): 1.4e-7 at C = 64, 1.9e-7 at 256, 2.2e-7 at
 * 512). The budget is 1e-6 for both tile sizes: ~4x the worst measured at
 * full size (6x at --quick size), room for layers with a few thousand
 * channels, and far below what a real defect gives (a wrong slot, sign or
 * tile edge: relL2 ~ 1e-2 .. 1); test/fast-budgets.test.ts pins it from both
 * sides (a budget 10x looser fails it). The
 * output is deterministic, so every device measures the same error (checked
 * bit for bit under qemu armhf / arm64). See test/fft-conv.test.ts.
 *
 * Measured (Zen 4 EPYC under KVM, Node 20, 1 thread; effective / executed
 * GFLOP/s, npm run bench): vgg16.conv3_2 im2col 39; T=8 75 / 34; T=16
 * 104 / 31. vgg16.conv5_1 im2col 39; T=8 48 / 30; T=16 71 / 21.
 * resnet50.res2b.branch2b im2col 35; T=8 63 / 30; T=16 94 / 30. The channel
 * reduction runs at 34-37 GFLOP/s executed while its operands stay in cache
 * (C = K = 256, T=8: ~89% of the run time); vgg16.conv5_1 at T=16 has one
 * tile per image, so each prepared filter value (268 MB in all) is used once
 * per run and the reduction is bound by memory bandwidth (~22 GB/s).
 */
import type { ConvShape, ConvVariant, KernelContext, Prepared } from '../../../core/contracts.js';
import type { FftKernels } from '../../../kernels/index.js';
import { convOutputSize } from '../../../reference/conv.js';
import { convVariant, disposedTo } from '../variant.js';

export type FftTile = 8 | 16;

/** Declared relL2 budget (see the module doc for the measurements behind it). */
export const FFT_MAX_REL_L2: Record<FftTile, number> = { 8: 1e-6, 16: 1e-6 };

/** Tiling of one shape for tile size t (the buffer sizes conv_fft_f32 expects). */
export interface FftGeometry {
  t: FftTile;
  /** Outputs per tile side: t - 2. */
  o: number;
  ho: number;
  wo: number;
  tilesY: number;
  tilesX: number;
  /** Padded, tile-covering input plane (the interleaved copy). */
  hp: number;
  wp: number;
  c4: number;
  k4: number;
  /** Complex slots of the packed spectrum: t*t/2. */
  slots: number;
  /** Tiles over all images. */
  nt: number;
}

export function fftGeometry(shape: ConvShape, t: FftTile): FftGeometry {
  const { ho, wo } = convOutputSize(shape);
  const o = t - 2;
  const tilesY = Math.ceil(ho / o);
  const tilesX = Math.ceil(wo / o);
  return {
    t,
    o,
    ho,
    wo,
    tilesY,
    tilesX,
    hp: tilesY * o + 2,
    wp: tilesX * o + 2,
    c4: Math.ceil(shape.c / 4),
    k4: Math.ceil(shape.k / 4),
    slots: (t * t) / 2,
    nt: shape.n * tilesY * tilesX,
  };
}

/** Floats of every buffer the variant allocates, by name. */
export function fftBufferFloats(shape: ConvShape, t: FftTile): Record<'x' | 'y' | 'xi' | 'xt' | 'wt' | 'yt' | 'plan' | 'ws', number> {
  const g = fftGeometry(shape, t);
  const h = t / 2;
  return {
    x: shape.n * shape.c * shape.h * shape.w,
    y: shape.n * shape.k * g.ho * g.wo,
    xi: shape.n * g.c4 * g.hp * g.wp * 4,
    xt: g.slots * g.nt * g.c4 * 8,
    wt: g.slots * g.k4 * g.c4 * 32,
    yt: g.k4 * g.nt * g.slots * 8,
    plan: t * 8 + t,
    ws: (h + 1) * t * 8 + t * 8 + t * t * 4,
  };
}

// ---------------------------------------------------------------------------
// Deterministic roots of unity, plan and slot layout
// ---------------------------------------------------------------------------

/**
 * [cos, sin] of 2*pi*j/t for a power of two t >= 4, with +, *, / and sqrt only
 * (IEEE correctly rounded, so identical on every platform).
 */
export function unitRoot(j: number, t: number): [number, number] {
  if (!Number.isInteger(t) || t < 4 || (t & (t - 1)) !== 0) throw new Error(`unitRoot: t must be a power of two >= 4, got ${t}`);
  // cos, sin of 2*pi/t by half-angle steps from pi/2.
  let c = 0;
  let s = 1;
  for (let a = 4; a < t; a *= 2) {
    const c2 = Math.sqrt((1 + c) / 2);
    s = s / (2 * c2);
    c = c2;
  }
  const q4 = t / 4;
  const jj = ((j % t) + t) % t;
  const quarter = Math.floor(jj / q4);
  const r = jj % q4;
  let cr = 1;
  let sr = 0;
  for (let i = 0; i < r; i++) {
    const nc = cr * c - sr * s;
    sr = cr * s + sr * c;
    cr = nc;
  }
  for (let i = 0; i < quarter; i++) {
    const nc = -sr;
    sr = cr;
    cr = nc;
  }
  return [cr + 0, sr + 0]; // + 0: no negative zeros
}

/** Bit reversal of i in log2(t) bits. */
export function bitReverse(i: number, t: number): number {
  let r = 0;
  for (let b = 1, v = i; b < t; b *= 2, v >>= 1) r = (r << 1) | (v & 1);
  return r;
}

/**
 * Fills a plan (fft_plan_floats(t) floats at byte offset ptr of `memory`):
 * forward twiddles e^{-2 pi i j/t} and inverse e^{+2 pi i j/t} for j < t/2,
 * each as a splatted (re x4, im x4) pair, then the bit-reversal table as i32.
 */
export function fillFftPlan(memory: WebAssembly.Memory, ptr: number, t: FftTile): void {
  const f = new Float32Array(memory.buffer, ptr, t * 8 + t);
  const h = t / 2;
  for (let j = 0; j < h; j++) {
    const [c, s] = unitRoot(j, t);
    f.fill(c, j * 8, j * 8 + 4);
    f.fill(-s, j * 8 + 4, j * 8 + 8);
    f.fill(c, (h + j) * 8, (h + j) * 8 + 4);
    f.fill(s, (h + j) * 8 + 4, (h + j) * 8 + 8);
  }
  const rev = new Int32Array(memory.buffer, ptr + t * 32, t);
  for (let i = 0; i < t; i++) rev[i] = bitReverse(i, t);
}

/**
 * Where the packed spectrum keeps X[u][v] (u < t, v <= t/2), see fft.ts:
 * { slot, part } with part 're' / 'im' for the real values paired in slots 0
 * and 1, 'complex' for a complex slot, 'conj' when only X[t-u][v] = conj X[u][v]
 * is stored (columns 0 and t/2 are Hermitian), or null for no slot (never).
 */
export function fftSlotOf(u: number, v: number, t: number): { slot: number; part: 're' | 'im' | 'complex' | 'conj' } {
  const h = t / 2;
  if (v === 0 || v === h) {
    const pair = v === 0 ? 0 : 1;
    if (u === 0) return { slot: pair, part: 're' };
    if (u === h) return { slot: pair, part: 'im' };
    if (u < h) return { slot: 2 + 2 * (u - 1) + pair, part: 'complex' };
    return { slot: 2 + 2 * (t - u - 1) + pair, part: 'conj' };
  }
  if (v > 0 && v < h && u >= 0 && u < t) return { slot: t + (v - 1) * t + u, part: 'complex' };
  throw new Error(`fftSlotOf: (u, v) = (${u}, ${v}) outside the half spectrum of a ${t}x${t} tile`);
}

/**
 * The prepared filter spectra: W'[u][v] = conj(DFT_t(w zero-padded)) / t^2 in
 * float64, rounded to fp32, into `out` laid out [slot][K/4][C/4][4][re4, im4]
 * (lanes = input channels; padding channels stay zero). w: KCRS, R = S = 3.
 */
export function transformFilters(w: Float32Array, k: number, c: number, t: FftTile, out: Float32Array): void {
  const h = t / 2;
  const k4 = Math.ceil(k / 4);
  const c4 = Math.ceil(c / 4);
  const slots = (t * t) / 2;
  if (out.length < slots * k4 * c4 * 32) throw new Error(`transformFilters: out has ${out.length} floats, needs ${slots * k4 * c4 * 32}`);
  const cosT = new Float64Array(t);
  const sinT = new Float64Array(t);
  for (let j = 0; j < t; j++) [cosT[j], sinT[j]] = unitRoot(j, t);
  const scale = 1 / (t * t);
  // Row spectra of the 3 filter rows for v = 0..h (e^{+}: the conjugate), then columns.
  const rowRe = new Float64Array(3 * (h + 1));
  const rowIm = new Float64Array(3 * (h + 1));
  const specRe = new Float64Array(t * (h + 1));
  const specIm = new Float64Array(t * (h + 1));
  // Slot -> (u, v) of the value stored there (re / im fields for real pairs).
  const slotU = new Int32Array(slots);
  const slotV = new Int32Array(slots);
  for (let u = 0; u < t; u++) {
    for (let v = 0; v <= h; v++) {
      const { slot, part } = fftSlotOf(u, v, t);
      if (part === 'complex' || part === 're') {
        slotU[slot] = u;
        slotV[slot] = v;
      }
    }
  }
  const groupStride = c4 * 32; // floats per (slot, kg)
  for (let kk = 0; kk < k; kk++) {
    const kg = kk >> 2;
    const kl = kk & 3;
    for (let cc = 0; cc < c; cc++) {
      const cg = cc >> 2;
      const l = cc & 3;
      const wb = (kk * c + cc) * 9;
      for (let m = 0; m < 3; m++) {
        const w0 = w[wb + m * 3]!;
        const w1 = w[wb + m * 3 + 1]!;
        const w2 = w[wb + m * 3 + 2]!;
        for (let v = 0; v <= h; v++) {
          rowRe[m * (h + 1) + v] = w0 + w1 * cosT[v]! + w2 * cosT[(2 * v) % t]!;
          rowIm[m * (h + 1) + v] = w1 * sinT[v]! + w2 * sinT[(2 * v) % t]!;
        }
      }
      for (let u = 0; u < t; u++) {
        const c1 = cosT[u]!;
        const s1 = sinT[u]!;
        const c2 = cosT[(2 * u) % t]!;
        const s2 = sinT[(2 * u) % t]!;
        for (let v = 0; v <= h; v++) {
          const a0r = rowRe[v]!,
            a0i = rowIm[v]!;
          const a1r = rowRe[h + 1 + v]!,
            a1i = rowIm[h + 1 + v]!;
          const a2r = rowRe[2 * (h + 1) + v]!,
            a2i = rowIm[2 * (h + 1) + v]!;
          specRe[u * (h + 1) + v] = (a0r + (a1r * c1 - a1i * s1) + (a2r * c2 - a2i * s2)) * scale;
          specIm[u * (h + 1) + v] = (a0i + (a1r * s1 + a1i * c1) + (a2r * s2 + a2i * c2)) * scale;
        }
      }
      const base = (kg * c4 + cg) * 32 + kl * 8 + l;
      // Real pairs: slot 0 = (X[0][0], X[h][0]), slot 1 = (X[0][h], X[h][h]).
      out[base] = specRe[0]!;
      out[base + 4] = specRe[h * (h + 1)]!;
      out[k4 * groupStride + base] = specRe[h]!;
      out[k4 * groupStride + base + 4] = specRe[h * (h + 1) + h]!;
      for (let s = 2; s < slots; s++) {
        const i = slotU[s]! * (h + 1) + slotV[s]!;
        const o = s * k4 * groupStride + base;
        out[o] = specRe[i]!;
        out[o + 4] = specIm[i]!;
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Executed arithmetic (counted from the code in kernels/assembly/fft.ts)
// ---------------------------------------------------------------------------

/**
 * Real flops per lane of one complex FFT of length t (cfft_fwd / cfft_inv):
 * the unrolled 8-point codelet (56), and for 16 one radix-2 stage (twiddles 1
 * and -i without multiplies: 2*4 + 6*10 = 68) plus two codelets (180).
 */
export function complexFftFlops(t: number): number {
  if (t === 8) return 56;
  if (t === 16) return 68 + 2 * 56;
  throw new Error(`complexFftFlops: tile size ${t} is not implemented (8 or 16)`);
}

/** Real flops per lane of fft2d_forward_f32x4. */
export function forward2dFlops(t: number): number {
  const h = t / 2;
  return t * complexFftFlops(t) + 8 * (h - 1) * (h + 1);
}

/** Real flops per lane of fft2d_inverse_f32x4 producing `rows` rows. */
export function inverse2dFlops(t: number, rows: number): number {
  const h = t / 2;
  const cf = complexFftFlops(t);
  return h * cf + 4 * (h - 1) + (rows / 2) * (cf + 4 * (h - 1));
}

/** Executed flops of conv_fft_f32 for a shape: transforms + channel reduction (see the module doc). */
export function fftExecutedFlops(shape: ConvShape, t: FftTile): number {
  const g = fftGeometry(shape, t);
  const tiles = g.tilesY * g.tilesX;
  const input = 4 * shape.n * g.c4 * tiles * forward2dFlops(t);
  const output = 4 * shape.n * g.k4 * tiles * inverse2dFlops(t, g.o);
  const reduction = g.nt * g.k4 * ((g.slots - 2) * g.c4 * 128 + 2 * g.c4 * 64 + g.slots * 24);
  return input + output + reduction;
}

// ---------------------------------------------------------------------------
// The variants
// ---------------------------------------------------------------------------

/** Largest WebAssembly memory the arena can hand out (32-bit pointers, minus a page of slack). */
const MAX_MEMORY_BYTES = 2 ** 32 - 2 ** 16;

function makeFftVariant(t: FftTile): ConvVariant {
  const name = `conv3x3-fft-t${t}-f32`;
  return convVariant({
    name,
    algorithm: 'fft',
    info: () => ({ tile: `${t}x${t}`, outputsPerTile: (t - 2) * (t - 2), method: 'overlap-save' }),
    description:
      `Tiled real-input FFT conv (NNPACK-style overlap-save): ${t}x${t} input tiles at stride ${t - 2} give ` +
      `${t - 2}x${t - 2} outputs each; 2D real FFTs by pairs of rows + Hermitian-packed columns (${(t * t) / 2} complex ` +
      'slots), 4 channels per f32x4; per-slot complex channel reduction (4 out channels x 1 tile micro-kernel, ' +
      'f32x4 over input channels, 4 mul + 4 add per complex MAC); filter spectra prepared in float64.',
    needs: { wasmSimd: true },
    // Checked after the shape itself (convVariant).
    cannot(shape: ConvShape): string | null {
      if (shape.r !== 3 || shape.s !== 3) return `FFT conv is implemented for 3x3 kernels only (this layer is ${shape.r}x${shape.s})`;
      if (shape.stride !== 1) return `FFT conv needs stride 1 (this layer has stride ${shape.stride})`;
      if (shape.groups !== 1) return `FFT conv needs groups = 1 (this layer has ${shape.groups} groups)`;
      const floats = Object.values(fftBufferFloats(shape, t)).reduce((a, b) => a + b, 0);
      if (floats * 4 > MAX_MEMORY_BYTES) {
        return `needs ${((floats * 4) / 2 ** 30).toFixed(2)} GiB of buffers, more than a 32-bit WebAssembly memory holds`;
      }
      return null;
    },
    executedFlops: (s) => fftExecutedFlops(s, t),
    accuracy: { kind: 'approximate', maxRelL2: FFT_MAX_REL_L2[t] },
    prepare(ctx: KernelContext, shape: ConvShape, x: Float32Array, w: Float32Array): Prepared {
      const { n, c, h, w: wd, k, pad } = shape;
      const sizes = fftBufferFloats(shape, t);
      const kern = ctx.kernels;
      kern.requireSimd(name);
      const fft: FftKernels | null = kern.fft;
      if (fft === null) throw new Error(`${name} needs fft.wasm, which is not loaded (${kern.simdUnavailable ?? 'rebuild with npm run build'})`);
      if (fft.fft_plan_floats(t) !== sizes.plan || fft.fft_workspace_floats(t) !== sizes.ws) {
        throw new Error(`${name}: fft.wasm's plan/workspace sizes differ from suites/conv/variants/fft.ts (stale build? run npm run build)`);
      }
      const mark = kern.mark();
      const wt = kern.alloc(sizes.wt);
      const plan = kern.alloc(sizes.plan);
      const xb = kern.alloc(sizes.x);
      const xi = kern.alloc(sizes.xi); // zeroed: its borders and padding lanes stay zero for good
      const xt = kern.alloc(sizes.xt);
      const yt = kern.alloc(sizes.yt);
      const yb = kern.alloc(sizes.y);
      const ws = kern.alloc(sizes.ws);
      xb.view().set(x);
      transformFilters(w, k, c, t, wt.view());
      fillFftPlan(kern.memory, plan.ptr, t);
      const conv = fft.conv_fft_f32;
      const [xp, yp, xip, xtp, wtp, ytp, pp, wsp] = [xb.ptr, yb.ptr, xi.ptr, xt.ptr, wt.ptr, yt.ptr, plan.ptr, ws.ptr];
      const preparedBytes = sizes.wt * 4;
      const g = fftGeometry(shape, t);
      const mb = (floats: number) => `${((floats * 4) / 1e6).toFixed(2)} MB`;
      return disposedTo(kern, mark, {
        run(): void {
          conv(xp, yp, xip, xtp, wtp, ytp, pp, wsp, n, c, h, wd, k, pad, t);
        },
        output: () => yb.view(),
        preparedBytes,
        prepareNote:
          `filter spectra conj(DFT${t}x${t}(w))/${t * t} in float64 -> fp32, ${g.slots} packed slots per filter, ` +
          `layout [slot][K/4][C/4][4][re4,im4] (${mb(sizes.wt)}); plan (twiddles, bit reversal) ${sizes.plan * 4} bytes. ` +
          `${g.tilesY}x${g.tilesX} tiles per image; workspaces: interleaved zero-bordered input ${mb(sizes.xi)}, ` +
          `input spectra ${mb(sizes.xt)}, output spectra ${mb(sizes.yt)}`,
      });
    },
  });
}

export const convFftT8F32: ConvVariant = makeFftVariant(8);
export const convFftT16F32: ConvVariant = makeFftVariant(16);
