/**
 * A traffic model for chains of convolutions and pools (pure, payload-safe): for a schedule and an on-chip capacity,
 * the off-chip bytes, the peak working set and the recomputed FLOPs. It is what the tiling suite draws on the
 * roofline: a chain's intensity from modeled bytes, untiled and at each tile size.
 *
 * Accounting (docs/tiling.md says the same, with the published figure it reproduces):
 * - A transfer is one element of a feature map (or of the weights, when `weights` is set) crossing the on-chip
 *   boundary, at `bytesPerElement`. The chain's input is read and its output written at least once.
 * - Layer by layer: an intermediate tensor is written by its producer and read by its consumer, unless it and the
 *   producer's input (and the two layers' weights, when counted) fit on chip together, then it never leaves.
 * - `pooling: 'on-read'` (Alwani et al.'s accounting): a pool is applied by its consumer while reading, so the pool's
 *   output is never stored and the consumer reads the pool's input. `'separate'`: a pool is a layer like any other.
 * - Tiled: the last layer's output is cut into tiles (the last row and column may be smaller); each tile's pyramid
 *   (the region each layer needs, clipped at the image border; a region is the hull of the rows and columns it
 *   needs, so a 1x1 stride-2 layer's skipped rows count) is computed through the whole chain on chip.
 *   `halo: 'recompute'` computes overlapping regions again for each tile (the chain input's overlap is read again);
 *   `halo: 'cache'` keeps the overlap in reuse buffers (a full-width band of k - stride rows and a tile-high band of
 *   k - stride columns per layer, tiles visited row by row), so nothing is computed or read twice.
 * - Working set: layer by layer, a layer's input + output (+ its weights). Tiled, while a tile computes layer l it
 *   holds l's input and output regions (a layer's input is freed once its output is computed); with cached halos
 *   only the regions no earlier tile produced, plus the bands in use (the row bands from the second tile on, counted
 *   whole while the first row fills them; the column bands from a row's second tile on; before that the bands of the
 *   layers before l). Every layer's weights are added when counted (a
 *   tile visits all of them). When it exceeds the capacity the schedule does not fit: each tile's intermediates are
 *   written and read back, and counted weights are read once per tile.
 * - FLOPs follow the counting rule (reference/graph-cost.ts): conv 2 x MACs, max pool k*k - 1 and average pool k*k
 *   per output element. Executed FLOPs add the recomputed regions (and leave out border rows or columns that no
 *   output needs, which the counting rule counts).
 */

export interface ChainLayer {
  name: string;
  op: 'conv' | 'maxpool' | 'avgpool';
  /** Square window (kernel) size. */
  k: number;
  stride: number;
  pad: number;
  /** Output channels (conv only; pools keep their input's channels). */
  cout?: number;
  /** Conv groups (1 by default; the input channels for a depthwise conv). */
  groups?: number;
}

export interface Chain {
  name: string;
  /** The chain input's height, width and channels. */
  h: number;
  w: number;
  c: number;
  layers: ChainLayer[];
}

export interface TrafficModel {
  /** Storage width of every element (4 for fp32). */
  bytesPerElement: number;
  /** On-chip capacity in bytes (a cache level, or an accelerator's buffer). */
  cacheBytes: number;
  pooling: 'separate' | 'on-read';
  /** Count weight transfers too (a CPU's cache holds them with the feature maps); false: feature maps only. */
  weights: boolean;
}

export type ChainSchedule = { kind: 'layer' } | { kind: 'tiled'; tileH: number; tileW: number; halo: 'recompute' | 'cache' };

