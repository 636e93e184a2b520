/**
 * The report's charts, rendered server-side to SVG with Vega-Lite + Vega:
 * the roofline (log-log, measured and theoretical ceilings, one point per
 * timed case x variant) and the bandwidth sweep of the measured ceilings.
 *
 * Every point carries a hover label as an SVG <title> (see svg.ts). All text
 * that reaches the SVG is either escaped by Vega (labels, axis titles) or by
 * escapeXml (titles).
 */
import type { TopLevelSpec } from 'vega-lite';
import { isTimed, resultThreads, type TimedResult as Timed, type CaseResult, type RunResults } from '../../core/contracts.js';
import { ridgePoint } from '../../core/roofline.js';
import { bytesBinary, flopCount, ms, niceDown, niceUp, pct, sig } from './format.js';
import { attachTitles, CHART_CONFIG, tipToken, vegaLiteToSvg, type Tip } from './svg.js';
import { runFacts } from './facts.js';

/** Class of an effective-throughput point of the roofline (one per timed result). */
export const POINT_CLASS = 'rb-point';
/** Class of an executed-throughput (hollow) point of the roofline. */
export const EXECUTED_CLASS = 'rb-executed';
/** Class of a bandwidth-sweep point. */
export const SWEEP_CLASS = 'rb-sweep-point';

const ROOF_WIDTH = 980;
const ROOF_HEIGHT = 520;

const pos = (v: number | undefined): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;

/** A result the roofline can place: timed, with positive intensity and throughput. */
export function isPlottable(r: CaseResult): r is Timed {
  return isTimed(r) && pos(r.cost.intensity) && pos(r.perf.gflops);
}

/** A bandwidth level drawn as a sloped ceiling. */
export interface BandwidthLevel {
  /** L1, L2, L3, or cache (sweep maximum without cache sizes). */
  name: string;
  /** Chart label, e.g. "L2 4.86 GB/s". */
  label: string;
  gbps: number;
}

/**
 * Cache-level bandwidths from the sweep: the best figure among working sets
 * that fit each cache level (caches from the probe, else from the device
 * profile); without cache sizes, the best figure of the whole sweep. Levels
 * not clearly above DRAM (or too close to a level already kept) are dropped.
 */
export function cacheBandwidthLevels(run: RunResults): BandwidthLevel[] {
  const m = run.ceilings.measured;
  if (!m || m.bandwidth.length === 0) return [];
  const triad = m.bandwidth.filter((p) => p.kernel === 'triad' && pos(p.gbps) && pos(p.bytes));
  const pts = triad.length > 0 ? triad : m.bandwidth.filter((p) => pos(p.gbps) && pos(p.bytes));
  const c = run.probe?.cpu.cache;
  const t = run.ceilings.theoretical?.caches;
  const sizes: [string, number | undefined][] = [
    ['L1', c?.l1d ?? t?.['l1d'] ?? t?.['L1'] ?? t?.['l1']],
    ['L2', c?.l2 ?? t?.['l2'] ?? t?.['L2']],
    ['L3', c?.l3 ?? t?.['l3'] ?? t?.['L3']],
  ];
  const candidates: BandwidthLevel[] = [];
  let lower = 0;
  for (const [name, size] of sizes) {
    if (!pos(size) || size <= lower) continue;
    const inLevel = pts.filter((p) => p.bytes > lower && p.bytes <= size);
    if (inLevel.length > 0) {
      const gbps = Math.max(...inLevel.map((p) => p.gbps));
      candidates.push({ name, label: `${name} ${sig(gbps, 3)} GB/s`, gbps });
    }
    lower = size;
  }
  if (candidates.length === 0 && pts.length > 0) {
    const best = Math.max(...pts.map((p) => p.gbps));
    candidates.push({ name: 'cache', label: `cache ${sig(best, 3)} GB/s (sweep max)`, gbps: best });
  }
  const kept: BandwidthLevel[] = [];
  for (const lvl of candidates) {
    if (lvl.gbps < m.dramGbps * 1.15) continue;
    if (kept.some((k) => Math.abs(Math.log(k.gbps / lvl.gbps)) < Math.log(1.1))) continue;
    kept.push(lvl);
  }
  return kept;
}

interface LinePoint {
  id: string;
  seq: number;
  x: number;
  y: number;
}
interface Label {
  x: number;
  y: number;
  text: string;
  angle: number;
  align: 'left' | 'right' | 'center';
  baseline: 'top' | 'bottom' | 'middle';
  dx: number;
  dy: number;
}

export interface Box {
  l: number;
  r: number;
  t: number;
  b: number;
}

const overlaps = (a: Box, b: Box) => a.l < b.r && b.l < a.r && a.t < b.b && b.t < a.b;

/** Estimated rendered width of sans-serif text (px); enough for label collision checks. */
function textWidth(text: string, fontSize: number): number {
  return text.length * fontSize * 0.58;
}

