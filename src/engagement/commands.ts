import type { LegalEntity, RevenueScheduleLine } from '../canonical';
import type { AttentionItem } from './model';

/*
 * What the core asks its shell to do. Commands are the writes to other systems
 * (the shell runs each as an activity, in order); notices are what the shell
 * reports without a command (log lines and KPI sinks: nothing in the history).
 */

export interface IntercompanyPosting {
  dealId: string;
  /** `<from>-<to>-<YYYY-MM>-R<run>`: the journal's idempotency key. */
  key: string;
  contractId: string;
  from: LegalEntity;
  to: LegalEntity;
  periodEnd: string;
  currency: string;
  amountMinor: number;
  sources: Array<{ sourceId: string; amountMinor: number }>;
}

export interface PaymentRecord {
  dealId: string;
  opportunityId: string;
  invoiceNumber: string;
  eventId: string;
  kind: 'invoice.paid' | 'payment_intent.succeeded' | 'charge.refunded';
  appliedMinor: number;
  currency: string;
  status: 'POSTED' | 'PARTIALLY_PAID' | 'PAID' | 'VOID';
  totalMinor: number;
  paidMinor: number;
  dueDate: string;
}

export interface InvoiceStatusSync {
  opportunityId: string;
  invoiceNumber: string;
  status: 'POSTED' | 'PARTIALLY_PAID' | 'PAID' | 'VOID';
  totalMinor: number;
  paidMinor: number;
  currency: string;
  dueDate: string;
}

export interface RevenueJournal {
  dealId: string;
  /** `<date>:<lines>:<first line id>`: the journal's idempotency key. */
  key: string;
  lines: RevenueScheduleLine[];
  legalEntity: LegalEntity;
}

/** A dunning reminder: one CRM task on the opportunity per (invoice, step); the key makes a retry or replay find the first. */
export interface DunningReminder {
  dealId: string;
  opportunityId: string;
  /** `<dealId>:dunning:<invoice id>:<step>`. */
  key: string;
  invoiceId: string;
  invoiceNumber: string;
  /** The policy step (days past due) this reminder is for, and the days actually past due today. */
  step: number;
  daysPastDue: number;
  /** The last step of the policy: the final notice. */
  final: boolean;
  dueDate: string;
  remindedOn: string;
  openMinor: number;
  totalMinor: number;
  currency: string;
  /** Set when the reminder follows a broken promise to pay. */
  brokenPromise?: { promisedOn: string; by: string };
  /** Set when a payment retry at this step was declined. */
  retryDeclined?: string;
}

/** A payment retry of an invoice issued in the billing system (Stripe), once per (invoice, step). */
export interface PaymentRetry {
  dealId: string;
  /** `<dealId>:dunning:<invoice id>:<step>:retry`: the billing system's idempotency key. */
  key: string;
  invoiceId: string;
  invoiceNumber: string;
  /** The billing system's invoice id. */
  externalId: string;
  step: number;
  /** What the deal expects the billing system to collect: a different amount there means the retry is not made. */
  expectedMinor: number;
  currency: string;
}

/** What the billing system answered; money is never applied from it (the payment arrives as the usual invoice.paid event). */
export interface PaymentRetryResult {
  invoiceId: string;
  step: number;
  outcome: 'PAID' | 'ALREADY_PAID' | 'DECLINED' | 'NOT_RETRIED';
  detail?: string;
}

export type Command =
  | { kind: 'sendDunningReminder'; input: DunningReminder }
  | { kind: 'retryInvoicePayment'; input: PaymentRetry }
  | { kind: 'postIntercompany'; input: IntercompanyPosting }
  | { kind: 'recordPayment'; input: PaymentRecord }
  | { kind: 'syncInvoiceStatus'; input: InvoiceStatusSync }
  | { kind: 'postRevenue'; input: RevenueJournal };

export type Notice =
  | { kind: 'attentionRaised'; item: AttentionItem }
  /** An invoice was posted; latency runs from local midnight of its issue date. */
  | { kind: 'invoicePosted'; issueDate: string }
  /** A dunning reminder was sent (the KPI counts them per step). */
  | { kind: 'dunningReminder'; step: number; invoiceId: string; openMinor: number }
  | { kind: 'warn'; message: string; fields: Record<string, unknown> };

/** A step's output: commands to run in order, and notices to report. */
export interface Outcome {
  commands: Command[];
  notices: Notice[];
}

export const outcome = (): Outcome => ({ commands: [], notices: [] });
