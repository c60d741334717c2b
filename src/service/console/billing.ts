import type { DeliveryView, InvoiceSummary } from '../../contract';
import { openBalance } from './deals';

// Billing awaiting release: pure selection over the deals' delivery states.

export interface BillingItem {
  opportunityId: string;
  currency: string;
  invoice: InvoiceSummary;
  /** Held: the invoice total; issued: its open balance. */
  amountMinor: number;
}

export interface BillingQueue {
  /** Held at the approval threshold, oldest first. */
  held: BillingItem[];
  /** Issued with a balance open (write-off candidates), most overdue first. */
  unpaid: BillingItem[];
  heldByCurrency: Map<string, number>;
  unpaidByCurrency: Map<string, number>;
}

export function billingQueue(deals: ReadonlyArray<{ opportunityId: string; delivery: DeliveryView }>): BillingQueue {
  const held: BillingItem[] = [];
  const unpaid: BillingItem[] = [];
  for (const { opportunityId, delivery } of deals) {
    for (const invoice of delivery.invoices) {
      if (invoice.status === 'AWAITING_APPROVAL') held.push({ opportunityId, currency: delivery.currency, invoice, amountMinor: invoice.totalMinor });
      else if (openBalance(invoice) > 0) unpaid.push({ opportunityId, currency: delivery.currency, invoice, amountMinor: openBalance(invoice) });
    }
  }
  held.sort((a, b) => a.invoice.issueDate.localeCompare(b.invoice.issueDate) || a.invoice.number.localeCompare(b.invoice.number));
  unpaid.sort((a, b) => a.invoice.dueDate.localeCompare(b.invoice.dueDate) || a.invoice.number.localeCompare(b.invoice.number));
  const byCurrency = (items: BillingItem[]) => items.reduce((m, i) => m.set(i.currency, (m.get(i.currency) ?? 0) + i.amountMinor), new Map<string, number>());
  return { held, unpaid, heldByCurrency: byCurrency(held), unpaidByCurrency: byCurrency(unpaid) };
}
