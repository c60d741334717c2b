import { defineSignal } from '@temporalio/workflow';

/*
 * Proposed additions to src/workflows/deal.messages.ts (issue 6). They live here
 * until the lead moves them there; the names and shapes are the contract the
 * webhook intake sends. Items carry the source system's ids; the workflow
 * enriches them (contract line, rate card, legal entity) before the rules run.
 */

/** Approved time from the PSA. Minutes are an integer: 7.5 h = 450. */
export interface DeliveredTimeEntry {
  kind: 'timeEntry';
  /** The PSA's id of the time entry; the workflow dedupes on (kind, sourceId). */
  sourceId: string;
  projectId: string;
  taskId?: string;
  resourceId: string;
  role?: string;
  workDate: string; // YYYY-MM-DD
  minutes: number;
  billable: boolean;
  notes?: string;
  approvedAt: string; // ISO-8601 instant
}

/** An approved expense; money in integer minor units of `currency`. */
export interface DeliveredExpense {
  kind: 'expense';
  sourceId: string;
  projectId: string;
  resourceId: string;
  category: string;
  incurredOn: string; // YYYY-MM-DD
  amountMinor: number;
  currency: string; // ISO 4217, upper case
  billable: boolean;
  notes?: string;
  approvedAt: string;
}

/** A milestone the PSA reports completed, or the customer accepted. */
export interface DeliveredMilestone {
  kind: 'milestone';
  sourceId: string;
  projectId: string;
  title?: string;
  status: 'completed' | 'accepted';
  at: string;
}

export type DeliveryItem = DeliveredTimeEntry | DeliveredExpense | DeliveredMilestone;

/** Many items per signal: never one workflow task per time entry. */
export interface DeliveryBatch {
  /** `<source>:<eventId>`; a repeated batch id is a no-op in the workflow. */
  batchId: string;
  source: 'kantata' | 'sweep';
  receivedAt: string;
  items: DeliveryItem[];
}

/** Money movement reported by the payment processor. */
export interface PaymentEvent {
  /** The processor's event id (Stripe `evt_...`); the workflow dedupes on it. */
  eventId: string;
  source: 'stripe';
  kind: 'invoice.paid' | 'payment_intent.succeeded' | 'charge.refunded';
  occurredAt: string;
  /**
   * invoice.paid: amount paid; payment_intent.succeeded: amount received;
   * charge.refunded: the charge's cumulative refunded amount (Stripe `amount_refunded`).
   */
  amountMinor: number;
  currency: string; // ISO 4217, upper case
  stripeInvoiceId?: string;
  paymentIntentId?: string;
  chargeId?: string;
  /** The canonical q2c invoice id (Stripe metadata `q2c_invoice_id`), when the object carries it. */
  invoiceId?: string;
}

export const deliveryBatchSignal = defineSignal<[DeliveryBatch]>('deliveryBatch');
export const paymentSignal = defineSignal<[PaymentEvent]>('payment');
