import { z } from 'zod';
import { DateRange, ExternalIds, Id, IsoDate } from './common';
import { InvoiceSchedule } from './contract';
import { CurrencyCode, Money } from './money';
import { QuantityUnit } from './quote';

export const InvoiceLine = z.object({
  id: Id,
  contractLineId: Id,
  quoteLineId: Id,
  description: z.string(),
  quantity: z.object({ value: z.int().min(0), unit: z.union([QuantityUnit, z.literal('MINUTE')]) }).optional(),
  amount: Money,
  /** Time entries, expenses, milestone completions ... this line bills. Each appears on one line only. */
  sourceItemIds: z.array(Id).min(1),
  taxCode: z.string().min(1),
  taxable: z.boolean(),
  /** First and last service date of the items this line bills (absent on invoices drafted before the field existed). */
  servicePeriod: DateRange.optional(),
});
export type InvoiceLine = z.infer<typeof InvoiceLine>;

export const InvoiceStatus = z.enum(['DRAFT', 'POSTED', 'PARTIALLY_PAID', 'PAID', 'VOID']);
export type InvoiceStatus = z.infer<typeof InvoiceStatus>;

export const Invoice = z
  .object({
    id: Id,
    /** Deterministic grouping key (see rules/grouping): same inputs, same key. */
    invoiceKey: z.string().min(1),
    customerId: Id,
    contractingLegalEntityId: Id,
    projectId: Id,
    contractId: Id,
    currency: CurrencyCode,
    poNumber: z.string().nullable(),
    schedule: InvoiceSchedule,
    period: DateRange,
    issueDate: IsoDate,
    dueDate: IsoDate,
    status: InvoiceStatus,
    lines: z.array(InvoiceLine).min(1),
    subtotal: Money,
    /** Filled from the tax connector; zero until then. */
    tax: Money,
    total: Money,
    externalIds: ExternalIds.default({}),
  })
  .superRefine((inv, ctx) => {
    let subtotal = 0;
    const seen = new Set<string>();
    inv.lines.forEach((l, i) => {
      if (l.amount.currency !== inv.currency) ctx.addIssue({ code: 'custom', message: 'line currency differs from invoice currency', path: ['lines', i, 'amount', 'currency'] });
      subtotal += l.amount.amountMinor;
      l.sourceItemIds.forEach((s, j) => {
        if (seen.has(s)) ctx.addIssue({ code: 'custom', message: `source item ${s} is on two lines`, path: ['lines', i, 'sourceItemIds', j] });
        seen.add(s);
      });
    });
    for (const f of ['subtotal', 'tax', 'total'] as const) {
      if (inv[f].currency !== inv.currency) ctx.addIssue({ code: 'custom', message: 'currency differs from invoice currency', path: [f, 'currency'] });
    }
    if (inv.subtotal.amountMinor !== subtotal) ctx.addIssue({ code: 'custom', message: `subtotal ${inv.subtotal.amountMinor} != sum of lines ${subtotal}`, path: ['subtotal', 'amountMinor'] });
    if (inv.total.amountMinor !== inv.subtotal.amountMinor + inv.tax.amountMinor) ctx.addIssue({ code: 'custom', message: 'total != subtotal + tax', path: ['total', 'amountMinor'] });
    if (inv.dueDate < inv.issueDate) ctx.addIssue({ code: 'custom', message: 'due date before issue date', path: ['dueDate'] });
  });
export type Invoice = z.infer<typeof Invoice>;
