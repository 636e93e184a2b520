/**
 * Exact rational numbers over BigInt, and exact-to-float conversion.
 *
 * A `Rational` is immutable and always normalised: the denominator is
 * positive and gcd(|num|, den) = 1 (zero is 0/1), so structural equality of
 * (num, den) is numeric equality. Conversions to floating point are correctly
 * rounded (round-to-nearest, ties-to-even) straight from the exact value, for
 * binary64 (`toNumber`) and binary32 (`toFloat32`), including subnormals and
 * overflow to +-Infinity; nothing goes through `Number(num) / Number(den)`,
 * which double-rounds and overflows to NaN for huge operands.
 *
 * Also parses the point lists used by the Winograd / Toom-Cook generator:
 * "0,1,-1,2,-2,1/2,-1/2,inf".
 *
 * Pure, payload-safe (no node: imports, no dependencies, BigInt only): it runs
 * on the device (Node >= 18).
 */

function bigAbs(x: bigint): bigint {
  return x < 0n ? -x : x;
}

function bigGcd(a: bigint, b: bigint): bigint {
  a = bigAbs(a);
  b = bigAbs(b);
  while (b !== 0n) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/** Number of bits of a positive BigInt (bitLength(1) = 1). */
function bitLength(x: bigint): number {
  return x.toString(2).length;
}

const INTEGER_RE = /^[+-]?\d+$/;
const FRACTION_RE = /^([+-]?\d+)\s*\/\s*([+-]?\d+)$/;
const DECIMAL_RE = /^([+-]?)(\d*)\.(\d*)$/;

export class Rational {
  /** Numerator; carries the sign. */
  readonly num: bigint;
  /** Denominator; always > 0 and coprime with `num`. */
  readonly den: bigint;

  private constructor(num: bigint, den: bigint) {
    this.num = num;
    this.den = den;
  }

  static readonly ZERO = new Rational(0n, 1n);
  static readonly ONE = new Rational(1n, 1n);

  /**
   * `num / den`, normalised. Accepts bigints or safe integers (a non-integer
   * or unsafe number is rejected: use `fromNumber` for an exact binary value).
   */
  static of(num: bigint | number, den: bigint | number = 1n): Rational {
    const n = toBigIntStrict(num, 'numerator');
    const d = toBigIntStrict(den, 'denominator');
    if (d === 0n) throw new RangeError(`Rational.of: zero denominator (${n}/0)`);
    if (n === 0n) return Rational.ZERO;
    const sign = d < 0n ? -1n : 1n;
    const g = bigGcd(n, d);
    return new Rational((sign * n) / g, (sign * d) / g);
  }

  /** The exact value of a finite double (every double is a dyadic rational). */
  static fromNumber(x: number): Rational {
    if (!Number.isFinite(x)) throw new RangeError(`Rational.fromNumber: ${x} is not finite`);
    if (x === 0) return Rational.ZERO;
    const view = new DataView(new ArrayBuffer(8));
    view.setFloat64(0, x);
    const bits = view.getBigUint64(0);
    const negative = bits >> 63n === 1n;
    const biased = Number((bits >> 52n) & 0x7ffn);
    let mant = bits & 0xfffffffffffffn;
    let exp: number;
    if (biased === 0) {
      exp = -1074; // subnormal: mant * 2^-1074
    } else {
      mant |= 1n << 52n;
      exp = biased - 1075;
    }
    const signed = negative ? -mant : mant;
    return exp >= 0 ? Rational.of(signed << BigInt(exp)) : Rational.of(signed, 1n << BigInt(-exp));
  }

  /**
   * Parses "3", "-3", "+3", "1/2", "-1/2", "1/-2", "0.25", "-.5" (decimals are
   * converted exactly: "0.1" is 1/10). Whitespace around the value and the
   * slash is allowed. Anything else throws, naming the input.
   */
  static parse(text: string): Rational {
    const s = text.trim();
    if (INTEGER_RE.test(s)) return Rational.of(BigInt(s));
    const f = FRACTION_RE.exec(s);
    if (f) {
      const d = BigInt(f[2] as string);
      if (d === 0n) throw new RangeError(`Rational.parse: zero denominator in "${text}"`);
      return Rational.of(BigInt(f[1] as string), d);
    }
    const dec = DECIMAL_RE.exec(s);
    if (dec && ((dec[2] ?? '') !== '' || (dec[3] ?? '') !== '')) {
      const intPart = dec[2] === '' ? '0' : (dec[2] as string);
      const frac = dec[3] ?? '';
      const n = BigInt(intPart + frac) * (dec[1] === '-' ? -1n : 1n);
      return Rational.of(n, 10n ** BigInt(frac.length));
    }
    throw new SyntaxError(`Rational.parse: cannot parse "${text}" (expected an integer "2", a fraction "-1/2" or a decimal "0.25")`);
  }

  add(o: Rational): Rational {
    return Rational.of(this.num * o.den + o.num * this.den, this.den * o.den);
  }

  sub(o: Rational): Rational {
    return Rational.of(this.num * o.den - o.num * this.den, this.den * o.den);
  }

  mul(o: Rational): Rational {
    if (this.num === 0n || o.num === 0n) return Rational.ZERO;
    return Rational.of(this.num * o.num, this.den * o.den);
  }

  div(o: Rational): Rational {
    if (o.num === 0n) throw new RangeError(`Rational.div: division of ${this.toString()} by zero`);
    return Rational.of(this.num * o.den, this.den * o.num);
  }

  neg(): Rational {
    return this.num === 0n ? this : new Rational(-this.num, this.den);
  }

  abs(): Rational {
    return this.num < 0n ? new Rational(-this.num, this.den) : this;
  }

  inv(): Rational {
    if (this.num === 0n) throw new RangeError('Rational.inv: inverse of zero');
    return Rational.of(this.den, this.num);
  }

  /** this^k for an integer k (negative k inverts; 0^0 = 1). */
  pow(k: number): Rational {
    if (!Number.isSafeInteger(k)) throw new RangeError(`Rational.pow: exponent ${k} is not an integer`);
    if (k < 0) return this.inv().pow(-k);
    const e = BigInt(k);
    return new Rational(this.num ** e, this.den ** e);
  }

  /** -1, 0 or 1. */
  sign(): -1 | 0 | 1 {
    return this.num < 0n ? -1 : this.num > 0n ? 1 : 0;
  }

  isZero(): boolean {
    return this.num === 0n;
  }

  isInteger(): boolean {
    return this.den === 1n;
  }

  equals(o: Rational): boolean {
    return this.num === o.num && this.den === o.den;
  }

  /** -1 if this < o, 0 if equal, 1 if this > o. */
  compare(o: Rational): -1 | 0 | 1 {
    const l = this.num * o.den;
    const r = o.num * this.den;
    return l < r ? -1 : l > r ? 1 : 0;
  }

  /** Correctly rounded binary64 value (ties to even; +-Infinity on overflow). */
  toNumber(): number {
    return roundToBinary(this, 53, -1022, 1023);
  }

  /**
   * Correctly rounded binary32 value, returned as a JS number (exactly
   * representable, so `Math.fround(q.toFloat32()) === q.toFloat32()`). Rounding
   * directly from the exact value avoids the double rounding of
   * `Math.fround(q.toNumber())`.
   */
  toFloat32(): number {
    return roundToBinary(this, 24, -126, 127);
  }

  /** "n" for integers, "n/d" otherwise (the form `parse` reads back). */
  toString(): string {
    return this.den === 1n ? this.num.toString() : `${this.num}/${this.den}`;
  }

  toJSON(): string {
    return this.toString();
  }
}

function toBigIntStrict(v: bigint | number, what: string): bigint {
  if (typeof v === 'bigint') return v;
  if (!Number.isSafeInteger(v)) {
    throw new RangeError(`Rational.of: ${what} ${v} is not a safe integer (pass a bigint, or use Rational.fromNumber)`);
  }
  return BigInt(v);
}

/**
 * Round q to the nearest value of a binary format with `p` significand bits
 * (including the hidden bit), minimum normal exponent `emin` and maximum
 * exponent `emax`; ties to even; subnormals kept; overflow -> +-Infinity.
 */
function roundToBinary(q: Rational, p: number, emin: number, emax: number): number {
  if (q.num === 0n) return 0;
  const negative = q.num < 0n;
  const n = bigAbs(q.num);
  const d = q.den;
  // e = floor(log2(n/d)): start from the bit-length difference, then fix by one.
  let e = bitLength(n) - bitLength(d);
  if (e >= 0 ? n < d << BigInt(e) : n << BigInt(-e) < d) e -= 1;
  // Quantum of the result: ulp = 2^qexp (subnormals share emin's quantum).
  const qexp = Math.max(e, emin) - (p - 1);
  let num = n;
  let den = d;
  if (qexp >= 0) den <<= BigInt(qexp);
  else num <<= BigInt(-qexp);
  let m = num / den;
  const twiceRem = (num - m * den) * 2n;
  if (twiceRem > den || (twiceRem === den && (m & 1n) === 1n)) m += 1n;
  // m <= 2^p here; m * 2^qexp is the rounded magnitude.
  if (m === 0n) return negative ? -0 : 0;
  const topExp = bitLength(m) - 1 + qexp; // exponent of the leading bit
  if (topExp > emax) return negative ? -Infinity : Infinity;
  // m < 2^54 is exact as a double; scaling by a power of two is exact because
  // the result is representable (split the scale to avoid 2^qexp underflow).
  let value = Number(m);
  let s = qexp;
  while (s < -1000) {
    value *= 2 ** -1000;
    s += 1000;
  }
  value *= 2 ** s;
  return negative ? -value : value;
}

/** The point at infinity in a Toom-Cook point list. */
export const INF = 'inf' as const;
export type ProjectivePoint = Rational | typeof INF;

/** True for the point at infinity. */
export function isInf(p: ProjectivePoint): p is typeof INF {
  return p === INF;
}

/**
 * Parses one point: a rational (see `Rational.parse`) or the point at infinity
 * ("inf", "infinity", "∞", case-insensitive).
 */
export function parsePoint(text: string): ProjectivePoint {
  const s = text.trim().toLowerCase();
  if (s === 'inf' || s === 'infinity' || s === '∞' || s === '+inf') return INF;
  return Rational.parse(s);
}

/**
 * Parses a comma-separated point list, e.g. "0,1,-1,2,-2,1/2,-1/2,inf".
 * Empty entries are rejected. Duplicates are NOT rejected here (the Winograd
 * generator validates the list against its own rules).
 */
export function parsePointList(text: string): ProjectivePoint[] {
  if (text.trim() === '') throw new SyntaxError('parsePointList: empty point list');
  return text.split(',').map((part, i) => {
    if (part.trim() === '') throw new SyntaxError(`parsePointList: empty entry #${i + 1} in "${text}"`);
    try {
      return parsePoint(part);
    } catch (cause) {
      throw new SyntaxError(`parsePointList: entry #${i + 1} "${part.trim()}" in "${text}" is not a number or "inf"`, {
        cause,
      });
    }
  });
}

/** Canonical text of a point ("inf" or the rational's `toString`). */
export function pointToString(p: ProjectivePoint): string {
  return isInf(p) ? INF : p.toString();
}