export interface ChainTraffic {
  schedule: ChainSchedule;
  /** Feature-map bytes + weight bytes crossing the on-chip boundary. */
  offChipBytes: number;
  featureMapBytes: number;
  weightBytes: number;
  /** The most bytes the schedule needs on chip at once, and whether that fits the capacity. */
  peakWorkingSet: number;
  fits: boolean;
  /** The chain's FLOPs by the counting rule (each output element once), and what the schedule executes. */
  flops: number;
  executedFlops: number;
  /** executedFlops / flops - 1 (slightly negative when a stride leaves border rows no output needs). */
  recomputeOverhead: number;
  tiles: number;
  /** FLOPs (counting rule) per off-chip byte: the chain's point on the roofline for this schedule. */
  intensity: number;
}

export interface LayerShape {
  layer: ChainLayer;
  hin: number;
  win: number;
  cin: number;
  hout: number;
  wout: number;
  cout: number;
  /** FLOPs per output pixel (all output channels). */
  flopsPerPixel: number;
  weightElements: number;
}

const positiveInt = (v: number) => Number.isInteger(v) && v > 0;

/** Every layer's input and output shape; throws naming the layer when a shape is invalid. */
export function chainShapes(chain: Chain): LayerShape[] {
  if (!positiveInt(chain.h) || !positiveInt(chain.w) || !positiveInt(chain.c)) {
    throw new Error(`chain ${chain.name}: the input must have positive integer h, w, c (got ${chain.h}x${chain.w}x${chain.c})`);
  }
  if (chain.layers.length === 0) throw new Error(`chain ${chain.name}: no layers`);
  const out: LayerShape[] = [];
  let [h, w, c] = [chain.h, chain.w, chain.c];
  for (const layer of chain.layers) {
    const where = `chain ${chain.name}, layer ${layer.name}`;
    if (!positiveInt(layer.k) || !positiveInt(layer.stride) || !(Number.isInteger(layer.pad) && layer.pad >= 0)) {
      throw new Error(`${where}: k and stride must be positive integers and pad a non-negative integer`);
    }
    const hout = Math.floor((h + 2 * layer.pad - layer.k) / layer.stride) + 1;
    const wout = Math.floor((w + 2 * layer.pad - layer.k) / layer.stride) + 1;
    if (hout < 1 || wout < 1) throw new Error(`${where}: a ${layer.k}x${layer.k} window does not fit a ${h}x${w} input`);
    let cout = c;
    let flopsPerPixel: number;
    let weightElements = 0;
    if (layer.op === 'conv') {
      const groups = layer.groups ?? 1;
      if (!positiveInt(layer.cout ?? 0)) throw new Error(`${where}: a conv needs cout`);
      cout = layer.cout!;
      if (!positiveInt(groups) || c % groups !== 0 || cout % groups !== 0) {
        throw new Error(`${where}: groups ${groups} must divide the input channels ${c} and cout ${cout}`);
      }
      flopsPerPixel = 2 * cout * (c / groups) * layer.k * layer.k;
      weightElements = cout * (c / groups) * layer.k * layer.k;
    } else {
      flopsPerPixel = c * (layer.op === 'maxpool' ? layer.k * layer.k - 1 : layer.k * layer.k);
    }
    out.push({ layer, hin: h, win: w, cin: c, hout, wout, cout, flopsPerPixel, weightElements });
    [h, w, c] = [hout, wout, cout];
  }
  return out;
}

/** The input rows (or columns) [lo, hi) a layer needs for its output rows [a, b), clipped to the input. */
function needed(a: number, b: number, s: LayerShape, size: number): [number, number] {
  const lo = Math.max(0, a * s.layer.stride - s.layer.pad);
  const hi = Math.min(size, (b - 1) * s.layer.stride - s.layer.pad + s.layer.k);
  return [lo, hi];
}

function validate(model: TrafficModel, schedule: ChainSchedule): void {
  if (!(model.bytesPerElement > 0)) throw new Error(`traffic model: bytesPerElement must be > 0, got ${model.bytesPerElement}`);
  if (!(model.cacheBytes >= 0)) throw new Error(`traffic model: cacheBytes must be >= 0, got ${model.cacheBytes}`);
  if (schedule.kind === 'tiled' && (!positiveInt(schedule.tileH) || !positiveInt(schedule.tileW))) {
    throw new Error(`traffic model: a tile must have positive integer sides, got ${schedule.tileH}x${schedule.tileW}`);
  }
}

