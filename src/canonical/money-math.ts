import { CanonicalError, CurrencyMismatchError } from './errors';

/*
 * Money arithmetic and the currency table, without zod: the schemas that check money
 * (CurrencyCode, Money, NonNegativeMoney, FxRate) are in money.ts, which re-exports all of
 * this. Code that only computes with money (the rules, the engagement core, so the workflow
 * code) imports this module, not the canonical barrel: zod and the canonical schemas are
 * then not part of every cached workflow's heap (BENCHMARKS.md, engagement state).
 */

/**
 * Money is an integer number of minor units plus an ISO 4217 code. Never a
 * float. Every division rounds explicitly; the default rule is half-even
 * (banker's rounding), which keeps sums of many rounded items unbiased.
 */
export type RoundingMode = 'HALF_EVEN' | 'HALF_UP' | 'DOWN' | 'FLOOR' | 'CEIL';

export interface CurrencyRule {
  /** Number of decimal digits of the minor unit (USD 2, JPY 0, KWD 3). */
  readonly exponent: number;
  readonly rounding: RoundingMode;
}

/** Canonical money (the `Money` schema in money.ts checks it). */
export interface Money {
  /** Integer minor units (cents for USD, yen for JPY). Safe integer, may be negative (credits, deltas). */
  amountMinor: number;
  currency: string;
}

/** An FX rate (the `FxRate` schema in money.ts checks it): 1 unit of `base` = `rate` units of `quote`. */
export interface FxRate {
  base: string;
  quote: string;
  /** A positive decimal string, e.g. '1.0845'. */
  rate: string;
  asOf: string;
  source: string;
}

const rule = (exponent: number, rounding: RoundingMode = 'HALF_EVEN'): CurrencyRule => ({ exponent, rounding });

/** Minor-unit exponent and rounding rule per currency (ISO 4217). Unknown codes are rejected, not guessed. */
export const CURRENCY_RULES: Readonly<Record<string, CurrencyRule>> = Object.freeze({
  // 0 decimals
  JPY: rule(0), KRW: rule(0), CLP: rule(0), ISK: rule(0), VND: rule(0), XAF: rule(0), XOF: rule(0),
  XPF: rule(0), UGX: rule(0), PYG: rule(0), RWF: rule(0), KMF: rule(0), GNF: rule(0), BIF: rule(0),
  DJF: rule(0), VUV: rule(0),
  // 3 decimals
  BHD: rule(3), IQD: rule(3), JOD: rule(3), KWD: rule(3), LYD: rule(3), OMR: rule(3), TND: rule(3),
  // 2 decimals
  USD: rule(2), EUR: rule(2), GBP: rule(2), CHF: rule(2), CAD: rule(2), AUD: rule(2), NZD: rule(2),
  SEK: rule(2), NOK: rule(2), DKK: rule(2), PLN: rule(2), CZK: rule(2), HUF: rule(2), RON: rule(2),
  INR: rule(2), CNY: rule(2), HKD: rule(2), SGD: rule(2), ZAR: rule(2), BRL: rule(2), MXN: rule(2),
  AED: rule(2), SAR: rule(2), ILS: rule(2), TRY: rule(2), THB: rule(2), MYR: rule(2), PHP: rule(2),
  IDR: rule(2), TWD: rule(2), COP: rule(2), ARS: rule(2), EGP: rule(2), NGN: rule(2), KES: rule(2),
});

export const currencyRule = (currency: string): CurrencyRule => {
  const r = Object.prototype.hasOwnProperty.call(CURRENCY_RULES, currency) ? CURRENCY_RULES[currency] : undefined;
  if (!r) throw new CanonicalError('MONEY.UNKNOWN_CURRENCY', `unknown currency ${currency}`, { currency });
  return r;
};

export const assertSafeInteger = (n: number, what = 'amount'): number => {
  if (!Number.isSafeInteger(n)) {
    throw new CanonicalError('MONEY.UNSAFE_INTEGER', `${what} ${n} is not a safe integer`, { what, value: n });
  }
  return n;
};

export const money = (amountMinor: number, currency: string): Money => {
  assertSafeInteger(amountMinor);
  currencyRule(currency);
  return { amountMinor, currency };
};

export const zero = (currency: string): Money => money(0, currency);

const sameCurrency = (a: Money, b: Money): void => {
  if (a.currency !== b.currency) throw new CurrencyMismatchError(a.currency, b.currency);
};

export const add = (a: Money, b: Money): Money => {
  sameCurrency(a, b);
  return { amountMinor: assertSafeInteger(a.amountMinor + b.amountMinor), currency: a.currency };
};

