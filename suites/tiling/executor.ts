/**
 * Conv chains run two ways on the kernels (issue 15, docs/tiling.md): layer by layer (each layer over the whole
 * image, intermediates in memory) or tile by tile through the whole chain (the last layer's output cut into
 * tiles; for each tile every layer computes only the region the next one needs, halos recomputed). Every layer
 * is fusion.conv_epi_f32 (conv + bias + activation in the GEMM's output tile) in both schedules, so the only
 * difference is the schedule.
 *
 * Tiled, a layer's input window (the rows and columns its output region reads, border padding included) is a
 * buffer zero-filled and then given the producer's region (or the chain input's) at its place, and the layer runs
 * with pad 0 on it: the same products in the same order as the padded layer over the whole image, so the outputs
 * are bit-identical to layer by layer (tested). The plan (which region each layer computes for each tile) is
 * data, made by planTiles; a wrong plan (a halo one row short) gives wrong outputs, which the tests show.
 * Halos cached instead of recomputed: full-width strips (planStrips, cachedStrips), each layer's rows computed once
 * and the overlap read back from the rows the previous strip wrote (square tiles with cached halos: the model only).
 * Payload-safe.
 */
import type { F32Buffer, Kernels } from '../../kernels/index.js';
import type { Chain } from '../../reference/chain-traffic.js';
import { ACT_CODE, convOut, type Activation } from '../fusion/ops.js';

export interface ChainConvLayer {
  name: string;
  /** Square kernel size, stride, symmetric zero padding. */
  k: number;
  stride: number;
  pad: number;
  cout: number;
  act: Activation;
  /** Conv groups (1 by default; cin for a depthwise layer): cin and cout must both divide by it. */
  groups?: number;
  /**
   * Adds the chain input to this layer's output before the activation (a residual block's shortcut, in the
   * epilogue): the layer's output must have the chain input's shape.
   */
  residual?: boolean;
  /** Weights cout x (cin / groups) x k x k and bias cout. */
  w: ArrayLike<number>;
  b: ArrayLike<number>;
}

export interface ConvChain {
  name: string;
  /** The chain input's channels, height, width (one image). */
  c: number;
  h: number;
  w: number;
  layers: ChainConvLayer[];
}

/** A layer's output region: rows [y0, y1) and columns [x0, x1). */
export interface Region {
  y0: number;
  y1: number;
  x0: number;
  x1: number;
}

/** For each tile, the region every layer computes (index = layer). */
export type TilePlan = Region[][];

export interface LayerDims {
  cin: number;
  hin: number;
  win: number;
  hout: number;
  wout: number;
}

/** Every layer's input and output size; throws naming the layer when a shape is invalid or a tensor has the wrong length. */
export function chainDims(chain: ConvChain): LayerDims[] {
  if (chain.layers.length === 0) throw new Error(`chain ${chain.name}: no layers`);
  let [c, h, w] = [chain.c, chain.h, chain.w];
  return chain.layers.map((l) => {
    const where = `chain ${chain.name}, layer ${l.name}`;
    if (![l.k, l.stride, l.cout].every((v) => Number.isInteger(v) && v > 0) || !(Number.isInteger(l.pad) && l.pad >= 0)) {
      throw new Error(`${where}: k, stride and cout must be positive integers and pad a non-negative integer`);
    }
    const g = l.groups ?? 1;
    if (!(Number.isInteger(g) && g > 0 && c % g === 0 && l.cout % g === 0)) {
      throw new Error(`${where}: groups ${g} must be a positive integer dividing both ${c} input and ${l.cout} output channels`);
    }
    if (l.w.length !== (l.cout * c * l.k * l.k) / g)
      throw new Error(`${where}: ${l.w.length} weights, a ${l.k}x${l.k} conv ${c}->${l.cout} (groups ${g}) needs ${(l.cout * c * l.k * l.k) / g}`);
    if (l.b.length !== l.cout) throw new Error(`${where}: ${l.b.length} biases, cout is ${l.cout}`);
    let d: LayerDims;
    try {
      d = { cin: c, hin: h, win: w, hout: convOut(h, l.k, l.stride, l.pad), wout: convOut(w, l.k, l.stride, l.pad) };
    } catch (e) {
      throw new Error(`${where}: ${(e as Error).message}`, { cause: e });
    }
    if (l.residual && (l.cout !== chain.c || d.hout !== chain.h || d.wout !== chain.w)) {
      throw new Error(`${where}: a residual adds the chain input (${chain.c}x${chain.h}x${chain.w}), the layer's output is ${l.cout}x${d.hout}x${d.wout}`);
    }
    [c, h, w] = [l.cout, d.hout, d.wout];
    return d;
  });
}

