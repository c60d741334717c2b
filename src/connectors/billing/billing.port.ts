import type { Customer, Invoice, Money, Payment } from '../../canonical';

export interface BillingCustomerRef {
  id: string;
}

export type BillingInvoiceStatus = 'draft' | 'open' | 'paid' | 'void' | 'uncollectible';

export interface BillingInvoice {
  id: string;
  billingCustomerId: string;
  status: BillingInvoiceStatus;
  total: Money;
  amountPaid: Money;
  amountDue: Money;
  /** The canonical invoice id carried in metadata. */
  canonicalInvoiceId: string | null;
  lineCount: number;
}

export interface BillingSubscription {
  id: string;
  billingCustomerId: string;
  status: string;
  pricePerMonth: Money;
  priceId: string;
}

/** A verified, parsed webhook from the billing system. */
export interface BillingWebhookEvent {
  id: string;
  type: string;
  /** Instant the vendor created the event (ISO-8601). */
  createdAt: string;
  objectId: string;
  /** Amount the event is about (paid, received, refunded), when it has one. */
  amount?: Money;
  /** Canonical ids carried in metadata (invoiceId, contractId ...). */
  metadata: Record<string, string>;
}

/** A credit note against a finalized invoice: custom lines (credited amounts and the tax returned on them). */
export interface CreateCreditNoteInput {
  billingInvoiceId: string;
  lines: ReadonlyArray<{ description: string; amount: Money }>;
  memo: string;
  /** Canonical ids (credit memo, invoice) carried as metadata. */
  metadata: Record<string, string>;
  idempotencyKey: string;
}

export interface BillingCreditNote {
  id: string;
  number: string;
  total: Money;
  /** pre_payment: it lowered what the invoice still asks for; post_payment: it went to the customer's balance. */
  type: string;
}

export interface CreateInvoiceInput {
  invoice: Invoice;
  billingCustomerId: string;
  idempotencyKey: string;
  daysUntilDue: number;
  /** Finalize (assign a number, make it payable) right away. */
  finalize: boolean;
}

export interface CreateSubscriptionInput {
  billingCustomerId: string;
  /** Recurring support charge. */
  pricePerMonth: Money;
  productName: string;
  idempotencyKey: string;
  metadata: Record<string, string>;
  daysUntilDue: number;
}

export interface CollectPaymentInput {
  /** Canonical customer id, carried onto the canonical payment. */
  customerId: string;
  billingCustomerId: string;
  amount: Money;
  idempotencyKey: string;
  /** Vendor payment method id ('pm_card_visa' in test mode). */
  paymentMethod: string;
  /** Canonical invoice the payment is for (metadata, allocation). */
  invoiceId?: string;
}

/**
 * Billing and payments. Every create carries the caller's idempotency key;
 * sub-steps derive their own keys from it (`<key>:item:<lineId>`), so any
 * retry replays instead of duplicating.
 */
export interface BillingPort {
  createCustomer(customer: Customer, idempotencyKey: string): Promise<BillingCustomerRef>;
  /** A draft invoice with one item per canonical line, finalized when asked. */
  createInvoice(input: CreateInvoiceInput): Promise<BillingInvoice>;
  finalizeInvoice(billingInvoiceId: string, idempotencyKey: string): Promise<BillingInvoice>;
  /**
   * Collects an open invoice now from the customer's default payment method (a dunning retry).
   * A decline throws STRIPE.CARD_DECLINED; no payment method on file, STRIPE.INVALID_REQUEST.
   */
  payInvoice(billingInvoiceId: string, idempotencyKey: string): Promise<BillingInvoice>;
  /** Marks an open invoice paid outside the billing system (wire, check). */
  markInvoicePaid(billingInvoiceId: string, idempotencyKey: string): Promise<BillingInvoice>;
  getInvoice(billingInvoiceId: string): Promise<BillingInvoice>;
  /** Credits a finalized invoice (Stripe credit note); repeating the key creates nothing new. */
  createCreditNote(input: CreateCreditNoteInput): Promise<BillingCreditNote>;
  /** Every invoice of a customer, all pages. */
  listInvoices(billingCustomerId: string): Promise<BillingInvoice[]>;
  createSubscription(input: CreateSubscriptionInput): Promise<BillingSubscription>;
  cancelSubscription(subscriptionId: string): Promise<BillingSubscription>;
  collectPayment(input: CollectPaymentInput): Promise<Payment>;
  refundPayment(paymentId: string, amount: Money, idempotencyKey: string): Promise<{ id: string; status: string; amount: Money }>;
  /** Verifies the signature header over the raw body and parses the event; throws STRIPE.SIGNATURE_INVALID. */
  parseWebhook(rawBody: string | Buffer, signatureHeader: string): BillingWebhookEvent;
}
