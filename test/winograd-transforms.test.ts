import { describe, expect, it } from 'vitest';
import { INF, Rational, parsePoint, parsePointList } from '../reference/rational.js';
import {
  DEFAULT_POINTS,
  applyExact1D,
  conditionNumber,
  cookToom,
  correlate1D,
  correlate2D,
  defaultTransforms,
  perturb,
  singularValues,
  tileError,
  toF32,
  toF64,
  transformStats,
  verifyExact,
  winograd1D,
  winograd2D,
  type WinogradTransforms,
} from '../reference/winograd.js';
import { makeRng } from '../reference/random.js';

const q = (s: string): Rational => Rational.parse(s);
const mat = (rows: (string | number)[][]): Rational[][] => rows.map((r) => r.map((x) => q(String(x))));
const text = (M: Rational[][]): string[][] => M.map((r) => r.map((x) => x.toString()));

const DEFAULT_TILES: [number, number][] = [
  [2, 3],
  [4, 3],
  [6, 3],
  [8, 3],
];

describe('Rational', () => {
  it('normalises sign and gcd', () => {
    const a = Rational.of(6, -4);
    expect(a.num).toBe(-3n);
    expect(a.den).toBe(2n);
    expect(Rational.of(0, -7).equals(Rational.ZERO)).toBe(true);
    expect(Rational.of(0, -7).den).toBe(1n);
    expect(Rational.of(-10n, -15n).toString()).toBe('2/3');
    expect(() => Rational.of(1, 0)).toThrow(/zero denominator/);
    expect(() => Rational.of(0.5)).toThrow(/not a safe integer/);
  });

  it('parses integers, fractions and decimals, and rejects junk', () => {
    expect(q('2').toString()).toBe('2');
    expect(q('-1/2').toString()).toBe('-1/2');
    expect(q('1/-2').toString()).toBe('-1/2');
    expect(q(' +4 / 6 ').toString()).toBe('2/3');
    expect(q('0.25').toString()).toBe('1/4');
    expect(q('-.5').toString()).toBe('-1/2');
    expect(q('0.1').toString()).toBe('1/10');
    expect(q('123456789012345678901234567890').num).toBe(123456789012345678901234567890n);
    for (const bad of ['', '1/0', 'abc', '1/2/3', '.', '1e3', '--1', '1.2.3']) {
      expect(() => Rational.parse(bad), bad).toThrow();
    }
  });

  it('does exact arithmetic', () => {
    expect(q('1/2').add(q('1/3')).toString()).toBe('5/6');
    expect(q('1/2').sub(q('1/3')).toString()).toBe('1/6');
    expect(q('-2/3').mul(q('9/4')).toString()).toBe('-3/2');
    expect(q('-2/3').div(q('-4/9')).toString()).toBe('3/2');
    expect(q('3/7').neg().toString()).toBe('-3/7');
    expect(q('-3/7').abs().toString()).toBe('3/7');
    expect(q('-3/7').inv().toString()).toBe('-7/3');
    expect(q('-2/3').pow(3).toString()).toBe('-8/27');
    expect(q('2/3').pow(-2).toString()).toBe('9/4');
    expect(Rational.ZERO.pow(0).toString()).toBe('1');
    expect(() => q('1').div(Rational.ZERO)).toThrow(/by zero/);
    expect(() => Rational.ZERO.inv()).toThrow(/zero/);
    expect(q('1/3').compare(q('1/2'))).toBe(-1);
    expect(q('-1/3').compare(q('-1/2'))).toBe(1);
    expect(q('2/4').compare(q('1/2'))).toBe(0);
    expect(q('2/4').equals(q('1/2'))).toBe(true);
    expect(q('-5').sign()).toBe(-1);
    expect(q('7/1').isInteger()).toBe(true);
    // (1/2 + 1/3 + ... + 1/20) * 20! is an integer; its exact value:
    let h = Rational.ZERO;
    for (let k = 1; k <= 20; k++) h = h.add(Rational.of(1, k));
    expect(h.toString()).toBe('55835135/15519504');
  });

  it('converts to float64 with correct rounding, for huge and tiny values too', () => {
    const rng = makeRng(42);
    for (let i = 0; i < 2000; i++) {
      const n = Math.floor((rng.next() - 0.5) * 2 ** 53);
      const d = 1 + Math.floor(rng.next() * 2 ** 53);
      // both exactly representable: JS division is the correctly rounded quotient
      expect(Rational.of(n, d).toNumber()).toBe(n / d);
    }
    // huge operands: Number(n)/Number(d) would be Infinity/Infinity = NaN
    const big = Rational.of(10n ** 400n + 1n, 10n ** 399n);
    expect(Number(big.num) / Number(big.den)).toBeNaN();
    expect(big.toNumber()).toBe(10);
    expect(Rational.of(10n ** 400n).toNumber()).toBe(Infinity);
    expect(Rational.of(-(10n ** 400n)).toNumber()).toBe(-Infinity);
    expect(Rational.of(1n, 10n ** 400n).toNumber()).toBe(0);
    // subnormals and ties-to-even at the bottom
    expect(Rational.of(1n, 2n ** 1074n).toNumber()).toBe(5e-324);
    expect(Rational.of(1n, 2n ** 1075n).toNumber()).toBe(0); // tie -> even (0)
    expect(Rational.of(3n, 2n ** 1076n).toNumber()).toBe(5e-324); // 0.75 ulp -> 1 ulp
    expect(Rational.of(3n, 2n ** 1075n).toNumber()).toBe(1e-323); // 1.5 ulp -> tie -> 2 ulp
    // every finite double round-trips exactly through fromNumber
    for (let i = 0; i < 2000; i++) {
      const bits = new DataView(new ArrayBuffer(8));
      bits.setUint32(0, Math.floor(rng.next() * 2 ** 32));
      bits.setUint32(4, Math.floor(rng.next() * 2 ** 32));
      const x = bits.getFloat64(0);
      if (!Number.isFinite(x)) continue;
      expect(Rational.fromNumber(x).toNumber()).toBe(x === 0 ? 0 : x);
    }
    expect(Rational.fromNumber(0.1).toString()).toBe('3602879701896397/36028797018963968');
    expect(Rational.fromNumber(5e-324).den).toBe(2n ** 1074n);
  });

  it('converts to float32 with correct rounding (no double rounding)', () => {
    // v = 1 + 2^-24 + 2^-80 is just above the float32 midpoint between 1 and 1 + 2^-23.
    // Through float64 it becomes exactly the midpoint, which ties to even (1): wrong.
    const v = Rational.of(2n ** 80n + 2n ** 56n + 1n, 2n ** 80n);
    expect(Math.fround(v.toNumber())).toBe(1);
    expect(v.toFloat32()).toBe(1 + 2 ** -23);
    expect(q('1/3').toFloat32()).toBe(Math.fround(1 / 3));
    expect(Rational.of(1n, 2n ** 149n).toFloat32()).toBe(2 ** -149);
    expect(Rational.of(1n, 2n ** 150n).toFloat32()).toBe(0);
    const f32max = (2 - 2 ** -23) * 2 ** 127;
    expect(Rational.fromNumber(f32max).toFloat32()).toBe(f32max);
    expect(Rational.of(2n ** 128n - 2n ** 103n).toFloat32()).toBe(Infinity); // tie rounds to 2^128
    expect(Rational.of(-(2n ** 128n) + 2n ** 103n + 1n).toFloat32()).toBe(-f32max);
    const rng = makeRng(3);
    for (let i = 0; i < 2000; i++) {
      const n = Math.floor((rng.next() - 0.5) * 2 ** 20);
      const d = 1 + Math.floor(rng.next() * 2 ** 20);
      // n/d in float64 has 53 bits > 2*24+2, so fround(n/d) is the correctly rounded float32
      expect(Rational.of(n, d).toFloat32()).toBe(Math.fround(n / d));
    }
  });

  it('parses point lists with the point at infinity', () => {
    const pts = parsePointList('0, 1,-1,2,-2,1/2,-1/2,inf');
    expect(pts.map((p) => (p === INF ? 'inf' : p.toString()))).toEqual(['0', '1', '-1', '2', '-2', '1/2', '-1/2', 'inf']);
    expect(parsePoint('Infinity')).toBe(INF);
    expect(parsePoint('∞')).toBe(INF);
    expect(() => parsePointList('0,,1')).toThrow(/empty entry #2/);
    expect(() => parsePointList('0,1,x')).toThrow(/entry #3 "x"/);
    expect(() => parsePointList('  ')).toThrow(/empty point list/);
  });
});

describe('cookToom', () => {
  it("gives wincnn's F(2,3) matrices for 0,1,-1,inf", () => {
    const t = cookToom(2, 3, '0,1,-1,inf');
    expect(t.alpha).toBe(4);
    expect(t.points).toEqual(['0', '1', '-1', 'inf']);
    expect(text(t.BT)).toEqual(
      text(
        mat([
          [1, 0, -1, 0],
          [0, 1, 1, 0],
          [0, -1, 1, 0],
          [0, -1, 0, 1],
        ]),
      ),
    );
    expect(text(t.G)).toEqual(
      text(
        mat([
          [1, 0, 0],
          ['1/2', '1/2', '1/2'],
          ['1/2', '-1/2', '1/2'],
          [0, 0, 1],
        ]),
      ),
    );
    expect(text(t.AT)).toEqual(
      text(
        mat([
          [1, 1, 1, 0],
          [0, 1, -1, 1],
        ]),
      ),
    );
  });

  it("equals Lavin & Gray's printed F(2,3) up to the sign of the inf row, and both verify", () => {
    const lavinGray: WinogradTransforms = {
      m: 2,
      r: 3,
      alpha: 4,
      points: ['0', '1', '-1', 'inf'],
      BT: mat([
        [1, 0, -1, 0],
        [0, 1, 1, 0],
        [0, -1, 1, 0],
        [0, 1, 0, -1],
      ]),
      G: mat([
        [1, 0, 0],
        ['1/2', '1/2', '1/2'],
        ['1/2', '-1/2', '1/2'],
        [0, 0, 1],
      ]),
      AT: mat([
        [1, 1, 1, 0],
        [0, 1, -1, -1],
      ]),
    };
    verifyExact(lavinGray);
    const ours = cookToom(2, 3, DEFAULT_POINTS['F(2,3)'] as string[]);
    const infIdx = 3;
    expect(text(ours.G)).toEqual(text(lavinGray.G));
    expect(text(ours.BT.map((row, i) => (i === infIdx ? row.map((x) => x.neg()) : row)))).toEqual(text(lavinGray.BT));
    expect(text(ours.AT.map((row) => row.map((x, k) => (k === infIdx ? x.neg() : x))))).toEqual(text(lavinGray.AT));
  });

  it("gives wincnn's F(4,3) and F(6,3) matrices (its README examples)", () => {
    const t4 = cookToom(4, 3, '0,1,-1,2,-2,inf');
    expect(text(t4.BT)).toEqual(
      text(
        mat([
          [4, 0, -5, 0, 1, 0],
          [0, -4, -4, 1, 1, 0],
          [0, 4, -4, -1, 1, 0],
          [0, -2, -1, 2, 1, 0],
          [0, 2, -1, -2, 1, 0],
          [0, 4, 0, -5, 0, 1],
        ]),
      ),
    );
    expect(text(t4.G)).toEqual(
      text(
        mat([
          ['1/4', 0, 0],
          ['-1/6', '-1/6', '-1/6'],
          ['-1/6', '1/6', '-1/6'],
          ['1/24', '1/12', '1/6'],
          ['1/24', '-1/12', '1/6'],
          [0, 0, 1],
        ]),
      ),
    );
    expect(text(t4.AT)).toEqual(
      text(
        mat([
          [1, 1, 1, 1, 1, 0],
          [0, 1, -1, 2, -2, 0],
          [0, 1, 1, 4, 4, 0],
          [0, 1, -1, 8, -8, 1],
        ]),
      ),
    );
    const t6 = cookToom(6, 3, '0,1,-1,2,-2,1/2,-1/2,inf');
    expect(text(t6.G)).toEqual(
      text(
        mat([
          [1, 0, 0],
          ['-2/9', '-2/9', '-2/9'],
          ['-2/9', '2/9', '-2/9'],
          ['1/90', '1/45', '2/45'],
          ['1/90', '-1/45', '2/45'],
          ['32/45', '16/45', '8/45'],
          ['32/45', '-16/45', '8/45'],
          [0, 0, 1],
        ]),
      ),
    );
    expect(text(t6.BT)).toEqual(
      text(
        mat([
          [1, 0, '-21/4', 0, '21/4', 0, -1, 0],
          [0, 1, 1, '-17/4', '-17/4', 1, 1, 0],
          [0, -1, 1, '17/4', '-17/4', -1, 1, 0],
          [0, '1/2', '1/4', '-5/2', '-5/4', 2, 1, 0],
          [0, '-1/2', '1/4', '5/2', '-5/4', -2, 1, 0],
          [0, 2, 4, '-5/2', -5, '1/2', 1, 0],
          [0, -2, 4, '5/2', -5, '-1/2', 1, 0],
          [0, -1, 0, '21/4', 0, '-21/4', 0, 1],
        ]),
      ),
    );
    expect(text(t6.AT)).toEqual(
      text(
        mat([
          [1, 1, 1, 1, 1, 1, 1, 0],
          [0, 1, -1, 2, -2, '1/2', '-1/2', 0],
          [0, 1, 1, 4, 4, '1/4', '1/4', 0],
          [0, 1, -1, 8, -8, '1/8', '-1/8', 0],
          [0, 1, 1, 16, 16, '1/16', '1/16', 0],
          [0, 1, -1, 32, -32, '1/32', '-1/32', 1],
        ]),
      ),
    );
  });

  it.each(DEFAULT_TILES)('default F(%i,%i) verifies exactly', (m, r) => {
    const t = defaultTransforms(m, r);
    expect(t.points).toEqual(DEFAULT_POINTS[`F(${m},${r})`]);
    expect(t.AT.length).toBe(m);
    expect(t.G.length).toBe(m + r - 1);
    expect(t.BT.every((row) => row.length === m + r - 1)).toBe(true);
    expect(() => verifyExact(t)).not.toThrow();
    expect(() => verifyExact(t, 4, 12345)).not.toThrow();
  });

  it('verifies other point sets: no inf, inf first, custom points, other r', () => {
    for (const [m, r, pts] of [
      [2, 3, '0,1,-1,2'],
      [2, 3, 'inf,0,1,-1'],
      [4, 3, '0,1,-1,3,-1/3,inf'],
      [3, 2, '0,1,-1,inf'],
      [2, 5, '0,1,-1,2,-2,inf'],
      [4, 5, '0,1,-1,2,-2,1/2,-1/2,inf'],
      [1, 1, '0'],
      [1, 1, 'inf'],
      [1, 3, '0,1,inf'],
      [5, 1, '0,1,-1,2,-2'],
    ] as [number, number, string][]) {
      expect(() => verifyExact(cookToom(m, r, pts)), `F(${m},${r}) ${pts}`).not.toThrow();
    }
  });

  it('keeps the default AT and BT exactly representable in float32 (only G is rounded)', () => {
    for (const [m, r] of DEFAULT_TILES) {
      const t = defaultTransforms(m, r);
      for (const M of [t.AT, t.BT]) {
        for (const x of M.flat()) expect(Rational.fromNumber(x.toFloat32()).equals(x), `F(${m},${r}) ${x}`).toBe(true);
      }
      const f32 = toF32(t);
      t.G.forEach((row, i) => row.forEach((x, j) => expect(f32.G.data[i * r + j]).toBe(x.toFloat32())));
    }
  });

  it('rejects invalid inputs with clear errors', () => {
    expect(() => cookToom(0, 3, '0,1,inf')).toThrow(/m = 0 must be an integer >= 1/);
    expect(() => cookToom(2, 1.5, '0,1,inf')).toThrow(/r = 1.5 must be an integer >= 1/);
    expect(() => cookToom(2, 3, '0,1,inf')).toThrow(/exactly alpha = m \+ r - 1 = 4 points, got 3/);
    expect(() => cookToom(2, 3, '0,1,-1,2,inf')).toThrow(/got 5/);
    expect(() => cookToom(2, 3, '0,1,1,inf')).toThrow(/distinct.*#2 and #3 are both 1/);
    expect(() => cookToom(2, 3, '0,1/2,2/4,inf')).toThrow(/distinct.*both 1\/2/);
    expect(() => cookToom(2, 3, '0,1,inf,inf')).toThrow(/at most one point may be "inf", got 2/);
    expect(() => cookToom(2, 3, '0,1,x,inf')).toThrow(/invalid point list/);
    expect(() => cookToom(2, 3, ['0', '1', '1/0', 'inf'])).toThrow(/invalid point list/);
    expect(() => cookToom(30, 10, '0')).toThrow(/exceeds the supported maximum/);
    expect(() => defaultTransforms(3, 3)).toThrow(/no default points for F\(3,3\)/);
  });
});

describe('verifyExact catches corrupted transforms', () => {
  it.each([
    ['BT', 3, 1, '1'],
    ['BT', 0, 0, '-1/1000000'],
    ['G', 1, 2, '1/4'],
    ['G', 7, 2, '1/1000000000'],
    ['AT', 5, 7, '-1'],
    ['AT', 0, 3, '1/1000'],
  ] as const)('F(6,3) with %s[%i][%i] += %s', (which, i, j, delta) => {
    const t = defaultTransforms(6, 3);
    const bad = perturb(t, which, i, j, delta);
    expect(bad[which][i]?.[j]?.equals(t[which][i]?.[j]?.add(q(delta)) as Rational)).toBe(true);
    expect(t[which][i]?.[j]?.equals(bad[which][i]?.[j] as Rational)).toBe(false); // original untouched
    expect(() => verifyExact(t)).not.toThrow();
    expect(() => verifyExact(bad)).toThrow(/verifyExact F\(6,3\).*do not compute F\(6,3\)/);
    const msg = errorMessage(() => verifyExact(bad));
    // every check sees the corruption independently
    expect(msg).toMatch(/basis check: for d = e_\d, g = e_\d the transform gives y\[\d\] = \S+, correlation gives [01]/);
    expect(msg).toMatch(/random trial 1\/8 \(seed 1\): y\[\d\] = \S+, direct correlation gives \S+; d = \[/);
    expect(msg).toMatch(/2D tile check \(seed 1\): Y\[\d\]\[\d\] = /);
    // trials = 0: the basis proof alone still catches it
    const proofOnly = errorMessage(() => verifyExact(bad, 0));
    expect(proofOnly).toMatch(/basis check/);
    expect(proofOnly).not.toMatch(/random trial|2D tile/);
  });

  it('applyExact1D shows the corrupted output', () => {
    const bad = perturb(defaultTransforms(2, 3), 'G', 0, 0, '1');
    const d = [1, 2, 3, 4].map((x) => Rational.of(x));
    const g = [1, 0, 0].map((x) => Rational.of(x));
    expect(applyExact1D(defaultTransforms(2, 3), d, g).map(String)).toEqual(['1', '2']);
    // y0 gains AT[0][0] * (+1 * g0) * (BT d)[0] = 1 * 1 * (d0 - d2) = -2: 1 - 2 = -1
    expect(applyExact1D(bad, d, g).map(String)).toEqual(['-1', '2']);
  });

  it('rejects bad perturb arguments and malformed transforms', () => {
    const t = defaultTransforms(2, 3);
    expect(() => perturb(t, 'AT', 2, 0, '1')).toThrow(/outside AT \(2 x 4\)/);
    expect(() => perturb(t, 'G', 0, 3, '1')).toThrow(/outside G/);
    expect(() => perturb(t, 'G', 0, 0, '0')).toThrow(/zero/);
    expect(() => verifyExact({ ...t, G: t.G.slice(0, 3) })).toThrow(/G must be 4 x 3/);
    expect(() => verifyExact({ ...t, alpha: 5 })).toThrow(/alpha = 5 but m \+ r - 1 = 4/);
  });
});

describe('float transforms', () => {
  it.each([
    [2, 3],
    [4, 3],
    [6, 3],
  ])('f64 F(%i,%i) reproduces direct correlation to ~1e-12 relative', (m, r) => {
    const t = defaultTransforms(m, r);
    const f = toF64(t);
    expect(f.AT).toMatchObject({ rows: m, cols: m + r - 1 });
    expect(f.G).toMatchObject({ rows: m + r - 1, cols: r });
    expect(f.BT).toMatchObject({ rows: m + r - 1, cols: m + r - 1 });
    const alpha = m + r - 1;
    const rng = makeRng(m * 100 + r);
    for (let trial = 0; trial < 50; trial++) {
      const d1 = Float64Array.from({ length: alpha }, () => rng.normal());
      const g1 = Float64Array.from({ length: r }, () => rng.normal());
      expectClose(winograd1D(f, d1, g1), correlate1D(d1, g1, m), 1e-12);
      const d2 = Float64Array.from({ length: alpha * alpha }, () => rng.normal());
      const g2 = Float64Array.from({ length: r * r }, () => rng.normal());
      expectClose(winograd2D(f, d2, g2), correlate2D(d2, g2, m, r), 1e-12);
    }
  });

  it('a corrupted f64 transform is far from the direct correlation', () => {
    const f = toF64(perturb(defaultTransforms(4, 3), 'BT', 2, 2, '1/100'));
    const rng = makeRng(9);
    const d = Float64Array.from({ length: 36 }, () => rng.normal());
    const g = Float64Array.from({ length: 9 }, () => rng.normal());
    expect(relL2(winograd2D(f, d, g), correlate2D(d, g, 4, 3))).toBeGreaterThan(1e-4);
  });

  it('f32 emulation: error grows with the tile and stays within fp32 budgets', () => {
    const e = DEFAULT_TILES.map(([m, r]) => tileError(defaultTransforms(m, r), 'f32', 100, 5));
    const e64 = DEFAULT_TILES.map(([m, r]) => tileError(defaultTransforms(m, r), 'f64', 100, 5));
    for (let i = 1; i < e.length; i++) expect(e[i]).toBeGreaterThan(e[i - 1] as number);
    expect(e[0]).toBeLessThan(1e-6);
    expect(e[0]).toBeGreaterThan(1e-9); // really float32 arithmetic, not float64
    expect(e[3]).toBeLessThan(1e-4);
    for (const x of e64) expect(x).toBeLessThan(1e-12);
  });

  it('correlate helpers compute the definition', () => {
    expect(Array.from(correlate1D([1, 2, 3, 4], [1, 10, 100], 2))).toEqual([321, 432]);
    // 3x3 tile, 2x2 filter, 2x2 output
    expect(Array.from(correlate2D([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 0, 0, 1], 2, 2))).toEqual([6, 8, 12, 14]);
  });
});

describe('transformStats', () => {
  it('counts multiplies', () => {
    const s2 = transformStats(defaultTransforms(2, 3));
    expect(s2).toMatchObject({ m: 2, r: 3, alpha: 4, multsPerOutput1D: 2, directMults1D: 3, multsPerOutput2D: 4, directMults2D: 9 });
    expect(s2.mulReduction2D).toBe(2.25);
    const s4 = transformStats(defaultTransforms(4, 3));
    expect(s4.multsPerOutput2D).toBe(36 / 16);
    expect(s4.mulReduction2D).toBe(4);
    expect(transformStats(defaultTransforms(6, 3)).multsPerOutput2D).toBeCloseTo(64 / 36, 15);
    expect(s2.maxAbsEntry).toEqual({ AT: 1, G: 1, BT: 1 });
    expect(transformStats(defaultTransforms(6, 3)).maxAbsEntry).toEqual({ AT: 32, G: 1, BT: 5.25 });
  });

  it('condition numbers match known values and grow with the tile size', () => {
    const s = DEFAULT_TILES.map(([m, r]) => transformStats(defaultTransforms(m, r)).conditionNumbers);
    const [c2, c4, c6, c8] = s as [(typeof s)[0], (typeof s)[0], (typeof s)[0], (typeof s)[0]];
    // F(2,3): AT rows are orthogonal with equal norms (cond 1); BT's cond is 1 + sqrt(2); G's is 2.
    expect(c2.AT).toBeCloseTo(1, 12);
    expect(c2.BT).toBeCloseTo(1 + Math.SQRT2, 12);
    expect(c2.G).toBeCloseTo(2, 12);
    expect(c6.AT).toBeGreaterThan(50 * c2.AT);
    expect(c6.BT).toBeGreaterThan(10 * c2.BT);
    for (const key of ['AT', 'BT'] as const) {
      expect(c4[key]).toBeGreaterThan(c2[key]);
      expect(c6[key]).toBeGreaterThan(c4[key]);
      expect(c8[key]).toBeGreaterThan(c6[key]);
    }
  });

  it('singular values match an independent computation', () => {
    // diag(3, 2) rotated: singular values 3, 2
    const c = Math.cos(0.3);
    const sn = Math.sin(0.3);
    const M = { rows: 2, cols: 2, data: Float64Array.of(3 * c, -2 * sn, 3 * sn, 2 * c) };
    const sv = singularValues(M);
    expect(sv[0]).toBeCloseTo(3, 14);
    expect(sv[1]).toBeCloseTo(2, 14);
    // wide 2x3 [[1,1,0],[0,1,1]]: M M^T = [[2,1],[1,2]] -> sigma^2 = 3, 1
    const W = { rows: 2, cols: 3, data: Float64Array.of(1, 1, 0, 0, 1, 1) };
    const sw = singularValues(W);
    expect(sw[0]).toBeCloseTo(Math.sqrt(3), 14);
    expect(sw[1]).toBeCloseTo(1, 14);
    expect(conditionNumber(W)).toBeCloseTo(Math.sqrt(3), 14);
    // rank-deficient
    expect(conditionNumber({ rows: 2, cols: 2, data: Float64Array.of(1, 2, 2, 4) })).toBeGreaterThan(1e15);
    // Vandermonde check: the sum of squared singular values equals the squared Frobenius norm
    const f = toF64(defaultTransforms(6, 3)).AT;
    const fro = f.data.reduce((a, x) => a + x * x, 0);
    expect(singularValues(f).reduce((a, x) => a + x * x, 0)).toBeCloseTo(fro, 8);
  });
});

function relL2(y: Float64Array, ref: Float64Array): number {
  let e = 0;
  let n = 0;
  for (let i = 0; i < ref.length; i++) {
    e += ((y[i] as number) - (ref[i] as number)) ** 2;
    n += (ref[i] as number) ** 2;
  }
  return Math.sqrt(e / n);
}

function expectClose(y: Float64Array, ref: Float64Array, tol: number): void {
  expect(y.length).toBe(ref.length);
  expect(relL2(y, ref)).toBeLessThan(tol);
}

function errorMessage(fn: () => void): string {
  try {
    fn();
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
  throw new Error('expected a throw');
}
