import fc from 'fast-check';
import {
  CurrencyMismatchError, CanonicalError, Money, add, allocate, applyBasisPoints, convert, currencyRule, divRound,
  formatMoney, money, mulDiv, parseDecimal, subtract, sum, toDecimalString,
} from '../../src/canonical';

describe('currency table', () => {
  it.each([
    ['JPY', 0], ['USD', 2], ['EUR', 2], ['GBP', 2], ['KWD', 3],
  ])('%s has exponent %i and half-even rounding', (ccy, exp) => {
    expect(currencyRule(ccy)).toEqual({ exponent: exp, rounding: 'HALF_EVEN' });
  });

  it('rejects a currency that is not in the table', () => {
    expect(() => currencyRule('XXX')).toThrow(CanonicalError);
    expect(Money.safeParse({ amountMinor: 1, currency: 'XXX' }).success).toBe(false);
  });
});

describe('money arithmetic', () => {
  it('adds in one currency: USD 10.50 + USD 0.75 = 1050 + 75 = 1125 minor', () => {
    expect(add(money(1050, 'USD'), money(75, 'USD'))).toEqual({ amountMinor: 1125, currency: 'USD' });
    expect(subtract(money(1050, 'USD'), money(75, 'USD'))).toEqual({ amountMinor: 975, currency: 'USD' });
  });

  it('throws a typed CurrencyMismatchError when currencies differ', () => {
    let err: unknown;
    try {
      add(money(100, 'USD'), money(100, 'EUR'));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CurrencyMismatchError);
    expect((err as CurrencyMismatchError).code).toBe('MONEY.CURRENCY_MISMATCH');
    expect(() => sum([money(1, 'USD'), money(1, 'GBP')], 'USD')).toThrow(CurrencyMismatchError);
  });

  it('refuses non-integers and unsafe integers', () => {
    expect(() => money(1.5, 'USD')).toThrow(/not a safe integer/);
    expect(() => money(2 ** 53, 'USD')).toThrow(/not a safe integer/);
    expect(Money.safeParse({ amountMinor: 10.5, currency: 'USD' }).success).toBe(false);
    expect(() => add(money(Number.MAX_SAFE_INTEGER, 'USD'), money(1, 'USD'))).toThrow(CanonicalError);
  });
});

describe('divRound', () => {
  it.each([
    // n, d, HALF_EVEN, HALF_UP, DOWN, FLOOR, CEIL
    [5, 2, 2, 3, 2, 2, 3], // 2.5
    [7, 2, 4, 4, 3, 3, 4], // 3.5
    [-5, 2, -2, -3, -2, -3, -2], // -2.5
    [-7, 2, -4, -4, -3, -4, -3], // -3.5
    [10, 4, 2, 3, 2, 2, 3], // 2.5
    [11, 4, 3, 3, 2, 2, 3], // 2.75
    [9, 4, 2, 2, 2, 2, 3], // 2.25
    [9, -4, -2, -2, -2, -3, -2], // -2.25
    [12, 4, 3, 3, 3, 3, 3], // exact
  ])('%i / %i', (n, d, even, up, down, floor, ceil) => {
    expect(divRound(n, d, 'HALF_EVEN')).toBe(even);
    expect(divRound(n, d, 'HALF_UP')).toBe(up);
    expect(divRound(n, d, 'DOWN')).toBe(down);
    expect(divRound(n, d, 'FLOOR')).toBe(floor);
    expect(divRound(n, d, 'CEIL')).toBe(ceil);
  });

  it('matches BigInt floor division for all safe integers', () => {
    fc.assert(
      fc.property(fc.maxSafeInteger(), fc.integer({ min: 1, max: 2 ** 31 }), (n, d) => {
        const bn = BigInt(n);
        const bd = BigInt(d);
        let q = bn / bd;
        if (bn % bd !== 0n && bn < 0n) q -= 1n;
        expect(divRound(n, d, 'FLOOR')).toBe(Number(q));
      }),
    );
  });

  it('mulDiv is exact beyond 2^53: 9e15 x 3 / 3 = 9e15', () => {
    expect(mulDiv([9_000_000_000_000_000, 3], 3)).toBe(9_000_000_000_000_000);
    // 450 min x 15000 minor/h / 60 = 112500
    expect(mulDiv([450, 15_000], 60)).toBe(112_500);
  });

  it('throws on division by zero', () => {
    expect(() => divRound(1, 0)).toThrow(/division by zero/);
  });
});

