import { z } from 'zod';
import { ExternalIds, Id, IsoDate } from './common';
import { Money } from './money';

export const Payment = z
  .object({
    id: Id,
    customerId: Id,
    amount: Money,
    receivedOn: IsoDate,
    method: z.enum(['CARD', 'ACH', 'WIRE', 'SEPA', 'CHECK', 'OTHER']),
    reference: z.string().optional(),
    allocations: z.array(z.object({ invoiceId: Id, amount: Money })).default([]),
    externalIds: ExternalIds.default({}),
  })
  .superRefine((p, ctx) => {
    let t = 0;
    p.allocations.forEach((a, i) => {
      if (a.amount.currency !== p.amount.currency) ctx.addIssue({ code: 'custom', message: 'allocation currency differs from payment', path: ['allocations', i, 'amount', 'currency'] });
      t += a.amount.amountMinor;
    });
    if (t > p.amount.amountMinor) ctx.addIssue({ code: 'custom', message: 'allocations exceed the payment', path: ['allocations'] });
  });
export type Payment = z.infer<typeof Payment>;
