import { z } from 'zod';
import { BasisPoints, CurrencyCode, Id, IsoDate, NonNegativeMoney, formatZodIssues } from '../canonical';

const RoleOrAny = z.string().min(1); // '*' matches any role / region

export const RateRow = z
  .object({
    role: RoleOrAny,
    region: RoleOrAny,
    from: IsoDate,
    to: IsoDate.optional(),
    /** Minor units per hour in the card currency. */
    hourlyRate: z.int().min(0),
  })
  .refine((r) => r.to === undefined || r.from <= r.to, { message: 'from must not be after to', path: ['to'] });
export type RateRow = z.infer<typeof RateRow>;

export const RateCard = z.object({
  id: Id,
  currency: CurrencyCode,
  /** Multiplier for overtime entries, 15000 bp = 1.5x. 10000 = no uplift. */
  overtimeMultiplierBp: z.int().min(10_000).max(40_000).default(10_000),
  rates: z.array(RateRow).min(1),
  /** Blended card: every role is charged the weighted average of these rows' rates. */
  blend: z.array(z.object({ role: z.string().min(1), region: z.string().min(1), weight: z.int().positive() })).optional(),
});
export type RateCard = z.infer<typeof RateCard>;

export const ExpenseTreatment = z.discriminatedUnion('treatment', [
  z.object({ treatment: z.literal('AT_COST') }),
  z.object({ treatment: z.literal('MARKUP'), markupBp: BasisPoints }),
  z.object({ treatment: z.literal('CAPPED'), capPerItem: NonNegativeMoney }),
  z.object({ treatment: z.literal('EXCLUDED') }),
]);
export type ExpenseTreatment = z.infer<typeof ExpenseTreatment>;

export const TaxCodeRule = z.object({
  taxable: z.boolean(),
  /** Per jurisdiction override: 'US', 'US-NY', 'DE' ... (most specific wins). */
  jurisdictions: z.record(z.string().regex(/^[A-Z]{2}(-[A-Z0-9]{1,3})?$/), z.boolean()).default({}),
});
export type TaxCodeRule = z.infer<typeof TaxCodeRule>;

export const RuleSet = z
  .object({
    id: Id,
    version: z.int().positive(),
    description: z.string().default(''),
    rateCards: z.array(RateCard).min(1),
    expensePolicy: z.object({
      default: ExpenseTreatment,
      categories: z.record(z.string().min(1), ExpenseTreatment).default({}),
      /** Expenses above this amount (in its currency) need a receipt before they are billed. */
      receiptRequiredAbove: NonNegativeMoney.optional(),
    }),
    taxCodes: z.record(z.string().min(1), TaxCodeRule),
    intercompany: z.object({
      /** Cost-plus: the delivering entity charges cost x (1 + markupBp / 10000). The markup of entity pairs not in `markups`. */
      markupBp: BasisPoints,
      /** Card of hourly costs per role and region: the cost of delivering entities not in `costCardsByEntity`. */
      costCard: RateCard,
      /**
       * Hourly costs of one delivering legal entity (its id -> card). The card's currency is that
       * entity's functional currency: the charge is made, and booked, in it.
       */
      costCardsByEntity: z.record(Id, RateCard).optional(),
      /** Markup per (delivering entity, selling = contracting entity) pair. */
      markups: z.array(z.object({ deliveringLegalEntityId: Id, sellingLegalEntityId: Id, markupBp: BasisPoints })).optional(),
    }),
  })
  .superRefine((rs, ctx) => {
    const ids = new Set<string>();
    rs.rateCards.forEach((c, i) => {
      if (ids.has(c.id)) ctx.addIssue({ code: 'custom', message: `duplicate rate card id ${c.id}`, path: ['rateCards', i, 'id'] });
      ids.add(c.id);
    });
    const pairs = new Set<string>();
    rs.intercompany.markups?.forEach((m, i) => {
      const pair = `${m.deliveringLegalEntityId} -> ${m.sellingLegalEntityId}`;
      if (pairs.has(pair)) ctx.addIssue({ code: 'custom', message: `duplicate markup for ${pair}`, path: ['intercompany', 'markups', i] });
      if (m.deliveringLegalEntityId === m.sellingLegalEntityId) ctx.addIssue({ code: 'custom', message: `${pair}: an entity does not charge itself`, path: ['intercompany', 'markups', i, 'sellingLegalEntityId'] });
      pairs.add(pair);
    });
  });
export type RuleSet = z.infer<typeof RuleSet>;

export type ParseRuleSetResult = { ok: true; ruleSet: RuleSet } | { ok: false; errors: string[] };

/** Validate untrusted rule-set data (from JSON, YAML or the database); every bad field is listed by path. */
export const parseRuleSet = (data: unknown): ParseRuleSetResult => {
  const r = RuleSet.safeParse(data);
  return r.success ? { ok: true, ruleSet: r.data } : { ok: false, errors: formatZodIssues(r.error) };
};

// The errors and the pin check are in pinning.ts (no zod).
export { RuleSetError, assertPinned } from './pinning';
