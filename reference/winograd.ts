/**
 * Winograd minimal-filtering transforms F(m, r) by the Cook-Toom (Toom-Cook)
 * construction, in exact rational arithmetic; their exact verification; their
 * floating-point versions; and their numerical properties.
 *
 * F(m, r) computes m outputs of an r-tap correlation
 *     y_i = sum_{k<r} d_{i+k} g_k,   i in [0, m),   d of length alpha = m + r - 1,
 * with alpha element-wise multiplies:  y = AT [ (G g) ⊙ (BT d) ].
 * Nested, F(m x m, r x r) computes an m x m output tile from an alpha x alpha
 * input tile with alpha^2 multiplies:  Y = AT [ (G g GT) ⊙ (BT d B) ] A.
 *
 * Construction and conventions (those of Andrew Lavin's wincnn, the generator
 * behind Lavin & Gray 2016, with its default "fractions in G"):
 * - alpha interpolation points a_0..a_{alpha-1}, distinct, at most one of them
 *   the point at infinity "inf" (wincnn always puts inf last; here it may be
 *   anywhere, its row is wherever it is listed, and it may be omitted);
 * - AT (m x alpha): column i = (a_i^0, ..., a_i^{m-1}); the inf column is
 *   e_{m-1} (it picks the leading coefficient);
 * - G (alpha x r): row i = (a_i^0, ..., a_i^{r-1}) / s_i; the inf row is e_{r-1};
 * - BT (alpha x alpha): row i = (s_i / f_i) * coefficients (ascending powers)
 *   of  prod_{k != i, a_k finite} (x - a_k); the inf row is the coefficients of
 *   prod_{all finite a_k} (x - a_k);
 * - f_i = prod_{k != i, a_k finite} (a_i - a_k) for finite a_i, f_inf = 1, and
 *   the scale s_i = f_i except that s_0 = |f_0| (wincnn flips the sign of the
 *   first row when f_0 < 0). The Lagrange denominators f_i therefore sit in G,
 *   and BT, AT keep small (integer for integer points) entries.
 * For F(2,3) with points 0,1,-1,inf this gives wincnn's matrices; Lavin & Gray's
 * paper prints the same matrices with the inf row of BT and the inf column of
 * AT both negated (a scaling freedom that cancels) -- see docs/winograd.md.
 *
 * Float versions are dense row-major matrices (`DenseMatrix`), entries
 * correctly rounded from the exact rationals.
 *
 * Pure, payload-safe (no node: imports, no dependencies): it runs on the device.
 */
import { Rational, isInf, parsePoint, parsePointList, pointToString, type ProjectivePoint } from './rational.js';
import { makeRng } from './random.js';

export interface WinogradTransforms {
  m: number;
  r: number;
  /** m + r - 1: the input tile size and the number of multiplies (1D). */
  alpha: number;
  /** Canonical text of the points, in row order ("0", "1/2", "inf"). */
  points: string[];
  /** m x alpha, output transform. */
  AT: Rational[][];
  /** alpha x r, filter transform. */
  G: Rational[][];
  /** alpha x alpha, input (data) transform. */
  BT: Rational[][];
}

/**
 * Default point sets, keyed "F(m,r)". F(2,3), F(4,3), F(6,3) are the standard
 * (wincnn / Lavin & Gray) ones. F(8,3) adds the pair 3/4, -3/4 to F(6,3)'s
 * points: a symmetric pair (so kernels keep the even/odd sharing of +-a
 * columns) of dyadic points (so AT and BT stay exact in float32), and, among
 * the candidate pairs compared in docs/winograd.md, within 10% of the smallest
 * measured fp32 tile error (the often-quoted 4, -1/4 is ~20% worse and has
 * ~100x worse conditioned AT).
 */
export const DEFAULT_POINTS: Record<string, string[]> = {
  'F(2,3)': ['0', '1', '-1', 'inf'],
  'F(4,3)': ['0', '1', '-1', '2', '-2', 'inf'],
  'F(6,3)': ['0', '1', '-1', '2', '-2', '1/2', '-1/2', 'inf'],
  'F(8,3)': ['0', '1', '-1', '2', '-2', '1/2', '-1/2', '3/4', '-3/4', 'inf'],
};