function labelBox(ax: number, ay: number, text: string, fontSize: number, align: Label['align'], baseline: Label['baseline']): Box {
  const w = textWidth(text, fontSize);
  const h = fontSize * 1.2;
  const l = align === 'right' ? ax - w : align === 'center' ? ax - w / 2 : ax;
  const t = baseline === 'bottom' ? ay - h : baseline === 'middle' ? ay - h / 2 : ay;
  return { l, r: l + w, t, b: t + h };
}

/** Everything the roofline spec needs, computed from the run (exported for tests). */
export interface RooflineData {
  points: { x: number; y: number; variant: string; state: string; noisy: boolean; tip: string }[];
  executed: { x: number; y: number; y0: number; variant: string; state: string; tip: string }[];
  /** Case numbers, with their box in chart pixels (for collision checks). */
  caseLabels: { x: number; y: number; text: string; box: Box }[];
  tips: Tip[];
  xDomain: [number, number];
  yDomain: [number, number];
  measuredRoof: LinePoint[];
  /** The native roof its kernels file's probe measured (--kernels), where the run has one. */
  nativeRoof: LinePoint[];
  /**
   * `--threads` N > 1: the device's roof measured on N threads at once (ceilings.threaded), one line per
   * count (`id` "t<N>"), labelled "N threads"; `<variant>@t<N>` points are measured against their count's roof.
   */
  threadedRoofs: LinePoint[];
  /** The measured int8 roof (GOP/s, the runner's i32x4.dot_i16x8_s probe) at the measured bandwidth: int8 points' roof. */
  int8Roof: LinePoint[];
  cacheSlopes: LinePoint[];
  theoreticalRoof: LinePoint[];
  ridges: { x: number; y: number }[];
  labels: Label[];
  /** Pixel boxes of the ceiling labels (rotated ones as runs of small squares), for collision checks. */
  labelBoxes: Box[];
  /** Variants drawn, in a stable order (by name), and their colours (colours.ts). */
  variants: string[];
  colors: string[];
  notPlotted: number;
}

