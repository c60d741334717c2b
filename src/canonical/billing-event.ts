import { z } from 'zod';
import { Id, IsoDate } from './common';
import { Money } from './money';

export const BillingClass = z.enum(['BILLABLE', 'DEFERRED', 'CAPPED', 'EXCLUDED']);
export type BillingClass = z.infer<typeof BillingClass>;

export const SourceKind = z.enum(['TIME', 'EXPENSE', 'MILESTONE', 'SUBSCRIPTION', 'RETAINER', 'ADJUSTMENT']);
export type SourceKind = z.infer<typeof SourceKind>;

/**
 * The decision for (part of) one delivered item. A capped item produces two
 * events (the part under the cap BILLABLE, the rest CAPPED) with the same source id.
 */
export const BillingEvent = z.object({
  id: Id,
  contractId: Id,
  contractVersion: z.int().positive(),
  contractLineId: Id,
  quoteLineId: Id,
  projectId: Id,
  kind: SourceKind,
  sourceItemIds: z.array(Id).min(1),
  serviceDate: IsoDate,
  billingClass: BillingClass,
  /** Namespaced code like 'EXCLUDED.NON_BILLABLE_TASK'. */
  reasonCode: z.string().regex(/^(BILLABLE|DEFERRED|CAPPED|EXCLUDED)\.[A-Z_]+$/),
  amount: Money,
  /** Only BILLABLE events carry the invoice key they group into. */
  invoiceKey: z.string().optional(),
});
export type BillingEvent = z.infer<typeof BillingEvent>;