/** The key of DEFAULT_POINTS for F(m, r). */
export function defaultPointsKey(m: number, r: number): string {
  return `F(${m},${r})`;
}

/** Largest alpha accepted (exact arithmetic and Vandermonde conditioning make bigger tiles pointless). */
export const MAX_ALPHA = 32;

/**
 * The Cook-Toom transforms for F(m, r) on the given points (an array of point
 * strings, or one comma-separated string such as "0,1,-1,2,-2,1/2,-1/2,inf").
 * Throws, naming the problem, for m or r not a positive integer, a point count
 * other than m + r - 1, an unparsable, duplicate point or more than one inf.
 */
export function cookToom(m: number, r: number, points: string[] | string): WinogradTransforms {
  if (!Number.isSafeInteger(m) || m < 1) throw new RangeError(`cookToom: m = ${String(m)} must be an integer >= 1`);
  if (!Number.isSafeInteger(r) || r < 1) throw new RangeError(`cookToom: r = ${String(r)} must be an integer >= 1`);
  const alpha = m + r - 1;
  const label = `F(${m},${r})`;
  if (alpha > MAX_ALPHA) {
    throw new RangeError(`cookToom ${label}: alpha = m + r - 1 = ${alpha} exceeds the supported maximum ${MAX_ALPHA}`);
  }
  let pts: ProjectivePoint[];
  try {
    pts = typeof points === 'string' ? parsePointList(points) : points.map((p) => parsePoint(String(p)));
  } catch (cause) {
    throw new SyntaxError(`cookToom ${label}: invalid point list ${JSON.stringify(points)}`, { cause });
  }
  if (pts.length !== alpha) {
    throw new RangeError(
      `cookToom ${label}: needs exactly alpha = m + r - 1 = ${alpha} points, got ${pts.length} ` +
        `(${pts.map(pointToString).join(',')}); e.g. ${exampleFor(alpha)}`,
    );
  }
  const infCount = pts.filter(isInf).length;
  if (infCount > 1) throw new RangeError(`cookToom ${label}: at most one point may be "inf", got ${infCount}`);
  for (let i = 0; i < alpha; i++) {
    for (let k = 0; k < i; k++) {
      const a = pts[i] as ProjectivePoint;
      const b = pts[k] as ProjectivePoint;
      if (!isInf(a) && !isInf(b) && a.equals(b)) {
        throw new RangeError(`cookToom ${label}: points must be distinct, but #${k + 1} and #${i + 1} are both ${a.toString()}`);
      }
    }
  }

  const finite: Rational[] = pts.filter((p): p is Rational => !isInf(p));
  const AT: Rational[][] = Array.from({ length: m }, () => new Array<Rational>(alpha).fill(Rational.ZERO));
  const G: Rational[][] = [];
  const BT: Rational[][] = [];

  for (let i = 0; i < alpha; i++) {
    const p = pts[i] as ProjectivePoint;
    if (isInf(p)) {
      (AT[m - 1] as Rational[])[i] = Rational.ONE;
      G.push(unitRow(r, r - 1));
      BT.push(padTo(polyFromRoots(finite), alpha));
      continue;
    }
    const others = finite.filter((q) => !q.equals(p));
    let f = Rational.ONE;
    for (const q of others) f = f.mul(p.sub(q));
    const s = i === 0 ? f.abs() : f;
    for (let j = 0; j < m; j++) (AT[j] as Rational[])[i] = p.pow(j);
    G.push(Array.from({ length: r }, (_, j) => p.pow(j).div(s)));
    const scale = s.div(f); // +1, or -1 for a flipped first row
    BT.push(padTo(polyFromRoots(others), alpha).map((c) => c.mul(scale)));
  }
  return { m, r, alpha, points: pts.map(pointToString), AT, G, BT };
}

/** cookToom with DEFAULT_POINTS; throws listing the available defaults. */
export function defaultTransforms(m: number, r: number): WinogradTransforms {
  const pts = DEFAULT_POINTS[defaultPointsKey(m, r)];
  if (!pts) {
    throw new RangeError(
      `defaultTransforms: no default points for F(${m},${r}) (have ${Object.keys(DEFAULT_POINTS).join(', ')}); ` +
        `call cookToom(m, r, "0,1,-1,...") with ${m + r - 1} points`,
    );
  }
  return cookToom(m, r, pts);
}

