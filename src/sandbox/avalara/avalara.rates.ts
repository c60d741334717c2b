/**
 * The AvaTax sandbox's tax engine: a small jurisdiction rate table instead of
 * Avalara's content, with integer minor-unit arithmetic and rounding per line.
 * Rates are in parts per million so that 8.875 % stays an integer (88_750).
 */

export interface Jurisdiction {
  /** Avalara `jurisName` / `jurisType` as they appear in `lines[].details`. */
  readonly jurisName: string;
  readonly jurisType: 'STA' | 'CNT';
  readonly country: string;
  readonly region: string;
  readonly taxName: string;
  readonly ratePpm: number;
}

const j = (country: string, region: string, jurisName: string, jurisType: Jurisdiction['jurisType'], taxName: string, ratePpm: number): Jurisdiction => ({
  country,
  region,
  jurisName,
  jurisType,
  taxName,
  ratePpm,
});

/** Keyed by `country` or `country-region` (US states). */
export const RATE_TABLE: Readonly<Record<string, Jurisdiction>> = Object.freeze({
  'US-CA': j('US', 'CA', 'CALIFORNIA', 'STA', 'CA STATE TAX', 72_500),
  'US-NY': j('US', 'NY', 'NEW YORK', 'STA', 'NY STATE TAX', 88_750),
  'US-TX': j('US', 'TX', 'TEXAS', 'STA', 'TX STATE TAX', 62_500),
  'US-OR': j('US', 'OR', 'OREGON', 'STA', 'OR STATE TAX', 0),
  GB: j('GB', '', 'UNITED KINGDOM', 'CNT', 'Standard Rate VAT', 200_000),
  DE: j('DE', '', 'GERMANY', 'CNT', 'Standard Rate VAT', 190_000),
  FR: j('FR', '', 'FRANCE', 'CNT', 'Standard Rate VAT', 200_000),
});

/** Tax codes the sandbox knows. 'NT' is Avalara's non-taxable code. */
export const EXEMPT_TAX_CODES: ReadonlySet<string> = new Set(['NT']);

export const jurisdictionFor = (country: string, region: string | undefined): Jurisdiction | undefined => {
  const key = country === 'US' ? `US-${region ?? ''}` : country;
  return Object.prototype.hasOwnProperty.call(RATE_TABLE, key) ? RATE_TABLE[key] : undefined;
};

/** amountMinor * ratePpm / 1e6, rounded half away from zero (as AvaTax rounds at line level). */
export const taxMinor = (amountMinor: number, ratePpm: number): number => {
  const product = BigInt(amountMinor) * BigInt(ratePpm);
  const million = 1_000_000n;
  const neg = product < 0n;
  const abs = neg ? -product : product;
  const q = abs / million;
  const rounded = abs % million * 2n >= million ? q + 1n : q;
  return Number(neg ? -rounded : rounded);
};

