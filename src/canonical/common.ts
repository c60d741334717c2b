import { iso, z } from 'zod';

// The ISO formats come from zod's `iso` export, never as `z.iso.*`: webpack (which
// builds Temporal's workflow bundle) resolves a member two namespaces deep such
// as `z.iso.date` in zod's top level, i.e. to `z.date` (the Date-object schema),
// so every date string failed 'expected date, received string' in workflow code.
// `z.coerce.number` likewise becomes `z.number`. test/canonical/sandbox.test.ts
// parses the canonical schemas in the workflow sandbox.

/** Business date, 'YYYY-MM-DD' (calendar-valid; no time, no zone). */
export const IsoDate = iso.date();
export type IsoDate = z.infer<typeof IsoDate>;

/** Instant: ISO-8601 date-time with 'Z' or an explicit offset. Local times are rejected. */
export const Instant = iso.datetime({ offset: true });
export type Instant = z.infer<typeof Instant>;

const isIanaZone = (tz: string): boolean => {
  try {
    // Intl is part of the JS engine (also inside the Temporal workflow sandbox); no Node built-in needed.
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
};

/** IANA time zone name such as 'Europe/Berlin' or 'UTC'. Offsets like '+02:00' are not zones. */
export const IanaTimeZone = z
  .string()
  .regex(/^(UTC|[A-Za-z_]+(\/[A-Za-z0-9_+-]+)+)$/, 'expected an IANA time zone name like Europe/Berlin')
  .refine(isIanaZone, 'unknown IANA time zone');
export type IanaTimeZone = z.infer<typeof IanaTimeZone>;

/** Opaque identifier: non-empty, no surrounding whitespace. */
export const Id = z
  .string()
  .min(1)
  .max(200)
  .regex(/^\S(.*\S)?$/, 'must not have leading or trailing whitespace');
export type Id = z.infer<typeof Id>;

/** Percentages and rates in basis points: 10000 bp = 100 %. Always an integer. */
export const BasisPoints = z.int().min(0).max(10_000_000);
export type BasisPoints = z.infer<typeof BasisPoints>;

/** A discount is at most 100 %. */
export const DiscountBasisPoints = z.int().min(0).max(10_000);

/** ISO 3166-1 alpha-2 country code. */
export const CountryCode = z.string().regex(/^[A-Z]{2}$/, 'expected ISO 3166-1 alpha-2 country code');

/** External ids of the same object in other systems, keyed by system name ('salesforce', 'netsuite', 'stripe' ...). */
export const ExternalIds = z.record(z.string().regex(/^[a-z][a-z0-9_-]*$/, 'system key must be lower-case'), z.string().min(1));
export type ExternalIds = z.infer<typeof ExternalIds>;

export const Address = z.object({
  line1: z.string().min(1),
  line2: z.string().optional(),
  city: z.string().min(1),
  region: z.string().optional(),
  postalCode: z.string().optional(),
  country: CountryCode,
});
export type Address = z.infer<typeof Address>;

/** Tax jurisdiction: country plus optional subdivision (US state, Canadian province ...). */
export const TaxJurisdiction = z.object({
  country: CountryCode,
  subdivision: z.string().regex(/^[A-Z0-9]{1,3}$/).optional(),
});
export type TaxJurisdiction = z.infer<typeof TaxJurisdiction>;

/** Closed date interval [start, end], both business dates. */
export const DateRange = z
  .object({ start: IsoDate, end: IsoDate })
  .refine((r) => r.start <= r.end, { message: 'start must not be after end', path: ['end'] });
export type DateRange = z.infer<typeof DateRange>;

/** Reference to a versioned rule set, pinned on every contract version. */
export const RuleSetRef = z.object({ id: Id, version: z.int().positive() });
export type RuleSetRef = z.infer<typeof RuleSetRef>;