function exampleFor(alpha: number): string {
  const seq = ['0', '1', '-1', '2', '-2', '1/2', '-1/2', '3/4', '-3/4', '4', '-1/4', '3', '-1/3'];
  if (alpha - 1 <= seq.length) return `"${[...seq.slice(0, alpha - 1), 'inf'].join(',')}"`;
  return `${alpha - 1} distinct finite points and "inf"`;
}

function unitRow(n: number, at: number): Rational[] {
  return Array.from({ length: n }, (_, j) => (j === at ? Rational.ONE : Rational.ZERO));
}

function padTo(v: Rational[], n: number): Rational[] {
  const out = v.slice();
  while (out.length < n) out.push(Rational.ZERO);
  return out;
}

/** Ascending coefficients of prod (x - root). */
function polyFromRoots(roots: Rational[]): Rational[] {
  let c: Rational[] = [Rational.ONE];
  for (const root of roots) {
    const next = new Array<Rational>(c.length + 1).fill(Rational.ZERO);
    for (let j = 0; j < c.length; j++) {
      const cj = c[j] as Rational;
      next[j + 1] = (next[j + 1] as Rational).add(cj);
      next[j] = (next[j] as Rational).sub(cj.mul(root));
    }
    c = next;
  }
  return c;
}

// ---------------------------------------------------------------------------
// Exact verification

function at<T>(rows: T[][], i: number, j: number): T {
  const row = rows[i];
  if (row === undefined || j < 0 || j >= row.length) throw new RangeError(`index (${i}, ${j}) out of range`);
  return row[j] as T;
}

function checkShape(t: WinogradTransforms, where: string): void {
  const { m, r, alpha } = t;
  const want: [string, Rational[][], number, number][] = [
    ['AT', t.AT, m, alpha],
    ['G', t.G, alpha, r],
    ['BT', t.BT, alpha, alpha],
  ];
  if (alpha !== m + r - 1) throw new RangeError(`${where}: alpha = ${alpha} but m + r - 1 = ${m + r - 1}`);
  for (const [name, mat, rows, cols] of want) {
    if (mat.length !== rows || mat.some((row) => row.length !== cols)) {
      throw new RangeError(
        `${where}: ${name} must be ${rows} x ${cols} for F(${m},${r}), got ${mat.length} x ` + `[${mat.map((row) => row.length).join(',')}]`,
      );
    }
  }
}

function describe(t: WinogradTransforms): string {
  return `F(${t.m},${t.r}) [${t.points.join(',')}]`;
}

function fmtVec(v: Rational[]): string {
  return `[${v.map((x) => x.toString()).join(', ')}]`;
}

function matVec(M: Rational[][], v: Rational[]): Rational[] {
  return M.map((row) => row.reduce((acc, x, j) => acc.add(x.mul(v[j] as Rational)), Rational.ZERO));
}

function matMul(A: Rational[][], B: Rational[][]): Rational[][] {
  const inner = B.length;
  const cols = B[0]?.length ?? 0;
  return A.map((row) =>
    Array.from({ length: cols }, (_, j) => {
      let acc = Rational.ZERO;
      for (let k = 0; k < inner; k++) acc = acc.add((row[k] as Rational).mul(at(B, k, j)));
      return acc;
    }),
  );
}

function transpose<T>(A: T[][]): T[][] {
  const cols = A[0]?.length ?? 0;
  return Array.from({ length: cols }, (_, j) => A.map((row) => row[j] as T));
}

/** Exact 1D Winograd: AT [ (G g) ⊙ (BT d) ]. */
export function applyExact1D(t: WinogradTransforms, d: Rational[], g: Rational[]): Rational[] {
  if (d.length !== t.alpha || g.length !== t.r) {
    throw new RangeError(`applyExact1D ${describe(t)}: d needs ${t.alpha} and g ${t.r} entries, got ${d.length}, ${g.length}`);
  }
  const u = matVec(t.G, g);
  const v = matVec(t.BT, d);
  return matVec(
    t.AT,
    u.map((x, k) => x.mul(v[k] as Rational)),
  );
}