export function rooflineData(run: RunResults): RooflineData {
  const { numbers, colours: palette } = runFacts(run);
  const measured = run.ceilings.measured;
  const theo = run.ceilings.theoretical;
  const mPeak = measured && pos(measured.peakGflops) ? measured.peakGflops : undefined;
  const mBw = measured && pos(measured.dramGbps) ? measured.dramGbps : undefined;
  const native = run.ceilings.native ?? null;
  const nPeak = native && pos(native.peakGflops) ? native.peakGflops : undefined;
  const nBw = native && pos(native.dramGbps) ? native.dramGbps : undefined;
  const theoPeaks = theo ? Object.entries(theo.peakGflops).filter(([, v]) => pos(v)) : [];
  const tMain = theoPeaks.find(([k]) => k === 'f32') ?? theoPeaks[0];
  const tBw = theo && pos(theo.dramGbps) ? theo.dramGbps : undefined;
  const levels = mPeak !== undefined ? cacheBandwidthLevels(run) : [];
  const threaded = (run.ceilings.threaded ?? [])
    .filter((t) => t.threads > 1 && pos(t.measured.peakGflops))
    .map((t) => ({ threads: t.threads, peak: t.measured.peakGflops, bw: pos(t.measured.dramGbps) ? t.measured.dramGbps : undefined }))
    .sort((a, b) => a.threads - b.threads);

  const timed = run.results.filter(isTimed);
  const plotted = timed.filter(isPlottable);
  // The int8 roof only where an int8 point is measured against it: above a run of fp32 kernels alone (the fusion
  // suite) a dashed roof at twice the f32 peak reads as headroom they do not have.
  const hasInt8 = timed.some((r) => r.dtype === 'i8' || r.dtype === 'u8');
  const iPeak = hasInt8 && measured && pos(measured.int8PeakGops) ? measured.int8PeakGops : undefined;
  const tips: Tip[] = [];
  const points: RooflineData['points'] = [];
  const executed: RooflineData['executed'] = [];
  const variants: string[] = [];
  const spanOfCase = new Map<string, { x: number; top: number; bottom: number }>();

  for (const r of plotted) {
    if (!variants.includes(r.variant)) variants.push(r.variant);
    const no = numbers.get(r.caseId) ?? 0;
    const lines = [
      `#${no} ${r.caseId}`,
      `variant: ${r.variant}`,
      `state: ${r.state}${r.timing.noisy ? ` (noisy: cv ${pct(r.timing.stats.cv * 100)})` : ''}`,
      `effective: ${sig(r.perf.gflops, 3)} GFLOP/s`,
      `intensity: ${sig(r.cost.intensity, 3)} FLOP/byte`,
      r.perf.pctMeasured !== undefined
        ? `${pct(r.perf.pctMeasured)} of measured roofline (executed FLOPs; attainable ${sig(r.perf.attainableMeasured, 3)} GFLOP/s)`
        : 'no measured roofline',
    ];
    if (r.perf.pctNative !== undefined) {
      lines.push(`${pct(r.perf.pctNative)} of the native roofline (attainable ${sig(r.perf.attainableNative, 3)} GFLOP/s)`);
    }
    if (r.external !== undefined) lines.push(`native kernel: ${r.external}`);
    if (r.perf.pctTheoretical !== undefined) {
      lines.push(`${pct(r.perf.pctTheoretical)} of theoretical roofline (attainable ${sig(r.perf.attainableTheoretical, 3)} GFLOP/s)`);
    }
    const rThreads = resultThreads(r);
    if (rThreads > 1 && r.perf.pctMeasured !== undefined && threaded.some((t) => t.threads === rThreads)) {
      lines.push(`(measured against the ${rThreads}-thread roof)`);
    }
    lines.push(`median ${ms(r.timing.stats.median)} ms`);
    points.push({
      x: r.cost.intensity,
      y: r.perf.gflops,
      variant: r.variant,
      state: r.state,
      noisy: r.timing.noisy,
      tip: tipToken(tips.length),
    });
    tips.push({ lines, className: POINT_CLASS });
    const span = spanOfCase.get(r.caseId);
    let yTop = r.perf.gflops;
    let yBottom = r.perf.gflops;
    if (pos(r.perf.executedGflops)) {
      yTop = Math.max(yTop, r.perf.executedGflops);
      yBottom = Math.min(yBottom, r.perf.executedGflops);
      executed.push({
        x: r.cost.intensity,
        y: r.perf.executedGflops,
        y0: r.perf.gflops,
        variant: r.variant,
        state: r.state,
        tip: tipToken(tips.length),
      });
      tips.push({
        lines: [
          `#${no} ${r.caseId}`,
          `variant: ${r.variant}`,
          `executed: ${sig(r.perf.executedGflops, 3)} GFLOP/s`,
          `(${flopCount(r.cost.executedFlops)} performed vs ${flopCount(r.cost.flops)} direct-count)`,
          `effective: ${sig(r.perf.gflops, 3)} GFLOP/s`,
        ],
        className: EXECUTED_CLASS,
      });
    }
    spanOfCase.set(r.caseId, {
      x: r.cost.intensity,
      top: Math.max(yTop, span?.top ?? yTop),
      bottom: Math.min(yBottom, span?.bottom ?? yBottom),
    });
  }

  // Domains: cover every point and ceiling, on 1-2-5 boundaries, with room for labels.
  const mRidge = mPeak !== undefined && mBw !== undefined ? ridgePoint(mPeak, mBw) : undefined;
  const tRidge = tMain && tBw !== undefined ? ridgePoint(tMain[1], tBw) : undefined;
  const nRidge = nPeak !== undefined && nBw !== undefined ? ridgePoint(nPeak, nBw) : undefined;
  const tRidges = threaded.map((t) => (t.bw !== undefined ? ridgePoint(t.peak, t.bw) : undefined));
  const xs = [...points.map((p) => p.x), ...[mRidge, tRidge, nRidge, ...tRidges].filter(pos)];
  const ys = [
    ...points.map((p) => p.y),
    ...executed.map((p) => p.y),
    ...[mPeak, nPeak, iPeak].filter(pos),
    ...theoPeaks.map(([, v]) => v),
    ...threaded.map((t) => t.peak),
  ];
  let x0 = xs.length ? niceDown(Math.min(...xs) / 2) : 0.1;
  let x1 = xs.length ? niceUp(Math.max(...xs) * 2.5) : 1000;
  const ridgeMin = Math.min(...[mRidge, tRidge, nRidge, ...tRidges].filter(pos));
  if (Number.isFinite(ridgeMin)) x0 = Math.min(x0, niceDown(ridgeMin / 8)); // let the slopes show as slopes
  if (x1 / x0 < 100) x1 = niceUp(x0 * 100);
  let y1 = ys.length ? niceUp(Math.max(...ys) * 2) : 100;
  let y0 = ys.length ? niceDown(Math.min(...ys) / 2) : 0.1;
  if (y1 / y0 < 100) y0 = niceDown(y1 / 100);
  if (!(x0 > 0 && x1 > x0)) [x0, x1] = [0.1, 1000];
  if (!(y0 > 0 && y1 > y0)) [y0, y1] = [0.1, 100];

  // Pixel geometry of this frame, for label angles and collision checks.
  const px = (x: number) => (ROOF_WIDTH * Math.log(x / x0)) / Math.log(x1 / x0);
  const py = (y: number) => ROOF_HEIGHT * (1 - Math.log(y / y0) / Math.log(y1 / y0));
  const yAt = (p: number) => y0 * Math.exp((1 - p / ROOF_HEIGHT) * Math.log(y1 / y0));
  const xAt = (p: number) => x0 * Math.exp((p / ROOF_WIDTH) * Math.log(x1 / x0));
  const slopeRad = Math.atan2(ROOF_HEIGHT / Math.log10(y1 / y0), ROOF_WIDTH / Math.log10(x1 / x0));
  const slopeAngle = -(slopeRad * 180) / Math.PI;
  const labels: Label[] = [];
  // Label placement: every label has candidate placements in order of preference; the
  // first that stays inside the frame and clear of points and placed labels wins.
  const obstacles: Box[] = [...points, ...executed].map((p) => ({ l: px(p.x) - 6, r: px(p.x) + 6, t: py(p.y) - 6, b: py(p.y) + 6 }));
  const boxesOf = (l: Label): Box[] => {
    const ax = px(l.x);
    const ay = py(l.y);
    if (l.angle === 0) return [labelBox(ax + l.dx, ay + l.dy, l.text, 11, l.align, l.baseline)];
    // Rotated text: cover it with small squares along its baseline.
    const a = (l.angle * Math.PI) / 180;
    const dir = [Math.cos(a), Math.sin(a)] as const;
    const up = [Math.sin(a), -Math.cos(a)] as const;
    const side = l.baseline === 'bottom' ? 1 : -1;
    const lead = l.align === 'right' ? -1 : 1;
    const w = textWidth(l.text, 11);
    const off = Math.abs(l.dy) + 6.5;
    const boxes: Box[] = [];
    for (let t = 3; t < w; t += 6) {
      const cx = ax + lead * t * dir[0] + side * off * up[0];
      const cy = ay + lead * t * dir[1] + side * off * up[1];
      boxes.push({ l: cx - 4.5, r: cx + 4.5, t: cy - 5.5, b: cy + 5.5 });
    }
    return boxes;
  };
  const inFrame = (b: Box) => b.l >= -1 && b.r <= ROOF_WIDTH + 1 && b.t >= -1 && b.b <= ROOF_HEIGHT + 1;
  /** Place the first clear candidate (else, unless `clearOnly`, the first inside the frame); whether one was placed. */
  const place = (candidates: Label[], clearOnly = false): boolean => {
    const ok = candidates.find((c) => {
      const boxes = boxesOf(c);
      return boxes.every(inFrame) && !boxes.some((b) => obstacles.some((o) => overlaps(o, b)));
    });
    const chosen = ok ?? (clearOnly ? undefined : candidates.find((c) => boxesOf(c).every(inFrame)));
    if (!chosen) return false;
    labels.push(chosen);
    obstacles.push(...boxesOf(chosen));
    return true;
  };
  /** Candidates along the slope y = bw * x: ending just left of where it meets its roof, then slid down-left. */
  const slopeLabel = (bw: number, ridge: number, text: string, clearOnly = false): boolean => {
    const candidates: Label[] = [];
    const end = px(ridge) - 12;
    const dxPx = Math.cos(slopeRad);
    for (let step = 0; step < 30; step++) {
      const x = xAt(Math.min(end, ROOF_WIDTH - 4) - step * 18 * dxPx);
      candidates.push({ x, y: bw * x, text, angle: slopeAngle, align: 'right', baseline: 'bottom', dx: 0, dy: -3 });
    }
    return place(candidates, clearOnly);
  };
  /** Candidates for a roof's horizontal label: right of its ridge above the line, then the right end, then below. */
  const peakLabel = (peak: number, ridge: number | undefined, text: string): void => {
    const candidates: Label[] = [];
    if (ridge !== undefined && ridge > x0 && ridge < x1) {
      candidates.push({ x: ridge, y: peak, text, angle: 0, align: 'left', baseline: 'bottom', dx: 10, dy: -4 });
    }
    candidates.push(
      { x: x1, y: peak, text, angle: 0, align: 'right', baseline: 'bottom', dx: -4, dy: -4 },
      { x: x1, y: peak, text, angle: 0, align: 'right', baseline: 'top', dx: -4, dy: 4 },
    );
    place(candidates);
  };
  const ridgeLabel = (ridge: number, peak: number, text: string): boolean =>
    place([
      { x: ridge, y: peak, text, angle: 0, align: 'left', baseline: 'top', dx: 6, dy: 6 },
      { x: ridge, y: peak, text, angle: 0, align: 'right', baseline: 'bottom', dx: -8, dy: -4 },
      { x: ridge, y: peak, text, angle: 0, align: 'left', baseline: 'top', dx: 6, dy: 20 },
    ]);

  const measuredRoof: LinePoint[] = [];
  const nativeRoof: LinePoint[] = [];
  const int8Roof: LinePoint[] = [];
  const threadedRoofs: LinePoint[] = [];
  const cacheSlopes: LinePoint[] = [];
  const theoreticalRoof: LinePoint[] = [];
  const ridges: RooflineData['ridges'] = [];
  for (const r of [
    mRidge !== undefined && mPeak !== undefined ? { x: mRidge, y: mPeak } : undefined,
    tRidge !== undefined && tMain ? { x: tRidge, y: tMain[1] } : undefined,
    nRidge !== undefined && nPeak !== undefined ? { x: nRidge, y: nPeak } : undefined,
  ]) {
    if (!r) continue;
    ridges.push(r);
    obstacles.push({ l: px(r.x) - 6, r: px(r.x) + 6, t: py(r.y) - 6, b: py(r.y) + 6 });
  }
  if (mPeak !== undefined && mBw !== undefined && mRidge !== undefined) {
    measuredRoof.push({ id: 'm', seq: 0, x: x0, y: mBw * x0 }, { id: 'm', seq: 1, x: mRidge, y: mPeak }, { id: 'm', seq: 2, x: x1, y: mPeak });
    peakLabel(mPeak, mRidge, `measured peak ${sig(mPeak, 3)} GFLOP/s`);
    ridgeLabel(mRidge, mPeak, `ridge ${sig(mRidge, 3)} FLOP/B`);
    slopeLabel(mBw, mRidge, `DRAM ${sig(mBw, 3)} GB/s (measured)`);
    for (const lvl of levels) {
      const ridge = mPeak / lvl.gbps;
      // A cache slope whose label finds no clear place (too short in the frame, crowded) is left out:
      // an unnamed line explains nothing. Its figure stays in the measured-ceilings table.
      if (slopeLabel(lvl.gbps, ridge, lvl.label, true)) {
        cacheSlopes.push({ id: lvl.label, seq: 0, x: x0, y: lvl.gbps * x0 }, { id: lvl.label, seq: 1, x: ridge, y: mPeak });
      }
    }
  } else if (mPeak !== undefined) {
    measuredRoof.push({ id: 'm', seq: 0, x: x0, y: mPeak }, { id: 'm', seq: 1, x: x1, y: mPeak });
    peakLabel(mPeak, undefined, `measured peak ${sig(mPeak, 3)} GFLOP/s`);
  }
  // The native roof (a kernels file's probe): native kernels are measured against it as well.
  if (nPeak !== undefined && nBw !== undefined && nRidge !== undefined) {
    nativeRoof.push({ id: 'n', seq: 0, x: x0, y: nBw * x0 }, { id: 'n', seq: 1, x: nRidge, y: nPeak }, { id: 'n', seq: 2, x: x1, y: nPeak });
    peakLabel(nPeak, nRidge, `native peak ${sig(nPeak, 3)} GFLOP/s (measured)`);
    slopeLabel(nBw, nRidge, `DRAM ${sig(nBw, 3)} GB/s (native, measured)`);
  } else if (nPeak !== undefined) {
    nativeRoof.push({ id: 'n', seq: 0, x: x0, y: nPeak }, { id: 'n', seq: 1, x: x1, y: nPeak });
    peakLabel(nPeak, undefined, `native peak ${sig(nPeak, 3)} GFLOP/s (measured)`);
  }
  // The roof at N threads, one per count the run measured (ceilings.threaded).
  threaded.forEach((t, i) => {
    const id = `t${t.threads}`;
    const ridge = tRidges[i];
    if (t.bw !== undefined && ridge !== undefined) {
      threadedRoofs.push({ id, seq: 0, x: x0, y: t.bw * x0 }, { id, seq: 1, x: ridge, y: t.peak }, { id, seq: 2, x: x1, y: t.peak });
      peakLabel(t.peak, ridge, `${t.threads} threads: peak ${sig(t.peak, 3)} GFLOP/s (measured)`);
      slopeLabel(t.bw, ridge, `${t.threads} threads: DRAM ${sig(t.bw, 3)} GB/s (measured)`, true);
    } else {
      threadedRoofs.push({ id, seq: 0, x: x0, y: t.peak }, { id, seq: 1, x: x1, y: t.peak });
      peakLabel(t.peak, undefined, `${t.threads} threads: peak ${sig(t.peak, 3)} GFLOP/s (measured)`);
    }
  });
  if (iPeak !== undefined) {
    const iRidge = mBw !== undefined ? ridgePoint(iPeak, mBw) : undefined;
    int8Roof.push(
      ...(iRidge !== undefined && mBw !== undefined
        ? [
            { id: 'i', seq: 0, x: x0, y: mBw * x0 },
            { id: 'i', seq: 1, x: iRidge, y: iPeak },
          ]
        : []),
    );
    int8Roof.push({ id: 'i', seq: 2, x: iRidge ?? x0, y: iPeak }, { id: 'i', seq: 3, x: x1, y: iPeak });
    peakLabel(iPeak, iRidge, `int8 peak ${sig(iPeak, 3)} GOP/s (measured)`);
  }
  if (theo) {
    for (const [dtype, peak] of theoPeaks) {
      const isMain = tMain !== undefined && dtype === tMain[0];
      if (isMain && tBw !== undefined && tRidge !== undefined) {
        theoreticalRoof.push({ id: dtype, seq: 0, x: x0, y: tBw * x0 }, { id: dtype, seq: 1, x: tRidge, y: peak }, { id: dtype, seq: 2, x: x1, y: peak });
        peakLabel(peak, tRidge, `${dtype} peak ${sig(peak, 3)} ${dtype === 'int8' ? 'GOP/s' : 'GFLOP/s'} (theoretical)`);
        ridgeLabel(tRidge, peak, `ridge ${sig(tRidge, 3)} FLOP/B (theoretical)`);
        slopeLabel(tBw, tRidge, `DRAM ${sig(tBw, 3)} GB/s (theoretical)`);
      } else {
        theoreticalRoof.push({ id: dtype, seq: 0, x: x0, y: peak }, { id: dtype, seq: 1, x: x1, y: peak });
        peakLabel(peak, undefined, `${dtype} peak ${sig(peak, 3)} ${dtype === 'int8' ? 'GOP/s' : 'GFLOP/s'} (theoretical)`);
      }
    }
  }

  // Case numbers: above each case's top point, moved clear of points and the other labels.
  const caseLabels: RooflineData['caseLabels'] = [];
  for (const [id, span] of spanOfCase) {
    const text = `#${numbers.get(id) ?? '?'}`;
    const w = textWidth(text, 10) + 2;
    const cx = px(span.x);
    const top = py(span.top);
    const bottom = py(span.bottom);
    const candidates: [number, number][] = [
      [cx, top - 12],
      [cx, top - 24],
      [cx, top - 36],
      [cx + w / 2 + 8, top],
      [cx - w / 2 - 8, top],
      [cx, bottom + 13],
      [cx, top - 48],
    ];
    // Crowded: rings further out around the case's points, nearest first.
    for (const r of [18, 30, 42, 56, 72, 90]) {
      for (const a of [-90, -45, -135, 0, 180, 45, 135, 90]) {
        const rad = (a * Math.PI) / 180;
        candidates.push([cx + Math.cos(rad) * (r + w / 2), (a > 0 ? bottom : top) + Math.sin(rad) * r]);
      }
    }
    const fits = ([x, y]: [number, number]) => {
      const box = { l: x - w / 2, r: x + w / 2, t: y - 6, b: y + 6 };
      return box.l >= 0 && box.r <= ROOF_WIDTH && box.t >= 0 && box.b <= ROOF_HEIGHT && !obstacles.some((o) => overlaps(o, box));
    };
    const [lx, ly] = candidates.find(fits) ?? candidates[0] ?? [cx, top - 12];
    obstacles.push({ l: lx - w / 2, r: lx + w / 2, t: ly - 6, b: ly + 6 });
    caseLabels.push({ x: xAt(lx), y: yAt(ly), text, box: { l: lx - w / 2, r: lx + w / 2, t: ly - 6, b: ly + 6 } });
  }
  return {
    points,
    executed,
    caseLabels,
    tips,
    xDomain: [x0, x1],
    yDomain: [y0, y1],
    measuredRoof,
    nativeRoof,
    int8Roof,
    threadedRoofs,
    cacheSlopes,
    theoreticalRoof,
    ridges,
    labels,
    labelBoxes: labels.flatMap(boxesOf),
    variants: [...variants].sort(),
    colors: [...variants].sort().map((v) => palette.get(v) ?? '#888'),
    notPlotted: timed.length - plotted.length,
  };
}