describe('allocate', () => {
  it('USD 100.00 over three equal weights = 3334 + 3333 + 3333', () => {
    expect(allocate(10_000, [1, 1, 1])).toEqual([3334, 3333, 3333]);
  });
  it('negative totals mirror positive ones', () => {
    expect(allocate(-10_000, [1, 1, 1])).toEqual([-3334, -3333, -3333]);
  });
  it('largest remainder first: 10 over [1,2] = 3.33/6.67 -> [3,7]', () => {
    expect(allocate(10, [1, 2])).toEqual([3, 7]);
  });
  it('always sums to the total', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e12, max: 1e12 }), fc.array(fc.integer({ min: 0, max: 1e6 }), { minLength: 1, maxLength: 20 }), (t, ws) => {
        fc.pre(ws.some((w) => w > 0));
        const parts = allocate(t, ws);
        expect(parts.reduce((a, b) => a + b, 0)).toBe(t);
        ws.forEach((w, i) => {
          if (w === 0) expect(parts[i]).toBe(0);
        });
      }),
    );
  });
});

describe('decimal conversion and formatting', () => {
  it('parses decimals exactly: "1234.5" USD = 123450 minor, "1500" JPY = 1500, "1.234" KWD = 1234', () => {
    expect(parseDecimal('1234.5', 'USD')).toEqual({ amountMinor: 123_450, currency: 'USD' });
    expect(parseDecimal('1500', 'JPY')).toEqual({ amountMinor: 1500, currency: 'JPY' });
    expect(parseDecimal('1.234', 'KWD')).toEqual({ amountMinor: 1234, currency: 'KWD' });
    expect(() => parseDecimal('1.234', 'USD')).toThrow(/more than 2 decimals/);
    expect(() => parseDecimal('1.5', 'JPY')).toThrow(/more than 0 decimals/);
  });

  it('formats', () => {
    expect(toDecimalString(money(5, 'USD'))).toBe('0.05');
    expect(toDecimalString(money(-112_500, 'USD'))).toBe('-1125.00');
    expect(formatMoney(money(123_456_789, 'USD'))).toBe('USD 1,234,567.89');
    expect(formatMoney(money(1_500_000, 'JPY'))).toBe('JPY 1,500,000');
  });

  it('basis points: USD 1,125.00 x 1250 bp = 112500 x 1250 / 10000 = 14062.5 -> 14062 (half-even)', () => {
    expect(applyBasisPoints(money(112_500, 'USD'), 1250)).toEqual({ amountMinor: 14_062, currency: 'USD' });
    // 112_700 x 1250 / 10000 = 14087.5 -> 14088 (half-even rounds to the even neighbour)
    expect(applyBasisPoints(money(112_700, 'USD'), 1250)).toEqual({ amountMinor: 14_088, currency: 'USD' });
  });
});

describe('FX conversion', () => {
  const usdJpy = { base: 'USD', quote: 'JPY', rate: '151.235', asOf: '2025-01-02', source: 'ECB' };
  it('USD 100.00 at 151.235 = 10000 x 151235 / 1000 / 100 = 15123.5 -> JPY 15124 (half-even)', () => {
    expect(convert(money(10_000, 'USD'), usdJpy)).toEqual({ amountMinor: 15_124, currency: 'JPY' });
  });
  it('EUR 10.00 at 1.0845 = 1000 x 10845 / 10000 = 1084.5 -> USD 10.84 (half-even)', () => {
    expect(convert(money(1000, 'EUR'), { base: 'EUR', quote: 'USD', rate: '1.0845', asOf: '2025-01-02', source: 'ECB' })).toEqual({
      amountMinor: 1084,
      currency: 'USD',
    });
  });
  it('refuses a rate for another pair', () => {
    expect(() => convert(money(1, 'EUR'), usdJpy)).toThrow(/cannot convert EUR/);
  });
});