/** Exact 2D Winograd: AT [ (G g GT) ⊙ (BT d B) ] A, d alpha x alpha, g r x r. */
export function applyExact2D(t: WinogradTransforms, d: Rational[][], g: Rational[][]): Rational[][] {
  const U = matMul(matMul(t.G, g), transpose(t.G));
  const V = matMul(matMul(t.BT, d), transpose(t.BT));
  const M = U.map((row, i) => row.map((x, j) => x.mul(at(V, i, j))));
  return matMul(matMul(t.AT, M), transpose(t.AT));
}

function directExact1D(d: Rational[], g: Rational[], m: number): Rational[] {
  return Array.from({ length: m }, (_, i) => g.reduce((acc, gk, k) => acc.add((d[i + k] as Rational).mul(gk)), Rational.ZERO));
}

function directExact2D(d: Rational[][], g: Rational[][], m: number): Rational[][] {
  return Array.from({ length: m }, (_, i) =>
    Array.from({ length: m }, (_, j) => {
      let acc = Rational.ZERO;
      g.forEach((grow, u) => grow.forEach((guv, v) => (acc = acc.add(at(d, i + u, j + v).mul(guv)))));
      return acc;
    }),
  );
}

/**
 * Exact verification in rational arithmetic. Runs three checks and, if any
 * fails, throws one Error naming, for each failing check, the first
 * mismatching entry with the inputs that exposed it:
 * 1. basis proof: for all alpha * r basis pairs (d = e_p, g = e_q),
 *    sum_k AT[i][k] G[k][q] BT[k][p] must be [p == i + q]. The map
 *    (d, g) -> y is bilinear, so this alone proves y = correlation for every
 *    d and g (it is what makes the result independent of the random draws);
 * 2. `trials` random small-integer pairs (d, g), entries in [-9, 9], drawn
 *    from makeRng(seed), against the direct correlation y_i = sum_k d_{i+k} g_k;
 * 3. if trials > 0, the nested 2D form on one random integer tile:
 *    Y = AT [(G g GT) ⊙ (BT d B)] A against Y_ij = sum_uv d_{i+u, j+v} g_uv.
 */
export function verifyExact(t: WinogradTransforms, trials = 8, seed = 1): void {
  const where = `verifyExact ${describe(t)}`;
  checkShape(t, where);
  if (!Number.isSafeInteger(trials) || trials < 0) throw new RangeError(`${where}: trials = ${trials} must be an integer >= 0`);
  const { m, r, alpha } = t;
  const problems: string[] = [];

  basis: for (let p = 0; p < alpha; p++) {
    for (let q = 0; q < r; q++) {
      for (let i = 0; i < m; i++) {
        let y = Rational.ZERO;
        for (let k = 0; k < alpha; k++)
          y = y.add(
            at(t.AT, i, k)
              .mul(at(t.G, k, q))
              .mul(at(t.BT, k, p)),
          );
        const want = p === i + q ? Rational.ONE : Rational.ZERO;
        if (!y.equals(want)) {
          problems.push(`basis check: for d = e_${p}, g = e_${q} the transform gives y[${i}] = ${y.toString()}, ` + `correlation gives ${want.toString()}`);
          break basis;
        }
      }
    }
  }

  const rng = makeRng(seed);
  const smallInt = (): Rational => Rational.of(Math.floor(rng.next() * 19) - 9);
  trialLoop: for (let trial = 0; trial < trials; trial++) {
    const d = Array.from({ length: alpha }, smallInt);
    const g = Array.from({ length: r }, smallInt);
    const y = applyExact1D(t, d, g);
    const want = directExact1D(d, g, m);
    for (let i = 0; i < m; i++) {
      const yi = y[i] as Rational;
      const wi = want[i] as Rational;
      if (!yi.equals(wi)) {
        problems.push(
          `random trial ${trial + 1}/${trials} (seed ${seed}): y[${i}] = ${yi.toString()}, ` +
            `direct correlation gives ${wi.toString()}; d = ${fmtVec(d)}, g = ${fmtVec(g)}`,
        );
        break trialLoop;
      }
    }
  }

  if (trials > 0) {
    const d2 = Array.from({ length: alpha }, () => Array.from({ length: alpha }, smallInt));
    const g2 = Array.from({ length: r }, () => Array.from({ length: r }, smallInt));
    const Y = applyExact2D(t, d2, g2);
    const W = directExact2D(d2, g2, m);
    tile: for (let i = 0; i < m; i++) {
      for (let j = 0; j < m; j++) {
        if (!at(Y, i, j).equals(at(W, i, j))) {
          problems.push(
            `2D tile check (seed ${seed}): Y[${i}][${j}] = ${at(Y, i, j).toString()}, ` +
              `direct 2D correlation gives ${at(W, i, j).toString()}; d = [${d2.map(fmtVec).join(', ')}], ` +
              `g = [${g2.map(fmtVec).join(', ')}]`,
          );
          break tile;
        }
      }
    }
  }

  if (problems.length > 0) {
    throw new Error(`${where}: the transforms do not compute F(${m},${r}):\n  ${problems.join('\n  ')}`);
  }
}