export const subtract = (a: Money, b: Money): Money => {
  sameCurrency(a, b);
  return { amountMinor: assertSafeInteger(a.amountMinor - b.amountMinor), currency: a.currency };
};

export const negate = (a: Money): Money => ({ amountMinor: a.amountMinor === 0 ? 0 : -a.amountMinor, currency: a.currency });

/** Sum in one currency; an empty list sums to zero of `currency`. */
export const sum = (items: readonly Money[], currency: string): Money => {
  let total = 0;
  for (const m of items) {
    if (m.currency !== currency) throw new CurrencyMismatchError(currency, m.currency);
    total += m.amountMinor;
  }
  return money(total, currency);
};

export const compare = (a: Money, b: Money): -1 | 0 | 1 => {
  sameCurrency(a, b);
  return a.amountMinor < b.amountMinor ? -1 : a.amountMinor > b.amountMinor ? 1 : 0;
};

export const minMoney = (a: Money, b: Money): Money => (compare(a, b) <= 0 ? a : b);

/**
 * Integer division n / d rounded by `mode`. Exact for all safe integers
 * (the float quotient is only a first guess, corrected by the remainder).
 */
export const divRound = (n: number, d: number, mode: RoundingMode = 'HALF_EVEN'): number => {
  if (d === 0) throw new CanonicalError('MONEY.DIVISION_BY_ZERO', 'division by zero');
  if (d < 0) {
    n = -n;
    d = -d;
  }
  let q = Math.floor(n / d);
  let r = n - q * d;
  // correct a float quotient that is one off near integer boundaries
  if (r < 0) {
    q -= 1;
    r += d;
  } else if (r >= d) {
    q += 1;
    r -= d;
  }
  if (r === 0) return q;
  // here n = q*d + r with 0 < r < d, i.e. the true value lies in (q, q+1)
  switch (mode) {
    case 'FLOOR':
      return q;
    case 'CEIL':
      return q + 1;
    case 'DOWN':
      return q < 0 ? q + 1 : q;
    case 'HALF_UP': {
      const twice = 2 * r;
      if (twice > d) return q + 1;
      if (twice < d) return q;
      return q >= 0 ? q + 1 : q; // away from zero
    }
    case 'HALF_EVEN': {
      const twice = 2 * r;
      if (twice > d) return q + 1;
      if (twice < d) return q;
      return q % 2 === 0 ? q : q + 1;
    }
  }
};

const bigDivRound = (n: bigint, d: bigint, mode: RoundingMode): bigint => {
  if (d === 0n) throw new CanonicalError('MONEY.DIVISION_BY_ZERO', 'division by zero');
  if (d < 0n) {
    n = -n;
    d = -d;
  }
  let q = n / d; // truncates toward zero
  let r = n % d;
  if (r < 0n) {
    q -= 1n;
    r += d;
  }
  if (r === 0n) return q;
  switch (mode) {
    case 'FLOOR':
      return q;
    case 'CEIL':
      return q + 1n;
    case 'DOWN':
      return q < 0n ? q + 1n : q;
    case 'HALF_UP':
      if (2n * r > d) return q + 1n;
      if (2n * r < d) return q;
      return q >= 0n ? q + 1n : q;
    case 'HALF_EVEN':
      if (2n * r > d) return q + 1n;
      if (2n * r < d) return q;
      return q % 2n === 0n ? q : q + 1n;
  }
};

/**
 * round(product(factors) / divisor) with one rounding at the end. Uses plain
 * numbers while the product is a safe integer and BigInt beyond that, so the
 * result is exact either way.
 */
export const mulDiv = (factors: readonly number[], divisor: number, mode: RoundingMode = 'HALF_EVEN'): number => {
  let p = 1;
  let safe = true;
  for (const f of factors) {
    assertSafeInteger(f, 'factor');
    p *= f;
    if (!Number.isSafeInteger(p)) safe = false;
  }
  if (safe) return divRound(p, divisor, mode);
  let bp = 1n;
  for (const f of factors) bp *= BigInt(f);
  const r = bigDivRound(bp, BigInt(divisor), mode);
  return assertSafeInteger(Number(r), 'result');
};

/** amount x bp / 10000, rounded with the currency's rule. */
export const applyBasisPoints = (m: Money, bp: number, mode?: RoundingMode): Money =>
  money(mulDiv([m.amountMinor, bp], 10_000, mode ?? currencyRule(m.currency).rounding), m.currency);

