/**
 * The conv suite's accuracy decision (suites/kit.ts DecisionRoles): its references (suites/conv/baselines.ts),
 * their labels, the section's wording, and what the report needs to know of the fast algorithms' tiles
 * (Winograd F(m x m, 3x3), FFT t x t) to order, label and count them. Payload-safe.
 */
import type { DecisionRoles } from '../kit.js';
import { ANCHOR_VARIANT, FAST_ALGORITHMS, PEER_VARIANT, SPEED_BASELINE_VARIANT } from './baselines.js';

/** The tile of a Winograd or FFT result: its stored label, else the one its name states (-f4x4-, -t16-). */
function tile(r: { variant: string; algorithm: string; info?: Readonly<Record<string, number | string>> }): { label: string; size: number } | undefined {
  const stored = r.info?.['tile'];
  const given = typeof stored === 'string' && stored !== '' ? stored : typeof stored === 'number' ? String(stored) : undefined;
  if (r.algorithm === 'winograd') {
    const m = /F\((\d+)/.exec(given ?? '') ?? /-f(\d+)x\d+/.exec(r.variant);
    const size = m?.[1] !== undefined ? Number(m[1]) : Infinity;
    return { label: given ?? (Number.isFinite(size) ? `F(${size}x${size},3x3)` : ''), size };
  }
  if (r.algorithm === 'fft') {
    const m = /^(\d+)/.exec(given ?? '') ?? /-t(\d+)/.exec(r.variant);
    const size = m?.[1] !== undefined ? Number(m[1]) : Infinity;
    return { label: given ?? (Number.isFinite(size) ? `${size}x${size}` : ''), size };
  }
  return given !== undefined ? { label: given, size: Infinity } : undefined;
}

export const convDecision: DecisionRoles = {
  anchor: ANCHOR_VARIANT,
  speedBaseline: SPEED_BASELINE_VARIANT,
  peer: PEER_VARIANT,
  fastAlgorithms: FAST_ALGORITHMS,
  labels: { [ANCHOR_VARIANT]: 'fp32 direct', [SPEED_BASELINE_VARIANT]: 'im2col', [PEER_VARIANT]: 'ONNX Runtime' },
  title: 'fast convolution algorithms',
  question: 'Is a Winograd tile size or an FFT path accurate enough to adopt on these layer shapes, and what does it buy?',
  tile,
  chartLabel(algorithm, t) {
    if (algorithm === 'winograd' && t) return t.replace(/,\s*3x3\)$/, ')');
    if (algorithm === 'fft' && t) return `FFT ${t}`;
    return undefined;
  },
  // Winograd F(m x m, r x r) does alpha^2 / m^2 multiplies per output (alpha = m + r - 1), whatever its points.
  multsPerOutput: (algorithm, m, shape) =>
    algorithm === 'winograd' && shape.r === shape.s && Number.isFinite(m) && m > 0 ? (m + shape.r - 1) ** 2 / m ** 2 : undefined,
};