/**
 * A copy of t with entry (i, j) of one matrix increased by `delta` (a rational
 * string). Used to check that a corrupted transform is caught.
 */
export function perturb(t: WinogradTransforms, which: 'AT' | 'G' | 'BT', i: number, j: number, delta: string): WinogradTransforms {
  const dq = Rational.parse(delta);
  if (dq.isZero()) throw new RangeError(`perturb ${describe(t)}: delta "${delta}" is zero, nothing would change`);
  const copy: WinogradTransforms = {
    m: t.m,
    r: t.r,
    alpha: t.alpha,
    points: t.points.slice(),
    AT: t.AT.map((row) => row.slice()),
    G: t.G.map((row) => row.slice()),
    BT: t.BT.map((row) => row.slice()),
  };
  const mat = copy[which];
  const row = mat[i];
  if (!Number.isInteger(i) || !Number.isInteger(j) || row === undefined || j < 0 || j >= row.length) {
    throw new RangeError(`perturb ${describe(t)}: (${i}, ${j}) is outside ${which} (${mat.length} x ${mat[0]?.length ?? 0})`);
  }
  row[j] = (row[j] as Rational).add(dq);
  return copy;
}

// ---------------------------------------------------------------------------
// Floating-point versions

/** A dense row-major matrix: entry (i, j) is data[i * cols + j]. */
export interface DenseMatrix<T extends Float32Array | Float64Array = Float64Array> {
  rows: number;
  cols: number;
  data: T;
}

/** The transforms as dense row-major float matrices (same shapes as the exact ones). */
export interface WinogradFloat<T extends Float32Array | Float64Array = Float64Array> {
  m: number;
  r: number;
  alpha: number;
  points: string[];
  AT: DenseMatrix<T>;
  G: DenseMatrix<T>;
  BT: DenseMatrix<T>;
}

function denseF64(M: Rational[][]): DenseMatrix<Float64Array> {
  const rows = M.length;
  const cols = M[0]?.length ?? 0;
  const data = new Float64Array(rows * cols);
  M.forEach((row, i) => row.forEach((x, j) => (data[i * cols + j] = x.toNumber())));
  return { rows, cols, data };
}

function denseF32(M: Rational[][]): DenseMatrix<Float32Array> {
  const rows = M.length;
  const cols = M[0]?.length ?? 0;
  const data = new Float32Array(rows * cols);
  M.forEach((row, i) => row.forEach((x, j) => (data[i * cols + j] = x.toFloat32())));
  return { rows, cols, data };
}

/** The transforms in float64, each entry correctly rounded from the exact value. */
export function toF64(t: WinogradTransforms): WinogradFloat<Float64Array> {
  checkShape(t, `toF64 ${describe(t)}`);
  return { m: t.m, r: t.r, alpha: t.alpha, points: t.points.slice(), AT: denseF64(t.AT), G: denseF64(t.G), BT: denseF64(t.BT) };
}

/**
 * The transforms in float32, each entry correctly rounded (ties to even)
 * directly from the exact rational (no double rounding through float64).
 */
export function toF32(t: WinogradTransforms): WinogradFloat<Float32Array> {
  checkShape(t, `toF32 ${describe(t)}`);
  return { m: t.m, r: t.r, alpha: t.alpha, points: t.points.slice(), AT: denseF32(t.AT), G: denseF32(t.G), BT: denseF32(t.BT) };
}

