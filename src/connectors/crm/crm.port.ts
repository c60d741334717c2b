import type { Customer, InvoiceStatus, IsoDate, Money, Quote } from '../../canonical';

/** An opportunity as the CRM holds it. */
export interface CrmOpportunity {
  id: string;
  name: string;
  /** CRM id of the account. */
  accountId: string;
  stage: string;
  isClosed: boolean;
  isWon: boolean;
  closeDate: IsoDate;
  amount: Money | null;
  /** The primary CPQ quote, when there is one. */
  primaryQuoteId: string | null;
  projectUrl: string | null;
  /** Legal entity that sold the deal (contracting entity), when set on the opportunity. */
  soldLegalEntityId: string | null;
  /** Legal entity whose people deliver; differs from the sold one for intercompany delivery. */
  deliveryLegalEntityId: string | null;
  /** The customer's purchase order number. */
  poNumber: string | null;
}

/** A record found or written through its external id. */
export interface CrmRecordRef {
  id: string;
  externalId: string;
  /** false when the record already existed (an upsert that updated). */
  created: boolean;
}

export interface UpsertAccountInput {
  customer: Customer;
  /** CRM id of the parent account, when the customer has a parent. */
  parentAccountId?: string;
}

export interface InvoiceStatusInput {
  opportunityId: string;
  /** ERP invoice number: the write-back record's external id, so repeats update one record. */
  invoiceNumber: string;
  status: InvoiceStatus;
  total: Money;
  amountPaid: Money;
  dueDate: IsoDate;
}

/** A dunning reminder as a CRM task on the opportunity (Salesforce: a Task whose WhatId is the opportunity). */
export interface DunningTaskInput {
  /** Idempotency key, one per (invoice, step): a repeat finds the task it made. */
  key: string;
  opportunityId: string;
  invoiceNumber: string;
  /** The policy step (days past due) and the days actually past due today. */
  step: number;
  daysPastDue: number;
  /** The last step: a final notice (high priority). */
  final: boolean;
  dueDate: IsoDate;
  /** The task's date (the day the reminder is due to be worked). */
  remindOn: IsoDate;
  open: Money;
  total: Money;
  /** Extra lines for the collector (a broken promise, a declined retry). */
  notes?: string[];
}

/**
 * CRM and CPQ: read the deal and its quote, keep the account master in step,
 * and write progress back where sales can see it. Writes are upserts keyed
 * by external ids, so repeating any of them is harmless.
 */
export interface CrmPort {
  getOpportunity(opportunityId: string): Promise<CrmOpportunity>;
  /** The account as a canonical customer (id = the CRM's account id; map it through the identity map). */
  getAccount(accountId: string): Promise<Customer>;
  /** Closed-won opportunities modified at or after `since` (ISO instant), oldest first, all pages. */
  listClosedWonOpportunities(since: string): Promise<CrmOpportunity[]>;
  /** The opportunity's primary quote and its lines, in canonical form. `customerId` is the canonical customer. */
  getPrimaryQuote(opportunityId: string, customerId: string): Promise<Quote>;
  /** Upserts the account by external id = canonical customer id. */
  upsertAccount(input: UpsertAccountInput): Promise<CrmRecordRef>;
  updateOpportunityStage(opportunityId: string, stage: string): Promise<void>;
  setProjectLink(opportunityId: string, link: { projectId: string; url: string }): Promise<void>;
  /** Upserts the invoice status record under the opportunity (invoice and payment status). */
  recordInvoiceStatus(input: InvoiceStatusInput): Promise<CrmRecordRef>;
  /** Creates the reminder task once per key (`created: false` when it was there already). */
  createDunningTask(input: DunningTaskInput): Promise<CrmRecordRef>;
}