/** The chain for reference/chain-traffic.ts (modeled bytes, working set, recompute). */
export function trafficChain(chain: ConvChain): Chain {
  return {
    name: chain.name,
    h: chain.h,
    w: chain.w,
    c: chain.c,
    layers: chain.layers.map((l) => ({ name: l.name, op: 'conv', k: l.k, stride: l.stride, pad: l.pad, cout: l.cout, groups: l.groups ?? 1 })),
  };
}

/** The input window [lo, hi) (unclipped: border padding included) a layer reads for output [a, b). */
function window(a: number, b: number, l: ChainConvLayer): [number, number] {
  return [a * l.stride - l.pad, (b - 1) * l.stride - l.pad + l.k];
}

/**
 * The plan for tiles of tileH x tileW of the last layer's output (the last row and column of tiles may be
 * smaller; a tile larger than the output is one tile): each layer's region is what the next one's window
 * needs, clipped to the layer's output.
 */
export function planTiles(chain: ConvChain, tileH: number, tileW: number): TilePlan {
  if (!(Number.isInteger(tileH) && tileH > 0 && Number.isInteger(tileW) && tileW > 0)) {
    throw new Error(`chain ${chain.name}: tile sizes must be positive integers, got ${tileH}x${tileW}`);
  }
  const dims = chainDims(chain);
  const last = dims[dims.length - 1]!;
  const plan: TilePlan = [];
  for (let ty = 0; ty < last.hout; ty += tileH) {
    for (let tx = 0; tx < last.wout; tx += tileW) {
      const regions: Region[] = new Array(dims.length);
      let r: Region = { y0: ty, y1: Math.min(last.hout, ty + tileH), x0: tx, x1: Math.min(last.wout, tx + tileW) };
      for (let i = dims.length - 1; i >= 0; i--) {
        regions[i] = r;
        if (i === 0) break;
        const [wy0, wy1] = window(r.y0, r.y1, chain.layers[i]!);
        const [wx0, wx1] = window(r.x0, r.x1, chain.layers[i]!);
        const d = dims[i]!;
        r = { y0: Math.max(0, wy0), y1: Math.min(d.hin, wy1), x0: Math.max(0, wx0), x1: Math.min(d.win, wx1) };
      }
      plan.push(regions);
    }
  }
  return plan;
}

export interface PreparedChain {
  /** The chain input (fill before running) and the outputs of the last layerByLayer() and tiled(). */
  x: F32Buffer;
  yLayer: F32Buffer;
  yTiled: F32Buffer;
  layerByLayer(): void;
  /** Runs the plan given to prepareChain. */
  tiled(): void;
  /** Runs the strips given to prepareChain (halos cached), into yTiled; throws when none were given. */
  cachedStrips(): void;
}

/** For each strip, each layer's output rows [from, to) computed in it (full width; an empty range: none). */
export type StripPlan = [number, number][][];

/**
 * Full-width strips of `rows` rows of the last layer's output, with halos cached instead of recomputed: in each
 * strip every layer computes only the output rows no earlier strip computed and the next layer needs (rows an
 * earlier strip computed stay where they were written, so the overlap is read again from cache, not recomputed).
 */
export function planStrips(chain: ConvChain, rows: number): StripPlan {
  if (!(Number.isInteger(rows) && rows > 0)) throw new Error(`chain ${chain.name}: strip rows must be a positive integer, got ${rows}`);
  const dims = chainDims(chain);
  const L = dims.length;
  const done = dims.map(() => 0);
  const plan: StripPlan = [];
  for (let ty = 0; ty < dims[L - 1]!.hout; ty += rows) {
    const need = new Array<number>(L);
    need[L - 1] = Math.min(dims[L - 1]!.hout, ty + rows);
    for (let i = L - 1; i > 0; i--) {
      const l = chain.layers[i]!;
      need[i - 1] = Math.min(dims[i - 1]!.hout, Math.max(done[i - 1]!, (need[i]! - 1) * l.stride - l.pad + l.k));
    }
    plan.push(need.map((n, i) => [done[i]!, Math.max(done[i]!, n)] as [number, number]));
    need.forEach((n, i) => (done[i] = Math.max(done[i]!, n)));
  }
  return plan;
}

