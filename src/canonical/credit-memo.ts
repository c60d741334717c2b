import { z } from 'zod';
import { ExternalIds, Id, IsoDate } from './common';
import { CurrencyCode, Money } from './money';

export const CreditMemoLine = z.object({
  id: Id,
  /** The invoice line being reversed (in full or in part). */
  originalInvoiceLineId: Id,
  contractLineId: Id,
  /** Exactly which delivered items the credit reverses. */
  sourceItemIds: z.array(Id).min(1),
  description: z.string(),
  /** Credited amount, positive. */
  amount: Money.refine((m) => m.amountMinor > 0, { message: 'credit amount must be positive', path: ['amountMinor'] }),
});
export type CreditMemoLine = z.infer<typeof CreditMemoLine>;

export const CreditMemo = z
  .object({
    id: Id,
    customerId: Id,
    originalInvoiceId: Id,
    currency: CurrencyCode,
    reason: z.enum(['RERATE', 'DISPUTE', 'CANCELLATION', 'ERROR']),
    issueDate: IsoDate,
    lines: z.array(CreditMemoLine).min(1),
    total: Money,
    externalIds: ExternalIds.default({}),
  })
  .superRefine((cm, ctx) => {
    let t = 0;
    cm.lines.forEach((l, i) => {
      if (l.amount.currency !== cm.currency) ctx.addIssue({ code: 'custom', message: 'line currency differs', path: ['lines', i, 'amount', 'currency'] });
      t += l.amount.amountMinor;
    });
    if (cm.total.currency !== cm.currency || cm.total.amountMinor !== t) ctx.addIssue({ code: 'custom', message: `total must equal sum of lines (${t})`, path: ['total'] });
  });
export type CreditMemo = z.infer<typeof CreditMemo>;
