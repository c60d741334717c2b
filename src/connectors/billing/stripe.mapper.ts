import type Stripe from 'stripe';
import type { Customer, Invoice, Money, Payment } from '../../canonical';
import type { BillingInvoice, BillingSubscription, BillingWebhookEvent } from './billing.port';
import type { StripeEventShape } from './stripe.schemas';

/** Stripe amounts are integers in the currency's smallest unit, currencies lower-case. */
export const stripeMoney = (amount: number, currency: string): Money => ({ amountMinor: amount, currency: currency.toUpperCase() });

const isoDate = (unixSeconds: number): string => new Date(unixSeconds * 1000).toISOString().slice(0, 10);

export const toCustomerParams = (c: Customer): Stripe.CustomerCreateParams => ({
  name: c.name,
  ...(c.billTo.email ? { email: c.billTo.email } : {}),
  address: {
    line1: c.billTo.address.line1,
    ...(c.billTo.address.line2 ? { line2: c.billTo.address.line2 } : {}),
    city: c.billTo.address.city,
    ...(c.billTo.address.region ? { state: c.billTo.address.region } : {}),
    ...(c.billTo.address.postalCode ? { postal_code: c.billTo.address.postalCode } : {}),
    country: c.billTo.address.country,
  },
  metadata: { q2c_customer_id: c.id, q2c_legal_entity_id: c.legalEntityId },
});

export const toInvoiceParams = (inv: Invoice, customer: string, daysUntilDue: number): Stripe.InvoiceCreateParams => ({
  customer,
  currency: inv.currency.toLowerCase(),
  collection_method: 'send_invoice',
  days_until_due: daysUntilDue,
  auto_advance: false,
  // Items are attached explicitly to this invoice, never swept in from the customer's pending items.
  pending_invoice_items_behavior: 'exclude',
  description: `${inv.period.start} to ${inv.period.end}${inv.poNumber ? `, PO ${inv.poNumber}` : ''}`,
  metadata: { q2c_invoice_id: inv.id, q2c_invoice_key: inv.invoiceKey, q2c_contract_id: inv.contractId },
});

/**
 * A service period as Stripe's invoice item `period` (unix seconds, both ends inclusive): each date's
 * 00:00 UTC, so the dates read back unchanged in UTC.
 */
export const stripePeriod = (p: { start: string; end: string }): { start: number; end: number } => ({
  start: Date.UTC(+p.start.slice(0, 4), +p.start.slice(5, 7) - 1, +p.start.slice(8, 10)) / 1000,
  end: Date.UTC(+p.end.slice(0, 4), +p.end.slice(5, 7) - 1, +p.end.slice(8, 10)) / 1000,
});

/** One invoice item per canonical line, plus one for tax already calculated by the tax connector. */
export const toInvoiceItemParams = (inv: Invoice, customer: string, invoiceId: string): { key: string; params: Stripe.InvoiceItemCreateParams }[] => [
  ...inv.lines.map((l) => ({
    key: `item:${l.id}`,
    params: {
      customer,
      invoice: invoiceId,
      amount: l.amount.amountMinor,
      currency: inv.currency.toLowerCase(),
      description: l.description,
      ...(l.servicePeriod ? { period: stripePeriod(l.servicePeriod) } : {}),
      metadata: { q2c_invoice_line_id: l.id, q2c_contract_line_id: l.contractLineId, q2c_tax_code: l.taxCode },
    },
  })),
  ...(inv.tax.amountMinor !== 0
    ? [{ key: 'item:tax', params: { customer, invoice: invoiceId, amount: inv.tax.amountMinor, currency: inv.currency.toLowerCase(), description: 'Tax', metadata: { q2c_kind: 'tax' } } }]
    : []),
];

export const fromInvoice = (i: Stripe.Invoice): BillingInvoice => ({
  id: i.id,
  billingCustomerId: typeof i.customer === 'string' ? i.customer : (i.customer?.id ?? ''),
  status: (i.status ?? 'draft') as BillingInvoice['status'],
  total: stripeMoney(i.total, i.currency),
  amountPaid: stripeMoney(i.amount_paid, i.currency),
  amountDue: stripeMoney(i.amount_remaining, i.currency),
  canonicalInvoiceId: i.metadata?.['q2c_invoice_id'] ?? null,
  lineCount: i.lines.data.length,
});

export const fromSubscription = (s: Stripe.Subscription): BillingSubscription => {
  const price = s.items.data[0]!.price;
  return {
    id: s.id,
    billingCustomerId: typeof s.customer === 'string' ? s.customer : s.customer.id,
    status: s.status,
    pricePerMonth: stripeMoney(price.unit_amount ?? 0, price.currency),
    priceId: price.id,
  };
};

export const fromPaymentIntent = (pi: Stripe.PaymentIntent, customerId: string, invoiceId?: string): Payment => {
  const amount = stripeMoney(pi.amount_received, pi.currency);
  return {
    id: pi.id,
    customerId,
    amount,
    receivedOn: isoDate(pi.created),
    method: 'CARD',
    ...(typeof pi.latest_charge === 'string' ? { reference: pi.latest_charge } : {}),
    allocations: invoiceId ? [{ invoiceId, amount }] : [],
    externalIds: { stripe: pi.id },
  };
};

export const fromEvent = (e: StripeEventShape): BillingWebhookEvent => {
  const o = e.data.object;
  const amount = e.type.startsWith('invoice.') ? o.amount_paid : e.type.startsWith('payment_intent.') ? o.amount_received : e.type.startsWith('charge.') ? o.amount_refunded : undefined;
  return {
    id: e.id,
    type: e.type,
    createdAt: new Date(e.created * 1000).toISOString(),
    objectId: o.id,
    ...(amount !== undefined && o.currency ? { amount: stripeMoney(amount, o.currency) } : {}),
    metadata: o.metadata ?? {},
  };
};