/** The off-chip traffic, working set and executed FLOPs of `chain` under `schedule` (see the module doc). */
export function chainTraffic(chain: Chain, model: TrafficModel, schedule: ChainSchedule): ChainTraffic {
  validate(model, schedule);
  const shapes = chainShapes(chain);
  const B = model.bytesPerElement;
  const last = shapes[shapes.length - 1]!;
  const flops = shapes.reduce((t, s) => t + s.hout * s.wout * s.flopsPerPixel, 0);
  const weightsOf = (s: LayerShape) => (model.weights ? s.weightElements * B : 0);
  const allWeights = shapes.reduce((t, s) => t + weightsOf(s), 0);
  const inputBytes = chain.h * chain.w * chain.c * B;
  const outputBytes = last.hout * last.wout * last.cout * B;
  const result = (featureMapBytes: number, weightBytes: number, peakWorkingSet: number, executedFlops: number, tiles: number): ChainTraffic => ({
    schedule,
    offChipBytes: featureMapBytes + weightBytes,
    featureMapBytes,
    weightBytes,
    peakWorkingSet,
    fits: peakWorkingSet <= model.cacheBytes,
    flops,
    executedFlops,
    recomputeOverhead: executedFlops / flops - 1,
    tiles,
    intensity: flops / (featureMapBytes + weightBytes),
  });

  if (schedule.kind === 'layer') {
    // Which layers materialize their output: with pooling on read, a pool (other than the last layer) does not; its
    // consumer reads the pool's input instead.
    const folded = (i: number) => model.pooling === 'on-read' && shapes[i]!.layer.op !== 'conv' && i < shapes.length - 1;
    let traffic = inputBytes + outputBytes;
    let peak = 0;
    let readBytes = inputBytes; // the tensor the current producer reads
    for (let i = 0; i < shapes.length; i++) {
      const s = shapes[i]!;
      const out = s.hout * s.wout * s.cout * B;
      peak = Math.max(peak, s.hin * s.win * s.cin * B + out + weightsOf(s));
      if (folded(i)) continue; // the pool's input stays the tensor the next layer reads
      if (i < shapes.length - 1) {
        const consumer = shapes[i + 1 + (folded(i + 1) ? 1 : 0)];
        const onChip = readBytes + out + weightsOf(s) + (consumer ? weightsOf(consumer) : 0) <= model.cacheBytes;
        if (!onChip) traffic += 2 * out;
      }
      readBytes = out;
    }
    return result(traffic, allWeights, peak, flops, 1);
  }

  const { tileH, tileW, halo } = schedule;
  const rowsY = Math.ceil(last.hout / tileH);
  const colsX = Math.ceil(last.wout / tileW);
  const tiles = rowsY * colsX;
  // Region sizes depend on the row and the column separately: propagate each tile row and column through the chain.
  // `inLen`/`outLen`: the regions a tile needs (recompute); `newIn`/`newOut`: the part of them no earlier tile in
  // that row or column produced (cache: the rest comes from the reuse bands).
  const spans = (count: number, tile: number, total: number, dim: 'h' | 'w') => {
    const all: { inLen: number[]; outLen: number[]; newIn: number[]; newOut: number[] }[] = [];
    const seen: number[] = new Array<number>(shapes.length).fill(0); // input rows/cols already produced, per layer
    for (let t = 0; t < count; t++) {
      let [a, b] = [t * tile, Math.min(total, (t + 1) * tile)];
      let ownOut = b - a;
      const span = { inLen: [] as number[], outLen: [] as number[], newIn: [] as number[], newOut: [] as number[] };
      for (let l = shapes.length - 1; l >= 0; l--) {
        const s = shapes[l]!;
        span.outLen[l] = b - a;
        span.newOut[l] = ownOut;
        [a, b] = needed(a, b, s, dim === 'h' ? s.hin : s.win);
        span.inLen[l] = b - a;
        ownOut = Math.max(0, b - Math.max(a, seen[l]!));
        span.newIn[l] = ownOut;
        seen[l] = Math.max(seen[l]!, b);
      }
      all.push(span);
    }
    return all;
  };
  const ys = spans(rowsY, tileH, last.hout, 'h');
  const xs = spans(colsX, tileW, last.wout, 'w');

  // Cache: the overlap bands kept per layer's input, a full-width band of rows and a tile-high band of columns.
  const cache = halo === 'cache';
  const rowBand = shapes.map((s) => (cache ? Math.max(0, s.layer.k - s.layer.stride) * s.win * s.cin * B : 0));
  const colBand = shapes.map((s, l) => {
    if (!cache) return 0;
    // the rows a tile adds at this layer (the rows above them are in the row band)
    const tileRows = Math.max(...(ys.length > 1 ? ys.slice(1) : ys).map((y) => y.newIn[l]!));
    return Math.max(0, s.layer.k - s.layer.stride) * tileRows * s.cin * B;
  });

  // Per tile: executed FLOPs, the chain input read, the working set, the intermediates. While a tile computes layer l
  // it holds that layer's new input and output regions, plus the bands already in use: the row bands from the second
  // tile on (counted whole while the first row fills them), the column bands from a row's second tile on, and before
  // that the bands of the layers before l (a band fills from its layer's input).
  let executed = 0;
  let inputRead = 0;
  let working = 0;
  let intermediates = 0;
  for (const [iy, y] of ys.entries()) {
    for (const [ix, x] of xs.entries()) {
      for (let l = 0; l < shapes.length; l++) {
        const s = shapes[l]!;
        const outArea = cache ? y.newOut[l]! * x.newOut[l]! : y.outLen[l]! * x.outLen[l]!;
        const inArea = cache ? y.newIn[l]! * x.newIn[l]! : y.inLen[l]! * x.inLen[l]!;
        executed += outArea * s.flopsPerPixel;
        let bands = 0;
        for (let j = 0; j < shapes.length; j++) bands += (iy > 0 || ix > 0 || j < l ? rowBand[j]! : 0) + (ix > 0 || j < l ? colBand[j]! : 0);
        working = Math.max(working, (inArea * s.cin + outArea * s.cout) * B + bands);
        if (l < shapes.length - 1) intermediates += outArea * s.cout * B;
      }
      inputRead += (cache ? y.newIn[0]! * x.newIn[0]! : y.inLen[0]! * x.inLen[0]!) * chain.c * B;
    }
  }
  const peak = working + allWeights;
  const fits = peak <= model.cacheBytes;
  const featureMaps = inputRead + outputBytes + (fits ? 0 : 2 * intermediates);
  const weightBytes = fits ? allWeights : allWeights * tiles;
  return result(featureMaps, weightBytes, peak, executed, tiles);
}

/** Every square tile side from 1 to the output's larger side (or the given sides), modeled; the best is the one with
 * the fewest off-chip bytes that fits, ties to fewer executed FLOPs, then to fewer (larger) tiles. */
export function tileSweep(
  chain: Chain,
  model: TrafficModel,
  halo: 'recompute' | 'cache',
  sides?: number[],
): { results: ChainTraffic[]; best: ChainTraffic | undefined } {
  const shapes = chainShapes(chain);
  const last = shapes[shapes.length - 1]!;
  const all = sides ?? Array.from({ length: Math.max(last.hout, last.wout) }, (_, i) => i + 1);
  const results = all.map((t) => chainTraffic(chain, model, { kind: 'tiled', tileH: t, tileW: t, halo }));
  const fitting = results.filter((r) => r.fits);
  const best = fitting.sort((a, b) => a.offChipBytes - b.offChipBytes || a.executedFlops - b.executedFlops || a.tiles - b.tiles)[0];
  return { results, best };
}