/** The measured int8 roof's line (long dashes), drawn where the runner measured an int8 peak. */
export const INT8_ROOF_COLOUR = '#a0522d';

/** The N-thread roofs' lines (short dashes, one per thread count of ceilings.threaded). */
export const THREADED_ROOF_COLOUR = '#2f6f5e';

/** The native roof's line: solid like the measured WebAssembly one, in a colour of its own. */
export const NATIVE_ROOF_COLOUR = '#b4561a';

const STATE_SHAPES = { domain: ['passed', 'inaccurate'], range: ['circle', 'triangle-up'] };

/** Tick values for a log axis: decades, plus 2x and 5x when the range is short. */
export function logTicks([lo, hi]: [number, number]): number[] {
  const decades = Math.log10(hi / lo);
  const mults = decades <= 3 ? [1, 2, 5] : decades <= 5 ? [1, 3] : [1];
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of mults) {
      const v = m * 10 ** e;
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) ticks.push(Number(v.toPrecision(6)));
    }
  }
  return ticks;
}

export function rooflineSpec(d: RooflineData): TopLevelSpec {
  const xScale = { type: 'log' as const, domain: d.xDomain, nice: false };
  const yScale = { type: 'log' as const, domain: d.yDomain, nice: false };
  const x = {
    field: 'x',
    type: 'quantitative' as const,
    scale: xScale,
    axis: { title: 'operational intensity (FLOP/byte)', values: logTicks(d.xDomain), format: '~g', grid: true },
  };
  const y = {
    field: 'y',
    type: 'quantitative' as const,
    scale: yScale,
    axis: { title: 'performance (GFLOP/s)', values: logTicks(d.yDomain), format: '~g', grid: true },
  };
  const color = {
    field: 'variant',
    type: 'nominal' as const,
    scale: d.variants.length ? { domain: d.variants, range: d.colors } : { domain: ['none'], range: ['#888'] },
    legend: { title: 'variant', orient: 'right' as const, labelLimit: 260 },
  };
  const layers: object[] = [];
  if (d.theoreticalRoof.length) {
    layers.push({
      data: { values: d.theoreticalRoof },
      mark: { type: 'line', clip: true, stroke: '#7a7f8a', strokeWidth: 1.5, strokeDash: [7, 5], aria: false },
      encoding: { detail: { field: 'id' }, order: { field: 'seq', type: 'quantitative' } },
    });
  }
  if (d.cacheSlopes.length) {
    layers.push({
      data: { values: d.cacheSlopes },
      mark: { type: 'line', clip: true, stroke: '#8a94a6', strokeWidth: 1, aria: false },
      encoding: { detail: { field: 'id' }, order: { field: 'seq', type: 'quantitative' } },
    });
  }
  if (d.measuredRoof.length) {
    layers.push({
      data: { values: d.measuredRoof },
      mark: { type: 'line', clip: true, stroke: '#1f2430', strokeWidth: 2.2, aria: false },
      encoding: { order: { field: 'seq', type: 'quantitative' } },
    });
  }
  if (d.nativeRoof.length) {
    layers.push({
      data: { values: d.nativeRoof },
      mark: { type: 'line', clip: true, stroke: NATIVE_ROOF_COLOUR, strokeWidth: 2.2, aria: false },
      encoding: { order: { field: 'seq', type: 'quantitative' } },
    });
  }
  if (d.threadedRoofs.length) {
    layers.push({
      data: { values: d.threadedRoofs },
      mark: { type: 'line', clip: true, stroke: THREADED_ROOF_COLOUR, strokeWidth: 1.8, strokeDash: [4, 2], aria: false },
      encoding: { detail: { field: 'id' }, order: { field: 'seq', type: 'quantitative' } },
    });
  }
  if (d.int8Roof.length) {
    layers.push({
      data: { values: d.int8Roof },
      mark: { type: 'line', clip: true, stroke: INT8_ROOF_COLOUR, strokeWidth: 1.8, strokeDash: [10, 3], aria: false },
      encoding: { order: { field: 'seq', type: 'quantitative' } },
    });
  }
  if (d.ridges.length) {
    layers.push({
      data: { values: d.ridges },
      mark: { type: 'point', shape: 'diamond', filled: true, size: 70, color: '#1f2430', opacity: 1, aria: false },
    });
  }
  // Vega-Lite has no align/baseline/offset channels: one text layer per placement.
  const placements = new Map<string, Label[]>();
  for (const l of d.labels) {
    const key = `${l.align}|${l.baseline}|${l.dx}|${l.dy}`;
    placements.set(key, [...(placements.get(key) ?? []), l]);
  }
  for (const group of placements.values()) {
    const first = group[0];
    if (!first) continue;
    layers.push({
      data: { values: group },
      mark: { type: 'text', fontSize: 11, fill: '#3a4150', clip: true, align: first.align, baseline: first.baseline, dx: first.dx, dy: first.dy, aria: false },
      encoding: { text: { field: 'text' }, angle: { field: 'angle', type: 'quantitative', scale: null } },
    });
  }
  if (d.executed.length) {
    layers.push({
      data: { values: d.executed },
      mark: { type: 'rule', strokeWidth: 1.2, strokeDash: [2, 2], aria: false },
      encoding: { y2: { field: 'y0' }, color },
    });
  }
  if (d.points.length) {
    layers.push({
      data: { values: d.points },
      mark: { type: 'point', filled: true, size: 80, stroke: 'white', strokeWidth: 0.8 },
      encoding: {
        color,
        shape: { field: 'state', type: 'nominal', scale: STATE_SHAPES, legend: { title: 'state', orient: 'right' } },
        opacity: { condition: { test: 'datum.noisy', value: 0.4 }, value: 0.92 },
        description: { field: 'tip' },
      },
    });
  }
  if (d.executed.length) {
    layers.push({
      data: { values: d.executed },
      mark: { type: 'point', filled: false, size: 75, strokeWidth: 1.6, opacity: 1 },
      encoding: {
        color,
        shape: { field: 'state', type: 'nominal', scale: STATE_SHAPES },
        description: { field: 'tip' },
      },
    });
  }
  if (d.caseLabels.length) {
    layers.push({
      data: { values: d.caseLabels.map(({ x, y, text }) => ({ x, y, text })) },
      mark: { type: 'text', fontSize: 10, fontWeight: 600, fill: '#555b66', align: 'center', baseline: 'middle', aria: false },
      encoding: { text: { field: 'text' } },
    });
  }
  if (layers.length === 0 || (d.points.length === 0 && d.measuredRoof.length === 0 && d.theoreticalRoof.length === 0 && d.nativeRoof.length === 0)) {
    layers.push({
      data: {
        values: [
          { x: Math.sqrt(d.xDomain[0] * d.xDomain[1]), y: Math.sqrt(d.yDomain[0] * d.yDomain[1]), text: 'nothing to plot: no timed results and no ceilings' },
        ],
      },
      mark: { type: 'text', fontSize: 13, fill: '#8a5a00' },
      encoding: { text: { field: 'text' } },
    });
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: ROOF_WIDTH,
    height: ROOF_HEIGHT,
    config: CHART_CONFIG,
    encoding: { x, y },
    layer: layers,
  } as TopLevelSpec;
}