/** Packs every layer's weights and allocates both schedules' buffers (the tiled ones sized for `plan`, the cached strips' for `strips`). */
export function prepareChain(kern: Kernels, chain: ConvChain, plan: TilePlan, strips?: StripPlan): PreparedChain {
  const who = `chain ${chain.name}`;
  const simd = kern.requireSimd(who);
  const fusion = kern.fusion;
  if (fusion === null) throw new Error(`${who} needs WebAssembly SIMD: ${kern.simdUnavailable ?? 'not loaded'}`);
  const dims = chainDims(chain);
  const L = dims.length;
  const packed = chain.layers.map((l, i) => {
    const groups = l.groups ?? 1;
    const kd = (dims[i]!.cin / groups) * l.k * l.k;
    const wb = kern.allocCopy(l.w);
    const wp = kern.alloc(simd.gemm_packed_a_floats(l.cout, kd, groups));
    simd.pack_weights(wb.ptr, wp.ptr, l.cout, kd, groups);
    return { wp, bias: kern.allocCopy(l.b), act: ACT_CODE[l.act], groups };
  });
  const last = dims[L - 1]!;
  const outLen = chain.layers[L - 1]!.cout * last.hout * last.wout;
  const x = kern.alloc(chain.c * chain.h * chain.w);
  const yLayer = kern.alloc(outLen);
  const yTiled = kern.alloc(outLen);
  const ws = kern.alloc(fusion.conv_epi_workspace_floats());
  // Layer by layer: every intermediate whole.
  const mids = dims.slice(0, -1).map((d, i) => kern.alloc(chain.layers[i]!.cout * d.hout * d.wout));
  // Tiled: per layer, the largest input window and output region any tile needs.
  for (const [t, regions] of plan.entries()) {
    if (regions.length !== L) throw new Error(`${who}: tile ${t} of the plan has ${regions.length} regions, the chain has ${L} layers`);
  }
  const winMax = new Array<number>(L).fill(0);
  const outMax = new Array<number>(L).fill(0);
  for (const regions of plan) {
    regions.forEach((r, i) => {
      const l = chain.layers[i]!;
      const [wy0, wy1] = window(r.y0, r.y1, l);
      const [wx0, wx1] = window(r.x0, r.x1, l);
      winMax[i] = Math.max(winMax[i]!, dims[i]!.cin * (wy1 - wy0) * (wx1 - wx0));
      outMax[i] = Math.max(outMax[i]!, l.cout * (r.y1 - r.y0) * (r.x1 - r.x0));
    });
  }
  const wins = winMax.map((n) => kern.alloc(n));
  const outs = outMax.map((n) => kern.alloc(n));
  // A residual layer's shortcut, tiled: the chain input's values over the layer's output region.
  const resBufs = chain.layers.map((l, i) => (l.residual ? kern.alloc(outMax[i]!) : null));

  const layerByLayer = (): void => {
    let src = x;
    chain.layers.forEach((l, i) => {
      const d = dims[i]!;
      const dst = i === L - 1 ? yLayer : mids[i]!;
      const p = packed[i]!;
      const res = l.residual ? x.ptr : 0;
      fusion.conv_epi_f32(src.ptr, p.wp.ptr, dst.ptr, ws.ptr, 1, d.cin, d.hin, d.win, l.cout, l.k, l.k, l.stride, l.pad, p.groups, p.bias.ptr, res, p.act);
      src = dst;
    });
  };

  const tiled = (): void => {
    const mem = new Float32Array(kern.memory.buffer);
    const X = x.ptr >> 2;
    const Y = yTiled.ptr >> 2;
    for (const regions of plan) {
      // The producer of layer i's input: the chain input (whole), or layer i-1's output region.
      let src = X;
      let srcR: Region = { y0: 0, y1: chain.h, x0: 0, x1: chain.w };
      for (let i = 0; i < L; i++) {
        const l = chain.layers[i]!;
        const d = dims[i]!;
        const r = regions[i]!;
        const [wy0, wy1] = window(r.y0, r.y1, l);
        const [wx0, wx1] = window(r.x0, r.x1, l);
        const wh = wy1 - wy0;
        const ww = wx1 - wx0;
        const win = wins[i]!.ptr >> 2;
        mem.fill(0, win, win + d.cin * wh * ww);
        // The part of the window the producer has: rows and columns of both.
        const y0 = Math.max(wy0, srcR.y0);
        const y1 = Math.min(wy1, srcR.y1);
        const x0 = Math.max(wx0, srcR.x0);
        const x1 = Math.min(wx1, srcR.x1);
        const sh = srcR.y1 - srcR.y0;
        const sw = srcR.x1 - srcR.x0;
        if (y1 > y0 && x1 > x0) {
          for (let ch = 0; ch < d.cin; ch++) {
            for (let row = y0; row < y1; row++) {
              const s0 = src + (ch * sh + row - srcR.y0) * sw + (x0 - srcR.x0);
              mem.copyWithin(win + (ch * wh + row - wy0) * ww + (x0 - wx0), s0, s0 + (x1 - x0));
            }
          }
        }
        const out = outs[i]!.ptr;
        const p = packed[i]!;
        const rb = resBufs[i];
        if (rb) {
          // The shortcut over this layer's output region (its output has the chain input's shape).
          const rh = r.y1 - r.y0;
          const rw = r.x1 - r.x0;
          const R = rb.ptr >> 2;
          for (let ch = 0; ch < l.cout; ch++) {
            for (let row = 0; row < rh; row++) {
              const s0 = X + (ch * chain.h + r.y0 + row) * chain.w + r.x0;
              mem.copyWithin(R + (ch * rh + row) * rw, s0, s0 + rw);
            }
          }
        }
        fusion.conv_epi_f32(wins[i]!.ptr, p.wp.ptr, out, ws.ptr, 1, d.cin, wh, ww, l.cout, l.k, l.k, l.stride, 0, p.groups, p.bias.ptr, rb ? rb.ptr : 0, p.act);
        src = out >> 2;
        srcR = r;
      }
      // The last layer's region into the output.
      const rh = srcR.y1 - srcR.y0;
      const rw = srcR.x1 - srcR.x0;
      const cout = chain.layers[L - 1]!.cout;
      for (let ch = 0; ch < cout; ch++) {
        for (let row = 0; row < rh; row++) {
          const s0 = src + (ch * rh + row) * rw;
          mem.copyWithin(Y + (ch * last.hout + srcR.y0 + row) * last.wout + srcR.x0, s0, s0 + rw);
        }
      }
    }
  };
  // Cached strips: per layer, the largest full-width input window and output rows of any strip.
  const stripWin = chain.layers.map((l, i) => {
    const d = dims[i]!;
    const rows = Math.max(0, ...(strips ?? []).map((s) => s[i]![1] - s[i]![0]));
    const ww = (d.wout - 1) * l.stride + l.k;
    return {
      win: rows ? kern.alloc(d.cin * ((rows - 1) * l.stride + l.k) * ww) : null,
      out: rows ? kern.alloc(l.cout * rows * d.wout) : null,
      res: rows && l.residual ? kern.alloc(l.cout * rows * d.wout) : null,
      ww,
    };
  });
  // The strips' own intermediates (rows written once, read by the next layer's later strips: the cached halos).
  const stripMids = strips ? dims.slice(0, -1).map((d, i) => kern.alloc(chain.layers[i]!.cout * d.hout * d.wout)) : [];
  const cachedStrips = (): void => {
    if (!strips) throw new Error(`${who}: no strips were planned`);
    const mem = new Float32Array(kern.memory.buffer);
    for (const strip of strips) {
      for (let i = 0; i < L; i++) {
        const [a, b] = strip[i]!;
        if (b <= a) continue;
        const l = chain.layers[i]!;
        const d = dims[i]!;
        const { win, out, res, ww } = stripWin[i]!;
        const src = (i === 0 ? x.ptr : stripMids[i - 1]!.ptr) >> 2;
        const dst = (i === L - 1 ? yTiled.ptr : stripMids[i]!.ptr) >> 2;
        const wy0 = a * l.stride - l.pad;
        const wh = (b - a - 1) * l.stride + l.k;
        const W = win!.ptr >> 2;
        mem.fill(0, W, W + d.cin * wh * ww);
        const y0 = Math.max(0, wy0);
        const y1 = Math.min(d.hin, wy0 + wh);
        for (let ch = 0; ch < d.cin; ch++) {
          for (let row = y0; row < y1; row++) {
            const s0 = src + (ch * d.hin + row) * d.win;
            const n = Math.min(d.win, ww - l.pad);
            mem.copyWithin(W + (ch * wh + row - wy0) * ww + l.pad, s0, s0 + n);
          }
        }
        const rows = b - a;
        const rb = res;
        if (rb) {
          // The shortcut over these rows (the layer's output has the chain input's shape).
          const R = rb.ptr >> 2;
          for (let ch = 0; ch < l.cout; ch++) {
            const s0 = (x.ptr >> 2) + (ch * chain.h + a) * chain.w;
            mem.copyWithin(R + ch * rows * chain.w, s0, s0 + rows * chain.w);
          }
        }
        const p = packed[i]!;
        fusion.conv_epi_f32(
          win!.ptr,
          p.wp.ptr,
          out!.ptr,
          ws.ptr,
          1,
          d.cin,
          wh,
          ww,
          l.cout,
          l.k,
          l.k,
          l.stride,
          0,
          p.groups,
          p.bias.ptr,
          rb ? rb.ptr : 0,
          p.act,
        );
        const O = out!.ptr >> 2;
        for (let ch = 0; ch < l.cout; ch++) {
          mem.copyWithin(dst + (ch * d.hout + a) * d.wout, O + ch * rows * d.wout, O + (ch + 1) * rows * d.wout);
        }
      }
    }
  };
  return { x, yLayer, yTiled, layerByLayer, tiled, cachedStrips };
}
