import { currencyRule, parseDecimal, toDecimalString, type Money } from '../canonical';

/**
 * NetSuite and AvaTax carry money as JSON numbers in major units. These two
 * conversions go through the exact decimal string, so 123456 cents is sent
 * as 1234.56 and read back as 123456 without float arithmetic on amounts.
 */
export const moneyToJsonNumber = (m: Money): number => Number(toDecimalString(m));

/** A vendor's JSON decimal -> minor units. The vendor rounds to the currency's precision; toFixed only strips binary noise. */
export const jsonNumberToMoney = (value: number, currency: string): Money => parseDecimal(value.toFixed(currencyRule(currency).exponent), currency);