/** The roofline chart of a run as a standalone SVG string (safe to inline: all text escaped). */
export async function rooflineSvg(run: RunResults): Promise<string> {
  const d = rooflineData(run);
  const svg = await vegaLiteToSvg(rooflineSpec(d), 'rb-roofline');
  return attachTitles(svg, d.tips);
}

/** Bandwidth sweep of the measured ceilings: GB/s vs working-set bytes (log x), copy and triad; null without a sweep. */
export async function bandwidthSweepSvg(run: RunResults): Promise<string | null> {
  const m = run.ceilings.measured;
  const pts = (m?.bandwidth ?? []).filter((p) => pos(p.bytes) && Number.isFinite(p.gbps) && p.gbps >= 0);
  if (!m || pts.length === 0) return null;
  const tips: Tip[] = [];
  const rows = [...pts]
    .sort((a, b) => a.bytes - b.bytes)
    .map((p) => {
      const tip = tipToken(tips.length);
      tips.push({
        lines: [`${p.kernel}: ${sig(p.gbps, 3)} GB/s`, `working set ${bytesBinary(p.bytes)}`, `${p.samples.length} samples`],
        className: SWEEP_CLASS,
      });
      return { bytes: p.bytes, gbps: p.gbps, kernel: p.kernel, tip };
    });
  const minB = Math.min(...rows.map((r) => r.bytes));
  const maxB = Math.max(...rows.map((r) => r.bytes));
  const domain: [number, number] = [2 ** Math.floor(Math.log2(minB / 1.3)), 2 ** Math.ceil(Math.log2(maxB * 1.3))];
  const ticks: number[] = [];
  for (let e = Math.ceil(Math.log2(domain[0])); e <= Math.floor(Math.log2(domain[1])); e++) {
    if (e % 2 === 0) ticks.push(2 ** e);
  }
  const c = run.probe?.cpu.cache;
  const cacheSizes: [string, number | undefined][] = [
    ['L1d', c?.l1d],
    ['L2', c?.l2],
    ['L3', c?.l3],
  ];
  const caches: { bytes: number; text: string }[] = [];
  for (const [name, size] of cacheSizes) {
    if (pos(size) && size >= domain[0] && size <= domain[1]) caches.push({ bytes: size, text: `${name} ${bytesBinary(size)}` });
  }
  const yMax = Math.max(...rows.map((r) => r.gbps), m.dramGbps) * 1.15;
  const byteLabel =
    "datum.value >= 1073741824 ? format(datum.value / 1073741824, '~g') + ' GiB' : " +
    "datum.value >= 1048576 ? format(datum.value / 1048576, '~g') + ' MiB' : " +
    "datum.value >= 1024 ? format(datum.value / 1024, '~g') + ' KiB' : format(datum.value, '~g') + ' B'";
  const x = {
    field: 'bytes',
    type: 'quantitative',
    scale: { type: 'log', domain, nice: false },
    axis: { title: 'working set (bytes, log scale)', values: ticks, labelExpr: byteLabel, labelFlush: true, labelOverlap: false, labelFontSize: 10 },
  };
  const y = { field: 'gbps', type: 'quantitative', scale: { domain: [0, yMax], nice: true }, axis: { title: 'bandwidth (GB/s)' } };
  const color = {
    field: 'kernel',
    type: 'nominal',
    scale: { domain: ['copy', 'triad'], range: ['#4e79a7', '#e15759'] },
    legend: { title: null, orient: 'top-right', fillColor: 'rgba(255,255,255,0.85)' },
  };
  const layers: object[] = [];
  if (caches.length) {
    layers.push(
      { data: { values: caches }, mark: { type: 'rule', stroke: '#b8bec9', strokeDash: [3, 3], aria: false }, encoding: { x } },
      {
        data: { values: caches },
        mark: { type: 'text', fontSize: 10, fill: '#666', align: 'left', baseline: 'top', dx: 3, y: 3, aria: false },
        encoding: { x, text: { field: 'text' } },
      },
    );
  }
  layers.push(
    {
      data: { values: [{ gbps: m.dramGbps, text: `DRAM ${sig(m.dramGbps, 3)} GB/s` }] },
      mark: { type: 'rule', stroke: '#1f2430', strokeDash: [5, 3], strokeWidth: 1, aria: false },
      encoding: { y },
    },
    {
      data: { values: [{ gbps: m.dramGbps, text: `DRAM ${sig(m.dramGbps, 3)} GB/s` }] },
      mark: { type: 'text', fontSize: 10, fill: '#1f2430', align: 'left', baseline: 'bottom', dy: -3, x: 4, aria: false },
      encoding: { y, text: { field: 'text' } },
    },
    { data: { values: rows }, mark: { type: 'line', strokeWidth: 1.8, aria: false }, encoding: { x, y, color } },
    {
      data: { values: rows },
      mark: { type: 'point', filled: true, size: 30, opacity: 1 },
      encoding: { x, y, color, description: { field: 'tip' } },
    },
  );
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 440,
    height: 220,
    config: CHART_CONFIG,
    layer: layers,
  } as TopLevelSpec;
  return attachTitles(await vegaLiteToSvg(spec, 'rb-sweep'), tips);
}