/**
 * Split `total` over integer weights by largest remainder; the parts always sum
 * to `total` exactly. Ties go to the earlier index, so the split is deterministic.
 */
export const allocate = (total: number, weights: readonly number[]): number[] => {
  assertSafeInteger(total);
  const sign = total < 0 ? -1 : 1;
  const abs = Math.abs(total);
  let wsum = 0;
  for (const w of weights) {
    if (!Number.isSafeInteger(w) || w < 0) throw new CanonicalError('MONEY.UNSAFE_INTEGER', 'weights must be non-negative safe integers');
    wsum += w;
  }
  if (wsum === 0) {
    if (abs === 0) return weights.map(() => 0);
    throw new CanonicalError('MONEY.DIVISION_BY_ZERO', 'cannot allocate over zero weights');
  }
  const bigTotal = BigInt(abs);
  const bigSum = BigInt(wsum);
  const parts: number[] = [];
  const rems: bigint[] = [];
  let allocated = 0;
  for (const w of weights) {
    const num = bigTotal * BigInt(w);
    const q = num / bigSum;
    parts.push(Number(q));
    rems.push(num % bigSum);
    allocated += Number(q);
  }
  const order = weights.map((_, i) => i).sort((a, b) => {
    const ra = rems[a]!;
    const rb = rems[b]!;
    return ra > rb ? -1 : ra < rb ? 1 : a - b;
  });
  for (let k = 0; k < abs - allocated; k++) {
    const idx = order[k % order.length]!;
    parts[idx] = parts[idx]! + 1;
  }
  return parts.map((p) => (p === 0 ? 0 : sign * p));
};

/** Decimal string -> exact value in minor units of `currency` ('1234.5' USD -> 123450). Rejects excess precision. */
export const parseDecimal = (decimal: string, currency: string): Money => {
  const m = /^(-)?(\d+)(?:\.(\d+))?$/.exec(decimal);
  if (!m) throw new CanonicalError('MONEY.UNSAFE_INTEGER', `not a decimal amount: ${decimal}`);
  const { exponent } = currencyRule(currency);
  const frac = m[3] ?? '';
  if (frac.length > exponent) {
    throw new CanonicalError('MONEY.UNSAFE_INTEGER', `${decimal} has more than ${exponent} decimals for ${currency}`);
  }
  const minor = Number((m[2] ?? '0') + frac.padEnd(exponent, '0'));
  return money(m[1] && minor !== 0 ? -minor : minor, currency);
};

/** Minor units -> plain decimal string with the currency's exponent ('USD', 112500 -> '1125.00'). */
export const toDecimalString = (m: Money): string => {
  const { exponent } = currencyRule(m.currency);
  const neg = m.amountMinor < 0;
  const digits = String(Math.abs(m.amountMinor)).padStart(exponent + 1, '0');
  const whole = digits.slice(0, digits.length - exponent);
  const frac = exponent > 0 ? '.' + digits.slice(digits.length - exponent) : '';
  return `${neg ? '-' : ''}${whole}${frac}`;
};

/** Human rendering for explanations: 'USD 1,125.00'. */
export const formatMoney = (m: Money): string => {
  const s = toDecimalString(m);
  const neg = s.startsWith('-');
  const [whole, frac] = (neg ? s.slice(1) : s).split('.');
  const grouped = (whole ?? '0').replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${m.currency} ${neg ? '-' : ''}${grouped}${frac !== undefined ? '.' + frac : ''}`;
};

/** Convert with one rounding (the target currency's rule unless `mode` is given). */
export const convert = (m: Money, fx: FxRate, mode?: RoundingMode): Money => {
  if (m.currency !== fx.base) {
    throw new CanonicalError('MONEY.FX_RATE_MISMATCH', `rate ${fx.base}/${fx.quote} cannot convert ${m.currency}`, {
      currency: m.currency,
      base: fx.base,
      quote: fx.quote,
    });
  }
  const [w, f = ''] = fx.rate.split('.');
  const rateNum = BigInt((w ?? '0') + f);
  const from = currencyRule(fx.base).exponent;
  const to = currencyRule(fx.quote);
  // amount_to = amount_from * rate * 10^(to - from); rate = rateNum / 10^len(f)
  let num = BigInt(m.amountMinor) * rateNum;
  let den = 10n ** BigInt(f.length);
  const shift = to.exponent - from;
  if (shift >= 0) num *= 10n ** BigInt(shift);
  else den *= 10n ** BigInt(-shift);
  return money(Number(bigDivRound(num, den, mode ?? to.rounding)), fx.quote);
};
