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

export type Command =
  | { kind: 'postIntercompany'; input: IntercompanyPosting }
  | { kind: 'recordPayment'; input: PaymentRecord }
  | { kind: 'syncInvoiceStatus'; input: InvoiceStatusSync }
  | { kind: 'postRevenue'; input: RevenueJournal };

export type Notice =
  | { kind: 'attentionRaised'; item: AttentionItem }
  /** An invoice was posted; latency runs from local midnight of its issue date. */
  | { kind: 'invoicePosted'; issueDate: string }
  | { kind: 'warn'; message: string; fields: Record<string, unknown> };

/** A step's output: commands to run in order, and notices to report. */
export interface Outcome {
  commands: Command[];
  notices: Notice[];
}

export const outcome = (): Outcome => ({ commands: [], notices: [] });
