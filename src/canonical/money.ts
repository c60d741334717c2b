import { z } from 'zod';
import { IsoDate } from './common';
import { CURRENCY_RULES } from './money-math';

// The arithmetic and the currency table are in money-math.ts (no zod); the schemas are here.
export * from './money-math';

export const CurrencyCode = z
  .string()
  .regex(/^[A-Z]{3}$/, 'expected an ISO 4217 code like USD')
  .refine((c) => Object.prototype.hasOwnProperty.call(CURRENCY_RULES, c), 'currency not in the minor-unit table');
export type CurrencyCode = z.infer<typeof CurrencyCode>;

export const Money = z.object({
  /** Integer minor units (cents for USD, yen for JPY). Safe integer, may be negative (credits, deltas). */
  amountMinor: z.int(),
  currency: CurrencyCode,
});
export type Money = z.infer<typeof Money>;

/** Non-negative money, for prices and caps. */
export const NonNegativeMoney = Money.refine((m) => m.amountMinor >= 0, {
  message: 'must not be negative',
  path: ['amountMinor'],
});

/**
 * An FX rate is data: 1 unit of `base` = `rate` units of `quote`, as published by
 * `source` for `asOf`. The rate is a decimal string so it survives JSON exactly.
 */
export const FxRate = z.object({
  base: CurrencyCode,
  quote: CurrencyCode,
  rate: z.string().regex(/^\d{1,12}(\.\d{1,12})?$/, 'expected a positive decimal string like 1.0845'),
  asOf: IsoDate,
  source: z.string().min(1),
});
export type FxRate = z.infer<typeof FxRate>;
