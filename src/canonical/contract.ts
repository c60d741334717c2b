import { z } from 'zod';
import { BasisPoints, DiscountBasisPoints, ExternalIds, Id, Instant, IsoDate, RuleSetRef } from './common';
import { CurrencyCode, NonNegativeMoney } from './money';

export const BillingModel = z.enum(['FIXED_FEE_MILESTONE', 'TIME_AND_MATERIALS', 'RETAINER', 'SUBSCRIPTION', 'EXPENSES']);
export type BillingModel = z.infer<typeof BillingModel>;

export const InvoiceSchedule = z.enum(['IMMEDIATE', 'WEEKLY', 'MONTHLY', 'ON_MILESTONE']);
export type InvoiceSchedule = z.infer<typeof InvoiceSchedule>;

/** How the line's revenue is recognised (ASC 606 / IFRS 15 performance obligation pattern). */
export const RevenueTreatment = z.enum(['POINT_IN_TIME', 'RATABLE_DAILY', 'AS_INVOICED', 'AS_DRAWN']);
export type RevenueTreatment = z.infer<typeof RevenueTreatment>;

/** Not-to-exceed cap. Billing may run over `notToExceed` by at most `toleranceBp` of it. */
export const Cap = z.object({
  notToExceed: NonNegativeMoney,
  toleranceBp: BasisPoints.default(0),
  /**
   * Do expenses billed on the capped line count against the cap? Absent means
   * true (as before this term existed). false: expenses are billed outside the
   * cap and do not consume it. Optional without a default, so contracts written
   * before the term parse to exactly what they were.
   */
  includesExpenses: z.boolean().optional(),
});
export type Cap = z.infer<typeof Cap>;

export const MilestoneBilling = z
  .object({
    milestoneId: Id,
    /** Exactly one of amount or percentBp (of the line's fee). */
    amount: NonNegativeMoney.optional(),
    percentBp: z.int().min(0).max(10_000).optional(),
    /** What the PSA milestone is called (a line added by a change order names its milestones; template lines take the template's names). */
    name: z.string().min(1).max(200).optional(),
    /** Planned date of the PSA milestone. */
    dueDate: IsoDate.optional(),
  })
  .refine((m) => (m.amount === undefined) !== (m.percentBp === undefined), {
    message: 'give exactly one of amount or percentBp',
    path: ['amount'],
  });
export type MilestoneBilling = z.infer<typeof MilestoneBilling>;

export const RetainerTerms = z.object({
  /** Prepaid value drawn down by delivered work valued at the rate card. */
  prepaid: NonNegativeMoney,
  /** Unused balance at this date is breakage (recognised, not refunded). */
  expiresOn: IsoDate,
  /** BILL: work beyond the balance is billed at rates; CAP: it is CAPPED. */
  overage: z.enum(['BILL', 'CAP']).default('BILL'),
  /** On termination the unused balance is credited to the customer (absent: not refundable, it is breakage on the termination date). */
  refundable: z.boolean().optional(),
});
export type RetainerTerms = z.infer<typeof RetainerTerms>;

export const SubscriptionTerms = z.object({
  amountPerPeriod: NonNegativeMoney,
  period: z.enum(['MONTHLY', 'QUARTERLY', 'ANNUAL']),
  timing: z.enum(['IN_ADVANCE', 'IN_ARREARS']).default('IN_ADVANCE'),
});
export type SubscriptionTerms = z.infer<typeof SubscriptionTerms>;

export const ContractLine = z.object({
  id: Id,
  /** Trace back to the sold quote line. */
  quoteLineId: Id,
  description: z.string().default(''),
  billingModel: BillingModel,
  startDate: IsoDate,
  endDate: IsoDate,
  taxCode: z.string().min(1),
  revenueTreatment: RevenueTreatment,
  invoiceSchedule: InvoiceSchedule,
  /** Overrides the contract PO for this line. */
  poNumber: z.string().min(1).optional(),
  /** Rate card id in the pinned rule set (T&M, retainer drawdown). */
  rateCardRef: Id.optional(),
  /** Contract-level discount on rate-card rates for this line. */
  discountBp: DiscountBasisPoints.default(0),
  cap: Cap.optional(),
  /** Transaction price allocated to this performance obligation; revenue never exceeds it. */
  allocatedValue: NonNegativeMoney,
  /** FIXED_FEE_MILESTONE: total fee and the milestone schedule. */
  fee: NonNegativeMoney.optional(),
  milestones: z.array(MilestoneBilling).optional(),
  retainer: RetainerTerms.optional(),
  subscription: SubscriptionTerms.optional(),
});
export type ContractLine = z.infer<typeof ContractLine>;

