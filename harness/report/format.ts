/**
 * Number and text formatting for the HTML report (pure). Every function returns
 * plain text; escaping is left to the template engine (autoescape) or, inside
 * SVG, to escapeXml.
 */

/** What a missing or non-finite value prints as. */
export const DASH = '—';

function finite(x: number | null | undefined): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

/** How a value that is not a finite number prints: ∞, −∞, NaN, or a dash when missing. */
function nonFinite(x: number | null | undefined): string {
  if (typeof x !== 'number') return DASH;
  if (Number.isNaN(x)) return 'NaN';
  return x > 0 ? '∞' : '−∞';
}

/** `digits` significant digits, no exponent for ordinary magnitudes, trailing zeros kept off. */
export function sig(x: number | null | undefined, digits = 3): string {
  if (!finite(x)) return nonFinite(x);
  if (x === 0) return '0';
  const ax = Math.abs(x);
  if (ax >= 1e-3 && ax < 1e7) {
    const decimals = Math.max(0, digits - 1 - Math.floor(Math.log10(ax)));
    return x.toFixed(Math.min(decimals, 12));
  }
  return sci(x, digits - 1);
}

/** Scientific notation, e.g. 1.2e-7 (used for errors, which span many decades). */
export function sci(x: number | null | undefined, decimals = 1): string {
  if (!finite(x)) return nonFinite(x);
  if (x === 0) return '0';
  return x.toExponential(decimals).replace('e+', 'e');
}

/** Fixed decimals. */
export function fixed(x: number | null | undefined, decimals: number): string {
  return finite(x) ? x.toFixed(decimals) : nonFinite(x);
}

/** A percentage given in percent units (0..100+): 1 decimal below 100, none above. */
export function pct(x: number | null | undefined): string {
  if (!finite(x)) return DASH;
  return `${Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(1)}%`;
}

/** A ratio 0..1 as a percentage. */
export function ratioPct(x: number | null | undefined): string {
  return finite(x) ? pct(x * 100) : DASH;
}

/** Milliseconds with 4 significant digits. */
export function ms(x: number | null | undefined): string {
  return sig(x, 4);
}

/** A duration in ms, in the unit that reads best (µs, ms, s). */
export function duration(msValue: number | null | undefined): string {
  if (!finite(msValue)) return DASH;
  const a = Math.abs(msValue);
  if (a < 1) return `${sig(msValue * 1e3, 3)} µs`;
  if (a < 1000) return `${sig(msValue, 3)} ms`;
  if (a < 120_000) return `${sig(msValue / 1e3, 3)} s`;
  const totalS = Math.round(msValue / 1e3);
  const h = Math.floor(totalS / 3600);
  const m = Math.floor((totalS % 3600) / 60);
  const s = totalS % 60;
  return h > 0 ? `${h} h ${m} min` : `${m} min ${s} s`;
}

/** Memory sizes (caches, RAM, working sets) in binary units. */
export function bytesBinary(b: number | null | undefined): string {
  if (!finite(b)) return DASH;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = b;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? String(v) : sig(v, 3)} ${units[i]}`;
}

/** Traffic by the counting rule, in decimal units (the design's "8.78 MB"). */
export function bytesDecimal(b: number | null | undefined): string {
  if (!finite(b)) return DASH;
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = b;
  let i = 0;
  while (Math.abs(v) >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? String(v) : sig(v, 3)} ${units[i]}`;
}

/** FLOP counts: 3.70 GFLOP, 437 MFLOP ... */
export function flopCount(f: number | null | undefined): string {
  if (!finite(f)) return DASH;
  const steps: [number, string][] = [
    [1e12, 'TFLOP'],
    [1e9, 'GFLOP'],
    [1e6, 'MFLOP'],
    [1e3, 'kFLOP'],
  ];
  for (const [scale, unit] of steps) {
    if (Math.abs(f) >= scale) return `${sig(f / scale, 3)} ${unit}`;
  }
  return `${sig(f, 3)} FLOP`;
}

/** Cosine similarity close to 1 reads better as its distance from 1. */
export function cosine(c: number | null | undefined): string {
  if (!finite(c)) return nonFinite(c);
  if (c === 1) return '1';
  const d = 1 - c;
  if (d > 0 && d < 1e-3) return `1−${sci(d, 1)}`;
  return c.toFixed(4);
}

/** An ISO timestamp as `YYYY-MM-DD HH:MM:SS UTC`; unparseable input is shown as given. */
export function timestamp(iso: string | null | undefined): string {
  if (!iso) return DASH;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** Elapsed time between two ISO timestamps, or null when either is missing or unparseable. */
export function elapsed(fromIso: string | null | undefined, toIso: string | null | undefined): string | null {
  if (!fromIso || !toIso) return null;
  const a = new Date(fromIso).getTime();
  const b = new Date(toIso).getTime();
  if (Number.isNaN(a) || Number.isNaN(b) || b < a) return null;
  return duration(b - a);
}

/** The `1-2-5` value at or above x (x > 0). */
export function niceUp(x: number): number {
  const e = Math.floor(Math.log10(x));
  for (const m of [1, 2, 5, 10]) {
    const v = m * 10 ** e;
    if (v >= x * (1 - 1e-12)) return v;
  }
  return 10 ** (e + 1);
}

/** The `1-2-5` value at or below x (x > 0). */
export function niceDown(x: number): number {
  const e = Math.floor(Math.log10(x));
  for (const m of [5, 2, 1]) {
    const v = m * 10 ** e;
    if (v <= x * (1 + 1e-12)) return v;
  }
  return 10 ** (e - 1);
}
