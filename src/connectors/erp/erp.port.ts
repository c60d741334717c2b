import type { Contract, CreditMemo, Customer, FxRate, Invoice, LegalEntity, Money, RevenueScheduleLine } from '../../canonical';

/** A record the ERP holds, found or created through a deterministic external id. */
export interface ErpRecordRef {
  /** The ERP's internal id. */
  id: string;
  /** The external id the record carries (the caller's idempotency key for transactions). */
  externalId: string;
  /** false when the record already existed (a retry after a timeout that did create it). */
  created: boolean;
  /** Transaction number, for transactions. */
  tranId?: string;
}

/** One reason a customer master cannot be posted; `field` is the canonical path. */
export interface CustomerIssue {
  field: string;
  message: string;
}

export interface UpsertCustomerInput {
  customer: Customer;
  /** The contracting legal entity; its ERP subsidiary must exist. */
  legalEntity: LegalEntity;
  /** Stable per customer (upserts are idempotent by nature), e.g. the canonical customer id. */
  idempotencyKey: string;
}

export interface PostContractInput {
  contract: Contract;
  erpCustomerId: string;
  legalEntity: LegalEntity;
  /** Workflow id + step + contract id: the sales order's external id. */
  idempotencyKey: string;
  /** Transaction number; unique per transaction type in the ERP. */
  tranId: string;
}

export interface PostInvoiceInput {
  invoice: Invoice;
  erpCustomerId: string;
  legalEntity: LegalEntity;
  idempotencyKey: string;
  tranId: string;
  /** The contract's sales order, when the invoice is billed from one. */
  erpSalesOrderId?: string;
}

export interface PostCreditMemoInput {
  creditMemo: CreditMemo;
  erpCustomerId: string;
  legalEntity: LegalEntity;
  /** The ERP invoice being credited. */
  erpInvoiceId: string;
  idempotencyKey: string;
  tranId: string;
}

export interface PostRevenueInput {
  /** Lines recognised together in one journal (same legal entity, currency and date). */
  lines: readonly RevenueScheduleLine[];
  legalEntity: LegalEntity;
  idempotencyKey: string;
  memo?: string;
}

/**
 * An intercompany charge between two legal entities, posted in both books at
 * once: the seller (the entity whose people delivered) debits intercompany
 * receivable (due from) and credits intercompany revenue; the buyer (the
 * contracting entity) debits intercompany expense and credits intercompany
 * payable (due to). Each entity's lines balance on their own.
 */
export interface PostIntercompanyInput {
  /** The delivering entity: sells the service internally. */
  seller: LegalEntity;
  /** The contracting entity: buys it (and invoices the customer). */
  buyer: LegalEntity;
  /**
   * The charge in its transaction currency (the rule set's intercompany cost
   * card currency), integer minor units. It must be the functional currency of
   * the seller or the buyer; the other entity's side is converted with `fxRate`.
   */
  amount: Money;
  /** Posting date (the end of the charged period). */
  tranDate: string;
  /** Deal + intercompany key: the journal's external id. */
  idempotencyKey: string;
  memo: string;
  /**
   * Transaction currency -> the other entity's functional currency, dated and
   * sourced. When absent and a conversion is needed, the ERP's own rate table
   * is read for `tranDate` and the rate used is returned.
   */
  fxRate?: FxRate;
}

/** One entity's side of an intercompany journal, in that entity's functional currency. */
export interface IntercompanyBookSide {
  legalEntityId: string;
  /** The ERP's id of the entity (NetSuite subsidiary). */
  erpEntityId: string;
  /** Its debit (= its credit): the charge in the entity's functional currency. */
  amount: Money;
}

export interface IntercompanyJournalRef extends ErpRecordRef {
  /** The transaction currency's amount. */
  amount: Money;
  seller: IntercompanyBookSide;
  buyer: IntercompanyBookSide;
  /** The rate the other side was converted with; absent when both entities share the transaction currency. */
  fxRate?: FxRate;
}

/** What the ERP says about a posted invoice. */
export interface ErpInvoiceSummary {
  id: string;
  externalId: string | null;
  tranId: string;
  erpCustomerId: string;
  total: Money;
  status: string;
}

/**
 * The ERP: customer master, contract metadata (sales order), invoices, credit
 * memos and revenue postings. Every post is idempotent on its key: calling it
 * twice, or again after a timeout that did commit, yields the same record.
 * Errors are ConnectorErrors; 'ERP.CUSTOMER_INVALID' is the non-retryable one
 * a workflow branches on to raise a customer-master exception.
 */
export interface ErpPort {
  /** Checks the customer master against the ERP (subsidiary exists and is active, currency known). Empty means valid. */
  validateCustomer(customer: Customer, legalEntity: LegalEntity): Promise<CustomerIssue[]>;
  /** Validates, then creates or updates the customer by external id. Throws ERP.CUSTOMER_INVALID with the issues. */
  upsertCustomer(input: UpsertCustomerInput): Promise<ErpRecordRef>;
  /** Contract metadata (payment terms, tax codes, PO, revenue treatment, lines) as a sales order; a later contract version updates it. */
  postContract(input: PostContractInput): Promise<ErpRecordRef>;
  /** Marks the contract's sales order closed (a compensation when the deal is cancelled); repeating it is harmless. */
  closeContract(erpContractId: string, reason: string): Promise<void>;
  postInvoice(input: PostInvoiceInput): Promise<ErpRecordRef>;
  postCreditMemo(input: PostCreditMemoInput): Promise<ErpRecordRef>;
  /** Revenue recognised: one balanced journal (debit deferred revenue, credit revenue per line). */
  postRevenueLines(input: PostRevenueInput): Promise<ErpRecordRef>;
  /**
   * Intercompany charge as one journal in both entities' books (due from /
   * intercompany revenue in the seller's, intercompany expense / due to in the
   * buyer's), balanced per entity. Idempotent on the key; a retry returns the
   * journal and the rate it was booked with.
   */
  postIntercompanyJournal(input: PostIntercompanyInput): Promise<IntercompanyJournalRef>;
  /** Invoices of a customer, every page. */
  listInvoices(erpCustomerId: string): Promise<ErpInvoiceSummary[]>;
}