export const ContractStatus = z.enum(['DRAFT', 'SENT', 'SIGNED', 'ACTIVE', 'TERMINATED', 'CANCELLED', 'EXPIRED', 'CLOSED']);
export type ContractStatus = z.infer<typeof ContractStatus>;

type LineIssue = { message: string; path: (string | number)[] };

/** Structural checks of one line against its billing model. */
export const contractLineIssues = (l: ContractLine, currency: string): LineIssue[] => {
  const issues: LineIssue[] = [];
  const need = (cond: boolean, field: string, why: string): void => {
    if (!cond) issues.push({ message: why, path: [field] });
  };
  if (l.startDate > l.endDate) issues.push({ message: 'start must not be after end', path: ['endDate'] });
  const moneyFields: [string, { currency: string } | undefined][] = [
    ['allocatedValue', l.allocatedValue],
    ['fee', l.fee],
    ['cap', l.cap?.notToExceed],
    ['retainer', l.retainer?.prepaid],
    ['subscription', l.subscription?.amountPerPeriod],
  ];
  for (const [f, m] of moneyFields) {
    if (m && m.currency !== currency) issues.push({ message: `currency ${m.currency} differs from contract currency ${currency}`, path: [f] });
  }
  switch (l.billingModel) {
    case 'FIXED_FEE_MILESTONE':
      need(l.fee !== undefined, 'fee', 'FIXED_FEE_MILESTONE needs fee');
      need((l.milestones?.length ?? 0) > 0, 'milestones', 'FIXED_FEE_MILESTONE needs at least one milestone');
      if (l.fee && l.milestones) {
        let total = 0;
        l.milestones.forEach((m, i) => {
          if (m.amount && m.amount.currency !== currency) issues.push({ message: 'milestone currency differs from contract currency', path: ['milestones', i, 'amount'] });
          total += m.amount ? m.amount.amountMinor : Math.floor((l.fee!.amountMinor * (m.percentBp ?? 0)) / 10_000);
        });
        if (total > l.fee.amountMinor) issues.push({ message: 'milestones add up to more than the fee', path: ['milestones'] });
      }
      break;
    case 'TIME_AND_MATERIALS':
      need(l.rateCardRef !== undefined, 'rateCardRef', 'TIME_AND_MATERIALS needs rateCardRef');
      break;
    case 'RETAINER':
      need(l.retainer !== undefined, 'retainer', 'RETAINER needs retainer terms');
      need(l.rateCardRef !== undefined, 'rateCardRef', 'RETAINER needs rateCardRef to value drawdown');
      break;
    case 'SUBSCRIPTION':
      need(l.subscription !== undefined, 'subscription', 'SUBSCRIPTION needs subscription terms');
      break;
    case 'EXPENSES':
      break;
  }
  return issues;
};

export const Contract = z
  .object({
    id: Id,
    /** Version 1 at signature; every applied amendment increments it. */
    version: z.int().positive(),
    status: ContractStatus,
    opportunityId: Id,
    quoteId: Id,
    customerId: Id,
    billToCustomerId: Id,
    contractingLegalEntityId: Id,
    currency: CurrencyCode,
    paymentTerms: z.object({ netDays: z.int().min(0).max(365) }),
    billingTerms: z
      .object({
        /** Periodic invoices bill the period just ended (true) or the current one (false). */
        inArrears: z.boolean().default(true),
        /** ISO weekday (1 = Monday) on which WEEKLY periods start. */
        weekStartsOn: z.int().min(1).max(7).default(1),
      })
      .default({ inArrears: true, weekStartsOn: 1 }),
    poNumber: z.string().min(1).optional(),
    /** Delivery may wait for a PO: items are DEFERRED until one is present. */
    poRequired: z.boolean().default(false),
    startDate: IsoDate,
    endDate: IsoDate,
    /** Rule set pinned for this contract version. */
    ruleSet: RuleSetRef,
    signedAt: Instant.optional(),
    lines: z.array(ContractLine).min(1),
    externalIds: ExternalIds.default({}),
  })
  .superRefine((c, ctx) => {
    if (c.startDate > c.endDate) ctx.addIssue({ code: 'custom', message: 'start must not be after end', path: ['endDate'] });
    const ids = new Set<string>();
    c.lines.forEach((l, i) => {
      if (ids.has(l.id)) ctx.addIssue({ code: 'custom', message: `duplicate line id ${l.id}`, path: ['lines', i, 'id'] });
      ids.add(l.id);
      for (const issue of contractLineIssues(l, c.currency)) {
        ctx.addIssue({ code: 'custom', message: issue.message, path: ['lines', i, ...issue.path] });
      }
    });
  });
export type Contract = z.infer<typeof Contract>;