/** Rounding applied after every float operation: identity for f64, Math.fround to emulate f32. */
export type RoundFn = (x: number) => number;
const identity: RoundFn = (x) => x;

function get(M: DenseMatrix<Float32Array | Float64Array>, i: number, j: number): number {
  return M.data[i * M.cols + j] as number;
}

/**
 * out = L * X * R^T for row-major X (L.cols x R.cols), each product and sum
 * rounded by `round`; returns L.rows x R.rows.
 */
function sandwich(
  L: DenseMatrix<Float32Array | Float64Array>,
  X: Float64Array,
  xCols: number,
  R: DenseMatrix<Float32Array | Float64Array>,
  round: RoundFn,
): Float64Array {
  const tmp = new Float64Array(L.rows * xCols);
  for (let i = 0; i < L.rows; i++) {
    for (let j = 0; j < xCols; j++) {
      let acc = 0;
      for (let k = 0; k < L.cols; k++) acc = round(acc + round(get(L, i, k) * (X[k * xCols + j] as number)));
      tmp[i * xCols + j] = acc;
    }
  }
  const out = new Float64Array(L.rows * R.rows);
  for (let i = 0; i < L.rows; i++) {
    for (let j = 0; j < R.rows; j++) {
      let acc = 0;
      for (let k = 0; k < xCols; k++) acc = round(acc + round((tmp[i * xCols + k] as number) * get(R, j, k)));
      out[i * R.rows + j] = acc;
    }
  }
  return out;
}

/**
 * Float 1D Winograd y = AT [ (G g) ⊙ (BT d) ] (d: alpha, g: r values). With
 * `round = Math.fround` and float32 transforms every operation is IEEE float32
 * (a float64 op on float32 operands, rounded once to float32, is the float32 op).
 */
export function winograd1D(
  tf: WinogradFloat<Float32Array | Float64Array>,
  d: ArrayLike<number>,
  g: ArrayLike<number>,
  round: RoundFn = identity,
): Float64Array {
  if (d.length !== tf.alpha || g.length !== tf.r) {
    throw new RangeError(`winograd1D F(${tf.m},${tf.r}): d needs ${tf.alpha} and g ${tf.r} values, got ${d.length}, ${g.length}`);
  }
  const dm = Float64Array.from(d);
  const gm = Float64Array.from(g);
  const unit: DenseMatrix<Float64Array> = { rows: 1, cols: 1, data: Float64Array.of(1) };
  const u = sandwich(tf.G, gm, 1, unit, round);
  const v = sandwich(tf.BT, dm, 1, unit, round);
  const w = u.map((x, k) => round(x * (v[k] as number)));
  return sandwich(tf.AT, w, 1, unit, round);
}

/**
 * Float 2D Winograd Y = AT [ (G g GT) ⊙ (BT d B) ] A on one tile: d is
 * alpha x alpha and g r x r, row-major; returns m x m row-major.
 */
export function winograd2D(
  tf: WinogradFloat<Float32Array | Float64Array>,
  d: ArrayLike<number>,
  g: ArrayLike<number>,
  round: RoundFn = identity,
): Float64Array {
  const { alpha, r } = tf;
  if (d.length !== alpha * alpha || g.length !== r * r) {
    throw new RangeError(`winograd2D F(${tf.m}x${tf.m},${r}x${r}): d needs ${alpha * alpha} and g ${r * r} values, got ${d.length}, ${g.length}`);
  }
  const U = sandwich(tf.G, Float64Array.from(g), r, tf.G, round);
  const V = sandwich(tf.BT, Float64Array.from(d), alpha, tf.BT, round);
  const M = U.map((x, k) => round(x * (V[k] as number)));
  return sandwich(tf.AT, M, alpha, tf.AT, round);
}

/** Direct float64 1D correlation y_i = sum_k d_{i+k} g_k, i < m. */
export function correlate1D(d: ArrayLike<number>, g: ArrayLike<number>, m: number): Float64Array {
  if (d.length < m + g.length - 1) throw new RangeError(`correlate1D: d has ${d.length} < m + r - 1 = ${m + g.length - 1} values`);
  const y = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    let acc = 0;
    for (let k = 0; k < g.length; k++) acc += (d[i + k] as number) * (g[k] as number);
    y[i] = acc;
  }
  return y;
}

