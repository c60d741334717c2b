import { z } from 'zod';
import { DiscountBasisPoints, ExternalIds, Id, Instant, IsoDate } from './common';
import { CurrencyCode, NonNegativeMoney } from './money';

export const ApprovalStatus = z.enum(['NOT_REQUIRED', 'PENDING', 'APPROVED', 'REJECTED']);
export type ApprovalStatus = z.infer<typeof ApprovalStatus>;

export const QuantityUnit = z.enum(['EACH', 'HOUR', 'DAY', 'MONTH', 'YEAR']);
export type QuantityUnit = z.infer<typeof QuantityUnit>;

export const QuoteLine = z.object({
  id: Id,
  /** Sold service package; selects the project template downstream. */
  servicePackage: z.string().min(1),
  description: z.string().default(''),
  quantity: z.int().positive(),
  unit: QuantityUnit,
  /** Unit list price. */
  listPrice: NonNegativeMoney,
  /** Unit net price after discount. */
  netPrice: NonNegativeMoney,
  discountBp: DiscountBasisPoints.default(0),
  approvalStatus: ApprovalStatus.default('NOT_REQUIRED'),
  /**
   * The line's own service period (CPQ quote line start/end dates). Absent: the
   * contract's term. The contract line takes these dates; they must lie within
   * the contract term (checked when the contract is built from the quote).
   */
  serviceStart: IsoDate.optional(),
  serviceEnd: IsoDate.optional(),
  externalIds: ExternalIds.default({}),
});
export type QuoteLine = z.infer<typeof QuoteLine>;

export const Quote = z
  .object({
    id: Id,
    opportunityId: Id,
    customerId: Id,
    currency: CurrencyCode,
    approvalStatus: ApprovalStatus,
    validUntil: IsoDate.optional(),
    acceptedAt: Instant.optional(),
    lines: z.array(QuoteLine).min(1),
    externalIds: ExternalIds.default({}),
  })
  .superRefine((q, ctx) => {
    q.lines.forEach((l, i) => {
      for (const f of ['listPrice', 'netPrice'] as const) {
        if (l[f].currency !== q.currency) {
          ctx.addIssue({ code: 'custom', message: `currency ${l[f].currency} differs from quote currency ${q.currency}`, path: ['lines', i, f, 'currency'] });
        }
      }
      if (l.serviceStart !== undefined && l.serviceEnd !== undefined && l.serviceStart > l.serviceEnd) {
        ctx.addIssue({ code: 'custom', message: `service end ${l.serviceEnd} is before service start ${l.serviceStart}`, path: ['lines', i, 'serviceEnd'] });
      }
      if (l.netPrice.amountMinor > l.listPrice.amountMinor) {
        ctx.addIssue({ code: 'custom', message: 'net price exceeds list price', path: ['lines', i, 'netPrice', 'amountMinor'] });
      }
    });
    const ids = new Set<string>();
    q.lines.forEach((l, i) => {
      if (ids.has(l.id)) ctx.addIssue({ code: 'custom', message: `duplicate line id ${l.id}`, path: ['lines', i, 'id'] });
      ids.add(l.id);
    });
  });
export type Quote = z.infer<typeof Quote>;
