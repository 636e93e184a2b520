/**
 * One colour per variant, the same in every report and on the dashboard: it
 * depends on the variant's name (and algorithm) only, never on which variants a
 * run happens to hold or in which order. The algorithm family sets the hue;
 * the tile size sets the tone (small tiles light, large tiles dark), so
 * Winograd F(2x2) .. F(8x8) and FFT 8x8 / 16x16 read as one family each.
 */

/** Hue (degrees) and saturation (%) of the known algorithm families. */
const FAMILIES: Record<string, { hue: number; sat: number; light: number }> = {
  direct: { hue: 220, sat: 6, light: 52 }, // grey: the plain loop, the accuracy anchor
  'im2col-gemm': { hue: 212, sat: 48, light: 46 }, // blue: the speed baseline
  depthwise: { hue: 120, sat: 42, light: 40 }, // green
  winograd: { hue: 28, sat: 88, light: 50 }, // orange, by tile
  fft: { hue: 275, sat: 45, light: 52 }, // purple, by tile
  onnxruntime: { hue: 355, sat: 70, light: 48 }, // red: the library peer
  // The WebAssembly peers (--peers): reds and pinks, lighter than the native peer's, apart from each other.
  'onnxruntime-web': { hue: 8, sat: 75, light: 66 },
  'tfjs-xnnpack': { hue: 325, sat: 60, light: 52 },
  // Low precision: a hue next to its fp32 family's, int8 darker and more saturated, fp16 storage lighter.
  'im2col-gemm-int8': { hue: 192, sat: 70, light: 36 },
  'im2col-gemm-relaxed-int8': { hue: 200, sat: 80, light: 28 },
  'im2col-gemm-fp16': { hue: 212, sat: 55, light: 66 },
  'depthwise-int8': { hue: 150, sat: 60, light: 30 },
  'depthwise-fp16': { hue: 110, sat: 45, light: 62 },
  'winograd-int8': { hue: 40, sat: 95, light: 36 },
};

/** Hues for algorithms not listed above, away from the families' own. */
const SPARE_HUES = [175, 50, 320, 95, 245, 5, 145, 300];

/** FNV-1a 32-bit of a string (stable across runs and machines). */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** The family of a variant: its algorithm when known, else guessed from the name. */
function familyOf(variant: string, algorithm: string | undefined): string {
  if (algorithm && algorithm in FAMILIES) return algorithm;
  for (const f of Object.keys(FAMILIES)) if (variant.includes(f)) return f;
  return algorithm ?? variant;
}

/** The tile size a name states (Winograd -f4x4-, FFT -t16-), or undefined. */
export function tileSize(variant: string): number | undefined {
  const m = /-f(\d+)x\d+-/.exec(variant) ?? /-t(\d+)-/.exec(variant);
  return m?.[1] !== undefined ? Number(m[1]) : undefined;
}

function hslToHex(h: number, s: number, l: number): string {
  const sat = s / 100;
  const lig = l / 100;
  const k = (n: number) => (n + h / 30) % 12;
  const a = sat * Math.min(lig, 1 - lig);
  const f = (n: number) => lig - a * Math.max(-1, Math.min(k(n) - 3, Math.min(9 - k(n), 1)));
  return `#${[f(0), f(8), f(4)]
    .map((x) =>
      Math.round(x * 255)
        .toString(16)
        .padStart(2, '0'),
    )
    .join('')}`;
}

/** The colour of `variant` (hex, e.g. "#e8710a"). */
export function variantColour(variant: string, algorithm?: string): string {
  const family = familyOf(variant, algorithm);
  const known = FAMILIES[family];
  const base = known ?? { hue: SPARE_HUES[hash(family) % SPARE_HUES.length] ?? 175, sat: 50, light: 45 };
  let light = base.light;
  const tile = tileSize(variant);
  if (tile !== undefined && tile > 0) {
    // Tone by tile, lighter for small tiles: Winograd F(2), F(4), F(6), F(8) 12 points apart; FFT 8, 16, 32 16 apart.
    const step = family === 'winograd' ? (tile - 2) / 2 : family === 'fft' ? Math.log2(tile / 8) : Math.log2(tile / 2);
    light = base.light + 16 - step * (family === 'fft' ? 16 : 12);
  } else if (!known) {
    // Unknown variants of one algorithm: tones from the name, so they differ but stay stable.
    light = base.light + ((hash(variant) % 5) - 2) * 6;
  }
  // A result on N threads (<name>@t<N>): the variant's hue, darker per doubling of the threads, so the
  // counts of one variant read apart in a legend (conv-im2col-gemm-f32 and conv-im2col-gemm-f32@t2 were one blue).
  const at = /@t(\d+)$/.exec(variant);
  if (at) light -= 10 * Math.log2(Math.max(1, Number(at[1])));
  return hslToHex(base.hue, base.sat, Math.max(at ? 18 : 24, Math.min(74, light)));
}

/** Variant -> colour for every result of a run (for the tables and charts). */
export function variantColours(results: readonly { variant: string; algorithm: string }[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const r of results) if (!out.has(r.variant)) out.set(r.variant, variantColour(r.variant, r.algorithm));
  return out;
}