/** Direct float64 2D correlation of an alpha x alpha tile with an r x r filter (row-major); m x m result. */
export function correlate2D(d: ArrayLike<number>, g: ArrayLike<number>, m: number, r: number): Float64Array {
  const alpha = m + r - 1;
  if (d.length !== alpha * alpha || g.length !== r * r) {
    throw new RangeError(`correlate2D: d needs ${alpha * alpha} and g ${r * r} values, got ${d.length}, ${g.length}`);
  }
  const y = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      let acc = 0;
      for (let u = 0; u < r; u++) {
        for (let v = 0; v < r; v++) acc += (d[(i + u) * alpha + j + v] as number) * (g[u * r + v] as number);
      }
      y[i * m + j] = acc;
    }
  }
  return y;
}

/**
 * Measured relative L2 error ||Y - ref|| / ||ref|| of the 2D tile transform over
 * `trials` random tiles (d and g uniform in [-1, 1), rounded to float32, from
 * makeRng(seed)); ref is the float64 direct correlation. precision 'f32' uses
 * float32 transforms and float32 arithmetic throughout; 'f64' float64.
 * Deterministic (only + and * are used).
 */
export function tileError(t: WinogradTransforms, precision: 'f32' | 'f64', trials = 200, seed = 1): number {
  const tf = precision === 'f32' ? toF32(t) : toF64(t);
  const round: RoundFn = precision === 'f32' ? Math.fround : identity;
  const rng = makeRng(seed);
  const { alpha, r, m } = t;
  let errSq = 0;
  let refSq = 0;
  for (let trial = 0; trial < trials; trial++) {
    const d = Float64Array.from({ length: alpha * alpha }, () => Math.fround(rng.next() * 2 - 1));
    const g = Float64Array.from({ length: r * r }, () => Math.fround(rng.next() * 2 - 1));
    const y = winograd2D(tf, d, g, round);
    const ref = correlate2D(d, g, m, r);
    for (let k = 0; k < ref.length; k++) {
      const e = (y[k] as number) - (ref[k] as number);
      errSq += e * e;
      refSq += (ref[k] as number) ** 2;
    }
  }
  return Math.sqrt(errSq) / Math.sqrt(refSq);
}

// ---------------------------------------------------------------------------
// Numerical properties

/**
 * Singular values (descending) of a rows x cols float64 matrix by one-sided
 * Jacobi (Hestenes) on the columns of M (or of M^T when cols > rows): accurate
 * to a few ulp relative to sigma_max, without forming M M^T.
 */
export function singularValues(M: DenseMatrix<Float32Array | Float64Array>): number[] {
  const tall = M.rows >= M.cols;
  const n = tall ? M.rows : M.cols; // column length
  const k = tall ? M.cols : M.rows; // number of columns
  // cols[c] = column c of the working matrix
  const cols: Float64Array[] = Array.from({ length: k }, (_, c) => Float64Array.from({ length: n }, (_, i) => (tall ? get(M, i, c) : get(M, c, i))));
  const eps = 1e-15;
  for (let sweep = 0; sweep < 100; sweep++) {
    let rotated = false;
    for (let p = 0; p < k - 1; p++) {
      for (let q = p + 1; q < k; q++) {
        const cp = cols[p] as Float64Array;
        const cq = cols[q] as Float64Array;
        let a = 0;
        let b = 0;
        let c = 0;
        for (let i = 0; i < n; i++) {
          const x = cp[i] as number;
          const y = cq[i] as number;
          a += x * x;
          b += y * y;
          c += x * y;
        }
        if (c === 0 || Math.abs(c) <= eps * Math.sqrt(a * b)) continue;
        rotated = true;
        const zeta = (b - a) / (2 * c);
        const tr = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const cs = 1 / Math.sqrt(1 + tr * tr);
        const sn = cs * tr;
        for (let i = 0; i < n; i++) {
          const x = cp[i] as number;
          const y = cq[i] as number;
          cp[i] = cs * x - sn * y;
          cq[i] = sn * x + cs * y;
        }
      }
    }
    if (!rotated) break;
  }
  return cols.map((c) => Math.sqrt(c.reduce((s, x) => s + x * x, 0))).sort((x, y) => y - x);
}

/** 2-norm condition number sigma_max / sigma_min (Infinity if rank-deficient). */
export function conditionNumber(M: DenseMatrix<Float32Array | Float64Array>): number {
  const s = singularValues(M);
  const max = s[0] ?? 0;
  const min = s[s.length - 1] ?? 0;
  return min === 0 ? Infinity : max / min;
}

export interface TransformStats {
  m: number;
  r: number;
  alpha: number;
  /** alpha / m: element-wise multiplies per output, 1D. */
  multsPerOutput1D: number;
  /** r: multiplies per output of direct 1D correlation. */
  directMults1D: number;
  /** alpha^2 / m^2: element-wise multiplies per output, 2D tile. */
  multsPerOutput2D: number;
  /** r * r: multiplies per output of direct 2D correlation. */
  directMults2D: number;
  /** directMults2D / multsPerOutput2D: the arithmetic reduction of the multiply stage. */
  mulReduction2D: number;
  /** 2-norm condition numbers sigma_max / sigma_min of the float64 matrices (AT, G are rectangular). */
  conditionNumbers: { AT: number; G: number; BT: number };
  /** Largest |entry| of each matrix (exact value, converted). */
  maxAbsEntry: { AT: number; G: number; BT: number };
}

function maxAbs(M: Rational[][]): number {
  let best = Rational.ZERO;
  for (const row of M) for (const x of row) if (x.abs().compare(best) > 0) best = x.abs();
  return best.toNumber();
}

/** Operation counts and numerical properties of a transform. */
export function transformStats(t: WinogradTransforms): TransformStats {
  const f = toF64(t);
  const { m, r, alpha } = t;
  const multsPerOutput2D = (alpha * alpha) / (m * m);
  return {
    m,
    r,
    alpha,
    multsPerOutput1D: alpha / m,
    directMults1D: r,
    multsPerOutput2D,
    directMults2D: r * r,
    mulReduction2D: (r * r) / multsPerOutput2D,
    conditionNumbers: { AT: conditionNumber(f.AT), G: conditionNumber(f.G), BT: conditionNumber(f.BT) },
    maxAbsEntry: { AT: maxAbs(t.AT), G: maxAbs(t.G), BT: maxAbs(t.BT) },
  };
}

function sig(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return String(x);
  if (Number.isInteger(x) && Math.abs(x) < 1e6) return String(x);
  if (x !== 0 && (Math.abs(x) < 1e-3 || Math.abs(x) >= 1e6)) return x.toExponential(digits - 1);
  return String(Number(x.toPrecision(digits)));
}

/** Tiles used for the fp32 error column of `statsMarkdownTable` (enough for ~3% run-to-run spread). */
export const TABLE_ERROR_TRIALS = 1000;

/**
 * A markdown table of transformStats and the measured fp32 2D tile error
 * (`tileError(t, 'f32', TABLE_ERROR_TRIALS, 1)`) for the given transforms;
 * docs/winograd.md embeds its output (a test keeps the two in sync).
 */
export function statsMarkdownTable(ts: WinogradTransforms[]): string {
  const head = '| tile | points | mults/output 2D | direct 2D | reduction | cond(AT) | cond(G) | cond(BT) | max abs AT / G / BT | fp32 rel. L2 error |';
  const rule = '|---|---|---|---|---|---|---|---|---|---|';
  const rows = ts.map((t) => {
    const s = transformStats(t);
    return (
      `| F(${t.m}x${t.m},${t.r}x${t.r}) | ${t.points.join(', ')} | ${sig(s.multsPerOutput2D)} | ${s.directMults2D} | ` +
      `${sig(s.mulReduction2D)}x | ${sig(s.conditionNumbers.AT)} | ${sig(s.conditionNumbers.G)} | ` +
      `${sig(s.conditionNumbers.BT)} | ${sig(s.maxAbsEntry.AT)} / ${sig(s.maxAbsEntry.G)} / ${sig(s.maxAbsEntry.BT)} | ` +
      `${sig(tileError(t, 'f32', TABLE_ERROR_TRIALS, 1))} |`
    );
  });
  return [head, rule, ...rows].join('\n');
}
